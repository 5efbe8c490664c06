# L2 side of the `devcli` run (sourced by l2-init.sh; L1 side:
# tests/nested/runs/devcli.sh): the devices `ember run` gave us by its flags.
pass boot-devcli "user space at ${up}s of L2 uptime"
drivers "rng pmem mem" devcli-drivers

# --mem-hotplug 512M,requested=128M: 128 MiB plugged at boot (218 MiB without)
if wait_until 120 mt_at_least $((330 * 1024)); then
	pass devcli-mem-requested "MemTotal $(($(memtotal) / 1024)) MiB with requested=128M at boot"
else
	fail devcli-mem-requested "MemTotal $(($(memtotal) / 1024)) MiB after 120 s (want >= 330)"
fi

# --pmem FILE,ro,root: the root device on the command line, the file L1 wrote
# into the image is there; then a write to the device, which must not reach
# the host file (L1 checks: devcli-pmem-ro)
mkdir -p /mnt/pmem
got=$(mount -t ext4 -o ro,dax /dev/pmem0 /mnt/pmem 2>&1 && cat /mnt/pmem/hello)
umount /mnt/pmem 2>/dev/null
case "$(cat /proc/cmdline)" in
*"root=/dev/pmem0 ro"*) root=yes ;;
*) root=no ;;
esac
if [ "$got" = "written on L1 for ember run --pmem" ] && [ $root = yes ]; then
	pass devcli-pmem "root=/dev/pmem0 ro on the command line, L1's file read from an -o dax mount"
else
	fail devcli-pmem "file '$got', root= on the command line: $root"
fi
dd if=/dev/zero of=/dev/pmem0 bs=4096 count=4 seek=2048 conv=fsync 2>/dev/null
echo "NT-L2: wrote 16 KiB of zeros at 8 MiB of /dev/pmem0"
poweroff -f
