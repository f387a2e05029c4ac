#!/bin/sh
# needs: root
# Privilege separation: every child runs as its own user, in its own
# chroot, with no way back to root; the parent stays root.  Network,
# crypto and storage each have a user of their own, so network cannot
# signal (or trace) crypto, the process that holds the keys.

. "$REGRESS/lib.sh"
tmpdir
need_bins
ensure_users
ensure_chroot || bail "cannot prepare /var/empty"

std_conf
start_dsrvd "$CONF" || bail "dsrvd did not start"

uid_net=$(id -u _dsrvd)
gid_net=$(id -g _dsrvd)
uid_sto=$(id -u _dsrvdata)
gid_sto=$(id -g _dsrvdata)
uid_cry=$(id -u _dsrvcrypto)
gid_cry=$(id -g _dsrvcrypto)
check "network, crypto and storage users differ ($uid_net, $uid_cry, \
$uid_sto)" [ "$uid_cry" != "$uid_net" ] && [ "$uid_cry" != "$uid_sto" ] &&
    [ "$uid_net" != "$uid_sto" ]

# The parent: root, and its title is still the command line.
st=/proc/$DSRVD_PID/status
check "parent runs as root (Uid: $(proc_field "$st" Uid))" \
    [ "$(proc_field "$st" Uid)" = "0 0 0 0" ]
case $(cmdline "$DSRVD_PID") in
*dsrvd*-f*) ok "parent title is its command line" ;;
*) notok "parent title is its command line: '$(cmdline "$DSRVD_PID")'" ;;
esac

net=$(child_pids network)
cry=$(child_pids crypto)
sto=$(child_pids storage)
nnet=$(echo "$net" | wc -w)
ncry=$(echo "$cry" | wc -w)
nsto=$(echo "$sto" | wc -w)
check "2 network children (found $nnet)" [ "$nnet" -eq 2 ]
check "1 crypto child (found $ncry)" [ "$ncry" -eq 1 ]
check "2 storage children (found $nsto)" [ "$nsto" -eq 2 ]

all=$(kids "$DSRVD_PID" | wc -l)
other=$((all - nnet - ncry - nsto))
check "no other children of the parent (found $other)" \
    [ "$other" -eq 0 ]
if [ "$other" -ne 0 ]; then
	for k in $(kids "$DSRVD_PID"); do
		diag "child $k: $(cmdline "$k")"
	done
fi

# check_child ROLE PID UID GID ROOT
check_child() {
	role=$1 pid=$2 uid=$3 gid=$4 root=$5
	st=/proc/$pid/status
	v=$(proc_field "$st" Uid)
	check "$role $pid: real, effective, saved, fs uid $uid (Uid: $v)" \
	    [ "$v" = "$uid $uid $uid $uid" ]
	v=$(proc_field "$st" Gid)
	check "$role $pid: real, effective, saved, fs gid $gid (Gid: $v)" \
	    [ "$v" = "$gid $gid $gid $gid" ]
	v=$(proc_field "$st" Groups)
	check "$role $pid: supplementary groups just $gid (Groups: $v)" \
	    [ "$v" = "$gid" ]
	v=$(proc_field "$st" NoNewPrivs)
	check "$role $pid: no_new_privs set (NoNewPrivs: $v)" [ "$v" = 1 ]
	ce=$(proc_field "$st" CapEff)
	cp=$(proc_field "$st" CapPrm)
	check "$role $pid: no capabilities (CapEff: $ce, CapPrm: $cp)" \
	    [ "$ce$cp" = 00000000000000000000000000000000 ]
	v=$(proc_field "$st" CapBnd)
	check "$role $pid: empty capability bounding set (CapBnd: $v)" \
	    [ "$v" = 0000000000000000 ]
	v=$(awk '/^Max processes/ { print $3, $4 }' "/proc/$pid/limits")
	check "$role $pid: may start no process (Max processes: $v)" \
	    [ "$v" = "0 0" ]
	v=$(awk '/^Max core file size/ { print $5, $6 }' "/proc/$pid/limits")
	check "$role $pid: leaves no core dump (Max core file size: $v)" \
	    [ "$v" = "0 0" ]
	# A process that is not dumpable has its /proc files owned by root.
	v=$(stat -c %U "/proc/$pid/status")
	check "$role $pid: not dumpable (/proc/$pid/status owned by $v)" \
	    [ "$v" = root ]
	v=$(readlink "/proc/$pid/root")
	check "$role $pid: chroot $root (root: $v)" [ "$v" = "$root" ]
	v=$(cmdline "$pid")
	case $v in
	"dsrvd: $role"*) ok "$role $pid: title \"dsrvd: $role\"" ;;
	*) notok "$role $pid: title \"dsrvd: $role\" (cmdline: '$v')" ;;
	esac
}

# no_data_fds ROLE PID: nothing open under the data directory.
no_data_fds() {
	bad=
	for fd in /proc/"$2"/fd/*; do
		l=$(readlink "$fd") || continue
		case $l in
		"$DATA"|"$DATA"/*) bad="$bad ${fd##*/}->$l" ;;
		esac
	done
	check "$1 $2: no open file in the data directory${bad:+:$bad}" \
	    [ -z "$bad" ]
}

for p in $net; do
	check_child network "$p" "$uid_net" "$gid_net" /var/empty
	no_data_fds network "$p"
done
for p in $cry; do
	check_child crypto "$p" "$uid_cry" "$gid_cry" /var/empty
	no_data_fds crypto "$p"
done
for p in $sto; do
	check_child storage "$p" "$uid_sto" "$gid_sto" "$DATA"
done

# A child made to fork as an attacker inside it would no longer gets
# as far as NPROC 0: its system call filter kills it (sandbox.sh).
check "the daemon still answers dctl status" dctl status

# The data directory stays root's: storage's group may read and
# search it, nobody may add to it but root, and only add.
check "data directory root:_dsrvdata, mode 750, append-only" \
    store_dir "$DATA" "750 root:_dsrvdata" a

# Listening sockets belong to the parent and the network side only.
lsock=$(ss -Htlnp 2>/dev/null | awk -v a="127.0.0.1:$PORT" '$4 == a')
bad=
for p in $cry $sto; do
	case $lsock in
	*"pid=$p,"*) bad="$bad $p" ;;
	esac
done
check "crypto and storage do not hold the listening socket${bad:+:$bad}" \
    [ -z "$bad" ]

stop_dsrvd
result $? "dsrvd stops on SIGTERM with status 0"

# Network, made to stop crypto (SIGSTOP) as an attacker inside it would
# to hang every handshake: the kernel refuses (crypto has a user of its
# own), or the system call filter kills network first; crypto never
# stops.  Last, for the daemon stops when network is killed.
start_dsrvd "$CONF" || bail "dsrvd did not start again"
net0=$(child_pids network | head -n 1)
cry=$(child_pids crypto | head -n 1)
sysinject "$net0" "kill($cry, SIGSTOP)" >"$T/kill.out" 2>&1
check "network $net0: kill(crypto $cry, SIGSTOP) fails (EPERM, or SIGSYS)" \
    grep -Eq '= -1 EPERM|killed by signal SIGSYS' "$T/kill.out"
diagfile "$T/kill.out"
v=$(sed 's/.*) //' "/proc/$cry/stat" 2>/dev/null | cut -c1)
check "crypto $cry was not stopped (state ${v:-gone})" [ "$v" != T ]
stop_dsrvd

finish
