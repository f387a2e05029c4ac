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
 * The network process's state (struct network, one per worker), a
 * client connection (struct conn) and what the network_*.c files call
 * in one another.  Only network*.c include this.
 */
#ifndef DSRVD_NETWORK_H
#define DSRVD_NETWORK_H

#include <sys/queue.h>
#include <sys/socket.h>
#include <time.h>

#include "dsrvd.h"

/*
 * A frame buffer (a memfd, network_buf.c): room for the largest frame,
 * to align its payload and for direct I/O past its end (before
 * rounding to pages); how many free ones a worker keeps.  The sandbox
 * sizes FSIZE and NOFILE from them.
 */
#define NETWORK_BB_MAX	(WIRE_FRAME_HDR + WIRE_FRAME_MAX + 2 * CHUNK_ALIGN)
#define NETWORK_BB_POOL	16

struct listener {
	TAILQ_ENTRY(listener)	 entry;
	struct listen_addr	*la;		/* owned by the conf */
	struct event		*ev;
};

enum conn_state {
	CS_HELLO,		/* reading HELLO */
	CS_CRYPTO,		/* crypto is working on it */
	CS_CHALLENGE,		/* writing CHALLENGE */
	CS_FINISH,		/* reading FINISH */
	CS_ACCEPT,		/* writing RESULT ok */
	CS_REQUEST,		/* idle, or reading a frame */
	CS_STORAGE,		/* a request is being served */
	CS_RESPONSE,		/* writing a frame */
	CS_REFUSE,		/* writing a refusal RESULT */
	CS_LINGER,		/* refused, waiting for the client's EOF */
};

/*
 * A buffer big enough for the largest frame, in a memfd so that the
 * payload can go to storage as a file descriptor: the chunk a client
 * writes is received, decrypted and handed over without a copy, and a
 * chunk read is read into it and encrypted in place.  Kept in a pool so
 * that its pages are faulted in once, not per chunk.
 */
struct bigbuf {
	TAILQ_ENTRY(bigbuf)	 entry;
	int			 fd;
	uint8_t			*p;
	size_t			 sz;
};

struct conn {
	TAILQ_ENTRY(conn)	 entry;
	TAILQ_ENTRY(conn)	 sentry;	/* startups, oldest first */
	int			 startup;	/* counted as a startup */
	int			 ended;		/* its outcome is counted */
	uint32_t		 bucket;	/* its source's counter */
	uint32_t		 id;
	int			 fd;
	enum conn_state		 state;
	struct event		*rev, *wev, *tmo;
	int			 reading, writing;
	int			 counted;	/* in the shared sessions */
	int			 in_crypto;	/* crypto holds state for us */
	char			 peer[128];	/* "client ADDR port N" */
	char			 keyname[KEY_NAME_MAX + 1];
	char			 ns[NAMESPACE_MAX + 1];
	uint32_t		 perms;
	uint64_t		 sid;		/* granted to storage, or 0 */

	/* handshake */
	uint8_t			 hs[WIRE_RESULT_MAX];
	size_t			 hslen;
	struct timespec		 chal_sent;
	uint64_t		 rtt_us;

	/* session */
	struct wire_keys	 keys;
	uint64_t		 counter;	/* of the next request */
	uint64_t		 rcounter;	/* of the frame being read */

	/* the frame being read: header, then ciphertext into buf */
	uint8_t			 fhdr[WIRE_FRAME_HDR];
	size_t			 fhlen;
	size_t			 want;		/* bytes to read */
	size_t			 rlen;		/* ciphertext bytes read */
	uint8_t			*buf;		/* small frames, kept */
	size_t			 bufsz;
	struct bigbuf		*bb;		/* large frames, pooled */
	uint8_t			*frame;		/* buf, or in bb */
	size_t			 hlguess;	/* last WRITE header length */
	size_t			 respoff;	/* in-place response in bb */

	/* the request at storage */
	uint32_t		 reqid;
	uint64_t		 method;
	uint32_t		 ranged;	/* READ of a range */

	/* what is being written */
	const uint8_t		*out;
	size_t			 outlen, outoff;
};

struct network {
	struct child_env	*env;
	TAILQ_HEAD(, listener)	 listeners;
	struct event		*ev_control;	/* worker 0: the control socket */
	struct event		*ev_pause;
	int			 paused;
	struct shared_counters	*shared;
	uint64_t		 conns_open;
	uint64_t		 conns_total;
	uint64_t		 conns_refused;
	uint64_t		 conns_dropped;
	uint64_t		 hs_ok;
	uint64_t		 hs_fail_auth;
	uint64_t		 hs_fail_rtt;
	uint64_t		 hs_fail_skew;
	uint64_t		 hs_fail_other;
	uint64_t		 hs_fail_timeout;
	uint64_t		 hs_fail_closed;
	uint64_t		 startups_open;
	uint64_t		 startups_full;
	uint64_t		 startups_source;
	uint64_t		 log_unlogged;
	uint64_t		 msgs_in;
	uint64_t		 msgs_out;
	uint64_t		 bytes_in;
	uint64_t		 bytes_out;
	uint64_t		 ctl_conns_total;
	uint64_t		 chunk_reads;
	uint64_t		 bytes_read;
	uint64_t		 range_reads;
	uint64_t		 corrupt_reads;
	uint64_t		 st_inflight[MAX_WORKERS];
};

extern struct network	 nenv;

/*
 * Calls go one way: network.c -> network_control.c -> network_accept.c,
 * network.c -> network_conn.c -> network_req.c -> network_buf.c,
 * network_conn.c -> network_buf.c, and network.c and network_conn.c
 * -> network_startup.c.
 */

/* network_accept.c: accepting on every socket, pausing when out of fds */
int	network_accept_fd(int, struct sockaddr_storage *, socklen_t *);
void	network_accept_resume(int, short, void *);

/* network_control.c: the control socket, served by network worker 0 */
void	control_init(struct child_env *);
void	control_dispatch_parent(struct imsgev *, struct imsg *);

/* network_conn.c: a client connection, from accept to close */
void	conn_accept(int, struct sockaddr_storage *, socklen_t);
void	conn_crypto_challenge(uint32_t, const struct hs_challenge *);
void	conn_crypto_ok(uint32_t, const struct hs_ok *);
void	conn_crypto_fail(uint32_t, const struct hs_fail *);
void	conn_storage_result(struct imsgev *, struct imsg *);

/* network_startup.c: limits and log lines before authentication */
void	startup_init(struct child_env *);
uint64_t elapsed_us(const struct timespec *);
struct conn *startup_admit(struct conn *, const struct sockaddr_storage *,
	    socklen_t, char *, size_t);
int	startup_session(struct conn *);
void	startup_end(struct conn *, enum startup_stat);
void	startup_leave(struct conn *);
int	startup_log(const struct conn *);

/* network_req.c: one request to storage and its answer back */
ssize_t	req_frame(struct conn *);
void	req_storage_done(uint32_t);
void	req_session_end(struct conn *);
ssize_t	req_result(struct conn *, const struct st_res *);

/* network_buf.c: where a connection's frames live */
size_t	buf_align_pad(size_t);
int	buf_big(struct conn *);
int	buf_frame_in(struct conn *, size_t);
int	buf_frame_out(struct conn *, size_t);
void	buf_release(struct conn *, int);
void	buf_free(struct conn *, int);

#endif /* DSRVD_NETWORK_H */
