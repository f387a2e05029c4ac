/*
 * The dsrv wire protocol, version 1.  Everything here works on caller
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
#define FIELD_HDR_LEN	4	/* tag, type, uint16 length */
#define FIELD_CRC_LEN	4
#define FIELD_UINT_LEN	8
#define NONCE_LEN	crypto_aead_chacha20poly1305_IETF_NPUBBYTES

#define LABEL_CPROOF	"dsrv client proof"
#define LABEL_SPROOF	"dsrv server proof"
#define LABEL_SESSION	"dsrv session keys"

static void	 wire_sodium(void);
static void	 hs_header(uint8_t *, uint8_t);
static int	 hs_check(const uint8_t *, size_t, size_t, uint8_t,
		    const char **);
static void	 nonce_make(uint8_t [NONCE_LEN], uint64_t);
static size_t	 utf8_cut(const char *, size_t);
static const char *field_err(uint8_t, const char *);
static int	 field_type(uint8_t);
static int	 field_put(uint8_t *, size_t, size_t *, uint8_t, uint8_t,
		    const void *, size_t);

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
	NULL, "PING", "WRITE", "READ", "LIST", "STAT", "STATFS",
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
	if (m >= WIRE_M_PING && m <= WIRE_M_STATFS)
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
static size_t
utf8_cut(const char *s, size_t max)
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
	m = msg == NULL ? 0 : utf8_cut(msg, WIRE_RESULT_MSG_MAX);
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

/* Header fields */

/*
 * Field errors name the tag, and so need formatting; the processes are
 * single-threaded and use the text at once.
 */
static const char *
field_err(uint8_t tag, const char *what)
{
	static char	 buf[64];

	(void)snprintf(buf, sizeof(buf), "field %u: %s", tag, what);
	return buf;
}

/* The type a known tag must have, 0 for an unknown tag. */
static int
field_type(uint8_t tag)
{
	switch (tag) {
	case WIRE_F_METHOD:
	case WIRE_F_TIMESTAMP:
	case WIRE_F_PAYLEN:
	case WIRE_F_PAYCRC:
	case WIRE_F_ERROR:
		return WIRE_T_UINT;
	case WIRE_F_NAME:
	case WIRE_F_ERRMSG:
		return WIRE_T_BYTES;
	default:
		return 0;
	}
}

static int
field_put(uint8_t *buf, size_t len, size_t *off, uint8_t tag, uint8_t type,
    const void *v, size_t vlen)
{
	uint8_t		*p;
	uLong		 crc;

	if (vlen > UINT16_MAX || *off > len ||
	    len - *off < FIELD_HDR_LEN + vlen + FIELD_CRC_LEN)
		return -1;
	p = buf + *off;
	p[0] = tag;
	p[1] = type;
	be16_put(p + 2, (uint16_t)vlen);
	if (vlen > 0)
		memcpy(p + FIELD_HDR_LEN, v, vlen);
	crc = crc32(0L, p, FIELD_HDR_LEN + vlen);
	be32_put(p + FIELD_HDR_LEN + vlen, (uint32_t)crc);
	*off += FIELD_HDR_LEN + vlen + FIELD_CRC_LEN;
	return 0;
}

int
wire_field_uint(uint8_t *buf, size_t len, size_t *off, uint8_t tag,
    uint64_t v)
{
	uint8_t	 val[FIELD_UINT_LEN];

	be64_put(val, v);
	return field_put(buf, len, off, tag, WIRE_T_UINT, val, sizeof(val));
}

int
wire_field_bytes(uint8_t *buf, size_t len, size_t *off, uint8_t tag,
    const void *v, size_t vlen)
{
	return field_put(buf, len, off, tag, WIRE_T_BYTES, v, vlen);
}

int
wire_field_next(const uint8_t *buf, size_t len, size_t *off, uint8_t *tag,
    uint8_t *type, const uint8_t **val, size_t *vlen, const char **errstr)
{
	const uint8_t	*p;
	size_t		 left, l;

	if (*off > len) {
		*errstr = "field offset beyond the header";
		return -1;
	}
	left = len - *off;
	if (left == 0)
		return 0;
	p = buf + *off;
	if (left < FIELD_HDR_LEN) {
		*errstr = "truncated field";
		return -1;
	}
	l = be16_get(p + 2);
	if (left - FIELD_HDR_LEN < l + FIELD_CRC_LEN) {
		*errstr = field_err(p[0], "truncated");
		return -1;
	}
	if (crc32(0L, p, FIELD_HDR_LEN + l) !=
	    be32_get(p + FIELD_HDR_LEN + l)) {
		*errstr = field_err(p[0], "bad crc32");
		return -1;
	}
	if (p[1] != WIRE_T_UINT && p[1] != WIRE_T_BYTES) {
		*errstr = field_err(p[0], "bad type");
		return -1;
	}
	if (p[1] == WIRE_T_UINT && l != FIELD_UINT_LEN) {
		*errstr = field_err(p[0], "integer not 8 bytes");
		return -1;
	}
	*tag = p[0];
	*type = p[1];
	*val = p + FIELD_HDR_LEN;
	*vlen = l;
	*off += FIELD_HDR_LEN + l + FIELD_CRC_LEN;
	return 1;
}

