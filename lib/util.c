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
 * Small shared helpers (see util.h): a leaf of lib/, used by the client
 * library, the file layer, dctl and the test tools alike.
 */
#include <sys/types.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* libbsd warns about its two strnvis(3) unless told which one. */
#define LIBBSD_OPENBSD_VIS
#include <vis.h>

#include "util.h"

/* One line per message: newlines and tabs are escaped too. */
#define DSRV_VIS_FLAGS	(VIS_OCTAL | VIS_CSTYLE | VIS_TAB | VIS_NL)

int
dsrv_write_all(int fd, const void *buf, size_t len)
{
	const unsigned char	*p = buf;
	ssize_t			 n;

	while (len > 0) {
		if ((n = write(fd, p, len)) == -1) {
			if (errno == EINTR)
				continue;
			return (-1);
		}
		p += n;
		len -= (size_t)n;
	}
	return (0);
}

size_t
dsrv_utf8_len(const char *str)
{
	const unsigned char	*s = (const unsigned char *)str;
	unsigned char		 c = s[0], lo = 0x80, hi = 0xbf;
	size_t			 n, i;

	if (c >= 0xc2 && c <= 0xdf)
		n = 2;
	else if (c >= 0xe0 && c <= 0xef) {
		n = 3;
		if (c == 0xe0)
			lo = 0xa0;		/* no overlong forms */
		else if (c == 0xed)
			hi = 0x9f;		/* no surrogates */
	} else if (c >= 0xf0 && c <= 0xf4) {
		n = 4;
		if (c == 0xf0)
			lo = 0x90;
		else if (c == 0xf4)
			hi = 0x8f;		/* nothing above U+10FFFF */
	} else
		return (0);
	if (s[1] < lo || s[1] > hi)
		return (0);
	for (i = 2; i < n; i++)
		if (s[i] < 0x80 || s[i] > 0xbf)
			return (0);
	return (n);
}

/*
 * vis(3) one character at a time: strnvis(3) of libbsd leaves dst
 * unterminated when src does not fit, and in the C locale it would
 * escape the UTF-8 of names that a terminal shows well.  Valid UTF-8
 * passes, but not the C1 controls (U+0080..U+009F), which some
 * terminals obey.
 */
void
dsrv_vis(char *dst, size_t dstsize, const char *src)
{
	char		 enc[5], *end;
	const char	*p;
	size_t		 off = 0, n, len;

	if (dstsize == 0)
		return;
	for (; *src != '\0'; src += len) {
		if ((len = dsrv_utf8_len(src)) > 0 &&
		    !((unsigned char)src[0] == 0xc2 &&
		    (unsigned char)src[1] < 0xa0)) {
			p = src;
			n = len;
		} else {
			end = vis(enc, (unsigned char)*src, DSRV_VIS_FLAGS,
			    src[1]);
			p = enc;
			n = (size_t)(end - enc);
			len = 1;
		}
		if (off + n >= dstsize)
			break;
		memcpy(dst + off, p, n);
		off += n;
	}
	dst[off] = '\0';
}

char *
dsrv_avis(const char *src)
{
	char	*dst;
	size_t	 size;

	/* No escape is longer than four bytes. */
	size = 4 * strlen(src) + 1;
	if ((dst = malloc(size)) == NULL)
		return (NULL);
	dsrv_vis(dst, size, src);
	return (dst);
}
