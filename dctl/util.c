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
 * What every dctl command calls: the options of the command line
 * (cargs), the error exits, the exit status a library outcome means,
 * and the parsing of a file command's own arguments.  It sits below
 * every other file of dctl; it calls only progress_clear(), so that an
 * error message never lands on the end of a progress line.
 */
#include <sys/types.h>

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dctl.h"
#include "util.h"
#include "wire.h"

static void	 vdie(int, const char *, va_list)
		    __attribute__((__noreturn__, __format__ (printf, 2, 0)));
static int	 parse_u64(const char *, const char *, uint64_t *);

struct client_args	 cargs;

/*
 * Messages carry text from servers, in the library's errors and in
 * names from metadata.  Whatever dsrv_vis() or printable() escaped
 * already passes dsrv_safe() as it is (no \\ for each \); any control,
 * C1, invalid UTF-8 or bidirectional control left is escaped here.
 */
static void
vdie(int status, const char *fmt, va_list ap)
{
	char	*msg, *safe;
	size_t	 size;

	progress_clear();
	if (vasprintf(&msg, fmt, ap) == -1) {
		fprintf(stderr, "dctl: %s\n", strerror(errno));
		exit(status);
	}
	size = 4 * strlen(msg) + 1;
	if ((safe = malloc(size)) == NULL) {
		fprintf(stderr, "dctl: %s\n", strerror(errno));
		exit(status);
	}
	dsrv_safe(safe, size, msg);
	fprintf(stderr, "dctl: %s\n", safe);
	free(safe);
	free(msg);
	exit(status);
}

void
die(const char *fmt, ...)
{
	va_list	 ap;

	va_start(ap, fmt);
	vdie(EXIT_ERROR, fmt, ap);
	va_end(ap);
}

void
die_status(int status, const char *fmt, ...)
{
	va_list	 ap;

	va_start(ap, fmt);
	vdie(status, fmt, ap);
	va_end(ap);
}

void
die_usage(const char *fmt, ...)
{
	va_list	 ap;

	va_start(ap, fmt);
	vdie(EXIT_USAGE, fmt, ap);
	va_end(ap);
}

/*
 * What a library outcome means for the exit status: -1 is a failed
 * transfer, a wire code says what was wrong with the data.
 */
int
exit_status(int code)
{
	switch (code) {
	case WIRE_E_OK:
		return (0);
	case WIRE_E_NOTFOUND:
		return (EXIT_NOTFOUND);
	case WIRE_E_CRC:
	case WIRE_E_CORRUPT:
		return (EXIT_CORRUPT);
	default:
		return (EXIT_ERROR);
	}
}

void
fail(int code, const char *err)
{
	die_status(exit_status(code), "%s", err);
}

void
flush_stdout(void)
{
	if (fflush(stdout) == EOF || ferror(stdout))
		die("stdout: %s", strerror(errno));
}

void
parse_fargs(int argc, char **argv, int allowed, int min, int max,
    const char *usage, struct fargs *fa)
{
	int	 i, opts = 1;

	memset(fa, 0, sizeof(*fa));
	for (i = 0; i < argc; i++) {
		if (opts && argv[i][0] == '-' && argv[i][1] != '\0') {
			if (strcmp(argv[i], "--") == 0)
				opts = 0;
			else if (strcmp(argv[i], "-j") == 0)
				cargs.json = 1;
			else if (strcmp(argv[i], "-q") == 0)
				cargs.quiet = 1;
			else if (strcmp(argv[i], "-jq") == 0 ||
			    strcmp(argv[i], "-qj") == 0)
				cargs.json = cargs.quiet = 1;
			else if ((allowed & O_SHA256) &&
			    strcmp(argv[i], "--sha256") == 0)
				fa->sha256 = 1;
			else if ((allowed & O_READ) &&
			    strcmp(argv[i], "--read") == 0)
				fa->read = 1;
			else if ((allowed & O_TO) &&
			    strcmp(argv[i], "--to") == 0) {
				if (++i == argc)
					die_usage("usage: %s", usage);
				fa->to = argv[i];
			} else if ((allowed & O_DECLARE) &&
			    strcmp(argv[i], "--crc32") == 0) {
				if (++i == argc)
					die_usage("usage: %s", usage);
				fa->crc32 = argv[i];
			} else if ((allowed & O_DECLARE) &&
			    strcmp(argv[i], "--length") == 0) {
				if (++i == argc)
					die_usage("usage: %s", usage);
				fa->length = argv[i];
			} else if ((allowed & O_VERSION) &&
			    strcmp(argv[i], "--version") == 0) {
				if (++i == argc)
					die_usage("usage: %s", usage);
				fa->version = argv[i];
			} else if ((allowed & O_RANGE) &&
			    strcmp(argv[i], "--range") == 0) {
				if (++i == argc)
					die_usage("usage: %s", usage);
				fa->range = argv[i];
			} else
				die_usage("unknown option %s; usage: %s",
				    argv[i], usage);
			continue;
		}
		if (fa->nargs == max)
			die_usage("usage: %s", usage);
		fa->arg[fa->nargs++] = argv[i];
	}
	if (fa->nargs < min)
		die_usage("usage: %s", usage);
	if ((allowed & O_TO) && fa->to == NULL)
		die_usage("usage: %s", usage);
}

/* A decimal uint64 that is all of [s, end), or -1. */
static int
parse_u64(const char *s, const char *end, uint64_t *v)
{
	uint64_t	 n = 0;

	if (s == end)
		return (-1);
	for (; s < end; s++) {
		if (*s < '0' || *s > '9')
			return (-1);
		if (n > (UINT64_MAX - (uint64_t)(*s - '0')) / 10)
			return (-1);
		n = n * 10 + (uint64_t)(*s - '0');
	}
	*v = n;
	return (0);
}

void
parse_range(const char *s, const char *usage, uint64_t *off, uint64_t *len)
{
	const char	*colon;

	if ((colon = strchr(s, ':')) == NULL ||
	    parse_u64(s, colon, off) == -1 ||
	    parse_u64(colon + 1, colon + strlen(colon), len) == -1)
		die_usage("--range %s: not OFF:LEN, two decimal numbers; "
		    "usage: %s", s, usage);
}
