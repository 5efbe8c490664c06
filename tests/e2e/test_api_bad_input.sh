#!/usr/bin/env bash
# Bad input on the API socket (tests/e2e/api/bad_inputs.py): malformed HTTP,
# oversized heads and bodies, bad routes and ids, JSON of the wrong shape,
# out-of-range values, unsupported endpoints, requests in the wrong state --
# each answered with the right status and a contract-conforming
# fault_message, the server still serving after each; plus idle, half-sent
# and vanished clients, pipelining, 100-continue, many clients at once and
# the connection cap. Then, on a booted test guest, the pre-boot-only
# requests are refused, and Ctrl-Alt-Del still ends the VM cleanly.
set -u
. "$(dirname "$0")/lib.sh"
require "$EMBER" "$TESTGUEST"
SPEC=${FC_API_SPEC:-$(cd "$(dirname "$0")" && pwd)/api/firecracker-api-1.17.yaml}
export FC_API_SPEC=$SPEC
API_PY=$(dirname "$0")/api
SOCK=$E2E_TMP/api.sock

wait_sock() {
	python3 -c "import sys; sys.path.insert(0, '$API_PY'); import fcapi; \
sys.exit(0 if fcapi.wait_for_socket('$SOCK') else 1)"
}

curl_api() {
	curl -sS --max-time 20 --unix-socket "$SOCK" -o /dev/null -w '%{http_code}' "$@"
}

# ---- pre-boot: configuration errors ----
e2e_cases=$((e2e_cases + 1))
timeout -k 5 "$E2E_TIMEOUT" "$EMBER" --api-sock "$SOCK" --id bad_input \
	</dev/null >"$E2E_TMP/pre.out" 2>"$E2E_TMP/pre.err" &
PID=$!
if wait_sock; then
	if python3 "$API_PY/bad_inputs.py" "$SOCK" pre-boot "$TESTGUEST"; then
		pass "pre-boot bad input: every case answered right, server kept serving"
	else
		fail "pre-boot bad input (cases above)"
	fi
	kill -TERM "$PID"
	wait "$PID"
	RC=$?
	# As Firecracker: killed by the signal (after its clean-up), 128 + 15.
	[ "$RC" -eq 143 ] || fail "ember exited $RC on SIGTERM (expected 143: killed by SIGTERM)"
	[ -S "$SOCK" ] && fail "socket left behind after SIGTERM"
else
	fail "the API socket never accepted"
	show_file "$E2E_TMP/pre.err"
	kill "$PID" 2>/dev/null
fi

# ---- post-boot: wrong-state requests on a running guest ----
e2e_cases=$((e2e_cases + 1))
rm -f "$SOCK"
timeout -k 5 "$E2E_TIMEOUT" "$EMBER" --api-sock "$SOCK" --id bad_input_2 \
	</dev/null >"$E2E_TMP/post.out" 2>"$E2E_TMP/post.err" &
PID=$!
if wait_sock; then
	c1=$(curl_api -X PUT -d "{\"kernel_image_path\": \"$TESTGUEST\", \"boot_args\": \"console=ttyS0 tg.mem=128 tg.cpus=1 tg.wait=cad\"}" http://localhost/boot-source)
	c2=$(curl_api -X PUT -d '{"action_type": "InstanceStart"}' http://localhost/actions)
	if [ "$c1$c2" != 204204 ]; then
		fail "could not boot the guest: boot-source $c1, InstanceStart $c2"
	elif python3 "$API_PY/bad_inputs.py" "$SOCK" post-boot; then
		pass "post-boot: pre-boot-only requests refused, VM still controllable"
	else
		fail "post-boot wrong-state cases (above)"
	fi
	c3=$(curl_api -X PUT -d '{"action_type": "SendCtrlAltDel"}' http://localhost/actions)
	wait "$PID"
	RC=$?
	if [ "$c3" = 204 ] && [ "$RC" -eq 0 ] &&
		grep -qE '^TESTGUEST DONE pass=[1-9][0-9]* fail=0' <(tr -d '\r' <"$E2E_TMP/post.out"); then
		pass "Ctrl-Alt-Del after the bad input: guest done, exit 0"
	else
		fail "Ctrl-Alt-Del: HTTP $c3, exit $RC"
		show_file "$E2E_TMP/post.out"
		show_file "$E2E_TMP/post.err"
	fi
else
	fail "the API socket never accepted (post-boot)"
	kill "$PID" 2>/dev/null
fi
finish
