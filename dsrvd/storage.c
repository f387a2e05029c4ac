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
 * The storage process: chrooted into the data directory as its own
 * user, the only process that writes, reads, lists and stats chunks.
 * There are several of them, each serving one request at a time: a
 * flush or a read-back blocks only the worker doing it.  Nothing here
 * removes or rewrites a chunk: the only unlink is of our own
 * temporaries.
 *
 * This file is the role: the process's state, its start, one
 * dispatcher per message and its counters.  The jobs are below it:
 * storage_write.c commits a chunk (and walks through the steps),
 * storage_read.c answers READ, STAT, STATFS and LIST, storage_scan.c
 * walks the store (start-up cleanup and sweep, the scrub), all on
 * storage_chunk.c's on-disk layout.  They get the state as an argument
 * and never call back here.
 *
 * Peers, as the table below says: the parent (seals of committed
 * chunks, the read-only switch, scrub requests for storage 0), crypto
 * (each session's grant, storage_grant.c) and every network worker
 * (IMSG_ST_* requests within a grant, answered by IMSG_ST_RESULT, and
 * the end of each session).
 * WRITE, READ and LIST come with the connection's memfd: the chunk to
 * store, or the buffer a chunk or a listing is read into; results
 * carry no fd.
 */
#include <sys/types.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/queue.h>
#include <sys/stat.h>
#include <linux/fs.h>

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "chunkname.h"
#include "log.h"
#include "sandbox.h"
#include "storage.h"
#include "util.h"

#define ST_IDLE_SEC	10		/* then the buffer's pages go back */

static struct storage	 st;

static void	 storage_start(struct child_env *);
static void	 st_dispatch_request(struct imsgev *, struct imsg *);
static void	 st_dispatch_sealed(struct imsgev *, struct imsg *);
static void	 st_dispatch_readonly(struct imsgev *, struct imsg *);
static void	 st_dispatch_scrub(struct imsgev *, struct imsg *);
static void	 st_dispatch_mkdir_done(struct imsgev *, struct imsg *);

static const struct proc_msg storage_msgs[] = {
	{ PROC_PARENT, IMSG_ST_SEALED, PROC_NOFD, st_dispatch_sealed },
	{ PROC_PARENT, IMSG_ST_READONLY, PROC_NOFD, st_dispatch_readonly },
	{ PROC_PARENT, IMSG_ST_SCRUB, PROC_NOFD, st_dispatch_scrub },
	{ PROC_PARENT, IMSG_ST_MKDIR_DONE, PROC_NOFD, st_dispatch_mkdir_done },
	{ PROC_CRYPTO, IMSG_ST_GRANT, PROC_NOFD, st_grant_dispatch_add },
	{ PROC_CRYPTO, IMSG_ST_SESSION_END, PROC_NOFD, st_grant_dispatch_end },
	{ PROC_NETWORK, IMSG_ST_SESSION_END, PROC_NOFD,
	    st_grant_dispatch_end },
	{ PROC_NETWORK, IMSG_ST_WRITE, PROC_FD, st_dispatch_request },
	{ PROC_NETWORK, IMSG_ST_READ, PROC_FD, st_dispatch_request },
	{ PROC_NETWORK, IMSG_ST_LIST, PROC_FD, st_dispatch_request },
	{ PROC_NETWORK, IMSG_ST_STAT, PROC_NOFD, st_dispatch_request },
	{ PROC_NETWORK, IMSG_ST_DIGEST, PROC_NOFD, st_dispatch_request },
	{ PROC_NETWORK, IMSG_ST_STATFS, PROC_NOFD, st_dispatch_request },
};

/*
 * The sandbox: files in the data directory and nothing else.  No
 * socket, no fallocate; of ioctls only reading a file's flags.
 */
static const struct proc_syscall storage_syscalls[] = {
	SYSCALL("openat"),
	SYSCALL("getdents64"),
	SYSCALL("pread64"),
	SYSCALL("pwrite64"),
	SYSCALL("lseek"),
	SYSCALL("sendfile"),
	SYSCALL("fsync"),
	SYSCALL("fdatasync"),
	SYSCALL("fadvise64"),
	SYSCALL("fstatfs"),
	SYSCALL("fchmod"),
	SYSCALL("fgetxattr"),
	SYSCALL("fsetxattr"),
	SYSCALL_EQ("ioctl", 1, FS_IOC_GETFLAGS),
	SYSCALL("sysinfo"),		/* qsort(3) of a listing */
	SYSCALL("renameat2"),
	SYSCALL("linkat"),			/* where renameat2 has no NOREPLACE */
	SYSCALL("unlinkat"),			/* landlock: in .tmp only */
	/* no mkdirat: only the parent makes directories (parent_store.c) */
};

/*
 * A chunk is made in .tmp, written, read back, and renamed into its
 * directory: only .tmp may be written to or removed from.
 */
static const struct proc_fsrule storage_fsrules[] = {
	{ "/", SB_FS_READ | LANDLOCK_ACCESS_FS_MAKE_REG |
	    LANDLOCK_ACCESS_FS_REFER },
	{ "/.tmp", LANDLOCK_ACCESS_FS_WRITE_FILE |
	    LANDLOCK_ACCESS_FS_REMOVE_FILE | LANDLOCK_ACCESS_FS_TRUNCATE },
};

static const struct proc_sandbox storage_sandbox = {
	.syscalls = storage_syscalls,
	.nsyscalls = sizeof(storage_syscalls) / sizeof(storage_syscalls[0]),
	.fsrules = storage_fsrules,
	.nfsrules = sizeof(storage_fsrules) / sizeof(storage_fsrules[0]),
	/* a request's memfd waiting per connection */
	.nofile = 64 + 2 * MAX_WORKERS,
	.nofile_conn = 1,
	/* a chunk, with room for direct I/O past its end */
	.fsize = CHUNK_MAX + 64 * 1024,
};

const struct proc_def storage_proc = {
	.role = PROC_STORAGE,
	.name = "storage",
	.msgs = storage_msgs,
	.nmsgs = sizeof(storage_msgs) / sizeof(storage_msgs[0]),
	.start = storage_start,
	.sandbox = &storage_sandbox,
};

static void	 st_conf_apply(struct child_env *, struct dsrvd_conf *);
static size_t	 st_stats(struct child_env *, struct ctl_counter *, size_t);
static void	 st_reply(struct imsgev *, uint32_t, struct st_res *);
static void	 st_serve(struct imsgev *, uint32_t, uint32_t,
		    const struct st_req *, int, int);
static void	 st_wait_dir(struct imsgev *, uint32_t, const struct st_req *,
		    int);
static void	 st_peer_gone(struct child_env *, struct imsgev *);
static const char *st_req_check(uint32_t, const struct st_req *, int);
static const char *st_room_check(uint64_t, uint64_t, int);
static void	 st_busy(void);
static void	 st_idle(int, short, void *);

static void
storage_start(struct child_env *env)
{
	memset(&st, 0, sizeof(st));
	st.env = env;
	st.instance = env->init.instance;
	st.direct = -1;
	st.nextfd = -1;
	TAILQ_INIT(&st.pending);
	TAILQ_INIT(&st.waitdir);
	env->conf_apply = st_conf_apply;
	env->stats = st_stats;
	env->peer_gone = st_peer_gone;
	st_grant_init(env);

	/* We are chrooted: / is the data directory. */
	if ((st.root = open("/", O_RDONLY | O_DIRECTORY | O_CLOEXEC)) == -1)
		fatal("open data directory");
	/* The parent made .tmp, ours; every other directory is root's. */
	if ((st.tmp = openat(st.root, ".tmp", O_RDONLY | O_DIRECTORY |
	    O_NOFOLLOW | O_CLOEXEC)) == -1)
		fatal("open .tmp");
	if (posix_memalign((void **)&st.buf, ST_ALIGN, ST_BUFSZ) != 0)
		fatalx("out of memory for the read-back buffer");
	if ((st.idle = evtimer_new(env->base, st_idle, NULL)) == NULL)
		fatalx("evtimer_new failed");

	st_cleanup_tmp(&st);
	if (st.instance == 0 && env->init.immutable)
		st_sweep(&st);
}

static void
st_conf_apply(struct child_env *env, struct dsrvd_conf *old)
{
	st.reserve = env->conf->reserve;
}

static size_t
st_stats(struct child_env *env, struct ctl_counter *cc, size_t max)
{
	uint64_t	 held, evicted;
	size_t		 n = 0;

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
		/* Every worker holds the same grants: count them once. */
		st_grant_counts(&held, &evicted);
		proc_counter(cc, &n, max, "sessions held", held);
		proc_counter(cc, &n, max, "sessions evicted", evicted);
		proc_counter(cc, &n, max, "scrub runs", st.scrub_runs);
		proc_counter(cc, &n, max, "scrub running",
		    st.scrub.running);
		proc_counter(cc, &n, max, "scrub chunks", st.scrub_chunks);
		proc_counter(cc, &n, max, "scrub bytes", st.scrub_bytes);
		proc_counter(cc, &n, max, "scrub corrupt", st.scrub_corrupt);
	}
	return n;
}

