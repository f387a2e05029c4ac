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
#include "util.h"
#include "wire.h"

#define IO_BUFSZ		(1024 * 1024)
/* Chunks in flight: 8 keep two cores busy where 4 left them waiting. */
#define XFER_PARALLEL		8

static void	 progress_cb(uint64_t, uint64_t, void *);
static int	 get_range(struct dsrv_pool *, struct dsrv_file_meta *,
		    const char *, const char *, const char *);
static int	 read_full(int, uint8_t *, size_t, size_t *);
static struct dsrv_file_meta *find_file(struct dsrv_pool *, const char *,
		    const char *);
static void	 put_sum(int, const char *, const char *, uint64_t,
		    uint8_t *, uint64_t *, uLong *);

static void
progress_cb(uint64_t done, uint64_t total, void *arg)
{
	progress_set(arg, done);
}

/*
 * Version v (1 the newest, as match lists them) of the file of that
 * name, or exit: 3 if there is none.
 */
static struct dsrv_file_meta *
find_file(struct dsrv_pool *pool, const char *name, const char *version)
{
	struct dsrv_file_meta	**v, *m;
	char			  err[DSRV_CLIENT_ERRLEN];
	const char		 *errstr;
	size_t			  n;
	long long		  k = 1;
	int			  code;

	if (version != NULL) {
		k = strtonum(version, 1, INT_MAX, &errstr);
		if (errstr != NULL)
			die_usage("bad version '%s': %s (1 is the newest)",
			    version, errstr);
	}
	err[0] = '\0';
	if ((code = dsrv_file_versions(pool, name, &v, &n, err,
	    sizeof(err))) != WIRE_E_OK) {
		if (code == WIRE_E_NOTFOUND)
			die_status(EXIT_NOTFOUND, "%s: no such file",
			    printable(name));
		fail(code, err);
	}
	if ((size_t)k > n)
		die_status(EXIT_NOTFOUND, "%s: no version %lld: %zu stored",
		    printable(name), k, n);
	m = v[k - 1];
	v[k - 1] = NULL;
	dsrv_versions_free(v, n);
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

/* FILE's length and crc32, read once; the caller seeks back. */
static void
put_sum(int fd, const char *path, const char *name, uint64_t size,
    uint8_t *buf, uint64_t *length, uLong *crc)
{
	struct progress	*prog;
	char		 label[64];
	size_t		 n;

	(void)snprintf(label, sizeof(label), "%.40s: checksum", name);
	prog = progress_start(label, size, cargs.quiet);
	*crc = crc32(0L, Z_NULL, 0);
	*length = 0;
	for (;;) {
		if (read_full(fd, buf, IO_BUFSZ, &n) == -1)
			die("%s: %s", path, strerror(errno));
		if (n == 0)
			break;
		*crc = crc32(*crc, buf, (uInt)n);
		*length += n;
		progress_set(prog, *length);
	}
	progress_end(prog);
	if (lseek(fd, 0, SEEK_SET) == -1)
		die("%s: %s", path, strerror(errno));
}

/*
 * put FILE [NAME].  A regular file is read once for its length and
 * crc32, which every chunk's name holds and so must be known before
 * the first is sent, then a second time into the writer, which
 * computes the sha256 for the metadata and refuses to write the
 * metadata if the second reading's crc32 or length differs from the
 * first.  A declared --crc32 or --length is checked against the first
 * reading, so a wrong one sends nothing.  Anything else (a pipe, "-"
 * for the standard input) is a stream, read once into a stream writer
 * with memory for a few chunks; what is declared for it is checked at
 * the end, and a mismatch writes no metadata.  The writer sends no
 * chunk the server already has.
 */
int
cmd_put(int argc, char **argv)
{
	const char		*usage = "put [--crc32 hex] [--length bytes] "
				    "FILE [NAME]";
	struct fargs		 fa;
	struct target		 t;
	struct dsrv_pool	*pool;
	struct dsrv_writer	*w;
	struct dsrv_xfer_opts	 xo;
	struct dsrv_xfer_stats	 xs;
	struct progress		*prog;
	struct stat		 st;
	uint8_t			*buf;
	char			 err[DSRV_CLIENT_ERRLEN], label[64], *ep;
	const char		*path, *name, *errstr;
	uint64_t		 length = 0, dlength = 0, sent = 0;
	uint32_t		 dcrc = 0;
	unsigned long long	 ull;
	uLong			 crc = 0;
	size_t			 n;
	int			 fd, stream, code;

	parse_fargs(argc, argv, O_DECLARE, 1, 2, usage, &fa);
	path = fa.arg[0];
	name = fa.nargs == 2 ? fa.arg[1] : path;
	if (name[0] == '\0')
		die_usage("put: the file name may not be empty");
	if (fa.crc32 != NULL) {
		errno = 0;
		ull = strtoull(fa.crc32, &ep, 16);
		if (fa.crc32[0] == '\0' || *ep != '\0' || errno != 0 ||
		    ull > UINT32_MAX || fa.crc32[0] == '-')
			die_usage("put: bad crc32 '%s': 8 hex digits",
			    fa.crc32);
		dcrc = (uint32_t)ull;
	}
	if (fa.length != NULL) {
		dlength = (uint64_t)strtonum(fa.length, 0, LLONG_MAX, &errstr);
		if (errstr != NULL)
			die_usage("put: bad length '%s': %s", fa.length,
			    errstr);
	}
	if (strcmp(path, "-") == 0) {
		if (fa.nargs == 1)
			die_usage("put: standard input needs a NAME");
		fd = STDIN_FILENO;
		path = "standard input";
		stream = 1;
	} else {
		if ((fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY)) == -1)
			die("%s: %s", path, strerror(errno));
		if (fstat(fd, &st) == -1)
			die("%s: %s", path, strerror(errno));
		if (S_ISDIR(st.st_mode))
			die("%s: %s", path, strerror(EISDIR));
		stream = !S_ISREG(st.st_mode);
	}
	if (sodium_init() == -1)
		die("libsodium failed to initialise");
	if ((buf = malloc(IO_BUFSZ)) == NULL)
		die("%s", strerror(errno));

	/* A wrong key or a server that is down fails before the reading. */
	resolve_target(&t);
	pool = pool_open(&t, XFER_PARALLEL);

	memset(&xo, 0, sizeof(xo));
	memset(&xs, 0, sizeof(xs));
	xo.parallel = XFER_PARALLEL;
	xo.sha256 = 1;
	xo.progress = progress_cb;
	xo.stats = &xs;
	if (!stream) {
		put_sum(fd, path, name, (uint64_t)st.st_size, buf, &length,
		    &crc);
		if (fa.length != NULL && dlength != length)
			die_status(EXIT_CORRUPT, "%s: %s: %" PRIu64 " bytes, "
			    "not the %" PRIu64 " declared; nothing sent",
			    name, path, length, dlength);
		if (fa.crc32 != NULL && dcrc != crc)
			die_status(EXIT_CORRUPT, "%s: %s: crc32 %08lx, not "
			    "the %08" PRIx32 " declared; nothing sent", name,
			    path, crc, dcrc);
	} else
		length = dlength;
	(void)snprintf(label, sizeof(label), "%.40s", name);
	prog = progress_start(label, length, cargs.quiet);
	xo.arg = prog;
	err[0] = '\0';
	if (stream)
		w = dsrv_writer_stream(pool, name, fa.length != NULL ?
		    &dlength : NULL, fa.crc32 != NULL ? &dcrc : NULL, &xo, err,
		    sizeof(err));
	else
		w = dsrv_writer_open(pool, name, length, (uint32_t)crc, NULL,
		    &xo, err, sizeof(err));
	if (w == NULL)
		fail(-1, err[0] != '\0' ? err : "put failed");
	for (;;) {
		if (read_full(fd, buf, IO_BUFSZ, &n) == -1) {
			dsrv_writer_abort(w);
			die("%s: %s", path, strerror(errno));
		}
		if (n == 0)
			break;
		if (!stream && sent + n > length) {
			dsrv_writer_abort(w);
			die_status(EXIT_CORRUPT, "%s: %s: more than %" PRIu64
			    " bytes (it grew while it was stored); no "
			    "metadata written", name, path, length);
		}
		if (dsrv_writer_write(w, buf, n, err, sizeof(err)) == -1) {
			dsrv_writer_abort(w);
			fail(stream && fa.length != NULL && sent + n >
			    dlength ? WIRE_E_CRC : -1, err);
		}
		sent += n;
	}
	if (!stream && sent != length) {
		dsrv_writer_abort(w);
		die_status(EXIT_CORRUPT, "%s: %s: %" PRIu64 " bytes, not %"
		    PRIu64 " (it shrank while it was stored); no metadata "
		    "written", name, path, sent, length);
	}
	if ((code = dsrv_writer_close(w, err, sizeof(err))) != 0)
		fail(code, err);
	progress_end(prog);
	if (cargs.json) {
		printf("{\"name\":");
		json_string(stdout, name);
		printf(",\"length\":%" PRIu64 ",\"stream\":%s,\"sent\":%"
		    PRIu64 ",\"skipped\":%" PRIu64 ",\"chunks_sent\":%"
		    PRIu64 ",\"chunks_skipped\":%" PRIu64 ",\"alternates\":%"
		    PRIu64 "}\n", sent, stream ? "true" : "false", xs.sent,
		    xs.skipped, xs.chunks_sent, xs.chunks_skipped,
		    xs.alternates);
		flush_stdout();
	}
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
	const char		*usage = "get [--sha256] [--version N] "
				    "[--range OFF:LEN] NAME [FILE | -]";
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

	parse_fargs(argc, argv, O_SHA256 | O_VERSION | O_RANGE, 1, 2, usage,
	    &fa);
	if (fa.range != NULL && fa.sha256)
		die_usage("get: --sha256 covers the whole file, not a range; "
		    "usage: %s", usage);
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
	m = find_file(pool, name, fa.version);
	if (fa.range != NULL)
		return (get_range(pool, m, fa.range, usage, path));

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

/*
 * get --range OFF:LEN: bytes [OFF, OFF + LEN) of the file, cut at its
 * end, a chunk's worth at a time, with ranged READs.
 */
static int
get_range(struct dsrv_pool *pool, struct dsrv_file_meta *m,
    const char *range, const char *usage, const char *path)
{
	struct outfile	 out;
	char		 err[DSRV_CLIENT_ERRLEN];
	uint8_t		*buf;
	uint64_t	 off, len;
	size_t		 n, got;
	int		 code;

	parse_range(range, usage, &off, &len);
	if ((buf = malloc(DSRV_CHUNK_SIZE)) == NULL)
		die("%s", strerror(errno));
	out_open(&out, path);
	do {
		n = len < DSRV_CHUNK_SIZE ? len : DSRV_CHUNK_SIZE;
		if ((code = dsrv_file_read_range(pool, m, off, n, buf, &got,
		    err, sizeof(err))) != WIRE_E_OK) {
			out_abort(&out);
			fail(code, err);
		}
		if (dsrv_write_all(out.fd, buf, got) == -1) {
			code = errno;
			out_abort(&out);
			die("%s: %s", out.path, strerror(code));
		}
		off += got;
		len -= got;
	} while (got == n && len > 0);
	out_commit(&out);
	free(buf);
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

	parse_fargs(argc, argv, O_VERSION, 1, 1, "stat [--version N] NAME",
	    &fa);
	resolve_target(&t);
	pool = pool_open(&t, XFER_PARALLEL);
	m = find_file(pool, fa.arg[0], fa.version);
	print_meta(m);
	flush_stdout();
	dsrv_meta_free(m);
	dsrv_pool_free(pool);
	return (0);
}
