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
 * The requests of the client library: one sealed request frame out,
 * its response frame in and checked (dsrv_client_request), and on top
 * of that write, read, list, stat, statfs and ping with their answers
 * checked and their errors in words.  The connection and its I/O are
 * client.c's (through client_int.h).
 */
#include <sys/types.h>

#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sodium.h>
#include <zlib.h>

#include "bytes.h"
#include "chunkname.h"
#include "client.h"
#include "client_int.h"
#include "wire.h"

static int	 buf_reserve(struct dsrv_client *, size_t);
static int	 broken(struct dsrv_client *, char *, size_t, const char *, ...)
		    __attribute__((__format__ (printf, 4, 5)));
static int	 request(struct dsrv_client *, uint32_t, const char *,
		    const void *, size_t, struct dsrv_reply *, int *, char *,
		    size_t);
static void	 safename(const char *, char *, size_t);
static int	 unsendable(struct dsrv_client *, const char *, int,
		    const char *, char *, size_t);
static int	 reply_code(struct dsrv_client *, const struct dsrv_reply *,
		    const char *, char *, size_t);
static int	 list_page_check(struct dsrv_client *, const char *,
		    const char *, const uint8_t *, size_t, size_t *, int *,
		    char *, size_t);
static int	 stat_request(struct dsrv_client *, const char *, uint64_t *,
		    uint32_t *, uint8_t *, char *, size_t);
static int	 read_request(struct dsrv_client *, const char *,
		    const uint8_t *, size_t, const uint8_t **, size_t *,
		    uint32_t *, char *, size_t);

static int
buf_reserve(struct dsrv_client *c, size_t len)
{
	uint8_t	*nb;
	size_t	 size;

	if (len <= c->bufsize)
		return (0);
	if (len > CLIENT_BUF_MAX) {
		errno = EMSGSIZE;
		return (-1);
	}
	size = (len + CLIENT_BUF_STEP - 1) / CLIENT_BUF_STEP * CLIENT_BUF_STEP;
	if (size > CLIENT_BUF_MAX)
		size = CLIENT_BUF_MAX;
	if ((nb = realloc(c->buf, size)) == NULL)
		return (-1);
	c->buf = nb;
	c->bufsize = size;
	return (0);
}

/* The connection is out of step with the server: no more requests. */
static int
broken(struct dsrv_client *c, char *err, size_t errlen, const char *fmt, ...)
{
	char	 msg[DSRV_CLIENT_ERRLEN];
	va_list	 ap;

	va_start(ap, fmt);
	(void)vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	seterr(err, errlen, c->peer, "%s", msg);
	c->broken = 1;
	if (c->fd != -1) {
		(void)close(c->fd);
		c->fd = -1;
	}
	return (-1);
}

int
dsrv_client_request(struct dsrv_client *c, uint32_t method, const char *name,
    const void *payload, size_t len, struct dsrv_reply *reply, char *err,
    size_t errlen)
{
	return (request(c, method, name, payload, len, reply, NULL, err,
	    errlen));
}

/*
 * dsrv_client_request(), and with crcok not NULL a response payload
 * that fails its paycrc is handed back with *crcok 0 instead of ending
 * the connection: the frame was authentic and complete, so the server
 * is still in step, and for a READ the mismatch is news about the
 * chunk, not about the transport.
 */
