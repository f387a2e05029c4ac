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
 * One request of an authenticated session, from its decrypted frame to
 * storage, and storage's answer back into a sealed response frame.
 * network_conn.c reads and authenticates the frame and writes what is
 * built here; this file never touches the socket or the connection's
 * events: each entry point returns the length of the response frame it
 * left at c->frame, 0 when the request went to storage, or -1 when
 * there was no memory for an answer (the caller drops the connection).
 *
 * One chunk WRITE, end to end:
 *
 *  1. network_conn.c has read the frame into the connection's bigbuf
 *     (network_buf.c placed it so that the payload is likely to start
 *     at a multiple of CHUNK_ALIGN) and decrypted it in place.
 *  2. req_frame() decodes the header, whose every field carries its own
 *     checksum, and checks the payload's crc32; req_request() checks
 *     the session's permissions and the chunk name, moves the payload to
 *     an aligned offset in the memfd if the guess was wrong, and fills a
 *     struct st_req: the namespace is the session's (crypto's grant),
 *     never the client's, plus the name, offset, length and crc32.
 *  3. req_to_storage() sends IMSG_ST_WRITE with a dup of the memfd to
 *     the storage worker with the fewest requests in flight, tagged
 *     with the connection's id and a fresh request id; st_req names
 *     the session, whose grant storage holds from crypto.
 *  4. Storage (storage_write.c) copies the payload into a temporary
 *     file, direct I/O when aligned, stores the crc32 beside it,
 *     flushes, reads it back from the device and compares the crc32,
 *     then gives it its name without ever replacing one.  It passes
 *     the chunk's fd to the parent (IMSG_ST_SEAL), which makes it
 *     immutable (parent_seal.c) and answers IMSG_ST_SEALED; only then
 *     does storage answer this worker with IMSG_ST_RESULT.
 *  5. conn_storage_result() in network_conn.c finds the connection
 *     still waiting for that request id; req_result() builds the
 *     response with the request's counter, and network_conn.c writes
 *     it and waits for the next request.
 *
 * READ and LIST go the same way with the memfd as the place storage
 * fills: the answer's payload is already where the response frame
 * wants it, and only the header is written in front of it.
 */
#include <sys/types.h>

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>

#include "bytes.h"
#include "chunkname.h"
#include "dsrvd.h"
#include "log.h"
#include "network.h"

static ssize_t	 req_request(struct conn *, const struct wire_hdr *,
		    const uint8_t *, size_t);
static ssize_t	 req_to_storage(struct conn *, uint32_t, struct st_req *,
		    int);
static ssize_t	 req_hdr(uint8_t *, uint64_t, uint64_t, const char *, size_t,
		    uint32_t);
static size_t	 req_payload_off(void);
static ssize_t	 req_respond(struct conn *, uint64_t, uint64_t, const char *,
		    const void *, size_t);
static ssize_t	 req_respond_inplace(struct conn *, size_t, uint32_t);

static uint32_t	 next_reqid;

/* A whole frame is in and decrypted at c->frame: decode, check, act. */
ssize_t
req_frame(struct conn *c)
{
	struct wire_hdr	 hdr;
	const char	*errstr;
	uint8_t		*pt;
	size_t		 ptlen;
	ssize_t		 off;

	pt = c->frame + WIRE_FRAME_HDR;
	ptlen = c->want - WIRE_TAG_LEN;
	memset(&hdr, 0, sizeof(hdr));
	off = wire_hdr_decode(&hdr, pt, ptlen, &errstr);
	/*
	 * A payload the frame could carry but no request may have: the
	 * fields read well, and paylen is over the limit whatever else
	 * the header says.  dsrv-protocol(5) has the order.
	 */
	if (off != -1 && WIRE_HAS(&hdr, WIRE_F_PAYLEN) &&
	    hdr.paylen > WIRE_PAYLOAD_MAX) {
		log_warnx("%s key %s: bad request: payload length %llu, more "
		    "than 8 MiB", c->peer, c->keyname,
		    (unsigned long long)hdr.paylen);
		return req_respond(c, WIRE_HAS(&hdr, WIRE_F_METHOD) ?
		    hdr.method : 0, WIRE_E_TOOBIG, "payload larger than 8 MiB",
		    NULL, 0);
	}
	if (off == -1 || wire_hdr_check(&hdr, 0, ptlen - off, &errstr) == -1) {
		log_warnx("%s key %s: bad request: %s", c->peer, c->keyname,
		    errstr);
		return req_respond(c, WIRE_HAS(&hdr, WIRE_F_METHOD) ?
		    hdr.method : 0, WIRE_E_BADREQUEST, errstr, NULL, 0);
	}
	if (crc32(0, pt + off, ptlen - off) != hdr.paycrc) {
		log_warnx("%s key %s: bad request: payload crc32 mismatch",
		    c->peer, c->keyname);
		return req_respond(c, hdr.method, WIRE_E_CRC,
		    "payload crc32 mismatch", NULL, 0);
	}
	return req_request(c, &hdr, pt + off, ptlen - off);
}

