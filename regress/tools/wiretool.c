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
 * wiretool: a deliberately unruly dsrv protocol client for the
 * regression tests.  It speaks the wire protocol with lib/wire.h
 * directly, not through the client library, so that it can send what
 * a well-behaved client never would (a wrong key, a replayed handshake,
 * a tampered frame, a frame that never ends) and report what the
 * server did about it.
 *
 *	wiretool -a ADDR -p PORT -K KEYNAME -k KEYFILE [-n count]
 *	    [-d delay_ms] [-t timeout_s] MODE [ARG]
 *	wiretool -a ADDR -p PORT -K KEYNAME -k KEYFILE req METHOD NAME
 *	    PAYLEN [PAYCRC]
 *	wiretool -k KEYFILE memscan PID
 *
 * One line on stdout says what happened.  Exit status: 0 if the server
 * behaved as the protocol requires for MODE, 1 if it did not, 2 on a
 * usage or local error.  Every wait on the network is bounded, so the
 * tool never hangs a test.
 */

#include <sys/types.h>
#include <sys/socket.h>

#include <netinet/in.h>
#include <netinet/tcp.h>

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <netdb.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <sodium.h>
#include <zlib.h>

#include "bytes.h"
#include "conf.h"
#include "wire.h"

#define EXIT_PASS	0	/* the server did what the protocol says */
#define EXIT_FAIL	1	/* it did not */
#define EXIT_LOCAL	2	/* usage or our own trouble */

/* How an I/O wait ended. */
enum io {
	IO_OK,
	IO_EOF,		/* orderly close by the peer */
	IO_RESET,	/* ECONNRESET, EPIPE: the peer is gone */
	IO_TIMEOUT,
	IO_ERR		/* anything else; errno is set */
};

struct hs {
	uint8_t		 hello[WIRE_HELLO_LEN];
	uint8_t		 challenge[WIRE_CHALLENGE_LEN];
	uint8_t		 finish[WIRE_FINISH_LEN];
	uint8_t		 h[WIRE_HASH_LEN];
	uint8_t		 cproof[WIRE_PROOF_LEN];
	uint8_t		 sproof[WIRE_PROOF_LEN];
	struct wire_keys keys;
	int		 got_challenge;
	int		 code;			/* RESULT code */
	char		 msg[WIRE_RESULT_MSG_MAX + 1];
	uint64_t	 rtt_ms;		/* FINISH sent to RESULT */
};

/* What do_handshake() saw. */
enum hsres {
	HS_ACCEPTED,	/* RESULT 0 with a server proof that verifies */
	HS_REFUSED,	/* RESULT with a refusal code */
	HS_BADPROOF,	/* RESULT 0 but the proof is wrong */
	HS_CLOSED,	/* EOF or reset instead of a message */
	HS_ERROR	/* timeout, malformed reply, local error: see errmsg */
};

struct opts {
	int		 delay_before_finish;	/* ms */
	int64_t		 time_offset;	/* ms added to our clock */
	int		 time_given;	/* send time_ms, not our clock */
	uint64_t	 time_ms;
};

static const char	*addr, *port, *keyname, *keyfile;
static unsigned int	 count = 1;
static int		 delay_ms = -1;
static int		 timeout_ms = 10 * 1000;
static uint8_t		 key[WIRE_KEY_LEN];
static char		 errmsg[512];

static __attribute__((__noreturn__)) void usage(void);
static __attribute__((__noreturn__)) void done(int, const char *, ...)
	    __attribute__((__format__ (printf, 2, 3)));
static void	 seterr(const char *, ...)
	    __attribute__((__format__ (printf, 1, 2)));
static uint64_t	 mono_ms(void);
static void	 sleep_ms(int);
static int	 tcp_connect(void);
static enum io	 read_full(int, void *, size_t, int, size_t *);
static enum io	 write_full(int, const void *, size_t);
static enum io	 wait_closed(int, int, size_t *);
static const char *io_str(enum io);
static enum io	 read_result(int, const uint8_t *, size_t, struct hs *);
static enum hsres do_handshake(int, const uint8_t *, const char *,
		    const struct opts *, struct hs *);
static const char *hsres_str(enum hsres, const struct hs *);
static int	 connect_session(struct hs *);
static size_t	 build_ping(const struct wire_keys *, uint64_t, uint8_t *,
		    size_t);
static int	 read_frame(int, const struct wire_keys *, uint64_t,
		    struct wire_hdr *, const uint8_t **, size_t *);
static int	 read_response(int, const struct wire_keys *, uint64_t,
		    char *, size_t);
static int	 expect_closed(int, const char *, int);
static int	 mode_ping(void);
static int	 mode_pings(void);
static int	 mode_wrongkey(void);
static int	 mode_badname(void);
static int	 mode_truncated(void);
static int	 mode_replay_handshake(void);
static int	 mode_replay_message(void);
static int	 mode_tamper(const char *);
static int	 mode_reorder(void);
static int	 mode_cut(void);
static int	 mode_badrequest(void);
static int	 mode_oversize(const char *);
static int	 mode_garbage(void);
static int	 expect_refusal(const struct opts *, int, const char *);
static int	 mode_slow(void);
static int	 mode_skew(const char *);
static int	 mode_trickle(void);
static int	 mode_idle(void);
static void	 expect_result(int, const uint8_t *, struct hs *,
		    const char *);
static void	 expect_eof(int, const char *);
static int	 mode_stall(const char *);
static int	 mode_hold(void);
static int	 mode_busy_first(void);
static int	 mode_pipeline(void);
static size_t	 build_req(const struct wire_keys *, uint64_t, uint64_t,
		    const char *, uint8_t *, size_t);
static int	 mode_memscan(const char *);
static int	 mode_write_name(const char *);
static int	 mode_list_after(const char *);
static int	 mode_req(int, char *[]);

/* A frame big enough for a PING and its response. */
#define FRAMEBUF	(WIRE_FRAME_HDR + 4 + WIRE_HDR_MAX + 256 + WIRE_TAG_LEN)

static void
usage(void)
{
	fprintf(stderr, "usage: wiretool -a addr -p port -K keyname "
	    "-k keyfile [-n count] [-d delay_ms]\n"
	    "                [-t timeout_s] mode\n"
	    "       wiretool -k keyfile memscan pid\n"
	    "modes: ping pings wrongkey badname truncated replay-handshake\n"
	    "       replay-message flip flip-tag flip-counter flip-length\n"
	    "       reorder cut badrequest oversize oversize2 undersize\n"
	    "       garbage slow skew skew-far skew-zero trickle idle\n"
	    "       silent half-hello no-finish hold busy-first pipeline\n"
	    "       write-name hexname\n"
	    "       list-after hexname\n"
	    "       req method hexname|- paylen [paycrc]\n");
	exit(EXIT_LOCAL);
}

static void
done(int status, const char *fmt, ...)
{
	va_list	 ap;

	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
	fflush(stdout);
	sodium_memzero(key, sizeof(key));
	exit(status);
}

static void
seterr(const char *fmt, ...)
{
	va_list	 ap;

	va_start(ap, fmt);
	(void)vsnprintf(errmsg, sizeof(errmsg), fmt, ap);
	va_end(ap);
}

static uint64_t
mono_ms(void)
{
	struct timespec	 ts;

	if (clock_gettime(CLOCK_MONOTONIC, &ts) == -1)
		done(EXIT_LOCAL, "clock_gettime: %s", strerror(errno));
	return ((uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000);
}

static void
sleep_ms(int ms)
{
	struct timespec	 ts;

	ts.tv_sec = ms / 1000;
	ts.tv_nsec = (long)(ms % 1000) * 1000000;
	while (nanosleep(&ts, &ts) == -1 && errno == EINTR)
		;
}

/* A connected blocking socket, or -1 with errmsg set. */
static int
tcp_connect(void)
{
	struct addrinfo	 hints, *res, *ai;
	struct pollfd	 pfd;
	socklen_t	 len;
	int		 fd = -1, error, soerr, one = 1;

	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_NUMERICHOST | AI_NUMERICSERV;
	if ((error = getaddrinfo(addr, port, &hints, &res)) != 0) {
		seterr("%s port %s: %s", addr, port, gai_strerror(error));
		return (-1);
	}
	for (ai = res; ai != NULL; ai = ai->ai_next) {
		fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC |
		    SOCK_NONBLOCK, ai->ai_protocol);
		if (fd == -1) {
			seterr("socket: %s", strerror(errno));
			continue;
		}
		if (connect(fd, ai->ai_addr, ai->ai_addrlen) == 0)
			break;
		if (errno != EINPROGRESS) {
			seterr("connect to %s port %s: %s", addr, port,
			    strerror(errno));
			close(fd);
			fd = -1;
			continue;
		}
		pfd.fd = fd;
		pfd.events = POLLOUT;
		error = poll(&pfd, 1, timeout_ms);
		len = sizeof(soerr);
		if (error == 1 && getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr,
		    &len) == 0 && soerr == 0)
			break;
		if (error == 0)
			seterr("connect to %s port %s: timed out", addr, port);
		else
			seterr("connect to %s port %s: %s", addr, port,
			    strerror(error == 1 ? soerr : errno));
		close(fd);
		fd = -1;
	}
	freeaddrinfo(res);
	if (fd == -1)
		return (-1);
	/* Back to blocking: every read and write waits in poll() first. */
	if (fcntl(fd, F_SETFL, 0) == -1) {
		seterr("fcntl: %s", strerror(errno));
		close(fd);
		return (-1);
	}
	/* Send small pieces (trickle) as they are written. */
	(void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	return (fd);
}

/*
 * Read exactly len bytes within tmo ms (from now).  *got says how many
 * arrived, whatever the outcome.
 */
