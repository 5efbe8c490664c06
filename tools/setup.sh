#!/usr/bin/env bash
# Installs every Debian package ember's build, tests and `make run` need,
# only when something is missing. Called by the Makefile (make setup).
set -euo pipefail
PKGS=(
  gcc make clang libclang-rt-dev
  libseccomp-dev libfdt-dev libcjson-dev libcap-ng-dev libcmocka-dev libssl-dev
  zlib1g-dev liblzma-dev liblz4-dev libzstd-dev
  busybox-static cpio e2fsprogs fdisk acpica-tools
  python3 python3-yaml python3-jsonschema curl socat iproute2 valgrind
  bc flex bison libelf-dev xz-utils
  systemd-boot-efi binutils
  qemu-system-x86 lz4
  passt
)
missing=()
for p in "${PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi
echo "setup: installing ${missing[*]}"
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq || true
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
