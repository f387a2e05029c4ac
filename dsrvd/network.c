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
 * The network process: accepts TCP clients on the listening sockets the
 * parent opened and, in network worker 0, the control socket.
 *
 * Peers, as the table below says: the parent (listening sockets, the
 * control socket, replies to control requests), crypto (the answers to
 * handshakes) and every storage worker (the results of the requests
 * network_req.c sends).  This file is the role: its table, its start,
 * its listeners and its counters.  A client connection's life is in
 * network_conn.c, one request and its answer in network_req.c, their
 * buffers in network_buf.c, accepting in network_accept.c and the
 * control socket in network_control.c.
 */
#include <sys/types.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <arpa/inet.h>

#include <errno.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "dsrvd.h"
#include "log.h"
#include "network.h"
#include "sandbox.h"

static void	 network_start(struct child_env *);
static void	 network_conf_apply(struct child_env *, struct dsrvd_conf *);
static size_t	 network_stats(struct child_env *, struct ctl_counter *,
		    size_t);
static void	 network_accept(int, short, void *);
static void	 network_dispatch_crypto(struct imsgev *, struct imsg *);

static const struct proc_msg network_msgs[] = {
	{ PROC_PARENT, IMSG_CONF_LISTEN, PROC_FD, config_dispatch_listen },
	{ PROC_PARENT, IMSG_CONF_CONTROL, PROC_FD, config_dispatch_control },
	{ PROC_PARENT, IMSG_CTL_RESULT, PROC_NOFD, control_dispatch_parent },
	{ PROC_PARENT, IMSG_CTL_STATUS_INFO, PROC_NOFD,
	    control_dispatch_parent },
	{ PROC_PARENT, IMSG_CTL_STATUS_LISTEN, PROC_NOFD,
	    control_dispatch_parent },
	{ PROC_PARENT, IMSG_CTL_STATUS_PROC, PROC_NOFD,
	    control_dispatch_parent },
	{ PROC_PARENT, IMSG_CTL_STATUS_COUNTER, PROC_NOFD,
	    control_dispatch_parent },
	{ PROC_PARENT, IMSG_CTL_END, PROC_NOFD, control_dispatch_parent },
	{ PROC_CRYPTO, IMSG_HS_CHALLENGE, PROC_NOFD, network_dispatch_crypto },
	{ PROC_CRYPTO, IMSG_HS_OK, PROC_NOFD, network_dispatch_crypto },
	{ PROC_CRYPTO, IMSG_HS_FAIL, PROC_NOFD, network_dispatch_crypto },
	{ PROC_STORAGE, IMSG_ST_RESULT, PROC_NOFD, conn_storage_result },
};

/*
 * The sandbox: no file system at all and no socket of its own; it
 * accepts on the sockets the parent passed (listeners and, in network
 * 0, the control socket), frames messages in memfds it makes, and
 * talks to its peers.
 */
static const struct proc_syscall network_syscalls[] = {
	SYSCALL("accept4"),
	SYSCALL("shutdown"),
	SYSCALL_EQ2("setsockopt", 1, IPPROTO_TCP, TCP_NODELAY),
	/* who is on the control socket */
	SYSCALL_EQ2("getsockopt", 1, SOL_SOCKET, SO_PEERCRED),
	SYSCALL("memfd_create"),
	SYSCALL("ftruncate"),
	SYSCALL("getrandom"),
};

static const struct proc_sandbox network_sandbox = {
	.syscalls = network_syscalls,
	.nsyscalls = sizeof(network_syscalls) / sizeof(network_syscalls[0]),
	/*
	 * A session: its socket, its frame memfd and for a moment the
	 * copy on its way to storage; a startup: its socket, and room for
	 * the workers' shares to go over the limit for a moment.  Any one
	 * worker may get them all.  Then the pool, channels, listeners.
	 */
	.nofile = 64 + 2 * MAX_WORKERS + NETWORK_BB_POOL,
	.nofile_conn = 3,
	.nofile_startup = 2,
	/* a frame memfd, whose size counts as a file's */
	.fsize = NETWORK_BB_MAX + 64 * 1024,
};

const struct proc_def network_proc = {
	.role = PROC_NETWORK,
	.name = "network",
	.msgs = network_msgs,
	.nmsgs = sizeof(network_msgs) / sizeof(network_msgs[0]),
	.start = network_start,
	.sandbox = &network_sandbox,
};

struct network	 nenv;

static void
network_start(struct child_env *env)
{
	void	*p;

	nenv.env = env;
	TAILQ_INIT(&nenv.listeners);
	if (env->shmfd == -1)
		fatalx("no shared counters from the parent");
	p = mmap(NULL, sizeof(*nenv.shared), PROT_READ | PROT_WRITE,
	    MAP_SHARED, env->shmfd, 0);
	if (p == MAP_FAILED)
		fatal("mmap shared counters");
	(void)close(env->shmfd);
	env->shmfd = -1;
	nenv.shared = p;
	startup_init(env);
	if (env->crypto == NULL)
		fatalx("no channel to crypto");
	if ((nenv.ev_pause = evtimer_new(env->base, network_accept_resume,
	    NULL)) == NULL)
		fatalx("evtimer_new failed");
	env->role = &nenv;
	env->conf_apply = network_conf_apply;
	env->stats = network_stats;
	if (env->init.instance == 0)
		control_init(env);
}

