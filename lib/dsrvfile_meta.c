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
 * The file layer's metadata: chunk and metadata names, the metadata
 * chunk's format (checksummed fields around a packed FileMeta,
 * lib/meta.proto) with its checks, and reading one metadata chunk.
 * The writer (dsrvfile_write.c) and the reader (dsrvfile_read.c) build
 * on it; it calls neither.  See dsrvfile.h for the names and layout.
 */
#include <sys/types.h>

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include <zlib.h>

#include "bytes.h"
#include "chunkname.h"
#include "dsrvfile.h"
#include "dsrvfile_int.h"
#include "meta.pb-c.h"
#include "pool.h"
#include "wire.h"

/* Tags of the checksummed fields around the packed FileMeta. */
#define META_F_VERSION	1
#define META_F_PACKED	2	/* repeated: the packed bytes in order */
#define META_F_PACKLEN	3	/* total of the META_F_PACKED lengths */
#define META_FIELD_MAX	65535	/* bytes in one field (16-bit length) */
#define META_FIELD_OVH	8	/* tag, type, length, crc32 */

/*
 * Names.
 */

size_t
dsrvfile_sanitize(const char *name, char *out, size_t outsz)
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
	dsrvfile_chunk_name(filecrc, 0, index, chunkcrc, 0, out);
}

void
dsrvfile_chunk_name(uint32_t filecrc, uint64_t upload, uint32_t index,
    uint32_t crc, uint32_t alt, char out[CHUNK_NAME_MAX + 1])
{
	int	 n;

	if (upload != 0)
		n = snprintf(out, CHUNK_NAME_MAX + 1, "%02x/%016" PRIx64
		    "-%08x-%08x", (unsigned int)(upload >> 56), upload, index,
		    crc);
	else
		n = snprintf(out, CHUNK_NAME_MAX + 1, "%02x/%08x-%08x-%08x",
		    filecrc >> 24, filecrc, index, crc);
	if (alt != 0 && n > 0 && n < CHUNK_NAME_MAX + 1)
		(void)snprintf(out + n, CHUNK_NAME_MAX + 1 - n, "-%u", alt);
}

void
dsrv_chunk_name(const struct dsrv_file_meta *m, size_t i,
    char out[CHUNK_NAME_MAX + 1])
{
	dsrvfile_chunk_name(m->crc, m->upload, (uint32_t)i, m->chunks[i].crc,
	    m->chunks[i].alt, out);
}

void
dsrv_meta_name(const char *filename, uint32_t filecrc, uint32_t alt,
    char out[CHUNK_NAME_MAX + 1])
{
	char	 s[DSRV_SANITIZED_MAX + 1];

	if (dsrvfile_sanitize(filename, s, sizeof(s)) == 0)
		(void)strlcpy(s, "_", sizeof(s));
	/* Room for "-16" within a chunk name's 200 bytes. */
	if (alt != 0)
		s[DSRV_SANITIZED_ALT] = '\0';
	if (alt == 0)
		(void)snprintf(out, CHUNK_NAME_MAX + 1, DSRV_META_DIR
		    "/%s-%08x", s, filecrc);
	else
		(void)snprintf(out, CHUNK_NAME_MAX + 1, DSRV_META_DIR
		    "/%s-%08x-%u", s, filecrc, alt);
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

struct dsrv_file_meta *
dsrv_meta_copy(const struct dsrv_file_meta *m)
{
	struct dsrv_file_meta	*c;

	if ((c = calloc(1, sizeof(*c))) == NULL)
		return (NULL);
	*c = *m;
	c->chunks = NULL;
	if ((c->name = strdup(m->name != NULL ? m->name : "")) == NULL ||
	    (m->nchunks > 0 && (c->chunks = reallocarray(NULL, m->nchunks,
	    sizeof(*c->chunks))) == NULL)) {
		dsrv_meta_free(c);
		return (NULL);
	}
	if (m->nchunks > 0)
		memcpy(c->chunks, m->chunks, m->nchunks * sizeof(*c->chunks));
	return (c);
}

int
dsrvfile_meta_check(const struct dsrv_file_meta *m, char *err, size_t errlen)
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
	if (m->upload != 0 && !m->has_sha256) {
		errf(err, errlen, "%s: metadata of a stream without a "
		    "sha256", m->name);
		return (-1);
	}
	crc = crc32(0L, Z_NULL, 0);
	for (i = 0, off = 0; i < m->nchunks; i++) {
		if (m->chunks[i].alt > DSRV_ALT_MAX) {
			errf(err, errlen, "%s: metadata: chunk %zu has "
			    "alternate name %u, more than %d", m->name, i,
			    m->chunks[i].alt, DSRV_ALT_MAX);
			return (-1);
		}
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
	int		 rc = -1, version = DSRV_META_VERSION_D;

	if (dsrvfile_meta_check(m, err, errlen) == -1)
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
		cm[i].alt = m->chunks[i].alt;
		if (cm[i].alt != 0)
			version = DSRV_META_VERSION;
		cmp[i] = &cm[i];
	}
	/* D's readers know version 1: keep it while D's names do. */
	fm.upload = m->upload;
	if (m->upload != 0)
		version = DSRV_META_VERSION;
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
	    version) == -1 ||
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

