/*
 * One client connection in a network worker: the handshake (with the
 * crypto process doing everything that needs the key), then encrypted
 * request/response frames, one request at a time.
 *
 * Everything here is driven by what a peer sends, so every length is
 * checked before anything is allocated for it, every wait has a timer,
 * and every violation closes the connection with a log line naming the
 * peer and the reason.
 */
#include <sys/types.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <netinet/tcp.h>

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <zlib.h>

#include "chunkname.h"
#include "dsrvd.h"
#include "log.h"
#include "network.h"

#define CONN_KEEP_BUF	(64 * 1024)	/* larger frames use a bigbuf */
#define BB_POOL_KEEP	16		/* free bigbufs kept per worker */
#define BB_IDLE_SEC	10		/* then the free ones are unmapped */
#define LINGER_SEC	2		/* after a refusal, until EOF */

static void	 conn_read(int, short, void *);
static void	 conn_write(int, short, void *);
static void	 conn_timeout(int, short, void *);
static void	 conn_free(struct conn *);
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
static void	 conn_frame(struct conn *);
static void	 conn_request(struct conn *, const struct wire_hdr *,
		    const uint8_t *, size_t);
static void	 conn_respond(struct conn *, uint64_t, uint64_t, const char *,
		    const void *, size_t);
static void	 conn_respond_inplace(struct conn *, size_t, uint32_t);
static size_t	 conn_align_pad(size_t);
static int	 conn_buf(struct conn *, size_t);
static int	 conn_bigbuf(struct conn *);
static void	 conn_release(struct conn *, int);
static void	 conn_bb_destroy(struct bigbuf *);
static void	 conn_bb_trim(int, short, void *);
static void	 conn_to_storage(struct conn *, uint32_t, struct st_req *,
		    int);
static struct conn *conn_find(uint32_t);

static TAILQ_HEAD(, conn)	 conns = TAILQ_HEAD_INITIALIZER(conns);
static TAILQ_HEAD(, bigbuf)	 bbfree = TAILQ_HEAD_INITIALIZER(bbfree);
static size_t			 nbbfree;
static struct event		*bbtrim;
static uint32_t			 next_connid;
static uint32_t			 next_reqid;

static uint64_t
elapsed_us(const struct timespec *since)
{
	struct timespec	 now;

	if (clock_gettime(CLOCK_MONOTONIC, &now) == -1)
		fatal("clock_gettime");
	return (uint64_t)(now.tv_sec - since->tv_sec) * 1000000 +
	    (now.tv_nsec - since->tv_nsec) / 1000;
}

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
 * A new TCP client.  The connection limit counts every network worker's
 * clients through the shared page; past it the client gets a refusal
 * it can show, not a silent close.
 */
void
conn_accept(int fd, struct sockaddr_storage *ss, socklen_t len)
{
	struct dsrvd_conf	*conf = nenv.env->conf;
	struct conn		*c;
	char			 host[64], serv[NI_MAXSERV];
	uint32_t		 open;
	int			 on = 1;

	if ((c = calloc(1, sizeof(*c))) == NULL) {
		log_warn("%s", __func__);
		(void)close(fd);
		return;
	}
	c->fd = fd;
	c->id = ++next_connid;
	if (getnameinfo((struct sockaddr *)ss, len, host, sizeof(host), serv,
	    sizeof(serv), NI_NUMERICHOST | NI_NUMERICSERV) != 0) {
		(void)strlcpy(host, "?", sizeof(host));
		(void)strlcpy(serv, "?", sizeof(serv));
	}
	(void)snprintf(c->peer, sizeof(c->peer), "client %s port %s", host,
	    serv);
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

	open = __atomic_add_fetch(&nenv.shared->conns_open, 1,
	    __ATOMIC_SEQ_CST);
	c->counted = 1;
	if (open > conf->max_conns) {
		nenv.conns_refused++;
		conn_refuse(c, WIRE_HS_BUSY, "too many connections (%u)",
		    conf->max_conns);
		return;
	}
	c->state = CS_HELLO;
	c->want = WIRE_HELLO_LEN;
	conn_timer(c, conf->handshake_timeout_ms);
	conn_want(c, EV_READ);
}

