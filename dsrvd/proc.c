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
 * The privsep core, for the parent and every child alike.
 *
 * The parent forks and re-execs itself once per child with -P role
 * (a fresh address space each), then sends the start-up series: the
 * child's identity (IMSG_INIT), one socket per peer it talks to
 * (IMSG_INIT_PEER) and IMSG_INIT_END.  The child reads that series
 * synchronously, drops its privileges for good, starts its role and
 * says hello; from then on everything is a message in an event loop.
 * Once it has read the series, a child logs through the parent
 * (proc_log.c) and its stdin, stdout and stderr are /dev/null.
 *
 * Every channel dispatches through proc_dispatch(), which looks the
 * message up in the receiving role's table (proc_def.msgs): a type the
 * table does not list for that peer, or an fd where none belongs (or
 * none where one does), is a broken channel and ends the process, and
 * with it the daemon.  EOF is not an error: the peer is on its way out
 * and the parent takes the daemon down when it reaps it.
 */
#include <sys/types.h>
#include <sys/socket.h>
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include "dsrvd.h"
#include "log.h"

#define MAX_PEERS	(2 * MAX_WORKERS + 1)

static int	 proc_from(const struct proc_msg *, enum proc_role);
static const struct proc_msg *proc_entry(enum proc_role, enum proc_role,
		    uint32_t);
static int	 proc_lists(enum proc_role, enum proc_role);
static void	 proc_dispatch(struct imsgev *, struct imsg *);
static void	 proc_register(struct imsgev *, enum proc_role, int);
static void	 proc_read_init(struct child_env *, int *, struct proc_peer *,
		    int *);
static int	 proc_take_peer(struct imsg *, struct proc_peer *);
static void	 proc_parent_closed(struct imsgev *, const char *);
static void	 proc_peer_closed(struct imsgev *, const char *);
static void	 proc_sigterm(int, short, void *);
static void	 proc_dispatch_stats_req(struct imsgev *, struct imsg *);
static void	 proc_dispatch_verbose(struct imsgev *, struct imsg *);

/* What every child takes from the parent, whatever its role. */
static const struct proc_msg child_msgs[] = {
	{ PROC_PARENT, IMSG_CONF_START, PROC_NOFD, config_dispatch_start },
	{ PROC_PARENT, IMSG_CONF_END, PROC_NOFD, config_dispatch_end },
	{ PROC_PARENT, IMSG_STATS_REQ, PROC_NOFD, proc_dispatch_stats_req },
	{ PROC_PARENT, IMSG_VERBOSE, PROC_NOFD, proc_dispatch_verbose },
};

static const struct proc_def *const	*procs;
static enum proc_role			 proc_self = PROC_PARENT;
static struct imsgev			*chans[PROC_MAX][MAX_WORKERS];
static struct child_env			 cenv;

struct proc_child	 proc_children[MAX_CHILDREN];
int			 proc_nchildren;

/* The role table, from main(): every process has the same. */
void
proc_setup(const struct proc_def *const defs[PROC_MAX])
{
	int	 i;

	for (i = 0; i < PROC_MAX; i++)
		if (defs[i] == NULL || defs[i]->role != (enum proc_role)i)
			fatalx("%s: role table entry %d is wrong", __func__, i);
	procs = defs;
}

const char *
proc_name(enum proc_role role)
{
	if (role < 0 || role >= PROC_MAX)
		return "?";
	return procs[role]->name;
}

const char *
proc_label(enum proc_role role, int instance, char *buf, size_t len)
{
	if (instance < 0)
		(void)snprintf(buf, len, "%s", proc_name(role));
	else
		(void)snprintf(buf, len, "%s[%d]", proc_name(role), instance);
	return buf;
}

int
proc_role_by_name(const char *name)
{
	int	 i;

	for (i = PROC_PARENT + 1; i < PROC_MAX; i++)
		if (strcmp(name, procs[i]->name) == 0)
			return i;
	return -1;
}

/* Does a table entry take messages from peer? */
static int
proc_from(const struct proc_msg *m, enum proc_role peer)
{
	return m->peer == (int)peer ||
	    (m->peer == PROC_CHILDREN && peer != PROC_PARENT);
}

/* The entry of self's table for type from peer, or NULL. */
static const struct proc_msg *
proc_entry(enum proc_role self, enum proc_role peer, uint32_t type)
{
	const struct proc_def	*d = procs[self];
	size_t			 i;

	for (i = 0; i < d->nmsgs; i++)
		if (proc_from(&d->msgs[i], peer) && d->msgs[i].type == type)
			return &d->msgs[i];
	if (self != PROC_PARENT && peer == PROC_PARENT)
		for (i = 0; i < sizeof(child_msgs) / sizeof(child_msgs[0]); i++)
			if (child_msgs[i].type == type)
				return &child_msgs[i];
	return NULL;
}

