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
 * dctl status, the parent's part: ask every child for its counters,
 * sum them, add the parent's own and what it knows of the store, and
 * answer through network 0, which holds the control connection.  A
 * child that does not answer within STATUS_TIMEOUT is left out.
 */
#include <sys/types.h>
#include <sys/queue.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "parent.h"

static struct status_req *status_find(uint32_t);
static void	 status_add(struct status_req *, const struct ctl_counter *);
static void	 status_finish(struct status_req *);
static void	 status_timeout(int, short, void *);

/* Control requests come from the control socket, which network 0 has. */
void
parent_from_control(struct imsgev *iev, struct imsg *imsg, const char *func)
{
	struct proc_child	*c = iev->arg;

	if (c->role != PROC_NETWORK || c->instance != 0)
		fatalx("%s: %s sent %s, but only network[0] has the control "
		    "socket", func, c->label, imsg_name(imsg->hdr.type));
}

/*
 * dctl status: ask every child for its counters, answer when all have
 * (or after STATUS_TIMEOUT, with what came).
 */
void
parent_dispatch_ctl_status(struct imsgev *iev, struct imsg *imsg)
{
	struct status_req	*sr;
	struct timeval		 tv = { STATUS_TIMEOUT, 0 };
	int			 i;

	parent_from_control(iev, imsg, __func__);
	if (imsg->datalen != 0)
		msg_bad(iev, imsg, __func__);
	if ((sr = calloc(1, sizeof(*sr))) == NULL)
		fatal("%s", __func__);
	sr->id = ++penv.next_reqid;
	sr->connid = imsg->hdr.peerid;
	if ((sr->timeout = evtimer_new(penv.base, status_timeout, sr)) == NULL)
		fatalx("evtimer_new failed");
	if (evtimer_add(sr->timeout, &tv) == -1)
		fatalx("evtimer_add failed");
	TAILQ_INSERT_TAIL(&penv.status_reqs, sr, entry);
	for (i = 0; i < proc_nchildren; i++) {
		if (!proc_children[i].alive ||
		    proc_compose(proc_children[i].role,
		    proc_children[i].instance, IMSG_STATS_REQ, sr->id, -1, NULL,
		    0) == -1)
			continue;
		sr->pending++;
	}
}

static struct status_req *
status_find(uint32_t id)
{
	struct status_req	*sr;

	TAILQ_FOREACH(sr, &penv.status_reqs, entry)
		if (sr->id == id)
			return sr;
	return NULL;
}

static void
status_add(struct status_req *sr, const struct ctl_counter *cc)
{
	struct ctl_counter	*n;
	size_t			 i;

	for (i = 0; i < sr->ncounters; i++)
		if (strcmp(sr->counters[i].name, cc->name) == 0) {
			sr->counters[i].value += cc->value;
			return;
		}
	n = reallocarray(sr->counters, sr->ncounters + 1, sizeof(*n));
	if (n == NULL)
		fatal("%s", __func__);
	sr->counters = n;
	sr->counters[sr->ncounters] = *cc;
	sr->ncounters++;
}

void
parent_dispatch_stats(struct imsgev *iev, struct imsg *imsg)
{
	struct status_req	*sr;
	struct ctl_counter	 cc[64];
	size_t			 i, n;

	if (ctl_counters_get(imsg, cc, sizeof(cc) / sizeof(cc[0]), &n) == -1)
		msg_bad(iev, imsg, __func__);
	if ((sr = status_find(imsg->hdr.peerid)) == NULL)
		return;		/* timed out already */
	for (i = 0; i < n; i++)
		status_add(sr, &cc[i]);
}

void
parent_dispatch_stats_end(struct imsgev *iev, struct imsg *imsg)
{
	struct status_req	*sr;

	if (imsg->datalen != 0)
		msg_bad(iev, imsg, __func__);
	if ((sr = status_find(imsg->hdr.peerid)) == NULL)
		return;
	if (--sr->pending == 0)
		status_finish(sr);
}