static enum io
read_full(int fd, void *buf, size_t len, int tmo, size_t *got)
{
	struct pollfd	 pfd;
	uint64_t	 deadline = mono_ms() + (uint64_t)tmo, now;
	ssize_t		 n;
	size_t		 off = 0;
	int		 r;

	if (got != NULL)
		*got = 0;
	while (off < len) {
		now = mono_ms();
		if (now >= deadline)
			return (IO_TIMEOUT);
		pfd.fd = fd;
		pfd.events = POLLIN;
		r = poll(&pfd, 1, (int)(deadline - now));
		if (r == -1) {
			if (errno == EINTR)
				continue;
			return (IO_ERR);
		}
		if (r == 0)
			return (IO_TIMEOUT);
		n = read(fd, (uint8_t *)buf + off, len - off);
		if (n == -1) {
			if (errno == EINTR || errno == EAGAIN)
				continue;
			if (errno == ECONNRESET || errno == EPIPE)
				return (IO_RESET);
			return (IO_ERR);
		}
		if (n == 0)
			return (IO_EOF);
		off += (size_t)n;
		if (got != NULL)
			*got = off;
	}
	return (IO_OK);
}

static enum io
write_full(int fd, const void *buf, size_t len)
{
	struct pollfd	 pfd;
	ssize_t		 n;
	size_t		 off = 0;
	int		 r;

	while (off < len) {
		pfd.fd = fd;
		pfd.events = POLLOUT;
		r = poll(&pfd, 1, timeout_ms);
		if (r == -1) {
			if (errno == EINTR)
				continue;
			return (IO_ERR);
		}
		if (r == 0)
			return (IO_TIMEOUT);
		n = send(fd, (const uint8_t *)buf + off, len - off,
		    MSG_NOSIGNAL);
		if (n == -1) {
			if (errno == EINTR || errno == EAGAIN)
				continue;
			if (errno == ECONNRESET || errno == EPIPE)
				return (IO_RESET);
			return (IO_ERR);
		}
		off += (size_t)n;
	}
	return (IO_OK);
}

/*
 * Wait up to tmo ms for the peer to close.  Anything it sends first is
 * counted in *extra (a server that answers a bad frame misbehaves).
 */
static enum io
wait_closed(int fd, int tmo, size_t *extra)
{
	uint8_t	 buf[4096];
	enum io	 io;
	size_t	 got;
	uint64_t deadline = mono_ms() + (uint64_t)tmo, now;

	*extra = 0;
	for (;;) {
		now = mono_ms();
		if (now >= deadline)
			return (IO_TIMEOUT);
		io = read_full(fd, buf, sizeof(buf), (int)(deadline - now),
		    &got);
		*extra += got;
		if (io != IO_OK)
			return (io);
	}
}

static const char *
io_str(enum io io)
{
	switch (io) {
	case IO_OK:
		return ("ok");
	case IO_EOF:
		return ("connection closed");
	case IO_RESET:
		return ("connection reset");
	case IO_TIMEOUT:
		return ("timed out");
	case IO_ERR:
		return (strerror(errno));
	}
	return ("?");
}

/*
 * The rest of a RESULT whose first have bytes (at least the 6-byte
 * handshake header) are in first.
 */
static enum io
read_result(int fd, const uint8_t *first, size_t have, struct hs *hs)
{
	uint8_t		 buf[WIRE_RESULT_MAX];
	const char	*errstr = NULL;
	size_t		 need, mlen;
	enum io		 io;

	memcpy(buf, first, have);
	if ((io = read_full(fd, buf + have, WIRE_RESULT_MIN - have,
	    timeout_ms, NULL)) != IO_OK)
		return (io);
	mlen = buf[WIRE_RESULT_MIN - 1];
	if (mlen > WIRE_RESULT_MSG_MAX) {
		seterr("RESULT message length %zu above %d", mlen,
		    WIRE_RESULT_MSG_MAX);
		errno = EPROTO;
		return (IO_ERR);
	}
	if (mlen > 0 && (io = read_full(fd, buf + WIRE_RESULT_MIN, mlen,
	    timeout_ms, NULL)) != IO_OK)
		return (io);
	if (wire_result_parse(buf, WIRE_RESULT_MIN + mlen, &need, &hs->code,
	    hs->sproof, hs->msg, &errstr) != 0) {
		seterr("malformed RESULT: %s", errstr ? errstr : "?");
		errno = EPROTO;
		return (IO_ERR);
	}
	return (IO_OK);
}

/*
 * One handshake on fd with the given key and key name.  With
 * hs->hello already filled in (hello_given), that HELLO is sent as is
 * (a replay); likewise a FINISH in hs->finish when finish_given.
 */
static int	 hello_given, finish_given;

static enum hsres
do_handshake(int fd, const uint8_t *k, const char *name,
    const struct opts *o, struct hs *hs)
{
	uint8_t		 crand[WIRE_RANDOM_LEN], srand[WIRE_RANDOM_LEN];
	uint8_t		 head[6], want[WIRE_PROOF_LEN];
	const char	*errstr = NULL;
	uint64_t	 stime, t0, now;
	enum io		 io;

	hs->got_challenge = 0;
	hs->code = -1;
	hs->msg[0] = '\0';
	if (!hello_given) {
		randombytes_buf(crand, sizeof(crand));
		now = wire_now_ms();
		if (o != NULL)
			now += (uint64_t)o->time_offset;
		if (o != NULL && o->time_given)
			now = o->time_ms;
		wire_hello_build(hs->hello, name, crand, now);
	}
	if ((io = write_full(fd, hs->hello, sizeof(hs->hello))) != IO_OK) {
		if (io == IO_EOF || io == IO_RESET)
			return (HS_CLOSED);
		seterr("sending HELLO: %s", io_str(io));
		return (HS_ERROR);
	}

	/* CHALLENGE, or a RESULT straight away. */
	if ((io = read_full(fd, head, sizeof(head), timeout_ms, NULL)) !=
	    IO_OK) {
		if (io == IO_EOF || io == IO_RESET)
			return (HS_CLOSED);
		seterr("waiting for CHALLENGE: %s", io_str(io));
		return (HS_ERROR);
	}
	if (memcmp(head, WIRE_MAGIC, 4) != 0 || head[4] != WIRE_VERSION) {
		seterr("reply to HELLO has no magic/version (%02x %02x %02x "
		    "%02x %02x)", head[0], head[1], head[2], head[3], head[4]);
		return (HS_ERROR);
	}
	if (head[5] == WIRE_HS_RESULT)
		goto result;
	if (head[5] != WIRE_HS_CHALLENGE) {
		seterr("reply to HELLO has type %u", head[5]);
		return (HS_ERROR);
	}
	memcpy(hs->challenge, head, sizeof(head));
	if ((io = read_full(fd, hs->challenge + sizeof(head),
	    sizeof(hs->challenge) - sizeof(head), timeout_ms, NULL)) !=
	    IO_OK) {
		if (io == IO_EOF || io == IO_RESET)
			return (HS_CLOSED);
		seterr("reading CHALLENGE: %s", io_str(io));
		return (HS_ERROR);
	}
	if (wire_challenge_parse(hs->challenge, sizeof(hs->challenge), srand,
	    &stime, &errstr) == -1) {
		seterr("malformed CHALLENGE: %s", errstr ? errstr : "?");
		return (HS_ERROR);
	}
	hs->got_challenge = 1;

	wire_transcript(hs->hello, hs->challenge, hs->h);
	wire_client_proof(k, hs->h, hs->cproof);
	if (!finish_given)
		wire_finish_build(hs->finish, hs->cproof);
	if (o != NULL && o->delay_before_finish > 0)
		sleep_ms(o->delay_before_finish);
	t0 = mono_ms();
	if ((io = write_full(fd, hs->finish, sizeof(hs->finish))) != IO_OK) {
		if (io == IO_EOF || io == IO_RESET)
			return (HS_CLOSED);
		seterr("sending FINISH: %s", io_str(io));
		return (HS_ERROR);
	}
	if ((io = read_full(fd, head, sizeof(head), timeout_ms, NULL)) !=
	    IO_OK) {
		if (io == IO_EOF || io == IO_RESET)
			return (HS_CLOSED);
		seterr("waiting for RESULT: %s", io_str(io));
		return (HS_ERROR);
	}
	hs->rtt_ms = mono_ms() - t0;
	if (memcmp(head, WIRE_MAGIC, 4) != 0 || head[4] != WIRE_VERSION ||
	    head[5] != WIRE_HS_RESULT) {
		seterr("reply to FINISH is not a RESULT");
		return (HS_ERROR);
	}
 result:
	if ((io = read_result(fd, head, sizeof(head), hs)) != IO_OK) {
		if (io == IO_EOF || io == IO_RESET)
			return (HS_CLOSED);
		if (io != IO_ERR || errno != EPROTO)
			seterr("reading RESULT: %s", io_str(io));
		return (HS_ERROR);
	}
	if (hs->code != WIRE_HS_OK)
		return (HS_REFUSED);
	if (!hs->got_challenge) {
		seterr("RESULT accepted before any CHALLENGE");
		return (HS_BADPROOF);
	}
	wire_server_proof(k, hs->h, hs->cproof, want);
	if (wire_proof_cmp(want, hs->sproof) != 0)
		return (HS_BADPROOF);
	wire_session_keys(k, hs->h, hs->cproof, &hs->keys);
	return (HS_ACCEPTED);
}

static const char *
hsres_str(enum hsres r, const struct hs *hs)
{
	static char	 buf[600];

	switch (r) {
	case HS_ACCEPTED:
		return ("accepted");
	case HS_REFUSED:
		(void)snprintf(buf, sizeof(buf), "RESULT %d (%s) \"%s\"",
		    hs->code, wire_hs_strerror(hs->code), hs->msg);
		return (buf);
	case HS_BADPROOF:
		return ("RESULT accepted with a wrong server proof");
	case HS_CLOSED:
		return ("connection closed without a RESULT");
	case HS_ERROR:
		return (errmsg);
	}
	return ("?");
}

/* Connect and complete a good handshake: the fd, or done(). */
static int
connect_session(struct hs *hs)
{
	enum hsres	 r;
	int		 fd;

	if ((fd = tcp_connect()) == -1)
		done(EXIT_FAIL, "cannot connect: %s", errmsg);
	r = do_handshake(fd, key, keyname, NULL, hs);
	if (r != HS_ACCEPTED)
		done(EXIT_FAIL, "handshake with the right key failed: %s",
		    hsres_str(r, hs));
	return (fd);
}

/* A sealed PING request with the given counter into buf. */
static size_t
build_ping(const struct wire_keys *k, uint64_t counter, uint8_t *buf,
    size_t len)
{
	return (build_req(k, counter, WIRE_M_PING, NULL, buf, len));
}

