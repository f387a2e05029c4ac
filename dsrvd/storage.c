/*
 * The storage process: chrooted into the data directory as its own
 * user, the only process that writes, reads, lists and stats chunks.
 * There are several of them, each serving one request at a time: a
 * flush or a read-back blocks only the worker doing it.
 *
 * A chunk is written to a temporary file in .tmp, its crc32 put in an
 * extended attribute, flushed, dropped from the page cache and read
 * back from the device; only if the bytes read back have the crc32 the
 * client sent is it renamed to its name, which never replaces a file.
 * The parent then makes it immutable.  Nothing here removes or
 * rewrites a chunk: the only unlink is of our own temporaries.
 *
 * Peers, as the table below says: the parent (seals, read-only, scrub)
 * and every network worker (IMSG_ST_* requests; WRITE, READ and LIST
 * pass the connection's memfd, which holds the chunk to store or gets
 * the chunk or names read into it; results carry no fd).
 */
#include <sys/types.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/queue.h>
#include <sys/sendfile.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/xattr.h>
#include <linux/fs.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>

#include "chunkname.h"
#include "dsrvd.h"
#include "log.h"

#define ST_ALIGN	4096
#define ST_BUFSZ	(CHUNK_MAX + 2 * ST_ALIGN)
#define ST_CMP_BLOCK	(1024 * 1024)
#define ST_SLACK	(64 * 1024)	/* metadata beyond the bytes */
#define ST_IDLE_SEC	10		/* then the buffer's pages go back */
#define ST_DIRECT_MIN	(64 * 1024)	/* smaller chunks: page cache */

struct pending {
	TAILQ_ENTRY(pending)	 entry;
	uint32_t		 id;
	struct imsgev		*net;
	uint32_t		 connid;
	struct st_res		 res;
};

struct scrub {
	int			 running;
	uint64_t		 rate;		/* bytes per second */
	char			**dirs;		/* relative to the root */
	size_t			 ndirs, cur;
	DIR			*dp;		/* dirs[cur - 1] being read */
	struct event		*ev;
	uint64_t		 chunks, corrupt; /* this run */
};

struct storage {
	struct child_env	*env;
	int			 instance;
	int			 root;		/* the data directory */
	int			 tmp;		/* .tmp */
	int			 nextfd;	/* made ahead in .tmp, or -1 */
	char			 nextname[32];
	uint8_t			*buf;		/* aligned, reused */
	struct event		*idle;		/* gives buf's pages back */
	int			 direct;	/* O_DIRECT: -1 untried */
	uint64_t		 seq;
	uint32_t		 next_seal;
	int			 readonly;
	char			 rowhy[CTL_MSG_MAX];
	uint64_t		 reserve;
	TAILQ_HEAD(, pending)	 pending;
	struct scrub		 scrub;

	uint64_t		 chunks_written;
	uint64_t		 bytes_written;
	uint64_t		 identical;
	uint64_t		 verify_failures;
	uint64_t		 exists;
	uint64_t		 write_errors;
	uint64_t		 flush_failures;
	uint64_t		 stats;
	uint64_t		 lists;
	uint64_t		 scrub_runs;
	uint64_t		 scrub_chunks;
	uint64_t		 scrub_bytes;
	uint64_t		 scrub_corrupt;
};

static struct storage	 st;

static void	 storage_start(struct child_env *);
static void	 st_dispatch_request(struct imsgev *, struct imsg *);
static void	 st_dispatch_sealed(struct imsgev *, struct imsg *);
static void	 st_dispatch_readonly(struct imsgev *, struct imsg *);
static void	 st_dispatch_scrub(struct imsgev *, struct imsg *);

static const struct proc_msg storage_msgs[] = {
	{ PROC_PARENT,	IMSG_ST_SEALED,		PROC_NOFD, st_dispatch_sealed },
	{ PROC_PARENT,	IMSG_ST_READONLY,	PROC_NOFD, st_dispatch_readonly },
	{ PROC_PARENT,	IMSG_ST_SCRUB,		PROC_NOFD, st_dispatch_scrub },
	{ PROC_NETWORK,	IMSG_ST_WRITE,		PROC_FD,   st_dispatch_request },
	{ PROC_NETWORK,	IMSG_ST_READ,		PROC_FD,   st_dispatch_request },
	{ PROC_NETWORK,	IMSG_ST_LIST,		PROC_FD,   st_dispatch_request },
	{ PROC_NETWORK,	IMSG_ST_STAT,		PROC_NOFD, st_dispatch_request },
	{ PROC_NETWORK,	IMSG_ST_STATFS,		PROC_NOFD, st_dispatch_request },
};

const struct proc_def storage_proc = {
	.role = PROC_STORAGE,
	.name = "storage",
	.msgs = storage_msgs,
	.nmsgs = sizeof(storage_msgs) / sizeof(storage_msgs[0]),
	.start = storage_start,
};

static void	 st_conf_apply(struct child_env *, struct dsrvd_conf *);
static size_t	 st_stats(struct child_env *, struct ctl_counter *, size_t);
static void	 st_dispatch_request(struct imsgev *, struct imsg *);
static void	 st_dispatch_sealed(struct imsgev *, struct imsg *);
static void	 st_dispatch_readonly(struct imsgev *, struct imsg *);
static void	 st_dispatch_scrub(struct imsgev *, struct imsg *);
static int	 st_write(struct imsgev *, uint32_t, const struct st_req *,
		    int, struct st_res *);
static void	 st_read(const struct st_req *, int, struct st_res *);
static uint8_t	*st_map(int, uint64_t, uint64_t, int, void **, size_t *);
static int	 st_put_direct(int, int, const struct st_req *);
static void	 st_nodirect(void);
static ssize_t	 st_fill(int, uint8_t *, size_t, int);
static void	 st_busy(void);
static void	 st_peer_gone(struct child_env *, struct imsgev *);
static void	 st_tmp_ahead(void);
static int	 st_tmp_take(char *, size_t);
static void	 st_idle(int, short, void *);
static void	 st_list(const struct st_req *, int, struct st_res *);
static void	 st_stat(const struct st_req *, struct st_res *);
static void	 st_statfs(const struct st_req *, struct st_res *);
static void	 st_cleanup_tmp(void);
static void	 st_sweep(void);
static void	 st_scrub_step(int, short, void *);
static void	 st_scrub_end(void);
static void	 st_flush_failed(const char *, int);

