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
 * dctl's network side: choosing the server and key from the command
 * line and /etc/dctl.conf, a connection or a pool of them to it, and
 * the commands ping and keygen.  The commands of file.c, jobs.c and
 * chunk.c connect through it; it calls only util.c.
 */
#include <sys/types.h>
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <sodium.h>

#include "client.h"
#include "conf.h"
#include "dctl.h"
#include "log.h"
#include "pool.h"
#include "wire.h"

static struct dsrvd_conf *load_conf(const char **);
static int	 parse_hostport(const char *, char *, size_t, char *, size_t);
static void	 keyname_from_path(const char *, char *, size_t);
static void	 fmt_time_ms(uint64_t, char *, size_t);

/*
 * A missing /etc/dctl.conf is fine: -r and -k may say all there is to
 * say.  A file named with -c must exist, or a typo would go unnoticed.
 */
static struct dsrvd_conf *
load_conf(const char **file)
{
	struct dsrvd_conf	*conf;
	int			 flags = CONF_CLIENT;

	if (cargs.conffile != NULL)
		*file = cargs.conffile;
	else {
		*file = DCTL_CONF;
		flags |= CONF_OPTIONAL;
	}
	/* The parser's messages ("file:line: ...") then start with "dctl: ". */
	log_procinit("dctl");
	log_setprefix(1);
	if ((conf = parse_config(*file, flags)) == NULL)
		exit(1);
	log_setprefix(0);
	return (conf);
}

/*
 * host, host:port, [v6addr]:port, [v6addr] or a bare v6addr (more than
 * one colon).  port is left alone when none is given.
 */
static int
parse_hostport(const char *s, char *host, size_t hlen, char *port,
    size_t plen)
{
	const char	*p, *end, *colon, *errstr;
	long long	 n;
	size_t		 len;

	if (s[0] == '[') {
		if ((end = strchr(s, ']')) == NULL)
			return (-1);
		p = s + 1;
		len = (size_t)(end - p);
		if (end[1] == ':')
			colon = end + 1;
		else if (end[1] == '\0')
			colon = NULL;
		else
			return (-1);
	} else {
		p = s;
		colon = strchr(s, ':');
		if (colon != NULL && strchr(colon + 1, ':') != NULL)
			colon = NULL;		/* an IPv6 address */
		len = colon != NULL ? (size_t)(colon - s) : strlen(s);
	}
	if (len == 0 || len >= hlen)
		return (-1);
	memcpy(host, p, len);
	host[len] = '\0';
	if (colon != NULL) {
		n = strtonum(colon + 1, 1, 65535, &errstr);
		if (errstr != NULL)
			return (-1);
		(void)snprintf(port, plen, "%lld", n);
	}
	return (0);
}

/* /etc/dsrv/backup.key gives "backup". */
static void
keyname_from_path(const char *path, char *name, size_t len)
{
	const char	*base;
	size_t		 n;

	base = strrchr(path, '/');
	base = base != NULL ? base + 1 : path;
	n = strlen(base);
	if (n > 4 && strcmp(base + n - 4, ".key") == 0)
		n -= 4;
	if (n >= len)
		n = len - 1;	/* then too long to be valid anyway */
	memcpy(name, base, n);
	name[n] = '\0';
}

/*
 * -r names a server entry or gives an address; without it the first
 * entry is used.  The key file and key name come from -k and -K, else
 * from the entry, else the name from the key file's name.
 */
void
resolve_target(struct target *t)
{
	struct dsrvd_conf	*conf;
	struct conf_server	*s = NULL;
	const char		*file;

	memset(t, 0, sizeof(*t));
	conf = load_conf(&file);
	(void)snprintf(t->port, sizeof(t->port), "%d", DSRVD_PORT);
	if (cargs.server != NULL) {
		TAILQ_FOREACH(s, &conf->servers, entry)
			if (strcmp(s->name, cargs.server) == 0)
				break;
		if (s == NULL && parse_hostport(cargs.server, t->host,
		    sizeof(t->host), t->port, sizeof(t->port)) == -1)
			die_usage("bad server '%s': give a server name from "
			    "%s, host, host:port or [address]:port",
			    cargs.server, file);
	} else if ((s = TAILQ_FIRST(&conf->servers)) == NULL)
		die_usage("no server: give -r host[:port] or a server entry "
		    "in %s", file);
	if (s != NULL) {
		(void)strlcpy(t->host, s->host, sizeof(t->host));
		(void)snprintf(t->port, sizeof(t->port), "%u",
		    (unsigned int)s->port);
	}

	if (cargs.keyfile != NULL) {
		if (strlcpy(t->keypath, cargs.keyfile, sizeof(t->keypath)) >=
		    sizeof(t->keypath))
			die_usage("%s: path too long", cargs.keyfile);
	} else if (s != NULL)
		(void)strlcpy(t->keypath, s->keypath, sizeof(t->keypath));
	else
		die_usage("no key for %s: give -k keyfile or a server entry "
		    "in %s", t->host, file);

	if (cargs.keyname != NULL) {
		if (!wire_keyname_valid(cargs.keyname))
			die_usage("invalid key name '%s' (1..%d of A-Z a-z "
			    "0-9 . _ -, no leading dot)", cargs.keyname,
			    KEY_NAME_MAX);
		(void)strlcpy(t->keyname, cargs.keyname, sizeof(t->keyname));
	} else if (s != NULL)
		(void)strlcpy(t->keyname, s->keyname, sizeof(t->keyname));
	else {
		keyname_from_path(t->keypath, t->keyname, sizeof(t->keyname));
		if (!wire_keyname_valid(t->keyname))
			die_usage("%s: no valid key name in the file name: "
			    "give -K keyname", t->keypath);
	}
	config_free(conf);
}

