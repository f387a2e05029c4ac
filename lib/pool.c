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
 * A pool of connections to one dsrvd, shared by threads.  Idle
 * connections wait on a stack; a thread that needs one takes it, or
 * makes a new one while fewer than maxconns exist, or waits.  Because
 * every request of the protocol is idempotent, a transient failure is
 * simply repeated on a fresh connection after a growing, jittered pause.
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sodium.h>

#include "chunkname.h"
#include "client.h"
#include "pool.h"
#include "wire.h"

struct dsrv_pool {
	pthread_mutex_t		 mtx;
	pthread_cond_t		 cv;
	struct dsrv_client	**idle;
	int			 nidle;
	int			 nconns;	/* idle, in use or connecting */
	int			 maxconns;
	int			 retries;
	int			 backoff_ms;
	uint64_t		 retried;
	int			 norange;	/* ranged READ refused */
	struct dsrv_client_opts	 conn;
	char			*host;
	char			*port;
	char			*keyname;
	char			 peer[512];
};

typedef int (*pool_fn)(struct dsrv_client *, void *, char *, size_t);

static struct dsrv_client *pool_get(struct dsrv_pool *, char *, size_t);
static void	 pool_put(struct dsrv_pool *, struct dsrv_client *, int);
static void	 pool_flush(struct dsrv_pool *);
static int	 pool_transient(int);
static void	 pool_sleep(struct dsrv_pool *, int);
static int	 pool_do(struct dsrv_pool *, pool_fn, void *, char *, size_t);

struct dsrv_pool *
dsrv_pool_new(const struct dsrv_pool_opts *opts, char *err, size_t errlen)
{
	struct dsrv_pool	*p;
	struct dsrv_client	*c;

	if (sodium_init() == -1) {
		(void)snprintf(err, errlen, "libsodium initialization failed");
		return (NULL);
	}
	if (opts->conn.host == NULL || opts->conn.keyname == NULL) {
		(void)snprintf(err, errlen, "no server host or key name");
		return (NULL);
	}
	if (opts->maxconns < 0 || opts->retries < -1 || opts->backoff_ms < 0) {
		(void)snprintf(err, errlen, "bad connection pool options");
		return (NULL);
	}
	if ((p = calloc(1, sizeof(*p))) == NULL)
		goto nomem;
	if (pthread_mutex_init(&p->mtx, NULL) != 0) {
		free(p);
		goto nomem;
	}
	if (pthread_cond_init(&p->cv, NULL) != 0) {
		(void)pthread_mutex_destroy(&p->mtx);
		free(p);
		goto nomem;
	}
	p->maxconns = opts->maxconns ? opts->maxconns : DSRV_POOL_MAXCONNS;
	p->retries = opts->retries == 0 ? DSRV_POOL_RETRIES :
	    opts->retries == -1 ? 0 : opts->retries;
	p->backoff_ms = opts->backoff_ms ? opts->backoff_ms :
	    DSRV_POOL_BACKOFF_MS;
	p->conn = opts->conn;
	p->host = strdup(opts->conn.host);
	p->keyname = strdup(opts->conn.keyname);
	p->port = strdup(opts->conn.port ? opts->conn.port : DSRV_CLIENT_PORT);
	p->idle = calloc(p->maxconns, sizeof(*p->idle));
	if (p->host == NULL || p->keyname == NULL || p->port == NULL ||
	    p->idle == NULL) {
		dsrv_pool_free(p);
		goto nomem;
	}
	p->conn.host = p->host;
	p->conn.port = p->port;
	p->conn.keyname = p->keyname;
	(void)snprintf(p->peer, sizeof(p->peer), "%s port %s", p->host,
	    p->port);

	/* One connection now: a wrong key or address fails here. */
	if ((c = dsrv_client_connect(&p->conn, err, errlen)) == NULL) {
		dsrv_pool_free(p);
		return (NULL);
	}
	p->idle[p->nidle++] = c;
	p->nconns = 1;
	return (p);
 nomem:
	(void)snprintf(err, errlen, "out of memory");
	return (NULL);
}

