#!/bin/sh
# make bench: dsrvd against the machine's own limits, in one run.
#
# Starts a private dsrvd as root on 127.0.0.1 with a temporary data
# directory, measures the machine's baselines and dsrvd's figures
# BENCH_RUNS times each, and restic's backup and restore through dctl
# serve restic next to rclone's and a local repository's; prints one
# table (median [min..max], the baseline, the ratio, the issue's
# target) and writes the same figures as JSON.  Nothing here passes or
# fails on a timing.
#
# Environment:
#	BENCH_RUNS=3		samples per figure
#	BENCH_SIZE=1G		put/get file size, and the disk verify size
#	BENCH_CHUNKS=100000	chunks stored for the stat/list/match rates
#	BENCH_DIR=/var/tmp	where the temporary data directory goes
#	BENCH_JSON=FILE		default bench/results-DATE.json
#	BENCH_QUICK=1		a smoke run of a few minutes
#	BENCH_KEEP=1		keep the temporary directory (and its data)
#	BENCH_RESTIC_MB=512	restic's tree, in MiB (a multiple of 64)
#	BENCH_ONLY=restic	only the restic comparison (or dsrvd: all else)

set -u
LC_ALL=C
export LC_ALL
PATH=$PATH:/usr/local/sbin:/usr/sbin:/sbin
export PATH

TOP=$(cd "$(dirname "$0")/.." && pwd)
BT=$TOP/bench/benchtool
DSRVD=$TOP/dsrvd/dsrvd
DSRVD_NF=$TOP/dsrvd/dsrvd-nofilter
DCTL=$TOP/dctl/dctl

die() {
	echo "bench: $*" >&2
	exit 1
}

note() {
	echo "bench: $*" >&2
}

# 1G, 512M, 64K or plain bytes.
bytes() {
	case $1 in
	*[Gg]) echo $(( ${1%?} * 1073741824 )) ;;
	*[Mm]) echo $(( ${1%?} * 1048576 )) ;;
	*[Kk]) echo $(( ${1%?} * 1024 )) ;;
	*) echo $(( $1 )) ;;
	esac
}

QUICK=${BENCH_QUICK:-0}
if [ "$QUICK" = 1 ]; then
	RUNS=${BENCH_RUNS:-3}
	SIZE=$(bytes "${BENCH_SIZE:-64M}")
	CHUNKS=${BENCH_CHUNKS:-2000}
	NPING=300 NW1=100 NW16=320 NSTAT=500 CRYPTO_MS=150 NCOMMIT=100
	RMB=${BENCH_RESTIC_MB:-64}
else
	RUNS=${BENCH_RUNS:-3}
	SIZE=$(bytes "${BENCH_SIZE:-1G}")
	CHUNKS=${BENCH_CHUNKS:-100000}
	NPING=2000 NW1=500 NW16=2000 NSTAT=3000 CRYPTO_MS=500 NCOMMIT=500
	RMB=${BENCH_RESTIC_MB:-512}
fi
# Whole 8 MiB pieces, and at least one per concurrent client.
SIZE=$(( SIZE / 33554432 * 33554432 ))
[ "$SIZE" -gt 0 ] || SIZE=33554432
FILES=$(( CHUNKS / 2 ))
[ "$FILES" -gt 0 ] || FILES=1
NIDLE=100
# restic's tree: 4 large files of an eighth each, and 32 directories of
# small files of a 64th each.
RMB=$(( RMB / 64 * 64 ))
[ "$RMB" -gt 0 ] || RMB=64
ONLY=${BENCH_ONLY:-}
case $ONLY in
""|dsrvd|restic) ;;
*) die "BENCH_ONLY=$ONLY: dsrvd or restic" ;;
esac

[ "$(id -u)" -eq 0 ] || die "must run as root (dsrvd starts as root)"
for _b in "$BT" "$DSRVD" "$DCTL"; do
	[ -x "$_b" ] || die "$_b not built; run make bench"
done
if nm "$DSRVD" 2>/dev/null | grep -q __asan_init; then
	note "WARNING: dsrvd is built with sanitizers; the figures measure them"
fi

