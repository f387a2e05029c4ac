#!/bin/sh
# Install the Debian packages dsrvd needs to build and to run its tests.
# Quiet when everything is there; as root it installs what is missing,
# otherwise it prints the apt-get command and fails.

PATH=$PATH:/usr/local/sbin:/usr/sbin:/sbin
export PATH

missing=

need() {
	case " $missing " in
	*" $1 "*) ;;
	*) missing="${missing:+$missing }$1" ;;
	esac
}

have() {
	command -v "$1" >/dev/null 2>&1
}

installed() {
	dpkg-query -W -f='${Status}\n' "$1" 2>/dev/null |
	    grep -q 'install ok installed'
}

# A tool is enough when it is on PATH, whichever package brought it.
tool() {
	pkg=$1
	shift
	for t in "$@"; do
		have "$t" && return 0
	done
	need "$pkg"
}

# A library counts as present when pkg-config can find it; without
# pkg-config fall back to asking dpkg about the -dev package.
lib() {
	pkg=$1
	pc=$2
	if have pkg-config; then
		pkg-config --exists "$pc" 2>/dev/null || need "$pkg"
	else
		installed "$pkg" || need "$pkg"
	fi
}

if ! have cc && ! have gcc; then
	need build-essential
elif ! have make; then
	need make
fi
# A compiler without libc headers cannot build anything.
[ -e /usr/include/stdio.h ] || need build-essential
tool pkg-config pkg-config
tool bison bison byacc
lib libevent-dev libevent
lib libsodium-dev libsodium
lib libprotobuf-c-dev libprotobuf-c
tool protobuf-c-compiler protoc-c protoc-gen-c
lib zlib1g-dev zlib
lib libbsd-dev libbsd-overlay
lib libseccomp-dev libseccomp
tool mandoc mandoc
tool e2fsprogs chattr
tool e2fsprogs lsattr
tool attr setfattr
tool util-linux mountpoint
tool util-linux setpriv
tool gdb gdb
tool iproute2 ss
tool procps ps
tool clang clang
tool passwd useradd
tool passwd groupadd
# t/restic.sh: the real restic in front of dctl serve restic; make
# bench: rclone serve restic as the gateway's nearest peer.
tool restic restic
tool rclone rclone
tool curl curl

[ -z "$missing" ] && exit 0

if [ "$(id -u)" -ne 0 ]; then
	echo "missing build dependencies: $missing" >&2
	echo "run as root:" >&2
	echo "  apt-get update && apt-get install -y" \
	    "--no-install-recommends $missing" >&2
	exit 1
fi

echo "installing missing build dependencies: $missing"
apt-get update || exit 1
# $missing is a list of package names: split it on purpose.
# shellcheck disable=SC2086
DEBIAN_FRONTEND=noninteractive apt-get install -y \
    --no-install-recommends $missing || exit 1