static void
conn_free(struct conn *c)
{
	if (c->in_crypto && nenv.env->crypto != NULL &&
	    imsgev_compose(nenv.env->crypto, IMSG_HS_ABORT, c->id, 0, -1,
	    NULL, 0) == -1)
		fatal("%s: compose", __func__);
	TAILQ_REMOVE(&conns, c, entry);
	nenv.conns_open--;
	if (c->counted)
		(void)__atomic_sub_fetch(&nenv.shared->conns_open, 1,
		    __ATOMIC_SEQ_CST);
	event_free(c->rev);
	event_free(c->wev);
	event_free(c->tmo);
	(void)close(c->fd);
	if (c->buf != NULL) {
		sodium_memzero(c->buf, c->bufsz);
		free(c->buf);
	}
	/* Storage may still be reading the buffer: do not reuse it. */
	conn_release(c, c->state != CS_STORAGE);
	sodium_memzero(c, sizeof(*c));
	free(c);
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
	if (c->keyname[0] != '\0')
		log_warnx("%s key %s: %s", c->peer, c->keyname, why);
	else
		log_warnx("%s: %s", c->peer, why);
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
	if (c->keyname[0] != '\0')
		log_warnx("%s key %s: %s", c->peer, c->keyname, why);
	else
		log_warnx("%s: %s", c->peer, why);
	if (c->in_crypto && nenv.env->crypto != NULL) {
		if (imsgev_compose(nenv.env->crypto, IMSG_HS_ABORT, c->id, 0,
		    -1, NULL, 0) == -1)
			fatal("%s: compose", __func__);
		c->in_crypto = 0;
	}
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
	case CS_CHALLENGE:
	case CS_FINISH:
	case CS_ACCEPT:
		nenv.hs_fail_other++;
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
				nenv.hs_fail_other++;
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
				    (unsigned int)((uint32_t)c->fhdr[0] << 24 |
				    c->fhdr[1] << 16 | c->fhdr[2] << 8 |
				    c->fhdr[3]));
				return;
			}
			if (c->rcounter != c->counter) {
				conn_drop(c, "unexpected counter %llu, "
				    "expected %llu",
				    (unsigned long long)c->rcounter,
				    (unsigned long long)c->counter);
				return;
			}
			if ((WIRE_FRAME_HDR + c->want <= CONN_KEEP_BUF ?
			    conn_buf(c, WIRE_FRAME_HDR + c->want) :
			    conn_bigbuf(c)) == -1) {
				conn_drop(c, "out of memory for a %zu byte "
				    "message", c->want);
				return;
			}
			/*
			 * A big frame is placed so that its payload will
			 * start aligned if its header is as long as the last
			 * one: a file's chunks have names of one length.
			 */
			c->frame = WIRE_FRAME_HDR + c->want <= CONN_KEEP_BUF ?
			    c->buf : c->bb->p + conn_align_pad(WIRE_FRAME_HDR +
			    c->hlguess);
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
		nenv.hs_ok++;
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
		conn_release(c, 1);
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
	uint64_t		 ctime, now;
	int64_t			 skew;

	if (wire_hello_parse(c->hs, c->hslen, c->keyname, crand, &ctime,
	    &errstr) == -1) {
		c->keyname[0] = '\0';
		nenv.hs_fail_other++;
		conn_refuse(c, WIRE_HS_PROTO, "malformed handshake: %s",
		    errstr);
		return;
	}
	now = wire_now_ms();
	skew = (int64_t)(ctime - now);
	if (skew < 0)
		skew = -skew;
	if ((uint64_t)skew > conf->max_skew_ms) {
		nenv.hs_fail_skew++;
		conn_refuse(c, WIRE_HS_SKEW, "clock skew %lld ms exceeds max "
		    "skew %u ms", (long long)skew, conf->max_skew_ms);
		return;
	}
	if (nenv.env->crypto == NULL) {
		conn_refuse(c, WIRE_HS_PROTO, "crypto process unavailable");
		return;
	}
	memset(&hh, 0, sizeof(hh));
	memcpy(hh.hello, c->hs, sizeof(hh.hello));
	(void)strlcpy(hh.peer, c->peer, sizeof(hh.peer));
	if (imsgev_compose(nenv.env->crypto, IMSG_HS_HELLO, c->id, 0, -1, &hh,
	    sizeof(hh)) == -1)
		fatal("%s: compose", __func__);
	c->in_crypto = 1;
	c->state = CS_CRYPTO;
	conn_want(c, 0);
}

