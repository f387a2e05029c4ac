/*
 * What the files of dctl share: the client options of the command line
 * and the error exits.
 */
#ifndef DCTL_H
#define DCTL_H

#include <limits.h>
#include <stdint.h>
#include <stdio.h>

#include "conf.h"

#define DCTL_CONF	"/etc/dctl.conf"
#define EXIT_ERROR	1
#define EXIT_USAGE	2	/* command line or configuration */
#define EXIT_NOTFOUND	3	/* no such chunk or file */
#define EXIT_CORRUPT	4	/* corrupt chunk, failed verification */

/* -c, -r, -k, -K; NULL when not given.  -j and -q; 0 when not given. */
struct client_args {
	const char	*conffile;
	const char	*server;
	const char	*keyfile;
	const char	*keyname;
	int		 json;
	int		 quiet;
};
extern struct client_args	 cargs;

__attribute__((__noreturn__, __format__ (printf, 1, 2)))
void	 die(const char *, ...);
/* Like die(), with the exit status given. */
__attribute__((__noreturn__, __format__ (printf, 2, 3)))
void	 die_status(int, const char *, ...);
/* Like die(), with the usage exit status: the command line is wrong. */
__attribute__((__noreturn__, __format__ (printf, 1, 2)))
void	 die_usage(const char *, ...);

/* Where to connect and with which key, once the options are resolved. */
struct target {
	char		 host[256];
	char		 port[6];
	char		 keyname[KEY_NAME_MAX + 1];
	char		 keypath[PATH_MAX];
};

struct dsrv_client;

/* net.c */
int	 cmd_keygen(int, char **);
int	 cmd_ping(int, char **);
/* Server and key from -r, -k, -K and the client configuration. */
void	 resolve_target(struct target *);
/* Connected and authenticated, or exit 1 with the reason. */
struct dsrv_client *net_connect(const struct target *);

/* chunk.c */
int	 cmd_chunk(int, char **);
int	 cmd_df(int, char **);

/* file.c */
int	 cmd_abandoned(int, char **);
int	 cmd_get(int, char **);
int	 cmd_match(int, char **);
int	 cmd_put(int, char **);
int	 cmd_replicate(int, char **);
int	 cmd_netscrub(int, char **);
int	 cmd_stat(int, char **);
/* Strings for JSON output: quoted, escaped, invalid UTF-8 as \u00XX. */
void	 json_string(FILE *, const char *);

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

/*
 * progress.c: one line on standard error, redrawn at most a few times a
 * second, when it is a terminal and -q was not given.  Safe to update
 * from several threads.
 */
struct progress;
struct progress *progress_start(const char *label, uint64_t total);
void	 progress_set(struct progress *, uint64_t done);
void	 progress_add(struct progress *, uint64_t);
/* The final state and a newline; frees. */
void	 progress_end(struct progress *);
/* Clear the line, if one is drawn, before other output on stderr. */
void	 progress_clear(void);
/* "1.5G", powers of 1024. */
const char *human_size(uint64_t, char *, size_t);

#endif /* DCTL_H */
