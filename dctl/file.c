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
 * dctl's file commands: put, get, match and stat, one file (or one
 * listing) at a time.  A file on dsrvd is data chunks plus one metadata
 * chunk written last (lib/dsrvfile.h); these commands are thin on top
 * of that library, and add what a person at a terminal needs: files
 * replaced only once verified, progress, sorted listings, JSON lines
 * for scripts and exit statuses that tell corruption from failure.
 * The jobs over many files are in jobs.c.
 */
#include <sys/types.h>
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sodium.h>
#include <zlib.h>

#include "client.h"
#include "dctl.h"
#include "dsrvfile.h"
#include "pool.h"
#include "wire.h"

#define IO_BUFSZ		(1024 * 1024)
/* Chunks in flight: 8 keep two cores busy where 4 left them waiting. */
#define XFER_PARALLEL		8

static void	 progress_cb(uint64_t, uint64_t, void *);
static int	 read_full(int, uint8_t *, size_t, size_t *);
static struct dsrv_file_meta *find_file(struct dsrv_pool *, const char *);

static void
progress_cb(uint64_t done, uint64_t total, void *arg)
{
	progress_set(arg, done);
}

/* The newest file of that name, or exit: 3 if there is none. */
static struct dsrv_file_meta *
find_file(struct dsrv_pool *pool, const char *name)
{
	struct dsrv_file_meta	*m = NULL;
	char			 err[DSRV_CLIENT_ERRLEN];
	int			 code;

	err[0] = '\0';
	if ((code = dsrv_file_find(pool, name, &m, err, sizeof(err))) !=
	    WIRE_E_OK) {
		if (code == WIRE_E_NOTFOUND)
			die_status(EXIT_NOTFOUND, "%s: no such file",
			    printable(name));
		fail(code, err);
	}
	return (m);
}

/* Up to len bytes, fewer only at the end of the file. */
static int
read_full(int fd, uint8_t *buf, size_t len, size_t *got)
{
	ssize_t	 n;

	*got = 0;
	while (*got < len) {
		if ((n = read(fd, buf + *got, len - *got)) == -1) {
			if (errno == EINTR)
				continue;
			return (-1);
		}
		if (n == 0)
			break;
		*got += (size_t)n;
	}
	return (0);
}

/*
 * put FILE [NAME]: read FILE once for its length and crc32, which
 * every chunk's name holds and so must be known before the first is
 * sent, then a second time into the writer.  The writer computes the
 * sha256 of what it is given for the metadata, and refuses to write the
 * metadata if the second reading's crc32 or length differs from the
 * first.  The sha256 is not taken in the first reading: it is most of
 * the CPU a put costs, and once is enough.  With --crc32 (and
 * --length) the caller declares them and FILE is read once, so it may
 * be "-", the standard input; the sha256 is recorded all the same.
 */
