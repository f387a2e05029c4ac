#!/bin/sh
# needs: root
# The store storage can only add to.  A data directory as an older
# dsrvd left it (everything the storage user's) is adopted at start:
# every directory becomes root's and append-only, chunks stay readable.
# New directories are made by the parent when a write needs one.  Then
# the live storage process is made (ptrace, regress/tools/sysinject) to
# try every destructive call on chunks and directories; each must fail,
# or kill the process by SIGSYS, and afterwards every chunk's bytes,
# flags and place are what they were.  Storage's forged requests to the
# parent (a directory outside the store, a seal of a file that is not
# at the chunk's name) are refused.  Last, dsrvd starts on a file system
# with no free block or inode and serves reads.

. "$REGRESS/lib.sh"
storage_tmpdir
need_bins
ensure_users
ensure_chroot || bail "cannot prepare /var/empty"
SYSINJECT=$REGRESS/tools/sysinject
[ -x "$SYSINJECT" ] || bail "no $SYSINJECT (make builds it)"

### a store as an older dsrvd left it

DATA=$T/data
mkdir -p "$DATA/ab" "$DATA/.ns/A/sh" "$DATA/.tmp" "$DATA/odd+name" ||
    bail "mkdir"
rand_file "$T/old" 3000
cp "$T/old" "$DATA/ab/old"
setfattr -n user.dsrvd.crc32 -v "$(crc32_of "$T/old")" "$DATA/ab/old" ||
    bail "setfattr"
echo stray >"$DATA/junk"
chown -R _dsrvdata:_dsrvdata "$DATA"
chmod 700 "$DATA" "$DATA/ab" "$DATA/.ns" "$DATA/.ns/A" "$DATA/.ns/A/sh"
chmod 400 "$DATA/ab/old"
chattr +i "$DATA/ab/old" || bail "chattr +i"

storage_conf || bail "cannot write the configuration"
new_key "$T/a.key" || bail "cannot make a key"
echo "key ka file \"$T/a.key\" permit read, write, list, stat namespace A" \
    >>"$CONF"
start_dsrvd "$CONF" || bail "dsrvd did not start"

check "start: the old directories were adopted (log)" \
    grep -Eq "[0-9]+ directories of .* made root's and append-only" \
    "$DSRVD_LOG"
check "start: the strays are named as left alone (log)" \
    grep -q "2 entries in .* are no part of the store" "$DSRVD_LOG"
check "data directory: 750 root:_dsrvdata, append-only" \
    store_dir "$DATA" "750 root:_dsrvdata" a
check "ab: 770 root:_dsrvdata, append-only" \
    store_dir "$DATA/ab" "770 root:_dsrvdata" a
for d in .ns .ns/A; do
	check "$d: 750 root:_dsrvdata, append-only" \
	    store_dir "$DATA/$d" "750 root:_dsrvdata" a
done
check ".ns/A/sh: 770 root:_dsrvdata, append-only" \
    store_dir "$DATA/.ns/A/sh" "770 root:_dsrvdata" a
check ".tmp: 700 _dsrvdata, no flags" \
    store_dir "$DATA/.tmp" "700 _dsrvdata:_dsrvdata" -
check "the stray file is left as it was" \
    [ "$(stat -c '%U %a' "$DATA/junk")" = "_dsrvdata 644" ]
rm -f "$T/got"
check "the old chunk reads back" cdctl chunk get ab/old "$T/got"
check "... with its bytes" cmp "$T/old" "$T/got"

### directories made by the parent

rand_file "$T/c1" 5000
rand_file "$T/c2" 70000
check "put ab/one (an existing directory)" cdctl chunk put ab/one "$T/c1"
check "put cd/two (a new directory)" cdctl chunk put cd/two "$T/c2"
check "cd was made by the parent: 770 root:_dsrvdata, append-only" \
    store_dir "$DATA/cd" "770 root:_dsrvdata" a
check "the parent says it made cd (log)" \
    grep -q "made directory cd for storage" "$DSRVD_LOG"
check "key ka: put nd/x (a new directory in its namespace)" \
    kdctl ka "$T/a.key" chunk put nd/x "$T/c1"
check ".ns/A/nd: 770 root:_dsrvdata, append-only" \
    store_dir "$DATA/.ns/A/nd" "770 root:_dsrvdata" a
# Eight writes into one new directory at once: all wait for one mkdir.
i=0 pids=
while [ $i -lt 8 ]; do
	cdctl chunk put "pp/c$i" "$T/c2" >"$T/pp.$i.out" 2>&1 &
	pids="$pids $!"
	i=$((i + 1))
done
bad=0
for p in $pids; do
	wait "$p" || bad=$((bad + 1))
