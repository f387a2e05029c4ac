#!/bin/sh
# needs: root
# Metadata a hostile (or broken) server could hand dctl, stored as raw
# chunks in index/ of the real daemon: 8 MiB of empty chunk entries,
# which protobuf-c would unpack into ~400 MiB, is refused when they are
# counted, and entries full of unknown fields on the decoding budget,
# with dctl's peak RSS bounded; a stream's metadata
# without a SHA-256, version 1 metadata with an alternate name and a
# version 3 are refused as corrupt, naming the metadata chunk, while
# the good files beside them are still listed.  And a key that may
# write but not stat (no DIGEST) still stores crc32 twins, and is told
# plainly that it cannot store a file again once its metadata exists.

. "$REGRESS/lib.sh"
storage_tmpdir
need_bins
own_dctl || bail "cannot copy dctl"
ensure_users
ensure_chroot || bail "cannot prepare /var/empty"
storage_conf || bail "cannot write the configuration"
new_key "$T/w.key" || bail "cannot make a key"
echo "key wonly file \"$T/w.key\" permit write" >>"$CONF"
start_dsrvd "$CONF" || bail "dsrvd did not start"

# forge OUT KIND: a metadata chunk's payload, built as lib/dsrvfile_meta.c
# wraps a FileMeta, for file "evil/KIND" with crc32 0.
forge() {
	python3 - "$1" "$2" <<'EOF'
import struct, sys, zlib
out, kind = sys.argv[1], sys.argv[2]

def varint(n):
    b = bytearray()
    while True:
        c = n & 0x7f
        n >>= 7
        if n:
            b.append(c | 0x80)
        else:
            b.append(c)
            return bytes(b)

def field(tag, typ, val):
    h = bytes([tag, typ]) + struct.pack(">H", len(val)) + val
    return h + struct.pack(">I", zlib.crc32(h) & 0xffffffff)

def pb(num, wt, val):
    key = varint(num << 3 | wt)
    if wt == 2:
        return key + varint(len(val)) + val
    if wt == 1:
        return key + val
    return key + varint(val)

name = ("evil/" + kind).encode()
version = 2
p = pb(1, 2, name)
if kind == "amplify":
    # length 0: no chunk, but millions of empty entries all the same.
    p += pb(6, 2, b"") * 4100000
elif kind == "unknown":
    # The right count for 128 GiB, each entry full of unknown fields.
    p += pb(2, 0, 1 << 37)
    p += pb(6, 2, pb(1, 0, 8388608) + pb(15, 2, b"") * 31) * 16384
elif kind == "nosha":
    # A stream of one byte "x" without the SHA-256 that ties it together.
    crc = zlib.crc32(b"x")
    p = pb(1, 2, name) + pb(2, 0, 1) + pb(3, 0, crc) + \
        pb(6, 2, pb(1, 0, 1) + pb(2, 0, crc)) + \
        pb(7, 1, struct.pack("<Q", 0x1234))
elif kind == "v1alt":
    version = 1
    crc = zlib.crc32(b"x")
    p = pb(1, 2, name) + pb(2, 0, 1) + pb(3, 0, crc) + \
        pb(6, 2, pb(1, 0, 1) + pb(2, 0, crc) + pb(3, 0, 1))
elif kind == "v3":
    version = 3
crc = 0
out_b = field(1, 1, struct.pack(">Q", version))
out_b += field(3, 1, struct.pack(">Q", len(p)))
for i in range(0, max(len(p), 1), 65535):
    out_b += field(2, 2, p[i:i + 65535])
assert len(out_b) <= 8 * 1024 * 1024, len(out_b)
open(out, "wb").write(out_b)
EOF
}

# The metadata name each forged file would have: index/evil_KIND-<crc>.
put_forged() {
	forge "$T/$1.meta" "$1" || return 1
	_c=$(python3 -c 'import zlib; print("%08x" % zlib.crc32(b"x"))')
	case $1 in
	amplify|v3|unknown) _c=00000000 ;;
	esac
	cdctl chunk put "index/evil_$1-$_c" "$T/$1.meta"
}

