/*
 * Copyright (c) 2026 The dsrvd authors
 *
 * Permission to use, copy, modify, and distribute this software for any
 * purpose with or without fee is hereby granted, provided that the above
 * copyright notice and this permission notice appear in all copies.
 *
 * THE SOFTWARE IS PROVIDED "AS IS" AND THE AUTHOR DISCLAIMS ALL WARRANTIES
 * WITH REGARD TO THIS SOFTWARE INCLUDING ALL IMPLIED WARRANTIES OF
 * MERCHANTABILITY AND FITNESS. IN NO EVENT SHALL THE AUTHOR BE LIABLE FOR
 * ANY SPECIAL, DIRECT, INDIRECT, OR CONSEQUENTIAL DAMAGES OR ANY DAMAGES
 * WHATSOEVER RESULTING FROM LOSS OF USE, DATA OR PROFITS, WHETHER IN AN
 * ACTION OF CONTRACT, NEGLIGENCE OR OTHER TORTIOUS ACTION, ARISING OUT OF
 * OR IN CONNECTION WITH THE USE OR PERFORMANCE OF THIS SOFTWARE.
 */

/*
 * The requests that only look: READ (a chunk into the network
 * worker's memfd, checked against its stored crc32), STAT (length and
 * crc32 read from the device now), STATFS (space and chunk count) and
 * LIST (names in a directory, sorted, paged after a name).  Each fills
 * in the st_res that storage.c sends back.  Below this file are the
 * iterator in storage_scan.c and the layout in storage_chunk.c.
 */
#include <sys/types.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/statvfs.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>

#include "chunkname.h"
#include "log.h"
#include "sha256.h"
#include "storage.h"

static int	 st_namecmp(const void *, const void *);
static int	 st_list_names(struct storage *, const struct st_req *,
		    char ***, size_t *, struct st_res *);
static uint64_t	 st_count(int);
static void	 st_range(const struct st_req *, uint8_t *, size_t,
		    struct st_res *);

/*
 * READ: the chunk goes into the network worker's buffer at req->off,
 * checked against its stored crc32 here: bytes that no longer match
 * are never handed out as good data.  A READ of a range reads and
 * checks the whole chunk all the same, then leaves only the range at
 * req->off (st_range).
 */
void
st_read(struct storage *st, const struct st_req *req, int memfd,
    struct st_res *res)
{
	struct stat	 sb;
	char		 path[sizeof(((struct st_seal *)0)->name)];
	void		*base = NULL;
	size_t		 maplen = 0;
	uint8_t		*p;
	ssize_t		 got;
	uint32_t	 crc, stored;
	int		 fd, e;

	if ((fd = st_open_chunk(st, req, &sb, res)) == -1)
		return;
	(void)st_path(req->ns, req->name, path, sizeof(path));
	if (sb.st_size > CHUNK_MAX) {
		log_warnx("corrupt chunk %s: %lld bytes, more than a chunk "
		    "can have", path, (long long)sb.st_size);
		st_fail(res, WIRE_E_CORRUPT, "chunk is corrupt: too long");
		goto done;
	}
	if (st_getcrc(fd, &stored) == -1) {
		log_warnx("corrupt chunk %s: no stored crc32: %s", path,
		    strerror(errno));
		st_fail(res, WIRE_E_CORRUPT, "chunk is corrupt: no stored "
		    "crc32");
		goto done;
	}
	if (sb.st_size == 0) {
		res->len = 0;
		res->crc = crc32(0, NULL, 0);
		if (res->crc != stored)
			goto corrupt;
		st_range(req, NULL, 0, res);
		goto done;
	}
	if ((uint64_t)sb.st_size > req->maxlen || (p = st_map(memfd, req->off,
	    sb.st_size, PROT_READ | PROT_WRITE, &base, &maplen)) == NULL) {
		log_warn("read %s: the buffer from network", path);
		st_fail(res, WIRE_E_BUSY, "no buffer to read the chunk into");
		goto done;
	}
	got = st_fill(st, fd, p, sb.st_size, st->direct != 0 &&
	    req->off % CHUNK_ALIGN == 0);
	if (got == -1) {
		e = errno;
		log_warnx("read %s: %s", path, strerror(e));
		st_fail_errno(res, e, "read");
		goto done;
	}
	crc = crc32(0, p, got);
	res->len = got;
	res->crc = crc;
	if (got != sb.st_size || crc != stored) {
		log_warnx("corrupt chunk %s: crc32 %08x, stored %08x%s", path,
		    crc, stored, got != sb.st_size ? " (short read)" : "");
		goto corrupt;
	}
	st_range(req, p, got, res);
	goto done;
 corrupt:
	st_fail(res, WIRE_E_CORRUPT, "chunk is corrupt: its bytes do not "
	    "match the stored crc32");
 done:
	if (base != NULL && munmap(base, maplen) == -1)
		fatal("%s: munmap", __func__);
	(void)close(fd);
}

