/*
 * dctl's file commands: put, get, match, stat, scrub over the network,
 * replicate and abandoned.  A file on dsrvd is data chunks plus one
 * metadata chunk written last (lib/dsrvfile.h); these commands are thin
 * on top of that library, and add what a person at a terminal needs:
 * files replaced only once verified, progress, sorted listings, JSON
 * lines for scripts and exit statuses that tell corruption from
 * failure.
 */
#include <sys/types.h>
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <sodium.h>
#include <zlib.h>

#include "chunkname.h"
#include "client.h"
#include "conf.h"
#include "dctl.h"
#include "dsrvfile.h"
#include "pool.h"
#include "wire.h"

#define IO_BUFSZ		(1024 * 1024)
/* Chunks in flight: 8 keep two cores busy where 4 left them waiting. */
#define XFER_PARALLEL		8
#define MATCH_PARALLEL		16
#define POOL_CONNS		8
#define NWORKERS		4

/* Options a command takes besides -j and -q. */
#define O_SHA256	0x01
#define O_READ		0x02
#define O_TO		0x04
#define O_DECLARE	0x08	/* put --crc32 and --length */

struct fargs {
	char		*arg[2];
	int		 nargs;
	int		 sha256;
	int		 read;
	const char	*to;
	const char	*crc32;
	const char	*length;
};

/* Files that matched, deep copies of what dsrv_match handed over. */
struct files {
	struct dsrv_file_meta	**v;
	size_t			 n;
	size_t			 cap;
};

/* Chunk names: referenced by metadata, or found in a directory. */
struct names {
	char	**v;
	size_t	  n;
	size_t	  cap;
	char	  dir[CHUNK_DIR_MAX + 1];
};

/* One chunk to check or copy, and what came of it. */
enum jstatus { J_OK, J_SKIP, J_CORRUPT, J_MISSING, J_ERROR };
struct job {
	size_t		 file;		/* index into files.v */
	int64_t		 index;		/* -1: the metadata chunk */
	char		 name[CHUNK_NAME_MAX + 1];
	enum jstatus	 status;
	char		*reason;
	uint64_t	 bytes;		/* moved by replicate */
};

struct work {
	struct files	*files;
	struct job	*jobs;
	size_t		 njobs;
	size_t		 next;
	pthread_mutex_t	 lock;
	struct dsrv_pool *src;
	struct dsrv_pool *dst;
	int		 read;
	struct progress	*prog;
	void		 (*fn)(struct work *, struct job *, uint8_t *);
};

static void	 parse_fargs(int, char **, int, int, int, const char *,
		    struct fargs *);
static struct dsrv_pool *pool_open(const struct target *, int);
static int	 exit_for(int, const char *);
static void	 fail(int, const char *);
static struct dsrv_file_meta *meta_copy(const struct dsrv_file_meta *);
static void	 meta_release(struct dsrv_file_meta *);
static int	 collect(const struct dsrv_file_meta *, void *);
static int	 meta_cmp(const void *, const void *);
static int	 files_match(struct dsrv_pool *, const char *, struct files *,
		    char *, size_t);
static void	 files_free(struct files *);
static void	 fmt_date(uint64_t, char *, size_t);
static void	 hex(const uint8_t *, size_t, char *);
static char	*printable(const char *);
static size_t	 utf8_len(const unsigned char *);
static void	 json_meta(FILE *, const struct dsrv_file_meta *, int);
static void	 flush_stdout(void);
static void	 progress_cb(uint64_t, uint64_t, void *);
static int	 read_full(int, uint8_t *, size_t, size_t *);
static void	 job_set(struct job *, enum jstatus, const char *, ...)
		    __attribute__((__format__ (printf, 3, 4)));
static void	 job_code(struct job *, int, const char *);
static void	*worker(void *);
static void	 run_work(struct work *, int);
static void	 scrub_one(struct work *, struct job *, uint8_t *);
static void	 repl_one(struct work *, struct job *, uint8_t *);
static void	 repl_target(const struct target *, const char *,
		    struct target *);
static int	 name_cmp(const void *, const void *);
static void	 names_add(struct names *, const char *, const char *);
static int	 ref_collect(const struct dsrv_file_meta *, void *);
static int	 list_collect(const char *, void *);

/* The temporary file of a get, removed if a signal ends dctl. */

/*
 * The command's own arguments: -j, -q and those in allowed anywhere
 * among them, "--" ends options, "-" alone is an argument.
 */
