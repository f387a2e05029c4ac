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
 * Limits before authentication.  A client connection is a startup from
 * accept until crypto has accepted its key, when it becomes a session
 * and takes one of max connections; startups have limits of their own,
 * so that clients without a key cannot use up the sessions' room, nor
 * sessions the room for handshakes.  Startups are counted across every
 * network worker in the shared page: in all (max startups) and per
 * source (max startups per source; an IPv4 address or an IPv6 /64,
 * hashed with a key the workers share into STARTUP_BUCKETS counters).
 *
 * A new connection that would go over either limit takes the place of
 * a startup of this worker that is making no progress: one whose
 * refusal is being delivered, one whose FINISH is already later than
 * max rtt allows (it can only fail), else the oldest that has not sent
 * its whole HELLO: of its own source for the per-source limit, else of
 * the source with the most startups.  An honest client sends its HELLO
 * at once and its FINISH within a round trip, so clients that trickle
 * or stall cannot crowd it out however many they open.  When there is
 * no such startup, the new connection is closed.
 *
 * A worker can only close its own connections, and the kernel hands
 * new ones to whichever worker is quickest, so a worker may hold none
 * that could give way while another holds all of them.  So each worker
 * has a share of each limit (the limit divided by the workers): below
 * its share a worker keeps a new connection even over the limit, and a
 * worker above its share gives way for it, closing its stalled ones at
 * its next new connection until the limit holds again.  The limits can
 * so be passed by less than a share per other worker, for a moment.
 *
 * What becomes of each startup is counted once, for dctl status and for
 * a summary line that network worker 0 logs every STARTUP_SUMMARY_SEC.
 * Lines about single startups are rate-limited across the workers
 * (STARTUP_LOG_BURST, then one per STARTUP_LOG_MS), so that a flood of
 * connections writes a bounded number of lines.
 *
 * network.c and network_conn.c call in here; closing a connection is
 * network_conn.c's job, so startup_admit() names the one to close and
 * nothing here calls back.
 */
#include <sys/types.h>
#include <sys/socket.h>
#include <netinet/in.h>

#include <netdb.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bytes.h"
#include "dsrvd.h"
#include "log.h"
#include "network.h"

#define STARTUP_SUMMARY_SEC	60
#define STARTUP_LOG_BURST	10
#define STARTUP_LOG_MS		5000

/* How much a startup is worth keeping, for startup_victim(). */
enum {
	SC_DONE,		/* refused already, or too late to pass */
	SC_STALLED,		/* its HELLO is not in */
	SC_BUSY			/* under way: never replaced */
};

static uint64_t	 mono_ms(void);
static uint32_t	 startup_bucket(const struct sockaddr_storage *);
static void	 startup_enter(struct conn *, const struct sockaddr_storage *,
		    socklen_t);
static int	 startup_class(struct conn *);
static struct conn *startup_victim(const struct conn *, int);
static void	 startup_summary(int, short, void *);

static TAILQ_HEAD(, conn)	 startups = TAILQ_HEAD_INITIALIZER(startups);
static uint32_t			 local_src[STARTUP_BUCKETS]; /* this worker's */
static uint8_t			 hashkey[crypto_shorthash_KEYBYTES];
static struct event		*ev_summary;

static const struct {
	enum startup_stat	 stat;
	const char		*what;
} summary_words[] = {
	{ SU_AUTH,	"failed authentication" },
	{ SU_RTT,	"over max rtt" },
	{ SU_SKEW,	"over max skew" },
	{ SU_PROTO,	"malformed" },
	{ SU_TIMEOUT,	"timed out" },
	{ SU_CLOSED,	"closed by the client" },
	{ SU_BUSY,	"refused busy" },
	{ SU_FULL,	"dropped for max startups" },
	{ SU_SOURCE,	"dropped for max startups per source" },
};

uint64_t
elapsed_us(const struct timespec *since)
{
	struct timespec	 now;

	if (clock_gettime(CLOCK_MONOTONIC, &now) == -1)
		fatal("clock_gettime");
	return (uint64_t)(now.tv_sec - since->tv_sec) * 1000000 +
	    (now.tv_nsec - since->tv_nsec) / 1000;
}

