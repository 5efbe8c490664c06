# L2 side of the `passt` run (sourced by l2-init.sh; L1 side:
# tests/nested/runs/passt.sh): DHCP from passt, TCP both ways through it.
drivers "net" passt-drivers
passt_listening() { cat /proc/net/tcp /proc/net/tcp6 2>/dev/null | grep -q ':0016 [0-9A-F]*:0000 0A'; }
# MiB each way (runs/passt.sh)
mib=$(sed -n 's/.*nt\.passt_mib=\([0-9]*\).*/\1/p' /proc/cmdline)
mib=${mib:-16}
sync_l1 passt-boot
# udhcpc's hook: configure what passt offers
cat >/tmp/udhcpc.sh <<-'EOS'
	#!/bin/sh
	case $1 in
	bound | renew)
		ip addr add "$ip/${mask:-24}" dev "$interface"
		for r in $router; do ip route add default via "$r" dev "$interface"; done
		echo "$ip $router" >/tmp/dhcp.lease
		;;
	esac
EOS
chmod 755 /tmp/udhcpc.sh
ip link set eth0 up
if udhcpc -i eth0 -n -q -t 10 -T 3 -s /tmp/udhcpc.sh >/tmp/udhcpc.log 2>&1 && [ -s /tmp/dhcp.lease ]; then
	set -- $(cat /tmp/dhcp.lease)
	pass passt-dhcp "eth0 $1 from passt's DHCP, gateway $2"
	gw=$2
else
	fail passt-dhcp "udhcpc: $(tail -n 2 /tmp/udhcpc.log | tr '\n' ' ')"
	gw=10.0.2.2
fi
# L2 -> L1's service (passt maps the gateway address to L1's loopback); the
# service greets first (runs/passt.sh says why)
t0=$(cut -d' ' -f1 /proc/uptime)
if nc_send "$gw" 7001 21 ${mib}M >/tmp/passt.greeting; then
	echo "NT-L2: $mib MiB to $gw:7001 in $(echo "$(cut -d' ' -f1 /proc/uptime) - $t0" | bc) s, greeted '$(cat /tmp/passt.greeting)'"
else
	echo "NT-L2: nc to $gw:7001 failed after $(echo "$(cut -d' ' -f1 /proc/uptime) - $t0" | bc) s: $(cat /tmp/nc.err)"
fi
sync_l1 passt-out-done
# L1:8022 -> passt -> our port 22
mkfifo /tmp/passt.nf
(nc -l -p 22 0<>/tmp/passt.nf | sha256sum | cut -d' ' -f1 >/tmp/passt.in.sum) &
lpid=$!
# L1 connects only once nc listens: passt would accept L1's connection, get a
# RST from us and close it, and busybox nc on L1 takes that EOF as success
wait_until 30 passt_listening || echo "NT-L2: nothing listens on port 22"
sync_l1 passt-in
wait $lpid
want=$(nt gen 22 ${mib}M | sha256sum | cut -d' ' -f1)
if [ "$(cat /tmp/passt.in.sum)" = "$want" ]; then
	pass passt-tcp-in "$mib MiB from L1's port 8022 to L2's port 22 (forward=8022:22), sha256 matches"
else
	fail passt-tcp-in "sha256 $(cat /tmp/passt.in.sum), want $want"
fi
echo "NT-L2: poweroff -f"
poweroff -f
