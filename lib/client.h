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
 * The client side of the dsrv wire protocol: connect and authenticate
 * to a dsrvd, then send requests one at a time.  Every call blocks with
 * a timeout, keeps its state in the connection object only and reports
 * failure as a return value plus a message in the caller's buffer; the
 * library never prints, exits or touches signal dispositions.
 *
 * A connection is not safe to share between threads, but distinct
 * connections are independent.
 */
#ifndef DSRV_CLIENT_H
#define DSRV_CLIENT_H

#include <stddef.h>
#include <stdint.h>

#include "wire.h"

#define DSRV_CLIENT_PORT		"7481"
#define DSRV_CLIENT_CONNECT_TIMEOUT	5000	/* ms */
#define DSRV_CLIENT_IO_TIMEOUT		60000	/* ms */
/* Room for any message of this library: "HOST port P: ..." */
#define DSRV_CLIENT_ERRLEN		1536

struct dsrv_client;

struct dsrv_client_opts {
	const char	*host;		/* name or numeric address */
	const char	*port;		/* NULL: DSRV_CLIENT_PORT */
	const char	*keyname;	/* as the server knows the key */
	uint8_t		 key[WIRE_KEY_LEN];
	/*
	 * connect_timeout_ms bounds each TCP connection attempt and, on
	 * its own, the whole handshake.  io_timeout_ms bounds how long a
	 * request may go without progress while it is sent or while its
	 * response is awaited and read.  0 means the default.
	 */
	int		 connect_timeout_ms;
	int		 io_timeout_ms;
};

/*
 * A response.  payload points into the connection's buffer and stays
 * valid until the next request or dsrv_client_close().
 */
struct dsrv_reply {
	struct wire_hdr	 hdr;
	const uint8_t	*payload;
	size_t		 len;
};

/*
 * Connect to opts->host and authenticate with opts->key.  NULL with a
 * message naming the server and the cause in err on failure.  The
 * caller may wipe opts->key as soon as this returns.
 */
struct dsrv_client	*dsrv_client_connect(const struct dsrv_client_opts *,
			    char *err, size_t errlen);
/*
 * Send one request and wait for its response.  name may be NULL (no
 * name field), payload NULL when len is 0.  Returns 0 when a response
 * arrived, whatever its hdr.error; -1 when the transport or protocol
 * failed: the connection is then unusable and later requests fail at
 * once.  A request refused before anything was sent (bad method, name
 * or payload size, no memory) also returns -1 but leaves the
 * connection usable.
 */
int			 dsrv_client_request(struct dsrv_client *,
			    uint32_t method, const char *name,
			    const void *payload, size_t len,
			    struct dsrv_reply *reply, char *err,
			    size_t errlen);
/*
 * PING: the server's version string (NUL-terminated, cut to vlen), its
 * clock in ms since the epoch and the round trip in microseconds.  Any
 * of the three may be NULL.  -1 on failure, including an error
 * response.
 */
int			 dsrv_client_ping(struct dsrv_client *,
			    char *version, size_t vlen, uint64_t *server_ms,
			    uint64_t *rtt_us, char *err, size_t errlen);

/*
 * Typed requests.  Each returns -1 when the transport or protocol
 * failed (err says why, and the connection is unusable as after
 * dsrv_client_request), else the response's error code: WIRE_E_OK (0)
 * or a WIRE_E_* code (> 0, perhaps one this library does not know),
 * with "HOST port P: NAME: <wire_strerror text>: <server message>" in
 * err.  A refusal before sending also comes as a WIRE_E_* code and
 * leaves the connection usable.
 */

/*
 * WRITE name (DIR/NAME) with len bytes of data.  A name that
 * chunk_name_check() refuses gives WIRE_E_BADNAME, and len above
 * WIRE_PAYLOAD_MAX WIRE_E_TOOBIG, both without sending anything.
 */
int			 dsrv_client_write(struct dsrv_client *,
			    const char *name, const void *data, size_t len,
			    char *err, size_t errlen);
