#!/usr/bin/env bash
# Nested MMDS bench section (issue 14): real Linux (L2, under ember, under
# QEMU's emulated KVM: tests/nested/README.md) GETs its metadata with busybox
# wget from the MMDS (V1) and the same GETs from a busybox httpd on L1's side
# of the TAP, in alternating rounds (the nested run `mmdsbench`, not part of
# make test). Prints the per-round times and the GETs/s ratio. Both levels are
# emulated: absolute rates mean nothing, the ratio compares ember's
# in-process responder with L1's kernel TCP stack + httpd on the same path.
# Takes a few minutes (an L1 boot, an L2 boot, 220 GETs).
set -u
BUILD=${BUILD:-build}
root=$(cd "$(dirname "$0")/../.." && pwd)
command -v qemu-system-x86_64 >/dev/null ||
	{ echo "nested-mmds: needs qemu-system-x86_64 (make setup)"; exit 1; }
out=$(make -s --no-print-directory -C "$root" BUILD="$BUILD" nested NESTED_ONLY=mmdsbench 2>&1)
rc=$?
log=$(sed -n 's/.*(L2 user space at.*; log \(.*\))$/\1/p' <<<"$out" | tail -n 1)
lines=$(tr -d '\r' <"${log:-/dev/null}" 2>/dev/null | grep -a 'NT-L2: mmds-bench' | sed 's/^.*NT-L2: /  /')
echo "MMDS GETs from L2 (busybox wget, a connection each) vs the same GETs to busybox httpd on L1:"
if [ $rc -ne 0 ] || ! grep -q 'mmds-bench: ' <<<"$lines"; then
	echo "$out" | tail -n 8
	exit 1
fi
echo "$lines"
