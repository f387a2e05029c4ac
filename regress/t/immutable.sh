#!/bin/sh
# needs: root
# A committed chunk cannot be changed: as the storage user (what a
# compromised storage child could do) every attempt to unlink, rename
# over, rename away, truncate, open for writing or appending, chmod,
# touch, change its crc32 attribute or clear the flag fails, and so
# does a plain root rm -f; the bytes stay the same.  Then, on purpose,
# as root: clear the flag, flip a byte, set it again.  A read reports
# the chunk corrupt (exit 4, log line naming it, counter), stat shows
# the new crc32, and dctl scrub --local -w finds exactly that chunk.

. "$REGRESS/lib.sh"
storage_tmpdir
need_bins
ensure_users
ensure_chroot || bail "cannot prepare /var/empty"
storage_conf || bail "cannot write the configuration"
start_dsrvd "$CONF" || bail "dsrvd did not start"

# A known first byte, so that the flip below is sure to change it.
{ printf 'A'; head -c 65535 /dev/urandom; } >"$T/a"
rand_file "$T/b" 3000
rand_file "$T/c" 200000
for n in a b c; do
	cdctl chunk put "im/$n" "$T/$n" >"$T/put.out" 2>&1 ||
	    bail "cannot put im/$n: $(cat "$T/put.out")"
done
CHUNK=$DATA/im/a
CRC=$(crc32_of "$T/a")
check "im/a is immutable" immutable "$CHUNK"

# as_storage cmd...: run as the storage user, no other groups.
as_storage() {
	setpriv --reuid=_dsrvdata --regid=_dsrvdata --clear-groups -- "$@"
}

# intact: the chunk's bytes, mode, owner, flag and xattr are as written.
intact() {
	cmp -s "$T/a" "$CHUNK" || {
		echo "$CHUNK changed or is gone"
		return 1
	}
	[ "$(stat -c '%a %U %h' "$CHUNK")" = "400 _dsrvdata 1" ] || {
		echo "$CHUNK: $(stat -c '%a %U %h' "$CHUNK")"
		return 1
	}
	immutable "$CHUNK" || return 1
	_x=$(getfattr --absolute-names --only-values -n user.dsrvd.crc32 \
	    "$CHUNK" 2>&1)
	[ "$_x" = "$CRC" ] || {
		echo "$CHUNK: user.dsrvd.crc32 \"$_x\", expected $CRC"
		return 1
	}
}

# attempt TEXT cmd...: cmd fails and the chunk is intact afterwards.
attempt() {
	_t=$1
	shift
	if "$@" >"$T/attempt.out" 2>&1; then
		notok "$_t: refused"
		diag "it succeeded: $*"
	else
		ok "$_t: refused: $(head -n 1 "$T/attempt.out")"
	fi
	check "$_t: chunk intact afterwards" intact
}

# The storage user may create files in its own directories: the
# material for renaming over the chunk.
as_storage sh -c "echo evil >'$DATA/.tmp/evil'" ||
    bail "cannot make a file as the storage user in $DATA/.tmp"

attempt "storage user: rm -f" as_storage rm -f "$CHUNK"
attempt "storage user: unlink" as_storage unlink "$CHUNK"
attempt "storage user: rename another file over it" \
    as_storage mv -f "$DATA/.tmp/evil" "$CHUNK"
attempt "storage user: rename another file over it (renameat2 exchange)" \
    as_storage /usr/bin/python3 -c 'import ctypes, sys
libc = ctypes.CDLL(None, use_errno=True)
# AT_FDCWD, RENAME_EXCHANGE
r = libc.renameat2(-100, sys.argv[1].encode(), -100, sys.argv[2].encode(), 2)
sys.exit(0 if r == 0 else 1)' "$DATA/.tmp/evil" "$CHUNK"
attempt "storage user: rename it away" as_storage mv "$CHUNK" "$DATA/im/gone"
attempt "storage user: hard link to it" as_storage ln "$CHUNK" "$DATA/im/link"
attempt "storage user: truncate -s 0" as_storage truncate -s 0 "$CHUNK"
attempt "storage user: open for writing" \
    as_storage sh -c "echo x 1<>'$CHUNK'"
attempt "storage user: open for writing, truncating" \
    as_storage sh -c "echo x >'$CHUNK'"
attempt "storage user: open for appending" \
    as_storage sh -c "echo x >>'$CHUNK'"
attempt "storage user: chmod 600" as_storage chmod 600 "$CHUNK"
attempt "storage user: chmod 600 then write" \
    as_storage sh -c "chmod 600 '$CHUNK' && echo x >>'$CHUNK'"
