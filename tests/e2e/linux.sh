#!/usr/bin/env bash
# Boots Linux guests under ember and checks what the kernel itself prints.
#   tests/e2e/linux.sh short   Debian's cloud kernel, its bzImage decompressed by ember
#                              (--kernel-decompress), busybox initramfs, 256 MiB, 2 vCPUs,
#                              CPU template without CX16: the e820 map matches the RAM, the
#                              ACPI tables are listed and the MADT used, the CPU count, the
#                              command line.
#   tests/e2e/linux.sh full    short, plus ember's minimal kernel (tools/build-guest-kernel.sh)
#                              as ELF vmlinux with a partitioned virtio disk, devices found
#                              through ACPI (DSDT LNRO0005) and with acpi=off through the
#                              virtio_mmio.device= tokens: virtio_blk probed, 'vda: vda1', ext4
#                              root mounted, 'Run /sbin/init'; and the Debian bzImage through
#                              its own decompressor.
# On a host whose KVM is kvm_pvm (a software nested hypervisor) Linux cannot get past
# int3_selftest() in alternative_instructions(): the host cannot emulate a CPL0 int3 and
# KVM_RUN fails with an emulation error. There the test checks everything printed before
# that point, checks that the stop is exactly that failure, and skips the later stages;
# everywhere else every stage is required, up to user space and ember's exit code 0.
# Waits on the console output itself (polled every 0.1 s, a timeout per stage counted in
# ember's CPU time, capped in wall-clock time), then kills ember. Prints the time of every
# stage: wall clock since ember started and ember's CPU time.
# Env: BUILD, EMBER (binary), EMBER_E2E_TIMEOUT_SCALE (default 1), EMBER_E2E_WALL_FACTOR
#      (default 6), EMBER_E2E_KEEP=1 keeps the logs, EMBER_E2E_ONLY=ERE boots only the
#      guests whose name matches (debian-decomp, min-acpi, min-cmdline, min-4g, debian-bzimage).
set -uo pipefail
. "$(dirname "$0")/../../tools/common.sh"

mode=${1:-short}
case "$mode" in short | full) ;; *) echo "usage: $0 short|full" >&2; exit 2 ;; esac
BUILD=${BUILD:-build}
EMBER=${EMBER:-$EMBER_ROOT/$BUILD/ember}
SCALE=${EMBER_E2E_TIMEOUT_SCALE:-1}
[ -x "$EMBER" ] || { echo "linux e2e: $EMBER not built" >&2; exit 1; }

TMP=$(mktemp -d /tmp/ember-e2e-linux.XXXXXX)
# seccomp report mode (include/ember/seccomp.h), as tests/e2e/lib.sh: zero violations
export EMBER_SECCOMP_REPORT=$TMP/seccomp-report.txt
: >"$EMBER_SECCOMP_REPORT"
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

FULLHOST=1
[ -d /sys/module/kvm_pvm ] && FULLHOST=0

fails=0 passes=0 skips=0
SUMMARY=()
pass() { passes=$((passes + 1)); echo "  PASS  $*"; }
fail() { fails=$((fails + 1)); echo "  FAIL  $*"; }
skip() { skips=$((skips + 1)); echo "  SKIP  $*"; }
want() { [[ $1 =~ ${EMBER_E2E_ONLY:-.} ]]; }
secs() { printf '%d.%d' $(($1 / 1000)) $((($1 % 1000) / 100)); }

