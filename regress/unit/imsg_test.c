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
 * Unit tests for lib/imsg.c: framing, fd passing, limits, queued
 * output.  Everything runs in one process over socketpairs.
 */
#include <sys/types.h>
#include <sys/socket.h>
#include <sys/uio.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "imsg.h"
#include "tap.h"

static int	count_fds(void);
static int	mkpair(int [2]);
static void	fill(unsigned char *, size_t, unsigned int);
static int	check_fill(const unsigned char *, size_t, unsigned int);
static int	raw_write(int, const void *, size_t);
static int	fd_closed(int);
static int	pipe_eof(int);
static void	test_roundtrip(void);
static void	test_batch(void);
static void	test_partial(void);
static void	test_fdpass(void);
static void	test_fdpass_order(void);
static void	test_fd_refused(void);
static void	test_maxfds(void);
static void	test_eof(void);
static void	test_bad_headers(void);
static void	test_maxsize(void);
static void	test_get_data(void);
static void	test_drain(void);
static void	test_free_closes(void);
static void	test_epipe(void);

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

static int
mkpair(int sv[2])
{
	return socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
	    0, sv);
}

/* A payload pattern that depends on a seed, to catch mixed-up data. */
static void
fill(unsigned char *p, size_t len, unsigned int seed)
{
	size_t	 i;

	for (i = 0; i < len; i++)
		p[i] = (unsigned char)(seed * 31 + i * 7);
}

static int
check_fill(const unsigned char *p, size_t len, unsigned int seed)
{
	size_t	 i;

	for (i = 0; i < len; i++)
		if (p[i] != (unsigned char)(seed * 31 + i * 7))
			return 0;
	return 1;
}

static int
raw_write(int fd, const void *buf, size_t len)
{
	return write(fd, buf, len) == (ssize_t)len ? 0 : -1;
}

static int
fd_closed(int fd)
{
	return fcntl(fd, F_GETFD) == -1 && errno == EBADF;
}

/* A non-blocking pipe read end sees EOF once every write end is gone. */
static int
pipe_eof(int rfd)
{
	char	 c;

	return read(rfd, &c, 1) == 0;
}

static void
test_roundtrip(void)
{
	struct imsgbuf	 a, b;
	struct imsg	 imsg;
	struct iovec	 iov[3];
	int		 sv[2];

	diag("round trip");
	if (!ok(mkpair(sv) == 0, "socketpair"))
		return;
	ok(imsgbuf_init(&a, sv[0]) == 0 && imsgbuf_init(&b, sv[1]) == 0,
	    "imsgbuf_init");

	ok(imsg_compose(&a, 10, 77, 0, -1, "hello", 5) == 0, "compose");
	is_int(imsgbuf_queuelen(&a), 1, "one message queued");
	ok(imsgbuf_flush(&a) == 0, "flush");
	is_int(imsgbuf_queuelen(&a), 0, "queue empty after flush");

	is_int(imsgbuf_read(&b), 1, "read");
	is_int(imsg_get(&b, &imsg), 1, "get a message");
	is_int(imsg.hdr.type, 10, "type");
	is_int(imsg.hdr.peerid, 77, "peerid");
	is_int(imsg.hdr.pid, getpid(), "pid 0 means ours");
	is_int(imsg.hdr.len, IMSG_HEADER_SIZE + 5, "len includes header");
	is_int(imsg.hdr.flags, 0, "no flags");
	is_int(imsg.fd, -1, "no fd");
	ok(imsg.datalen == 5 && memcmp(imsg.data, "hello", 5) == 0, "data");
	imsg_free(&imsg);
	is_int(imsg_get(&b, &imsg), 0, "nothing more");

	/* Empty body, explicit pid, gathered body. */
	ok(imsg_compose(&a, 11, 0, 4242, -1, NULL, 0) == 0, "compose empty");
	iov[0].iov_base = "ab";
	iov[0].iov_len = 2;
	iov[1].iov_base = NULL;
	iov[1].iov_len = 0;
	iov[2].iov_base = "cde";
	iov[2].iov_len = 3;
	ok(imsg_composev(&a, 12, 1, 0, -1, iov, 3) == 0, "composev");
	ok(imsgbuf_flush(&a) == 0, "flush");
	is_int(imsgbuf_read(&b), 1, "read");
	is_int(imsg_get(&b, &imsg), 1, "get empty message");
	ok(imsg.hdr.type == 11 && imsg.datalen == 0 && imsg.data == NULL,
	    "empty message has no data");
	is_int(imsg.hdr.pid, 4242, "explicit pid kept");
	imsg_free(&imsg);
	is_int(imsg_get(&b, &imsg), 1, "get gathered message");
	ok(imsg.datalen == 5 && memcmp(imsg.data, "abcde", 5) == 0,
	    "iovecs concatenated");

	/* Forward it back the other way. */
	ok(imsg_forward(&b, &imsg) == 0, "forward");
	imsg_free(&imsg);
	ok(imsgbuf_flush(&b) == 0, "flush forward");
	is_int(imsgbuf_read(&a), 1, "read forward");
	is_int(imsg_get(&a, &imsg), 1, "get forwarded");
	ok(imsg.hdr.type == 12 && imsg.hdr.peerid == 1 &&
	    imsg.datalen == 5 && memcmp(imsg.data, "abcde", 5) == 0,
	    "forwarded message intact");
	imsg_free(&imsg);

	imsgbuf_clear(&a);
	imsgbuf_clear(&b);
	close(sv[0]);
	close(sv[1]);
}

