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
 * Configuration grammar tests.
 *
 * Without arguments: unit checks (TAP) of the formatting helpers,
 * cmdline_symset(), key_load() and the parts of parse_config() that
 * dsrvd -n cannot reach (dctl's client entries, CONF_OPTIONAL, the
 * print/parse round trip, include cycles and the bound on included
 * files).  ONLY=PATTERN in the environment (an fnmatch(3) pattern, e.g.
 * ONLY=include) runs only the groups of checks whose name matches.
 *
 * With arguments it behaves like "dsrvd -n", so that the config corpus
 * can be run before, or without, the daemon:
 *
 *	conf_test -n [-v] [-c | -b] [-N] [-o] [-D name=value] -f file
 *
 * -c parses as dctl would (client entries only), -b with both sets of
 * statements, -N skips key files, -o allows a missing file.
 */

#include <sys/types.h>
#include <sys/stat.h>

#include <netinet/in.h>
#include <arpa/inet.h>

#include <err.h>
#include <errno.h>
#include <fcntl.h>
#include <fnmatch.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <unistd.h>

#include "conf.h"
#include "log.h"
#include "tap.h"
#include "wire.h"

/* base64 of the bytes 0x00..0x1f */
#define KEY_B64		"AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8="

static char	tmpdir[] = "/tmp/conf_test.XXXXXXXX";
static int	saved_stderr = -1;

static void	quiet(void);
static void	loud(void);
static void	writefile(const char *, const char *, mode_t);
static char	*tpath(const char *);
static char	*print_to_string(const struct dsrvd_conf *);
static void	test_fmt(void);
static void	test_symset(void);
static void	test_key_load(void);
static void	test_parse(void);
static void	test_roundtrip(void);
static void	test_listen_same(void);
static struct dsrvd_conf *quiet_parse(const char *);
static void	test_include(void);
static int	run_check(int, char **);
static void	cleanup(void);

/* Expected parse errors go to stderr; keep the TAP output readable. */
static void
quiet(void)
{
	int	fd;

	fflush(stderr);
	if ((saved_stderr = dup(STDERR_FILENO)) == -1)
		err(1, "dup");
	if ((fd = open("/dev/null", O_WRONLY | O_CLOEXEC)) == -1)
		err(1, "/dev/null");
	if (dup2(fd, STDERR_FILENO) == -1)
		err(1, "dup2");
	(void)close(fd);
}

static void
loud(void)
{
	fflush(stderr);
	if (dup2(saved_stderr, STDERR_FILENO) == -1)
		err(1, "dup2");
	(void)close(saved_stderr);
	saved_stderr = -1;
}

static char *
tpath(const char *name)
{
	char	*p;

	if (asprintf(&p, "%s/%s", tmpdir, name) == -1)
		err(1, "asprintf");
	return (p);
}

static void
writefile(const char *path, const char *text, mode_t mode)
{
	FILE	*fp;

	(void)unlink(path);
	if ((fp = fopen(path, "we")) == NULL)
		err(1, "%s", path);
	if (fputs(text, fp) == EOF || fclose(fp) == EOF)
		err(1, "%s", path);
	if (chmod(path, mode) == -1)
		err(1, "chmod %s", path);
}

static char *
print_to_string(const struct dsrvd_conf *c)
{
	char	*buf = NULL;
	size_t	 len = 0;
	FILE	*fp;

	if ((fp = open_memstream(&buf, &len)) == NULL)
		err(1, "open_memstream");
	print_config(fp, c);
	if (fclose(fp) == EOF)
		err(1, "fclose");
	return (buf);
}

