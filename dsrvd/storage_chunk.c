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
 * What a chunk is on the disk, for every storage job above it: where
 * a name lives (the root or .ns/NS, then DIR/NAME), the temporary file
 * in .tmp it is written to first, its crc32 in an extended attribute,
 * and the one read loop that fetches it from the device (direct I/O
 * when the file system allows) for the read-back, READ, STAT and the
 * scrub.  Also the error results all jobs fill in.  It calls nothing
 * in the other storage files.
 */
#include <sys/types.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/xattr.h>

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "chunkname.h"
#include "log.h"
#include "storage.h"

static int	 st_subdir(int, const char *);

void
st_fail(struct st_res *res, uint32_t error, const char *fmt, ...)
{
	va_list	 ap;

	res->error = error;
	va_start(ap, fmt);
	(void)vsnprintf(res->msg, sizeof(res->msg), fmt, ap);
	va_end(ap);
}

/* An errno from the file system as a protocol error. */
void
st_fail_errno(struct st_res *res, int e, const char *what)
{
	switch (e) {
	case ENOSPC:
	case EDQUOT:
		st_fail(res, WIRE_E_NOSPACE, "%s: %s", what, strerror(e));
		break;
	case EROFS:
		st_fail(res, WIRE_E_READONLY, "%s: %s", what, strerror(e));
		break;
	case ENOMEM:
		st_fail(res, WIRE_E_BUSY, "%s: %s", what, strerror(e));
		break;
	default:
		st_fail(res, WIRE_E_IO, "%s: %s", what, strerror(e));
		break;
	}
}

/*
 * Open a directory below dir: the fd or -1 with errno.  Storage never
 * makes one: the parent does, on request (parent_store.c).
 */
static int
st_subdir(int dir, const char *name)
{
	return openat(dir, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW |
	    O_CLOEXEC);
}

/* The directory a key's names are relative to: / or .ns/NS. */
int
st_base(struct storage *st, const char *ns)
{
	int	 nsd, fd;

	if (ns[0] == '\0')
		return fcntl(st->root, F_DUPFD_CLOEXEC, 0);
	if ((nsd = st_subdir(st->root, ".ns")) == -1)
		return -1;
	fd = st_subdir(nsd, ns);
	(void)close(nsd);
	return fd;
}

/*
 * Split and check a request's name; open its directory.  Returns the
 * directory fd, or -1 with the error in res (a missing directory is
 * NOTFOUND), or with create -2 for a missing one, which the parent is
 * to make.
 */
int
st_open_dir(struct storage *st, const struct st_req *req, int create,
    const char **base, struct st_res *res)
{
	const char	*errstr;
	char		 dir[CHUNK_DIR_MAX + 1];
	size_t		 dirlen, len;
	int		 b, fd;

	len = strnlen(req->name, sizeof(req->name));
	if (chunk_name_check(req->name, len, &dirlen, &errstr) == -1) {
		st_fail(res, WIRE_E_BADNAME, "bad chunk name: %s", errstr);
		return -1;
	}
	if (req->ns[0] != '\0' && chunk_dir_check(req->ns, strlen(req->ns),
	    &errstr) == -1) {
		st_fail(res, WIRE_E_INTERNAL, "bad namespace: %s", errstr);
		return -1;
	}
	memcpy(dir, req->name, dirlen);
	dir[dirlen] = '\0';
	*base = req->name + dirlen + 1;
	if ((b = st_base(st, req->ns)) == -1) {
		if (errno == ENOENT && create)
			return -2;
		if (errno == ENOENT)
			st_fail(res, WIRE_E_NOTFOUND, "no such chunk");
		else
			st_fail_errno(res, errno, "namespace directory");
		return -1;
	}
	fd = st_subdir(b, dir);
	(void)close(b);
	if (fd == -1) {
		if (errno == ENOENT && create)
			return -2;
		if (errno == ENOENT)
			st_fail(res, WIRE_E_NOTFOUND, "no such chunk");
		else
			st_fail_errno(res, errno, "chunk directory");
		return -1;
	}
	return fd;
}

/*
 * Open a stored chunk for reading: its fd, or -1 with the error in res
 * (anything but a regular file is no chunk).
 */
int
st_open_chunk(struct storage *st, const struct st_req *req, struct stat *sb,
    struct st_res *res)
{
	const char	*base;
	int		 dfd, fd;

