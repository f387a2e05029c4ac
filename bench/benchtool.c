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
 * benchtool: the measuring half of make bench (bench/run.sh drives it).
 * Each subcommand takes one sample and prints "NAME VALUE" lines; the
 * script repeats it and keeps the median, min and max.
 *
 * Machine baselines (no server):
 *	crypto [-t ms]		ChaCha20-Poly1305 and crc32, MB/s
 *	verify -d dir -s bytes -j n
 *				the disk's own verify path
 *	commit -d dir -n count	4 KiB write+fsync+rename+dir fsync
 * Processes:
 *	run [-o file] cmd [arg ...]
 *				wall and CPU seconds of cmd
 *	tree pid		CPU s and RSS of pid and its descendants
 *	peak pid [-i ms]	peak RSS until SIGTERM or SIGINT
 * Against a dsrvd (after -r host:port -k keyfile -K keyname):
 *	ping -n count		round trip
 *	write -c conns -n count -t tag
 *				4 KiB chunk writes
 *	fill -c conns -n files -t tag
 *				small files, a data and a metadata chunk
 *	stat -c conns -n count -f files -t tag
 *				chunk stats of filled chunks
 *	list			every name in index/ and 00..ff
 *	idle -n conns -p pid	RSS per idle connection
 *	inflight -n chunks -p pid -t tag [-i ms]
 *				RSS growth per 8 MiB chunk in flight
 *
 * MB is 10^6 bytes.  Latencies are in microseconds.
 */

#include <sys/types.h>
#include <sys/stat.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <sodium.h>
#include <zlib.h>

#include "client.h"
#include "conf.h"
#include "dsrvfile.h"

#define MIB		(1024 * 1024)
#define BUFSZ		(8 * MIB)
#define SMALL		4096
#define MAXCONNS	256

static struct dsrv_client_opts	 copts;
static int			 have_server;

static void	 usage(void) __attribute__((noreturn));
static void	 fatal(const char *, ...)
		    __attribute__((noreturn, format(printf, 1, 2)));
static double	 now(void);
static void	*xalloc(size_t);
static int	 cmp_double(const void *, const void *);
static double	 pct(double *, size_t, double);
static long	 num(const char *, long, long);
static struct dsrv_client *conn(void);

static void
usage(void)
{
	fprintf(stderr,
	    "usage: benchtool crypto [-t ms]\n"
	    "       benchtool verify -d dir -s bytes [-j inflight]\n"
	    "       benchtool commit -d dir -n count\n"
	    "       benchtool run [-o file] command [argument ...]\n"
	    "       benchtool tree pid\n"
	    "       benchtool peak pid [-i ms]\n"
	    "       benchtool -r host:port -k keyfile -K keyname command ...\n"
	    "           ping -n count | write -c conns -n count -t tag |\n"
	    "           fill -c conns -n files -t tag |\n"
	    "           stat -n count -f files -t tag | list |\n"
	    "           idle -n conns -p pid |\n"
	    "           inflight -n chunks -p pid -t tag [-i ms]\n");
	exit(2);
}

static void
fatal(const char *fmt, ...)
{
	va_list	 ap;

	va_start(ap, fmt);
	fputs("benchtool: ", stderr);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
	exit(1);
}

static double
now(void)
{
	struct timespec	 ts;

	if (clock_gettime(CLOCK_MONOTONIC, &ts) == -1)
		fatal("clock_gettime: %s", strerror(errno));
	return ((double)ts.tv_sec + (double)ts.tv_nsec / 1e9);
}

/* Page-aligned, so the same buffers serve O_DIRECT. */
static void *
xalloc(size_t n)
{
	void	*p;
	int	 e;

	if ((e = posix_memalign(&p, 4096, n)) != 0)
		fatal("posix_memalign: %s", strerror(e));
	memset(p, 0, n);
	return (p);
}

static int
cmp_double(const void *a, const void *b)
{
	double	 x = *(const double *)a, y = *(const double *)b;

	return ((x > y) - (x < y));
}

/* Nearest-rank percentile p (0..100) of v; sorts v. */
static double
pct(double *v, size_t n, double p)
{
	size_t	 i;

	if (n == 0)
		return (0);
	qsort(v, n, sizeof(*v), cmp_double);
	i = (size_t)(p / 100.0 * (double)n + 0.999999);
	if (i < 1)
		i = 1;
	if (i > n)
		i = n;
	return (v[i - 1]);
}

static long
num(const char *s, long lo, long hi)
{
	const char	*errstr;
	long long	 v;

	v = strtonum(s, lo, hi, &errstr);
	if (errstr != NULL)
		fatal("number %s is %s", s, errstr);
	return ((long)v);
}

static struct dsrv_client *
conn(void)
{
	struct dsrv_client	*c;
	char			 err[DSRV_CLIENT_ERRLEN];

	if (!have_server)
		usage();
	if ((c = dsrv_client_connect(&copts, err, sizeof(err))) == NULL)
		fatal("%s", err);
	return (c);
}

/*
 * Single-core ChaCha20-Poly1305 IETF (what the wire protocol uses) and
 * zlib crc32 over an 8 MiB buffer, each repeated for at least ms.
 */
