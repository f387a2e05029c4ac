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
 * Readers of the control protocol's payloads (lib/ctl.h), for dsrvd's
 * processes and for dctl alike: nothing that arrives over the control
 * socket or a socketpair is used before it has its exact size and
 * every string in it is terminated.
 */
#include <sys/types.h>

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "ctl.h"
#include "imsg.h"

#define TERM(a)		((a)[sizeof(a) - 1] = '\0')

int
ctl_result_get(const struct imsg *imsg, struct ctl_result *r)
{
	if (imsg_get_data(imsg, r, sizeof(*r)) == -1)
		return -1;
	TERM(r->msg);
	return 0;
}

int
ctl_status_info_get(const struct imsg *imsg, struct ctl_status_info *info)
{
	if (imsg_get_data(imsg, info, sizeof(*info)) == -1)
		return -1;
	TERM(info->version);
	TERM(info->conffile);
	TERM(info->datadir);
	TERM(info->storage_msg);
	return 0;
}

int
ctl_scrub_get(const struct imsg *imsg, struct ctl_scrub *cs)
{
	return imsg_get_data(imsg, cs, sizeof(*cs));
}

int
ctl_proc_get(const struct imsg *imsg, struct ctl_proc *p)
{
	if (imsg_get_data(imsg, p, sizeof(*p)) == -1)
		return -1;
	TERM(p->role);
	return 0;
}

int
ctl_counter_get(const struct imsg *imsg, struct ctl_counter *cc)
{
	if (imsg_get_data(imsg, cc, sizeof(*cc)) == -1)
		return -1;
	TERM(cc->name);
	return 0;
}

int
ctl_counters_get(const struct imsg *imsg, struct ctl_counter *cc, size_t max,
    size_t *n)
{
	size_t	 i;

	if (imsg->datalen == 0 || imsg->datalen % sizeof(*cc) != 0 ||
	    imsg->datalen / sizeof(*cc) > max)
		return -1;
	*n = imsg->datalen / sizeof(*cc);
	memcpy(cc, imsg->data, imsg->datalen);
	for (i = 0; i < *n; i++)
		TERM(cc[i].name);
	return 0;
}