static void
test_batch(void)
{
	struct imsgbuf	 a, b;
	struct imsg	 imsg;
	unsigned char	 buf[64];
	int		 sv[2], i, n, good = 1;

	diag("many messages in one read");
	if (!ok(mkpair(sv) == 0, "socketpair"))
		return;
	imsgbuf_init(&a, sv[0]);
	imsgbuf_init(&b, sv[1]);

	for (i = 0; i < 100; i++) {
		fill(buf, i % 50, i);
		if (imsg_compose(&a, 1000 + i, i, 0, -1, buf, i % 50) == -1)
			good = 0;
	}
	ok(good, "compose 100 messages");
	ok(imsgbuf_flush(&a) == 0, "flush");
	is_int(imsgbuf_read(&b), 1, "a single read");
	for (i = 0; (n = imsg_get(&b, &imsg)) == 1; i++) {
		if (imsg.hdr.type != (uint32_t)(1000 + i) ||
		    imsg.hdr.peerid != (uint32_t)i ||
		    imsg.datalen != (size_t)(i % 50) ||
		    !check_fill(imsg.data, imsg.datalen, i))
			good = 0;
		imsg_free(&imsg);
	}
	is_int(n, 0, "get ends with 0");
	is_int(i, 100, "all 100 messages from one read");
	ok(good, "all in order and intact");

	imsgbuf_clear(&a);
	imsgbuf_clear(&b);
	close(sv[0]);
	close(sv[1]);
}

