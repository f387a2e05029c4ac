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
 * metavec: the test vectors of man/dsrv-file.5, made by lib/'s own file
 * layer (dsrvfile_meta.c), and the rules the page states, tried on it.
 *
 *	metavec vectors		the mdoc text between the page's markers
 *	metavec describe N	vector N's metadata, as decode prints it
 *	metavec decode		hex of a metadata chunk on stdin, decoded
 *	metavec rules		the names of the rules
 *	metavec rule NAME	try one rule: exit 0 if the code keeps it
 *
 * vectors also checks each vector both ways (decode of the encoding
 * gives the inputs back, and the sums agree with zlib and libsodium
 * computed directly) and exits 1, saying why on stderr, if not.
 * Exit status 2 on usage errors.
 */

#include <sys/types.h>

#include <ctype.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>
#include <zlib.h>

#include "bytes.h"
#include "dsrvfile.h"
#include "dsrvfile_int.h"
#include "sha256.h"
#include "wire.h"

#define ERRLEN		1024
#define T0		1767225600ULL	/* 2026-01-01T00:00:00Z */

struct vec {
	const char	*title;		/* mdoc, one line */
	const char	*what;		/* mdoc lines: the contents */
	const char	*name;
	uint64_t	 stored_at;
	uint64_t	 upload;
	uint32_t	 metaalt;	/* the metadata name's alternate */
	uint32_t	 alt0;		/* chunk 0's alternate */
	int		 hex;		/* print the metadata chunk */
};

static const struct vec vecs[] = {
	{ "a small file, version 1",
	  "The 13 bytes\n.Qq hello, world\nand a newline (0a),\n"
	  "stored by\n.Cm dctl put\nas\n.Qq docs/hello.txt .",
	  "docs/hello.txt", T0, 0, 0, 0, 1 },
	{ "a file of two chunks, version 1",
	  "8 MiB (8,388,608) zero bytes and a newline (0a), 8,388,609 "
	  "bytes\nin all, stored by\n.Cm dctl put\nas\n.Qq big.bin .",
	  "big.bin", T0, 0, 0, 0, 1 },
	{ "a stream, version 2",
	  "The 10 bytes\n.Qq SELECT 1;\nand a newline, stored from a pipe "
	  "by\n.Cm dctl put - db.sql\nwith the upload id 0123456789abcdef.",
	  "db.sql", T0 + 60, 0x0123456789abcdefULL, 0, 0, 1 },
	{ "a crc32 twin, version 2",
	  "The bytes of vector 1 and 4 more, chosen so that the crc32 is\n"
	  "vector 1's, stored a minute later, again as\n"
	  ".Qq docs/hello.txt .\nIts data chunk's name and its metadata "
	  "chunk's name are\nboth taken by vector 1's, with other bytes: both "
	  "take\nalternate name 1.",
	  "docs/hello.txt", T0 + 120, 0, 1, 1, 1 },
};
#define NVECS	(sizeof(vecs) / sizeof(vecs[0]))

/* File names and their metadata names, for the sanitizing rule. */
static const struct {
	const char	*name;
	const char	*mdoc;		/* the name as the page shows it */
} snames[] = {
	{ "docs/hello.txt", "docs/hello.txt" },
	{ ".profile", ".profile" },
	{ "../up", "../up" },
	{ "a b:c~d", "a b:c~d" },
	{ "caf\xc3\xa9.txt", "caf\\('e.txt (UTF-8: 63 61 66 c3 a9 ...)" },
	{ "", "the empty name" },
};

static void	 usage(void) __attribute__((noreturn));
static void	 fail(const char *, ...) __attribute__((format(printf, 1, 2)))
		    __attribute__((noreturn));
static void	 forge(const uint8_t *, size_t, uint32_t, uint8_t[4]);
static uint8_t	*vec_data(size_t, size_t *);
static struct dsrv_file_meta *vec_meta(size_t, uint8_t **, size_t *);
static void	 describe(FILE *, const struct dsrv_file_meta *, uint64_t);
static uint64_t	 meta_version(const uint8_t *, size_t);
static void	 hexdump(const uint8_t *, size_t);
static int	 cmd_vectors(void);
static int	 cmd_decode(void);
static int	 cmd_rule(const char *);