static void
test_fmt(void)
{
	static const struct {
		unsigned int	 ms;
		const char	*want;
	} durs[] = {
		{ 0, "0s" }, { 1, "1ms" }, { 500, "500ms" }, { 1000, "1s" },
		{ 1500, "1500ms" }, { 60000, "1m" }, { 90000, "90s" },
		{ 3600000, "1h" }, { 5400000, "90m" }, { 86400000, "24h" },
	};
	static const struct {
		uint64_t	 n;
		const char	*want;
	} sizes[] = {
		{ 0, "0" }, { 1, "1" }, { 1023, "1023" }, { 1024, "1K" },
		{ 1536, "1536" }, { 512 * 1024, "512K" },
		{ 1025 * 1024, "1025K" }, { 8 << 20, "8M" },
		{ (uint64_t)1 << 30, "1G" }, { (uint64_t)2 << 40, "2T" },
		{ (uint64_t)1 << 50, "1024T" },
		{ ((uint64_t)1 << 40) + 1, "1099511627777" },
	};
	char	buf[64];
	size_t	i;

	for (i = 0; i < sizeof(durs) / sizeof(durs[0]); i++)
		is_str(fmt_duration(durs[i].ms, buf, sizeof(buf)),
		    durs[i].want, "fmt_duration(%u)", durs[i].ms);
	for (i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++)
		is_str(fmt_size(sizes[i].n, buf, sizeof(buf)), sizes[i].want,
		    "fmt_size(%llu)", (unsigned long long)sizes[i].n);

	is_str(key_perms_str(KEY_PERM_DEFAULT, buf, sizeof(buf)),
	    "read, write, list, stat", "key_perms_str default");
	is_str(key_perms_str(KEY_PERM_ALL, buf, sizeof(buf)),
	    "read, write, list, stat, meta, admin", "key_perms_str all");
	is_str(key_perms_str(KEY_PERM_WRITE | KEY_PERM_STAT | KEY_PERM_LIST |
	    KEY_PERM_META, buf, sizeof(buf)), "write, list, stat, meta",
	    "key_perms_str write, list, stat, meta");
	ok(key_perm_ok(KEY_PERM_META, WIRE_M_READ, "index/a-00000000", 16),
	    "key_perm_ok: meta reads index/a-00000000");
	ok(!key_perm_ok(KEY_PERM_META, WIRE_M_READ, "ab/abcdef01-0-0", 15),
	    "key_perm_ok: meta does not read ab/abcdef01-0-0");
	ok(!key_perm_ok(KEY_PERM_META, WIRE_M_READ, "index2/a", 8),
	    "key_perm_ok: meta does not read index2/a");
	ok(!key_perm_ok(KEY_PERM_META, WIRE_M_READ, "indexa/b", 8),
	    "key_perm_ok: meta does not read indexa/b");
	ok(!key_perm_ok(KEY_PERM_META, WIRE_M_READ, "index/a", 5),
	    "key_perm_ok: meta looks at namelen bytes only");
	ok(!key_perm_ok(KEY_PERM_META, WIRE_M_LIST, "index", 5),
	    "key_perm_ok: meta does not list index");
	ok(!key_perm_ok(KEY_PERM_META, WIRE_M_STAT, "index/a", 7),
	    "key_perm_ok: meta does not stat");
	ok(key_perm_ok(KEY_PERM_READ, WIRE_M_READ, "index/a", 7) &&
	    key_perm_ok(KEY_PERM_READ, WIRE_M_READ, "ab/c", 4),
	    "key_perm_ok: read reads both");
	ok(!key_perm_ok(KEY_PERM_ALL, WIRE_M_PING, NULL, 0) &&
	    !key_perm_ok(KEY_PERM_ALL, 99, "ab/c", 4),
	    "key_perm_ok: no permission for PING or an unknown method");
	ok(key_perm_ok(KEY_PERM_WRITE, WIRE_M_WRITE, "index/a", 7) &&
	    !key_perm_ok(KEY_PERM_META, WIRE_M_WRITE, "index/a", 7),
	    "key_perm_ok: meta does not write index/");
	is_str(key_perms_str(KEY_PERM_WRITE | KEY_PERM_STAT, buf,
	    sizeof(buf)), "write, stat", "key_perms_str write, stat");
	is_str(key_perms_str(0, buf, sizeof(buf)), "none",
	    "key_perms_str none");
	is_str(key_perms_str(KEY_PERM_ALL, buf, 8), "read, w",
	    "key_perms_str truncates safely");
}

static void
test_symset(void)
{
	is_int(cmdline_symset("a=b"), 0, "symset a=b");
	is_int(cmdline_symset("long_name_09=x y z"), 0,
	    "symset value with spaces");
	is_int(cmdline_symset("empty="), 0, "symset empty value");
	is_int(cmdline_symset("noequals"), -1, "symset without =");
	is_int(cmdline_symset("=x"), -1, "symset without a name");
	is_int(cmdline_symset("bad-name=x"), -1, "symset bad name");
	is_int(cmdline_symset("data=x"), -1, "symset keyword name");
}