int
cmd_put(int argc, char **argv)
{
	const char		*usage = "put [--crc32 hex [--length bytes]] "
				    "FILE [NAME]";
	struct fargs		 fa;
	struct target		 t;
	struct dsrv_pool	*pool;
	struct dsrv_writer	*w;
	struct dsrv_xfer_opts	 xo;
	struct progress		*prog;
	struct stat		 st;
	uint8_t			*buf;
	char			 err[DSRV_CLIENT_ERRLEN], label[64], *ep;
	const char		*path, *name, *errstr;
	uint64_t		 length = 0, sent = 0;
	unsigned long long	 ull;
	uLong			 crc;
	size_t			 n;
	int			 fd, declared, code;

	parse_fargs(argc, argv, O_DECLARE, 1, 2, usage, &fa);
	path = fa.arg[0];
	name = fa.nargs == 2 ? fa.arg[1] : path;
	declared = fa.crc32 != NULL;
	if (name[0] == '\0')
		die_usage("put: the file name may not be empty");
	if (fa.length != NULL && !declared)
		die_usage("put: --length goes with --crc32");
	crc = 0;
	if (declared) {
		errno = 0;
		ull = strtoull(fa.crc32, &ep, 16);
		if (fa.crc32[0] == '\0' || *ep != '\0' || errno != 0 ||
		    ull > UINT32_MAX || fa.crc32[0] == '-')
			die_usage("put: bad crc32 '%s': 8 hex digits",
			    fa.crc32);
		crc = (uLong)ull;
	}
	if (fa.length != NULL) {
		length = (uint64_t)strtonum(fa.length, 0, LLONG_MAX, &errstr);
		if (errstr != NULL)
			die_usage("put: bad length '%s': %s", fa.length,
			    errstr);
	}
	if (strcmp(path, "-") == 0) {
		if (fa.length == NULL)
			die_usage("put: standard input needs --crc32 and "
			    "--length: they must be known before the first "
			    "chunk is sent");
		if (fa.nargs == 1)
			die_usage("put: standard input needs a NAME");
		fd = STDIN_FILENO;
		path = "standard input";
	} else {
		if ((fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY)) == -1)
			die("%s: %s", path, strerror(errno));
		if (fstat(fd, &st) == -1)
			die("%s: %s", path, strerror(errno));
		if (!declared && !S_ISREG(st.st_mode))
			die("%s: not a regular file (put reads it twice; "
			    "see --crc32 and --length)", path);
		if (S_ISDIR(st.st_mode))
			die("%s: %s", path, strerror(EISDIR));
		if (declared && fa.length == NULL) {
			if (!S_ISREG(st.st_mode))
				die_usage("put: %s: not a regular file, "
				    "give --length", path);
			length = (uint64_t)st.st_size;
		}
	}
	if (sodium_init() == -1)
		die("libsodium failed to initialise");
	if ((buf = malloc(IO_BUFSZ)) == NULL)
		die("%s", strerror(errno));

	/* A wrong key or a server that is down fails before the reading. */
	resolve_target(&t);
	pool = pool_open(&t, XFER_PARALLEL);

	if (!declared) {
		(void)snprintf(label, sizeof(label), "%.40s: checksum", name);
		prog = progress_start(label, (uint64_t)st.st_size,
		    cargs.quiet);
		crc = crc32(0L, Z_NULL, 0);
		for (;;) {
			if (read_full(fd, buf, IO_BUFSZ, &n) == -1)
				die("%s: %s", path, strerror(errno));
			if (n == 0)
				break;
			crc = crc32(crc, buf, (uInt)n);
			length += n;
			progress_set(prog, length);
		}
		progress_end(prog);
		if (lseek(fd, 0, SEEK_SET) == -1)
			die("%s: %s", path, strerror(errno));
	}

	(void)snprintf(label, sizeof(label), "%.40s", name);
	prog = progress_start(label, length, cargs.quiet);
	memset(&xo, 0, sizeof(xo));
	xo.parallel = XFER_PARALLEL;
	xo.sha256 = 1;
	xo.progress = progress_cb;
	xo.arg = prog;
	err[0] = '\0';
	if ((w = dsrv_writer_open(pool, name, length, (uint32_t)crc,
	    NULL, &xo, err, sizeof(err))) == NULL)
		fail(-1, err[0] != '\0' ? err : "put failed");
	for (;;) {
		if (read_full(fd, buf, IO_BUFSZ, &n) == -1) {
			dsrv_writer_abort(w);
			die("%s: %s", path, strerror(errno));
		}
		if (n == 0)
			break;
		if (sent + n > length) {
			dsrv_writer_abort(w);
			die_status(EXIT_CORRUPT, "%s: %s: more than %" PRIu64
			    " bytes%s; no metadata written", name, path,
			    length, declared ? ", the declared length" :
			    " (it grew while it was stored)");
		}
		if (dsrv_writer_write(w, buf, n, err, sizeof(err)) == -1) {
			dsrv_writer_abort(w);
			fail(-1, err);
		}
		sent += n;
	}
	if (sent != length) {
		dsrv_writer_abort(w);
		die_status(EXIT_CORRUPT, "%s: %s: %" PRIu64 " bytes, not %"
		    PRIu64 "%s; no metadata written", name, path, sent, length,
		    declared ? ", the declared length" :
		    " (it shrank while it was stored)");
	}
	if ((code = dsrv_writer_close(w, err, sizeof(err))) != 0)
		fail(code, err);
	progress_end(prog);
	if (fd != STDIN_FILENO)
		(void)close(fd);
	free(buf);
	dsrv_pool_free(pool);
	return (0);
}

