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
 * restic's locks: advisory objects that restic writes, lists, reads and
 * deletes.  They never go to dsrvd, which could not delete them; they
 * live in this process and, with --locks, in a state file rewritten at
 * every change, so that a gateway started again still knows the
 * exclusive lock of a restic that is running.
 *
 * A lock not refreshed for the timeout is stale and dropped the next
 * time the locks are looked at.  restic's rule is 30 minutes; it
 * refreshes a lock every 5 by writing a new one and deleting the old,
 * so the time a lock arrived here is its age.  (restic's other rule, a
 * lock of its own host whose process is gone, needs the process table,
 * which only restic sees.)
 *
 * Several threads serve requests at once: every function takes the
 * set's mutex and hands out copies, never pointers into the set.  The
 * state file is written under the mutex too, so that the file always
 * follows the last change; locks are few and change rarely.
 *
 * The state file, version 1: the line "dctl-restic-locks 1", then a
 * line per lock with its name, the time it was written in seconds since
 * the epoch, the length of its body and the body in lowercase hex,
 * separated by single spaces.  Any other line makes loading fail with
 * the file and line named.
 */
#include <sys/types.h>
#include <sys/queue.h>
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <sodium.h>

#include "log.h"
#include "serve.h"
#include "util.h"

#define LOCKS_MAGIC	"dctl-restic-locks 1"
#define LOCKS_NAMEMAX	1024

struct lock {
	TAILQ_ENTRY(lock)	 entry;
	char			*name;	/* "PREFIX/repo/locks/ID" */
	uint8_t			*data;
	size_t			 len;
	time_t			 at;	/* written, seconds since the epoch */
};
TAILQ_HEAD(lockq, lock);

struct gw_locks {
	pthread_mutex_t		 mtx;
	struct lockq		 q;
	size_t			 n;
	char			*file;	/* NULL: in memory only */
	time_t			 timeout;
};

static struct lock *lock_new(const char *, const uint8_t *, size_t, time_t);
static void	 lock_free(struct lock *);
static struct lock *lookup(struct gw_locks *, const char *);
static void	 enter(struct gw_locks *);
static void	 leave(struct gw_locks *);
static size_t	 prune(struct gw_locks *);
static int	 valid_name(const char *);
static int	 sync_dir(const char *);
static int	 save(struct gw_locks *, char *, size_t);
static int	 parse_line(struct gw_locks *, char *, time_t, char *, size_t);
static int	 load(struct gw_locks *, char *, size_t);

static struct lock *
lock_new(const char *name, const uint8_t *data, size_t len, time_t at)
{
	struct lock	*k;

	if ((k = calloc(1, sizeof(*k))) == NULL)
		return (NULL);
	if ((k->name = strdup(name)) == NULL ||
	    (k->data = malloc(len > 0 ? len : 1)) == NULL) {
		free(k->name);
		free(k);
		return (NULL);
	}
	memcpy(k->data, data, len);
	k->len = len;
	k->at = at;
	return (k);
}

static void
lock_free(struct lock *k)
{
	if (k == NULL)
		return;
	free(k->name);
	free(k->data);
	free(k);
}

static struct lock *
lookup(struct gw_locks *l, const char *name)
{
	struct lock	*k;

	TAILQ_FOREACH(k, &l->q, entry)
		if (strcmp(k->name, name) == 0)
			return (k);
	return (NULL);
}

/*
 * Take the mutex and drop the stale locks, which every look at the
 * locks does first.  A file that cannot be written now is written at
 * the next change.
 */
static void
enter(struct gw_locks *l)
{
	char	 err[512];
	int	 e;

	if ((e = pthread_mutex_lock(&l->mtx)) != 0)
		fatalx("%s: pthread_mutex_lock: %s", __func__, strerror(e));
	if (prune(l) > 0 && l->file != NULL && save(l, err, sizeof(err)) ==
	    -1)
		log_warnx("locks: %s", err);
}

static void
leave(struct gw_locks *l)
{
	int	 e;

	if ((e = pthread_mutex_unlock(&l->mtx)) != 0)
		fatalx("%s: pthread_mutex_unlock: %s", __func__, strerror(e));
}

/* How many stale locks went. */
static size_t
prune(struct gw_locks *l)
{
	struct lock	*k, *tmp;
	time_t		 now = time(NULL), age;
	size_t		 n = 0;

	TAILQ_FOREACH_SAFE(k, &l->q, entry, tmp) {
		age = now > k->at ? now - k->at : 0;
		if (age <= l->timeout)
			continue;
		log_info("lock %s: stale, not refreshed for %lld seconds, "
		    "dropped", k->name, (long long)age);
		TAILQ_REMOVE(&l->q, k, entry);
		l->n--;
		lock_free(k);
		n++;
	}
	return (n);
}

