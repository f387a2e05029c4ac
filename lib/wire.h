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
 * The dsrv wire protocol, version 1: handshake messages, key
 * derivation, AEAD frames and the checksummed header fields.  Pure
 * functions on buffers, shared by the server processes and the client
 * library; man/dsrv-protocol.5 is the specification.
 */
#ifndef DSRV_WIRE_H
#define DSRV_WIRE_H

#include <sys/types.h>
#include <stddef.h>
#include <stdint.h>

#define WIRE_VERSION		1
#define WIRE_MAGIC		"DSRV"

#define WIRE_KEY_LEN		32
#define WIRE_RANDOM_LEN		32
#define WIRE_PROOF_LEN		32
#define WIRE_HASH_LEN		32
#define WIRE_KEYNAME_MAX	32

#define WIRE_HS_HELLO		1
#define WIRE_HS_CHALLENGE	2
#define WIRE_HS_FINISH		3
#define WIRE_HS_RESULT		4

#define WIRE_HELLO_LEN		79
#define WIRE_CHALLENGE_LEN	46
#define WIRE_FINISH_LEN		38
#define WIRE_RESULT_MIN		40
#define WIRE_RESULT_MSG_MAX	200
#define WIRE_RESULT_MAX		(WIRE_RESULT_MIN + WIRE_RESULT_MSG_MAX)

/* RESULT codes */
#define WIRE_HS_OK		0
#define WIRE_HS_AUTH		1
#define WIRE_HS_RTT		2
#define WIRE_HS_SKEW		3
#define WIRE_HS_BUSY		4
#define WIRE_HS_PROTO		5
#define WIRE_HS_TIMEOUT		6

#define WIRE_FRAME_HDR		12		/* length, counter */
#define WIRE_TAG_LEN		16
#define WIRE_HDR_MAX		4096		/* header fields */
#define WIRE_PAYLOAD_MAX	(8 * 1024 * 1024)
#define WIRE_PLAIN_MAX		(4 + WIRE_HDR_MAX + WIRE_PAYLOAD_MAX)
#define WIRE_FRAME_MAX		(WIRE_TAG_LEN + WIRE_PLAIN_MAX) /* length */
#define WIRE_FRAME_MIN		(WIRE_TAG_LEN + 4)
#define WIRE_COUNTER_MASK	0x3fffffffffffffffULL

/* header field tags and types */
#define WIRE_F_METHOD		1
#define WIRE_F_NAME		2
#define WIRE_F_TIMESTAMP	3
#define WIRE_F_PAYLEN		4
#define WIRE_F_PAYCRC		5
#define WIRE_F_ERROR		6
#define WIRE_F_ERRMSG		7
#define WIRE_T_UINT		1
#define WIRE_T_BYTES		2
#define WIRE_NAME_MAX		255
#define WIRE_ERRMSG_MAX		1024
#define WIRE_RANGE_LEN		16		/* a ranged READ: offset, length */

/* methods; a response is method | WIRE_M_RESPONSE */
#define WIRE_M_PING		1
#define WIRE_M_WRITE		2
#define WIRE_M_READ		3
#define WIRE_M_LIST		4
#define WIRE_M_STAT		5
#define WIRE_M_STATFS		6
#define WIRE_M_DIGEST		7
#define WIRE_M_MAX		WIRE_M_DIGEST
#define WIRE_M_RESPONSE		0x80

/* error codes in responses */
#define WIRE_E_OK		0
#define WIRE_E_BADREQUEST	1
#define WIRE_E_PERM		2
#define WIRE_E_NOTFOUND		3
#define WIRE_E_EXISTS		4
#define WIRE_E_BADNAME		5
#define WIRE_E_CRC		6
#define WIRE_E_IO		7
#define WIRE_E_NOSPACE		8
#define WIRE_E_READONLY		9
#define WIRE_E_CORRUPT		10
#define WIRE_E_TOOBIG		11
#define WIRE_E_UNAVAILABLE	12
#define WIRE_E_INTERNAL		13
#define WIRE_E_BUSY		14
#define WIRE_E_RANGE		15

