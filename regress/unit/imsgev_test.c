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
 * Unit tests for lib/imsgev.c: two channels on one event base, talking
 * over a socketpair (or one channel and a raw socket end).
 */
#include <sys/types.h>
#include <sys/socket.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>

#include "imsgev.h"
#include "tap.h"

enum {
	MSG_PING = 1,
	MSG_PONG,
	MSG_DATA,
	MSG_FD,
	MSG_UNKNOWN = 99,
};

struct side {
	struct imsgev	*iev;
	int		 closed;	/* times closecb ran */
	int		 why_null;
	char		 why[128];
	size_t		 qlen_at_close;
	int		 handled;
	int		 late;		/* handler calls after close */
	int		 bad;		/* unexpected content */
	int		 reply;		/* PING handler answers PONG */
	int		 shutdown_at;	/* shut down in the Nth handler */
	int		 clear_at;	/* imsgev_clear in the Nth handler */
	int		 rounds;	/* ping-pong: stop after this many */
};

struct test {
	struct event_base	*base;
	struct side		 a, b;
	int			 want_closed;
	int			 nclosed;
	int			 timedout;
};

static int		 count_fds(void);
static struct side	*side_of(struct imsgev *);
static void		 on_close(struct imsgev *, const char *);
static void		 on_ping(struct imsgev *, struct imsg *);
static void		 on_pong(struct imsgev *, struct imsg *);
static void		 on_data(struct imsgev *, struct imsg *);
static void		 on_fd(struct imsgev *, struct imsg *);
static void		 on_timeout(int, short, void *);
static struct imsgev	*mkiev(struct test *, struct side *, int, const char *);
static int		 setup(struct test *, int [2], int);
static void		 run(struct test *);
static void		 teardown(struct test *, int [2]);
static void		 test_pingpong(void);
static void		 test_unknown(void);
static void		 test_default(void);
static void		 test_eof(void);
static void		 test_bad_input(void);
static void		 test_shutdown_drains(void);
static void		 test_shutdown_idle(void);
static void		 test_shutdown_in_handler(void);
static void		 test_clear_in_handler(void);
static void		 test_fdpass(void);

/* Open descriptors, to prove nothing leaked. */
static int
count_fds(void)
{
	DIR		*d;
	struct dirent	*de;
	int		 n = 0;

	if ((d = opendir("/proc/self/fd")) == NULL)
		return -1;
	while ((de = readdir(d)) != NULL)
		if (de->d_name[0] != '.')
			n++;
	closedir(d);
	return n - 1;	/* the directory's own fd */
}

static struct side *
side_of(struct imsgev *iev)
{
	struct test	*t = iev->arg;

	return iev == t->a.iev ? &t->a : &t->b;
}

/* The owner's close callback: clear and free, as a daemon would. */
static void
on_close(struct imsgev *iev, const char *why)
{
	struct test	*t = iev->arg;
	struct side	*s = side_of(iev);

	s->closed++;
	s->why_null = why == NULL;
	strlcpy(s->why, why != NULL ? why : "", sizeof(s->why));
	s->qlen_at_close = imsgbuf_queuelen(&iev->ibuf);
	imsgev_clear(iev);
	free(iev);
	/* Keep s->iev: it only identifies the side from now on. */
	if (++t->nclosed == t->want_closed)
		event_base_loopbreak(t->base);
}

static void
on_ping(struct imsgev *iev, struct imsg *imsg)
{
	struct side	*s = side_of(iev);
	uint32_t	 n;

	if (s->closed)
		s->late++;
	s->handled++;
	if (imsg_get_data(imsg, &n, sizeof(n)) == -1)
		s->bad++;
	else if (s->reply) {
		n++;
		if (imsgev_compose(iev, MSG_PONG, 0, 0, -1, &n,
		    sizeof(n)) == -1)
			s->bad++;
	}
	if (s->handled == s->shutdown_at)
		imsgev_shutdown(iev);
	if (s->handled == s->clear_at)
		imsgev_clear(iev);
}