# ---- one VM at a time: start, wait for console lines, stop ----
VM="" LOG="" ERR="" T0=0 RC=""
start_vm() { # NAME ember-run-args...
	VM=$1
	shift
	LOG=$TMP/$VM.console
	ERR=$TMP/$VM.stderr
	RC=""
	CPU_MS=0
	: >"$LOG"
	echo "== $VM: ember run $*"
	T0=$(now_ms)
	"$EMBER" run --console "file:$LOG" --log-level info "$@" 2>"$ERR" &
	PID=$!
}
TICK=$(getconf CLK_TCK)
CPU_MS=0
cpu_ms() { # ember's CPU time so far (all threads; guest emulation counts as system time)
	local f
	f=$(cut -d')' -f2 "/proc/$PID/stat" 2>/dev/null) || { echo "$CPU_MS"; return; }
	set -- $f
	CPU_MS=$(((${12} + ${13}) * 1000 / TICK))
	echo "$CPU_MS"
}
stage() { # LABEL: record the time of a stage (wall clock and ember's CPU time)
	local t=$(($(now_ms) - T0)) c
	c=$(cpu_ms)
	printf '        %-36s %6s s  (cpu %s s)\n' "$1" "$(secs $t)" "$(secs $c)"
	SUMMARY+=("$(printf '%-15s %-36s %6s s  (cpu %6s s)' "$VM" "$1" "$(secs $t)" "$(secs $c)")")
}
reap() { # sets RC once ember has ended
	[ -n "$RC" ] || cpu_ms >/dev/null
	if [ -z "$RC" ] && ! kill -0 "$PID" 2>/dev/null; then
		wait "$PID"
		RC=$?
	fi
}
# wait_for LABEL TIMEOUT_S ERE: wait until the console shows ERE. The timeout counts
# ember's CPU time (the guest is CPU-bound; other load on the host must not fail the
# test), with a wall-clock cap of WALL_FACTOR times as much.
WALL_FACTOR=${EMBER_E2E_WALL_FACTOR:-6}
wait_for() {
	local label=$1 timeout=$(($2 * SCALE * 1000)) re=$3 start ended
	start=$(now_ms)
	local cpu0=$CPU_MS
	while :; do
		ended=$RC
		if grep -qE -- "$re" "$LOG"; then
			stage "$label"
			return 0
		fi
		if [ -n "$ended" ]; then # the log was complete when grep ran
			fail "$VM: ember exited with $RC before '$label'"
			dump
			return 1
		fi
		if [ $((CPU_MS - cpu0)) -ge $timeout ] || [ $(($(now_ms) - start)) -ge $((timeout * WALL_FACTOR)) ]; then
			fail "$VM: no '$label' within $((timeout / 1000)) s of CPU time ($(secs $(($(now_ms) - start))) s wall)"
			dump
			return 1
		fi
		sleep 0.1
		reap
	done
}
# wait_exit TIMEOUT_S: wait for ember to end by itself (same timeout rule); sets RC.
wait_exit() {
	local timeout=$(($1 * SCALE * 1000)) start cpu0=$CPU_MS
	start=$(now_ms)
	reap
	while [ -z "$RC" ] && [ $((CPU_MS - cpu0)) -lt $timeout ] &&
		[ $(($(now_ms) - start)) -lt $((timeout * WALL_FACTOR)) ]; do
		sleep 0.1
		reap
	done
	[ -n "$RC" ]
}
stop_vm() {
	reap
	if [ -z "$RC" ]; then
		kill "$PID" 2>/dev/null
		wait "$PID" 2>/dev/null
	fi
	PID=""
	if grep -qiE 'sanitizer|runtime error|assert' "$ERR"; then
		fail "$VM: ember reported a problem on stderr"
		sed 's/^/        stderr: /' "$ERR" | head -n 20
	fi
}
dump() {
	echo "        --- last console lines ($LOG) ---"
	tail -n 12 "$LOG" | cut -c1-160 | sed 's/^/        | /'
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
		pass "$VM: e820: $n usable ranges, $((total >> 10)) of $((mem >> 10)) KiB, top $(printf %#x $top)"
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
	check_line "MADT used for CPUs and IOAPIC" 'ACPI: Using ACPI \(MADT\) for SMP configuration'
	check_line "IOAPIC from the MADT" 'IOAPIC\[0\]: apic_id [0-9]+, version [0-9]+, address 0xfec00000, GSI 0-23'
	check_no_line "no ACPI errors or warnings" 'ACPI (BIOS )?(Error|Warning)|ACPI BIOS Warning|ACPI: .*[Cc]hecksum mismatch|Incorrect checksum'
}
check_cpus_allowed() { # N
	if grep -qE "smpboot: Allowing $1 CPUs?, 0 hotplug CPUs" "$LOG"; then
		pass "$VM: kernel allows $1 CPUs"
	else
		fail "$VM: CPU count: want $1: $(grep -hE 'smpboot: Allowing' "$LOG" | cut -c1-100)"
	fi
}
check_cmdline() { # STRING: the kernel saw STRING, possibly followed by ember's tokens
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
check_stderr() { # DESCRIPTION ERE (ember's own log)
	if grep -qiE -- "$2" "$ERR"; then
		pass "$VM: $1"
	else
		fail "$VM: $1: no ember log line matching /$2/"
	fi
}
# On kvm_pvm: ember must end with the host's emulation failure on int3_selftest's
# int3 (instruction bytes start with 0xcc; at int3_selftest_ip when SYSTEM_MAP is known).
expect_int3_stop() { # TIMEOUT_S [SYSTEM_MAP]
	local map=${2:-} line words bytes rip want
	if ! wait_exit "$1"; then
		fail "$VM: ember still running ${1} s after the last stage"
		dump
		return
	fi
	stage "ember exited ($RC): int3 not emulated"
	line=$(grep -m1 'KVM internal error, suberror 1 ' "$ERR" || true)
	words=$(echo "$line" | sed -n 's/.*suberror 1 //p')
	bytes=$(echo "$words" | awk '{print $2}')
	rip=$(sed -nE 's/.*rip=([0-9a-f]+).*/\1/p' "$ERR" | head -n1)
	if [ "$RC" = 0 ] || [ -z "$bytes" ] || [ $(((bytes >> 8) & 0xff)) -ne $((0xcc)) ]; then
		fail "$VM: ember ended ($RC) but not on an int3 emulation failure"
		dump
		return
	fi
	if [ -n "$map" ]; then
		want=$(awk '$3 == "int3_selftest_ip" {print $1}' "$map")
		if [ "$rip" != "$want" ]; then
			fail "$VM: emulation failure at rip $rip, not at int3_selftest_ip ($want)"
			return
		fi
	fi
	pass "$VM: boot ran up to int3_selftest (KVM emulation failure on int3 at $rip; host limit)"
}

# ---- guest images (cached; first use downloads/builds) ----
t=$(now_ms)
KDIR=$("$EMBER_ROOT/tools/fetch-debian-kernel.sh") || exit 1
INITRD=$("$EMBER_ROOT/tools/mkinitramfs.sh" "$KDIR") || exit 1
ROOTFS=$("$EMBER_ROOT/tools/mkrootfs.sh") || exit 1
echo "linux e2e ($mode): guest images ready in $(secs $(($(now_ms) - t))) s (Debian $(cat "$KDIR/release"))"
if [ $FULLHOST -eq 0 ]; then
	echo "linux e2e: kvm_pvm host: a CPL0 int3 cannot be emulated here, so Linux stops in"
	echo "           int3_selftest() before SMP bring-up, device probing and user space;"
	echo "           the checks of those later stages run only on other hosts"
fi

# earlyprintk: under emulation the real console starts only after ~2 minutes.
BASE="console=ttyS0 earlyprintk=ttyS0 reboot=k panic=1 $EMBER_GUEST_TUNING"
TEMPLATE=$EMBER_CPU_TEMPLATE

debian_boot() { # NAME TIMEOUT_FIRST_LINE TO_END(0|1) EXTRA_EMBER_ARGS...
	local name=$1 first=$2 to_end=$3 mem=256 cpus=2 cmd="$BASE"
	shift 3
	start_vm "$name" --kernel "$KDIR/vmlinuz" --initrd "$INITRD" --mem ${mem}M --cpus $cpus \
		--cpu-template "$TEMPLATE" --cmdline "$cmd" --disk "$ROOTFS,ro" "$@"
	if wait_for "first kernel line" "$first" 'Linux version' &&
		wait_for "ACPI tables listed" 60 'ACPI: DSDT' &&
		wait_for "CPUs counted (MADT)" 60 'smpboot: Allowing'; then
		check_e820 $mem
		check_acpi
		check_cpus_allowed $cpus
		check_cmdline "$cmd"
		case " $* " in *" --kernel-decompress "*)
			check_stderr "ember decompressed the bzImage on the host" 'payload decompressed on the host' ;;
		esac
		if [ $FULLHOST -eq 1 ]; then
			if wait_for "SMP: CPUs brought up" 60 'smp: Brought up' &&
				wait_for "Run /init" 60 'Run /init as init process'; then
				check_line "$cpus CPUs brought up" "smp: Brought up [0-9]+ nodes?, $cpus CPUs"
				check_line "initramfs unpacked" 'Unpacking initramfs|Trying to unpack rootfs'
				check_no_line "no initramfs errors" 'Initramfs unpacking failed|junk in compressed archive'
				check_line "console on ttyS0 (16550A)" 'ttyS0 at I/O 0x3f8.*16550A'
				if wait_for "initramfs marker" 30 'EMBER-INITRAMFS-OK' && wait_exit 30; then
					check_no_line "all modules loaded" 'EMBER-INITRAMFS: FAILED'
					check_line "virtio_blk bound to a virtio-mmio device" 'EMBER-INITRAMFS: virtio[0-9]+ device=0x0002 driver=virtio_blk'
					check_line "disk vda seen" 'EMBER-INITRAMFS: disk vda '
					if [ "$RC" = 0 ]; then pass "$name: guest reboot ended ember with 0"; else
						fail "$name: ember exit code $RC after the guest rebooted (want 0)"; fi
				fi
			fi
		elif [ "$to_end" = 1 ]; then
			expect_int3_stop 200
			skip "$name: SMP bring-up, initramfs, modules, user space (kvm_pvm host)"
		else
			skip "$name: the rest of the boot (kvm_pvm host; see full)"
		fi
	fi
	stop_vm
}

