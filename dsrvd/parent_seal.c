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
 * The parent's part in storage: it makes every committed chunk
 * immutable.  The storage process passes the chunk's fd and its name;
 * the parent checks that the fd is what a fresh chunk looks like and
 * that it is the file at that name (parent_store.c resolves it through
 * directories no child can change), then sets FS_IMMUTABLE_FL, which
 * only root can set or clear.  A compromised storage process can
 * therefore add chunks but never change or remove one.  The parent
 * never clears the flag, and never acts on a file by a path.
 *
 * It also counts flush failures across all storage workers and puts
 * the store into read-only mode after FLUSH_FAIL_MAX in a row.  The
 * state is its own; parent.c reads it for dctl status.
 */
#include <sys/types.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
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

#define FLUSH_FAIL_MAX	3	/* in a row, then read-only */

static struct {
	int		 readonly;
	char		 readonly_why[CTL_MSG_MAX];
	int		 flush_row;	/* failures in a row */
	uint64_t	 chunks_sealed;
	uint64_t	 seal_failures;
} seal;

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
	else if (sb.st_uid != penv.suid)
		(void)snprintf(ss.msg, sizeof(ss.msg), "owned by uid %u",
		    (unsigned int)sb.st_uid);
	else if ((uint64_t)sb.st_size != ss.size)
		(void)snprintf(ss.msg, sizeof(ss.msg), "%lld bytes, "
		    "expected %llu", (long long)sb.st_size,
		    (unsigned long long)ss.size);
	else if (store_chunk_at(ss.name, &sb, ss.msg, sizeof(ss.msg)) == -1)
		;
	else if (!store_protected(NULL, 0))
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

/* What dctl status says about the store. */
void
seal_status(struct ctl_status_info *info, uint64_t *sealed,
    uint64_t *failures)
{
	info->readonly = seal.readonly;
	info->storage_msg[0] = '\0';
	info->immutable = store_protected(info->storage_msg,
	    sizeof(info->storage_msg));
	if (seal.readonly)
		(void)strlcpy(info->storage_msg, seal.readonly_why,
		    sizeof(info->storage_msg));
	*sealed = seal.chunks_sealed;
	*failures = seal.seal_failures;
}
