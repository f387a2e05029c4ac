#!/bin/sh
# needs: root
# dctl replicate between two daemons on the loopback (A and B, separate
# data directories and ports, the same key): files of 0 B, 1 B, 8 MiB,
# 20 MiB and fifty small ones under rep/ go to B; B then lists the same
# files (match lines identical, dates included), gets them back byte
# for byte, holds byte-identical chunks and nothing outside the prefix.
# Replicating again skips what B has (no new chunk on B, no data read
# on A).  A file whose first chunk B already holds costs B only the
# missing chunks.  Server names from a client configuration (-c, -r
# NAME, --to NAME) work too.  A chunk corrupted on A stops that file:
# replicate fails naming the chunk, and B gets no metadata for it
# (metadata last), so the file does not exist on B.  crc32 twins (one
# under an alternate name) and a stream replicate like any file; a
# chunk name B holds with other bytes fails that file, naming it.

. "$REGRESS/lib.sh"
storage_tmpdir
need_bins
own_dctl || bail "cannot copy dctl"
[ -x "$FILETOOL" ] || bail "regress/tools/filetool not built"
ensure_users
ensure_chroot || bail "cannot prepare /var/empty"
storage_conf || bail "cannot write the configuration"
start_dsrvd "$CONF" || bail "dsrvd A did not start"
PID_A=$DSRVD_PID
PORT_A=$PORT
DATA_A=$DATA
SOCK_A=$SOCK

PORT_B=$(free_port) || bail "no free port"
DATA_B=$T/data2
SOCK_B=$T/dsrvd2.sock
mkdir -p "$DATA_B"
write_conf "$T/dsrvd2.conf" <<EOF
data "$DATA_B"
socket "$SOCK_B"
listen on 127.0.0.1 port $PORT_B
network workers 2
storage workers 2
max rtt 2s
key $CKEYNAME file "$CKEY" permit read, write, list, stat
EOF
start_dsrvd "$T/dsrvd2.conf" || bail "dsrvd B did not start"
PID_B=$DSRVD_PID

# adctl/bdctl args...: dctl to A or to B.
adctl() {
	"$DCTL" -s "$SOCK_A" -r "127.0.0.1:$PORT_A" -k "$CKEY" -K "$CKEYNAME" "$@"
}
bdctl() {
	"$DCTL" -s "$SOCK_B" -r "127.0.0.1:$PORT_B" -k "$CKEY" -K "$CKEYNAME" "$@"
}

# bcounter SOCK NAME: a counter of the daemon behind SOCK.
bcounter() {
	"$DCTL" -s "$1" status >"$T/status.out" 2>&1
	counter "$2"
}

# same_chunks: every chunk file on B is on A with the same bytes.
same_chunks() {
	_bad=0
	for _f in $(cd "$DATA_B" && find . -path ./.tmp -prune -o -type f \
	    -print | sed 's|^\./||'); do
		cmp -s "$DATA_A/$_f" "$DATA_B/$_f" || {
			echo "$_f differs from A's or A has none"
			_bad=1
		}
	done
	return "$_bad"
}

# Counters come from the children a little later: wait for B to be
# still for a moment.
settle() {
	sleep 1
}

### files on A

: >"$T/f0"
printf 'Q' >"$T/f1"
rand_file "$T/f8m" 8388608
rand_file "$T/f20m" $((20 * 1024 * 1024 + 3))
rand_file "$T/other" 70000
for f in f0 f1 f8m f20m; do
	adctl put "$T/$f" "rep/$f" >"$T/put.out" 2>&1 ||
	    bail "cannot put rep/$f on A: $(cat "$T/put.out")"
done
adctl put "$T/other" other/x >"$T/put.out" 2>&1 ||
    bail "cannot put other/x on A: $(cat "$T/put.out")"
seq -f 'rep/many/%02g' 1 50 | ftool many -j 4 >"$T/manifest" 2>"$T/many.err" ||
    bail "filetool could not store rep/many/: $(cat "$T/many.err")"

adctl match rep/ >"$T/a.match" 2>&1
check "A: match rep/ lists 54 files" [ "$(wc -l <"$T/a.match")" -eq 54 ]
# Data chunks of rep/: one per started 8 MiB of each file.
nchunks=$(awk '{ s = $2; n += int((s + 8388607) / 8388608) } END { print n }' \
    "$T/a.match")

### replicate rep/ to B