/* The same clock in every process, for the shared log rate limit. */
static uint64_t
mono_ms(void)
{
	struct timespec	 now;

	if (clock_gettime(CLOCK_MONOTONIC, &now) == -1)
		fatal("clock_gettime");
	return (uint64_t)now.tv_sec * 1000 + now.tv_nsec / 1000000;
}

/*
 * The source hash key: each half is set by whichever worker comes
 * first and read back by the others, so that all agree without a lock.
 * Worker 0 also sums up the startups every STARTUP_SUMMARY_SEC.
 */
void
startup_init(struct child_env *env)
{
	struct timeval	 tv = { STARTUP_SUMMARY_SEC, 0 };
	uint64_t	 k, old;
	int		 i;

	for (i = 0; i < 2; i++) {
		do
			arc4random_buf(&k, sizeof(k));
		while (k == 0);
		old = 0;
		if (!__atomic_compare_exchange_n(&nenv.shared->hashkey[i],
		    &old, k, 0, __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST))
			k = old;
		memcpy(hashkey + i * sizeof(k), &k, sizeof(k));
	}
	if (env->init.instance != 0)
		return;
	if ((ev_summary = event_new(env->base, -1, EV_PERSIST,
	    startup_summary, NULL)) == NULL)
		fatalx("%s: event_new failed", __func__);
	if (event_add(ev_summary, &tv) == -1)
		fatalx("%s: event_add failed", __func__);
}

/* The counter of a source: its IPv4 address or its IPv6 /64. */
static uint32_t
startup_bucket(const struct sockaddr_storage *ss)
{
	const struct sockaddr_in6	*sin6;
	uint8_t				 in[1 + 8], h[crypto_shorthash_BYTES];

	memset(in, 0, sizeof(in));
	if (ss->ss_family == AF_INET) {
		in[0] = 4;
		memcpy(in + 1, &((const struct sockaddr_in *)ss)->sin_addr, 4);
	} else if (ss->ss_family == AF_INET6) {
		sin6 = (const struct sockaddr_in6 *)ss;
		if (IN6_IS_ADDR_V4MAPPED(&sin6->sin6_addr)) {
			in[0] = 4;
			memcpy(in + 1, &sin6->sin6_addr.s6_addr[12], 4);
		} else {
			in[0] = 6;
			memcpy(in + 1, &sin6->sin6_addr.s6_addr[0], 8);
		}
	}
	if (crypto_shorthash(h, in, sizeof(in), hashkey) != 0)
		fatalx("%s: crypto_shorthash failed", __func__);
	return be32_get(h) & (STARTUP_BUCKETS - 1);
}

static int
startup_class(struct conn *c)
{
	switch (c->state) {
	case CS_REFUSE:
	case CS_LINGER:
		return SC_DONE;
	case CS_FINISH:
		if (elapsed_us(&c->chal_sent) >
		    (uint64_t)nenv.env->conf->max_rtt_ms * 1000)
			return SC_DONE;
		return SC_BUSY;
	case CS_HELLO:
		return SC_STALLED;
	default:
		return SC_BUSY;
	}
}

/*
 * The startup of this worker that the new connection n replaces: the
 * least worth keeping, of n's source for the per-source limit, else of
 * the source with the most startups; of those the oldest.  NULL if
 * none may go.
 */
static struct conn *
startup_victim(const struct conn *n, int persource)
{
	struct conn	*c, *best = NULL;
	uint32_t	 cnt, bestcnt = 0;
	int		 cl, bestcl = SC_BUSY;

	TAILQ_FOREACH(c, &startups, sentry) {
		if (c == n || (persource && c->bucket != n->bucket))
			continue;
		if ((cl = startup_class(c)) == SC_BUSY)
			continue;
		cnt = __atomic_load_n(&nenv.shared->source[c->bucket],
		    __ATOMIC_SEQ_CST);
		if (best == NULL || cl < bestcl ||
		    (cl == bestcl && cnt > bestcnt)) {
			best = c;
			bestcl = cl;
			bestcnt = cnt;
		}
	}
	return best;
}

