#!/bin/sh
# needs: root
# Start-up refusals, each with exit status 1 and a message that names
# the problem; and the configuration check (-n), which needs no root.

. "$REGRESS/lib.sh"
tmpdir
need_bins
ensure_users
ensure_chroot || bail "cannot prepare /var/empty"
user_bins || bail "cannot copy the binaries to $T"

tuid=$(id -u _dsrvtest)
tgid=$(id -g _dsrvtest)

# has FILE TEXT: a fixed string in FILE (shown when it is not).
has() {
	grep -Fq -- "$2" "$1" && return 0
	echo "no \"$2\" in:"
	cat "$1"
	return 1
}

# attempt NAME cmd...: run cmd (a dsrvd that should refuse to start) in
# the background, give it 10 s to exit; RC is its status, or "running"
# if it had to be stopped.  Output in $T/NAME.out.
attempt() {
	OUT=$T/$1.out
	shift
	"$@" >"$OUT" 2>&1 &
	_p=$!
	echo "$_p" >>"$T/pids"
	if wait_gone "$_p" 10; then
		wait "$_p"
		RC=$?
	else
		stop_pid "$_p" 5
		wait "$_p" 2>/dev/null
		RC=running
	fi
}

# refused NAME TEXT...: the last attempt exited 1 and said every TEXT.
refused() {
	_name=$1
	shift
	check "$_name: exit status 1 ($RC)" [ "$RC" = 1 ]
	for _t in "$@"; do
		check "$_name: says \"$_t\"" has "$OUT" "$_t"
	done
}

# conf NAME [statements]: $T/NAME.conf, the usual one plus statements
# (read from stdin) and a fresh port and socket.
conf() {
	PORT=$(free_port)
	SOCK=$T/$1.sock
	std_conf "$T/$1.conf"
	cat >>"$CONF"
}

### not root

conf nonroot </dev/null
attempt nonroot setpriv --reuid="$tuid" --regid="$tgid" --clear-groups \
    -- "$T/dsrvd.bin" -d -f "$CONF"
refused "not root" "dsrvd: need root privileges"

### the data directory

DATA=$T/nonexistent
conf nodata </dev/null
DATA=''
attempt nodata "$DSRVD" -d -f "$CONF"
refused "missing data directory" \
    "dsrvd: data directory $T/nonexistent: No such file or directory"

: >"$T/datafile"
DATA=$T/datafile
conf datafile </dev/null
DATA=''
attempt datafile "$DSRVD" -d -f "$CONF"
refused "data directory is a file" "$T/datafile"

mkdir -p "$T/otherdata"
chown _dsrvtest:_dsrvtest "$T/otherdata"
DATA=$T/otherdata
conf otherdata </dev/null
DATA=''
attempt otherdata "$DSRVD" -d -f "$CONF"
refused "data directory owned by another user" "$T/otherdata"

conf nomount <<EOF
require mount
EOF
attempt nomount "$DSRVD" -d -f "$CONF"
refused "require mount on a plain directory" \
    "dsrvd: data directory $T/data is not a mount point (require mount)"

mkdir -p "$T/mnt"
if mount -t tmpfs -o size=8m,mode=0755 tmpfs "$T/mnt" 2>"$T/mount.err"; then
	add_mount "$T/mnt"
	DATA=$T/mnt
	conf mount <<EOF
require mount
EOF
	DATA=''
	if start_dsrvd "$CONF"; then
		ok "require mount on a mount point: starts"
		stop_dsrvd
		check "require mount on a mount point: stops with status 0" \
		    [ $? -eq 0 ]
	else
		notok "require mount on a mount point: starts"
		stop_dsrvd
		notok "require mount on a mount point: stops with status 0"
	fi
else
	skip "require mount on a mount point: cannot mount a tmpfs" \
	    "($(cat "$T/mount.err"))"
	skip "require mount on a mount point: stop"
fi

# ramfs keeps no extended attributes: no place for the chunks' crc32s.
mkdir -p "$T/ramfs"
if mount -t ramfs -o mode=0700 ramfs "$T/ramfs" 2>"$T/mount.err"; then
	add_mount "$T/ramfs"
	DATA=$T/ramfs
	conf ramfs </dev/null
	DATA=''
	attempt ramfs "$DSRVD" -d -f "$CONF"
	refused "data directory without extended attributes" \
	    "dsrvd: data directory $T/ramfs: cannot store extended attributes"
	check "data directory without extended attributes: no probe left" \
	    [ ! -e "$T/ramfs/.tmp/probe" ]
else
	skip "data directory without extended attributes: cannot mount" \
	    "a ramfs ($(cat "$T/mount.err"))"
	skip "data directory without extended attributes: probe"
fi

### users and the chroot

