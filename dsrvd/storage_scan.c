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
 * Walking the store.  One iterator goes over the entries of a single
 * directory, or of every chunk directory below a base (the root's DIRs,
 * and with SCAN_NS each .ns/NS/DIR after them), one entry per call, so
 * a walk can be left for a while and taken up again.  LIST and the
 * chunk count (storage_read.c) use it, and so do the walks here that no
 * request asks for: the .tmp cleanup and the sealing sweep at start,
 * and the paced scrub, one chunk per timer step.  Below it is only
 * storage_chunk.c.
 */
#include <sys/types.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <linux/fs.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>

#include "log.h"
#include "storage.h"

static DIR	*st_scan_opendir(int, const char *);
static struct dirent *st_scan_read(struct st_scan *, DIR *);
static int	 st_is_chunk(int, struct dirent *);
static void	 st_scrub_one(struct storage *, int, const char *,
		    const char *, uint64_t *);
static void	 st_scrub_end(struct storage *);

/* A directory below dir, never through a symbolic link; NULL if none. */
static DIR *
st_scan_opendir(int dir, const char *name)
{
	DIR	*dp;
	int	 fd;

	if ((fd = openat(dir, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW |
	    O_CLOEXEC)) == -1)
		return NULL;
	if ((dp = fdopendir(fd)) == NULL)
		(void)close(fd);
	return dp;
}

/*
 * Start a walk at the directory dir (which stays the caller's: it is
 * opened again, as a dup would share and move its offset).  Returns 0,
 * or -1 with errno when dir cannot be read.
 */
int
st_scan_open(struct st_scan *sc, int dir, int flags)
{
	int	 fd;
	DIR	*dp;

	memset(sc, 0, sizeof(*sc));
	sc->flags = flags;
	if ((fd = openat(dir, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC)) == -1)
		return -1;
	if ((dp = fdopendir(fd)) == NULL) {
		(void)close(fd);
		return -1;
	}
	if (flags & SCAN_NEST)
		sc->base = dp;
	else
		sc->dir = dp;
	/* The namespaces come after the root's own directories. */
	if (flags & SCAN_NS)
		sc->ns = st_scan_opendir(dir, ".ns");
	return 0;
}

