#!/usr/bin/env bash
# Debian's cloud kernel (a bzImage) booted two ways: through its own
# decompressor (which runs as guest code) and with --kernel-decompress (ember
# decompresses the payload on the host and enters the vmlinux directly).
# Reported: host-side time ember spends loading (from its log), and wall time
# from process start to the kernel's first console line and to its
# "Command line:" line. Median of BENCH_KERNEL_RUNS runs (default 3; the
# bzImage path once: it is slow where the guest is emulated).
set -u
. "$(dirname "$0")/../common.sh"
BUILD=${BUILD:-build}
EMBER=${EMBER:-$EMBER_ROOT/$BUILD/ember}
RUNS=${BENCH_KERNEL_RUNS:-3}
kdir=$("$EMBER_ROOT/tools/fetch-debian-kernel.sh") || { echo "no Debian kernel"; exit 1; }
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT

now_ms() { date +%s%3N; }

# boot_once MODE: prints "first_line_ms cmdline_ms" (or "- -" on timeout)
boot_once() {
	local extra=$1 console=$TMP/console.txt t0 first=- cmd=- pid
	: >"$console"
	t0=$(now_ms)
	"$EMBER" run --kernel "$kdir/vmlinuz" $extra --mem 256M --cpus 1 \
		--cpu-template "$EMBER_CPU_TEMPLATE" --console "file:$console" \
		--cmdline "console=ttyS0 earlyprintk=serial,ttyS0 $EMBER_GUEST_TUNING" \
		</dev/null >/dev/null 2>"$TMP/err.txt" &
	pid=$!
	for _ in $(seq 3000); do # 300 s budget
		if [ "$first" = - ] && [ -s "$console" ]; then first=$(($(now_ms) - t0)); fi
		if grep -q "Command line:" "$console" 2>/dev/null; then
			cmd=$(($(now_ms) - t0))
			break
		fi
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.1
	done
	kill "$pid" 2>/dev/null
	wait "$pid" 2>/dev/null
	echo "$first $cmd"
}

median() { sort -n | awk '{ a[NR] = $1 } END { if (NR) print a[int((NR + 1) / 2)]; else print "-" }'; }

report() {
	local name=$1 extra=$2 runs=$3 firsts="" cmds="" r
	for _ in $(seq "$runs"); do
		r=$(boot_once "$extra")
		firsts="$firsts ${r% *}"
		cmds="$cmds ${r#* }"
	done
	printf '%-34s first console line %6s ms   "Command line:" %6s ms   (median of %d)\n' \
		"$name" "$(tr ' ' '\n' <<<"$firsts" | grep -v '^-*$' | median)" \
		"$(tr ' ' '\n' <<<"$cmds" | grep -v '^-*$' | median)" "$runs"
}

echo "kernel: $(cat "$kdir/release") ($(stat -c %s "$kdir/vmlinuz") bytes, $(file -b "$kdir/vmlinuz" 2>/dev/null | cut -c1-40))"
report "--kernel-decompress (host)" "--kernel-decompress" "$RUNS"
report "bzImage (guest decompressor)" "" 1
