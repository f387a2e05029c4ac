#!/bin/sh
# needs: root
# Faults on the way to the disk, injected into the real storage child
# with regress/tools/shim.so (LD_PRELOAD):
#
# corrupt	the file's first byte changes on disk just before each
#		flush: the read-back must catch it.  The put fails with a
#		verification error, nothing becomes visible, nothing is
#		left in .tmp, the counter and the log say so; the same put
#		succeeds once the disk behaves.
# eio		every flush of a chunk file fails: the put fails with an
#		I/O error, and after three the store is read-only (error,
#		status, log) while a chunk stored before still reads.

. "$REGRESS/lib.sh"
storage_tmpdir
need_bins
ensure_users
ensure_chroot || bail "cannot prepare /var/empty"
[ -f "$SHIM" ] || bail "shim not built ($SHIM; make regress/tools/shim.so)"
storage_conf || bail "cannot write the configuration"

# Text, so that the first byte is never the shim's blind byte 0xa5.
seq 1 20000 >"$T/c1"
# 8 MiB exactly: storage writes all of it with direct I/O where it can.
head -c 8388608 /dev/urandom >"$T/c8"
printf 'hello, disk\n' >"$T/small"
rand_file "$T/keep" 100000

# stored_nowhere NAME: stat says not found, and no file by that name
# exists anywhere under the data directory.
stored_nowhere() {
	exits 3 cdctl chunk stat "$1" || return 1
	_f=$(find "$DATA" -name "${1#*/}" 2>/dev/null)
	[ -z "$_f" ] && return 0
	echo "found: $_f"
	return 1
}

### corrupt: read-back verification

start_dsrvd_shim corrupt "$CONF" ||
    bail "dsrvd with the corrupt shim did not start"
cdctl chunk put cc/one "$T/c1" >"$T/put.out" 2>&1
rc=$?
check "corrupt: put fails with exit 4 ($rc)" [ "$rc" -eq 4 ]
check "corrupt: dctl says read-back verification failed" \
    has "$T/put.out" "^dctl: cc/one: .*read-back verification failed"
check "corrupt: cc/one not visible (stat exits 3), no file anywhere" \
    stored_nowhere cc/one
check "corrupt: get exits 3" exits 3 cdctl chunk get cc/one "$T/got"
check "corrupt: not listed" [ -z "$(cdctl chunk ls cc 2>&1)" ]
check "corrupt: DATA/.tmp holds no data" tmp_clean "$DATA"
check "corrupt: counter verification failures 1" \
    counter_is "verification failures" 1
check "corrupt: counter chunks written 0" counter_is "chunks written" 0
check "corrupt: log: read-back verification failed for cc/one" \
    wait_for_log "read-back verification failed for cc/one" 5
cdctl chunk put cc/two "$T/small" >"$T/put.out" 2>&1
rc=$?
check "corrupt: a second chunk fails too ($rc)" [ "$rc" -eq 4 ]
check "corrupt: counter verification failures 2" \
    counter_is "verification failures" 2
check "corrupt: cc/two not visible" stored_nowhere cc/two
cdctl chunk put cc/three "$T/c8" >"$T/put.out" 2>&1
rc=$?
check "corrupt: an 8 MiB chunk (direct I/O) fails too ($rc)" [ "$rc" -eq 4 ]
check "corrupt: counter verification failures 3" \
    counter_is "verification failures" 3
check "corrupt: cc/three not visible" stored_nowhere cc/three
check "corrupt: DATA/.tmp still holds no data" tmp_clean "$DATA"
check "corrupt: the store stays read-write (these are not flush failures)" \
    has "$T/status.out" "^storage +read-write$"
check "corrupt: dsrvd still runs" alive "$DSRVD_PID"
stop_dsrvd
rc=$?
check "corrupt: dsrvd stops cleanly ($rc)" [ "$rc" -eq 0 ]

# The client may retry: on a good disk the same put succeeds.
start_dsrvd "$CONF" || bail "dsrvd did not start"
check "no shim: the same put of cc/one succeeds" \
    cdctl chunk put cc/one "$T/c1"
cdctl chunk get cc/one "$T/got" >"$T/get.out" 2>&1
check "no shim: cc/one reads back byte for byte" cmp "$T/c1" "$T/got"
check "no shim: a chunk to keep for the eio part" \
    cdctl chunk put kk/keep "$T/keep"
stop_dsrvd

### eio: flush failures, then read-only

start_dsrvd_shim eio "$CONF" || bail "dsrvd with the eio shim did not start"
status
check "eio: the store starts read-write" \
    has "$T/status.out" "^storage +read-write$"
for i in 1 2 3; do
	cdctl chunk put "ee/e$i" "$T/small" >"$T/put.out" 2>&1
	rc=$?
	check "eio: put ee/e$i fails with exit 1 ($rc)" [ "$rc" -eq 1 ]
	check "eio: put ee/e$i: I/O error" \
	    has "$T/put.out" "^dctl: ee/e$i: I/O error"
	check "eio: ee/e$i not visible" stored_nowhere "ee/e$i"
done
check "eio: DATA/.tmp holds no data" tmp_clean "$DATA"
check "eio: counter flush failures 3" counter_is "flush failures" 3
check "eio: status: storage READ-ONLY: ..." \
    has "$T/status.out" "^storage +READ-ONLY: .+"
check "eio: log: storage is read-only" \
    wait_for_log "storage is read-only" 5
cdctl chunk put ee/e4 "$T/small" >"$T/put.out" 2>&1
rc=$?
check "eio: the 4th put fails with exit 1 ($rc)" [ "$rc" -eq 1 ]
check "eio: the 4th put: store is read-only" \
    has "$T/put.out" "^dctl: ee/e4: store is read-only"
check "eio: ee/e4 not visible" stored_nowhere ee/e4
check "eio: read-only refusals flush nothing: flush failures still 3" \
    counter_is "flush failures" 3
check "eio: read-only refusals are not write errors: still 3" \
    counter_is "write errors" 3
check "eio: counter chunks written 0" counter_is "chunks written" 0
cdctl chunk put kk/keep "$T/keep" >"$T/put.out" 2>&1
rc=$?
check "eio: even an identical rewrite is refused while read-only ($rc)" \
    [ "$rc" -ne 0 ]
rm -f "$T/got"
cdctl chunk get kk/keep "$T/got" >"$T/get.out" 2>&1
rc=$?
check "eio: a chunk stored before still reads ($rc)" [ "$rc" -eq 0 ]
check "eio: byte for byte" cmp "$T/keep" "$T/got"
check "eio: stat still works" cdctl chunk stat kk/keep
check "eio: ls still works" ls_has kk keep
check "eio: df still works" cdctl df
check "eio: DATA/.tmp still holds no data" tmp_clean "$DATA"
dctl reload >"$T/reload.out" 2>&1
check "eio: a reload does not clear read-only" \
    counter_is "reloads" 1
check "eio: still READ-ONLY after the reload" \
    has "$T/status.out" "^storage +READ-ONLY: .+"
stop_dsrvd
rc=$?
check "eio: dsrvd stops cleanly ($rc)" [ "$rc" -eq 0 ]

### a restart clears it

start_dsrvd "$CONF" || bail "dsrvd did not start"
status
check "restart: storage read-write" has "$T/status.out" "^storage +read-write$"
check "restart: put ee/e1 succeeds" cdctl chunk put ee/e1 "$T/small"
check "restart: kk/keep unchanged" cmp "$T/keep" "$DATA/kk/keep"
stop_dsrvd

finish
