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
 * imsg-style framed messages over a UNIX socket, with fd passing.
 *
 * A message on the wire is a fixed header (struct imsg_hdr, host byte
 * order: both ends are processes of the same program on one machine)
 * followed by hdr.len - IMSG_HEADER_SIZE bytes of data.  A file
 * descriptor travels as SCM_RIGHTS ancillary data on the first byte of
 * the message it belongs to; the header flag IMSGF_HASFD tells the
 * reader to take one fd from the received queue for that message.
 */
#ifndef DSRV_IMSG_H
#define DSRV_IMSG_H

#include <sys/types.h>
#include <sys/queue.h>
#include <sys/uio.h>
#include <stddef.h>
#include <stdint.h>

#define IMSG_HEADER_SIZE	sizeof(struct imsg_hdr)
#define IMSG_MAXSIZE_DEFAULT	16384		/* header included */
#define IMSG_MAXSIZE_LIMIT	(1024 * 1024)	/* never above this */
#define IMSG_MAXFDS		16		/* fds queued, unclaimed */

#define IMSGF_HASFD		0x0001

struct imsg_hdr {
	uint32_t	 type;
	uint32_t	 len;		/* header + data */
	uint32_t	 peerid;
	uint32_t	 pid;
	uint32_t	 flags;
};

struct imsg {
	struct imsg_hdr	 hdr;
	int		 fd;		/* -1 if none; see imsg_get_fd() */
	void		*data;		/* points into a private copy */
	size_t		 datalen;
};

/* One queued outgoing message (header and data contiguous). */
struct imsg_out {
	TAILQ_ENTRY(imsg_out)	 entry;
	size_t			 len;
	size_t			 off;	/* bytes already written */
	int			 fd;	/* sent with the first byte */
	unsigned char		 buf[];
};

struct imsgbuf {
	int			 fd;
	pid_t			 pid;		/* ours, put in headers */
	int			 allow_fds;	/* accept SCM_RIGHTS? */
	size_t			 maxsize;	/* largest message, header incl. */
	unsigned char		*rbuf;		/* read buffer, maxsize bytes */
	size_t			 roff;		/* first byte not yet taken */
	size_t			 rlen;		/* end of the bytes read */
	int			 rfds[IMSG_MAXFDS];
	int			 nrfds;
	TAILQ_HEAD(, imsg_out)	 wq;
	size_t			 wqlen;		/* messages queued */
	int			 failed;	/* framing error seen */
};

/*
 * All functions that return int return 0 on success and -1 with errno
 * set on failure, except where noted.
 */

/* Set up ibuf on a connected, non-blocking socket.  fds are refused. */
int	imsgbuf_init(struct imsgbuf *, int fd);
/* Accept passed file descriptors on this channel. */
void	imsgbuf_allow_fdpass(struct imsgbuf *);
/* Largest message accepted or sent (header included). */
int	imsgbuf_set_maxsize(struct imsgbuf *, size_t);
/* Drop queued output and received fds, free buffers; fd stays open. */
void	imsgbuf_clear(struct imsgbuf *);

/*
 * Read what the socket has.  Returns 1 if bytes (or nothing, on
 * EAGAIN or with a buffer full of unread messages) were read, 0 on
 * EOF, -1 on error.  A passed fd on a channel that does not accept fds,
 * or one fd more than IMSG_MAXFDS waiting to be claimed, is closed and
 * is an error (EBADMSG); so is any later call.
 */
int	imsgbuf_read(struct imsgbuf *);

/*
 * Take the next whole message.  Returns 1 and fills imsg, 0 if no whole
 * message is buffered, -1 on a framing error (EBADMSG: bad length or
 * flags, or a message announcing an fd that did not arrive).  After a
 * framing error the channel is unusable.  The length is judged from
 * the header alone, before any body is awaited or allocated.  ENOMEM
 * leaves the message buffered for another try.
 */
int	imsg_get(struct imsgbuf *, struct imsg *);

/*
 * Queue a message.  fd (or -1) is owned by the call from here on: it is
 * closed once sent, by imsgbuf_clear(), or at once if the compose fails
 * (EMSGSIZE when the message would exceed maxsize, ENOMEM, EINVAL).
 * pid 0 means this process (ibuf->pid).
 */
int	imsg_compose(struct imsgbuf *, uint32_t type, uint32_t peerid,
	    pid_t pid, int fd, const void *data, size_t datalen);
int	imsg_composev(struct imsgbuf *, uint32_t type, uint32_t peerid,
	    pid_t pid, int fd, const struct iovec *iov, int iovcnt);
/* Queue a message that forwards imsg's data (not its fd). */
int	imsg_forward(struct imsgbuf *, const struct imsg *);

/*
 * Write as much as the socket takes.  Returns 0 (EAGAIN is not an
 * error: check imsgbuf_queuelen()), -1 on error (EPIPE when the peer is
 * gone).
 */
int	imsgbuf_write(struct imsgbuf *);
/* Write everything, waiting with poll(2) when the socket is full. */
int	imsgbuf_flush(struct imsgbuf *);
/* Messages not yet fully written. */
size_t	imsgbuf_queuelen(const struct imsgbuf *);

/* Take ownership of the message's fd (-1 if none). */
int	imsg_get_fd(struct imsg *);
/* Copy exactly len data bytes; EBADMSG if the size differs. */
int	imsg_get_data(const struct imsg *, void *, size_t len);
/* Release the message; closes an fd nobody took. */
void	imsg_free(struct imsg *);

#endif /* DSRV_IMSG_H */
