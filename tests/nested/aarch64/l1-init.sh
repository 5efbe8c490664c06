#!/bin/busybox sh
# L1 (arm64 under qemu-system-aarch64 TCG, KVM built in): ember-aarch64,
# configured through its API socket, boots L2 with all four virtio devices;
# L1 is the host end of vsock (both ways), of TCP over tap0 (both ways) and of
# the balloon. ember must exit 0 when L2 powers off through PSCI. Then the
# same L2 boots under `ember jail` (uid/gid 1000, chroot, mount namespace,
# the killing seccomp filters) and ends with `reboot -f` (PSCI SYSTEM_RESET):
# ember exits 0 again. Every wait has a timeout.
/bin/busybox --install -s /bin
# `ember jail` pivots into its chroot, which Linux refuses on the initramfs
# (rootfs): move everything to a tmpfs first (as the x86 L1 does).
if [ ! -e /.nt-root ]; then
	mount -t proc proc /proc
	echo "NT-L1: /init at $(cut -d' ' -f1 /proc/uptime) s of L1 uptime"
	mkdir -p /newroot && mount -t tmpfs -o size=90%,mode=755 tmpfs /newroot
	for f in /* /.[!.]*; do
		[ -e "$f" ] && [ "$f" != /newroot ] && [ "$f" != /proc ] && cp -a "$f" /newroot/
	done
	mkdir -p /newroot/proc
	touch /newroot/.nt-root
	umount /proc
	exec switch_root /newroot /init
fi
mount -t proc proc /proc
mount -t sysfs sys /sys
mount -t devtmpfs dev /dev
mount -t tmpfs tmp /tmp
echo "NT-L1: on a tmpfs at $(cut -d' ' -f1 /proc/uptime) s"
# (a line of its own even when tail -f of L2's console was mid-line)
res() { printf '\nNT-RESULT %s %s: %s\n' "$1" "$2" "${3:-ok}"; }
# L2's results again, whole (tail -f may have cut one with a line of ours)
l2_results() { grep -a '^NT-RESULT ' "$1"; }
up() { cut -d' ' -f1 /proc/uptime; }
# mbps BYTES SECONDS: MB/s with two decimals
mbps() { awk -v b="$1" -v s="$2" 'BEGIN { if (s > 0) printf "%.2f", b / s / 1e6; else print "?" }'; }
[ -e /dev/kvm ] && res PASS a64-l1-kvm || res FAIL a64-l1-kvm
insmod /lib/modules/tun.ko
tunctl -t tap0 >/dev/null && ip link set tap0 up && ip addr add 172.31.0.1/24 dev tap0
cp /disk.img /tmp/disk.img # ext4, made on the host
arg() { sed -n "s/.*nt\.$1=\([^ ]*\).*/\1/p" /proc/cmdline; }
CPUS=$(arg cpus)
FULL=$(arg full) # vsock, balloon
TCP=$(arg tcp)   # bytes each way over TCP (nt gen size), 0: none
JAIL=$(arg jail) # the second boot, under ember jail, ending with reboot -f
ONESHOT=$(arg oneshot) # one-shot runs (ember run --kernel K -- CMD): 0, 1 (sh), 2 (+ dynamic)
: "${CPUS:=2}" "${FULL:=1}" "${TCP:=4M}" "${JAIL:=1}" "${ONESHOT:=2}"
L2_ARGS="console=ttyS0 earlycon quiet panic=-1 rdinit=/init nt.cpus=$CPUS"

# nt.bootbench=K (make bench's nested-boot section, not the tests): only a
# warm-up and K one-shot boots to `/bin/cat /proc/uptime`, 1 vCPU, 128 MiB,
# no devices, as the x86 run tests/nested/runs/bootbench.sh does; each prints
# "NT-BOOTBENCH aarch64 L2-UPTIME WALL" (L2's uptime when CMD ran, L1's
# seconds from ember's start to its exit)
BOOTBENCH=$(arg bootbench)
if [ -n "$BOOTBENCH" ]; then
	export XDG_CACHE_HOME=/tmp/oneshot-cache
	ok=0
	for i in $(seq 0 "$BOOTBENCH"); do
		t0=$(up)
		timeout 300 ember run --kernel /l2/Image --mem 128M -- /bin/cat /proc/uptime \
			</dev/null >/tmp/bootbench.out 2>/tmp/bootbench.err
		rc=$?
		wall=$(awk -v a="$t0" -v b="$(up)" 'BEGIN { print b - a }')
		l2=$(tr -d '\r' </tmp/bootbench.out | awk 'NF == 2 { print $1; exit }')
		if [ "$rc" = 0 ] && [ -n "$l2" ]; then
			[ "$i" = 0 ] || { echo "NT-BOOTBENCH aarch64 $l2 $wall"; ok=$((ok + 1)); }
		else
			echo "NT-L1: bootbench $i: exit $rc, stdout '$(head -c 200 /tmp/bootbench.out | tr '\n\r' '|~')'"
			sed 's/^/ember| /' /tmp/bootbench.err | head -n 5
		fi
	done
	echo "NT-L1: bootbench $ok of $BOOTBENCH measured"
	poweroff -f
