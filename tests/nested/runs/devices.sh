# L1 side of the `devices` run (sourced by l1-init.sh; tests/nested/README.md):
# Firecracker 1.17's other devices with Linux's own drivers. API mode with
# --config-file, 1 vCPU, 256 MiB: virtio-rng (the config file's entropy with
# a 2 KiB/s bandwidth limit, well below what the nested device does unlimited), virtio-pmem (a 64 MiB ext4 image mounted with -o dax in
# L2; after ember exits the file L2 wrote is in the image), virtio-mem
# (512 MiB hotpluggable: PATCH /hotplug/memory 256 then 0, L2's MemTotal
# follows, ember's RSS falls on the unplug). L2 side: tests/nested/l2/devices.sh.

# L1's ftrace as a flight recorder for L2's last moments (a triple fault
# leaves L2's vCPU in reset state): KVM's exits, NPT faults, MMIO and injected
# exceptions, with ember's memory-slot ioctls and hole punches on the same
# clock; printed only when L2 died.
dev_trace=/sys/kernel/tracing
dev_trace_on() {
	[ -d $dev_trace/events ] || mount -t tracefs tracefs $dev_trace 2>/dev/null || return 0
	echo 0 >$dev_trace/tracing_on
	echo 8192 >$dev_trace/buffer_size_kb
	echo >$dev_trace/trace
	for e in kvm/kvm_exit kvm/kvm_page_fault kvm/kvm_mmio kvm/kvm_inj_exception \
		kvm/kvm_userspace_exit syscalls/sys_enter_fallocate syscalls/sys_enter_ioctl; do
		echo 1 >$dev_trace/events/$e/enable 2>/dev/null
	done
	# KVM_SET_USER_MEMORY_REGION only
	echo 'cmd == 0x4020ae46' >$dev_trace/events/syscalls/sys_enter_ioctl/filter 2>/dev/null
	echo 1 >$dev_trace/tracing_on
}
dev_trace_dump() {
	[ -f $dev_trace/trace ] || return 0
	echo 0 >$dev_trace/tracing_on
	if grep -q 'guest triple fault' "$1"; then
		grep -v '^#' $dev_trace/trace | tail -n 150 | sed 's/^/NT-L1-trace| /'
	else
		echo "NT-L1: ftrace flight recorder: $(grep -vc '^#' $dev_trace/trace) events kept, L2 did not die"
	fi
	# when ember's memory-slot changes and hole punches (virtio-mem's
	# unplugs) happened, on L1's uptime clock
	grep -E 'sys_ioctl|sys_fallocate' $dev_trace/trace | awk '
		{ for (i = 1; i <= NF; i++) if ($i ~ /^[0-9]+\.[0-9]+:$/) { t = $i + 0; break } }
		/fallocate/ { if (!nf++) f0 = t; f1 = t }
		/ioctl/ { if (!ns++) s0 = t; s1 = t }
		END { printf "NT-L1: ember: %d KVM_SET_USER_MEMORY_REGION at %.1f-%.1f s, %d hole punches at %.1f-%.1f s of L1 uptime\n", ns, s0, s1, nf, f0, f1 }'
	echo "NT-L1: GO mem-unplug was at ${dev_unplug_at:-?} s"
	echo 0 >$dev_trace/events/enable
}

# dev_metric GROUP FIELD: FIELD of "GROUP":{...} summed over the metrics lines
# (the group's own counters come before any nested object)
dev_metric() {
	awk -v g="\"$1\":{" -v f="\"$2\":" '{
		i = index($0, g); if (!i) next
		s = substr($0, i + length(g)); s = substr(s, 1, index(s, "}"))
		j = index(s, f); if (j) n += substr(s, j + length(f)) + 0
	} END { printf "%d", n }' /tmp/dev.metrics 2>/dev/null || echo 0
}