static void
parse_fargs(int argc, char **argv, int allowed, int min, int max,
    const char *usage, struct fargs *fa)
{
	int	 i, opts = 1;

	memset(fa, 0, sizeof(*fa));
	for (i = 0; i < argc; i++) {
		if (opts && argv[i][0] == '-' && argv[i][1] != '\0') {
			if (strcmp(argv[i], "--") == 0)
				opts = 0;
			else if (strcmp(argv[i], "-j") == 0)
				cargs.json = 1;
			else if (strcmp(argv[i], "-q") == 0)
				cargs.quiet = 1;
			else if (strcmp(argv[i], "-jq") == 0 ||
			    strcmp(argv[i], "-qj") == 0)
				cargs.json = cargs.quiet = 1;
			else if ((allowed & O_SHA256) &&
			    strcmp(argv[i], "--sha256") == 0)
				fa->sha256 = 1;
			else if ((allowed & O_READ) &&
			    strcmp(argv[i], "--read") == 0)
				fa->read = 1;
			else if ((allowed & O_TO) &&
			    strcmp(argv[i], "--to") == 0) {
				if (++i == argc)
					die_usage("usage: %s", usage);
				fa->to = argv[i];
			} else if ((allowed & O_DECLARE) &&
			    strcmp(argv[i], "--crc32") == 0) {
				if (++i == argc)
					die_usage("usage: %s", usage);
				fa->crc32 = argv[i];
			} else if ((allowed & O_DECLARE) &&
			    strcmp(argv[i], "--length") == 0) {
				if (++i == argc)
					die_usage("usage: %s", usage);
				fa->length = argv[i];
			} else
				die_usage("unknown option %s; usage: %s",
				    argv[i], usage);
			continue;
		}
		if (fa->nargs == max)
			die_usage("usage: %s", usage);
		fa->arg[fa->nargs++] = argv[i];
	}
	if (fa->nargs < min)
		die_usage("usage: %s", usage);
	if ((allowed & O_TO) && fa->to == NULL)
		die_usage("usage: %s", usage);
}

static struct dsrv_pool *
pool_open(const struct target *t, int maxconns)
{
	struct dsrv_pool_opts	 po;
	struct dsrv_pool	*p;
	char			 err[DSRV_CLIENT_ERRLEN];

	memset(&po, 0, sizeof(po));
	if (key_load(t->keypath, po.conn.key, err, sizeof(err)) == -1)
		die("%s", err);
	po.conn.host = t->host;
	po.conn.port = t->port;
	po.conn.keyname = t->keyname;
	po.maxconns = maxconns;
	p = dsrv_pool_new(&po, err, sizeof(err));
	sodium_memzero(po.conn.key, sizeof(po.conn.key));
	if (p == NULL)
		die("%s", err);
	return (p);
}

/*
 * What a library outcome means for the exit status: -1 is a failed
 * transfer, a wire code says what was wrong with the data.
 */
static int
exit_for(int code, const char *err)
{
	switch (code) {
	case WIRE_E_OK:
		return (0);
	case WIRE_E_NOTFOUND:
		return (EXIT_NOTFOUND);
	case WIRE_E_CRC:
	case WIRE_E_CORRUPT:
		return (EXIT_CORRUPT);
	default:
		return (EXIT_ERROR);
	}
}

__attribute__((__noreturn__))
static void
fail(int code, const char *err)
{
	die_status(exit_for(code, err), "%s", err);
}

static struct dsrv_file_meta *
meta_copy(const struct dsrv_file_meta *m)
{
	struct dsrv_file_meta	*c;

	if ((c = malloc(sizeof(*c))) == NULL)
		die("%s", strerror(errno));
	*c = *m;
	c->chunks = NULL;
	if ((c->name = strdup(m->name != NULL ? m->name : "")) == NULL)
		die("%s", strerror(errno));
	if (m->nchunks > 0) {
		if ((c->chunks = reallocarray(NULL, m->nchunks,
		    sizeof(*c->chunks))) == NULL)
			die("%s", strerror(errno));
		memcpy(c->chunks, m->chunks, m->nchunks * sizeof(*c->chunks));
	}
	return (c);
}

static void
meta_release(struct dsrv_file_meta *m)
{
	if (m == NULL)
		return;
	free(m->name);
	free(m->chunks);
	free(m);
}

static int
collect(const struct dsrv_file_meta *m, void *arg)
{
	struct files		 *f = arg;
	struct dsrv_file_meta	**nv;
	size_t			  ncap;

	if (f->n == f->cap) {
		ncap = f->cap == 0 ? 64 : f->cap * 2;
		if ((nv = reallocarray(f->v, ncap, sizeof(*nv))) == NULL)
			die("%s", strerror(errno));
		f->v = nv;
		f->cap = ncap;
	}
	f->v[f->n++] = meta_copy(m);
	return (0);
}

/* By name, then oldest first, then by crc32: the same order every time. */
static int
meta_cmp(const void *a, const void *b)
{
	const struct dsrv_file_meta	*x = *(const struct dsrv_file_meta **)a;
	const struct dsrv_file_meta	*y = *(const struct dsrv_file_meta **)b;
	int				 c;

	if ((c = strcmp(x->name, y->name)) != 0)
		return (c);
	if (x->stored_at != y->stored_at)
		return (x->stored_at < y->stored_at ? -1 : 1);
	if (x->crc != y->crc)
		return (x->crc < y->crc ? -1 : 1);
	return (0);
}

/*
 * Every file whose name starts with prefix, sorted.  Without err, exit
 * on failure; with it, return the code and keep the files that could
 * be read, for scrub to report the rest.
 */
