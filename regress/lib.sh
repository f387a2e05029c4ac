# Shared helpers for regress/t/*.sh; sourced, POSIX sh.
#
# A test file does:
#	. "$REGRESS/lib.sh"
#	tmpdir
#	...	ok/notok/check lines
#	finish
#
# Everything a test creates lives under $T and goes away at exit, as do
# the daemons it started (stopped by pid, never by name).

PATH=$PATH:/usr/local/sbin:/usr/sbin:/sbin
export PATH

: "${REGRESS:=$(cd "$(dirname "$0")/.." && pwd)}"
: "${DSRVD:=$REGRESS/../dsrvd/dsrvd}"
: "${DCTL:=$REGRESS/../dctl/dctl}"

TESTNUM=0
PORT='' CONF='' DATA='' SOCK=''
NFAIL=0
T=
DSRVD_PID=
DSRVD_LOG=
MNTS=
BGPIDS=

# A description is one line whatever lists went into it.
ok() {
	TESTNUM=$((TESTNUM + 1))
	echo "ok $TESTNUM - $*" | tr '\n' ' ' | sed 's/ *$//'
	echo
}

notok() {
	TESTNUM=$((TESTNUM + 1))
	NFAIL=$((NFAIL + 1))
	echo "not ok $TESTNUM - $*" | tr '\n' ' ' | sed 's/ *$//'
	echo
	# The log of the daemon running now goes with the report.
	if [ -n "$T" ] && [ -s "$DSRVD_LOG" ] &&
	    ! grep -qxF "$DSRVD_LOG" "$T/faillogs" 2>/dev/null; then
		echo "$DSRVD_LOG" >>"$T/faillogs"
	fi
}

skip() {
	TESTNUM=$((TESTNUM + 1))
	echo "ok $TESTNUM # SKIP $*"
}

# Comment lines, TAP style, for whatever explains a failure.
diag() {
	printf '%s\n' "$@" | sed 's/^/# /'
}

diagfile() {
	[ -s "$1" ] && sed 's/^/# /' "$1"
	return 0
}

# ok/notok from a condition already computed: result STATUS text.
result() {
	if [ "$1" -eq 0 ]; then
		shift
		ok "$@"
	else
		shift
		notok "$@"
	fi
}

# check "text" cmd args...: ok when cmd exits 0; its output is shown as
# diagnostics only when it fails.
check() {
	_text=$1
	shift
	if "$@" >"$T/check.out" 2>&1; then
		ok "$_text"
	else
		notok "$_text"
		diag "command failed: $*"
		diagfile "$T/check.out"
	fi
}

# A sanitizer report anywhere in the test's logs and outputs is a
# failure, even when the test that caused it passed.
sanitizer_check() {
	[ -n "$T" ] || return 0
	for _f in "$T"/*.log "$T"/*.log.* "$T"/*.out "$T"/*.err; do
		[ -f "$_f" ] || continue
		grep -Eq 'ERROR: (Address|Leak|Undefined)Sanitizer|runtime error:' \
		    "$_f" || continue
		notok "sanitizer report in ${_f##*/}"
		grep -E -A 15 'Sanitizer|runtime error:' "$_f" | head -n 40 |
		    sed 's/^/#   /'
	done
}

# TAP plan, printed last; after a failure the end of the logs of the
# daemons that were running go with it, for whoever reads the report.
finish() {
	sanitizer_check
	if [ -s "$T/faillogs" ]; then
		while read -r _f; do
			diag "last lines of $_f:"
			tail -n 40 "$_f" | sed 's/^/#   /'
		done <"$T/faillogs"
	fi
	echo "1..$TESTNUM"
	exit 0
}

# not cmd...: succeeds when cmd fails, for check.
not() {
	! "$@"
}

alive() {
	! gone "$1"
}

# Give up on a test file: what is left cannot run.
bail() {
	notok "$*"
	finish
}

cleanup() {
	_crc=$?
	trap - EXIT HUP INT TERM
	for _p in $BGPIDS; do
		kill -KILL "$_p" 2>/dev/null
	done
	# Only daemons this test started, by pid, and only while that pid
	# still is a dsrvd.
	if [ -n "$T" ] && [ -f "$T/pids" ]; then
		while read -r _p; do
			case $(cmdline "$_p") in
			*dsrvd*) stop_pid "$_p" 5 >/dev/null 2>&1 ;;
			esac
		done <"$T/pids"
	fi
	for _m in $MNTS; do
		umount "$_m" 2>/dev/null || umount -l "$_m" 2>/dev/null
	done
	# Stored chunks are immutable: their flags come off first.
	case $T in
	/tmp/?*) chattr -R -f -ia "$T" >/dev/null 2>&1; rm -rf "$T" ;;
	esac
	exit "$_crc"
}