static void
test_partial(void)
{
	static const size_t	 sizes[] = { 0, 1, 37, 200, 1000 };
	const size_t		 nsizes = sizeof(sizes) / sizeof(sizes[0]);
	struct imsgbuf		 a, c;
	struct imsg		 imsg;
	unsigned char		 raw[4096], body[1000];
	size_t			 ends[5], total = 0, i, k = 0;
	ssize_t			 n;
	int			 sv[2], sv2[2], good = 1, early = 0;

	diag("framing across partial reads");
	if (!ok(mkpair(sv) == 0 && mkpair(sv2) == 0, "socketpairs"))
		return;
	imsgbuf_init(&a, sv[0]);
	imsgbuf_init(&c, sv2[1]);

	/* Let imsg encode the stream, then take its raw bytes. */
	for (i = 0; i < nsizes; i++) {
		fill(body, sizes[i], i);
		imsg_compose(&a, i, 0, 0, -1, body, sizes[i]);
		total += IMSG_HEADER_SIZE + sizes[i];
		ends[i] = total;
	}
	ok(imsgbuf_flush(&a) == 0, "flush");
	n = read(sv[1], raw, sizeof(raw));
	if (!is_int(n, total, "raw stream read"))
		goto out;

	/* Feed it one byte at a time, reading in between. */
	for (i = 0; i < total; i++) {
		if (raw_write(sv2[0], raw + i, 1) == -1 ||
		    imsgbuf_read(&c) != 1) {
			good = 0;
			break;
		}
		while (imsg_get(&c, &imsg) == 1) {
			if (k >= nsizes || i + 1 != ends[k])
				early = 1;
			else if (imsg.hdr.type != k ||
			    imsg.datalen != sizes[k] ||
			    !check_fill(imsg.data, imsg.datalen, k))
				good = 0;
			k++;
			imsg_free(&imsg);
		}
	}
	ok(good, "byte-by-byte reads succeed, messages intact");
	ok(!early, "each message appears exactly at its last byte");
	is_int(k, nsizes, "all messages framed");
 out:
	imsgbuf_clear(&a);
	imsgbuf_clear(&c);
	close(sv[0]);
	close(sv[1]);
	close(sv2[0]);
	close(sv2[1]);
}

static void
test_fdpass(void)
{
	struct imsgbuf	 a, b;
	struct imsg	 imsg;
	char		 tmpl[] = "/tmp/imsg_test.XXXXXX", buf[8];
	int		 sv[2], p[2], fd, tfd, w;

	diag("fd passing");
	if (!ok(mkpair(sv) == 0 && pipe2(p, O_CLOEXEC) == 0,
	    "socketpair and pipe"))
		return;
	imsgbuf_init(&a, sv[0]);
	imsgbuf_init(&b, sv[1]);
	imsgbuf_allow_fdpass(&b);

	w = p[1];
	ok(imsg_compose(&a, 5, 0, 0, w, "x", 1) == 0, "compose with fd");
	ok(imsgbuf_flush(&a) == 0, "flush");
	ok(fd_closed(w), "sender closed its fd once sent");
	is_int(imsgbuf_read(&b), 1, "read");
	is_int(imsg_get(&b, &imsg), 1, "get");
	ok(imsg.hdr.flags & IMSGF_HASFD, "IMSGF_HASFD set");
	fd = imsg_get_fd(&imsg);
	ok(fd >= 0, "message carries an fd");
	is_int(imsg.fd, -1, "imsg_get_fd takes it");
	ok(fcntl(fd, F_GETFD) == FD_CLOEXEC, "received fd has FD_CLOEXEC");
	ok(write(fd, "ping", 4) == 4 && read(p[0], buf, 4) == 4 &&
	    memcmp(buf, "ping", 4) == 0, "received fd writes into the pipe");
	imsg_free(&imsg);
	ok(fcntl(fd, F_GETFD) != -1, "imsg_free leaves a taken fd alone");
	close(fd);
	close(p[0]);

	/* A temp file: the receiver reads what the sender wrote. */
	tfd = mkostemp(tmpl, O_CLOEXEC);
	if (ok(tfd != -1, "temp file")) {
		unlink(tmpl);
		ok(raw_write(tfd, "stored", 6) == 0, "write temp file");
		ok(imsg_compose(&a, 6, 0, 0, tfd, NULL, 0) == 0 &&
		    imsgbuf_flush(&a) == 0, "send temp file fd");
		ok(imsgbuf_read(&b) == 1 && imsg_get(&b, &imsg) == 1,
		    "receive it");
		fd = imsg_get_fd(&imsg);
		memset(buf, 0, sizeof(buf));
		ok(fd >= 0 && pread(fd, buf, 6, 0) == 6 &&
		    memcmp(buf, "stored", 6) == 0, "file content through fd");
		ok(fd >= 0 && fcntl(fd, F_GETFD) == FD_CLOEXEC,
		    "FD_CLOEXEC on file fd");
		if (fd >= 0)
			close(fd);
		imsg_free(&imsg);
	}

	imsgbuf_clear(&a);
	imsgbuf_clear(&b);
	close(sv[0]);
	close(sv[1]);
}

