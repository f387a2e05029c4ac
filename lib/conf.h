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
 * The configuration, as parse.y produces it and printconf.c prints it;
 * config.c makes, frees and spells its values.  Shared by dsrvd
 * (server statements) and dctl (client statements).
 */
#ifndef DSRV_CONF_H
#define DSRV_CONF_H

#include <sys/types.h>
#include <sys/queue.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>

#define DSRVD_CONF		"/etc/dsrvd.conf"
#define DSRVD_SOCKET		"/var/run/dsrvd.sock"
#define DSRVD_DATADIR		"/var/dsrvd"
#define DSRVD_CHROOT		"/var/empty"
#define DSRVD_USER		"_dsrvd"
#define DSRVD_STORAGE_USER	"_dsrvdata"
#define DSRVD_CRYPTO_USER	"_dsrvcrypto"
#define DSRVD_PORT		7481

#define CHUNK_MAX		(8 * 1024 * 1024)

#define KEY_LEN			32		/* raw key bytes */
#define KEY_NAME_MAX		32		/* [A-Za-z0-9._-], no leading . */
#define NAMESPACE_MAX		32		/* chunk directory alphabet */
#define CONF_NAME_MAX		32		/* user names and the like */

#define KEY_PERM_READ		0x01
#define KEY_PERM_WRITE		0x02
#define KEY_PERM_LIST		0x04
#define KEY_PERM_STAT		0x08
#define KEY_PERM_ADMIN		0x10
#define KEY_PERM_META		0x20		/* READ in index/ only */
/* read allows everything meta does, so the default does not name it. */
#define KEY_PERM_DEFAULT	(KEY_PERM_READ | KEY_PERM_WRITE | \
				    KEY_PERM_LIST | KEY_PERM_STAT)
#define KEY_PERM_ALL		(KEY_PERM_DEFAULT | KEY_PERM_META | \
				    KEY_PERM_ADMIN)

/* Built-in defaults; every limit has a documented range in parse.y. */
#define DEF_NETWORK_WORKERS	2
#define DEF_STORAGE_WORKERS	4
#define MAX_WORKERS		16
#define DEF_MAX_CONNS		128
#define DEF_MAX_STARTUPS	64		/* before authentication */
#define DEF_MAX_STARTUPS_SRC	16		/* of one address or /64 */
#define DEF_MAX_RTT_MS		10		/* local network */
#define DEF_MAX_SKEW_MS		(60 * 1000)
#define DEF_HANDSHAKE_TO_MS	(5 * 1000)
#define DEF_IDLE_TO_MS		(5 * 60 * 1000)
#define DEF_MESSAGE_TO_MS	(30 * 1000)
#define DEF_RESERVE		((uint64_t)0)

struct listen_addr {
	TAILQ_ENTRY(listen_addr)	 entry;
	struct sockaddr_storage		 ss;
	socklen_t			 sslen;
	in_port_t			 port;		/* host order */
	char				 name[256];	/* as written */
	int				 fd;		/* parent only */
};
TAILQ_HEAD(listen_addrs, listen_addr);

struct conf_key {
	TAILQ_ENTRY(conf_key)		 entry;
	char				 name[KEY_NAME_MAX + 1];
	char				 path[PATH_MAX];
	uint32_t			 perms;		/* KEY_PERM_* */
	char				 ns[NAMESPACE_MAX + 1]; /* "" = none */
	uint8_t				 key[KEY_LEN];	/* wiped on free */
	int				 loaded;
};
TAILQ_HEAD(conf_keys, conf_key);

/* dctl's client entries: where a server is and which key to use. */
struct conf_server {
	TAILQ_ENTRY(conf_server)	 entry;
	char				 name[CONF_NAME_MAX + 1];
	char				 host[256];
	in_port_t			 port;
	char				 keyname[KEY_NAME_MAX + 1];
	char				 keypath[PATH_MAX];
};
TAILQ_HEAD(conf_servers, conf_server);

