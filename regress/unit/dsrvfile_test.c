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
 * Unit tests for lib/dsrvfile.c without a server: chunk names, the
 * sanitized metadata names, crc32_combine as the writer and reader use
 * it, and the metadata encoding: a round trip, and every corruption of
 * the encoded form refused.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <zlib.h>

#include "chunkname.h"
#include "dsrvfile.h"
#include "wire.h"
#include "tap.h"

static void	 check_data_names(void);
static void	 check_meta_names(void);
static void	 check_combine(void);
static struct dsrv_file_meta *make_meta(const char *, uint64_t, int);
static int	 meta_equal(const struct dsrv_file_meta *,
		    const struct dsrv_file_meta *);
static void	 check_roundtrip(const char *, uint64_t, int);
static void	 check_refused_encode(void);
static void	 check_corruption(void);
static void	 check_forged(void);
static uint32_t	 rnd(void);

static uint64_t	 rstate = 0x9e3779b97f4a7c15ULL;

/* xorshift: reproducible, and good enough to make up crcs. */
static uint32_t
rnd(void)
{
	rstate ^= rstate << 13;
	rstate ^= rstate >> 7;
	rstate ^= rstate << 17;
	return ((uint32_t)(rstate >> 16));
}

static void
check_data_names(void)
{
	char		 n[CHUNK_NAME_MAX + 1];
	const char	*why;
	size_t		 dl;

	dsrv_data_name(0x0a1b2c3d, 3, 0xdeadbeef, n);
	is_str(n, "0a/0a1b2c3d-00000003-deadbeef", "data chunk name");
	ok(chunk_name_check(n, strlen(n), &dl, &why) == 0 && dl == 2,
	    "data chunk name is a valid chunk name");
	dsrv_data_name(0, 0, 0, n);
	is_str(n, "00/00000000-00000000-00000000", "data chunk name, zeros");
	dsrv_data_name(0xffffffff, 0xffffffff, 0xffffffff, n);
	is_str(n, "ff/ffffffff-ffffffff-ffffffff", "data chunk name, ones");
}

static void
check_meta_names(void)
{
	static const struct {
		const char	*name;
		const char	*want;
	} t[] = {
		{ "hello.txt", "index/hello.txt-0a1b2c3d" },
		{ ".profile", "index/_profile-0a1b2c3d" },
		{ "..", "index/_.-0a1b2c3d" },
		{ "a b/c:d", "index/a_b_c_d-0a1b2c3d" },
		{ "/etc/passwd", "index/_etc_passwd-0a1b2c3d" },
		{ "", "index/_-0a1b2c3d" },
		{ "caf\xc3\xa9", "index/caf__-0a1b2c3d" },
		{ "x.y-z_Z09", "index/x.y-z_Z09-0a1b2c3d" },
		{ "a\nb\tc\\d", "index/a_b_c_d-0a1b2c3d" },
	};
	char		 n[CHUNK_NAME_MAX + 1], longname[400], want[300];
	const char	*why;
	size_t		 i, dl;

	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		dsrv_meta_name(t[i].name, 0x0a1b2c3d, 0, n);
		is_str(n, t[i].want, "metadata name %s", t[i].want);
		ok(chunk_name_check(n, strlen(n), &dl, &why) == 0 && dl == 5,
		    "... is a valid chunk name");
	}
	memset(longname, 'x', sizeof(longname) - 1);
	longname[sizeof(longname) - 1] = '\0';
	longname[0] = '.';
	dsrv_meta_name(longname, 0xffffffff, 0, n);
	memset(want, 'x', DSRV_SANITIZED_MAX);
	want[0] = '_';
	(void)snprintf(want + DSRV_SANITIZED_MAX,
	    sizeof(want) - DSRV_SANITIZED_MAX, "-ffffffff");
	is_int(strlen(n), strlen("index/") + DSRV_SANITIZED_MAX + 9,
	    "a 399-byte name is cut to %d", DSRV_SANITIZED_MAX);
	ok(strcmp(n + strlen("index/"), want) == 0, "... and sanitized");
	ok(chunk_name_check(n, strlen(n), &dl, &why) == 0,
	    "... a valid chunk name at the length limit");
}