static ssize_t
req_request(struct conn *c, const struct wire_hdr *hdr, const uint8_t *pay,
    size_t paylen)
{
	static const char	 version[] = "dsrvd " DSRVD_VERSION;
	struct st_req		 req;
	const char		*errstr;
	char			 msg[128], what[32];
	uint32_t		 need, type;
	size_t			 dirlen;
	int			 fd = -1;

	switch (hdr->method) {
	case WIRE_M_PING:
		return req_respond(c, hdr->method, WIRE_E_OK, NULL, version,
		    sizeof(version) - 1);
	case WIRE_M_WRITE:
		type = IMSG_ST_WRITE;
		break;
	case WIRE_M_READ:
		type = IMSG_ST_READ;
		break;
	case WIRE_M_LIST:
		type = IMSG_ST_LIST;
		break;
	case WIRE_M_STAT:
		type = IMSG_ST_STAT;
		break;
	case WIRE_M_DIGEST:
		type = IMSG_ST_DIGEST;
		break;
	case WIRE_M_STATFS:
		type = IMSG_ST_STATFS;
		break;
	default:
		return req_respond(c, hdr->method, WIRE_E_BADREQUEST,
		    "unknown method", NULL, 0);
	}
	need = key_perm_need(hdr->method, hdr->name, hdr->namelen);
	if (!key_perm_ok(c->perms, hdr->method, hdr->name, hdr->namelen)) {
		if (need == (KEY_PERM_READ | KEY_PERM_META))
			(void)strlcpy(what, "read or meta", sizeof(what));
		else
			(void)key_perms_str(need, what, sizeof(what));
		log_warnx("%s key %s: %s refused: key lacks the %s permission",
		    c->peer, c->keyname, wire_method_name(hdr->method), what);
		return req_respond(c, hdr->method, WIRE_E_PERM, "key lacks the "
		    "permission for this request", NULL, 0);
	}

	/* Names are checked here first, and again by storage. */
	if (hdr->method == WIRE_M_LIST) {
		if (chunk_dir_check(hdr->name, hdr->namelen, &errstr) == -1) {
			(void)snprintf(msg, sizeof(msg), "bad directory name: "
			    "%s", errstr);
			return req_respond(c, hdr->method, WIRE_E_BADNAME, msg,
			    NULL, 0);
		}
	} else if (hdr->method != WIRE_M_STATFS &&
	    chunk_name_check(hdr->name, hdr->namelen, &dirlen, &errstr) ==
	    -1) {
		log_info("%s key %s: %s refused: bad chunk name: %s", c->peer,
		    c->keyname, wire_method_name(hdr->method), errstr);
		(void)snprintf(msg, sizeof(msg), "bad chunk name: %s", errstr);
		return req_respond(c, hdr->method, WIRE_E_BADNAME, msg, NULL,
		    0);
	}
	if (hdr->method != WIRE_M_WRITE && hdr->method != WIRE_M_LIST &&
	    paylen != 0 && (hdr->method != WIRE_M_READ ||
	    paylen != WIRE_RANGE_LEN))
		return req_respond(c, hdr->method, WIRE_E_BADREQUEST,
		    "unexpected payload", NULL, 0);

	memset(&req, 0, sizeof(req));
	req.sid = c->sid;
	req.method = hdr->method;
	(void)strlcpy(req.ns, c->ns, sizeof(req.ns));
	if (hdr->method != WIRE_M_STATFS)
		memcpy(req.name, hdr->name, hdr->namelen);
	switch (hdr->method) {
	case WIRE_M_WRITE:
		/*
		 * The payload must be in a memfd (small frames are not) and
		 * aligned for storage's direct I/O; when the header length
		 * guess was wrong it moves by less than CHUNK_ALIGN.
		 */
		if (c->bb == NULL) {
			if (buf_big(c) == -1)
				return req_respond(c, hdr->method, WIRE_E_BUSY,
				    "out of memory", NULL, 0);
			memcpy(c->bb->p, pay, paylen);
			req.off = 0;
		} else {
			c->hlguess = pay - (c->frame + WIRE_FRAME_HDR);
			req.off = pay - c->bb->p;
			if (req.off % CHUNK_ALIGN != 0) {
				req.off -= req.off % CHUNK_ALIGN;
				memmove(c->bb->p + req.off, pay, paylen);
			}
		}
		req.len = paylen;
		req.crc = hdr->paycrc;
		break;
	case WIRE_M_LIST:
		/* The payload, if any, is the NAME to list after. */
		if (paylen > 0 && chunk_base_check((const char *)pay, paylen,
		    &errstr) == -1) {
			log_info("%s key %s: LIST refused: bad name to list "
			    "after: %s", c->peer, c->keyname, errstr);
			(void)snprintf(msg, sizeof(msg), "bad name to list "
			    "after: %s", errstr);
			return req_respond(c, hdr->method, WIRE_E_BADNAME, msg,
			    NULL, 0);
		}
		memcpy(req.after, pay, paylen);
		if (buf_big(c) == -1)
			return req_respond(c, hdr->method, WIRE_E_BUSY,
			    "out of memory", NULL, 0);
		c->respoff = 0;
		req.off = req_payload_off();
		req.maxlen = WIRE_PAYLOAD_MAX;
		break;
	case WIRE_M_READ:
		/*
		 * A range: storage still reads and checks the whole chunk,
		 * and leaves only the range where the response has it.
		 */
		if (paylen == WIRE_RANGE_LEN) {
			req.ranged = 1;
			req.roff = be64_get(pay);
			req.rlen = be64_get(pay + 8);
		}
		/* Storage reads the chunk to where the response has it. */
		if (buf_big(c) == -1)
			return req_respond(c, hdr->method, WIRE_E_BUSY,
			    "out of memory", NULL, 0);
		c->respoff = buf_align_pad(req_payload_off());
		req.off = c->respoff + req_payload_off();
		req.maxlen = c->bb->sz - req.off;
		break;
	}
	if (type == IMSG_ST_WRITE || type == IMSG_ST_LIST ||
	    type == IMSG_ST_READ) {
		if ((fd = fcntl(c->bb->fd, F_DUPFD_CLOEXEC, 0)) == -1) {
			log_warn("%s: dup", __func__);
			return req_respond(c, hdr->method, WIRE_E_BUSY,
			    "out of file descriptors", NULL, 0);
		}
	}
	return req_to_storage(c, type, &req, fd);
}

