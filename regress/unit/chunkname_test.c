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
 * Unit tests for lib/chunkname.c: every way a chunk name can be bad is
 * refused with the right reason, and the edge cases that are good pass.
 */
#include <stdio.h>
#include <string.h>

#include "chunkname.h"
#include "tap.h"

struct tcase {
	const char	*name;		/* for the test's description */
	const char	*s;
	size_t		 len;		/* 0: strlen(s) */
	const char	*why;		/* NULL: must pass */
	size_t		 dirlen;
};

static void	 run(const struct tcase *, int);
static void	 check_names(void);
static void	 check_dirs(void);
static void	 check_lengths(void);

static const struct tcase names[] = {
	{ "simple", "a/b", 0, NULL, 1 },
	{ "metadata name", "index/my_file.tar-0a1b2c3d", 0, NULL, 5 },
	{ "data name", "0a/0a1b2c3d-17-deadbeef", 0, NULL, 2 },
	{ "dots inside", "a.b/c..d", 0, NULL, 3 },
	{ "all classes", "AZaz09._-/-_.09azAZ", 0, NULL, 9 },
	{ "traversal", "../x", 0, "directory starts with a dot", 0 },
	{ "dot dir", "./x", 0, "directory starts with a dot", 0 },
	{ "dot-dot name", "x/..", 0, "name starts with a dot", 0 },
	{ "two levels", "a/b/c", 0, "more than one '/'", 0 },
	{ "hidden dir", ".x/y", 0, "directory starts with a dot", 0 },
	{ "hidden name", "x/.y", 0, "name starts with a dot", 0 },
	{ "absolute", "/x", 0, "empty directory", 0 },
	{ "trailing slash", "x/", 0, "empty name", 0 },
	{ "empty", "", 0, "empty", 0 },
	{ "slash only", "/", 0, "empty directory", 0 },
	{ "no slash", "abc", 0, "no '/' between directory and name", 0 },
	{ "double slash", "a//b", 0, "more than one '/'", 0 },
	{ "NUL in name", "a/b\0c", 5, "NUL byte in the name", 0 },
	{ "NUL in dir", "a\0b/c", 5, "NUL byte in the directory", 0 },
	{ "trailing NUL", "a/b\0", 4, "NUL byte in the name", 0 },
	{ "newline", "a/b\nc", 0, "control character in the name", 0 },
	{ "tab in dir", "a\tb/c", 0, "control character in the directory",
	    0 },
	{ "escape", "a/\033[2J", 0, "control character in the name", 0 },
	{ "DEL", "a/b\177", 0, "control character in the name", 0 },
	{ "space", "a/b c", 0, "space in the name", 0 },
	{ "space in dir", "a b/c", 0, "space in the directory", 0 },
	{ "non-ASCII", "a/caf\xc3\xa9", 0, "non-ASCII byte in the name", 0 },
	{ "high byte", "\xff/x", 0, "non-ASCII byte in the directory", 0 },
	{ "backslash", "a/b\\c", 0,
	    "name has a character other than A-Z a-z 0-9 . _ -", 0 },
	{ "colon", "a:/b", 0,
	    "directory has a character other than A-Z a-z 0-9 . _ -", 0 },
	{ "star", "a/*", 0,
	    "name has a character other than A-Z a-z 0-9 . _ -", 0 },
};

static const struct tcase dirs[] = {
	{ "simple", "a", 0, NULL, 0 },
	{ "index", "index", 0, NULL, 0 },
	{ "hex", "0a", 0, NULL, 0 },
	{ "empty", "", 0, "empty directory", 0 },
	{ "dot", ".", 0, "directory starts with a dot", 0 },
	{ "dot-dot", "..", 0, "directory starts with a dot", 0 },
	{ "hidden", ".tmp", 0, "directory starts with a dot", 0 },
	{ "slash", "a/b", 0, "'/' in the directory", 0 },
	{ "leading slash", "/a", 0, "'/' in the directory", 0 },
	{ "trailing slash", "a/", 0, "'/' in the directory", 0 },
	{ "NUL", "a\0", 2, "NUL byte in the directory", 0 },
	{ "control", "a\r", 0, "control character in the directory", 0 },
	{ "space", " a", 0, "space in the directory", 0 },
	{ "non-ASCII", "\xe2\x80\xae", 0, "non-ASCII byte in the directory",
	    0 },
};