BASE=${BENCH_DIR:-/var/tmp}
W=$(mktemp -d "$BASE/dsrvd-bench.XXXXXXXX") || die "mktemp in $BASE failed"
W=$(cd "$W" && pwd -P)
DSRVD_PID=
NF_PID=
PEAK_PID=
SSHD_PID=
GW_PID=
RC_PID=
# Stop only what this script started, by pid, then remove its data (the
# stored chunks are immutable: clear the flag first).
cleanup() {
	trap - EXIT HUP INT TERM
	[ -n "$PEAK_PID" ] && kill -TERM "$PEAK_PID" 2>/dev/null
	[ -n "$SSHD_PID" ] && kill -TERM "$SSHD_PID" 2>/dev/null
	for _p in $GW_PID $RC_PID; do
		kill -TERM "$_p" 2>/dev/null
		wait "$_p" 2>/dev/null
	done
	for _p in $DSRVD_PID $NF_PID; do
		kill -TERM "$_p" 2>/dev/null
		_n=100
		while [ "$_n" -gt 0 ] && kill -0 "$_p" 2>/dev/null; do
			sleep 0.1
			_n=$((_n - 1))
		done
		kill -KILL "$_p" 2>/dev/null
		wait "$_p" 2>/dev/null
	done
	if [ "${BENCH_KEEP:-0}" = 1 ]; then
		note "kept $W"
	else
		case $W in
		*/dsrvd-bench.*)
			chattr -R -f -ia "$W" >/dev/null 2>&1
			rm -rf "$W"
			;;
		esac
	fi
}
trap cleanup EXIT
trap 'exit 1' HUP INT TERM

FS=$(df -PT "$W" | awk 'NR == 2 { print $2 " on " $1 " mounted on " $7 }')
DATE=$(date -u +%Y-%m-%dT%H:%M:%SZ)
JSON=${BENCH_JSON:-$TOP/bench/results-$(date -u +%Y%m%d-%H%M%S).json}
SAMPLES=$W/samples
: >"$SAMPLES"

echo "dsrvd bench $DATE on $(uname -n), $(nproc) cores, $(uname -r)"
echo "data directory $W: $FS"
echo "runs $RUNS, file size $SIZE bytes, $CHUNKS chunks ($FILES small files)," \
    "restic tree $RMB MiB${ONLY:+, only $ONLY}"

# --- setup: users, chroot, key, configuration, daemon -----------------

for _u in _dsrvd _dsrvdata _dsrvcrypto; do
	getent passwd "$_u" >/dev/null && continue
	if getent group "$_u" >/dev/null; then
		useradd -r -M -s /usr/sbin/nologin -d /nonexistent -g "$_u" "$_u"
	else
		useradd -r -M -U -s /usr/sbin/nologin -d /nonexistent "$_u"
	fi || die "cannot create user $_u"
done
[ -d /var/empty ] || { mkdir -p /var/empty && chmod 755 /var/empty; } ||
    die "cannot make /var/empty"

mkdir -p "$W/data" "$W/base" || die "mkdir failed"
KEY=$W/bench.key
"$DCTL" keygen "$KEY" >/dev/null || die "dctl keygen failed"

PORT=
for _p in $(seq 17481 17581); do
	ss -Htan 2>/dev/null | awk '{ print $4 }' | grep -q ":$_p\$" && continue
	PORT=$_p
	break
done
[ -n "$PORT" ] || die "no free port in 17481-17581"

# dsrvd's own defaults for workers and buffers: what ships is measured.
# Only the limits a benchmark would trip over are raised.
cat >"$W/dsrvd.conf" <<EOF
data "$W/data"
socket "$W/dsrvd.sock"
listen on 127.0.0.1 port $PORT
max connections 512
max rtt 2s
key bench file "$KEY"
EOF

"$DSRVD" -d -f "$W/dsrvd.conf" >"$W/dsrvd.log" 2>&1 &
DSRVD_PID=$!
_n=100
until grep -q "startup:" "$W/dsrvd.log" 2>/dev/null; do
	kill -0 "$DSRVD_PID" 2>/dev/null || { cat "$W/dsrvd.log" >&2;
	    die "dsrvd exited at start-up"; }
	_n=$((_n - 1))
	[ "$_n" -gt 0 ] || die "dsrvd did not start within 10 s"
	sleep 0.1
done
echo "dsrvd: $(grep -m1 'startup:' "$W/dsrvd.log" | sed 's/.*startup: //')"
echo

NET="-r 127.0.0.1:$PORT -k $KEY -K bench"

# --- helpers ------------------------------------------------------------

# sample NAME VALUE
sample() {
	echo "$1 $2" >>"$SAMPLES"
}

