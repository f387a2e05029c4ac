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
 * SHA-256 (FIPS 180-4).  On x86 CPUs with the SHA extensions the
 * compression function runs on SHA256RNDS2 (two rounds per
 * instruction), SHA256MSG1 and SHA256MSG2 (the message schedule); this
 * file does the padding and buffering around it.  Everywhere else, and
 * when a test asks for it, the state is libsodium's.
 *
 * The instructions want the eight working variables in two registers
 * in the order {A, B, E, F} and {C, D, G, H} (A in the top 32 bits), not
 * in FIPS order, so the blocks function shuffles them on the way in and
 * out; the state kept between calls is the plain h[0..7].
 */
#include <stdint.h>
#include <string.h>

#include <sodium.h>

#include "sha256.h"

#if defined(__x86_64__) || defined(__i386__)
#define HAVE_SHA_NI	1
#include <cpuid.h>
#include <immintrin.h>
#endif

#ifdef HAVE_SHA_NI
static int	 sha256_choice = -1;	/* -1: not asked yet, 0, 1 */
#endif
static int	 sha256_fallback;

static int	 use_ni(void);

#ifdef HAVE_SHA_NI
static void	 blocks_ni(uint32_t h[8], const uint8_t *, size_t)
		    __attribute__((target("sha,sse4.1,ssse3")));
static void	 final_ni(struct dsrv_sha256_state *, uint8_t *);
static int	 cpu_has_ni(void);

/* FIPS 180-4 4.2.2: cube roots of the first 64 primes. */
static const uint32_t K[64] __attribute__((aligned(16))) = {
	0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5,
	0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
	0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3,
	0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
	0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc,
	0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
	0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7,
	0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
	0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13,
	0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
	0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3,
	0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
	0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5,
	0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
	0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208,
	0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
};

/* FIPS 180-4 5.3.3: square roots of the first 8 primes. */
static const uint32_t H0[8] = {
	0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a,
	0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19,
};

/*
 * Asked with cpuid rather than __builtin_cpu_supports("sha"), which
 * clang before 16 refuses at compile time.  The SSSE3 and SSE4.1 checks
 * cost nothing: every CPU with SHA has both.
 */
static int
cpu_has_ni(void)
{
	unsigned int	 a, b, c, d;

	if (!__get_cpuid(1, &a, &b, &c, &d))
		return (0);
	if ((c & bit_SSSE3) == 0 || (c & bit_SSE4_1) == 0)
		return (0);
	if (__get_cpuid_max(0, NULL) < 7)
		return (0);
	__cpuid_count(7, 0, a, b, c, d);
	return ((b & bit_SHA) != 0);
}
#endif /* HAVE_SHA_NI */

/* Threads may race to fill in the choice; they all store the same. */
static int
use_ni(void)
{
#ifdef HAVE_SHA_NI
	int	 v;

	if (__atomic_load_n(&sha256_fallback, __ATOMIC_RELAXED))
		return (0);
	if ((v = __atomic_load_n(&sha256_choice, __ATOMIC_RELAXED)) == -1) {
		v = cpu_has_ni();
		__atomic_store_n(&sha256_choice, v, __ATOMIC_RELAXED);
	}
	return (v);
#else
	return (0);
#endif
}

const char *
dsrv_sha256_impl(void)
{
	return (use_ni() ? "sha-ni" : "libsodium");
}

void
dsrv_sha256_force_fallback(int on)
{
	__atomic_store_n(&sha256_fallback, on != 0, __ATOMIC_RELAXED);
}

void
dsrv_sha256_init(struct dsrv_sha256_state *st)
{
	memset(st, 0, sizeof(*st));
#ifdef HAVE_SHA_NI
	if (use_ni()) {
		st->ni = 1;
		memcpy(st->u.x.h, H0, sizeof(st->u.x.h));
		return;
	}
#endif
	(void)crypto_hash_sha256_init(&st->u.sodium);
}