/*
 * What decoding may allocate.  protobuf-c takes about 112 bytes for a
 * chunk entry and a copy of every string and unknown field: 128 bytes
 * an entry, twice the packed size and room to spare cover any file,
 * the 4 TiB ones included.  The entries are counted first (meta_scan),
 * so that 8 MiB of empty entries is refused before any is unpacked.
 */
#define META_ENTRY_COST		128
#define META_BUDGET(plen, n)	(2 * (size_t)(plen) + \
				    META_ENTRY_COST * (size_t)(n) + 65536)

struct meta_budget {
	size_t	 left;
	int	 over;
};

static void *
meta_alloc(void *arg, size_t size)
{
	struct meta_budget	*b = arg;

	if (size > b->left) {
		b->over = 1;
		return (NULL);
	}
	b->left -= size;
	return (malloc(size));
}

static void
meta_free(void *arg, void *p)
{
	free(p);
}

/* A protobuf varint at p[*off..len); -1 if cut short or too long. */
static int
meta_varint(const uint8_t *p, size_t len, size_t *off, uint64_t *v)
{
	int	 shift;

	*v = 0;
	for (shift = 0; shift < 64 && *off < len; shift += 7) {
		*v |= (uint64_t)(p[*off] & 0x7f) << shift;
		if ((p[(*off)++] & 0x80) == 0)
			return (0);
	}
	return (-1);
}

/*
 * Walk the packed FileMeta's fields without unpacking them: every one
 * must be one of meta.proto's with its wire type, and the chunk
 * entries are counted.  *length is the file's declared length.
 */
static int
meta_scan(const uint8_t *p, size_t len, size_t *nchunks, uint64_t *length)
{
	static const int	 wtype[] = { -1, 2, 0, 0, 2, 0, 2, 1 };
	uint64_t		 key, v;
	size_t			 off = 0;

	*nchunks = 0;
	*length = 0;
	while (off < len) {
		if (meta_varint(p, len, &off, &key) == -1 || key >> 3 == 0 ||
		    key >> 3 >= sizeof(wtype) / sizeof(wtype[0]) ||
		    (int)(key & 7) != wtype[key >> 3])
			return (-1);
		switch (key & 7) {
		case 0:
			if (meta_varint(p, len, &off, &v) == -1)
				return (-1);
			if (key >> 3 == 2)
				*length = v;
			break;
		case 1:
			if (len - off < 8)
				return (-1);
			off += 8;
			break;
		default:
			if (meta_varint(p, len, &off, &v) == -1 ||
			    v > len - off)
				return (-1);
			off += v;
			if (key >> 3 == 6)
				(*nchunks)++;
			break;
		}
	}
	return (0);
}

