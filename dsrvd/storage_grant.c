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
 * The sessions storage serves, as crypto granted them: what network's
 * requests may do is decided here, never by network.  Crypto sends
 * each accepted session's grant (its id, the network worker it belongs
 * to, the key's name, namespace and permissions) and network hears of
 * the session only once every storage worker has acknowledged it.  A
 * request is served only within a grant this worker holds, from the
 * network worker the grant names, in the grant's namespace, for a
 * method its permissions allow.
 *
 * A grant ends when network says its connection ended, when crypto
 * withdraws one network never heard of, and with its network worker's
 * channel.  A network worker that never ends its sessions cannot grow
 * this table without bound: past GRANTS_PER_CONN times the largest
 * connection limit this process has run with, its oldest grant goes.
 * An honest network worker never has that many sessions, so the ones
 * it loses were its own to lose.
 */
#include <sys/types.h>
#include <sys/queue.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "chunkname.h"
#include "log.h"
#include "storage.h"
#include "util.h"

#define GRANTS_PER_CONN	4
#define GRANT_BUCKETS	1024		/* ids are random: low bits hash */

struct grant {
	TAILQ_ENTRY(grant)	 entry;		/* its network's, by age */
	LIST_ENTRY(grant)	 bucket;
	uint64_t		 sid;
	int			 net;
	uint32_t		 perms;
	char			 keyname[KEY_NAME_MAX + 1];
	char			 ns[NAMESPACE_MAX + 1];
};

TAILQ_HEAD(grants, grant);
LIST_HEAD(grant_bucket, grant);

static struct grant	*grant_find(uint64_t);
static void		 grant_free(struct grant *);
static const char	*grant_bad(const struct st_grant *);

static struct child_env		*env;
static struct grants		 bynet[MAX_WORKERS];
static size_t			 nbynet[MAX_WORKERS];
static struct grant_bucket	 buckets[GRANT_BUCKETS];
static unsigned int		 max_conns_seen;
static uint64_t			 nevicted;

void
st_grant_init(struct child_env *e)
{
	int	 i;

	env = e;
	for (i = 0; i < MAX_WORKERS; i++)
		TAILQ_INIT(&bynet[i]);
	for (i = 0; i < GRANT_BUCKETS; i++)
		LIST_INIT(&buckets[i]);
}

static struct grant *
grant_find(uint64_t sid)
{
	struct grant	*g;

	LIST_FOREACH(g, &buckets[sid % GRANT_BUCKETS], bucket)
		if (g->sid == sid)
			return g;
	return NULL;
}

static void
grant_free(struct grant *g)
{
	TAILQ_REMOVE(&bynet[g->net], g, entry);
	nbynet[g->net]--;
	LIST_REMOVE(g, bucket);
	free(g);
}

/* What is wrong with a grant from crypto, or NULL. */
static const char *
grant_bad(const struct st_grant *sg)
{
	const char	*errstr;

	if (sg->sid == 0)
		return "session id 0";
	if (sg->net < 0 || sg->net >= MAX_WORKERS ||
	    sg->net >= env->init.nnetwork)
		return "no such network worker";
	if (!wire_keyname_valid(sg->keyname))
		return "a bad key name";
	if (sg->ns[0] != '\0' && chunk_dir_check(sg->ns, strlen(sg->ns),
	    &errstr) == -1)
		return "a bad namespace";
	if ((sg->perms & ~(uint32_t)KEY_PERM_ALL) != 0)
		return "unknown permissions";
	if (grant_find(sg->sid) != NULL)
		return "a session id granted before";
	return NULL;
}

