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
 * Unit tests for the typed requests of lib/client.c, against a fake
 * server in a child process that speaks the real handshake and frames
 * (lib/wire.c) and answers from a script: error codes and messages,
 * READ payloads that fail their crc32, LIST pages with continuation and
 * LIST answers a client must not trust, STAT and STATFS payloads; READs
 * of a range, and dsrv_file_read_range through a pool against a server
 * that serves ranges and one too old for them.
 */
#include <sys/types.h>
#include <sys/socket.h>
#include <sys/wait.h>

#include <netinet/in.h>
#include <arpa/inet.h>

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sodium.h>
#include <zlib.h>

#include "bytes.h"
#include "chunkname.h"
#include "client.h"
#include "dsrvfile.h"
#include "pool.h"
#include "util.h"
#include "wire.h"
#include "tap.h"

#define KEYNAME		"test"

/* How the fake server ends the handshake (hsmode). */
enum {
	HS_GOOD,		/* RESULT 0 with the right proof */
	HS_REFUSE_PROOF,	/* RESULT 1 with a non-zero proof */
	HS_UNKNOWN_CODE,	/* RESULT 7 */
	HS_OK_MESSAGE,		/* RESULT 0, right proof, and a message */
	HS_REFUSE_HOSTILE,	/* RESULT 1 whose message is terminal controls */
	HS_EARLY_UNKNOWN,	/* RESULT 9 in place of the CHALLENGE */
};

/* Controls, C1 in UTF-8 and raw, invalid UTF-8, and U+202E. */
#define HOSTILE		"\033[2J\xc2\x9b" "31m\x9b" "1m\xff\xe2\x80\xae" "fdp.exe"
#define NLIST		10	/* names in the paged directory */
#define PAGE		4	/* names per page */

struct answer {
	uint64_t	 error;
	const char	*errmsg;
	const uint8_t	*payload;
	size_t		 len;
	int		 badcrc;	/* paycrc off by one */
};

struct names {
	char	 all[256];
	int	 n;
};

static uint8_t	 key[WIRE_KEY_LEN];
static uint8_t	 frame[WIRE_FRAME_HDR + WIRE_FRAME_MAX];
static uint8_t	 listbuf[1024];
static int	 hsmode = HS_GOOD;
/* The one data chunk of the file of test_file_range, and the server. */
#define FLEN		300
static uint8_t	 fchunk[FLEN];
static int	 oldserver;	/* BADREQUEST for a READ with a payload */

static int	 readn(int, void *, size_t);
static int	 serve_handshake(int, struct wire_keys *);
static void	 answer(const struct wire_hdr *, const uint8_t *, size_t,
		    struct answer *);
static void	 serve(int);
static pid_t	 server_start(char *, size_t);
static uint32_t	 crc_of(const void *, size_t);
static int	 collect(const char *, void *);
static struct dsrv_client *conn(pid_t *);
static struct dsrv_client *conn_err(pid_t *, char *, size_t);
static int	 clean_text(const char *);
static void	 hs_refused(int, const char *, const char *);
static void	 done(struct dsrv_client *, pid_t);
static void	 read_range_answer(const uint8_t *, size_t, struct answer *);
static struct dsrv_pool *pool_fake(pid_t *);
static void	 test_read_range(void);
static void	 test_file_range(int);

static int
readn(int fd, void *buf, size_t len)
{
	uint8_t	*p = buf;
	ssize_t	 n;

	while (len > 0) {
		if ((n = read(fd, p, len)) <= 0) {
			if (n == -1 && errno == EINTR)
				continue;
			return (-1);
		}
		p += n;
		len -= (size_t)n;
	}
	return (0);
}

static uint32_t
crc_of(const void *p, size_t len)
{
	return (len > 0 ? (uint32_t)crc32(crc32(0L, Z_NULL, 0), p,
	    (uInt)len) : 0);
}

