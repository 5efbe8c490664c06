# L2 side of the `vmmbench` run (make bench, nested section; L1 side:
# tests/nested/runs/vmmbench.sh): the same kernel, initramfs and RAM under
# ember and under QEMU's microvm machine (nt.vmm= names which). Each phase is
# framed by handshakes, so L1 samples the VMM's CPU time around exactly that
# phase; L2 times the phase itself and prints
#   NT-BENCH VMM ROW BYTES MILLISECONDS
vmm=$(sed -n 's/.*nt\.vmm=\([^ ]*\).*/\1/p' /proc/cmdline)
pass vmmbench-boot-$vmm "user space at ${up}s of L2 uptime"
drivers "blk net" vmmbench-drivers-$vmm
ms() { awk '{ printf "%d\n", $1 * 1000 }' /proc/uptime; }
ip link set lo up
ip link set eth0 up && ip addr add 172.16.0.2/24 dev eth0 || echo "NT-L2: vmmbench: eth0 setup failed"
vb_size=$(($(cat /sys/block/vda/size) / 2048)) # MiB
# vb_phase ROW CMD...: one timed phase between two handshakes
vb_phase() {
	row=$1
	shift
	sync_l1 "$row" 300 || return 1
	t0=$(ms)
	if "$@"; then
		echo "NT-BENCH $vmm $row $vb_bytes $(($(ms) - t0))"
	else
		echo "NT-L2: vmmbench $row failed"
	fi
	sync_l1 "$row-done" 300
}
vb_bytes=$((vb_size << 20))
vb_phase blk-write dd if=/dev/zero of=/dev/vda bs=1M count=$vb_size oflag=direct
vb_phase blk-read dd if=/dev/vda of=/dev/null bs=1M count=$vb_size iflag=direct
vb_bytes=$((16 << 20))
vb_phase tcp-out nc_send 172.16.0.1 5001 21 16M
mkfifo /tmp/vbf
(nc -l -p 5002 0<>/tmp/vbf | wc -c >/tmp/vb.count) &
vb_rx() { wait $!; [ "$(cat /tmp/vb.count)" = $vb_bytes ]; }
vb_phase tcp-in vb_rx
echo "NT-L2: reboot -f"
reboot -f
