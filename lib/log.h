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

#ifndef DSRV_LOG_H
#define DSRV_LOG_H

#include <stdarg.h>

/*
 * debug != 0: log to stderr (foreground), else syslog(3) with
 * LOG_NDELAY so the socket is open before chroot.
 */
void	log_init(int debug, int facility);
/* Name of this process ("network", "storage"...), shown in fatal(). */
void	log_procinit(const char *name);
/* 0: info and up; 1: log_debug too; 2 and up: more detail. */
void	log_setverbose(int);
int	log_getverbose(void);
/* Prefix each line with "name: ", in syslog too. */
void	log_setprefix(int);
/*
 * Hand every line (already formatted, without prefix) to sink instead
 * of stderr or syslog; fatal() calls flush before it exits.  NULL:
 * back to log_init()'s destination.
 */
void	log_setsink(void (*sink)(int, const char *), void (*flush)(void));
/* A line another process wrote, prefixed with its name, not ours. */
void	log_relay(int, const char *name, const char *msg);

void	log_warn(const char *, ...)
	    __attribute__((__format__ (printf, 1, 2)));
void	log_warnx(const char *, ...)
	    __attribute__((__format__ (printf, 1, 2)));
void	log_info(const char *, ...)
	    __attribute__((__format__ (printf, 1, 2)));
void	log_debug(const char *, ...)
	    __attribute__((__format__ (printf, 1, 2)));
void	logit(int, const char *, ...)
	    __attribute__((__format__ (printf, 2, 3)));
void	vlog(int, const char *, va_list)
	    __attribute__((__format__ (printf, 2, 0)));
__attribute__((__noreturn__)) void fatal(const char *, ...)
	    __attribute__((__format__ (printf, 1, 2)));
__attribute__((__noreturn__)) void fatalx(const char *, ...)
	    __attribute__((__format__ (printf, 1, 2)));

#endif /* DSRV_LOG_H */
