/*
 * Client side of the dsrv wire protocol (man/dsrv-protocol.5): TCP
 * connect, the pre-shared-key handshake, then sealed request/response
 * frames, one request in flight.  Everything blocks with poll(2)
 * timeouts on a non-blocking socket, so a dead server costs a bounded
 * wait and never a hang.
 */
#include <sys/types.h>
#include <sys/socket.h>

#include <netinet/in.h>
#include <netinet/tcp.h>

#include <errno.h>
#include <limits.h>
#include <netdb.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <sodium.h>
#include <zlib.h>

#include "bytes.h"
#include "chunkname.h"
#include "client.h"
#include "util.h"
#include "wire.h"

/* The largest frame on the wire, with its 12 header bytes. */
#define CLIENT_BUF_MAX		((size_t)WIRE_FRAME_HDR + WIRE_FRAME_MAX)
/* Grow in steps, so a run of slightly larger requests reallocs rarely. */
#define CLIENT_BUF_STEP		(64 * 1024)
/* The start of every handshake message: magic, version, type. */
#define HS_PREFIX		6

/* A name escaped by safename(): up to four bytes for each of its bytes. */
#define SAFENAME_MAX		(4 * WIRE_NAME_MAX)

#define IO_OK			0
#define IO_ERR			(-1)	/* errno says why */
#define IO_EOF			(-2)

struct dsrv_client {
	int			 fd;
	int			 broken;	/* no more requests */
	int			 io_timeout_ms;
	char			 peer[320];	/* "HOST port P" */
	struct wire_keys	 keys;
	uint64_t		 nreq;		/* requests sent */
	uint64_t		 handshake_us;
	uint8_t			*buf;		/* one frame, either way */
	size_t			 bufsize;
};

/*
 * How long one I/O step may wait: idle_ms for any progress, and
 * deadline_us (CLOCK_MONOTONIC, 0 for none) for the whole exchange.
 */
struct iotime {
	int			 idle_ms;
	uint64_t		 deadline_us;
};

static uint64_t	 mono_us(void);
static void	 seterr(char *, size_t, const char *, const char *, ...)
		    __attribute__((__format__ (printf, 4, 5)));
static void	 printable(char *, size_t);
static int	 io_poll(int, short, const struct iotime *);
static int	 io_write(int, const void *, size_t, const struct iotime *);
static int	 io_read(int, void *, size_t, const struct iotime *);
static const char *io_strerror(int, const struct iotime *, char *, size_t);
static int	 tcp_connect(struct dsrv_client *, const char *, const char *,
		    int, char *, size_t);
static int	 hs_read(struct dsrv_client *, uint8_t *, size_t,
		    const struct iotime *, const char *, char *, size_t);
static int	 hs_result(struct dsrv_client *, uint8_t *, const struct iotime *,
		    int *, uint8_t *, char *, char *, size_t);
static int	 handshake(struct dsrv_client *, const struct dsrv_client_opts *,
		    int, char *, size_t);
static int	 buf_reserve(struct dsrv_client *, size_t);
static int	 broken(struct dsrv_client *, char *, size_t, const char *, ...)
		    __attribute__((__format__ (printf, 4, 5)));
static int	 request(struct dsrv_client *, uint32_t, const char *,
		    const void *, size_t, struct dsrv_reply *, int *, char *,
		    size_t);
static void	 safename(const char *, char *, size_t);
static int	 unsendable(struct dsrv_client *, const char *, int,
		    const char *, char *, size_t);
static int	 reply_code(struct dsrv_client *, const struct dsrv_reply *,
		    const char *, char *, size_t);
static int	 list_page_check(struct dsrv_client *, const char *,
		    const char *, const uint8_t *, size_t, size_t *, int *,
		    char *, size_t);

static uint64_t
mono_us(void)
{
	struct timespec	 ts;

	/* CLOCK_MONOTONIC cannot fail with a valid pointer. */
	(void)clock_gettime(CLOCK_MONOTONIC, &ts);
	return ((uint64_t)ts.tv_sec * 1000000 + (uint64_t)ts.tv_nsec / 1000);
}

/* "PEER: message" into err; every message names the server. */
static void
seterr(char *err, size_t errlen, const char *peer, const char *fmt, ...)
{
	char	 msg[DSRV_CLIENT_ERRLEN];
	va_list	 ap;

	if (err == NULL || errlen == 0)
		return;
	va_start(ap, fmt);
	(void)vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	(void)snprintf(err, errlen, "%s: %s", peer, msg);
}

/*
 * Text from the server ends up on a terminal: escaped in place, in its
 * own buffer of size bytes (cut there if the escapes make it longer).
 */
static void
printable(char *s, size_t size)
{
	char	*copy;

	if ((copy = strdup(s)) == NULL) {
		/* Nothing unsafe is shown, even without memory. */
		s[0] = '\0';
		return;
	}
	dsrv_vis(s, size, copy);
	free(copy);
}

