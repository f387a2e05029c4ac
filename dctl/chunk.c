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
 * dctl's raw chunk commands: chunk put, get, ls and stat, and df.  They
 * move single chunks by their DIR/NAME, for operators and tests; files
 * made of many chunks are a later layer.
 */
#include <sys/types.h>
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "chunkname.h"
#include "client.h"
#include "dctl.h"
#include "util.h"
#include "wire.h"

__attribute__((__noreturn__))
static void	 chunk_fail(struct dsrv_client *, int, const char *);
static void	 check_name(const char *);
static void	 read_input(const char *, const char *, uint8_t **, size_t *);
static void	 write_out(const char *, const uint8_t *, size_t);
static int	 print_name(const char *, void *);
static int	 chunk_put(int, char **);
static int	 chunk_get(int, char **);
static int	 chunk_ls(int, char **);
static int	 chunk_stat(int, char **);

/*
 * The server's answer as "dctl: DIR/NAME: <code text>: <message>": the
 * command line named the server already.  A failed connection or
 * protocol keeps "HOST port P: " in front.
 */
static void
chunk_fail(struct dsrv_client *c, int code, const char *err)
{
	const char	*peer;
	size_t		 plen;

	peer = dsrv_client_peer(c);
	plen = strlen(peer);
	if (code > 0 && strncmp(err, peer, plen) == 0 &&
	    strncmp(err + plen, ": ", 2) == 0)
		err += plen + 2;
	fprintf(stderr, "dctl: %s\n", err);
	dsrv_client_close(c);
	exit(exit_status(code));
}

/*
 * The server checks names too; refusing here saves a connection and
 * gives the same words.  Only for put: get, ls and stat let the server
 * judge.
 */
static void
check_name(const char *name)
{
	const char	*errstr;
	char		 cut[WIRE_NAME_MAX + 1], sn[4 * WIRE_NAME_MAX + 1];

	if (chunk_name_check(name, strlen(name), NULL, &errstr) == 0)
		return;
	/* As the library shows names: the wire's length, escaped. */
	(void)strlcpy(cut, name, sizeof(cut));
	dsrv_vis(sn, sizeof(sn), cut);
	fprintf(stderr, "dctl: %s: %s: %s\n", sn,
	    wire_strerror(WIRE_E_BADNAME), errstr);
	exit(EXIT_ERROR);
}

/*
 * All of path ("-": standard input) into *buf, refusing more than a
 * chunk holds before anything is sent.
 */
static void
read_input(const char *name, const char *path, uint8_t **buf, size_t *len)
{
	struct stat	 st;
	uint8_t		*b = NULL, *nb;
	size_t		 size, off = 0;
	ssize_t		 n;
	int		 fd;

	if (strcmp(path, "-") == 0) {
		fd = STDIN_FILENO;
		path = "standard input";
	}
	else if ((fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY)) == -1)
		die("%s: %s", path, strerror(errno));
	if (fstat(fd, &st) == -1)
		die("%s: %s", path, strerror(errno));
	if (S_ISDIR(st.st_mode))
		die("%s: %s", path, strerror(EISDIR));
	if (S_ISREG(st.st_mode) && st.st_size > WIRE_PAYLOAD_MAX)
		die("%s: %s: %s is %lld bytes, a chunk holds at most %d", name,
		    wire_strerror(WIRE_E_TOOBIG), path,
		    (long long)st.st_size, WIRE_PAYLOAD_MAX);
	/* One byte more than a chunk holds tells a file that is too big. */
	size = S_ISREG(st.st_mode) ? (size_t)st.st_size + 1 : 64 * 1024;
	for (;;) {
		if (off == size || b == NULL) {
			if (b != NULL)
				size = size * 2;
			if (size > (size_t)WIRE_PAYLOAD_MAX + 1)
				size = (size_t)WIRE_PAYLOAD_MAX + 1;
			if ((nb = realloc(b, size)) == NULL)
				die("%s", strerror(errno));
			b = nb;
		}
		n = read(fd, b + off, size - off);
		if (n == -1) {
			if (errno == EINTR)
				continue;
			die("%s: %s", path, strerror(errno));
		}
		if (n == 0)
			break;
		off += (size_t)n;
		if (off > WIRE_PAYLOAD_MAX)
			die("%s: %s: %s holds more than %d bytes, the most a "
			    "chunk holds", name, wire_strerror(WIRE_E_TOOBIG),
			    path, WIRE_PAYLOAD_MAX);
	}
	if (fd != STDIN_FILENO)
		(void)close(fd);
	*buf = b;
	*len = off;
}

/* The verified chunk into FILE (see output.c) or onto stdout. */
static void
write_out(const char *path, const uint8_t *data, size_t len)
{
	struct outfile	 out;

	out_open(&out, path);
	if (dsrv_write_all(out.fd, data, len) == -1) {
		int	 saved = errno;

		out_abort(&out);
		die("%s: %s", out.path, strerror(saved));
	}
	out_commit(&out);
}

static int
print_name(const char *name, void *arg)
{
	if (printf("%s\n", name) < 0)
		return (-1);
	return (0);
}

static int
chunk_put(int argc, char **argv)
{
	struct target		 t;
	struct dsrv_client	*c;
	char			 err[DSRV_CLIENT_ERRLEN];
	uint8_t			*buf;
	size_t			 len;
	int			 code;

	if (argc != 3)
		die_usage("usage: chunk put DIR/NAME FILE");
	check_name(argv[1]);
	read_input(argv[1], argv[2], &buf, &len);
	resolve_target(&t);
	c = net_connect(&t);
	if ((code = dsrv_client_write(c, argv[1], buf, len, err,
	    sizeof(err))) != WIRE_E_OK)
		chunk_fail(c, code, err);
	dsrv_client_close(c);
	free(buf);
	return (0);
}