/*
 * READ name.  On WIRE_E_OK *data points to the chunk's *len bytes in
 * the connection's buffer, valid until the next request or
 * dsrv_client_close(), and *crc (if not NULL) has its crc32.  The bytes
 * have been checked against the crc32 the server stored with the
 * chunk: a mismatch gives WIRE_E_CORRUPT and no data, the connection
 * stays usable.  The name is not checked here, the server does.
 */
int			 dsrv_client_read(struct dsrv_client *,
			    const char *name, const uint8_t **data,
			    size_t *len, uint32_t *crc, char *err,
			    size_t errlen);
/*
 * READ of a range: bytes [off, off + len) of the chunk name, cut at its
 * end.  On WIRE_E_OK *data points to the *got bytes (0 when off is the
 * chunk's length or len is 0) in the connection's buffer, as for
 * dsrv_client_read().  The server read the whole chunk and checked it
 * against its stored crc32 before it answered; here only the bytes
 * received are checked, against the crc32 of the range the server
 * sent, since the chunk's own crc32 covers bytes that did not come.
 * An off beyond the chunk's end gives WIRE_E_RANGE; a server older
 * than ranged READs answers WIRE_E_BADREQUEST.
 */
int			 dsrv_client_read_range(struct dsrv_client *,
			    const char *name, uint64_t off, uint64_t len,
			    const uint8_t **data, size_t *got, char *err,
			    size_t errlen);
/*
 * LIST one page of dir, starting after the NAME after (NULL or "" for
 * the start).  On WIRE_E_OK *names points to *len bytes in the
 * connection's buffer (valid until the next request): NAMEs in
 * ascending byte order separated by single NUL bytes, no NUL after the
 * last one.  *more is 1 when the server cut the listing: ask again
 * with the last name as after.  Names the server sends are checked
 * (valid NAMEs, ascending, after after); a response that fails that
 * gives -1.
 */
int			 dsrv_client_list(struct dsrv_client *,
			    const char *dir, const char *after,
			    const char **names, size_t *len, int *more,
			    char *err, size_t errlen);
/*
 * Every name in dir, page after page, each passed to cb as a
 * NUL-terminated string (valid during the call only).  A cb returning
 * -1 stops the listing: dsrv_client_list_all then returns -1 and sets
 * no err of its own.
 */
int			 dsrv_client_list_all(struct dsrv_client *,
			    const char *dir, int (*cb)(const char *, void *),
			    void *arg, char *err, size_t errlen);
/* STAT name: length and crc32 as the server computed them from disk. */
int			 dsrv_client_stat(struct dsrv_client *,
			    const char *name, uint64_t *length, uint32_t *crc,
			    char *err, size_t errlen);

/*
 * DIGEST name: STAT's length and crc32 and the sha256 of the chunk, all
 * computed by the server from its disk.  A server older than the
 * request answers WIRE_E_BADREQUEST.
 */
int			 dsrv_client_digest(struct dsrv_client *,
			    const char *name, uint64_t *length, uint32_t *crc,
			    uint8_t sha256[32], char *err, size_t errlen);

/* STATFS: the data directory's file system, in bytes, and chunk count. */
struct dsrv_statfs {
	uint64_t	 total;
	uint64_t	 free;
	uint64_t	 avail;		/* to the server, statvfs f_bavail */
	uint64_t	 chunks;
};
int			 dsrv_client_statfs(struct dsrv_client *,
			    struct dsrv_statfs *, char *err, size_t errlen);

/* Microseconds from sending HELLO to a verified RESULT. */
uint64_t		 dsrv_client_handshake_us(const struct dsrv_client *);
/* "HOST port P", as used in the messages. */
const char		*dsrv_client_peer(const struct dsrv_client *);
/* Close the connection, wipe the session keys and free everything. */
void			 dsrv_client_close(struct dsrv_client *);

#endif /* DSRV_CLIENT_H */
