#!/usr/bin/env bash
# Unified Kernel Images (issue 7): the test guest as a bzImage wrapped into a
# UKI with systemd-boot's stub (tools/mkuki.sh): ember boots .linux through
# the 64-bit bzImage path with .ucode+.initrd as the initrd and .cmdline as
# the command line (unless --cmdline-override), and logs SHA-256 of what it
# booted (a UKI always; any other kernel only with --measured-boot /
# "measured_boot": true). Malformed images fail with one line and exit 1.
# With the Debian kernel cached, a Linux UKI boots to its first console lines.
set -u
. "$(dirname "$0")/lib.sh"
BZIMAGE=${BZIMAGE:-$BUILD/firmware/testguest.bzImage}
require "$EMBER" "$TESTGUEST" "$BZIMAGE"
cp "$BZIMAGE" "$E2E_TMP/tg.bzImage" && BZIMAGE=$E2E_TMP/tg.bzImage

if [ ! -e /usr/lib/systemd/boot/efi/linuxx64.efi.stub ]; then
	echo "  skip: systemd-boot-efi's stub is not installed (make setup)"
	exit 0
fi

printf 'UCODE-' >"$E2E_TMP/ucode.bin"
printf 'INITRD-PAYLOAD' >"$E2E_TMP/initrd.img"
uki_cmdline="tg.mem=128 tg.cpus=1 tg.initrd=UCODE-INITRD-PAYLOAD"
uki=$E2E_TMP/tg.efi
tools/mkuki.sh -o "$uki" -k "$BZIMAGE" -i "$E2E_TMP/initrd.img" -u "$E2E_TMP/ucode.bin" \
	-c "$uki_cmdline" -r /etc/os-release -n "ember-testguest-1.0" >/dev/null ||
	{ fail "mkuki.sh failed"; finish; }

# check_guest NAME EXPECTED_CMDLINE: the run passed and saw that command line.
check_guest() {
	local out
	out=$(tr -d '\r' <"$E2E_TMP/$1.console" 2>/dev/null)
	if [ "$RC" -ne 0 ] || ! grep -qE '^TESTGUEST DONE pass=[1-9][0-9]* fail=0$' <<<"$out"; then
		fail "$1: exit $RC, $(grep '^TESTGUEST DONE' <<<"$out")"
		grep -E '^FAIL' <<<"$out" | sed 's/^/      | /'
		show_file "$ERR" 5
		return 1
	fi
	if ! grep -qF "ok cmdline.text \"$2\"" <<<"$out"; then
		fail "$1: guest saw $(grep 'cmdline.text' <<<"$out"), expected \"$2\""
		return 1
	fi
	return 0
}

# 1. the UKI as it is
run_ember uki run --kernel "$uki" --console "file:$E2E_TMP/uki.console" --mem 128M --log-level info
if check_guest uki "$uki_cmdline"; then
	out=$(tr -d '\r' <"$E2E_TMP/uki.console")
	grep -q '^ok initrd.content starts with "UCODE-INITRD-PAYLOAD"' <<<"$out" ||
		fail "uki: .ucode + .initrd not seen in order: $(grep initrd <<<"$out" | tr '\n' ' ')"
	grep -q 'UKI: os-release "\?Debian' "$ERR" && grep -q 'UKI: kernel release ember-testguest-1.0' "$ERR" ||
		fail "uki: .osrel/.uname not reported in the log"
	k=$(sha256sum <"$BZIMAGE" | cut -d' ' -f1)
	i=$(cat "$E2E_TMP/ucode.bin" "$E2E_TMP/initrd.img" | sha256sum | cut -d' ' -f1)
	c=$(printf '%s' "$uki_cmdline" | sha256sum | cut -d' ' -f1)
	if grep -q "measured boot: kernel sha256:$k initrd sha256:$i cmdline sha256:$c" "$ERR"; then
		pass "uki: boots (.linux bzImage, .ucode+.initrd, .cmdline), measured boot hashes match sha256sum ($MS ms)"
	else
		fail "uki: measured boot line wrong: $(grep 'measured boot' "$ERR")"
	fi
fi

# 2. a user command line without the override flag is ignored (with a warning)
run_ember uki_user run --kernel "$uki" --console "file:$E2E_TMP/uki_user.console" --mem 128M \
	--cmdline "tg.mem=999"
check_guest uki_user "$uki_cmdline" && grep -q "cmdline-override" "$ERR" &&
	pass "uki: --cmdline without --cmdline-override keeps .cmdline and warns"
[ -s "$ERR" ] && grep -q "cmdline-override" "$ERR" || fail "uki_user: no warning about the ignored command line"

# 3. ... and replaces it with the flag
ov="tg.mem=128 tg.cpus=1 tg.initrd=UCODE-"
run_ember uki_override run --kernel "$uki" --console "file:$E2E_TMP/uki_override.console" --mem 128M \
	--cmdline "$ov" --cmdline-override
