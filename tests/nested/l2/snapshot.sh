# L2 side of the `snapshot` run (sourced by l2-init.sh; L1 side:
# tests/nested/runs/snapshot.sh). A counter runs in the background: every
# 0.2 s the next number goes to the console (NT-COUNT N) and to /mnt/count
# on ext4 on virtio-blk; a TCP connection to L1 streams /mnt/count and a
# vsock connection to the host is held (reconnected when it breaks). The
# 16-byte VM generation ID (ACPI VGEN, ADDR 0xff000, read through /dev/mem:
# the cloud kernel has no vmgenid driver) is watched: a change is printed
# with the count of the generic event device's interrupt. L1 pauses,
# snapshots, kills ember and loads the snapshot in a fresh one (and later in
# 4 clones); this script does not know when: it just carries on.
pass boot-snapshot "user space at ${up}s of L2 uptime"
drivers "blk net vsock" snapshot-drivers
ip link set lo up
ip link set eth0 up && ip addr add 172.16.0.2/24 dev eth0 || echo "NT-L2: eth0 setup failed"
dev=$(disk_by_sectors 65536) && mount -t ext4 "$dev" /mnt || echo "NT-L2: no ext4 on the 32 MiB disk"
genid() { dd if=/dev/mem bs=16 skip=65280 count=1 2>/dev/null | od -An -tx1 | tr -d ' \n'; }
ged_irqs() { grep 'ACPI:Ged' /proc/interrupts | awk '{ print $2 }'; }
for d in /sys/bus/acpi/devices/VMGENCTR:*; do
	echo "NT-L2: $d: path $(cat "$d/path" 2>/dev/null), status $(cat "$d/status" 2>/dev/null)"
done
echo "NT-L2: generic event device interrupt: $(grep 'ACPI:Ged' /proc/interrupts | tr -s ' ')"
echo "NT-GENID $(genid) at start"
NT_TIMEOUT=1200 nt vsock-hold 2 6010 &
(while :; do cat /mnt/count 2>/dev/null; usleep 500000; done | nc 172.16.0.1 5010) &
(
	i=0 g=$(genid)
	while :; do
		i=$((i + 1))
		echo $i >/mnt/count
		echo "NT-COUNT $i"
		n=$(genid)
		[ "$n" = "$g" ] || echo "NT-GENID $n changed from $g (GED interrupts: $(ged_irqs))"
		g=$n
		usleep 200000
	done
) &
cpid=$!
# a busy user-space loop: the vCPU is most likely in user mode at the pause
# (the state a return to user space needs: FS/GS bases, KERNEL_GS_BASE)
(while :; do :; done) &
bpid=$!
# L1 ends the restored VM through its console (the clones it kills)
sync_l1 snapshot-end 1200
kill $cpid $bpid
final=$(cat /mnt/count)
umount /mnt && echo "NT-L2: final count $final, /mnt unmounted" || echo "NT-L2: umount failed"
reboot -f
