#!/bin/sh
# needs: root
# READ of a range (dsrv-protocol(5)): dctl chunk get --range OFF:LEN
# against the real daemon, byte for byte against dd of the file put:
# at 0, in the middle, the last byte, a length that crosses the end, an
# offset at the end (empty), one beyond it (error 15, RANGE), length 0,
# the largest length, and an empty chunk.  A rotted chunk answers
# CORRUPT even for a range of its intact part.  The counters show a
# range over the network, not the chunk.  Then the file layer
# (dsrv_file_read_range through dctl get --range) across the boundary
# of two chunks, the last chunk whole, and beyond the file's end.

. "$REGRESS/lib.sh"
storage_tmpdir
need_bins
ensure_users
ensure_chroot || bail "cannot prepare /var/empty"
storage_conf || bail "cannot write the configuration"
start_dsrvd "$CONF" || bail "dsrvd did not start"

MIB8=8388608
rand_file "$T/big" "$MIB8" || bail "cannot make an 8 MiB file"
rand_file "$T/small" 1000 || bail "cannot make a file"
rand_file "$T/rot" 65536 || bail "cannot make a file"
: >"$T/empty"
for c in big small rot empty; do
	cdctl chunk put "r/$c" "$T/$c" >"$T/put.out" 2>&1 ||
	    bail "chunk put r/$c: $(cat "$T/put.out")"
done

# slice FILE OFF LEN: bytes [OFF, OFF + LEN) of FILE, cut at its end,
# into $T/want: dd, unless LEN is beyond what dd counts (2^63 and up).
slice() {
	if [ "${#3}" -lt 19 ]; then
		dd if="$1" of="$T/want" bs=1M iflag=skip_bytes,count_bytes \
		    skip="$2" count="$3" 2>/dev/null
	else
		dd if="$1" of="$T/want" bs=1M iflag=skip_bytes \
		    skip="$2" 2>/dev/null
	fi
}

# range_cmp TEXT CHUNK FILE OFF LEN: chunk get --range gives the bytes
# of FILE that dd gives, and exits 0.
range_cmp() {
	slice "$3" "$4" "$5"
	rm -f "$T/got"
	cdctl chunk get --range "$4:$5" "$2" "$T/got" >"$T/get.out" 2>&1
	_rc=$?
	if [ "$_rc" -eq 0 ] && cmp -s "$T/want" "$T/got"; then
		ok "$1 ($(wc -c <"$T/got") bytes)"
	else
		notok "$1 (exit $_rc)"
		diagfile "$T/get.out"
		cmp "$T/want" "$T/got" 2>&1 | diag
	fi
}

# range_fails TEXT STATUS REGEX CHUNK OFF LEN: chunk get --range exits
# STATUS with a message matching REGEX and writes no file.
range_fails() {
	rm -f "$T/got"
	cdctl chunk get --range "$5:$6" "$4" "$T/got" >"$T/get.out" 2>&1
	_rc=$?
	if [ "$_rc" -eq "$2" ] && grep -Eq -- "$3" "$T/get.out" &&
	    [ ! -e "$T/got" ]; then
		ok "$1: exit $_rc, $(head -n 1 "$T/get.out")"
	else
		notok "$1: exit $_rc, wanted $2 and /$3/"
		diagfile "$T/get.out"
	fi
}

### ranges of one chunk

range_cmp "8 MiB chunk, 100 bytes at 0" r/big "$T/big" 0 100
range_cmp "8 MiB chunk, 5000 bytes in the middle" r/big "$T/big" 4194000 5000
range_cmp "8 MiB chunk, the last byte" r/big "$T/big" $((MIB8 - 1)) 1
range_cmp "8 MiB chunk, 100 bytes from 8 before the end: 8" \
    r/big "$T/big" $((MIB8 - 8)) 100
range_cmp "8 MiB chunk, at its end: empty" r/big "$T/big" $MIB8 10
range_cmp "8 MiB chunk, length 0: empty" r/big "$T/big" 100 0
range_cmp "8 MiB chunk, 0 to 2^64 - 1: the whole chunk" \
    r/big "$T/big" 0 18446744073709551615
range_cmp "1000-byte chunk, 2^64 - 1 bytes from 999: the last byte" \
    r/small "$T/small" 999 18446744073709551615
range_cmp "empty chunk, 5 bytes at 0: empty" r/empty "$T/empty" 0 5
range_fails "8 MiB chunk, offset one past its end" 1 \
    "^dctl: r/big: range starts beyond the end of the chunk: offset 8388609, chunk of 8388608 bytes$" \
    r/big $((MIB8 + 1)) 1
range_fails "empty chunk, offset 1" 1 \
    "range starts beyond the end of the chunk" r/empty 1 0
range_fails "offset 2^64 - 1" 1 "range starts beyond the end of the chunk" \
    r/small 18446744073709551615 1
range_fails "a missing chunk" 3 "no such chunk" r/none 0 1
cdctl chunk get --range 1:x r/small "$T/got" >"$T/get.out" 2>&1
check "--range 1:x is a usage error ($?)" [ $? -eq 2 ]
cdctl chunk get --range 1 r/small "$T/got" >"$T/get.out" 2>&1
check "--range 1 is a usage error ($?)" [ $? -eq 2 ]
cdctl chunk get --range 18446744073709551616:1 r/small "$T/got" \
    >"$T/get.out" 2>&1
