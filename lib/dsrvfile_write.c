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
 * The file layer's writer: the caller's thread cuts a file (or a
 * stream) into data chunks, worker threads store them through the
 * pool, each under the first of its names that is free or already
 * holds the same bytes, and the metadata chunk (dsrvfile_meta.c) is
 * written last, only when the length, the cumulative crc32 and the
 * sha256 are what was declared.
 */
#include <sys/types.h>

#include <inttypes.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sodium.h>
#include <zlib.h>

#include "chunkname.h"
#include "dsrvfile.h"
#include "dsrvfile_int.h"
#include "pool.h"
#include "sha256.h"
#include "wire.h"

/*
 * The writer.  The caller's thread fills chunk buffers; parallel worker
 * threads each compute a chunk's crc32 and write it through the pool.
 * Chunk crcs land in chunks[] by index, so the cumulative crc is
 * combined in order at close whatever order the writes finished in.
 */

struct wbuf {
	struct wbuf	*next;
	uint32_t	 index;
	size_t		 len;
	uint8_t		*data;
};

struct dsrv_writer {
	struct dsrv_pool	*pool;
	char			*name;
	uint64_t		 length;
	uint32_t		 crc;
	int			 stream;
	uint64_t		 upload;	/* a stream's, never 0 */
	int			 len_declared;	/* a stream's length is */
	int			 crc_declared;	/* a stream's crc32 is */
	int			 digest;	/* the server answers DIGEST */
	uint8_t			 sha256[32];	/* declared, then computed */
	int			 sha_trusted;	/* declared, not computed */
	int			 sha_declared;
	int			 sha_on;	/* hashing what is written */
	struct dsrv_sha256_state sha;
	struct dsrv_xfer_opts	 opts;
	struct dsrv_chunk_meta	*chunks;
	size_t			 maxchunks;
	uint64_t		 total;		/* bytes taken from the caller */
	uint32_t		 next;		/* index of the next chunk */
	struct wbuf		*cur;

	pthread_mutex_t		 mtx;
	pthread_cond_t		 work;		/* to the workers */
	pthread_cond_t		 done;		/* to the caller */
	pthread_t		*threads;
	int			 nthreads;
	int			 nbufs, maxbufs;
	struct wbuf		*queue, **qtail;
	struct wbuf		*free;
	int			 inflight;
	int			 closing;
	int			 failed;
	uint64_t		 written;	/* bytes of finished chunks */
	uint64_t		 reported;
	struct dsrv_xfer_stats	 stats;
	char			 ferr[DSRV_CLIENT_ERRLEN];
};

static struct dsrv_writer *writer_new(struct dsrv_pool *, const char *,
		    uint64_t, const struct dsrv_xfer_opts *, char *, size_t);
static void	*writer_main(void *);
static void	 writer_fail(struct dsrv_writer *, const char *, ...)
		    __attribute__((format(printf, 2, 3)));
static struct wbuf *writer_buf(struct dsrv_writer *);
static int	 writer_submit(struct dsrv_writer *, struct wbuf *);
static void	 writer_progress(struct dsrv_writer *);
static void	 writer_stop(struct dsrv_writer *);
static void	 writer_free(struct dsrv_writer *);
static int	 writer_meta(struct dsrv_writer *, char *, size_t);

/* The common part of both kinds; maxchunks for the chunks expected. */
static struct dsrv_writer *
writer_new(struct dsrv_pool *pool, const char *name, uint64_t maxchunks,
    const struct dsrv_xfer_opts *opts, char *err, size_t errlen)
{
	struct dsrv_writer	*w;
	int			 i, e;

	if (name == NULL || name[0] == '\0' ||
	    strlen(name) > DSRV_NAME_MAX) {
		errf(err, errlen, "file name empty or longer than "
		    "%d bytes", DSRV_NAME_MAX);
		return (NULL);
	}
	if ((w = calloc(1, sizeof(*w))) == NULL)
		goto nomem;
	w->pool = pool;
	w->digest = 1;
	if (opts != NULL)
		w->opts = *opts;
	w->nthreads = xfer_parallel(opts);
	w->maxbufs = w->nthreads + 1;
	w->maxchunks = maxchunks;
	w->qtail = &w->queue;
	if ((w->name = strdup(name)) == NULL ||
	    (w->chunks = calloc(w->maxchunks, sizeof(*w->chunks))) == NULL ||
	    (w->threads = calloc(w->nthreads, sizeof(*w->threads))) == NULL) {
		free(w->name);
		free(w->chunks);
		free(w);
		goto nomem;
	}
	if (pthread_mutex_init(&w->mtx, NULL) != 0 ||
	    pthread_cond_init(&w->work, NULL) != 0 ||
	    pthread_cond_init(&w->done, NULL) != 0) {
		/* Linux's never fail; do not bother unwinding them. */
		free(w->threads);
		free(w->name);
		free(w->chunks);
		free(w);
		goto nomem;
	}
	for (i = 0; i < w->nthreads; i++) {
		if ((e = pthread_create(&w->threads[i], NULL, writer_main,
		    w)) != 0) {
			w->nthreads = i;
			writer_stop(w);
			writer_free(w);
			errf(err, errlen, "pthread_create: %s",
			    strerror(e));
			return (NULL);
		}
	}
	return (w);
 nomem:
	errf(err, errlen, "out of memory");
	return (NULL);
}

