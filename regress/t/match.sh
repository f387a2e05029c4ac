#!/bin/sh
# needs: root
# dctl match over a few thousand stored files (stored quickly with the
# lib writer through regress/tools/filetool, several writers at once):
# "" lists them all and every line shows the crc32, size and name the
# writer used; prefixes select exactly the files whose names start so,
# including prefixes that end inside a path component, a full name,
# prefixes of names that sanitize alike ("a/x/" must not bring
# "a_x_..."), and a prefix nothing has; -j gives one JSON object per
# file; match of everything is quick (thousands of files per second
# on the loopback, within a generous bound here); stat of one of the
# many; everything still matches after a restart.

. "$REGRESS/lib.sh"
storage_tmpdir
need_bins
own_dctl || bail "cannot copy dctl"
[ -x "$FILETOOL" ] || bail "regress/tools/filetool not built"
ensure_users
ensure_chroot || bail "cannot prepare /var/empty"
storage_conf || bail "cannot write the configuration"
start_dsrvd "$CONF" || bail "dsrvd did not start"

{
	seq -f 'a/x/%04g' 0 1199
	seq -f 'a/y/%04g' 0 799
	seq -f 'b/%04g' 0 999
	echo 'a_x_0001'
	echo 'a.x'
	echo 'ax'
} >"$T/names"
NFILES=$(wc -l <"$T/names")

t0=$(date +%s)
ftool many -j 8 <"$T/names" >"$T/manifest" 2>"$T/many.err"
rc=$?
diag "$NFILES files stored in $(($(date +%s) - t0)) s"
check "filetool stored $NFILES files (exit $rc)" [ "$rc" -eq 0 ]
diagfile "$T/many.err"
check "filetool reported $NFILES files" \
    [ "$(wc -l <"$T/manifest")" -eq "$NFILES" ]
check "index/ holds $NFILES metadata chunks" \
    [ "$(ls "$DATA/index" | wc -l)" -eq "$NFILES" ]

# want PREFIX: the manifest lines whose name starts with PREFIX, as
# "crc32 size name".
want() {
	awk -v p="$1" 'substr($3, 1, length(p)) == p' "$T/manifest"
}

# got FILE: dctl match output as "crc32 size name".
got() {
	sed -E 's/^([0-9a-f]{8})  +([0-9]+)  [0-9]{4}-[0-9]{2}-[0-9]{2} [0-9]{2}:[0-9]{2}:[0-9]{2}  (.*)$/\1 \2 \3/' "$1"
}

# match_is PREFIX N: match PREFIX exits 0 and lists exactly the N files
# of the manifest whose names start with PREFIX, with their crc32 and
# size.
match_is() {
	cdctl match "$1" >"$T/match.out" 2>"$T/match.err"
	_rc=$?
	if [ "$_rc" -ne 0 ]; then
		notok "match '$1': exit $_rc"
		diagfile "$T/match.err"
		return
	fi
	want "$1" >"$T/match.want"
	got "$T/match.out" >"$T/match.got"
	if [ "$(wc -l <"$T/match.want")" -ne "$2" ]; then
		notok "match '$1': the test expects $2 files," \
		    "the manifest has $(wc -l <"$T/match.want")"
		return
	fi
	if same_lines "$T/match.want" "$T/match.got" >"$T/same.out"; then
		ok "match '$1': exactly the $2 files, crc32, size and name"
	else
		notok "match '$1': exactly the $2 files, crc32, size and name"
		diagfile "$T/same.out"
	fi
}

t0=$(date +%s%N)
match_is "" "$NFILES"
ms=$((($(date +%s%N) - t0) / 1000000))
diag "match of all $NFILES files took $ms ms"
check "match of all $NFILES files within 10 s ($ms ms)" [ "$ms" -lt 10000 ]
check "every line of match: crc32, size, date and time, name" \
    [ "$(grep -Ec '^[0-9a-f]{8}  +[0-9]+  [0-9]{4}-[0-9]{2}-[0-9]{2} [0-9]{2}:[0-9]{2}:[0-9]{2}  ' \
    "$T/match.out")" -eq "$NFILES" ]
cp "$T/match.out" "$T/all.out"
cdctl match >"$T/match.out" 2>&1
check "match without a prefix lists the same as match \"\"" \
    same_lines "$T/all.out" "$T/match.out"

match_is a 2003
match_is a/ 2000
match_is a/x 1200
match_is a/x/ 1200
match_is a/x/00 100
match_is a/x/000 10
match_is a/x/0001 1
match_is a/y/0799 1
match_is b/ 1000
match_is b/09 100
match_is a_ 1
match_is a_x_ 1
match_is a. 1
match_is ax 1
match_is nothing-here 0
check "match of a prefix nothing has prints nothing" [ ! -s "$T/match.out" ]

cdctl -j match a/y/ >"$T/match.json" 2>&1
check "match -j a/y/: 800 JSON objects" json_lines "$T/match.json" 800
check "match -j a/y/: 800 lines" [ "$(wc -l <"$T/match.json")" -eq 800 ]
check "match -j a/y/: a/y/0456 is there" json_has "$T/match.json" a/y/0456
check "match -j a/y/: no a/x/ name" \
    not grep -q 'a/x/\|a\\/x\\/' "$T/match.json"

n=$(want a/x/0042 | awk '{print $1}')
cdctl stat a/x/0042 >"$T/stat.out" 2>&1
rc=$?
check "stat a/x/0042 exits 0 ($rc)" [ "$rc" -eq 0 ]
check "stat a/x/0042: crc32 $n" has "$T/stat.out" "$n"

# Storing the same names again stores the same files: nothing new.
ftool many -j 8 <"$T/names" >"$T/manifest2" 2>"$T/many.err"
rc=$?
check "storing the same $NFILES files again succeeds ($rc)" [ "$rc" -eq 0 ]
check "and index/ still holds $NFILES metadata chunks" \
    [ "$(ls "$DATA/index" | wc -l)" -eq "$NFILES" ]
match_is "" "$NFILES"

stop_dsrvd
rc=$?
check "dsrvd stops cleanly ($rc)" [ "$rc" -eq 0 ]
start_dsrvd "$CONF" || bail "dsrvd did not start again"
match_is "" "$NFILES"
match_is a/x/01 100
stop_dsrvd

finish
