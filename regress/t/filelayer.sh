#!/bin/sh
# needs: root
# The file layer against the real daemon, for what backup hosts do
# every night.  Two different files with the same crc32 and length
# (the second forced by four crafted bytes) are both stored, under
# their own names and under the same name, and fetched byte for byte;
# the second's data chunk takes the alternate name "-1" and its
# metadata says so (version 2), while a file with D's names keeps
# version 1.  A file whose data chunk rotted on disk is stored again
# and fetched intact; both versions are listed, newest first, and
# --version picks either.  A second put of an unchanged 300 MiB file
# sends under 1% of it, and a put killed half-way resumes sending only
# what is missing.  Streams: seq 1 50000000 and 160 MiB of random
# bytes through a pipe, stored and fetched identical, with dctl's peak
# RSS bounded; a declared --crc32 or --length that the stream does not
# match writes no metadata; a wrong --crc32 for a file sends nothing.

. "$REGRESS/lib.sh"
storage_tmpdir
need_bins
own_dctl || bail "cannot copy dctl"
ensure_users
ensure_chroot || bail "cannot prepare /var/empty"
storage_conf || bail "cannot write the configuration"
start_dsrvd "$CONF" || bail "dsrvd did not start"

MIB8=8388608

# meta_version FILE: the format version of a metadata chunk on disk
# (its first field: tag, type, 16-bit length, 64-bit value, crc32).
meta_version() {
	python3 -c 'import sys
b = open(sys.argv[1], "rb").read()
print(int.from_bytes(b[4:12], "big"))' "$1"
}

# got TEXT NAME FILE [get options]: dctl get NAME is FILE, byte for byte.
got() {
	_t=$1
	_n=$2
	_f=$3
	shift 3
	rm -f "$T/got"
	cdctl get "$@" "$_n" "$T/got" >"$T/get.out" 2>&1
	_rc=$?
	if [ "$_rc" -eq 0 ] && cmp -s "$_f" "$T/got"; then
		ok "$_t"
	else
		notok "$_t (exit $_rc)"
		diagfile "$T/get.out"
	fi
}

# has_cmd REGEX CMD...: CMD's output has a line matching REGEX.
has_cmd() {
	_re=$1
	shift
	"$@" >"$T/cmd.out" 2>&1
	grep -Eq -- "$_re" "$T/cmd.out"
}

# bytes_in: what the network processes have received, all together.
bytes_in() {
	status
	awk '{ v = $NF; $NF = ""; sub(/ +$/, ""); sub(/^ +/, "");
	    if ($0 == "bytes in") s += v } END { print s + 0 }' "$T/status.out"
}

# json_field FILE KEY: a number from the last JSON line of FILE.
json_field() {
	python3 -c 'import json, sys
print(json.loads(open(sys.argv[1]).read().strip().splitlines()[-1])[sys.argv[2]])' "$1" "$2"
}

### crc32 twins

rand_file "$T/a" 100000 || bail "cannot make a file"
crc_twin "$T/a" "$T/b" 100000 || bail "cannot craft a crc32 twin"
crc=$(crc32_of "$T/a")
check "the twin has the same crc32 ($crc) and length" \
    [ "$(crc32_of "$T/b")" = "$crc" ]
check "... and other bytes" not cmp -s "$T/a" "$T/b"
check "put twin/a" cdctl put "$T/a" twin/a
cdctl put "$T/b" twin/b >"$T/put.out" 2>&1
rc=$?
check "put twin/b, the crc32 twin, exits 0 ($rc)" [ "$rc" -eq 0 ]
[ "$rc" -eq 0 ] || diagfile "$T/put.out"
got "get twin/a byte for byte" twin/a "$T/a"
got "get twin/b byte for byte" twin/b "$T/b"
d=$(echo "$crc" | cut -c1-2)
check "twin/a's chunk has D's name" [ -f "$DATA/$d/$crc-00000000-$crc" ]
check "twin/b's chunk has the alternate name -1" \
    [ -f "$DATA/$d/$crc-00000000-$crc-1" ]
check "twin/b's metadata names the alternate" has_cmd \
    "$crc-00000000-$crc-1" cdctl stat twin/b
check "twin/a's metadata is format version 1 (D's readers read it)" \
    [ "$(meta_version "$DATA/index/twin_a-$crc")" = 1 ]
check "twin/b's metadata is format version 2" \
    [ "$(meta_version "$DATA/index/twin_b-$crc")" = 2 ]

