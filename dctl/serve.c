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
 * dctl serve restic [-v] [-l address:port] [--prefix prefix]
 *     [--htpasswd file] [--locks file] [--lock-timeout seconds]
 *     [--keep dir]: a
 * long-running gateway that speaks restic's REST backend protocol on
 * HTTP and stores into the dsrvd server of -r and the client
 * configuration, with the host's key.  It listens on 127.0.0.1:8000
 * unless told otherwise, and never on an address other hosts can reach
 * without --htpasswd.
 */
#include <sys/types.h>
#include <sys/socket.h>

#include <netinet/in.h>

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <inttypes.h>

#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/thread.h>

#include "dctl.h"
#include "log.h"
#include "pool.h"
#include "serve.h"

#define SERVE_USAGE	"serve restic [-v] [-j workers] [-l address:port] " \
			    "[--prefix prefix] [--htpasswd file] " \
			    "[--locks file] [--lock-timeout seconds] " \
			    "[--keep dir]"
#define SERVE_LISTEN	"127.0.0.1:8000"
#define SERVE_TIMEOUT	300	/* seconds an HTTP connection may idle */

struct worker {
	pthread_t		 t;
	struct event_base	*base;
	struct evhttp		*http;
	int			 started;
};

struct serve_sig {
	struct event_base	*base;
	struct gw		*gw;
	struct worker		*w;
	int			 nw;
};

static void	 split_listen(const char *, char *, size_t, char *, size_t);
static int	 all_loopback(const char *, const char *);
static void	 on_stop(evutil_socket_t, short, void *);
static void	 on_info(evutil_socket_t, short, void *);
static void	 worker_init(struct worker *, struct gw *);
static struct bufferevent *conn_bev(struct event_base *, void *);
static void	*worker_main(void *);

/* address:port, [v6address]:port or a port alone. */
static void
split_listen(const char *s, char *host, size_t hlen, char *port,
    size_t plen)
{
	const char	*colon, *end, *h = s, *p;
	size_t		 len;

	if (s[0] == '[') {
		if ((end = strchr(s, ']')) == NULL || end[1] != ':')
			die_usage("serve: -l %s: not [address]:port", s);
		h = s + 1;
		len = (size_t)(end - h);
		p = end + 2;
	} else if ((colon = strrchr(s, ':')) == NULL) {
		h = "127.0.0.1";
		len = strlen(h);
		p = s;
	} else {
		len = (size_t)(colon - s);
		p = colon + 1;
	}
	if (len == 0 || len >= hlen || strlen(p) == 0 || strlen(p) >= plen ||
	    strspn(p, "0123456789") != strlen(p) || strtoul(p, NULL, 10) == 0 ||
	    strtoul(p, NULL, 10) > 65535)
		die_usage("serve: -l %s: not address:port", s);
	memcpy(host, h, len);
	host[len] = '\0';
	(void)strlcpy(port, p, plen);
}

/* 1 when every address host names is a loopback address. */
static int
all_loopback(const char *host, const char *port)
{
	struct addrinfo		 hints, *res, *ai;
	const struct sockaddr_in *sin;
	const struct sockaddr_in6 *sin6;
	int			 e, lo = 1;

	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
	if ((e = getaddrinfo(host, port, &hints, &res)) != 0)
		die("serve: %s: %s", host, gai_strerror(e));
	for (ai = res; ai != NULL; ai = ai->ai_next) {
		if (ai->ai_family == AF_INET) {
			sin = (const struct sockaddr_in *)ai->ai_addr;
			if ((ntohl(sin->sin_addr.s_addr) >> 24) != 127)
				lo = 0;
		} else if (ai->ai_family == AF_INET6) {
			sin6 = (const struct sockaddr_in6 *)ai->ai_addr;
			if (!IN6_IS_ADDR_LOOPBACK(&sin6->sin6_addr))
				lo = 0;
		} else
			lo = 0;
	}
	freeaddrinfo(res);
	return (lo);
}

void
gw_summary(const struct gw *gw, const char *when)
{
	struct gw_stats		 snap;
	const struct gw_stats	*st = &snap;
	const uint64_t		*from = (const uint64_t *)&gw->st;
	uint64_t		*to = (uint64_t *)&snap;
	size_t			 i;

	/* The workers count with atomic adds: read each counter so. */
	for (i = 0; i < sizeof(snap) / sizeof(uint64_t); i++)
		to[i] = __atomic_load_n(&from[i], __ATOMIC_RELAXED);
	log_info("%s: %" PRIu64 " objects stored (%" PRIu64 " bytes), %"
	    PRIu64 " skipped as identical, %" PRIu64 " deletes refused, %"
	    PRIu64 " rewrites refused, %" PRIu64 " bodies not matching "
	    "their name, %" PRIu64 " locks, %" PRIu64 " requests, %" PRIu64
	    " bytes served (%" PRIu64 " ranges), %" PRIu64 " copies kept, %"
	    PRIu64 " answers from copies", when,
	    st->stored, st->stored_bytes, st->identical, st->refused_deletes,
	    st->refused_writes, st->bad_hash, st->locks, st->requests,
	    st->served_bytes, st->range_reads, st->kept, st->from_copies);
}

