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
 * The privsep core: who the processes are, who may talk to whom, and
 * what each may send.  Every role file (parent.c, network.c, crypto.c,
 * storage.c) starts with a table of the messages it takes, one entry
 * per peer and type; the core builds the channels from those tables
 * and refuses anything they do not list.  A channel exists between two
 * roles only if each lists the other; the parent talks to every child.
 */
#ifndef DSRVD_PROC_H
#define DSRVD_PROC_H

#include <sys/types.h>
#include <sys/resource.h>
#include <stdint.h>

#include <event2/event.h>

#include "conf.h"
#include "ctl.h"
#include "imsgev.h"

/* The parent's end of the socketpair a child is exec'd with. */
#define PARENT_SOCK_FILENO	3
/* The write end of the pipe a child names a forbidden call on. */
#define NOTE_FILENO		4

#define MAX_CHILDREN	(2 * MAX_WORKERS + 1)

enum proc_role {
	PROC_PARENT,
	PROC_NETWORK,
	PROC_CRYPTO,
	PROC_STORAGE,
	PROC_MAX
};

/* In the parent's table: a message every child may send. */
#define PROC_CHILDREN	PROC_MAX

/* How a message may carry a file descriptor. */
#define PROC_NOFD	0		/* never: one arriving is an error */
#define PROC_FD		1		/* always */

/* One message a role takes: from which peer, of which type. */
struct proc_msg {
	int		 peer;		/* enum proc_role, PROC_CHILDREN */
	uint32_t	 type;
	int		 fd;		/* PROC_NOFD, PROC_FD */
	imsgev_handler	 fn;
};

struct child_env;

/*
 * One system call a role may make (its libseccomp name), with at most
 * two arguments pinned.  A name the running architecture lacks is
 * skipped.  Several entries for one call allow any of them.
 */
#define SB_ANY		0	/* any arguments */
#define SB_EQ		1	/* argument arg is val */
#define SB_EQ2		2	/* ... and argument arg + 1 is val2 */
#define SB_NOBITS	3	/* argument arg has none of the bits of val */
#define SB_SELF		4	/* argument arg is the caller's own pid */

struct proc_syscall {
	const char	*name;
	int		 how;		/* SB_* */
	unsigned int	 arg;
	uint64_t	 val;
	uint64_t	 val2;
};

#define SYSCALL(n)		{ (n), SB_ANY, 0, 0, 0 }
#define SYSCALL_EQ(n, a, v)	{ (n), SB_EQ, (a), (v), 0 }
#define SYSCALL_EQ2(n, a, v, w)	{ (n), SB_EQ2, (a), (v), (w) }
#define SYSCALL_NOBITS(n, a, m)	{ (n), SB_NOBITS, (a), (m), 0 }
#define SYSCALL_SELF(n, a)	{ (n), SB_SELF, (a), 0, 0 }

/* A file hierarchy a role may reach, and how (LANDLOCK_ACCESS_FS_*). */
struct proc_fsrule {
	const char	*path;			/* in the chroot */
	uint64_t	 access;
};

/*
 * A child's sandbox, applied once it has dropped privileges and
 * started its role (proc_sandbox.c, sandbox.c): the system calls it
 * may make besides those every child makes (sandbox.c), anything else
 * killing it; the only file hierarchies it may reach (none: no file
 * system at all; TCP bind and connect are always denied); and its
 * limits.
 */
struct proc_sandbox {
	const struct proc_syscall *syscalls;
	size_t			 nsyscalls;
	const struct proc_fsrule *fsrules;
	size_t			 nfsrules;
	rlim_t			 nofile;	/* open files ... */
	rlim_t			 nofile_conn;	/* ... and per max connection */
	rlim_t			 nofile_startup; /* ... and per max startup */
	rlim_t			 fsize;		/* largest file it may grow */
};

/*
 * A role.  The messages it takes are the whole of its interface, and
 * its sandbox the whole of what it may do besides.
 */
struct proc_def {
	enum proc_role		 role;
	const char		*name;
	const struct proc_msg	*msgs;
	size_t			 nmsgs;
	/* children: set the role's hooks, before the first message */
	void			(*start)(struct child_env *);
	const struct proc_sandbox *sandbox;	/* children */
};

/* What the parent tells a child about itself, before it drops root. */
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
	int32_t		 maxconns;		/* max connections at start */
	int32_t		 maxstartups;		/* max startups at start */
	char		 chroot[PATH_MAX];
	char		 user[CONF_NAME_MAX + 1];
};

/* One peer channel offered to a child, with the socket. */
struct proc_peer {
	int32_t		 role;
	int32_t		 instance;
};

/*
 * What every child has after its start-up: its identity, the parent
 * channel and one channel per peer process it talks to.  The role's
 * start function fills in the hooks.
 */
struct child_env {
	struct event_base	*base;
	struct proc_init	 init;
	struct imsgev		 parent;
	struct imsgev		*crypto;		/* network, storage */
	struct imsgev		*network[MAX_WORKERS];	/* crypto, storage */
	struct imsgev		*storage[MAX_WORKERS];	/* network, crypto */
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
	/* a peer closed its channel (EOF); iev is freed after the call */
	void	(*peer_gone)(struct child_env *, struct imsgev *);
};

/* The parent's view of one child. */
struct proc_child {
	enum proc_role		 role;
	int			 instance;	/* -1: the only one */
	pid_t			 pid;
	int			 notefd;	/* read end of the note pipe */
	struct imsgev		 iev;
	int			 alive;		/* not yet reaped */
	int			 hello;		/* privileges dropped */
	int			 ready;		/* first config applied */
	char			 label[32];
};

extern struct proc_child	 proc_children[MAX_CHILDREN];
extern int			 proc_nchildren;

/* Both ends */
void		 proc_setup(const struct proc_def *const [PROC_MAX]);
const char	*proc_name(enum proc_role);
const char	*proc_label(enum proc_role, int, char *, size_t);
int		 proc_role_by_name(const char *);
int		 proc_talks(enum proc_role, enum proc_role);
void		 proc_listen(struct imsgev *, enum proc_role, int);
int		 proc_compose(enum proc_role, int, uint32_t, uint32_t, int,
		    const void *, size_t);
__attribute__((__noreturn__)) void proc_bad(struct imsgev *,
		    const struct imsg *, const char *);

/* The parent */
struct proc_child *proc_fork(const char *, enum proc_role, int, int, int,
		    imsgev_closecb, struct event_base *);
void		 proc_connect_peers(void);
struct proc_child *proc_child(enum proc_role, int);

/* A child */
__attribute__((__noreturn__)) void proc_child_main(enum proc_role, int, int,
		    int);
void		 proc_counter(struct ctl_counter *, size_t *, size_t,
		    const char *, uint64_t);

/* proc_sandbox.c: a child's privilege drop and its sandbox */
void		 proc_drop_privileges(const struct proc_init *, const char *);
void		 proc_sandbox(const struct proc_init *, const struct proc_def *);

/* proc_log.c: a child's log lines, written by the parent */
void		 proc_log_start(int);
void		 proc_log_attach(struct imsgev *);
void		 proc_log_dispatch(struct imsgev *, struct imsg *);
void		 proc_log_drain(struct proc_child *);
void		 proc_log_libevent(void);

#endif /* DSRVD_PROC_H */
