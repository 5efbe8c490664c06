# L1 side of the `minimal` run (sourced by l1-init.sh): ember's own minimal
# kernel (firmware/linux/ember-guest.config, built by tools/build-guest-kernel.sh:
# ELF vmlinux, virtio-mmio drivers built in, no modules) boots the layer's L2
# initramfs twice with blk, net, vsock and balloon: once finding the devices
# through ACPI (DSDT LNRO0005), once with acpi=off through the
# virtio_mmio.device= tokens ember appends to every x86 command line itself.
# L2 side: tests/nested/l2/minimal.sh.
if [ -f /l2/minimal-vmlinux ]; then
	truncate -s 16M /tmp/minimal.img
	retrying minimal run_cli minimal-acpi 300 --kernel /l2/minimal-vmlinux --initrd /l2/initrd \
		--mem 256M --cpus 2 --disk /tmp/minimal.img --net tap0 --vsock 3:/tmp/minimal.sock --balloon 0 \
		--cmdline "$L2_ARGS nt.run=minimal"
	exit_ok minimal-acpi-exit $rc $con "reboot: Restarting system"
	retrying minimal run_cli minimal-noacpi 300 --kernel /l2/minimal-vmlinux --initrd /l2/initrd \
		--mem 256M --cpus 1 --disk /tmp/minimal.img --net tap0 --vsock 3:/tmp/minimal.sock --balloon 0 \
		--cmdline "$L2_ARGS acpi=off nt.run=minimal"
	exit_ok minimal-noacpi-exit $rc $con "reboot: Restarting system"
	rm -f /tmp/minimal.img /tmp/minimal.sock
else
	step minimal
	echo "NT-L1: no /l2/minimal-vmlinux (tools/nested/run.sh builds it when the run is selected)"
fi
