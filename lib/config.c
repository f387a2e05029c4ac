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
 * The configuration as data: making an empty one with every default,
 * freeing one (wiping key material), comparing listen addresses and
 * spelling values the one canonical way.
 *
 * parse.y fills a configuration and printconf.c prints one; both use
 * this file, which uses neither, so that a program that only parses
 * (dctl) links neither the printer nor anything that calls back into
 * the grammar.  The parent also compares listen addresses here when a
 * reload keeps a socket open.
 */

#include <sys/types.h>
#include <sys/queue.h>
#include <sys/socket.h>

#include <netinet/in.h>
#include <netdb.h>

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conf.h"
#include "wire.h"

static const struct {
	uint32_t	 perm;
	const char	*name;
} perm_names[] = {
	{ KEY_PERM_READ,	"read" },
	{ KEY_PERM_WRITE,	"write" },
	{ KEY_PERM_LIST,	"list" },
	{ KEY_PERM_STAT,	"stat" },
	{ KEY_PERM_META,	"meta" },
	{ KEY_PERM_ADMIN,	"admin" },
};

struct dsrvd_conf *
config_new(void)
{
	struct dsrvd_conf	*c;

	if ((c = calloc(1, sizeof(*c))) == NULL)
		return (NULL);
	(void)strlcpy(c->datadir, DSRVD_DATADIR, sizeof(c->datadir));
	(void)strlcpy(c->chroot, DSRVD_CHROOT, sizeof(c->chroot));
	(void)strlcpy(c->user, DSRVD_USER, sizeof(c->user));
	(void)strlcpy(c->storage_user, DSRVD_STORAGE_USER,
	    sizeof(c->storage_user));
	(void)strlcpy(c->crypto_user, DSRVD_CRYPTO_USER,
	    sizeof(c->crypto_user));
	(void)strlcpy(c->csock, DSRVD_SOCKET, sizeof(c->csock));
	c->nnetwork = DEF_NETWORK_WORKERS;
	c->nstorage = DEF_STORAGE_WORKERS;
	c->max_conns = DEF_MAX_CONNS;
	c->max_startups = DEF_MAX_STARTUPS;
	c->max_startups_src = DEF_MAX_STARTUPS_SRC;
	c->max_rtt_ms = DEF_MAX_RTT_MS;
	c->max_skew_ms = DEF_MAX_SKEW_MS;
	c->handshake_timeout_ms = DEF_HANDSHAKE_TO_MS;
	c->idle_timeout_ms = DEF_IDLE_TO_MS;
	c->message_timeout_ms = DEF_MESSAGE_TO_MS;
	c->reserve = DEF_RESERVE;
	TAILQ_INIT(&c->listens);
	TAILQ_INIT(&c->keys);
	TAILQ_INIT(&c->servers);
	return (c);
}

void
config_free(struct dsrvd_conf *c)
{
	struct listen_addr	*la;
	struct conf_key		*k;
	struct conf_server	*s;

	if (c == NULL)
		return;
	while ((la = TAILQ_FIRST(&c->listens)) != NULL) {
		TAILQ_REMOVE(&c->listens, la, entry);
		free(la);
	}
	while ((k = TAILQ_FIRST(&c->keys)) != NULL) {
		TAILQ_REMOVE(&c->keys, k, entry);
		explicit_bzero(k, sizeof(*k));
		free(k);
	}
	while ((s = TAILQ_FIRST(&c->servers)) != NULL) {
		TAILQ_REMOVE(&c->servers, s, entry);
		free(s);
	}
	free(c);
}

/*
 * The same socket to bind: family, port and address.  The name as
 * written does not count, so "localhost" and "127.0.0.1" are equal.
 */
int
listen_addr_same(const struct listen_addr *a, const struct listen_addr *b)
{
	const struct sockaddr_in	*a4, *b4;
	const struct sockaddr_in6	*a6, *b6;

	if (a->ss.ss_family != b->ss.ss_family || a->port != b->port)
		return (0);
	if (a->ss.ss_family == AF_INET) {
		a4 = (const struct sockaddr_in *)&a->ss;
		b4 = (const struct sockaddr_in *)&b->ss;
		return (a4->sin_addr.s_addr == b4->sin_addr.s_addr);
	}
	a6 = (const struct sockaddr_in6 *)&a->ss;
	b6 = (const struct sockaddr_in6 *)&b->ss;
	return (a6->sin6_scope_id == b6->sin6_scope_id &&
	    memcmp(&a6->sin6_addr, &b6->sin6_addr,
	    sizeof(a6->sin6_addr)) == 0);
}

