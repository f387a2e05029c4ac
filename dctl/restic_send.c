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
 * The body of a GET, a window at a time: the first window is read
 * before the status line goes out (so that a corrupt or unreachable
 * chunk is still an HTTP error), every later one when the one before
 * it has left for the client.  One window (a chunk, aligned to the
 * file's chunks so dsrvd reads each chunk once) is in memory per
 * object being sent.  A window that cannot be read after the status
 * went out ends the connection short of its Content-Length: restic
 * sees the object cut off and retries or reports it.  An object read
 * whole before (restic_keep.c) is sent from memory instead.
 */
#include <sys/types.h>
#include <sys/queue.h>
#include <sys/socket.h>

#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>

#include "dctl.h"
#include "dsrvfile.h"
#include "log.h"
#include "serve.h"
#include "wire.h"

struct gw_send {
	struct gw		*gw;
	struct evhttp_request	*req;
	struct evhttp_connection *evcon;
	struct dsrv_file_meta	*m;
	uint64_t		 pos, end;
};

static uint64_t	 window_end(uint64_t, uint64_t);
static void	 send_next(struct evhttp_connection *, void *);
static void	 send_closed(struct evhttp_connection *, void *);
static void	 send_free(struct gw_send *);
static int	 send_buffer(struct gw *, struct evhttp_request *,
		    struct evbuffer *, uint64_t, uint64_t, int, const char *,
		    char *, size_t);

/* The end of the window starting at pos: the chunk's end, or end. */
static uint64_t
window_end(uint64_t pos, uint64_t end)
{
	uint64_t	 w;

	w = (pos / GW_WINDOW + 1) * GW_WINDOW;
	return (w < end ? w : end);
}

static void
send_free(struct gw_send *gs)
{
	dsrv_meta_free(gs->m);
	free(gs);
}

/* The client went away, or the gateway stops: the request is gone. */
static void
send_closed(struct evhttp_connection *evcon, void *arg)
{
	struct gw_send	*gs = arg;

	log_debug("GET %s: the connection closed at byte %" PRIu64 " of %"
	    PRIu64, gs->m->name, gs->pos, gs->end);
	send_free(gs);
}

/* The window before has left: the next, or the end of the reply. */
static void
send_next(struct evhttp_connection *evcon, void *arg)
{
	struct gw_send		*gs = arg;
	struct bufferevent	*bev;
	struct evbuffer		*b;
	char			 err[DSRV_CLIENT_ERRLEN];
	uint64_t		 wend;
	int			 rc;

	if (gs->pos == gs->end) {
		evhttp_connection_set_closecb(gs->evcon, NULL, NULL);
		evhttp_send_reply_end(gs->req);
		send_free(gs);
		return;
	}
	wend = window_end(gs->pos, gs->end);
	if ((b = evbuffer_new()) == NULL) {
		(void)snprintf(err, sizeof(err), "out of memory");
		rc = -1;
	} else
		rc = store_read_range(gs->gw, gs->m, gs->pos, wend - gs->pos,
		    b, err, sizeof(err));
	if (rc != WIRE_E_OK) {
		log_warnx("GET %s: cut short at byte %" PRIu64 ": %s",
		    gs->m->name, gs->pos, err);
		if (b != NULL)
			evbuffer_free(b);
		/* Both ways: the client sees the end at once. */
		bev = evhttp_connection_get_bufferevent(gs->evcon);
		if (bev != NULL && bufferevent_getfd(bev) != -1)
			(void)shutdown(bufferevent_getfd(bev), SHUT_RDWR);
		return;		/* send_closed frees gs */
	}
	GW_COUNT(gs->gw, served_bytes, wend - gs->pos);
	gs->pos = wend;
	evhttp_send_reply_chunk_with_cb(gs->req, b, send_next, gs);
	evbuffer_free(b);
}

int
send_object(struct gw *gw, struct evhttp_request *req,
    const struct dsrv_file_meta *m, uint64_t off, uint64_t len, int code,
    const char *reason, char *err, size_t errlen)
{
	struct evkeyvalq	*oh = evhttp_request_get_output_headers(req);
	struct evbuffer		*b;
	struct gw_send		*gs;
	char			 hdr[32];
	uint64_t		 wend;
	int			 rc;

	wend = window_end(off, off + len);
	if ((b = evbuffer_new()) == NULL) {
		(void)snprintf(err, errlen, "out of memory");
		return (-1);
	}
	if ((rc = store_read_range(gw, m, off, wend - off, b, err, errlen)) !=
	    WIRE_E_OK) {
		evbuffer_free(b);
		return (rc);
	}
	GW_COUNT(gw, served_bytes, wend - off);
	if (wend == off + len) {
		evhttp_send_reply(req, code, reason, b);
		evbuffer_free(b);
		return (WIRE_E_OK);
	}
	if ((gs = calloc(1, sizeof(*gs))) == NULL ||
	    (gs->m = dsrv_meta_copy(m)) == NULL) {
		free(gs);
		evbuffer_free(b);
		(void)snprintf(err, errlen, "out of memory");
		return (-1);
	}
	gs->gw = gw;
	gs->req = req;
	gs->evcon = evhttp_request_get_connection(req);
	gs->pos = wend;
	gs->end = off + len;
	/* With a length, evhttp sends the body as it is, not chunked. */
	(void)snprintf(hdr, sizeof(hdr), "%" PRIu64, len);
	(void)evhttp_remove_header(oh, "Content-Length");
	(void)evhttp_add_header(oh, "Content-Length", hdr);
	evhttp_connection_set_closecb(gs->evcon, send_closed, gs);
	evhttp_send_reply_start(req, code, reason);
	evhttp_send_reply_chunk_with_cb(req, b, send_next, gs);
	evbuffer_free(b);
	return (WIRE_E_OK);
}

/* Bytes [off, off + len) of body, all of an object, in one reply. */
static int
send_buffer(struct gw *gw, struct evhttp_request *req, struct evbuffer *body,
    uint64_t off, uint64_t len, int code, const char *reason, char *err,
    size_t errlen)
{
	struct evbuffer	*b;

	if ((b = evbuffer_new()) == NULL ||
	    evbuffer_drain(body, (size_t)off) == -1 ||
	    evbuffer_remove_buffer(body, b, (size_t)len) != (int)len) {
		if (b != NULL)
			evbuffer_free(b);
		(void)snprintf(err, errlen, "out of memory");
		return (-1);
	}
	GW_COUNT(gw, served_bytes, len);
	evhttp_send_reply(req, code, reason, b);
	evbuffer_free(b);
	return (WIRE_E_OK);
}

int
http_range(const char *h, uint64_t size, uint64_t *off, uint64_t *len)
{
	unsigned long long	 a, b;
	char			*end;
	const char		*s;

	if (h == NULL || strncmp(h, "bytes=", 6) != 0)
		return (0);
	s = h + 6;
	if (strchr(s, ',') != NULL)
		return (0);
	errno = 0;
	if (*s == '-') {
		b = strtoull(s + 1, &end, 10);
		if (errno != 0 || end == s + 1 || *end != '\0')
			return (0);
		if (b == 0)
			return (-1);
		if (b > size)
			b = size;
		*off = size - b;
		*len = b;
		return (size == 0 ? -1 : 1);
	}
	if (!isdigit((unsigned char)*s))
		return (0);
	a = strtoull(s, &end, 10);
	if (errno != 0 || *end != '-')
		return (0);
	s = end + 1;
	if (*s == '\0')
		b = size > 0 ? size - 1 : 0;
	else {
		if (!isdigit((unsigned char)*s))
			return (0);
		b = strtoull(s, &end, 10);
		if (errno != 0 || *end != '\0' || b < a)
			return (0);
	}
	if (a >= size)
		return (-1);
	if (b >= size)
		b = size - 1;
	*off = a;
	*len = b - a + 1;
	return (1);
}

int
serve_meta(struct gw *gw, struct evhttp_request *req, int head,
    const struct dsrv_file_meta *m, struct evbuffer *body, int *status,
    char *err, size_t errlen)
{
	struct evkeyvalq	*oh = evhttp_request_get_output_headers(req);
	const char		*reason;
	char			 hdr[96];
	uint64_t		 off = 0, len = m->length;
	int			 r, code;

	r = http_range(evhttp_find_header(evhttp_request_get_input_headers(
	    req), "Range"), m->length, &off, &len);
	if (r == -1) {
		(void)snprintf(hdr, sizeof(hdr), "bytes */%" PRIu64,
		    m->length);
		(void)evhttp_add_header(oh, "Content-Range", hdr);
		*status = 416;
		evhttp_send_error(req, 416, "Range Not Satisfiable");
		return (WIRE_E_OK);
	}
	(void)evhttp_add_header(oh, "Content-Type", GW_MIME_DATA);
	(void)evhttp_add_header(oh, "Accept-Ranges", "bytes");
	if (r == 1) {
		(void)snprintf(hdr, sizeof(hdr), "bytes %" PRIu64 "-%" PRIu64
		    "/%" PRIu64, off, off + len - 1, m->length);
		(void)evhttp_add_header(oh, "Content-Range", hdr);
	}
	*status = r == 1 ? 206 : 200;
	reason = r == 1 ? "Partial Content" : "OK";
	if (head) {
		(void)snprintf(hdr, sizeof(hdr), "%" PRIu64, len);
		(void)evhttp_add_header(oh, "Content-Length", hdr);
		evhttp_send_reply(req, *status, reason, NULL);
		return (WIRE_E_OK);
	}
	if (r == 1)
		GW_COUNT(gw, range_reads, 1);
	if (body != NULL)
		code = send_buffer(gw, req, body, off, len, *status, reason,
		    err, errlen);
	else
		code = send_object(gw, req, m, off, len, *status, reason, err,
		    errlen);
	if (code != WIRE_E_OK) {
		(void)evhttp_remove_header(oh, "Content-Range");
		*status = 0;
	}
	return (code);
}