static int
request(struct dsrv_client *c, uint32_t method, const char *name,
    const void *payload, size_t len, struct dsrv_reply *reply, int *crcok,
    char *err, size_t errlen)
{
	struct wire_hdr	 h;
	struct iotime	 t;
	const char	*errstr, *mname;
	char		 tbuf[64];
	uint8_t		*pt;
	uint64_t	 counter, rcounter, crc;
	size_t		 ctlen, ptlen, flen, paylen;
	ssize_t		 hl, off;
	int		 rv;

	if (err != NULL && errlen > 0)
		err[0] = '\0';
	if (c->broken) {
		seterr(err, errlen, c->peer, "connection unusable after an "
		    "earlier error");
		return (-1);
	}
	mname = wire_method_name(method);
	if (method == 0 || method >= WIRE_M_RESPONSE) {
		seterr(err, errlen, c->peer, "invalid method %u", method);
		return (-1);
	}
	if (len > WIRE_PAYLOAD_MAX || (payload == NULL && len != 0)) {
		seterr(err, errlen, c->peer, "%s: payload of %zu bytes, at "
		    "most %d allowed", mname, len, WIRE_PAYLOAD_MAX);
		return (-1);
	}

	memset(&h, 0, sizeof(h));
	wire_hdr_set(&h, WIRE_F_METHOD, method);
	if (name != NULL && wire_hdr_set_name(&h, name) == -1) {
		seterr(err, errlen, c->peer, "%s: invalid name (1..%d bytes)",
		    mname, WIRE_NAME_MAX);
		return (-1);
	}
	crc = len > 0 ? crc32(crc32(0L, Z_NULL, 0), payload, (uInt)len) : 0;
	wire_hdr_set(&h, WIRE_F_TIMESTAMP, wire_now_ms());
	wire_hdr_set(&h, WIRE_F_PAYLEN, len);
	wire_hdr_set(&h, WIRE_F_PAYCRC, crc);
	if (buf_reserve(c, WIRE_FRAME_HDR + 4 + WIRE_HDR_MAX + len +
	    WIRE_TAG_LEN) == -1) {
		seterr(err, errlen, c->peer, "%s: %s", mname, strerror(errno));
		return (-1);
	}
	hl = wire_hdr_encode(&h, c->buf + WIRE_FRAME_HDR, 4 + WIRE_HDR_MAX);
	if (hl == -1) {
		seterr(err, errlen, c->peer, "%s: request header does not "
		    "encode", mname);
		return (-1);
	}
	if (len > 0)
		memcpy(c->buf + WIRE_FRAME_HDR + hl, payload, len);

	/* From here on a failure leaves us out of step with the server. */
	counter = c->keys.counter0 + c->nreq++;
	flen = wire_seal(c->keys.c2s, counter, c->buf, (size_t)hl + len);
	t.idle_ms = c->io_timeout_ms;
	t.deadline_us = 0;
	if ((rv = client_io_write(c->fd, c->buf, flen, &t)) != IO_OK)
		return (broken(c, err, errlen, "%s: sending the request: %s",
		    mname, io_strerror(rv, &t, tbuf, sizeof(tbuf))));

	if ((rv = client_io_read(c->fd, c->buf, WIRE_FRAME_HDR, &t)) != IO_OK)
		return (broken(c, err, errlen, "%s: waiting for the response: "
		    "%s", mname, io_strerror(rv, &t, tbuf, sizeof(tbuf))));
	/* Bounds first: nothing is allocated for a length out of range. */
	if (wire_frame_hdr(c->buf, &ctlen, &rcounter) == -1)
		return (broken(c, err, errlen, "%s: response frame length out "
		    "of bounds", mname));
	if (rcounter != counter)
		return (broken(c, err, errlen, "%s: response counter %llu, "
		    "expected %llu", mname, (unsigned long long)rcounter,
		    (unsigned long long)counter));
	if (buf_reserve(c, WIRE_FRAME_HDR + ctlen) == -1)
		return (broken(c, err, errlen, "%s: response of %zu bytes: %s",
		    mname, ctlen, strerror(errno)));
	if ((rv = client_io_read(c->fd, c->buf + WIRE_FRAME_HDR, ctlen,
	    &t)) != IO_OK)
		return (broken(c, err, errlen, "%s: reading the response: %s",
		    mname, rv == IO_EOF ? "connection closed by the server "
		    "mid-frame" : io_strerror(rv, &t, tbuf, sizeof(tbuf))));
	if (wire_open(c->keys.s2c, c->buf, ctlen) == -1)
		return (broken(c, err, errlen, "%s: response failed "
		    "authentication", mname));

	pt = c->buf + WIRE_FRAME_HDR;
	ptlen = ctlen - WIRE_TAG_LEN;
	memset(&reply->hdr, 0, sizeof(reply->hdr));
	if ((off = wire_hdr_decode(&reply->hdr, pt, ptlen, &errstr)) == -1)
		return (broken(c, err, errlen, "%s: bad response header: %s",
		    mname, errstr));
	paylen = ptlen - (size_t)off;
	if (wire_hdr_check(&reply->hdr, 1, paylen, &errstr) == -1)
		return (broken(c, err, errlen, "%s: bad response header: %s",
		    mname, errstr));
	if (reply->hdr.method != (method | WIRE_M_RESPONSE))
		return (broken(c, err, errlen, "%s: response has method %llu",
		    mname, (unsigned long long)reply->hdr.method));
	crc = paylen > 0 ? crc32(crc32(0L, Z_NULL, 0), pt + off,
	    (uInt)paylen) : 0;
	if (crcok != NULL)
		*crcok = crc == reply->hdr.paycrc;
	if (crc != reply->hdr.paycrc && crcok == NULL)
		return (broken(c, err, errlen, "%s: response payload crc32 "
		    "%08llx, header says %08llx", mname,
		    (unsigned long long)crc,
		    (unsigned long long)reply->hdr.paycrc));
	reply->hdr.errmsg[sizeof(reply->hdr.errmsg) - 1] = '\0';
	printable(reply->hdr.errmsg, sizeof(reply->hdr.errmsg));
	reply->payload = pt + off;
	reply->len = paylen;
	return (0);
}

