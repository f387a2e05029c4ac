/*
 * Files on dsrvd: the writer that cuts a file into data chunks and
 * writes its metadata chunk last, the reader that puts a file back
 * together and checks it, and matching by name prefix.  See dsrvfile.h
 * for the names and the layout.
 */
#include <sys/types.h>

#include <errno.h>
#include <stdarg.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <sodium.h>
#include <zlib.h>

#include "chunkname.h"
#include "dsrvfile.h"
#include "meta.pb-c.h"
#include "pool.h"
#include "sha256.h"
#include "wire.h"

/* Tags of the checksummed fields around the packed FileMeta. */
#define META_F_VERSION	1
#define META_F_PACKED	2	/* repeated: the packed bytes in order */
#define META_F_PACKLEN	3	/* total of the META_F_PACKED lengths */
#define META_FIELD_MAX	65535	/* bytes in one field (16-bit length) */
#define META_FIELD_OVH	8	/* tag, type, length, crc32 */
/* 4 TiB: the metadata of the largest file stays well below a payload. */
#define DSRV_CHUNKS_MAX	(512 * 1024)
#define DSRV_NAME_MAX	4096
#define DSRV_PARALLEL	4
#define DSRV_PARALLEL_MAX 64

static size_t	 sanitize(const char *, char *, size_t);
static int	 meta_check(const struct dsrv_file_meta *, char *, size_t);
static uint64_t	 get64(const uint8_t *);
static int	 meta_fetch(struct dsrv_pool *, const char *, uint8_t *,
		    struct dsrv_file_meta **, char *, size_t);
static int	 meta_same(const struct dsrv_file_meta *,
		    const struct dsrv_file_meta *);
static int	 write_all(int, const uint8_t *, size_t);
static int	 xfer_parallel(const struct dsrv_xfer_opts *);
static void	 errf(char *, size_t, const char *, ...)
		    __attribute__((format(printf, 3, 4)));

/* Messages are cut to the caller's buffer, never overflow it. */
static void
errf(char *buf, size_t len, const char *fmt, ...)
{
	va_list	 ap;

	va_start(ap, fmt);
	(void)vsnprintf(buf, len, fmt, ap);
	va_end(ap);
}

/*
 * Names.
 */

/*
 * The name with every byte outside [A-Za-z0-9._-] and a leading dot
 * replaced by '_', cut to DSRV_SANITIZED_MAX; returns its length (0 for
 * an empty name, the caller decides what that means).
 */