static void
st_fail(struct st_res *res, uint32_t error, const char *fmt, ...)
{
	va_list	 ap;

	res->error = error;
	va_start(ap, fmt);
	(void)vsnprintf(res->msg, sizeof(res->msg), fmt, ap);
	va_end(ap);
}

/* An errno from the file system as a protocol error. */
static void
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

static void
storage_start(struct child_env *env)
{
	memset(&st, 0, sizeof(st));
	st.env = env;
	st.instance = env->init.instance;
	st.direct = -1;
	st.nextfd = -1;
	TAILQ_INIT(&st.pending);
	env->conf_apply = st_conf_apply;
	env->stats = st_stats;
	env->peer_gone = st_peer_gone;

	/* We are chrooted: / is the data directory. */
	if ((st.root = open("/", O_RDONLY | O_DIRECTORY | O_CLOEXEC)) == -1)
		fatal("open data directory");
	if (mkdirat(st.root, ".tmp", 0700) == -1 && errno != EEXIST)
		fatal("mkdir .tmp");
	if ((st.tmp = openat(st.root, ".tmp", O_RDONLY | O_DIRECTORY |
	    O_NOFOLLOW | O_CLOEXEC)) == -1)
		fatal("open .tmp");
	if (posix_memalign((void **)&st.buf, ST_ALIGN, ST_BUFSZ) != 0)
		fatalx("out of memory for the read-back buffer");
	if ((st.idle = evtimer_new(env->base, st_idle, NULL)) == NULL)
		fatalx("evtimer_new failed");

	st_cleanup_tmp();
	if (st.instance == 0 && env->init.immutable)
		st_sweep();
}

static void
st_conf_apply(struct child_env *env, struct dsrvd_conf *old)
{
	st.reserve = env->conf->reserve;
}

static size_t
st_stats(struct child_env *env, struct ctl_counter *cc, size_t max)
{
	size_t	 n = 0;

	proc_counter(cc, &n, max, "chunks written", st.chunks_written);
	proc_counter(cc, &n, max, "bytes written", st.bytes_written);
	proc_counter(cc, &n, max, "identical rewrites", st.identical);
	proc_counter(cc, &n, max, "verification failures",
	    st.verify_failures);
	proc_counter(cc, &n, max, "exists errors", st.exists);
	proc_counter(cc, &n, max, "write errors", st.write_errors);
	proc_counter(cc, &n, max, "flush failures", st.flush_failures);
	proc_counter(cc, &n, max, "chunk stats", st.stats);
	proc_counter(cc, &n, max, "chunk lists", st.lists);
	if (st.instance == 0) {
		proc_counter(cc, &n, max, "scrub runs", st.scrub_runs);
		proc_counter(cc, &n, max, "scrub running",
		    st.scrub.running);
		proc_counter(cc, &n, max, "scrub chunks", st.scrub_chunks);
		proc_counter(cc, &n, max, "scrub bytes", st.scrub_bytes);
		proc_counter(cc, &n, max, "scrub corrupt", st.scrub_corrupt);
	}
	return n;
}

/*
 * Open (and with create, make) a directory below dir.  Returns the fd
 * or -1 with errno.  A new directory is flushed into its parent before
 * anything is put in it.
 */
static int
st_subdir(int dir, const char *name, int create)
{
	int	 fd;

	fd = openat(dir, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW |
	    O_CLOEXEC);
	if (fd != -1 || errno != ENOENT || !create)
		return fd;
	if (mkdirat(dir, name, 0700) == -1 && errno != EEXIST)
		return -1;
	if (fsync(dir) == -1)
		return -1;
	return openat(dir, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW |
	    O_CLOEXEC);
}

/* The directory a key's names are relative to: / or .ns/NS. */
static int
st_base(const char *ns, int create)
{
	int	 nsd, fd;

	if (ns[0] == '\0')
		return fcntl(st.root, F_DUPFD_CLOEXEC, 0);
	if ((nsd = st_subdir(st.root, ".ns", create)) == -1)
		return -1;
	fd = st_subdir(nsd, ns, create);
	(void)close(nsd);
	return fd;
}

/*
 * Split and check a request's name; open its directory.  Returns the
 * directory fd, or -1 with the error in res (a missing directory is
 * NOTFOUND, or with create made).
 */
static int
st_open_dir(const struct st_req *req, int create, const char **base,
    struct st_res *res)
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
	if ((b = st_base(req->ns, create)) == -1) {
		if (errno == ENOENT)
			st_fail(res, WIRE_E_NOTFOUND, "no such chunk");
		else
			st_fail_errno(res, errno, "namespace directory");
		return -1;
	}
	fd = st_subdir(b, dir, create);
	(void)close(b);
	if (fd == -1) {
		if (errno == ENOENT)
			st_fail(res, WIRE_E_NOTFOUND, "no such chunk");
		else
			st_fail_errno(res, errno, "chunk directory");
		return -1;
	}
	return fd;
}

/* Path for log lines: the name as it is below the data directory. */
static const char *
st_path(const char *ns, const char *name, char *buf, size_t len)
{
	if (ns[0] == '\0')
		(void)strlcpy(buf, name, len);
	else
		(void)snprintf(buf, len, ".ns/%s/%s", ns, name);
	return buf;
}

static void
st_reply(struct imsgev *iev, uint32_t connid, struct st_res *res)
{
	if (imsgev_compose(iev, IMSG_ST_RESULT, connid, 0, -1, res,
	    sizeof(*res)) == -1)
		fatal("%s: compose", __func__);
}

