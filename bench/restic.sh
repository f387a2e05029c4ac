# make bench, section 3: restic backup and restore of one tree, three
# ways side by side - into a local repository directory, through
# "rclone serve restic --append-only" on a local directory (the nearest
# peer of the gateway: an append-only REST server in one process), and
# through "dctl serve restic" into the dsrvd started by run.sh.
# Sourced by bench/run.sh after its setup and helpers; skipped with
# BENCH_ONLY=dsrvd.

RW=$W/restic
RESTIC_PASSWORD=bench-throwaway-password
export RESTIC_PASSWORD
RCLONE_CONFIG=/dev/null
export RCLONE_CONFIG

# free_port FROM TO: the first port in FROM..TO nobody uses on this host.
free_port() {
	for _p in $(seq "$1" "$2"); do
		ss -Htan 2>/dev/null | awk '{ print $4 }' | grep -q ":$_p\$" &&
		    continue
		echo "$_p"
		return 0
	done
	return 1
}

# listening PID PORT: wait up to 10 s for PID to listen on PORT.
listening() {
	_n=100
	until ss -Htln 2>/dev/null | awk '{ print $4 }' |
	    grep -qx "127.0.0.1:$2"; do
		kill -0 "$1" 2>/dev/null || return 1
		_n=$((_n - 1))
		[ "$_n" -gt 0 ] || return 1
		sleep 0.1
	done
}

# status_sum WORD WORD: a counter of "dctl status" (such as "bytes
# read") summed over dsrvd's processes; empty when status fails.
status_sum() {
	"$DCTL" -s "$W/dsrvd.sock" status 2>/dev/null |
	    awk -v a="$1" -v b="$2" '$1 == a && $2 == b { s += $3; n++ }
		END { if (n) printf "%.0f\n", s }'
}

# wchar PID: bytes PID has written with write(2) and writev(2) so far
# (/proc/PID/io).  A gateway writes its HTTP responses that way; the
# dsrv protocol goes out with send(2), which this does not count.
wchar() {
	awk '$1 == "wchar:" { print $2 }' "/proc/$1/io"
}

# hwm PID: the peak resident size of PID so far, in KiB.
hwm() {
	awk '$1 == "VmHWM:" { print $2 }' "/proc/$1/status"
}

if ! command -v restic >/dev/null; then
	note "no restic here (regress/deps.sh installs it): no restic figures"
	return 0
fi

# The tree: half of it in 4 large files, half in small files of 2, 8,
# 32 and 128 KiB (an eighth of the tree each, over 8 directories).
# Random bytes: nothing deduplicates or compresses, on every side alike.
progress "making a $RMB MiB tree for restic"
mkdir -p "$RW/tree/large" || die "mkdir failed"
for i in 1 2 3 4; do
	head -c $((RMB / 8))M /dev/urandom >"$RW/tree/large/file$i" ||
	    die "cannot write the restic tree"
done
for _k in 2 8 32 128; do
	for i in 1 2 3 4 5 6 7 8; do
		_d=$RW/tree/small$_k/dir$i
		mkdir -p "$_d" || die "mkdir failed"
		head -c $((RMB * 1024 / 64))K /dev/urandom |
		    split -a 5 -b "${_k}K" - "$_d/f" ||
		    die "cannot write the restic tree"
	done
done
RSIZE=$((RMB * 1048576))
RFILES=$(find "$RW/tree" -type f | wc -l)
_b=$(find "$RW/tree" -type f -printf '%s\n' |
    awk '{ s += $1 } END { printf "%.0f", s }')
[ "$_b" -eq "$RSIZE" ] || die "the restic tree holds $_b bytes, not $RSIZE"
sample restic_tree_bytes "$RSIZE"
echo "restic $(restic version | awk '{ print $2 }'), tree of $RMB MiB:" \
    "$RFILES files, half in 4 large ones"

# The servers, each on a free port of 127.0.0.1, started once for all
# runs.  rclone only where it is installed (regress/deps.sh does).
RC_PORT=
if command -v rclone >/dev/null; then
	RC_PORT=$(free_port 17800 17899) || die "no free port for rclone"
	mkdir -p "$RW/rclone" || die "mkdir failed"
	rclone serve restic --append-only --addr "127.0.0.1:$RC_PORT" \
	    "$RW/rclone" >"$RW/rclone.log" 2>&1 &
	RC_PID=$!
	listening "$RC_PID" "$RC_PORT" || { cat "$RW/rclone.log" >&2;
	    die "rclone serve restic did not start"; }
else
	note "no rclone here (regress/deps.sh installs it): no rclone figures"
fi
GW_PORT=$(free_port $((${RC_PORT:-17799} + 1)) 17899) ||
    die "no free port for dctl serve restic"
"$DCTL" $NET serve restic -l "127.0.0.1:$GW_PORT" --prefix bench-restic \
    >"$RW/gw.log" 2>&1 &
GW_PID=$!
listening "$GW_PID" "$GW_PORT" || { cat "$RW/gw.log" >&2;
    die "dctl serve restic did not start"; }

# server_cpu SIDE: CPU seconds so far of the server processes of SIDE:
# rclone, or the gateway and every dsrvd process.
server_cpu() {
	case $1 in
	rclone) tree_cpu "$RC_PID" ;;
	gw) calc "$(tree_cpu "$GW_PID") + $(tree_cpu)" ;;
	esac
}

