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
 * restic's REST backend protocol, versions 1 and 2, on top of
 * restic_store.c.  A path is a repository (any depth, maybe none)
 * followed by "config", "TYPE/" (a listing) or "TYPE/ID"; POST with
 * ?create=true creates a repository, which needs nothing stored: a
 * repository exists once its config does.  Every object is the dsrvd
 * file PREFIX/REPO/TYPE/ID (PREFIX/REPO/config), written once: an
 * identical upload again succeeds, other bytes under a taken name and
 * every DELETE but a lock's are refused with 403, as rest-server
 * --append-only answers.
 */
#include <sys/types.h>
#include <sys/queue.h>

#include <ctype.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>

#include "dctl.h"
#include "dsrvfile.h"
#include "log.h"
#include "serve.h"
#include "sha256.h"
#include "util.h"
#include "wire.h"

#define NAME_LEN	1024
#define MIME_V1		"application/vnd.x.restic.rest.v1"
#define MIME_V2		"application/vnd.x.restic.rest.v2"

enum rkind { K_CREATE, K_CONFIG, K_LIST, K_OBJECT };
/* The type as restic_keep.c has it: NULL for config. */
#define OBJTYPE(rr)	((rr)->kind == K_CONFIG ? NULL : (rr)->type)

struct rreq {
	struct evhttp_request	*req;
	struct gw		*gw;
	enum evhttp_cmd_type	 method;
	const char		*path;
	enum rkind		 kind;
	const char		*type;	/* a listing's or an object's */
	char			 id[GW_ID_LEN + 1];
	char			 name[NAME_LEN];	/* the dsrvd file */
	char			 dir[NAME_LEN];	/* a listing's, with '/' */
	int			 status;	/* for the log */
};

static const char *const types[] = {
	"data", "keys", "locks", "snapshots", "index"
};

static const char *method_str(enum evhttp_cmd_type);
static const char *type_of(const char *, size_t);
static int	 is_id(const char *, size_t);
static int	 join(char *, size_t, const char *, const char *, size_t,
		    const char *);
static int	 route(struct rreq *, const char *query);
static void	 reply(struct rreq *, int, const char *, struct evbuffer *);
static void	 reply_code(struct rreq *, int, const char *);
static void	 answer(struct rreq *, const struct dsrv_file_meta *,
		    struct evbuffer *);
static void	 do_list(struct rreq *);
static void	 do_get(struct rreq *);
static int	 kept(struct rreq *, struct evbuffer *);
static void	 do_post(struct rreq *);
static void	 do_lock(struct rreq *);

static const char *
method_str(enum evhttp_cmd_type m)
{
	switch (m) {
	case EVHTTP_REQ_GET:
		return ("GET");
	case EVHTTP_REQ_POST:
		return ("POST");
	case EVHTTP_REQ_HEAD:
		return ("HEAD");
	case EVHTTP_REQ_DELETE:
		return ("DELETE");
	case EVHTTP_REQ_PUT:
		return ("PUT");
	default:
		return ("other");
	}
}

static const char *
type_of(const char *s, size_t len)
{
	size_t	 i;

	for (i = 0; i < sizeof(types) / sizeof(types[0]); i++)
		if (strlen(types[i]) == len && strncmp(s, types[i], len) == 0)
			return (types[i]);
	return (NULL);
}

/* restic names every object but config by its SHA-256, in lowercase hex. */
static int
is_id(const char *s, size_t len)
{
	size_t	 i;

	if (len != GW_ID_LEN)
		return (0);
	for (i = 0; i < len; i++)
		if (!isdigit((unsigned char)s[i]) &&
		    (s[i] < 'a' || s[i] > 'f'))
			return (0);
	return (1);
}

/* prefix, the repository (rlen bytes of repo) and tail, joined by '/'. */
static int
join(char *out, size_t outsz, const char *prefix, const char *repo,
    size_t rlen, const char *tail)
{
	int	 n;

	n = snprintf(out, outsz, "%s%s%.*s%s%s", prefix,
	    prefix[0] != '\0' && rlen > 0 ? "/" : "", (int)rlen, repo,
	    prefix[0] != '\0' || rlen > 0 ? "/" : "", tail);
	return (n < 0 || (size_t)n >= outsz ? -1 : 0);
}

/*
 * The kind of request and the dsrvd names from the path.  An HTTP
 * status when the path is none of restic's, else 0.
 */