static int
cmd_crypto(int argc, char **argv)
{
	uint8_t		*pt, *ct, key[32], nonce[12], mac[16];
	double		 t0, t, limit = 0.5;
	uLong		 crc = 0;
	size_t		 n;
	int		 ch;

	while ((ch = getopt(argc, argv, "t:")) != -1) {
		switch (ch) {
		case 't':
			limit = (double)num(optarg, 10, 600000) / 1000.0;
			break;
		default:
			usage();
		}
	}
	pt = xalloc(BUFSZ);
	ct = xalloc(BUFSZ);
	randombytes_buf(pt, BUFSZ);
	randombytes_buf(key, sizeof(key));
	memset(nonce, 0, sizeof(nonce));

	t0 = now();
	n = 0;
	do {
		nonce[0] = (uint8_t)n;
		(void)crypto_aead_chacha20poly1305_ietf_encrypt_detached(ct,
		    mac, NULL, pt, BUFSZ, nonce, sizeof(nonce), NULL, nonce,
		    key);
		n++;
	} while ((t = now() - t0) < limit);
	printf("chacha_enc_MBps %.1f\n", (double)n * BUFSZ / t / 1e6);

	/* The last ciphertext, opened again and again with its own tag. */
	t0 = now();
	n = 0;
	do {
		if (crypto_aead_chacha20poly1305_ietf_decrypt_detached(pt,
		    NULL, ct, BUFSZ, mac, nonce, sizeof(nonce), nonce,
		    key) != 0)
			fatal("decryption failed");
		n++;
	} while ((t = now() - t0) < limit);
	printf("chacha_dec_MBps %.1f\n", (double)n * BUFSZ / t / 1e6);

	t0 = now();
	n = 0;
	do {
		crc ^= crc32(0L, pt, BUFSZ);
		n++;
	} while ((t = now() - t0) < limit);
	printf("crc32_MBps %.1f\n", (double)n * BUFSZ / t / 1e6);
	/* Keeps the loop from being optimised away. */
	if (crc == 1)
		fprintf(stderr, "%lu\n", crc);
	sodium_memzero(key, sizeof(key));
	free(pt);
	free(ct);
	return (0);
}

/*
 * The disk's own verify path, what a storage worker must do per chunk
 * at the least: crc the data, write it, fsync, drop it from the page
 * cache, read it back from the device (O_DIRECT when the file system
 * allows) and check the crc.  inflight threads take files in turn.
 */
struct verify {
	pthread_mutex_t	 mtx;
	const char	*dir;
	size_t		 nfiles;
	size_t		 next;
	int		 direct;	/* 1 while every open got O_DIRECT */
	int		 failed;
};

static void *
verify_worker(void *arg)
{
	struct verify	*v = arg;
	char		 path[PATH_MAX];
	uint8_t		*wbuf, *rbuf;
	uLong		 crc, rcrc;
	size_t		 i, off;
	ssize_t		 n;
	int		 fd, direct;

	wbuf = xalloc(BUFSZ);
	rbuf = xalloc(BUFSZ);
	randombytes_buf(wbuf, BUFSZ);
	for (;;) {
		(void)pthread_mutex_lock(&v->mtx);
		i = v->next++;
		(void)pthread_mutex_unlock(&v->mtx);
		if (i >= v->nfiles || v->failed)
			break;
		memcpy(wbuf, &i, sizeof(i));
		crc = crc32(0L, wbuf, BUFSZ);
		(void)snprintf(path, sizeof(path), "%s/verify.%zu", v->dir, i);
		if ((fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC,
		    0600)) == -1)
			fatal("%s: %s", path, strerror(errno));
		for (off = 0; off < BUFSZ; off += (size_t)n)
			if ((n = write(fd, wbuf + off, BUFSZ - off)) <= 0)
				fatal("write %s: %s", path, strerror(errno));
		if (fsync(fd) == -1)
			fatal("fsync %s: %s", path, strerror(errno));
		(void)posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED);
		if (close(fd) == -1)
			fatal("close %s: %s", path, strerror(errno));

		direct = 1;
		if ((fd = open(path, O_RDONLY | O_DIRECT | O_CLOEXEC)) == -1 &&
		    errno == EINVAL) {
			direct = 0;
			fd = open(path, O_RDONLY | O_CLOEXEC);
		}
		if (fd == -1)
			fatal("%s: %s", path, strerror(errno));
		for (off = 0; off < BUFSZ; off += (size_t)n)
			if ((n = read(fd, rbuf + off, BUFSZ - off)) <= 0)
				fatal("read %s: %s", path, n == 0 ?
				    "short file" : strerror(errno));
		(void)close(fd);
		rcrc = crc32(0L, rbuf, BUFSZ);
		(void)pthread_mutex_lock(&v->mtx);
		if (!direct)
			v->direct = 0;
		if (rcrc != crc) {
			fprintf(stderr, "benchtool: %s: crc mismatch\n", path);
			v->failed = 1;
		}
		(void)pthread_mutex_unlock(&v->mtx);
	}
	free(wbuf);
	free(rbuf);
	return (NULL);
}