/* A new connection: name its peer and count it as a startup. */
static void
startup_enter(struct conn *c, const struct sockaddr_storage *ss,
    socklen_t len)
{
	char	 host[64], serv[NI_MAXSERV];

	if (getnameinfo((const struct sockaddr *)ss, len, host, sizeof(host),
	    serv, sizeof(serv), NI_NUMERICHOST | NI_NUMERICSERV) != 0) {
		(void)strlcpy(host, "?", sizeof(host));
		(void)strlcpy(serv, "?", sizeof(serv));
	}
	(void)snprintf(c->peer, sizeof(c->peer), "client %s port %s", host,
	    serv);
	c->bucket = startup_bucket(ss);
	c->startup = 1;
	(void)__atomic_add_fetch(&nenv.shared->interval[SU_CONNS], 1,
	    __ATOMIC_RELAXED);
	(void)__atomic_add_fetch(&nenv.shared->startups, 1, __ATOMIC_SEQ_CST);
	(void)__atomic_add_fetch(&nenv.shared->source[c->bucket], 1,
	    __ATOMIC_SEQ_CST);
	local_src[c->bucket]++;
	nenv.startups_open++;
	TAILQ_INSERT_TAIL(&startups, c, sentry);
}

/*
 * Apply the limits to the new connection c, counting it first if it is
 * not yet.  Returns a connection to close: another startup, its outcome
 * counted and the reason in why, or (the first time) c itself if none
 * can make room for it; NULL when all is well.  The caller closes what
 * it gets and asks again until it gets NULL (or c), so that a worker
 * above its share closes as many stalled startups as the limits want.
 */
struct conn *
startup_admit(struct conn *c, const struct sockaddr_storage *ss,
    socklen_t len, char *why, size_t whylen)
{
	struct dsrvd_conf	*conf = nenv.env->conf;
	struct conn		*v;
	enum startup_stat	 stat;
	uint32_t		 all, src, n, share, srcshare;
	int			 first = !c->startup;

	if (first)
		startup_enter(c, ss, len);
	n = nenv.env->init.nnetwork > 0 ? nenv.env->init.nnetwork : 1;
	share = (conf->max_startups + n - 1) / n;
	srcshare = (conf->max_startups_src + n - 1) / n;
	all = __atomic_load_n(&nenv.shared->startups, __ATOMIC_SEQ_CST);
	src = __atomic_load_n(&nenv.shared->source[c->bucket],
	    __ATOMIC_SEQ_CST);
	if (src > conf->max_startups_src && local_src[c->bucket] > srcshare) {
		stat = SU_SOURCE;
		v = startup_victim(c, 1);
		(void)snprintf(why, whylen, "max startups per source (%u) "
		    "reached", conf->max_startups_src);
	} else if (all > conf->max_startups && nenv.startups_open > share) {
		stat = SU_FULL;
		v = startup_victim(c, 0);
		(void)snprintf(why, whylen, "max startups (%u) reached",
		    conf->max_startups);
	} else
		return NULL;
	if (v != NULL)
		(void)strlcat(why, ": replaced by a new connection", whylen);
	else if (!first)
		return NULL;	/* c has its place; nothing more can go */
	else {
		v = c;
		(void)strlcat(why, ": no stalled connection to replace",
		    whylen);
	}
	startup_end(v, stat);
	return v;
}

/*
 * Crypto accepted c's key: from a startup to a session, if there is
 * room for one.  -1 (counted as a refusal) when there is not.
 */
int
startup_session(struct conn *c)
{
	if (__atomic_add_fetch(&nenv.shared->sessions, 1, __ATOMIC_SEQ_CST) >
	    nenv.env->conf->max_conns) {
		(void)__atomic_sub_fetch(&nenv.shared->sessions, 1,
		    __ATOMIC_SEQ_CST);
		startup_end(c, SU_BUSY);
		return -1;
	}
	c->counted = 1;
	c->ended = 1;
	nenv.hs_ok++;
	startup_leave(c);
	return 0;
}

