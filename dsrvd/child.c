/*
 * What every child does before its own work: read its identity and peer
 * channels from the parent, drop privileges for good, then run the
 * configuration series and counters requests for its role.
 *
 * Peers of every child: the parent (IMSG_CONF_*, IMSG_STATS_REQ,
 * IMSG_VERBOSE, and whatever the role adds).  Losing the parent or any
 * peer ends the child: the parent then takes the daemon down.
 */
#include <sys/types.h>
#include <sys/prctl.h>
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
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

static void	 child_read_init(struct child_env *, int *, struct proc_peer *,
		    int *);
static void	 child_drop_privileges(struct child_env *);
static void	 child_dispatch_conf_start(struct imsgev *, struct imsg *);
static void	 child_dispatch_conf_listen(struct imsgev *, struct imsg *);
static void	 child_dispatch_conf_control(struct imsgev *, struct imsg *);
static void	 child_dispatch_conf_key(struct imsgev *, struct imsg *);
static void	 child_dispatch_conf_end(struct imsgev *, struct imsg *);
static void	 child_dispatch_stats_req(struct imsgev *, struct imsg *);
static void	 child_dispatch_verbose(struct imsgev *, struct imsg *);
static void	 child_parent_closed(struct imsgev *, const char *);
static void	 child_peer_closed(struct imsgev *, const char *);
static void	 child_sigterm(int, short, void *);
static void	 child_conf_free(struct dsrvd_conf *);

#define MAX_PEERS	(2 * MAX_WORKERS + 1)

static struct child_env	 cenv;

__attribute__((__noreturn__)) void
child_main(enum proc_role role, int instance, int debug, int verbose)
{
	struct proc_peer	 peers[MAX_PEERS];
	struct imsgev		*iev;
	struct event		*ev_term;
	char			 label[32], name[48], *pname;
	int			 fds[MAX_PEERS], npeers, i;

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

	child_read_init(&cenv, fds, peers, &npeers);
	if (cenv.init.role != (int)role || cenv.init.instance != instance)
		fatalx("parent sent the identity of another process");
	child_drop_privileges(&cenv);

	if ((cenv.base = event_base_new()) == NULL)
		fatalx("event_base_new failed");
	if ((ev_term = evsignal_new(cenv.base, SIGTERM, child_sigterm,
	    NULL)) == NULL || evsignal_add(ev_term, NULL) == -1)
		fatalx("evsignal failed");

	if (imsgev_init(&cenv.parent, cenv.base, PARENT_SOCK_FILENO, "parent",
	    child_parent_closed, &cenv) == -1)
		fatal("imsgev_init");
	imsgev_allow_fdpass(&cenv.parent);
	imsgev_on(&cenv.parent, IMSG_CONF_START, child_dispatch_conf_start);
	imsgev_on(&cenv.parent, IMSG_CONF_LISTEN, child_dispatch_conf_listen);
	imsgev_on(&cenv.parent, IMSG_CONF_CONTROL,
	    child_dispatch_conf_control);
	imsgev_on(&cenv.parent, IMSG_CONF_KEY, child_dispatch_conf_key);
	imsgev_on(&cenv.parent, IMSG_CONF_END, child_dispatch_conf_end);
	imsgev_on(&cenv.parent, IMSG_STATS_REQ, child_dispatch_stats_req);
	imsgev_on(&cenv.parent, IMSG_VERBOSE, child_dispatch_verbose);

	for (i = 0; i < npeers; i++) {
		if ((iev = calloc(1, sizeof(*iev))) == NULL)
			fatal("calloc");
		(void)proc_label(peers[i].role, peers[i].instance, name,
		    sizeof(name));
		if ((pname = strdup(name)) == NULL)
			fatal("strdup");
		if (imsgev_init(iev, cenv.base, fds[i], pname,
		    child_peer_closed, &cenv) == -1)
			fatal("imsgev_init");
		iev->id = peers[i].instance < 0 ? 0 : peers[i].instance;
		switch (peers[i].role) {
		case PROC_CRYPTO:
			cenv.crypto = iev;
			break;
		case PROC_NETWORK:
			cenv.network[iev->id] = iev;
			break;
		case PROC_STORAGE:
			imsgev_allow_fdpass(iev);
			cenv.storage[iev->id] = iev;
			break;
		default:
			fatalx("bad peer role %d", peers[i].role);
		}
		if (role == PROC_STORAGE)
			imsgev_allow_fdpass(iev);
	}

	switch (role) {
	case PROC_NETWORK:
		network_start(&cenv);
		break;
	case PROC_CRYPTO:
		crypto_start(&cenv);
		break;
	case PROC_STORAGE:
		storage_start(&cenv);
		break;
	default:
		fatalx("bad role %d", role);
	}

	if (imsgev_compose(&cenv.parent, IMSG_CHILD_HELLO, 0, 0, -1, NULL,
	    0) == -1)
		fatal("compose");
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
child_read_init(struct child_env *env, int *fds, struct proc_peer *peers,
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
				if (imsg_get_data(&imsg, &env->init,
				    sizeof(env->init)) == -1)
					fatalx("bad IMSG_INIT");
				env->init.chroot[sizeof(env->init.chroot) - 1] =
				    '\0';
				env->init.user[sizeof(env->init.user) - 1] =
				    '\0';
				have_init = 1;
				break;
			case IMSG_INIT_PEER:
				if (*npeers >= MAX_PEERS)
					fatalx("too many peers");
				if (imsg_get_data(&imsg, &peers[*npeers],
				    sizeof(peers[0])) == -1)
					fatalx("bad IMSG_INIT_PEER");
				if (peers[*npeers].instance >= MAX_WORKERS)
					fatalx("bad peer instance");
				if ((fds[*npeers] = imsg_get_fd(&imsg)) == -1)
					fatalx("IMSG_INIT_PEER without fd");
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
				fatalx("unexpected message %u during start-up",
				    imsg.hdr.type);
			}
			imsg_free(&imsg);
		}
	}
	if (!have_init)
		fatalx("no identity from parent");
	imsgbuf_clear(&ib);
}

