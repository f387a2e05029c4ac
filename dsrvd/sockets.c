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
 * What the parent opens and checks as root before any child exists:
 * listening sockets, the control socket, users, the chroot directory
 * and the data directory.  Each function reports failure as text in
 * the caller's buffer, so start-up can print it and reload can log it.
 */
#include <sys/types.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <netinet/in.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "parent.h"

static int	 is_mountpoint(const char *, char *, size_t);

int
listen_open(struct listen_addr *la, char *err, size_t errlen)
{
	char	 addr[300];
	int	 fd, on = 1;

	(void)listen_addr_str(la, addr, sizeof(addr));
	fd = socket(la->ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC |
	    SOCK_NONBLOCK, 0);
	if (fd == -1) {
		(void)snprintf(err, errlen, "listen on %s: socket: %s", addr,
		    strerror(errno));
		return -1;
	}
	if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof(on)) == -1)
		goto fail;
	if (la->ss.ss_family == AF_INET6 && setsockopt(fd, IPPROTO_IPV6,
	    IPV6_V6ONLY, &on, sizeof(on)) == -1)
		goto fail;
	if (bind(fd, (struct sockaddr *)&la->ss, la->sslen) == -1)
		goto fail;
	if (listen(fd, SOMAXCONN) == -1)
		goto fail;
	return fd;
 fail:
	(void)snprintf(err, errlen, "listen on %s: %s", addr, strerror(errno));
	(void)close(fd);
	return -1;
}

/*
 * The control socket: refuse to steal the socket of a running daemon,
 * remove a stale one, and create it usable by root only.
 */
int
control_open(const char *path, char *err, size_t errlen)
{
	struct sockaddr_un	 sun;
	mode_t			 old_umask;
	int			 fd;

	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	if (strlcpy(sun.sun_path, path, sizeof(sun.sun_path)) >=
	    sizeof(sun.sun_path)) {
		(void)snprintf(err, errlen, "control socket %s: path too long",
		    path);
		return -1;
	}
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) == -1) {
		(void)snprintf(err, errlen, "control socket: %s",
		    strerror(errno));
		return -1;
	}
	if (connect(fd, (struct sockaddr *)&sun, sizeof(sun)) == 0) {
		(void)close(fd);
		(void)snprintf(err, errlen, "control socket %s is in use: "
		    "is another dsrvd running?", path);
		return -1;
	}
	(void)close(fd);
	if (unlink(path) == -1 && errno != ENOENT) {
		(void)snprintf(err, errlen, "control socket %s: unlink: %s",
		    path, strerror(errno));
		return -1;
	}

	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd == -1) {
		(void)snprintf(err, errlen, "control socket: %s",
		    strerror(errno));
		return -1;
	}
	old_umask = umask(S_IXUSR | S_IRWXG | S_IRWXO);
	if (bind(fd, (struct sockaddr *)&sun, sizeof(sun)) == -1) {
		(void)snprintf(err, errlen, "control socket %s: bind: %s",
		    path, strerror(errno));
		(void)umask(old_umask);
		(void)close(fd);
		return -1;
	}
	(void)umask(old_umask);
	if (chmod(path, S_IRUSR | S_IWUSR) == -1 ||
	    chown(path, 0, 0) == -1 || listen(fd, CTL_MAX_CLIENTS) == -1) {
		(void)snprintf(err, errlen, "control socket %s: %s", path,
		    strerror(errno));
		(void)unlink(path);
		(void)close(fd);
		return -1;
	}
	return fd;
}

int
lookup_user(const char *name, uid_t *uid, gid_t *gid, char *err,
    size_t errlen)
{
	struct passwd	*pw;

	errno = 0;
	if ((pw = getpwnam(name)) == NULL) {
		if (errno != 0)
			(void)snprintf(err, errlen, "user %s: %s", name,
			    strerror(errno));
		else
			(void)snprintf(err, errlen, "unknown user %s", name);
		return -1;
	}
	if (pw->pw_uid == 0) {
		(void)snprintf(err, errlen, "user %s is root: the children "
		    "must run unprivileged", name);
		return -1;
	}
	*uid = pw->pw_uid;
	*gid = pw->pw_gid;
	return 0;
}

