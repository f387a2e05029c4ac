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
 * Children's log lines, both ends.  A child holds no log file and no
 * syslog socket: from the end of its start-up series it hands every
 * line to the parent as IMSG_LOG, and its stdin, stdout and stderr are
 * /dev/null.  The parent writes the line where its own lines go
 * (stderr with -d, syslog otherwise) after the child's name, with
 * control characters escaped and the length capped, and takes at most
 * LOG_BURST lines at once and LOG_RATE a second after that from each
 * child, counting the rest: a compromised child can neither write a
 * line under another process's name nor bury real events under its
 * own.
 *
 * proc.c and parent.c call in here; nothing here calls them back.
 */
#include <sys/types.h>
#include <sys/uio.h>

#include <errno.h>
#include <fcntl.h>
#include <paths.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include "dsrvd.h"
#include "log.h"
#include "util.h"

#define LOG_BURST	500	/* lines a child may log at once */
#define LOG_RATE	100	/* lines a second after that */
#define LOG_FLUSH_MS	2000	/* fatal(): at most this long to send */
#define LOG_DRAIN_MAX	64	/* reads from a child that is gone */

/* The parent's count of one child's lines. */
struct log_limit {
	int		 started;
	uint64_t	 last_ms;	/* tokens added up to here */
	uint64_t	 tokens;
	uint64_t	 dropped;	/* not yet reported */
};

static void	 proc_log_send(int, const char *);
static void	 proc_log_event(int, const char *);
static void	 proc_log_flush(void);
static int	 proc_log_push(struct imsgbuf *, int);
static void	 proc_log_line(struct proc_child *, const struct log_line *,
		    struct event_base *);
static int	 proc_log_token(struct log_limit *);
static void	 proc_log_report(int, short, void *);
static void	 proc_log_dropped(struct proc_child *);

/* A child's end: the parent channel before and after its imsgev. */
static struct imsgbuf	 early;
static int		 early_fd = -1;
static struct imsgev	*chan;
static int		 in_sink;
static int		 in_libevent;

/* The parent's end. */
static struct log_limit	 limits[MAX_CHILDREN];
static struct event	*ev_report;

/*
 * A child, right after its start-up series, while it may still open
 * /dev/null: from here on every line goes to the parent over fd (the
 * parent channel), one synchronous message each until
 * proc_log_attach(), and the descriptors that were the parent's
 * stdin, stdout and stderr (the log file, with -d) are gone.  syslog's
 * socket is closed too.
 */
void
proc_log_start(int fd)
{
	int	 nullfd, flags;

	if ((flags = fcntl(fd, F_GETFL)) == -1 ||
	    fcntl(fd, F_SETFL, flags | O_NONBLOCK) == -1)
		fatal("%s: parent channel", __func__);
	if (imsgbuf_init(&early, fd) == -1)
		fatal("%s: imsgbuf_init", __func__);
	early_fd = fd;
	log_setsink(proc_log_send, proc_log_flush);
	proc_log_libevent();
	closelog();
	/* Lines queued when we exit go out first (fatal() flushes too). */
	if (atexit(proc_log_flush) != 0)
		fatalx("%s: atexit failed", __func__);

	if ((nullfd = open(_PATH_DEVNULL, O_RDWR | O_CLOEXEC)) == -1)
		fatal("%s", _PATH_DEVNULL);
	if (dup2(nullfd, STDIN_FILENO) == -1 ||
	    dup2(nullfd, STDOUT_FILENO) == -1)
		fatal("%s: dup2", __func__);
#ifndef DSRV_SANITIZE
	if (dup2(nullfd, STDERR_FILENO) == -1)
		fatal("%s: dup2", __func__);
#else
	/*
	 * make SANITIZE=1: stderr stays, so that the sanitizers' reports
	 * reach the log the tests read (regress/lib.sh, sanitizer_check).
	 * Not for production: a child can write to that file.
	 */
#endif
	if (nullfd > STDERR_FILENO)
		(void)close(nullfd);
}

/*
 * The parent channel's imsgev exists: lines join its queue from now
 * on, in order with every other message.  What went before is all
 * out (the parent reads during start-up), so the two never mix bytes.
 */
