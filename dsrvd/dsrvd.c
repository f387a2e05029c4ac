/*
 * dsrvd: the parent process.  It runs as root, reads the configuration,
 * opens what the children cannot open themselves (listening sockets, the
 * control socket, key files), forks and execs the children, relays
 * reloads and status requests, and takes the whole daemon down when any
 * child is lost.  It does no network I/O and never touches chunk data.
 */
#include <sys/types.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <netinet/in.h>
#include <arpa/inet.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include "dsrvd.h"
#include "log.h"
#include "parent.h"

const char *proc_names[PROC_MAX] = {
	[PROC_PARENT] = "parent",
	[PROC_NETWORK] = "network",
	[PROC_CRYPTO] = "crypto",
	[PROC_STORAGE] = "storage",
};

__attribute__((__noreturn__)) static void usage(void);

struct parent	 penv;

static void
usage(void)
{
	fprintf(stderr, "usage: dsrvd [-dnv] [-D macro=value] [-f file] "
	    "[-p pidfile]\n");
	exit(1);
}

const char *
proc_label(enum proc_role role, int instance, char *buf, size_t len)
{
	if (instance < 0)
		(void)snprintf(buf, len, "%s", proc_names[role]);
	else
		(void)snprintf(buf, len, "%s[%d]", proc_names[role],
		    instance);
	return buf;
}

static enum proc_role
role_from_name(const char *name)
{
	int	 i;

	for (i = PROC_NETWORK; i < PROC_MAX; i++)
		if (strcmp(name, proc_names[i]) == 0)
			return i;
	errx_exit("unknown process role %s", name);
}

int
main(int argc, char *argv[])
{
	struct dsrvd_conf	*conf;
	const char		*errstr;
	char			*role = NULL;
	int			 ch, instance = -1, debug = 0, verbose = 0;
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

	/*
	 * Whatever the caller left open without close-on-exec must not
	 * reach the children: only our own descriptors from here on.
	 */
	if (role != NULL) {
		closefrom(PARENT_SOCK_FILENO + 1);
		child_main(role_from_name(role), instance, debug, verbose);
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

__attribute__((__noreturn__)) void
errx_exit(const char *fmt, ...)
{
	va_list	 ap;
	char	 buf[1024];

	va_start(ap, fmt);
	(void)vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	if (penv.started)
		log_warnx("%s", buf);
	else
		fprintf(stderr, "dsrvd: %s\n", buf);
	exit(1);
}
