#!/bin/busybox sh
# L1 (arm64 under qemu-system-aarch64 TCG, KVM built in): ember-aarch64
# boots L2 and must exit 0 when L2 powers off through PSCI.
/bin/busybox --install -s /bin
mount -t proc proc /proc
mount -t sysfs sys /sys
mount -t devtmpfs dev /dev
mount -t tmpfs tmp /tmp
res() { echo "NT-RESULT $1 $2: ${3:-ok}"; }
[ -e /dev/kvm ] && res PASS a64-l1-kvm || res FAIL a64-l1-kvm
insmod /lib/modules/tun.ko
tunctl -t tap0 >/dev/null && ip link set tap0 up && ip addr add 172.31.0.1/24 dev tap0
cp /disk.img /tmp/disk.img # ext4, made on the host
CPUS=$(sed -n 's/.*nt.cpus=\([0-9]*\).*/\1/p' /proc/cmdline)
: "${CPUS:=2}"
echo "NT-L1-EMBER-START uptime=$(cut -d' ' -f1 /proc/uptime)"
EMBER_SECCOMP_REPORT=/tmp/seccomp.log ember run --kernel /l2/Image --initrd /l2/initrd.cpio \
	--cmdline "console=ttyS0 earlycon quiet panic=-1 rdinit=/init nt.cpus=$CPUS" \
	--mem 256M --cpus "$CPUS" --disk /tmp/disk.img --net tap0 --vsock 3:/tmp/v.sock \
	--balloon 0 --log-level debug </dev/null 2>/tmp/ember.err
rc=$?
grep -v 'MMIO .* nothing mapped' /tmp/ember.err | tail -n 40
echo "NT-L1-EMBER-EXIT rc=$rc uptime=$(cut -d' ' -f1 /proc/uptime)"
[ $rc -eq 0 ] && res PASS a64-poweroff-exit0 || res FAIL a64-poweroff-exit0 "rc=$rc"
if [ -s /tmp/seccomp.log ]; then
	res FAIL a64-seccomp-report "$(head -c 300 /tmp/seccomp.log | tr '\n' ';')"
else
	res PASS a64-seccomp-report
fi
poweroff -f
