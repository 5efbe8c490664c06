#!/usr/bin/env bash
# Assembles the nested test layer (tests/nested/README.md) from Debian packages:
#   L1: Debian's cloud kernel (the same .deb tools/fetch-debian-kernel.sh caches)
#       with its kvm, kvm-amd, irqbypass, tun and loop modules, and an initramfs
#       holding busybox-static, ember with the shared objects ldd lists, e2fsprogs,
#       the static helper tests/nested/nt.c, the L2 images, tests/nested/l1-init.sh
#       and the runs' L1 parts tests/nested/runs/*.sh (in /nt/runs).
#   L2: the same kernel as bzImage, as ELF vmlinux (unpacked from the bzImage's
#       LZ4 payload) and as a UKI (tools/mkuki.sh); an initramfs with busybox, the
#       virtio modules (and virtio-rng, virtio-pmem with nd_pmem, virtio-mem), nt, tests/nested/l2-init.sh and the runs' L2 parts
#       tests/nested/l2/*.sh (in /nt/runs).
# Debian-derived pieces are cached in $EMBER_CACHE/nested/<kernel package_version>;
# the pieces that follow the work tree (ember, scripts, nt) are rebuilt into
# $BUILD/nested each time (a second or two).
#   tools/nested/build.sh [EMBER]   prints the output directory ($BUILD/nested)
set -euo pipefail
. "$(dirname "$0")/../common.sh"