# The same name and crc32, other bytes: a second version of the name.
sleep 1
check "put the twin as twin/a too" cdctl put "$T/b" twin/a
check "its metadata takes the alternate name index/twin_a-$crc-1" \
    [ -f "$DATA/index/twin_a-$crc-1" ]
cdctl match twin/a >"$T/match.out" 2>&1
check "match twin/a lists both versions" [ "$(wc -l <"$T/match.out")" -eq 2 ]
got "get twin/a is now the newest version, the twin" twin/a "$T/b"
got "get --version 2 twin/a is the first one" twin/a "$T/a" --version 2
cdctl get --version 3 twin/a "$T/got" >"$T/get.out" 2>&1
rc=$?
check "get --version 3 twin/a exits 3 ($rc)" [ "$rc" -eq 3 ]
check "... saying how many there are" has "$T/get.out" "2 stored"
check "a re-put of each twin changes nothing" sh -c '
	'"$DCTL"' -r 127.0.0.1:'"$PORT"' -k '"$CKEY"' -K '"$CKEYNAME"' put '"$T/a"' twin/a &&
	'"$DCTL"' -r 127.0.0.1:'"$PORT"' -k '"$CKEY"' -K '"$CKEYNAME"' put '"$T/b"' twin/b'
check "... no third metadata chunk" no_file "$DATA/index/twin_a-$crc-2"

# A name that sanitizes to the full 190 bytes: its alternate metadata
# name is cut to 187 so that "-k" fits.
long=long/$(printf '%0200d' 0 | tr 0 x)
check "put twin/a's bytes under a 205-byte name" cdctl put "$T/a" "$long"
check "... and the twin under the same name" cdctl put "$T/b" "$long"
cdctl match "$long" >"$T/match.out" 2>&1
check "match of the long name lists both versions" \
    [ "$(wc -l <"$T/match.out")" -eq 2 ]
check "match long/ lists them too" \
    [ "$(cdctl match long/ | wc -l)" -eq 2 ]
cdctl get --version 1 "$long" - >"$T/v1" 2>/dev/null
cdctl get --version 2 "$long" - >"$T/v2" 2>/dev/null
check "get --version 1 and 2 of the long name are the two files" sh -c \
    "{ cmp -s '$T/v1' '$T/a' && cmp -s '$T/v2' '$T/b'; } ||
    { cmp -s '$T/v1' '$T/b' && cmp -s '$T/v2' '$T/a'; }"

# Twins of two chunks: the same first chunk, and last chunks that are
# crc32 twins, so the files are too.  The first is shared, the second
# takes the alternate name.
rand_file "$T/big" $((MIB8 + 5000)) || bail "cannot make a file"
dd if="$T/big" of="$T/head" bs=$MIB8 count=1 2>/dev/null
dd if="$T/big" of="$T/tail" bs=$MIB8 skip=1 2>/dev/null
crc_twin "$T/tail" "$T/tail2" 5000 || bail "cannot craft a crc32 twin"
cat "$T/head" "$T/tail2" >"$T/big2"
bcrc=$(crc32_of "$T/big")
check "a 2-chunk twin: the same crc32" [ "$(crc32_of "$T/big2")" = "$bcrc" ]
check "put big (2 chunks)" cdctl put "$T/big" twin/big
cdctl -j put "$T/big2" twin/big2 >"$T/put.json" 2>&1
rc=$?
check "put its 2-chunk twin exits 0 ($rc)" [ "$rc" -eq 0 ]
check "... its first chunk found stored and not sent" \
    [ "$(json_field "$T/put.json" chunks_skipped)" -eq 1 ]
check "... its second under an alternate name" \
    [ "$(json_field "$T/put.json" alternates)" -eq 1 ]
got "get big byte for byte" twin/big "$T/big"
got "get its twin byte for byte" twin/big2 "$T/big2"

### a rotted chunk, stored again

rand_file "$T/r" 300000 || bail "cannot make a file"
rcrc=$(crc32_of "$T/r")
rd=$(echo "$rcrc" | cut -c1-2)
check "put rot/r" cdctl put "$T/r" rot/r
check "flip a byte of its chunk on disk" \
    flip_byte "$DATA/$rd/$rcrc-00000000-$rcrc" 1000
cdctl get rot/r "$T/got" >"$T/get.out" 2>&1
rc=$?
check "get rot/r fails as corrupt (exit $rc)" [ "$rc" -eq 4 ]
sleep 1
cdctl put "$T/r" rot/r >"$T/put.out" 2>&1
rc=$?
check "put rot/r again exits 0 ($rc)" [ "$rc" -eq 0 ]
[ "$rc" -eq 0 ] || diagfile "$T/put.out"
check "the chunk went to the alternate name" \
    [ -f "$DATA/$rd/$rcrc-00000000-$rcrc-1" ]