/*
 * Read one response frame sent with counter and decode it: 0 with its
 * header in h and the payload at *pay (plen bytes, in a static
 * buffer), or -1 with errmsg set.
 */
static int
read_frame(int fd, const struct wire_keys *k, uint64_t counter,
    struct wire_hdr *h, const uint8_t **pay, size_t *plen)
{
	static uint8_t	 buf[FRAMEBUF];
	const char	*errstr = NULL;
	uint64_t	 rcounter;
	size_t		 ctlen, ptlen;
	ssize_t		 off;
	enum io		 io;

	if ((io = read_full(fd, buf, WIRE_FRAME_HDR, timeout_ms, NULL)) !=
	    IO_OK) {
		seterr("waiting for the response: %s", io_str(io));
		return (-1);
	}
	if (wire_frame_hdr(buf, &ctlen, &rcounter) == -1) {
		seterr("response frame length out of bounds");
		return (-1);
	}
	if (ctlen > sizeof(buf) - WIRE_FRAME_HDR) {
		seterr("response frame of %zu bytes, far too big here", ctlen);
		return (-1);
	}
	if (rcounter != counter) {
		seterr("response counter %" PRIu64 ", sent %" PRIu64,
		    rcounter, counter);
		return (-1);
	}
	if ((io = read_full(fd, buf + WIRE_FRAME_HDR, ctlen, timeout_ms,
	    NULL)) != IO_OK) {
		seterr("reading the response: %s", io_str(io));
		return (-1);
	}
	if (wire_open(k->s2c, buf, ctlen) == -1) {
		seterr("response fails authentication");
		return (-1);
	}
	ptlen = ctlen - WIRE_TAG_LEN;
	memset(h, 0, sizeof(*h));
	if ((off = wire_hdr_decode(h, buf + WIRE_FRAME_HDR, ptlen,
	    &errstr)) == -1) {
		seterr("response header: %s", errstr ? errstr : "?");
		return (-1);
	}
	if (wire_hdr_check(h, 1, ptlen - (size_t)off, &errstr) == -1) {
		seterr("response header check: %s", errstr ? errstr : "?");
		return (-1);
	}
	*pay = buf + WIRE_FRAME_HDR + off;
	*plen = ptlen - (size_t)off;
	return (0);
}

/*
 * Read and check the response to a PING sent with counter: 0 if it is
 * right, -1 with errmsg set.  The version text goes to ver.
 */
static int
read_response(int fd, const struct wire_keys *k, uint64_t counter,
    char *ver, size_t verlen)
{
	struct wire_hdr	 h;
	const uint8_t	*pay;
	size_t		 plen;

	if (read_frame(fd, k, counter, &h, &pay, &plen) == -1)
		return (-1);
	if (h.method != (WIRE_M_PING | WIRE_M_RESPONSE)) {
		seterr("response method 0x%" PRIx64 ", expected 0x%x",
		    h.method, WIRE_M_PING | WIRE_M_RESPONSE);
		return (-1);
	}
	if (h.error != WIRE_E_OK) {
		seterr("PING answered with error %" PRIu64 " (%s) %s",
		    h.error, wire_strerror(h.error), h.errmsg);
		return (-1);
	}
	if (plen < 6 || plen >= verlen || memcmp(pay, "dsrvd ", 6) != 0) {
		seterr("PING response payload is not a version string "
		    "(%zu bytes)", plen);
		return (-1);
	}
	memcpy(ver, pay, plen);
	ver[plen] = '\0';
	if (strlen(ver) != plen) {
		seterr("PING response payload has a NUL");
		return (-1);
	}
	return (0);
}

/*
 * After sending something the server must refuse: it has to close
 * within tmo ms without a byte in answer.
 */
static int
expect_closed(int fd, const char *what, int tmo)
{
	uint64_t	 t0 = mono_ms();
	size_t		 extra;
	enum io		 io;

	io = wait_closed(fd, tmo, &extra);
	close(fd);
	if (extra > 0)
		done(EXIT_FAIL, "%s: server answered with %zu bytes (%s "
		    "after)", what, extra, io_str(io));
	if (io == IO_TIMEOUT)
		done(EXIT_FAIL, "%s: connection still open after %d ms",
		    what, tmo);
	if (io == IO_ERR)
		done(EXIT_FAIL, "%s: %s", what, strerror(errno));
	done(EXIT_PASS, "%s: %s without a reply after %" PRIu64 " ms",
	    what, io_str(io), mono_ms() - t0);
}

static int
mode_ping(void)
{
	struct hs	 hs;
	uint8_t		 buf[FRAMEBUF];
	char		 ver[64];
	uint64_t	 t0;
	size_t		 len;
	enum io		 io;
	int		 fd;

	fd = connect_session(&hs);
	len = build_ping(&hs.keys, hs.keys.counter0, buf, sizeof(buf));
	t0 = mono_ms();
	if ((io = write_full(fd, buf, len)) != IO_OK)
		done(EXIT_FAIL, "sending PING: %s", io_str(io));
	if (read_response(fd, &hs.keys, hs.keys.counter0, ver,
	    sizeof(ver)) == -1)
		done(EXIT_FAIL, "ping: %s", errmsg);
	close(fd);
	done(EXIT_PASS, "ping ok: \"%s\", counter %" PRIu64 ", handshake "
	    "%" PRIu64 " ms, round trip %" PRIu64 " ms", ver,
	    hs.keys.counter0, hs.rtt_ms, mono_ms() - t0);
}

static int
mode_pings(void)
{
	struct hs	 hs;
	uint8_t		 buf[FRAMEBUF];
	char		 ver[64];
	uint64_t	 c, t0;
	unsigned int	 i;
	size_t		 len;
	enum io		 io;
	int		 fd;

	fd = connect_session(&hs);
	t0 = mono_ms();
	for (i = 0; i < count; i++) {
		if (i > 0 && delay_ms > 0)
			sleep_ms(delay_ms);
		c = hs.keys.counter0 + i;
		len = build_ping(&hs.keys, c, buf, sizeof(buf));
		if ((io = write_full(fd, buf, len)) != IO_OK)
			done(EXIT_FAIL, "sending PING %u: %s", i, io_str(io));
		if (read_response(fd, &hs.keys, c, ver, sizeof(ver)) == -1)
			done(EXIT_FAIL, "ping %u of %u: %s", i + 1, count,
			    errmsg);
	}
	close(fd);
	done(EXIT_PASS, "%u pings ok on one connection in %" PRIu64 " ms",
	    count, mono_ms() - t0);
}

static int
mode_wrongkey(void)
{
	uint8_t		 bad[WIRE_KEY_LEN];
	struct hs	 hs;
	enum hsres	 r;
	int		 fd;

	randombytes_buf(bad, sizeof(bad));
	if ((fd = tcp_connect()) == -1)
		done(EXIT_FAIL, "cannot connect: %s", errmsg);
	r = do_handshake(fd, bad, keyname, NULL, &hs);
	close(fd);
	if (r == HS_REFUSED && hs.code == WIRE_HS_AUTH)
		done(EXIT_PASS, "wrong key refused: %s", hsres_str(r, &hs));
	done(EXIT_FAIL, "wrong key: expected RESULT %d, got %s", WIRE_HS_AUTH,
	    hsres_str(r, &hs));
}

static int
mode_badname(void)
{
	uint8_t		 bad[WIRE_KEY_LEN], zero[WIRE_PROOF_LEN];
	struct hs	 hs1, hs2;
	enum hsres	 r1, r2;
	int		 fd;

	/* The reference: a known name with a wrong key. */
	randombytes_buf(bad, sizeof(bad));
	if ((fd = tcp_connect()) == -1)
		done(EXIT_FAIL, "cannot connect: %s", errmsg);
	r1 = do_handshake(fd, bad, keyname, NULL, &hs1);
	close(fd);
	if (r1 != HS_REFUSED || hs1.code != WIRE_HS_AUTH)
		done(EXIT_FAIL, "wrong key (for comparison): expected RESULT "
		    "%d, got %s", WIRE_HS_AUTH, hsres_str(r1, &hs1));

	/* An unknown name, with the real key for good measure. */
	if ((fd = tcp_connect()) == -1)
		done(EXIT_FAIL, "cannot connect: %s", errmsg);
	r2 = do_handshake(fd, key, "no-such-key", NULL, &hs2);
	close(fd);
	if (r2 != HS_REFUSED)
		done(EXIT_FAIL, "unknown key name: expected RESULT %d, got %s",
		    WIRE_HS_AUTH, hsres_str(r2, &hs2));
	if (!hs2.got_challenge)
		done(EXIT_FAIL, "unknown key name refused before CHALLENGE "
		    "(%s): distinguishable from a wrong key",
		    hsres_str(r2, &hs2));
	if (hs2.code != hs1.code || strcmp(hs2.msg, hs1.msg) != 0)
		done(EXIT_FAIL, "unknown key name gets RESULT %d \"%s\", a "
		    "wrong key RESULT %d \"%s\": distinguishable", hs2.code,
		    hs2.msg, hs1.code, hs1.msg);
	memset(zero, 0, sizeof(zero));
	if (memcmp(hs1.sproof, zero, sizeof(zero)) != 0 ||
	    memcmp(hs2.sproof, zero, sizeof(zero)) != 0)
		done(EXIT_FAIL, "refusal RESULT carries a non-zero server "
		    "proof");
	done(EXIT_PASS, "unknown key name refused like a wrong key: %s",
	    hsres_str(r2, &hs2));
}

static int
mode_truncated(void)
{
	uint8_t		 crand[WIRE_RANDOM_LEN], hello[WIRE_HELLO_LEN];
	enum io		 io;
	int		 fd;

	if ((fd = tcp_connect()) == -1)
		done(EXIT_FAIL, "cannot connect: %s", errmsg);
	randombytes_buf(crand, sizeof(crand));
	wire_hello_build(hello, keyname, crand, wire_now_ms());
	if ((io = write_full(fd, hello, 40)) != IO_OK)
		done(EXIT_FAIL, "sending 40 bytes of HELLO: %s", io_str(io));
	close(fd);
	/* The daemon has to keep serving everybody else. */
	printf("sent 40 of %d bytes of HELLO and closed; ", WIRE_HELLO_LEN);
	return (mode_ping());
}

