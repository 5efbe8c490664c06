#!/usr/bin/env bash
# virtio-vsock bench section (issue 5): host<->guest throughput in MB/s with
# 64 KiB writes through the guest-less harness and a real Unix socket
# (tools/bench/vsock_bench.c: host client -> uds_path -> device -> guest rx
# buffers, and guest RW packets -> device -> "<uds_path>_<port>" -> host
# reader), each next to a plain Unix socketpair in the same run, as ratios.
# VSOCK_BENCH_MIB sets the bytes per round (default 256 MiB).
set -u
BUILD=${BUILD:-build}
BIN=$BUILD/bench/vsock_bench

make -s --no-print-directory BUILD="$BUILD" "$BIN" || exit 1
"$BIN" -m "${VSOCK_BENCH_MIB:-256}"