adctl replicate --to "127.0.0.1:$PORT_B" rep/ >"$T/rep.out" 2>&1
rc=$?
check "replicate --to 127.0.0.1:$PORT_B rep/ exits 0 ($rc)" [ "$rc" -eq 0 ]
diagfile "$T/rep.out"

bdctl match >"$T/b.match" 2>&1
check "B: match lists what A lists for rep/, line for line" \
    same_lines "$T/a.match" "$T/b.match"
for f in f0 f1 f8m f20m; do
	rm -f "$T/got"
	bdctl get "rep/$f" "$T/got" >"$T/get.out" 2>&1
	rc=$?
	check "B: get rep/$f exits 0 ($rc)" [ "$rc" -eq 0 ]
	check "B: rep/$f byte for byte" cmp "$T/$f" "$T/got"
done
bdctl get rep/many/37 - >"$T/got" 2>/dev/null
adctl get rep/many/37 - >"$T/got.a" 2>/dev/null
check "B: rep/many/37 as on A" cmp "$T/got.a" "$T/got"
check "B: get --sha256 rep/f20m" \
    sh -c "'$DCTL' -r 127.0.0.1:$PORT_B -k '$CKEY' -K '$CKEYNAME' \
    get --sha256 rep/f20m - | cmp -s - '$T/f20m'"
check "B: $nchunks data chunks, as the files need" \
    [ "$(all_data_chunks "$DATA_B" | wc -l)" -eq "$nchunks" ]
check "B: 54 metadata chunks" [ "$(ls "$DATA_B/index" | wc -l)" -eq 54 ]
check "B: every chunk byte-identical to A's" same_chunks
check "B: other/x was not replicated" exits 3 bdctl get other/x "$T/got"
bdctl match other >"$T/match.out" 2>&1
check "B: match other lists nothing" [ ! -s "$T/match.out" ]
bdctl scrub --read >"$T/scrub.out" 2>&1
rc=$?
check "B: scrub --read of everything exits 0 ($rc)" [ "$rc" -eq 0 ]

### again: nothing to do

settle
w0=$(bcounter "$SOCK_B" "chunks written")
b0=$(bcounter "$SOCK_B" "bytes written")
r0=$(bcounter "$SOCK_A" "bytes read")
adctl replicate --to "127.0.0.1:$PORT_B" rep/ >"$T/rep.out" 2>&1
rc=$?
check "replicate rep/ again exits 0 ($rc)" [ "$rc" -eq 0 ]
settle
w1=$(bcounter "$SOCK_B" "chunks written")
b1=$(bcounter "$SOCK_B" "bytes written")
r1=$(bcounter "$SOCK_A" "bytes read")
check "again: B wrote no new chunk (chunks written $w0 -> $w1)" \
    [ -n "$w0" -a "$w0" = "$w1" ]
check "again: B wrote no bytes (bytes written $b0 -> $b1)" \
    [ -n "$b0" -a "$b0" = "$b1" ]
d=$((${r1:-0} - ${r0:-0}))
check "again: A read no data, under 1 MiB (bytes read $r0 -> $r1)" \
    [ -n "$r0" -a "$d" -lt 1048576 ]

### a file whose first chunk B already has

rand_file "$T/new" $((2 * 8388608 + 500))
adctl put "$T/new" rep/new >"$T/put.out" 2>&1 ||
    bail "cannot put rep/new on A: $(cat "$T/put.out")"
c0=$(data_names "$T/new" | sed -n 1p)
check "B gets chunk 0 of rep/new ($c0) by hand" \
    bdctl chunk put "$c0" "$DATA_A/$c0"
settle
w0=$(bcounter "$SOCK_B" "chunks written")
adctl replicate --to "127.0.0.1:$PORT_B" rep/ >"$T/rep.out" 2>&1
rc=$?
check "replicate rep/ with rep/new exits 0 ($rc)" [ "$rc" -eq 0 ]
settle
w1=$(bcounter "$SOCK_B" "chunks written")
d=$((${w1:-0} - ${w0:-0}))
check "B wrote 3 chunks for rep/new: chunks 1, 2 and the metadata ($w0 -> $w1)" \
    [ -n "$w0" -a "$d" -eq 3 ]
rm -f "$T/got"
bdctl get rep/new "$T/got" >/dev/null 2>&1
check "B: rep/new byte for byte" cmp "$T/new" "$T/got"

### servers by name from a client configuration