/* Does self's table name peer at all? */
static int
proc_lists(enum proc_role self, enum proc_role peer)
{
	const struct proc_def	*d = procs[self];
	size_t			 i;

	for (i = 0; i < d->nmsgs; i++)
		if (proc_from(&d->msgs[i], peer))
			return 1;
	return 0;
}

/*
 * Whether two roles have a channel: the parent has one with every
 * child; two children only if each lists the other.
 */
int
proc_talks(enum proc_role a, enum proc_role b)
{
	if (a == b)
		return 0;
	if (a == PROC_PARENT || b == PROC_PARENT)
		return 1;
	return proc_lists(a, b) && proc_lists(b, a);
}

static void
proc_register(struct imsgev *iev, enum proc_role peer, int instance)
{
	int	 slot = instance < 0 ? 0 : instance;

	if (slot >= MAX_WORKERS)
		fatalx("%s: bad instance %d", __func__, instance);
	if (chans[peer][slot] != NULL)
		fatalx("%s: second channel to %s", __func__, iev->name);
	chans[peer][slot] = iev;
}

/*
 * Serve a channel to peer with our role's table: fds are accepted only
 * if some message from that peer carries one.
 */
void
proc_listen(struct imsgev *iev, enum proc_role peer, int instance)
{
	const struct proc_def	*d = procs[proc_self];
	size_t			 i;

	iev->kind = peer;
	iev->id = instance < 0 ? 0 : instance;
	imsgev_on_default(iev, proc_dispatch);
	for (i = 0; i < d->nmsgs; i++)
		if (proc_from(&d->msgs[i], peer) && d->msgs[i].fd == PROC_FD) {
			imsgev_allow_fdpass(iev);
			break;
		}
	if (proc_self != PROC_PARENT && peer == PROC_PARENT)
		for (i = 0; i < sizeof(child_msgs) / sizeof(child_msgs[0]); i++)
			if (child_msgs[i].fd == PROC_FD)
				imsgev_allow_fdpass(iev);
	proc_register(iev, peer, instance);
}

static void
proc_dispatch(struct imsgev *iev, struct imsg *imsg)
{
	const struct proc_msg	*m;

	/* The log line's prefix names us; the message names the peer. */
	if ((m = proc_entry(proc_self, iev->kind, imsg->hdr.type)) == NULL)
		fatalx("%s sent %s, which is not in %s's table for %s",
		    iev->name, imsg_name(imsg->hdr.type),
		    proc_name(proc_self), proc_name(iev->kind));
	if (m->fd == PROC_FD && imsg->fd == -1)
		fatalx("%s sent %s without its fd", iev->name,
		    imsg_name(imsg->hdr.type));
	if (m->fd == PROC_NOFD && imsg->fd != -1)
		fatalx("%s sent %s with an fd", iev->name,
		    imsg_name(imsg->hdr.type));
	m->fn(iev, imsg);
}

/*
 * Queue a message to a peer (instance -1: the only one).  The peer's
 * table must take it: anything else is a bug here, not there.  Returns
 * -1 (and closes fd) if the peer's channel is gone, which only happens
 * on the way down.
 */
int
proc_compose(enum proc_role role, int instance, uint32_t type,
    uint32_t peerid, int fd, const void *data, size_t len)
{
	struct imsgev	*iev;
	int		 slot = instance < 0 ? 0 : instance;

	if (role < 0 || role >= PROC_MAX || slot >= MAX_WORKERS)
		fatalx("%s: no such peer %d[%d]", __func__, role, instance);
	/* The start-up series is read by the core, not dispatched. */
	if (!(proc_self == PROC_PARENT && type >= IMSG_INIT &&
	    type <= IMSG_INIT_END) &&
	    proc_entry(role, proc_self, type) == NULL)
		fatalx("%s: %s may not send %s to %s", __func__,
		    proc_name(proc_self), imsg_name(type), proc_name(role));
	if ((iev = chans[role][slot]) == NULL || iev->dead) {
		if (fd != -1)
			(void)close(fd);
		errno = EPIPE;
		return -1;
	}
	if (imsgev_compose(iev, type, peerid, 0, fd, data, len) == -1) {
		if (errno == EPIPE)
			return -1;
		fatal("%s: %s to %s", __func__, imsg_name(type), iev->name);
	}
	return 0;
}

