#!/bin/sh
# needs: root
# Chunk storage end to end with dctl over the network: put/get round
# trips of 0 B, 1 B and 8 MiB compared byte for byte, 8 MiB + 1 refused,
# identical and different rewrites, ls, stat (length and crc32 checked
# against our own), df, a missing chunk, the chunk files on disk (mode,
# owner, immutable flag, crc32 xattr, no temporaries), the counters in
# dctl status, and everything still there after a restart.

. "$REGRESS/lib.sh"
storage_tmpdir
need_bins
ensure_users
ensure_chroot || bail "cannot prepare /var/empty"
storage_conf || bail "cannot write the configuration"
start_dsrvd "$CONF" || bail "dsrvd did not start"

MIB8=8388608
: >"$T/f0"
printf 'Z' >"$T/f1"
rand_file "$T/f8m" "$MIB8" || bail "cannot make an 8 MiB file"
rand_file "$T/f8m1" $((MIB8 + 1)) || bail "cannot make an 8 MiB + 1 file"
rand_file "$T/other" 4096 || bail "cannot make a file"
rand_file "$T/orig" 4096 || bail "cannot make a file"

# put_ok TEXT NAME FILE: dctl chunk put exits 0 and says nothing.
put_ok() {
	cdctl chunk put "$2" "$3" >"$T/put.out" 2>&1
	_rc=$?
	if [ "$_rc" -eq 0 ] && [ ! -s "$T/put.out" ]; then
		ok "$1"
	else
		notok "$1 (exit $_rc)"
		diagfile "$T/put.out"
	fi
}

# get_cmp TEXT NAME FILE: dctl chunk get NAME OUT exits 0, OUT equals
# FILE; then the same to stdout.
get_cmp() {
	rm -f "$T/got"
	cdctl chunk get "$2" "$T/got" >"$T/get.out" 2>&1
	_rc=$?
	if [ "$_rc" -eq 0 ] && cmp -s "$3" "$T/got"; then
		ok "$1: get to a file, byte for byte"
	else
		notok "$1: get to a file, byte for byte (exit $_rc)"
		diagfile "$T/get.out"
		cmp "$3" "$T/got" 2>&1 | diag
	fi
	cdctl chunk get "$2" >"$T/got" 2>"$T/get.err"
	_rc=$?
	if [ "$_rc" -eq 0 ] && cmp -s "$3" "$T/got"; then
		ok "$1: get to stdout, byte for byte"
	else
		notok "$1: get to stdout, byte for byte (exit $_rc)"
		diagfile "$T/get.err"
	fi
}

# stat_is NAME FILE: dctl chunk stat shows FILE's length and crc32.
stat_is() {
	_len=$(wc -c <"$2" | tr -d ' ')
	_crc=$(crc32_of "$2")
	cdctl chunk stat "$1" >"$T/stat.out" 2>&1
	_rc=$?
	if [ "$_rc" -eq 0 ] && [ "$(cat "$T/stat.out")" = \
	    "$1 length $_len crc32 $_crc" ]; then
		ok "chunk stat $1: length $_len crc32 $_crc"
	else
		notok "chunk stat $1: length $_len crc32 $_crc (exit $_rc)"
		diagfile "$T/stat.out"
	fi
}

# on_disk NAME FILE: DATA/NAME holds FILE's bytes, mode 0400, owned by
# the storage user, immutable, with its crc32 in the xattr.
on_disk() {
	_p=$DATA/$1
	cmp -s "$2" "$_p" || {
		echo "$_p differs from $2"
		return 1
	}
	_st=$(stat -c '%a %U %h %F' "$_p")
	[ "$_st" = "400 _dsrvdata 1 regular file" ] ||
	    [ "$_st" = "400 _dsrvdata 1 regular empty file" ] || {
		echo "$_p: mode, owner, links, type \"$_st\""
		return 1
	}
	immutable "$_p" || return 1
	_x=$(getfattr --absolute-names --only-values -n user.dsrvd.crc32 \
	    "$_p" 2>&1)
	[ "$_x" = "$(crc32_of "$2")" ] || {
		echo "$_p: user.dsrvd.crc32 \"$_x\", expected $(crc32_of "$2")"
		return 1
	}
}

# df_fields: dctl df's output names total, free and available.
df_fields() {
	grep -qi total "$T/df.out" && grep -qi free "$T/df.out" &&
	    grep -qi avail "$T/df.out" && return 0
	cat "$T/df.out"
	return 1
}

