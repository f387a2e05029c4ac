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
 * filetool: the file writer of lib/ driven directly, for what dctl
 * does not offer: a declared crc32 or length that does not match the
 * data, and thousands of small files stored quickly.
 *
 *	filetool -r HOST:PORT -k KEYFILE -K KEYNAME put FILE NAME
 *	    [-C CRC32HEX] [-L LENGTH]
 *	filetool -r HOST:PORT -k KEYFILE -K KEYNAME many [-j THREADS]
 *
 * put stores FILE as NAME declaring its length and crc32, or the ones
 * given.  many reads names from stdin, one a line, and stores for each
 * a small file whose contents depend on the name only (so running it
 * twice stores the same files), with THREADS writers at once; it
 * prints "CRC32 LENGTH NAME" for every file stored.  Errors go to
 * stderr; exit status 0 when everything was stored, 1 otherwise, 2 on
 * usage errors.
 */

#include <sys/types.h>
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <zlib.h>

#include "client.h"
#include "conf.h"
#include "dsrvfile.h"
#include "pool.h"

#define ERRLEN		2048
#define MAXTHREADS	32

struct many {
	pthread_mutex_t	  mtx;
	char		**names;
	size_t		  nnames;
	size_t		  next;
	int		  failed;
	const struct dsrv_pool_opts *popts;
};

static void	 usage(void) __attribute__((noreturn));
static int	 split_hostport(char *, char **, char **);
static int	 cmd_put(struct dsrv_pool_opts *, int, char **);
static int	 cmd_many(struct dsrv_pool_opts *, int, char **);
static void	*many_worker(void *);
static size_t	 contents(const char *, uint8_t *, size_t);

static void
usage(void)
{
	fprintf(stderr,
	    "usage: filetool -r host:port -k keyfile -K keyname put file name "
	    "[-C crc32] [-L length]\n"
	    "       filetool -r host:port -k keyfile -K keyname many "
	    "[-j threads] <names\n");
	exit(2);
}

static int
split_hostport(char *s, char **host, char **port)
{
	char	*c;

	if ((c = strrchr(s, ':')) == NULL || c == s || c[1] == '\0')
		return (-1);
	*c = '\0';
	*host = s;
	*port = c + 1;
	return (0);
}

/*
 * The file is read twice, once for its crc32 and length, once while
 * writing, as dctl does: nothing the tool gets wrong on the way.
 */
