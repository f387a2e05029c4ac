#!/bin/sh
# needs: root
# timeout: 900
# dctl serve restic's locks (issue 14): advisory, outside the
# write-once store.  By hand with curl: a lock POSTed is in the v1 and
# v2 listings, GET and HEAD answer it, DELETE removes it, a body not
# its name is 400 and one over 64 KiB 413.  --lock-timeout 2: a lock
# is dropped after 3 s, with a log line naming it.  --locks FILE: the
# file is 0600 and follows every change, a lock survives a restart of
# the gateway, a stale one in the file does not, and a corrupt file
# stops the gateway at start naming the file and line.  With the real
# restic: a running backup's lock is listed, survives a restart of the
# gateway so that an exclusive command is refused, and goes when the
# backup ends; restic unlock removes the lock of a killed restic.

. "$REGRESS/lib.sh"
storage_tmpdir
need_bins
command -v restic >/dev/null 2>&1 ||
    bail "restic is not installed (regress/deps.sh installs it)"
command -v curl >/dev/null 2>&1 ||
    bail "curl is not installed (regress/deps.sh installs it)"
own_dctl || bail "cannot copy dctl"
ensure_users
ensure_chroot || bail "cannot prepare /var/empty"
storage_conf || bail "cannot write the configuration"
start_dsrvd "$CONF" || bail "dsrvd did not start"
restic_setup || bail "no free port"

LOCKS=$T/state/locks
mkdir -p "$T/state" || bail "mkdir"
L=/hosts/a/repo/locks

# mklock FILE TEXT: a lock body; prints its name, the SHA-256.
mklock() {
	printf '{"time":"%s","hostname":"regress","pid":%s}' "$2" $$ >"$1"
	sha256sum "$1" | cut -c1-64
}

# listed ID [v2]: the listing of locks/ has ID (v1 names, v2 objects).
listed() {
	if [ "$2" = v2 ]; then
		http GET "$L/" -H 'Accept: application/vnd.x.restic.rest.v2' \
		    >/dev/null || return 1
	else
		http GET "$L/" >/dev/null || return 1
	fi
	python3 -c 'import json, sys
v = json.load(open(sys.argv[1]))
if sys.argv[3] == "v2":
    ok = any(e["name"] == sys.argv[2] and
        e["size"] == int(sys.argv[4]) for e in v)
else:
    ok = sys.argv[2] in v
sys.exit(0 if ok else 1)' "$T/http.body" "$1" "${2:-v1}" "${3:-0}" || {
		cat "$T/http.body"
		return 1
	}
}

start_gw --locks "$LOCKS" || bail "dctl serve restic --locks did not start"
check "--locks: the file is made at start, mode 600" \
    [ "$(stat -c %a "$LOCKS" 2>/dev/null)" = 600 ]
check "... and starts with its version line" \
    [ "$(head -n 1 "$LOCKS")" = "dctl-restic-locks 1" ]

id1=$(mklock "$T/l1" one)
size1=$(wc -c <"$T/l1")
code=$(http POST "$L/$id1" --data-binary "@$T/l1")
check "POST of a lock: 200 ($code)" [ "$code" = 200 ]
check "... in the v1 listing" listed "$id1"
check "... in the v2 listing with its size, $size1" listed "$id1" v2 "$size1"
code=$(http GET "$L/$id1")
check "... GET: 200 and its body ($code)" \
    [ "$code" = 200 -a "$(cat "$T/http.body")" = "$(cat "$T/l1")" ]
code=$(http HEAD "$L/$id1" -I -D "$T/hdr")
check "... HEAD: 200 ($code)" [ "$code" = 200 ]
check "... with its length" grep -qi "^content-length: $size1" "$T/hdr"
check "... in the state file" grep -q "^rs$L/$id1 [0-9]* $size1 " "$LOCKS"
cdctl match "rs$L/" >"$T/match.out" 2>&1
rc=$?
check "... never on dsrvd (dctl match exits $rc)" \
    sh -c "[ $rc -eq 0 -o $rc -eq 3 ] && ! grep -q locks/ '$T/match.out'"

