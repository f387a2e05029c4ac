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
 * The configuration grammar of dsrvd.conf(5), shared by dsrvd (server
 * statements) and dctl (its "server" entries).
 *
 * The lexer reads one file at a time from a stack of included files.
 * Each file keeps its own push-back buffer and macro expansion, so an
 * include never sees characters that belong to the file including it.
 * A file that is on the stack already is not read again (a cycle), and
 * one parse opens a bounded number of files, so that no configuration
 * can keep a reload from finishing.
 *
 * Errors never stop the parse: each one is logged as "file:line: msg"
 * and the parse goes on to the next line, so that one run reports all
 * of them.
 *
 * The actions fill a struct dsrvd_conf made by lib/config.c, which
 * also spells values for the error messages; lib/printconf.c prints
 * the result and asks only conf_keyword() of this file.
 */

%{
#include <sys/types.h>
#include <sys/queue.h>
#include <sys/socket.h>
#include <sys/stat.h>

#include <netinet/in.h>
#include <arpa/inet.h>

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <netdb.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "conf.h"
#include "log.h"

#define TOKEN_MAX		8192	/* longest word or quoted string */
#define PUSHBACK_MAX		128
#define INCLUDE_DEPTH_MAX	16	/* nesting; cycles are refused anyway */
/*
 * Files opened by one parse, the top one included.  Without it a file
 * that includes another twice, which includes a third twice, and so
 * on, reads 2^INCLUDE_DEPTH_MAX files: a reload would hang the parent.
 */
#define INCLUDE_FILES_MAX	64

struct file {
	TAILQ_ENTRY(file)	 entry;
	FILE			*stream;
	char			*name;
	int			 lineno;
	int			 lastc;	/* last char from stream */
	int			 eof;
	int			 pushback[PUSHBACK_MAX];
	int			 npushback;
	char			*expand;	/* macro value being read */
	size_t			 expandpos;
	int			 tail;	/* char after macro name */
	dev_t			 dev;	/* which file, for include cycles */
	ino_t			 ino;
};
TAILQ_HEAD(files, file);

struct sym {
	TAILQ_ENTRY(sym)	 entry;
	int			 persist;	/* -D: beats the file */
	char			*name;
	char			*val;
};
TAILQ_HEAD(syms, sym);

/* Token strings live until the end of the parse; see tokstr(). */
struct tokstr {
	struct tokstr		*next;
	char			 s[];
};

/* Where a setting was made, for checks that need the whole file. */
struct where {
	char			 file[PATH_MAX];
	int			 line;
	int			 seq;
};

typedef struct {
	union {
		int64_t		 number;
		char		*string;
	} v;
	int lineno;
} YYSTYPE;
#define YYSTYPE_IS_DECLARED 1

static struct files		 files = TAILQ_HEAD_INITIALIZER(files);
static struct file		*file;
static struct syms		 symhead = TAILQ_HEAD_INITIALIZER(symhead);
static struct tokstr		*tokstrs;
static struct dsrvd_conf	*conf;
static int			 parse_flags;
static int			 errors;
static int			 lexerr;
static struct where		 user_where, suser_where, cuser_where;
static int			 where_seq;
static int			 nfiles;	/* opened by this parse */

static struct {
	uint32_t		 perms;
	int			 perms_set;
	char			 ns[NAMESPACE_MAX + 1];
	int			 ns_set;
} keyopts;

int		 yyparse(void);
int		 yylex(void);
int		 yyerror(const char *);
static void	 conferr(const char *, ...)
		    __attribute__((__format__ (printf, 1, 2)));
static int	 kw_cmp(const void *, const void *);
static int	 lookup(const char *);
static int	 lgetc(int);
static void	 lungetc(int);
static int	 findeol(void);
static int	 isword(int);
static int	 expand_macro(void);
static char	*tokstr(const char *);
static struct file *pushfile(const char *, int);
static int	 include_cycle(const char *, const struct stat *);
static int	 popfile(void);
static void	 closefiles(void);
static int	 symset(const char *, const char *, int);
static char	*symget(const char *);
static int	 valid_macro_name(const char *);
static int	 valid_name(const char *, size_t);
static int	 mode_server(const char *);
static int	 mode_client(void);
static int64_t	 parse_duration(const char *);
static int64_t	 parse_size(const char *);
static void	 set_duration(const char *, unsigned int *, int64_t,
		    unsigned int, unsigned int);
static void	 set_path(const char *, char *, const char *);
static void	 set_user(const char *, char *, struct where *,
		    const char *);
static void	 users_differ(const char *, const char *, struct where *,
		    const char *, const char *, struct where *);
static void	 set_workers(const char *, int *, int64_t);
static void	 set_count(const char *, unsigned int *, int64_t);
static int	 add_listen(const char *, int, int);
static int	 sa_cmp(const void *, const void *);
static void	 add_key(const char *, const char *);
static void	 add_server(const char *, const char *, int, const char *,
		    const char *);
%}

%token	ADDRESS CHROOT CONNECTIONS CRYPTO DATA FILE_ HANDSHAKE IDLE INCLUDE KEY
%token	LISTEN MAX MESSAGE MOUNT NAMESPACE NETWORK ON PER PERMIT PORT REQUIRE
%token	RESERVE RTT SERVER SKEW SOCKET SOURCE STARTUPS STORAGE TIMEOUT USER
%token	WORKERS
%token	ERROR
%token	<v.string>	STRING
%token	<v.number>	NUMBER
%type	<v.string>	name
%type	<v.number>	port duration size perm permlist
%%

