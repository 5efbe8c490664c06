# L1 side of the `netbench` run (sourced by l1-init.sh; `make bench`'s
# nested-net section, not in make test): one L2 with two virtio-nets, one on
# tap0 and one through passt (`--net tap0 --net passt`), sends the same
# NETBENCH_MIB MiB to a TCP service of L1 over each in turn (TAP, passt, TAP,
# passt); L2 prints the time of each, tools/bench/nested-net_bench.sh the MB/s
# and the ratio. Both services greet first (the passt run says why) and hash
# what they get. L2 side: tests/nested/l2/netbench.sh.
netbench_serve() { # NAME PORT: a one-connection service that greets, then hashes
	rm -f /tmp/netbench.$1.nf /tmp/netbench.$1.sum
	mkfifo /tmp/netbench.$1.nf
	(nc -l -p "$2" 0<>/tmp/netbench.$1.nf | sha256sum | cut -d' ' -f1 >/tmp/netbench.$1.sum) &
	echo "netbench $1 ready" >/tmp/netbench.$1.nf
}
run_netbench() {
	step netbench-setup
	passt_uplink
	case :$PATH: in *:/usr/bin:*) ;; *) PATH=$PATH:/usr/bin ;; esac # passt
	# passt started by root drops to the user nobody (and exits without one)
	grep -q '^nobody:' /etc/passwd || echo 'nobody:x:65534:65534::/nonexistent:/bin/false' >>/etc/passwd
	grep -q '^nogroup:' /etc/group || echo 'nogroup:x:65534:' >>/etc/group
	netbench_mib=$(sed -n 's/.*nt\.netbench_mib=\([0-9]*\).*/\1/p' /proc/cmdline)
	netbench_mib=${netbench_mib:-8}
	netbench_serve tap1 7101
	netbench_serve passt1 7102
	netbench_serve tap2 7103
	netbench_serve passt2 7104
	run_cli netbench 900 --kernel /l2/vmlinuz --initrd /l2/initrd --mem 256M --cpus 1 \
		--net tap0,mac=06:00:ac:10:00:02 --net passt,mac=06:00:0a:00:02:0f \
		--cmdline "$L2_ARGS nt.run=netbench nt.netbench_mib=$netbench_mib"
}
retrying netbench run_netbench
# L2's timings again from its console file (the streamed copy may lose the
# last line when L2 powers off): what tools/bench/nested-net_bench.sh reads
tr -d '\r' <$con | sed -nE 's/^NT-L2: netbench (tap|passt) ([0-9]+) MiB in ([0-9.]+) s$/NT-NETBENCH \1 \2 \3/p'
netbench_want=$(nt gen 31 ${netbench_mib}M | sha256sum | cut -d' ' -f1)
for netbench_leg in tap1 passt1 tap2 passt2; do
	for p in $(pidof nc); do kill "$p" 2>/dev/null; done # a leg L2 never reached
	wait_until 10 test -s /tmp/netbench.$netbench_leg.sum
	if [ "$(cat /tmp/netbench.$netbench_leg.sum 2>/dev/null)" = "$netbench_want" ]; then
		R PASS netbench-$netbench_leg "$netbench_mib MiB from L2 over ${netbench_leg%[12]}, sha256 matches"
	else
		R FAIL netbench-$netbench_leg "sha256 '$(cat /tmp/netbench.$netbench_leg.sum 2>/dev/null)', want $netbench_want"
	fi
done
exit_ok netbench-exit $rc $con "reboot: Power down"
