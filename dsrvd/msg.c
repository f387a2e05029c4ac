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
 * Readers of the message payloads dsrvd.h defines, and the names of
 * the message types for log lines.  A reader takes a message of exactly
 * its struct's size and terminates every string member, so no handler
 * copies or terminates anything itself.  Nothing here calls back into
 * the processes: every file of dsrvd may use it.
 */
#include <sys/types.h>

#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <syslog.h>

#include "dsrvd.h"
#include "log.h"

/* Terminate a char array member of a struct just read. */
#define TERM(a)		((a)[sizeof(a) - 1] = '\0')

static const struct {
	uint32_t	 type;
	const char	*name;
} imsg_names[] = {
	{ IMSG_CTL_STATUS,		"IMSG_CTL_STATUS" },
	{ IMSG_CTL_RELOAD,		"IMSG_CTL_RELOAD" },
	{ IMSG_CTL_LOG_VERBOSE,		"IMSG_CTL_LOG_VERBOSE" },
	{ IMSG_CTL_SCRUB,		"IMSG_CTL_SCRUB" },
	{ IMSG_CTL_RESULT,		"IMSG_CTL_RESULT" },
	{ IMSG_CTL_STATUS_INFO,		"IMSG_CTL_STATUS_INFO" },
	{ IMSG_CTL_STATUS_LISTEN,	"IMSG_CTL_STATUS_LISTEN" },
	{ IMSG_CTL_STATUS_PROC,		"IMSG_CTL_STATUS_PROC" },
	{ IMSG_CTL_STATUS_COUNTER,	"IMSG_CTL_STATUS_COUNTER" },
	{ IMSG_CTL_END,			"IMSG_CTL_END" },
	{ IMSG_INIT,			"IMSG_INIT" },
	{ IMSG_INIT_PEER,		"IMSG_INIT_PEER" },
	{ IMSG_INIT_SHM,		"IMSG_INIT_SHM" },
	{ IMSG_INIT_END,		"IMSG_INIT_END" },
	{ IMSG_CONF_START,		"IMSG_CONF_START" },
	{ IMSG_CONF_LISTEN,		"IMSG_CONF_LISTEN" },
	{ IMSG_CONF_CONTROL,		"IMSG_CONF_CONTROL" },
	{ IMSG_CONF_KEY,		"IMSG_CONF_KEY" },
	{ IMSG_CONF_END,		"IMSG_CONF_END" },
	{ IMSG_CHILD_HELLO,		"IMSG_CHILD_HELLO" },
	{ IMSG_CHILD_READY,		"IMSG_CHILD_READY" },
	{ IMSG_LOG,			"IMSG_LOG" },
	{ IMSG_STATS_REQ,		"IMSG_STATS_REQ" },
	{ IMSG_STATS,			"IMSG_STATS" },
	{ IMSG_STATS_END,		"IMSG_STATS_END" },
	{ IMSG_VERBOSE,			"IMSG_VERBOSE" },
	{ IMSG_HS_HELLO,		"IMSG_HS_HELLO" },
	{ IMSG_HS_CHALLENGE,		"IMSG_HS_CHALLENGE" },
	{ IMSG_HS_FINISH,		"IMSG_HS_FINISH" },
	{ IMSG_HS_OK,			"IMSG_HS_OK" },
	{ IMSG_HS_FAIL,			"IMSG_HS_FAIL" },
	{ IMSG_HS_ABORT,		"IMSG_HS_ABORT" },
	{ IMSG_ST_GRANT,		"IMSG_ST_GRANT" },
	{ IMSG_ST_GRANT_ACK,		"IMSG_ST_GRANT_ACK" },
	{ IMSG_ST_SESSION_END,		"IMSG_ST_SESSION_END" },
	{ IMSG_ST_WRITE,		"IMSG_ST_WRITE" },
	{ IMSG_ST_READ,			"IMSG_ST_READ" },
	{ IMSG_ST_LIST,			"IMSG_ST_LIST" },
	{ IMSG_ST_STAT,			"IMSG_ST_STAT" },
	{ IMSG_ST_DIGEST,		"IMSG_ST_DIGEST" },
	{ IMSG_ST_STATFS,		"IMSG_ST_STATFS" },
	{ IMSG_ST_RESULT,		"IMSG_ST_RESULT" },
	{ IMSG_ST_SEAL,			"IMSG_ST_SEAL" },
	{ IMSG_ST_SEALED,		"IMSG_ST_SEALED" },
	{ IMSG_ST_MKDIR,		"IMSG_ST_MKDIR" },
	{ IMSG_ST_MKDIR_DONE,		"IMSG_ST_MKDIR_DONE" },
	{ IMSG_ST_FLUSHFAIL,		"IMSG_ST_FLUSHFAIL" },
	{ IMSG_ST_READONLY,		"IMSG_ST_READONLY" },
	{ IMSG_ST_SCRUB,		"IMSG_ST_SCRUB" },
	{ IMSG_ST_SCRUB_RESULT,		"IMSG_ST_SCRUB_RESULT" },
};

/* The type's name, or its number for one nobody defined. */
const char *
imsg_name(uint32_t type)
{
	static char	 buf[32];
	size_t		 i;

	for (i = 0; i < sizeof(imsg_names) / sizeof(imsg_names[0]); i++)
		if (imsg_names[i].type == type)
			return imsg_names[i].name;
	(void)snprintf(buf, sizeof(buf), "unknown message type %u", type);
	return buf;
}

void
msg_bad(struct imsgev *iev, const struct imsg *imsg, const char *func)
{
	fatalx("%s: %s from %s: bad message (%zu bytes%s)", func,
	    imsg_name(imsg->hdr.type), iev->name, imsg->datalen,
	    imsg->fd != -1 ? ", with fd" : "");
}

