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
/* Microseconds from sending HELLO to a verified RESULT. */
uint64_t		 dsrv_client_handshake_us(const struct dsrv_client *);
/* "HOST port P", as used in the messages. */
const char		*dsrv_client_peer(const struct dsrv_client *);
/* Close the connection, wipe the session keys and free everything. */
void			 dsrv_client_close(struct dsrv_client *);

#endif /* DSRV_CLIENT_H */
