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
 * dctl serve restic: restic's REST backend on libevent's evhttp, in
 * front of one dsrvd.  Calls go one way, from the top down:
 *
 *   serve.c          the command, its options, listening, signals,
 *                    the summary line
 *   restic.c         requests: the path, the method, the answer
 *   restic_auth.c    --htpasswd: Basic authentication, bcrypt entries
 *   restic_store.c   objects on dsrvd: lookup with a listing cache,
 *                    verified writes, ranged reads
 *   restic_send.c    answers to HEAD and GET, a GET's body a window
 *                    at a time
 *   restic_lock.c    locks: in memory, maybe in a state file, never on
 *                    dsrvd; thread-safe on their own
 *   restic_keep.c    --keep: local copies of config, keys, index and
 *                    snapshots, for a key that may not read
 *
 * GW_WORKERS threads serve HTTP, each with its own event base and
 * evhttp on the one listening socket: a request that talks to dsrvd
 * blocks its own thread until it is answered, and an idle thread takes
 * the next connection.  What the threads share (the statistics, the
 * listings and metadata kept, the connections to dsrvd, the locks) is
 * guarded by gw.mtx or is thread-safe itself (the pool, the locks).
 * No mutex is held while dsrvd is asked anything.
 */
#ifndef DCTL_SERVE_H
#define DCTL_SERVE_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#define GW_ID_LEN	64		/* hex SHA-256 */
#define GW_DIRCACHE	16		/* listings kept */
#define GW_DIRCACHE_TTL	10		/* seconds a listing is trusted */
#define GW_METACACHE	256		/* metadata of objects found */
#define GW_WORKERS	4		/* threads serving HTTP */
#define GW_WORKERS_MAX	64
/* A GET's body goes out a file chunk at a time (dsrvfile.h). */
#define GW_WINDOW	DSRV_CHUNK_SIZE
#define GW_IO		(1024 * 1024)	/* bytes read or written at once */
/* restic packs are 16 MiB by default and 128 MiB at most. */
#define GW_MAX_BODY	(160ULL * 1024 * 1024)
#define GW_LOCK_MAX	(64 * 1024)	/* bytes of a lock; restic's: < 1 KiB */
#define GW_LOCK_COUNT	1024		/* locks held at once */
#define GW_LOCK_TIMEOUT	1800		/* restic's stale lock timeout */
#define GW_KEEP_MAX	(64 * 1024 * 1024)	/* bytes of an object kept */
#define GW_MIME_DATA	"application/octet-stream"

struct dsrv_pool;
struct dsrv_file_meta;
struct evbuffer;

/* Only uint64_t counters: gw_summary reads them as an array. */
struct gw_stats {
	uint64_t	 stored;	/* objects written to dsrvd */
	uint64_t	 stored_bytes;
	uint64_t	 identical;	/* uploads already there, same bytes */
	uint64_t	 refused_deletes;
	uint64_t	 refused_writes;	/* other bytes under a name */
	uint64_t	 bad_hash;	/* body not matching its name */
	uint64_t	 locks;		/* lock objects created */
	uint64_t	 requests;
	uint64_t	 served_bytes;	/* bodies of GETs sent to restic */
	uint64_t	 range_reads;	/* GETs of part of an object */
	uint64_t	 kept;		/* copies written by --keep */
	uint64_t	 from_copies;	/* GETs answered from them */
};

/* A statistic counted from any thread. */
#define GW_COUNT(gw, field, n) \
	((void)__atomic_add_fetch(&(gw)->st.field, (n), __ATOMIC_RELAXED))

/* One directory's files, as dsrv_match found them (newest version). */
struct gw_dir {
	char		*dir;		/* "PREFIX/repo/type/" */
	struct dsrv_file_meta **v;
	size_t		 n;
	time_t		 at;
};

/* An object's metadata: its name is its content, so it never changes. */
struct gw_meta {
	struct dsrv_file_meta *m;	/* NULL: slot unused */
	uint64_t	 used;
};

struct gw_htpasswd;
struct gw_locks;
struct gw_keep;

struct gw {
	struct dsrv_pool	*pool;
	const char		*peer;	/* "HOST port P" for the log */
	const char		*prefix;	/* "" or without a slash at
						   either end */
	struct gw_htpasswd	*auth;
	struct gw_stats		 st;	/* GW_COUNT, atomic loads */
	pthread_mutex_t		 mtx;	/* the caches below */
	struct gw_dir		 dirs[GW_DIRCACHE];
	struct gw_meta		 metas[GW_METACACHE];
	uint64_t		 tick;
	struct gw_locks		*locks;
	struct gw_keep		*keep;	/* NULL without --keep */
};

/* serve.c */
/* The summary line, also on SIGUSR1. */
void	 gw_summary(const struct gw *, const char *when);

/* restic.c: the evhttp callback for every request. */
struct evhttp_request;
void	 restic_request(struct evhttp_request *, void *gw);

/* restic_auth.c */
/* NULL and a message in err when the file cannot be used. */
struct gw_htpasswd *htpasswd_load(const char *path, char *err, size_t);
/* 1 when the Authorization header value names a user and its password. */
int	 htpasswd_check(struct gw_htpasswd *, const char *header);
void	 htpasswd_free(struct gw_htpasswd *);

