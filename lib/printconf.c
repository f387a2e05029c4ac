/*
 * Print a configuration in the normalised form of dsrvd -nv: every
 * setting explicit, one canonical spelling, and text that parse.y
 * reads back into the same configuration.  Key material never leaves
 * the structure; only key names and file paths are printed.
 */

#include <sys/types.h>
#include <sys/socket.h>

#include <netinet/in.h>
#include <netdb.h>

#include <ctype.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "conf.h"

static const char	*addr_str(const struct listen_addr *, char *, size_t);
static void		 print_quoted(FILE *, const char *);
static void		 print_word(FILE *, const char *);

static const struct {
	uint32_t	 perm;
	const char	*name;
} perm_names[] = {
	{ KEY_PERM_READ,	"read" },
	{ KEY_PERM_WRITE,	"write" },
	{ KEY_PERM_LIST,	"list" },
	{ KEY_PERM_STAT,	"stat" },
	{ KEY_PERM_ADMIN,	"admin" },
};

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

static const char *
addr_str(const struct listen_addr *la, char *buf, size_t len)
{
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
	    addr_str(la, host, sizeof(host)), (unsigned int)la->port);
	return (buf);
}

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
		print_word(fp, addr_str(la, buf, sizeof(buf)));
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
	fputs("\nsocket ", fp);
	print_quoted(fp, conf->csock);
	fputc('\n', fp);
	fprintf(fp, "network workers %d\n", conf->nnetwork);
	fprintf(fp, "storage workers %d\n", conf->nstorage);
	if (conf->require_mount)
		fputs("require mount\n", fp);
	fprintf(fp, "reserve %s\n", fmt_size(conf->reserve, buf, sizeof(buf)));
	fprintf(fp, "max connections %u\n", conf->max_conns);
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