static int
serve_handshake(int fd, struct wire_keys *keys)
{
	uint8_t		 hello[WIRE_HELLO_LEN], chal[WIRE_CHALLENGE_LEN];
	uint8_t		 fin[WIRE_FINISH_LEN], res[WIRE_RESULT_MAX];
	uint8_t		 crand[WIRE_RANDOM_LEN], srand[WIRE_RANDOM_LEN];
	uint8_t		 h[WIRE_HASH_LEN], cproof[WIRE_PROOF_LEN];
	uint8_t		 want[WIRE_PROOF_LEN], sproof[WIRE_PROOF_LEN];
	char		 name[WIRE_KEYNAME_MAX + 1];
	const char	*errstr;
	uint64_t	 t;
	size_t		 rlen;

	if (readn(fd, hello, sizeof(hello)) == -1 ||
	    wire_hello_parse(hello, sizeof(hello), name, crand, &t,
	    &errstr) == -1 || strcmp(name, KEYNAME) != 0)
		return (-1);
	if (hsmode == HS_EARLY_UNKNOWN) {
		rlen = wire_result_build(res, WIRE_HS_BUSY, NULL, "busy");
		res[6] = 9;
		(void)dsrv_write_all(fd, res, rlen);
		return (1);
	}
	randombytes_buf(srand, sizeof(srand));
	wire_challenge_build(chal, srand, wire_now_ms());
	if (dsrv_write_all(fd, chal, sizeof(chal)) == -1 ||
	    readn(fd, fin, sizeof(fin)) == -1 ||
	    wire_finish_parse(fin, sizeof(fin), cproof, &errstr) == -1)
		return (-1);
	wire_transcript(hello, chal, h);
	wire_client_proof(key, h, want);
	if (wire_proof_cmp(want, cproof) != 0)
		return (-1);
	wire_server_proof(key, h, cproof, sproof);
	switch (hsmode) {
	case HS_REFUSE_PROOF:
		rlen = wire_result_build(res, WIRE_HS_AUTH, NULL, "no");
		memcpy(res + 7, sproof, WIRE_PROOF_LEN);
		break;
	case HS_UNKNOWN_CODE:
		rlen = wire_result_build(res, WIRE_HS_AUTH, NULL, "");
		res[6] = WIRE_HS_TIMEOUT + 1;
		break;
	case HS_OK_MESSAGE:
		rlen = wire_result_build(res, WIRE_HS_AUTH, NULL, "welcome");
		res[6] = WIRE_HS_OK;
		memcpy(res + 7, sproof, WIRE_PROOF_LEN);
		break;
	case HS_REFUSE_HOSTILE:
		rlen = wire_result_build(res, WIRE_HS_AUTH, NULL, HOSTILE);
		break;
	default:
		rlen = wire_result_build(res, WIRE_HS_OK, sproof, "");
		break;
	}
	if (dsrv_write_all(fd, res, rlen) == -1)
		return (-1);
	if (hsmode != HS_GOOD)
		return (1);
	wire_session_keys(key, h, cproof, keys);
	return (0);
}

/* The script: what the fake server answers to each request. */
static void
answer(const struct wire_hdr *h, const uint8_t *p, size_t len,
    struct answer *a)
{
	static const uint8_t	 hello[] = "hello";
	static uint8_t		 st[32];
	char			 after[WIRE_NAME_MAX + 1];
	size_t			 off;
	int			 i, n;

