#!/bin/sh
# needs: root
# Storage checks every field of a request as if an attacker wrote it:
# a network process made (through gdb) to send storage a forged request
# takes the daemon down with a line naming the field, and storage never
# acts on it.  Each case: a method that does not go with the message, a
# namespace that climbs out (".." answered the chunk count outside every
# namespace), a name with a slash too many, LIST with no room (it wrote
# one byte past it), LIST and WRITE ranges that wrap around or leave the
# memfd, a chunk over 8 MiB, a payload fd that is not a memory file,
# and a request in no session at all.  A range (ranged, roff, rlen) is
# for READ alone: on a WRITE, STAT, DIGEST, LIST or STATFS, or a READ
# with ranged 2, it is forged too.  A READ of a range in a live
# session is served as the protocol says, whatever its numbers: an
# offset past the chunk's end (or 2^64 - 1) answers error 15 (RANGE),
# a length that wraps around past 2^64 is cut at the chunk's end, and
# the daemon and the chunk are left as they were.

. "$REGRESS/lib.sh"
storage_tmpdir
need_bins
ensure_users
ensure_chroot || bail "cannot prepare /var/empty"

# forge N TYPE FIELDS... : a fresh daemon; its first network worker
# sends storage 0 a forged request (lib.sh's forge_req).
forge() {
	_n=$1 _type=$2
	shift 2
	PORT='' DATA=''
	std_conf "$T/dsrvd.$_n.conf"
	start_dsrvd "$CONF" || bail "dsrvd did not start"
	ALLKIDS=$(kids "$DSRVD_PID")
	forge_req "$(child_pids network | head -n 1)" "$_type" "$@"
}

refused() {
	forge_refused "$@"
}

forge a IMSG_ST_STAT -ex 'set $r->method = 2' \
    -ex 'call (void)strcpy($r->name, "ab/x")'
refused "IMSG_ST_STAT with method 2" "a STAT that says it is a WRITE"

forge b IMSG_ST_STATFS -ex 'set $r->method = 6' \
    -ex 'call (void)strcpy($r->ns, "..")'
refused 'IMSG_ST_STATFS with namespace "\.\."' "a STATFS for namespace .."

forge c IMSG_ST_STAT -ex 'set $r->method = 5' \
    -ex 'call (void)strcpy($r->name, "ab/../x")'
refused 'IMSG_ST_STAT with name "ab/\.\./x"' "a STAT of ab/../x"

forge d IMSG_ST_LIST -ex 'set $r->method = 4' \
    -ex 'call (void)strcpy($r->name, "ab")' -ex 'set $r->maxlen = 0'
refused "IMSG_ST_LIST with no room to read into" "a LIST with no room"

forge e IMSG_ST_LIST -ex 'set $r->method = 4' \
    -ex 'call (void)strcpy($r->name, "ab")' \
    -ex 'set $r->off = 0xfffffffffffff000' -ex 'set $r->maxlen = 8192'
refused "IMSG_ST_LIST with a buffer range outside its memfd" \
    "a LIST whose range wraps around"

forge f IMSG_ST_READ -ex 'set $r->method = 3' \
    -ex 'call (void)strcpy($r->name, "ab/x")' \
    -ex 'set $r->off = 16777000' -ex 'set $r->maxlen = 8388608'
refused "IMSG_ST_READ with a buffer range outside its memfd" \
    "a READ past the end of its memfd"

forge g IMSG_ST_WRITE -ex 'set $r->method = 2' \
    -ex 'call (void)strcpy($r->name, "ab/x")' \
    -ex 'set $r->len = 8388609'
refused "IMSG_ST_WRITE with a chunk over 8 MiB" "a WRITE over 8 MiB"
check "nothing was stored by the forged WRITE" not ls "$DATA/ab/x"

forge i IMSG_ST_WRITE -ex 'set $r->method = 2' \
    -ex 'call (void)strcpy($r->name, "ab/y")' \
    -ex 'set $fd = (int)fcntl(3, 1030, 0)'
refused "IMSG_ST_WRITE with a buffer that is not a memory file" \
    "a WRITE whose payload fd is a socket (its channel to the parent)"
check "nothing was stored by the WRITE from a socket" not ls "$DATA/ab/y"