/*
 * The parent: start one child.  It gets only the parent's end of its
 * socketpair, as fd PARENT_SOCK_FILENO, and the write end of its note
 * pipe, as NOTE_FILENO: should its sandbox kill it, it names the
 * system call there first (sandbox.c).
 */
struct proc_child *
proc_fork(const char *argv0, enum proc_role role, int instance, int debug,
    int verbose, imsgev_closecb closecb, struct event_base *base)
{
	struct proc_child	*c;
	char			*argv[12], inst[16];
	int			 n = 0, i, sp[2], np[2], a, b;
	pid_t			 pid;

	if (proc_nchildren >= MAX_CHILDREN)
		fatalx("%s: too many children", __func__);
	c = &proc_children[proc_nchildren++];
	memset(c, 0, sizeof(*c));
	c->role = role;
	c->instance = instance;
	c->notefd = -1;
	(void)proc_label(role, instance, c->label, sizeof(c->label));

	argv[n++] = (char *)argv0;
	argv[n++] = "-P";
	argv[n++] = (char *)proc_name(role);
	if (instance >= 0) {
		(void)snprintf(inst, sizeof(inst), "%d", instance);
		argv[n++] = "-I";
		argv[n++] = inst;
	}
	if (debug)
		argv[n++] = "-d";
	for (i = 0; i < verbose && i < 3; i++)
		argv[n++] = "-v";
	argv[n] = NULL;

	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sp) == -1)
		fatal("socketpair");
	if (pipe2(np, O_CLOEXEC) == -1)
		fatal("pipe2");
	switch (pid = fork()) {
	case -1:
		fatal("fork");
	case 0:
		/*
		 * Only the parent channel and the note pipe survive the
		 * exec: moved above their places first, so that neither
		 * lands on the other, then dup2'd (without close-on-exec).
		 */
		if ((a = fcntl(sp[1], F_DUPFD_CLOEXEC, NOTE_FILENO + 1)) == -1 ||
		    (b = fcntl(np[1], F_DUPFD_CLOEXEC, NOTE_FILENO + 1)) == -1 ||
		    dup2(a, PARENT_SOCK_FILENO) == -1 ||
		    dup2(b, NOTE_FILENO) == -1)
			_exit(1);
		execv("/proc/self/exe", argv);
		_exit(127);
	default:
		break;
	}
	(void)close(sp[1]);
	(void)close(np[1]);
	c->notefd = np[0];
	if (fcntl(c->notefd, F_SETFL, O_NONBLOCK) == -1)
		fatal("note pipe");
	c->pid = pid;
	c->alive = 1;
	if (imsgev_init(&c->iev, base, sp[0], c->label, closecb, c) == -1)
		fatal("imsgev_init");
	proc_listen(&c->iev, role, instance);
	log_debug("started %s, pid %ld", c->label, (long)pid);
	return c;
}

struct proc_child *
proc_child(enum proc_role role, int instance)
{
	int	 i;

	for (i = 0; i < proc_nchildren; i++)
		if (proc_children[i].role == role &&
		    proc_children[i].instance == instance)
			return &proc_children[i];
	return NULL;
}

/*
 * The parent: one socketpair for every two children whose roles talk,
 * one end to each.  Only those pairs can ever exchange a message.
 */
void
proc_connect_peers(void)
{
	struct proc_child	*a, *b;
	struct proc_peer	 peer;
	int			 i, j, sp[2];

	for (i = 0; i < proc_nchildren; i++) {
		a = &proc_children[i];
		for (j = i + 1; j < proc_nchildren; j++) {
			b = &proc_children[j];
			if (!proc_talks(a->role, b->role))
				continue;
			if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC |
			    SOCK_NONBLOCK, 0, sp) == -1)
				fatal("socketpair");
			peer.role = b->role;
			peer.instance = b->instance;
			(void)proc_compose(a->role, a->instance,
			    IMSG_INIT_PEER, 0, sp[0], &peer, sizeof(peer));
			peer.role = a->role;
			peer.instance = a->instance;
			(void)proc_compose(b->role, b->instance,
			    IMSG_INIT_PEER, 0, sp[1], &peer, sizeof(peer));
		}
	}
}

/*
 * A child, from main(): read who we are and our peers, drop
 * privileges, start the role and serve its channels.
 */