# Make $T, a world-traversable scratch directory (the unprivileged
# test user must reach configs and sockets in it).
tmpdir() {
	T=$(mktemp -d /tmp/dsrvd-regress.XXXXXXXX) || {
		echo "Bail out! mktemp failed"
		exit 1
	}
	T=$(cd "$T" && pwd -P)
	chmod 755 "$T"
	: >"$T/pids"
	trap cleanup EXIT
	trap 'exit 1' HUP INT TERM
	DSRVD_LOG=$T/dsrvd.log
}

# Add a user (and its group) unless it exists.
_adduser() {
	getent passwd "$1" >/dev/null && return 0
	if getent group "$1" >/dev/null; then
		useradd -r -M -s /usr/sbin/nologin -d /nonexistent \
		    -g "$1" "$1"
	else
		useradd -r -M -U -s /usr/sbin/nologin -d /nonexistent "$1"
	fi
	# Another test may have raced us to it.
	getent passwd "$1" >/dev/null
}

ensure_users() {
	for _u in _dsrvd _dsrvdata _dsrvcrypto _dsrvtest; do
		_adduser "$_u" || {
			echo "Bail out! cannot create user $_u"
			exit 1
		}
	done
}

ensure_chroot() {
	mkdir -p /var/empty && chown root:root /var/empty &&
	    chmod 755 /var/empty
}

# Is PID gone?  A zombie counts as gone: nobody may be left to reap it.
gone() {
	[ -r "/proc/$1/stat" ] || return 0
	_st=$(sed 's/.*) //' "/proc/$1/stat" 2>/dev/null | cut -c1)
	[ -z "$_st" ] || [ "$_st" = Z ]
}

# wait_gone PID [secs]
wait_gone() {
	_n=$(( ${2:-10} * 10 ))
	while [ "$_n" -gt 0 ]; do
		gone "$1" && return 0
		sleep 0.1
		_n=$((_n - 1))
	done
	gone "$1"
}

# Direct children of PID (live ones).
kids() {
	for _k in $(ps --ppid "$1" -o pid= 2>/dev/null); do
		gone "$_k" || echo "$_k"
	done
}

# Terminate PID and whatever children it had: TERM, wait, then KILL.
stop_pid() {
	_sp=$1
	gone "$_sp" && return 0
	_spk=$(kids "$_sp")
	kill -TERM "$_sp" 2>/dev/null
	wait_gone "$_sp" "${2:-10}" || kill -KILL "$_sp" 2>/dev/null
	for _k in $_spk; do
		wait_gone "$_k" 2 || kill -KILL "$_k" 2>/dev/null
	done
	wait_gone "$_sp" 2
}

# The command line of PID with NULs as spaces.
cmdline() {
	{ tr '\0' ' ' <"/proc/$1/cmdline"; } 2>/dev/null
}

# child_pids ROLE [PARENT]: children titled "dsrvd: ROLE", pid order.
child_pids() {
	for _k in $(kids "${2:-$DSRVD_PID}" | sort -n); do
		case $(cmdline "$_k") in
		"dsrvd: $1"*) echo "$_k" ;;
		esac
	done
}

# A TCP port nobody listens on, not handed out before in this test.
free_port() {
	# Stay below the kernel's ephemeral range (client sockets of earlier
	# tests linger there in TIME_WAIT) and skip ports in any TCP state.
	_lo=$(awk '{print $1}' /proc/sys/net/ipv4/ip_local_port_range 2>/dev/null)
	[ -n "$_lo" ] && [ "$_lo" -gt 12000 ] || _lo=32768
	_i=0
	while [ "$_i" -lt 200 ]; do
		_i=$((_i + 1))
		_r=$(od -An -N2 -tu2 /dev/urandom | tr -d ' ')
		_port=$((10000 + _r % (_lo - 10000)))
		grep -qx "$_port" "$T/ports" 2>/dev/null && continue
		if ss -Htan 2>/dev/null | awk '{print $4; print $5}' |
		    grep -q ":$_port\$"; then
			continue
		fi
		echo "$_port" >>"$T/ports"
		echo "$_port"
		return 0
	done
	return 1
}

# Does something listen on ADDR:PORT?
listening() {
	ss -Htln 2>/dev/null | awk '{print $4}' | grep -qx "$1:$2"
}

# write_conf FILE <<EOF
write_conf() {
	cat >"$1"
}

# std_conf [FILE]: the usual test configuration, in $T/dsrvd.conf by
# default.  Uses PORT, DATA and SOCK when set, else sets them (a free
# port, $T/data, made here, and $T/dsrvd.sock); sets CONF.
std_conf() {
	CONF=${1:-$T/dsrvd.conf}
	if [ -z "$DATA" ]; then
		DATA=$T/data
		mkdir -p "$DATA"
	fi
	: "${SOCK:=$T/dsrvd.sock}"
	[ -n "$PORT" ] || PORT=$(free_port) || return 1
	write_conf "$CONF" <<EOF
data "$DATA"
socket "$SOCK"
listen on 127.0.0.1 port $PORT
network workers 2
storage workers 2
EOF
}