/* IMSG_ST_GRANT: hold it, then say so. */
void
st_grant_dispatch_add(struct imsgev *iev, struct imsg *imsg)
{
	struct st_grant	 sg;
	struct st_sid	 ack;
	struct grant	*g, *old;
	const char	*bad;
	size_t		 limit;

	if (st_grant_get(imsg, &sg) == -1)
		msg_bad(iev, imsg, __func__);
	if ((bad = grant_bad(&sg)) != NULL)
		fatalx("%s sent %s with %s", iev->name,
		    imsg_name(imsg->hdr.type), bad);

	if (env->conf != NULL && env->conf->max_conns > max_conns_seen)
		max_conns_seen = env->conf->max_conns;
	limit = (size_t)GRANTS_PER_CONN * (max_conns_seen != 0 ?
	    max_conns_seen : DEF_MAX_CONNS);
	while (nbynet[sg.net] >= limit) {
		old = TAILQ_FIRST(&bynet[sg.net]);
		log_warnx("network[%d] holds %zu sessions, the most allowed: "
		    "forgot the oldest, %016llx of key %s", sg.net,
		    nbynet[sg.net], (unsigned long long)old->sid,
		    old->keyname);
		grant_free(old);
		nevicted++;
	}

	if ((g = calloc(1, sizeof(*g))) == NULL)
		fatal("%s", __func__);
	g->sid = sg.sid;
	g->net = sg.net;
	g->perms = sg.perms;
	(void)strlcpy(g->keyname, sg.keyname, sizeof(g->keyname));
	(void)strlcpy(g->ns, sg.ns, sizeof(g->ns));
	TAILQ_INSERT_TAIL(&bynet[g->net], g, entry);
	nbynet[g->net]++;
	LIST_INSERT_HEAD(&buckets[g->sid % GRANT_BUCKETS], g, bucket);
	log_debug("session %016llx of network[%d], key %s: granted",
	    (unsigned long long)g->sid, g->net, g->keyname);

	memset(&ack, 0, sizeof(ack));
	ack.sid = sg.sid;
	if (proc_compose(PROC_CRYPTO, -1, IMSG_ST_GRANT_ACK, 0, -1, &ack,
	    sizeof(ack)) == -1)
		log_debug("%s: crypto is gone", __func__);
}

/*
 * IMSG_ST_SESSION_END, from network (its connection ended) or from
 * crypto (a grant withdrawn).  One this worker does not hold was
 * evicted; a network worker ending another's session is forging.
 */
void
st_grant_dispatch_end(struct imsgev *iev, struct imsg *imsg)
{
	struct st_sid	 s;
	struct grant	*g;

	if (st_sid_get(imsg, &s) == -1)
		msg_bad(iev, imsg, __func__);
	if ((g = grant_find(s.sid)) == NULL) {
		log_debug("%s ended session %016llx, which is not held",
		    iev->name, (unsigned long long)s.sid);
		return;
	}
	if (iev->kind == PROC_NETWORK && g->net != (int)iev->id)
		fatalx("%s sent %s for session %016llx of network[%d]",
		    iev->name, imsg_name(imsg->hdr.type),
		    (unsigned long long)s.sid, g->net);
	log_debug("session %016llx of network[%d], key %s: ended",
	    (unsigned long long)g->sid, g->net, g->keyname);
	grant_free(g);
}

/* A network worker's channel closed: its sessions are over. */
void
st_grant_net_gone(int net)
{
	struct grant	*g;
	size_t		 n = 0;

	if (net < 0 || net >= MAX_WORKERS)
		return;
	while ((g = TAILQ_FIRST(&bynet[net])) != NULL) {
		grant_free(g);
		n++;
	}
	log_debug("network[%d] is gone: %zu session(s) forgotten", net, n);
}

/*
 * May network worker net make this request?  The session must be one
 * this worker holds, of that network worker, the request's namespace
 * the grant's and its method, on its chunk, one the key's permissions
 * allow (key_perm_ok: a meta-only key reads in index/ and nowhere
 * else).  The grant, or NULL and why not.
 */
const struct grant *
st_grant_check(int net, const struct st_req *req, const char **why)
{
	static char	 buf[256];
	struct grant	*g;
	char		 ns[NAMESPACE_MAX * 4 + 1];

	*why = buf;
	if ((g = grant_find(req->sid)) == NULL || req->sid == 0) {
		(void)snprintf(buf, sizeof(buf), "session %016llx, which "
		    "storage does not hold", (unsigned long long)req->sid);
		return NULL;
	}
	if (g->net != net) {
		(void)snprintf(buf, sizeof(buf), "session %016llx of "
		    "network[%d]", (unsigned long long)req->sid, g->net);
		return NULL;
	}
	if (strcmp(req->ns, g->ns) != 0) {
		dsrv_vis(ns, sizeof(ns), req->ns);
		(void)snprintf(buf, sizeof(buf), "namespace \"%s\" for a "
		    "session in \"%s\"", ns, g->ns);
		return NULL;
	}
	if (!key_perm_ok(g->perms, req->method, req->name,
	    strnlen(req->name, sizeof(req->name)))) {
		(void)snprintf(buf, sizeof(buf), "method %s for key %s, "
		    "which may not", wire_method_name(req->method),
		    g->keyname);
		return NULL;
	}
	*why = NULL;
	return g;
}

const char *
st_grant_keyname(const struct grant *g)
{
	return g->keyname;
}

/* For dctl status: the grants held now, and those evicted so far. */
void
st_grant_counts(uint64_t *held, uint64_t *evicted)
{
	int	 i;

	*held = 0;
	for (i = 0; i < MAX_WORKERS; i++)
		*held += nbynet[i];
	*evicted = nevicted;
}