static void
usage(void)
{
	fprintf(stderr, "usage: metavec vectors | describe N | decode | "
	    "rules | rule NAME\n");
	exit(2);
}

static void
fail(const char *fmt, ...)
{
	va_list	 ap;

	va_start(ap, fmt);
	fprintf(stderr, "metavec: ");
	vfprintf(stderr, fmt, ap);
	fprintf(stderr, "\n");
	va_end(ap);
	exit(1);
}

/*
 * The 4 bytes that, appended to buf, make its crc32 want.  zlib's crc32
 * is reflected: 4 bytes x enter the register r = ~crc as r ^ x, then
 * four table steps move them out.  The steps are undone from the top
 * byte, which names its table entry, since those top bytes all differ.
 */
static void
forge(const uint8_t *buf, size_t len, uint32_t want, uint8_t out[4])
{
	const z_crc_t	*tab = get_crc_table();
	uint32_t	 r, x;
	int		 i, j;

	r = ~want;
	for (i = 0; i < 4; i++) {
		for (j = 0; j < 256; j++)
			if ((tab[j] >> 24) == (r >> 24))
				break;
		r = ((r ^ (uint32_t)tab[j]) << 8) | (uint32_t)j;
	}
	x = r ^ ~(uint32_t)crc32(0L, buf, len);
	for (i = 0; i < 4; i++)
		out[i] = (uint8_t)(x >> (8 * i));
}

static uint8_t *
vec_data(size_t n, size_t *len)
{
	static const char	 hello[] = "hello, world\n";
	uint8_t			*b;

	switch (n) {
	case 0:
	case 3:
		if ((b = malloc(sizeof(hello) - 1 + 4)) == NULL)
			fail("out of memory");
		memcpy(b, hello, sizeof(hello) - 1);
		*len = sizeof(hello) - 1;
		if (n == 3) {
			forge(b, *len, crc32(0L, b, *len), b + *len);
			*len += 4;
		}
		return (b);
	case 1:
		*len = DSRV_CHUNK_SIZE + 1;
		if ((b = calloc(1, *len)) == NULL)
			fail("out of memory");
		b[DSRV_CHUNK_SIZE] = '\n';
		return (b);
	case 2:
		if ((b = (uint8_t *)strdup("SELECT 1;\n")) == NULL)
			fail("out of memory");
		*len = strlen((char *)b);
		return (b);
	}
	fail("no vector %zu", n);
}

/* Vector n's metadata as the writer would make it, and its encoding. */
static struct dsrv_file_meta *
vec_meta(size_t n, uint8_t **enc, size_t *enclen)
{
	const struct vec	*v = &vecs[n];
	struct dsrv_file_meta	*m;
	char			 err[ERRLEN];
	uint8_t			*data, sha[32];
	size_t			 len, i, l;
	uLong			 comb;

	data = vec_data(n, &len);
	if ((m = calloc(1, sizeof(*m))) == NULL ||
	    (m->name = strdup(v->name)) == NULL)
		fail("out of memory");
	m->length = len;
	m->crc = crc32(0L, data, len);
	dsrv_sha256(m->sha256, data, len);
	m->has_sha256 = 1;
	m->stored_at = v->stored_at;
	m->upload = v->upload;
	m->nchunks = (len + DSRV_CHUNK_SIZE - 1) / DSRV_CHUNK_SIZE;
	if (m->nchunks > 0 && (m->chunks = calloc(m->nchunks,
	    sizeof(*m->chunks))) == NULL)
		fail("out of memory");
	comb = crc32(0L, Z_NULL, 0);
	for (i = 0; i < m->nchunks; i++) {
		l = len - i * DSRV_CHUNK_SIZE;
		if (l > DSRV_CHUNK_SIZE)
			l = DSRV_CHUNK_SIZE;
		m->chunks[i].length = l;
		m->chunks[i].crc = crc32(0L, data + i * DSRV_CHUNK_SIZE, l);
		comb = crc32_combine(comb, m->chunks[i].crc, (z_off_t)l);
	}
	if (m->nchunks > 0)
		m->chunks[0].alt = v->alt0;
	/* The sums, computed another way. */
	if (comb != m->crc)
		fail("vector %zu: crc32_combine %08lx, crc32 %08x", n + 1,
		    comb, m->crc);
	crypto_hash_sha256(sha, data, len);
	if (memcmp(sha, m->sha256, 32) != 0)
		fail("vector %zu: dsrv_sha256 is not libsodium's", n + 1);
	dsrv_meta_name(m->name, m->crc, v->metaalt, m->metaname);
	free(data);
	if (enc != NULL && dsrv_meta_encode(m, enc, enclen, err,
	    sizeof(err)) == -1)
		fail("vector %zu: dsrv_meta_encode: %s", n + 1, err);
	return (m);
}