id2=$(mklock "$T/l2" two)
code=$(http POST "$L/$id1" --data-binary "@$T/l2")
check "a lock whose body is not its name: 400 ($code)" [ "$code" = 400 ]
head -c 70000 /dev/zero | tr '\0' x >"$T/big"
idbig=$(sha256sum "$T/big" | cut -c1-64)
code=$(http POST "$L/$idbig" --data-binary "@$T/big")
check "a lock of 70000 bytes: 413 ($code)" [ "$code" = 413 ]
check "... not listed" not listed "$idbig"
code=$(http POST "$L/$id2" --data-binary "@$T/l2")
check "a second lock: 200 ($code)" [ "$code" = 200 ]
code=$(http DELETE "$L/$id2")
check "... DELETE: 200 ($code)" [ "$code" = 200 ]
code=$(http GET "$L/$id2")
check "... then GET: 404 ($code)" [ "$code" = 404 ]
check "... not listed" not listed "$id2"
check "... not in the state file" not grep -q "$id2" "$LOCKS"
code=$(http DELETE "$L/$id2")
check "... DELETE again: 404 ($code)" [ "$code" = 404 ]

stop_gw
start_gw --locks "$LOCKS" || bail "dctl serve restic did not start again"
check "the gateway restarted: the lock is still listed" listed "$id1"
code=$(http GET "$L/$id1")
check "... with its body ($code)" \
    [ "$code" = 200 -a "$(cat "$T/http.body")" = "$(cat "$T/l1")" ]
check "... and the log counts it" grep -q "locks: 1 from $LOCKS" "$GWLOG"

# A lock 31 minutes old in the file: restic's rule makes it stale.
stop_gw
id3=$(mklock "$T/l3" three)
echo "rs$L/$id3 $(($(date +%s) - 1860)) $(wc -c <"$T/l3") \
$(od -An -v -tx1 "$T/l3" | tr -d ' \n')" >>"$LOCKS"
start_gw --locks "$LOCKS" || bail "dctl serve restic did not start again"
check "a lock 31 minutes old in the file is dropped at start" \
    not listed "$id3"
check "... with a log line naming it and its age" \
    grep -Eq "lock rs$L/$id3: stale, not refreshed for 18[0-9]{2} seconds" \
    "$GWLOG"
check "... and the file no longer has it" not grep -q "$id3" "$LOCKS"
check "... the fresh one stays" listed "$id1"
stop_gw

# A corrupt state file: no start, the file and line named.
# gw_refuses TEXT REGEX: the gateway exits 1 at once with REGEX.
gw_refuses() {
	timeout 20 "$DCTL" -r "127.0.0.1:$PORT" -k "$CKEY" -K "$CKEYNAME" \
	    serve restic -l "127.0.0.1:$GWPORT" --prefix rs --locks \
	    "$T/bad" >"$T/bad.out" 2>&1
	_rc=$?
	if [ "$_rc" -eq 1 ] && grep -Eq -- "$2" "$T/bad.out"; then
		ok "$1"
	else
		notok "$1 (exit $_rc)"
		diagfile "$T/bad.out"
	fi
}
cp "$LOCKS" "$T/bad"
echo "rs$L/$id2 $(date +%s) $(wc -c <"$T/l2") 7a7a" >>"$T/bad"
gw_refuses "a state file with a short body: refused at start" \
    "$T/bad:3: not [0-9]+ bytes in hex"
cp "$LOCKS" "$T/bad"
echo "rs$L/$id2 $(date +%s) $(wc -c <"$T/l1") \
$(od -An -v -tx1 "$T/l1" | tr -d ' \n')" >>"$T/bad"
gw_refuses "... one whose body is not its name" \
    "$T/bad:3: the body's SHA-256 is not its name"
printf 'dctl-restic-locks 2\n' >"$T/bad"
gw_refuses "... another version" "$T/bad:1: not \"dctl-restic-locks 1\""
cp "$LOCKS" "$T/bad"
printf 'rs/../x/locks/%s 1 0 ' "$id2" >>"$T/bad"
gw_refuses "... a line without its end" "$T/bad:3: no newline"