grammar		: /* empty */
		| grammar '\n'
		| grammar include '\n'
		| grammar varset '\n'
		| grammar main '\n'
		| grammar error '\n'	{ yyerrok; }
		;

include		: INCLUDE STRING		{
			struct file	*nfile;

			if ((nfile = pushfile($2, 0)) != NULL) {
				file = nfile;
				/*
				 * Finish the include statement inside the
				 * new file; its line count starts at 0 to
				 * make up for this newline.
				 */
				lungetc('\n');
			}
		}
		;

name		: STRING
		| NUMBER			{
			char	buf[32];

			(void)snprintf(buf, sizeof(buf), "%lld",
			    (long long)$1);
			$$ = tokstr(buf);
		}
		;

varset		: STRING '=' STRING		{
			if (!valid_macro_name($1))
				conferr("invalid macro name '%s'", $1);
			else if (symset($1, $3, 0) == -1)
				fatal("%s: symset", __func__);
		}
		| STRING '=' NUMBER		{
			char	buf[32];

			(void)snprintf(buf, sizeof(buf), "%lld",
			    (long long)$3);
			if (!valid_macro_name($1))
				conferr("invalid macro name '%s'", $1);
			else if (symset($1, buf, 0) == -1)
				fatal("%s: symset", __func__);
		}
		;

port		: /* empty */			{ $$ = DSRVD_PORT; }
		| PORT NUMBER			{
			if ($2 < 1 || $2 > 65535) {
				conferr("port must be 1..65535");
				$$ = -1;
			} else
				$$ = $2;
		}
		;

duration	: NUMBER			{
			/* A bare number counts seconds. */
			if ($1 < 0 || $1 > INT64_MAX / 1000) {
				conferr("invalid duration '%lld'",
				    (long long)$1);
				$$ = -1;
			} else
				$$ = $1 * 1000;
		}
		| STRING			{
			if (($$ = parse_duration($1)) == -1)
				conferr("invalid duration '%s' "
				    "(use ms, s, m or h)", $1);
		}
		;

size		: NUMBER			{
			if ($1 < 0) {
				conferr("invalid size '%lld'", (long long)$1);
				$$ = -1;
			} else
				$$ = $1;
		}
		| STRING			{
			if (($$ = parse_size($1)) == -1)
				conferr("invalid size '%s' (use K, M, G or T)",
				    $1);
		}
		;

main		: LISTEN ON name port		{
			if (mode_server("listen") && $4 != -1)
				(void)add_listen($3, (int)$4, 1);
		}
		| DATA STRING			{
			if (mode_server("data"))
				set_path("data", conf->datadir, $2);
		}
		| CHROOT STRING			{
			if (mode_server("chroot"))
				set_path("chroot", conf->chroot, $2);
		}
		| USER name			{
			if (mode_server("user"))
				set_user("user", conf->user, &user_where, $2);
		}
		| STORAGE USER name		{
			if (mode_server("storage user"))
				set_user("storage user", conf->storage_user,
				    &suser_where, $3);
		}
		| CRYPTO USER name		{
			if (mode_server("crypto user"))
				set_user("crypto user", conf->crypto_user,
				    &cuser_where, $3);
		}
		| SOCKET STRING			{
			/* dctl reads it too, to find the daemon. */
			set_path("socket", conf->csock, $2);
		}
		| NETWORK WORKERS NUMBER	{
			if (mode_server("network workers"))
				set_workers("network workers", &conf->nnetwork,
				    $3);
		}
		| STORAGE WORKERS NUMBER	{
			if (mode_server("storage workers"))
				set_workers("storage workers", &conf->nstorage,
				    $3);
		}
		| REQUIRE MOUNT			{
			if (mode_server("require mount"))
				conf->require_mount = 1;
		}
		| RESERVE size			{
			if (mode_server("reserve") && $2 != -1)
				conf->reserve = (uint64_t)$2;
		}
		| MAX CONNECTIONS NUMBER	{
			if (mode_server("max connections"))
				set_count("max connections", &conf->max_conns,
				    $3);
		}
		| MAX STARTUPS NUMBER		{
			if (mode_server("max startups"))
				set_count("max startups", &conf->max_startups,
				    $3);
		}
		| MAX STARTUPS STRING		{
			/* sshd_config's MaxStartups, by habit. */
			if (mode_server("max startups"))
				conferr("max startups takes one number, not "
				    "'%s' (there is no random early drop: "
				    "see dsrvd.conf(5))", $3);
		}
		| MAX STARTUPS PER SOURCE NUMBER {
			if (mode_server("max startups per source"))
				set_count("max startups per source",
				    &conf->max_startups_src, $5);
		}
		| MAX RTT duration		{
			if (mode_server("max rtt"))
				set_duration("max rtt", &conf->max_rtt_ms, $3,
				    1, 10 * 1000);
		}
		| MAX SKEW duration		{
			if (mode_server("max skew"))
				set_duration("max skew", &conf->max_skew_ms,
				    $3, 1000, 3600 * 1000);
		}
		| TIMEOUT HANDSHAKE duration	{
			if (mode_server("timeout handshake"))
				set_duration("timeout handshake",
				    &conf->handshake_timeout_ms, $3,
				    100, 5 * 60 * 1000);
		}
		| TIMEOUT IDLE duration		{
			if (mode_server("timeout idle"))
				set_duration("timeout idle",
				    &conf->idle_timeout_ms, $3,
				    1000, 24 * 3600 * 1000);
		}
		| TIMEOUT MESSAGE duration	{
			if (mode_server("timeout message"))
				set_duration("timeout message",
				    &conf->message_timeout_ms, $3,
				    100, 3600 * 1000);
		}
		| KEY name FILE_ STRING		{
			memset(&keyopts, 0, sizeof(keyopts));
			keyopts.perms = KEY_PERM_DEFAULT;
		} keyopts			{
			if (mode_server("key"))
				add_key($2, $4);
		}
		| SERVER name ADDRESS name port KEY name FILE_ STRING {
			if (mode_client() && $5 != -1)
				add_server($2, $4, (int)$5, $7, $9);
		}
		;

