# L1 side of the `main` run (sourced by l1-init.sh; tests/nested/README.md):
# API mode with --config-file, bzImage, 2 vCPUs, 512 MiB, all four devices,
# ember's default seccomp filters, SendCtrlAltDel. L2 side: tests/nested/l2/main.sh.

run_main() {
	step main-images
	rm -f /tmp/main.in /tmp/nf /tmp/api.sock /tmp/v.sock*
	truncate -s 256M /tmp/disk.img && $E2/mke2fs -q -t ext4 -F /tmp/disk.img ||
		echo "NT-L1: mke2fs failed"
	nt gen 5 8M >/tmp/ro.img
	nt gen 13 4M >/tmp/swapA.img
	nt gen 14 12M >/tmp/swapB.img
	con=/tmp/main.con api=/tmp/api.sock
	: >$con
	mkfifo /tmp/main.in
	exec 7<>/tmp/main.in
	cat >/tmp/main.json <<-EOF
	{
	  "boot-source": {"kernel_image_path": "/l2/vmlinuz", "initrd_path": "/l2/initrd",
	                  "boot_args": "$L2_ARGS nt.run=main"},
	  "machine-config": {"vcpu_count": 2, "mem_size_mib": 512},
	  "drives": [
	    {"drive_id": "data", "path_on_host": "/tmp/disk.img", "is_root_device": false, "is_read_only": false},
	    {"drive_id": "ro", "path_on_host": "/tmp/ro.img", "is_root_device": false, "is_read_only": true},
	    {"drive_id": "swap", "path_on_host": "/tmp/swapA.img", "is_root_device": false, "is_read_only": true}
	  ],
	  "network-interfaces": [{"iface_id": "eth0", "host_dev_name": "tap0", "guest_mac": "06:00:ac:10:00:02"}],
	  "vsock": {"guest_cid": 3, "uds_path": "/tmp/v.sock"},
	  "balloon": {"amount_mib": 0, "deflate_on_oom": false, "stats_polling_interval_s": 1}
	}
	EOF
	step main-boot
	t0=$(up)
	errf=/tmp/main.err
	timeout 1500 ember --api-sock $api --config-file /tmp/main.json <&7 >$con 2>$errf &
	epid=$!
	show_console $con
	# sync NAME [SECONDS]: wait for L2's NT-SYNC NAME
	sync_l2() {
		step "main-$1"
		nt wait $con "NT-SYNC $1" "${2:-300}" >/dev/null
	}
	go() { echo "GO $1" >&7; }
	api() { nt http $api "$@"; }
	cad="" stalled=0
	if main_steps; then
		api PUT /actions '{"action_type": "SendCtrlAltDel"}' ||
			echo "NT-L1: PUT /actions SendCtrlAltDel refused"
		# L2 resets within seconds; if not, L2 ends itself with reboot -f
		if ! wait_until 30 gone $epid; then
			cad="L2 did not reset within 30 s of SendCtrlAltDel"
			go ctrl-alt-del
		fi
	fi
	step main-exit
	if ! wait_until 60 gone $epid; then
		echo "NT-L1: ember still running 60 s after the last step: stopping it (L2 stalled)"
		stalled=1
		kill $epid
	fi
	wait $epid
	rc=$?
	hide_console
	exec 7>&-
	echo "NT-L1: main run ended after $(echo "$(up) - $t0" | bc) s, ember exit $rc"
	diagnose $rc /tmp/main.err $con
	results_from $con
	if [ -n "$cad" ]; then
		R FAIL lifecycle-ctrl-alt-del "$cad; L2: $(tr -d '\r' <$con | grep -a 'dmesg:.*\] i8042:' | sed 's/.*\] //' | tr '\n' ' ')"
	else
		exit_ok lifecycle-ctrl-alt-del $rc $con "reboot: Restarting system"
	fi

	step blk-e2fsck
	if out=$($E2/e2fsck -fn /tmp/disk.img 2>&1); then
		R PASS blk-e2fsck "e2fsck -fn of the image after ember exited: $(echo "$out" | tail -n 1)"
	else
		R FAIL blk-e2fsck "$(echo "$out" | tail -n 3 | tr '\n' ' ')"
	fi
	want=$(nt gen 7 64M | sha256sum | cut -d' ' -f1)
	$E2/debugfs -R "dump /data /tmp/data.out" /tmp/disk.img 2>/dev/null
	got=$(sha256sum </tmp/data.out | cut -d' ' -f1)
	rm -f /tmp/data.out
	if [ "$got" = "$want" ]; then
		R PASS blk-l1-checksum "the 64 MiB file read on L1 from the image matches"
	else
		R FAIL blk-l1-checksum "sha256 $got, want $want"
	fi
}

