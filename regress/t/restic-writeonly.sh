#!/bin/sh
# needs: root
# timeout: 900
# dctl serve restic --keep (issue 14): a host whose key may write,
# list, stat and read metadata but not read data backs up with restic.
# Without --keep its backup fails, the gateway's log naming dsrvd's
# refusal.  With --keep DIR (made mode 700): init, two backups (the
# second reads config, keys, index and snapshots from the copies) and
# snapshots succeed; DIR holds one copy, mode 600, per config, key,
# index and snapshot and nothing else; restore fails (403 for data
# packs, logged) and nothing stored changes; a second gateway with a
# key that may read restores the same tree (diff -r), and with --keep
# copies what it reads.  A copy with one byte flipped is logged,
# removed and not served.

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
RKEY=$CKEY
RKEYNAME=$CKEYNAME
WKEY=$T/wo.key
WKEYNAME=wo
new_key "$WKEY" || bail "cannot make a key"
echo "key $WKEYNAME file \"$WKEY\" permit write, list, stat, meta" \
    >>"$CONF"
start_dsrvd "$CONF" || bail "dsrvd did not start"
restic_setup || bail "no free port"

KEEP=$T/keep
R=/hosts/a/repo

# as_key NAME FILE: the gateways started from now on use that key.
as_key() {
	CKEYNAME=$1
	CKEY=$2
}

# copy_of NAME: the file of the dsrvd name NAME in $KEEP.
copy_of() {
	echo "${2:-$KEEP}/$(printf '%s' "$1" | sha256sum | cut -c1-64)"
}

# stored: every file of the repository on dsrvd, as the read key sees it.
stored() {
	as_key "$RKEYNAME" "$RKEY"
	cdctl match "rs$R/" 2>&1 | sort
	as_key "$WKEYNAME" "$WKEY"
}

mkdir -p "$T/tree/d" || bail "mkdir"
i=0
while [ "$i" -lt 50 ]; do
	head -c $((i * 101 + 1)) /dev/urandom >"$T/tree/d/f$i"
	i=$((i + 1))
done
rand_file "$T/tree/big" $((3 * 1024 * 1024)) || bail "cannot make a file"

# Without --keep: the key may not read config, so no backup.
as_key "$WKEYNAME" "$WKEY"
start_gw || bail "dctl serve restic did not start"
REPO=rest:$URL/hosts/b/repo
rr "without --keep: restic init" init
restic -r "$REPO" backup "$T/tree" >"$T/nokeep.out" 2>&1
rc=$?
check "... restic backup fails ($rc)" [ "$rc" -ne 0 ]
check "... the gateway's log names dsrvd's refusal, and --keep" \
    grep -Eq "GET /hosts/b/repo/(config|keys/[0-9a-f]{64}): refused by dsrvd: .*--keep" "$GWLOG"
stop_gw

# With --keep.
REPO=rest:$URL$R
start_gw --keep "$KEEP" || bail "dctl serve restic --keep did not start"
check "--keep: DIR is made, mode 700" \
    [ "$(stat -c %a "$KEEP" 2>/dev/null)" = 700 ]
rr "--keep: restic init" init
rr "... restic backup" backup "$T/tree"
sleep 1
echo second >"$T/tree/new2"
rr "... a second restic backup" backup "$T/tree"
check "... which read copies" \
    grep -q "GET rs$R/config: dsrvd refuses to read it, answered from" \
    "$GWLOG"