static int
route(struct rreq *rr, const char *query)
{
	const char	*p = rr->path, *seg[64], *last, *repo;
	size_t		 len, seglen[64], nseg = 0, i, rlen;
	int		 trailing;

	len = strlen(p);
	if (len == 0 || p[0] != '/')
		return (400);
	for (i = 0; i < len; i++)
		if (!isalnum((unsigned char)p[i]) && strchr("/._-", p[i]) ==
		    NULL)
			return (400);
	trailing = len > 1 && p[len - 1] == '/';
	for (i = 1; i < len; ) {
		size_t	 j = i;

		while (j < len && p[j] != '/')
			j++;
		if (j == i && j < len)
			return (400);		/* "//" */
		if (j > i) {
			if (nseg == sizeof(seg) / sizeof(seg[0]))
				return (400);
			if ((j - i == 1 && p[i] == '.') ||
			    (j - i == 2 && p[i] == '.' && p[i + 1] == '.'))
				return (400);
			seg[nseg] = p + i;
			seglen[nseg++] = j - i;
		}
		i = j + 1;
	}
	repo = nseg > 0 ? seg[0] : "";

	if (query != NULL && strstr(query, "create=true") != NULL) {
		rr->kind = K_CREATE;
		return (0);
	}
	if (nseg == 0)
		return (404);
	last = seg[nseg - 1];
	if (!trailing && seglen[nseg - 1] == 6 &&
	    strncmp(last, "config", 6) == 0) {
		rr->kind = K_CONFIG;
		rlen = nseg > 1 ? (size_t)(seg[nseg - 2] + seglen[nseg - 2] -
		    repo) : 0;
		if (join(rr->name, sizeof(rr->name), rr->gw->prefix, repo,
		    rlen, "config") == -1)
			return (400);
		return (0);
	}
	if (trailing && (rr->type = type_of(last, seglen[nseg - 1])) !=
	    NULL) {
		rr->kind = K_LIST;
		rlen = nseg > 1 ? (size_t)(seg[nseg - 2] + seglen[nseg - 2] -
		    repo) : 0;
		if (join(rr->dir, sizeof(rr->dir), rr->gw->prefix, repo,
		    rlen, rr->type) == -1 ||
		    strlcat(rr->dir, "/", sizeof(rr->dir)) >= sizeof(rr->dir))
			return (400);
		return (0);
	}
	if (trailing || nseg < 2 ||
	    (rr->type = type_of(seg[nseg - 2], seglen[nseg - 2])) == NULL)
		return (404);
	if (!is_id(last, seglen[nseg - 1]))
		return (rr->method == EVHTTP_REQ_POST ? 400 : 404);
	memcpy(rr->id, last, GW_ID_LEN);
	rr->id[GW_ID_LEN] = '\0';
	rr->kind = K_OBJECT;
	rlen = nseg > 2 ? (size_t)(seg[nseg - 3] + seglen[nseg - 3] - repo) :
	    0;
	if (join(rr->name, sizeof(rr->name), rr->gw->prefix, repo, rlen,
	    rr->type) == -1 ||
	    strlcat(rr->name, "/", sizeof(rr->name)) >= sizeof(rr->name) ||
	    strlcat(rr->name, rr->id, sizeof(rr->name)) >= sizeof(rr->name))
		return (400);
	return (0);
}

/* An answer; body NULL for none, or an error page for codes >= 400. */
static void
reply(struct rreq *rr, int code, const char *reason, struct evbuffer *body)
{
	rr->status = code;
	if (code >= 400 && body == NULL) {
		evhttp_send_error(rr->req, code, reason);
		return;
	}
	evhttp_send_reply(rr->req, code, reason, body);
}

/*
 * A failure of the store, as a status restic can act on: 503 when
 * dsrvd cannot be reached (restic retries), 507 when it is full, 500
 * for corrupt data, with a log line for each.
 */
static void
reply_code(struct rreq *rr, int code, const char *err)
{
	switch (code) {
	case WIRE_E_NOTFOUND:
		reply(rr, 404, "Not Found", NULL);
		break;
	case WIRE_E_NOSPACE:
		log_warnx("%s %s: dsrvd is full: %s", method_str(rr->method),
		    rr->path, err);
		reply(rr, 507, "Insufficient Storage", NULL);
		break;
	case WIRE_E_CORRUPT:
	case WIRE_E_CRC:
		log_warnx("%s %s: corrupt: %s", method_str(rr->method),
		    rr->path, err);
		reply(rr, 500, "Internal Server Error", NULL);
		break;
	case WIRE_E_PERM:
		/* restic reads these before a backup: say what helps. */
		log_warnx("%s %s: refused by dsrvd: %s%s",
		    method_str(rr->method), rr->path, err,
		    rr->method == EVHTTP_REQ_GET && rr->gw->keep == NULL &&
		    (rr->kind == K_CONFIG || (rr->kind == K_OBJECT &&
		    strcmp(rr->type, "data") != 0)) ? " (without the read "
		    "permission, back up through --keep)" : "");
		reply(rr, 403, "Forbidden", NULL);
		break;
	case -1:
	case WIRE_E_UNAVAILABLE:
	case WIRE_E_BUSY:
	case WIRE_E_IO:
		log_warnx("%s %s: dsrvd at %s unavailable: %s",
		    method_str(rr->method), rr->path, rr->gw->peer, err);
		reply(rr, 503, "Service Unavailable", NULL);
		break;
	default:
		log_warnx("%s %s: %s", method_str(rr->method), rr->path, err);
		reply(rr, 500, "Internal Server Error", NULL);
		break;
	}
}

