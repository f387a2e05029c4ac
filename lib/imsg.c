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
 * imsg-style framed messages over a UNIX stream socket, with fd passing.
 *
 * Reading: bytes go into rbuf (maxsize bytes, so one whole message of
 * the largest allowed size always fits); received fds go into rfds in
 * arrival order.  The sender attaches each fd to the first byte of its
 * message and Linux never returns bytes from two fd-carrying sends in
 * one recvmsg(2), so by the time a header is complete, the fd it
 * announces has been queued, and the fds are claimed in order.
 *
 * Writing: each queued message keeps header and data together.  A
 * message with an fd always starts its own sendmsg(2), so the fd rides
 * on its first byte; messages without fds are gathered into one call.
 */
#include <sys/types.h>
#include <sys/queue.h>
#include <sys/socket.h>
#include <sys/uio.h>

#include <errno.h>
#include <poll.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "imsg.h"

/* Messages gathered into one sendmsg(2). */
#define IMSG_WRITE_IOV	32

static void	imsg_close_fd(int);
static void	imsgbuf_compact(struct imsgbuf *);
static void	imsgbuf_drop_rfds(struct imsgbuf *);
static int	imsgbuf_fail(struct imsgbuf *);

/* Close an fd we own without disturbing errno. */
static void
imsg_close_fd(int fd)
{
	int	 saved_errno = errno;

	if (fd >= 0)
		close(fd);
	errno = saved_errno;
}

/*
 * Messages are small and some carry secrets (keys on their way to the
 * crypto process): every buffer is wiped before it is freed.
 */
static void
imsg_out_free(struct imsg_out *m)
{
	explicit_bzero(m->buf, m->len);
	free(m);
}

/* Move the unread bytes to the start of rbuf. */
static void
imsgbuf_compact(struct imsgbuf *ibuf)
{
	if (ibuf->roff == 0)
		return;
	if (ibuf->rlen > ibuf->roff)
		memmove(ibuf->rbuf, ibuf->rbuf + ibuf->roff,
		    ibuf->rlen - ibuf->roff);
	/* Consumed bytes may be key material (crypto's configuration). */
	explicit_bzero(ibuf->rbuf + ibuf->rlen - ibuf->roff, ibuf->roff);
	ibuf->rlen -= ibuf->roff;
	ibuf->roff = 0;
}

static void
imsgbuf_drop_rfds(struct imsgbuf *ibuf)
{
	int	 i;

	for (i = 0; i < ibuf->nrfds; i++)
		imsg_close_fd(ibuf->rfds[i]);
	ibuf->nrfds = 0;
}

/*
 * The stream can no longer be framed: refuse everything from now on.
 * Queued fds are useless as well, so they go at once.
 */
static int
imsgbuf_fail(struct imsgbuf *ibuf)
{
	ibuf->failed = 1;
	imsgbuf_drop_rfds(ibuf);
	errno = EBADMSG;
	return -1;
}

int
imsgbuf_init(struct imsgbuf *ibuf, int fd)
{
	memset(ibuf, 0, sizeof(*ibuf));
	ibuf->fd = -1;
	TAILQ_INIT(&ibuf->wq);
	if (fd < 0) {
		errno = EBADF;
		return -1;
	}
	if ((ibuf->rbuf = malloc(IMSG_MAXSIZE_DEFAULT)) == NULL)
		return -1;
	ibuf->fd = fd;
	ibuf->pid = getpid();
	ibuf->maxsize = IMSG_MAXSIZE_DEFAULT;
	return 0;
}

void
imsgbuf_allow_fdpass(struct imsgbuf *ibuf)
{
	ibuf->allow_fds = 1;
}

int
imsgbuf_set_maxsize(struct imsgbuf *ibuf, size_t size)
{
	unsigned char	*p;

	if (size < IMSG_HEADER_SIZE || size > IMSG_MAXSIZE_LIMIT) {
		errno = EINVAL;
		return -1;
	}
	imsgbuf_compact(ibuf);
	/* Shrinking below what is already buffered would lose bytes. */
	if (ibuf->rlen > size) {
		errno = EBUSY;
		return -1;
	}
	if ((p = realloc(ibuf->rbuf, size)) == NULL)
		return -1;
	ibuf->rbuf = p;
	ibuf->maxsize = size;
	return 0;
}

