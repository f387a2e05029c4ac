#!/bin/sh
# needs: root
# The wire protocol end to end: a good handshake and ping over IPv4 and
# IPv6 with wiretool and with dctl, then every attack wiretool knows.
# Each attack must be refused, logged with its reason, and leave the
# daemon serving; the counters in dctl status must show it all.

. "$REGRESS/lib.sh"
tmpdir
need_bins
ensure_users
ensure_chroot || bail "cannot prepare /var/empty"
WIRETOOL=${WIRETOOL:-$REGRESS/tools/wiretool}
[ -x "$WIRETOOL" ] ||
    bail "wiretool not built ($WIRETOOL; make regress/tools/wiretool)"

# mkkey FILE: a fresh key, with dctl keygen when it works.
mkkey() {
	if ! "$DCTL" keygen "$1" >/dev/null 2>&1 || [ ! -s "$1" ]; then
		rm -f "$1"
		head -c 32 /dev/urandom | base64 >"$1" || return 1
	fi
	chmod 600 "$1"
}

mkkey "$T/k" || bail "cannot make a key file"
mkkey "$T/k2" || bail "cannot make a key file"
mkkey "$T/wrong" || bail "cannot make a key file"

std_conf
# A generous rtt: this file is not about the limits (limits.sh is), and
# sanitizer builds are slow.
cat >>"$CONF" <<EOF
listen on ::1 port $PORT
max rtt 2s
key test file "$T/k"
key other file "$T/k2" permit read
EOF
start_dsrvd "$CONF" || bail "dsrvd did not start"
NETPIDS=$(child_pids network)
CRYPTOPID=$(child_pids crypto)

# The daemon and every child it started with are still there.
all_alive() {
	for _p in "$DSRVD_PID" $NETPIDS $CRYPTOPID; do
		gone "$_p" && {
			echo "pid $_p is gone"
			return 1
		}
	done
	return 0
}

# attack MODE REGEX [wiretool args]: the server refuses MODE (wiretool
# exits 0), logs a line matching REGEX about a client, and still serves
# a normal ping afterwards with every process alive.
attack() {
	_mode=$1
	_re=$2
	shift 2
	_before=$(log_count "client .*$_re")
	wt_check "$_mode: refused" "$@" "$_mode"
	check "$_mode: log says /$_re/" wait_count "client .*$_re" "$_before"
	wt_check "$_mode: a normal ping works afterwards" ping
	check "$_mode: dsrvd and its children still run" all_alive
}

### good clients

wt_check "wiretool ping over 127.0.0.1" ping
check "log: accepted, with key name and round trip" \
    wait_for_log \
    "client 127\.0\.0\.1 port [0-9]+ key test: accepted, round trip" 5
wt_check "wiretool ping over ::1" -a ::1 ping
check "log: client ::1 port N key test: accepted" \
    wait_for_log "client ::1 port [0-9]+ key test: accepted" 5
wt_check "100 pings on one connection" pings -n 100
# Pipelining: requests sent back to back are read one at a time, each
# after the response to the one before, so the answers come in order
# even when the first is at storage while the second is already there.
wt_check "two requests in one write, answered in order" pipeline -n 2
wt_check "40 requests in one write, answered in order" pipeline -n 40
"$WIRETOOL" -a 127.0.0.1 -p "$PORT" -K other -k "$T/k2" ping \
    >"$T/wt.out" 2>&1
result $? "a second key works too: $(head -n 1 "$T/wt.out")"

"$DCTL" -r "127.0.0.1:$PORT" -k "$T/k" -K test ping >"$T/out" 2>&1
rc=$?
check "dctl ping 127.0.0.1 exits 0 ($rc)" [ "$rc" -eq 0 ]
check "dctl ping 127.0.0.1: dsrvd 0.1.0 at 127.0.0.1 port $PORT" \
    has "$T/out" "^dsrvd 0\.1\.0 at 127\.0\.0\.1 port $PORT: round trip"
"$DCTL" -r "[::1]:$PORT" -k "$T/k" -K test ping >"$T/out" 2>&1
rc=$?
check "dctl ping [::1] exits 0 ($rc)" [ "$rc" -eq 0 ]
check "dctl ping [::1]: dsrvd 0.1.0 at ::1 port $PORT" \
    has "$T/out" "^dsrvd 0\.1\.0 at ::1 port $PORT: round trip"
"$DCTL" -r "127.0.0.1:$PORT" -k "$T/wrong" -K test ping >"$T/out" 2>&1
rc=$?
check "dctl ping with a wrong key exits 1 ($rc)" [ "$rc" -eq 1 ]
check "dctl ping with a wrong key: dctl: ... authentication failed" \
    has "$T/out" "^dctl: .*authentication failed"
"$DCTL" -r "127.0.0.1:$PORT" -k "$T/k" -K nosuchkey ping >"$T/out" 2>&1
rc=$?
check "dctl ping with an unknown key name exits 1 ($rc)" [ "$rc" -eq 1 ]
check "dctl ping with an unknown key name: authentication failed" \
    has "$T/out" "^dctl: .*authentication failed"

### attacks

attack wrongkey "authentication failed"
attack badname "unknown key name no-such-key"
attack truncated "closed during handshake|malformed handshake"
attack garbage "malformed handshake"
attack replay-handshake "authentication failed"
attack replay-message "unexpected counter"
attack reorder "unexpected counter"
attack flip "message failed authentication"
attack flip-tag "message failed authentication"
attack flip-counter "unexpected counter|message failed authentication"
attack flip-length "message failed authentication|closed in the middle"
attack oversize "frame length 4294967295 out of bounds"
# WIRE_FRAME_MAX + 1 = 16 + 4 + 4096 + 8 MiB + 1
attack oversize2 "frame length 8392725 out of bounds"
attack undersize "frame length 19 out of bounds"
attack cut "connection closed in the middle of a message"
attack badrequest "bad request: "
attack wrongkey "::1 port [0-9]+: .*authentication failed" -a ::1

### the counters

status
check "dctl status after all that" has "$T/status.out" '^COUNTER +VALUE$'
check "counter: handshakes ok > 0" counter_gt "handshakes ok" 0
check "counter: handshake failures auth > 0" \
    counter_gt "handshake failures auth" 0
check "counter: handshake failures other > 0 (garbage, truncated)" \
    counter_gt "handshake failures other" 0
check "counter: connections dropped > 0" counter_gt "connections dropped" 0
check "counter: connections total > 20" counter_gt "connections total" 20
check "counter: messages in > 100" counter_gt "messages in" 100
check "counter: messages out > 100" counter_gt "messages out" 100
check "counter: bytes in > 0" counter_gt "bytes in" 0
check "counter: bytes out > 0" counter_gt "bytes out" 0
check "counter: keys is 2" [ "$(counter keys)" = 2 ]

stop_dsrvd
rc=$?
check "dsrvd stops cleanly after the attacks ($rc)" [ "$rc" -eq 0 ]

finish
