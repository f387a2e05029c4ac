/*
 * The parent: it runs as root, reads the configuration, opens what the
 * children cannot open themselves (listening sockets, the control
 * socket, key files), starts the children (proc.c), pushes the
 * configuration (config.c), then serves reloads, status requests and
 * signals until a child is lost or it is told to stop.  It does no
 * network I/O and never touches chunk data; it seals committed chunks
 * (parent_seal.c).
 *
 * Peers: every child.  Each sends IMSG_CHILD_HELLO, IMSG_CHILD_READY
 * and the counters for dctl status; storage asks for seals and reports
 * flush failures and scrub results; network 0 forwards dctl's control
 * requests (IMSG_CTL_*).
 */
#include <sys/types.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "parent.h"

static void	 parent_dispatch_child_hello(struct imsgev *, struct imsg *);
static void	 parent_dispatch_child_ready(struct imsgev *, struct imsg *);
static void	 parent_dispatch_stats(struct imsgev *, struct imsg *);
static void	 parent_dispatch_stats_end(struct imsgev *, struct imsg *);
static void	 parent_dispatch_ctl_status(struct imsgev *, struct imsg *);
static void	 parent_dispatch_ctl_reload(struct imsgev *, struct imsg *);
static void	 parent_dispatch_ctl_verbose(struct imsgev *, struct imsg *);
static void	 parent_dispatch_ctl_scrub(struct imsgev *, struct imsg *);
static void	 parent_dispatch_scrub_result(struct imsgev *, struct imsg *);
static void	 parent_child_closed(struct imsgev *, const char *);

static void	 parent_sig(int, short, void *);
static void	 parent_sigchld(int, short, void *);
static void	 parent_shutdown(int) __attribute__((__noreturn__));
static void	 parent_fork_children(void);
static void	 parent_send_init(void);
static int	 parent_reload(char *, size_t);
static int	 parent_open_listens(struct dsrvd_conf *, struct dsrvd_conf *,
		    char *, size_t);
static void	 parent_wipe_keys(struct dsrvd_conf *);
static void	 parent_ctl_result(uint32_t, int, const char *, ...)
		    __attribute__((__format__ (printf, 3, 4)));
static void	 parent_from_control(struct imsgev *, struct imsg *,
		    const char *);
static void	 status_finish(struct status_req *);
static void	 status_timeout(int, short, void *);
static void	 write_pidfile(void);
static void	 parent_atexit(void);

/* What the parent takes from each child. */
static const struct proc_msg parent_msgs[] = {
	{ PROC_NETWORK,	IMSG_CHILD_HELLO, PROC_NOFD, parent_dispatch_child_hello },
	{ PROC_NETWORK,	IMSG_CHILD_READY, PROC_NOFD, parent_dispatch_child_ready },
	{ PROC_NETWORK,	IMSG_STATS,	PROC_NOFD, parent_dispatch_stats },
	{ PROC_NETWORK,	IMSG_STATS_END,	PROC_NOFD, parent_dispatch_stats_end },
	{ PROC_NETWORK,	IMSG_CTL_STATUS, PROC_NOFD, parent_dispatch_ctl_status },
	{ PROC_NETWORK,	IMSG_CTL_RELOAD, PROC_NOFD, parent_dispatch_ctl_reload },
	{ PROC_NETWORK,	IMSG_CTL_LOG_VERBOSE, PROC_NOFD,
	    parent_dispatch_ctl_verbose },
	{ PROC_NETWORK,	IMSG_CTL_SCRUB,	PROC_NOFD, parent_dispatch_ctl_scrub },

	{ PROC_CRYPTO,	IMSG_CHILD_HELLO, PROC_NOFD, parent_dispatch_child_hello },
	{ PROC_CRYPTO,	IMSG_CHILD_READY, PROC_NOFD, parent_dispatch_child_ready },
	{ PROC_CRYPTO,	IMSG_STATS,	PROC_NOFD, parent_dispatch_stats },
	{ PROC_CRYPTO,	IMSG_STATS_END,	PROC_NOFD, parent_dispatch_stats_end },

	{ PROC_STORAGE,	IMSG_CHILD_HELLO, PROC_NOFD, parent_dispatch_child_hello },
	{ PROC_STORAGE,	IMSG_CHILD_READY, PROC_NOFD, parent_dispatch_child_ready },
	{ PROC_STORAGE,	IMSG_STATS,	PROC_NOFD, parent_dispatch_stats },
	{ PROC_STORAGE,	IMSG_STATS_END,	PROC_NOFD, parent_dispatch_stats_end },
	{ PROC_STORAGE,	IMSG_ST_SEAL,	PROC_FD,   seal_dispatch_seal },
	{ PROC_STORAGE,	IMSG_ST_FLUSHFAIL, PROC_NOFD, seal_dispatch_flushfail },
	{ PROC_STORAGE,	IMSG_ST_SCRUB_RESULT, PROC_NOFD,
	    parent_dispatch_scrub_result },
};