/*
 * The chunk of len bytes at p passed its check: keep only the range
 * asked for, cut at the end of the chunk, at p.  An offset past the end
 * is an error; at the end, an empty payload.
 */
static void
st_range(const struct st_req *req, uint8_t *p, size_t len,
    struct st_res *res)
{
	uint64_t	 n;

	if (!req->ranged)
		return;
	if (req->roff > len) {
		st_fail(res, WIRE_E_RANGE, "range starts beyond the end of "
		    "the chunk: offset %llu, chunk of %zu bytes",
		    (unsigned long long)req->roff, len);
		return;
	}
	n = len - req->roff;
	if (req->rlen < n)
		n = req->rlen;
	if (n > 0 && req->roff > 0)
		memmove(p, p + req->roff, n);
	res->len = n;
	res->crc = n > 0 ? crc32(0, p, n) : 0;
}

static int
st_namecmp(const void *a, const void *b)
{
	return strcmp(*(char * const *)a, *(char * const *)b);
}

/*
 * The chunk names in req->name's directory after req->after, sorted.
 * Returns 0 with the array in *names (none for a missing directory),
 * or -1 with the error in res.
 */
static int
st_list_names(struct storage *st, const struct st_req *req, char ***names,
    size_t *count, struct st_res *res)
{
	struct st_req	 r;
	struct st_scan	 sc;
	struct dirent	*de;
	const char	*base;
	char		**v = NULL, **nv;
	size_t		 n = 0, cap = 0;
	int		 dfd, e;

	*names = NULL;
	*count = 0;
	/* Reuse the name check: DIR/x opens DIR. */
	r = *req;
	(void)strlcat(r.name, "/x", sizeof(r.name));
	if ((dfd = st_open_dir(st, &r, 0, &base, res)) == -1) {
		if (res->error != WIRE_E_NOTFOUND)
			return -1;
		/* No such directory: nothing in it. */
		res->error = WIRE_E_OK;
		res->msg[0] = '\0';
		return 0;
	}
	e = st_scan_open(&sc, dfd, SCAN_CHUNKS);
	(void)close(dfd);
	if (e == -1) {
		st_fail_errno(res, errno, "list");
		return -1;
	}
	while ((de = st_scan_next(&sc)) != NULL) {
		if (req->after[0] != '\0' && strcmp(de->d_name,
		    req->after) <= 0)
			continue;
		if (n == cap) {
			cap = cap == 0 ? 256 : cap * 2;
			if ((nv = reallocarray(v, cap, sizeof(*v))) == NULL)
				goto fail;
			v = nv;
		}
		if ((v[n] = strdup(de->d_name)) == NULL)
			goto fail;
		n++;
	}
	if (sc.err != 0) {
		errno = sc.err;
		goto fail;
	}
	if (n > 0)
		qsort(v, n, sizeof(*v), st_namecmp);
	*names = v;
	*count = n;
	return 0;
 fail:
	st_fail_errno(res, errno, "list");
	st_scan_close(&sc);
	while (n > 0)
		free(v[--n]);
	free(v);
	return -1;
}

