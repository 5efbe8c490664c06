# L1 side of the `devcli` run (sourced by l1-init.sh): `ember run`'s flags for
# the devices of issue 16 with Linux's drivers: --pmem FILE,ro,root (an ext4
# image L1 wrote a file into; root=/dev/pmem0 ro on L2's command line),
# --mem-hotplug 512M,requested=128M (L2's virtio_mem plugs 128 MiB at boot,
# onlined by memhp_default_state), --entropy, and --console file: (run_cli).
# L2 side: tests/nested/l2/devcli.sh.
run_devcli() {
	rm -f /tmp/devcli.img /tmp/devcli.txt
	truncate -s 16M /tmp/devcli.img && $E2/mke2fs -q -t ext4 -b 4096 -F /tmp/devcli.img &&
		echo "written on L1 for ember run --pmem" >/tmp/devcli.txt &&
		$E2/debugfs -w -R "write /tmp/devcli.txt hello" /tmp/devcli.img >/dev/null 2>&1 ||
		echo "NT-L1: preparing the devcli pmem image failed"
	devcli_sum=$(sha256sum </tmp/devcli.img)
	run_cli devcli 300 --kernel /l2/vmlinuz --initrd /l2/initrd --mem 256M --cpus 1 \
		--pmem /tmp/devcli.img,ro,root --mem-hotplug 512M,requested=128M --entropy \
		--cmdline "$L2_ARGS memhp_default_state=online_movable nt.run=devcli"
}
retrying devcli run_devcli
exit_ok devcli-exit $rc $con "reboot: Power down"
if [ "$(sha256sum </tmp/devcli.img)" = "$devcli_sum" ] && grep -aq 'NT-L2: wrote 16 KiB' $con; then
	R PASS devcli-pmem-ro "L2 wrote to the read-only /dev/pmem0; the image on L1 is unchanged"
else
	R FAIL devcli-pmem-ro "image changed or L2 never wrote: $(grep -a 'NT-L2: wrote' $con)"
fi