/* fds in a batch go to the messages that carried them. */
static void
test_fdpass_order(void)
{
	struct imsgbuf	 a, b;
	struct imsg	 imsg;
	char		 c;
	int		 sv[2], p1[2], p2[2], i, got = 0, good = 1;

	diag("fd passing in a batch");
	if (!ok(mkpair(sv) == 0 && pipe2(p1, O_CLOEXEC | O_NONBLOCK) == 0 &&
	    pipe2(p2, O_CLOEXEC | O_NONBLOCK) == 0, "socketpair and pipes"))
		return;
	imsgbuf_init(&a, sv[0]);
	imsgbuf_init(&b, sv[1]);
	imsgbuf_allow_fdpass(&b);

	imsg_compose(&a, 0, 0, 0, -1, "m0", 2);
	imsg_compose(&a, 1, 0, 0, p1[1], "m1", 2);
	imsg_compose(&a, 2, 0, 0, -1, "m2", 2);
	imsg_compose(&a, 3, 0, 0, p2[1], "m3", 2);
	imsg_compose(&a, 4, 0, 0, -1, "m4", 2);
	ok(imsgbuf_flush(&a) == 0, "flush");

	for (i = 0; i < 10 && got < 5; i++) {
		if (imsgbuf_read(&b) != 1)
			break;
		while (imsg_get(&b, &imsg) == 1) {
			if (imsg.hdr.type != (uint32_t)got)
				good = 0;
			if (got == 1 || got == 3) {
				c = got == 1 ? '1' : '3';
				if (imsg.fd < 0 || write(imsg.fd, &c, 1) != 1)
					good = 0;
			} else if (imsg.fd != -1)
				good = 0;
			got++;
			imsg_free(&imsg);
		}
	}
	is_int(got, 5, "five messages");
	ok(good, "fds only on the messages that carried them");
	ok(read(p1[0], &c, 1) == 1 && c == '1', "m1's fd is the first pipe");
	ok(read(p2[0], &c, 1) == 1 && c == '3', "m3's fd is the second pipe");
	ok(pipe_eof(p1[0]) && pipe_eof(p2[0]), "no copy of either fd left");
	close(p1[0]);
	close(p2[0]);
	imsgbuf_clear(&a);
	imsgbuf_clear(&b);
	close(sv[0]);
	close(sv[1]);
}

static void
test_fd_refused(void)
{
	struct imsgbuf	 a, b;
	struct imsg	 imsg;
	int		 sv[2], p[2];

	diag("fd on a channel that refuses fds");
	if (!ok(mkpair(sv) == 0 && pipe2(p, O_CLOEXEC | O_NONBLOCK) == 0,
	    "socketpair and pipe"))
		return;
	imsgbuf_init(&a, sv[0]);
	imsgbuf_init(&b, sv[1]);

	ok(imsg_compose(&a, 1, 0, 0, p[1], NULL, 0) == 0 &&
	    imsgbuf_flush(&a) == 0, "send an fd");
	errno = 0;
	is_int(imsgbuf_read(&b), -1, "read fails");
	is_int(errno, EBADMSG, "with EBADMSG");
	ok(pipe_eof(p[0]), "the unwanted fd was closed");
	errno = 0;
	ok(imsg_get(&b, &imsg) == -1 && errno == EBADMSG,
	    "channel unusable afterwards");
	close(p[0]);
	imsgbuf_clear(&a);
	imsgbuf_clear(&b);
	close(sv[0]);
	close(sv[1]);
}

