#!/bin/sh
# /init of the L2 guest (the nested test layer, tests/nested/README.md): runs
# under ember inside L1. Loads the virtio modules, then runs the scenario named
# by nt.run= on the kernel command line. Results are lines
#   NT-RESULT PASS|FAIL <check>: <detail>
# which l1-init.sh collects from ember's console. Where the L1 side has to act
# (ping us, connect to us, inflate the balloon...), L2 prints `NT-SYNC <name>`
# and waits for the line `GO <name>` that L1 writes to ember's console input.
export PATH=/bin:/sbin
mount -t devtmpfs devtmpfs /dev 2>/dev/null
exec </dev/console >/dev/console 2>&1
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t tmpfs tmpfs /tmp
hostname -F /etc/hostname
stty -echo 2>/dev/null

up=$(cut -d' ' -f1 /proc/uptime)
run=$(sed -n 's/.*nt\.run=\([^ ]*\).*/\1/p' /proc/cmdline)
echo "NT-L2: user space up at ${up}s of L2 uptime, kernel $(uname -r), scenario '$run'"

pass() { echo "NT-RESULT PASS $1: ${2:-ok}"; }
fail() { echo "NT-RESULT FAIL $1: ${2:-failed}"; }
# sync_l1 NAME [SECONDS]: hand over to L1 and wait for its GO
sync_l1() {
	echo "NT-SYNC $1"
	line=""
	read -t "${2:-600}" line
	case $line in
	"GO $1"*) return 0 ;;
	esac
	echo "NT-L2: no 'GO $1' from L1 (got '$line')"
	return 1
}
memtotal() { sed -n 's/^MemTotal: *\([0-9]*\) kB/\1/p' /proc/meminfo; }
mt_at_most() { [ "$(memtotal)" -le "$1" ]; }
mt_at_least() { [ "$(memtotal)" -ge "$1" ]; }
# wait_until SECONDS CMD...: until CMD succeeds; the condition is rechecked
# every 0.1 s (what it waits on has no event to block on from a shell).
# CMD's arguments are expanded once: put live values in a function.
wait_until() {
	n=$(($1 * 10))
	shift
	while ! "$@"; do
		n=$((n - 1))
		[ $n -gt 0 ] || return 1
		usleep 100000
	done
}

# ---- drivers ----
while read -r m; do
	insmod "/lib/modules/$m.ko" || echo "NT-L2: insmod $m failed"
done </lib/modules/modules.load
# drivers EXPECTED [CHECK]: e.g. "blk blk net vsock balloon" (any order)
drivers() {
	check=${2:-drivers}
	found="" unbound=""
	for d in /sys/bus/virtio/devices/*; do
		[ -e "$d" ] || continue
		case $(cat "$d/device") in
		0x0001) t=net ;; 0x0002) t=blk ;; 0x0005) t=balloon ;; 0x0013) t=vsock ;; *) t=other ;;
		esac
		found="$found $t"
		[ -e "$d/driver" ] || unbound="$unbound $t"
	done
	found=$(echo $found | tr ' ' '\n' | sort | tr '\n' ' ' | sed 's/ $//')
	want=$(echo $1 | tr ' ' '\n' | sort | tr '\n' ' ' | sed 's/ $//')
	if [ "$found" = "$want" ] && [ -z "$unbound" ]; then
		pass "$check" "$found bound"
	else
		fail "$check" "found '$found' (want '$want'), without driver: '$unbound'"
	fi
}
vcpus() {
	n=$(grep -c '^processor' /proc/cpuinfo)
	if [ "$n" = "$1" ]; then pass "vcpus-$1" "L2 sees $n CPUs"; else fail "vcpus-$1" "L2 sees $n CPUs"; fi
}
# disk_by_sectors N: the vdX whose size is N 512-byte sectors
disk_by_sectors() {
	for b in /sys/block/vd*; do
		[ "$(cat "$b/size")" = "$1" ] && { echo "/dev/${b##*/}"; return 0; }
	done
	return 1
}