static int
mode_replay_handshake(void)
{
	struct hs	 hs;
	enum hsres	 r;
	int		 fd;

	fd = connect_session(&hs);
	close(fd);

	/* The recorded HELLO and FINISH, against a fresh CHALLENGE. */
	if ((fd = tcp_connect()) == -1)
		done(EXIT_FAIL, "cannot connect: %s", errmsg);
	hello_given = finish_given = 1;
	r = do_handshake(fd, key, keyname, NULL, &hs);
	hello_given = finish_given = 0;
	close(fd);
	switch (r) {
	case HS_REFUSED:
		if (hs.code == WIRE_HS_AUTH)
			done(EXIT_PASS, "replayed handshake refused: %s",
			    hsres_str(r, &hs));
		if (!hs.got_challenge)
			done(EXIT_PASS, "replayed HELLO refused at once: %s",
			    hsres_str(r, &hs));
		break;
	case HS_CLOSED:
		done(EXIT_PASS, "replayed handshake: %s", hsres_str(r, &hs));
	default:
		break;
	}
	done(EXIT_FAIL, "replayed handshake: expected RESULT %d, got %s",
	    WIRE_HS_AUTH, hsres_str(r, &hs));
}

static int
mode_replay_message(void)
{
	struct hs	 hs;
	uint8_t		 buf[FRAMEBUF];
	char		 ver[64];
	size_t		 len;
	enum io		 io;
	int		 fd;

	fd = connect_session(&hs);
	len = build_ping(&hs.keys, hs.keys.counter0, buf, sizeof(buf));
	if ((io = write_full(fd, buf, len)) != IO_OK)
		done(EXIT_FAIL, "sending PING: %s", io_str(io));
	if (read_response(fd, &hs.keys, hs.keys.counter0, ver,
	    sizeof(ver)) == -1)
		done(EXIT_FAIL, "first ping: %s", errmsg);
	if ((io = write_full(fd, buf, len)) != IO_OK && io != IO_RESET)
		done(EXIT_FAIL, "sending the PING again: %s", io_str(io));
	return (expect_closed(fd, "replayed message", timeout_ms));
}

/* flip, flip-tag, flip-counter, flip-length */
static int
mode_tamper(const char *mode)
{
	struct hs	 hs;
	uint8_t		 buf[FRAMEBUF];
	char		 what[128];
	uint32_t	 l;
	size_t		 len, ctlen;
	enum io		 io;
	int		 fd;

	fd = connect_session(&hs);
	len = build_ping(&hs.keys, hs.keys.counter0, buf, sizeof(buf));
	ctlen = len - WIRE_FRAME_HDR;
	if (strcmp(mode, "flip") == 0) {
		/* A bit in the middle of the encrypted header. */
		buf[WIRE_FRAME_HDR + (ctlen - WIRE_TAG_LEN) / 2] ^= 0x10;
		(void)snprintf(what, sizeof(what), "bit flipped in the "
		    "ciphertext");
	} else if (strcmp(mode, "flip-tag") == 0) {
		buf[len - 1] ^= 0x01;
		(void)snprintf(what, sizeof(what), "bit flipped in the tag");
	} else if (strcmp(mode, "flip-counter") == 0) {
		/*
		 * A high bit: the counter is then neither the expected one
		 * nor the one the tag was made for.
		 */
		buf[4] ^= 0x40;
		(void)snprintf(what, sizeof(what), "bit flipped in the "
		    "counter");
	} else {
		/* One byte shorter: the tag ends up one byte early. */
		l = be32_get(buf) - 1;
		be32_put(buf, l);
		(void)snprintf(what, sizeof(what), "frame length one short");
	}
	if ((io = write_full(fd, buf, len)) != IO_OK && io != IO_RESET)
		done(EXIT_FAIL, "sending the frame: %s", io_str(io));
	return (expect_closed(fd, what, timeout_ms));
}

static int
mode_reorder(void)
{
	struct hs	 hs;
	uint8_t		 buf[FRAMEBUF];
	size_t		 len;
	enum io		 io;
	int		 fd;

	fd = connect_session(&hs);
	/* Properly sealed, only out of order. */
	len = build_ping(&hs.keys, hs.keys.counter0 + 1, buf, sizeof(buf));
	if ((io = write_full(fd, buf, len)) != IO_OK && io != IO_RESET)
		done(EXIT_FAIL, "sending the frame: %s", io_str(io));
	return (expect_closed(fd, "frame with counter C0+1 first",
	    timeout_ms));
}

/*
 * Half a frame, then close: the server can only log it ("connection
 * closed in the middle of a message"); the test checks the log.
 */
static int
mode_cut(void)
{
	struct hs	 hs;
	uint8_t		 buf[FRAMEBUF];
	size_t		 len;
	enum io		 io;
	int		 fd;

	fd = connect_session(&hs);
	len = build_ping(&hs.keys, hs.keys.counter0, buf, sizeof(buf));
	if ((io = write_full(fd, buf, len / 2)) != IO_OK)
		done(EXIT_FAIL, "sending half a frame: %s", io_str(io));
	/* Let it arrive on its own before the FIN. */
	sleep_ms(100);
	close(fd);
	done(EXIT_PASS, "sent %zu of %zu bytes of a frame and closed",
	    len / 2, len);
}

/*
 * A well sealed request whose header has a bad field checksum: the
 * answer is error BADREQUEST on a connection that stays open, so a
 * PING with the next counter must then work.
 */
static int
mode_badrequest(void)
{
	struct wire_hdr	 h;
	struct hs	 hs;
	uint8_t		 buf[FRAMEBUF];
	const uint8_t	*pay;
	char		 ver[64];
	size_t		 len, plen;
	ssize_t		 hl;
	enum io		 io;
	int		 fd;

	fd = connect_session(&hs);
	memset(&h, 0, sizeof(h));
	wire_hdr_set(&h, WIRE_F_METHOD, WIRE_M_PING);
	wire_hdr_set(&h, WIRE_F_TIMESTAMP, wire_now_ms());
	wire_hdr_set(&h, WIRE_F_PAYLEN, 0);
	wire_hdr_set(&h, WIRE_F_PAYCRC, 0);
	hl = wire_hdr_encode(&h, buf + WIRE_FRAME_HDR,
	    sizeof(buf) - WIRE_FRAME_HDR - WIRE_TAG_LEN);
	if (hl < 4 + 16)
		done(EXIT_LOCAL, "wire_hdr_encode failed");
	/* The crc32 of the first field (method): after HL, 4 + 8 bytes. */
	buf[WIRE_FRAME_HDR + 4 + 4 + 8] ^= 0x01;
	if ((len = wire_seal(hs.keys.c2s, hs.keys.counter0, buf,
	    (size_t)hl)) == 0)
		done(EXIT_LOCAL, "wire_seal failed");
	if ((io = write_full(fd, buf, len)) != IO_OK)
		done(EXIT_FAIL, "sending the request: %s", io_str(io));
	if (read_frame(fd, &hs.keys, hs.keys.counter0, &h, &pay, &plen) == -1)
		done(EXIT_FAIL, "bad header: %s", errmsg);
	if (h.error != WIRE_E_BADREQUEST)
		done(EXIT_FAIL, "bad header: expected error %d (%s), got %"
		    PRIu64 " (%s) %s", WIRE_E_BADREQUEST,
		    wire_strerror(WIRE_E_BADREQUEST), h.error,
		    wire_strerror(h.error), h.errmsg);
	len = build_ping(&hs.keys, hs.keys.counter0 + 1, buf, sizeof(buf));
	if ((io = write_full(fd, buf, len)) != IO_OK)
		done(EXIT_FAIL, "bad header answered (%s), then sending a "
		    "PING: %s", h.errmsg, io_str(io));
	if (read_response(fd, &hs.keys, hs.keys.counter0 + 1, ver,
	    sizeof(ver)) == -1)
		done(EXIT_FAIL, "bad header answered (%s), then the PING: "
		    "%s", h.errmsg, errmsg);
	close(fd);
	done(EXIT_PASS, "bad header answered with error %" PRIu64 " \"%s\", "
	    "connection still serves", h.error, h.errmsg);
}

/* oversize, oversize2, undersize: only a frame header goes out. */
static int
mode_oversize(const char *mode)
{
	struct hs	 hs;
	uint8_t		 buf[WIRE_FRAME_HDR];
	char		 what[128];
	uint64_t	 c, t0;
	uint32_t	 l;
	size_t		 extra;
	enum io		 io;
	int		 fd;

	if (strcmp(mode, "oversize") == 0)
		l = 0xffffffffU;
	else if (strcmp(mode, "oversize2") == 0)
		l = WIRE_FRAME_MAX + 1;
	else
		l = WIRE_FRAME_MIN - 1;
	fd = connect_session(&hs);
	c = hs.keys.counter0;
	be32_put(buf, l);
	be64_put(buf + 4, c);
	(void)snprintf(what, sizeof(what), "frame length %" PRIu32, l);
	t0 = mono_ms();
	if ((io = write_full(fd, buf, sizeof(buf))) != IO_OK &&
	    io != IO_RESET)
		done(EXIT_FAIL, "sending the frame header: %s", io_str(io));
	/* Promptly: not after a message timeout, not after 4 GB. */
	io = wait_closed(fd, 2000, &extra);
	close(fd);
	if (extra > 0)
		done(EXIT_FAIL, "%s: server answered with %zu bytes", what,
		    extra);
	if (io == IO_TIMEOUT)
		done(EXIT_FAIL, "%s: connection still open after 2 s", what);
	if (io == IO_ERR)
		done(EXIT_FAIL, "%s: %s", what, strerror(errno));
	done(EXIT_PASS, "%s: %s after %" PRIu64 " ms", what, io_str(io),
	    mono_ms() - t0);
}