/* The first field of an encoding: its version. */
static uint64_t
meta_version(const uint8_t *buf, size_t len)
{
	const uint8_t	*val;
	const char	*errstr;
	size_t		 off = 0, vlen;
	uint8_t		 tag, type;

	if (wire_field_next(buf, len, &off, &tag, &type, &val, &vlen,
	    &errstr) != 1 || tag != 1 || type != WIRE_T_UINT)
		return (0);
	return (be64_get(val));
}

static void
describe(FILE *fp, const struct dsrv_file_meta *m, uint64_t version)
{
	char	 name[CHUNK_NAME_MAX + 1];
	size_t	 i;

	fprintf(fp, "version %" PRIu64 "\nname %s\nlength %" PRIu64 "\n"
	    "crc32 %08x\n", version, m->name, m->length, m->crc);
	fprintf(fp, "sha256 ");
	if (m->has_sha256)
		for (i = 0; i < 32; i++)
			fprintf(fp, "%02x", m->sha256[i]);
	else
		fprintf(fp, "-");
	fprintf(fp, "\nstored_at %" PRIu64 "\nupload %016" PRIx64 "\n",
	    m->stored_at, m->upload);
	for (i = 0; i < m->nchunks; i++) {
		dsrv_chunk_name(m, i, name);
		fprintf(fp, "chunk %zu %" PRIu64 " %08x %u %s\n", i,
		    m->chunks[i].length, m->chunks[i].crc, m->chunks[i].alt,
		    name);
	}
	dsrv_meta_name(m->name, m->crc, 0, name);
	fprintf(fp, "metadata %s\n", name);
}

static void
hexdump(const uint8_t *p, size_t len)
{
	size_t	 i;

	printf(".Bd -literal -offset indent\n");
	for (i = 0; i < len; i++)
		printf("%02x%s", p[i], (i % 16 == 15 || i + 1 == len) ?
		    "\n" : " ");
	printf(".Ed\n");
}