got "get rot/r is intact" rot/r "$T/r"
cdctl get --version 2 rot/r "$T/got" >"$T/get.out" 2>&1
rc=$?
check "get --version 2 rot/r is the rotted one (exit $rc)" [ "$rc" -eq 4 ]
cdctl scrub rot/ >"$T/scrub.out" 2>&1
check "scrub rot/ reports the rotted chunk" \
    has "$T/scrub.out" "corrupt $rd/$rcrc-00000000-$rcrc "
check "... and not the alternate" not has "$T/scrub.out" "$rcrc-1"

### nothing sent twice

rand_file "$T/f300" $((300 * 1024 * 1024)) || bail "cannot make a file"
check "put f300 (300 MiB)" cdctl put "$T/f300" big/f300
in0=$(bytes_in)
cdctl -j put "$T/f300" big/f300 >"$T/put.json" 2>"$T/put.err"
rc=$?
in1=$(bytes_in)
check "put f300 again exits 0 ($rc)" [ "$rc" -eq 0 ]
sent=$(json_field "$T/put.json" sent)
skipped=$(json_field "$T/put.json" skipped)
check "... sent $sent bytes (the metadata): under 1% of 300 MiB" \
    [ "$sent" -lt $((3 * 1024 * 1024)) ]
check "... skipped all $skipped bytes of data" \
    [ "$skipped" -eq $((300 * 1024 * 1024)) ]
check "... the server received $((in1 - in0)) bytes: under 1% of 300 MiB" \
    [ $((in1 - in0)) -lt $((3 * 1024 * 1024)) -a "$in1" -gt "$in0" ]
got "get f300 byte for byte" big/f300 "$T/f300"

# A put that stopped after 7 of its 20 chunks, as one killed there
# leaves them (stored here one by one with dctl chunk put), then again:
# what arrived is not sent again.
rand_file "$T/g" $((20 * MIB8)) || bail "cannot make a file"
gcrc=$(crc32_of "$T/g")
c=0
while [ "$c" -lt 7 ]; do
	dd if="$T/g" of="$T/piece" bs=$MIB8 skip=$c count=1 2>/dev/null
	pcrc=$(crc32_of "$T/piece")
	cdctl chunk put "$(printf '%s/%s-%08x-%s' "$(echo "$gcrc" | cut -c1-2)" \
	    "$gcrc" "$c" "$pcrc")" "$T/piece" || break
	c=$((c + 1))
done
check "7 chunks of big/g stored as a killed put leaves them" [ "$c" -eq 7 ]
cdctl -j put "$T/g" big/g >"$T/put.json" 2>"$T/put.err"
rc=$?
check "the put again exits 0 ($rc)" [ "$rc" -eq 0 ]
skipped=$(json_field "$T/put.json" chunks_skipped)
sent=$(json_field "$T/put.json" chunks_sent)
bytes=$(json_field "$T/put.json" sent)
check "... skipped the $skipped chunks that had arrived" [ "$skipped" -eq "$c" ]
check "... sent only the other $sent" [ "$sent" -eq 13 ]
check "... $bytes bytes: those chunks and the metadata" \
    [ "$bytes" -ge $((13 * MIB8)) -a "$bytes" -le $((13 * MIB8 + 65536)) ]
got "get big/g byte for byte" big/g "$T/g"

### a declared crc32 or length

before=$(find "$DATA" -type f | wc -l)
cdctl put --crc32 01234567 "$T/r" decl/r >"$T/put.out" 2>&1
rc=$?
check "put --crc32 wrong for a file exits 4 ($rc)" [ "$rc" -eq 4 ]
check "... saying nothing was sent" has "$T/put.out" "nothing sent"
check "... and nothing was" [ "$(find "$DATA" -type f | wc -l)" -eq "$before" ]
cdctl put --length 5 "$T/r" decl/r >"$T/put.out" 2>&1
rc=$?
check "put --length wrong for a file exits 4 ($rc)" [ "$rc" -eq 4 ]
check "put --crc32 right for a file" cdctl put --crc32 "$rcrc" "$T/r" decl/r

### streams

# peak_rss OUT CMD...: CMD's maximum resident set in KiB into OUT.
peak_rss() {
	_o=$1
	shift
	/usr/bin/time -f %M -o "$_o" "$@"
}