struct dsrv_writer *
dsrv_writer_open(struct dsrv_pool *pool, const char *name, uint64_t length,
    uint32_t crc, const uint8_t *sha256, const struct dsrv_xfer_opts *opts,
    char *err, size_t errlen)
{
	struct dsrv_writer	*w;

	if (length / DSRV_CHUNK_SIZE >= DSRV_CHUNKS_MAX) {
		errf(err, errlen, "%s: %" PRIu64 " bytes is too "
		    "large a file", name, length);
		return (NULL);
	}
	if ((w = writer_new(pool, name, length / DSRV_CHUNK_SIZE + 1, opts,
	    err, errlen)) == NULL)
		return (NULL);
	w->length = length;
	w->crc = crc;
	if (sha256 != NULL) {
		memcpy(w->sha256, sha256, sizeof(w->sha256));
		w->sha_declared = 1;
	}
	if (w->sha_declared || w->opts.sha256) {
		w->sha_on = 1;
		dsrv_sha256_init(&w->sha);
	}
	w->sha_trusted = w->sha_declared && w->opts.sha256_known;
	return (w);
}

struct dsrv_writer *
dsrv_writer_stream(struct dsrv_pool *pool, const char *name,
    const uint64_t *length, const uint32_t *crc,
    const struct dsrv_xfer_opts *opts, char *err, size_t errlen)
{
	struct dsrv_writer	*w;

	if (length != NULL && *length / DSRV_CHUNK_SIZE >= DSRV_CHUNKS_MAX) {
		errf(err, errlen, "%s: %" PRIu64 " bytes is too "
		    "large a file", name, *length);
		return (NULL);
	}
	if ((w = writer_new(pool, name, 64, opts, err, errlen)) == NULL)
		return (NULL);
	w->stream = 1;
	/* Names nobody else's upload can have: 64 random bits, not 0. */
	do {
		randombytes_buf(&w->upload, sizeof(w->upload));
	} while (w->upload == 0);
	if (length != NULL) {
		w->length = *length;
		w->len_declared = 1;
	}
	if (crc != NULL) {
		w->crc = *crc;
		w->crc_declared = 1;
	}
	w->sha_on = 1;
	dsrv_sha256_init(&w->sha);
	return (w);
}

/* The first failure wins; later chunks are then skipped. */
static void
writer_fail(struct dsrv_writer *w, const char *fmt, ...)
{
	va_list	 ap;

	if (w->failed)
		return;
	w->failed = 1;
	va_start(ap, fmt);
	(void)vsnprintf(w->ferr, sizeof(w->ferr), fmt, ap);
	va_end(ap);
}

static void *
writer_main(void *arg)
{
	struct dsrv_writer	*w = arg;
	struct wbuf		*b;
	char			 err[DSRV_CLIENT_ERRLEN];
	struct dsrvfile_put	 put;
	int			 rc;

	(void)pthread_mutex_lock(&w->mtx);
	for (;;) {
		while (w->queue == NULL && !w->closing)
			(void)pthread_cond_wait(&w->work, &w->mtx);
		if ((b = w->queue) == NULL)
			break;
		if ((w->queue = b->next) == NULL)
			w->qtail = &w->queue;
		if (!w->failed) {
			(void)pthread_mutex_unlock(&w->mtx);
			memset(&put, 0, sizeof(put));
			put.filecrc = w->crc;
			put.upload = w->upload;
			put.index = b->index;
			put.crc = crc32(0L, b->data, b->len);
			put.data = b->data;
			put.len = b->len;
			put.digest = &w->digest;
			rc = dsrvfile_chunk_store(w->pool, &put, err,
			    sizeof(err));
			(void)pthread_mutex_lock(&w->mtx);
			w->stats.sent += put.sent;
			if (rc != 0) {
				if (!w->failed)
					w->stats.failcode = put.code;
				writer_fail(w, "%s: chunk %" PRIu32 ": %s",
				    w->name, b->index, err);
			} else {
				w->chunks[b->index].length = b->len;
				w->chunks[b->index].crc = put.crc;
				w->chunks[b->index].alt = put.alt;
				w->written += b->len;
				if (put.skipped) {
					w->stats.skipped += b->len;
					w->stats.chunks_skipped++;
				} else
					w->stats.chunks_sent++;
				if (put.alt != 0)
					w->stats.alternates++;
			}
		}
		b->len = 0;
		b->next = w->free;
		w->free = b;
		w->inflight--;
		(void)pthread_cond_broadcast(&w->done);
	}
	(void)pthread_mutex_unlock(&w->mtx);
	return (NULL);
}