void
imsgbuf_clear(struct imsgbuf *ibuf)
{
	struct imsg_out	*m;

	while ((m = TAILQ_FIRST(&ibuf->wq)) != NULL) {
		TAILQ_REMOVE(&ibuf->wq, m, entry);
		imsg_close_fd(m->fd);
		imsg_out_free(m);
	}
	ibuf->wqlen = 0;
	imsgbuf_drop_rfds(ibuf);
	if (ibuf->rbuf != NULL)
		explicit_bzero(ibuf->rbuf, ibuf->maxsize);
	free(ibuf->rbuf);
	ibuf->rbuf = NULL;
	ibuf->roff = ibuf->rlen = 0;
	/* Reading a cleared buffer is a bug; make it fail, not crash. */
	ibuf->failed = 1;
}

int
imsgbuf_read(struct imsgbuf *ibuf)
{
	union {
		struct cmsghdr	 hdr;
		char		 buf[CMSG_SPACE(sizeof(int) * IMSG_MAXFDS)];
	}		 cmsgbuf;
	struct msghdr	 msg;
	struct iovec	 iov;
	struct cmsghdr	*cmsg;
	ssize_t		 n;
	size_t		 i, nfds;
	int		 fd, bad = 0;

	if (ibuf->failed || ibuf->rbuf == NULL) {
		errno = EBADMSG;
		return -1;
	}
	imsgbuf_compact(ibuf);
	/*
	 * Full: rbuf holds at least one whole message (or a header that
	 * imsg_get() will refuse); the caller has to take those first.
	 */
	if (ibuf->rlen >= ibuf->maxsize)
		return 1;

	memset(&msg, 0, sizeof(msg));
	memset(&cmsgbuf, 0, sizeof(cmsgbuf));
	iov.iov_base = ibuf->rbuf + ibuf->rlen;
	iov.iov_len = ibuf->maxsize - ibuf->rlen;
	msg.msg_iov = &iov;
	msg.msg_iovlen = 1;
	/*
	 * Always offer room for fds, even on channels that refuse them:
	 * an fd that shows up there is a protocol error we want to see,
	 * not one the kernel silently discards.
	 */
	msg.msg_control = cmsgbuf.buf;
	msg.msg_controllen = sizeof(cmsgbuf.buf);

	for (;;) {
		n = recvmsg(ibuf->fd, &msg, MSG_CMSG_CLOEXEC);
		if (n != -1)
			break;
		if (errno == EINTR)
			continue;
		if (errno == EAGAIN || errno == EWOULDBLOCK)
			return 1;
		return -1;
	}

	for (cmsg = CMSG_FIRSTHDR(&msg); cmsg != NULL;
	    cmsg = CMSG_NXTHDR(&msg, cmsg)) {
		if (cmsg->cmsg_level != SOL_SOCKET ||
		    cmsg->cmsg_type != SCM_RIGHTS)
			continue;
		nfds = (cmsg->cmsg_len - CMSG_LEN(0)) / sizeof(int);
		for (i = 0; i < nfds; i++) {
			memcpy(&fd, CMSG_DATA(cmsg) + i * sizeof(int),
			    sizeof(fd));
			if (!ibuf->allow_fds || ibuf->nrfds >= IMSG_MAXFDS) {
				imsg_close_fd(fd);
				bad = 1;
			} else
				ibuf->rfds[ibuf->nrfds++] = fd;
		}
	}
	/* Truncated control data: the kernel closed fds we never saw. */
	if (msg.msg_flags & MSG_CTRUNC)
		bad = 1;
	if (bad)
		return imsgbuf_fail(ibuf);

	if (n == 0)
		return 0;
	ibuf->rlen += n;
	return 1;
}

