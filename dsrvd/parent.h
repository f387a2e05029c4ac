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
 * The parent's state: the running configuration, the sockets it
 * opened, and the status requests it is collecting.  Its children are
 * proc.c's (proc_children); the seal state is parent_seal.c's.
 */
#ifndef DSRVD_PARENT_H
#define DSRVD_PARENT_H

#include <sys/queue.h>
#include <sys/stat.h>
#include <stdarg.h>
#include <time.h>

#include "dsrvd.h"

#define STATUS_TIMEOUT	3	/* seconds to wait for children's counters */

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
	unsigned int		 maxconns;	/* children's limits sized for */
	unsigned int		 maxstartups;
	const char		*pidfile;
	const char		*argv0;
	int			 debug;
	int			 verbose;
	int			 started;	/* start-up succeeded */
	int			 terminating;
	struct timespec		 start;		/* CLOCK_MONOTONIC */
	int			 csock;		/* control socket */
	uid_t			 uid, suid, cuid; /* network, storage, crypto */
	gid_t			 gid, sgid, cgid;
	int			 nready;
	TAILQ_HEAD(, status_req) status_reqs;
	uint32_t		 next_reqid;
	uint64_t		 reloads_ok;
	uint64_t		 reloads_failed;
	struct event		*ev_sigterm, *ev_sigint, *ev_sighup;
	struct event		*ev_sigchld;
};

extern struct parent	 penv;

/* parent.c */
__attribute__((__noreturn__)) void parent_run(void);
__attribute__((__noreturn__)) void errx_exit(const char *, ...)
	    __attribute__((__format__ (printf, 1, 2)));

/* parent_conf.c: the configuration's sockets, reloads, key wiping */
int	parent_open_listens(struct dsrvd_conf *, struct dsrvd_conf *, char *,
	    size_t);
void	parent_wipe_keys(struct dsrvd_conf *);
int	parent_reload(char *, size_t);

/* parent_status.c: dctl status, collected from every child */
void	parent_from_control(struct imsgev *, struct imsg *, const char *);
void	parent_dispatch_ctl_status(struct imsgev *, struct imsg *);
void	parent_dispatch_stats(struct imsgev *, struct imsg *);
void	parent_dispatch_stats_end(struct imsgev *, struct imsg *);

/* parent_seal.c: the parent's part in storage */
void	seal_status(struct ctl_status_info *, uint64_t *, uint64_t *);
void	seal_dispatch_seal(struct imsgev *, struct imsg *);
void	seal_dispatch_flushfail(struct imsgev *, struct imsg *);

/* parent_store.c: the store's directories, which only the parent makes */
int	store_open(const struct dsrvd_conf *, uid_t, gid_t, char *, size_t);
int	store_protected(char *, size_t);
int	store_chunk_at(const char *, const struct stat *, char *, size_t);
void	store_dispatch_mkdir(struct imsgev *, struct imsg *);

/* sockets.c: what the parent opens for the children */
int	listen_open(struct listen_addr *, char *, size_t);
int	control_open(const char *, char *, size_t);
int	check_datadir(const struct dsrvd_conf *, uid_t, char *, size_t);
int	check_chroot(const char *, char *, size_t);
int	lookup_user(const char *, uid_t *, gid_t *, char *, size_t);

#endif /* DSRVD_PARENT_H */