done
check "eight writes at once into a new directory all succeed" [ $bad -eq 0 ]
check "... and each is stored" \
    [ "$(cdctl chunk ls pp 2>/dev/null | wc -l)" -eq 8 ]

### the drills

# snapshot: every path of the store but .tmp's contents, with type,
# mode, owner, size, inode, flags and the sha256 of every file.
snapshot() {
	find "$DATA" -path "$DATA/.tmp/*" -prune -o \
	    -printf '%p %y %m %u:%g %s %i\n' | LC_ALL=C sort
	find "$DATA" -path "$DATA/.tmp" -prune -o -type f -print |
	    LC_ALL=C sort | while read -r f; do
		printf '%s %s %s\n' "$f" "$(sha256sum <"$f" | cut -c 1-64)" \
		    "$(lsattr -d "$f" | cut -d ' ' -f 1)"
	done
}
snapshot >"$T/before" || bail "snapshot"
grep -q " ----i" "$T/before" || bail "no immutable chunk in the snapshot"

STORAGE=$(child_pids storage | head -n 1)
[ -n "$STORAGE" ] || bail "no storage process"
SUID=$(id -u _dsrvdata)

# drill_restart: a drill killed storage by SIGSYS and took the daemon down
# (the log names the call): start it again.
drill_restart() {
	wait_gone "$DSRVD_PID" 10 || stop_dsrvd
	wait "$DSRVD_PID" 2>/dev/null
	start_dsrvd "$CONF" || bail "dsrvd did not start again"
	STORAGE=$(child_pids storage | head -n 1)
}

# sdrill DESC ERRNOS CALL...: storage 0 runs the CALLs (lib.sh's drill).
sdrill() {
	drill "storage[0]" "$STORAGE" "$@"
}

AT=-100			# AT_FDCWD; storage's / is the data directory
RDWR=2 WRCREAT=65 WRTRUNC=513 RDONLY=0 DIRFLAG=65536
NOREPLACE=1 EXCHANGE=2 REMOVEDIR=512
SETFLAGS=1074292226	# FS_IOC_SETFLAGS
NOFLAGS='"\x00\x00\x00\x00"'

sdrill "unlink a chunk" "EPERM|EACCES" "unlinkat($AT, \"ab/one\", 0)"
sdrill "unlink an adopted chunk" "EPERM|EACCES" "unlinkat($AT, \"ab/old\", 0)"
sdrill "rename a chunk into .tmp" "EPERM|EACCES" \
    "renameat2($AT, \"ab/one\", $AT, \".tmp/stolen\", 0)"
sdrill "rename a chunk to another name" "EPERM|EACCES" \
    "renameat2($AT, \"ab/one\", $AT, \"ab/moved\", 0)"
sdrill "rename a new file over a chunk" "EPERM|EACCES" \
    "openat($AT, \".tmp/forgery\", $WRCREAT, 384)" \
    "write(\$1, \"forged\", 6)" \
    "renameat2($AT, \".tmp/forgery\", $AT, \"ab/one\", 0)"
sdrill "exchange two chunks" "EPERM|EACCES" \
    "renameat2($AT, \"ab/one\", $AT, \"ab/old\", $EXCHANGE)"
sdrill "exchange a chunk with a file of .tmp" "EPERM|EACCES" \
    "openat($AT, \".tmp/swap\", $WRCREAT, 384)" \
    "renameat2($AT, \".tmp/swap\", $AT, \"cd/two\", $EXCHANGE)"
sdrill "exchange two namespaces' directories" "EPERM|EACCES" \
    "renameat2($AT, \"ab\", $AT, \".ns/A/sh\", $EXCHANGE)"
sdrill "rename a chunk directory" "EPERM|EACCES" \
    "renameat2($AT, \"cd\", $AT, \"cd2\", 0)"
sdrill "rename .tmp away" "EPERM|EACCES" \
    "renameat2($AT, \".tmp\", $AT, \"tmp2\", 0)"
sdrill "rename a namespace" "EPERM|EACCES" \
    "renameat2($AT, \".ns/A\", $AT, \".ns/B\", 0)"
sdrill "remove a chunk directory" "EPERM|EACCES|ENOTEMPTY" \
    "unlinkat($AT, \"pp\", $REMOVEDIR)"
sdrill "hard-link a chunk into .tmp" "EPERM|EACCES|EXDEV" \
    "linkat($AT, \"ab/one\", $AT, \".tmp/link\", 0)"
sdrill "hard-link a chunk to a new name" "EPERM|EACCES" \
    "linkat($AT, \"ab/one\", $AT, \"ab/alias\", 0)"
sdrill "open a chunk for writing" "EPERM|EACCES" \
    "openat($AT, \"ab/one\", $RDWR, 0)"