/* Wait for fd to become ready: 0, or -1 with errno (ETIMEDOUT). */
static int
io_poll(int fd, short events, const struct iotime *t)
{
	struct pollfd	 pfd;
	uint64_t	 now, left;
	int		 ms, n;

	for (;;) {
		ms = t->idle_ms;
		if (t->deadline_us != 0) {
			now = mono_us();
			if (now >= t->deadline_us) {
				errno = ETIMEDOUT;
				return (-1);
			}
			left = (t->deadline_us - now + 999) / 1000;
			if (left < (uint64_t)ms)
				ms = (int)left;
		}
		pfd.fd = fd;
		pfd.events = events;
		pfd.revents = 0;
		n = poll(&pfd, 1, ms);
		if (n == -1) {
			if (errno == EINTR)
				continue;
			return (-1);
		}
		if (n == 0) {
			errno = ETIMEDOUT;
			return (-1);
		}
		/* POLLERR and POLLHUP: the next send or recv says what. */
		return (0);
	}
}

static int
io_write(int fd, const void *buf, size_t len, const struct iotime *t)
{
	const uint8_t	*p = buf;
	ssize_t		 n;

	while (len > 0) {
		/* MSG_NOSIGNAL: a library must not die of SIGPIPE. */
		n = send(fd, p, len, MSG_NOSIGNAL);
		if (n == -1) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN || errno == EWOULDBLOCK) {
				if (io_poll(fd, POLLOUT, t) == -1)
					return (IO_ERR);
				continue;
			}
			return (IO_ERR);
		}
		p += n;
		len -= (size_t)n;
	}
	return (IO_OK);
}

static int
io_read(int fd, void *buf, size_t len, const struct iotime *t)
{
	uint8_t		*p = buf;
	ssize_t		 n;

	while (len > 0) {
		n = recv(fd, p, len, 0);
		if (n == -1) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN || errno == EWOULDBLOCK) {
				if (io_poll(fd, POLLIN, t) == -1)
					return (IO_ERR);
				continue;
			}
			return (IO_ERR);
		}
		if (n == 0)
			return (IO_EOF);
		p += n;
		len -= (size_t)n;
	}
	return (IO_OK);
}

/* Why an I/O step failed, in words. */
static const char *
io_strerror(int rv, const struct iotime *t, char *buf, size_t len)
{
	if (rv == IO_EOF)
		return ("connection closed by the server");
	if (errno == ETIMEDOUT) {
		(void)snprintf(buf, len, "timed out after %d ms", t->idle_ms);
		return (buf);
	}
	return (strerror(errno));
}

static int
tcp_connect(struct dsrv_client *c, const char *host, const char *port,
    int timeout_ms, char *err, size_t errlen)
{
	struct addrinfo	 hints, *res, *ai;
	struct iotime	 t;
	char		 addr[NI_MAXHOST], why[NI_MAXHOST + 128], tbuf[64];
	socklen_t	 sl;
	int		 fd, e, soerr, on = 1;

	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_protocol = IPPROTO_TCP;
	if ((e = getaddrinfo(host, port, &hints, &res)) != 0) {
		seterr(err, errlen, c->peer, "%s", e == EAI_SYSTEM ?
		    strerror(errno) : gai_strerror(e));
		return (-1);
	}
	why[0] = '\0';
	for (ai = res; ai != NULL; ai = ai->ai_next) {
		if (getnameinfo(ai->ai_addr, ai->ai_addrlen, addr,
		    sizeof(addr), NULL, 0, NI_NUMERICHOST) != 0)
			(void)strlcpy(addr, "?", sizeof(addr));
		fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC |
		    SOCK_NONBLOCK, ai->ai_protocol);
		if (fd == -1) {
			(void)snprintf(why, sizeof(why), "socket: %s",
			    strerror(errno));
			continue;
		}
		if (connect(fd, ai->ai_addr, ai->ai_addrlen) == -1) {
			if (errno != EINPROGRESS && errno != EINTR) {
				soerr = errno;
				goto next;
			}
			t.idle_ms = timeout_ms;
			t.deadline_us = mono_us() + (uint64_t)timeout_ms * 1000;
			if (io_poll(fd, POLLOUT, &t) == -1) {
				soerr = errno;
				goto next;
			}
			sl = sizeof(soerr);
			if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr,
			    &sl) == -1)
				soerr = errno;
			if (soerr != 0)
				goto next;
		}
		if (setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &on,
		    sizeof(on)) == -1) {
			seterr(err, errlen, c->peer, "TCP_NODELAY: %s",
			    strerror(errno));
			(void)close(fd);
			freeaddrinfo(res);
			return (-1);
		}
		c->fd = fd;
		freeaddrinfo(res);
		return (0);
 next:
		(void)close(fd);
		if (soerr == ETIMEDOUT) {
			(void)snprintf(tbuf, sizeof(tbuf),
			    "timed out after %d ms", timeout_ms);
		} else
			(void)strlcpy(tbuf, strerror(soerr), sizeof(tbuf));
		/* Name the address only when it says more than host. */
		if (strcmp(addr, host) == 0)
			(void)snprintf(why, sizeof(why), "connect: %s", tbuf);
		else
			(void)snprintf(why, sizeof(why), "connect to %s: %s",
			    addr, tbuf);
	}
	freeaddrinfo(res);
	seterr(err, errlen, c->peer, "%s", why[0] != '\0' ? why :
	    "no usable address");
	return (-1);
}