	memset(a, 0, sizeof(*a));
	switch (h->method) {
	case WIRE_M_WRITE:
		if (strcmp(h->name, "ab/exists") == 0) {
			a->error = WIRE_E_EXISTS;
			a->errmsg = "stored chunk kept";
		} else if (strcmp(h->name, "ab/ro") == 0) {
			a->error = WIRE_E_READONLY;
		} else if (strcmp(h->name, "ab/okpay") == 0) {
			a->payload = (const uint8_t *)"stored";
			a->len = 6;
		} else if (strcmp(h->name, "ab/len") == 0 && len != 3)
			a->error = WIRE_E_BADREQUEST;
		break;
	case WIRE_M_READ:
		/* A data chunk's name: the chunk of test_file_range. */
		if (h->namelen == 29 && h->name[2] == '/') {
			if (len == 0) {
				a->payload = fchunk;
				a->len = FLEN;
			} else if (oldserver) {
				a->error = WIRE_E_BADREQUEST;
				a->errmsg = "payload in a request that takes "
				    "none";
			} else
				read_range_answer(p, len, a);
			break;
		}
		if (strcmp(h->name, "ab/long") == 0) {
			/* 5 bytes, whatever the range asked for. */
			a->payload = hello;
			a->len = 5;
			break;
		}
		if (strcmp(h->name, "ab/rbad") == 0 && len == 16) {
			read_range_answer(p, len, a);
			a->badcrc = 1;
			break;
		}
		if (strcmp(h->name, "ab/good") == 0 ||
		    strcmp(h->name, "ab/bad") == 0) {
			a->payload = hello;
			a->len = 5;
			a->badcrc = strcmp(h->name, "ab/bad") == 0;
		} else if (strcmp(h->name, "ab/empty") == 0) {
			a->len = 0;
		} else if (strcmp(h->name, "ab/errpay") == 0) {
			a->error = WIRE_E_NOTFOUND;
			a->payload = hello;
			a->len = 5;
		} else if (strcmp(h->name, "ab/hostile") == 0) {
			a->error = WIRE_E_NOTFOUND;
			a->errmsg = HOSTILE;
		} else if (strncmp(h->name, "..", 2) == 0) {
			a->error = WIRE_E_BADNAME;
			a->errmsg = "bad chunk name: directory starts with "
			    "a dot";
		} else {
			a->error = WIRE_E_NOTFOUND;
			a->errmsg = "no such chunk";
		}
		break;
	case WIRE_M_LIST:
		if (strcmp(h->name, "paged") == 0) {
			/* n00 .. n09, PAGE at a time after the payload. */
			memcpy(after, p, len);
			after[len] = '\0';
			off = 0;
			for (i = 0, n = 0; i < NLIST && n < PAGE; i++) {
				char	 nm[8];

				(void)snprintf(nm, sizeof(nm), "n%02d", i);
				if (len > 0 && strcmp(nm, after) <= 0)
					continue;
				if (n++ > 0)
					listbuf[off++] = '\0';
				memcpy(listbuf + off, nm, 3);
				off += 3;
			}
			if (i < NLIST)
				listbuf[off++] = '\0';
			a->payload = listbuf;
			a->len = off;
		} else if (strcmp(h->name, "unsorted") == 0) {
			a->payload = (const uint8_t *)"b\0a";
			a->len = 3;
		} else if (strcmp(h->name, "badname") == 0) {
			a->payload = (const uint8_t *)"a\0../x";
			a->len = 6;
		} else if (strcmp(h->name, "loop") == 0) {
			/* Always "a", with more: must not loop. */
			a->payload = (const uint8_t *)"a\0";
			a->len = 2;
		} else if (strcmp(h->name, "onlynul") == 0) {
			a->payload = (const uint8_t *)"";
			a->len = 1;
		}
		break;
	case WIRE_M_STAT:
		if (strcmp(h->name, "ab/good") == 0) {
			be64_put(st, 5);
			be32_put(st + 8, 0x3610a686);	/* crc32("hello") */
			a->payload = st;
			a->len = 12;
		} else if (strcmp(h->name, "ab/short") == 0) {
			a->payload = st;
			a->len = 11;
		} else if (strcmp(h->name, "ab/huge") == 0) {
			be64_put(st, WIRE_PAYLOAD_MAX + 1);
			be32_put(st + 8, 0);
			a->payload = st;
			a->len = 12;
		} else
			a->error = WIRE_E_NOTFOUND;
		break;
	case WIRE_M_PING:
		a->payload = (const uint8_t *)"fake";
		a->len = 4;
		break;
	case WIRE_M_STATFS:
		be64_put(st, 0x80ULL << 56 | 1);
		be64_put(st + 8, 2);
		be64_put(st + 16, 3);
		be64_put(st + 24, 4);
		a->payload = st;
		a->len = 32;
		break;
	default:
		a->error = WIRE_E_BADREQUEST;
	}
}

/* A range of fchunk, as dsrvd answers it. */
static void
read_range_answer(const uint8_t *p, size_t len, struct answer *a)
{
	uint64_t	 off, n;

	if (len != 16) {
		a->error = WIRE_E_BADREQUEST;
		return;
	}
	off = be64_get(p);
	n = be64_get(p + 8);
	if (off > FLEN) {
		a->error = WIRE_E_RANGE;
		a->errmsg = "range starts beyond the end of the chunk";
		return;
	}
	if (n > FLEN - off)
		n = FLEN - off;
	a->payload = fchunk + off;
	a->len = n;
}

static void
serve(int fd)
{
	struct wire_keys	 keys;
	struct wire_hdr		 h, r;
	struct answer		 a;
	const char		*errstr;
	uint64_t		 counter;
	size_t			 ctlen, flen;
	ssize_t			 off, hl;

	switch (serve_handshake(fd, &keys)) {
	case -1:
		_exit(2);
	case 1:
		/* A RESULT a client must refuse: nothing follows it. */
		_exit(0);
	}
	for (;;) {
		if (readn(fd, frame, WIRE_FRAME_HDR) == -1)
			_exit(0);
		if (wire_frame_hdr(frame, &ctlen, &counter) == -1 ||
		    readn(fd, frame + WIRE_FRAME_HDR, ctlen) == -1 ||
		    wire_open(keys.c2s, frame, ctlen) == -1)
			_exit(3);
		memset(&h, 0, sizeof(h));
		off = wire_hdr_decode(&h, frame + WIRE_FRAME_HDR,
		    ctlen - WIRE_TAG_LEN, &errstr);
		if (off == -1)
			_exit(4);
		answer(&h, frame + WIRE_FRAME_HDR + off,
		    ctlen - WIRE_TAG_LEN - (size_t)off, &a);
		memset(&r, 0, sizeof(r));
		wire_hdr_set(&r, WIRE_F_METHOD, h.method | WIRE_M_RESPONSE);
		wire_hdr_set(&r, WIRE_F_TIMESTAMP, wire_now_ms());
		wire_hdr_set(&r, WIRE_F_PAYLEN, a.len);
		wire_hdr_set(&r, WIRE_F_PAYCRC, a.len > 0 ?
		    (crc_of(a.payload, a.len) ^ (a.badcrc ? 1 : 0)) : 0);
		wire_hdr_set(&r, WIRE_F_ERROR, a.error);
		if (a.errmsg != NULL)
			wire_hdr_set_errmsg(&r, a.errmsg);
		hl = wire_hdr_encode(&r, frame + WIRE_FRAME_HDR,
		    4 + WIRE_HDR_MAX);
		if (hl == -1)
			_exit(5);
		if (a.len > 0)
			memcpy(frame + WIRE_FRAME_HDR + hl, a.payload, a.len);
		flen = wire_seal(keys.s2c, counter, frame, (size_t)hl + a.len);
		if (dsrv_write_all(fd, frame, flen) == -1)
			_exit(6);
	}
}

