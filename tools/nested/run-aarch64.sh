#!/usr/bin/env bash
# The nested test layer for arm64 (tests/nested/README.md, "aarch64"):
# qemu-system-aarch64 -M virt,virtualization=on -cpu max (software emulation,
# EL2 for L1's built-in KVM) boots Debian's arm64 cloud kernel as L1, whose
# /init (tests/nested/aarch64/l1-init.sh) runs the cross-built ember, which
# boots the same kernel as L2 with busybox (l2-init.sh), configured through
# the API socket (nt http), with vsock both ways and a balloon. NT-RESULT lines
# become the results of tests/nested/aarch64/checks.list.
#   tools/nested/run-aarch64.sh     (make nested-aarch64; BUILD_A64=build-aarch64)
#   NESTED_A64_FULL=0: without the vsock and balloon checks, which take
#   minutes under TCG, and 1 MiB each way over TCP instead of 4 (make test
#   runs it so; make nested-aarch64 runs all). NESTED_A64_TCP=SIZE (0: none),
#   NESTED_A64_ONESHOT=0|1|2: the one-shot runs (`ember run -- CMD`): none,
#   the shell one (make test), also the dynamically linked one (the full
#   set), NESTED_A64_JAIL=0|1: the boot under ember jail
#   (default 1), NESTED_TIMEOUT (wall-clock limit, s).
#   NESTED_A64_BOOTBENCH=K: no tests, only K timed one-shot boots (make bench,
#   tools/bench/nested-boot_bench.sh reads the serial log).
set -euo pipefail
. "$(dirname "$0")/../common.sh"

A64=${BUILD_A64:-build-aarch64}
full=${NESTED_A64_FULL:-1}
# bytes each way over TCP (nt gen size): L2 -> L1 runs at 0.05-0.1 MB/s
# under TCG on a loaded host, L1 -> L2 at ~0.4 (tests/nested/README.md)
tcp=${NESTED_A64_TCP:-$([ "$full" = 1 ] && echo 4M || echo 1M)}
FULL_ONLY=" a64-vsock-h2g a64-vsock-g2h a64-balloon "
oneshot=${NESTED_A64_ONESHOT:-$([ "$full" = 1 ] && echo 2 || echo 1)} jail=${NESTED_A64_JAIL:-1}
JAIL_CHECKS=" a64-jail a64-jail-userspace a64-jail-blk a64-reboot-exit0 "
ember=$EMBER_ROOT/$A64/ember
T=$EMBER_ROOT/tests/nested/aarch64
[ -x "$ember" ] || die "$ember missing (make ARCH=aarch64)"
command -v qemu-system-aarch64 >/dev/null || die "qemu-system-aarch64 missing (tools/setup.sh --aarch64)"

# ---- Debian's arm64 cloud kernel and busybox-static, cached ----
meta=linux-image-cloud-arm64:arm64
pkg=$(apt_show_field "$meta" Depends | tr ',' '\n' | grep -o 'linux-image-[0-9][^ :]*-cloud-arm64' | head -n1 || true)
[ -n "$pkg" ] || die "cannot resolve $meta (dpkg --add-architecture arm64; apt-get update)"
cache=$EMBER_CACHE/nested-aarch64/$pkg
lock nested-aarch64
if [ ! -f "$cache/.done" ]; then
	log "fetching $pkg and busybox-static (arm64)"
	rm -rf "$cache" && mkdir -p "$cache/dl"
	dl=(apt-get download -q)
	[ "$(id -u)" -ne 0 ] || dl+=(-o APT::Sandbox::User=root)
	(cd "$cache/dl" && "${dl[@]}" "$pkg:arm64" busybox-static:arm64 >&2)
	dpkg-deb -x "$cache"/dl/linux-image-*.deb "$cache/k"
	dpkg-deb -x "$cache"/dl/busybox-static_*.deb "$cache/bb"
	rm -rf "$cache/dl"
	touch "$cache/.done"
