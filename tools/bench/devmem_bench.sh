#!/usr/bin/env bash
# Devices of issue 16: virtio-mem plug/unplug of 1 GiB in
# 64 MiB requests through the guest-less harness (requests/s, the host memory
# the hotplug memfd holds before and after the unplug) and virtio-pmem's FLUSH
# latency next to a plain fdatasync of the same file, virtio-rng throughput next
# to getrandom(), serial output to a file (per byte, and against a rate limit)
# (tools/bench/devmem_bench.c).
set -u
BUILD=${BUILD:-build}
BIN=$BUILD/bench/devmem_bench

make -s --no-print-directory BUILD="$BUILD" "$BIN" || exit 1
"$BIN"