static void
test_maxfds(void)
{
	struct imsgbuf	 a, b;
	int		 sv[2], p[2], i, fd, r = 1, good = 1;

	diag("too many unclaimed fds");
	if (!ok(mkpair(sv) == 0 && pipe2(p, O_CLOEXEC | O_NONBLOCK) == 0,
	    "socketpair and pipe"))
		return;
	imsgbuf_init(&a, sv[0]);
	imsgbuf_init(&b, sv[1]);
	imsgbuf_allow_fdpass(&b);

	for (i = 0; i < IMSG_MAXFDS + 1; i++) {
		if ((fd = fcntl(p[1], F_DUPFD_CLOEXEC, 0)) == -1 ||
		    imsg_compose(&a, 1, 0, 0, fd, NULL, 0) == -1)
			good = 0;
	}
	close(p[1]);
	ok(good, "compose %d messages with fds", IMSG_MAXFDS + 1);
	ok(imsgbuf_flush(&a) == 0, "flush");

	/* Never take a message: the fds pile up, one per read. */
	for (i = 0; i < IMSG_MAXFDS + 5 && r == 1; i++)
		r = imsgbuf_read(&b);
	ok(r == -1 && errno == EBADMSG, "read fails with EBADMSG");
	ok(pipe_eof(p[0]), "every received fd was closed");
	close(p[0]);
	imsgbuf_clear(&a);
	imsgbuf_clear(&b);
	close(sv[0]);
	close(sv[1]);
}

static void
test_eof(void)
{
	struct imsgbuf	 a, b;
	struct imsg	 imsg;
	int		 sv[2];

	diag("EOF");
	if (!ok(mkpair(sv) == 0, "socketpair"))
		return;
	imsgbuf_init(&a, sv[0]);
	imsgbuf_init(&b, sv[1]);
	ok(imsg_compose(&a, 1, 0, 0, -1, "last", 4) == 0 &&
	    imsgbuf_flush(&a) == 0, "send a last message");
	imsgbuf_clear(&a);
	close(sv[0]);
	is_int(imsgbuf_read(&b), 1, "read the message");
	is_int(imsg_get(&b, &imsg), 1, "get it");
	imsg_free(&imsg);
	is_int(imsgbuf_read(&b), 0, "then EOF reads as 0");
	is_int(imsg_get(&b, &imsg), 0, "nothing buffered");
	imsgbuf_clear(&b);
	close(sv[1]);
}

/* Each case: a fresh pair, a raw header written, what imsg_get says. */
static void
test_bad_headers(void)
{
	struct imsgbuf	 a, b;
	struct imsg	 imsg;
	struct imsg_hdr	 hdr;
	unsigned char	*big;
	int		 sv[2], r = 0, e;
	size_t		 i;
	struct {
		const char	*what;
		uint32_t	 len;
		uint32_t	 flags;
	} cases[] = {
		{ "huge length", 0x7fffffff, 0 },
		{ "length maxsize + 1", IMSG_MAXSIZE_DEFAULT + 1, 0 },
		{ "length below header size", 3, 0 },
		{ "length 0", 0, 0 },
		{ "unknown flag", IMSG_HEADER_SIZE, 0x100 },
		{ "HASFD without an fd", IMSG_HEADER_SIZE, IMSGF_HASFD },
	};

	diag("bad headers");
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		if (mkpair(sv) == -1)
			continue;
		imsgbuf_init(&b, sv[1]);
		imsgbuf_allow_fdpass(&b);
		memset(&hdr, 0, sizeof(hdr));
		hdr.type = 1;
		hdr.len = cases[i].len;
		hdr.flags = cases[i].flags;
		/* Only the header: a bad one must be refused, not awaited. */
		raw_write(sv[0], &hdr, sizeof(hdr));
		imsgbuf_read(&b);
		errno = 0;
		r = imsg_get(&b, &imsg);
		e = errno;
		ok(r == -1 && e == EBADMSG, "%s: EBADMSG from the header alone",
		    cases[i].what);
		errno = 0;
		ok(imsg_get(&b, &imsg) == -1 && errno == EBADMSG &&
		    imsgbuf_read(&b) == -1 && errno == EBADMSG,
		    "%s: channel stays failed", cases[i].what);
		imsgbuf_clear(&b);
		close(sv[0]);
		close(sv[1]);
	}

	/* The boundary: exactly maxsize is fine. */
	if ((big = calloc(1, IMSG_MAXSIZE_DEFAULT)) == NULL ||
	    mkpair(sv) == -1) {
		free(big);
		return;
	}
	imsgbuf_init(&a, sv[0]);
	imsgbuf_init(&b, sv[1]);
	ok(imsg_compose(&a, 2, 0, 0, -1, big,
	    IMSG_MAXSIZE_DEFAULT - IMSG_HEADER_SIZE) == 0 &&
	    imsgbuf_flush(&a) == 0, "send a message of exactly maxsize");
	for (i = 0; i < 10 && (r = imsg_get(&b, &imsg)) == 0; i++)
		imsgbuf_read(&b);
	ok(r == 1 && imsg.hdr.len == IMSG_MAXSIZE_DEFAULT,
	    "maxsize message accepted");
	if (r == 1)
		imsg_free(&imsg);
	free(big);
	imsgbuf_clear(&a);
	imsgbuf_clear(&b);
	close(sv[0]);
	close(sv[1]);
}

