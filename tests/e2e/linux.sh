#!/usr/bin/env bash
# Boots Linux guests under ember and checks what the kernel itself prints.
#   tests/e2e/linux.sh short   Debian's cloud kernel (bzImage decompressed on the host,
#                              --kernel-decompress) with the busybox initramfs: e820 map,
#                              ACPI tables, CPU count, command line, up to 'Run /init'.
#   tests/e2e/linux.sh full    short, plus ember's minimal kernel (tools/build-guest-kernel.sh)
#                              with a partitioned virtio disk, found through ACPI and
#                              through virtio_mmio.device= with acpi=off: virtio_blk probed,
#                              'vda: vda1', ext4 root mounted, 'Run /sbin/init', a kernel
#                              panic ending ember with exit 0 (i8042 reset); and the Debian
#                              bzImage through its own decompressor (slow here).
# Waits on the console output itself (polled every 0.1 s, with a timeout per stage),
# then kills ember. Prints the time of every stage (host wall clock from ember's start).
# Env: BUILD (build dir), EMBER (binary), EMBER_E2E_TIMEOUT_SCALE (default 1),
#      EMBER_E2E_KEEP=1 keeps the console logs.
set -uo pipefail
. "$(dirname "$0")/../../tools/common.sh"

mode=${1:-short}
case "$mode" in short | full) ;; *) echo "usage: $0 short|full" >&2; exit 2 ;; esac
BUILD=${BUILD:-build}
EMBER=${EMBER:-$EMBER_ROOT/$BUILD/ember}
SCALE=${EMBER_E2E_TIMEOUT_SCALE:-1}
[ -x "$EMBER" ] || { echo "linux e2e: $EMBER not built" >&2; exit 1; }

