#!/bin/sh
# needs: root
# The limits before authentication (max startups, max startups per
# source).  A connect/close flood writes a handful of log lines and is
# counted exactly; 2000 slowloris connections keep neither an honest
# client out nor sessions from their room; one source cannot take more
# than its share, and many cannot crowd out another; the summary line
# sums it all up once a minute.  LORIS_RATE sets how many connections a
# second the 2000 slowloris open again when the server closes theirs
# (300 by default; 100000 makes it a flood as well).

. "$REGRESS/lib.sh"
tmpdir
need_bins
ensure_users
ensure_chroot || bail "cannot prepare /var/empty"
WIRETOOL=${WIRETOOL:-$REGRESS/tools/wiretool}
SLOWLORIS=${SLOWLORIS:-$REGRESS/tools/slowloris}
[ -x "$WIRETOOL" ] ||
    bail "wiretool not built ($WIRETOOL; make regress/tools/wiretool)"
[ -x "$SLOWLORIS" ] ||
    bail "slowloris not built ($SLOWLORIS; make regress/tools/slowloris)"

new_key "$T/k" || bail "cannot make a key file"

# A long handshake timeout: what saves the honest client here must be
# the limits, not the timer.  The rtt is generous for sanitizer builds.
std_conf
cat >>"$CONF" <<EOF
key test file "$T/k"
max rtt 2s
timeout handshake 30s
max connections 4
max startups 64
max startups per source 65535
EOF
start_dsrvd "$CONF" || bail "dsrvd did not start"
T0=$(date +%s)

# What became of startups, from $T/status.out: every outcome added up.
outcomes() {
	_s=0
	for _c in "handshakes ok" "handshake failures auth" \
	    "handshake failures rtt" "handshake failures skew" \
	    "handshake failures other" "handshake failures timeout" \
	    "handshake failures closed" "connections refused" \
	    "startups dropped full" "startups dropped per source"; do
		_v=$(counter "$_c")
		_s=$((_s + ${_v:-0}))
	done
	echo "$_s"
}

# settled N: connections total reaches N and no startup is left.
settled() {
	_n=100
	while [ "$_n" -gt 0 ]; do
		status
		[ "$(counter "connections total")" -ge "$1" ] 2>/dev/null &&
		    [ "$(counter "startups open")" = 0 ] && return 0
		sleep 0.2
		_n=$((_n - 1))
	done
	cat "$T/status.out"
	return 1
}

# ping_timed: dctl ping from 127.0.0.1 succeeds within 5 seconds.
ping_timed() {
	_t0=$(date +%s%N)
	timeout 20 "$DCTL" -r "127.0.0.1:$PORT" -k "$T/k" -K test ping \
	    >"$T/ping.out" 2>&1
	_rc=$?
	_ms=$(( ($(date +%s%N) - _t0) / 1000000 ))
	echo "exit $_rc after $_ms ms: $(head -n 1 "$T/ping.out")"
	[ "$_rc" -eq 0 ] && [ "$_ms" -lt 5000 ]
}

# pings TEXT: five honest pings in a row, each within 5 seconds.
pings() {
	_i=1
	while [ "$_i" -le 5 ]; do
		ping_timed >"$T/pt.out" 2>&1
		result $? "$1: ping $_i: $(cat "$T/pt.out")"
		_i=$((_i + 1))
	done
}

# loris NAME [slowloris args]: a slowloris in the background, waited
# for until it has tried all its connections.
loris() {
	_name=$1
	shift
	"$SLOWLORIS" -a 127.0.0.1 -p "$PORT" -t 120 "$@" \
	    >"$T/$_name.out" 2>&1 &
	eval "PID_$_name=$!"
	add_bgpid "$!"
	wait_for_log "^ready:" 30 "$T/$_name.out"
}

# unloris NAME: stop it (by pid) and show its summary.
unloris() {
	eval "_p=\$PID_$1"
	kill -TERM "$_p" 2>/dev/null
	wait "$_p" 2>/dev/null
	diagfile "$T/$1.out"
}

# at_most COUNTER N: the counter is N or below.
at_most() {
	_v=$(counter "$1")
	[ -n "$_v" ] && [ "$_v" -le "$2" ] && return 0
	echo "counter \"$1\" is \"$_v\", expected at most $2"
	cat "$T/status.out"
	return 1
}

check "a first ping" ping_timed

### a connect/close flood: counted exactly, a handful of log lines

status
total0=$(counter "connections total")
out0=$(outcomes)
# Lines about clients that named no key: the startups.
PREAUTH='client [^ ]+ port [0-9]+: '
lines0=$(log_count "$PREAUTH")
"$SLOWLORIS" -F -a 127.0.0.1 -p "$PORT" -n 3000 >"$T/flood.out" 2>&1
nflood=$(sed -n 's/^flood: \([0-9][0-9]*\) connected.*/\1/p' "$T/flood.out")
check "flood: 3000 connections made ($(cat "$T/flood.out"))" \
    [ "${nflood:-0}" -eq 3000 ]