static void
test_key_load(void)
{
	uint8_t	 key[KEY_LEN];
	char	 errbuf[1024], want[1024];
	char	*p, *q;
	int	 i, good;

	p = tpath("k1");
	writefile(p, KEY_B64 "\n", 0600);
	memset(key, 0xff, sizeof(key));
	ok(key_load(p, key, errbuf, sizeof(errbuf)) == 0,
	    "key_load good key");
	for (i = 0, good = 1; i < KEY_LEN; i++)
		if (key[i] != i)
			good = 0;
	ok(good, "key_load decodes the key");

	writefile(p, KEY_B64, 0400);
	ok(key_load(p, key, errbuf, sizeof(errbuf)) == 0,
	    "key_load without newline, mode 0400");

	writefile(p, KEY_B64 "\n", 0640);
	(void)snprintf(want, sizeof(want), "%s: bad permissions 0640, must "
	    "not be accessible by group or others (like ssh)", p);
	ok(key_load(p, key, errbuf, sizeof(errbuf)) == -1,
	    "key_load refuses mode 0640");
	is_str(errbuf, want, "key_load mode message");

	writefile(p, KEY_B64 "\n", 0604);
	ok(key_load(p, key, errbuf, sizeof(errbuf)) == -1,
	    "key_load refuses mode 0604");

	(void)snprintf(want, sizeof(want), "%s: not a dsrvd key (expected "
	    "32 bytes in base64)", p);
	writefile(p, "AAECAwQFBgcICQoLDA0ODw==\n", 0600);
	ok(key_load(p, key, errbuf, sizeof(errbuf)) == -1,
	    "key_load refuses 16 bytes");
	is_str(errbuf, want, "key_load length message");
	writefile(p, KEY_B64 "\n\n", 0600);
	ok(key_load(p, key, errbuf, sizeof(errbuf)) == -1,
	    "key_load refuses two newlines");
	writefile(p, KEY_B64 "\r\n", 0600);
	ok(key_load(p, key, errbuf, sizeof(errbuf)) == -1,
	    "key_load refuses CRLF");
	writefile(p, " " KEY_B64 "\n", 0600);
	ok(key_load(p, key, errbuf, sizeof(errbuf)) == -1,
	    "key_load refuses leading space");
	writefile(p, KEY_B64 "AAAA\n", 0600);
	ok(key_load(p, key, errbuf, sizeof(errbuf)) == -1,
	    "key_load refuses 35 bytes");
	writefile(p, "", 0600);
	ok(key_load(p, key, errbuf, sizeof(errbuf)) == -1,
	    "key_load refuses an empty file");
	writefile(p, "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8\n", 0600);
	ok(key_load(p, key, errbuf, sizeof(errbuf)) == -1,
	    "key_load refuses base64 without padding");

	/*
	 * Only the canonical base64 of 32 bytes: libsodium 1.0.18 alone
	 * would take a byte >= 0x80 in it, or a last character whose
	 * unused bits are set, and decode another key or the same key
	 * from another file.
	 */
	{
		static const struct {
			const char	*text, *what;
		} bad[] = {
			{ "\x80" "AECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=\n",
			    "a byte 0x80 in place of the first character" },
			{ "AAECAwQFBgcI\xc3\xa9" "oLDA0ODxAREhMUFRYXGBkaGxwdHh8=\n",
			    "UTF-8 e-acute among the characters" },
			{ "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwd\xff" "h8=\n",
			    "a byte 0xff" },
			{ "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh\x80=\n",
			    "a byte 0x80 in place of the 43rd character" },
			{ "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh9=\n",
			    "non-zero bits after the 32nd byte (9)" },
			{ "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHhB=\n",
			    "non-zero bits after the 32nd byte (B)" },
			{ "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8\n",
			    "missing padding" },
			{ "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8==\n",
			    "two padding characters" },
			{ KEY_B64 "\n" KEY_B64 "\n", "a second line" },
			{ KEY_B64 "\nx", "text after the newline" },
			{ KEY_B64 " \n", "a space before the newline" },
			{ "AAECAwQFBgcICQoLDA0ODxAR\nEhMUFRYXGBkaGxwdHh8=\n",
			    "a newline inside" },
			{ "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwd-h8=\n",
			    "the URL-safe alphabet" },
		};
		size_t	 j;

		(void)snprintf(want, sizeof(want), "%s: not a dsrvd key "
		    "(expected 32 bytes in base64)", p);
		for (j = 0; j < sizeof(bad) / sizeof(bad[0]); j++) {
			writefile(p, bad[j].text, 0600);
			memset(errbuf, 0, sizeof(errbuf));
			ok(key_load(p, key, errbuf, sizeof(errbuf)) == -1 &&
			    strcmp(errbuf, want) == 0,
			    "key_load refuses %s: %s", bad[j].what, errbuf);
		}
		/* The 43rd character of a canonical key: AEIMQUYcgkosw048. */
		writefile(p, "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHhw=\n",
		    0600);
		ok(key_load(p, key, errbuf, sizeof(errbuf)) == 0 &&
		    key[31] == 0x1c, "key_load takes a canonical key ending "
		    "in w=");
		writefile(p, "//////////////////////////////////////////8=",
		    0600);
		ok(key_load(p, key, errbuf, sizeof(errbuf)) == 0,
		    "key_load takes the key of 32 bytes 0xff, no newline");
		for (i = 0, good = 1; i < KEY_LEN; i++)
			if (key[i] != 0xff)
				good = 0;
		ok(good, "and decodes it");
	}

	q = tpath("klink");
	writefile(p, KEY_B64 "\n", 0600);
	(void)unlink(q);
	if (symlink(p, q) == -1)
		err(1, "symlink");
	ok(key_load(q, key, errbuf, sizeof(errbuf)) == -1 &&
	    strstr(errbuf, "symbolic link") != NULL,
	    "key_load refuses a symlink");
	free(q);

	ok(key_load(tmpdir, key, errbuf, sizeof(errbuf)) == -1 &&
	    strstr(errbuf, "not a regular file") != NULL,
	    "key_load refuses a directory");

	q = tpath("nosuch");
	(void)snprintf(want, sizeof(want), "%s: No such file or directory",
	    q);
	ok(key_load(q, key, errbuf, sizeof(errbuf)) == -1,
	    "key_load missing file");
	is_str(errbuf, want, "key_load missing file message");
	free(q);
	free(p);
}