static int
cmd_put(struct dsrv_pool_opts *popts, int argc, char **argv)
{
	struct dsrv_xfer_opts	 xo;
	struct dsrv_pool	*pool;
	struct dsrv_writer	*w;
	const char		*file, *name, *errstr;
	char			 err[ERRLEN], *end;
	static uint8_t		 buf[1024 * 1024];
	uint64_t		 len = 0, dlen = 0;
	uLong			 crc = crc32(0L, Z_NULL, 0);
	unsigned long		 v;
	uint32_t		 dcrc = 0;
	ssize_t			 n;
	int			 fd, ch, havecrc = 0, havelen = 0;

	if (argc < 3)
		usage();
	file = argv[1];
	name = argv[2];
	argc -= 2;
	argv += 2;
	optind = 1;
	while ((ch = getopt(argc, argv, "C:L:")) != -1) {
		switch (ch) {
		case 'C':
			errno = 0;
			v = strtoul(optarg, &end, 16);
			if (errno != 0 || *end != '\0' || end == optarg ||
			    v > UINT32_MAX)
				usage();
			dcrc = (uint32_t)v;
			havecrc = 1;
			break;
		case 'L':
			dlen = (uint64_t)strtonum(optarg, 0, LLONG_MAX,
			    &errstr);
			if (errstr != NULL)
				usage();
			havelen = 1;
			break;
		default:
			usage();
		}
	}
	if (optind != argc)
		usage();

	if ((fd = open(file, O_RDONLY | O_CLOEXEC)) == -1) {
		fprintf(stderr, "filetool: %s: %s\n", file, strerror(errno));
		return (1);
	}
	while ((n = read(fd, buf, sizeof(buf))) > 0) {
		crc = crc32(crc, buf, (uInt)n);
		len += (uint64_t)n;
	}
	if (n == -1 || lseek(fd, 0, SEEK_SET) == -1) {
		fprintf(stderr, "filetool: %s: %s\n", file, strerror(errno));
		(void)close(fd);
		return (1);
	}
	if (!havecrc)
		dcrc = (uint32_t)crc;
	if (!havelen)
		dlen = len;

	if ((pool = dsrv_pool_new(popts, err, sizeof(err))) == NULL) {
		fprintf(stderr, "filetool: %s\n", err);
		(void)close(fd);
		return (1);
	}
	memset(&xo, 0, sizeof(xo));
	if ((w = dsrv_writer_open(pool, name, dlen, dcrc, NULL, &xo, err,
	    sizeof(err))) == NULL) {
		fprintf(stderr, "filetool: open: %s\n", err);
		dsrv_pool_free(pool);
		(void)close(fd);
		return (1);
	}
	while ((n = read(fd, buf, sizeof(buf))) > 0) {
		if (dsrv_writer_write(w, buf, (size_t)n, err,
		    sizeof(err)) == -1) {
			fprintf(stderr, "filetool: write: %s\n", err);
			dsrv_writer_abort(w);
			dsrv_pool_free(pool);
			(void)close(fd);
			return (1);
		}
	}
	if (n == -1) {
		fprintf(stderr, "filetool: %s: %s\n", file, strerror(errno));
		dsrv_writer_abort(w);
		dsrv_pool_free(pool);
		(void)close(fd);
		return (1);
	}
	(void)close(fd);
	if (dsrv_writer_close(w, err, sizeof(err)) != 0) {
		fprintf(stderr, "filetool: close: %s\n", err);
		dsrv_pool_free(pool);
		return (1);
	}
	dsrv_pool_free(pool);
	printf("%08x %llu %s\n", dcrc, (unsigned long long)dlen, name);
	return (0);
}

/*
 * A name's contents: the name, then up to 2 KiB of bytes from a small
 * generator seeded by the name's crc32, so every file differs.
 */
static size_t
contents(const char *name, uint8_t *buf, size_t bufsz)
{
	uint32_t	 x;
	size_t		 len, i, nl;

	nl = strlen(name);
	x = (uint32_t)crc32(0L, (const Bytef *)name, (uInt)nl) | 1;
	len = nl + 1 + x % 2048;
	if (len > bufsz)
		len = bufsz;
	for (i = 0; i < len; i++) {
		if (i < nl)
			buf[i] = (uint8_t)name[i];
		else if (i == nl)
			buf[i] = '\n';
		else {
			x ^= x << 13;
			x ^= x >> 17;
			x ^= x << 5;
			buf[i] = (uint8_t)x;
		}
	}
	return (len);
}

/*
 * Each worker has a pool of its own: the point here is filling a
 * server fast, not sharing a pool between threads.
 */
static void *
many_worker(void *arg)
{
	struct many		*m = arg;
	struct dsrv_xfer_opts	 xo;
	struct dsrv_pool	*pool;
	struct dsrv_writer	*w;
	char			 err[ERRLEN];
	uint8_t			 buf[4096];
	size_t			 i, len;
	uint32_t		 crc;
	int			 bad;

	if ((pool = dsrv_pool_new(m->popts, err, sizeof(err))) == NULL) {
		fprintf(stderr, "filetool: %s\n", err);
		(void)pthread_mutex_lock(&m->mtx);
		m->failed = 1;
		(void)pthread_mutex_unlock(&m->mtx);
		return (NULL);
	}
	memset(&xo, 0, sizeof(xo));
	xo.parallel = 1;
	for (;;) {
		(void)pthread_mutex_lock(&m->mtx);
		if (m->next == m->nnames || m->failed) {
			(void)pthread_mutex_unlock(&m->mtx);
			break;
		}
		i = m->next++;
		(void)pthread_mutex_unlock(&m->mtx);

		len = contents(m->names[i], buf, sizeof(buf));
		crc = (uint32_t)crc32(crc32(0L, Z_NULL, 0), buf, (uInt)len);
		w = dsrv_writer_open(pool, m->names[i], len, crc, NULL, &xo,
		    err, sizeof(err));
		bad = 0;
		if (w == NULL)
			bad = 1;
		else if (dsrv_writer_write(w, buf, len, err,
		    sizeof(err)) == -1) {
			dsrv_writer_abort(w);
			bad = 1;
		} else if (dsrv_writer_close(w, err, sizeof(err)) != 0)
			bad = 1;
		if (bad) {
			fprintf(stderr, "filetool: %s: %s\n", m->names[i], err);
			(void)pthread_mutex_lock(&m->mtx);
			m->failed = 1;
			(void)pthread_mutex_unlock(&m->mtx);
			break;
		}
		(void)pthread_mutex_lock(&m->mtx);
		printf("%08x %zu %s\n", crc, len, m->names[i]);
		(void)pthread_mutex_unlock(&m->mtx);
	}
	dsrv_pool_free(pool);
	return (NULL);
}