struct dsrv_client *
net_connect(const struct target *t)
{
	struct dsrv_client_opts	 opts;
	struct dsrv_client	*c;
	char			 err[DSRV_CLIENT_ERRLEN];

	memset(&opts, 0, sizeof(opts));
	if (key_load(t->keypath, opts.key, err, sizeof(err)) == -1)
		die("%s", err);
	opts.host = t->host;
	opts.port = t->port;
	opts.keyname = t->keyname;
	c = dsrv_client_connect(&opts, err, sizeof(err));
	sodium_memzero(opts.key, sizeof(opts.key));
	if (c == NULL)
		die("%s", err);
	return (c);
}

struct dsrv_pool *
pool_open(const struct target *t, int maxconns)
{
	struct dsrv_pool_opts	 po;
	struct dsrv_pool	*p;
	char			 err[DSRV_CLIENT_ERRLEN];

	memset(&po, 0, sizeof(po));
	if (key_load(t->keypath, po.conn.key, err, sizeof(err)) == -1)
		die("%s", err);
	po.conn.host = t->host;
	po.conn.port = t->port;
	po.conn.keyname = t->keyname;
	po.maxconns = maxconns;
	p = dsrv_pool_new(&po, err, sizeof(err));
	sodium_memzero(po.conn.key, sizeof(po.conn.key));
	if (p == NULL)
		die("%s", err);
	return (p);
}

/* 2026-11-21T22:40:00.123Z */
static void
fmt_time_ms(uint64_t ms, char *buf, size_t len)
{
	struct tm	 tm;
	time_t		 sec;
	char		 s[32];

	sec = (time_t)(ms / 1000);
	if (gmtime_r(&sec, &tm) == NULL ||
	    strftime(s, sizeof(s), "%Y-%m-%dT%H:%M:%S", &tm) == 0) {
		(void)snprintf(buf, len, "%llu ms since the epoch",
		    (unsigned long long)ms);
		return;
	}
	(void)snprintf(buf, len, "%s.%03uZ", s, (unsigned int)(ms % 1000));
}

int
cmd_ping(int argc, char **argv)
{
	struct target		 t;
	struct dsrv_client	*c;
	char			 err[DSRV_CLIENT_ERRLEN], version[64], when[64];
	uint64_t		 server_ms, rtt_us, hs_us;

	resolve_target(&t);
	c = net_connect(&t);
	if (dsrv_client_ping(c, version, sizeof(version), &server_ms, &rtt_us,
	    err, sizeof(err)) == -1) {
		dsrv_client_close(c);
		die("%s", err);
	}
	hs_us = dsrv_client_handshake_us(c);
	dsrv_client_close(c);
	fmt_time_ms(server_ms, when, sizeof(when));
	printf("%s at %s port %s: round trip %llu.%03llu ms, handshake "
	    "%llu.%03llu ms, key %s, server time %s\n", version, t.host,
	    t.port, (unsigned long long)(rtt_us / 1000),
	    (unsigned long long)(rtt_us % 1000),
	    (unsigned long long)(hs_us / 1000),
	    (unsigned long long)(hs_us % 1000), t.keyname, when);
	if (fflush(stdout) == EOF)
		die("stdout: %s", strerror(errno));
	return (0);
}

/*
 * A new key, in the form key_load() reads.  O_EXCL: an existing key
 * is never replaced, it may be the only copy of what a server trusts.
 */
int
cmd_keygen(int argc, char **argv)
{
	uint8_t		 key[KEY_LEN];
	char		 b64[sodium_base64_ENCODED_LEN(KEY_LEN,
			    sodium_base64_VARIANT_ORIGINAL) + 1];
	const char	*path = argv[0], *what;
	size_t		 len, off;
	ssize_t		 n;
	int		 fd, saved;

	if (sodium_init() == -1)
		die("libsodium failed to initialise");
	if ((fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW |
	    O_CLOEXEC, 0600)) == -1)
		die("%s: %s", path, strerror(errno));

	randombytes_buf(key, sizeof(key));
	(void)sodium_bin2base64(b64, sizeof(b64) - 1, key, sizeof(key),
	    sodium_base64_VARIANT_ORIGINAL);
	sodium_memzero(key, sizeof(key));
	len = strlen(b64);
	b64[len++] = '\n';

	/* Whatever the umask, the file ends up exactly 0600. */
	what = "fchmod";
	if (fchmod(fd, 0600) == -1)
		goto fail;
	what = "write";
	for (off = 0; off < len; off += (size_t)n) {
		if ((n = write(fd, b64 + off, len - off)) == -1) {
			if (errno == EINTR) {
				n = 0;
				continue;
			}
			goto fail;
		}
	}
	what = "fsync";
	if (fsync(fd) == -1)
		goto fail;
	what = "close";
	if (close(fd) == -1) {
		fd = -1;
		goto fail;
	}
	sodium_memzero(b64, sizeof(b64));
	return (0);

 fail:
	saved = errno;
	sodium_memzero(b64, sizeof(b64));
	if (fd != -1)
		(void)close(fd);
	/* Half a key is worse than none. */
	(void)unlink(path);
	die("%s: %s: %s", path, what, strerror(saved));
}
