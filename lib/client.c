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
 * Client side of the dsrv wire protocol (man/dsrv-protocol.5): TCP
 * connect, the pre-shared-key handshake, then sealed request/response
 * frames, one request in flight.  This file connects and authenticates,
 * and owns the timed I/O; the requests (client_req.c) use it.  Everything blocks with poll(2)
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

#include "client.h"
#include "client_int.h"
#include "wire.h"

static int	 io_poll(int, short, const struct iotime *);
static int	 tcp_connect(struct dsrv_client *, const char *, const char *,
		    int, char *, size_t);
static int	 hs_read(struct dsrv_client *, uint8_t *, size_t,
		    const struct iotime *, const char *, char *, size_t);
static int	 hs_result(struct dsrv_client *, uint8_t *, const struct iotime *,
		    int *, uint8_t *, char *, char *, size_t);
static int	 handshake(struct dsrv_client *, const struct dsrv_client_opts *,
		    int, char *, size_t);

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

int
client_io_write(int fd, const void *buf, size_t len, const struct iotime *t)
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

int
client_io_read(int fd, void *buf, size_t len, const struct iotime *t)
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

	if ((rv = client_io_read(c->fd, buf, len, t)) == IO_OK)
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
	if ((rv = client_io_write(c->fd, hello, sizeof(hello), &t)) != IO_OK) {
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
	if ((rv = client_io_write(c->fd, fin, sizeof(fin), &t)) != IO_OK) {
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