static int
cmd_verify(int argc, char **argv)
{
	struct verify	 v;
	pthread_t	 tids[16];
	char		 path[PATH_MAX];
	double		 t0, t;
	long long	 size = 0;
	size_t		 i;
	int		 ch, j, nthr = 1;

	memset(&v, 0, sizeof(v));
	while ((ch = getopt(argc, argv, "d:j:s:")) != -1) {
		switch (ch) {
		case 'd':
			v.dir = optarg;
			break;
		case 'j':
			nthr = (int)num(optarg, 1, 16);
			break;
		case 's':
			size = num(optarg, BUFSZ, LONG_MAX);
			break;
		default:
			usage();
		}
	}
	if (v.dir == NULL || size == 0)
		usage();
	v.nfiles = (size_t)(size / BUFSZ);
	v.direct = 1;
	if (pthread_mutex_init(&v.mtx, NULL) != 0)
		fatal("pthread_mutex_init failed");
	t0 = now();
	for (j = 0; j < nthr; j++)
		if (pthread_create(&tids[j], NULL, verify_worker, &v) != 0)
			fatal("pthread_create failed");
	for (j = 0; j < nthr; j++)
		(void)pthread_join(tids[j], NULL);
	t = now() - t0;
	for (i = 0; i < v.nfiles; i++) {
		(void)snprintf(path, sizeof(path), "%s/verify.%zu", v.dir, i);
		(void)unlink(path);
	}
	if (v.failed)
		return (1);
	printf("verify_MBps %.1f\n", (double)v.nfiles * BUFSZ / t / 1e6);
	printf("verify_direct %d\n", v.direct);
	return (0);
}

/*
 * A small commit as a careful server does it: write a temporary file,
 * fsync it, rename it into place, fsync the directory.
 */
static int
cmd_commit(int argc, char **argv)
{
	const char	*dir = NULL;
	char		 tmp[PATH_MAX], path[PATH_MAX];
	uint8_t		 buf[SMALL];
	double		*lat, t0, tall;
	long		 count = 0, i;
	int		 ch, fd, dfd;

	while ((ch = getopt(argc, argv, "d:n:")) != -1) {
		switch (ch) {
		case 'd':
			dir = optarg;
			break;
		case 'n':
			count = num(optarg, 1, 10000000);
			break;
		default:
			usage();
		}
	}
	if (dir == NULL || count == 0)
		usage();
	lat = xalloc((size_t)count * sizeof(*lat));
	randombytes_buf(buf, sizeof(buf));
	if ((dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) == -1)
		fatal("%s: %s", dir, strerror(errno));
	tall = now();
	for (i = 0; i < count; i++) {
		memcpy(buf, &i, sizeof(i));
		(void)snprintf(tmp, sizeof(tmp), "%s/commit.%ld.tmp", dir, i);
		(void)snprintf(path, sizeof(path), "%s/commit.%ld", dir, i);
		t0 = now();
		if ((fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC,
		    0600)) == -1)
			fatal("%s: %s", tmp, strerror(errno));
		if (write(fd, buf, sizeof(buf)) != (ssize_t)sizeof(buf))
			fatal("write %s failed", tmp);
		if (fsync(fd) == -1 || close(fd) == -1)
			fatal("fsync %s: %s", tmp, strerror(errno));
		if (rename(tmp, path) == -1)
			fatal("rename %s: %s", tmp, strerror(errno));
		if (fsync(dfd) == -1)
			fatal("fsync %s: %s", dir, strerror(errno));
		lat[i] = (now() - t0) * 1e6;
	}
	tall = now() - tall;
	for (i = 0; i < count; i++) {
		(void)snprintf(path, sizeof(path), "%s/commit.%ld", dir, i);
		(void)unlink(path);
	}
	(void)close(dfd);
	printf("commit_per_s %.1f\n", (double)count / tall);
	printf("commit_p50_us %.1f\n", pct(lat, (size_t)count, 50));
	printf("commit_p99_us %.1f\n", pct(lat, (size_t)count, 99));
	free(lat);
	return (0);
}

/* Wall and CPU seconds (user + system) of a command, and its peak RSS. */
static int
cmd_run(int argc, char **argv)
{
	struct rusage	 ru;
	double		 t0, t;
	pid_t		 pid;
	int		 status;

	const char	*out = NULL;
	int		 fd;

	/* -o FILE: the command's standard output goes there, not ours. */
	if (argc >= 3 && strcmp(argv[1], "-o") == 0) {
		out = argv[2];
		argc -= 2;
		argv += 2;
	}
	if (argc < 2)
		usage();
	t0 = now();
	if ((pid = fork()) == -1)
		fatal("fork: %s", strerror(errno));
	if (pid == 0) {
		if (out != NULL) {
			fd = open(out, O_WRONLY | O_CREAT | O_TRUNC |
			    O_CLOEXEC, 0644);
			if (fd == -1 || dup2(fd, STDOUT_FILENO) == -1) {
				fprintf(stderr, "benchtool: %s: %s\n", out,
				    strerror(errno));
				_exit(127);
			}
			if (fd != STDOUT_FILENO)
				(void)close(fd);
		}
		execvp(argv[1], argv + 1);
		fprintf(stderr, "benchtool: %s: %s\n", argv[1],
		    strerror(errno));
		_exit(127);
	}
	if (wait4(pid, &status, 0, &ru) == -1)
		fatal("wait4: %s", strerror(errno));
	t = now() - t0;
	printf("wall_s %.4f\n", t);
	printf("cpu_s %.4f\n", (double)ru.ru_utime.tv_sec +
	    (double)ru.ru_utime.tv_usec / 1e6 + (double)ru.ru_stime.tv_sec +
	    (double)ru.ru_stime.tv_usec / 1e6);
	printf("maxrss_kib %ld\n", ru.ru_maxrss);
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
		fprintf(stderr, "benchtool: %s failed (status %d)\n", argv[1],
		    status);
		return (1);
	}
	return (0);
}

/*
 * A process tree from /proc: the root and every descendant, with
 * their CPU time (utime + stime, live processes only), RSS and PSS.
 */
struct treeinfo {
	double		 cpu_s;
	long		 rss_kib;
	long		 pss_kib;
	int		 nproc;
};