check "--range 2^64:1 is a usage error ($?)" [ $? -eq 2 ]

### what crosses the network: the range, not the chunk

# The counters of the network process reach the parent a little later:
# wait until "bytes read" has the read counted, then look at bytes out.
status
r0=$(counter "bytes read")
o0=$(counter "bytes out")
n0=$(counter "range reads")
range_cmp "counted: 100 bytes in the middle of the 8 MiB chunk" \
    r/big "$T/big" 3000000 100
check "counter: bytes read $r0 + 100" counter_is "bytes read" $((r0 + 100))
check "counter: range reads $n0 + 1" counter_is "range reads" $((n0 + 1))
o1=$(counter "bytes out")
check "bytes out grew by $((o1 - o0)), under 16 KiB, not 8 MiB" \
    [ $((o1 - o0)) -gt 100 -a $((o1 - o0)) -lt 16384 ]

### a rotted chunk: CORRUPT even for a range of its intact part

ROT=$DATA/r/rot
check "flip byte 60000 of r/rot on disk" flip_byte "$ROT" 60000
status
c0=$(counter "corrupt reads")
range_fails "rotted chunk, 100 bytes at 0, far from the rot" 4 \
    "^dctl: r/rot: chunk is corrupt" r/rot 0 100
range_fails "rotted chunk, length 0" 4 "chunk is corrupt" r/rot 0 0
range_fails "rotted chunk, offset beyond its end: CORRUPT first" 4 \
    "chunk is corrupt" r/rot 70000 1
check "counter: corrupt reads $c0 + 3" counter_is "corrupt reads" \
    $((c0 + 3))
check "log: corrupt chunk r/rot" wait_for_log "corrupt chunk r/rot: crc32" 5

### the file layer: dsrv_file_read_range, through dctl get --range

FSIZE=$((MIB8 + 5000))
rand_file "$T/file" "$FSIZE" || bail "cannot make a file"
cdctl put "$T/file" range/file >"$T/put.out" 2>&1 ||
    bail "put range/file: $(cat "$T/put.out")"

# frange_cmp TEXT OFF LEN: dctl get --range gives what dd gives.
frange_cmp() {
	slice "$T/file" "$2" "$3"
	rm -f "$T/got"
	cdctl get --range "$2:$3" range/file "$T/got" >"$T/get.out" 2>&1
	_rc=$?
	if [ "$_rc" -eq 0 ] && cmp -s "$T/want" "$T/got"; then
		ok "$1 ($(wc -c <"$T/got") bytes)"
	else
		notok "$1 (exit $_rc)"
		diagfile "$T/get.out"
		cmp "$T/want" "$T/got" 2>&1 | diag
	fi
}

status
r0=$(counter "bytes read")
n0=$(counter "range reads")
frange_cmp "file: 2000 bytes across the chunk boundary" $((MIB8 - 608)) 2000
# The metadata chunk is read whole first: a few hundred bytes.
check "counter: range reads $n0 + 2" counter_is "range reads" $((n0 + 2))
r1=$(counter "bytes read")
check "counter: bytes read grew by $((r1 - r0)): 2000 and the metadata" \
    [ $((r1 - r0)) -gt 2000 -a $((r1 - r0)) -lt 6000 ]
frange_cmp "file: 300 bytes in chunk 0" 123456 300
status
n0=$(counter "range reads")
c0=$(counter "chunk reads")
frange_cmp "file: the last chunk whole (a plain READ)" $MIB8 5000
check "... 2 chunk reads: the metadata and the chunk" \
    counter_is "chunk reads" $((c0 + 2))
check "... and no range read" counter_is "range reads" "$n0"
frange_cmp "file: from 10 before the end, 1 MiB asked: 10" \
    $((FSIZE - 10)) 1048576
frange_cmp "file: at its end: empty" "$FSIZE" 1
frange_cmp "file: all of it, through 2^64 - 1" 0 18446744073709551615
cdctl get --range "$((FSIZE + 1)):1" range/file "$T/got" >"$T/get.out" 2>&1
rc=$?
check "file: offset past the end exits 1 ($rc)" [ "$rc" -eq 1 ]
check "... range starts beyond the end" \
    has "$T/get.out" "range starts beyond the end of the file: offset $((FSIZE + 1)), the file has $FSIZE bytes"
cdctl get --sha256 --range 0:1 range/file "$T/got" >"$T/get.out" 2>&1
check "file: --sha256 with --range is a usage error ($?)" [ $? -eq 2 ]

# A rotted data chunk: the range inside it fails as corrupt.
c1=$(data_names "$T/file" | sed -n 2p)
check "flip a byte of data chunk 1 ($c1)" flip_byte "$DATA/$c1" 4000
cdctl get --range "$((MIB8 + 10)):10" range/file "$T/got" >"$T/get.out" 2>&1
rc=$?
check "file: a range of the rotted chunk exits 4 ($rc)" [ "$rc" -eq 4 ]
check "... chunk is corrupt" has "$T/get.out" "chunk 1 .*chunk is corrupt"
frange_cmp "file: chunk 0 still reads" 5 10

finish
