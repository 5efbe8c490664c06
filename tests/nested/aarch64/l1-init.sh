#!/bin/busybox sh
# L1 (arm64 under qemu-system-aarch64 TCG, KVM built in): ember-aarch64,
# configured through its API socket, boots L2 with all four virtio devices;
# L1 is the host end of vsock (both ways) and of the balloon. ember must
# exit 0 when L2 powers off through PSCI. Every wait has a timeout.
/bin/busybox --install -s /bin
mount -t proc proc /proc
mount -t sysfs sys /sys
mount -t devtmpfs dev /dev
mount -t tmpfs tmp /tmp
res() { echo "NT-RESULT $1 $2: ${3:-ok}"; }
up() { cut -d' ' -f1 /proc/uptime; }
[ -e /dev/kvm ] && res PASS a64-l1-kvm || res FAIL a64-l1-kvm
insmod /lib/modules/tun.ko
tunctl -t tap0 >/dev/null && ip link set tap0 up && ip addr add 172.31.0.1/24 dev tap0
cp /disk.img /tmp/disk.img # ext4, made on the host
CPUS=$(sed -n 's/.*nt.cpus=\([0-9]*\).*/\1/p' /proc/cmdline)
FULL=$(sed -n 's/.*nt.full=\([0-9]*\).*/\1/p' /proc/cmdline) # vsock, balloon
: "${CPUS:=2}"
api=/tmp/api.sock con=/tmp/l2.con
: >$con
echo "NT-L1-EMBER-START uptime=$(up)"
EMBER_SECCOMP_REPORT=/tmp/seccomp.log ember --api-sock $api </dev/null >$con 2>/tmp/ember.err &
epid=$!
tail -f $con &
tpid=$!
i=0
while [ ! -S $api ] && [ $i -lt 100 ]; do i=$((i + 1)); usleep 100000; done
cfg_ok=1
a() { nt http $api "$@" >/dev/null || { cfg_ok=0; echo "NT-L1: $1 $2 refused"; }; }
a PUT /boot-source '{"kernel_image_path": "/l2/Image", "initrd_path": "/l2/initrd.cpio",
 "boot_args": "console=ttyS0 earlycon quiet panic=-1 rdinit=/init nt.cpus='"$CPUS"' nt.full='"${FULL:-1}"'"}'
a PUT /machine-config '{"vcpu_count": '"$CPUS"', "mem_size_mib": 256}'
a PUT /drives/vda '{"drive_id": "vda", "path_on_host": "/tmp/disk.img", "is_root_device": false, "is_read_only": false}'
a PUT /network-interfaces/eth0 '{"iface_id": "eth0", "host_dev_name": "tap0"}'
a PUT /vsock '{"guest_cid": 3, "uds_path": "/tmp/v.sock"}'
a PUT /balloon '{"amount_mib": 0, "deflate_on_oom": false, "stats_polling_interval_s": 1}'
# guest -> host vsock: the host side listens on uds_path_PORT before boot
nt uds-serve /tmp/v.sock_5000 1 1M >/tmp/uds.out 2>&1 &
a PUT /actions '{"action_type": "InstanceStart"}'
[ $cfg_ok -eq 1 ] && res PASS a64-api-boot || res FAIL a64-api-boot "a request was refused"
info=$(nt http $api GET / 2>&1)
case $info in *'"arch":"aarch64"'*) res PASS a64-api-arch ;; *) res FAIL a64-api-arch "$info" ;; esac
if [ "${FULL:-1}" = 1 ]; then
	# host -> guest vsock, once L2 listens
	if nt wait $con "NT-SYNC vsock" 400 >/dev/null; then
		if NT_TIMEOUT=120 nt uds-connect /tmp/v.sock 5001 1 1M >/tmp/udsc.out 2>&1; then
			res PASS a64-vsock-h2g "$(tail -n1 /tmp/udsc.out)"
		else
			res FAIL a64-vsock-h2g "$(tail -n2 /tmp/udsc.out | tr '\n' ' ')"
		fi
	else
		res FAIL a64-vsock-h2g "L2 never listened"
	fi
	# (busybox's wait may not know the listener as its child: its last line says)
	if nt wait /tmp/uds.out "connections ok" 120 >/dev/null &&
		grep -q "uds-serve: 1 of 1 connections ok" /tmp/uds.out; then
		res PASS a64-vsock-g2h "$(tail -n1 /tmp/uds.out)"
	else
		res FAIL a64-vsock-g2h "$(tail -n2 /tmp/uds.out | tr '\n' ' ')"
	fi
	# balloon: inflate by 64 MiB once L2 has its baseline
	if nt wait $con "NT-SYNC balloon" 300 >/dev/null; then
		a PATCH /balloon '{"amount_mib": 64}'
	fi
fi
# L2 powers off at its end: ember exits by itself
i=0
while kill -0 $epid 2>/dev/null && [ $i -lt 600 ]; do i=$((i + 1)); sleep 1; done
if kill -0 $epid 2>/dev/null; then
	echo "NT-L1: ember still running: stopping it"
	kill $epid
fi
wait $epid
rc=$?
kill $tpid 2>/dev/null
grep -v 'MMIO .* nothing mapped' /tmp/ember.err | tail -n 20
echo "NT-L1-EMBER-EXIT rc=$rc uptime=$(up)"
[ $rc -eq 0 ] && res PASS a64-poweroff-exit0 || res FAIL a64-poweroff-exit0 "rc=$rc"
if [ -s /tmp/seccomp.log ]; then
	res FAIL a64-seccomp-report "$(head -c 300 /tmp/seccomp.log | tr '\n' ';')"
else
	res PASS a64-seccomp-report
fi
poweroff -f