write_conf "$T/dctl.conf" <<EOF
server alpha address 127.0.0.1 port $PORT_A key $CKEYNAME file "$CKEY"
server beta address 127.0.0.1 port $PORT_B key $CKEYNAME file "$CKEY"
EOF
"$DCTL" -c "$T/dctl.conf" -r alpha replicate --to beta other/ \
    >"$T/rep.out" 2>&1
rc=$?
check "dctl -c conf -r alpha replicate --to beta other/ exits 0 ($rc)" \
    [ "$rc" -eq 0 ]
diagfile "$T/rep.out"
rm -f "$T/got"
"$DCTL" -c "$T/dctl.conf" -r beta get other/x "$T/got" >/dev/null 2>&1
check "B (beta): other/x byte for byte" cmp "$T/other" "$T/got"
# Not an entry, so a host name: one that does not resolve.
check "replicate --to a server nobody configured or knows fails" \
    fails "$DCTL" -c "$T/dctl.conf" -r alpha replicate --to nosuch.invalid \
    other/
check "and the message names it" has "$T/exits.out" "nosuch.invalid"

### crc32 twins and a stream

rand_file "$T/x" 40000
crc_twin "$T/x" "$T/y" 40000 || bail "cannot craft a crc32 twin"
adctl put "$T/x" rep3/x >"$T/put.out" 2>&1 &&
    adctl put "$T/y" rep3/y >>"$T/put.out" 2>&1 &&
    cat "$T/f20m" | adctl put - rep3/s >>"$T/put.out" 2>&1 ||
    bail "cannot put rep3/ on A: $(cat "$T/put.out")"
adctl replicate --to "127.0.0.1:$PORT_B" rep3/ >"$T/rep.out" 2>&1
rc=$?
check "replicate rep3/ (twins and a stream) exits 0 ($rc)" [ "$rc" -eq 0 ]
diagfile "$T/rep.out"
for f in x y; do
	rm -f "$T/got"
	bdctl get "rep3/$f" "$T/got" >/dev/null 2>&1
	check "B: rep3/$f byte for byte" cmp "$T/$f" "$T/got"
done
rm -f "$T/got"
bdctl get rep3/s "$T/got" >/dev/null 2>&1
check "B: the stream rep3/s byte for byte" cmp "$T/f20m" "$T/got"
check "B: chunks byte-identical to A's" same_chunks

# B holds other bytes under the name of a chunk of A's rep4/z: B's own
# twin of it, stored first.  Replicate cannot replace it and says so.
rand_file "$T/z" 30000
crc_twin "$T/z" "$T/z2" 30000 || bail "cannot craft a crc32 twin"
adctl put "$T/z" rep4/z >"$T/put.out" 2>&1 ||
    bail "cannot put rep4/z on A: $(cat "$T/put.out")"
check "B stores z's twin as other4/z" bdctl put "$T/z2" other4/z
adctl replicate --to "127.0.0.1:$PORT_B" rep4/ >"$T/rep.out" 2>&1
rc=$?
check "replicate of rep4/z onto B's twin fails ($rc)" [ "$rc" -ne 0 ]
check "... saying B holds other bytes under the name" \
    has "$T/rep.out" "the target holds other bytes"
check "B: no metadata for rep4/z" \
    [ -z "$(ls "$DATA_B/index" | grep '^rep4_z')" ]

### a corrupt chunk on A

rand_file "$T/bad" $((8388608 + 9000))
adctl put "$T/bad" rep2/bad >"$T/put.out" 2>&1 ||
    bail "cannot put rep2/bad on A: $(cat "$T/put.out")"
cb=$(data_names "$T/bad" | sed -n 2p)
check "flip a byte of $cb on A" flip_byte "$DATA_A/$cb" 5
adctl replicate --to "127.0.0.1:$PORT_B" rep2/ >"$T/rep.out" 2>&1
rc=$?
check "replicate of a file with a corrupt chunk fails ($rc)" [ "$rc" -ne 0 ]
check "and names the chunk $cb" has "$T/rep.out" "$cb"
check "B: no metadata chunk for rep2/bad" \
    [ -z "$(ls "$DATA_B/index" | grep '^rep2_bad')" ]
check "B: get rep2/bad exits 3" exits 3 bdctl get rep2/bad "$T/got"
check "B: the corrupt chunk did not get there" no_file "$DATA_B/$cb"

stop_dsrvd
rc=$?
check "dsrvd B stops cleanly ($rc)" [ "$rc" -eq 0 ]
DSRVD_PID=$PID_A
stop_dsrvd
rc=$?
check "dsrvd A stops cleanly ($rc)" [ "$rc" -eq 0 ]

finish