void
dsrv_pool_free(struct dsrv_pool *p)
{
	if (p == NULL)
		return;
	while (p->nidle > 0)
		dsrv_client_close(p->idle[--p->nidle]);
	(void)pthread_cond_destroy(&p->cv);
	(void)pthread_mutex_destroy(&p->mtx);
	explicit_bzero(p->conn.key, sizeof(p->conn.key));
	free(p->idle);
	free(p->host);
	free(p->port);
	free(p->keyname);
	free(p);
}

const char *
dsrv_pool_peer(const struct dsrv_pool *p)
{
	return (p->peer);
}

uint64_t
dsrv_pool_retried(const struct dsrv_pool *p)
{
	return (__atomic_load_n(&p->retried, __ATOMIC_RELAXED));
}

/* An idle connection, a new one, or NULL with err after a connect failure. */
static struct dsrv_client *
pool_get(struct dsrv_pool *p, char *err, size_t errlen)
{
	struct dsrv_client	*c;

	(void)pthread_mutex_lock(&p->mtx);
	while (p->nidle == 0 && p->nconns >= p->maxconns)
		(void)pthread_cond_wait(&p->cv, &p->mtx);
	if (p->nidle > 0) {
		c = p->idle[--p->nidle];
		(void)pthread_mutex_unlock(&p->mtx);
		return (c);
	}
	p->nconns++;
	(void)pthread_mutex_unlock(&p->mtx);

	/* Connect outside the lock: a handshake takes a round trip or more. */
	if ((c = dsrv_client_connect(&p->conn, err, errlen)) == NULL) {
		(void)pthread_mutex_lock(&p->mtx);
		p->nconns--;
		(void)pthread_cond_signal(&p->cv);
		(void)pthread_mutex_unlock(&p->mtx);
	}
	return (c);
}

/* Give c back; a connection that failed is closed instead. */
static void
pool_put(struct dsrv_pool *p, struct dsrv_client *c, int usable)
{
	if (!usable) {
		dsrv_client_close(c);
		(void)pthread_mutex_lock(&p->mtx);
		p->nconns--;
	} else {
		(void)pthread_mutex_lock(&p->mtx);
		p->idle[p->nidle++] = c;
	}
	(void)pthread_cond_signal(&p->cv);
	(void)pthread_mutex_unlock(&p->mtx);
}

/*
 * After a transport failure the idle connections are likely dead as
 * well (a restarted daemon, a broken path): close them, so that the
 * retries are spent on fresh connections and not on stale ones.
 */
static void
pool_flush(struct dsrv_pool *p)
{
	struct dsrv_client	*c;

	/* One at a time: closing (a socket and a free) is quick. */
	for (;;) {
		(void)pthread_mutex_lock(&p->mtx);
		if (p->nidle == 0) {
			(void)pthread_mutex_unlock(&p->mtx);
			break;
		}
		c = p->idle[--p->nidle];
		p->nconns--;
		(void)pthread_cond_broadcast(&p->cv);
		(void)pthread_mutex_unlock(&p->mtx);
		dsrv_client_close(c);
	}
}

static int
pool_transient(int rc)
{
	switch (rc) {
	case -1:
	case WIRE_E_BUSY:
	case WIRE_E_CRC:
	case WIRE_E_IO:
	case WIRE_E_UNAVAILABLE:
		return (1);
	default:
		return (0);
	}
}

/* backoff_ms doubled attempt times, capped, times a random 0.5 .. 1.5. */
static void
pool_sleep(struct dsrv_pool *p, int attempt)
{
	struct timespec	 ts;
	uint64_t	 ms;

	ms = p->backoff_ms;
	while (attempt-- > 0 && ms < DSRV_POOL_BACKOFF_CAP)
		ms *= 2;
	if (ms > DSRV_POOL_BACKOFF_CAP)
		ms = DSRV_POOL_BACKOFF_CAP;
	ms = ms / 2 + randombytes_uniform((uint32_t)ms + 1);
	ts.tv_sec = ms / 1000;
	ts.tv_nsec = (ms % 1000) * 1000000;
	while (nanosleep(&ts, &ts) == -1 && errno == EINTR)
		;
}