void
dsrv_sha256_update(struct dsrv_sha256_state *st, const void *data,
    size_t len)
{
#ifdef HAVE_SHA_NI
	const uint8_t	*p = data;
	size_t		 used, n;

	if (st->ni) {
		if (len == 0)
			return;
		used = st->u.x.count % 64;
		st->u.x.count += len;
		if (used > 0) {
			n = 64 - used;
			if (n > len)
				n = len;
			memcpy(st->u.x.buf + used, p, n);
			p += n;
			len -= n;
			if (used + n < 64)
				return;
			blocks_ni(st->u.x.h, st->u.x.buf, 1);
		}
		if (len >= 64) {
			blocks_ni(st->u.x.h, p, len / 64);
			p += len - len % 64;
			len %= 64;
		}
		if (len > 0)
			memcpy(st->u.x.buf, p, len);
		return;
	}
#endif
	(void)crypto_hash_sha256_update(&st->u.sodium, data, len);
}

void
dsrv_sha256_final(struct dsrv_sha256_state *st,
    uint8_t out[DSRV_SHA256_BYTES])
{
#ifdef HAVE_SHA_NI
	if (st->ni)
		final_ni(st, out);
	else
#endif
		(void)crypto_hash_sha256_final(&st->u.sodium, out);
	explicit_bzero(st, sizeof(*st));
}

void
dsrv_sha256(uint8_t out[DSRV_SHA256_BYTES], const void *data, size_t len)
{
	struct dsrv_sha256_state	 st;

	dsrv_sha256_init(&st);
	dsrv_sha256_update(&st, data, len);
	dsrv_sha256_final(&st, out);
}

#ifdef HAVE_SHA_NI
/*
 * FIPS 180-4 5.1.1: a 1 bit, zeros up to 56 bytes into a block, then
 * the message length in bits as a big-endian 64-bit number.
 */
static void
final_ni(struct dsrv_sha256_state *st, uint8_t *out)
{
	uint8_t		*buf = st->u.x.buf;
	uint64_t	 bits = st->u.x.count * 8;
	size_t		 used = st->u.x.count % 64;
	int		 i;

	buf[used++] = 0x80;
	if (used > 56) {
		memset(buf + used, 0, 64 - used);
		blocks_ni(st->u.x.h, buf, 1);
		used = 0;
	}
	memset(buf + used, 0, 56 - used);
	for (i = 0; i < 8; i++)
		buf[56 + i] = (uint8_t)(bits >> (56 - 8 * i));
	blocks_ni(st->u.x.h, buf, 1);
	for (i = 0; i < 8; i++) {
		out[4 * i] = (uint8_t)(st->u.x.h[i] >> 24);
		out[4 * i + 1] = (uint8_t)(st->u.x.h[i] >> 16);
		out[4 * i + 2] = (uint8_t)(st->u.x.h[i] >> 8);
		out[4 * i + 3] = (uint8_t)st->u.x.h[i];
	}
}

/*
 * Four rounds, t = 4i .. 4i+3: W[t] + K[t] in the low two lanes feeds
 * SHA256RNDS2, which returns the new {A, B, E, F}; the old one becomes
 * {C, D, G, H}, since two rounds move A, B, E, F down to C, D, G, H.
 * Then the high two lanes.
 */
#define ROUNDS4(w, i) do {						\
	__m128i	 wk_, t_;						\
									\
	wk_ = _mm_add_epi32((w),					\
	    _mm_load_si128((const __m128i *)&K[4 * (i)]));		\
	t_ = abef;							\
	abef = _mm_sha256rnds2_epu32(cdgh, abef, wk_);			\
	cdgh = t_;							\
	wk_ = _mm_shuffle_epi32(wk_, 0x0e);				\
	t_ = abef;							\
	abef = _mm_sha256rnds2_epu32(cdgh, abef, wk_);			\
	cdgh = t_;							\
} while (0)

/*
 * W[t..t+3] = sigma1(W[t-2]) + W[t-7] + sigma0(W[t-15]) + W[t-16] from
 * the four previous groups w0 (oldest) .. w3: SHA256MSG1 adds the sigma0
 * terms to w0, the W[t-7] terms are w2:w3 shifted by one lane, and
 * SHA256MSG2 adds the sigma1 terms, two of them from its own output.
 * The result replaces w0, which is no longer needed.
 */