static void
st_reply(struct imsgev *iev, uint32_t connid, struct st_res *res)
{
	if (proc_compose(PROC_NETWORK, iev->id, IMSG_ST_RESULT, connid, -1, res,
	    sizeof(*res)) == -1)
		fatal("%s: compose", __func__);
}

static void
st_dispatch_request(struct imsgev *iev, struct imsg *imsg)
{
	struct st_req		 req;
	const struct grant	*g = NULL;
	int			 fd;
	char			 why[128];
	const char		*bad;

	if (st_req_get(imsg, &req) == -1)
		msg_bad(iev, imsg, __func__);
	fd = imsg_get_fd(imsg);
	/*
	 * Network checked all of it, and may ask only within a session
	 * crypto granted: a request that fails here is forged.
	 */
	if ((bad = st_req_check(imsg->hdr.type, &req, fd)) != NULL ||
	    (g = st_grant_check(iev->id, &req, &bad)) == NULL) {
		dsrv_vis(why, sizeof(why), bad);
		fatalx("%s sent %s with %s", iev->name,
		    imsg_name(imsg->hdr.type), why);
	}
	(void)strlcpy(st.keyname, st_grant_keyname(g), sizeof(st.keyname));
	st_serve(iev, imsg->hdr.type, imsg->hdr.peerid, &req, fd, 0);
}