/* HEAD or GET of m; body, unless NULL, holds all of it already. */
static void
answer(struct rreq *rr, const struct dsrv_file_meta *m, struct evbuffer *body)
{
	char	 err[DSRV_CLIENT_ERRLEN];
	int	 code;

	if ((code = serve_meta(rr->gw, rr->req, rr->method == EVHTTP_REQ_HEAD,
	    m, body, &rr->status, err, sizeof(err))) != WIRE_E_OK)
		reply_code(rr, code, err);
}

/* GET TYPE/: a JSON array of names (v1) or of names and sizes (v2). */
static void
do_list(struct rreq *rr)
{
	struct dsrv_file_meta	**v;
	struct evbuffer		 *body;
	const char		 *accept, *base;
	char			  err[DSRV_CLIENT_ERRLEN];
	size_t			  n = 0, i, dlen = strlen(rr->dir);
	int			  v2, code, first = 1, bad = 0;

	if (rr->method != EVHTTP_REQ_GET && rr->method != EVHTTP_REQ_HEAD) {
		reply(rr, 405, "Method Not Allowed", NULL);
		return;
	}
	accept = evhttp_find_header(evhttp_request_get_input_headers(rr->req),
	    "Accept");
	v2 = accept != NULL && strstr(accept, MIME_V2) != NULL;
	if (strcmp(rr->type, "locks") != 0 && (code = store_list(rr->gw,
	    rr->dir, &v, &n, err, sizeof(err))) != WIRE_E_OK) {
		reply_code(rr, code, err);
		return;
	}
	if ((body = evbuffer_new()) == NULL) {
		if (strcmp(rr->type, "locks") != 0)
			store_list_done(rr->gw);
		reply(rr, 500, "Internal Server Error", NULL);
		return;
	}
	bad |= evbuffer_add(body, "[", 1);
	if (strcmp(rr->type, "locks") == 0)
		bad |= locks_list(rr->gw->locks, rr->dir, v2, body) == -1;
	else {
		for (i = 0; i < n; i++) {
			/* Only restic's names: nothing to escape in JSON. */
			base = v[i]->name + dlen;
			if (!is_id(base, strlen(base)))
				continue;
			bad |= v2 ? evbuffer_add_printf(body, "%s{\"name\":"
			    "\"%s\",\"size\":%" PRIu64 "}", first ? "" : ",",
			    base, v[i]->length) < 0 :
			    evbuffer_add_printf(body, "%s\"%s\"",
			    first ? "" : ",", base) < 0;
			first = 0;
		}
	}
	if (strcmp(rr->type, "locks") != 0)
		store_list_done(rr->gw);
	bad |= evbuffer_add(body, "]", 1);
	if (bad) {
		evbuffer_free(body);
		reply(rr, 500, "Internal Server Error", NULL);
		return;
	}
	(void)evhttp_add_header(evhttp_request_get_output_headers(rr->req),
	    "Content-Type", v2 ? MIME_V2 : MIME_V1);
	reply(rr, 200, "OK", body);
	evbuffer_free(body);
}

/* HEAD and GET of config or an object. */
static void
do_get(struct rreq *rr)
{
	struct dsrv_file_meta	*m;
	struct evbuffer		*body = NULL;
	char			 err[DSRV_CLIENT_ERRLEN];
	int			 code;

	if ((code = store_find(rr->gw, rr->name, &m, err, sizeof(err))) !=
	    WIRE_E_OK) {
		reply_code(rr, code, err);
		return;
	}
	/* --keep: read whole, kept, or from the copy when dsrvd refuses. */
	if (rr->method == EVHTTP_REQ_GET && keep_wanted(rr->gw, OBJTYPE(rr),
	    m->length)) {
		if ((body = evbuffer_new()) == NULL)
			code = -1;
		else
			code = keep_read(rr->gw, m, body, err, sizeof(err));
	}
	if (code == WIRE_E_OK)
		answer(rr, m, body);
	else
		reply_code(rr, code, body != NULL ? err : "out of memory");
	if (body != NULL)
		evbuffer_free(body);
	dsrv_meta_free(m);
}

