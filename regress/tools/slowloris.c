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
 * slowloris: clients that never finish a handshake, for the regression
 * tests of the limits before authentication.
 *
 *	slowloris -a ADDR -p PORT [-b SRCADDR] [-n count] [-i interval_ms]
 *	    [-r reconnects_per_s] [-t seconds]
 *	slowloris -F -a ADDR -p PORT [-b SRCADDR] [-n count]
 *
 * The first form keeps count connections open, each sending one byte
 * of a HELLO every interval_ms and never the last one; a connection the
 * server closes is opened again, at most reconnects_per_s a second.  It
 * prints "ready: N connected" once the first count connections have
 * been tried, and a summary when -t seconds have passed or on SIGTERM.
 * With -F it connects and closes count times as fast as it can (a
 * flood) and prints how many it made.
 *
 * Exit status 0 when it could do what it was asked, 2 on a usage or
 * local error.  It raises its own descriptor limit to fit count.
 */

#include <sys/types.h>
#include <sys/resource.h>
#include <sys/socket.h>

#include <netinet/in.h>

#include <errno.h>
#include <netdb.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "wire.h"

#define EXIT_LOCAL	2

struct loris {
	int		 fd;		/* -1: to be opened again */
	int		 connecting;
	size_t		 sent;		/* bytes of the HELLO */
	uint64_t	 next;		/* when the next byte goes, ms */
};

static struct addrinfo	*dst, *src;
static struct loris	*lor;
static struct pollfd	*pfds;
static unsigned int	 count = 100;
static unsigned int	 interval_ms = 3000;
static unsigned int	 rate = 300;
static unsigned int	 seconds = 30;
static volatile sig_atomic_t	 stop;

static unsigned long	 nconnects, nclosed, nfailed, maxopen, nopen;

static __attribute__((__noreturn__)) void usage(void);
static __attribute__((__noreturn__)) void die(const char *, ...)
	    __attribute__((__format__ (printf, 1, 2)));
static uint64_t	 mono_ms(void);
static void	 onsig(int);
static struct addrinfo *resolve(const char *, const char *, int);
static void	 fd_limit(unsigned int);
static int	 open_conn(int);
static void	 loris_open(struct loris *, uint64_t);
static void	 loris_close(struct loris *, uint64_t, int);
static void	 loris_event(struct loris *, short, uint64_t);
static void	 run_slow(void);
static void	 run_flood(void);

static void
usage(void)
{
	fprintf(stderr, "usage: slowloris -a addr -p port [-b srcaddr] "
	    "[-n count] [-i interval_ms]\n"
	    "                 [-r reconnects_per_s] [-t seconds]\n"
	    "       slowloris -F -a addr -p port [-b srcaddr] [-n count]\n");
	exit(EXIT_LOCAL);
}

static void
die(const char *fmt, ...)
{
	va_list	 ap;

	fprintf(stderr, "slowloris: ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\n");
	exit(EXIT_LOCAL);
}

