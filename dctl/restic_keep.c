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
 * --keep DIR: local copies of the small objects restic reads before it
 * adds to a repository (config, keys, index, snapshots; never data
 * packs, never locks), so that a host whose key may not read from
 * dsrvd can still back up.  Every such object the gateway stores or
 * reads is copied to DIR/HEX, HEX the SHA-256 of its dsrvd name (so no
 * name can escape DIR), written to a temporary file in DIR, synced and
 * renamed.  dsrvd stays the authority: a GET reads from dsrvd first,
 * and only when dsrvd refuses the read (PERM) is the copy sent, after
 * its length and SHA-256 are found to be those of dsrvd's metadata
 * (and, but for config, of its name).  A copy that is not is removed.
 * The mutex orders a rename against the removal of a bad copy, so that
 * a removal never takes a good copy renamed in meanwhile.  DIR is one
 * gateway's: the temporary files found at start are removed.
 */
#include <sys/types.h>
#include <sys/stat.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/buffer.h>

#include "dctl.h"
#include "dsrvfile.h"
#include "log.h"
#include "serve.h"
#include "sha256.h"
#include "wire.h"

#define KEEP_TMP	".tmp"

struct gw_keep {
	char		*dir;
	int		 dfd;
	pthread_mutex_t	 mtx;
};

static void	 copy_name(const char *, char[GW_ID_LEN + 1]);
static void	 sweep(struct gw_keep *);
static int	 write_all(int, struct evbuffer *);
static int	 copy_load(struct gw_keep *, int, const struct dsrv_file_meta *,
		    struct evbuffer *, char *, size_t);
static int	 copy_get(struct gw_keep *, const struct dsrv_file_meta *,
		    struct evbuffer *);
static int	 copy_save(struct gw_keep *, const char *, struct evbuffer *,
		    char *, size_t);
static int	 read_whole(struct gw *, const struct dsrv_file_meta *,
		    struct evbuffer *, char *, size_t);

/* The file of a dsrvd name in DIR: the hex SHA-256 of the name. */
static void
copy_name(const char *name, char hex[GW_ID_LEN + 1])
{
	uint8_t	 sha[DSRV_SHA256_BYTES];

	dsrv_sha256(sha, name, strlen(name));
	(void)sodium_bin2hex(hex, GW_ID_LEN + 1, sha, sizeof(sha));
}

/* Temporary files a gateway left when it was stopped mid-write. */
static void
sweep(struct gw_keep *k)
{
	DIR		*d;
	struct dirent	*de;
	size_t		 len;
	int		 fd;

	if ((fd = fcntl(k->dfd, F_DUPFD_CLOEXEC, 0)) == -1)
		return;
	if ((d = fdopendir(fd)) == NULL) {
		(void)close(fd);
		return;
	}
	while ((de = readdir(d)) != NULL) {
		len = strlen(de->d_name);
		if (len <= strlen(KEEP_TMP) || strcmp(de->d_name + len -
		    strlen(KEEP_TMP), KEEP_TMP) != 0)
			continue;
		if (unlinkat(k->dfd, de->d_name, 0) == -1)
			log_warn("keep: %s/%s", k->dir, de->d_name);
	}
	(void)closedir(d);
}

struct gw_keep *
keep_open(const char *dir, char *err, size_t errlen)
{
	struct gw_keep	*k;
	struct stat	 st;
	int		 e;

	if (mkdir(dir, 0700) == -1 && errno != EEXIST) {
		(void)snprintf(err, errlen, "--keep %s: %s", dir,
		    strerror(errno));
		return (NULL);
	}
	if ((k = calloc(1, sizeof(*k))) == NULL ||
	    (k->dir = strdup(dir)) == NULL) {
		free(k);
		(void)snprintf(err, errlen, "out of memory");
		return (NULL);
	}
	if ((k->dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) == -1 ||
	    fstat(k->dfd, &st) == -1) {
		(void)snprintf(err, errlen, "--keep %s: %s", dir,
		    strerror(errno));
		goto fail;
	}
	/* Copies of keys and snapshots are for this user only. */
	if (st.st_uid != geteuid() || (st.st_mode & 077) != 0) {
		(void)snprintf(err, errlen, "--keep %s: must be ours and "
		    "mode 700, is owned by uid %u and mode %o", dir,
		    (unsigned)st.st_uid, (unsigned)(st.st_mode & 07777));
		goto fail;
	}
	if ((e = pthread_mutex_init(&k->mtx, NULL)) != 0) {
		(void)snprintf(err, errlen, "pthread_mutex_init: %s",
		    strerror(e));
		goto fail;
	}
	sweep(k);
	return (k);

 fail:
	if (k->dfd != -1)
		(void)close(k->dfd);
	free(k->dir);
	free(k);
	return (NULL);
}

void
keep_close(struct gw_keep *k)
{
	if (k == NULL)
		return;
	(void)close(k->dfd);
	(void)pthread_mutex_destroy(&k->mtx);
	free(k->dir);
	free(k);
}

