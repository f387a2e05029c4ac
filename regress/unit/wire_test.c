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
 * Unit tests for lib/wire.c: handshake messages, key schedule, frames
 * and header fields, and the test vectors of dsrv-protocol(5).
 *
 *	wire_test		run the tests (TAP)
 *	wire_test vectors	check the vectors, then print them as the
 *				mdoc text of the man page's EXAMPLES block
 *				(regress/t/protocol-doc.sh diffs the two)
 *
 * The vectors were computed once with lib/wire.c and are checked here
 * a second way, straight against libsodium and zlib, so that a bug in
 * wire.c cannot make its own vectors.  (When they were made they were
 * also reproduced from protocol.md alone with Python's hashlib BLAKE2b
 * and pyca/cryptography's ChaCha20Poly1305.)
 */
#include <sys/types.h>

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>
#include <zlib.h>

#include "bytes.h"
#include "wire.h"
#include "tap.h"

/* The inputs of the test vectors. */
#define V_KEYNAME	"backup"
#define V_CTIME		1767225600000ULL	/* 2026-01-01T00:00:00Z */
#define V_STIME		1767225600005ULL
#define V_REQTIME	1767225600010ULL
#define V_RESPTIME	1767225600011ULL
#define V_VERSION	"dsrvd 0.1.0"
/* The second request: a READ of bytes 7..11 of "hello, world". */
#define V_RNAME		"ab/cd"
#define V_RREQTIME	1767225600012ULL
#define V_RRESPTIME	1767225600013ULL
#define V_RCHUNK	"hello, world"
#define V_ROFF		7
#define V_RLEN		5

/* The expected bytes, in hex. */
static const char X_HELLO[] =
    "445352560101066261636b757000000000000000000000000000000000000000"
    "00000000000000a0a1a2a3a4a5a6a7a8a9aaabacadaeafb0b1b2b3b4b5b6b7b8"
    "b9babbbcbdbebf0000019b76daa800";
static const char X_CHALLENGE[] =
    "445352560102c0c1c2c3c4c5c6c7c8c9cacbcccdcecfd0d1d2d3d4d5d6d7d8d9"
    "dadbdcdddedf0000019b76daa805";
static const char X_H[] =
    "f81a86e9765091760e5f5ebd5066120cfd6aa9b38c8bd9b53ce294ed348b9644";
static const char X_CPROOF[] =
    "52cc340766575ffd98dd9149adc2ce27a5dcccad5e379474517619c93017fb5d";
static const char X_FINISH[] =
    "44535256010352cc340766575ffd98dd9149adc2ce27a5dcccad5e3794745176"
    "19c93017fb5d";
static const char X_SPROOF[] =
    "d2557aac234ca0b39bc59b30af650c6c78c0a63db35ecdd5a8f83ecfa8eab75f";
static const char X_RESULT[] =
    "44535256010400d2557aac234ca0b39bc59b30af650c6c78c0a63db35ecdd5a8"
    "f83ecfa8eab75f00";
static const char X_OKM[] =
    "85d538327bc9aa2ebc43c089954cf2a66d8e1e32f352a5f1b963c909022b9120"
    "9c11d3f698e0b7a34cac9602f8580cdd8fe424dd0c44dbf9ae8796907353947a";
static const char X_C0[] = "381a86e976509176";
static const char X_NONCE[] = "00000000381a86e976509176";
static const char X_REQ_PT[] =
    "00000040010100080000000000000001ed21c74e030100080000019b76daa80a"
    "53d63cba040100080000000000000000028580c8050100080000000000000000"
    "9920cca7";
static const char X_REQ_FRAME[] =
    "00000054381a86e9765091767edfa92c146d82b03d12777c2c41ee02a1b86dbd"
    "68bd4d7230d17baafc5b1c579a0a1a430587090fb32db9be9c45bc90ed8ec5cc"
    "204c7c90c04d98ceee4b9b5b179eea02e3fe54299f960aebf8229b66755c1826";
static const char X_RESP_PT[] =
    "000000500101000800000000000000810099446e030100080000019b76daa80b"
    "24d10c2c04010008000000000000000b955759400501000800000000b370a2e5"
    "8e478d1f060100080000000000000000eebe1e57647372766420302e312e30";
static const char X_RESP_FRAME[] =
    "0000006f381a86e976509176c342852851c4f13bc3911fbc40bee9aec8c53a3b"
    "5f37ddac8b9165ab5efd37840db5207f613221ad67845fc048689ee91960da1e"
    "b18fa05b19fa5b3ef83b40391a802e03e1e4c655385652c64a26658f08b7fa67"
    "2dde88f92371d0a5f4e6d1a71ffadced104c33dbcef7a60a3550cb";

static const char X_RNONCE[] = "00000000381a86e976509177";
static const char X_RREQ_PT[] =
    "0000004d010100080000000000000003032fa6620202000561622f6364d87457"
    "6b030100080000019b76daa80cbab5998f0401000800000000000000101f3290"
    "ac0501000800000000f8b0d213281ceabc000000000000000700000000000000"
    "05";
static const char X_RREQ_FRAME[] =
    "00000071381a86e9765091772c0d4139ec1b32c12eb8aaa846c72667fa0339ae"
    "6c89ddbb2e6bbfb521b900bf85381b22b7d14e69275a419b977f5bf2795634fb"
    "d38139ec220cc272c97d07d485d0d3ddd20df0030bc093999e8992a64f963c00"
    "6efc96ba6fea4484a688c114d27dee77466086e8103cda0f002f506ab2";
static const char X_RRESP_PT[] =
    "00000050010100080000000000000083ee972542030100080000019b76daa80d"
    "cdb2a91904010008000000000000000572ef744705010008000000003a771143"
    "eb04998d060100080000000000000000eebe1e57776f726c64";
static const char X_RRESP_FRAME[] =
    "00000069381a86e976509177722395a42a6403a64a0a3eaa455b34ab1bb0c9f8"
    "28103637a92acf9baf1c673c01e940fd05484bbdb0d0c2682c6c67f7f3a56277"
    "098eec1d46d2bb79f47417603d9db933beda7ae4718b3325549d5f6c16e8de68"
    "dcd2125a0017e0246efa8292b01c78db63f49468f6";

struct vectors {
	uint8_t		 key[WIRE_KEY_LEN];
	uint8_t		 crand[WIRE_RANDOM_LEN];
	uint8_t		 srand[WIRE_RANDOM_LEN];
	uint8_t		 hello[WIRE_HELLO_LEN];
	uint8_t		 challenge[WIRE_CHALLENGE_LEN];
	uint8_t		 h[WIRE_HASH_LEN];
	uint8_t		 cproof[WIRE_PROOF_LEN];
	uint8_t		 finish[WIRE_FINISH_LEN];
	uint8_t		 sproof[WIRE_PROOF_LEN];
	uint8_t		 result[WIRE_RESULT_MAX];
	size_t		 resultlen;
	struct wire_keys keys;
	uint8_t		 okm[2 * WIRE_KEY_LEN];
	uint8_t		 c0[8];
	uint8_t		 nonce[12];
	uint8_t		 req_pt[256];
	size_t		 req_ptlen;
	uint8_t		 req_frame[256];
	size_t		 req_framelen;
	uint8_t		 resp_pt[256];
	size_t		 resp_ptlen;
	uint8_t		 resp_frame[256];
	size_t		 resp_framelen;
	uint8_t		 rnonce[12];
	uint8_t		 rreq_pt[256];
	size_t		 rreq_ptlen;
	uint8_t		 rreq_frame[256];
	size_t		 rreq_framelen;
	uint8_t		 rresp_pt[256];
	size_t		 rresp_ptlen;
	uint8_t		 rresp_frame[256];
	size_t		 rresp_framelen;
};

struct vec {
	const char	*label;
	const char	*hex;
	const uint8_t	*buf;
	size_t		 len;
};

static int	unhex(const char *, uint8_t *, size_t);
static char	*tohex(const uint8_t *, size_t);
static int	same_hex(const uint8_t *, size_t, const char *);
static void	vectors_compute(struct vectors *);
static size_t	vectors_list(const struct vectors *, struct vec *, size_t);
static int	vectors_print(void);
static void	test_vectors(void);
static void	test_vectors_crosscheck(void);
static void	test_strings(void);
static void	test_keyname(void);
static void	test_skew(void);
static void	test_hello(void);
static void	test_challenge_finish(void);
static void	test_result(void);
static void	test_keys(void);
static void	test_seal_open(void);
static void	test_seal_sizes(void);
static void	test_frame_hdr(void);
static void	test_hdr_roundtrip(void);
static void	test_hdr_flips(void);
static void	test_hdr_reject(void);
static void	test_hdr_check(void);
static size_t	mkplain(uint8_t *, size_t, size_t);
static struct wire_hdr *fullhdr(void);
static size_t	hdr_start(uint8_t *);
static size_t	hdr_end(uint8_t *, size_t);
static void	expect_refused(const uint8_t *, size_t, const char *,
		    const char *);
static struct wire_hdr *req(uint64_t, const char *, uint64_t);

static const uint8_t zero32[32];

static int
unhex(const char *s, uint8_t *out, size_t max)
{
	size_t	 n = 0;
	int	 hi, lo;

	while (s[0] != '\0' && s[1] != '\0') {
		if (n >= max)
			return -1;
		hi = s[0] >= 'a' ? s[0] - 'a' + 10 : s[0] - '0';
		lo = s[1] >= 'a' ? s[1] - 'a' + 10 : s[1] - '0';
		if (hi < 0 || hi > 15 || lo < 0 || lo > 15)
			return -1;
		out[n++] = (uint8_t)(hi << 4 | lo);
		s += 2;
	}
	return s[0] == '\0' ? (int)n : -1;
}

/* A hex string in a static buffer, for diagnostics. */
static char *
tohex(const uint8_t *p, size_t len)
{
	static char	 buf[1024];
	size_t		 i;

	for (i = 0; i < len && 2 * i + 2 < sizeof(buf); i++)
		(void)snprintf(buf + 2 * i, 3, "%02x", p[i]);
	buf[2 * i] = '\0';
	return buf;
}

static int
same_hex(const uint8_t *p, size_t len, const char *hex)
{
	uint8_t	 want[512];
	int	 n;

	n = unhex(hex, want, sizeof(want));
	if (n < 0 || (size_t)n != len || memcmp(p, want, len) != 0) {
		diag("got %s", tohex(p, len));
		return 0;
	}
	return 1;
}

/* Everything in the vectors, computed with lib/wire.c. */
static void
vectors_compute(struct vectors *v)
{
	struct wire_hdr	 h;
	const uint8_t	*rpay;
	uint8_t		 range[WIRE_RANGE_LEN];
	ssize_t		 n;
	size_t		 i;

	memset(v, 0, sizeof(*v));
	for (i = 0; i < 32; i++) {
		v->key[i] = (uint8_t)i;
		v->crand[i] = (uint8_t)(0xa0 + i);
		v->srand[i] = (uint8_t)(0xc0 + i);
	}
	wire_hello_build(v->hello, V_KEYNAME, v->crand, V_CTIME);
	wire_challenge_build(v->challenge, v->srand, V_STIME);
	wire_transcript(v->hello, v->challenge, v->h);
	wire_client_proof(v->key, v->h, v->cproof);
	wire_finish_build(v->finish, v->cproof);
	wire_server_proof(v->key, v->h, v->cproof, v->sproof);
	v->resultlen = wire_result_build(v->result, WIRE_HS_OK, v->sproof, "");
	wire_session_keys(v->key, v->h, v->cproof, &v->keys);
	memcpy(v->okm, v->keys.c2s, WIRE_KEY_LEN);
	memcpy(v->okm + WIRE_KEY_LEN, v->keys.s2c, WIRE_KEY_LEN);
	be64_put(v->c0, v->keys.counter0);
	be64_put(v->nonce + 4, v->keys.counter0);

	memset(&h, 0, sizeof(h));
	wire_hdr_set(&h, WIRE_F_METHOD, WIRE_M_PING);
	wire_hdr_set(&h, WIRE_F_TIMESTAMP, V_REQTIME);
	wire_hdr_set(&h, WIRE_F_PAYLEN, 0);
	wire_hdr_set(&h, WIRE_F_PAYCRC, 0);
	n = wire_hdr_encode(&h, v->req_pt, sizeof(v->req_pt));
	if (n < 0)
		abort();
	v->req_ptlen = (size_t)n;
	memcpy(v->req_frame + WIRE_FRAME_HDR, v->req_pt, v->req_ptlen);
	v->req_framelen = wire_seal(v->keys.c2s, v->keys.counter0,
	    v->req_frame, v->req_ptlen);

	memset(&h, 0, sizeof(h));
	wire_hdr_set(&h, WIRE_F_METHOD, WIRE_M_PING | WIRE_M_RESPONSE);
	wire_hdr_set(&h, WIRE_F_TIMESTAMP, V_RESPTIME);
	wire_hdr_set(&h, WIRE_F_PAYLEN, strlen(V_VERSION));
	wire_hdr_set(&h, WIRE_F_PAYCRC, crc32(0L,
	    (const Bytef *)V_VERSION, strlen(V_VERSION)));
	wire_hdr_set(&h, WIRE_F_ERROR, WIRE_E_OK);
	n = wire_hdr_encode(&h, v->resp_pt, sizeof(v->resp_pt));
	if (n < 0)
		abort();
	memcpy(v->resp_pt + n, V_VERSION, strlen(V_VERSION));
	v->resp_ptlen = (size_t)n + strlen(V_VERSION);
	memcpy(v->resp_frame + WIRE_FRAME_HDR, v->resp_pt, v->resp_ptlen);
	v->resp_framelen = wire_seal(v->keys.s2c, v->keys.counter0,
	    v->resp_frame, v->resp_ptlen);

	/* The second request, counter C0 + 1: a READ of a range. */
	be64_put(v->rnonce + 4, v->keys.counter0 + 1);
	be64_put(range, V_ROFF);
	be64_put(range + 8, V_RLEN);
	memset(&h, 0, sizeof(h));
	wire_hdr_set(&h, WIRE_F_METHOD, WIRE_M_READ);
	if (wire_hdr_set_name(&h, V_RNAME) == -1)
		abort();
	wire_hdr_set(&h, WIRE_F_TIMESTAMP, V_RREQTIME);
	wire_hdr_set(&h, WIRE_F_PAYLEN, sizeof(range));
	wire_hdr_set(&h, WIRE_F_PAYCRC, crc32(0L, range, sizeof(range)));
	n = wire_hdr_encode(&h, v->rreq_pt, sizeof(v->rreq_pt));
	if (n < 0)
		abort();
	memcpy(v->rreq_pt + n, range, sizeof(range));
	v->rreq_ptlen = (size_t)n + sizeof(range);
	memcpy(v->rreq_frame + WIRE_FRAME_HDR, v->rreq_pt, v->rreq_ptlen);
	v->rreq_framelen = wire_seal(v->keys.c2s, v->keys.counter0 + 1,
	    v->rreq_frame, v->rreq_ptlen);

	rpay = (const uint8_t *)V_RCHUNK + V_ROFF;
	memset(&h, 0, sizeof(h));
	wire_hdr_set(&h, WIRE_F_METHOD, WIRE_M_READ | WIRE_M_RESPONSE);
	wire_hdr_set(&h, WIRE_F_TIMESTAMP, V_RRESPTIME);
	wire_hdr_set(&h, WIRE_F_PAYLEN, V_RLEN);
	wire_hdr_set(&h, WIRE_F_PAYCRC, crc32(0L, rpay, V_RLEN));
	wire_hdr_set(&h, WIRE_F_ERROR, WIRE_E_OK);
	n = wire_hdr_encode(&h, v->rresp_pt, sizeof(v->rresp_pt));
	if (n < 0)
		abort();
	memcpy(v->rresp_pt + n, rpay, V_RLEN);
	v->rresp_ptlen = (size_t)n + V_RLEN;
	memcpy(v->rresp_frame + WIRE_FRAME_HDR, v->rresp_pt, v->rresp_ptlen);
	v->rresp_framelen = wire_seal(v->keys.s2c, v->keys.counter0 + 1,
	    v->rresp_frame, v->rresp_ptlen);
}

/* The vectors in man page order; the labels are mdoc text. */
static size_t
vectors_list(const struct vectors *v, struct vec *out, size_t max)
{
	const struct vec	 all[] = {
		{ "K, the key:", NULL, v->key, WIRE_KEY_LEN },
		{ "Client random:", NULL, v->crand, WIRE_RANDOM_LEN },
		{ "Server random:", NULL, v->srand, WIRE_RANDOM_LEN },
		{ "HELLO, 79 bytes:", X_HELLO, v->hello, WIRE_HELLO_LEN },
		{ "CHALLENGE, 46 bytes:", X_CHALLENGE, v->challenge,
		    WIRE_CHALLENGE_LEN },
		{ "H = HASH(HELLO || CHALLENGE):", X_H, v->h, WIRE_HASH_LEN },
		{ "Client proof:", X_CPROOF, v->cproof, WIRE_PROOF_LEN },
		{ "FINISH, 38 bytes:", X_FINISH, v->finish, WIRE_FINISH_LEN },
		{ "Server proof:", X_SPROOF, v->sproof, WIRE_PROOF_LEN },
		{ "RESULT (accepted), 40 bytes:", X_RESULT, v->result,
		    v->resultlen },
		{ "OKM; the first 32 bytes are the client-to-server key,"
		    " the last 32 the server-to-client key:", X_OKM, v->okm,
		    sizeof(v->okm) },
		{ "C0, the first 8 bytes of H with the top two bits"
		    " cleared:", X_C0, v->c0, sizeof(v->c0) },
		{ "Nonce of the first request and its response:", X_NONCE,
		    v->nonce, sizeof(v->nonce) },
		{ "PING request plaintext:", X_REQ_PT, v->req_pt,
		    v->req_ptlen },
		{ "PING request frame, sealed with the client-to-server"
		    " key:", X_REQ_FRAME, v->req_frame, v->req_framelen },
		{ "PING response plaintext:", X_RESP_PT, v->resp_pt,
		    v->resp_ptlen },
		{ "PING response frame, sealed with the server-to-client"
		    " key:", X_RESP_FRAME, v->resp_frame, v->resp_framelen },
		{ "Nonce of the second request and its response:",
		    X_RNONCE, v->rnonce, sizeof(v->rnonce) },
		{ "READ of a range request plaintext:", X_RREQ_PT,
		    v->rreq_pt, v->rreq_ptlen },
		{ "READ of a range request frame, sealed with the"
		    " client-to-server key:", X_RREQ_FRAME, v->rreq_frame,
		    v->rreq_framelen },
		{ "READ of a range response plaintext:", X_RRESP_PT,
		    v->rresp_pt, v->rresp_ptlen },
		{ "READ of a range response frame, sealed with the"
		    " server-to-client key:", X_RRESP_FRAME, v->rresp_frame,
		    v->rresp_framelen },
	};
	size_t	 i, n = sizeof(all) / sizeof(all[0]);

	for (i = 0; i < n && i < max; i++)
		out[i] = all[i];
	return n;
}

/*
 * The mdoc text between the markers in man/dsrv-protocol.5: each
 * vector as a caption and a literal display, 16 bytes a line.
 */
static int
vectors_print(void)
{
	struct vectors	 v;
	struct vec	 list[32];
	size_t		 n, i, j;

	vectors_compute(&v);
	n = vectors_list(&v, list, 32);
	for (i = 0; i < n; i++) {
		if (list[i].hex != NULL &&
		    !same_hex(list[i].buf, list[i].len, list[i].hex)) {
			fprintf(stderr, "wire_test: vector \"%s\" differs\n",
			    list[i].label);
			return 1;
		}
	}
	for (i = 0; i < n; i++) {
		printf(".Pp\n%s\n.Bd -literal -offset indent\n",
		    list[i].label);
		for (j = 0; j < list[i].len; j++)
			printf("%02x%s", list[i].buf[j],
			    (j % 16 == 15 || j + 1 == list[i].len) ?
			    "\n" : " ");
		printf(".Ed\n");
	}
	return fflush(stdout) == 0 ? 0 : 1;
}

static void
test_vectors(void)
{
	struct vectors	 v;
	struct vec	 list[32];
	size_t		 n, i;

	vectors_compute(&v);
	n = vectors_list(&v, list, 32);
	for (i = 0; i < n; i++) {
		if (list[i].hex == NULL)
			continue;
		ok(same_hex(list[i].buf, list[i].len, list[i].hex),
		    "vector: %s", list[i].label);
	}
	is_int(v.req_framelen, WIRE_FRAME_HDR + v.req_ptlen + WIRE_TAG_LEN,
	    "vector: request frame length");
	is_int(v.resultlen, WIRE_RESULT_MIN, "vector: RESULT length");
}

/*
 * The vectors again, without lib/wire.c: the messages laid out by hand,
 * the hashes and MACs from one-shot libsodium calls, the frames opened
 * with the combined AEAD call and the field crc32s from zlib.
 */
static void
test_vectors_crosscheck(void)
{
	struct vectors		 v;
	uint8_t			 key[32], hello[79], chal[46], buf[512];
	uint8_t			 h[32], cp[32], sp[32], okm[64], nonce[12];
	uint8_t			 pt[256], range[16];
	unsigned long long	 ptlen;
	uint64_t		 c0;
	size_t			 i, off, hl, l, nfields, ncrc;
	int			 rv;

	vectors_compute(&v);
	for (i = 0; i < 32; i++)
		key[i] = (uint8_t)i;

	memset(hello, 0, sizeof(hello));
	memcpy(hello, "DSRV\x01\x01", 6);
	hello[6] = 6;
	memcpy(hello + 7, "backup", 6);
	for (i = 0; i < 32; i++)
		hello[39 + i] = (uint8_t)(0xa0 + i);
	be64_put(hello + 71, 1767225600000ULL);
	ok(memcmp(hello, v.hello, 79) == 0, "cross: HELLO laid out by hand");
	memcpy(chal, "DSRV\x01\x02", 6);
	for (i = 0; i < 32; i++)
		chal[6 + i] = (uint8_t)(0xc0 + i);
	be64_put(chal + 38, 1767225600005ULL);
	ok(memcmp(chal, v.challenge, 46) == 0,
	    "cross: CHALLENGE laid out by hand");

	memcpy(buf, hello, 79);
	memcpy(buf + 79, chal, 46);
	crypto_generichash(h, 32, buf, 125, NULL, 0);
	ok(same_hex(h, 32, X_H), "cross: H from one BLAKE2b call");

	memcpy(buf, "dsrv client proof", 17);
	memcpy(buf + 17, h, 32);
	crypto_generichash(cp, 32, buf, 49, key, 32);
	ok(same_hex(cp, 32, X_CPROOF), "cross: client proof");

	memcpy(buf, "dsrv server proof", 17);
	memcpy(buf + 17, h, 32);
	memcpy(buf + 49, cp, 32);
	crypto_generichash(sp, 32, buf, 81, key, 32);
	ok(same_hex(sp, 32, X_SPROOF), "cross: server proof");

	memcpy(buf, "dsrv session keys", 17);
	crypto_generichash(okm, 64, buf, 81, key, 32);
	ok(same_hex(okm, 64, X_OKM), "cross: OKM");

	c0 = be64_get(h) & 0x3fffffffffffffffULL;
	is_int(c0, v.keys.counter0, "cross: C0");

	memset(nonce, 0, 4);
	be64_put(nonce + 4, c0);
	ok(same_hex(nonce, 12, X_NONCE), "cross: nonce");

	/* Request: the frame header is the associated data. */
	unhex(X_REQ_FRAME, buf, sizeof(buf));
	is_int(be32_get(buf), v.req_framelen - 12, "cross: request length field");
	ok(memcmp(buf + 4, nonce + 4, 8) == 0,
	    "cross: request counter field is C0");
	rv = crypto_aead_chacha20poly1305_ietf_decrypt(pt, &ptlen, NULL,
	    buf + 12, v.req_framelen - 12, buf, 12, nonce, okm);
	ok(rv == 0 && ptlen == v.req_ptlen && same_hex(pt, ptlen, X_REQ_PT),
	    "cross: request frame opens with c2s");
	rv = crypto_aead_chacha20poly1305_ietf_decrypt(pt, &ptlen, NULL,
	    buf + 12, v.req_framelen - 12, buf, 12, nonce, okm + 32);
	ok(rv != 0, "cross: request frame does not open with s2c");

	unhex(X_RESP_FRAME, buf, sizeof(buf));
	ok(memcmp(buf + 4, nonce + 4, 8) == 0,
	    "cross: response counter field is C0");
	rv = crypto_aead_chacha20poly1305_ietf_decrypt(pt, &ptlen, NULL,
	    buf + 12, v.resp_framelen - 12, buf, 12, nonce, okm + 32);
	ok(rv == 0 && ptlen == v.resp_ptlen &&
	    same_hex(pt, ptlen, X_RESP_PT),
	    "cross: response frame opens with s2c");

	/* Walk the response's fields by hand: every crc32 from zlib. */
	hl = be32_get(pt);
	off = 4;
	nfields = ncrc = 0;
	while (off + 4 <= 4 + hl) {
		l = be16_get(pt + off + 2);
		if (off + 8 + l > 4 + hl)
			break;
		nfields++;
		if (crc32(0L, pt + off, 4 + l) == be32_get(pt + off + 4 + l))
			ncrc++;
		off += 8 + l;
	}
	ok(off == 4 + hl && nfields == 5 && ncrc == 5,
	    "cross: response fields end at HL, 5 crc32s match");
	ok(ptlen - off == 11 && memcmp(pt + off, V_VERSION, 11) == 0,
	    "cross: response payload is the version");
	/* Field 5 is the fourth: its value's low half at 4 + 3 * 16 + 8. */
	ok(be32_get(pt + 4 + 3 * 16 + 8) ==
	    crc32(0L, (const Bytef *)V_VERSION, 11),
	    "cross: payload crc32 field holds crc32(\"%s\")", V_VERSION);

	unhex(X_REQ_PT, pt, sizeof(pt));
	hl = be32_get(pt);
	off = 4;
	nfields = ncrc = 0;
	while (off + 8 <= 4 + hl) {
		l = be16_get(pt + off + 2);
		nfields++;
		if (crc32(0L, pt + off, 4 + l) == be32_get(pt + off + 4 + l))
			ncrc++;
		off += 8 + l;
	}
	ok(off == 4 + hl && off == v.req_ptlen && nfields == 4 && ncrc == 4,
	    "cross: request fields end the plaintext, 4 crc32s match");

	/* The READ of a range: counter C0 + 1, its payload by hand. */
	be64_put(nonce + 4, c0 + 1);
	ok(same_hex(nonce, 12, X_RNONCE), "cross: second nonce is C0 + 1");
	unhex(X_RREQ_FRAME, buf, sizeof(buf));
	rv = crypto_aead_chacha20poly1305_ietf_decrypt(pt, &ptlen, NULL,
	    buf + 12, v.rreq_framelen - 12, buf, 12, nonce, okm);
	ok(rv == 0 && ptlen == v.rreq_ptlen && same_hex(pt, ptlen, X_RREQ_PT),
	    "cross: range request frame opens with c2s");
	memset(range, 0, sizeof(range));
	range[7] = V_ROFF;
	range[15] = V_RLEN;
	hl = be32_get(pt);
	ok(ptlen == 4 + hl + 16 && memcmp(pt + 4 + hl, range, 16) == 0,
	    "cross: range request payload is offset 7, length 5");
	/* Fields 1 to 4 before paycrc: 16, 4 + 5 + 4, 16 and 16 bytes. */
	ok(be32_get(pt + 4 + 16 + 13 + 16 + 16 + 8) == crc32(0L, range, 16),
	    "cross: range request paycrc is crc32 of the 16 bytes");
	unhex(X_RRESP_FRAME, buf, sizeof(buf));
	rv = crypto_aead_chacha20poly1305_ietf_decrypt(pt, &ptlen, NULL,
	    buf + 12, v.rresp_framelen - 12, buf, 12, nonce, okm + 32);
	ok(rv == 0 && ptlen == v.rresp_ptlen &&
	    same_hex(pt, ptlen, X_RRESP_PT),
	    "cross: range response frame opens with s2c");
	hl = be32_get(pt);
	ok(ptlen == 4 + hl + 5 && memcmp(pt + 4 + hl, "world", 5) == 0 &&
	    be32_get(pt + 4 + 3 * 16 + 8) == crc32(0L,
	    (const Bytef *)"world", 5),
	    "cross: range response payload is \"world\", paycrc its crc32");
}

static void
test_strings(void)
{
	is_str(wire_strerror(WIRE_E_OK), "ok", "strerror 0");
	is_str(wire_strerror(WIRE_E_EXISTS),
	    "chunk exists with different content", "strerror 4");
	is_str(wire_strerror(WIRE_E_UNAVAILABLE), "not available",
	    "strerror 12");
	is_str(wire_strerror(WIRE_E_BUSY), "busy", "strerror 14");
	is_str(wire_strerror(WIRE_E_RANGE),
	    "range starts beyond the end of the chunk", "strerror 15");
	is_str(wire_strerror(16), "unknown error", "strerror 16");
	is_str(wire_strerror(UINT64_MAX), "unknown error",
	    "strerror UINT64_MAX");
	is_str(wire_hs_strerror(WIRE_HS_AUTH), "authentication failed",
	    "hs_strerror 1");
	is_str(wire_hs_strerror(WIRE_HS_TIMEOUT), "handshake timeout",
	    "hs_strerror 6");
	ok(strstr(wire_hs_strerror(7), "unknown") != NULL, "hs_strerror 7");
	ok(strstr(wire_hs_strerror(-1), "unknown") != NULL, "hs_strerror -1");
	is_str(wire_method_name(WIRE_M_STATFS), "STATFS", "method 6");
	is_str(wire_method_name(WIRE_M_PING | WIRE_M_RESPONSE), "PING",
	    "method 0x81");
	is_str(wire_method_name(0), "unknown", "method 0");
	ok(wire_now_ms() > V_CTIME - 365ULL * 86400 * 1000,
	    "now_ms is in milliseconds");
}

static void
test_keyname(void)
{
	char	 n33[34];

	memset(n33, 'a', 33);
	n33[33] = '\0';
	ok(wire_keyname_valid("backup"), "keyname backup");
	ok(wire_keyname_valid("A-z_0.9"), "keyname A-z_0.9");
	ok(wire_keyname_valid(n33 + 1), "keyname of 32");
	ok(!wire_keyname_valid(n33), "keyname of 33");
	ok(!wire_keyname_valid(""), "keyname empty");
	ok(!wire_keyname_valid(".hidden"), "keyname leading dot");
	ok(!wire_keyname_valid("a/b"), "keyname with /");
	ok(!wire_keyname_valid("a b"), "keyname with space");
	ok(!wire_keyname_valid("caf\xc3\xa9"), "keyname non-ASCII");
}

/*
 * The distance between a peer's time and ours, at the edges of
 * uint64_t: the client time now + 2^63 once came out as INT64_MIN.
 */
static void
test_skew(void)
{
	const uint64_t	 now = 1767225600000ULL, h = (uint64_t)1 << 63;
	int		 ahead;

	ok(wire_skew_ms(now, now, &ahead) == 0 && !ahead, "skew 0");
	ok(wire_skew_ms(now + 5, now, &ahead) == 5 && ahead, "skew +5");
	ok(wire_skew_ms(now - 5, now, &ahead) == 5 && !ahead, "skew -5");
	ok(wire_skew_ms(now + h, now, &ahead) == h && ahead,
	    "skew now + 2^63 is +2^63, not INT64_MIN");
	ok(wire_skew_ms(now + h - 1, now, &ahead) == h - 1 && ahead,
	    "skew now + 2^63 - 1");
	ok(wire_skew_ms(now + h + 1, now, &ahead) == h + 1 && ahead,
	    "skew now + 2^63 + 1 stays ahead");
	ok(wire_skew_ms(UINT64_MAX, now, &ahead) == UINT64_MAX - now &&
	    ahead, "skew UINT64_MAX");
	ok(wire_skew_ms(0, now, &ahead) == now && !ahead, "skew 0 ms");
	ok(wire_skew_ms(0, UINT64_MAX, &ahead) == UINT64_MAX && !ahead,
	    "skew 0 against UINT64_MAX");
	ok(wire_skew_ms(UINT64_MAX, 0, &ahead) == UINT64_MAX && ahead,
	    "skew UINT64_MAX against 0");
	ok(wire_skew_ms(h, h - 1, &ahead) == 1 && ahead,
	    "skew across 2^63");
}

static void
test_hello(void)
{
	uint8_t		 m[WIRE_HELLO_LEN + 1], r[32], r2[32];
	char		 name[WIRE_KEYNAME_MAX + 1], n32[33];
	const char	*e;
	uint64_t	 t;
	int		 pass;

	randombytes_buf(r, sizeof(r));
	wire_hello_build(m, "backup", r, 12345);
	ok(wire_hello_parse(m, WIRE_HELLO_LEN, name, r2, &t, &e) == 0 &&
	    strcmp(name, "backup") == 0 && memcmp(r, r2, 32) == 0 &&
	    t == 12345, "HELLO round trip");
	memset(n32, 'k', 32);
	n32[32] = '\0';
	wire_hello_build(m, n32, r, UINT64_MAX);
	ok(wire_hello_parse(m, WIRE_HELLO_LEN, name, r2, &t, &e) == 0 &&
	    strcmp(name, n32) == 0 && t == UINT64_MAX,
	    "HELLO round trip, 32-byte name, largest time");

	wire_hello_build(m, "backup", r, 1);
	m[0] = 'X';
	pass = wire_hello_parse(m, WIRE_HELLO_LEN, name, r2, &t, &e) == -1;
	ok(pass, "HELLO bad magic: %s", e);
	wire_hello_build(m, "backup", r, 1);
	m[4] = 2;
	pass = wire_hello_parse(m, WIRE_HELLO_LEN, name, r2, &t, &e) == -1;
	ok(pass, "HELLO version 2: %s", e);
	wire_hello_build(m, "backup", r, 1);
	m[5] = WIRE_HS_FINISH;
	pass = wire_hello_parse(m, WIRE_HELLO_LEN, name, r2, &t, &e) == -1;
	ok(pass, "HELLO wrong type: %s", e);
	wire_hello_build(m, "backup", r, 1);
	pass = wire_hello_parse(m, WIRE_HELLO_LEN - 1, name, r2, &t, &e) == -1;
	ok(pass, "HELLO 78 bytes: %s", e);
	pass = wire_hello_parse(m, WIRE_HELLO_LEN + 1, name, r2, &t, &e) == -1;
	ok(pass, "HELLO 80 bytes: %s", e);
	pass = wire_hello_parse(m, 3, name, r2, &t, &e) == -1;
	ok(pass, "HELLO 3 bytes: %s", e);
	m[6] = 0;
	pass = wire_hello_parse(m, WIRE_HELLO_LEN, name, r2, &t, &e) == -1;
	ok(pass, "HELLO empty key name: %s", e);
	wire_hello_build(m, n32, r, 1);
	m[6] = 33;
	pass = wire_hello_parse(m, WIRE_HELLO_LEN, name, r2, &t, &e) == -1;
	ok(pass, "HELLO key name length 33: %s", e);
	wire_hello_build(m, "backup", r, 1);
	m[7 + 2] = '/';
	pass = wire_hello_parse(m, WIRE_HELLO_LEN, name, r2, &t, &e) == -1;
	ok(pass, "HELLO key name with /: %s", e);
	wire_hello_build(m, "backup", r, 1);
	m[7 + 2] = '\0';
	pass = wire_hello_parse(m, WIRE_HELLO_LEN, name, r2, &t, &e) == -1;
	ok(pass, "HELLO key name with NUL: %s", e);
	wire_hello_build(m, "backup", r, 1);
	m[7] = '.';
	pass = wire_hello_parse(m, WIRE_HELLO_LEN, name, r2, &t, &e) == -1;
	ok(pass, "HELLO key name with leading dot: %s", e);
	wire_hello_build(m, "backup", r, 1);
	m[7 + 6] = 'x';
	pass = wire_hello_parse(m, WIRE_HELLO_LEN, name, r2, &t, &e) == -1;
	ok(pass, "HELLO key name padding not zero: %s", e);
	wire_hello_build(m, "bad name", r, 1);
	pass = m[6] == 0 &&
	    wire_hello_parse(m, WIRE_HELLO_LEN, name, r2, &t, &e) == -1;
	ok(pass, "HELLO built with an invalid name is refused: %s", e);
}

static void
test_challenge_finish(void)
{
	uint8_t		 c[WIRE_CHALLENGE_LEN], f[WIRE_FINISH_LEN];
	uint8_t		 r[32], r2[32];
	const char	*e;
	uint64_t	 t;
	int		 pass;

	randombytes_buf(r, sizeof(r));
	wire_challenge_build(c, r, 987654321);
	ok(wire_challenge_parse(c, sizeof(c), r2, &t, &e) == 0 &&
	    memcmp(r, r2, 32) == 0 && t == 987654321,
	    "CHALLENGE round trip");
	pass = wire_challenge_parse(c, sizeof(c) - 1, r2, &t, &e) == -1;
	ok(pass, "CHALLENGE 45 bytes: %s", e);
	ok(wire_challenge_parse(c, sizeof(c) + 0, r2, &t, &e) == 0,
	    "CHALLENGE 46 bytes");
	c[1] ^= 1;
	pass = wire_challenge_parse(c, sizeof(c), r2, &t, &e) == -1;
	ok(pass, "CHALLENGE bad magic: %s", e);
	c[1] ^= 1;
	c[4] = 2;
	pass = wire_challenge_parse(c, sizeof(c), r2, &t, &e) == -1;
	ok(pass, "CHALLENGE version 2: %s", e);
	c[4] = 1;
	c[5] = WIRE_HS_RESULT;
	pass = wire_challenge_parse(c, sizeof(c), r2, &t, &e) == -1;
	ok(pass, "CHALLENGE wrong type: %s", e);

	wire_finish_build(f, r);
	ok(wire_finish_parse(f, sizeof(f), r2, &e) == 0 &&
	    memcmp(r, r2, 32) == 0, "FINISH round trip");
	pass = wire_finish_parse(f, sizeof(f) - 1, r2, &e) == -1;
	ok(pass, "FINISH 37 bytes: %s", e);
	f[2] = 0;
	pass = wire_finish_parse(f, sizeof(f), r2, &e) == -1;
	ok(pass, "FINISH bad magic: %s", e);
	wire_finish_build(f, r);
	f[4] = 2;
	pass = wire_finish_parse(f, sizeof(f), r2, &e) == -1;
	ok(pass, "FINISH version 2: %s", e);
	wire_finish_build(f, r);
	f[5] = WIRE_HS_HELLO;
	pass = wire_finish_parse(f, sizeof(f), r2, &e) == -1;
	ok(pass, "FINISH wrong type: %s", e);
}

static void
test_result(void)
{
	uint8_t		 m[WIRE_RESULT_MAX + 8], p[32], p2[32];
	char		 msg[WIRE_RESULT_MSG_MAX + 1], big[300];
	const char	*e;
	size_t		 len, need;
	int		 code;
	int		 pass;

	randombytes_buf(p, sizeof(p));
	len = wire_result_build(m, WIRE_HS_OK, p, "");
	is_int(len, WIRE_RESULT_MIN, "RESULT ok is 40 bytes");
	ok(wire_result_parse(m, len, &need, &code, p2, msg, &e) == 0 &&
	    code == 0 && memcmp(p, p2, 32) == 0 && msg[0] == '\0',
	    "RESULT ok round trip");
	ok(wire_result_parse(m, 6, &need, &code, p2, msg, &e) == 1 &&
	    need == WIRE_RESULT_MIN, "RESULT 6 bytes: need 40");
	ok(wire_result_parse(m, 0, &need, &code, p2, msg, &e) == 1 &&
	    need == WIRE_RESULT_MIN, "RESULT 0 bytes: need 40");
	pass = wire_result_parse(m, len + 1, &need, &code, p2, msg, &e) == -1;
	ok(pass, "RESULT with a byte too many: %s", e);

	len = wire_result_build(m, WIRE_HS_SKEW, p, "clock skew 61s");
	is_int(len, WIRE_RESULT_MIN + 14, "RESULT refusal length");
	ok(memcmp(m + 7, zero32, 32) == 0,
	    "RESULT refusal has a zero proof even when given one");
	ok(wire_result_parse(m, 39, &need, &code, p2, msg, &e) == 1 &&
	    need == WIRE_RESULT_MIN, "RESULT 39 bytes: need 40");
	ok(wire_result_parse(m, 40, &need, &code, p2, msg, &e) == 1 &&
	    need == len, "RESULT 40 bytes: need %zu", len);
	ok(wire_result_parse(m, len, &need, &code, p2, msg, &e) == 0 &&
	    code == WIRE_HS_SKEW && strcmp(msg, "clock skew 61s") == 0,
	    "RESULT refusal round trip");
	m[WIRE_RESULT_MIN + 3] = '\0';
	pass = wire_result_parse(m, len, &need, &code, p2, msg, &e) == -1;
	ok(pass, "RESULT with a NUL in the message: %s", e);
	m[WIRE_RESULT_MIN + 3] = 'x';
	m[7] = 1;
	pass = wire_result_parse(m, len, &need, &code, p2, msg, &e) == -1;
	ok(pass, "RESULT refusal with a non-zero proof: %s", e);
	m[7] = 0;
	m[6] = WIRE_HS_TIMEOUT + 1;
	pass = wire_result_parse(m, len, &need, &code, p2, msg, &e) == -1;
	ok(pass, "RESULT with refusal code 7: %s", e);
	m[6] = 255;
	pass = wire_result_parse(m, len, &need, &code, p2, msg, &e) == -1;
	ok(pass, "RESULT with refusal code 255: %s", e);
	m[6] = WIRE_HS_TIMEOUT;
	ok(wire_result_parse(m, len, &need, &code, p2, msg, &e) == 0 &&
	    code == WIRE_HS_TIMEOUT, "RESULT with refusal code 6 is fine");
	m[6] = WIRE_HS_OK;
	pass = wire_result_parse(m, len, &need, &code, p2, msg, &e) == -1;
	ok(pass, "RESULT accepted with a message: %s", e);

	len = wire_result_build(m, WIRE_HS_BUSY, NULL, NULL);
	ok(len == WIRE_RESULT_MIN && memcmp(m + 7, zero32, 32) == 0,
	    "RESULT without proof or message");
	m[39] = 201;
	pass = wire_result_parse(m, WIRE_RESULT_MAX + 1, &need, &code, p2, msg,
	    &e) == -1;
	ok(pass, "RESULT message length 201: %s", e);
	m[4] = 2;
	m[39] = 0;
	pass = wire_result_parse(m, 40, &need, &code, p2, msg, &e) == -1;
	ok(pass, "RESULT version 2: %s", e);
	m[4] = 1;
	m[5] = 2;
	pass = wire_result_parse(m, 6, &need, &code, p2, msg, &e) == -1;
	ok(pass, "RESULT wrong type, seen from 6 bytes: %s", e);

	memset(big, 'x', sizeof(big));
	big[sizeof(big) - 1] = '\0';
	len = wire_result_build(m, WIRE_HS_AUTH, NULL, big);
	is_int(len, WIRE_RESULT_MAX, "RESULT message cut at 200 bytes");
	/* An e-acute across the cut must go whole. */
	memcpy(big + 199, "\xc3\xa9", 2);
	len = wire_result_build(m, WIRE_HS_AUTH, NULL, big);
	is_int(len, WIRE_RESULT_MAX - 1, "RESULT cut keeps UTF-8 whole");
}

static void
test_keys(void)
{
	struct vectors		 v;
	struct wire_keys	 k2;
	uint8_t			 key2[32], cp2[32], sp2[32], h2[32];
	uint8_t			 hello2[WIRE_HELLO_LEN];

	vectors_compute(&v);
	memcpy(key2, v.key, 32);
	key2[31] ^= 1;
	wire_client_proof(key2, v.h, cp2);
	ok(memcmp(cp2, v.cproof, 32) != 0, "client proof differs with "
	    "another key");
	ok(wire_proof_cmp(cp2, v.cproof) != 0, "proof_cmp: differ");
	ok(wire_proof_cmp(v.cproof, v.cproof) == 0, "proof_cmp: equal");
	wire_server_proof(key2, v.h, v.cproof, sp2);
	ok(memcmp(sp2, v.sproof, 32) != 0, "server proof differs with "
	    "another key");
	ok(memcmp(v.cproof, v.sproof, 32) != 0,
	    "client and server proofs differ");
	ok(memcmp(v.keys.c2s, v.keys.s2c, 32) != 0,
	    "session keys differ per direction");
	wire_session_keys(key2, v.h, v.cproof, &k2);
	ok(memcmp(k2.c2s, v.keys.c2s, 32) != 0 &&
	    memcmp(k2.s2c, v.keys.s2c, 32) != 0,
	    "session keys differ with another key");
	is_int(k2.counter0, v.keys.counter0, "C0 depends on H only");
	ok(v.keys.counter0 <= WIRE_COUNTER_MASK, "C0 has the top bits clear");

	/* Fresh client randomness changes everything. */
	memcpy(hello2, v.hello, sizeof(hello2));
	hello2[39] ^= 0x80;
	wire_transcript(hello2, v.challenge, h2);
	ok(memcmp(h2, v.h, 32) != 0, "H depends on the client random");
	wire_session_keys(v.key, h2, v.cproof, &k2);
	ok(memcmp(k2.c2s, v.keys.c2s, 32) != 0,
	    "session keys depend on H");
	wire_session_keys(v.key, v.h, cp2, &k2);
	ok(memcmp(k2.c2s, v.keys.c2s, 32) != 0,
	    "session keys depend on the client proof");
}

/* A request plaintext with a payload of paylen bytes at buf + 12. */
static size_t
mkplain(uint8_t *buf, size_t size, size_t paylen)
{
	struct wire_hdr	 h;
	uint8_t		*pt = buf + WIRE_FRAME_HDR;
	ssize_t		 n;
	size_t		 i;

	memset(&h, 0, sizeof(h));
	wire_hdr_set(&h, WIRE_F_METHOD, WIRE_M_WRITE);
	(void)wire_hdr_set_name(&h, "ab/cdef");
	wire_hdr_set(&h, WIRE_F_TIMESTAMP, 1);
	wire_hdr_set(&h, WIRE_F_PAYLEN, paylen);
	n = wire_hdr_encode(&h, pt, size - WIRE_FRAME_HDR - WIRE_TAG_LEN);
	if (n < 0 || (size_t)n + paylen + WIRE_FRAME_HDR + WIRE_TAG_LEN > size)
		abort();
	for (i = 0; i < paylen; i++)
		pt[n + i] = (uint8_t)(i * 7 + i / 251);
	return (size_t)n + paylen;
}

static void
test_seal_sizes(void)
{
	const size_t	 sizes[] = { 0, 1, WIRE_PAYLOAD_MAX };
	uint8_t		 key[32], *buf, *copy;
	size_t		 size, i, ptlen, flen, ctlen;
	uint64_t	 ctr;

	size = WIRE_FRAME_HDR + WIRE_PLAIN_MAX + WIRE_TAG_LEN;
	if ((buf = malloc(size)) == NULL || (copy = malloc(size)) == NULL) {
		ok(0, "malloc %zu", size);
		free(buf);
		return;
	}
	randombytes_buf(key, sizeof(key));
	for (i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		ptlen = mkplain(buf, size, sizes[i]);
		memcpy(copy, buf + WIRE_FRAME_HDR, ptlen);
		flen = wire_seal(key, 42 + i, buf, ptlen);
		is_int(flen, WIRE_FRAME_HDR + ptlen + WIRE_TAG_LEN,
		    "seal %zu-byte payload: frame length", sizes[i]);
		ok(memcmp(copy, buf + WIRE_FRAME_HDR, ptlen) != 0,
		    "seal %zu-byte payload: encrypted in place", sizes[i]);
		ok(wire_frame_hdr(buf, &ctlen, &ctr) == 0 &&
		    ctlen == ptlen + WIRE_TAG_LEN && ctr == 42 + i,
		    "seal %zu-byte payload: frame header", sizes[i]);
		ok(wire_open(key, buf, ctlen) == 0 &&
		    memcmp(copy, buf + WIRE_FRAME_HDR, ptlen) == 0,
		    "open %zu-byte payload: same plaintext", sizes[i]);
	}
	/* The largest plaintext there can be. */
	ptlen = WIRE_PLAIN_MAX;
	randombytes_buf(buf + WIRE_FRAME_HDR, ptlen);
	flen = wire_seal(key, 7, buf, ptlen);
	ok(flen == WIRE_FRAME_HDR + WIRE_FRAME_MAX &&
	    wire_frame_hdr(buf, &ctlen, &ctr) == 0 &&
	    wire_open(key, buf, ctlen) == 0, "seal and open WIRE_PLAIN_MAX");
	is_int(wire_seal(key, 7, buf, WIRE_PLAIN_MAX + 1), 0,
	    "seal refuses WIRE_PLAIN_MAX + 1");
	is_int(wire_seal(key, 7, buf, 3), 0, "seal refuses 3 bytes");
	free(buf);
	free(copy);
}

static void
test_seal_open(void)
{
	uint8_t		 key[32], key2[32], frame[256], f[256];
	size_t		 ptlen, flen, ctlen;
	uint64_t	 ctr;

	randombytes_buf(key, sizeof(key));
	memcpy(key2, key, sizeof(key2));
	key2[0] ^= 1;
	ptlen = mkplain(frame, sizeof(frame), 5);
	flen = wire_seal(key, 1000, frame, ptlen);
	ctlen = flen - WIRE_FRAME_HDR;

	memcpy(f, frame, flen);
	ok(wire_open(key, f, ctlen) == 0, "open: untouched frame");
	memcpy(f, frame, flen);
	f[WIRE_FRAME_HDR + 3] ^= 0x10;
	ok(wire_open(key, f, ctlen) == -1, "open: bit flipped in ciphertext");
	memcpy(f, frame, flen);
	f[flen - 1] ^= 0x01;
	ok(wire_open(key, f, ctlen) == -1, "open: bit flipped in tag");
	memcpy(f, frame, flen);
	f[3] ^= 0x01;
	ok(wire_open(key, f, ctlen) == -1,
	    "open: bit flipped in length field");
	memcpy(f, frame, flen);
	f[3] ^= 0x01;
	ok(wire_frame_hdr(f, &ctlen, &ctr) == 0 &&
	    wire_open(key, f, ctlen) == -1,
	    "open: bit flipped in length field, taken at its word");
	ctlen = flen - WIRE_FRAME_HDR;
	memcpy(f, frame, flen);
	f[11] ^= 0x01;
	ok(wire_open(key, f, ctlen) == -1,
	    "open: bit flipped in counter field");
	memcpy(f, frame, flen);
	f[4] ^= 0x80;
	ok(wire_open(key, f, ctlen) == -1,
	    "open: top bit flipped in counter field");
	memcpy(f, frame, flen);
	ok(wire_open(key2, f, ctlen) == -1, "open: wrong key");
	memcpy(f, frame, flen);
	ok(wire_open(key, f, ctlen - 1) == -1, "open: short ctlen");
	ok(wire_open(key, f, 3) == -1, "open: ctlen below the minimum");

	/* Same plaintext, next counter: different bytes. */
	memcpy(f, frame, flen);
	(void)wire_open(key, f, ctlen);
	(void)wire_seal(key, 1001, f, ptlen);
	ok(memcmp(f + WIRE_FRAME_HDR, frame + WIRE_FRAME_HDR, ctlen) != 0,
	    "seal: another counter gives another ciphertext");
}

static void
test_frame_hdr(void)
{
	const uint32_t	 bad[] = { 0, 19, WIRE_FRAME_MAX + 1, 0xffffffff };
	uint8_t		 h[WIRE_FRAME_HDR];
	size_t		 ctlen, i;
	uint64_t	 ctr;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		be32_put(h, bad[i]);
		be64_put(h + 4, 1);
		ok(wire_frame_hdr(h, &ctlen, &ctr) == -1,
		    "frame_hdr refuses length %u", bad[i]);
	}
	be32_put(h, WIRE_FRAME_MIN);
	be64_put(h + 4, 0x0123456789abcdefULL);
	ok(wire_frame_hdr(h, &ctlen, &ctr) == 0 && ctlen == 20 &&
	    ctr == 0x0123456789abcdefULL, "frame_hdr takes length 20");
	be32_put(h, WIRE_FRAME_MAX);
	ok(wire_frame_hdr(h, &ctlen, &ctr) == 0 && ctlen == WIRE_FRAME_MAX,
	    "frame_hdr takes WIRE_FRAME_MAX");
}

