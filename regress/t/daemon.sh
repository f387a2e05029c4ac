#!/bin/sh
# needs: root
# Process life: without -d dsrvd detaches quietly and keeps a pid file;
# no fd leaks across exec; a lost child takes the whole daemon down.

. "$REGRESS/lib.sh"
tmpdir
need_bins
ensure_users
ensure_chroot || bail "cannot prepare /var/empty"

# Whoever runs the tests may leak fds into them (and so into dsrvd);
# those are not dsrvd's to mark close-on-exec.  "N:target" each.
inherited=$(for fd in /proc/$$/fd/*; do
	echo "${fd##*/}:$(readlink "$fd")"
done)

# And one on purpose: a file outside every chroot, which no child may
# end up holding.
echo "not for the children" >"$T/leaked"
exec 9<"$T/leaked"

# cloexec ROLE PID: every fd above 2 that dsrvd opened has O_CLOEXEC
# (02000000 octal in the flags of /proc/PID/fdinfo/N).
cloexec() {
	_bad=
	_nfd=0
	for _fd in /proc/"$2"/fd/*; do
		_n=${_fd##*/}
		[ "$_n" -le 2 ] 2>/dev/null && continue
		_l=$(readlink "$_fd") || continue
		case $_l in
		"$T/leaked") continue ;;
		esac
		printf '%s\n' "$inherited" | grep -Fqx "$_n:$_l" && continue
		_fl=$(awk '$1 == "flags:" { print $2 }' \
		    "/proc/$2/fdinfo/$_n" 2>/dev/null) || continue
		[ -n "$_fl" ] || continue
		_nfd=$((_nfd + 1))
		case $_fl in
		0*) ;;
		*) _fl=0$_fl ;;
		esac
		if [ $((_fl & 02000000)) -eq 0 ]; then
			_bad="$_bad $_n->$(readlink "$_fd")"
		fi
	done
	check "$1 $2: all $_nfd fds above 2 are close-on-exec${_bad:+, not:$_bad}" \
	    [ -z "$_bad" ]
}

### without -d: detach, say nothing, write the pid file

std_conf
PIDFILE=$T/dsrvd.pid
start=$(date +%s)
timeout 20 "$DSRVD" -f "$CONF" -p "$PIDFILE" >"$T/out" 2>"$T/err"
rc=$?
took=$(( $(date +%s) - start ))
check "dsrvd without -d returns status 0 ($rc)" [ "$rc" -eq 0 ]
check "dsrvd without -d returns promptly (${took}s)" [ "$took" -le 5 ]
check "dsrvd without -d prints nothing on stdout" [ ! -s "$T/out" ]
check "dsrvd without -d prints nothing on stderr" [ ! -s "$T/err" ]
diagfile "$T/out"
diagfile "$T/err"

n=100
while [ "$n" -gt 0 ] && [ ! -s "$PIDFILE" ]; do
	sleep 0.1
	n=$((n - 1))
done
dpid=$(cat "$PIDFILE" 2>/dev/null)
case $dpid in
''|*[!0-9]*)
	notok "pid file $PIDFILE holds a pid ('$dpid')"
	dpid=
	;;
*)
	echo "$dpid" >>"$T/pids"
	ok "pid file $PIDFILE holds a pid ($dpid)"
	;;
esac

