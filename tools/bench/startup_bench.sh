#!/usr/bin/env bash
# Start-up side by side with kvmtool (issue 12): Debian's cloud kernel with
# the busybox initramfs, 128 MiB, 1 vCPU, seccomp off for both, as
#   bzImage     ember run --kernel vmlinuz --initrd I   |  lkvm run -k vmlinuz -i I
#   ELF vmlinux ember run --kernel vmlinux --initrd I   (kvmtool loads no ELF)
#   UKI         ember run --kernel linux.efi (measured boot: it always is)
#   bzImage, --measured-boot (what every boot paid before issue 12)
# Measured by boot_probe's kvmrun mode: an LD_PRELOAD shim on ioctl() reads
# CLOCK_PROCESS_CPUTIME_ID (all threads, from exec) at the first KVM_RUN,
# before the guest's first instruction, and holds the VMM there while its
# smaps is read: "VMM RSS" is every mapping except guest RAM (Firecracker's
# method); "dirty" is the part of it the process wrote (heap, stacks,
# relocated data: what each VMM costs beyond the clean page-cache pages of
# its binary and libc, which every process running them shares). Median [min..max] of STARTUP_BENCH_RUNS rounds (default 11; each round runs every configuration once, interleaved), and
# ember/kvmtool ratios of the medians. Also: start -> API socket accepting,
# and `ember --version` / `--help` next to an empty C program (the floor: exec
# and the C library's start-up) linked as ember (musl static-pie) and with
# glibc, static and dynamic. ember is a static binary (Makefile), which ignores
# LD_PRELOAD: its rows run $BUILD/bench/ember-kvmrun, the same link with the
# shim compiled in (ld --wrap=ioctl).
#
# kvmtool is not a Debian 12 package. If a local mirror of its git
# repository exists (KVMTOOL_REPO, default /work/.mirror/kvmtool+kvmtool/repo)
# it is built under $BUILD/bench/kvmtool (never vendored or committed);
# otherwise ember's figures are printed alone. On a host whose CPU flags hide
# VMX/SVM (kvm_pvm), kvmtool's CPUID pre-check is patched out in that build
# directory: KVM itself still has the last word.
set -u
. "$(dirname "$0")/../common.sh"
BUILD=${BUILD:-build}
RUNS=${STARTUP_BENCH_RUNS:-11}
EMBER=$EMBER_ROOT/$BUILD/ember
PROBE=$EMBER_ROOT/$BUILD/bench/boot_probe
SHIM=$EMBER_ROOT/$BUILD/bench/kvm_run_shim.so
# A static ember ignores LD_PRELOAD: the first-KVM_RUN rows run its copy
# with the shim linked in (Makefile: $(BUILD)/bench/ember-kvmrun; the same
# objects and libraries), a dynamic one runs with the shim preloaded.
EMBER_RUN=$EMBER_ROOT/$BUILD/bench/ember-kvmrun
[ -x "$EMBER_RUN" ] && [ ! "$EMBER_RUN" -ot "$EMBER" ] || EMBER_RUN=$EMBER
KVMTOOL_REPO=${KVMTOOL_REPO:-/work/.mirror/kvmtool+kvmtool/repo}
here=$EMBER_ROOT/tools/bench

[ -x "$EMBER" ] || { echo "startup: $EMBER missing (run 'make' first)"; exit 1; }
if [ ! -r /dev/kvm ] || [ ! -w /dev/kvm ]; then
	echo "startup: skipped, /dev/kvm is not usable here"
	exit 0
fi
mkdir -p "$(dirname "$PROBE")"
if [ ! -x "$PROBE" ] || [ "$here/boot_probe.c" -nt "$PROBE" ]; then
	${CC:-cc} -O2 -Wall -Wextra -Werror -o "$PROBE" "$here/boot_probe.c" || exit 1
fi
if [ ! -f "$SHIM" ] || [ "$here/kvm_run_shim.c" -nt "$SHIM" ]; then
	${CC:-cc} -O2 -Wall -Wextra -Werror -shared -fPIC -o "$SHIM" "$here/kvm_run_shim.c" -ldl ||
		exit 1