/* A header with every field. */
static struct wire_hdr *
fullhdr(void)
{
	static struct wire_hdr	 h;

	memset(&h, 0, sizeof(h));
	wire_hdr_set(&h, WIRE_F_METHOD, WIRE_M_READ | WIRE_M_RESPONSE);
	(void)wire_hdr_set_name(&h, "0a/12345678-0-deadbeef");
	wire_hdr_set(&h, WIRE_F_TIMESTAMP, V_CTIME);
	wire_hdr_set(&h, WIRE_F_PAYLEN, 3);
	wire_hdr_set(&h, WIRE_F_PAYCRC, 0x352441c2);	/* "abc" */
	wire_hdr_set(&h, WIRE_F_ERROR, WIRE_E_OK);
	wire_hdr_set_errmsg(&h, "fine");
	return &h;
}

static void
test_hdr_roundtrip(void)
{
	struct wire_hdr	*h, d;
	uint8_t		 buf[2048], big[WIRE_ERRMSG_MAX + 10];
	const char	*e = NULL;
	ssize_t		 n, off;

	h = fullhdr();
	n = wire_hdr_encode(h, buf, sizeof(buf));
	ok(n == 4 + 5 * 16 + 8 + 22 + 8 + 4, "encode all fields: %zd bytes",
	    n);
	memcpy(buf + n, "abc", 3);
	off = wire_hdr_decode(&d, buf, n + 3, &e);
	is_int(off, n, "decode all fields: payload offset");
	ok(d.present == h->present && d.method == h->method &&
	    strcmp(d.name, h->name) == 0 && d.namelen == h->namelen &&
	    d.timestamp == h->timestamp && d.paylen == 3 &&
	    d.paycrc == 0x352441c2 && d.error == 0 &&
	    strcmp(d.errmsg, "fine") == 0 && d.errmsglen == 4,
	    "decode all fields: same values");
	ok(wire_hdr_check(&d, 1, 3, &e) == 0, "check: full response");
	is_int(crc32(0L, (const Bytef *)"abc", 3), 0x352441c2,
	    "crc32(abc) as used above");
	ok(wire_hdr_encode(h, buf, (size_t)n - 1) == -1,
	    "encode into a buffer one byte short");
	ok(wire_hdr_encode(h, buf, 3) == -1, "encode into 3 bytes");

	memset(&d, 0, sizeof(d));
	ok(wire_hdr_encode(&d, buf, sizeof(buf)) == -1,
	    "encode with no fields");
	wire_hdr_set(&d, WIRE_F_METHOD, UINT64_MAX);
	n = wire_hdr_encode(&d, buf, sizeof(buf));
	ok(n == 20 && wire_hdr_decode(&d, buf, n, &e) == 20 &&
	    d.method == UINT64_MAX, "uint round trip of UINT64_MAX");
	ok(wire_hdr_set_name(&d, "") == -1, "set_name refuses \"\"");
	memset(big, 'n', sizeof(big));
	big[WIRE_NAME_MAX + 1] = '\0';
	ok(wire_hdr_set_name(&d, (char *)big) == -1, "set_name refuses 256");
	big[WIRE_NAME_MAX] = '\0';
	ok(wire_hdr_set_name(&d, (char *)big) == 0 && d.namelen == 255,
	    "set_name takes 255");
	memset(big, 'm', sizeof(big));
	big[sizeof(big) - 1] = '\0';
	wire_hdr_set_errmsg(&d, (char *)big);
	is_int(d.errmsglen, WIRE_ERRMSG_MAX, "set_errmsg cuts at 1024");
	n = wire_hdr_encode(&d, buf, sizeof(buf));
	ok(n > 0 && wire_hdr_decode(&d, buf, n, &e) == n &&
	    d.namelen == 255 && d.errmsglen == 1024,
	    "longest name and error message round trip");
}

