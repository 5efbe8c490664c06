# L2 side of the `devices` run (sourced by l2-init.sh; L1 side:
# tests/nested/runs/devices.sh): virtio-rng as /dev/hwrng at its rate limit,
# ext4 -o dax on virtio-pmem, MemTotal following virtio-mem's requested size.
pass boot-devices "user space at ${up}s of L2 uptime"
drivers "rng pmem mem" devices-drivers

# ---- virtio-rng: the current hw_random source, limited to 2 KiB/s ----
cur=$(cat /sys/class/misc/hw_random/rng_current 2>/dev/null)
case $cur in
virtio_rng*) pass rng-current "rng_current: $cur" ;;
*) fail rng-current "rng_current: '$cur' (available: $(cat /sys/class/misc/hw_random/rng_available 2>/dev/null))" ;;
esac
# 2 KiB of burst, then 2 KiB/s: 8 KiB take 3 s (the kernel's own hwrng thread
# competes for the same tokens: only slower). Unlimited, the nested device gives
# ~13 KiB/s (0.6 s for these 8 KiB).
cs_now() { awk '{ printf "%d", $1 * 100 }' /proc/uptime; }
t0=$(cs_now)
n=$(head -c 8192 /dev/hwrng | wc -c)
cs=$(($(cs_now) - t0))
if [ "$n" = 8192 ] && [ $cs -ge 250 ]; then
	pass rng-rate "8 KiB from /dev/hwrng in $cs/100 s: $((8192 * 100 / cs)) B/s at the 2048 B/s limit (2 KiB burst)"
else
	fail rng-rate "$n bytes from /dev/hwrng in $cs/100 s (want 8192 in >= 2.5 s at 2048 B/s)"
fi

# ---- virtio-pmem: ext4 with DAX, 4 MiB written and flushed ----
mkdir -p /mnt/pmem
if [ -b /dev/pmem0 ] && mount -t ext4 -o dax /dev/pmem0 /mnt/pmem; then
	opts=$(grep ' /mnt/pmem ' /proc/mounts)
	nt gen 9 4M >/mnt/pmem/data && sync
	if case $opts in *dax*) true ;; *) false ;; esac && umount /mnt/pmem; then
		pass pmem-dax "/dev/pmem0 mounted ($opts), 4 MiB written, synced, unmounted"
	else
		fail pmem-dax "mount options '$opts' or umount failed"
	fi
else
	fail pmem-dax "no /dev/pmem0 or mount -o dax failed: $(dmesg | grep -i -E 'pmem|dax|nd_' | tail -n 3 | tr '\n' ' ')"
fi

# ---- virtio-mem: MemTotal follows PATCH /hotplug/memory up and down ----
m0=$(memtotal)
echo online_movable >/sys/devices/system/memory/auto_online_blocks
sync_l1 mem-plug 300
if wait_until 120 mt_at_least $((m0 + 250 * 1024)); then
	pass mem-plug "PATCH 256: MemTotal $((m0 / 1024)) -> $(($(memtotal) / 1024)) MiB"
else
	fail mem-plug "MemTotal $((m0 / 1024)) -> $(($(memtotal) / 1024)) MiB 120 s after PATCH 256"
fi
nt hog 160
sync_l1 mem-unplug 300
if wait_until 180 mt_at_most $((m0 + 4 * 1024)); then
	pass mem-unplug "PATCH 0: MemTotal back to $(($(memtotal) / 1024)) MiB"
else
	fail mem-unplug "MemTotal still $(($(memtotal) / 1024)) MiB 180 s after PATCH 0 (was $((m0 / 1024)))"
fi
poweroff -f
