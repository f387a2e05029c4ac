#!/bin/sh
# needs: root
# Files on dsrvd end to end with dctl: put/get round trips of 0 B, 1 B,
# 8 MiB, 8 MiB + 1 and 300 MiB of random data, byte for byte, to a file
# and to stdout, with --sha256; the chunks on disk are exactly the D
# scheme names (data chunks of 8 MiB, the metadata chunk under index/
# with the sanitized name); a second put of the same file changes
# nothing; match and stat, -j as JSON lines; names that need
# sanitizing; a missing file.  The lib writer through regress/tools/
# filetool: a declared crc32 or length that does not match the data is
# an error and leaves no metadata chunk (and abandoned lists the data
# chunks it left).  A data chunk corrupted on the server's disk: get
# fails naming the chunk (exit 4), scrub and scrub --read report it;
# the same for a corruption the server cannot see (bytes and stored
# crc32 changed together), which only the client's checks catch.

. "$REGRESS/lib.sh"
storage_tmpdir
need_bins
own_dctl || bail "cannot copy dctl"
[ -x "$FILETOOL" ] || bail "regress/tools/filetool not built"
[ -x "$CUTPROXY" ] || bail "regress/tools/cutproxy not built"
ensure_users
ensure_chroot || bail "cannot prepare /var/empty"
storage_conf || bail "cannot write the configuration"
start_dsrvd "$CONF" || bail "dsrvd did not start"

MIB8=8388608

# stored_ok TEXT NAME FILE: after a put of FILE as NAME, the data chunks
# on disk for FILE's crc32 are exactly its D scheme names, and the
# metadata chunk is there.
stored_ok() {
	_crc=$(crc32_of "$3")
	data_names "$3" >"$T/want.chunks"
	disk_chunks "$DATA" "$_crc" >"$T/disk.chunks"
	if cmp -s "$T/want.chunks" "$T/disk.chunks"; then
		ok "$1: data chunks on disk: $(wc -l <"$T/want.chunks")," \
		    "named as the D scheme says"
	else
		notok "$1: data chunks on disk named as the D scheme says"
		diag "expected:"
		diagfile "$T/want.chunks"
		diag "on disk:"
		diagfile "$T/disk.chunks"
	fi
	_m=$(meta_name "$2" "$_crc")
	if [ -f "$DATA/$_m" ]; then
		ok "$1: metadata chunk $_m"
	else
		notok "$1: metadata chunk $_m"
		diag "index/ holds:"
		ls "$DATA/index" 2>&1 | head -n 20 | sed "s|^|# |"
	fi
}

# roundtrip TEXT NAME FILE: put, chunks on disk, get to a file, get to
# stdout, get -, each compared byte for byte.
roundtrip() {
	cdctl put "$3" "$2" >"$T/put.out" 2>&1
	_rc=$?
	result "$_rc" "$1: put exits 0 ($_rc)"
	[ "$_rc" -eq 0 ] || diagfile "$T/put.out"
	stored_ok "$1" "$2" "$3"
	rm -f "$T/got"
	cdctl get "$2" "$T/got" >"$T/get.out" 2>&1
	_rc=$?
	if [ "$_rc" -eq 0 ] && cmp -s "$3" "$T/got"; then
		ok "$1: get to a file, byte for byte"
	else
		notok "$1: get to a file, byte for byte (exit $_rc)"
		diagfile "$T/get.out"
		cmp "$3" "$T/got" 2>&1 | sed "s|^|# |"
	fi
	cdctl get "$2" - >"$T/got" 2>"$T/get.err"
	_rc=$?
	if [ "$_rc" -eq 0 ] && cmp -s "$3" "$T/got"; then
		ok "$1: get NAME - to stdout, byte for byte"
	else
		notok "$1: get NAME - to stdout, byte for byte (exit $_rc)"
		diagfile "$T/get.err"
		cmp "$3" "$T/got" 2>&1 | sed "s|^|# |"
	fi
	cdctl get "$2" - 2>"$T/get.err" | cmp -s "$3" -
	result $? "$1: get NAME - to a pipe, byte for byte"
	# Without FILE: the last part of NAME, in the current directory.
	rm -rf "$T/dl" && mkdir "$T/dl" &&
	    (cd "$T/dl" && cdctl get "$2" >"$T/get.out" 2>&1) &&
	    cmp -s "$3" "$T/dl/${2##*/}"
	result $? "$1: get NAME without FILE writes ./${2##*/}, byte for byte"
	rm -rf "$T/dl"
}

