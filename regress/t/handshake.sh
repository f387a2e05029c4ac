#!/bin/sh
# needs: root
# What a client receives when its handshake goes wrong, as
# dsrv-protocol(5) says (issue 19): RESULT 6 (TIMEOUT) for a handshake
# that stops, at every point where the server can still send it; the
# RESULT 4 (BUSY) of max connections already waiting when the client
# connects, and dctl saying "too many connections"; clock skews at the
# edges of the 64-bit time, logged with their sign.

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
max rtt 2s
max skew 10s
timeout handshake 1s
timeout idle 30s
max connections 1
EOF
start_dsrvd "$CONF" || bail "dsrvd did not start"

# ms_between LO HI: wiretool's "after N ms" is in [LO, HI).
ms_between() {
	_ms=$(sed -n 's/.* after \([0-9][0-9]*\) ms.*/\1/p' "$T/wt.out" |
	    head -n 1)
	[ -n "$_ms" ] && [ "$_ms" -ge "$1" ] && [ "$_ms" -lt "$2" ] &&
	    return 0
	echo "elapsed \"$_ms\" ms, expected in [$1, $2):"
	cat "$T/wt.out"
	return 1
}

# ping_retry: a ping, tried for a few seconds (the session slot comes
# back once the server has seen the close).
ping_retry() {
	_i=0
	while [ "$_i" -lt 30 ]; do
		wt ping && return 0
		sleep 0.2
		_i=$((_i + 1))
	done
	cat "$T/wt.out"
	return 1
}

wt_check "a ping within the limits" ping

### timeout handshake 1s: RESULT 6 wherever the client stops

for mode in silent half-hello no-finish; do
	n=$(log_count "client .*: handshake timeout")
	wt_check "$mode: RESULT 6 (TIMEOUT), then closed" -d 5000 "$mode"
	check "$mode: RESULT 6 about 1 s after connecting" ms_between 800 3000
	check "$mode: RESULT message \"handshake timeout\"" \
	    has "$T/wt.out" "RESULT 6 \"handshake timeout\""
	check "$mode: log says handshake timeout" \
	    wait_count "client .*: handshake timeout" "$n"
done
check "no-finish: the log names the key" \
    wait_for_log "client .* key test: handshake timeout" 5

### max connections 1: the RESULT is waiting before HELLO

n=$(log_count "client .*: too many connections \\(1\\)")
wt_check "RESULT 4 (BUSY) waiting before HELLO, HELLO still taken" \
    busy-first -n 1
check "the reason is \"too many connections (1)\"" \
    has "$T/wt.out" "RESULT 4 \"too many connections \\(1\\)\""
check "log: too many connections (1)" \
    wait_count "client .*: too many connections \\(1\\)" "$n"
check "the slot comes back: a ping works" ping_retry

# dctl against a full server: one session held by wiretool meanwhile.
n=$(log_count "client .* key test: accepted")
"$WIRETOOL" -a 127.0.0.1 -p "$PORT" -K test -k "$T/k" -d 20000 idle \
    >"$T/hold.out" 2>&1 &
HOLD=$!
add_bgpid "$HOLD"
check "a session is held" wait_count "client .* key test: accepted" "$n"
"$DCTL" -r "127.0.0.1:$PORT" -k "$T/k" -K test ping >"$T/out" 2>&1
rc=$?
check "dctl ping to a full server exits 1 ($rc)" [ "$rc" -eq 1 ]
check "dctl: refused: too many connections (1)" \
    has "$T/out" "^dctl: .*refused: too many connections \\(1\\)"
check "dctl says nothing else (one line)" [ "$(wc -l <"$T/out")" -eq 1 ]
kill "$HOLD" 2>/dev/null
wait "$HOLD" 2>/dev/null
check "the slot comes back after the holder left" ping_retry

### max skew 10s at the edges of the 64-bit time

n=$(log_count "client .*clock skew")
wt_check "client time now + 2^63: RESULT 3 (SKEW)" skew-far
# 2^63 ms, less the milliseconds between wiretool's clock and dsrvd's.
check "the RESULT says about +2^63 ms, not INT64_MIN" \
    has "$T/wt.out" "clock skew \\+92233720368547758[0-9][0-9] ms exceeds max skew"
check "log: clock skew about +2^63 ms" \
    wait_count "client .* key test: clock skew \\+92233720368547758[0-9][0-9] ms \
exceeds max skew 10000 ms" "$n"
check "no negative skew of 2^63 anywhere in the log" \
    not grep -q -- "-9223372036854775808" "$DSRVD_LOG"
wt_check "client time 0: RESULT 3 (SKEW)" skew-zero
check "the RESULT says the client is behind (-N ms)" \
    has "$T/wt.out" "clock skew -[0-9]{13,} ms exceeds max skew 10000 ms"
wt_check "client clock 20 s behind: RESULT 3" skew -d 20000
check "the RESULT says -2000N ms" \
    has "$T/wt.out" "clock skew -200[0-9]{2} ms exceeds"
wt_check "a ping still works" ping

### counters

status
check "counter: handshake failures timeout >= 3" \
    counter_gt "handshake failures timeout" 2
check "counter: handshake failures skew >= 3" \
    counter_gt "handshake failures skew" 2
check "parent still running" alive "$DSRVD_PID"

finish