/* Everything the client or one server connection keeps of a session. */
struct wire_keys {
	uint8_t		 c2s[WIRE_KEY_LEN];	/* client to server */
	uint8_t		 s2c[WIRE_KEY_LEN];	/* server to client */
	uint64_t	 counter0;
};

/* A decoded header.  present has bit (1 << tag) for every field seen. */
struct wire_hdr {
	uint32_t	 present;
	uint64_t	 method;
	char		 name[WIRE_NAME_MAX + 1];	/* NUL-terminated */
	size_t		 namelen;
	uint64_t	 timestamp;
	uint64_t	 paylen;
	uint64_t	 paycrc;
	uint64_t	 error;
	char		 errmsg[WIRE_ERRMSG_MAX + 1];
	size_t		 errmsglen;
};
#define WIRE_HAS(h, tag)	(((h)->present & (1U << (tag))) != 0)

/* Milliseconds since the epoch, CLOCK_REALTIME. */
uint64_t	 wire_now_ms(void);
/*
 * How far the time a peer sent is from ours, in ms, as an unsigned
 * distance that cannot overflow (uint64_t times are up to 2^64 - 1 ms
 * apart); *ahead is 1 when the peer's time is later than ours.
 */
uint64_t	 wire_skew_ms(uint64_t, uint64_t, int *);
/*
 * The length of the longest prefix of s, at most max bytes, that does
 * not end inside a UTF-8 character.
 */
size_t		 wire_utf8_cut(const char *, size_t);
/* Text for a response error code or a handshake RESULT code. */
const char	*wire_strerror(uint64_t);
const char	*wire_hs_strerror(int);
const char	*wire_method_name(uint64_t);
/* A valid key name: 1..WIRE_KEYNAME_MAX of [A-Za-z0-9._-], no leading dot. */
int		 wire_keyname_valid(const char *);

/*
 * Handshake messages.  *_build write exactly the message length; the
 * parsers check magic, version, type and exact length and return -1
 * with a reason in *errstr on anything else.
 */
void	wire_hello_build(uint8_t out[WIRE_HELLO_LEN], const char *keyname,
	    const uint8_t crand[WIRE_RANDOM_LEN], uint64_t time_ms);
int	wire_hello_parse(const uint8_t *, size_t,
	    char keyname[WIRE_KEYNAME_MAX + 1],
	    uint8_t crand[WIRE_RANDOM_LEN], uint64_t *time_ms,
	    const char **errstr);
void	wire_challenge_build(uint8_t out[WIRE_CHALLENGE_LEN],
	    const uint8_t srand[WIRE_RANDOM_LEN], uint64_t time_ms);
int	wire_challenge_parse(const uint8_t *, size_t,
	    uint8_t srand[WIRE_RANDOM_LEN], uint64_t *time_ms,
	    const char **errstr);
void	wire_finish_build(uint8_t out[WIRE_FINISH_LEN],
	    const uint8_t cproof[WIRE_PROOF_LEN]);
int	wire_finish_parse(const uint8_t *, size_t,
	    uint8_t cproof[WIRE_PROOF_LEN], const char **errstr);
/* Returns the length written (WIRE_RESULT_MIN + message length). */
size_t	wire_result_build(uint8_t out[WIRE_RESULT_MAX], int code,
	    const uint8_t *sproof, const char *msg);
/* Needs the whole message: *need says how many bytes that is. */
int	wire_result_parse(const uint8_t *, size_t, size_t *need, int *code,
	    uint8_t sproof[WIRE_PROOF_LEN], char msg[WIRE_RESULT_MSG_MAX + 1],
	    const char **errstr);

/* H = HASH(HELLO || CHALLENGE) */
void	wire_transcript(const uint8_t hello[WIRE_HELLO_LEN],
	    const uint8_t challenge[WIRE_CHALLENGE_LEN],
	    uint8_t h[WIRE_HASH_LEN]);