/*
 * An object stored is copied with --keep, or restic hears of it (500):
 * without the copy, a key that may not read could not back up again.
 */
static int
kept(struct rreq *rr, struct evbuffer *body)
{
	char	 err[DSRV_CLIENT_ERRLEN];

	if (keep_store(rr->gw, OBJTYPE(rr), rr->name, body, err,
	    sizeof(err)) == 0)
		return (0);
	log_warnx("POST %s: stored, but %s", rr->path, err);
	reply(rr, 500, "Internal Server Error", NULL);
	return (-1);
}

/*
 * POST of config or an object: verified against its name (but config),
 * then stored unless it is there already.
 */
static void
do_post(struct rreq *rr)
{
	struct evbuffer		*body = evhttp_request_get_input_buffer(rr->req);
	struct dsrv_file_meta	*m;
	uint8_t			 sha[32];
	char			 hex[GW_ID_LEN + 1], err[DSRV_CLIENT_ERRLEN];
	size_t			 len = evbuffer_get_length(body);
	uint32_t		 crc;
	int			 code;

	body_sums(body, sha, &crc);
	if (rr->kind == K_OBJECT) {
		(void)sodium_bin2hex(hex, sizeof(hex), sha, sizeof(sha));
		if (strcmp(hex, rr->id) != 0) {
			GW_COUNT(rr->gw, bad_hash, 1);
			log_warnx("POST %s: refused, the body's SHA-256 is "
			    "%s", rr->path, hex);
			reply(rr, 400, "Bad Request", NULL);
			return;
		}
	}
	if (rr->kind == K_OBJECT)
		code = store_find_upload(rr->gw, rr->name, crc, &m, err,
		    sizeof(err));
	else
		code = store_find(rr->gw, rr->name, &m, err, sizeof(err));
	if (code == WIRE_E_OK) {
		if (m->has_sha256 && m->length == len &&
		    memcmp(m->sha256, sha, sizeof(sha)) == 0) {
			GW_COUNT(rr->gw, identical, 1);
			if (kept(rr, body) == 0)
				reply(rr, 200, "OK", NULL);
		} else {
			GW_COUNT(rr->gw, refused_writes, 1);
			log_warnx("POST %s: refused, %s holds other bytes "
			    "(write once)", rr->path, rr->name);
			reply(rr, 403, "Forbidden", NULL);
		}
		dsrv_meta_free(m);
		return;
	}
	if (code != WIRE_E_NOTFOUND) {
		reply_code(rr, code, err);
		return;
	}
	if ((code = store_write(rr->gw, rr->name, body, sha, crc, err,
	    sizeof(err))) != WIRE_E_OK) {
		reply_code(rr, code, err);
		return;
	}
	GW_COUNT(rr->gw, stored, 1);
	GW_COUNT(rr->gw, stored_bytes, len);
	log_debug("stored %s, %zu bytes", rr->name, len);
	if (kept(rr, body) == 0)
		reply(rr, 200, "OK", NULL);
}

