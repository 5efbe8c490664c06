#!/usr/bin/env bash
# The command line interface: --version and --help succeed; every bad input
# exits with status 1 and exactly one line on stderr.
set -u
. "$(dirname "$0")/lib.sh"
require "$EMBER" "$TESTGUEST"

# expect_ok NAME ARGS...: exit 0 and something on stdout.
expect_ok() {
	local name=$1
	shift
	run_ember "$name" "$@"
	if [ "$RC" -ne 0 ]; then
		fail "$name: 'ember $*' exited $RC, expected 0"
		show_file "$ERR" 5
	elif [ ! -s "$OUT" ]; then
		fail "$name: 'ember $*' printed nothing on stdout"
	else
		pass "$name: $(head -n 1 "$OUT")"
	fi
}

# expect_bad NAME ARGS...: exit 1 with exactly one non-empty line on stderr.
expect_bad() {
	local name=$1 lines
	shift
	run_ember "$name" "$@"
	lines=$(wc -l <"$ERR")
	if [ "$RC" -ne 1 ]; then
		fail "$name: exited $RC, expected 1$([ "$RC" -eq 124 ] && echo ' (timed out: the bad input was not rejected before boot)')"
		show_file "$ERR" 5
	elif [ "$lines" -ne 1 ] || [ -z "$(tr -d '[:space:]' <"$ERR")" ]; then
		fail "$name: expected exactly one line on stderr, got $lines"
		show_file "$ERR" 5
	else
		pass "$name: $(cat "$ERR")"
	fi
}

expect_ok version --version
grep -q "$(cat VERSION 2>/dev/null || echo .)" "$OUT" || fail "version: output does not contain VERSION ($(cat VERSION))"
expect_ok help --help
grep -q -- '--kernel' "$OUT" || fail "help: does not mention --kernel"

TG=$TESTGUEST
CON="--console file:$E2E_TMP/console.txt"

expect_bad missing_kernel_file run --kernel "$E2E_TMP/no-such-kernel" $CON
expect_bad kernel_is_directory run --kernel "$E2E_TMP" $CON
if [ "$(id -u)" -ne 0 ]; then
	cp "$TG" "$E2E_TMP/unreadable.elf"
	chmod 000 "$E2E_TMP/unreadable.elf"
	expect_bad unreadable_kernel run --kernel "$E2E_TMP/unreadable.elf" $CON
fi
printf 'just some text, not a kernel\n' >"$E2E_TMP/text"
expect_bad not_a_kernel run --kernel "$E2E_TMP/text" $CON
if [ -r /etc/hostname ]; then
	expect_bad not_a_kernel_hostname run --kernel /etc/hostname $CON
fi
: >"$E2E_TMP/empty"
expect_bad empty_kernel run --kernel "$E2E_TMP/empty" $CON
head -c 1000 "$TG" >"$E2E_TMP/truncated.elf"
expect_bad truncated_kernel run --kernel "$E2E_TMP/truncated.elf" $CON
expect_bad missing_initrd run --kernel "$TG" --initrd "$E2E_TMP/no-such-initrd" $CON
truncate -s 200M "$E2E_TMP/big.initrd"
expect_bad initrd_too_large run --kernel "$TG" --mem 128M --initrd "$E2E_TMP/big.initrd" $CON
# 100 KB: beyond any kernel's cmdline_size, below the 128 KiB a single
# execve argument may have.
expect_bad cmdline_too_long run --kernel "$TG" --cmdline "$(head -c 100000 /dev/zero | tr '\0' x)" $CON
expect_bad mem_zero run --kernel "$TG" --mem 0 $CON
expect_bad mem_absurd run --kernel "$TG" --mem 99999999G $CON
expect_bad mem_garbage run --kernel "$TG" --mem 12Q $CON
expect_bad mem_missing_value run --kernel "$TG" --mem
expect_bad cpus_zero run --kernel "$TG" --cpus 0 $CON
expect_bad cpus_33 run --kernel "$TG" --cpus 33 $CON
expect_bad cpus_garbage run --kernel "$TG" --cpus two $CON
expect_bad unknown_flag run --kernel "$TG" --no-such-flag $CON
expect_bad console_bogus run --kernel "$TG" --console bogus
expect_bad missing_kernel_flag run --mem 128M $CON
expect_bad unknown_command frobnicate

finish