/*
 * What restic.c's route makes of a lock's path, "[DIRS/]locks/ID" with
 * the SHA-256 of the body as ID; nothing else is taken from the file.
 */
static int
valid_name(const char *name)
{
	const char	*base;
	size_t		 len = strlen(name), i;

	if (len == 0 || len >= LOCKS_NAMEMAX || name[0] == '/' ||
	    strspn(name, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
	    "0123456789/._-") != len || strstr(name, "//") != NULL ||
	    strstr(name, "/./") != NULL || strstr(name, "/../") != NULL ||
	    strncmp(name, "./", 2) == 0 || strncmp(name, "../", 3) == 0)
		return (0);
	if (len < 6 + GW_ID_LEN)
		return (0);
	base = name + len - GW_ID_LEN - 6;
	if (strncmp(base, "locks/", 6) != 0 ||
	    (base != name && base[-1] != '/'))
		return (0);
	for (i = len - GW_ID_LEN; i < len; i++)
		if ((name[i] < '0' || name[i] > '9') &&
		    (name[i] < 'a' || name[i] > 'f'))
			return (0);
	return (1);
}

/* The rename is durable once the directory holding it is synced. */
static int
sync_dir(const char *path)
{
	char	*copy;
	int	 fd, saved;

	if ((copy = strdup(path)) == NULL)
		return (-1);
	fd = open(dirname(copy), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	free(copy);
	if (fd == -1)
		return (-1);
	if (fsync(fd) == -1) {
		saved = errno;
		(void)close(fd);
		errno = saved;
		return (-1);
	}
	return (close(fd));
}

/* The whole set, written beside the file, synced, renamed over it. */
static int
save(struct gw_locks *l, char *err, size_t errlen)
{
	struct evbuffer	*buf;
	struct lock	*k;
	char		 tmp[PATH_MAX], *hex = NULL;
	const char	*what = "out of memory";
	unsigned char	*p;
	size_t		 len;
	int		 fd = -1, saved = ENOMEM;

	if ((buf = evbuffer_new()) == NULL ||
	    (hex = malloc(2 * GW_LOCK_MAX + 1)) == NULL ||
	    evbuffer_add_printf(buf, "%s\n", LOCKS_MAGIC) == -1)
		goto fail;
	TAILQ_FOREACH(k, &l->q, entry) {
		(void)sodium_bin2hex(hex, 2 * GW_LOCK_MAX + 1, k->data, k->len);
		if (evbuffer_add_printf(buf, "%s %lld %zu %s\n", k->name,
		    (long long)k->at, k->len, hex) == -1)
			goto fail;
	}
	len = evbuffer_get_length(buf);
	if ((p = evbuffer_pullup(buf, -1)) == NULL)
		goto fail;
	what = "path too long";
	saved = ENAMETOOLONG;
	if ((size_t)snprintf(tmp, sizeof(tmp), "%s.XXXXXX", l->file) >=
	    sizeof(tmp))
		goto fail;
	what = "mkostemp";
	if ((fd = mkostemp(tmp, O_CLOEXEC)) == -1)
		goto fail_errno;
	what = "write";
	if (fchmod(fd, 0600) == -1 || dsrv_write_all(fd, p, len) == -1)
		goto fail_unlink;
	what = "fsync";
	if (fsync(fd) == -1)
		goto fail_unlink;
	what = "close";
	saved = close(fd);
	fd = -1;
	if (saved == -1)
		goto fail_unlink;
	what = "rename";
	if (rename(tmp, l->file) == -1)
		goto fail_unlink;
	what = "fsync of its directory";
	if (sync_dir(l->file) == -1)
		goto fail_errno;
	evbuffer_free(buf);
	free(hex);
	return (0);

 fail_unlink:
	saved = errno;
	if (fd != -1)
		(void)close(fd);
	(void)unlink(tmp);
	errno = saved;
 fail_errno:
	saved = errno;
 fail:
	(void)snprintf(err, errlen, "%s: %s: %s", l->file, what,
	    strerror(saved));
	if (buf != NULL)
		evbuffer_free(buf);
	free(hex);
	return (-1);
}

/* "NAME TIME LENGTH HEX" without its newline; a time to come is now. */
static int
parse_line(struct gw_locks *l, char *line, time_t now, char *err,
    size_t errlen)
{
	struct lock	*k;
	char		*f[4], *s = line, hexid[GW_ID_LEN + 1];
	uint8_t		*data = NULL, sha[crypto_hash_sha256_BYTES];
	const char	*errstr;
	long long	 at;
	size_t		 len, bin, i;

	for (i = 0; i < 4; i++)
		if ((f[i] = strsep(&s, " ")) == NULL || f[i][0] == '\0') {
			(void)snprintf(err, errlen, "not NAME TIME LENGTH HEX");
			return (-1);
		}
	if (s != NULL) {
		(void)snprintf(err, errlen, "more than 4 fields");
		return (-1);
	}
	if (!valid_name(f[0])) {
		(void)snprintf(err, errlen, "not the name of a lock");
		return (-1);
	}
	at = strtonum(f[1], 0, LLONG_MAX, &errstr);
	if (errstr != NULL) {
		(void)snprintf(err, errlen, "time %s", errstr);
		return (-1);
	}
	len = (size_t)strtonum(f[2], 0, GW_LOCK_MAX, &errstr);
	if (errstr != NULL) {
		(void)snprintf(err, errlen, "length %s (at most %d)", errstr,
		    GW_LOCK_MAX);
		return (-1);
	}
	if (strlen(f[3]) != 2 * len || strspn(f[3], "0123456789abcdef") !=
	    2 * len) {
		(void)snprintf(err, errlen, "not %zu bytes in hex", len);
		return (-1);
	}
	if ((data = malloc(len > 0 ? len : 1)) == NULL ||
	    sodium_hex2bin(data, len, f[3], 2 * len, NULL, &bin, NULL) != 0 ||
	    bin != len) {
		free(data);
		(void)snprintf(err, errlen, "cannot read the body");
		return (-1);
	}
	(void)crypto_hash_sha256(sha, data, len);
	(void)sodium_bin2hex(hexid, sizeof(hexid), sha, sizeof(sha));
	if (strcmp(hexid, f[0] + strlen(f[0]) - GW_ID_LEN) != 0) {
		free(data);
		(void)snprintf(err, errlen, "the body's SHA-256 is not its "
		    "name");
		return (-1);
	}
	if (lookup(l, f[0]) != NULL) {
		free(data);
		(void)snprintf(err, errlen, "the lock is there twice");
		return (-1);
	}
	k = lock_new(f[0], data, len, at > now ? now : (time_t)at);
	free(data);
	if (k == NULL) {
		(void)snprintf(err, errlen, "out of memory");
		return (-1);
	}
	TAILQ_INSERT_TAIL(&l->q, k, entry);
	l->n++;
	return (0);
}

/* No file yet is no lock; an empty one (touch) neither. */
static int
load(struct gw_locks *l, char *err, size_t errlen)
{
	struct stat	 st;
	FILE		*fp;
	char		*line = NULL, why[256];
	size_t		 cap = 0, lineno = 0;
	ssize_t		 len;
	time_t		 now = time(NULL);
	int		 fd, rc = -1;

	if ((fd = open(l->file, O_RDONLY | O_CLOEXEC | O_NOCTTY)) == -1) {
		if (errno == ENOENT)
			return (0);
		(void)snprintf(err, errlen, "%s: %s", l->file, strerror(errno));
		return (-1);
	}
	if (fstat(fd, &st) == -1) {
		(void)snprintf(err, errlen, "%s: %s", l->file, strerror(errno));
		(void)close(fd);
		return (-1);
	}
	if (!S_ISREG(st.st_mode)) {
		(void)snprintf(err, errlen, "%s: not a regular file", l->file);
		(void)close(fd);
		return (-1);
	}
	if ((fp = fdopen(fd, "r")) == NULL) {
		(void)snprintf(err, errlen, "%s: %s", l->file, strerror(errno));
		(void)close(fd);
		return (-1);
	}
	errno = 0;
	while ((len = getline(&line, &cap, fp)) != -1) {
		lineno++;
		if (len == 0 || line[len - 1] != '\n') {
			(void)snprintf(why, sizeof(why), "no newline at the "
			    "end");
			goto bad;
		}
		line[--len] = '\0';
		if (lineno == 1) {
			if (strcmp(line, LOCKS_MAGIC) == 0)
				continue;
			(void)snprintf(why, sizeof(why), "not \"%s\"",
			    LOCKS_MAGIC);
			goto bad;
		}
		if (parse_line(l, line, now, why, sizeof(why)) == -1)
			goto bad;
	}
	if (ferror(fp)) {
		(void)snprintf(err, errlen, "%s: %s", l->file, strerror(errno));
		goto done;
	}
	rc = 0;
	goto done;
 bad:
	(void)snprintf(err, errlen, "%s:%zu: %s", l->file, lineno, why);
 done:
	free(line);
	if (fclose(fp) == EOF && rc == 0) {
		(void)snprintf(err, errlen, "%s: %s", l->file, strerror(errno));
		rc = -1;
	}
	return (rc);
}

struct gw_locks *
locks_open(const char *file, time_t timeout, char *err, size_t errlen)
{
	struct gw_locks	*l;
	int		 e;

	if ((l = calloc(1, sizeof(*l))) == NULL) {
		(void)snprintf(err, errlen, "out of memory");
		return (NULL);
	}
	if ((e = pthread_mutex_init(&l->mtx, NULL)) != 0) {
		(void)snprintf(err, errlen, "pthread_mutex_init: %s",
		    strerror(e));
		free(l);
		return (NULL);
	}
	TAILQ_INIT(&l->q);
	l->timeout = timeout;
	if (file == NULL)
		return (l);
	if ((l->file = strdup(file)) == NULL) {
		(void)snprintf(err, errlen, "out of memory");
		locks_close(l);
		return (NULL);
	}
	/* Written at once: a file that cannot be is known at start. */
	if (load(l, err, errlen) == -1) {
		locks_close(l);
		return (NULL);
	}
	(void)prune(l);
	if (save(l, err, errlen) == -1) {
		locks_close(l);
		return (NULL);
	}
	log_info("locks: %zu from %s", l->n, l->file);
	return (l);
}

void
locks_close(struct gw_locks *l)
{
	struct lock	*k;

	if (l == NULL)
		return;
	while ((k = TAILQ_FIRST(&l->q)) != NULL) {
		TAILQ_REMOVE(&l->q, k, entry);
		lock_free(k);
	}
	(void)pthread_mutex_destroy(&l->mtx);
	free(l->file);
	free(l);
}

int
locks_add(struct gw_locks *l, const char *name, struct evbuffer *body,
    char *err, size_t errlen)
{
	struct lock	*k;
	uint8_t		*data;
	size_t		 len = evbuffer_get_length(body);
	int		 rc = 0;

	if (len > GW_LOCK_MAX) {
		(void)snprintf(err, errlen, "%zu bytes, more than %d", len,
		    GW_LOCK_MAX);
		return (-1);
	}
	if ((data = malloc(len > 0 ? len : 1)) == NULL ||
	    evbuffer_copyout(body, data, len) != (ev_ssize_t)len) {
		free(data);
		(void)snprintf(err, errlen, "out of memory");
		return (-1);
	}
	k = lock_new(name, data, len, time(NULL));
	free(data);
	if (k == NULL) {
		(void)snprintf(err, errlen, "out of memory");
		return (-1);
	}
	enter(l);
	/* The name is the body's SHA-256: a lock again is a retry. */
	if (lookup(l, name) != NULL) {
		lock_free(k);
		goto done;
	}
	if (l->n >= GW_LOCK_COUNT) {
		(void)snprintf(err, errlen, "%zu locks held already", l->n);
		lock_free(k);
		rc = -1;
		goto done;
	}
	TAILQ_INSERT_TAIL(&l->q, k, entry);
	l->n++;
	/* A lock the file would not keep is no lock. */
	if (l->file != NULL && save(l, err, errlen) == -1) {
		TAILQ_REMOVE(&l->q, k, entry);
		l->n--;
		lock_free(k);
		rc = -1;
	}
 done:
	leave(l);
	return (rc);
}

int
locks_del(struct gw_locks *l, const char *name)
{
	struct lock	*k;
	char		 err[512];

	enter(l);
	if ((k = lookup(l, name)) == NULL) {
		leave(l);
		return (0);
	}
	TAILQ_REMOVE(&l->q, k, entry);
	l->n--;
	lock_free(k);
	/* Gone all the same: the file loses it at the next write. */
	if (l->file != NULL && save(l, err, sizeof(err)) == -1)
		log_warnx("locks: %s", err);
	leave(l);
	return (1);
}

int
locks_get(struct gw_locks *l, const char *name, struct evbuffer *out,
    size_t *lenp)
{
	struct lock	*k;
	int		 rc = 1;

	enter(l);
	if ((k = lookup(l, name)) == NULL)
		rc = 0;
	else {
		*lenp = k->len;
		if (out != NULL && evbuffer_add(out, k->data, k->len) == -1)
			rc = -1;
	}
	leave(l);
	return (rc);
}

int
locks_list(struct gw_locks *l, const char *dir, int v2,
    struct evbuffer *out)
{
	struct lock	*k;
	const char	*base;
	size_t		 dlen = strlen(dir);
	int		 first = 1, bad = 0;

	enter(l);
	TAILQ_FOREACH(k, &l->q, entry) {
		if (strncmp(k->name, dir, dlen) != 0 ||
		    strchr(k->name + dlen, '/') != NULL)
			continue;
		/* A valid name: nothing in it to escape in JSON. */
		base = k->name + dlen;
		if (v2)
			bad |= evbuffer_add_printf(out, "%s{\"name\":\"%s\","
			    "\"size\":%zu}", first ? "" : ",", base,
			    k->len) < 0;
		else
			bad |= evbuffer_add_printf(out, "%s\"%s\"",
			    first ? "" : ",", base) < 0;
		first = 0;
	}
	leave(l);
	return (bad ? -1 : 0);
}
