#!/bin/sh
# needs: root
# Transfers that lose their connections or their daemon half-way, with
# regress/tools/cutproxy between dctl and dsrvd (a loopback relay that
# resets every connection after so many bytes, or on SIGUSR1, and can
# hold the rate down so that the test surely acts mid-transfer):
# - a 100 MiB put whose connections are all reset three times
#   completes, and the file reads back byte for byte;
# - a get whose connections are reset half-way completes, byte for
#   byte;
# - dctl killed in the middle of a put: no metadata chunk, and the data
#   chunks it left are exactly what dctl abandoned lists (and nothing
#   of the complete files); a put of the same file then completes and
#   abandoned lists nothing;
# - dsrvd stopped and started again in the middle of a put (through
#   the proxy, held to 40 MiB/s so that the put surely runs on): the
#   put retries and completes.

. "$REGRESS/lib.sh"
storage_tmpdir
need_bins
own_dctl || bail "cannot copy dctl"
[ -x "$CUTPROXY" ] || bail "regress/tools/cutproxy not built"
ensure_users
ensure_chroot || bail "cannot prepare /var/empty"
storage_conf || bail "cannot write the configuration"
start_dsrvd "$CONF" || bail "dsrvd did not start"

MIB=1048576
NPROXY=0

# proxy ARGS...: start a cutproxy towards the daemon on a new port,
# PPORT, logging to $T/proxy.N.log (PLOG); PPID_ is its pid.
proxy() {
	NPROXY=$((NPROXY + 1))
	PPORT=$(free_port) || return 1
	PLOG=$T/proxy.$NPROXY.log
	"$CUTPROXY" -p "$PPORT" -t "$PORT" "$@" 2>"$PLOG" &
	PPID_=$!
	add_bgpid "$PPID_"
	wait_for_log "cutproxy: ready" 5 "$PLOG"
}

# pdctl args...: dctl through the proxy.  (In the background, dctl
# goes without the function, so that $! is dctl's own pid.)
pdctl() {
	"$DCTL" -r "127.0.0.1:$PPORT" -k "$CKEY" -K "$CKEYNAME" "$@"
}

# cuts: how many times the proxy cut at least one connection.
cuts() {
	grep -Ec 'cut [1-9][0-9]* connections' "$PLOG"
}

# chunks_are FILE NAME: the data chunks on disk for FILE are its D
# scheme names, and its metadata chunk is there.
chunks_are() {
	_crc=$(crc32_of "$1")
	data_names "$1" >"$T/want.chunks"
	disk_chunks "$DATA" "$_crc" >"$T/disk.chunks"
	cmp -s "$T/want.chunks" "$T/disk.chunks" || {
		echo "data chunks on disk:"
		cat "$T/disk.chunks"
		echo "expected:"
		cat "$T/want.chunks"
		return 1
	}
	[ -f "$DATA/$(meta_name "$2" "$_crc")" ] || {
		echo "no $(meta_name "$2" "$_crc")"
		return 1
	}
}

### connections reset during a put

rand_file "$T/cut" $((100 * MIB)) || bail "cannot make 100 MiB"
proxy -c $((20 * MIB)) -n 3 || bail "cutproxy did not start"
pdctl put "$T/cut" int/cut >"$T/put.out" 2>&1
rc=$?
check "put of 100 MiB through connections reset 3 times exits 0 ($rc)" \
    [ "$rc" -eq 0 ]
diagfile "$T/put.out"
n=$(cuts)
check "the proxy did cut the connections 3 times ($n)" [ "$n" -eq 3 ]
diagfile "$PLOG"
check "int/cut: the chunks on disk" chunks_are "$T/cut" int/cut
cdctl get int/cut "$T/got" >"$T/get.out" 2>&1
check "int/cut reads back byte for byte" cmp "$T/cut" "$T/got"

### connections reset during a get

kill "$PPID_" 2>/dev/null
proxy -s $((40 * MIB)) || bail "cutproxy did not start"
rm -f "$T/got"
"$DCTL" -r "127.0.0.1:$PPORT" -k "$CKEY" -K "$CKEYNAME" \
    get int/cut - >"$T/got" 2>"$T/get.err" &
gpid=$!
add_bgpid "$gpid"
wait_file_size "$T/got" $((30 * MIB)) 30
alive "$gpid"
check "the get is still running at 30 MiB" [ $? -eq 0 ]
kill -USR1 "$PPID_"
wait "$gpid"
rc=$?
check "get through connections reset half-way exits 0 ($rc)" [ "$rc" -eq 0 ]
diagfile "$T/get.err"
n=$(cuts)
check "the proxy did cut the get's connections ($n)" [ "$n" -eq 1 ]
check "the get's output is the file, byte for byte" cmp "$T/cut" "$T/got"

### dctl killed during a put

