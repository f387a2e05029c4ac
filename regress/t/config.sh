#!/bin/sh
# The configuration grammar, BGPD-style: every file of regress/config is
# checked with the real "dsrvd -n".
#
#	NAME.conf	must be accepted; "dsrvd -nv" must print NAME.out,
#			and that output must parse again to itself
#	bad-NAME.conf	must be refused with exactly the lines of
#			bad-NAME.err on stderr
#
# The files are given relative to regress/config so that error lines
# are stable.  Key files cannot live in git (it does not keep mode
# 0600), so they are made here and the files name them as $keydir;
# their directory is written as @KEYDIR@ in the golden files.
#
# A line "# args: ..." in a .conf adds arguments (-D macros); a line
# "# nv-filter: SED" is applied to the output before the comparison,
# for what depends on the host (like whether localhost is also ::1).
#
# Every run of the checker is bounded by CONF_TIMEOUT seconds (default
# 10): a grammar that loops (an include cycle read over and over) is a
# failure of that case, not a hung test suite.
#
# The shipped etc/dsrvd.conf must be accepted as it is (case "shipped"),
# and plain "-n" prints only the verdict (case "verdict").
#
# ONLY=PATTERN (a shell pattern, as in case) runs only the corpus files,
# or the named extra cases, whose name matches: ONLY=bad-include runs
# bad-include.conf alone, ONLY='bad-inc*' every include error.  Needs
# no root: "dsrvd -n" reads files and opens no socket.
#
# CONF_CHECK=path runs another program with dsrvd's -n conventions (the
# regress/unit/conf_test driver does); CONF_REGEN=1 rewrites the golden
# files from the current output, to be reviewed with git diff.

: "${REGRESS:=$(cd "$(dirname "$0")/.." && pwd)}"
. "$REGRESS/lib.sh"
tmpdir

CHECK=${CONF_CHECK:-$DSRVD}
CONF_TIMEOUT=${CONF_TIMEOUT:-10}
SHIPPED=$REGRESS/../etc/dsrvd.conf
if [ ! -x "$CHECK" ] && [ -z "$CONF_CHECK" ] &&
    [ -x "$REGRESS/unit/conf_test" ]; then
	diag "no $CHECK, using regress/unit/conf_test"
	CHECK=$REGRESS/unit/conf_test
