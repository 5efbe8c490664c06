# L1 side of the `vmmbench` run (make bench, nested section: never in make test;
# tools/bench/nested_bench.sh turns its NT-BENCH lines into ratios). The same
# L2 (bzImage, initramfs, 1 vCPU, 256 MiB, a 64 MiB raw disk on L1's tmpfs,
# virtio-net on tap0) under ember (`ember run`) and under Debian's QEMU with
# `-M microvm` (KVM, virtio-mmio devices, no vhost: L1 has no vhost-net, and
# ember has none). Per VMM: process start -> L2's first user-space line, then
# phases framed by handshakes (L2 side: tests/nested/l2/vmmbench.sh) around
# which L1 samples the VMM's CPU time (utime + stime):
#   NT-BENCH VMM start 0 MILLISECONDS
#   NT-BENCH VMM ROW BYTES MILLISECONDS      (L2's own timing of the phase)
#   NT-BENCH VMM cpu-ROW BYTES CPU-MILLISECONDS  (the VMM's own, guest time excluded)
# the VMM's own CPU time: utime + stime less guest_time (the vCPU threads'
# time in the guest, which Linux counts in utime), 10 ms ticks
vb_cpu_ms() { awk '{ print ($14 + $15 - $43) * 10 }' /proc/$1/stat 2>/dev/null || echo 0; }
vb_go() { echo "GO $1" >&8; }
vb_run() { # VMM COMMAND...
	vmm=$1
	shift
	step "vmmbench-$vmm"
	con=/tmp/vb-$vmm.con errf=/tmp/vb-$vmm.err
	: >$con
	truncate -s 64M /tmp/vb.img
	rm -f /tmp/vb.in && mkfifo /tmp/vb.in
	exec 8<>/tmp/vb.in
	t0=$(awk '{ printf "%d\n", $1 * 1000 }' /proc/uptime)
	timeout 600 "$@" <&8 >$con 2>$errf &
	vpid=$!
	if nt wait $con "NT-L2: user space up" 300 >/dev/null; then
		t1=$(awk '{ printf "%d\n", $1 * 1000 }' /proc/uptime)
		echo "NT-BENCH $vmm start 0 $((t1 - t0))"
		# timeout(1) is vpid; the VMM is its child (the only one of its name)
		pid=$(pidof "$(basename "$1")" | cut -d' ' -f1)
		for row in blk-write blk-read tcp-out tcp-in; do
			nt wait $con "NT-SYNC $row" 300 >/dev/null || break
			case $row in
			tcp-out) # (a FIFO that never ends as nc's input: busybox nc stops at EOF)
				rm -f /tmp/vb.nf && mkfifo /tmp/vb.nf
				(nc -l -p 5001 0<>/tmp/vb.nf | wc -c >/tmp/vb-out.count) & ;;
			esac
			c0=$(vb_cpu_ms $pid)
			vb_go $row
			case $row in
			tcp-in)
				i=0
				until NT_TIMEOUT=900 nt gen 22 16M | nc 172.16.0.2 5002 2>/tmp/nc.err; do
					i=$((i + 1))
					[ $i -lt 100 ] && grep -q "can't connect\|refused" /tmp/nc.err || break
					usleep 100000
				done ;;
			esac
			nt wait $con "NT-SYNC $row-done" 300 >/dev/null || break
			c1=$(vb_cpu_ms $pid)
			b=$(tr -d '\r' <$con | sed -n "s/^NT-BENCH $vmm $row \([0-9]*\) .*/\1/p")
			echo "NT-BENCH $vmm cpu-$row ${b:-0} $((c1 - c0))"
			vb_go $row-done
		done
	fi
	wait_until 120 gone $vpid || kill $vpid
	wait $vpid
	rc=$?
	exec 8>&-
	echo "NT-L1: vmmbench $vmm ended after $(( ($(awk '{ printf "%d\n", $1 * 1000 }' /proc/uptime) - t0) / 1000 )) s, exit $rc"
	diagnose $rc $errf $con
	results_from $con
	tr -d '\r' <$con | grep -a '^NT-BENCH ' || true
	[ "$(cat /tmp/vb-out.count 2>/dev/null)" = 16777216 ] || echo "NT-L1: vmmbench $vmm: L1 got $(cat /tmp/vb-out.count 2>/dev/null) of 16777216 bytes from L2"
	rm -f /tmp/vb.img /tmp/vb-out.count /tmp/vb.nf
}
vb_args="$L2_ARGS nt.run=vmmbench"
vb_run ember ember run --kernel /l2/vmlinuz --initrd /l2/initrd --mem 256M --cpus 1 \
	--disk /tmp/vb.img --net tap0 --cmdline "$vb_args nt.vmm=ember"
exit_ok vmmbench-exit-ember $rc $con "reboot: Restarting system"
if [ -x /usr/bin/qemu-system-x86_64 ]; then
	vb_run qemu /usr/bin/qemu-system-x86_64 -M microvm -accel kvm -cpu host -smp 1 -m 256M \
		-nodefaults -no-user-config -display none -monitor none -serial stdio -no-reboot \
		-kernel /l2/vmlinuz -initrd /l2/initrd -append "$vb_args nt.vmm=qemu" \
		-drive id=d0,file=/tmp/vb.img,format=raw,if=none -device virtio-blk-device,drive=d0 \
		-netdev tap,id=n0,ifname=tap0,script=no,downscript=no,vhost=off \
		-device virtio-net-device,netdev=n0,mac=06:00:ac:10:00:02
	exit_ok vmmbench-exit-qemu $rc $con "reboot: Restarting system"
else
	step vmmbench-qemu
	echo "NT-L1: no qemu-system-x86_64 in L1 (tools/nested/build.sh adds it when the vmmbench run is selected)"
fi
