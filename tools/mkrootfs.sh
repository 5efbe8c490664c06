#!/usr/bin/env bash
# Builds a busybox-static root file system as ext4 with `mke2fs -d` (no root
# privileges, no loop devices):
#   tools/mkrootfs.sh                 a bare ext4 image (the whole disk is the fs)
#   tools/mkrootfs.sh --partitioned   an MBR disk with one Linux partition holding
#                                     the ext4 fs (vda: vda1, root=/dev/vda1)
# /sbin/init prints EMBER-ROOTFS-OK and reboots (with `reboot=k`, a reset through
# the i8042: ember exits 0); `ember.shell=1` on the command line gives a shell first.
# Cached in $EMBER_CACHE/rootfs/ by a hash of busybox and this script. The images
# are shared: copy one before attaching it read-write. Prints the image path.
set -euo pipefail
. "$(dirname "$0")/common.sh"

SIZE_MIB=64        # whole image
PART_START=2048    # sectors: partition 1 starts at 1 MiB
mode=bare
case "${1:-}" in
"") ;;
--partitioned) mode=part ;;
*) die "usage: $0 [--partitioned]" ;;
esac

busybox=$(command -v busybox || true)
[ -n "$busybox" ] || die "busybox not found (apt-get install busybox-static)"
command -v mke2fs >/dev/null || die "mke2fs not found (apt-get install e2fsprogs)"
[ $mode = bare ] || command -v sfdisk >/dev/null || die "sfdisk not found (apt-get install fdisk)"

key=$(cat "${BASH_SOURCE[0]}" "$busybox" | sha256sum | cut -c1-16)
out=$EMBER_CACHE/rootfs/$key-$mode.img
if [ -f "$out" ]; then
	echo "$out"
	exit 0
fi
lock rootfs

t0=$(now_ms)
stage=$(mktemp -d "$EMBER_CACHE/.rootfs.XXXXXX")
trap 'rm -rf "$stage"' EXIT
root=$stage/root
mkdir -p "$root"/{bin,sbin,dev,proc,sys,tmp,run,root,etc,mnt}
cp "$busybox" "$root/bin/busybox"
for a in $("$busybox" --list); do
	case "$a" in busybox | init) ;; *) ln -s busybox "$root/bin/$a" ;; esac
done
echo 'root:x:0:0:root:/root:/bin/sh' >"$root/etc/passwd"
echo 'ember' >"$root/etc/hostname"
cat >"$root/sbin/init" <<'INIT'
#!/bin/sh
# ember root file system (tools/mkrootfs.sh)
export PATH=/bin:/sbin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev 2>/dev/null
mount -t tmpfs tmpfs /tmp
mount -t tmpfs tmpfs /run
hostname -F /etc/hostname
echo "EMBER-ROOTFS: user space up on $(grep ' / ' /proc/mounts | head -n1)"
echo "EMBER-ROOTFS-OK"
if grep -qw 'ember.shell=1' /proc/cmdline; then
	echo "ember: shell on the console; 'exit' or Ctrl-D ends the VM"
	setsid cttyhack sh -l
fi
sync
reboot -f
INIT
chmod 755 "$root/sbin/init"
"$busybox" sh -n "$root/sbin/init"

mkdir -p "${out%/*}"
tmpimg=$out.tmp
rm -f "$tmpimg"
truncate -s "${SIZE_MIB}M" "$tmpimg"
if [ $mode = bare ]; then
	mke2fs -q -F -t ext4 -L ember-root -d "$root" "$tmpimg"
else
	printf 'label: dos\nstart=%d, type=83\n' "$PART_START" | sfdisk -q "$tmpimg" >/dev/null
	# The partition runs to the end of the disk.
	part_kib=$(( (SIZE_MIB * 1024 * 1024 - PART_START * 512) / 1024 ))
	mke2fs -q -F -t ext4 -L ember-root -E offset=$((PART_START * 512)) -d "$root" \
		"$tmpimg" "${part_kib}k"
	# mke2fs must have left the partition table alone.
	sfdisk -d "$tmpimg" | grep -q "start= *$PART_START," || die "partition table lost"
fi
mv "$tmpimg" "$out"
log "$mode image $(( $(stat -c %s "$out") >> 20 )) MiB in $(( $(now_ms) - t0 )) ms"
echo "$out"