fi
[ -x "$CHECK" ] || bail "config: no $CHECK to test"
case $CHECK in
/*)	;;
*)	CHECK=$(pwd)/$CHECK ;;
esac

K=$T/keys
mkdir "$K" || bail "config: cannot make $K"
# base64 of the bytes 0..31, of the bytes 31..0, and of 16 bytes
printf '%s\n' AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8= >"$K/good.key"
printf '%s\n' HxwdHhscGBkaFxYVFBMSERAPDg0MCwoJCAcGBQQDAgE= >"$K/other.key"
printf '%s\n' AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8= >"$K/group.key"
printf '%s\n' AAECAwQFBgcICQoLDA0ODw== >"$K/short.key"
chmod 600 "$K/good.key" "$K/other.key" "$K/short.key" &&
    chmod 640 "$K/group.key" || bail "config: chmod"

cd "$REGRESS/config" || bail "config: no $REGRESS/config"

# selected NAME: is the case NAME to run?
selected() {
	[ -z "$ONLY" ] && return 0
	# shellcheck disable=SC2254
	case $1 in
	$ONLY)	return 0 ;;
	esac
	return 1
}

# check_conf ARGS...: the checker, bounded in time.
check_conf() {
	timeout -k 5 "$CONF_TIMEOUT" "$CHECK" "$@"
}

# hung RC FILE: say so when the checker was stopped by the timeout.
hung() {
	[ "$1" -eq 124 ] || [ "$1" -eq 137 ] || return 1
	diag "$2: no verdict after ${CONF_TIMEOUT}s (a loop in the grammar?)"
}

# accepted RC OUT ERR WANT FILE: the checker exited 0, said nothing on
# stderr and printed WANT for FILE; otherwise why not, as diagnostics.
accepted() {
	if [ "$1" -eq 0 ] && [ ! -s "$3" ] &&
	    diff -u "$4" "$2" >"$T/diff" 2>&1; then
		return 0
	fi
	hung "$1" "$5" || diag "exit status $1"
	diagfile "$3"
	diagfile "$T/diff"
	return 1
}

# run OUT ERR FILE -n|-nv: the checker with the corpus conventions.
run() {
	_out=$1 _err=$2 _f=$3 _opt=$4
	# shellcheck disable=SC2046
	check_conf "$_opt" -D keydir="$K" $(sed -n 's/^# args: //p' "$_f") \
	    -f "$_f" >"$_out" 2>"$_err"
}

# golden ACTUAL FILE EXPECTED: placeholder for the key directory, the
# file's own filter.
golden() {
	_filter=$(sed -n 's/^# nv-filter: //p' "$2")
	if [ -n "$_filter" ]; then
		sed -e "s|$K|@KEYDIR@|g" -e "$_filter" "$1" >"$1.g"
	else
		sed -e "s|$K|@KEYDIR@|g" "$1" >"$1.g"
	fi
	if [ -n "$CONF_REGEN" ]; then
		cp "$1.g" "$3"
		return 0
	fi
	[ -f "$3" ] || {
		echo "missing golden file $3"
		return 1
	}
	diff -u "$3" "$1.g"
}

for f in *.conf; do
	name=${f%.conf}
	selected "$name" || continue
	case $name in
	bad-*)
		run "$T/out" "$T/err" "$f" -n
		rc=$?
		if hung "$rc" "$f"; then
			notok "config $f is refused with the expected errors"
		elif [ "$rc" -eq 0 ]; then
			notok "config $f is refused"
			diag "exit status 0"
			diagfile "$T/out"
		elif golden "$T/err" "$f" "$name.err" >"$T/diff" 2>&1; then
			ok "config $f is refused with the expected errors"
		else
			notok "config $f is refused with the expected errors"
			diagfile "$T/diff"
		fi
		;;
	*)
		run "$T/out" "$T/err" "$f" -nv
		rc=$?
		if [ "$rc" -ne 0 ] || [ -s "$T/err" ]; then
			notok "config $f is accepted"
			hung "$rc" "$f" || diag "exit status $rc"
			diagfile "$T/err"
			continue
		fi
		if golden "$T/out" "$f" "$name.out" >"$T/diff" 2>&1; then
			ok "config $f prints its normal form"
		else
			notok "config $f prints its normal form"
			diagfile "$T/diff"
		fi
		# The normal form, with the real key paths, reads back the
		# same.
		sed '$d' "$T/out" >"$T/rt.conf"
		check_conf -nv -f "$T/rt.conf" >"$T/rt.out" 2>"$T/rt.err"
		accepted $? "$T/rt.out" "$T/rt.err" "$T/out" \
		    "the normal form of $f" >"$T/why"
		result $? "config $f: the normal form parses to itself"
		cat "$T/why"
		;;
	esac
done

printf 'configuration OK\n' >"$T/want"

# Without -v, only the verdict.
if selected verdict; then
	check_conf -n -f empty.conf >"$T/out" 2>&1
	if diff -u "$T/want" "$T/out" >"$T/diff"; then
		ok "dsrvd -n prints configuration OK"
	else
		notok "dsrvd -n prints configuration OK"
		diagfile "$T/diff"
	fi
fi

# The example that is installed as /etc/dsrvd.conf, as it ships: it
# names no key file and no user is looked up by -n, so it needs no
# macros and no setup on the test machine.
if selected shipped; then
	check_conf -n -f "$SHIPPED" >"$T/out" 2>"$T/err"
	accepted $? "$T/out" "$T/err" "$T/want" "$SHIPPED" \
	    >"$T/why"
	result $? "the shipped etc/dsrvd.conf is accepted"
	cat "$T/why"
fi

[ "$TESTNUM" -gt 0 ] || bail "config: ONLY=$ONLY matches no case"

finish
