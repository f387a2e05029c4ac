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
 * dctl's jobs over many chunks: scrub (every chunk of every matched
 * file checked against its metadata, by stat or by reading) and
 * replicate (chunk by chunk to another server, metadata last).  The chunks are jobs shared
 * out to a few worker threads (run_work); the files come from
 * filelist.c, the connections from net.c, the output from print.c.
 */
#include <sys/types.h>

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <zlib.h>

#include "chunkname.h"
#include "client.h"
#include "conf.h"
#include "dctl.h"
#include "dsrvfile.h"
#include "pool.h"
#include "wire.h"

#define NWORKERS		4

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
	int		 digest;	/* replicate: both answer DIGEST */
	struct progress	*prog;
	void		 (*fn)(struct work *, struct job *, uint8_t *);
};

static void	 job_init(struct job *, const struct files *, size_t, int64_t);
static void	 job_set(struct job *, enum jstatus, const char *, ...)
		    __attribute__((__format__ (printf, 3, 4)));
static void	 job_code(struct job *, int, const char *);
static void	*worker(void *);
static void	 run_work(struct work *, int);
static void	 scrub_one(struct work *, struct job *, uint8_t *);
static int	 repl_have(struct work *, struct job *, uint64_t, uint32_t,
		    char *, size_t);
static void	 repl_one(struct work *, struct job *, uint8_t *);
static void	 repl_target(const struct target *, const char *,
		    struct target *);

/* The job for chunk k of file i, or with k -1 for its metadata chunk. */
static void
job_init(struct job *j, const struct files *f, size_t i, int64_t k)
{
	const struct dsrv_file_meta	*m = f->v[i];

	j->file = i;
	j->index = k;
	if (k < 0)
		(void)strlcpy(j->name, m->metaname, sizeof(j->name));
	else
		dsrv_chunk_name(m, (size_t)k, j->name);
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
		job_init(&w.jobs[n++], &f, i, -1);
		for (k = 0; k < f.v[i]->nchunks; k++)
			job_init(&w.jobs[n++], &f, i, (int64_t)k);
	}
	w.files = &f;
	w.njobs = n;
	w.read = fa.read;
	w.fn = scrub_one;
	if (pthread_mutex_init(&w.lock, NULL) != 0)
		die("pthread_mutex_init failed");
	w.prog = progress_start(fa.read ? "scrub --read" : "scrub", total,
	    cargs.quiet);
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
		if (exit_status(mcode) == EXIT_CORRUPT ||
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
 * Whether the target holds the source's chunk: the same DIGEST (length,
 * crc32 and SHA-256) on both, or where either server or key lacks
 * DIGEST, the same STAT.  1 yes, 0 no, -1 the target holds other bytes
 * under that name (a crc32 twin, a rotted chunk), which a write could
 * not replace.
 */
static int
repl_have(struct work *w, struct job *j, uint64_t elen, uint32_t ecrc,
    char *err, size_t errlen)
{
	uint8_t		 dsha[32], ssha[32];
	uint64_t	 len, slen;
	uint32_t	 crc, scrc;
	int		 code;

	if (__atomic_load_n(&w->digest, __ATOMIC_RELAXED)) {
		code = dsrv_pool_digest(w->dst, j->name, &len, &crc, dsha,
		    err, errlen);
		if (code == WIRE_E_NOTFOUND)
			return (0);
		if (code == WIRE_E_OK) {
			if (j->index >= 0 && (len != elen || crc != ecrc))
				return (-1);
			if (dsrv_pool_digest(w->src, j->name, &slen, &scrc,
			    ssha, err, errlen) == WIRE_E_OK)
				return (slen == len && scrc == crc &&
				    memcmp(ssha, dsha, sizeof(dsha)) == 0 ?
				    1 : -1);
			return (0);
		}
		if (code == WIRE_E_BADREQUEST || code == WIRE_E_PERM)
			__atomic_store_n(&w->digest, 0, __ATOMIC_RELAXED);
		else if (code == WIRE_E_CORRUPT)
			return (-1);
	}
	code = dsrv_pool_stat(w->dst, j->name, &len, &crc, err, errlen);
	if (code != WIRE_E_OK)
		return (0);
	if (j->index >= 0)
		return (len == elen && crc == ecrc ? 1 : -1);
	if (dsrv_pool_stat(w->src, j->name, &slen, &scrc, err, errlen) ==
	    WIRE_E_OK)
		return (slen == len && scrc == crc ? 1 : -1);
	return (0);
}

/*
 * One chunk from source to target, unless the target has it already.
 * A chunk the target holds with other bytes is an error: nothing may
 * replace it, and the file's metadata names it.
 */
static void
repl_one(struct work *w, struct job *j, uint8_t *buf)
{
	const struct dsrv_file_meta	*f = w->files->v[j->file];
	char				 err[DSRV_CLIENT_ERRLEN];
	uint64_t			 elen = 0;
	uint32_t			 crc, ecrc = 0;
	size_t				 got;
	int				 code, have;

	if (j->index >= 0) {
		elen = f->chunks[j->index].length;
		ecrc = f->chunks[j->index].crc;
	}
	err[0] = '\0';
	if ((have = repl_have(w, j, elen, ecrc, err, sizeof(err))) == 1) {
		job_set(j, J_SKIP, NULL);
		progress_add(w->prog, elen);
		return;
	}
	if (have == -1) {
		job_set(j, J_ERROR, "%s: the target holds other bytes under "
		    "this name", j->name);
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
		for (k = 0; k < f.v[i]->nchunks; k++)
			job_init(&w.jobs[n++], &f, i, (int64_t)k);
	w.files = &f;
	w.njobs = n;
	w.digest = 1;
	w.fn = repl_one;
	if (pthread_mutex_init(&w.lock, NULL) != 0)
		die("pthread_mutex_init failed");
	w.prog = progress_start("replicate", total, cargs.quiet);
	run_work(&w, NWORKERS);

	for (i = 0; i < n; i++)
		if (w.jobs[i].status != J_OK && w.jobs[i].status != J_SKIP)
			bad[w.jobs[i].file] = 1;
	for (i = 0; i < f.n; i++) {
		if (bad[i])
			continue;
		job_init(&mj[nm++], &f, i, -1);
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
