#!/bin/sh
# make demo: start a dsrvd in a scratch directory, show what runs, store
# and fetch a file, show what dctl says about it, stop it.  Leaves the scratch directory (the
# config, the log) for a look; exits non-zero if any step fails.

cd "$(dirname "$0")/.." || exit 1
TOP=$(pwd -P)
DSRVD=$TOP/dsrvd/dsrvd
DCTL=$TOP/dctl/dctl
REGRESS=$TOP/regress

# The helpers only; this is not a test file, so no tmpdir (and no
# removal of the scratch directory at exit).
. "$REGRESS/lib.sh"

fail() {
	echo "demo: $*" >&2
	if [ -n "$DSRVD_PID" ]; then
		stop_pid "$DSRVD_PID" 5
		if [ -s "$DSRVD_LOG" ]; then
			echo "demo: the daemon's log, $DSRVD_LOG:" >&2
			sed 's/^/    /' "$DSRVD_LOG" >&2
		fi
	fi
	[ -n "$T" ] && echo "demo: scratch directory left in $T" >&2
	exit 1
}

step() {
	echo
	echo "== $*"
}

[ "$(id -u)" -eq 0 ] || fail "run me as root: dsrvd starts as root and drops privileges itself"
[ -x "$DSRVD" ] || fail "$DSRVD is not built (make all)"
[ -x "$DCTL" ] || fail "$DCTL is not built (make all)"

ensure_users
ensure_chroot || fail "cannot prepare /var/empty"

T=$(mktemp -d /tmp/dsrvd-demo.XXXXXXXX) || fail "mktemp failed"
chmod 755 "$T"
trap 'fail interrupted' HUP INT TERM
DSRVD_LOG=$T/dsrvd.log
DATA=$T/data
SOCK=$T/dsrvd.sock
CONF=$T/dsrvd.conf
KEY=$T/demo.key
PORT=$(free_port) || fail "no free port found"
mkdir "$DATA" || fail "cannot make $DATA"

step "dctl keygen $KEY (a new pre-shared key, mode 0600)"
"$DCTL" keygen "$KEY" || fail "dctl keygen failed"
ls -l "$KEY"

cat >"$CONF" <<EOF
# A minimal dsrvd.conf: everything else has a built-in default.
data "$DATA"
socket "$SOCK"
listen on 127.0.0.1 port $PORT
key demo file "$KEY"
EOF

step "the configuration, $CONF"
cat "$CONF"
"$DSRVD" -n -f "$CONF" || fail "dsrvd -n rejects the configuration"

step "starting dsrvd -d -f $CONF (log in $DSRVD_LOG)"
"$DSRVD" -d -f "$CONF" >"$DSRVD_LOG" 2>&1 &
DSRVD_PID=$!
n=100
while ! grep -q "startup:" "$DSRVD_LOG" 2>/dev/null; do
	gone "$DSRVD_PID" && fail "dsrvd exited during start-up"
	n=$((n - 1))
	[ "$n" -gt 0 ] || fail "dsrvd did not finish start-up within 10 s"
	sleep 0.1
done
grep "startup:" "$DSRVD_LOG"

step "the processes"
cat <<EOF
The parent stays root and does no network I/O.  Its children were
fork+exec'd, then chrooted and stripped of root for good: the network
workers run as _dsrvd and the crypto process (the only one that will
hold keys) as _dsrvcrypto, both in /var/empty; the storage workers run
as _dsrvdata, chrooted to the data directory.  Three users, so that
network can neither touch stored files nor signal the key holder.
EOF
echo
printf '%-7s %-12s %-12s %s\n' PID USER GROUP TITLE
for p in "$DSRVD_PID" $(kids "$DSRVD_PID" | sort -n); do
	printf '%-7s %-12s %-12s %s\n' "$p" \
	    "$(ps -o user:12= -p "$p")" "$(ps -o group:12= -p "$p")" \
	    "$(cmdline "$p" | sed "s/  .*//; s/ *\$//")"
done

step "dctl -r 127.0.0.1:$PORT -k $KEY -K demo ping"
cat <<EOF
An encrypted round trip: the handshake proves the key both ways (only
the crypto process holds it), then a PING travels as a
ChaCha20-Poly1305 frame.
EOF
"$DCTL" -r "127.0.0.1:$PORT" -k "$KEY" -K demo ping || fail "dctl ping failed"

NET="$DCTL -r 127.0.0.1:$PORT -k $KEY -K demo"
head -c 20000000 /dev/urandom >"$T/demo.bin" || fail "cannot make a file"
step "dctl ... put $T/demo.bin demo.bin (20 MB of random bytes)"
cat <<EOF
dctl reads the file once for its length and crc32, then stores it as
8 MiB data chunks and a metadata chunk written last.  Each chunk counts
as stored only once dsrvd has flushed it, read it back from the device
and matched its crc32; the parent then makes it immutable.
EOF
$NET -q put "$T/demo.bin" demo.bin || fail "dctl put failed"
echo
echo "in the data directory (lsattr: i = immutable):"
(cd "$DATA" && find . -path ./.tmp -prune -o -type f -print | sort |
    while read -r f; do
	printf '%s %10s  %s\n' "$(lsattr -d "$f" 2>/dev/null | cut -c1-5)" \
	    "$(stat -c %s "$f")" "${f#./}"
    done)

step "dctl ... match demo"
$NET match demo || fail "dctl match failed"

step "dctl ... get demo.bin $T/fetched.bin"
$NET -q get demo.bin "$T/fetched.bin" || fail "dctl get failed"
cmp "$T/demo.bin" "$T/fetched.bin" || fail "the fetched file differs"
echo "fetched.bin is byte for byte demo.bin"

step "dctl -s $SOCK status"
"$DCTL" -s "$SOCK" status || fail "dctl status failed"

step "stopping dsrvd (SIGTERM)"
kill -TERM "$DSRVD_PID" || fail "cannot signal dsrvd"
wait_gone "$DSRVD_PID" 10 || fail "dsrvd did not stop within 10 s"
wait "$DSRVD_PID"
rc=$?
pid=$DSRVD_PID
DSRVD_PID=
[ "$rc" -eq 0 ] || fail "dsrvd exited with status $rc"
tail -n 1 "$DSRVD_LOG"
echo "dsrvd (pid $pid) exited with status 0"

step "done"
echo "scratch directory: $T (configuration, data directory, log dsrvd.log)"
echo "stored chunks are immutable; remove it with:"
echo "    chattr -R -ia $T && rm -rf $T"
