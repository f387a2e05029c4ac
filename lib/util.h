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
 * Small helpers that the client library, dctl and the tools share
 * instead of keeping copies: writing a whole buffer, and making text
 * that came from the network or a user safe for a terminal.  They call
 * nothing else in lib/.
 */
#ifndef DSRV_UTIL_H
#define DSRV_UTIL_H

#include <stddef.h>
#include <stdint.h>

/* All of len bytes, retrying short writes and EINTR; -1 with errno. */
int	 dsrv_write_all(int, const void *, size_t);
/*
 * src for a terminal line: every control character (C0, DEL, C1),
 * byte that is not part of valid UTF-8, line or paragraph separator,
 * bidirectional control (U+202E, ...) and backslash as a vis(3)
 * escape (\n, \t, \033, \\, and \302\233 for each byte of U+009B),
 * cut at dstsize without splitting an escape or a character.  dst and
 * src must not overlap.
 */
void	 dsrv_vis(char *dst, size_t dstsize, const char *src);
/* The same, the whole of src in a string of its own; NULL: no memory. */
char	*dsrv_avis(const char *);
/*
 * dsrv_vis() that leaves backslashes alone: text that may hold escapes
 * already (dsrv_vis' output passes unchanged) made safe for a terminal
 * all the same.
 */
void	 dsrv_safe(char *dst, size_t dstsize, const char *src);
/* The length of the valid UTF-8 sequence at s, or 0. */
size_t	 dsrv_utf8_len(const char *);
/* The same, with the code point it encodes in *cp (0 when invalid). */
size_t	 dsrv_utf8_decode(const char *, uint32_t *cp);
/*
 * May a terminal show this code point as it is?  Not controls (C0,
 * DEL, C1), line and paragraph separators or bidirectional controls
 * (U+061C, U+200E, U+200F, U+202A..U+202E, U+2066..U+2069).
 */
int	 dsrv_utf8_shown(uint32_t);

#endif /* DSRV_UTIL_H */