sdrill "open a chunk with O_TRUNC" "EPERM|EACCES" \
    "openat($AT, \"ab/one\", $WRTRUNC, 0)"
sdrill "truncate a chunk" "EPERM|EACCES" "truncate(\"ab/one\", 0)"
sdrill "chmod a chunk" "EPERM|EACCES" "fchmodat($AT, \"ab/one\", 438, 0)"
sdrill "chown a chunk" "EPERM|EACCES" "fchownat($AT, \"ab/one\", $SUID, $SUID, 0)"
sdrill "chmod a chunk directory" "EPERM|EACCES" "fchmodat($AT, \"ab\", 511, 0)"
sdrill "replace a chunk's crc32 xattr" "EPERM|EACCES" \
    "setxattr(\"ab/one\", \"user.dsrvd.crc32\", \"00000000\", 8, 0)"
sdrill "remove a chunk's crc32 xattr" "EPERM|EACCES" \
    "removexattr(\"ab/one\", \"user.dsrvd.crc32\")"
sdrill "set an xattr on a chunk directory" "EPERM|EACCES" \
    "setxattr(\"ab\", \"user.x\", \"1\", 1, 0)"
sdrill "clear a chunk's immutable flag" "EPERM|EACCES" \
    "openat($AT, \"ab/one\", $RDONLY, 0)" \
    "ioctl(\$1, $SETFLAGS, $NOFLAGS)"
sdrill "clear a directory's append-only flag" "EPERM|EACCES" \
    "openat($AT, \"ab\", $DIRFLAG, 0)" \
    "ioctl(\$1, $SETFLAGS, $NOFLAGS)"
sdrill "plant a file where a directory will go" "EACCES" \
    "openat($AT, \"zz\", $WRCREAT, 384)"
sdrill "plant a file where a namespace will go" "EACCES" \
    "openat($AT, \".ns/B\", $WRCREAT, 384)"
sdrill "make a directory in the data directory" "EACCES" \
    "mkdirat($AT, \"zz\", 448)"
sdrill "make a namespace" "EACCES" "mkdirat($AT, \".ns/B\", 448)"
sdrill "make a directory inside a chunk directory" "EACCES" \
    "mkdirat($AT, \"ab/sub\", 448)"
sdrill "make a symlink where a chunk will go" "EACCES" \
    "symlinkat(\"one\", $AT, \"ab/future\")"
sdrill "fill the disk: grow a file past the largest chunk" "EFBIG" \
    "openat($AT, \".tmp/huge\", $WRCREAT, 384)" \
    "ftruncate(\$1, 67108864)"
sdrill "fill the disk: write far past the largest chunk" "EFBIG" \
    "openat($AT, \".tmp/far\", $WRCREAT, 384)" \
    "pwrite64(\$1, \"x\", 1, 67108864)"
sdrill "fill the disk: fallocate" "EFBIG" \
    "openat($AT, \".tmp/alloc\", $WRCREAT, 384)" \
    "fallocate(\$1, 0, 0, 67108864)"

# The same without the sandbox: as the storage user, from outside it,
# only the owners, modes and flags of the store stand in the way.
as_storage() {
	setpriv --reuid=_dsrvdata --regid=_dsrvdata --clear-groups -- "$@"
}
layer() {
	if as_storage "$@" >"$T/layer.out" 2>&1; then
		notok "without the sandbox, the storage user cannot: $*"
	else
		ok "without the sandbox, the storage user cannot: $* ($(head -n 1 "$T/layer.out"))"
	fi
}
layer rm -f "$DATA/ab/one"
layer mv "$DATA/ab/one" "$DATA/.tmp/stolen"
as_storage sh -c "echo forged >'$DATA/.tmp/forgery2'" ||
    bail "the storage user cannot write in .tmp"
layer mv -f "$DATA/.tmp/forgery2" "$DATA/ab/one"
layer ln "$DATA/ab/one" "$DATA/.tmp/link2"
layer mv "$DATA/cd" "$DATA/cd2"
layer mv "$DATA/.tmp" "$DATA/tmp2"
layer mkdir "$DATA/zz"
layer touch "$DATA/zz2"
layer touch "$DATA/.ns/B"
layer chattr -a "$DATA/ab"
layer chattr -i "$DATA/ab/one"
layer setfattr -n user.dsrvd.crc32 -v 00000000 "$DATA/ab/one"

snapshot >"$T/after"
if cmp -s "$T/before" "$T/after"; then
	ok "every chunk and directory is as it was (bytes, flags, places)"
else
	notok "every chunk and directory is as it was (bytes, flags, places)"
	diff "$T/before" "$T/after" | head -n 40 | sed 's/^/# /'
