#!/usr/bin/env bash
# The kernel and initrd are mapped into guest RAM from their files, not
# copied (issue 12): page-aligned parts of a bzImage's protected-mode image,
# of ELF segments and of an initrd file become copy-on-write mappings of the
# page cache, held by a read lease. Shown here, with the built-in seccomp
# filters in report mode:
# - the test guest (a bzImage whose image starts on a page) and an initrd
#   boot mapped (ember's log says how much), and the guest reads its initrd;
# - while the guest runs code from those pages, the kernel file is truncated
#   and the initrd rewritten in place: both writers get through at once (the
#   lease breaks, ember copies the mapped pages into anonymous memory and
#   lets go), the guest keeps running and answers Ctrl-Alt-Del with a clean
#   report; without that copy a truncation drops the pages under the guest;
# - a UKI (tools/mkuki.sh) is parsed where it lies in its file and its
#   .linux and .initrd loaded from there (not read whole first); the guest
#   sees its initrd and command line, and the measured-boot hashes are
#   sha256sum's of the sections;
# - the same files, a drive with io_engine "Async" (io_uring writes guest RAM
#   outside the VMM thread): copied, not mapped.
set -u
. "$(dirname "$0")/lib.sh"
BZ=${TESTGUEST_BZIMAGE:-$BUILD/firmware/testguest.bzImage}
require "$EMBER" "$BZ"
SOCK=$E2E_TMP/api.sock
K=$E2E_TMP/kernel.bzImage
I=$E2E_TMP/initrd.img
DISK=$E2E_TMP/disk.img
truncate -s 1M "$DISK"

api() { api_call "$SOCK" "$@"; }

# boot NAME [DRIVE_JSON]: fresh copies of the files, boot to tg.wait=cad
boot() {
	local args="console=ttyS0 tg.mem=128 tg.cpus=1 tg.initrd=EMBERMAP tg.wait=cad"
	[ -n "${2:-}" ] && args="$args tg.virtio=1 tg.blk=1"
	cp "$BZ" "$K"
	{ printf 'EMBERMAP'; head -c 65528 /dev/urandom; } >"$I"
	start_api "$1" --level Info || return 1
	api PUT /boot-source "{\"kernel_image_path\": \"$K\", \"initrd_path\": \"$I\", \"boot_args\": \"$args\"}"
	[ "$CODE" = 204 ] || fail "$1: PUT /boot-source: $CODE $BODY"
	if [ -n "${2:-}" ]; then
		api PUT /drives/d0 "$2"
		[ "$CODE" = 204 ] || fail "$1: PUT /drives: $CODE $BODY"
	fi
	api PUT /actions '{"action_type": "InstanceStart"}'
	[ "$CODE" = 204 ] || fail "$1: InstanceStart: $CODE $BODY"
	wait_line "$OUT" '^TESTGUEST WAITING' 30 || {
		fail "$1: the guest never reached tg.wait=cad"
		show_file "$OUT"
		show_file "$ERR"
		return 1
	}
}

# finish_guest NAME: Ctrl-Alt-Del, ember exits 0 with a clean guest report
finish_guest() {
	local out
	api PUT /actions '{"action_type": "SendCtrlAltDel"}'
	wait "$PID"
	RC=$?
	out=$(tr -d '\r' <"$OUT")
	if [ "$RC" -ne 0 ]; then
		fail "$1: ember exited $RC$([ "$RC" -eq 124 ] && echo ' (timed out)')"
		show_file "$ERR"
		return 1
	fi
	if ! grep -qE '^TESTGUEST DONE pass=[1-9][0-9]* fail=0$' <<<"$out" || grep -q '^FAIL' <<<"$out" ||
		! grep -q '^ok wait.cad ' <<<"$out" || ! grep -q '^ok initrd.content' <<<"$out"; then
		fail "$1: guest report: $(grep -E '^(FAIL|TESTGUEST DONE|ok initrd)' <<<"$out" | tr '\n' ' ')"
		return 1
	fi
	return 0
}