# bt PREFIX benchtool-args...: every "NAME VALUE" it prints is a sample
# PREFIXNAME.  Fails the whole run if benchtool fails.
bt() {
	_pre=$1
	shift
	"$BT" "$@" >"$W/bt.out" || die "benchtool $* failed"
	while read -r _k _v; do
		sample "$_pre$_k" "$_v"
	done <"$W/bt.out"
}

# val FILE NAME: NAME's value in benchtool output FILE.
val() {
	awk -v k="$2" '$1 == k { print $2; exit }' "$1"
}

# mem PREFIX: samples PREFIXrss_kib and PREFIXpss_kib, all of dsrvd now.
mem() {
	"$BT" tree "$DSRVD_PID" >"$W/tree.out" || die "benchtool tree failed"
	sample "${1}rss_kib" "$(val "$W/tree.out" rss_kib)"
	sample "${1}pss_kib" "$(val "$W/tree.out" pss_kib)"
}

# tree_cpu [PID]: CPU seconds of a dsrvd (ours by default) and its
# children.
tree_cpu() {
	"$BT" tree "${1:-$DSRVD_PID}" | awk '$1 == "cpu_s" { print $2 }'
}

# bytes_in: dsrvd's "bytes in" counters summed over its network
# processes (empty when status fails).
bytes_in() {
	"$DCTL" -s "$W/dsrvd.sock" status 2>/dev/null |
	    awk '$1 == "bytes" && $2 == "in" { s += $3; n++ }
		END { if (n) printf "%.0f\n", s }'
}

# jnum FILE KEY: the number KEY has in the one-line JSON object in FILE.
jnum() {
	sed -n "s/.*\"$2\":\([0-9][0-9]*\).*/\1/p" "$1" | head -n 1
}

now() {
	date +%s.%N
}

# calc EXPR: floating point with awk.
calc() {
	awk "BEGIN { printf \"%.4f\", $* }"
}

# stamp FILE RUN: make FILE's contents new (its crc32 and so every chunk
# name change), so each put stores data rather than finding it there.
stamp() {
	printf 'bench run %s %s %s\n' "$2" "$$" "$(now)" |
	    dd of="$1" conv=notrunc bs=64 count=1 status=none
}

progress() {
	printf '%s\n' "bench: $*" >&2
}

GIB=1073741824

# The fresh daemon's memory, before any client: one sample.
sleep 0.5
mem start_

# 1. baselines and 2. dsrvd, then 3. restic three ways.
[ "$ONLY" = restic ] || . "$TOP/bench/dsrvd.sh"
[ "$ONLY" = dsrvd ] || . "$TOP/bench/restic.sh"

# --- 4. the table and the JSON ---------------------------------------