/* restic_store.c */
/*
 * The newest metadata of name (a copy to free), from a fresh listing
 * of its directory or the objects found before when it can.  A wire code: 0, NOTFOUND, or
 * -1 when dsrvd could not be asked.
 */
int	 store_find(struct gw *, const char *name, struct dsrv_file_meta **,
	    char *err, size_t errlen);
/*
 * The listing of dir ("PREFIX/repo/type/").  When it returns 0, the
 * listing is valid, and gw->mtx held, until store_list_done.
 */
int	 store_list(struct gw *, const char *dir, struct dsrv_file_meta ***,
	    size_t *, char *err, size_t errlen);
void	 store_list_done(struct gw *);
/*
 * Write the body under name; sha256 and crc are its sums, computed
 * by the caller.  A wire code; the listing of name's directory is dropped.
 */
int	 store_write(struct gw *, const char *name, struct evbuffer *body,
	    const uint8_t sha256[32], uint32_t crc, char *err, size_t errlen);
/* The SHA-256 and crc32 of a body, in one pass. */
void	 body_sums(struct evbuffer *, uint8_t sha256[32], uint32_t *crc);
/* store_find for a name that its content gives (not config): cheaper. */
int	 store_find_upload(struct gw *, const char *name, uint32_t crc,
	    struct dsrv_file_meta **, char *err, size_t errlen);
/*
 * Bytes [off, off + len) of the file m appended to out, by ranged
 * READs: dsrvd checks each whole chunk, these bytes are checked
 * against the crc32 it sends with them.  len at most GW_WINDOW.
 */
int	 store_read_range(struct gw *, const struct dsrv_file_meta *,
	    uint64_t off, uint64_t len, struct evbuffer *out, char *err,
	    size_t errlen);
void	 store_free(struct gw *);

/* restic_send.c */
/*
 * Reply code with bytes [off, off + len) of m, sent a window at a time.
 * A wire code when the first window cannot be read: nothing was sent
 * then, and the caller answers with an error.
 */
int	 send_object(struct gw *, struct evhttp_request *,
	    const struct dsrv_file_meta *, uint64_t off, uint64_t len,
	    int code, const char *reason, char *err, size_t errlen);
/*
 * A Range header ("bytes=A-B", "bytes=A-", "bytes=-N") within size
 * bytes: 1 with the range, 0 for none this serves (then the whole
 * object), -1 when it cannot be satisfied.
 */
int	 http_range(const char *, uint64_t size, uint64_t *off, uint64_t *len);
/*
 * Answer a HEAD (head) or GET of m, whole or the range asked for: from
 * body when not NULL (all of m, consumed), else read from dsrvd.  The
 * status sent is in *status.  A wire code when nothing was sent: the
 * caller answers with an error then.
 */
int	 serve_meta(struct gw *, struct evhttp_request *, int head,
	    const struct dsrv_file_meta *, struct evbuffer *body, int *status,
	    char *err, size_t errlen);

/*
 * restic_lock.c: locks, by their whole dsrvd-style name.  Every call
 * takes the set's mutex, drops the locks older than the timeout first,
 * and hands out copies only.
 */
/* NULL and a message in err when file (NULL: none) cannot be used. */
struct gw_locks *locks_open(const char *file, time_t timeout, char *err,
	    size_t errlen);
void	 locks_close(struct gw_locks *);
/* 0 (also when it is there already), or -1 with a message in err. */
int	 locks_add(struct gw_locks *, const char *name, struct evbuffer *,
	    char *err, size_t errlen);
/* 1 when it was there and is gone, 0 when there was none. */
int	 locks_del(struct gw_locks *, const char *name);
/* 1 with its length and its body added to out (unless NULL), 0, -1. */
int	 locks_get(struct gw_locks *, const char *name, struct evbuffer *out,
	    size_t *len);
/* The locks of dir ("PREFIX/repo/locks/") as JSON array elements. */
int	 locks_list(struct gw_locks *, const char *dir, int v2,
	    struct evbuffer *out);

/*
 * restic_keep.c: copies of the objects restic reads before it adds to a
 * repository, in the directory of --keep; thread-safe on their own.
 */
/* NULL and a message in err when dir cannot be made or used. */
struct gw_keep *keep_open(const char *dir, char *err, size_t errlen);
void	 keep_close(struct gw_keep *);
/* 1 when an object of type (NULL: config) and length is kept. */
int	 keep_wanted(const struct gw *, const char *type, uint64_t length);
/* A copy of body, stored under name, when it is kept: 0 or -1. */
int	 keep_store(struct gw *, const char *type, const char *name,
	    struct evbuffer *body, char *err, size_t errlen);
/*
 * All of m into out for a GET: read from dsrvd, and kept; or, when
 * dsrvd refuses the read (PERM), from a copy that matches m.  A wire
 * code; PERM when there is no such copy.
 */
int	 keep_read(struct gw *, const struct dsrv_file_meta *m,
	    struct evbuffer *out, char *err, size_t errlen);

#endif /* DCTL_SERVE_H */