const struct proc_def parent_proc = {
	.role = PROC_PARENT,
	.name = "parent",
	.msgs = parent_msgs,
	.nmsgs = sizeof(parent_msgs) / sizeof(parent_msgs[0]),
};

struct parent	 penv;

__attribute__((__noreturn__)) void
parent_run(void)
{
	struct dsrvd_conf	*conf;
	struct stat		 st;
	char			 err[1024];

	if (stat(penv.conffile, &st) == -1 && errno == ENOENT)
		penv.conf_missing = 1;
	conf = parse_config(penv.conffile, CONF_SERVER | CONF_OPTIONAL);
	if (conf == NULL)
		exit(1);
	if (penv.conf_missing)
		log_info("%s not found, running on built-in defaults",
		    penv.conffile);
	penv.conf = conf;

	/*
	 * From here on, log lines go to syslog unless -d; start-up errors
	 * still reach the terminal through errx_exit().
	 */
	log_init(penv.debug, LOG_DAEMON);
	log_setverbose(penv.verbose);

	if (lookup_user(conf->user, &penv.uid, &penv.gid, err,
	    sizeof(err)) == -1 ||
	    lookup_user(conf->storage_user, &penv.suid, &penv.sgid, err,
	    sizeof(err)) == -1)
		errx_exit("%s", err);
	if (penv.uid == penv.suid)
		errx_exit("user %s and storage user %s must be different "
		    "users", conf->user, conf->storage_user);
	if (check_chroot(conf->chroot, err, sizeof(err)) == -1 ||
	    check_datadir(conf, penv.suid, penv.sgid, err, sizeof(err)) == -1 ||
	    seal_probe(conf, penv.suid, penv.sgid, err, sizeof(err)) == -1)
		errx_exit("%s", err);
	if (parent_open_listens(conf, NULL, err, sizeof(err)) == -1)
		errx_exit("%s", err);
	if ((penv.csock = control_open(conf->csock, err, sizeof(err))) == -1)
		errx_exit("%s", err);

	/* Past this point nothing goes to the terminal. */
	if (!penv.debug && daemon(1, 0) == -1) {
		(void)unlink(conf->csock);
		errx_exit("daemon: %s", strerror(errno));
	}
	penv.started = 1;
	if (atexit(parent_atexit) != 0)
		fatalx("atexit failed");
	if (clock_gettime(CLOCK_MONOTONIC, &penv.start) == -1)
		fatal("clock_gettime");
	write_pidfile();

	if (signal(SIGPIPE, SIG_IGN) == SIG_ERR)
		fatal("signal");
	TAILQ_INIT(&penv.status_reqs);
	if ((penv.base = event_base_new()) == NULL)
		fatalx("event_base_new failed");
	penv.ev_sigterm = evsignal_new(penv.base, SIGTERM, parent_sig, NULL);
	penv.ev_sigint = evsignal_new(penv.base, SIGINT, parent_sig, NULL);
	penv.ev_sighup = evsignal_new(penv.base, SIGHUP, parent_sig, NULL);
	penv.ev_sigchld = evsignal_new(penv.base, SIGCHLD, parent_sigchld,
	    NULL);
	if (penv.ev_sigterm == NULL || penv.ev_sigint == NULL ||
	    penv.ev_sighup == NULL || penv.ev_sigchld == NULL)
		fatalx("evsignal_new failed");
	if (evsignal_add(penv.ev_sigterm, NULL) == -1 ||
	    evsignal_add(penv.ev_sigint, NULL) == -1 ||
	    evsignal_add(penv.ev_sighup, NULL) == -1 ||
	    evsignal_add(penv.ev_sigchld, NULL) == -1)
		fatalx("evsignal_add failed");

	parent_fork_children();
	parent_send_init();

	if (event_base_dispatch(penv.base) == -1)
		fatalx("event_base_dispatch failed");
	parent_shutdown(1);
}