/* Read len bytes of a handshake message; what names it for errors. */
static int
hs_read(struct dsrv_client *c, uint8_t *buf, size_t len,
    const struct iotime *t, const char *what, char *err, size_t errlen)
{
	char	 tbuf[64];
	int	 rv;

	if ((rv = io_read(c->fd, buf, len, t)) == IO_OK)
		return (0);
	if (rv == IO_EOF)
		seterr(err, errlen, c->peer, "server closed the connection "
		    "during the handshake, waiting for %s", what);
	else
		seterr(err, errlen, c->peer, "handshake, waiting for %s: %s",
		    what, io_strerror(rv, t, tbuf, sizeof(tbuf)));
	return (-1);
}

/*
 * The rest of a RESULT whose first HS_PREFIX bytes are in buf (room
 * for WIRE_RESULT_MAX): the fixed part, then the message it announces.
 */
static int
hs_result(struct dsrv_client *c, uint8_t *buf, const struct iotime *t,
    int *code, uint8_t *sproof, char *msg, char *err, size_t errlen)
{
	const char	*errstr;
	size_t		 mlen, need;

	if (hs_read(c, buf + HS_PREFIX, WIRE_RESULT_MIN - HS_PREFIX, t,
	    "RESULT", err, errlen) == -1)
		return (-1);
	mlen = buf[WIRE_RESULT_MIN - 1];
	if (mlen > WIRE_RESULT_MSG_MAX) {
		seterr(err, errlen, c->peer, "bad RESULT from the server: "
		    "message length %zu", mlen);
		return (-1);
	}
	if (mlen > 0 && hs_read(c, buf + WIRE_RESULT_MIN, mlen, t, "RESULT",
	    err, errlen) == -1)
		return (-1);
	need = 0;
	if (wire_result_parse(buf, WIRE_RESULT_MIN + mlen, &need, code, sproof,
	    msg, &errstr) == -1) {
		seterr(err, errlen, c->peer, "bad RESULT from the server: %s",
		    errstr);
		return (-1);
	}
	if (need > WIRE_RESULT_MIN + mlen) {
		seterr(err, errlen, c->peer, "bad RESULT from the server: "
		    "truncated");
		return (-1);
	}
	msg[WIRE_RESULT_MSG_MAX] = '\0';
	printable(msg, WIRE_RESULT_MSG_MAX + 1);
	return (0);
}

static int
handshake(struct dsrv_client *c, const struct dsrv_client_opts *o,
    int timeout_ms, char *err, size_t errlen)
{
	uint8_t		 hello[WIRE_HELLO_LEN], chal[WIRE_CHALLENGE_LEN];
	uint8_t		 fin[WIRE_FINISH_LEN], res[WIRE_RESULT_MAX];
	uint8_t		 crand[WIRE_RANDOM_LEN], srand[WIRE_RANDOM_LEN];
	uint8_t		 h[WIRE_HASH_LEN], cproof[WIRE_PROOF_LEN];
	uint8_t		 sproof[WIRE_PROOF_LEN], want[WIRE_PROOF_LEN];
	char		 msg[WIRE_RESULT_MSG_MAX + 1], tbuf[64];
	const char	*errstr;
	struct iotime	 t;
	uint64_t	 start, stime;
	int		 rv, code, ret = -1;

	start = mono_us();
	t.idle_ms = timeout_ms;
	t.deadline_us = start + (uint64_t)timeout_ms * 1000;

	randombytes_buf(crand, sizeof(crand));
	wire_hello_build(hello, o->keyname, crand, wire_now_ms());
	if ((rv = io_write(c->fd, hello, sizeof(hello), &t)) != IO_OK) {
		seterr(err, errlen, c->peer, "handshake, sending HELLO: %s",
		    io_strerror(rv, &t, tbuf, sizeof(tbuf)));
		goto done;
	}

	/* A refusal may come in place of the CHALLENGE. */
	if (hs_read(c, chal, HS_PREFIX, &t, "CHALLENGE", err, errlen) == -1)
		goto done;
	if (memcmp(chal, WIRE_MAGIC, 4) != 0) {
		seterr(err, errlen, c->peer, "not a dsrvd: bad handshake "
		    "magic");
		goto done;
	}
	if (chal[5] == WIRE_HS_RESULT) {
		memcpy(res, chal, HS_PREFIX);
		if (hs_result(c, res, &t, &code, sproof, msg, err,
		    errlen) == -1)
			goto done;
		if (code == WIRE_HS_OK) {
			seterr(err, errlen, c->peer, "bad handshake: server "
			    "accepted before it was asked");
			goto done;
		}
		goto refused;
	}
	if (chal[5] != WIRE_HS_CHALLENGE) {
		seterr(err, errlen, c->peer, "bad handshake: message type %u "
		    "where CHALLENGE was expected", chal[5]);
		goto done;
	}
	if (hs_read(c, chal + HS_PREFIX, sizeof(chal) - HS_PREFIX, &t,
	    "CHALLENGE", err, errlen) == -1)
		goto done;
	if (wire_challenge_parse(chal, sizeof(chal), srand, &stime,
	    &errstr) == -1) {
		seterr(err, errlen, c->peer, "bad CHALLENGE from the server: "
		    "%s", errstr);
		goto done;
	}

	wire_transcript(hello, chal, h);
	wire_client_proof(o->key, h, cproof);
	wire_finish_build(fin, cproof);
	if ((rv = io_write(c->fd, fin, sizeof(fin), &t)) != IO_OK) {
		seterr(err, errlen, c->peer, "handshake, sending FINISH: %s",
		    io_strerror(rv, &t, tbuf, sizeof(tbuf)));
		goto done;
	}

	if (hs_read(c, res, HS_PREFIX, &t, "RESULT", err, errlen) == -1)
		goto done;
	if (memcmp(res, WIRE_MAGIC, 4) != 0 || res[5] != WIRE_HS_RESULT) {
		seterr(err, errlen, c->peer, "bad handshake: expected RESULT");
		goto done;
	}
	if (hs_result(c, res, &t, &code, sproof, msg, err, errlen) == -1)
		goto done;
	if (code != WIRE_HS_OK)
		goto refused;

	wire_server_proof(o->key, h, cproof, want);
	if (wire_proof_cmp(want, sproof) != 0) {
		seterr(err, errlen, c->peer, "server failed to prove the key: "
		    "wrong key or not a dsrvd");
		goto done;
	}
	wire_session_keys(o->key, h, cproof, &c->keys);
	c->handshake_us = mono_us() - start;
	ret = 0;
	goto done;

 refused:
	/* The server's words, and ours when they add something. */
	if (msg[0] != '\0' && strcmp(msg, wire_hs_strerror(code)) != 0)
		seterr(err, errlen, c->peer, "refused: %s (%s)", msg,
		    wire_hs_strerror(code));
	else
		seterr(err, errlen, c->peer, "refused: %s",
		    wire_hs_strerror(code));
 done:
	sodium_memzero(hello, sizeof(hello));
	sodium_memzero(chal, sizeof(chal));
	sodium_memzero(fin, sizeof(fin));
	sodium_memzero(res, sizeof(res));
	sodium_memzero(crand, sizeof(crand));
	sodium_memzero(srand, sizeof(srand));
	sodium_memzero(h, sizeof(h));
	sodium_memzero(cproof, sizeof(cproof));
	sodium_memzero(sproof, sizeof(sproof));
	sodium_memzero(want, sizeof(want));
	return (ret);
}