rr "... restic snapshots" snapshots --json
n=$(python3 -c 'import json, sys
print(len(json.load(open(sys.argv[1]))))' "$T/restic.out" 2>/dev/null)
check "... 2 snapshots ($n)" [ "$n" = 2 ]

# One copy per config, key, index and snapshot; none of data.
want=1
for t in keys index snapshots; do
	http GET "$R/$t/" >/dev/null
	python3 -c 'import json, sys
for n in json.load(open(sys.argv[1])): print(n)' "$T/http.body" \
	    >"$T/$t.ids"
	want=$((want + $(wc -l <"$T/$t.ids")))
	while read -r id; do
		[ -f "$(copy_of "rs$R/$t/$id")" ] || echo "rs$R/$t/$id" \
		    >>"$T/missing"
	done <"$T/$t.ids"
done
have=$(find "$KEEP" -type f | wc -l)
check "DIR holds $want copies ($have)" [ "$have" -eq "$want" ]
check "... one of each object but data" [ ! -s "$T/missing" ]
check "... config's among them" [ -f "$(copy_of "rs$R/config")" ]
check "... every one mode 600" \
    [ -z "$(find "$KEEP" -type f ! -perm 600)" ]

stored >"$T/before"
restic -r "$REPO" restore latest --target "$T/r0" >"$T/restore.out" 2>&1
rc=$?
check "restic restore through the gateway without read fails ($rc)" \
    [ "$rc" -ne 0 ]
check "... the log names the refused data pack" \
    grep -Eq "GET $R/data/[0-9a-f]{64}: refused by dsrvd" "$GWLOG"
stored >"$T/after"
check "... nothing stored changed" \
    [ -s "$T/before" -a "$(cat "$T/before")" = "$(cat "$T/after")" ]

# A gateway with the read key, --keep of its own: restore, and copies.
as_key "$RKEYNAME" "$RKEY"
WGWPORT=$GWPORT
WGWLOG=$GWLOG
WGW_PID=$GW_PID
GWPORT=$(free_port) || bail "no free port"
GWLOG=$T/gw-read.log
URL=http://127.0.0.1:$GWPORT
start_gw --keep "$T/keep2" || bail "a gateway with the read key did not start"
restic -r "rest:$URL$R" restore latest --target "$T/r1" \
    >"$T/restore1.out" 2>&1
rc=$?
check "restic restore through a gateway with read ($rc)" [ "$rc" -eq 0 ]
check "... identical (diff -r)" diff -r "$T/tree" "$T/r1$T/tree"
snap=$(head -n 1 "$T/snapshots.ids")
code=$(http GET "$R/snapshots/$snap")
check "... GET of a snapshot: 200 ($code)" [ "$code" = 200 ]
check "... kept in its own DIR" \
    cmp -s "$T/http.body" "$(copy_of "rs$R/snapshots/$snap" "$T/keep2")"
stop_gw
GWPORT=$WGWPORT
GWLOG=$WGWLOG
GW_PID=$WGW_PID
URL=http://127.0.0.1:$GWPORT
as_key "$WKEYNAME" "$WKEY"

# A copy with one byte flipped: logged, removed, not served.
code=$(http GET "$R/snapshots/$snap")
check "GET of a snapshot without read: 200 from the copy ($code)" \
    [ "$code" = 200 -a "$(sha256sum <"$T/http.body" | cut -c1-64)" = \
    "$snap" ]
f=$(copy_of "rs$R/snapshots/$snap")
python3 -c 'import sys
with open(sys.argv[1], "r+b") as f:
    b = f.read(1)
    f.seek(0)
    f.write(bytes([b[0] ^ 1]))' "$f"
code=$(http GET "$R/snapshots/$snap")
check "... with a byte of the copy flipped: 403 ($code)" [ "$code" = 403 ]
check "... the log says the copy does not match" \
    grep -q "keep: the copy of rs$R/snapshots/$snap, .* does not match dsrvd's metadata" \
    "$GWLOG"
check "... and it is removed" [ ! -e "$f" ]

stop_gw
rc=$?
check "the gateway ends on SIGTERM with 0 ($rc)" [ "$rc" -eq 0 ]
check "... its summary counts copies and answers from them" \
    grep -Eq "at exit: .* [1-9][0-9]* copies kept, [1-9][0-9]* answers from copies" \
    "$GWLOG"
finish