conf nouser <<EOF
user "_nosuchuser"
EOF
attempt nouser "$DSRVD" -d -f "$CONF"
refused "unknown user" "unknown user _nosuchuser"

conf samecrypto <<EOF
crypto user _dsrvd
EOF
attempt samecrypto "$DSRVD" -d -f "$CONF"
refused "crypto user the network user" \
    "user and crypto user must differ (both _dsrvd)"

conf nochroot <<EOF
chroot "$T/nochroot"
EOF
attempt nochroot "$DSRVD" -d -f "$CONF"
refused "missing chroot directory" "$T/nochroot"

mkdir -p "$T/wchroot"
chmod 777 "$T/wchroot"
conf wchroot <<EOF
chroot "$T/wchroot"
EOF
attempt wchroot "$DSRVD" -d -f "$CONF"
refused "chroot directory writable by others" "$T/wchroot"

### key files

key="$T/test.key"
(umask 077 && head -c 32 /dev/urandom | base64 >"$key")
chmod 640 "$key"
conf badkey <<EOF
key test file "$key"
EOF
keyline=$(wc -l <"$CONF")
attempt badkey "$DSRVD" -d -f "$CONF"
refused "group-readable key file" "bad permissions 0640" \
    "$CONF:$keyline: key test: $key: bad permissions 0640, must not be accessible by group or others"
attempt badkey-n "$DSRVD" -n -f "$CONF"
refused "-n, group-readable key file" \
    "$CONF:$keyline: key test: $key: bad permissions 0640"

chmod 600 "$key"
"$DSRVD" -n -f "$CONF" >"$T/n.out" 2>"$T/n.err"
rc=$?
check "-n, key file 0600: exit status 0 ($rc)" [ "$rc" -eq 0 ]
check "-n, key file 0600: configuration OK" has "$T/n.out" "configuration OK"
diagfile "$T/n.err"

### the port is taken

P=$(free_port)
holder=
if command -v python3 >/dev/null 2>&1; then
	python3 -c '
import socket, sys, time
s = socket.socket()
s.bind(("127.0.0.1", int(sys.argv[1])))
s.listen(1)
time.sleep(120)' "$P" &
	holder=$!
	add_bgpid "$holder"
else
	# No python: the port is held by a first dsrvd.
	PORT=$P
	SOCK=$T/first.sock
	std_conf "$T/first.conf"
	start_dsrvd "$CONF" || diag "the first dsrvd did not start"
fi
n=50
while [ "$n" -gt 0 ] && ! listening 127.0.0.1 "$P"; do
	sleep 0.1
	n=$((n - 1))
done
if listening 127.0.0.1 "$P"; then
	conf portbusy </dev/null
	sed -i "s/^listen on .*/listen on 127.0.0.1 port $P/" "$CONF"
	attempt portbusy "$DSRVD" -d -f "$CONF"
	refused "port in use" \
	    "dsrvd: listen on 127.0.0.1 port $P: Address already in use"
else
	notok "port in use: could not occupy port $P for the test"
fi
[ -n "$holder" ] && kill "$holder" 2>/dev/null
[ -n "$DSRVD_PID" ] && stop_dsrvd

### -n

conf check </dev/null
"$DSRVD" -n -f "$CONF" >"$T/n.out" 2>"$T/n.err"
rc=$?
check "-n: exit status 0 ($rc)" [ "$rc" -eq 0 ]
check "-n: stdout is \"configuration OK\"" \
    [ "$(cat "$T/n.out")" = "configuration OK" ]
diagfile "$T/n.err"

setpriv --reuid="$tuid" --regid="$tgid" --clear-groups \
    -- "$T/dsrvd.bin" -n -f "$CONF" >"$T/n.out" 2>"$T/n.err"
rc=$?
check "-n as non-root: exit status 0 ($rc)" [ "$rc" -eq 0 ]
check "-n as non-root: stdout is \"configuration OK\"" \
    [ "$(cat "$T/n.out")" = "configuration OK" ]
diagfile "$T/n.err"

"$DSRVD" -n -f "$T/no-such.conf" >"$T/n.out" 2>"$T/n.err"
rc=$?
check "-n, no config file: exit status 0 ($rc)" [ "$rc" -eq 0 ]
check "-n, no config file: configuration OK (built-in defaults)" \
    has "$T/n.out" "configuration OK"
diagfile "$T/n.err"

setpriv --reuid="$tuid" --regid="$tgid" --clear-groups \
    -- "$T/dsrvd.bin" -n -f "$T/no-such.conf" >"$T/n.out" 2>"$T/n.err"
rc=$?
check "-n as non-root, no config file: exit status 0 ($rc)" [ "$rc" -eq 0 ]
check "-n as non-root, no config file: configuration OK" \
    has "$T/n.out" "configuration OK"

finish
