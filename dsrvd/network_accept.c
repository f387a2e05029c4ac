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
 * Accepting on the sockets a network worker listens on: the TCP
 * listeners (network.c) and, in worker 0, the control socket
 * (network_control.c).  When descriptors run out, a listening socket
 * stays readable and accept would spin, so every one of them pauses
 * for a second together.
 *
 * Both callers call in here; nothing here calls them, so the control
 * socket's event is paused through nenv.ev_control.
 */
#include <sys/types.h>
#include <sys/socket.h>

#include <errno.h>
#include <stdlib.h>

#include "dsrvd.h"
#include "log.h"
#include "network.h"

static void	 network_accept_pause(void);

/* Stop accepting anywhere for a second instead of spinning. */
static void
network_accept_pause(void)
{
	struct listener	*l;
	struct timeval	 tv = { 1, 0 };

	if (nenv.paused)
		return;
	nenv.paused = 1;
	TAILQ_FOREACH(l, &nenv.listeners, entry)
		(void)event_del(l->ev);
	if (nenv.ev_control != NULL)
		(void)event_del(nenv.ev_control);
	if (evtimer_add(nenv.ev_pause, &tv) == -1)
		fatalx("evtimer_add failed");
}

void
network_accept_resume(int fd, short event, void *arg)
{
	struct listener	*l;

	nenv.paused = 0;
	TAILQ_FOREACH(l, &nenv.listeners, entry)
		if (event_add(l->ev, NULL) == -1)
			fatalx("event_add failed");
	if (nenv.ev_control != NULL && event_add(nenv.ev_control, NULL) == -1)
		fatalx("%s: event_add failed", __func__);
}

/*
 * Accept a connection, non-blocking and close-on-exec.  -1 when there
 * is none to take now (or it was lost), logged when that is worth it.
 */
int
network_accept_fd(int lfd, struct sockaddr_storage *ss, socklen_t *len)
{
	int	 fd;

	*len = sizeof(*ss);
	fd = accept4(lfd, (struct sockaddr *)ss, len,
	    SOCK_NONBLOCK | SOCK_CLOEXEC);
	if (fd == -1) {
		switch (errno) {
		case EAGAIN:
		case EINTR:
		case ECONNABORTED:
			break;
		case EMFILE:
		case ENFILE:
		case ENOBUFS:
		case ENOMEM:
			log_warn("accept");
			network_accept_pause();
			break;
		default:
			log_warn("accept");
			break;
		}
	}
	return fd;
}
