#!/bin/sh
# needs: root
# timeout: 900
# dctl serve restic in front of a real dsrvd, driven by the real
# restic: init, two backups of a tree with 3000 small files,
# two over 8 MiB and a symlink, snapshots, check --read-data, restore
# compared with diff -r.  Write once: forget --keep-last 1 --prune
# fails and both snapshots still restore; a DELETE of a snapshot is
# 403, an upload whose body is not its name 400 with nothing stored,
# an identical upload again 200.  Ranges, v1 and v2 listings, the
# refusal of a non-loopback address without --htpasswd, the summary
# line at exit, and dctl match and scrub on the repository's files.
# With dsrvd frozen, another worker thread answers while an upload
# waits; a pack corrupt past its first chunk is cut short.
# --htpasswd with a bcrypt entry; a flipped byte in a pack on disk is
# 500 naming the chunk, restic check --read-data and dctl scrub fail;
# dsrvd stopped is 503 naming the server, a full one 507.  The
# repository replicated to a second dsrvd restores through a gateway
# in front of that one.  t/restic-kill.sh has more.

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

start_gw || bail "dctl serve restic did not start"

# The tree: small files in a few directories, two over 8 MiB, a link.
mkdir -p "$T/tree" || bail "mkdir"
python3 -c 'import os, sys
for i in range(3000):
    d = "%s/d%d" % (sys.argv[1], i % 7)
    os.makedirs(d, exist_ok=True)
    with open("%s/f%d" % (d, i), "wb") as f:
        f.write(os.urandom(i * 7 % 20000 + 1))' "$T/tree" ||
    bail "cannot make the small files"
rand_file "$T/tree/big1" $((9 * 1024 * 1024)) || bail "cannot make a file"
rand_file "$T/tree/big2" $((12 * 1024 * 1024 + 5)) ||
    bail "cannot make a file"
ln -s d0/f0 "$T/tree/link"
chmod 640 "$T/tree/d1/f1"