keyopts		: /* empty */
		| keyopts keyopt
		;

keyopt		: PERMIT permlist		{
			if (keyopts.perms_set)
				conferr("permit given twice");
			keyopts.perms_set = 1;
			keyopts.perms = (uint32_t)$2;
		}
		| NAMESPACE name		{
			if (keyopts.ns_set)
				conferr("namespace given twice");
			keyopts.ns_set = 1;
			if (!valid_name($2, NAMESPACE_MAX))
				conferr("invalid namespace '%s' (1..%d of "
				    "A-Z a-z 0-9 . _ -, no leading dot)",
				    $2, NAMESPACE_MAX);
			else
				(void)strlcpy(keyopts.ns, $2,
				    sizeof(keyopts.ns));
		}
		;

permlist	: perm
		| permlist ',' perm		{ $$ = $1 | $3; }
		;

perm		: STRING			{
			if (strcmp($1, "read") == 0)
				$$ = KEY_PERM_READ;
			else if (strcmp($1, "write") == 0)
				$$ = KEY_PERM_WRITE;
			else if (strcmp($1, "list") == 0)
				$$ = KEY_PERM_LIST;
			else if (strcmp($1, "stat") == 0)
				$$ = KEY_PERM_STAT;
			else if (strcmp($1, "meta") == 0)
				$$ = KEY_PERM_META;
			else if (strcmp($1, "admin") == 0)
				$$ = KEY_PERM_ADMIN;
			else if (strcmp($1, "all") == 0)
				$$ = KEY_PERM_ALL;
			else {
				conferr("unknown permission '%s' (read, write, "
				    "list, stat, meta, admin or all)", $1);
				$$ = 0;
			}
		}
		;

%%

static void
conferr(const char *fmt, ...)
{
	va_list	 ap;
	char	*msg;

	errors++;
	va_start(ap, fmt);
	if (vasprintf(&msg, fmt, ap) == -1)
		fatal("%s: vasprintf", __func__);
	va_end(ap);
	log_warnx("%s:%d: %s", file->name, yylval.lineno, msg);
	free(msg);
}

/* Called by the generated parser only, for syntax errors. */
int
yyerror(const char *msg)
{
	/* The lexer has already said what was wrong with this token. */
	if (lexerr) {
		lexerr = 0;
		errors++;
		return (0);
	}
	conferr("%s", msg);
	return (0);
}

struct keyword {
	const char	*k_name;
	int		 k_val;
};

/* Sorted by name: lookup() uses bsearch. */
static const struct keyword keywords[] = {
	{ "address",		ADDRESS },
	{ "chroot",		CHROOT },
	{ "connections",	CONNECTIONS },
	{ "crypto",		CRYPTO },
	{ "data",		DATA },
	{ "file",		FILE_ },
	{ "handshake",		HANDSHAKE },
	{ "idle",		IDLE },
	{ "include",		INCLUDE },
	{ "key",		KEY },
	{ "listen",		LISTEN },
	{ "max",		MAX },
	{ "message",		MESSAGE },
	{ "mount",		MOUNT },
	{ "namespace",		NAMESPACE },
	{ "network",		NETWORK },
	{ "on",			ON },
	{ "per",		PER },
	{ "permit",		PERMIT },
	{ "port",		PORT },
	{ "require",		REQUIRE },
	{ "reserve",		RESERVE },
	{ "rtt",		RTT },
	{ "server",		SERVER },
	{ "skew",		SKEW },
	{ "socket",		SOCKET },
	{ "source",		SOURCE },
	{ "startups",		STARTUPS },
	{ "storage",		STORAGE },
	{ "timeout",		TIMEOUT },
	{ "user",		USER },
	{ "workers",		WORKERS },
};

static int
kw_cmp(const void *k, const void *e)
{
	return (strcmp(k, ((const struct keyword *)e)->k_name));
}

static int
lookup(const char *s)
{
	const struct keyword	*p;

	p = bsearch(s, keywords, sizeof(keywords) / sizeof(keywords[0]),
	    sizeof(keywords[0]), kw_cmp);
	return (p != NULL ? p->k_val : STRING);
}

int
conf_keyword(const char *s)
{
	return (lookup(s) != STRING);
}

/*
 * Token strings are copied into the configuration by the actions, so
 * they only need to live as long as the parse.  Keeping them on one
 * list frees them all at the end, also those the parser drops while
 * it recovers from a syntax error.
 */
