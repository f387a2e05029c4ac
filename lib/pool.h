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
 * A thread-safe pool of authenticated connections to one server.  Every
 * request checks a connection out (one thread uses it at a time), and a
 * transient failure is retried on a fresh connection after an
 * exponential backoff with jitter: all requests of the protocol are
 * idempotent, so repeating one is always safe.
 */
#ifndef DSRV_POOL_H
#define DSRV_POOL_H

#include <stddef.h>
#include <stdint.h>

#include "client.h"

struct dsrv_pool;

struct dsrv_pool_opts {
	struct dsrv_client_opts conn;	/* host, port, keyname, key, timeouts */
	int		 maxconns;	/* 0 = default 4 */
	int		 retries;	/* 0 = default 5 (attempts after the
					   first); -1 = none */
	int		 backoff_ms;	/* 0 = default 100; doubles each retry,
					   +-50% jitter, cap 5000 */
};

#define DSRV_POOL_MAXCONNS	4
#define DSRV_POOL_RETRIES	5
#define DSRV_POOL_BACKOFF_MS	100
#define DSRV_POOL_BACKOFF_CAP	5000

/*
 * Connects one connection now, so that a wrong key or an unreachable
 * server fails here and not in the middle of a transfer.  The pool keeps
 * its own copy of the key (wiped by dsrv_pool_free); the caller's opts
 * are not touched.
 */
struct dsrv_pool	*dsrv_pool_new(const struct dsrv_pool_opts *,
			    char *err, size_t errlen);
void			 dsrv_pool_free(struct dsrv_pool *);
/* "HOST port P" */
const char		*dsrv_pool_peer(const struct dsrv_pool *);
/* Retries done so far, over all threads. */
uint64_t		 dsrv_pool_retried(const struct dsrv_pool *);

/*
 * -1: failed after all retries (transport); else the wire code (0 ok),
 * with err as in client.h: "HOST port P: NAME: <text>: <server msg>".
 * Transient = transport failure, BUSY, CRC, IO, UNAVAILABLE: retried on
 * a fresh connection.  Other codes are returned at once.
 */
int	dsrv_pool_write(struct dsrv_pool *, const char *name, const void *,
	    size_t, char *err, size_t errlen);
/* READ name into buf (bufsz bytes); a longer chunk gives WIRE_E_TOOBIG. */
int	dsrv_pool_read(struct dsrv_pool *, const char *name, void *buf,
	    size_t bufsz, size_t *len, char *err, size_t errlen);
/*
 * READ of bytes [off, off + len) of a chunk, cut at its end, into buf
 * (room for len bytes); *got is what came.  The server checked the
 * whole chunk against its stored crc32, this side the range against
 * the crc32 the server sent with it (see dsrv_client_read_range).  A
 * server older than ranged READs answers WIRE_E_BADREQUEST, and the
 * pool remembers it: dsrv_pool_has_range() is 0 from then on.
 */
int	dsrv_pool_read_range(struct dsrv_pool *, const char *name,
	    uint64_t off, size_t len, void *buf, size_t *got, char *err,
	    size_t errlen);
int	dsrv_pool_has_range(const struct dsrv_pool *);
int	dsrv_pool_stat(struct dsrv_pool *, const char *name, uint64_t *len,
	    uint32_t *crc, char *err, size_t errlen);
int	dsrv_pool_digest(struct dsrv_pool *, const char *name, uint64_t *len,
	    uint32_t *crc, uint8_t sha256[32], char *err, size_t errlen);
int	dsrv_pool_statfs(struct dsrv_pool *, struct dsrv_statfs *,
	    char *err, size_t errlen);
/*
 * Every name in dir, passed to cb (valid during the call only).  A
 * failure in the middle restarts the listing after the last name cb saw,
 * so cb sees every name once.  cb returning -1 stops: -1, no err.
 */
int	dsrv_pool_list(struct dsrv_pool *, const char *dir,
	    int (*cb)(const char *name, void *), void *, char *err,
	    size_t errlen);

#endif /* DSRV_POOL_H */