/*
 * The writer combines chunk crcs in order; the result must be the
 * crc32 of the whole, also for chunks of unequal lengths and empty ones.
 */
static void
check_combine(void)
{
	static const size_t	 cuts[][3] = {
		{ 0, 100, 4096 }, { 1, 1, 4096 }, { 4095, 4096, 4096 },
		{ 0, 0, 0 }, { 1000, 3000, 4000 },
	};
	uint8_t		*buf;
	uLong		 whole, c, part;
	size_t		 i, j, from, to;

	if ((buf = malloc(4096)) == NULL)
		return;
	for (i = 0; i < 4096; i++)
		buf[i] = rnd();
	whole = crc32(crc32(0L, Z_NULL, 0), buf, 4096);
	for (i = 0; i < sizeof(cuts) / sizeof(cuts[0]); i++) {
		c = crc32(0L, Z_NULL, 0);
		for (j = 0, from = 0; j <= 3; j++) {
			to = j < 3 ? cuts[i][j] : 4096;
			part = crc32(0L, buf + from, to - from);
			c = crc32_combine(c, part, (z_off_t)(to - from));
			from = to;
		}
		is_int(c, whole, "crc32_combine over cuts %zu %zu %zu",
		    cuts[i][0], cuts[i][1], cuts[i][2]);
	}
	is_int(crc32(0L, Z_NULL, 0), 0, "crc32 of nothing is 0");
	free(buf);
}

/* Metadata of a file of length bytes, with made-up chunk crcs. */
static struct dsrv_file_meta *
make_meta(const char *name, uint64_t length, int sha)
{
	struct dsrv_file_meta	*m;
	uint64_t		 left;
	uLong			 crc;
	size_t			 i;

	if ((m = calloc(1, sizeof(*m))) == NULL ||
	    (m->name = strdup(name)) == NULL)
		abort();
	m->length = length;
	m->nchunks = length / DSRV_CHUNK_SIZE + (length % DSRV_CHUNK_SIZE != 0);
	if (m->nchunks > 0 &&
	    (m->chunks = calloc(m->nchunks, sizeof(*m->chunks))) == NULL)
		abort();
	crc = crc32(0L, Z_NULL, 0);
	for (i = 0, left = length; i < m->nchunks; i++) {
		m->chunks[i].length = left < DSRV_CHUNK_SIZE ? left :
		    DSRV_CHUNK_SIZE;
		m->chunks[i].crc = rnd();
		crc = crc32_combine(crc, m->chunks[i].crc,
		    (z_off_t)m->chunks[i].length);
		left -= m->chunks[i].length;
	}
	m->crc = crc;
	if (sha) {
		for (i = 0; i < sizeof(m->sha256); i++)
			m->sha256[i] = rnd();
		m->has_sha256 = 1;
	}
	m->stored_at = 1700000000 + rnd();
	return (m);
}

static int
meta_equal(const struct dsrv_file_meta *a, const struct dsrv_file_meta *b)
{
	return (strcmp(a->name, b->name) == 0 && a->length == b->length &&
	    a->crc == b->crc && a->has_sha256 == b->has_sha256 &&
	    memcmp(a->sha256, b->sha256, sizeof(a->sha256)) == 0 &&
	    a->stored_at == b->stored_at && a->nchunks == b->nchunks &&
	    (a->nchunks == 0 || memcmp(a->chunks, b->chunks,
	    a->nchunks * sizeof(*a->chunks)) == 0));
}

static void
check_roundtrip(const char *name, uint64_t length, int sha)
{
	struct dsrv_file_meta	*m, *d = NULL;
	char			 err[DSRV_CLIENT_ERRLEN];
	uint8_t			*buf;
	size_t			 len;

	m = make_meta(name, length, sha);
	if (!ok(dsrv_meta_encode(m, &buf, &len, err, sizeof(err)) == 0,
	    "encode %s, %llu bytes%s", name, (unsigned long long)length,
	    sha ? ", sha256" : "")) {
		diag("%s", err);
		dsrv_meta_free(m);
		return;
	}
	if (!ok(dsrv_meta_decode(buf, len, &d, err, sizeof(err)) == 0,
	    "... decodes"))
		diag("%s", err);
	else
		ok(meta_equal(m, d), "... to the same metadata");
	dsrv_meta_free(d);
	dsrv_meta_free(m);
	free(buf);
}