static void
test_maxsize(void)
{
	struct imsgbuf	 a, b;
	struct imsg	 imsg;
	unsigned char	*big;
	size_t		 bigsz = 60000, i;
	int		 sv[2], p[2], r = 0;

	diag("maximum message size");
	if (!ok(mkpair(sv) == 0 && pipe2(p, O_CLOEXEC) == 0,
	    "socketpair and pipe"))
		return;
	if ((big = malloc(bigsz)) == NULL)
		return;
	fill(big, bigsz, 9);
	imsgbuf_init(&a, sv[0]);
	imsgbuf_init(&b, sv[1]);

	errno = 0;
	ok(imsg_compose(&a, 1, 0, 0, -1, big,
	    IMSG_MAXSIZE_DEFAULT - IMSG_HEADER_SIZE + 1) == -1 &&
	    errno == EMSGSIZE, "compose over maxsize fails with EMSGSIZE");
	errno = 0;
	ok(imsg_compose(&a, 1, 0, 0, p[1], big, bigsz) == -1 &&
	    errno == EMSGSIZE, "compose with fd over maxsize: EMSGSIZE");
	ok(fd_closed(p[1]), "and the fd given was closed");
	close(p[0]);
	is_int(imsgbuf_queuelen(&a), 0, "nothing queued");

	errno = 0;
	ok(imsgbuf_set_maxsize(&a, IMSG_MAXSIZE_LIMIT + 1) == -1 &&
	    errno == EINVAL, "maxsize above the limit refused");
	ok(imsgbuf_set_maxsize(&a, IMSG_HEADER_SIZE - 1) == -1,
	    "maxsize below header size refused");
	ok(imsgbuf_set_maxsize(&a, 65536) == 0 &&
	    imsgbuf_set_maxsize(&b, 65536) == 0, "raise maxsize to 64 KiB");
	ok(imsg_compose(&a, 7, 0, 0, -1, big, bigsz) == 0 &&
	    imsgbuf_flush(&a) == 0, "send a 60000-byte message");
	for (i = 0; i < 100 && (r = imsg_get(&b, &imsg)) == 0; i++)
		if (imsgbuf_read(&b) != 1)
			break;
	ok(r == 1 && imsg.datalen == bigsz && check_fill(imsg.data, bigsz, 9),
	    "large message arrives intact");
	if (r == 1)
		imsg_free(&imsg);

	/* A receiver with the default limit refuses it. */
	ok(imsgbuf_set_maxsize(&b, IMSG_MAXSIZE_DEFAULT) == 0,
	    "lower receiver's maxsize");
	imsg_compose(&a, 7, 0, 0, -1, big, bigsz);
	imsgbuf_flush(&a);
	imsgbuf_read(&b);
	errno = 0;
	ok(imsg_get(&b, &imsg) == -1 && errno == EBADMSG,
	    "over the receiver's maxsize: EBADMSG");

	free(big);
	imsgbuf_clear(&a);
	imsgbuf_clear(&b);
	close(sv[0]);
	close(sv[1]);
}

