#!/usr/bin/env bash
# Installs every Debian package ember's build, tests and `make run` need,
# only when something is missing. Called by the Makefile (make setup).
#   tools/setup.sh                    the host's build and tests
#   tools/setup.sh --aarch64 SYSROOT  the arm64 cross build (make ARCH=aarch64):
#     gcc-aarch64-linux-gnu and the arm64 -dev packages (multiarch); libfdt-dev
#     is not multi-arch, so its arm64 archive is unpacked into SYSROOT instead;
#     qemu-system-arm for make nested-aarch64.
set -euo pipefail
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
export DEBIAN_FRONTEND=noninteractive

install_missing() {
	local missing=() p
	for p in "$@"; do
		dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
	done
	[ ${#missing[@]} -eq 0 ] && return 0
	echo "setup: installing ${missing[*]}"
	$SUDO apt-get update -qq || true
	$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

if [ "${1:-}" = "--aarch64" ]; then
	sysroot=${2:?usage: setup.sh --aarch64 SYSROOT}
	if ! dpkg --print-foreign-architectures | grep -qx arm64; then
		$SUDO dpkg --add-architecture arm64
		$SUDO apt-get update -qq || true
	fi
	install_missing gcc-aarch64-linux-gnu libc6-dev-arm64-cross libseccomp-dev:arm64 \
		libcjson-dev:arm64 libcap-ng-dev:arm64 nettle-dev:arm64 zlib1g-dev:arm64 liburing-dev:arm64 libfdt-dev qemu-system-arm
	if [ ! -f "$sysroot/usr/lib/aarch64-linux-gnu/libfdt.a" ]; then
		. "$(dirname "$0")/common.sh"
		debs=$EMBER_CACHE/debs
		deb=$(ls "$debs"/libfdt-dev_*_arm64.deb 2>/dev/null | tail -n1 || true)
		if [ -z "$deb" ]; then
			tmp=$(mktemp -d "$EMBER_CACHE/.dl.XXXXXX")
			dl=(apt-get download -q)
			[ "$(id -u)" -ne 0 ] || dl+=(-o APT::Sandbox::User=root)
			(cd "$tmp" && "${dl[@]}" libfdt-dev:arm64 >&2)
			mkdir -p "$debs"
			mv "$tmp"/libfdt-dev_*_arm64.deb "$debs/"
			rm -rf "$tmp"
			deb=$(ls "$debs"/libfdt-dev_*_arm64.deb | tail -n1)
		fi
		mkdir -p "$sysroot"
		dpkg-deb -x "$deb" "$sysroot"
	fi
	exit 0
fi

PKGS=(
  gcc make clang libclang-rt-dev
  libseccomp-dev libfdt-dev libcjson-dev libcap-ng-dev libcmocka-dev nettle-dev liburing-dev
  zlib1g-dev liblzma-dev liblz4-dev libzstd-dev
  busybox-static cpio e2fsprogs fdisk acpica-tools
  python3 python3-yaml python3-jsonschema curl socat iproute2 valgrind
  bc flex bison libelf-dev xz-utils patch
  systemd-boot-efi binutils
  qemu-system-x86 lz4 device-tree-compiler
  passt
  musl-tools gperf
)
install_missing "${PKGS[@]}"
