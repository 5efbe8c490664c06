# L1 side of the `panic` run (sourced by l1-init.sh): L2 crashes its kernel;
# panic=1 resets through the i8042 and ember exits 0. L2 side: tests/nested/l2/panic.sh.
retrying panic run_cli panic 300 --kernel /l2/vmlinuz --initrd /l2/initrd --mem 128M --cpus 1 \
	--cmdline "console=ttyS0 reboot=k panic=1 quiet nt.run=panic"
exit_ok lifecycle-panic $rc $con "Rebooting in 1 seconds"