int
keep_wanted(const struct gw *gw, const char *type, uint64_t length)
{
	if (gw->keep == NULL || length > GW_KEEP_MAX)
		return (0);
	return (type == NULL || strcmp(type, "keys") == 0 ||
	    strcmp(type, "index") == 0 || strcmp(type, "snapshots") == 0);
}

/* All of b to fd, b left as it was. */
static int
write_all(int fd, struct evbuffer *b)
{
	struct evbuffer_ptr	 pos;
	struct evbuffer_iovec	 v;
	const char		*p;
	ssize_t			 n;
	size_t			 left;

	if (evbuffer_ptr_set(b, &pos, 0, EVBUFFER_PTR_SET) == -1)
		return (-1);
	while (evbuffer_peek(b, -1, &pos, &v, 1) > 0) {
		for (p = v.iov_base, left = v.iov_len; left > 0; ) {
			if ((n = write(fd, p, left)) == -1) {
				if (errno == EINTR)
					continue;
				return (-1);
			}
			p += n;
			left -= (size_t)n;
		}
		if (evbuffer_ptr_set(b, &pos, v.iov_len, EVBUFFER_PTR_ADD) ==
		    -1)
			break;
	}
	return (0);
}

/* body as the copy of name: a new file, synced, renamed into place. */
static int
copy_save(struct gw_keep *k, const char *name, struct evbuffer *body,
    char *err, size_t errlen)
{
	uint8_t	 rnd[8];
	char	 hex[GW_ID_LEN + 1], rhex[sizeof(rnd) * 2 + 1];
	char	 tmp[GW_ID_LEN + sizeof(rhex) + sizeof(KEEP_TMP) + 1];
	int	 fd, r, e;

	copy_name(name, hex);
	randombytes_buf(rnd, sizeof(rnd));
	(void)sodium_bin2hex(rhex, sizeof(rhex), rnd, sizeof(rnd));
	(void)snprintf(tmp, sizeof(tmp), "%s.%s%s", hex, rhex, KEEP_TMP);
	if ((fd = openat(k->dfd, tmp, O_WRONLY | O_CREAT | O_EXCL |
	    O_NOFOLLOW | O_CLOEXEC, 0600)) == -1) {
		(void)snprintf(err, errlen, "keep: %s/%s: %s", k->dir, tmp,
		    strerror(errno));
		return (-1);
	}
	if (write_all(fd, body) == -1 || fsync(fd) == -1) {
		e = errno;
		(void)close(fd);
		goto fail;
	}
	if (close(fd) == -1) {
		e = errno;
		goto fail;
	}
	if (pthread_mutex_lock(&k->mtx) != 0)
		fatalx("keep: pthread_mutex_lock");
	r = renameat(k->dfd, tmp, k->dfd, hex);
	e = errno;
	(void)pthread_mutex_unlock(&k->mtx);
	if (r == -1)
		goto fail;
	/* The rename itself must survive a crash too. */
	if (fsync(k->dfd) == -1) {
		(void)snprintf(err, errlen, "keep: fsync %s: %s", k->dir,
		    strerror(errno));
		return (-1);
	}
	log_debug("keep: %s as %s/%s", name, k->dir, hex);
	return (0);

 fail:
	(void)unlinkat(k->dfd, tmp, 0);
	(void)snprintf(err, errlen, "keep: %s/%s: %s", k->dir, tmp,
	    strerror(e));
	return (-1);
}

/*
 * The copy open on fd into out, when it is what m says: its length, its
 * SHA-256 and, unless it is config, its name.  1, or 0 with the reason
 * in err.
 */
static int
copy_load(struct gw_keep *k, int fd, const struct dsrv_file_meta *m,
    struct evbuffer *out, char *err, size_t errlen)
{
	struct stat		 sb;
	uint8_t			 sha[DSRV_SHA256_BYTES];
	uint32_t		 crc;
	char			 hex[GW_ID_LEN + 1];
	const char		*base;
	int			 n;

	if (fstat(fd, &sb) == -1 || !S_ISREG(sb.st_mode)) {
		(void)snprintf(err, errlen, "not a regular file");
		return (0);
	}
	if ((uint64_t)sb.st_size != m->length) {
		(void)snprintf(err, errlen, "%lld bytes, dsrvd has %llu",
		    (long long)sb.st_size, (unsigned long long)m->length);
		return (0);
	}
	while ((n = evbuffer_read(out, fd, 65536)) > 0)
		;
	if (n == -1 || evbuffer_get_length(out) != m->length) {
		(void)snprintf(err, errlen, "cannot be read whole");
		return (0);
	}
	body_sums(out, sha, &crc);
	(void)sodium_bin2hex(hex, sizeof(hex), sha, sizeof(sha));
	base = strrchr(m->name, '/');
	base = base != NULL ? base + 1 : m->name;
	if (!m->has_sha256 || memcmp(sha, m->sha256, sizeof(sha)) != 0 ||
	    (strcmp(base, "config") != 0 && strcmp(hex, base) != 0)) {
		(void)snprintf(err, errlen, "its SHA-256 is %s, not dsrvd's",
		    hex);
		return (0);
	}
	return (1);
}