fi
kdir=$("$EMBER_ROOT/tools/fetch-debian-kernel.sh" 2>/dev/null) || {
	echo "startup: skipped, no Debian kernel (tools/fetch-debian-kernel.sh)"
	exit 0
}
initrd=$("$EMBER_ROOT/tools/mkinitramfs.sh" "$kdir" 2>/dev/null) || {
	echo "startup: skipped, no initramfs (tools/mkinitramfs.sh)"
	exit 0
}
TMP=$(mktemp -d /tmp/ember-startup-bench.XXXXXX)
trap 'rm -rf "$TMP"' EXIT
K=$kdir/vmlinuz
CMD="console=ttyS0 reboot=k panic=1"

# kvmtool, built from the local mirror only
LKVM=""
if [ -d "$KVMTOOL_REPO" ]; then
	rev=$(git --git-dir="$KVMTOOL_REPO" rev-parse --short HEAD 2>/dev/null)
	kt=$EMBER_ROOT/$BUILD/bench/kvmtool-$rev
	if [ -n "$rev" ] && [ ! -x "$kt/lkvm" ]; then
		echo "building kvmtool $rev from $KVMTOOL_REPO (once)..."
		rm -rf "$kt" && mkdir -p "$kt" &&
			git --git-dir="$KVMTOOL_REPO" archive HEAD | tar -x -C "$kt" &&
			if ! grep -qw -e vmx -e svm /proc/cpuinfo; then
				sed -i '/^bool kvm__arch_cpu_supports_vm(void)$/{n;s/^{$/{\n\treturn true; \/* ember bench: host CPU flags hide VMX\/SVM *\//}' \
					"$kt/x86/kvm.c"
			fi &&
			make -C "$kt" -j2 lkvm >"$TMP/kvmtool-build.log" 2>&1 ||
			{ echo "  kvmtool build failed: $(tail -n 2 "$TMP/kvmtool-build.log")"; }
	fi
	[ -x "$kt/lkvm" ] && LKVM=$kt/lkvm
fi

# The ELF vmlinux inside the bzImage (payload_offset/length of the setup header)
VMLINUX=""
if command -v python3 >/dev/null; then
	python3 - "$K" "$TMP/payload" <<'EOF'
import struct, sys
b = open(sys.argv[1], 'rb').read()
off = ((b[0x1f1] or 4) + 1) * 512
po, pl = struct.unpack_from('<II', b, 0x248)
open(sys.argv[2], 'wb').write(b[off + po:off + po + pl])
EOF
	magic=$(head -c 4 "$TMP/payload" | od -An -tx1 | tr -d ' ')
	case $magic in
	02214c18) command -v lz4 >/dev/null && lz4 -dc <"$TMP/payload" >"$TMP/vmlinux" 2>/dev/null ;;
	28b52ffd) command -v zstd >/dev/null && zstd -qdc <"$TMP/payload" >"$TMP/vmlinux" 2>/dev/null ;;
	fd377a58) xz -dc <"$TMP/payload" >"$TMP/vmlinux" 2>/dev/null ;;
	1f8b*) gzip -dc <"$TMP/payload" >"$TMP/vmlinux" 2>/dev/null ;;
	esac
	[ "$(head -c 4 "$TMP/vmlinux" 2>/dev/null | od -An -c | tr -d ' ')" = "177ELF" ] && VMLINUX=$TMP/vmlinux
fi
UKI=$TMP/linux.efi
"$EMBER_ROOT/tools/mkuki.sh" -o "$UKI" -k "$K" -i "$initrd" -c "$CMD" >/dev/null 2>&1 || UKI=""

# A freshly written file's page-cache pages (a binary just linked, the UKI
# and vmlinux made above) are dirty until written back, which smaps would
# report as the VMM's own dirty memory.
sync "$EMBER" "$EMBER_RUN" ${LKVM:+"$LKVM"} ${UKI:+"$UKI"} ${VMLINUX:+"$VMLINUX"} "$initrd" 2>/dev/null