check "flood: the server took every one and has none left" \
    settled $((total0 + nflood))
total1=$(counter "connections total")
out1=$(outcomes)
check "flood: connections total went up by $nflood ($total0 -> $total1)" \
    [ $((total1 - total0)) -eq "$nflood" ]
check "flood: each has exactly one outcome ($out0 -> $out1)" \
    [ $((out1 - out0)) -eq "$nflood" ]
check "flood: counted as closed by the client" \
    counter_gt "handshake failures closed" 0
lines1=$(log_count "$PREAUTH")
check "flood: $((lines1 - lines0)) lines about $nflood connections (at most 12)" \
    [ $((lines1 - lines0)) -le 12 ]
check "flood: the lines left out are counted" \
    counter_gt "log lines not logged" 0

### 2000 slowloris connections from the client's own address

# Three sessions of max connections 4 held while the attack goes on.
for i in 1 2 3; do
	"$WIRETOOL" -a 127.0.0.1 -p "$PORT" -K test -k "$T/k" -d 120000 idle \
	    >"$T/idle$i.out" 2>&1 &
	add_bgpid "$!"
	eval "IDLE$i=$!"
done
check "3 sessions held" counter_ge "connections open" 3

check "slowloris: 2000 connections tried" \
    loris slow -n 2000 -i 3000 -r "${LORIS_RATE:-300}"
sleep 2
pings "2000 slowloris"
status
check "slowloris: startups open at most 64 (+1 per worker in flight)" \
    at_most "startups open" 66
check "slowloris: they were dropped for max startups" \
    counter_gt "startups dropped full" 0
check "slowloris: the 3 sessions are still open" \
    [ $(($(counter "connections open") - $(counter "startups open"))) -ge 3 ]
unloris slow
check "slowloris: it held 2000 at once, the server closed them" \
    has "$T/slow.out" "at most 2000 open at once"
for i in 1 2 3; do
	eval "kill -TERM \$IDLE$i" 2>/dev/null
done


### per source: one address cannot take more than its share

sed -i -e 's/^max startups per source .*/max startups per source 8/' \
    -e 's/^max startups [0-9]*$/max startups 32/' "$CONF"
dctl reload >"$T/reload.out" 2>&1
result $? "reload with max startups 32, per source 8: $(cat "$T/reload.out")"
status
src0=$(counter "startups dropped per source")
check "200 slowloris from 127.0.0.2" \
    loris src2 -b 127.0.0.2 -n 200 -i 3000 -r 200
sleep 2
status
check "127.0.0.2 holds at most 8 startups (+1 per worker in flight)" \
    at_most "startups open" 10
check "they were dropped per source" \
    counter_gt "startups dropped per source" "$src0"
pings "127.0.0.2 at its limit"

# Five sources at 8 each are over max startups 32: the client from a
# sixth still gets in, in the place of one of theirs.
for a in 3 4 5 6; do
	check "200 slowloris from 127.0.0.$a" \
	    loris "src$a" -b "127.0.0.$a" -n 200 -i 3000 -r 200
done
sleep 2
status
full0=$(counter "startups dropped full")
check "five sources: startups open at most 32 (+1 per worker in flight)" \
    at_most "startups open" 34
pings "five sources over max startups"
status
check "five sources: dropped for max startups too" \
    counter_gt "startups dropped full" "$full0"
for a in 2 3 4 5 6; do
	unloris "src$a"
done
check "no startup left after them" settled 0

### the summary line, once a minute from network worker 0

left=$((T0 + 75 - $(date +%s)))
[ "$left" -gt 5 ] || left=5
check "summary: a pre-auth line within a minute" \
    wait_for_log "network.*pre-auth in the last 60s: [0-9]+ connections; " \
    "$left"
grep "pre-auth in the last" "$DSRVD_LOG" | head -n 1 >"$T/summary"
diagfile "$T/summary"
check "summary: the flood, as closed by the client" \
    has "$T/summary" "[0-9]+ closed by the client"
check "summary: the slowloris, dropped for max startups" \
    has "$T/summary" "[0-9]+ dropped for max startups"
check "summary: the lines left out" \
    has "$T/summary" "[0-9]+ lines about them not logged"
n=$(grep -c "pre-auth in the last" "$DSRVD_LOG")
check "summary: one line ($n)" [ "$n" -eq 1 ]
n=$(wc -l <"$DSRVD_LOG")
check "the whole log: $n lines for some 20000 connections (at most 200)" \
    [ "$n" -le 200 ]
check "parent still running" alive "$DSRVD_PID"

finish
