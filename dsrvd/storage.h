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
 * The storage process's state and what its files share.  storage.c is
 * the role: it starts the process, owns the one struct storage and
 * hands each request to a job (storage_write.c, storage_read.c) or a
 * walk (storage_scan.c); the jobs use the on-disk layout in
 * storage_chunk.c.  Which session may ask for what is
 * storage_grant.c's, which storage.c asks before any job runs.  Calls
 * go down that list only: every job gets the state as its first
 * argument and fills in the st_res the dispatcher sends, so nothing
 * below storage.c calls back into it.
 */
#ifndef STORAGE_H
#define STORAGE_H

#include <sys/types.h>
#include <sys/queue.h>
#include <sys/stat.h>

#include <dirent.h>
#include <limits.h>
#include <stdint.h>

#include "dsrvd.h"

#define ST_ALIGN	4096
#define ST_BUFSZ	(CHUNK_MAX + 2 * ST_ALIGN)

/*
 * A walk over directory entries, one entry per st_scan_next(), so that
 * the scrub can stop after any chunk and go on from there later.
 */
#define SCAN_CHUNKS	0x01	/* only chunks, else all but . and .. */
#define SCAN_NEST	0x02	/* the entries of the start's chunk dirs */
#define SCAN_NS		0x04	/* and of every namespace's (start: root) */
#define SCAN_DIRS	0x08	/* with NEST: the chunk dirs themselves */

struct st_scan {
	int		 flags;
	DIR		*ns;		/* .ns: namespaces still to walk */
	DIR		*base;		/* NEST: the chunk dirs of a base */
	DIR		*dir;		/* the dir whose entries come next */
	int		 err;		/* errno of the first failed read */
	size_t		 plen;		/* path's prefix: "" or ".ns/NS/" */
	char		 path[PATH_MAX];	/* dir, from the start */
};

/* A committed chunk whose answer waits for the parent's seal. */
struct pending {
	TAILQ_ENTRY(pending)	 entry;
	uint32_t		 id;
	struct imsgev		*net;
	uint32_t		 connid;
	struct st_res		 res;
};

/* A write whose directory the parent is making. */
struct waitdir {
	TAILQ_ENTRY(waitdir)	 entry;
	struct imsgev		*net;		/* NULL: gone */
	uint32_t		 connid;
	struct st_req		 req;
	char			 keyname[KEY_NAME_MAX + 1]; /* grant's */
	int			 fd;		/* the payload memfd */
};

struct scrub {
	int			 running;
	uint64_t		 rate;		/* bytes per second */
	size_t			 ndirs;		/* at the start, for the log */
	struct st_scan		 scan;		/* where the next step starts */
	struct event		*ev;
	uint64_t		 chunks, corrupt; /* this run */
};

struct storage {
	struct child_env	*env;
	int			 instance;
	int			 root;		/* the data directory */
	int			 tmp;		/* .tmp */
	int			 nextfd;	/* made ahead in .tmp, or -1 */
	char			 nextname[32];
	uint8_t			*buf;		/* aligned, reused */
	struct event		*idle;		/* gives buf's pages back */
	int			 direct;	/* O_DIRECT: -1 untried */
	uint64_t		 seq;
	uint32_t		 next_seal;
	int			 readonly;
	char			 rowhy[CTL_MSG_MAX];
	uint64_t		 reserve;
	char			 keyname[KEY_NAME_MAX + 1]; /* request's */
	TAILQ_HEAD(, pending)	 pending;
	TAILQ_HEAD(, waitdir)	 waitdir;
	struct scrub		 scrub;

	uint64_t		 chunks_written;
	uint64_t		 bytes_written;
	uint64_t		 identical;
	uint64_t		 verify_failures;
	uint64_t		 exists;
	uint64_t		 write_errors;
	uint64_t		 flush_failures;
	uint64_t		 stats;
	uint64_t		 lists;
	uint64_t		 scrub_runs;
	uint64_t		 scrub_chunks;
	uint64_t		 scrub_bytes;
	uint64_t		 scrub_corrupt;
};

/* storage_chunk.c: layout, temporaries, crc32 xattr, reading chunks */
void		 st_fail(struct st_res *, uint32_t, const char *, ...)
		    __attribute__((__format__(__printf__, 3, 4)));
void		 st_fail_errno(struct st_res *, int, const char *);
int		 st_base(struct storage *, const char *);
int		 st_open_dir(struct storage *, const struct st_req *, int,
		    const char **, struct st_res *);
int		 st_open_chunk(struct storage *, const struct st_req *,
		    struct stat *, struct st_res *);
const char	*st_path(const char *, const char *, char *, size_t);
void		 st_tmp_ahead(struct storage *);
int		 st_tmp_take(struct storage *, char *, size_t);
uint8_t		*st_map(int, uint64_t, uint64_t, int, void **, size_t *);
void		 st_nodirect(struct storage *);
ssize_t		 st_fill(struct storage *, int, uint8_t *, size_t, int);
ssize_t		 st_readback(struct storage *, int);
int		 st_getcrc(int, uint32_t *);
int		 st_setcrc(int, uint32_t);

/* storage_scan.c: the iterator, and the walks that are not requests */
int		 st_scan_open(struct st_scan *, int, int);
struct dirent	*st_scan_next(struct st_scan *);
void		 st_scan_close(struct st_scan *);
void		 st_cleanup_tmp(struct storage *);
void		 st_sweep(struct storage *);
size_t		 st_scrub_open(struct storage *);
void		 st_scrub_step(int, short, void *);

/* storage_grant.c: the sessions crypto granted */
struct grant;
void		 st_grant_init(struct child_env *);
void		 st_grant_dispatch_add(struct imsgev *, struct imsg *);
void		 st_grant_dispatch_end(struct imsgev *, struct imsg *);
void		 st_grant_net_gone(int);
const struct grant *st_grant_check(int, const struct st_req *,
		    const char **);
const char	*st_grant_keyname(const struct grant *);
void		 st_grant_counts(uint64_t *, uint64_t *);

/* storage_write.c */
int		 st_write(struct storage *, struct imsgev *, uint32_t,
		    const struct st_req *, int, struct st_res *);

/* storage_read.c */
void		 st_read(struct storage *, const struct st_req *, int,
		    struct st_res *);
void		 st_list(struct storage *, const struct st_req *, int,
		    struct st_res *);
void		 st_stat(struct storage *, const struct st_req *,
		    struct st_res *);
void		 st_statfs(struct storage *, const struct st_req *,
		    struct st_res *);

#endif /* STORAGE_H */
