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
/* In the foreground, prefix each line with "name: " (children). */
void	log_setprefix(int);

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