static void
test_parse(void)
{
	struct dsrvd_conf	*c;
	struct conf_server	*s;
	struct listen_addr	*la;
	struct conf_key		*k;
	char			 buf[128], *p, *txt;

	p = tpath("client.conf");
	writefile(p,
	    "keys = \"/etc/dsrvd\"\n"
	    "server nas address 192.0.2.1 key backup file \"/k/b.key\"\n"
	    "server \"offsite\" address nas.example.org port 7000 \\\n"
	    "    key r1 file $keys/r1.key\n"
	    "socket \"/run/dsrvd.sock\"\n", 0644);
	c = parse_config(p, CONF_CLIENT);
	if (ok(c != NULL, "client config parses")) {
		s = TAILQ_FIRST(&c->servers);
		ok(s != NULL && strcmp(s->name, "nas") == 0 &&
		    strcmp(s->host, "192.0.2.1") == 0 &&
		    s->port == DSRVD_PORT &&
		    strcmp(s->keyname, "backup") == 0 &&
		    strcmp(s->keypath, "/k/b.key") == 0,
		    "first server entry");
		s = s != NULL ? TAILQ_NEXT(s, entry) : NULL;
		ok(s != NULL && strcmp(s->name, "offsite") == 0 &&
		    strcmp(s->host, "nas.example.org") == 0 &&
		    s->port == 7000 && strcmp(s->keyname, "r1") == 0 &&
		    strcmp(s->keypath, "/etc/dsrvd/r1.key") == 0,
		    "second server entry, macro and continuation");
		ok(TAILQ_EMPTY(&c->listens), "client config: no listens");
		is_str(c->csock, "/run/dsrvd.sock", "client config socket");
		txt = print_to_string(c);
		ok(strstr(txt, "server nas address 192.0.2.1 port 7481 key "
		    "backup file \"/k/b.key\"\n") != NULL &&
		    strstr(txt, "server offsite address nas.example.org port "
		    "7000 key r1 file \"/etc/dsrvd/r1.key\"\n") != NULL,
		    "server entries printed");
		free(txt);
		config_free(c);
	}

	quiet();
	c = parse_config(p, CONF_SERVER);
	loud();
	ok(c == NULL, "server entries refused by dsrvd");
	config_free(c);

	writefile(p, "listen on 127.0.0.1\n", 0644);
	quiet();
	c = parse_config(p, CONF_CLIENT);
	loud();
	ok(c == NULL, "listen refused by dctl");
	config_free(c);
	free(p);

	p = tpath("nosuch.conf");
	c = parse_config(p, CONF_SERVER | CONF_OPTIONAL);
	if (ok(c != NULL, "optional missing file gives defaults")) {
		la = TAILQ_FIRST(&c->listens);
		is_str(la != NULL ? listen_addr_str(la, buf, sizeof(buf)) :
		    NULL, "127.0.0.1 port 7481", "default listen 1");
		la = la != NULL ? TAILQ_NEXT(la, entry) : NULL;
		is_str(la != NULL ? listen_addr_str(la, buf, sizeof(buf)) :
		    NULL, "::1 port 7481", "default listen 2");
		ok(la != NULL && TAILQ_NEXT(la, entry) == NULL,
		    "two default listens");
		is_str(c->datadir, DSRVD_DATADIR, "default data");
		config_free(c);
	}
	quiet();
	c = parse_config(p, CONF_SERVER);
	loud();
	ok(c == NULL, "missing file without CONF_OPTIONAL");
	free(p);

	/* -D beats the file; a file macro does not survive its parse. */
	p = tpath("d.conf");
	writefile(p, "lport = 8000\nlisten on 127.0.0.1 port $lport\n", 0644);
	if (cmdline_symset("lport=7000") == -1)
		errx(1, "cmdline_symset");
	c = parse_config(p, CONF_SERVER);
	la = c != NULL ? TAILQ_FIRST(&c->listens) : NULL;
	ok(la != NULL && la->port == 7000, "-D overrides the file");
	config_free(c);
	writefile(p, "n = 3\nnetwork workers $n\n", 0644);
	c = parse_config(p, CONF_SERVER);
	ok(c != NULL && c->nnetwork == 3, "numeric macro");
	config_free(c);
	writefile(p, "network workers $n\n", 0644);
	quiet();
	c = parse_config(p, CONF_SERVER);
	loud();
	ok(c == NULL, "file macros do not outlive the parse");
	config_free(c);

	/* Keys are loaded unless CONF_NOKEYS. */
	txt = tpath("k2");
	writefile(txt, KEY_B64 "\n", 0600);
	free(p);
	p = tpath("key.conf");
	{
		char	*conftext;

		if (asprintf(&conftext, "key k2 file \"%s\"\n"
		    "key k3 file \"%s/nosuch\"\n", txt, tmpdir) == -1)
			err(1, "asprintf");
		writefile(p, conftext, 0644);
		free(conftext);
	}
	c = parse_config(p, CONF_SERVER | CONF_NOKEYS);
	k = c != NULL ? TAILQ_FIRST(&c->keys) : NULL;
	ok(k != NULL && !k->loaded && k->perms == KEY_PERM_DEFAULT,
	    "CONF_NOKEYS does not read key files");
	config_free(c);
	quiet();
	c = parse_config(p, CONF_SERVER);
	loud();
	ok(c == NULL, "a missing key file is an error");
	writefile(p, "", 0644);
	{
		FILE	*fp;

		if ((fp = fopen(p, "we")) == NULL)
			err(1, "%s", p);
		fprintf(fp, "key k2 file \"%s\" permit admin", txt);
		if (fclose(fp) == EOF)
			err(1, "%s", p);
	}
	c = parse_config(p, CONF_SERVER);
	k = c != NULL ? TAILQ_FIRST(&c->keys) : NULL;
	ok(k != NULL && k->loaded && k->key[31] == 31 &&
	    k->perms == KEY_PERM_ADMIN,
	    "key loaded, last line without newline");
	config_free(c);
	free(txt);
	free(p);
}

