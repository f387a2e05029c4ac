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
 * A tiny TAP producer for the unit tests.
 *
 *	ok(cond, "what was checked %d", n);
 *	is_int(got, want, "name");
 *	is_str(got, want, "name");
 *	diag("a comment line");
 *	return tap_done();	(prints the plan, 1 if anything failed)
 *
 * Each assertion prints "ok N - text" or "not ok N - text" and flushes,
 * so a crash still leaves the earlier results on the terminal.  The
 * plan ("1..N") comes at the end, which TAP allows.
 */
#ifndef DSRV_TAP_H
#define DSRV_TAP_H

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static int	tap_count __attribute__((__unused__));
static int	tap_failed __attribute__((__unused__));

static inline int
tap_vreport(int pass, const char *file, int line, const char *fmt,
    va_list ap)
{
	printf("%sok %d - ", pass ? "" : "not ", ++tap_count);
	vprintf(fmt, ap);
	printf("\n");
	if (!pass) {
		tap_failed++;
		printf("#   failed at %s:%d\n", file, line);
	}
	fflush(stdout);
	return pass;
}

static inline int __attribute__((__format__ (printf, 4, 5)))
tap_ok(int pass, const char *file, int line, const char *fmt, ...)
{
	va_list	 ap;

	va_start(ap, fmt);
	tap_vreport(pass, file, line, fmt, ap);
	va_end(ap);
	return pass;
}

static inline int __attribute__((__format__ (printf, 5, 6)))
tap_is_int(long long got, long long want, const char *file, int line,
    const char *fmt, ...)
{
	va_list	 ap;
	int	 pass = got == want;

	va_start(ap, fmt);
	tap_vreport(pass, file, line, fmt, ap);
	va_end(ap);
	if (!pass) {
		printf("#   got: %lld\n#   expected: %lld\n", got, want);
		fflush(stdout);
	}
	return pass;
}

static inline int __attribute__((__format__ (printf, 5, 6)))
tap_is_str(const char *got, const char *want, const char *file, int line,
    const char *fmt, ...)
{
	va_list	 ap;
	int	 pass;

	if (got == NULL || want == NULL)
		pass = got == want;
	else
		pass = strcmp(got, want) == 0;
	va_start(ap, fmt);
	tap_vreport(pass, file, line, fmt, ap);
	va_end(ap);
	if (!pass) {
		printf("#   got: %s%s%s\n#   expected: %s%s%s\n",
		    got ? "\"" : "", got ? got : "NULL", got ? "\"" : "",
		    want ? "\"" : "", want ? want : "NULL", want ? "\"" : "");
		fflush(stdout);
	}
	return pass;
}

static inline void __attribute__((__format__ (printf, 1, 2)))
diag(const char *fmt, ...)
{
	va_list	 ap;

	printf("# ");
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
	fflush(stdout);
}

/* Print the plan and give main() its exit status. */
static inline int
tap_done(void)
{
	printf("1..%d\n", tap_count);
	if (tap_failed > 0)
		printf("# %d of %d failed\n", tap_failed, tap_count);
	fflush(stdout);
	return tap_failed > 0 ? 1 : 0;
}

/* Each returns its condition, so a test can stop when a step failed. */
#define ok(cond, ...)	tap_ok(!!(cond), __FILE__, __LINE__, __VA_ARGS__)
#define is_int(got, want, ...)						\
	tap_is_int((long long)(got), (long long)(want), __FILE__,	\
	    __LINE__, __VA_ARGS__)
#define is_str(got, want, ...)						\
	tap_is_str((got), (want), __FILE__, __LINE__, __VA_ARGS__)

#endif /* DSRV_TAP_H */