static int
cmd_many(struct dsrv_pool_opts *popts, int argc, char **argv)
{
	struct many	 m;
	pthread_t	 tids[MAXTHREADS];
	const char	*errstr;
	char		*line = NULL, **nn;
	size_t		 cap = 0, namecap = 0, i;
	ssize_t		 n;
	int		 ch, nthreads = 8, t, started = 0;

	optind = 1;
	while ((ch = getopt(argc, argv, "j:")) != -1) {
		switch (ch) {
		case 'j':
			nthreads = (int)strtonum(optarg, 1, MAXTHREADS,
			    &errstr);
			if (errstr != NULL)
				usage();
			break;
		default:
			usage();
		}
	}
	if (optind != argc)
		usage();

	memset(&m, 0, sizeof(m));
	if (pthread_mutex_init(&m.mtx, NULL) != 0) {
		fprintf(stderr, "filetool: pthread_mutex_init failed\n");
		return (1);
	}
	m.popts = popts;
	while ((n = getline(&line, &cap, stdin)) != -1) {
		if (n > 0 && line[n - 1] == '\n')
			line[--n] = '\0';
		if (n == 0)
			continue;
		if (m.nnames == namecap) {
			namecap = namecap ? namecap * 2 : 1024;
			if ((nn = reallocarray(m.names, namecap,
			    sizeof(*nn))) == NULL) {
				perror("filetool");
				return (1);
			}
			m.names = nn;
		}
		if ((m.names[m.nnames++] = strdup(line)) == NULL) {
			perror("filetool");
			return (1);
		}
	}
	free(line);
	if (ferror(stdin)) {
		perror("filetool: stdin");
		return (1);
	}

	for (t = 0; t < nthreads; t++) {
		if (pthread_create(&tids[t], NULL, many_worker, &m) != 0) {
			fprintf(stderr, "filetool: pthread_create failed\n");
			m.failed = 1;
			break;
		}
		started++;
	}
	for (t = 0; t < started; t++)
		(void)pthread_join(tids[t], NULL);
	for (i = 0; i < m.nnames; i++)
		free(m.names[i]);
	free(m.names);
	if (fflush(stdout) == EOF)
		m.failed = 1;
	return (m.failed ? 1 : 0);
}

int
main(int argc, char *argv[])
{
	struct dsrv_pool_opts	 popts;
	char			*server = NULL, *keyfile = NULL, *keyname = NULL;
	char			*host, *port, err[ERRLEN];
	int			 ch, rc;

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
	if (server == NULL || keyfile == NULL || keyname == NULL || argc < 1 ||
	    split_hostport(server, &host, &port) == -1)
		usage();

	memset(&popts, 0, sizeof(popts));
	if (key_load(keyfile, popts.conn.key, err, sizeof(err)) == -1) {
		fprintf(stderr, "filetool: %s\n", err);
		return (1);
	}
	popts.conn.host = host;
	popts.conn.port = port;
	popts.conn.keyname = keyname;

	if (strcmp(argv[0], "put") == 0)
		rc = cmd_put(&popts, argc, argv);
	else if (strcmp(argv[0], "many") == 0)
		rc = cmd_many(&popts, argc, argv);
	else
		usage();
	explicit_bzero(popts.conn.key, sizeof(popts.conn.key));
	return (rc);
}