/*
 * However the parent ends (a fatal error included), the socket and the
 * pid file go with it; the children end when their channel closes.
 */
static void
parent_atexit(void)
{
	if (penv.conf != NULL)
		(void)unlink(penv.conf->csock);
	if (penv.pidfile != NULL)
		(void)unlink(penv.pidfile);
}

static void
write_pidfile(void)
{
	FILE	*fp;

	if (penv.pidfile == NULL)
		return;
	if ((fp = fopen(penv.pidfile, "we")) == NULL)
		fatal("pid file %s", penv.pidfile);
	if (fprintf(fp, "%ld\n", (long)getpid()) < 0 || fclose(fp) == EOF)
		fatal("pid file %s", penv.pidfile);
}

static int
same_addr(const struct listen_addr *a, const struct listen_addr *b)
{
	return a->sslen == b->sslen && a->port == b->port &&
	    memcmp(&a->ss, &b->ss, a->sslen) == 0;
}

/*
 * Open a socket for every listen address of conf, taking over the
 * socket of an identical address in old (at reload).  On failure all
 * that this call opened is closed again and old is untouched.
 */
static int
parent_open_listens(struct dsrvd_conf *conf, struct dsrvd_conf *old,
    char *err, size_t errlen)
{
	struct listen_addr	*la, *ola;

	TAILQ_FOREACH(la, &conf->listens, entry) {
		la->fd = -1;
		if (old != NULL) {
			TAILQ_FOREACH(ola, &old->listens, entry)
				if (ola->fd != -1 && same_addr(la, ola))
					break;
			if (ola != NULL)
				continue;	/* taken below, on success */
		}
		if ((la->fd = listen_open(la, err, errlen)) == -1)
			goto fail;
	}
	if (old != NULL) {
		TAILQ_FOREACH(la, &conf->listens, entry) {
			if (la->fd != -1)
				continue;
			TAILQ_FOREACH(ola, &old->listens, entry)
				if (ola->fd != -1 && same_addr(la, ola))
					break;
			la->fd = ola->fd;
			ola->fd = -1;
		}
		TAILQ_FOREACH(ola, &old->listens, entry) {
			if (ola->fd != -1)
				(void)close(ola->fd);
			ola->fd = -1;
		}
	}
	return 0;
 fail:
	TAILQ_FOREACH(la, &conf->listens, entry) {
		if (la->fd != -1)
			(void)close(la->fd);
		la->fd = -1;
	}
	return -1;
}

static void
parent_fork_children(void)
{
	int	 i;

	for (i = 0; i < penv.conf->nnetwork; i++)
		(void)proc_fork(penv.argv0, PROC_NETWORK, i, penv.debug,
		    penv.verbose, parent_child_closed, penv.base);
	(void)proc_fork(penv.argv0, PROC_CRYPTO, -1, penv.debug, penv.verbose,
	    parent_child_closed, penv.base);
	for (i = 0; i < penv.conf->nstorage; i++)
		(void)proc_fork(penv.argv0, PROC_STORAGE, i, penv.debug,
		    penv.verbose, parent_child_closed, penv.base);
}

/*
 * The start-up series, read by each child before it drops privileges:
 * who it is, its peer channels, and for network the shared counters.
 */
