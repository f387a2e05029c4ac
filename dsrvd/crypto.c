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
 * The crypto process: the only process that ever holds the pre-shared
 * keys.  For each handshake a network worker forwards the client's
 * HELLO and FINISH; crypto answers with the CHALLENGE, checks the
 * client's proof and hands back only what the session needs: the two
 * derived direction keys, the server's proof and the key's rights.  It
 * never sees chunk data.
 *
 * An accepted session gets a random id, and its grant (the network
 * worker it belongs to, the key's name, namespace and permissions) goes
 * to every storage worker first: storage serves network's requests
 * only within a grant it has from here.  Network hears HS_OK with the
 * id once every storage worker has acknowledged the grant, so no
 * request can reach a worker before its grant does.
 *
 * Peers, as the table below says: the parent (the keys, in the
 * configuration series), every network worker (handshakes) and every
 * storage worker (grants and their acknowledgements).
 */
#include <sys/types.h>
#include <sys/mman.h>
#include <sys/queue.h>

#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#include "dsrvd.h"
#include "log.h"
#include "sandbox.h"

/*
 * A handshake between CHALLENGE and FINISH, then an accepted one while
 * its grant is out with the storage workers.
 */
struct hs {
	TAILQ_ENTRY(hs)	 entry;
	int		 net;			/* network instance */
	uint32_t	 connid;
	int		 unknown;		/* dummy key in use */
	uint64_t	 sid;			/* accepted: the grant's */
	uint32_t	 granted;		/* storage workers told */
	uint32_t	 acks;			/* those yet to acknowledge */
	int		 aborted;		/* network gave up meanwhile */
	struct hs_ok	 ok;			/* for network, once acked */
	uint8_t		 key[WIRE_KEY_LEN];
	uint8_t		 h[WIRE_HASH_LEN];
	uint32_t	 perms;
	char		 keyname[KEY_NAME_MAX + 1];
	char		 ns[NAMESPACE_MAX + 1];
	char		 peer[128];
};

static void	 crypto_start(struct child_env *);
static void	 crypto_conf_apply(struct child_env *, struct dsrvd_conf *);
static size_t	 crypto_stats(struct child_env *, struct ctl_counter *, size_t);
static void	 crypto_dispatch_hello(struct imsgev *, struct imsg *);
static void	 crypto_dispatch_finish(struct imsgev *, struct imsg *);
static void	 crypto_dispatch_abort(struct imsgev *, struct imsg *);
static void	 crypto_dispatch_grant_ack(struct imsgev *, struct imsg *);
static void	 crypto_peer_gone(struct child_env *, struct imsgev *);
static void	 crypto_grant(struct hs *);
static void	 crypto_granted(struct hs *);
static void	 crypto_end(struct hs *);
static struct hs *hs_find(int, uint32_t);
static void	 hs_free(struct hs *);

static const struct proc_msg crypto_msgs[] = {
	{ PROC_PARENT, IMSG_CONF_KEY, PROC_NOFD, config_dispatch_key },
	{ PROC_NETWORK, IMSG_HS_HELLO, PROC_NOFD, crypto_dispatch_hello },
	{ PROC_NETWORK, IMSG_HS_FINISH, PROC_NOFD, crypto_dispatch_finish },
	{ PROC_NETWORK, IMSG_HS_ABORT, PROC_NOFD, crypto_dispatch_abort },
	{ PROC_STORAGE, IMSG_ST_GRANT_ACK, PROC_NOFD,
	    crypto_dispatch_grant_ack },
};

/*
 * The sandbox: the keys can go nowhere.  No file system, no socket,
 * no file it could grow; randomness for the handshakes and locking
 * the keys out of swap are all it does besides talking to its peers.
 */
static const struct proc_syscall crypto_syscalls[] = {
	SYSCALL("getrandom"),
	SYSCALL("mlock"),
	SYSCALL("munlock"),
};

static const struct proc_sandbox crypto_sandbox = {
	.syscalls = crypto_syscalls,
	.nsyscalls = sizeof(crypto_syscalls) / sizeof(crypto_syscalls[0]),
	.nofile = 32 + 2 * MAX_WORKERS,	/* network and storage channels */
	.fsize = 0,
};

const struct proc_def crypto_proc = {
	.role = PROC_CRYPTO,
	.name = "crypto",
	.msgs = crypto_msgs,
	.nmsgs = sizeof(crypto_msgs) / sizeof(crypto_msgs[0]),
	.start = crypto_start,
	.sandbox = &crypto_sandbox,
};

static TAILQ_HEAD(, hs)	 handshakes = TAILQ_HEAD_INITIALIZER(handshakes);
static struct child_env	*env;
static size_t		 nhandshakes;
static uint64_t		 keys_loaded;

static void
crypto_start(struct child_env *e)
{
	env = e;
	if (sodium_init() == -1)
		fatalx("sodium_init failed");
	env->conf_apply = crypto_conf_apply;
	env->stats = crypto_stats;
	env->peer_gone = crypto_peer_gone;
}

/*
 * The old configuration's keys are wiped by config_free() right after
 * this call; the new ones are kept out of swap.  Handshakes in flight
 * keep their own copy of the key they started with.
 */
static void
crypto_conf_apply(struct child_env *e, struct dsrvd_conf *old)
{
	struct conf_key	*k;

	keys_loaded = 0;
	TAILQ_FOREACH(k, &env->conf->keys, entry) {
		if (mlock(k, sizeof(*k)) == -1)
			log_debug("mlock key %s failed, continuing", k->name);
		keys_loaded++;
	}
	log_debug("%llu key(s) loaded", (unsigned long long)keys_loaded);
}

static size_t
crypto_stats(struct child_env *e, struct ctl_counter *cc, size_t max)
{
	size_t	 n = 0;

	proc_counter(cc, &n, max, "keys", keys_loaded);
	return n;
}

static struct hs *
hs_find(int net, uint32_t connid)
{
	struct hs	*hs;

	TAILQ_FOREACH(hs, &handshakes, entry)
		if (hs->net == net && hs->connid == connid)
			return hs;
	return NULL;
}

static void
hs_free(struct hs *hs)
{
	TAILQ_REMOVE(&handshakes, hs, entry);
	nhandshakes--;
	sodium_memzero(hs, sizeof(*hs));
	free(hs);
}

static void
crypto_fail(struct imsgev *iev, uint32_t connid, int code, int unknown,
    const char *keyname)
{
	struct hs_fail	 f;

	memset(&f, 0, sizeof(f));
	f.code = code;
	f.unknown = unknown;
	(void)strlcpy(f.keyname, keyname, sizeof(f.keyname));
	if (proc_compose(PROC_NETWORK, iev->id, IMSG_HS_FAIL, connid, -1, &f,
	    sizeof(f)) == -1)
		fatal("%s: compose", __func__);
}

/*
 * HELLO: pick the key by name and answer with a CHALLENGE.  An unknown
 * name gets a random key, so the client sees exactly what a wrong key
 * gets: nothing tells it which names exist.
 */
static void
crypto_dispatch_hello(struct imsgev *iev, struct imsg *imsg)
{
	struct hs_hello		 hh;
	struct hs_challenge	 hc;
	struct conf_key		*k;
	struct hs		*hs;
	const char		*errstr;
	uint8_t			 crand[WIRE_RANDOM_LEN], srand[WIRE_RANDOM_LEN];
	uint64_t		 ctime;
	size_t			 limit;

	if (hs_hello_get(imsg, &hh) == -1)
		msg_bad(iev, imsg, __func__);
	if (hs_find(iev->id, imsg->hdr.peerid) != NULL)
		fatalx("%s: network[%u] reused connection %u", __func__,
		    iev->id, imsg->hdr.peerid);
	/* A client may be quicker than our first configuration. */
	if (env->conf == NULL) {
		log_info("%s: handshake before the keys arrived, refused",
		    hh.peer);
		crypto_fail(iev, imsg->hdr.peerid, WIRE_HS_BUSY, 0, "");
		return;
	}
	/* Network holds max startups; aborts may still be on their way. */
	limit = (size_t)env->conf->max_startups * 2 + 16;
	if (nhandshakes >= limit) {
		log_warnx("%s: too many handshakes in progress", hh.peer);
		crypto_fail(iev, imsg->hdr.peerid, WIRE_HS_BUSY, 0, "");
		return;
	}
	if ((hs = calloc(1, sizeof(*hs))) == NULL)
		fatal("%s", __func__);
	hs->net = iev->id;
	hs->connid = imsg->hdr.peerid;
	(void)strlcpy(hs->peer, hh.peer, sizeof(hs->peer));
	TAILQ_INSERT_TAIL(&handshakes, hs, entry);
	nhandshakes++;

	/* network parsed it already; parse again, trusting no one */
	if (wire_hello_parse(hh.hello, sizeof(hh.hello), hs->keyname, crand,
	    &ctime, &errstr) == -1) {
		log_warnx("%s: malformed handshake: %s", hh.peer, errstr);
		crypto_fail(iev, imsg->hdr.peerid, WIRE_HS_PROTO, 0, "");
		hs_free(hs);
		return;
	}
	TAILQ_FOREACH(k, &env->conf->keys, entry)
		if (strcmp(k->name, hs->keyname) == 0)
			break;
	if (k != NULL) {
		memcpy(hs->key, k->key, sizeof(hs->key));
		hs->perms = k->perms;
		(void)strlcpy(hs->ns, k->ns, sizeof(hs->ns));
	} else {
		hs->unknown = 1;
		randombytes_buf(hs->key, sizeof(hs->key));
	}

	randombytes_buf(srand, sizeof(srand));
	wire_challenge_build(hc.challenge, srand, wire_now_ms());
	wire_transcript(hh.hello, hc.challenge, hs->h);
	if (proc_compose(PROC_NETWORK, iev->id, IMSG_HS_CHALLENGE,
	    imsg->hdr.peerid, -1, &hc, sizeof(hc)) == -1)
		fatal("%s: compose", __func__);
	sodium_memzero(crand, sizeof(crand));
}

static void
crypto_dispatch_finish(struct imsgev *iev, struct imsg *imsg)
{
	struct hs_finish	 hf;
	struct hs_ok		*ok;
	struct hs		*hs;
	const char		*errstr;
	uint8_t			 cproof[WIRE_PROOF_LEN], want[WIRE_PROOF_LEN];
	int			 good;

	if (hs_finish_get(imsg, &hf) == -1)
		msg_bad(iev, imsg, __func__);
	if ((hs = hs_find(iev->id, imsg->hdr.peerid)) == NULL)
		fatalx("%s: network[%u] connection %u has no handshake",
		    __func__, iev->id, imsg->hdr.peerid);
	if (hs->sid != 0)
		fatalx("%s: network[%u] connection %u finished twice",
		    __func__, iev->id, imsg->hdr.peerid);
	if (wire_finish_parse(hf.finish, sizeof(hf.finish), cproof,
	    &errstr) == -1) {
		log_warnx("%s: malformed handshake: %s", hs->peer, errstr);
		crypto_fail(iev, hs->connid, WIRE_HS_PROTO, 0, hs->keyname);
		hs_free(hs);
		return;
	}
	wire_client_proof(hs->key, hs->h, want);
	good = wire_proof_cmp(want, cproof) == 0 && !hs->unknown;
	sodium_memzero(want, sizeof(want));
	if (!good) {
		crypto_fail(iev, hs->connid, WIRE_HS_AUTH, hs->unknown,
		    hs->keyname);
		hs_free(hs);
		return;
	}

	/* The key is not needed any more: only the session's keys are. */
	ok = &hs->ok;
	wire_server_proof(hs->key, hs->h, cproof, ok->sproof);
	wire_session_keys(hs->key, hs->h, cproof, &ok->keys);
	sodium_memzero(hs->key, sizeof(hs->key));
	sodium_memzero(cproof, sizeof(cproof));
	ok->perms = hs->perms;
	(void)strlcpy(ok->keyname, hs->keyname, sizeof(ok->keyname));
	(void)strlcpy(ok->ns, hs->ns, sizeof(ok->ns));
	crypto_grant(hs);
}

/*
 * An accepted session: a fresh id, and its grant to every storage
 * worker.  HS_OK waits for their acknowledgements.
 */
static void
crypto_grant(struct hs *hs)
{
	struct st_grant	 g;
	int		 i;

	do {
		randombytes_buf(&hs->sid, sizeof(hs->sid));
	} while (hs->sid == 0);
	hs->ok.sid = hs->sid;
	memset(&g, 0, sizeof(g));
	g.sid = hs->sid;
	g.net = hs->net;
	g.perms = hs->perms;
	(void)strlcpy(g.keyname, hs->keyname, sizeof(g.keyname));
	(void)strlcpy(g.ns, hs->ns, sizeof(g.ns));
	for (i = 0; i < MAX_WORKERS; i++) {
		if (env->storage[i] == NULL)
			continue;
		/* A worker already gone takes the daemon down anyway. */
		if (proc_compose(PROC_STORAGE, i, IMSG_ST_GRANT, 0, -1, &g,
		    sizeof(g)) == -1)
			continue;
		hs->granted |= 1U << i;
	}
	hs->acks = hs->granted;
	log_debug("%s key %s: session %016llx granted to %d storage "
	    "worker(s)", hs->peer, hs->keyname, (unsigned long long)hs->sid,
	    __builtin_popcount(hs->granted));
	if (hs->acks == 0)
		crypto_granted(hs);
}

/*
 * Every storage worker holds the grant: network may use the session.
 * A network worker gone meanwhile is on the way down with the daemon.
 */
static void
crypto_granted(struct hs *hs)
{
	if (!hs->aborted && proc_compose(PROC_NETWORK, hs->net, IMSG_HS_OK,
	    hs->connid, -1, &hs->ok, sizeof(hs->ok)) == -1)
		log_debug("%s: network[%d] is gone", __func__, hs->net);
	hs_free(hs);
}

/* Withdraw a grant network will never hear of. */
static void
crypto_end(struct hs *hs)
{
	struct st_sid	 s;
	int		 i;

	memset(&s, 0, sizeof(s));
	s.sid = hs->sid;
	for (i = 0; i < MAX_WORKERS; i++)
		if (hs->granted & (1U << i))
			(void)proc_compose(PROC_STORAGE, i,
			    IMSG_ST_SESSION_END, 0, -1, &s, sizeof(s));
}

static void
crypto_dispatch_grant_ack(struct imsgev *iev, struct imsg *imsg)
{
	struct st_sid	 s;
	struct hs	*hs;

	if (st_sid_get(imsg, &s) == -1)
		msg_bad(iev, imsg, __func__);
	TAILQ_FOREACH(hs, &handshakes, entry)
		if (hs->sid != 0 && hs->sid == s.sid)
			break;
	if (hs == NULL || (hs->acks & (1U << iev->id)) == 0)
		fatalx("%s: %s acknowledged session %016llx, which waits for "
		    "no acknowledgement from it", __func__, iev->name,
		    (unsigned long long)s.sid);
	hs->acks &= ~(1U << iev->id);
	if (hs->acks == 0)
		crypto_granted(hs);
}

/*
 * A storage worker is gone (the daemon is stopping): grants waiting
 * for it wait no more.
 */
static void
crypto_peer_gone(struct child_env *e, struct imsgev *iev)
{
	struct hs	*hs;
	uint32_t	 bit;

	if (iev->kind != PROC_STORAGE)
		return;
	bit = 1U << iev->id;
 again:
	TAILQ_FOREACH(hs, &handshakes, entry) {
		hs->granted &= ~bit;
		if (hs->acks & bit) {
			hs->acks &= ~bit;
			if (hs->acks == 0) {
				crypto_granted(hs);
				goto again;
			}
		}
	}
}

static void
crypto_dispatch_abort(struct imsgev *iev, struct imsg *imsg)
{
	struct hs	*hs;

	if (imsg->datalen != 0)
		msg_bad(iev, imsg, __func__);
	if ((hs = hs_find(iev->id, imsg->hdr.peerid)) == NULL || hs->aborted)
		return;
	if (hs->acks == 0) {
		hs_free(hs);
		return;
	}
	/* Its grant is out: withdraw it, and forget it once acked. */
	crypto_end(hs);
	hs->aborted = 1;
}