#define MAXPROCS	4096

static long
status_kib(const char *path, const char *field)
{
	FILE	*f;
	char	 line[256];
	size_t	 fl = strlen(field);
	long	 v = 0;

	if ((f = fopen(path, "re")) == NULL)
		return (0);
	while (fgets(line, sizeof(line), f) != NULL)
		if (strncmp(line, field, fl) == 0 && line[fl] == ':') {
			v = strtol(line + fl + 1, NULL, 10);
			break;
		}
	(void)fclose(f);
	return (v);
}

/*
 * The pids of root and its live descendants into in (at most MAXPROCS),
 * with their CPU seconds summed into *cpu_s.  Returns how many.
 */
static size_t
tree_scan(pid_t root, pid_t *in, double *cpu_s)
{
	static pid_t	 pids[MAXPROCS], ppids[MAXPROCS];
	static unsigned long long utimes[MAXPROCS];
	pid_t		 all[MAXPROCS];
	DIR		*d;
	struct dirent	*de;
	FILE		*f;
	char		 path[300], buf[1024], *p;
	unsigned long long ut, st;
	size_t		 n = 0, nall = 0, nin = 0, i, j;
	int		 ppid, grew;
	long		 tck = sysconf(_SC_CLK_TCK);

	*cpu_s = 0;
	if ((d = opendir("/proc")) == NULL)
		fatal("/proc: %s", strerror(errno));
	while ((de = readdir(d)) != NULL && n < MAXPROCS) {
		if (de->d_name[0] < '0' || de->d_name[0] > '9')
			continue;
		(void)snprintf(path, sizeof(path), "/proc/%s/stat", de->d_name);
		if ((f = fopen(path, "re")) == NULL)
			continue;
		p = fgets(buf, sizeof(buf), f);
		(void)fclose(f);
		/* The command may hold spaces and ')': skip to the last. */
		if (p == NULL || (p = strrchr(buf, ')')) == NULL)
			continue;
		if (sscanf(p + 2, "%*c %d %*d %*d %*d %*d %*u %*u %*u %*u %*u "
		    "%llu %llu", &ppid, &ut, &st) != 3)
			continue;
		pids[n] = (pid_t)atoi(de->d_name);
		ppids[n] = ppid;
		utimes[n] = ut + st;
		n++;
	}
	(void)closedir(d);

	all[nall++] = root;
	do {
		grew = 0;
		for (i = 0; i < n; i++) {
			for (j = 0; j < nall; j++)
				if (all[j] == pids[i])
					break;
			if (j < nall)
				continue;
			for (j = 0; j < nall; j++)
				if (all[j] == ppids[i])
					break;
			if (j < nall && nall < MAXPROCS) {
				all[nall++] = pids[i];
				grew = 1;
			}
		}
	} while (grew);

	/* Only those still there: the root may be gone. */
	for (j = 0; j < nall; j++) {
		for (i = 0; i < n; i++)
			if (pids[i] == all[j])
				break;
		if (i == n)
			continue;
		*cpu_s += (double)utimes[i] / (double)tck;
		in[nin++] = all[j];
	}
	return (nin);
}

/* RSS and PSS summed over the given pids. */
static void
tree_mem(const pid_t *in, size_t nin, struct treeinfo *ti)
{
	char	 path[64];
	size_t	 j;

	ti->rss_kib = ti->pss_kib = 0;
	for (j = 0; j < nin; j++) {
		(void)snprintf(path, sizeof(path), "/proc/%d/status",
		    (int)in[j]);
		ti->rss_kib += status_kib(path, "VmRSS");
		(void)snprintf(path, sizeof(path), "/proc/%d/smaps_rollup",
		    (int)in[j]);
		ti->pss_kib += status_kib(path, "Pss");
	}
}

static int
tree_info(pid_t root, struct treeinfo *ti)
{
	static pid_t	 in[MAXPROCS];
	size_t		 nin;

	memset(ti, 0, sizeof(*ti));
	nin = tree_scan(root, in, &ti->cpu_s);
	tree_mem(in, nin, ti);
	ti->nproc = (int)nin;
	return (ti->nproc > 0 ? 0 : -1);
}

static int
cmd_tree(int argc, char **argv)
{
	struct treeinfo	 ti;

	if (argc != 2)
		usage();
	if (tree_info((pid_t)num(argv[1], 1, INT_MAX), &ti) == -1)
		fatal("no process %s", argv[1]);
	printf("cpu_s %.3f\nrss_kib %ld\npss_kib %ld\nnproc %d\n", ti.cpu_s,
	    ti.rss_kib, ti.pss_kib, ti.nproc);
	return (0);
}

static volatile sig_atomic_t	 stop;

static void
on_stop(int sig)
{
	stop = 1;
}