# Rows: key|figure|baseline key|baseline label|target.  A baseline key
# of - means none; the ratio is dsrvd / baseline.
cat >"$W/rows" <<'EOF'
put1_MBps|dctl put, 1 client|j2_verify_MBps|disk verify, 2 in flight|>= 0.85 x baseline (when CPU allows)
put1_MBps|dctl put, 1 client|sftp_chacha_MBps|sftp -f chacha20, same cores|>= 1.4 x baseline
put1_MBps|dctl put, 1 client|sftp_aes_MBps|sftp -f aes128-gcm, same cores|-
put4_MBps|dctl put, 4 clients|j2_verify_MBps|disk verify, 2 in flight|>= 0.85 x baseline
get1_MBps|dctl get, 1 client|chacha_dec_MBps|ChaCha20-Poly1305 decrypt, 1 core|-
get4_MBps|dctl get, 4 clients|chacha_dec_MBps|ChaCha20-Poly1305 decrypt, 1 core|-
put_dsrvd_cpu_s_per_GiB|dsrvd CPU per GiB stored|ideal_store_cpu_s|decrypt + 2 crc32|<= 3.5 s
put4_dsrvd_cpu_s_per_GiB|dsrvd CPU per GiB stored, 4 clients|ideal_store_cpu_s|decrypt + 2 crc32|<= 3.5 s
get_dsrvd_cpu_s_per_GiB|dsrvd CPU per GiB read|ideal_read_cpu_s|encrypt + crc32|<= 2 s
get4_dsrvd_cpu_s_per_GiB|dsrvd CPU per GiB read, 4 clients|ideal_read_cpu_s|encrypt + crc32|<= 2 s
filter_put1_MBps|dctl put, 1 client, filter on|nofilter_put1_MBps|same, filter off (SANDBOX=no)|>= 0.95 x baseline
filter_get1_MBps|dctl get, 1 client, filter on|nofilter_get1_MBps|same, filter off (SANDBOX=no)|>= 0.95 x baseline
filter_put_cpu_s_per_GiB|dsrvd CPU per GiB stored, filter on|nofilter_put_cpu_s_per_GiB|same, filter off (SANDBOX=no)|<= 1.05 x baseline
filter_get_cpu_s_per_GiB|dsrvd CPU per GiB read, filter on|nofilter_get_cpu_s_per_GiB|same, filter off (SANDBOX=no)|<= 1.05 x baseline
put_dctl_cpu_s_per_GiB|dctl CPU per GiB put|ideal_put_cpu_s|encrypt + crc32|-
get_dctl_cpu_s_per_GiB|dctl CPU per GiB get|ideal_get_cpu_s|decrypt + crc32|-
sput1_MBps|dctl put -, stream from a pipe|put1_MBps|dctl put, file, same runs|-
sget1_MBps|dctl get NAME -, into a pipe|get1_MBps|dctl get, file, same runs|-
sput_dsrvd_cpu_s_per_GiB|dsrvd CPU per GiB stored, stream|put_dsrvd_cpu_s_per_GiB|same, file put|-
sget_dsrvd_cpu_s_per_GiB|dsrvd CPU per GiB read, stream|get_dsrvd_cpu_s_per_GiB|same, file get|-
sput_dctl_cpu_s_per_GiB|dctl CPU per GiB, stream put|put_dctl_cpu_s_per_GiB|same, file put|-
sget_dctl_cpu_s_per_GiB|dctl CPU per GiB, stream get|get_dctl_cpu_s_per_GiB|same, file get|-
sput_dctl_peak_rss_mib|dctl peak RSS, stream put|put_dctl_peak_rss_mib|same, file put|bounded by a few chunks
sget_dctl_peak_rss_mib|dctl peak RSS, stream get|get_dctl_peak_rss_mib|same, file get|bounded by a few chunks
reput_s|re-put of the unchanged file|put1_s|the first put of it|-
reput_sent_ratio|re-put: bytes sent / file size|-|-|< 0.01
reput_sent_bytes|re-put: bytes sent (dctl -j)|-|-|-
reput_skipped_bytes|re-put: bytes skipped (dctl -j)|-|-|-
reput_server_in_bytes|re-put: bytes in at dsrvd (status)|-|-|-
reput_dctl_cpu_s_per_GiB|dctl CPU per GiB, re-put|put_dctl_cpu_s_per_GiB|same, first put|-
reput_dsrvd_cpu_s_per_GiB|dsrvd CPU per GiB, re-put|put_dsrvd_cpu_s_per_GiB|same, first put|-
c1_write_p50_us|4 KiB write p50, 1 conn|commit_p50_us|write+fsync+rename+dir fsync p50|<= 1.5 x baseline
c1_write_p99_us|4 KiB write p99, 1 conn|commit_p99_us|write+fsync+rename+dir fsync p99|-
c1_writes_per_s|4 KiB writes/s, 1 conn|commit_per_s|commits/s, 1 at a time|-
c16_write_p50_us|4 KiB write p50, 16 conns|commit_p50_us|write+fsync+rename+dir fsync p50|-
c16_write_p99_us|4 KiB write p99, 16 conns|commit_p99_us|write+fsync+rename+dir fsync p99|-
c16_writes_per_s|4 KiB writes/s, 16 conns|commit_per_s|commits/s, 1 at a time|-
ping_p50_us|ping round trip p50|-|-|-
ping_p99_us|ping round trip p99|-|-|-
handshake_us|handshake|-|-|-
stats_per_s|chunk stat/s, 1 conn|-|-|>= 2000/s
list_names_per_s|names listed/s|-|-|-
match_files_per_s|dctl match files/s|-|-|>= 5000/s
fill_files_per_s|small files stored/s, 16 conns|-|-|-
conc_peak_rss_kib|peak RSS, all dsrvd, 4 clients|-|-|bounded, documented
conc_peak_pss_kib|peak PSS, all dsrvd, 4 clients|-|-|-
idle_rss_kib|idle RSS, all dsrvd|-|-|documented
idle_conn_rss_kib|RSS per idle connection|-|-|documented
idle_conn_pss_kib|PSS per idle connection|-|-|-
start_rss_kib|RSS, all dsrvd, fresh, no client yet|-|-|documented
conc_end_rss_kib|RSS right after the 4-client run|-|-|-
conc_idle12_rss_kib|RSS 12 s after the 4-client run|-|-|-
n4_inflight_first_rss_per_chunk_kib|RSS per 8 MiB in flight, 4, after idle|-|-|documented
n4_inflight_first_pss_per_chunk_kib|PSS per 8 MiB in flight, 4, after idle|-|-|-
n4_inflight_rss_per_chunk_kib|RSS per 8 MiB in flight, 4, warm|-|-|documented
n4_inflight_pss_per_chunk_kib|PSS per 8 MiB in flight, 4, warm|-|-|-
n16_inflight_rss_per_chunk_kib|RSS per 8 MiB in flight, 16, warm|-|-|documented
n16_inflight_pss_per_chunk_kib|PSS per 8 MiB in flight, 16, warm|-|-|-
n16_inflight_before_rss_kib|RSS before 16 in flight (warm)|-|-|-
n16_inflight_peak_rss_kib|peak RSS, 16 chunks in flight|-|-|-
n16_inflight_after_rss_kib|RSS 0.2 s after 16 in flight|-|-|-
restic_gw_backup_MBps|restic backup, dctl serve restic|restic_rclone_backup_MBps|rclone serve restic --append-only|>= 0.8 x baseline
restic_gw_backup_MBps|restic backup, dctl serve restic|restic_local_backup_MBps|local repository directory|-
restic_gw_restore_MBps|restic restore, dctl serve restic|restic_rclone_restore_MBps|rclone serve restic --append-only|>= 0.7 x baseline
restic_gw_restore_MBps|restic restore, dctl serve restic|restic_local_restore_MBps|local repository directory|-
restic_gw_backup_cpu_restic_s|restic CPU, backup, gateway|restic_rclone_backup_cpu_restic_s|same, rclone|-
restic_gw_backup_cpu_server_s|gateway + dsrvd CPU, backup|restic_rclone_backup_cpu_server_s|rclone CPU, backup|-
restic_gw_backup_cpu_gateway_s|gateway CPU alone, backup|restic_rclone_backup_cpu_server_s|rclone CPU, backup|-
restic_gw_restore_cpu_restic_s|restic CPU, restore, gateway|restic_rclone_restore_cpu_restic_s|same, rclone|-
restic_gw_restore_cpu_server_s|gateway + dsrvd CPU, restore|restic_rclone_restore_cpu_server_s|rclone CPU, restore|-
restic_gw_restore_cpu_gateway_s|gateway CPU alone, restore|restic_rclone_restore_cpu_server_s|rclone CPU, restore|-
restic_gw_restore_read_bytes|restore: bytes read at dsrvd (status)|restic_gw_restore_asked_bytes|bytes restic asked (gateway wchar)|<= 2 x baseline
restic_gw_restore_out_bytes|restore: bytes out at dsrvd (status)|restic_gw_restore_asked_bytes|bytes restic asked (gateway wchar)|-
restic_rclone_restore_asked_bytes|restore: bytes restic asked, rclone|restic_gw_restore_asked_bytes|same, gateway|-
restic_gw_peak_rss_kib|dctl serve restic peak RSS (VmHWM)|restic_rclone_peak_rss_kib|rclone serve restic, same|-
chacha_enc_MBps|baseline: ChaCha20-Poly1305 encrypt|-|-|~1100 MB/s here
chacha_dec_MBps|baseline: ChaCha20-Poly1305 decrypt|-|-|-
crc32_MBps|baseline: zlib crc32|-|-|-
j1_verify_MBps|baseline: disk verify, 1 in flight|-|-|~420 MB/s here
j2_verify_MBps|baseline: disk verify, 2 in flight|-|-|~600 MB/s here
commit_p50_us|baseline: 4 KiB commit p50|-|-|-
commit_p99_us|baseline: 4 KiB commit p99|-|-|-
sftp_chacha_MBps|baseline: sftp -f chacha20-poly1305|-|-|~210 MB/s here
sftp_aes_MBps|baseline: sftp -f aes128-gcm|-|-|~340 MB/s here
restic_local_backup_MBps|baseline: restic backup, local dir|-|-|-
restic_local_restore_MBps|baseline: restic restore, local dir|-|-|-
restic_local_backup_cpu_restic_s|baseline: restic CPU, backup, local|-|-|-
restic_local_restore_cpu_restic_s|baseline: restic CPU, restore, local|-|-|-
restic_tree_bytes|restic's tree|-|-|-
EOF

