#!/bin/sh
# The file format page, man/dsrv-file.5, against lib/'s file layer:
# "regress/tools/metavec vectors" makes the page's test vectors with
# dsrv_meta_encode, dsrv_chunk_name and dsrv_meta_name (and checks that
# dsrv_meta_decode gives each one back), and prints the mdoc text that
# belongs between the two marker comments of the EXAMPLES section.
# Then the other way: the metadata chunks printed on the page, decoded
# by dsrv_meta_decode, are the files the page describes, with the chunk
# names it shows.  The .proto text on the page is lib/meta.proto, and
# every rule of the page that "metavec rules" knows holds in the code.
#
# To refresh the page after a deliberate format change, replace the text
# between the markers with the output of "metavec vectors", and the
# .proto text with lib/meta.proto.

: "${REGRESS:=$(cd "$(dirname "$0")/.." && pwd)}"
. "$REGRESS/lib.sh"
tmpdir

MAN=$REGRESS/../man/dsrv-file.5
PROTO=$REGRESS/../lib/meta.proto
MV=$REGRESS/tools/metavec

[ -f "$MAN" ] || bail "file-doc: no $MAN"
[ -x "$MV" ] || bail "file-doc: metavec not built ($MV)"

if "$MV" vectors >"$T/vectors" 2>"$T/vectors.err"; then
	ok "metavec vectors: encoded, decoded back and re-encoded alike"
else
	notok "metavec vectors: encoded, decoded back and re-encoded alike"
	diagfile "$T/vectors.err"
fi

# The lines strictly between two markers: between BEGIN END FILE.
between() {
	B=$1 E=$2 awk '
		index($0, ENVIRON["E"]) == 1 { inside = 0 }
		inside { print }
		index($0, ENVIRON["B"]) == 1 { inside = 1; found++ }
		END { if (found != 1) exit 1 }
	' "$3"
}

between '.\" begin test vectors' '.\" end test vectors' "$MAN" \
    >"$T/man" 2>&1
result $? "the page has one block of test vectors"
check "the page has test vectors" [ -s "$T/man" ]
if diff -u "$T/man" "$T/vectors" >"$T/diff" 2>&1; then
	ok "the page's test vectors are metavec's"
else
	notok "the page's test vectors are metavec's"
	diag "diff -u page metavec:"
	diagfile "$T/diff"
fi

# Decoding: each vector's hex from the page, through dsrv_meta_decode.
nvec=$(grep -c '^\.Ss Vector [0-9]*:' "$T/man")
check "the page has 4 vectors ($nvec)" [ "${nvec:-0}" -eq 4 ]
n=1
while [ "$n" -le "${nvec:-0}" ]; do
	awk -v n="$n" '
		/^\.Ss / { cur = ($2 == "Vector" && $3 == n ":") }
		cur && /^The metadata chunk, version/ { want = 1; next }
		want && /^\.Ed/ { want = 0 }
		want && !/^\.Bd/ { print }
	' "$T/man" >"$T/hex.$n"
	awk -v n="$n" '
		/^\.Ss / { cur = ($2 == "Vector" && $3 == n ":") }
		cur && /^\.Li / { print $2 }
	' "$T/man" >"$T/names.$n"
	"$MV" describe "$n" >"$T/want.$n" 2>&1
	if "$MV" decode <"$T/hex.$n" >"$T/got.$n" 2>&1 &&
	    cmp -s "$T/want.$n" "$T/got.$n"; then
		ok "vector $n: the page's metadata chunk decodes to its file"
	else
		notok "vector $n: the page's metadata chunk decodes to its file"
		diag "decoded:"
		diagfile "$T/got.$n"
		diag "the vector:"
		diagfile "$T/want.$n"
	fi
	# Every name shown is a chunk name of the decoded metadata, or
	# its metadata name, with an alternate's "-k" for the metadata.
	bad=
	while read -r name; do
		grep -q -e " $name\$" "$T/got.$n" && continue
		case $name in
		index/*-[1-9]|index/*-1[0-6])
			grep -qx "metadata ${name%-*}" "$T/got.$n" && continue
			;;
		esac
		bad="$bad $name"
	done <"$T/names.$n"
	[ -s "$T/names.$n" ] && [ -z "$bad" ]
	result $? "vector $n: the names the page shows are the decoded ones"
	[ -z "$bad" ] || diag "not from the metadata:$bad"
	n=$((n + 1))
done

n=$(grep -Ec '^([0-9a-f]{2} ){0,15}[0-9a-f]{2}$' "$T/man")
check "the page shows at least 25 lines of hex ($n)" [ "${n:-0}" -ge 25 ]
check "every hex line has at most 16 bytes" not grep -Eq \
    '^([0-9a-f]{2} ){16,}' "$T/man"

# The .proto on the page, tabs and all, is the one the code is built
# from, after its licence: from the first line of a // comment on.
between '.\" begin meta.proto' '.\" end meta.proto' "$MAN" |
    sed -e '/^\.Bd /d' -e '/^\.Ed$/d' -e 's/^\\&//' >"$T/proto" 2>&1
sed -n '\|^//|,$p' "$PROTO" >"$T/proto.want"
check "lib/meta.proto has a // comment after its licence" [ -s "$T/proto.want" ]
if diff -u "$T/proto.want" "$T/proto" >"$T/pdiff" 2>&1; then
	ok "the page's .proto text is lib/meta.proto"
else
	notok "the page's .proto text is lib/meta.proto"
	diagfile "$T/pdiff"
fi

# The rules the page states, on the code.
for rule in $("$MV" rules); do
	check "rule $rule holds in lib/dsrvfile_meta.c" "$MV" rule "$rule"
done

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
