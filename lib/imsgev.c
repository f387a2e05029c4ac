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
 * libevent glue for imsg channels.
 *
 * One persistent event per channel; its mask is EV_READ while the
 * channel is open (not shutting down) plus EV_WRITE while output is
 * queued.  The mask is recomputed after each callback and after a
 * compose from outside the callback, never in the middle of dispatch.
 *
 * The close callback is the owner's chance to free the struct, so every
 * path that calls it returns straight away without touching iev again.
 */
#include <sys/types.h>

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>

#include "imsgev.h"
#include "log.h"

static void		 imsgev_dispatch(int, short, void *);
static imsgev_handler	 imsgev_lookup(const struct imsgev *, uint32_t);
static void		 imsgev_update(struct imsgev *);
static void		 imsgev_close(struct imsgev *, const char *);
static void		 imsgev_fail(struct imsgev *, const char *, int);

int
imsgev_init(struct imsgev *iev, struct event_base *base, int fd,
    const char *name, imsgev_closecb closecb, void *arg)
{
	int	 flags;

	memset(iev, 0, sizeof(*iev));
	iev->ibuf.fd = -1;
	if (base == NULL || closecb == NULL || fd < 0) {
		errno = EINVAL;
		return -1;
	}
	if ((flags = fcntl(fd, F_GETFL)) == -1 ||
	    fcntl(fd, F_SETFL, flags | O_NONBLOCK) == -1)
		return -1;
	if (imsgbuf_init(&iev->ibuf, fd) == -1)
		return -1;
	iev->base = base;
	iev->name = name;
	iev->closecb = closecb;
	iev->arg = arg;

	if ((iev->ev = event_new(base, fd, EV_READ | EV_PERSIST,
	    imsgev_dispatch, iev)) == NULL)
		goto fail;
	if (event_add(iev->ev, NULL) == -1)
		goto fail;
	iev->events = EV_READ;
	return 0;

 fail:
	if (iev->ev != NULL)
		event_free(iev->ev);
	iev->ev = NULL;
	imsgbuf_clear(&iev->ibuf);
	iev->ibuf.fd = -1;
	iev->dead = 1;
	errno = ENOMEM;
	return -1;
}

void
imsgev_allow_fdpass(struct imsgev *iev)
{
	imsgbuf_allow_fdpass(&iev->ibuf);
}

int
imsgev_set_maxsize(struct imsgev *iev, size_t size)
{
	return imsgbuf_set_maxsize(&iev->ibuf, size);
}

void
imsgev_on(struct imsgev *iev, uint32_t type, imsgev_handler fn)
{
	int	 i;

	for (i = 0; i < iev->nhandlers; i++) {
		if (iev->handlers[i].type == type) {
			iev->handlers[i].fn = fn;
			return;
		}
	}
	/* A fixed table sized for our protocols: overflowing it is a bug. */
	if (iev->nhandlers >= IMSGEV_MAXHANDLERS)
		fatalx("%s: %s: too many handlers", __func__,
		    iev->name != NULL ? iev->name : "?");
	iev->handlers[iev->nhandlers].type = type;
	iev->handlers[iev->nhandlers].fn = fn;
	iev->nhandlers++;
}

void
imsgev_on_default(struct imsgev *iev, imsgev_handler fn)
{
	iev->fallback = fn;
}

static imsgev_handler
imsgev_lookup(const struct imsgev *iev, uint32_t type)
{
	int	 i;

	for (i = 0; i < iev->nhandlers; i++)
		if (iev->handlers[i].type == type)
			return iev->handlers[i].fn;
	return iev->fallback;
}

int
imsgev_compose(struct imsgev *iev, uint32_t type, uint32_t peerid,
    pid_t pid, int fd, const void *data, size_t datalen)
{
	struct iovec	 iov;

	iov.iov_base = (void *)(uintptr_t)data;
	iov.iov_len = datalen;
	return imsgev_composev(iev, type, peerid, pid, fd, &iov,
	    datalen > 0 ? 1 : 0);
}

int
imsgev_composev(struct imsgev *iev, uint32_t type, uint32_t peerid,
    pid_t pid, int fd, const struct iovec *iov, int iovcnt)
{
	if (iev->dead) {
		if (fd >= 0)
			close(fd);
		errno = EPIPE;
		return -1;
	}
	if (imsg_composev(&iev->ibuf, type, peerid, pid, fd, iov,
	    iovcnt) == -1)
		return -1;
	/* Inside dispatch the callback updates the mask once at the end. */
	if (!iev->indispatch)
		imsgev_update(iev);
	return 0;
}

