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
 * Pre-shared key files: one line of standard base64 holding exactly
 * KEY_LEN bytes.  Like ssh(1) with private keys, a file that others
 * could read is refused: such a key must be assumed to be known.
 */

#include <sys/types.h>
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <sodium.h>

#include "conf.h"

/* 44 characters of base64 and a newline, with room to spot more. */
#define KEYFILE_MAX	128

static const char	 notakey[] =
    "not a dsrvd key (expected 32 bytes in base64)";

int
key_load(const char *path, uint8_t key[KEY_LEN], char *errbuf,
    size_t errlen)
{
	struct stat	 st;
	char		 buf[KEYFILE_MAX];
	size_t		 len = 0, binlen;
	const char	*end;
	ssize_t		 n;
	int		 fd, ret = -1;

	/* O_NONBLOCK: a FIFO in place of the key must not hang us. */
	if ((fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW |
	    O_NONBLOCK)) == -1) {
		if (errno == ELOOP)
			(void)snprintf(errbuf, errlen,
			    "%s: is a symbolic link", path);
		else
			(void)snprintf(errbuf, errlen, "%s: %s", path,
			    strerror(errno));
		return (-1);
	}
	if (fstat(fd, &st) == -1) {
		(void)snprintf(errbuf, errlen, "%s: %s", path, strerror(errno));
		goto done;
	}
	if (!S_ISREG(st.st_mode)) {
		(void)snprintf(errbuf, errlen, "%s: not a regular file", path);
		goto done;
	}
	if (st.st_uid != 0 && st.st_uid != geteuid()) {
		if (geteuid() == 0)
			(void)snprintf(errbuf, errlen, "%s: not owned by root",
			    path);
		else
			(void)snprintf(errbuf, errlen, "%s: not owned by root "
			    "or uid %u", path, (unsigned int)geteuid());
		goto done;
	}
	if (st.st_mode & 077) {
		(void)snprintf(errbuf, errlen, "%s: bad permissions %04o, "
		    "must not be accessible by group or others (like ssh)",
		    path, (unsigned int)(st.st_mode & 07777));
		goto done;
	}

	for (;;) {
		if (len == sizeof(buf)) {
			(void)snprintf(errbuf, errlen, "%s: %s", path, notakey);
			goto done;
		}
		n = read(fd, buf + len, sizeof(buf) - len);
		if (n == -1) {
			if (errno == EINTR)
				continue;
			(void)snprintf(errbuf, errlen, "%s: %s", path,
			    strerror(errno));
			goto done;
		}
		if (n == 0)
			break;
		len += (size_t)n;
	}
	if (len > 0 && buf[len - 1] == '\n')
		len--;
	if (sodium_base642bin(key, KEY_LEN, buf, len, NULL, &binlen, &end,
	    sodium_base64_VARIANT_ORIGINAL) != 0 || binlen != KEY_LEN ||
	    end != buf + len) {
		explicit_bzero(key, KEY_LEN);
		(void)snprintf(errbuf, errlen, "%s: %s", path, notakey);
		goto done;
	}
	ret = 0;
 done:
	explicit_bzero(buf, sizeof(buf));
	(void)close(fd);
	return (ret);
}