# wait_for_log REGEX [secs] [file]: an extended regex in the log.
wait_for_log() {
	_n=$(( ${2:-10} * 10 ))
	_f=${3:-$DSRVD_LOG}
	while [ "$_n" -gt 0 ]; do
		grep -Eq -- "$1" "$_f" 2>/dev/null && return 0
		sleep 0.1
		_n=$((_n - 1))
	done
	grep -Eq -- "$1" "$_f" 2>/dev/null
}

# How many log lines match REGEX.
log_count() {
	grep -Ec -- "$1" "${2:-$DSRVD_LOG}" 2>/dev/null
}

# start_dsrvd CONF [args]: foreground daemon, log in $DSRVD_LOG, which
# is $T/dsrvd.log for the first and $T/dsrvd.N.log for later ones;
# waits for "startup:".
NSTART=0
start_dsrvd() {
	_conf=$1
	shift
	NSTART=$((NSTART + 1))
	[ "$NSTART" -gt 1 ] && DSRVD_LOG=$T/dsrvd.$NSTART.log
	"$DSRVD" -d -vv -f "$_conf" "$@" >"$DSRVD_LOG" 2>&1 &
	DSRVD_PID=$!
	echo "$DSRVD_PID" >>"$T/pids"
	_n=100
	while [ "$_n" -gt 0 ]; do
		if grep -q "startup:" "$DSRVD_LOG" 2>/dev/null; then
			# Children too, should one outlive its parent.
			kids "$DSRVD_PID" >>"$T/pids"
			return 0
		fi
		gone "$DSRVD_PID" && break
		sleep 0.1
		_n=$((_n - 1))
	done
	if gone "$DSRVD_PID"; then
		diag "dsrvd exited during start-up; its log:"
	else
		diag "no \"startup:\" from dsrvd within 10 s; its log:"
	fi
	diagfile "$DSRVD_LOG"
	return 1
}

# stop_dsrvd: SIGTERM, wait for the parent and its children.  Returns
# the parent's exit status (1 if it had to be killed).
stop_dsrvd() {
	[ -n "$DSRVD_PID" ] || return 0
	_ks=$(kids "$DSRVD_PID")
	kill -TERM "$DSRVD_PID" 2>/dev/null
	_rc=0
	if ! wait_gone "$DSRVD_PID" 10; then
		kill -KILL "$DSRVD_PID" 2>/dev/null
		_rc=1
	fi
	wait "$DSRVD_PID" 2>/dev/null || _rc=$?
	for _k in $_ks; do
		wait_gone "$_k" 10 || {
			kill -KILL "$_k" 2>/dev/null
			_rc=1
		}
	done
	return "$_rc"
}

# dctl with the test's socket.
dctl() {
	"$DCTL" -s "$SOCK" "$@"
}

# Run a command as the unprivileged test user.
as_user() {
	_uid=$(id -u _dsrvtest) && _gid=$(id -g _dsrvtest) || return 1
	setpriv --reuid="$_uid" --regid="$_gid" --clear-groups -- "$@"
}

# Copies of the binaries anyone may execute, for the non-root tests
# (the tree itself may sit in a directory others cannot enter).
user_bins() {
	cp "$DSRVD" "$T/dsrvd.bin" && cp "$DCTL" "$T/dctl.bin" &&
	    chmod 755 "$T/dsrvd.bin" "$T/dctl.bin"
}

# Bail out early when there is nothing to test.
need_bins() {
	[ "$(id -u)" -eq 0 ] || bail "the tests run dsrvd as root"
	[ -x "$DSRVD" ] || bail "dsrvd not built ($DSRVD)"
	[ -x "$DCTL" ] || bail "dctl not built ($DCTL)"
}

# Remember a mount (undone at exit) or a helper process (killed at exit).
add_mount() {
	MNTS="$1 $MNTS"
}

add_bgpid() {
	BGPIDS="$BGPIDS $1"
}

# field FILE KEY: the value after "KEY:" in a /proc status-like file.
proc_field() {
	awk -v k="$2:" '$1 == k { $1 = ""; sub(/^ +/, ""); print; exit }' \
	    "$1" 2>/dev/null
}

# status_pid NAME: the pid dctl status shows for parent, network[0]...
status_pid() {
	awk -v n="$1" '$1 == n { print $2; exit }' "$T/status.out"
}

# status: run dctl status into $T/status.out.
status() {
	dctl status >"$T/status.out" 2>&1
}

# has FILE REGEX: an extended regex matches a line of FILE.
has() {
	grep -Eq -- "$2" "$1" && return 0
	echo "no line matching /$2/ in:"
	cat "$1"
	return 1
}

# wait_count REGEX N [secs]: the log has more than N matching lines.
wait_count() {
	_n=$(( ${3:-5} * 10 ))
	while [ "$_n" -gt 0 ]; do
		[ "$(log_count "$1")" -gt "$2" ] && return 0
		sleep 0.1
		_n=$((_n - 1))
	done
	[ "$(log_count "$1")" -gt "$2" ]
}

