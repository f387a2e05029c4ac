#!/bin/sh
# needs: root
# Namespace confinement: keys confined to namespaces A and B and an
# unconfined key each write the same DIR/NAME with their own bytes.
# Each reads back its own, none sees or reaches the others' chunks
# (get, stat, ls), they sit on disk under DATA/.ns/A, DATA/.ns/B and
# DATA; df counts only what each key reaches, and scrub counts them all.

. "$REGRESS/lib.sh"
storage_tmpdir
need_bins
ensure_users
ensure_chroot || bail "cannot prepare /var/empty"
storage_conf || bail "cannot write the configuration"
for k in a b u; do
	new_key "$T/$k.key" || bail "cannot make a key"
done
cat >>"$CONF" <<EOF
key ka file "$T/a.key" permit read, write, list, stat namespace A
key kb file "$T/b.key" permit read, write, list, stat namespace B
key ku file "$T/u.key" permit read, write, list, stat
EOF
start_dsrvd "$CONF" || bail "dsrvd did not start"

as_key() {
	_k=$1
	shift
	kdctl "k$_k" "$T/$_k.key" "$@"
}

for k in a b u; do
	{ echo "namespace $k"; head -c 5000 /dev/urandom; } >"$T/$k.data"
done
cp "$T/a.data" "$T/a.only"
echo "only in A" >>"$T/a.only"

for k in a b u; do
	check "key k$k writes sh/same" \
	    as_key "$k" chunk put sh/same "$T/$k.data"
done
check "key ka writes sh/onlyA" as_key a chunk put sh/onlyA "$T/a.only"

for k in a b u; do
	rm -f "$T/got"
	as_key "$k" chunk get sh/same "$T/got" >"$T/get.out" 2>&1
	check "key k$k reads back its own sh/same" cmp "$T/$k.data" "$T/got"
	as_key "$k" chunk stat sh/same >"$T/stat.out" 2>&1
	check "key k$k: stat shows its own crc32" \
	    [ "$(cat "$T/stat.out")" = "sh/same length $(wc -c <"$T/$k.data" |
	    tr -d ' ') crc32 $(crc32_of "$T/$k.data")" ]
done

# lsof KEY DIR: the names key KEY lists in DIR, one a line, no DIR/.
lsof() {
	as_key "$1" chunk ls "$2" 2>&1 | sed "s|^$2/||"
}
check "key ka lists onlyA and same" \
    [ "$(lsof a sh | tr '\n' ' ')" = "onlyA same " ]
check "key kb lists only same" [ "$(lsof b sh | tr '\n' ' ')" = "same " ]
check "key ku lists only same" [ "$(lsof u sh | tr '\n' ' ')" = "same " ]
check "key kb cannot get A's sh/onlyA (exit 3)" \
    exits 3 as_key b chunk get sh/onlyA "$T/got"
check "key kb cannot stat A's sh/onlyA (exit 3)" \
    exits 3 as_key b chunk stat sh/onlyA
check "key ku cannot get A's sh/onlyA (exit 3)" \
    exits 3 as_key u chunk get sh/onlyA "$T/got"
check "key ku cannot stat A's sh/onlyA (exit 3)" \
    exits 3 as_key u chunk stat sh/onlyA
check "key kb cannot name its way out: ../A/sh/onlyA refused" \
    fails as_key b chunk get ../A/sh/onlyA "$T/got"
check "key ku cannot name .ns: .ns/A refused" \
    fails as_key u chunk ls .ns
check "key ku cannot name .ns/A/sh: refused" \
    fails as_key u chunk get .ns/A/sh/onlyA "$T/got"
check "key kb: none of A's names in any listing it can make" \
    [ -z "$(lsof b A)$(lsof b ns)" ]

# Rewrites stay within the key's namespace.
as_key a chunk put sh/same "$T/b.data" >"$T/put.out" 2>&1
rc=$?
check "key ka writing B's bytes to sh/same: exists error ($rc)" [ "$rc" -eq 1 ]
check "key ka: chunk exists with different content" \
    has "$T/put.out" "^dctl: sh/same: chunk exists with different content"
check "key kb: an identical rewrite of its own sh/same" \
    as_key b chunk put sh/same "$T/b.data"
check "key ku writes sh/onlyA of its own: it is a different chunk" \
    as_key u chunk put sh/onlyA "$T/u.data"
rm -f "$T/got"
as_key a chunk get sh/onlyA "$T/got" >/dev/null 2>&1
check "key ka still reads its own sh/onlyA" cmp "$T/a.only" "$T/got"

### on disk

check "DATA/.ns/A/sh/same holds A's bytes" cmp "$T/a.data" "$DATA/.ns/A/sh/same"
check "DATA/.ns/A/sh/onlyA holds A's bytes" \
    cmp "$T/a.only" "$DATA/.ns/A/sh/onlyA"
check "DATA/.ns/B/sh/same holds B's bytes" cmp "$T/b.data" "$DATA/.ns/B/sh/same"
check "DATA/sh/same holds the unconfined key's bytes" \
    cmp "$T/u.data" "$DATA/sh/same"
check "DATA/sh/onlyA holds the unconfined key's bytes" \
    cmp "$T/u.data" "$DATA/sh/onlyA"
check "nothing else under DATA/.ns/B" \
    [ "$(find "$DATA/.ns/B" -type f | wc -l)" -eq 1 ]
for f in .ns/A/sh/same .ns/A/sh/onlyA .ns/B/sh/same sh/same sh/onlyA; do
	check "DATA/$f is immutable" immutable "$DATA/$f"
done
for d in .ns .ns/A; do
	check "namespace directory $d: mode 750, root:_dsrvdata, append-only" \
	    store_dir "$DATA/$d" "750 root:_dsrvdata" a
done
check "a namespace's chunk directory: mode 770, root:_dsrvdata, append-only" \
    store_dir "$DATA/.ns/A/sh" "770 root:_dsrvdata" a

### the whole store

# STATFS counts what the key can reach (dsrv-protocol(5)): its own
# namespace, or everything outside the namespaces; nothing of the others.
for kc in a:2 b:1 u:2; do
	k=${kc%:*}
	c=${kc#*:}
	as_key "$k" df >"$T/df.out" 2>&1
	check "key k$k: df counts the $c chunks it can reach" \
	    has "$T/df.out" "^chunks +$c\$"
done
dctl scrub --local -w >"$T/scrub.out" 2>&1
rc=$?
check "scrub --local -w exits 0 ($rc)" [ "$rc" -eq 0 ]
check "scrub covers every namespace: 5 chunks, 0 corrupt" \
    has "$T/scrub.out" "^scrub: 5 chunks, 0 corrupt$"

stop_dsrvd
rc=$?
check "dsrvd stops cleanly ($rc)" [ "$rc" -eq 0 ]

finish