fi

# ember-aarch64's built-in seccomp programs were generated at build time on
# the (x86_64) build host: libseccomp on arm64 compiles the same from the
# native tables (tools/seccomp_gen built for arm64 prints the same file)
t0=$(up)
if seccomp_gen >/tmp/seccomp_bpf.c 2>/tmp/seccomp_gen.err && cmp /tmp/seccomp_bpf.c /seccomp_bpf.c >/tmp/cmp.out 2>&1; then
	res PASS a64-seccomp-build-time "$(grep -c '^	{0x' /seccomp_bpf.c) instructions, the same as libseccomp on arm64 compiles ($(awk -v a="$t0" -v b="$(up)" 'BEGIN { print b - a }') s)"
else
	res FAIL a64-seccomp-build-time "$(cat /tmp/seccomp_gen.err /tmp/cmp.out | head -n 3 | tr '\n' ' ')"
fi

# ---- boot 1: API, every device, poweroff ----
api=/tmp/api.sock con=/tmp/l2.con
: >$con
echo "NT-L1-EMBER-START uptime=$(up)"
EMBER_SECCOMP_REPORT=/tmp/seccomp.log ember --api-sock $api </dev/null >$con 2>/tmp/ember.err &
epid=$!
tail -f $con &
tpid=$!
i=0
while [ ! -S $api ] && [ $i -lt 100 ]; do i=$((i + 1)); usleep 100000; done
cfg_ok=1
a() { nt http $api "$@" >/dev/null || { cfg_ok=0; echo "NT-L1: $1 $2 refused"; }; }
a PUT /boot-source '{"kernel_image_path": "/l2/Image", "initrd_path": "/l2/initrd.cpio",
 "boot_args": "'"$L2_ARGS"' nt.full='"$FULL"' nt.tcp='"$TCP"'"}'
a PUT /machine-config '{"vcpu_count": '"$CPUS"', "mem_size_mib": 256}'
a PUT /drives/vda '{"drive_id": "vda", "path_on_host": "/tmp/disk.img", "is_root_device": false, "is_read_only": false}'
a PUT /network-interfaces/eth0 '{"iface_id": "eth0", "host_dev_name": "tap0"}'
a PUT /vsock '{"guest_cid": 3, "uds_path": "/tmp/v.sock"}'
a PUT /balloon '{"amount_mib": 0, "deflate_on_oom": false, "stats_polling_interval_s": 1}'
# guest -> host vsock: the host side listens on uds_path_PORT before boot
NT_TIMEOUT=900 nt uds-serve /tmp/v.sock_5000 1 1M >/tmp/uds.out 2>&1 &
# guest -> host TCP: L1 listens on tap0:5001 before boot (the FIFO is a
# stdin that never ends, so nc only stops at the sender's end of stream)
if [ "$TCP" != 0 ]; then
	mkfifo /tmp/nf
	(nc -l -p 5001 0<>/tmp/nf | sha256sum | cut -d' ' -f1 >/tmp/tcp-out.sum) &
fi
a PUT /actions '{"action_type": "InstanceStart"}'
[ $cfg_ok -eq 1 ] && res PASS a64-api-boot || res FAIL a64-api-boot "a request was refused"
info=$(nt http $api GET / 2>&1)
case $info in *'"arch":"aarch64"'*) res PASS a64-api-arch ;; *) res FAIL a64-api-arch "$info" ;; esac
if [ "$TCP" != 0 ]; then
	# L2 -> L1: L2 sends nt gen 11 $TCP, times it and says how long
	if nt wait $con "NT-SYNC tcp-out" 300 >/dev/null; then
		i=0
		while [ ! -s /tmp/tcp-out.sum ] && [ $i -lt 300 ]; do i=$((i + 1)); usleep 100000; done
		want=$(nt gen 11 "$TCP" | sha256sum | cut -d' ' -f1)
		secs=$(sed -n 's/.*NT-SYNC tcp-out secs=\([0-9.]*\).*/\1/p' $con | head -n1)
		bytes=$(nt gen 11 "$TCP" | wc -c)
		if [ "$(cat /tmp/tcp-out.sum)" = "$want" ]; then
			res PASS a64-net-tcp-out "$TCP L2 -> L1 (busybox nc), sha256 matches, ${secs:-?} s ($(mbps "$bytes" "$secs") MB/s)"
		else
			res FAIL a64-net-tcp-out "sha256 $(cat /tmp/tcp-out.sum), want $want"
		fi
	else
		res FAIL a64-net-tcp-out "L2 never said it sent"
	fi
	# L1 -> L2: once L2 listens on :5002 (busybox nc cannot retry a refusal)
	if nt wait $con "NT-SYNC tcp-in" 300 >/dev/null; then
		i=0 t0=$(up)
		until nt gen 12 "$TCP" | nc 172.31.0.2 5002 2>/tmp/nc.err; do
			i=$((i + 1))
			[ $i -lt 100 ] && grep -q "can't connect\|refused" /tmp/nc.err || break
			usleep 100000
		done
		echo "NT-L1: sent $TCP to L2 in $(awk -v a="$t0" -v b="$(up)" 'BEGIN { print b - a }') s (L2 judges)"
	fi