# counter NAME: its value in $T/status.out.
counter() {
	awk -v n="$1" '{ v = $NF; $NF = ""; sub(/ +$/, "");
	    if ($0 == n) { print v; exit } }' "$T/status.out"
}

# counter_gt NAME N: the counter is above N.
counter_gt() {
	_v=$(counter "$1")
	[ -n "$_v" ] && [ "$_v" -gt "$2" ] 2>/dev/null && return 0
	echo "counter \"$1\" is \"$_v\", expected > $2"
	cat "$T/status.out"
	return 1
}

### storage tests (storage.sh, names.sh, durability.sh, crash.sh,
### fullfs.sh, immutable.sh, namespace.sh)

SHIM=${SHIM:-$REGRESS/tools/shim.so}

# new_key FILE: a fresh key file, mode 0600.
new_key() {
	if ! "$DCTL" keygen "$1" >/dev/null 2>&1 || [ ! -s "$1" ]; then
		rm -f "$1"
		head -c 32 /dev/urandom | base64 >"$1" || return 1
	fi
	chmod 600 "$1"
}

# storage_conf: std_conf with one key "store" ($T/store.key) allowed
# everything but admin, used by cdctl.  Sets CKEY and CKEYNAME.
storage_conf() {
	std_conf || return 1
	CKEY=$T/store.key
	CKEYNAME=store
	[ -s "$CKEY" ] || new_key "$CKEY" || return 1
	cat >>"$CONF" <<EOT
max rtt 2s
key $CKEYNAME file "$CKEY" permit read, write, list, stat
EOT
}

# cdctl args...: dctl over the network to the test daemon with key
# $CKEYNAME from $CKEY.
cdctl() {
	"$DCTL" -s "$SOCK" -r "127.0.0.1:$PORT" -k "$CKEY" -K "$CKEYNAME" "$@"
}

# kdctl KEYNAME KEYFILE args...: the same with another key.
kdctl() {
	_kn=$1
	_kf=$2
	shift 2
	"$DCTL" -s "$SOCK" -r "127.0.0.1:$PORT" -k "$_kf" -K "$_kn" "$@"
}

# crc32_of FILE: its zlib crc32, 8 lowercase hex digits.
crc32_of() {
	python3 -c 'import sys, zlib
with open(sys.argv[1], "rb") as f:
    print("%08x" % (zlib.crc32(f.read()) & 0xffffffff))' "$1"
}

# wt [-a ADDR] MODE [args]: regress/tools/wiretool against the test
# daemon on $PORT with key "test" from $T/k, output in $T/wt.out, its
# exit status returned.
wt() {
	_a=127.0.0.1
	if [ "$1" = -a ]; then
		_a=$2
		shift 2
	fi
	"$WIRETOOL" -a "$_a" -p "$PORT" -K test -k "$T/k" "$@" \
	    >"$T/wt.out" 2>&1
}

# wt_check TEXT MODE [args]: wiretool exits 0, its first line in the
# report; its exit status returned.
wt_check() {
	_t=$1
	shift
	wt "$@"
	_rc=$?
	_line=$(head -n 1 "$T/wt.out")
	if [ "$_rc" -eq 0 ]; then
		ok "$_t: $_line"
	else
		notok "$_t (wiretool exit $_rc): $_line"
		diagfile "$T/wt.out"
	fi
	return "$_rc"
}

# crc_twin SRC OUT BYTES: OUT is BYTES random bytes, the last four chosen so
# that its crc32 is SRC's.
crc_twin() {
	python3 - "$1" "$2" "$3" <<'EOF'
import os, sys, zlib
src, out, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
table = []
for i in range(256):
    c = i
    for _ in range(8):
        c = (c >> 1) ^ 0xEDB88320 if c & 1 else c >> 1
    table.append(c)
top = {t >> 24: i for i, t in enumerate(table)}
want = zlib.crc32(open(src, "rb").read()) ^ 0xffffffff
body = os.urandom(n - 4)
reg, idx = want, [0] * 4
for k in range(3, -1, -1):
    idx[k] = top[reg >> 24]
    reg = ((reg ^ table[idx[k]]) << 8) & 0xffffffff
reg, tail = zlib.crc32(body) ^ 0xffffffff, bytearray()
for k in range(4):
    b = (reg ^ idx[k]) & 0xff
    tail.append(b)
    reg = (reg >> 8) ^ table[(reg ^ b) & 0xff]
data = body + bytes(tail)
assert zlib.crc32(data) == zlib.crc32(open(src, "rb").read())
open(out, "wb").write(data)
EOF
}

# rand_file FILE BYTES: random contents.
rand_file() {
	head -c "$2" /dev/urandom >"$1"
}

# empty_dir DIR: DIR exists and holds nothing.
empty_dir() {
	[ -d "$1" ] || {
		echo "$1 is not a directory"
		return 1
	}
	_l=$(ls -A "$1")
	[ -z "$_l" ] && return 0
	echo "$1 holds:"
	ls -lA "$1"
	return 1
}

