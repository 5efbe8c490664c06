#!/bin/busybox sh
# L2 (arm64 guest of ember-aarch64): virtio drivers, device checks, PSCI off.
/bin/busybox --install -s /bin
mount -t proc proc /proc
mount -t sysfs sys /sys
mount -t devtmpfs dev /dev
mkdir -p /tmp
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
if grep -q "nt.full=1" /proc/cmdline; then
	# vsock both ways: L1 connects to our port 5001; we connect to L1's 5000
	NT_TIMEOUT=200 nt vsock-serve 5001 1 1M >/tmp/vs.out 2>&1 &
	vpid=$!
	i=0
	while ! grep -q listening /tmp/vs.out 2>/dev/null && [ $i -lt 100 ]; do i=$((i + 1)); usleep 100000; done
	echo "NT-SYNC vsock"
	# (L1 judges both: each end checks every byte it receives)
	NT_TIMEOUT=120 nt vsock-connect 2 5000 1 1M >/tmp/vc.out 2>&1
	echo "NT-INFO vsock-connect rc=$?: $(tail -n1 /tmp/vc.out)"
	wait $vpid
	echo "NT-INFO vsock-serve rc=$?: $(tail -n1 /tmp/vs.out)"
	# balloon: L1 inflates by 64 MiB; MemTotal falls
	m0=$(sed -n 's/^MemTotal: *\([0-9]*\).*/\1/p' /proc/meminfo)
	echo "NT-SYNC balloon"
	i=0 m=$m0
	while [ $i -lt 240 ]; do
		m=$(sed -n 's/^MemTotal: *\([0-9]*\).*/\1/p' /proc/meminfo)
		[ $((m0 - m)) -ge 60000 ] && break
		i=$((i + 1)); sleep 1
	done
	[ $((m0 - m)) -ge 60000 ] && res PASS a64-balloon "MemTotal $m0 -> $m kB" ||
		res FAIL a64-balloon "MemTotal $m0 -> $m kB"
fi
echo "NT-L2-DONE uptime=$(cut -d' ' -f1 /proc/uptime)"
poweroff -f