/* A free chunk buffer, waiting for one if all are in flight; NULL: failed. */
static struct wbuf *
writer_buf(struct dsrv_writer *w)
{
	struct wbuf	*b = NULL;

	(void)pthread_mutex_lock(&w->mtx);
	for (;;) {
		if (w->failed)
			break;
		if ((b = w->free) != NULL) {
			w->free = b->next;
			break;
		}
		if (w->nbufs < w->maxbufs) {
			if ((b = calloc(1, sizeof(*b))) == NULL ||
			    (b->data = malloc(DSRV_CHUNK_SIZE)) == NULL) {
				free(b);
				b = NULL;
				writer_fail(w, "out of memory");
				break;
			}
			w->nbufs++;
			break;
		}
		(void)pthread_cond_wait(&w->done, &w->mtx);
		if (w->reported != w->written && w->opts.progress != NULL) {
			(void)pthread_mutex_unlock(&w->mtx);
			writer_progress(w);
			(void)pthread_mutex_lock(&w->mtx);
		}
	}
	(void)pthread_mutex_unlock(&w->mtx);
	return (b);
}

/* Queue b as the next chunk; -1 (and failed) if a stream has too many. */
static int
writer_submit(struct dsrv_writer *w, struct wbuf *b)
{
	struct dsrv_chunk_meta	*nc;
	size_t			 n;

	(void)pthread_mutex_lock(&w->mtx);
	if (w->next >= w->maxchunks) {
		/* Only a stream can outgrow what it was opened with. */
		n = w->maxchunks * 2;
		if (n > DSRV_CHUNKS_MAX)
			n = DSRV_CHUNKS_MAX;
		if (w->next >= n || (nc = reallocarray(w->chunks, n,
		    sizeof(*nc))) == NULL) {
			if (w->next >= n)
				writer_fail(w, "%s: more than %d chunks: too "
				    "large a file", w->name, DSRV_CHUNKS_MAX);
			else
				writer_fail(w, "out of memory");
			b->len = 0;
			b->next = w->free;
			w->free = b;
			(void)pthread_mutex_unlock(&w->mtx);
			return (-1);
		}
		memset(nc + w->maxchunks, 0, (n - w->maxchunks) * sizeof(*nc));
		w->chunks = nc;
		w->maxchunks = n;
	}
	b->index = w->next++;
	b->next = NULL;
	*w->qtail = b;
	w->qtail = &b->next;
	w->inflight++;
	(void)pthread_cond_signal(&w->work);
	(void)pthread_mutex_unlock(&w->mtx);
	return (0);
}

/* In the caller's thread, without the lock. */
static void
writer_progress(struct dsrv_writer *w)
{
	uint64_t	 done;

	if (w->opts.progress == NULL)
		return;
	(void)pthread_mutex_lock(&w->mtx);
	done = w->written;
	if (done == w->reported) {
		(void)pthread_mutex_unlock(&w->mtx);
		return;
	}
	w->reported = done;
	(void)pthread_mutex_unlock(&w->mtx);
	w->opts.progress(done, w->length, w->opts.arg);
}

int
dsrv_writer_write(struct dsrv_writer *w, const void *data, size_t len,
    char *err, size_t errlen)
{
	const uint8_t	*p = data;
	struct wbuf	*b;
	size_t		 n;
	int		 failed;

	(void)pthread_mutex_lock(&w->mtx);
	if ((!w->stream || w->len_declared) && len > w->length - w->total)
		writer_fail(w, "%s: more data than the %" PRIu64 " bytes "
		    "declared", w->name, w->length);
	failed = w->failed;
	(void)pthread_mutex_unlock(&w->mtx);
	if (failed)
		goto fail;
	if (w->sha_on && !w->sha_trusted)
		dsrv_sha256_update(&w->sha, p, len);
	w->total += len;
	while (len > 0) {
		if (w->cur == NULL && (w->cur = writer_buf(w)) == NULL)
			goto fail;
		n = DSRV_CHUNK_SIZE - w->cur->len;
		if (n > len)
			n = len;
		memcpy(w->cur->data + w->cur->len, p, n);
		w->cur->len += n;
		p += n;
		len -= n;
		if (w->cur->len == DSRV_CHUNK_SIZE) {
			b = w->cur;
			w->cur = NULL;
			if (writer_submit(w, b) == -1)
				goto fail;
		}
	}
	writer_progress(w);
	return (0);
 fail:
	(void)pthread_mutex_lock(&w->mtx);
	(void)strlcpy(err, w->ferr, errlen);
	(void)pthread_mutex_unlock(&w->mtx);
	return (-1);
}