# tmp_clean DATA: DATA/.tmp holds no chunk data: nothing but the empty
# temporary files storage workers make ahead for their next chunk (at
# most one each, named WORKER.SEQ).
tmp_clean() {
	[ -d "$1/.tmp" ] || {
		echo "$1/.tmp is not a directory"
		return 1
	}
	_bad=$(find "$1/.tmp" -mindepth 1 \( ! -type f -o ! -empty -o \
	    ! -name '[0-9]*.[0-9]*' \) -print)
	_n=$(find "$1/.tmp" -mindepth 1 -type f -empty | wc -l)
	[ -z "$_bad" ] && [ "$_n" -le 32 ] && return 0
	echo "$1/.tmp holds:"
	ls -lA "$1/.tmp"
	return 1
}

# no_file PATH: nothing at PATH.
no_file() {
	[ ! -e "$1" ] && [ ! -L "$1" ] && return 0
	echo "$1 exists:"
	ls -ld "$1"
	return 1
}

# immutable PATH: lsattr shows the i flag.
immutable() {
	_a=$(lsattr -d "$1" 2>&1 | awk '{print $1}')
	case $_a in
	*i*) return 0 ;;
	esac
	echo "$1: attributes \"$_a\", no i"
	return 1
}

# start_dsrvd_shim MODE CONF [args]: start_dsrvd with the fault
# injection shim preloaded (DSRVD_SHIM=MODE), active in storage only.
start_dsrvd_shim() {
	_sm=$1
	shift
	_oasan=${ASAN_OPTIONS-}
	LD_PRELOAD=$SHIM DSRVD_SHIM=$_sm
	# A sanitizer runtime wants to be first; the shim has none.
	ASAN_OPTIONS=${_oasan:+$_oasan:}verify_asan_link_order=0
	export LD_PRELOAD DSRVD_SHIM ASAN_OPTIONS
	start_dsrvd "$@"
	_src=$?
	unset LD_PRELOAD DSRVD_SHIM
	if [ -n "$_oasan" ]; then
		ASAN_OPTIONS=$_oasan
	else
		unset ASAN_OPTIONS
	fi
	return "$_src"
}

# dsrvd_tree: the daemon's pid and its children's.
dsrvd_tree() {
	echo "$DSRVD_PID"
	kids "$DSRVD_PID"
}

# mount_tmpfs DIR SIZE: a size-limited tmpfs on DIR, unmounted at exit.
mount_tmpfs() {
	mkdir -p "$1" && mount -t tmpfs -o "size=$2,mode=0755" tmpfs "$1" ||
	    return 1
	add_mount "$1"
}

# tree_list DIR: every path under DIR with type, mode, owner and size
# (for comparing a directory tree before and after).
tree_list() {
	find "$1" -printf '%p %y %m %u %s\n' 2>/dev/null | LC_ALL=C sort
}

# counter_is NAME N [secs]: dctl status shows the counter at N (polled:
# the counters of the children reach the parent a little later).
counter_is() {
	_n=$(( ${3:-5} * 5 ))
	while :; do
		status
		[ "$(counter "$1")" = "$2" ] && return 0
		_n=$((_n - 1))
		[ "$_n" -gt 0 ] || break
		sleep 0.2
	done
	echo "counter \"$1\" is \"$(counter "$1")\", expected $2"
	cat "$T/status.out"
	return 1
}

# counter_ge NAME N [secs]: the same for a counter at N or more.
counter_ge() {
	_n=$(( ${3:-5} * 5 ))
	while :; do
		status
		_v=$(counter "$1")
		[ -n "$_v" ] && [ "$_v" -ge "$2" ] 2>/dev/null && return 0
		_n=$((_n - 1))
		[ "$_n" -gt 0 ] || break
		sleep 0.2
	done
	echo "counter \"$1\" is \"$_v\", expected >= $2"
	cat "$T/status.out"
	return 1
}

# exits N cmd...: cmd exits with status N (its output in $T/exits.out).
exits() {
	_want=$1
	shift
	"$@" >"$T/exits.out" 2>&1
	_got=$?
	[ "$_got" -eq "$_want" ] && return 0
	echo "exit status $_got, expected $_want: $*"
	cat "$T/exits.out"
	return 1
}

# fails cmd...: cmd exits non-zero (its output in $T/exits.out).
fails() {
	"$@" >"$T/exits.out" 2>&1 || return 0
	echo "succeeded, expected a failure: $*"
	cat "$T/exits.out"
	return 1
}

# ls_has DIR NAME: dctl chunk ls DIR lists NAME.
ls_has() {
	cdctl chunk ls "$1" >"$T/ls.out" 2>&1 || {
		echo "dctl chunk ls $1 failed:"
		cat "$T/ls.out"
		return 1
	}
	sed "s|^$1/||" "$T/ls.out" | grep -qxF "$2" && return 0
	echo "$2 not in the listing of $1:"
	cat "$T/ls.out"
	return 1
}