static void
parent_send_init(void)
{
	struct proc_init	 init;
	struct proc_child	*a;
	int			 i, shm, fd;

	for (i = 0; i < proc_nchildren; i++) {
		a = &proc_children[i];
		memset(&init, 0, sizeof(init));
		init.role = a->role;
		init.instance = a->instance;
		init.nnetwork = penv.conf->nnetwork;
		init.nstorage = penv.conf->nstorage;
		init.debug = penv.debug;
		init.verbose = penv.verbose;
		init.immutable = seal_immutable();
		if (a->role == PROC_STORAGE) {
			init.uid = penv.suid;
			init.gid = penv.sgid;
			(void)strlcpy(init.chroot, penv.conf->datadir,
			    sizeof(init.chroot));
			(void)strlcpy(init.user, penv.conf->storage_user,
			    sizeof(init.user));
		} else {
			init.uid = penv.uid;
			init.gid = penv.gid;
			(void)strlcpy(init.chroot, penv.conf->chroot,
			    sizeof(init.chroot));
			(void)strlcpy(init.user, penv.conf->user,
			    sizeof(init.user));
		}
		(void)proc_compose(a->role, a->instance, IMSG_INIT, 0, -1,
		    &init, sizeof(init));
	}

	proc_connect_peers();

	/* One page of counters shared by the network workers. */
	if ((shm = memfd_create("dsrvd-shared", MFD_CLOEXEC)) == -1)
		fatal("memfd_create");
	if (ftruncate(shm, sizeof(struct shared_counters)) == -1)
		fatal("ftruncate");
	for (i = 0; i < proc_nchildren; i++) {
		a = &proc_children[i];
		if (a->role != PROC_NETWORK)
			continue;
		if ((fd = fcntl(shm, F_DUPFD_CLOEXEC, 0)) == -1)
			fatal("%s: dup", __func__);
		(void)proc_compose(a->role, a->instance, IMSG_INIT_SHM, 0, fd,
		    NULL, 0);
	}
	(void)close(shm);

	for (i = 0; i < proc_nchildren; i++)
		(void)proc_compose(proc_children[i].role,
		    proc_children[i].instance, IMSG_INIT_END, 0, -1, NULL, 0);
}

/* Once crypto has them, the parent keeps no key material. */
static void
parent_wipe_keys(struct dsrvd_conf *conf)
{
	struct conf_key	*k;

	TAILQ_FOREACH(k, &conf->keys, entry) {
		explicit_bzero(k->key, sizeof(k->key));
		k->loaded = 0;
	}
}

static void
parent_dispatch_child_hello(struct imsgev *iev, struct imsg *imsg)
{
	struct proc_child	*c = iev->arg;
	int			 i;

	if (imsg->datalen != 0)
		msg_bad(iev, imsg, __func__);
	if (c->hello)
		fatalx("%s: second hello", c->label);
	c->hello = 1;
	for (i = 0; i < proc_nchildren; i++)
		if (!proc_children[i].hello)
			return;
	/* Every child has dropped its privileges: configure them. */
	for (i = 0; i < proc_nchildren; i++)
		config_send(&proc_children[i], penv.conf, penv.csock, 1);
	parent_wipe_keys(penv.conf);
}

static void
parent_dispatch_child_ready(struct imsgev *iev, struct imsg *imsg)
{
	struct proc_child	*c = iev->arg;
	struct listen_addr	*la;
	char			 buf[1024], addr[300];

	if (imsg->datalen != 0)
		msg_bad(iev, imsg, __func__);
	if (c->ready)
		fatalx("%s: second ready", c->label);
	c->ready = 1;
	if (++penv.nready < proc_nchildren)
		return;
	buf[0] = '\0';
	TAILQ_FOREACH(la, &penv.conf->listens, entry) {
		if (buf[0] != '\0')
			(void)strlcat(buf, ", ", sizeof(buf));
		(void)strlcat(buf, listen_addr_str(la, addr, sizeof(addr)),
		    sizeof(buf));
	}
	log_info("startup: %d network, %d storage workers, listening on %s",
	    penv.conf->nnetwork, penv.conf->nstorage, buf);
}

static void
parent_child_closed(struct imsgev *iev, const char *why)
{
	struct proc_child	*c = iev->arg;

	/* The exit itself is reported when the child is reaped. */
	if (!penv.terminating && why != NULL)
		log_warnx("parent: channel to %s: %s", c->label, why);
	imsgev_clear(iev);
	if (!penv.terminating && why != NULL)
		parent_shutdown(1);
}

static void
parent_sig(int sig, short event, void *arg)
{
	char	 err[256];

	switch (sig) {
	case SIGTERM:
	case SIGINT:
		log_info("received %s, terminating",
		    sig == SIGTERM ? "SIGTERM" : "SIGINT");
		parent_shutdown(0);
	case SIGHUP:
		log_info("received SIGHUP, reloading %s", penv.conffile);
		(void)parent_reload(err, sizeof(err));
		break;
	}
}