static void
on_pong(struct imsgev *iev, struct imsg *imsg)
{
	struct side	*s = side_of(iev);
	uint32_t	 n;

	if (s->closed)
		s->late++;
	s->handled++;
	if (imsg_get_data(imsg, &n, sizeof(n)) == -1 ||
	    n != (uint32_t)s->handled)
		s->bad++;
	if (s->rounds == 0)
		return;
	if (s->handled < s->rounds) {
		if (imsgev_compose(iev, MSG_PING, 0, 0, -1, &n,
		    sizeof(n)) == -1)
			s->bad++;
	} else
		imsgev_shutdown(iev);
}

/* MSG_DATA: peerid is the sequence number, the body a known pattern. */
static void
on_data(struct imsgev *iev, struct imsg *imsg)
{
	struct side	*s = side_of(iev);
	size_t		 i;

	if (s->closed)
		s->late++;
	if (imsg->hdr.peerid != (uint32_t)s->handled || imsg->datalen != 1000)
		s->bad++;
	else
		for (i = 0; i < imsg->datalen; i++)
			if (((unsigned char *)imsg->data)[i] !=
			    (unsigned char)(s->handled + i))
				s->bad++;
	s->handled++;
}

/* The default handler: counts the types it saw without their own. */
static void
on_other(struct imsgev *iev, struct imsg *imsg)
{
	struct side	*s = side_of(iev);

	s->handled++;
	if (imsg->hdr.type != MSG_UNKNOWN)
		s->bad++;
	if (s->handled == s->shutdown_at)
		imsgev_shutdown(iev);
}

static void
on_fd(struct imsgev *iev, struct imsg *imsg)
{
	struct side	*s = side_of(iev);
	int		 fd;

	s->handled++;
	if ((fd = imsg_get_fd(imsg)) == -1 || write(fd, "fd", 2) != 2)
		s->bad++;
	if (fd != -1)
		close(fd);
}

static void
on_timeout(int fd, short what, void *arg)
{
	struct test	*t = arg;

	(void)fd;
	(void)what;
	t->timedout = 1;
	event_base_loopbreak(t->base);
}

static struct imsgev *
mkiev(struct test *t, struct side *s, int fd, const char *name)
{
	struct imsgev	*iev;

	if ((iev = malloc(sizeof(*iev))) == NULL)
		return NULL;
	if (imsgev_init(iev, t->base, fd, name, on_close, t) == -1) {
		free(iev);
		return NULL;
	}
	s->iev = iev;
	return iev;
}

/* both: an imsgev on each end; else only b, with sv[0] left raw. */
static int
setup(struct test *t, int sv[2], int both)
{
	memset(t, 0, sizeof(*t));
	sv[0] = sv[1] = -1;
	if ((t->base = event_base_new()) == NULL)
		return -1;
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) == -1)
		return -1;
	if (both && mkiev(t, &t->a, sv[0], "a") == NULL)
		return -1;
	if (mkiev(t, &t->b, sv[1], "b") == NULL)
		return -1;
	t->want_closed = both ? 2 : 1;
	return 0;
}

static void
run(struct test *t)
{
	struct event	*watchdog;
	struct timeval	 tv = { 10, 0 };

	if ((watchdog = evtimer_new(t->base, on_timeout, t)) == NULL ||
	    evtimer_add(watchdog, &tv) == -1) {
		t->timedout = 1;
		return;
	}
	event_base_dispatch(t->base);
	event_free(watchdog);
}

/*
 * Free what the test left open.  A side with an imsgev owns its socket
 * end; a closed one already freed itself in on_close().
 */
static void
teardown(struct test *t, int sv[2])
{
	struct side	*s[2] = { &t->a, &t->b };
	int		 i;

	for (i = 0; i < 2; i++) {
		if (s[i]->iev == NULL) {
			if (sv[i] != -1)
				close(sv[i]);
		} else if (s[i]->closed == 0) {
			imsgev_clear(s[i]->iev);
			free(s[i]->iev);
		}
	}
	if (t->base != NULL)
		event_base_free(t->base);
}

