#!/bin/sh
# needs: root
# LIST continuation on the real daemon.  index/ gets 100,000 chunks
# with names of 200 bytes, made straight on the disk (storage lists any
# regular file: a LIST reads no crc32 attribute), so that its names
# need three 8 MiB LIST responses; three files stored with dctl have
# metadata names that sort before and after all of them.  dctl chunk ls
# lists every name exactly once, in order, over several LISTs; dctl
# match and stat find the files whose metadata sorts last, which only a
# client that pages can see.  A LIST whose start name is not a NAME is
# refused with BADNAME, and the connection serves on; storage refuses
# one forged inside a network worker.

. "$REGRESS/lib.sh"
storage_tmpdir
need_bins
ensure_users
ensure_chroot || bail "cannot prepare /var/empty"
WIRETOOL=${WIRETOOL:-$REGRESS/tools/wiretool}
[ -x "$WIRETOOL" ] ||
    bail "wiretool not built ($WIRETOOL; make regress/tools/wiretool)"
storage_conf || bail "cannot write the configuration"
start_dsrvd "$CONF" || bail "dsrvd did not start"

NJUNK=100000
rand_file "$T/early" 1000
rand_file "$T/late1" 2000
rand_file "$T/late2" 3000
check "dctl put 0early" cdctl put "$T/early" 0early
check "dctl put zz/late1" cdctl put "$T/late1" zz/late1
check "dctl put zz/late2" cdctl put "$T/late2" zz/late2
[ -d "$DATA/index" ] || bail "no $DATA/index after a put"

# The junk: j000000xxx...x, 200 bytes each, between "0early-..." and
# "zz_late...-..." in byte order.
t0=$(date +%s)
python3 - "$DATA/index" "$NJUNK" <<'PY' || bail "cannot make the names"
import os, sys
d, n = sys.argv[1], int(sys.argv[2])
fd = os.open(d, os.O_RDONLY | os.O_DIRECTORY)
for i in range(n):
    name = ("j%06d" % i).ljust(200, "x")
    os.close(os.open(name, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o400,
        dir_fd=fd))
os.close(fd)
PY
diag "$NJUNK names made in $(($(date +%s) - t0)) s"
NALL=$((NJUNK + 3))
(cd "$DATA/index" && ls -A) | LC_ALL=C sort >"$T/want"
check "index/ holds $NALL chunks on disk" \
    [ "$(wc -l <"$T/want")" -eq "$NALL" ]
FIRST=$(head -n 1 "$T/want")
LAST=$(tail -n 1 "$T/want")

status
L0=$(counter "chunk lists")
cdctl chunk ls index >"$T/ls.out" 2>"$T/ls.err"
check "dctl chunk ls index exits 0 ($?)" [ $? -eq 0 ]
diagfile "$T/ls.err"
sed 's|^index/||' "$T/ls.out" >"$T/got"
check "it lists $NALL names ($(wc -l <"$T/got"))" \
    [ "$(wc -l <"$T/got")" -eq "$NALL" ]
check "the first is $FIRST" [ "$(head -n 1 "$T/got")" = "$FIRST" ]
check "the last is $LAST" [ "$(tail -n 1 "$T/got")" = "$LAST" ]
check "every name once, in byte order, as on the disk" \
    cmp -s "$T/got" "$T/want"
check "storage served at least 3 LISTs for it" \
    counter_ge "chunk lists" $((L0 + 3))

# match and stat find what sorts after 100,000 other metadata names.
cdctl match zz/ >"$T/match.out" 2>"$T/match.err"
check "dctl match zz/ exits 0" [ $? -eq 0 ]
diagfile "$T/match.err"
check "it finds zz/late1 and zz/late2, and nothing else" \
    [ "$(awk '{print $NF}' "$T/match.out" | LC_ALL=C sort | tr '\n' ' ')" \
    = "zz/late1 zz/late2 " ]
check "the crc32 of zz/late2 is the file's" \
    grep -q "^$(crc32_of "$T/late2") .* zz/late2\$" "$T/match.out"
check "dctl match 0 finds 0early" \
    [ "$(cdctl match 0 2>&1 | awk '{print $NF}')" = 0early ]
check "dctl stat zz/late2" cdctl stat zz/late2
check "dctl get zz/late1 gives its bytes" cdctl get zz/late1 "$T/got1"
check "byte-identical" cmp -s "$T/late1" "$T/got1"

# A start name that is not a NAME.
hex() {
	printf '%s' "$1" | od -An -tx1 -v | tr -d ' \n'
}
for a in .hidden a/b .. 'a b' "$(printf '%0201d' 0)"; do
	"$WIRETOOL" -a 127.0.0.1 -p "$PORT" -K "$CKEYNAME" -k "$CKEY" \
	    list-after "$(hex "$a")" >"$T/wt.out" 2>&1
	rc=$?
	check "LIST after \"$(printf '%.12s' "$a")\" (${#a} bytes): BADNAME, \
connection serves on" [ $rc -eq 0 ]
	[ $rc -eq 0 ] || diagfile "$T/wt.out"
done
"$WIRETOOL" -a 127.0.0.1 -p "$PORT" -K "$CKEYNAME" -k "$CKEY" \
    list-after "$(hex ab)00" >"$T/wt.out" 2>&1
check "LIST after a name with a NUL: BADNAME" [ $? -eq 0 ]
check "the log says why" \
    grep -q "LIST refused: bad name to list after" "$DSRVD_LOG"
check "the daemon runs on" alive "$DSRVD_PID"
check "no process stopped the daemon" not grep -q "fatal in" "$DSRVD_LOG"

# Storage checks the start name again: a network worker made to send
# one that is not a NAME takes the daemon down.
if command -v gdb >/dev/null 2>&1; then
	ALLKIDS=$(kids "$DSRVD_PID")
	forge_req "$(child_pids network | head -n 1)" IMSG_ST_LIST \
	    -ex 'set $r->method = 4' -ex 'call (void)strcpy($r->name, "ab")' \
	    -ex 'call (void)strcpy($r->after, "../x")' \
	    -ex 'set $r->maxlen = 8192'
	forge_refused 'IMSG_ST_LIST with start name "\.\./x"' \
	    "a LIST forged with the start name ../x"
else
	skip "a forged LIST with a bad start name: no gdb"
fi

finish
