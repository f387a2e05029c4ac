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
 * The objects of dctl serve restic on dsrvd: one dsrvd file per
 * object, found through listings of its directory that are kept a few
 * seconds and dropped by any write into it; writes of bodies already
 * verified; reads of byte ranges by ranged READs.  The caches are
 * gw->mtx's, never held while dsrvd is asked.  Locks never reach
 * dsrvd: they are advisory, restic deletes them, and dsrvd deletes
 * nothing, so they live in this process.
 */
#include <sys/types.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <event2/buffer.h>
#include <zlib.h>

#include "dctl.h"
#include "dsrvfile.h"
#include "log.h"
#include "pool.h"
#include "serve.h"
#include "sha256.h"
#include "wire.h"

struct collect {
	const char		 *dir;
	size_t			  dirlen;
	struct dsrv_file_meta	**v;
	size_t			  n, cap;
	int			  nomem;
};

static int	 collect_cb(const struct dsrv_file_meta *, void *);
static struct gw_dir *dir_cached(struct gw *, const char *);
static void	 dir_drop(struct gw_dir *);
static void	 dir_invalidate(struct gw *, const char *name);
static int	 meta_keep(struct gw *, const struct dsrv_file_meta *);
static void	 gw_lock(struct gw *);
static void	 gw_unlock(struct gw *);

static void
gw_lock(struct gw *gw)
{
	int	 e;

	if ((e = pthread_mutex_lock(&gw->mtx)) != 0)
		fatalx("serve: pthread_mutex_lock: %s", strerror(e));
}

static void
gw_unlock(struct gw *gw)
{
	int	 e;

	if ((e = pthread_mutex_unlock(&gw->mtx)) != 0)
		fatalx("serve: pthread_mutex_unlock: %s", strerror(e));
}

/* Files directly in the directory: a deeper repository is not ours. */
static int
collect_cb(const struct dsrv_file_meta *m, void *arg)
{
	struct collect		 *c = arg;
	struct dsrv_file_meta	**nv;
	size_t			  ncap;

	if (strncmp(m->name, c->dir, c->dirlen) != 0 ||
	    m->name[c->dirlen] == '\0' ||
	    strchr(m->name + c->dirlen, '/') != NULL)
		return (0);
	if (c->n == c->cap) {
		ncap = c->cap == 0 ? 64 : c->cap * 2;
		if ((nv = reallocarray(c->v, ncap, sizeof(*nv))) == NULL) {
			c->nomem = 1;
			return (-1);
		}
		c->v = nv;
		c->cap = ncap;
	}
	if ((c->v[c->n] = dsrv_meta_copy(m)) == NULL) {
		c->nomem = 1;
		return (-1);
	}
	c->n++;
	return (0);
}


static struct gw_dir *
dir_cached(struct gw *gw, const char *dir)
{
	time_t	 now = time(NULL);
	size_t	 i;

	for (i = 0; i < GW_DIRCACHE; i++) {
		if (gw->dirs[i].dir == NULL ||
		    strcmp(gw->dirs[i].dir, dir) != 0)
			continue;
		if (now - gw->dirs[i].at < GW_DIRCACHE_TTL &&
		    now >= gw->dirs[i].at)
			return (&gw->dirs[i]);
		dir_drop(&gw->dirs[i]);
	}
	return (NULL);
}

static void
dir_drop(struct gw_dir *d)
{
	dsrv_versions_free(d->v, d->n);
	free(d->dir);
	memset(d, 0, sizeof(*d));
}

/* A write into name's directory makes its listing wrong. */
static void
dir_invalidate(struct gw *gw, const char *name)
{
	const char	*slash;
	size_t		 i, len;

	slash = strrchr(name, '/');
	len = slash != NULL ? (size_t)(slash - name) + 1 : 0;
	gw_lock(gw);
	for (i = 0; i < GW_DIRCACHE; i++)
		if (gw->dirs[i].dir != NULL &&
		    strlen(gw->dirs[i].dir) == len &&
		    strncmp(gw->dirs[i].dir, name, len) == 0)
			dir_drop(&gw->dirs[i]);
	gw_unlock(gw);
}

void
store_list_done(struct gw *gw)
{
	gw_unlock(gw);
}