# The L1 halves of the main run's steps; returns non-zero when L2 stops answering.
main_steps() {
	sync_l2 drive-swap 600 || return 1
	t=$(echo "$(up) - $t0" | bc)
	R PASS l2-ready "L2 went through boot, drivers and the ext4 write to its first handshake $t s after ember started"
	# ember's default seccomp filters: every thread in filter mode (Seccomp: 2)
	modes=$(for t in /proc/$epid/task/*; do sed -n 's/^Seccomp:[[:space:]]*//p' "$t/status"; done)
	n=$(echo "$modes" | grep -c .) other=$(echo "$modes" | grep -vc '^2$')
	if [ "$n" -gt 0 ] && [ "$other" = 0 ]; then
		R PASS seccomp-default "all $n ember threads run with seccomp filters (mode 2) while L2 works"
	else
		R FAIL seccomp-default "ember threads' seccomp modes: $(echo $modes)"
	fi
	api PATCH /drives/swap '{"drive_id": "swap", "path_on_host": "/tmp/swapB.img"}' >/dev/null ||
		echo "NT-L1: PATCH /drives/swap refused"
	go drive-swap
	sync_l2 net-ping || return 1
	if out=$(ping -c 3 -W 10 172.16.0.2 2>&1); then
		R PASS net-ping-in "$(echo "$out" | grep -o '[0-9]* packets received')"
	else
		R FAIL net-ping-in "$(echo "$out" | tail -n 2 | tr '\n' ' ')"
	fi
	mkfifo /tmp/nf
	(nc -l -p 5001 0<>/tmp/nf | sha256sum | cut -d' ' -f1 >/tmp/out.sum) &
	lpid=$!
	ts=$(up)
	go net-ping
	# 64 MiB (issue 10's size): 24-27 s at load 7-12 since ember's VMM thread
	# runs under SCHED_BATCH, 183 s once beside two other nested runs; 16 MiB
	# took 55-152 s before (tests/nested/README.md, "Why L2 -> L1 TCP was slow");
	# a transfer that stalls fails this wait, and the runner repeats the scenario
	# (retrying)
	sync_l2 net-out-done 480 || return 1
	wait $lpid
	echo "NT-L1: got 64 MiB from L2 in $(echo "$(up) - $ts" | bc) s"
	want=$(nt gen 11 64M | sha256sum | cut -d" " -f1)
	if [ "$(cat /tmp/out.sum)" = "$want" ]; then
		R PASS net-tcp-out "64 MiB from L2 over TCP (busybox nc), sha256 matches"
	else
		R FAIL net-tcp-out "sha256 $(cat /tmp/out.sum), want $want"
	fi
	i=0 ts=$(up)
	until NT_TIMEOUT=900 nt gen 12 64M | nc 172.16.0.2 5002 2>/tmp/nc.err; do
		i=$((i + 1))
		[ $i -lt 100 ] && grep -q "can't connect\|refused" /tmp/nc.err || break
		usleep 100000
	done
	echo "NT-L1: sent 64 MiB to L2 in $(echo "$(up) - $ts" | bc) s"
	go net-out-done

	# rx rate limiter: 128 KiB per second (bucket starts full), 2 MiB to L2.
	# The limit is well below what the nested TAP path carries on a loaded
	# host (1-2 MiB/s unlimited; at 512 KiB/s the lower bound failed at load 16)
	sync_l2 net-rl || return 1
	if api PATCH /network-interfaces/eth0 '{"iface_id": "eth0", "rx_rate_limiter": {"bandwidth": {"size": 131072, "refill_time": 1000}}}' >/dev/null; then
		i=0 ts=$(up)
		until nt gen 15 2M | nc 172.16.0.2 5003 2>/tmp/nc.err; do
			i=$((i + 1))
			[ $i -lt 100 ] && grep -q "can't connect\|refused" /tmp/nc.err || break
			usleep 100000
		done
		dt=$(echo "$(up) - $ts" | bc)
		# bytes past the initial bucket over the time taken, in KiB/s
		rate=$(echo "(2097152 - 131072) / 1024 / $dt" | bc)
		if [ "$rate" -ge 102 ] && [ "$rate" -le 154 ]; then
			R PASS net-rate-limit "rx limited to 128 KiB/s: 2 MiB in $dt s = $rate KiB/s past the 128 KiB burst (+-20%)"
		else
			R FAIL net-rate-limit "rx limited to 128 KiB/s: 2 MiB in $dt s = $rate KiB/s past the 128 KiB burst"
		fi
	else
		R FAIL net-rate-limit "PATCH /network-interfaces/eth0 refused"
	fi
	go net-rl

	sync_l2 vsock-start || return 1
	nt uds-serve /tmp/v.sock_6000 34 16M >/tmp/us.log 2>&1 &
	us=$!
	nt uds-serve /tmp/v.sock_6001 1 16M >/tmp/us1.log 2>&1 &
	us1=$!
	if out=$(nt uds-connect /tmp/v.sock 5000 1 16M); then
		R PASS vsock-host-to-guest "$(echo "$out" | head -n 1 | sed 's/^uds-connect: //')"
	else
		R FAIL vsock-host-to-guest "$(echo "$out" | tr '\n' ' ')"
	fi
	if out=$(nt uds-connect /tmp/v.sock 5000 32 256K); then
		R PASS vsock-host-to-guest-32 "$(echo "$out" | tail -n 1 | sed 's/^uds-connect: //')"
	else
		R FAIL vsock-host-to-guest-32 "$(echo "$out" | grep -v ': ok' | head -n 3 | tr '\n' ' ')"
	fi
	wait_until 30 [ -S /tmp/v.sock_6000 -a -S /tmp/v.sock_6001 ]
	go vsock-start
	sync_l2 vsock-done || return 1
	if wait $us; then
		R PASS vsock-l1-listener "$(tail -n 1 /tmp/us.log)"
	else
		R FAIL vsock-l1-listener "$(grep -v ': ok' /tmp/us.log | head -n 3 | tr '\n' ' ')"
	fi
	wait $us1
	if grep -q 'received 2097152 of 4194304 bytes' /tmp/us1.log && kill -0 $epid; then
		R PASS vsock-close-mid "host side saw the guest close after 2 MiB of 4; ember carries on"
	else
		R FAIL vsock-close-mid "$(head -n 2 /tmp/us1.log | tr '\n' ' ')"
	fi
	go vsock-done

	sync_l2 balloon-inflate || return 1
	epid_rss() {
		v=$(sed -n 's/^VmRSS:[[:space:]]*\([0-9]*\) kB/\1/p' /proc/$epid/status 2>/dev/null)
		echo "${v:-0}"
	}
	rss0=$(epid_rss)
	api PATCH /balloon '{"amount_mib": 256}' >/dev/null || R FAIL balloon-api "PATCH /balloon 256 refused"
	go balloon-inflate
	sync_l2 balloon-deflate || return 1
	rss_at_most() { [ "$(epid_rss)" -le "$1" ]; }
	if wait_until 60 rss_at_most $((rss0 - 160 * 1024)); then
		R PASS balloon-rss "ember VmRSS $((rss0 / 1024)) -> $(($(epid_rss) / 1024)) MiB after a 256 MiB inflate"
	else
		R FAIL balloon-rss "ember VmRSS $((rss0 / 1024)) -> $(($(epid_rss) / 1024)) MiB after a 256 MiB inflate"
	fi
	b=$(api GET /balloon)
	case $b in
	*'"amount_mib":256'*) R PASS balloon-api "GET /balloon: $b" ;;
	*) R FAIL balloon-api "GET /balloon: $b" ;;
	esac
	has_stats() {
		s=$(api GET /balloon/statistics)
		for f in actual_mib total_memory free_memory available_memory major_faults minor_faults; do
			case $s in *"\"$f\""*) ;; *) return 1 ;; esac
		done
	}
	if wait_until 30 has_stats; then
		R PASS balloon-stats "GET /balloon/statistics: $(echo "$s" | cut -c1-300)"
	else
		R FAIL balloon-stats "GET /balloon/statistics: $s"
	fi
	api PATCH /balloon '{"amount_mib": 0}' >/dev/null || R FAIL balloon-api "PATCH /balloon 0 refused"
	go balloon-deflate

	sync_l2 pause || return 1
	if api PATCH /vm '{"state": "Paused"}' >/dev/null && api GET / | grep -q '"Paused"'; then
		s0=$(stat -c %s $con)
		sleep 2 # the window in which a paused guest must print nothing
		s1=$(stat -c %s $con)
		api PATCH /vm '{"state": "Resumed"}' >/dev/null
		if [ "$s0" = "$s1" ] && nt wait $con "NT-TICK" 30 "$s1" >/dev/null; then
			R PASS pause-resume "no console output for 2 s while Paused, ticks again after Resumed"
		else
			R FAIL pause-resume "console $s0 -> $s1 bytes while Paused, or no tick after Resumed"
		fi
	else
		R FAIL pause-resume "PATCH /vm Paused or GET / state"
	fi
	go pause
	sync_l2 ctrl-alt-del || return 1
}

retrying main run_main