fi
if [ "$FULL" = 1 ]; then
	# host -> guest vsock, once L2 listens
	if nt wait $con "NT-SYNC vsock" 400 >/dev/null; then
		if NT_TIMEOUT=120 nt uds-connect /tmp/v.sock 5001 1 1M >/tmp/udsc.out 2>&1; then
			res PASS a64-vsock-h2g "$(tail -n1 /tmp/udsc.out)"
		else
			res FAIL a64-vsock-h2g "$(tail -n2 /tmp/udsc.out | tr '\n' ' ')"
		fi
	else
		res FAIL a64-vsock-h2g "L2 never listened"
	fi
	# (busybox's wait may not know the listener as its child: its last line says)
	if nt wait /tmp/uds.out "connections ok" 120 >/dev/null &&
		grep -q "uds-serve: 1 of 1 connections ok" /tmp/uds.out; then
		res PASS a64-vsock-g2h "$(tail -n1 /tmp/uds.out)"
	else
		res FAIL a64-vsock-g2h "$(tail -n2 /tmp/uds.out | tr '\n' ' ')"
	fi
	# balloon: inflate by 64 MiB once L2 has its baseline
	if nt wait $con "NT-SYNC balloon" 300 >/dev/null; then
		a PATCH /balloon '{"amount_mib": 64}'
	fi
fi
# L2 powers off at its end: ember exits by itself
i=0
while kill -0 $epid 2>/dev/null && [ $i -lt 600 ]; do i=$((i + 1)); sleep 1; done
if kill -0 $epid 2>/dev/null; then
	echo "NT-L1: ember still running: stopping it"
	kill $epid
fi
wait $epid
rc=$?
kill $tpid 2>/dev/null
l2_results $con
grep -v 'MMIO .* nothing mapped' /tmp/ember.err | tail -n 20
echo "NT-L1-EMBER-EXIT rc=$rc uptime=$(up)"
[ $rc -eq 0 ] && res PASS a64-poweroff-exit0 || res FAIL a64-poweroff-exit0 "rc=$rc"
if [ -s /tmp/seccomp.log ]; then
	res FAIL a64-seccomp-report "$(head -c 300 /tmp/seccomp.log | tr '\n' ';')"
else
	res PASS a64-seccomp-report
fi

