# L1 side of the `jail` run (sourced by l1-init.sh): `ember jail` with uid/gid
# 1000, a chroot and new namespaces (the jailed ember keeps its killing seccomp
# filters: jail clears the environment). L2 side: tests/nested/l2/jail.sh.
run_jail() {
	step jail-setup
	truncate -s 256M /tmp/jail.img && $E2/mke2fs -q -t ext4 -F /tmp/jail.img
	chown 1000:1000 /tmp/jail.img
	con=/tmp/jail.con
	: >$con
	step jail
	t0=$(up) errf=/tmp/jail.err
	show_console $con
	rm -rf /tmp/jailer
	timeout 600 ember jail --id nt-jail --exec-file /bin/ember --uid 1000 --gid 1000 \
		--chroot-base-dir /tmp/jailer --copy-in /l2/vmlinuz --copy-in /l2/initrd \
		--copy-in /tmp/jail.img -- run --kernel /vmlinuz --initrd /initrd --disk /jail.img \
		--mem 256M --cpus 2 --cmdline "$L2_ARGS nt.run=jail" </dev/null >$con 2>/tmp/jail.err
	rc=$?
	hide_console
	echo "NT-L1: jail run ended after $(echo "$(up) - $t0" | bc) s, ember exit $rc"
	diagnose $rc /tmp/jail.err $con
	results_from $con
	exit_ok jail-exit $rc $con "reboot: Restarting system"
}
retrying jail run_jail
