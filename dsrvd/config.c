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
 * The configuration series, both ends of it (as vmd's config.c): at
 * start and at every reload the parent sends each child
 *
 *	IMSG_CONF_START		the settings, lists empty
 *	IMSG_CONF_LISTEN	network: one per address, with its socket
 *	IMSG_CONF_CONTROL	network 0, at start only: the control socket
 *	IMSG_CONF_KEY		crypto only: one per key, with its material
 *	IMSG_CONF_END		apply it
 *
 * and the child builds a new struct dsrvd_conf from it, swaps it in at
 * END (the role's conf_apply hook sees old and new) and answers the
 * first END with IMSG_CHILD_READY.  Which role takes which message is
 * in the role tables; the parent sends each only what it takes.  Keys
 * go to crypto and nowhere else; every received copy is wiped.
 */
#include <sys/types.h>

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "dsrvd.h"
#include "log.h"

static void	 config_compose(struct proc_child *, uint32_t, int,
		    const void *, size_t);
static void	 config_child_free(struct dsrvd_conf *);

/*
 * The parent never sends to a child whose channel is gone: it is on
 * its way out, and the reaper takes the daemon down.
 */
static void
config_compose(struct proc_child *c, uint32_t type, int fd, const void *data,
    size_t len)
{
	if (imsgev_compose(&c->iev, type, 0, 0, fd, data, len) == -1 &&
	    errno != EPIPE)
		fatal("%s: %s to %s", __func__, imsg_name(type), c->label);
}

/* The parent: one series for one child.  csock is the control socket. */
void
config_send(struct proc_child *c, struct dsrvd_conf *conf, int csock,
    int first)
{
	struct dsrvd_conf	 copy;
	struct listen_addr	*la;
	struct conf_key		*k;
	int			 fd;

	copy = *conf;
	TAILQ_INIT(&copy.listens);
	TAILQ_INIT(&copy.keys);
	TAILQ_INIT(&copy.servers);
	config_compose(c, IMSG_CONF_START, -1, &copy, sizeof(copy));
	if (c->role == PROC_NETWORK) {
		TAILQ_FOREACH(la, &conf->listens, entry) {
			if ((fd = fcntl(la->fd, F_DUPFD_CLOEXEC, 0)) == -1)
				fatal("%s: dup", __func__);
			config_compose(c, IMSG_CONF_LISTEN, fd, la,
			    sizeof(*la));
		}
		if (first && c->instance == 0) {
			if ((fd = fcntl(csock, F_DUPFD_CLOEXEC, 0)) == -1)
				fatal("%s: dup", __func__);
			config_compose(c, IMSG_CONF_CONTROL, fd, NULL, 0);
		}
	}
	if (c->role == PROC_CRYPTO) {
		TAILQ_FOREACH(k, &conf->keys, entry)
			config_compose(c, IMSG_CONF_KEY, -1, k, sizeof(*k));
	}
	config_compose(c, IMSG_CONF_END, -1, NULL, 0);
}

/* A child's configuration, with the sockets it was given. */
static void
config_child_free(struct dsrvd_conf *conf)
{
	struct listen_addr	*la;

	if (conf == NULL)
		return;
	TAILQ_FOREACH(la, &conf->listens, entry)
		if (la->fd != -1) {
			(void)close(la->fd);
			la->fd = -1;
		}
	config_free(conf);
}

void
config_dispatch_start(struct imsgev *iev, struct imsg *imsg)
{
	struct child_env	*env = iev->arg;
	struct dsrvd_conf	*conf;

	if (env->newconf != NULL)
		fatalx("%s: configuration series already open", __func__);
	if ((conf = config_new()) == NULL)
		fatal("%s", __func__);
	if (dsrvd_conf_get(imsg, conf) == -1) {
		free(conf);
		msg_bad(iev, imsg, __func__);
	}
	env->newconf = conf;
}

void
config_dispatch_listen(struct imsgev *iev, struct imsg *imsg)
{
	struct child_env	*env = iev->arg;
	struct listen_addr	*la;

	if (env->newconf == NULL)
		fatalx("%s: no configuration series open", __func__);
	if ((la = calloc(1, sizeof(*la))) == NULL)
		fatal("%s", __func__);
	if (listen_addr_get(imsg, la) == -1)
		msg_bad(iev, imsg, __func__);
	la->fd = imsg_get_fd(imsg);
	TAILQ_INSERT_TAIL(&env->newconf->listens, la, entry);
}

void
config_dispatch_control(struct imsgev *iev, struct imsg *imsg)
{
	struct child_env	*env = iev->arg;

	if (imsg->datalen != 0 || env->init.instance != 0 ||
	    env->control_fd == NULL)
		msg_bad(iev, imsg, __func__);
	env->control_fd(env, imsg_get_fd(imsg));
}

void
config_dispatch_key(struct imsgev *iev, struct imsg *imsg)
{
	struct child_env	*env = iev->arg;
	struct conf_key		*k;

	if (env->newconf == NULL)
		fatalx("%s: no configuration series open", __func__);
	if ((k = calloc(1, sizeof(*k))) == NULL)
		fatal("%s", __func__);
	if (conf_key_get(imsg, k) == -1)
		msg_bad(iev, imsg, __func__);
	TAILQ_INSERT_TAIL(&env->newconf->keys, k, entry);
}

void
config_dispatch_end(struct imsgev *iev, struct imsg *imsg)
{
	struct child_env	*env = iev->arg;
	struct dsrvd_conf	*old;

	if (imsg->datalen != 0)
		msg_bad(iev, imsg, __func__);
	if (env->newconf == NULL)
		fatalx("%s: no configuration series open", __func__);
	old = env->conf;
	env->conf = env->newconf;
	env->newconf = NULL;
	if (env->conf_apply != NULL)
		env->conf_apply(env, old);
	config_child_free(old);
	if (!env->ready) {
		env->ready = 1;
		if (imsgev_compose(iev, IMSG_CHILD_READY, 0, 0, -1, NULL,
		    0) == -1)
			fatal("%s: compose", __func__);
	}
}