/* The network and crypto chroot: root's, and nobody else may write. */
int
check_chroot(const char *path, char *err, size_t errlen)
{
	struct stat	 st;

	if (stat(path, &st) == -1) {
		(void)snprintf(err, errlen, "chroot directory %s: %s", path,
		    strerror(errno));
		return -1;
	}
	if (!S_ISDIR(st.st_mode)) {
		(void)snprintf(err, errlen, "chroot directory %s: not a "
		    "directory", path);
		return -1;
	}
	if (st.st_uid != 0 || (st.st_mode & (S_IWGRP | S_IWOTH)) != 0) {
		(void)snprintf(err, errlen, "chroot directory %s must be "
		    "owned by root and not writable by group or others", path);
		return -1;
	}
	return 0;
}

/*
 * Find path among the mount points in /proc/self/mountinfo (the fifth
 * field, with spaces and the like escaped as octal).
 */
static int
is_mountpoint(const char *path, char *err, size_t errlen)
{
	FILE	*fp;
	char	*line = NULL, *p, *mnt, real[PATH_MAX], dec[PATH_MAX];
	size_t	 sz = 0, i, j;
	int	 field, found = 0;

	if (realpath(path, real) == NULL) {
		(void)snprintf(err, errlen, "data directory %s: %s", path,
		    strerror(errno));
		return -1;
	}
	if ((fp = fopen("/proc/self/mountinfo", "re")) == NULL) {
		(void)snprintf(err, errlen, "/proc/self/mountinfo: %s",
		    strerror(errno));
		return -1;
	}
	while (!found && getline(&line, &sz, fp) != -1) {
		mnt = NULL;
		p = line;
		for (field = 0; field < 5 && p != NULL; field++) {
			mnt = strsep(&p, " ");
		}
		if (field < 5 || mnt == NULL)
			continue;
		for (i = 0, j = 0; mnt[i] != '\0' && j < sizeof(dec) - 1;
		    j++) {
			if (mnt[i] == '\\' && mnt[i + 1] >= '0' &&
			    mnt[i + 1] <= '3' && mnt[i + 2] != '\0' &&
			    mnt[i + 3] != '\0') {
				dec[j] = (char)(((mnt[i + 1] - '0') << 6) |
				    ((mnt[i + 2] - '0') << 3) |
				    (mnt[i + 3] - '0'));
				i += 4;
			} else
				dec[j] = mnt[i++];
		}
		dec[j] = '\0';
		if (strcmp(dec, real) == 0)
			found = 1;
	}
	free(line);
	if (ferror(fp)) {
		(void)snprintf(err, errlen, "/proc/self/mountinfo: read error");
		(void)fclose(fp);
		return -1;
	}
	(void)fclose(fp);
	return found;
}

/*
 * The data directory must exist (dsrvd never creates it: a missing one
 * usually means a disk that did not mount) and belong to root or to the
 * storage user (as an older dsrvd left it); parent_store.c then makes
 * it root's, readable by the storage group and append-only.
 */
int
check_datadir(const struct dsrvd_conf *conf, uid_t suid, char *err,
    size_t errlen)
{
	struct stat	 st;
	int		 fd, r;

	fd = open(conf->datadir, O_RDONLY | O_DIRECTORY | O_CLOEXEC |
	    O_NOFOLLOW);
	if (fd == -1) {
		(void)snprintf(err, errlen, "data directory %s: %s",
		    conf->datadir, strerror(errno));
		return -1;
	}
	if (fstat(fd, &st) == -1) {
		(void)snprintf(err, errlen, "data directory %s: %s",
		    conf->datadir, strerror(errno));
		(void)close(fd);
		return -1;
	}
	if (conf->require_mount) {
		if ((r = is_mountpoint(conf->datadir, err, errlen)) == -1) {
			(void)close(fd);
			return -1;
		}
		if (r == 0) {
			(void)snprintf(err, errlen, "data directory %s is not "
			    "a mount point (require mount)", conf->datadir);
			(void)close(fd);
			return -1;
		}
	}
	if (st.st_uid != 0 && st.st_uid != suid) {
		(void)snprintf(err, errlen, "data directory %s is owned by "
		    "uid %u, not by the storage user %s", conf->datadir,
		    (unsigned int)st.st_uid, conf->storage_user);
		(void)close(fd);
		return -1;
	}
	(void)close(fd);
	return 0;
}
