# L2 side of the `netloop` run (L1 side: tests/nested/runs/netloop.sh): main's
# 16 MiB upload round after round; a round that does not end in time prints
# L2's TCP and interrupt state (a stall) and the next one starts.
opt() { v=$(sed -n "s/.*nt\.netloop_$1=\([0-9]*\).*/\1/p" /proc/cmdline); echo "${v:-$2}"; }
n=$(opt n 2) mib=$(opt mib 16) secs=$(opt secs 300)
ip link set lo up
ip link set eth0 up && ip addr add 172.16.0.2/24 dev eth0
nl_state() {
	echo "NT-L2: netloop $1: eth0 tx $(cat /sys/class/net/eth0/statistics/tx_packets)p" \
		"rx $(cat /sys/class/net/eth0/statistics/rx_packets)p, tcp $(grep ':1389 ' /proc/net/tcp | tr -s ' ' | tr '\n' '|')"
}
# per round: frames and bytes eth0 sent/received, virtio interrupts, TCP segments
nl_counts() {
	s=/sys/class/net/eth0/statistics
	echo "txp $(cat $s/tx_packets) txb $(cat $s/tx_bytes) rxp $(cat $s/rx_packets) rxb $(cat $s/rx_bytes)" \
		"irq $(grep virtio /proc/interrupts | awk '{ s = 0; for (i = 2; i <= NF; i++) if ($i ~ /^[0-9]+$/) s += $i; printf "%s=%d ", $NF, s }')" \
		"tcp $(awk '/^Tcp:/ { o = $12; r = $13 } END { print "out " o " retr " r }' /proc/net/snmp)"
}
# nt.netloop_sysctl=K=V,K=V: L2 sysctls for an experiment (tests/nested/README.md, netloop)
for kv in $(sed -n 's/.*nt\.netloop_sysctl=\([^ ]*\).*/\1/p' /proc/cmdline | tr , ' '); do
	echo "NT-L2: netloop: sysctl $(sysctl -w "$kv" 2>&1)"
done
echo "NT-L2: netloop: tcp_tso_rtt_log $(cat /proc/sys/net/ipv4/tcp_tso_rtt_log 2>&1) min_tso_segs $(cat /proc/sys/net/ipv4/tcp_min_tso_segs 2>&1)"
echo "NT-L2: netloop: clocksource $(cat /sys/devices/system/clocksource/clocksource0/current_clocksource)" \
	"pv: $(dmesg | grep -i 'kvm\|paravirt\|x2apic' | tr -s ' ' | cut -c1-90 | tr '\n' '|')"
for d in /sys/bus/virtio/devices/*; do
	[ "$(cat $d/device)" = 0x0001 ] && echo "NT-L2: netloop: virtio-net features $(cat $d/features)"
done
echo "NT-L2: netloop: tcp_limit_output_bytes $(cat /proc/sys/net/ipv4/tcp_limit_output_bytes 2>/dev/null)" \
	"wmem $(cat /proc/sys/net/ipv4/tcp_wmem 2>/dev/null) cc $(cat /proc/sys/net/ipv4/tcp_congestion_control 2>/dev/null)"
i=1
while [ "$i" -le "$n" ]; do
	sync_l1 loop-$i || break
	rm -f /tmp/nl.rc
	echo "NT-L2: netloop $i before: $(nl_counts)"
	t0=$(cut -d' ' -f1 /proc/uptime)
	(nc_send 172.16.0.1 5001 11 "${mib}M"; echo $? >/tmp/nl.rc) &
	k=0 # (half seconds)
	while [ ! -e /tmp/nl.rc ] && [ $k -lt $((secs * 2)) ]; do
		usleep 500000
		k=$((k + 1))
		[ $((k % 60)) = 0 ] && nl_state "$i progress"
		# (sock: /proc/net/tcp's addresses, tx:rx queue, pointer, rto ato qack cwnd ssthresh)
		[ $((k % 20)) = 0 ] && echo "NT-L2: netloop $i at $((k / 2)) s: $(nl_counts) sock $(grep ':1389 ' /proc/net/tcp | tr -s ' ' | cut -d' ' -f3-4,6,13-)"
	done
	if [ -e /tmp/nl.rc ]; then
		echo "NT-L2: netloop $i: $mib MiB in $(echo "$(cut -d' ' -f1 /proc/uptime) - $t0" | bc) s, nc status $(cat /tmp/nl.rc), $(awk '/^Tcp:/ { r = $13 } END { print r }' /proc/net/snmp) segments retransmitted so far"
		echo "NT-L2: netloop $i after: $(nl_counts)"
	else
		echo "NT-L2: netloop $i stalled (not done in $secs s)"
		nl_state "$i stalled"
		echo "NT-L2: netloop $i: $(grep '^Tcp:' /proc/net/snmp | tail -n 1); irqs $(grep virtio /proc/interrupts | tr -s ' ' | tr '\n' '|')"
		usleep 3000000
		nl_state "$i stalled +3 s"
		echo "NT-L2: netloop $i: irqs $(grep virtio /proc/interrupts | tr -s ' ' | tr '\n' '|')"
		for p in $(pidof nc) $(pidof nt); do kill "$p"; done
	fi
	sync_l1 loop-end-$i || break
	i=$((i + 1))
done
# the other way for comparison: the same size from L1 (main's 64 MiB download)
if sync_l1 down; then
	echo "NT-L2: netloop down before: $(nl_counts)"
	t0=$(cut -d' ' -f1 /proc/uptime)
	mkfifo /tmp/nld
	nc -l -p 5005 0<>/tmp/nld | sha256sum >/tmp/nl.down
	echo "NT-L2: netloop down: $mib MiB in $(echo "$(cut -d' ' -f1 /proc/uptime) - $t0" | bc) s, sha256 $(cut -c1-16 /tmp/nl.down)"
	[ "$(cat /tmp/nl.down)" = "$(nt gen 12 "${mib}M" | sha256sum)" ] || echo "NT-L2: netloop down: sha256 is not the data's"
	echo "NT-L2: netloop down after: $(nl_counts)"
	sync_l1 down-done
fi
if grep -q 'nt.netloop_vmm=qemu' /proc/cmdline; then :; elif sync_l1 tx-rl 900; then
	# L1 set a tx rate limiter and listens on :5004
	nc_send 172.16.0.1 5004 16 512K || echo "NT-L2: tx-rl upload failed: $(cat /tmp/nc.err)"
	sync_l1 tx-rl-done
fi
poweroff -f
