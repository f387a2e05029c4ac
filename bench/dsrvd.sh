# make bench, sections 1 and 2: the machine's baselines and dsrvd's own
# figures.  Sourced by bench/run.sh after its setup and helpers (the
# daemon is running, $W, $NET and sample() are set); skipped with
# BENCH_ONLY=restic.

# --- 1. baselines -----------------------------------------------------

r=1
while [ "$r" -le "$RUNS" ]; do
	progress "baselines, run $r of $RUNS"
	bt "" crypto -t "$CRYPTO_MS"
	bt "j1_" verify -d "$W/base" -s "$SIZE" -j 1
	bt "j2_" verify -d "$W/base" -s "$SIZE" -j 2
	bt "" commit -d "$W/base" -n "$NCOMMIT"
	# The CPU a server cannot avoid per GiB: stored = decrypt + crc
	# on receipt + crc on read-back; read = encrypt + crc.  The
	# client: put = encrypt + crc (it also hashes, not counted), get =
	# decrypt + crc.
	_e=$(awk '$1 == "chacha_enc_MBps" { v = $2 } END { print v }' "$SAMPLES")
	_d=$(awk '$1 == "chacha_dec_MBps" { v = $2 } END { print v }' "$SAMPLES")
	_c=$(awk '$1 == "crc32_MBps" { v = $2 } END { print v }' "$SAMPLES")
	sample ideal_store_cpu_s "$(calc "$GIB / 1e6 / $_d + 2 * $GIB / 1e6 / $_c")"
	sample ideal_read_cpu_s "$(calc "$GIB / 1e6 / $_e + $GIB / 1e6 / $_c")"
	sample ideal_put_cpu_s "$(calc "$GIB / 1e6 / $_e + $GIB / 1e6 / $_c")"
	sample ideal_get_cpu_s "$(calc "$GIB / 1e6 / $_d + $GIB / 1e6 / $_c")"
	r=$((r + 1))
done

# --- 2. dsrvd ---------------------------------------------------------

progress "making a $SIZE-byte test file"
head -c "$SIZE" /dev/urandom >"$W/put.dat" || die "cannot write test file"
Q=$(( SIZE / 4 ))
for i in 1 2 3 4; do
	dd if="$W/put.dat" of="$W/put$i.dat" bs=1M skip=$(( (i - 1) * Q / 1048576 )) \
	    count=$(( Q / 1048576 )) status=none || die "dd failed"
done