static void
test_hdr_flips(void)
{
	uint8_t		 buf[512];
	struct wire_hdr	 d;
	const char	*e = NULL;
	ssize_t		 n;
	size_t		 i, refused = 0;
	int		 bit;

	n = wire_hdr_encode(fullhdr(), buf, sizeof(buf));
	for (i = 4; i < (size_t)n; i++) {
		for (bit = 0; bit < 8; bit++) {
			buf[i] ^= 1 << bit;
			if (wire_hdr_decode(&d, buf, n, &e) == -1)
				refused++;
			buf[i] ^= 1 << bit;
		}
	}
	is_int(refused, 8 * (n - 4), "every bit flipped in the fields "
	    "is refused");
	/* The value of field 2 (name) starts at 4 + 16 + 4. */
	buf[4 + 16 + 4] ^= 0x20;
	ok(wire_hdr_decode(&d, buf, n, &e) == -1, "flipped name byte");
	is_str(e, "field 2: bad crc32", "flipped name byte: errstr");
	buf[4 + 16 + 4] ^= 0x20;
	buf[4 + 16 + 8 + 22] ^= 0x01;
	ok(wire_hdr_decode(&d, buf, n, &e) == -1, "flipped name crc32");
	is_str(e, "field 2: bad crc32", "flipped name crc32: errstr");
	buf[4 + 16 + 8 + 22] ^= 0x01;
	buf[4 + 15] ^= 0x01;
	ok(wire_hdr_decode(&d, buf, n, &e) == -1, "flipped method crc32");
	is_str(e, "field 1: bad crc32", "flipped method crc32: errstr");
	buf[4 + 15] ^= 0x01;
	ok(wire_hdr_decode(&d, buf, n, &e) == n, "restored header decodes");
}

