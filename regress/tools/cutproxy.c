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
 * cutproxy: a TCP relay on the loopback for the regression tests that
 * cuts every connection it carries, with a reset, once a given number
 * of bytes went from the clients to the server, or when it gets
 * SIGUSR1.  Tests put it between dctl and dsrvd to see that a transfer
 * survives connections dying under it.
 *
 *	cutproxy -p LISTENPORT -t TARGETPORT [-c BYTES] [-n CUTS] [-s RATE]
 *
 * -c BYTES: cut after this many bytes towards the server (counted
 * again from zero after each cut); -n CUTS: at most this many cuts
 * (default 1) by byte count; -s RATE: carry at most RATE bytes a
 * second, both directions together, so that a test can be sure to
 * act while a transfer is still going on.  Each cut is one line on stderr:
 * "cutproxy: cut N connections after B bytes".  "cutproxy: ready"
 * on stderr once it listens.  It runs until killed.
 */

#include <sys/types.h>
#include <sys/socket.h>

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <arpa/inet.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define MAXPAIRS	128
#define BUFSZ		(64 * 1024)

struct dir {
	unsigned char	 buf[BUFSZ];
	size_t		 off, len;
	int		 eof;		/* the reading side closed */
};

struct pair {
	int		 cfd;		/* the client's side */
	int		 sfd;		/* ours towards the server */
	struct dir	 up;		/* client to server */
	struct dir	 down;		/* server to client */
};

static struct pair		*pairs[MAXPAIRS];
static volatile sig_atomic_t	 cutnow;

static void	usage(void) __attribute__((noreturn));
static double	now(void);
static void	throttle(unsigned long long, double, unsigned long long);
static void	onusr1(int);
static int	nonblock(int);
static int	dial(int);
static void	drop(int, int);
static void	pair_close(struct pair *, int);
static int	cut_all(unsigned long long);
static int	pump(struct pair *, int, int, struct dir *, short, short,
		    unsigned long long *);

static void
usage(void)
{
	fprintf(stderr, "usage: cutproxy -p listenport -t targetport "
	    "[-c bytes] [-n cuts] [-s rate]\n");
	exit(2);
}

static double
now(void)
{
	struct timespec	 ts;

	if (clock_gettime(CLOCK_MONOTONIC, &ts) == -1)
		return (0);
	return ((double)ts.tv_sec + (double)ts.tv_nsec / 1e9);
}

/* Sleep while more went through since start than rate allows. */
static void
throttle(unsigned long long total, double start, unsigned long long rate)
{
	struct timespec	 ts;
	double		 ahead;

	if (rate == 0)
		return;
	ahead = (double)total / (double)rate - (now() - start);
	if (ahead <= 0)
		return;
	if (ahead > 0.05)
		ahead = 0.05;
	ts.tv_sec = 0;
	ts.tv_nsec = (long)(ahead * 1e9);
	(void)nanosleep(&ts, NULL);
}

static void
onusr1(int sig)
{
	(void)sig;
	cutnow = 1;
}

static int
nonblock(int fd)
{
	int	 fl;

	if ((fl = fcntl(fd, F_GETFL)) == -1)
		return (-1);
	return (fcntl(fd, F_SETFL, fl | O_NONBLOCK));
}

/* A blocking connect to 127.0.0.1:port; the loopback answers at once. */
static int
dial(int port)
{
	struct sockaddr_in	 sin;
	int			 fd, one = 1;

	if ((fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0)) == -1)
		return (-1);
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_port = htons((uint16_t)port);
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (connect(fd, (struct sockaddr *)&sin, sizeof(sin)) == -1 ||
	    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one,
	    sizeof(one)) == -1 || nonblock(fd) == -1) {
		(void)close(fd);
		return (-1);
	}
	return (fd);
}