static int
cmd_vectors(void)
{
	struct dsrv_file_meta	*m, *d;
	char			 err[ERRLEN], name[CHUNK_NAME_MAX + 1];
	char			 a[4096], b[4096];
	uint8_t			*enc, *enc2, *data;
	size_t			 n, i, len, len2, dlen;
	FILE			*fa, *fb;

	for (n = 0; n < NVECS; n++) {
		m = vec_meta(n, &enc, &len);
		/* Decoding gives the inputs back, and encodes the same. */
		if (dsrv_meta_decode(enc, len, &d, err, sizeof(err)) == -1)
			fail("vector %zu: dsrv_meta_decode: %s", n + 1, err);
		if ((fa = fmemopen(a, sizeof(a), "w")) == NULL ||
		    (fb = fmemopen(b, sizeof(b), "w")) == NULL)
			fail("fmemopen failed");
		describe(fa, m, meta_version(enc, len));
		describe(fb, d, meta_version(enc, len));
		fclose(fa);
		fclose(fb);
		if (strcmp(a, b) != 0)
			fail("vector %zu: decoding gives another file", n + 1);
		if (dsrv_meta_encode(d, &enc2, &len2, err, sizeof(err)) == -1 ||
		    len2 != len || memcmp(enc, enc2, len) != 0)
			fail("vector %zu: encoding the decoded metadata gives "
			    "other bytes", n + 1);
		free(enc2);
		dsrv_meta_free(d);

		printf(".Ss Vector %zu: %s\n%s\n", n + 1, vecs[n].title,
		    vecs[n].what);
		data = vec_data(n, &dlen);
		if (dlen <= 64) {
			printf(".Pp\nIts bytes:\n");
			hexdump(data, dlen);
		}
		free(data);
		printf(".Bl -tag -width \"metadata chunk\" -offset indent\n");
		printf(".It length\n%" PRIu64 "\n", m->length);
		printf(".It crc32\n%08x\n", m->crc);
		printf(".It SHA-256\n");
		for (i = 0; i < 32; i++)
			printf("%02x%s", m->sha256[i], i == 15 ? "\n" : "");
		printf("\n.It stored_at\n%" PRIu64 "\n", m->stored_at);
		if (m->upload != 0)
			printf(".It upload\n%016" PRIx64 "\n", m->upload);
		for (i = 0; i < m->nchunks; i++) {
			dsrv_chunk_name(m, i, name);
			printf(".It chunk %zu\n%" PRIu64 " byte%s, crc32 %08x"
			    "%s:\n.Li %s\n", i, m->chunks[i].length,
			    m->chunks[i].length == 1 ? "" : "s",
			    m->chunks[i].crc, m->chunks[i].alt != 0 ?
			    ", alternate name" : "", name);
		}
		printf(".It metadata chunk\n.Li %s\n.El\n", m->metaname);
		if (vecs[n].hex) {
			printf(".Pp\nThe metadata chunk, version %" PRIu64
			    ", %zu bytes:\n", meta_version(enc, len), len);
			hexdump(enc, len);
		}
		free(enc);
		dsrv_meta_free(m);
	}
	printf(".Ss Metadata names\nFile names and the names of their "
	    "metadata chunks, for a file\nwhose crc32 is 1234abcd:\n");
	printf(".Bl -column \"caf\\('e.txt (UTF-8: 63 61 66 c3 a9 ...)\" "
	    "\"index/docs_hello.txt-1234abcd\" -offset indent\n");
	printf(".It Sy File name Ta Sy Metadata chunk\n");
	for (i = 0; i < sizeof(snames) / sizeof(snames[0]); i++) {
		dsrv_meta_name(snames[i].name, 0x1234abcd, 0, name);
		printf(".It Li %s Ta Li %s\n", snames[i].mdoc, name);
	}
	printf(".El\n");
	return (0);
}

/* Hex digits on stdin, anything else ignored. */
static int
cmd_decode(void)
{
	struct dsrv_file_meta	*m;
	char			 err[ERRLEN];
	uint8_t			*buf;
	size_t			 len = 0;
	int			 c, hi = -1, v;

	if ((buf = malloc(WIRE_PAYLOAD_MAX)) == NULL)
		fail("out of memory");
	while ((c = getchar()) != EOF) {
		if (!isxdigit(c))
			continue;
		v = isdigit(c) ? c - '0' : tolower(c) - 'a' + 10;
		if (hi == -1) {
			hi = v;
			continue;
		}
		if (len == WIRE_PAYLOAD_MAX)
			fail("more than a payload");
		buf[len++] = (uint8_t)(hi << 4 | v);
		hi = -1;
	}
	if (hi != -1)
		fail("an odd number of hex digits");
	if (dsrv_meta_decode(buf, len, &m, err, sizeof(err)) == -1)
		fail("%s", err);
	describe(stdout, m, meta_version(buf, len));
	dsrv_meta_free(m);
	free(buf);
	return (0);
}

/*
 * The rules.  Each builds metadata that breaks (or keeps) one rule of
 * the page and says whether dsrv_meta_decode or dsrv_meta_name did
 * what the page says.
 */