/*
 * The fixed order: check the chroot, chroot, set the title, then drop
 * groups, gid and uid for good, and forbid gaining privileges again.
 */
static void
child_drop_privileges(struct child_env *env)
{
	struct proc_init	*in = &env->init;
	struct stat		 st;
	uid_t			 r, e, s;
	gid_t			 rg, eg, sg;

	tzset();
	if (stat(in->chroot, &st) == -1)
		fatal("chroot directory %s", in->chroot);
	if (in->role == PROC_STORAGE) {
		if (st.st_uid != in->uid || (st.st_mode & 077) != 0)
			fatalx("data directory %s must be owned by %s and "
			    "reachable by no one else", in->chroot, in->user);
	} else if (st.st_uid != 0 || (st.st_mode & (S_IWGRP | S_IWOTH)))
		fatalx("chroot directory %s must be owned by root and not "
		    "writable by group or others", in->chroot);
	if (chroot(in->chroot) == -1)
		fatal("chroot %s", in->chroot);
	if (chdir("/") == -1)
		fatal("chdir /");

	setproctitle("%s", proc_names[in->role]);

	if (setgroups(1, &in->gid) == -1)
		fatal("setgroups");
	if (setresgid(in->gid, in->gid, in->gid) == -1)
		fatal("setresgid");
	if (setresuid(in->uid, in->uid, in->uid) == -1)
		fatal("setresuid");
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) == -1)
		fatal("prctl no_new_privs");

	if (getresuid(&r, &e, &s) == -1 || getresgid(&rg, &eg, &sg) == -1)
		fatal("getresuid");
	if (r != in->uid || e != in->uid || s != in->uid ||
	    rg != in->gid || eg != in->gid || sg != in->gid)
		fatalx("privileges were not dropped");
	if (setuid(0) != -1)
		fatalx("could regain root");
}

static void
child_sigterm(int sig, short event, void *arg)
{
	exit(0);
}

static void
child_parent_closed(struct imsgev *iev, const char *why)
{
	/* The parent is gone or broke the protocol: nothing left to do. */
	if (why != NULL)
		fatalx("parent channel: %s", why);
	exit(0);
}

/*
 * A peer that goes away is dead or broken: the parent reaps it and takes
 * the daemon down.  Exiting here as well would race with that and could
 * make the parent report the wrong process, so only drop the channel.
 */
static void
child_peer_closed(struct imsgev *iev, const char *why)
{
	int	 i;

	if (why != NULL)
		log_warnx("peer %s: %s", iev->name, why);
	else
		log_debug("peer %s closed its channel", iev->name);
	if (cenv.peer_gone != NULL)
		cenv.peer_gone(&cenv, iev);
	if (cenv.crypto == iev)
		cenv.crypto = NULL;
	for (i = 0; i < MAX_WORKERS; i++) {
		if (cenv.network[i] == iev)
			cenv.network[i] = NULL;
		if (cenv.storage[i] == iev)
			cenv.storage[i] = NULL;
	}
	imsgev_clear(iev);
	free((char *)iev->name);
	free(iev);
}

static void
child_conf_free(struct dsrvd_conf *conf)
{
	struct listen_addr	*la;

	if (conf == NULL)
		return;
	TAILQ_FOREACH(la, &conf->listens, entry)
		if (la->fd != -1) {
			(void)close(la->fd);
			la->fd = -1;
		}
	config_free(conf);
}