static int
files_match(struct dsrv_pool *p, const char *prefix, struct files *f,
    char *err, size_t errlen)
{
	char	 e[DSRV_CLIENT_ERRLEN];
	int	 code;

	memset(f, 0, sizeof(*f));
	e[0] = '\0';
	code = dsrv_match(p, prefix, MATCH_PARALLEL, collect, f, e,
	    sizeof(e));
	if (code != WIRE_E_OK && err == NULL)
		fail(code, e[0] != '\0' ? e : "match failed");
	if (err != NULL)
		(void)strlcpy(err, e[0] != '\0' ? e : "match failed", errlen);
	if (f->n > 0)
		qsort(f->v, f->n, sizeof(*f->v), meta_cmp);
	return (code);
}

static void
files_free(struct files *f)
{
	size_t	 i;

	for (i = 0; i < f->n; i++)
		meta_release(f->v[i]);
	free(f->v);
	memset(f, 0, sizeof(*f));
}

/* UTC, so that the same file shows the same date everywhere. */
static void
fmt_date(uint64_t secs, char *buf, size_t len)
{
	struct tm	 tm;
	time_t		 t = (time_t)secs;

	if (secs == 0 || secs > (uint64_t)INT64_MAX / 2 ||
	    gmtime_r(&t, &tm) == NULL ||
	    strftime(buf, len, "%Y-%m-%d %H:%M:%S", &tm) == 0)
		(void)snprintf(buf, len, "%19s", "-");
}

static void
hex(const uint8_t *p, size_t n, char *out)
{
	static const char	 digits[] = "0123456789abcdef";
	size_t			 i;

	for (i = 0; i < n; i++) {
		out[2 * i] = digits[p[i] >> 4];
		out[2 * i + 1] = digits[p[i] & 15];
	}
	out[2 * n] = '\0';
}

/*
 * A name for a terminal line: control characters as '?'.  The result
 * lives until the next call but one, enough for two in one printf.
 */
static char *
printable(const char *s)
{
	static char	*buf[2];
	static int	 which;
	size_t		 i, n;
	char		*b;

	which = !which;
	n = strlen(s);
	free(buf[which]);
	if ((b = buf[which] = malloc(n + 1)) == NULL)
		die("%s", strerror(errno));
	for (i = 0; i <= n; i++)
		b[i] = ((unsigned char)s[i] < 0x20 && s[i] != '\0') ||
		    s[i] == 0x7f ? '?' : s[i];
	return (b);
}

/* The length of the valid UTF-8 sequence at s, or 0. */
static size_t
utf8_len(const unsigned char *s)
{
	unsigned char	 c = s[0];
	size_t		 n, i;
	unsigned char	 lo = 0x80, hi = 0xbf;

	if (c >= 0xc2 && c <= 0xdf)
		n = 2;
	else if (c >= 0xe0 && c <= 0xef) {
		n = 3;
		if (c == 0xe0)
			lo = 0xa0;		/* no overlong forms */
		else if (c == 0xed)
			hi = 0x9f;		/* no surrogates */
	} else if (c >= 0xf0 && c <= 0xf4) {
		n = 4;
		if (c == 0xf0)
			lo = 0x90;
		else if (c == 0xf4)
			hi = 0x8f;		/* nothing above U+10FFFF */
	} else
		return (0);
	if (s[1] < lo || s[1] > hi)
		return (0);
	for (i = 2; i < n; i++)
		if (s[i] < 0x80 || s[i] > 0xbf)
			return (0);
	return (n);
}

void
json_string(FILE *fp, const char *str)
{
	const unsigned char	*s = (const unsigned char *)str;
	size_t			 n;

	fputc('"', fp);
	while (*s != '\0') {
		if (*s == '"' || *s == '\\') {
			fputc('\\', fp);
			fputc(*s++, fp);
		} else if (*s < 0x20 || *s == 0x7f) {
			fprintf(fp, "\\u%04x", *s++);
		} else if (*s < 0x80) {
			fputc(*s++, fp);
		} else if ((n = utf8_len(s)) > 0) {
			(void)fwrite(s, 1, n, fp);
			s += n;
		} else {
			/* Names are bytes; JSON wants UTF-8.  Latin-1 it is. */
			fprintf(fp, "\\u%04x", *s++);
		}
	}
	fputc('"', fp);
}

static void
json_meta(FILE *fp, const struct dsrv_file_meta *m, int chunks)
{
	char		 sha[65], cname[CHUNK_NAME_MAX + 1];
	size_t		 i;

	fputs("{\"name\":", fp);
	json_string(fp, m->name);
	fprintf(fp, ",\"length\":%" PRIu64 ",\"crc32\":\"%08" PRIx32 "\","
	    "\"stored_at\":%" PRIu64 ",\"sha256\":", m->length, m->crc,
	    m->stored_at);
	if (m->has_sha256) {
		hex(m->sha256, sizeof(m->sha256), sha);
		fprintf(fp, "\"%s\"", sha);
	} else
		fputs("null", fp);
	fputs(",\"meta\":", fp);
	json_string(fp, m->metaname);
	if (!chunks) {
		fprintf(fp, ",\"chunks\":%zu}\n", m->nchunks);
		return;
	}
	fputs(",\"chunks\":[", fp);
	for (i = 0; i < m->nchunks; i++) {
		dsrv_data_name(m->crc, (uint32_t)i, m->chunks[i].crc, cname);
		fprintf(fp, "%s{\"index\":%zu,\"length\":%" PRIu64 ","
		    "\"crc32\":\"%08" PRIx32 "\",\"chunk\":\"%s\"}",
		    i > 0 ? "," : "", i, m->chunks[i].length,
		    m->chunks[i].crc, cname);
	}
	fputs("]}\n", fp);
}

