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
 * The messages dsrvd's processes exchange: their types, their payload
 * structs and one reader per struct (in msg.c).  Who may send which
 * type to whom is in the tables at the top of each role file.
 */
#ifndef DSRVD_H
#define DSRVD_H

#include <sys/types.h>
#include <stdint.h>

#include <event2/event.h>

#include "conf.h"
#include "ctl.h"
#include "imsgev.h"
#include "proc.h"
#include "wire.h"

/*
 * Messages between dsrvd processes (the control protocol's types in
 * ctl.h are below 200 and are forwarded between network and parent
 * with the control connection's id as peer id).
 */
enum dsrvd_imsg_type {
	/* parent -> child, before the privilege drop */
	IMSG_INIT = 200,		/* struct proc_init */
	IMSG_INIT_PEER,			/* struct proc_peer + socket fd */
	IMSG_INIT_SHM,			/* shared counters memfd, network */
	IMSG_INIT_END,

	/* parent -> child, a configuration series, at start and reload */
	IMSG_CONF_START,		/* struct dsrvd_conf, lists empty */
	IMSG_CONF_LISTEN,		/* struct listen_addr + socket fd */
	IMSG_CONF_CONTROL,		/* control socket fd, network 0 */
	IMSG_CONF_KEY,			/* struct conf_key, crypto only */
	IMSG_CONF_END,

	/* child -> parent */
	IMSG_CHILD_HELLO,		/* privileges dropped, send config */
	IMSG_CHILD_READY,		/* first configuration applied */
	IMSG_LOG,			/* struct log_line, to its NUL */

	/* parent <-> child: counters for dctl status */
	IMSG_STATS_REQ,			/* peer id: request id */
	IMSG_STATS,			/* struct ctl_counter[] */
	IMSG_STATS_END,

	/* parent -> children */
	IMSG_VERBOSE,			/* int */

	/* network <-> crypto: handshakes, peer id = connection id */
	IMSG_HS_HELLO,			/* struct hs_hello */
	IMSG_HS_CHALLENGE,		/* struct hs_challenge */
	IMSG_HS_FINISH,			/* struct hs_finish */
	IMSG_HS_OK,			/* struct hs_ok */
	IMSG_HS_FAIL,			/* struct hs_fail */
	IMSG_HS_ABORT,			/* connection gone, forget it */

	/*
	 * crypto -> every storage worker: what an accepted session may
	 * do, struct st_grant.  Each worker acknowledges it (struct
	 * st_sid) before crypto sends network HS_OK with the session id,
	 * so no request can overtake its grant.  SESSION_END (struct
	 * st_sid) comes from network when the session's connection ends,
	 * or from crypto for a handshake abandoned before HS_OK.
	 */
	IMSG_ST_GRANT,
	IMSG_ST_GRANT_ACK,		/* storage -> crypto */
	IMSG_ST_SESSION_END,

	/*
	 * network -> storage, peer id = connection id: one request,
	 * struct st_req; WRITE, READ and LIST pass the connection's
	 * payload memfd (the chunk to store, the buffer to read or list
	 * into).
	 */
	IMSG_ST_WRITE,
	IMSG_ST_READ,
	IMSG_ST_LIST,
	IMSG_ST_STAT,
	IMSG_ST_DIGEST,
	IMSG_ST_STATFS,
	/* storage -> network: struct st_res */
	IMSG_ST_RESULT,

	/* storage -> parent: a committed chunk's fd to make immutable */
	IMSG_ST_SEAL,			/* struct st_seal + fd */
	IMSG_ST_SEALED,			/* parent -> storage: struct st_seal */
	IMSG_ST_FLUSHFAIL,		/* NUL-terminated reason */
	IMSG_ST_READONLY,		/* parent -> storage: reason */
	IMSG_ST_SCRUB,			/* parent -> storage 0: ctl_scrub */
	IMSG_ST_SCRUB_RESULT,		/* storage 0 -> parent: ctl_result */
	/* storage -> parent: make a directory a write needs; and back */
	IMSG_ST_MKDIR,			/* struct st_mkdir */
	IMSG_ST_MKDIR_DONE,		/* struct st_mkdir, error set */
};