/* Send a request to the storage worker with the least work queued. */
static ssize_t
req_to_storage(struct conn *c, uint32_t type, struct st_req *req, int fd)
{
	struct child_env	*env = nenv.env;
	int			 i, best = -1;

	for (i = 0; i < MAX_WORKERS; i++) {
		if (env->storage[i] == NULL)
			continue;
		if (best == -1 || nenv.st_inflight[i] < nenv.st_inflight[best])
			best = i;
	}
	if (best == -1) {
		if (fd != -1)
			(void)close(fd);
		return req_respond(c, req->method, WIRE_E_UNAVAILABLE,
		    "storage cannot be reached", NULL, 0);
	}
	c->reqid = req->reqid = ++next_reqid;
	c->method = req->method;
	c->ranged = req->ranged;
	nenv.st_inflight[best]++;
	if (proc_compose(PROC_STORAGE, best, type, c->id, fd, req,
	    sizeof(*req)) == -1)
		fatal("%s: compose", __func__);
	return 0;
}

/*
 * Storage worker w answered a request, whether or not its client is
 * still there to hear it: one less in flight there.
 */
void
req_storage_done(uint32_t w)
{
	if (w < MAX_WORKERS && nenv.st_inflight[w] > 0)
		nenv.st_inflight[w]--;
}

/*
 * The connection of a session ends: every storage worker forgets its
 * grant.  A request still at storage was sent before this, and is
 * served first.
 */
void
req_session_end(struct conn *c)
{
	struct st_sid	 s;
	int		 i;

	if (c->sid == 0)
		return;
	memset(&s, 0, sizeof(s));
	s.sid = c->sid;
	for (i = 0; i < MAX_WORKERS; i++)
		if (nenv.env->storage[i] != NULL)
			(void)proc_compose(PROC_STORAGE, i,
			    IMSG_ST_SESSION_END, 0, -1, &s, sizeof(s));
	c->sid = 0;
}