int
dsrv_meta_decode(const uint8_t *buf, size_t len, struct dsrv_file_meta **mp,
    char *err, size_t errlen)
{
	struct dsrv_file_meta	*m = NULL;
	FileMeta		*fm = NULL;
	ProtobufCAllocator	 alloc;
	struct meta_budget	 budget = { 0, 0 };
	uint64_t		 version = 0, declared;
	size_t			 nent;
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
			version = be64_get(val);
			if (version != DSRV_META_VERSION_D &&
			    version != DSRV_META_VERSION) {
				errf(err, errlen, "metadata format "
				    "version %" PRIu64 ", not %d or %d",
				    version, DSRV_META_VERSION_D,
				    DSRV_META_VERSION);
				goto done;
			}
			break;
		case META_F_PACKLEN:
			if (nfield != 2 || type != WIRE_T_UINT ||
			    be64_get(val) > len)
				goto bad;
			plen = be64_get(val);
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
	/*
	 * The server is not trusted: protobuf-c allocates for every
	 * repeated entry, however empty.  The entries are counted and held
	 * to the declared length before anything is unpacked, and the
	 * unpacking gets a budget of memory.
	 */
	if (meta_scan(packed, plen, &nent, &declared) == -1) {
		errf(err, errlen, "metadata: the protobuf does not decode "
		    "(an unknown field, or one cut short)");
		goto done;
	}
	if (nent > DSRV_CHUNKS_MAX) {
		errf(err, errlen, "metadata: %zu chunk entries, more than %d",
		    nent, DSRV_CHUNKS_MAX);
		goto done;
	}
	if (nent != declared / DSRV_CHUNK_SIZE +
	    (declared % DSRV_CHUNK_SIZE != 0)) {
		errf(err, errlen, "metadata lists %zu chunks for %" PRIu64
		    " bytes", nent, declared);
		goto done;
	}
	budget.left = META_BUDGET(plen, nent);
	alloc.alloc = meta_alloc;
	alloc.free = meta_free;
	alloc.allocator_data = &budget;
	if ((fm = file_meta__unpack(&alloc, plen, packed)) == NULL) {
		if (budget.over)
			errf(err, errlen, "metadata: decoding it would take "
			    "more than %zu bytes of memory",
			    META_BUDGET(plen, nent));
		else
			errf(err, errlen, "metadata: the protobuf does "
			    "not decode");
		goto done;
	}
	if (fm->n_chunks > DSRV_CHUNKS_MAX) {
		errf(err, errlen, "metadata: %zu chunks, more than %d",
		    fm->n_chunks, DSRV_CHUNKS_MAX);
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
	m->upload = fm->upload;
	for (i = 0; i < m->nchunks; i++) {
		m->chunks[i].length = fm->chunks[i]->length;
		m->chunks[i].crc = fm->chunks[i]->crc32;
		m->chunks[i].alt = fm->chunks[i]->alt;
		if (m->chunks[i].alt != 0 && version == DSRV_META_VERSION_D)
			goto bad;
	}
	if (m->upload != 0 && version == DSRV_META_VERSION_D)
		goto bad;
	if (dsrvfile_meta_check(m, err, errlen) == -1)
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
		file_meta__free_unpacked(fm, &alloc);
	free(packed);
	dsrv_meta_free(m);
	return (rc);
}

/* name is one of the alternate metadata names of m. */
static int
meta_altname(const struct dsrv_file_meta *m, const char *name)
{
	char		 want[CHUNK_NAME_MAX + 1];
	uint32_t	 k;

	for (k = 1; k <= DSRV_ALT_MAX; k++) {
		dsrv_meta_name(m->name, m->crc, k, want);
		if (strcmp(want, name) == 0)
			return (1);
	}
	return (0);
}

/* A metadata chunk under another file's name is as corrupt as a bad field. */
int
dsrvfile_meta_fetch(struct dsrv_pool *pool, const char *metaname, uint8_t *buf,
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
	dsrv_meta_name(m->name, m->crc, 0, want);
	if (strcmp(want, metaname) != 0 && !meta_altname(m, metaname)) {
		errf(err, errlen, "%s: %s: metadata of another "
		    "file (%s)", dsrv_pool_peer(pool), metaname, want);
		dsrv_meta_free(m);
		return (WIRE_E_CORRUPT);
	}
	(void)strlcpy(m->metaname, metaname, sizeof(m->metaname));
	*mp = m;
	return (WIRE_E_OK);
}
