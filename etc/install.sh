#!/bin/sh
#
# Install dsrvd: sh etc/install.sh DESTDIR SBINDIR MANDIR SYSCONFDIR
# (run by "make install").  With an empty DESTDIR and as root it also
# creates the users and directories dsrvd needs on this machine; with a
# DESTDIR it only fills the staging tree, for packagers.

set -eu

if [ $# -ne 4 ]; then
	echo "usage: sh etc/install.sh DESTDIR SBINDIR MANDIR SYSCONFDIR" >&2
	exit 2
fi

destdir=$1
sbindir=${2%/}
mandir=${3%/}
sysconfdir=${4%/}

case "$sbindir" in
/*)	;;
*)	echo "install.sh: SBINDIR must be absolute: $sbindir" >&2; exit 1 ;;
esac
case "$mandir" in
/*)	;;
*)	echo "install.sh: MANDIR must be absolute: $mandir" >&2; exit 1 ;;
esac

# The examples go next to sbin: /usr/local/sbin -> /usr/local/share/...
prefix=${sbindir%/*}
exampledir=$prefix/share/examples/dsrvd

top=$(cd "$(dirname "$0")/.." && pwd)

for f in dsrvd/dsrvd dctl/dctl; do
	if [ ! -x "$top/$f" ]; then
		echo "install.sh: $top/$f not built; run make first" >&2
		exit 1
	fi
done

umask 022

tmp=$(mktemp)
trap 'rm -f "$tmp"' EXIT

# install(1) with a mode; the installed file replaces the old one.
inst()
{
	echo "install -m $1 ${4:-$2} $3"
	install -m "$1" "$2" "$3"
}

# Example rc scripts name the default sbin directory; point them at the
# one actually used.
inst_example()
{
	sed "s|/usr/local/sbin|$sbindir|g" "$top/$2" >"$tmp"
	inst "$1" "$tmp" "$destdir$exampledir/$3" "$2"
}

install -d -m 755 "$destdir$sbindir" "$destdir$mandir/man5" \
    "$destdir$mandir/man8" "$destdir$exampledir/rc.d" \
    "$destdir$exampledir/init.d"

inst 555 "$top/dsrvd/dsrvd" "$destdir$sbindir/dsrvd"
inst 555 "$top/dctl/dctl" "$destdir$sbindir/dctl"
inst 444 "$top/man/dsrvd.8" "$destdir$mandir/man8/dsrvd.8"
inst 444 "$top/man/dctl.8" "$destdir$mandir/man8/dctl.8"
inst 444 "$top/man/dsrvd.conf.5" "$destdir$mandir/man5/dsrvd.conf.5"
inst 444 "$top/man/dsrv-protocol.5" "$destdir$mandir/man5/dsrv-protocol.5"
inst 444 "$top/man/dsrv-file.5" "$destdir$mandir/man5/dsrv-file.5"
inst 444 "$top/etc/dsrvd.conf" "$destdir$exampledir/dsrvd.conf"
inst_example 555 etc/rc.d/dsrvd rc.d/dsrvd
inst_example 555 etc/init.d/dsrvd init.d/dsrvd
inst_example 444 etc/dsrvd.service dsrvd.service

if [ -n "$destdir" ]; then
	exit 0
fi

if [ "$(id -u)" -ne 0 ]; then
	echo "install.sh: not root: users _dsrvd, _dsrvdata and" \
	    "_dsrvcrypto and the directories /var/empty and /var/dsrvd" \
	    "were not created" >&2
	exit 0
fi

nologin=/usr/sbin/nologin
[ -x "$nologin" ] || nologin=/sbin/nologin

# Three users, so that the network processes can touch neither stored
# files nor the process that holds the keys.
for u in _dsrvd _dsrvdata _dsrvcrypto; do
	if id -u "$u" >/dev/null 2>&1; then
		continue
	fi
	echo "useradd -r -M -s $nologin -d /var/empty $u"
	useradd -r -M -s "$nologin" -d /var/empty "$u"
done

# The chroot of the network and crypto processes: dsrvd refuses one that
# someone other than root could write to.
if [ ! -d /var/empty ]; then
	echo "install -d -m 755 -o root /var/empty"
	install -d -m 755 -o root -g 0 /var/empty
fi

if [ ! -d /var/dsrvd ]; then
	echo "install -d -m 750 -o root -g _dsrvdata /var/dsrvd"
	install -d -m 750 -o root -g "$(id -g _dsrvdata)" /var/dsrvd
fi

if [ ! -e "$sysconfdir/dsrvd.conf" ]; then
	echo "No $sysconfdir/dsrvd.conf: dsrvd uses its built-in defaults" \
	    "(listen on 127.0.0.1 and ::1 port 7481)."
	echo "An example is in $exampledir/dsrvd.conf; see dsrvd.conf(5)."
fi
