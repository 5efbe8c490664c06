# L2 side of the `main` run (sourced by l2-init.sh; L1 side: tests/nested/runs/main.sh):
# bzImage, all four devices; blk, net, vsock, balloon, pause/resume, SendCtrlAltDel.

# ---- virtio-blk: ext4 read-write (256 MiB image) and a read-only drive (8 MiB) ----
blk_ext4() {
	dev=$(disk_by_sectors 524288) || { fail blk-ext4 "no 256 MiB disk"; return; }
	want=$(nt gen 7 64M | sha256sum | cut -d' ' -f1)
	mount -t ext4 "$dev" /mnt || { fail blk-ext4 "mount $dev"; return; }
	t0=$(cut -d' ' -f1 /proc/uptime)
	if ! nt gen 7 64M >/mnt/data || ! sync; then
		fail blk-ext4 "write"; umount /mnt; return
	fi
	t1=$(cut -d' ' -f1 /proc/uptime)
	umount /mnt || { fail blk-ext4 "umount"; return; }
	# Read back through the device, not the page cache.
	echo 3 >/proc/sys/vm/drop_caches
	mount -t ext4 -o ro "$dev" /mnt || { fail blk-ext4 "second mount"; return; }
	got=$(sha256sum /mnt/data | cut -d' ' -f1)
	umount /mnt
	if [ "$got" = "$want" ]; then
		pass blk-ext4 "64 MiB written on ext4 $dev, synced in $(echo "$t1 - $t0" | bc) s, re-read after remount: sha256 $(echo "$got" | cut -c1-16).. matches"
	else
		fail blk-ext4 "re-read sha256 $got, want $want"
	fi
}
blk_ro() {
	dev=$(disk_by_sectors 16384) || { fail blk-ro "no 8 MiB disk"; return; }
	ro=$(cat "/sys/block/${dev#/dev/}/ro")
	want=$(nt gen 5 8M | sha256sum | cut -d' ' -f1)
	got=$(sha256sum <"$dev" | cut -d' ' -f1)
	if dd if=/dev/zero of="$dev" bs=4096 count=1 conv=fsync 2>/tmp/dd.err; then
		fail blk-ro "a write to $dev succeeded (ro=$ro)"
	elif [ "$ro" != 1 ]; then
		fail blk-ro "$dev not marked read-only (ro=$ro)"
	elif [ "$got" != "$want" ]; then
		fail blk-ro "content sha256 $got, want $want"
	else
		pass blk-ro "$dev ro=1, write refused ($(tr '\n' ' ' </tmp/dd.err | cut -c1-60)), content matches"
	fi
}