static void
child_dispatch_conf_start(struct imsgev *iev, struct imsg *imsg)
{
	struct dsrvd_conf	*conf;

	if (cenv.newconf != NULL)
		fatalx("%s: configuration series already open", __func__);
	if ((conf = config_new()) == NULL)
		fatal("%s", __func__);
	if (imsg_get_data(imsg, conf, sizeof(*conf)) == -1)
		fatalx("%s: bad size %zu", __func__, imsg->datalen);
	TAILQ_INIT(&conf->listens);
	TAILQ_INIT(&conf->keys);
	TAILQ_INIT(&conf->servers);
	conf->datadir[sizeof(conf->datadir) - 1] = '\0';
	conf->chroot[sizeof(conf->chroot) - 1] = '\0';
	conf->csock[sizeof(conf->csock) - 1] = '\0';
	conf->user[sizeof(conf->user) - 1] = '\0';
	conf->storage_user[sizeof(conf->storage_user) - 1] = '\0';
	cenv.newconf = conf;
}

static void
child_dispatch_conf_listen(struct imsgev *iev, struct imsg *imsg)
{
	struct listen_addr	*la;
	int			 fd;

	if (cenv.newconf == NULL || cenv.init.role != PROC_NETWORK)
		fatalx("%s: unexpected", __func__);
	if ((fd = imsg_get_fd(imsg)) == -1)
		fatalx("%s: no socket", __func__);
	if ((la = calloc(1, sizeof(*la))) == NULL)
		fatal("%s", __func__);
	if (imsg_get_data(imsg, la, sizeof(*la)) == -1)
		fatalx("%s: bad size %zu", __func__, imsg->datalen);
	la->name[sizeof(la->name) - 1] = '\0';
	la->fd = fd;
	TAILQ_INSERT_TAIL(&cenv.newconf->listens, la, entry);
}

static void
child_dispatch_conf_control(struct imsgev *iev, struct imsg *imsg)
{
	int	 fd;

	if (cenv.init.role != PROC_NETWORK || cenv.init.instance != 0 ||
	    cenv.control_fd == NULL)
		fatalx("%s: unexpected", __func__);
	if ((fd = imsg_get_fd(imsg)) == -1)
		fatalx("%s: no socket", __func__);
	cenv.control_fd(&cenv, fd);
}

static void
child_dispatch_conf_key(struct imsgev *iev, struct imsg *imsg)
{
	struct conf_key	*k;

	if (cenv.newconf == NULL || cenv.init.role != PROC_CRYPTO)
		fatalx("%s: unexpected", __func__);
	if ((k = calloc(1, sizeof(*k))) == NULL)
		fatal("%s", __func__);
	if (imsg_get_data(imsg, k, sizeof(*k)) == -1)
		fatalx("%s: bad size %zu", __func__, imsg->datalen);
	/* The received copy dies with imsg_free(); wipe it now. */
	explicit_bzero(imsg->data, imsg->datalen);
	k->name[sizeof(k->name) - 1] = '\0';
	k->path[sizeof(k->path) - 1] = '\0';
	k->ns[sizeof(k->ns) - 1] = '\0';
	TAILQ_INSERT_TAIL(&cenv.newconf->keys, k, entry);
}

static void
child_dispatch_conf_end(struct imsgev *iev, struct imsg *imsg)
{
	struct dsrvd_conf	*old;

	if (cenv.newconf == NULL)
		fatalx("%s: no configuration series open", __func__);
	old = cenv.conf;
	cenv.conf = cenv.newconf;
	cenv.newconf = NULL;
	if (cenv.conf_apply != NULL)
		cenv.conf_apply(&cenv, old);
	child_conf_free(old);
	if (!cenv.ready) {
		cenv.ready = 1;
		if (imsgev_compose(&cenv.parent, IMSG_CHILD_READY, 0, 0, -1,
		    NULL, 0) == -1)
			fatal("compose");
	}
}

void
child_counter(struct ctl_counter *cc, size_t *n, size_t max,
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
child_dispatch_stats_req(struct imsgev *iev, struct imsg *imsg)
{
	struct ctl_counter	 cc[64];
	size_t			 n = 0;

	if (cenv.stats != NULL)
		n = cenv.stats(&cenv, cc, sizeof(cc) / sizeof(cc[0]));
	if (n > 0 && imsgev_compose(&cenv.parent, IMSG_STATS,
	    imsg->hdr.peerid, 0, -1, cc, n * sizeof(cc[0])) == -1)
		fatal("compose");
	if (imsgev_compose(&cenv.parent, IMSG_STATS_END, imsg->hdr.peerid, 0,
	    -1, NULL, 0) == -1)
		fatal("compose");
}

static void
child_dispatch_verbose(struct imsgev *iev, struct imsg *imsg)
{
	int32_t	 v;

	if (imsg_get_data(imsg, &v, sizeof(v)) == -1)
		fatalx("%s: bad size", __func__);
	log_setverbose(v);
}