/*
 * Do what a checked request asks and answer it (or leave the answer to
 * the seal or the directory it waits for).  again: the write's
 * directory was just made.  The fd is the request's, closed here.
 */
static void
st_serve(struct imsgev *iev, uint32_t type, uint32_t connid,
    const struct st_req *req, int fd, int again)
{
	struct st_res	 res;
	int		 r;

	memset(&res, 0, sizeof(res));
	res.reqid = req->reqid;
	res.method = req->method;

	switch (type) {
	case IMSG_ST_WRITE:
		if (fd == -1)
			fatalx("%s: write without a payload", __func__);
		if ((r = st_write(&st, iev, connid, req, fd, &res)) == 1) {
			(void)close(fd);
			st_busy();
			return;		/* answered once sealed */
		}
		if (r == 2 && !again) {
			st_wait_dir(iev, connid, req, fd);
			return;		/* tried again once made */
		}
		if (r == 2)
			st_fail(&res, WIRE_E_INTERNAL, "the chunk's directory "
			    "is missing after it was made");
		break;
	case IMSG_ST_READ:
		if (fd == -1)
			fatalx("%s: read without a buffer", __func__);
		st_read(&st, req, fd, &res);
		break;
	case IMSG_ST_LIST:
		if (fd == -1)
			fatalx("%s: list without a buffer", __func__);
		st_list(&st, req, fd, &res);
		break;
	case IMSG_ST_STAT:
	case IMSG_ST_DIGEST:
		st_stat(&st, req, &res);
		break;
	case IMSG_ST_STATFS:
		st_statfs(&st, req, &res);
		break;
	}
	if (fd != -1)
		(void)close(fd);
	st_reply(iev, connid, &res);
	if (type == IMSG_ST_WRITE) {
		imsgev_push(iev);
		st_tmp_ahead(&st);
	}
	st_busy();
}

