#!/usr/bin/env bash
# Fetches Debian's current cloud kernel without installing it: resolves the
# linux-image-cloud-amd64 metapackage to the real linux-image-6.1.0-NN-cloud-amd64,
# `apt-get download`s it and extracts the bzImage and the virtio/vsock modules
# (plus their dependencies, decompressed to plain .ko so busybox insmod can load
# them whatever its build supports).
# Prints the cache directory, which holds:
#   vmlinuz        the bzImage           config        the kernel's .config
#   release        `uname -r` string     modules/*.ko  the modules
#   modules.load   module names in load order (dependencies first)
#   tools/fetch-debian-kernel.sh [--force]
set -euo pipefail
. "$(dirname "$0")/common.sh"

META=linux-image-cloud-amd64
# Wanted in this order (virtio core and transport first); dependencies are added.
WANT=(virtio virtio_ring virtio_mmio virtio_blk virtio_net
      vsock vmw_vsock_virtio_transport_common vmw_vsock_virtio_transport virtio_balloon)
force=0
[ "${1:-}" = "--force" ] && force=1

pkg="" ver=""
dep=$(apt_show_field "$META" Depends)
if [ -n "$dep" ]; then
	# e.g. "linux-image-6.1.0-56-cloud-amd64 (= 6.1.192-2)"
	pkg=$(echo "$dep" | tr ',' '\n' | grep -o 'linux-image-[0-9][^ ]*-cloud-amd64' | head -n1)
	ver=$(apt_candidate "$pkg")
fi
if [ -z "$pkg" ] || [ -z "$ver" ]; then
	# apt has no lists: use the newest kernel already in the cache.
	last=$(ls -d "$EMBER_CACHE"/debian-kernel/*/ 2>/dev/null | sort -V | tail -n1 || true)
	[ -n "$last" ] && [ -f "$last/.done" ] || die "cannot resolve $META (run apt-get update)"
	log "apt cannot resolve $META; using cached $(basename "$last")"
	echo "${last%/}"
	exit 0
fi

out=$EMBER_CACHE/debian-kernel/${pkg}_$ver
if [ $force -eq 0 ] && [ -f "$out/.done" ]; then
	echo "$out"
	exit 0
fi
lock debian-kernel
if [ $force -eq 0 ] && [ -f "$out/.done" ]; then
	echo "$out"
	exit 0
fi

t0=$(now_ms)
deb=$(apt_download "$EMBER_CACHE/debs" "$pkg=$ver")
tmp=$(mktemp -d "$EMBER_CACHE/.x.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
dpkg-deb -x "$deb" "$tmp/root"
vmlinuz=$(ls "$tmp"/root/boot/vmlinuz-* | head -n1)
release=${vmlinuz##*/vmlinuz-}
moddir=$tmp/root/lib/modules/$release
[ -d "$moddir" ] || die "no modules for $release in $deb"

rm -rf "$out" && mkdir -p "$out/modules"
cp "$vmlinuz" "$out/vmlinuz"
cp "$tmp/root/boot/config-$release" "$out/config"
echo "$release" >"$out/release"

# Find a module by name ('-' and '_' are the same to modprobe).
find_mod() {
	local n=$1 alt
	alt=$(echo "$n" | tr '_-' '-_')
	find "$moddir" -regextype posix-extended \
		-regex ".*/($n|$alt)\.ko(\.(xz|zst|gz))?" | head -n1
}
# Copy one module to $out/modules/NAME.ko, decompressed.
put_mod() {
	local src=$1 name=$2
	case "$src" in
	*.ko.xz) xz -dc "$src" >"$out/modules/$name.ko" ;;
	*.ko.zst) zstd -qdc "$src" >"$out/modules/$name.ko" ;;
	*.ko.gz) gzip -dc "$src" >"$out/modules/$name.ko" ;;
	*) cp "$src" "$out/modules/$name.ko" ;;
	esac
}
# The module's own dependency list, from its .modinfo section.
mod_deps() {
	objcopy -O binary --only-section=.modinfo "$1" "$tmp/modinfo"
	tr '\0' '\n' <"$tmp/modinfo" | sed -n 's/^depends=//p' | tr ',' ' '
}

declare -A seen=()
order=()
add() { # depth-first: dependencies land before the module
	local name=$1 f d
	[ -n "${seen[$name]:-}" ] && return 0
	seen[$name]=1
	if grep -qE "/$name\.ko$" "$moddir/modules.builtin" 2>/dev/null; then
		return 0 # built into this kernel
	fi
	f=$(find_mod "$name")
	[ -n "$f" ] || die "module $name not found in $pkg"
	put_mod "$f" "$name"
	for d in $(mod_deps "$out/modules/$name.ko"); do
		add "$d"
	done
	order+=("$name")
}
for m in "${WANT[@]}"; do
	add "$m"
done
printf '%s\n' "${order[@]}" >"$out/modules.load"
touch "$out/.done"
log "$pkg $ver: vmlinuz $(stat -c %s "$out/vmlinuz") bytes, ${#order[@]} modules ($(echo "${order[@]}")) in $(( $(now_ms) - t0 )) ms"
echo "$out"
