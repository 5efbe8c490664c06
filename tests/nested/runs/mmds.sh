# L1 side of the `mmds` run (sourced by l1-init.sh; L2 side: tests/nested/l2/mmds.sh):
# the metadata service on eth0 (tap0), two boots:
#  - V2, started with a config file with mmds-config and --metadata FILE, and
#    the API socket for a PATCH /mmds while L2 runs;
#  - V1, started exactly as flintlock does it (--no-api --config-file with
#    mmds-config, --metadata FILE), with --metrics-path: after L2's GETs the
#    metrics lines carry Firecracker's "mmds" group with what the guest did.
# The requests/s comparison with a busybox httpd is a bench (BENCH=nested-mmds,
# run mmdsbench), not part of this run.
mmds_meta() {
	mmds_big=$(nt gen 21 4K | od -An -tx1 | tr -d ' \n')
	printf '{"latest": {"meta-data": {"instance-id": "i-nested", "placement": {"availability-zone": "az-1"}, "big": "%s"}}}' \
		"$mmds_big" >/tmp/mmds.meta
}
# mmds_json FILE VERSION L2-ARGS [MORE-JSON]: an ember config file with
# mmds-config on eth0
mmds_json() {
	cat >"$1" <<-EOF
	{
	  "boot-source": {"kernel_image_path": "/l2/vmlinuz", "initrd_path": "/l2/initrd",
	                  "boot_args": "$L2_ARGS $3"},
	  "machine-config": {"vcpu_count": 1, "mem_size_mib": 256},
	  "network-interfaces": [{"iface_id": "eth0", "host_dev_name": "tap0", "guest_mac": "06:00:ac:10:00:02"}],
	  "mmds-config": {"version": "$2", "network_interfaces": ["eth0"]}${4:+,
	  $4}
	}
	EOF
}
run_mmds_v2() {
	step mmds
	con=/tmp/mmds.con
	: >$con
	rm -f /tmp/mmds.sock /tmp/mmds.in
	mkfifo /tmp/mmds.in
	exec 8<>/tmp/mmds.in
	mmds_meta
	mmds_json /tmp/mmds.json V2 "nt.run=mmds"
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
	echo "NT-L1: mmds run (V2) ended after $(echo "$(up) - $t0" | bc) s, ember exit $rc"
	diagnose $rc /tmp/mmds.err $con
	results_from $con
	exit_ok mmds-exit $rc $con "reboot: Restarting system"
}
# mmds_metric FIELD: the sum of the "mmds" group's FIELD over every metrics line
mmds_metric() {
	sed -n 's/.*"mmds":{\([^}]*\)}.*/\1/p' /tmp/mmds1.metrics | tr ',' '\n' |
		awk -F: -v k="\"$1\"" '$1 == k { s += $2 } END { print s + 0 }'
}
run_mmds_v1() {
	step mmds-v1
	con=/tmp/mmds1.con
	: >$con
	: >/tmp/mmds1.metrics
	mmds_json /tmp/mmds1.json V1 "nt.run=mmds nt.mmds=v1" \
		'"metrics": {"metrics_path": "/tmp/mmds1.metrics"}'
	t0=$(up) errf=/tmp/mmds1.err
	show_console $con
	timeout 300 ember --no-api --config-file /tmp/mmds1.json --metadata /tmp/mmds.meta \
		</dev/null >$con 2>$errf &
	epid=$!
	wait_until 200 gone $epid || kill $epid
	wait $epid
	rc=$?
	hide_console
	echo "NT-L1: mmds run (V1, flintlock's start) ended after $(echo "$(up) - $t0" | bc) s, ember exit $rc"
	diagnose $rc /tmp/mmds1.err $con
	results_from $con
	exit_ok mmds-v1-exit $rc $con "reboot: Restarting system"
	# L2 made 3 GETs (one without a token, one with a wrong one) and a token
	# PUT, a connection each: the fields that traffic must have moved, summed
	# over the lines ember flushed
	m="rx_accepted=$(mmds_metric rx_accepted) rx_count=$(mmds_metric rx_count)"
	m="$m tx_frames=$(mmds_metric tx_frames) tx_bytes=$(mmds_metric tx_bytes)"
	m="$m connections_created=$(mmds_metric connections_created)"
	m="$m connections_destroyed=$(mmds_metric connections_destroyed)"
	m="$m rx_no_token=$(mmds_metric rx_no_token) rx_invalid_token=$(mmds_metric rx_invalid_token)"
	ok=1
	for kv in $m; do
		case $kv in
		connections_created=[0-3] | connections_destroyed=[0-2] | *=0) ok=0 ;;
		esac
	done
	if [ $ok = 1 ] && [ "$(mmds_metric tx_bytes)" -gt 200 ]; then
		R PASS mmds-metrics "the metrics file's mmds group after L2's GETs: $m"
	else
		R FAIL mmds-metrics "mmds group: $m ($(wc -l </tmp/mmds1.metrics) metrics lines)"
	fi
}
run_mmds() {
	run_mmds_v2
	# a retry (L2 triple fault or stall) repeats both boots
	if [ "$rc" = 2 ] && grep -q 'guest triple fault' "$errf"; then return; fi
	[ "${stalled:-0}" = 1 ] && return
	run_mmds_v1
}
retrying mmds run_mmds
