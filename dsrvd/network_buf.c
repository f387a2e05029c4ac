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
 * Where a connection's frames live.  A small frame (a handshake-sized
 * request, most answers) goes in a malloc'd buffer the connection
 * keeps; a large one (a chunk coming in or going out) goes in a
 * bigbuf: a memfd mapped once, so that its pages are faulted in once
 * and its payload can be passed to storage as a file descriptor
 * without a copy.  Free bigbufs wait in a small per-worker pool and
 * are unmapped after BB_IDLE_SEC without use.
 *
 * The payload of a big frame is placed at a multiple of CHUNK_ALIGN,
 * so that storage can write it with direct I/O, and a READ answer's
 * payload so that storage can read into it the same way.
 *
 * This is the leaf of the network files: network_conn.c (reading and
 * writing frames) and network_req.c (building answers) call in here;
 * nothing here calls back.
 */
#include <sys/types.h>
#include <sys/mman.h>

#include <sodium.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "dsrvd.h"
#include "log.h"
#include "network.h"

#define CONN_KEEP_BUF	(64 * 1024)	/* larger frames use a bigbuf */
#define BB_POOL_KEEP	NETWORK_BB_POOL	/* free bigbufs kept per worker */
#define BB_IDLE_SEC	10		/* then the free ones are unmapped */

static int	 buf_small(struct conn *, size_t);
static void	 buf_bb_destroy(struct bigbuf *);
static void	 buf_bb_trim(int, short, void *);

static TAILQ_HEAD(, bigbuf)	 bbfree = TAILQ_HEAD_INITIALIZER(bbfree);
static size_t			 nbbfree;
static struct event		*bbtrim;

/* What to add to off to make it a multiple of CHUNK_ALIGN. */
size_t
buf_align_pad(size_t off)
{
	return (CHUNK_ALIGN - off % CHUNK_ALIGN) % CHUNK_ALIGN;
}

/*
 * The frame in the small buffer, grown to at least len bytes.  A
 * buffer too small is wiped before it is freed: it held plaintext.
 */
static int
buf_small(struct conn *c, size_t len)
{
	uint8_t	*p;

	if (c->bufsz < len) {
		if ((p = malloc(len)) == NULL)
			return -1;
		if (c->buf != NULL) {
			sodium_memzero(c->buf, c->bufsz);
			free(c->buf);
		}
		c->buf = p;
		c->bufsz = len;
	}
	c->frame = c->buf;
	return 0;
}

/*
 * A big buffer for this connection, from the pool or new.  Its size
 * holds the largest frame (and a response's frame header in front of
 * the largest payload).
 */
int
buf_big(struct conn *c)
{
	struct bigbuf	*bb;
	size_t		 sz;
	long		 pg;

	if (c->bb != NULL)
		return 0;
	if ((bb = TAILQ_FIRST(&bbfree)) != NULL) {
		TAILQ_REMOVE(&bbfree, bb, entry);
		nbbfree--;
		c->bb = bb;
		return 0;
	}
	if ((pg = sysconf(_SC_PAGESIZE)) <= 0)
		pg = 4096;
	/* Room to align the payload, and for direct I/O past its end. */
	sz = NETWORK_BB_MAX;
	sz = (sz + pg - 1) / pg * pg;
	if ((bb = calloc(1, sizeof(*bb))) == NULL)
		return -1;
	bb->sz = sz;
	if ((bb->fd = memfd_create("dsrvd-frame", MFD_CLOEXEC)) == -1) {
		log_warn("memfd_create");
		free(bb);
		return -1;
	}
	if (ftruncate(bb->fd, sz) == -1 || (bb->p = mmap(NULL, sz,
	    PROT_READ | PROT_WRITE, MAP_SHARED, bb->fd, 0)) == MAP_FAILED) {
		log_warn("frame buffer");
		(void)close(bb->fd);
		free(bb);
		return -1;
	}
	c->bb = bb;
	return 0;
}

/*
 * Room for an incoming frame of len bytes (frame header included);
 * c->frame points at it.
 */
int
buf_frame_in(struct conn *c, size_t len)
{
	if (len <= CONN_KEEP_BUF)
		return buf_small(c, len);
	if (buf_big(c) == -1)
		return -1;
	/*
	 * A big frame is placed so that its payload will start aligned if
	 * its header is as long as the last one: a file's chunks have
	 * names of one length.
	 */
	c->frame = c->bb->p + buf_align_pad(WIRE_FRAME_HDR + c->hlguess);
	return 0;
}

/*
 * Room for an outgoing frame of at most len bytes; c->frame points at
 * it.  A connection holding a big buffer answers from its start.
 */
int
buf_frame_out(struct conn *c, size_t len)
{
	if (c->bb == NULL && len <= CONN_KEEP_BUF)
		return buf_small(c, len);
	if (buf_big(c) == -1)
		return -1;
	c->frame = c->bb->p;
	return 0;
}

static void
buf_bb_destroy(struct bigbuf *bb)
{
	if (munmap(bb->p, bb->sz) == -1)
		fatal("munmap");
	(void)close(bb->fd);
	free(bb);
}

/*
 * Nothing took a big buffer from the pool for BB_IDLE_SEC: give their
 * memory back.  A busy worker keeps its pages faulted in; an idle one
 * holds no more than its connections' small buffers.
 */
static void
buf_bb_trim(int fd, short event, void *arg)
{
	struct bigbuf	*bb;
	size_t		 n = nbbfree;

	while ((bb = TAILQ_FIRST(&bbfree)) != NULL) {
		TAILQ_REMOVE(&bbfree, bb, entry);
		nbbfree--;
		buf_bb_destroy(bb);
	}
	log_debug("idle: released %zu frame buffers", n);
}

/* Give the big buffer back to the pool, or with reuse 0 destroy it. */
void
buf_release(struct conn *c, int reuse)
{
	struct bigbuf	*bb = c->bb;
	struct timeval	 tv = { BB_IDLE_SEC, 0 };

	if (bb == NULL)
		return;
	c->bb = NULL;
	if (reuse && nbbfree < BB_POOL_KEEP) {
		TAILQ_INSERT_HEAD(&bbfree, bb, entry);
		nbbfree++;
		if (bbtrim == NULL && (bbtrim = evtimer_new(nenv.env->base,
		    buf_bb_trim, NULL)) == NULL)
			fatalx("%s: evtimer_new failed", __func__);
		if (evtimer_add(bbtrim, &tv) == -1)
			fatalx("%s: evtimer_add failed", __func__);
		return;
	}
	buf_bb_destroy(bb);
}

/*
 * The connection is going away: wipe its small buffer (it held
 * plaintext) and give back its big one, which with reuse 0 storage may
 * still be reading.
 */
void
buf_free(struct conn *c, int reuse)
{
	if (c->buf != NULL) {
		sodium_memzero(c->buf, c->bufsz);
		free(c->buf);
		c->buf = NULL;
		c->bufsz = 0;
	}
	buf_release(c, reuse);
}