# ---- virtio-blk: ext4 read-write (256 MiB image) and a read-only drive (8 MiB) ----
blk_ext4() {
	dev=$(disk_by_sectors 524288) || { fail blk-ext4 "no 256 MiB disk"; return; }
	want=$(nt gen 7 64M | sha256sum | cut -d' ' -f1)
	mount -t ext4 "$dev" /mnt || { fail blk-ext4 "mount $dev"; return; }
	t0=$(cut -d' ' -f1 /proc/uptime)
	if ! nt gen 7 64M >/mnt/data || ! sync; then
		fail blk-ext4 "write"; umount /mnt; return
	fi
	t1=$(cut -d' ' -f1 /proc/uptime)
	umount /mnt || { fail blk-ext4 "umount"; return; }
	# Read back through the device, not the page cache.
	echo 3 >/proc/sys/vm/drop_caches
	mount -t ext4 -o ro "$dev" /mnt || { fail blk-ext4 "second mount"; return; }
	got=$(sha256sum /mnt/data | cut -d' ' -f1)
	umount /mnt
	if [ "$got" = "$want" ]; then
		pass blk-ext4 "64 MiB written on ext4 $dev, synced in $(echo "$t1 - $t0" | bc) s, re-read after remount: sha256 $(echo "$got" | cut -c1-16).. matches"
	else
		fail blk-ext4 "re-read sha256 $got, want $want"
	fi
}
blk_ro() {
	dev=$(disk_by_sectors 16384) || { fail blk-ro "no 8 MiB disk"; return; }
	ro=$(cat "/sys/block/${dev#/dev/}/ro")
	want=$(nt gen 5 8M | sha256sum | cut -d' ' -f1)
	got=$(sha256sum <"$dev" | cut -d' ' -f1)
	if dd if=/dev/zero of="$dev" bs=4096 count=1 conv=fsync 2>/tmp/dd.err; then
		fail blk-ro "a write to $dev succeeded (ro=$ro)"
	elif [ "$ro" != 1 ]; then
		fail blk-ro "$dev not marked read-only (ro=$ro)"
	elif [ "$got" != "$want" ]; then
		fail blk-ro "content sha256 $got, want $want"
	else
		pass blk-ro "$dev ro=1, write refused ($(tr '\n' ' ' </tmp/dd.err | cut -c1-60)), content matches"
	fi
}