# One fresh repository per side and run (the same tree backed up into a
# repository that has it would store nothing); each side's backup, then
# its restore into an empty directory, checked against the tree.
r=1
while [ "$r" -le "$RUNS" ]; do
	for _side in local rclone gw; do
		case $_side in
		local)	_repo=$RW/local-$r ;;
		rclone)	[ -n "$RC_PORT" ] || continue
			_repo=rest:http://127.0.0.1:$RC_PORT/r$r ;;
		gw)	_repo=rest:http://127.0.0.1:$GW_PORT/r$r ;;
		esac
		progress "restic backup and restore, $_side, run $r of $RUNS"
		restic -q --no-cache -r "$_repo" init >"$RW/init.out" 2>&1 || {
		    cat "$RW/init.out" >&2; die "restic init ($_side) failed"; }

		[ "$_side" = local ] || _c0=$(server_cpu "$_side")
		[ "$_side" = gw ] && _g0=$(tree_cpu "$GW_PID")
		"$BT" run restic -q --no-cache -r "$_repo" backup "$RW/tree" \
		    >"$W/run.out" 2>"$RW/restic.err" || {
		    cat "$RW/restic.err" >&2; die "restic backup ($_side) failed"; }
		[ "$_side" = local ] || _c1=$(server_cpu "$_side")
		[ "$_side" = gw ] && sample restic_gw_backup_cpu_gateway_s \
		    "$(calc "$(tree_cpu "$GW_PID") - $_g0")"
		_w=$(val "$W/run.out" wall_s)
		sample "restic_${_side}_backup_MBps" "$(calc "$RSIZE / $_w / 1e6")"
		sample "restic_${_side}_backup_cpu_restic_s" \
		    "$(val "$W/run.out" cpu_s)"
		[ "$_side" = local ] ||
		    sample "restic_${_side}_backup_cpu_server_s" \
		    "$(calc "$_c1 - $_c0")"

		rm -rf "$RW/out"
		[ "$_side" = local ] || _c0=$(server_cpu "$_side")
		case $_side in
		rclone)	_a0=$(wchar "$RC_PID") ;;
		gw)	_a0=$(wchar "$GW_PID")
			_g0=$(tree_cpu "$GW_PID")
			_r0=$(status_sum bytes read)
			_o0=$(status_sum bytes out) ;;
		esac
		"$BT" run restic -q --no-cache -r "$_repo" restore latest \
		    --target "$RW/out" >"$W/run.out" 2>"$RW/restic.err" || {
		    cat "$RW/restic.err" >&2; die "restic restore ($_side) failed"; }
		[ "$_side" = local ] || _c1=$(server_cpu "$_side")
		case $_side in
		rclone)	_a1=$(wchar "$RC_PID")
			sample restic_rclone_restore_asked_bytes $((_a1 - _a0)) ;;
		gw)	_a1=$(wchar "$GW_PID")
			sample restic_gw_restore_cpu_gateway_s \
			    "$(calc "$(tree_cpu "$GW_PID") - $_g0")"
			_r1=$(status_sum bytes read)
			_o1=$(status_sum bytes out)
			sample restic_gw_restore_asked_bytes $((_a1 - _a0))
			# Random bytes do not compress: restic asks at least
			# the tree.  Less means the gateway no longer writes
			# its responses with write(2) or writev(2).
			[ $((_a1 - _a0)) -ge "$RSIZE" ] ||
			    note "the gateway's wchar grew by less than" \
			    "the tree: bytes asked undercounted"
			[ -n "$_r0" ] && [ -n "$_r1" ] &&
			    sample restic_gw_restore_read_bytes $((_r1 - _r0))
			[ -n "$_o0" ] && [ -n "$_o1" ] &&
			    sample restic_gw_restore_out_bytes $((_o1 - _o0)) ;;
		esac
		_w=$(val "$W/run.out" wall_s)
		sample "restic_${_side}_restore_MBps" "$(calc "$RSIZE / $_w / 1e6")"
		sample "restic_${_side}_restore_cpu_restic_s" \
		    "$(val "$W/run.out" cpu_s)"
		[ "$_side" = local ] ||
		    sample "restic_${_side}_restore_cpu_server_s" \
		    "$(calc "$_c1 - $_c0")"
		# restic restores the absolute path under the target.
		diff -r -q "$RW/tree" "$RW/out$RW/tree" >"$RW/diff.out" 2>&1 || {
		    head "$RW/diff.out" >&2
		    die "restic restore ($_side) differs from the tree"; }
		rm -rf "$RW/out"
	done
	r=$((r + 1))
done

# Peak RSS over all runs, read while the servers still run.
sample restic_gw_peak_rss_kib "$(hwm "$GW_PID")"
[ -n "$RC_PORT" ] && sample restic_rclone_peak_rss_kib "$(hwm "$RC_PID")"
for _p in $GW_PID ${RC_PID:-}; do
	kill -TERM "$_p" 2>/dev/null
	wait "$_p" 2>/dev/null
done
GW_PID=
RC_PID=
grep 'at exit:' "$RW/gw.log" | sed 's/^/dctl serve restic: /'
rm -rf "$RW"
