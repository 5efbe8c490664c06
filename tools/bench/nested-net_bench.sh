#!/usr/bin/env bash
# Nested network throughput, passt vs TAP (issue 18): the nested `netbench` run
# (tests/nested/runs/netbench.sh) boots one L2 with a virtio-net on a TAP and
# one through passt and sends the same NESTED_NETBENCH_MIB MiB (default 8) from
# L2 to a TCP service of L1 over each, twice, alternating. Printed: MB/s of
# every transfer on L2's clock and passt's total against the TAP's as a ratio.
# Absolute figures are those of software-emulated nested KVM (10-50x slower
# than hardware): only the ratio within this one run means anything.
set -u
BUILD=${BUILD:-build}
root=$(cd "$(dirname "$0")/../.." && pwd)
mib=${NESTED_NETBENCH_MIB:-8}
if ! command -v qemu-system-x86_64 >/dev/null || ! command -v passt >/dev/null; then
	echo "nested-net: needs qemu-system-x86_64 and passt (make setup)"
	exit 1
fi
out=$(mktemp)
trap 'rm -f "$out"' EXIT
BUILD=$BUILD NESTED_ONLY=netbench NESTED_L1_ARGS="${NESTED_L1_ARGS:-} nt.netbench_mib=$mib" \
	"$root/tools/nested/run.sh" >"$out" 2>&1
rc=$?
log=$BUILD/nested/serial.log
tr -d '\r' <"$log" | awk -v mib="$mib" -v rc="$rc" '
	/^NT-NETBENCH (tap|passt) [0-9]+ [0-9.]+$/ {
		be = $2; s = $4
		n[be]++; t[be] += s
		printf "  %-5s transfer %d: %d MiB in %7.2f s  %6.3f MB/s\n", be, n[be], mib, s, mib * 1.048576 / s
	}
	END {
		if (!n["tap"] || !n["passt"] || n["tap"] != n["passt"]) {
			printf "nested-net: missing transfers (tap %d, passt %d; run.sh exit %d)\n", n["tap"], n["passt"], rc
			exit 1
		}
		tap = n["tap"] * mib * 1.048576 / t["tap"]; pa = n["passt"] * mib * 1.048576 / t["passt"]
		printf "  L2 -> L1 TCP, %d x %d MiB each: TAP %.3f MB/s, passt %.3f MB/s: passt/TAP %.2fx\n", n["tap"], mib, tap, pa, pa / tap
	}' || { grep -E "FAIL|nested:" "$out"; exit 1; }
grep -E "FAIL|nested:" "$out" | sed 's/^/  /'