echo "linux e2e: Debian kernel, bzImage decompressed by ember (--kernel-decompress)"
want debian-decomp && debian_boot debian-decomp 90 $([ "$mode" = full ] && echo 1 || echo 0) --kernel-decompress

if [ "$mode" = full ]; then
	t=$(now_ms)
	VMLINUX=$("$EMBER_ROOT/tools/build-guest-kernel.sh") || exit 1
	PART=$("$EMBER_ROOT/tools/mkrootfs.sh" --partitioned) || exit 1
	echo "linux e2e: minimal kernel and partitioned disk ready in $(secs $(($(now_ms) - t))) s"
	# A private copy: the guest may write to its disk.
	cp "$PART" "$TMP/disk.img"

	min_boot() { # NAME DISCOVERY(acpi|cmdline) CPUS CMDLINE-EXTRA
		local name=$1 how=$2 cpus=$3 cmd="$BASE root=/dev/vda1${4:+ $4}"
		start_vm "$name" --kernel "$VMLINUX" --mem 128M --cpus $cpus --cpu-template "$TEMPLATE" \
			--cmdline "$cmd" --disk "$TMP/disk.img,id=root"
		wait_for "first kernel line" 60 'Linux version' &&
			wait_for "CPUs counted" 60 'smpboot: Allowing' || { stop_vm; return; }
		check_cmdline "$cmd"
		check_e820 128
		if [ "$how" = acpi ]; then
			check_acpi
			check_cpus_allowed $cpus
		else
			check_no_line "acpi=off: no ACPI tables parsed" 'ACPI: (RSDP|DSDT) 0x'
			check_cpus_allowed 1
		fi
		if [ $FULLHOST -eq 0 ]; then
			expect_int3_stop 60 "$(dirname "$VMLINUX")/System.map"
			skip "$name: virtio_blk, vda: vda1, ext4 root, /sbin/init (kvm_pvm host)"
			stop_vm
			return
		fi
		if wait_for "virtio_blk probed" 60 'virtio_blk virtio[0-9]+: \[vda\]' &&
			wait_for "partition table: vda: vda1" 30 ' vda: vda1' &&
			wait_for "ext4 root mounted" 30 'VFS: Mounted root \(ext4 filesystem\)'; then
			check_line "ext4 on vda1" 'EXT4-fs \(vda1\): mounted filesystem'
			# ember describes each slot twice (DSDT LNRO0005 and a virtio_mmio.device=
			# token, for kernels without ACPI); with both, the second registration of
			# a slot finds its MMIO region taken (-EBUSY, -16): expected, harmless.
			check_no_line "no virtio-mmio probe failures (other than duplicates)" 'probe of .*(LNRO0005|virtio-mmio|virtio[0-9]).* failed with error -([02-9]|1[0-57-9]|1?[0-9][0-9][0-9]+)'
			[ "$how" = acpi ] && check_line "$cpus CPUs brought up" "smp: Brought up [0-9]+ nodes?, $cpus CPUs"
			case "$cmd" in
			*init=/ember-no-such-init*)
				# No init: the kernel panics, panic=1 reboot=k resets through the i8042.
				if wait_for "kernel panic (no init)" 30 'Kernel panic - not syncing' && wait_exit 60; then
					if [ "$RC" = 0 ]; then pass "$name: panic -> i8042 reset ended ember with 0"; else
						fail "$name: ember exit code $RC after the guest's reset (want 0)"; fi
				else
					fail "$name: ember did not exit after the guest's panic"
				fi
				;;
			*)
				wait_for "Run /sbin/init" 30 'Run /sbin/init as init process' &&
					wait_for "rootfs marker" 30 'EMBER-ROOTFS-OK' && wait_exit 30 &&
					if [ "$RC" = 0 ]; then pass "$name: guest reboot ended ember with 0"; else
						fail "$name: ember exit code $RC (want 0)"; fi
				;;
			esac
		fi
		stop_vm
	}
	echo "linux e2e: minimal kernel (ELF vmlinux), devices found through ACPI (DSDT LNRO0005)"
	want min-acpi && min_boot min-acpi acpi 4 ""
	echo "linux e2e: minimal kernel, acpi=off, devices from virtio_mmio.device= tokens"
	want min-cmdline && min_boot min-cmdline cmdline 2 "acpi=off init=/ember-no-such-init"

	echo "linux e2e: RAM above the MMIO gap (4.5 GiB): the e820 map"
	want min-4g && start_vm min-4g --kernel "$VMLINUX" --mem 4608M --cpu-template "$TEMPLATE" --cmdline "$BASE"
	# The whole map is printed before this line (setup_arch).
	if want min-4g; then
		wait_for "e820 map printed" 60 'NX \(Execute Disable\) protection' && check_e820 4608
		stop_vm
	fi

	echo "linux e2e: Debian bzImage through its own decompressor (slow under emulation)"
	want debian-bzimage && debian_boot debian-bzimage 300 0
fi

echo "linux e2e ($mode) stage times (wall clock since ember started; ember's CPU time):"
printf '  %s\n' "${SUMMARY[@]}"
if [ -s "$EMBER_SECCOMP_REPORT" ]; then
	echo "  FAIL seccomp report: would-be violations under the built-in filters:"
	sed 's/^/      | /' "$EMBER_SECCOMP_REPORT" | head -n 20
	fails=$((fails + 1))
fi
echo "linux e2e ($mode): $passes passed, $fails failed, $skips skipped"
[ $fails -eq 0 ]
