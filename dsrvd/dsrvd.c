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
 * dsrvd: main() and the table of roles.  Run by an operator, it becomes
 * the parent (parent.c); re-exec'd by the parent with -P role, it
 * becomes that child (proc.c, then the role's file).  -n only parses
 * the configuration.
 */
#include <sys/types.h>

#include <stdio.h>
#include <stdlib.h>
#include <syslog.h>
#include <unistd.h>

#include "dsrvd.h"
#include "log.h"
#include "parent.h"

/*
 * The roles, each defined at the top of its own file with the messages
 * it takes from each peer.
 */
static const struct proc_def *const procs[PROC_MAX] = {
	[PROC_PARENT] = &parent_proc,
	[PROC_NETWORK] = &network_proc,
	[PROC_CRYPTO] = &crypto_proc,
	[PROC_STORAGE] = &storage_proc,
};

__attribute__((__noreturn__)) static void usage(void);

static void
usage(void)
{
	fprintf(stderr, "usage: dsrvd [-dnv] [-D macro=value] [-f file] "
	    "[-p pidfile]\n");
	exit(1);
}

int
main(int argc, char *argv[])
{
	struct dsrvd_conf	*conf;
	const char		*errstr;
	char			*role = NULL;
	int			 ch, instance = -1, debug = 0, verbose = 0, r;
	int			 noaction = 0;

	penv.conffile = DSRVD_CONF;
	while ((ch = getopt(argc, argv, "dD:f:I:np:P:v")) != -1) {
		switch (ch) {
		case 'd':
			debug = 1;
			break;
		case 'D':
			if (cmdline_symset(optarg) < 0)
				errx_exit("could not parse macro definition "
				    "%s", optarg);
			break;
		case 'f':
			penv.conffile = optarg;
			break;
		case 'I':
			instance = strtonum(optarg, 0, MAX_WORKERS - 1,
			    &errstr);
			if (errstr != NULL)
				errx_exit("instance %s is %s", optarg, errstr);
			break;
		case 'n':
			noaction = 1;
			break;
		case 'p':
			penv.pidfile = optarg;
			break;
		case 'P':
			role = optarg;
			break;
		case 'v':
			verbose++;
			break;
		default:
			usage();
		}
	}
	argc -= optind;
	argv += optind;
	if (argc > 0)
		usage();

	proc_setup(procs);
	/*
	 * Whatever the caller left open without close-on-exec must not
	 * reach the children: only our own descriptors from here on.
	 */
	if (role != NULL) {
		closefrom(NOTE_FILENO + 1);
		if ((r = proc_role_by_name(role)) == -1)
			errx_exit("unknown process role %s", role);
		proc_child_main(r, instance, debug, verbose);
	}
	closefrom(STDERR_FILENO + 1);

	log_init(1, LOG_DAEMON);
	log_setverbose(verbose);
	log_procinit("parent");

	if (noaction) {
		conf = parse_config(penv.conffile, CONF_SERVER | CONF_OPTIONAL);
		if (conf == NULL)
			exit(1);
		if (verbose)
			print_config(stdout, conf);
		config_free(conf);
		printf("configuration OK\n");
		exit(0);
	}

	if (geteuid() != 0)
		errx_exit("need root privileges");

	penv.debug = debug;
	penv.verbose = verbose;
	penv.argv0 = argv[-optind];
	parent_run();
	/* NOTREACHED */
	return 1;
}
