#!/bin/sh
# needs: root
# Crashes: several writers put chunks concurrently while every dsrvd
# process is killed with SIGKILL at a random moment, several rounds.
# After each restart: no temporaries are left, every chunk on disk is
# listed and immutable, every chunk that was acknowledged is there, and
# every visible chunk reads back byte for byte equal to what was sent.

. "$REGRESS/lib.sh"
storage_tmpdir
need_bins
ensure_users
ensure_chroot || bail "cannot prepare /var/empty"
storage_conf || bail "cannot write the configuration"
sed -i 's/^storage workers .*/storage workers 4/' "$CONF"

ROUNDS=${CRASH_ROUNDS:-5}
WRITERS=${CRASH_WRITERS:-8}
mkdir -p "$T/src" || bail "cannot make $T/src"

# rnd N: a random number below N.
rnd() {
	echo $(( $(od -An -N4 -tu4 /dev/urandom | tr -d ' ') % $1 ))
}

# writer ROUND W: puts chunks cr/rROUNDwWnI of random sizes (0 to
# 600 kB) until $T/stop appears; the names whose put succeeded go to
# $T/acked.
writer() {
	_i=0
	while [ ! -f "$T/stop" ]; do
		_i=$((_i + 1))
		_n=r${1}w${2}n$_i
		head -c "$(rnd 600000)" /dev/urandom >"$T/src/$_n"
		if cdctl chunk put "cr/$_n" "$T/src/$_n" >/dev/null 2>&1; then
			echo "$_n" >>"$T/acked.$1.$2"
		else
			sleep 0.05
		fi
	done
}

# all_immutable: every chunk file in DATA/cr has the i flag.
all_immutable() {
	lsattr "$DATA/cr" 2>&1 | awk '$1 !~ /i/' >"$T/notimm"
	[ ! -s "$T/notimm" ] && return 0
	echo "without the immutable flag:"
	cat "$T/notimm"
	return 1
}

# acked_present: every acknowledged chunk exists on disk.
acked_present() {
	cat "$T"/acked.* 2>/dev/null | sort >"$T/acked"
	_miss=0
	while read -r _n; do
		[ -f "$DATA/cr/$_n" ] && continue
		echo "acknowledged but missing: cr/$_n"
		_miss=1
	done <"$T/acked"
	return "$_miss"
}

# listed_is_disk: dctl chunk ls cr shows exactly the files on disk.
listed_is_disk() {
	cdctl chunk ls cr 2>&1 | sed 's|^cr/||' | LC_ALL=C sort >"$T/listed"
	(cd "$DATA/cr" && ls -A) | LC_ALL=C sort >"$T/ondisk"
	diff "$T/ondisk" "$T/listed"
}

# all_read_back: every listed chunk reads back equal to its source.
all_read_back() {
	_bad=0
	while read -r _n; do
		if [ ! -f "$T/src/$_n" ]; then
			echo "cr/$_n: visible but never sent"
			_bad=1
			continue
		fi
		if ! cdctl chunk get "cr/$_n" "$T/got" >"$T/get.out" 2>&1; then
			echo "cr/$_n: get failed: $(cat "$T/get.out")"
			_bad=1
		elif ! cmp -s "$T/src/$_n" "$T/got"; then
			echo "cr/$_n: differs from what was sent"
			_bad=1
		fi
	done <"$T/listed"
	return "$_bad"
}

# wait_immutable [secs]: the start-up seal may lag a little.
wait_immutable() {
	_w=$(( ${1:-5} * 5 ))
	while [ "$_w" -gt 0 ]; do
		all_immutable >/dev/null && return 0
		sleep 0.2
		_w=$((_w - 1))
	done
	all_immutable
}

# removed_is N: the "removed K temporary files left by a crash" lines of
# the storage workers add up to N.
removed_is() {
	_w=25
	while :; do
		_sum=$(sed -n 's/.*removed \([0-9]*\) temporary files*'\
' left by a crash.*/\1/p' "$DSRVD_LOG" |
		    awk '{ s += $1 } END { print s + 0 }')
		[ "$_sum" -eq "$1" ] && return 0
		_w=$((_w - 1))
		[ "$_w" -gt 0 ] || break
		sleep 0.2
	done
	echo "the log says $_sum removed, expected $1"
	grep "temporary file" "$DSRVD_LOG"
	return 1
}

