# L2 side of the `minimal` run (sourced by l2-init.sh; L1 side:
# tests/nested/runs/minimal.sh): ember's minimal kernel, booted once with ACPI
# and once with acpi=off. Each virtio device must be bound and sit on the
# platform device of the discovery path in use: LNRO0005:NN (ACPI DSDT) or
# virtio-mmio.N (a virtio_mmio.device= token; the L1 side passes none, ember
# appends them).
case " $(cat /proc/cmdline) " in
*" acpi=off "*) m=noacpi parent='virtio-mmio\.[0-9]*' ncpu=1 ;;
*) m=acpi parent='LNRO0005:[0-9a-f]*' ncpu=2 ;;
esac
pass boot-minimal-$m "kernel $(uname -r): user space at ${up}s of L2 uptime"
found="" wrong=""
for d in /sys/bus/virtio/devices/*; do
	[ -e "$d" ] || continue
	case $(cat "$d/device") in
	0x0001) t=net ;; 0x0002) t=blk ;; 0x0005) t=balloon ;; 0x0013) t=vsock ;; *) t=other ;;
	esac
	p=$(basename "$(dirname "$(readlink -f "$d")")")
	found="$found $t"
	if [ ! -e "$d/driver" ] || ! echo "$p" | grep -qx "$parent"; then wrong="$wrong $t@$p"; fi
done
found=$(echo $found | tr ' ' '\n' | sort | tr '\n' ' ' | sed 's/ $//')
tokens=$(grep -o 'virtio_mmio.device=[^ ]*' /proc/cmdline | wc -l)
acpi=$([ -d /sys/firmware/acpi/tables ] && echo tables || echo none)
if [ "$found" = "balloon blk net vsock" ] && [ -z "$wrong" ] &&
	{ { [ $m = acpi ] && [ $acpi = tables ]; } || { [ $m = noacpi ] && [ $acpi = none ] && [ $tokens = 4 ]; }; }; then
	pass minimal-$m-devices "$found bound on $(ls /sys/bus/platform/devices | grep -x "$parent" | tr '\n' ' ')(ACPI $acpi, $tokens virtio_mmio.device= tokens from ember)"
else
	fail minimal-$m-devices "found '$found', unbound or on the wrong parent: '$wrong', ACPI $acpi, $tokens tokens"
fi
n=$(grep -c '^processor' /proc/cpuinfo)
if [ "$n" = $ncpu ]; then pass minimal-$m-vcpus "L2 sees $n CPUs"; else fail minimal-$m-vcpus "L2 sees $n CPUs, want $ncpu"; fi
ip link set lo up
if ip link set eth0 up && ip addr add 172.16.0.2/24 dev eth0 && out=$(ping -c 3 -W 10 172.16.0.1 2>&1); then
	pass minimal-$m-net "ping L1 over the TAP: $(echo "$out" | grep -o '[0-9]* packets received')"
else
	fail minimal-$m-net "$(echo "${out:-eth0 setup failed}" | tail -n 2 | tr '\n' ' ')"
fi
if dd if=/dev/vda of=/dev/null bs=4096 count=16 2>/dev/null; then
	pass minimal-$m-blk "64 KiB read from /dev/vda"
else
	fail minimal-$m-blk "read from /dev/vda failed"
fi
echo "NT-L2: reboot -f"
reboot -f
