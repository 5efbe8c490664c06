#!/usr/bin/env bash
# Boot time to user space, x86_64 next to aarch64, in one bench run (issue
# 17): NESTED_BOOTBENCH_ROUNDS rounds (default 2), each the x86 nested layer
# (run `bootbench`: QEMU TCG EPYC, kvm-amd in L1) and then the arm64 one
# (qemu-system-aarch64 TCG -cpu max, KVM at EL2 in L1), each doing a warm-up
# and NESTED_BOOTBENCH_K (default 3) timed one-shot runs of the same thing:
# `ember run --kernel <Debian 6.1 cloud kernel> --mem 128M -- /bin/cat
# /proc/uptime` (1 vCPU, no devices, quiet; the one-shot init reports CMD's
# status through ember's exit register on both). Printed per boot: L2's
# uptime when CMD ran (boot to user space, L2's clock) and L1's seconds from
# ember's start to its exit; then the medians and arm64/x86 as ratios.
# Absolute figures are software-emulated nested KVM (10-50x slower than
# hardware) and the two emulations differ: only ratios within one run count.
set -u
BUILD=${BUILD:-build}
A64=${BUILD_A64:-build-aarch64}
root=$(cd "$(dirname "$0")/../.." && pwd)
rounds=${NESTED_BOOTBENCH_ROUNDS:-2} k=${NESTED_BOOTBENCH_K:-3}
if ! command -v qemu-system-x86_64 >/dev/null || ! command -v qemu-system-aarch64 >/dev/null; then
	echo "nested-boot: needs qemu-system-x86_64 and qemu-system-aarch64 (make setup; tools/setup.sh --aarch64)"
	exit 1
fi
make -C "$root" --no-print-directory -s cross-aarch64 >/dev/null || { echo "nested-boot: make cross-aarch64 failed"; exit 1; }
out=$(mktemp) res=$(mktemp)
trap 'rm -f "$out" "$res"' EXIT
for r in $(seq 1 "$rounds"); do
	BUILD=$BUILD NESTED_ONLY=bootbench NESTED_L1_ARGS="${NESTED_L1_ARGS:-} nt.bootbench=$k" \
		"$root/tools/nested/run.sh" >"$out" 2>&1 || grep -E "FAIL|nested:" "$out" | sed 's/^/  x86: /'
	tr -d '\r' <"$BUILD/nested/serial.log" | grep -a '^NT-BOOTBENCH x86_64 ' | sed "s/\$/ $r/" >>"$res"
	(cd "$root" && BUILD_A64=$A64 NESTED_A64_BOOTBENCH=$k tools/nested/run-aarch64.sh) >"$out" 2>&1 ||
		tail -n 3 "$out" | sed 's/^/  arm64: /'
	tr -d '\r' <"$A64/nested/serial.log" | grep -a '^NT-BOOTBENCH aarch64 ' | sed "s/\$/ $r/" >>"$res"
done
awk -v k="$k" -v rounds="$rounds" '
	function median(a, n,   i, j, t) {
		for (i = 1; i <= n; i++) for (j = i + 1; j <= n; j++) if (a[j] < a[i]) { t = a[i]; a[i] = a[j]; a[j] = t }
		return n % 2 ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2
	}
	{
		arch = $2; n[arch]++
		up[arch, n[arch]] = $3; wall[arch, n[arch]] = $4
		printf "  round %d %-7s boot %d: L2 user space at %6.2f s (L2 clock), ember start -> exit %6.2f s (L1 clock)\n", $5, arch, n[arch], $3, $4
	}
	END {
		want = k * rounds
		if (n["x86_64"] != want || n["aarch64"] != want) {
			printf "nested-boot: %d x86_64 and %d aarch64 boots measured, %d each wanted\n", n["x86_64"], n["aarch64"], want
			exit 1
		}
		for (a in n) {
			for (i = 1; i <= n[a]; i++) { u[i] = up[a, i]; w[i] = wall[a, i] }
			mu[a] = median(u, n[a]); mw[a] = median(w, n[a])
		}
		printf "  medians of %d boots each: x86_64 %.2f s to user space, %.2f s start -> exit; aarch64 %.2f s, %.2f s\n", want, mu["x86_64"], mw["x86_64"], mu["aarch64"], mw["aarch64"]
		printf "  aarch64/x86_64: boot to user space %.2fx, ember start -> exit %.2fx\n", mu["aarch64"] / mu["x86_64"], mw["aarch64"] / mw["x86_64"]
	}' "$res"
