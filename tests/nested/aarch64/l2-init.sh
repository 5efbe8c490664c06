#!/bin/busybox sh
# L2 (arm64 guest of ember-aarch64): virtio drivers, device checks, PSCI off.
/bin/busybox --install -s /bin
mount -t proc proc /proc
mount -t sysfs sys /sys
mount -t devtmpfs dev /dev
mkdir -p /tmp
res() { echo "NT-RESULT $1 $2: ${3:-ok}"; }
arg() { sed -n "s/.*nt\.$1=\([^ ]*\).*/\1/p" /proc/cmdline; }
up() { cut -d' ' -f1 /proc/uptime; }
if [ "$(arg mode)" != jail ]; then
	echo "NT-L2-USERSPACE uptime=$(up)"
	res PASS a64-l2-userspace "$(up) s of L2 uptime"
fi
for m in virtio_ring virtio virtio_mmio virtio_blk failover net_failover virtio_net vsock \
	vmw_vsock_virtio_transport_common vmw_vsock_virtio_transport virtio_balloon; do
	insmod /lib/modules/$m.ko || echo "insmod $m failed"
done
if [ "$(arg mode)" = jail ]; then
	# the second boot, under ember jail (L1 judges uid/gid, chroot, namespace)
	res PASS a64-jail-userspace "$(up) s of L2 uptime under ember jail"
	if mkdir -p /mnt && mount -t ext4 /dev/vda /mnt && nt gen 9 1M >/mnt/j && sync &&
		umount /mnt && mount -t ext4 /dev/vda /mnt &&
		[ "$(sha256sum </mnt/j)" = "$(nt gen 9 1M | sha256sum)" ]; then
		res PASS a64-jail-blk "1 MiB on ext4 through the jailed virtio-blk, read back after a remount"
	else
		res FAIL a64-jail-blk
	fi
	umount /mnt 2>/dev/null
	echo "NT-L2-REBOOT uptime=$(up)"
	reboot -f
fi
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
# TCP both ways over virtio-net (busybox nc), sha256 of every byte: L1
# judges what we send (we time it), we judge what L1 sends (we time it)
tcp=$(arg tcp)
if [ -n "$tcp" ] && [ "$tcp" != 0 ]; then
	t0=$(up)
	i=0
	while ! nt gen 11 "$tcp" | nc 172.31.0.1 5001 2>/tmp/nc.err; do
		i=$((i + 1))
		[ $i -lt 100 ] && grep -q "can't connect\|refused" /tmp/nc.err || break
		usleep 100000
	done
	echo "NT-SYNC tcp-out secs=$(awk -v a="$t0" -v b="$(up)" 'BEGIN { printf "%.2f", b - a }')"
	mkfifo /tmp/nf
	(nc -l -p 5002 0<>/tmp/nf | sha256sum | cut -d' ' -f1 >/tmp/in.sum) &
	lpid=$!
	i=0
	while ! grep -q ':138A 00000000:0000 0A' /proc/net/tcp && [ $i -lt 100 ]; do i=$((i + 1)); usleep 100000; done
	t0=$(up)
	echo "NT-SYNC tcp-in"
	wait $lpid
	t1=$(up)
	want=$(nt gen 12 "$tcp" | sha256sum | cut -d' ' -f1)
	bytes=$(nt gen 12 "$tcp" | wc -c)
	secs=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.2f", b - a }')
	if [ "$(cat /tmp/in.sum)" = "$want" ]; then
		res PASS a64-net-tcp-in "$tcp L1 -> L2 (busybox nc), sha256 matches, $secs s ($(awk -v b="$bytes" -v s="$secs" 'BEGIN { if (s > 0) printf "%.2f", b / s / 1e6 }') MB/s)"
	else
		res FAIL a64-net-tcp-in "sha256 $(cat /tmp/in.sum), want $want"
	fi
fi
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