static void
test_get_data(void)
{
	struct imsgbuf	 a, b;
	struct imsg	 imsg;
	uint64_t	 v = 0x1122334455667788ULL, got = 0;
	uint32_t	 small;
	int		 sv[2];

	diag("imsg_get_data");
	if (!ok(mkpair(sv) == 0, "socketpair"))
		return;
	imsgbuf_init(&a, sv[0]);
	imsgbuf_init(&b, sv[1]);
	imsg_compose(&a, 1, 0, 0, -1, &v, sizeof(v));
	imsgbuf_flush(&a);
	imsgbuf_read(&b);
	if (ok(imsg_get(&b, &imsg) == 1, "get")) {
		errno = 0;
		ok(imsg_get_data(&imsg, &small, sizeof(small)) == -1 &&
		    errno == EBADMSG, "short size: EBADMSG");
		ok(imsg_get_data(&imsg, &got, sizeof(got)) == 0 && got == v,
		    "exact size copies the data");
		imsg_free(&imsg);
	}
	imsgbuf_clear(&a);
	imsgbuf_clear(&b);
	close(sv[0]);
	close(sv[1]);
}

/*
 * A small send buffer fills up; the queue must then drain in order as
 * the other side reads, with fds sprinkled in.
 */
static void
test_drain(void)
{
	const int	 nmsg = 600, msglen = 1000, fdevery = 50;
	struct imsgbuf	 a, b;
	struct imsg	 imsg;
	unsigned char	 body[1000];
	int		 sv[2], i, sz = 4096, got = 0, fds = 0, good = 1;
	int		 rounds, partial = 0, fd;

	diag("queued output on a full socket");
	if (!ok(mkpair(sv) == 0, "socketpair"))
		return;
	setsockopt(sv[0], SOL_SOCKET, SO_SNDBUF, &sz, sizeof(sz));
	setsockopt(sv[1], SOL_SOCKET, SO_RCVBUF, &sz, sizeof(sz));
	imsgbuf_init(&a, sv[0]);
	imsgbuf_init(&b, sv[1]);
	imsgbuf_allow_fdpass(&b);

	for (i = 0; i < nmsg; i++) {
		fd = -1;
		if (i % fdevery == 0 &&
		    (fd = open("/dev/null", O_RDONLY | O_CLOEXEC)) == -1)
			good = 0;
		fill(body, msglen, i);
		if (imsg_compose(&a, 1, i, 0, fd, body, msglen) == -1)
			good = 0;
	}
	ok(good, "compose %d messages", nmsg);
	ok(imsgbuf_write(&a) == 0, "write until the socket is full");
	ok(imsgbuf_queuelen(&a) > 0 && imsgbuf_queuelen(&a) < (size_t)nmsg,
	    "socket full, %zu messages still queued", imsgbuf_queuelen(&a));

	for (rounds = 0; rounds < 100000 && got < nmsg; rounds++) {
		if (TAILQ_FIRST(&a.wq) != NULL && TAILQ_FIRST(&a.wq)->off > 0)
			partial = 1;
		if (imsgbuf_read(&b) != 1) {
			good = 0;
			break;
		}
		while (imsg_get(&b, &imsg) == 1) {
			if (imsg.hdr.peerid != (uint32_t)got ||
			    imsg.datalen != (size_t)msglen ||
			    !check_fill(imsg.data, msglen, got))
				good = 0;
			if ((got % fdevery == 0) != (imsg.fd != -1))
				good = 0;
			if (imsg.fd != -1) {
				if (fcntl(imsg.fd, F_GETFD) == FD_CLOEXEC)
					fds++;
			}
			got++;
			imsg_free(&imsg);
		}
		if (imsgbuf_write(&a) == -1) {
			good = 0;
			break;
		}
	}
	is_int(got, nmsg, "every message arrived");
	ok(good, "in order, intact, fds on the right messages");
	is_int(fds, (nmsg + fdevery - 1) / fdevery, "every fd arrived");
	is_int(imsgbuf_queuelen(&a), 0, "queue drained");
	diag("%d rounds, partial message writes %sseen", rounds,
	    partial ? "" : "not ");

	imsgbuf_clear(&a);
	imsgbuf_clear(&b);
	close(sv[0]);
	close(sv[1]);
}

