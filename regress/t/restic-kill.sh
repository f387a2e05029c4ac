#!/bin/sh
# needs: root
# timeout: 900
# dctl serve restic under stress, with the real restic: a gateway
# killed (SIGKILL) in the middle of a backup and started again, the
# backup run again to completion (what was stored is skipped as
# identical); two restic backups at once into one repository; then
# check --read-data and a restore compared with diff -r.  Last, dsrvd
# stopped in the middle of a backup and started again on the same data
# and port: the same restic run, through the same gateway, retries its
# way to exit 0, and the repository checks and restores identical.

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

# dsrvd restarted mid-backup: stopped (SIGTERM, by pid) once the
# gateway has stored a pack of a backup slowed to a few seconds, kept
# down until the gateway has answered restic 503 at least once, and
# started again on the same data directory and port; restic's own
# retries (0.5 s and up) must carry the same backup run to exit 0
# through the same gateway, which has to reach the new dsrvd.
REPO=rest:$URL/restart/repo
rr "restic init restart/repo" init
mkdir -p "$T/tree5/d"
for i in 1 2 3 4 5 6; do
	rand_file "$T/tree5/r$i" $((7 * 1024 * 1024 + i))
done
i=0
while [ "$i" -lt 100 ]; do
	head -c $((i * 53 + 1)) /dev/urandom >"$T/tree5/d/f$i"
	i=$((i + 1))
done
nst=$(log_count "stored rs/restart/repo/data/" "$GWLOG")
n503=$(log_count "dsrvd at 127.0.0.1 port $PORT unavailable" "$GWLOG")
restic -r "$REPO" backup --limit-upload 4096 "$T/tree5" \
    >"$T/restart.out" 2>&1 &
rpid=$!
add_bgpid "$rpid"
i=600
while [ "$i" -gt 0 ] &&
    [ "$(log_count "stored rs/restart/repo/data/" "$GWLOG")" -le "$nst" ]; do
	gone "$rpid" && break
	sleep 0.1
	i=$((i - 1))
done
running=0
alive "$rpid" && running=1
check "the gateway stored a pack, the backup still running ($running)" \
    [ "$(log_count "stored rs/restart/repo/data/" "$GWLOG")" -gt "$nst" \
    -a "$running" -eq 1 ]
stop_dsrvd
rc=$?
check "dsrvd stopped mid-backup (SIGTERM: $rc)" [ "$rc" -eq 0 ]
# gw_count_gt REGEX N SECS: the gateway's log has more than N lines.
gw_count_gt() {
	i=$(( $3 * 10 ))
	while [ "$i" -gt 0 ]; do
		[ "$(log_count "$1" "$GWLOG")" -gt "$2" ] && return 0
		sleep 0.1
		i=$((i - 1))
	done
	[ "$(log_count "$1" "$GWLOG")" -gt "$2" ]
}
# A pack on its way (restic sends 4 MiB/s here) and the pool's retries
# come first: allow for both on a loaded machine.
gw_count_gt "dsrvd at 127.0.0.1 port $PORT unavailable" "$n503" 60
check "... the gateway answered 503 while it was down" [ $? -eq 0 ]
start_dsrvd "$CONF" || bail "dsrvd did not start again"
ok "dsrvd started again on port $PORT, data $DATA"
nst=$(log_count "stored rs/restart/repo/" "$GWLOG")
# restic's backoff waits longer each time; 150 s is far more than
# the few retries the restart should need.
i=1500
while [ "$i" -gt 0 ] && alive "$rpid"; do
	sleep 0.1
	i=$((i - 1))
done
if alive "$rpid"; then
	kill -TERM "$rpid"
	diag "restic still running 150 s after dsrvd came back"
fi
wait "$rpid"
rc=$?
if [ "$rc" -ne 0 ]; then
	tail -n 20 "$T/restart.out" | sed 's/^/# /'
	grep -v ': 200$' "$GWLOG" | tail -n 20 | sed 's/^/# gw: /'
fi
check "dsrvd restarted mid-backup: restic's retry succeeds, exit $rc" \
    [ "$rc" -eq 0 ]
check "... the gateway stored files through the new dsrvd" \
    [ "$(log_count "stored rs/restart/repo/" "$GWLOG")" -gt "$nst" ]
rr "restic check --read-data of restart/repo" check --read-data
rr "restic restore of restart/repo" restore latest --target "$T/r5"
check "... identical" diff -r "$T/tree5" "$T/r5$T/tree5"
stop_gw
rc=$?
check "the gateway ends on SIGTERM with 0 ($rc)" [ "$rc" -eq 0 ]

finish