/*
 * A child's log line, which the parent writes for it (proc_log.c): the
 * priority, one of LOG_CRIT to LOG_DEBUG, then the text up to and
 * including its only NUL; the message ends there.
 */
#define LOG_LINE_MAX	1024

struct log_line {
	int32_t		 pri;
	char		 text[LOG_LINE_MAX];
};

/* Every chunk's crc32, 8 lowercase hex digits. */
#define CHUNK_XATTR	"user.dsrvd.crc32"

/*
 * Payloads in a passed memfd start at a multiple of CHUNK_ALIGN where
 * network can arrange it, and the memfd has CHUNK_ALIGN bytes of room
 * after them, so that storage can move them to and from the disk with
 * direct I/O (no page cache, no copy).  Storage checks, and uses
 * buffered I/O for anything else.
 */
#define CHUNK_ALIGN	4096

/* Where a request's payload lives in the passed memfd. */
struct st_req {
	uint64_t	 sid;			/* the session's, from HS_OK */
	uint32_t	 reqid;			/* echoed in st_res */
	int32_t		 method;		/* WIRE_M_* */
	char		 ns[NAMESPACE_MAX + 1];
	char		 name[WIRE_NAME_MAX + 1];	/* DIR/NAME or DIR */
	char		 after[WIRE_NAME_MAX + 1];	/* LIST: start after */
	uint64_t	 off;			/* payload offset in the memfd */
	uint64_t	 len;			/* WRITE: payload length */
	uint32_t	 crc;			/* WRITE: payload crc32 */
	uint32_t	 maxlen;		/* READ, LIST: room in the memfd */
	/*
	 * READ of a range: only bytes [roff, roff + rlen) of the chunk,
	 * cut at its end, go back, after the whole chunk was checked.
	 */
	uint32_t	 ranged;		/* 0 or 1 */
	uint64_t	 roff;
	uint64_t	 rlen;
};

struct st_res {
	uint32_t	 reqid;
	int32_t		 method;
	uint32_t	 error;			/* WIRE_E_* */
	char		 msg[256];
	uint64_t	 len;			/* READ, STAT, LIST: bytes */
	uint32_t	 crc;			/* READ, STAT, LIST: crc32 */
	uint64_t	 fs[4];			/* STATFS: total, free, avail, n */
	uint8_t		 sha256[32];		/* DIGEST */
};

/* A session's grant: storage serves requests only within one. */
struct st_grant {
	uint64_t	 sid;			/* random, never 0 */
	int32_t		 net;			/* network instance */
	uint32_t	 perms;			/* KEY_PERM_* */
	char		 keyname[KEY_NAME_MAX + 1];
	char		 ns[NAMESPACE_MAX + 1];	/* "" = none */
};

struct st_sid {
	uint64_t	 sid;
};

struct st_seal {
	uint32_t	 id;			/* storage's, 0: start-up sweep */
	int32_t		 ok;			/* SEALED: 1 if sealed or n/a */
	uint64_t	 size;			/* SEAL: expected size */
	char		 name[NAMESPACE_MAX + 5 + WIRE_NAME_MAX + 1];
	char		 msg[256];		/* SEALED: why not */
};

/* A directory a write needs, which only the parent makes. */
struct st_mkdir {
	char		 ns[NAMESPACE_MAX + 1];	/* "": none */
	char		 dir[WIRE_NAME_MAX + 1];
	uint32_t	 error;			/* DONE: WIRE_E_*, 0: made */
	char		 msg[256];		/* DONE: why not */
};

/*
 * What became of a connection before authentication (a startup), for
 * the counters and the summary line of network_startup.c.  SU_CONNS
 * counts connections, SU_UNLOGGED the log lines left out.
 */
enum startup_stat {
	SU_CONNS,
	SU_AUTH,			/* wrong key or unknown key name */
	SU_RTT,				/* over max rtt */
	SU_SKEW,			/* over max skew */
	SU_PROTO,			/* malformed */
	SU_TIMEOUT,			/* timeout handshake */
	SU_CLOSED,			/* the client left */
	SU_BUSY,			/* refused: max connections, busy */
	SU_FULL,			/* dropped for max startups */
	SU_SOURCE,			/* ... for max startups per source */
	SU_UNLOGGED,
	SU_NSTATS
};

