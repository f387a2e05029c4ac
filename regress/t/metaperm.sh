#!/bin/sh
# needs: root
# The key a backup host holds, "permit write, stat, list, meta": it
# stores files and checks them (put, match, stat, scrub by stat,
# abandoned) without ever reading data.  get and chunk get of a data
# chunk are refused with PERM, and so is a READ of a chunk outside
# index/ (index2/); the log says which permission is missing.  Inside
# its namespace only, as before.  Then storage's own check: a network
# worker made (through gdb) to send a READ of a data chunk in the
# session of a meta-only key takes the daemon down, while the same
# session's READ of the file's metadata is served.

. "$REGRESS/lib.sh"
storage_tmpdir
need_bins
ensure_users
ensure_chroot || bail "cannot prepare /var/empty"
command -v gdb >/dev/null 2>&1 || bail "no gdb (regress/deps.sh installs it)"
WIRETOOL=${WIRETOOL:-$REGRESS/tools/wiretool}
[ -x "$WIRETOOL" ] ||
    bail "wiretool not built ($WIRETOOL; make regress/tools/wiretool)"

new_key "$T/m.key" && new_key "$T/r.key" && new_key "$T/o.key" ||
    bail "cannot make the keys"

# fresh NAME: a new daemon with key km (write, stat, list, meta in
# namespace B), kr (read, list, stat in B) and ko (list and meta, no
# namespace).
fresh() {
	PORT='' DATA=''
	std_conf "$T/dsrvd.$1.conf" || bail "cannot write the configuration"
	cat >>"$CONF" <<EOT
max rtt 2s
key km file "$T/m.key" permit write, stat, list, meta namespace B
key kr file "$T/r.key" permit read, list, stat namespace B
key ko file "$T/o.key" permit list, meta
EOT
	start_dsrvd "$CONF" || bail "dsrvd did not start"
	ALLKIDS=$(kids "$DSRVD_PID")
}

km() {
	kdctl km "$T/m.key" "$@"
}

# 1. What the backup key can do.
fresh a
rand_file "$T/f1" 20000000
rand_file "$T/f2" 3000
check "km: dctl put of a 20 MB file" km put "$T/f1" host/f1
check "km: dctl put of a small one" km put "$T/f2" host/f2
check "km: dctl put of the same file again" km put "$T/f1" host/f1
km match host/ >"$T/match.out" 2>&1
check "km: dctl match host/ exits 0" [ $? -eq 0 ]
check "and lists both files" \
    [ "$(awk '{print $NF}' "$T/match.out" | LC_ALL=C sort | tr '\n' ' ')" \
    = "host/f1 host/f2 " ]
check "with the crc32 of host/f1" \
    grep -q "^$(crc32_of "$T/f1") .* host/f1\$" "$T/match.out"
check "km: dctl stat host/f1" km stat host/f1
check "km: dctl scrub (by stat)" km scrub
check "km: dctl scrub host/f2" km scrub host/f2
km abandoned >"$T/ab.out" 2>&1
check "km: dctl abandoned exits 0" [ $? -eq 0 ]
check "and finds nothing abandoned" [ ! -s "$T/ab.out" ]
diagfile "$T/ab.out"

# 2. What it cannot.
check "km: dctl get host/f2 exits 1" exits 1 km get host/f2 "$T/got"
check "with a permission error" grep -q "permission denied" "$T/exits.out"
check "and writes nothing" no_file "$T/got"
DATA1=$(data_names "$T/f2")
check "km: dctl chunk get $DATA1 exits 1" \
    exits 1 km chunk get "$DATA1" "$T/got"
check "with a permission error" grep -q "permission denied" "$T/exits.out"
check "the log names the read permission" grep -q \
    "key km: READ refused: key lacks the read permission" "$DSRVD_LOG"
check "km: dctl scrub --read fails" fails km scrub --read
check "km: chunk put index2/x" km chunk put index2/x "$T/f2"
check "km: chunk get index2/x exits 1" \
    exits 1 km chunk get index2/x "$T/got"
check "with a permission error" grep -q "permission denied" "$T/exits.out"
META=$(meta_name host/f2 "$(crc32_of "$T/f2")")
check "km: chunk get $META, the file's metadata, works" \
    km chunk get "$META" "$T/meta"
check "kr reads what km stored" kdctl kr "$T/r.key" get host/f2 "$T/got2"
check "byte-identical" cmp -s "$T/f2" "$T/got2"

# 3. Namespaces as before: ko (no namespace) reaches none of B's files.
kdctl ko "$T/o.key" match host/ >"$T/ko.out" 2>&1
check "ko: match host/ outside the namespace finds nothing" \
    [ ! -s "$T/ko.out" ]
check "ko: chunk get of B's metadata: no such chunk (exit 3)" \
    exits 3 kdctl ko "$T/o.key" chunk get "$META" "$T/got"
stop_dsrvd

# hold KEY: a session of key kKEY that wiretool keeps open, idle, in
# the background (pid HOLD); SNET is the pid of the network worker that
# has it and SID its session id (as gdb writes it, 0x...).
hold() {
	NACC=$(log_count ': accepted')
	"$WIRETOOL" -a 127.0.0.1 -p "$PORT" -K "k$1" -k "$T/$1.key" \
	    -d 60000 idle >"$T/hold.out" 2>&1 &
	HOLD=$!
	add_bgpid "$HOLD"
	wait_count ": accepted" "$NACC" 10 || return 1
	SNET=''
	for _p in $(child_pids network); do
		timeout 60 gdb -p "$_p" -batch -nx \
		    -ex "print/x 'network_conn.c'::conns.tqh_first->sid" \
		    >"$T/sid.out" 2>&1
		_v=$(sed -n 's/^\$1 = \(0x[0-9a-f]*\)$/\1/p' "$T/sid.out")
		if [ -n "$_v" ] && [ -z "$SNET" ]; then
			SNET=$_p SID=$_v
		fi
	done
	[ -n "$SNET" ]
}

# 4. Storage checks it again: forged READs in a meta-only session.
fresh b
check "km: dctl put host/f2" km put "$T/f2" host/f2
hold m || bail "no session to hold"
forge_req "$SNET" IMSG_ST_READ -ex "set \$r->sid = $SID" \
    -ex 'set $r->method = 3' -ex 'call (void)strcpy($r->ns, "B")' \
    -ex "call (void)strcpy(\$r->name, \"$META\")" \
    -ex 'set $r->maxlen = 8192'
sleep 1
check "a READ of index/ in km's session, sent by its network worker, \
is served" alive "$DSRVD_PID"
check "and no storage line refused it" \
    not grep -q "fatal in storage" "$DSRVD_LOG"
forge_req "$SNET" IMSG_ST_READ -ex "set \$r->sid = $SID" \
    -ex 'set $r->method = 3' -ex 'call (void)strcpy($r->ns, "B")' \
    -ex "call (void)strcpy(\$r->name, \"$DATA1\")" \
    -ex 'set $r->maxlen = 8192'
forge_refused "IMSG_ST_READ with method READ for key km, which may not" \
    "a READ of a data chunk in a session of a meta-only key"
check "the data chunk is still on the disk" \
    [ -f "$DATA/.ns/B/$DATA1" ]
kill "$HOLD" 2>/dev/null

finish