BUILD=${BUILD:-build}
case $BUILD in /*) ;; *) BUILD=$EMBER_ROOT/$BUILD ;; esac
EMBER=${1:-$BUILD/ember}
[ -x "$EMBER" ] || die "$EMBER not built (make)"
out=$BUILD/nested
mkdir -p "$out"
t0=$(now_ms)
tmp="" stage=""
trap 'rm -rf "${tmp:-}" "${stage:-}"' EXIT

kdir=$("$EMBER_ROOT/tools/fetch-debian-kernel.sh")
kname=$(basename "$kdir") # linux-image-6.1.0-NN-cloud-amd64_VERSION
release=$(cat "$kdir/release")

# ---- cached, per kernel package: L1 modules and the ELF vmlinux ----
cache=$EMBER_CACHE/nested/$kname
if [ ! -f "$cache/.done" ]; then
	lock "nested-$kname"
	if [ ! -f "$cache/.done" ]; then
		deb=$(apt_download "$EMBER_CACHE/debs" "${kname%%_*}=${kname#*_}")
		tmp=$(mktemp -d "$EMBER_CACHE/.nested.XXXXXX")
		dpkg-deb -x "$deb" "$tmp/root"
		moddir=$tmp/root/lib/modules/$release
		rm -rf "$cache" && mkdir -p "$cache/l1-modules"
		# In load order, dependencies first (kvm-amd needs kvm needs irqbypass).
		for m in irqbypass kvm kvm-amd tun loop; do
			if grep -qE "/$m\.ko$" "$moddir/modules.builtin"; then
				continue
			fi
			f=$(find "$moddir" -name "$m.ko*" | head -n1)
			[ -n "$f" ] || die "module $m not in $deb"
			case $f in
			*.xz) xz -dc "$f" ;; *.zst) zstd -qdc "$f" ;; *.gz) gzip -dc "$f" ;; *) cat "$f" ;;
			esac >"$cache/l1-modules/$m.ko"
			echo "$m" >>"$cache/l1-modules/modules.load"
		done
		# ELF vmlinux: the bzImage's payload (setup header: payload_offset at
		# 0x248, payload_length at 0x24c, from the protected-mode code at
		# (setup_sects+1)*512), decompressed.
		python3 - "$kdir/vmlinuz" >"$tmp/payload" <<-'PY'
			import struct, sys
			d = open(sys.argv[1], "rb").read()
			setup = d[0x1f1] or 4
			off, length = struct.unpack_from("<II", d, 0x248)
			sys.stdout.buffer.write(d[(setup + 1) * 512 + off:][:length])
		PY
		case $(head -c4 "$tmp/payload" | od -An -tx1 | tr -d ' ') in
		02214c18) head -c -4 "$tmp/payload" | lz4 -dc >"$cache/vmlinux" ;; # + 4-byte size
		fd377a58) xz -dc <"$tmp/payload" >"$cache/vmlinux" 2>/dev/null || true ;;
		28b52ffd) zstd -qdc <"$tmp/payload" >"$cache/vmlinux" 2>/dev/null || true ;;
		1f8b*) gzip -dc <"$tmp/payload" >"$cache/vmlinux" 2>/dev/null || true ;;
		*) die "unknown bzImage payload compression" ;;
		esac
		[ "$(head -c4 "$cache/vmlinux" | od -An -tx1 | tr -d ' ')" = 7f454c46 ] ||
			die "bzImage payload did not decompress to an ELF"
		touch "$cache/.done"
		log "$kname: L1 modules and ELF vmlinux cached in $(($(now_ms) - t0)) ms"
	fi
fi

# ---- cached, per kernel package: L2 modules beyond the virtio set that
# tools/fetch-debian-kernel.sh extracts (virtio-rng, virtio-pmem with the nvdimm
# core and pmem block driver, virtio-mem: the `devices` run), in load order ----
if [ ! -f "$cache/l2-extra/.done" ]; then
	lock "nested-$kname-l2-extra"
	if [ ! -f "$cache/l2-extra/.done" ]; then
		if [ -z "$tmp" ] || [ ! -d "$tmp/root" ]; then
			deb=$(apt_download "$EMBER_CACHE/debs" "${kname%%_*}=${kname#*_}")
			tmp=$(mktemp -d "$EMBER_CACHE/.nested.XXXXXX")
			dpkg-deb -x "$deb" "$tmp/root"
		fi
		moddir=$tmp/root/lib/modules/$release
		rm -rf "$cache/l2-extra" && mkdir -p "$cache/l2-extra"
		for m in libnvdimm nd_btt nd_pmem nd_virtio virtio_pmem virtio_mem virtio-rng; do
			grep -qE "/$m\.ko$" "$moddir/modules.builtin" && continue
			f=$(find "$moddir" -name "$m.ko*" | head -n1)
			[ -n "$f" ] || die "module $m not in the kernel package"
			case $f in
			*.xz) xz -dc "$f" ;; *.zst) zstd -qdc "$f" ;; *.gz) gzip -dc "$f" ;; *) cat "$f" ;;
			esac >"$cache/l2-extra/$m.ko"
			echo "$m" >>"$cache/l2-extra/modules.load"
		done
		touch "$cache/l2-extra/.done"
	fi
fi

# ---- the static helper ----
nt=$out/nt
if [ ! -x "$nt" ] || [ "$EMBER_ROOT/tests/nested/nt.c" -nt "$nt" ]; then
	gcc -std=gnu11 -O2 -Wall -Wextra -Werror -Wno-unused-parameter -static \
		-o "$nt" "$EMBER_ROOT/tests/nested/nt.c"
fi

busybox=$(command -v busybox) || die "busybox not found (make setup)"

# stage_busybox DIR: busybox and its applet links
stage_busybox() {
	mkdir -p "$1"/{bin,sbin,dev,proc,sys,tmp,run,root,etc,mnt,lib/modules}
	cp "$busybox" "$1/bin/busybox"
	for a in $("$busybox" --list); do
		[ "$a" = busybox ] || ln -sf busybox "$1/bin/$a"
	done
	echo 'root:x:0:0:root:/root:/bin/sh' >"$1/etc/passwd"
	echo 'root:x:0:' >"$1/etc/group"
	echo 'nt:x:1000:1000::/tmp:/bin/sh' >>"$1/etc/passwd"
	echo 'nt:x:1000:' >>"$1/etc/group"
}
# pack DIR OUT [gzip]: newc cpio, reproducible
pack() {
	find "$1" -exec touch -h -d @0 {} +
	(cd "$1" && find . -mindepth 1 | LC_ALL=C sort |
		cpio -o -H newc -R 0:0 --reproducible --quiet) |
		if [ "${3:-}" = gzip ]; then gzip -6n; else cat; fi >"$2.tmp"
	mv "$2.tmp" "$2"
}
# copy_with_libs DIR BINARY...: binaries at their own paths plus what ldd lists
copy_with_libs() {
	local d=$1 b l
	shift
	for b in "$@"; do
		mkdir -p "$d$(dirname "$b")"
		cp -L "$b" "$d$b"
		for l in $(ldd "$b" 2>/dev/null | grep -o '/[^ ]*'); do
			[ -e "$d$l" ] && continue
			mkdir -p "$d$(dirname "$l")"
			cp -L "$l" "$d$l"
		done
	done
}

# ---- L2 initramfs ----
stage=$(mktemp -d "$EMBER_CACHE/.nested-stage.XXXXXX")
l2=$stage/l2
stage_busybox "$l2"
while read -r m; do
	cp "$kdir/modules/$m.ko" "$l2/lib/modules/"
done <"$kdir/modules.load"
cp "$kdir/modules.load" "$l2/lib/modules/"
cp "$cache/l2-extra/"*.ko "$l2/lib/modules/"
cat "$cache/l2-extra/modules.load" >>"$l2/lib/modules/modules.load"
cp "$nt" "$l2/bin/nt"
cp "$EMBER_ROOT/tests/nested/l2-init.sh" "$l2/init"
chmod 755 "$l2/init"
"$busybox" sh -n "$l2/init"
# stage_runs FROM DIR: the runs' parts (sourced by the init scripts) into DIR/nt/runs
stage_runs() {
	local f
	mkdir -p "$2/nt/runs"
	for f in "$1"/*.sh; do
		[ -e "$f" ] || continue
		"$busybox" sh -n "$f" || die "syntax error in $f"
		cp "$f" "$2/nt/runs/"
	done
}
stage_runs "$EMBER_ROOT/tests/nested/l2" "$l2"
echo ember-l2 >"$l2/etc/hostname"
pack "$l2" "$out/l2-initrd.cpio.gz" gzip

# ---- L1 initramfs ----
l1=$stage/l1
stage_busybox "$l1"
cp "$cache/l1-modules/"* "$l1/lib/modules/"
copy_with_libs "$l1" "$(readlink -f "$EMBER")" "$(readlink -f "$(command -v mke2fs)")" \
	"$(readlink -f "$(command -v e2fsck)")" "$(readlink -f "$(command -v debugfs)")"
mv "$l1$(readlink -f "$EMBER")" "$l1/bin/ember"
# passt for the passt run (ember starts it: --net passt)
passt=$(command -v passt) || die "passt not found (make setup installs it)"
copy_with_libs "$l1" "$(readlink -f "$passt")"
[ -e "$l1/usr/bin/passt" ] || { mkdir -p "$l1/usr/bin" && mv "$l1$(readlink -f "$passt")" "$l1/usr/bin/passt"; }
# L2's kernel modules as a Debian system keeps them (/lib/modules/RELEASE with
# modules.dep; L1 runs the same kernel): `ember run -- CMD` in the oneshot run
# finds the modules of its devices there (vsock: CMD's stdin from a pipe)
mt=$l1/lib/modules/$release
mkdir -p "$mt/kernel"
while read -r m; do
	cp "$kdir/modules/$m.ko" "$mt/kernel/"
done <"$kdir/modules.load"
python3 - "$mt" <<-'PY'
	import os, re, sys
	mt = sys.argv[1]
	with open(os.path.join(mt, "modules.dep"), "w") as dep:
	    for f in sorted(os.listdir(os.path.join(mt, "kernel"))):
	        d = open(os.path.join(mt, "kernel", f), "rb").read()
	        m = re.search(rb"(?:^|\0)depends=([^\0]*)\0", d)
	        names = [n for n in (m.group(1).decode().split(",") if m else []) if n]
	        dep.write("kernel/%s:%s\n" % (f, "".join(" kernel/%s.ko" % n for n in names)))
PY
# a dynamically linked program for the oneshot run (ember finds its libraries)
gcc -std=gnu11 -O2 -Wall -Wextra -Werror -o "$out/nt-dyn" "$EMBER_ROOT/tests/nested/nt-dyn.c"
copy_with_libs "$l1" "$out/nt-dyn"
mkdir -p "$l1/usr/local/bin"
mv "$l1$out/nt-dyn" "$l1/usr/local/bin/nt-dyn"
# Debian's QEMU for the vmmbench run (ember next to -M microvm), when asked:
# the binary, what ldd lists and the firmware microvm loads (qboot)
if [ "${NESTED_QEMU:-0}" = 1 ]; then
	copy_with_libs "$l1" "$(readlink -f "$(command -v qemu-system-x86_64)")"
	mkdir -p "$l1/usr/share/qemu"
	for f in bios-microvm.bin kvmvapic.bin linuxboot_dma.bin; do
		cp -L "/usr/share/qemu/$f" "$l1/usr/share/qemu/$f"
	done
fi
# e2fsprogs look for their config and mtab
cp /etc/mke2fs.conf "$l1/etc/mke2fs.conf"
ln -sf /proc/mounts "$l1/etc/mtab"
cp "$nt" "$l1/bin/nt"
cp "$EMBER_ROOT/tests/nested/l1-init.sh" "$l1/init"
chmod 755 "$l1/init"
"$busybox" sh -n "$l1/init"
stage_runs "$EMBER_ROOT/tests/nested/runs" "$l1"
mkdir -p "$l1/l2"
cp "$kdir/vmlinuz" "$l1/l2/vmlinuz"
cp "$cache/vmlinux" "$l1/l2/vmlinux"
cp "$out/l2-initrd.cpio.gz" "$l1/l2/initrd"
# ember's minimal kernel (tools/build-guest-kernel.sh) for the minimal run, when given
[ -z "${NESTED_GUEST_KERNEL:-}" ] || cp "$NESTED_GUEST_KERNEL" "$l1/l2/minimal-vmlinux"
# The UKI carries its own command line; l1-init.sh boots it as given.
"$EMBER_ROOT/tools/mkuki.sh" -o "$l1/l2/uki.efi" -k "$kdir/vmlinuz" -i "$out/l2-initrd.cpio.gz" \
	-c "console=ttyS0 reboot=k panic=1 quiet nt.run=uki" >/dev/null
cp "$EMBER_ROOT/tests/nested/checks.list" "$l1/etc/nt-checks.list"
echo "$release" >"$l1/etc/nt-kernel"
pack "$l1" "$out/l1-initrd.cpio"
cp "$kdir/vmlinuz" "$out/l1-vmlinuz"
log "L1 initramfs $(($(stat -c %s "$out/l1-initrd.cpio") >> 20)) MiB, L2 initramfs $(($(stat -c %s "$out/l2-initrd.cpio.gz") >> 10)) KiB, kernel $release, in $(($(now_ms) - t0)) ms"
echo "$out"
