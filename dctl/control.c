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
 * dctl's commands for the daemon on this host: status, reload, log and
 * scrub --local, as imsg requests over the control socket (lib/ctl.h),
 * each answered by an IMSG_CTL_RESULT or a listing ended by
 * IMSG_CTL_END.  dctl.c calls these; they call only util.c.
 */
#include <sys/types.h>
#include <sys/socket.h>
#include <sys/un.h>

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ctl.h"
#include "dctl.h"
#include "imsg.h"
#include "util.h"

#define SCRUB_POLL_MS	200

/* The status counters a scrub with -w watches. */
struct scrub_counters {
	uint64_t	 runs;
	uint64_t	 running;
	uint64_t	 chunks;
	uint64_t	 corrupt;
};

static void	 ctl_connect(void);
static void	 ctl_send(uint32_t, const void *, size_t);
static void	 ctl_next(struct imsg *);
static void	 bad_message(const struct imsg *) __attribute__((__noreturn__));
static uint32_t	 ctl_reply(struct imsg *, struct ctl_result *);
static void	 ctl_want_result(struct ctl_result *);
static int	 ctl_result(const char *, const char *);
static void	 fmt_uptime(int64_t, char *, size_t);
static void	 sanitize(char *, size_t);
static int	 scrub_counters(struct scrub_counters *);
static int64_t	 parse_rate(const char *);

static struct imsgbuf	 ibuf;
static const char	*ctl_sockpath;

static void
ctl_connect(void)
{
	struct sockaddr_un	 sun;
	int			 fd;

	ctl_sockpath = cargs.sockpath != NULL ? cargs.sockpath : DSRVD_SOCKET;
	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	if (strlcpy(sun.sun_path, ctl_sockpath, sizeof(sun.sun_path)) >=
	    sizeof(sun.sun_path))
		die("%s: path too long", ctl_sockpath);
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) == -1)
		die("socket: %s", strerror(errno));
	if (connect(fd, (struct sockaddr *)&sun, sizeof(sun)) == -1) {
		if (errno == ENOENT || errno == ECONNREFUSED)
			die("%s: %s (is dsrvd running?)", ctl_sockpath,
			    strerror(errno));
		die("%s: %s", ctl_sockpath, strerror(errno));
	}
	if (imsgbuf_init(&ibuf, fd) == -1)
		die("imsgbuf_init: %s", strerror(errno));
}

static void
ctl_send(uint32_t type, const void *data, size_t len)
{
	if (imsg_compose(&ibuf, type, 0, getpid(), -1, data, len) == -1)
		die("compose: %s", strerror(errno));
	if (imsgbuf_flush(&ibuf) == -1)
		die("write to %s: %s", ctl_sockpath, strerror(errno));
}

/* Wait for the next message from the daemon. */
static void
ctl_next(struct imsg *imsg)
{
	struct pollfd	 pfd;
	int		 n;

	for (;;) {
		if ((n = imsg_get(&ibuf, imsg)) == -1)
			die("bad message from dsrvd: %s", strerror(errno));
		if (n == 1)
			return;
		pfd.fd = ibuf.fd;
		pfd.events = POLLIN;
		if (poll(&pfd, 1, -1) == -1) {
			if (errno == EINTR)
				continue;
			die("poll: %s", strerror(errno));
		}
		if ((n = imsgbuf_read(&ibuf)) == -1)
			die("read from %s: %s", ctl_sockpath, strerror(errno));
		if (n == 0)
			die("dsrvd closed the connection");
	}
}

/* A message that failed its reader (lib/ctl.c). */
static void
bad_message(const struct imsg *imsg)
{
	die("bad message type %u from dsrvd: size %zu", imsg->hdr.type,
	    imsg->datalen);
}

/*
 * The next message from the daemon, by type.  An IMSG_CTL_RESULT (the
 * answer to a request, or its refusal) is read into res, its message
 * terminated, and freed here.
 */
static uint32_t
ctl_reply(struct imsg *imsg, struct ctl_result *res)
{
	ctl_next(imsg);
	if (imsg->hdr.type == IMSG_CTL_RESULT) {
		if (ctl_result_get(imsg, res) == -1)
			bad_message(imsg);
		imsg_free(imsg);
	}
	return (imsg->hdr.type);
}

/* The IMSG_CTL_RESULT that answers a request, and nothing else. */
static void
ctl_want_result(struct ctl_result *res)
{
	struct imsg	 imsg;

	if (ctl_reply(&imsg, res) != IMSG_CTL_RESULT)
		die("unexpected message type %u from dsrvd", imsg.hdr.type);
}

/*
 * A request answered by one IMSG_CTL_RESULT: print its text (on stderr
 * with failtext in front when it failed) and return the exit status.
 */
static int
ctl_result(const char *what, const char *failtext)
{
	struct ctl_result	 res;

	ctl_want_result(&res);
	if (res.code != 0) {
		fprintf(stderr, "dctl: %s: %s\n", failtext, res.msg);
		return 1;
	}
	printf("%s: %s\n", what, res.msg);
	return 0;
}