# storage_tmpdir: tmpdir for tests that store chunks.  Sealed chunks
# resist rm -rf, so at exit, once the daemons are stopped, the flags in
# $T come off before cleanup removes it.
storage_tmpdir() {
	tmpdir
	trap storage_cleanup EXIT
}

storage_cleanup() {
	_scs=$?
	trap - EXIT
	if [ -n "$T" ] && [ -f "$T/pids" ]; then
		while read -r _p; do
			case $(cmdline "$_p") in
			*dsrvd*) stop_pid "$_p" 5 >/dev/null 2>&1 ;;
			esac
		done <"$T/pids"
	fi
	case $T in
	/tmp/?*) chattr -R -f -ia "$T" >/dev/null 2>&1 ;;
	esac
	(exit "$_scs")
	cleanup
}

### file tests (files.sh, match.sh, replicate.sh, interrupt.sh)

FILETOOL=${FILETOOL:-$REGRESS/tools/filetool}
CUTPROXY=${CUTPROXY:-$REGRESS/tools/cutproxy}

# ftool args...: regress/tools/filetool against the test daemon.
ftool() {
	"$FILETOOL" -r "127.0.0.1:$PORT" -k "$CKEY" -K "$CKEYNAME" "$@"
}

# meta_name NAME CRC: the metadata chunk name of a file, index/S-CRC,
# as the spec sanitizes NAME.
meta_name() {
	python3 -c 'import sys
n = sys.argv[1].encode("utf-8", "surrogateescape")
ok = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._-"
s = bytearray(c if c in ok else ord("_") for c in n)
if s[:1] == b".":
    s[0] = ord("_")
s = bytes(s[:190]) or b"_"
print("index/" + s.decode() + "-" + sys.argv[2])' "$1" "$2"
}

# data_names FILE: the data chunk names of FILE, one a line, in order.
data_names() {
	python3 -c 'import sys, zlib
d = open(sys.argv[1], "rb").read()
f = zlib.crc32(d) & 0xffffffff
cs = 8 * 1024 * 1024
for i in range((len(d) + cs - 1) // cs):
    c = zlib.crc32(d[i * cs:(i + 1) * cs]) & 0xffffffff
    print("%02x/%08x-%08x-%08x" % (f >> 24, f, i, c))' "$1"
}

# disk_chunks DATADIR CRC: the data chunks on disk whose file crc32 is
# CRC, as DIR/NAME, sorted.
disk_chunks() {
	_dd=$(printf '%s' "$2" | cut -c1-2)
	[ -d "$1/$_dd" ] || return 0
	(cd "$1/$_dd" && ls -A) | grep "^$2-" | sed "s|^|$_dd/|" | LC_ALL=C sort
}

# all_data_chunks DATADIR: every data chunk on disk (00..ff), sorted.
all_data_chunks() {
	(cd "$1" && find . -mindepth 2 -maxdepth 2 -type f -path './[0-9a-f][0-9a-f]/*' |
	    sed 's|^\./||') | LC_ALL=C sort
}

# chunk_refs FILE: every data chunk name (D scheme) mentioned in FILE,
# sorted and unique.
chunk_refs() {
	grep -Eo '[0-9a-f]{2}/[0-9a-f]{8}-[0-9a-f]{8}-[0-9a-f]{8}' "$1" |
	    LC_ALL=C sort -u
}

# json_lines FILE [MIN]: FILE has at least MIN (default 1) lines, and
# every line is a JSON object.
json_lines() {
	python3 -c 'import json, sys
n = 0
for i, l in enumerate(open(sys.argv[1], encoding="utf-8"), 1):
    try:
        o = json.loads(l)
    except ValueError as e:
        print("line %d is not JSON (%s): %r" % (i, e, l))
        sys.exit(1)
    if not isinstance(o, dict):
        print("line %d is not a JSON object: %r" % (i, l))
        sys.exit(1)
    n += 1
if n < int(sys.argv[2]):
    print("%d JSON lines, expected at least %s" % (n, sys.argv[2]))
    sys.exit(1)' "$1" "${2:-1}"
}

# json_has FILE VALUE: some line of FILE, a JSON object, has a string or
# number field equal to VALUE.
json_has() {
	python3 -c 'import json, sys
for l in open(sys.argv[1], encoding="utf-8"):
    o = json.loads(l)
    if any(str(v) == sys.argv[2] for v in o.values()
           if isinstance(v, (str, int))):
        sys.exit(0)
print("no JSON line with a field %r in:" % sys.argv[2])
sys.stdout.write(open(sys.argv[1]).read())
sys.exit(1)' "$1" "$2"
}

# same_lines A B: the two files hold the same lines, order aside.
same_lines() {
	LC_ALL=C sort "$1" >"$1.sorted" && LC_ALL=C sort "$2" >"$2.sorted" &&
	    cmp -s "$1.sorted" "$2.sorted" && return 0
	echo "$1 and $2 differ:"
	diff "$1.sorted" "$2.sorted" | head -n 20
	return 1
}

# wait_file_size FILE BYTES [secs]: FILE has grown to BYTES or more.
wait_file_size() {
	_n=$(( ${3:-30} * 10 ))
	while [ "$_n" -gt 0 ]; do
		[ "$(stat -c %s "$1" 2>/dev/null || echo 0)" -ge "$2" ] &&
		    return 0
		sleep 0.1
		_n=$((_n - 1))
	done
	return 1
}

# wait_chunks DATADIR CRC N [secs]: N data chunks of the file with
# crc32 CRC are on disk.
wait_chunks() {
	_n=$(( ${4:-30} * 10 ))
	while [ "$_n" -gt 0 ]; do
		[ "$(disk_chunks "$1" "$2" | wc -l)" -ge "$3" ] && return 0
		sleep 0.1
		_n=$((_n - 1))
	done
	return 1
}

# store_dir PATH "MODE OWNER:GROUP" FLAG: a directory of the store is
# so, and carries the append-only flag (FLAG a) or neither a nor i (-).
store_dir() {
	_sd=$(stat -c '%a %U:%G' "$1") || return 1
	[ "$_sd" = "$2" ] || {
		echo "$1: $_sd, not $2"
		return 1
	}
	_sf=$(lsattr -d "$1" | cut -d ' ' -f 1) || return 1
	case $3:$_sf in
	a:*a*) return 0 ;;
	-:*[ai]*) ;;
	-:*) return 0 ;;
	esac
	echo "$1: flags $_sf, wanted ${3}"
	return 1
}