void
wire_hdr_set(struct wire_hdr *h, uint8_t tag, uint64_t v)
{
	switch (tag) {
	case WIRE_F_METHOD:
		h->method = v;
		break;
	case WIRE_F_TIMESTAMP:
		h->timestamp = v;
		break;
	case WIRE_F_PAYLEN:
		h->paylen = v;
		break;
	case WIRE_F_PAYCRC:
		h->paycrc = v;
		break;
	case WIRE_F_ERROR:
		h->error = v;
		break;
	default:
		/* Not an integer field: wire_hdr_encode would fail. */
		return;
	}
	h->present |= 1U << tag;
}

int
wire_hdr_set_name(struct wire_hdr *h, const char *name)
{
	size_t	 n;

	n = strlen(name);
	if (n < 1 || n > WIRE_NAME_MAX)
		return -1;
	memcpy(h->name, name, n + 1);
	h->namelen = n;
	h->present |= 1U << WIRE_F_NAME;
	return 0;
}

void
wire_hdr_set_errmsg(struct wire_hdr *h, const char *msg)
{
	size_t	 n;

	n = utf8_cut(msg, WIRE_ERRMSG_MAX);
	memcpy(h->errmsg, msg, n);
	h->errmsg[n] = '\0';
	h->errmsglen = n;
	h->present |= 1U << WIRE_F_ERRMSG;
}

ssize_t
wire_hdr_encode(const struct wire_hdr *h, uint8_t *buf, size_t len)
{
	size_t		 off = 4;
	uint8_t		 tag;
	int		 rv;

	if (len < 4)
		return -1;
	/* Only tags 1..7 exist. */
	if ((h->present & ~0xfeU) != 0)
		return -1;
	for (tag = WIRE_F_METHOD; tag <= WIRE_F_ERRMSG; tag++) {
		if (!WIRE_HAS(h, tag))
			continue;
		switch (tag) {
		case WIRE_F_NAME:
			if (h->namelen < 1 || h->namelen > WIRE_NAME_MAX ||
			    memchr(h->name, '\0', h->namelen) != NULL)
				return -1;
			rv = wire_field_bytes(buf, len, &off, tag, h->name,
			    h->namelen);
			break;
		case WIRE_F_ERRMSG:
			if (h->errmsglen > WIRE_ERRMSG_MAX ||
			    memchr(h->errmsg, '\0', h->errmsglen) != NULL)
				return -1;
			rv = wire_field_bytes(buf, len, &off, tag, h->errmsg,
			    h->errmsglen);
			break;
		case WIRE_F_METHOD:
			rv = wire_field_uint(buf, len, &off, tag, h->method);
			break;
		case WIRE_F_TIMESTAMP:
			rv = wire_field_uint(buf, len, &off, tag,
			    h->timestamp);
			break;
		case WIRE_F_PAYLEN:
			rv = wire_field_uint(buf, len, &off, tag, h->paylen);
			break;
		case WIRE_F_PAYCRC:
			rv = wire_field_uint(buf, len, &off, tag, h->paycrc);
			break;
		default:
			rv = wire_field_uint(buf, len, &off, tag, h->error);
			break;
		}
		if (rv == -1)
			return -1;
	}
	if (off - 4 < 1 || off - 4 > WIRE_HDR_MAX)
		return -1;
	be32_put(buf, (uint32_t)(off - 4));
	return (ssize_t)off;
}

