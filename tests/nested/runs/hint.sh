# L1 side of the `hint` run (sourced by l1-init.sh): virtio-balloon free page
# hinting through Firecracker's API. L2 touches then frees 160 MiB (no
# reporting, so ember keeps those pages); L1 starts a hinting run with
# PATCH /balloon/hinting/start {"acknowledge_on_stop": true}, GET
# /balloon/hinting/status must reach the driver's STOP and ember's DONE
# (host_cmd 1, guest_cmd 0), and ember's RSS must fall. L2 then checks it got
# the hinted pages back (MemFree). L2 side: tests/nested/l2/hint.sh.
run_hint() {
	step hint
	con=/tmp/hint.con
	: >$con
	rm -f /tmp/hint.sock /tmp/hint.in
	mkfifo /tmp/hint.in
	exec 8<>/tmp/hint.in
	cat >/tmp/hint.json <<-EOF
	{
	  "boot-source": {"kernel_image_path": "/l2/vmlinuz", "initrd_path": "/l2/initrd",
	                  "boot_args": "$L2_ARGS nt.run=hint"},
	  "machine-config": {"vcpu_count": 1, "mem_size_mib": 384},
	  "balloon": {"amount_mib": 0, "deflate_on_oom": false, "free_page_hinting": true}
	}
	EOF
	t0=$(up) errf=/tmp/hint.err
	show_console $con
	timeout 400 ember --api-sock /tmp/hint.sock --config-file /tmp/hint.json <&8 >$con 2>/tmp/hint.err &
	epid=$!
	if nt wait $con "NT-SYNC hint" 300 >/dev/null; then
		rss0=$(vm_kib $epid VmRSS)
		hint_run /tmp/hint.sock balloon-hinting-status '{"acknowledge_on_stop": true}'
		if wait_until 60 rss_below $epid $((rss0 - 96 * 1024)); then
			R PASS balloon-hinting-rss "after L2 freed 160 MiB: ember VmRSS $((rss0 / 1024)) -> $(($(vm_kib $epid VmRSS) / 1024)) MiB through one hinting run"
		else
			R FAIL balloon-hinting-rss "ember VmRSS $((rss0 / 1024)) -> $(($(vm_kib $epid VmRSS) / 1024)) MiB, expected a fall of 96 MiB"
		fi
		echo "GO hint" >&8
	fi
	wait_until 120 gone $epid || kill $epid
	wait $epid
	rc=$?
	hide_console
	exec 8>&-
	echo "NT-L1: hint run ended after $(echo "$(up) - $t0" | bc) s, ember exit $rc"
	diagnose $rc /tmp/hint.err $con
	results_from $con
}
retrying hint run_hint