TMP=$(mktemp -d /tmp/ember-e2e-linux.XXXXXX)
PID=""
cleanup() {
	if [ -n "$PID" ] && kill -0 "$PID" 2>/dev/null; then
		kill "$PID" 2>/dev/null
		wait "$PID" 2>/dev/null
	fi
	if [ "${EMBER_E2E_KEEP:-0}" = 1 ]; then
		echo "linux e2e: logs kept in $TMP"
	else
		rm -rf "$TMP"
	fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# User space cannot run under kvm_pvm (guest SYSCALL is broken there); on every
# other host the guests' init must print its marker and reboot (ember exits 0).
USERSPACE=1
[ -d /sys/module/kvm_pvm ] && USERSPACE=0

fails=0
passes=0
skips=0
SUMMARY=()
pass() { passes=$((passes + 1)); echo "  PASS  $*"; }
fail() { fails=$((fails + 1)); echo "  FAIL  $*"; }
skip() { skips=$((skips + 1)); echo "  SKIP  $*"; }
secs() { printf '%d.%d' $(($1 / 1000)) $((($1 % 1000) / 100)); }

# ---- one VM at a time: start, wait for console lines, stop ----
VM="" LOG="" ERR="" T0=0 RC=""
start_vm() { # NAME ember-run-args...
	VM=$1
	shift
	LOG=$TMP/$VM.console
	ERR=$TMP/$VM.stderr
	RC=""
	: >"$LOG"
	echo "== $VM: ember run $*"
	T0=$(now_ms)
	"$EMBER" run --console "file:$LOG" "$@" 2>"$ERR" &
	PID=$!
}
# wait_for LABEL TIMEOUT_S ERE: wait until the console shows ERE; record the stage time.
wait_for() {
	local label=$1 timeout=$(($2 * SCALE)) re=$3 deadline t
	deadline=$(($(now_ms) + timeout * 1000))
	while :; do
		if grep -qE -- "$re" "$LOG"; then
			t=$(($(now_ms) - T0))
			printf '        %-34s %6s s\n' "$label" "$(secs $t)"
			SUMMARY+=("$(printf '%-16s %-34s %6s s' "$VM" "$label" "$(secs $t)")")
			return 0
		fi
		if [ -z "$RC" ] && ! kill -0 "$PID" 2>/dev/null; then
			wait "$PID"
			RC=$?
			continue # one more look at the complete log
		fi
		if [ -n "$RC" ]; then
			fail "$VM: ember exited with $RC before '$label'"
			dump
			return 1
		fi
		if [ "$(now_ms)" -ge "$deadline" ]; then
			fail "$VM: no '$label' within ${timeout} s"
			dump
			return 1
		fi
		sleep 0.1
	done
}
# wait_exit TIMEOUT_S: wait for ember to end by itself; sets RC.
wait_exit() {
	local deadline=$(($(now_ms) + $1 * SCALE * 1000))
	while [ -z "$RC" ] && kill -0 "$PID" 2>/dev/null && [ "$(now_ms)" -lt "$deadline" ]; do
		sleep 0.1
	done
	if [ -z "$RC" ] && ! kill -0 "$PID" 2>/dev/null; then
		wait "$PID"
		RC=$?
	fi
	[ -n "$RC" ]
}
stop_vm() {
	if [ -z "$RC" ] && kill -0 "$PID" 2>/dev/null; then
		kill "$PID" 2>/dev/null
		wait "$PID" 2>/dev/null
	fi
	PID=""
	if [ -s "$ERR" ] && grep -qiE 'internal error|triple fault|assert|sanitizer|runtime error' "$ERR"; then
		fail "$VM: ember reported a problem on stderr"
		sed 's/^/        stderr: /' "$ERR" | head -n 20
	fi
}
dump() {
	echo "        --- last console lines ($LOG) ---"
	tail -n 15 "$LOG" | sed 's/^/        | /'
	if [ -s "$ERR" ]; then
		echo "        --- ember stderr ---"
		tail -n 15 "$ERR" | sed 's/^/        | /'
	fi
}

# ---- checks on what the kernel printed ----
# e820: usable RAM adds up to the configured size, ends where it should, and
# nothing usable sits in the MMIO gap [3 GiB, 4 GiB).
check_e820() { # MEM_MIB
	local mem=$(($1 << 20)) total=0 top=0 gap=0 n=0 s e want_top
	while read -r s e; do
		s=$((16#$s)) e=$((16#$e + 1))
		total=$((total + e - s))
		[ $e -gt $top ] && top=$e
		[ $s -lt $((4 << 30)) ] && [ $e -gt $((3 << 30)) ] && gap=1
		n=$((n + 1))
	done < <(sed -nE 's/.*BIOS-e820: \[mem 0x([0-9a-f]+)-0x([0-9a-f]+)\] usable.*/\1 \2/p' "$LOG")
	want_top=$mem
	[ $mem -gt $((3 << 30)) ] && want_top=$((mem + (1 << 30)))
	if [ $n -eq 0 ]; then
		fail "$VM: e820: no 'BIOS-e820: ... usable' lines"
	elif [ $gap -ne 0 ]; then
		fail "$VM: e820: usable RAM inside the MMIO gap"
	elif [ $top -ne $want_top ] || [ $total -gt $mem ] || [ $total -lt $((mem - (1 << 20))) ]; then
		fail "$VM: e820: usable $((total >> 10)) KiB in $n ranges up to $(printf %#x $top); want ${1} MiB ending at $(printf %#x $want_top)"
	else
		pass "$VM: e820: $n usable ranges, $((total >> 10)) KiB of $((mem >> 10)) KiB, top $(printf %#x $top)"
	fi
}
check_acpi() {
	local t missing=""
	for t in RSDP XSDT FACP APIC DSDT; do
		grep -qE "ACPI: $t 0x[0-9A-F]+" "$LOG" || missing+=" $t"
	done
	if [ -n "$missing" ]; then
		fail "$VM: ACPI tables not listed:$missing"
	else
		pass "$VM: ACPI tables listed: RSDP XSDT FACP APIC DSDT"
	fi
	if grep -qE 'ACPI (BIOS )?(Error|Warning)|ACPI: .*[Cc]hecksum|ACPI BIOS Warning' "$LOG"; then
		fail "$VM: ACPI errors:"
		grep -E 'ACPI (BIOS )?(Error|Warning)|[Cc]hecksum' "$LOG" | head -n 5 | sed 's/^/        | /'
	else
		pass "$VM: no ACPI errors or warnings"
	fi
}
check_cpus() { # N
	local n=$1 ok=1
	grep -qE "smpboot: Allowing $n CPUs?," "$LOG" || ok=0
	grep -qE "smp: Brought up [0-9]+ nodes?, $n CPUs?$" "$LOG" || ok=0
	if [ $ok -eq 1 ]; then
		pass "$VM: $n CPUs allowed and brought up"
	else
		fail "$VM: CPU count: want $n: $(grep -hE 'smpboot: Allowing|smp: Brought up' "$LOG" | tr '\n' ' ')"
	fi
}
check_cmdline() { # STRING
	local got
	got=$(sed -n 's/.*\] Command line: //p' "$LOG" | head -n1)
	if [ "${got#"$1"}" != "$got" ]; then
		pass "$VM: command line as given${got#"$1"}"
	else
		fail "$VM: command line: got '$got', want '$1...'"
	fi
}
check_line() { # DESCRIPTION ERE
	if grep -qE -- "$2" "$LOG"; then
		pass "$VM: $1"
	else
		fail "$VM: $1: no line matching /$2/"
	fi
}
check_no_line() { # DESCRIPTION ERE
	if grep -qE -- "$2" "$LOG"; then
		fail "$VM: $1:"
		grep -E -- "$2" "$LOG" | head -n 5 | sed 's/^/        | /'
	else
		pass "$VM: $1"
	fi
}

# ---- guest images (cached; first use downloads/builds) ----
t=$(now_ms)
KDIR=$("$EMBER_ROOT/tools/fetch-debian-kernel.sh") || exit 1
INITRD=$("$EMBER_ROOT/tools/mkinitramfs.sh" "$KDIR") || exit 1
ROOTFS=$("$EMBER_ROOT/tools/mkrootfs.sh") || exit 1
echo "linux e2e ($mode): guest images ready in $(secs $(($(now_ms) - t))) s (Debian $(cat "$KDIR/release"))"
[ $USERSPACE -eq 1 ] || echo "linux e2e: kvm_pvm host: guest user space cannot run here; checks end at the kernel's 'Run ...init'"

BASE="console=ttyS0 reboot=k panic=1 $EMBER_GUEST_TUNING"
TEMPLATE=$EMBER_CPU_TEMPLATE

# Kernel boot checks shared by the Debian kernel runs.
debian_boot() { # NAME TIMEOUT_FIRST_LINE EXTRA_EMBER_ARGS...
	local name=$1 first=$2 mem=256 cpus=2 cmd="$BASE"
	shift 2
	start_vm "$name" --kernel "$KDIR/vmlinuz" --initrd "$INITRD" --mem ${mem}M --cpus $cpus \
		--cpu-template "$TEMPLATE" --cmdline "$cmd" --disk "$ROOTFS,ro" "$@"
	if wait_for "first kernel line" "$first" 'Linux version' &&
		wait_for "e820 map, ACPI tables" 60 'ACPI: DSDT|Kernel command line' &&
		wait_for "SMP: CPUs brought up" 120 'smp: Brought up' &&
		wait_for "Run /init" 120 'Run /init as init process'; then
		check_e820 $mem
		check_acpi
		check_cpus $cpus
		check_cmdline "$cmd"
		check_line "initramfs unpacked" 'Unpacking initramfs|Trying to unpack rootfs'
		check_no_line "no initramfs errors" 'Initramfs unpacking failed|junk in compressed archive'
		check_line "console on ttyS0 (16550A)" 'ttyS0 at I/O 0x3f8.*16550A'
		if [ $USERSPACE -eq 1 ]; then
			if wait_for "initramfs marker" 30 'EMBER-INITRAMFS-OK' && wait_exit 30; then
				check_no_line "all modules loaded" 'EMBER-INITRAMFS: FAILED'
				check_line "virtio_blk bound to a virtio-mmio device (ACPI)" 'EMBER-INITRAMFS: virtio[0-9]+ device=0x0002 driver=virtio_blk'
				check_line "disk vda seen" 'EMBER-INITRAMFS: disk vda'
				[ "$RC" = 0 ] && pass "$name: guest reboot ended ember with 0" ||
					fail "$name: ember exit code $RC after the guest rebooted (want 0)"
			fi
		else
			skip "$name: user space (kvm_pvm host)"
		fi
	fi
	stop_vm
}

echo "linux e2e: Debian kernel, bzImage decompressed by ember (--kernel-decompress)"
debian_boot debian-decomp 60 --kernel-decompress

if [ "$mode" = full ]; then
	t=$(now_ms)
	VMLINUX=$("$EMBER_ROOT/tools/build-guest-kernel.sh") || exit 1
	PART=$("$EMBER_ROOT/tools/mkrootfs.sh" --partitioned) || exit 1
	echo "linux e2e: minimal kernel and partitioned disk ready in $(secs $(($(now_ms) - t))) s"
	# A private copy: the guest may write to its disk.
	cp "$PART" "$TMP/disk.img"

	min_boot() { # NAME DISCOVERY(acpi|cmdline) CMDLINE-EXTRA
		local name=$1 how=$2 cmd="$BASE root=/dev/vda1 $3" cpus=2
		start_vm "$name" --kernel "$VMLINUX" --mem 128M --cpus $cpus --cpu-template "$TEMPLATE" \
			--cmdline "$cmd" --disk "$TMP/disk.img,id=root"
		if wait_for "first kernel line" 30 'Linux version' &&
			wait_for "virtio_blk probed" 90 'virtio_blk virtio[0-9]+: \[vda\]' &&
			wait_for "partition table: vda: vda1" 30 ' vda: vda1' &&
			wait_for "ext4 root mounted" 30 'VFS: Mounted root \(ext4 filesystem\)'; then
			check_cmdline "$cmd"
			check_line "e820 present" 'BIOS-e820: \[mem'
			check_line "ext4 on vda1" 'EXT4-fs \(vda1\): mounted filesystem'
			check_no_line "no virtio-mmio probe failures" 'virtio.mmio.*(probe.*failed|error)|probe of .*(LNRO|virtio-mmio).* failed'
			if [ "$how" = acpi ]; then
				check_e820 128
				check_acpi
				check_line "$cpus CPUs brought up" "smp: Brought up [0-9]+ nodes?, $cpus CPUs"
				# The DSDT's LNRO0005 entries become platform devices named after their _HID.
				check_line "virtio-mmio devices from the DSDT" 'LNRO0005|ACPI: bus type platform|virtio[0-9]+: \[vda\]'
			else
				check_line "acpi=off honoured" 'ACPI: Interpreter disabled|acpi=off'
				check_no_line "no ACPI tables parsed" 'ACPI: DSDT 0x'
			fi
			case "$3" in
			*init=/ember-no-such-init*)
				if wait_for "kernel panic (no init)" 30 'Kernel panic - not syncing' && wait_exit 30; then
					[ "$RC" = 0 ] && pass "$name: panic -> i8042 reset ended ember with 0" ||
						fail "$name: ember exit code $RC after the guest's reset (want 0)"
				else
					fail "$name: ember did not exit after the guest's panic (reboot=k panic=1)"
				fi
				;;
			*)
				wait_for "Run /sbin/init" 30 'Run /sbin/init as init process'
				if [ $USERSPACE -eq 1 ]; then
					wait_for "rootfs marker" 30 'EMBER-ROOTFS-OK' && wait_exit 30 &&
						{ [ "$RC" = 0 ] && pass "$name: guest reboot ended ember with 0" ||
							fail "$name: ember exit code $RC (want 0)"; }
				fi
				;;
			esac
		fi
		stop_vm
	}
	echo "linux e2e: minimal kernel, devices found through ACPI (DSDT LNRO0005)"
	min_boot min-acpi acpi ""
	echo "linux e2e: minimal kernel, acpi=off, devices from virtio_mmio.device= tokens"
	min_boot min-cmdline cmdline "acpi=off init=/ember-no-such-init"

	echo "linux e2e: Debian bzImage through its own decompressor (slow under emulation)"
	debian_boot debian-bzimage 240
fi

echo "linux e2e ($mode) stage times (s since ember started):"
printf '  %s\n' "${SUMMARY[@]}"
echo "linux e2e ($mode): $passes passed, $fails failed, $skips skipped"
[ $fails -eq 0 ]
