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
 * Chunk name checks.  The length is passed in, not found with strlen,
 * so that a NUL inside a name read off the wire is refused rather than
 * silently cutting the name short.  The reasons are constant strings:
 * the caller puts "bad chunk name: " in front.
 */
#include <stddef.h>

#include "chunkname.h"

/* The reasons for one part of a name, so that they can say which. */
struct part {
	size_t		 max;
	const char	*empty;
	const char	*toolong;
	const char	*dot;
	const char	*slash;
	const char	*nul;
	const char	*ctrl;
	const char	*space;
	const char	*high;
	const char	*other;
};

static const struct part dirpart = {
	CHUNK_DIR_MAX,
	"empty directory",
	"directory longer than 32 bytes",
	"directory starts with a dot",
	"'/' in the directory",
	"NUL byte in the directory",
	"control character in the directory",
	"space in the directory",
	"non-ASCII byte in the directory",
	"directory has a character other than A-Z a-z 0-9 . _ -",
};

static const struct part basepart = {
	CHUNK_BASE_MAX,
	"empty name",
	"name longer than 200 bytes",
	"name starts with a dot",
	"'/' in the name",
	"NUL byte in the name",
	"control character in the name",
	"space in the name",
	"non-ASCII byte in the name",
	"name has a character other than A-Z a-z 0-9 . _ -",
};

static int	 part_check(const char *, size_t, const struct part *,
		    const char **);

static int
part_check(const char *s, size_t len, const struct part *p,
    const char **errstr)
{
	size_t		 i;
	unsigned char	 ch;

	if (len == 0) {
		*errstr = p->empty;
		return (-1);
	}
	if (len > p->max) {
		*errstr = p->toolong;
		return (-1);
	}
	/* No ".", "..", nor names ls and the .tmp/.ns areas hide. */
	if (s[0] == '.') {
		*errstr = p->dot;
		return (-1);
	}
	for (i = 0; i < len; i++) {
		ch = (unsigned char)s[i];
		if ((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
		    (ch >= '0' && ch <= '9') || ch == '.' || ch == '_' ||
		    ch == '-')
			continue;
		if (ch == '/')
			*errstr = p->slash;
		else if (ch == '\0')
			*errstr = p->nul;
		else if (ch < 0x20 || ch == 0x7f)
			*errstr = p->ctrl;
		else if (ch == ' ')
			*errstr = p->space;
		else if (ch >= 0x80)
			*errstr = p->high;
		else
			*errstr = p->other;
		return (-1);
	}
	return (0);
}

int
chunk_dir_check(const char *s, size_t len, const char **errstr)
{
	return (part_check(s, len, &dirpart, errstr));
}

int
chunk_base_check(const char *s, size_t len, const char **errstr)
{
	return (part_check(s, len, &basepart, errstr));
}

int
chunk_name_check(const char *s, size_t len, size_t *dirlen,
    const char **errstr)
{
	size_t	 i;

	for (i = 0; i < len && s[i] != '/'; i++)
		;
	if (i == len) {
		*errstr = len == 0 ? "empty" : "no '/' between directory "
		    "and name";
		return (-1);
	}
	if (part_check(s, i, &dirpart, errstr) == -1)
		return (-1);
	if (part_check(s + i + 1, len - i - 1, &basepart, errstr) == -1) {
		/* After the first '/', another is one too many. */
		if (*errstr == basepart.slash)
			*errstr = "more than one '/'";
		return (-1);
	}
	if (dirlen != NULL)
		*dirlen = i;
	return (0);
}