static void
flush_stdout(void)
{
	if (fflush(stdout) == EOF || ferror(stdout))
		die("stdout: %s", strerror(errno));
}

static void
progress_cb(uint64_t done, uint64_t total, void *arg)
{
	progress_set(arg, done);
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
		prog = progress_start(label, (uint64_t)st.st_size);
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
	prog = progress_start(label, length);
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
	struct dsrv_file_meta	*m = NULL;
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
	err[0] = '\0';
	if ((code = dsrv_file_find(pool, name, &m, err, sizeof(err))) !=
	    WIRE_E_OK) {
		if (code == WIRE_E_NOTFOUND)
			die_status(EXIT_NOTFOUND, "%s: no such file",
			    printable(name));
		fail(code, err);
	}

	(void)snprintf(label, sizeof(label), "%.40s", name);
	prog = progress_start(label, m->length);
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
	char			 date[32], err[DSRV_CLIENT_ERRLEN];
	size_t			 i;
	int			 code;

	parse_fargs(argc, argv, 0, 0, 1, "match [PREFIX]", &fa);
	resolve_target(&t);
	pool = pool_open(&t, POOL_CONNS);
	/* What could be read is listed even if some metadata could not. */
	code = files_match(pool, fa.nargs == 1 ? fa.arg[0] : "", &f, err,
	    sizeof(err));
	for (i = 0; i < f.n; i++) {
		if (cargs.json) {
			json_meta(stdout, f.v[i], 0);
			continue;
		}
		fmt_date(f.v[i]->stored_at, date, sizeof(date));
		printf("%08" PRIx32 "  %12" PRIu64 "  %s  %s\n", f.v[i]->crc,
		    f.v[i]->length, date, printable(f.v[i]->name));
	}
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
	char			 err[DSRV_CLIENT_ERRLEN], date[32], sha[65];
	char			 cname[CHUNK_NAME_MAX + 1];
	size_t			 i;
	int			 code;

	parse_fargs(argc, argv, 0, 1, 1, "stat NAME", &fa);
	resolve_target(&t);
	pool = pool_open(&t, XFER_PARALLEL);
	err[0] = '\0';
	if ((code = dsrv_file_find(pool, fa.arg[0], &m, err, sizeof(err))) !=
	    WIRE_E_OK) {
		if (code == WIRE_E_NOTFOUND)
			die_status(EXIT_NOTFOUND, "%s: no such file",
			    printable(fa.arg[0]));
		fail(code, err);
	}
	if (cargs.json)
		json_meta(stdout, m, 1);
	else {
		fmt_date(m->stored_at, date, sizeof(date));
		if (m->has_sha256)
			hex(m->sha256, sizeof(m->sha256), sha);
		else
			(void)strlcpy(sha, "-", sizeof(sha));
		printf("%-10s%s\n", "name", printable(m->name));
		printf("%-10s%" PRIu64 "\n", "length", m->length);
		printf("%-10s%08" PRIx32 "\n", "crc32", m->crc);
		printf("%-10s%s\n", "sha256", sha);
		printf("%-10s%s (%" PRIu64 ")\n", "stored", date,
		    m->stored_at);
		printf("%-10s%s\n", "metadata", m->metaname);
		printf("%-10s%zu\n", "chunks", m->nchunks);
		for (i = 0; i < m->nchunks; i++) {
			dsrv_data_name(m->crc, (uint32_t)i, m->chunks[i].crc,
			    cname);
			printf("chunk %zu length %" PRIu64 " crc32 %08" PRIx32
			    " %s\n", i, m->chunks[i].length, m->chunks[i].crc,
			    cname);
		}
	}
	flush_stdout();
	dsrv_meta_free(m);
	dsrv_pool_free(pool);
	return (0);
}

static void
job_set(struct job *j, enum jstatus st, const char *fmt, ...)
{
	va_list	 ap;

	j->status = st;
	free(j->reason);
	j->reason = NULL;
	if (fmt == NULL)
		return;
	va_start(ap, fmt);
	if (vasprintf(&j->reason, fmt, ap) == -1)
		j->reason = NULL;
	va_end(ap);
}

/* A request that did not succeed: missing, corrupt, or unknown. */
static void
job_code(struct job *j, int code, const char *err)
{
	if (code == WIRE_E_NOTFOUND)
		job_set(j, J_MISSING, "%s", err);
	else if (code == WIRE_E_CORRUPT || code == WIRE_E_CRC)
		job_set(j, J_CORRUPT, "%s", err);
	else
		job_set(j, J_ERROR, "%s", err[0] != '\0' ? err :
		    "request failed");
}

