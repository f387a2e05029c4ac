#!/bin/sh
# needs: root
# Server text never reaches a terminal raw: files whose names hold C1
# controls (in UTF-8 and as raw bytes), an escape sequence, invalid
# UTF-8 and U+202E are stored with dctl put; dctl match, dctl stat NAME
# and dctl -j match then print only printable ASCII and valid UTF-8 of
# printable characters (no C0, DEL, C1, U+2028/2029 or bidirectional
# control), JSON that decodes to the names as stored, and valid UTF-8
# names such as "café/日本" unchanged.

. "$REGRESS/lib.sh"
storage_tmpdir
need_bins
own_dctl || bail "cannot copy dctl"
ensure_users
ensure_chroot || bail "cannot prepare /var/empty"
storage_conf || bail "cannot write the configuration"
start_dsrvd "$CONF" || bail "dsrvd did not start"

# clean FILE: only printable ASCII, newlines and valid UTF-8 of code
# points a terminal shows as they are.
clean() {
	python3 -c 'import sys, unicodedata
b = open(sys.argv[1], "rb").read()
try:
    s = b.decode("utf-8")
except UnicodeDecodeError as e:
    print("invalid UTF-8: %s" % e)
    sys.exit(1)
bad = [c for c in s if c != "\n" and (ord(c) < 0x20 or 0x7f <= ord(c) <= 0x9f
       or c in "\u061c\u200e\u200f\u2028\u2029\u202a\u202b\u202c\u202d\u202e"
       "\u2066\u2067\u2068\u2069")]
if bad:
    print("raw %s in %r" % (", ".join("U+%04X" % ord(c) for c in bad), s))
    sys.exit(1)' "$1"
}

printf 'hostile\n' >"$T/f"
i=0
for n in 'c1/\302\233\061m' 'raw/\233\061m\237' 'esc/\033]0;pwned\007\033[2J' \
    'bad/\377\300\257\355\240\200' 'rlo/evil\342\200\256fdp.exe' \
    'sep/a\342\200\250b'; do
	i=$((i + 1))
	name=$(printf "$n")
	cdctl put "$T/f" "$name" >"$T/put$i.out" 2>&1
	result $? "put of hostile name $i"
	clean "$T/put$i.out" >"$T/clean.out" 2>&1
	check "put's own output for name $i is clean" [ ! -s "$T/clean.out" ] ||
	    diagfile "$T/clean.out"
	printf '%s' "$name" >"$T/name$i"
done
good=$(printf 'caf\303\251/\346\227\245\346\234\254')
cdctl put "$T/f" "$good" >/dev/null 2>&1
result $? "put of a valid UTF-8 name"

cdctl match >"$T/match.out" 2>"$T/match.err"
result $? "match of everything"
check "match lists 7 files" [ "$(wc -l <"$T/match.out")" -eq 7 ]
check "match output is clean" clean "$T/match.out"
check "match shows the valid UTF-8 name unchanged" \
    grep -Fq "$good" "$T/match.out"
check "match shows U+202E escaped" grep -Fq 'rlo/evil\342\200\256fdp.exe' \
    "$T/match.out"
check "match shows a raw 0x9b escaped" grep -Fq 'raw/\2331m\237' \
    "$T/match.out"

cdctl -j match >"$T/json.out" 2>"$T/json.err"
result $? "match -j"
check "JSON output is clean" clean "$T/json.out"
check "every line is a JSON object" json_lines "$T/json.out" 7
check "JSON escapes U+009B and U+202E" python3 -c 'import sys
s = open(sys.argv[1], "rb").read()
sys.exit(0 if b"\\u009b" in s and b"\\u202e" in s else 1)' "$T/json.out"
check "JSON keeps the valid UTF-8 name as it is" grep -Fq "$good" \
    "$T/json.out"

i=0
for n in 1 2 3 4 5 6; do
	i=$((i + 1))
	cdctl stat "$(cat "$T/name$i")" >"$T/stat$i.out" 2>&1
	result $? "stat of hostile name $i"
	check "stat output of name $i is clean" clean "$T/stat$i.out"
done

# An error message that names a hostile file.
cdctl get "$(cat "$T/name1")x" "$T/nothere" >"$T/get.out" 2>&1
check "get of a missing hostile name fails" [ -s "$T/get.out" ]
check "and its message is clean" clean "$T/get.out"

finish