static char *
tokstr(const char *s)
{
	struct tokstr	*t;
	size_t		 len;

	len = strlen(s) + 1;
	if ((t = malloc(sizeof(*t) + len)) == NULL)
		fatal("%s: malloc", __func__);
	memcpy(t->s, s, len);
	t->next = tokstrs;
	tokstrs = t;
	return (t->s);
}

static void
tokstr_freeall(void)
{
	struct tokstr	*t;

	while ((t = tokstrs) != NULL) {
		tokstrs = t->next;
		free(t);
	}
}

/*
 * One character of input.  Inside quotes (quotec != 0) a backslash is
 * left to the string reader; elsewhere a backslash before a newline
 * joins the two lines.  A file that does not end in a newline gets
 * one, so that its last statement is complete.
 */
static int
lgetc(int quotec)
{
	int	c, next;

	if (file->npushback > 0)
		return (file->pushback[--file->npushback]);

	if (file->expand != NULL) {
		c = (unsigned char)file->expand[file->expandpos];
		if (c != '\0') {
			file->expandpos++;
			return (c);
		}
		free(file->expand);
		file->expand = NULL;
		file->expandpos = 0;
	}
	if (file->tail != EOF) {
		c = file->tail;
		file->tail = EOF;
		return (c);
	}

	for (;;) {
		if (file->eof)
			return (EOF);
		c = getc(file->stream);
		if (c == EOF) {
			if (ferror(file->stream)) {
				log_warnx("%s: %s", file->name,
				    strerror(errno));
				errors++;
			}
			file->eof = 1;
			if (file->lastc != '\n' && file->lastc != EOF) {
				file->lastc = '\n';
				return ('\n');
			}
			return (EOF);
		}
		file->lastc = c;
		if (c != '\\' || quotec)
			return (c);
		next = getc(file->stream);
		if (next != '\n') {
			if (next != EOF) {
				(void)ungetc(next, file->stream);
			}
			return (c);
		}
		file->lastc = next;
		file->lineno++;
	}
}

static void
lungetc(int c)
{
	if (c == EOF)
		return;
	if (file->npushback >= PUSHBACK_MAX)
		fatal("%s: push-back buffer full", __func__);
	file->pushback[file->npushback++] = c;
}

/*
 * Skip the rest of a line after an error the lexer found and report
 * it as one ERROR token; the newline is left for the parser, which
 * then recovers at the end of this line.
 */
static int
findeol(void)
{
	int	c;

	while ((c = lgetc(0)) != '\n' && c != EOF)
		;
	lungetc(c);
	lexerr = 1;
	return (ERROR);
}

static int
isword(int c)
{
	return (c != EOF && (isalnum(c) || c == ':' || c == '.' ||
	    c == '_' || c == '-' || c == '/'));
}

/*
 * Called after a '$': read the macro name and continue the input with
 * its value.  A value is not expanded again, so macros cannot recurse.
 */
static int
expand_macro(void)
{
	char	 buf[TOKEN_MAX];
	char	*val;
	size_t	 len = 0;
	int	 c;

	while ((c = lgetc(0)) != EOF && (isalnum(c) || c == '_')) {
		if (len + 1 >= sizeof(buf)) {
			conferr("macro name too long");
			lungetc(c);
			return (-1);
		}
		buf[len++] = (char)c;
	}
	buf[len] = '\0';
	if (len == 0) {
		conferr("'$' without a macro name");
		lungetc(c);
		return (-1);
	}
	if ((val = symget(buf)) == NULL) {
		conferr("macro '%s' not defined", buf);
		lungetc(c);
		return (-1);
	}
	free(file->expand);
	if ((file->expand = strdup(val)) == NULL)
		fatal("%s: strdup", __func__);
	file->expandpos = 0;
	/*
	 * The character that ended the name comes after the value, and
	 * outside of it, so that "$a$b" expands both.
	 */
	file->tail = c;
	return (0);
}

int
yylex(void)
{
	char		 buf[TOKEN_MAX];
	const char	*errstr;
	char		*p;
	size_t		 len;
	int		 c, next, quotec, token;

top:
	len = 0;
	while ((c = lgetc(0)) == ' ' || c == '\t' || c == '\r')
		;
	yylval.lineno = file->lineno;

	if (c == '#')
		while ((c = lgetc(0)) != '\n' && c != EOF)
			;

	if (c == '$' && file->expand == NULL) {
		if (expand_macro() == -1)
			return (findeol());
		goto top;
	}

	switch (c) {
	case '\'':
	case '"':
		quotec = c;
		for (;;) {
			c = lgetc(quotec);
			if (c == EOF || c == '\n') {
				conferr("unterminated quoted string");
				lungetc(c);
				return (findeol());
			}
			if (c == '\\') {
				next = lgetc(quotec);
				if (next == '\n') {
					file->lineno++;
					continue;
				}
				if (next == quotec || next == '\\')
					c = next;
				else
					lungetc(next);
			} else if (c == quotec)
				break;
			else if (c == '\0') {
				conferr("NUL character in quoted string");
				return (findeol());
			}
			if (len + 1 >= sizeof(buf)) {
				conferr("string too long");
				return (findeol());
			}
			buf[len++] = (char)c;
		}
		buf[len] = '\0';
		yylval.v.string = tokstr(buf);
		return (STRING);
	}

	if (isword(c)) {
		do {
			if (len + 1 >= sizeof(buf)) {
				conferr("word too long");
				return (findeol());
			}
			buf[len++] = (char)c;
			c = lgetc(0);
			/* "$dir/a.key": a macro may continue a word. */
			while (c == '$' && file->expand == NULL) {
				if (expand_macro() == -1)
					return (findeol());
				c = lgetc(0);
			}
		} while (isword(c));
		lungetc(c);
		buf[len] = '\0';

		p = buf[0] == '-' ? buf + 1 : buf;
		if (*p != '\0' && strspn(p, "0123456789") == strlen(p)) {
			yylval.v.number = strtonum(buf, LLONG_MIN, LLONG_MAX,
			    &errstr);
			if (errstr != NULL) {
				conferr("number %s is %s", buf, errstr);
				return (findeol());
			}
			return (NUMBER);
		}
		if ((token = lookup(buf)) == STRING)
			yylval.v.string = tokstr(buf);
		return (token);
	}

	if (c == '\0') {
		/* 0 would tell the parser that the input ended. */
		conferr("NUL character");
		return (findeol());
	}
	if (c == '\n') {
		yylval.lineno = file->lineno;
		file->lineno++;
		lexerr = 0;
	}
	if (c == EOF) {
		if (popfile() == EOF)
			return (0);
		goto top;
	}
	return (c);
}