int
dsrv_client_ping(struct dsrv_client *c, char *version, size_t vlen,
    uint64_t *server_ms, uint64_t *rtt_us, char *err, size_t errlen)
{
	struct dsrv_reply	 r;
	uint64_t		 t0, rtt;
	size_t			 n;

	t0 = mono_us();
	if (dsrv_client_request(c, WIRE_M_PING, NULL, NULL, 0, &r, err,
	    errlen) == -1)
		return (-1);
	rtt = mono_us() - t0;
	if (r.hdr.error != WIRE_E_OK) {
		if (r.hdr.errmsg[0] != '\0')
			seterr(err, errlen, c->peer, "ping: %s (%s)",
			    r.hdr.errmsg, wire_strerror(r.hdr.error));
		else
			seterr(err, errlen, c->peer, "ping: %s",
			    wire_strerror(r.hdr.error));
		return (-1);
	}
	if (version != NULL && vlen > 0) {
		n = r.len < vlen - 1 ? r.len : vlen - 1;
		memcpy(version, r.payload, n);
		version[n] = '\0';
		/* An embedded NUL ends it; the rest must be printable. */
		printable(version, vlen);
	}
	if (server_ms != NULL)
		*server_ms = r.hdr.timestamp;
	if (rtt_us != NULL)
		*rtt_us = rtt;
	return (0);
}

/*
 * A name the user typed, fit for a message: its first WIRE_NAME_MAX
 * bytes, escaped (see dsrv_vis), in a buffer of SAFENAME_MAX + 1.
 */
static void
safename(const char *name, char *buf, size_t len)
{
	char	 cut[WIRE_NAME_MAX + 1];

	(void)strlcpy(cut, name != NULL ? name : "", sizeof(cut));
	dsrv_vis(buf, len, cut);
}

/*
 * Names the wire cannot carry (empty, longer than WIRE_NAME_MAX) are
 * bad chunk names too, and are answered here with the reason; every
 * other name goes to the server, which is the judge.  Returns
 * WIRE_E_BADNAME or 0.
 */
static int
unsendable(struct dsrv_client *c, const char *name, int isdir,
    const char *sn, char *err, size_t errlen)
{
	const char	*errstr;
	size_t		 len;

	len = name != NULL ? strlen(name) : 0;
	if (len > 0 && len <= WIRE_NAME_MAX)
		return (0);
	if (isdir)
		(void)chunk_dir_check(name != NULL ? name : "", len, &errstr);
	else
		(void)chunk_name_check(name != NULL ? name : "", len, NULL,
		    &errstr);
	seterr(err, errlen, c->peer, "%s: %s: %s", sn,
	    wire_strerror(WIRE_E_BADNAME), errstr);
	return (WIRE_E_BADNAME);
}

/*
 * The response's error code, with "PEER: WHAT: <text>: <server's
 * message>" in err when it is not 0.  A server message that already
 * starts with the code's text ("bad chunk name: ...") stands alone.
 */