static int
mode_garbage(void)
{
	uint8_t		 buf[200], head[6];
	struct hs	 hs;
	enum io		 io;
	int		 fd;

	randombytes_buf(buf, sizeof(buf));
	buf[0] = 'X';		/* surely no magic */
	if ((fd = tcp_connect()) == -1)
		done(EXIT_FAIL, "cannot connect: %s", errmsg);
	if ((io = write_full(fd, buf, sizeof(buf))) != IO_OK &&
	    io != IO_RESET)
		done(EXIT_FAIL, "sending garbage: %s", io_str(io));
	io = read_full(fd, head, sizeof(head), timeout_ms, NULL);
	if (io == IO_EOF || io == IO_RESET) {
		close(fd);
		done(EXIT_PASS, "garbage: %s", io_str(io));
	}
	if (io != IO_OK)
		done(EXIT_FAIL, "garbage: waiting for the server: %s",
		    io_str(io));
	if (memcmp(head, WIRE_MAGIC, 4) != 0 || head[4] != WIRE_VERSION ||
	    head[5] != WIRE_HS_RESULT)
		done(EXIT_FAIL, "garbage answered with something other than "
		    "a RESULT (type %u)", head[5]);
	memset(&hs, 0, sizeof(hs));
	if ((io = read_result(fd, head, sizeof(head), &hs)) != IO_OK &&
	    !(io == IO_ERR && errno == EPROTO))
		done(EXIT_PASS, "garbage: RESULT cut short (%s)", io_str(io));
	if (io != IO_OK)
		done(EXIT_FAIL, "garbage: %s", errmsg);
	if (hs.code != WIRE_HS_PROTO)
		done(EXIT_FAIL, "garbage: expected RESULT %d, got %d (%s) "
		    "\"%s\"", WIRE_HS_PROTO, hs.code,
		    wire_hs_strerror(hs.code), hs.msg);
	return (expect_closed(fd, "garbage refused with RESULT 5 and",
	    timeout_ms));
}

/* slow and skew: a refusal code expected from the handshake. */
static int
expect_refusal(const struct opts *o, int want, const char *what)
{
	struct hs	 hs;
	enum hsres	 r;
	int		 fd;

	if ((fd = tcp_connect()) == -1)
		done(EXIT_FAIL, "cannot connect: %s", errmsg);
	r = do_handshake(fd, key, keyname, o, &hs);
	close(fd);
	if (r == HS_REFUSED && hs.code == want)
		done(EXIT_PASS, "%s refused: %s", what, hsres_str(r, &hs));
	done(EXIT_FAIL, "%s: expected RESULT %d (%s), got %s", what, want,
	    wire_hs_strerror(want), hsres_str(r, &hs));
}

static int
mode_slow(void)
{
	struct opts	 o;
	char		 what[64];

	memset(&o, 0, sizeof(o));
	o.delay_before_finish = delay_ms >= 0 ? delay_ms : 200;
	(void)snprintf(what, sizeof(what), "FINISH %d ms late",
	    o.delay_before_finish);
	return (expect_refusal(&o, WIRE_HS_RTT, what));
}

static int
mode_skew(const char *mode)
{
	struct opts	 o;
	char		 what[64];

	memset(&o, 0, sizeof(o));
	if (strcmp(mode, "skew-far") == 0) {
		/* 2^63 ahead: as a signed difference, INT64_MIN. */
		o.time_offset = INT64_MIN;
		return (expect_refusal(&o, WIRE_HS_SKEW,
		    "clock 2^63 ms ahead"));
	}
	if (strcmp(mode, "skew-zero") == 0) {
		o.time_given = 1;
		o.time_ms = 0;
		return (expect_refusal(&o, WIRE_HS_SKEW, "client time 0"));
	}
	o.time_offset = -(int64_t)(delay_ms >= 0 ? delay_ms : 3600000);
	(void)snprintf(what, sizeof(what), "clock %" PRId64 " ms off",
	    o.time_offset);
	return (expect_refusal(&o, WIRE_HS_SKEW, what));
}

static int
mode_trickle(void)
{
	struct hs	 hs;
	uint8_t		 buf[FRAMEBUF], c;
	struct pollfd	 pfd;
	uint64_t	 t0;
	size_t		 len, i, sent = 0;
	ssize_t		 n;
	enum io		 io;
	int		 fd, step = delay_ms >= 0 ? delay_ms : 1000, r;

	fd = connect_session(&hs);
	len = build_ping(&hs.keys, hs.keys.counter0, buf, sizeof(buf));
	t0 = mono_ms();
	for (i = 0; i < len; i++) {
		if ((io = write_full(fd, buf + i, 1)) != IO_OK) {
			if (io != IO_RESET)
				done(EXIT_FAIL, "trickle: %s", io_str(io));
			break;
		}
		sent++;
		/* Between bytes, watch for the close. */
		pfd.fd = fd;
		pfd.events = POLLIN;
		r = poll(&pfd, 1, i + 1 < len ? step : 0);
		if (r == -1 && errno != EINTR)
			done(EXIT_LOCAL, "poll: %s", strerror(errno));
		if (r == 1) {
			n = read(fd, &c, 1);
			if (n == 1)
				done(EXIT_FAIL, "trickle: server sent data "
				    "after %zu of %zu bytes", i + 1, len);
			break;
		}
	}
	if (i >= len) {
		/* The whole frame got through: it must not have. */
		done(EXIT_FAIL, "trickle: all %zu bytes sent over %" PRIu64
		    " ms, connection still open", len, mono_ms() - t0);
	}
	close(fd);
	done(EXIT_PASS, "trickle: closed after %" PRIu64 " ms, %zu of %zu "
	    "bytes sent", mono_ms() - t0, sent, len);
}

static int
mode_idle(void)
{
	struct hs	 hs;
	uint64_t	 t0;
	size_t		 extra;
	enum io		 io;
	int		 fd, tmo = delay_ms >= 0 ? delay_ms : timeout_ms;

	fd = connect_session(&hs);
	t0 = mono_ms();
	io = wait_closed(fd, tmo, &extra);
	close(fd);
	if (extra > 0)
		done(EXIT_FAIL, "idle: server sent %zu bytes", extra);
	if (io == IO_EOF || io == IO_RESET)
		done(EXIT_PASS, "idle: closed after %" PRIu64 " ms",
		    mono_ms() - t0);
	done(EXIT_FAIL, "idle: %s after %d ms", io_str(io), tmo);
}

/*
 * The rest of a RESULT after its first 6 bytes arrived in head, which
 * must be the RESULT's; done() with what went wrong otherwise.
 */
static void
expect_result(int fd, const uint8_t *head, struct hs *hs, const char *what)
{
	enum io	 io;

	if (memcmp(head, WIRE_MAGIC, 4) != 0 || head[4] != WIRE_VERSION ||
	    head[5] != WIRE_HS_RESULT)
		done(EXIT_FAIL, "%s: got something other than a RESULT "
		    "(type %u)", what, head[5]);
	memset(hs, 0, sizeof(*hs));
	if ((io = read_result(fd, head, 6, hs)) != IO_OK)
		done(EXIT_FAIL, "%s: reading RESULT: %s", what,
		    io == IO_ERR && errno == EPROTO ? errmsg : io_str(io));
}

/* After a refusal: the server closes at once, without another byte. */
static void
expect_eof(int fd, const char *what)
{
	size_t	 extra;
	enum io	 io;

	io = wait_closed(fd, timeout_ms, &extra);
	if (extra > 0)
		done(EXIT_FAIL, "%s: %zu more bytes after the RESULT", what,
		    extra);
	if (io != IO_EOF && io != IO_RESET)
		done(EXIT_FAIL, "%s: after the RESULT: %s", what, io_str(io));
}

/*
 * A handshake that stops: silent (connect and say nothing), half-hello
 * (40 bytes of HELLO), no-finish (HELLO, read the CHALLENGE, no
 * FINISH).  Within -d ms the server must answer RESULT 6 (TIMEOUT),
 * and then close.
 */
static int
mode_stall(const char *mode)
{
	struct hs	 hs;
	uint8_t		 crand[WIRE_RANDOM_LEN], hello[WIRE_HELLO_LEN];
	uint8_t		 chal[WIRE_CHALLENGE_LEN], head[6];
	const char	*what;
	uint64_t	 t0, ms;
	enum io		 io;
	int		 fd, tmo = delay_ms >= 0 ? delay_ms : timeout_ms;

	if ((fd = tcp_connect()) == -1)
		done(EXIT_FAIL, "cannot connect: %s", errmsg);
	t0 = mono_ms();
	randombytes_buf(crand, sizeof(crand));
	wire_hello_build(hello, keyname, crand, wire_now_ms());
	if (strcmp(mode, "silent") == 0)
		what = "silent client";
	else if (strcmp(mode, "half-hello") == 0) {
		what = "40 bytes of HELLO";
		if ((io = write_full(fd, hello, 40)) != IO_OK)
			done(EXIT_FAIL, "%s: %s", what, io_str(io));
	} else {
		what = "HELLO but no FINISH";
		if ((io = write_full(fd, hello, sizeof(hello))) != IO_OK)
			done(EXIT_FAIL, "%s: %s", what, io_str(io));
		if ((io = read_full(fd, chal, sizeof(chal), tmo, NULL)) !=
		    IO_OK)
			done(EXIT_FAIL, "%s: waiting for CHALLENGE: %s", what,
			    io_str(io));
		if (chal[5] != WIRE_HS_CHALLENGE)
			done(EXIT_FAIL, "%s: type %u in place of CHALLENGE",
			    what, chal[5]);
	}
	io = read_full(fd, head, sizeof(head), tmo, NULL);
	ms = mono_ms() - t0;
	if (io != IO_OK)
		done(EXIT_FAIL, "%s: %s after %" PRIu64 " ms, no RESULT",
		    what, io_str(io), ms);
	expect_result(fd, head, &hs, what);
	if (hs.code != WIRE_HS_TIMEOUT)
		done(EXIT_FAIL, "%s: expected RESULT %d, got %d (%s) \"%s\"",
		    what, WIRE_HS_TIMEOUT, hs.code,
		    wire_hs_strerror(hs.code), hs.msg);
	expect_eof(fd, what);
	close(fd);
	done(EXIT_PASS, "%s: RESULT %d \"%s\" after %" PRIu64 " ms, then "
	    "closed", what, hs.code, hs.msg, ms);
}

