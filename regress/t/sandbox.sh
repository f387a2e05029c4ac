#!/bin/sh
# needs: root
# The sandbox of every child, as dsrvd(8) describes it: a system call
# filter that kills (and the parent names the call), Landlock rules,
# limits per role.  Read from /proc of the live children, then tried
# as an attacker inside each child would, by injecting calls into it.

. "$REGRESS/lib.sh"
storage_tmpdir
need_bins
ensure_users
ensure_chroot || bail "cannot prepare /var/empty"

storage_conf || bail "cannot write the configuration"
echo "max connections 100" >>"$CONF"

# start_piped: start_dsrvd with the log through a pipe.  With -d and a
# log file on stderr the children keep an unlimited FSIZE (they would
# outgrow any limit writing the log); through a pipe they get theirs.
start_piped() {
	NSTART=$((NSTART + 1))
	[ "$NSTART" -gt 1 ] && DSRVD_LOG=$T/dsrvd.$NSTART.log
	rm -f "$T/log.fifo"
	mkfifo "$T/log.fifo" || return 1
	cat "$T/log.fifo" >"$DSRVD_LOG" &
	add_bgpid $!
	"$DSRVD" -d -vv -f "$CONF" >"$T/log.fifo" 2>&1 &
	DSRVD_PID=$!
	echo "$DSRVD_PID" >>"$T/pids"
	wait_for_log "startup:" 10 && return 0
	diag "no \"startup:\" from dsrvd; its log:"
	diagfile "$DSRVD_LOG"
	return 1
}

start_piped || bail "dsrvd did not start"

check "the parent logs the sandbox at start" \
    has "$DSRVD_LOG" '^parent: sandbox: seccomp on, (landlock ABI [0-9]+|no landlock)'
abi=$(sed -n 's/.*sandbox: seccomp on, landlock ABI \([0-9]*\).*/\1/p' \
    "$DSRVD_LOG" | head -n 1)

net=$(child_pids network)
cry=$(child_pids crypto)
sto=$(child_pids storage)

# limit PID NAME: "soft hard" of a /proc/PID/limits line.
limit() {
	awk -v n="$2" 'index($0, n) == 1 {
	    s = substr($0, length(n) + 1); split(s, f, " ");
	    print f[1], f[2]; exit }' "/proc/$1/limits"
}

# The figures of the role tables: network.c, crypto.c, storage.c
# (max connections 100, the default max startups 64, MAX_WORKERS 16).
nofile_network=$((64 + 2 * 16 + 16 + 3 * 100 + 2 * 64))
nofile_crypto=$((32 + 2 * 16))
nofile_storage=$((64 + 2 * 16 + 100))
# A frame memfd (WIRE_FRAME_HDR + WIRE_FRAME_MAX + 2 pages) + 64 KiB;
# a chunk (8 MiB) + 64 KiB.
fsize_network=$((12 + 16 + 4 + 4096 + 8388608 + 2 * 4096 + 65536))
fsize_crypto=0
fsize_storage=$((8388608 + 65536))

# check_sandbox ROLE PID
check_sandbox() {
	role=$1 pid=$2 st=/proc/$2/status
	v=$(proc_field "$st" Seccomp)
	check "$role $pid: system call filter on (Seccomp: $v)" [ "$v" = 2 ]
	v=$(proc_field "$st" Seccomp_filters)
	check "$role $pid: at least one filter (Seccomp_filters: $v)" \
	    [ "${v:-0}" -ge 1 ]
	v=$(proc_field "$st" NoNewPrivs)
	check "$role $pid: no_new_privs (NoNewPrivs: $v)" [ "$v" = 1 ]
	v=$(proc_field "$st" CapBnd)
	check "$role $pid: empty bounding set (CapBnd: $v)" \
	    [ "$v" = 0000000000000000 ]
	v=$(limit "$pid" "Max processes")
	check "$role $pid: NPROC 0 ($v)" [ "$v" = "0 0" ]
	v=$(limit "$pid" "Max core file size")
	check "$role $pid: CORE 0 ($v)" [ "$v" = "0 0" ]
	eval "want=\$fsize_$role"
	v=$(limit "$pid" "Max file size")
	check "$role $pid: FSIZE $want ($v)" [ "$v" = "$want $want" ]
	eval "want=\$nofile_$role"
	v=$(limit "$pid" "Max open files")
	check "$role $pid: NOFILE $want ($v)" [ "$v" = "$want $want" ]
}

for p in $net; do check_sandbox network "$p"; done
for p in $cry; do check_sandbox crypto "$p"; done
for p in $sto; do check_sandbox storage "$p"; done

# uids: storage has its own; crypto once the configuration gives it one.
uid() {
	proc_field "/proc/$1/status" Uid | awk '{ print $1 }'
}
un=$(uid "$(echo "$net" | head -n 1)")
uc=$(uid "$cry")
us=$(uid "$(echo "$sto" | head -n 1)")
check "storage runs as a user of its own ($us; network $un, crypto $uc)" \
    [ "$us" != "$un" -a "$us" != "$uc" ]