static size_t
sanitize(const char *name, char *out, size_t outsz)
{
	size_t	 i;
	int	 ch;

	for (i = 0; name[i] != '\0' && i < DSRV_SANITIZED_MAX &&
	    i + 1 < outsz; i++) {
		ch = (unsigned char)name[i];
		if ((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
		    (ch >= '0' && ch <= '9') || ch == '-' || ch == '_' ||
		    (ch == '.' && i > 0))
			out[i] = ch;
		else
			out[i] = '_';
	}
	out[i] = '\0';
	return (i);
}

void
dsrv_data_name(uint32_t filecrc, uint32_t index, uint32_t chunkcrc,
    char out[CHUNK_NAME_MAX + 1])
{
	(void)snprintf(out, CHUNK_NAME_MAX + 1, "%02x/%08x-%08x-%08x",
	    filecrc >> 24, filecrc, index, chunkcrc);
}

void
dsrv_meta_name(const char *filename, uint32_t filecrc,
    char out[CHUNK_NAME_MAX + 1])
{
	char	 s[DSRV_SANITIZED_MAX + 1];

	if (sanitize(filename, s, sizeof(s)) == 0)
		(void)strlcpy(s, "_", sizeof(s));
	(void)snprintf(out, CHUNK_NAME_MAX + 1, DSRV_META_DIR "/%s-%08x", s,
	    filecrc);
}

/*
 * Metadata.
 */

void
dsrv_meta_free(struct dsrv_file_meta *m)
{
	if (m == NULL)
		return;
	free(m->name);
	free(m->chunks);
	free(m);
}

/*
 * The D scheme: every chunk but the last is DSRV_CHUNK_SIZE bytes, the
 * last one is not empty, and the chunk crcs combine to the file's.
 */
static int
meta_check(const struct dsrv_file_meta *m, char *err, size_t errlen)
{
	uint64_t	 want, off;
	uLong		 crc;
	size_t		 i;

	if (m->name == NULL || m->name[0] == '\0') {
		errf(err, errlen, "metadata without a file name");
		return (-1);
	}
	want = m->length / DSRV_CHUNK_SIZE + (m->length % DSRV_CHUNK_SIZE != 0);
	if (want > DSRV_CHUNKS_MAX || m->nchunks != want) {
		errf(err, errlen, "%s: metadata lists %zu chunks for "
		    "%" PRIu64 " bytes", m->name, m->nchunks, m->length);
		return (-1);
	}
	crc = crc32(0L, Z_NULL, 0);
	for (i = 0, off = 0; i < m->nchunks; i++) {
		want = m->length - off < DSRV_CHUNK_SIZE ? m->length - off :
		    DSRV_CHUNK_SIZE;
		if (m->chunks[i].length != want) {
			errf(err, errlen, "%s: metadata: chunk %zu "
			    "of %" PRIu64 " bytes, not %" PRIu64, m->name, i,
			    m->chunks[i].length, want);
			return (-1);
		}
		crc = crc32_combine(crc, m->chunks[i].crc,
		    (z_off_t)m->chunks[i].length);
		off += want;
	}
	if (crc != m->crc) {
		errf(err, errlen, "%s: metadata: the chunks' crc32s "
		    "combine to %08lx, not the file's %08x", m->name, crc,
		    m->crc);
		return (-1);
	}
	return (0);
}

int
dsrv_meta_encode(const struct dsrv_file_meta *m, uint8_t **out, size_t *len,
    char *err, size_t errlen)
{
	FileMeta	 fm = FILE_META__INIT;
	ChunkMeta	*cm = NULL, **cmp = NULL;
	uint8_t		*packed = NULL, *buf = NULL;
	size_t		 i, plen, nfields, total, off, l;
	int		 rc = -1;

	if (meta_check(m, err, errlen) == -1)
		return (-1);
	if (strlen(m->name) > DSRV_NAME_MAX) {
		errf(err, errlen, "file name longer than %d bytes",
		    DSRV_NAME_MAX);
		return (-1);
	}
	if (m->nchunks > 0 &&
	    ((cm = calloc(m->nchunks, sizeof(*cm))) == NULL ||
	    (cmp = calloc(m->nchunks, sizeof(*cmp))) == NULL))
		goto nomem;
	for (i = 0; i < m->nchunks; i++) {
		chunk_meta__init(&cm[i]);
		cm[i].length = m->chunks[i].length;
		cm[i].crc32 = m->chunks[i].crc;
		cmp[i] = &cm[i];
	}
	fm.name = m->name;
	fm.length = m->length;
	fm.crc32 = m->crc;
	if (m->has_sha256) {
		fm.sha256.data = (uint8_t *)m->sha256;
		fm.sha256.len = sizeof(m->sha256);
	}
	fm.stored_at = m->stored_at;
	fm.n_chunks = m->nchunks;
	fm.chunks = cmp;

	plen = file_meta__get_packed_size(&fm);
	nfields = plen == 0 ? 1 : (plen + META_FIELD_MAX - 1) / META_FIELD_MAX;
	total = 2 * (META_FIELD_OVH + 8) + nfields * META_FIELD_OVH + plen;
	if (total > WIRE_PAYLOAD_MAX) {
		errf(err, errlen, "%s: metadata too large",
		    m->name);
		goto done;
	}
	if ((packed = malloc(plen ? plen : 1)) == NULL ||
	    (buf = malloc(total)) == NULL)
		goto nomem;
	if (file_meta__pack(&fm, packed) != plen)
		goto internal;
	off = 0;
	if (wire_field_uint(buf, total, &off, META_F_VERSION,
	    DSRV_META_VERSION) == -1 ||
	    wire_field_uint(buf, total, &off, META_F_PACKLEN, plen) == -1)
		goto internal;
	i = 0;
	do {
		l = plen - i < META_FIELD_MAX ? plen - i : META_FIELD_MAX;
		if (wire_field_bytes(buf, total, &off, META_F_PACKED,
		    packed + i, l) == -1)
			goto internal;
		i += l;
	} while (i < plen);
	*out = buf;
	*len = off;
	buf = NULL;
	rc = 0;
	goto done;
 internal:
	errf(err, errlen, "%s: metadata encoding failed", m->name);
	goto done;
 nomem:
	errf(err, errlen, "out of memory");
 done:
	free(buf);
	free(packed);
	free(cmp);
	free(cm);
	return (rc);
}

static uint64_t
get64(const uint8_t *p)
{
	uint64_t	 v = 0;
	int		 i;

	for (i = 0; i < 8; i++)
		v = v << 8 | p[i];
	return (v);
}

int
dsrv_meta_decode(const uint8_t *buf, size_t len, struct dsrv_file_meta **mp,
    char *err, size_t errlen)
{
	struct dsrv_file_meta	*m = NULL;
	FileMeta		*fm = NULL;
	const uint8_t		*val;
	const char		*errstr;
	uint8_t			*packed = NULL, tag, type;
	size_t			 off = 0, vlen, plen = 0, got = 0, i;
	int			 r, nfield = 0, rc = -1;

	*mp = NULL;
	while ((r = wire_field_next(buf, len, &off, &tag, &type, &val, &vlen,
	    &errstr)) == 1) {
		nfield++;
		switch (tag) {
		case META_F_VERSION:
			if (nfield != 1 || type != WIRE_T_UINT)
				goto bad;
			if (get64(val) != DSRV_META_VERSION) {
				errf(err, errlen, "metadata format "
				    "version %" PRIu64 ", not %d", get64(val),
				    DSRV_META_VERSION);
				goto done;
			}
			break;
		case META_F_PACKLEN:
			if (nfield != 2 || type != WIRE_T_UINT ||
			    get64(val) > len)
				goto bad;
			plen = get64(val);
			if ((packed = malloc(plen ? plen : 1)) == NULL)
				goto nomem;
			break;
		case META_F_PACKED:
			if (nfield < 3 || type != WIRE_T_BYTES ||
			    vlen > plen - got)
				goto bad;
			if (vlen > 0)
				memcpy(packed + got, val, vlen);
			got += vlen;
			break;
		default:
			goto bad;
		}
	}
	if (r == -1) {
		errf(err, errlen, "metadata: %s", errstr);
		goto done;
	}
	if (nfield < 3 || got != plen)
		goto bad;
	if ((fm = file_meta__unpack(NULL, plen, packed)) == NULL) {
		errf(err, errlen, "metadata: the protobuf does "
		    "not decode");
		goto done;
	}
	if (fm->sha256.len != 0 && fm->sha256.len != 32) {
		errf(err, errlen, "metadata: sha256 of %zu bytes",
		    fm->sha256.len);
		goto done;
	}
	if ((m = calloc(1, sizeof(*m))) == NULL ||
	    (m->name = strdup(fm->name ? fm->name : "")) == NULL ||
	    (fm->n_chunks > 0 &&
	    (m->chunks = calloc(fm->n_chunks, sizeof(*m->chunks))) == NULL))
		goto nomem;
	m->length = fm->length;
	m->crc = fm->crc32;
	if (fm->sha256.len == 32) {
		memcpy(m->sha256, fm->sha256.data, 32);
		m->has_sha256 = 1;
	}
	m->stored_at = fm->stored_at;
	m->nchunks = fm->n_chunks;
	for (i = 0; i < m->nchunks; i++) {
		m->chunks[i].length = fm->chunks[i]->length;
		m->chunks[i].crc = fm->chunks[i]->crc32;
	}
	if (meta_check(m, err, errlen) == -1)
		goto done;
	*mp = m;
	m = NULL;
	rc = 0;
	goto done;
 bad:
	errf(err, errlen, "metadata: malformed fields");
	goto done;
 nomem:
	errf(err, errlen, "out of memory");
 done:
	if (fm != NULL)
		file_meta__free_unpacked(fm, NULL);
	free(packed);
	dsrv_meta_free(m);
	return (rc);
}

/*
 * Same file: everything but stored_at.  A sha256 on one side only is no
 * difference: metadata written before the writer computed one for every
 * put (dctl put --crc32 did not record it) describes the same chunks.
 */
static int
meta_same(const struct dsrv_file_meta *a, const struct dsrv_file_meta *b)
{
	return (strcmp(a->name, b->name) == 0 && a->length == b->length &&
	    a->crc == b->crc && (!a->has_sha256 || !b->has_sha256 ||
	    memcmp(a->sha256, b->sha256, 32) == 0) &&
	    a->nchunks == b->nchunks && (a->nchunks == 0 ||
	    memcmp(a->chunks, b->chunks, a->nchunks * sizeof(*a->chunks)) ==
	    0));
}

/*
 * Read and decode the metadata chunk metaname into buf (a payload's
 * room); it must name itself: a metadata chunk under another file's
 * name is as corrupt as a bad field.
 */
static int
meta_fetch(struct dsrv_pool *pool, const char *metaname, uint8_t *buf,
    struct dsrv_file_meta **mp, char *err, size_t errlen)
{
	struct dsrv_file_meta	*m;
	char			 e[DSRV_CLIENT_ERRLEN], want[CHUNK_NAME_MAX + 1];
	size_t			 len;
	int			 rc;

	*mp = NULL;
	if ((rc = dsrv_pool_read(pool, metaname, buf, WIRE_PAYLOAD_MAX, &len,
	    err, errlen)) != WIRE_E_OK)
		return (rc);
	if (dsrv_meta_decode(buf, len, &m, e, sizeof(e)) == -1) {
		errf(err, errlen, "%s: %s: %s",
		    dsrv_pool_peer(pool), metaname, e);
		return (WIRE_E_CORRUPT);
	}
	dsrv_meta_name(m->name, m->crc, want);
	if (strcmp(want, metaname) != 0) {
		errf(err, errlen, "%s: %s: metadata of another "
		    "file (%s)", dsrv_pool_peer(pool), metaname, want);
		dsrv_meta_free(m);
		return (WIRE_E_CORRUPT);
	}
	(void)strlcpy(m->metaname, metaname, sizeof(m->metaname));
	*mp = m;
	return (WIRE_E_OK);
}

static int
xfer_parallel(const struct dsrv_xfer_opts *o)
{
	if (o == NULL || o->parallel <= 0)
		return (DSRV_PARALLEL);
	return (o->parallel > DSRV_PARALLEL_MAX ? DSRV_PARALLEL_MAX :
	    o->parallel);
}

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
	uint8_t			 sha256[32];	/* declared, then computed */
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
	char			 ferr[DSRV_CLIENT_ERRLEN];
};