__attribute__((__noreturn__)) void
proc_child_main(enum proc_role role, int instance, int debug, int verbose)
{
	struct proc_peer	 peers[MAX_PEERS];
	struct imsgev		*iev;
	struct event		*ev_term;
	char			 label[32], name[48], *pname;
	int			 fds[MAX_PEERS], npeers, i;

	proc_self = role;
	(void)proc_label(role, instance, label, sizeof(label));
	log_init(debug, LOG_DAEMON);
	log_procinit(label);
	log_setprefix(1);
	log_setverbose(verbose);

	/*
	 * ^C in a terminal reaches the whole process group: only the
	 * parent decides when children stop.
	 */
	if (signal(SIGINT, SIG_IGN) == SIG_ERR ||
	    signal(SIGHUP, SIG_IGN) == SIG_ERR ||
	    signal(SIGPIPE, SIG_IGN) == SIG_ERR)
		fatal("signal");

	proc_read_init(&cenv, fds, peers, &npeers);
	if (cenv.init.role != (int)role || cenv.init.instance != instance)
		fatalx("parent sent the identity of another process");
	proc_log_start(PARENT_SOCK_FILENO);
	proc_drop_privileges(&cenv.init, proc_name(role));

	if ((cenv.base = event_base_new()) == NULL)
		fatalx("event_base_new failed");
	if ((ev_term = evsignal_new(cenv.base, SIGTERM, proc_sigterm,
	    NULL)) == NULL || evsignal_add(ev_term, NULL) == -1)
		fatalx("evsignal failed");

	if (imsgev_init(&cenv.parent, cenv.base, PARENT_SOCK_FILENO, "parent",
	    proc_parent_closed, &cenv) == -1)
		fatal("imsgev_init");
	proc_listen(&cenv.parent, PROC_PARENT, -1);
	proc_log_attach(&cenv.parent);

	for (i = 0; i < npeers; i++) {
		if ((iev = calloc(1, sizeof(*iev))) == NULL)
			fatal("calloc");
		(void)proc_label(peers[i].role, peers[i].instance, name,
		    sizeof(name));
		if ((pname = strdup(name)) == NULL)
			fatal("strdup");
		if (imsgev_init(iev, cenv.base, fds[i], pname,
		    proc_peer_closed, &cenv) == -1)
			fatal("imsgev_init");
		proc_listen(iev, peers[i].role, peers[i].instance);
		switch (peers[i].role) {
		case PROC_CRYPTO:
			cenv.crypto = iev;
			break;
		case PROC_NETWORK:
			cenv.network[iev->id] = iev;
			break;
		case PROC_STORAGE:
			cenv.storage[iev->id] = iev;
			break;
		default:
			break;
		}
	}

	procs[role]->start(&cenv);
	proc_sandbox(&cenv.init, procs[role]);

	if (proc_compose(PROC_PARENT, -1, IMSG_CHILD_HELLO, 0, -1, NULL,
	    0) == -1)
		fatalx("parent went away");
	log_debug("privileges dropped, running as %s", cenv.init.user);
	if (event_base_dispatch(cenv.base) == -1)
		fatalx("event_base_dispatch failed");
	exit(0);
}

/*
 * Read the start-up series synchronously: nothing else can happen
 * before we know who we are.  The parent sends nothing more until our
 * hello, so no later message is left in the buffer we throw away.
 */
static void
proc_read_init(struct child_env *env, int *fds, struct proc_peer *peers,
    int *npeers)
{
	struct imsgbuf	 ib;
	struct imsg	 imsg;
	struct pollfd	 pfd;
	int		 n, done = 0, have_init = 0;

	*npeers = 0;
	env->shmfd = -1;
	if (fcntl(PARENT_SOCK_FILENO, F_SETFD, FD_CLOEXEC) == -1)
		fatal("parent socket");
	if (imsgbuf_init(&ib, PARENT_SOCK_FILENO) == -1)
		fatal("imsgbuf_init");
	imsgbuf_allow_fdpass(&ib);
	while (!done) {
		pfd.fd = PARENT_SOCK_FILENO;
		pfd.events = POLLIN;
		if (poll(&pfd, 1, -1) == -1) {
			if (errno == EINTR)
				continue;
			fatal("poll");
		}
		if ((n = imsgbuf_read(&ib)) == -1)
			fatal("read from parent");
		if (n == 0)
			fatalx("parent went away during start-up");
		while (!done) {
			if ((n = imsg_get(&ib, &imsg)) == -1)
				fatal("imsg_get");
			if (n == 0)
				break;
			switch (imsg.hdr.type) {
			case IMSG_INIT:
				if (have_init ||
				    proc_init_get(&imsg, &env->init) == -1)
					fatalx("bad IMSG_INIT");
				have_init = 1;
				break;
			case IMSG_INIT_PEER:
				if (*npeers >= MAX_PEERS)
					fatalx("too many peers");
				fds[*npeers] = proc_take_peer(&imsg,
				    &peers[*npeers]);
				(*npeers)++;
				break;
			case IMSG_INIT_SHM:
				if (env->shmfd != -1 ||
				    (env->shmfd = imsg_get_fd(&imsg)) == -1)
					fatalx("bad IMSG_INIT_SHM");
				break;
			case IMSG_INIT_END:
				done = 1;
				break;
			default:
				fatalx("unexpected %s during start-up",
				    imsg_name(imsg.hdr.type));
			}
			imsg_free(&imsg);
		}
	}
	if (!have_init)
		fatalx("no identity from parent");
	imsgbuf_clear(&ib);
}