static void *
worker(void *arg)
{
	struct work	*w = arg;
	uint8_t		*buf;
	size_t		 i;

	if ((buf = malloc(DSRV_CHUNK_SIZE)) == NULL)
		die("%s", strerror(errno));
	for (;;) {
		(void)pthread_mutex_lock(&w->lock);
		i = w->next++;
		(void)pthread_mutex_unlock(&w->lock);
		if (i >= w->njobs)
			break;
		w->fn(w, &w->jobs[i], buf);
	}
	free(buf);
	return (NULL);
}

/* The jobs of w by n threads; at least the calling one. */
static void
run_work(struct work *w, int n)
{
	pthread_t	 tid[NWORKERS];
	int		 i, started = 0;

	w->next = 0;
	if (n > NWORKERS)
		n = NWORKERS;
	for (i = 0; i < n; i++) {
		if (pthread_create(&tid[i], NULL, worker, w) != 0)
			break;
		started++;
	}
	if (started == 0)
		(void)worker(w);
	for (i = 0; i < started; i++)
		(void)pthread_join(tid[i], NULL);
}

/* By stat (the server computes the crc32 from its disk) or by reading. */
static void
scrub_one(struct work *w, struct job *j, uint8_t *buf)
{
	const struct dsrv_file_meta	*f = w->files->v[j->file];
	struct dsrv_file_meta		*dm;
	char				 err[DSRV_CLIENT_ERRLEN];
	uint64_t			 len = 0, elen = 0;
	uint32_t			 crc = 0, ecrc = 0;
	size_t				 got;
	int				 code;

	if (j->index >= 0) {
		elen = f->chunks[j->index].length;
		ecrc = f->chunks[j->index].crc;
	}
	err[0] = '\0';
	if (!w->read)
		code = dsrv_pool_stat(w->src, j->name, &len, &crc, err,
		    sizeof(err));
	else {
		code = dsrv_pool_read(w->src, j->name, buf, DSRV_CHUNK_SIZE,
		    &got, err, sizeof(err));
		if (code == WIRE_E_OK) {
			len = got;
			crc = (uint32_t)crc32(crc32(0L, Z_NULL, 0), buf,
			    (uInt)got);
		}
	}
	if (code != WIRE_E_OK)
		job_code(j, code, err);
	else if (j->index >= 0 && (len != elen || crc != ecrc))
		job_set(j, J_CORRUPT, "length %" PRIu64 " crc32 %08" PRIx32
		    ", the metadata says length %" PRIu64 " crc32 %08" PRIx32,
		    len, crc, elen, ecrc);
	else if (j->index < 0 && w->read) {
		if (dsrv_meta_decode(buf, got, &dm, err, sizeof(err)) == -1)
			job_set(j, J_CORRUPT, "metadata does not decode: %s",
			    err);
		else {
			if (dm->crc != f->crc || dm->length != f->length)
				job_set(j, J_CORRUPT, "metadata changed "
				    "since it was matched");
			else
				job_set(j, J_OK, NULL);
			dsrv_meta_free(dm);
		}
	} else
		job_set(j, J_OK, NULL);
	progress_add(w->prog, elen);
}

/*
 * scrub [PREFIX] [--read]: every chunk of every matched file, metadata
 * first in the report, checked against its metadata.
 */