#define SCHEDULE4(w0, w1, w2, w3) do {					\
	(w0) = _mm_sha256msg2_epu32(_mm_add_epi32(			\
	    _mm_sha256msg1_epu32((w0), (w1)),				\
	    _mm_alignr_epi8((w3), (w2), 4)), (w3));			\
} while (0)

static void __attribute__((target("sha,sse4.1,ssse3")))
blocks_ni(uint32_t h[8], const uint8_t *p, size_t nblocks)
{
	/* Big-endian words: reverse the bytes of each 32-bit lane. */
	const __m128i	 bswap = _mm_set_epi8(12, 13, 14, 15, 8, 9, 10, 11,
			    4, 5, 6, 7, 0, 1, 2, 3);
	__m128i		 abef, cdgh, abef0, cdgh0, t0, t1;
	__m128i		 w0, w1, w2, w3;

	/* Lanes low to high: h0..h3 = A B C D, h4..h7 = E F G H. */
	t0 = _mm_shuffle_epi32(_mm_loadu_si128((const __m128i *)&h[0]), 0x1b);
	t1 = _mm_shuffle_epi32(_mm_loadu_si128((const __m128i *)&h[4]), 0x1b);
	/* Now t0 = D C B A, t1 = H G F E; pair up their halves. */
	abef = _mm_unpackhi_epi64(t1, t0);	/* F E B A */
	cdgh = _mm_unpacklo_epi64(t1, t0);	/* H G D C */

	while (nblocks-- > 0) {
		abef0 = abef;
		cdgh0 = cdgh;
		w0 = _mm_shuffle_epi8(_mm_loadu_si128(
		    (const __m128i *)(p + 0)), bswap);
		w1 = _mm_shuffle_epi8(_mm_loadu_si128(
		    (const __m128i *)(p + 16)), bswap);
		w2 = _mm_shuffle_epi8(_mm_loadu_si128(
		    (const __m128i *)(p + 32)), bswap);
		w3 = _mm_shuffle_epi8(_mm_loadu_si128(
		    (const __m128i *)(p + 48)), bswap);

		ROUNDS4(w0, 0);
		ROUNDS4(w1, 1);
		ROUNDS4(w2, 2);
		ROUNDS4(w3, 3);
		SCHEDULE4(w0, w1, w2, w3);	/* W[16..19] */
		ROUNDS4(w0, 4);
		SCHEDULE4(w1, w2, w3, w0);
		ROUNDS4(w1, 5);
		SCHEDULE4(w2, w3, w0, w1);
		ROUNDS4(w2, 6);
		SCHEDULE4(w3, w0, w1, w2);
		ROUNDS4(w3, 7);
		SCHEDULE4(w0, w1, w2, w3);
		ROUNDS4(w0, 8);
		SCHEDULE4(w1, w2, w3, w0);
		ROUNDS4(w1, 9);
		SCHEDULE4(w2, w3, w0, w1);
		ROUNDS4(w2, 10);
		SCHEDULE4(w3, w0, w1, w2);
		ROUNDS4(w3, 11);
		SCHEDULE4(w0, w1, w2, w3);	/* W[48..51] */
		ROUNDS4(w0, 12);
		SCHEDULE4(w1, w2, w3, w0);
		ROUNDS4(w1, 13);
		SCHEDULE4(w2, w3, w0, w1);
		ROUNDS4(w2, 14);
		SCHEDULE4(w3, w0, w1, w2);
		ROUNDS4(w3, 15);

		abef = _mm_add_epi32(abef, abef0);
		cdgh = _mm_add_epi32(cdgh, cdgh0);
		p += 64;
	}

	/* Back: D C B A and H G F E from the halves, then reverse. */
	t0 = _mm_unpackhi_epi64(cdgh, abef);
	t1 = _mm_unpacklo_epi64(cdgh, abef);
	_mm_storeu_si128((__m128i *)&h[0], _mm_shuffle_epi32(t0, 0x1b));
	_mm_storeu_si128((__m128i *)&h[4], _mm_shuffle_epi32(t1, 0x1b));
}
#endif /* HAVE_SHA_NI */
