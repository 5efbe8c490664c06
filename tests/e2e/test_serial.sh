#!/usr/bin/env bash
# PUT /serial (Firecracker's serial console configuration), default seccomp
# filters: serial_out_path sends the guest console to a file (appended to)
# instead of stdout; its rate_limiter drops what goes beyond the bucket and
# counts it in uart.rate_limiter_dropped_bytes; a FIFO works with a reader and
# never blocks the guest without one; the config file's "serial" section;
# bad bodies and a PUT after boot are refused with 400.
set -u
. "$(dirname "$0")/lib.sh"
require "$EMBER" "$TESTGUEST"
SOCK=$E2E_TMP/api.sock
cmdline="console=ttyS0 tg.mem=128 tg.cpus=1"

api() { api_call "$SOCK" "$@"; }
expect() { expect_http "$@"; }

# boot NAME SERIAL_JSON [EXTRA_BOOT_ARGS]: ember with the API, PUT /serial,
# metrics, boot the test guest and wait for ember to end (the guest resets
# by itself). Sets RC; stdout in $E2E_TMP/NAME.out, metrics in NAME.metrics.
boot() {
	local name=$1 serial=$2 extra=${3:-}
	e2e_cases=$((e2e_cases + 1))
	rm -f "$SOCK"
	: >"$E2E_TMP/$name.metrics"
	timeout -k 5 "$E2E_TIMEOUT" "$EMBER" --api-sock "$SOCK" --id "$name" </dev/null \
		>"$E2E_TMP/$name.out" 2>"$E2E_TMP/$name.err" &
	PID=$!
	if ! wait_api "$SOCK"; then
		fail "$name: the API socket never accepted"
		kill "$PID" 2>/dev/null
		RC=1
		return
	fi
	api PUT /serial "$serial"
	expect "$name: PUT /serial" 204
	api PUT /metrics "{\"metrics_path\": \"$E2E_TMP/$name.metrics\"}"
	api PUT /boot-source "{\"kernel_image_path\": \"$TESTGUEST\", \"boot_args\": \"$cmdline $extra\"}"
	api PUT /actions '{"action_type": "InstanceStart"}'
	expect "$name: InstanceStart" 204
	wait "$PID"
	RC=$?
}

done_ok() { grep -qE '^TESTGUEST DONE pass=[1-9][0-9]* fail=0' <(tr -d '\r' <"$1"); }

# ---- serial_out_path: a file, appended to ----
out=$E2E_TMP/serial.txt
echo "line before ember" >"$out"
boot file "{\"serial_out_path\": \"$out\"}"
if [ "$RC" -eq 0 ] && done_ok "$out" && head -n1 "$out" | grep -q "line before ember" &&
	! grep -q TESTGUEST "$E2E_TMP/file.out"; then
	pass "serial_out_path: the guest's console in the file (appended), none on stdout"
else
	fail "serial_out_path: exit $RC; file: $(head -c 300 "$out" | tr '\n' '|')"
	show_file "$E2E_TMP/file.err"
fi