/* Storage's answer to the request c is waiting for. */
ssize_t
req_result(struct conn *c, const struct st_res *res)
{
	uint8_t		 pl[44];

	if (res->error != WIRE_E_OK) {
		if (c->method == WIRE_M_READ && res->error == WIRE_E_CORRUPT)
			nenv.corrupt_reads++;
		return req_respond(c, c->method, res->error, res->msg, NULL,
		    0);
	}
	switch (c->method) {
	case WIRE_M_READ:
		/* Storage read it there and checked it against its crc32. */
		if (res->len > WIRE_PAYLOAD_MAX || c->bb == NULL)
			fatalx("%s: bad read result", __func__);
		nenv.chunk_reads++;
		nenv.bytes_read += res->len;
		if (c->ranged)
			nenv.range_reads++;
		return req_respond_inplace(c, res->len, res->crc);
	case WIRE_M_LIST:
		if (res->len > WIRE_PAYLOAD_MAX || c->bb == NULL)
			fatalx("%s: bad list result", __func__);
		return req_respond_inplace(c, res->len, res->crc);
	case WIRE_M_STAT:
		be64_put(pl, res->len);
		be32_put(pl + 8, res->crc);
		return req_respond(c, c->method, WIRE_E_OK, NULL, pl, 12);
	case WIRE_M_DIGEST:
		be64_put(pl, res->len);
		be32_put(pl + 8, res->crc);
		memcpy(pl + 12, res->sha256, 32);
		return req_respond(c, c->method, WIRE_E_OK, NULL, pl, 44);
	case WIRE_M_STATFS:
		be64_put(pl, res->fs[0]);
		be64_put(pl + 8, res->fs[1]);
		be64_put(pl + 16, res->fs[2]);
		be64_put(pl + 24, res->fs[3]);
		return req_respond(c, c->method, WIRE_E_OK, NULL, pl, 32);
	default:
		return req_respond(c, c->method, WIRE_E_OK, NULL, NULL, 0);
	}
}

/* The header of a response, with no errmsg and no name. */
static ssize_t
req_hdr(uint8_t *pt, uint64_t method, uint64_t error, const char *errmsg,
    size_t paylen, uint32_t crc)
{
	struct wire_hdr	 hdr;

	memset(&hdr, 0, sizeof(hdr));
	wire_hdr_set(&hdr, WIRE_F_METHOD, (method & 0x7f) | WIRE_M_RESPONSE);
	wire_hdr_set(&hdr, WIRE_F_TIMESTAMP, wire_now_ms());
	wire_hdr_set(&hdr, WIRE_F_PAYLEN, paylen);
	wire_hdr_set(&hdr, WIRE_F_PAYCRC, crc);
	wire_hdr_set(&hdr, WIRE_F_ERROR, error);
	if (errmsg != NULL)
		wire_hdr_set_errmsg(&hdr, errmsg);
	return wire_hdr_encode(&hdr, pt, 4 + WIRE_HDR_MAX);
}

/*
 * Where a successful response's payload starts in the frame: its
 * header's fields are all fixed-size integers.
 */
static size_t
req_payload_off(void)
{
	static size_t	 off;
	uint8_t		 tmp[4 + WIRE_HDR_MAX];
	ssize_t		 hl;

	if (off == 0) {
		if ((hl = req_hdr(tmp, WIRE_M_READ, WIRE_E_OK, NULL, 0, 0)) ==
		    -1)
			fatalx("%s: header does not fit", __func__);
		off = WIRE_FRAME_HDR + hl;
	}
	return off;
}

/*
 * Build the response in the connection's buffer, sealed with the
 * request's counter.
 */
static ssize_t
req_respond(struct conn *c, uint64_t method, uint64_t error,
    const char *errmsg, const void *payload, size_t paylen)
{
	uint8_t		*pt;
	ssize_t		 hl;

	if (buf_frame_out(c, WIRE_FRAME_HDR + 4 + WIRE_HDR_MAX + paylen +
	    WIRE_TAG_LEN) == -1)
		return -1;
	pt = c->frame + WIRE_FRAME_HDR;
	if ((hl = req_hdr(pt, method, error, errmsg, paylen,
	    crc32(0, payload, paylen))) == -1)
		fatalx("%s: header does not fit", __func__);
	if (paylen > 0)
		memmove(pt + hl, payload, paylen);
	return wire_seal(c->keys.s2c, c->counter, c->frame, hl + paylen);
}

/*
 * A successful response whose payload is in place in the big buffer,
 * its frame at respoff.
 */
static ssize_t
req_respond_inplace(struct conn *c, size_t paylen, uint32_t crc)
{
	ssize_t	 hl;

	c->frame = c->bb->p + c->respoff;
	hl = req_hdr(c->frame + WIRE_FRAME_HDR, c->method, WIRE_E_OK, NULL,
	    paylen, crc);
	if (hl == -1 || WIRE_FRAME_HDR + (size_t)hl != req_payload_off())
		fatalx("%s: header size changed", __func__);
	return wire_seal(c->keys.s2c, c->counter, c->frame, hl + paylen);
}