/* Count what became of a startup, once. */
void
startup_end(struct conn *c, enum startup_stat stat)
{
	if (!c->startup || c->ended)
		return;
	c->ended = 1;
	switch (stat) {
	case SU_AUTH:
		nenv.hs_fail_auth++;
		break;
	case SU_RTT:
		nenv.hs_fail_rtt++;
		break;
	case SU_SKEW:
		nenv.hs_fail_skew++;
		break;
	case SU_PROTO:
		nenv.hs_fail_other++;
		break;
	case SU_TIMEOUT:
		nenv.hs_fail_timeout++;
		break;
	case SU_CLOSED:
		nenv.hs_fail_closed++;
		break;
	case SU_BUSY:
		nenv.conns_refused++;
		break;
	case SU_FULL:
		nenv.startups_full++;
		break;
	case SU_SOURCE:
		nenv.startups_source++;
		break;
	default:
		fatalx("%s: stat %d", __func__, stat);
	}
	(void)__atomic_add_fetch(&nenv.shared->interval[stat], 1,
	    __ATOMIC_RELAXED);
}

/*
 * c is no startup any more: a session now, or closing.  A startup that
 * closes with nothing else said of it was closed by the client (or
 * reset, or lost to a write error).
 */
void
startup_leave(struct conn *c)
{
	if (!c->startup)
		return;
	if (!c->ended)
		startup_end(c, SU_CLOSED);
	TAILQ_REMOVE(&startups, c, sentry);
	local_src[c->bucket]--;
	(void)__atomic_sub_fetch(&nenv.shared->startups, 1, __ATOMIC_SEQ_CST);
	(void)__atomic_sub_fetch(&nenv.shared->source[c->bucket], 1,
	    __ATOMIC_SEQ_CST);
	nenv.startups_open--;
	c->startup = 0;
}

/*
 * May a line about c be logged?  Always for a session; for a startup
 * within the rate every worker shares (a generic cell rate algorithm:
 * logtat is when the bucket will be empty), else it is counted.
 */
int
startup_log(const struct conn *c)
{
	uint64_t	 now, tat, t;

	if (!c->startup)
		return 1;
	now = mono_ms();
	tat = __atomic_load_n(&nenv.shared->logtat, __ATOMIC_SEQ_CST);
	do {
		t = tat > now ? tat : now;
		if (t - now >= (uint64_t)STARTUP_LOG_BURST * STARTUP_LOG_MS) {
			nenv.log_unlogged++;
			(void)__atomic_add_fetch(
			    &nenv.shared->interval[SU_UNLOGGED], 1,
			    __ATOMIC_RELAXED);
			return 0;
		}
	} while (!__atomic_compare_exchange_n(&nenv.shared->logtat, &tat,
	    t + STARTUP_LOG_MS, 0, __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST));
	return 1;
}

/*
 * Worker 0, every STARTUP_SUMMARY_SEC: one line for what became of the
 * startups of every worker, when any failed or was refused.
 */
static void
startup_summary(int fd, short event, void *arg)
{
	uint64_t	 v[SU_NSTATS], bad = 0;
	char		 line[512], part[96];
	size_t		 i;
	int		 sep = ';';

	for (i = 0; i < SU_NSTATS; i++)
		v[i] = __atomic_exchange_n(&nenv.shared->interval[i], 0,
		    __ATOMIC_SEQ_CST);
	for (i = 0; i < sizeof(summary_words) / sizeof(summary_words[0]); i++)
		bad += v[summary_words[i].stat];
	if (bad == 0 && v[SU_UNLOGGED] == 0)
		return;
	(void)snprintf(line, sizeof(line), "pre-auth in the last %ds: %llu "
	    "connections", STARTUP_SUMMARY_SEC,
	    (unsigned long long)v[SU_CONNS]);
	for (i = 0; i < sizeof(summary_words) / sizeof(summary_words[0]); i++) {
		if (v[summary_words[i].stat] == 0)
			continue;
		(void)snprintf(part, sizeof(part), "%c %llu %s", sep,
		    (unsigned long long)v[summary_words[i].stat],
		    summary_words[i].what);
		(void)strlcat(line, part, sizeof(line));
		sep = ',';
	}
	if (v[SU_UNLOGGED] != 0) {
		(void)snprintf(part, sizeof(part), "; %llu lines about them "
		    "not logged", (unsigned long long)v[SU_UNLOGGED]);
		(void)strlcat(line, part, sizeof(line));
	}
	log_warnx("%s", line);
}