# match_line NAME FILE: dctl match NAME shows crc32, size, a date and
# the name, as "%08x  %12llu  YYYY-mm-dd HH:MM:SS  NAME".
match_line() {
	_crc=$(crc32_of "$2")
	_len=$(wc -c <"$2" | tr -d ' ')
	cdctl match "$1" >"$T/match.out" 2>&1 || {
		echo "dctl match $1 failed:"
		cat "$T/match.out"
		return 1
	}
	_re=$(printf '^%s  %12s  [0-9]{4}-[0-9]{2}-[0-9]{2} [0-9]{2}:[0-9]{2}:[0-9]{2}  ' \
	    "$_crc" "$_len")
	grep -E -- "$_re" "$T/match.out" | grep -qF -- "  $1" && return 0
	echo "no line /$_re$1/ in:"
	cat "$T/match.out"
	return 1
}

### round trips

: >"$T/f0"
printf 'Z' >"$T/f1"
rand_file "$T/f8m" "$MIB8" || bail "cannot make an 8 MiB file"
rand_file "$T/f8m1" $((MIB8 + 1)) || bail "cannot make an 8 MiB + 1 file"
rand_file "$T/f20m" $((20 * 1024 * 1024 + 12345)) ||
    bail "cannot make a 20 MiB file"

roundtrip "0 bytes" files/zero "$T/f0"
roundtrip "1 byte" files/one "$T/f1"
roundtrip "8 MiB" files/eight "$T/f8m"
roundtrip "8 MiB + 1" files/eight1 "$T/f8m1"
roundtrip "20 MiB + 12345" files/twenty "$T/f20m"

check "0 bytes: no data chunks at all" \
    [ -z "$(disk_chunks "$DATA" "$(crc32_of "$T/f0")")" ]
check "8 MiB: one data chunk of 8 MiB" \
    [ "$(disk_chunks "$DATA" "$(crc32_of "$T/f8m")" | wc -l)" -eq 1 ]
c=$(disk_chunks "$DATA" "$(crc32_of "$T/f8m1")" | tail -n 1)
check "8 MiB + 1: two data chunks, the last of 1 byte" \
    [ "$(disk_chunks "$DATA" "$(crc32_of "$T/f8m1")" | wc -l)" -eq 2 -a \
    "$(stat -c %s "$DATA/$c" 2>/dev/null)" = 1 ]

# A few hundred MiB, timed: the time goes with the report.
rand_file "$T/big" $((300 * 1024 * 1024)) || bail "cannot make 300 MiB"
t0=$(date +%s)
roundtrip "300 MiB" files/big "$T/big"
diag "300 MiB: put and three gets in $(($(date +%s) - t0)) s"
check "300 MiB: 38 data chunks" \
    [ "$(disk_chunks "$DATA" "$(crc32_of "$T/big")" | wc -l)" -eq 38 ]
cdctl get --sha256 files/big - 2>"$T/get.err" | cmp -s "$T/big" -
result $? "300 MiB: get --sha256 to stdout, byte for byte"
rm -f "$T/big"

cdctl get --sha256 files/eight1 "$T/got" >"$T/get.out" 2>&1
rc=$?
check "get --sha256 files/eight1 to a file exits 0 ($rc)" [ "$rc" -eq 0 ]
check "get --sha256 files/eight1 to a file, byte for byte" \
    cmp "$T/f8m1" "$T/got"

### progress on a terminal, -q

# script(1) gives dctl a terminal; what it drew lands in the typescript.
# Work done in a moment draws nothing, so the put goes through cutproxy
# held to 16 MiB/s: 40 MiB take seconds.
pport=$(free_port)
"$CUTPROXY" -p "$pport" -t "$PORT" -s $((16 * 1024 * 1024)) 2>"$T/proxy.log" &
add_bgpid $!
wait_for_log "cutproxy: ready" 5 "$T/proxy.log"
rand_file "$T/p" $((40 * 1024 * 1024))
script -qfec "'$DCTL' -r 127.0.0.1:$pport -k '$CKEY' -K '$CKEYNAME' \
    put '$T/p' files/progress" "$T/tty.out" >/dev/null 2>&1