/* Locks: advisory, in restic_lock.c, the one thing DELETE removes. */
static void
do_lock(struct rreq *rr)
{
	struct evbuffer		*body;
	struct dsrv_file_meta	 m;
	uint8_t			 sha[32];
	char			 hex[GW_ID_LEN + 1], err[512];
	size_t			 len;
	uint32_t		 crc;
	int			 r;

	switch (rr->method) {
	case EVHTTP_REQ_POST:
		body = evhttp_request_get_input_buffer(rr->req);
		if ((len = evbuffer_get_length(body)) > GW_LOCK_MAX) {
			log_warnx("POST %s: refused, %zu bytes, a lock has at "
			    "most %d", rr->path, len, GW_LOCK_MAX);
			reply(rr, 413, "Payload Too Large", NULL);
			return;
		}
		body_sums(body, sha, &crc);
		(void)sodium_bin2hex(hex, sizeof(hex), sha, sizeof(sha));
		if (strcmp(hex, rr->id) != 0) {
			GW_COUNT(rr->gw, bad_hash, 1);
			reply(rr, 400, "Bad Request", NULL);
			return;
		}
		if (locks_add(rr->gw->locks, rr->name, body, err,
		    sizeof(err)) == -1) {
			log_warnx("POST %s: %s", rr->path, err);
			reply(rr, 500, "Internal Server Error", NULL);
			return;
		}
		GW_COUNT(rr->gw, locks, 1);
		reply(rr, 200, "OK", NULL);
		return;
	case EVHTTP_REQ_DELETE:
		if (locks_del(rr->gw->locks, rr->name) == 0)
			reply(rr, 404, "Not Found", NULL);
		else
			reply(rr, 200, "OK", NULL);
		return;
	case EVHTTP_REQ_GET:
	case EVHTTP_REQ_HEAD:
		body = NULL;
		if (rr->method == EVHTTP_REQ_GET &&
		    (body = evbuffer_new()) == NULL) {
			reply(rr, 500, "Internal Server Error", NULL);
			return;
		}
		if ((r = locks_get(rr->gw->locks, rr->name, body, &len)) !=
		    1) {
			if (body != NULL)
				evbuffer_free(body);
			reply(rr, r == 0 ? 404 : 500, r == 0 ? "Not Found" :
			    "Internal Server Error", NULL);
			return;
		}
		if (body != NULL) {
			(void)evhttp_add_header(
			    evhttp_request_get_output_headers(rr->req),
			    "Content-Type", GW_MIME_DATA);
			reply(rr, 200, "OK", body);
			evbuffer_free(body);
			return;
		}
		/* HEAD: only the length matters; answer says it. */
		memset(&m, 0, sizeof(m));
		m.name = rr->name;
		m.length = len;
		answer(rr, &m, NULL);
		return;
	default:
		reply(rr, 405, "Method Not Allowed", NULL);
		return;
	}
}

void
restic_request(struct evhttp_request *req, void *arg)
{
	struct rreq		 rr;
	const struct evhttp_uri	*uri;
	const char		*auth, *p;
	char			 path[2048], *vis;
	int			 code;

	memset(&rr, 0, sizeof(rr));
	rr.req = req;
	rr.gw = arg;
	rr.method = evhttp_request_get_command(req);
	GW_COUNT(rr.gw, requests, 1);
	uri = evhttp_request_get_evhttp_uri(req);
	p = uri != NULL ? evhttp_uri_get_path(uri) : NULL;
	/* Our copy: a reply may free the request, and the log comes after. */
	if (strlcpy(path, p != NULL ? p : "", sizeof(path)) >= sizeof(path)) {
		rr.path = "(too long)";
		reply(&rr, 414, "URI Too Long", NULL);
		goto done;
	}
	rr.path = path;

	if (rr.gw->auth != NULL) {
		auth = evhttp_find_header(evhttp_request_get_input_headers(req),
		    "Authorization");
		if (auth == NULL || !htpasswd_check(rr.gw->auth, auth)) {
			(void)evhttp_add_header(
			    evhttp_request_get_output_headers(req),
			    "WWW-Authenticate", "Basic realm=\"restic\"");
			reply(&rr, 401, "Unauthorized", NULL);
			goto done;
		}
	}
	if ((code = route(&rr, uri != NULL ? evhttp_uri_get_query(uri) :
	    NULL)) != 0) {
		reply(&rr, code, code == 404 ? "Not Found" : "Bad Request",
		    NULL);
		goto done;
	}

	switch (rr.kind) {
	case K_CREATE:
		if (rr.method != EVHTTP_REQ_POST)
			reply(&rr, 405, "Method Not Allowed", NULL);
		else
			reply(&rr, 200, "OK", NULL);
		break;
	case K_LIST:
		do_list(&rr);
		break;
	case K_CONFIG:
	case K_OBJECT:
		if (rr.kind == K_OBJECT && strcmp(rr.type, "locks") == 0) {
			do_lock(&rr);
			break;
		}
		if (rr.method == EVHTTP_REQ_GET ||
		    rr.method == EVHTTP_REQ_HEAD)
			do_get(&rr);
		else if (rr.method == EVHTTP_REQ_POST)
			do_post(&rr);
		else if (rr.method == EVHTTP_REQ_DELETE) {
			GW_COUNT(rr.gw, refused_deletes, 1);
			log_info("DELETE %s refused: %s is written once",
			    rr.path, rr.name);
			reply(&rr, 403, "Forbidden", NULL);
		} else
			reply(&rr, 405, "Method Not Allowed", NULL);
		break;
	}
 done:
	/*
	 * The path is the client's: escaped, it may not have passed route.
	 * dsrv_avis, not printable: its buffers are shared by the threads.
	 */
	if ((vis = dsrv_avis(rr.path)) == NULL)
		return;
	log_debug("%s %s: %d", method_str(rr.method), vis, rr.status);
	free(vis);
}
