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
 * The control socket, served by network worker 0: accepting dctl's
 * connections, refusing the ones not from root, one imsg channel per
 * connection, and relaying its requests to the parent and the parent's
 * replies back.  The parent opens the socket and answers every request;
 * this file only carries them, so a compromised network process can
 * ask the parent nothing dctl could not.
 *
 * The socket file is root's with mode 0600, and every connection is
 * checked again with SO_PEERCRED: only root may talk to the daemon.
 * Requests are passed to the parent tagged with the connection's id;
 * the parent's replies come back with that id and are passed on
 * unchanged.  No request carries a file descriptor, so none is
 * accepted here.
 *
 * network.c starts it (control_init); accepting, and pausing when out
 * of descriptors, is network_accept.c's, which pauses nenv.ev_control
 * with the TCP listeners.
 *
 * Peers: dctl clients (IMSG_CTL_STATUS, IMSG_CTL_RELOAD,
 * IMSG_CTL_LOG_VERBOSE, IMSG_CTL_SCRUB) and the parent
 * (IMSG_CTL_RESULT, IMSG_CTL_STATUS_*, IMSG_CTL_END).
 */
#include <sys/types.h>
#include <sys/socket.h>
#include <sys/queue.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "dsrvd.h"
#include "log.h"
#include "network.h"

struct ctl_conn {
	TAILQ_ENTRY(ctl_conn)	 entry;
	uint32_t		 id;
	struct imsgev		 iev;
	int			 busy;		/* a request is at the parent */
	int			 denied;	/* not root: refuse requests */
};

static void	 control_listen(struct child_env *, int);
static void	 control_accept(int, short, void *);
static void	 control_dispatch_request(struct imsgev *, struct imsg *);
static void	 control_closed(struct imsgev *, const char *);
static void	 control_refuse(int, const char *);

static TAILQ_HEAD(, ctl_conn)	 ctl_conns = TAILQ_HEAD_INITIALIZER(ctl_conns);
static struct child_env		*env;
static int			 nconns;
static uint32_t			 next_id;

void
control_init(struct child_env *e)
{
	env = e;
	env->control_fd = control_listen;
}

static void
control_listen(struct child_env *e, int fd)
{
	if (nenv.ev_control != NULL)
		fatalx("%s: control socket already set", __func__);
	nenv.ev_control = event_new(env->base, fd, EV_READ | EV_PERSIST,
	    control_accept, NULL);
	if (nenv.ev_control == NULL || event_add(nenv.ev_control, NULL) == -1)
		fatalx("%s: event failed", __func__);
}

/* A short refusal, written once, best effort, before closing. */
static void
control_refuse(int fd, const char *why)
{
	struct imsgbuf		 ib;
	struct ctl_result	 res;

	memset(&res, 0, sizeof(res));
	res.code = EPERM;
	(void)strlcpy(res.msg, why, sizeof(res.msg));
	if (imsgbuf_init(&ib, fd) == 0) {
		if (imsg_compose(&ib, IMSG_CTL_RESULT, 0, 0, -1, &res,
		    sizeof(res)) == 0)
			(void)imsgbuf_write(&ib);
		imsgbuf_clear(&ib);
	}
	(void)close(fd);
}

static void
control_accept(int lfd, short event, void *arg)
{
	struct sockaddr_storage	 ss;
	struct ucred		 cred;
	struct ctl_conn		*c;
	socklen_t		 len;
	int			 fd;

	if ((fd = network_accept_fd(lfd, &ss, &len)) == -1)
		return;
	nenv.ctl_conns_total++;
	len = sizeof(cred);
	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) == -1) {
		log_warn("control: SO_PEERCRED");
		(void)close(fd);
		return;
	}
	if (nconns >= CTL_MAX_CLIENTS) {
		log_warnx("control: too many connections");
		control_refuse(fd, "too many control connections");
		return;
	}
	if ((c = calloc(1, sizeof(*c))) == NULL) {
		log_warn("control");
		(void)close(fd);
		return;
	}
	c->id = ++next_id;
	if (imsgev_init(&c->iev, env->base, fd, "control", control_closed,
	    c) == -1) {
		log_warn("control");
		(void)close(fd);
		free(c);
		return;
	}
	imsgev_on(&c->iev, IMSG_CTL_STATUS, control_dispatch_request);
	imsgev_on(&c->iev, IMSG_CTL_RELOAD, control_dispatch_request);
	imsgev_on(&c->iev, IMSG_CTL_LOG_VERBOSE, control_dispatch_request);
	imsgev_on(&c->iev, IMSG_CTL_SCRUB, control_dispatch_request);
	TAILQ_INSERT_TAIL(&ctl_conns, c, entry);
	nconns++;
	/*
	 * Someone other than root: answer its request with a refusal (so
	 * dctl can say why) and serve nothing.
	 */
	if (cred.uid != 0) {
		log_warnx("control: refused connection from uid %u pid %ld",
		    (unsigned int)cred.uid, (long)cred.pid);
		c->denied = 1;
		return;
	}
	log_debug("control: connection from pid %ld", (long)cred.pid);
}

static void
control_closed(struct imsgev *iev, const char *why)
{
	struct ctl_conn	*c = iev->arg;

	if (why != NULL)
		log_warnx("control: connection closed: %s", why);
	TAILQ_REMOVE(&ctl_conns, c, entry);
	imsgev_clear(&c->iev);
	free(c);
	nconns--;
}

static void
control_dispatch_request(struct imsgev *iev, struct imsg *imsg)
{
	struct ctl_conn		*c = iev->arg;
	struct ctl_result	 res;
	size_t			 want;

	switch (imsg->hdr.type) {
	case IMSG_CTL_LOG_VERBOSE:
		want = sizeof(int32_t);
		break;
	case IMSG_CTL_SCRUB:
		want = sizeof(struct ctl_scrub);
		break;
	default:
		want = 0;
		break;
	}
	if (imsg->datalen != want || c->busy) {
		log_warnx("control: malformed request type %u",
		    imsg->hdr.type);
		imsgev_shutdown(iev);
		return;
	}
	if (c->denied) {
		memset(&res, 0, sizeof(res));
		res.code = EPERM;
		(void)strlcpy(res.msg, "permission denied: dsrvd takes control "
		    "requests from root only", sizeof(res.msg));
		if (imsgev_compose(iev, IMSG_CTL_RESULT, 0, 0, -1, &res,
		    sizeof(res)) == -1)
			log_warn("control: compose");
		imsgev_shutdown(iev);
		return;
	}
	c->busy = 1;
	if (proc_compose(PROC_PARENT, -1, imsg->hdr.type, c->id, -1,
	    imsg->data, imsg->datalen) == -1)
		fatalx("%s: the parent is gone", __func__);
}

/* A reply to a request: network[0]'s table routes the parent's here. */
void
control_dispatch_parent(struct imsgev *iev, struct imsg *imsg)
{
	struct ctl_conn	*c;

	if (env == NULL)
		fatalx("%s: %s to a network worker without the control "
		    "socket", __func__, imsg_name(imsg->hdr.type));

	TAILQ_FOREACH(c, &ctl_conns, entry)
		if (c->id == imsg->hdr.peerid)
			break;
	if (c == NULL)
		return;		/* dctl went away meanwhile */
	if (imsgev_compose(&c->iev, imsg->hdr.type, 0, 0, -1, imsg->data,
	    imsg->datalen) == -1) {
		log_warn("control: compose");
		imsgev_shutdown(&c->iev);
		return;
	}
	if (imsg->hdr.type == IMSG_CTL_RESULT || imsg->hdr.type == IMSG_CTL_END)
		c->busy = 0;
}
