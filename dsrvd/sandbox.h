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
 * The mechanics of a child's sandbox (sandbox.c): Landlock through its
 * raw system calls and the seccomp filter through libseccomp.  The
 * roles declare what they may do (struct proc_sandbox, proc.h) with
 * the rights below.
 *
 * Debian 12's <linux/landlock.h> stops at ABI 2; what later ABIs added
 * is defined here with the values and layouts of the kernel's uapi.
 */
#ifndef DSRVD_SANDBOX_H
#define DSRVD_SANDBOX_H

#include <sys/types.h>
#include <linux/landlock.h>
#include <stdint.h>

#include "proc.h"

#ifndef LANDLOCK_ACCESS_FS_REFER
#define LANDLOCK_ACCESS_FS_REFER		(1ULL << 13)	/* ABI 2 */
#endif
#ifndef LANDLOCK_ACCESS_FS_TRUNCATE
#define LANDLOCK_ACCESS_FS_TRUNCATE		(1ULL << 14)	/* ABI 3 */
#endif
#ifndef LANDLOCK_ACCESS_FS_IOCTL_DEV
#define LANDLOCK_ACCESS_FS_IOCTL_DEV		(1ULL << 15)	/* ABI 5 */
#endif
#ifndef LANDLOCK_ACCESS_NET_BIND_TCP
#define LANDLOCK_ACCESS_NET_BIND_TCP		(1ULL << 0)	/* ABI 4 */
#endif
#ifndef LANDLOCK_ACCESS_NET_CONNECT_TCP
#define LANDLOCK_ACCESS_NET_CONNECT_TCP		(1ULL << 1)	/* ABI 4 */
#endif
#ifndef LANDLOCK_SCOPE_ABSTRACT_UNIX_SOCKET
#define LANDLOCK_SCOPE_ABSTRACT_UNIX_SOCKET	(1ULL << 0)	/* ABI 6 */
#endif
#ifndef LANDLOCK_SCOPE_SIGNAL
#define LANDLOCK_SCOPE_SIGNAL			(1ULL << 1)	/* ABI 6 */
#endif

/* What a file may be read as, and what makes or moves a new chunk. */
#define SB_FS_READ	(LANDLOCK_ACCESS_FS_READ_FILE | \
			    LANDLOCK_ACCESS_FS_READ_DIR)

/* The filter's decision on a forbidden call, as the child tells it. */
struct sandbox_note {
	int32_t		 nr;			/* system call number */
	uint32_t	 arch;			/* AUDIT_ARCH_* */
};

int	 sandbox_landlock_abi(void);
void	 sandbox_log_status(void);
void	 sandbox_landlock(const struct proc_sandbox *, const char *);
void	 sandbox_seccomp(const struct proc_sandbox *, const char *);
int	 sandbox_note_read(int, char *, size_t);

#endif /* DSRVD_SANDBOX_H */