/* Names that need quotes must come back the same after printing. */
static void
test_roundtrip(void)
{
	struct dsrvd_conf	*c1, *c2;
	char			*p, *t1, *t2;

	p = tpath("rt.conf");
	writefile(p,
	    "listen on localhost port 1\n"
	    "listen on \"::\"\n"
	    "user \"data\"\n"
	    "storage user \"0042\"\n"
	    "data \"/a \\\"quoted\\\" \\\\ dir\"\n"
	    "key \"key\" file \"/k\" permit all namespace \"007\"\n"
	    "key a.b-c_d file \"/k\" permit stat namespace \"on\"\n"
	    "server \"file\" address \"::1\" key \"port\" file \"/x\"\n"
	    "reserve 1025K\nmax rtt 1500ms\ntimeout idle 24h\n"
	    "max skew 3600\n", 0644);
	c1 = parse_config(p, CONF_SERVER | CONF_CLIENT | CONF_NOKEYS);
	if (!ok(c1 != NULL, "round trip config parses")) {
		free(p);
		return;
	}
	t1 = print_to_string(c1);
	writefile(p, t1, 0644);
	c2 = parse_config(p, CONF_SERVER | CONF_CLIENT | CONF_NOKEYS);
	if (ok(c2 != NULL, "printed config parses again")) {
		t2 = print_to_string(c2);
		is_str(t2, t1, "print, parse, print is identical");
		free(t2);
	} else
		diag("%s", t1);
	ok(strstr(t1, "user \"data\"\nstorage user \"0042\"\n") != NULL,
	    "keyword and number-like names are quoted");
	ok(strstr(t1, "key key file") == NULL, "keyword key name quoted");
	free(t1);
	config_free(c1);
	config_free(c2);
	free(p);
}