start_dsrvd "$CONF" || bail "dsrvd did not start"
r=0
while [ "$r" -lt "$ROUNDS" ]; do
	r=$((r + 1))
	rm -f "$T/stop"
	wpids=
	w=0
	while [ "$w" -lt "$WRITERS" ]; do
		w=$((w + 1))
		writer "$r" "$w" &
		wpids="$wpids $!"
		add_bgpid "$!"
	done
	# Let some writes finish first, then strike at a random moment.
	ms=$((300 + $(rnd 2200)))
	sleep "$((ms / 1000)).$(printf '%03d' $((ms % 1000)))"
	pids=$(dsrvd_tree | tr '\n' ' ')
	kill -KILL $pids 2>/dev/null
	touch "$T/stop"
	gonepids=0
	for p in $pids; do
		wait_gone "$p" 5 && gonepids=$((gonepids + 1))
	done
	npids=$(echo $pids | wc -w)
	check "round $r: all $npids dsrvd processes killed after $ms ms" \
	    [ "$gonepids" -eq "$npids" ]
	wait "$DSRVD_PID" 2>/dev/null
	for p in $wpids; do
		wait "$p" 2>/dev/null
	done
	nacked=$(cat "$T"/acked.* 2>/dev/null | wc -l)
	ntmp=$(find "$DATA/.tmp" -mindepth 1 2>/dev/null | wc -l)
	diag "round $r: $nacked chunks acknowledged so far," \
	    "$ntmp files in .tmp at the crash"

	start_dsrvd "$CONF" || bail "round $r: dsrvd did not restart"
	check "round $r: DATA/.tmp holds no data after the restart" \
	    tmp_clean "$DATA"
	if [ "$ntmp" -gt 0 ]; then
		check "round $r: log: removed $ntmp temporary files" \
		    removed_is "$ntmp"
	fi
	nsealed=$(sed -n 's/.*sealed \([0-9]*\) chunks* left unsealed.*/\1/p' \
	    "$DSRVD_LOG" | awk '{ s += $1 } END { print s + 0 }')
	diag "round $r: $nsealed chunks sealed at start"
	check "round $r: every chunk on disk immutable" wait_immutable 5
	check "round $r: every acknowledged chunk is there" acked_present
	check "round $r: dctl chunk ls lists exactly the files on disk" \
	    listed_is_disk
	check "round $r: every visible chunk reads back as sent" all_read_back
	check "round $r: DATA/cr holds only regular files with one link" \
	    [ -z "$(find "$DATA/cr" -mindepth 1 \( ! -type f -o -links +1 \) \
	    -print 2>/dev/null)" ]
done

### the parent frozen: chunks committed but never sealed, then a crash

# A committed chunk waits for the parent to seal it; with the parent
# stopped, chunks become visible but stay unsealed, and a crash then
# leaves them so.  The next start must find and seal them.
kill -STOP "$DSRVD_PID"
fpids=
for i in 1 2 3 4 5; do
	head -c 5000 /dev/urandom >"$T/src/frozen$i"
	timeout 15 "$DCTL" -s "$SOCK" -r "127.0.0.1:$PORT" -k "$CKEY" \
	    -K "$CKEYNAME" chunk put "cr/frozen$i" "$T/src/frozen$i" \
	    >/dev/null 2>&1 &
	fpids="$fpids $!"
	add_bgpid "$!"
done
# frozen_visible: all five are on disk under their names.
frozen_visible() {
	_w=50
	while [ "$_w" -gt 0 ]; do
		[ "$(ls "$DATA/cr" | grep -c '^frozen[1-5]$')" -eq 5 ] &&
		    return 0
		sleep 0.2
		_w=$((_w - 1))
	done
	ls "$DATA/cr" | grep frozen
	return 1
}
check "parent stopped: 5 chunks committed all the same" frozen_visible
nimm=0
for i in 1 2 3 4 5; do
	immutable "$DATA/cr/frozen$i" >/dev/null 2>&1 && nimm=$((nimm + 1))
done
check "parent stopped: none of them sealed ($nimm sealed)" [ "$nimm" -eq 0 ]
pids=$(dsrvd_tree | tr '\n' ' ')
kill -KILL $pids 2>/dev/null
for p in $pids; do
	wait_gone "$p" 5
done
wait "$DSRVD_PID" 2>/dev/null
for p in $fpids; do
	wait "$p" 2>/dev/null
done
start_dsrvd "$CONF" || bail "dsrvd did not restart after the frozen parent"
check "after the restart: log: sealed 5 chunks left unsealed by a crash" \
    wait_for_log "sealed 5 chunks? left unsealed by a crash" 5
check "after the restart: every chunk on disk immutable" wait_immutable 5
check "after the restart: counter chunks sealed 5" counter_is "chunks sealed" 5
check "after the restart: every acknowledged chunk is there" acked_present
check "after the restart: ls lists exactly the files on disk" listed_is_disk
check "after the restart: every visible chunk reads back as sent" \
    all_read_back

nacked=$(cat "$T"/acked.* 2>/dev/null | wc -l)
nvis=$(wc -l <"$T/listed")
check "some chunks were written ($nacked acknowledged, $nvis visible)" \
    [ "$nacked" -gt "$((ROUNDS * 2))" ]
status
check "counter: seal failures 0" counter_is "seal failures" 0
check "a new put after all that works" cdctl chunk put cr/last "$T/src/r1w1n1"
stop_dsrvd
rc=$?
check "dsrvd stops cleanly ($rc)" [ "$rc" -eq 0 ]

finish