/* Fields: version, packlen, the packed bytes in pieces of piece bytes. */
static uint8_t *
wrap(uint64_t version, const uint8_t *packed, size_t plen, size_t piece,
    size_t *len)
{
	uint8_t	*buf;
	size_t	 total, off = 0, i = 0, l;

	total = 32 + (plen / piece + 2) * 8 + plen;
	if ((buf = malloc(total)) == NULL)
		fail("out of memory");
	if (wire_field_uint(buf, total, &off, 1, version) == -1 ||
	    wire_field_uint(buf, total, &off, 3, plen) == -1)
		fail("wrap");
	do {
		l = plen - i < piece ? plen - i : piece;
		if (wire_field_bytes(buf, total, &off, 2, packed + i, l) == -1)
			fail("wrap");
		i += l;
	} while (i < plen);
	*len = off;
	return (buf);
}

/* The packed protobuf of an encoding, and its version. */
static uint8_t *
unwrap(const uint8_t *buf, size_t len, size_t *plen)
{
	const uint8_t	*val;
	const char	*errstr;
	uint8_t		*p, tag, type;
	size_t		 off = 0, vlen, got = 0;

	if ((p = malloc(len)) == NULL)
		fail("out of memory");
	while (wire_field_next(buf, len, &off, &tag, &type, &val, &vlen,
	    &errstr) == 1)
		if (tag == 2) {
			memcpy(p + got, val, vlen);
			got += vlen;
		}
	*plen = got;
	return (p);
}

/* 1 if it decodes. */
static int
decodes_quiet(const uint8_t *buf, size_t len)
{
	struct dsrv_file_meta	*m;
	char			 err[ERRLEN];

	if (dsrv_meta_decode(buf, len, &m, err, sizeof(err)) == -1)
		return (0);
	dsrv_meta_free(m);
	return (1);
}

static int
decodes(const uint8_t *buf, size_t len, const char *want)
{
	struct dsrv_file_meta	*m;
	char			 err[ERRLEN];

	if (dsrv_meta_decode(buf, len, &m, err, sizeof(err)) == 0) {
		dsrv_meta_free(m);
		if (want == NULL)
			return (1);
		fprintf(stderr, "decoded, and should not have\n");
		return (0);
	}
	if (want != NULL && strstr(err, want) != NULL)
		return (1);
	fprintf(stderr, "dsrv_meta_decode: %s\n", err);
	return (0);
}

/* Vector n's encoding with its packed bytes rewrapped as version. */
static uint8_t *
rewrap(size_t n, uint64_t version, size_t piece, size_t *len)
{
	struct dsrv_file_meta	*m;
	uint8_t			*enc, *packed, *buf;
	size_t			 elen, plen;

	m = vec_meta(n, &enc, &elen);
	packed = unwrap(enc, elen, &plen);
	buf = wrap(version, packed, plen, piece, len);
	free(packed);
	free(enc);
	dsrv_meta_free(m);
	return (buf);
}

/*
 * A file of nchunks chunks of 8 MiB.  Their crc32s are a fixed series
 * with the top bit set, 5 bytes each when packed, as most are.
 */
static struct dsrv_file_meta *
big_meta(size_t nchunks)
{
	struct dsrv_file_meta	*m;
	uLong			 crc = crc32(0L, Z_NULL, 0);
	uint32_t		 x = 12345;
	size_t			 i;

	if ((m = calloc(1, sizeof(*m))) == NULL ||
	    (m->name = strdup("big")) == NULL ||
	    (m->chunks = calloc(nchunks, sizeof(*m->chunks))) == NULL)
		fail("out of memory");
	m->nchunks = nchunks;
	m->length = (uint64_t)nchunks * DSRV_CHUNK_SIZE;
	for (i = 0; i < nchunks; i++) {
		m->chunks[i].length = DSRV_CHUNK_SIZE;
		x = x * 1103515245U + 12345U;
		m->chunks[i].crc = x | 0x80000000U;
		crc = crc32_combine(crc, m->chunks[i].crc, DSRV_CHUNK_SIZE);
	}
	m->crc = (uint32_t)crc;
	return (m);
}

