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
 * Part of a file: bytes [off, off + len) of a file mapped onto its
 * chunks (every chunk but the last is DSRV_CHUNK_SIZE bytes, see
 * dsrv-file(5)) and fetched with ranged READs, so that a few hundred
 * bytes cost a few hundred bytes on the network and not a chunk each.
 *
 * The server checks each whole chunk against its stored crc32 before
 * it answers a range; here only the bytes received can be checked,
 * against the crc32 of the range the server sent.  A chunk that the
 * range covers whole is read with a plain READ instead and checked
 * against the metadata's crc32 as well: same bytes, a stronger check.
 * Against a server older than ranged READs (BADREQUEST, remembered by
 * the pool) every chunk is read whole and the range cut out here.
 */
#include <sys/types.h>

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <zlib.h>

#include "chunkname.h"
#include "dsrvfile.h"
#include "dsrvfile_int.h"
#include "pool.h"
#include "wire.h"

static int	 range_chunk(struct dsrv_pool *, const struct dsrv_file_meta *,
		    size_t, size_t, size_t, uint8_t *, char *, size_t);
static int	 range_whole(struct dsrv_pool *, const struct dsrv_file_meta *,
		    size_t, const char *, size_t, size_t, uint8_t *, char *,
		    size_t);
static int	 range_code(int);

int
dsrv_file_read_range(struct dsrv_pool *pool, const struct dsrv_file_meta *m,
    uint64_t off, size_t len, void *buf, size_t *got, char *err,
    size_t errlen)
{
	uint8_t		*out = buf;
	uint64_t	 pos, end, coff;
	size_t		 i, clen;
	int		 rc;

	*got = 0;
	if (dsrvfile_meta_check(m, err, errlen) == -1)
		return (-1);
	if (off > m->length) {
		errf(err, errlen, "%s: range starts beyond the end of the "
		    "file: offset %" PRIu64 ", the file has %" PRIu64 " bytes",
		    m->name, off, m->length);
		return (WIRE_E_RANGE);
	}
	if (len > m->length - off)
		len = m->length - off;
	end = off + len;
	for (pos = off; pos < end; pos += clen) {
		i = pos / DSRV_CHUNK_SIZE;
		coff = pos - (uint64_t)i * DSRV_CHUNK_SIZE;
		clen = m->chunks[i].length - coff < end - pos ?
		    m->chunks[i].length - coff : end - pos;
		if ((rc = range_chunk(pool, m, i, coff, clen, out + (pos - off),
		    err, errlen)) != WIRE_E_OK)
			return (rc);
	}
	*got = len;
	return (WIRE_E_OK);
}

/* clen bytes at coff of chunk i to dst, all of them or an error. */
static int
range_chunk(struct dsrv_pool *pool, const struct dsrv_file_meta *m, size_t i,
    size_t coff, size_t clen, uint8_t *dst, char *err, size_t errlen)
{
	const struct dsrv_chunk_meta	*cm = &m->chunks[i];
	char				 name[CHUNK_NAME_MAX + 1];
	char				 e[DSRV_CLIENT_ERRLEN];
	size_t				 n;
	int				 rc;

	dsrv_chunk_name(m, i, name);
	if ((coff == 0 && clen == cm->length) || !dsrv_pool_has_range(pool))
		return (range_whole(pool, m, i, name, coff, clen, dst, err,
		    errlen));
	rc = dsrv_pool_read_range(pool, name, coff, clen, dst, &n, e,
	    sizeof(e));
	if (rc == WIRE_E_BADREQUEST && !dsrv_pool_has_range(pool))
		return (range_whole(pool, m, i, name, coff, clen, dst, err,
		    errlen));
	if (rc != WIRE_E_OK) {
		errf(err, errlen, "%s: chunk %zu (%s): %s", m->name, i, name,
		    e);
		return (range_code(rc));
	}
	if (n != clen) {
		errf(err, errlen, "%s: %s: chunk %zu (%s): %zu bytes at %zu "
		    "gave %zu, the metadata says the chunk has %" PRIu64,
		    dsrv_pool_peer(pool), m->name, i, name, clen, coff, n,
		    cm->length);
		return (WIRE_E_CORRUPT);
	}
	return (WIRE_E_OK);
}

/*
 * The whole chunk i with a plain READ, checked against the metadata's
 * length and crc32, and the range cut out of it.
 */
static int
range_whole(struct dsrv_pool *pool, const struct dsrv_file_meta *m, size_t i,
    const char *name, size_t coff, size_t clen, uint8_t *dst, char *err,
    size_t errlen)
{
	const struct dsrv_chunk_meta	*cm = &m->chunks[i];
	char				 e[DSRV_CLIENT_ERRLEN];
	uint8_t				*whole;
	uint32_t			 crc;
	size_t				 n;
	int				 rc;

	if (coff == 0 && clen == cm->length)
		whole = dst;
	else if ((whole = malloc(cm->length)) == NULL) {
		errf(err, errlen, "out of memory");
		return (-1);
	}
	rc = dsrv_pool_read(pool, name, whole, cm->length, &n, e, sizeof(e));
	if (rc != WIRE_E_OK) {
		errf(err, errlen, "%s: chunk %zu (%s): %s", m->name, i, name,
		    e);
		rc = rc == WIRE_E_TOOBIG ? WIRE_E_CORRUPT : range_code(rc);
		goto done;
	}
	crc = crc32(0L, whole, n);
	if (n != cm->length || crc != cm->crc) {
		errf(err, errlen, "%s: %s: chunk %zu (%s): %s mismatch: %zu "
		    "bytes with crc32 %08x, the metadata says %" PRIu64
		    " bytes with %08x", dsrv_pool_peer(pool), m->name, i, name,
		    n != cm->length ? "length" : "crc32", n, crc, cm->length,
		    cm->crc);
		rc = WIRE_E_CORRUPT;
		goto done;
	}
	if (whole != dst)
		memcpy(dst, whole + coff, clen);
 done:
	if (whole != dst)
		free(whole);
	return (rc);
}

/*
 * A chunk that its metadata lists and that is missing, rotted or
 * shorter than listed is lost data; other codes are the caller's.
 */
static int
range_code(int rc)
{
	switch (rc) {
	case WIRE_E_NOTFOUND:
	case WIRE_E_CORRUPT:
	case WIRE_E_CRC:
	case WIRE_E_RANGE:
		return (WIRE_E_CORRUPT);
	default:
		return (rc);
	}
}
