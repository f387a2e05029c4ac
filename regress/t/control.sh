#!/bin/sh
# needs: root
# The control socket and dctl: status, reload (dctl and SIGHUP, good and
# broken configs), log levels, refusals, and a clean SIGTERM.

. "$REGRESS/lib.sh"
tmpdir
need_bins
ensure_users
ensure_chroot || bail "cannot prepare /var/empty"
user_bins || bail "cannot copy the binaries to $T"

std_conf
start_dsrvd "$CONF" || bail "dsrvd did not start"

# wait_listen ADDR PORT [secs]
wait_listen() {
	_n=$(( ${3:-5} * 10 ))
	while [ "$_n" -gt 0 ]; do
		listening "$1" "$2" && return 0
		sleep 0.1
		_n=$((_n - 1))
	done
	listening "$1" "$2"
}

# wait_count REGEX N [secs]: the log has more than N matching lines.
wait_count() {
	_n=$(( ${3:-10} * 10 ))
	while [ "$_n" -gt 0 ]; do
		[ "$(log_count "$1")" -gt "$2" ] && return 0
		sleep 0.1
		_n=$((_n - 1))
	done
	[ "$(log_count "$1")" -gt "$2" ]
}

# status, with the output shown when a check on it fails.
status_ok() {
	if status; then
		ok "$1"
	else
		notok "$1"
		diagfile "$T/status.out"
	fi
}

listen_line() {
	has "$T/status.out" "^listening on +$1 port $2\$"
}

### status

status_ok "dctl status exits 0"
check "status: version and uptime" \
    has "$T/status.out" '^dsrvd [0-9][0-9.]*, up [0-9]'
check "status: config file" has "$T/status.out" "^config file +$CONF\$"
check "status: data directory" \
    has "$T/status.out" "^data directory +$DATA\$"
check "status: listening on 127.0.0.1 port $PORT" listen_line 127.0.0.1 "$PORT"
check "status: PROCESS PID header" has "$T/status.out" '^PROCESS +PID$'

v=$(status_pid parent)
check "status: parent pid $v is $DSRVD_PID" [ "$v" = "$DSRVD_PID" ]

# same_set ROLE PIDS...: status lists ROLE[i] lines whose pids are
# exactly the given ones.
same_set() {
	_role=$1
	shift
	_want=$(printf '%s\n' "$@" | sort -n | tr '\n' ' ')
	_got=$(awk -v r="$_role" 'index($1, r "[") == 1 { print $2 }' \
	    "$T/status.out" | sort -n | tr '\n' ' ')
	[ "$_want" = "$_got" ]
}
net=$(child_pids network)
sto=$(child_pids storage)
cry=$(child_pids crypto)
# shellcheck disable=SC2086
check "status: network[0], network[1] are the network children ($net)" \
    same_set network $net
check "status: network[0] listed" has "$T/status.out" '^network\[0\] '
check "status: network[1] listed" has "$T/status.out" '^network\[1\] '
check "status: no network[2]" not has "$T/status.out" '^network\[2\] '
check "status: storage[0] listed" has "$T/status.out" '^storage\[0\] '
check "status: storage[1] listed" has "$T/status.out" '^storage\[1\] '
check "status: no storage[2]" not has "$T/status.out" '^storage\[2\] ' 
# shellcheck disable=SC2086
check "status: storage[0], storage[1] are the storage children ($sto)" \
    same_set storage $sto
v=$(status_pid crypto)
check "status: crypto pid $v is the crypto child ($cry)" \
    [ "${v:-none}" = "$cry" ]
check "status: COUNTER VALUE header" has "$T/status.out" '^COUNTER +VALUE$'

### the control socket itself

v=$(stat -c '%A %U %G' "$SOCK" 2>&1)
check "control socket is srw------- root root ($v)" \
    [ "$v" = "srw------- root root" ]

### log levels

dctl log verbose >"$T/out" 2>&1
check "dctl log verbose exits 0" [ $? -eq 0 ]
check "dctl log verbose says \"log: verbose\"" has "$T/out" '^log: verbose$'
dctl log brief >"$T/out" 2>&1
check "dctl log brief exits 0" [ $? -eq 0 ]
check "dctl log brief says \"log: brief\"" has "$T/out" '^log: brief$'
# Back to debug for the rest of the log.
dctl log verbose >/dev/null 2>&1

### dctl reload with a second listener

PORT2=$(free_port)
echo "listen on 127.0.0.1 port $PORT2" >>"$CONF"
nrel=$(log_count "configuration reloaded")
dctl reload >"$T/out" 2>&1
rc=$?
check "dctl reload exits 0 ($rc)" [ "$rc" -eq 0 ]
check "dctl reload says \"reload: configuration reloaded\"" \
    has "$T/out" '^reload: configuration reloaded$'
check "log: configuration reloaded" wait_count "configuration reloaded" "$nrel"
status_ok "status after reload"
check "status: listening on 127.0.0.1 port $PORT2 after reload" \
    listen_line 127.0.0.1 "$PORT2"
check "status: still listening on 127.0.0.1 port $PORT" \
    listen_line 127.0.0.1 "$PORT"
check "something listens on 127.0.0.1:$PORT2" wait_listen 127.0.0.1 "$PORT2"
check "something listens on 127.0.0.1:$PORT" listening 127.0.0.1 "$PORT"

### a broken config is refused and the old one keeps running