check_guest uki_override "$ov" && pass "uki: --cmdline-override replaces .cmdline"

# 3b. a plain bzImage (+ --initrd) is measured only on request, and then the
# hashes are of what was loaded: the file's bytes, the initrd, the cmdline
bz_cmdline="tg.mem=128 tg.cpus=1 tg.initrd=INITRD-PAYLOAD"
run_ember bz_plain run --kernel "$BZIMAGE" --initrd "$E2E_TMP/initrd.img" --mem 128M \
	--console "file:$E2E_TMP/bz_plain.console" --log-level info --cmdline "$bz_cmdline"
if check_guest bz_plain "$bz_cmdline"; then
	if grep -q "measured boot" "$ERR"; then
		fail "bzImage without --measured-boot was measured: $(grep 'measured boot' "$ERR")"
	else
		pass "bzImage + initrd loaded straight into guest memory, not measured unless asked"
	fi
fi
run_ember bz_measured run --kernel "$BZIMAGE" --initrd "$E2E_TMP/initrd.img" --mem 128M \
	--console "file:$E2E_TMP/bz_measured.console" --log-level info --cmdline "$bz_cmdline" \
	--measured-boot
if check_guest bz_measured "$bz_cmdline"; then
	k=$(sha256sum <"$BZIMAGE" | cut -d' ' -f1)
	i=$(sha256sum <"$E2E_TMP/initrd.img" | cut -d' ' -f1)
	c=$(printf '%s' "$bz_cmdline" | sha256sum | cut -d' ' -f1)
	if grep -q "measured boot: kernel sha256:$k initrd sha256:$i cmdline sha256:$c" "$ERR"; then
		pass "bzImage --measured-boot: hashes match sha256sum"
	else
		fail "bzImage --measured-boot: line wrong: $(grep 'measured boot' "$ERR")"
	fi
fi
# bytes after the protected-mode part are not loaded but are measured (the
# hash is of the file as given)
{ cat "$BZIMAGE"; printf 'TRAILING-BYTES'; } >"$E2E_TMP/tail.bzImage"
run_ember bz_tail run --kernel "$E2E_TMP/tail.bzImage" --mem 128M --measured-boot \
	--console "file:$E2E_TMP/bz_tail.console" --log-level info --cmdline "tg.mem=128 tg.cpus=1"
if check_guest bz_tail "tg.mem=128 tg.cpus=1"; then
	k=$(sha256sum <"$E2E_TMP/tail.bzImage" | cut -d' ' -f1)
	if grep -q "measured boot: kernel sha256:$k initrd sha256:- " "$ERR"; then
		pass "bzImage with trailing bytes --measured-boot: kernel hash is the file's"
	else
		fail "bzImage with trailing bytes: $(grep 'measured boot' "$ERR"), want $k"
	fi
fi

# 4. malformed images: one line on stderr, exit 1
bad() {
	local name=$1 file=$2 want=$3
	run_ember "$name" run --kernel "$file" --console none
	if [ "$RC" -eq 1 ] && [ "$(wc -l <"$ERR")" -eq 1 ] && grep -qi "$want" "$ERR"; then
		pass "$name: exit 1: $(cat "$ERR")"
	else
		fail "$name: exit $RC, stderr: $(head -c 300 "$ERR")"
	fi
}
size=$(stat -c %s "$uki")
head -c $((size / 2)) "$uki" >"$E2E_TMP/truncated.efi"
bad uki_truncated "$E2E_TMP/truncated.efi" "UKI\|section\|truncat\|outside"
objcopy --remove-section .linux "$uki" "$E2E_TMP/nolinux.efi" 2>/dev/null &&
	bad uki_no_linux "$E2E_TMP/nolinux.efi" "no .linux"
objcopy --update-section .linux="$E2E_TMP/initrd.img" "$uki" "$E2E_TMP/notbz.efi" 2>/dev/null &&
	bad uki_linux_not_bzimage "$E2E_TMP/notbz.efi" "not a bzImage"
head -c 64 "$uki" >"$E2E_TMP/tiny.efi"
bad uki_tiny "$E2E_TMP/tiny.efi" "kernel"

