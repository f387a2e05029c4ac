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
 * One client connection in a network worker, from accept to close: the
 * connection limit, the timers, reading and writing the socket, the
 * handshake (the crypto process does everything that needs the key),
 * then encrypted request/response frames, one request at a time.
 *
 * A whole request frame, read and authenticated here, goes to
 * network_req.c, which sends it to storage or builds the answer; this
 * file writes whatever answer it built.  Where the frames live is
 * network_buf.c's business.  network.c accepts the sockets and passes
 * on what crypto and storage say about a connection.
 *
 * Everything here is driven by what a peer sends, so every length is
 * checked before anything is allocated for it, every wait has a timer,
 * and every violation closes the connection with a log line naming the
 * peer and the reason.
 */
#include <sys/types.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <netinet/tcp.h>

#include <errno.h>
#include <sodium.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "bytes.h"
#include "dsrvd.h"
#include "log.h"
#include "network.h"

#define LINGER_SEC	2		/* after a refusal, until EOF */

static void	 conn_read(int, short, void *);
static void	 conn_write(int, short, void *);
static void	 conn_timeout(int, short, void *);
static void	 conn_free(struct conn *);
static void	 conn_log(struct conn *, const char *);
static void	 conn_crypto_abort(struct conn *);
static void	 conn_drop(struct conn *, const char *, ...)
		    __attribute__((__format__ (printf, 2, 3)));
static void	 conn_refuse(struct conn *, int, const char *, ...)
		    __attribute__((__format__ (printf, 3, 4)));
static void	 conn_timer(struct conn *, unsigned int);
static void	 conn_want(struct conn *, short);
static void	 conn_send(struct conn *, const uint8_t *, size_t,
		    enum conn_state);
static int	 conn_fill(struct conn *, uint8_t *, size_t, size_t *);
static void	 conn_hello(struct conn *);
static void	 conn_finish(struct conn *);
static void	 conn_to_crypto(struct conn *, uint32_t, const void *,
		    size_t);
static void	 conn_frame(struct conn *);
static void	 conn_answer(struct conn *, ssize_t);
static struct conn *conn_find(uint32_t);
static struct conn *conn_find_crypto(uint32_t);

static TAILQ_HEAD(, conn)	 conns = TAILQ_HEAD_INITIALIZER(conns);
static uint32_t			 next_connid;

static struct conn *
conn_find(uint32_t id)
{
	struct conn	*c;

	TAILQ_FOREACH(c, &conns, entry)
		if (c->id == id)
			return c;
	return NULL;
}

/*
 * The connection crypto is answering for, if it is still there and
 * still waiting: a connection that timed out meanwhile is gone.
 */
static struct conn *
conn_find_crypto(uint32_t id)
{
	struct conn	*c;

	if ((c = conn_find(id)) == NULL || c->state != CS_CRYPTO)
		return NULL;
	return c;
}

/*
 * A new TCP client: a startup (network_startup.c) until crypto accepts
 * its key.  When the sessions of every network worker are at max
 * connections, the client gets a refusal it can show, not a silent
 * close.
 */
void
conn_accept(int fd, struct sockaddr_storage *ss, socklen_t len)
{
	struct dsrvd_conf	*conf = nenv.env->conf;
	struct conn		*c, *v;
	char			 why[128];
	int			 on = 1;

	if ((c = calloc(1, sizeof(*c))) == NULL) {
		log_warn("%s", __func__);
		(void)close(fd);
		return;
	}
	c->fd = fd;
	c->id = ++next_connid;
	if (setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &on, sizeof(on)) == -1)
		log_debug("%s: TCP_NODELAY: %s", c->peer, strerror(errno));
	c->rev = event_new(nenv.env->base, fd, EV_READ | EV_PERSIST, conn_read,
	    c);
	c->wev = event_new(nenv.env->base, fd, EV_WRITE | EV_PERSIST,
	    conn_write, c);
	c->tmo = evtimer_new(nenv.env->base, conn_timeout, c);
	if (c->rev == NULL || c->wev == NULL || c->tmo == NULL)
		fatalx("%s: event_new failed", __func__);
	TAILQ_INSERT_TAIL(&conns, c, entry);
	nenv.conns_open++;
	nenv.conns_total++;

	while ((v = startup_admit(c, ss, len, why, sizeof(why))) != NULL) {
		conn_drop(v, "%s", why);
		if (v == c)
			return;
	}
	if (__atomic_load_n(&nenv.shared->sessions, __ATOMIC_SEQ_CST) >=
	    conf->max_conns) {
		startup_end(c, SU_BUSY);
		conn_refuse(c, WIRE_HS_BUSY, "too many connections (%u)",
		    conf->max_conns);
		return;
	}
	c->state = CS_HELLO;
	c->want = WIRE_HELLO_LEN;
	conn_timer(c, conf->handshake_timeout_ms);
	conn_want(c, EV_READ);
}