# ls_empty DIR: dctl chunk ls DIR exits 0 and prints nothing.
ls_empty() {
	cdctl chunk ls "$1" >"$T/ls.out" 2>&1
	_rc=$?
	[ "$_rc" -eq 0 ] && [ ! -s "$T/ls.out" ] && return 0
	echo "exit $_rc, output:"
	cat "$T/ls.out"
	return 1
}

### round trips

put_ok "put ab/zero (0 bytes)" ab/zero "$T/f0"
get_cmp "ab/zero (0 bytes)" ab/zero "$T/f0"
put_ok "put ab/one (1 byte)" ab/one "$T/f1"
get_cmp "ab/one (1 byte)" ab/one "$T/f1"
put_ok "put ab/eight (8 MiB)" ab/eight "$T/f8m"
get_cmp "ab/eight (8 MiB)" ab/eight "$T/f8m"
cdctl chunk put cd/stdin - <"$T/orig" >"$T/put.out" 2>&1
result $? "put cd/stdin from stdin (FILE -)"
get_cmp "cd/stdin" cd/stdin "$T/orig"

cdctl chunk put ab/big "$T/f8m1" >"$T/put.out" 2>&1
rc=$?
check "put of 8 MiB + 1 fails (exit $rc)" [ "$rc" -ne 0 ]
check "put of 8 MiB + 1: dctl says too big" \
    has "$T/put.out" "too big"
cdctl chunk put ab/big2 - <"$T/f8m1" >"$T/put.out" 2>&1
rc=$?
check "put of 8 MiB + 1 from stdin fails too (exit $rc)" [ "$rc" -ne 0 ]
check "8 MiB + 1: not stored (stat exits 3)" exits 3 cdctl chunk stat ab/big
check "8 MiB + 1 from stdin: not stored (stat exits 3)" \
    exits 3 cdctl chunk stat ab/big2
check "8 MiB + 1: nothing on disk" no_file "$DATA/ab/big"

### rewrites

put_ok "put ab/first" ab/first "$T/orig"
put_ok "identical rewrite of ab/first succeeds" ab/first "$T/orig"
check "counter: identical rewrites 1" counter_is "identical rewrites" 1
cdctl chunk put ab/first "$T/other" >"$T/put.out" 2>&1
rc=$?
check "different rewrite of ab/first fails with exit 1 ($rc)" [ "$rc" -eq 1 ]
check "different rewrite: dctl: ab/first: chunk exists with different content" \
    has "$T/put.out" "^dctl: ab/first: chunk exists with different content"
get_cmp "after the different rewrite, ab/first" ab/first "$T/orig"
check "after the different rewrite, the file on disk is the original" \
    cmp "$T/orig" "$DATA/ab/first"
check "counter: exists errors 1" counter_is "exists errors" 1

### a missing chunk

rm -f "$T/got"
check "get of a missing chunk exits 3" exits 3 cdctl chunk get ab/nope "$T/got"
check "get of a missing chunk: message says not found" \
    has "$T/exits.out" "ab/nope: .*(not found|no such chunk)"
check "get of a missing chunk to stdout exits 3" exits 3 cdctl chunk get ab/nope
check "stat of a missing chunk exits 3" exits 3 cdctl chunk stat ab/nope
check "stat of a chunk in a missing directory exits 3" \
    exits 3 cdctl chunk stat zz/nope
check "the missing chunk did not appear on disk" no_file "$DATA/ab/nope"
check "nor its directory" no_file "$DATA/zz"

### stat

stat_is ab/zero "$T/f0"
stat_is ab/one "$T/f1"
stat_is ab/eight "$T/f8m"
stat_is ab/first "$T/orig"

### ls: sorted in byte order, across upper and lower case, digits and
### punctuation

for n in b B a A 0 9 a-b a.b a_b Zz zZ x.9 x-9 long-$(printf '%0200d' 0 |
    cut -c1-195); do
	cdctl chunk put "ls/$n" "$T/f1" >"$T/put.out" 2>&1 || {
		diagfile "$T/put.out"
		echo "$n" >>"$T/ls.failed"
	}
done
check "put 14 chunks into ls/" no_file "$T/ls.failed"
(cd "$DATA/ls" && ls -A) | LC_ALL=C sort >"$T/ls.want"
cdctl chunk ls ls >"$T/ls.out" 2>&1
rc=$?
sed 's|^ls/||' "$T/ls.out" >"$T/ls.got"
check "chunk ls ls exits 0 ($rc)" [ "$rc" -eq 0 ]
check "chunk ls ls: the 14 names" [ "$(wc -l <"$T/ls.got")" -eq 14 ]
check "chunk ls ls: the names on disk, in strcmp order" \
    cmp "$T/ls.want" "$T/ls.got"