void
proc_log_attach(struct imsgev *iev)
{
	if (early_fd != -1) {
		(void)imsgbuf_flush(&early);
		imsgbuf_clear(&early);
		early_fd = -1;
	}
	chan = iev;
}

/*
 * The log sink of a child.  A failure to send is not logged (that
 * would come straight back here): the line is lost, and so is the
 * parent, which is the only way a send fails.
 */
static void
proc_log_send(int pri, const char *msg)
{
	struct iovec	 iov[2];
	char		 text[LOG_LINE_MAX];
	int32_t		 p;

	if (in_sink)
		return;
	in_sink = 1;
	p = LOG_PRI(pri);
	if (p < LOG_CRIT)
		p = LOG_CRIT;
	(void)strlcpy(text, msg, sizeof(text));
	iov[0].iov_base = &p;
	iov[0].iov_len = sizeof(p);
	iov[1].iov_base = text;
	iov[1].iov_len = strlen(text) + 1;
	if (chan != NULL && in_libevent) {
		if (!chan->dead)
			(void)imsg_composev(&chan->ibuf, IMSG_LOG, 0, 0, -1,
			    iov, 2);
	} else if (chan != NULL)
		(void)imsgev_composev(chan, IMSG_LOG, 0, 0, -1, iov, 2);
	else if (early_fd != -1 &&
	    imsg_composev(&early, IMSG_LOG, 0, 0, -1, iov, 2) == 0)
		(void)proc_log_push(&early, LOG_FLUSH_MS);
	in_sink = 0;
}

/*
 * libevent's own warnings go where ours go, not to stderr (which is
 * /dev/null in a child, and in the parent once it is a daemon).
 */
void
proc_log_libevent(void)
{
	event_set_log_callback(proc_log_event);
}

/*
 * libevent may not be called from here, so in a child the line joins
 * the channel's queue without asking for a write: the next message
 * takes it along, or the flush at exit.
 */
static void
proc_log_event(int severity, const char *msg)
{
	int	 pri;

	switch (severity) {
	case EVENT_LOG_DEBUG:
		if (log_getverbose() < 2)
			return;
		pri = LOG_DEBUG;
		break;
	case EVENT_LOG_MSG:
		pri = LOG_INFO;
		break;
	case EVENT_LOG_WARN:
		pri = LOG_WARNING;
		break;
	default:
		pri = LOG_ERR;
		break;
	}
	in_libevent = 1;
	logit(pri, "libevent: %s", msg);
	in_libevent = 0;
}

/* Before fatal() exits, and at exit: what is queued goes out now. */
static void
proc_log_flush(void)
{
	if (chan != NULL) {
		if (!chan->dead)
			(void)proc_log_push(&chan->ibuf, LOG_FLUSH_MS);
	} else if (early_fd != -1)
		(void)proc_log_push(&early, LOG_FLUSH_MS);
}

/* Write ib's queue, waiting at most ms in all: 0 when it is all out. */
static int
proc_log_push(struct imsgbuf *ib, int ms)
{
	struct timespec	 now, end;
	struct pollfd	 pfd;
	long long	 left;

	if (clock_gettime(CLOCK_MONOTONIC, &end) == -1)
		return -1;
	end.tv_sec += ms / 1000;
	end.tv_nsec += (ms % 1000) * 1000000L;
	if (end.tv_nsec >= 1000000000L) {
		end.tv_sec++;
		end.tv_nsec -= 1000000000L;
	}
	for (;;) {
		if (imsgbuf_write(ib) == -1)
			return -1;
		if (imsgbuf_queuelen(ib) == 0)
			return 0;
		if (clock_gettime(CLOCK_MONOTONIC, &now) == -1)
			return -1;
		left = (end.tv_sec - now.tv_sec) * 1000LL +
		    (end.tv_nsec - now.tv_nsec) / 1000000L;
		if (left <= 0) {
			errno = ETIMEDOUT;
			return -1;
		}
		pfd.fd = ib->fd;
		pfd.events = POLLOUT;
		if (poll(&pfd, 1, (int)left) == -1 && errno != EINTR)
			return -1;
	}
}

/*
 * The parent: a child's line.  A priority the child may not log at, or
 * text that is not one NUL-terminated string, is a bad message like
 * any other.
 */