void	wire_client_proof(const uint8_t key[WIRE_KEY_LEN],
	    const uint8_t h[WIRE_HASH_LEN], uint8_t proof[WIRE_PROOF_LEN]);
void	wire_server_proof(const uint8_t key[WIRE_KEY_LEN],
	    const uint8_t h[WIRE_HASH_LEN],
	    const uint8_t cproof[WIRE_PROOF_LEN],
	    uint8_t proof[WIRE_PROOF_LEN]);
void	wire_session_keys(const uint8_t key[WIRE_KEY_LEN],
	    const uint8_t h[WIRE_HASH_LEN],
	    const uint8_t cproof[WIRE_PROOF_LEN], struct wire_keys *);
/* Constant-time comparison of two proofs: 0 if equal. */
int	wire_proof_cmp(const uint8_t *, const uint8_t *);

/*
 * Frames.  wire_seal encrypts buf[WIRE_FRAME_HDR .. WIRE_FRAME_HDR +
 * ptlen) in place, fills the 12 header bytes in front of it and appends
 * the tag: buf must have room for WIRE_FRAME_HDR + ptlen + WIRE_TAG_LEN
 * bytes.  Returns the frame length on the wire.
 */
size_t	wire_seal(const uint8_t key[WIRE_KEY_LEN], uint64_t counter,
	    uint8_t *buf, size_t ptlen);
/*
 * Check a frame header: *ctlen gets the ciphertext length; -1 if it is
 * out of bounds (nothing should be allocated or read for it).
 */
int	wire_frame_hdr(const uint8_t hdr[WIRE_FRAME_HDR], size_t *ctlen,
	    uint64_t *counter);
/*
 * Decrypt in place: buf holds the 12 header bytes and ctlen ciphertext
 * bytes; on success the plaintext is at buf + WIRE_FRAME_HDR with
 * ctlen - WIRE_TAG_LEN bytes.  -1 if the tag does not verify.
 */
int	wire_open(const uint8_t key[WIRE_KEY_LEN], uint8_t *buf, size_t ctlen);

/*
 * Header fields.  wire_field_uint / wire_field_bytes append one field at
 * buf + *off (bounds-checked against len; -1 if it does not fit).
 * wire_hdr_encode writes 4-byte HL and the fields of h that are present,
 * in tag order; returns bytes written or -1.  wire_hdr_decode parses the
 * plaintext's header (HL and fields) and returns the offset of the
 * payload, or -1 with a reason.
 */
int	wire_field_uint(uint8_t *buf, size_t len, size_t *off, uint8_t tag,
	    uint64_t v);
int	wire_field_bytes(uint8_t *buf, size_t len, size_t *off, uint8_t tag,
	    const void *v, size_t vlen);
/*
 * Walk fields: returns 1 and the next field, 0 at the end, -1 on a
 * malformed field (bad crc, length or type).
 */
int	wire_field_next(const uint8_t *buf, size_t len, size_t *off,
	    uint8_t *tag, uint8_t *type, const uint8_t **val, size_t *vlen,
	    const char **errstr);
ssize_t	wire_hdr_encode(const struct wire_hdr *, uint8_t *buf, size_t len);
ssize_t	wire_hdr_decode(struct wire_hdr *, const uint8_t *pt, size_t ptlen,
	    const char **errstr);
/* Set a field in h (and its present bit). */
void	wire_hdr_set(struct wire_hdr *, uint8_t tag, uint64_t v);
int	wire_hdr_set_name(struct wire_hdr *, const char *);
void	wire_hdr_set_errmsg(struct wire_hdr *, const char *);

/*
 * Check the header of a request (is_response 0) or response (1):
 * required fields present for its method, payload length in bounds and
 * matching ptlen.  Returns 0 or -1 with a reason.
 */
int	wire_hdr_check(const struct wire_hdr *, int is_response,
	    size_t payload_len, const char **errstr);

#endif /* DSRV_WIRE_H */