# One client: dctl put, then dctl get into /dev/null (no client disk).
r=1
while [ "$r" -le "$RUNS" ]; do
	progress "dctl put/get, 1 client, run $r of $RUNS"
	stamp "$W/put.dat" "$r"
	_c0=$(tree_cpu)
	"$BT" run $DCTL -q $NET put "$W/put.dat" "bench/put-$r" >"$W/run.out" ||
	    die "dctl put failed"
	_c1=$(tree_cpu)
	_w=$(val "$W/run.out" wall_s)
	sample put1_MBps "$(calc "$SIZE / $_w / 1e6")"
	sample put_dsrvd_cpu_s_per_GiB "$(calc "($_c1 - $_c0) * $GIB / $SIZE")"
	sample put_dctl_cpu_s_per_GiB "$(calc "$(val "$W/run.out" cpu_s) * $GIB / $SIZE")"
	sample put_dctl_peak_rss_mib "$(calc "$(val "$W/run.out" maxrss_kib) / 1024")"
	sample put1_s "$_w"

	_c0=$(tree_cpu)
	"$BT" run $DCTL -q $NET get "bench/put-$r" /dev/null >"$W/run.out" ||
	    die "dctl get failed"
	_c1=$(tree_cpu)
	_w=$(val "$W/run.out" wall_s)
	sample get1_MBps "$(calc "$SIZE / $_w / 1e6")"
	sample get_dsrvd_cpu_s_per_GiB "$(calc "($_c1 - $_c0) * $GIB / $SIZE")"
	sample get_dctl_cpu_s_per_GiB "$(calc "$(val "$W/run.out" cpu_s) * $GIB / $SIZE")"
	sample get_dctl_peak_rss_mib "$(calc "$(val "$W/run.out" maxrss_kib) / 1024")"

	# The same file again, unchanged and under the same name: every
	# data chunk is on the server, so dctl should send next to none of
	# it (its -j line says what it sent and skipped; dsrvd's "bytes in"
	# counters, summed over the network processes, what arrived).
	_i0=$(bytes_in)
	_c0=$(tree_cpu)
	"$BT" run -o "$W/reput.json" $DCTL -q -j $NET put "$W/put.dat" \
	    "bench/put-$r" >"$W/run.out" || die "dctl re-put failed"
	_c1=$(tree_cpu)
	_i1=$(bytes_in)
	_sent=$(jnum "$W/reput.json" sent)
	_skip=$(jnum "$W/reput.json" skipped)
	[ -n "$_sent" ] && [ -n "$_skip" ] ||
	    die "dctl -j put printed no sent/skipped: $(cat "$W/reput.json")"
	sample reput_s "$(val "$W/run.out" wall_s)"
	sample reput_sent_bytes "$_sent"
	sample reput_skipped_bytes "$_skip"
	sample reput_sent_ratio "$(awk "BEGIN { printf \"%.3g\", $_sent / $SIZE }")"
	[ -n "$_i0" ] && [ -n "$_i1" ] &&
	    sample reput_server_in_bytes "$(( _i1 - _i0 ))"
	sample reput_dsrvd_cpu_s_per_GiB "$(calc "($_c1 - $_c0) * $GIB / $SIZE")"
	sample reput_dctl_cpu_s_per_GiB "$(calc "$(val "$W/run.out" cpu_s) * $GIB / $SIZE")"

	# A stream: the same file, made new again, through a pipe into
	# "dctl put -", and read back with "dctl get NAME -" into a pipe.
	stamp "$W/put.dat" "s$r"
	_c0=$(tree_cpu)
	cat "$W/put.dat" | "$BT" run $DCTL -q $NET put - "bench/sput-$r" \
	    >"$W/run.out" || die "dctl put - failed"
	_c1=$(tree_cpu)
	_w=$(val "$W/run.out" wall_s)
	sample sput1_MBps "$(calc "$SIZE / $_w / 1e6")"
	sample sput_dsrvd_cpu_s_per_GiB "$(calc "($_c1 - $_c0) * $GIB / $SIZE")"
	sample sput_dctl_cpu_s_per_GiB "$(calc "$(val "$W/run.out" cpu_s) * $GIB / $SIZE")"
	sample sput_dctl_peak_rss_mib "$(calc "$(val "$W/run.out" maxrss_kib) / 1024")"

	# dctl's standard output is the pipe (fd 3), benchtool's the file;
	# wc counts what came through.
	_c0=$(tree_cpu)
	_n=$( { "$BT" run -o /dev/fd/3 $DCTL -q $NET get "bench/sput-$r" - \
	    3>&1 >"$W/run.out"; echo $? >"$W/run.rc"; } | wc -c)
	_c1=$(tree_cpu)
	[ "$(cat "$W/run.rc")" = 0 ] || die "dctl get - failed"
	[ "$_n" -eq "$SIZE" ] || die "dctl get - wrote $_n bytes, not $SIZE"
	_w=$(val "$W/run.out" wall_s)
	sample sget1_MBps "$(calc "$SIZE / $_w / 1e6")"
	sample sget_dsrvd_cpu_s_per_GiB "$(calc "($_c1 - $_c0) * $GIB / $SIZE")"
	sample sget_dctl_cpu_s_per_GiB "$(calc "$(val "$W/run.out" cpu_s) * $GIB / $SIZE")"
	sample sget_dctl_peak_rss_mib "$(calc "$(val "$W/run.out" maxrss_kib) / 1024")"
	r=$((r + 1))
done

