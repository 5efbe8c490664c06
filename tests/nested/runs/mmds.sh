# L1 side of the `mmds` run (sourced by l1-init.sh; L2 side: tests/nested/l2/mmds.sh):
# the metadata service (V2) on eth0 (tap0), started as flintlock does it (a
# config file with mmds-config, --metadata FILE; here with the API socket too,
# for a PATCH /mmds while L2 runs). A busybox httpd on L1's side of the TAP is
# the comparison for L2's requests/s line (informational).
run_mmds() {
	step mmds
	con=/tmp/mmds.con
	: >$con
	rm -f /tmp/mmds.sock /tmp/mmds.in
	mkfifo /tmp/mmds.in
	exec 8<>/tmp/mmds.in
	mmds_big=$(nt gen 21 4K | od -An -tx1 | tr -d ' \n')
	printf '{"latest": {"meta-data": {"instance-id": "i-nested", "placement": {"availability-zone": "az-1"}, "big": "%s"}}}' \
		"$mmds_big" >/tmp/mmds.meta
	cat >/tmp/mmds.json <<-EOF
	{
	  "boot-source": {"kernel_image_path": "/l2/vmlinuz", "initrd_path": "/l2/initrd",
	                  "boot_args": "$L2_ARGS nt.run=mmds"},
	  "machine-config": {"vcpu_count": 1, "mem_size_mib": 256},
	  "network-interfaces": [{"iface_id": "eth0", "host_dev_name": "tap0", "guest_mac": "06:00:ac:10:00:02"}],
	  "mmds-config": {"version": "V2", "network_interfaces": ["eth0"]}
	}
	EOF
	mkdir -p /tmp/mmds-www && echo i-nested >/tmp/mmds-www/id
	httpd -p 172.16.0.1:8080 -h /tmp/mmds-www
	t0=$(up) errf=/tmp/mmds.err
	show_console $con
	timeout 300 ember --api-sock /tmp/mmds.sock --config-file /tmp/mmds.json \
		--metadata /tmp/mmds.meta <&8 >$con 2>$errf &
	epid=$!
	if nt wait $con "NT-SYNC mmds-patch" 200 >/dev/null; then
		nt http /tmp/mmds.sock PATCH /mmds '{"latest": {"meta-data": {"rotated": "yes"}}}' ||
			echo "NT-L1: PATCH /mmds refused"
		echo "GO mmds-patch" >&8
	fi
	wait_until 120 gone $epid || kill $epid
	wait $epid
	rc=$?
	hide_console
	exec 8>&-
	for p in $(pidof httpd); do kill "$p"; done
	echo "NT-L1: mmds run ended after $(echo "$(up) - $t0" | bc) s, ember exit $rc"
	diagnose $rc /tmp/mmds.err $con
	results_from $con
	exit_ok mmds-exit $rc $con "reboot: Restarting system"
}
retrying mmds run_mmds