/* The largest RSS (and PSS) of the tree, sampled until told to stop. */
static int
cmd_peak(int argc, char **argv)
{
	struct sigaction sa;
	struct treeinfo	 ti;
	struct timespec	 ts;
	long		 peak = 0, ppss = 0, ms = 100;
	pid_t		 pid;
	int		 ch;

	if (argc < 2)
		usage();
	pid = (pid_t)num(argv[1], 1, INT_MAX);
	argc--;
	argv++;
	while ((ch = getopt(argc, argv, "i:")) != -1) {
		switch (ch) {
		case 'i':
			ms = num(optarg, 1, 10000);
			break;
		default:
			usage();
		}
	}
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_stop;
	if (sigaction(SIGTERM, &sa, NULL) == -1 ||
	    sigaction(SIGINT, &sa, NULL) == -1)
		fatal("sigaction: %s", strerror(errno));
	ts.tv_sec = ms / 1000;
	ts.tv_nsec = (ms % 1000) * 1000000L;
	while (!stop) {
		if (tree_info(pid, &ti) == -1)
			break;
		if (ti.rss_kib > peak)
			peak = ti.rss_kib;
		if (ti.pss_kib > ppss)
			ppss = ti.pss_kib;
		(void)nanosleep(&ts, NULL);
	}
	printf("peak_rss_kib %ld\npeak_pss_kib %ld\n", peak, ppss);
	return (0);
}

static int
cmd_ping(int argc, char **argv)
{
	struct dsrv_client	*c;
	char			 err[DSRV_CLIENT_ERRLEN];
	double			*lat;
	uint64_t		 rtt;
	long			 count = 1000, i;
	int			 ch;

	while ((ch = getopt(argc, argv, "n:")) != -1) {
		switch (ch) {
		case 'n':
			count = num(optarg, 1, 10000000);
			break;
		default:
			usage();
		}
	}
	lat = xalloc((size_t)count * sizeof(*lat));
	c = conn();
	printf("handshake_us %llu\n",
	    (unsigned long long)dsrv_client_handshake_us(c));
	for (i = 0; i < count; i++) {
		if (dsrv_client_ping(c, NULL, 0, NULL, &rtt, err,
		    sizeof(err)) == -1)
			fatal("%s", err);
		lat[i] = (double)rtt;
	}
	dsrv_client_close(c);
	printf("ping_p50_us %.1f\n", pct(lat, (size_t)count, 50));
	printf("ping_p99_us %.1f\n", pct(lat, (size_t)count, 99));
	free(lat);
	return (0);
}

/*
 * Many connections doing one kind of request each: a barrier after
 * the handshakes, so only the requests are timed.
 */
struct load {
	pthread_barrier_t barrier;
	const char	*tag;
	long		 count;		/* requests, all threads */
	int		 nconns;
	double		*lat;		/* count latencies, us */
	int		 failed;
	long		 files;		/* stat: how many filled */
	int		(*op)(struct dsrv_client *, struct load *, long,
			    char *, size_t);
};

struct worker {
	struct load	*l;
	int		 idx;
};

static void *
load_worker(void *arg)
{
	struct worker		*w = arg;
	struct load		*l = w->l;
	struct dsrv_client	*c;
	char			 err[DSRV_CLIENT_ERRLEN];
	double			 t0;
	long			 i;

	c = conn();
	(void)pthread_barrier_wait(&l->barrier);
	for (i = w->idx; i < l->count && !l->failed; i += l->nconns) {
		t0 = now();
		if (l->op(c, l, i, err, sizeof(err)) != 0) {
			fprintf(stderr, "benchtool: %s\n", err);
			l->failed = 1;
			break;
		}
		l->lat[i] = (now() - t0) * 1e6;
	}
	dsrv_client_close(c);
	return (NULL);
}

/* Returns the wall time of the requests, after every handshake. */
static double
load_run(struct load *l)
{
	struct worker	 ws[MAXCONNS];
	pthread_t	 tids[MAXCONNS];
	double		 t0;
	int		 j;

	l->lat = xalloc((size_t)l->count * sizeof(*l->lat));
	if (pthread_barrier_init(&l->barrier, NULL,
	    (unsigned)l->nconns + 1) != 0)
		fatal("pthread_barrier_init failed");
	for (j = 0; j < l->nconns; j++) {
		ws[j].l = l;
		ws[j].idx = j;
		if (pthread_create(&tids[j], NULL, load_worker, &ws[j]) != 0)
			fatal("pthread_create failed");
	}
	(void)pthread_barrier_wait(&l->barrier);
	t0 = now();
	for (j = 0; j < l->nconns; j++)
		(void)pthread_join(tids[j], NULL);
	if (l->failed)
		exit(1);
	return (now() - t0);
}

static int
load_args(int argc, char **argv, struct load *l)
{
	int	 ch;

	memset(l, 0, sizeof(*l));
	l->nconns = 1;
	while ((ch = getopt(argc, argv, "c:f:n:t:")) != -1) {
		switch (ch) {
		case 'c':
			l->nconns = (int)num(optarg, 1, MAXCONNS);
			break;
		case 'f':
			l->files = num(optarg, 1, 100000000);
			break;
		case 'n':
			l->count = num(optarg, 1, 100000000);
			break;
		case 't':
			l->tag = optarg;
			break;
		default:
			usage();
		}
	}
	if (l->count == 0 || l->tag == NULL)
		usage();
	return (0);
}

static int
op_write(struct dsrv_client *c, struct load *l, long i, char *err,
    size_t errlen)
{
	uint8_t	 buf[SMALL];
	char	 name[CHUNK_NAME_MAX + 1];

	/* Different contents each, a fixed pattern is all the disk sees. */
	memset(buf, 0xa5, sizeof(buf));
	(void)snprintf((char *)buf, 64, "%s %ld", l->tag, i);
	(void)snprintf(name, sizeof(name), "bench/%s-%08ld", l->tag, i);
	return (dsrv_client_write(c, name, buf, sizeof(buf), err, errlen));
}