/* Listen on a loopback port, fork the server for one connection. */
static pid_t
server_start(char *port, size_t plen)
{
	struct sockaddr_in	 sin;
	socklen_t		 sl = sizeof(sin);
	pid_t			 pid;
	int			 s, fd;

	if ((s = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0)) == -1)
		return (-1);
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (bind(s, (struct sockaddr *)&sin, sizeof(sin)) == -1 ||
	    listen(s, 1) == -1 ||
	    getsockname(s, (struct sockaddr *)&sin, &sl) == -1)
		return (-1);
	(void)snprintf(port, plen, "%u", ntohs(sin.sin_port));
	if ((pid = fork()) == -1)
		return (-1);
	if (pid == 0) {
		if ((fd = accept(s, NULL, NULL)) == -1)
			_exit(1);
		(void)close(s);
		serve(fd);
		_exit(0);
	}
	(void)close(s);
	return (pid);
}


static int
collect(const char *name, void *arg)
{
	struct names	*ns = arg;

	if (ns->n++ > 0)
		(void)strlcat(ns->all, " ", sizeof(ns->all));
	(void)strlcat(ns->all, name, sizeof(ns->all));
	return (0);
}

/* A fresh connection to a fresh fake server. */
static struct dsrv_client *
conn(pid_t *pid)
{
	struct dsrv_client	*c;
	char			 err[DSRV_CLIENT_ERRLEN];

	if ((c = conn_err(pid, err, sizeof(err))) == NULL)
		diag("connect: %s", err);
	return (c);
}

/* The same, with the error text, and the fake server's handshake mode. */
static struct dsrv_client *
conn_err(pid_t *pid, char *err, size_t errlen)
{
	struct dsrv_client_opts	 o;
	char			 port[16];

	err[0] = '\0';
	if ((*pid = server_start(port, sizeof(port))) == -1) {
		(void)snprintf(err, errlen, "fake server: %s",
		    strerror(errno));
		return (NULL);
	}
	memset(&o, 0, sizeof(o));
	o.host = "127.0.0.1";
	o.port = port;
	o.keyname = KEYNAME;
	memcpy(o.key, key, sizeof(key));
	return (dsrv_client_connect(&o, err, errlen));
}

/*
 * Text fit for a terminal: printable ASCII, and valid UTF-8 of code
 * points from U+00A0 on that are not line separators or bidirectional
 * controls (no such thing as HOSTILE's U+202E).
 */
static int
clean_text(const char *str)
{
	const unsigned char	*s = (const unsigned char *)str;
	size_t			 n;

	while (*s != '\0') {
		if (*s >= 0x20 && *s < 0x7f) {
			s++;
			continue;
		}
		if ((n = dsrv_utf8_len((const char *)s)) == 0 ||
		    (s[0] == 0xc2 && s[1] < 0xa0) ||
		    (s[0] == 0xe2 && s[1] == 0x80 && s[2] >= 0xa8 &&
		    s[2] <= 0xae))
			return (0);
		s += n;
	}
	return (1);
}

/* A handshake the client must refuse: no connection, a clear reason. */
static void
hs_refused(int mode, const char *what, const char *why)
{
	struct dsrv_client	*c;
	char			 err[DSRV_CLIENT_ERRLEN];
	pid_t			 pid;
	int			 st;

	hsmode = mode;
	c = conn_err(&pid, err, sizeof(err));
	hsmode = HS_GOOD;
	ok(c == NULL, "%s refused", what);
	ok(strstr(err, "127.0.0.1 port ") == err && strstr(err, why) != NULL,
	    "names the server and says %s: %s", why, err);
	dsrv_client_close(c);
	if (pid != -1 && waitpid(pid, &st, 0) == -1)
		st = -1;
}

