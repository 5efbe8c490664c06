# L1 side of the `snapshot` run (sourced by l1-init.sh; L2 side:
# tests/nested/l2/snapshot.sh): Linux restored from a snapshot. L2 counts
# (console + a file on ext4), holds a TCP and a vsock connection; L1 pauses
# it, takes a Full snapshot, kills ember (SIGKILL) and loads the snapshot in
# a fresh ember: the count continues from the next number, the TCP
# connection carries on, the guest reconnects vsock after the transport
# reset, L1 pings it, the VM generation ID changed; after L2 unmounts and
# reboots, e2fsck finds the file system clean and /count holds L2's last
# number. Then 4 clones load the same snapshot at once (own TAP, vsock socket
# and disk copy each, through network_overrides, vsock_override and the
# drive path being a symlink repointed between loads).
snap_api() { nt http "$snap_sock" "$@"; }
snap_wait() { nt wait "$1" "$2" "${3:-120}" >/dev/null; }
# snap_counts CONSOLE...: the NT-COUNT numbers of the consoles read as one
# stream, one a line. The pause can fall in the middle of a line (the guest
# writes it byte by byte; L1 pauses as soon as it sees "NT-COUNT 10"): the
# restored guest prints the rest of it, so the cold boot's console and the
# restored one's join into whole lines; an unfinished last line is left out
# (the marker spoils it).
snap_counts() { { cat "$@"; echo '#end'; } | tr -d '\r' | sed -n 's/^NT-COUNT \([0-9][0-9]*\)$/\1/p'; }
# snap_consecutive CONSOLE: the cold boot's console and CONSOLE (a restored
# guest's) count 1, 2, 3, ... without a gap or a repeat, past the snapshot
snap_consecutive() {
	snap_counts /tmp/snapA.con "$1" | awk -v l="$last" '$1 != NR { bad = 1; exit } END { exit bad || NR <= l }'
}
# snap_private PID: "CLEAN DIRTY" KiB of the process's private pages (smaps_rollup)
snap_private() {
	awk '/^Private_Clean:/ { c = $2 } /^Private_Dirty:/ { d = $2 } END { print c + 0, d + 0 }' /proc/$1/smaps_rollup 2>/dev/null || echo "0 0"
}
# snap_where: where in its output the cold-booted guest was paused
snap_where() {
	[ "$(tail -c 1 /tmp/snapA.con | od -An -tx1 | tr -d ' ')" = 0a ] && echo "at a line end" || echo "mid-line"
}
snap_genids() { tr -d '\r' <"$1" | sed -n 's/^NT-GENID \([0-9a-f]*\) changed.*/\1/p'; }
# snap_ember NAME: a fresh ember in API mode, console /tmp/NAME.con, its input
# the fifo /tmp/NAME.in on fd 9 (closed by the next call), pid in spid
snap_ember() {
	rm -f /tmp/$1.sock /tmp/$1.in
	: >/tmp/$1.con
	mkfifo /tmp/$1.in
	exec 9<>/tmp/$1.in
	ember --api-sock /tmp/$1.sock <&9 >/tmp/$1.con 2>/tmp/$1.err &
	spid=$!
}
run_snapshot() {
	step snapshot-setup
	rm -f /tmp/snap.* /tmp/snap.nf /tmp/sv.sock* /tmp/snapA.* /tmp/snapB.* /tmp/snapC*
	truncate -s 32M /tmp/snap.img && $E2/mke2fs -q -t ext4 -F /tmp/snap.img
	ln -sf /tmp/snap.img /tmp/snap.drive
	cat >/tmp/snap.json <<-EOF2
	{
	  "boot-source": {"kernel_image_path": "/l2/vmlinuz", "initrd_path": "/l2/initrd",
	                  "boot_args": "$L2_ARGS nt.run=snapshot"},
	  "machine-config": {"vcpu_count": 1, "mem_size_mib": 256},
	  "drives": [{"drive_id": "data", "path_on_host": "/tmp/snap.drive", "is_root_device": false, "is_read_only": false}],
	  "network-interfaces": [{"iface_id": "eth0", "host_dev_name": "tap0", "guest_mac": "06:00:ac:10:00:02"}],
	  "vsock": {"guest_cid": 3, "uds_path": "/tmp/sv.sock"}
	}
	EOF2
	# (busybox nc ends the connection at EOF on its stdin: a FIFO keeps it open)
	mkfifo /tmp/snap.nf
	(nc -l -p 5010 0<>/tmp/snap.nf >/tmp/snap.tcp) &
	NT_TIMEOUT=1200 nt uds-hold /tmp/sv.sock_6010 >/tmp/snap.uds 2>&1 &
	step snapshot-boot
	t0=$(up)
	rm -f /tmp/snapA.sock
	: >/tmp/snapA.con
	errf=/tmp/snapA.err con=/tmp/snapA.con
	show_console $con
	ember --api-sock /tmp/snapA.sock --config-file /tmp/snap.json </dev/null >$con 2>$errf &
	epid=$!
	rc=0 stalled=0
	# (until the count or ember's end: a guest that died at boot is retried
	# at once, not after the full 300 s)
	snap_booted() { grep -aq 'NT-COUNT 10' $con || gone $epid; }
	if ! wait_until 300 snap_booted || ! grep -aq 'NT-COUNT 10' $con; then
		stalled=1
		kill $epid
		wait $epid
		rc=$?
		hide_console
		diagnose $rc $errf $con
		results_from $con
		return
	fi
	step snapshot-create
	set -- $(snap_private $epid)
	cold_clean=$1 cold_dirty=$2
	snap_sock=/tmp/snapA.sock
	ts=$(up)
	if snap_api PATCH /vm '{"state": "Paused"}' >/dev/null &&
		snap_api PUT /snapshot/create '{"snapshot_type": "Full", "snapshot_path": "/tmp/snap.state", "mem_file_path": "/tmp/snap.mem"}' >/dev/null; then
		R PASS snapshot-create "paused and Full snapshot of 256 MiB in $(echo "$(up) - $ts" | bc) s: state $(stat -c %s /tmp/snap.state) bytes, memory file $(du -k /tmp/snap.mem | cut -f1) KiB on disk"
	else
		R FAIL snapshot-create "PATCH /vm Paused or PUT /snapshot/create refused"
	fi
	kill -9 $epid
	wait $epid
	hide_console
	results_from $con
	last=$(snap_counts $con | tail -n 1)
	tcp_before=$(wc -l </tmp/snap.tcp)
	echo "NT-L1: ember killed at count $last; L1 got $tcp_before lines over TCP"
	grep -a 'vCPU [0-9]* saved\|payload moved' /tmp/snapA.err | sed 's/^.*\] /NT-L1: /'
	for i in 1 2 3 4; do cp /tmp/snap.img /tmp/snapC$i.img; done

	step snapshot-load
	rm -f /tmp/sv.sock # the killed ember's listener
	snap_ember snapB
	errf=/tmp/snapB.err con=/tmp/snapB.con
	show_console $con
	snap_sock=/tmp/snapB.sock
	ts=$(up)
	if snap_api PUT /snapshot/load '{"snapshot_path": "/tmp/snap.state", "mem_backend": {"backend_type": "File", "backend_path": "/tmp/snap.mem"}, "resume_vm": true}' >/dev/null; then
		echo "NT-L1: loaded and resumed in $(echo "$(up) - $ts" | bc) s (API round trip)"
	else
		R FAIL snapshot-counter "PUT /snapshot/load refused: $(tail -n 2 $errf | tr '\n' ' ')"
	fi
	grep -a 'vCPU [0-9]* restored' $errf | sed 's/^.*\] /NT-L1: /'
	step snapshot-counter
	if snap_wait $con "NT-COUNT $((last + 3))" 120 && snap_consecutive $con; then
		R PASS snapshot-counter "in a fresh ember the count went on at $((last + 1)) (killed at $last, paused $(snap_where))"
	else
		R FAIL snapshot-counter "after the load: $(snap_counts $con | head -n 3 | tr '\n' ' ') (killed at $last)"
	fi
	step snapshot-vsock
	if snap_wait $con "vsock-hold: connection 2 up" 120 && wait_until 30 grep -q 'hold 2' /tmp/snap.uds; then
		R PASS snapshot-vsock "$(tr -d '\r' <$con | grep -a 'vsock-hold: connection 1 lost' | head -n 1); the guest connected again: $(grep 'hold 2' /tmp/snap.uds)"
	else
		R FAIL snapshot-vsock "L2: $(tr -d '\r' <$con | grep -a 'vsock-hold' | tr '\n' ' '); L1: $(tr '\n' ' ' </tmp/snap.uds)"
	fi
	snap_tcp_after() { [ "$(tail -n 1 /tmp/snap.tcp)" -gt "$last" ] 2>/dev/null; }
	step snapshot-tcp
	if wait_until 60 snap_tcp_after; then
		R PASS snapshot-tcp "the TCP connection opened before the snapshot carries on: L1 read $(tail -n 1 /tmp/snap.tcp) > $last ($(wc -l </tmp/snap.tcp) lines)"
	else
		R FAIL snapshot-tcp "L1's last line over TCP: '$(tail -n 1 /tmp/snap.tcp)' (killed at $last)"
	fi
	step snapshot-ping
	if out=$(ping -c 3 -W 10 172.16.0.2 2>&1); then
		R PASS snapshot-ping "$(echo "$out" | grep -o '[0-9]* packets received')"
	else
		R FAIL snapshot-ping "$(echo "$out" | tail -n 2 | tr '\n' ' ')"
	fi
	step snapshot-vmgenid
	g0=$(tr -d '\r' </tmp/snapA.con | sed -n 's/^NT-GENID \([0-9a-f]*\) at start.*/\1/p')
	if snap_wait $con "NT-GENID" 60 && g1=$(snap_genids $con | head -n 1) && [ -n "$g1" ] && [ "$g1" != "$g0" ]; then
		R PASS snapshot-vmgenid "L2 read a new VM generation ID after the load: $g0 -> $g1 ($(tr -d '\r' <$con | grep -a -o 'GED interrupts: [0-9]*' | head -n 1))"
	else
		R FAIL snapshot-vmgenid "at boot '$g0', after the load: $(tr -d '\r' <$con | grep -a NT-GENID | head -n 2 | tr '\n' ' ')"
	fi
	echo "GO snapshot-end" >&9
	step snapshot-end
	wait_until 120 gone $spid || kill $spid
	wait $spid
	rrc=$?
	hide_console
	exec 9>&-
	diagnose $rrc $errf $con
	# A fault of the restored guest is what this run looks for: it fails the
	# checks above and is not retried (`retrying` repeats a boot that failed)
	rc=0
	results_from $con
	final=$(tr -d '\r' <$con | sed -n 's/^NT-L2: final count \([0-9]*\),.*/\1/p')
	if out=$($E2/e2fsck -fn /tmp/snap.img 2>&1) &&
		got=$($E2/debugfs -R "cat /count" /tmp/snap.img 2>/dev/null) && [ -n "$final" ] && [ "$got" = "$final" ]; then
		R PASS snapshot-fs "e2fsck -fn clean after the restored L2 unmounted; /count = $got, its last count"
	else
		R FAIL snapshot-fs "e2fsck: $(echo "$out" | tail -n 2 | tr '\n' ' '); /count '${got:-}', L2's last '$final'"
		# what the restored L2 and its ember said last (the console is hidden by now)
		tr -d '\r' <$con | grep -av '^NT-COUNT' | tail -n 8 | sed 's/^/NT-L1: snapshot-fs: console| /'
		tail -n 4 $errf | sed 's/^/NT-L1: snapshot-fs: ember| /'
	fi

	step snapshot-clones
	n=0 ok=0 ids="" pids=""
	for i in 1 2 3 4; do
		tunctl -t tap$i >/dev/null && ip link set tap$i up
		NT_TIMEOUT=600 nt uds-hold /tmp/svc$i.sock_6010 >/tmp/snapC$i.uds 2>&1 &
		ln -sf /tmp/snapC$i.img /tmp/snap.drive # opened by the load below
		snap_ember snapC$i
		pids="$pids $spid"
		snap_sock=/tmp/snapC$i.sock
		snap_api PUT /snapshot/load "{\"snapshot_path\": \"/tmp/snap.state\", \"mem_backend\": {\"backend_type\": \"File\", \"backend_path\": \"/tmp/snap.mem\"}, \"network_overrides\": [{\"iface_id\": \"eth0\", \"host_dev_name\": \"tap$i\"}], \"vsock_override\": {\"uds_path\": \"/tmp/svc$i.sock\"}, \"resume_vm\": true}" >/dev/null &&
			n=$((n + 1))
	done
	exec 9>&-
	step snapshot-clones-check
	for i in 1 2 3 4; do
		c=/tmp/snapC$i.con
		if snap_wait $c "NT-COUNT $((last + 3))" 180 && snap_consecutive $c &&
			snap_wait $c "vsock-hold: connection 2 up" 60 && snap_wait $c "NT-GENID" 30; then
			ok=$((ok + 1))
			ids="$ids $(snap_genids $c | head -n 1)"
		else
			echo "NT-L1: clone $i: $(snap_counts $c | head -n 2 | tr '\n' ' ') $(tr -d '\r' <$c | grep -a 'vsock-hold\|NT-GENID' | tr '\n' ' ')"
			tail -n 5 /tmp/snapC$i.err | sed "s/^/clone$i| /"
		fi
	done
	alive=0 rss=0 pclean=0 pdirty=0 each=""
	for p in $pids; do
		kill -0 $p 2>/dev/null || continue
		alive=$((alive + 1)) rss=$((rss + $(vm_kib $p VmRSS)))
		set -- $(snap_private $p)
		pclean=$((pclean + $1)) pdirty=$((pdirty + $2)) each="$each $(($1 + $2))"
	done
	# issue 13's goal: a clone's private memory <= 10 % of a cold boot's
	step snapshot-clone-memory
	cold=$((cold_clean + cold_dirty))
	avg=$(((pclean + pdirty) / (alive ? alive : 1)))
	if [ $alive = 4 ] && [ $cold -gt 0 ] && [ $((avg * 10)) -le $cold ]; then
		R PASS snapshot-clone-memory "a clone's private memory (smaps_rollup Private_Clean + Private_Dirty) is $(echo "scale=1; 100 * $avg / $cold" | bc) % of the cold-booted ember's at count 10: clones$each KiB (avg $avg, $((pdirty / alive)) dirty) vs $cold KiB ($cold_dirty dirty)"
	else
		R FAIL snapshot-clone-memory "clones$each KiB ($alive alive) vs the cold boot's $cold KiB: more than 10 %"
	fi
	distinct=$(echo $ids | tr ' ' '\n' | sort -u | grep -c .)
	if [ $n = 4 ] && [ $ok = 4 ] && [ $alive = 4 ] && [ "$distinct" = 4 ]; then
		R PASS snapshot-clones "4 embers loaded the snapshot at once: each counted on from $((last + 1)), reconnected vsock on its own socket, 4 distinct generation IDs; RSS of the 4: $((rss / 1024)) MiB"
	else
		R FAIL snapshot-clones "$n loads accepted, $ok clones counted on and reconnected, $alive alive, $distinct distinct IDs"
	fi
	for p in $pids; do kill -9 $p 2>/dev/null; wait $p; done
	for p in $(pidof nt) $(pidof nc); do kill "$p" 2>/dev/null; done
	for i in 1 2 3 4; do ip link del tap$i 2>/dev/null || tunctl -d tap$i >/dev/null; done
	rm -f /tmp/snap.mem /tmp/snapC*.img
}
retrying snapshot run_snapshot