int
cmd_netscrub(int argc, char **argv)
{
	const char		*usage = "scrub [--read] [PREFIX]";
	struct fargs		 fa;
	struct target		 t;
	struct files		 f;
	struct work		 w;
	struct job		*j;
	uint64_t		 total = 0, nok = 0, ncorrupt = 0, nmissing = 0;
	uint64_t		 nerror = 0;
	size_t			 i, k, n = 0;
	const char		*st;
	char			 ix[32], merr[DSRV_CLIENT_ERRLEN];
	int			 mcode;

	parse_fargs(argc, argv, O_READ, 0, 1, usage, &fa);
	memset(&w, 0, sizeof(w));
	resolve_target(&t);
	w.src = pool_open(&t, POOL_CONNS);
	mcode = files_match(w.src, fa.nargs == 1 ? fa.arg[0] : "", &f, merr,
	    sizeof(merr));
	for (i = 0; i < f.n; i++) {
		n += 1 + f.v[i]->nchunks;
		total += f.v[i]->length;
	}
	if (n > 0 && (w.jobs = calloc(n, sizeof(*w.jobs))) == NULL)
		die("%s", strerror(errno));
	for (i = 0, n = 0; i < f.n; i++) {
		j = &w.jobs[n++];
		j->file = i;
		j->index = -1;
		(void)strlcpy(j->name, f.v[i]->metaname, sizeof(j->name));
		for (k = 0; k < f.v[i]->nchunks; k++) {
			j = &w.jobs[n++];
			j->file = i;
			j->index = (int64_t)k;
			dsrv_data_name(f.v[i]->crc, (uint32_t)k,
			    f.v[i]->chunks[k].crc, j->name);
		}
	}
	w.files = &f;
	w.njobs = n;
	w.read = fa.read;
	w.fn = scrub_one;
	if (pthread_mutex_init(&w.lock, NULL) != 0)
		die("pthread_mutex_init failed");
	w.prog = progress_start(fa.read ? "scrub --read" : "scrub", total);
	run_work(&w, NWORKERS);
	progress_end(w.prog);

	for (i = 0; i < n; i++) {
		j = &w.jobs[i];
		switch (j->status) {
		case J_OK:
		case J_SKIP:
			nok++;
			continue;
		case J_CORRUPT:
			ncorrupt++;
			st = "corrupt";
			break;
		case J_MISSING:
			nmissing++;
			st = "missing";
			break;
		default:
			nerror++;
			st = "error";
			break;
		}
		if (j->index < 0)
			(void)strlcpy(ix, "meta", sizeof(ix));
		else
			(void)snprintf(ix, sizeof(ix), "%" PRId64, j->index);
		if (cargs.json) {
			printf("{\"status\":\"%s\",\"chunk\":\"%s\",\"file\":",
			    st, j->name);
			json_string(stdout, f.v[j->file]->name);
			if (j->index < 0)
				printf(",\"index\":null,\"reason\":");
			else
				printf(",\"index\":%s,\"reason\":", ix);
			json_string(stdout, j->reason != NULL ? j->reason : "");
			printf("}\n");
		} else if (j->status == J_MISSING)
			printf("missing %s (%s chunk %s)\n", j->name,
			    printable(f.v[j->file]->name), ix);
		else
			printf("%s %s (%s chunk %s): %s\n", st, j->name,
			    printable(f.v[j->file]->name), ix,
			    j->reason != NULL ? printable(j->reason) : "");
	}
	/*
	 * A metadata chunk that could not be read or decoded: the library
	 * names the first, and its file is beyond checking.
	 */
	if (mcode != WIRE_E_OK) {
		if (exit_for(mcode, merr) == EXIT_CORRUPT ||
		    strstr(merr, "metadata") != NULL) {
			ncorrupt++;
			st = "corrupt";
		} else {
			nerror++;
			st = "error";
		}
		if (cargs.json) {
			printf("{\"status\":\"%s\",\"chunk\":null,"
			    "\"file\":null,\"index\":null,\"reason\":", st);
			json_string(stdout, merr);
			printf("}\n");
		} else
			printf("%s metadata: %s\n", st, printable(merr));
	}
	if (cargs.json)
		printf("{\"files\":%zu,\"chunks\":%zu,\"bytes\":%" PRIu64 ","
		    "\"corrupt\":%" PRIu64 ",\"missing\":%" PRIu64 ","
		    "\"errors\":%" PRIu64 "}\n", f.n, n, total, ncorrupt,
		    nmissing, nerror);
	else
		printf("scrub: %zu files, %zu chunks, %" PRIu64 " bytes, %"
		    PRIu64 " corrupt, %" PRIu64 " missing, %" PRIu64
		    " errors\n", f.n, n, total, ncorrupt, nmissing, nerror);
	flush_stdout();
	for (i = 0; i < n; i++)
		free(w.jobs[i].reason);
	free(w.jobs);
	files_free(&f);
	dsrv_pool_free(w.src);
	if (ncorrupt + nmissing > 0)
		return (EXIT_CORRUPT);
	return (nerror > 0 ? EXIT_ERROR : 0);
}

/*
 * One chunk from source to target, unless the target has it already
 * with the length and crc32 it should have.  A metadata chunk is
 * compared with the source's by stat.
 */
static void
repl_one(struct work *w, struct job *j, uint8_t *buf)
{
	const struct dsrv_file_meta	*f = w->files->v[j->file];
	char				 err[DSRV_CLIENT_ERRLEN];
	uint64_t			 len, elen = 0, slen;
	uint32_t			 crc, ecrc = 0, scrc;
	size_t				 got;
	int				 code, have = 0;

	err[0] = '\0';
	code = dsrv_pool_stat(w->dst, j->name, &len, &crc, err, sizeof(err));
	if (j->index >= 0) {
		elen = f->chunks[j->index].length;
		ecrc = f->chunks[j->index].crc;
		have = code == WIRE_E_OK && len == elen && crc == ecrc;
	} else if (code == WIRE_E_OK) {
		if (dsrv_pool_stat(w->src, j->name, &slen, &scrc, err,
		    sizeof(err)) == WIRE_E_OK)
			have = slen == len && scrc == crc;
	}
	if (have) {
		job_set(j, J_SKIP, NULL);
		progress_add(w->prog, elen);
		return;
	}

	err[0] = '\0';
	if ((code = dsrv_pool_read(w->src, j->name, buf, DSRV_CHUNK_SIZE, &got,
	    err, sizeof(err))) != WIRE_E_OK) {
		job_code(j, code, err);
		progress_add(w->prog, elen);
		return;
	}
	if (j->index >= 0) {
		crc = (uint32_t)crc32(crc32(0L, Z_NULL, 0), buf, (uInt)got);
		if (got != elen || crc != ecrc) {
			job_set(j, J_CORRUPT, "%s: source chunk has length %zu "
			    "crc32 %08" PRIx32 ", the metadata says length %"
			    PRIu64 " crc32 %08" PRIx32, j->name, got, crc,
			    elen, ecrc);
			progress_add(w->prog, elen);
			return;
		}
	}
	err[0] = '\0';
	if ((code = dsrv_pool_write(w->dst, j->name, buf, got, err,
	    sizeof(err))) != WIRE_E_OK)
		job_set(j, J_ERROR, "%s", err[0] != '\0' ? err :
		    "write failed");
	else {
		job_set(j, J_OK, NULL);
		j->bytes = got;
	}
	progress_add(w->prog, elen);
}