run_devices() {
	dev_trace_on
	step devices-images
	rm -f /tmp/dev.in /tmp/dev.sock /tmp/dev.metrics
	rm -f /tmp/pmem.img
	truncate -s 64M /tmp/pmem.img && $E2/mke2fs -q -t ext4 -b 4096 -F /tmp/pmem.img ||
		echo "NT-L1: mke2fs of the pmem image failed"
	con=/tmp/dev.con dev_sock=/tmp/dev.sock
	: >$con
	mkfifo /tmp/dev.in
	exec 7<>/tmp/dev.in
	cat >/tmp/dev.json <<-EOF
	{
	  "boot-source": {"kernel_image_path": "/l2/vmlinuz", "initrd_path": "/l2/initrd",
	                  "boot_args": "$L2_ARGS nt.run=devices"},
	  "machine-config": {"vcpu_count": 1, "mem_size_mib": 256},
	  "entropy": {"rate_limiter": {"bandwidth": {"size": 2048, "refill_time": 1000}}},
	  "pmem": [{"id": "pm0", "path_on_host": "/tmp/pmem.img"}],
	  "memory-hotplug": {"total_size_mib": 512, "block_size_mib": 2, "slot_size_mib": 128},
	  "metrics": {"metrics_path": "/tmp/dev.metrics"}
	}
	EOF
	step devices-boot
	t0=$(up) errf=/tmp/dev.err
	timeout 600 ember --api-sock $dev_sock --config-file /tmp/dev.json <&7 >$con 2>$errf &
	epid=$!
	show_console $con
	dev_api() { nt http $dev_sock "$@"; }
	dev_go() { echo "GO $1" >&7; }
	step devices-mem-plug
	if nt wait $con "NT-SYNC mem-plug" 300 >/dev/null; then
		dev_api PATCH /hotplug/memory '{"requested_size_mib": 256}' >/dev/null ||
			echo "NT-L1: PATCH /hotplug/memory 256 refused"
		dev_go mem-plug
		step devices-mem-unplug
		if nt wait $con "NT-SYNC mem-unplug" 300 >/dev/null; then
			s=$(dev_api GET /hotplug/memory)
			case $s in
			*'"plugged_size_mib":256,"requested_size_mib":256'*)
				R PASS mem-api "GET /hotplug/memory after the plug: $s" ;;
			*) R FAIL mem-api "GET /hotplug/memory after the plug: $s" ;;
			esac
			rss0=$(vm_kib $epid VmRSS)
			dev_api PATCH /hotplug/memory '{"requested_size_mib": 0}' >/dev/null ||
				echo "NT-L1: PATCH /hotplug/memory 0 refused"
			dev_go mem-unplug
			dev_unplug_at=$(up)
			# L2 touched 160 MiB of the plugged memory: those pages must go
			if wait_until 120 rss_below $epid $((rss0 - 96 * 1024)); then
				R PASS mem-rss "PATCH 0: ember VmRSS $((rss0 / 1024)) -> $(($(vm_kib $epid VmRSS) / 1024)) MiB"
			else
				R FAIL mem-rss "ember VmRSS $((rss0 / 1024)) -> $(($(vm_kib $epid VmRSS) / 1024)) MiB 120 s after PATCH 0: $(dev_api GET /hotplug/memory)"
			fi
		fi
	fi
	step devices-exit
	wait_until 120 gone $epid || kill $epid
	wait $epid
	rc=$?
	hide_console
	exec 7>&-
	echo "NT-L1: devices run ended after $(echo "$(up) - $t0" | bc) s, ember exit $rc"
	diagnose $rc $errf $con
	dev_trace_dump $errf
	results_from $con
	# the devices' metrics groups, summed over every line ember flushed (the
	# last one at its exit)
	step devices-metrics
	ent=$(dev_metric entropy entropy_bytes) pq=$(dev_metric pmem_pm0 queue_event_count)
	pf=$(dev_metric pmem flush_count) mp=$(dev_metric memory_hotplug plug_bytes)
	mu=$(dev_metric memory_hotplug unplug_bytes) mc=$(dev_metric memory_hotplug plug_count)
	mf=$(dev_metric memory_hotplug queue_event_fails)
	m="entropy.entropy_bytes $ent, pmem_pm0.queue_event_count $pq, pmem.flush_count $pf, memory_hotplug: plug_count $mc, plug_bytes $((mp >> 20)) MiB, unplug_bytes $((mu >> 20)) MiB, queue_event_fails $mf"
	if [ "$ent" -ge 8192 ] && [ "$pq" -ge 1 ] && [ "$pf" -ge 1 ] && [ "$mc" -ge 1 ] &&
		[ "$mp" -ge $((256 << 20)) ] && [ "$mu" -ge $((256 << 20)) ] && [ "$mf" = 0 ] &&
		grep -q '"plug_agg":{"min_us":[0-9]*,"max_us":[1-9]' /tmp/dev.metrics; then
		R PASS devices-metrics "$m"
	else
		R FAIL devices-metrics "$m; last line: $(tail -n 1 /tmp/dev.metrics | cut -c1-300)"
	fi
	# what L2 wrote through the DAX mapping is in the file now ember is gone
	step pmem-l1
	want=$(nt gen 9 4M | sha256sum | cut -d' ' -f1)
	rm -f /tmp/pmem.out
	$E2/debugfs -R "dump /data /tmp/pmem.out" /tmp/pmem.img 2>/dev/null
	got=$(sha256sum </tmp/pmem.out 2>/dev/null | cut -d' ' -f1)
	rm -f /tmp/pmem.out
	if [ "$got" = "$want" ]; then
		R PASS pmem-l1-file "the 4 MiB file L2 wrote on the -o dax mount is in the host file (sha256 ok)"
	else
		R FAIL pmem-l1-file "sha256 of /data in the pmem image on L1: '$got', want $want"
	fi
}
retrying devices run_devices
