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
 * The file layer's reader: a file put back together from its chunks,
 * fetched in parallel and written out in order with every crc32 (and
 * on request the sha256) checked; and the files by name prefix
 * (dsrv_match), found from the listing of index/ and their metadata
 * chunks (dsrvfile_meta.c), with dsrv_file_find for one name.
 */
#include <sys/types.h>

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>
#include <zlib.h>

#include "chunkname.h"
#include "dsrvfile.h"
#include "dsrvfile_int.h"
#include "pool.h"
#include "sha256.h"
#include "util.h"
#include "wire.h"

/*
 * The reader.  Chunk i is fetched into slot i % parallel by whichever
 * worker is free; the caller's thread writes the slots out in order, so
 * at most parallel chunks are held in memory.
 */

enum { SLOT_FREE, SLOT_BUSY, SLOT_READY };

struct rslot {
	int		 state;
	uint32_t	 crc;
	size_t		 len;
	uint8_t		*data;
};

struct reader {
	struct dsrv_pool		*pool;
	const struct dsrv_file_meta	*m;
	pthread_mutex_t			 mtx;
	pthread_cond_t			 cv;
	struct rslot			*slots;
	int				 nslots;
	size_t				 next;	/* next chunk to fetch */
	int				 failed;
	int				 fcode;	/* what failed */
	char				 ferr[DSRV_CLIENT_ERRLEN];
};

static void	*reader_main(void *);

static void *
reader_main(void *arg)
{
	struct reader		*r = arg;
	struct rslot		*s;
	char			 name[CHUNK_NAME_MAX + 1];
	char			 err[DSRV_CLIENT_ERRLEN];
	const struct dsrv_chunk_meta *cm;
	size_t			 i, len;
	uint32_t		 crc;
	int			 rc;

	(void)pthread_mutex_lock(&r->mtx);
	for (;;) {
		while (!r->failed && r->next < r->m->nchunks &&
		    r->slots[r->next % r->nslots].state != SLOT_FREE)
			(void)pthread_cond_wait(&r->cv, &r->mtx);
		if (r->failed || r->next >= r->m->nchunks)
			break;
		i = r->next++;
		s = &r->slots[i % r->nslots];
		s->state = SLOT_BUSY;
		(void)pthread_mutex_unlock(&r->mtx);

		cm = &r->m->chunks[i];
		dsrv_chunk_name(r->m, i, name);
		rc = dsrv_pool_read(r->pool, name, s->data, DSRV_CHUNK_SIZE,
		    &len, err, sizeof(err));
		if (rc == WIRE_E_OK)
			crc = crc32(0L, s->data, len);

		(void)pthread_mutex_lock(&r->mtx);
		if (rc != WIRE_E_OK) {
			if (!r->failed) {
				errf(r->ferr, sizeof(r->ferr),
				    "%s: chunk %zu (%s): %s", r->m->name, i,
				    name, err);
				/* A chunk its metadata lists is lost data. */
				r->fcode = rc == WIRE_E_NOTFOUND ||
				    rc == WIRE_E_CORRUPT || rc == WIRE_E_CRC ?
				    WIRE_E_CORRUPT : -1;
			}
			r->failed = 1;
		} else if (len != cm->length || crc != cm->crc) {
			if (!r->failed) {
				r->fcode = WIRE_E_CORRUPT;
				errf(r->ferr, sizeof(r->ferr),
				    "%s: %s: chunk %zu (%s): %s mismatch: "
				    "%zu bytes with crc32 %08x, the metadata "
				    "says %" PRIu64 " bytes with %08x",
				    dsrv_pool_peer(r->pool), r->m->name, i,
				    name, len != cm->length ? "length" :
				    "crc32", len, crc, cm->length, cm->crc);
			}
			r->failed = 1;
		} else {
			s->len = len;
			s->crc = crc;
			s->state = SLOT_READY;
		}
		(void)pthread_cond_broadcast(&r->cv);
	}
	(void)pthread_cond_broadcast(&r->cv);
	(void)pthread_mutex_unlock(&r->mtx);
	return (NULL);
}

