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
 * The mechanics of a child's sandbox; what each role may do is in its
 * table (struct proc_sandbox in network.c, crypto.c, storage.c), and
 * what every child does is below.
 *
 * Landlock goes on first, through its raw system calls, with what the
 * running kernel's ABI knows (best effort: a right the ABI lacks is
 * not asked for, and a kernel without Landlock gets none).  Then the
 * system call filter: libseccomp gets the architecture checks and the
 * numbers right on amd64 and arm64 alike.  A call the filter does not
 * list traps: the SIGSYS handler writes the call's number and
 * architecture to the note pipe the parent made at fork, and the child
 * dies by SIGSYS; the parent reaps it, reads the note and logs which
 * call it was (sandbox_note_read).
 */
#include <sys/types.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#ifndef DSRVD_NO_SECCOMP
#include <seccomp.h>
#endif

#include "log.h"
#include "sandbox.h"

#ifndef __has_feature
#define __has_feature(x)	0
#endif
#if defined(__SANITIZE_ADDRESS__) || __has_feature(address_sanitizer)
#define SB_ASAN		1
#endif

#define nitems(a)	(sizeof(a) / sizeof((a)[0]))

/* si_code of the filter's SIGSYS; <asm/siginfo.h> clashes with glibc. */
#ifndef SYS_SECCOMP
#define SYS_SECCOMP	1
#endif

/* struct landlock_ruleset_attr as of ABI 6, whatever the header says. */
struct sb_ruleset_attr {
	uint64_t	 handled_access_fs;
	uint64_t	 handled_access_net;
	uint64_t	 scoped;
};

static uint64_t	 sandbox_fs_rights(int);

#ifndef DSRVD_NO_SECCOMP
static void	 sandbox_sigsys(int, siginfo_t *, void *);
static void	 sandbox_add(scmp_filter_ctx, const struct proc_syscall *,
		    size_t, const char *);

static int	 sandbox_notefd = -1;

/*
 * What every child does once sandboxed: serve its channels in the
 * event loop, log, manage memory, and die.
 */
static const struct proc_syscall sandbox_common[] = {
	SYSCALL("epoll_wait"),
	SYSCALL("epoll_pwait"),
	SYSCALL("epoll_ctl"),
	SYSCALL("read"),
	SYSCALL("write"),
	SYSCALL("readv"),
	SYSCALL("writev"),
	SYSCALL("recvmsg"),
	SYSCALL("sendmsg"),
	SYSCALL("close"),
	SYSCALL("fcntl"),
	SYSCALL("fstat"),
	SYSCALL("newfstatat"),
	SYSCALL("clock_gettime"),
	SYSCALL("gettimeofday"),
	/* send(2), on a connected socket: no address */
	SYSCALL_EQ("sendto", 4, 0),
	SYSCALL("getpid"),
	SYSCALL("gettid"),
	/* who it runs as: harmless, and libraries ask */
	SYSCALL("getuid"),
	SYSCALL("geteuid"),
	SYSCALL("getgid"),
	SYSCALL("getegid"),
	SYSCALL("brk"),
	SYSCALL_NOBITS("mmap", 2, PROT_EXEC),
	SYSCALL_NOBITS("mprotect", 2, PROT_EXEC),
	SYSCALL("munmap"),
	SYSCALL("mremap"),
	SYSCALL("madvise"),
	/* libevent's SIGTERM handler returns; signals are blocked around */
	SYSCALL("rt_sigreturn"),
	SYSCALL("rt_sigprocmask"),
	SYSCALL("restart_syscall"),
	/* the SIGSYS handler dies by its signal, sent to itself only */
	SYSCALL_SELF("tgkill", 0),
	SYSCALL("exit"),
	SYSCALL("exit_group"),
};

#ifdef SB_ASAN
/*
 * The sanitizer runtime's own calls: its allocator's, and those of a
 * report (which must reach the log rather than die half-written).
 * Only in the SANITIZE=1 build.
 */
