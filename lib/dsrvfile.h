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
 * Files on dsrvd: a file is a series of data chunks of DSRV_CHUNK_SIZE
 * bytes plus one metadata chunk, written last, that lists them.  Until
 * the metadata chunk exists the file does not exist.
 *
 *   data chunk i:  %02x/%08x-%08x-%08x  (file crc >> 24, file crc, i,
 *                  chunk crc)
 *   metadata:      index/<sanitized name>-%08x  (file crc)
 *
 * Every name is a function of the content, so writing the same file
 * twice writes the same chunks, and prefix matching needs no reads of
 * the metadata of files that cannot match.
 *
 * dsrvfile_meta.c has the names and the metadata format,
 * dsrvfile_write.c the writer, dsrvfile_read.c the reader and matching.
 */
#ifndef DSRV_FILE_H
#define DSRV_FILE_H

#include <stddef.h>
#include <stdint.h>

#include "chunkname.h"
#include "pool.h"

#define DSRV_CHUNK_SIZE		(8 * 1024 * 1024)
#define DSRV_META_DIR		"index"
#define DSRV_META_VERSION	1
#define DSRV_SANITIZED_MAX	190

struct dsrv_chunk_meta {
	uint64_t	 length;
	uint32_t	 crc;
};

struct dsrv_file_meta {
	char		*name;
	uint64_t	 length;
	uint32_t	 crc;
	uint8_t		 sha256[32];
	int		 has_sha256;
	uint64_t	 stored_at;	/* unix seconds, client clock at put */
	size_t		 nchunks;
	struct dsrv_chunk_meta *chunks;
	char		 metaname[CHUNK_NAME_MAX + 1];	/* index/... */
};

void	dsrv_meta_free(struct dsrv_file_meta *);
/* A deep copy for the caller to keep; NULL: no memory. */
struct dsrv_file_meta *dsrv_meta_copy(const struct dsrv_file_meta *);
void	dsrv_data_name(uint32_t filecrc, uint32_t index, uint32_t chunkcrc,
	    char out[CHUNK_NAME_MAX + 1]);
void	dsrv_meta_name(const char *filename, uint32_t filecrc,
	    char out[CHUNK_NAME_MAX + 1]);
/* The metadata chunk's payload; *out is malloc'ed. */
int	dsrv_meta_encode(const struct dsrv_file_meta *, uint8_t **out,
	    size_t *len, char *err, size_t errlen);
/*
 * Checks every field crc, the version, that the chunks' lengths add up
 * to length and that their crcs combine to crc.  metaname is left empty.
 */
int	dsrv_meta_decode(const uint8_t *, size_t, struct dsrv_file_meta **,
	    char *err, size_t errlen);

typedef void (*dsrv_progress_fn)(uint64_t done, uint64_t total, void *arg);

struct dsrv_xfer_opts {
	int		 parallel;	/* chunks in flight, 0 = 4 */
	/*
	 * The whole file's sha256.  Writer: compute it and record it in
	 * the metadata.  Reader: check it against the metadata's.
	 */
	int		 sha256;
	dsrv_progress_fn progress;	/* called from the caller's thread */
	void		*arg;
};

/*
 * The writer: length and crc32 declared up front, since every chunk's
 * name holds the file's crc32.  The sha256 is computed from the data
 * as it is written and recorded when opts->sha256 is set or one is
 * declared; a declared one must match it.
 */
struct dsrv_writer;
struct dsrv_writer *dsrv_writer_open(struct dsrv_pool *, const char *name,
	    uint64_t length, uint32_t crc,
	    const uint8_t *sha256 /* NULL: none */,
	    const struct dsrv_xfer_opts *, char *err, size_t errlen);
int	dsrv_writer_write(struct dsrv_writer *, const void *, size_t,
	    char *err, size_t errlen);
/*
 * Frees the writer.  WIRE_E_CRC if the data's length, cumulative crc32
 * or sha256 differs from the declared ones (NO metadata chunk is
 * written); -1 if a write failed.
 */
int	dsrv_writer_close(struct dsrv_writer *, char *err, size_t errlen);
void	dsrv_writer_abort(struct dsrv_writer *);

/*
 * The reader: writes the file to fd in order, checking every chunk crc,
 * the cumulative crc and with opts->sha256 the sha256.  WIRE_E_CORRUPT
 * with an error naming the chunk when the data is wrong or lost (a
 * mismatch, or a chunk the server reports corrupt or missing); -1 when
 * the transfer itself failed.
 */
int	dsrv_file_read(struct dsrv_pool *, const struct dsrv_file_meta *,
	    int fd, const struct dsrv_xfer_opts *, char *err, size_t errlen);
/*
 * The metadata of every file whose name starts with prefix ("" = all),
 * read in parallel; cb is called once per file, in any order, from the
 * caller's thread; cb returns -1 to stop (then -1, no err).  A metadata
 * chunk that cannot be read or decoded does not stop the others: after
 * the rest, -1 (or its wire code) with an error naming the first one.
 */
int	dsrv_match(struct dsrv_pool *, const char *prefix, int parallel,
	    int (*cb)(const struct dsrv_file_meta *, void *), void *,
	    char *err, size_t errlen);
/* The newest (stored_at) metadata whose name is exactly name; 3 (NOTFOUND) if none. */
int	dsrv_file_find(struct dsrv_pool *, const char *name,
	    struct dsrv_file_meta **, char *err, size_t errlen);

#endif /* DSRV_FILE_H */
