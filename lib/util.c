/*
 * Small shared helpers (see util.h): a leaf of lib/, used by the client
 * library, the file layer, dctl and the test tools alike.
 */
#include <sys/types.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* The OpenBSD strnvis(3) argument order, and no warning about it. */
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

/*
 * strnvis(3) of libbsd leaves dst unterminated when src does not fit,
 * so the cut is made here, one vis(3) escape at a time.
 */
void
dsrv_vis(char *dst, size_t dstsize, const char *src)
{
	char	 enc[5], *end;
	size_t	 off = 0, n;

	if (dstsize == 0)
		return;
	for (; *src != '\0'; src++) {
		end = vis(enc, (unsigned char)*src, DSRV_VIS_FLAGS, src[1]);
		n = (size_t)(end - enc);
		if (off + n >= dstsize)
			break;
		memcpy(dst + off, enc, n);
		off += n;
	}
	dst[off] = '\0';
}

char *
dsrv_avis(const char *src)
{
	char	*dst;

	if (stravis(&dst, src, DSRV_VIS_FLAGS) == -1)
		return (NULL);
	return (dst);
}
