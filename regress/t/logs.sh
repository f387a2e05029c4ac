#!/bin/sh
# needs: root
# Logs the children cannot forge: every line names its process; a child
# holds no log file (its stdin, stdout and stderr are /dev/null) and
# logs only through the parent, which escapes what it sends, refuses a
# bad priority and drops, with a count, what a flooding child sends
# beyond its share.  The live children are made to try, through gdb,
# as an attacker running code inside one would.

. "$REGRESS/lib.sh"
tmpdir
need_bins
ensure_users
ensure_chroot || bail "cannot prepare /var/empty"
command -v gdb >/dev/null 2>&1 || bail "no gdb (regress/deps.sh installs it)"

# make SANITIZE=1 keeps the children's stderr for the sanitizers' reports.
SANITIZED=0
grep -qa __asan_init "$DSRVD" && SANITIZED=1

# fresh NAME: a new daemon on the standard configuration.
fresh() {
	PORT='' DATA=''
	std_conf "$T/dsrvd.$1.conf"
	start_dsrvd "$CONF" || bail "dsrvd did not start"
	ALLKIDS=$(kids "$DSRVD_PID")
}

# daemon_gone SECS: the parent and every child it had are gone.
daemon_gone() {
	wait_gone "$DSRVD_PID" "$1" || return 1
	for _k in $ALLKIDS; do
		wait_gone "$_k" 2 || return 1
	done
}

# fds_null PID: its fds 0, 1 and 2 are /dev/null (2 stays in a sanitizer
# build), and no other fd is the log file.
fds_null() {
	for _fd in 0 1 2; do
		[ "$_fd" = 2 ] && [ "$SANITIZED" = 1 ] && continue
		_l=$(readlink "/proc/$1/fd/$_fd")
		[ "$_l" = /dev/null ] || {
			echo "pid $1: fd $_fd is $_l"
			return 1
		}
	done
	for _f in /proc/"$1"/fd/*; do
		[ "${_f##*/}" = 2 ] && [ "$SANITIZED" = 1 ] && continue
		[ "$(readlink "$_f")" = "$DSRVD_LOG" ] && {
			echo "pid $1: ${_f##*/} is the log file"
			return 1
		}
	done
	return 0
}

# line_before A B: the first line matching A comes before the first
# matching B (fixed strings).
line_before() {
	_a=$(grep -nF -- "$1" "$DSRVD_LOG" | head -n 1 | cut -d: -f1)
	_b=$(grep -nF -- "$2" "$DSRVD_LOG" | head -n 1 | cut -d: -f1)
	[ -n "$_a" ] && [ -n "$_b" ] && [ "$_a" -lt "$_b" ] && return 0
	echo "\"$1\" at line ${_a:-none}, \"$2\" at line ${_b:-none}"
	return 1
}

### 1. Every line names its process.
fresh a
NET0=$(child_pids network | head -n 1)
NET1=$(child_pids network | sed -n 2p)
CRYPTO=$(child_pids crypto)
ST0=$(child_pids storage | head -n 1)
ST1=$(child_pids storage | sed -n 2p)
for l in 'network[0]' 'network[1]' crypto 'storage[0]' 'storage[1]'; do
	re=$(echo "$l" | sed 's/[][]/\\&/g')
	check "$l's debug line carries its name" \
	    wait_for_log "^$re: privileges dropped, running as _dsrv" 5
done
check "the parent's lines carry its name" \
    grep -q '^parent: startup: 2 network, 2 storage workers' "$DSRVD_LOG"
check "every line starts with the name of a process" \
    not grep -Ev '^(parent|network\[[01]\]|crypto|storage\[[01]\]): ' \
    "$DSRVD_LOG"

### 2. No child holds the log file.
for pl in "$NET0 network[0]" "$NET1 network[1]" "$CRYPTO crypto" \
    "$ST0 storage[0]" "$ST1 storage[1]"; do
	check "${pl#* }: fds 0, 1, 2 are /dev/null, none is the log" \
	    fds_null "${pl%% *}"