static void
fmt_uptime(int64_t s, char *buf, size_t len)
{
	if (s >= 86400)
		(void)snprintf(buf, len, "%lldd%02lldh%02lldm",
		    (long long)(s / 86400), (long long)(s % 86400 / 3600),
		    (long long)(s % 3600 / 60));
	else if (s >= 3600)
		(void)snprintf(buf, len, "%lldh%02lldm%02llds",
		    (long long)(s / 3600), (long long)(s % 3600 / 60),
		    (long long)(s % 60));
	else if (s >= 60)
		(void)snprintf(buf, len, "%lldm%02llds", (long long)(s / 60),
		    (long long)(s % 60));
	else
		(void)snprintf(buf, len, "%llds", (long long)s);
}

int
cmd_status(int argc, char **argv)
{
	struct imsg		 imsg;
	struct ctl_status_info	 info;
	struct ctl_result	 res;
	struct ctl_proc		 proc;
	struct ctl_counter	 cc;
	char			 up[32], label[32];
	int			 procs = 0, counters = 0;

	ctl_connect();
	ctl_send(IMSG_CTL_STATUS, NULL, 0);
	for (;;) {
		switch (ctl_reply(&imsg, &res)) {
		case IMSG_CTL_RESULT:
			/* the daemon refused the request */
			fprintf(stderr, "dctl: %s\n", res.msg);
			return 1;
		case IMSG_CTL_STATUS_INFO:
			if (ctl_status_info_get(&imsg, &info) == -1)
				bad_message(&imsg);
			fmt_uptime(info.uptime, up, sizeof(up));
			printf("dsrvd %s, up %s\n", info.version, up);
			printf("%-16s%s%s\n", "config file", info.conffile,
			    info.conf_missing ?
			    " (not found, built-in defaults)" : "");
			printf("%-16s%s\n", "data directory", info.datadir);
			sanitize(info.storage_msg, sizeof(info.storage_msg));
			if (info.readonly)
				printf("%-16sREAD-ONLY: %s\n", "storage",
				    info.storage_msg[0] != '\0' ?
				    info.storage_msg : "reason unknown");
			else
				printf("%-16s%s\n", "storage", "read-write");
			printf("%-16s%s\n", "immutable", info.immutable ? "yes" :
			    "no (file system does not support it)");
			break;
		case IMSG_CTL_STATUS_LISTEN:
			if (imsg.datalen == 0 ||
			    ((char *)imsg.data)[imsg.datalen - 1] != '\0')
				die("bad listen message from dsrvd");
			printf("%-16s%s\n", "listening on", (char *)imsg.data);
			break;
		case IMSG_CTL_STATUS_PROC:
			if (ctl_proc_get(&imsg, &proc) == -1)
				bad_message(&imsg);
			if (procs++ == 0)
				printf("\n%-13s%s\n", "PROCESS", "PID");
			if (proc.instance >= 0)
				(void)snprintf(label, sizeof(label), "%s[%d]",
				    proc.role, proc.instance);
			else
				(void)snprintf(label, sizeof(label), "%s",
				    proc.role);
			printf("%-13s%d\n", label, proc.pid);
			break;
		case IMSG_CTL_STATUS_COUNTER:
			if (ctl_counter_get(&imsg, &cc) == -1)
				bad_message(&imsg);
			if (counters++ == 0)
				printf("\n%-29s%s\n", "COUNTER", "VALUE");
			printf("%-29s%llu\n", cc.name,
			    (unsigned long long)cc.value);
			break;
		case IMSG_CTL_END:
			imsg_free(&imsg);
			return 0;
		default:
			die("unexpected message type %u from dsrvd",
			    imsg.hdr.type);
		}
		imsg_free(&imsg);
	}
}

int
cmd_reload(int argc, char **argv)
{
	ctl_connect();
	ctl_send(IMSG_CTL_RELOAD, NULL, 0);
	return ctl_result("reload", "reload failed");
}

int
cmd_log(int argc, char **argv)
{
	int32_t	 v;

	if (strcmp(argv[0], "verbose") == 0)
		v = 1;
	else if (strcmp(argv[0], "brief") == 0)
		v = 0;
	else
		return (CMD_USAGE);
	ctl_connect();
	ctl_send(IMSG_CTL_LOG_VERBOSE, &v, sizeof(v));
	return ctl_result("log", "log");
}

/* Text from the daemon ends up on a terminal: escaped, in place. */
static void
sanitize(char *s, size_t size)
{
	char	 copy[CTL_MSG_MAX];

	(void)strlcpy(copy, s, sizeof(copy));
	dsrv_vis(s, size, copy);
}

/*
 * One status request on the open control connection, keeping only the
 * scrub counters.  -1 if the daemon has none (it cannot scrub).
 */