# PATCH /drives/swap (4 MiB -> 12 MiB file) while L2 runs: the device signals a
# config change and Linux re-reads the capacity; the new file's content shows.
size_is() { [ "$(cat "/sys/block/$1/size")" = "$2" ]; }
blk_swap() {
	dev=$(disk_by_sectors 8192) || { fail blk-patch-swap "no 4 MiB disk"; return; }
	old=$(sha256sum <"$dev" | cut -d' ' -f1)
	[ "$old" = "$(nt gen 13 4M | sha256sum | cut -d' ' -f1)" ] || fail blk-patch-swap "4 MiB content wrong before the swap"
	sync_l1 drive-swap || return
	if ! wait_until 60 size_is "${dev#/dev/}" 24576; then
		fail blk-patch-swap "$dev still $(cat "/sys/block/${dev#/dev/}/size") sectors 60 s after PATCH /drives"
		return
	fi
	echo 3 >/proc/sys/vm/drop_caches
	got=$(sha256sum <"$dev" | cut -d' ' -f1)
	if [ "$got" = "$(nt gen 14 12M | sha256sum | cut -d' ' -f1)" ]; then
		pass blk-patch-swap "$dev 8192 -> 24576 sectors after PATCH /drives, new file's content read"
	else
		fail blk-patch-swap "$dev resized but content sha256 $got is not the new file's"
	fi
}

net() {
	ip link set lo up
	ip link set eth0 up && ip addr add 172.16.0.2/24 dev eth0 || { fail net-ping-out "eth0 setup"; }
	if out=$(ping -c 3 -W 10 172.16.0.1 2>&1); then
		pass net-ping-out "$(echo "$out" | grep -o '[0-9]* packets received')"
	else
		fail net-ping-out "$(echo "$out" | tail -n 2 | tr '\n' ' ')"
	fi
	sync_l1 net-ping || return # L1 pings us, starts its listener on :5001
	t0=$(cut -d' ' -f1 /proc/uptime)
	if nc_send 172.16.0.1 5001 11 64M; then
		t1=$(cut -d' ' -f1 /proc/uptime)
		echo "NT-L2: sent 64 MiB over TCP in $(echo "$t1 - $t0" | bc) s"
	else
		echo "NT-L2: nc to 172.16.0.1:5001 failed: $(cat /tmp/nc.err)"
	fi
	mkfifo /tmp/nf
	(nc -l -p 5002 0<>/tmp/nf | sha256sum | cut -d' ' -f1 >/tmp/in.sum) &
	lpid=$!
	sync_l1 net-out-done || return # L1 checks what it got, sends 64 MiB to :5002
	wait $lpid
	want=$(nt gen 12 64M | sha256sum | cut -d' ' -f1)
	if [ "$(cat /tmp/in.sum)" = "$want" ]; then
		pass net-tcp-in "64 MiB from L1 over TCP (busybox nc), sha256 matches"
	else
		fail net-tcp-in "sha256 $(cat /tmp/in.sum), want $want"
	fi
	# rx rate limiter set by L1 through PATCH /network-interfaces: L1 times it
	(nc -l -p 5003 0<>/tmp/nf | wc -c >/tmp/rl.count) &
	lpid=$!
	sync_l1 net-rl || return
	wait $lpid
	echo "NT-L2: received $(cat /tmp/rl.count) bytes under the rate limiter"
}

# ---- virtio-vsock (L1 side: nt uds-serve / uds-connect) ----
vsock() {
	nt vsock-serve 5000 33 16M >/tmp/vs.log 2>&1 &
	spid=$!
	sync_l1 vsock-start || return # L1 connects 1 x 16 MiB and 32 concurrent, listens on _6000
	if wait $spid; then
		pass vsock-l2-listener "$(tail -n 1 /tmp/vs.log)"
	else
		fail vsock-l2-listener "$(grep -v ': ok' /tmp/vs.log | head -n 3 | tr '\n' ' ')"
	fi
	if out=$(nt vsock-connect 2 6000 1 16M); then
		pass vsock-guest-to-host "$(echo "$out" | head -n 1 | sed 's/^vsock-connect: //')"
	else
		fail vsock-guest-to-host "$(echo "$out" | tr '\n' ' ')"
	fi
	if out=$(nt vsock-connect 2 6000 32 256K); then
		pass vsock-guest-to-host-32 "$(echo "$out" | tail -n 1 | sed 's/^vsock-connect: //')"
	else
		fail vsock-guest-to-host-32 "$(echo "$out" | grep -v ': ok' | head -n 3 | tr '\n' ' ')"
	fi
	# A guest that closes mid-stream (L1 expects a short stream on _6001),
	# then one more full connection: the device and ember carry on.
	nt vsock-connect 2 6001 1 4M close-mid >/tmp/vc.log 2>&1
	if out=$(nt vsock-connect 2 6000 1 1M); then
		pass vsock-after-close-mid "$(sed 's/^vsock-connect: //' /tmp/vc.log | head -n 1); next connection ok"
	else
		fail vsock-after-close-mid "$(echo "$out" | tr '\n' ' ')"
	fi
	sync_l1 vsock-done
}

# ---- virtio-balloon (L1 drives it through the API) ----
balloon() {
	nt hog 192 # guest pages ember really backs
	mt0=$(memtotal)
	sync_l1 balloon-inflate || return # L1: PATCH /balloon 256 MiB
	if wait_until 180 mt_at_most $((mt0 - 250 * 1024)); then
		pass balloon-inflate-l2 "MemTotal $((mt0 / 1024)) -> $(($(memtotal) / 1024)) MiB"
	else
		fail balloon-inflate-l2 "MemTotal $((mt0 / 1024)) -> $(($(memtotal) / 1024)) MiB"
	fi
	sync_l1 balloon-deflate || return # L1: RSS and statistics, PATCH /balloon 0
	if wait_until 180 mt_at_least $((mt0 - 4 * 1024)); then
		pass balloon-deflate "MemTotal back to $(($(memtotal) / 1024)) MiB"
	else
		fail balloon-deflate "MemTotal $(($(memtotal) / 1024)) MiB, was $((mt0 / 1024))"
	fi
}

# ---- pause/resume: a counter runs while L1 pauses and resumes the VM ----
pause() {
	# (the count replaced by a rename: a reader never sees the file truncated
	# and not yet written, which failed pause-l2-state once as "counter 2 -> ")
	(i=0; while :; do i=$((i + 1)); echo $i >/tmp/count.n; mv /tmp/count.n /tmp/count; echo "NT-TICK $i"; usleep 100000; done) &
	tpid=$!
	wait_until 30 [ -s /tmp/count ]
	c0=$(cat /tmp/count)
	sync_l1 pause || { kill $tpid; return; }
	c1=$(cat /tmp/count)
	kill $tpid
	if [ "$c1" -gt "$c0" ]; then
		pass pause-l2-state "counter $c0 -> $c1 across pause/resume, same boot"
	else
		fail pause-l2-state "counter $c0 -> $c1"
	fi
}


pass boot-bzimage "user space at ${up}s of L2 uptime"
drivers "blk blk blk net vsock balloon"
vcpus 2
blk_ext4
blk_ro
blk_swap
net
vsock
balloon
pause
# What SendCtrlAltDel needs: the i8042 bound and an AT keyboard on it.
echo "NT-L2: input: $(sed -n 's/^N: Name=//p' /proc/bus/input/devices | tr '\n' ' ')" \
	"irq: $(grep i8042 /proc/interrupts | tr -s ' ' | tr '\n' ' ')"
dmesg | grep -i 'i8042\|serio\|atkbd\|keyboard' | sed 's/^/NT-L2: dmesg: /'
echo "NT-L2: done; waiting for SendCtrlAltDel"
sync_l1 ctrl-alt-del 900
echo "NT-L2: no Ctrl-Alt-Del arrived: reboot -f"
reboot -f