/* Close fd; with rst, as a reset, the way a dying link looks. */
static void
drop(int fd, int rst)
{
	struct linger	 l;

	if (fd == -1)
		return;
	if (rst) {
		l.l_onoff = 1;
		l.l_linger = 0;
		/* Without the reset it is a plain close: still a cut. */
		(void)setsockopt(fd, SOL_SOCKET, SO_LINGER, &l, sizeof(l));
	}
	(void)close(fd);
}

static void
pair_close(struct pair *p, int rst)
{
	int	 i;

	drop(p->cfd, rst);
	drop(p->sfd, rst);
	for (i = 0; i < MAXPAIRS; i++)
		if (pairs[i] == p)
			pairs[i] = NULL;
	free(p);
}

static int
cut_all(unsigned long long bytes)
{
	int	 i, n = 0;

	for (i = 0; i < MAXPAIRS; i++)
		if (pairs[i] != NULL) {
			pair_close(pairs[i], 1);
			n++;
		}
	fprintf(stderr, "cutproxy: cut %d connections after %llu bytes\n",
	    n, bytes);
	return (n);
}

/*
 * Move what can be moved from rfd to wfd through d.  Returns -1 when
 * the pair is finished (an error, or both directions done).
 */
static int
pump(struct pair *p, int rfd, int wfd, struct dir *d, short rev, short wev,
    unsigned long long *count)
{
	ssize_t	 n;

	if ((rev & (POLLIN | POLLHUP | POLLERR)) && d->len == 0 && !d->eof) {
		n = read(rfd, d->buf, sizeof(d->buf));
		if (n == -1 && errno != EAGAIN && errno != EINTR)
			return (-1);
		if (n == 0) {
			d->eof = 1;
			(void)shutdown(wfd, SHUT_WR);
		} else if (n > 0) {
			d->off = 0;
			d->len = (size_t)n;
		}
	}
	if ((wev & (POLLOUT | POLLERR | POLLHUP)) && d->len > 0) {
		n = write(wfd, d->buf + d->off, d->len);
		if (n == -1 && errno != EAGAIN && errno != EINTR)
			return (-1);
		if (n > 0) {
			d->off += (size_t)n;
			d->len -= (size_t)n;
			if (count != NULL)
				*count += (unsigned long long)n;
		}
	}
	if (p->up.eof && p->down.eof && p->up.len == 0 && p->down.len == 0)
		return (-1);
	return (0);
}