# Every configuration once per round, RUNS rounds (interleaved: the load
# of the shared host falls on all of them alike); one warm-up round first.
# cfg NAME VMM ARGS...: add a configuration (its samples go to $TMP/NAME.txt)
names=()
cfg() {
	local name=$1
	shift
	names+=("$name")
	printf '%s\0' "$@" >"$TMP/$name.argv"
}
ember_cfg() { cfg "$1" "$EMBER_RUN" run --mem 128M --cpus 1 --console none --no-seccomp "${@:2}"; }

ember_cfg bz --kernel "$K" --initrd "$initrd" --cmdline "$CMD"
ember_cfg bz_measured --kernel "$K" --initrd "$initrd" --cmdline "$CMD" --measured-boot
[ -n "$VMLINUX" ] && ember_cfg elf --kernel "$VMLINUX" --initrd "$initrd" --cmdline "$CMD"
[ -n "$UKI" ] && ember_cfg uki --kernel "$UKI"
[ -n "$LKVM" ] && cfg kvmtool "$LKVM" run -k "$K" -i "$initrd" -m 128 -c 1 -p "$CMD"
for ((i = -1; i < RUNS; i++)); do
	for name in "${names[@]}"; do
		mapfile -d '' argv <"$TMP/$name.argv"
		if [ "$i" -lt 0 ]; then
			"$PROBE" kvmrun "$SHIM" 128 -- "${argv[@]}" >/dev/null 2>&1
		else
			"$PROBE" kvmrun "$SHIM" 128 -- "${argv[@]}" >>"$TMP/$name.txt" 2>>"$TMP/err" || true
		fi
	done
done

# st FILE KEY: "median min max"
st() {
	grep -o "\b$2=[0-9-]*" "$1" 2>/dev/null | cut -d= -f2 | sort -n |
		awk '{v[NR] = $1} END {
			if (NR == 0) { print "- - -"; exit }
			m = (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2
			print m, v[1], v[NR] }'
}
med() { st "$1" "$2" | cut -d' ' -f1; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (a == "-" || b == "-" || b == 0) print ""; else printf "%.2fx", a / b }'; }
row() { # LABEL NAME: one line of figures
	local f=$TMP/$2.txt cpu wall rss dirty
	[ -s "$f" ] || { printf '  %-30s (no successful run)\n' "$1"; return; }
	cpu=$(st "$f" cpu_run_us | awk '{ printf "%6.2f [%.2f..%.2f]", $1 / 1000, $2 / 1000, $3 / 1000 }')
	wall=$(st "$f" wall_run_us | awk '{ printf "%6.2f", $1 / 1000 }')
	rss=$(st "$f" rss_run_kib | awk '{ printf "%5d [%d..%d]", $1, $2, $3 }')
	dirty=$(med "$f" dirty_run_kib)
	printf '  %-30s %-22s %7s   %-18s %5s\n' "$1" "$cpu" "$wall" "$rss" "$dirty"
}

echo "kernel $(cat "$kdir/release") bzImage $(($(stat -c %s "$K") >> 10)) KiB, initramfs $(($(stat -c %s "$initrd") >> 10)) KiB; 128 MiB, 1 vCPU, seccomp off; $RUNS interleaved rounds, load $(cut -d' ' -f1 /proc/loadavg)"
echo "exec -> first KVM_RUN         CPU ms (all threads)   wall ms   VMM RSS KiB        dirty"
row "ember bzImage" bz
[ -n "$LKVM" ] && row "kvmtool bzImage" kvmtool
row "ember bzImage --measured-boot" bz_measured
if [ -n "$VMLINUX" ]; then row "ember ELF vmlinux" elf; else echo "  ember ELF vmlinux              (no vmlinux: lz4/zstd tool missing)"; fi
if [ -n "$UKI" ]; then row "ember UKI (measured)" uki; else echo "  ember UKI                      (tools/mkuki.sh failed)"; fi
if [ -n "$LKVM" ] && [ -s "$TMP/kvmtool.txt" ]; then
	kc=$(med "$TMP/kvmtool.txt" cpu_run_us)
	kr=$(med "$TMP/kvmtool.txt" rss_run_kib)
	kd=$(med "$TMP/kvmtool.txt" dirty_run_kib)
	echo "ember / kvmtool (medians): CPU bzImage $(ratio "$(med "$TMP/bz.txt" cpu_run_us)" "$kc")," \
		"measured $(ratio "$(med "$TMP/bz_measured.txt" cpu_run_us)" "$kc")," \
		"ELF $(ratio "$(med "$TMP/elf.txt" cpu_run_us)" "$kc")," \
		"UKI $(ratio "$(med "$TMP/uki.txt" cpu_run_us)" "$kc"); VMM RSS bzImage $(ratio "$(med "$TMP/bz.txt" rss_run_kib)" "$kr")," \
		"ELF $(ratio "$(med "$TMP/elf.txt" rss_run_kib)" "$kr"), UKI $(ratio "$(med "$TMP/uki.txt" rss_run_kib)" "$kr")," \
		"dirty part $(ratio "$(med "$TMP/bz.txt" dirty_run_kib)" "$kd")"