static int
reply_code(struct dsrv_client *c, const struct dsrv_reply *r,
    const char *what, char *err, size_t errlen)
{
	const char	*text;
	size_t		 tlen;

	if (r->hdr.error == WIRE_E_OK)
		return (WIRE_E_OK);
	text = wire_strerror(r->hdr.error);
	tlen = strlen(text);
	if (r->hdr.errmsg[0] == '\0' || strcmp(r->hdr.errmsg, text) == 0)
		seterr(err, errlen, c->peer, "%s: %s", what, text);
	else if (strncmp(r->hdr.errmsg, text, tlen) == 0 &&
	    r->hdr.errmsg[tlen] == ':')
		seterr(err, errlen, c->peer, "%s: %s", what, r->hdr.errmsg);
	else
		seterr(err, errlen, c->peer, "%s: %s: %s", what, text,
		    r->hdr.errmsg);
	/* Codes this client does not know are still not 0, nor -1. */
	return (r->hdr.error > INT_MAX ? INT_MAX : (int)r->hdr.error);
}

int
dsrv_client_write(struct dsrv_client *c, const char *name, const void *data,
    size_t len, char *err, size_t errlen)
{
	struct dsrv_reply	 r;
	const char		*errstr;
	char			 sn[SAFENAME_MAX + 1];

	if (err != NULL && errlen > 0)
		err[0] = '\0';
	safename(name, sn, sizeof(sn));
	if (name == NULL ||
	    chunk_name_check(name, strlen(name), NULL, &errstr) == -1) {
		seterr(err, errlen, c->peer, "%s: %s: %s", sn,
		    wire_strerror(WIRE_E_BADNAME), name == NULL ? "no name" :
		    errstr);
		return (WIRE_E_BADNAME);
	}
	if (len > WIRE_PAYLOAD_MAX) {
		seterr(err, errlen, c->peer, "%s: %s: %zu bytes, a chunk holds "
		    "at most %d", sn, wire_strerror(WIRE_E_TOOBIG), len,
		    WIRE_PAYLOAD_MAX);
		return (WIRE_E_TOOBIG);
	}
	if (request(c, WIRE_M_WRITE, name, data, len, &r, NULL, err,
	    errlen) == -1)
		return (-1);
	if (r.hdr.error == WIRE_E_OK && r.len != 0)
		return (broken(c, err, errlen, "%s: WRITE response with a "
		    "payload of %zu bytes, expected none", sn, r.len));
	return (reply_code(c, &r, sn, err, errlen));
}

int
dsrv_client_read(struct dsrv_client *c, const char *name,
    const uint8_t **data, size_t *len, uint32_t *crc, char *err,
    size_t errlen)
{
	return (read_request(c, name, NULL, 0, data, len, crc, err, errlen));
}

int
dsrv_client_read_range(struct dsrv_client *c, const char *name,
    uint64_t off, uint64_t len, const uint8_t **data, size_t *got,
    char *err, size_t errlen)
{
	uint8_t		 range[WIRE_RANGE_LEN];

	be64_put(range, off);
	be64_put(range + 8, len);
	return (read_request(c, name, range, sizeof(range), data, got, NULL,
	    err, errlen));
}

/*
 * READ, of the whole chunk (range NULL) or of a range.  The paycrc of
 * a whole chunk is its stored crc32, that of a range the crc32 of the
 * range as the server sent it: either way a mismatch is news about
 * the data, WIRE_E_CORRUPT, and the connection stays usable.
 */