int
main(int argc, char *argv[])
{
	struct sockaddr_in	 sin;
	struct pollfd		 pfd[1 + 2 * MAXPAIRS];
	struct pair		*pmap[1 + 2 * MAXPAIRS];
	struct sigaction	 sa;
	const char		*errstr;
	unsigned long long	 cutafter = 0, sent = 0, rate = 0, total = 0;
	unsigned long long	 before;
	double			 start;
	long long		 maxcuts = 1, ncuts = 0;
	int			 lport = 0, tport = 0, lfd, fd, ch, i, n, one = 1;
	nfds_t			 nfds;

	while ((ch = getopt(argc, argv, "c:n:p:s:t:")) != -1) {
		switch (ch) {
		case 'c':
			cutafter = (unsigned long long)strtonum(optarg, 1,
			    LLONG_MAX, &errstr);
			if (errstr != NULL)
				usage();
			break;
		case 'n':
			maxcuts = strtonum(optarg, 0, INT_MAX, &errstr);
			if (errstr != NULL)
				usage();
			break;
		case 'p':
			lport = (int)strtonum(optarg, 1, 65535, &errstr);
			if (errstr != NULL)
				usage();
			break;
		case 's':
			rate = (unsigned long long)strtonum(optarg, 1,
			    LLONG_MAX, &errstr);
			if (errstr != NULL)
				usage();
			break;
		case 't':
			tport = (int)strtonum(optarg, 1, 65535, &errstr);
			if (errstr != NULL)
				usage();
			break;
		default:
			usage();
		}
	}
	if (lport == 0 || tport == 0 || optind != argc)
		usage();

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = onusr1;
	if (sigemptyset(&sa.sa_mask) == -1 ||
	    sigaction(SIGUSR1, &sa, NULL) == -1) {
		perror("cutproxy: sigaction");
		return (1);
	}
	(void)signal(SIGPIPE, SIG_IGN);

	if ((lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0)) == -1) {
		perror("cutproxy: socket");
		return (1);
	}
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_port = htons((uint16_t)lport);
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one,
	    sizeof(one)) == -1 ||
	    bind(lfd, (struct sockaddr *)&sin, sizeof(sin)) == -1 ||
	    listen(lfd, 64) == -1 || nonblock(lfd) == -1) {
		perror("cutproxy: listen");
		return (1);
	}
	fprintf(stderr, "cutproxy: ready\n");
	start = now();

	for (;;) {
		if (cutnow) {
			cutnow = 0;
			(void)cut_all(sent);
			sent = 0;
		}
		throttle(total, start, rate);
		if (cutafter > 0 && ncuts < maxcuts && sent >= cutafter) {
			(void)cut_all(sent);
			ncuts++;
			sent = 0;
		}

		nfds = 0;
		pfd[nfds].fd = lfd;
		pfd[nfds].events = POLLIN;
		pmap[nfds++] = NULL;
		for (i = 0; i < MAXPAIRS; i++) {
			struct pair	*p = pairs[i];

			if (p == NULL)
				continue;
			pfd[nfds].fd = p->cfd;
			pfd[nfds].events = 0;
			if (p->up.len == 0 && !p->up.eof)
				pfd[nfds].events |= POLLIN;
			if (p->down.len > 0)
				pfd[nfds].events |= POLLOUT;
			pmap[nfds++] = p;
			pfd[nfds].fd = p->sfd;
			pfd[nfds].events = 0;
			if (p->down.len == 0 && !p->down.eof)
				pfd[nfds].events |= POLLIN;
			if (p->up.len > 0)
				pfd[nfds].events |= POLLOUT;
			pmap[nfds++] = p;
		}
		if ((n = poll(pfd, nfds, 200)) == -1) {
			if (errno == EINTR)
				continue;
			perror("cutproxy: poll");
			return (1);
		}
		if (n == 0)
			continue;

		if (pfd[0].revents & POLLIN) {
			fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
			if (fd != -1) {
				struct pair	*p;

				for (i = 0; i < MAXPAIRS; i++)
					if (pairs[i] == NULL)
						break;
				if (i == MAXPAIRS || nonblock(fd) == -1 ||
				    (p = calloc(1, sizeof(*p))) == NULL) {
					(void)close(fd);
				} else if ((p->sfd = dial(tport)) == -1) {
					/* Nobody there: so be it for ours. */
					p->cfd = fd;
					p->sfd = -1;
					drop(p->cfd, 1);
					free(p);
				} else {
					p->cfd = fd;
					pairs[i] = p;
				}
			}
		}
		/*
		 * Pairs come in twos: client side at k, server side at k+1.
		 * A pair closed during this pass is skipped afterwards.
		 */
		for (nfds_t k = 1; k + 1 < nfds; k += 2) {
			struct pair	*p = pmap[k];
			int		 live = 0;

			for (i = 0; i < MAXPAIRS; i++)
				if (pairs[i] == p)
					live = 1;
			if (!live)
				continue;
			if ((pfd[k].revents | pfd[k + 1].revents) & POLLERR) {
				pair_close(p, 1);
				continue;
			}
			before = sent;
			if (pump(p, p->cfd, p->sfd, &p->up, pfd[k].revents,
			    pfd[k + 1].revents, &sent) == -1 ||
			    pump(p, p->sfd, p->cfd, &p->down,
			    pfd[k + 1].revents, pfd[k].revents, &total) == -1)
				pair_close(p, 0);
			total += sent - before;
		}
	}
	/* NOTREACHED */
}