/* Tell crypto to forget the handshake it holds for this connection. */
static void
conn_crypto_abort(struct conn *c)
{
	if (!c->in_crypto || nenv.env->crypto == NULL)
		return;
	if (proc_compose(PROC_CRYPTO, -1, IMSG_HS_ABORT, c->id, -1,
	    NULL, 0) == -1)
		fatal("%s: compose", __func__);
	c->in_crypto = 0;
}

static void
conn_free(struct conn *c)
{
	conn_crypto_abort(c);
	req_session_end(c);
	TAILQ_REMOVE(&conns, c, entry);
	nenv.conns_open--;
	startup_leave(c);
	if (c->counted)
		(void)__atomic_sub_fetch(&nenv.shared->sessions, 1,
		    __ATOMIC_SEQ_CST);
	event_free(c->rev);
	event_free(c->wev);
	event_free(c->tmo);
	(void)close(c->fd);
	/* Storage may still be reading the buffer: do not reuse it. */
	buf_free(c, c->state != CS_STORAGE);
	sodium_memzero(c, sizeof(*c));
	free(c);
}

/*
 * Why a connection ends, naming the key once the peer has named one;
 * lines about startups within the rate network_startup.c allows.
 */
static void
conn_log(struct conn *c, const char *why)
{
	if (!startup_log(c))
		return;
	if (c->keyname[0] != '\0')
		log_warnx("%s key %s: %s", c->peer, c->keyname, why);
	else
		log_warnx("%s: %s", c->peer, why);
}

/* Close for a protocol violation or a timeout, without an answer. */
static void
conn_drop(struct conn *c, const char *fmt, ...)
{
	va_list	 ap;
	char	 why[256];

	va_start(ap, fmt);
	(void)vsnprintf(why, sizeof(why), fmt, ap);
	va_end(ap);
	conn_log(c, why);
	nenv.conns_dropped++;
	conn_free(c);
}

/*
 * A handshake refusal the client can read: RESULT with a code and a
 * reason, then a half-close.  We keep reading (and discarding) until the
 * client closes, so that its unread bytes do not turn our close into a
 * reset that would destroy the RESULT before the client reads it.
 */
static void
conn_refuse(struct conn *c, int code, const char *fmt, ...)
{
	va_list	 ap;
	char	 why[WIRE_RESULT_MSG_MAX + 1];

	va_start(ap, fmt);
	(void)vsnprintf(why, sizeof(why), fmt, ap);
	va_end(ap);
	conn_log(c, why);
	conn_crypto_abort(c);
	/* The client sees only the code's text for authentication. */
	conn_timer(c, LINGER_SEC * 1000);
	conn_send(c, c->hs, wire_result_build(c->hs, code, NULL,
	    code == WIRE_HS_AUTH ? wire_hs_strerror(code) : why), CS_REFUSE);
}

static void
conn_timer(struct conn *c, unsigned int ms)
{
	struct timeval	 tv;

	tv.tv_sec = ms / 1000;
	tv.tv_usec = (ms % 1000) * 1000;
	if (evtimer_add(c->tmo, &tv) == -1)
		fatalx("%s: evtimer_add failed", __func__);
}

/* Write len bytes of buf, then carry on in conn_write() for state. */
static void
conn_send(struct conn *c, const uint8_t *buf, size_t len,
    enum conn_state state)
{
	c->out = buf;
	c->outlen = len;
	c->outoff = 0;
	c->state = state;
	conn_want(c, EV_WRITE);
}

/* Listen for exactly one direction (or none, while crypto works). */
static void
conn_want(struct conn *c, short what)
{
	if (what & EV_READ) {
		if (!c->reading && event_add(c->rev, NULL) == -1)
			fatalx("%s: event_add failed", __func__);
		c->reading = 1;
	} else if (c->reading) {
		(void)event_del(c->rev);
		c->reading = 0;
	}
	if (what & EV_WRITE) {
		if (!c->writing && event_add(c->wev, NULL) == -1)
			fatalx("%s: event_add failed", __func__);
		c->writing = 1;
	} else if (c->writing) {
		(void)event_del(c->wev);
		c->writing = 0;
	}
}

