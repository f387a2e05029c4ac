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
 * The parent's part in storage.  At start it checks that the data
 * directory's file system keeps extended attributes (every chunk's
 * crc32 lives in one) and whether it takes the immutable flag.  While
 * running it makes every committed chunk immutable: the storage process
 * passes the chunk's fd, the parent checks that it is what a fresh
 * chunk looks like and sets FS_IMMUTABLE_FL, which only root can set
 * or clear.  A compromised storage process can therefore add chunks but
 * never change or remove one.  The parent never clears the flag.
 *
 * It also counts flush failures across all storage workers and puts
 * the store into read-only mode after FLUSH_FAIL_MAX in a row.  The
 * state is its own; parent.c reads it for dctl status.
 */
#include <sys/types.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <linux/fs.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "dsrvd.h"
#include "log.h"
#include "parent.h"

#define PROBE_NAME	"probe"
#define FLUSH_FAIL_MAX	3	/* in a row, then read-only */

static struct {
	uid_t		 suid;		/* the storage user */
	int		 immutable;	/* the fs takes the flag */
	char		 immutable_why[CTL_MSG_MAX];
	int		 readonly;
	char		 readonly_why[CTL_MSG_MAX];
	int		 flush_row;	/* failures in a row */
	uint64_t	 chunks_sealed;
	uint64_t	 seal_failures;
} seal;

/* Clear the flag an interrupted earlier probe may have left. */
static void
probe_unflag(int tfd)
{
	int	 fd, flags;

	if ((fd = openat(tfd, PROBE_NAME, O_RDONLY | O_NOFOLLOW | O_NONBLOCK |
	    O_CLOEXEC)) == -1)
		return;
	if (ioctl(fd, FS_IOC_GETFLAGS, &flags) == 0 &&
	    (flags & FS_IMMUTABLE_FL)) {
		flags &= ~FS_IMMUTABLE_FL;
		(void)ioctl(fd, FS_IOC_SETFLAGS, &flags);
	}
	(void)close(fd);
}

int
seal_probe(const struct dsrvd_conf *conf, uid_t suid, gid_t sgid, char *err,
    size_t errlen)
{
	struct stat	 sb;
	int		 dfd, tfd = -1, fd = -1, flags, r = -1;

	seal.suid = suid;
	seal.immutable = 0;
	if ((dfd = open(conf->datadir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW |
	    O_CLOEXEC)) == -1) {
		(void)snprintf(err, errlen, "data directory %s: %s",
		    conf->datadir, strerror(errno));
		return -1;
	}
	if (mkdirat(dfd, ".tmp", 0700) == -1 && errno != EEXIST) {
		(void)snprintf(err, errlen, "%s/.tmp: %s", conf->datadir,
		    strerror(errno));
		goto done;
	}
	if ((tfd = openat(dfd, ".tmp", O_RDONLY | O_DIRECTORY | O_NOFOLLOW |
	    O_CLOEXEC)) == -1 || fstat(tfd, &sb) == -1) {
		(void)snprintf(err, errlen, "%s/.tmp: %s", conf->datadir,
		    strerror(errno));
		goto done;
	}
	if ((sb.st_uid != suid || sb.st_gid != sgid) &&
	    fchown(tfd, suid, sgid) == -1) {
		(void)snprintf(err, errlen, "%s/.tmp: chown: %s",
		    conf->datadir, strerror(errno));
		goto done;
	}
	if ((sb.st_mode & 07777) != S_IRWXU && fchmod(tfd, S_IRWXU) == -1) {
		(void)snprintf(err, errlen, "%s/.tmp: chmod: %s",
		    conf->datadir, strerror(errno));
		goto done;
	}

	probe_unflag(tfd);
	if (unlinkat(tfd, PROBE_NAME, 0) == -1 && errno != ENOENT) {
		(void)snprintf(err, errlen, "%s/.tmp/%s: %s", conf->datadir,
		    PROBE_NAME, strerror(errno));
		goto done;
	}
	if ((fd = openat(tfd, PROBE_NAME, O_RDWR | O_CREAT | O_EXCL |
	    O_NOFOLLOW | O_CLOEXEC, 0600)) == -1) {
		(void)snprintf(err, errlen, "%s/.tmp/%s: %s", conf->datadir,
		    PROBE_NAME, strerror(errno));
		goto done;
	}
	if (fsetxattr(fd, CHUNK_XATTR, "00000000", 8, 0) == -1) {
		(void)snprintf(err, errlen, "data directory %s: cannot store "
		    "extended attributes (%s); dsrvd keeps each chunk's crc32 "
		    "in one", conf->datadir, strerror(errno));
		goto done;
	}
	if (ioctl(fd, FS_IOC_GETFLAGS, &flags) == -1)
		(void)snprintf(seal.immutable_why, sizeof(seal.immutable_why),
		    "file system has no inode flags (%s)", strerror(errno));
	else if ((flags |= FS_IMMUTABLE_FL),
	    ioctl(fd, FS_IOC_SETFLAGS, &flags) == -1)
		(void)snprintf(seal.immutable_why, sizeof(seal.immutable_why),
		    "%s", strerror(errno));
	else {
		seal.immutable = 1;
		flags &= ~FS_IMMUTABLE_FL;
		if (ioctl(fd, FS_IOC_SETFLAGS, &flags) == -1) {
			(void)snprintf(err, errlen, "%s/.tmp/%s: cannot clear "
			    "the immutable flag: %s", conf->datadir,
			    PROBE_NAME, strerror(errno));
			goto done;
		}
	}
	(void)close(fd);
	fd = -1;
	if (unlinkat(tfd, PROBE_NAME, 0) == -1) {
		(void)snprintf(err, errlen, "%s/.tmp/%s: %s", conf->datadir,
		    PROBE_NAME, strerror(errno));
		goto done;
	}
	if (!seal.immutable)
		log_warnx("cannot set the immutable flag on %s: %s; stored "
		    "chunks are not protected from deletion", conf->datadir,
		    seal.immutable_why);
	r = 0;
 done:
	if (fd != -1) {
		(void)close(fd);
		(void)unlinkat(tfd, PROBE_NAME, 0);
	}
	if (tfd != -1)
		(void)close(tfd);
	(void)close(dfd);
	return r;
}

