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
 * What the two halves of the client library share: the connection
 * object and the small helpers both use.  client.c connects, does the
 * handshake and owns the timed I/O; client_req.c frames requests and
 * reads their responses with that I/O, and calls into client.c, never
 * the other way.
 */
#ifndef DSRV_CLIENT_INT_H
#define DSRV_CLIENT_INT_H

#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "client.h"
#include "util.h"
#include "wire.h"

/* The largest frame on the wire, with its 12 header bytes. */
#define CLIENT_BUF_MAX		((size_t)WIRE_FRAME_HDR + WIRE_FRAME_MAX)
/* Grow in steps, so a run of slightly larger requests reallocs rarely. */
#define CLIENT_BUF_STEP		(64 * 1024)
/* The start of every handshake message: magic, version, type. */
#define HS_PREFIX		6

/* A name escaped by safename(): up to four bytes for each of its bytes. */
#define SAFENAME_MAX		(4 * WIRE_NAME_MAX)

#define IO_OK			0
#define IO_ERR			(-1)	/* errno says why */
#define IO_EOF			(-2)

struct dsrv_client {
	int			 fd;
	int			 broken;	/* no more requests */
	int			 io_timeout_ms;
	char			 peer[320];	/* "HOST port P" */
	struct wire_keys	 keys;
	uint64_t		 nreq;		/* requests sent */
	uint64_t		 handshake_us;
	uint8_t			*buf;		/* one frame, either way */
	size_t			 bufsize;
};

/*
 * How long one I/O step may wait: idle_ms for any progress, and
 * deadline_us (CLOCK_MONOTONIC, 0 for none) for the whole exchange.
 */
struct iotime {
	int			 idle_ms;
	uint64_t		 deadline_us;
};

/* Why an I/O step failed, in words. */
static inline const char *
io_strerror(int rv, const struct iotime *t, char *buf, size_t len)
{
	if (rv == IO_EOF)
		return ("connection closed by the server");
	if (errno == ETIMEDOUT) {
		(void)snprintf(buf, len, "timed out after %d ms", t->idle_ms);
		return (buf);
	}
	return (strerror(errno));
}


static inline uint64_t
mono_us(void)
{
	struct timespec	 ts;

	/* CLOCK_MONOTONIC cannot fail with a valid pointer. */
	(void)clock_gettime(CLOCK_MONOTONIC, &ts);
	return ((uint64_t)ts.tv_sec * 1000000 + (uint64_t)ts.tv_nsec / 1000);
}

/* "PEER: message" into err; every message names the server. */
static inline void __attribute__((__format__ (printf, 4, 5)))
seterr(char *err, size_t errlen, const char *peer, const char *fmt, ...)
{
	char	 msg[DSRV_CLIENT_ERRLEN];
	va_list	 ap;

	if (err == NULL || errlen == 0)
		return;
	va_start(ap, fmt);
	(void)vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	(void)snprintf(err, errlen, "%s: %s", peer, msg);
}

/*
 * Text from the server ends up on a terminal: escaped in place, in its
 * own buffer of size bytes (cut there if the escapes make it longer).
 */
static inline void
printable(char *s, size_t size)
{
	char	*copy;

	if ((copy = strdup(s)) == NULL) {
		/* Nothing unsafe is shown, even without memory. */
		s[0] = '\0';
		return;
	}
	dsrv_vis(s, size, copy);
	free(copy);
}

/* All of len bytes to fd, or IO_ERR (errno set, ETIMEDOUT) or IO_EOF. */
int	 client_io_write(int, const void *, size_t, const struct iotime *);
/* Exactly len bytes from fd, or IO_ERR or IO_EOF. */
int	 client_io_read(int, void *, size_t, const struct iotime *);

#endif /* DSRV_CLIENT_INT_H */