/*
 * A write's directory is missing: keep the write, and ask the parent
 * to make the directory unless a write before it already did.
 */
static void
st_wait_dir(struct imsgev *iev, uint32_t connid, const struct st_req *req,
    int fd)
{
	struct waitdir	*w, *o;
	struct st_mkdir	 m;
	size_t		 dirlen;

	dirlen = strcspn(req->name, "/");
	if ((w = calloc(1, sizeof(*w))) == NULL)
		fatal("%s", __func__);
	w->net = iev;
	w->connid = connid;
	w->req = *req;
	(void)strlcpy(w->keyname, st.keyname, sizeof(w->keyname));
	w->fd = fd;
	TAILQ_FOREACH(o, &st.waitdir, entry)
		if (strcmp(o->req.ns, req->ns) == 0 &&
		    strncmp(o->req.name, req->name, dirlen + 1) == 0)
			break;
	TAILQ_INSERT_TAIL(&st.waitdir, w, entry);
	if (o != NULL)
		return;
	memset(&m, 0, sizeof(m));
	(void)strlcpy(m.ns, req->ns, sizeof(m.ns));
	memcpy(m.dir, req->name, dirlen);
	if (proc_compose(PROC_PARENT, -1, IMSG_ST_MKDIR, 0, -1, &m,
	    sizeof(m)) == -1)
		fatal("%s: compose", __func__);
}

/* The parent made a directory, or could not: the writes waiting go on. */
static void
st_dispatch_mkdir_done(struct imsgev *iev, struct imsg *imsg)
{
	struct st_mkdir	 m;
	struct st_res	 res;
	struct waitdir	*w, *next;
	size_t		 dirlen, n = 0;

	if (st_mkdir_get(imsg, &m) == -1)
		msg_bad(iev, imsg, __func__);
	dirlen = strlen(m.dir);
	TAILQ_FOREACH_SAFE(w, &st.waitdir, entry, next) {
		if (strcmp(w->req.ns, m.ns) != 0 ||
		    strncmp(w->req.name, m.dir, dirlen) != 0 ||
		    w->req.name[dirlen] != '/')
			continue;
		TAILQ_REMOVE(&st.waitdir, w, entry);
		n++;
		if (w->net == NULL)
			(void)close(w->fd);
		else if (m.error == 0) {
			(void)strlcpy(st.keyname, w->keyname,
			    sizeof(st.keyname));
			st_serve(w->net, IMSG_ST_WRITE, w->connid, &w->req,
			    w->fd, 1);
		}
		else {
			(void)close(w->fd);
			memset(&res, 0, sizeof(res));
			res.reqid = w->req.reqid;
			res.method = w->req.method;
			st.write_errors++;
			st_fail(&res, m.error, "chunk directory: %s", m.msg);
			st_reply(w->net, w->connid, &res);
			imsgev_push(w->net);
		}
		free(w);
	}
	if (n == 0)
		fatalx("%s: directory %s was never asked for", __func__,
		    m.dir);
}

/*
 * A network worker went away (the daemon is stopping): a seal still on
 * its way has nobody to answer, and its sessions are over.
 */