rc=$?
check "put on a terminal exits 0 ($rc)" [ "$rc" -eq 0 ]
check "put on a terminal draws a progress line: done / 40.0M, %, rate" \
    has "$T/tty.out" "/ 40\\.0M +[0-9]+% +[0-9.]+[A-Z]?/s"
check "the progress line is drawn more than once" \
    [ "$(grep -o '/ 40\.0M' "$T/tty.out" | wc -l)" -ge 2 ]
check "the progress line has an ETA or a time taken" \
    has "$T/tty.out" "ETA [0-9]+:[0-9]{2}:[0-9]{2}|[0-9]+\\.[0-9]s"
script -qfec "'$DCTL' -q -r 127.0.0.1:$pport -k '$CKEY' -K '$CKEYNAME' \
    get files/progress '$T/got'" "$T/tty.out" >/dev/null 2>&1
rc=$?
check "get -q on a terminal exits 0 ($rc)" [ "$rc" -eq 0 ]
check "get -q on a terminal prints nothing" \
    [ -z "$(grep -v '^Script \(started\|done\)' "$T/tty.out" | tr -d '\r\n')" ]
check "get -q: byte for byte" cmp "$T/p" "$T/got"
cdctl get files/progress "$T/got" >"$T/get.out" 2>&1
check "get not on a terminal prints nothing" [ ! -s "$T/get.out" ]
rm -f "$T/p"

### the same file again, names, missing files

nbefore=$(all_data_chunks "$DATA" | wc -l)
ibefore=$(ls "$DATA/index" | wc -l)
check "a second put of files/twenty succeeds" cdctl put "$T/f20m" files/twenty
check "a second put adds no data chunk" \
    [ "$(all_data_chunks "$DATA" | wc -l)" -eq "$nbefore" ]
check "a second put adds no metadata chunk" \
    [ "$(ls "$DATA/index" | wc -l)" -eq "$ibefore" ]

check "put FILE without NAME: stored under FILE as given" \
    sh -c "cd '$T' && '$DCTL' -s '$SOCK' -r 127.0.0.1:$PORT -k '$CKEY' \
    -K '$CKEYNAME' put f1"
check "get f1 (the name put used)" cdctl get f1 "$T/got"
check "f1 byte for byte" cmp "$T/f1" "$T/got"

rand_file "$T/odd" 5000
for n in "dir/sub dir/file name.txt" ".hidden" "ü-umlaut" \
    "$(printf 'long%0250d' 7)"; do
	check "name '$n': put" cdctl put "$T/odd" "$n"
	m=$(meta_name "$n" "$(crc32_of "$T/odd")")
	check "name '$n': metadata chunk $m" [ -f "$DATA/$m" ]
	rm -f "$T/got"
	cdctl get "$n" "$T/got" >"$T/get.out" 2>&1
	check "name '$n': get, byte for byte" cmp "$T/odd" "$T/got"
	check "name '$n': match shows it" match_line "$n" "$T/odd"
done
# Two names that sanitize alike are two files.
printf 'slash' >"$T/s1"
printf 'under' >"$T/s2"
cdctl put "$T/s1" "same/name" >/dev/null 2>&1
cdctl put "$T/s2" "same_name" >/dev/null 2>&1
cdctl get same/name "$T/got" >/dev/null 2>&1
check "same/name and same_name are apart: same/name" cmp "$T/s1" "$T/got"
cdctl get same_name "$T/got" >/dev/null 2>&1
check "same/name and same_name are apart: same_name" cmp "$T/s2" "$T/got"

check "get of a file never stored exits 3" exits 3 cdctl get files/nope "$T/got"
check "get of a file never stored names it" has "$T/exits.out" "files/nope"
check "stat of a file never stored exits 3" exits 3 cdctl stat files/nope
ibefore=$(ls "$DATA/index" | wc -l)
check "put of a missing local file fails" \
    fails cdctl put "$T/no-such-file" files/nofile