/* A pool of one connection to a fresh fake server, no retries. */
static struct dsrv_pool *
pool_fake(pid_t *pid)
{
	struct dsrv_pool_opts	 o;
	struct dsrv_pool	*pool;
	char			 port[16], err[DSRV_CLIENT_ERRLEN];

	if ((*pid = server_start(port, sizeof(port))) == -1)
		return (NULL);
	memset(&o, 0, sizeof(o));
	o.conn.host = "127.0.0.1";
	o.conn.port = port;
	o.conn.keyname = KEYNAME;
	memcpy(o.conn.key, key, sizeof(key));
	o.maxconns = 1;
	o.retries = -1;
	if ((pool = dsrv_pool_new(&o, err, sizeof(err))) == NULL)
		diag("pool: %s", err);
	return (pool);
}

/* dsrv_client_read_range: the range asked for, and no more. */
static void
test_read_range(void)
{
	struct dsrv_client	*c;
	const uint8_t		*data;
	char			 err[DSRV_CLIENT_ERRLEN];
	char			 name[32];
	size_t			 len;
	pid_t			 pid;

	/* Any 29-byte DIR/NAME is the fake's data chunk. */
	(void)snprintf(name, sizeof(name), "%s", "ab/0123456789abcdefghijklmnop");
	if ((c = conn(&pid)) == NULL) {
		ok(0, "connect for ranges");
		return;
	}
	is_int(dsrv_client_read_range(c, name, 10, 20, &data, &len, err,
	    sizeof(err)), WIRE_E_OK, "range 10:20");
	ok(len == 20 && memcmp(data, fchunk + 10, 20) == 0,
	    "... bytes 10 to 30");
	is_int(dsrv_client_read_range(c, name, 290, UINT64_MAX, &data, &len,
	    err, sizeof(err)), WIRE_E_OK, "range 290:2^64-1");
	ok(len == 10 && memcmp(data, fchunk + 290, 10) == 0,
	    "... cut at the end: 10 bytes");
	is_int(dsrv_client_read_range(c, name, FLEN, 1, &data, &len, err,
	    sizeof(err)), WIRE_E_OK, "range at the end");
	is_int(len, 0, "... empty");
	is_int(dsrv_client_read_range(c, name, FLEN + 1, 1, &data, &len, err,
	    sizeof(err)), WIRE_E_RANGE, "range beyond the end: RANGE");
	ok(strstr(err, "range starts beyond the end of the chunk") != NULL,
	    "... %s", err);
	is_int(dsrv_client_read_range(c, "ab/rbad", 0, 5, &data, &len, err,
	    sizeof(err)), WIRE_E_CORRUPT, "range whose paycrc fails: CORRUPT");
	ok(data == NULL && strstr(err, "crc32 of the range is") != NULL,
	    "... no data: %s", err);
	is_int(dsrv_client_read_range(c, "ab/long", 0, 3, &data, &len, err,
	    sizeof(err)), -1, "5 bytes for a range of 3: connection broken");
	ok(strstr(err, "READ response of 5 bytes for a range of 3") != NULL,
	    "... %s", err);
	done(c, pid);
}

/*
 * dsrv_file_read_range on a file of one FLEN-byte chunk, against a
 * server with ranges, or an old one: BADREQUEST, then whole chunks, and
 * the pool remembers.
 */