static void
on_stop(evutil_socket_t sig, short ev, void *arg)
{
	struct serve_sig	*ss = arg;
	int			 i;

	log_info("signal %d: stopping", (int)sig);
	for (i = 0; i < ss->nw; i++)
		(void)event_base_loopbreak(ss->w[i].base);
	(void)event_base_loopbreak(ss->base);
}

static void
on_info(evutil_socket_t sig, short ev, void *arg)
{
	struct serve_sig	*ss = arg;

	gw_summary(ss->gw, "so far");
}

/*
 * A connection's buffers: read and written up to GW_IO at a time, not
 * libevent's 16 KiB, so that a pack of 16 MiB is a few dozen system
 * calls and buffer pieces instead of a thousand.
 */
static struct bufferevent *
conn_bev(struct event_base *base, void *arg)
{
	struct bufferevent	*bev;

	if ((bev = bufferevent_socket_new(base, -1, BEV_OPT_CLOSE_ON_FREE)) ==
	    NULL)
		return (NULL);
	if (bufferevent_set_max_single_read(bev, GW_IO) == -1 ||
	    bufferevent_set_max_single_write(bev, GW_IO) == -1)
		log_debug("serve: the connection's buffer sizes not taken");
	return (bev);
}

static void
worker_init(struct worker *w, struct gw *gw)
{
	if ((w->base = event_base_new()) == NULL ||
	    (w->http = evhttp_new(w->base)) == NULL)
		die("serve: cannot set up libevent");
	evhttp_set_max_body_size(w->http, GW_MAX_BODY);
	evhttp_set_max_headers_size(w->http, 64 * 1024);
	evhttp_set_timeout(w->http, SERVE_TIMEOUT);
	evhttp_set_allowed_methods(w->http, EVHTTP_REQ_GET | EVHTTP_REQ_POST |
	    EVHTTP_REQ_HEAD | EVHTTP_REQ_DELETE | EVHTTP_REQ_PUT);
	evhttp_set_gencb(w->http, restic_request, gw);
	evhttp_set_bevcb(w->http, conn_bev, NULL);
}

static void *
worker_main(void *arg)
{
	struct worker	*w = arg;

	if (event_base_dispatch(w->base) == -1)
		log_warnx("serve: a worker's event loop failed");
	return (NULL);
}

