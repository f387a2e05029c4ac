#!/bin/sh
# needs: root
# Storage serves a network worker only within the sessions crypto
# granted it.  A network worker made (through gdb) to send storage a
# request outside its grants takes the daemon down with a line naming
# what was wrong, and storage never acts on it: a session nobody
# granted, a real session of the other network worker, a real session
# asking for another namespace, a read-only key's session writing, and
# a session that has ended.  A well-formed request of a live session is
# served; each chunk stored is logged with its key; a session is not
# accepted before every storage worker holds its grant, and one given up
# meanwhile is withdrawn; a network worker that never ends its sessions
# cannot grow storage's table of them.

. "$REGRESS/lib.sh"
storage_tmpdir
need_bins
ensure_users
ensure_chroot || bail "cannot prepare /var/empty"
command -v gdb >/dev/null 2>&1 || bail "no gdb (regress/deps.sh installs it)"
WIRETOOL=${WIRETOOL:-$REGRESS/tools/wiretool}
[ -x "$WIRETOOL" ] ||
    bail "wiretool not built ($WIRETOOL; make regress/tools/wiretool)"

new_key "$T/a.key" && new_key "$T/r.key" || bail "cannot make the keys"

# fresh NAME [NNET [MAXCONNS]]: a new daemon with NNET (2) network
# workers, 2 storage workers, key ka (everything, namespace A), key kr
# (read and stat only, namespace R) and the statement $EXTRA if set.
fresh() {
	PORT='' DATA=''
	std_conf "$T/dsrvd.$1.conf" || bail "cannot write the configuration"
	cat >>"$CONF" <<EOF
network workers ${2:-2}
max connections ${3:-128}
max rtt 2s
key ka file "$T/a.key" permit read, write, list, stat namespace A
key kr file "$T/r.key" permit read, stat namespace R
${EXTRA:-}
EOF
	start_dsrvd "$CONF" || bail "dsrvd did not start"
	ALLKIDS=$(kids "$DSRVD_PID")
}

# hold KEY: a session of key kKEY that wiretool keeps open, idle, in
# the background (pid HOLD).  Sets SNET to the pid of the network
# worker that has it, ONET to the other one's, SID to the session id
# gdb finds in SNET's connection (as gdb writes it, 0x...) and SIDX to
# it as storage logs it (16 hex digits).
hold() {
	NACC=$(log_count ': accepted')
	"$WIRETOOL" -a 127.0.0.1 -p "$PORT" -K "k$1" -k "$T/$1.key" \
	    -d 60000 idle >"$T/hold.out" 2>&1 &
	HOLD=$!
	add_bgpid "$HOLD"
	wait_count ": accepted" "$NACC" 10 || return 1
	SNET='' ONET=''
	for _p in $(child_pids network); do
		timeout 60 gdb -p "$_p" -batch -nx \
		    -ex "print/x 'network_conn.c'::conns.tqh_first->sid" \
		    >"$T/sid.out" 2>&1
		_v=$(sed -n 's/^\$1 = \(0x[0-9a-f]*\)$/\1/p' "$T/sid.out")
		if [ -n "$_v" ] && [ -z "$SNET" ]; then
			SNET=$_p SID=$_v
		else
			ONET=$_p
		fi
	done
	[ -n "$SNET" ] || return 1
	SIDX=$(printf '%16s' "${SID#0x}" | tr ' ' 0)
}

# forge NETPID TYPE SID FIELDS...: network worker NETPID sends storage 0
# a request of session SID (lib.sh's forge_req).
forge() {
	_net=$1 _type=$2 _sid=$3
	shift 3
	forge_req "$_net" "$_type" -ex "set \$r->sid = $_sid" "$@"
}

# refused DESC REGEX: the daemon stopped, storage's line matches.
refused() {
	forge_refused "$@"
	[ -n "$HOLD" ] && kill "$HOLD" 2>/dev/null
	HOLD=
}

# 1. Sessions as they should be: a live session's own request is served.
fresh a
check "key ka writes ab/one" \
    kdctl ka "$T/a.key" chunk put ab/one "$T/a.key"
check "the chunk is logged with its key, path and length at info level" \
    grep -Eq "storage\[[0-9]+\]: \.ns/A/ab/one: stored for key ka, \
$(wc -c <"$T/a.key" | tr -d ' ') bytes" "$DSRVD_LOG"
check "key kr, confined to namespace R, does not read it" \
    fails kdctl kr "$T/r.key" chunk get ab/one "$T/got"
hold a || bail "no session to hold"
ok "a held session of key ka has session id $SIDX"
check "every storage worker was granted it" \
    wait_count "session $SIDX of network\[[0-9]+\], key ka: granted" 1
forge "$SNET" IMSG_ST_STAT "$SID" -ex 'set $r->method = 5' \
    -ex 'call (void)strcpy($r->ns, "A")' \
    -ex 'call (void)strcpy($r->name, "ab/one")'
sleep 1
check "its own STAT, sent by its network worker, is served" \
    alive "$DSRVD_PID"
check "and no storage line refused it" \
    not grep -q "fatal in storage" "$DSRVD_LOG"

# 2. The session ends with its connection, and so does its grant.
kill "$HOLD"
check "when the connection ends, every storage worker forgets it" \
    wait_count "session $SIDX of network\[[0-9]+\], key ka: ended" 1
forge "$SNET" IMSG_ST_STAT "$SID" -ex 'set $r->method = 5' \
    -ex 'call (void)strcpy($r->ns, "A")' \
    -ex 'call (void)strcpy($r->name, "ab/one")'
refused "IMSG_ST_STAT with session $SIDX, which storage does not hold" \
    "a STAT of a session that has ended"