static int
cmd_write(int argc, char **argv)
{
	struct load	 l;
	double		 t;

	load_args(argc, argv, &l);
	l.op = op_write;
	t = load_run(&l);
	printf("writes_per_s %.1f\n", (double)l.count / t);
	printf("write_p50_us %.1f\n", pct(l.lat, (size_t)l.count, 50));
	printf("write_p99_us %.1f\n", pct(l.lat, (size_t)l.count, 99));
	free(l.lat);
	return (0);
}

/*
 * File i of a fill: name b/TAG/NNNNNNN, 100 to 355 bytes that depend
 * on the name only, so stat can name its chunks without a listing.
 */
static size_t
fill_file(const char *tag, long i, char *fname, size_t fnlen, uint8_t *buf,
    uint32_t *crc)
{
	size_t	 len, k;
	uint32_t x;

	(void)snprintf(fname, fnlen, "b/%s/%07ld", tag, i);
	x = (uint32_t)i * 2654435761u + 1;
	len = 100 + x % 256;
	for (k = 0; k < len; k++) {
		x ^= x << 13;
		x ^= x >> 17;
		x ^= x << 5;
		buf[k] = (uint8_t)x;
	}
	memcpy(buf, fname, strlen(fname));
	*crc = (uint32_t)crc32(0L, buf, (uInt)len);
	return (len);
}

static int
op_fill(struct dsrv_client *c, struct load *l, long i, char *err,
    size_t errlen)
{
	struct dsrv_file_meta	 fm;
	struct dsrv_chunk_meta	 cm;
	uint8_t			 buf[512], *meta;
	char			 fname[256], name[CHUNK_NAME_MAX + 1];
	size_t			 len, mlen;
	uint32_t		 crc;
	int			 rc;

	len = fill_file(l->tag, i, fname, sizeof(fname), buf, &crc);
	dsrv_data_name(crc, 0, crc, name);
	if ((rc = dsrv_client_write(c, name, buf, len, err, errlen)) != 0)
		return (rc);
	memset(&fm, 0, sizeof(fm));
	fm.name = fname;
	fm.length = len;
	fm.crc = crc;
	crypto_hash_sha256(fm.sha256, buf, len);
	fm.has_sha256 = 1;
	fm.stored_at = (uint64_t)time(NULL);
	fm.nchunks = 1;
	cm.length = len;
	cm.crc = crc;
	fm.chunks = &cm;
	if (dsrv_meta_encode(&fm, &meta, &mlen, err, errlen) == -1)
		return (-1);
	dsrv_meta_name(fname, crc, 0, name);
	rc = dsrv_client_write(c, name, meta, mlen, err, errlen);
	free(meta);
	return (rc);
}

static int
cmd_fill(int argc, char **argv)
{
	struct load	 l;
	double		 t;

	load_args(argc, argv, &l);
	l.op = op_fill;
	t = load_run(&l);
	printf("fill_files_per_s %.1f\n", (double)l.count / t);
	free(l.lat);
	return (0);
}

/* Request i stats a data chunk when even, a metadata chunk when odd. */
static int
op_stat(struct dsrv_client *c, struct load *l, long i, char *err,
    size_t errlen)
{
	uint8_t		 buf[512];
	char		 fname[256], name[CHUNK_NAME_MAX + 1];
	uint64_t	 len;
	uint32_t	 crc, scrc;
	long		 f;

	f = (long)(((uint64_t)i * 2654435761u) % (uint64_t)l->files);
	(void)fill_file(l->tag, f, fname, sizeof(fname), buf, &crc);
	if (i % 2 == 0)
		dsrv_data_name(crc, 0, crc, name);
	else
		dsrv_meta_name(fname, crc, 0, name);
	return (dsrv_client_stat(c, name, &len, &scrc, err, errlen));
}

static int
cmd_stat(int argc, char **argv)
{
	struct load	 l;
	double		 t;

	load_args(argc, argv, &l);
	if (l.files == 0)
		usage();
	l.op = op_stat;
	t = load_run(&l);
	printf("stats_per_s %.1f\n", (double)l.count / t);
	printf("stat_p50_us %.1f\n", pct(l.lat, (size_t)l.count, 50));
	free(l.lat);
	return (0);
}

static int
count_name(const char *name, void *arg)
{
	(*(long *)arg)++;
	return (0);
}

static int
cmd_list(int argc, char **argv)
{
	struct dsrv_client	*c;
	char			 err[DSRV_CLIENT_ERRLEN], dir[8];
	double			 t0, t;
	long			 names = 0;
	int			 i, rc;

	if (argc != 1)
		usage();
	c = conn();
	t0 = now();
	for (i = -1; i < 256; i++) {
		if (i == -1)
			(void)strlcpy(dir, DSRV_META_DIR, sizeof(dir));
		else
			(void)snprintf(dir, sizeof(dir), "%02x", i);
		rc = dsrv_client_list_all(c, dir, count_name, &names, err,
		    sizeof(err));
		/* An empty directory the server never made is no error. */
		if (rc != 0 && rc != WIRE_E_NOTFOUND)
			fatal("list %s: %s", dir, err);
	}
	t = now() - t0;
	dsrv_client_close(c);
	printf("listed_names %ld\n", names);
	printf("list_names_per_s %.1f\n", (double)names / t);
	return (0);
}

