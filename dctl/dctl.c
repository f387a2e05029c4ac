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
 * dctl: control tool for dsrvd.  This file is main: the global options,
 * the command table and the usage.  The local commands (control.c)
 * talk imsg over the daemon's control socket; the network commands
 * (file.c, jobs.c, chunk.c, net.c) speak the wire protocol to a server
 * named on the command line or in /etc/dctl.conf.  See dctl.h for the
 * files and the direction of calls between them.
 */
#include <sys/types.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "dctl.h"

struct cmd {
	const char	*name;
	int		 minargs, maxargs;
	int		 (*fn)(int, char **);
	const char	*usage;
};

static int	 cmd_scrub(int, char **);
__attribute__((__noreturn__)) static void usage(void);

static const struct cmd cmds[] = {
	{ "abandoned",	0, 8, cmd_abandoned,	"abandoned" },
	{ "chunk",	2, 5, cmd_chunk,	"chunk get [--range off:len] "
	    "DIR/NAME [file]\n"
	    "\tchunk ls DIR\n\tchunk put DIR/NAME file\n"
	    "\tchunk stat DIR/NAME" },
	{ "df",		0, 2, cmd_df,		"df [-j]" },
	{ "get",	1, 8, cmd_get,		"get [--sha256] [--version N] "
	    "[--range OFF:LEN] NAME [FILE | -]" },
	{ "keygen",	1, 1, cmd_keygen,	"keygen file" },
	{ "log",	1, 1, cmd_log,		"log verbose | brief" },
	{ "match",	0, 8, cmd_match,	"match [PREFIX]" },
	{ "ping",	0, 0, cmd_ping,		"ping" },
	{ "put",	1, 8, cmd_put,		"put [--crc32 hex] "
	    "[--length bytes] FILE [NAME]\n\tput [--crc32 hex] "
	    "[--length bytes] - NAME" },
	{ "reload",	0, 0, cmd_reload,	"reload" },
	{ "replicate",	2, 8, cmd_replicate,	"replicate --to SERVER "
	    "[PREFIX]" },
	{ "scrub",	0, 8, cmd_scrub,	"scrub [--read] [PREFIX]\n"
	    "\tscrub --local [-w] [--rate size]" },
	{ "serve",	1, 9, cmd_serve,	"serve restic [-v] [-l address:port] "
	    "[--prefix prefix]\n\t      [--htpasswd file]" },
	{ "stat",	1, 8, cmd_stat,		"stat [--version N] NAME" },
	{ "status",	0, 0, cmd_status,	"status" },
};

static void
usage(void)
{
	size_t	 i;

	fprintf(stderr, "usage: dctl [-jq] [-c file] [-K keyname] "
	    "[-k keyfile] [-r server]\n"
	    "            [-s socket] command [argument ...]\n");
	fprintf(stderr, "commands:\n");
	for (i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++)
		fprintf(stderr, "\t%s\n", cmds[i].usage);
	exit(EXIT_USAGE);
}

/* scrub --local asks the daemon here; scrub alone checks over the network. */
static int
cmd_scrub(int argc, char **argv)
{
	int	 i;

	for (i = 0; i < argc; i++)
		if (strcmp(argv[i], "--local") == 0)
			return (cmd_localscrub(argc, argv));
	return (cmd_netscrub(argc, argv));
}

int
main(int argc, char *argv[])
{
	size_t	 i;
	int	 ch, rc;

	/* "+": options after the command are the command's own. */
	while ((ch = getopt(argc, argv, "+c:jK:k:qr:s:")) != -1) {
		switch (ch) {
		case 'j':
			cargs.json = 1;
			break;
		case 'q':
			cargs.quiet = 1;
			break;
		case 'c':
			cargs.conffile = optarg;
			break;
		case 'K':
			cargs.keyname = optarg;
			break;
		case 'k':
			cargs.keyfile = optarg;
			break;
		case 'r':
			cargs.server = optarg;
			break;
		case 's':
			cargs.sockpath = optarg;
			break;
		default:
			usage();
		}
	}
	argc -= optind;
	argv += optind;
	if (argc < 1)
		usage();
	for (i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++) {
		if (strcmp(argv[0], cmds[i].name) != 0)
			continue;
		if (argc - 1 < cmds[i].minargs || argc - 1 > cmds[i].maxargs)
			usage();
		if ((rc = cmds[i].fn(argc - 1, argv + 1)) == CMD_USAGE)
			usage();
		return (rc);
	}
	fprintf(stderr, "dctl: unknown command %s\n", argv[0]);
	usage();
}
