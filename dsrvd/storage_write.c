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
 * The commit of one chunk, the storage end of a client's WRITE.
 *
 * A network worker (network_req.c) has decrypted the client's frame
 * into its connection's memfd and sent IMSG_ST_WRITE: a struct st_req
 * saying where in the memfd the chunk is (off, len), its name and the
 * crc32 the client sent, with a dup of the memfd.  storage.c's
 * dispatcher hands it to st_write, which:
 *
 *  1. refuses what must never touch the disk: too long, a bad name, a
 *     store gone read-only;
 *  2. opens DIR below the key's base (a missing one is made by the
 *     parent, on storage.c's IMSG_ST_MKDIR, and the write is tried
 *     again); a name that exists is success only for identical bytes
 *     (st_same), else EXISTS;
 *  3. checks the free space, beyond the configured reserve;
 *  4. writes the bytes to a temporary file in .tmp (direct I/O from
 *     the memfd's pages where it can, else sendfile or a copy), puts
 *     the crc32 in the file's xattr, makes it read-only, fsyncs it;
 *  5. reads it back from the device, not the page cache, and compares
 *     length and crc32 with what the client sent;
 *  6. renames it to its name, never replacing one (RENAME_NOREPLACE,
 *     or link and unlink where the file system lacks it);
 *  7. passes the chunk's fd to the parent (IMSG_ST_SEAL), whose
 *     parent_seal.c checks it and makes it immutable, while this
 *     process fsyncs the directory.
 *
 * The answer, an st_res, waits in a struct pending until the parent
 * says IMSG_ST_SEALED; storage.c then sends it back to the network
 * worker as IMSG_ST_RESULT, which answers the client.  A crash before
 * step 6 leaves a temporary that the next start removes; after it, a
 * chunk that the start-up sweep (storage_scan.c) has sealed.  This
 * file uses only storage_chunk.c.
 */
#include <sys/types.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/queue.h>
#include <sys/sendfile.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <linux/fs.h>

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>

#include "chunkname.h"
#include "log.h"
#include "storage.h"

#define ST_CMP_BLOCK	(1024 * 1024)
#define ST_SLACK	(64 * 1024)	/* metadata beyond the bytes */
#define ST_DIRECT_MIN	(64 * 1024)	/* smaller chunks: page cache */

static int	 st_refuse(struct storage *, struct imsgev *,
		    const struct st_req *, int, struct st_res *, int *);
static int	 st_room(struct storage *, int, const struct st_req *,
		    struct st_res *);
static int	 st_put(struct storage *, int, int, const struct st_req *,
		    int, const char *, struct st_res *);
static int	 st_put_direct(struct storage *, int, int,
		    const struct st_req *);
static int	 st_copy(struct storage *, int, uint64_t, int, uint64_t);
static int	 st_verify(struct storage *, int, const struct st_req *,
		    const char *, struct st_res *);
static int	 st_publish(int, const char *, int, const char *,
		    struct st_res *);
static struct pending *st_ask_seal(struct storage *, struct imsgev *,
		    uint32_t, const struct st_req *, const char *, int);
static void	 st_same(struct storage *, int, const char *, const char *,
		    int, const struct st_req *, struct st_res *);
static void	 st_flush_failed(struct storage *, const char *, int);

/*
 * Commit a chunk.  Returns 1 when the answer waits for the parent's
 * seal, 2 when the chunk's directory is missing (only the parent makes
 * directories: ask it, then call again), 0 when res is the answer now.
 */
int
st_write(struct storage *st, struct imsgev *iev, uint32_t connid,
    const struct st_req *req, int memfd, struct st_res *res)
{
	struct pending	*p;
	struct stat	 sb;
	const char	*base;
	char		 tmpname[64], path[sizeof(((struct st_seal *)0)->name)];
	int		 dfd, fd, e, r, direct;

	if (st_refuse(st, iev, req, memfd, res, &direct) == -1)
		return 0;
	if ((dfd = st_open_dir(st, req, 1, &base, res)) == -2)
		return 2;		/* the parent is to make the directory */
	if (dfd == -1) {
		st->write_errors++;
		return 0;
	}
	(void)st_path(req->ns, req->name, path, sizeof(path));

	if (fstatat(dfd, base, &sb, AT_SYMLINK_NOFOLLOW) == 0) {
		st_same(st, dfd, base, path, memfd, req, res);
		(void)close(dfd);
		return 0;
	} else if (errno != ENOENT) {
		st_fail_errno(res, errno, "chunk");
		goto fail;
	}
	if (st_room(st, dfd, req, res) == -1)
		goto fail;

	if ((fd = st_tmp_take(st, tmpname, sizeof(tmpname))) == -1) {
		st_fail_errno(res, errno, "create temporary file");
		goto fail;
	}
	if (st_put(st, fd, memfd, req, direct, path, res) == -1 ||
	    (r = st_publish(st->tmp, tmpname, dfd, base, res)) == -1) {
		if (unlinkat(st->tmp, tmpname, 0) == -1)
			log_warn("unlink .tmp/%s", tmpname);
		(void)close(fd);
		goto fail;
	}
	if (r == 1) {
		/* Another worker was quicker. */
		(void)unlinkat(st->tmp, tmpname, 0);
		(void)close(fd);
		st_same(st, dfd, base, path, memfd, req, res);
		(void)close(dfd);
		return 0;
	}

	/*
	 * Visible now.  The parent makes it immutable while the directory
	 * is flushed here; the client hears once both are done.
	 */
	p = st_ask_seal(st, iev, connid, req, path, fd);
	if (fsync(dfd) == -1) {
		e = errno;
		st_flush_failed(st, path, e);
		st_fail(res, WIRE_E_IO, "flush of the directory failed: %s",
		    strerror(e));
		st->write_errors++;
	} else {
		st->chunks_written++;
		st->bytes_written += req->len;
		log_info("%s: stored for key %s, %" PRIu64 " bytes crc32 %08x",
		    path, st->keyname, req->len, req->crc);
	}
	(void)close(dfd);
	if (p == NULL)
		return 0;
	p->res = *res;
	return 1;

 fail:
	(void)close(dfd);
	st->write_errors++;
	return 0;
}

/*
 * What is refused before the disk is touched; a payload buffer that is
 * not what network promised is fatal.  Else 0, and whether the bytes
 * can go by direct I/O: whole blocks of an aligned payload with room.
 */
static int
st_refuse(struct storage *st, struct imsgev *iev, const struct st_req *req,
    int memfd, struct st_res *res, int *direct)
{
	struct stat	 sb;
	const char	*errstr;
	size_t		 dirlen;

	if (req->len > CHUNK_MAX) {
		st_fail(res, WIRE_E_TOOBIG, "chunk larger than 8 MiB");
		return -1;
	}
	if (chunk_name_check(req->name, strnlen(req->name, sizeof(req->name)),
	    &dirlen, &errstr) == -1) {
		st_fail(res, WIRE_E_BADNAME, "bad chunk name: %s", errstr);
		return -1;
	}
	if (st->readonly) {
		st_fail(res, WIRE_E_READONLY, "store is read-only: %s",
		    st->rowhy);
		return -1;
	}
	/* storage.c checked the range; the size decides on direct I/O. */
	if (fstat(memfd, &sb) == -1)
		fatal("%s: payload buffer from %s", __func__, iev->name);
	*direct = st->direct != 0 && req->len >= ST_DIRECT_MIN &&
	    req->off % CHUNK_ALIGN == 0 && (uint64_t)sb.st_size >= req->off +
	    req->len + CHUNK_ALIGN;
	return 0;
}

/* Is there room for the chunk without eating into the reserve? */
static int
st_room(struct storage *st, int dfd, const struct st_req *req,
    struct st_res *res)
{
	struct statvfs	 sv;

	if (fstatvfs(dfd, &sv) == -1) {
		st_fail_errno(res, errno, "statvfs");
		return -1;
	}
	if ((uint64_t)sv.f_bavail * sv.f_frsize <
	    req->len + st->reserve + ST_SLACK) {
		st_fail(res, WIRE_E_NOSPACE, "no space left on the data "
		    "directory's file system%s", st->reserve > 0 ?
		    " (beyond the reserve)" : "");
		return -1;
	}
	return 0;
}

/*
 * Steps 4 and 5: the bytes, their crc32 and the flush, then the
 * read-back.  Returns 0, or -1 with the error in res.
 */
static int
st_put(struct storage *st, int fd, int memfd, const struct st_req *req,
    int direct, const char *path, struct st_res *res)
{
	int	 r, e;

	r = direct ? st_put_direct(st, fd, memfd, req) : 1;
	if (r == 1)
		r = st_copy(st, memfd, req->off, fd, req->len);
	if (r == -1) {
		st_fail_errno(res, errno, "write");
		return -1;
	}
	if (st_setcrc(fd, req->crc) == -1) {
		st_fail_errno(res, errno, "store crc32");
		return -1;
	}
	/* Writable only while the xattr is set: user xattrs need it. */
	if (fchmod(fd, 0400) == -1) {
		st_fail_errno(res, errno, "chmod");
		return -1;
	}
	if (fsync(fd) == -1) {
		e = errno;
		st_flush_failed(st, path, e);
		st_fail(res, WIRE_E_IO, "flush failed: %s", strerror(e));
		return -1;
	}
	return st_verify(st, fd, req, path, res);
}

/*
 * Write the payload into the temporary file with direct I/O, straight
 * from the memfd's pages to the device: no page cache to fill, flush
 * and drop again for the read-back.  The bytes after the last whole
 * CHUNK_ALIGN block go through the page cache.  Returns 0, 1 when the
 * file system refused direct I/O before anything was written (the file
 * is left without O_DIRECT), or -1 with errno.
 */
static int
st_put_direct(struct storage *st, int fd, int memfd, const struct st_req *req)
{
	void		*base;
	size_t		 maplen;
	uint8_t		*p;
	uint64_t	 body, done = 0;
	ssize_t		 n;
	int		 fl, e, rv = -1;

	if ((fl = fcntl(fd, F_GETFL)) == -1)
		return -1;
	if (fcntl(fd, F_SETFL, fl | O_DIRECT) == -1) {
		st_nodirect(st);
		return 1;
	}
	if ((p = st_map(memfd, req->off, req->len, PROT_READ, &base,
	    &maplen)) == NULL)
		return -1;
	body = req->len - req->len % CHUNK_ALIGN;
	while (done < req->len) {
		if (done == body) {
			/* fl: the flags before O_DIRECT was added. */
			if (fcntl(fd, F_SETFL, fl) == -1)
				goto out;
			body = req->len;
		}
		n = pwrite(fd, p + done, body - done, done);
		if (n == -1) {
			if (errno == EINTR)
				continue;
			if (errno == EINVAL && done == 0) {
				st_nodirect(st);
				rv = fcntl(fd, F_SETFL, fl) == -1 ? -1 : 1;
			}
			goto out;
		}
		if (n == 0) {
			errno = EIO;
			goto out;
		}
		done += n;
		/* A short direct write leaves the rest to the page cache. */
		if (done % CHUNK_ALIGN != 0 && body != req->len)
			body = done;
	}
	rv = 0;
 out:
	e = errno;
	if (munmap(base, maplen) == -1)
		fatal("%s: munmap", __func__);
	errno = e;
	return rv;
}

/*
 * Copy len bytes at off of the payload memfd into the temporary file:
 * in the kernel where it can, through our buffer where it cannot.
 */
static int
st_copy(struct storage *st, int memfd, uint64_t off, int fd, uint64_t len)
{
	off_t	 o = off;
	uint64_t done = 0;
	ssize_t	 n, w;
	size_t	 want;

	while (done < len) {
		n = sendfile(fd, memfd, &o, len - done);
		if (n == -1 && (errno == EINVAL || errno == ENOSYS) &&
		    done == 0)
			break;
		if (n == -1) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		if (n == 0) {
			errno = EIO;
			return -1;
		}
		done += n;
	}
	/* No sendfile between these files: copy by hand. */
	while (done < len) {
		want = len - done > ST_CMP_BLOCK ? ST_CMP_BLOCK : len - done;
		if ((n = pread(memfd, st->buf, want, off + done)) <= 0) {
			if (n == -1 && errno == EINTR)
				continue;
			if (n == 0)
				errno = EIO;
			return -1;
		}
		for (w = 0; w < n; ) {
			ssize_t	 m = pwrite(fd, st->buf + w, n - w, done + w);

			if (m == -1) {
				if (errno == EINTR)
					continue;
				return -1;
			}
			w += m;
		}
		done += n;
	}
	return 0;
}

/* Step 5: the bytes on the device are the ones the client sent. */
static int
st_verify(struct storage *st, int fd, const struct st_req *req,
    const char *path, struct st_res *res)
{
	ssize_t		 got;
	uint32_t	 crc;

	if ((got = st_readback(st, fd)) == -1) {
		st_fail_errno(res, errno, "read back");
		return -1;
	}
	crc = crc32(0, st->buf, got);
	if ((uint64_t)got != req->len || crc != req->crc) {
		st->verify_failures++;
		log_warnx("read-back verification failed for %s: %zd bytes "
		    "crc32 %08x, sent %" PRIu64 " bytes crc32 %08x", path, got,
		    crc, req->len, req->crc);
		st_fail(res, WIRE_E_CRC, "read-back verification failed");
		return -1;
	}
	return 0;
}

/*
 * Step 6: give the temporary its name, which must not exist yet.
 * Returns 0, 1 when the name exists (the temporary is left for the
 * caller), or -1 with the error in res.
 */
static int
st_publish(int tmp, const char *tmpname, int dfd, const char *base,
    struct st_res *res)
{
	if (renameat2(tmp, tmpname, dfd, base, RENAME_NOREPLACE) == 0)
		return 0;
	if (errno != EINVAL && errno != ENOSYS) {
		if (errno == EEXIST)
			return 1;
		st_fail_errno(res, errno, "rename");
		return -1;
	}
	if (linkat(tmp, tmpname, dfd, base, 0) == -1) {
		if (errno == EEXIST)
			return 1;
		st_fail_errno(res, errno, "link");
		return -1;
	}
	if (unlinkat(tmp, tmpname, 0) == -1)
		log_warn("unlink .tmp/%s", tmpname);
	return 0;
}

/*
 * Step 7: the chunk's fd to the parent to make immutable, and the
 * answer to hold until it says so.  Returns that pending answer, or
 * NULL when there is no memory to hold it: then the answer goes now
 * and the start-up sweep seals the chunk next time.
 */
static struct pending *
st_ask_seal(struct storage *st, struct imsgev *iev, uint32_t connid,
    const struct st_req *req, const char *path, int fd)
{
	struct pending	*p;
	struct st_seal	 seal;

	if ((p = calloc(1, sizeof(*p))) == NULL) {
		(void)close(fd);
		return NULL;
	}
	p->id = ++st->next_seal == 0 ? ++st->next_seal : st->next_seal;
	p->net = iev;
	p->connid = connid;
	TAILQ_INSERT_TAIL(&st->pending, p, entry);
	memset(&seal, 0, sizeof(seal));
	seal.id = p->id;
	seal.size = req->len;
	(void)strlcpy(seal.name, path, sizeof(seal.name));
	if (proc_compose(PROC_PARENT, -1, IMSG_ST_SEAL, 0, fd, &seal,
	    sizeof(seal)) == -1)
		fatal("%s: compose", __func__);
	imsgev_push(&st->env->parent);
	return p;
}

/*
 * A write to a name that exists: the same bytes are success, anything
 * else is EXISTS and the stored chunk stays as it is.
 */
static void
st_same(struct storage *st, int dfd, const char *base, const char *path,
    int memfd, const struct st_req *req, struct st_res *res)
{
	struct st_seal	 seal;
	struct stat	 sb;
	uint64_t	 off;
	size_t		 want;
	ssize_t		 a, b;
	int		 fd, e, flags;

	if ((fd = openat(dfd, base, O_RDONLY | O_NOFOLLOW | O_NONBLOCK |
	    O_CLOEXEC)) == -1) {
		st_fail_errno(res, errno, "open existing chunk");
		return;
	}
	if (fstat(fd, &sb) == -1) {
		st_fail_errno(res, errno, "existing chunk");
		(void)close(fd);
		return;
	}
	if (!S_ISREG(sb.st_mode) || (uint64_t)sb.st_size != req->len)
		goto differ;
	for (off = 0; off < req->len; off += want) {
		want = req->len - off > ST_CMP_BLOCK ? ST_CMP_BLOCK :
		    req->len - off;
		a = pread(fd, st->buf, want, off);
		b = pread(memfd, st->buf + ST_CMP_BLOCK, want, req->off + off);
		if (a == -1 || b == -1) {
			st_fail_errno(res, errno, "compare with existing "
			    "chunk");
			(void)close(fd);
			return;
		}
		if ((size_t)a != want || (size_t)b != want ||
		    memcmp(st->buf, st->buf + ST_CMP_BLOCK, want) != 0)
			goto differ;
	}
	/*
	 * An earlier attempt may have failed after the rename: make sure
	 * the name is on disk and the chunk sealed before saying yes.
	 */
	if (fsync(dfd) == -1) {
		e = errno;
		st_flush_failed(st, path, e);
		st_fail(res, WIRE_E_IO, "flush of the directory failed: %s",
		    strerror(e));
		(void)close(fd);
		return;
	}
	if (st->env->init.immutable &&
	    ioctl(fd, FS_IOC_GETFLAGS, &flags) == 0 &&
	    (flags & FS_IMMUTABLE_FL) == 0) {
		memset(&seal, 0, sizeof(seal));
		seal.size = sb.st_size;
		(void)strlcpy(seal.name, path, sizeof(seal.name));
		if (proc_compose(PROC_PARENT, -1, IMSG_ST_SEAL, 0, fd,
		    &seal, sizeof(seal)) == -1)
			fatal("%s: compose", __func__);
	} else
		(void)close(fd);
	st->identical++;
	log_debug("%s: identical rewrite", path);
	return;
 differ:
	(void)close(fd);
	st->exists++;
	log_info("%s: write refused, chunk exists with different content",
	    path);
	st_fail(res, WIRE_E_EXISTS, "chunk exists with different content");
}

/* Tell the parent, which counts them and may make the store read-only. */
static void
st_flush_failed(struct storage *st, const char *path, int e)
{
	char	 why[CTL_MSG_MAX];

	st->flush_failures++;
	(void)snprintf(why, sizeof(why), "%s: %s", path, strerror(e));
	log_warnx("flush failed: %s", why);
	if (proc_compose(PROC_PARENT, -1, IMSG_ST_FLUSHFAIL, 0, -1, why,
	    strlen(why) + 1) == -1)
		fatal("%s: compose", __func__);
}
