#!/bin/sh
# needs: root
# A full file system: the data directory on a small tmpfs.  A write
# that does not fit fails with a clear NOSPACE error and leaves nothing
# behind (no chunk, nothing in .tmp), while the daemon keeps serving
# reads, lists, stats and df; filling it up chunk by chunk stops at the
# first NOSPACE with every acknowledged chunk intact.  Then "reserve":
# a write that would leave less than the reserve available is refused
# with NOSPACE too, and a smaller one still fits.

. "$REGRESS/lib.sh"
storage_tmpdir
need_bins
ensure_users
ensure_chroot || bail "cannot prepare /var/empty"

MIB=1048576
DATA=$T/fs
mount_tmpfs "$DATA" 6m || bail "cannot mount a tmpfs on $DATA"
storage_conf || bail "cannot write the configuration"
start_dsrvd "$CONF" || bail "dsrvd did not start"

rand_file "$T/small" 1000
rand_file "$T/m8" $((8 * MIB))
rand_file "$T/m1" "$MIB"

# nospace TEXT NAME FILE: put fails with exit 1 and "no space left",
# and NAME is nowhere.
nospace() {
	cdctl chunk put "$2" "$3" >"$T/put.out" 2>&1
	_rc=$?
	if [ "$_rc" -eq 1 ] &&
	    grep -q "^dctl: $2: no space left" "$T/put.out"; then
		ok "$1: NOSPACE: $(head -n 1 "$T/put.out")"
	else
		notok "$1: exit 1 with dctl: $2: no space left... (exit $_rc)"
		diagfile "$T/put.out"
	fi
	check "$1: $2 not visible (stat exits 3)" exits 3 cdctl chunk stat "$2"
	check "$1: no file $2 on disk" no_file "$DATA/$2"
	check "$1: DATA/.tmp holds no data" tmp_clean "$DATA"
}

# serving: a stored chunk reads back, lists and stats, and df answers.
serving() {
	cdctl chunk get fs/small "$T/got" >"$T/get.out" 2>&1 &&
	    cmp -s "$T/small" "$T/got" || {
		echo "get fs/small:"
		cat "$T/get.out"
		return 1
	}
	ls_has fs small || return 1
	cdctl chunk stat fs/small >/dev/null || return 1
	cdctl df >"$T/df.out" 2>&1 || {
		cat "$T/df.out"
		return 1
	}
}

check "put fs/small on the 6 MiB tmpfs" cdctl chunk put fs/small "$T/small"
nospace "8 MiB on a 6 MiB file system" fs/big "$T/m8"
check "after NOSPACE: reads, ls, stat and df work" serving

# Fill it up 1 MiB at a time, different bytes each time.
i=0
acked=0
while [ "$i" -lt 10 ]; do
	i=$((i + 1))
	printf '%08d' "$i" | dd of="$T/m1" bs=8 count=1 conv=notrunc \
	    2>/dev/null
	cp "$T/m1" "$T/fill.$i"
	cdctl chunk put "fs/fill$i" "$T/fill.$i" >"$T/put.out" 2>&1 || break
	acked=$i
done
check "filling 1 MiB at a time stops before 6 chunks ($acked stored)" \
    [ "$acked" -ge 1 -a "$acked" -lt 6 ]
check "the put that stopped it: no space left" \
    has "$T/put.out" "^dctl: fs/fill$i: no space left"
check "fs/fill$i not visible" exits 3 cdctl chunk stat "fs/fill$i"
check "DATA/.tmp holds no data after the fill" tmp_clean "$DATA"
nospace "1 MiB more when full" fs/more "$T/m1"
n=1
while [ "$n" -le "$acked" ]; do
	cdctl chunk get "fs/fill$n" "$T/got" >/dev/null 2>&1 &&
	    cmp -s "$T/fill.$n" "$T/got"
	result $? "full: fs/fill$n reads back"
	n=$((n + 1))
done
check "full: reads, ls, stat and df work" serving
cdctl df >"$T/df.out" 2>&1
check "full: df counts $((acked + 1)) chunks" \
    has "$T/df.out" "^chunks +$((acked + 1))\$"
diagfile "$T/df.out"
status
check "counter: write errors >= 3" counter_ge "write errors" 3
check "the store is still read-write (no space is not a flush failure)" \
    has "$T/status.out" "^storage +read-write$"
check "dsrvd still runs" alive "$DSRVD_PID"
stop_dsrvd
rc=$?
check "dsrvd stops cleanly ($rc)" [ "$rc" -eq 0 ]

### reserve

DATA=$T/fs2
mount_tmpfs "$DATA" 16m || bail "cannot mount a tmpfs on $DATA"
CONF=$T/reserve.conf
storage_conf "$CONF" || bail "cannot write the configuration"
echo "reserve $((10 * MIB))" >>"$CONF"
start_dsrvd "$CONF" || bail "dsrvd with reserve did not start"
rand_file "$T/m4a" $((4 * MIB))
rand_file "$T/m4b" $((4 * MIB))
check "reserve 10 MiB on 16 MiB: 4 MiB fit" cdctl chunk put rs/a "$T/m4a"
nospace "reserve: 4 MiB more would leave less than 10 MiB" rs/b "$T/m4b"
check "reserve: 1 MiB still fits" cdctl chunk put rs/c "$T/m1"
check "reserve: rs/a reads back" cdctl chunk get rs/a "$T/got"
check "reserve: byte for byte" cmp "$T/m4a" "$T/got"
stop_dsrvd

finish