static void
conn_timeout(int fd, short event, void *arg)
{
	struct conn	*c = arg;

	switch (c->state) {
	case CS_HELLO:
	case CS_CRYPTO:
	case CS_FINISH:
		/* Waiting for the client or crypto: nothing half-written. */
		startup_end(c, SU_TIMEOUT);
		conn_refuse(c, WIRE_HS_TIMEOUT, "handshake timeout");
		break;
	case CS_CHALLENGE:
	case CS_ACCEPT:
		/* Our own message is stuck half-way: no room for a RESULT. */
		startup_end(c, SU_TIMEOUT);
		conn_drop(c, "handshake timeout");
		break;
	case CS_REQUEST:
		if (c->rlen == 0 && c->fhlen == 0)
			conn_drop(c, "idle timeout");
		else
			conn_drop(c, "message timeout");
		break;
	case CS_STORAGE:
	case CS_RESPONSE:
		conn_drop(c, "message timeout");
		break;
	case CS_REFUSE:
	case CS_LINGER:
		conn_free(c);
		break;
	}
}

/*
 * Read toward want bytes into buf at *have.  Returns 1 when complete, 0
 * when more is to come, -1 when the connection was freed.
 */
static int
conn_fill(struct conn *c, uint8_t *buf, size_t want, size_t *have)
{
	ssize_t	 n;

	while (*have < want) {
		n = read(c->fd, buf + *have, want - *have);
		if (n == -1) {
			if (errno == EAGAIN || errno == EINTR)
				return 0;
			conn_drop(c, "read: %s", strerror(errno));
			return -1;
		}
		if (n == 0) {
			switch (c->state) {
			case CS_REQUEST:
				if (c->fhlen == 0 && c->rlen == 0) {
					log_debug("%s key %s: closed", c->peer,
					    c->keyname);
					conn_free(c);
				} else
					conn_drop(c, "connection closed in the "
					    "middle of a message");
				break;
			default:
				startup_end(c, SU_CLOSED);
				conn_drop(c, "closed during handshake");
				break;
			}
			return -1;
		}
		*have += n;
		nenv.bytes_in += n;
	}
	return 1;
}

static void
conn_read(int fd, short event, void *arg)
{
	struct conn	*c = arg;
	uint8_t		 junk[512];
	ssize_t		 n;
	int		 r;

	switch (c->state) {
	case CS_HELLO:
	case CS_FINISH:
		if ((r = conn_fill(c, c->hs, c->want, &c->hslen)) != 1)
			return;
		if (c->state == CS_HELLO)
			conn_hello(c);
		else
			conn_finish(c);
		return;
	case CS_REQUEST:
		if (c->fhlen < WIRE_FRAME_HDR) {
			if (c->fhlen == 0 && c->rlen == 0)
				conn_timer(c,
				    nenv.env->conf->message_timeout_ms);
			r = conn_fill(c, c->fhdr, WIRE_FRAME_HDR, &c->fhlen);
			if (r != 1)
				return;
			if (wire_frame_hdr(c->fhdr, &c->want, &c->rcounter)
			    == -1) {
				conn_drop(c, "frame length %u out of bounds",
				    (unsigned int)be32_get(c->fhdr));
				return;
			}
			if (c->rcounter != c->counter) {
				conn_drop(c, "unexpected counter %llu, "
				    "expected %llu",
				    (unsigned long long)c->rcounter,
				    (unsigned long long)c->counter);
				return;
			}
			if (buf_frame_in(c, WIRE_FRAME_HDR + c->want) == -1) {
				conn_drop(c, "out of memory for a %zu byte "
				    "message", c->want);
				return;
			}
			memcpy(c->frame, c->fhdr, WIRE_FRAME_HDR);
		}
		r = conn_fill(c, c->frame + WIRE_FRAME_HDR, c->want, &c->rlen);
		if (r != 1)
			return;
		conn_frame(c);
		return;
	case CS_LINGER:
		/* Discard until the client has read our answer and left. */
		for (;;) {
			n = read(c->fd, junk, sizeof(junk));
			if (n > 0)
				continue;
			if (n == -1 && (errno == EAGAIN || errno == EINTR))
				return;
			conn_free(c);
			return;
		}
	default:
		/* Not reading in other states; a stray event is harmless. */
		return;
	}
}

