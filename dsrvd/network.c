/*
 * The network process: accepts TCP clients on the listening sockets the
 * parent opened and, in network worker 0, the control socket.
 *
 * Peers: parent (configuration, counters, control replies), crypto
 * (IMSG_HS_CHALLENGE, IMSG_HS_OK, IMSG_HS_FAIL), every storage worker
 * (IMSG_ST_RESULT answers to the requests conn.c sends).  Client connections
 * themselves are in conn.c.
 */
#include <sys/types.h>
#include <sys/mman.h>
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
static void	 network_dispatch_crypto(struct imsgev *, struct imsg *);

struct network	 nenv;

void
network_start(struct child_env *env)
{
	void	*p;
	int	 i;

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
	if (env->crypto == NULL)
		fatalx("no channel to crypto");
	imsgev_on(env->crypto, IMSG_HS_CHALLENGE, network_dispatch_crypto);
	imsgev_on(env->crypto, IMSG_HS_OK, network_dispatch_crypto);
	imsgev_on(env->crypto, IMSG_HS_FAIL, network_dispatch_crypto);
	for (i = 0; i < MAX_WORKERS; i++)
		if (env->storage[i] != NULL)
			imsgev_on(env->storage[i], IMSG_ST_RESULT,
			    conn_storage_result);
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
		if (imsg_get_data(imsg, &hc, sizeof(hc)) == -1)
			fatalx("%s: bad challenge size", __func__);
		conn_crypto_challenge(imsg->hdr.peerid, &hc);
		break;
	case IMSG_HS_OK:
		if (imsg_get_data(imsg, &ok, sizeof(ok)) == -1)
			fatalx("%s: bad ok size", __func__);
		ok.keyname[sizeof(ok.keyname) - 1] = '\0';
		ok.ns[sizeof(ok.ns) - 1] = '\0';
		conn_crypto_ok(imsg->hdr.peerid, &ok);
		explicit_bzero(&ok, sizeof(ok));
		break;
	case IMSG_HS_FAIL:
		if (imsg_get_data(imsg, &f, sizeof(f)) == -1)
			fatalx("%s: bad fail size", __func__);
		f.keyname[sizeof(f.keyname) - 1] = '\0';
		conn_crypto_fail(imsg->hdr.peerid, &f);
		break;
	default:
		fatalx("%s: unexpected type %u", __func__, imsg->hdr.type);
	}
}

static size_t
network_stats(struct child_env *env, struct ctl_counter *cc, size_t max)
{
	size_t	 n = 0;

	child_counter(cc, &n, max, "connections open", nenv.conns_open);
	child_counter(cc, &n, max, "connections total", nenv.conns_total);
	child_counter(cc, &n, max, "connections refused", nenv.conns_refused);
	child_counter(cc, &n, max, "connections dropped", nenv.conns_dropped);
	child_counter(cc, &n, max, "handshakes ok", nenv.hs_ok);
	child_counter(cc, &n, max, "handshake failures auth",
	    nenv.hs_fail_auth);
	child_counter(cc, &n, max, "handshake failures rtt", nenv.hs_fail_rtt);
	child_counter(cc, &n, max, "handshake failures skew",
	    nenv.hs_fail_skew);
	child_counter(cc, &n, max, "handshake failures other",
	    nenv.hs_fail_other);
	child_counter(cc, &n, max, "messages in", nenv.msgs_in);
	child_counter(cc, &n, max, "messages out", nenv.msgs_out);
	child_counter(cc, &n, max, "bytes in", nenv.bytes_in);
	child_counter(cc, &n, max, "bytes out", nenv.bytes_out);
	child_counter(cc, &n, max, "chunk reads", nenv.chunk_reads);
	child_counter(cc, &n, max, "bytes read", nenv.bytes_read);
	child_counter(cc, &n, max, "corrupt reads", nenv.corrupt_reads);
	child_counter(cc, &n, max, "control connections",
	    nenv.ctl_conns_total);
	return n;
}
