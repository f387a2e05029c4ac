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
 * dctl abandoned: the data chunks that no file's metadata lists, the
 * remains of uploads that never finished.  The names come from every
 * metadata chunk (dsrv_match) and from listing the 256 data
 * directories; the connections from net.c.
 */
#include <sys/types.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "chunkname.h"
#include "client.h"
#include "dctl.h"
#include "dsrvfile.h"
#include "pool.h"
#include "wire.h"

/* Chunk names: referenced by metadata, or found in a directory. */
struct names {
	char	**v;
	size_t	  n;
	size_t	  cap;
	char	  dir[CHUNK_DIR_MAX + 1];
};

static int	 name_cmp(const void *, const void *);
static void	 names_add(struct names *, const char *, const char *);
static int	 ref_collect(const struct dsrv_file_meta *, void *);
static int	 list_collect(const char *, void *);

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
		dsrv_chunk_name(m, i, cname);
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
		die_status(exit_status(code), "%s (so no chunk can be "
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