/* Header bytes from fields given one by one; returns the plaintext length. */
static size_t
hdr_start(uint8_t *buf)
{
	(void)buf;
	return 4;
}

static size_t
hdr_end(uint8_t *buf, size_t off)
{
	uint32_t	 hl = off - 4;

	be32_put(buf, hl);
	return off;
}

static void
expect_refused(const uint8_t *buf, size_t len, const char *what,
    const char *want)
{
	struct wire_hdr	 d;
	const char	*e = "(none)";
	ssize_t		 rv;
	int		 pass;

	rv = wire_hdr_decode(&d, buf, len, &e);
	pass = rv == -1;
	ok(pass, "decode refuses %s: %s", what, e);
	if (want != NULL)
		is_str(e, want, "decode refuses %s: errstr", what);
}

static void
test_hdr_reject(void)
{
	uint8_t		 buf[8192], v[8], text[1100];
	size_t		 off, len;
	uLong		 crc;

	off = hdr_start(buf);
	wire_field_uint(buf, sizeof(buf), &off, WIRE_F_TIMESTAMP, 1);
	wire_field_uint(buf, sizeof(buf), &off, WIRE_F_METHOD, 1);
	len = hdr_end(buf, off);
	expect_refused(buf, len, "out-of-order tags", "field 1: out of order");

	off = hdr_start(buf);
	wire_field_uint(buf, sizeof(buf), &off, WIRE_F_METHOD, 1);
	wire_field_uint(buf, sizeof(buf), &off, WIRE_F_METHOD, 1);
	len = hdr_end(buf, off);
	expect_refused(buf, len, "a duplicate tag", "field 1: duplicate");

	off = hdr_start(buf);
	wire_field_uint(buf, sizeof(buf), &off, WIRE_F_METHOD, 1);
	wire_field_uint(buf, sizeof(buf), &off, 9, 1);
	len = hdr_end(buf, off);
	expect_refused(buf, len, "unknown tag 9", "field 9: unknown tag");

	off = hdr_start(buf);
	wire_field_uint(buf, sizeof(buf), &off, 0, 1);
	len = hdr_end(buf, off);
	expect_refused(buf, len, "tag 0", "field 0: unknown tag");

	off = hdr_start(buf);
	wire_field_bytes(buf, sizeof(buf), &off, WIRE_F_METHOD, "12345678",
	    8);
	len = hdr_end(buf, off);
	expect_refused(buf, len, "bytes for method", "field 1: wrong type");

	off = hdr_start(buf);
	wire_field_uint(buf, sizeof(buf), &off, WIRE_F_NAME, 1);
	len = hdr_end(buf, off);
	expect_refused(buf, len, "uint for name", "field 2: wrong type");

	off = hdr_start(buf);
	wire_field_uint(buf, sizeof(buf), &off, WIRE_F_ERRMSG, 1);
	len = hdr_end(buf, off);
	expect_refused(buf, len, "uint for errmsg", "field 7: wrong type");

	/* Type 3, with a right crc32. */
	off = hdr_start(buf);
	wire_field_uint(buf, sizeof(buf), &off, WIRE_F_METHOD, 1);
	buf[5] = 3;
	crc = crc32(0L, buf + 4, 12);
	be32_put(buf + 16, crc);
	len = hdr_end(buf, off);
	expect_refused(buf, len, "type 3", "field 1: bad type");

	/* A uint of 7 bytes, with a right crc32. */
	off = hdr_start(buf);
	memset(v, 0, sizeof(v));
	wire_field_bytes(buf, sizeof(buf), &off, WIRE_F_METHOD, v, 7);
	buf[5] = WIRE_T_UINT;
	crc = crc32(0L, buf + 4, 11);
	be32_put(buf + 15, crc);
	len = hdr_end(buf, off);
	expect_refused(buf, len, "a uint of 7 bytes",
	    "field 1: integer not 8 bytes");

	off = hdr_start(buf);
	wire_field_bytes(buf, sizeof(buf), &off, WIRE_F_NAME, "ab\0cd", 5);
	len = hdr_end(buf, off);
	expect_refused(buf, len, "a name with a NUL", "field 2: NUL in name");

	off = hdr_start(buf);
	wire_field_bytes(buf, sizeof(buf), &off, WIRE_F_NAME, "", 0);
	len = hdr_end(buf, off);
	expect_refused(buf, len, "an empty name", "field 2: bad name length");

	off = hdr_start(buf);
	memset(text, 'a', sizeof(text));
	wire_field_bytes(buf, sizeof(buf), &off, WIRE_F_NAME, text, 256);
	len = hdr_end(buf, off);
	expect_refused(buf, len, "a name of 256", "field 2: bad name length");

	off = hdr_start(buf);
	wire_field_bytes(buf, sizeof(buf), &off, WIRE_F_ERRMSG, text, 1025);
	len = hdr_end(buf, off);
	expect_refused(buf, len, "an error message of 1025",
	    "field 7: error message too long");

	off = hdr_start(buf);
	wire_field_bytes(buf, sizeof(buf), &off, WIRE_F_ERRMSG, "a\0", 2);
	len = hdr_end(buf, off);
	expect_refused(buf, len, "an error message with a NUL",
	    "field 7: NUL in error message");

	/* Header lengths. */
	off = hdr_start(buf);
	wire_field_uint(buf, sizeof(buf), &off, WIRE_F_METHOD, 1);
	len = hdr_end(buf, off);
	buf[3] = 0;
	expect_refused(buf, len, "HL 0", "header length out of range");
	buf[2] = 0x10;
	buf[3] = 0x01;
	memset(buf + len, 0, 5000);
	expect_refused(buf, 5000, "HL 4097", "header length out of range");
	buf[2] = 0;
	buf[3] = 17;
	expect_refused(buf, len, "HL one beyond the end",
	    "header length beyond the plaintext");
	buf[0] = 0xff;
	expect_refused(buf, len, "HL 0xff000011", "header length out of range");
	expect_refused(buf, 3, "a 3-byte plaintext", NULL);
	expect_refused(buf, 0, "an empty plaintext", NULL);

	/* Bytes left over inside HL. */
	off = hdr_start(buf);
	wire_field_uint(buf, sizeof(buf), &off, WIRE_F_METHOD, 1);
	memset(buf + off, 0, 3);
	len = hdr_end(buf, off + 3);
	expect_refused(buf, len, "3 garbage bytes after the fields",
	    "truncated field");
	off = hdr_start(buf);
	wire_field_uint(buf, sizeof(buf), &off, WIRE_F_METHOD, 1);
	memcpy(buf + off, "\x02\x02\x00\x10zz", 6);
	len = hdr_end(buf, off + 6);
	expect_refused(buf, len, "a field longer than HL",
	    "field 2: truncated");
	/* HL cutting into a field. */
	off = hdr_start(buf);
	wire_field_uint(buf, sizeof(buf), &off, WIRE_F_METHOD, 1);
	wire_field_uint(buf, sizeof(buf), &off, WIRE_F_TIMESTAMP, 1);
	len = hdr_end(buf, off - 1);
	expect_refused(buf, off, "HL ending inside a field",
	    "field 3: truncated");

	ok(wire_field_uint(buf, 19, &(size_t){ 4 }, 1, 1) == -1,
	    "field_uint: no room");
	ok(wire_field_bytes(buf, sizeof(buf), &(size_t){ 0 }, 2, buf,
	    65536) == -1, "field_bytes: 65536 bytes");
}

