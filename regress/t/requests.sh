#!/bin/sh
# needs: root
# Every refusal of a request that dsrv-protocol(5) specifies, as the
# real daemon gives it, with raw requests from wiretool that no client
# would send: which name errors are BADREQUEST (the name field's own
# bounds) and which BADNAME (the rules of chunk names); TOOBIG for a
# payload over 8 MiB that the frame still carries; BADREQUEST for a
# payload on a request that takes none, a non-zero paycrc on an empty
# payload and an unknown method; the exact text for a '/' in a LIST
# directory or start name; a key with only "admin" can do nothing but
# PING; a chunk too long on disk answers STAT and DIGEST with CORRUPT;
# the good bytes written back over a rotted chunk answer EXISTS, and
# dctl put of the file again stores it under an alternate name; a
# network process out of descriptors answers BUSY.  After each refusal
# the connection still serves.

. "$REGRESS/lib.sh"
storage_tmpdir
need_bins
ensure_users
ensure_chroot || bail "cannot prepare /var/empty"
WIRETOOL=${WIRETOOL:-$REGRESS/tools/wiretool}
[ -x "$WIRETOOL" ] ||
    bail "wiretool not built ($WIRETOOL; make regress/tools/wiretool)"

storage_conf || bail "cannot write the configuration"
new_key "$T/adm.key" || bail "cannot make a key"
echo "key adm file \"$T/adm.key\" permit admin" >>"$CONF"
start_dsrvd "$CONF" || bail "dsrvd did not start"

MIB8=$((8 * 1024 * 1024))

# hexof STRING: its bytes in hex.
hexof() {
	printf '%s' "$1" | od -An -v -tx1 | tr -d ' \n'
}

# rep N C: C repeated N times.
rep() {
	printf "%${1}s" '' | tr ' ' "$2"
}

# req TEXT CODE REGEX METHOD HEXNAME PAYLEN [PAYCRC]: wiretool's raw
# request is answered with error CODE, an errmsg matching REGEX (in
# the quotes wiretool prints), and the connection still serves a PING.
# With WTKEY set, as that key ("NAME FILE").
req() {
	_t=$1
	_code=$2
	_re=$3
	shift 3
	set -- ${WTKEY:-$CKEYNAME $CKEY} "$@"
	_kn=$1
	_kf=$2
	shift 2
	"$WIRETOOL" -a 127.0.0.1 -p "$PORT" -K "$_kn" -k "$_kf" req "$@" \
	    >"$T/wt.out" 2>&1
	_rc=$?
	_line=$(head -n 1 "$T/wt.out")
	if [ "$_rc" -ne 0 ]; then
		notok "$_t: answered, connection serves (wiretool exit" \
		    "$_rc): $_line"
	elif printf '%s\n' "$_line" | grep -Eq "^error $_code \(.*\) \"$_re\""
	then
		ok "$_t: $_line"
	else
		notok "$_t: error $_code \"$_re\": $_line"
	fi
}

### item 3: name errors, BADREQUEST for the field, BADNAME for the rules

W=2 R=3 L=4 S=5 F=6 D=7
req "WRITE with an empty name field" 1 "field 2: bad name length" $W "" 1
req "WRITE with a NUL in the name" 1 "field 2: NUL in name" \
    $W "$(hexof a/b)00$(hexof c)" 1
req "WRITE with a name of 256 bytes" 1 "field 2: bad name length" \
    $W "$(hexof "d/$(rep 254 n)")" 1
req "WRITE with a name of 255 bytes, NAME of 253" 5 \
    "bad chunk name: name longer than 200 bytes" \
    $W "$(hexof "d/$(rep 253 n)")" 1
req "WRITE without a name field" 1 "request without a name" $W - 1
req "WRITE of a/b/c" 5 "bad chunk name: more than one '/'" \
    $W "$(hexof a/b/c)" 1
req "READ of ../x" 5 "bad chunk name: directory starts with a dot" \
    $R "$(hexof ../x)" 0
req "STAT of a name with no slash" 5 \
    "bad chunk name: no '/' between directory and name" $S "$(hexof ab)" 0
req "DIGEST of a/b c" 5 "bad chunk name: space in the name" \
    $D "$(hexof 'a/b c')" 0
req "LIST with an empty name field" 1 "field 2: bad name length" $L "" 0
req "LIST of a 33-byte directory" 5 \
    "bad directory name: directory longer than 32 bytes" \
    $L "$(hexof "$(rep 33 d)")" 0
req "STATFS with a name" 1 "name in a request that takes none" \
    $F "$(hexof a/b)" 0

### item 11: a '/' in a LIST directory or start name, said as it is