static int
mode_hold(void)
{
	struct hs	 hs;
	enum hsres	 r;
	unsigned int	 i;
	int		*fds, fd;

	if ((fds = calloc(count, sizeof(*fds))) == NULL)
		done(EXIT_LOCAL, "calloc: %s", strerror(errno));
	for (i = 0; i < count; i++) {
		if ((fds[i] = tcp_connect()) == -1)
			done(EXIT_FAIL, "connection %u: cannot connect: %s",
			    i + 1, errmsg);
		r = do_handshake(fds[i], key, keyname, NULL, &hs);
		if (r != HS_ACCEPTED)
			done(EXIT_FAIL, "connection %u of %u: %s", i + 1,
			    count, hsres_str(r, &hs));
	}
	if ((fd = tcp_connect()) == -1)
		done(EXIT_FAIL, "connection %u: cannot connect: %s", count + 1,
		    errmsg);
	r = do_handshake(fd, key, keyname, NULL, &hs);
	close(fd);
	for (i = 0; i < count; i++)
		close(fds[i]);
	free(fds);
	if (r == HS_REFUSED && hs.code == WIRE_HS_BUSY && hs.msg[0] != '\0')
		done(EXIT_PASS, "%u connections held, the next one refused: "
		    "%s", count, hsres_str(r, &hs));
	if (r == HS_REFUSED && hs.code == WIRE_HS_BUSY)
		done(EXIT_FAIL, "connection %u refused with BUSY but no "
		    "message", count + 1);
	done(EXIT_FAIL, "%u connections held, connection %u: expected "
	    "RESULT %d (busy), got %s", count, count + 1, WIRE_HS_BUSY,
	    hsres_str(r, &hs));
}

/*
 * busy-first: -n sessions held (max connections), then a new
 * connection must find RESULT 4 waiting before it sends a byte; a
 * HELLO sent after it must still be taken (the server reads on until
 * the client closes), and the server then closes.
 */
static int
mode_busy_first(void)
{
	struct hs	 hs;
	uint8_t		 crand[WIRE_RANDOM_LEN], hello[WIRE_HELLO_LEN];
	uint8_t		 head[6];
	const char	*what = "connection over max connections";
	uint64_t	 t0, ms;
	enum hsres	 r;
	unsigned int	 i;
	enum io		 io;
	int		*fds, fd;

	if ((fds = calloc(count, sizeof(*fds))) == NULL)
		done(EXIT_LOCAL, "calloc: %s", strerror(errno));
	for (i = 0; i < count; i++) {
		if ((fds[i] = tcp_connect()) == -1)
			done(EXIT_FAIL, "connection %u: cannot connect: %s",
			    i + 1, errmsg);
		r = do_handshake(fds[i], key, keyname, NULL, &hs);
		if (r != HS_ACCEPTED)
			done(EXIT_FAIL, "connection %u of %u: %s", i + 1,
			    count, hsres_str(r, &hs));
	}
	if ((fd = tcp_connect()) == -1)
		done(EXIT_FAIL, "connection %u: cannot connect: %s", count + 1,
		    errmsg);
	t0 = mono_ms();
	io = read_full(fd, head, sizeof(head), timeout_ms, NULL);
	ms = mono_ms() - t0;
	if (io != IO_OK)
		done(EXIT_FAIL, "%s: nothing waiting before HELLO: %s after "
		    "%" PRIu64 " ms", what, io_str(io), ms);
	expect_result(fd, head, &hs, what);
	if (hs.code != WIRE_HS_BUSY || hs.msg[0] == '\0')
		done(EXIT_FAIL, "%s: expected RESULT %d with a reason, got "
		    "%d (%s) \"%s\"", what, WIRE_HS_BUSY, hs.code,
		    wire_hs_strerror(hs.code), hs.msg);
	randombytes_buf(crand, sizeof(crand));
	wire_hello_build(hello, keyname, crand, wire_now_ms());
	if ((io = write_full(fd, hello, sizeof(hello))) != IO_OK)
		done(EXIT_FAIL, "%s: HELLO after the RESULT: %s", what,
		    io_str(io));
	expect_eof(fd, what);
	close(fd);
	for (i = 0; i < count; i++)
		close(fds[i]);
	free(fds);
	done(EXIT_PASS, "%u sessions held; RESULT %d \"%s\" waiting %" PRIu64
	    " ms after connecting, before HELLO; HELLO sent after it, then "
	    "closed", count, hs.code, hs.msg, ms);
}

/* A sealed request without a payload, named if name is not NULL. */
static size_t
build_req(const struct wire_keys *k, uint64_t counter, uint64_t method,
    const char *name, uint8_t *buf, size_t len)
{
	struct wire_hdr	 h;
	ssize_t		 hl;

	memset(&h, 0, sizeof(h));
	wire_hdr_set(&h, WIRE_F_METHOD, method);
	if (name != NULL && wire_hdr_set_name(&h, name) == -1)
		done(EXIT_LOCAL, "bad request name %s", name);
	wire_hdr_set(&h, WIRE_F_TIMESTAMP, wire_now_ms());
	wire_hdr_set(&h, WIRE_F_PAYLEN, 0);
	wire_hdr_set(&h, WIRE_F_PAYCRC, 0);
	hl = wire_hdr_encode(&h, buf + WIRE_FRAME_HDR,
	    len - WIRE_FRAME_HDR - WIRE_TAG_LEN);
	if (hl == -1)
		done(EXIT_LOCAL, "wire_hdr_encode failed");
	if ((len = wire_seal(k->c2s, counter, buf, (size_t)hl)) == 0)
		done(EXIT_LOCAL, "wire_seal failed");
	return (len);
}

/*
 * pipeline: -n requests (at least 2) sealed with counters C0, C0 + 1,
 * ... and sent in one write: STAT of a chunk that is not there (served
 * by storage) alternating with PING (answered by network at once).
 * Every response must come in request order, with its request's
 * counter and method: STAT NOTFOUND, PING ok.
 */
static int
mode_pipeline(void)
{
	struct wire_hdr	 h;
	struct hs	 hs;
	uint8_t		*buf;
	const uint8_t	*pay;
	unsigned int	 i, n = count < 2 ? 2 : count;
	uint64_t	 m, t0;
	size_t		 len = 0, plen;
	enum io		 io;
	int		 fd;

	if ((buf = calloc(n, FRAMEBUF)) == NULL)
		done(EXIT_LOCAL, "calloc: %s", strerror(errno));
	fd = connect_session(&hs);
	for (i = 0; i < n; i++) {
		m = i % 2 == 0 ? WIRE_M_STAT : WIRE_M_PING;
		len += build_req(&hs.keys, hs.keys.counter0 + i, m,
		    m == WIRE_M_STAT ? "pp/not-there" : NULL, buf + len,
		    FRAMEBUF);
	}
	t0 = mono_ms();
	if ((io = write_full(fd, buf, len)) != IO_OK)
		done(EXIT_FAIL, "sending %u requests in one write: %s", n,
		    io_str(io));
	for (i = 0; i < n; i++) {
		m = i % 2 == 0 ? WIRE_M_STAT : WIRE_M_PING;
		if (read_frame(fd, &hs.keys, hs.keys.counter0 + i, &h, &pay,
		    &plen) == -1)
			done(EXIT_FAIL, "response %u of %u: %s", i + 1, n,
			    errmsg);
		if (h.method != (m | WIRE_M_RESPONSE))
			done(EXIT_FAIL, "response %u of %u has method 0x%"
			    PRIx64 ", expected 0x%" PRIx64, i + 1, n,
			    h.method, m | WIRE_M_RESPONSE);
		if (h.error != (m == WIRE_M_STAT ? WIRE_E_NOTFOUND :
		    WIRE_E_OK))
			done(EXIT_FAIL, "response %u of %u (%s): error %"
			    PRIu64 " (%s) %s", i + 1, n, wire_method_name(m),
			    h.error, wire_strerror(h.error), h.errmsg);
	}
	close(fd);
	free(buf);
	done(EXIT_PASS, "%u requests in one write (STAT, PING, ...), %u "
	    "responses in order, counters C0..C0+%u, in %" PRIu64 " ms", n,
	    n, n - 1, mono_ms() - t0);
}

/*
 * Look for the key in another process's memory: the raw 32 bytes and
 * the base64 text of the key file (a stdio buffer left behind would
 * leak it just as well).  Every mapping is read through /proc/PID/mem,
 * which also reaches PROT_NONE pages (a key parked behind
 * sodium_mprotect_noaccess() is still in memory).
 */
