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
 * The dsrv wire protocol's request and response header: typed,
 * length-prefixed fields, each with its own crc32 (wire.c has the
 * handshake, the keys and the frames around it).  Encoding, decoding
 * and the checks a header must pass before anyone acts on it.
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

#define FIELD_HDR_LEN	4	/* tag, type, uint16 length */
#define FIELD_CRC_LEN	4
#define FIELD_UINT_LEN	8

static const char *field_err(uint8_t, const char *);
static int	 field_type(uint8_t);
static int	 field_put(uint8_t *, size_t, size_t *, uint8_t, uint8_t,
		    const void *, size_t);

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

	n = wire_utf8_cut(msg, WIRE_ERRMSG_MAX);
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
	if ((m < WIRE_M_PING || m > WIRE_M_MAX) &&
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
		if (h->error != WIRE_E_OK && h->paylen != 0) {
			*errstr = "error response with a payload";
			return -1;
		}
		return 0;
	}
	if (WIRE_HAS(h, WIRE_F_ERROR) || WIRE_HAS(h, WIRE_F_ERRMSG)) {
		*errstr = "request with an error field";
		return -1;
	}
	named = m == WIRE_M_WRITE || m == WIRE_M_READ || m == WIRE_M_LIST ||
	    m == WIRE_M_STAT || m == WIRE_M_DIGEST;
	if (named && !WIRE_HAS(h, WIRE_F_NAME)) {
		*errstr = "request without a name";
		return -1;
	}
	if (!named && WIRE_HAS(h, WIRE_F_NAME)) {
		*errstr = "name in a request that takes none";
		return -1;
	}
	/*
	 * WRITE carries the chunk, LIST the name to list after, READ
	 * nothing or a range: offset and length, two uint64.
	 */
	if (m == WIRE_M_READ && h->paylen != 0 &&
	    h->paylen != WIRE_RANGE_LEN) {
		*errstr = "READ payload not 0 or 16 bytes";
		return -1;
	}
	if (m != WIRE_M_WRITE && m != WIRE_M_LIST && m != WIRE_M_READ &&
	    h->paylen != 0) {
		*errstr = "payload in a request that takes none";
		return -1;
	}
	return 0;
}