static void
parent_sigchld(int sig, short event, void *arg)
{
	struct proc_child	*c;
	pid_t			 pid;
	int			 status, i;
	char			 how[64];

	for (;;) {
		pid = waitpid(-1, &status, WNOHANG);
		if (pid == 0)
			return;
		if (pid == -1) {
			if (errno == EINTR)
				continue;
			if (errno != ECHILD)
				log_warn("waitpid");
			return;
		}
		c = NULL;
		for (i = 0; i < proc_nchildren; i++)
			if (proc_children[i].pid == pid)
				c = &proc_children[i];
		if (c == NULL)
			continue;
		c->alive = 0;
		if (WIFSIGNALED(status))
			(void)snprintf(how, sizeof(how),
			    "terminated by signal %d", WTERMSIG(status));
		else
			(void)snprintf(how, sizeof(how),
			    "exited with status %d", WEXITSTATUS(status));
		if (!penv.terminating) {
			log_warnx("lost child: %s (pid %ld) %s", c->label,
			    (long)pid, how);
			parent_shutdown(1);
		}
	}
}

/*
 * Stop every child, give them a few seconds, then make sure.  Nothing
 * of the daemon outlives the parent.
 */
static void
parent_shutdown(int status)
{
	struct timespec		 ts = { 0, 50 * 1000 * 1000 };
	struct proc_child	*c;
	pid_t			 pid;
	int			 i, left, tries, wstatus;

	penv.terminating = 1;
	for (i = 0; i < proc_nchildren; i++) {
		c = &proc_children[i];
		if (c->alive && kill(c->pid, SIGTERM) == -1 && errno != ESRCH)
			log_warn("kill %s", c->label);
	}
	for (tries = 0; ; tries++) {
		while ((pid = waitpid(-1, &wstatus, WNOHANG)) > 0)
			for (i = 0; i < proc_nchildren; i++)
				if (proc_children[i].pid == pid)
					proc_children[i].alive = 0;
		if (pid == -1 && errno != ECHILD && errno != EINTR)
			log_warn("waitpid");
		for (left = 0, i = 0; i < proc_nchildren; i++)
			left += proc_children[i].alive;
		if (left == 0 || (pid == -1 && errno == ECHILD))
			break;
		if (tries == 100) {
			for (i = 0; i < proc_nchildren; i++) {
				c = &proc_children[i];
				if (!c->alive)
					continue;
				log_warnx("%s (pid %ld) did not stop, killing "
				    "it", c->label, (long)c->pid);
				(void)kill(c->pid, SIGKILL);
			}
		}
		(void)nanosleep(&ts, NULL);
	}
	if (penv.conf != NULL)
		(void)unlink(penv.conf->csock);
	if (penv.pidfile != NULL)
		(void)unlink(penv.pidfile);
	log_info("terminating");
	exit(status);
}

/*
 * Parse the configuration again.  On any error the running one stays,
 * untouched; settings that need a restart keep their running values.
 */
static int
parent_reload(char *err, size_t errlen)
{
	struct dsrvd_conf	*conf, *old = penv.conf;
	int			 i;

	conf = parse_config(penv.conffile, CONF_SERVER | CONF_OPTIONAL);
	if (conf == NULL) {
		(void)snprintf(err, errlen, "%s has errors, keeping the "
		    "running configuration", penv.conffile);
		log_warnx("reload: %s", err);
		penv.reloads_failed++;
		return -1;
	}

#define KEEP(field, what) do {						\
	if (memcmp(&conf->field, &old->field, sizeof(conf->field)) != 0) { \
		log_warnx("reload: %s changed; restart dsrvd to apply",	\
		    what);						\
		memcpy(&conf->field, &old->field, sizeof(conf->field));	\
	}								\
} while (0)
	if (strcmp(conf->datadir, old->datadir) != 0) {
		log_warnx("reload: data directory changed; restart dsrvd to "
		    "apply");
		(void)strlcpy(conf->datadir, old->datadir,
		    sizeof(conf->datadir));
	}
	if (strcmp(conf->chroot, old->chroot) != 0) {
		log_warnx("reload: chroot changed; restart dsrvd to apply");
		(void)strlcpy(conf->chroot, old->chroot, sizeof(conf->chroot));
	}
	if (strcmp(conf->user, old->user) != 0) {
		log_warnx("reload: user changed; restart dsrvd to apply");
		(void)strlcpy(conf->user, old->user, sizeof(conf->user));
	}
	if (strcmp(conf->storage_user, old->storage_user) != 0) {
		log_warnx("reload: storage user changed; restart dsrvd to "
		    "apply");
		(void)strlcpy(conf->storage_user, old->storage_user,
		    sizeof(conf->storage_user));
	}
	if (strcmp(conf->csock, old->csock) != 0) {
		log_warnx("reload: socket changed; restart dsrvd to apply");
		(void)strlcpy(conf->csock, old->csock, sizeof(conf->csock));
	}
	KEEP(nnetwork, "network workers");
	KEEP(nstorage, "storage workers");
	KEEP(require_mount, "require mount");
