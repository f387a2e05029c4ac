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
 * The store's directories, which only the parent makes or changes.
 *
 * The data directory, .ns, every namespace's directory and every chunk
 * directory belong to root and carry FS_APPEND_FL: an entry can be
 * added to them, never removed, renamed or replaced, by anyone without
 * CAP_LINUX_IMMUTABLE (and the children have no capabilities).  The
 * storage user's group may add entries to chunk directories (mode
 * 0770) and only read and search the others (0750), so it can neither
 * plant a file where a directory will go nor move one.  .tmp is
 * storage's own: the one place it may remove from.
 *
 * Storage asks for a directory a write needs (IMSG_ST_MKDIR); the
 * parent makes it below its own fd of the data directory, opened at
 * start, one component at a time without following links.  Since no
 * child can change a directory the parent walks through, a name it
 * resolves is the chunk storage committed: parent_seal.c uses
 * store_chunk_at() to check a chunk's fd against its name before it
 * seals it.  At start, directories an older dsrvd left to storage are
 * adopted (made root's and append-only).  Nothing here creates a file,
 * so a full file system starts and serves reads.
 */
#include <sys/types.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <linux/fs.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "chunkname.h"
#include "dsrvd.h"
#include "log.h"
#include "parent.h"

#define STORE_TOP_MODE	0750	/* data, .ns, .ns/NS: read and search */
#define STORE_DIR_MODE	0770	/* chunk dirs: storage adds entries */

static struct {
	int		 root;		/* the data directory */
	dev_t		 dev;
	uid_t		 suid;
	gid_t		 sgid;
	int		 flags;		/* the fs takes inode flags */
	char		 why[CTL_MSG_MAX];	/* when it does not */
	size_t		 adopted;	/* at start, for the log */
	size_t		 strays;	/* entries that are no part of it */
} store = { .root = -1 };

static int	 store_adopt(int, const char *, mode_t, char *, size_t);
static int	 store_sub(int, const char *, const char *, mode_t, int,
		    char *, size_t);
static int	 store_walk(int, const char *, int, char *, size_t);
static int	 store_tmp(char *, size_t);
static int	 store_path(const char *, char *, size_t, char *, size_t,
		    const char **);

/*
 * Open the data directory (check_datadir has looked at it), find out
 * whether its file system keeps extended attributes and inode flags,
 * make it, .tmp and every directory in it what they must be.  -1 with
 * the reason in err when dsrvd cannot start.
 */
int
store_open(const struct dsrvd_conf *conf, uid_t suid, gid_t sgid, char *err,
    size_t errlen)
{
	char	 hex[16];
	int	 fl;

	store.suid = suid;
	store.sgid = sgid;
	if ((store.root = open(conf->datadir, O_RDONLY | O_DIRECTORY |
	    O_NOFOLLOW | O_CLOEXEC)) == -1) {
		(void)snprintf(err, errlen, "data directory %s: %s",
		    conf->datadir, strerror(errno));
		return -1;
	}
	/* Asked of the directory itself: no file is made to find out. */
	if (fgetxattr(store.root, CHUNK_XATTR, hex, sizeof(hex)) == -1 &&
	    errno != ENODATA && errno != ERANGE) {
		(void)snprintf(err, errlen, "data directory %s: cannot store "
		    "extended attributes (%s); dsrvd keeps each chunk's crc32 "
		    "in one", conf->datadir, strerror(errno));
		return -1;
	}
	store.flags = 1;
	if (ioctl(store.root, FS_IOC_GETFLAGS, &fl) == -1) {
		store.flags = 0;
		(void)snprintf(store.why, sizeof(store.why), "file system has "
		    "no inode flags (%s)", strerror(errno));
	}
	if (store_adopt(store.root, conf->datadir, STORE_TOP_MODE, err,
	    errlen) == -1)
		return -1;
	if (store_tmp(err, errlen) == -1 ||
	    store_walk(store.root, "", 0, err, errlen) == -1)
		return -1;
	if (!store.flags)
		log_warnx("cannot make %s append-only or its chunks "
		    "immutable: %s; stored chunks are not protected from "
		    "deletion", conf->datadir, store.why);
	if (store.adopted > 0)
		log_info("%zu directories of %s made root's and append-only",
		    store.adopted, conf->datadir);
	if (store.strays > 0)
		log_warnx("%zu entries in %s are no part of the store and "
		    "were left alone", store.strays, conf->datadir);
	return 0;
}

/* Chunks are made immutable and directories append-only. */
int
store_protected(char *why, size_t len)
{
	if (!store.flags && why != NULL)
		(void)strlcpy(why, store.why, len);
	return store.flags;
}

/*
 * Make a directory of the store root's, with mode, append-only.  The
 * data directory's own failures are fatal (-1 with err); for others the
 * caller decides.  An append-only directory cannot change owner or
 * mode any more: one that is already append-only but not root's is
 * left so (storage can still only add to it) and said so in err.
 */
static int
store_adopt(int fd, const char *what, mode_t mode, char *err, size_t errlen)
{
	struct stat	 sb;
	int		 fl = 0, changed = 0;

	if (fstat(fd, &sb) == -1) {
		(void)snprintf(err, errlen, "%s: %s", what, strerror(errno));
		return -1;
	}
	if (!S_ISDIR(sb.st_mode)) {
		(void)snprintf(err, errlen, "%s: not a directory", what);
		return -1;
	}
	if (sb.st_dev != store.dev && fd != store.root) {
		(void)snprintf(err, errlen, "%s: on another file system", what);
		return -1;
	}
	if (fd == store.root)
		store.dev = sb.st_dev;
	if (store.flags && ioctl(fd, FS_IOC_GETFLAGS, &fl) == -1) {
		(void)snprintf(err, errlen, "%s: get flags: %s", what,
		    strerror(errno));
		return -1;
	}
	if (sb.st_uid != 0 || sb.st_gid != store.sgid) {
		if (fchown(fd, 0, store.sgid) == -1) {
			(void)snprintf(err, errlen, "%s: chown: %s", what,
			    strerror(errno));
			return -1;
		}
		changed = 1;
	}
	if ((sb.st_mode & 07777) != mode) {
		if (fchmod(fd, mode) == -1) {
			(void)snprintf(err, errlen, "%s: chmod: %s", what,
			    strerror(errno));
			return -1;
		}
		changed = 1;
	}
	if (store.flags && (fl & FS_APPEND_FL) == 0) {
		fl |= FS_APPEND_FL;
		if (ioctl(fd, FS_IOC_SETFLAGS, &fl) == -1) {
			if (fd != store.root) {
				(void)snprintf(err, errlen, "%s: set flags: "
				    "%s", what, strerror(errno));
				return -1;
			}
			/* Flags it reads but cannot set: none, then. */
			store.flags = 0;
			(void)snprintf(store.why, sizeof(store.why),
			    "cannot set FS_APPEND_FL (%s)", strerror(errno));
		} else
			changed = 1;
	}
	if (changed && fd != store.root)
		store.adopted++;
	return 0;
}

/* .tmp: the storage user's, 0700, made when missing. */
static int
store_tmp(char *err, size_t errlen)
{
	struct stat	 sb;
	int		 fd;

	if (mkdirat(store.root, ".tmp", 0700) == -1 && errno != EEXIST) {
		(void)snprintf(err, errlen, "data directory: .tmp: %s",
		    strerror(errno));
		return -1;
	}
	if ((fd = openat(store.root, ".tmp", O_RDONLY | O_DIRECTORY |
	    O_NOFOLLOW | O_CLOEXEC)) == -1 || fstat(fd, &sb) == -1) {
		(void)snprintf(err, errlen, "data directory: .tmp: %s",
		    strerror(errno));
		if (fd != -1)
			(void)close(fd);
		return -1;
	}
	if ((sb.st_uid != store.suid || sb.st_gid != store.sgid) &&
	    fchown(fd, store.suid, store.sgid) == -1) {
		(void)snprintf(err, errlen, "data directory: .tmp: chown: %s",
		    strerror(errno));
		(void)close(fd);
		return -1;
	}
	if ((sb.st_mode & 07777) != S_IRWXU && fchmod(fd, S_IRWXU) == -1) {
		(void)snprintf(err, errlen, "data directory: .tmp: chmod: %s",
		    strerror(errno));
		(void)close(fd);
		return -1;
	}
	(void)close(fd);
	return 0;
}

/*
 * Adopt the directories below dir: chunk directories, and at the top
 * .ns with its namespaces (nested: below a namespace).  Anything else
 * is counted as a stray and left alone; -1 only when dir cannot be
 * read.
 */
static int
store_walk(int dir, const char *prefix, int nested, char *err,
    size_t errlen)
{
	struct dirent	*de;
	const char	*errstr;
	char		 what[PATH_MAX], why[CTL_MSG_MAX];
	DIR		*d;
	int		 dfd, fd, r = 0;

	if ((dfd = fcntl(dir, F_DUPFD_CLOEXEC, 0)) == -1 ||
	    (d = fdopendir(dfd)) == NULL) {
		(void)snprintf(err, errlen, "data directory%s%s: %s",
		    *prefix ? " " : "", prefix, strerror(errno));
		if (dfd != -1)
			(void)close(dfd);
		return -1;
	}
	rewinddir(d);
	while ((errno = 0, de = readdir(d)) != NULL) {
		if (strcmp(de->d_name, ".") == 0 ||
		    strcmp(de->d_name, "..") == 0 ||
		    (!nested && strcmp(de->d_name, ".tmp") == 0))
			continue;
		(void)snprintf(what, sizeof(what), "%s%s", prefix,
		    de->d_name);
		if (!nested && strcmp(de->d_name, ".ns") == 0) {
			if ((fd = store_sub(dir, ".ns", what, STORE_TOP_MODE,
			    0, err, errlen)) == -1)
				return -1;
			r = store_walk(fd, ".ns/", 2, err, errlen);
			(void)close(fd);
			if (r == -1)
				break;
			continue;
		}
		if (chunk_dir_check(de->d_name, strlen(de->d_name),
		    &errstr) == -1 || (fd = openat(dir, de->d_name, O_RDONLY |
		    O_DIRECTORY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC)) ==
		    -1) {
			log_debug("%s: not a directory of the store", what);
			store.strays++;
			continue;
		}
		if (store_adopt(fd, what, nested == 2 ? STORE_TOP_MODE :
		    STORE_DIR_MODE, why, sizeof(why)) == -1) {
			log_warnx("%s", why);
			store.strays++;
		} else if (nested == 2) {
			(void)snprintf(what, sizeof(what), ".ns/%s/",
			    de->d_name);
			r = store_walk(fd, what, 1, err, errlen);
		}
		(void)close(fd);
		if (r == -1)
			break;
	}
	if (r == 0 && errno != 0) {
		(void)snprintf(err, errlen, "data directory%s%s: %s",
		    *prefix ? " " : "", prefix, strerror(errno));
		r = -1;
	}
	(void)closedir(d);
	return r;
}

/*
 * Open, and with create make, the directory name below dir, as the
 * store wants it (what names it in err).  A new one is root's, with
 * mode, append-only and flushed into dir before anything goes in it.
 * The fd, or -1 with err (ENOENT in errno when it is missing).
 */
static int
store_sub(int dir, const char *name, const char *what, mode_t mode,
    int create, char *err, size_t errlen)
{
	int	 fd, made = 0;

	if (create) {
		if (mkdirat(dir, name, 0700) == 0)
			made = 1;
		else if (errno != EEXIST) {
			(void)snprintf(err, errlen, "mkdir %s: %s", what,
			    strerror(errno));
			return -1;
		}
	}
	if ((fd = openat(dir, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW |
	    O_NONBLOCK | O_CLOEXEC)) == -1) {
		(void)snprintf(err, errlen, "%s: %s", what, strerror(errno));
		return -1;
	}
	if (store_adopt(fd, what, mode, err, errlen) == -1) {
		(void)close(fd);
		return -1;
	}
	if (made && (fsync(fd) == -1 || fsync(dir) == -1)) {
		(void)snprintf(err, errlen, "%s: flush: %s", what,
		    strerror(errno));
		(void)close(fd);
		return -1;
	}
	return fd;
}

/*
 * Storage needs a directory for a write: make it (and the namespace's
 * directories on the way) and say how that went.  A name storage
 * itself would refuse is a forged request.
 */
void
store_dispatch_mkdir(struct imsgev *iev, struct imsg *imsg)
{
	struct proc_child	*c = iev->arg;
	struct st_mkdir		 m;
	const char		*errstr;
	char			 what[PATH_MAX], err[CTL_MSG_MAX];
	int			 ns = -1, nsd = -1, fd = -1, base;

	if (st_mkdir_get(imsg, &m) == -1)
		msg_bad(iev, imsg, __func__);
	if ((m.ns[0] != '\0' && chunk_dir_check(m.ns, strlen(m.ns),
	    &errstr) == -1) || chunk_dir_check(m.dir, strlen(m.dir),
	    &errstr) == -1)
		fatalx("%s asked for directory \"%s\" of namespace \"%s\": %s",
		    iev->name, m.dir, m.ns, errstr);
	m.error = 0;
	m.msg[0] = '\0';
	base = store.root;
	if (m.ns[0] != '\0') {
		if ((ns = store_sub(store.root, ".ns", ".ns", STORE_TOP_MODE, 1,
		    err, sizeof(err))) == -1)
			goto fail;
		(void)snprintf(what, sizeof(what), ".ns/%s", m.ns);
		if ((nsd = store_sub(ns, m.ns, what, STORE_TOP_MODE, 1, err,
		    sizeof(err))) == -1)
			goto fail;
		base = nsd;
		(void)snprintf(what, sizeof(what), ".ns/%s/%s", m.ns, m.dir);
	} else
		(void)strlcpy(what, m.dir, sizeof(what));
	if ((fd = store_sub(base, m.dir, what, STORE_DIR_MODE, 1, err,
	    sizeof(err))) == -1)
		goto fail;
	log_debug("made directory %s for %s", what, iev->name);
	goto done;
 fail:
	m.error = errno == ENOSPC || errno == EDQUOT ? WIRE_E_NOSPACE :
	    errno == EROFS ? WIRE_E_READONLY : WIRE_E_IO;
	(void)strlcpy(m.msg, err, sizeof(m.msg));
	log_warnx("cannot make a directory for %s: %s", iev->name, err);
 done:
	if (fd != -1)
		(void)close(fd);
	if (nsd != -1)
		(void)close(nsd);
	if (ns != -1)
		(void)close(ns);
	(void)proc_compose(c->role, c->instance, IMSG_ST_MKDIR_DONE, 0, -1,
	    &m, sizeof(m));
}

/*
 * Split a chunk's path as storage names it (DIR/NAME or .ns/NS/DIR/NAME)
 * into the namespace and DIR/NAME, both checked.  -1 when it is none.
 */
static int
store_path(const char *path, char *ns, size_t nslen, char *name,
    size_t namelen, const char **errstr)
{
	const char	*p = path, *slash;
	size_t		 dirlen;

	ns[0] = '\0';
	if (strncmp(p, ".ns/", 4) == 0) {
		p += 4;
		if ((slash = strchr(p, '/')) == NULL ||
		    (size_t)(slash - p) >= nslen ||
		    chunk_dir_check(p, slash - p, errstr) == -1) {
			*errstr = "bad namespace";
			return -1;
		}
		memcpy(ns, p, slash - p);
		ns[slash - p] = '\0';
		p = slash + 1;
	}
	if (strlcpy(name, p, namelen) >= namelen ||
	    chunk_name_check(name, strlen(name), &dirlen, errstr) == -1)
		return -1;
	return 0;
}

/*
 * Is the file sb describes the chunk at path, found from the parent's
 * own fd of the data directory through directories no child can
 * change?  0, or -1 with the reason in msg.
 */
int
store_chunk_at(const char *path, const struct stat *sb, char *msg,
    size_t len)
{
	struct stat	 at;
	const char	*errstr, *base;
	char		 ns[NAMESPACE_MAX + 1], name[WIRE_NAME_MAX + 1];
	char		*slash;
	int		 fd = -1, d, r = -1;

	if (store_path(path, ns, sizeof(ns), name, sizeof(name),
	    &errstr) == -1) {
		(void)snprintf(msg, len, "not a chunk's name (%s)", errstr);
		return -1;
	}
	if (sb->st_dev != store.dev) {
		(void)strlcpy(msg, "not on the data directory's file system",
		    len);
		return -1;
	}
	slash = strchr(name, '/');
	*slash = '\0';
	base = slash + 1;
	d = store.root;
	if (ns[0] != '\0') {
		if ((d = openat(store.root, ".ns", O_RDONLY | O_DIRECTORY |
		    O_NOFOLLOW | O_CLOEXEC)) == -1)
			goto fail;
		fd = openat(d, ns, O_RDONLY | O_DIRECTORY | O_NOFOLLOW |
		    O_CLOEXEC);
		(void)close(d);
		if ((d = fd) == -1)
			goto fail;
	}
	fd = openat(d, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (d != store.root)
		(void)close(d);
	if (fd == -1)
		goto fail;
	if (fstatat(fd, base, &at, AT_SYMLINK_NOFOLLOW) == -1)
		goto fail;
	if (at.st_dev != sb->st_dev || at.st_ino != sb->st_ino) {
		(void)strlcpy(msg, "another file is at its name", len);
		goto out;
	}
	r = 0;
	goto out;
 fail:
	(void)snprintf(msg, len, "not at its name: %s", strerror(errno));
 out:
	if (fd != -1)
		(void)close(fd);
	return r;
}