struct dsrv_client *
dsrv_client_connect(const struct dsrv_client_opts *o, char *err,
    size_t errlen)
{
	struct dsrv_client	*c;
	const char		*port;
	int			 ctimeout;

	if (err != NULL && errlen > 0)
		err[0] = '\0';
	if (o == NULL || o->host == NULL || o->host[0] == '\0') {
		if (err != NULL && errlen > 0)
			(void)snprintf(err, errlen, "no server address");
		return (NULL);
	}
	port = o->port != NULL && o->port[0] != '\0' ? o->port :
	    DSRV_CLIENT_PORT;
	if ((c = calloc(1, sizeof(*c))) == NULL) {
		seterr(err, errlen, o->host, "%s", strerror(errno));
		return (NULL);
	}
	c->fd = -1;
	if ((size_t)snprintf(c->peer, sizeof(c->peer), "%s port %s",
	    o->host, port) >= sizeof(c->peer)) {
		(void)strlcpy(c->peer, "server", sizeof(c->peer));
		seterr(err, errlen, c->peer, "address too long");
		goto fail;
	}
	if (o->keyname == NULL || !wire_keyname_valid(o->keyname)) {
		seterr(err, errlen, c->peer, "invalid key name '%s'",
		    o->keyname != NULL ? o->keyname : "");
		goto fail;
	}
	if (sodium_init() == -1) {
		seterr(err, errlen, c->peer, "libsodium failed to initialise");
		goto fail;
	}
	ctimeout = o->connect_timeout_ms > 0 ? o->connect_timeout_ms :
	    DSRV_CLIENT_CONNECT_TIMEOUT;
	c->io_timeout_ms = o->io_timeout_ms > 0 ? o->io_timeout_ms :
	    DSRV_CLIENT_IO_TIMEOUT;
	if (tcp_connect(c, o->host, port, ctimeout, err, errlen) == -1)
		goto fail;
	if (handshake(c, o, ctimeout, err, errlen) == -1)
		goto fail;
	return (c);
 fail:
	dsrv_client_close(c);
	return (NULL);
}

/* Room for a frame of len bytes in the connection's buffer. */
static int
buf_reserve(struct dsrv_client *c, size_t len)
{
	uint8_t	*nb;
	size_t	 size;

	if (len <= c->bufsize)
		return (0);
	if (len > CLIENT_BUF_MAX) {
		errno = EMSGSIZE;
		return (-1);
	}
	size = (len + CLIENT_BUF_STEP - 1) / CLIENT_BUF_STEP * CLIENT_BUF_STEP;
	if (size > CLIENT_BUF_MAX)
		size = CLIENT_BUF_MAX;
	if ((nb = realloc(c->buf, size)) == NULL)
		return (-1);
	c->buf = nb;
	c->bufsize = size;
	return (0);
}