static void
test_pingpong(void)
{
	struct test	 t;
	int		 sv[2];
	uint32_t	 n = 0;
	const int	 rounds = 1000;

	diag("ping-pong");
	if (!ok(setup(&t, sv, 1) == 0, "setup"))
		goto out;
	imsgev_on(t.b.iev, MSG_PING, on_ping);
	imsgev_on(t.a.iev, MSG_PONG, on_pong);
	t.b.reply = 1;
	t.a.rounds = rounds;
	ok(imsgev_compose(t.a.iev, MSG_PING, 0, 0, -1, &n, sizeof(n)) == 0,
	    "compose the first ping");
	run(&t);
	ok(!t.timedout, "finished in time");
	is_int(t.b.handled, rounds, "b answered %d pings", rounds);
	is_int(t.a.handled, rounds, "a got %d pongs", rounds);
	ok(t.a.bad == 0 && t.b.bad == 0, "counters matched throughout");
	ok(t.a.closed == 1 && t.a.why_null, "a closed cleanly after shutdown");
	ok(t.b.closed == 1 && t.b.why_null, "b saw EOF: closecb(NULL)");
	ok(t.a.late == 0 && t.b.late == 0, "no handler after closecb");
 out:
	teardown(&t, sv);
}

static void
test_default(void)
{
	struct test	 t;
	int		 sv[2];
	uint32_t	 n = 0;

	diag("default handler");
	if (!ok(setup(&t, sv, 1) == 0, "setup"))
		goto out;
	imsgev_on(t.b.iev, MSG_PING, on_ping);
	imsgev_on_default(t.b.iev, on_other);
	t.b.shutdown_at = 3;
	imsgev_compose(t.a.iev, MSG_UNKNOWN, 0, 0, -1, NULL, 0);
	imsgev_compose(t.a.iev, MSG_PING, 0, 0, -1, &n, sizeof(n));
	imsgev_compose(t.a.iev, MSG_UNKNOWN, 0, 0, -1, NULL, 0);
	run(&t);
	ok(!t.timedout, "finished in time");
	is_int(t.b.handled, 3, "both unknown messages reached the default "
	    "handler, the known one its own");
	is_int(t.b.bad, 0, "the default handler saw only the unknown type");
	ok(t.b.closed == 1 && t.b.why_null, "the channel did not end over "
	    "an unknown type");
 out:
	teardown(&t, sv);
}

static void
test_unknown(void)
{
	struct test	 t;
	int		 sv[2];
	uint32_t	 n = 0;

	diag("unknown message type");
	if (!ok(setup(&t, sv, 1) == 0, "setup"))
		goto out;
	imsgev_on(t.b.iev, MSG_PING, on_ping);
	/* Re-registering replaces rather than adds. */
	imsgev_on(t.b.iev, MSG_PING, on_pong);
	imsgev_on(t.b.iev, MSG_PING, on_ping);
	imsgev_on(t.a.iev, MSG_PONG, on_pong);
	imsgev_compose(t.a.iev, MSG_PING, 0, 0, -1, &n, sizeof(n));
	imsgev_compose(t.a.iev, MSG_UNKNOWN, 0, 0, -1, NULL, 0);
	imsgev_compose(t.a.iev, MSG_PING, 0, 0, -1, &n, sizeof(n));
	run(&t);
	ok(!t.timedout, "finished in time");
	is_int(t.b.closed, 1, "b's closecb ran once");
	is_str(t.b.why, "unknown message type 99", "with the reason");
	is_int(t.b.handled, 1, "the message before it was handled, "
	    "none after");
	ok(t.a.closed == 1 && t.a.why_null, "a saw EOF");
 out:
	teardown(&t, sv);
}

static void
test_eof(void)
{
	struct test	 t;
	struct imsg_hdr	 hdr;
	int		 sv[2];

	diag("EOF");
	if (!ok(setup(&t, sv, 0) == 0, "setup"))
		goto out;
	close(sv[0]);
	sv[0] = -1;
	run(&t);
	ok(!t.timedout, "finished in time");
	ok(t.b.closed == 1 && t.b.why_null, "EOF: closecb(NULL)");
	teardown(&t, sv);

	diag("EOF inside a message");
	if (!ok(setup(&t, sv, 0) == 0, "setup"))
		goto out;
	memset(&hdr, 0, sizeof(hdr));
	hdr.type = MSG_PING;
	hdr.len = sizeof(hdr) + 4;
	ok(write(sv[0], &hdr, sizeof(hdr)) == sizeof(hdr), "write a header");
	close(sv[0]);
	sv[0] = -1;
	imsgev_on(t.b.iev, MSG_PING, on_ping);
	run(&t);
	ok(t.b.closed == 1 && !t.b.why_null, "closecb with a reason");
	is_str(t.b.why, "read: truncated message", "reason");
	is_int(t.b.handled, 0, "no handler ran");
 out:
	teardown(&t, sv);
}