static void
conn_write(int fd, short event, void *arg)
{
	struct conn	*c = arg;
	ssize_t		 n;

	while (c->outoff < c->outlen) {
		n = send(c->fd, c->out + c->outoff, c->outlen - c->outoff,
		    MSG_NOSIGNAL);
		if (n == -1) {
			if (errno == EAGAIN || errno == EINTR)
				return;
			if (c->state == CS_REFUSE) {
				conn_free(c);
				return;
			}
			conn_drop(c, "write: %s", strerror(errno));
			return;
		}
		c->outoff += n;
		nenv.bytes_out += n;
	}

	switch (c->state) {
	case CS_CHALLENGE:
		if (clock_gettime(CLOCK_MONOTONIC, &c->chal_sent) == -1)
			fatal("clock_gettime");
		c->state = CS_FINISH;
		c->hslen = 0;
		c->want = WIRE_FINISH_LEN;
		conn_want(c, EV_READ);
		break;
	case CS_ACCEPT:
		c->state = CS_REQUEST;
		c->fhlen = c->rlen = 0;
		conn_timer(c, nenv.env->conf->idle_timeout_ms);
		conn_want(c, EV_READ);
		break;
	case CS_RESPONSE:
		nenv.msgs_out++;
		c->counter++;
		c->state = CS_REQUEST;
		c->fhlen = c->rlen = 0;
		buf_release(c, 1);
		conn_timer(c, nenv.env->conf->idle_timeout_ms);
		conn_want(c, EV_READ);
		break;
	case CS_REFUSE:
		if (shutdown(c->fd, SHUT_WR) == -1) {
			conn_free(c);
			return;
		}
		c->state = CS_LINGER;
		conn_want(c, EV_READ);
		break;
	default:
		fatalx("%s: bad state %d", __func__, c->state);
	}
}

/*
 * Hand a handshake message to crypto; the client waits, unread, until
 * crypto answers or the handshake timer fires.
 */
static void
conn_to_crypto(struct conn *c, uint32_t type, const void *data, size_t len)
{
	if (proc_compose(PROC_CRYPTO, -1, type, c->id, -1, data,
	    len) == -1)
		fatal("%s: compose", __func__);
	c->in_crypto = 1;
	c->state = CS_CRYPTO;
	conn_want(c, 0);
}

/*
 * HELLO: check what needs no key (format, clock), then let crypto
 * answer.
 */
static void
conn_hello(struct conn *c)
{
	struct dsrvd_conf	*conf = nenv.env->conf;
	struct hs_hello		 hh;
	const char		*errstr;
	uint8_t			 crand[WIRE_RANDOM_LEN];
	uint64_t		 ctime, skew;
	int			 ahead;

	if (wire_hello_parse(c->hs, c->hslen, c->keyname, crand, &ctime,
	    &errstr) == -1) {
		c->keyname[0] = '\0';
		startup_end(c, SU_PROTO);
		conn_refuse(c, WIRE_HS_PROTO, "malformed handshake: %s",
		    errstr);
		return;
	}
	/* + when the client's clock is ahead of ours. */
	skew = wire_skew_ms(ctime, wire_now_ms(), &ahead);
	if (skew > conf->max_skew_ms) {
		startup_end(c, SU_SKEW);
		conn_refuse(c, WIRE_HS_SKEW, "clock skew %c%llu ms exceeds max "
		    "skew %u ms", ahead ? '+' : '-', (unsigned long long)skew,
		    conf->max_skew_ms);
		return;
	}
	if (nenv.env->crypto == NULL) {
		startup_end(c, SU_BUSY);
		conn_refuse(c, WIRE_HS_PROTO, "crypto process unavailable");
		return;
	}
	memset(&hh, 0, sizeof(hh));
	memcpy(hh.hello, c->hs, sizeof(hh.hello));
	(void)strlcpy(hh.peer, c->peer, sizeof(hh.peer));
	conn_to_crypto(c, IMSG_HS_HELLO, &hh, sizeof(hh));
}

void
conn_crypto_challenge(uint32_t id, const struct hs_challenge *hc)
{
	struct conn	*c;

	if ((c = conn_find_crypto(id)) == NULL)
		return;
	memcpy(c->hs, hc->challenge, WIRE_CHALLENGE_LEN);
	conn_send(c, c->hs, WIRE_CHALLENGE_LEN, CS_CHALLENGE);
}