static void
status_timeout(int fd, short event, void *arg)
{
	struct status_req	*sr = arg;

	log_warnx("status: %d process(es) did not send counters in time",
	    sr->pending);
	status_finish(sr);
}

/* The status's counters, summed over the children, then the parent's. */
static void
status_finish(struct status_req *sr)
{
	struct ctl_status_info	 info;
	struct ctl_proc		 proc;
	struct ctl_counter	 cc;
	struct listen_addr	*la;
	struct proc_child	*c;
	struct timespec		 now;
	uint64_t		 sealed, sealfail;
	char			 addr[300];
	int			 i;

	TAILQ_REMOVE(&penv.status_reqs, sr, entry);
	evtimer_del(sr->timeout);
	event_free(sr->timeout);

	memset(&info, 0, sizeof(info));
	(void)strlcpy(info.version, DSRVD_VERSION, sizeof(info.version));
	if (clock_gettime(CLOCK_MONOTONIC, &now) == -1)
		fatal("clock_gettime");
	info.uptime = now.tv_sec - penv.start.tv_sec;
	info.conf_missing = penv.conf_missing;
	info.verbose = penv.verbose;
	(void)strlcpy(info.conffile, penv.conffile, sizeof(info.conffile));
	(void)strlcpy(info.datadir, penv.conf->datadir, sizeof(info.datadir));
	seal_status(&info, &sealed, &sealfail);
	if (proc_compose(PROC_NETWORK, 0, IMSG_CTL_STATUS_INFO, sr->connid,
	    -1, &info, sizeof(info)) == -1)
		goto done;	/* network 0 is gone, and the daemon with it */
	TAILQ_FOREACH(la, &penv.conf->listens, entry) {
		(void)listen_addr_str(la, addr, sizeof(addr));
		(void)proc_compose(PROC_NETWORK, 0, IMSG_CTL_STATUS_LISTEN,
		    sr->connid, -1, addr, strlen(addr) + 1);
	}
	memset(&proc, 0, sizeof(proc));
	(void)strlcpy(proc.role, "parent", sizeof(proc.role));
	proc.instance = -1;
	proc.pid = getpid();
	(void)proc_compose(PROC_NETWORK, 0, IMSG_CTL_STATUS_PROC, sr->connid,
	    -1, &proc, sizeof(proc));
	for (i = 0; i < proc_nchildren; i++) {
		c = &proc_children[i];
		memset(&proc, 0, sizeof(proc));
		(void)strlcpy(proc.role, proc_name(c->role),
		    sizeof(proc.role));
		proc.instance = c->instance;
		proc.pid = c->pid;
		(void)proc_compose(PROC_NETWORK, 0, IMSG_CTL_STATUS_PROC,
		    sr->connid, -1, &proc, sizeof(proc));
	}
	memset(&cc, 0, sizeof(cc));
	(void)strlcpy(cc.name, "reloads", sizeof(cc.name));
	cc.value = penv.reloads_ok;
	status_add(sr, &cc);
	(void)strlcpy(cc.name, "reloads failed", sizeof(cc.name));
	cc.value = penv.reloads_failed;
	status_add(sr, &cc);
	(void)strlcpy(cc.name, "chunks sealed", sizeof(cc.name));
	cc.value = sealed;
	status_add(sr, &cc);
	(void)strlcpy(cc.name, "seal failures", sizeof(cc.name));
	cc.value = sealfail;
	status_add(sr, &cc);
	for (i = 0; i < (int)sr->ncounters; i++)
		(void)proc_compose(PROC_NETWORK, 0, IMSG_CTL_STATUS_COUNTER,
		    sr->connid, -1, &sr->counters[i], sizeof(sr->counters[i]));
	(void)proc_compose(PROC_NETWORK, 0, IMSG_CTL_END, sr->connid, -1, NULL,
	    0);
 done:
	free(sr->counters);
	free(sr);
}