printf 'good' >"$T/good"
check "put evil/good, a real file beside the forged ones" \
    cdctl put "$T/good" evil/good
for k in amplify unknown nosha v1alt v3; do
	check "store forged metadata $k in index/" put_forged "$k"
done

# match_rss PREFIX: dctl match into $T/match.out, exit status in rc,
# peak RSS in KiB in rss.
match_rss() {
	/usr/bin/time -f %M -o "$T/rss" "$DCTL" -r "127.0.0.1:$PORT" \
	    -k "$CKEY" -K "$CKEYNAME" match "$1" >"$T/match.out" 2>&1
	rc=$?
	rss=$(tail -n 1 "$T/rss")
}

match_rss evil/amp
check "match of the amplifying metadata exits 4 ($rc)" [ "$rc" -eq 4 ]
check "... counting its 4,100,000 entries before unpacking any" \
    has "$T/match.out" "index/evil_amplify-00000000: metadata: 4100000 chunk entries, more than 524288"
check "... dctl's peak RSS ${rss} KiB: under 128 MiB (unbounded: ~400 MiB)" \
    [ "$rss" -lt $((128 * 1024)) ]

match_rss evil/unk
check "match of entries full of unknown fields exits 4 ($rc)" [ "$rc" -eq 4 ]
check "... refused on the decoding budget" \
    has "$T/match.out" "evil_unknown-00000000: metadata: decoding it would take more than"
check "... dctl's peak RSS ${rss} KiB: under 128 MiB" [ "$rss" -lt $((128 * 1024)) ]

cdctl match evil/nosha >"$T/match.out" 2>&1
rc=$?
check "a stream's metadata without a SHA-256 exits 4 ($rc)" [ "$rc" -eq 4 ]
check "... named as such" has "$T/match.out" "stream without a sha256"
cdctl match evil/v1alt >"$T/match.out" 2>&1
rc=$?
check "version 1 metadata with an alternate name exits 4 ($rc)" [ "$rc" -eq 4 ]
check "... malformed" has "$T/match.out" "evil_v1alt.*malformed"
cdctl match evil/v3 >"$T/match.out" 2>&1
rc=$?
check "version 3 metadata exits 4 ($rc)" [ "$rc" -eq 4 ]
check "... naming the version" has "$T/match.out" "version 3, not 1 or 2"
cdctl match evil/ >"$T/match.out" 2>&1
rc=$?
check "match evil/ exits 4 ($rc)" [ "$rc" -eq 4 ]
check "... and still lists evil/good" has "$T/match.out" " evil/good$"
got_good() {
	cdctl get evil/good - | cmp -s - "$T/good"
}
check "get evil/good works beside them" got_good

### a key without stat: no DIGEST, WRITE tells

rand_file "$T/a" 5000 || bail "cannot make a file"
crc_twin "$T/a" "$T/b" 5000 || bail "cannot craft a crc32 twin"
check "put with a write-only key" kdctl wonly "$T/w.key" put "$T/a" w/a
check "its crc32 twin with the write-only key" kdctl wonly "$T/w.key" put "$T/b" w/b
sleep 1
kdctl wonly "$T/w.key" put "$T/b" w/b >"$T/put.out" 2>&1
rc=$?
check "... again a second later: the key may not read the metadata ($rc)" \
    [ "$rc" -ne 0 ]
check "... and says so" has "$T/put.out" "may not read it \\(meta or read\\)"
c=$(crc32_of "$T/a")
check "the twin took the alternate name" \
    [ -f "$DATA/$(echo "$c" | cut -c1-2)/$c-00000000-$c-1" ]
got_twin() {
	cdctl get w/b - | cmp -s - "$T/b"
}
check "the twin reads back byte for byte" got_twin

finish