/*
 * One peer channel offered in the start-up series: its socket.  A peer
 * our role's table does not name is refused: the parent never offers
 * one, so an offer means something is wrong.
 */
static int
proc_take_peer(struct imsg *imsg, struct proc_peer *peer)
{
	char	 name[48];
	int	 fd;

	if (proc_peer_get(imsg, peer) == -1 || peer->role <= PROC_PARENT ||
	    peer->role >= PROC_MAX || peer->instance >= MAX_WORKERS)
		fatalx("bad IMSG_INIT_PEER");
	if (!proc_talks(proc_self, peer->role))
		fatalx("parent offered a channel to %s, which is not in %s's "
		    "peer table", proc_label(peer->role, peer->instance, name,
		    sizeof(name)), proc_name(proc_self));
	if ((fd = imsg_get_fd(imsg)) == -1)
		fatalx("IMSG_INIT_PEER without fd");
	return fd;
}

static void
proc_sigterm(int sig, short event, void *arg)
{
	exit(0);
}

static void
proc_parent_closed(struct imsgev *iev, const char *why)
{
	/* The parent is gone or broke the protocol: nothing left to do. */
	if (why != NULL)
		fatalx("channel to parent: %s", why);
	exit(0);
}

/*
 * A peer that breaks the protocol takes the daemon down with it.  One
 * that closes its channel is dead or stopping: the parent reaps it and
 * takes the daemon down, and exiting here as well would race with that
 * and could make the parent report the wrong process, so the channel
 * is only dropped.
 */
static void
proc_peer_closed(struct imsgev *iev, const char *why)
{
	int	 slot = iev->id;

	if (why != NULL)
		fatalx("channel to %s: %s", iev->name, why);
	log_debug("peer %s closed its channel", iev->name);
	if (cenv.peer_gone != NULL)
		cenv.peer_gone(&cenv, iev);
	if (chans[iev->kind][slot] == iev)
		chans[iev->kind][slot] = NULL;
	if (cenv.crypto == iev)
		cenv.crypto = NULL;
	if (cenv.network[slot] == iev)
		cenv.network[slot] = NULL;
	if (cenv.storage[slot] == iev)
		cenv.storage[slot] = NULL;
	imsgev_clear(iev);
	free((char *)iev->name);
	free(iev);
}

void
proc_counter(struct ctl_counter *cc, size_t *n, size_t max,
    const char *name, uint64_t value)
{
	if (*n >= max)
		return;
	memset(&cc[*n], 0, sizeof(cc[*n]));
	(void)strlcpy(cc[*n].name, name, sizeof(cc[*n].name));
	cc[*n].value = value;
	(*n)++;
}

static void
proc_dispatch_stats_req(struct imsgev *iev, struct imsg *imsg)
{
	struct ctl_counter	 cc[64];
	size_t			 n = 0;

	if (imsg->datalen != 0)
		msg_bad(iev, imsg, __func__);
	if (cenv.stats != NULL)
		n = cenv.stats(&cenv, cc, sizeof(cc) / sizeof(cc[0]));
	if (n > 0)
		(void)proc_compose(PROC_PARENT, -1, IMSG_STATS,
		    imsg->hdr.peerid, -1, cc, n * sizeof(cc[0]));
	(void)proc_compose(PROC_PARENT, -1, IMSG_STATS_END, imsg->hdr.peerid,
	    -1, NULL, 0);
}

static void
proc_dispatch_verbose(struct imsgev *iev, struct imsg *imsg)
{
	int32_t	 v;

	if (imsg_get_data(imsg, &v, sizeof(v)) == -1)
		msg_bad(iev, imsg, __func__);
	log_setverbose(v);
}