static int
pool_do(struct dsrv_pool *p, pool_fn fn, void *arg, char *err, size_t errlen)
{
	struct dsrv_client	*c;
	int			 attempt, rc;
	size_t			 l;

	for (attempt = 0;; attempt++) {
		if ((c = pool_get(p, err, errlen)) == NULL)
			rc = -1;
		else {
			rc = fn(c, arg, err, errlen);
			/*
			 * A transient answer is retried on a fresh
			 * connection too: the server may be going away.
			 */
			pool_put(p, c, !pool_transient(rc));
		}
		if (rc == -1)
			pool_flush(p);
		if (!pool_transient(rc) || attempt >= p->retries)
			break;
		__atomic_fetch_add(&p->retried, 1, __ATOMIC_RELAXED);
		pool_sleep(p, attempt);
	}
	if (rc != 0 && attempt > 0 && (l = strlen(err)) < errlen)
		(void)snprintf(err + l, errlen - l, " (after %d %s)", attempt,
		    attempt == 1 ? "retry" : "retries");
	return (rc);
}

struct pool_io {
	const char	*name;
	uint64_t	 roff;
	const void	*wdata;
	void		*rbuf;
	size_t		 len;
	size_t		 bufsz;
	uint64_t	 slen;
	uint32_t	 crc;
	uint8_t		*sha256;
	struct dsrv_statfs *sfs;
};

static int
pool_write_fn(struct dsrv_client *c, void *arg, char *err, size_t errlen)
{
	struct pool_io	*io = arg;

	return (dsrv_client_write(c, io->name, io->wdata, io->len, err,
	    errlen));
}

int
dsrv_pool_write(struct dsrv_pool *p, const char *name, const void *data,
    size_t len, char *err, size_t errlen)
{
	struct pool_io	 io = { .name = name, .wdata = data, .len = len };

	return (pool_do(p, pool_write_fn, &io, err, errlen));
}

static int
pool_read_fn(struct dsrv_client *c, void *arg, char *err, size_t errlen)
{
	struct pool_io	*io = arg;
	const uint8_t	*data;
	size_t		 len;
	int		 rc;

	if ((rc = dsrv_client_read(c, io->name, &data, &len, NULL, err,
	    errlen)) != WIRE_E_OK)
		return (rc);
	if (len > io->bufsz) {
		(void)snprintf(err, errlen, "%s: %s: chunk of %zu bytes, "
		    "more than the %zu expected", dsrv_client_peer(c),
		    io->name, len, io->bufsz);
		return (WIRE_E_TOOBIG);
	}
	if (len > 0)
		memcpy(io->rbuf, data, len);
	io->len = len;
	return (WIRE_E_OK);
}

int
dsrv_pool_read(struct dsrv_pool *p, const char *name, void *buf,
    size_t bufsz, size_t *len, char *err, size_t errlen)
{
	struct pool_io	 io = { .name = name, .rbuf = buf, .bufsz = bufsz };
	int		 rc;

	if ((rc = pool_do(p, pool_read_fn, &io, err, errlen)) == WIRE_E_OK)
		*len = io.len;
	return (rc);
}

static int
pool_read_range_fn(struct dsrv_client *c, void *arg, char *err,
    size_t errlen)
{
	struct pool_io	*io = arg;
	const uint8_t	*data;
	size_t		 got;
	int		 rc;

	if ((rc = dsrv_client_read_range(c, io->name, io->roff, io->bufsz,
	    &data, &got, err, errlen)) != WIRE_E_OK)
		return (rc);
	/* dsrv_client_read_range took no more than bufsz. */
	if (got > 0)
		memcpy(io->rbuf, data, got);
	io->len = got;
	return (WIRE_E_OK);
}

int
dsrv_pool_read_range(struct dsrv_pool *p, const char *name, uint64_t off,
    size_t len, void *buf, size_t *got, char *err, size_t errlen)
{
	struct pool_io	 io = { .name = name, .rbuf = buf, .bufsz = len,
			    .roff = off };
	int		 rc;

	rc = pool_do(p, pool_read_range_fn, &io, err, errlen);
	if (rc == WIRE_E_OK)
		*got = io.len;
	else if (rc == WIRE_E_BADREQUEST)
		/* Only a server older than ranged READs says so. */
		__atomic_store_n(&p->norange, 1, __ATOMIC_RELAXED);
	return (rc);
}

int
dsrv_pool_has_range(const struct dsrv_pool *p)
{
	return (!__atomic_load_n(&p->norange, __ATOMIC_RELAXED));
}