#undef KEEP

	if (parent_open_listens(conf, old, err, errlen) == -1) {
		log_warnx("reload: %s; keeping the running configuration",
		    err);
		config_free(conf);
		penv.reloads_failed++;
		return -1;
	}
	penv.conf = conf;
	config_free(old);
	penv.conf_missing = access(penv.conffile, F_OK) == -1;
	for (i = 0; i < proc_nchildren; i++)
		config_send(&proc_children[i], conf, penv.csock, 0);
	parent_wipe_keys(conf);
	penv.reloads_ok++;
	log_info("configuration reloaded");
	return 0;
}

/* The answer to a control request, through network 0. */
static void
parent_ctl_result(uint32_t connid, int code, const char *fmt, ...)
{
	struct ctl_result	 res;
	va_list			 ap;

	memset(&res, 0, sizeof(res));
	res.code = code;
	va_start(ap, fmt);
	(void)vsnprintf(res.msg, sizeof(res.msg), fmt, ap);
	va_end(ap);
	(void)proc_compose(PROC_NETWORK, 0, IMSG_CTL_RESULT, connid, -1, &res,
	    sizeof(res));
}

/* Control requests come from the control socket, which network 0 has. */
static void
parent_from_control(struct imsgev *iev, struct imsg *imsg, const char *func)
{
	struct proc_child	*c = iev->arg;

	if (c->role != PROC_NETWORK || c->instance != 0)
		fatalx("%s: %s sent %s, but only network[0] has the control "
		    "socket", func, c->label, imsg_name(imsg->hdr.type));
}

static void
parent_dispatch_ctl_reload(struct imsgev *iev, struct imsg *imsg)
{
	char	 err[1024];

	parent_from_control(iev, imsg, __func__);
	if (imsg->datalen != 0)
		msg_bad(iev, imsg, __func__);
	log_info("reload requested by dctl");
	if (parent_reload(err, sizeof(err)) == -1)
		parent_ctl_result(imsg->hdr.peerid, EINVAL, "%s (see the log)",
		    err);
	else
		parent_ctl_result(imsg->hdr.peerid, 0,
		    "configuration reloaded");
}

static void
parent_dispatch_ctl_verbose(struct imsgev *iev, struct imsg *imsg)
{
	int32_t	 v;
	int	 i;

	parent_from_control(iev, imsg, __func__);
	if (imsg_get_data(imsg, &v, sizeof(v)) == -1)
		msg_bad(iev, imsg, __func__);
	if (v < 0 || v > 3)
		v = v < 0 ? 0 : 3;
	log_setverbose(v);
	penv.verbose = v;
	for (i = 0; i < proc_nchildren; i++)
		(void)proc_compose(proc_children[i].role,
		    proc_children[i].instance, IMSG_VERBOSE, 0, -1, &v,
		    sizeof(v));
	log_info("log level set to %s", v ? "verbose" : "brief");
	parent_ctl_result(imsg->hdr.peerid, 0, "%s", v ? "verbose" : "brief");
}

/*
 * dctl status: ask every child for its counters, answer when all have
 * (or after STATUS_TIMEOUT, with what came).
 */