int
dsrv_file_read(struct dsrv_pool *pool, const struct dsrv_file_meta *m,
    int fd, const struct dsrv_xfer_opts *opts, char *err, size_t errlen)
{
	struct reader			 r;
	struct rslot			*s;
	struct dsrv_sha256_state	 sha;
	pthread_t			*threads = NULL;
	uint8_t				 digest[32];
	uint64_t			 done = 0;
	uLong				 crc;
	size_t				 i;
	int				 nthreads = 0, checksha, e, rc = -1;

	if (dsrvfile_meta_check(m, err, errlen) == -1)
		return (-1);
	/* A stream's chunks are tied to it only by the sums: check both. */
	checksha = (opts != NULL && opts->sha256) || m->upload != 0;
	if (checksha && !m->has_sha256) {
		errf(err, errlen, "%s: no sha256 was stored with "
		    "the file", m->name);
		return (-1);
	}
	if (checksha)
		dsrv_sha256_init(&sha);
	memset(&r, 0, sizeof(r));
	r.fcode = -1;
	r.pool = pool;
	r.m = m;
	r.nslots = xfer_parallel(opts);
	if ((size_t)r.nslots > m->nchunks)
		r.nslots = m->nchunks > 0 ? (int)m->nchunks : 1;
	if (pthread_mutex_init(&r.mtx, NULL) != 0)
		goto nomem_early;
	if (pthread_cond_init(&r.cv, NULL) != 0) {
		(void)pthread_mutex_destroy(&r.mtx);
		goto nomem_early;
	}
	if ((r.slots = calloc(r.nslots, sizeof(*r.slots))) == NULL ||
	    (threads = calloc(r.nslots, sizeof(*threads))) == NULL)
		goto nomem;
	for (i = 0; i < (size_t)r.nslots && i < m->nchunks; i++)
		if ((r.slots[i].data = malloc(DSRV_CHUNK_SIZE)) == NULL)
			goto nomem;
	for (nthreads = 0; nthreads < r.nslots && (size_t)nthreads <
	    m->nchunks; nthreads++) {
		if ((e = pthread_create(&threads[nthreads], NULL, reader_main,
		    &r)) != 0) {
			(void)pthread_mutex_lock(&r.mtx);
			r.failed = 1;
			errf(r.ferr, sizeof(r.ferr),
			    "pthread_create: %s", strerror(e));
			(void)pthread_cond_broadcast(&r.cv);
			(void)pthread_mutex_unlock(&r.mtx);
			break;
		}
	}

	crc = crc32(0L, Z_NULL, 0);
	for (i = 0; i < m->nchunks; i++) {
		s = &r.slots[i % r.nslots];
		(void)pthread_mutex_lock(&r.mtx);
		while (!r.failed && s->state != SLOT_READY)
			(void)pthread_cond_wait(&r.cv, &r.mtx);
		(void)pthread_mutex_unlock(&r.mtx);
		if (s->state != SLOT_READY)
			break;
		if (dsrv_write_all(fd, s->data, s->len) == -1) {
			e = errno;
			(void)pthread_mutex_lock(&r.mtx);
			if (!r.failed) {
				r.fcode = -1;
				errf(r.ferr, sizeof(r.ferr),
				    "%s: write: %s", m->name, strerror(e));
			}
			r.failed = 1;
			(void)pthread_cond_broadcast(&r.cv);
			(void)pthread_mutex_unlock(&r.mtx);
			break;
		}
		crc = crc32_combine(crc, s->crc, (z_off_t)s->len);
		if (checksha)
			dsrv_sha256_update(&sha, s->data, s->len);
		done += s->len;
		(void)pthread_mutex_lock(&r.mtx);
		s->state = SLOT_FREE;
		(void)pthread_cond_broadcast(&r.cv);
		(void)pthread_mutex_unlock(&r.mtx);
		if (opts != NULL && opts->progress != NULL)
			opts->progress(done, m->length, opts->arg);
	}
	if (!r.failed && i == m->nchunks) {
		if (crc != m->crc) {
			errf(err, errlen, "%s: crc32 mismatch: the "
			    "file's is %08lx, the metadata says %08x",
			    m->name, crc, m->crc);
			rc = WIRE_E_CORRUPT;
		} else if (checksha && (dsrv_sha256_final(&sha, digest),
		    sodium_memcmp(digest, m->sha256, sizeof(digest)) != 0)) {
			errf(err, errlen, "%s: sha256 mismatch: "
			    "the data differs from the metadata's sha256",
			    m->name);
			rc = WIRE_E_CORRUPT;
		} else
			rc = 0;
		if (m->nchunks == 0 && opts != NULL && opts->progress != NULL)
			opts->progress(0, 0, opts->arg);
	} else {
		(void)strlcpy(err, r.ferr, errlen);
		rc = r.fcode;
	}
	goto done;
 nomem:
	errf(err, errlen, "out of memory");
 done:
	(void)pthread_mutex_lock(&r.mtx);
	if (rc != 0)
		r.failed = 1;
	(void)pthread_cond_broadcast(&r.cv);
	(void)pthread_mutex_unlock(&r.mtx);
	while (nthreads > 0)
		(void)pthread_join(threads[--nthreads], NULL);
	for (i = 0; r.slots != NULL && i < (size_t)r.nslots; i++)
		free(r.slots[i].data);
	free(r.slots);
	free(threads);
	(void)pthread_cond_destroy(&r.cv);
	(void)pthread_mutex_destroy(&r.mtx);
	explicit_bzero(&sha, sizeof(sha));
	return (rc);
 nomem_early:
	errf(err, errlen, "out of memory");
	return (-1);
}

