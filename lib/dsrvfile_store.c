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
 * Storing one chunk of a file for the writer (dsrvfile_write.c): a
 * data chunk under its name or the first alternate that is free or
 * holds the same bytes, and the metadata chunk likewise, so that a
 * crc32 twin or a rotted chunk never stops a file from being stored and
 * a chunk already there is not sent again.
 */
#include <sys/types.h>

#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "chunkname.h"
#include "dsrvfile.h"
#include "dsrvfile_int.h"
#include "pool.h"
#include "sha256.h"
#include "wire.h"

static int	 meta_same(const struct dsrv_file_meta *,
		    const struct dsrv_file_meta *);

/*
 * Store one chunk under its name, or the first alternate that is free
 * or holds the same bytes.  DIGEST tells which without sending: the
 * same length, crc32 and sha256 is this chunk, anything else (or a
 * chunk the server finds corrupt) is not.  A server or key without
 * DIGEST leaves WRITE to tell: it succeeds for the same bytes and
 * answers EXISTS for others.
 */
int
dsrvfile_chunk_store(struct dsrv_pool *pool, struct dsrvfile_put *p,
    char *err, size_t errlen)
{
	char		 name[CHUNK_NAME_MAX + 1];
	uint8_t		 sha[32], ssha[32];
	uint64_t	 slen;
	uint32_t	 k, scrc;
	int		 rc, hashed = 0;

	p->skipped = 0;
	p->code = -1;
	for (k = 0; k <= DSRV_ALT_MAX; k++) {
		dsrvfile_chunk_name(p->filecrc, p->upload, p->index, p->crc,
		    k, name);
		if (__atomic_load_n(p->digest, __ATOMIC_RELAXED)) {
			rc = dsrv_pool_digest(pool, name, &slen, &scrc, ssha,
			    err, errlen);
			if (rc == WIRE_E_OK) {
				if (slen == p->len && scrc == p->crc) {
					if (!hashed) {
						dsrv_sha256(sha, p->data,
						    p->len);
						hashed = 1;
					}
					if (sodium_memcmp(sha, ssha,
					    sizeof(sha)) == 0) {
						p->alt = k;
						p->skipped = 1;
						return (0);
					}
				}
				continue;
			}
			if (rc == WIRE_E_CORRUPT)
				continue;
			if (rc == WIRE_E_BADREQUEST || rc == WIRE_E_PERM)
				__atomic_store_n(p->digest, 0,
				    __ATOMIC_RELAXED);
			else if (rc != WIRE_E_NOTFOUND) {
				p->code = rc;
				return (-1);
			}
		}
		rc = dsrv_pool_write(pool, name, p->data, p->len, err,
		    errlen);
		if (rc > 0 || rc == WIRE_E_OK)
			p->sent += p->len;
		if (rc == WIRE_E_OK) {
			p->alt = k;
			return (0);
		}
		if (rc != WIRE_E_EXISTS) {
			p->code = rc;
			return (-1);
		}
	}
	errf(err, errlen, "%s and its %d alternate names are all taken by "
	    "other data", name, DSRV_ALT_MAX);
	return (-1);
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
	    a->crc == b->crc && a->upload == b->upload &&
	    (!a->has_sha256 || !b->has_sha256 ||
	    memcmp(a->sha256, b->sha256, 32) == 0) &&
	    a->nchunks == b->nchunks && (a->nchunks == 0 ||
	    memcmp(a->chunks, b->chunks, a->nchunks * sizeof(*a->chunks)) ==
	    0));
}

/*
 * The metadata chunk.  Its name depends only on the file's name and
 * crc, but stored_at makes its content differ between two puts of the
 * same file: an existing one that describes the same file is success.
 * One that describes another file with the same name and crc32, or
 * that cannot be read, sends this one to the next alternate name.
 */
int
dsrvfile_meta_store(struct dsrv_pool *pool, struct dsrv_file_meta *m,
    uint64_t *sent, char *err, size_t errlen)
{
	struct dsrv_file_meta	*old;
	uint8_t			*buf, *rbuf = NULL;
	char			 e[DSRV_CLIENT_ERRLEN];
	size_t			 len;
	uint32_t		 k;
	int			 rc, same;

	if (dsrv_meta_encode(m, &buf, &len, err, errlen) == -1)
		return (-1);
	for (k = 0; k <= DSRV_ALT_MAX; k++) {
		dsrv_meta_name(m->name, m->crc, k, m->metaname);
		rc = dsrv_pool_write(pool, m->metaname, buf, len, err, errlen);
		if (rc > 0 || rc == WIRE_E_OK)
			*sent += len;
		if (rc == WIRE_E_OK)
			break;
		if (rc != WIRE_E_EXISTS)
			break;
		if (rbuf == NULL && (rbuf = malloc(WIRE_PAYLOAD_MAX)) == NULL) {
			errf(err, errlen, "out of memory");
			rc = -1;
			break;
		}
		rc = dsrvfile_meta_fetch(pool, m->metaname, rbuf, &old, e,
		    sizeof(e));
		if (rc == WIRE_E_PERM) {
			errf(err, errlen, "%s: %s exists, and the key may not "
			    "read it (meta or read) to tell whether it is this "
			    "file's", m->name, m->metaname);
			break;
		}
		if (rc != WIRE_E_OK && rc != WIRE_E_CORRUPT) {
			errf(err, errlen, "%s: %s exists and does not read "
			    "back: %s", m->name, m->metaname, e);
			break;
		}
		same = rc == WIRE_E_OK && meta_same(m, old);
		dsrv_meta_free(old);
		if (same) {
			rc = WIRE_E_OK;
			break;
		}
		errf(err, errlen, "%s: %s: %s and its %d alternate names are "
		    "all taken by the metadata of other files",
		    dsrv_pool_peer(pool), m->name, m->metaname,
		    DSRV_ALT_MAX);
		rc = -1;
	}
	free(buf);
	free(rbuf);
	return (rc == WIRE_E_OK ? 0 : -1);
}