# Memory: dctl's peak RSS for a 160 MiB stream, which already fills
# every buffer the writer and the reader have, is the yardstick; a
# stream of 428 MB must not take more than 64 MiB beyond it (holding
# the stream would take 270 MB more; how many of its 17 chunk buffers
# are touched at the peak varies from run to run by up to ~40 MB).
# Relative, so that it holds in the sanitizer build too, whose RSS is
# larger throughout.
rand_file "$T/rnd" $((160 * 1024 * 1024)) || bail "cannot make a file"
cat "$T/rnd" | peak_rss "$T/rss" "$DCTL" -r "127.0.0.1:$PORT" -k "$CKEY" \
    -K "$CKEYNAME" put - stream/rnd >"$T/put.out" 2>&1
rc=$?
check "160 MiB of random bytes through a pipe: put exits 0 ($rc)" [ "$rc" -eq 0 ]
rss_put=$(tail -n 1 "$T/rss")
got "get stream/rnd byte for byte" stream/rnd "$T/rnd"
peak_rss "$T/rss" "$DCTL" -r "127.0.0.1:$PORT" -k "$CKEY" -K "$CKEYNAME" \
    get stream/rnd - 2>"$T/get.err" | cmp -s - "$T/rnd"
check "get stream/rnd - to a pipe, byte for byte" [ $? -eq 0 ]
rss_get=$(tail -n 1 "$T/rss")
check "a stream sent again is another upload, read the same" sh -c \
    "cat '$T/rnd' | '$DCTL' -r 127.0.0.1:$PORT -k '$CKEY' -K $CKEYNAME put - stream/rnd"
got "... get stream/rnd byte for byte" stream/rnd "$T/rnd"
rm -f "$T/rnd"

seq 1 50000000 >"$T/seq"
seq 1 50000000 | peak_rss "$T/rss" "$DCTL" -r "127.0.0.1:$PORT" -k "$CKEY" \
    -K "$CKEYNAME" put - stream/big.txt >"$T/put.out" 2>&1
rc=$?
check "seq 1 50000000 | dctl put - stream/big.txt exits 0 ($rc)" \
    [ "$rc" -eq 0 ]
[ "$rc" -eq 0 ] || diagfile "$T/put.out"
rss=$(tail -n 1 "$T/rss")
size=$(($(wc -c <"$T/seq") / 1024))
check "... dctl's peak RSS ${rss} KiB for ${size} KiB, ${rss_put} KiB for 160 MiB: within 64 MiB" \
    [ "$rss" -lt $((rss_put + 64 * 1024)) ]
got "get stream/big.txt byte for byte" stream/big.txt "$T/seq"
cdctl stat stream/big.txt >"$T/stat.out" 2>&1
check "stat says it was stored as a stream" has "$T/stat.out" "stored as a stream"
peak_rss "$T/rss" "$DCTL" -r "127.0.0.1:$PORT" -k "$CKEY" -K "$CKEYNAME" \
    get stream/big.txt - 2>"$T/get.err" | cmp -s - "$T/seq"
check "get stream/big.txt - to a pipe, byte for byte" [ $? -eq 0 ]
rss=$(tail -n 1 "$T/rss")
check "... dctl's peak RSS ${rss} KiB, ${rss_get} KiB for 160 MiB: within 64 MiB" \
    [ "$rss" -lt $((rss_get + 64 * 1024)) ]
rm -f "$T/seq"
cdctl scrub stream/ >"$T/scrub.out" 2>&1
rc=$?
check "scrub stream/ exits 0 ($rc)" [ "$rc" -eq 0 ]

rcrc2=$(crc32_of "$T/r")
cat "$T/r" | cdctl put --crc32 01234567 - stream/bad >"$T/put.out" 2>&1
rc=$?
check "a stream with a wrong --crc32 exits 4 ($rc)" [ "$rc" -eq 4 ]
check "... and stores no metadata" not has_cmd stream/bad cdctl match stream/
cat "$T/r" | cdctl put --length 7 - stream/bad >"$T/put.out" 2>&1
rc=$?
check "a stream longer than its --length exits 4 ($rc)" [ "$rc" -eq 4 ]
cat "$T/r" | cdctl put --length 300001 - stream/bad >"$T/put.out" 2>&1
rc=$?
check "a stream shorter than its --length exits 4 ($rc)" [ "$rc" -eq 4 ]
check "... and none stored metadata" not has_cmd stream/bad cdctl match stream/
check "a stream with the right --crc32 and --length" sh -c \
    "cat '$T/r' | '$DCTL' -r 127.0.0.1:$PORT -k '$CKEY' -K $CKEYNAME put --crc32 $rcrc2 --length 300000 - stream/good"
got "get stream/good byte for byte" stream/good "$T/r"

finish
