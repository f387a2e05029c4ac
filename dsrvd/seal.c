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
 * It also counts flush failures across all storage workers, puts the
 * store into read-only mode after FLUSH_FAIL_MAX in a row, and relays
 * dctl's scrub request to storage 0.
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

#include "log.h"
#include "parent.h"

#define PROBE_NAME	"probe"

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
storage_probe(const struct dsrvd_conf *conf, char *err, size_t errlen)
{
	struct stat	 sb;
	int		 dfd, tfd = -1, fd = -1, flags, r = -1;

	penv.immutable = 0;
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
	if ((sb.st_uid != penv.suid || sb.st_gid != penv.sgid) &&
	    fchown(tfd, penv.suid, penv.sgid) == -1) {
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
		(void)snprintf(penv.immutable_why, sizeof(penv.immutable_why),
		    "file system has no inode flags (%s)", strerror(errno));
	else if ((flags |= FS_IMMUTABLE_FL),
	    ioctl(fd, FS_IOC_SETFLAGS, &flags) == -1)
		(void)snprintf(penv.immutable_why, sizeof(penv.immutable_why),
		    "%s", strerror(errno));
	else {
		penv.immutable = 1;
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
	if (!penv.immutable)
		log_warnx("cannot set the immutable flag on %s: %s; stored "
		    "chunks are not protected from deletion", conf->datadir,
		    penv.immutable_why);
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
parent_dispatch_seal(struct imsgev *iev, struct imsg *imsg)
{
	struct child	*c = iev->arg;
	struct st_seal	 seal;
	struct stat	 sb;
	int		 fd, flags;

	if ((fd = imsg_get_fd(imsg)) == -1 ||
	    imsg_get_data(imsg, &seal, sizeof(seal)) == -1)
		fatalx("%s: bad message from %s", __func__, c->label);
	seal.name[sizeof(seal.name) - 1] = '\0';
	seal.ok = 0;
	seal.msg[0] = '\0';
	if (fstat(fd, &sb) == -1)
		(void)snprintf(seal.msg, sizeof(seal.msg), "fstat: %s",
		    strerror(errno));
	else if (!S_ISREG(sb.st_mode))
		(void)strlcpy(seal.msg, "not a regular file",
		    sizeof(seal.msg));
	else if (sb.st_nlink != 1)
		(void)snprintf(seal.msg, sizeof(seal.msg), "%lu links",
		    (unsigned long)sb.st_nlink);
	else if (sb.st_uid != penv.suid)
		(void)snprintf(seal.msg, sizeof(seal.msg), "owned by uid %u",
		    (unsigned int)sb.st_uid);
	else if ((uint64_t)sb.st_size != seal.size)
		(void)snprintf(seal.msg, sizeof(seal.msg), "%lld bytes, "
		    "expected %llu", (long long)sb.st_size,
		    (unsigned long long)seal.size);
	else if (!penv.immutable)
		seal.ok = 1;		/* logged once at start */
	else if (ioctl(fd, FS_IOC_GETFLAGS, &flags) == -1)
		(void)snprintf(seal.msg, sizeof(seal.msg), "get flags: %s",
		    strerror(errno));
	else if (flags & FS_IMMUTABLE_FL)
		seal.ok = 1;
	else if ((flags |= FS_IMMUTABLE_FL),
	    ioctl(fd, FS_IOC_SETFLAGS, &flags) == -1)
		(void)snprintf(seal.msg, sizeof(seal.msg), "set flags: %s",
		    strerror(errno));
	else {
		seal.ok = 1;
		penv.chunks_sealed++;
	}
	(void)close(fd);
	if (!seal.ok) {
		penv.seal_failures++;
		log_warnx("cannot make chunk %s immutable: %s", seal.name,
		    seal.msg);
	}
	/* A commit went all the way: the disk takes flushes again. */
	if (seal.id != 0)
		penv.flush_row = 0;
	child_compose(c, IMSG_ST_SEALED, 0, -1, &seal, sizeof(seal));
}

void
parent_dispatch_flushfail(struct imsgev *iev, struct imsg *imsg)
{
	struct child	*c = iev->arg;
	char		 why[CTL_MSG_MAX];
	int		 i;

	if (imsg->datalen == 0 || imsg->datalen > sizeof(why) ||
	    ((char *)imsg->data)[imsg->datalen - 1] != '\0')
		fatalx("%s: bad message from %s", __func__, c->label);
	memcpy(why, imsg->data, imsg->datalen);
	if (penv.readonly || ++penv.flush_row < FLUSH_FAIL_MAX)
		return;
	penv.readonly = 1;
	if (snprintf(penv.storage_msg, sizeof(penv.storage_msg),
	    "%d flush failures in a row, the last %.180s", penv.flush_row,
	    why) < 0)
		fatal("snprintf");
	log_warnx("storage is read-only after %d flush failures: the last "
	    "%s; chunks can still be read; restart dsrvd once the disk is "
	    "sound", penv.flush_row, why);
	for (i = 0; i < penv.nchildren; i++)
		if (penv.children[i].role == PROC_STORAGE)
			child_compose(&penv.children[i], IMSG_ST_READONLY, 0,
			    -1, penv.storage_msg, strlen(penv.storage_msg) + 1);
}

/* dctl scrub --local: storage 0 does it and answers. */
void
parent_dispatch_ctl_scrub(struct imsgev *iev, struct imsg *imsg)
{
	struct ctl_scrub	 cs;
	int			 i;

	if (imsg_get_data(imsg, &cs, sizeof(cs)) == -1)
		fatalx("%s: bad size %zu", __func__, imsg->datalen);
	for (i = 0; i < penv.nchildren; i++)
		if (penv.children[i].role == PROC_STORAGE &&
		    penv.children[i].instance == 0)
			break;
	if (i == penv.nchildren || penv.children[i].iev.dead) {
		parent_ctl_result(imsg->hdr.peerid, ENXIO, "no storage "
		    "process to scrub with");
		return;
	}
	log_info("scrub requested by dctl");
	child_compose(&penv.children[i], IMSG_ST_SCRUB, imsg->hdr.peerid, -1,
	    &cs, sizeof(cs));
}

void
parent_dispatch_scrub_result(struct imsgev *iev, struct imsg *imsg)
{
	struct ctl_result	 r;
	struct child		*n0;

	if (imsg_get_data(imsg, &r, sizeof(r)) == -1)
		fatalx("%s: bad size %zu", __func__, imsg->datalen);
	r.msg[sizeof(r.msg) - 1] = '\0';
	if ((n0 = network0()) != NULL)
		child_compose(n0, IMSG_CTL_RESULT, imsg->hdr.peerid, -1, &r,
		    sizeof(r));
}
