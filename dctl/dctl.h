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
 * What the files of dctl share.  Calls go one way, from the top down:
 *
 *   dctl.c       main, the option parsing and the command table
 *   control.c    status, reload, log, scrub --local: the control socket
 *   file.c       put, get, match, stat: one file at a time
 *   jobs.c       scrub, replicate: many chunks by workers
 *   abandoned.c  abandoned: chunks no metadata lists
 *   chunk.c      chunk put/get/ls/stat, df: single chunks
 *   filelist.c   the files that match a prefix, sorted
 *   net.c        server and key, connections and pools; ping, keygen
 *   serve.c      serve restic: a REST gateway (serve.h has its files)
 *   print.c      text and JSON output of names and metadata
 *   output.c     where fetched data goes
 *   util.c       the options, the error exits, the exit statuses
 *   progress.c   the progress line; calls nothing else in dctl
 */
#ifndef DCTL_H
#define DCTL_H

#include <sys/types.h>

#include <limits.h>
#include <stdint.h>
#include <stdio.h>

#include "conf.h"

#define DCTL_CONF	"/etc/dctl.conf"
#define EXIT_ERROR	1
#define EXIT_USAGE	2	/* command line or configuration */
#define EXIT_NOTFOUND	3	/* no such chunk or file */
#define EXIT_CORRUPT	4	/* corrupt chunk, failed verification */
/* Connections in a pool, and metadata chunks read at once by a match. */
#define POOL_CONNS	8
#define MATCH_PARALLEL	16
/* Not an exit status: a command returns it for main to show the usage. */
#define CMD_USAGE	(-1)

/* -c, -r, -k, -K, -s; NULL when not given.  -j and -q; 0 when not given. */
struct client_args {
	const char	*conffile;
	const char	*server;
	const char	*keyfile;
	const char	*keyname;
	const char	*sockpath;
	int		 json;
	int		 quiet;
};

/* Where to connect and with which key, once the options are resolved. */
struct target {
	char		 host[256];
	char		 port[6];
	char		 keyname[KEY_NAME_MAX + 1];
	char		 keypath[PATH_MAX];
};

struct dsrv_client;
struct dsrv_file_meta;
struct dsrv_pool;

/* control.c: the commands of the daemon's control socket */
int	 cmd_status(int, char **);
int	 cmd_reload(int, char **);
int	 cmd_log(int, char **);
int	 cmd_localscrub(int, char **);

/* file.c */
int	 cmd_get(int, char **);
int	 cmd_match(int, char **);
int	 cmd_put(int, char **);
int	 cmd_stat(int, char **);

/* abandoned.c */
int	 cmd_abandoned(int, char **);

/* jobs.c */
int	 cmd_netscrub(int, char **);
int	 cmd_replicate(int, char **);

/* serve.c */
int	 cmd_serve(int, char **);

/* chunk.c */
int	 cmd_chunk(int, char **);
int	 cmd_df(int, char **);

/* filelist.c: files that matched, deep copies of what dsrv_match gave */
struct files {
	struct dsrv_file_meta	**v;
	size_t			 n;
	size_t			 cap;
};
/*
 * Every file whose name starts with prefix, sorted by name, then
 * newest first.  Without err, exit on failure; with it, return the
 * code and keep the files that could be read.
 */
int	 files_match(struct dsrv_pool *, const char *prefix, struct files *,
	    char *err, size_t errlen);
void	 files_free(struct files *);

/* net.c */
int	 cmd_keygen(int, char **);
int	 cmd_ping(int, char **);
/* Server and key from -r, -k, -K and the client configuration. */
void	 resolve_target(struct target *);
/* Connected and authenticated, or exit 1 with the reason. */
struct dsrv_client *net_connect(const struct target *);
/* A pool of up to maxconns connections to t, or exit 1. */
struct dsrv_pool *pool_open(const struct target *, int maxconns);

/* print.c */
/* Strings for JSON output: quoted, escaped, invalid UTF-8 as \u00XX. */
void	 json_string(FILE *, const char *);
/* A file's metadata as one JSON line, with or without its chunks. */
void	 json_meta(FILE *, const struct dsrv_file_meta *, int chunks);
/* The metadata of one file, as dctl stat shows it (text or JSON). */
void	 print_meta(const struct dsrv_file_meta *);
/* One line of dctl match (text or JSON). */
void	 print_match(const struct dsrv_file_meta *);
/*
 * Text for a terminal line, escaped (vis(3)).  The result lives until
 * the next call but one, enough for two in one printf.
 */
const char *printable(const char *);

/* output.c: where fetched data goes */
struct outfile {
	const char	*path;
	char		 tmp[4096];
	int		 fd;
	int		 through;	/* stdout, or not a regular file */
	mode_t		 mode;
};
void	 out_open(struct outfile *, const char *path);	/* "-": stdout */
void	 out_commit(struct outfile *);
void	 out_abort(struct outfile *);

/* util.c */
extern struct client_args	 cargs;

__attribute__((__noreturn__, __format__ (printf, 1, 2)))
void	 die(const char *, ...);
/* Like die(), with the exit status given. */
__attribute__((__noreturn__, __format__ (printf, 2, 3)))
void	 die_status(int, const char *, ...);
/* Like die(), with the usage exit status: the command line is wrong. */
__attribute__((__noreturn__, __format__ (printf, 1, 2)))
void	 die_usage(const char *, ...);
/* The exit status for a library outcome: 0, a wire code, or -1. */
int	 exit_status(int);
/* die_status() with the exit status of code. */
__attribute__((__noreturn__))
void	 fail(int code, const char *err);
/* stdout flushed and without error, or exit 1. */
void	 flush_stdout(void);

/* Options a file command takes besides -j and -q. */
#define O_SHA256	0x01
#define O_READ		0x02
#define O_TO		0x04
#define O_DECLARE	0x08	/* put --crc32 and --length */
#define O_VERSION	0x10	/* get and stat --version N */
#define O_RANGE		0x20	/* get and chunk get --range OFF:LEN */

struct fargs {
	char		*arg[2];
	int		 nargs;
	int		 sha256;
	int		 read;
	const char	*to;
	const char	*crc32;
	const char	*length;
	const char	*version;
	const char	*range;
};
/*
 * The command's own arguments: -j, -q and those in allowed anywhere
 * among them, "--" ends options, "-" alone is an argument.
 */
void	 parse_fargs(int, char **, int allowed, int min, int max,
	    const char *usage, struct fargs *);
/* --range OFF:LEN, two decimal numbers, or exit with the usage. */
void	 parse_range(const char *, const char *usage, uint64_t *off,
	    uint64_t *len);

/*
 * progress.c: one line on standard error, redrawn at most a few times a
 * second, when it is a terminal and quiet is 0.  Safe to update from
 * several threads; NULL (no memory) is a progress that shows nothing.
 */
struct progress;
struct progress *progress_start(const char *label, uint64_t total, int quiet);
void	 progress_set(struct progress *, uint64_t done);
void	 progress_add(struct progress *, uint64_t);
/* The final state and a newline; frees. */
void	 progress_end(struct progress *);
/* Clear the line, if one is drawn, before other output on stderr. */
void	 progress_clear(void);
/* "1.5G", powers of 1024. */
const char *human_size(uint64_t, char *, size_t);

#endif /* DCTL_H */