/*
 * get NAME [FILE|-]: the newest file of that name.  A regular FILE is
 * written under a temporary name next to it and renamed only once all
 * of it is in and verified, so a failure never leaves a wrong FILE.
 */
int
cmd_get(int argc, char **argv)
{
	const char		*usage = "get [--sha256] NAME [FILE | -]";
	struct fargs		 fa;
	struct target		 t;
	struct dsrv_pool	*pool;
	struct dsrv_file_meta	*m;
	struct dsrv_xfer_opts	 xo;
	struct progress		*prog;
	struct outfile		 out;
	char			 err[DSRV_CLIENT_ERRLEN], label[64];
	const char		*name, *path, *base;
	int			 code;

	parse_fargs(argc, argv, O_SHA256, 1, 2, usage, &fa);
	name = fa.arg[0];
	if (fa.nargs == 2)
		path = fa.arg[1];
	else {
		base = strrchr(name, '/');
		path = base != NULL ? base + 1 : name;
		if (path[0] == '\0' || strcmp(path, ".") == 0 ||
		    strcmp(path, "..") == 0)
			die_usage("get: %s: no file name in it; give FILE or "
			    "-", name);
	}

	resolve_target(&t);
	pool = pool_open(&t, XFER_PARALLEL);
	m = find_file(pool, name);

	(void)snprintf(label, sizeof(label), "%.40s", name);
	prog = progress_start(label, m->length, cargs.quiet);
	memset(&xo, 0, sizeof(xo));
	xo.parallel = XFER_PARALLEL;
	xo.sha256 = fa.sha256;
	xo.progress = progress_cb;
	xo.arg = prog;

	out_open(&out, path);
	if ((code = dsrv_file_read(pool, m, out.fd, &xo, err,
	    sizeof(err))) != 0) {
		out_abort(&out);
		fail(code, err);
	}
	out_commit(&out);
	progress_end(prog);
	dsrv_meta_free(m);
	dsrv_pool_free(pool);
	return (0);
}

/* match [PREFIX]: crc32, length, date stored and name of every file. */
int
cmd_match(int argc, char **argv)
{
	struct fargs		 fa;
	struct target		 t;
	struct dsrv_pool	*pool;
	struct files		 f;
	char			 err[DSRV_CLIENT_ERRLEN];
	size_t			 i;
	int			 code;

	parse_fargs(argc, argv, 0, 0, 1, "match [PREFIX]", &fa);
	resolve_target(&t);
	pool = pool_open(&t, POOL_CONNS);
	/* What could be read is listed even if some metadata could not. */
	code = files_match(pool, fa.nargs == 1 ? fa.arg[0] : "", &f, err,
	    sizeof(err));
	for (i = 0; i < f.n; i++)
		print_match(f.v[i]);
	flush_stdout();
	if (code != WIRE_E_OK)
		fail(code, err);
	files_free(&f);
	dsrv_pool_free(pool);
	return (0);
}

/* stat NAME: the metadata of the newest file of that name. */
int
cmd_stat(int argc, char **argv)
{
	struct fargs		 fa;
	struct target		 t;
	struct dsrv_pool	*pool;
	struct dsrv_file_meta	*m;

	parse_fargs(argc, argv, 0, 1, 1, "stat NAME", &fa);
	resolve_target(&t);
	pool = pool_open(&t, XFER_PARALLEL);
	m = find_file(pool, fa.arg[0]);
	print_meta(m);
	flush_stdout();
	dsrv_meta_free(m);
	dsrv_pool_free(pool);
	return (0);
}
