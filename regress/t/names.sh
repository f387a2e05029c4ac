#!/bin/sh
# needs: root
# Chunk names: path traversal and every other bad name (.., more than
# one slash, a leading dot, empty parts, too long, control characters,
# NUL, bytes outside the alphabet) is refused, through dctl and through
# a raw WRITE from wiretool that no client-side check can stop, with
# error BADNAME and "bad chunk name: ..."; nothing is created inside the
# data directory or anywhere around it.  Names at the length limits and
# with every allowed character work.

. "$REGRESS/lib.sh"
storage_tmpdir
need_bins
ensure_users
ensure_chroot || bail "cannot prepare /var/empty"
WIRETOOL=${WIRETOOL:-$REGRESS/tools/wiretool}
[ -x "$WIRETOOL" ] ||
    bail "wiretool not built ($WIRETOOL; make regress/tools/wiretool)"

# The data directory one level down, so that "../x" from it lands in a
# directory this test watches.
mkdir -p "$T/box/data" "$T/box/x" || bail "cannot make directories"
DATA=$T/box/data
storage_conf || bail "cannot write the configuration"
start_dsrvd "$CONF" || bail "dsrvd did not start"
printf 'payload' >"$T/p"

tree_list "$T/box" >"$T/tree.before"
ls -A / >"$T/root.before"

# hexof STRING: its bytes in hex.
hexof() {
	printf '%s' "$1" | od -An -v -tx1 | tr -d ' \n'
}

# rep N C: C repeated N times.
rep() {
	printf "%${1}s" '' | tr ' ' "$2"
}

# wt_name TEXT HEX [BADREQUEST]: a raw WRITE under the name HEX is
# answered with error 5 (BADNAME) and "bad chunk name: ...", or with
# BADREQUEST too when the wire format itself cannot carry the name.
wt_name() {
	"$WIRETOOL" -a 127.0.0.1 -p "$PORT" -K "$CKEYNAME" -k "$CKEY" \
	    write-name "$2" >"$T/wt.out" 2>&1
	_rc=$?
	_line=$(head -n 1 "$T/wt.out")
	if [ "$_rc" -ne 0 ]; then
		notok "raw WRITE $1: refused (wiretool exit $_rc): $_line"
		return
	fi
	if [ -n "$3" ]; then
		ok "raw WRITE $1: refused: $_line"
	elif grep -q 'error 5 .*"bad chunk name: ' "$T/wt.out"; then
		ok "raw WRITE $1: BADNAME: $_line"
	else
		notok "raw WRITE $1: BADNAME, \"bad chunk name: ...\": $_line"
	fi
}

# dctl_name TEXT NAME: dctl chunk put, get and stat of NAME fail, and
# not with "not found": the name was refused, not looked up.
dctl_name() {
	cdctl chunk put "$2" "$T/p" >"$T/put.out" 2>&1
	_rc=$?
	if [ "$_rc" -ne 0 ] && grep -q 'bad chunk name' "$T/put.out"; then
		ok "dctl chunk put $1: refused (exit $_rc)"
	else
		notok "dctl chunk put $1: refused with bad chunk name" \
		    "(exit $_rc)"
		diagfile "$T/put.out"
	fi
	for _c in get stat; do
		cdctl chunk "$_c" "$2" >"$T/c.out" 2>&1 </dev/null
		_rc=$?
		if [ "$_rc" -ne 0 ] && [ "$_rc" -ne 3 ] &&
		    grep -q 'bad chunk name' "$T/c.out"; then
			ok "dctl chunk $_c $1: refused (exit $_rc)"
		else
			notok "dctl chunk $_c $1: refused with bad chunk name" \
			    "(exit $_rc, 3 would mean it was looked up)"
			diagfile "$T/c.out"
		fi
	done
}

# bad TEXT NAME: both.
bad() {
	dctl_name "$1" "$2"
	wt_name "$1" "$(hexof "$2")"
}

### bad names that dctl can pass

