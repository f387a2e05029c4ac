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
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* libbsd warns about its two strnvis(3) unless told which one. */
#define LIBBSD_OPENBSD_VIS
#include <vis.h>

#include "util.h"

/* One line per message: newlines and tabs are escaped too. */
#define DSRV_VIS_FLAGS	(VIS_OCTAL | VIS_CSTYLE | VIS_TAB | VIS_NL)

static void	 vis_text(char *, size_t, const char *, int);

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

size_t
dsrv_utf8_decode(const char *str, uint32_t *cp)
{
	const unsigned char	*s = (const unsigned char *)str;
	size_t			 n;

	*cp = 0;
	switch ((n = dsrv_utf8_len(str))) {
	case 0:
		break;
	case 2:
		*cp = (uint32_t)(s[0] & 0x1f) << 6 | (s[1] & 0x3f);
		break;
	case 3:
		*cp = (uint32_t)(s[0] & 0x0f) << 12 |
		    (uint32_t)(s[1] & 0x3f) << 6 | (s[2] & 0x3f);
		break;
	default:
		*cp = (uint32_t)(s[0] & 0x07) << 18 |
		    (uint32_t)(s[1] & 0x3f) << 12 |
		    (uint32_t)(s[2] & 0x3f) << 6 | (s[3] & 0x3f);
		break;
	}
	return (n);
}

int
dsrv_utf8_shown(uint32_t cp)
{
	/*
	 * C0 and C1 controls and DEL, which some terminals obey (U+009B
	 * is CSI); line and paragraph separators; the bidirectional
	 * marks, embeddings, overrides and isolates, which can show a
	 * name ending in ".exe" as one ending in "exe.txt".
	 */
	if (cp < 0x20 || (cp >= 0x7f && cp <= 0x9f) || cp == 0x061c ||
	    cp == 0x200e || cp == 0x200f || (cp >= 0x2028 && cp <= 0x202e) ||
	    (cp >= 0x2066 && cp <= 0x2069))
		return (0);
	return (1);
}

/*
 * vis(3) one character at a time: strnvis(3) of libbsd leaves dst
 * unterminated when src does not fit, and in the C locale it would
 * escape the UTF-8 of names that a terminal shows well.  Valid UTF-8
 * passes when dsrv_utf8_shown() says so; every byte of what does not
 * pass becomes an octal escape, whatever the locale, and ASCII goes
 * through vis(3).
 */
void
dsrv_vis(char *dst, size_t dstsize, const char *src)
{
	vis_text(dst, dstsize, src, DSRV_VIS_FLAGS);
}

void
dsrv_safe(char *dst, size_t dstsize, const char *src)
{
	vis_text(dst, dstsize, src, DSRV_VIS_FLAGS | VIS_NOSLASH);
}

static void
vis_text(char *dst, size_t dstsize, const char *src, int flags)
{
	char		 enc[5], *end;
	const char	*p;
	uint32_t	 cp;
	size_t		 off = 0, n, len, i;

	if (dstsize == 0)
		return;
	for (; *src != '\0'; src += len) {
		len = (unsigned char)src[0] >= 0x80 ?
		    dsrv_utf8_decode(src, &cp) : 0;
		if (len > 0 && dsrv_utf8_shown(cp)) {
			p = src;
			n = len;
		} else if ((unsigned char)src[0] >= 0x80) {
			/* Not shown: each of its bytes, or the one byte. */
			if (len == 0)
				len = 1;
			if (off + 4 * len >= dstsize)
				break;
			for (i = 0; i < len; i++) {
				(void)snprintf(dst + off, 5, "\\%03o",
				    (unsigned char)src[i]);
				off += 4;
			}
			continue;
		} else {
			end = vis(enc, (unsigned char)*src, flags, src[1]);
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
