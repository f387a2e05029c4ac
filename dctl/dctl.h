/*
 * What the files of dctl share: the client options of the command line
 * and the error exits.
 */
#ifndef DCTL_H
#define DCTL_H

#define DCTL_CONF	"/etc/dctl.conf"
#define EXIT_USAGE	2

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

/* net.c */
int	 cmd_keygen(int, char **);
int	 cmd_ping(int, char **);

#endif /* DCTL_H */
