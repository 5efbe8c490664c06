#!/bin/busybox sh
# L2 (arm64 guest of ember-aarch64): virtio drivers, device checks, PSCI off.
/bin/busybox --install -s /bin
mount -t proc proc /proc
mount -t sysfs sys /sys
mount -t devtmpfs dev /dev
res() { echo "NT-RESULT $1 $2: ${3:-ok}"; }
echo "NT-L2-USERSPACE uptime=$(cut -d' ' -f1 /proc/uptime)"
res PASS a64-l2-userspace "$(cut -d' ' -f1 /proc/uptime) s of L2 uptime"
for m in virtio_ring virtio virtio_mmio virtio_blk failover net_failover virtio_net vsock \
	vmw_vsock_virtio_transport_common vmw_vsock_virtio_transport virtio_balloon; do
	insmod /lib/modules/$m.ko || echo "insmod $m failed"
done
n=$(grep -c ^processor /proc/cpuinfo)
[ "$n" = "$(cat /proc/cmdline | sed -n 's/.*nt.cpus=\([0-9]*\).*/\1/p')" ] &&
	res PASS a64-smp "cpus=$n" || res FAIL a64-smp "cpus=$n"
bound=""
for d in /sys/bus/virtio/devices/*; do
	[ -e "$d/driver" ] && bound="$bound $(basename "$(readlink "$d/driver")")"
done
echo "NT-INFO bound:$bound"
for want in virtio_blk virtio_net vmw_vsock_virtio_transport virtio_balloon; do
	case " $bound " in *" $want "*) res PASS "a64-bind-$want" ;; *) res FAIL "a64-bind-$want" ;; esac
done
# blk: ext4 on vda, write, read back
if mkdir -p /mnt && mount -t ext4 /dev/vda /mnt && echo hello-arm64 >/mnt/f && sync &&
	umount /mnt && mount -t ext4 /dev/vda /mnt && [ "$(cat /mnt/f)" = hello-arm64 ]; then
	res PASS a64-blk-ext4
else
	res FAIL a64-blk-ext4
fi
umount /mnt 2>/dev/null
# net: ping L1's tap
ip link set eth0 up && ip addr add 172.31.0.2/24 dev eth0
if ping -c 2 -W 5 172.31.0.1 >/dev/null 2>&1; then res PASS a64-net-ping; else res FAIL a64-net-ping; fi
# RTC (PL031): a year after 2020
y=$(cat /sys/class/rtc/rtc0/date 2>/dev/null | cut -c1-4)
[ -n "$y" ] && [ "$y" -ge 2020 ] && res PASS a64-rtc "$y" || res FAIL a64-rtc "$y"
echo "NT-L2-DONE uptime=$(cut -d' ' -f1 /proc/uptime)"
poweroff -f
