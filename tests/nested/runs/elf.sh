# L1 side of the `elf` run (sourced by l1-init.sh): ELF vmlinux, 1 vCPU, L2
# ends with `reboot -f`. L2 side: tests/nested/l2/elf.sh.
retrying elf run_cli elf 600 --kernel /l2/vmlinux --initrd /l2/initrd --mem 256M --cpus 1 \
	--cmdline "$L2_ARGS nt.run=elf"
exit_ok lifecycle-reboot $rc $con "reboot: Restarting system"
