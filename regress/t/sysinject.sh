#!/bin/sh
# needs: root
# regress/tools/sysinject, the tool the attack drills use to make a
# live process execute system calls.  Against its own test targets
# (sysinject -T): results, string and $N arguments, errors, -q, a call
# a seccomp filter punishes with SIGSYS, usage errors; and that the
# target carries on as before, still blocked in nanosleep, pause or
# read, with an interrupted relative sleep restarted for what was left
# of it, and answering a signal.  Then against a running dsrvd: the
# storage child's uid, a file the network child cannot reach, and the
# daemon still serving afterwards.

: "${REGRESS:=$(cd "$(dirname "$0")/.." && pwd)}"
. "$REGRESS/lib.sh"
storage_tmpdir
need_bins
[ -x "$SYSINJECT" ] || bail "sysinject not built ($SYSINJECT; make)"

# target MODE [args]: start "sysinject -T MODE", its output in
# $T/target.MODE.out; sets TPID once it says "ready".
target() {
	TOUT=$T/target.$1.out
	"$SYSINJECT" -T "$@" >"$TOUT" 2>&1 &
	TPID=$!
	add_bgpid "$TPID"
	_n=50
	while [ "$_n" -gt 0 ]; do
		grep -qx ready "$TOUT" && return 0
		sleep 0.1
		_n=$((_n - 1))
	done
	diag "sysinject -T $* did not get ready:"
	diagfile "$TOUT"
	return 1
}

# inj ARGS...: sysinject, its output in $T/inj.out, its status in $IRC.
inj() {
	sysinject "$@" >"$T/inj.out" 2>&1
	IRC=$?
}

# out_is TEXT: $T/inj.out is exactly TEXT (lines as printf %s\n).
out_is() {
	printf '%s\n' "$@" >"$T/inj.want"
	cmp -s "$T/inj.want" "$T/inj.out" && return 0
	echo "output differs from what was expected:"
	diff "$T/inj.want" "$T/inj.out"
	return 1
}

# restart_syscall, which the kernel runs for an interrupted sleep.
case $(uname -m) in
x86_64)		RESTART_NR=219 ;;
aarch64)	RESTART_NR=128 ;;
*)		RESTART_NR=none ;;
esac

# blocked PID SYSCALL: PID sleeps in the system call numbered SYSCALL,
# or in restart_syscall.
blocked() {
	_st=$(sed 's/.*) //' "/proc/$1/stat" | cut -c1)
	_sc=$(cut -d' ' -f1 "/proc/$1/syscall")
	[ "$_st" = S ] && { [ "$_sc" = "$2" ] || [ "$_sc" = "$RESTART_NR" ]; } &&
	    return 0
	echo "state $_st, in system call $_sc, expected S in $2"
	return 1
}

# no_wake: the target's call has not come back.
no_wake() {
	grep -q '^woke' "$TOUT" || return 0
	echo "the target woke up:"
	cat "$TOUT"
	return 1
}

# answers_usr1 NAME: after SIGUSR1 the target's handler ran and its
# call came back with EINTR.
answers_usr1() {
	kill -USR1 "$TPID" || return 1
	_n=50
	while [ "$_n" -gt 0 ]; do
		grep -qx 'signal SIGUSR1' "$TOUT" &&
		    grep -Eq "^woke: $1 = -1 EINTR" "$TOUT" && return 0
		sleep 0.1
		_n=$((_n - 1))
	done
	echo "no SIGUSR1 and EINTR from $1:"
	cat "$TOUT"
	return 1
}

# put_get: a chunk stored and fetched back the same.
put_get() {
	cdctl chunk put ab/c1 "$T/chunk" &&
	    cdctl chunk get ab/c1 "$T/chunk.back" &&
	    cmp "$T/chunk" "$T/chunk.back"
}

# 1. Calls and their results, against a target asleep in nanosleep.
target sleep || bail "no test target"
SC0=$(cut -d' ' -f1 "/proc/$TPID/syscall")
FDS0=$(ls "/proc/$TPID/fd" | wc -l)
inj "$TPID" 'getpid()'
check "getpid() returns the target's pid" out_is "getpid() = $TPID"
check "exit status 0" [ "$IRC" -eq 0 ]

F=$T/made.by.target
inj "$TPID" "openat(AT_FDCWD, \"$F\", O_WRONLY|O_CREAT|O_EXCL, 0600)" \
    'write($1, "hello", 5)' 'close($1)'
FD=$(sed -n 's/^openat(.*) = \([0-9][0-9]*\)$/\1/p' "$T/inj.out")
check "openat of a new file returns a descriptor" [ -n "$FD" ]
check "write(\$1) and close(\$1) use it" out_is \
    "openat(AT_FDCWD, \"$F\", O_WRONLY|O_CREAT|O_EXCL, 0600) = $FD" \
    'write($1, "hello", 5) = 5' 'close($1) = 0'
printf hello >"$T/hello"
check "the file holds \"hello\"" cmp "$T/hello" "$F"
check "it was made with the target's mode argument" \
    [ "$(stat -c %a "$F")" = 600 ]
check "the target holds no more descriptors than before" \
    [ "$(ls "/proc/$TPID/fd" | wc -l)" -eq "$FDS0" ]

inj "$TPID" "openat(AT_FDCWD, \"$F.esc\", O_WRONLY|O_CREAT, 0644)" \
    'write($1, "q\"b\\s\x41\n", 7)' 'close($1)'
printf 'q"b\\sA\n' >"$T/esc"
check "escapes in a string (quote, backslash, hex, newline)" \
    cmp "$T/esc" "$F.esc"