/* Swap the listening sockets for those of the new configuration. */
static void
network_conf_apply(struct child_env *env, struct dsrvd_conf *old)
{
	struct listener		*l;
	struct listen_addr	*la;

	while ((l = TAILQ_FIRST(&nenv.listeners)) != NULL) {
		TAILQ_REMOVE(&nenv.listeners, l, entry);
		event_free(l->ev);
		free(l);
	}
	TAILQ_FOREACH(la, &env->conf->listens, entry) {
		if ((l = calloc(1, sizeof(*l))) == NULL)
			fatal("%s", __func__);
		l->la = la;
		l->ev = event_new(env->base, la->fd, EV_READ | EV_PERSIST,
		    network_accept, l);
		if (l->ev == NULL)
			fatalx("event_new failed");
		if (!nenv.paused && event_add(l->ev, NULL) == -1)
			fatalx("event_add failed");
		TAILQ_INSERT_TAIL(&nenv.listeners, l, entry);
	}
}

static void
network_accept(int lfd, short event, void *arg)
{
	struct sockaddr_storage	 ss;
	socklen_t		 len;
	int			 fd;

	if ((fd = network_accept_fd(lfd, &ss, &len)) == -1)
		return;
	conn_accept(fd, &ss, len);
}

static void
network_dispatch_crypto(struct imsgev *iev, struct imsg *imsg)
{
	struct hs_challenge	 hc;
	struct hs_ok		 ok;
	struct hs_fail		 f;

	switch (imsg->hdr.type) {
	case IMSG_HS_CHALLENGE:
		if (hs_challenge_get(imsg, &hc) == -1)
			msg_bad(iev, imsg, __func__);
		conn_crypto_challenge(imsg->hdr.peerid, &hc);
		break;
	case IMSG_HS_OK:
		if (hs_ok_get(imsg, &ok) == -1)
			msg_bad(iev, imsg, __func__);
		conn_crypto_ok(imsg->hdr.peerid, &ok);
		explicit_bzero(&ok, sizeof(ok));
		break;
	case IMSG_HS_FAIL:
		if (hs_fail_get(imsg, &f) == -1)
			msg_bad(iev, imsg, __func__);
		conn_crypto_fail(imsg->hdr.peerid, &f);
		break;
	default:
		fatalx("%s: unexpected %s", __func__,
		    imsg_name(imsg->hdr.type));
	}
}

static size_t
network_stats(struct child_env *env, struct ctl_counter *cc, size_t max)
{
	size_t	 n = 0;

	proc_counter(cc, &n, max, "connections open", nenv.conns_open);
	proc_counter(cc, &n, max, "connections total", nenv.conns_total);
	proc_counter(cc, &n, max, "connections refused", nenv.conns_refused);
	proc_counter(cc, &n, max, "connections dropped", nenv.conns_dropped);
	proc_counter(cc, &n, max, "handshakes ok", nenv.hs_ok);
	proc_counter(cc, &n, max, "handshake failures auth",
	    nenv.hs_fail_auth);
	proc_counter(cc, &n, max, "handshake failures rtt", nenv.hs_fail_rtt);
	proc_counter(cc, &n, max, "handshake failures skew",
	    nenv.hs_fail_skew);
	proc_counter(cc, &n, max, "handshake failures other",
	    nenv.hs_fail_other);
	proc_counter(cc, &n, max, "handshake failures timeout",
	    nenv.hs_fail_timeout);
	proc_counter(cc, &n, max, "handshake failures closed",
	    nenv.hs_fail_closed);
	proc_counter(cc, &n, max, "startups open", nenv.startups_open);
	proc_counter(cc, &n, max, "startups dropped full",
	    nenv.startups_full);
	proc_counter(cc, &n, max, "startups dropped per source",
	    nenv.startups_source);
	proc_counter(cc, &n, max, "log lines not logged", nenv.log_unlogged);
	proc_counter(cc, &n, max, "messages in", nenv.msgs_in);
	proc_counter(cc, &n, max, "messages out", nenv.msgs_out);
	proc_counter(cc, &n, max, "bytes in", nenv.bytes_in);
	proc_counter(cc, &n, max, "bytes out", nenv.bytes_out);
	proc_counter(cc, &n, max, "chunk reads", nenv.chunk_reads);
	proc_counter(cc, &n, max, "bytes read", nenv.bytes_read);
	proc_counter(cc, &n, max, "range reads", nenv.range_reads);
	proc_counter(cc, &n, max, "corrupt reads", nenv.corrupt_reads);
	proc_counter(cc, &n, max, "control connections",
	    nenv.ctl_conns_total);
	return n;
}
