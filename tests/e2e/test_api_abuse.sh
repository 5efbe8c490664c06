#!/usr/bin/env bash
# Hostile API clients cannot lock others out, freeze or spin ember (issue 19,
# points 4-6; tests/e2e/api/abuse.py), with the default seccomp filters on and
# the test guest running:
# - ember's stderr is a pipe nobody reads: 2,000 bad requests (each logged)
#   are all answered, GET / still is, and the metrics count the dropped lines
#   (logger.missed_log_count > 0);
# - 100 idle and 100 slowloris connections (the table holds 64): new clients
#   are answered within 2 s; a slowloris is closed at the request deadline,
#   an idle keep-alive client is not;
# - out of file descriptors (prlimit): the API thread rests instead of
#   spinning, serves the queued client once descriptors are back, and with a
#   few free ones newcomers evict idle connections;
# then Ctrl-Alt-Del ends the guest and ember exits 0, removing its socket.
set -u
. "$(dirname "$0")/lib.sh"
require "$EMBER" "$TESTGUEST"
API_PY=$(dirname "$0")/api
SOCK=$E2E_TMP/api.sock

curl_api() {
	curl -sS --max-time 20 --unix-socket "$SOCK" -o /dev/null -w '%{http_code}' "$@"
}

wait_sock() {
	python3 -c "import sys; sys.path.insert(0, '$API_PY'); import fcapi; \
sys.exit(0 if fcapi.wait_for_socket('$SOCK') else 1)"
}

# boot NAME STDERR [ARGS...]: ember in the background (TPID: its timeout,
# EPID: ember itself), the test guest booted and waiting for Ctrl-Alt-Del.
boot() {
	local name=$1 err=$2 c1 c2
	shift 2
	e2e_cases=$((e2e_cases + 1))
	rm -f "$SOCK"
	OUT=$E2E_TMP/$name.stdout
	timeout -k 5 "$E2E_TIMEOUT" "$EMBER" --api-sock "$SOCK" --id "$name" "$@" \
		</dev/null >"$OUT" 2>"$err" &
	TPID=$!
	if ! wait_sock; then
		fail "$name: the API socket never accepted"
		return 1
	fi
	EPID=$(cat "/proc/$TPID/task/$TPID/children" | awk '{print $1}')
	c1=$(curl_api -X PUT -d "{\"kernel_image_path\": \"$TESTGUEST\", \"boot_args\": \"console=ttyS0 tg.mem=128 tg.cpus=1 tg.wait=cad\"}" http://localhost/boot-source)
	c2=$(curl_api -X PUT -d '{"action_type": "InstanceStart"}' http://localhost/actions)
	if [ "$c1$c2" != 204204 ] || [ -z "$EPID" ]; then
		fail "$name: could not boot the guest: boot-source $c1, InstanceStart $c2"
		return 1
	fi
	return 0
}

# end NAME: Ctrl-Alt-Del; the guest finishes, ember exits 0 without a socket left.
end() {
	local name=$1 c rc
	c=$(curl_api -X PUT -d '{"action_type": "SendCtrlAltDel"}' http://localhost/actions)
	wait "$TPID"
	rc=$?
	if [ "$c" = 204 ] && [ "$rc" -eq 0 ] && [ ! -e "$SOCK" ] &&
		grep -qE '^TESTGUEST DONE pass=[1-9][0-9]* fail=0' <(tr -d '\r' <"$OUT"); then
		pass "$name: Ctrl-Alt-Del, guest done, exit 0, socket removed"
	else
		fail "$name: Ctrl-Alt-Del HTTP $c, exit $rc"
		show_file "$OUT"
	fi
}

# ---- stderr a pipe nobody reads; idle and slow clients ----
mkfifo "$E2E_TMP/err.fifo"
exec 7<>"$E2E_TMP/err.fifo" # holds the pipe open, never reads it
if boot abuse_slow "$E2E_TMP/err.fifo" --metrics-path "$E2E_TMP/metrics.json"; then
	python3 "$API_PY/abuse.py" "$SOCK" stderr "$EPID" "$E2E_TMP/metrics.json" ||
		fail "stderr pipe nobody reads (cases above)"
	python3 "$API_PY/abuse.py" "$SOCK" slow "$EPID" ||
		fail "idle and slow clients (cases above)"
	end abuse_slow
else
	kill "$TPID" 2>/dev/null
fi
exec 7>&-

# ---- out of file descriptors ----
if boot abuse_fds "$E2E_TMP/fds.stderr"; then
	python3 "$API_PY/abuse.py" "$SOCK" fds "$EPID" "$E2E_TMP/fds.stderr" ||
		fail "out of file descriptors (cases above)"
	end abuse_fds
else
	show_file "$E2E_TMP/fds.stderr"
	kill "$TPID" 2>/dev/null
fi
finish