/*
 * LIST: names after req->after, sorted, NUL-separated, into the
 * network's buffer; a listing cut at the size limit ends in a NUL.
 */
void
st_list(struct storage *st, const struct st_req *req, int memfd,
    struct st_res *res)
{
	const char	*errstr;
	char		**names;
	size_t		 n, i, used = 0, len, max;
	ssize_t		 w;

	st->lists++;
	if (chunk_dir_check(req->name, strnlen(req->name, sizeof(req->name)),
	    &errstr) == -1) {
		st_fail(res, WIRE_E_BADNAME, "bad directory name: %s", errstr);
		return;
	}
	/* storage.c checked that off and maxlen lie inside the memfd. */
	max = req->maxlen < WIRE_PAYLOAD_MAX ? req->maxlen : WIRE_PAYLOAD_MAX;
	if (st_list_names(st, req, &names, &n, res) == -1)
		return;
	for (i = 0; i < n; i++) {
		len = strlen(names[i]);
		/* Room for the name, its separator and a final NUL. */
		if (used + (used > 0) + len + 1 > max)
			break;
		if (used > 0)
			st->buf[used++] = '\0';
		memcpy(st->buf + used, names[i], len);
		used += len;
	}
	if (i < n)
		st->buf[used++] = '\0';	/* more to come */
	for (len = 0; len < used; len += w) {
		w = pwrite(memfd, st->buf + len, used - len, req->off + len);
		if (w == -1) {
			if (errno == EINTR) {
				w = 0;
				continue;
			}
			fatal("%s: pwrite to the list buffer", __func__);
		}
	}
	res->len = used;
	res->crc = crc32(0, st->buf, used);
	for (i = 0; i < n; i++)
		free(names[i]);
	free(names);
}

/*
 * STAT: length and crc32 of what is on the device now; DIGEST adds its
 * sha256, so that a client can tell its own chunk from another with the
 * same crc32 without sending it.
 */
void
st_stat(struct storage *st, const struct st_req *req, struct st_res *res)
{
	struct stat	 sb;
	ssize_t		 got;
	int		 fd;

	st->stats++;
	if ((fd = st_open_chunk(st, req, &sb, res)) == -1)
		return;
	if ((got = st_readback(st, fd)) == -1) {
		st_fail_errno(res, errno, "read");
		(void)close(fd);
		return;
	}
	(void)close(fd);
	if (got > CHUNK_MAX) {
		st_fail(res, WIRE_E_CORRUPT, "chunk is corrupt: too long");
		return;
	}
	res->len = got;
	res->crc = crc32(0, st->buf, got);
	if (req->method == WIRE_M_DIGEST)
		dsrv_sha256(res->sha256, st->buf, got);
}

/* Chunks in the directories below base (one level, no dot names). */
static uint64_t
st_count(int base)
{
	struct st_scan	 sc;
	uint64_t	 n = 0;

	if (st_scan_open(&sc, base, SCAN_NEST | SCAN_CHUNKS) == -1)
		return 0;
	while (st_scan_next(&sc) != NULL)
		n++;
	return n;
}

void
st_statfs(struct storage *st, const struct st_req *req, struct st_res *res)
{
	struct statvfs	 sv;
	uint64_t	 avail;
	int		 b;

	if ((b = st_base(st, req->ns)) == -1 && errno != ENOENT) {
		st_fail_errno(res, errno, "namespace directory");
		return;
	}
	if (fstatvfs(b == -1 ? st->root : b, &sv) == -1) {
		st_fail_errno(res, errno, "statvfs");
		if (b != -1)
			(void)close(b);
		return;
	}
	avail = (uint64_t)sv.f_bavail * sv.f_frsize;
	res->fs[0] = (uint64_t)sv.f_blocks * sv.f_frsize;
	res->fs[1] = (uint64_t)sv.f_bfree * sv.f_frsize;
	res->fs[2] = avail > st->reserve ? avail - st->reserve : 0;
	res->fs[3] = b == -1 ? 0 : st_count(b);
	if (b != -1)
		(void)close(b);
}