check "put of a missing local file stores nothing" \
    [ "$(ls "$DATA/index" | wc -l)" -eq "$ibefore" ]

### servers that cannot be had: clear errors, in bounded time

dead=$(free_port)
t0=$(date +%s)
"$DCTL" -r "127.0.0.1:$dead" -k "$CKEY" -K "$CKEYNAME" put "$T/f1" files/x \
    >"$T/dead.out" 2>&1
rc=$?
check "put to a port nobody listens on exits 1 ($rc)" [ "$rc" -eq 1 ]
check "and the error names the server" \
    has "$T/dead.out" "127\\.0\\.0\\.1 port $dead"
check "and gives up within 30 s ($(($(date +%s) - t0)) s)" \
    [ $(($(date +%s) - t0)) -le 30 ]
new_key "$T/wrong.key"
t0=$(date +%s)
"$DCTL" -r "127.0.0.1:$PORT" -k "$T/wrong.key" -K "$CKEYNAME" \
    get files/one "$T/got" >"$T/wrong.out" 2>&1
rc=$?
check "get with the wrong key fails ($rc)" [ "$rc" -ne 0 ]
check "and the error names the server" \
    has "$T/wrong.out" "127\\.0\\.0\\.1 port $PORT"
check "and comes within 30 s ($(($(date +%s) - t0)) s)" \
    [ $(($(date +%s) - t0)) -le 30 ]

### match, stat and -j

check "match files/eight1 shows crc32, size, date, name" \
    match_line files/eight1 "$T/f8m1"
check "match files/zero shows crc32, size, date, name" \
    match_line files/zero "$T/f0"
cdctl match files/ >"$T/match.out" 2>&1
check "match files/: the 7 files under files/" \
    [ "$(wc -l <"$T/match.out")" -eq 7 ]
cdctl -j match files/ >"$T/match.json" 2>&1
check "match -j files/: 7 lines, each a JSON object" json_lines "$T/match.json" 7
check "match -j files/: exactly 7 lines" [ "$(wc -l <"$T/match.json")" -eq 7 ]
check "match -j files/: files/twenty is there" \
    json_has "$T/match.json" files/twenty
check "match -j: the size of files/eight1" \
    json_has "$T/match.json" $((MIB8 + 1))

cdctl stat files/twenty >"$T/stat.out" 2>&1
rc=$?
check "stat files/twenty exits 0 ($rc)" [ "$rc" -eq 0 ]
check "stat files/twenty: its crc32" \
    has "$T/stat.out" "$(crc32_of "$T/f20m")"
for c in $(data_names "$T/f20m" | sed 's|.*-||'); do
	check "stat files/twenty: chunk crc32 $c" has "$T/stat.out" "$c"
done
cdctl -j stat files/twenty >"$T/stat.json" 2>&1
check "stat -j: JSON lines" json_lines "$T/stat.json"
check "stat -j: the name" json_has "$T/stat.json" files/twenty
cdctl -j df >"$T/df.json" 2>&1
check "df -j: JSON lines" json_lines "$T/df.json"

### a declared crc32 or length that does not match: the lib writer

rand_file "$T/w" $((MIB8 + 4096))
good=$(crc32_of "$T/w")
bad=$(printf '%08x' $(( (0x$good ^ 0x01000000) )))
check "filetool put with the right crc32 succeeds" \
    ftool put "$T/w" wr/good
cdctl get wr/good "$T/got" >/dev/null 2>&1
check "what the lib writer stored, dctl gets byte for byte" cmp "$T/w" "$T/got"

ftool put "$T/w" wr/badcrc -C "$bad" >"$T/ft.out" 2>&1
rc=$?
check "declared crc32 $bad for data with $good: the writer fails ($rc)" \
    [ "$rc" -ne 0 ]
diag "filetool said:"
diagfile "$T/ft.out"
check "declared wrong crc32: the error says crc" has "$T/ft.out" "[Cc][Rr][Cc]"
check "declared wrong crc32: no metadata chunk" \
    no_file "$DATA/$(meta_name wr/badcrc "$bad")"