int
store_list(struct gw *gw, const char *dir, struct dsrv_file_meta ***vp,
    size_t *np, char *err, size_t errlen)
{
	struct collect	 c;
	struct gw_dir	*d;
	size_t		 i, j, oldest = 0;
	int		 rc;

	gw_lock(gw);
	if ((d = dir_cached(gw, dir)) != NULL) {
		*vp = d->v;
		*np = d->n;
		return (WIRE_E_OK);
	}
	gw_unlock(gw);
	memset(&c, 0, sizeof(c));
	c.dir = dir;
	c.dirlen = strlen(dir);
	err[0] = '\0';
	rc = dsrv_match(gw->pool, dir, MATCH_PARALLEL, collect_cb, &c, err,
	    errlen);
	if (c.nomem) {
		(void)snprintf(err, errlen, "out of memory");
		rc = -1;
	}
	if (rc != WIRE_E_OK) {
		if (err[0] == '\0')
			(void)snprintf(err, errlen, "listing %s failed", dir);
		dsrv_versions_free(c.v, c.n);
		return (rc);
	}
	/* Keep the newest version of each name. */
	if (c.n > 0)
		qsort(c.v, c.n, sizeof(*c.v), dsrv_meta_name_cmp);
	for (i = j = 0; i < c.n; i++) {
		if (j > 0 && strcmp(c.v[j - 1]->name, c.v[i]->name) == 0)
			dsrv_meta_free(c.v[i]);
		else
			c.v[j++] = c.v[i];
	}
	c.n = j;

	/* Another thread may have listed dir meanwhile: replace it. */
	gw_lock(gw);
	if ((d = dir_cached(gw, dir)) != NULL)
		dir_drop(d);
	for (i = 0; i < GW_DIRCACHE; i++) {
		if (gw->dirs[i].dir == NULL) {
			oldest = i;
			break;
		}
		if (gw->dirs[i].at < gw->dirs[oldest].at)
			oldest = i;
	}
	d = &gw->dirs[oldest];
	dir_drop(d);
	if ((d->dir = strdup(dir)) == NULL) {
		gw_unlock(gw);
		dsrv_versions_free(c.v, c.n);
		(void)snprintf(err, errlen, "out of memory");
		return (-1);
	}
	d->v = c.v;
	d->n = c.n;
	d->at = time(NULL);
	*vp = d->v;
	*np = d->n;
	return (WIRE_E_OK);
}

int
store_find(struct gw *gw, const char *name, struct dsrv_file_meta **mp,
    char *err, size_t errlen)
{
	struct gw_dir	*d;
	const char	*slash;
	char		 dir[1024];
	size_t		 i, len;
	int		 rc;

	*mp = NULL;
	slash = strrchr(name, '/');
	len = slash != NULL ? (size_t)(slash - name) + 1 : 0;
	gw_lock(gw);
	if (len < sizeof(dir)) {
		memcpy(dir, name, len);
		dir[len] = '\0';
		if ((d = dir_cached(gw, dir)) != NULL) {
			for (i = 0; i < d->n; i++)
				if (strcmp(d->v[i]->name, name) == 0)
					break;
			if (i == d->n) {
				gw_unlock(gw);
				(void)snprintf(err, errlen, "%s: no such file",
				    name);
				return (WIRE_E_NOTFOUND);
			}
			*mp = dsrv_meta_copy(d->v[i]);
			goto copied;
		}
	}
	for (i = 0; i < GW_METACACHE; i++) {
		if (gw->metas[i].m == NULL ||
		    strcmp(gw->metas[i].m->name, name) != 0)
			continue;
		gw->metas[i].used = ++gw->tick;
		*mp = dsrv_meta_copy(gw->metas[i].m);
		goto copied;
	}
	gw_unlock(gw);
	rc = dsrv_file_find(gw->pool, name, mp, err, errlen);
	if (rc != WIRE_E_OK)
		return (rc);
	gw_lock(gw);
	rc = meta_keep(gw, *mp);
	gw_unlock(gw);
	if (rc == -1) {
		dsrv_meta_free(*mp);
		*mp = NULL;
		(void)snprintf(err, errlen, "out of memory");
		return (-1);
	}
	return (WIRE_E_OK);

 copied:
	gw_unlock(gw);
	if (*mp == NULL) {
		(void)snprintf(err, errlen, "out of memory");
		return (-1);
	}
	return (WIRE_E_OK);
}

/*
 * Keep the metadata of an object restic named by its content (not
 * config, which another writer could store again with other bytes):
 * a restore asks for the same pack range after range.  Under gw->mtx.
 */
static int
meta_keep(struct gw *gw, const struct dsrv_file_meta *m)
{
	struct gw_meta	*slot = NULL;
	const char	*base;
	size_t		 i;

	base = strrchr(m->name, '/');
	base = base != NULL ? base + 1 : m->name;
	if (strlen(base) != GW_ID_LEN ||
	    strspn(base, "0123456789abcdef") != GW_ID_LEN)
		return (0);
	for (i = 0; i < GW_METACACHE; i++) {
		if (gw->metas[i].m == NULL) {
			slot = &gw->metas[i];
			break;
		}
		if (slot == NULL || gw->metas[i].used < slot->used)
			slot = &gw->metas[i];
	}
	dsrv_meta_free(slot->m);
	slot->used = ++gw->tick;
	if ((slot->m = dsrv_meta_copy(m)) == NULL)
		return (-1);
	return (0);
}

