#!/bin/sh
# dctl keygen: a new key file that dsrvd accepts, never an overwritten
# one, and permissions that dsrvd holds to the ssh standard.

. "$REGRESS/lib.sh"
tmpdir
[ -x "$DCTL" ] || bail "dctl not built ($DCTL)"
[ -x "$DSRVD" ] || bail "dsrvd not built ($DSRVD)"

# has FILE TEXT: a fixed string in FILE (shown when it is not).
has() {
	grep -Fq -- "$2" "$1" && return 0
	echo "no \"$2\" in:"
	cat "$1"
	return 1
}

# keycheck FILE: 44 characters of base64 and a newline, 32 bytes.
keycheck() {
	[ "$(wc -c <"$1")" -eq 45 ] || { echo "size $(wc -c <"$1")"; return 1; }
	[ "$(wc -l <"$1")" -eq 1 ] || { echo "not one line"; return 1; }
	grep -Eqx '[A-Za-z0-9+/]{43}=' "$1" || { echo "not base64:"; cat "$1"; return 1; }
	_n=$(base64 -d <"$1" | wc -c) || return 1
	[ "$_n" -eq 32 ] || { echo "decodes to $_n bytes"; return 1; }
}

mode() {
	stat -c %a "$1" 2>/dev/null
}

K=$T/a.key
"$DCTL" keygen "$K" >"$T/keygen.out" 2>&1
result $? "keygen exits 0"
check "keygen prints nothing" [ ! -s "$T/keygen.out" ]
check "the key file exists" [ -f "$K" ]
check "the key file has mode 600 ($(mode "$K"))" [ "$(mode "$K")" = 600 ]
check "the key is 44 base64 characters and a newline, 32 bytes" keycheck "$K"

cp -p "$K" "$T/a.copy"
"$DCTL" keygen "$K" >"$T/again.out" 2>&1
rc=$?
check "keygen on an existing file exits 1 ($rc)" [ "$rc" = 1 ]
check "keygen on an existing file says File exists" \
    has "$T/again.out" "dctl: $K: File exists"
check "the existing key is unchanged" cmp -s "$K" "$T/a.copy"

ln -s "$T/nothere.key" "$T/link.key"
"$DCTL" keygen "$T/link.key" >"$T/link.out" 2>&1
rc=$?
check "keygen on a symbolic link exits 1 ($rc)" [ "$rc" = 1 ]
check "keygen on a symbolic link creates nothing" [ ! -e "$T/nothere.key" ]

"$DCTL" keygen "$T/b.key" >/dev/null 2>&1
check "a second key is made" keycheck "$T/b.key"
check "two keys differ" not cmp -s "$K" "$T/b.key"

(umask 0; "$DCTL" keygen "$T/c.key") >/dev/null 2>&1
check "with umask 0 the key still has mode 600 ($(mode "$T/c.key"))" \
    [ "$(mode "$T/c.key")" = 600 ]
(umask 077; "$DCTL" keygen "$T/d.key") >/dev/null 2>&1
check "with umask 077 the key still has mode 600 ($(mode "$T/d.key"))" \
    [ "$(mode "$T/d.key")" = 600 ]

"$DCTL" keygen "$T/nodir/e.key" >"$T/nodir.out" 2>&1
rc=$?
check "keygen in a missing directory exits 1 ($rc)" [ "$rc" = 1 ]
check "keygen in a missing directory names the file" \
    has "$T/nodir.out" "dctl: $T/nodir/e.key: No such file or directory"

"$DCTL" keygen >/dev/null 2>&1
rc=$?
check "keygen without a file is a usage error ($rc)" [ "$rc" = 2 ]

# The daemon takes the key as it is.
std_conf "$T/ok.conf" || bail "no free port"
echo "key test file \"$K\"" >>"$T/ok.conf"
"$DSRVD" -n -f "$T/ok.conf" >"$T/ok.out" 2>&1
rc=$?
check "dsrvd -n accepts a key made by keygen ($rc)" [ "$rc" = 0 ]
check "dsrvd -n says configuration OK" has "$T/ok.out" "configuration OK"

# A copy others could read must be assumed known.
cp "$K" "$T/shared.key"
chmod 640 "$T/shared.key"
std_conf "$T/perm.conf" || bail "no free port"
echo "key test file \"$T/shared.key\"" >>"$T/perm.conf"
"$DSRVD" -n -f "$T/perm.conf" >"$T/perm.out" 2>&1
rc=$?
check "dsrvd -n refuses a mode 640 key ($rc)" [ "$rc" = 1 ]
check "dsrvd -n says bad permissions" has "$T/perm.out" \
    "key test: $T/shared.key: bad permissions 0640"

# Only the canonical base64 of 32 bytes is a key: libsodium alone would
# decode a byte >= 0x80 among the characters into another key.
# keyfile NAME PRINTF-FORMAT: a key file of mode 600 with those bytes.
keyfile() {
	printf "$2" >"$T/$1.key" && chmod 600 "$T/$1.key"
}
DEAD=$(free_port) || bail "no free port"
# kping NAME: dctl ping with key file NAME.key, to a port nobody serves.
kping() {
	"$DCTL" -r "127.0.0.1:$DEAD" -k "$T/$1.key" -K test ping \
	    >"$T/$1.out" 2>&1
}
B=AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8
keyfile canon "$B=\\n"
keyfile high "\\200${B#?}=\\n"
keyfile utf8 "AAECAwQFBgcI\\303\\251${B#AAECAwQFBgcICQ}=\\n"
keyfile bits "${B%?}9=\\n"
keyfile nopad "$B\\n"
keyfile twolines "$B=\\n$B=\\n"
for k in high utf8 bits nopad twolines; do
	kping "$k"
	rc=$?
	check "dctl refuses the key file $k.key ($rc)" [ "$rc" = 1 ]
	check "and says it is not a dsrvd key" \
	    has "$T/$k.out" "dctl: $T/$k.key: not a dsrvd key"
done
kping canon
check "dctl takes the canonical key and goes on to connect" \
    not grep -q "not a dsrvd key" "$T/canon.out"
check "(and finds no server)" has "$T/canon.out" "Connection refused"
cp "$K" "$T/made.key"
kping made
check "dctl takes a key made by keygen" has "$T/made.out" \
    "Connection refused"

std_conf "$T/high.conf" || bail "no free port"
echo "key test file \"$T/high.key\"" >>"$T/high.conf"
"$DSRVD" -n -f "$T/high.conf" >"$T/highd.out" 2>&1
rc=$?
check "dsrvd -n refuses a key with a byte 0x80 ($rc)" [ "$rc" = 1 ]
check "dsrvd -n says not a dsrvd key" has "$T/highd.out" \
    "$T/high.key: not a dsrvd key"

finish