# ---- rate_limiter: 300 bytes, refilled over an hour (one byte per 12 s) ----
out=$E2E_TMP/limited.txt
boot limited "{\"serial_out_path\": \"$out\", \"rate_limiter\": {\"size\": 300, \"refill_time\": 3600000}}"
size=$(stat -c %s "$out" 2>/dev/null || echo 0)
dropped=$(python3 -c "import json,sys
print(sum(json.loads(l)['uart'].get('rate_limiter_dropped_bytes', 0) for l in open(sys.argv[1]) if l.strip()))" \
	"$E2E_TMP/limited.metrics" 2>/dev/null)
if [ "$RC" -eq 0 ] && [ "$size" -eq 300 ] && [ "${dropped:-0}" -gt 0 ]; then
	pass "rate_limiter: the file holds the bucket's 300 bytes, uart.rate_limiter_dropped_bytes=$dropped"
else
	fail "rate_limiter: exit $RC, file $size bytes (expected 300), dropped=${dropped:-missing}"
fi

# ---- a FIFO: read by someone, then full and never read ----
fifo=$E2E_TMP/serial.fifo
mkfifo "$fifo"
cat "$fifo" >"$E2E_TMP/fifo.txt" &
CAT=$!
boot fifo "{\"serial_out_path\": \"$fifo\"}"
wait "$CAT"
if [ "$RC" -eq 0 ] && done_ok "$E2E_TMP/fifo.txt"; then
	pass "FIFO with a reader: the console arrives through it"
else
	fail "FIFO with a reader: exit $RC"
fi
# Held open by a process that never reads, its pipe shrunk to one page and
# filled: every byte the guest writes finds it full.
python3 -c "import fcntl, os, signal, sys
fd = os.open(sys.argv[1], os.O_RDWR)
fcntl.fcntl(fd, 1031, 4096)  # F_SETPIPE_SZ
os.write(fd, b'x' * 4096)
print('ready', flush=True)
signal.pause()" "$fifo" >"$E2E_TMP/hold.ready" &
HOLD=$!
wait_line "$E2E_TMP/hold.ready" '^ready' 10 || fail "the FIFO holder did not start"
boot fifo_unread "{\"serial_out_path\": \"$fifo\"}"
kill "$HOLD" 2>/dev/null
wait "$HOLD" 2>/dev/null
missed=$(python3 -c "import json,sys
print(sum(json.loads(l)['uart'].get('missed_write_count', 0) for l in open(sys.argv[1]) if l.strip()))" \
	"$E2E_TMP/fifo_unread.metrics" 2>/dev/null)
if [ "$RC" -eq 0 ] && [ "${missed:-0}" -gt 0 ]; then
	pass "FIFO nobody reads (one-page pipe): the guest ran to its end, exit 0, uart.missed_write_count=$missed"
else
	fail "FIFO nobody reads: exit $RC, missed_write_count=${missed:-missing}"
	show_file "$E2E_TMP/fifo_unread.err"
fi

# ---- refusals ----
e2e_cases=$((e2e_cases + 1))
rm -f "$SOCK"
timeout -k 5 "$E2E_TIMEOUT" "$EMBER" --api-sock "$SOCK" --id bad </dev/null \
	>"$E2E_TMP/bad.out" 2>"$E2E_TMP/bad.err" &
PID=$!
if wait_api "$SOCK"; then
	api PUT /serial '{"serial_out_path": 5}'
	expect "serial_out_path not a string" 400 "serial_out_path"
	api PUT /serial '{"serial_out_path": "/tmp/x", "speed": 9600}'
	expect "unknown field" 400 "speed"
	api PUT /serial '{"rate_limiter": {"size": 10}}'
	expect "bucket without refill_time" 400 "refill_time"
	api PUT /boot-source "{\"kernel_image_path\": \"$TESTGUEST\", \"boot_args\": \"$cmdline tg.wait=cad\"}"
	api PUT /actions '{"action_type": "InstanceStart"}'
	api PUT /serial "{\"serial_out_path\": \"$E2E_TMP/late.txt\"}"
	expect "PUT /serial after boot" 400 "not supported after starting"
	api PUT /actions '{"action_type": "SendCtrlAltDel"}'
	wait "$PID"
	[ $? -eq 0 ] || fail "bad-input run did not end with 0"
else
	fail "the API socket never accepted"
	kill "$PID" 2>/dev/null
fi

# ---- the config file's "serial" section ----
out=$E2E_TMP/cfg.txt
cat >"$E2E_TMP/vm.json" <<EOF
{"boot-source": {"kernel_image_path": "$TESTGUEST", "boot_args": "$cmdline"},
 "serial": {"serial_out_path": "$out"}}
EOF
run_ember cfg --no-api --config-file "$E2E_TMP/vm.json"
if [ "$RC" -eq 0 ] && done_ok "$out" && ! grep -q TESTGUEST "$OUT"; then
	pass "--config-file serial section: the console in $out"
else
	fail "--config-file serial section: exit $RC"
	show_file "$ERR"
fi
finish