/*
 * The copy of m into out (emptied first): 1, or 0 when there is none
 * or it does not match m, and then it is removed with a log line.
 */
static int
copy_get(struct gw_keep *k, const struct dsrv_file_meta *m,
    struct evbuffer *out)
{
	struct stat	 a, b;
	char		 hex[GW_ID_LEN + 1], why[256];
	int		 fd, r;

	(void)evbuffer_drain(out, evbuffer_get_length(out));
	copy_name(m->name, hex);
	if ((fd = openat(k->dfd, hex, O_RDONLY | O_NOFOLLOW | O_CLOEXEC)) ==
	    -1) {
		if (errno != ENOENT)
			log_warn("keep: %s/%s", k->dir, hex);
		return (0);
	}
	if ((r = copy_load(k, fd, m, out, why, sizeof(why))) == 1) {
		(void)close(fd);
		return (1);
	}
	(void)evbuffer_drain(out, evbuffer_get_length(out));
	log_warnx("keep: the copy of %s, %s/%s, does not match dsrvd's "
	    "metadata (%s): removed", m->name, k->dir, hex, why);
	/* Only the file found bad, not a good one renamed since. */
	if (pthread_mutex_lock(&k->mtx) != 0)
		fatalx("keep: pthread_mutex_lock");
	if (fstat(fd, &a) == 0 && fstatat(k->dfd, hex, &b,
	    AT_SYMLINK_NOFOLLOW) == 0 && a.st_dev == b.st_dev &&
	    a.st_ino == b.st_ino && unlinkat(k->dfd, hex, 0) == -1)
		log_warn("keep: %s/%s", k->dir, hex);
	(void)pthread_mutex_unlock(&k->mtx);
	(void)close(fd);
	return (0);
}

int
keep_store(struct gw *gw, const char *type, const char *name,
    struct evbuffer *body, char *err, size_t errlen)
{
	if (!keep_wanted(gw, type, evbuffer_get_length(body)))
		return (0);
	if (copy_save(gw->keep, name, body, err, errlen) == -1)
		return (-1);
	GW_COUNT(gw, kept, 1);
	return (0);
}

/* All of m from dsrvd into out, a window at a time, and its SHA-256. */
static int
read_whole(struct gw *gw, const struct dsrv_file_meta *m,
    struct evbuffer *out, char *err, size_t errlen)
{
	uint8_t			 sha[DSRV_SHA256_BYTES];
	uint64_t		 off, len;
	uint32_t		 crc;
	int			 rc;

	for (off = 0; off < m->length; off += len) {
		len = m->length - off < GW_WINDOW ? m->length - off :
		    GW_WINDOW;
		if ((rc = store_read_range(gw, m, off, len, out, err,
		    errlen)) != WIRE_E_OK)
			return (rc);
	}
	if (!m->has_sha256)
		return (WIRE_E_OK);
	body_sums(out, sha, &crc);
	if (memcmp(sha, m->sha256, sizeof(sha)) != 0) {
		(void)snprintf(err, errlen, "%s: not the SHA-256 of its "
		    "metadata", m->name);
		return (WIRE_E_CORRUPT);
	}
	return (WIRE_E_OK);
}

int
keep_read(struct gw *gw, const struct dsrv_file_meta *m,
    struct evbuffer *out, char *err, size_t errlen)
{
	struct evbuffer	*old;
	char		 kerr[DSRV_CLIENT_ERRLEN];
	int		 rc;

	if ((rc = read_whole(gw, m, out, err, errlen)) == WIRE_E_OK) {
		/* Kept anew unless a good copy is there already. */
		if ((old = evbuffer_new()) == NULL ||
		    copy_get(gw->keep, m, old) != 1) {
			if (copy_save(gw->keep, m->name, out, kerr,
			    sizeof(kerr)) == -1)
				log_warnx("%s", kerr);
			else
				GW_COUNT(gw, kept, 1);
		}
		if (old != NULL)
			evbuffer_free(old);
		return (WIRE_E_OK);
	}
	if (rc != WIRE_E_PERM)
		return (rc);
	if (copy_get(gw->keep, m, out) == 1) {
		GW_COUNT(gw, from_copies, 1);
		log_debug("GET %s: dsrvd refuses to read it, answered from "
		    "the copy in %s", m->name, gw->keep->dir);
		return (WIRE_E_OK);
	}
	(void)snprintf(err, errlen, "%s: the key may not read it, and no "
	    "good copy is kept in %s", m->name, gw->keep->dir);
	return (WIRE_E_PERM);
}