int
store_write(struct gw *gw, const char *name, struct evbuffer *body,
    const uint8_t sha256[32], uint32_t crc, char *err, size_t errlen)
{
	struct dsrv_xfer_opts	 xo;
	struct dsrv_xfer_stats	 xs;
	struct dsrv_writer	*w;
	struct evbuffer_ptr	 pos;
	struct evbuffer_iovec	 v;
	int			 rc;

	memset(&xo, 0, sizeof(xo));
	memset(&xs, 0, sizeof(xs));
	xo.parallel = 2;	/* a pack is 2 chunks; uploads run side by side */
	xo.sha256 = 1;
	xo.sha256_known = 1;	/* body_sums, from the body in memory */
	xo.stats = &xs;
	dir_invalidate(gw, name);
	if ((w = dsrv_writer_open(gw->pool, name, evbuffer_get_length(body),
	    crc, sha256, &xo, err, errlen)) == NULL)
		return (-1);
	if (evbuffer_ptr_set(body, &pos, 0, EVBUFFER_PTR_SET) == 0) {
		while (evbuffer_peek(body, -1, &pos, &v, 1) > 0) {
			/* close says why, and writes no metadata. */
			if (dsrv_writer_write(w, v.iov_base, v.iov_len, err,
			    errlen) == -1)
				break;
			if (evbuffer_ptr_set(body, &pos, v.iov_len,
			    EVBUFFER_PTR_ADD) == -1)
				break;
		}
	}
	/* A short write makes close refuse: the length was declared. */
	rc = dsrv_writer_close(w, err, errlen);
	/* NOSPACE from a chunk is 507 to restic, not a lost connection. */
	if (rc == -1 && xs.failcode != 0)
		rc = xs.failcode;
	/* What a lookup listed meanwhile is old already. */
	dir_invalidate(gw, name);
	return (rc);
}

void
body_sums(struct evbuffer *b, uint8_t sha[32], uint32_t *crcp)
{
	struct dsrv_sha256_state	 st;
	struct evbuffer_ptr		 pos;
	struct evbuffer_iovec		 v;
	uLong				 crc;

	dsrv_sha256_init(&st);
	crc = crc32(0L, Z_NULL, 0);
	if (evbuffer_ptr_set(b, &pos, 0, EVBUFFER_PTR_SET) == 0) {
		while (evbuffer_peek(b, -1, &pos, &v, 1) > 0) {
			dsrv_sha256_update(&st, v.iov_base, v.iov_len);
			crc = crc32_z(crc, v.iov_base, v.iov_len);
			if (evbuffer_ptr_set(b, &pos, v.iov_len,
			    EVBUFFER_PTR_ADD) == -1)
				break;
		}
	}
	dsrv_sha256_final(&st, sha);
	*crcp = (uint32_t)crc;
}

/*
 * An upload named by its content: when no metadata chunk of its name
 * and crc32 exists under D's name, no version of it can exist (an
 * alternate is only taken when that name is), and one STAT says so
 * instead of a listing of every file on the server.
 */
int
store_find_upload(struct gw *gw, const char *name, uint32_t crc,
    struct dsrv_file_meta **mp, char *err, size_t errlen)
{
	char		 meta[CHUNK_NAME_MAX + 1];
	uint64_t	 len;
	uint32_t	 mcrc;
	int		 rc;

	*mp = NULL;
	dsrv_meta_name(name, crc, 0, meta);
	rc = dsrv_pool_stat(gw->pool, meta, &len, &mcrc, err, errlen);
	if (rc == WIRE_E_NOTFOUND)
		return (rc);
	return (store_find(gw, name, mp, err, errlen));
}

int
store_read_range(struct gw *gw, const struct dsrv_file_meta *m,
    uint64_t off, uint64_t len, struct evbuffer *out, char *err,
    size_t errlen)
{
	struct evbuffer_iovec	 v;
	size_t			 got = 0;
	int			 rc;

	if (off > m->length || len > m->length - off || len > GW_WINDOW) {
		(void)snprintf(err, errlen, "%s: range beyond the file",
		    m->name);
		return (WIRE_E_BADREQUEST);
	}
	if (len == 0)
		return (WIRE_E_OK);
	if (evbuffer_reserve_space(out, (ev_ssize_t)len, &v, 1) != 1 ||
	    v.iov_len < len) {
		(void)snprintf(err, errlen, "out of memory");
		return (-1);
	}
	rc = dsrv_file_read_range(gw->pool, m, off, (size_t)len, v.iov_base,
	    &got, err, errlen);
	if (rc == WIRE_E_NOTFOUND || rc == WIRE_E_CRC)
		rc = WIRE_E_CORRUPT;
	if (rc == WIRE_E_OK && got != len) {
		(void)snprintf(err, errlen, "%s: %zu bytes read of %" PRIu64,
		    m->name, got, len);
		rc = WIRE_E_CORRUPT;
	}
	v.iov_len = rc == WIRE_E_OK ? got : 0;
	if (evbuffer_commit_space(out, &v, 1) == -1 && rc == WIRE_E_OK) {
		(void)snprintf(err, errlen, "out of memory");
		rc = -1;
	}
	return (rc);
}

void
store_free(struct gw *gw)
{
	size_t	 i;

	for (i = 0; i < GW_DIRCACHE; i++)
		dir_drop(&gw->dirs[i]);
	for (i = 0; i < GW_METACACHE; i++)
		dsrv_meta_free(gw->metas[i].m);
}