/*
 * Matching.  The sanitized name is a prefix of each metadata chunk's
 * name, so the listing alone rules out most files; the metadata of the
 * rest is read in parallel and checked against the real prefix.
 */

struct match {
	struct dsrv_pool *pool;
	const char	*prefix;
	char		 sprefix[DSRV_SANITIZED_MAX + 1];
	size_t		 splen;
	int		 exact;		/* the sanitized name, not a prefix */
	char		**cand;
	size_t		 ncand, candsz;
	int		 listerr;

	pthread_mutex_t	 mtx;
	pthread_cond_t	 cv;
	size_t		 next;		/* next candidate to read */
	int		 running;	/* workers */
	int		 stop;
	struct mres	*res, **rtail;
	int		 rc;		/* first failure */
	char		 ferr[DSRV_CLIENT_ERRLEN];
};

struct mres {
	struct mres		*next;
	struct dsrv_file_meta	*m;
};

static int	 match_list_cb(const char *, void *);
static void	*match_main(void *);
static int	 match_run(struct dsrv_pool *, const char *, int, int,
		    int (*)(const struct dsrv_file_meta *, void *), void *,
		    char *, size_t);

/*
 * index/<S>-%08x, or index/<S>-%08x-<k> for an alternate: keep names
 * whose S starts with (or is) the prefix.  The two cannot be mistaken
 * for each other: the first ends in 8 hex digits, the second in a '-'
 * and at most two decimal ones.
 */