# Median (lower middle for an even count), min, max per key.
awk '{ n[$1]++; v[$1, n[$1]] = $2 }
END {
	for (k in n) {
		m = n[k]
		for (i = 1; i <= m; i++) a[i] = v[k, i] + 0
		for (i = 2; i <= m; i++) {
			x = a[i]
			for (j = i - 1; j >= 1 && a[j] > x; j--) a[j + 1] = a[j]
			a[j + 1] = x
		}
		print k, a[int((m + 1) / 2)], a[1], a[m], m
	}
}' "$SAMPLES" | sort >"$W/stats"

unit() {
	case $1 in
	*_MBps) echo "MB/s" ;;
	*_us) echo "us" ;;
	*_per_s) echo "/s" ;;
	*_kib) echo "KiB" ;;
	*_mib) echo "MiB" ;;
	*_bytes) echo "bytes" ;;
	*_s_per_GiB|*_cpu_s) echo "s/GiB" ;;
	*_s) echo "s" ;;
	*) echo "" ;;
	esac
}

awk -F'|' -v stats="$W/stats" '
function fmt(x) {
	if (x == "") return "-"
	if (x >= 100 || x <= -100) return sprintf("%.0f", x)
	if (x >= 10 || x <= -10) return sprintf("%.1f", x)
	if (x != 0 && x < 0.01 && x > -0.01) return sprintf("%.2g", x)
	return sprintf("%.2f", x)
}
BEGIN {
	while ((getline l < stats) > 0) {
		split(l, f, " ")
		med[f[1]] = f[2]; mn[f[1]] = f[3]; mx[f[1]] = f[4]
	}
	printf "%-40s %-24s %-34s %8s %6s  %s\n", "figure", \
	    "median [min..max]", "baseline (median)", "", "ratio", "target"
}
{
	k = $1
	if (!(k in med)) next
	u = ""
	if (k ~ /_MBps$/) u = "MB/s"
	else if (k ~ /_us$/) u = "us"
	else if (k ~ /_per_s$/) u = "/s"
	else if (k ~ /_kib$/) u = "KiB"
	else if (k ~ /_mib$/) u = "MiB"
	else if (k ~ /_bytes$/) u = "B"
	else if (k ~ /_per_GiB$|_s$/) u = "s"
	v = fmt(med[k]) (u == "" ? "" : " " u) " [" fmt(mn[k]) ".." fmt(mx[k]) "]"
	b = "-"; bv = ""; r = "-"
	if ($3 != "-" && ($3 in med)) {
		b = $4; bv = fmt(med[$3])
		if (med[$3] != 0) r = sprintf("%.2f", med[k] / med[$3])
	}
	printf "%-40s %-24s %-34s %8s %6s  %s\n", $2, v, b, bv, r, $5
}' "$W/rows"