/*
 * The server of --to: an entry of the client configuration, with its
 * own key, or an address, with the key the source was reached with.
 */
static void
repl_target(const struct target *src, const char *to, struct target *dst)
{
	struct client_args	 saved = cargs;
	struct dsrvd_conf	*conf;
	struct conf_server	*s;
	int			 entry = 0;

	conf = parse_config(cargs.conffile != NULL ? cargs.conffile :
	    DCTL_CONF, CONF_CLIENT | CONF_NOKEYS |
	    (cargs.conffile != NULL ? 0 : CONF_OPTIONAL));
	if (conf == NULL)
		exit(EXIT_USAGE);
	TAILQ_FOREACH(s, &conf->servers, entry)
		if (strcmp(s->name, to) == 0)
			entry = 1;
	config_free(conf);
	cargs.server = to;
	if (entry)
		cargs.keyfile = cargs.keyname = NULL;
	else {
		cargs.keyfile = src->keypath;
		cargs.keyname = src->keyname;
	}
	resolve_target(dst);
	cargs = saved;
}

/*
 * replicate --to SERVER [PREFIX]: every data chunk first, then the
 * metadata of each file whose data all arrived, so that on the target,
 * as anywhere, a file exists only once all of it does.
 */
int
cmd_replicate(int argc, char **argv)
{
	const char		*usage = "replicate --to SERVER [PREFIX]";
	struct fargs		 fa;
	struct target		 t, tt;
	struct files		 f;
	struct work		 w;
	struct job		*j, *dj, *mj = NULL;
	uint64_t		 total = 0, bytes = 0, copied = 0, there = 0;
	uint8_t			*bad;
	size_t			 i, k, n = 0, nm = 0, nfiles = 0;
	int			 corrupt = 0, error = 0;

	parse_fargs(argc, argv, O_TO, 0, 1, usage, &fa);
	memset(&w, 0, sizeof(w));
	resolve_target(&t);
	repl_target(&t, fa.to, &tt);
	if (strcmp(t.host, tt.host) == 0 && strcmp(t.port, tt.port) == 0 &&
	    strcmp(t.keyname, tt.keyname) == 0)
		die_usage("replicate: %s port %s is the source itself",
		    tt.host, tt.port);
	w.src = pool_open(&t, POOL_CONNS);
	w.dst = pool_open(&tt, POOL_CONNS);
	files_match(w.src, fa.nargs == 1 ? fa.arg[0] : "", &f, NULL, 0);
	for (i = 0; i < f.n; i++) {
		n += f.v[i]->nchunks;
		total += f.v[i]->length;
	}
	if (n > 0 && (w.jobs = calloc(n, sizeof(*w.jobs))) == NULL)
		die("%s", strerror(errno));
	if (f.n > 0 && ((mj = calloc(f.n, sizeof(*mj))) == NULL ||
	    (bad = calloc(f.n, 1)) == NULL))
		die("%s", strerror(errno));
	else if (f.n == 0)
		bad = NULL;
	for (i = 0, n = 0; i < f.n; i++)
		for (k = 0; k < f.v[i]->nchunks; k++) {
			j = &w.jobs[n++];
			j->file = i;
			j->index = (int64_t)k;
			dsrv_data_name(f.v[i]->crc, (uint32_t)k,
			    f.v[i]->chunks[k].crc, j->name);
		}
	w.files = &f;
	w.njobs = n;
	w.fn = repl_one;
	if (pthread_mutex_init(&w.lock, NULL) != 0)
		die("pthread_mutex_init failed");
	w.prog = progress_start("replicate", total);
	run_work(&w, NWORKERS);

	for (i = 0; i < n; i++)
		if (w.jobs[i].status != J_OK && w.jobs[i].status != J_SKIP)
			bad[w.jobs[i].file] = 1;
	for (i = 0; i < f.n; i++) {
		if (bad[i])
			continue;
		mj[nm].file = i;
		mj[nm].index = -1;
		(void)strlcpy(mj[nm].name, f.v[i]->metaname,
		    sizeof(mj[nm].name));
		nm++;
	}
	/* The metadata only now: its data is all there. */
	dj = w.jobs;
	w.jobs = mj;
	w.njobs = nm;
	run_work(&w, NWORKERS);
	progress_end(w.prog);
	for (i = 0; i < n + nm; i++) {
		j = i < n ? &dj[i] : &mj[i - n];
		switch (j->status) {
		case J_OK:
			copied++;
			bytes += j->bytes;
			if (j->index < 0)
				nfiles++;
			break;
		case J_SKIP:
			there++;
			if (j->index < 0)
				nfiles++;
			break;
		case J_CORRUPT:
		case J_MISSING:
			corrupt = 1;
			fprintf(stderr, "dctl: %s: %s\n",
			    printable(f.v[j->file]->name), j->reason != NULL ?
			    j->reason : "corrupt");
			break;
		default:
			error = 1;
			fprintf(stderr, "dctl: %s: %s\n",
			    printable(f.v[j->file]->name), j->reason != NULL ?
			    j->reason : "failed");
			break;
		}
		free(j->reason);
	}
	free(dj);
	if (cargs.json)
		printf("{\"files\":%zu,\"replicated\":%zu,\"copied\":%" PRIu64
		    ",\"bytes\":%" PRIu64 ",\"there\":%" PRIu64 "}\n", f.n,
		    nfiles, copied, bytes, there);
	else
		printf("replicate: %zu files, %" PRIu64 " chunks copied (%"
		    PRIu64 " bytes), %" PRIu64 " chunks already there\n", f.n,
		    copied, bytes, there);
	flush_stdout();
	free(mj);
	free(bad);
	files_free(&f);
	dsrv_pool_free(w.src);
	dsrv_pool_free(w.dst);
	if (corrupt)
		return (EXIT_CORRUPT);
	return (error ? EXIT_ERROR : 0);
}