static int
mode_memscan(const char *pidstr)
{
	char		 path[64], line[1024], perms[8], name[512];
	char		 b64[sodium_base64_ENCODED_LEN(WIRE_KEY_LEN,
			    sodium_base64_VARIANT_ORIGINAL)];
	const char	*errstr = NULL, *p, *kind;
	unsigned long long start, end, off;
	const size_t	 chunk = 1024 * 1024, overlap = 64;
	uint8_t		*buf;
	FILE		*maps;
	size_t		 b64len, have, nmaps = 0, nread = 0;
	ssize_t		 n;
	pid_t		 pid;
	int		 memfd, found = 0;

	pid = (pid_t)strtonum(pidstr, 1, INT32_MAX, &errstr);
	if (errstr != NULL)
		done(EXIT_LOCAL, "memscan: pid %s is %s", pidstr, errstr);
	if (pid == getpid())
		done(EXIT_LOCAL, "memscan: will not scan itself");
	sodium_bin2base64(b64, sizeof(b64), key, sizeof(key),
	    sodium_base64_VARIANT_ORIGINAL);
	b64len = strlen(b64);

	(void)snprintf(path, sizeof(path), "/proc/%d/maps", (int)pid);
	if ((maps = fopen(path, "re")) == NULL)
		done(EXIT_LOCAL, "memscan: %s: %s", path, strerror(errno));
	(void)snprintf(path, sizeof(path), "/proc/%d/mem", (int)pid);
	if ((memfd = open(path, O_RDONLY | O_CLOEXEC)) == -1)
		done(EXIT_LOCAL, "memscan: %s: %s", path, strerror(errno));
	if ((buf = malloc(chunk + overlap)) == NULL)
		done(EXIT_LOCAL, "memscan: malloc: %s", strerror(errno));

	while (fgets(line, sizeof(line), maps) != NULL) {
		name[0] = '\0';
		if (sscanf(line, "%llx-%llx %7s %*s %*s %*s %511s", &start,
		    &end, perms, name) < 3)
			done(EXIT_LOCAL, "memscan: cannot parse maps line: %s",
			    line);
		/* Kernel pages that cannot be read this way. */
		if (strcmp(name, "[vvar]") == 0 ||
		    strcmp(name, "[vvar_vclock]") == 0 ||
		    strcmp(name, "[vsyscall]") == 0)
			continue;
		/* Sanitizer shadow and other huge reservations: no keys. */
		if (end - start > (1ULL << 32))
			continue;
		nmaps++;
		have = 0;
		for (off = start; off < end; ) {
			size_t want = end - off < chunk ? end - off : chunk;

			n = pread(memfd, buf + have, want, (off_t)off);
			if (n <= 0) {
				/* EIO for pages that are not there at all. */
				if (n == -1 && errno != EIO && errno != EFAULT)
					done(EXIT_LOCAL, "memscan: %s at "
					    "0x%llx: %s", path, off,
					    strerror(errno));
				break;
			}
			nread += (size_t)n;
			have += (size_t)n;
			kind = NULL;
			if ((p = memmem(buf, have, key, sizeof(key))) != NULL)
				kind = "raw key bytes";
			else if ((p = memmem(buf, have, b64, b64len)) != NULL)
				kind = "base64 text of the key";
			if (kind != NULL) {
				printf("%s at 0x%llx in %s %s %s\n", kind,
				    off - (have - (size_t)n) +
				    (unsigned long long)(p - (char *)buf),
				    perms, name[0] ? name : "[anon]",
				    found ? "(again)" : "");
				found++;
				if (found >= 10)
					goto out;
				/* Past this copy, in case there are more. */
				memset(buf, 0, have);
			}
			off += (unsigned long long)n;
			/* Keep a tail so a copy across chunks is seen. */
			if (have > overlap) {
				memmove(buf, buf + have - overlap, overlap);
				have = overlap;
			}
		}
	}
	if (ferror(maps))
		done(EXIT_LOCAL, "memscan: reading maps: %s", strerror(errno));
 out:
	sodium_memzero(buf, chunk + overlap);
	sodium_memzero(b64, sizeof(b64));
	free(buf);
	fclose(maps);
	close(memfd);
	if (nread == 0)
		done(EXIT_LOCAL, "memscan: pid %d: nothing readable",
		    (int)pid);
	if (found)
		done(EXIT_FAIL, "memscan: pid %d: key found (%d place%s)",
		    (int)pid, found, found == 1 ? "" : "s");
	done(EXIT_PASS, "memscan: pid %d: key not found in %zu mappings, "
	    "%zu bytes", (int)pid, nmaps, nread);
}

/*
 * write-name HEX: a WRITE of one byte under a name given in hex, built
 * field by field so that it may hold what wire_hdr_encode refuses (a
 * NUL, a length the protocol forbids).  The server must answer with
 * error BADNAME or BADREQUEST and keep the connection serving.
 */
static int
mode_write_name(const char *hex)
{
	struct wire_hdr	 h;
	struct hs	 hs;
	uint8_t		 buf[FRAMEBUF], name[512], payload = 'x';
	const uint8_t	*pay;
	char		 ver[64];
	size_t		 len, nlen, plen, off = 4, hexlen, i;
	unsigned int	 b;
	enum io		 io;
	int		 fd;

	hexlen = strlen(hex);
	if (hexlen % 2 != 0 || hexlen / 2 > sizeof(name))
		done(EXIT_LOCAL, "write-name: bad hex name");
	nlen = hexlen / 2;
	for (i = 0; i < nlen; i++) {
		if (sscanf(hex + 2 * i, "%2x", &b) != 1)
			done(EXIT_LOCAL, "write-name: bad hex name");
		name[i] = (uint8_t)b;
	}

	fd = connect_session(&hs);
	/* Fields in tag order, as wire_hdr_encode would write them. */
	len = sizeof(buf) - WIRE_FRAME_HDR - WIRE_TAG_LEN - 1;
	if (wire_field_uint(buf + WIRE_FRAME_HDR, len, &off, WIRE_F_METHOD,
	    WIRE_M_WRITE) == -1 ||
	    (nlen > 0 && wire_field_bytes(buf + WIRE_FRAME_HDR, len, &off,
	    WIRE_F_NAME, name, nlen) == -1) ||
	    wire_field_uint(buf + WIRE_FRAME_HDR, len, &off,
	    WIRE_F_TIMESTAMP, wire_now_ms()) == -1 ||
	    wire_field_uint(buf + WIRE_FRAME_HDR, len, &off, WIRE_F_PAYLEN,
	    1) == -1 ||
	    wire_field_uint(buf + WIRE_FRAME_HDR, len, &off, WIRE_F_PAYCRC,
	    crc32(0L, &payload, 1)) == -1)
		done(EXIT_LOCAL, "write-name: header does not fit");
	be32_put(buf + WIRE_FRAME_HDR, (uint32_t)(off - 4));
	buf[WIRE_FRAME_HDR + off] = payload;
	if ((len = wire_seal(hs.keys.c2s, hs.keys.counter0, buf,
	    off + 1)) == 0)
		done(EXIT_LOCAL, "wire_seal failed");
	if ((io = write_full(fd, buf, len)) != IO_OK)
		done(EXIT_FAIL, "sending the WRITE: %s", io_str(io));
	if (read_frame(fd, &hs.keys, hs.keys.counter0, &h, &pay, &plen) == -1)
		done(EXIT_FAIL, "WRITE of a bad name: %s", errmsg);
	if (h.error != WIRE_E_BADNAME && h.error != WIRE_E_BADREQUEST)
		done(EXIT_FAIL, "WRITE of a bad name answered with error %"
		    PRIu64 " (%s) %s", h.error, wire_strerror(h.error),
		    h.errmsg);
	len = build_ping(&hs.keys, hs.keys.counter0 + 1, buf, sizeof(buf));
	if ((io = write_full(fd, buf, len)) != IO_OK)
		done(EXIT_FAIL, "bad name answered, then sending a PING: %s",
		    io_str(io));
	if (read_response(fd, &hs.keys, hs.keys.counter0 + 1, ver,
	    sizeof(ver)) == -1)
		done(EXIT_FAIL, "bad name answered, then the PING: %s",
		    errmsg);
	close(fd);
	done(EXIT_PASS, "WRITE of a bad name answered with error %" PRIu64
	    " (%s) \"%s\", connection still serves", h.error,
	    wire_strerror(h.error), h.errmsg);
}

/*
 * list-after HEX: a LIST of the directory "ab" whose payload, the name
 * to start after, is given in hex (and may be what a NAME cannot be).
 * The server must answer with error BADNAME and keep the connection
 * serving.
 */
static int
mode_list_after(const char *hex)
{
	struct wire_hdr	 h;
	struct hs	 hs;
	uint8_t		 buf[FRAMEBUF], after[512];
	const uint8_t	*pay;
	char		 ver[64];
	size_t		 len, alen, plen, off = 4, hexlen, i;
	unsigned int	 b;
	enum io		 io;
	int		 fd;

	hexlen = strlen(hex);
	if (hexlen % 2 != 0 || hexlen / 2 > sizeof(after))
		done(EXIT_LOCAL, "list-after: bad hex name");
	alen = hexlen / 2;
	for (i = 0; i < alen; i++) {
		if (sscanf(hex + 2 * i, "%2x", &b) != 1)
			done(EXIT_LOCAL, "list-after: bad hex name");
		after[i] = (uint8_t)b;
	}

	fd = connect_session(&hs);
	len = sizeof(buf) - WIRE_FRAME_HDR - WIRE_TAG_LEN - alen;
	if (wire_field_uint(buf + WIRE_FRAME_HDR, len, &off, WIRE_F_METHOD,
	    WIRE_M_LIST) == -1 ||
	    wire_field_bytes(buf + WIRE_FRAME_HDR, len, &off, WIRE_F_NAME,
	    "ab", 2) == -1 ||
	    wire_field_uint(buf + WIRE_FRAME_HDR, len, &off,
	    WIRE_F_TIMESTAMP, wire_now_ms()) == -1 ||
	    wire_field_uint(buf + WIRE_FRAME_HDR, len, &off, WIRE_F_PAYLEN,
	    alen) == -1 ||
	    wire_field_uint(buf + WIRE_FRAME_HDR, len, &off, WIRE_F_PAYCRC,
	    alen > 0 ? crc32(0L, after, alen) : 0) == -1)
		done(EXIT_LOCAL, "list-after: header does not fit");
	be32_put(buf + WIRE_FRAME_HDR, (uint32_t)(off - 4));
	memcpy(buf + WIRE_FRAME_HDR + off, after, alen);
	if ((len = wire_seal(hs.keys.c2s, hs.keys.counter0, buf,
	    off + alen)) == 0)
		done(EXIT_LOCAL, "wire_seal failed");
	if ((io = write_full(fd, buf, len)) != IO_OK)
		done(EXIT_FAIL, "sending the LIST: %s", io_str(io));
	if (read_frame(fd, &hs.keys, hs.keys.counter0, &h, &pay, &plen) == -1)
		done(EXIT_FAIL, "LIST after a bad name: %s", errmsg);
	if (h.error != WIRE_E_BADNAME)
		done(EXIT_FAIL, "LIST after a bad name answered with error %"
		    PRIu64 " (%s) %s", h.error, wire_strerror(h.error),
		    h.errmsg);
	len = build_ping(&hs.keys, hs.keys.counter0 + 1, buf, sizeof(buf));
	if ((io = write_full(fd, buf, len)) != IO_OK)
		done(EXIT_FAIL, "bad start name answered, then sending a "
		    "PING: %s", io_str(io));
	if (read_response(fd, &hs.keys, hs.keys.counter0 + 1, ver,
	    sizeof(ver)) == -1)
		done(EXIT_FAIL, "bad start name answered, then the PING: %s",
		    errmsg);
	close(fd);
	done(EXIT_PASS, "LIST after a bad name answered with error %" PRIu64
	    " (%s) \"%s\", connection still serves", h.error,
	    wire_strerror(h.error), h.errmsg);
}

