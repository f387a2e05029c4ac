/*
 * The parent's state: one entry per child, the running configuration,
 * the sockets it opened, and the status requests it is collecting.
 */
#ifndef DSRVD_PARENT_H
#define DSRVD_PARENT_H

#include <sys/queue.h>
#include <stdarg.h>
#include <time.h>

#include "dsrvd.h"

#define MAX_CHILDREN	(2 * MAX_WORKERS + 1)
#define STATUS_TIMEOUT	3	/* seconds to wait for children's counters */

struct child {
	enum proc_role		 role;
	int			 instance;
	pid_t			 pid;
	struct imsgev		 iev;
	int			 alive;		/* not yet reaped */
	int			 hello;		/* privileges dropped */
	int			 ready;		/* first config applied */
	char			 label[32];
};

struct status_req {
	TAILQ_ENTRY(status_req)	 entry;
	uint32_t		 id;
	uint32_t		 connid;	/* control conn in network 0 */
	int			 pending;	/* children yet to answer */
	struct event		*timeout;
	struct ctl_counter	*counters;
	size_t			 ncounters;
};

struct parent {
	struct event_base	*base;
	struct dsrvd_conf	*conf;
	const char		*conffile;
	int			 conf_missing;
	const char		*pidfile;
	const char		*argv0;
	int			 debug;
	int			 verbose;
	int			 started;	/* start-up succeeded */
	int			 terminating;
	struct timespec		 start;		/* CLOCK_MONOTONIC */
	int			 csock;		/* control socket */
	uid_t			 uid, suid;	/* network/crypto, storage */
	gid_t			 gid, sgid;
	struct child		 children[MAX_CHILDREN];
	int			 nchildren;
	int			 nready;
	TAILQ_HEAD(, status_req) status_reqs;
	uint32_t		 next_reqid;
	uint64_t		 reloads_ok;
	uint64_t		 reloads_failed;

	/* storage: see storage_probe() and seal.c */
	int			 immutable;	/* the fs takes the flag */
	char			 immutable_why[CTL_MSG_MAX];
	int			 readonly;
	char			 storage_msg[CTL_MSG_MAX];
	int			 flush_row;	/* failures in a row */
	uint64_t		 chunks_sealed;
	uint64_t		 seal_failures;
	struct event		*ev_sigterm, *ev_sigint, *ev_sighup;
	struct event		*ev_sigchld;
};

extern struct parent	 penv;

/* dsrvd.c */
__attribute__((__noreturn__)) void errx_exit(const char *, ...)
	    __attribute__((__format__ (printf, 1, 2)));

/* parent.c */
__attribute__((__noreturn__)) void parent_run(void);
void	child_compose(struct child *, uint32_t, uint32_t, int, const void *,
	    size_t);
struct child *network0(void);
void	parent_ctl_result(uint32_t, int, const char *, ...)
	    __attribute__((__format__ (printf, 3, 4)));

/* seal.c: the parent's part in storage */
#define FLUSH_FAIL_MAX	3	/* in a row, then read-only */
int	storage_probe(const struct dsrvd_conf *, char *, size_t);
void	parent_dispatch_seal(struct imsgev *, struct imsg *);
void	parent_dispatch_flushfail(struct imsgev *, struct imsg *);
void	parent_dispatch_ctl_scrub(struct imsgev *, struct imsg *);
void	parent_dispatch_scrub_result(struct imsgev *, struct imsg *);

/* sockets.c: what the parent opens for the children */
int	listen_open(struct listen_addr *, char *, size_t);
int	control_open(const char *, char *, size_t);
int	check_datadir(const struct dsrvd_conf *, uid_t, gid_t, char *, size_t);
int	check_chroot(const char *, char *, size_t);
int	lookup_user(const char *, uid_t *, gid_t *, char *, size_t);

#endif /* DSRVD_PARENT_H */