static void
test_file_range(int old)
{
	struct dsrv_file_meta	 m;
	struct dsrv_chunk_meta	 cm;
	struct dsrv_pool	*pool;
	const char		*what = old ? "old server" : "server";
	char			 err[DSRV_CLIENT_ERRLEN];
	uint8_t			 buf[FLEN + 10];
	size_t			 got;
	pid_t			 pid;
	int			 st;

	oldserver = old;
	pool = pool_fake(&pid);
	oldserver = 0;
	if (pool == NULL) {
		ok(0, "%s: pool", what);
		return;
	}
	memset(&m, 0, sizeof(m));
	m.name = (char *)"f";
	m.length = FLEN;
	m.crc = crc_of(fchunk, FLEN);
	m.nchunks = 1;
	cm.length = FLEN;
	cm.crc = m.crc;
	cm.alt = 0;
	m.chunks = &cm;
	ok(dsrv_pool_has_range(pool), "%s: the pool tries ranges", what);
	is_int(dsrv_file_read_range(pool, &m, 10, 20, buf, &got, err,
	    sizeof(err)), WIRE_E_OK, "%s: file range 10:20", what);
	ok(got == 20 && memcmp(buf, fchunk + 10, 20) == 0,
	    "%s: ... bytes 10 to 30", what);
	is_int(dsrv_pool_has_range(pool), !old, "%s: the pool %s ranges",
	    what, old ? "remembers: no" : "keeps");
	is_int(dsrv_file_read_range(pool, &m, 280, 100, buf, &got, err,
	    sizeof(err)), WIRE_E_OK, "%s: file range 280:100", what);
	ok(got == 20 && memcmp(buf, fchunk + 280, 20) == 0,
	    "%s: ... cut at the end: 20 bytes", what);
	is_int(dsrv_file_read_range(pool, &m, 0, FLEN + 10, buf, &got, err,
	    sizeof(err)), WIRE_E_OK, "%s: the whole file", what);
	ok(got == FLEN && memcmp(buf, fchunk, FLEN) == 0,
	    "%s: ... all %d bytes", what, FLEN);
	is_int(dsrv_file_read_range(pool, &m, FLEN + 1, 1, buf, &got, err,
	    sizeof(err)), WIRE_E_RANGE, "%s: beyond the end: RANGE", what);
	/* Metadata that disagrees with the chunk: the whole read says so. */
	cm.crc ^= 1;
	m.crc ^= 1;
	is_int(dsrv_file_read_range(pool, &m, 0, FLEN, buf, &got, err,
	    sizeof(err)), WIRE_E_CORRUPT, "%s: a chunk that is not the "
	    "metadata's: CORRUPT", what);
	ok(strstr(err, "crc32 mismatch") != NULL, "%s: ... %s", what, err);
	dsrv_pool_free(pool);
	if (waitpid(pid, &st, 0) == -1)
		st = -1;
	ok(WIFEXITED(st) && WEXITSTATUS(st) == 0, "%s: fake server exits 0 "
	    "(status %d)", what, st);
}

static void
done(struct dsrv_client *c, pid_t pid)
{
	int	 st;

	dsrv_client_close(c);
	if (waitpid(pid, &st, 0) == -1)
		st = -1;
	ok(WIFEXITED(st) && WEXITSTATUS(st) == 0, "fake server exits 0 "
	    "(status %d)", st);
}

