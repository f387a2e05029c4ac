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
 * Where fetched data goes (dctl get, dctl chunk get).  A regular file,
 * or a name not yet taken, is written under a temporary name next to it
 * and renamed into place only once everything is in and verified, so a
 * failure or a signal never leaves wrong data under the name.  Anything
 * else (a device, a FIFO, a symbolic link) is written through, and "-"
 * is standard output.
 */
#include <sys/types.h>
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "dctl.h"

static char			 tmp_path[PATH_MAX];
static volatile sig_atomic_t	 tmp_set;

static void
tmp_signal(int sig)
{
	if (tmp_set)
		(void)unlink(tmp_path);
	(void)signal(sig, SIG_DFL);
	(void)raise(sig);
}

/* Until the commit or abort, a signal that ends dctl takes it along. */
static void
tmp_guard(const char *path)
{
	struct sigaction	 sa;

	(void)strlcpy(tmp_path, path, sizeof(tmp_path));
	tmp_set = 1;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = tmp_signal;
	(void)sigemptyset(&sa.sa_mask);
	(void)sigaction(SIGINT, &sa, NULL);
	(void)sigaction(SIGTERM, &sa, NULL);
	(void)sigaction(SIGHUP, &sa, NULL);
	(void)sigaction(SIGPIPE, &sa, NULL);
}

void
out_open(struct outfile *o, const char *path)
{
	struct stat	 st;
	mode_t		 mask;

	memset(o, 0, sizeof(*o));
	o->path = path;
	if (path == NULL || strcmp(path, "-") == 0) {
		o->path = "stdout";
		o->fd = STDOUT_FILENO;
		o->through = 1;
		return;
	}
	mask = umask(0);
	(void)umask(mask);
	o->mode = 0666 & ~mask;
	if (lstat(path, &st) == 0) {
		if (S_ISREG(st.st_mode))
			o->mode = st.st_mode & 07777;
		else
			o->through = 1;
	} else if (errno != ENOENT)
		die("%s: %s", path, strerror(errno));
	if (o->through) {
		if ((o->fd = open(path, O_WRONLY | O_TRUNC | O_CLOEXEC |
		    O_NOCTTY)) == -1)
			die("%s: %s", path, strerror(errno));
		return;
	}
	if ((size_t)snprintf(o->tmp, sizeof(o->tmp), "%s.XXXXXX", path) >=
	    sizeof(o->tmp))
		die("%s: path too long", path);
	if ((o->fd = mkostemp(o->tmp, O_CLOEXEC)) == -1)
		die("%s: %s", path, strerror(errno));
	tmp_guard(o->tmp);
}

/* Flushed first: a restore that says it is done should be on disk. */
void
out_commit(struct outfile *o)
{
	const char	*what;
	int		 saved;

	if (o->through) {
		if (o->fd != STDOUT_FILENO && close(o->fd) == -1)
			die("%s: %s", o->path, strerror(errno));
		return;
	}
	what = "fsync";
	if (fsync(o->fd) == -1)
		goto fail;
	what = "fchmod";
	if (fchmod(o->fd, o->mode) == -1)
		goto fail;
	what = "close";
	if (close(o->fd) == -1) {
		o->fd = -1;
		goto fail;
	}
	o->fd = -1;
	what = "rename";
	if (rename(o->tmp, o->path) == -1)
		goto fail;
	tmp_set = 0;
	return;
 fail:
	saved = errno;
	out_abort(o);
	die("%s: %s: %s", o->path, what, strerror(saved));
}

void
out_abort(struct outfile *o)
{
	if (o->through)
		return;
	if (o->fd != -1)
		(void)close(o->fd);
	o->fd = -1;
	(void)unlink(o->tmp);
	tmp_set = 0;
}