static void
st_dispatch_request(struct imsgev *iev, struct imsg *imsg)
{
	struct st_req	 req;
	struct st_res	 res;
	int		 fd;

	if (st_req_get(imsg, &req) == -1)
		msg_bad(iev, imsg, __func__);
	fd = imsg_get_fd(imsg);
	memset(&res, 0, sizeof(res));
	res.reqid = req.reqid;
	res.method = req.method;

	switch (imsg->hdr.type) {
	case IMSG_ST_WRITE:
		if (fd == -1)
			fatalx("%s: write without a payload", __func__);
		if (st_write(iev, imsg->hdr.peerid, &req, fd, &res) == 1) {
			(void)close(fd);
			st_busy();
			return;		/* answered once sealed */
		}
		break;
	case IMSG_ST_READ:
		if (fd == -1)
			fatalx("%s: read without a buffer", __func__);
		st_read(&req, fd, &res);
		break;
	case IMSG_ST_LIST:
		if (fd == -1)
			fatalx("%s: list without a buffer", __func__);
		st_list(&req, fd, &res);
		break;
	case IMSG_ST_STAT:
		st_stat(&req, &res);
		break;
	case IMSG_ST_STATFS:
		st_statfs(&req, &res);
		break;
	}
	if (fd != -1)
		(void)close(fd);
	st_reply(iev, imsg->hdr.peerid, &res);
	if (imsg->hdr.type == IMSG_ST_WRITE) {
		imsgev_push(iev);
		st_tmp_ahead();
	}
	st_busy();
}

/*
 * Create the temporary file for the next chunk now, after the answer
 * is on its way and before that chunk arrives: creating a file costs
 * about as much as writing and reading back 4 KiB.  It stays empty
 * until used; one left by a stop is removed at the next start.
 */
static void
st_tmp_ahead(void)
{
	if (st.nextfd != -1 || st.readonly)
		return;
	(void)snprintf(st.nextname, sizeof(st.nextname), "%d.%" PRIu64,
	    st.instance, ++st.seq);
	st.nextfd = openat(st.tmp, st.nextname, O_RDWR | O_CREAT | O_EXCL |
	    O_NOFOLLOW | O_CLOEXEC, 0600);
	/* On failure the write that needs one tries again and says why. */
}

/* The temporary file made ahead, or a new one; -1 with errno. */
static int
st_tmp_take(char *name, size_t len)
{
	int	 fd;

	if (st.nextfd != -1) {
		fd = st.nextfd;
		st.nextfd = -1;
		(void)strlcpy(name, st.nextname, len);
		return fd;
	}
	(void)snprintf(name, len, "%d.%" PRIu64, st.instance, ++st.seq);
	return openat(st.tmp, name, O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW |
	    O_CLOEXEC, 0600);
}

/*
 * A network worker went away (the daemon is stopping): a seal still on
 * its way has nobody to answer.
 */
static void
st_peer_gone(struct child_env *env, struct imsgev *iev)
{
	struct pending	*p;

	TAILQ_FOREACH(p, &st.pending, entry)
		if (p->net == iev)
			p->net = NULL;
}

/* Work was done: the buffer's pages stay until ST_IDLE_SEC of quiet. */
static void
st_busy(void)
{
	struct timeval	 tv = { ST_IDLE_SEC, 0 };

	if (evtimer_add(st.idle, &tv) == -1)
		fatalx("%s: evtimer_add failed", __func__);
}

/*
 * Idle: the read-back buffer's 8 MiB need not stay resident.  They are
 * faulted in again by the next chunk, a cost that only matters under
 * load, when this does not run.
 */
static void
st_idle(int fd, short event, void *arg)
{
	if (st.scrub.running) {
		st_busy();
		return;
	}
	if (madvise(st.buf, ST_BUFSZ, MADV_DONTNEED) == -1)
		log_warn("%s: madvise", __func__);
}

/*
 * Map the part of a network memfd that holds len bytes at off and the
 * CHUNK_ALIGN-rounded room after them.  Returns the address of off, and
 * what to munmap, or NULL with errno (ERANGE: the memfd is too small).
 */