# The system call filter's cost: the same put and get against a second
# dsrvd built without it (dsrvd/dsrvd-nofilter, which make bench
# builds), with the same configuration but its own port and data
# directory, alternating with ours run by run.
if [ -x "$DSRVD_NF" ]; then
	mkdir -p "$W/nf/data" || die "mkdir failed"
	NFPORT=
	for _p in $(seq $((PORT + 1)) 17681); do
		ss -Htan 2>/dev/null | awk '{ print $4 }' | grep -q ":$_p\$" &&
		    continue
		NFPORT=$_p
		break
	done
	[ -n "$NFPORT" ] || die "no free port for the second dsrvd"
	sed -e "s|$W/data|$W/nf/data|" -e "s|$W/dsrvd.sock|$W/nf/dsrvd.sock|" \
	    -e "s|port $PORT\$|port $NFPORT|" "$W/dsrvd.conf" >"$W/nf/dsrvd.conf"
	"$DSRVD_NF" -d -f "$W/nf/dsrvd.conf" >"$W/nf/dsrvd.log" 2>&1 &
	NF_PID=$!
	_n=100
	until grep -q "startup:" "$W/nf/dsrvd.log" 2>/dev/null; do
		kill -0 "$NF_PID" 2>/dev/null || { cat "$W/nf/dsrvd.log" >&2;
		    die "dsrvd-nofilter exited at start-up"; }
		_n=$((_n - 1))
		[ "$_n" -gt 0 ] || die "dsrvd-nofilter did not start"
		sleep 0.1
	done
	grep -q "sandbox: seccomp off" "$W/nf/dsrvd.log" ||
	    note "dsrvd-nofilter does not say its filter is off"
	# A put and get on it first, unmeasured: ours has had its own
	# (directories made, buffers pooled) in the runs above.
	_net="-r 127.0.0.1:$NFPORT -k $KEY -K bench"
	"$BT" run $DCTL -q $_net put "$W/put.dat" bench/sb-warm >/dev/null &&
	    "$BT" run $DCTL -q $_net get bench/sb-warm /dev/null >/dev/null ||
	    die "dctl put/get on dsrvd-nofilter failed"
	r=1
	while [ "$r" -le "$RUNS" ]; do
		progress "system call filter on and off, run $r of $RUNS"
		for _side in filter nofilter; do
			if [ "$_side" = filter ]; then
				_pid=$DSRVD_PID _port=$PORT
			else
				_pid=$NF_PID _port=$NFPORT
			fi
			_net="-r 127.0.0.1:$_port -k $KEY -K bench"
			stamp "$W/put.dat" "sb$r$_side"
			_c0=$(tree_cpu "$_pid")
			"$BT" run $DCTL -q $_net put "$W/put.dat" \
			    "bench/sb-$r" >"$W/run.out" ||
			    die "dctl put ($_side) failed"
			_c1=$(tree_cpu "$_pid")
			_w=$(val "$W/run.out" wall_s)
			sample "${_side}_put1_MBps" "$(calc "$SIZE / $_w / 1e6")"
			sample "${_side}_put_cpu_s_per_GiB" \
			    "$(calc "($_c1 - $_c0) * $GIB / $SIZE")"
			_c0=$(tree_cpu "$_pid")
			"$BT" run $DCTL -q $_net get "bench/sb-$r" /dev/null \
			    >"$W/run.out" || die "dctl get ($_side) failed"
			_c1=$(tree_cpu "$_pid")
			_w=$(val "$W/run.out" wall_s)
			sample "${_side}_get1_MBps" "$(calc "$SIZE / $_w / 1e6")"
			sample "${_side}_get_cpu_s_per_GiB" \
			    "$(calc "($_c1 - $_c0) * $GIB / $SIZE")"
		done
		r=$((r + 1))
	done
	kill -TERM "$NF_PID" 2>/dev/null
	wait "$NF_PID" 2>/dev/null
	NF_PID=
	chattr -R -f -ia "$W/nf" >/dev/null 2>&1
	rm -rf "$W/nf"
else
	note "no $DSRVD_NF: no figures with the filter off"
fi

