/*
 * The network process: accepts TCP clients on the listening sockets the
 * parent opened and, in network worker 0, the control socket.
 *
 * Peers: parent (configuration, counters, control replies), crypto
 * (handshakes), every storage worker (chunk requests).  The wire
 * protocol that uses crypto and storage is not built yet: until it is,
 * a TCP client is accepted, counted and closed at once.
 */
#include <sys/types.h>
#include <sys/socket.h>
#include <netinet/in.h>
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

static void	 network_conf_apply(struct child_env *, struct dsrvd_conf *);
static size_t	 network_stats(struct child_env *, struct ctl_counter *,
		    size_t);
static void	 network_accept(int, short, void *);
static void	 network_accept_resume(int, short, void *);
static void	 network_accept_pause(void);

struct network	 nenv;

void
network_start(struct child_env *env)
{
	nenv.env = env;
	TAILQ_INIT(&nenv.listeners);
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

/*
 * Out of descriptors: stop accepting for a second instead of spinning
 * on a socket that stays readable.
 */
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
	control_pause(1);
	if (evtimer_add(nenv.ev_pause, &tv) == -1)
		fatalx("evtimer_add failed");
}

static void
network_accept_resume(int fd, short event, void *arg)
{
	struct listener	*l;

	nenv.paused = 0;
	TAILQ_FOREACH(l, &nenv.listeners, entry)
		if (event_add(l->ev, NULL) == -1)
			fatalx("event_add failed");
	control_pause(0);
}

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

static void
network_accept(int lfd, short event, void *arg)
{
	struct sockaddr_storage	 ss;
	socklen_t		 len;
	char			 host[NI_MAXHOST], serv[NI_MAXSERV];
	int			 fd;

	if ((fd = network_accept_fd(lfd, &ss, &len)) == -1)
		return;
	nenv.conns_total++;
	if (getnameinfo((struct sockaddr *)&ss, len, host, sizeof(host),
	    serv, sizeof(serv), NI_NUMERICHOST | NI_NUMERICSERV) != 0) {
		(void)strlcpy(host, "?", sizeof(host));
		(void)strlcpy(serv, "?", sizeof(serv));
	}
	log_debug("connection from %s port %s closed: the wire protocol is "
	    "not available in this version", host, serv);
	(void)close(fd);
}

static size_t
network_stats(struct child_env *env, struct ctl_counter *cc, size_t max)
{
	size_t	 n = 0;

	child_counter(cc, &n, max, "connections total", nenv.conns_total);
	child_counter(cc, &n, max, "control connections",
	    nenv.ctl_conns_total);
	return n;
}