done

n=$(wc -l <"$DSRVD_LOG")
for pl in "$NET0 network[0]" "$CRYPTO crypto" "$ST0 storage[0]"; do
	p=${pl%% *}
	name=${pl#* }
	if inject "$p" 'write(1, "forged by a child\n", 18)' 18; then
		ok "$name: write(1) goes to /dev/null"
	else
		notok "$name: write(1) to the log: injection failed"
	fi
	if [ "$SANITIZED" = 1 ]; then
		skip "$name: write(2): a sanitizer build keeps stderr"
	elif inject "$p" 'write(2, "forged by a child\n", 18)' 18; then
		ok "$name: write(2) goes to /dev/null"
	else
		notok "$name: write(2) to the log: injection failed"
	fi
done
check "nothing a child wrote to fd 1 or 2 reached the log" \
    not grep -q "forged by a child" "$DSRVD_LOG"
check "the log did not shrink or lose lines" \
    [ "$(wc -l <"$DSRVD_LOG")" -ge "$n" ]

### 3. A line with a newline and control characters shows escaped.
EVIL='evil\nparent: forged line\033[31m\t'
if inject "$NET0" "(log_warnx(\"$EVIL\"), 0)"; then
	check "a newline, an escape and a tab are escaped, in one line" \
	    wait_for_log \
	    '^network\[0\]: evil\\nparent: forged line\\033\[31m\\t$' 5
	check "no line starts where the child put a newline" \
	    not grep -q '^parent: forged line' "$DSRVD_LOG"
else
	notok "a line with control characters: injection failed"
fi
# libevent's own warnings would go to stderr: they go to the parent too,
# along with the next line.
if inject "$NET0" '(((void (*)(void *))event_base_free)(0), 0)' &&
    inject "$NET0" '(log_warnx("after libevent"), 0)'; then
	check "a libevent warning reaches the log under the child's name" \
	    wait_for_log '^network\[0\]: libevent: .*no base to free' 5
	check "... before the line that took it along" \
	    line_before 'libevent: ' 'network[0]: after libevent'
else
	notok "a libevent warning: injection failed"
fi
# 3000 digits, the last one 7: the line is cut well before it.
if inject "$NET0" '(log_warnx("long %0*d", 3000, 7), 0)'; then
	check "a long line is cut" wait_for_log '^network\[0\]: long 0{1000}' 5
	check "a long line is cut to $((12 + 1023)) bytes at most" \
	    not grep -Eq '^network\[0\]: long 0*7$|^.{1036}' "$DSRVD_LOG"
else
	notok "a long line: injection failed"
fi

### 4. A flood is cut to the child's share, and the rest counted.
NFLOOD=2000
cat >"$T/flood.gdb" <<EOF
set \$i = 0
while \$i < $NFLOOD
call (void)log_info("flood line %d", \$i)
set \$i = \$i + 1
end
EOF
if timeout 240 gdb -p "$NET1" -batch -nx -x "$T/flood.gdb" \
    >"$T/gdb.flood.out" 2>&1; then
	check "the flood is reported: network[1] logs too much: N lines dropped" \
	    wait_for_log \
	    '^parent: network\[1\] logs too much: [0-9]+ lines dropped$' 5
	sleep 1.5
	nshown=$(log_count '^network\[1\]: flood line ')
	ndropped=$(sed -n 's/^parent: network\[1\] logs too much: '\
'\([0-9]*\) lines dropped$/\1/p' "$DSRVD_LOG" |
	    awk '{ s += $1 } END { print s + 0 }')
	diag "flood of $NFLOOD lines: $nshown shown, $ndropped dropped"
	check "at most a burst of the flood reached the log ($nshown)" \
	    [ "$nshown" -le 700 ]
	check "every line is either shown or counted ($nshown + $ndropped)" \
	    [ "$((nshown + ndropped))" -eq "$NFLOOD" ]
	check "the daemon lives on" alive "$DSRVD_PID"
	sleep 1
	if inject "$NET1" '(log_warnx("after the flood"), 0)'; then
		check "once its share is back, the child's lines show again" \
		    wait_for_log '^network\[1\]: after the flood$' 5
	else
		notok "a line after the flood: injection failed"
	fi
else
	notok "flood: gdb failed"
	diagfile "$T/gdb.flood.out"
fi
check "the flood took no other process's lines" \
    not grep -Eq '^(network\[0\]|crypto|storage\[[01]\]|parent): flood line' \
    "$DSRVD_LOG"
stop_dsrvd

### 5. A child's fatal line comes before the line that it is gone.
fresh b
ST1=$(child_pids storage | sed -n 2p)
timeout 60 gdb -p "$ST1" -batch -nx \
    -ex 'call (void)fatalx("forced by logs.sh")' >"$T/gdb.fatal.out" 2>&1
check "storage[1] exits on fatalx, and the daemon with it" daemon_gone 10
check "its fatal line is in the log, under its name" \
    grep -q '^storage\[1\]: fatal in storage\[1\]: forced by logs.sh$' \
    "$DSRVD_LOG"
check "its fatal line comes before the parent's \"lost child\"" \
    line_before 'storage[1]: fatal in storage[1]: forced by logs.sh' \
    "parent: lost child: storage[1] (pid $ST1) exited with status 1"

### 6. A line at a priority a child may not use is a bad message.
fresh c
NET0=$(child_pids network | head -n 1)
if inject "$NET0" "imsgev_compose(&'proc.c'::cenv.parent, IMSG_LOG, 0, 0, \
-1, \"\\001\\000\\000\\000x\", 6)"; then
	check "LOG_ALERT from network: the whole daemon stopped" daemon_gone 10
	check "the parent's line names the type, the sender and the size" \
	    grep -Eq "^parent: fatal in parent: proc_log_dispatch: IMSG_LOG \
from network\[0\]: bad message \(6 bytes\)" "$DSRVD_LOG"
else
	notok "LOG_ALERT from network: injection failed"
fi

### 7. So is text that does not end at its only NUL.
fresh d
NET0=$(child_pids network | head -n 1)
if inject "$NET0" "imsgev_compose(&'proc.c'::cenv.parent, IMSG_LOG, 0, 0, \
-1, \"\\006\\000\\000\\000ab\", 6)"; then
	check "unterminated text from network: the whole daemon stopped" \
	    daemon_gone 10
	check "the parent's line says it was a bad message" \
	    grep -Eq "^parent: fatal in parent: proc_log_dispatch: IMSG_LOG \
from network\[0\]: bad message \(6 bytes\)" "$DSRVD_LOG"
else
	notok "unterminated text from network: injection failed"
fi

### 8. Daemonised, to syslog: only the parent talks to syslog, and each
### line names its process.  A private mount namespace gets a /dev of its
### own with a stand-in syslogd on /dev/log: the host's is left alone.
cat >"$T/syslogd.py" <<'EOT'
import os, socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind("/dev/log")
os.chmod("/dev/log", 0o666)
open(sys.argv[2], "w").close()
with open(sys.argv[1], "ab", buffering=0) as f:
    while True:
        f.write(s.recv(65536) + b"\n")
EOT
# In the namespace: /dev, the syslogd, dsrvd; both stop when told to.
cat >"$T/syslog.sh" <<'EOT'
T=$1 DSRVD=$2 CONF=$3
case $T in
/tmp/?*) ;;
*) exit 1 ;;
esac
mount -t tmpfs -o mode=755 tmpfs /dev || exit 1
mknod -m 666 /dev/null c 1 3 && mknod -m 666 /dev/zero c 1 5 &&
    mknod -m 666 /dev/random c 1 8 && mknod -m 666 /dev/urandom c 1 9 ||
    exit 1
