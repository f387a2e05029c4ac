/*
 * What the files of dctl share: the client options of the command line
 * and the error exits.
 */
#ifndef DCTL_H
#define DCTL_H

#include <limits.h>

#include "conf.h"

#define DCTL_CONF	"/etc/dctl.conf"
#define EXIT_ERROR	1
#define EXIT_USAGE	2	/* command line or configuration */
#define EXIT_NOTFOUND	3	/* no such chunk */
#define EXIT_CORRUPT	4	/* corrupt chunk, failed verification */

/* -c, -r, -k, -K; NULL when not given. */
struct client_args {
	const char	*conffile;
	const char	*server;
	const char	*keyfile;
	const char	*keyname;
};
extern struct client_args	 cargs;

__attribute__((__noreturn__, __format__ (printf, 1, 2)))
void	 die(const char *, ...);
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

#endif /* DCTL_H */