check "declared wrong crc32: nor under the real crc32" \
    no_file "$DATA/$(meta_name wr/badcrc "$good")"
check "declared wrong crc32: nothing named wr_badcrc in index/" \
    [ -z "$(ls "$DATA/index" | grep '^wr_badcrc')" ]
check "declared wrong crc32: get exits 3" exits 3 cdctl get wr/badcrc "$T/got"
cdctl match wr/badcrc >"$T/match.out" 2>&1
check "declared wrong crc32: match shows nothing" [ ! -s "$T/match.out" ]
cdctl abandoned >"$T/ab.out" 2>&1
rc=$?
chunk_refs "$T/ab.out" >"$T/ab.list"
disk_chunks "$DATA" "$bad" >"$T/bad.disk"
check "abandoned exits 0 ($rc)" [ "$rc" -eq 0 ]
check "abandoned lists exactly the data chunks the failed put left" \
    same_lines "$T/ab.list" "$T/bad.disk"

ftool put "$T/w" wr/badlen -L $((MIB8 + 4095)) >"$T/ft.out" 2>&1
rc=$?
check "declared length one byte short: the writer fails ($rc)" [ "$rc" -ne 0 ]
check "declared length one byte short: no metadata chunk" \
    [ -z "$(ls "$DATA/index" | grep '^wr_badlen')" ]
ftool put "$T/w" wr/badlen2 -L $((MIB8 + 4097)) >"$T/ft.out" 2>&1
rc=$?
check "declared length one byte long: the writer fails ($rc)" [ "$rc" -ne 0 ]
check "declared length one byte long: no metadata chunk" \
    [ -z "$(ls "$DATA/index" | grep '^wr_badlen2')" ]

# The same through dctl put --crc32 and --length.
cdctl put --crc32 "$bad" "$T/w" wr/dctlbad >"$T/put.out" 2>&1
rc=$?
check "dctl put --crc32 $bad of data with $good exits 4 ($rc)" [ "$rc" -eq 4 ]
check "dctl put --crc32 wrong: no metadata chunk" \
    [ -z "$(ls "$DATA/index" | grep '^wr_dctlbad')" ]
cdctl put --crc32 "$good" --length $((MIB8 + 4095)) "$T/w" wr/dctlbadlen \
    >"$T/put.out" 2>&1
rc=$?
check "dctl put --length one byte short exits non-zero ($rc)" [ "$rc" -ne 0 ]
check "dctl put --length wrong: no metadata chunk" \
    [ -z "$(ls "$DATA/index" | grep '^wr_dctlbadlen')" ]
cdctl put --crc32 "$good" --length $((MIB8 + 4096)) - wr/stdin <"$T/w" \
    >"$T/put.out" 2>&1
rc=$?
check "dctl put --crc32 --length from stdin exits 0 ($rc)" [ "$rc" -eq 0 ]
diagfile "$T/put.out"
rm -f "$T/got"
cdctl get wr/stdin "$T/got" >/dev/null 2>&1
check "wr/stdin reads back byte for byte" cmp "$T/w" "$T/got"
cdctl put --crc32 "$bad" --length $((MIB8 + 4096)) - wr/stdinbad <"$T/w" \
    >"$T/put.out" 2>&1
rc=$?
check "dctl put from stdin with a wrong --crc32 exits 4 ($rc)" [ "$rc" -eq 4 ]
check "and leaves no metadata chunk" \
    [ -z "$(ls "$DATA/index" | grep '^wr_stdinbad')" ]

### corruption on the server's disk

# Bytes only: the server's own crc32 check catches it on a read.
rand_file "$T/c1" $((3 * MIB8 - 100))
check "put corrupt/one (3 chunks)" cdctl put "$T/c1" corrupt/one
c1=$(data_names "$T/c1" | sed -n 2p)
check "flip a byte of chunk 1 on disk ($c1)" flip_byte "$DATA/$c1" 1000