static void
test_free_closes(void)
{
	struct imsgbuf	 a, b;
	struct imsg	 imsg;
	int		 sv[2], p[2], n;

	diag("unclaimed fds are closed");
	if (!ok(mkpair(sv) == 0 && pipe2(p, O_CLOEXEC | O_NONBLOCK) == 0,
	    "socketpair and pipe"))
		return;
	imsgbuf_init(&a, sv[0]);
	imsgbuf_init(&b, sv[1]);
	imsgbuf_allow_fdpass(&b);

	imsg_compose(&a, 1, 0, 0, p[1], NULL, 0);
	imsgbuf_flush(&a);
	imsgbuf_read(&b);
	if (ok(imsg_get(&b, &imsg) == 1 && imsg.fd >= 0, "got a fd")) {
		n = imsg.fd;
		imsg_free(&imsg);
		ok(fd_closed(n), "imsg_free closed fd %d", n);
		is_int(imsg.fd, -1, "and forgot it");
	}
	ok(pipe_eof(p[0]), "no copy left");
	close(p[0]);

	/* Queued on the way out, and received but not taken. */
	if (pipe2(p, O_CLOEXEC | O_NONBLOCK) == -1)
		return;
	n = fcntl(p[1], F_DUPFD_CLOEXEC, 0);
	imsg_compose(&a, 1, 0, 0, n, NULL, 0);
	imsgbuf_flush(&a);
	imsgbuf_read(&b);
	imsg_compose(&a, 1, 0, 0, p[1], NULL, 0);
	imsg_compose(&b, 1, 0, 0, -1, NULL, 0);
	imsgbuf_clear(&a);
	ok(fd_closed(p[1]), "imsgbuf_clear closed an fd queued for output");
	imsgbuf_clear(&b);
	ok(pipe_eof(p[0]), "imsgbuf_clear closed a received fd");
	close(p[0]);
	close(sv[0]);
	close(sv[1]);
}

static void
test_epipe(void)
{
	struct imsgbuf	 a;
	int		 sv[2];

	diag("peer gone");
	if (!ok(mkpair(sv) == 0, "socketpair"))
		return;
	imsgbuf_init(&a, sv[0]);
	close(sv[1]);
	imsg_compose(&a, 1, 0, 0, -1, "x", 1);
	errno = 0;
	ok(imsgbuf_write(&a) == -1 && errno == EPIPE,
	    "write to a closed peer: EPIPE, no SIGPIPE");
	errno = 0;
	ok(imsgbuf_flush(&a) == -1 && errno == EPIPE, "flush: EPIPE");
	imsgbuf_clear(&a);
	close(sv[0]);
}

int
main(void)
{
	int	 nfds = count_fds();

	test_roundtrip();
	test_batch();
	test_partial();
	test_fdpass();
	test_fdpass_order();
	test_fd_refused();
	test_maxfds();
	test_eof();
	test_bad_headers();
	test_maxsize();
	test_get_data();
	test_drain();
	test_free_closes();
	test_epipe();

	is_int(count_fds(), nfds, "no descriptor leaked");
	return tap_done();
}
