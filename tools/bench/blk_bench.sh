#!/usr/bin/env bash
# virtio-blk bench section (issue 3): the device model's CPU per request
# through the guest-less harness (tools/bench/blk_bench.c) next to the same
# reads/writes done directly with preadv/pwritev in the same run, on a tmpfs
# file: 4 KiB random reads at queue depth 1 and 32, 128 KiB sequential reads
# and writes. The figure is the VMM thread's CPU per request over direct
# preadv/pwritev's (goal: < +15%), split into the thread hop (waking an
# event-loop thread and signalling back, which any event-driven device pays)
# and the virtio device model on top of it.
# Then io_engine Sync vs Async (io_uring; blk_bench -e): 4 KiB sequential and
# random reads and writes at queue depth 32 and random reads at QD1, two
# devices alternating within each round: median [min..max] of requests/s and
# of CPU per request (VMM thread; all threads incl. io_uring's workers), and
# the Async / Sync ratio.
# BLK_BENCH_SCALE scales the request counts (default 1), BLK_BENCH_ROUNDS
# sets the rounds (default 7; each figure is the best round, or the median
# with -e).
set -u
BUILD=${BUILD:-build}
BIN=$BUILD/bench/blk_bench

make -s --no-print-directory BUILD="$BUILD" "$BIN" || exit 1
"$BIN" -s "${BLK_BENCH_SCALE:-1}" -r "${BLK_BENCH_ROUNDS:-7}" || exit 1
echo
"$BIN" -e -s "${BLK_BENCH_SCALE:-1}" -r "${BLK_BENCH_ROUNDS:-7}"