python3 "$T/syslogd.py" "$T/syslog.out" "$T/syslogd.ready" &
sp=$!
trap 'kill "$sp" 2>/dev/null' EXIT
trap 'exit 1' TERM INT
n=50
while [ ! -e "$T/syslogd.ready" ] && [ "$n" -gt 0 ]; do
	sleep 0.1
	n=$((n - 1))
done
"$DSRVD" -vv -f "$CONF" -p "$T/syslog.pid" || { kill "$sp"; exit 1; }
n=1200
while [ ! -e "$T/syslog.stop" ] && [ "$n" -gt 0 ]; do
	sleep 0.1
	n=$((n - 1))
done
[ -s "$T/syslog.pid" ] && kill -TERM "$(cat "$T/syslog.pid")"
sleep 2
EOT
PORT='' DATA=''
std_conf "$T/dsrvd.e.conf"
SYSLOG=$T/syslog.out
unshare -m --propagation private sh "$T/syslog.sh" "$T" "$DSRVD" "$CONF" \
    >"$T/syslog.sh.out" 2>&1 &
SLSH=$!
add_bgpid $SLSH
SPID=
if wait_for_log 'parent: startup: ' 10 "$SYSLOG" &&
    SPID=$(cat "$T/syslog.pid") && [ -n "$SPID" ]; then
	echo "$SPID" >>"$T/pids"
	check "syslog: the parent's lines start with \"parent: \"" \
	    grep -q "dsrvd\[$SPID\]: parent: startup: " "$SYSLOG"
	check "syslog: each child's lines name it, and the parent sends them" \
	    wait_for_log "dsrvd\[$SPID\]: storage\[1\]: privileges dropped" \
	    5 "$SYSLOG"
	check "syslog: every line names its process" \
	    not grep -Ev 'dsrvd\[[0-9]+\]: (parent|network\[[01]\]|crypto|'\