void
proc_log_dispatch(struct imsgev *iev, struct imsg *imsg)
{
	struct log_line	 ll;

	if (log_line_get(imsg, &ll) == -1)
		msg_bad(iev, imsg, __func__);
	proc_log_line(iev->arg, &ll, iev->base);
}

/*
 * Relay what a child wrote before it went: when it is reaped (its last
 * words then come before the line that says it is gone) and at
 * shutdown.  Only log lines count now, and nothing here is fatal: the
 * daemon is on its way down already.
 */
void
proc_log_drain(struct proc_child *c)
{
	struct imsgev	*iev = &c->iev;
	struct log_line	 ll;
	struct imsg	 imsg;
	struct pollfd	 pfd;
	int		 i, n;

	for (i = 0; i < LOG_DRAIN_MAX && !iev->dead && !iev->indispatch;
	    i++) {
		while ((n = imsg_get(&iev->ibuf, &imsg)) == 1) {
			if (imsg.hdr.type == IMSG_LOG) {
				if (log_line_get(&imsg, &ll) == -1) {
					log_warnx("%s: %s sent a bad log line",
					    __func__, c->label);
					imsg_free(&imsg);
					goto done;
				}
				proc_log_line(c, &ll, NULL);
			}
			imsg_free(&imsg);
		}
		if (n == -1)
			break;
		pfd.fd = iev->ibuf.fd;
		pfd.events = POLLIN;
		if (poll(&pfd, 1, 0) <= 0 || imsgbuf_read(&iev->ibuf) <= 0)
			break;
	}
 done:
	proc_log_dropped(c);
}

/*
 * One line, escaped (a newline could start a line of another process)
 * and cut, unless the child has used up its share.  Debug lines only
 * when the parent logs them too.  A child's last words pass whatever
 * its share: one that is gone can flood no more.
 */
static void
proc_log_line(struct proc_child *c, const struct log_line *ll,
    struct event_base *base)
{
	struct log_limit	*l = &limits[c - proc_children];
	struct timeval		 tv = { 1, 0 };
	char			 vis[LOG_LINE_MAX];

	if (ll->pri == LOG_DEBUG && log_getverbose() < 1)
		return;
	if (!(ll->pri == LOG_CRIT && !c->alive) && !proc_log_token(l)) {
		l->dropped++;
		if (base == NULL)
			return;
		if (ev_report == NULL &&
		    (ev_report = evtimer_new(base, proc_log_report,
		    NULL)) == NULL)
			fatalx("%s: evtimer_new failed", __func__);
		if (!evtimer_pending(ev_report, NULL) &&
		    evtimer_add(ev_report, &tv) == -1)
			fatalx("%s: evtimer_add failed", __func__);
		return;
	}
	dsrv_vis(vis, sizeof(vis), ll->text);
	log_relay(ll->pri, c->label, vis);
}

/* A token bucket: LOG_BURST lines, refilled at LOG_RATE a second. */
static int
proc_log_token(struct log_limit *l)
{
	struct timespec	 ts;
	uint64_t	 now, add;

	if (clock_gettime(CLOCK_MONOTONIC, &ts) == -1)
		fatal("clock_gettime");
	now = (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
	if (!l->started) {
		l->started = 1;
		l->tokens = LOG_BURST;
		l->last_ms = now;
	}
	add = (now - l->last_ms) * LOG_RATE / 1000;
	if (l->tokens + add >= LOG_BURST) {
		l->tokens = LOG_BURST;
		l->last_ms = now;
	} else if (add > 0) {
		l->tokens += add;
		l->last_ms += add * 1000 / LOG_RATE;
	}
	if (l->tokens == 0)
		return 0;
	l->tokens--;
	return 1;
}

/* Once a second while children flood: how many lines each lost. */
static void
proc_log_report(int fd, short event, void *arg)
{
	int	 i;

	for (i = 0; i < proc_nchildren; i++)
		proc_log_dropped(&proc_children[i]);
}

static void
proc_log_dropped(struct proc_child *c)
{
	struct log_limit	*l = &limits[c - proc_children];

	if (l->dropped == 0)
		return;
	log_warnx("%s logs too much: %llu lines dropped", c->label,
	    (unsigned long long)l->dropped);
	l->dropped = 0;
}
