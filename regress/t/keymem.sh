#!/bin/sh
# needs: root
# Only the crypto process holds the pre-shared keys.  After start-up and
# after sessions have been set up, the memory of every other dsrvd
# process (parent, network, storage) is scanned for each key, raw and in
# base64; the crypto process is the positive control that shows the
# scan can find a key at all.

. "$REGRESS/lib.sh"
tmpdir
need_bins
ensure_users
ensure_chroot || bail "cannot prepare /var/empty"
WIRETOOL=${WIRETOOL:-$REGRESS/tools/wiretool}
[ -x "$WIRETOOL" ] ||
    bail "wiretool not built ($WIRETOOL; make regress/tools/wiretool)"

for k in k1 k2; do
	head -c 32 /dev/urandom | base64 >"$T/$k" && chmod 600 "$T/$k" ||
	    bail "cannot make a key file"
done

std_conf
cat >>"$CONF" <<EOF
max rtt 2s
key one file "$T/k1"
key two file "$T/k2" permit read
EOF
start_dsrvd "$CONF" || bail "dsrvd did not start"

# Sessions with both keys, enough for both network workers to get some.
sessions() {
	_i=0
	while [ "$_i" -lt 4 ]; do
		for _k in one:k1 two:k2; do
			"$WIRETOOL" -a 127.0.0.1 -p "$PORT" -K "${_k%%:*}" \
			    -k "$T/${_k#*:}" ping >"$T/wt.out" 2>&1 || {
				cat "$T/wt.out"
				return 1
			}
		done
		_i=$((_i + 1))
	done
}

# scan WHO PID KEYFILE WANT: memscan's exit status must be WANT (0 not
# found, 1 found).
scan() {
	"$WIRETOOL" -k "$3" memscan "$2" >"$T/scan.out" 2>&1
	_rc=$?
	_what="not found"
	[ "$4" -eq 1 ] && _what="found"
	if [ "$_rc" -eq "$4" ]; then
		ok "$1 (pid $2): key ${3##*/} $_what:" \
		    "$(tail -n 1 "$T/scan.out")"
	elif [ "$_rc" -eq 2 ]; then
		notok "$1 (pid $2): key ${3##*/}: scan failed"
		diagfile "$T/scan.out"
	else
		notok "$1 (pid $2): key ${3##*/} expected $_what"
		diagfile "$T/scan.out"
	fi
}

scan_all() {
	for _k in "$T/k1" "$T/k2"; do
		scan "$1: parent" "$DSRVD_PID" "$_k" 0
		for _p in $(child_pids network); do
			scan "$1: network" "$_p" "$_k" 0
		done
		for _p in $(child_pids storage); do
			scan "$1: storage" "$_p" "$_k" 0
		done
		# The positive control: the one process that holds the key.
		scan "$1: crypto (control)" "$(child_pids crypto)" "$_k" 1
	done
}

check "pings with both keys, 8 sessions" sessions
scan_all "after sessions"

# A reload reads the key files again in the parent; it must wipe them
# again once crypto has them.
nrel=$(log_count "configuration reloaded")
dctl reload >"$T/out" 2>&1
check "dctl reload exits 0" [ $? -eq 0 ]
_n=50
while [ "$_n" -gt 0 ] &&
    [ "$(log_count "configuration reloaded")" -le "$nrel" ]; do
	sleep 0.1
	_n=$((_n - 1))
done
check "pings with both keys after the reload" sessions
scan_all "after reload"

finish