fi
rm -f "$T/got"
check "ab/one still reads back" cdctl chunk get ab/one "$T/got"
check "... with its bytes" cmp "$T/c1" "$T/got"
diag "$DRILL_KILLED drills killed storage by SIGSYS"

### storage's forged requests to the parent

# forge_storage GDB-ARGS...: storage 0 runs them (gdb).
forge_storage() {
	timeout 60 gdb -p "$STORAGE" -batch -nx "$@" >"$T/forge.out" 2>&1
}

forge_storage -ex 'set $m = (struct st_mkdir *)calloc(1, sizeof(struct st_mkdir))' \
    -ex 'call (char *)strcpy($m->dir, "..")' \
    -ex 'call (int)proc_compose(PROC_PARENT, -1, IMSG_ST_MKDIR, 0, -1, $m, sizeof(struct st_mkdir))' \
    -ex 'call (int)imsgev_push(&st.env->parent)'
if wait_gone "$DSRVD_PID" 10 &&
    grep -q 'fatal in parent: storage\[0\] asked for directory "\.\."' \
    "$DSRVD_LOG"; then
	ok "a directory request for \"..\" stops the daemon, naming storage"
else
	notok "a directory request for \"..\" stops the daemon, naming storage"
	diagfile "$T/forge.out"
	diagfile "$DSRVD_LOG"
fi
drill_restart

# A file of .tmp passed as chunk ab/one: not at that name, not sealed.
forge_storage -ex 'set $s = (struct st_seal *)calloc(1, sizeof(struct st_seal))' \
    -ex 'call (char *)strcpy($s->name, "ab/one")' \
    -ex 'set $fd = (int)openat(st.tmp, "forged", 65, 384)' \
    -ex 'call (int)proc_compose(PROC_PARENT, -1, IMSG_ST_SEAL, 0, $fd, $s, sizeof(struct st_seal))' \
    -ex 'call (int)imsgev_push(&st.env->parent)'
check "a seal of a file not at the chunk's name is refused (log)" \
    wait_for_log "cannot make chunk ab/one immutable: another file is at its name"
check "... and the file is not immutable" not immutable "$DATA/.tmp/forged"
forge_storage -ex 'set $s = (struct st_seal *)calloc(1, sizeof(struct st_seal))' \
    -ex 'call (char *)strcpy($s->name, "../../etc/x")' \
    -ex 'set $fd = (int)openat(st.tmp, "forged2", 65, 384)' \
    -ex 'call (int)proc_compose(PROC_PARENT, -1, IMSG_ST_SEAL, 0, $fd, $s, sizeof(struct st_seal))' \
    -ex 'call (int)imsgev_push(&st.env->parent)'
check "a seal under a name outside the store is refused (log)" \
    wait_for_log "cannot make chunk \.\./\.\./etc/x immutable: not a chunk's name"
check "... and the file is not immutable" not immutable "$DATA/.tmp/forged2"
check "the daemon still serves" cdctl ping
stop_dsrvd

### a full file system

FULL=$T/full
mkdir -p "$FULL" && mount -t tmpfs -o size=2m,nr_inodes=64,mode=0755 tmpfs \
    "$FULL" || bail "cannot mount a tmpfs on $FULL"
add_mount "$FULL"
DATA=$FULL
sed -i "s|^data .*|data \"$FULL\"|" "$CONF"
start_dsrvd "$CONF" || bail "dsrvd did not start on the small tmpfs"
rand_file "$T/small" 1000
check "put fs/small" cdctl chunk put fs/small "$T/small"
stop_dsrvd
mkdir "$FULL/fill"
dd if=/dev/zero of="$FULL/fill/blocks" bs=64k 2>/dev/null
i=0
while touch "$FULL/fill/$i" 2>/dev/null; do
	i=$((i + 1))
done
check "the file system has no free inode" \
    [ "$(df --output=iavail "$FULL" | tail -n 1 | tr -d ' ')" -eq 0 ]
start_dsrvd "$CONF" || bail "dsrvd did not start on a full file system"
ok "dsrvd starts on a full file system"
rm -f "$T/got"
check "fs/small reads back" cdctl chunk get fs/small "$T/got"
check "... with its bytes" cmp "$T/small" "$T/got"
check "stat and df answer" cdctl chunk stat fs/small
cdctl chunk put fs/more "$T/small" >"$T/put.out" 2>&1
check "put into an existing directory: no space left" \
    grep -q "no space left" "$T/put.out"
cdctl chunk put nd/more "$T/small" >"$T/put.out" 2>&1
check "put into a new directory: no space left" \
    grep -q "no space left" "$T/put.out"
stop_dsrvd

finish