static struct file *
pushfile(const char *name, int top)
{
	struct file	*nfile, *f;
	struct stat	 st;
	char		*path;
	const char	*slash;
	int		 depth = 0, saved;

	TAILQ_FOREACH(f, &files, entry)
		depth++;
	if (depth >= INCLUDE_DEPTH_MAX) {
		conferr("include %s: nested too deeply", name);
		return (NULL);
	}
	if (nfiles >= INCLUDE_FILES_MAX) {
		conferr("include %s: more than %d files in one configuration",
		    name, INCLUDE_FILES_MAX);
		return (NULL);
	}

	/*
	 * A relative include is found next to the file that includes
	 * it, so a configuration directory can be moved as a whole.
	 */
	slash = top ? NULL : strrchr(file->name, '/');
	if (name[0] != '/' && slash != NULL) {
		if (asprintf(&path, "%.*s/%s", (int)(slash - file->name),
		    file->name, name) == -1)
			fatal("%s: asprintf", __func__);
	} else if ((path = strdup(name)) == NULL)
		fatal("%s: strdup", __func__);

	if ((nfile = calloc(1, sizeof(*nfile))) == NULL)
		fatal("%s: calloc", __func__);
	nfile->name = path;
	nfile->lastc = EOF;
	nfile->tail = EOF;
	if ((nfile->stream = fopen(path, "re")) == NULL) {
		saved = errno;
		if (!top)
			conferr("include %s: %s", path, strerror(errno));
		free(path);
		free(nfile);
		errno = saved;
		return (NULL);
	}
	if (fstat(fileno(nfile->stream), &st) == -1 || S_ISDIR(st.st_mode)) {
		saved = S_ISDIR(st.st_mode) ? EISDIR : errno;
		if (!top)
			conferr("include %s: %s", path, strerror(saved));
		(void)fclose(nfile->stream);
		free(path);
		free(nfile);
		errno = saved;
		return (NULL);
	}
	if (!top && include_cycle(path, &st)) {
		(void)fclose(nfile->stream);
		free(path);
		free(nfile);
		return (NULL);
	}
	nfile->dev = st.st_dev;
	nfile->ino = st.st_ino;
	nfiles++;
	nfile->lineno = top ? 1 : 0;
	TAILQ_INSERT_TAIL(&files, nfile, entry);
	return (nfile);
}

/*
 * Is the file about to be included one that is being read already?
 * Names cannot tell ("a.conf", "./a.conf", a link), so the opened file
 * is compared.  The error names the chain of files that made the cycle.
 */
static int
include_cycle(const char *path, const struct stat *st)
{
	struct file	*f, *first;
	char		*chain, *next;

	TAILQ_FOREACH(first, &files, entry)
		if (first->dev == st->st_dev && first->ino == st->st_ino)
			break;
	if (first == NULL)
		return (0);
	if ((chain = strdup(first->name)) == NULL)
		fatal("%s: strdup", __func__);
	for (f = TAILQ_NEXT(first, entry); f != NULL;
	    f = TAILQ_NEXT(f, entry)) {
		if (asprintf(&next, "%s -> %s", chain, f->name) == -1)
			fatal("%s: asprintf", __func__);
		free(chain);
		chain = next;
	}
	conferr("include %s: cycle, already being read (%s -> %s)", path,
	    chain, path);
	free(chain);
	return (1);
}

/* Back to the including file; EOF at the end of the top file. */
static int
popfile(void)
{
	struct file	*prev;

	if ((prev = TAILQ_PREV(file, files, entry)) == NULL)
		return (EOF);
	TAILQ_REMOVE(&files, file, entry);
	(void)fclose(file->stream);
	free(file->expand);
	free(file->name);
	free(file);
	file = prev;
	return (0);
}

static void
closefiles(void)
{
	struct file	*f;

	while ((f = TAILQ_FIRST(&files)) != NULL) {
		TAILQ_REMOVE(&files, f, entry);
		(void)fclose(f->stream);
		free(f->expand);
		free(f->name);
		free(f);
	}
	file = NULL;
}

