/*
 * The crypto process: the only process that ever holds the pre-shared
 * keys.  It will verify handshakes for the network workers and derive
 * per-session keys; it never sees chunk data.
 *
 * Peers: parent (configuration with key material), every network
 * worker (handshakes, with the wire protocol).
 */
#include <sys/types.h>
#include <sys/mman.h>

#include <stdlib.h>
#include <string.h>

#include "dsrvd.h"
#include "log.h"

static void	 crypto_conf_apply(struct child_env *, struct dsrvd_conf *);
static size_t	 crypto_stats(struct child_env *, struct ctl_counter *, size_t);

static uint64_t	 keys_loaded;

void
crypto_start(struct child_env *env)
{
	env->conf_apply = crypto_conf_apply;
	env->stats = crypto_stats;
}

/*
 * The old configuration's keys are wiped by config_free() right after
 * this call; the new ones are kept out of swap and core files.
 */
static void
crypto_conf_apply(struct child_env *env, struct dsrvd_conf *old)
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
crypto_stats(struct child_env *env, struct ctl_counter *cc, size_t max)
{
	size_t	 n = 0;

	child_counter(cc, &n, max, "keys", keys_loaded);
	return n;
}