/* What each authenticated connection that does nothing costs dsrvd. */
static int
cmd_idle(int argc, char **argv)
{
	struct dsrv_client	*cs[MAXCONNS];
	struct treeinfo		 before, after;
	struct timespec		 ts = { 0, 500000000L };
	long			 nconns = 100, i;
	pid_t			 pid = 0;
	int			 ch;

	while ((ch = getopt(argc, argv, "n:p:")) != -1) {
		switch (ch) {
		case 'n':
			nconns = num(optarg, 1, MAXCONNS);
			break;
		case 'p':
			pid = (pid_t)num(optarg, 1, INT_MAX);
			break;
		default:
			usage();
		}
	}
	if (pid == 0)
		usage();
	(void)nanosleep(&ts, NULL);
	if (tree_info(pid, &before) == -1)
		fatal("no process %d", (int)pid);
	for (i = 0; i < nconns; i++)
		cs[i] = conn();
	(void)nanosleep(&ts, NULL);
	if (tree_info(pid, &after) == -1)
		fatal("no process %d", (int)pid);
	for (i = 0; i < nconns; i++)
		dsrv_client_close(cs[i]);
	printf("idle_rss_kib %ld\n", before.rss_kib);
	printf("idle_pss_kib %ld\n", before.pss_kib);
	printf("idle_conn_rss_kib %.1f\n",
	    (double)(after.rss_kib - before.rss_kib) / (double)nconns);
	printf("idle_conn_pss_kib %.1f\n",
	    (double)(after.pss_kib - before.pss_kib) / (double)nconns);
	return (0);
}

/*
 * What dsrvd holds per whole chunk in flight.  n connections each
 * write one 8 MiB chunk, all at once, twice.  The first round starts
 * from whatever the work before left (bench/run.sh: 5 s of idleness
 * after the 4-client run) and warms the daemon's buffer pools
 * (network's memfd frame buffers, storage's read-back buffers); the
 * second starts from that warm state.  A thread samples the RSS and
 * PSS of the daemon's processes (found once, before) every ms
 * milliseconds while the chunks are in flight; "after" is 0.2 s after
 * the second round's last response: what stays pooled.
 */
struct inflight {
	pthread_barrier_t barrier;
	const char	*tag;
	long		 ms;
	pid_t		 pids[MAXPROCS];
	size_t		 npids;
	pthread_t	 sampler;
	int		 stop;		/* __atomic: main to sampler */
	long		 peak_rss;
	long		 peak_pss;
	long		 samples;
};

struct inflight_worker {
	struct inflight	*f;
	long		 idx;
};

static void
inflight_write(struct dsrv_client *c, const char *tag, const char *round,
    long idx, uint8_t *buf)
{
	char	 name[CHUNK_NAME_MAX + 1], err[DSRV_CLIENT_ERRLEN];

	(void)snprintf(name, sizeof(name), "bench/%s%s-%04ld", tag, round,
	    idx);
	/* Each chunk different from the last: its name in front. */
	memcpy(buf, name, strlen(name));
	if (dsrv_client_write(c, name, buf, CHUNK_MAX, err, sizeof(err)) != 0)
		fatal("write %s: %s", name, err);
}

static void *
inflight_conn(void *arg)
{
	struct inflight_worker	*w = arg;
	struct inflight		*f = w->f;
	struct dsrv_client	*c;
	uint8_t			*buf;

	buf = xalloc(CHUNK_MAX);
	randombytes_buf(buf, CHUNK_MAX);
	c = conn();
	(void)pthread_barrier_wait(&f->barrier);	/* connected */
	(void)pthread_barrier_wait(&f->barrier);	/* sampler running */
	inflight_write(c, f->tag, "a", w->idx, buf);
	(void)pthread_barrier_wait(&f->barrier);	/* all answered */
	(void)pthread_barrier_wait(&f->barrier);	/* sampler running */
	inflight_write(c, f->tag, "b", w->idx, buf);
	(void)pthread_barrier_wait(&f->barrier);	/* all answered */
	dsrv_client_close(c);
	free(buf);
	return (NULL);
}

static void *
inflight_sampler(void *arg)
{
	struct inflight	*f = arg;
	struct treeinfo	 ti;
	struct timespec	 ts;
	int		 last;

	memset(&ti, 0, sizeof(ti));
	ts.tv_sec = f->ms / 1000;
	ts.tv_nsec = (f->ms % 1000) * 1000000L;
	for (;;) {
		/* One last sample after the stop, then out. */
		last = __atomic_load_n(&f->stop, __ATOMIC_ACQUIRE);
		tree_mem(f->pids, f->npids, &ti);
		if (ti.rss_kib > f->peak_rss)
			f->peak_rss = ti.rss_kib;
		if (ti.pss_kib > f->peak_pss)
			f->peak_pss = ti.pss_kib;
		f->samples++;
		if (last)
			break;
		(void)nanosleep(&ts, NULL);
	}
	return (NULL);
}

/*
 * One round: the tree before, then the writes released with the
 * sampler running; the growth per chunk goes out as PREFIX_*.
 */
