#!/usr/bin/env bash
# Snapshot section of `make bench` (tools/bench/snapshot_bench.py has the
# method): create time and size (Full, Diff), load -> first guest output vs
# a cold boot, ember CPU, private memory. SNAP_BENCH_MIB="128 1024",
# SNAP_BENCH_RUNS=5.
set -u
exec python3 "$(dirname "$0")/snapshot_bench.py"
