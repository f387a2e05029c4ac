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
 * Unit tests for lib/util.c's escaping of text for a terminal: what
 * dsrv_vis() and dsrv_avis() pass (printable ASCII, valid printable
 * UTF-8) and what they escape (controls, C1 in UTF-8 and raw, invalid
 * UTF-8, line separators, bidirectional controls), and the cut.
 */
#include <sys/types.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"
#include "tap.h"

static void	 vis_is(const char *, const char *, const char *);

static void
vis_is(const char *src, const char *want, const char *what)
{
	char	*got;

	if ((got = dsrv_avis(src)) == NULL) {
		ok(0, "%s: no memory", what);
		return;
	}
	is_str(got, want, "%s", what);
	free(got);
}

int
main(void)
{
	char		 buf[8];
	uint32_t	 cp;

	vis_is("plain name-1.txt", "plain name-1.txt", "ASCII passes");
	vis_is("caf\xc3\xa9 \xe6\x97\xa5\xe6\x9c\xac \xf0\x9f\x98\x80",
	    "caf\xc3\xa9 \xe6\x97\xa5\xe6\x9c\xac \xf0\x9f\x98\x80",
	    "valid printable UTF-8 passes (e-acute, CJK, emoji)");
	vis_is("\xc2\xa0\xc2\xbf", "\xc2\xa0\xc2\xbf",
	    "U+00A0 and U+00BF pass");
	vis_is("a\tb\nc\rd\\e", "a\\tb\\nc\\rd\\\\e",
	    "tab, newline, CR and backslash C-style");
	vis_is("\033[31mred", "\\033[31mred", "ESC in octal");
	vis_is("x\x7fy\x01", "x\\177y\\001", "DEL and C0 in octal");
	vis_is("\xc2\x80\xc2\x9b\xc2\x9f", "\\302\\200\\302\\233\\302\\237",
	    "C1 controls in UTF-8: every byte in octal");
	vis_is("a\x9b" "31mb\x80\x9f", "a\\23331mb\\200\\237",
	    "raw bytes 0x80..0x9f in octal");
	vis_is("\xff\xfe\xc0\xaf\xe0\x80\xaf\xed\xa0\x80\xf4\x90\x80\x80",
	    "\\377\\376\\300\\257\\340\\200\\257\\355\\240\\200"
	    "\\364\\220\\200\\200",
	    "invalid UTF-8 (0xff, overlong, surrogate, above U+10FFFF)");
	vis_is("a\xc3", "a\\303", "UTF-8 cut short at the end");
	vis_is("a\xe6\x97" "b", "a\\346\\227b", "UTF-8 cut short inside");
	vis_is("evil\xe2\x80\xae" "fdp.exe", "evil\\342\\200\\256fdp.exe",
	    "U+202E RIGHT-TO-LEFT OVERRIDE escaped");
	vis_is("\xe2\x80\xaa\xe2\x80\xab\xe2\x80\xac\xe2\x80\xad",
	    "\\342\\200\\252\\342\\200\\253\\342\\200\\254\\342\\200\\255",
	    "U+202A..U+202D escaped");
	vis_is("\xe2\x81\xa6\xe2\x81\xa9\xe2\x80\x8e\xe2\x80\x8f\xd8\x9c",
	    "\\342\\201\\246\\342\\201\\251\\342\\200\\216\\342\\200\\217"
	    "\\330\\234", "isolates, LRM, RLM and U+061C escaped");
	vis_is("a\xe2\x80\xa8" "b\xe2\x80\xa9", "a\\342\\200\\250b\\342\\200\\251",
	    "U+2028 and U+2029 escaped");
	vis_is("\xe2\x80\xa7\xe2\x80\xaf\xe2\x81\xa5", "\xe2\x80\xa7\xe2\x80\xaf"
	    "\xe2\x81\xa5", "their neighbours U+2027, U+202F, U+2065 pass");

	/* The cut: never half an escape or half a character. */
	dsrv_vis(buf, sizeof(buf), "ab\xc2\x9b");
	is_str(buf, "ab", "an escape that does not fit is left out whole");
	dsrv_vis(buf, sizeof(buf), "abcde\xc3\xa9");
	is_str(buf, "abcde\xc3\xa9", "a character that fits");
	dsrv_vis(buf, sizeof(buf), "abcdef\xc3\xa9");
	is_str(buf, "abcdef", "one that does not is left out whole");
	dsrv_vis(buf, 1, "abc");
	is_str(buf, "", "room for the NUL only");

	/* dsrv_safe: the same, but escapes already made pass unchanged. */
	{
		char	 once[64], twice[64];

		dsrv_vis(once, sizeof(once), "a\\b\033\xc2\x9b\xe2\x80\xae");
		dsrv_safe(twice, sizeof(twice), once);
		is_str(twice, once, "dsrv_safe of dsrv_vis output: unchanged");
		dsrv_safe(twice, sizeof(twice), "a\\b\033\xc2\x9b\xe2\x80\xae");
		is_str(twice, "a\\b\\033\\302\\233\\342\\200\\256",
		    "dsrv_safe of raw text: a backslash stays, the rest escaped");
	}

	is_int(dsrv_utf8_decode("\xe2\x80\xae", &cp), 3, "decode: 3 bytes");
	is_int(cp, 0x202e, "decode: U+202E");
	is_int(dsrv_utf8_decode("\xf0\x9f\x98\x80", &cp), 4, "decode: 4 bytes");
	is_int(cp, 0x1f600, "decode: U+1F600");
	is_int(dsrv_utf8_decode("\x9b", &cp), 0, "decode: a lone 0x9b");
	ok(!dsrv_utf8_shown(0x9b) && !dsrv_utf8_shown(0x7f) &&
	    dsrv_utf8_shown(0xa0) && dsrv_utf8_shown(0x41),
	    "shown: not U+009B or DEL, yes U+00A0 and A");
	return (tap_done());
}