# 4b. through the API: PUT /boot-source with the UKI, InstanceStart, GET / shows
# the measured-boot hashes (ember extension); a malformed UKI is a 400.
api_boot() { # NAME KERNEL [EXTRA]: sets CODE (InstanceStart status) and INFO (GET / body)
	local sock=$E2E_TMP/$1.sock
	"$EMBER" --api-sock "$sock" </dev/null >"$E2E_TMP/$1.out" 2>"$E2E_TMP/$1.err" &
	local pid=$! i
	for i in $(seq 100); do [ -S "$sock" ] && break; sleep 0.05; done
	e2e_cases=$((e2e_cases + 1))
	curl -s -o /dev/null --unix-socket "$sock" -X PUT http://localhost/boot-source \
		-d "{\"kernel_image_path\": \"$2\", \"boot_args\": \"tg.mem=128 tg.cpus=1 tg.wait=cad\", \"cmdline_override\": true${3:-}}"
	CODE=$(curl -s -o "$E2E_TMP/$1.start" -w '%{http_code}' --unix-socket "$sock" -X PUT \
		http://localhost/actions -d '{"action_type": "InstanceStart"}')
	INFO=$(curl -s --unix-socket "$sock" http://localhost/)
	curl -s -o /dev/null --unix-socket "$sock" -X PUT http://localhost/actions \
		-d '{"action_type": "SendCtrlAltDel"}'
	# the guest (tg.wait=cad, via cmdline_override) resets on Ctrl-Alt-Del
	[ "$CODE" = 204 ] && for i in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
	kill "$pid" 2>/dev/null
	wait "$pid" 2>/dev/null
}
api_boot api_uki "$uki"
k=$(sha256sum <"$BZIMAGE" | cut -d' ' -f1)
if [ "$CODE" = 204 ] && grep -q "\"kernel_sha256\":\"$k\"" <<<"$INFO"; then
	pass "api: UKI booted through PUT /boot-source + InstanceStart; GET / measured_boot.kernel_sha256 matches"
else
	fail "api: InstanceStart $CODE, GET / = $INFO"
fi
api_boot api_bz "$BZIMAGE"
if [ "$CODE" = 204 ] && grep -q '"state"' <<<"$INFO" && ! grep -q measured_boot <<<"$INFO"; then
	pass "api: a bzImage without measured_boot: GET / has no measured_boot"
else
	fail "api: bzImage: InstanceStart $CODE, GET / = $INFO"
fi
api_boot api_bz_measured "$BZIMAGE" ', "measured_boot": true'
if [ "$CODE" = 204 ] && grep -q "\"kernel_sha256\":\"$k\"" <<<"$INFO"; then
	pass "api: bzImage with \"measured_boot\": true: GET / measured_boot.kernel_sha256 matches"
else
	fail "api: bzImage measured_boot: InstanceStart $CODE, GET / = $INFO"
fi
api_boot api_bad "$E2E_TMP/nolinux.efi"
if [ "$CODE" = 400 ] && grep -q "no .linux" "$E2E_TMP/api_bad.start"; then
	pass "api: malformed UKI -> 400 $(cat "$E2E_TMP/api_bad.start")"
else
	fail "api: malformed UKI -> $CODE $(cat "$E2E_TMP/api_bad.start")"
fi

# 5. a Linux UKI (Debian's kernel + the test initramfs) up to its first console lines
cache=${EMBER_CACHE:-$HOME/.cache/ember}
kdir=$(ls -d "$cache"/debian-kernel/*/ 2>/dev/null | tail -n 1)
initrd=$(ls -t "$cache"/initramfs/*.cpio.gz 2>/dev/null | head -n 1)
if [ -n "$kdir" ] && [ -e "$kdir/vmlinuz" ] && [ -n "$initrd" ]; then
	luki=$E2E_TMP/linux.efi
	tools/mkuki.sh -o "$luki" -k "$kdir/vmlinuz" -i "$initrd" \
		-c "console=ttyS0 earlyprintk=serial,ttyS0 from-ember-uki-test" >/dev/null
	console=$E2E_TMP/linux.console
	: >"$console"
	"$EMBER" run --kernel "$luki" --kernel-decompress --mem 256M --console "file:$console" \
		--cpu-template tools/templates/no-cx16.json </dev/null >/dev/null 2>"$E2E_TMP/linux.err" &
	pid=$!
	t0=$(now_ms)
	ok=0
	# wait for the kernel's own "Command line:" line (60 s budget), then stop ember
	for _ in $(seq 600); do
		if grep -q "Command line: console=ttyS0 earlyprintk=serial,ttyS0 from-ember-uki-test" "$console"; then
			ok=1
			break
		fi
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.1
	done
	kill "$pid" 2>/dev/null
	wait "$pid" 2>/dev/null
	e2e_cases=$((e2e_cases + 1))
	if [ $ok -eq 1 ]; then
		pass "linux uki: $(grep -m1 'Linux version' "$console" | cut -c1-60)... and its .cmdline after $(($(now_ms) - t0)) ms"
	else
		fail "linux uki: no 'Command line:' from the kernel"
		show_file "$console" 5
		show_file "$E2E_TMP/linux.err" 5
	fi
else
	echo "  skip linux uki: no Debian kernel in $cache (tools/fetch-debian-kernel.sh)"
fi
finish
