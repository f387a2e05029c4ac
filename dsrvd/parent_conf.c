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
 * The configuration, the parent's part: open the listening sockets of
 * a configuration (taking over those a reload keeps), parse it again
 * at SIGHUP or dctl reload and push it to the children, and wipe the
 * key material once crypto has it.  A configuration with errors, or
 * whose sockets cannot be opened, leaves the running one untouched.
 */
#include <sys/types.h>
#include <sys/queue.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "parent.h"

/*
 * Open a socket for every listen address of conf, taking over the
 * socket of an identical address in old (at reload).  On failure all
 * that this call opened is closed again and old is untouched.
 */
int
parent_open_listens(struct dsrvd_conf *conf, struct dsrvd_conf *old,
    char *err, size_t errlen)
{
	struct listen_addr	*la, *ola;

	TAILQ_FOREACH(la, &conf->listens, entry) {
		la->fd = -1;
		if (old != NULL) {
			TAILQ_FOREACH(ola, &old->listens, entry)
				if (ola->fd != -1 && listen_addr_same(la, ola))
					break;
			if (ola != NULL)
				continue;	/* taken below, on success */
		}
		if ((la->fd = listen_open(la, err, errlen)) == -1)
			goto fail;
	}
	if (old != NULL) {
		TAILQ_FOREACH(la, &conf->listens, entry) {
			if (la->fd != -1)
				continue;
			TAILQ_FOREACH(ola, &old->listens, entry)
				if (ola->fd != -1 && listen_addr_same(la, ola))
					break;
			la->fd = ola->fd;
			ola->fd = -1;
		}
		TAILQ_FOREACH(ola, &old->listens, entry) {
			if (ola->fd != -1)
				(void)close(ola->fd);
			ola->fd = -1;
		}
	}
	return 0;
 fail:
	TAILQ_FOREACH(la, &conf->listens, entry) {
		if (la->fd != -1)
			(void)close(la->fd);
		la->fd = -1;
	}
	return -1;
}

/* Once crypto has them, the parent keeps no key material. */
void
parent_wipe_keys(struct dsrvd_conf *conf)
{
	struct conf_key	*k;

	TAILQ_FOREACH(k, &conf->keys, entry) {
		explicit_bzero(k->key, sizeof(k->key));
		k->loaded = 0;
	}
}

/*
 * Parse the configuration again.  On any error the running one stays,
 * untouched; settings that need a restart keep their running values.
 */
int
parent_reload(char *err, size_t errlen)
{
	struct dsrvd_conf	*conf, *old = penv.conf;
	int			 i;

	conf = parse_config(penv.conffile, CONF_SERVER | CONF_OPTIONAL);
	if (conf == NULL) {
		(void)snprintf(err, errlen, "%s has errors, keeping the "
		    "running configuration", penv.conffile);
		log_warnx("reload: %s", err);
		penv.reloads_failed++;
		return -1;
	}

#define KEEP(field, what) do {						\
	if (memcmp(&conf->field, &old->field, sizeof(conf->field)) != 0) { \
		log_warnx("reload: %s changed; restart dsrvd to apply",	\
		    what);						\
		memcpy(&conf->field, &old->field, sizeof(conf->field));	\
	}								\
} while (0)
	if (strcmp(conf->datadir, old->datadir) != 0) {
		log_warnx("reload: data directory changed; restart dsrvd to "
		    "apply");
		(void)strlcpy(conf->datadir, old->datadir,
		    sizeof(conf->datadir));
	}
	if (strcmp(conf->chroot, old->chroot) != 0) {
		log_warnx("reload: chroot changed; restart dsrvd to apply");
		(void)strlcpy(conf->chroot, old->chroot, sizeof(conf->chroot));
	}
	if (strcmp(conf->user, old->user) != 0) {
		log_warnx("reload: user changed; restart dsrvd to apply");
		(void)strlcpy(conf->user, old->user, sizeof(conf->user));
	}
	if (strcmp(conf->storage_user, old->storage_user) != 0) {
		log_warnx("reload: storage user changed; restart dsrvd to "
		    "apply");
		(void)strlcpy(conf->storage_user, old->storage_user,
		    sizeof(conf->storage_user));
	}
	if (strcmp(conf->crypto_user, old->crypto_user) != 0) {
		log_warnx("reload: crypto user changed; restart dsrvd to "
		    "apply");
		(void)strlcpy(conf->crypto_user, old->crypto_user,
		    sizeof(conf->crypto_user));
	}
	if (strcmp(conf->csock, old->csock) != 0) {
		log_warnx("reload: socket changed; restart dsrvd to apply");
		(void)strlcpy(conf->csock, old->csock, sizeof(conf->csock));
	}
	KEEP(nnetwork, "network workers");
	KEEP(nstorage, "storage workers");
	KEEP(require_mount, "require mount");
#undef KEEP
	/* The children's open-file limits were sized for it at start. */
	if (conf->max_conns > penv.maxconns) {
		log_warnx("reload: max connections above %u; restart dsrvd "
		    "to apply", penv.maxconns);
		conf->max_conns = penv.maxconns;
	}
	if (conf->max_startups > penv.maxstartups) {
		log_warnx("reload: max startups above %u; restart dsrvd "
		    "to apply", penv.maxstartups);
		conf->max_startups = penv.maxstartups;
	}

	if (parent_open_listens(conf, old, err, errlen) == -1) {
		log_warnx("reload: %s; keeping the running configuration",
		    err);
		config_free(conf);
		penv.reloads_failed++;
		return -1;
	}
	penv.conf = conf;
	config_free(old);
	penv.conf_missing = access(penv.conffile, F_OK) == -1;
	for (i = 0; i < proc_nchildren; i++)
		config_send(&proc_children[i], conf, penv.csock, 0);
	parent_wipe_keys(conf);
	penv.reloads_ok++;
	log_info("configuration reloaded");
	return 0;
}

