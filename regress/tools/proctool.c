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
 * proctool: a stand-in for dsrvd's parent, to test what a child does
 * with the start-up series it is given.
 *
 *	proctool DSRVD ROLE INSTANCE USER CHROOT [PEER PEERINSTANCE ...]
 *
 * Starts "DSRVD -d -P ROLE [-I INSTANCE]" with the parent channel on
 * fd 3, sends its identity (to run as USER in CHROOT), one peer
 * channel per PEER pair and IMSG_INIT_END, then waits for the child's
 * first message.  Prints "hello" if it is IMSG_CHILD_HELLO (and closes
 * the channel, which ends the child), or "eof" if the child closed the
 * channel, then "exit N" with the child's exit status.  The child's
 * log lines go to stderr as they are.  Exits 0 if all of that worked,
 * whatever the child did; 1 on its own errors.
 */
#include <sys/types.h>
#include <sys/socket.h>
#include <sys/wait.h>

#include <err.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "dsrvd/dsrvd.h"
#include "imsg.h"

static const char *const roles[PROC_MAX] = {
	"parent", "network", "crypto", "storage"
};

static int	 role_of(const char *);
static int	 first_message(struct imsgbuf *);

static int
role_of(const char *name)
{
	int	 i;

	for (i = 0; i < PROC_MAX; i++)
		if (strcmp(name, roles[i]) == 0)
			return i;
	errx(1, "unknown role %s", name);
}

/* The type of the child's first message but a log line; -1 on EOF. */
static int
first_message(struct imsgbuf *ib)
{
	struct imsg	 imsg;
	struct pollfd	 pfd;
	const char	*text;
	int		 n, type;

	for (;;) {
		if ((n = imsg_get(ib, &imsg)) == -1)
			err(1, "imsg_get");
		if (n == 1 && imsg.hdr.type == IMSG_LOG) {
			text = (const char *)imsg.data + sizeof(int32_t);
			if (imsg.datalen > sizeof(int32_t) &&
			    text[imsg.datalen - sizeof(int32_t) - 1] == '\0')
				fprintf(stderr, "%s\n", text);
			imsg_free(&imsg);
			continue;
		}
		if (n == 1) {
			type = imsg.hdr.type;
			imsg_free(&imsg);
			return type;
		}
		pfd.fd = ib->fd;
		pfd.events = POLLIN;
		if (poll(&pfd, 1, 30 * 1000) == -1)
			err(1, "poll");
		if (pfd.revents == 0)
			errx(1, "no message from the child in 30 s");
		if ((n = imsgbuf_read(ib)) == -1) {
			if (errno == ECONNRESET)
				return -1;
			err(1, "read");
		}
		if (n == 0)
			return -1;
	}
}

int
main(int argc, char *argv[])
{
	struct proc_init	 init;
	struct proc_peer	 peer;
	struct imsgbuf		 ib;
	struct passwd		*pw;
	char			*cargv[8];
	const char		*errstr;
	int			 sp[2], pp[2], i, n = 0, status, type;
	pid_t			 pid;

	if (argc < 6 || (argc - 6) % 2 != 0) {
		fprintf(stderr, "usage: proctool dsrvd role instance user "
		    "chroot [peer instance ...]\n");
		return 1;
	}
	memset(&init, 0, sizeof(init));
	init.role = role_of(argv[2]);
	init.instance = strtonum(argv[3], -1, MAX_WORKERS - 1, &errstr);
	if (errstr != NULL)
		errx(1, "instance %s is %s", argv[3], errstr);
	if ((pw = getpwnam(argv[4])) == NULL)
		errx(1, "no user %s", argv[4]);
	init.uid = pw->pw_uid;
	init.gid = pw->pw_gid;
	(void)strlcpy(init.user, argv[4], sizeof(init.user));
	(void)strlcpy(init.chroot, argv[5], sizeof(init.chroot));
	init.nnetwork = 1;
	init.nstorage = 1;
	init.debug = 1;

	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sp) == -1)
		err(1, "socketpair");
	cargv[n++] = argv[1];
	cargv[n++] = "-d";
	cargv[n++] = "-P";
	cargv[n++] = argv[2];
	if (init.instance >= 0) {
		cargv[n++] = "-I";
		cargv[n++] = argv[3];
	}
	cargv[n] = NULL;
	switch (pid = fork()) {
	case -1:
		err(1, "fork");
	case 0:
		if (dup2(sp[1], 3) == -1)
			_exit(1);
		execv(argv[1], cargv);
		_exit(127);
	default:
		break;
	}
	(void)close(sp[1]);

	if (imsgbuf_init(&ib, sp[0]) == -1)
		err(1, "imsgbuf_init");
	if (imsg_compose(&ib, IMSG_INIT, 0, 0, -1, &init, sizeof(init)) == -1)
		err(1, "compose");
	for (i = 6; i < argc; i += 2) {
		memset(&peer, 0, sizeof(peer));
		peer.role = role_of(argv[i]);
		peer.instance = strtonum(argv[i + 1], -1, MAX_WORKERS - 1,
		    &errstr);
		if (errstr != NULL)
			errx(1, "instance %s is %s", argv[i + 1], errstr);
		/* The other end is dropped: the child never gets that far. */
		if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0,
		    pp) == -1)
			err(1, "socketpair");
		if (imsg_compose(&ib, IMSG_INIT_PEER, 0, 0, pp[0], &peer,
		    sizeof(peer)) == -1)
			err(1, "compose");
		(void)close(pp[1]);
	}
	if (imsg_compose(&ib, IMSG_INIT_END, 0, 0, -1, NULL, 0) == -1 ||
	    imsgbuf_flush(&ib) == -1)
		err(1, "send the start-up series");

	type = first_message(&ib);
	if (type == IMSG_CHILD_HELLO)
		printf("hello\n");
	else if (type == -1)
		printf("eof\n");
	else
		printf("message %d\n", type);
	imsgbuf_clear(&ib);
	(void)close(sp[0]);
	if (waitpid(pid, &status, 0) == -1)
		err(1, "waitpid");
	if (WIFEXITED(status))
		printf("exit %d\n", WEXITSTATUS(status));
	else
		printf("signal %d\n", WTERMSIG(status));
	return 0;
}
