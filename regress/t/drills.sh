#!/bin/sh
# needs: root
# Attack drills against the live network and crypto processes: each is
# made (ptrace, regress/tools/sysinject) to run a system call an
# attacker who took it over would want -- open files, make sockets,
# reach the network, run a program, signal or trace the other
# processes, see other processes' memory, leave its sandbox.  Every
# attempt must fail, or kill the process by SIGSYS (then the daemon
# stops with a line naming the process and the call, and starts again
# without losing anything).  The storage process's drills are in
# addonly.sh.

. "$REGRESS/lib.sh"
storage_tmpdir
need_bins
ensure_users
ensure_chroot || bail "cannot prepare /var/empty"
SYSINJECT=$REGRESS/tools/sysinject
[ -x "$SYSINJECT" ] || bail "no $SYSINJECT (make builds it)"

storage_conf || bail "cannot write the configuration"
start_dsrvd "$CONF" || bail "dsrvd did not start"
rand_file "$T/c1" 5000
check "put ab/one" cdctl chunk put ab/one "$T/c1"
SUM=$(sha256sum <"$DATA/ab/one")

pids() {
	NET=$(child_pids network | head -n 1)
	NET2=$(child_pids network | sed -n 2p)
	CRY=$(child_pids crypto | head -n 1)
	STO=$(child_pids storage | head -n 1)
	[ -n "$NET" ] && [ -n "$CRY" ] && [ -n "$STO" ] ||
	    bail "not every child is running"
}
pids

drill_restart() {
	wait_gone "$DSRVD_PID" 10 || stop_dsrvd
	wait "$DSRVD_PID" 2>/dev/null
	start_dsrvd "$CONF" || bail "dsrvd did not start again"
	pids
}

AT=-100
ZERO120=$(i=0; while [ $i -lt 120 ]; do printf '\\x00'; i=$((i + 1)); done)
WRCREAT=65 RDONLY=0 DIRFLAG=65536

for role in network crypto; do
	if [ $role = network ]; then P=NET; else P=CRY; fi
	eval "pid=\$$P"
	drill $role "$pid" "list its root directory" "EACCES|ENOENT" \
	    "openat($AT, \"/\", $DIRFLAG, 0)"
	eval "pid=\$$P"
	drill $role "$pid" "create a file" "EACCES|EROFS" \
	    "openat($AT, \"/x\", $WRCREAT, 384)"
	eval "pid=\$$P"
	drill $role "$pid" "open /proc of the parent" "EACCES|ENOENT" \
	    "openat($AT, \"/proc/1/mem\", $RDONLY, 0)"
	eval "pid=\$$P"
	drill $role "$pid" "make a TCP socket" "EACCES|EPERM" \
	    "socket(2, 1, 0)"
	eval "pid=\$$P"
	drill $role "$pid" "make a UNIX socket" "EACCES|EPERM" \
	    "socket(1, 1, 0)"
	eval "pid=\$$P"
	drill $role "$pid" "make a socket pair" "EACCES|EPERM" \
	    "socketpair(1, 1, 0, \"xxxxxxxx\")"
	eval "pid=\$$P"
	drill $role "$pid" "run a program" "EACCES|ENOENT|EPERM" \
	    "execve(\"/bin/sh\", 0, 0)"
	eval "pid=\$$P"
	drill $role "$pid" "run a program from a memfd" "EACCES|EPERM" \
	    "memfd_create(\"x\", 0)" \
	    "execveat(\$1, \"\", 0, 0, 4096)"
	eval "pid=\$$P"
	drill $role "$pid" "stop the storage process" "EPERM" \
	    "kill($STO, 19)"
	eval "pid=\$$P"
	drill $role "$pid" "signal the parent" "EPERM" "kill($DSRVD_PID, 15)"
	eval "pid=\$$P"
	drill $role "$pid" "trace the storage process" "EPERM" \
	    "ptrace(16, $STO, 0, 0)"
	eval "pid=\$$P"
	drill $role "$pid" "read another process's memory" "EPERM|ESRCH|EFAULT" \
	    "process_vm_readv($STO, \"xxxxxxxxxxxxxxxx\", 1, \"xxxxxxxxxxxxxxxx\", 1, 0)"
	eval "pid=\$$P"
	drill $role "$pid" "set up io_uring" "EPERM|ENOSYS" \
	    "io_uring_setup(1, \"$ZERO120\")"
	eval "pid=\$$P"
	drill $role "$pid" "leave its namespaces" "EPERM|EINVAL" "unshare(268435456)"
	eval "pid=\$$P"
	drill $role "$pid" "fork" "EAGAIN|EPERM" "fork()"
done

# Network and crypto must not be able to stop each other: crypto has
# a user of its own.
drill network "$NET" "stop the crypto process" "EPERM" "kill($CRY, 19)"
drill crypto "$CRY" "stop a network process" "EPERM" "kill($NET, 19)"
[ -n "$NET2" ] && drill network "$NET" "stop the other network process" \
    "EPERM|ESRCH" "kill($NET2, 19)"

diag "$DRILL_KILLED drills killed a process by SIGSYS"
check "the daemon serves after the drills" cdctl ping
rm -f "$T/got"
check "ab/one reads back" cdctl chunk get ab/one "$T/got"
check "... with its bytes" cmp "$T/c1" "$T/got"
check "... and is the same file on disk" \
    [ "$(sha256sum <"$DATA/ab/one")" = "$SUM" ]
stop_dsrvd
finish