/*
 * chunk get [--range OFF:LEN] DIR/NAME [FILE]: the chunk, or bytes
 * [OFF, OFF + LEN) of it cut at its end, which the server sends after
 * checking the whole chunk.
 */
static int
chunk_get(int argc, char **argv)
{
	const char		*usage = "chunk get [--range OFF:LEN] DIR/NAME "
				    "[FILE]";
	struct fargs		 fa;
	struct target		 t;
	struct dsrv_client	*c;
	char			 err[DSRV_CLIENT_ERRLEN];
	const uint8_t		*data;
	uint64_t		 off = 0, rlen = 0;
	size_t			 len;
	int			 code;

	parse_fargs(argc - 1, argv + 1, O_RANGE, 1, 2, usage, &fa);
	if (fa.range != NULL)
		parse_range(fa.range, usage, &off, &rlen);
	resolve_target(&t);
	c = net_connect(&t);
	/*
	 * The client library checked the crc32 before handing data over:
	 * the chunk's, or for a range the crc32 the server sent with it.
	 */
	if (fa.range != NULL)
		code = dsrv_client_read_range(c, fa.arg[0], off, rlen, &data,
		    &len, err, sizeof(err));
	else
		code = dsrv_client_read(c, fa.arg[0], &data, &len, NULL, err,
		    sizeof(err));
	if (code != WIRE_E_OK)
		chunk_fail(c, code, err);
	write_out(fa.nargs == 2 ? fa.arg[1] : NULL, data, len);
	dsrv_client_close(c);
	return (0);
}

static int
chunk_ls(int argc, char **argv)
{
	struct target		 t;
	struct dsrv_client	*c;
	char			 err[DSRV_CLIENT_ERRLEN];
	int			 code;

	if (argc != 2)
		die_usage("usage: chunk ls DIR");
	resolve_target(&t);
	c = net_connect(&t);
	code = dsrv_client_list_all(c, argv[1], print_name, NULL, err,
	    sizeof(err));
	if (code == -1 && err[0] == '\0')
		die("stdout: %s", strerror(errno));
	if (code != WIRE_E_OK)
		chunk_fail(c, code, err);
	dsrv_client_close(c);
	if (fflush(stdout) == EOF)
		die("stdout: %s", strerror(errno));
	return (0);
}

static int
chunk_stat(int argc, char **argv)
{
	struct target		 t;
	struct dsrv_client	*c;
	char			 err[DSRV_CLIENT_ERRLEN];
	uint64_t		 length;
	uint32_t		 crc;
	int			 code;

	if (argc != 2)
		die_usage("usage: chunk stat DIR/NAME");
	resolve_target(&t);
	c = net_connect(&t);
	if ((code = dsrv_client_stat(c, argv[1], &length, &crc, err,
	    sizeof(err))) != WIRE_E_OK)
		chunk_fail(c, code, err);
	dsrv_client_close(c);
	/* The server knew the name, so it is printable. */
	printf("%s length %" PRIu64 " crc32 %08" PRIx32 "\n", argv[1], length,
	    crc);
	if (fflush(stdout) == EOF)
		die("stdout: %s", strerror(errno));
	return (0);
}

int
cmd_chunk(int argc, char **argv)
{
	if (strcmp(argv[0], "put") == 0)
		return (chunk_put(argc, argv));
	if (strcmp(argv[0], "get") == 0)
		return (chunk_get(argc, argv));
	if (strcmp(argv[0], "ls") == 0)
		return (chunk_ls(argc, argv));
	if (strcmp(argv[0], "stat") == 0)
		return (chunk_stat(argc, argv));
	die_usage("unknown chunk command '%s': put, get, ls or stat",
	    argv[0]);
}

int
cmd_df(int argc, char **argv)
{
	struct target		 t;
	struct dsrv_client	*c;
	struct dsrv_statfs	 sf;
	char			 err[DSRV_CLIENT_ERRLEN], h[32];
	int			 code, i;

	for (i = 0; i < argc; i++) {
		if (strcmp(argv[i], "-j") == 0)
			cargs.json = 1;
		else if (strcmp(argv[i], "-q") != 0)
			die_usage("usage: df [-j]");
	}
	resolve_target(&t);
	c = net_connect(&t);
	if ((code = dsrv_client_statfs(c, &sf, err, sizeof(err))) !=
	    WIRE_E_OK)
		chunk_fail(c, code, err);
	dsrv_client_close(c);
	if (cargs.json) {
		printf("{\"total\":%" PRIu64 ",\"free\":%" PRIu64 ","
		    "\"available\":%" PRIu64 ",\"chunks\":%" PRIu64 "}\n",
		    sf.total, sf.free, sf.avail, sf.chunks);
		if (fflush(stdout) == EOF)
			die("stdout: %s", strerror(errno));
		return (0);
	}
	printf("%-16s%-8s(%" PRIu64 " bytes)\n", "total",
	    human_size(sf.total, h, sizeof(h)), sf.total);
	printf("%-16s%-8s(%" PRIu64 " bytes)\n", "free",
	    human_size(sf.free, h, sizeof(h)), sf.free);
	printf("%-16s%-8s(%" PRIu64 " bytes)\n", "available",
	    human_size(sf.avail, h, sizeof(h)), sf.avail);
	printf("%-16s%" PRIu64 "\n", "chunks", sf.chunks);
	if (fflush(stdout) == EOF)
		die("stdout: %s", strerror(errno));
	return (0);
}