/*
 * A committed chunk (or, with id 0, one the start-up sweep found
 * unsealed).  Only what a fresh chunk looks like is sealed: a regular
 * file with one link, the storage user's, of the size written.
 */
void
seal_dispatch_seal(struct imsgev *iev, struct imsg *imsg)
{
	struct proc_child	*c = iev->arg;
	struct st_seal		 ss;
	struct stat		 sb;
	int			 fd, flags;

	if (st_seal_get(imsg, &ss) == -1)
		msg_bad(iev, imsg, __func__);
	fd = imsg_get_fd(imsg);
	ss.ok = 0;
	ss.msg[0] = '\0';
	if (fstat(fd, &sb) == -1)
		(void)snprintf(ss.msg, sizeof(ss.msg), "fstat: %s",
		    strerror(errno));
	else if (!S_ISREG(sb.st_mode))
		(void)strlcpy(ss.msg, "not a regular file", sizeof(ss.msg));
	else if (sb.st_nlink != 1)
		(void)snprintf(ss.msg, sizeof(ss.msg), "%lu links",
		    (unsigned long)sb.st_nlink);
	else if (sb.st_uid != seal.suid)
		(void)snprintf(ss.msg, sizeof(ss.msg), "owned by uid %u",
		    (unsigned int)sb.st_uid);
	else if ((uint64_t)sb.st_size != ss.size)
		(void)snprintf(ss.msg, sizeof(ss.msg), "%lld bytes, "
		    "expected %llu", (long long)sb.st_size,
		    (unsigned long long)ss.size);
	else if (!seal.immutable)
		ss.ok = 1;		/* logged once at start */
	else if (ioctl(fd, FS_IOC_GETFLAGS, &flags) == -1)
		(void)snprintf(ss.msg, sizeof(ss.msg), "get flags: %s",
		    strerror(errno));
	else if (flags & FS_IMMUTABLE_FL)
		ss.ok = 1;
	else if ((flags |= FS_IMMUTABLE_FL),
	    ioctl(fd, FS_IOC_SETFLAGS, &flags) == -1)
		(void)snprintf(ss.msg, sizeof(ss.msg), "set flags: %s",
		    strerror(errno));
	else {
		ss.ok = 1;
		seal.chunks_sealed++;
	}
	(void)close(fd);
	if (!ss.ok) {
		seal.seal_failures++;
		log_warnx("cannot make chunk %s immutable: %s", ss.name,
		    ss.msg);
	}
	/* A commit went all the way: the disk takes flushes again. */
	if (ss.id != 0)
		seal.flush_row = 0;
	(void)proc_compose(c->role, c->instance, IMSG_ST_SEALED, 0, -1, &ss,
	    sizeof(ss));
}

void
seal_dispatch_flushfail(struct imsgev *iev, struct imsg *imsg)
{
	char	 why[CTL_MSG_MAX];
	int	 i;

	if (msg_string_get(imsg, why, sizeof(why)) == -1)
		msg_bad(iev, imsg, __func__);
	if (seal.readonly || ++seal.flush_row < FLUSH_FAIL_MAX)
		return;
	seal.readonly = 1;
	if (snprintf(seal.readonly_why, sizeof(seal.readonly_why),
	    "%d flush failures in a row, the last %.180s", seal.flush_row,
	    why) < 0)
		fatal("snprintf");
	log_warnx("storage is read-only after %d flush failures: the last "
	    "%s; chunks can still be read; restart dsrvd once the disk is "
	    "sound", seal.flush_row, why);
	for (i = 0; i < proc_nchildren; i++)
		if (proc_children[i].role == PROC_STORAGE)
			(void)proc_compose(PROC_STORAGE,
			    proc_children[i].instance, IMSG_ST_READONLY, 0,
			    -1, seal.readonly_why,
			    strlen(seal.readonly_why) + 1);
}

int
seal_immutable(void)
{
	return seal.immutable;
}

/* What dctl status says about the store. */
void
seal_status(struct ctl_status_info *info, uint64_t *sealed,
    uint64_t *failures)
{
	info->readonly = seal.readonly;
	info->immutable = seal.immutable;
	(void)strlcpy(info->storage_msg, seal.readonly ? seal.readonly_why :
	    seal.immutable_why, sizeof(info->storage_msg));
	*sealed = seal.chunks_sealed;
	*failures = seal.seal_failures;
}
