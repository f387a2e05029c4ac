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
 * The control socket protocol between dctl and dsrvd: imsg frames on a
 * UNIX socket.  dctl sends one request; the daemon answers with a series
 * of messages ended by IMSG_CTL_END, or with one IMSG_CTL_RESULT.
 */
#ifndef DSRV_CTL_H
#define DSRV_CTL_H

#include <stddef.h>
#include <stdint.h>

#define DSRVD_VERSION		"0.1.0"

#define CTL_NAME_MAX		48
#define CTL_MSG_MAX		256
#define CTL_MAX_CLIENTS		16

enum ctl_imsg_type {
	/* requests, dctl -> daemon */
	IMSG_CTL_STATUS = 1,
	IMSG_CTL_RELOAD,
	IMSG_CTL_LOG_VERBOSE,		/* int verbosity */
	IMSG_CTL_SCRUB,			/* struct ctl_scrub */

	/* replies, daemon -> dctl */
	IMSG_CTL_RESULT = 100,		/* struct ctl_result */
	IMSG_CTL_STATUS_INFO,		/* struct ctl_status_info */
	IMSG_CTL_STATUS_LISTEN,		/* NUL-terminated text */
	IMSG_CTL_STATUS_PROC,		/* struct ctl_proc */
	IMSG_CTL_STATUS_COUNTER,	/* struct ctl_counter */
	IMSG_CTL_END,
};

struct ctl_result {
	int32_t		 code;		/* 0 ok, else an errno-like value */
	char		 msg[CTL_MSG_MAX];
};

struct ctl_status_info {
	char		 version[16];
	int64_t		 uptime;	/* seconds */
	int32_t		 conf_missing;	/* running on built-in defaults */
	int32_t		 verbose;
	char		 conffile[4096];
	char		 datadir[4096];
	int32_t		 readonly;	/* the store refuses writes */
	int32_t		 immutable;	/* chunks get FS_IMMUTABLE_FL */
	char		 storage_msg[CTL_MSG_MAX]; /* why read-only */
};

/* Start a scrub of every stored chunk by the storage process. */
struct ctl_scrub {
	uint64_t	 rate;		/* bytes per second, 0: default */
};
#define CTL_SCRUB_RATE_DEFAULT	(64ULL * 1024 * 1024)

struct ctl_proc {
	char		 role[16];
	int32_t		 instance;	/* -1 for a single process */
	int32_t		 pid;
};

struct ctl_counter {
	char		 name[CTL_NAME_MAX];
	uint64_t	 value;
};

/*
 * Readers of the structs above (lib/ctl.c): each takes a message of
 * exactly its struct's size and terminates every string member, or
 * returns -1.  ctl_counters_get() takes an array of 1 to max counters.
 */
struct imsg;
int	ctl_result_get(const struct imsg *, struct ctl_result *);
int	ctl_status_info_get(const struct imsg *, struct ctl_status_info *);
int	ctl_scrub_get(const struct imsg *, struct ctl_scrub *);
int	ctl_proc_get(const struct imsg *, struct ctl_proc *);
int	ctl_counter_get(const struct imsg *, struct ctl_counter *);
int	ctl_counters_get(const struct imsg *, struct ctl_counter *, size_t,
	    size_t *);

#endif /* DSRV_CTL_H */