/* The connection is out of step with the server: no more requests. */
static int
broken(struct dsrv_client *c, char *err, size_t errlen, const char *fmt, ...)
{
	char	 msg[DSRV_CLIENT_ERRLEN];
	va_list	 ap;

	va_start(ap, fmt);
	(void)vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	seterr(err, errlen, c->peer, "%s", msg);
	c->broken = 1;
	if (c->fd != -1) {
		(void)close(c->fd);
		c->fd = -1;
	}
	return (-1);
}

int
dsrv_client_request(struct dsrv_client *c, uint32_t method, const char *name,
    const void *payload, size_t len, struct dsrv_reply *reply, char *err,
    size_t errlen)
{
	return (request(c, method, name, payload, len, reply, NULL, err,
	    errlen));
}

/*
 * dsrv_client_request(), and with crcok not NULL a response payload
 * that fails its paycrc is handed back with *crcok 0 instead of ending
 * the connection: the frame was authentic and complete, so the server
 * is still in step, and for a READ the mismatch is news about the
 * chunk, not about the transport.
 */
static int
request(struct dsrv_client *c, uint32_t method, const char *name,
    const void *payload, size_t len, struct dsrv_reply *reply, int *crcok,
    char *err, size_t errlen)
{
	struct wire_hdr	 h;
	struct iotime	 t;
	const char	*errstr, *mname;
	char		 tbuf[64];
	uint8_t		*pt;
	uint64_t	 counter, rcounter, crc;
	size_t		 ctlen, ptlen, flen, paylen;
	ssize_t		 hl, off;
	int		 rv;

	if (err != NULL && errlen > 0)
		err[0] = '\0';
	if (c->broken) {
		seterr(err, errlen, c->peer, "connection unusable after an "
		    "earlier error");
		return (-1);
	}
	mname = wire_method_name(method);
	if (method == 0 || method >= WIRE_M_RESPONSE) {
		seterr(err, errlen, c->peer, "invalid method %u", method);
		return (-1);
	}
	if (len > WIRE_PAYLOAD_MAX || (payload == NULL && len != 0)) {
		seterr(err, errlen, c->peer, "%s: payload of %zu bytes, at "
		    "most %d allowed", mname, len, WIRE_PAYLOAD_MAX);
		return (-1);
	}

	memset(&h, 0, sizeof(h));
	wire_hdr_set(&h, WIRE_F_METHOD, method);
	if (name != NULL && wire_hdr_set_name(&h, name) == -1) {
		seterr(err, errlen, c->peer, "%s: invalid name (1..%d bytes)",
		    mname, WIRE_NAME_MAX);
		return (-1);
	}
	crc = len > 0 ? crc32(crc32(0L, Z_NULL, 0), payload, (uInt)len) : 0;
	wire_hdr_set(&h, WIRE_F_TIMESTAMP, wire_now_ms());
	wire_hdr_set(&h, WIRE_F_PAYLEN, len);
	wire_hdr_set(&h, WIRE_F_PAYCRC, crc);
	if (buf_reserve(c, WIRE_FRAME_HDR + 4 + WIRE_HDR_MAX + len +
	    WIRE_TAG_LEN) == -1) {
		seterr(err, errlen, c->peer, "%s: %s", mname, strerror(errno));
		return (-1);
	}
	hl = wire_hdr_encode(&h, c->buf + WIRE_FRAME_HDR, 4 + WIRE_HDR_MAX);
	if (hl == -1) {
		seterr(err, errlen, c->peer, "%s: request header does not "
		    "encode", mname);
		return (-1);
	}
	if (len > 0)
		memcpy(c->buf + WIRE_FRAME_HDR + hl, payload, len);

	/* From here on a failure leaves us out of step with the server. */
	counter = c->keys.counter0 + c->nreq++;
	flen = wire_seal(c->keys.c2s, counter, c->buf, (size_t)hl + len);
	t.idle_ms = c->io_timeout_ms;
	t.deadline_us = 0;
	if ((rv = io_write(c->fd, c->buf, flen, &t)) != IO_OK)
		return (broken(c, err, errlen, "%s: sending the request: %s",
		    mname, io_strerror(rv, &t, tbuf, sizeof(tbuf))));

	if ((rv = io_read(c->fd, c->buf, WIRE_FRAME_HDR, &t)) != IO_OK)
		return (broken(c, err, errlen, "%s: waiting for the response: "
		    "%s", mname, io_strerror(rv, &t, tbuf, sizeof(tbuf))));
	/* Bounds first: nothing is allocated for a length out of range. */
	if (wire_frame_hdr(c->buf, &ctlen, &rcounter) == -1)
		return (broken(c, err, errlen, "%s: response frame length out "
		    "of bounds", mname));
	if (rcounter != counter)
		return (broken(c, err, errlen, "%s: response counter %llu, "
		    "expected %llu", mname, (unsigned long long)rcounter,
		    (unsigned long long)counter));
	if (buf_reserve(c, WIRE_FRAME_HDR + ctlen) == -1)
		return (broken(c, err, errlen, "%s: response of %zu bytes: %s",
		    mname, ctlen, strerror(errno)));
	if ((rv = io_read(c->fd, c->buf + WIRE_FRAME_HDR, ctlen, &t)) != IO_OK)
		return (broken(c, err, errlen, "%s: reading the response: %s",
		    mname, rv == IO_EOF ? "connection closed by the server "
		    "mid-frame" : io_strerror(rv, &t, tbuf, sizeof(tbuf))));
	if (wire_open(c->keys.s2c, c->buf, ctlen) == -1)
		return (broken(c, err, errlen, "%s: response failed "
		    "authentication", mname));

	pt = c->buf + WIRE_FRAME_HDR;
	ptlen = ctlen - WIRE_TAG_LEN;
	memset(&reply->hdr, 0, sizeof(reply->hdr));
	if ((off = wire_hdr_decode(&reply->hdr, pt, ptlen, &errstr)) == -1)
		return (broken(c, err, errlen, "%s: bad response header: %s",
		    mname, errstr));
	paylen = ptlen - (size_t)off;
	if (wire_hdr_check(&reply->hdr, 1, paylen, &errstr) == -1)
		return (broken(c, err, errlen, "%s: bad response header: %s",
		    mname, errstr));
	if (reply->hdr.method != (method | WIRE_M_RESPONSE))
		return (broken(c, err, errlen, "%s: response has method %llu",
		    mname, (unsigned long long)reply->hdr.method));
	crc = paylen > 0 ? crc32(crc32(0L, Z_NULL, 0), pt + off,
	    (uInt)paylen) : 0;
	if (crcok != NULL)
		*crcok = crc == reply->hdr.paycrc;
	if (crc != reply->hdr.paycrc && crcok == NULL)
		return (broken(c, err, errlen, "%s: response payload crc32 "
		    "%08llx, header says %08llx", mname,
		    (unsigned long long)crc,
		    (unsigned long long)reply->hdr.paycrc));
	reply->hdr.errmsg[sizeof(reply->hdr.errmsg) - 1] = '\0';
	printable(reply->hdr.errmsg, sizeof(reply->hdr.errmsg));
	reply->payload = pt + off;
	reply->len = paylen;
	return (0);
}