static int
pool_stat_fn(struct dsrv_client *c, void *arg, char *err, size_t errlen)
{
	struct pool_io	*io = arg;

	return (dsrv_client_stat(c, io->name, &io->slen, &io->crc, err,
	    errlen));
}

int
dsrv_pool_stat(struct dsrv_pool *p, const char *name, uint64_t *len,
    uint32_t *crc, char *err, size_t errlen)
{
	struct pool_io	 io = { .name = name };
	int		 rc;

	if ((rc = pool_do(p, pool_stat_fn, &io, err, errlen)) == WIRE_E_OK) {
		if (len != NULL)
			*len = io.slen;
		if (crc != NULL)
			*crc = io.crc;
	}
	return (rc);
}

static int
pool_digest_fn(struct dsrv_client *c, void *arg, char *err, size_t errlen)
{
	struct pool_io	*io = arg;

	return (dsrv_client_digest(c, io->name, &io->slen, &io->crc,
	    io->sha256, err, errlen));
}

int
dsrv_pool_digest(struct dsrv_pool *p, const char *name, uint64_t *len,
    uint32_t *crc, uint8_t sha256[32], char *err, size_t errlen)
{
	struct pool_io	 io = { .name = name, .sha256 = sha256 };
	int		 rc;

	if ((rc = pool_do(p, pool_digest_fn, &io, err, errlen)) == WIRE_E_OK) {
		*len = io.slen;
		*crc = io.crc;
	}
	return (rc);
}

static int
pool_statfs_fn(struct dsrv_client *c, void *arg, char *err, size_t errlen)
{
	struct pool_io	*io = arg;

	return (dsrv_client_statfs(c, io->sfs, err, errlen));
}

int
dsrv_pool_statfs(struct dsrv_pool *p, struct dsrv_statfs *sfs, char *err,
    size_t errlen)
{
	struct pool_io	 io = { .sfs = sfs };

	return (pool_do(p, pool_statfs_fn, &io, err, errlen));
}

struct pool_list {
	const char	*dir;
	int		(*cb)(const char *, void *);
	void		*arg;
	char		 last[CHUNK_BASE_MAX + 1];	/* "" at the start */
	int		 stopped;
};

/*
 * Page by page, remembering the last name handed to cb, so that a retry
 * goes on after it instead of starting over.
 */
static int
pool_list_fn(struct dsrv_client *c, void *arg, char *err, size_t errlen)
{
	struct pool_list *pl = arg;
	char		 name[CHUNK_BASE_MAX + 1];
	const char	*names, *p, *end, *nul;
	size_t		 len, l;
	int		 more, rc;

	do {
		if ((rc = dsrv_client_list(c, pl->dir, pl->last, &names, &len,
		    &more, err, errlen)) != WIRE_E_OK)
			return (rc);
		for (p = names, end = names + len; p < end; p = nul + 1) {
			if ((nul = memchr(p, '\0', end - p)) == NULL)
				nul = end;
			l = nul - p;
			if (l >= sizeof(name)) {
				(void)snprintf(err, errlen, "%s: %s: listed "
				    "name too long", dsrv_client_peer(c),
				    pl->dir);
				return (WIRE_E_INTERNAL);
			}
			memcpy(name, p, l);
			name[l] = '\0';
			if (pl->cb(name, pl->arg) == -1) {
				pl->stopped = 1;
				return (WIRE_E_OK);
			}
			memcpy(pl->last, name, l + 1);
		}
	} while (more);
	return (WIRE_E_OK);
}

int
dsrv_pool_list(struct dsrv_pool *p, const char *dir,
    int (*cb)(const char *, void *), void *arg, char *err, size_t errlen)
{
	struct pool_list	*pl;
	int			 rc;

	if ((pl = calloc(1, sizeof(*pl))) == NULL) {
		(void)snprintf(err, errlen, "out of memory");
		return (-1);
	}
	pl->dir = dir;
	pl->cb = cb;
	pl->arg = arg;
	rc = pool_do(p, pool_list_fn, pl, err, errlen);
	if (rc == WIRE_E_OK && pl->stopped)
		rc = -1;
	free(pl);
	return (rc);
}