# PATCH /drives/swap (4 MiB -> 12 MiB file) while L2 runs: the device signals a
# config change and Linux re-reads the capacity; the new file's content shows.
size_is() { [ "$(cat "/sys/block/$1/size")" = "$2" ]; }
blk_swap() {
	dev=$(disk_by_sectors 8192) || { fail blk-patch-swap "no 4 MiB disk"; return; }
	old=$(sha256sum <"$dev" | cut -d' ' -f1)
	[ "$old" = "$(nt gen 13 4M | sha256sum | cut -d' ' -f1)" ] || fail blk-patch-swap "4 MiB content wrong before the swap"
	sync_l1 drive-swap || return
	if ! wait_until 60 size_is "${dev#/dev/}" 24576; then
		fail blk-patch-swap "$dev still $(cat "/sys/block/${dev#/dev/}/size") sectors 60 s after PATCH /drives"
		return
	fi
	echo 3 >/proc/sys/vm/drop_caches
	got=$(sha256sum <"$dev" | cut -d' ' -f1)
	if [ "$got" = "$(nt gen 14 12M | sha256sum | cut -d' ' -f1)" ]; then
		pass blk-patch-swap "$dev 8192 -> 24576 sectors after PATCH /drives, new file's content read"
	else
		fail blk-patch-swap "$dev resized but content sha256 $got is not the new file's"
	fi
}

# ---- virtio-net over L1's tap0 (172.16.0.1) ----
# nc_send HOST PORT SEED SIZE: busybox nc cannot retry a refused connection
nc_send() {
	i=0
	while [ $i -lt 100 ]; do
		nt gen "$3" "$4" | nc "$1" "$2" 2>/tmp/nc.err && return 0
		grep -q "can't connect\|refused" /tmp/nc.err || return 1
		i=$((i + 1))
		usleep 100000
	done
	return 1
}
net() {
	ip link set lo up
	ip link set eth0 up && ip addr add 172.16.0.2/24 dev eth0 || { fail net-ping-out "eth0 setup"; }
	if out=$(ping -c 3 -W 10 172.16.0.1 2>&1); then
		pass net-ping-out "$(echo "$out" | grep -o '[0-9]* packets received')"
	else
		fail net-ping-out "$(echo "$out" | tail -n 2 | tr '\n' ' ')"
	fi
	sync_l1 net-ping || return # L1 pings us, starts its listener on :5001
	t0=$(cut -d' ' -f1 /proc/uptime)
	if nc_send 172.16.0.1 5001 11 16M; then
		t1=$(cut -d' ' -f1 /proc/uptime)
		echo "NT-L2: sent 16 MiB over TCP in $(echo "$t1 - $t0" | bc) s"
	else
		echo "NT-L2: nc to 172.16.0.1:5001 failed: $(cat /tmp/nc.err)"
	fi
	mkfifo /tmp/nf
	(nc -l -p 5002 0<>/tmp/nf | sha256sum | cut -d' ' -f1 >/tmp/in.sum) &
	lpid=$!
	sync_l1 net-out-done || return # L1 checks what it got, sends 64 MiB to :5002
	wait $lpid
	want=$(nt gen 12 64M | sha256sum | cut -d' ' -f1)
	if [ "$(cat /tmp/in.sum)" = "$want" ]; then
		pass net-tcp-in "64 MiB from L1 over TCP (busybox nc), sha256 matches"
	else
		fail net-tcp-in "sha256 $(cat /tmp/in.sum), want $want"
	fi
	# rx rate limiter set by L1 through PATCH /network-interfaces: L1 times it
	(nc -l -p 5003 0<>/tmp/nf | wc -c >/tmp/rl.count) &
	lpid=$!
	sync_l1 net-rl || return
	wait $lpid
	echo "NT-L2: received $(cat /tmp/rl.count) bytes under the rate limiter"
}

# ---- virtio-vsock (L1 side: nt uds-serve / uds-connect) ----
vsock() {
	nt vsock-serve 5000 33 16M >/tmp/vs.log 2>&1 &
	spid=$!
	sync_l1 vsock-start || return # L1 connects 1 x 16 MiB and 32 concurrent, listens on _6000
	if wait $spid; then
		pass vsock-l2-listener "$(tail -n 1 /tmp/vs.log)"
	else
		fail vsock-l2-listener "$(grep -v ': ok' /tmp/vs.log | head -n 3 | tr '\n' ' ')"
	fi
	if out=$(nt vsock-connect 2 6000 1 16M); then
		pass vsock-guest-to-host "$(echo "$out" | head -n 1 | sed 's/^vsock-connect: //')"
	else
		fail vsock-guest-to-host "$(echo "$out" | tr '\n' ' ')"
	fi
	if out=$(nt vsock-connect 2 6000 32 256K); then
		pass vsock-guest-to-host-32 "$(echo "$out" | tail -n 1 | sed 's/^vsock-connect: //')"
	else
		fail vsock-guest-to-host-32 "$(echo "$out" | grep -v ': ok' | head -n 3 | tr '\n' ' ')"
	fi
	# A guest that closes mid-stream (L1 expects a short stream on _6001),
	# then one more full connection: the device and ember carry on.
	nt vsock-connect 2 6001 1 4M close-mid >/tmp/vc.log 2>&1
	if out=$(nt vsock-connect 2 6000 1 1M); then
		pass vsock-after-close-mid "$(sed 's/^vsock-connect: //' /tmp/vc.log | head -n 1); next connection ok"
	else
		fail vsock-after-close-mid "$(echo "$out" | tr '\n' ' ')"
	fi
	sync_l1 vsock-done
}

# ---- virtio-balloon (L1 drives it through the API) ----
balloon() {
	nt hog 192 # guest pages ember really backs
	mt0=$(memtotal)
	sync_l1 balloon-inflate || return # L1: PATCH /balloon 256 MiB
	if wait_until 180 mt_at_most $((mt0 - 250 * 1024)); then
		pass balloon-inflate-l2 "MemTotal $((mt0 / 1024)) -> $(($(memtotal) / 1024)) MiB"
	else
		fail balloon-inflate-l2 "MemTotal $((mt0 / 1024)) -> $(($(memtotal) / 1024)) MiB"
	fi
	sync_l1 balloon-deflate || return # L1: RSS and statistics, PATCH /balloon 0
	if wait_until 180 mt_at_least $((mt0 - 4 * 1024)); then
		pass balloon-deflate "MemTotal back to $(($(memtotal) / 1024)) MiB"
	else
		fail balloon-deflate "MemTotal $(($(memtotal) / 1024)) MiB, was $((mt0 / 1024))"
	fi
}

# ---- pause/resume: a counter runs while L1 pauses and resumes the VM ----
pause() {
	(i=0; while :; do i=$((i + 1)); echo $i >/tmp/count; echo "NT-TICK $i"; usleep 100000; done) &
	tpid=$!
	wait_until 30 [ -s /tmp/count ]
	c0=$(cat /tmp/count)
	sync_l1 pause || { kill $tpid; return; }
	c1=$(cat /tmp/count)
	kill $tpid
	if [ "$c1" -gt "$c0" ]; then
		pass pause-l2-state "counter $c0 -> $c1 across pause/resume, same boot"
	else
		fail pause-l2-state "counter $c0 -> $c1"
	fi
}

case $run in
main)
	pass boot-bzimage "user space at ${up}s of L2 uptime"
	drivers "blk blk blk net vsock balloon"
	vcpus 2
	blk_ext4
	blk_ro
	blk_swap
	net
	vsock
	balloon
	pause
	# What SendCtrlAltDel needs: the i8042 bound and an AT keyboard on it.
	echo "NT-L2: input: $(sed -n 's/^N: Name=//p' /proc/bus/input/devices | tr '\n' ' ')" \
		"irq: $(grep i8042 /proc/interrupts | tr -s ' ' | tr '\n' ' ')"
	dmesg | grep -i 'i8042\|serio\|atkbd\|keyboard' | sed 's/^/NT-L2: dmesg: /'
	echo "NT-L2: done; waiting for SendCtrlAltDel"
	sync_l1 ctrl-alt-del 900
	echo "NT-L2: no Ctrl-Alt-Del arrived: reboot -f"
	reboot -f
	;;
