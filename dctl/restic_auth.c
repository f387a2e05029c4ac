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
 * dctl serve restic --htpasswd FILE: HTTP Basic authentication against
 * the entries "user:hash" that htpasswd -B writes (bcrypt; crypt(3)'s
 * SHA-crypt hashes are taken too).  bcrypt costs tens of milliseconds
 * a check and restic sends hundreds of requests, so the SHA-256 of a
 * header value that passed is kept, as rest-server does with its
 * cache, and the next request with it is let through at once.
 */
#include <sys/types.h>
#include <sys/stat.h>

#include <crypt.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "serve.h"
#include "sha256.h"

#define HT_MAXUSERS	256
#define HT_PASSED	16	/* header values remembered as good */

struct ht_user {
	char		*user;
	char		*hash;
};

struct gw_htpasswd {
	struct ht_user	 u[HT_MAXUSERS];
	size_t		 n;
	uint8_t		 passed[HT_PASSED][DSRV_SHA256_BYTES];
	size_t		 npassed, nextpassed;
	struct crypt_data *cd;
};

static int	 hash_known(const char *);

static int
hash_known(const char *h)
{
	return (strncmp(h, "$2y$", 4) == 0 || strncmp(h, "$2b$", 4) == 0 ||
	    strncmp(h, "$2a$", 4) == 0 || strncmp(h, "$5$", 3) == 0 ||
	    strncmp(h, "$6$", 3) == 0);
}

struct gw_htpasswd *
htpasswd_load(const char *path, char *err, size_t errlen)
{
	struct gw_htpasswd	*ht;
	FILE			*f;
	char			*line = NULL, *colon;
	size_t			 cap = 0;
	ssize_t			 len;
	int			 lineno = 0;

	if ((f = fopen(path, "r")) == NULL) {
		(void)snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return (NULL);
	}
	if ((ht = calloc(1, sizeof(*ht))) == NULL ||
	    (ht->cd = calloc(1, sizeof(*ht->cd))) == NULL) {
		(void)snprintf(err, errlen, "out of memory");
		goto fail;
	}
	while ((len = getline(&line, &cap, f)) != -1) {
		lineno++;
		while (len > 0 && (line[len - 1] == '\n' ||
		    line[len - 1] == '\r'))
			line[--len] = '\0';
		if (len == 0 || line[0] == '#')
			continue;
		if ((colon = strchr(line, ':')) == NULL || colon == line ||
		    !hash_known(colon + 1)) {
			(void)snprintf(err, errlen, "%s:%d: not user:hash with "
			    "a bcrypt (htpasswd -B) or SHA-crypt hash", path,
			    lineno);
			goto fail;
		}
		if (ht->n == HT_MAXUSERS) {
			(void)snprintf(err, errlen, "%s:%d: more than %d "
			    "users", path, lineno, HT_MAXUSERS);
			goto fail;
		}
		*colon = '\0';
		if ((ht->u[ht->n].user = strdup(line)) == NULL ||
		    (ht->u[ht->n].hash = strdup(colon + 1)) == NULL) {
			free(ht->u[ht->n].user);
			(void)snprintf(err, errlen, "out of memory");
			goto fail;
		}
		ht->n++;
	}
	if (ferror(f)) {
		(void)snprintf(err, errlen, "%s: %s", path, strerror(errno));
		goto fail;
	}
	if (ht->n == 0) {
		(void)snprintf(err, errlen, "%s: no users", path);
		goto fail;
	}
	free(line);
	(void)fclose(f);
	return (ht);

 fail:
	free(line);
	(void)fclose(f);
	htpasswd_free(ht);
	return (NULL);
}

int
htpasswd_check(struct gw_htpasswd *ht, const char *header)
{
	uint8_t		 digest[DSRV_SHA256_BYTES];
	char		 cred[512], *pass;
	const char	*h;
	size_t		 i, len, hlen;
	int		 ok = 0;

	if (strncasecmp(header, "Basic ", 6) != 0)
		return (0);
	header += 6;
	while (*header == ' ')
		header++;
	dsrv_sha256(digest, header, strlen(header));
	for (i = 0; i < ht->npassed; i++)
		if (sodium_memcmp(ht->passed[i], digest, sizeof(digest)) == 0)
			return (1);

	if (sodium_base642bin((unsigned char *)cred, sizeof(cred) - 1, header,
	    strlen(header), NULL, &len, NULL,
	    sodium_base64_VARIANT_ORIGINAL) != 0)
		return (0);
	cred[len] = '\0';
	if (strlen(cred) != len || (pass = strchr(cred, ':')) == NULL)
		goto out;
	*pass++ = '\0';
	for (i = 0; i < ht->n; i++) {
		if (strcmp(ht->u[i].user, cred) != 0)
			continue;
		h = crypt_r(pass, ht->u[i].hash, ht->cd);
		hlen = strlen(ht->u[i].hash);
		ok = h != NULL && h[0] != '*' && strlen(h) == hlen &&
		    sodium_memcmp(h, ht->u[i].hash, hlen) == 0;
		break;
	}
	if (ok) {
		memcpy(ht->passed[ht->nextpassed], digest, sizeof(digest));
		ht->nextpassed = (ht->nextpassed + 1) % HT_PASSED;
		if (ht->npassed < HT_PASSED)
			ht->npassed++;
	}
 out:
	sodium_memzero(cred, sizeof(cred));
	return (ok);
}

void
htpasswd_free(struct gw_htpasswd *ht)
{
	size_t	 i;

	if (ht == NULL)
		return;
	for (i = 0; i < ht->n; i++) {
		free(ht->u[i].user);
		if (ht->u[i].hash != NULL)
			sodium_memzero(ht->u[i].hash, strlen(ht->u[i].hash));
		free(ht->u[i].hash);
	}
	if (ht->cd != NULL)
		sodium_memzero(ht->cd, sizeof(*ht->cd));
	free(ht->cd);
	sodium_memzero(ht, sizeof(*ht));
	free(ht);
}