fi
kdir=$(echo "$cache"/k/lib/modules/*/kernel)
image=$(echo "$cache"/k/boot/vmlinuz-*)

# ---- L2 and L1 initramfs ----
out=$EMBER_ROOT/$A64/nested
rm -rf "$out" && mkdir -p "$out"
l2=$out/l2 l1=$out/l1
mkdir -p "$l2"/{bin,proc,sys,dev,mnt,lib/modules} "$l1"/{bin,proc,sys,dev,tmp,l2,lib/modules,lib/aarch64-linux-gnu}
cp "$cache/bb/bin/busybox" "$l2/bin/" && cp "$cache/bb/bin/busybox" "$l1/bin/"
for m in virtio_ring virtio virtio_mmio virtio_blk failover net_failover virtio_net vsock \
	vmw_vsock_virtio_transport_common vmw_vsock_virtio_transport virtio_balloon; do
	f=$(find "$kdir" -name "$m.ko" | head -n1)
	[ -n "$f" ] || die "module $m not in $pkg"
	cp "$f" "$l2/lib/modules/"
done
cp "$(find "$kdir" -name tun.ko | head -n1)" "$l1/lib/modules/"
install -m 0755 "$T/l2-init.sh" "$l2/init"
# nt (tests/nested/nt.c), static for arm64: vsock and HTTP-over-Unix-socket
aarch64-linux-gnu-gcc -static -O2 -Wall -Werror -o "$out/nt" "$EMBER_ROOT/tests/nested/nt.c"
cp "$out/nt" "$l2/bin/nt" && cp "$out/nt" "$l1/bin/nt"
# nt-dyn, dynamically linked against L1's glibc: a one-shot CMD whose
# loader and libc ember must find and bring
mkdir -p "$l1/usr/local/bin"
aarch64-linux-gnu-gcc -std=gnu11 -O2 -Wall -Wextra -Werror -o "$l1/usr/local/bin/nt-dyn" \
	"$EMBER_ROOT/tests/nested/nt-dyn.c"
(cd "$l2" && find . | cpio -o -H newc --quiet) >"$l1/l2/initrd.cpio"
cp "$image" "$l1/l2/Image"
cp "$ember" "$l1/bin/ember"
# the built-in seccomp programs generated on this build host, and the
# generator built for arm64: L1 checks that it prints the same file there
cp "$EMBER_ROOT/$A64/tools/seccomp_gen" "$l1/bin/seccomp_gen"
cp "$EMBER_ROOT/$A64/gen/seccomp_bpf.c" "$l1/seccomp_bpf.c"
cp /usr/aarch64-linux-gnu/lib/ld-linux-aarch64.so.1 "$l1/lib/"
cp /usr/aarch64-linux-gnu/lib/libc.so.6 "$l1/lib/aarch64-linux-gnu/"
cp -P /usr/lib/aarch64-linux-gnu/libcjson.so.1* "$l1/lib/aarch64-linux-gnu/"
install -m 0755 "$T/l1-init.sh" "$l1/init"
truncate -s 16M "$l1/disk.img" && mke2fs -q -t ext4 -F "$l1/disk.img"
(cd "$l1" && find . | cpio -o -H newc --quiet) >"$out/l1.cpio"

# ---- run ----
log=$out/serial.log
limit=${NESTED_TIMEOUT:-$([ "$full" = 1 ] && echo 1500 || echo 900)}
t0=$(now_ms)
rc=0
timeout --kill-after=10 "$limit" qemu-system-aarch64 -M virt,virtualization=on,gic-version=3 \
	-cpu max -accel tcg,thread=multi -smp 2 -m 2048 -no-reboot -display none -monitor none \
	-serial "file:$log" -kernel "$image" -initrd "$out/l1.cpio" \
	-append "console=ttyAMA0 panic=-1 quiet nt.cpus=${NESTED_A64_CPUS:-2} nt.full=$full nt.tcp=$tcp nt.jail=$jail nt.oneshot=$oneshot${NESTED_A64_BOOTBENCH:+ nt.bootbench=$NESTED_A64_BOOTBENCH}" </dev/null \
	2>"$out/qemu.err" || rc=$?
wall=$(( ($(now_ms) - t0) / 1000 ))
[ $rc -eq 0 ] || log "QEMU exit status $rc$([ $rc -eq 124 ] && echo " (wall-clock limit of $limit s)")"
if [ -n "${NESTED_A64_BOOTBENCH:-}" ]; then
	echo "nested-aarch64: bootbench in ${wall} s wall (log $log)"
	exit $rc
fi

clean=$(tr -d '\r' <"$log")
pass=0 fail=0
while read -r check what; do
	case $check in ''|'#'*) continue ;; esac
	[ "$full" = 1 ] || [[ $FULL_ONLY != *" $check "* ]] || continue
	[ "$oneshot" -ge 1 ] || [ "$check" != a64-oneshot-sh ] || continue
	[ "$oneshot" -ge 2 ] || [ "$check" != a64-oneshot-dynamic ] || continue
	[ "$jail" = 1 ] || [[ $JAIL_CHECKS != *" $check "* ]] || continue
	[ "$tcp" != 0 ] || [[ " a64-net-tcp-out a64-net-tcp-in " != *" $check "* ]] || continue
	lines=$(grep -a "^NT-RESULT [A-Z]* $check: " <<<"$clean" || true)
	if [ -z "$lines" ]; then
		fail=$((fail + 1)); echo "FAIL $check: no result -- $what"
	elif grep -q '^NT-RESULT FAIL' <<<"$lines"; then
		fail=$((fail + 1)); echo "FAIL $check: $(head -n1 <<<"$lines" | cut -d' ' -f4-) -- $what"
	else
		pass=$((pass + 1)); echo "  PASS $check: $(head -n1 <<<"$lines" | cut -d' ' -f4-)"
	fi
done <"$T/checks.list"
for c in $(grep -a '^NT-RESULT ' <<<"$clean" | cut -d' ' -f3 | tr -d ':' | sort -u); do
	grep -qE "^$c " "$T/checks.list" || { fail=$((fail + 1)); echo "FAIL $c: not in checks.list"; }
done
up=$(grep -ao 'NT-L2-USERSPACE uptime=[0-9.]*' <<<"$clean" | cut -d= -f2 || true)
jup=$(grep -ao 'a64-jail-userspace: [0-9.]*' <<<"$clean" | head -n1 | cut -d' ' -f2 || true)
echo "nested-aarch64: $pass passed, $fail failed in ${wall} s wall (L2 user space at ${up:-?} s of L2 uptime, ${jup:-?} s under ember jail with 1 vCPU; log $log)"
[ $fail -eq 0 ]
