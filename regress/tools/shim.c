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
 * shim.so: fault injection for the storage tests, by LD_PRELOAD.
 *
 *	LD_PRELOAD=regress/tools/shim.so DSRVD_SHIM=corrupt|eio dsrvd ...
 *
 * It acts only in the storage children ("-P storage" on the command
 * line; the parent exec's them with its environment, so they inherit
 * the preload) and only on fdatasync() and fsync() of regular files,
 * which storage calls once a chunk's bytes are written:
 *
 *	corrupt	flip the first byte of the file on disk, then flush for
 *		real: the read-back must notice.
 *	eio	fail with EIO without flushing: a write-back error.
 *
 * Everything else, and every other process, is left alone, so the
 * daemon under test is the real one, not a test build.  The real
 * functions are looked up here, before storage chroots away from the
 * libraries.
 */

#include <sys/types.h>
#include <sys/stat.h>

#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

enum shim_mode {
	SHIM_OFF,
	SHIM_CORRUPT,
	SHIM_EIO
};

/*
 * What a corrupting flush writes when the file was opened write-only
 * and its first byte cannot be read: the tests never start a chunk
 * with it.
 */
#define SHIM_BLIND_BYTE	0xa5

static enum shim_mode	 shim_mode = SHIM_OFF;
/*
 * The file flipped last, as it was after the flip: a second flush of it
 * must not flip it back, but a new file that got its inode number must
 * be flipped (its change time differs).
 */
static dev_t		 last_dev;
static ino_t		 last_ino;
static struct timespec	 last_ctime;
static int		 have_last;
static int		(*real_fdatasync)(int);
static int		(*real_fsync)(int);

int	fdatasync(int);
int	fsync(int);

static int	is_storage(void);
static int	is_regular(int);
static void	corrupt(int);
static void	shim_init(void) __attribute__((__constructor__));

/* Is this process a storage child: "-P" "storage" among its arguments? */
static int
is_storage(void)
{
	char	 buf[4096], *p, *end, *prev = NULL;
	ssize_t	 n;
	size_t	 off = 0;
	int	 fd, found = 0;

	if ((fd = open("/proc/self/cmdline", O_RDONLY | O_CLOEXEC)) == -1)
		return (0);
	while (off < sizeof(buf) - 1) {
		n = read(fd, buf + off, sizeof(buf) - 1 - off);
		if (n == -1 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		off += (size_t)n;
	}
	(void)close(fd);
	buf[off] = '\0';
	end = buf + off;
	for (p = buf; p < end; p += strlen(p) + 1) {
		if (prev != NULL && strcmp(prev, "-P") == 0 &&
		    strcmp(p, "storage") == 0)
			found = 1;
		prev = p;
	}
	return (found);
}

static void
shim_init(void)
{
	const char	*m;

	real_fdatasync = (int (*)(int))dlsym(RTLD_NEXT, "fdatasync");
	real_fsync = (int (*)(int))dlsym(RTLD_NEXT, "fsync");
	if ((m = getenv("DSRVD_SHIM")) == NULL || !is_storage())
		return;
	if (strcmp(m, "corrupt") == 0)
		shim_mode = SHIM_CORRUPT;
	else if (strcmp(m, "eio") == 0)
		shim_mode = SHIM_EIO;
}

static int
is_regular(int fd)
{
	struct stat	 st;

	return (fstat(fd, &st) == 0 && S_ISREG(st.st_mode));
}

/*
 * Flip the first byte of a non-empty file, keeping errno.  A file open
 * for direct I/O takes no one-byte reads or writes: that flag is off
 * while the byte changes.
 */
static void
corrupt(int fd)
{
	struct stat	 st;
	unsigned char	 b;
	int		 saved = errno, fl;

	if ((fl = fcntl(fd, F_GETFL)) != -1 && (fl & O_DIRECT) != 0 &&
	    fcntl(fd, F_SETFL, fl & ~O_DIRECT) == -1)
		fl = -1;

	if (fstat(fd, &st) == 0 && st.st_size > 0 &&
	    !(have_last && st.st_dev == last_dev && st.st_ino == last_ino &&
	    st.st_ctim.tv_sec == last_ctime.tv_sec &&
	    st.st_ctim.tv_nsec == last_ctime.tv_nsec)) {
		if (pread(fd, &b, 1, 0) == 1)
			b ^= 0xff;
		else
			b = SHIM_BLIND_BYTE;
		/* A failure leaves the bytes as they were: the test says so. */
		have_last = pwrite(fd, &b, 1, 0) == 1 && fstat(fd, &st) == 0;
		last_dev = st.st_dev;
		last_ino = st.st_ino;
		last_ctime = st.st_ctim;
	}
	if (fl != -1 && (fl & O_DIRECT) != 0)
		(void)fcntl(fd, F_SETFL, fl);
	errno = saved;
}

int
fdatasync(int fd)
{
	if (shim_mode != SHIM_OFF && is_regular(fd)) {
		if (shim_mode == SHIM_EIO) {
			errno = EIO;
			return (-1);
		}
		corrupt(fd);
	}
	if (real_fdatasync == NULL) {
		errno = ENOSYS;
		return (-1);
	}
	return (real_fdatasync(fd));
}

int
fsync(int fd)
{
	if (shim_mode != SHIM_OFF && is_regular(fd)) {
		if (shim_mode == SHIM_EIO) {
			errno = EIO;
			return (-1);
		}
		corrupt(fd);
	}
	if (real_fsync == NULL) {
		errno = ENOSYS;
		return (-1);
	}
	return (real_fsync(fd));
}