inj "$TPID" "unlinkat(-100, \"$F\", 0)"
check "unlinkat returns 0" out_is "unlinkat(-100, \"$F\", 0) = 0"
check "and the file is gone" no_file "$F"

inj "$TPID" "openat(AT_FDCWD, \"$T/missing/x\", O_RDONLY)" 'getpid()'
check "a failing call: -1 ENOENT with its text, the next call runs" \
    out_is "openat(AT_FDCWD, \"$T/missing/x\", O_RDONLY) = -1 ENOENT \
(No such file or directory)" "getpid() = $TPID"
check "a failing call is still exit status 0" [ "$IRC" -eq 0 ]

inj -q "$TPID" 'getpid()' 'getppid()' "unlinkat(-100, \"$F\", 0)"
check "-q: only the results" out_is "$TPID" "$$" "-1 ENOENT \
(No such file or directory)"

check "the target is still asleep in the same call" \
    blocked "$TPID" "$SC0"
sleep 0.3
check "its nanosleep did not come back" no_wake
check "it answers SIGUSR1 as before" answers_usr1 nanosleep

# 2. Blocked in pause and in read at attach time.
for m in pause read; do
	target "$m" || {
		notok "no $m target"
		continue
	}
	sc=$(cut -d' ' -f1 "/proc/$TPID/syscall")
	inj "$TPID" 'getpid()' 'getuid()'
	check "$m: getpid() and getuid() while it is blocked" \
	    out_is "getpid() = $TPID" "getuid() = 0"
	check "$m: still blocked in the same system call" blocked "$TPID" "$sc"
	sleep 0.3
	check "$m: the call did not come back" no_wake
	check "$m: it answers SIGUSR1 as before" answers_usr1 "$m"
done

# 3. A relative sleep interrupted by the attach goes on for what was
# left of it, as after any stop.  On arm64 the kernel's substitute for
# it is out of a tracer's reach and the sleep starts over.
if [ "$(uname -m)" = x86_64 ]; then
	target sleep -n 4 || bail "no test target"
	sleep 1.5
	inj "$TPID" 'getpid()'
	n=80
	while [ "$n" -gt 0 ] && ! grep -q '^woke' "$TOUT"; do
		sleep 0.1
		n=$((n - 1))
	done
	took=$(sed -n 's/^woke: nanosleep = 0 after \([0-9.]*\) s$/\1/p' \
	    "$TOUT" | head -n 1)
	check "a 4 s nanosleep interrupted at 1.5 s ends at 4 s ($took s)" \
	    awk -v t="${took:-99}" 'BEGIN { exit !(t >= 3.9 && t < 5.0) }'
else
	skip "restart of an interrupted relative sleep (amd64 only)"
fi

# 4. A seccomp filter that kills on getppid: the call kills the target.
target seccomp || bail "no seccomp target"
inj "$TPID" 'getpid()'
check "seccomp target: getpid() is allowed" out_is "getpid() = $TPID"
inj "$TPID" 'getppid()' 'getpid()'
check "getppid(): killed by signal SIGSYS, the next call not tried" \
    out_is "getppid(): killed by signal SIGSYS"
check "exit status 3" [ "$IRC" -eq 3 ]
wait "$TPID"
check "the target died of SIGSYS" [ "$?" -eq $((128 + 31)) ]

# 5. A signal a call raises goes to the target.
target pause || bail "no test target"
inj "$TPID" 'getpid()' 'kill($1, SIGUSR1)'
check "kill(self, SIGUSR1) = 0, and the signal is reported pending" \
    out_is "getpid() = $TPID" 'kill($1, SIGUSR1) = 0, SIGUSR1 pending'
check "the target's handler got it" \
    wait_for_log '^signal SIGUSR1$' 5 "$TOUT"

# 6. Usage and attach errors: status 2, and the target is not touched.
target pause || bail "no test target"
for c in '' 'nosuchcall()' 'getpid($1)' 'write(1, "abc)' \
    'write(1, NOSUCH, 3)' 'getpid() x' 'write(1, 2, 3, 4, 5, 6, 7)'; do
	exits 2 sysinject "$TPID" ${c:+"$c"}
	result $? "usage error, status 2: sysinject PID '$c'"
done
exits 2 sysinject 999999999 'getpid()'
result $? "a pid that does not exist: status 2"
check "the target never woke" no_wake

# 7. dsrvd's live children.
ensure_users
ensure_chroot || bail "cannot prepare /var/empty"
storage_conf || bail "cannot write the configuration"
start_dsrvd "$CONF" || bail "dsrvd did not start"
ST=$(child_pids storage | head -n 1)
NET=$(child_pids network | head -n 1)
check "the daemon has a storage child" [ -n "$ST" ]
check "and a network child" [ -n "$NET" ]

inj -q "$ST" 'getuid()' 'geteuid()'
check "storage runs as _dsrvdata" out_is "$(id -u _dsrvdata)" \
    "$(id -u _dsrvdata)"

check "dctl ping over the network still works" cdctl ping
printf 'chunk\n' >"$T/chunk"
check "a chunk put and get through storage" put_get
check "dsrvd still runs" alive "$DSRVD_PID"
check "the storage child is the same process" alive "$ST"

# Last: the sandbox kills network for this, and the daemon stops.
inj "$NET" 'openat(AT_FDCWD, "/etc/passwd", O_RDONLY)'
check "network cannot open /etc/passwd (empty chroot or sandbox)" \
    grep -Eq '= -1 (ENOENT|EACCES) |: killed by signal SIGSYS$' "$T/inj.out"
diagfile "$T/inj.out"

finish