static const struct proc_syscall sandbox_asan[] = {
	SYSCALL_EQ("ioctl", 1, TCGETS),		/* isatty(2) for colours */
	SYSCALL("access"),
	SYSCALL("faccessat"),
	SYSCALL("faccessat2"),
	SYSCALL("sigaltstack"),
	SYSCALL("sched_yield"),
	SYSCALL("getrlimit"),
	SYSCALL("prlimit64"),
	SYSCALL("prctl"),
	SYSCALL("rt_sigaction"),
	SYSCALL("open"),
	SYSCALL("openat"),
	SYSCALL("readlink"),
	SYSCALL("readlinkat"),
	SYSCALL("pipe2"),
	SYSCALL("futex"),
	SYSCALL("nanosleep"),
	SYSCALL("clock_nanosleep"),
	SYSCALL("getppid"),
	SYSCALL("wait4"),
	SYSCALL("lseek"),
	SYSCALL("pread64"),
	SYSCALL("msync"),
};
#endif
#endif /* !DSRVD_NO_SECCOMP */

/* The Landlock ABI of the running kernel, or -1 with errno. */
int
sandbox_landlock_abi(void)
{
	return syscall(SYS_landlock_create_ruleset, NULL, 0,
	    LANDLOCK_CREATE_RULESET_VERSION);
}

/* Every file-system right an ABI knows. */
static uint64_t
sandbox_fs_rights(int abi)
{
	uint64_t	 fs;

	fs = (LANDLOCK_ACCESS_FS_MAKE_SYM << 1) - 1;		/* ABI 1 */
	if (abi >= 2)
		fs |= LANDLOCK_ACCESS_FS_REFER;
	if (abi >= 3)
		fs |= LANDLOCK_ACCESS_FS_TRUNCATE;
	if (abi >= 5)
		fs |= LANDLOCK_ACCESS_FS_IOCTL_DEV;
	return fs;
}

/* The parent, once at start: what the children will get. */
void
sandbox_log_status(void)
{
	const char	*filter;
	int		 abi;

#ifdef DSRVD_NO_SECCOMP
	filter = "off (built with SANDBOX=no)";
#else
	filter = "on";
#endif
	if ((abi = sandbox_landlock_abi()) == -1)
		log_info("sandbox: seccomp %s, no landlock (%s)", filter,
		    strerror(errno));
	else
		log_info("sandbox: seccomp %s, landlock ABI %d", filter, abi);
}

/*
 * The file hierarchies the role may reach and nothing else; no TCP
 * bind or connect (ABI 4), no signal to and no abstract UNIX socket of
 * a process outside the sandbox (ABI 6).
 */
void
sandbox_landlock(const struct proc_sandbox *sb, const char *label)
{
	struct sb_ruleset_attr			 attr;
	struct landlock_path_beneath_attr	 pb;
	size_t					 i, size;
	int					 abi, rfd, pfd, fsok = 1;

	if ((abi = sandbox_landlock_abi()) == -1) {
		if (errno == ENOSYS || errno == EOPNOTSUPP) {
			log_debug("sandbox: no landlock (%s)", strerror(errno));
			return;
		}
		fatal("landlock ABI");
	}
	memset(&attr, 0, sizeof(attr));
	attr.handled_access_fs = sandbox_fs_rights(abi);
	size = sizeof(attr.handled_access_fs);
	/* ABI 1 refuses every move between directories. */
	for (i = 0; i < sb->nfsrules; i++)
		if ((sb->fsrules[i].access & LANDLOCK_ACCESS_FS_REFER) &&
		    abi < 2)
			fsok = 0;
	if (!fsok) {
		log_warnx("sandbox: landlock ABI %d cannot let %s move files, "
		    "no file-system rules", abi, label);
		attr.handled_access_fs = 0;
	}
	if (abi >= 4) {
		attr.handled_access_net = LANDLOCK_ACCESS_NET_BIND_TCP |
		    LANDLOCK_ACCESS_NET_CONNECT_TCP;
		size = offsetof(struct sb_ruleset_attr, scoped);
	}
	if (abi >= 6) {
		attr.scoped = LANDLOCK_SCOPE_ABSTRACT_UNIX_SOCKET |
		    LANDLOCK_SCOPE_SIGNAL;
		size = sizeof(attr);
	}
	if (attr.handled_access_fs == 0 && attr.handled_access_net == 0) {
		log_debug("sandbox: landlock ABI %d, nothing to restrict", abi);
		return;
	}
	if ((rfd = syscall(SYS_landlock_create_ruleset, &attr, size, 0)) == -1)
		fatal("landlock_create_ruleset");
	for (i = 0; fsok && i < sb->nfsrules; i++) {
		if ((pfd = open(sb->fsrules[i].path, O_PATH | O_CLOEXEC)) == -1)
			fatal("landlock: %s", sb->fsrules[i].path);
		memset(&pb, 0, sizeof(pb));
		pb.allowed_access = sb->fsrules[i].access &
		    attr.handled_access_fs;
		pb.parent_fd = pfd;
		if (syscall(SYS_landlock_add_rule, rfd,
		    LANDLOCK_RULE_PATH_BENEATH, &pb, 0) == -1)
			fatal("landlock rule for %s", sb->fsrules[i].path);
		(void)close(pfd);
	}
	if (syscall(SYS_landlock_restrict_self, rfd, 0) == -1)
		fatal("landlock_restrict_self");
	(void)close(rfd);
	log_debug("sandbox: landlock ABI %d, %zu file hierarchies", abi,
	    fsok ? sb->nfsrules : 0);
}

