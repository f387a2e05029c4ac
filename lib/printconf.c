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
 * Print a configuration in the normalised form of dsrvd -nv: every
 * setting explicit, one canonical spelling, and text that parse.y
 * reads back into the same configuration.  Key material never leaves
 * the structure; only key names and file paths are printed.
 *
 * Only the printer lives here: the canonical spelling of each value
 * comes from config.c, and whether a word needs quotes from the
 * grammar's keyword table (conf_keyword() in parse.y), which never
 * calls back.  dsrvd -n and the tests link this file; dctl does not.
 */

#include <sys/types.h>
#include <sys/socket.h>

#include <netinet/in.h>
#include <netdb.h>

#include <ctype.h>
#include <stdio.h>
#include <string.h>

#include "conf.h"

static void		 print_quoted(FILE *, const char *);
static void		 print_word(FILE *, const char *);

static void
print_quoted(FILE *fp, const char *s)
{
	fputc('"', fp);
	for (; *s != '\0'; s++) {
		if (*s == '"' || *s == '\\')
			fputc('\\', fp);
		fputc(*s, fp);
	}
	fputc('"', fp);
}

/*
 * Bare when the lexer would read the word back as the same string:
 * not a keyword, not a number, only characters of unquoted words.
 */
static void
print_word(FILE *fp, const char *s)
{
	const char	*p;
	int		 digits = 1;

	if (*s == '\0' || conf_keyword(s)) {
		print_quoted(fp, s);
		return;
	}
	for (p = s; *p != '\0'; p++) {
		if (!isalnum((unsigned char)*p) &&
		    strchr(":._-/", *p) == NULL) {
			print_quoted(fp, s);
			return;
		}
		if (!isdigit((unsigned char)*p) && !(p == s && *p == '-'))
			digits = 0;
	}
	if (digits)
		print_quoted(fp, s);
	else
		fputs(s, fp);
}

void
print_config(FILE *fp, const struct dsrvd_conf *conf)
{
	struct listen_addr	*la;
	struct conf_key		*k;
	struct conf_server	*s;
	char			 buf[NI_MAXHOST];

	TAILQ_FOREACH(la, &conf->listens, entry) {
		fputs("listen on ", fp);
		print_word(fp, listen_addr_host(la, buf, sizeof(buf)));
		fprintf(fp, " port %u\n", (unsigned int)la->port);
	}

	fputs("data ", fp);
	print_quoted(fp, conf->datadir);
	fputs("\nchroot ", fp);
	print_quoted(fp, conf->chroot);
	fputs("\nuser ", fp);
	print_word(fp, conf->user);
	fputs("\nstorage user ", fp);
	print_word(fp, conf->storage_user);
	fputs("\ncrypto user ", fp);
	print_word(fp, conf->crypto_user);
	fputs("\nsocket ", fp);
	print_quoted(fp, conf->csock);
	fputc('\n', fp);
	fprintf(fp, "network workers %d\n", conf->nnetwork);
	fprintf(fp, "storage workers %d\n", conf->nstorage);
	if (conf->require_mount)
		fputs("require mount\n", fp);
	fprintf(fp, "reserve %s\n", fmt_size(conf->reserve, buf, sizeof(buf)));
	fprintf(fp, "max connections %u\n", conf->max_conns);
	fprintf(fp, "max startups %u\n", conf->max_startups);
	fprintf(fp, "max startups per source %u\n", conf->max_startups_src);
	fprintf(fp, "max rtt %s\n",
	    fmt_duration(conf->max_rtt_ms, buf, sizeof(buf)));
	fprintf(fp, "max skew %s\n",
	    fmt_duration(conf->max_skew_ms, buf, sizeof(buf)));
	fprintf(fp, "timeout handshake %s\n",
	    fmt_duration(conf->handshake_timeout_ms, buf, sizeof(buf)));
	fprintf(fp, "timeout idle %s\n",
	    fmt_duration(conf->idle_timeout_ms, buf, sizeof(buf)));
	fprintf(fp, "timeout message %s\n",
	    fmt_duration(conf->message_timeout_ms, buf, sizeof(buf)));

	TAILQ_FOREACH(k, &conf->keys, entry) {
		fputs("key ", fp);
		print_word(fp, k->name);
		fputs(" file ", fp);
		print_quoted(fp, k->path);
		fprintf(fp, " permit %s",
		    key_perms_str(k->perms, buf, sizeof(buf)));
		if (k->ns[0] != '\0') {
			fputs(" namespace ", fp);
			print_word(fp, k->ns);
		}
		fputc('\n', fp);
	}

	TAILQ_FOREACH(s, &conf->servers, entry) {
		fputs("server ", fp);
		print_word(fp, s->name);
		fputs(" address ", fp);
		print_word(fp, s->host);
		fprintf(fp, " port %u key ", (unsigned int)s->port);
		print_word(fp, s->keyname);
		fputs(" file ", fp);
		print_quoted(fp, s->keypath);
		fputc('\n', fp);
	}
}