static void
parent_dispatch_ctl_status(struct imsgev *iev, struct imsg *imsg)
{
	struct status_req	*sr;
	struct timeval		 tv = { STATUS_TIMEOUT, 0 };
	int			 i;

	parent_from_control(iev, imsg, __func__);
	if (imsg->datalen != 0)
		msg_bad(iev, imsg, __func__);
	if ((sr = calloc(1, sizeof(*sr))) == NULL)
		fatal("%s", __func__);
	sr->id = ++penv.next_reqid;
	sr->connid = imsg->hdr.peerid;
	if ((sr->timeout = evtimer_new(penv.base, status_timeout, sr)) == NULL)
		fatalx("evtimer_new failed");
	if (evtimer_add(sr->timeout, &tv) == -1)
		fatalx("evtimer_add failed");
	TAILQ_INSERT_TAIL(&penv.status_reqs, sr, entry);
	for (i = 0; i < proc_nchildren; i++) {
		if (!proc_children[i].alive ||
		    proc_compose(proc_children[i].role,
		    proc_children[i].instance, IMSG_STATS_REQ, sr->id, -1, NULL,
		    0) == -1)
			continue;
		sr->pending++;
	}
}

static struct status_req *
status_find(uint32_t id)
{
	struct status_req	*sr;

	TAILQ_FOREACH(sr, &penv.status_reqs, entry)
		if (sr->id == id)
			return sr;
	return NULL;
}

static void
status_add(struct status_req *sr, const struct ctl_counter *cc)
{
	struct ctl_counter	*n;
	size_t			 i;

	for (i = 0; i < sr->ncounters; i++)
		if (strcmp(sr->counters[i].name, cc->name) == 0) {
			sr->counters[i].value += cc->value;
			return;
		}
	n = reallocarray(sr->counters, sr->ncounters + 1, sizeof(*n));
	if (n == NULL)
		fatal("%s", __func__);
	sr->counters = n;
	sr->counters[sr->ncounters] = *cc;
	sr->counters[sr->ncounters].name[sizeof(cc->name) - 1] = '\0';
	sr->ncounters++;
}

static void
parent_dispatch_stats(struct imsgev *iev, struct imsg *imsg)
{
	struct status_req	*sr;
	struct ctl_counter	*cc;
	size_t			 i, n;

	if (imsg->datalen == 0 || imsg->datalen % sizeof(*cc) != 0)
		msg_bad(iev, imsg, __func__);
	if ((sr = status_find(imsg->hdr.peerid)) == NULL)
		return;		/* timed out already */
	cc = imsg->data;
	n = imsg->datalen / sizeof(*cc);
	for (i = 0; i < n; i++)
		status_add(sr, &cc[i]);
}

static void
parent_dispatch_stats_end(struct imsgev *iev, struct imsg *imsg)
{
	struct status_req	*sr;

	if (imsg->datalen != 0)
		msg_bad(iev, imsg, __func__);
	if ((sr = status_find(imsg->hdr.peerid)) == NULL)
		return;
	if (--sr->pending == 0)
		status_finish(sr);
}

static void
status_timeout(int fd, short event, void *arg)
{
	struct status_req	*sr = arg;

	log_warnx("status: %d process(es) did not send counters in time",
	    sr->pending);
	status_finish(sr);
}