bad "../x" "../x"
bad "../../x" "../../x"
bad "../box/x/y" "../box/x/y"
bad "x/../y" "x/../y"
bad "a/b/c" "a/b/c"
bad ".x/y" ".x/y"
bad "x/.y" "x/.y"
bad "./x" "./x"
bad "x/." "x/."
bad ".." ".."
bad "../.." "../.."
bad "x/.." "x/.."
bad ".tmp/x" ".tmp/x"
bad ".ns/x" ".ns/x"
bad "/x" "/x"
bad "x/" "x/"
bad "/" "/"
bad "x//y" "x//y"
bad "no slash" "x"
bad "DIR of 33 bytes" "$(rep 33 d)/x"
bad "NAME of 201 bytes" "x/$(rep 201 n)"
bad "DIR/NAME of 255 bytes, NAME too long" "d/$(rep 253 n)"
bad "a space" "a/b c"
bad "a tab" "a/b$(printf '\t')c"
bad "control byte 0x01" "a/$(printf '\001')"
bad "control byte 0x1b in DIR" "$(printf '\033')a/b"
bad "DEL 0x7f" "a/b$(printf '\177')"
bad "a backslash" 'a/b\c'
bad "a star" 'a/b*'
bad "a colon" 'a/b:c'
bad "UTF-8 e-acute" "a/$(printf '\303\251')"
bad "byte 0xff" "a/$(printf '\377')"

### names only a raw request can carry

dctl_name "empty name" ""
wt_name "empty name (no name field)" "" badrequest
wt_name "a newline" "$(hexof a/b)0a63"
wt_name "carriage return" "$(hexof a/b)0d"
wt_name "NUL inside NAME" "$(hexof a/b)00$(hexof c)" badrequest
wt_name "NUL as DIR" "00$(hexof /x)" badrequest
wt_name "NUL at the end" "$(hexof a/b)00" badrequest
wt_name "256 bytes (past the wire's name limit)" \
    "$(hexof "d/$(rep 254 n)")" badrequest

### bad LIST directories

for d in .. . .tmp .ns "a/b" "a/" "/a" "$(rep 33 d)" "a b" \
    "a$(printf '\001')"; do
	cdctl chunk ls "$d" >"$T/ls.out" 2>&1
	rc=$?
	if [ "$rc" -ne 0 ] && grep -q 'bad chunk name' "$T/ls.out"; then
		ok "dctl chunk ls \"$d\": refused (exit $rc)"
	else
		notok "dctl chunk ls \"$d\": refused (exit $rc)"
		diagfile "$T/ls.out"
	fi
done

### nothing happened anywhere

tree_list "$T/box" >"$T/tree.after"
check "nothing created, changed or removed in or around the data directory" \
    diff "$T/tree.before" "$T/tree.after"
ls -A / >"$T/root.after"
check "nothing created in /" diff "$T/root.before" "$T/root.after"
check "DATA/.tmp holds no data" tmp_clean "$DATA"
check "dsrvd still runs" alive "$DSRVD_PID"
status
check "counter: chunks written 0" counter_is "chunks written" 0

### good names at the limits and with every allowed character

good() {
	cdctl chunk put "$1" "$T/p" >"$T/put.out" 2>&1
	_rc=$?
	if [ "$_rc" -eq 0 ] && cmp -s "$T/p" "$DATA/$1"; then
		ok "good name $2: stored at DATA/$2"
	else
		notok "good name $2: stored (exit $_rc)"
		diagfile "$T/put.out"
	fi
}
d32=$(rep 32 d)
n200=$(rep 200 n)
good "$d32/x" "DIR of 32 bytes"
good "x/$n200" "NAME of 200 bytes"
good "$d32/$n200" "DIR of 32 and NAME of 200 bytes"
good "AZaz09._-/AZaz09._-" "AZaz09._-/AZaz09._-"
good "a..b/c..d" "a..b/c..d (dots inside)"
good "-/_" "-/_"
good "x/y." "x/y. (a trailing dot)"
check "each in its directory: 5 directories besides .tmp" \
    [ "$(find "$DATA" -mindepth 1 -maxdepth 1 -type d ! -name .tmp |
    wc -l)" -eq 5 ]
check "counter: chunks written 7" counter_is "chunks written" 7
tree_list "$T/box/x" >"$T/x.after"
check "still nothing in the directory next to the data directory" \
    [ "$(wc -l <"$T/x.after")" -eq 1 ]

stop_dsrvd
rc=$?
check "dsrvd stops cleanly ($rc)" [ "$rc" -eq 0 ]

finish