# OpenSSH sftp -f (fsync after the upload) of the same file to a private
# sshd on 127.0.0.1, when this machine has sshd and sftp-server (the
# bench installs nothing).  Both ends share the two cores, as with dctl.
SSHD=/usr/sbin/sshd
SFTPSRV=
for _s in /usr/lib/openssh/sftp-server /usr/libexec/sftp-server \
    /usr/libexec/openssh/sftp-server; do
	[ -x "$_s" ] && { SFTPSRV=$_s; break; }
done
if [ -x "$SSHD" ] && [ -n "$SFTPSRV" ] && command -v sftp >/dev/null &&
    command -v ssh-keygen >/dev/null; then
	S=$W/ssh
	mkdir -p "$S" /run/sshd || die "mkdir $S failed"
	ssh-keygen -q -t ed25519 -N '' -f "$S/host" >/dev/null &&
	    ssh-keygen -q -t ed25519 -N '' -f "$S/user" >/dev/null &&
	    cp "$S/user.pub" "$S/authorized_keys" || die "ssh-keygen failed"
	SPORT=
	for _p in $(seq 17600 17700); do
		ss -Htan 2>/dev/null | awk '{ print $4 }' | grep -q ":$_p\$" &&
		    continue
		SPORT=$_p
		break
	done
	cat >"$S/sshd_config" <<EOF
ListenAddress 127.0.0.1
Port $SPORT
HostKey $S/host
PidFile none
AuthorizedKeysFile $S/authorized_keys
PermitRootLogin prohibit-password
PasswordAuthentication no
KbdInteractiveAuthentication no
UsePAM no
StrictModes no
LogLevel ERROR
Subsystem sftp $SFTPSRV
EOF
	"$SSHD" -D -e -f "$S/sshd_config" >"$S/sshd.log" 2>&1 &
	SSHD_PID=$!
	_n=50
	until ss -Htln 2>/dev/null | awk '{ print $4 }' |
	    grep -qx "127.0.0.1:$SPORT"; do
		_n=$((_n - 1))
		[ "$_n" -gt 0 ] && kill -0 "$SSHD_PID" 2>/dev/null || break
		sleep 0.1
	done
	echo "put $W/put.dat $S/up.dat" >"$S/batch"
	r=1
	while [ "$r" -le "$RUNS" ]; do
		progress "sftp -f, run $r of $RUNS"
		for _c in chacha20-poly1305@openssh.com aes128-gcm@openssh.com; do
			stamp "$W/put.dat" "$r"
			if ! "$BT" run sftp -q -f -b "$S/batch" -c "$_c" \
			    -i "$S/user" -P "$SPORT" -o BatchMode=yes \
			    -o StrictHostKeyChecking=no \
			    -o UserKnownHostsFile=/dev/null \
			    -o LogLevel=ERROR root@127.0.0.1 \
			    >"$W/run.out" 2>"$S/sftp.err"; then
				note "sftp failed, no sftp baseline:"
				cat "$S/sftp.err" "$S/sshd.log" >&2
				break 2
			fi
			rm -f "$S/up.dat"
			_w=$(val "$W/run.out" wall_s)
			case $_c in
			chacha*) _k=sftp_chacha_MBps ;;
			*) _k=sftp_aes_MBps ;;
			esac
			sample "$_k" "$(calc "$SIZE / $_w / 1e6")"
		done
		r=$((r + 1))
	done
	kill -TERM "$SSHD_PID" 2>/dev/null
	wait "$SSHD_PID" 2>/dev/null
	SSHD_PID=
else
	note "no sshd and sftp-server here: no sftp baseline"
fi

# concurrent OP RUN: 4 dctl at once, each with a quarter of the size;
# prints the wall time and leaves each client's figures in run$i.out.
concurrent() {
	_t0=$(now)
	_pids=
	for i in 1 2 3 4; do
		if [ "$1" = put ]; then
			"$BT" run $DCTL -q $NET put "$W/put$i.dat" \
			    "bench/put4-$2-$i" >"$W/run$i.out" &
		else
			"$BT" run $DCTL -q $NET get "bench/put4-$2-$i" \
			    /dev/null >"$W/run$i.out" &
		fi
		_pids="$_pids $!"
	done
	_bad=0
	for _p in $_pids; do
		wait "$_p" || _bad=1
	done
	_t1=$(now)
	[ "$_bad" = 0 ] || die "a concurrent dctl $1 failed"
	calc "$_t1 - $_t0"
}

