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
 * The parent: it runs as root, reads the configuration, opens what the
 * children cannot open themselves (listening sockets, the control
 * socket, key files), starts the children (proc.c), pushes the
 * configuration (config.c), then serves reloads, status requests and
 * signals until a child is lost or it is told to stop.  It does no
 * network I/O and never touches chunk data; it seals committed chunks
 * (parent_seal.c).
 *
 * Peers: every child.  Each sends IMSG_CHILD_HELLO, IMSG_CHILD_READY,
 * its log lines (IMSG_LOG, proc_log.c) and the counters for dctl
 * status; storage asks for seals and reports flush failures and scrub
 * results; network 0 forwards dctl's control requests (IMSG_CTL_*).
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
#include "sandbox.h"

static void	 parent_dispatch_child_hello(struct imsgev *, struct imsg *);
static void	 parent_dispatch_child_ready(struct imsgev *, struct imsg *);
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
static void	 parent_ctl_result(uint32_t, int, const char *, ...)
		    __attribute__((__format__ (printf, 3, 4)));
static void	 write_pidfile(void);
static void	 parent_atexit(void);

/* What the parent takes from each child. */
static const struct proc_msg parent_msgs[] = {
	{ PROC_CHILDREN, IMSG_CHILD_HELLO, PROC_NOFD,
	    parent_dispatch_child_hello },
	{ PROC_CHILDREN, IMSG_CHILD_READY, PROC_NOFD,
	    parent_dispatch_child_ready },
	{ PROC_CHILDREN, IMSG_LOG, PROC_NOFD, proc_log_dispatch },
	{ PROC_CHILDREN, IMSG_STATS, PROC_NOFD, parent_dispatch_stats },
	{ PROC_CHILDREN, IMSG_STATS_END, PROC_NOFD,
	    parent_dispatch_stats_end },
	{ PROC_NETWORK, IMSG_CTL_STATUS, PROC_NOFD,
	    parent_dispatch_ctl_status },
	{ PROC_NETWORK, IMSG_CTL_RELOAD, PROC_NOFD,
	    parent_dispatch_ctl_reload },
	{ PROC_NETWORK, IMSG_CTL_LOG_VERBOSE, PROC_NOFD,
	    parent_dispatch_ctl_verbose },
	{ PROC_NETWORK, IMSG_CTL_SCRUB, PROC_NOFD, parent_dispatch_ctl_scrub },
	{ PROC_STORAGE, IMSG_ST_SEAL, PROC_FD, seal_dispatch_seal },
	{ PROC_STORAGE, IMSG_ST_FLUSHFAIL, PROC_NOFD, seal_dispatch_flushfail },
	{ PROC_STORAGE, IMSG_ST_MKDIR, PROC_NOFD, store_dispatch_mkdir },
	{ PROC_STORAGE, IMSG_ST_SCRUB_RESULT, PROC_NOFD,
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
	/* Every line names its process, ours too ("parent: "). */
	log_setprefix(1);
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
	proc_log_libevent();

	if (lookup_user(conf->user, &penv.uid, &penv.gid, err,
	    sizeof(err)) == -1 ||
	    lookup_user(conf->storage_user, &penv.suid, &penv.sgid, err,
	    sizeof(err)) == -1 ||
	    lookup_user(conf->crypto_user, &penv.cuid, &penv.cgid, err,
	    sizeof(err)) == -1)
		errx_exit("%s", err);
	if (penv.uid == penv.suid)
		errx_exit("user %s and storage user %s must be different "
		    "users", conf->user, conf->storage_user);
	/* Else network could signal or trace the holder of the keys. */
	if (penv.cuid == penv.uid || penv.cuid == penv.suid)
		errx_exit("crypto user %s must be a user of its own, not "
		    "the same as user %s or storage user %s",
		    conf->crypto_user, conf->user, conf->storage_user);
	if (check_chroot(conf->chroot, err, sizeof(err)) == -1 ||
	    check_datadir(conf, penv.suid, err, sizeof(err)) == -1 ||
	    store_open(conf, penv.suid, penv.sgid, err, sizeof(err)) == -1)
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

	sandbox_log_status();
	penv.maxconns = conf->max_conns;
	penv.maxstartups = conf->max_startups;
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
	const char		*root, *user;
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
		init.immutable = store_protected(NULL, 0);
		init.maxconns = penv.conf->max_conns;
		init.maxstartups = penv.conf->max_startups;
		/* Storage in the data directory, the others in the chroot. */
		root = penv.conf->chroot;
		if (a->role == PROC_STORAGE) {
			init.uid = penv.suid;
			init.gid = penv.sgid;
			root = penv.conf->datadir;
			user = penv.conf->storage_user;
		} else if (a->role == PROC_CRYPTO) {
			init.uid = penv.cuid;
			init.gid = penv.cgid;
			user = penv.conf->crypto_user;
		} else {
			init.uid = penv.uid;
			init.gid = penv.gid;
			user = penv.conf->user;
		}
		(void)strlcpy(init.chroot, root, sizeof(init.chroot));
		(void)strlcpy(init.user, user, sizeof(init.user));
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
	char			 how[64], what[128];

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
		/* Its last lines come before the one that says it is gone. */
		proc_log_drain(c);
		if (!penv.terminating && WIFSIGNALED(status) &&
		    WTERMSIG(status) == SIGSYS &&
		    sandbox_note_read(c->notefd, what, sizeof(what)) == 0)
			log_warnx("%s: killed by the sandbox: %s", c->label,
			    what);
		if (c->notefd != -1) {
			(void)close(c->notefd);
			c->notefd = -1;
		}
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
	for (i = 0; i < proc_nchildren; i++)
		proc_log_drain(&proc_children[i]);
	if (penv.conf != NULL)
		(void)unlink(penv.conf->csock);
	if (penv.pidfile != NULL)
		(void)unlink(penv.pidfile);
	log_info("terminating");
	exit(status);
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

/* dctl scrub --local: storage 0 does it and answers. */
static void
parent_dispatch_ctl_scrub(struct imsgev *iev, struct imsg *imsg)
{
	struct ctl_scrub	 cs;

	parent_from_control(iev, imsg, __func__);
	if (ctl_scrub_get(imsg, &cs) == -1)
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
	if (ctl_result_get(imsg, &r) == -1)
		msg_bad(iev, imsg, __func__);
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
