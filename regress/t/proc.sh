#!/bin/sh
# needs: root
# The privsep core: a broken channel between two processes ends the
# whole daemon, with a log line that names both; a peer a role's table
# does not list is refused.  The live processes are made to misbehave
# from outside, as an attacker running code inside one would: gdb
# attaches to a running child and has it send what it never would.

. "$REGRESS/lib.sh"
tmpdir
need_bins
ensure_users
ensure_chroot || bail "cannot prepare /var/empty"
command -v gdb >/dev/null 2>&1 || bail "no gdb (regress/deps.sh installs it)"
PROCTOOL=$REGRESS/tools/proctool
[ -x "$PROCTOOL" ] || bail "no $PROCTOOL: run make"

# daemon_gone SECS: the parent and every child it had are gone.
daemon_gone() {
	wait_gone "$DSRVD_PID" "$1" || return 1
	for _k in $ALLKIDS; do
		wait_gone "$_k" 2 || return 1
	done
}

# fresh: a new daemon on the standard configuration.
fresh() {
	PORT='' DATA=''
	std_conf "$T/dsrvd.$1.conf"
	start_dsrvd "$CONF" || bail "dsrvd did not start"
	ALLKIDS=$(kids "$DSRVD_PID")
	NET0=$(child_pids network | head -n 1)
}

# 1. A child sends a peer a type that peer does not take.
fresh a
if inject "$NET0" "imsgev_compose('proc.c'::chans[PROC_CRYPTO][0], 999, \
0, 0, -1, (void *)0, 0)"; then
	check "network -> crypto, unknown type: the whole daemon stopped" \
	    daemon_gone 10
	check "crypto's log line names both processes and the type" \
	    grep -Eq "fatal in crypto: network\[[0-9]+\] sent unknown \
message type 999, which is not in crypto's table for network" "$DSRVD_LOG"
	check "the parent says which child it lost" \
	    grep -Eq "lost child: crypto \(pid [0-9]+\) exited with status 1" \
	    "$DSRVD_LOG"
else
	notok "network -> crypto, unknown type: injection failed"
fi

# 2. A known type from the wrong peer: only storage asks for seals.
fresh b
if inject "$NET0" "imsgev_compose(&'proc.c'::cenv.parent, IMSG_ST_SEAL, \
0, 0, -1, (void *)0, 0)"; then
	check "network -> parent, a storage message: the whole daemon stopped" \
	    daemon_gone 10
	check "the parent's log line names the sender, the type and its table" \
	    grep -Eq "fatal in parent: network\[[0-9]+\] sent IMSG_ST_SEAL, \
which is not in parent's table for network" "$DSRVD_LOG"
	check "the parent removed its control socket on the way out" \
	    [ ! -e "$SOCK" ]
else
	notok "network -> parent, a storage message: injection failed"
fi

# 3. A listed type without the fd it must carry.
fresh c
if inject "$NET0" "imsgev_compose('proc.c'::chans[PROC_STORAGE][0], \
IMSG_ST_WRITE, 0, 0, -1, (void *)0, 0)"; then
	check "network -> storage, WRITE without its memfd: the daemon stopped" \
	    daemon_gone 10
	check "storage's log line names the sender and the type" \
	    grep -Eq "fatal in storage\[0\]: network\[[0-9]+\] sent \
IMSG_ST_WRITE without its fd" "$DSRVD_LOG"
else
	notok "network -> storage, WRITE without memfd: injection failed"
fi

# 3b. An fd to a process that takes none from that peer: crypto's
# channels do not even accept one.
fresh c2
if inject "$NET0" "imsgev_compose('proc.c'::chans[PROC_CRYPTO][0], \
IMSG_HS_ABORT, 7, 0, (int)memfd_create(\"x\", 0), (void *)0, 0)"; then
	check "network -> crypto, a message with an fd: the daemon stopped" \
	    daemon_gone 10
	check "crypto's log line names the channel it came on" \
	    grep -Eq "fatal in crypto: channel to network\[[0-9]+\]: read: " \
	    "$DSRVD_LOG"
else
	notok "network -> crypto, a message with an fd: injection failed"
fi

# 4. A listed type of the wrong size: the reader refuses it.
fresh d
if inject "$NET0" "imsgev_compose('proc.c'::chans[PROC_CRYPTO][0], \
IMSG_HS_FINISH, 7, 0, -1, \"x\", 1)"; then
	check "network -> crypto, a short FINISH: the daemon stopped" \
	    daemon_gone 10
	check "crypto's log line names the type, the sender and the size" \
	    grep -Eq "fatal in crypto: crypto_dispatch_finish: IMSG_HS_FINISH \
from network\[[0-9]+\]: bad message \(1 bytes\)" "$DSRVD_LOG"
else
	notok "network -> crypto, short FINISH: injection failed"
fi

# 5. Peers not in a role's table are refused at start-up.  proctool
# plays the parent: it offers the child the channels named.
run_child() {
	"$PROCTOOL" "$DSRVD" "$@" >"$T/pt.out" 2>"$T/pt.err"
}
run_child crypto -1 _dsrvcrypto /var/empty network 0
check "crypto with a network peer starts (hello, exit 0)" \
    grep -qx 'hello' "$T/pt.out"
grep -qx 'exit 0' "$T/pt.out" || diagfile "$T/pt.err"

# Crypto sends storage the grants of the sessions it accepts.
run_child crypto -1 _dsrvcrypto /var/empty network 0 storage 0 storage 1
check "crypto with network and storage peers starts (hello, exit 0)" \
    grep -qx 'hello' "$T/pt.out"
grep -qx 'exit 0' "$T/pt.out" || diagfile "$T/pt.err"

run_child storage 0 _dsrvdata /var/empty storage 1
check "storage offered a channel to another storage worker refuses it" \
    grep -q "parent offered a channel to storage\[1\], which is not in \
storage's peer table" "$T/pt.err"

run_child network 0 _dsrvd /var/empty network 1
check "network offered a channel to another network worker refuses it" \
    grep -q "parent offered a channel to network\[1\], which is not in \
network's peer table" "$T/pt.err"

finish