static int
symset(const char *name, const char *val, int persist)
{
	struct sym	*sym;

	TAILQ_FOREACH(sym, &symhead, entry)
		if (strcmp(name, sym->name) == 0)
			break;
	if (sym != NULL) {
		/* -D beats the file. */
		if (sym->persist && !persist)
			return (0);
		TAILQ_REMOVE(&symhead, sym, entry);
		free(sym->name);
		free(sym->val);
		free(sym);
	}
	if ((sym = calloc(1, sizeof(*sym))) == NULL)
		return (-1);
	if ((sym->name = strdup(name)) == NULL) {
		free(sym);
		return (-1);
	}
	if ((sym->val = strdup(val)) == NULL) {
		free(sym->name);
		free(sym);
		return (-1);
	}
	sym->persist = persist;
	TAILQ_INSERT_TAIL(&symhead, sym, entry);
	return (0);
}

static char *
symget(const char *name)
{
	struct sym	*sym;

	TAILQ_FOREACH(sym, &symhead, entry)
		if (strcmp(name, sym->name) == 0)
			return (sym->val);
	return (NULL);
}

/* Macros of one file must not leak into the next parse (reload). */
static void
symclear(void)
{
	struct sym	*sym, *next;

	TAILQ_FOREACH_SAFE(sym, &symhead, entry, next) {
		if (sym->persist)
			continue;
		TAILQ_REMOVE(&symhead, sym, entry);
		free(sym->name);
		free(sym->val);
		free(sym);
	}
}

static int
valid_macro_name(const char *s)
{
	const char	*p;

	if (*s == '\0' || conf_keyword(s))
		return (0);
	for (p = s; *p != '\0'; p++)
		if (!isalnum((unsigned char)*p) && *p != '_')
			return (0);
	return (1);
}

int
cmdline_symset(const char *s)
{
	const char	*eq;
	char		*name;
	int		 ret;

	if ((eq = strchr(s, '=')) == NULL)
		return (-1);
	if ((name = strndup(s, eq - s)) == NULL)
		return (-1);
	if (!valid_macro_name(name)) {
		free(name);
		return (-1);
	}
	ret = symset(name, eq + 1, 1);
	free(name);
	return (ret);
}