#ifdef DSRVD_NO_SECCOMP
void
sandbox_seccomp(const struct proc_sandbox *sb, const char *label)
{
	log_debug("sandbox: no system call filter (built with SANDBOX=no)");
}

/* Without libseccomp only the number. */
int
sandbox_note_read(int fd, char *buf, size_t len)
{
	struct sandbox_note	 n;

	if (fd == -1 || read(fd, &n, sizeof(n)) != (ssize_t)sizeof(n))
		return -1;
	(void)snprintf(buf, len, "system call %d", (int)n.nr);
	return 0;
}
#else

/*
 * Async-signal-safe: name the call on the note pipe, then die by the
 * signal (SA_RESETHAND made its action the default again, SA_NODEFER
 * lets it through at once).  A SIGSYS that the filter did not raise
 * (kill(2), or a tracer that held the filter's back and sent it again)
 * names nothing.
 */
static void
sandbox_sigsys(int sig, siginfo_t *si, void *uctx)
{
	struct sandbox_note	 n;
	ssize_t			 w;

	memset(&n, 0, sizeof(n));
	n.nr = si->si_syscall;
	n.arch = si->si_arch;
	if (sandbox_notefd != -1 && si->si_code == SYS_SECCOMP) {
		w = write(sandbox_notefd, &n, sizeof(n));
		(void)w;
	}
	(void)syscall(SYS_tgkill, getpid(), syscall(SYS_gettid), SIGSYS);
	_exit(128 + SIGSYS);
}

static void
sandbox_add(scmp_filter_ctx ctx, const struct proc_syscall *sc, size_t n,
    const char *what)
{
	struct scmp_arg_cmp	 cmp[2];
	size_t			 i;
	int			 nr, r;

	for (i = 0; i < n; i++) {
		nr = seccomp_syscall_resolve_name(sc[i].name);
		if (nr == __NR_SCMP_ERROR) {
			log_debug("sandbox: no %s on this architecture",
			    sc[i].name);
			continue;
		}
		memset(cmp, 0, sizeof(cmp));
		cmp[0].arg = sc[i].arg;
		cmp[0].op = SCMP_CMP_EQ;
		cmp[0].datum_a = sc[i].val;
		switch (sc[i].how) {
		case SB_ANY:
			r = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, nr, 0);
			break;
		case SB_EQ:
			r = seccomp_rule_add_array(ctx, SCMP_ACT_ALLOW, nr, 1,
			    cmp);
			break;
		case SB_EQ2:
			cmp[1].arg = sc[i].arg + 1;
			cmp[1].op = SCMP_CMP_EQ;
			cmp[1].datum_a = sc[i].val2;
			r = seccomp_rule_add_array(ctx, SCMP_ACT_ALLOW, nr, 2,
			    cmp);
			break;
		case SB_NOBITS:
			cmp[0].op = SCMP_CMP_MASKED_EQ;
			cmp[0].datum_b = 0;
			r = seccomp_rule_add_array(ctx, SCMP_ACT_ALLOW, nr, 1,
			    cmp);
			break;
		case SB_SELF:
			cmp[0].datum_a = (uint64_t)getpid();
			r = seccomp_rule_add_array(ctx, SCMP_ACT_ALLOW, nr, 1,
			    cmp);
			break;
		default:
			fatalx("%s: %s: bad rule %d", what, sc[i].name,
			    sc[i].how);
		}
		if (r < 0)
			fatalx("%s: seccomp rule for %s: %s", what, sc[i].name,
			    strerror(-r));
	}
}