static int
name_cmp(const void *a, const void *b)
{
	return (strcmp(*(char * const *)a, *(char * const *)b));
}

static void
names_add(struct names *nm, const char *dir, const char *name)
{
	char	**nv;
	size_t	  ncap;

	if (nm->n == nm->cap) {
		ncap = nm->cap == 0 ? 1024 : nm->cap * 2;
		if ((nv = reallocarray(nm->v, ncap, sizeof(*nv))) == NULL)
			die("%s", strerror(errno));
		nm->v = nv;
		nm->cap = ncap;
	}
	if (dir != NULL) {
		if (asprintf(&nm->v[nm->n], "%s/%s", dir, name) == -1)
			die("%s", strerror(errno));
	} else if ((nm->v[nm->n] = strdup(name)) == NULL)
		die("%s", strerror(errno));
	nm->n++;
}

static int
ref_collect(const struct dsrv_file_meta *m, void *arg)
{
	char	 cname[CHUNK_NAME_MAX + 1];
	size_t	 i;

	for (i = 0; i < m->nchunks; i++) {
		dsrv_data_name(m->crc, (uint32_t)i, m->chunks[i].crc, cname);
		names_add(arg, NULL, cname);
	}
	return (0);
}

static int
list_collect(const char *name, void *arg)
{
	struct names	*nm = arg;

	names_add(nm, nm->dir, name);
	return (0);
}

/*
 * abandoned: the chunks in 00..ff that no metadata lists, the remains
 * of uploads that never finished.  Every metadata chunk must be read:
 * one that cannot be leaves its chunks unknown, and nothing is printed.
 */
int
cmd_abandoned(int argc, char **argv)
{
	struct fargs		 fa;
	struct target		 t;
	struct dsrv_pool	*pool;
	struct names		 refs, found;
	char			 err[DSRV_CLIENT_ERRLEN], *key;
	size_t			 i;
	int			 code, d;

	parse_fargs(argc, argv, 0, 0, 0, "abandoned", &fa);
	memset(&refs, 0, sizeof(refs));
	memset(&found, 0, sizeof(found));
	resolve_target(&t);
	pool = pool_open(&t, POOL_CONNS);
	err[0] = '\0';
	if ((code = dsrv_match(pool, "", MATCH_PARALLEL, ref_collect, &refs,
	    err, sizeof(err))) != WIRE_E_OK)
		die_status(exit_for(code, err), "%s (so no chunk can be "
		    "called abandoned)", err[0] != '\0' ? err : "match failed");
	if (refs.n > 0)
		qsort(refs.v, refs.n, sizeof(*refs.v), name_cmp);

	for (d = 0; d < 256; d++) {
		(void)snprintf(found.dir, sizeof(found.dir), "%02x", d);
		err[0] = '\0';
		if ((code = dsrv_pool_list(pool, found.dir, list_collect,
		    &found, err, sizeof(err))) != WIRE_E_OK)
			fail(code, err[0] != '\0' ? err : "list failed");
	}
	for (i = 0; i < found.n; i++) {
		key = found.v[i];
		if (refs.n == 0 || bsearch(&key, refs.v, refs.n,
		    sizeof(*refs.v), name_cmp) == NULL)
			printf("%s\n", printable(found.v[i]));
		free(found.v[i]);
	}
	flush_stdout();
	for (i = 0; i < refs.n; i++)
		free(refs.v[i]);
	free(refs.v);
	free(found.v);
	dsrv_pool_free(pool);
	return (0);
}