static int
read_request(struct dsrv_client *c, const char *name, const uint8_t *range,
    size_t rangelen, const uint8_t **data, size_t *len, uint32_t *crc,
    char *err, size_t errlen)
{
	struct dsrv_reply	 r;
	uLong			 got;
	char			 sn[SAFENAME_MAX + 1];
	int			 crcok, code;

	*data = NULL;
	*len = 0;
	if (err != NULL && errlen > 0)
		err[0] = '\0';
	safename(name, sn, sizeof(sn));
	if ((code = unsendable(c, name, 0, sn, err, errlen)) != 0)
		return (code);
	if (request(c, WIRE_M_READ, name, range, rangelen, &r, &crcok, err,
	    errlen) == -1)
		return (-1);
	if ((code = reply_code(c, &r, sn, err, errlen)) != WIRE_E_OK)
		return (code);
	/* Never more than asked for: the server is out of step. */
	if (range != NULL && r.len > be64_get(range + 8))
		return (broken(c, err, errlen, "%s: READ response of %zu "
		    "bytes for a range of %llu", sn, r.len,
		    (unsigned long long)be64_get(range + 8)));
	if (!crcok) {
		got = r.len > 0 ? crc32(crc32(0L, Z_NULL, 0), r.payload,
		    (uInt)r.len) : 0;
		seterr(err, errlen, c->peer, "%s: %s: received bytes have "
		    "crc32 %08lx, the server's %s %08llx", sn,
		    wire_strerror(WIRE_E_CORRUPT), (unsigned long)got,
		    range != NULL ? "crc32 of the range is" :
		    "stored crc32 is", (unsigned long long)r.hdr.paycrc);
		return (WIRE_E_CORRUPT);
	}
	*data = r.payload;
	*len = r.len;
	if (crc != NULL)
		*crc = (uint32_t)r.hdr.paycrc;
	return (WIRE_E_OK);
}

/*
 * A LIST payload: names that are valid NAMEs, strictly ascending and
 * after the start name.  *namelen excludes a trailing NUL, which sets
 * *more.  -1 (connection broken: the server cannot be trusted to
 * continue) on anything else.
 */
static int
list_page_check(struct dsrv_client *c, const char *dir, const char *after,
    const uint8_t *p, size_t len, size_t *namelen, int *more, char *err,
    size_t errlen)
{
	const char	*s = (const char *)p, *prev, *errstr, *nul;
	size_t		 off, n, prevlen;
	int		 cmp;

	*more = len > 0 && p[len - 1] == '\0';
	*namelen = *more ? len - 1 : len;
	if (*more && *namelen == 0)
		return (broken(c, err, errlen, "%s: LIST response with no "
		    "name but a continuation", dir));
	prev = after;
	prevlen = after != NULL ? strlen(after) : 0;
	for (off = 0; off < *namelen; off += n + 1) {
		nul = memchr(s + off, '\0', *namelen - off);
		n = nul != NULL ? (size_t)(nul - (s + off)) : *namelen - off;
		if (chunk_base_check(s + off, n, &errstr) == -1)
			return (broken(c, err, errlen, "%s: LIST response "
			    "with a bad name: %s", dir, errstr));
		if (prev != NULL) {
			cmp = memcmp(prev, s + off, prevlen < n ? prevlen : n);
			if (cmp > 0 || (cmp == 0 && prevlen >= n))
				return (broken(c, err, errlen, "%s: LIST "
				    "response out of order", dir));
		}
		prev = s + off;
		prevlen = n;
	}
	return (0);
}

int
dsrv_client_list(struct dsrv_client *c, const char *dir, const char *after,
    const char **names, size_t *len, int *more, char *err, size_t errlen)
{
	struct dsrv_reply	 r;
	const char		*errstr;
	char			 sn[SAFENAME_MAX + 1];
	size_t			 alen;
	int			 code;

	*names = NULL;
	*len = 0;
	*more = 0;
	if (err != NULL && errlen > 0)
		err[0] = '\0';
	safename(dir, sn, sizeof(sn));
	if ((code = unsendable(c, dir, 1, sn, err, errlen)) != 0)
		return (code);
	alen = after != NULL ? strlen(after) : 0;
	if (alen > 0 && chunk_base_check(after, alen, &errstr) == -1) {
		seterr(err, errlen, c->peer, "%s: %s: start after: %s", sn,
		    wire_strerror(WIRE_E_BADNAME), errstr);
		return (WIRE_E_BADNAME);
	}
	if (request(c, WIRE_M_LIST, dir, alen > 0 ? after : NULL, alen, &r,
	    NULL, err, errlen) == -1)
		return (-1);
	if ((code = reply_code(c, &r, sn, err, errlen)) != WIRE_E_OK)
		return (code);
	if (list_page_check(c, sn, alen > 0 ? after : NULL, r.payload, r.len,
	    len, more, err, errlen) == -1)
		return (-1);
	*names = (const char *)r.payload;
	return (WIRE_E_OK);
}