static void
check_refused_encode(void)
{
	struct dsrv_file_meta	*m;
	char			 err[DSRV_CLIENT_ERRLEN];
	uint8_t			*buf = NULL;
	size_t			 len;

	m = make_meta("f", 3 * (uint64_t)DSRV_CHUNK_SIZE + 7, 0);
	m->crc ^= 1;
	ok(dsrv_meta_encode(m, &buf, &len, err, sizeof(err)) == -1 &&
	    strstr(err, "combine") != NULL,
	    "encode refuses chunk crcs that do not combine to the file's");
	m->crc ^= 1;
	m->chunks[1].length--;
	ok(dsrv_meta_encode(m, &buf, &len, err, sizeof(err)) == -1,
	    "encode refuses a short chunk in the middle");
	m->chunks[1].length++;
	m->nchunks--;
	ok(dsrv_meta_encode(m, &buf, &len, err, sizeof(err)) == -1,
	    "encode refuses a missing chunk");
	m->nchunks++;
	m->name[0] = '\0';
	ok(dsrv_meta_encode(m, &buf, &len, err, sizeof(err)) == -1,
	    "encode refuses an empty name");
	dsrv_meta_free(m);
}

/*
 * Each byte of the encoded form flipped in three ways, and every
 * truncation: none may decode.  A large file's metadata spans several
 * fields, so cutting at a field boundary is tried too.
 */
static void
check_corruption(void)
{
	static const struct {
		uint64_t	 length;
		int		 sha;
	} files[] = {
		{ 0, 0 }, { 1, 1 }, { 3 * (uint64_t)DSRV_CHUNK_SIZE + 1, 1 },
		{ 5200 * (uint64_t)DSRV_CHUNK_SIZE, 1 },
	};
	static const uint8_t	 flips[] = { 0x01, 0x80, 0xff };
	struct dsrv_file_meta	*m, *d;
	char			 err[DSRV_CLIENT_ERRLEN];
	uint8_t			*buf, *copy;
	size_t			 len, i, j, f, bad, nfields;
	size_t			 off;
	uint8_t			 tag, type;
	const uint8_t		*val;
	size_t			 vlen;
	const char		*why;

	for (f = 0; f < sizeof(files) / sizeof(files[0]); f++) {
		m = make_meta("some/file name", files[f].length, files[f].sha);
		if (dsrv_meta_encode(m, &buf, &len, err, sizeof(err)) == -1) {
			ok(0, "encode: %s", err);
			dsrv_meta_free(m);
			continue;
		}
		if ((copy = malloc(len + 1)) == NULL)
			abort();
		/* Flipping every byte of 70 KB is quick enough. */
		for (i = 0, bad = 0; i < len; i++) {
			for (j = 0; j < sizeof(flips); j++) {
				memcpy(copy, buf, len);
				copy[i] ^= flips[j];
				if (dsrv_meta_decode(copy, len, &d, err,
				    sizeof(err)) == 0) {
					if (bad++ == 0)
						diag("byte %zu ^ %02x decodes",
						    i, flips[j]);
					dsrv_meta_free(d);
				}
			}
		}
		is_int(bad, 0, "%llu bytes: all %zu single-byte corruptions "
		    "refused", (unsigned long long)files[f].length, 3 * len);
		for (i = 0, bad = 0; i < len; i++) {
			if (dsrv_meta_decode(buf, i, &d, err,
			    sizeof(err)) == 0) {
				if (bad++ == 0)
					diag("cut at %zu decodes", i);
				dsrv_meta_free(d);
			}
		}
		is_int(bad, 0, "... all %zu truncations refused", len);
		memcpy(copy, buf, len);
		copy[len] = 0;
		ok(dsrv_meta_decode(copy, len + 1, &d, err, sizeof(err)) == -1,
		    "... a trailing byte refused");
		for (off = 0, nfields = 0; wire_field_next(buf, len, &off,
		    &tag, &type, &val, &vlen, &why) == 1; )
			nfields++;
		if (files[f].length > 1000 * (uint64_t)DSRV_CHUNK_SIZE)
			ok(nfields > 3, "... %zu fields for a large file",
			    nfields);
		free(copy);
		free(buf);
		dsrv_meta_free(m);
	}
}