# A range on anything but a READ: storage names it before it looks at
# the session (0 here), and stores nothing.
forge j IMSG_ST_WRITE -ex 'set $r->method = 2' \
    -ex 'call (void)strcpy($r->name, "ab/r")' -ex 'set $r->len = 5' \
    -ex 'set $r->ranged = 1' -ex 'set $r->roff = 0' -ex 'set $r->rlen = 5'
refused "IMSG_ST_WRITE with a range outside a READ" "a WRITE with a range"
check "nothing was stored by the ranged WRITE" no_file "$DATA/ab/r"
check "... not even its directory" no_file "$DATA/ab"

forge k IMSG_ST_STAT -ex 'set $r->method = 5' \
    -ex 'call (void)strcpy($r->name, "ab/x")' -ex 'set $r->roff = 5'
refused "IMSG_ST_STAT with a range outside a READ" \
    "a STAT with a range offset (ranged 0)"

forge l IMSG_ST_DIGEST -ex 'set $r->method = 7' \
    -ex 'call (void)strcpy($r->name, "ab/x")' -ex 'set $r->rlen = 1'
refused "IMSG_ST_DIGEST with a range outside a READ" \
    "a DIGEST with a range length (ranged 0)"

forge m IMSG_ST_LIST -ex 'set $r->method = 4' \
    -ex 'call (void)strcpy($r->name, "ab")' -ex 'set $r->maxlen = 8192' \
    -ex 'set $r->ranged = 1' -ex 'set $r->roff = 0xffffffffffffffff' \
    -ex 'set $r->rlen = 0xffffffffffffffff'
refused "IMSG_ST_LIST with a range outside a READ" \
    "a LIST with a range of 2^64 - 1 at 2^64 - 1"

forge n IMSG_ST_STATFS -ex 'set $r->method = 6' -ex 'set $r->ranged = 1'
refused "IMSG_ST_STATFS with a range outside a READ" \
    "a STATFS with ranged 1"

forge o IMSG_ST_READ -ex 'set $r->method = 3' \
    -ex 'call (void)strcpy($r->name, "ab/x")' -ex 'set $r->maxlen = 8192' \
    -ex 'set $r->ranged = 2'
refused "IMSG_ST_READ with a range outside a READ" "a READ with ranged 2"

# And a well-formed request outside any session is forged too: storage
# serves only sessions crypto granted it (grants.sh tests those).
forge h IMSG_ST_STATFS -ex 'set $r->method = 6'
refused "IMSG_ST_STATFS with session 0000000000000000, which storage \
does not hold" "a well-formed STATFS without a session"

# A READ of a range, well formed, in a live session: forged by its
# network worker all the same, so that network's own checks of a
# client's range are not what stands in the way.  gdb catches storage's
# answer (st_res_get in that worker) and prints it; the forged request
# has a connection id (99) no connection has, so network drops it.
WIRETOOL=${WIRETOOL:-$REGRESS/tools/wiretool}
PORT='' DATA=''
storage_conf || bail "cannot write the configuration"
start_dsrvd "$CONF" || bail "dsrvd did not start"
rand_file "$T/x" 1000 || bail "cannot make a file"
cdctl chunk put ab/x "$T/x" >"$T/put.out" 2>&1 ||
    bail "chunk put ab/x: $(cat "$T/put.out")"
NACC=$(log_count ': accepted')
"$WIRETOOL" -a 127.0.0.1 -p "$PORT" -K "$CKEYNAME" -k "$CKEY" \
    -d 120000 idle >"$T/hold.out" 2>&1 &
HOLD=$!
add_bgpid "$HOLD"
wait_count ": accepted" "$NACC" 10 || bail "no session to hold"
SNET='' SID=''
for p in $(child_pids network); do
	timeout 60 gdb -p "$p" -batch -nx \
	    -ex "print/x 'network_conn.c'::conns.tqh_first->sid" \
	    >"$T/sid.out" 2>&1
	v=$(sed -n 's/^\$1 = \(0x[0-9a-f]*\)$/\1/p' "$T/sid.out")
	if [ -n "$v" ] && [ -z "$SNET" ]; then
		SNET=$p SID=$v
	fi
done
[ -n "$SNET" ] || bail "no network worker holds the session"