# --lock-timeout 2: dropped when next looked at, 3 s later.
start_gw --lock-timeout 2 || bail "dctl serve restic did not start"
code=$(http POST "$L/$id2" --data-binary "@$T/l2")
check "--lock-timeout 2: a lock POSTed, 200 ($code)" [ "$code" = 200 ]
check "... listed" listed "$id2"
sleep 3
check "... 3 s later no longer listed" not listed "$id2"
code=$(http GET "$L/$id2")
check "... GET: 404 ($code)" [ "$code" = 404 ]
check "... and the log names it" \
    grep -Eq "lock rs$L/$id2: stale, not refreshed for [0-9]+ seconds" \
    "$GWLOG"
stop_gw

# The real restic.  A backup from a pipe holds its lock until the pipe
# ends.
rm -f "$LOCKS"
start_gw --locks "$LOCKS" || bail "dctl serve restic did not start"
rr "restic init" init
rr "restic list locks: none" list locks --no-lock
check "... empty" [ ! -s "$T/restic.out" ]
# piped_backup OUT: a restic backup --stdin from the fifo, held open by
# a sleep of its own (no process started later inherits the writer and
# keeps restic from seeing the end); rpid and hold are theirs.  Returns
# once the lock is in the state file (or after 10 s).
piped_backup() {
	restic -r "$REPO" backup --stdin --stdin-filename piped \
	    <"$T/pipe" >"$1" 2>&1 &
	rpid=$!
	add_bgpid "$rpid"
	sleep 600 >"$T/pipe" &
	hold=$!
	add_bgpid "$hold"
	n=0
	while [ "$n" -lt 100 ]; do
		[ "$(wc -l <"$LOCKS")" -ge 2 ] && break
		sleep 0.1
		n=$((n + 1))
	done
}
mkfifo "$T/pipe" || bail "mkfifo"
piped_backup "$T/piped.out"
rr "a backup running: restic list locks" list locks --no-lock
rlock=$(head -n 1 "$T/restic.out")
check "... shows its lock ($rlock)" [ "${#rlock}" -eq 64 ]
check "... which is in the state file" grep -q "locks/$rlock " "$LOCKS"
kill -KILL "$GW_PID"
wait "$GW_PID" 2>/dev/null
start_gw --locks "$LOCKS" || bail "dctl serve restic did not start again"
rr "the gateway killed and started again: restic list locks" \
    list locks --no-lock
check "... still shows the backup's lock" grep -qx "$rlock" "$T/restic.out"
restic -r "$REPO" prune >"$T/prune.out" 2>&1
rc=$?
check "... so restic prune, which wants it exclusive, fails ($rc)" \
    [ "$rc" -ne 0 ]
check "... saying the repository is locked" grep -qi "locked" "$T/prune.out"
echo data >"$T/pipe"
kill "$hold"
wait "$hold" 2>/dev/null
n=0
while alive "$rpid" && [ "$n" -lt 600 ]; do
	sleep 0.1
	n=$((n + 1))
done
wait "$rpid"
rc=$?
[ "$rc" -eq 0 ] || diagfile "$T/piped.out"
check "the backup ends well ($rc)" [ "$rc" -eq 0 ]
rr "... then restic list locks" list locks --no-lock
check "... shows none" [ ! -s "$T/restic.out" ]
check "... nor does the state file" [ "$(wc -l <"$LOCKS")" -eq 1 ]

# A restic killed: its lock stays until restic unlock, which finds it
# stale (this host, the process gone).
piped_backup "$T/piped2.out"
kill -KILL "$rpid"
wait "$rpid" 2>/dev/null
kill "$hold"
wait "$hold" 2>/dev/null
rr "a restic killed: restic list locks" list locks --no-lock
check "... shows its lock" [ "$(wc -l <"$T/restic.out")" -eq 1 ]
rr "restic unlock" unlock
rr "... then restic list locks" list locks --no-lock
check "... shows none" [ ! -s "$T/restic.out" ]
rr "restic snapshots lists the piped backup" snapshots --json
n=$(python3 -c 'import json, sys
print(len(json.load(open(sys.argv[1]))))' "$T/restic.out" 2>/dev/null)
check "... once ($n)" [ "$n" = 1 ]

stop_gw
rc=$?
check "dctl serve restic ends on SIGTERM with 0 ($rc)" [ "$rc" -eq 0 ]
finish
