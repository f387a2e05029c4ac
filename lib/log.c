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
 * Logging for dsrvd and dctl: stderr in the foreground, syslog(3)
 * otherwise, or a sink the program sets (dsrvd's children hand their
 * lines to the parent, which writes them).  Every function leaves
 * errno as it found it, so callers can log and then still report or
 * test the error.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include "log.h"

/* Longer messages are cut; a log line is no place for bulk data. */
#define LOG_MAXLINE	2048

static int		 log_debug_mode = 1;	/* stderr until log_init() */
static int		 log_verbose;
static int		 log_prefix;
static const char	*log_procname;
static void		(*log_sink)(int, const char *);
static void		(*log_sink_flush)(void);

static void	log_stderr(const char *, const char *);
static void	log_emit(int, const char *, const char *);
static void	vlog_errno(int, int, const char *, va_list)
		    __attribute__((__format__ (printf, 3, 0)));
static __attribute__((__noreturn__)) void vfatalc(int, const char *,
		    va_list) __attribute__((__format__ (printf, 2, 0)));

void
log_init(int debug, int facility)
{
	int	 saved_errno = errno;

	log_debug_mode = debug;
	if (log_procname == NULL)
		log_procname = getprogname();
	if (!debug)
		openlog(getprogname(), LOG_PID | LOG_NDELAY, facility);
	/* Load the time zone now: after chroot there is no /etc/localtime. */
	tzset();
	errno = saved_errno;
}

void
log_procinit(const char *name)
{
	if (name != NULL)
		log_procname = name;
}

void
log_setverbose(int v)
{
	log_verbose = v;
}

int
log_getverbose(void)
{
	return log_verbose;
}

void
log_setprefix(int on)
{
	log_prefix = on;
}

void
log_setsink(void (*sink)(int, const char *), void (*flush)(void))
{
	log_sink = sink;
	log_sink_flush = flush;
}

/*
 * One write(2) per line: processes sharing a stderr then never tear
 * each other's lines apart.
 */
static void
log_stderr(const char *prefix, const char *msg)
{
	char	 line[LOG_MAXLINE + 64];
	size_t	 off = 0;
	ssize_t	 n;
	int	 len;

	len = snprintf(line, sizeof(line), "%s%s%s\n",
	    prefix != NULL ? prefix : "", prefix != NULL ? ": " : "", msg);
	if (len < 0)
		return;
	if ((size_t)len >= sizeof(line)) {
		/* Cut, but keep the line a line. */
		len = sizeof(line) - 1;
		line[len - 1] = '\n';
	}
	while (off < (size_t)len) {
		n = write(STDERR_FILENO, line + off, len - off);
		if (n == -1) {
			if (errno == EINTR)
				continue;
			return;
		}
		off += n;
	}
}

/*
 * One finished line to wherever lines go, prefixed with name (NULL:
 * none).  A sink takes the line as it is: its reader knows who wrote it.
 */
static void
log_emit(int pri, const char *name, const char *msg)
{
	if (log_sink != NULL)
		log_sink(pri, msg);
	else if (log_debug_mode)
		log_stderr(name, msg);
	else if (name != NULL)
		syslog(pri, "%s: %s", name, msg);
	else
		syslog(pri, "%s", msg);
}

void
vlog(int pri, const char *fmt, va_list ap)
{
	char	 msg[LOG_MAXLINE];
	int	 saved_errno = errno;

	if (vsnprintf(msg, sizeof(msg), fmt, ap) >= 0)
		log_emit(pri, log_prefix ? (log_procname != NULL ?
		    log_procname : getprogname()) : NULL, msg);
	errno = saved_errno;
}

void
log_relay(int pri, const char *name, const char *msg)
{
	int	 saved_errno = errno;

	log_emit(pri, name, msg);
	errno = saved_errno;
}

void
logit(int pri, const char *fmt, ...)
{
	va_list	 ap;

	va_start(ap, fmt);
	vlog(pri, fmt, ap);
	va_end(ap);
}

/* Log fmt, then ": strerror(err)" if err is not 0. */
static void
vlog_errno(int pri, int err, const char *fmt, va_list ap)
{
	char	 msg[LOG_MAXLINE];

	if (fmt == NULL)
		msg[0] = '\0';
	else if (vsnprintf(msg, sizeof(msg), fmt, ap) < 0)
		strlcpy(msg, fmt, sizeof(msg));

	if (err == 0)
		logit(pri, "%s", msg);
	else if (msg[0] == '\0')
		logit(pri, "%s", strerror(err));
	else
		logit(pri, "%s: %s", msg, strerror(err));
}

void
log_warn(const char *fmt, ...)
{
	va_list	 ap;
	int	 saved_errno = errno;

	va_start(ap, fmt);
	vlog_errno(LOG_ERR, saved_errno, fmt, ap);
	va_end(ap);
	errno = saved_errno;
}

void
log_warnx(const char *fmt, ...)
{
	va_list	 ap;
	int	 saved_errno = errno;

	va_start(ap, fmt);
	vlog(LOG_ERR, fmt, ap);
	va_end(ap);
	errno = saved_errno;
}

void
log_info(const char *fmt, ...)
{
	va_list	 ap;
	int	 saved_errno = errno;

	va_start(ap, fmt);
	vlog(LOG_INFO, fmt, ap);
	va_end(ap);
	errno = saved_errno;
}

void
log_debug(const char *fmt, ...)
{
	va_list	 ap;
	int	 saved_errno = errno;

	if (log_verbose < 1)
		return;
	va_start(ap, fmt);
	vlog(LOG_DEBUG, fmt, ap);
	va_end(ap);
	errno = saved_errno;
}

static void
vfatalc(int err, const char *fmt, va_list ap)
{
	char	 msg[LOG_MAXLINE];

	if (fmt == NULL)
		msg[0] = '\0';
	else if (vsnprintf(msg, sizeof(msg), fmt, ap) < 0)
		strlcpy(msg, fmt, sizeof(msg));

	if (log_procname == NULL)
		log_procname = getprogname();
	if (err != 0)
		logit(LOG_CRIT, "fatal in %s: %s%s%s", log_procname, msg,
		    msg[0] != '\0' ? ": " : "", strerror(err));
	else
		logit(LOG_CRIT, "fatal in %s: %s", log_procname, msg);
	/* The line must be out before we are gone. */
	if (log_sink_flush != NULL)
		log_sink_flush();
	exit(1);
}

void
fatal(const char *fmt, ...)
{
	va_list	 ap;
	int	 saved_errno = errno;

	va_start(ap, fmt);
	vfatalc(saved_errno, fmt, ap);
	va_end(ap);
}

void
fatalx(const char *fmt, ...)
{
	va_list	 ap;

	va_start(ap, fmt);
	vfatalc(0, fmt, ap);
	va_end(ap);
}
