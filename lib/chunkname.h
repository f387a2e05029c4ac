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
 * Chunk names: DIR/NAME, one directory level.  Both parts come from
 * [A-Za-z0-9._-] and do not start with a dot, so no name can be ".",
 * "..", hidden, or reach outside its directory.  The server checks
 * every name with these before any file system call; the client checks
 * before it sends.  Namespaces and LIST requests use the DIR rules.
 */
#ifndef DSRV_CHUNKNAME_H
#define DSRV_CHUNKNAME_H

#include <stddef.h>

#define CHUNK_DIR_MAX	32
#define CHUNK_BASE_MAX	200
/* DIR, the slash and NAME */
#define CHUNK_NAME_MAX	(CHUNK_DIR_MAX + 1 + CHUNK_BASE_MAX)

/* 0 if s[0..len) is a valid DIR; -1 with a static reason in *errstr. */
int	chunk_dir_check(const char *s, size_t len, const char **errstr);
/* 0 if s[0..len) is a valid NAME (the part after the slash). */
int	chunk_base_check(const char *s, size_t len, const char **errstr);
/* 0 if s[0..len) is a valid DIR/NAME; *dirlen = length of DIR. */
int	chunk_name_check(const char *s, size_t len, size_t *dirlen,
	    const char **errstr);

#endif /* DSRV_CHUNKNAME_H */
