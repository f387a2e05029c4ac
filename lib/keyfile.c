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
 *
 * Only the canonical encoding is a key, the one dctl keygen writes: a
 * decoder that skipped a stray byte, or ignored non-zero bits after
 * the last byte, would turn several files into one key, or a damaged
 * file into another key.  libsodium 1.0.18 does both (bytes >= 0x80
 * decode as if they were base64), so the characters are checked here
 * before it sees them.
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
/* ceil(32 / 3) * 4: 43 characters of data and one '='. */
#define KEY_B64_LEN	44

_Static_assert(KEY_LEN == 32, "KEY_B64_LEN is for 32-byte keys");

static int	 key_canonical(const char *, size_t);

static const char	 notakey[] =
    "not a dsrvd key (expected 32 bytes in base64)";

/*
 * The standard base64 of KEY_LEN bytes, nothing else: 43 characters
 * from the alphabet, the last of them with the two bits below the
 * 32nd byte zero, then one '='.
 */
static int
key_canonical(const char *s, size_t len)
{
	static const char	 b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
				    "abcdefghijklmnopqrstuvwxyz0123456789+/";
	const char		*p = NULL;
	size_t			 i;

	if (len != KEY_B64_LEN || s[KEY_B64_LEN - 1] != '=')
		return (0);
	for (i = 0; i < KEY_B64_LEN - 1; i++) {
		if (s[i] == '\0' || (p = strchr(b64, s[i])) == NULL)
			return (0);
	}
	/* 32 bytes are 256 bits; 43 characters carry 258. */
	return (((p - b64) & 3) == 0);
}

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
	if (!key_canonical(buf, len) || sodium_base642bin(key, KEY_LEN, buf, len, NULL, &binlen, &end,
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
