#!/usr/bin/env bash
# Builds a busybox-static initramfs (cpio newc, gzip) for the Debian kernel:
# /init mounts proc/sys/dev, insmods virtio, virtio_ring, virtio_mmio and then
# the device modules (virtio_blk, virtio_net, vsock, virtio_balloon...), lists
# the virtio devices it found, prints EMBER-INITRAMFS-OK and ends the VM with a
# reboot (with `reboot=k` the kernel resets through the i8042 and ember exits 0).
# With `ember.shell=1` on the kernel command line it starts a shell on the
# console first (make run).
# Cached in $EMBER_CACHE/initramfs/<hash of busybox, modules, this script>.cpio.gz.
#   tools/mkinitramfs.sh [KERNEL_DIR]   (default: the output of fetch-debian-kernel.sh)
# Prints the path of the archive.
set -euo pipefail
. "$(dirname "$0")/common.sh"

kdir=${1:-$("$EMBER_ROOT/tools/fetch-debian-kernel.sh")}
[ -f "$kdir/modules.load" ] || die "$kdir: no modules.load (not a fetch-debian-kernel.sh directory)"
busybox=$(command -v busybox || true)
[ -n "$busybox" ] || die "busybox not found (apt-get install busybox-static)"
case "$(LC_ALL=C ldd "$busybox" 2>&1 || true)" in *"not a dynamic"*) ;; *) false ;; esac || die "$busybox is not static (install busybox-static)"

key=$( { cat "${BASH_SOURCE[0]}" "$busybox" "$kdir/release" "$kdir/modules.load"
	 while read -r m; do cat "$kdir/modules/$m.ko"; done <"$kdir/modules.load"; } |
	sha256sum | cut -c1-16)
out=$EMBER_CACHE/initramfs/$key.cpio.gz
if [ -f "$out" ]; then
	echo "$out"
	exit 0
fi
lock initramfs

t0=$(now_ms)
stage=$(mktemp -d "$EMBER_CACHE/.initramfs.XXXXXX")
trap 'rm -rf "$stage"' EXIT
mkdir -p "$stage"/{bin,sbin,dev,proc,sys,tmp,run,root,etc,lib/modules}
cp "$busybox" "$stage/bin/busybox"
for a in $("$busybox" --list); do
	[ "$a" = busybox ] || ln -s busybox "$stage/bin/$a"
done
while read -r m; do
	cp "$kdir/modules/$m.ko" "$stage/lib/modules/$m.ko"
done <"$kdir/modules.load"
cp "$kdir/modules.load" "$stage/lib/modules/modules.load"
# The kernel opens /dev/console for init before devtmpfs exists.
if [ "$(id -u)" -eq 0 ]; then
	mknod -m 600 "$stage/dev/console" c 5 1
fi
echo 'root:x:0:0:root:/root:/bin/sh' >"$stage/etc/passwd"
echo 'ember' >"$stage/etc/hostname"

cat >"$stage/init" <<'INIT'
#!/bin/sh
# ember initramfs (tools/mkinitramfs.sh)
export PATH=/bin:/sbin
mount -t devtmpfs devtmpfs /dev 2>/dev/null
exec </dev/console >/dev/console 2>&1
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t tmpfs tmpfs /tmp
mount -t tmpfs tmpfs /run
hostname -F /etc/hostname

echo "EMBER-INITRAMFS: user space up, kernel $(uname -r)"
while read -r m; do
	if insmod "/lib/modules/$m.ko"; then
		echo "EMBER-INITRAMFS: loaded $m"
	else
		echo "EMBER-INITRAMFS: FAILED to load $m"
	fi
done </lib/modules/modules.load
# Driver probing is asynchronous for some drivers: give it a moment to settle.
for i in 1 2 3 4 5 6 7 8 9 10; do
	[ -n "$(ls /sys/bus/virtio/devices 2>/dev/null)" ] && break
	sleep 0.1
done
for d in /sys/bus/virtio/devices/*; do
	[ -e "$d" ] || continue
	drv=$(basename "$(readlink "$d/driver" 2>/dev/null)" 2>/dev/null)
	echo "EMBER-INITRAMFS: $(basename "$d") device=$(cat "$d/device") driver=${drv:-none}"
done
for b in /sys/block/vd*; do
	[ -e "$b" ] && echo "EMBER-INITRAMFS: disk $(basename "$b") $(cat "$b/size") sectors"
done
echo "EMBER-INITRAMFS-OK"

if grep -qw 'ember.shell=1' /proc/cmdline; then
	echo "ember: shell on the console; 'exit' or Ctrl-D ends the VM"
	setsid cttyhack sh -l
fi
echo "EMBER-INITRAMFS: rebooting (ends the VM)"
sync
reboot -f
INIT
chmod 755 "$stage/init"
"$busybox" sh -n "$stage/init"

find "$stage" -exec touch -h -d @0 {} +
mkdir -p "${out%/*}"
(cd "$stage" && find . -mindepth 1 | LC_ALL=C sort |
	cpio -o -H newc -R 0:0 --reproducible --quiet) | gzip -9n >"$out.tmp"
mv "$out.tmp" "$out"
log "initramfs $(stat -c %s "$out") bytes in $(( $(now_ms) - t0 )) ms"
echo "$out"