else
	echo "kvmtool: not available (no mirror at $KVMTOOL_REPO): ember's figures alone"
fi

# start -> API socket accepting; --version / --help
for ((i = 0; i < RUNS; i++)); do
	"$PROBE" api "$TMP/api.sock" -- "$EMBER" --api-sock "$TMP/api.sock" >>"$TMP/api.txt" 2>/dev/null || true
done
[ -s "$TMP/api.txt" ] && echo "start -> API accepting: CPU $(st "$TMP/api.txt" cpu_api_us |
	awk '{ printf "%.2f ms [%.2f..%.2f]", $1 / 1000, $2 / 1000, $3 / 1000 }'), RSS $(med "$TMP/api.txt" rss_api_kib) KiB"
if command -v perf >/dev/null && perf stat -x, -e task-clock true >/dev/null 2>&1; then
	# The floor: an empty C program (exec, glibc's start-up with its CPUID
	# probing, exit), linked as ember is and dynamically; one round of each
	# after another, VRUNS rounds, medians of the rounds' means.
	echo 'int main(void) { return 0; }' >"$TMP/empty.c"
	${CC:-cc} -O2 -static-pie -o "$TMP/empty-static" "$TMP/empty.c" 2>/dev/null || rm -f "$TMP/empty-static"
	${CC:-cc} -O2 -o "$TMP/empty-dynamic" "$TMP/empty.c"
	# and linked as ember is when it is built on musl (Makefile)
	specs=$EMBER_ROOT/$BUILD/musl/static-pie.specs
	[ -f "$specs" ] && gcc -specs="$specs" -static-pie -O2 -o "$TMP/empty-musl" "$TMP/empty.c" 2>/dev/null ||
		rm -f "$TMP/empty-musl"
	sync "$TMP"/empty-* 2>/dev/null
	VRUNS=${STARTUP_BENCH_VRUNS:-9}
	for ((i = 0; i < VRUNS; i++)); do
		for v in "$EMBER --version" "$EMBER --help" "$TMP/empty-musl" "$TMP/empty-static" "$TMP/empty-dynamic"; do
			[ -x "${v%% *}" ] || continue
			perf stat -x, -r 20 -e task-clock $v 2>"$TMP/v.txt" >/dev/null
			awk -F, '/task-clock/ { print "us=" int($1 * 1000) }' "$TMP/v.txt" >>"$TMP/v-$(basename "${v// /_}").txt"
		done
	done
	vrow() { [ -s "$TMP/v-$2.txt" ] && printf '  %-34s %s\n' "$1" "$(st "$TMP/v-$2.txt" us |
		awk '{ printf "%.3f ms [%.3f..%.3f]", $1 / 1000, $2 / 1000, $3 / 1000 }')"; }
	echo "CPU (task-clock), median [min..max] of $VRUNS rounds' means of 20 runs:"
	vrow "ember --version" ember_--version
	vrow "ember --help" ember_--help
	vrow "empty C program, musl static-pie" empty-musl
	vrow "empty C program, glibc static-pie" empty-static
	vrow "empty C program, glibc dynamic" empty-dynamic
else
	echo "ember --version/--help: skipped (no perf for a sub-millisecond CPU figure)"
fi
