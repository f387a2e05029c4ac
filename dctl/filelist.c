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
 * The files on a server whose names start with a prefix, as deep
 * copies of the metadata dsrv_match hands over, sorted so that every
 * listing comes out the same.  For match (file.c) and the many-file
 * jobs (jobs.c); it calls only util.c and the library.
 */
#include <sys/types.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "client.h"
#include "dctl.h"
#include "dsrvfile.h"
#include "wire.h"

static int	 collect(const struct dsrv_file_meta *, void *);

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
	/* The callback's metadata is freed after it returns: copy it. */
	if ((f->v[f->n] = dsrv_meta_copy(m)) == NULL)
		die("%s", strerror(errno));
	f->n++;
	return (0);
}


/* With err, scrub reports what could not be read beside the rest. */
int
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
		qsort(f->v, f->n, sizeof(*f->v), dsrv_meta_name_cmp);
	return (code);
}

void
files_free(struct files *f)
{
	size_t	 i;

	for (i = 0; i < f->n; i++)
		dsrv_meta_free(f->v[i]);
	free(f->v);
	memset(f, 0, sizeof(*f));
}

