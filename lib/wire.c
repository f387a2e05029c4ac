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
 * The dsrv wire protocol, version 1: error texts, the handshake
 * messages, the key schedule and the AEAD frames (the header inside a
 * frame is wire_hdr.c's).  Everything here works on caller
 * buffers and keeps no state beyond libsodium's initialisation; the
 * byte layouts are specified in man/dsrv-protocol.5, and
 * regress/unit/wire_test.c holds the test vectors printed there.
 */
#include <sys/types.h>

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sodium.h>
#include <zlib.h>

#include "log.h"
#include "bytes.h"
#include "wire.h"

#define HS_HDR_LEN	6	/* magic, version, type */
#define NONCE_LEN	crypto_aead_chacha20poly1305_IETF_NPUBBYTES

#define LABEL_CPROOF	"dsrv client proof"
#define LABEL_SPROOF	"dsrv server proof"
#define LABEL_SESSION	"dsrv session keys"

static void	 wire_sodium(void);
static void	 hs_header(uint8_t *, uint8_t);
static int	 hs_check(const uint8_t *, size_t, size_t, uint8_t,
		    const char **);
static void	 nonce_make(uint8_t [NONCE_LEN], uint64_t);

static const char *const wire_errors[] = {
	"ok",
	"bad request",
	"permission denied",
	"no such chunk",
	"chunk exists with different content",
	"bad chunk name",
	"crc32 mismatch",
	"I/O error",
	"no space left",
	"store is read-only",
	"chunk is corrupt",
	"too big",
	"not available",
	"internal error",
	"busy",
	"range starts beyond the end of the chunk",
};

static const char *const wire_hs_errors[] = {
	"ok",
	"authentication failed",
	"round trip too slow",
	"clock skew too large",
	"too many connections",
	"protocol error",
	"handshake timeout",
};

static const char *const wire_methods[] = {
	NULL, "PING", "WRITE", "READ", "LIST", "STAT", "STATFS", "DIGEST",
};

/*
 * libsodium wants sodium_init() before use; it is idempotent and cheap
 * after the first call.  Daemons should still call it themselves before
 * they sandbox, since the first call may need to open devices.
 */
static void
wire_sodium(void)
{
	static int	 done;

	if (done)
		return;
	if (sodium_init() < 0)
		fatalx("wire: libsodium cannot be initialised");
	done = 1;
}







uint64_t
wire_now_ms(void)
{
	struct timespec	 ts;

	if (clock_gettime(CLOCK_REALTIME, &ts) == -1)
		return 0;
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

uint64_t
wire_skew_ms(uint64_t peer, uint64_t ours, int *ahead)
{
	*ahead = peer > ours;
	return peer > ours ? peer - ours : ours - peer;
}

const char *
wire_strerror(uint64_t code)
{
	if (code < sizeof(wire_errors) / sizeof(wire_errors[0]))
		return wire_errors[code];
	return "unknown error";
}

const char *
wire_hs_strerror(int code)
{
	if (code >= 0 &&
	    (size_t)code < sizeof(wire_hs_errors) / sizeof(wire_hs_errors[0]))
		return wire_hs_errors[code];
	return "unknown handshake refusal";
}

const char *
wire_method_name(uint64_t m)
{
	m &= ~(uint64_t)WIRE_M_RESPONSE;
	if (m >= WIRE_M_PING && m <= WIRE_M_MAX)
		return wire_methods[m];
	return "unknown";
}

int
wire_keyname_valid(const char *s)
{
	size_t	 i;

	if (s == NULL || s[0] == '\0' || s[0] == '.')
		return 0;
	for (i = 0; s[i] != '\0'; i++) {
		if (i >= WIRE_KEYNAME_MAX)
			return 0;
		if ((s[i] >= 'a' && s[i] <= 'z') ||
		    (s[i] >= 'A' && s[i] <= 'Z') ||
		    (s[i] >= '0' && s[i] <= '9') ||
		    s[i] == '.' || s[i] == '_' || s[i] == '-')
			continue;
		return 0;
	}
	return 1;
}

/* Handshake messages */

static void
hs_header(uint8_t *out, uint8_t type)
{
	memcpy(out, WIRE_MAGIC, 4);
	out[4] = WIRE_VERSION;
	out[5] = type;
}

/*
 * The common prefix of every handshake message.  The version is looked
 * at before the type and length, so that a peer speaking another
 * version hears about that rather than about a length.
 */
static int
hs_check(const uint8_t *p, size_t len, size_t want, uint8_t type,
    const char **errstr)
{
	if (len < HS_HDR_LEN) {
		*errstr = "message too short";
		return -1;
	}
	if (memcmp(p, WIRE_MAGIC, 4) != 0) {
		*errstr = "bad magic";
		return -1;
	}
	if (p[4] != WIRE_VERSION) {
		*errstr = "unsupported protocol version";
		return -1;
	}
	if (p[5] != type) {
		*errstr = "unexpected message type";
		return -1;
	}
	if (want != 0 && len != want) {
		*errstr = "bad message length";
		return -1;
	}
	return 0;
}

void
wire_hello_build(uint8_t out[WIRE_HELLO_LEN], const char *keyname,
    const uint8_t crand[WIRE_RANDOM_LEN], uint64_t time_ms)
{
	size_t	 n;

	memset(out, 0, WIRE_HELLO_LEN);
	hs_header(out, WIRE_HS_HELLO);
	/* An invalid name is sent empty, which every server refuses. */
	n = wire_keyname_valid(keyname) ? strlen(keyname) : 0;
	out[6] = (uint8_t)n;
	if (n > 0)
		memcpy(out + 7, keyname, n);
	memcpy(out + 39, crand, WIRE_RANDOM_LEN);
	be64_put(out + 71, time_ms);
}

int
wire_hello_parse(const uint8_t *p, size_t len,
    char keyname[WIRE_KEYNAME_MAX + 1], uint8_t crand[WIRE_RANDOM_LEN],
    uint64_t *time_ms, const char **errstr)
{
	size_t	 n, i;

	if (hs_check(p, len, WIRE_HELLO_LEN, WIRE_HS_HELLO, errstr) == -1)
		return -1;
	n = p[6];
	if (n < 1 || n > WIRE_KEYNAME_MAX) {
		*errstr = "bad key name length";
		return -1;
	}
	for (i = n; i < WIRE_KEYNAME_MAX; i++) {
		if (p[7 + i] != 0) {
			*errstr = "key name not padded with zeros";
			return -1;
		}
	}
	memcpy(keyname, p + 7, n);
	keyname[n] = '\0';
	if (strlen(keyname) != n || !wire_keyname_valid(keyname)) {
		keyname[0] = '\0';
		*errstr = "bad key name";
		return -1;
	}
	memcpy(crand, p + 39, WIRE_RANDOM_LEN);
	*time_ms = be64_get(p + 71);
	return 0;
}

void
wire_challenge_build(uint8_t out[WIRE_CHALLENGE_LEN],
    const uint8_t srand[WIRE_RANDOM_LEN], uint64_t time_ms)
{
	hs_header(out, WIRE_HS_CHALLENGE);
	memcpy(out + 6, srand, WIRE_RANDOM_LEN);
	be64_put(out + 38, time_ms);
}

int
wire_challenge_parse(const uint8_t *p, size_t len,
    uint8_t srand[WIRE_RANDOM_LEN], uint64_t *time_ms, const char **errstr)
{
	if (hs_check(p, len, WIRE_CHALLENGE_LEN, WIRE_HS_CHALLENGE,
	    errstr) == -1)
		return -1;
	memcpy(srand, p + 6, WIRE_RANDOM_LEN);
	*time_ms = be64_get(p + 38);
	return 0;
}

void
wire_finish_build(uint8_t out[WIRE_FINISH_LEN],
    const uint8_t cproof[WIRE_PROOF_LEN])
{
	hs_header(out, WIRE_HS_FINISH);
	memcpy(out + 6, cproof, WIRE_PROOF_LEN);
}

int
wire_finish_parse(const uint8_t *p, size_t len,
    uint8_t cproof[WIRE_PROOF_LEN], const char **errstr)
{
	if (hs_check(p, len, WIRE_FINISH_LEN, WIRE_HS_FINISH, errstr) == -1)
		return -1;
	memcpy(cproof, p + 6, WIRE_PROOF_LEN);
	return 0;
}

/*
 * The longest prefix of s, at most max bytes, that does not end inside
 * a UTF-8 sequence.
 */
size_t
wire_utf8_cut(const char *s, size_t max)
{
	size_t	 n;

	n = strlen(s);
	if (n <= max)
		return n;
	n = max;
	while (n > 0 && ((unsigned char)s[n] & 0xc0) == 0x80)
		n--;
	return n;
}

size_t
wire_result_build(uint8_t out[WIRE_RESULT_MAX], int code,
    const uint8_t *sproof, const char *msg)
{
	size_t	 m;

	hs_header(out, WIRE_HS_RESULT);
	out[6] = (uint8_t)code;
	if (code == WIRE_HS_OK && sproof != NULL)
		memcpy(out + 7, sproof, WIRE_PROOF_LEN);
	else
		memset(out + 7, 0, WIRE_PROOF_LEN);
	m = msg == NULL ? 0 : wire_utf8_cut(msg, WIRE_RESULT_MSG_MAX);
	out[39] = (uint8_t)m;
	if (m > 0)
		memcpy(out + WIRE_RESULT_MIN, msg, m);
	return WIRE_RESULT_MIN + m;
}

/*
 * Returns 0 with the message parsed, 1 if it is incomplete (read until
 * there are *need bytes, then call again), -1 if it is malformed.
 */
int
wire_result_parse(const uint8_t *p, size_t len, size_t *need, int *code,
    uint8_t sproof[WIRE_PROOF_LEN], char msg[WIRE_RESULT_MSG_MAX + 1],
    const char **errstr)
{
	size_t	 m;

	*need = WIRE_RESULT_MIN;
	if (len >= HS_HDR_LEN &&
	    hs_check(p, len, 0, WIRE_HS_RESULT, errstr) == -1)
		return -1;
	if (len < WIRE_RESULT_MIN)
		return 1;
	m = p[39];
	if (m > WIRE_RESULT_MSG_MAX) {
		*errstr = "bad message length";
		return -1;
	}
	*need = WIRE_RESULT_MIN + m;
	if (len < *need)
		return 1;
	if (len > *need) {
		*errstr = "bad message length";
		return -1;
	}
	if (memchr(p + WIRE_RESULT_MIN, '\0', m) != NULL) {
		*errstr = "NUL in message";
		return -1;
	}
	/* Codes, proofs and messages only as dsrv-protocol(5) has them. */
	if (p[6] > WIRE_HS_TIMEOUT) {
		*errstr = "unknown refusal code";
		return -1;
	}
	if (p[6] != WIRE_HS_OK && sodium_is_zero(p + 7, WIRE_PROOF_LEN) != 1) {
		*errstr = "refusal with a non-zero proof";
		return -1;
	}
	if (p[6] == WIRE_HS_OK && m != 0) {
		*errstr = "acceptance with a message";
		return -1;
	}
	*code = p[6];
	memcpy(sproof, p + 7, WIRE_PROOF_LEN);
	memcpy(msg, p + WIRE_RESULT_MIN, m);
	msg[m] = '\0';
	return 0;
}

/* Key schedule */

void
wire_transcript(const uint8_t hello[WIRE_HELLO_LEN],
    const uint8_t challenge[WIRE_CHALLENGE_LEN], uint8_t h[WIRE_HASH_LEN])
{
	crypto_generichash_state	 st;

	wire_sodium();
	if (crypto_generichash_init(&st, NULL, 0, WIRE_HASH_LEN) != 0 ||
	    crypto_generichash_update(&st, hello, WIRE_HELLO_LEN) != 0 ||
	    crypto_generichash_update(&st, challenge,
	    WIRE_CHALLENGE_LEN) != 0 ||
	    crypto_generichash_final(&st, h, WIRE_HASH_LEN) != 0)
		fatalx("%s: BLAKE2b failed", __func__);
}

void
wire_client_proof(const uint8_t key[WIRE_KEY_LEN],
    const uint8_t h[WIRE_HASH_LEN], uint8_t proof[WIRE_PROOF_LEN])
{
	crypto_generichash_state	 st;
	int				 rv;

	wire_sodium();
	rv = crypto_generichash_init(&st, key, WIRE_KEY_LEN,
	    WIRE_PROOF_LEN) != 0 ||
	    crypto_generichash_update(&st, (const uint8_t *)LABEL_CPROOF,
	    sizeof(LABEL_CPROOF) - 1) != 0 ||
	    crypto_generichash_update(&st, h, WIRE_HASH_LEN) != 0 ||
	    crypto_generichash_final(&st, proof, WIRE_PROOF_LEN) != 0;
	/* The state is keyed: it holds K in a recoverable form. */
	sodium_memzero(&st, sizeof(st));
	if (rv)
		fatalx("%s: BLAKE2b failed", __func__);
}

void
wire_server_proof(const uint8_t key[WIRE_KEY_LEN],
    const uint8_t h[WIRE_HASH_LEN], const uint8_t cproof[WIRE_PROOF_LEN],
    uint8_t proof[WIRE_PROOF_LEN])
{
	crypto_generichash_state	 st;
	int				 rv;

	wire_sodium();
	rv = crypto_generichash_init(&st, key, WIRE_KEY_LEN,
	    WIRE_PROOF_LEN) != 0 ||
	    crypto_generichash_update(&st, (const uint8_t *)LABEL_SPROOF,
	    sizeof(LABEL_SPROOF) - 1) != 0 ||
	    crypto_generichash_update(&st, h, WIRE_HASH_LEN) != 0 ||
	    crypto_generichash_update(&st, cproof, WIRE_PROOF_LEN) != 0 ||
	    crypto_generichash_final(&st, proof, WIRE_PROOF_LEN) != 0;
	sodium_memzero(&st, sizeof(st));
	if (rv)
		fatalx("%s: BLAKE2b failed", __func__);
}

void
wire_session_keys(const uint8_t key[WIRE_KEY_LEN],
    const uint8_t h[WIRE_HASH_LEN], const uint8_t cproof[WIRE_PROOF_LEN],
    struct wire_keys *keys)
{
	crypto_generichash_state	 st;
	uint8_t				 okm[2 * WIRE_KEY_LEN];
	int				 rv;

	wire_sodium();
	rv = crypto_generichash_init(&st, key, WIRE_KEY_LEN,
	    sizeof(okm)) != 0 ||
	    crypto_generichash_update(&st, (const uint8_t *)LABEL_SESSION,
	    sizeof(LABEL_SESSION) - 1) != 0 ||
	    crypto_generichash_update(&st, h, WIRE_HASH_LEN) != 0 ||
	    crypto_generichash_update(&st, cproof, WIRE_PROOF_LEN) != 0 ||
	    crypto_generichash_final(&st, okm, sizeof(okm)) != 0;
	sodium_memzero(&st, sizeof(st));
	if (rv) {
		sodium_memzero(okm, sizeof(okm));
		fatalx("%s: BLAKE2b failed", __func__);
	}
	memcpy(keys->c2s, okm, WIRE_KEY_LEN);
	memcpy(keys->s2c, okm + WIRE_KEY_LEN, WIRE_KEY_LEN);
	sodium_memzero(okm, sizeof(okm));
	keys->counter0 = be64_get(h) & WIRE_COUNTER_MASK;
}

int
wire_proof_cmp(const uint8_t *a, const uint8_t *b)
{
	wire_sodium();
	return sodium_memcmp(a, b, WIRE_PROOF_LEN) == 0 ? 0 : -1;
}

/* Frames */

static void
nonce_make(uint8_t n[NONCE_LEN], uint64_t counter)
{
	memset(n, 0, 4);
	be64_put(n + 4, counter);
}

/*
 * A plaintext shorter than its own header length field, or longer than
 * the protocol allows, is a caller bug; 0 (never a frame length) says so.
 */
size_t
wire_seal(const uint8_t key[WIRE_KEY_LEN], uint64_t counter, uint8_t *buf,
    size_t ptlen)
{
	uint8_t			 nonce[NONCE_LEN];
	unsigned long long	 maclen;
	uint8_t			*pt = buf + WIRE_FRAME_HDR;

	if (ptlen < 4 || ptlen > WIRE_PLAIN_MAX)
		return 0;
	wire_sodium();
	be32_put(buf, (uint32_t)(ptlen + WIRE_TAG_LEN));
	be64_put(buf + 4, counter);
	nonce_make(nonce, counter);
	if (crypto_aead_chacha20poly1305_ietf_encrypt_detached(pt,
	    pt + ptlen, &maclen, pt, ptlen, buf, WIRE_FRAME_HDR, NULL,
	    nonce, key) != 0 || maclen != WIRE_TAG_LEN)
		fatalx("%s: encryption failed", __func__);
	return WIRE_FRAME_HDR + ptlen + WIRE_TAG_LEN;
}

int
wire_frame_hdr(const uint8_t hdr[WIRE_FRAME_HDR], size_t *ctlen,
    uint64_t *counter)
{
	uint32_t	 len;

	len = be32_get(hdr);
	if (len < WIRE_FRAME_MIN || len > WIRE_FRAME_MAX)
		return -1;
	*ctlen = len;
	*counter = be64_get(hdr + 4);
	return 0;
}

int
wire_open(const uint8_t key[WIRE_KEY_LEN], uint8_t *buf, size_t ctlen)
{
	uint8_t		 nonce[NONCE_LEN];
	uint8_t		*ct = buf + WIRE_FRAME_HDR;
	size_t		 mlen;

	if (ctlen < WIRE_FRAME_MIN || ctlen > WIRE_FRAME_MAX ||
	    be32_get(buf) != ctlen)
		return -1;
	wire_sodium();
	mlen = ctlen - WIRE_TAG_LEN;
	nonce_make(nonce, be64_get(buf + 4));
	if (crypto_aead_chacha20poly1305_ietf_decrypt_detached(ct, NULL,
	    ct, mlen, ct + mlen, buf, WIRE_FRAME_HDR, nonce, key) != 0)
		return -1;
	return 0;
}