cp "$CONF" "$T/good.conf"
echo "this is not { a statement" >>"$CONF"
badline=$(wc -l <"$CONF")
nkeep=$(log_count "keeping the running configuration")
dctl reload >"$T/out" 2>&1
rc=$?
check "dctl reload of a broken config exits 1 ($rc)" [ "$rc" -eq 1 ]
check "dctl: reload failed: FILE has errors, keeping the running configuration" \
    has "$T/out" "reload failed: $CONF has errors, keeping the running configuration"
check "log: $CONF:$badline: error" wait_for_log "$CONF:$badline: " 5
check "log: reload: FILE has errors, keeping the running configuration" \
    wait_count "reload: $CONF has errors, keeping the running configuration" \
    "$nkeep" 5
check "parent still running after the failed reload" \
    alive "$DSRVD_PID"
status_ok "status works after the failed reload"
check "status: still listening on port $PORT2" listen_line 127.0.0.1 "$PORT2"

### SIGHUP reloads too: port 2 goes, port 3 comes

PORT3=$(free_port)
grep -v "port $PORT2\$" "$T/good.conf" >"$CONF"
echo "listen on 127.0.0.1 port $PORT3" >>"$CONF"
nrel=$(log_count "configuration reloaded")
kill -HUP "$DSRVD_PID"
check "SIGHUP: log: configuration reloaded" \
    wait_count "configuration reloaded" "$nrel"
status_ok "status after SIGHUP"
check "status: listening on port $PORT3 after SIGHUP" \
    listen_line 127.0.0.1 "$PORT3"
check "status: no longer listening on port $PORT2" \
    not listen_line 127.0.0.1 "$PORT2"
check "something listens on 127.0.0.1:$PORT3" wait_listen 127.0.0.1 "$PORT3"

# SIGHUP with errors: refused, still running.
cp "$CONF" "$T/good.conf"
echo "network workers" >>"$CONF"
nkeep=$(log_count "keeping the running configuration")
kill -HUP "$DSRVD_PID"
check "SIGHUP with a broken config: keeping the running configuration" \
    wait_count "keeping the running configuration" "$nkeep"
check "parent still running after SIGHUP with a broken config" \
    alive "$DSRVD_PID"
cp "$T/good.conf" "$CONF"

### settings that need a restart keep their old value

mkdir -p "$T/data2"
sed "s|^data .*|data \"$T/data2\"|" "$T/good.conf" >"$CONF"
dctl reload >"$T/out" 2>&1
check "reload with a new data directory exits 0" [ $? -eq 0 ]
check "log: reload: data directory changed; restart dsrvd to apply" \
    wait_for_log "reload: data directory changed; restart dsrvd to apply" 5
status >/dev/null 2>&1
check "status: data directory unchanged" \
    has "$T/status.out" "^data directory +$DATA\$"
cp "$T/good.conf" "$CONF"

### refusals

dctl status >/dev/null 2>&1
"$DCTL" -s "$T/nonexistent.sock" status >"$T/out" 2>&1
rc=$?
check "dctl with no daemon exits 1 ($rc)" [ "$rc" -eq 1 ]
check "dctl with no daemon: \"$T/nonexistent.sock: No such file or directory (is dsrvd running?)\"" \
    has "$T/out" "$T/nonexistent.sock: No such file or directory \\(is dsrvd running\\?\\)"

as_user "$T/dctl.bin" -s "$SOCK" status >"$T/out" 2>&1
rc=$?
check "dctl as a non-root user exits 1 ($rc)" [ "$rc" -eq 1 ]

# Past the socket mode, the daemon itself checks the peer's uid.
chmod 666 "$SOCK"
as_user "$T/dctl.bin" -s "$SOCK" status >"$T/out" 2>&1
rc=$?
chmod 600 "$SOCK"
check "dctl as non-root on a 0666 socket exits 1 ($rc)" [ "$rc" -eq 1 ]
check "dctl as non-root on a 0666 socket: permission denied" \
    has "$T/out" "dctl: permission denied"
check "parent still running after the refused client" \
    alive "$DSRVD_PID"
status_ok "status still works for root"

"$DCTL" -s "$SOCK" >"$T/out" 2>&1
rc=$?
check "dctl without a command exits 2 ($rc)" [ "$rc" -eq 2 ]
"$DCTL" -s "$SOCK" frobnicate >"$T/out" 2>&1
rc=$?
check "dctl with an unknown command exits 2 ($rc)" [ "$rc" -eq 2 ]

### SIGTERM

ks=$(kids "$DSRVD_PID")
kill -TERM "$DSRVD_PID"
if wait_gone "$DSRVD_PID" 10; then
	ok "SIGTERM: parent exits within 10 s"
	wait "$DSRVD_PID"
	rc=$?
	check "SIGTERM: exit status 0 ($rc)" [ "$rc" -eq 0 ]
else
	notok "SIGTERM: parent exits within 10 s"
	notok "SIGTERM: exit status 0 (still running)"
fi
left=
for k in $ks; do
	wait_gone "$k" 5 || left="$left $k"
done
check "SIGTERM: all children gone${left:+, left:$left}" [ -z "$left" ]
check "SIGTERM: control socket removed" [ ! -e "$SOCK" ]
check "log: received SIGTERM, terminating" \
    wait_for_log "received SIGTERM, terminating" 1
[ -z "$left" ] || diagfile "$DSRVD_LOG"

finish