/* readdir, keeping the first error for the caller to see at the end. */
static struct dirent *
st_scan_read(struct st_scan *sc, DIR *dp)
{
	struct dirent	*de;

	errno = 0;
	if ((de = readdir(dp)) == NULL && errno != 0 && sc->err == 0)
		sc->err = errno;
	return de;
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
 * The next entry, NULL at the end.  sc->dir is the directory it is in
 * (sc->base for SCAN_DIRS) and sc->path that directory's path from the
 * start.  A directory that cannot be opened or read is passed over.
 */
struct dirent *
st_scan_next(struct st_scan *sc)
{
	struct dirent	*de;

	for (;;) {
		if (sc->dir != NULL) {
			if ((de = st_scan_read(sc, sc->dir)) != NULL) {
				if ((sc->flags & SCAN_CHUNKS) ?
				    st_is_chunk(dirfd(sc->dir), de) :
				    strcmp(de->d_name, ".") != 0 &&
				    strcmp(de->d_name, "..") != 0)
					return de;
				continue;
			}
			(void)closedir(sc->dir);
			sc->dir = NULL;
		}
		if (sc->base != NULL) {
			if ((de = st_scan_read(sc, sc->base)) != NULL) {
				if (de->d_name[0] == '.' ||
				    (de->d_type != DT_DIR &&
				    de->d_type != DT_UNKNOWN))
					continue;
				(void)strlcpy(sc->path + sc->plen, de->d_name,
				    sizeof(sc->path) - sc->plen);
				if (sc->flags & SCAN_DIRS)
					return de;
				sc->dir = st_scan_opendir(dirfd(sc->base),
				    de->d_name);
				continue;
			}
			(void)closedir(sc->base);
			sc->base = NULL;
		}
		if (sc->ns != NULL) {
			if ((de = st_scan_read(sc, sc->ns)) != NULL) {
				if (de->d_name[0] == '.')
					continue;
				(void)snprintf(sc->path, sizeof(sc->path),
				    ".ns/%s/", de->d_name);
				sc->plen = strlen(sc->path);
				sc->base = st_scan_opendir(dirfd(sc->ns),
				    de->d_name);
				continue;
			}
			(void)closedir(sc->ns);
			sc->ns = NULL;
		}
		return NULL;
	}
}

/* End a walk early (one that ran to its end has nothing left open). */
void
st_scan_close(struct st_scan *sc)
{
	if (sc->dir != NULL)
		(void)closedir(sc->dir);
	if (sc->base != NULL)
		(void)closedir(sc->base);
	if (sc->ns != NULL)
		(void)closedir(sc->ns);
	sc->dir = sc->base = sc->ns = NULL;
}

/*
 * Temporaries are named INSTANCE.SEQ.  Each worker removes those of its
 * own class (instance modulo the number of workers), so that no worker
 * removes a file another is writing; worker 0 also removes anything
 * else found there.
 */
void
st_cleanup_tmp(struct storage *st)
{
	struct st_scan	 sc;
	struct dirent	*de;
	const char	*errstr;
	char		 num[16];
	size_t		 len;
	long long	 inst;
	int		 mine, n = 0;

	if (st_scan_open(&sc, st->tmp, 0) == -1)
		fatal("open .tmp");
	while ((de = st_scan_next(&sc)) != NULL) {
		len = strcspn(de->d_name, ".");
		mine = st->instance == 0;
		if (len > 0 && len < sizeof(num) &&
		    de->d_name[len] == '.') {
			memcpy(num, de->d_name, len);
			num[len] = '\0';
			inst = strtonum(num, 0, 1000000, &errstr);
			if (errstr == NULL)
				mine = inst % st->env->init.nstorage ==
				    st->instance;
		}
		if (!mine)
			continue;
		if (unlinkat(dirfd(sc.dir), de->d_name, 0) == -1) {
			log_warn("cannot remove .tmp/%s", de->d_name);
			continue;
		}
		n++;
	}
	if (n > 0) {
		if (fsync(st->tmp) == -1)
			log_warn("fsync .tmp");
		log_warnx("removed %d temporary files left by a crash", n);
	}
}

/*
 * A crash between a chunk's commit and its seal leaves it without the
 * immutable flag: find those and have the parent seal them.
 */
void
st_sweep(struct storage *st)
{
	struct st_seal	 seal;
	struct st_scan	 sc;
	struct stat	 sb;
	struct dirent	*de;
	int		 fd, flags, n = 0;

	if (st_scan_open(&sc, st->root, SCAN_NEST | SCAN_NS |
	    SCAN_CHUNKS) == -1)
		return;
	while ((de = st_scan_next(&sc)) != NULL) {
		if ((fd = openat(dirfd(sc.dir), de->d_name, O_RDONLY |
		    O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC)) == -1)
			continue;
		if (ioctl(fd, FS_IOC_GETFLAGS, &flags) == -1 ||
		    (flags & FS_IMMUTABLE_FL) || fstat(fd, &sb) == -1) {
			(void)close(fd);
			continue;
		}
		memset(&seal, 0, sizeof(seal));
		seal.size = sb.st_size;
		(void)strlcpy(seal.name, sc.path, sizeof(seal.name));
		(void)strlcat(seal.name, "/", sizeof(seal.name));
		(void)strlcat(seal.name, de->d_name, sizeof(seal.name));
		if (proc_compose(PROC_PARENT, -1, IMSG_ST_SEAL, 0, fd,
		    &seal, sizeof(seal)) == -1)
			fatal("%s: compose", __func__);
		n++;
	}
	if (n > 0)
		log_warnx("sealed %d chunks left unsealed by a crash", n);
}

/*
 * Scrub: re-read every chunk from the device and compare with its
 * stored crc32, one chunk per step (st_scrub_step, on the timer the
 * dispatcher arms), pacing the steps to the rate.  This starts the
 * walk and returns how many chunk directories there are to do.
 */
size_t
st_scrub_open(struct storage *st)
{
	struct st_scan	 sc;
	size_t		 n = 0;

	if (st_scan_open(&sc, st->root, SCAN_NEST | SCAN_NS | SCAN_DIRS) ==
	    0)
		while (st_scan_next(&sc) != NULL)
			n++;
	if (st_scan_open(&st->scrub.scan, st->root, SCAN_NEST | SCAN_NS |
	    SCAN_CHUNKS) == -1)
		log_warn("scrub: open the data directory");
	return n;
}

static void
st_scrub_one(struct storage *st, int dfd, const char *dir, const char *name,
    uint64_t *bytes)
{
	ssize_t		 got;
	uint32_t	 crc, stored;
	int		 fd;

	if ((fd = openat(dfd, name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK |
	    O_CLOEXEC)) == -1)
		return;
	st->scrub.chunks++;
	st->scrub_chunks++;
	if (st_getcrc(fd, &stored) == -1) {
		log_warnx("corrupt chunk %s/%s: no stored crc32: %s", dir,
		    name, strerror(errno));
		st->scrub.corrupt++;
		st->scrub_corrupt++;
		(void)close(fd);
		return;
	}
	got = st_readback(st, fd);
	(void)close(fd);
	if (got == -1) {
		log_warn("scrub: read %s/%s", dir, name);
		st->scrub.corrupt++;
		st->scrub_corrupt++;
		return;
	}
	*bytes = got;
	st->scrub_bytes += got;
	crc = crc32(0, st->buf, got);
	if (got > CHUNK_MAX || crc != stored) {
		log_warnx("corrupt chunk %s/%s: crc32 %08x, stored %08x", dir,
		    name, crc, stored);
		st->scrub.corrupt++;
		st->scrub_corrupt++;
	}
}

/* One chunk, then the pause its bytes earn at the scrub's rate. */
void
st_scrub_step(int fd, short event, void *arg)
{
	struct storage	*st = arg;
	struct st_scan	*sc = &st->scrub.scan;
	struct dirent	*de;
	struct timeval	 tv;
	uint64_t	 bytes = 0, us;

	if ((de = st_scan_next(sc)) == NULL) {
		st_scrub_end(st);
		return;
	}
	st_scrub_one(st, dirfd(sc->dir), sc->path, de->d_name, &bytes);
	us = bytes * 1000000 / st->scrub.rate;
	tv.tv_sec = us / 1000000;
	tv.tv_usec = us % 1000000;
	if (evtimer_add(st->scrub.ev, &tv) == -1)
		fatalx("evtimer_add failed");
}

static void
st_scrub_end(struct storage *st)
{
	st->scrub.running = 0;
	st->scrub_runs++;
	st_scan_close(&st->scrub.scan);
	st->scrub.ndirs = 0;
	if (st->scrub.corrupt > 0)
		log_warnx("scrub finished: %" PRIu64 " chunks, %" PRIu64
		    " corrupt", st->scrub.chunks, st->scrub.corrupt);
	else
		log_info("scrub finished: %" PRIu64 " chunks, none corrupt",
		    st->scrub.chunks);
}