if [ "$uc" = "$un" ]; then
	skip "crypto shares network's user (no user of its own configured)"
else
	ok "crypto runs as a user of its own ($uc, network $un)"
fi

# calls PID GDB-EXPR...: evaluate each in the live process through gdb
# (a call cast to its type: "(int)open(...)"); prints what each gave,
# one a line.
calls() {
	_p=$1
	shift
	: >"$T/gdb.cmd"
	for _e in "$@"; do
		printf 'print %s\n' "$_e" >>"$T/gdb.cmd"
	done
	timeout 60 gdb -p "$_p" -batch -nx -x "$T/gdb.cmd" >"$T/gdb.out" 2>&1
	sed -n 's/^\$[0-9]* = //p' "$T/gdb.out"
}
ERRNO='*((int *(*)(void))__errno_location)()'

# Landlock in storage: no file may be opened for writing outside
# .tmp, new or old, whoever owns it (13 is EACCES).  A new one may be
# left empty behind: the right to make a file is the right to rename
# a chunk into its directory.
s0=$(echo "$sto" | head -n 1)
if [ -z "$abi" ]; then
	skip "no landlock on this kernel"
	skip "no landlock on this kernel"
else
	r=$(calls "$s0" '(int)open("/sandbox-new", 0101, 0600)' "$ERRNO" | tr '\n' ' ')
	check "storage: no new file outside .tmp for writing ($r)" \
	    [ "$r" = "-1 13 " ]
	rm -f "$DATA/sandbox-new"
	# A file storage owns, where only Landlock can refuse.
	install -o _dsrvdata -m 600 /dev/null "$DATA/sandbox-old" &&
	    r=$(calls "$s0" '(int)open("/sandbox-old", 01)' "$ERRNO" | tr '\n' ' ')
	check "storage: not its own file outside .tmp either ($r)" \
	    [ "$r" = "-1 13 " ]
	rm -f "$DATA/sandbox-old"
fi
check "storage still running" alive "$s0"

# A chunk stored before the attacks, read back after each restart.
rand_file "$T/c1" 5000
check "a chunk is stored" cdctl chunk put ab/sandbox.1 "$T/c1"

# A listing of more than 128 names: qsort(3) then asks for the memory
# size (sysinfo), once per process.
echo x >"$T/small"
i=0
while [ "$i" -lt 140 ]; do
	cdctl chunk put "ls/n$i" "$T/small" >/dev/null 2>&1 || break
	i=$((i + 1))
done
check "140 chunks stored in one directory ($i)" [ "$i" -eq 140 ]
for n in 1 2; do
	cdctl chunk ls ls >"$T/ls.out" 2>&1 || break
done
check "they are listed, all of them" [ "$(wc -l <"$T/ls.out")" -eq 140 ]
v=$(child_pids storage | wc -l)
check "no storage worker lost ($v)" [ "$v" -eq 2 ]

check "the daemon still answers dctl status" dctl status
stop_dsrvd
result $? "dsrvd stops on SIGTERM with status 0"

# kill_with ROLE PID EXPR SYSCALL: the call kills the child by SIGSYS,
# the parent names child and call, the daemon stops, and a restart
# serves the chunk stored before.
kill_with() {
	role=$1 pid=$2 expr=$3 sc=$4
	calls "$pid" "$expr" >/dev/null
	if wait_gone "$pid" 10; then
		ok "$role $pid: $expr kills it"
	else
		notok "$role $pid: $expr kills it"
		diagfile "$T/gdb.out"
	fi
	check "the log names $role and $sc" wait_for_log \
	    "$role(\\[[0-9]+\\])?: killed by the sandbox: system call [0-9]+ \\($sc\\)" 10
	check "the parent reports the lost child" \
	    wait_for_log "lost child: $role.* terminated by signal" 5
	check "the daemon stops" wait_gone "$DSRVD_PID" 15
	start_piped
	result $? "dsrvd starts again"
	check "the chunk stored before is read back" \
	    cdctl chunk get ab/sandbox.1 "$T/c1.back"
	check "with the same bytes" cmp "$T/c1" "$T/c1.back"
	rm -f "$T/c1.back"
}

start_piped || bail "dsrvd did not start again"
kill_with crypto "$(child_pids crypto)" '(int)socket(2, 1, 0)' socket
kill_with network "$(child_pids network | head -n 1)" \
    '(int)execve("/bin/sh", 0, 0)' execve
kill_with storage "$(child_pids storage | head -n 1)" \
    '(int)fallocate(0, 0, 0, 4096)' fallocate
kill_with network "$(child_pids network | tail -n 1)" '(int)fork()' clone
kill_with storage "$(child_pids storage | tail -n 1)" \
    '(int)unlink("/ab/sandbox.1")' unlink
stop_dsrvd
result $? "dsrvd stops on SIGTERM with status 0"

finish