/* Well-formed fields that are not valid metadata. */
static void
check_forged(void)
{
	struct dsrv_file_meta	*d;
	char			 err[DSRV_CLIENT_ERRLEN];
	uint8_t			 buf[256];
	size_t			 off;

	off = 0;
	(void)wire_field_uint(buf, sizeof(buf), &off, 1, 3);
	(void)wire_field_uint(buf, sizeof(buf), &off, 3, 0);
	(void)wire_field_bytes(buf, sizeof(buf), &off, 2, "", 0);
	ok(dsrv_meta_decode(buf, off, &d, err, sizeof(err)) == -1 &&
	    strstr(err, "version") != NULL, "version 3 refused: %s", err);

	off = 0;
	(void)wire_field_uint(buf, sizeof(buf), &off, 1, 1);
	(void)wire_field_bytes(buf, sizeof(buf), &off, 2, "", 0);
	ok(dsrv_meta_decode(buf, off, &d, err, sizeof(err)) == -1,
	    "no packed length refused");

	off = 0;
	(void)wire_field_uint(buf, sizeof(buf), &off, 1, 1);
	(void)wire_field_uint(buf, sizeof(buf), &off, 3, 0);
	(void)wire_field_bytes(buf, sizeof(buf), &off, 2, "", 0);
	(void)wire_field_uint(buf, sizeof(buf), &off, 9, 0);
	ok(dsrv_meta_decode(buf, off, &d, err, sizeof(err)) == -1,
	    "an unknown field refused");

	off = 0;
	(void)wire_field_uint(buf, sizeof(buf), &off, 1, 1);
	(void)wire_field_uint(buf, sizeof(buf), &off, 3, 0);
	(void)wire_field_bytes(buf, sizeof(buf), &off, 2, "", 0);
	ok(dsrv_meta_decode(buf, off, &d, err, sizeof(err)) == -1,
	    "an empty FileMeta (no name) refused: %s", err);

	off = 0;
	(void)wire_field_uint(buf, sizeof(buf), &off, 1, 1);
	(void)wire_field_uint(buf, sizeof(buf), &off, 3, 4);
	(void)wire_field_bytes(buf, sizeof(buf), &off, 2, "\x0a\x02zz", 4);
	ok(dsrv_meta_decode(buf, off, &d, err, sizeof(err)) == 0 &&
	    strcmp(d->name, "zz") == 0 && d->nchunks == 0,
	    "a hand-made FileMeta of an empty file decodes");
	if (d != NULL)
		dsrv_meta_free(d);

	off = 0;
	(void)wire_field_uint(buf, sizeof(buf), &off, 1, 1);
	(void)wire_field_uint(buf, sizeof(buf), &off, 3, 6);
	(void)wire_field_bytes(buf, sizeof(buf), &off, 2, "\x0a\x02zz\x10\x05",
	    6);
	ok(dsrv_meta_decode(buf, off, &d, err, sizeof(err)) == -1,
	    "5 bytes without chunks refused: %s", err);

	off = 0;
	(void)wire_field_uint(buf, sizeof(buf), &off, 1, 1);
	(void)wire_field_uint(buf, sizeof(buf), &off, 3, 6);
	(void)wire_field_bytes(buf, sizeof(buf), &off, 2,
	    "\x0a\x02zz\x22\x01", 6);
	ok(dsrv_meta_decode(buf, off, &d, err, sizeof(err)) == -1,
	    "a 1-byte sha256 refused: %s", err);
}

int
main(void)
{
	check_data_names();
	check_meta_names();
	check_combine();
	check_roundtrip("a", 0, 0);
	check_roundtrip("b", 1, 1);
	check_roundtrip("exactly one chunk", DSRV_CHUNK_SIZE, 0);
	check_roundtrip("one chunk and a byte", DSRV_CHUNK_SIZE + 1, 1);
	check_roundtrip("caf\xc3\xa9 \xff", 300 * (uint64_t)1024 * 1024, 1);
	/* 20000 chunks: the packed FileMeta spans several fields. */
	check_roundtrip("big", 20000 * (uint64_t)DSRV_CHUNK_SIZE - 3, 1);
	check_refused_encode();
	check_corruption();
	check_forged();
	return (tap_done());
}