static const char *rules[] = {
	"v1-alt", "v1-upload", "v2-plain", "version-3", "order",
	"pieces", "split", "count", "too-many", "lengths", "combine",
	"sha256-len", "stream-sha256", "alt-max", "budget", "sanitize",
};

static int
cmd_rule(const char *rule)
{
	struct dsrv_file_meta	*m;
	char			 err[ERRLEN], name[CHUNK_NAME_MAX + 1];
	char			 longname[301];
	uint8_t			*buf, *p, *packed;
	const uint8_t		*val;
	const char		*errstr;
	size_t			 len, off, vlen, plen, nf, i, k;
	uint8_t			 tag, type;
	int			 ok = 0;

	if (strcmp(rule, "v1-alt") == 0) {
		/* Vector 4 (an alternate name) as version 1: refused. */
		buf = rewrap(3, 1, 65535, &len);
		ok = decodes(buf, len, "malformed");
	} else if (strcmp(rule, "v1-upload") == 0) {
		buf = rewrap(2, 1, 65535, &len);
		ok = decodes(buf, len, "malformed");
	} else if (strcmp(rule, "v2-plain") == 0) {
		/* Vector 1 (D's names) as version 2: read all the same. */
		buf = rewrap(0, 2, 65535, &len);
		ok = decodes(buf, len, NULL);
	} else if (strcmp(rule, "version-3") == 0) {
		buf = rewrap(0, 3, 65535, &len);
		ok = decodes(buf, len, "version 3");
	} else if (strcmp(rule, "order") == 0) {
		/* Tags 1, 2, 3 (ascending) is not the format: 1, 3, 2 is. */
		m = vec_meta(0, &p, &len);
		packed = unwrap(p, len, &plen);
		if ((buf = malloc(len)) == NULL)
			fail("out of memory");
		off = 0;
		(void)wire_field_uint(buf, len, &off, 1, 1);
		(void)wire_field_bytes(buf, len, &off, 2, packed, plen);
		(void)wire_field_uint(buf, len, &off, 3, plen);
		ok = decodes(buf, off, "malformed") &&
		    decodes(p, len, NULL);
		free(packed);
		free(p);
		dsrv_meta_free(m);
	} else if (strcmp(rule, "pieces") == 0) {
		/* Any cut of the packed bytes reads, pieces of 1 byte too. */
		buf = rewrap(1, 1, 1, &len);
		ok = decodes(buf, len, NULL);
	} else if (strcmp(rule, "split") == 0) {
		/*
		 * 20,000 chunks pack into more than 65,535 bytes: the
		 * writer cuts them in fields of 65,535 and the rest.
		 */
		m = big_meta(20000);
		if (dsrv_meta_encode(m, &buf, &len, err, sizeof(err)) == -1)
			fail("dsrv_meta_encode: %s", err);
		off = 0;
		nf = 0;
		ok = 1;
		while (wire_field_next(buf, len, &off, &tag, &type, &val,
		    &vlen, &errstr) == 1) {
			nf++;
			if (nf == 2)
				plen = be64_get(val);
			if (nf > 2 && tag != 2)
				ok = 0;
			if (nf > 2 && off != len && vlen != 65535)
				ok = 0;
		}
		if (nf != 2 + (plen + 65534) / 65535 || plen <= 65535)
			ok = 0;
		if (!ok)
			fprintf(stderr, "%zu fields for %zu packed bytes\n",
			    nf, plen);
		ok = ok && decodes(buf, len, NULL);
		dsrv_meta_free(m);
	} else if (strcmp(rule, "count") == 0) {
		/* 3 chunks listed for a file of 2: refused. */
		m = big_meta(2);
		if (dsrv_meta_encode(m, &p, &len, err, sizeof(err)) == -1)
			fail("dsrv_meta_encode: %s", err);
		ok = decodes(p, len, NULL);
		packed = unwrap(p, len, &plen);
		free(p);
		/* The third entry, packed by hand: 8 MiB, crc32 2. */
		if ((packed = realloc(packed, plen + 9)) == NULL)
			fail("out of memory");
		memcpy(packed + plen, "\x32\x07\x08\x80\x80\x80\x04\x10\x02",
		    9);
		buf = wrap(1, packed, plen + 9, 65535, &len);
		ok = ok && decodes(buf, len, "lists 3 chunks");
		free(packed);
		dsrv_meta_free(m);
	} else if (strcmp(rule, "too-many") == 0) {
		/*
		 * 500,000 chunks read.  512 Ki of them and one entry more
		 * (8 MiB, crc32 0) are refused: for the count, or first for
		 * the memory their decoding would take.
		 */
		m = big_meta(500000);
		if (dsrv_meta_encode(m, &p, &len, err, sizeof(err)) == -1)
			fail("dsrv_meta_encode: %s", err);
		ok = decodes(p, len, NULL);
		free(p);
		dsrv_meta_free(m);
		m = big_meta(512 * 1024);
		if (dsrv_meta_encode(m, &p, &len, err, sizeof(err)) == -1)
			fail("dsrv_meta_encode: %s", err);
		packed = unwrap(p, len, &plen);
		free(p);
		if ((packed = realloc(packed, plen + 9)) == NULL)
			fail("out of memory");
		memcpy(packed + plen, "\x32\x07\x08\x80\x80\x80\x04\x10\x00",
		    9);
		buf = wrap(1, packed, plen + 9, 65535, &len);
		ok = ok && !decodes_quiet(buf, len);
		free(packed);
		dsrv_meta_free(m);
	} else if (strcmp(rule, "lengths") == 0) {
		/* Vector 2 with its chunks swapped round: refused. */
		m = vec_meta(1, NULL, NULL);
		m->chunks[0].length = 1;
		m->chunks[1].length = DSRV_CHUNK_SIZE;
		ok = dsrv_meta_encode(m, &buf, &len, err, sizeof(err)) == -1 &&
		    strstr(err, "not 8388608") != NULL;
		if (!ok)
			fprintf(stderr, "encode: %s\n", err);
		dsrv_meta_free(m);
		buf = NULL;
	} else if (strcmp(rule, "combine") == 0) {
		m = vec_meta(1, NULL, NULL);
		m->chunks[1].crc ^= 1;
		ok = dsrv_meta_encode(m, &buf, &len, err, sizeof(err)) == -1 &&
		    strstr(err, "combine") != NULL;
		if (!ok)
			fprintf(stderr, "encode: %s\n", err);
		dsrv_meta_free(m);
		buf = NULL;
	} else if (strcmp(rule, "sha256-len") == 0) {
		/* Vector 1 with a 31-byte sha256: its field 4 is 0x22 0x20. */
		m = vec_meta(0, &p, &len);
		packed = unwrap(p, len, &plen);
		for (i = 0; i + 1 < plen; i++)
			if (packed[i] == 0x22 && packed[i + 1] == 0x20)
				break;
		if (i + 1 >= plen)
			fail("no sha256 field");
		packed[i + 1] = 0x1f;
		memmove(packed + i + 2 + 31, packed + i + 2 + 32,
		    plen - (i + 2 + 32));
		buf = wrap(1, packed, plen - 1, 65535, &len);
		ok = decodes(buf, len, "sha256 of 31 bytes");
		free(packed);
		free(p);
		dsrv_meta_free(m);
	} else if (strcmp(rule, "stream-sha256") == 0) {
		m = vec_meta(2, NULL, NULL);
		m->has_sha256 = 0;
		ok = dsrv_meta_encode(m, &buf, &len, err, sizeof(err)) == -1 &&
		    strstr(err, "without a sha256") != NULL;
		if (!ok)
			fprintf(stderr, "encode: %s\n", err);
		dsrv_meta_free(m);
		buf = NULL;
	} else if (strcmp(rule, "alt-max") == 0) {
		m = vec_meta(3, NULL, NULL);
		m->chunks[0].alt = DSRV_ALT_MAX;
		ok = dsrv_meta_encode(m, &buf, &len, err, sizeof(err)) == 0;
		free(buf);
		m->chunks[0].alt = DSRV_ALT_MAX + 1;
		ok = ok && dsrv_meta_encode(m, &buf, &len, err,
		    sizeof(err)) == -1 && strstr(err, "more than 16") != NULL;
		if (!ok)
			fprintf(stderr, "encode: %s\n", err);
		dsrv_meta_free(m);
		buf = NULL;
	} else if (strcmp(rule, "budget") == 0) {
		/*
		 * 1 MiB of empty chunk entries (32 00): more entries than
		 * the 8 MiB chunks of the declared length (none), refused
		 * before any is unpacked.  Then 16,384 entries of an 8 MiB
		 * length and 31 empty unknown fields each, for a file of
		 * 128 GiB: the count is right, but unpacking the unknown
		 * fields takes more than 2 times the packed size and 128
		 * bytes an entry.
		 */
		plen = 1024 * 1024;
		if ((packed = malloc(plen)) == NULL)
			fail("out of memory");
		for (i = 0; i < plen; i += 2)
			memcpy(packed + i, "\x32\x00", 2);
		buf = wrap(1, packed, plen, 65535, &len);
		ok = decodes(buf, len, "lists 524288 chunks for 0 bytes");
		free(buf);
		free(packed);
		plen = 7 + 16384 * 69;
		if ((packed = malloc(plen)) == NULL)
			fail("out of memory");
		/* field 2, 2^37: 0x10 and the varint 80 80 80 80 80 04 */
		memcpy(packed, "\x10\x80\x80\x80\x80\x80\x04", 7);
		for (i = 7; i + 69 <= plen; i += 69) {
			memcpy(packed + i, "\x32\x43\x08\x80\x80\x80\x04", 7);
			for (k = 0; k < 31; k++)
				memcpy(packed + i + 7 + 2 * k, "\x7a\x00", 2);
		}
		plen = i;
		buf = wrap(1, packed, plen, 65535, &len);
		snprintf(err, sizeof(err), "more than %zu bytes",
		    2 * plen + 128 * 16384 + 65536);
		ok = ok && decodes(buf, len, err);
		free(packed);
	} else if (strcmp(rule, "sanitize") == 0) {
		/* 200 bytes cut to 190; a dot after the first byte stays. */
		memset(longname, 'x', 200);
		longname[200] = '\0';
		dsrv_meta_name(longname, 0xabcdef01, 0, name);
		ok = strlen(name) == 6 + 190 + 9 &&
		    strcmp(name + 6 + 190, "-abcdef01") == 0;
		dsrv_meta_name(".a.b", 1, 0, name);
		ok = ok && strcmp(name, "index/_a.b-00000001") == 0;
		dsrv_meta_name("", 1, 3, name);
		ok = ok && strcmp(name, "index/_-00000001-3") == 0;
		if (!ok)
			fprintf(stderr, "%s\n", name);
		buf = NULL;
	} else
		usage();
	free(buf);
	return (ok ? 0 : 1);
}

int
main(int argc, char *argv[])
{
	size_t			 i;
	const char		*errstr;
	struct dsrv_file_meta	*m;
	uint8_t			*enc;
	size_t			 len;

	if (sodium_init() == -1)
		fail("sodium_init failed");
	if (argc == 2 && strcmp(argv[1], "vectors") == 0)
		return (cmd_vectors());
	if (argc == 2 && strcmp(argv[1], "decode") == 0)
		return (cmd_decode());
	if (argc == 2 && strcmp(argv[1], "rules") == 0) {
		for (i = 0; i < sizeof(rules) / sizeof(rules[0]); i++)
			printf("%s\n", rules[i]);
		return (0);
	}
	if (argc == 3 && strcmp(argv[1], "rule") == 0)
		return (cmd_rule(argv[2]));
	if (argc == 3 && strcmp(argv[1], "describe") == 0) {
		i = strtonum(argv[2], 1, NVECS, &errstr);
		if (errstr != NULL)
			usage();
		m = vec_meta(i - 1, &enc, &len);
		describe(stdout, m, meta_version(enc, len));
		free(enc);
		dsrv_meta_free(m);
		return (0);
	}
	usage();
}