/*
 * The filter: the calls every child makes and those of its role, on
 * the native architecture only (a call through another one, such as
 * i386 or x32 on amd64, kills outright).
 */
void
sandbox_seccomp(const struct proc_sandbox *sb, const char *label)
{
	struct sigaction	 sa;
	struct stat		 st;
	scmp_filter_ctx		 ctx;
	int			 r;

	/* The note pipe, if the parent gave us one. */
	if (fstat(NOTE_FILENO, &st) == 0 && S_ISFIFO(st.st_mode)) {
		if (fcntl(NOTE_FILENO, F_SETFD, FD_CLOEXEC) == -1 ||
		    fcntl(NOTE_FILENO, F_SETFL, O_NONBLOCK) == -1)
			fatal("note pipe");
		sandbox_notefd = NOTE_FILENO;
	}
	memset(&sa, 0, sizeof(sa));
	sa.sa_sigaction = sandbox_sigsys;
	sa.sa_flags = SA_SIGINFO | SA_RESETHAND | SA_NODEFER;
	if (sigemptyset(&sa.sa_mask) == -1 ||
	    sigaction(SIGSYS, &sa, NULL) == -1)
		fatal("sigaction SIGSYS");

	if ((ctx = seccomp_init(SCMP_ACT_TRAP)) == NULL)
		fatalx("seccomp_init failed");
	if ((r = seccomp_arch_exist(ctx, seccomp_arch_native())) != 0)
		fatalx("seccomp: native architecture: %s", strerror(-r));
	if ((r = seccomp_attr_set(ctx, SCMP_FLTATR_ACT_BADARCH,
	    SCMP_ACT_KILL_PROCESS)) != 0)
		fatalx("seccomp: bad architecture action: %s", strerror(-r));
	sandbox_add(ctx, sandbox_common, nitems(sandbox_common), "common");
	sandbox_add(ctx, sb->syscalls, sb->nsyscalls, label);
#ifdef SB_ASAN
	sandbox_add(ctx, sandbox_asan, nitems(sandbox_asan), "sanitizer");
#endif
	if ((r = seccomp_load(ctx)) != 0)
		fatalx("seccomp_load: %s", strerror(-r));
	seccomp_release(ctx);
	log_debug("sandbox: system call filter loaded");
}

/*
 * The parent, reaping a child that SIGSYS killed: what it said on its
 * note pipe, as "system call NR (NAME)".  -1 if it said nothing whole.
 */
int
sandbox_note_read(int fd, char *buf, size_t len)
{
	struct sandbox_note	 n;
	char			*name;

	if (fd == -1 || read(fd, &n, sizeof(n)) != (ssize_t)sizeof(n))
		return -1;
	name = seccomp_syscall_resolve_num_arch(n.arch, n.nr);
	if (n.arch == seccomp_arch_native())
		(void)snprintf(buf, len, "system call %d (%s)", (int)n.nr,
		    name != NULL ? name : "unknown");
	else
		(void)snprintf(buf, len, "system call %d (%s) of "
		    "architecture %#x", (int)n.nr,
		    name != NULL ? name : "unknown", n.arch);
	free(name);
	return 0;
}
#endif /* DSRVD_NO_SECCOMP */