void
imsgev_push(struct imsgev *iev)
{
	if (iev->dead || imsgbuf_queuelen(&iev->ibuf) == 0)
		return;
	/* An error shows again, and is handled, in the loop's write. */
	(void)imsgbuf_write(&iev->ibuf);
	if (!iev->indispatch)
		imsgev_update(iev);
}

void
imsgev_shutdown(struct imsgev *iev)
{
	if (iev->dead || iev->closing)
		return;
	iev->closing = 1;
	if (!iev->indispatch)
		imsgev_update(iev);
}

void
imsgev_clear(struct imsgev *iev)
{
	if (iev->ev != NULL) {
		event_free(iev->ev);
		iev->ev = NULL;
	}
	iev->events = 0;
	if (iev->ibuf.fd >= 0) {
		close(iev->ibuf.fd);
		iev->ibuf.fd = -1;
	}
	imsgbuf_clear(&iev->ibuf);
	iev->dead = 1;
}

/* Register the events the channel needs now. */
static void
imsgev_update(struct imsgev *iev)
{
	short	 want = 0;
	int	 queued;

	if (iev->dead || iev->ev == NULL)
		return;
	queued = imsgbuf_queuelen(&iev->ibuf) > 0;
	if (!iev->closing)
		want |= EV_READ;
	if (queued)
		want |= EV_WRITE;

	if (want != iev->events) {
		if (event_del(iev->ev) == -1)
			fatalx("%s: %s: event_del failed", __func__,
			    iev->name != NULL ? iev->name : "?");
		iev->events = 0;
		if (want != 0) {
			if (event_assign(iev->ev, iev->base, iev->ibuf.fd,
			    want | EV_PERSIST, imsgev_dispatch, iev) == -1 ||
			    event_add(iev->ev, NULL) == -1)
				fatalx("%s: %s: event_add failed", __func__,
				    iev->name != NULL ? iev->name : "?");
			iev->events = want;
		}
	}

	/*
	 * Shutting down with nothing left to write: close from the loop,
	 * never from here, since our caller may still use iev.
	 */
	if (iev->closing && !queued)
		event_active(iev->ev, EV_WRITE, 0);
}

/* End the channel.  iev may be freed when this returns. */
static void
imsgev_close(struct imsgev *iev, const char *why)
{
	iev->dead = 1;
	iev->indispatch = 0;
	if (iev->ev != NULL && event_del(iev->ev) == -1)
		log_warnx("%s: %s: event_del failed", __func__,
		    iev->name != NULL ? iev->name : "?");
	iev->events = 0;
	iev->closecb(iev, why);
}

static void
imsgev_fail(struct imsgev *iev, const char *what, int err)
{
	char	 why[128];

	snprintf(why, sizeof(why), "%s: %s", what, strerror(err));
	imsgev_close(iev, why);
}

static void
imsgev_dispatch(int fd, short what, void *arg)
{
	struct imsgev	*iev = arg;
	struct imsg	 imsg;
	imsgev_handler	 fn;
	char		 why[64];
	uint32_t	 type;
	int		 n, eof = 0;

	(void)fd;
	if (iev->dead)
		return;

	if ((what & EV_READ) && !iev->closing) {
		if ((n = imsgbuf_read(&iev->ibuf)) == -1) {
			imsgev_fail(iev, "read", errno);
			return;
		}
		eof = n == 0;

		iev->indispatch = 1;
		while (!iev->closing) {
			if ((n = imsg_get(&iev->ibuf, &imsg)) == -1) {
				imsgev_fail(iev, "imsg_get", errno);
				return;
			}
			if (n == 0)
				break;
			if ((fn = imsgev_lookup(iev, imsg.hdr.type)) == NULL) {
				type = imsg.hdr.type;
				imsg_free(&imsg);
				snprintf(why, sizeof(why),
				    "unknown message type %u", type);
				imsgev_close(iev, why);
				return;
			}
			fn(iev, &imsg);
			imsg_free(&imsg);
			/* The handler cleared the channel: hands off. */
			if (iev->dead)
				return;
		}
		iev->indispatch = 0;

		if (eof && !iev->closing) {
			if (iev->ibuf.rlen > iev->ibuf.roff)
				imsgev_close(iev, "read: truncated message");
			else
				imsgev_close(iev, NULL);
			return;
		}
	}

	/*
	 * Write whether or not EV_WRITE fired: replies composed by the
	 * handlers above usually fit in the socket right away.
	 */
	if (imsgbuf_queuelen(&iev->ibuf) > 0 &&
	    imsgbuf_write(&iev->ibuf) == -1) {
		imsgev_fail(iev, "write", errno);
		return;
	}
	if (iev->closing && imsgbuf_queuelen(&iev->ibuf) == 0) {
		imsgev_close(iev, NULL);
		return;
	}
	imsgev_update(iev);
}