static int
match_list_cb(const char *base, void *arg)
{
	struct match	*mt = arg;
	size_t		 l = strlen(base), slen, splen = mt->splen, i, d;
	char		**n;
	int		 alt = 0;

	for (d = 0; d < 3 && d < l && base[l - 1 - d] >= '0' &&
	    base[l - 1 - d] <= '9'; d++)
		;
	if (d > 0 && d < 3 && d < l && base[l - 1 - d] == '-' &&
	    base[l - d] != '0') {
		l -= d + 1;
		alt = 1;
	}
	if (l < 10 || base[l - 9] != '-')
		return (0);
	for (i = l - 8; i < l; i++)
		if (!((base[i] >= '0' && base[i] <= '9') ||
		    (base[i] >= 'a' && base[i] <= 'f')))
			return (0);
	slen = l - 9;
	/* An alternate's name is cut shorter: compare what it has. */
	if (alt && slen == DSRV_SANITIZED_ALT && splen > slen)
		splen = slen;
	if (slen < splen || strncmp(base, mt->sprefix, splen) != 0 ||
	    (mt->exact && slen != splen))
		return (0);
	if (mt->ncand == mt->candsz) {
		if ((n = reallocarray(mt->cand, mt->candsz ? mt->candsz * 2 :
		    64, sizeof(*n))) == NULL) {
			mt->listerr = 1;
			return (-1);
		}
		mt->cand = n;
		mt->candsz = mt->candsz ? mt->candsz * 2 : 64;
	}
	if (asprintf(&mt->cand[mt->ncand], DSRV_META_DIR "/%s", base) == -1) {
		mt->listerr = 1;
		return (-1);
	}
	mt->ncand++;
	return (0);
}

static void *
match_main(void *arg)
{
	struct match		*mt = arg;
	struct dsrv_file_meta	*m;
	struct mres		*res;
	char			 err[DSRV_CLIENT_ERRLEN];
	uint8_t			*buf;
	size_t			 i;
	int			 rc;

	buf = malloc(WIRE_PAYLOAD_MAX);
	(void)pthread_mutex_lock(&mt->mtx);
	if (buf == NULL && mt->rc == 0) {
		mt->rc = -1;
		errf(mt->ferr, sizeof(mt->ferr), "out of memory");
	}
	while (buf != NULL && !mt->stop && mt->next < mt->ncand) {
		i = mt->next++;
		(void)pthread_mutex_unlock(&mt->mtx);
		rc = dsrvfile_meta_fetch(mt->pool, mt->cand[i], buf, &m, err,
		    sizeof(err));
		res = NULL;
		if (rc == WIRE_E_OK && strncmp(m->name, mt->prefix,
		    strlen(mt->prefix)) == 0 && (!mt->exact ||
		    strcmp(m->name, mt->prefix) == 0) &&
		    (res = calloc(1, sizeof(*res))) == NULL) {
			rc = -1;
			errf(err, sizeof(err), "out of memory");
		}
		if (res == NULL && rc == WIRE_E_OK)
			dsrv_meta_free(m);
		(void)pthread_mutex_lock(&mt->mtx);
		if (rc != WIRE_E_OK && rc != WIRE_E_NOTFOUND && mt->rc == 0) {
			mt->rc = rc;
			(void)strlcpy(mt->ferr, err, sizeof(mt->ferr));
		}
		if (res != NULL) {
			res->m = m;
			*mt->rtail = res;
			mt->rtail = &res->next;
			(void)pthread_cond_broadcast(&mt->cv);
		}
	}
	mt->running--;
	(void)pthread_cond_broadcast(&mt->cv);
	(void)pthread_mutex_unlock(&mt->mtx);
	free(buf);
	return (NULL);
}