static void
set_listen(struct listen_addr *la, const char *addr, in_port_t port)
{
	struct sockaddr_in	*sin = (struct sockaddr_in *)&la->ss;
	struct sockaddr_in6	*sin6 = (struct sockaddr_in6 *)&la->ss;

	memset(la, 0, sizeof(*la));
	la->port = port;
	(void)strlcpy(la->name, addr, sizeof(la->name));
	if (inet_pton(AF_INET, addr, &sin->sin_addr) == 1) {
		sin->sin_family = AF_INET;
		sin->sin_port = htons(port);
		la->sslen = sizeof(*sin);
	} else if (inet_pton(AF_INET6, addr, &sin6->sin6_addr) == 1) {
		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = htons(port);
		la->sslen = sizeof(*sin6);
	} else
		errx(1, "set_listen %s", addr);
}

/* The parent keeps a socket across a reload when this says equal. */
static void
test_listen_same(void)
{
	struct listen_addr	a, b;
	char			buf[NI_MAXHOST + 32];

	set_listen(&a, "127.0.0.1", 7481);
	set_listen(&b, "127.0.0.1", 7481);
	(void)strlcpy(b.name, "localhost", sizeof(b.name));
	ok(listen_addr_same(&a, &b), "same address, other name: same");
	set_listen(&b, "127.0.0.1", 7482);
	ok(!listen_addr_same(&a, &b), "other port: not the same");
	set_listen(&b, "127.0.0.2", 7481);
	ok(!listen_addr_same(&a, &b), "other IPv4 address: not the same");
	set_listen(&b, "::ffff:127.0.0.1", 7481);
	ok(!listen_addr_same(&a, &b), "IPv4 and mapped IPv6: not the same");
	set_listen(&a, "::1", 7481);
	set_listen(&b, "::1", 7481);
	ok(listen_addr_same(&a, &b), "same IPv6 address: same");
	((struct sockaddr_in6 *)&b.ss)->sin6_scope_id = 1;
	ok(!listen_addr_same(&a, &b), "other scope: not the same");
	is_str(listen_addr_str(&a, buf, sizeof(buf)), "::1 port 7481",
	    "listen_addr_str IPv6");
	is_str(listen_addr_host(&a, buf, sizeof(buf)), "::1",
	    "listen_addr_host IPv6");
}

/* The file in tmpdir, parsed as dsrvd -n would without key files. */
static struct dsrvd_conf *
quiet_parse(const char *name)
{
	struct dsrvd_conf	*c;
	char			*p;

	p = tpath(name);
	quiet();
	c = parse_config(p, CONF_SERVER | CONF_NOKEYS);
	loud();
	free(p);
	return (c);
}

/*
 * Includes that would never end: a cycle, whatever the name it is
 * reached by, and a fan of files each including the next three times,
 * which repeats no file on the stack but would read 3^14 files.
 */