static void
test_bad_input(void)
{
	struct test	 t;
	struct imsg_hdr	 hdr;
	int		 sv[2], p[2];

	diag("framing error");
	if (!ok(setup(&t, sv, 0) == 0, "setup"))
		goto out;
	memset(&hdr, 0, sizeof(hdr));
	hdr.type = MSG_PING;
	hdr.len = 0x10000000;
	ok(write(sv[0], &hdr, sizeof(hdr)) == sizeof(hdr), "write a header");
	imsgev_on(t.b.iev, MSG_PING, on_ping);
	run(&t);
	ok(!t.timedout, "finished in time");
	ok(t.b.closed == 1, "closecb ran");
	is_str(t.b.why, "imsg_get: Bad message", "reason");
	teardown(&t, sv);

	diag("fd on a channel without fd passing");
	if (!ok(setup(&t, sv, 1) == 0 && pipe2(p, O_CLOEXEC) == 0, "setup"))
		goto out;
	imsgev_on(t.b.iev, MSG_FD, on_fd);
	ok(imsgev_compose(t.a.iev, MSG_FD, 0, 0, p[1], NULL, 0) == 0,
	    "compose with an fd");
	run(&t);
	ok(!t.timedout, "finished in time");
	is_str(t.b.why, "read: Bad message", "b refused it");
	is_int(t.b.handled, 0, "no handler ran");
	ok(t.a.closed == 1 && t.a.why_null, "a saw EOF");
	close(p[0]);
 out:
	teardown(&t, sv);
}

static void
test_shutdown_drains(void)
{
	struct test	 t;
	unsigned char	 body[1000];
	int		 sv[2], i, good = 1, sz = 4096;
	const int	 nmsg = 500;
	size_t		 j;

	diag("shutdown drains the queue");
	if (!ok(setup(&t, sv, 1) == 0, "setup"))
		goto out;
	setsockopt(sv[0], SOL_SOCKET, SO_SNDBUF, &sz, sizeof(sz));
	imsgev_on(t.b.iev, MSG_DATA, on_data);
	for (i = 0; i < nmsg; i++) {
		for (j = 0; j < sizeof(body); j++)
			body[j] = (unsigned char)(i + j);
		if (imsgev_compose(t.a.iev, MSG_DATA, i, 0, -1, body,
		    sizeof(body)) == -1)
			good = 0;
	}
	ok(good, "queue %d messages", nmsg);
	imsgev_shutdown(t.a.iev);
	imsgev_shutdown(t.a.iev);
	ok(t.a.closed == 0, "shutdown does not call closecb itself");
	run(&t);
	ok(!t.timedout, "finished in time");
	is_int(t.b.handled, nmsg, "b got every message");
	is_int(t.b.bad, 0, "in order and intact");
	ok(t.a.closed == 1 && t.a.why_null, "a closed once with NULL");
	is_int(t.a.qlen_at_close, 0, "after its queue drained");
	ok(t.b.closed == 1 && t.b.why_null, "then b saw EOF");
 out:
	teardown(&t, sv);
}

static void
test_shutdown_idle(void)
{
	struct test	 t;
	int		 sv[2];

	diag("shutdown with nothing queued");
	if (!ok(setup(&t, sv, 1) == 0, "setup"))
		goto out;
	imsgev_shutdown(t.a.iev);
	ok(t.a.closed == 0, "closecb not called from imsgev_shutdown");
	run(&t);
	ok(!t.timedout, "finished in time");
	ok(t.a.closed == 1 && t.a.why_null, "a closed from the loop, NULL");
	ok(t.b.closed == 1 && t.b.why_null, "b saw EOF");
 out:
	teardown(&t, sv);
}