static int
match_run(struct dsrv_pool *pool, const char *prefix, int exact,
    int parallel, int (*cb)(const struct dsrv_file_meta *, void *),
    void *arg, char *err, size_t errlen)
{
	struct match	 mt;
	struct mres	*res;
	pthread_t	*threads = NULL;
	size_t		 i;
	int		 nthreads = 0, rc, e, stopped = 0;

	memset(&mt, 0, sizeof(mt));
	mt.pool = pool;
	mt.prefix = prefix;
	mt.exact = exact;
	mt.rtail = &mt.res;
	mt.splen = dsrvfile_sanitize(prefix, mt.sprefix, sizeof(mt.sprefix));
	if (exact && mt.splen == 0) {
		(void)strlcpy(mt.sprefix, "_", sizeof(mt.sprefix));
		mt.splen = 1;
	}
	/* Names are cut at DSRV_SANITIZED_MAX: longer ones all look alike. */
	if (exact && strlen(prefix) > DSRV_SANITIZED_MAX)
		mt.exact = 0;

	rc = dsrv_pool_list(pool, DSRV_META_DIR, match_list_cb, &mt, err,
	    errlen);
	if (mt.listerr) {
		errf(err, errlen, "out of memory");
		rc = -1;
	}
	mt.exact = exact;
	if (rc == WIRE_E_NOTFOUND) {
		/* No index/ at all: nothing stored yet. */
		rc = WIRE_E_OK;
	}
	if (rc != WIRE_E_OK)
		goto done;

	if (pthread_mutex_init(&mt.mtx, NULL) != 0 ||
	    pthread_cond_init(&mt.cv, NULL) != 0) {
		errf(err, errlen, "out of memory");
		rc = -1;
		goto done;
	}
	if (parallel <= 0)
		parallel = 2 * DSRV_PARALLEL;
	if (parallel > DSRV_PARALLEL_MAX)
		parallel = DSRV_PARALLEL_MAX;
	if ((size_t)parallel > mt.ncand)
		parallel = (int)mt.ncand;
	if (parallel > 0 &&
	    (threads = calloc(parallel, sizeof(*threads))) == NULL) {
		errf(err, errlen, "out of memory");
		rc = -1;
		goto sync;
	}
	(void)pthread_mutex_lock(&mt.mtx);
	for (nthreads = 0; nthreads < parallel; nthreads++) {
		if ((e = pthread_create(&threads[nthreads], NULL, match_main,
		    &mt)) != 0) {
			if (mt.rc == 0) {
				mt.rc = -1;
				errf(mt.ferr, sizeof(mt.ferr),
				    "pthread_create: %s", strerror(e));
			}
			mt.stop = 1;
			break;
		}
		mt.running++;
	}
	/* Hand results to cb in this thread, as they come. */
	for (;;) {
		while (mt.res == NULL && mt.running > 0)
			(void)pthread_cond_wait(&mt.cv, &mt.mtx);
		if ((res = mt.res) == NULL)
			break;
		if ((mt.res = res->next) == NULL)
			mt.rtail = &mt.res;
		(void)pthread_mutex_unlock(&mt.mtx);
		if (!stopped && cb(res->m, arg) == -1)
			stopped = 1;
		dsrv_meta_free(res->m);
		free(res);
		(void)pthread_mutex_lock(&mt.mtx);
		if (stopped)
			mt.stop = 1;
	}
	(void)pthread_mutex_unlock(&mt.mtx);
	while (nthreads > 0)
		(void)pthread_join(threads[--nthreads], NULL);
	if (stopped)
		rc = -1;
	else if (mt.rc != 0) {
		rc = mt.rc;
		(void)strlcpy(err, mt.ferr, errlen);
	}
 sync:
	(void)pthread_cond_destroy(&mt.cv);
	(void)pthread_mutex_destroy(&mt.mtx);
 done:
	for (i = 0; i < mt.ncand; i++)
		free(mt.cand[i]);
	free(mt.cand);
	free(threads);
	return (rc);
}

int
dsrv_match(struct dsrv_pool *pool, const char *prefix, int parallel,
    int (*cb)(const struct dsrv_file_meta *, void *), void *arg, char *err,
    size_t errlen)
{
	return (match_run(pool, prefix ? prefix : "", 0, parallel, cb, arg,
	    err, errlen));
}

/*
 * Newest first: stored_at, then, within one second, the metadata name
 * that came later: an alternate (-k) is taken only once the names
 * before it are, so the longer name, and of two as long the greater,
 * is the newer.  One order always.
 */