void
conn_crypto_challenge(uint32_t id, const struct hs_challenge *hc)
{
	struct conn	*c;

	if ((c = conn_find(id)) == NULL || c->state != CS_CRYPTO)
		return;		/* gone meanwhile */
	memcpy(c->hs, hc->challenge, WIRE_CHALLENGE_LEN);
	conn_send(c, c->hs, WIRE_CHALLENGE_LEN, CS_CHALLENGE);
}

static void
conn_finish(struct conn *c)
{
	struct hs_finish	 hf;

	c->rtt_us = elapsed_us(&c->chal_sent);
	memcpy(hf.finish, c->hs, sizeof(hf.finish));
	if (imsgev_compose(nenv.env->crypto, IMSG_HS_FINISH, c->id, 0, -1,
	    &hf, sizeof(hf)) == -1)
		fatal("%s: compose", __func__);
	c->state = CS_CRYPTO;
	conn_want(c, 0);
}

void
conn_crypto_fail(uint32_t id, const struct hs_fail *f)
{
	struct conn	*c;

	if ((c = conn_find(id)) == NULL || c->state != CS_CRYPTO)
		return;
	c->in_crypto = 0;
	switch (f->code) {
	case WIRE_HS_AUTH:
		nenv.hs_fail_auth++;
		c->keyname[0] = '\0';
		if (f->unknown)
			conn_refuse(c, WIRE_HS_AUTH, "unknown key name %s",
			    f->keyname);
		else
			conn_refuse(c, WIRE_HS_AUTH, "key %s: authentication "
			    "failed", f->keyname);
		break;
	case WIRE_HS_BUSY:
		nenv.conns_refused++;
		conn_refuse(c, WIRE_HS_BUSY, "busy, try again later");
		break;
	default:
		nenv.hs_fail_other++;
		conn_refuse(c, WIRE_HS_PROTO, "malformed handshake");
		break;
	}
}

