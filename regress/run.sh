#!/bin/sh
# Run the regression tests: unit test binaries, then the daemon tests.
# regress/README says how to run all, one file, one case, and as whom.
#
#	sh regress/run.sh [file ...]
#	sh regress/run.sh file case	(the same as ONLY=case ... file)
#
# Every file prints TAP lines; "ok" and "not ok" lines are counted.  A
# file that exits non-zero without having reported a failure, that
# dies of a signal or times out, or that runs fewer tests than it
# planned, counts as one more failure.  The last line is always
# "N passed, N failed"; the exit status is 1 if anything failed.
#
# A test file that starts real daemons says so near its top with the
# line "# needs: root".  Run by another user such a file is skipped,
# with the reason, and counts neither way; everything else (the unit
# tests, the configuration corpus) runs as any user.

cd "$(dirname "$0")/.." || exit 1
TOP=$(pwd -P)
DSRVD=$TOP/dsrvd/dsrvd
DCTL=$TOP/dctl/dctl
REGRESS=$TOP/regress
export DSRVD DCTL REGRESS

TIMEOUT=${REGRESS_TIMEOUT:-300}
passed=0
failed=0
out=$(mktemp /tmp/dsrvd-run.XXXXXXXX) || exit 1
trap 'rm -f "$out"' EXIT
trap 'exit 1' HUP INT PIPE TERM

# needs_root FILE: does the file declare that it needs root?
needs_root() {
	case $1 in
	*.sh)	head -n 20 "$1" | grep -qx '# needs: root' ;;
	*)	return 1 ;;
	esac
}

# "run.sh FILE CASE": a second word that is not a file names a case.
if [ $# -eq 2 ] && [ -f "$1" ] && [ ! -e "$2" ]; then
	ONLY=$2
	export ONLY
	set -- "$1"
fi

if [ $# -gt 0 ]; then
	files="$*"
else
	files=
	for f in regress/unit/*_test; do
		case $f in
		*.c|*.o|*.dSYM) continue ;;
		esac
		[ -f "$f" ] && [ -x "$f" ] && files="$files $f"
	done
	for f in regress/t/*.sh; do
		[ -f "$f" ] && files="$files $f"
	done
fi

skipped=0
for f in $files; do
	echo "$f"
	if [ ! -f "$f" ]; then
		echo "    not ok - $f: no such test file"
		failed=$((failed + 1))
		continue
	fi
	if [ "$(id -u)" -ne 0 ] && needs_root "$f"; then
		echo "    skipped: needs root (its \"# needs: root\" line)"
		skipped=$((skipped + 1))
		continue
	fi
	# Only some files pick cases (regress/README); say when it is
	# ignored, rather than quietly run the whole file.
	if [ -n "$ONLY" ] && ! grep -q ONLY "$f"; then
		echo "    # ONLY=$ONLY ignored: this file runs all its cases"
	fi
	# A file that drives long real programs (restic) may ask for more
	# with a line "# timeout: SECONDS"; never less than TIMEOUT.
	ftime=$TIMEOUT
	case $f in
	*.sh)
		want=$(sed -n 's/^# timeout: \([0-9][0-9]*\)$/\1/p' "$f" |
		    head -n 1)
		[ -n "$want" ] && [ "$want" -gt "$TIMEOUT" ] && ftime=$want
		# LeakSanitizer cannot work in a chrooted child (no /proc):
		# unless told otherwise, sanitized daemons run without it.
		ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=0} \
		    timeout -k 10 "$ftime" sh "$f" </dev/null >"$out" 2>&1
		rc=$?
		;;
	*)
		case $f in
		/*) cmd=$f ;;
		*) cmd=./$f ;;
		esac
		timeout -k 10 "$TIMEOUT" "$cmd" </dev/null >"$out" 2>&1
		rc=$?
		;;
	esac
	sed 's/^/    /' "$out"
	p=$(grep -c '^ok' "$out")
	n=$(grep -c '^not ok' "$out")
	passed=$((passed + p))
	failed=$((failed + n))
	extra=
	if [ "$rc" -eq 124 ] || [ "$rc" -eq 137 ]; then
		extra="timed out after ${ftime}s"
	elif [ "$rc" -gt 128 ]; then
		extra="exited $rc (signal $((rc - 128)))"
	elif [ "$rc" -ne 0 ] && [ "$n" -eq 0 ]; then
		extra="exited $rc"
	elif [ "$rc" -gt 1 ]; then
		extra="exited $rc"
	else
		# A plan ("1..N") is a promise: fewer results means a crash.
		plan=$(sed -n 's/^1\.\.\([0-9][0-9]*\).*/\1/p' "$out" | tail -n 1)
		if [ -n "$plan" ] && [ "$plan" -ne $((p + n)) ]; then
			extra="planned $plan tests, ran $((p + n))"
		fi
	fi
	if [ -n "$extra" ]; then
		echo "    not ok - $f $extra"
		failed=$((failed + 1))
	fi
done

[ "$skipped" -eq 0 ] ||
    echo "test files skipped because they need root: $skipped"
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