int
dsrv_client_ping(struct dsrv_client *c, char *version, size_t vlen,
    uint64_t *server_ms, uint64_t *rtt_us, char *err, size_t errlen)
{
	struct dsrv_reply	 r;
	uint64_t		 t0, rtt;
	size_t			 n;

	t0 = mono_us();
	if (dsrv_client_request(c, WIRE_M_PING, NULL, NULL, 0, &r, err,
	    errlen) == -1)
		return (-1);
	rtt = mono_us() - t0;
	if (r.hdr.error != WIRE_E_OK) {
		if (r.hdr.errmsg[0] != '\0')
			seterr(err, errlen, c->peer, "ping: %s (%s)",
			    r.hdr.errmsg, wire_strerror(r.hdr.error));
		else
			seterr(err, errlen, c->peer, "ping: %s",
			    wire_strerror(r.hdr.error));
		return (-1);
	}
	if (version != NULL && vlen > 0) {
		n = r.len < vlen - 1 ? r.len : vlen - 1;
		memcpy(version, r.payload, n);
		version[n] = '\0';
		/* An embedded NUL ends it; the rest must be printable. */
		printable(version, vlen);
	}
	if (server_ms != NULL)
		*server_ms = r.hdr.timestamp;
	if (rtt_us != NULL)
		*rtt_us = rtt;
	return (0);
}

/*
 * A name the user typed, fit for a message: its first WIRE_NAME_MAX
 * bytes, escaped (see dsrv_vis), in a buffer of SAFENAME_MAX + 1.
 */
static void
safename(const char *name, char *buf, size_t len)
{
	char	 cut[WIRE_NAME_MAX + 1];

	(void)strlcpy(cut, name != NULL ? name : "", sizeof(cut));
	dsrv_vis(buf, len, cut);
}

/*
 * Names the wire cannot carry (empty, longer than WIRE_NAME_MAX) are
 * bad chunk names too, and are answered here with the reason; every
 * other name goes to the server, which is the judge.  Returns
 * WIRE_E_BADNAME or 0.
 */
static int
unsendable(struct dsrv_client *c, const char *name, int isdir,
    const char *sn, char *err, size_t errlen)
{
	const char	*errstr;
	size_t		 len;

	len = name != NULL ? strlen(name) : 0;
	if (len > 0 && len <= WIRE_NAME_MAX)
		return (0);
	if (isdir)
		(void)chunk_dir_check(name != NULL ? name : "", len, &errstr);
	else
		(void)chunk_name_check(name != NULL ? name : "", len, NULL,
		    &errstr);
	seterr(err, errlen, c->peer, "%s: %s: %s", sn,
	    wire_strerror(WIRE_E_BADNAME), errstr);
	return (WIRE_E_BADNAME);
}

/*
 * The response's error code, with "PEER: WHAT: <text>: <server's
 * message>" in err when it is not 0.  A server message that already
 * starts with the code's text ("bad chunk name: ...") stands alone.
 */
