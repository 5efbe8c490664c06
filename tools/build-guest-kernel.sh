#!/usr/bin/env bash
# Builds ember's minimal guest kernel (an ELF vmlinux) from Debian's
# linux-source-6.1: `make tinyconfig` + firmware/linux/ember-guest.config.
# Cached in $EMBER_CACHE/guest-kernel/<hash of fragment + source version>/;
# a warm cache costs one apt-cache query. Prints the vmlinux path.
#   tools/build-guest-kernel.sh [--force]
set -euo pipefail
. "$(dirname "$0")/common.sh"

FRAG=$EMBER_ROOT/firmware/linux/ember-guest.config
SRCPKG=linux-source-6.1
force=0
[ "${1:-}" = "--force" ] && force=1

ver=$(apt_candidate "$SRCPKG")
if [ -z "$ver" ]; then
	# No package lists: use the newest source already unpacked, if any.
	ver=$(ls -d "$EMBER_CACHE"/src/"$SRCPKG"_* 2>/dev/null | sed 's/.*_//' | sort -V | tail -n1 || true)
	[ -n "$ver" ] || die "apt knows no $SRCPKG (run apt-get update)"
fi
key=$( { cat "$FRAG"; echo "$SRCPKG=$ver"; } | sha256sum | cut -c1-16)
out=$EMBER_CACHE/guest-kernel/$key
if [ $force -eq 0 ] && [ -f "$out/vmlinux" ]; then
	echo "$out/vmlinux"
	exit 0
fi

lock guest-kernel
if [ $force -eq 0 ] && [ -f "$out/vmlinux" ]; then
	echo "$out/vmlinux"
	exit 0
fi

# 1. Source: download the package (no install) and unpack its tarball once.
srcroot=$EMBER_CACHE/src/${SRCPKG}_$ver
src=$srcroot/$SRCPKG
if [ ! -f "$srcroot/.unpacked" ]; then
	t0=$(now_ms)
	deb=$(apt_download "$EMBER_CACHE/debs" "$SRCPKG=$ver")
	rm -rf "$srcroot" && mkdir -p "$srcroot/deb"
	dpkg-deb -x "$deb" "$srcroot/deb"
	tarball=$(ls "$srcroot"/deb/usr/src/"$SRCPKG".tar.* | head -n1)
	log "unpacking $(basename "$tarball")"
	tar -C "$srcroot" -xf "$tarball"
	rm -rf "$srcroot/deb"
	[ -f "$src/Makefile" ] || die "unexpected layout in $tarball"
	touch "$srcroot/.unpacked"
	rm -f "$deb" # 140 MB; the unpacked tree is what the cache keeps
	log "source $SRCPKG $ver ready in $(( ($(now_ms) - t0) / 1000 )) s"
fi

# 2. Configure out of tree (one object dir per source version, so a changed
#    fragment rebuilds incrementally).
obj=$EMBER_CACHE/guest-kernel/obj-$ver
mkdir -p "$obj"
t0=$(now_ms)
make -s -C "$src" O="$obj" tinyconfig >&2
"$src/scripts/kconfig/merge_config.sh" -m -O "$obj" "$obj/.config" "$FRAG" >/dev/null
make -s -C "$src" O="$obj" olddefconfig >&2
t_cfg=$(( $(now_ms) - t0 ))

# Every option in the fragment must have survived olddefconfig.
bad=0
while IFS= read -r line; do
	case "$line" in
	CONFIG_*=*) want=$line ;;
	"# CONFIG_"*" is not set") want=$line ;;
	*) continue ;;
	esac
	opt=$(echo "$want" | grep -o 'CONFIG_[A-Za-z0-9_]*')
	have=$(grep -E "^(# )?$opt[= ]" "$obj/.config" || echo "# $opt is not set")
	if [ "$have" != "$want" ]; then
		log "config: wanted '$want', got '$have'"
		bad=1
	fi
done <"$FRAG"
[ $bad -eq 0 ] || die "fragment options did not apply (missing dependency?)"

# 3. Build.
jobs=$(nproc)
log "building vmlinux ($SRCPKG $ver, -j$jobs) in $obj"
t0=$(now_ms)
nice -n 10 make -s -C "$src" O="$obj" -j"$jobs" vmlinux >&2
t_build=$(( $(now_ms) - t0 ))

mkdir -p "$out"
cp "$obj/vmlinux" "$out/vmlinux.tmp"
mv "$out/vmlinux.tmp" "$out/vmlinux"
cp "$obj/.config" "$out/config"
cp "$obj/System.map" "$out/System.map"
printf 'source=%s %s\nconfigure_ms=%d\nbuild_ms=%d\njobs=%d\nvmlinux_bytes=%d\n' \
	"$SRCPKG" "$ver" "$t_cfg" "$t_build" "$jobs" "$(stat -c %s "$out/vmlinux")" >"$out/build-info"
log "vmlinux built: configure $((t_cfg / 1000)) s, make $((t_build / 1000)) s"
echo "$out/vmlinux"
