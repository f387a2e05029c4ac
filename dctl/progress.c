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
 * The progress line of long network commands: bytes done of the total,
 * the rate and the time left, redrawn in place on standard error.  It
 * is drawn only on a terminal and never with -q, so scripts and pipes
 * see nothing of it.  A leaf of dctl: util.c's die() calls
 * progress_clear(), and nothing here calls back.
 */
#include <sys/types.h>

#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "dctl.h"
#include "util.h"

#define PROGRESS_LABEL_MAX	40
#define PROGRESS_REDRAW_MS	250

struct progress {
	char		 label[PROGRESS_LABEL_MAX + 1];
	uint64_t	 total;
	uint64_t	 done;
	uint64_t	 start_ms;
	uint64_t	 drawn_ms;
	int		 tty;
};

static uint64_t	 now_ms(void);
static void	 draw(struct progress *, uint64_t);

static pthread_mutex_t	 plock = PTHREAD_MUTEX_INITIALIZER;
/* The line on the screen, for progress_clear() from die(). */
static int		 line_drawn;

static uint64_t
now_ms(void)
{
	struct timespec	 ts;

	if (clock_gettime(CLOCK_MONOTONIC, &ts) == -1)
		return (0);
	return ((uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000);
}

const char *
human_size(uint64_t n, char *buf, size_t len)
{
	static const char	 units[] = "KMGTPE";
	double			 v = (double)n;
	int			 i = -1;

	if (n < 1024) {
		(void)snprintf(buf, len, "%" PRIu64 "B", n);
		return (buf);
	}
	while (v >= 1024 && i < (int)sizeof(units) - 2) {
		v /= 1024;
		i++;
	}
	(void)snprintf(buf, len, "%.1f%c", v, units[i]);
	return (buf);
}

struct progress *
progress_start(const char *label, uint64_t total, int quiet)
{
	struct progress	*p;

	/* Without memory, the work goes on without its progress line. */
	if ((p = calloc(1, sizeof(*p))) == NULL)
		return (NULL);
	/* File names end up on a terminal: escaped. */
	dsrv_vis(p->label, sizeof(p->label), label);
	p->total = total;
	p->start_ms = now_ms();
	/* Work done in a moment shows no line at all. */
	p->drawn_ms = p->start_ms;
	p->tty = !quiet && isatty(STDERR_FILENO);
	return (p);
}

/* With plock held. */
static void
draw(struct progress *p, uint64_t now)
{
	char		 d[16], t[16], r[16], eta[32];
	uint64_t	 ms, rate, left;

	ms = now - p->start_ms;
	rate = ms > 0 ? p->done * 1000 / ms : 0;
	if (rate > 0 && p->total > p->done) {
		left = (p->total - p->done) / rate;
		(void)snprintf(eta, sizeof(eta), "ETA %" PRIu64 ":%02" PRIu64
		    ":%02" PRIu64, left / 3600, left / 60 % 60, left % 60);
	} else if (p->done >= p->total)
		(void)snprintf(eta, sizeof(eta), "%" PRIu64 ".%01" PRIu64 "s",
		    ms / 1000, ms / 100 % 10);
	else
		(void)strlcpy(eta, "ETA --:--", sizeof(eta));
	fprintf(stderr, "\r%s  %s / %s  %3d%%  %s/s  %s\033[K", p->label,
	    human_size(p->done, d, sizeof(d)), human_size(p->total, t, sizeof(t)),
	    p->total > 0 ? (int)(p->done * 100 / p->total) : 100,
	    human_size(rate, r, sizeof(r)), eta);
	(void)fflush(stderr);
	line_drawn = 1;
	p->drawn_ms = now;
}

void
progress_set(struct progress *p, uint64_t done)
{
	uint64_t	 now;

	if (p == NULL || !p->tty)
		return;
	(void)pthread_mutex_lock(&plock);
	p->done = done;
	now = now_ms();
	if (now - p->drawn_ms >= PROGRESS_REDRAW_MS)
		draw(p, now);
	(void)pthread_mutex_unlock(&plock);
}

void
progress_add(struct progress *p, uint64_t n)
{
	uint64_t	 now;

	if (p == NULL || !p->tty)
		return;
	(void)pthread_mutex_lock(&plock);
	p->done += n;
	now = now_ms();
	if (now - p->drawn_ms >= PROGRESS_REDRAW_MS)
		draw(p, now);
	(void)pthread_mutex_unlock(&plock);
}

void
progress_end(struct progress *p)
{
	if (p == NULL)
		return;
	if (p->tty) {
		(void)pthread_mutex_lock(&plock);
		/* Only a line that showed at all is worth keeping. */
		if (line_drawn) {
			draw(p, now_ms());
			fputc('\n', stderr);
			line_drawn = 0;
		}
		(void)pthread_mutex_unlock(&plock);
	}
	free(p);
}

void
progress_clear(void)
{
	/* From die(): the lock may be held by the dying thread itself. */
	if (pthread_mutex_trylock(&plock) != 0)
		return;
	if (line_drawn) {
		fputs("\r\033[K", stderr);
		line_drawn = 0;
	}
	(void)pthread_mutex_unlock(&plock);
}