# ranged OFF LEN: network worker SNET sends storage 0 a READ of ab/x
# in session SID, of LEN bytes at OFF; storage's answer goes into
# $T/res.out as "error=E len=L crc=C msg=M".
ranged() {
	timeout 60 gdb -p "$SNET" -batch -nx \
	    -ex 'set $r = (struct st_req *)calloc(1, sizeof(struct st_req))' \
	    -ex 'set $fd = (int)memfd_create("forged", 0)' \
	    -ex 'call (int)ftruncate($fd, 8388608)' \
	    -ex "set \$r->sid = $SID" -ex 'set $r->method = 3' \
	    -ex 'call (void)strcpy($r->name, "ab/x")' \
	    -ex 'set $r->maxlen = 8388608' -ex 'set $r->ranged = 1' \
	    -ex "set \$r->roff = $1" -ex "set \$r->rlen = $2" \
	    -ex 'call (int)proc_compose(PROC_STORAGE, 0, IMSG_ST_READ, 99, $fd, $r, sizeof(struct st_req))' \
	    -ex 'break st_res_get' -ex 'continue' -ex 'set $o = res' \
	    -ex 'finish' \
	    -ex 'printf "error=%u len=%llu crc=%08x msg=%s\n", $o->error, $o->len, $o->crc, $o->msg' \
	    >"$T/gdb.out" 2>&1
	grep '^error=' "$T/gdb.out" >"$T/res.out" || {
		diag "gdb output:"
		diagfile "$T/gdb.out"
	}
}

# answer TEXT WANT: storage's answer is WANT, exactly; for an error,
# but for len and crc, which network does not look at then (they are
# the whole chunk's: the range is cut after the chunk was checked).
answer() {
	_got=$(cat "$T/res.out")
	case $_got in
	error=0\ *) _cmp=$_got ;;
	*) _cmp=$(printf '%s\n' "$_got" |
	    sed 's/ len=[0-9]* crc=[0-9a-f]* / len=- crc=- /') ;;
	esac
	if [ "$_cmp" = "$2" ]; then
		ok "$1: $_got"
	else
		notok "$1: \"$_got\", wanted \"$2\""
	fi
}

MAX=18446744073709551615
ranged 1001 1
answer "a READ of 1 byte at 1001 of a 1000-byte chunk: RANGE" \
    "error=15 len=- crc=- msg=range starts beyond the end of the chunk: offset 1001, chunk of 1000 bytes"
ranged $MAX 1
answer "a READ at offset 2^64 - 1: RANGE" \
    "error=15 len=- crc=- msg=range starts beyond the end of the chunk: offset $MAX, chunk of 1000 bytes"
ranged $MAX $MAX
answer "a READ of 2^64 - 1 bytes at 2^64 - 1: RANGE" \
    "error=15 len=- crc=- msg=range starts beyond the end of the chunk: offset $MAX, chunk of 1000 bytes"
last=$(tail -c 1 "$T/x" >"$T/x.last" && crc32_of "$T/x.last")
ranged 999 $MAX
answer "a READ of 2^64 - 1 bytes at 999 (offset + length wraps): the \
last byte" "error=0 len=1 crc=$last msg="
ranged 1000 $MAX
answer "a READ of 2^64 - 1 bytes at the end: empty" \
    "error=0 len=0 crc=00000000 msg="
ranged 0 0
answer "a READ of 0 bytes at 0: empty" "error=0 len=0 crc=00000000 msg="
mid=$(dd if="$T/x" bs=1 skip=500 count=100 2>/dev/null >"$T/x.mid" &&
    crc32_of "$T/x.mid")
ranged 500 100
answer "a READ of 100 bytes at 500: those bytes" \
    "error=0 len=100 crc=$mid msg="
check "the daemon is still running" alive "$DSRVD_PID"
check "... and no storage line refused a READ of a range" \
    not grep -q "fatal in storage" "$DSRVD_LOG"
check "ab/x is as it was stored" cmp "$T/x" "$DATA/ab/x"
check "... and still immutable" immutable "$DATA/ab/x"
check "a new session reads the chunk back" \
    cdctl chunk get ab/x "$T/x.got"
check "... identical" cmp "$T/x" "$T/x.got"
kill "$HOLD" 2>/dev/null
stop_dsrvd

finish
