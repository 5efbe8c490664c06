# L1 side of the `fpr` run (sourced by l1-init.sh): virtio-balloon free page
# reporting; L2 frees 160 MiB and ember's RSS must fall without any inflate.
# Then, on the same device (hinting and reporting both negotiated: Linux's
# queue numbering with every optional queue but stats), one free page hinting
# run through the API: its status must reach the driver's STOP and ember's
# DONE, and L2 gets the hinted pages back (the hinting RSS figure is the
# `hint` run's, where reporting does not free the pages first).
# L2 side: tests/nested/l2/fpr.sh.
run_fpr() {
	# virtio-balloon free page reporting: pages L2 frees go back to L1
	step fpr
	con=/tmp/fpr.con
	: >$con
	rm -f /tmp/fpr.sock /tmp/fpr.in
	mkfifo /tmp/fpr.in
	exec 8<>/tmp/fpr.in
	cat >/tmp/fpr.json <<-EOF
	{
	  "boot-source": {"kernel_image_path": "/l2/vmlinuz", "initrd_path": "/l2/initrd",
	                  "boot_args": "$L2_ARGS nt.run=fpr"},
	  "machine-config": {"vcpu_count": 1, "mem_size_mib": 384},
	  "balloon": {"amount_mib": 0, "deflate_on_oom": false, "free_page_reporting": true,
	              "free_page_hinting": true}
	}
	EOF
	t0=$(up) errf=/tmp/fpr.err
	show_console $con
	timeout 400 ember --api-sock /tmp/fpr.sock --config-file /tmp/fpr.json <&8 >$con 2>/tmp/fpr.err &
	epid=$!
	if nt wait $con "NT-SYNC fpr" 300 >/dev/null; then
		hwm=$(vm_kib $epid VmHWM)
		if wait_until 60 rss_below $epid $((hwm - 96 * 1024)); then
			R PASS balloon-free-page-reporting "L2 freed 160 MiB: ember VmRSS $(($(vm_kib $epid VmRSS) / 1024)) MiB, peak $((hwm / 1024)) MiB, no inflate"
		else
			R FAIL balloon-free-page-reporting "ember VmRSS still $(($(vm_kib $epid VmRSS) / 1024)) MiB 60 s after L2 freed 160 MiB (peak $((hwm / 1024)) MiB)"
		fi
		echo "GO fpr" >&8
		if nt wait $con "NT-SYNC fpr-hint" 120 >/dev/null; then
			hint_run /tmp/fpr.sock fpr-hinting-status
			echo "GO fpr-hint" >&8
		fi
	fi
	wait_until 120 gone $epid || kill $epid
	wait $epid
	rc=$?
	hide_console
	exec 8>&-
	echo "NT-L1: fpr run ended after $(echo "$(up) - $t0" | bc) s, ember exit $rc"
	diagnose $rc /tmp/fpr.err $con
	results_from $con
}
retrying fpr run_fpr
