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
 * A child's privilege drop and its sandbox, in the fixed order: the
 * chroot and its owner checked, chroot, the title, the capability
 * bounding set emptied, groups, gid and uid dropped for good,
 * no_new_privs, then the limits no child lives without.  proc.c calls
 * it once, after the start-up series and before the first message;
 * it calls nothing of ours back.
 *
 * Then, once the role has started, its sandbox as its table declares
 * it (proc_sandbox): the role's limits, Landlock, the system call
 * filter (sandbox.c).
 */
#include <sys/types.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <linux/capability.h>

#include <errno.h>
#include <grp.h>
#include <signal.h>
#include <time.h>
#include <unistd.h>

#include "dsrvd.h"
#include "log.h"
#include "sandbox.h"

#define SANITIZE_FSIZE	(16U << 20)	/* the log, in make SANITIZE=1 */

static void	 proc_drop_bounding_set(void);
static void	 proc_limit(void);
static void	 proc_role_limits(const struct proc_init *,
		    const struct proc_sandbox *, const char *);

/*
 * The fixed order: check the chroot, chroot, set the title, then drop
 * groups, gid and uid for good, and forbid gaining privileges again.
 */
void
proc_drop_privileges(const struct proc_init *in, const char *title)
{
	struct stat		 st;
	uid_t			 r, e, s;
	gid_t			 rg, eg, sg;

	tzset();
	if (stat(in->chroot, &st) == -1)
		fatal("chroot directory %s", in->chroot);
	if (in->role == PROC_STORAGE) {
		/* parent_store.c made it so: storage only reads it. */
		if (st.st_uid != 0 || st.st_gid != in->gid ||
		    (st.st_mode & (S_IWGRP | S_IRWXO)) != 0)
			fatalx("data directory %s must be root's, of %s's "
			    "group, and neither writable by the group nor "
			    "reachable by others", in->chroot, in->user);
	} else if (st.st_uid != 0 || (st.st_mode & (S_IWGRP | S_IWOTH)))
		fatalx("chroot directory %s must be owned by root and not "
		    "writable by group or others", in->chroot);
	if (chroot(in->chroot) == -1)
		fatal("chroot %s", in->chroot);
	if (chdir("/") == -1)
		fatal("chdir /");

	setproctitle("%s", title);

	proc_drop_bounding_set();
	if (setgroups(1, &in->gid) == -1)
		fatal("setgroups");
	if (setresgid(in->gid, in->gid, in->gid) == -1)
		fatal("setresgid");
	if (setresuid(in->uid, in->uid, in->uid) == -1)
		fatal("setresuid");
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) == -1)
		fatal("prctl no_new_privs");

	if (getresuid(&r, &e, &s) == -1 || getresgid(&rg, &eg, &sg) == -1)
		fatal("getresuid");
	if (r != in->uid || e != in->uid || s != in->uid ||
	    rg != in->gid || eg != in->gid || sg != in->gid)
		fatalx("privileges were not dropped");
	if (setuid(0) != -1)
		fatalx("could regain root");
	proc_limit();
}

/*
 * Empty the capability bounding set while we still may (root): no
 * file capability, no set-uid program, nothing exec'd could bring a
 * capability back.  Dropping stops at the first number the kernel
 * does not know, which is past the last capability it has.
 */
static void
proc_drop_bounding_set(void)
{
	int	 cap, last;

	for (cap = 0; prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) == 0; cap++)
		;
	if (errno != EINVAL || cap <= CAP_SETPCAP)
		fatal("drop capability %d from the bounding set", cap);
	last = cap - 1;
	for (cap = 0; cap <= last; cap++)
		if (prctl(PR_CAPBSET_READ, cap, 0, 0, 0) != 0)
			fatalx("capability %d is still in the bounding set",
			    cap);
}

/*
 * Limits no child lives without: it starts no process (NPROC 0: fork
 * and clone fail, whoever asks), leaves no core dump with session keys
 * or chunk data in it, and cannot be read or attached to by another
 * process of its uid (not dumpable).
 */
static void
proc_limit(void)
{
	struct rlimit	 rl;

	rl.rlim_cur = rl.rlim_max = 0;
	if (setrlimit(RLIMIT_NPROC, &rl) == -1)
		fatal("setrlimit NPROC");
	if (setrlimit(RLIMIT_CORE, &rl) == -1)
		fatal("setrlimit CORE");
	if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) == -1)
		fatal("prctl dumpable");
	if (prctl(PR_GET_DUMPABLE, 0, 0, 0, 0) != 0)
		fatalx("still dumpable");
}

/*
 * The role's sandbox, once it has started (its start may still open
 * what it needs): its limits, the file hierarchies it may reach, the
 * system calls it may make.  Nothing after this can widen them.
 */
void
proc_sandbox(const struct proc_init *in, const struct proc_def *def)
{
	const struct proc_sandbox	*sb = def->sandbox;

	if (sb == NULL)
		fatalx("%s: the role has no sandbox", def->name);
	proc_role_limits(in, sb, def->name);
	sandbox_landlock(sb, def->name);
	sandbox_seccomp(sb, def->name);
}

/*
 * Open files sized to the role (from the connections it may carry),
 * and the largest file it may grow: a write past it fails with EFBIG
 * (SIGXFSZ is ignored, so that it does not kill).
 */
static void
proc_role_limits(const struct proc_init *in, const struct proc_sandbox *sb,
    const char *name)
{
	struct rlimit	 rl;
#ifdef DSRV_SANITIZE
	struct stat	 st;
#endif
	rlim_t		 conns;

	conns = in->maxconns > 0 ? (rlim_t)in->maxconns : 0;
	rl.rlim_cur = rl.rlim_max = sb->nofile + sb->nofile_conn * conns;
	if (in->maxstartups > 0)
		rl.rlim_cur = rl.rlim_max += sb->nofile_startup *
		    (rlim_t)in->maxstartups;
	if (setrlimit(RLIMIT_NOFILE, &rl) == -1)
		fatal("setrlimit NOFILE %llu", (unsigned long long)rl.rlim_cur);

	if (signal(SIGXFSZ, SIG_IGN) == SIG_ERR)
		fatal("signal SIGXFSZ");
	rl.rlim_cur = rl.rlim_max = sb->fsize;
#ifdef DSRV_SANITIZE
	/*
	 * The sanitizer build keeps a child's stderr for its reports
	 * (proc_log.c): with -d that is the log file, where a report
	 * must still fit.  Only there is the limit raised, to
	 * SANITIZE_FSIZE at least.
	 */
	if (in->debug && fstat(STDERR_FILENO, &st) == 0 &&
	    S_ISREG(st.st_mode) && rl.rlim_cur < SANITIZE_FSIZE) {
		log_debug("sandbox: stderr is the log file, FSIZE %u MiB",
		    SANITIZE_FSIZE >> 20);
		rl.rlim_cur = rl.rlim_max = SANITIZE_FSIZE;
	}
#endif
	if (setrlimit(RLIMIT_FSIZE, &rl) == -1)
		fatal("setrlimit FSIZE %llu", (unsigned long long)rl.rlim_cur);
}