req "LIST of a/b" 5 "bad directory name: '/' in the directory" \
    $L "$(hexof a/b)" 0
req "LIST of a/" 5 "bad directory name: '/' in the directory" \
    $L "$(hexof a/)" 0
"$WIRETOOL" -a 127.0.0.1 -p "$PORT" -K "$CKEYNAME" -k "$CKEY" \
    list-after "$(hexof b/c)" >"$T/wt.out" 2>&1
result $? "LIST after b/c: BADNAME: $(head -n 1 "$T/wt.out")"
check "... \"bad name to list after: '/' in the name\"" \
    has "$T/wt.out" "\"bad name to list after: '/' in the name\""
cdctl chunk ls a/b >"$T/ls.out" 2>&1
grep -q "bad directory name: '/' in the directory$" "$T/ls.out"
result $? "dctl chunk ls a/b: the server's reason: $(head -n 1 "$T/ls.out")"

### item 4: TOOBIG for a payload over 8 MiB in a frame that carries it

req "WRITE of 8 MiB + 1" 11 "payload larger than 8 MiB" \
    $W "$(hexof big/one)" $((MIB8 + 1))
check "... stored nothing" no_file "$DATA/big/one"
check "... logged" wait_for_log \
    "bad request: payload length $((MIB8 + 1)), more than 8 MiB" 5
req "WRITE of 8 MiB + 4000" 11 "payload larger than 8 MiB" \
    $W "$(hexof big/two)" $((MIB8 + 4000))
req "PING with a payload of 8 MiB + 1" 11 "payload larger than 8 MiB" \
    1 - $((MIB8 + 1))
req "WRITE of exactly 8 MiB" 0 "" $W "$(hexof big/max)" $MIB8
check "... stored" [ "$(stat -c %s "$DATA/big/max")" -eq $MIB8 ]

### item 5: payloads and methods that make a header malformed

for m in "1 PING -" "5 STAT $(hexof big/max)" \
    "6 STATFS -" "7 DIGEST $(hexof big/max)"; do
	set -- $m
	req "$2 with a payload" 1 "payload in a request that takes none" \
	    "$1" "$3" 1
done
# A READ takes nothing or a range of 16 bytes (t/range.sh has more).
for n in 1 15 17 32; do
	req "READ with a payload of $n bytes" 1 \
	    "READ payload not 0 or 16 bytes" $R "$(hexof big/max)" $n
done
req "READ of a range at 0x7878787878787878, beyond the end" 15 \
    "range starts beyond the end of the chunk: offset 8680820740569200760, chunk of 8388608 bytes" \
    $R "$(hexof big/max)" 16
req "PING with an empty payload and paycrc 1" 1 \
    "payload crc32 not 0 for an empty payload" 1 - 0 1
req "WRITE with an empty payload and paycrc 1" 1 \
    "payload crc32 not 0 for an empty payload" $W "$(hexof e/x)" 0 1
check "... stored nothing" no_file "$DATA/e/x"
req "WRITE whose payload does not match paycrc" 6 \
    "payload crc32 mismatch" $W "$(hexof e/y)" 5 1
for m in 0 8 9 127 128 0x81 255 256 0x1000000000000001; do
	req "unknown method $m" 1 "unknown method" "$m" - 0
done
# The response names the method it read, low 7 bits, plus 0x80.
"$WIRETOOL" -a 127.0.0.1 -p "$PORT" -K "$CKEYNAME" -k "$CKEY" \
    req 0x1000000000000009 - 0 >"$T/wt.out" 2>&1
check "unknown method 0x1000000000000009: response method 0x89" \
    has "$T/wt.out" "method 0x89,"

### BUSY: the network process out of descriptors