elf)
	pass boot-elf "ELF vmlinux: user space at ${up}s of L2 uptime"
	vcpus 1
	dmesg | grep -i 'i8042\|serio\|atkbd' | sed 's/^/NT-L2: dmesg: /'
	echo "NT-L2: reboot -f"
	reboot -f
	;;
uki)
	pass boot-uki "UKI: user space at ${up}s of L2 uptime"
	vcpus 4
	mt=$(memtotal)
	high=$(grep 'System RAM' /proc/iomem | sed -n 's/^ *\([0-9a-f]*\)-.*/\1/p' |
		while read -r a; do [ ${#a} -gt 8 ] && echo "$a"; done | head -n 1)
	if [ "$mt" -ge $((3 * 1024 * 1024)) ] && [ -n "$high" ]; then
		pass mem-above-4g "MemTotal $((mt / 1024)) MiB, System RAM from 0x$high"
	else
		fail mem-above-4g "MemTotal $((mt / 1024)) MiB, RAM above 4 GiB: '${high:-none}'"
	fi
	echo "NT-L2: poweroff -f"
	poweroff -f
	;;
fpr)
	# free page reporting: touch then free 160 MiB; L1 watches ember's RSS fall
	pass boot-fpr "user space at ${up}s of L2 uptime"
	drivers "balloon" fpr-drivers
	nt hog 160
	sync_l1 fpr 300
	reboot -f
	;;
panic)
	pass boot-panic "user space at ${up}s of L2 uptime; crashing the kernel (sysrq c)"
	echo 1 >/proc/sys/kernel/sysrq
	echo c >/proc/sysrq-trigger
	;;
jail)
	pass jail-userspace "user space at ${up}s of L2 uptime under ember jail"
	drivers "blk" jail-drivers
	dev=$(disk_by_sectors 524288) && mount -t ext4 "$dev" /mnt &&
		nt gen 9 4M >/mnt/jail && umount /mnt && pass jail-blk "4 MiB written on ext4 $dev" ||
		fail jail-blk "ext4 write on the jailed drive"
	reboot -f
	;;
shell)
	drivers "blk net vsock balloon"
	echo "NT-L2: busybox shell (exit or Ctrl-D reboots L2 and ends ember)"
	stty echo 2>/dev/null
	setsid cttyhack sh -l
	reboot -f
	;;
*)
	fail l2-scenario "unknown nt.run='$run'"
	poweroff -f
	;;
esac