rand_file "$T/killed" $((150 * MIB)) || bail "cannot make 150 MiB"
crc=$(crc32_of "$T/killed")
"$DCTL" -r "127.0.0.1:$PPORT" -k "$CKEY" -K "$CKEYNAME" \
    put "$T/killed" int/killed >"$T/put.out" 2>&1 &
kpid=$!
add_bgpid "$kpid"
wait_chunks "$DATA" "$crc" 3 30
alive "$kpid"
check "3 chunks of int/killed are stored and the put still runs" \
    [ $? -eq 0 -a "$(disk_chunks "$DATA" "$crc" | wc -l)" -ge 3 ]
kill -KILL "$kpid"
wait "$kpid" 2>/dev/null
# What was on its way may still land: give the server a moment.
sleep 2
m=$(meta_name int/killed "$crc")
check "killed put: no metadata chunk $m" no_file "$DATA/$m"
check "killed put: get exits 3" exits 3 cdctl get int/killed "$T/got"
disk_chunks "$DATA" "$crc" >"$T/killed.disk"
n=$(wc -l <"$T/killed.disk")
check "killed put: some but not all of its 19 chunks are on disk ($n)" \
    [ "$n" -ge 3 -a "$n" -lt 19 ]
cdctl abandoned >"$T/ab.out" 2>&1
rc=$?
check "abandoned exits 0 ($rc)" [ "$rc" -eq 0 ]
chunk_refs "$T/ab.out" >"$T/ab.list"
check "abandoned lists exactly the chunks the killed put left" \
    same_lines "$T/killed.disk" "$T/ab.list"
diag "abandoned said:"
head -n 5 "$T/ab.out" | sed "s|^|# |"
cdctl put "$T/killed" int/killed >"$T/put.out" 2>&1
rc=$?
check "the same put again exits 0 ($rc)" [ "$rc" -eq 0 ]
check "int/killed: the chunks on disk" chunks_are "$T/killed" int/killed
rm -f "$T/got"
cdctl get int/killed "$T/got" >"$T/get.out" 2>&1
check "int/killed reads back byte for byte" cmp "$T/killed" "$T/got"
cdctl abandoned >"$T/ab.out" 2>&1
rc=$?
check "abandoned exits 0 ($rc)" [ "$rc" -eq 0 ]
check "abandoned now lists no chunk" [ -z "$(chunk_refs "$T/ab.out")" ]

### dsrvd restarted during a put

# restart_put TEXT PORT MIB NAME: a put of MIB random MiB to NAME over
# 127.0.0.1:PORT; once 3 of its chunks are stored, dsrvd stops and
# starts again; the put must complete and read back.
restart_put() {
	rand_file "$T/restart" $(($3 * MIB)) || bail "cannot make $3 MiB"
	# Before the put starts: reading the file takes as long as a put.
	_crc=$(crc32_of "$T/restart")
	"$DCTL" -r "127.0.0.1:$2" -k "$CKEY" -K "$CKEYNAME" \
	    put "$T/restart" "$4" >"$T/put.out" 2>&1 &
	_pp=$!
	add_bgpid "$_pp"
	wait_chunks "$DATA" "$_crc" 3 30
	alive "$_pp"
	check "$1: 3 chunks stored and the put still runs" \
	    [ $? -eq 0 -a "$(disk_chunks "$DATA" "$_crc" | wc -l)" -ge 3 ]
	_t0=$(date +%s%N)
	stop_dsrvd
	_rc=$?
	check "$1: dsrvd stops in the middle of the put ($_rc)" \
	    [ "$_rc" -eq 0 ]
	alive "$_pp"
	check "$1: the put is still running while dsrvd is down" [ $? -eq 0 ]
	start_dsrvd "$CONF"
	_rc=$?
	check "$1: dsrvd starts again while the put retries" [ "$_rc" -eq 0 ]
	diag "$1: dsrvd was down for $((($(date +%s%N) - _t0) / 1000000)) ms"
	wait "$_pp"
	_rc=$?
	check "$1: the put went on after the restart and exits 0 ($_rc)" \
	    [ "$_rc" -eq 0 ]
	diagfile "$T/put.out"
	# Whatever happened, a daemon for what follows.
	if gone "$DSRVD_PID"; then
		start_dsrvd "$CONF" || bail "dsrvd does not start any more"
	fi
	check "$1: the chunks on disk" chunks_are "$T/restart" "$4"
	rm -f "$T/got"
	cdctl get "$4" "$T/got" >"$T/get.out" 2>&1
	check "$1: $4 reads back byte for byte" cmp "$T/restart" "$T/got"
	rm -f "$T/restart"
}

restart_put "through the proxy" "$PPORT" 600 int/restart
kill "$PPID_" 2>/dev/null
# Straight to dsrvd: the put meets refused connections while it is
# down.  600 MiB take seconds, 3 chunks a fraction of one.
restart_put "direct" "$PORT" 600 int/restart2

stop_dsrvd
rc=$?
check "dsrvd stops cleanly ($rc)" [ "$rc" -eq 0 ]

finish
