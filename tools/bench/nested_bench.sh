#!/usr/bin/env bash
# Nested bench section (issue 10): ember next to Debian's QEMU `-M microvm` in
# one emulated L1 (tools/nested/run.sh, run `vmmbench`: same L2 bzImage,
# initramfs, 1 vCPU, 256 MiB, raw disk on L1's tmpfs, virtio-net on a TAP;
# tests/nested/runs/vmmbench.sh). Rows: process start -> L2's first user-space
# line; blk sequential write/read with dd O_DIRECT (64 MiB, 1 MiB blocks); TCP
# 16 MiB each way with busybox nc; the VMM's own CPU time (user + system less
# the vCPUs' guest time, L1's 10 ms ticks) per GiB moved. Absolute figures under two levels of emulation
# mean nothing; the ratios ember/QEMU within this one run are the result.
#   NESTED_BENCH_LOG=FILE  only parse an earlier serial log
set -u
BUILD=${BUILD:-build}
log=${NESTED_BENCH_LOG:-}
if [ -z "$log" ]; then
	BUILD=$BUILD NESTED_ONLY=vmmbench NESTED_TIMEOUT=${NESTED_TIMEOUT:-2400} "$(dirname "$0")/../nested/run.sh" || echo "(some vmmbench checks failed: see above)"
	log=$BUILD/nested/serial.log
fi
[ -f "$log" ] || { echo "no $log"; exit 1; }
tr -d '\r' <"$log" | awk '
/^NT-BENCH (ember|qemu) / { v[$2, $3] = $5; b[$2, $3] = $4; next }
function row(name, key, kind,   e, q) {
	e = v["ember", key]; q = v["qemu", key]
	if (e == "" || q == "") { printf "  %-32s %12s %12s   (not measured)\n", name, e, q; missing++; return }
	if (kind == "ms") {
		printf "  %-32s %9d ms %9d ms   %.2fx (lower is better)%s\n", name, e, q, e / q, (e <= q ? "" : "  <- QEMU ahead")
		if (e > q) behind++
	} else if (kind == "rate") {
		re = b["ember", key] / 1048576 / (e / 1000); rq = b["qemu", key] / 1048576 / (q / 1000)
		printf "  %-32s %7.2f MiB/s %7.2f MiB/s   %.2fx (higher is better)%s\n", name, re, rq, re / rq, (re >= rq ? "" : "  <- QEMU ahead")
		if (re < rq) behind++
	} else {
		ce = e * 1073741824 / b["ember", key]; cq = q * 1073741824 / b["qemu", key]
		if (cq == 0) { printf "  %-32s %9d ms %9d ms   (QEMU below the 10 ms tick)\n", name, ce, cq; return }
		printf "  %-32s %7.0f ms/GiB %7.0f ms/GiB   %.2fx (lower is better)%s\n", name, ce, cq, ce / cq, (ce <= cq ? "" : "  <- QEMU ahead")
		if (ce > cq) behind++
	}
}
END {
	printf "  %-32s %12s %12s   ember/QEMU\n", "", "ember", "QEMU microvm"
	row("start -> L2 user space", "start", "ms")
	row("blk write (dd O_DIRECT)", "blk-write", "rate")
	row("blk read (dd O_DIRECT)", "blk-read", "rate")
	row("TCP L2 -> L1 (nc)", "tcp-out", "rate")
	row("TCP L1 -> L2 (nc)", "tcp-in", "rate")
	row("VMM CPU per GiB, blk write", "cpu-blk-write", "cpu")
	row("VMM CPU per GiB, blk read", "cpu-blk-read", "cpu")
	row("VMM CPU per GiB, TCP out", "cpu-tcp-out", "cpu")
	row("VMM CPU per GiB, TCP in", "cpu-tcp-in", "cpu")
	printf "  goal: ember ahead on every row: %s\n", (missing ? "not measured completely" : (behind ? "not met (" behind " rows behind)" : "met"))
	exit missing ? 1 : 0
}'
