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
# sends storage 0 an st_req with the gdb assignments FIELDS (on $r), and
# a fresh 8 MiB memfd with it for the types that carry one (network's
# FSIZE allows no larger).
forge() {
	_n=$1 _type=$2
	shift 2
	PORT='' DATA=''
	std_conf "$T/dsrvd.$_n.conf"
	start_dsrvd "$CONF" || bail "dsrvd did not start"
	ALLKIDS=$(kids "$DSRVD_PID")
	_net=$(child_pids network | head -n 1)
	set -- -ex 'set $r = (struct st_req *)calloc(1, sizeof(struct st_req))' \
	    -ex 'set $fd = (int)memfd_create("forged", 0)' \
	    -ex 'call (int)ftruncate($fd, 8388608)' "$@"
	case $_type in
	IMSG_ST_STAT|IMSG_ST_STATFS) _fd=-1 ;;
	*) _fd='$fd' ;;
	esac
	timeout 60 gdb -p "$_net" -batch -nx "$@" -ex "call (int)proc_compose(\
PROC_STORAGE, 0, $_type, 99, $_fd, \$r, sizeof(struct st_req))" \
	    >"$T/gdb.$_n.out" 2>&1
	grep -q '= 0$' "$T/gdb.$_n.out" || {
		diag "gdb output:"
		diagfile "$T/gdb.$_n.out"
	}
}

# refused DESC REGEX: the daemon stopped, storage's line matches.
refused() {
	_ok=1
	wait_gone "$DSRVD_PID" 10 || _ok=0
	for _k in $ALLKIDS; do
		wait_gone "$_k" 2 || _ok=0
	done
	if [ "$_ok" -eq 1 ] && grep -Eq "fatal in storage\[0\]: \
network\[[0-9]+\] sent $1" "$DSRVD_LOG"; then
		ok "storage refuses $2"
	else
		notok "storage refuses $2"
		diagfile "$DSRVD_LOG"
	fi
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
