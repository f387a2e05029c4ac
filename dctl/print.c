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
 * dctl's output formatting: names escaped for a terminal, dates, and a
 * file's metadata as text or as JSON lines for scripts.  The commands
 * call it; it calls only util.c (to die without memory).
 */
#include <sys/types.h>

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "chunkname.h"
#include "dctl.h"
#include "dsrvfile.h"
#include "util.h"

static void	 fmt_date(uint64_t, char *, size_t);
static void	 hex(const uint8_t *, size_t, char *);

/* UTC, so that the same file shows the same date everywhere. */
static void
fmt_date(uint64_t secs, char *buf, size_t len)
{
	struct tm	 tm;
	time_t		 t = (time_t)secs;

	if (secs == 0 || secs > (uint64_t)INT64_MAX / 2 ||
	    gmtime_r(&t, &tm) == NULL ||
	    strftime(buf, len, "%Y-%m-%d %H:%M:%S", &tm) == 0)
		(void)snprintf(buf, len, "%19s", "-");
}

static void
hex(const uint8_t *p, size_t n, char *out)
{
	static const char	 digits[] = "0123456789abcdef";
	size_t			 i;

	for (i = 0; i < n; i++) {
		out[2 * i] = digits[p[i] >> 4];
		out[2 * i + 1] = digits[p[i] & 15];
	}
	out[2 * n] = '\0';
}

/*
 * s escaped for a terminal, valid until the call after next.  Two
 * static buffers: for dctl's single-threaded commands only; threads
 * (serve restic's workers) escape with dsrv_avis into their own.
 */
const char *
printable(const char *s)
{
	static char	*buf[2];
	static int	 which;

	which = !which;
	free(buf[which]);
	if ((buf[which] = dsrv_avis(s)) == NULL)
		die("%s", strerror(errno));
	return (buf[which]);
}

void
json_string(FILE *fp, const char *str)
{
	const unsigned char	*s = (const unsigned char *)str;
	uint32_t		 cp;
	size_t			 n;

	fputc('"', fp);
	while (*s != '\0') {
		if (*s == '"' || *s == '\\') {
			fputc('\\', fp);
			fputc(*s++, fp);
		} else if (*s < 0x20 || *s == 0x7f) {
			fprintf(fp, "\\u%04x", *s++);
		} else if (*s < 0x80) {
			fputc(*s++, fp);
		} else if ((n = dsrv_utf8_decode((const char *)s,
		    &cp)) > 0) {
			/*
			 * Not for a terminal as it is (C1, U+202E, ...): the
			 * same character, escaped.  All such are below
			 * U+10000: one escape each.
			 */
			if (dsrv_utf8_shown(cp))
				(void)fwrite(s, 1, n, fp);
			else
				fprintf(fp, "\\u%04x", (unsigned int)cp);
			s += n;
		} else {
			/* Names are bytes; JSON wants UTF-8.  Latin-1 it is. */
			fprintf(fp, "\\u%04x", *s++);
		}
	}
	fputc('"', fp);
}

void
json_meta(FILE *fp, const struct dsrv_file_meta *m, int chunks)
{
	char		 sha[65], cname[CHUNK_NAME_MAX + 1];
	size_t		 i;

	fputs("{\"name\":", fp);
	json_string(fp, m->name);
	fprintf(fp, ",\"length\":%" PRIu64 ",\"crc32\":\"%08" PRIx32 "\","
	    "\"stored_at\":%" PRIu64 ",\"sha256\":", m->length, m->crc,
	    m->stored_at);
	if (m->has_sha256) {
		hex(m->sha256, sizeof(m->sha256), sha);
		fprintf(fp, "\"%s\"", sha);
	} else
		fputs("null", fp);
	if (m->upload != 0)
		fprintf(fp, ",\"upload\":\"%016" PRIx64 "\"", m->upload);
	fputs(",\"meta\":", fp);
	json_string(fp, m->metaname);
	if (!chunks) {
		fprintf(fp, ",\"chunks\":%zu}\n", m->nchunks);
		return;
	}
	fputs(",\"chunks\":[", fp);
	for (i = 0; i < m->nchunks; i++) {
		dsrv_chunk_name(m, i, cname);
		fprintf(fp, "%s{\"index\":%zu,\"length\":%" PRIu64 ","
		    "\"crc32\":\"%08" PRIx32 "\",\"chunk\":\"%s\"}",
		    i > 0 ? "," : "", i, m->chunks[i].length,
		    m->chunks[i].crc, cname);
	}
	fputs("]}\n", fp);
}

/* UTC dates, hex sha256, every chunk by index, length, crc32 and name. */
void
print_meta(const struct dsrv_file_meta *m)
{
	char	 date[32], sha[65], cname[CHUNK_NAME_MAX + 1];
	size_t	 i;

	if (cargs.json) {
		json_meta(stdout, m, 1);
		return;
	}
	fmt_date(m->stored_at, date, sizeof(date));
	if (m->has_sha256)
		hex(m->sha256, sizeof(m->sha256), sha);
	else
		(void)strlcpy(sha, "-", sizeof(sha));
	printf("%-10s%s\n", "name", printable(m->name));
	printf("%-10s%" PRIu64 "\n", "length", m->length);
	printf("%-10s%08" PRIx32 "\n", "crc32", m->crc);
	printf("%-10s%s\n", "sha256", sha);
	printf("%-10s%s (%" PRIu64 ")\n", "stored", date, m->stored_at);
	if (m->upload != 0)
		printf("%-10s%016" PRIx64 " (stored as a stream)\n", "upload",
		    m->upload);
	printf("%-10s%s\n", "metadata", m->metaname);
	printf("%-10s%zu\n", "chunks", m->nchunks);
	for (i = 0; i < m->nchunks; i++) {
		dsrv_chunk_name(m, i, cname);
		printf("chunk %zu length %" PRIu64 " crc32 %08" PRIx32 " %s\n",
		    i, m->chunks[i].length, m->chunks[i].crc, cname);
	}
}

/* crc32, length, date stored and name. */
void
print_match(const struct dsrv_file_meta *m)
{
	char	 date[32];

	if (cargs.json) {
		json_meta(stdout, m, 0);
		return;
	}
	fmt_date(m->stored_at, date, sizeof(date));
	printf("%08" PRIx32 "  %12" PRIu64 "  %s  %s\n", m->crc, m->length,
	    date, printable(m->name));
}