static uint64_t
mono_ms(void)
{
	struct timespec	 ts;

	if (clock_gettime(CLOCK_MONOTONIC, &ts) == -1)
		die("clock_gettime: %s", strerror(errno));
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static void
onsig(int sig)
{
	stop = 1;
}

static struct addrinfo *
resolve(const char *host, const char *serv, int passive)
{
	struct addrinfo	 hints, *res;
	int		 error;

	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_NUMERICHOST | AI_NUMERICSERV |
	    (passive ? AI_PASSIVE : 0);
	if ((error = getaddrinfo(host, serv, &hints, &res)) != 0)
		die("%s: %s", host, gai_strerror(error));
	return res;
}

/* Room for count sockets and a few more, whatever the shell gave us. */
static void
fd_limit(unsigned int n)
{
	struct rlimit	 rl;
	rlim_t		 want = (rlim_t)n + 32;

	if (getrlimit(RLIMIT_NOFILE, &rl) == -1)
		die("getrlimit: %s", strerror(errno));
	if (rl.rlim_cur != RLIM_INFINITY && rl.rlim_cur >= want)
		return;
	if (rl.rlim_max != RLIM_INFINITY && rl.rlim_max < want)
		rl.rlim_max = want;	/* root may raise it */
	rl.rlim_cur = want;
	if (setrlimit(RLIMIT_NOFILE, &rl) == -1)
		die("setrlimit NOFILE %llu: %s", (unsigned long long)want,
		    strerror(errno));
}

/* A socket connecting to dst (from src if given); -1 if it failed. */
static int
open_conn(int block)
{
	int	 fd;

	fd = socket(dst->ai_family, SOCK_STREAM | SOCK_CLOEXEC |
	    (block ? 0 : SOCK_NONBLOCK), 0);
	if (fd == -1)
		die("socket: %s", strerror(errno));
	if (src != NULL && bind(fd, src->ai_addr, src->ai_addrlen) == -1)
		die("bind: %s", strerror(errno));
	if (connect(fd, dst->ai_addr, dst->ai_addrlen) == -1 &&
	    (block || errno != EINPROGRESS)) {
		(void)close(fd);
		return -1;
	}
	return fd;
}

static void
loris_open(struct loris *l, uint64_t now)
{
	nconnects++;
	if ((l->fd = open_conn(0)) == -1) {
		nfailed++;
		return;
	}
	l->connecting = 1;
	l->sent = 0;
	/* Spread the bytes of all connections over the interval. */
	l->next = now + arc4random_uniform(interval_ms) + 1;
	if (++nopen > maxopen)
		maxopen = nopen;
}

static void
loris_close(struct loris *l, uint64_t now, int byserver)
{
	if (byserver)
		nclosed++;
	(void)close(l->fd);
	l->fd = -1;
	nopen--;
}

/* What poll said about one connection. */
static void
loris_event(struct loris *l, short revents, uint64_t now)
{
	uint8_t		 buf[512];
	socklen_t	 len;
	ssize_t		 n;
	int		 soerr;

	if (l->connecting && (revents & (POLLOUT | POLLERR | POLLHUP))) {
		len = sizeof(soerr);
		if (getsockopt(l->fd, SOL_SOCKET, SO_ERROR, &soerr, &len) ==
		    -1 || soerr != 0) {
			nfailed++;
			loris_close(l, now, 0);
			return;
		}
		l->connecting = 0;
	}
	if (revents & (POLLIN | POLLERR | POLLHUP)) {
		/* A refusal, then the close; both mean try again. */
		n = read(l->fd, buf, sizeof(buf));
		if (n == 0 || (n == -1 && errno != EAGAIN && errno != EINTR))
			loris_close(l, now, 1);
	}
}

static void
run_slow(void)
{
	struct loris	*l;
	uint64_t	 now, end, tick;
	unsigned int	 i, budget;
	int		 ready = 0, tmo;
	nfds_t		 n;

	if ((lor = calloc(count, sizeof(*lor))) == NULL ||
	    (pfds = calloc(count, sizeof(*pfds))) == NULL)
		die("calloc: %s", strerror(errno));
	now = mono_ms();
	end = now + (uint64_t)seconds * 1000;
	for (i = 0; i < count; i++)
		loris_open(&lor[i], now);
	tick = now;
	budget = rate;
	while (!stop && (now = mono_ms()) < end) {
		if (now - tick >= 1000) {
			tick = now;
			budget = rate;
		}
		/* Reopen what the server closed, within the rate. */
		for (i = 0; i < count && budget > 0; i++)
			if (lor[i].fd == -1) {
				loris_open(&lor[i], now);
				budget--;
			}
		/* One more byte where it is due, never the last. */
		for (i = 0; i < count; i++) {
			l = &lor[i];
			if (l->fd == -1 || l->connecting || l->next > now ||
			    l->sent + 1 >= WIRE_HELLO_LEN)
				continue;
			if (send(l->fd, "D", 1, MSG_NOSIGNAL) == 1)
				l->sent++;
			else if (errno != EAGAIN && errno != EINTR) {
				loris_close(l, now, 1);
				continue;
			}
			l->next = now + interval_ms;
		}
		if (!ready) {
			printf("ready: %lu connected, %lu failed\n",
			    nconnects - nfailed, nfailed);
			fflush(stdout);
			ready = 1;
		}
		for (i = 0, n = 0; i < count; i++) {
			if (lor[i].fd == -1)
				continue;
			pfds[n].fd = lor[i].fd;
			pfds[n].events = lor[i].connecting ? POLLOUT : POLLIN;
			pfds[n].revents = 0;
			n++;
		}
		/* Wake for the next byte, reconnects or the end. */
		tmo = budget > 0 && nopen < count ? 10 : 100;
		if (poll(pfds, n, tmo) == -1) {
			if (errno == EINTR)
				continue;
			die("poll: %s", strerror(errno));
		}
		now = mono_ms();
		for (i = 0, n = 0; i < count; i++) {
			if (lor[i].fd == -1)
				continue;
			if (pfds[n].revents != 0)
				loris_event(&lor[i], pfds[n].revents, now);
			n++;
		}
	}
	printf("slowloris: %lu connections opened, %lu closed by the server, "
	    "%lu failed to connect, at most %lu open at once, %lu open at "
	    "the end\n", nconnects - nfailed, nclosed, nfailed, maxopen,
	    nopen);
	fflush(stdout);
	for (i = 0; i < count; i++)
		if (lor[i].fd != -1)
			(void)close(lor[i].fd);
	free(lor);
	free(pfds);
}

static void
run_flood(void)
{
	unsigned int	 i;
	int		 fd;

	for (i = 0; i < count && !stop; i++) {
		if ((fd = open_conn(1)) == -1) {
			nfailed++;
			continue;
		}
		nconnects++;
		(void)close(fd);
	}
	printf("flood: %lu connected and closed, %lu failed\n", nconnects,
	    nfailed);
	fflush(stdout);
}

int
main(int argc, char *argv[])
{
	struct sigaction	 sa;
	const char		*addr = NULL, *port = NULL, *srcaddr = NULL;
	const char		*errstr;
	int			 ch, flood = 0;

	while ((ch = getopt(argc, argv, "a:b:Fi:n:p:r:t:")) != -1) {
		switch (ch) {
		case 'a':
			addr = optarg;
			break;
		case 'b':
			srcaddr = optarg;
			break;
		case 'F':
			flood = 1;
			break;
		case 'i':
			interval_ms = strtonum(optarg, 1, 3600 * 1000, &errstr);
			if (errstr != NULL)
				die("interval %s: %s", optarg, errstr);
			break;
		case 'n':
			count = strtonum(optarg, 1, 1000000, &errstr);
			if (errstr != NULL)
				die("count %s: %s", optarg, errstr);
			break;
		case 'p':
			port = optarg;
			break;
		case 'r':
			rate = strtonum(optarg, 0, 1000000, &errstr);
			if (errstr != NULL)
				die("rate %s: %s", optarg, errstr);
			break;
		case 't':
			seconds = strtonum(optarg, 1, 3600, &errstr);
			if (errstr != NULL)
				die("seconds %s: %s", optarg, errstr);
			break;
		default:
			usage();
		}
	}
	if (optind != argc || addr == NULL || port == NULL)
		usage();

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = onsig;
	if (sigaction(SIGTERM, &sa, NULL) == -1 ||
	    sigaction(SIGINT, &sa, NULL) == -1)
		die("sigaction: %s", strerror(errno));
	dst = resolve(addr, port, 0);
	if (srcaddr != NULL)
		src = resolve(srcaddr, "0", 1);
	if (flood)
		run_flood();
	else {
		fd_limit(count);
		run_slow();
	}
	freeaddrinfo(dst);
	if (src != NULL)
		freeaddrinfo(src);
	return 0;
}
