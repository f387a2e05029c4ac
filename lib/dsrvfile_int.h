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
 * What the parts of the file layer share and nobody else needs:
 * the limits, the error formatter, and the metadata helpers of
 * dsrvfile_meta.c that the writer (dsrvfile_write.c) and the reader
 * (dsrvfile_read.c) call.  Calls go from the writer and the reader to
 * the metadata part only, never back, and never between the two.
 */
#ifndef DSRV_FILE_INT_H
#define DSRV_FILE_INT_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "dsrvfile.h"
#include "pool.h"

/* 4 TiB: the metadata of the largest file stays well below a payload. */
#define DSRV_CHUNKS_MAX		(512 * 1024)
#define DSRV_NAME_MAX		4096
#define DSRV_PARALLEL		4
#define DSRV_PARALLEL_MAX	64

/* Messages are cut to the caller's buffer, never overflow it. */
static inline void __attribute__((format(printf, 3, 4)))
errf(char *buf, size_t len, const char *fmt, ...)
{
	va_list	 ap;

	va_start(ap, fmt);
	(void)vsnprintf(buf, len, fmt, ap);
	va_end(ap);
}

/* Chunks in flight for a transfer: the caller's choice within bounds. */
static inline int
xfer_parallel(const struct dsrv_xfer_opts *o)
{
	if (o == NULL || o->parallel <= 0)
		return (DSRV_PARALLEL);
	return (o->parallel > DSRV_PARALLEL_MAX ? DSRV_PARALLEL_MAX :
	    o->parallel);
}

/*
 * The name with every byte outside [A-Za-z0-9._-] and a leading dot
 * replaced by '_', cut to DSRV_SANITIZED_MAX; returns its length (0 for
 * an empty name, the caller decides what that means).
 */
size_t	 dsrvfile_sanitize(const char *, char *, size_t);
/* A data chunk's name: D's from filecrc, or a stream's from upload. */
void	 dsrvfile_chunk_name(uint32_t filecrc, uint64_t upload, uint32_t index,
	    uint32_t crc, uint32_t alt, char out[CHUNK_NAME_MAX + 1]);
/*
 * The D scheme: every chunk but the last is DSRV_CHUNK_SIZE bytes, the
 * last one is not empty, and the chunk crcs combine to the file's.
 */
int	 dsrvfile_meta_check(const struct dsrv_file_meta *, char *, size_t);
/*
 * Read and decode the metadata chunk metaname into buf (a payload's
 * room); it must name itself.  A wire code, WIRE_E_CORRUPT when it
 * does not decode or names another file.
 */
int	 dsrvfile_meta_fetch(struct dsrv_pool *, const char *, uint8_t *,
	    struct dsrv_file_meta **, char *, size_t);

/* One data chunk to store (dsrvfile_store.c), and what came of it. */
struct dsrvfile_put {
	uint32_t	 filecrc;	/* D's names */
	uint64_t	 upload;	/* or a stream's */
	uint32_t	 index;
	uint32_t	 crc;
	const uint8_t	*data;
	size_t		 len;
	int		*digest;	/* 1 while the server answers DIGEST;
					   shared by threads, set to 0 here */
	uint32_t	 alt;		/* out: the name taken */
	int		 skipped;	/* out: it was there, nothing sent */
	uint64_t	 sent;		/* out: bytes sent in WRITEs */
	int		 code;		/* out: a failure's wire code, or -1 */
};
/* 0, or -1 with err. */
int	 dsrvfile_chunk_store(struct dsrv_pool *, struct dsrvfile_put *,
	    char *, size_t);
/*
 * Write the metadata m under its name or the first alternate that is
 * free or holds the same file (all but stored_at); m->metaname is set
 * to the name taken, *sent grows by the bytes sent.  0, or -1 with err.
 */
int	 dsrvfile_meta_store(struct dsrv_pool *, struct dsrv_file_meta *,
	    uint64_t *, char *, size_t);

#endif /* DSRV_FILE_INT_H */