/* Let the workers finish what is queued (or skip it after a failure). */
static void
writer_stop(struct dsrv_writer *w)
{
	int	 i;

	(void)pthread_mutex_lock(&w->mtx);
	w->closing = 1;
	(void)pthread_cond_broadcast(&w->work);
	while (w->inflight > 0) {
		(void)pthread_cond_wait(&w->done, &w->mtx);
		if (w->reported != w->written && w->opts.progress != NULL &&
		    !w->failed) {
			(void)pthread_mutex_unlock(&w->mtx);
			writer_progress(w);
			(void)pthread_mutex_lock(&w->mtx);
		}
	}
	(void)pthread_mutex_unlock(&w->mtx);
	for (i = 0; i < w->nthreads; i++)
		(void)pthread_join(w->threads[i], NULL);
	w->nthreads = 0;
}

static void
writer_free(struct dsrv_writer *w)
{
	struct wbuf	*b;

	if (w->cur != NULL) {
		w->cur->next = w->free;
		w->free = w->cur;
		w->cur = NULL;
	}
	while ((b = w->free) != NULL) {
		w->free = b->next;
		free(b->data);
		free(b);
	}
	(void)pthread_cond_destroy(&w->done);
	(void)pthread_cond_destroy(&w->work);
	(void)pthread_mutex_destroy(&w->mtx);
	explicit_bzero(&w->sha, sizeof(w->sha));
	free(w->threads);
	free(w->chunks);
	free(w->name);
	free(w);
}

/*
 * The metadata chunk, once every data chunk is stored.
 */
static int
writer_meta(struct dsrv_writer *w, char *err, size_t errlen)
{
	struct dsrv_file_meta	 m;

	memset(&m, 0, sizeof(m));
	m.name = w->name;
	m.length = w->length;
	m.crc = w->crc;
	memcpy(m.sha256, w->sha256, sizeof(m.sha256));
	m.has_sha256 = w->sha_on;
	m.stored_at = (uint64_t)time(NULL);
	m.upload = w->upload;
	m.nchunks = w->next;
	m.chunks = w->chunks;
	return (dsrvfile_meta_store(w->pool, &m, &w->stats.sent, err,
	    errlen));
}

int
dsrv_writer_close(struct dsrv_writer *w, char *err, size_t errlen)
{
	struct wbuf	*b;
	uint8_t		 sha[32];
	uLong		 crc;
	size_t		 i;
	int		 rc = -1;

	if (w->cur != NULL && w->cur->len > 0) {
		b = w->cur;
		w->cur = NULL;
		(void)writer_submit(w, b);
	}
	writer_stop(w);
	if (w->failed) {
		(void)strlcpy(err, w->ferr, errlen);
		goto done;
	}
	if (w->stream && !w->len_declared)
		w->length = w->total;
	if (w->total != w->length) {
		errf(err, errlen, "%s: %" PRIu64 " bytes of data, "
		    "%" PRIu64 " declared: no metadata written", w->name,
		    w->total, w->length);
		rc = WIRE_E_CRC;
		goto done;
	}
	crc = crc32(0L, Z_NULL, 0);
	for (i = 0; i < w->next; i++)
		crc = crc32_combine(crc, w->chunks[i].crc,
		    (z_off_t)w->chunks[i].length);
	if (w->stream && !w->crc_declared)
		w->crc = (uint32_t)crc;
	if (crc != w->crc) {
		errf(err, errlen, "%s: the data's crc32 is %08lx, "
		    "%08x declared: no metadata written", w->name, crc,
		    w->crc);
		rc = WIRE_E_CRC;
		goto done;
	}
	if (w->sha_on && !w->sha_trusted) {
		dsrv_sha256_final(&w->sha, sha);
		if (w->sha_declared &&
		    sodium_memcmp(sha, w->sha256, sizeof(sha)) != 0) {
			errf(err, errlen, "%s: the data's sha256 "
			    "differs from the declared one: no metadata "
			    "written", w->name);
			rc = WIRE_E_CRC;
			goto done;
		}
		memcpy(w->sha256, sha, sizeof(w->sha256));
	}
	if (writer_meta(w, err, errlen) == -1)
		goto done;
	if (w->opts.progress != NULL)
		w->opts.progress(w->length, w->length, w->opts.arg);
	rc = 0;
 done:
	if (w->opts.stats != NULL)
		*w->opts.stats = w->stats;
	writer_free(w);
	return (rc);
}

void
dsrv_writer_abort(struct dsrv_writer *w)
{
	if (w == NULL)
		return;
	(void)pthread_mutex_lock(&w->mtx);
	writer_fail(w, "aborted");
	(void)pthread_mutex_unlock(&w->mtx);
	writer_stop(w);
	writer_free(w);
}
