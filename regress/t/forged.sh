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
# and a request in no session at all.

. "$REGRESS/lib.sh"
tmpdir
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

# And a well-formed request outside any session is forged too: storage
# serves only sessions crypto granted it (grants.sh tests those).
forge h IMSG_ST_STATFS -ex 'set $r->method = 6'
refused "IMSG_ST_STATFS with session 0000000000000000, which storage \
does not hold" "a well-formed STATFS without a session"

finish
