#!/bin/sh
# The test vectors in man/dsrv-protocol.5 are what the implementation
# computes: "regress/unit/wire_test vectors" checks its vectors against
# lib/wire.c and libsodium, then prints the mdoc text that belongs
# between the two marker comments of the EXAMPLES section.  Any drift
# between the page and the code shows up here as a diff.
#
# To refresh the page after a deliberate protocol change, replace the
# text between the markers with the output of "wire_test vectors".

: "${REGRESS:=$(cd "$(dirname "$0")/.." && pwd)}"
. "$REGRESS/lib.sh"
tmpdir

MAN=$REGRESS/../man/dsrv-protocol.5
WT=$REGRESS/unit/wire_test

[ -f "$MAN" ] || bail "protocol-doc: no $MAN"
[ -x "$WT" ] || bail "protocol-doc: wire_test not built ($WT)"

if "$WT" vectors >"$T/vectors" 2>"$T/vectors.err"; then
	ok "wire_test vectors: the vectors match the implementation"
else
	notok "wire_test vectors: the vectors match the implementation"
	diagfile "$T/vectors.err"
fi

# The lines strictly between the markers.
awk '
	/^\.\\" end test vectors/ { inside = 0 }
	inside { print }
	/^\.\\" begin test vectors/ { inside = 1; found++ }
	END { if (found != 1) exit 1 }
' "$MAN" >"$T/man" 2>&1
result $? "the page has one block of test vectors"

check "the page has test vectors" [ -s "$T/man" ]
if diff -u "$T/man" "$T/vectors" >"$T/diff" 2>&1; then
	ok "the page's test vectors are wire_test's"
else
	notok "the page's test vectors are wire_test's"
	diag "diff -u page wire_test:"
	diagfile "$T/diff"
fi

# Every hex line of the page is in the vectors, and the other way round.
n=$(grep -Ec '^([0-9a-f]{2} ){0,15}[0-9a-f]{2}$' "$T/man")
check "the page shows at least 50 lines of hex ($n)" [ "${n:-0}" -ge 50 ]
check "every hex line has at most 16 bytes" not grep -Eq \
    '^([0-9a-f]{2} ){16,}' "$T/man"

if command -v mandoc >/dev/null 2>&1; then
	mandoc -Tlint -W warning "$MAN" >"$T/lint" 2>&1
	if [ ! -s "$T/lint" ]; then
		ok "mandoc -Tlint has no warnings"
	else
		notok "mandoc -Tlint has no warnings"
		diagfile "$T/lint"
	fi
else
	skip "mandoc -Tlint: no mandoc"
fi

finish