static void
inflight_round(struct inflight *f, long n, const char *prefix)
{
	struct treeinfo	 before;
	double		 t0, t;

	memset(&before, 0, sizeof(before));
	tree_mem(f->pids, f->npids, &before);
	f->peak_rss = before.rss_kib;
	f->peak_pss = before.pss_kib;
	f->samples = 0;
	__atomic_store_n(&f->stop, 0, __ATOMIC_RELEASE);
	if (pthread_create(&f->sampler, NULL, inflight_sampler, f) != 0)
		fatal("pthread_create failed");
	t0 = now();
	(void)pthread_barrier_wait(&f->barrier);
	(void)pthread_barrier_wait(&f->barrier);
	t = now() - t0;
	__atomic_store_n(&f->stop, 1, __ATOMIC_RELEASE);
	(void)pthread_join(f->sampler, NULL);

	printf("%s_before_rss_kib %ld\n", prefix, before.rss_kib);
	printf("%s_peak_rss_kib %ld\n", prefix, f->peak_rss);
	printf("%s_peak_pss_kib %ld\n", prefix, f->peak_pss);
	printf("%s_rss_per_chunk_kib %.1f\n", prefix,
	    (double)(f->peak_rss - before.rss_kib) / (double)n);
	printf("%s_pss_per_chunk_kib %.1f\n", prefix,
	    (double)(f->peak_pss - before.pss_kib) / (double)n);
	printf("%s_wall_s %.4f\n", prefix, t);
	printf("%s_samples %ld\n", prefix, f->samples);
}

static int
cmd_inflight(int argc, char **argv)
{
	struct inflight		*f;
	struct inflight_worker	 ws[MAXCONNS];
	struct treeinfo		 after;
	struct timespec		 settle = { 0, 200000000L };
	pthread_t		 tids[MAXCONNS];
	double			 cpu;
	long			 n = 0, i;
	pid_t			 pid = 0;
	int			 ch;

	f = xalloc(sizeof(*f));
	f->ms = 2;
	while ((ch = getopt(argc, argv, "i:n:p:t:")) != -1) {
		switch (ch) {
		case 'i':
			f->ms = num(optarg, 1, 1000);
			break;
		case 'n':
			n = num(optarg, 1, MAXCONNS);
			break;
		case 'p':
			pid = (pid_t)num(optarg, 1, INT_MAX);
			break;
		case 't':
			f->tag = optarg;
			break;
		default:
			usage();
		}
	}
	if (n == 0 || pid == 0 || f->tag == NULL)
		usage();
	/* dsrvd forks no one while it runs: its processes, once. */
	if ((f->npids = tree_scan(pid, f->pids, &cpu)) == 0)
		fatal("no process %d", (int)pid);
	if (pthread_barrier_init(&f->barrier, NULL, (unsigned)n + 1) != 0)
		fatal("pthread_barrier_init failed");
	for (i = 0; i < n; i++) {
		ws[i].f = f;
		ws[i].idx = i;
		if (pthread_create(&tids[i], NULL, inflight_conn, &ws[i]) != 0)
			fatal("pthread_create failed");
	}
	(void)pthread_barrier_wait(&f->barrier);
	inflight_round(f, n, "inflight_first");
	/* Let the last buffers go back to their pools. */
	(void)nanosleep(&settle, NULL);
	inflight_round(f, n, "inflight");
	for (i = 0; i < n; i++)
		(void)pthread_join(tids[i], NULL);
	(void)nanosleep(&settle, NULL);
	memset(&after, 0, sizeof(after));
	tree_mem(f->pids, f->npids, &after);
	printf("inflight_after_rss_kib %ld\n", after.rss_kib);
	printf("inflight_after_pss_kib %ld\n", after.pss_kib);
	free(f);
	return (0);
}

int
main(int argc, char *argv[])
{
	char		 err[DSRV_CLIENT_ERRLEN], *server = NULL, *c;
	char		*keyfile = NULL, *keyname = NULL;
	int		 ch;

	if (sodium_init() == -1)
		fatal("sodium_init failed");
	while ((ch = getopt(argc, argv, "+K:k:r:")) != -1) {
		switch (ch) {
		case 'K':
			keyname = optarg;
			break;
		case 'k':
			keyfile = optarg;
			break;
		case 'r':
			server = optarg;
			break;
		default:
			usage();
		}
	}
	argc -= optind;
	argv += optind;
	if (argc < 1)
		usage();
	if (server != NULL) {
		if (keyfile == NULL || keyname == NULL ||
		    (c = strrchr(server, ':')) == NULL || c == server)
			usage();
		*c = '\0';
		memset(&copts, 0, sizeof(copts));
		copts.host = server;
		copts.port = c + 1;
		copts.keyname = keyname;
		if (key_load(keyfile, copts.key, err, sizeof(err)) == -1)
			fatal("%s", err);
		have_server = 1;
	}
	/* Subcommand options start after the subcommand's name. */
	optind = 1;
	if (strcmp(argv[0], "crypto") == 0)
		return (cmd_crypto(argc, argv));
	if (strcmp(argv[0], "verify") == 0)
		return (cmd_verify(argc, argv));
	if (strcmp(argv[0], "commit") == 0)
		return (cmd_commit(argc, argv));
	if (strcmp(argv[0], "run") == 0)
		return (cmd_run(argc, argv));
	if (strcmp(argv[0], "tree") == 0)
		return (cmd_tree(argc, argv));
	if (strcmp(argv[0], "peak") == 0)
		return (cmd_peak(argc, argv));
	if (strcmp(argv[0], "ping") == 0)
		return (cmd_ping(argc, argv));
	if (strcmp(argv[0], "write") == 0)
		return (cmd_write(argc, argv));
	if (strcmp(argv[0], "fill") == 0)
		return (cmd_fill(argc, argv));
	if (strcmp(argv[0], "stat") == 0)
		return (cmd_stat(argc, argv));
	if (strcmp(argv[0], "list") == 0)
		return (cmd_list(argc, argv));
	if (strcmp(argv[0], "idle") == 0)
		return (cmd_idle(argc, argv));
	if (strcmp(argv[0], "inflight") == 0)
		return (cmd_inflight(argc, argv));
	usage();
}
