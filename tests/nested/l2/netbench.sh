# L2 side of the `netbench` run (L1 side and what it measures:
# tests/nested/runs/netbench.sh): the interface on tap0 gets 172.16.0.2/24,
# the one through passt its address by DHCP; then the same transfer over each.
drivers "net net" netbench-drivers
mib=$(sed -n 's/.*nt\.netbench_mib=\([0-9]*\).*/\1/p' /proc/cmdline)
mib=${mib:-8}
netbench_if() { # MAC: the interface with that address
	for i in /sys/class/net/*; do
		[ "$(cat "$i/address")" = "$1" ] && basename "$i" && return
	done
}
tapif=$(netbench_if 06:00:ac:10:00:02) passtif=$(netbench_if 06:00:0a:00:02:0f)
ip link set lo up
ip link set "$tapif" up && ip addr add 172.16.0.2/24 dev "$tapif"
cat >/tmp/udhcpc.sh <<-'EOS'
	#!/bin/sh
	case $1 in
	bound | renew)
		ip addr add "$ip/${mask:-24}" dev "$interface"
		for r in $router; do ip route add default via "$r" dev "$interface"; done
		;;
	esac
EOS
chmod 755 /tmp/udhcpc.sh
ip link set "$passtif" up
udhcpc -i "$passtif" -n -q -t 10 -T 3 -s /tmp/udhcpc.sh >/tmp/udhcpc.log 2>&1 ||
	echo "NT-L2: udhcpc on $passtif failed: $(tail -n 2 /tmp/udhcpc.log | tr '\n' ' ')"
# leg HOST PORT NAME: one transfer, its time on L2's clock
leg() {
	t0=$(cut -d' ' -f1 /proc/uptime)
	if nc_send "$1" "$2" 31 ${mib}M >/dev/null; then
		echo "NT-L2: netbench $3 $mib MiB in $(echo "$(cut -d' ' -f1 /proc/uptime) - $t0" | bc) s"
	else
		echo "NT-L2: netbench $3 failed: $(cat /tmp/nc.err)"
	fi
}
leg 172.16.0.1 7101 tap
leg 10.0.2.2 7102 passt
leg 172.16.0.1 7103 tap
leg 10.0.2.2 7104 passt
poweroff -f