ssize_t
wire_hdr_decode(struct wire_hdr *h, const uint8_t *pt, size_t ptlen,
    const char **errstr)
{
	const uint8_t	*val;
	size_t		 off, vlen, end;
	uint32_t	 hl;
	uint8_t		 tag, type, last = 0;
	int		 rv;

	memset(h, 0, sizeof(*h));
	if (ptlen < 4) {
		*errstr = "plaintext shorter than its header length";
		return -1;
	}
	hl = be32_get(pt);
	if (hl < 1 || hl > WIRE_HDR_MAX) {
		*errstr = "header length out of range";
		return -1;
	}
	if (hl > ptlen - 4) {
		*errstr = "header length beyond the plaintext";
		return -1;
	}
	end = 4 + (size_t)hl;
	off = 4;
	while ((rv = wire_field_next(pt, end, &off, &tag, &type, &val, &vlen,
	    errstr)) == 1) {
		if (field_type(tag) == 0) {
			*errstr = field_err(tag, "unknown tag");
			return -1;
		}
		if (tag == last) {
			*errstr = field_err(tag, "duplicate");
			return -1;
		}
		if (tag < last) {
			*errstr = field_err(tag, "out of order");
			return -1;
		}
		last = tag;
		if (field_type(tag) != type) {
			*errstr = field_err(tag, "wrong type");
			return -1;
		}
		switch (tag) {
		case WIRE_F_NAME:
			if (vlen < 1 || vlen > WIRE_NAME_MAX) {
				*errstr = field_err(tag, "bad name length");
				return -1;
			}
			if (memchr(val, '\0', vlen) != NULL) {
				*errstr = field_err(tag, "NUL in name");
				return -1;
			}
			memcpy(h->name, val, vlen);
			h->name[vlen] = '\0';
			h->namelen = vlen;
			break;
		case WIRE_F_ERRMSG:
			if (vlen > WIRE_ERRMSG_MAX) {
				*errstr = field_err(tag,
				    "error message too long");
				return -1;
			}
			if (memchr(val, '\0', vlen) != NULL) {
				*errstr = field_err(tag,
				    "NUL in error message");
				return -1;
			}
			memcpy(h->errmsg, val, vlen);
			h->errmsg[vlen] = '\0';
			h->errmsglen = vlen;
			break;
		case WIRE_F_METHOD:
			h->method = be64_get(val);
			break;
		case WIRE_F_TIMESTAMP:
			h->timestamp = be64_get(val);
			break;
		case WIRE_F_PAYLEN:
			h->paylen = be64_get(val);
			break;
		case WIRE_F_PAYCRC:
			h->paycrc = be64_get(val);
			break;
		case WIRE_F_ERROR:
			h->error = be64_get(val);
			break;
		}
		h->present |= 1U << tag;
	}
	if (rv == -1)
		return -1;
	return (ssize_t)end;
}

int
wire_hdr_check(const struct wire_hdr *h, int is_response,
    size_t payload_len, const char **errstr)
{
	uint64_t	 m;
	int		 named;

	if (!WIRE_HAS(h, WIRE_F_METHOD)) {
		*errstr = "no method";
		return -1;
	}
	m = h->method;
	if (is_response) {
		if (m < WIRE_M_RESPONSE || m > 0xff) {
			*errstr = "response with a request method";
			return -1;
		}
		m &= ~(uint64_t)WIRE_M_RESPONSE;
	}
	/*
	 * A server refusing a request it could not read cannot name a
	 * known method: it answers 0x80 | (method & 0x7f), with an error.
	 */
	if ((m < WIRE_M_PING || m > WIRE_M_STATFS) &&
	    !(is_response && WIRE_HAS(h, WIRE_F_ERROR) &&
	    h->error != WIRE_E_OK)) {
		*errstr = "unknown method";
		return -1;
	}
	if (!WIRE_HAS(h, WIRE_F_TIMESTAMP)) {
		*errstr = "no timestamp";
		return -1;
	}
	if (!WIRE_HAS(h, WIRE_F_PAYLEN)) {
		*errstr = "no payload length";
		return -1;
	}
	if (!WIRE_HAS(h, WIRE_F_PAYCRC)) {
		*errstr = "no payload crc32";
		return -1;
	}
	if (h->paylen > WIRE_PAYLOAD_MAX) {
		*errstr = "payload length too big";
		return -1;
	}
	if (h->paylen != payload_len) {
		*errstr = "payload length does not match the message";
		return -1;
	}
	if (h->paycrc > UINT32_MAX) {
		*errstr = "payload crc32 out of range";
		return -1;
	}
	if (h->paylen == 0 && h->paycrc != 0) {
		*errstr = "payload crc32 not 0 for an empty payload";
		return -1;
	}
	if (is_response) {
		/* A response may echo the request's name. */
		if (!WIRE_HAS(h, WIRE_F_ERROR)) {
			*errstr = "response without an error code";
			return -1;
		}
		return 0;
	}
	if (WIRE_HAS(h, WIRE_F_ERROR) || WIRE_HAS(h, WIRE_F_ERRMSG)) {
		*errstr = "request with an error field";
		return -1;
	}
	named = m == WIRE_M_WRITE || m == WIRE_M_READ || m == WIRE_M_LIST ||
	    m == WIRE_M_STAT;
	if (named && !WIRE_HAS(h, WIRE_F_NAME)) {
		*errstr = "request without a name";
		return -1;
	}
	if (!named && WIRE_HAS(h, WIRE_F_NAME)) {
		*errstr = "name in a request that takes none";
		return -1;
	}
	if (m != WIRE_M_WRITE && h->paylen != 0) {
		*errstr = "payload in a request that takes none";
		return -1;
	}
	return 0;
}
