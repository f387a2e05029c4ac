#!/bin/sh
# Run the regression tests: unit test binaries, then the daemon tests.
#
#	sh regress/run.sh [file ...]
#
# Every file prints TAP lines; "ok" and "not ok" lines are counted.  A
# file that exits non-zero without having reported a failure, that
# dies of a signal or times out, or that runs fewer tests than it
# planned, counts as one more failure.  The last line is always
# "N passed, N failed"; the exit status is 1 if anything failed.

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

root_refused=0
for f in $files; do
	echo "$f"
	case $f in
	*.sh)
		if [ "$(id -u)" -ne 0 ]; then
			# One failure for the lot: the reason is the same.
			if [ "$root_refused" -eq 0 ]; then
				echo "    not ok - regress: the tests run dsrvd" \
				    "as root"
				failed=$((failed + 1))
				root_refused=1
			else
				echo "    skipped: not root"
			fi
			continue
		fi
		# LeakSanitizer cannot work in a chrooted child (no /proc):
		# unless told otherwise, sanitized daemons run without it.
		ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=0} \
		    timeout -k 10 "$TIMEOUT" sh "$f" </dev/null >"$out" 2>&1
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
		extra="timed out after ${TIMEOUT}s"
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

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