rm -f "$T/got"
cdctl get corrupt/one "$T/got" >"$T/get.out" 2>&1
rc=$?
check "get of corrupt/one exits 4 ($rc)" [ "$rc" -eq 4 ]
check "get of corrupt/one names the chunk $c1" has "$T/get.out" "$c1"
check "get of corrupt/one: no output file left behind" no_file "$T/got"
cdctl get corrupt/one - >"$T/got" 2>"$T/get.out"
rc=$?
check "get of corrupt/one to stdout exits 4 ($rc)" [ "$rc" -eq 4 ]
check "get to stdout names the chunk $c1" has "$T/get.out" "$c1"
check "get to stdout: not a byte past chunk 0" \
    [ "$(wc -c <"$T/got")" -le "$MIB8" ]
check "get to stdout: what came out is the file's start" \
    sh -c "head -c \$(wc -c <'$T/got') '$T/c1' | cmp -s - '$T/got'"

cdctl scrub corrupt/ >"$T/scrub.out" 2>&1
rc=$?
check "scrub corrupt/ (stat) exits 4 ($rc)" [ "$rc" -eq 4 ]
check "scrub corrupt/ names the chunk $c1" has "$T/scrub.out" "$c1"
cdctl scrub corrupt/ --read >"$T/scrub.out" 2>&1
rc=$?
check "scrub corrupt/ --read exits 4 ($rc)" [ "$rc" -eq 4 ]
check "scrub --read names the chunk $c1" has "$T/scrub.out" "$c1"
cdctl -j scrub corrupt/ >"$T/scrub.json" 2>&1
rc=$?
check "scrub -j exits 4 too ($rc)" [ "$rc" -eq 4 ]
check "scrub -j: JSON lines" json_lines "$T/scrub.json"
check "scrub -j names the chunk" has "$T/scrub.json" "$c1"
cdctl scrub files/ >"$T/scrub.out" 2>&1
rc=$?
check "scrub files/ (nothing corrupt) exits 0 ($rc)" [ "$rc" -eq 0 ]
cdctl scrub files/ --read >"$T/scrub.out" 2>&1
rc=$?
check "scrub files/ --read (nothing corrupt) exits 0 ($rc)" [ "$rc" -eq 0 ]

# Bytes and the stored crc32 together: the server serves the chunk as
# sound; the chunk's name and the metadata still know better.
rand_file "$T/c2" $((2 * MIB8 + 77))
check "put corrupt/two (3 chunks)" cdctl put "$T/c2" corrupt/two
c2=$(data_names "$T/c2" | sed -n 3p)
flip_byte "$DATA/$c2" 10 && set_crc_xattr "$DATA/$c2"
result $? "flip a byte of chunk 2 ($c2), its crc32 attribute to match"
check "the server now reads $c2 without complaint" \
    cdctl chunk get "$c2" "$T/chunk"
rm -f "$T/got"
cdctl get corrupt/two "$T/got" >"$T/get.out" 2>&1
rc=$?
check "get of corrupt/two exits 4 ($rc)" [ "$rc" -eq 4 ]
check "get of corrupt/two names the chunk $c2" has "$T/get.out" "$c2"
check "get of corrupt/two: no output file left behind" no_file "$T/got"
cdctl get corrupt/two - >"$T/got" 2>"$T/get.out"
rc=$?
check "get of corrupt/two to stdout exits 4 ($rc)" [ "$rc" -eq 4 ]
check "get to stdout: what came out is the file's start, at most 2 chunks" \
    sh -c "[ \$(wc -c <'$T/got') -le $((2 * MIB8)) ] &&
    head -c \$(wc -c <'$T/got') '$T/c2' | cmp -s - '$T/got'"
cdctl scrub corrupt/two >"$T/scrub.out" 2>&1
rc=$?
check "scrub corrupt/two (stat) exits 4 ($rc)" [ "$rc" -eq 4 ]
check "scrub corrupt/two names the chunk $c2" has "$T/scrub.out" "$c2"
cdctl scrub corrupt/two --read >"$T/scrub.out" 2>&1
rc=$?
check "scrub corrupt/two --read exits 4 ($rc)" [ "$rc" -eq 4 ]
check "scrub --read names the chunk $c2" has "$T/scrub.out" "$c2"

stop_dsrvd
rc=$?
check "dsrvd stops cleanly ($rc)" [ "$rc" -eq 0 ]

finish
