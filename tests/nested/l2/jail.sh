# L2 side of the `jail` run (sourced by l2-init.sh; L1 side: tests/nested/runs/jail.sh).
pass jail-userspace "user space at ${up}s of L2 uptime under ember jail"
drivers "blk" jail-drivers
dev=$(disk_by_sectors 524288) && mount -t ext4 "$dev" /mnt &&
	nt gen 9 4M >/mnt/jail && umount /mnt && pass jail-blk "4 MiB written on ext4 $dev" ||
	fail jail-blk "ext4 write on the jailed drive"
reboot -f