static int
scrub_counters(struct scrub_counters *sc)
{
	struct imsg		 imsg;
	struct ctl_result	 res;
	struct ctl_counter	 cc;
	int			 seen = 0;

	memset(sc, 0, sizeof(*sc));
	ctl_send(IMSG_CTL_STATUS, NULL, 0);
	for (;;) {
		switch (ctl_reply(&imsg, &res)) {
		case IMSG_CTL_RESULT:
			die("scrub: %s", res.msg);
		case IMSG_CTL_STATUS_COUNTER:
			if (ctl_counter_get(&imsg, &cc) == -1)
				bad_message(&imsg);
			if (strcmp(cc.name, "scrub runs") == 0) {
				sc->runs = cc.value;
				seen |= 1;
			} else if (strcmp(cc.name, "scrub running") == 0) {
				sc->running = cc.value;
				seen |= 2;
			} else if (strcmp(cc.name, "scrub chunks") == 0) {
				sc->chunks = cc.value;
				seen |= 4;
			} else if (strcmp(cc.name, "scrub corrupt") == 0) {
				sc->corrupt = cc.value;
				seen |= 8;
			}
			break;
		case IMSG_CTL_STATUS_INFO:
		case IMSG_CTL_STATUS_LISTEN:
		case IMSG_CTL_STATUS_PROC:
			break;
		case IMSG_CTL_END:
			imsg_free(&imsg);
			return (seen == 15 ? 0 : -1);
		default:
			die("unexpected message type %u from dsrvd",
			    imsg.hdr.type);
		}
		imsg_free(&imsg);
	}
}

/* "64M", "512K", "1G", "2T" (powers of 1024) or bytes; -1 if bad. */
static int64_t
parse_rate(const char *s)
{
	const char	*p;
	int64_t		 n = 0, mult = 1;

	for (p = s; *p >= '0' && *p <= '9'; p++) {
		if (n > (INT64_MAX - 9) / 10)
			return (-1);
		n = n * 10 + (*p - '0');
	}
	if (p == s)
		return (-1);
	if (*p != '\0') {
		if (p[1] != '\0')
			return (-1);
		switch (*p) {
		case 'K':
		case 'k':
			mult = 1LL << 10;
			break;
		case 'M':
		case 'm':
			mult = 1LL << 20;
			break;
		case 'G':
		case 'g':
			mult = 1LL << 30;
			break;
		case 'T':
		case 't':
			mult = 1LL << 40;
			break;
		default:
			return (-1);
		}
	}
	if (n == 0 || n > INT64_MAX / mult)
		return (-1);
	return (n * mult);
}

/*
 * scrub --local [-w] [--rate size]: the storage process re-reads every
 * chunk and compares it with its stored crc32.  With -w, wait for the
 * run to end by polling the status counters, and report what this run
 * found (the counters' growth since just before it started).
 */
int
cmd_localscrub(int argc, char **argv)
{
	struct scrub_counters	 before, now;
	struct ctl_scrub	 req;
	struct ctl_result	 res;
	int64_t			 rate;
	int			 i, wait = 0;

	memset(&req, 0, sizeof(req));
	for (i = 0; i < argc; i++) {
		if (strcmp(argv[i], "--local") == 0)
			continue;
		else if (strcmp(argv[i], "-w") == 0)
			wait = 1;
		else if (strcmp(argv[i], "--rate") == 0) {
			if (++i == argc)
				die_usage("scrub: --rate needs a size");
			if ((rate = parse_rate(argv[i])) == -1)
				die_usage("scrub: invalid rate '%s' (bytes per "
				    "second, with K, M, G or T)", argv[i]);
			req.rate = (uint64_t)rate;
		} else
			die_usage("usage: scrub --local [-w] [--rate size]");
	}

	ctl_connect();
	if (wait && scrub_counters(&before) == -1)
		die("scrub: dsrvd reports no scrub counters");
	ctl_send(IMSG_CTL_SCRUB, &req, sizeof(req));
	if (!wait)
		return ctl_result("scrub", "scrub");
	ctl_want_result(&res);
	sanitize(res.msg, sizeof(res.msg));
	if (res.code != 0) {
		fprintf(stderr, "dctl: scrub: %s\n", res.msg);
		return 1;
	}
	/* "scrub runs" may go up when the run starts or when it ends. */
	for (;;) {
		if (scrub_counters(&now) == -1)
			die("scrub: dsrvd reports no scrub counters");
		if (now.running == 0 && now.runs > before.runs)
			break;
		if (poll(NULL, 0, SCRUB_POLL_MS) == -1 && errno != EINTR)
			die("poll: %s", strerror(errno));
	}
	printf("scrub: %llu chunks, %llu corrupt\n",
	    (unsigned long long)(now.chunks - before.chunks),
	    (unsigned long long)(now.corrupt - before.corrupt));
	if (fflush(stdout) == EOF)
		die("stdout: %s", strerror(errno));
	return (now.corrupt > before.corrupt ? EXIT_CORRUPT : 0);
}