static void
test_include(void)
{
	struct dsrvd_conf	*c;
	char			 name[32], next[32], text[256];
	char			*p, *q, *all;
	size_t			 i, j;
	int			 n;

	p = tpath("part.inc");
	writefile(p, "max connections 7\n", 0644);
	free(p);
	for (n = 63; n <= 64; n++) {
		all = NULL;
		for (i = 0; i < (size_t)n; i++) {
			q = all;
			if (asprintf(&all, "%sinclude \"part.inc\"\n",
			    q != NULL ? q : "") == -1)
				err(1, "asprintf");
			free(q);
		}
		p = tpath("many.conf");
		writefile(p, all, 0644);
		free(all);
		free(p);
		c = quiet_parse("many.conf");
		if (n == 63)
			ok(c != NULL && c->max_conns == 7,
			    "one file included 63 times: 64 files are read");
		else
			ok(c == NULL, "included 64 times: 65 files refused");
		config_free(c);
	}

	p = tpath("self.conf");
	q = tpath("link.conf");
	writefile(p, "include \"link.conf\"\n", 0644);
	(void)unlink(q);
	if (symlink("self.conf", q) == -1)
		err(1, "symlink %s", q);
	free(p);
	free(q);
	c = quiet_parse("self.conf");
	ok(c == NULL, "a file including itself through a link is refused");
	config_free(c);

	for (i = 0; i < 15; i++) {
		(void)snprintf(next, sizeof(next), "fan%zu.conf", i + 1);
		text[0] = '\0';
		for (j = 0; i < 14 && j < 3; j++) {
			(void)strlcat(text, "include \"", sizeof(text));
			(void)strlcat(text, next, sizeof(text));
			(void)strlcat(text, "\"\n", sizeof(text));
		}
		(void)snprintf(name, sizeof(name), "fan%zu.conf", i);
		p = tpath(name);
		writefile(p, text, 0644);
		free(p);
	}
	c = quiet_parse("fan0.conf");
	ok(c == NULL, "a fan of includes stops at the bound on files");
	config_free(c);
	for (i = 0; i < 15; i++) {
		(void)snprintf(name, sizeof(name), "fan%zu.conf", i);
		p = tpath(name);
		(void)unlink(p);
		free(p);
	}
}

static void
cleanup(void)
{
	static const char *names[] = { "k1", "k2", "klink", "client.conf",
	    "d.conf", "key.conf", "rt.conf", "part.inc", "many.conf",
	    "self.conf", "link.conf" };
	size_t	 i;
	char	*p;

	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		p = tpath(names[i]);
		(void)unlink(p);
		free(p);
	}
	(void)rmdir(tmpdir);
}

static int
run_check(int argc, char **argv)
{
	struct dsrvd_conf	*c;
	const char		*file = DSRVD_CONF;
	int			 ch, verbose = 0, flags = CONF_SERVER;

	while ((ch = getopt(argc, argv, "bcD:f:nNov")) != -1) {
		switch (ch) {
		case 'b':
			flags |= CONF_CLIENT;
			break;
		case 'c':
			flags = (flags & ~CONF_SERVER) | CONF_CLIENT;
			break;
		case 'D':
			if (cmdline_symset(optarg) == -1)
				errx(1, "could not parse macro definition %s",
				    optarg);
			break;
		case 'f':
			file = optarg;
			break;
		case 'n':
			break;
		case 'N':
			flags |= CONF_NOKEYS;
			break;
		case 'o':
			flags |= CONF_OPTIONAL;
			break;
		case 'v':
			verbose = 1;
			break;
		default:
			fprintf(stderr, "usage: conf_test -n [-bcNov] "
			    "[-D name=value] [-f file]\n");
			return (1);
		}
	}
	if ((c = parse_config(file, flags)) == NULL)
		return (1);
	if (verbose)
		print_config(stdout, c);
	printf("configuration OK\n");
	config_free(c);
	return (0);
}

int
main(int argc, char **argv)
{
	static const struct {
		const char	*name;
		void		(*fn)(void);
	} tests[] = {
		{ "fmt",		test_fmt },
		{ "symset",		test_symset },
		{ "key_load",		test_key_load },
		{ "parse",		test_parse },
		{ "roundtrip",		test_roundtrip },
		{ "listen_same",	test_listen_same },
		{ "include",		test_include },
	};
	const char	*only;
	size_t		 i;

	log_init(1, LOG_DAEMON);
	if (argc > 1)
		return (run_check(argc, argv));

	if (mkdtemp(tmpdir) == NULL)
		err(1, "mkdtemp");
	only = getenv("ONLY");
	for (i = 0; i < sizeof(tests) / sizeof(tests[0]); i++)
		if (only == NULL || fnmatch(only, tests[i].name, 0) == 0)
			tests[i].fn();
	cleanup();
	if (tap_count == 0)
		ok(0, "ONLY=%s matches a group of checks", only);
	return (tap_done());
}