/* Per-source startup counters: a power of two. */
#define STARTUP_BUCKETS	4096

/*
 * Counters every network worker shares, in a memfd the parent creates
 * (zero-filled): the connection limits are for the whole daemon, not
 * per worker.  Only atomic operations touch them.
 */
struct shared_counters {
	uint32_t	 sessions;		/* authenticated connections */
	uint32_t	 startups;		/* the others */
	uint64_t	 hashkey[2];		/* of sources, 0: not yet set */
	uint64_t	 logtat;		/* log rate limit, ms */
	uint64_t	 interval[SU_NSTATS];	/* since the summary line */
	uint32_t	 source[STARTUP_BUCKETS]; /* startups per source */
};

struct hs_hello {
	uint8_t		 hello[WIRE_HELLO_LEN];
	char		 peer[128];		/* for crypto's log lines */
};

struct hs_challenge {
	uint8_t		 challenge[WIRE_CHALLENGE_LEN];
};

struct hs_finish {
	uint8_t		 finish[WIRE_FINISH_LEN];
};

struct hs_ok {
	uint64_t	 sid;			/* granted to every storage */
	uint8_t		 sproof[WIRE_PROOF_LEN];
	struct wire_keys keys;
	uint32_t	 perms;
	char		 keyname[KEY_NAME_MAX + 1];
	char		 ns[NAMESPACE_MAX + 1];
};

struct hs_fail {
	int32_t		 code;			/* WIRE_HS_* */
	int32_t		 unknown;		/* key name not configured */
	char		 keyname[KEY_NAME_MAX + 1];
};

/*
 * Readers of the payloads above: each copies a message of exactly its
 * struct's size and terminates every string member, or returns -1.
 * msg_bad() ends the process over a message that failed its reader.
 */
const char	*imsg_name(uint32_t);
__attribute__((__noreturn__)) void msg_bad(struct imsgev *,
		    const struct imsg *, const char *);
int	st_req_get(const struct imsg *, struct st_req *);
int	st_res_get(const struct imsg *, struct st_res *);
int	st_seal_get(const struct imsg *, struct st_seal *);
int	st_mkdir_get(const struct imsg *, struct st_mkdir *);
int	st_grant_get(const struct imsg *, struct st_grant *);
int	st_sid_get(const struct imsg *, struct st_sid *);
int	hs_hello_get(const struct imsg *, struct hs_hello *);
int	hs_challenge_get(const struct imsg *, struct hs_challenge *);
int	hs_finish_get(const struct imsg *, struct hs_finish *);
int	hs_ok_get(struct imsg *, struct hs_ok *);
int	hs_fail_get(const struct imsg *, struct hs_fail *);
int	proc_init_get(const struct imsg *, struct proc_init *);
int	proc_peer_get(const struct imsg *, struct proc_peer *);
int	dsrvd_conf_get(const struct imsg *, struct dsrvd_conf *);
int	listen_addr_get(const struct imsg *, struct listen_addr *);
int	conf_key_get(struct imsg *, struct conf_key *);
int	msg_string_get(const struct imsg *, char *, size_t);
int	log_line_get(const struct imsg *, struct log_line *);

/* The roles, each in its own file. */
extern const struct proc_def	 parent_proc;
extern const struct proc_def	 network_proc;
extern const struct proc_def	 crypto_proc;
extern const struct proc_def	 storage_proc;

/* config.c: the configuration series, the parent's end and the child's */
void	config_send(struct proc_child *, struct dsrvd_conf *, int, int);
void	config_dispatch_start(struct imsgev *, struct imsg *);
void	config_dispatch_listen(struct imsgev *, struct imsg *);
void	config_dispatch_control(struct imsgev *, struct imsg *);
void	config_dispatch_key(struct imsgev *, struct imsg *);
void	config_dispatch_end(struct imsgev *, struct imsg *);

#endif /* DSRVD_H */
