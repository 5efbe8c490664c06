#!/usr/bin/env bash
# virtio-rng (Firecracker's entropy device) end to end, default seccomp
# filters: the test guest finds it through the DSDT and reads random bytes
# (single, split and indirect chains) — from `ember run --entropy`, from
# PUT /entropy with a rate limiter (GET /vm/config shows it, the metrics
# count the bytes) and from a config file's "entropy" section. Bad PUT
# bodies and a PUT after boot are refused with 400.
set -u
. "$(dirname "$0")/lib.sh"
require "$EMBER" "$TESTGUEST"
SOCK=$E2E_TMP/api.sock
RESULTS="rng.init rng.read rng.fresh rng.split rng.count"

# guest_rng_ok NAME CONSOLE: the guest's report is clean and has every rng line.
guest_rng_ok() {
	local out missing=""
	out=$(tr -d '\r' <"$2" 2>/dev/null)
	if ! grep -qE '^TESTGUEST DONE pass=[1-9][0-9]* fail=0$' <<<"$out" || grep -q '^FAIL' <<<"$out"; then
		fail "$1: guest reported failures: $(grep '^TESTGUEST DONE' <<<"$out")"
		grep -E '^FAIL' <<<"$out" | sed 's/^/      | /'
		return 1
	fi
	for r in $RESULTS; do
		grep -q "^ok $r " <<<"$out" || missing="$missing $r"
	done
	if [ -n "$missing" ]; then
		fail "$1: results missing from the report:$missing"
		return 1
	fi
	pass "$1: $(grep '^ok rng.split' <<<"$out")"
}

cmdline="console=ttyS0 tg.mem=128 tg.cpus=1 tg.virtio=1 tg.rng=1"

# ---- ember run --entropy ----
console=$E2E_TMP/run.console
run_ember run run --kernel "$TESTGUEST" --console "file:$console" --cmdline "$cmdline" \
	--entropy=1M
if [ "$RC" -ne 0 ]; then
	fail "ember run --entropy exited $RC"
	show_file "$ERR"
else
	guest_rng_ok "ember run --entropy=1M" "$console"
fi
run_ember run_bad run --kernel "$TESTGUEST" --entropy=lots
if [ "$RC" -eq 1 ] && grep -q -- "--entropy=lots: expected a rate" "$ERR"; then
	pass "--entropy=lots refused: $(cat "$ERR")"
else
	fail "--entropy=lots: exit $RC $(cat "$ERR")"
fi

# ---- the API ----
api() { api_call "$SOCK" "$@"; }
expect() { expect_http "$@"; }
metrics=$E2E_TMP/metrics.json
: >"$metrics"
e2e_cases=$((e2e_cases + 1))
timeout -k 5 "$E2E_TIMEOUT" "$EMBER" --api-sock "$SOCK" --id rng </dev/null \
	>"$E2E_TMP/api.out" 2>"$E2E_TMP/api.err" &
PID=$!
if wait_api "$SOCK"; then
	api PUT /entropy '{"rate_limiter": {"bandwidth": {"size": 0}}}'
	expect "PUT /entropy, bucket without refill_time" 400 "refill_time"
	api PUT /entropy '{"rate": 5}'
	expect "PUT /entropy, unknown field" 400 "rate"
	api PUT /entropy '{"rate_limiter": {"bandwidth": {"size": 65536, "refill_time": 100}}}'
	expect "PUT /entropy with a bandwidth limit" 204
	api GET /vm/config
	expect "GET /vm/config shows it" 200 '"entropy":\{"rate_limiter":\{"bandwidth":\{"size":65536'
	api PUT /metrics "{\"metrics_path\": \"$metrics\"}"
	api PUT /boot-source "{\"kernel_image_path\": \"$TESTGUEST\", \"boot_args\": \"$cmdline tg.wait=cad\"}"
	api PUT /actions '{"action_type": "InstanceStart"}'
	expect "InstanceStart" 204
	if wait_line "$E2E_TMP/api.out" '^TESTGUEST WAITING' 30; then
		api PUT /entropy '{}'
		expect "PUT /entropy after boot" 400 "not supported after starting"
		api PUT /actions '{"action_type": "FlushMetrics"}'
		bytes=$(python3 -c "import json,sys
last=[l for l in open(sys.argv[1]) if l.strip()][-1]
print(json.loads(last)['entropy']['entropy_bytes'])" "$metrics" 2>/dev/null)
		if [ "${bytes:-0}" -ge 640 ]; then
			pass "metrics: entropy.entropy_bytes=$bytes"
		else
			fail "metrics: entropy.entropy_bytes=${bytes:-missing} (expected >= 640)"
		fi
	else
		fail "the guest never reached tg.wait=cad"
	fi
	api PUT /actions '{"action_type": "SendCtrlAltDel"}'
	wait "$PID"
	RC=$?
	if [ "$RC" -eq 0 ]; then
		guest_rng_ok "PUT /entropy" "$E2E_TMP/api.out"
	else
		fail "API run: exit $RC"
		show_file "$E2E_TMP/api.err"
	fi
else
	fail "the API socket never accepted"
	kill "$PID" 2>/dev/null
fi

# ---- --config-file ----
console=$E2E_TMP/cfg.console
cat >"$E2E_TMP/vm.json" <<EOF
{"boot-source": {"kernel_image_path": "$TESTGUEST", "boot_args": "$cmdline"},
 "entropy": {"rate_limiter": {"ops": {"size": 100, "refill_time": 1000}}}}
EOF
run_ember cfg --no-api --config-file "$E2E_TMP/vm.json"
if [ "$RC" -ne 0 ]; then
	fail "--config-file with entropy: exit $RC"
	show_file "$ERR"
else
	guest_rng_ok "--config-file entropy" "$OUT"
fi
finish