/* Key names, namespaces and the like: 1..max of [A-Za-z0-9._-]. */
static int
valid_name(const char *s, size_t max)
{
	size_t	len;

	len = strlen(s);
	if (len == 0 || len > max || s[0] == '.')
		return (0);
	return (strspn(s, "abcdefghijklmnopqrstuvwxyz"
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-") == len);
}

static int
mode_server(const char *what)
{
	if (parse_flags & CONF_SERVER)
		return (1);
	conferr("%s is a dsrvd statement, not for dctl", what);
	return (0);
}

static int
mode_client(void)
{
	if (parse_flags & CONF_CLIENT)
		return (1);
	conferr("server entries are for dctl, not for dsrvd");
	return (0);
}

/* "500ms", "30s", "5m", "1h" in milliseconds; -1 if malformed. */
static int64_t
parse_duration(const char *s)
{
	const char	*unit;
	int64_t		 n = 0, mult;

	for (unit = s; *unit >= '0' && *unit <= '9'; unit++) {
		if (n > (INT64_MAX - 9) / 10)
			return (-1);
		n = n * 10 + (*unit - '0');
	}
	if (unit == s)
		return (-1);
	if (strcmp(unit, "ms") == 0)
		mult = 1;
	else if (strcmp(unit, "s") == 0)
		mult = 1000;
	else if (strcmp(unit, "m") == 0)
		mult = 60 * 1000;
	else if (strcmp(unit, "h") == 0)
		mult = 3600 * 1000;
	else
		return (-1);
	if (n > INT64_MAX / mult)
		return (-1);
	return (n * mult);
}

/* "512K", "8M", "1G", "2T" (powers of 1024) in bytes; -1 if malformed. */
static int64_t
parse_size(const char *s)
{
	const char	*unit;
	int64_t		 n = 0, mult;

	for (unit = s; *unit >= '0' && *unit <= '9'; unit++) {
		if (n > (INT64_MAX - 9) / 10)
			return (-1);
		n = n * 10 + (*unit - '0');
	}
	if (unit == s || unit[0] == '\0' || unit[1] != '\0')
		return (-1);
	switch (unit[0]) {
	case 'K':
	case 'k':
		mult = 1LL << 10;
		break;
	case 'M':
	case 'm':
		mult = 1LL << 20;
		break;
	case 'G':
	case 'g':
		mult = 1LL << 30;
		break;
	case 'T':
	case 't':
		mult = 1LL << 40;
		break;
	default:
		return (-1);
	}
	if (n > INT64_MAX / mult)
		return (-1);
	return (n * mult);
}

static void
set_duration(const char *what, unsigned int *dst, int64_t ms,
    unsigned int min, unsigned int max)
{
	char	a[32], b[32];

	if (ms == -1)
		return;		/* already reported */
	if (ms < min || ms > max) {
		conferr("%s must be %s..%s", what,
		    fmt_duration(min, a, sizeof(a)),
		    fmt_duration(max, b, sizeof(b)));
		return;
	}
	*dst = (unsigned int)ms;
}

static void
set_path(const char *what, char *dst, const char *path)
{
	if (path[0] != '/')
		conferr("%s path \"%s\" is not absolute", what, path);
	else if (strlcpy(dst, path, PATH_MAX) >= PATH_MAX)
		conferr("%s path too long", what);
}

static void
set_user(const char *what, char *dst, struct where *w, const char *name)
{
	if (name[0] == '-' ||
	    !valid_name(name, CONF_NAME_MAX)) {
		conferr("invalid %s name '%s'", what, name);
		return;
	}
	(void)strlcpy(dst, name, CONF_NAME_MAX + 1);
	(void)strlcpy(w->file, file->name, sizeof(w->file));
	w->line = yylval.lineno;
	w->seq = ++where_seq;
}

/*
 * Each process with a user of its own must have it to itself: name the
 * statement that made two of them equal.
 */
static void
users_differ(const char *an, const char *a, struct where *aw,
    const char *bn, const char *b, struct where *bw)
{
	struct where	*w;

	if (strcmp(a, b) != 0)
		return;
	w = bw->seq > aw->seq ? bw : aw;
	errors++;
	log_warnx("%s:%d: %s and %s must differ (both %s)", w->file, w->line,
	    an, bn, a);
}

static void
set_workers(const char *what, int *dst, int64_t n)
{
	if (n < 1 || n > MAX_WORKERS)
		conferr("%s must be 1..%d", what, MAX_WORKERS);
	else
		*dst = (int)n;
}

/* Connection counts: max connections, max startups and the like. */
static void
set_count(const char *what, unsigned int *dst, int64_t n)
{
	if (n < 1 || n > 65535)
		conferr("%s must be 1..65535", what);
	else
		*dst = (unsigned int)n;
}

/* IPv4 before IPv6, then by address, so -nv output is stable. */
static int
sa_cmp(const void *a, const void *b)
{
	const struct addrinfo	*x = *(const struct addrinfo * const *)a;
	const struct addrinfo	*y = *(const struct addrinfo * const *)b;
	const struct sockaddr_in6 *x6, *y6;

	if (x->ai_family != y->ai_family)
		return (x->ai_family == AF_INET ? -1 : 1);
	if (x->ai_family == AF_INET)
		return (memcmp(&((struct sockaddr_in *)x->ai_addr)->sin_addr,
		    &((struct sockaddr_in *)y->ai_addr)->sin_addr,
		    sizeof(struct in_addr)));
	x6 = (const struct sockaddr_in6 *)x->ai_addr;
	y6 = (const struct sockaddr_in6 *)y->ai_addr;
	if (x6->sin6_scope_id != y6->sin6_scope_id)
		return (x6->sin6_scope_id < y6->sin6_scope_id ? -1 : 1);
	return (memcmp(&x6->sin6_addr, &y6->sin6_addr,
	    sizeof(struct in6_addr)));
}

/*
 * One listen_addr for every address host resolves to.  AI_ADDRCONFIG
 * is left out on purpose: it would drop ::1 on a host whose only IPv6
 * address is the loopback.
 */
static int
add_listen(const char *host, int port, int report)
{
	struct addrinfo		 hints, *res0, *res, **sorted;
	struct listen_addr	*la, *l;
	char			 buf[NI_MAXHOST];
	size_t			 n = 0, i;
	int			 error, ret = 0;

	if (strlen(host) >= sizeof(la->name)) {
		conferr("listen on %s: name too long", host);
		return (-1);
	}
	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_PASSIVE;
	if ((error = getaddrinfo(host, NULL, &hints, &res0)) != 0) {
		conferr("listen on %s: %s", host, gai_strerror(error));
		return (-1);
	}
	for (res = res0; res != NULL; res = res->ai_next)
		if (res->ai_family == AF_INET || res->ai_family == AF_INET6)
			n++;
	if (n == 0) {
		conferr("listen on %s: no IPv4 or IPv6 address", host);
		freeaddrinfo(res0);
		return (-1);
	}
	if ((sorted = calloc(n, sizeof(*sorted))) == NULL)
		fatal("%s: calloc", __func__);
	for (i = 0, res = res0; res != NULL; res = res->ai_next)
		if (res->ai_family == AF_INET || res->ai_family == AF_INET6)
			sorted[i++] = res;
	qsort(sorted, n, sizeof(*sorted), sa_cmp);

	for (i = 0; i < n; i++) {
		/* /etc/hosts may name an address twice. */
		if (i > 0 && sa_cmp(&sorted[i - 1], &sorted[i]) == 0)
			continue;
		if ((la = calloc(1, sizeof(*la))) == NULL)
			fatal("%s: calloc", __func__);
		memcpy(&la->ss, sorted[i]->ai_addr, sorted[i]->ai_addrlen);
		la->sslen = sorted[i]->ai_addrlen;
		la->port = (in_port_t)port;
		if (la->ss.ss_family == AF_INET)
			((struct sockaddr_in *)&la->ss)->sin_port =
			    htons(la->port);
		else
			((struct sockaddr_in6 *)&la->ss)->sin6_port =
			    htons(la->port);
		(void)strlcpy(la->name, host, sizeof(la->name));
		la->fd = -1;

		TAILQ_FOREACH(l, &conf->listens, entry)
			if (listen_addr_same(l, la))
				break;
		if (l != NULL) {
			if (report)
				conferr("duplicate listen on %s",
				    listen_addr_str(la, buf, sizeof(buf)));
			free(la);
			ret = -1;
			continue;
		}
		TAILQ_INSERT_TAIL(&conf->listens, la, entry);
	}
	free(sorted);
	freeaddrinfo(res0);
	return (ret);
}

static void
add_key(const char *name, const char *path)
{
	struct conf_key	*k;
	char		 errbuf[PATH_MAX + 256];

	if (!valid_name(name, KEY_NAME_MAX)) {
		conferr("invalid key name '%s' (1..%d of A-Z a-z 0-9 . _ -, "
		    "no leading dot)", name, KEY_NAME_MAX);
		return;
	}
	TAILQ_FOREACH(k, &conf->keys, entry)
		if (strcmp(k->name, name) == 0) {
			conferr("duplicate key %s", name);
			return;
		}
	if (path[0] != '/') {
		conferr("key %s: file path \"%s\" is not absolute", name,
		    path);
		return;
	}
	if (strlen(path) >= sizeof(k->path)) {
		conferr("key %s: file path too long", name);
		return;
	}
	if ((k = calloc(1, sizeof(*k))) == NULL)
		fatal("%s: calloc", __func__);
	(void)strlcpy(k->name, name, sizeof(k->name));
	(void)strlcpy(k->path, path, sizeof(k->path));
	(void)strlcpy(k->ns, keyopts.ns, sizeof(k->ns));
	k->perms = keyopts.perms;
	if (!(parse_flags & CONF_NOKEYS)) {
		if (key_load(k->path, k->key, errbuf, sizeof(errbuf)) == -1) {
			conferr("key %s: %s", name, errbuf);
			explicit_bzero(k, sizeof(*k));
			free(k);
			return;
		}
		k->loaded = 1;
	}
	TAILQ_INSERT_TAIL(&conf->keys, k, entry);
}

static void
add_server(const char *name, const char *host, int port,
    const char *keyname, const char *path)
{
	struct conf_server	*s;

	if (!valid_name(name, CONF_NAME_MAX)) {
		conferr("invalid server name '%s' (1..%d of A-Z a-z 0-9 . _ -, "
		    "no leading dot)", name, CONF_NAME_MAX);
		return;
	}
	TAILQ_FOREACH(s, &conf->servers, entry)
		if (strcmp(s->name, name) == 0) {
			conferr("duplicate server %s", name);
			return;
		}
	if (host[0] == '\0' || strlen(host) >= sizeof(s->host)) {
		conferr("server %s: invalid address", name);
		return;
	}
	if (!valid_name(keyname, KEY_NAME_MAX)) {
		conferr("server %s: invalid key name '%s'", name, keyname);
		return;
	}
	if (path[0] != '/') {
		conferr("server %s: key file path \"%s\" is not absolute",
		    name, path);
		return;
	}
	if (strlen(path) >= sizeof(s->keypath)) {
		conferr("server %s: key file path too long", name);
		return;
	}
	if ((s = calloc(1, sizeof(*s))) == NULL)
		fatal("%s: calloc", __func__);
	(void)strlcpy(s->name, name, sizeof(s->name));
	(void)strlcpy(s->host, host, sizeof(s->host));
	s->port = (in_port_t)port;
	(void)strlcpy(s->keyname, keyname, sizeof(s->keyname));
	(void)strlcpy(s->keypath, path, sizeof(s->keypath));
	TAILQ_INSERT_TAIL(&conf->servers, s, entry);
}

/* Listen on the loopback addresses when nothing else was asked for. */
static void
default_listens(void)
{
	if (!(parse_flags & CONF_SERVER) || !TAILQ_EMPTY(&conf->listens))
		return;
	(void)add_listen("127.0.0.1", DSRVD_PORT, 0);
	(void)add_listen("::1", DSRVD_PORT, 0);
}

struct dsrvd_conf *
parse_config(const char *filename, int flags)
{
	struct dsrvd_conf	*c;
	struct file		 fake;

	if ((conf = config_new()) == NULL) {
		log_warn("%s", __func__);
		return (NULL);
	}
	parse_flags = flags;
	errors = 0;
	nfiles = 0;
	lexerr = 0;
	memset(&user_where, 0, sizeof(user_where));
	memset(&suser_where, 0, sizeof(suser_where));
	memset(&cuser_where, 0, sizeof(cuser_where));
	where_seq = 0;
	memset(&keyopts, 0, sizeof(keyopts));

	if ((file = pushfile(filename, 1)) == NULL) {
		if (errno == ENOENT && (flags & CONF_OPTIONAL)) {
			/* Errors of the defaults name the file. */
			memset(&fake, 0, sizeof(fake));
			fake.name = (char *)filename;
			file = &fake;
			default_listens();
			file = NULL;
			if (errors == 0) {
				c = conf;
				conf = NULL;
				return (c);
			}
		} else
			log_warnx("%s: %s", filename, strerror(errno));
		config_free(conf);
		conf = NULL;
		return (NULL);
	}

	(void)yyparse();

	users_differ("user", conf->user, &user_where, "storage user",
	    conf->storage_user, &suser_where);
	users_differ("user", conf->user, &user_where, "crypto user",
	    conf->crypto_user, &cuser_where);
	users_differ("storage user", conf->storage_user, &suser_where,
	    "crypto user", conf->crypto_user, &cuser_where);
	if (errors == 0)
		default_listens();

	closefiles();
	symclear();
	tokstr_freeall();

	c = conf;
	conf = NULL;
	if (errors != 0) {
		config_free(c);
		return (NULL);
	}
	return (c);
}