/*
 * req METHOD NAME PAYLEN [PAYCRC]: one request built field by field,
 * in tag order, as the page has it: method METHOD (decimal or 0x..),
 * a name field of the bytes given in hex (none for "-", an empty one
 * for ""), and a payload of PAYLEN bytes 'x' with paycrc its crc32,
 * or PAYCRC.  Whatever the answer, a PING with the next counter must
 * then work: the tool exits 0 when both came, and prints the answer
 * ("error N (TEXT) "errmsg", method 0xMM, paylen P") for the test to
 * judge.
 */
static int
mode_req(int argc, char *argv[])
{
	struct wire_hdr	 h;
	struct hs	 hs;
	uint8_t		 name[1024], *buf, *pt;
	const uint8_t	*pay;
	char		 ver[64], *ep;
	const char	*hex;
	uint64_t	 method, paycrc;
	size_t		 len, nlen = 0, paylen, plen, off = 4, hexlen, i;
	unsigned int	 b;
	enum io		 io;
	int		 fd, named;

	if (argc != 4 && argc != 5)
		usage();
	errno = 0;
	method = strtoull(argv[1], &ep, 0);
	if (argv[1][0] == '\0' || *ep != '\0' || errno != 0)
		done(EXIT_LOCAL, "req: bad method %s", argv[1]);
	hex = argv[2];
	named = strcmp(hex, "-") != 0;
	if (named) {
		hexlen = strlen(hex);
		if (hexlen % 2 != 0 || hexlen / 2 > sizeof(name))
			done(EXIT_LOCAL, "req: bad hex name");
		nlen = hexlen / 2;
		for (i = 0; i < nlen; i++) {
			if (sscanf(hex + 2 * i, "%2x", &b) != 1)
				done(EXIT_LOCAL, "req: bad hex name");
			name[i] = (uint8_t)b;
		}
	}
	errno = 0;
	paylen = strtoull(argv[3], &ep, 0);
	if (argv[3][0] == '\0' || *ep != '\0' || errno != 0 ||
	    paylen > WIRE_PLAIN_MAX)
		done(EXIT_LOCAL, "req: bad payload length %s", argv[3]);

	len = WIRE_FRAME_HDR + 4 + WIRE_HDR_MAX + paylen + WIRE_TAG_LEN;
	if ((buf = calloc(1, len)) == NULL)
		done(EXIT_LOCAL, "req: %s", strerror(errno));
	pt = buf + WIRE_FRAME_HDR;
	memset(pt + 4 + WIRE_HDR_MAX, 'x', paylen);
	paycrc = crc32(0L, pt + 4 + WIRE_HDR_MAX, paylen);
	if (argc == 5) {
		errno = 0;
		paycrc = strtoull(argv[4], &ep, 0);
		if (argv[4][0] == '\0' || *ep != '\0' || errno != 0)
			done(EXIT_LOCAL, "req: bad paycrc %s", argv[4]);
	}
	if (wire_field_uint(pt, 4 + WIRE_HDR_MAX, &off, WIRE_F_METHOD,
	    method) == -1 ||
	    (named && wire_field_bytes(pt, 4 + WIRE_HDR_MAX, &off,
	    WIRE_F_NAME, name, nlen) == -1) ||
	    wire_field_uint(pt, 4 + WIRE_HDR_MAX, &off, WIRE_F_TIMESTAMP,
	    wire_now_ms()) == -1 ||
	    wire_field_uint(pt, 4 + WIRE_HDR_MAX, &off, WIRE_F_PAYLEN,
	    paylen) == -1 ||
	    wire_field_uint(pt, 4 + WIRE_HDR_MAX, &off, WIRE_F_PAYCRC,
	    paycrc) == -1)
		done(EXIT_LOCAL, "req: header does not fit");
	be32_put(pt, (uint32_t)(off - 4));
	/* The payload right after the header. */
	memmove(pt + off, pt + 4 + WIRE_HDR_MAX, paylen);

	fd = connect_session(&hs);
	if ((len = wire_seal(hs.keys.c2s, hs.keys.counter0, buf,
	    off + paylen)) == 0)
		done(EXIT_LOCAL, "wire_seal failed");
	if ((io = write_full(fd, buf, len)) != IO_OK)
		done(EXIT_FAIL, "sending the request: %s", io_str(io));
	free(buf);
	if (read_frame(fd, &hs.keys, hs.keys.counter0, &h, &pay, &plen) == -1)
		done(EXIT_FAIL, "the request's answer: %s", errmsg);
	if ((buf = malloc(FRAMEBUF)) == NULL)
		done(EXIT_LOCAL, "req: %s", strerror(errno));
	len = build_ping(&hs.keys, hs.keys.counter0 + 1, buf, FRAMEBUF);
	if ((io = write_full(fd, buf, len)) != IO_OK)
		done(EXIT_FAIL, "answered with error %" PRIu64 " \"%s\", then "
		    "sending a PING: %s", h.error, h.errmsg, io_str(io));
	free(buf);
	if (read_response(fd, &hs.keys, hs.keys.counter0 + 1, ver,
	    sizeof(ver)) == -1)
		done(EXIT_FAIL, "answered with error %" PRIu64 " \"%s\", then "
		    "the PING: %s", h.error, h.errmsg, errmsg);
	close(fd);
	done(EXIT_PASS, "error %" PRIu64 " (%s) \"%s\", method 0x%02" PRIx64
	    ", paylen %zu, connection still serves", h.error,
	    wire_strerror(h.error), h.errmsg, h.method, plen);
}

int
main(int argc, char *argv[])
{
	const char	*errstr = NULL, *mode;
	char		 kerr[512];
	int		 ch;

	while ((ch = getopt(argc, argv, "a:d:K:k:n:p:t:")) != -1) {
		switch (ch) {
		case 'a':
			addr = optarg;
			break;
		case 'd':
			delay_ms = (int)strtonum(optarg, 0, 86400000, &errstr);
			break;
		case 'K':
			keyname = optarg;
			break;
		case 'k':
			keyfile = optarg;
			break;
		case 'n':
			count = (unsigned int)strtonum(optarg, 1, 100000,
			    &errstr);
			break;
		case 'p':
			port = optarg;
			break;
		case 't':
			timeout_ms = (int)strtonum(optarg, 1, 3600, &errstr) *
			    1000;
			break;
		default:
			usage();
		}
		if (errstr != NULL)
			done(EXIT_LOCAL, "-%c %s: %s", ch, optarg, errstr);
	}
	argc -= optind;
	argv += optind;
	if (argc < 1)
		usage();
	mode = argv[0];

	if (sodium_init() == -1)
		done(EXIT_LOCAL, "sodium_init failed");
	if (keyfile == NULL)
		usage();
	if (key_load(keyfile, key, kerr, sizeof(kerr)) == -1)
		done(EXIT_LOCAL, "%s", kerr);

	if (strcmp(mode, "memscan") == 0) {
		if (argc != 2)
			usage();
		return (mode_memscan(argv[1]));
	}
	if (addr == NULL || port == NULL || keyname == NULL)
		usage();
	if (strcmp(mode, "req") == 0) {
		if (signal(SIGPIPE, SIG_IGN) == SIG_ERR)
			done(EXIT_LOCAL, "signal: %s", strerror(errno));
		return (mode_req(argc, argv));
	}
	if (strcmp(mode, "write-name") == 0 ||
	    strcmp(mode, "list-after") == 0) {
		if (argc != 2)
			usage();
		if (signal(SIGPIPE, SIG_IGN) == SIG_ERR)
			done(EXIT_LOCAL, "signal: %s", strerror(errno));
		if (strcmp(mode, "list-after") == 0)
			return (mode_list_after(argv[1]));
		return (mode_write_name(argv[1]));
	}
	if (argc != 1)
		usage();
	if (!wire_keyname_valid(keyname))
		done(EXIT_LOCAL, "bad key name %s", keyname);
	/* A peer that closes must not kill us: EPIPE is an answer. */
	if (signal(SIGPIPE, SIG_IGN) == SIG_ERR)
		done(EXIT_LOCAL, "signal: %s", strerror(errno));

	if (strcmp(mode, "ping") == 0)
		return (mode_ping());
	if (strcmp(mode, "pings") == 0)
		return (mode_pings());
	if (strcmp(mode, "wrongkey") == 0)
		return (mode_wrongkey());
	if (strcmp(mode, "badname") == 0)
		return (mode_badname());
	if (strcmp(mode, "truncated") == 0)
		return (mode_truncated());
	if (strcmp(mode, "replay-handshake") == 0)
		return (mode_replay_handshake());
	if (strcmp(mode, "replay-message") == 0)
		return (mode_replay_message());
	if (strcmp(mode, "flip") == 0 || strcmp(mode, "flip-tag") == 0 ||
	    strcmp(mode, "flip-counter") == 0 ||
	    strcmp(mode, "flip-length") == 0)
		return (mode_tamper(mode));
	if (strcmp(mode, "reorder") == 0)
		return (mode_reorder());
	if (strcmp(mode, "cut") == 0)
		return (mode_cut());
	if (strcmp(mode, "badrequest") == 0)
		return (mode_badrequest());
	if (strcmp(mode, "oversize") == 0 || strcmp(mode, "oversize2") == 0 ||
	    strcmp(mode, "undersize") == 0)
		return (mode_oversize(mode));
	if (strcmp(mode, "garbage") == 0)
		return (mode_garbage());
	if (strcmp(mode, "slow") == 0)
		return (mode_slow());
	if (strcmp(mode, "skew") == 0 || strcmp(mode, "skew-far") == 0 ||
	    strcmp(mode, "skew-zero") == 0)
		return (mode_skew(mode));
	if (strcmp(mode, "trickle") == 0)
		return (mode_trickle());
	if (strcmp(mode, "idle") == 0)
		return (mode_idle());
	if (strcmp(mode, "silent") == 0 || strcmp(mode, "half-hello") == 0 ||
	    strcmp(mode, "no-finish") == 0)
		return (mode_stall(mode));
	if (strcmp(mode, "hold") == 0)
		return (mode_hold());
	if (strcmp(mode, "busy-first") == 0)
		return (mode_busy_first());
	if (strcmp(mode, "pipeline") == 0)
		return (mode_pipeline());
	usage();
}