int
imsg_get(struct imsgbuf *ibuf, struct imsg *imsg)
{
	struct imsg_hdr	 hdr;
	size_t		 avail, datalen;
	void		*data = NULL;

	if (ibuf->failed || ibuf->rbuf == NULL) {
		errno = EBADMSG;
		return -1;
	}
	avail = ibuf->rlen - ibuf->roff;
	if (avail < IMSG_HEADER_SIZE)
		return 0;
	memcpy(&hdr, ibuf->rbuf + ibuf->roff, sizeof(hdr));

	/* Judge the header before waiting for, or allocating, a body. */
	if (hdr.len < IMSG_HEADER_SIZE || hdr.len > ibuf->maxsize)
		return imsgbuf_fail(ibuf);
	if (hdr.flags & ~(uint32_t)IMSGF_HASFD)
		return imsgbuf_fail(ibuf);
	/* The fd arrived with the first byte of the message, or never. */
	if ((hdr.flags & IMSGF_HASFD) && ibuf->nrfds == 0)
		return imsgbuf_fail(ibuf);

	if (avail < hdr.len)
		return 0;

	datalen = hdr.len - IMSG_HEADER_SIZE;
	if (datalen > 0) {
		/* ENOMEM leaves the message buffered: a retry may work. */
		if ((data = malloc(datalen)) == NULL)
			return -1;
		memcpy(data, ibuf->rbuf + ibuf->roff + IMSG_HEADER_SIZE,
		    datalen);
	}

	imsg->hdr = hdr;
	imsg->data = data;
	imsg->datalen = datalen;
	imsg->fd = -1;
	if (hdr.flags & IMSGF_HASFD) {
		imsg->fd = ibuf->rfds[0];
		ibuf->nrfds--;
		memmove(&ibuf->rfds[0], &ibuf->rfds[1],
		    ibuf->nrfds * sizeof(ibuf->rfds[0]));
	}

	ibuf->roff += hdr.len;
	if (ibuf->roff == ibuf->rlen) {
		explicit_bzero(ibuf->rbuf, ibuf->rlen);
		ibuf->roff = ibuf->rlen = 0;
	}
	return 1;
}

int
imsg_compose(struct imsgbuf *ibuf, uint32_t type, uint32_t peerid,
    pid_t pid, int fd, const void *data, size_t datalen)
{
	struct iovec	 iov;

	iov.iov_base = (void *)(uintptr_t)data;
	iov.iov_len = datalen;
	return imsg_composev(ibuf, type, peerid, pid, fd, &iov,
	    datalen > 0 ? 1 : 0);
}

int
imsg_composev(struct imsgbuf *ibuf, uint32_t type, uint32_t peerid,
    pid_t pid, int fd, const struct iovec *iov, int iovcnt)
{
	struct imsg_out	*m;
	struct imsg_hdr	 hdr;
	size_t		 len = IMSG_HEADER_SIZE, off;
	int		 i;

	if (iovcnt < 0 || (iovcnt > 0 && iov == NULL)) {
		errno = EINVAL;
		goto fail;
	}
	for (i = 0; i < iovcnt; i++) {
		if (iov[i].iov_len > 0 && iov[i].iov_base == NULL) {
			errno = EINVAL;
			goto fail;
		}
		/* Compare before adding: no overflow on absurd lengths. */
		if (iov[i].iov_len > ibuf->maxsize - len) {
			errno = EMSGSIZE;
			goto fail;
		}
		len += iov[i].iov_len;
	}

	if ((m = malloc(sizeof(*m) + len)) == NULL)
		goto fail;

	memset(&hdr, 0, sizeof(hdr));
	hdr.type = type;
	hdr.len = len;
	hdr.peerid = peerid;
	hdr.pid = pid != 0 ? (uint32_t)pid : (uint32_t)ibuf->pid;
	hdr.flags = fd >= 0 ? IMSGF_HASFD : 0;

	m->len = len;
	m->off = 0;
	m->fd = fd >= 0 ? fd : -1;
	memcpy(m->buf, &hdr, sizeof(hdr));
	off = sizeof(hdr);
	for (i = 0; i < iovcnt; i++) {
		if (iov[i].iov_len == 0)
			continue;
		memcpy(m->buf + off, iov[i].iov_base, iov[i].iov_len);
		off += iov[i].iov_len;
	}

	TAILQ_INSERT_TAIL(&ibuf->wq, m, entry);
	ibuf->wqlen++;
	return 0;

 fail:
	imsg_close_fd(fd);
	return -1;
}

