#!/bin/sh
# needs: root
# The suite as an ordinary user: the unit tests and the configuration
# corpus pass without root, and the files marked "# needs: root" are
# skipped with their reason instead of counting as failures.
#
# The built tree is copied into $T, which anyone may read (the tree
# itself may sit under a directory that nobody cannot enter), and
# regress/run.sh runs there as nobody.  Root is needed to become
# nobody; in that run this file is skipped like the other root tests.

: "${REGRESS:=$(cd "$(dirname "$0")/.." && pwd)}"
. "$REGRESS/lib.sh"
tmpdir
need_bins

TOP=$(cd "$REGRESS/.." && pwd -P)
TREE=$T/tree
OUT=$T/nonroot.out

# report FILE: what run.sh printed for one test file (indented lines).
report() {
	awk -v name="$1" '
		$0 == name { inside = 1; next }
		!/^    / { inside = 0 }
		inside { print }
	' "$OUT"
}

uid=$(id -u nobody) && gid=$(id -g nobody) ||
    bail "nonroot: no user nobody"

mkdir "$TREE" && (cd "$TOP" && tar --exclude=./.git -cf - .) |
    (cd "$TREE" && tar -xf -) && chmod -R a+rX "$TREE" ||
    bail "nonroot: cannot copy the tree to $TREE"

(cd "$TREE" && setpriv --reuid="$uid" --regid="$gid" --clear-groups -- \
    env -u ONLY sh regress/run.sh) \
    </dev/null >"$OUT" 2>&1
rc=$?

last=$(tail -n 1 "$OUT")
if [ "$rc" -eq 0 ] && echo "$last" | grep -Eqx '[1-9][0-9]* passed, 0 failed'
then
	ok "run.sh as nobody passes: $last"
else
	notok "run.sh as nobody passes (exit status $rc)"
	grep -v '^    ok' "$OUT" | tail -n 60 | sed 's/^/# /'
fi

# Every root-only file was reported as skipped, and nothing else was.
want=0 bad=
for f in "$TREE"/regress/t/*.sh; do
	name=regress/t/${f##*/}
	if head -n 20 "$f" | grep -qx '# needs: root'; then
		want=$((want + 1))
		report "$name" | grep -q '^    skipped: needs root' ||
		    bad="$bad $name"
	elif report "$name" | grep -q '^    skipped'; then
		bad="$bad $name"
	fi
done
got=$(grep -c 'skipped: needs root' "$OUT")
if [ -z "$bad" ] && [ "$got" -eq "$want" ] && [ "$want" -gt 0 ]; then
	ok "the $want root-only test files were skipped, no other"
else
	notok "the $want root-only test files were skipped, no other"
	diag "$got skipped; wrong for:$bad"
fi

# What needs no root did run: every unit test, and the corpus with the
# shipped example.
missing=
for f in "$TREE"/regress/unit/*_test; do
	[ -x "$f" ] || continue
	name=regress/unit/${f##*/}
	report "$name" | grep -q '^    ok' || missing="$missing $name"
done
grep -q '^    ok .* the shipped etc/dsrvd.conf is accepted$' "$OUT" ||
    missing="$missing regress/t/config.sh"
if [ -z "$missing" ]; then
	ok "the unit tests and the config corpus ran as nobody"
else
	notok "the unit tests and the config corpus ran as nobody"
	diag "did not run:$missing"
fi

finish
