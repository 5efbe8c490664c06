# L1 side of the `netloop` run (make nested only, never in make test): main's
# L2 -> L1 TCP upload (busybox nc over virtio-net and L1's tap0; L2 with 2
# vCPUs and 512 MiB, vsock and a polling balloon beside it as in main)
# repeated nt.netloop_n times (default 2) with nt.netloop_mib MiB (16), to
# reproduce a stalled upload: NESTED_L1_ARGS="nt.netloop_n=10" make nested
# NESTED_ONLY=netloop. An upload L2 does not finish within nt.netloop_secs
# (default 300 s) counts as stalled: L2 prints its TCP and interrupt counts,
# L1 its own TCP state and ember's net metrics twice 3 s apart, then the next
# round starts. Then, under ember, a check of the tx rate limiter set through
# PATCH /network-interfaces. nt.netloop_vmm=qemu runs the same L2 under Debian's QEMU
# -M microvm instead, for comparison (NESTED_QEMU=1 puts QEMU into L1).
# L2 side: tests/nested/l2/netloop.sh.
run_netloop() {
	step netloop-boot
	nl_opt() { v=$(sed -n "s/.*nt\.netloop_$1=\([0-9a-z]*\).*/\1/p" /proc/cmdline); echo "${v:-$2}"; }
	nl_n=$(nl_opt n 2) nl_mib=$(nl_opt mib 16) nl_secs=$(nl_opt secs 300) nl_vmm=$(nl_opt vmm ember)
	rm -f /tmp/netloop.in /tmp/nf /tmp/nl.sock /tmp/nlv.sock* /tmp/nl.metrics
	con=/tmp/netloop.con api=/tmp/nl.sock errf=/tmp/netloop.err
	: >$con
	: >/tmp/nl.metrics
	mkfifo /tmp/netloop.in /tmp/nf
	exec 7<>/tmp/netloop.in
	# nt.netloop_l2args=A,B: more words for L2's command line (nt.mod.virtio_net.napi_tx=0...)
	nl_args="$L2_ARGS $(sed -n 's/.*nt\.netloop_l2args=\([^ ]*\).*/\1/p' /proc/cmdline | tr , ' ') nt.run=netloop nt.netloop_n=$nl_n nt.netloop_mib=$nl_mib nt.netloop_secs=$nl_secs nt.netloop_vmm=$nl_vmm"
	cat >/tmp/netloop.json <<-EOF2
	{
	  "boot-source": {"kernel_image_path": "/l2/vmlinuz", "initrd_path": "/l2/initrd", "boot_args": "$nl_args"},
	  "machine-config": {"vcpu_count": 2, "mem_size_mib": 512},
	  "network-interfaces": [{"iface_id": "eth0", "host_dev_name": "tap0", "guest_mac": "06:00:ac:10:00:02"}],
	  "vsock": {"guest_cid": 3, "uds_path": "/tmp/nlv.sock"},
	  "balloon": {"amount_mib": 0, "deflate_on_oom": false, "stats_polling_interval_s": 1},
	  "metrics": {"metrics_path": "/tmp/nl.metrics"}
	}
	EOF2
	t0=$(up)
	if [ "$nl_vmm" = qemu ]; then
		timeout 3000 /usr/bin/qemu-system-x86_64 -M microvm -accel kvm -cpu host -smp 2 -m 512M \
			-nodefaults -no-user-config -display none -monitor none -serial stdio -no-reboot \
			-kernel /l2/vmlinuz -initrd /l2/initrd -append "$nl_args" \
			-netdev tap,id=n0,ifname=tap0,script=no,downscript=no,vhost=off \
			-device virtio-net-device,netdev=n0,mac=06:00:ac:10:00:02 <&7 >$con 2>$errf &
	else
		timeout 3000 ember --api-sock $api --config-file /tmp/netloop.json <&7 >$con 2>$errf &
	fi
	epid=$!
	show_console $con
	# Experiments on the VMM thread (ember's main thread; tests/nested/README.md, "Why L2 -> L1
	# TCP was slow"): nt.netloop_renice=N runs it at nice N, nt.netloop_batch=1 under SCHED_BATCH
	nl_rn=$(nl_opt renice 0) nl_batch=$(nl_opt batch 0)
	if [ "$nl_rn" != 0 ] || [ "$nl_batch" = 1 ]; then
		wait_until 30 pidof ember >/dev/null
		nl_vmm_tid=$(pidof ember | cut -d' ' -f1)
		[ "$nl_rn" = 0 ] || echo "NT-L1: netloop: renice $nl_rn: $(renice -n "$nl_rn" -p $nl_vmm_tid 2>&1; echo $?)"
		[ "$nl_batch" = 1 ] && echo "NT-L1: netloop: SCHED_BATCH: $(nt sched-batch $nl_vmm_tid 2>&1; echo $?)"
	fi
	nl_dump() { # L1's view: its TCP socket, tap0, ember's net metrics
		echo "NT-L1: netloop $1: tcp $(grep ':1389 ' /proc/net/tcp | tr -s ' ' | tr '\n' '|')"
		echo "NT-L1: netloop $1: $(grep '^Tcp:' /proc/net/snmp | tail -n 1), $(grep tap0 /proc/net/dev | tr -s ' ')"
		[ "$nl_vmm" = qemu ] && return
		nt http $api PUT /actions '{"action_type": "FlushMetrics"}' >/dev/null
		echo "NT-L1: netloop $1: ember $(tail -n 1 /tmp/nl.metrics | grep -o '"net":{[^}]*}')"
	}
	# the VMM's threads: name utime stime (ticks)
	nl_threads() {
		for t in /proc/$(pidof ember | cut -d" " -f1)/task/*; do
			awk '{ printf "%s:%s/%s ", $2, $14, $15 }' $t/stat 2>/dev/null
		done
	}
	# counters around a round: L1's CPU, the VMM's threads, KVM's exits, ember's metrics
	mount -t debugfs none /sys/kernel/debug 2>/dev/null
	nl_kvm() {
		for f in exits halt_exits irq_exits io_exits mmio_exits irq_injections nmi_injections \
			request_irq_exits signal_exits halt_wakeup halt_successful_poll halt_attempted_poll; do
			[ -e /sys/kernel/debug/kvm/$f ] && printf "%s=%s " $f "$(cat /sys/kernel/debug/kvm/$f)"
		done
	}
	nl_snap0() {
		[ "$nl_vmm" = ember ] && nt http $api PUT /actions '{"action_type": "FlushMetrics"}' >/dev/null
		nl_ml0=$(wc -l </tmp/nl.metrics)
		nl_t0=$(up) nl_stat0=$(head -n 1 /proc/stat) nl_thr0=$(nl_threads) nl_kvm0=$(nl_kvm)
		# L2's exits to L1 by reason (an ftrace histogram, where the kernel has them)
		nl_tr=/sys/kernel/debug/tracing/events/kvm/kvm_exit
		[ -e $nl_tr/trigger ] && echo 'hist:keys=exit_reason:sort=hitcount.descending' >$nl_tr/trigger 2>/dev/null
		nl_msr=/sys/kernel/debug/tracing/events/kvm/kvm_msr
		[ -e $nl_msr/trigger ] && echo 'hist:keys=ecx,write:sort=hitcount.descending' >$nl_msr/trigger 2>/dev/null
	}
	nl_snap1() {
		echo "NT-L1: netloop $1: $(echo "$(up) - $nl_t0" | bc) s after GO"
		echo "NT-L1: netloop $1: cpu before $nl_stat0"
		echo "NT-L1: netloop $1: cpu after  $(head -n 1 /proc/stat)"
		echo "NT-L1: netloop $1: threads before $nl_thr0"
		echo "NT-L1: netloop $1: threads after  $(nl_threads)"
		echo "NT-L1: netloop $1: kvm before $nl_kvm0"
		echo "NT-L1: netloop $1: kvm after  $(nl_kvm)"
		if [ -e $nl_tr/hist ]; then
			echo "NT-L1: netloop $1: exits by reason: $(grep -a 'exit_reason' $nl_tr/hist | tr -s ' \t' ' ' | tr '\n' '|')"
			echo '!hist:keys=exit_reason:sort=hitcount.descending' >$nl_tr/trigger 2>/dev/null
			echo "NT-L1: netloop $1: MSR accesses: $(grep -a 'ecx' $nl_msr/hist | tr -s ' \t' ' ' | tr '\n' '|')"
			echo '!hist:keys=ecx,write:sort=hitcount.descending' >$nl_msr/trigger 2>/dev/null
		fi
		[ "$nl_vmm" = ember ] || return 0
		nt http $api PUT /actions '{"action_type": "FlushMetrics"}' >/dev/null
		tail -n +$((nl_ml0 + 1)) /tmp/nl.metrics | while read -r l; do
			echo "NT-L1: netloop $1: ember $(echo "$l" | grep -o '"net":{[^}]*}') $(echo "$l" | grep -o '"vcpu":{[^}]*}')"
		done
	}
	nl_stalls=0 nl_ok=0 i=1
	while [ $i -le "$nl_n" ]; do
		step netloop-$i
		nt wait $con "NT-SYNC loop-$i" 600 >/dev/null || break
		(nc -l -p 5001 0<>/tmp/nf | sha256sum | cut -d' ' -f1 >/tmp/nl.sum) &
		nl_snap0
		echo "GO loop-$i" >&7
		# L2 ends each round itself, stalled or not
		nt wait $con "NT-SYNC loop-end-$i" $((nl_secs + 600)) >/dev/null || break
		if tr -d '\r' <$con | grep -aq "NT-L2: netloop $i stalled"; then
			nl_stalls=$((nl_stalls + 1))
			nl_dump "$i stalled"
			usleep 3000000
			nl_dump "$i stalled +3 s"
		else
			nl_ok=$((nl_ok + 1))
			nl_snap1 $i
		fi
		for p in $(pidof nc); do kill "$p" 2>/dev/null; done
		wait_until 10 test -s /tmp/nl.sum
		[ "$(cat /tmp/nl.sum)" = "$(nt gen 11 "${nl_mib}M" | sha256sum | cut -d' ' -f1)" ] ||
			echo "NT-L1: netloop $i: sha256 $(cat /tmp/nl.sum) is not the data's"
		rm -f /tmp/nl.sum
		echo "GO loop-end-$i" >&7
		i=$((i + 1))
	done
	# the other way: the same size L1 -> L2, with the same counters
	if nt wait $con "NT-SYNC down" 600 >/dev/null; then
		nl_snap0
		echo "GO down" >&7
		i=0
		until NT_TIMEOUT=900 nt gen 12 "${nl_mib}M" | nc 172.16.0.2 5005 2>/tmp/nc.err; do
			i=$((i + 1))
			[ $i -lt 100 ] && grep -q "can't connect\|refused" /tmp/nc.err || break
			usleep 100000
		done
		nt wait $con "NT-SYNC down-done" 600 >/dev/null
		nl_snap1 down
		echo "GO down-done" >&7
	fi
	# tx rate limiter (ember only): PATCH 32 KiB/s (bucket starts full), 512 KiB
	# from L2, timed by L1 from its GO to L2's end (about 15 s; the natural
	# upload rate here is 70-240 KB/s)
	if [ "$nl_vmm" = ember ] && nt wait $con "NT-SYNC tx-rl" 600 >/dev/null; then
		(nc -l -p 5004 0<>/tmp/nf | wc -c >/tmp/nl.rl) &
		if nt http $api PATCH /network-interfaces/eth0 '{"iface_id": "eth0", "tx_rate_limiter": {"bandwidth": {"size": 32768, "refill_time": 1000}}}' >/dev/null; then
			ts=$(up)
			echo "GO tx-rl" >&7
			nt wait $con "NT-SYNC tx-rl-done" 300 >/dev/null
			dt=$(echo "$(up) - $ts" | bc)
			wait_until 10 test -s /tmp/nl.rl
			rate=$(echo "(524288 - 32768) / 1024 / $dt" | bc)
			what="tx limited to 32 KiB/s: $(cat /tmp/nl.rl) of 524288 bytes in $dt s = $rate KiB/s past the 32 KiB burst"
			if [ "$(cat /tmp/nl.rl)" = 524288 ] && [ "$rate" -ge 25 ] && [ "$rate" -le 38 ]; then
				R PASS net-tx-rate-limit "$what (+-20%)"
			else
				R FAIL net-tx-rate-limit "$what"
			fi
		else
			R FAIL net-tx-rate-limit "PATCH /network-interfaces/eth0 tx_rate_limiter refused"
			echo "GO tx-rl" >&7
		fi
		echo "GO tx-rl-done" >&7
	fi
	if [ $((nl_ok + nl_stalls)) = "$nl_n" ] && [ $nl_stalls = 0 ]; then
		R PASS netloop-uploads "$nl_n x $nl_mib MiB L2 -> L1 under $nl_vmm, none stalled"
	else
		R FAIL netloop-uploads "$nl_stalls of $((nl_ok + nl_stalls)) uploads of $nl_mib MiB under $nl_vmm stalled ($nl_n planned)"
	fi
	wait_until 120 gone $epid || kill $epid
	wait $epid
	rc=$?
	hide_console
	exec 7>&-
	echo "NT-L1: netloop run ended after $(echo "$(up) - $t0" | bc) s, exit $rc"
	diagnose $rc $errf $con
}
run_netloop