int
st_req_get(const struct imsg *imsg, struct st_req *req)
{
	if (imsg_get_data(imsg, req, sizeof(*req)) == -1)
		return -1;
	TERM(req->ns);
	TERM(req->name);
	TERM(req->after);
	return 0;
}

int
st_res_get(const struct imsg *imsg, struct st_res *res)
{
	if (imsg_get_data(imsg, res, sizeof(*res)) == -1)
		return -1;
	TERM(res->msg);
	return 0;
}

int
st_seal_get(const struct imsg *imsg, struct st_seal *seal)
{
	if (imsg_get_data(imsg, seal, sizeof(*seal)) == -1)
		return -1;
	TERM(seal->name);
	TERM(seal->msg);
	return 0;
}

int
st_mkdir_get(const struct imsg *imsg, struct st_mkdir *m)
{
	if (imsg_get_data(imsg, m, sizeof(*m)) == -1)
		return -1;
	TERM(m->ns);
	TERM(m->dir);
	TERM(m->msg);
	return 0;
}

int
st_grant_get(const struct imsg *imsg, struct st_grant *g)
{
	if (imsg_get_data(imsg, g, sizeof(*g)) == -1)
		return -1;
	TERM(g->keyname);
	TERM(g->ns);
	return 0;
}

int
st_sid_get(const struct imsg *imsg, struct st_sid *s)
{
	return imsg_get_data(imsg, s, sizeof(*s));
}

int
hs_hello_get(const struct imsg *imsg, struct hs_hello *hh)
{
	if (imsg_get_data(imsg, hh, sizeof(*hh)) == -1)
		return -1;
	TERM(hh->peer);
	return 0;
}

int
hs_challenge_get(const struct imsg *imsg, struct hs_challenge *hc)
{
	return imsg_get_data(imsg, hc, sizeof(*hc));
}

int
hs_finish_get(const struct imsg *imsg, struct hs_finish *hf)
{
	return imsg_get_data(imsg, hf, sizeof(*hf));
}

/* Session keys: the received copy is wiped once read. */
int
hs_ok_get(struct imsg *imsg, struct hs_ok *ok)
{
	int	 r;

	r = imsg_get_data(imsg, ok, sizeof(*ok));
	explicit_bzero(imsg->data, imsg->datalen);
	if (r == -1)
		return -1;
	TERM(ok->keyname);
	TERM(ok->ns);
	return 0;
}

int
hs_fail_get(const struct imsg *imsg, struct hs_fail *f)
{
	if (imsg_get_data(imsg, f, sizeof(*f)) == -1)
		return -1;
	TERM(f->keyname);
	return 0;
}

int
proc_init_get(const struct imsg *imsg, struct proc_init *in)
{
	if (imsg_get_data(imsg, in, sizeof(*in)) == -1)
		return -1;
	TERM(in->chroot);
	TERM(in->user);
	return 0;
}

int
proc_peer_get(const struct imsg *imsg, struct proc_peer *p)
{
	return imsg_get_data(imsg, p, sizeof(*p));
}

/* The lists are the receiver's to fill: they start empty. */
int
dsrvd_conf_get(const struct imsg *imsg, struct dsrvd_conf *conf)
{
	if (imsg_get_data(imsg, conf, sizeof(*conf)) == -1)
		return -1;
	TAILQ_INIT(&conf->listens);
	TAILQ_INIT(&conf->keys);
	TAILQ_INIT(&conf->servers);
	TERM(conf->datadir);
	TERM(conf->chroot);
	TERM(conf->csock);
	TERM(conf->user);
	TERM(conf->storage_user);
	TERM(conf->crypto_user);
	return 0;
}

int
listen_addr_get(const struct imsg *imsg, struct listen_addr *la)
{
	if (imsg_get_data(imsg, la, sizeof(*la)) == -1)
		return -1;
	TERM(la->name);
	la->fd = -1;
	return 0;
}

/* Key material: the received copy is wiped once read. */
int
conf_key_get(struct imsg *imsg, struct conf_key *k)
{
	int	 r;

	r = imsg_get_data(imsg, k, sizeof(*k));
	explicit_bzero(imsg->data, imsg->datalen);
	if (r == -1)
		return -1;
	TERM(k->name);
	TERM(k->path);
	TERM(k->ns);
	return 0;
}

/* Text of 1 to len bytes, NUL included. */
int
msg_string_get(const struct imsg *imsg, char *buf, size_t len)
{
	if (imsg->datalen == 0 || imsg->datalen > len ||
	    ((const char *)imsg->data)[imsg->datalen - 1] != '\0' ||
	    memchr(imsg->data, '\0', imsg->datalen) !=
	    (const char *)imsg->data + imsg->datalen - 1)
		return -1;
	memcpy(buf, imsg->data, imsg->datalen);
	return 0;
}

/*
 * A log line: a priority a child may log at (not LOG_EMERG or
 * LOG_ALERT, no facility bits) and 1 to LOG_LINE_MAX bytes of text
 * whose only NUL ends the message.
 */
int
log_line_get(const struct imsg *imsg, struct log_line *ll)
{
	const size_t	 off = offsetof(struct log_line, text);
	const char	*text;
	size_t		 len;

	if (imsg->datalen <= off || imsg->datalen > sizeof(*ll))
		return -1;
	text = (const char *)imsg->data + off;
	len = imsg->datalen - off;
	if (memchr(text, '\0', len) != text + len - 1)
		return -1;
	memcpy(ll, imsg->data, imsg->datalen);
	switch (ll->pri) {
	case LOG_CRIT:
	case LOG_ERR:
	case LOG_WARNING:
	case LOG_NOTICE:
	case LOG_INFO:
	case LOG_DEBUG:
		return 0;
	default:
		return -1;
	}
}