int
imsg_forward(struct imsgbuf *ibuf, const struct imsg *imsg)
{
	return imsg_compose(ibuf, imsg->hdr.type, imsg->hdr.peerid,
	    (pid_t)imsg->hdr.pid, -1, imsg->data, imsg->datalen);
}

int
imsgbuf_write(struct imsgbuf *ibuf)
{
	union {
		struct cmsghdr	 hdr;
		char		 buf[CMSG_SPACE(sizeof(int))];
	}		 cmsgbuf;
	struct iovec	 iov[IMSG_WRITE_IOV];
	struct msghdr	 msg;
	struct cmsghdr	*cmsg;
	struct imsg_out	*m, *head;
	size_t		 left, chunk;
	ssize_t		 n;
	int		 niov, fd;

	while ((head = TAILQ_FIRST(&ibuf->wq)) != NULL) {
		/*
		 * Only the head can carry an fd (it had off == 0 until the
		 * first partial write, which sent and closed it); a later
		 * message with an fd waits for its own call.
		 */
		fd = head->fd;
		niov = 0;
		for (m = head; m != NULL && niov < IMSG_WRITE_IOV;
		    m = TAILQ_NEXT(m, entry)) {
			if (m != head && m->fd != -1)
				break;
			iov[niov].iov_base = m->buf + m->off;
			iov[niov].iov_len = m->len - m->off;
			niov++;
		}

		memset(&msg, 0, sizeof(msg));
		msg.msg_iov = iov;
		msg.msg_iovlen = niov;
		if (fd != -1) {
			memset(&cmsgbuf, 0, sizeof(cmsgbuf));
			msg.msg_control = cmsgbuf.buf;
			msg.msg_controllen = sizeof(cmsgbuf.buf);
			cmsg = CMSG_FIRSTHDR(&msg);
			cmsg->cmsg_len = CMSG_LEN(sizeof(int));
			cmsg->cmsg_level = SOL_SOCKET;
			cmsg->cmsg_type = SCM_RIGHTS;
			memcpy(CMSG_DATA(cmsg), &fd, sizeof(int));
		}

		n = sendmsg(ibuf->fd, &msg, MSG_NOSIGNAL);
		if (n == -1) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				return 0;
			return -1;
		}

		/* The kernel holds its own reference now. */
		if (fd != -1) {
			imsg_close_fd(fd);
			head->fd = -1;
		}

		for (left = n; left > 0; ) {
			m = TAILQ_FIRST(&ibuf->wq);
			chunk = m->len - m->off;
			if (left < chunk) {
				m->off += left;
				break;
			}
			left -= chunk;
			TAILQ_REMOVE(&ibuf->wq, m, entry);
			ibuf->wqlen--;
			imsg_out_free(m);
		}
	}
	return 0;
}

int
imsgbuf_flush(struct imsgbuf *ibuf)
{
	struct pollfd	 pfd;

	while (ibuf->wqlen > 0) {
		if (imsgbuf_write(ibuf) == -1)
			return -1;
		if (ibuf->wqlen == 0)
			break;
		pfd.fd = ibuf->fd;
		pfd.events = POLLOUT;
		pfd.revents = 0;
		/* POLLERR and POLLHUP show up as an error on the next write. */
		if (poll(&pfd, 1, -1) == -1 && errno != EINTR)
			return -1;
	}
	return 0;
}

size_t
imsgbuf_queuelen(const struct imsgbuf *ibuf)
{
	return ibuf->wqlen;
}

int
imsg_get_fd(struct imsg *imsg)
{
	int	 fd = imsg->fd;

	imsg->fd = -1;
	return fd;
}

int
imsg_get_data(const struct imsg *imsg, void *buf, size_t len)
{
	if (len != imsg->datalen) {
		errno = EBADMSG;
		return -1;
	}
	if (len > 0)
		memcpy(buf, imsg->data, len);
	return 0;
}

void
imsg_free(struct imsg *imsg)
{
	if (imsg->data != NULL)
		explicit_bzero(imsg->data, imsg->datalen);
	free(imsg->data);
	imsg->data = NULL;
	imsg->datalen = 0;
	imsg_close_fd(imsg->fd);
	imsg->fd = -1;
}