attempt "storage user: touch" as_storage touch "$CHUNK"
attempt "storage user: set user.dsrvd.crc32" \
    as_storage setfattr -n user.dsrvd.crc32 -v 00000000 "$CHUNK"
attempt "storage user: remove user.dsrvd.crc32" \
    as_storage setfattr -x user.dsrvd.crc32 "$CHUNK"
attempt "storage user: chattr -i" as_storage chattr -i "$CHUNK"
attempt "root: rm -f" rm -f "$CHUNK"
attempt "root: append" sh -c "echo x >>'$CHUNK'"
attempt "root: mv over it" mv -f "$DATA/.tmp/evil" "$CHUNK"
rm -f "$DATA/.tmp/evil" "$DATA/im/gone" "$DATA/im/link"
check "the storage user's file was removed again" no_file "$DATA/.tmp/evil"

# Reads still work and the chunk is unchanged for clients too.
cdctl chunk get im/a "$T/got" >"$T/get.out" 2>&1
check "after all that, im/a reads back as written" cmp "$T/a" "$T/got"

### on purpose: clear the flag, flip a byte, set the flag

chattr -i "$CHUNK" || bail "chattr -i failed"
printf 'B' | dd of="$CHUNK" bs=1 count=1 conv=notrunc 2>/dev/null ||
    bail "cannot flip a byte of $CHUNK"
chattr +i "$CHUNK" || bail "chattr +i failed"
NEWCRC=$(crc32_of "$CHUNK")
check "the byte flipped: crc32 $CRC became $NEWCRC" [ "$NEWCRC" != "$CRC" ]

rm -f "$T/got"
cdctl chunk get im/a "$T/got" >"$T/get.out" 2>&1
rc=$?
check "get of the corrupt chunk exits 4 ($rc)" [ "$rc" -eq 4 ]
check "get: dctl: im/a: chunk is corrupt" \
    has "$T/get.out" "^dctl: im/a: chunk is corrupt"
check "get: none of the corrupt bytes in the output file" \
    [ ! -s "$T/got" ]
cdctl chunk get im/a >"$T/got" 2>"$T/get.out"
rc=$?
check "get to stdout exits 4 too ($rc), no bytes written" \
    [ "$rc" -eq 4 -a ! -s "$T/got" ]
check "log: corrupt chunk im/a: crc32 $NEWCRC, stored $CRC" \
    wait_for_log "corrupt chunk im/a: crc32 $NEWCRC, stored $CRC" 5
check "counter: corrupt reads 2" counter_is "corrupt reads" 2
cdctl chunk stat im/a >"$T/stat.out" 2>&1
check "stat shows the crc32 on disk now: $NEWCRC" \
    [ "$(cat "$T/stat.out")" = "im/a length 65536 crc32 $NEWCRC" ]
check "the other chunks still read" cdctl chunk get im/b "$T/got"

### scrub

dctl scrub --local -w >"$T/scrub.out" 2>&1
rc=$?
check "dctl scrub --local -w exits 4 ($rc)" [ "$rc" -eq 4 ]
check "scrub: 3 chunks, 1 corrupt" \
    has "$T/scrub.out" "^scrub: 3 chunks, 1 corrupt$"
check "log: the scrub names im/a" \
    wait_count "corrupt chunk im/a: crc32 $NEWCRC, stored $CRC" 2
check "counter: scrub corrupt 1" counter_is "scrub corrupt" 1
check "counter: scrub runs 1" counter_is "scrub runs" 1
check "counter: scrub chunks 3" counter_is "scrub chunks" 3
check "counter: scrub running 0" counter_is "scrub running" 0
bytes=$((65536 + 3000 + 200000))
check "counter: scrub bytes $bytes" counter_is "scrub bytes" "$bytes"

# Put it right, as an operator would from another copy: the next scrub
# is clean.
chattr -i "$CHUNK" && printf 'A' | dd of="$CHUNK" bs=1 count=1 \
    conv=notrunc 2>/dev/null && chattr +i "$CHUNK"
dctl scrub --local -w >"$T/scrub.out" 2>&1
rc=$?
check "after the repair, scrub -w exits 0 ($rc)" [ "$rc" -eq 0 ]
check "scrub: 3 chunks, 0 corrupt" \
    has "$T/scrub.out" "^scrub: 3 chunks, 0 corrupt$"
check "counter: scrub runs 2" counter_is "scrub runs" 2
check "counter: scrub corrupt still 1" counter_is "scrub corrupt" 1
check "im/a reads again" cdctl chunk get im/a "$T/got"
check "byte for byte" cmp "$T/a" "$T/got"

stop_dsrvd
rc=$?
check "dsrvd stops cleanly ($rc)" [ "$rc" -eq 0 ]

finish