# Each network process is left one descriptor, for the connection:
# sysinject makes it duplicate one of its own until one is left (as if
# it had that many clients), and closes them again afterwards.
# fill_fds PID: the duplicates' numbers go to $T/fds.PID; sysinject
# takes 64 calls at a time.
fill_fds() {
	_pid=$1
	_lim=$(awk '/^Max open files/ { print $4 }' "/proc/$_pid/limits")
	_n=$(ls "/proc/$_pid/fd" | wc -l)
	_fd=$(ls "/proc/$_pid/fd" | sort -n | head -n 1)
	_k=$((_lim - _n - 1))
	: >"$T/fds.$_pid"
	while [ "$_k" -gt 0 ]; do
		set --
		while [ "$_k" -gt 0 ] && [ $# -lt 64 ]; do
			set -- "$@" "fcntl($_fd, 1030, 0)"	# F_DUPFD_CLOEXEC
			_k=$((_k - 1))
		done
		sysinject -q "$_pid" "$@" >>"$T/fds.$_pid" || return 1
	done
	# Every call gave a descriptor.
	! grep -qv '^[0-9][0-9]*$' "$T/fds.$_pid"
}

# unfill_fds PID: close them.
unfill_fds() {
	_pid=$1
	set --
	for _fd in $(cat "$T/fds.$_pid"); do
		set -- "$@" "close($_fd)"
		if [ $# -eq 64 ]; then
			sysinject -q "$_pid" "$@" >/dev/null || return 1
			set --
		fi
	done
	[ $# -eq 0 ] || sysinject -q "$_pid" "$@" >/dev/null
}

NETPIDS=$(child_pids network)
for p in $NETPIDS; do
	fill_fds "$p" >"$T/fill.out" 2>&1 ||
	    bail "sysinject cannot fill $p's descriptors: $(cat "$T/fill.out")"
done
req "WRITE with no descriptor left for it" 14 \
    "out of (memory|file descriptors)" $W "$(hexof busy/x)" 1
check "... stored nothing" no_file "$DATA/busy/x"
for p in $NETPIDS; do
	unfill_fds "$p" || bail "sysinject cannot close $p's descriptors"
done
req "the same WRITE with descriptors again" 0 "" $W "$(hexof busy/x)" 1

### item 7: "admin" grants no request

WTKEY="adm $T/adm.key"
req "admin-only key: PING" 0 "" 1 - 0
req "admin-only key: WRITE" 2 "key lacks the permission for this request" \
    $W "$(hexof adm/x)" 1
for m in "3 READ $(hexof big/max)" "4 LIST $(hexof big)" \
    "5 STAT $(hexof big/max)" "6 STATFS -" "7 DIGEST $(hexof big/max)" \
    "3 READ-index $(hexof index/x)"; do
	set -- $m
	req "admin-only key: $2" 2 "key lacks the permission for this request" \
	    "$1" "$3" 0
done
WTKEY=

### item 8: too long on disk is CORRUPT; good bytes over rot are EXISTS

head -c $MIB8 /dev/urandom >"$T/m8" || bail "cannot make a file"
check "put rot/long (8 MiB)" cdctl chunk put rot/long "$T/m8"
chattr -i "$DATA/rot/long" && printf 'z' >>"$DATA/rot/long" &&
    chattr +i "$DATA/rot/long"
result $? "one byte appended to rot/long on disk"
req "STAT of a chunk of 8 MiB + 1 on disk" 10 "chunk is corrupt: too long" \
    $S "$(hexof rot/long)" 0
req "DIGEST of it" 10 "chunk is corrupt: too long" $D "$(hexof rot/long)" 0
req "READ of it" 10 "chunk is corrupt: too long" $R "$(hexof rot/long)" 0
cdctl chunk stat rot/long >"$T/stat.out" 2>&1
rc=$?
check "dctl chunk stat rot/long exits 4 ($rc)" [ "$rc" -eq 4 ]
check "... chunk is corrupt" has "$T/stat.out" "chunk is corrupt: too long"

# The chunk is five bytes 'x', what wiretool sends as a payload.
printf 'xxxxx' >"$T/good"
check "put rot/flip" cdctl chunk put rot/flip "$T/good"
check "flip a byte of it on disk" flip_byte "$DATA/rot/flip" 3
req "WRITE of the good bytes over it" 4 \
    "chunk exists with different content" $W "$(hexof rot/flip)" 5
cdctl chunk put rot/flip "$T/good" >"$T/put.out" 2>&1
rc=$?
check "dctl chunk put of the good bytes again fails ($rc)" [ "$rc" -ne 0 ]
check "... chunk exists with different content" \
    has "$T/put.out" "chunk exists with different content"
cdctl chunk get rot/flip "$T/got" >"$T/get.out" 2>&1
rc=$?
check "... and the chunk is still the rotted one: get exits 4 ($rc)" \
    [ "$rc" -eq 4 ]
# What an operator does instead (dsrv-protocol(5), dsrv-file(5)): store
# the file again with dctl put; filelayer.sh follows a whole file.
check "dctl put of a file" cdctl put "$T/good" rot/file
c=$(data_names "$T/good")
check "flip a byte of its data chunk $c" flip_byte "$DATA/$c" 0
check "dctl put of the file again" cdctl put "$T/good" rot/file
check "... its data chunk under the alternate name $c-1" \
    cmp "$T/good" "$DATA/$c-1"
check "... and dctl get reads it whole" cdctl get rot/file "$T/got2"
check "... byte for byte" cmp "$T/good" "$T/got2"

stop_dsrvd
rc=$?
check "dsrvd stops cleanly ($rc)" [ "$rc" -eq 0 ]

finish