void
conn_crypto_ok(uint32_t id, const struct hs_ok *ok)
{
	struct dsrvd_conf	*conf = nenv.env->conf;
	struct conn		*c;

	if ((c = conn_find(id)) == NULL || c->state != CS_CRYPTO)
		return;
	c->in_crypto = 0;
	(void)strlcpy(c->keyname, ok->keyname, sizeof(c->keyname));
	if (c->rtt_us > (uint64_t)conf->max_rtt_ms * 1000) {
		nenv.hs_fail_rtt++;
		conn_refuse(c, WIRE_HS_RTT, "round trip %llu.%03llu ms exceeds "
		    "max rtt %u ms", (unsigned long long)(c->rtt_us / 1000),
		    (unsigned long long)(c->rtt_us % 1000), conf->max_rtt_ms);
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

/* What to add to off to make it a multiple of CHUNK_ALIGN. */
static size_t
conn_align_pad(size_t off)
{
	return (CHUNK_ALIGN - off % CHUNK_ALIGN) % CHUNK_ALIGN;
}

/*
 * A big buffer for this connection, from the pool or new.  Its size
 * holds the largest frame (and a response's frame header in front of
 * the largest payload).
 */
static int
conn_bigbuf(struct conn *c)
{
	struct bigbuf	*bb;
	size_t		 sz;
	long		 pg;

	if (c->bb != NULL)
		return 0;
	if ((bb = TAILQ_FIRST(&bbfree)) != NULL) {
		TAILQ_REMOVE(&bbfree, bb, entry);
		nbbfree--;
		c->bb = bb;
		return 0;
	}
	if ((pg = sysconf(_SC_PAGESIZE)) <= 0)
		pg = 4096;
	/* Room to align the payload, and for direct I/O past its end. */
	sz = WIRE_FRAME_HDR + WIRE_FRAME_MAX + 2 * CHUNK_ALIGN;
	sz = (sz + pg - 1) / pg * pg;
	if ((bb = calloc(1, sizeof(*bb))) == NULL)
		return -1;
	bb->sz = sz;
	if ((bb->fd = memfd_create("dsrvd-frame", MFD_CLOEXEC)) == -1) {
		log_warn("memfd_create");
		free(bb);
		return -1;
	}
	if (ftruncate(bb->fd, sz) == -1 || (bb->p = mmap(NULL, sz,
	    PROT_READ | PROT_WRITE, MAP_SHARED, bb->fd, 0)) == MAP_FAILED) {
		log_warn("frame buffer");
		(void)close(bb->fd);
		free(bb);
		return -1;
	}
	c->bb = bb;
	return 0;
}

static void
conn_bb_destroy(struct bigbuf *bb)
{
	if (munmap(bb->p, bb->sz) == -1)
		fatal("munmap");
	(void)close(bb->fd);
	free(bb);
}

/*
 * Nothing took a big buffer from the pool for BB_IDLE_SEC: give their
 * memory back.  A busy worker keeps its pages faulted in; an idle one
 * holds no more than its connections' small buffers.
 */
static void
conn_bb_trim(int fd, short event, void *arg)
{
	struct bigbuf	*bb;
	size_t		 n = nbbfree;

	while ((bb = TAILQ_FIRST(&bbfree)) != NULL) {
		TAILQ_REMOVE(&bbfree, bb, entry);
		nbbfree--;
		conn_bb_destroy(bb);
	}
	log_debug("idle: released %zu frame buffers", n);
}

/* Give the big buffer back to the pool, or with reuse 0 destroy it. */
static void
conn_release(struct conn *c, int reuse)
{
	struct bigbuf	*bb = c->bb;
	struct timeval	 tv = { BB_IDLE_SEC, 0 };

	if (bb == NULL)
		return;
	c->bb = NULL;
	if (reuse && nbbfree < BB_POOL_KEEP) {
		TAILQ_INSERT_HEAD(&bbfree, bb, entry);
		nbbfree++;
		if (bbtrim == NULL && (bbtrim = evtimer_new(nenv.env->base,
		    conn_bb_trim, NULL)) == NULL)
			fatalx("%s: evtimer_new failed", __func__);
		if (evtimer_add(bbtrim, &tv) == -1)
			fatalx("%s: evtimer_add failed", __func__);
		return;
	}
	conn_bb_destroy(bb);
}

/* Grow the small frame buffer to at least len bytes. */
static int
conn_buf(struct conn *c, size_t len)
{
	uint8_t	*p;

	if (c->bufsz >= len)
		return 0;
	if ((p = malloc(len)) == NULL)
		return -1;
	if (c->buf != NULL) {
		sodium_memzero(c->buf, c->bufsz);
		free(c->buf);
	}
	c->buf = p;
	c->bufsz = len;
	return 0;
}

/* A whole frame is in: authenticate, decode, act. */
static void
conn_frame(struct conn *c)
{
	struct wire_hdr	 hdr;
	const char	*errstr;
	uint8_t		*pt;
	size_t		 ptlen;
	ssize_t		 off;

	if (evtimer_del(c->tmo) == -1)
		fatalx("%s: evtimer_del failed", __func__);
	if (wire_open(c->keys.c2s, c->frame, c->want) == -1) {
		conn_drop(c, "message failed authentication");
		return;
	}
	nenv.msgs_in++;
	pt = c->frame + WIRE_FRAME_HDR;
	ptlen = c->want - WIRE_TAG_LEN;
	conn_want(c, 0);
	c->state = CS_STORAGE;
	memset(&hdr, 0, sizeof(hdr));
	if ((off = wire_hdr_decode(&hdr, pt, ptlen, &errstr)) == -1 ||
	    wire_hdr_check(&hdr, 0, ptlen - off, &errstr) == -1) {
		log_warnx("%s key %s: bad request: %s", c->peer, c->keyname,
		    errstr);
		conn_respond(c, WIRE_HAS(&hdr, WIRE_F_METHOD) ? hdr.method : 0,
		    WIRE_E_BADREQUEST, errstr, NULL, 0);
		return;
	}
	if (crc32(0, pt + off, ptlen - off) != hdr.paycrc) {
		log_warnx("%s key %s: bad request: payload crc32 mismatch",
		    c->peer, c->keyname);
		conn_respond(c, hdr.method, WIRE_E_CRC,
		    "payload crc32 mismatch", NULL, 0);
		return;
	}
	conn_request(c, &hdr, pt + off, ptlen - off);
}

static void
conn_request(struct conn *c, const struct wire_hdr *hdr, const uint8_t *pay,
    size_t paylen)
{
	static const char	 version[] = "dsrvd " DSRVD_VERSION;
	struct st_req		 req;
	const char		*what, *errstr;
	char			 msg[128];
	uint32_t		 need, type;
	size_t			 dirlen;
	int			 fd = -1;

	switch (hdr->method) {
	case WIRE_M_PING:
		conn_respond(c, hdr->method, WIRE_E_OK, NULL, version,
		    sizeof(version) - 1);
		return;
	case WIRE_M_WRITE:
		need = KEY_PERM_WRITE;
		what = "write";
		type = IMSG_ST_WRITE;
		break;
	case WIRE_M_READ:
		need = KEY_PERM_READ;
		what = "read";
		type = IMSG_ST_READ;
		break;
	case WIRE_M_LIST:
		need = KEY_PERM_LIST;
		what = "list";
		type = IMSG_ST_LIST;
		break;
	case WIRE_M_STAT:
		need = KEY_PERM_STAT;
		what = "stat";
		type = IMSG_ST_STAT;
		break;
	case WIRE_M_STATFS:
		need = KEY_PERM_STAT;
		what = "stat";
		type = IMSG_ST_STATFS;
		break;
	default:
		conn_respond(c, hdr->method, WIRE_E_BADREQUEST,
		    "unknown method", NULL, 0);
		return;
	}
	if ((c->perms & need) == 0) {
		log_warnx("%s key %s: %s refused: key lacks the %s permission",
		    c->peer, c->keyname, wire_method_name(hdr->method), what);
		conn_respond(c, hdr->method, WIRE_E_PERM, "key lacks the "
		    "permission for this request", NULL, 0);
		return;
	}

	/* Names are checked here first, and again by storage. */
	if (hdr->method == WIRE_M_LIST) {
		if (chunk_dir_check(hdr->name, hdr->namelen, &errstr) == -1) {
			(void)snprintf(msg, sizeof(msg), "bad directory name: "
			    "%s", errstr);
			conn_respond(c, hdr->method, WIRE_E_BADNAME, msg,
			    NULL, 0);
			return;
		}
	} else if (hdr->method != WIRE_M_STATFS &&
	    chunk_name_check(hdr->name, hdr->namelen, &dirlen, &errstr) ==
	    -1) {
		log_info("%s key %s: %s refused: bad chunk name: %s", c->peer,
		    c->keyname, wire_method_name(hdr->method), errstr);
		(void)snprintf(msg, sizeof(msg), "bad chunk name: %s", errstr);
		conn_respond(c, hdr->method, WIRE_E_BADNAME, msg, NULL, 0);
		return;
	}
	if (hdr->method != WIRE_M_WRITE && hdr->method != WIRE_M_LIST &&
	    paylen != 0) {
		conn_respond(c, hdr->method, WIRE_E_BADREQUEST, "unexpected "
		    "payload", NULL, 0);
		return;
	}

	memset(&req, 0, sizeof(req));
	req.method = hdr->method;
	(void)strlcpy(req.ns, c->ns, sizeof(req.ns));
	if (hdr->method != WIRE_M_STATFS)
		memcpy(req.name, hdr->name, hdr->namelen);
	switch (hdr->method) {
	case WIRE_M_WRITE:
		/*
		 * The payload must be in a memfd (small frames are not) and
		 * aligned for storage's direct I/O; when the header length
		 * guess was wrong it moves by less than CHUNK_ALIGN.
		 */
		if (c->bb == NULL) {
			if (conn_bigbuf(c) == -1) {
				conn_respond(c, hdr->method, WIRE_E_BUSY,
				    "out of memory", NULL, 0);
				return;
			}
			memcpy(c->bb->p, pay, paylen);
			req.off = 0;
		} else {
			c->hlguess = pay - (c->frame + WIRE_FRAME_HDR);
			req.off = pay - c->bb->p;
			if (req.off % CHUNK_ALIGN != 0) {
				req.off -= req.off % CHUNK_ALIGN;
				memmove(c->bb->p + req.off, pay, paylen);
			}
		}
		req.len = paylen;
		req.crc = hdr->paycrc;
		break;
	case WIRE_M_LIST:
		if (paylen > WIRE_NAME_MAX || memchr(pay, '\0', paylen) !=
		    NULL) {
			conn_respond(c, hdr->method, WIRE_E_BADREQUEST,
			    "bad name to list after", NULL, 0);
			return;
		}
		memcpy(req.after, pay, paylen);
		if (conn_bigbuf(c) == -1) {
			conn_respond(c, hdr->method, WIRE_E_BUSY,
			    "out of memory", NULL, 0);
			return;
		}
		c->respoff = 0;
		req.off = conn_payload_off();
		req.maxlen = WIRE_PAYLOAD_MAX;
		break;
	case WIRE_M_READ:
		/* Storage reads the chunk to where the response has it. */
		if (conn_bigbuf(c) == -1) {
			conn_respond(c, hdr->method, WIRE_E_BUSY,
			    "out of memory", NULL, 0);
			return;
		}
		c->respoff = conn_align_pad(conn_payload_off());
		req.off = c->respoff + conn_payload_off();
		req.maxlen = c->bb->sz - req.off;
		break;
	}
	if (type == IMSG_ST_WRITE || type == IMSG_ST_LIST ||
	    type == IMSG_ST_READ) {
		if ((fd = fcntl(c->bb->fd, F_DUPFD_CLOEXEC, 0)) == -1) {
			log_warn("%s: dup", __func__);
			conn_respond(c, hdr->method, WIRE_E_BUSY,
			    "out of file descriptors", NULL, 0);
			return;
		}
	}
	conn_to_storage(c, type, &req, fd);
}

/* Send a request to the storage worker with the least work queued. */
static void
conn_to_storage(struct conn *c, uint32_t type, struct st_req *req, int fd)
{
	struct child_env	*env = nenv.env;
	int			 i, best = -1;

	for (i = 0; i < MAX_WORKERS; i++) {
		if (env->storage[i] == NULL)
			continue;
		if (best == -1 || nenv.st_inflight[i] < nenv.st_inflight[best])
			best = i;
	}
	if (best == -1) {
		if (fd != -1)
			(void)close(fd);
		conn_respond(c, req->method, WIRE_E_UNAVAILABLE, "storage "
		    "cannot be reached", NULL, 0);
		return;
	}
	c->reqid = req->reqid = ++next_reqid;
	c->method = req->method;
	nenv.st_inflight[best]++;
	if (imsgev_compose(env->storage[best], type, c->id, 0, fd, req,
	    sizeof(*req)) == -1)
		fatal("%s: compose", __func__);
}

static void
put64(uint8_t *p, uint64_t v)
{
	int	 i;

	for (i = 7; i >= 0; i--, v >>= 8)
		p[i] = v & 0xff;
}

void
conn_storage_result(struct imsgev *iev, struct imsg *imsg)
{
	struct st_res	 res;
	struct conn	*c;
	uint8_t		 pl[32];
	int		 fd;

	/* Results carry no file: one would be a broken storage's. */
	if ((fd = imsg_get_fd(imsg)) != -1)
		(void)close(fd);
	if (imsg_get_data(imsg, &res, sizeof(res)) == -1)
		fatalx("%s: bad size %zu from %s", __func__, imsg->datalen,
		    iev->name);
	res.msg[sizeof(res.msg) - 1] = '\0';
	if (iev->id < MAX_WORKERS && nenv.st_inflight[iev->id] > 0)
		nenv.st_inflight[iev->id]--;
	if ((c = conn_find(imsg->hdr.peerid)) == NULL ||
	    c->state != CS_STORAGE || c->reqid != res.reqid)
		return;		/* the client left meanwhile */
	if (res.error != WIRE_E_OK) {
		if (c->method == WIRE_M_READ && res.error == WIRE_E_CORRUPT)
			nenv.corrupt_reads++;
		conn_respond(c, c->method, res.error, res.msg, NULL, 0);
		return;
	}
	switch (c->method) {
	case WIRE_M_READ:
		/* Storage read it there and checked it against its crc32. */
		if (res.len > WIRE_PAYLOAD_MAX || c->bb == NULL)
			fatalx("%s: bad read result", __func__);
		nenv.chunk_reads++;
		nenv.bytes_read += res.len;
		conn_respond_inplace(c, res.len, res.crc);
		break;
	case WIRE_M_LIST:
		if (res.len > WIRE_PAYLOAD_MAX || c->bb == NULL)
			fatalx("%s: bad list result", __func__);
		conn_respond_inplace(c, res.len, res.crc);
		break;
	case WIRE_M_STAT:
		put64(pl, res.len);
		pl[8] = res.crc >> 24;
		pl[9] = res.crc >> 16;
		pl[10] = res.crc >> 8;
		pl[11] = res.crc;
		conn_respond(c, c->method, WIRE_E_OK, NULL, pl, 12);
		break;
	case WIRE_M_STATFS:
		put64(pl, res.fs[0]);
		put64(pl + 8, res.fs[1]);
		put64(pl + 16, res.fs[2]);
		put64(pl + 24, res.fs[3]);
		conn_respond(c, c->method, WIRE_E_OK, NULL, pl, 32);
		break;
	default:
		conn_respond(c, c->method, WIRE_E_OK, NULL, NULL, 0);
		break;
	}
}

/* The header of a response, with no errmsg and no name. */
static ssize_t
conn_hdr(uint8_t *pt, uint64_t method, uint64_t error, const char *errmsg,
    size_t paylen, uint32_t crc)
{
	struct wire_hdr	 hdr;

	memset(&hdr, 0, sizeof(hdr));
	wire_hdr_set(&hdr, WIRE_F_METHOD, (method & 0x7f) | WIRE_M_RESPONSE);
	wire_hdr_set(&hdr, WIRE_F_TIMESTAMP, wire_now_ms());
	wire_hdr_set(&hdr, WIRE_F_PAYLEN, paylen);
	wire_hdr_set(&hdr, WIRE_F_PAYCRC, crc);
	wire_hdr_set(&hdr, WIRE_F_ERROR, error);
	if (errmsg != NULL)
		wire_hdr_set_errmsg(&hdr, errmsg);
	return wire_hdr_encode(&hdr, pt, 4 + WIRE_HDR_MAX);
}

/*
 * Where a successful response's payload starts in the frame: its
 * header's fields are all fixed-size integers.
 */
size_t
conn_payload_off(void)
{
	static size_t	 off;
	uint8_t		 tmp[4 + WIRE_HDR_MAX];
	ssize_t		 hl;

	if (off == 0) {
		if ((hl = conn_hdr(tmp, WIRE_M_READ, WIRE_E_OK, NULL, 0, 0)) ==
		    -1)
			fatalx("%s: header does not fit", __func__);
		off = WIRE_FRAME_HDR + hl;
	}
	return off;
}

/*
 * Build the response in the connection's buffer and send it with the
 * request's counter.
 */
static void
conn_respond(struct conn *c, uint64_t method, uint64_t error,
    const char *errmsg, const void *payload, size_t paylen)
{
	uint8_t		*pt;
	ssize_t		 hl;
	size_t		 need;

	need = WIRE_FRAME_HDR + 4 + WIRE_HDR_MAX + paylen + WIRE_TAG_LEN;
	if (c->bb != NULL)
		c->frame = c->bb->p;
	else if (need <= CONN_KEEP_BUF) {
		if (conn_buf(c, need) == -1) {
			conn_drop(c, "out of memory for a response");
			return;
		}
		c->frame = c->buf;
	} else {
		if (conn_bigbuf(c) == -1) {
			conn_drop(c, "out of memory for a response");
			return;
		}
		c->frame = c->bb->p;
	}
	pt = c->frame + WIRE_FRAME_HDR;
	if ((hl = conn_hdr(pt, method, error, errmsg, paylen,
	    crc32(0, payload, paylen))) == -1)
		fatalx("%s: header does not fit", __func__);
	if (paylen > 0)
		memmove(pt + hl, payload, paylen);
	conn_timer(c, nenv.env->conf->message_timeout_ms);
	conn_send(c, c->frame, wire_seal(c->keys.s2c, c->counter, c->frame,
	    hl + paylen), CS_RESPONSE);
}

/*
 * A successful response whose payload is in place in the big buffer,
 * its frame at respoff.
 */
static void
conn_respond_inplace(struct conn *c, size_t paylen, uint32_t crc)
{
	ssize_t	 hl;

	c->frame = c->bb->p + c->respoff;
	hl = conn_hdr(c->frame + WIRE_FRAME_HDR, c->method, WIRE_E_OK, NULL,
	    paylen, crc);
	if (hl == -1 || WIRE_FRAME_HDR + (size_t)hl != conn_payload_off())
		fatalx("%s: header size changed", __func__);
	conn_timer(c, nenv.env->conf->message_timeout_ms);
	conn_send(c, c->frame, wire_seal(c->keys.s2c, c->counter, c->frame,
	    hl + paylen), CS_RESPONSE);
}