const char *
listen_addr_host(const struct listen_addr *la, char *buf, size_t len)
{
	/* Numeric only: a lookup here could block a running daemon. */
	if (getnameinfo((const struct sockaddr *)&la->ss, la->sslen,
	    buf, len, NULL, 0, NI_NUMERICHOST) != 0)
		(void)strlcpy(buf, la->name, len);
	return (buf);
}

const char *
listen_addr_str(const struct listen_addr *la, char *buf, size_t len)
{
	char	host[NI_MAXHOST];

	(void)snprintf(buf, len, "%s port %u",
	    listen_addr_host(la, host, sizeof(host)), (unsigned int)la->port);
	return (buf);
}

const char *
key_perms_str(uint32_t perms, char *buf, size_t len)
{
	size_t	i;

	if (len == 0)
		return (buf);
	buf[0] = '\0';
	for (i = 0; i < sizeof(perm_names) / sizeof(perm_names[0]); i++) {
		if ((perms & perm_names[i].perm) == 0)
			continue;
		if (buf[0] != '\0')
			(void)strlcat(buf, ", ", len);
		(void)strlcat(buf, perm_names[i].name, len);
	}
	if (buf[0] == '\0')
		(void)strlcpy(buf, "none", len);
	return (buf);
}

/*
 * The permissions of which a request needs one, as KEY_PERM_* bits, or
 * 0 for a method that needs none (PING) or that does not exist.  A READ
 * needs read, or meta when the chunk's directory is exactly the
 * metadata directory (DSRV_META_DIR in dsrvfile.h): a backup host's key
 * can then check what it stored without reading any data.  Network
 * checks a session's requests with key_perm_ok, and storage again
 * against the grant.
 */
uint32_t
key_perm_need(uint64_t method, const char *name, size_t namelen)
{
	static const char	 meta[] = "index/";

	switch (method) {
	case WIRE_M_WRITE:
		return (KEY_PERM_WRITE);
	case WIRE_M_READ:
		if (name != NULL && namelen > sizeof(meta) - 1 &&
		    memcmp(name, meta, sizeof(meta) - 1) == 0)
			return (KEY_PERM_READ | KEY_PERM_META);
		return (KEY_PERM_READ);
	case WIRE_M_LIST:
		return (KEY_PERM_LIST);
	case WIRE_M_STAT:
	case WIRE_M_STATFS:
	case WIRE_M_DIGEST:
		return (KEY_PERM_STAT);
	default:
		return (0);
	}
}

int
key_perm_ok(uint32_t perms, uint64_t method, const char *name,
    size_t namelen)
{
	return ((perms & key_perm_need(method, name, namelen)) != 0);
}

/* The largest unit that divides exactly, so the text reads back equal. */
const char *
fmt_duration(unsigned int ms, char *buf, size_t len)
{
	if (ms == 0)
		(void)snprintf(buf, len, "0s");
	else if (ms % (3600 * 1000) == 0)
		(void)snprintf(buf, len, "%uh", ms / (3600 * 1000));
	else if (ms % (60 * 1000) == 0)
		(void)snprintf(buf, len, "%um", ms / (60 * 1000));
	else if (ms % 1000 == 0)
		(void)snprintf(buf, len, "%us", ms / 1000);
	else
		(void)snprintf(buf, len, "%ums", ms);
	return (buf);
}

/* Likewise for sizes, in powers of 1024 as the grammar reads them. */
const char *
fmt_size(uint64_t n, char *buf, size_t len)
{
	static const char	 units[] = "TGMK";
	int			 i, shift;

	if (n != 0) {
		for (i = 0, shift = 40; units[i] != '\0'; i++, shift -= 10) {
			if (n % ((uint64_t)1 << shift) == 0) {
				(void)snprintf(buf, len, "%" PRIu64 "%c",
				    n >> shift, units[i]);
				return (buf);
			}
		}
	}
	(void)snprintf(buf, len, "%" PRIu64, n);
	return (buf);
}