# JSON: every figure with median/min/max/samples, then the table rows.
{
	printf '{"date":"%s","host":"%s","cores":%s,"kernel":"%s",' \
	    "$DATE" "$(uname -n)" "$(nproc)" "$(uname -r)"
	printf '"data_dir_fs":"%s","runs":%s,"size_bytes":%s,"chunks":%s,' \
	    "$FS" "$RUNS" "$SIZE" "$CHUNKS"
	printf '"quick":%s,"figures":{' "$([ "$QUICK" = 1 ] && echo true || echo false)"
	_first=1
	while read -r _k _med _min _max _n; do
		[ "$_first" = 1 ] || printf ','
		_first=0
		printf '"%s":{"median":%s,"min":%s,"max":%s,"n":%s,"unit":"%s"}' \
		    "$_k" "$_med" "$_min" "$_max" "$_n" "$(unit "$_k")"
	done <"$W/stats"
	printf '},"rows":['
	_first=1
	while IFS='|' read -r _k _fig _bk _bl _tg; do
		[ "$_first" = 1 ] || printf ','
		_first=0
		printf '{"figure":"%s","key":"%s","baseline":%s,"target":"%s"}' \
		    "$_fig" "$_k" "$([ "$_bk" = - ] && echo null || echo "\"$_bk\"")" \
		    "$_tg"
	done <"$W/rows"
	printf ']}\n'
} >"$JSON" || die "cannot write $JSON"
echo
echo "figures as JSON in $JSON"