static uint8_t *
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
static void
st_nodirect(void)
{
	if (st.direct != 0)
		log_info("the data directory's file system does not do "
		    "direct I/O; using the page cache, dropped before each "
		    "read-back");
	st.direct = 0;
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
st_put_direct(int fd, int memfd, const struct st_req *req)
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
		st_nodirect();
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
				st_nodirect();
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
st_copy(int memfd, uint64_t off, int fd, uint64_t len)
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
		if ((n = pread(memfd, st.buf, want, off + done)) <= 0) {
			if (n == -1 && errno == EINTR)
				continue;
			if (n == 0)
				errno = EIO;
			return -1;
		}
		for (w = 0; w < n; ) {
			ssize_t	 m = pwrite(fd, st.buf + w, n - w, done + w);

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

/*
 * Read up to size bytes of a file into p, with direct I/O if asked and
 * the file system allows it (p and the room after size bytes aligned to
 * CHUNK_ALIGN), so that the bytes come from the device and no page cache
 * fills up.  Returns the bytes read or -1 with errno.
 */
static ssize_t
st_fill(int fd, uint8_t *p, size_t size, int direct)
{
	size_t	 total = 0, want;
	ssize_t	 n;
	int	 fl;

	if (direct && ((fl = fcntl(fd, F_GETFL)) == -1 ||
	    fcntl(fd, F_SETFL, fl | O_DIRECT) == -1)) {
		st_nodirect();
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
				st_nodirect();
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
 * chunk's tail went through it), then read.  Fills st.buf with up to
 * CHUNK_MAX + 1 bytes (one more than a chunk can have, so an oversized
 * file shows; with direct I/O up to a block more).
 */
static ssize_t
st_readback(int fd)
{
	(void)posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED);
	return st_fill(fd, st.buf, CHUNK_MAX + 1, st.direct != 0);
}

static int
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

/*
 * A write to a name that exists: the same bytes are success, anything
 * else is EXISTS and the stored chunk stays as it is.
 */
static void
st_same(int dfd, const char *base, const char *path, int memfd,
    const struct st_req *req, struct st_res *res)
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
		a = pread(fd, st.buf, want, off);
		b = pread(memfd, st.buf + ST_CMP_BLOCK, want, req->off + off);
		if (a == -1 || b == -1) {
			st_fail_errno(res, errno, "compare with existing "
			    "chunk");
			(void)close(fd);
			return;
		}
		if ((size_t)a != want || (size_t)b != want ||
		    memcmp(st.buf, st.buf + ST_CMP_BLOCK, want) != 0)
			goto differ;
	}
	/*
	 * An earlier attempt may have failed after the rename: make sure
	 * the name is on disk and the chunk sealed before saying yes.
	 */
	if (fsync(dfd) == -1) {
		e = errno;
		st_flush_failed(path, e);
		st_fail(res, WIRE_E_IO, "flush of the directory failed: %s",
		    strerror(e));
		(void)close(fd);
		return;
	}
	if (st.env->init.immutable &&
	    ioctl(fd, FS_IOC_GETFLAGS, &flags) == 0 &&
	    (flags & FS_IMMUTABLE_FL) == 0) {
		memset(&seal, 0, sizeof(seal));
		seal.size = sb.st_size;
		(void)strlcpy(seal.name, path, sizeof(seal.name));
		if (imsgev_compose(&st.env->parent, IMSG_ST_SEAL, 0, 0, fd,
		    &seal, sizeof(seal)) == -1)
			fatal("%s: compose", __func__);
	} else
		(void)close(fd);
	st.identical++;
	log_debug("%s: identical rewrite", path);
	return;
 differ:
	(void)close(fd);
	st.exists++;
	log_info("%s: write refused, chunk exists with different content",
	    path);
	st_fail(res, WIRE_E_EXISTS, "chunk exists with different content");
}

static void
st_flush_failed(const char *path, int e)
{
	char	 why[CTL_MSG_MAX];

	st.flush_failures++;
	(void)snprintf(why, sizeof(why), "%s: %s", path, strerror(e));
	log_warnx("flush failed: %s", why);
	if (imsgev_compose(&st.env->parent, IMSG_ST_FLUSHFAIL, 0, 0, -1, why,
	    strlen(why) + 1) == -1)
		fatal("%s: compose", __func__);
}

/*
 * Commit a chunk.  Returns 1 when the answer waits for the parent's
 * seal, 0 when res is the answer now.
 */
static int
st_write(struct imsgev *iev, uint32_t connid, const struct st_req *req,
    int memfd, struct st_res *res)
{
	struct pending	*p;
	struct st_seal	 seal;
	struct stat	 sb;
	struct statvfs	 sv;
	const char	*base, *errstr;
	char		 tmpname[64], hex[9], path[sizeof(seal.name)];
	size_t		 dirlen;
	ssize_t		 got;
	uint32_t	 crc;
	int		 dfd, fd, e, r, direct;

	if (req->len > CHUNK_MAX) {
		st_fail(res, WIRE_E_TOOBIG, "chunk larger than 8 MiB");
		return 0;
	}
	if (chunk_name_check(req->name, strnlen(req->name, sizeof(req->name)),
	    &dirlen, &errstr) == -1) {
		st_fail(res, WIRE_E_BADNAME, "bad chunk name: %s", errstr);
		return 0;
	}
	if (st.readonly) {
		st_fail(res, WIRE_E_READONLY, "store is read-only: %s",
		    st.rowhy);
		return 0;
	}
	if (fstat(memfd, &sb) == -1 || !S_ISREG(sb.st_mode) ||
	    (uint64_t)sb.st_size < req->off + req->len)
		fatalx("%s: bad payload buffer from %s", __func__, iev->name);
	/* Direct I/O for whole blocks of an aligned payload with room. */
	direct = st.direct != 0 && req->len >= ST_DIRECT_MIN &&
	    req->off % CHUNK_ALIGN == 0 && (uint64_t)sb.st_size >= req->off +
	    req->len + CHUNK_ALIGN;
	if ((dfd = st_open_dir(req, 1, &base, res)) == -1) {
		st.write_errors++;
		return 0;
	}
	(void)st_path(req->ns, req->name, path, sizeof(path));

	if (fstatat(dfd, base, &sb, AT_SYMLINK_NOFOLLOW) == 0) {
		st_same(dfd, base, path, memfd, req, res);
		(void)close(dfd);
		return 0;
	} else if (errno != ENOENT) {
		st_fail_errno(res, errno, "chunk");
		goto fail;
	}

	if (fstatvfs(dfd, &sv) == -1) {
		st_fail_errno(res, errno, "statvfs");
		goto fail;
	}
	if ((uint64_t)sv.f_bavail * sv.f_frsize <
	    req->len + st.reserve + ST_SLACK) {
		st_fail(res, WIRE_E_NOSPACE, "no space left on the data "
		    "directory's file system%s", st.reserve > 0 ?
		    " (beyond the reserve)" : "");
		goto fail;
	}

	if ((fd = st_tmp_take(tmpname, sizeof(tmpname))) == -1) {
		st_fail_errno(res, errno, "create temporary file");
		goto fail;
	}
	r = direct ? st_put_direct(fd, memfd, req) : 1;
	if (r == 1)
		r = st_copy(memfd, req->off, fd, req->len);
	if (r == -1) {
		st_fail_errno(res, errno, "write");
		goto fail_tmp;
	}
	(void)snprintf(hex, sizeof(hex), "%08" PRIx32, req->crc);
	if (fsetxattr(fd, CHUNK_XATTR, hex, 8, XATTR_CREATE) == -1) {
		st_fail_errno(res, errno, "store crc32");
		goto fail_tmp;
	}
	/* Writable only while the xattr is set: user xattrs need it. */
	if (fchmod(fd, 0400) == -1) {
		st_fail_errno(res, errno, "chmod");
		goto fail_tmp;
	}
	if (fsync(fd) == -1) {
		e = errno;
		st_flush_failed(path, e);
		st_fail(res, WIRE_E_IO, "flush failed: %s", strerror(e));
		goto fail_tmp;
	}
	if ((got = st_readback(fd)) == -1) {
		st_fail_errno(res, errno, "read back");
		goto fail_tmp;
	}
	crc = crc32(0, st.buf, got);
	if ((uint64_t)got != req->len || crc != req->crc) {
		st.verify_failures++;
		log_warnx("read-back verification failed for %s: %zd bytes "
		    "crc32 %08x, sent %" PRIu64 " bytes crc32 %08x", path, got,
		    crc, req->len, req->crc);
		st_fail(res, WIRE_E_CRC, "read-back verification failed");
		goto fail_tmp;
	}

	/* Visible now, under a name that did not exist. */
	if (renameat2(st.tmp, tmpname, dfd, base, RENAME_NOREPLACE) == -1) {
		if (errno != EINVAL && errno != ENOSYS) {
			if (errno == EEXIST) {
				/* Another worker was quicker. */
				(void)unlinkat(st.tmp, tmpname, 0);
				(void)close(fd);
				st_same(dfd, base, path, memfd, req, res);
				(void)close(dfd);
				return 0;
			}
			st_fail_errno(res, errno, "rename");
			goto fail_tmp;
		}
		if (linkat(st.tmp, tmpname, dfd, base, 0) == -1) {
			if (errno == EEXIST) {
				(void)unlinkat(st.tmp, tmpname, 0);
				(void)close(fd);
				st_same(dfd, base, path, memfd, req, res);
				(void)close(dfd);
				return 0;
			}
			st_fail_errno(res, errno, "link");
			goto fail_tmp;
		}
		if (unlinkat(st.tmp, tmpname, 0) == -1)
			log_warn("unlink .tmp/%s", tmpname);
	}
	/*
	 * The parent makes it immutable while the directory is flushed
	 * here; the client hears once both are done.
	 */
	if ((p = calloc(1, sizeof(*p))) != NULL) {
		p->id = ++st.next_seal == 0 ? ++st.next_seal : st.next_seal;
		p->net = iev;
		p->connid = connid;
		TAILQ_INSERT_TAIL(&st.pending, p, entry);
		memset(&seal, 0, sizeof(seal));
		seal.id = p->id;
		seal.size = req->len;
		(void)strlcpy(seal.name, path, sizeof(seal.name));
		if (imsgev_compose(&st.env->parent, IMSG_ST_SEAL, 0, 0, fd,
		    &seal, sizeof(seal)) == -1)
			fatal("%s: compose", __func__);
		imsgev_push(&st.env->parent);
	} else
		(void)close(fd);
	if (fsync(dfd) == -1) {
		e = errno;
		st_flush_failed(path, e);
		st_fail(res, WIRE_E_IO, "flush of the directory failed: %s",
		    strerror(e));
		st.write_errors++;
	} else {
		st.chunks_written++;
		st.bytes_written += req->len;
		log_debug("%s: stored, %" PRIu64 " bytes crc32 %08x", path,
		    req->len, req->crc);
	}
	(void)close(dfd);
	if (p == NULL)
		return 0;
	p->res = *res;
	return 1;

 fail_tmp:
	if (unlinkat(st.tmp, tmpname, 0) == -1)
		log_warn("unlink .tmp/%s", tmpname);
	(void)close(fd);
 fail:
	(void)close(dfd);
	st.write_errors++;
	return 0;
}

static void
st_dispatch_sealed(struct imsgev *iev, struct imsg *imsg)
{
	struct st_seal	 seal;
	struct pending	*p;

	if (st_seal_get(imsg, &seal) == -1)
		msg_bad(iev, imsg, __func__);
	if (seal.id == 0)
		return;		/* the start-up sweep's; the parent logged */
	TAILQ_FOREACH(p, &st.pending, entry)
		if (p->id == seal.id)
			break;
	if (p == NULL)
		fatalx("%s: seal %u was never asked for", __func__, seal.id);
	TAILQ_REMOVE(&st.pending, p, entry);
	/*
	 * Stored, flushed and verified either way: a chunk the parent
	 * could not seal is still the client's data (the parent logged it).
	 */
	if (p->net != NULL) {
		st_reply(p->net, p->connid, &p->res);
		imsgev_push(p->net);
	}
	free(p);
	st_tmp_ahead();
}

static void
st_dispatch_readonly(struct imsgev *iev, struct imsg *imsg)
{
	if (msg_string_get(imsg, st.rowhy, sizeof(st.rowhy)) == -1)
		msg_bad(iev, imsg, __func__);
	st.readonly = 1;
}

/*
 * Open a stored chunk for reading: its fd, or -1 with the error in res
 * (anything but a regular file is no chunk).
 */
static int
st_open_chunk(const struct st_req *req, struct stat *sb, struct st_res *res)
{
	const char	*base;
	int		 dfd, fd;

	if ((dfd = st_open_dir(req, 0, &base, res)) == -1)
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

/*
 * READ: the chunk goes into the network worker's buffer at req->off,
 * checked against its stored crc32 here: bytes that no longer match
 * are never handed out as good data.
 */
static void
st_read(const struct st_req *req, int memfd, struct st_res *res)
{
	struct stat	 sb;
	char		 path[sizeof(((struct st_seal *)0)->name)];
	void		*base = NULL;
	size_t		 maplen = 0;
	uint8_t		*p;
	ssize_t		 got;
	uint32_t	 crc, stored;
	int		 fd, e;

	if ((fd = st_open_chunk(req, &sb, res)) == -1)
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
		goto done;
	}
	if ((uint64_t)sb.st_size > req->maxlen || (p = st_map(memfd, req->off,
	    sb.st_size, PROT_READ | PROT_WRITE, &base, &maplen)) == NULL) {
		log_warn("read %s: the buffer from network", path);
		st_fail(res, WIRE_E_BUSY, "no buffer to read the chunk into");
		goto done;
	}
	got = st_fill(fd, p, sb.st_size, st.direct != 0 &&
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
	goto done;
 corrupt:
	st_fail(res, WIRE_E_CORRUPT, "chunk is corrupt: its bytes do not "
	    "match the stored crc32");
 done:
	if (base != NULL && munmap(base, maplen) == -1)
		fatal("%s: munmap", __func__);
	(void)close(fd);
}

static int
st_namecmp(const void *a, const void *b)
{
	return strcmp(*(char * const *)a, *(char * const *)b);
}

/* Is this directory entry a chunk?  Dot names never are. */
static int
st_is_chunk(int dfd, struct dirent *de)
{
	struct stat	 sb;

	if (de->d_name[0] == '.')
		return 0;
	if (de->d_type == DT_REG)
		return 1;
	if (de->d_type != DT_UNKNOWN)
		return 0;
	return fstatat(dfd, de->d_name, &sb, AT_SYMLINK_NOFOLLOW) == 0 &&
	    S_ISREG(sb.st_mode);
}

/*
 * LIST: names after req->after, sorted, NUL-separated, into the
 * network's buffer; a listing cut at the size limit ends in a NUL.
 */
static void
st_list(const struct st_req *req, int memfd, struct st_res *res)
{
	struct st_req	 r;
	struct stat	 sb;
	struct dirent	*de;
	DIR		*dp;
	const char	*errstr, *base;
	char		**names = NULL, **nn;
	size_t		 n = 0, cap = 0, i, used = 0, len, max;
	ssize_t		 w;
	int		 dfd;

	st.lists++;
	if (chunk_dir_check(req->name, strnlen(req->name, sizeof(req->name)),
	    &errstr) == -1) {
		st_fail(res, WIRE_E_BADNAME, "bad directory name: %s", errstr);
		return;
	}
	max = req->maxlen < WIRE_PAYLOAD_MAX ? req->maxlen : WIRE_PAYLOAD_MAX;
	if (fstat(memfd, &sb) == -1 || (uint64_t)sb.st_size < req->off + max)
		fatalx("%s: bad list buffer", __func__);

	/* Reuse the name check: DIR/x opens DIR. */
	r = *req;
	(void)snprintf(r.name, sizeof(r.name), "%s/x", req->name);
	if ((dfd = st_open_dir(&r, 0, &base, res)) == -1) {
		if (res->error == WIRE_E_NOTFOUND) {
			/* No such directory: nothing in it. */
			res->error = WIRE_E_OK;
			res->msg[0] = '\0';
			res->len = 0;
			res->crc = 0;
		}
		return;
	}
	if ((dp = fdopendir(dfd)) == NULL) {
		st_fail_errno(res, errno, "list");
		(void)close(dfd);
		return;
	}
	for (;;) {
		errno = 0;
		if ((de = readdir(dp)) == NULL) {
			if (errno != 0) {
				st_fail_errno(res, errno, "list");
				goto done;
			}
			break;
		}
		if (!st_is_chunk(dirfd(dp), de))
			continue;
		if (req->after[0] != '\0' && strcmp(de->d_name,
		    req->after) <= 0)
			continue;
		if (n == cap) {
			cap = cap == 0 ? 256 : cap * 2;
			if ((nn = reallocarray(names, cap, sizeof(*names))) ==
			    NULL) {
				st_fail_errno(res, errno, "list");
				goto done;
			}
			names = nn;
		}
		if ((names[n] = strdup(de->d_name)) == NULL) {
			st_fail_errno(res, errno, "list");
			goto done;
		}
		n++;
	}
	if (n > 0)
		qsort(names, n, sizeof(*names), st_namecmp);
	for (i = 0; i < n; i++) {
		len = strlen(names[i]);
		/* Room for the name, its separator and a final NUL. */
		if (used + (used > 0) + len + 1 > max)
			break;
		if (used > 0)
			st.buf[used++] = '\0';
		memcpy(st.buf + used, names[i], len);
		used += len;
	}
	if (i < n)
		st.buf[used++] = '\0';	/* more to come */
	for (len = 0; len < used; len += w) {
		w = pwrite(memfd, st.buf + len, used - len, req->off + len);
		if (w == -1) {
			if (errno == EINTR) {
				w = 0;
				continue;
			}
			fatal("%s: pwrite to the list buffer", __func__);
		}
	}
	res->len = used;
	res->crc = crc32(0, st.buf, used);
 done:
	for (i = 0; i < n; i++)
		free(names[i]);
	free(names);
	(void)closedir(dp);
}

/* STAT: length and crc32 of what is on the device now. */
static void
st_stat(const struct st_req *req, struct st_res *res)
{
	struct stat	 sb;
	ssize_t		 got;
	int		 fd;

	st.stats++;
	if ((fd = st_open_chunk(req, &sb, res)) == -1)
		return;
	if ((got = st_readback(fd)) == -1) {
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
	res->crc = crc32(0, st.buf, got);
}

/* Chunks in the directories below base (one level, no dot names). */
static uint64_t
st_count(int base)
{
	struct dirent	*de, *de2;
	DIR		*dp, *dp2;
	uint64_t	 n = 0;
	int		 fd, d;

	/* Not a dup: that would share (and move) base's offset. */
	if ((fd = openat(base, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC)) == -1)
		return 0;
	if ((dp = fdopendir(fd)) == NULL) {
		(void)close(fd);
		return 0;
	}
	while ((de = readdir(dp)) != NULL) {
		if (de->d_name[0] == '.' || (de->d_type != DT_DIR &&
		    de->d_type != DT_UNKNOWN))
			continue;
		if ((d = openat(dirfd(dp), de->d_name, O_RDONLY | O_DIRECTORY |
		    O_NOFOLLOW | O_CLOEXEC)) == -1)
			continue;
		if ((dp2 = fdopendir(d)) == NULL) {
			(void)close(d);
			continue;
		}
		while ((de2 = readdir(dp2)) != NULL)
			if (st_is_chunk(dirfd(dp2), de2))
				n++;
		(void)closedir(dp2);
	}
	(void)closedir(dp);
	return n;
}

static void
st_statfs(const struct st_req *req, struct st_res *res)
{
	struct statvfs	 sv;
	uint64_t	 avail;
	int		 b;

	if ((b = st_base(req->ns, 0)) == -1 && errno != ENOENT) {
		st_fail_errno(res, errno, "namespace directory");
		return;
	}
	if (fstatvfs(b == -1 ? st.root : b, &sv) == -1) {
		st_fail_errno(res, errno, "statvfs");
		if (b != -1)
			(void)close(b);
		return;
	}
	avail = (uint64_t)sv.f_bavail * sv.f_frsize;
	res->fs[0] = (uint64_t)sv.f_blocks * sv.f_frsize;
	res->fs[1] = (uint64_t)sv.f_bfree * sv.f_frsize;
	res->fs[2] = avail > st.reserve ? avail - st.reserve : 0;
	res->fs[3] = b == -1 ? 0 : st_count(b);
	if (b != -1)
		(void)close(b);
}

/*
 * Temporaries are named INSTANCE.SEQ.  Each worker removes those of its
 * own class (instance modulo the number of workers), so that no worker
 * removes a file another is writing; worker 0 also removes anything
 * else found there.
 */
static void
st_cleanup_tmp(void)
{
	struct dirent	*de;
	DIR		*dp;
	const char	*errstr;
	char		 num[16];
	size_t		 len;
	long long	 inst;
	int		 fd, mine, n = 0;

	if ((fd = openat(st.tmp, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC)) ==
	    -1)
		fatal("open .tmp");
	if ((dp = fdopendir(fd)) == NULL)
		fatal("fdopendir .tmp");
	while ((de = readdir(dp)) != NULL) {
		if (strcmp(de->d_name, ".") == 0 ||
		    strcmp(de->d_name, "..") == 0)
			continue;
		len = strcspn(de->d_name, ".");
		mine = st.instance == 0;
		if (len > 0 && len < sizeof(num) &&
		    de->d_name[len] == '.') {
			memcpy(num, de->d_name, len);
			num[len] = '\0';
			inst = strtonum(num, 0, 1000000, &errstr);
			if (errstr == NULL)
				mine = inst % st.env->init.nstorage ==
				    st.instance;
		}
		if (!mine)
			continue;
		if (unlinkat(dirfd(dp), de->d_name, 0) == -1) {
			log_warn("cannot remove .tmp/%s", de->d_name);
			continue;
		}
		n++;
	}
	(void)closedir(dp);
	if (n > 0) {
		if (fsync(st.tmp) == -1)
			log_warn("fsync .tmp");
		log_warnx("removed %d temporary files left by a crash", n);
	}
}

/*
 * Every directory that holds chunks, relative to the root: DIR and
 * .ns/NS/DIR.  Returns the count; *out is NULL-terminated.
 */
static size_t
st_chunk_dirs(char ***out)
{
	struct dirent	*de;
	DIR		*dp;
	char		**v = NULL, **nv, buf[PATH_MAX];
	const char	*prefix[1 + 256];
	size_t		 n = 0, cap = 0, np = 0, i;
	int		 fd;

	prefix[np++] = "";
	/* namespaces first, then their directories */
	if ((fd = openat(st.root, ".ns", O_RDONLY | O_DIRECTORY | O_NOFOLLOW |
	    O_CLOEXEC)) != -1) {
		if ((dp = fdopendir(fd)) == NULL)
			(void)close(fd);
		else {
			while ((de = readdir(dp)) != NULL && np <
			    sizeof(prefix) / sizeof(prefix[0])) {
				if (de->d_name[0] == '.')
					continue;
				(void)snprintf(buf, sizeof(buf), ".ns/%s/",
				    de->d_name);
				if ((prefix[np] = strdup(buf)) == NULL)
					fatal("strdup");
				np++;
			}
			(void)closedir(dp);
		}
	}
	for (i = 0; i < np; i++) {
		if ((fd = openat(st.root, i == 0 ? "." : prefix[i],
		    O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)) == -1)
			continue;
		if ((dp = fdopendir(fd)) == NULL) {
			(void)close(fd);
			continue;
		}
		while ((de = readdir(dp)) != NULL) {
			if (de->d_name[0] == '.' || (de->d_type != DT_DIR &&
			    de->d_type != DT_UNKNOWN))
				continue;
			if (n + 1 >= cap) {
				cap = cap == 0 ? 64 : cap * 2;
				if ((nv = reallocarray(v, cap, sizeof(*v))) ==
				    NULL)
					fatal("%s", __func__);
				v = nv;
			}
			(void)snprintf(buf, sizeof(buf), "%s%s", prefix[i],
			    de->d_name);
			if ((v[n++] = strdup(buf)) == NULL)
				fatal("strdup");
		}
		(void)closedir(dp);
	}
	for (i = 1; i < np; i++)
		free((char *)prefix[i]);
	if (v == NULL && (v = calloc(1, sizeof(*v))) == NULL)
		fatal("%s", __func__);
	v[n] = NULL;
	*out = v;
	return n;
}

static void
st_free_dirs(char **v)
{
	size_t	 i;

	for (i = 0; v != NULL && v[i] != NULL; i++)
		free(v[i]);
	free(v);
}

/*
 * A crash between a chunk's commit and its seal leaves it without the
 * immutable flag: find those and have the parent seal them.
 */
static void
st_sweep(void)
{
	struct st_seal	 seal;
	struct stat	 sb;
	struct dirent	*de;
	DIR		*dp;
	char		**dirs;
	size_t		 i;
	int		 dfd, fd, flags, n = 0;

	(void)st_chunk_dirs(&dirs);
	for (i = 0; dirs[i] != NULL; i++) {
		if ((dfd = openat(st.root, dirs[i], O_RDONLY | O_DIRECTORY |
		    O_NOFOLLOW | O_CLOEXEC)) == -1)
			continue;
		if ((dp = fdopendir(dfd)) == NULL) {
			(void)close(dfd);
			continue;
		}
		while ((de = readdir(dp)) != NULL) {
			if (!st_is_chunk(dirfd(dp), de))
				continue;
			if ((fd = openat(dirfd(dp), de->d_name, O_RDONLY |
			    O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC)) == -1)
				continue;
			if (ioctl(fd, FS_IOC_GETFLAGS, &flags) == -1 ||
			    (flags & FS_IMMUTABLE_FL) ||
			    fstat(fd, &sb) == -1) {
				(void)close(fd);
				continue;
			}
			memset(&seal, 0, sizeof(seal));
			seal.size = sb.st_size;
			(void)snprintf(seal.name, sizeof(seal.name), "%s/%s",
			    dirs[i], de->d_name);
			if (imsgev_compose(&st.env->parent, IMSG_ST_SEAL, 0, 0,
			    fd, &seal, sizeof(seal)) == -1)
				fatal("%s: compose", __func__);
			n++;
		}
		(void)closedir(dp);
	}
	st_free_dirs(dirs);
	if (n > 0)
		log_warnx("sealed %d chunks left unsealed by a crash", n);
}

/*
 * Scrub: re-read every chunk from the device and compare with its
 * stored crc32, one chunk per step, pacing the steps to the rate.
 */
static void
st_dispatch_scrub(struct imsgev *iev, struct imsg *imsg)
{
	struct ctl_scrub	 cs;
	struct ctl_result	 r;
	struct timeval		 tv = { 0, 0 };

	if (ctl_scrub_get(imsg, &cs) == -1)
		msg_bad(iev, imsg, __func__);
	memset(&r, 0, sizeof(r));
	if (st.scrub.running) {
		r.code = EBUSY;
		(void)snprintf(r.msg, sizeof(r.msg), "a scrub is already "
		    "running (%" PRIu64 " chunks checked so far)",
		    st.scrub.chunks);
	} else {
		st.scrub.rate = cs.rate == 0 ? CTL_SCRUB_RATE_DEFAULT : cs.rate;
		st.scrub.chunks = st.scrub.corrupt = 0;
		st.scrub.ndirs = st_chunk_dirs(&st.scrub.dirs);
		st.scrub.cur = 0;
		st.scrub.dp = NULL;
		if (st.scrub.ev == NULL && (st.scrub.ev = evtimer_new(
		    st.env->base, st_scrub_step, NULL)) == NULL)
			fatalx("evtimer_new failed");
		st.scrub.running = 1;
		if (evtimer_add(st.scrub.ev, &tv) == -1)
			fatalx("evtimer_add failed");
		log_info("scrub started: %zu directories, %" PRIu64
		    " bytes per second", st.scrub.ndirs, st.scrub.rate);
		(void)snprintf(r.msg, sizeof(r.msg), "scrub started");
	}
	if (imsgev_compose(iev, IMSG_ST_SCRUB_RESULT, imsg->hdr.peerid, 0, -1,
	    &r, sizeof(r)) == -1)
		fatal("%s: compose", __func__);
}

static void
st_scrub_one(int dfd, const char *dir, const char *name, uint64_t *bytes)
{
	ssize_t		 got;
	uint32_t	 crc, stored;
	int		 fd;

	if ((fd = openat(dfd, name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK |
	    O_CLOEXEC)) == -1)
		return;
	st.scrub.chunks++;
	st.scrub_chunks++;
	if (st_getcrc(fd, &stored) == -1) {
		log_warnx("corrupt chunk %s/%s: no stored crc32: %s", dir,
		    name, strerror(errno));
		st.scrub.corrupt++;
		st.scrub_corrupt++;
		(void)close(fd);
		return;
	}
	got = st_readback(fd);
	(void)close(fd);
	if (got == -1) {
		log_warn("scrub: read %s/%s", dir, name);
		st.scrub.corrupt++;
		st.scrub_corrupt++;
		return;
	}
	*bytes = got;
	st.scrub_bytes += got;
	crc = crc32(0, st.buf, got);
	if (got > CHUNK_MAX || crc != stored) {
		log_warnx("corrupt chunk %s/%s: crc32 %08x, stored %08x", dir,
		    name, crc, stored);
		st.scrub.corrupt++;
		st.scrub_corrupt++;
	}
}

static void
st_scrub_step(int fd, short event, void *arg)
{
	struct dirent	*de;
	struct timeval	 tv;
	uint64_t	 bytes = 0, us;
	int		 dfd;

	for (;;) {
		if (st.scrub.dp == NULL) {
			if (st.scrub.cur >= st.scrub.ndirs) {
				st_scrub_end();
				return;
			}
			dfd = openat(st.root, st.scrub.dirs[st.scrub.cur++],
			    O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
			if (dfd == -1)
				continue;
			if ((st.scrub.dp = fdopendir(dfd)) == NULL) {
				(void)close(dfd);
				continue;
			}
		}
		if ((de = readdir(st.scrub.dp)) == NULL) {
			(void)closedir(st.scrub.dp);
			st.scrub.dp = NULL;
			continue;
		}
		if (!st_is_chunk(dirfd(st.scrub.dp), de))
			continue;
		st_scrub_one(dirfd(st.scrub.dp),
		    st.scrub.dirs[st.scrub.cur - 1], de->d_name, &bytes);
		break;
	}
	us = bytes * 1000000 / st.scrub.rate;
	tv.tv_sec = us / 1000000;
	tv.tv_usec = us % 1000000;
	if (evtimer_add(st.scrub.ev, &tv) == -1)
		fatalx("evtimer_add failed");
}

static void
st_scrub_end(void)
{
	st.scrub.running = 0;
	st.scrub_runs++;
	st_free_dirs(st.scrub.dirs);
	st.scrub.dirs = NULL;
	st.scrub.ndirs = 0;
	if (st.scrub.corrupt > 0)
		log_warnx("scrub finished: %" PRIu64 " chunks, %" PRIu64
		    " corrupt", st.scrub.chunks, st.scrub.corrupt);
	else
		log_info("scrub finished: %" PRIu64 " chunks, none corrupt",
		    st.scrub.chunks);
}