# flip_byte PATH OFFSET: change the byte at OFFSET of a sealed chunk
# (the immutable flag comes off and goes back on).
flip_byte() {
	chattr -i "$1" || return 1
	python3 -c 'import sys
with open(sys.argv[1], "r+b") as f:
    f.seek(int(sys.argv[2]))
    b = f.read(1)
    f.seek(int(sys.argv[2]))
    f.write(bytes([b[0] ^ 0x5a]))' "$1" "$2" || return 1
	chattr +i "$1"
}

# set_crc_xattr PATH: make the stored crc32 attribute agree with the
# bytes on disk, so that only the client can notice a change.
set_crc_xattr() {
	chattr -i "$1" || return 1
	setfattr -n user.dsrvd.crc32 -v "$(crc32_of "$1")" "$1" || return 1
	chattr +i "$1"
}

# own_dctl: run a copy of dctl made now, so that a rebuild in the tree
# during a long test does not pull the binary from under it.
own_dctl() {
	cp "$DCTL" "$T/dctl.own" && chmod 755 "$T/dctl.own" &&
	    DCTL=$T/dctl.own
}

# inject PID EXPR [WANT]: make the live process PID evaluate EXPR (a
# call, as an attacker running code inside it would) through gdb; the
# call must return WANT (0 by default).  What it returned is in
# $T/gdb.out.
inject() {
	command -v gdb >/dev/null 2>&1 || {
		diag "no gdb (regress/deps.sh installs it)"
		return 1
	}
	timeout 60 gdb -p "$1" -batch -nx -ex "call (int)$2" \
	    >"$T/gdb.out" 2>&1
	grep -q "^\\\$1 = ${3:-0}\$" "$T/gdb.out" || {
		diag "gdb could not make $1 do $2 and return ${3:-0}:"
		diagfile "$T/gdb.out"
		return 1
	}
}

SYSINJECT=${SYSINJECT:-$REGRESS/tools/sysinject}

# sysinject [-q] PID CALL...: make the live process PID execute each
# system call, as an attacker running code inside it would, with its
# uid, root, descriptors and syscall filter (regress/tools/sysinject,
# which says how to write a CALL: 'openat(AT_FDCWD, "ab/x", O_RDONLY)',
# 'write($1, "xx", 2)').  Prints "CALL = N" or "CALL = -1 ENAME (text)"
# per call (-q: only what follows "= "); exits 0 when every call ran,
# 3 when PID died in one ("CALL: killed by signal SIGSYS"), 2 when it
# could not attach.
# forge_req NETPID TYPE FIELDS...: network worker NETPID sends storage 0
# an st_req with the gdb assignments FIELDS (on $r), and a fresh 8 MiB
# memfd (network's FSIZE allows no larger) with it for the types that
# carry one (forged.sh, grants.sh).
forge_req() {
	_fnet=$1 _ftype=$2
	shift 2
	set -- \
	    -ex 'set $r = (struct st_req *)calloc(1, sizeof(struct st_req))' \
	    -ex 'set $fd = (int)memfd_create("forged", 0)' \
	    -ex 'call (int)ftruncate($fd, 8388608)' "$@"
	case $_ftype in
	IMSG_ST_STAT|IMSG_ST_STATFS|IMSG_ST_DIGEST) _ffd=-1 ;;
	*) _ffd='$fd' ;;
	esac
	timeout 60 gdb -p "$_fnet" -batch -nx "$@" -ex "call (int)proc_compose(\
PROC_STORAGE, 0, $_ftype, 99, $_ffd, \$r, sizeof(struct st_req))" \
	    >"$T/gdb.out" 2>&1
	grep -q '= 0$' "$T/gdb.out" || {
		diag "gdb output:"
		diagfile "$T/gdb.out"
	}
}

