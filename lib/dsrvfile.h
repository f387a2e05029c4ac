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
 *   of a stream:   %02x/%016x-%08x-%08x (upload id >> 56, upload id,
 *                  i, chunk crc)
 *   metadata:      index/<sanitized name>-%08x  (file crc)
 *   alternate:     index/<sanitized name, 187 bytes at most>-%08x-<k>
 *
 * When a name is taken by other bytes (a crc32 twin, a rotted chunk)
 * the writer takes the name followed by "-1", "-2", ... up to
 * DSRV_ALT_MAX, the first that is free or already holds the same bytes,
 * and the metadata records k for a data chunk.  Every name is a
 * function of the content (and for a stream of its upload id), so
 * writing the same file twice writes the same chunks, and prefix
 * matching needs no reads of the metadata of files that cannot match.
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
#define DSRV_META_VERSION	2	/* written when alt or upload is used */
#define DSRV_META_VERSION_D	1	/* D's names only: what D can read */
#define DSRV_ALT_MAX		16
#define DSRV_SANITIZED_MAX	190
#define DSRV_SANITIZED_ALT	187	/* in an alternate metadata name */

struct dsrv_chunk_meta {
	uint64_t	 length;
	uint32_t	 crc;
	uint32_t	 alt;		/* 0, or the name has "-alt" added */
};

struct dsrv_file_meta {
	char		*name;
	uint64_t	 length;
	uint32_t	 crc;
	uint8_t		 sha256[32];
	int		 has_sha256;
	uint64_t	 stored_at;	/* unix seconds, client clock at put */
	uint64_t	 upload;	/* 0, or a stream's upload id */
	size_t		 nchunks;
	struct dsrv_chunk_meta *chunks;
	char		 metaname[CHUNK_NAME_MAX + 1];	/* index/... */
};

void	dsrv_meta_free(struct dsrv_file_meta *);
/* A deep copy for the caller to keep; NULL: no memory. */
struct dsrv_file_meta *dsrv_meta_copy(const struct dsrv_file_meta *);
/* The name of chunk i of the file m, as its metadata says. */
void	dsrv_chunk_name(const struct dsrv_file_meta *m, size_t i,
	    char out[CHUNK_NAME_MAX + 1]);
/* D's name of a data chunk: alt 0 of a file that is not a stream. */
void	dsrv_data_name(uint32_t filecrc, uint32_t index, uint32_t chunkcrc,
	    char out[CHUNK_NAME_MAX + 1]);
/* The metadata chunk's name; alt 0 is D's. */
void	dsrv_meta_name(const char *filename, uint32_t filecrc, uint32_t alt,
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

/*
 * What a writer moved: bytes sent in WRITEs (the metadata's too, and
 * those the server refused as taken), and data found already stored.
 */
struct dsrv_xfer_stats {
	uint64_t	 sent;
	uint64_t	 skipped;
	uint64_t	 chunks_sent;
	uint64_t	 chunks_skipped;
	uint64_t	 alternates;	/* chunks stored under an alternate name */
	/*
	 * The outcome of the first data chunk write that failed: its wire
	 * code (NOSPACE, PERM...), -1 for the transport, 0 if none did.
	 * dsrv_writer_close returns -1 then whatever it was.
	 */
	int		 failcode;
};

struct dsrv_xfer_opts {
	int		 parallel;	/* chunks in flight, 0 = 4 */
	/*
	 * The whole file's sha256.  Writer: compute it and record it in
	 * the metadata.  Reader: check it against the metadata's.
	 */
	int		 sha256;
	/*
	 * Writer: the sha256 passed to dsrv_writer_open was computed by
	 * the caller from the very bytes it writes (held in its memory):
	 * recorded without computing it again.
	 */
	int		 sha256_known;
	dsrv_progress_fn progress;	/* called from the caller's thread */
	void		*arg;
	/* Writer: filled in by dsrv_writer_close (NULL: not wanted). */
	struct dsrv_xfer_stats *stats;
};

/*
 * The writer: length and crc32 declared up front, since every chunk's
 * name holds the file's crc32.  The sha256 is computed from the data
 * as it is written and recorded when opts->sha256 is set or one is
 * declared; a declared one must match it.
 *
 * Before a data chunk is sent the server is asked for the digest of
 * its name (DIGEST): a chunk already there with the same bytes is not
 * sent again, one with other bytes makes the writer take the next
 * alternate name.
 */
struct dsrv_writer;
struct dsrv_writer *dsrv_writer_open(struct dsrv_pool *, const char *name,
	    uint64_t length, uint32_t crc,
	    const uint8_t *sha256 /* NULL: none */,
	    const struct dsrv_xfer_opts *, char *err, size_t errlen);
/*
 * A stream: length and crc32 unknown until the end.  The chunks are
 * named from a fresh random upload id, the sha256 is always recorded
 * and readers check it.  length and crc, when not NULL, are what the
 * caller declares; close checks them and writes no metadata if the
 * data differs.
 */
struct dsrv_writer *dsrv_writer_stream(struct dsrv_pool *, const char *name,
	    const uint64_t *length, const uint32_t *crc,
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
 * the cumulative crc and with opts->sha256 (always for a stream) the
 * sha256.  WIRE_E_CORRUPT
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
/*
 * Bytes [off, off + len) of the file m, cut at its end, into buf (room
 * for len bytes), with ranged READs of the chunks it spans; *got is the
 * length after the cut.  An off beyond the file's end is WIRE_E_RANGE;
 * a chunk that is missing, rotted or shorter than m says is
 * WIRE_E_CORRUPT; other failures are the pool's code (a wire code, or
 * -1).  The server checks every chunk it reads from whole; the bytes
 * of a partial chunk are checked here only against the crc32 of the
 * range sent with them.  A server older than ranged READs is read a
 * whole chunk at a time, each checked against m, the pool remembering
 * not to ask it for ranges again.  No sha256 or whole-file crc32 can be
 * checked for part of a file.
 */
int	dsrv_file_read_range(struct dsrv_pool *, const struct dsrv_file_meta *,
	    uint64_t off, size_t len, void *buf, size_t *got, char *err,
	    size_t errlen);
int	dsrv_match(struct dsrv_pool *, const char *prefix, int parallel,
	    int (*cb)(const struct dsrv_file_meta *, void *), void *,
	    char *err, size_t errlen);
/* The newest (stored_at) metadata whose name is exactly name; 3 (NOTFOUND) if none. */
int	dsrv_file_find(struct dsrv_pool *, const char *name,
	    struct dsrv_file_meta **, char *err, size_t errlen);
/*
 * Every version of the file name, newest first (stored_at, then the
 * metadata name); *n is 0 and 3 (NOTFOUND) returned when there is none.
 * Free with dsrv_versions_free.
 */
int	dsrv_file_versions(struct dsrv_pool *, const char *name,
	    struct dsrv_file_meta ***, size_t *n, char *err, size_t errlen);
void	dsrv_versions_free(struct dsrv_file_meta **, size_t);
/* Newest first: stored_at, then the later metadata name, for qsort. */
int	dsrv_meta_newest_cmp(const void *, const void *);
/* By name, then newest first as above (so versions number alike). */
int	dsrv_meta_name_cmp(const void *, const void *);

#endif /* DSRV_FILE_H */
