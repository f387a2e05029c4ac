#!/bin/sh
# needs: root
# The limits a peer cannot push past: handshake round trip, clock skew,
# per-message, idle and handshake timeouts, and the connection count.
# Each is refused with its RESULT code or a close, logged with its
# reason and counted, and the daemon keeps serving.

. "$REGRESS/lib.sh"
tmpdir
need_bins
ensure_users
ensure_chroot || bail "cannot prepare /var/empty"
WIRETOOL=${WIRETOOL:-$REGRESS/tools/wiretool}
[ -x "$WIRETOOL" ] ||
    bail "wiretool not built ($WIRETOOL; make regress/tools/wiretool)"

head -c 32 /dev/urandom | base64 >"$T/k" && chmod 600 "$T/k" ||
    bail "cannot make a key file"

std_conf
cat >>"$CONF" <<EOF
key test file "$T/k"
max rtt 50ms
max skew 10s
timeout message 1s
timeout idle 2s
timeout handshake 1s
max connections 3
EOF
start_dsrvd "$CONF" || bail "dsrvd did not start"

# ping_retry: a ping, tried for a few seconds (a slot freed by a close
# comes back once the server has seen the close).
ping_retry() {
	_i=0
	while [ "$_i" -lt 20 ]; do
		wt ping && return 0
		sleep 0.2
		_i=$((_i + 1))
	done
	cat "$T/wt.out"
	return 1
}

# logged N REGEX: a line about a client matching REGEX shows up after
# the N there were.
logged() {
	check "log: /$2/" wait_count "client .*$2" "$1"
}

# elapsed_below MAX: wiretool's "after N ms" is below MAX ms.
elapsed_below() {
	_ms=$(sed -n 's/.* after \([0-9][0-9]*\) ms.*/\1/p' "$T/wt.out" |
	    head -n 1)
	[ -n "$_ms" ] && [ "$_ms" -lt "$1" ] && return 0
	echo "elapsed \"$_ms\" ms, expected below $1:"
	cat "$T/wt.out"
	return 1
}

elapsed_above() {
	_ms=$(sed -n 's/.* after \([0-9][0-9]*\) ms.*/\1/p' "$T/wt.out" |
	    head -n 1)
	[ -n "$_ms" ] && [ "$_ms" -gt "$1" ] && return 0
	echo "elapsed \"$_ms\" ms, expected above $1:"
	cat "$T/wt.out"
	return 1
}

wt_check "a ping within the limits" ping

### max rtt 50ms

n=$(log_count "client .*exceeds max rtt")
wt_check "FINISH 300 ms late: RESULT 2 (rtt)" slow -d 300
logged "$n" "round trip [0-9.]+ ms exceeds max rtt 50 ms"

### max skew 10s

n=$(log_count "client .*clock skew")
wt_check "client clock an hour behind: RESULT 3 (skew)" skew -d 3600000
logged "$n" "clock skew -?[0-9]+ ms exceeds max skew 10000 ms"
n=$(log_count "client .*clock skew")
wt_check "client clock 20 s behind: RESULT 3 (skew)" skew -d 20000
logged "$n" "clock skew -?[0-9]+ ms exceeds max skew 10000 ms"

### timeout message 1s (shorter than the idle timeout, so that the
### reason in the log can only be the message timeout)

n=$(log_count "client .*message timeout")
wt_check "a PING sent one byte per 400 ms is cut off" trickle -d 400
check "cut off in about 1 s (below 5 s)" elapsed_below 5000
check "not before the timeout (above 800 ms)" elapsed_above 800
logged "$n" "message timeout"

### timeout idle 2s

n=$(log_count "client .*idle timeout")
wt_check "an idle session is closed" idle -d 10000
check "closed in about 2 s (below 5 s)" elapsed_below 5000
check "not before the timeout (above 1800 ms)" elapsed_above 1800
logged "$n" "idle timeout"
# Activity restarts the idle clock: 4 pings 1.2 s apart outlast it.
wt_check "pings 1.2 s apart keep a session open past the idle timeout" \
    pings -n 4 -d 1200

### timeout handshake 1s

n=$(log_count "client .*handshake timeout")
wt_check "a client that says nothing gets RESULT 6 (timeout)" silent -d 10000
check "refused in about 1 s (below 5 s)" elapsed_below 5000
logged "$n" "handshake timeout"

### max connections 3

n=$(log_count "client .*too many connections")
wt_check "3 sessions held, the 4th gets RESULT 4 (busy)" hold -n 3
logged "$n" "too many connections \\(3\\)"
check "after they close, a ping works again" ping_retry
wt_check "3 sessions can be held again" hold -n 3

### counters

status
check "counter: handshake failures rtt > 0" \
    counter_gt "handshake failures rtt" 0
check "counter: handshake failures skew > 0" \
    counter_gt "handshake failures skew" 0
check "counter: connections refused > 0" counter_gt "connections refused" 0
check "counter: connections dropped > 0" counter_gt "connections dropped" 0
check "parent still running" alive "$DSRVD_PID"

finish
