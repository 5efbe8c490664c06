#!/usr/bin/env bash
# virtio-net bench section (issue 5): packets/s through the TAP path with the
# guest-less harness (tools/bench/net_bench.c: tx = driver chains -> device ->
# writev to a TAP; rx = frames sent into a TAP -> device -> guest buffers),
# each next to the raw TAP fd's write()/read() in the same run, as ratios.
# Then (issue 14) the TAP workloads with normal IPv4 traffic and the
# interface's MMDS responder enabled vs disabled, alternating rounds, as a
# ratio against the goal (at most 3 % lost). Then the same workloads on the
# stream backend (passt's protocol, a socketpair for the peer), as a ratio to
# the TAP backend. NET_BENCH_MMDS=1: only the MMDS comparison.
# Needs root (it makes a private network namespace). NET_BENCH_SCALE scales
# the packet counts (default 1: 100k small / 50k large frames per round).
set -u
BUILD=${BUILD:-build}
SCALE=${NET_BENCH_SCALE:-1}
BIN=$BUILD/bench/net_bench

if [ "$(id -u)" -ne 0 ] || [ ! -c /dev/net/tun ]; then
	echo "net: needs root and /dev/net/tun (a private network namespace with TAPs)"
	exit 1
fi
make -s --no-print-directory BUILD="$BUILD" "$BIN" || exit 1
"$BIN" -s "$SCALE" ${NET_BENCH_MMDS:+-m}
