# Stress run `snapcycle` (make nested NESTED_ONLY=snapcycle; not in make
# test): one L2 (the snapshot run's L2 side, tests/nested/l2/snapshot.sh)
# paused, snapshotted (Full), its ember SIGKILLed and the snapshot loaded in
# a fresh ember, 10 times in a row, each restore checked to count on; the
# vCPU state ember logs at every save and load is printed (NT-L1: cN ...).
# For hunting restore faults that show in a fraction of runs.
cyc_api() { nt http "$cyc_sock" "$@"; }
cyc_counts() { tr -d '\r' <"$1" | sed -n 's/^NT-COUNT \([0-9]*\)$/\1/p'; }
run_snapcycle() {
	step snapcycle-setup
	rm -f /tmp/cyc*
	truncate -s 32M /tmp/cyc.img && $E2/mke2fs -q -t ext4 -F /tmp/cyc.img
	cat >/tmp/cyc.json <<-EOF2
	{
	  "boot-source": {"kernel_image_path": "/l2/vmlinuz", "initrd_path": "/l2/initrd",
	                  "boot_args": "$L2_ARGS nt.run=snapshot"},
	  "machine-config": {"vcpu_count": 1, "mem_size_mib": 256},
	  "drives": [{"drive_id": "data", "path_on_host": "/tmp/cyc.img", "is_root_device": false, "is_read_only": false}],
	  "network-interfaces": [{"iface_id": "eth0", "host_dev_name": "tap0", "guest_mac": "06:00:ac:10:00:02"}],
	  "vsock": {"guest_cid": 3, "uds_path": "/tmp/cycv.sock"}
	}
	EOF2
	con=/tmp/cyc0.con errf=/tmp/cyc0.err
	: >$con
	ember --api-sock /tmp/cyc0.sock --config-file /tmp/cyc.json </dev/null >$con 2>$errf &
	epid=$!
	if ! nt wait $con "NT-COUNT 10" 300 >/dev/null; then
		R FAIL snapcycle "no count 10 at boot"
		kill $epid
		return
	fi
	cyc_sock=/tmp/cyc0.sock
	ok=0
	ncyc=10
	for c in $(seq 1 $ncyc); do
		step snapcycle-$c
		mem=/tmp/cyc$((c % 2)).mem
		rm -f $mem
		cyc_api PATCH /vm '{"state": "Paused"}' >/dev/null &&
			cyc_api PUT /snapshot/create "{\"snapshot_type\": \"Full\", \"snapshot_path\": \"/tmp/cyc.state\", \"mem_file_path\": \"$mem\"}" >/dev/null ||
			{ echo "NT-L1: cycle $c: create refused"; break; }
		kill -9 $epid
		wait $epid
		grep -a 'vCPU [0-9]* saved\|payload moved' $errf | sed "s/^.*\] /NT-L1: c$c /"
		last=$(cyc_counts $con | tail -n 1)
		rm -f /tmp/cycv.sock
		con=/tmp/cyc$c.con errf=/tmp/cyc$c.err
		: >$con
		ember --api-sock /tmp/cyc$c.sock </dev/null >$con 2>$errf &
		epid=$!
		cyc_sock=/tmp/cyc$c.sock
		wait_until 30 test -S $cyc_sock
		cyc_api PUT /snapshot/load "{\"snapshot_path\": \"/tmp/cyc.state\", \"mem_backend\": {\"backend_type\": \"File\", \"backend_path\": \"$mem\"}, \"resume_vm\": true}" >/dev/null ||
			{ echo "NT-L1: cycle $c: load refused: $(tail -n 2 $errf)"; break; }
		grep -a 'vCPU [0-9]* restored' $errf | sed "s/^.*\] /NT-L1: c$c /"
		if nt wait $con "NT-COUNT $((last + 3))" 90 >/dev/null; then
			ok=$((ok + 1))
			echo "NT-L1: cycle $c ok (killed at $last)"
		else
			echo "NT-L1: cycle $c FAILED (killed at $last)"
			tr -d '\r' <$con | tail -n 60 | sed 's/^/L2-tail| /'
			tail -n 20 $errf | sed 's/^/ember| /'
			break
		fi
	done
	kill -9 $epid 2>/dev/null
	wait $epid
	if [ $ok = $ncyc ]; then R PASS snapcycle "$ok restores in a row"; else R FAIL snapcycle "$ok of $ncyc restores"; fi
	rm -f /tmp/cyc*.mem
}
run_snapcycle