/* The status's counters, summed over the children, then the parent's. */
static void
status_finish(struct status_req *sr)
{
	struct ctl_status_info	 info;
	struct ctl_proc		 proc;
	struct ctl_counter	 cc;
	struct listen_addr	*la;
	struct proc_child	*c;
	struct timespec		 now;
	uint64_t		 sealed, sealfail;
	char			 addr[300];
	int			 i;

	TAILQ_REMOVE(&penv.status_reqs, sr, entry);
	evtimer_del(sr->timeout);
	event_free(sr->timeout);

	memset(&info, 0, sizeof(info));
	(void)strlcpy(info.version, DSRVD_VERSION, sizeof(info.version));
	if (clock_gettime(CLOCK_MONOTONIC, &now) == -1)
		fatal("clock_gettime");
	info.uptime = now.tv_sec - penv.start.tv_sec;
	info.conf_missing = penv.conf_missing;
	info.verbose = penv.verbose;
	(void)strlcpy(info.conffile, penv.conffile, sizeof(info.conffile));
	(void)strlcpy(info.datadir, penv.conf->datadir, sizeof(info.datadir));
	seal_status(&info, &sealed, &sealfail);
	if (proc_compose(PROC_NETWORK, 0, IMSG_CTL_STATUS_INFO, sr->connid,
	    -1, &info, sizeof(info)) == -1)
		goto done;	/* network 0 is gone, and the daemon with it */
	TAILQ_FOREACH(la, &penv.conf->listens, entry) {
		(void)listen_addr_str(la, addr, sizeof(addr));
		(void)proc_compose(PROC_NETWORK, 0, IMSG_CTL_STATUS_LISTEN,
		    sr->connid, -1, addr, strlen(addr) + 1);
	}
	memset(&proc, 0, sizeof(proc));
	(void)strlcpy(proc.role, "parent", sizeof(proc.role));
	proc.instance = -1;
	proc.pid = getpid();
	(void)proc_compose(PROC_NETWORK, 0, IMSG_CTL_STATUS_PROC, sr->connid,
	    -1, &proc, sizeof(proc));
	for (i = 0; i < proc_nchildren; i++) {
		c = &proc_children[i];
		memset(&proc, 0, sizeof(proc));
		(void)strlcpy(proc.role, proc_name(c->role),
		    sizeof(proc.role));
		proc.instance = c->instance;
		proc.pid = c->pid;
		(void)proc_compose(PROC_NETWORK, 0, IMSG_CTL_STATUS_PROC,
		    sr->connid, -1, &proc, sizeof(proc));
	}
	memset(&cc, 0, sizeof(cc));
	(void)strlcpy(cc.name, "reloads", sizeof(cc.name));
	cc.value = penv.reloads_ok;
	status_add(sr, &cc);
	(void)strlcpy(cc.name, "reloads failed", sizeof(cc.name));
	cc.value = penv.reloads_failed;
	status_add(sr, &cc);
	(void)strlcpy(cc.name, "chunks sealed", sizeof(cc.name));
	cc.value = sealed;
	status_add(sr, &cc);
	(void)strlcpy(cc.name, "seal failures", sizeof(cc.name));
	cc.value = sealfail;
	status_add(sr, &cc);
	for (i = 0; i < (int)sr->ncounters; i++)
		(void)proc_compose(PROC_NETWORK, 0, IMSG_CTL_STATUS_COUNTER,
		    sr->connid, -1, &sr->counters[i], sizeof(sr->counters[i]));
	(void)proc_compose(PROC_NETWORK, 0, IMSG_CTL_END, sr->connid, -1, NULL,
	    0);
 done:
	free(sr->counters);
	free(sr);
}

/* dctl scrub --local: storage 0 does it and answers. */
static void
parent_dispatch_ctl_scrub(struct imsgev *iev, struct imsg *imsg)
{
	struct ctl_scrub	 cs;

	parent_from_control(iev, imsg, __func__);
	if (imsg_get_data(imsg, &cs, sizeof(cs)) == -1)
		msg_bad(iev, imsg, __func__);
	log_info("scrub requested by dctl");
	if (proc_compose(PROC_STORAGE, 0, IMSG_ST_SCRUB, imsg->hdr.peerid, -1,
	    &cs, sizeof(cs)) == -1)
		parent_ctl_result(imsg->hdr.peerid, ENXIO, "no storage "
		    "process to scrub with");
}

static void
parent_dispatch_scrub_result(struct imsgev *iev, struct imsg *imsg)
{
	struct proc_child	*c = iev->arg;
	struct ctl_result	 r;

	if (c->instance != 0)
		fatalx("%s: %s sent a scrub result, but only storage[0] "
		    "scrubs", __func__, c->label);
	if (imsg_get_data(imsg, &r, sizeof(r)) == -1)
		msg_bad(iev, imsg, __func__);
	r.msg[sizeof(r.msg) - 1] = '\0';
	(void)proc_compose(PROC_NETWORK, 0, IMSG_CTL_RESULT, imsg->hdr.peerid,
	    -1, &r, sizeof(r));
}

/*
 * A start-up error: on the terminal while there is one, in the log
 * once running.
 */
__attribute__((__noreturn__)) void
errx_exit(const char *fmt, ...)
{
	va_list	 ap;
	char	 buf[1024];

	va_start(ap, fmt);
	(void)vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	if (penv.started)
		log_warnx("%s", buf);
	else
		fprintf(stderr, "dsrvd: %s\n", buf);
	exit(1);
}
