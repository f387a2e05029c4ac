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
 * libevent glue for imsg channels.  A process sets up one imsgev per
 * peer, registers a handler for each message type it accepts from that
 * peer, and composes replies; the glue reads, frames, dispatches and
 * writes.  A message of a type with no handler (and no default handler),
 * a framing error, a read or write error and EOF all end the channel
 * through the close callback.
 *
 * Lifetime rules:
 * - The glue calls imsg_free() after a handler returns; a handler that
 *   keeps the fd takes it with imsg_get_fd().
 * - A handler must never free its imsgev.  To end the channel it calls
 *   imsgev_shutdown(): no further message is dispatched, the queue is
 *   written, then closecb(NULL) runs.  (A handler may also call
 *   imsgev_clear(): dispatching stops at once and closecb is not called;
 *   the struct must stay allocated until the handler has returned.)
 * - The close callback runs at most once, from the event loop, never
 *   from inside a handler or an imsgev_*() call.  The glue does not
 *   touch the imsgev after it, so closecb is the place to call
 *   imsgev_clear() and free the struct.  Without imsgev_clear() the
 *   event is already removed, but the socket stays open.
 * - After closecb or imsgev_clear(), imsgev_compose() fails with EPIPE
 *   (closing the fd it was given).
 */
#ifndef DSRV_IMSGEV_H
#define DSRV_IMSGEV_H

#include <event2/event.h>

#include "imsg.h"

#define IMSGEV_MAXHANDLERS	64

struct imsgev;

typedef void	(*imsgev_handler)(struct imsgev *, struct imsg *);
/*
 * Called once when the channel ends.  why is NULL for a clean EOF, else
 * a short reason ("unknown message type 42", "read: Connection reset by
 * peer", ...).  The callback may free the imsgev (after imsgev_clear()).
 */
typedef void	(*imsgev_closecb)(struct imsgev *, const char *why);

struct imsgev {
	struct imsgbuf		 ibuf;
	struct event_base	*base;
	struct event		*ev;
	short			 events;	/* currently registered */
	const char		*name;		/* peer, for log lines */
	void			*arg;		/* the owner's */
	uint32_t		 id;		/* the owner's, e.g. peer id */
	int			 kind;		/* the owner's, e.g. peer role */
	imsgev_closecb		 closecb;
	struct {
		uint32_t	 type;
		imsgev_handler	 fn;
	}			 handlers[IMSGEV_MAXHANDLERS];
	int			 nhandlers;
	imsgev_handler		 fallback;	/* types with no handler */
	int			 closing;	/* close after the queue drains */
	int			 dead;		/* closecb already called */
	int			 indispatch;	/* inside handler loop */
};

/*
 * Start serving fd (made non-blocking here) on base.  closecb is
 * required.  The struct is zeroed first: set id after this call.  On
 * failure fd is left open and stays the caller's.
 */
int	imsgev_init(struct imsgev *, struct event_base *, int fd,
	    const char *name, imsgev_closecb, void *arg);
void	imsgev_allow_fdpass(struct imsgev *);
int	imsgev_set_maxsize(struct imsgev *, size_t);
/* Register fn for messages of type.  Re-registering replaces. */
void	imsgev_on(struct imsgev *, uint32_t type, imsgev_handler fn);
/*
 * Register fn for every type that has no handler of its own, instead of
 * ending the channel: for owners that keep their own table of types.
 */
void	imsgev_on_default(struct imsgev *, imsgev_handler fn);
/*
 * Queue a message and arrange for it to be written.  fd ownership as
 * for imsg_compose().  Allowed after imsgev_shutdown(): the message is
 * written before the close.
 */
int	imsgev_compose(struct imsgev *, uint32_t type, uint32_t peerid,
	    pid_t pid, int fd, const void *data, size_t datalen);
int	imsgev_composev(struct imsgev *, uint32_t type, uint32_t peerid,
	    pid_t pid, int fd, const struct iovec *iov, int iovcnt);
/*
 * Write what is queued now, as far as the socket takes it, before the
 * caller blocks in something else; the rest goes from the loop.
 */
void	imsgev_push(struct imsgev *);
/* Stop reading; call closecb(NULL) once everything queued is written. */
void	imsgev_shutdown(struct imsgev *);
/* Remove the event, close the socket, free buffers.  No callback. */
void	imsgev_clear(struct imsgev *);

#endif /* DSRV_IMSGEV_H */
