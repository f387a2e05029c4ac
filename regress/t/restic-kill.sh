#!/bin/sh
# needs: root
# dctl serve restic under stress, with the real restic: a gateway
# killed (SIGKILL) in the middle of a backup and started again, the
# backup run again to completion (what was stored is skipped as
# identical); two restic backups at once into one repository; then
# check --read-data and a restore compared with diff -r.

. "$REGRESS/lib.sh"
storage_tmpdir
need_bins
command -v restic >/dev/null 2>&1 ||
    bail "restic is not installed (regress/deps.sh installs it)"
own_dctl || bail "cannot copy dctl"
ensure_users
ensure_chroot || bail "cannot prepare /var/empty"
storage_conf || bail "cannot write the configuration"
start_dsrvd "$CONF" || bail "dsrvd did not start"
restic_setup || bail "no free port"
start_gw || bail "dctl serve restic did not start"

REPO=rest:$URL/kill/repo
rr "restic init kill/repo" init
mkdir -p "$T/tree3"
for i in 1 2 3; do
	rand_file "$T/tree3/r$i" $((9 * 1024 * 1024))
done
restic -r "$REPO" backup "$T/tree3" >"$T/killed.out" 2>&1 &
rpid=$!
add_bgpid "$rpid"
wait_for_log "stored rs/kill/repo/data/" 60 "$GWLOG"
check "the gateway stored a pack of the backup" [ $? -eq 0 ]
kill -KILL "$GW_PID"
wait "$GW_PID" 2>/dev/null
# restic retries for minutes: it may fail, or finish through the new
# gateway; either way the backup run again must complete.
start_gw || bail "dctl serve restic did not start again"
wait "$rpid"
diag "the interrupted restic backup exited $?"
rr "the gateway killed and restarted: the backup completes when run \
again" backup "$T/tree3"
grep -Eq "POST /kill/repo/data/[0-9a-f]{64}: 200" "$GWLOG"
check "... (the gateway logs its uploads)" [ $? -eq 0 ]

echo one >"$T/tree3/one"
restic -r "$REPO" backup "$T/tree3" >"$T/two1.out" 2>&1 &
p1=$!
restic -r "$REPO" backup "$T/tree3" >"$T/two2.out" 2>&1 &
p2=$!
wait "$p1"
rc1=$?
wait "$p2"
rc2=$?
check "two restic backups at once ($rc1 $rc2)" \
    [ "$rc1:$rc2" = 0:0 ]
rr "restic snapshots" snapshots --json
n=$(python3 -c 'import json, sys
print(len(json.load(open(sys.argv[1]))))' "$T/restic.out" 2>/dev/null)
check "... 3 or 4 of them ($n)" [ "${n:-0}" -ge 3 -a "${n:-0}" -le 4 ]
rr "restic check --read-data" check --read-data
rr "restic restore latest" restore latest --target "$T/r4"
check "... identical" diff -r "$T/tree3" "$T/r4$T/tree3"
stop_gw
rc=$?
check "the gateway ends on SIGTERM with 0 ($rc)" [ "$rc" -eq 0 ]

finish