static void
test_shutdown_in_handler(void)
{
	struct test	 t;
	int		 sv[2], i;
	uint32_t	 n;

	diag("shutdown from a handler");
	if (!ok(setup(&t, sv, 1) == 0, "setup"))
		goto out;
	imsgev_on(t.b.iev, MSG_PING, on_ping);
	imsgev_on(t.a.iev, MSG_PONG, on_pong);
	t.b.reply = 1;
	t.b.shutdown_at = 2;
	/* All five arrive in one read; only two may be dispatched. */
	for (i = 0; i < 5; i++) {
		n = i;
		imsgev_compose(t.a.iev, MSG_PING, 0, 0, -1, &n, sizeof(n));
	}
	run(&t);
	ok(!t.timedout, "finished in time");
	is_int(t.b.handled, 2, "dispatch stopped after the shutdown");
	ok(t.b.closed == 1 && t.b.why_null, "b closed with NULL");
	is_int(t.a.handled, 2, "replies queued before shutdown arrived");
	ok(t.a.closed == 1 && t.a.why_null, "a saw EOF");
	ok(t.a.late == 0 && t.b.late == 0, "no handler after closecb");
 out:
	teardown(&t, sv);
}

static void
test_clear_in_handler(void)
{
	struct test	 t;
	struct imsgev	*b;
	int		 sv[2], p[2], i;
	uint32_t	 n = 0;

	diag("imsgev_clear from a handler");
	if (!ok(setup(&t, sv, 1) == 0, "setup"))
		goto out;
	imsgev_on(t.b.iev, MSG_PING, on_ping);
	t.b.reply = 1;
	t.b.clear_at = 1;
	t.want_closed = 1;	/* b will not call closecb */
	for (i = 0; i < 3; i++)
		imsgev_compose(t.a.iev, MSG_PING, 0, 0, -1, &n, sizeof(n));
	run(&t);
	ok(!t.timedout, "finished in time");
	is_int(t.b.handled, 1, "nothing dispatched after the clear");
	is_int(t.b.closed, 0, "no closecb after imsgev_clear");
	ok(t.a.closed == 1 && t.a.why_null, "a saw EOF");

	/* A cleared channel refuses to queue, and closes the fd given. */
	b = t.b.iev;
	if (ok(pipe2(p, O_CLOEXEC) == 0, "pipe")) {
		errno = 0;
		ok(imsgev_compose(b, MSG_PING, 0, 0, p[1], NULL, 0) == -1 &&
		    errno == EPIPE, "compose on a dead channel: EPIPE");
		ok(fcntl(p[1], F_GETFD) == -1 && errno == EBADF,
		    "and the fd was closed");
		close(p[0]);
	}
	free(b);
	t.b.iev = NULL;
	sv[1] = -1;
 out:
	teardown(&t, sv);
}

static void
test_fdpass(void)
{
	struct test	 t;
	int		 sv[2], p[2];
	char		 buf[2];

	diag("fd passing");
	if (!ok(setup(&t, sv, 1) == 0 && pipe2(p, O_CLOEXEC) == 0, "setup"))
		goto out;
	imsgev_allow_fdpass(t.b.iev);
	ok(imsgev_set_maxsize(t.b.iev, 65536) == 0, "set maxsize");
	imsgev_on(t.b.iev, MSG_FD, on_fd);
	ok(imsgev_compose(t.a.iev, MSG_FD, 0, 0, p[1], NULL, 0) == 0,
	    "compose with an fd");
	imsgev_shutdown(t.a.iev);
	run(&t);
	ok(!t.timedout, "finished in time");
	is_int(t.b.handled, 1, "handler ran");
	is_int(t.b.bad, 0, "and wrote through the fd");
	ok(read(p[0], buf, 2) == 2 && memcmp(buf, "fd", 2) == 0,
	    "bytes arrived in the pipe");
	ok(t.a.closed == 1 && t.b.closed == 1 && t.a.why_null &&
	    t.b.why_null, "both closed cleanly");
	close(p[0]);
 out:
	teardown(&t, sv);
}

int
main(void)
{
	int	 nfds = count_fds();

	test_pingpong();
	test_unknown();
	test_default();
	test_eof();
	test_bad_input();
	test_shutdown_drains();
	test_shutdown_idle();
	test_shutdown_in_handler();
	test_clear_in_handler();
	test_fdpass();

	is_int(count_fds(), nfds, "no descriptor leaked");
	return tap_done();
}