static void
conn_finish(struct conn *c)
{
	struct hs_finish	 hf;

	c->rtt_us = elapsed_us(&c->chal_sent);
	memcpy(hf.finish, c->hs, sizeof(hf.finish));
	conn_to_crypto(c, IMSG_HS_FINISH, &hf, sizeof(hf));
}

void
conn_crypto_fail(uint32_t id, const struct hs_fail *f)
{
	struct conn	*c;

	if ((c = conn_find_crypto(id)) == NULL)
		return;
	c->in_crypto = 0;
	switch (f->code) {
	case WIRE_HS_AUTH:
		startup_end(c, SU_AUTH);
		c->keyname[0] = '\0';
		if (f->unknown)
			conn_refuse(c, WIRE_HS_AUTH, "unknown key name %s",
			    f->keyname);
		else
			conn_refuse(c, WIRE_HS_AUTH, "key %s: authentication "
			    "failed", f->keyname);
		break;
	case WIRE_HS_BUSY:
		startup_end(c, SU_BUSY);
		conn_refuse(c, WIRE_HS_BUSY, "busy, try again later");
		break;
	default:
		startup_end(c, SU_PROTO);
		conn_refuse(c, WIRE_HS_PROTO, "malformed handshake");
		break;
	}
}

void
conn_crypto_ok(uint32_t id, const struct hs_ok *ok)
{
	struct dsrvd_conf	*conf = nenv.env->conf;
	struct conn		*c;

	if ((c = conn_find_crypto(id)) == NULL)
		return;
	c->in_crypto = 0;
	c->sid = ok->sid;
	(void)strlcpy(c->keyname, ok->keyname, sizeof(c->keyname));
	if (c->rtt_us > (uint64_t)conf->max_rtt_ms * 1000) {
		startup_end(c, SU_RTT);
		conn_refuse(c, WIRE_HS_RTT, "round trip %llu.%03llu ms exceeds "
		    "max rtt %u ms", (unsigned long long)(c->rtt_us / 1000),
		    (unsigned long long)(c->rtt_us % 1000), conf->max_rtt_ms);
		return;
	}
	if (startup_session(c) == -1) {
		conn_refuse(c, WIRE_HS_BUSY, "too many connections (%u)",
		    conf->max_conns);
		return;
	}
	c->keys = ok->keys;
	c->counter = ok->keys.counter0;
	c->perms = ok->perms;
	(void)strlcpy(c->ns, ok->ns, sizeof(c->ns));
	log_info("%s key %s: accepted, round trip %llu.%03llu ms", c->peer,
	    c->keyname, (unsigned long long)(c->rtt_us / 1000),
	    (unsigned long long)(c->rtt_us % 1000));
	conn_send(c, c->hs, wire_result_build(c->hs, WIRE_HS_OK, ok->sproof,
	    ""), CS_ACCEPT);
}

/*
 * A whole frame is in: authenticate it, then network_req.c decodes it
 * and either sends it to storage or has an answer now.
 */
static void
conn_frame(struct conn *c)
{
	if (evtimer_del(c->tmo) == -1)
		fatalx("%s: evtimer_del failed", __func__);
	if (wire_open(c->keys.c2s, c->frame, c->want) == -1) {
		conn_drop(c, "message failed authentication");
		return;
	}
	nenv.msgs_in++;
	conn_want(c, 0);
	c->state = CS_STORAGE;
	conn_answer(c, req_frame(c));
}

/*
 * Write the response frame network_req.c left at c->frame, len bytes;
 * 0 means the request is at storage and the answer comes later.
 */
static void
conn_answer(struct conn *c, ssize_t len)
{
	if (len == -1) {
		conn_drop(c, "out of memory for a response");
		return;
	}
	if (len == 0)
		return;
	conn_timer(c, nenv.env->conf->message_timeout_ms);
	conn_send(c, c->frame, len, CS_RESPONSE);
}

/*
 * Storage answered a request.  The client may have left, or been
 * dropped for a timeout, meanwhile: an answer nobody waits for is
 * dropped too.
 */
void
conn_storage_result(struct imsgev *iev, struct imsg *imsg)
{
	struct st_res	 res;
	struct conn	*c;

	/* Results carry no file: network's table refuses one. */
	if (st_res_get(imsg, &res) == -1)
		msg_bad(iev, imsg, __func__);
	req_storage_done(iev->id);
	if ((c = conn_find(imsg->hdr.peerid)) == NULL ||
	    c->state != CS_STORAGE || c->reqid != res.reqid)
		return;		/* the client left meanwhile */
	conn_answer(c, req_result(c, &res));
}
