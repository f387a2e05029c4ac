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
 * Peers, as the table below says: the parent (the keys, in the
 * configuration series) and every network worker (handshakes).
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

/* A handshake between CHALLENGE and FINISH. */
struct hs {
	TAILQ_ENTRY(hs)	 entry;
	int		 net;			/* network instance */
	uint32_t	 connid;
	int		 unknown;		/* dummy key in use */
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
static struct hs *hs_find(int, uint32_t);
static void	 hs_free(struct hs *);

static const struct proc_msg crypto_msgs[] = {
	{ PROC_PARENT, IMSG_CONF_KEY, PROC_NOFD, config_dispatch_key },
	{ PROC_NETWORK, IMSG_HS_HELLO, PROC_NOFD, crypto_dispatch_hello },
	{ PROC_NETWORK, IMSG_HS_FINISH, PROC_NOFD, crypto_dispatch_finish },
	{ PROC_NETWORK, IMSG_HS_ABORT, PROC_NOFD, crypto_dispatch_abort },
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
	.nofile = 32 + MAX_WORKERS,
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
	limit = (size_t)env->conf->max_conns * 2 + 16;
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
	struct hs_ok		 ok;
	struct hs		*hs;
	const char		*errstr;
	uint8_t			 cproof[WIRE_PROOF_LEN], want[WIRE_PROOF_LEN];
	int			 good;

	if (hs_finish_get(imsg, &hf) == -1)
		msg_bad(iev, imsg, __func__);
	if ((hs = hs_find(iev->id, imsg->hdr.peerid)) == NULL)
		fatalx("%s: network[%u] connection %u has no handshake",
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

	memset(&ok, 0, sizeof(ok));
	wire_server_proof(hs->key, hs->h, cproof, ok.sproof);
	wire_session_keys(hs->key, hs->h, cproof, &ok.keys);
	ok.perms = hs->perms;
	(void)strlcpy(ok.keyname, hs->keyname, sizeof(ok.keyname));
	(void)strlcpy(ok.ns, hs->ns, sizeof(ok.ns));
	if (proc_compose(PROC_NETWORK, iev->id, IMSG_HS_OK, hs->connid, -1, &ok,
	    sizeof(ok)) == -1)
		fatal("%s: compose", __func__);
	sodium_memzero(&ok, sizeof(ok));
	sodium_memzero(cproof, sizeof(cproof));
	hs_free(hs);
}

static void
crypto_dispatch_abort(struct imsgev *iev, struct imsg *imsg)
{
	struct hs	*hs;

	if (imsg->datalen != 0)
		msg_bad(iev, imsg, __func__);
	if ((hs = hs_find(iev->id, imsg->hdr.peerid)) != NULL)
		hs_free(hs);
}