	if ((dfd = st_open_dir(st, req, 0, &base, res)) == -1)
		return -1;
	fd = openat(dfd, base, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
	(void)close(dfd);
	if (fd == -1) {
		if (errno == ENOENT || errno == ELOOP)
			st_fail(res, WIRE_E_NOTFOUND, "no such chunk");
		else
			st_fail_errno(res, errno, "open");
		return -1;
	}
	if (fstat(fd, sb) == -1) {
		st_fail_errno(res, errno, "stat");
		(void)close(fd);
		return -1;
	}
	if (!S_ISREG(sb->st_mode)) {
		st_fail(res, WIRE_E_NOTFOUND, "no such chunk");
		(void)close(fd);
		return -1;
	}
	return fd;
}

/* Path for log lines: the name as it is below the data directory. */
const char *
st_path(const char *ns, const char *name, char *buf, size_t len)
{
	if (ns[0] == '\0')
		(void)strlcpy(buf, name, len);
	else
		(void)snprintf(buf, len, ".ns/%s/%s", ns, name);
	return buf;
}

/*
 * Create the temporary file for the next chunk now, after the answer
 * is on its way and before that chunk arrives: creating a file costs
 * about as much as writing and reading back 4 KiB.  It stays empty
 * until used; one left by a stop is removed at the next start.
 */
void
st_tmp_ahead(struct storage *st)
{
	if (st->nextfd != -1 || st->readonly)
		return;
	(void)snprintf(st->nextname, sizeof(st->nextname), "%d.%" PRIu64,
	    st->instance, ++st->seq);
	st->nextfd = openat(st->tmp, st->nextname, O_RDWR | O_CREAT |
	    O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	/* On failure the write that needs one tries again and says why. */
}

/* The temporary file made ahead, or a new one; -1 with errno. */
int
st_tmp_take(struct storage *st, char *name, size_t len)
{
	int	 fd;

	if (st->nextfd != -1) {
		fd = st->nextfd;
		st->nextfd = -1;
		(void)strlcpy(name, st->nextname, len);
		return fd;
	}
	(void)snprintf(name, len, "%d.%" PRIu64, st->instance, ++st->seq);
	return openat(st->tmp, name, O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW |
	    O_CLOEXEC, 0600);
}

/*
 * Map the part of a network memfd that holds len bytes at off and the
 * CHUNK_ALIGN-rounded room after them.  Returns the address of off, and
 * what to munmap, or NULL with errno (ERANGE: the memfd is too small).
 */
uint8_t *
st_map(int memfd, uint64_t off, uint64_t len, int prot, void **base,
    size_t *maplen)
{
	struct stat	 sb;
	uint64_t	 start, end;
	long		 pg;
	void		*p;

	if ((pg = sysconf(_SC_PAGESIZE)) <= 0)
		pg = 4096;
	if (fstat(memfd, &sb) == -1)
		return NULL;
	end = off + len + CHUNK_ALIGN - 1;
	end -= end % CHUNK_ALIGN;
	if (len == 0 || end > (uint64_t)sb.st_size || end < off) {
		errno = ERANGE;
		return NULL;
	}
	start = off - off % pg;
	*maplen = end - start;
	if ((p = mmap(NULL, *maplen, prot, MAP_SHARED | MAP_POPULATE, memfd,
	    start)) == MAP_FAILED)
		return NULL;
	*base = p;
	return (uint8_t *)p + (off - start);
}

/* The file system refuses direct I/O: say so once, use the page cache. */
void
st_nodirect(struct storage *st)
{
	if (st->direct != 0)
		log_info("the data directory's file system does not do "
		    "direct I/O; using the page cache, dropped before each "
		    "read-back");
	st->direct = 0;
}

/*
 * Read up to size bytes of a file into p, with direct I/O if asked and
 * the file system allows it (p and the room after size bytes aligned to
 * CHUNK_ALIGN), so that the bytes come from the device and no page cache
 * fills up.  Returns the bytes read or -1 with errno.
 */
ssize_t
st_fill(struct storage *st, int fd, uint8_t *p, size_t size, int direct)
{
	size_t	 total = 0, want;
	ssize_t	 n;
	int	 fl;

	if (direct && ((fl = fcntl(fd, F_GETFL)) == -1 ||
	    fcntl(fd, F_SETFL, fl | O_DIRECT) == -1)) {
		st_nodirect(st);
		direct = 0;
	}
	while (total < size) {
		want = size - total;
		if (direct)
			want += (CHUNK_ALIGN - want % CHUNK_ALIGN) %
			    CHUNK_ALIGN;
		n = pread(fd, p + total, want, total);
		if (n == -1) {
			if (errno == EINTR)
				continue;
			/* Some file systems take O_DIRECT but refuse reads. */
			if (direct && errno == EINVAL && total == 0) {
				st_nodirect(st);
				if ((fl = fcntl(fd, F_GETFL)) == -1 ||
				    fcntl(fd, F_SETFL, fl & ~O_DIRECT) == -1)
					return -1;
				direct = 0;
				continue;
			}
			return -1;
		}
		if (n == 0)
			break;
		total += n;
		if (direct && total % CHUNK_ALIGN != 0)
			break;		/* the end of the file */
	}
	return total;
}

/*
 * Read a file from the device, not the page cache: drop its pages (a
 * chunk's tail went through it), then read.  Fills st->buf with up to
 * CHUNK_MAX + 1 bytes (one more than a chunk can have, so an oversized
 * file shows; with direct I/O up to a block more).
 */
ssize_t
st_readback(struct storage *st, int fd)
{
	(void)posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED);
	return st_fill(st, fd, st->buf, CHUNK_MAX + 1, st->direct != 0);
}

/* The crc32 stored with a chunk; -1 with errno (EINVAL: malformed). */
int
st_getcrc(int fd, uint32_t *crc)
{
	char		 hex[9];
	ssize_t		 n;
	const char	*p;

	if ((n = fgetxattr(fd, CHUNK_XATTR, hex, sizeof(hex) - 1)) == -1)
		return -1;
	if (n != 8) {
		errno = EINVAL;
		return -1;
	}
	hex[8] = '\0';
	for (p = hex; *p != '\0'; p++)
		if (!((*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'f'))) {
			errno = EINVAL;
			return -1;
		}
	*crc = strtoul(hex, NULL, 16);
	return 0;
}

/* Store a new chunk's crc32; it never replaces one. */
int
st_setcrc(int fd, uint32_t crc)
{
	char	 hex[9];

	(void)snprintf(hex, sizeof(hex), "%08" PRIx32, crc);
	return fsetxattr(fd, CHUNK_XATTR, hex, 8, XATTR_CREATE);
}
