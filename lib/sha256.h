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
 * SHA-256 (FIPS 180-4) with the shape of libsodium's crypto_hash_sha256_*
 * but several times faster where the CPU has the x86 SHA extensions:
 * libsodium 1.0.18's is portable C, and hashing a file costs more CPU
 * than sending it.  Elsewhere it is libsodium's.  The implementation is
 * chosen at run time, once, and each state keeps the one it started
 * with.
 */
#ifndef DSRV_SHA256_H
#define DSRV_SHA256_H

#include <stddef.h>
#include <stdint.h>

#include <sodium.h>

#define DSRV_SHA256_BYTES	32

struct dsrv_sha256_state {
	int		 ni;		/* 1: the SHA extensions' state below */
	union {
		struct {
			uint32_t h[8];
			uint64_t count;		/* bytes hashed so far */
			uint8_t	 buf[64];	/* count % 64 bytes used */
		} x;
		crypto_hash_sha256_state sodium;
	} u;
};

void	dsrv_sha256_init(struct dsrv_sha256_state *);
void	dsrv_sha256_update(struct dsrv_sha256_state *, const void *, size_t);
/* Writes the digest and wipes the state. */
void	dsrv_sha256_final(struct dsrv_sha256_state *,
	    uint8_t out[DSRV_SHA256_BYTES]);
void	dsrv_sha256(uint8_t out[DSRV_SHA256_BYTES], const void *, size_t);

/* "sha-ni" or "libsodium": what dsrv_sha256_init would use now. */
const char *dsrv_sha256_impl(void);
/*
 * For tests and measurements only: 1 makes later inits use libsodium
 * even where the SHA extensions exist, 0 goes back to the normal choice.
 */
void	dsrv_sha256_force_fallback(int);

#endif /* DSRV_SHA256_H */
