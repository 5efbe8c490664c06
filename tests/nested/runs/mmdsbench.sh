# L1 side of the `mmdsbench` run (L2 side: tests/nested/l2/mmdsbench.sh), the
# nested MMDS benchmark (`BENCH=nested-mmds make bench`, not in make test):
# L2 times busybox wget GETs to the MMDS (V1, no token) and the same GETs to a
# busybox httpd on L1's side of the TAP, in alternating rounds.
run_mmdsbench() {
	step mmdsbench
	con=/tmp/mmdsb.con
	: >$con
	echo '{"latest": {"meta-data": {"instance-id": "i-nested"}}}' >/tmp/mmdsb.meta
	mkdir -p /tmp/mmds-www && echo i-nested >/tmp/mmds-www/id
	httpd -p 172.16.0.1:8080 -h /tmp/mmds-www
	cat >/tmp/mmdsb.json <<-EOF
	{
	  "boot-source": {"kernel_image_path": "/l2/vmlinuz", "initrd_path": "/l2/initrd",
	                  "boot_args": "$L2_ARGS nt.run=mmdsbench"},
	  "machine-config": {"vcpu_count": 1, "mem_size_mib": 256},
	  "network-interfaces": [{"iface_id": "eth0", "host_dev_name": "tap0", "guest_mac": "06:00:ac:10:00:02"}],
	  "mmds-config": {"version": "V1", "network_interfaces": ["eth0"]}
	}
	EOF
	t0=$(up) errf=/tmp/mmdsb.err
	show_console $con
	timeout 900 ember --no-api --config-file /tmp/mmdsb.json --metadata /tmp/mmdsb.meta \
		</dev/null >$con 2>$errf &
	epid=$!
	wait_until 800 gone $epid || kill $epid
	wait $epid
	rc=$?
	hide_console
	for p in $(pidof httpd); do kill "$p"; done
	echo "NT-L1: mmdsbench run ended after $(echo "$(up) - $t0" | bc) s, ember exit $rc"
	diagnose $rc $errf $con
	results_from $con
	exit_ok mmdsbench-exit $rc $con "reboot: Restarting system"
}
retrying mmdsbench run_mmdsbench
