#!/usr/bin/env bash
# Boots the test guest under KVM with several machine shapes and checks its
# report: exit status 0 (guest reset through the i8042), a final
# "TESTGUEST DONE pass=N fail=0" with N > 0, no FAIL line, and the command
# line arriving intact.
set -u
. "$(dirname "$0")/lib.sh"
require "$EMBER" "$TESTGUEST"

# mib SIZE: 128M / 5G -> MiB
mib() {
	case "$1" in
	*G) echo $((${1%G} * 1024)) ;;
	*M) echo "${1%M}" ;;
	*) echo "$1" ;;
	esac
}

# Results every boot must contain (a check that silently stopped running
# would otherwise go unnoticed); smp.start too when there are APs.
REQUIRED="longmode.efer longmode.identity_map zeropage.magic cmdline.params e820.ram_total
e820.split e820.backed acpi.rsdp_checksums acpi.rsdp_scan acpi.xsdt acpi.fadt acpi.dsdt
acpi.madt madt.cpus dsdt.virtio dsdt.vmgenid mptable.config mptable.cpus mptable.apic_ids lapic.id"

# check_report NAME FILE CMDLINE [CPUS]: the guest's serial output in FILE.
check_report() {
	local name=$1 file=$2 cmdline=$3 cpus=${4:-1} out done pass failn r missing=""
	out=$(tr -d '\r' <"$file")
	for r in $REQUIRED $([ "$cpus" -gt 1 ] && echo smp.start); do
		grep -q "^ok $r " <<<"$out" || missing="$missing $r"
	done
	done=$(grep -E '^TESTGUEST DONE pass=[0-9]+ fail=[0-9]+$' <<<"$out" | tail -n 1)
	if [ -z "$done" ]; then
		fail "$name: no 'TESTGUEST DONE' line (exit status $RC)"
		show_file "$file"
		show_file "$ERR" 5
		return
	fi
	pass=$(sed -E 's/.*pass=([0-9]+).*/\1/' <<<"$done")
	failn=$(sed -E 's/.*fail=([0-9]+).*/\1/' <<<"$done")
	if [ "$failn" -ne 0 ] || grep -q '^FAIL' <<<"$out"; then
		fail "$name: guest reported failures: $done"
		grep '^FAIL' <<<"$out" | sed 's/^/      | /'
	elif [ "$pass" -le 0 ]; then
		fail "$name: no check passed: $done"
	elif [ -n "$missing" ]; then
		fail "$name: results missing from the report:$missing"
	elif ! grep -qF "ok cmdline.text \"${cmdline:0:200}" <<<"$out"; then
		fail "$name: command line did not arrive intact"
		grep 'cmdline' <<<"$out" | sed 's/^/      | /'
	else
		return 0
	fi
	return 1
}

# boot NAME MEM CPUS [EXTRA_CMDLINE]: boot with a file console.
boot() {
	local name=$1 mem=$2 cpus=$3 extra=${4:-} console cmdline
	console=$E2E_TMP/$name.console
	cmdline="tg.mem=$(mib "$mem") tg.cpus=$cpus${extra:+ $extra}"
	run_ember "$name" run --kernel "$TESTGUEST" --mem "$mem" --cpus "$cpus" \
		--console "file:$console" --cmdline "$cmdline"
	if [ "$RC" -ne 0 ]; then
		fail "$name: ember exited $RC$([ "$RC" -eq 124 ] && echo ' (timed out)') after ${MS} ms"
		show_file "$console"
		show_file "$ERR" 10
		return
	fi
	check_report "$name" "$console" "$cmdline" "$cpus" &&
		pass "$name: --mem $mem --cpus $cpus: $(grep -a '^TESTGUEST DONE' "$console" | tr -d '\r') in ${MS} ms"
}

boot mem128m_cpu1 128M 1
boot mem256m_cpu2 256M 2
boot mem5g_cpu4 5G 4 # RAM split around the MMIO gap, above 4 GiB
boot mem3g_cpu1 3G 1 # RAM ends exactly at the gap
boot mem512m_cpu32 512M 32
boot mem16g_cpu2 16G 2 # 13 GiB above the gap
# An ordinary-looking command line with other parameters and a long tail.
# (An ELF kernel has no setup header: ember allows Linux's default 2047 bytes.)
boot cmdline_long 128M 1 "console=ttyS0 foo=bar,baz quiet $(printf 'x%.0s' $(seq 1 1900))"

# Ending through ACPI power off (FADT sleep control register, \_S5).
boot poweroff 128M 2 "tg.end=poweroff"

# A guest triple fault: exit status 2 and a register dump on stderr.
cmdline="tg.mem=128 tg.cpus=1 tg.end=triplefault"
run_ember triplefault run --kernel "$TESTGUEST" --mem 128M --cpus 1 \
	--console "file:$E2E_TMP/triplefault.console" --cmdline "$cmdline"
if [ "$RC" -ne 2 ]; then
	fail "triplefault: ember exited $RC, expected 2"
	show_file "$ERR" 10
elif ! grep -qi 'triple fault' "$ERR" || ! grep -qi 'rip' "$ERR"; then
	fail "triplefault: no triple-fault message and register dump on stderr"
	show_file "$ERR" 10
else
	check_report triplefault "$E2E_TMP/triplefault.console" "$cmdline" &&
		pass "triplefault: exit status 2, $(grep -ci 'rip' "$ERR") register dump line(s) on stderr in ${MS} ms"
fi

# The same guest on the stdio console: the report goes to stdout.
cmdline="tg.mem=128 tg.cpus=1"
run_ember stdio_console run --kernel "$TESTGUEST" --mem 128M --cpus 1 --console stdio \
	--cmdline "$cmdline"
if [ "$RC" -ne 0 ]; then
	fail "stdio_console: ember exited $RC after ${MS} ms"
	show_file "$OUT"
	show_file "$ERR" 10
else
	check_report stdio_console "$OUT" "$cmdline" &&
		pass "stdio_console: $(grep -a '^TESTGUEST DONE' "$OUT" | tr -d '\r') in ${MS} ms"
fi

finish