static void
run(const struct tcase *t, int isdir)
{
	const char	*errstr = NULL;
	size_t		 len, dirlen = (size_t)-1;
	int		 rv;

	len = t->len != 0 ? t->len : strlen(t->s);
	if (isdir)
		rv = chunk_dir_check(t->s, len, &errstr);
	else
		rv = chunk_name_check(t->s, len, &dirlen, &errstr);
	if (t->why == NULL) {
		is_int(rv, 0, "%s %s: accepted", isdir ? "dir" : "name",
		    t->name);
		if (!isdir)
			is_int(dirlen, t->dirlen, "name %s: dirlen", t->name);
	} else {
		is_int(rv, -1, "%s %s: refused", isdir ? "dir" : "name",
		    t->name);
		is_str(errstr, t->why, "%s %s: reason", isdir ? "dir" : "name",
		    t->name);
	}
}

static void
check_names(void)
{
	size_t	 i;

	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		run(&names[i], 0);
}

static void
check_dirs(void)
{
	size_t	 i;

	for (i = 0; i < sizeof(dirs) / sizeof(dirs[0]); i++)
		run(&dirs[i], 1);
}

static void
check_lengths(void)
{
	char		 buf[CHUNK_NAME_MAX + 16];
	const char	*errstr;
	size_t		 dirlen;

	/* DIR of 32 and NAME of 200: the longest name there is. */
	memset(buf, 'd', CHUNK_DIR_MAX);
	buf[CHUNK_DIR_MAX] = '/';
	memset(buf + CHUNK_DIR_MAX + 1, 'n', CHUNK_BASE_MAX);
	is_int(chunk_name_check(buf, CHUNK_NAME_MAX, &dirlen, &errstr), 0,
	    "name of %d bytes, DIR 32 and NAME 200", CHUNK_NAME_MAX);
	is_int(dirlen, CHUNK_DIR_MAX, "its dirlen");
	is_int(chunk_dir_check(buf, CHUNK_DIR_MAX, &errstr), 0,
	    "DIR of 32 bytes");
	is_int(chunk_base_check(buf + CHUNK_DIR_MAX + 1, CHUNK_BASE_MAX,
	    &errstr), 0, "NAME of 200 bytes");

	/* DIR of 33 */
	memset(buf, 'd', CHUNK_DIR_MAX + 1);
	buf[CHUNK_DIR_MAX + 1] = '/';
	buf[CHUNK_DIR_MAX + 2] = 'n';
	is_int(chunk_name_check(buf, CHUNK_DIR_MAX + 3, &dirlen, &errstr), -1,
	    "DIR of 33 bytes refused");
	is_str(errstr, "directory longer than 32 bytes", "its reason");
	is_int(chunk_dir_check(buf, CHUNK_DIR_MAX + 1, &errstr), -1,
	    "DIR of 33 bytes refused by chunk_dir_check");

	/* NAME of 201 */
	buf[0] = 'd';
	buf[1] = '/';
	memset(buf + 2, 'n', CHUNK_BASE_MAX + 1);
	is_int(chunk_name_check(buf, CHUNK_BASE_MAX + 3, &dirlen, &errstr), -1,
	    "NAME of 201 bytes refused");
	is_str(errstr, "name longer than 200 bytes", "its reason");
	is_int(chunk_base_check(buf + 2, CHUNK_BASE_MAX + 1, &errstr), -1,
	    "NAME of 201 bytes refused by chunk_base_check");

	/* The length is what counts, not a NUL: a prefix is fine. */
	is_int(chunk_name_check("a/bc", 3, &dirlen, &errstr), 0,
	    "len shorter than the string: its prefix is checked");
	is_int(chunk_name_check("a/b", 1, &dirlen, &errstr), -1,
	    "len 1 of \"a/b\" has no slash");
	is_int(chunk_dir_check("ab", 0, &errstr), -1, "DIR of len 0");

	/* A NAME alone, as LIST's start name: any '/' is one too many. */
	is_int(chunk_base_check("b/c", 3, &errstr), -1, "NAME \"b/c\"");
	is_str(errstr, "'/' in the name", "its reason");
	is_int(chunk_base_check(".b/c", 4, &errstr), -1, "NAME \".b/c\"");
	is_str(errstr, "name starts with a dot", "its reason: the dot first");
}

int
main(void)
{
	check_names();
	check_dirs();
	check_lengths();
	return (tap_done());
}
