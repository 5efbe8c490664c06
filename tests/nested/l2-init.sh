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
# (a kernel without module support has its drivers built in: ember's minimal one)
[ -e /proc/modules ] && while read -r m; do
	# (nt.mod.MODULE.PARAM=VALUE words on L2's command line are its parameters, for
	# experiments: the plain MODULE.PARAM form would also pass on the
	# virtio_mmio.device= tokens ember appends)
	insmod "/lib/modules/$m.ko" $(tr ' ' '\n' </proc/cmdline | sed -n "s/^nt\.mod\.${m##*/}\.//p") ||
		echo "NT-L2: insmod $m failed"
done </lib/modules/modules.load
# drivers EXPECTED [CHECK]: e.g. "blk blk net vsock balloon" (any order)
drivers() {
	check=${2:-drivers}
	found="" unbound=""
	for d in /sys/bus/virtio/devices/*; do
		[ -e "$d" ] || continue
		case $(cat "$d/device") in
		0x0001) t=net ;; 0x0002) t=blk ;; 0x0004) t=rng ;; 0x0005) t=balloon ;; 0x0013) t=vsock ;;
		0x0018) t=mem ;; 0x001b) t=pmem ;; *) t=other ;;
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

# ---- helpers for the runs' L2 parts (tests/nested/l2/*.sh) ----
# nc_send HOST PORT SEED SIZE: busybox nc cannot retry a refused connection
nc_send() {
	i=0
	while [ $i -lt 100 ]; do
		# (nt's own 120 s alarm would cut a long transfer short: L1's deadline rules)
		NT_TIMEOUT=900 nt gen "$3" "$4" | nc "$1" "$2" 2>/tmp/nc.err && return 0
		grep -q "can't connect\|refused" /tmp/nc.err || return 1
		i=$((i + 1))
		usleep 100000
	done
	return 1
}

# hint_returned SYNC CHECK: L1 runs a free page hinting run between SYNC and
# its GO; afterwards the driver must have given the pages it held back
# (MemFree within 16 MiB of before, 60 s)
memfree() { sed -n 's/^MemFree: *\([0-9]*\) kB/\1/p' /proc/meminfo; }
hint_returned() {
	free0=$(memfree)
	sync_l1 "$1" 300 || return 1
	back() { [ "$(memfree)" -ge $((free0 - 16 * 1024)) ]; }
	if wait_until 60 back; then
		pass "$2" "MemFree $((free0 / 1024)) MiB before the run, $(($(memfree) / 1024)) MiB after DONE"
	else
		fail "$2" "MemFree $((free0 / 1024)) MiB before the run, still $(($(memfree) / 1024)) MiB 60 s after L1's GO"
	fi
}

# ---- the run named by nt.run= ----
# Each run NAME has its L2 part in /nt/runs/NAME.sh (tests/nested/l2/NAME.sh),
# sourced here with the helpers above. It ends L2 itself (reboot -f, poweroff -f,
# a panic...); how to add a run: tests/nested/README.md.
if [ -f "/nt/runs/$run.sh" ]; then
	. "/nt/runs/$run.sh"
	echo "NT-L2: run '$run' returned without ending L2: reboot -f"
	reboot -f
fi
fail l2-scenario "unknown nt.run='$run' (no tests/nested/l2/$run.sh)"
poweroff -f