static int
reply_code(struct dsrv_client *c, const struct dsrv_reply *r,
    const char *what, char *err, size_t errlen)
{
	const char	*text;
	size_t		 tlen;

	if (r->hdr.error == WIRE_E_OK)
		return (WIRE_E_OK);
	text = wire_strerror(r->hdr.error);
	tlen = strlen(text);
	if (r->hdr.errmsg[0] == '\0' || strcmp(r->hdr.errmsg, text) == 0)
		seterr(err, errlen, c->peer, "%s: %s", what, text);
	else if (strncmp(r->hdr.errmsg, text, tlen) == 0 &&
	    r->hdr.errmsg[tlen] == ':')
		seterr(err, errlen, c->peer, "%s: %s", what, r->hdr.errmsg);
	else
		seterr(err, errlen, c->peer, "%s: %s: %s", what, text,
		    r->hdr.errmsg);
	/* Codes this client does not know are still not 0, nor -1. */
	return (r->hdr.error > INT_MAX ? INT_MAX : (int)r->hdr.error);
}

int
dsrv_client_write(struct dsrv_client *c, const char *name, const void *data,
    size_t len, char *err, size_t errlen)
{
	struct dsrv_reply	 r;
	const char		*errstr;
	char			 sn[SAFENAME_MAX + 1];

	if (err != NULL && errlen > 0)
		err[0] = '\0';
	safename(name, sn, sizeof(sn));
	if (name == NULL ||
	    chunk_name_check(name, strlen(name), NULL, &errstr) == -1) {
		seterr(err, errlen, c->peer, "%s: %s: %s", sn,
		    wire_strerror(WIRE_E_BADNAME), name == NULL ? "no name" :
		    errstr);
		return (WIRE_E_BADNAME);
	}
	if (len > WIRE_PAYLOAD_MAX) {
		seterr(err, errlen, c->peer, "%s: %s: %zu bytes, a chunk holds "
		    "at most %d", sn, wire_strerror(WIRE_E_TOOBIG), len,
		    WIRE_PAYLOAD_MAX);
		return (WIRE_E_TOOBIG);
	}
	if (request(c, WIRE_M_WRITE, name, data, len, &r, NULL, err,
	    errlen) == -1)
		return (-1);
	return (reply_code(c, &r, sn, err, errlen));
}

int
dsrv_client_read(struct dsrv_client *c, const char *name,
    const uint8_t **data, size_t *len, uint32_t *crc, char *err,
    size_t errlen)
{
	struct dsrv_reply	 r;
	uLong			 got;
	char			 sn[SAFENAME_MAX + 1];
	int			 crcok, code;

	*data = NULL;
	*len = 0;
	if (err != NULL && errlen > 0)
		err[0] = '\0';
	safename(name, sn, sizeof(sn));
	if ((code = unsendable(c, name, 0, sn, err, errlen)) != 0)
		return (code);
	if (request(c, WIRE_M_READ, name, NULL, 0, &r, &crcok, err,
	    errlen) == -1)
		return (-1);
	if ((code = reply_code(c, &r, sn, err, errlen)) != WIRE_E_OK)
		return (code);
	if (!crcok) {
		got = r.len > 0 ? crc32(crc32(0L, Z_NULL, 0), r.payload,
		    (uInt)r.len) : 0;
		seterr(err, errlen, c->peer, "%s: %s: received bytes have "
		    "crc32 %08lx, the server's stored crc32 is %08llx", sn,
		    wire_strerror(WIRE_E_CORRUPT), (unsigned long)got,
		    (unsigned long long)r.hdr.paycrc);
		return (WIRE_E_CORRUPT);
	}
	*data = r.payload;
	*len = r.len;
	if (crc != NULL)
		*crc = (uint32_t)r.hdr.paycrc;
	return (WIRE_E_OK);
}

/*
 * A LIST payload: names that are valid NAMEs, strictly ascending and
 * after the start name.  *namelen excludes a trailing NUL, which sets
 * *more.  -1 (connection broken: the server cannot be trusted to
 * continue) on anything else.
 */
static int
list_page_check(struct dsrv_client *c, const char *dir, const char *after,
    const uint8_t *p, size_t len, size_t *namelen, int *more, char *err,
    size_t errlen)
{
	const char	*s = (const char *)p, *prev, *errstr, *nul;
	size_t		 off, n, prevlen;
	int		 cmp;

	*more = len > 0 && p[len - 1] == '\0';
	*namelen = *more ? len - 1 : len;
	if (*more && *namelen == 0)
		return (broken(c, err, errlen, "%s: LIST response with no "
		    "name but a continuation", dir));
	prev = after;
	prevlen = after != NULL ? strlen(after) : 0;
	for (off = 0; off < *namelen; off += n + 1) {
		nul = memchr(s + off, '\0', *namelen - off);
		n = nul != NULL ? (size_t)(nul - (s + off)) : *namelen - off;
		if (chunk_base_check(s + off, n, &errstr) == -1)
			return (broken(c, err, errlen, "%s: LIST response "
			    "with a bad name: %s", dir, errstr));
		if (prev != NULL) {
			cmp = memcmp(prev, s + off, prevlen < n ? prevlen : n);
			if (cmp > 0 || (cmp == 0 && prevlen >= n))
				return (broken(c, err, errlen, "%s: LIST "
				    "response out of order", dir));
		}
		prev = s + off;
		prevlen = n;
	}
	return (0);
}

