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
i=1
while [ "$i" -le "$n" ]; do
	sync_l1 loop-$i || break
	rm -f /tmp/nl.rc
	t0=$(cut -d' ' -f1 /proc/uptime)
	(nc_send 172.16.0.1 5001 11 "${mib}M"; echo $? >/tmp/nl.rc) &
	k=0 # (half seconds)
	while [ ! -e /tmp/nl.rc ] && [ $k -lt $((secs * 2)) ]; do
		usleep 500000
		k=$((k + 1))
		[ $((k % 60)) = 0 ] && nl_state "$i progress"
	done
	if [ -e /tmp/nl.rc ]; then
		echo "NT-L2: netloop $i: $mib MiB in $(echo "$(cut -d' ' -f1 /proc/uptime) - $t0" | bc) s, nc status $(cat /tmp/nl.rc), $(awk '/^Tcp:/ { r = $13 } END { print r }' /proc/net/snmp) segments retransmitted so far"
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
if grep -q 'nt.netloop_vmm=qemu' /proc/cmdline; then :; elif sync_l1 tx-rl 900; then
	# L1 set a tx rate limiter and listens on :5004
	nc_send 172.16.0.1 5004 16 512K || echo "NT-L2: tx-rl upload failed: $(cat /tmp/nc.err)"
	sync_l1 tx-rl-done
fi
poweroff -f