'storage\[[01]\]): ' "$SYSLOG"
	check "syslog: no other process sent a child's line" \
	    [ -z "$(grep -E ': (network|crypto|storage)' "$SYSLOG" |
	    grep -v "dsrvd\[$SPID\]: ")" ]
	SNET0=$(child_pids network "$SPID" | head -n 1)
	SST0=$(child_pids storage "$SPID" | head -n 1)
	for pl in "$SNET0 network[0]" "$SST0 storage[0]"; do
		check "syslog: ${pl#* }: fds 0, 1, 2 are /dev/null" \
		    fds_null "${pl%% *}"
	done
	inject "$SNET0" '(log_warnx("the last line"), 0)'
	check "syslog: a line through the parent arrives" \
	    wait_for_log 'network\[0\]: the last line' 5 "$SYSLOG"
	# A child has no syslog socket; the socket syslog(3) would make
	# to reach syslogd is one the sandbox kills it for.
	sysinject "$SST0" 'socket(AF_UNIX, SOCK_DGRAM, 0)' >"$T/sl.out" 2>&1
	check "syslog: storage[0] making syslog(3)'s socket is killed" \
	    grep -q "killed by signal SIGSYS" "$T/sl.out"
	check "syslog: ... and the parent says so" wait_for_log \
	    'storage\[0\]: killed by the sandbox: system call [0-9]+ \(socket\)' \
	    5 "$SYSLOG"
else
	notok "dsrvd did not start as a daemon with a stand-in syslogd"
	diagfile "$T/syslog.sh.out"
	diagfile "$SYSLOG"
fi
touch "$T/syslog.stop"
[ -n "$SPID" ] && wait_gone "$SPID" 10
# The namespace's shell stops its syslogd on the way out.
wait "$SLSH"
check "syslog: the daemon stopped, its last line \"parent: terminating\"" \
    wait_for_log 'dsrvd\[[0-9]+\]: parent: terminating$' 10 "$SYSLOG"

finish