# ---- boot 2: the same L2 under ember jail (uid/gid 1000, chroot in
# /tmp/jailer, mount namespace; jail clears the environment, so the killing
# seccomp filters), the CLI, a disk, 1 vCPU (boot 1 did SMP: cheaper under
# TCG); L2 writes to the disk and ends with reboot -f ----
if [ "$JAIL" = 1 ]; then
	cp /disk.img /tmp/jail.img && chown 1000:1000 /tmp/jail.img
	mkdir -p /sys/fs/cgroup && mount -t cgroup2 cgroup2 /sys/fs/cgroup 2>/dev/null
	jcon=/tmp/jail.con
	: >$jcon
	tail -f $jcon &
	tpid=$!
	t0=$(up)
	ember jail --id nt-jail --exec-file /bin/ember --uid 1000 --gid 1000 \
		--chroot-base-dir /tmp/jailer --copy-in /l2/Image --copy-in /l2/initrd.cpio \
		--copy-in /tmp/jail.img -- run --kernel /Image --initrd /initrd.cpio \
		--disk /jail.img --mem 256M --cpus 1 \
		--cmdline "${L2_ARGS%% nt.cpus=*} nt.cpus=1 nt.mode=jail" </dev/null >$jcon 2>/tmp/jail.err &
	jpid=$!
	# the jailed ember as L1 sees it: uid/gid 1000, root in the chroot, own mount namespace
	jail_seen() {
		st=/proc/$jpid/status
		grep -q '^Uid:[[:space:]]*1000[[:space:]]1000[[:space:]]1000' $st 2>/dev/null &&
			grep -q '^Gid:[[:space:]]*1000[[:space:]]1000[[:space:]]1000' $st &&
			[ -e /proc/$jpid/root/Image ] && [ ! -e /proc/$jpid/root/init ] &&
			[ "$(readlink /proc/$jpid/ns/mnt)" != "$(readlink /proc/self/ns/mnt)" ]
	}
	i=0
	while ! jail_seen && kill -0 $jpid 2>/dev/null && [ $i -lt 300 ]; do i=$((i + 1)); usleep 100000; done
	if jail_seen; then
		res PASS a64-jail "uid/gid 1000, / is the chroot (its Image, not L1's /init), own mount namespace"
	else
		res FAIL a64-jail "$(grep '^[UG]id:' /proc/$jpid/status 2>/dev/null | tr '\n\t' '  ') $(ls /proc/$jpid/root/ 2>/dev/null | tr '\n' ' ')"
	fi
	i=0
	while kill -0 $jpid 2>/dev/null && [ $i -lt 600 ]; do i=$((i + 1)); sleep 1; done
	kill -0 $jpid 2>/dev/null && { echo "NT-L1: jailed ember still running: stopping it"; kill $jpid; }
	wait $jpid
	rc=$?
	kill $tpid 2>/dev/null
	l2_results $jcon
	grep -v 'MMIO .* nothing mapped' /tmp/jail.err | tail -n 20
	echo "NT-L1: jailed run ended after $(awk -v a="$t0" -v b="$(up)" 'BEGIN { print b - a }') s, ember exit $rc"
	if [ $rc -eq 0 ] && grep -q "NT-L2-REBOOT" $jcon; then
		res PASS a64-reboot-exit0 "reboot -f (PSCI SYSTEM_RESET) under ember jail, exit 0"
	else
		res FAIL a64-reboot-exit0 "rc=$rc"
	fi
fi
# ---- one-shot runs: `ember run --kernel K -- CMD` builds an initramfs
# from L1's own files around ember's arm64 init, which runs CMD on the
# console and writes its exit status to ember's exit register (/dev/mem);
# ember exits with it ----
if [ "$ONESHOT" -ge 1 ]; then
	export XDG_CACHE_HOME=/tmp/oneshot-cache
	oneshot() { # NAME SECONDS ARGS...: rc, stdout in /tmp/oneshot-NAME.out
		name=$1 secs=$2
		shift 2
		t0=$(up)
		timeout "$secs" ember run --kernel /l2/Image --mem 128M "$@" \
			</dev/null >/tmp/oneshot-$name.out 2>/tmp/oneshot-$name.err
		rc=$?
		osecs=$(awk -v a="$t0" -v b="$(up)" 'BEGIN { print b - a }')
		echo "NT-L1: oneshot $name: exit $rc after $osecs s; stdout: $(head -c 200 /tmp/oneshot-$name.out | tr '\n\r' '|~')"
		sed 's/^/ember| /' /tmp/oneshot-$name.err | head -n 5
	}
	oneshot sh 300 --keep-initrd /tmp/oneshot-sh.cpio -- /bin/sh -c 'echo hi; exit 7'
	if [ "$rc" = 7 ] && [ "$(cat /tmp/oneshot-sh.out)" = hi ]; then
		res PASS a64-oneshot-sh "ember run -- /bin/sh -c 'echo hi; exit 7': printed hi, exited 7 in $osecs s ($(($(stat -c %s /tmp/oneshot-sh.cpio) / 1024)) KiB initramfs, arm64 init)"
	else
		res FAIL a64-oneshot-sh "exit $rc, stdout '$(head -c 200 /tmp/oneshot-sh.out | tr '\n\r' '|~')'"
	fi
	# a dynamically linked arm64 program: its loader and libc from L1's
	# multiarch directory
	if [ "$ONESHOT" -ge 2 ]; then
		oneshot dyn 300 -- /usr/local/bin/nt-dyn one two
		if [ "$rc" = 0 ] && grep -qx 'nt-dyn: dynamic, 2 args: one two' /tmp/oneshot-dyn.out; then
			res PASS a64-oneshot-dynamic "a dynamically linked arm64 binary ran ($osecs s): $(head -n 1 /tmp/oneshot-dyn.out)"
		else
			res FAIL a64-oneshot-dynamic "exit $rc, stdout '$(head -c 200 /tmp/oneshot-dyn.out | tr '\n\r' '|~')'"
		fi
	fi
	unset XDG_CACHE_HOME
fi
poweroff -f