int
cmd_serve(int argc, char **argv)
{
	struct gw		 gw;
	struct target		 t;
	struct serve_sig	 ss;
	struct event_base	*base;
	struct evhttp_bound_socket *bound;
	struct worker		*w;
	struct event		*sigs[4];
	const char		*listen = SERVE_LISTEN, *htfile = NULL;
	const char		*lockfile = NULL, *keepdir = NULL, *errstr;
	char			 host[256], port[8], err[512], *prefix;
	size_t			 len;
	time_t			 lock_timeout = GW_LOCK_TIMEOUT;
	int			 i, e, fd, nw = GW_WORKERS, verbose = 0;

	memset(&gw, 0, sizeof(gw));
	prefix = NULL;
	if (argc < 1 || strcmp(argv[0], "restic") != 0)
		die_usage("usage: %s", SERVE_USAGE);
	for (i = 1; i < argc; i++) {
		if (strcmp(argv[i], "-v") == 0)
			verbose++;
		else if (strcmp(argv[i], "-l") == 0 && i + 1 < argc)
			listen = argv[++i];
		else if (strcmp(argv[i], "-j") == 0 && i + 1 < argc) {
			nw = (int)strtonum(argv[++i], 1, GW_WORKERS_MAX,
			    &errstr);
			if (errstr != NULL)
				die_usage("serve: -j %s: %s (1 to %d)",
				    argv[i], errstr, GW_WORKERS_MAX);
		}
		else if (strcmp(argv[i], "--prefix") == 0 && i + 1 < argc) {
			free(prefix);
			if ((prefix = strdup(argv[++i])) == NULL)
				die("out of memory");
		} else if (strcmp(argv[i], "--htpasswd") == 0 && i + 1 < argc)
			htfile = argv[++i];
		else if (strcmp(argv[i], "--locks") == 0 && i + 1 < argc)
			lockfile = argv[++i];
		else if (strcmp(argv[i], "--keep") == 0 && i + 1 < argc)
			keepdir = argv[++i];
		else if (strcmp(argv[i], "--lock-timeout") == 0 &&
		    i + 1 < argc) {
			lock_timeout = strtonum(argv[++i], 1, 365 * 86400,
			    &errstr);
			if (errstr != NULL)
				die_usage("serve: --lock-timeout %s: %s",
				    argv[i], errstr);
		} else
			die_usage("usage: %s", SERVE_USAGE);
	}
	if (prefix == NULL && (prefix = strdup("")) == NULL)
		die("out of memory");
	/* "/backups/" and "backups" are the same prefix. */
	while (prefix[0] == '/')
		memmove(prefix, prefix + 1, strlen(prefix));
	while ((len = strlen(prefix)) > 0 && prefix[len - 1] == '/')
		prefix[len - 1] = '\0';
	gw.prefix = prefix;

	split_listen(listen, host, sizeof(host), port, sizeof(port));
	if (htfile == NULL && !all_loopback(host, port))
		die_usage("serve: refusing to listen on %s without --htpasswd: "
		    "other hosts could read and add to every repository",
		    listen);
	if (htfile != NULL && (gw.auth = htpasswd_load(htfile, err,
	    sizeof(err))) == NULL)
		die_usage("serve: %s", err);

	resolve_target(&t);
	gw.pool = pool_open(&t, POOL_CONNS);
	gw.peer = dsrv_pool_peer(gw.pool);

	log_init(1, LOG_DAEMON);
	log_procinit("dctl serve");
	log_setprefix(1);
	log_setverbose(verbose);
	if (signal(SIGPIPE, SIG_IGN) == SIG_ERR)
		die("signal: SIGPIPE");
	if ((gw.locks = locks_open(lockfile, lock_timeout, err,
	    sizeof(err))) == NULL)
		die("serve: %s", err);
	if (keepdir != NULL && (gw.keep = keep_open(keepdir, err,
	    sizeof(err))) == NULL)
		die("serve: %s", err);

	if ((e = pthread_mutex_init(&gw.mtx, NULL)) != 0)
		die("serve: pthread_mutex_init: %s", strerror(e));
	/* Before any base: they can then be woken from other threads. */
	if (evthread_use_pthreads() == -1 ||
	    (base = event_base_new()) == NULL ||
	    (w = calloc((size_t)nw, sizeof(*w))) == NULL)
		die("serve: cannot set up libevent");
	for (i = 0; i < nw; i++)
		worker_init(&w[i], &gw);
	if ((bound = evhttp_bind_socket_with_handle(w[0].http, host,
	    (ev_uint16_t)strtoul(port, NULL, 10))) == NULL)
		die("serve: cannot listen on %s", listen);
	/* Every worker accepts on its own copy of the one socket. */
	fd = evhttp_bound_socket_get_fd(bound);
	for (i = 1; i < nw; i++) {
		int	 nfd;

		if ((nfd = fcntl(fd, F_DUPFD_CLOEXEC, 0)) == -1)
			die("serve: fcntl: %s", strerror(errno));
		if (evhttp_accept_socket(w[i].http, nfd) == -1)
			die("serve: cannot accept on %s", listen);
	}

	ss.base = base;
	ss.gw = &gw;
	ss.w = w;
	ss.nw = nw;
	if ((sigs[0] = evsignal_new(base, SIGINT, on_stop, &ss)) == NULL ||
	    (sigs[1] = evsignal_new(base, SIGTERM, on_stop, &ss)) == NULL ||
	    (sigs[2] = evsignal_new(base, SIGUSR1, on_info, &ss)) == NULL ||
	    (sigs[3] = evsignal_new(base, SIGHUP, on_info, &ss)) == NULL)
		die("serve: cannot set up signals");
	for (i = 0; i < 4; i++)
		if (evsignal_add(sigs[i], NULL) == -1)
			die("serve: cannot set up signals");

	for (i = 0; i < nw; i++) {
		if ((e = pthread_create(&w[i].t, NULL, worker_main, &w[i])) !=
		    0)
			die("serve: pthread_create: %s", strerror(e));
		w[i].started = 1;
	}
	log_info("serving restic on %s for dsrvd at %s, prefix \"%s\"%s, "
	    "%d workers%s%s", listen, gw.peer, gw.prefix, gw.auth != NULL ?
	    ", with passwords" : "", nw, keepdir != NULL ? ", copies in " :
	    "", keepdir != NULL ? keepdir : "");
	if (event_base_dispatch(base) == -1)
		log_warnx("serve: the event loop failed");
	/* A worker in the middle of a request finishes it first. */
	for (i = 0; i < nw; i++) {
		(void)event_base_loopbreak(w[i].base);
		if (w[i].started && (e = pthread_join(w[i].t, NULL)) != 0)
			die("serve: pthread_join: %s", strerror(e));
	}
	gw_summary(&gw, "at exit");

	for (i = 0; i < 4; i++)
		event_free(sigs[i]);
	for (i = 0; i < nw; i++) {
		evhttp_free(w[i].http);
		event_base_free(w[i].base);
	}
	free(w);
	event_base_free(base);
	store_free(&gw);
	locks_close(gw.locks);
	keep_close(gw.keep);
	htpasswd_free(gw.auth);
	dsrv_pool_free(gw.pool);
	(void)pthread_mutex_destroy(&gw.mtx);
	free(prefix);
	return (0);
}