static void	*writer_main(void *);
static void	 writer_fail(struct dsrv_writer *, const char *, ...)
		    __attribute__((format(printf, 2, 3)));
static struct wbuf *writer_buf(struct dsrv_writer *);
static void	 writer_submit(struct dsrv_writer *, struct wbuf *);
static void	 writer_progress(struct dsrv_writer *);
static void	 writer_stop(struct dsrv_writer *);
static void	 writer_free(struct dsrv_writer *);
static int	 writer_meta(struct dsrv_writer *, char *, size_t);

struct dsrv_writer *
dsrv_writer_open(struct dsrv_pool *pool, const char *name, uint64_t length,
    uint32_t crc, const uint8_t *sha256, const struct dsrv_xfer_opts *opts,
    char *err, size_t errlen)
{
	struct dsrv_writer	*w;
	int			 i, e;

	if (name == NULL || name[0] == '\0' ||
	    strlen(name) > DSRV_NAME_MAX) {
		errf(err, errlen, "file name empty or longer than "
		    "%d bytes", DSRV_NAME_MAX);
		return (NULL);
	}
	if (length / DSRV_CHUNK_SIZE >= DSRV_CHUNKS_MAX) {
		errf(err, errlen, "%s: %" PRIu64 " bytes is too "
		    "large a file", name, length);
		return (NULL);
	}
	if ((w = calloc(1, sizeof(*w))) == NULL)
		goto nomem;
	w->pool = pool;
	w->length = length;
	w->crc = crc;
	if (sha256 != NULL) {
		memcpy(w->sha256, sha256, sizeof(w->sha256));
		w->sha_declared = 1;
	}
	if (opts != NULL)
		w->opts = *opts;
	if (w->sha_declared || w->opts.sha256) {
		w->sha_on = 1;
		dsrv_sha256_init(&w->sha);
	}
	w->nthreads = xfer_parallel(opts);
	w->maxbufs = w->nthreads + 1;
	w->maxchunks = length / DSRV_CHUNK_SIZE + 1;
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
	char			 name[CHUNK_NAME_MAX + 1];
	char			 err[DSRV_CLIENT_ERRLEN];
	uint32_t		 crc;
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
			crc = crc32(0L, b->data, b->len);
			dsrv_data_name(w->crc, b->index, crc, name);
			rc = dsrv_pool_write(w->pool, name, b->data, b->len,
			    err, sizeof(err));
			(void)pthread_mutex_lock(&w->mtx);
			if (rc != WIRE_E_OK)
				writer_fail(w, "%s: chunk %" PRIu32 ": %s",
				    w->name, b->index, err);
			else {
				w->chunks[b->index].length = b->len;
				w->chunks[b->index].crc = crc;
				w->written += b->len;
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

static void
writer_submit(struct dsrv_writer *w, struct wbuf *b)
{
	(void)pthread_mutex_lock(&w->mtx);
	b->index = w->next++;
	b->next = NULL;
	*w->qtail = b;
	w->qtail = &b->next;
	w->inflight++;
	(void)pthread_cond_signal(&w->work);
	(void)pthread_mutex_unlock(&w->mtx);
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
	size_t		 n;
	int		 failed;

	(void)pthread_mutex_lock(&w->mtx);
	if (len > w->length - w->total)
		writer_fail(w, "%s: more data than the %" PRIu64 " bytes "
		    "declared", w->name, w->length);
	failed = w->failed;
	(void)pthread_mutex_unlock(&w->mtx);
	if (failed)
		goto fail;
	if (w->sha_on)
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
			writer_submit(w, w->cur);
			w->cur = NULL;
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
 * The metadata chunk.  Its name depends only on the file's name and
 * crc, but stored_at makes its content differ between two puts of the
 * same file: an existing one that describes the same file is success.
 */
static int
writer_meta(struct dsrv_writer *w, char *err, size_t errlen)
{
	struct dsrv_file_meta	 m, *old;
	uint8_t			*buf, *rbuf;
	char			 e[DSRV_CLIENT_ERRLEN];
	size_t			 len;
	int			 rc;

	memset(&m, 0, sizeof(m));
	m.name = w->name;
	m.length = w->length;
	m.crc = w->crc;
	memcpy(m.sha256, w->sha256, sizeof(m.sha256));
	m.has_sha256 = w->sha_on;
	m.stored_at = (uint64_t)time(NULL);
	m.nchunks = w->next;
	m.chunks = w->chunks;
	dsrv_meta_name(w->name, w->crc, m.metaname);
	if (dsrv_meta_encode(&m, &buf, &len, err, errlen) == -1)
		return (-1);
	rc = dsrv_pool_write(w->pool, m.metaname, buf, len, err, errlen);
	free(buf);
	if (rc != WIRE_E_EXISTS)
		return (rc == WIRE_E_OK ? 0 : -1);

	if ((rbuf = malloc(WIRE_PAYLOAD_MAX)) == NULL) {
		errf(err, errlen, "out of memory");
		return (-1);
	}
	rc = meta_fetch(w->pool, m.metaname, rbuf, &old, e, sizeof(e));
	free(rbuf);
	if (rc != WIRE_E_OK) {
		errf(err, errlen, "%s: %s exists and does not read "
		    "back: %s", w->name, m.metaname, e);
		return (-1);
	}
	rc = meta_same(&m, old);
	if (!rc)
		errf(err, errlen, "%s: %s: %s exists, the metadata "
		    "of another file (%s)", dsrv_pool_peer(w->pool), w->name,
		    m.metaname, old->name);
	dsrv_meta_free(old);
	return (rc ? 0 : -1);
}

int
dsrv_writer_close(struct dsrv_writer *w, char *err, size_t errlen)
{
	uint8_t	 sha[32];
	uLong	 crc;
	size_t	 i;
	int	 rc = -1;

	if (w->cur != NULL && w->cur->len > 0) {
		writer_submit(w, w->cur);
		w->cur = NULL;
	}
	writer_stop(w);
	if (w->failed) {
		(void)strlcpy(err, w->ferr, errlen);
		goto done;
	}
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
	if (crc != w->crc) {
		errf(err, errlen, "%s: the data's crc32 is %08lx, "
		    "%08x declared: no metadata written", w->name, crc,
		    w->crc);
		rc = WIRE_E_CRC;
		goto done;
	}
	if (w->sha_on) {
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
		dsrv_data_name(r->m->crc, (uint32_t)i, cm->crc, name);
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

static int
write_all(int fd, const uint8_t *p, size_t len)
{
	ssize_t	 n;

	while (len > 0) {
		if ((n = write(fd, p, len)) == -1) {
			if (errno == EINTR)
				continue;
			return (-1);
		}
		p += n;
		len -= n;
	}
	return (0);
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

	if (meta_check(m, err, errlen) == -1)
		return (-1);
	checksha = opts != NULL && opts->sha256;
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
		if (write_all(fd, s->data, s->len) == -1) {
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

/* index/<S>-%08x: keep names whose S starts with (or is) the prefix. */
static int
match_list_cb(const char *base, void *arg)
{
	struct match	*mt = arg;
	size_t		 l = strlen(base), slen, i;
	char		**n;

	if (l < 10 || base[l - 9] != '-')
		return (0);
	for (i = l - 8; i < l; i++)
		if (!((base[i] >= '0' && base[i] <= '9') ||
		    (base[i] >= 'a' && base[i] <= 'f')))
			return (0);
	slen = l - 9;
	if (slen < mt->splen || strncmp(base, mt->sprefix, mt->splen) != 0 ||
	    (mt->exact && slen != mt->splen))
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
		rc = meta_fetch(mt->pool, mt->cand[i], buf, &m, err,
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
	mt.splen = sanitize(prefix, mt.sprefix, sizeof(mt.sprefix));
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

struct find {
	struct dsrv_file_meta	*best;
};

static int	 find_cb(const struct dsrv_file_meta *, void *);

static int
find_cb(const struct dsrv_file_meta *m, void *arg)
{
	struct find		*f = arg;
	struct dsrv_file_meta	*c;

	if (f->best != NULL && (f->best->stored_at > m->stored_at ||
	    (f->best->stored_at == m->stored_at &&
	    strcmp(f->best->metaname, m->metaname) > 0)))
		return (0);
	/* The callback's metadata is freed after it returns: copy it. */
	if ((c = calloc(1, sizeof(*c))) == NULL)
		return (-1);
	*c = *m;
	c->name = strdup(m->name);
	c->chunks = m->nchunks ? calloc(m->nchunks, sizeof(*c->chunks)) : NULL;
	if (c->name == NULL || (m->nchunks && c->chunks == NULL)) {
		dsrv_meta_free(c);
		return (-1);
	}
	if (m->nchunks)
		memcpy(c->chunks, m->chunks, m->nchunks * sizeof(*c->chunks));
	dsrv_meta_free(f->best);
	f->best = c;
	return (0);
}

int
dsrv_file_find(struct dsrv_pool *pool, const char *name,
    struct dsrv_file_meta **mp, char *err, size_t errlen)
{
	struct find	 f = { NULL };
	int		 rc;

	*mp = NULL;
	rc = match_run(pool, name, 1, 0, find_cb, &f, err, errlen);
	if (f.best != NULL) {
		/* An unreadable older version does not hide a good one. */
		*mp = f.best;
		return (WIRE_E_OK);
	}
	if (rc == -1 && err[0] == '\0')
		errf(err, errlen, "out of memory");
	if (rc != WIRE_E_OK)
		return (rc);
	errf(err, errlen, "%s: %s: no such file",
	    dsrv_pool_peer(pool), name);
	return (WIRE_E_NOTFOUND);
}