int
main(void)
{
	struct dsrv_client	*c;
	struct dsrv_statfs	 sf;
	struct names		 ns;
	const uint8_t		*data;
	const char		*names;
	char			 err[DSRV_CLIENT_ERRLEN], want[DSRV_CLIENT_ERRLEN];
	static uint8_t		 toobig[WIRE_PAYLOAD_MAX + 1];
	const char		*peer;
	uint64_t		 length;
	uint32_t		 crc;
	size_t			 len;
	pid_t			 pid;
	int			 more, i;

	(void)signal(SIGPIPE, SIG_IGN);
	if (sodium_init() == -1)
		return (1);
	memset(key, 0x42, sizeof(key));

	if (!ok((c = conn(&pid)) != NULL, "connect to the fake server"))
		return (tap_done());
	peer = dsrv_client_peer(c);

	/* WRITE */
	is_int(dsrv_client_write(c, "ab/x", "abc", 3, err, sizeof(err)), 0,
	    "write ab/x");
	is_str(err, "", "no error text");
	is_int(dsrv_client_write(c, "ab/len", "abc", 3, err, sizeof(err)), 0,
	    "write sends the payload");
	is_int(dsrv_client_write(c, "ab/exists", "abc", 3, err, sizeof(err)),
	    WIRE_E_EXISTS, "write ab/exists: EXISTS");
	(void)snprintf(want, sizeof(want), "%s: ab/exists: chunk exists with "
	    "different content: stored chunk kept", peer);
	is_str(err, want, "EXISTS text: peer, name, code text, server text");
	is_int(dsrv_client_write(c, "ab/ro", "", 0, err, sizeof(err)),
	    WIRE_E_READONLY, "write ab/ro: READONLY, no server message");
	(void)snprintf(want, sizeof(want), "%s: ab/ro: store is read-only",
	    peer);
	is_str(err, want, "READONLY text");
	is_int(dsrv_client_write(c, "../x", "abc", 3, err, sizeof(err)),
	    WIRE_E_BADNAME, "write ../x refused before sending");
	(void)snprintf(want, sizeof(want), "%s: ../x: bad chunk name: "
	    "directory starts with a dot", peer);
	is_str(err, want, "bad name text");
	is_int(dsrv_client_write(c, "a/b\033c", "abc", 3, err, sizeof(err)),
	    WIRE_E_BADNAME, "write of a name with ESC refused");
	ok(strchr(err, '\033') == NULL, "no ESC in the message: %s", err);
	is_int(dsrv_client_write(c, "ab/big", toobig, sizeof(toobig), err,
	    sizeof(err)), WIRE_E_TOOBIG, "write of 8 MiB + 1 refused");
	ok(strstr(err, "too big") != NULL, "says too big: %s", err);

	/* READ */
	is_int(dsrv_client_read(c, "ab/good", &data, &len, &crc, err,
	    sizeof(err)), 0, "read ab/good");
	ok(len == 5 && memcmp(data, "hello", 5) == 0, "its bytes");
	is_int(crc, 0x3610a686, "its crc32");
	is_int(dsrv_client_read(c, "ab/bad", &data, &len, &crc, err,
	    sizeof(err)), WIRE_E_CORRUPT, "read ab/bad: paycrc mismatch is "
	    "CORRUPT");
	ok(data == NULL && len == 0, "and no data");
	ok(strstr(err, "ab/bad: chunk is corrupt: ") != NULL, "text: %s",
	    err);
	is_int(dsrv_client_read(c, "ab/empty", &data, &len, NULL, err,
	    sizeof(err)), 0, "read of an empty chunk, connection still "
	    "usable after CORRUPT");
	is_int(len, 0, "0 bytes");
	is_int(dsrv_client_read(c, "ab/none", &data, &len, NULL, err,
	    sizeof(err)), WIRE_E_NOTFOUND, "read ab/none: NOTFOUND");
	(void)snprintf(want, sizeof(want), "%s: ab/none: no such chunk", peer);
	is_str(err, want, "a server message equal to the code text is not "
	    "repeated");
	is_int(dsrv_client_read(c, "../x", &data, &len, NULL, err,
	    sizeof(err)), WIRE_E_BADNAME, "read ../x goes to the server");
	(void)snprintf(want, sizeof(want), "%s: ../x: bad chunk name: "
	    "directory starts with a dot", peer);
	is_str(err, want, "a server message starting with the code text "
	    "stands alone");
	is_int(dsrv_client_read(c, "", &data, &len, NULL, err, sizeof(err)),
	    WIRE_E_BADNAME, "read of an empty name: BADNAME, not sent");

	/* STAT, STATFS */
	is_int(dsrv_client_stat(c, "ab/good", &length, &crc, err, sizeof(err)),
	    0, "stat ab/good");
	is_int(length, 5, "length");
	is_int(crc, 0x3610a686, "crc32");
	is_int(dsrv_client_stat(c, "ab/none", &length, &crc, err, sizeof(err)),
	    WIRE_E_NOTFOUND, "stat ab/none: NOTFOUND");
	is_int(dsrv_client_statfs(c, &sf, err, sizeof(err)), 0, "statfs");
	ok(sf.total == (0x80ULL << 56 | 1) && sf.free == 2 && sf.avail == 3 &&
	    sf.chunks == 4, "statfs: four big-endian uint64");

	/* LIST */
	is_int(dsrv_client_list(c, "paged", NULL, &names, &len, &more, err,
	    sizeof(err)), 0, "list paged, first page");
	ok(len == 15 && memcmp(names, "n00\0n01\0n02\0n03", 15) == 0,
	    "first page: 4 names, no trailing NUL in len");
	is_int(more, 1, "more");
	memset(&ns, 0, sizeof(ns));
	is_int(dsrv_client_list_all(c, "paged", collect, &ns, err,
	    sizeof(err)), 0, "list_all paged");
	is_str(ns.all, "n00 n01 n02 n03 n04 n05 n06 n07 n08 n09",
	    "every name once, in order, across 3 pages");
	is_int(dsrv_client_list(c, "paged", "n07", &names, &len, &more, err,
	    sizeof(err)), 0, "list paged after n07");
	ok(len == 7 && memcmp(names, "n08\0n09", 7) == 0 && more == 0,
	    "last page, no more");
	is_int(dsrv_client_list(c, "x", "../y", &names, &len, &more, err,
	    sizeof(err)), WIRE_E_BADNAME, "a bad start name is not sent");
	is_int(dsrv_client_ping(c, NULL, 0, NULL, NULL, err, sizeof(err)), 0,
	    "connection still fine");
	done(c, pid);

	/* Each answer a client must not trust ends the connection. */
	if (ok((c = conn(&pid)) != NULL, "connect again")) {
		is_int(dsrv_client_list(c, "unsorted", NULL, &names, &len,
		    &more, err, sizeof(err)), -1, "unsorted LIST refused");
		ok(strstr(err, "out of order") != NULL, "%s", err);
		done(c, pid);
	}
	if (ok((c = conn(&pid)) != NULL, "connect again")) {
		is_int(dsrv_client_list(c, "badname", NULL, &names, &len,
		    &more, err, sizeof(err)), -1, "LIST with ../x refused");
		ok(strstr(err, "bad name") != NULL, "%s", err);
		done(c, pid);
	}
	if (ok((c = conn(&pid)) != NULL, "connect again")) {
		memset(&ns, 0, sizeof(ns));
		is_int(dsrv_client_list_all(c, "loop", collect, &ns, err,
		    sizeof(err)), -1, "LIST that repeats itself: no endless "
		    "loop");
		is_int(ns.n, 1, "one name seen");
		done(c, pid);
	}
	if (ok((c = conn(&pid)) != NULL, "connect again")) {
		is_int(dsrv_client_list(c, "onlynul", NULL, &names, &len,
		    &more, err, sizeof(err)), -1, "LIST of just a NUL refused");
		done(c, pid);
	}
	if (ok((c = conn(&pid)) != NULL, "connect again")) {
		is_int(dsrv_client_stat(c, "ab/short", &length, &crc, err,
		    sizeof(err)), -1, "STAT answer of 11 bytes refused");
		done(c, pid);
	}
	if (ok((c = conn(&pid)) != NULL, "connect again")) {
		is_int(dsrv_client_stat(c, "ab/huge", &length, &crc, err,
		    sizeof(err)), -1, "STAT of a chunk above 8 MiB refused");
		ok(strstr(err, "STAT response with a length of 8388609") !=
		    NULL, "%s", err);
		is_int(dsrv_client_ping(c, NULL, 0, NULL, NULL, err,
		    sizeof(err)), -1, "and the connection is unusable");
		ok(strstr(err, "unusable") != NULL, "%s", err);
		done(c, pid);
	}
	if (ok((c = conn(&pid)) != NULL, "connect again")) {
		is_int(dsrv_client_read(c, "ab/errpay", &data, &len, NULL, err,
		    sizeof(err)), -1, "error response with a payload refused");
		(void)snprintf(want, sizeof(want), "%s: READ: bad response "
		    "header: error response with a payload",
		    dsrv_client_peer(c));
		is_str(err, want, "names the server and what was wrong");
		is_int(dsrv_client_ping(c, NULL, 0, NULL, NULL, err,
		    sizeof(err)), -1, "and the connection is unusable");
		done(c, pid);
	}
	if (ok((c = conn(&pid)) != NULL, "connect again")) {
		is_int(dsrv_client_write(c, "ab/okpay", "abc", 3, err,
		    sizeof(err)), -1, "WRITE response with a payload refused");
		ok(strstr(err, "ab/okpay: WRITE response with a payload") !=
		    NULL, "%s", err);
		is_int(dsrv_client_ping(c, NULL, 0, NULL, NULL, err,
		    sizeof(err)), -1, "and the connection is unusable");
		done(c, pid);
	}

	/* Server text reaches the caller escaped. */
	if (ok((c = conn(&pid)) != NULL, "connect again")) {
		is_int(dsrv_client_read(c, "ab/hostile", &data, &len, NULL, err,
		    sizeof(err)), WIRE_E_NOTFOUND, "error message of terminal "
		    "controls: still the server's NOTFOUND");
		ok(clean_text(err), "no control, C1, invalid UTF-8 or bidi "
		    "override in the text: %s", err);
		ok(strstr(err, "\\033[2J\\302\\23331m\\2331m\\377"
		    "\\342\\200\\256fdp.exe") != NULL,
		    "every such byte as an octal escape");
		is_int(dsrv_client_ping(c, NULL, 0, NULL, NULL, err,
		    sizeof(err)), 0, "connection still usable");
		done(c, pid);
	}

	/* RESULTs that dsrv-protocol(5) does not allow. */
	hs_refused(HS_REFUSE_PROOF, "a refusal with a non-zero proof",
	    "bad RESULT from the server: refusal with a non-zero proof");
	hs_refused(HS_UNKNOWN_CODE, "refusal code 7",
	    "bad RESULT from the server: unknown refusal code");
	hs_refused(HS_OK_MESSAGE, "an acceptance with a message",
	    "bad RESULT from the server: acceptance with a message");
	hs_refused(HS_EARLY_UNKNOWN, "refusal code 9 in place of CHALLENGE",
	    "bad RESULT from the server: unknown refusal code");
	hsmode = HS_REFUSE_HOSTILE;
	c = conn_err(&pid, err, sizeof(err));
	hsmode = HS_GOOD;
	ok(c == NULL && strstr(err, "refused: ") != NULL, "a refusal whose "
	    "message is terminal controls: %s", err);
	ok(clean_text(err), "its message reaches the caller escaped");
	dsrv_client_close(c);
	if (pid != -1)
		(void)waitpid(pid, NULL, 0);

	for (i = 0; i < FLEN; i++)
		fchunk[i] = (uint8_t)(i * 7 + 3);
	test_read_range();
	test_file_range(0);
	test_file_range(1);
	return (tap_done());
}
