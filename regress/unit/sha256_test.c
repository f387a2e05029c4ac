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
 * Unit tests for lib/sha256.c: the FIPS 180-4 example messages, then
 * random messages of many lengths fed in random pieces, compared to
 * libsodium's one-shot crypto_hash_sha256.  Everything runs twice: with
 * the implementation this CPU gets (the SHA extensions where it has
 * them) and with the libsodium fallback forced, so both are checked on
 * a machine that has the extensions.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sodium.h>

#include "sha256.h"
#include "tap.h"

struct vector {
	const char	*name;
	const char	*msg;
	size_t		 repeat;	/* msg this many times */
	const char	*digest;
};

static void	 check_impl(void);
static void	 check_vectors(const char *);
static void	 check_random(const char *);
static void	 check_switch(void);
static void	 measure(const char *);
static int	 hash_split(const uint8_t *, size_t, uint8_t *);
static void	 hex(const uint8_t *, size_t, char *);
static uint32_t	 rnd(void);

static const struct vector vectors[] = {
	{ "empty", "", 1,
	    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855" },
	{ "abc", "abc", 1,
	    "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad" },
	{ "448 bits",
	    "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq", 1,
	    "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1" },
	{ "896 bits",
	    "abcdefghbcdefghicdefghijdefghijkefghijklfghijklmghijklmn"
	    "hijklmnoijklmnopjklmnopqklmnopqrlmnopqrsmnopqrstnopqrstu", 1,
	    "cf5b16a778af8380036ce59e7b0492370b249b11e8f07a51afac45037afee9d1" },
	{ "a million 'a'", "a", 1000000,
	    "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0" },
};

static uint64_t	 rstate = 0x243f6a8885a308d3ULL;

/* xorshift: reproducible data and cuts. */
static uint32_t
rnd(void)
{
	rstate ^= rstate << 13;
	rstate ^= rstate >> 7;
	rstate ^= rstate << 17;
	return ((uint32_t)(rstate >> 16));
}

static void
hex(const uint8_t *p, size_t len, char *out)
{
	size_t	 i;

	for (i = 0; i < len; i++)
		(void)snprintf(out + 2 * i, 3, "%02x", p[i]);
}

/*
 * Where Linux says the CPU has the extensions, they must be used; a
 * detection that always said no would otherwise pass every other test.
 */
static void
check_impl(void)
{
	FILE	*f;
	char	 line[4096];
	int	 flag = 0;

	if ((f = fopen("/proc/cpuinfo", "re")) != NULL) {
		while (fgets(line, sizeof(line), f) != NULL)
			if (strncmp(line, "flags", 5) == 0 &&
			    strstr(line, " sha_ni") != NULL)
				flag = 1;
		(void)fclose(f);
	}
	diag("implementation: %s; /proc/cpuinfo %s sha_ni",
	    dsrv_sha256_impl(), flag ? "has" : "has no");
	if (flag)
		is_str(dsrv_sha256_impl(), "sha-ni",
		    "the CPU has the SHA extensions and they are used");
	dsrv_sha256_force_fallback(1);
	is_str(dsrv_sha256_impl(), "libsodium", "the fallback can be forced");
	dsrv_sha256_force_fallback(0);
}

static void
check_vectors(const char *impl)
{
	struct dsrv_sha256_state	 st;
	const struct vector		*v;
	uint8_t				 d[DSRV_SHA256_BYTES];
	char				 got[2 * DSRV_SHA256_BYTES + 1];
	size_t				 i, j, len;

	for (i = 0; i < sizeof(vectors) / sizeof(vectors[0]); i++) {
		v = &vectors[i];
		len = strlen(v->msg);
		dsrv_sha256_init(&st);
		for (j = 0; j < v->repeat; j++)
			dsrv_sha256_update(&st, v->msg, len);
		dsrv_sha256_final(&st, d);
		hex(d, sizeof(d), got);
		is_str(got, v->digest, "%s: FIPS 180-4 %s", impl, v->name);
	}
	/* The state is wiped: nothing of the message is left in it. */
	dsrv_sha256_init(&st);
	dsrv_sha256_update(&st, "secret", 6);
	dsrv_sha256_final(&st, d);
	for (i = 0; i < sizeof(st) && ((uint8_t *)&st)[i] == 0; i++)
		;
	ok(i == sizeof(st), "%s: the state is all zeros after final", impl);

	dsrv_sha256(d, "abc", 3);
	hex(d, sizeof(d), got);
	is_str(got, vectors[1].digest, "%s: one-shot dsrv_sha256", impl);
	dsrv_sha256_init(&st);
	dsrv_sha256_update(&st, NULL, 0);
	dsrv_sha256_update(&st, "abc", 3);
	dsrv_sha256_update(&st, NULL, 0);
	dsrv_sha256_final(&st, d);
	hex(d, sizeof(d), got);
	is_str(got, vectors[1].digest, "%s: empty updates change nothing",
	    impl);
}

/*
 * Feeds p in random pieces: mostly short ones, which exercise the
 * partial-block buffer, some up to the whole rest, some empty.  1 if the
 * digest matches libsodium's.
 */
static int
hash_split(const uint8_t *p, size_t len, uint8_t *want)
{
	struct dsrv_sha256_state	 st;
	uint8_t				 d[DSRV_SHA256_BYTES];
	size_t				 off, n;

	dsrv_sha256_init(&st);
	for (off = 0; off < len; off += n) {
		switch (rnd() % 4) {
		case 0:
			n = 0;
			break;
		case 1:
			n = rnd() % 130;
			break;
		case 2:
			n = 64 * (rnd() % 5) + rnd() % 3;
			break;
		default:
			n = rnd() % (len - off + 1);
			break;
		}
		if (n > len - off)
			n = len - off;
		dsrv_sha256_update(&st, p + off, n);
	}
	dsrv_sha256_final(&st, d);
	return (memcmp(d, want, sizeof(d)) == 0);
}

static void
check_random(const char *impl)
{
	static const size_t	 big[] = {
		511, 512, 513, 4095, 4096, 4097, 65535, 65536, 65537,
		1024 * 1024 - 1, 1024 * 1024 + 55, 3 * 1024 * 1024 + 56,
		5 * 1024 * 1024 + 63, 8 * 1024 * 1024,
	};
	uint8_t		*buf, want[DSRV_SHA256_BYTES];
	uint8_t		 d[DSRV_SHA256_BYTES];
	size_t		 maxlen = 8 * 1024 * 1024, i, len, bad;
	int		 round;

	if ((buf = malloc(maxlen)) == NULL) {
		ok(0, "malloc");
		return;
	}
	for (i = 0; i < maxlen; i++)
		buf[i] = (uint8_t)rnd();

	/* Every length up to past four blocks, three cuttings each. */
	bad = 0;
	for (len = 0; len <= 300; len++) {
		(void)crypto_hash_sha256(want, buf + len % 7, len);
		for (round = 0; round < 3; round++)
			if (!hash_split(buf + len % 7, len, want)) {
				if (bad++ == 0)
					diag("first mismatch: length %zu",
					    len);
			}
	}
	is_int(bad, 0, "%s: lengths 0..300, unaligned, in random pieces, "
	    "match libsodium", impl);

	bad = 0;
	for (i = 0; i < sizeof(big) / sizeof(big[0]); i++) {
		len = big[i];
		(void)crypto_hash_sha256(want, buf, len);
		for (round = 0; round < 2; round++)
			if (!hash_split(buf, len, want)) {
				if (bad++ == 0)
					diag("first mismatch: length %zu",
					    len);
			}
		dsrv_sha256(d, buf, len);
		if (memcmp(d, want, sizeof(d)) != 0 && bad++ == 0)
			diag("first one-shot mismatch: length %zu", len);
	}
	is_int(bad, 0, "%s: 511 bytes .. 8 MiB, in random pieces and in one, "
	    "match libsodium", impl);
	free(buf);
}

/* A state keeps the implementation it was started with. */
static void
check_switch(void)
{
	struct dsrv_sha256_state	 a, b;
	uint8_t				 da[DSRV_SHA256_BYTES];
	uint8_t				 db[DSRV_SHA256_BYTES];
	uint8_t				 want[DSRV_SHA256_BYTES];
	static const char		 msg[] = "abcdefghijklmnopqrstuvwxyz"
					    "abcdefghijklmnopqrstuvwxyz"
					    "abcdefghijklmnopqrstuvwxyz";

	(void)crypto_hash_sha256(want, (const uint8_t *)msg,
	    sizeof(msg) - 1);
	dsrv_sha256_init(&a);
	dsrv_sha256_update(&a, msg, 10);
	dsrv_sha256_force_fallback(1);
	dsrv_sha256_init(&b);
	dsrv_sha256_update(&a, msg + 10, sizeof(msg) - 11);
	dsrv_sha256_update(&b, msg, sizeof(msg) - 1);
	dsrv_sha256_force_fallback(0);
	dsrv_sha256_final(&a, da);
	dsrv_sha256_final(&b, db);
	ok(memcmp(da, want, sizeof(da)) == 0 &&
	    memcmp(db, want, sizeof(db)) == 0,
	    "a state keeps its implementation when the choice changes");
}

/* Not a test: the speed on 8 MiB buffers, for the log. */
static void
measure(const char *impl)
{
	struct timespec	 t0, t1;
	uint8_t		*buf, d[DSRV_SHA256_BYTES];
	size_t		 len = 8 * 1024 * 1024;
	double		 s;
	int		 i, n = 16;

	if ((buf = calloc(1, len)) == NULL)
		return;
	if (clock_gettime(CLOCK_MONOTONIC, &t0) == -1)
		goto done;
	for (i = 0; i < n; i++) {
		buf[0] = (uint8_t)i;
		dsrv_sha256(d, buf, len);
	}
	if (clock_gettime(CLOCK_MONOTONIC, &t1) == -1)
		goto done;
	s = (double)(t1.tv_sec - t0.tv_sec) +
	    (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
	if (s > 0)
		diag("%s: %.0f MB/s on 8 MiB buffers", impl,
		    (double)len * n / s / 1e6);
 done:
	free(buf);
}

int
main(void)
{
	const char	*impl;

	if (sodium_init() == -1) {
		ok(0, "sodium_init");
		return (tap_done());
	}
	check_impl();

	impl = dsrv_sha256_impl();
	check_vectors(impl);
	check_random(impl);
	measure(impl);

	dsrv_sha256_force_fallback(1);
	impl = dsrv_sha256_impl();
	check_vectors(impl);
	check_random(impl);
	measure(impl);
	dsrv_sha256_force_fallback(0);

	check_switch();
	return (tap_done());
}