# 3. A session nobody granted.
fresh b
forge "$(child_pids network | head -n 1)" IMSG_ST_READ 0x5eed5eed5eed5eed \
    -ex 'set $r->method = 3' -ex 'call (void)strcpy($r->ns, "A")' \
    -ex 'call (void)strcpy($r->name, "ab/one")' -ex 'set $r->maxlen = 8192'
refused "IMSG_ST_READ with session 5eed5eed5eed5eed, which storage does \
not hold" "a READ in a session nobody granted"

# 4. A real session, sent by the other network worker.
fresh c
hold a || bail "no session to hold"
forge "$ONET" IMSG_ST_WRITE "$SID" -ex 'set $r->method = 2' \
    -ex 'call (void)strcpy($r->ns, "A")' \
    -ex 'call (void)strcpy($r->name, "ab/c")' -ex 'set $r->len = 0'
refused "IMSG_ST_WRITE with session $SIDX of network\[[0-9]\]" \
    "a WRITE in a session of the other network worker"
check "nothing was stored by it" no_file "$DATA/.ns/A/ab/c"

# 5. A real session, asking for another namespace.
fresh d
hold a || bail "no session to hold"
forge "$SNET" IMSG_ST_WRITE "$SID" -ex 'set $r->method = 2' \
    -ex 'call (void)strcpy($r->ns, "R")' \
    -ex 'call (void)strcpy($r->name, "ab/d")' -ex 'set $r->len = 0'
refused "IMSG_ST_WRITE with namespace \"R\" for a session in \"A\"" \
    "a WRITE of a session in namespace A to namespace R"
check "nothing was stored in R" no_file "$DATA/.ns/R/ab/d"
fresh d2
hold a || bail "no session to hold"
forge "$SNET" IMSG_ST_STAT "$SID" -ex 'set $r->method = 5' \
    -ex 'call (void)strcpy($r->name, "ab/one")'
refused "IMSG_ST_STAT with namespace \"\" for a session in \"A\"" \
    "a STAT of a session in namespace A outside every namespace"

# 6. A read-only key's session, writing.
fresh e
hold r || bail "no session to hold"
forge "$SNET" IMSG_ST_WRITE "$SID" -ex 'set $r->method = 2' \
    -ex 'call (void)strcpy($r->ns, "R")' \
    -ex 'call (void)strcpy($r->name, "ab/e")' -ex 'set $r->len = 0'
refused "IMSG_ST_WRITE with method WRITE for key kr, which may not" \
    "a WRITE in a session of a read-only key"
check "nothing was stored by it" no_file "$DATA/.ns/R/ab/e"
fresh e2
hold r || bail "no session to hold"
forge "$SNET" IMSG_ST_LIST "$SID" -ex 'set $r->method = 4' \
    -ex 'call (void)strcpy($r->ns, "R")' \
    -ex 'call (void)strcpy($r->name, "ab")' -ex 'set $r->maxlen = 8192'
refused "IMSG_ST_LIST with method LIST for key kr, which may not" \
    "a LIST in a session of a key without the list permission"

# 7. A handshake abandoned while its grant is out: storage[0] is stopped,
# so it cannot acknowledge; the client's handshake times out, crypto
# withdraws the grant, and once storage[0] runs again both workers
# forget it and the daemon serves on.
EXTRA='timeout handshake 1s' fresh g
STO0=$(child_pids storage | head -n 1)
kill -STOP "$STO0"
"$WIRETOOL" -a 127.0.0.1 -p "$PORT" -K ka -k "$T/a.key" -t 5 ping \
    >"$T/wt.out" 2>&1
check "a handshake waiting for a stopped storage worker times out" \
    wait_for_log "key ka: handshake timeout" 5
check "network never accepted it: one worker had not acknowledged" \
    not grep -q "key ka: accepted" "$DSRVD_LOG"
kill -CONT "$STO0"
SIDX=$(sed -n 's/.*crypto: .* key ka: session \([0-9a-f]*\) granted.*/\1/p' \
    "$DSRVD_LOG" | head -n 1)
check "both storage workers forget the withdrawn grant ($SIDX)" \
    wait_count "storage\[[0-9]\]: session $SIDX of network\[[0-9]+\], \
key ka: ended" 1 10
check "and the daemon runs on" alive "$DSRVD_PID"
check "the next client is served" kdctl ka "$T/a.key" ping
check "no process stopped the daemon" not grep -q "fatal in" "$DSRVD_LOG"
stop_dsrvd

# 8. A network worker that never ends its sessions: with max connections
# 1, storage keeps at most 4 of its grants and forgets the oldest.
fresh f 1 1
NET=$(child_pids network)
inject "$NET" "(nenv.env->storage[0] = 0, nenv.env->storage[1] = 0, 0)" ||
    notok "network forgets its storage workers"
n=0 i=0
while [ "$n" -lt 6 ] && [ "$i" -lt 30 ]; do
	if kdctl ka "$T/a.key" ping >/dev/null 2>&1; then
		n=$((n + 1))
	else
		sleep 0.2
	fi
	i=$((i + 1))
done
check "6 sessions one after the other ($n)" [ "$n" -eq 6 ]
check "storage forgets the oldest grant past 4 sessions" \
    wait_for_log "storage\[0\]: network\[0\] holds 4 sessions, the most \
allowed: forgot the oldest, [0-9a-f]{16} of key ka" 5
check "and the daemon runs on" alive "$DSRVD_PID"
check "storage[0] holds 4 grants of network[0]" \
    inject "$(child_pids storage | head -n 1)" \
    "'storage_grant.c'::nbynet[0]" 4
check "dctl status: sessions held 4" counter_is "sessions held" 4
check "dctl status: sessions evicted 2" counter_is "sessions evicted" 2
stop_dsrvd

finish