/* A header as a receiver decodes it. */
static struct wire_hdr *
req(uint64_t method, const char *name, uint64_t paylen)
{
	static struct wire_hdr	 h;

	memset(&h, 0, sizeof(h));
	wire_hdr_set(&h, WIRE_F_METHOD, method);
	if (name != NULL)
		(void)wire_hdr_set_name(&h, name);
	wire_hdr_set(&h, WIRE_F_TIMESTAMP, 5);
	wire_hdr_set(&h, WIRE_F_PAYLEN, paylen);
	wire_hdr_set(&h, WIRE_F_PAYCRC, paylen ? 0x12345678 : 0);
	return &h;
}

static void
test_hdr_check(void)
{
	struct wire_hdr	*h;
	const char	*e = NULL;
	uint64_t	 m;
	int		 pass;

	ok(wire_hdr_check(req(WIRE_M_PING, NULL, 0), 0, 0, &e) == 0,
	    "check: PING");
	ok(wire_hdr_check(req(WIRE_M_WRITE, "a/b", 10), 0, 10, &e) == 0,
	    "check: WRITE");
	ok(wire_hdr_check(req(WIRE_M_WRITE, "a/b", 0), 0, 0, &e) == 0,
	    "check: empty WRITE");
	ok(wire_hdr_check(req(WIRE_M_WRITE, "a/b", WIRE_PAYLOAD_MAX), 0,
	    WIRE_PAYLOAD_MAX, &e) == 0, "check: WRITE of 8 MiB");
	for (m = WIRE_M_READ; m <= WIRE_M_DIGEST; m++) {
		if (m == WIRE_M_STATFS)
			continue;
		ok(wire_hdr_check(req(m, "a", 0), 0, 0, &e) == 0,
		    "check: %s", wire_method_name(m));
		pass = wire_hdr_check(req(m, NULL, 0), 0, 0, &e) == -1;
		ok(pass, "check: %s without name: %s", wire_method_name(m), e);
		if (m == WIRE_M_LIST) {
			/* The NAME to list after, checked by the server. */
			ok(wire_hdr_check(req(m, "a", 1), 0, 1, &e) == 0,
			    "check: LIST with a payload");
			continue;
		}
		if (m == WIRE_M_READ) {
			/* A range: offset and length, 16 bytes exactly. */
			ok(wire_hdr_check(req(m, "a", WIRE_RANGE_LEN), 0,
			    WIRE_RANGE_LEN, &e) == 0,
			    "check: READ with a 16-byte range");
			pass = wire_hdr_check(req(m, "a", 15), 0, 15, &e) ==
			    -1;
			ok(pass, "check: READ with 15 bytes: %s", e);
			pass = wire_hdr_check(req(m, "a", 17), 0, 17, &e) ==
			    -1;
			ok(pass, "check: READ with 17 bytes: %s", e);
			pass = wire_hdr_check(req(m, "a", 32), 0, 32, &e) ==
			    -1;
			ok(pass, "check: READ with 32 bytes: %s", e);
			pass = wire_hdr_check(req(m, "a", WIRE_RANGE_LEN), 0,
			    WIRE_RANGE_LEN - 1, &e) == -1;
			ok(pass, "check: READ range shorter than paylen: %s",
			    e);
		}
		pass = wire_hdr_check(req(m, "a", 1), 0, 1, &e) == -1;
		ok(pass, "check: %s with a payload: %s", wire_method_name(m), e);
	}
	pass = wire_hdr_check(req(WIRE_M_STAT, "a", WIRE_RANGE_LEN), 0,
	    WIRE_RANGE_LEN, &e) == -1;
	ok(pass, "check: STAT with a 16-byte payload: %s", e);
	pass = wire_hdr_check(req(WIRE_M_PING, NULL, WIRE_RANGE_LEN), 0,
	    WIRE_RANGE_LEN, &e) == -1;
	ok(pass, "check: PING with a 16-byte payload: %s", e);
	ok(wire_hdr_check(req(WIRE_M_STATFS, NULL, 0), 0, 0, &e) == 0,
	    "check: STATFS");
	pass = wire_hdr_check(req(WIRE_M_STATFS, "a", 0), 0, 0, &e) == -1;
	ok(pass, "check: STATFS with a name: %s", e);
	pass = wire_hdr_check(req(WIRE_M_PING, "a", 0), 0, 0, &e) == -1;
	ok(pass, "check: PING with a name: %s", e);
	pass = wire_hdr_check(req(WIRE_M_PING, NULL, 4), 0, 4, &e) == -1;
	ok(pass, "check: PING with a payload: %s", e);
	pass = wire_hdr_check(req(WIRE_M_WRITE, NULL, 4), 0, 4, &e) == -1;
	ok(pass, "check: WRITE without a name: %s", e);
	pass = wire_hdr_check(req(WIRE_M_WRITE, "a/b", 10), 0, 11, &e) == -1;
	ok(pass, "check: payload longer than paylen: %s", e);
	pass = wire_hdr_check(req(WIRE_M_WRITE, "a/b", 10), 0, 9, &e) == -1;
	ok(pass, "check: payload shorter than paylen: %s", e);
	pass = wire_hdr_check(req(WIRE_M_WRITE, "a/b", WIRE_PAYLOAD_MAX + 1), 0,
	    WIRE_PAYLOAD_MAX + 1, &e) == -1;
	ok(pass, "check: paylen 8 MiB + 1: %s", e);
	pass = wire_hdr_check(req(0, NULL, 0), 0, 0, &e) == -1;
	ok(pass, "check: method 0: %s", e);
	pass = wire_hdr_check(req(8, NULL, 0), 0, 0, &e) == -1;
	ok(pass, "check: method 8: %s", e);
	pass = wire_hdr_check(req(WIRE_M_PING | WIRE_M_RESPONSE, NULL, 0), 0, 0,
	    &e) == -1;
	ok(pass, "check: request with a response method: %s", e);
	h = req(WIRE_M_WRITE, "a/b", 1);
	h->paycrc = 1ULL << 32;
	pass = wire_hdr_check(h, 0, 1, &e) == -1;
	ok(pass, "check: paycrc 2^32: %s", e);
	h = req(WIRE_M_PING, NULL, 0);
	h->paycrc = 1;
	pass = wire_hdr_check(h, 0, 0, &e) == -1;
	ok(pass, "check: empty payload, paycrc 1: %s", e);
	h = req(WIRE_M_PING, NULL, 0);
	h->present &= ~(1U << WIRE_F_METHOD);
	pass = wire_hdr_check(h, 0, 0, &e) == -1;
	ok(pass, "check: no method: %s", e);
	h = req(WIRE_M_PING, NULL, 0);
	h->present &= ~(1U << WIRE_F_TIMESTAMP);
	pass = wire_hdr_check(h, 0, 0, &e) == -1;
	ok(pass, "check: no timestamp: %s", e);
	h = req(WIRE_M_PING, NULL, 0);
	h->present &= ~(1U << WIRE_F_PAYLEN);
	pass = wire_hdr_check(h, 0, 0, &e) == -1;
	ok(pass, "check: no paylen: %s", e);
	h = req(WIRE_M_PING, NULL, 0);
	h->present &= ~(1U << WIRE_F_PAYCRC);
	pass = wire_hdr_check(h, 0, 0, &e) == -1;
	ok(pass, "check: no paycrc: %s", e);
	h = req(WIRE_M_PING, NULL, 0);
	wire_hdr_set(h, WIRE_F_ERROR, 0);
	pass = wire_hdr_check(h, 0, 0, &e) == -1;
	ok(pass, "check: request with an error code: %s", e);
	h = req(WIRE_M_PING, NULL, 0);
	wire_hdr_set_errmsg(h, "x");
	pass = wire_hdr_check(h, 0, 0, &e) == -1;
	ok(pass, "check: request with an error message: %s", e);

	h = req(WIRE_M_PING | WIRE_M_RESPONSE, NULL, 11);
	wire_hdr_set(h, WIRE_F_ERROR, 0);
	ok(wire_hdr_check(h, 1, 11, &e) == 0, "check: PING response");
	h->present &= ~(1U << WIRE_F_ERROR);
	pass = wire_hdr_check(h, 1, 11, &e) == -1;
	ok(pass, "check: response without error: %s", e);
	h = req(WIRE_M_PING, NULL, 0);
	wire_hdr_set(h, WIRE_F_ERROR, 0);
	pass = wire_hdr_check(h, 1, 0, &e) == -1;
	ok(pass, "check: response with a request method: %s", e);
	h = req(0x88, NULL, 0);
	wire_hdr_set(h, WIRE_F_ERROR, 0);
	pass = wire_hdr_check(h, 1, 0, &e) == -1;
	ok(pass, "check: response method 0x88: %s", e);
	h = req(WIRE_M_RESPONSE, NULL, 0);
	wire_hdr_set(h, WIRE_F_ERROR, WIRE_E_BADREQUEST);
	pass = wire_hdr_check(h, 1, 0, &e) == 0;
	ok(pass, "check: BADREQUEST response with method 0x80");
	h = req(0x89, NULL, 0);
	wire_hdr_set(h, WIRE_F_ERROR, WIRE_E_BADREQUEST);
	pass = wire_hdr_check(h, 1, 0, &e) == 0;
	ok(pass, "check: BADREQUEST response with method 0x89");
	h = req(0x180, NULL, 0);
	wire_hdr_set(h, WIRE_F_ERROR, WIRE_E_BADREQUEST);
	pass = wire_hdr_check(h, 1, 0, &e) == -1;
	ok(pass, "check: response method 0x180: %s", e);
	h = req(WIRE_M_WRITE | WIRE_M_RESPONSE, "a/b", 0);
	wire_hdr_set(h, WIRE_F_ERROR, WIRE_E_EXISTS);
	wire_hdr_set_errmsg(h, "a/b: exists");
	ok(wire_hdr_check(h, 1, 0, &e) == 0,
	    "check: error response with name and message");
	pass = wire_hdr_check(h, 1, 1, &e) == -1;
	ok(pass, "check: response payload does not match: %s", e);
	h = req(WIRE_M_READ | WIRE_M_RESPONSE, NULL, 5);
	wire_hdr_set(h, WIRE_F_ERROR, WIRE_E_NOTFOUND);
	pass = wire_hdr_check(h, 1, 5, &e) == -1;
	ok(pass, "check: error response with a payload: %s", e);
	wire_hdr_set(h, WIRE_F_ERROR, WIRE_E_OK);
	ok(wire_hdr_check(h, 1, 5, &e) == 0,
	    "check: the same payload without the error is fine");
}

int
main(int argc, char *argv[])
{
	if (sodium_init() < 0) {
		printf("Bail out! sodium_init failed\n");
		return 1;
	}
	if (argc == 2 && strcmp(argv[1], "vectors") == 0)
		return vectors_print();
	if (argc != 1) {
		fprintf(stderr, "usage: wire_test [vectors]\n");
		return 2;
	}
	test_vectors();
	test_vectors_crosscheck();
	test_strings();
	test_keyname();
	test_skew();
	test_hello();
	test_challenge_finish();
	test_result();
	test_keys();
	test_seal_open();
	test_seal_sizes();
	test_frame_hdr();
	test_hdr_roundtrip();
	test_hdr_flips();
	test_hdr_reject();
	test_hdr_check();
	return tap_done();
}