int
dsrv_client_list_all(struct dsrv_client *c, const char *dir,
    int (*cb)(const char *, void *), void *arg, char *err, size_t errlen)
{
	const char	*names, *p, *end;
	char		 name[CHUNK_BASE_MAX + 1];
	char		 last[CHUNK_BASE_MAX + 1];
	size_t		 len, n;
	int		 more, code;

	last[0] = '\0';
	do {
		code = dsrv_client_list(c, dir, last, &names, &len, &more,
		    err, errlen);
		if (code != WIRE_E_OK)
			return (code);
		/* Checked by dsrv_client_list: each fits name. */
		for (p = names, end = names + len; p < end; p += n + 1) {
			for (n = 0; p + n < end && p[n] != '\0'; n++)
				;
			memcpy(name, p, n);
			name[n] = '\0';
			if (cb(name, arg) == -1)
				return (-1);
		}
		/*
		 * The next request reuses the buffer names points into;
		 * a page with more has at least one name.
		 */
		if (more)
			(void)strlcpy(last, name, sizeof(last));
	} while (more);
	return (WIRE_E_OK);
}

/*
 * STAT, or DIGEST with sha256: the same answer, and DIGEST's SHA-256
 * after it.
 */
static int
stat_request(struct dsrv_client *c, const char *name, uint64_t *length,
    uint32_t *crc, uint8_t *sha256, char *err, size_t errlen)
{
	struct dsrv_reply	 r;
	const char		*what = sha256 != NULL ? "DIGEST" : "STAT";
	char			 sn[SAFENAME_MAX + 1];
	size_t			 want = sha256 != NULL ? 44 : 12;
	int			 code;

	if (err != NULL && errlen > 0)
		err[0] = '\0';
	safename(name, sn, sizeof(sn));
	if ((code = unsendable(c, name, 0, sn, err, errlen)) != 0)
		return (code);
	if (request(c, sha256 != NULL ? WIRE_M_DIGEST : WIRE_M_STAT, name,
	    NULL, 0, &r, NULL, err, errlen) == -1)
		return (-1);
	if ((code = reply_code(c, &r, sn, err, errlen)) != WIRE_E_OK)
		return (code);
	if (r.len != want)
		return (broken(c, err, errlen, "%s: %s response of %zu "
		    "bytes, expected %zu", sn, what, r.len, want));
	/* No chunk is longer than a payload. */
	if (be64_get(r.payload) > WIRE_PAYLOAD_MAX)
		return (broken(c, err, errlen, "%s: %s response with a "
		    "length of %llu bytes, above the %d a chunk can hold", sn,
		    what, (unsigned long long)be64_get(r.payload),
		    WIRE_PAYLOAD_MAX));
	*length = be64_get(r.payload);
	*crc = be32_get(r.payload + 8);
	if (sha256 != NULL)
		memcpy(sha256, r.payload + 12, 32);
	return (WIRE_E_OK);
}

int
dsrv_client_stat(struct dsrv_client *c, const char *name, uint64_t *length,
    uint32_t *crc, char *err, size_t errlen)
{
	return (stat_request(c, name, length, crc, NULL, err, errlen));
}

int
dsrv_client_digest(struct dsrv_client *c, const char *name, uint64_t *length,
    uint32_t *crc, uint8_t sha256[32], char *err, size_t errlen)
{
	return (stat_request(c, name, length, crc, sha256, err, errlen));
}

int
dsrv_client_statfs(struct dsrv_client *c, struct dsrv_statfs *sf, char *err,
    size_t errlen)
{
	struct dsrv_reply	 r;
	int			 code;

	if (request(c, WIRE_M_STATFS, NULL, NULL, 0, &r, NULL, err,
	    errlen) == -1)
		return (-1);
	if ((code = reply_code(c, &r, "statfs", err, errlen)) != WIRE_E_OK)
		return (code);
	if (r.len != 32)
		return (broken(c, err, errlen, "statfs: STATFS response of "
		    "%zu bytes, expected 32", r.len));
	sf->total = be64_get(r.payload);
	sf->free = be64_get(r.payload + 8);
	sf->avail = be64_get(r.payload + 16);
	sf->chunks = be64_get(r.payload + 24);
	return (WIRE_E_OK);
}