static void
st_peer_gone(struct child_env *env, struct imsgev *iev)
{
	struct pending	*p;

	struct waitdir	*w;

	if (iev->kind != PROC_NETWORK)
		return;
	st_grant_net_gone(iev->id);
	TAILQ_FOREACH(p, &st.pending, entry)
		if (p->net == iev)
			p->net = NULL;
	TAILQ_FOREACH(w, &st.waitdir, entry)
		if (w->net == iev)
			w->net = NULL;
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
 * Every field of a request, as if an attacker wrote it: the method
 * that goes with the message type, a namespace and a name storage
 * itself would accept, and a payload or buffer that lies inside the
 * memfd that came with it, without wrapping around.  The reason, or
 * NULL for a request storage can serve.
 */
static const char *
st_req_check(uint32_t type, const struct st_req *req, int fd)
{
	static char	 why[96];
	const char	*errstr;
	size_t		 dirlen;
	int32_t		 method;

	switch (type) {
	case IMSG_ST_WRITE:
		method = WIRE_M_WRITE;
		break;
	case IMSG_ST_READ:
		method = WIRE_M_READ;
		break;
	case IMSG_ST_LIST:
		method = WIRE_M_LIST;
		break;
	case IMSG_ST_STAT:
		method = WIRE_M_STAT;
		break;
	case IMSG_ST_DIGEST:
		method = WIRE_M_DIGEST;
		break;
	default:
		method = WIRE_M_STATFS;
		break;
	}
	if (req->method != method) {
		(void)snprintf(why, sizeof(why), "method %d", req->method);
		return why;
	}
	if (req->ns[0] != '\0' && chunk_dir_check(req->ns, strlen(req->ns),
	    &errstr) == -1) {
		(void)snprintf(why, sizeof(why), "namespace \"%s\"", req->ns);
		return why;
	}
	if ((method == WIRE_M_LIST && chunk_dir_check(req->name,
	    strlen(req->name), &errstr) == -1) ||
	    ((method == WIRE_M_WRITE || method == WIRE_M_READ ||
	    method == WIRE_M_STAT || method == WIRE_M_DIGEST) &&
	    chunk_name_check(req->name, strlen(req->name), &dirlen,
	    &errstr) == -1) ||
	    (method == WIRE_M_STATFS && req->name[0] != '\0')) {
		(void)snprintf(why, sizeof(why), "name \"%s\"", req->name);
		return why;
	}
	if (req->ranged > 1 || (method != WIRE_M_READ &&
	    (req->ranged != 0 || req->roff != 0 || req->rlen != 0)))
		return "a range outside a READ";
	if ((method != WIRE_M_LIST && req->after[0] != '\0') ||
	    (req->after[0] != '\0' && chunk_base_check(req->after,
	    strlen(req->after), &errstr) == -1)) {
		(void)snprintf(why, sizeof(why), "start name \"%s\"",
		    req->after);
		return why;
	}
	switch (method) {
	case WIRE_M_WRITE:
		if (req->len > CHUNK_MAX)
			return "a chunk over 8 MiB";
		return st_room_check(req->off, req->len, fd);
	case WIRE_M_READ:
	case WIRE_M_LIST:
		if (req->maxlen == 0)
			return "no room to read into";
		return st_room_check(req->off, req->maxlen, fd);
	}
	return NULL;
}

/*
 * off and len within the memfd fd, without wrapping around.  The jobs
 * rely on this and do not check the range again.
 */
static const char *
st_room_check(uint64_t off, uint64_t len, int fd)
{
	struct stat	 sb;

	if (fstat(fd, &sb) == -1)
		return "a buffer that cannot be measured";
	if (!S_ISREG(sb.st_mode))
		return "a buffer that is not a memory file";
	if ((uint64_t)sb.st_size < len || off > (uint64_t)sb.st_size - len)
		return "a buffer range outside its memfd";
	return NULL;
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
	st_tmp_ahead(&st);
}

static void
st_dispatch_readonly(struct imsgev *iev, struct imsg *imsg)
{
	if (msg_string_get(imsg, st.rowhy, sizeof(st.rowhy)) == -1)
		msg_bad(iev, imsg, __func__);
	st.readonly = 1;
}

/*
 * Scrub: storage 0 re-reads every chunk from the device on a timer
 * (st_scrub_step), one chunk per step; dctl hears it has started.
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
		st.scrub.ndirs = st_scrub_open(&st);
		if (st.scrub.ev == NULL && (st.scrub.ev = evtimer_new(
		    st.env->base, st_scrub_step, &st)) == NULL)
			fatalx("evtimer_new failed");
		st.scrub.running = 1;
		if (evtimer_add(st.scrub.ev, &tv) == -1)
			fatalx("evtimer_add failed");
		log_info("scrub started: %zu directories, %" PRIu64
		    " bytes per second", st.scrub.ndirs, st.scrub.rate);
		(void)snprintf(r.msg, sizeof(r.msg), "scrub started");
	}
	if (proc_compose(PROC_PARENT, -1, IMSG_ST_SCRUB_RESULT,
	    imsg->hdr.peerid, -1, &r, sizeof(r)) == -1)
		fatal("%s: compose", __func__);
}