check "chunk ls ls: A before B before a (byte order)" \
    [ "$(grep -nx 'A' "$T/ls.got" | cut -d: -f1)" -lt \
    "$(grep -nx 'a' "$T/ls.got" | cut -d: -f1)" ]
cdctl chunk ls ab >"$T/ls.out" 2>&1
printf '%s\n' eight first one zero >"$T/ls.want"
sed 's|^ab/||' "$T/ls.out" >"$T/ls.got"
check "chunk ls ab: eight first one zero" cmp "$T/ls.want" "$T/ls.got"
check "chunk ls of a missing directory: exit 0, nothing" \
    ls_empty nosuchdir

### df

nchunks=$(find "$DATA" -path "$DATA/.tmp" -prune -o -type f -print | wc -l)
cdctl df >"$T/df.out" 2>&1
rc=$?
check "dctl df exits 0 ($rc)" [ "$rc" -eq 0 ]
check "dctl df: chunks $nchunks" has "$T/df.out" "^chunks +$nchunks\$"
cdctl df >"$T/df2.out" 2>&1
check "dctl df again: still chunks $nchunks" \
    has "$T/df2.out" "^chunks +$nchunks\$"
check "dctl df: total, free and available" df_fields
diag "dctl df said:"
diagfile "$T/df.out"

### on disk

check "ab/zero on disk: bytes, 0400 _dsrvdata, immutable, crc32 xattr" \
    on_disk ab/zero "$T/f0"
check "ab/one on disk: bytes, 0400 _dsrvdata, immutable, crc32 xattr" \
    on_disk ab/one "$T/f1"
check "ab/eight on disk: bytes, 0400 _dsrvdata, immutable, crc32 xattr" \
    on_disk ab/eight "$T/f8m"
check "ab/first on disk: bytes, 0400 _dsrvdata, immutable, crc32 xattr" \
    on_disk ab/first "$T/orig"
check "directory ab: mode 770, root:_dsrvdata, append-only" \
    store_dir "$DATA/ab" "770 root:_dsrvdata" a
check "data directory: mode 750, root:_dsrvdata, append-only" \
    store_dir "$DATA" "750 root:_dsrvdata" a
check "DATA/.tmp: mode 700, _dsrvdata's, no flags" \
    store_dir "$DATA/.tmp" "700 _dsrvdata:_dsrvdata" -
check "DATA/.tmp holds no data" tmp_clean "$DATA"

### status

status
check "status: storage read-write" has "$T/status.out" "^storage +read-write$"
check "status: immutable yes" has "$T/status.out" "^immutable +yes$"
check "counter: chunks written $nchunks" counter_is "chunks written" "$nchunks"
check "counter: chunks sealed $nchunks" counter_is "chunks sealed" "$nchunks"
check "counter: seal failures 0" counter_is "seal failures" 0
bytes=$(find "$DATA" -path "$DATA/.tmp" -prune -o -type f -printf '%s\n' |
    awk '{ s += $1 } END { print s }')
check "counter: bytes written $bytes" counter_is "bytes written" "$bytes"
check "counter: chunk reads > 0" counter_gt "chunk reads" 0
check "counter: bytes read >= 16 MiB" counter_ge "bytes read" $((2 * MIB8))
check "counter: chunk stats > 0" counter_gt "chunk stats" 0
check "counter: chunk lists > 0" counter_gt "chunk lists" 0
check "counter: verification failures 0" counter_is "verification failures" 0
check "counter: corrupt reads 0" counter_is "corrupt reads" 0

### a restart keeps everything

stop_dsrvd
rc=$?
check "dsrvd stops cleanly ($rc)" [ "$rc" -eq 0 ]
start_dsrvd "$CONF" || bail "dsrvd did not start again"
get_cmp "after a restart, ab/eight" ab/eight "$T/f8m"
get_cmp "after a restart, ab/zero" ab/zero "$T/f0"
stat_is ab/first "$T/orig"
cdctl chunk put ab/first "$T/other" >"$T/put.out" 2>&1
rc=$?
check "after a restart, a different rewrite still fails ($rc)" [ "$rc" -eq 1 ]
put_ok "after a restart, an identical rewrite still succeeds" ab/first \
    "$T/orig"
check "after a restart, ab/first on disk is unchanged" \
    on_disk ab/first "$T/orig"

stop_dsrvd
rc=$?
check "dsrvd stops cleanly again ($rc)" [ "$rc" -eq 0 ]

finish