rr "restic init" init
rr "restic backup (3000 small files, 2 over 8 MiB)" backup "$T/tree"
sleep 1
echo second >"$T/tree/new2"
rr "a second restic backup" backup "$T/tree"
rr "restic snapshots" snapshots --json
n=$(python3 -c 'import json, sys
print(len(json.load(open(sys.argv[1]))))' "$T/restic.out" 2>/dev/null)
check "... lists 2 snapshots ($n)" [ "$n" = 2 ]
first=$(python3 -c 'import json, sys
s = sorted(json.load(open(sys.argv[1])), key=lambda x: x["time"])
print(s[0]["id"])' "$T/restic.out" 2>/dev/null)
rr "restic check --read-data" check --read-data

rr "restic restore latest" restore latest --target "$T/r1"
check "... diff -r finds the tree identical" diff -r "$T/tree" "$T/r1$T/tree"
check "... with the symlink" [ "$(readlink "$T/r1$T/tree/link")" = d0/f0 ]
check "... and the mode" [ "$(stat -c %a "$T/r1$T/tree/d1/f1")" = 640 ]

restic -r "$REPO" forget --keep-last 1 --prune >"$T/forget.out" 2>&1
rc=$?
check "restic forget --keep-last 1 --prune fails ($rc)" [ "$rc" -ne 0 ]
grep -q "DELETE .*snapshots.* refused" "$GWLOG"
check "... the gateway refused its DELETE of a snapshot" [ $? -eq 0 ]
rr "both snapshots are still there" snapshots --json
n=$(python3 -c 'import json, sys
print(len(json.load(open(sys.argv[1]))))' "$T/restic.out" 2>/dev/null)
check "... 2 of them ($n)" [ "$n" = 2 ]
rr "the first snapshot restores" restore "$first" --target "$T/r2"
check "... identical but for the later file" \
    diff -r -x new2 "$T/tree" "$T/r2$T/tree"
check "... which it does not have" [ ! -e "$T/r2$T/tree/new2" ]
rr "the latest restores again" restore latest --target "$T/r3"
check "... identical" diff -r "$T/tree" "$T/r3$T/tree"
rr "restic check after the refused forget" check

# By hand: what restic does not show.
code=$(http GET /hosts/a/repo/snapshots/)
check "v1 listing of snapshots: 200 ($code)" [ "$code" = 200 ]
snap=$(python3 -c 'import json, sys
print(json.load(open(sys.argv[1]))[0])' "$T/http.body" 2>/dev/null)
code=$(http GET /hosts/a/repo/data/ -H \
    'Accept: application/vnd.x.restic.rest.v2' -D "$T/hdr")
check "v2 listing of data: 200 ($code)" [ "$code" = 200 ]
# The largest pack: more than one chunk of 8 MiB.
check "... as application/vnd.x.restic.rest.v2" \
    grep -qi '^content-type: application/vnd.x.restic.rest.v2' "$T/hdr"
pack=$(python3 -c 'import json, sys
v = max(json.load(open(sys.argv[1])), key=lambda x: x["size"])
print(v["name"], v["size"])' "$T/http.body" 2>/dev/null)
psize=${pack#* }
pack=${pack% *}
code=$(http DELETE "/hosts/a/repo/snapshots/$snap")
check "DELETE of a snapshot: 403 ($code)" [ "$code" = 403 ]
code=$(http DELETE /hosts/a/repo/config)
check "DELETE of config: 403 ($code)" [ "$code" = 403 ]
code=$(http HEAD "/hosts/a/repo/data/$pack" -I -D "$T/hdr")
check "HEAD of a pack: 200 ($code)" [ "$code" = 200 ]
check "... with its length, $psize" \
    grep -qi "^content-length: $psize" "$T/hdr"
code=$(http GET "/hosts/a/repo/data/$pack")
cp "$T/http.body" "$T/pack"
check "GET of the pack: 200 and $psize bytes ($code)" \
    [ "$code:$(wc -c <"$T/pack")" = "200:$psize" ]
check "... whose SHA-256 is its name" \
    [ "$(sha256sum "$T/pack" | cut -c1-64)" = "$pack" ]
code=$(http GET "/hosts/a/repo/data/$pack" -H 'Range: bytes=100-199')
check "GET with Range: bytes=100-199: 206 ($code)" [ "$code" = 206 ]
tail -c +101 "$T/pack" | head -c 100 >"$T/want"
check "... the right 100 bytes" cmp -s "$T/http.body" "$T/want"
code=$(http GET "/hosts/a/repo/data/$pack" -H 'Range: bytes=8388600-8388615')
check "a range across the first chunk's end: 206 ($code)" [ "$code" = 206 ]
tail -c +8388601 "$T/pack" | head -c 16 >"$T/want"
check "... the right 16 bytes" cmp -s "$T/http.body" "$T/want"
code=$(http GET "/hosts/a/repo/data/$pack" -H "Range: bytes=$psize-")
check "a range past the end: 416 ($code)" [ "$code" = 416 ]
code=$(http POST "/hosts/a/repo/data/$pack" --data-binary "@$T/pack")
check "the same pack uploaded again: 200 ($code)" [ "$code" = 200 ]
zeros=0000000000000000000000000000000000000000000000000000000000000000
code=$(http POST "/hosts/a/repo/data/$zeros" --data-binary "@$T/pack")
check "an upload whose body is not its name: 400 ($code)" [ "$code" = 400 ]
cdctl match "rs/hosts/a/repo/data/$zeros" >"$T/zeros.out" 2>&1
check "... and nothing stored (dctl match finds nothing)" \
    [ ! -s "$T/zeros.out" ]
code=$(http GET "/hosts/a/repo/data/$zeros")
check "... GET of it: 404 ($code)" [ "$code" = 404 ]
code=$(http GET /hosts/a/repo/nosuchtype/)
check "a listing of no type: 404 ($code)" [ "$code" = 404 ]
code=$(http GET '/hosts/../repo/config' --path-as-is)
check "a path with ..: 400 ($code)" [ "$code" = 400 ]

# Workers: with dsrvd frozen, an upload waiting for it holds one of the
# gateway's threads, and another answers a listing of locks (which
# needs no dsrvd) while the upload still waits.
echo "frozen $$" >"$T/frozen.body"
fid=$(sha256sum "$T/frozen.body" | cut -c1-64)
kids=$(pgrep -P "$DSRVD_PID" | tr '\n' ' ')
kill -STOP "$DSRVD_PID" $kids
curl -sv --max-time 120 -o /dev/null -w '%{http_code}' -X POST \
    --data-binary "@$T/frozen.body" "$URL/hosts/b/repo/data/$fid" \
    >"$T/frozen.code" 2>"$T/frozen.err" &
fpid=$!
wait_for_log "^} \\[[0-9]+ bytes data\\]" 30 "$T/frozen.err"
check "dsrvd frozen: an upload sent whole to the gateway" [ $? -eq 0 ]
code=$(http GET /hosts/a/repo/locks/ --max-time 60)
kill -0 "$fpid" 2>/dev/null
up=$?
check "... a listing of locks answered meanwhile, 200 ($code)" \
    [ "$code" = 200 -a "$up" -eq 0 ]
kill -CONT "$DSRVD_PID" $kids
wait "$fpid"
check "... the upload stored once dsrvd runs again ($(cat "$T/frozen.code"))" \
    [ "$(cat "$T/frozen.code")" = 200 ]

cdctl match rs/hosts/a/repo/ >"$T/match.out" 2>&1
rc=$?
n=$(grep -c 'rs/hosts/a/repo/' "$T/match.out")
check "dctl match rs/hosts/a/repo/ lists the repository ($n files)" \
    [ "$rc" -eq 0 -a "$n" -gt 5 ]
check "... config among them" grep -q 'rs/hosts/a/repo/config$' \
    "$T/match.out"
check "... and no lock" not grep -q 'rs/hosts/a/repo/locks/' "$T/match.out"
cdctl scrub --read rs/hosts/a/repo/ >"$T/scrub.out" 2>&1
rc=$?
check "dctl scrub --read rs/hosts/a/repo/ exits 0 ($rc)" [ "$rc" -eq 0 ]

# The repository replicated to a second dsrvd with dctl replicate and
# restored through a gateway in front of that one.
PID_A=$DSRVD_PID
LOG_A=$DSRVD_LOG
PORT_B=$(free_port) || bail "no free port"
mkdir -p "$T/data2"
write_conf "$T/dsrvd2.conf" <<EOT
data "$T/data2"
socket "$T/dsrvd2.sock"
listen on 127.0.0.1 port $PORT_B
network workers 2
storage workers 2
max rtt 2s
key $CKEYNAME file "$CKEY" permit read, write, list, stat
EOT
if start_dsrvd "$T/dsrvd2.conf"; then
	cdctl replicate --to "127.0.0.1:$PORT_B" rs/hosts/a/repo/ \
	    >"$T/rep.out" 2>&1
	rc=$?
	check "dctl replicate --to B rs/hosts/a/repo/ exits 0 ($rc)" \
	    [ "$rc" -eq 0 ]
	GWPORT_B=$(free_port) || bail "no free port"
	"$DCTL" -r "127.0.0.1:$PORT_B" -k "$CKEY" -K "$CKEYNAME" serve \
	    restic -l "127.0.0.1:$GWPORT_B" --prefix rs >"$T/gwb.log" 2>&1 &
	GWB_PID=$!
	add_bgpid "$GWB_PID"
	if wait_for_log "serving restic on" 10 "$T/gwb.log"; then
		restic -r "rest:http://127.0.0.1:$GWPORT_B/hosts/a/repo" \
		    restore latest --target "$T/rb" >"$T/restic.out" 2>&1
		rc=$?
		check "restic restore latest from the replica ($rc)" \
		    [ "$rc" -eq 0 ]
		check "... identical" diff -r "$T/tree" "$T/rb$T/tree"
		kill -TERM "$GWB_PID"
		wait "$GWB_PID"
	else
		notok "a gateway in front of the replica did not start"
		diagfile "$T/gwb.log"
	fi
	stop_dsrvd
else
	notok "the second dsrvd did not start"
fi
DSRVD_PID=$PID_A
DSRVD_LOG=$LOG_A

stop_gw
rc=$?
check "dctl serve restic ends on SIGTERM with 0 ($rc)" [ "$rc" -eq 0 ]
grep -E 'at exit: [1-9][0-9]* objects stored \([0-9]+ bytes\), [1-9][0-9]* skipped as identical, [1-9][0-9]* deletes refused' \
    "$GWLOG" >/dev/null
check "... with its summary line" [ $? -eq 0 ]

# --htpasswd: a bcrypt entry as htpasswd -B writes it ($2y$).
hash=$(python3 -W ignore -c 'import crypt
print(crypt.crypt("s3cret", crypt.mksalt(crypt.METHOD_BLOWFISH,
    rounds=1024)).replace("$2b$", "$2y$", 1))' 2>/dev/null)
case $hash in
'$2y$'*)
	echo "backup:$hash" >"$T/htpasswd"
	start_gw --htpasswd "$T/htpasswd" ||
	    bail "dctl serve restic --htpasswd did not start"
	code=$(http HEAD /hosts/a/repo/config -I)
	check "--htpasswd: no password, 401 ($code)" [ "$code" = 401 ]
	code=$(http HEAD /hosts/a/repo/config -I -u backup:wrong)
	check "... a wrong one, 401 ($code)" [ "$code" = 401 ]
	code=$(http HEAD /hosts/a/repo/config -I -u backup:s3cret)
	check "... the right one, 200 ($code)" [ "$code" = 200 ]
	REPO=rest:http://backup:s3cret@127.0.0.1:$GWPORT/hosts/a/repo
	rr "... and restic snapshots with it" snapshots
	REPO=rest:$URL/hosts/a/repo
	;;
*)
	skip "--htpasswd: python3 cannot make a bcrypt hash"
	start_gw || bail "dctl serve restic did not start again"
	;;
esac

# A flipped byte in the second chunk: the status went out with the
# first 8 MiB, so the body ends short of its length, and the log says.
c1=$(data_names "$T/pack" | sed -n 2p)
check "the pack has a second chunk ($c1)" [ -n "$c1" ]
check "flip a byte of the pack's chunk $c1 on disk" \
    flip_byte "$DATA/$c1" 1000
curl -s --max-time 60 -o "$T/cut" -u backup:s3cret \
    "$URL/hosts/a/repo/data/$pack"
rc=$?
got=$(wc -c <"$T/cut")
check "GET of a pack corrupt past 8 MiB: cut short (curl $rc, $got of $psize bytes)" \
    [ "$rc" -ne 0 -a "$rc" -ne 28 -a "$got" -ge 8388608 -a "$got" -lt "$psize" ]
check "... and the log names the chunk" \
    grep -q "GET rs/hosts/a/repo/data/$pack: cut short at byte 8388608: .*$c1" \
    "$GWLOG"

# A flipped byte in the first chunk of a pack on dsrvd's disk.
c0=$(data_names "$T/pack" | sed -n 1p)
check "flip a byte of the pack's chunk $c0 on disk" \
    flip_byte "$DATA/$c0" 1000
code=$(http GET "/hosts/a/repo/data/$pack" -u backup:s3cret)
check "GET of the corrupt pack: 500 ($code)" [ "$code" = 500 ]
check "... and the log names the chunk" \
    grep -q "corrupt: .*$c0" "$GWLOG"
restic -r "rest:http://backup:s3cret@127.0.0.1:$GWPORT/hosts/a/repo" \
    check --read-data >"$T/check.out" 2>&1
rc=$?
check "restic check --read-data fails ($rc)" [ "$rc" -ne 0 ]
cdctl scrub --read rs/hosts/a/repo/ >"$T/scrub.out" 2>&1
rc=$?
check "dctl scrub --read fails too ($rc)" [ "$rc" -ne 0 ]
check "... naming the pack" grep -q "rs/hosts/a/repo/data/$pack" \
    "$T/scrub.out"

# dsrvd gone: 503, which restic retries, and a line naming the server.
stop_dsrvd
code=$(http HEAD /hosts/a/repo/config -I -u backup:s3cret)
check "dsrvd stopped: HEAD of config, 503 ($code)" [ "$code" = 503 ]
check "... and the log names the server" \
    grep -q "dsrvd at 127.0.0.1 port $PORT unavailable" "$GWLOG"
stop_gw

"$DCTL" -r "127.0.0.1:$PORT" -k "$CKEY" -K "$CKEYNAME" serve restic \
    -l "0.0.0.0:$GWPORT" >"$T/open.out" 2>&1
rc=$?
check "a non-loopback address without --htpasswd is refused ($rc)" \
    sh -c "[ $rc -eq 2 ] && grep -q 'without --htpasswd' '$T/open.out'"

# A full server: 507, which restic reports instead of retrying.
DATA=$T/fs
PORT=
if mount_tmpfs "$DATA" 6m && storage_conf && start_dsrvd "$CONF" &&
    start_gw; then
	rand_file "$T/m10" $((10 * 1024 * 1024))
	id=$(sha256sum "$T/m10" | cut -c1-64)
	code=$(http POST "/full/data/$id" --data-binary "@$T/m10")
	check "an upload to a full dsrvd: 507 ($code)" [ "$code" = 507 ]
	check "... and the log says dsrvd is full" \
	    grep -q "POST /full/data/$id: dsrvd is full" "$GWLOG"
	code=$(http HEAD "/full/data/$id" -I)
	check "... nothing stored: HEAD 404 ($code)" [ "$code" = 404 ]
	stop_gw
	stop_dsrvd
else
	notok "a dsrvd on a 6 MiB tmpfs and a gateway in front of it"
fi

finish
