/*
 * dsrvd internals shared by the parent and its children.
 */
#ifndef DSRVD_H
#define DSRVD_H

#include <sys/types.h>
#include <stdint.h>

#include <event2/event.h>

#include "conf.h"
#include "ctl.h"
#include "imsgev.h"
#include "wire.h"

/* The parent's end of the socketpair a child is exec'd with. */
#define PARENT_SOCK_FILENO	3

enum proc_role {
	PROC_PARENT,
	PROC_NETWORK,
	PROC_CRYPTO,
	PROC_STORAGE,
	PROC_MAX
};

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
	 * network -> storage, peer id = connection id: one request,
	 * struct st_req; WRITE, READ and LIST pass the connection's
	 * payload memfd (the chunk to store, the buffer to read or list
	 * into).
	 */
	IMSG_ST_WRITE,
	IMSG_ST_READ,
	IMSG_ST_LIST,
	IMSG_ST_STAT,
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
	uint32_t	 reqid;			/* echoed in st_res */
	int32_t		 method;		/* WIRE_M_* */
	char		 ns[NAMESPACE_MAX + 1];
	char		 name[WIRE_NAME_MAX + 1];	/* DIR/NAME or DIR */
	char		 after[WIRE_NAME_MAX + 1];	/* LIST: start after */
	uint64_t	 off;			/* payload offset in the memfd */
	uint64_t	 len;			/* WRITE: payload length */
	uint32_t	 crc;			/* WRITE: payload crc32 */
	uint32_t	 maxlen;		/* READ, LIST: room in the memfd */
};

struct st_res {
	uint32_t	 reqid;
	int32_t		 method;
	uint32_t	 error;			/* WIRE_E_* */
	char		 msg[256];
	uint64_t	 len;			/* READ, STAT, LIST: bytes */
	uint32_t	 crc;			/* READ, STAT, LIST: crc32 */
	uint64_t	 fs[4];			/* STATFS: total, free, avail, n */
};

struct st_seal {
	uint32_t	 id;			/* storage's, 0: start-up sweep */
	int32_t		 ok;			/* SEALED: 1 if sealed or n/a */
	uint64_t	 size;			/* SEAL: expected size */
	char		 name[NAMESPACE_MAX + 5 + WIRE_NAME_MAX + 1];
	char		 msg[256];		/* SEALED: why not */
};

/*
 * Counters every network worker shares, in a memfd the parent creates:
 * the connection limit is for the whole daemon, not per worker.
 */
struct shared_counters {
	uint32_t	 conns_open;
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

struct proc_init {
	int32_t		 role;
	int32_t		 instance;
	uid_t		 uid;
	gid_t		 gid;
	int32_t		 nnetwork;
	int32_t		 nstorage;
	int32_t		 debug;
	int32_t		 verbose;
	int32_t		 immutable;		/* storage: the fs has the flag */
	char		 chroot[PATH_MAX];
	char		 user[CONF_NAME_MAX + 1];
};

struct proc_peer {
	int32_t		 role;
	int32_t		 instance;
};

/*
 * What every child has after its start-up: its identity, the parent
 * channel and one channel per peer process it talks to.  The role fills
 * in the hooks; child.c runs the configuration series and the counters
 * request for all roles.
 */
struct child_env {
	struct event_base	*base;
	struct proc_init	 init;
	struct imsgev		 parent;
	struct imsgev		*crypto;		/* network only */
	struct imsgev		*network[MAX_WORKERS];	/* crypto, storage */
	struct imsgev		*storage[MAX_WORKERS];	/* network only */
	struct dsrvd_conf	*conf;			/* current */
	struct dsrvd_conf	*newconf;		/* being received */
	int			 ready;			/* READY sent */
	int			 shmfd;			/* network only */
	void			*role;			/* the role's state */

	/* a new configuration is in place; old is freed after the call */
	void	(*conf_apply)(struct child_env *, struct dsrvd_conf *old);
	/* the control socket (network 0, once) */
	void	(*control_fd)(struct child_env *, int);
	/* fill at most n counters, return how many */
	size_t	(*stats)(struct child_env *, struct ctl_counter *, size_t n);
	/* a peer's channel closed; iev is freed after the call */
	void	(*peer_gone)(struct child_env *, struct imsgev *);
};

/* dsrvd.c */
extern const char	*proc_names[PROC_MAX];
const char		*proc_label(enum proc_role, int, char *, size_t);

/* child.c: common start-up of every child, then its role's start */
__attribute__((__noreturn__)) void child_main(enum proc_role, int, int, int);
void	child_counter(struct ctl_counter *, size_t *, size_t, const char *,
	    uint64_t);

/* network.c, crypto.c, storage.c: set hooks and handlers */
void	network_start(struct child_env *);
void	crypto_start(struct child_env *);
void	storage_start(struct child_env *);

#endif /* DSRVD_H */