r=1
while [ "$r" -le "$RUNS" ]; do
	progress "dctl put/get, 4 clients, run $r of $RUNS"
	for i in 1 2 3 4; do
		stamp "$W/put$i.dat" "$r"
	done
	"$BT" peak "$DSRVD_PID" -i 50 >"$W/peak.out" &
	PEAK_PID=$!
	_c0=$(tree_cpu)
	_w=$(concurrent put "$r") || exit 1
	_c1=$(tree_cpu)
	sample put4_MBps "$(calc "$SIZE / $_w / 1e6")"
	sample put4_dsrvd_cpu_s_per_GiB "$(calc "($_c1 - $_c0) * $GIB / $SIZE")"
	_cc=$(cat "$W"/run[1-4].out | awk '$1 == "cpu_s" { s += $2 } END { print s }')
	sample put4_dctl_cpu_s_per_GiB "$(calc "$_cc * $GIB / $SIZE")"

	_c0=$(tree_cpu)
	_w=$(concurrent get "$r") || exit 1
	_c1=$(tree_cpu)
	sample get4_MBps "$(calc "$SIZE / $_w / 1e6")"
	sample get4_dsrvd_cpu_s_per_GiB "$(calc "($_c1 - $_c0) * $GIB / $SIZE")"
	_cc=$(cat "$W"/run[1-4].out | awk '$1 == "cpu_s" { s += $2 } END { print s }')
	sample get4_dctl_cpu_s_per_GiB "$(calc "$_cc * $GIB / $SIZE")"
	kill -TERM "$PEAK_PID" 2>/dev/null
	wait "$PEAK_PID"
	PEAK_PID=
	sample conc_peak_rss_kib "$(val "$W/peak.out" peak_rss_kib)"
	sample conc_peak_pss_kib "$(val "$W/peak.out" peak_pss_kib)"

	# What the 4-client run leaves behind, at once and after 12 s of
	# idleness (dsrvd gives pooled buffers back after 10 s).
	mem conc_end_
	sleep 12
	mem conc_idle12_

	# Whole 8 MiB chunks in flight, 4 and 16 at once: a first round
	# from the state just sampled, a second from warm buffer pools.
	progress "8 MiB chunks in flight, run $r of $RUNS"
	bt "n4_" $NET inflight -n 4 -p "$DSRVD_PID" -t "r$r-n4"
	bt "n16_" $NET inflight -n 16 -p "$DSRVD_PID" -t "r$r-n16"
	r=$((r + 1))
done
rm -f "$W"/put*.dat

# Small chunks, ping, idle connections.
r=1
while [ "$r" -le "$RUNS" ]; do
	progress "4 KiB writes, ping, idle connections, run $r of $RUNS"
	bt "c1_" $NET write -c 1 -n "$NW1" -t "r$r-c1"
	bt "c16_" $NET write -c 16 -n "$NW16" -t "r$r-c16"
	bt "" $NET ping -n "$NPING"
	bt "" $NET idle -n "$NIDLE" -p "$DSRVD_PID"
	r=$((r + 1))
done

# Many stored chunks: filled once, then stat, list and match.
progress "storing $FILES small files ($CHUNKS chunks)"
bt "" $NET fill -c 16 -n "$FILES" -t fill
r=1
while [ "$r" -le "$RUNS" ]; do
	progress "stat, list, match over $CHUNKS chunks, run $r of $RUNS"
	bt "" $NET stat -c 1 -n "$NSTAT" -f "$FILES" -t fill
	bt "" $NET list
	"$BT" run -o "$W/match.out" $DCTL -q $NET match b/fill/ >"$W/run.out" ||
	    die "dctl match failed"
	_m=$(wc -l <"$W/match.out")
	[ "$_m" -eq "$FILES" ] || note "match listed $_m files, not $FILES"
	sample match_files_per_s "$(calc "$_m / $(val "$W/run.out" wall_s)")"
	r=$((r + 1))
done
