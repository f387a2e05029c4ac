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
 * sysinject: make a running process execute system calls, as an
 * attacker who runs code inside it would, with its uid, root directory,
 * descriptors and syscall filter.
 *
 *	sysinject [-q] PID CALL [CALL ...]
 *
 * CALL is NAME(ARG, ...) with at most six arguments; NAME is looked up
 * with libseccomp for this machine (or is a number).  An ARG is an
 * integer (42, -100, 0x1ff, 0644), a constant (AT_FDCWD, O_RDWR, ...)
 * or several joined by "|", a "string" (copied onto the target's stack
 * with its NUL; escapes \n \t \r \0 \\ \" \xHH), or $N, what the N-th
 * call of this run returned.
 *
 * The target is seized and interrupted; its registers and the stack
 * below its red zone are saved.  Each call points the pc at a syscall
 * instruction found in one of its executable mappings and single-steps
 * it.  At the end memory and registers go back as they were, so that a
 * system call the target was blocked in is restarted by the kernel as
 * after any stop, and the target is detached.  Signals the calls raise
 * are passed on to the target.
 *
 * Prints "CALL = N" or "CALL = -1 ENAME (message)" for each call (-q:
 * only what follows "= "), with ", SIGNAME pending" when the call left
 * a signal pending.  Exits 0 when every call ran, whatever it returned;
 * 3 when the target died in a call ("CALL: killed by signal SIGSYS");
 * 2 on usage errors or when it cannot attach; 1 on other errors.
 *
 * On arm64 the kernel's substitute for an interrupted relative sleep
 * (restart_syscall) is not visible to a tracer, so such a sleep starts
 * over with its whole timeout, as it does after gdb.
 *
 * For the tests, sysinject is its own target:
 *
 *	sysinject -T MODE [-n SECS]
 *
 * prints "ready" and blocks in a loop on nanosleep (MODE sleep, SECS
 * seconds, 1000 by default), pause (pause), read of a pipe nobody
 * writes to (read), or pause behind a seccomp filter that kills the
 * process on getppid (seccomp).  Each time the call returns it prints
 * "woke: MODE = R [ENAME] after S s", after "signal SIGUSR1" if that
 * signal came.
 */
#include <sys/types.h>
#include <sys/ptrace.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <sys/user.h>
#include <sys/wait.h>

#include <ctype.h>
#include <elf.h>
#include <err.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <seccomp.h>
#include <signal.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#if defined(__x86_64__)
#define REDZONE		128
static const unsigned char sysinsn[] = { 0x0f, 0x05 };		/* syscall */
#define INSN_ALIGN	1
#elif defined(__aarch64__)
#define REDZONE		0
static const unsigned char sysinsn[] = { 0x01, 0x00, 0x00, 0xd4 }; /* svc #0 */
#define INSN_ALIGN	4
#else
#error "sysinject knows the registers of amd64 and arm64 only"
#endif

#define MAXARGS		6
#define MAXCALLS	64
#define MAXSTR		16384	/* string bytes one call may put on the stack */

enum argtype {
	ARG_INT,
	ARG_STR,
	ARG_RESULT
};

struct arg {
	enum argtype	 type;
	unsigned long	 val;		/* ARG_INT; call index for ARG_RESULT */
	char		*str;		/* ARG_STR, NUL-terminated */
	size_t		 len;		/* with the NUL */
};

struct call {
	const char	*text;
	int		 nr;
	int		 nargs;
	struct arg	 args[MAXARGS];
	size_t		 strspace;	/* stack bytes its strings take */
};

struct target {
	pid_t		 pid;
	int		 memfd;
	struct user_regs_struct saved;
	unsigned long	 insn;		/* address of a syscall instruction */
	unsigned long	 top;		/* below the red zone */
	unsigned char	*stack;		/* saved bytes below top */
	size_t		 stacklen;
	sigset_t	 raised;	/* signals caught while stepping */
};

static const struct constant {
	const char	*name;
	long		 val;
} constants[] = {
	{ "AF_INET",		AF_INET },
	{ "AF_INET6",		AF_INET6 },
	{ "AF_UNIX",		AF_UNIX },
	{ "AT_EMPTY_PATH",	AT_EMPTY_PATH },
	{ "AT_FDCWD",		AT_FDCWD },
	{ "AT_REMOVEDIR",	AT_REMOVEDIR },
	{ "AT_SYMLINK_FOLLOW",	AT_SYMLINK_FOLLOW },
	{ "AT_SYMLINK_NOFOLLOW", AT_SYMLINK_NOFOLLOW },
	{ "O_APPEND",		O_APPEND },
	{ "O_CLOEXEC",		O_CLOEXEC },
	{ "O_CREAT",		O_CREAT },
	{ "O_DIRECTORY",	O_DIRECTORY },
	{ "O_EXCL",		O_EXCL },
	{ "O_NOFOLLOW",		O_NOFOLLOW },
	{ "O_PATH",		O_PATH },
	{ "O_RDONLY",		O_RDONLY },
	{ "O_RDWR",		O_RDWR },
	{ "O_TMPFILE",		O_TMPFILE },
	{ "O_TRUNC",		O_TRUNC },
	{ "O_WRONLY",		O_WRONLY },
	{ "RENAME_EXCHANGE",	RENAME_EXCHANGE },
	{ "RENAME_NOREPLACE",	RENAME_NOREPLACE },
	{ "RENAME_WHITEOUT",	RENAME_WHITEOUT },
	{ "SIGCONT",		SIGCONT },
	{ "SIGKILL",		SIGKILL },
	{ "SIGSTOP",		SIGSTOP },
	{ "SIGSYS",		SIGSYS },
	{ "SIGTERM",		SIGTERM },
	{ "SIGUSR1",		SIGUSR1 },
	{ "SOCK_CLOEXEC",	SOCK_CLOEXEC },
	{ "SOCK_DGRAM",		SOCK_DGRAM },
	{ "SOCK_NONBLOCK",	SOCK_NONBLOCK },
	{ "SOCK_STREAM",	SOCK_STREAM },
};

static int	 quiet;
static volatile sig_atomic_t gotusr1;

__attribute__((__noreturn__)) static void usage(void);
static int	 parse_call(const char *, int, struct call *, char *, size_t);
static int	 parse_string(const char **, struct arg *, char *, size_t);
static int	 parse_value(const char *, size_t, unsigned long *, char *,
		    size_t);
static int	 parse_term(const char *, size_t, unsigned long *);
static void	 setup_call(struct user_regs_struct *, unsigned long,
		    unsigned long, int, const unsigned long *);
static unsigned long reg_pc(const struct user_regs_struct *);
static unsigned long reg_sp(const struct user_regs_struct *);
static long	 reg_ret(const struct user_regs_struct *);
static int	 getregs(pid_t, struct user_regs_struct *);
static int	 setregs(pid_t, const struct user_regs_struct *);
static int	 attach(struct target *);
static int	 find_insn(struct target *, unsigned long);
static int	 scan_mapping(struct target *, unsigned long, unsigned long,
		    unsigned long, unsigned long *);
static int	 save_stack(struct target *, size_t);
static int	 restore(struct target *);
static int	 run_call(struct target *, const struct call *,
		    const long *, long *, int *);
static int	 pending(pid_t, uint64_t *);
static int	 seccomp_trapped(pid_t);
static int	 deliver_fatal(pid_t, int, int *);
static uint64_t sigbits(const sigset_t *);
static void	 report(const struct call *, long, uint64_t);
static const char *signame(int, char *, size_t);
__attribute__((__noreturn__)) static void test_target(const char *,
		    long);
static void	 on_usr1(int);

static void
usage(void)
{
	fprintf(stderr, "usage: sysinject [-q] pid call ...\n"
	    "       sysinject -T sleep|pause|read|seccomp [-n secs]\n");
	exit(2);
}

int
main(int argc, char *argv[])
{
	static struct call calls[MAXCALLS];
	struct target	 t;
	const char	*mode = NULL, *errstr;
	char		 why[128];
	long		 results[MAXCALLS], secs = 1000, pid;
	sigset_t	 block;
	int		 ch, i, ncalls, how, rv;

	while ((ch = getopt(argc, argv, "n:qT:")) != -1) {
		switch (ch) {
		case 'n':
			secs = strtonum(optarg, 1, 1000000, &errstr);
			if (errstr != NULL)
				errx(2, "seconds %s: %s", optarg, errstr);
			break;
		case 'q':
			quiet = 1;
			break;
		case 'T':
			mode = optarg;
			break;
		default:
			usage();
		}
	}
	argc -= optind;
	argv += optind;

	if (mode != NULL) {
		if (argc != 0)
			usage();
		test_target(mode, secs);
	}
	if (argc < 2 || argc - 1 > MAXCALLS)
		usage();
	pid = strtonum(argv[0], 1, INT_MAX, &errstr);
	if (errstr != NULL)
		errx(2, "pid %s: %s", argv[0], errstr);
	ncalls = argc - 1;
	for (i = 0; i < ncalls; i++)
		if (parse_call(argv[i + 1], i, &calls[i], why,
		    sizeof(why)) == -1)
			errx(2, "%s: %s", argv[i + 1], why);

	/* Dying half-way would leave the target with our registers. */
	if (sigemptyset(&block) == -1 || sigaddset(&block, SIGINT) == -1 ||
	    sigaddset(&block, SIGTERM) == -1 ||
	    sigaddset(&block, SIGHUP) == -1 ||
	    sigaddset(&block, SIGQUIT) == -1 ||
	    sigprocmask(SIG_BLOCK, &block, NULL) == -1)
		err(2, "sigprocmask");

	memset(&t, 0, sizeof(t));
	t.pid = pid;
	if (sigemptyset(&t.raised) == -1)
		err(2, "sigemptyset");
	if (attach(&t) == -1)
		exit(2);

	for (i = 0; i < ncalls; i++) {
		uint64_t	 before, after;

		if (pending(t.pid, &before) == -1)
			break;
		before |= sigbits(&t.raised);
		rv = run_call(&t, &calls[i], results, &results[i], &how);
		if (rv == 3 || rv == 4) {
			if (!quiet)
				printf("%s: ", calls[i].text);
			if (rv == 3)
				printf("killed by signal %s\n",
				    signame(how, why, sizeof(why)));
			else
				printf("exited with status %d\n", how);
			if (fflush(stdout) == EOF)
				err(1, "stdout");
			exit(3);
		}
		if (rv == -1 || pending(t.pid, &after) == -1)
			break;
		after |= sigbits(&t.raised);
		report(&calls[i], results[i], after & ~before);
		if (fflush(stdout) == EOF)
			err(1, "stdout");
	}
	rv = i == ncalls ? 0 : 1;
	if (restore(&t) == -1)
		rv = 1;
	if (fflush(stdout) == EOF)
		err(1, "stdout");
	return rv;
}

/*
 * CALL: NAME(ARG, ...).  Strings are stored in a buffer of their own;
 * idx is the call's index, which $N must be below.
 */
static int
parse_call(const char *text, int idx, struct call *c, char *why,
    size_t whylen)
{
	const char	*p = text, *q;
	char		 name[64];
	size_t		 n;
	int		 nr;

	memset(c, 0, sizeof(*c));
	c->text = text;
	while (isspace((unsigned char)*p))
		p++;
	for (q = p; isalnum((unsigned char)*q) || *q == '_'; q++)
		;
	n = q - p;
	if (n == 0 || n >= sizeof(name)) {
		snprintf(why, whylen, "expected a system call name");
		return -1;
	}
	memcpy(name, p, n);
	name[n] = '\0';
	if (isdigit((unsigned char)name[0])) {
		const char	*errstr;

		nr = strtonum(name, 0, 4095, &errstr);
		if (errstr != NULL) {
			snprintf(why, whylen, "system call number %s", errstr);
			return -1;
		}
	} else if ((nr = seccomp_syscall_resolve_name(name)) < 0) {
		snprintf(why, whylen, "no system call \"%s\" on this machine",
		    name);
		return -1;
	}
	c->nr = nr;
	for (p = q; isspace((unsigned char)*p); p++)
		;
	if (*p++ != '(') {
		snprintf(why, whylen, "expected \"(\" after %s", name);
		return -1;
	}
	for (;;) {
		struct arg	*a = &c->args[c->nargs];

		while (isspace((unsigned char)*p))
			p++;
		if (*p == ')' && c->nargs == 0)
			break;
		if (c->nargs == MAXARGS) {
			snprintf(why, whylen, "more than %d arguments",
			    MAXARGS);
			return -1;
		}
		if (*p == '"') {
			if (parse_string(&p, a, why, whylen) == -1)
				return -1;
			c->strspace += (a->len + 15) & ~(size_t)15;
			if (c->strspace > MAXSTR) {
				snprintf(why, whylen, "strings over %d bytes",
				    MAXSTR);
				return -1;
			}
		} else if (*p == '$') {
			const char	*errstr;
			char		 num[16];

			for (q = ++p; isdigit((unsigned char)*q); q++)
				;
			if (q == p || q - p >= (ptrdiff_t)sizeof(num)) {
				snprintf(why, whylen, "expected $N");
				return -1;
			}
			memcpy(num, p, q - p);
			num[q - p] = '\0';
			a->type = ARG_RESULT;
			a->val = strtonum(num, 1, idx, &errstr);
			if (errstr != NULL) {
				snprintf(why, whylen, "$%s: no call %s before "
				    "this one", num, num);
				return -1;
			}
			a->val--;
			p = q;
		} else {
			for (q = p; *q != '\0' && *q != ',' && *q != ')'; q++)
				;
			a->type = ARG_INT;
			if (parse_value(p, q - p, &a->val, why, whylen) == -1)
				return -1;
			p = q;
		}
		c->nargs++;
		while (isspace((unsigned char)*p))
			p++;
		if (*p == ')')
			break;
		if (*p++ != ',') {
			snprintf(why, whylen, "expected \",\" or \")\" after "
			    "argument %d", c->nargs);
			return -1;
		}
	}
	for (p++; isspace((unsigned char)*p); p++)
		;
	if (*p != '\0') {
		snprintf(why, whylen, "trailing \"%s\"", p);
		return -1;
	}
	return 0;
}

static int
parse_string(const char **pp, struct arg *a, char *why, size_t whylen)
{
	const char	*p = *pp + 1;
	char		*s;
	size_t		 n = 0;
	int		 hi, lo;

	if ((s = malloc(strlen(p) + 1)) == NULL)
		err(2, NULL);
	for (; *p != '"'; p++) {
		if (*p == '\0') {
			snprintf(why, whylen, "unterminated string");
			free(s);
			return -1;
		}
		if (*p != '\\') {
			s[n++] = *p;
			continue;
		}
		switch (*++p) {
		case 'n':
			s[n++] = '\n';
			break;
		case 't':
			s[n++] = '\t';
			break;
		case 'r':
			s[n++] = '\r';
			break;
		case '0':
			s[n++] = '\0';
			break;
		case '\\':
		case '"':
			s[n++] = *p;
			break;
		case 'x':
			if (!isxdigit((unsigned char)p[1]) ||
			    !isxdigit((unsigned char)p[2])) {
				snprintf(why, whylen, "\\x needs two hex "
				    "digits");
				free(s);
				return -1;
			}
			hi = isdigit((unsigned char)p[1]) ? p[1] - '0' :
			    tolower((unsigned char)p[1]) - 'a' + 10;
			lo = isdigit((unsigned char)p[2]) ? p[2] - '0' :
			    tolower((unsigned char)p[2]) - 'a' + 10;
			s[n++] = hi << 4 | lo;
			p += 2;
			break;
		default:
			snprintf(why, whylen, "unknown escape \\%c", *p);
			free(s);
			return -1;
		}
	}
	s[n++] = '\0';
	a->type = ARG_STR;
	a->str = s;
	a->len = n;
	*pp = p + 1;
	return 0;
}

/* TERM[|TERM...], each an integer or a constant's name. */
static int
parse_value(const char *p, size_t len, unsigned long *val, char *why,
    size_t whylen)
{
	const char	*end = p + len, *q;
	unsigned long	 v;

	*val = 0;
	for (;;) {
		while (p < end && isspace((unsigned char)*p))
			p++;
		for (q = p; q < end && *q != '|'; q++)
			;
		len = q - p;
		while (len > 0 && isspace((unsigned char)p[len - 1]))
			len--;
		if (len == 0 || parse_term(p, len, &v) == -1) {
			snprintf(why, whylen, "bad argument \"%.*s\"",
			    (int)(end - p), p);
			return -1;
		}
		*val |= v;
		if (q == end)
			return 0;
		p = q + 1;
	}
}

static int
parse_term(const char *p, size_t len, unsigned long *v)
{
	char		 buf[64], *ep;
	size_t		 i;

	if (len >= sizeof(buf))
		return -1;
	memcpy(buf, p, len);
	buf[len] = '\0';
	if (isdigit((unsigned char)buf[0]) || buf[0] == '-') {
		errno = 0;
		if (buf[0] == '-')
			*v = strtol(buf, &ep, 0);
		else
			*v = strtoul(buf, &ep, 0);
		if (errno != 0 || *ep != '\0')
			return -1;
		return 0;
	}
	for (i = 0; i < sizeof(constants) / sizeof(constants[0]); i++) {
		if (strcmp(constants[i].name, buf) == 0) {
			*v = constants[i].val;
			return 0;
		}
	}
	return -1;
}

#if defined(__x86_64__)
static void
setup_call(struct user_regs_struct *r, unsigned long pc, unsigned long sp,
    int nr, const unsigned long *a)
{
	r->rip = pc;
	r->rsp = sp;
	r->rax = nr;
	/* No restart for the stop we resume from: we own the registers. */
	r->orig_rax = -1;
	r->rdi = a[0];
	r->rsi = a[1];
	r->rdx = a[2];
	r->r10 = a[3];
	r->r8 = a[4];
	r->r9 = a[5];
}

static unsigned long
reg_pc(const struct user_regs_struct *r)
{
	return r->rip;
}

static unsigned long
reg_sp(const struct user_regs_struct *r)
{
	return r->rsp;
}

static long
reg_ret(const struct user_regs_struct *r)
{
	return r->rax;
}
#elif defined(__aarch64__)
static void
setup_call(struct user_regs_struct *r, unsigned long pc, unsigned long sp,
    int nr, const unsigned long *a)
{
	int	 i;

	r->pc = pc;
	r->sp = sp;
	r->regs[8] = nr;
	for (i = 0; i < MAXARGS; i++)
		r->regs[i] = a[i];
}

static unsigned long
reg_pc(const struct user_regs_struct *r)
{
	return r->pc;
}

static unsigned long
reg_sp(const struct user_regs_struct *r)
{
	return r->sp;
}

static long
reg_ret(const struct user_regs_struct *r)
{
	return r->regs[0];
}
#endif

static int
getregs(pid_t pid, struct user_regs_struct *r)
{
	struct iovec	 iov = { r, sizeof(*r) };

	if (ptrace(PTRACE_GETREGSET, pid, (void *)NT_PRSTATUS, &iov) == -1) {
		warn("PTRACE_GETREGSET");
		return -1;
	}
	if (iov.iov_len != sizeof(*r)) {
		warnx("PTRACE_GETREGSET: %zu bytes", iov.iov_len);
		return -1;
	}
	return 0;
}

static int
setregs(pid_t pid, const struct user_regs_struct *r)
{
	struct iovec	 iov = { (void *)r, sizeof(*r) };

	if (ptrace(PTRACE_SETREGSET, pid, (void *)NT_PRSTATUS, &iov) == -1) {
		warn("PTRACE_SETREGSET");
		return -1;
	}
	return 0;
}

/*
 * Seize and interrupt the target.  A signal that reaches it first is
 * passed on; the interrupt's stop follows.  Then save what the calls
 * will change.
 */
static int
attach(struct target *t)
{
	char		 path[64];
	int		 st;

	if (ptrace(PTRACE_SEIZE, t->pid, NULL, NULL) == -1) {
		warn("PTRACE_SEIZE %d", t->pid);
		return -1;
	}
	if (ptrace(PTRACE_INTERRUPT, t->pid, NULL, NULL) == -1) {
		warn("PTRACE_INTERRUPT %d", t->pid);
		return -1;
	}
	for (;;) {
		if (waitpid(t->pid, &st, __WALL) == -1) {
			warn("waitpid %d", t->pid);
			return -1;
		}
		if (!WIFSTOPPED(st)) {
			warnx("%d ended before it stopped", t->pid);
			return -1;
		}
		if (st >> 16 == PTRACE_EVENT_STOP)
			break;
		if (ptrace(PTRACE_CONT, t->pid, NULL,
		    (void *)(long)WSTOPSIG(st)) == -1) {
			warn("PTRACE_CONT %d", t->pid);
			return -1;
		}
	}
	if (getregs(t->pid, &t->saved) == -1)
		goto fail;
	(void)snprintf(path, sizeof(path), "/proc/%d/mem", t->pid);
	if ((t->memfd = open(path, O_RDWR | O_CLOEXEC)) == -1) {
		warn("%s", path);
		goto fail;
	}
	if (find_insn(t, reg_pc(&t->saved)) == -1)
		goto fail;
	t->top = (reg_sp(&t->saved) - REDZONE) & ~15UL;
	if (save_stack(t, MAXSTR) == -1)
		goto fail;
	return 0;
 fail:
	if (ptrace(PTRACE_DETACH, t->pid, NULL, NULL) == -1)
		warn("PTRACE_DETACH %d", t->pid);
	return -1;
}

/*
 * A syscall instruction in an executable mapping, not the one the
 * target was stopped at or is about to restart: a kernel that rewinds
 * the pc for a restart must not mistake ours for it.
 */
static int
find_insn(struct target *t, unsigned long pc)
{
	FILE		*f;
	char		 path[64], line[512], perms[8];
	unsigned long	 lo, hi;
	int		 rv = -1;

	(void)snprintf(path, sizeof(path), "/proc/%d/maps", t->pid);
	if ((f = fopen(path, "re")) == NULL) {
		warn("%s", path);
		return -1;
	}
	while (fgets(line, sizeof(line), f) != NULL) {
		if (sscanf(line, "%lx-%lx %7s", &lo, &hi, perms) != 3 ||
		    perms[2] != 'x' || strstr(line, "[vsyscall]") != NULL)
			continue;
		if (scan_mapping(t, lo, hi, pc, &t->insn) == 0) {
			rv = 0;
			break;
		}
	}
	if (ferror(f))
		warn("%s", path);
	else if (rv == -1)
		warnx("no syscall instruction in %d's executable mappings",
		    t->pid);
	if (fclose(f) == EOF)
		warn("%s", path);
	return rv;
}

static int
scan_mapping(struct target *t, unsigned long lo, unsigned long hi,
    unsigned long pc, unsigned long *where)
{
	unsigned char	 buf[65536];
	unsigned long	 a, cand;
	size_t		 i, len;
	ssize_t		 n;

	for (a = lo; a < hi; a += len - (sizeof(sysinsn) - 1)) {
		len = hi - a < sizeof(buf) ? hi - a : sizeof(buf);
		if ((n = pread(t->memfd, buf, len, a)) != (ssize_t)len)
			return -1;
		for (i = 0; i + sizeof(sysinsn) <= len; i++) {
			cand = a + i;
			if (cand % INSN_ALIGN != 0 ||
			    memcmp(buf + i, sysinsn, sizeof(sysinsn)) != 0)
				continue;
			if (cand == pc || cand + sizeof(sysinsn) == pc)
				continue;
			*where = cand;
			return 0;
		}
		if (a + len >= hi)
			break;
	}
	return -1;
}

/*
 * Keep the bytes below the red zone that strings will cover.  A short
 * stack mapping keeps what it has.
 */
static int
save_stack(struct target *t, size_t len)
{
	ssize_t		 n;

	if ((t->stack = malloc(len)) == NULL) {
		warn(NULL);
		return -1;
	}
	while (len > 0) {
		n = pread(t->memfd, t->stack, len, t->top - len);
		if (n == (ssize_t)len)
			break;
		len /= 2;
	}
	t->stacklen = len;
	return 0;
}

/* Memory and registers as they were, then let the target go. */
static int
restore(struct target *t)
{
	int	 rv = 0, sig;

	if (t->stacklen > 0 && pwrite(t->memfd, t->stack, t->stacklen,
	    t->top - t->stacklen) != (ssize_t)t->stacklen) {
		warn("cannot put back %d's stack", t->pid);
		rv = -1;
	}
	if (setregs(t->pid, &t->saved) == -1)
		rv = -1;
	/* Signals the calls raised were held back: they are the target's. */
	for (sig = 1; sig <= 64; sig++) {
		if (sigismember(&t->raised, sig) == 1 &&
		    kill(t->pid, sig) == -1) {
			warn("kill %d", t->pid);
			rv = -1;
		}
	}
	if (ptrace(PTRACE_DETACH, t->pid, NULL, NULL) == -1) {
		warn("PTRACE_DETACH %d", t->pid);
		rv = -1;
	}
	if (close(t->memfd) == -1) {
		warn("close");
		rv = -1;
	}
	free(t->stack);
	return rv;
}

/*
 * Did the step stop on a SIGSYS that a seccomp filter raised for the
 * call (SECCOMP_RET_TRAP)?  Then the call is the target's undoing, as
 * it would be without us.
 */
static int
seccomp_trapped(pid_t pid)
{
	siginfo_t	 si;

	if (ptrace(PTRACE_GETSIGINFO, pid, NULL, &si) == -1)
		return 0;
	return si.si_signo == SIGSYS && si.si_code == 1;	/* SYS_SECCOMP */
}

/*
 * Let the target have the signal its filter raised, with the siginfo
 * it came with (its handler may want it), and every signal after it,
 * until it is gone.  Returns 3 with the killing signal in *how, 4 with
 * the exit status, -1 on error.
 */
static int
deliver_fatal(pid_t pid, int sig, int *how)
{
	int	 st;

	for (;;) {
		if (ptrace(PTRACE_CONT, pid, NULL, (void *)(long)sig) == -1) {
			warn("PTRACE_CONT %d", pid);
			return -1;
		}
		if (waitpid(pid, &st, __WALL) == -1) {
			warn("waitpid %d", pid);
			return -1;
		}
		if (WIFSIGNALED(st)) {
			*how = WTERMSIG(st);
			return 3;
		}
		if (WIFEXITED(st)) {
			*how = WEXITSTATUS(st);
			return 4;
		}
		/* The trap of the step we were doing is ours, not its. */
		sig = WIFSTOPPED(st) && st >> 16 == 0 &&
		    WSTOPSIG(st) != SIGTRAP ? WSTOPSIG(st) : 0;
	}
}

/*
 * One call: strings onto the stack, registers set, one step over the
 * syscall instruction.  The step ends in a SIGTRAP stop inside the
 * kernel's signal path, which is also where the registers put back at
 * the end take effect.  Other signals that stop the target meanwhile
 * are held back.  Returns 0, -1 on error, 3 when the target was killed
 * (signal in *how) and 4 when it exited (status in *how).
 */
static int
run_call(struct target *t, const struct call *c, const long *results,
    long *ret, int *how)
{
	struct user_regs_struct r;
	unsigned long	 a[MAXARGS] = { 0 }, sp = t->top;
	int		 i, st;

	if (c->strspace > t->stacklen) {
		warnx("%s: %zu bytes of strings, room for %zu on %d's stack",
		    c->text, c->strspace, t->stacklen, t->pid);
		return -1;
	}
	for (i = 0; i < c->nargs; i++) {
		switch (c->args[i].type) {
		case ARG_INT:
			a[i] = c->args[i].val;
			break;
		case ARG_RESULT:
			a[i] = results[c->args[i].val];
			break;
		case ARG_STR:
			sp = (sp - c->args[i].len) & ~15UL;
			if (pwrite(t->memfd, c->args[i].str, c->args[i].len,
			    sp) != (ssize_t)c->args[i].len) {
				warn("%s: cannot write to %d's stack", c->text,
				    t->pid);
				return -1;
			}
			a[i] = sp;
			break;
		}
	}
	r = t->saved;
	setup_call(&r, t->insn, sp, c->nr, a);
	if (setregs(t->pid, &r) == -1)
		return -1;
	for (;;) {
		if (ptrace(PTRACE_SINGLESTEP, t->pid, NULL, NULL) == -1) {
			warn("PTRACE_SINGLESTEP %d", t->pid);
			return -1;
		}
		if (waitpid(t->pid, &st, __WALL) == -1) {
			warn("waitpid %d", t->pid);
			return -1;
		}
		if (WIFSIGNALED(st)) {
			*how = WTERMSIG(st);
			return 3;
		}
		if (WIFEXITED(st)) {
			*how = WEXITSTATUS(st);
			return 4;
		}
		if (!WIFSTOPPED(st))
			continue;
		if (WSTOPSIG(st) == SIGSYS && st >> 16 == 0 &&
		    seccomp_trapped(t->pid))
			return deliver_fatal(t->pid, SIGSYS, how);
		if (WSTOPSIG(st) != SIGTRAP || st >> 16 != 0) {
			/* Not our step: a signal, or a group stop. */
			if (st >> 16 == 0 &&
			    sigaddset(&t->raised, WSTOPSIG(st)) == -1) {
				warn("sigaddset");
				return -1;
			}
			continue;
		}
		if (getregs(t->pid, &r) == -1)
			return -1;
		if (reg_pc(&r) == t->insn + sizeof(sysinsn))
			break;
		if (reg_pc(&r) != t->insn) {
			warnx("%s: %d stopped at %#lx, not after the syscall "
			    "instruction at %#lx", c->text, t->pid,
			    reg_pc(&r), t->insn);
			return -1;
		}
	}
	*ret = reg_ret(&r);
	return 0;
}

/* Signals pending for the target, bit N-1 for signal N. */
static int
pending(pid_t pid, uint64_t *set)
{
	FILE		*f;
	char		 path[64], line[256];
	unsigned long long v;
	int		 n = 0;

	*set = 0;
	(void)snprintf(path, sizeof(path), "/proc/%d/status", pid);
	if ((f = fopen(path, "re")) == NULL) {
		warn("%s", path);
		return -1;
	}
	while (fgets(line, sizeof(line), f) != NULL) {
		if (sscanf(line, "SigPnd: %llx", &v) == 1 ||
		    sscanf(line, "ShdPnd: %llx", &v) == 1) {
			*set |= v;
			n++;
		}
	}
	if (ferror(f)) {
		warn("%s", path);
		n = 0;
	}
	if (fclose(f) == EOF)
		warn("%s", path);
	if (n != 2) {
		warnx("%s: no SigPnd and ShdPnd", path);
		return -1;
	}
	return 0;
}

static uint64_t
sigbits(const sigset_t *set)
{
	uint64_t	 bits = 0;
	int		 sig;

	for (sig = 1; sig <= 64; sig++)
		if (sigismember(set, sig) == 1)
			bits |= 1ULL << (sig - 1);
	return bits;
}

static void
report(const struct call *c, long ret, uint64_t sigs)
{
	const char	*name;
	char		 buf[32];
	int		 e, sig;

	if (!quiet)
		printf("%s = ", c->text);
	if (ret < 0 && ret >= -4095) {
		e = -ret;
		if ((name = strerrorname_np(e)) != NULL)
			printf("-1 %s (%s)", name, strerror(e));
		else
			printf("-1 errno %d", e);
	} else
		printf("%ld", ret);
	for (sig = 1; sig <= 64; sig++)
		if (sigs & 1ULL << (sig - 1))
			printf(", %s pending", signame(sig, buf, sizeof(buf)));
	printf("\n");
}

static const char *
signame(int sig, char *buf, size_t len)
{
	const char	*abbrev;

	if ((abbrev = sigabbrev_np(sig)) != NULL)
		(void)snprintf(buf, len, "SIG%s", abbrev);
	else
		(void)snprintf(buf, len, "signal %d", sig);
	return buf;
}

static void
on_usr1(int sig)
{
	gotusr1 = 1;
}

/* A target for the tests: see the comment at the top. */
static void
test_target(const char *mode, long secs)
{
	struct sigaction sa;
	struct timespec	 ts, t0, t1;
	struct rlimit	 rl = { 0, 0 };
	scmp_filter_ctx	 ctx;
	const char	*name, *ename;
	char		 c;
	int		 pfd[2], e, rc;
	long		 r;

	if (strcmp(mode, "sleep") != 0 && strcmp(mode, "pause") != 0 &&
	    strcmp(mode, "read") != 0 && strcmp(mode, "seccomp") != 0)
		usage();
	/* Without SA_RESTART, so that every call comes back on the signal. */
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_usr1;
	if (sigemptyset(&sa.sa_mask) == -1 ||
	    sigaction(SIGUSR1, &sa, NULL) == -1)
		err(1, "sigaction");
	if (pipe(pfd) == -1)
		err(1, "pipe");
	if (strcmp(mode, "seccomp") == 0) {
		/* The SIGSYS it is there for leaves no core file. */
		if (setrlimit(RLIMIT_CORE, &rl) == -1)
			err(1, "setrlimit");
		if ((ctx = seccomp_init(SCMP_ACT_ALLOW)) == NULL)
			errx(1, "seccomp_init");
		if ((rc = seccomp_rule_add(ctx, SCMP_ACT_KILL_PROCESS,
		    SCMP_SYS(getppid), 0)) < 0)
			errc(1, -rc, "seccomp_rule_add");
		if ((rc = seccomp_load(ctx)) < 0)
			errc(1, -rc, "seccomp_load");
		seccomp_release(ctx);
	}
	if (printf("ready\n") < 0 || fflush(stdout) == EOF)
		err(1, "stdout");
	for (;;) {
		if (clock_gettime(CLOCK_MONOTONIC, &t0) == -1)
			err(1, "clock_gettime");
		if (strcmp(mode, "sleep") == 0) {
			ts.tv_sec = secs;
			ts.tv_nsec = 0;
			r = nanosleep(&ts, NULL);
			name = "nanosleep";
		} else if (strcmp(mode, "read") == 0) {
			r = read(pfd[0], &c, 1);
			name = "read";
		} else {
			r = pause();
			name = "pause";
		}
		e = errno;
		if (clock_gettime(CLOCK_MONOTONIC, &t1) == -1)
			err(1, "clock_gettime");
		if (gotusr1) {
			gotusr1 = 0;
			if (printf("signal SIGUSR1\n") < 0)
				err(1, "stdout");
		}
		if (r == -1 && (ename = strerrorname_np(e)) == NULL)
			ename = "?";
		if (printf("woke: %s = %ld%s%s after %.2f s\n", name, r,
		    r == -1 ? " " : "", r == -1 ? ename : "",
		    (t1.tv_sec - t0.tv_sec) +
		    (t1.tv_nsec - t0.tv_nsec) / 1e9) < 0 ||
		    fflush(stdout) == EOF)
			err(1, "stdout");
	}
}
