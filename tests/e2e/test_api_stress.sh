#!/usr/bin/env bash
# API stress, bounded in time (tests/e2e/api/stress.py), with the default
# seccomp filters on and the test guest running: 1,000 connections, request
# floods, 100 slow clients, 50 KB bodies and a window with 16 file
# descriptors left, all at once for STRESS_SECONDS (default 10); a probe
# client on a new connection every 100 ms must be answered within 5 s
# throughout; then ember is alive, the guest running, and Ctrl-Alt-Del ends
# it with exit 0 and the socket removed.
set -u
. "$(dirname "$0")/lib.sh"
require "$EMBER" "$TESTGUEST"
API_PY=$(dirname "$0")/api
SOCK=$E2E_TMP/api.sock

curl_api() {
	curl -sS --max-time 20 --unix-socket "$SOCK" -o /dev/null -w '%{http_code}' "$@"
}

e2e_cases=$((e2e_cases + 1))
timeout -k 5 "$E2E_TIMEOUT" "$EMBER" --api-sock "$SOCK" --id stress \
	</dev/null >"$E2E_TMP/out" 2>"$E2E_TMP/err" &
TPID=$!
if ! python3 -c "import sys; sys.path.insert(0, '$API_PY'); import fcapi; \
sys.exit(0 if fcapi.wait_for_socket('$SOCK') else 1)"; then
	fail "the API socket never accepted"
	show_file "$E2E_TMP/err"
	kill "$TPID" 2>/dev/null
	finish
fi
EPID=$(awk '{print $1}' "/proc/$TPID/task/$TPID/children")
c1=$(curl_api -X PUT -d "{\"kernel_image_path\": \"$TESTGUEST\", \"boot_args\": \"console=ttyS0 tg.mem=128 tg.cpus=1 tg.wait=cad\"}" http://localhost/boot-source)
c2=$(curl_api -X PUT -d '{"action_type": "InstanceStart"}' http://localhost/actions)
if [ "$c1$c2" != 204204 ] || [ -z "$EPID" ]; then
	fail "could not boot the guest: boot-source $c1, InstanceStart $c2"
	kill "$TPID" 2>/dev/null
	finish
fi
python3 "$API_PY/stress.py" "$SOCK" "$EPID" "${STRESS_SECONDS:-10}" || fail "stress (cases above)"
c=$(curl_api -X PUT -d '{"action_type": "SendCtrlAltDel"}' http://localhost/actions)
wait "$TPID"
RC=$?
if [ "$c" = 204 ] && [ "$RC" -eq 0 ] && [ ! -e "$SOCK" ] &&
	grep -qE '^TESTGUEST DONE pass=[1-9][0-9]* fail=0' <(tr -d '\r' <"$E2E_TMP/out"); then
	pass "after the stress: Ctrl-Alt-Del, guest done, exit 0, socket removed"
else
	fail "after the stress: Ctrl-Alt-Del HTTP $c, exit $RC"
	show_file "$E2E_TMP/out"
	show_file "$E2E_TMP/err"
fi
finish