if [ -n "$dpid" ]; then
	check "pid $dpid is alive" alive "$dpid"
	case $(cmdline "$dpid") in
	*dsrvd*) ok "pid $dpid is dsrvd" ;;
	*) notok "pid $dpid is dsrvd ($(cmdline "$dpid"))" ;;
	esac
	# Wait for the children to settle: status answers once they have.
	n=100
	while [ "$n" -gt 0 ] && ! status; do
		sleep 0.1
		n=$((n - 1))
	done
	check "dctl status answers" status
	v=$(status_pid parent)
	check "status: parent is the pid in the pid file ($v)" \
	    [ "$v" = "$dpid" ]
	kids "$dpid" >>"$T/pids"

	mysid=$(ps -o sid= -p $$ | tr -d ' ')
	sid=$(ps -o sid= -p "$dpid" | tr -d ' ')
	check "detached into its own session ($sid, ours $mysid)" \
	    [ "${sid:-$mysid}" != "$mysid" ]
	for fd in 0 1 2; do
		v=$(readlink "/proc/$dpid/fd/$fd")
		check "detached parent: fd $fd is /dev/null ($v)" \
		    [ "$v" = /dev/null ]
	done

	cloexec parent "$dpid"
	for k in $(child_pids network "$dpid") $(child_pids crypto "$dpid") \
	    $(child_pids storage "$dpid"); do
		role=$(cmdline "$k" | awk '{ print $2 }')
		cloexec "$role" "$k"
		# An fd from outside would undo the chroot.
		held=
		for fd in /proc/"$k"/fd/*; do
			[ "$(readlink "$fd")" = "$T/leaked" ] &&
			    held="$held ${fd##*/}"
		done
		check "$role $k: holds no fd dsrvd inherited from its caller${held:+ (fd$held: $T/leaked)}" \
		    [ -z "$held" ]
	done

	ks=$(kids "$dpid")
	kill -TERM "$dpid"
	check "detached dsrvd exits on SIGTERM" wait_gone "$dpid" 10
	left=
	for k in $ks; do
		wait_gone "$k" 5 || left="$left $k"
	done
	check "its children are gone${left:+, left:$left}" [ -z "$left" ]
	check "pid file removed at exit" [ ! -e "$PIDFILE" ]
	check "control socket removed at exit" [ ! -e "$SOCK" ]
fi

exec 9<&-

### SIGINT ends it cleanly too

PORT='' SOCK=$T/dsrvd-int.sock
std_conf "$T/dsrvd-int.conf"
if start_dsrvd "$CONF"; then
	ks=$(kids "$DSRVD_PID")
	kill -INT "$DSRVD_PID"
	if wait_gone "$DSRVD_PID" 10; then
		wait "$DSRVD_PID"
		rc=$?
		check "SIGINT: exit status 0 ($rc)" [ "$rc" -eq 0 ]
	else
		notok "SIGINT: exit status 0 (still running after 10 s)"
	fi
	left=
	for k in $ks; do
		wait_gone "$k" 5 || left="$left $k"
	done
	check "SIGINT: all children gone${left:+, left:$left}" [ -z "$left" ]
	check "SIGINT: log: received SIGINT, terminating" \
	    wait_for_log "received SIGINT, terminating" 1
	stop_dsrvd
else
	notok "SIGINT: dsrvd did not start"
fi

### a lost child ends the daemon

# target ROLE: the pid dctl status gives ROLE, or failing that the
# child_pids one (network[1] is the second network child).
target() {
	if status; then
		status_pid "$1"
		return
	fi
	case $1 in
	*\[*\])
		_r=${1%%\[*}
		_i=${1#*\[}
		_i=${_i%\]}
		child_pids "$_r" | sed -n "$((_i + 1))p"
		;;
	*)
		child_pids "$1" | head -n 1
		;;
	esac
}

for role in 'network[1]' crypto 'storage[0]'; do
	PORT=''
	SOCK=$T/dsrvd-${role%%\[*}.sock
	std_conf "$T/dsrvd-${role%%\[*}.conf"
	if ! start_dsrvd "$CONF"; then
		notok "$role: dsrvd did not start"
		continue
	fi
	victim=$(target "$role")
	case $victim in
	''|*[!0-9]*)
		notok "$role: found its pid"
		diagfile "$T/status.out"
		stop_dsrvd
		continue
		;;
	esac
	others=$(kids "$DSRVD_PID" | grep -vx "$victim")
	kill -KILL "$victim"
	if wait_gone "$DSRVD_PID" 10; then
		ok "$role killed: parent exits within 10 s"
		wait "$DSRVD_PID"
		rc=$?
		check "$role killed: parent exit status 1 ($rc)" [ "$rc" -eq 1 ]
	else
		notok "$role killed: parent exits within 10 s"
		notok "$role killed: parent exit status 1 (still running)"
	fi
	left=
	for k in $others; do
		wait_gone "$k" 5 || left="$left $k($(cmdline "$k"))"
	done
	check "$role killed: all other children gone${left:+, left:$left}" \
	    [ -z "$left" ]
	re=$(printf '%s' "$role" | sed 's/\[/\\[/; s/\]/\\]/')
	check "$role killed: log: lost child: $role (pid $victim) terminated by signal 9" \
	    wait_for_log "lost child: $re \\(pid $victim\\) terminated by signal 9" 1
	check "$role killed: log: terminating" wait_for_log "terminating" 1
	stop_dsrvd
done

finish