int
dsrv_meta_newest_cmp(const void *a, const void *b)
{
	const struct dsrv_file_meta	*x = *(const struct dsrv_file_meta **)a;
	const struct dsrv_file_meta	*y = *(const struct dsrv_file_meta **)b;
	size_t				 xl, yl;

	if (x->stored_at != y->stored_at)
		return (x->stored_at > y->stored_at ? -1 : 1);
	xl = strlen(x->metaname);
	yl = strlen(y->metaname);
	if (xl != yl)
		return (xl > yl ? -1 : 1);
	return (-strcmp(x->metaname, y->metaname));
}

/* By name, and the versions of a name newest first. */
int
dsrv_meta_name_cmp(const void *a, const void *b)
{
	const struct dsrv_file_meta	*x = *(const struct dsrv_file_meta **)a;
	const struct dsrv_file_meta	*y = *(const struct dsrv_file_meta **)b;
	int				 c;

	if ((c = strcmp(x->name, y->name)) != 0)
		return (c);
	return (dsrv_meta_newest_cmp(a, b));
}

struct versions {
	struct dsrv_file_meta	**v;
	size_t			  n, cap;
	int			  nomem;
};

static int	 versions_cb(const struct dsrv_file_meta *, void *);

static int
versions_cb(const struct dsrv_file_meta *m, void *arg)
{
	struct versions		 *vs = arg;
	struct dsrv_file_meta	**nv;
	size_t			  ncap;

	if (vs->n == vs->cap) {
		ncap = vs->cap == 0 ? 4 : vs->cap * 2;
		if ((nv = reallocarray(vs->v, ncap, sizeof(*nv))) == NULL) {
			vs->nomem = 1;
			return (-1);
		}
		vs->v = nv;
		vs->cap = ncap;
	}
	/* The callback's metadata is freed after it returns: copy it. */
	if ((vs->v[vs->n] = dsrv_meta_copy(m)) == NULL) {
		vs->nomem = 1;
		return (-1);
	}
	vs->n++;
	return (0);
}

void
dsrv_versions_free(struct dsrv_file_meta **v, size_t n)
{
	while (n > 0)
		dsrv_meta_free(v[--n]);
	free(v);
}

int
dsrv_file_versions(struct dsrv_pool *pool, const char *name,
    struct dsrv_file_meta ***vp, size_t *np, char *err, size_t errlen)
{
	struct versions	 vs;
	int		 rc;

	*vp = NULL;
	*np = 0;
	memset(&vs, 0, sizeof(vs));
	err[0] = '\0';
	rc = match_run(pool, name, 1, 0, versions_cb, &vs, err, errlen);
	if (vs.nomem) {
		dsrv_versions_free(vs.v, vs.n);
		errf(err, errlen, "out of memory");
		return (-1);
	}
	if (vs.n > 0) {
		/* An unreadable older version does not hide a good one. */
		qsort(vs.v, vs.n, sizeof(*vs.v), dsrv_meta_newest_cmp);
		*vp = vs.v;
		*np = vs.n;
		return (WIRE_E_OK);
	}
	free(vs.v);
	if (rc == -1 && err[0] == '\0')
		errf(err, errlen, "out of memory");
	if (rc != WIRE_E_OK)
		return (rc);
	errf(err, errlen, "%s: %s: no such file",
	    dsrv_pool_peer(pool), name);
	return (WIRE_E_NOTFOUND);
}

int
dsrv_file_find(struct dsrv_pool *pool, const char *name,
    struct dsrv_file_meta **mp, char *err, size_t errlen)
{
	struct dsrv_file_meta	**v;
	size_t			  n;
	int			  rc;

	*mp = NULL;
	if ((rc = dsrv_file_versions(pool, name, &v, &n, err, errlen)) !=
	    WIRE_E_OK)
		return (rc);
	*mp = v[0];
	v[0] = NULL;
	dsrv_versions_free(v, n);
	return (WIRE_E_OK);
}
