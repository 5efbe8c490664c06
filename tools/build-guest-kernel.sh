#!/usr/bin/env bash
# Builds ember's minimal guest kernel (an ELF vmlinux) from Debian's
# linux-source-6.1: `make tinyconfig` + firmware/linux/ember-guest.config.
# Cached in $EMBER_CACHE/guest-kernel/<hash of fragment + source version>/;
# a warm cache costs one apt-cache query. Prints the vmlinux path.
#   tools/build-guest-kernel.sh [--force]
#   tools/build-guest-kernel.sh --while CMD [ARG...]
#     (make test) builds in the background, at nice 19, while CMD runs, and
#     exports EMBER_GUEST_KERNEL_BG=DIR for `--wait`; a build still running
#     when CMD ends is killed. Exits with CMD's status.
#   tools/build-guest-kernel.sh --wait
#     (tools/nested/run.sh) waits for that background build and prints the
#     vmlinux path, or fails with the build's exit status and its log's tail;
#     without EMBER_GUEST_KERNEL_BG it builds as above.
set -euo pipefail
. "$(dirname "$0")/common.sh"

FRAG=$EMBER_ROOT/firmware/linux/ember-guest.config
SRCPKG=linux-source-6.1
force=0
case "${1:-}" in
--force) force=1 ;;
--while)
	shift
	[ $# -gt 0 ] || die "--while needs a command"
	bg=$(mktemp -d "${TMPDIR:-/tmp}/ember-guest-kernel.XXXXXX")
	# The build holds an exclusive lock on $bg/lock until its last process
	# (make, gcc) has ended: --wait blocks on it, no polling.
	exec {lockfd}>"$bg/lock"
	flock "$lockfd"
	# Only this shell holds $bg/alive open for writing (CMD does not inherit
	# it): when it ends, however it ends (even SIGKILL), the build's watcher
	# reads EOF and kills the build's session.
	mkfifo "$bg/alive"
	exec {alivefd}<>"$bg/alive"
	setsid bash -c 'bg=$1 t0=$(date +%s%3N)
		{ rc=0; nice -n 19 "$0" >"$bg/out" 2>"$bg/log" || rc=$?
		  echo "$rc $(( $(date +%s%3N) - t0 ))" >"$bg/status"; } &
		b=$!
		{ read -r _ <"$bg/alive"; kill -TERM 0; } &
		w=$!
		wait $b
		kill $w' "$0" "$bg" {alivefd}>&- </dev/null >/dev/null 2>&1 &
	exec {lockfd}>&-
	trap '[ -f "$bg/status" ] || log "stopping the background guest kernel build (not finished)"; rm -rf "$bg"' EXIT
	log "building ember's minimal guest kernel in the background (nice 19; log: $bg/log)"
	export EMBER_GUEST_KERNEL_BG=$bg
	rc=0
	"$@" {alivefd}>&- || rc=$?
	exit $rc
	;;
--wait)
	if [ -n "${EMBER_GUEST_KERNEL_BG:-}" ]; then
		bg=$EMBER_GUEST_KERNEL_BG
		t0=$(now_ms)
		flock "$bg/lock" true
		waited=$(( $(now_ms) - t0 ))
		read -r rc ms <"$bg/status" 2>/dev/null || { rc=? ms=0; }
		if [ "$rc" != 0 ]; then
			sed 's/^/  | /' "$bg/log" | tail -n 25 >&2
			die "ember's minimal guest kernel: the background build failed (exit status $rc after $((ms / 1000)) s; the end of its log is above)"
		fi
		log "guest kernel from the background build ($((ms / 1000)) s): waited $((waited / 1000)).$((waited % 1000 / 100)) s for it"
		cat "$bg/out"
		exit 0
	fi
	;;
esac

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
	t_dl=$(( $(now_ms) - t0 ))
	rm -rf "$srcroot" && mkdir -p "$srcroot"
	# Streamed from the .deb (no copy of the 140 MB tarball on disk), without
	# what no x86 vmlinux build reads: AMD GPU register headers (380 MB of the
	# 1.5 GB tree), documentation, device trees, perf and selftests (about a
	# third of the tree's bytes less to write; Kconfig and Makefiles stay).
	log "unpacking $SRCPKG.tar.xz"
	dpkg-deb --fsys-tarfile "$deb" | tar -xOf - "./usr/src/$SRCPKG.tar.xz" | xz -dc |
		tar -C "$srcroot" -xf - \
			--exclude="$SRCPKG/drivers/gpu/drm/amd/include" \
			--exclude="$SRCPKG/Documentation/*/*" \
			--exclude="$SRCPKG/arch/*/boot/dts" \
			--exclude="$SRCPKG/tools/perf" --exclude="$SRCPKG/tools/testing"
	[ -f "$src/Makefile" ] || die "unexpected layout in $deb"
	touch "$srcroot/.unpacked"
	rm -f "$deb" # 140 MB; the unpacked tree is what the cache keeps
	log "source $SRCPKG $ver ready in $(( ($(now_ms) - t0) / 1000 )) s (download $((t_dl / 1000)) s)"
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