int
dsrv_client_list(struct dsrv_client *c, const char *dir, const char *after,
    const char **names, size_t *len, int *more, char *err, size_t errlen)
{
	struct dsrv_reply	 r;
	const char		*errstr;
	char			 sn[SAFENAME_MAX + 1];
	size_t			 alen;
	int			 code;

	*names = NULL;
	*len = 0;
	*more = 0;
	if (err != NULL && errlen > 0)
		err[0] = '\0';
	safename(dir, sn, sizeof(sn));
	if ((code = unsendable(c, dir, 1, sn, err, errlen)) != 0)
		return (code);
	alen = after != NULL ? strlen(after) : 0;
	if (alen > 0 && chunk_base_check(after, alen, &errstr) == -1) {
		seterr(err, errlen, c->peer, "%s: %s: start after: %s", sn,
		    wire_strerror(WIRE_E_BADNAME), errstr);
		return (WIRE_E_BADNAME);
	}
	if (request(c, WIRE_M_LIST, dir, alen > 0 ? after : NULL, alen, &r,
	    NULL, err, errlen) == -1)
		return (-1);
	if ((code = reply_code(c, &r, sn, err, errlen)) != WIRE_E_OK)
		return (code);
	if (list_page_check(c, sn, alen > 0 ? after : NULL, r.payload, r.len,
	    len, more, err, errlen) == -1)
		return (-1);
	*names = (const char *)r.payload;
	return (WIRE_E_OK);
}

int
dsrv_client_list_all(struct dsrv_client *c, const char *dir,
    int (*cb)(const char *, void *), void *arg, char *err, size_t errlen)
{
	const char	*names, *p, *end;
	char		 name[CHUNK_BASE_MAX + 1];
	char		 last[CHUNK_BASE_MAX + 1];
	size_t		 len, n;
	int		 more, code;

	last[0] = '\0';
	do {
		code = dsrv_client_list(c, dir, last, &names, &len, &more,
		    err, errlen);
		if (code != WIRE_E_OK)
			return (code);
		/* Checked by dsrv_client_list: each fits name. */
		for (p = names, end = names + len; p < end; p += n + 1) {
			for (n = 0; p + n < end && p[n] != '\0'; n++)
				;
			memcpy(name, p, n);
			name[n] = '\0';
			if (cb(name, arg) == -1)
				return (-1);
		}
		/*
		 * The next request reuses the buffer names points into;
		 * a page with more has at least one name.
		 */
		if (more)
			(void)strlcpy(last, name, sizeof(last));
	} while (more);
	return (WIRE_E_OK);
}

int
dsrv_client_stat(struct dsrv_client *c, const char *name, uint64_t *length,
    uint32_t *crc, char *err, size_t errlen)
{
	struct dsrv_reply	 r;
	char			 sn[SAFENAME_MAX + 1];
	int			 code;

	if (err != NULL && errlen > 0)
		err[0] = '\0';
	safename(name, sn, sizeof(sn));
	if ((code = unsendable(c, name, 0, sn, err, errlen)) != 0)
		return (code);
	if (request(c, WIRE_M_STAT, name, NULL, 0, &r, NULL, err,
	    errlen) == -1)
		return (-1);
	if ((code = reply_code(c, &r, sn, err, errlen)) != WIRE_E_OK)
		return (code);
	if (r.len != 12)
		return (broken(c, err, errlen, "%s: STAT response of %zu "
		    "bytes, expected 12", sn, r.len));
	*length = be64_get(r.payload);
	*crc = be32_get(r.payload + 8);
	return (WIRE_E_OK);
}

int
dsrv_client_statfs(struct dsrv_client *c, struct dsrv_statfs *sf, char *err,
    size_t errlen)
{
	struct dsrv_reply	 r;
	int			 code;

	if (request(c, WIRE_M_STATFS, NULL, NULL, 0, &r, NULL, err,
	    errlen) == -1)
		return (-1);
	if ((code = reply_code(c, &r, "statfs", err, errlen)) != WIRE_E_OK)
		return (code);
	if (r.len != 32)
		return (broken(c, err, errlen, "statfs: STATFS response of "
		    "%zu bytes, expected 32", r.len));
	sf->total = be64_get(r.payload);
	sf->free = be64_get(r.payload + 8);
	sf->avail = be64_get(r.payload + 16);
	sf->chunks = be64_get(r.payload + 24);
	return (WIRE_E_OK);
}

uint64_t
dsrv_client_handshake_us(const struct dsrv_client *c)
{
	return (c->handshake_us);
}

const char *
dsrv_client_peer(const struct dsrv_client *c)
{
	return (c->peer);
}

void
dsrv_client_close(struct dsrv_client *c)
{
	if (c == NULL)
		return;
	if (c->fd != -1)
		(void)close(c->fd);
	sodium_memzero(&c->keys, sizeof(c->keys));
	/* The last frame may hold a payload the caller thinks private. */
	if (c->buf != NULL) {
		sodium_memzero(c->buf, c->bufsize);
		free(c->buf);
	}
	sodium_memzero(c, sizeof(*c));
	free(c);
}