# ---- mapped, then the files change under the running guest ----
if boot mapped; then
	kmap=$(grep -oE 'kernel: [0-9]+ KiB mapped from the file' "$ERR" | grep -oE '[0-9]+')
	imap=$(grep -oE 'initrd: [0-9]+ KiB mapped from the file' "$ERR" | grep -oE '[0-9]+')
	[ "${kmap:-0}" -gt 0 ] && [ "${imap:-0}" -eq 64 ] ||
		fail "kernel/initrd not mapped (kernel ${kmap:-no} KiB, initrd ${imap:-no} KiB): $(grep -i 'mapped\|lease' "$ERR")"
	t0=$(now_ms)
	# each open blocks until ember lets go of its lease (lease-break-time, 45 s)
	timeout 30 bash -c ': >"$1"' - "$K" || fail "truncating the kernel file did not get through"
	timeout 30 dd if=/dev/zero of="$I" bs=4096 count=16 conv=notrunc status=none ||
		fail "rewriting the initrd did not get through"
	ms=$(($(now_ms) - t0))
	grep -q 'opened for writing: [0-9]* KiB of guest RAM mapped from it copied' "$ERR" ||
		fail "ember did not report the copy: $(tail -n 3 "$ERR")"
	if finish_guest mapped; then
		pass "kernel ${kmap} KiB + initrd ${imap} KiB mapped; files truncated/rewritten under the running guest in ${ms} ms, guest finished clean"
	fi
fi

# ---- a UKI straight from its file ----
if [ -e /usr/lib/systemd/boot/efi/linuxx64.efi.stub ]; then
	cp "$BZ" "$K"
	{ printf 'EMBERMAP'; head -c 65528 /dev/urandom; } >"$I"
	U=$E2E_TMP/tg.efi
	ucmd="console=ttyS0 tg.mem=128 tg.cpus=1 tg.initrd=EMBERMAP"
	tools/mkuki.sh -o "$U" -k "$K" -i "$I" -c "$ucmd" >/dev/null || fail "mkuki.sh failed"
	run_ember uki run --kernel "$U" --console "file:$E2E_TMP/uki.console" --log-level info
	out=$(tr -d '\r' <"$E2E_TMP/uki.console")
	k=$(sha256sum <"$K" | cut -d' ' -f1)
	i=$(sha256sum <"$I" | cut -d' ' -f1)
	if [ "$RC" -ne 0 ]; then
		fail "uki: ember exited $RC"
		show_file "$ERR"
	elif ! grep -q 'UKI: sections loaded from the file' "$ERR"; then
		fail "uki: not loaded from the file: $(grep UKI "$ERR")"
	elif ! grep -qE '^TESTGUEST DONE pass=[1-9][0-9]* fail=0$' <<<"$out" || ! grep -q '^ok initrd.content' <<<"$out"; then
		fail "uki: guest report: $(grep -E '^(FAIL|TESTGUEST DONE)' <<<"$out" | tr '\n' ' ')"
	elif ! grep -q "measured boot: kernel sha256:$k initrd sha256:$i " "$ERR"; then
		fail "uki: measured-boot hashes are not sha256sum's: $(grep 'measured boot' "$ERR")"
	else
		pass "UKI loaded from its file, guest clean, hashes = sha256sum of .linux and .initrd ($MS ms)"
	fi
else
	echo "  skip: UKI case (systemd-boot-efi's stub is not installed)"
fi

# ---- a drive with io_engine Async: copied ----
if boot async "{\"drive_id\": \"d0\", \"path_on_host\": \"$DISK\", \"is_root_device\": false, \"is_read_only\": false, \"io_engine\": \"Async\"}"; then
	if grep -q 'mapped from the file' "$ERR"; then
		fail "async: mapped although io_uring writes guest RAM: $(grep 'mapped from' "$ERR")"
	fi
	timeout 30 bash -c ': >"$1"' - "$K" || fail "async: truncating the kernel file did not get through"
	finish_guest async && pass "io_engine Async: kernel and initrd copied, not mapped; guest finished clean"
fi
finish