struct dsrvd_conf {
	char			 datadir[PATH_MAX];
	char			 chroot[PATH_MAX];	/* network, crypto */
	char			 user[CONF_NAME_MAX + 1];
	char			 storage_user[CONF_NAME_MAX + 1];
	char			 crypto_user[CONF_NAME_MAX + 1];
	char			 csock[PATH_MAX];
	int			 require_mount;
	int			 nnetwork;
	int			 nstorage;
	unsigned int		 max_conns;		/* authenticated */
	unsigned int		 max_startups;		/* in the handshake */
	unsigned int		 max_startups_src;	/* ... per source */
	unsigned int		 max_rtt_ms;
	unsigned int		 max_skew_ms;
	unsigned int		 handshake_timeout_ms;
	unsigned int		 idle_timeout_ms;
	unsigned int		 message_timeout_ms;
	uint64_t		 reserve;		/* bytes kept free */
	struct listen_addrs	 listens;
	struct conf_keys	 keys;
	struct conf_servers	 servers;		/* dctl only */
};

/* parse.y */

/* parse_config() flags */
#define CONF_SERVER		0x01	/* dsrvd.conf: server statements */
#define CONF_CLIENT		0x02	/* dctl: server entries too */
#define CONF_NOKEYS		0x04	/* do not read key files */
#define CONF_OPTIONAL		0x08	/* a missing file means defaults */

/*
 * Parse file into a new configuration with defaults filled in.  Errors
 * are logged with log_warnx() as "file:line: message", every one of
 * them, and NULL is returned.  Without a listen statement the server
 * listens on 127.0.0.1 and ::1, port DSRVD_PORT.
 */
struct dsrvd_conf	*parse_config(const char *file, int flags);
/* -D name=value; returns -1 on a malformed definition. */
int			 cmdline_symset(const char *);
/* Is the word a keyword of the grammar?  (Then it prints quoted.) */
int			 conf_keyword(const char *);

/* config.c */
/* A configuration with every default and no listen, key or server. */
struct dsrvd_conf	*config_new(void);
/* Free everything, wiping key material; closes no fds. */
void			 config_free(struct dsrvd_conf *);
/* Same family, address and port (the name as written does not count). */
int			 listen_addr_same(const struct listen_addr *,
			    const struct listen_addr *);
/* The numeric address ("::1") into buf; returns buf. */
const char		*listen_addr_host(const struct listen_addr *,
			    char *, size_t);
/* "127.0.0.1 port 7481" / "::1 port 7481" into buf; returns buf. */
const char		*listen_addr_str(const struct listen_addr *,
			    char *, size_t);
/* "read, write" etc. into buf; returns buf. */
const char		*key_perms_str(uint32_t, char *, size_t);
/*
 * The KEY_PERM_* bits of which a WIRE_M_* request on the chunk name
 * (DIR/NAME, or DIR for LIST; namelen bytes, no NUL needed) needs one,
 * 0 for a method that needs none or does not exist.
 */
uint32_t		 key_perm_need(uint64_t, const char *, size_t);
/* Do the permissions allow the request?  1 if they do, else 0. */
int			 key_perm_ok(uint32_t, uint64_t, const char *, size_t);
/* Canonical duration and size text ("500ms", "30s", "8M"). */
const char		*fmt_duration(unsigned int ms, char *, size_t);
const char		*fmt_size(uint64_t, char *, size_t);

/* printconf.c: the normalised form, parseable again (dsrvd -nv). */
void			 print_config(FILE *, const struct dsrvd_conf *);

/* keyfile.c */
/*
 * Load a key file: one line, the 32-byte key in standard base64 (44
 * characters), optionally followed by a newline.  The file must be a
 * regular file owned by root or the caller and not accessible to
 * group or others.  Returns -1 with the reason in errbuf.
 */
int			 key_load(const char *path, uint8_t key[KEY_LEN],
			    char *errbuf, size_t errlen);

#endif /* DSRV_CONF_H */