# forge_refused DESC REGEX: the daemon (and every pid in ALLKIDS)
# stopped, and storage's fatal line says network sent REGEX.
forge_refused() {
	_fok=1
	wait_gone "$DSRVD_PID" 10 || _fok=0
	for _k in $ALLKIDS; do
		wait_gone "$_k" 2 || _fok=0
	done
	if [ "$_fok" -eq 1 ] && grep -Eq "fatal in storage\[0\]: \
network\[[0-9]+\] sent $1" "$DSRVD_LOG"; then
		ok "storage refuses $2"
	else
		notok "storage refuses $2"
		diagfile "$DSRVD_LOG"
	fi
}

# drill ROLE PID DESC ERRNOS CALL...: an attack drill (addonly.sh,
# drills.sh).  PID, a live ROLE process, runs the CALLs (sysinject); the
# last must fail with one of ERRNOS (a|b|c), or PID die by SIGSYS with
# the parent's line naming it, after which drill_restart, which the
# test defines, starts the daemon again.  DRILL_KILLED counts those.
DRILL_KILLED=0
drill() {
	_drole=$1 _dpid=$2 _ddesc=$3 _dwant=$4
	shift 4
	"$SYSINJECT" "$_dpid" "$@" >"$T/drill.out" 2>&1
	_drc=$?
	if [ $_drc -eq 3 ] && grep -q "killed by signal SIGSYS" "$T/drill.out"
	then
		if wait_for_log "$(printf '%s' "$_drole" | sed 's/\[/\\[/g; s/\]/\\]/g').*killed by the sandbox: system call" 10
		then
			ok "$_drole: $_ddesc: killed by SIGSYS, the log names it"
		else
			notok "$_drole: $_ddesc: killed by SIGSYS, the log names it"
			diagfile "$DSRVD_LOG"
		fi
		DRILL_KILLED=$((DRILL_KILLED + 1))
		drill_restart
		return
	fi
	_de=$(tail -n 1 "$T/drill.out" |
	    sed -n 's/.* = -1 \([A-Z0-9]*\).*/\1/p')
	case "|$_dwant|" in
	*"|$_de|"*)
		if [ $_drc -eq 0 ] && [ -n "$_de" ]; then
			ok "$_drole: $_ddesc: $_de"
			return
		fi ;;
	esac
	notok "$_drole: $_ddesc: wanted -1 $_dwant or SIGSYS"
	diagfile "$T/drill.out"
}

sysinject() {
	"$SYSINJECT" "$@"
}

### restic tests (restic.sh, restic-kill.sh)

# restic_setup: a free port for dctl serve restic and its log, URL,
# REPO (hosts/a/repo) and restic's password and cache in $T.
restic_setup() {
	GWPORT=$(free_port) || return 1
	GWLOG=$T/gw.log
	GW_PID=
	URL=http://127.0.0.1:$GWPORT
	REPO=rest:$URL/hosts/a/repo
	RESTIC_PASSWORD=regress
	RESTIC_CACHE_DIR=$T/cache
	export RESTIC_PASSWORD RESTIC_CACHE_DIR
}

# start_gw [args]: dctl serve restic in the background, prefix "rs";
# waits for its start-up line (the log holds those of earlier ones).
start_gw() {
	_was=$(log_count "serving restic on" "$GWLOG")
	"$DCTL" -r "127.0.0.1:$PORT" -k "$CKEY" -K "$CKEYNAME" serve restic \
	    -v -l "127.0.0.1:$GWPORT" --prefix rs "$@" >>"$GWLOG" 2>&1 &
	GW_PID=$!
	add_bgpid "$GW_PID"
	_i=100
	while [ "$_i" -gt 0 ]; do
		[ "$(log_count "serving restic on" "$GWLOG")" -gt \
		    "${_was:-0}" ] && return 0
		gone "$GW_PID" && break
		sleep 0.1
		_i=$((_i - 1))
	done
	diagfile "$GWLOG"
	return 1
}

# stop_gw: SIGTERM, and its exit status.
stop_gw() {
	kill -TERM "$GW_PID" 2>/dev/null
	wait "$GW_PID"
}

# rr TEXT restic-args...: restic against the gateway succeeds.
rr() {
	_t=$1
	shift
	restic -r "$REPO" "$@" >"$T/restic.out" 2>&1
	_rc=$?
	if [ "$_rc" -eq 0 ]; then
		ok "$_t"
	else
		notok "$_t (exit $_rc)"
		tail -n 20 "$T/restic.out" | sed 's/^/# /'
		tail -n 20 "$GWLOG" | sed 's/^/# gw: /'
	fi
}

# http METHOD PATH [curl args]: the status code only.
http() {
	_m=$1
	_p=$2
	shift 2
	curl -s -o "$T/http.body" -w '%{http_code}' -X "$_m" "$@" "$URL$_p"
}
