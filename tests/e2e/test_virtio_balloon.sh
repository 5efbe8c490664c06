#!/usr/bin/env bash
# virtio-balloon end to end (firmware/testguest/check_virtio_balloon.c):
#  1. `ember run --balloon 16,deflate_on_oom,stats=1`: the guest finds the
#     device, sees the 16 MiB target, inflates 4096 pages (written first),
#     reports them in `actual`, reads them back as zero (the host released
#     them), deflates/reuses/re-inflates a few, and gets its statistics
#     buffer back from the device's polling timer.
#  2. `--balloon 8` (no options): no stats queue, no DEFLATE_ON_OOM offered.
#  3. The Firecracker API: PUT /balloon before boot, then while the guest
#     waits: GET /balloon/statistics (target/actual and the guest's numbers,
#     checked against the YAML contract), PATCH /balloon/statistics (a new
#     interval; turning statistics off is refused), PATCH /balloon to 8 MiB
#     -> the guest deflates to the new target and `actual` follows.
#  4. Free page hinting through the API (the guest plays Linux's driver,
#     tg.balloon_hint=1): before a run GET /balloon/hinting/status has no
#     guest_cmd; PATCH /balloon/hinting/start -> the guest answers the id,
#     hints 1 MiB of written pages and sends STOP; ember acknowledges with
#     DONE (the guest waits for it, then reads its pages back as zero);
#     status host_cmd 1 / guest_cmd 0; stop 204; without hinting the routes
#     answer 400.
set -u
. "$(dirname "$0")/lib.sh"
require "$EMBER" "$TESTGUEST"
SPEC=${FC_API_SPEC:-$(cd "$(dirname "$0")" && pwd)/api/firecracker-api-1.17.yaml}
API_PY=$(dirname "$0")/api

# guest_report FILE WANT...: the run ended cleanly and every WANT result
# line ("ok NAME ") is there; prints what is missing.
guest_report() {
	local f=$1 out missing="" r
	shift
	out=$(tr -d '\r' <"$f" 2>/dev/null)
	if ! grep -qE '^TESTGUEST DONE pass=[1-9][0-9]* fail=0$' <<<"$out" || grep -q '^FAIL' <<<"$out"; then
		echo "guest reported failures: $(grep -E '^(FAIL|TESTGUEST DONE)' <<<"$out" | tr '\n' ' ')"
		return 1
	fi
	for r in "$@"; do
		grep -q "^ok $r " <<<"$out" || missing="$missing $r"
	done
	[ -z "$missing" ] || { echo "results missing from the report:$missing"; return 1; }
	return 0
}

# ---- 1. CLI, every option ----
console=$E2E_TMP/console1.txt
run_ember full run --kernel "$TESTGUEST" --mem 256M --cpus 1 --console "file:$console" \
	--balloon 16,deflate_on_oom,stats=1 \
	--cmdline "tg.mem=256 tg.cpus=1 tg.virtio=1 tg.balloon=1 tg.balloon_mib=16"
if [ "$RC" -ne 0 ]; then
	fail "--balloon 16,deflate_on_oom,stats=1: ember exited $RC$([ "$RC" -eq 124 ] && echo ' (timed out)')"
	show_file "$console"
	show_file "$ERR" 10
elif ! msg=$(guest_report "$console" balloon.init balloon.inflate balloon.actual \
	balloon.released balloon.deflate balloon.stats balloon.count); then
	fail "--balloon 16,deflate_on_oom,stats=1: $msg"
	grep -E '^(FAIL|ok balloon|skip balloon)' "$console" | sed 's/^/      | /'
else
	out=$(tr -d '\r' <"$console")
	bad=""
	grep -q '^ok balloon.init .* deflate_on_oom stats num_pages=4096 (16 MiB) as configured' <<<"$out" ||
		bad="$bad init(features/target)"
	grep -q '^ok balloon.inflate pages=4096 ' <<<"$out" || bad="$bad inflate(4096)"
	grep -q '^ok balloon.actual actual=4096$' <<<"$out" || bad="$bad actual"
	if [ -n "$bad" ]; then
		fail "--balloon 16,deflate_on_oom,stats=1: unexpected lines:$bad"
		grep '^ok balloon' <<<"$out" | sed 's/^/      | /'
	else
		pass "--balloon 16,deflate_on_oom,stats=1: $(grep -c '^ok balloon' <<<"$out") balloon checks, $(grep '^TESTGUEST DONE' <<<"$out") in ${MS} ms"
	fi
fi

# ---- 2. CLI, no options ----
console=$E2E_TMP/console2.txt
run_ember plain run --kernel "$TESTGUEST" --mem 128M --console "file:$console" --balloon 8 \
	--cmdline "tg.mem=128 tg.cpus=1 tg.virtio=1 tg.balloon=1 tg.balloon_mib=8"
out=$(tr -d '\r' <"$console" 2>/dev/null)
if [ "$RC" -ne 0 ]; then
	fail "--balloon 8: ember exited $RC"
	show_file "$console"
	show_file "$ERR" 10
elif ! msg=$(guest_report "$console" balloon.init balloon.inflate balloon.released balloon.deflate); then
	fail "--balloon 8: $msg"
elif grep -q '^ok balloon.init .*\(deflate_on_oom\|stats\)' <<<"$out" ||
	! grep -q '^skip balloon.stats ' <<<"$out" || ! grep -q 'num_pages=2048 (8 MiB) as configured' <<<"$out"; then
	fail "--balloon 8: features or target wrong: $(grep '^ok balloon.init' <<<"$out")"
else
	pass "--balloon 8: no stats queue, no deflate_on_oom, 2048 pages inflated"
fi

# A target larger than RAM never boots.
run_ember toobig run --kernel "$TESTGUEST" --mem 128M --console none --balloon 129
if [ "$RC" -ne 0 ] && grep -q 'amount_mib (129) is larger than the guest memory' "$ERR"; then
	pass "--balloon 129 with 128 MiB refused: $(head -1 "$ERR")"
else
	fail "--balloon 129 with --mem 128M: exit $RC: $(head -2 "$ERR")"
fi

# ---- 3. The API: statistics, interval and target updates on a live guest ----
SOCK=$E2E_TMP/api.sock
RESP=$E2E_TMP/resp
LOG=$RESP/log
mkdir -p "$RESP"
: >"$LOG"
nreq=0

# api EXPECTED_STATUS METHOD PATH [JSON]: one curl call; body in $BODY.
api() {
	local exp=$1 m=$2 p=$3 f code
	nreq=$((nreq + 1))
	f=$RESP/$nreq.json
	if [ $# -ge 4 ]; then
		code=$(curl -sS --max-time 20 --unix-socket "$SOCK" -X "$m" -H 'Content-Type: application/json' \
			-d "$4" -o "$f" -w '%{http_code}' "http://localhost$p")
	else
		code=$(curl -sS --max-time 20 --unix-socket "$SOCK" -X "$m" -o "$f" -w '%{http_code}' \
			"http://localhost$p")
	fi
	echo "$m $p $code $f" >>"$LOG"
	BODY=$(cat "$f" 2>/dev/null)
	if [ "$code" != "$exp" ]; then
		fail "$m $p: HTTP $code, expected $exp: $BODY"
		return 1
	fi
	return 0
}

# wait_line FILE REGEX SECONDS: until a console line matches (or the time is up).
wait_line() {
	local i
	for ((i = 0; i < $3 * 10; i++)); do
		tr -d '\r' <"$1" 2>/dev/null | grep -qE "$2" && return 0
		kill -0 "$PID" 2>/dev/null || break
		sleep 0.1
	done
	tr -d '\r' <"$1" 2>/dev/null | grep -qE "$2"
}

# json_get FIELD: a field of $BODY.
json_get() {
	python3 -c 'import json, sys; print(json.loads(sys.argv[1]).get(sys.argv[2], "absent"))' "$BODY" "$1"
}

# api_start NAME: ember on $SOCK (--id balloon_NAME, console in $OUT, log in
# $ERR, pid in $PID), then until its socket accepts; 1 if it never does.
api_start() {
	OUT=$E2E_TMP/$1.stdout
	ERR=$E2E_TMP/$1.stderr
	e2e_cases=$((e2e_cases + 1))
	timeout -k 5 "$E2E_TIMEOUT" "$EMBER" --api-sock "$SOCK" --id "balloon_$1" </dev/null >"$OUT" 2>"$ERR" &
	PID=$!
	python3 -c "import sys; sys.path.insert(0, '$API_PY'); import fcapi; sys.exit(0 if fcapi.wait_for_socket('$SOCK') else 1)" && return 0
	fail "$1: the socket never accepted"
	show_file "$ERR"
	kill "$PID" 2>/dev/null
	return 1
}

# api_end WHAT RESULT...: ember exits 0 after the guest's Ctrl-Alt-Del, the
# guest reported every RESULT, and the responses logged match the YAML.
api_end() {
	local what=$1
	shift
	wait "$PID"
	RC=$?
	if [ "$RC" -ne 0 ]; then
		fail "$what: ember exited $RC$([ "$RC" -eq 124 ] && echo ' (timed out)')"
		show_file "$ERR"
	elif ! msg=$(guest_report "$OUT" "$@"); then
		fail "$what: $msg"
		grep -E '^(FAIL|ok balloon)' "$OUT" | sed 's/^/      | /'
	else
		pass "$what: guest $(tr -d '\r' <"$OUT" | grep '^TESTGUEST DONE'), exit 0 after Ctrl-Alt-Del"
	fi
	if FC_API_SPEC=$SPEC python3 "$API_PY/fcapi.py" "$SPEC" "$LOG" >"$E2E_TMP/contract.txt" 2>&1; then
		pass "$what: $(wc -l <"$LOG") responses match the YAML contract"
	else
		fail "$what: responses vs the YAML contract:"
		show_file "$E2E_TMP/contract.txt" 20
	fi
}

boot_args="console=ttyS0 tg.mem=256 tg.cpus=1 tg.virtio=1 tg.balloon=1 tg.balloon_mib=16 tg.balloon_resize=8 tg.wait=cad"
if api_start api; then
	api 204 PUT /machine-config '{"vcpu_count": 1, "mem_size_mib": 256}'
	api 204 PUT /boot-source "{\"kernel_image_path\": \"$TESTGUEST\", \"boot_args\": \"$boot_args\"}"
	api 400 PUT /balloon '{"amount_mib": 300, "deflate_on_oom": true}'
	api 204 PUT /balloon '{"amount_mib": 16, "deflate_on_oom": true, "stats_polling_interval_s": 1}'
	api 200 GET /balloon
	api 204 PUT /actions '{"action_type": "InstanceStart"}'
	if ! wait_line "$OUT" '^TESTGUEST BALLOON WAITING' 60; then
		fail "API: the guest never reached the resize wait"
		grep -E '^(FAIL|ok balloon|TESTGUEST)' "$OUT" | sed 's/^/      | /'
		show_file "$ERR" 5
	else
		stats_line=$(tr -d '\r' <"$OUT" | grep '^ok balloon.stats ')
		g_total=$(sed -n 's/.*total_memory=\([0-9]*\).*/\1/p' <<<"$stats_line")
		g_free=$(sed -n 's/.*free_memory=\([0-9]*\).*/\1/p' <<<"$stats_line")
		api 200 GET /balloon/statistics
		if grep -q 'not available in this VM' <<<"$BODY"; then
			fail "the VM does not implement vm_balloon_get_stats/_set_target/_set_stats_interval (vm_update.h) yet"
			api 204 PUT /actions '{"action_type": "SendCtrlAltDel"}'
		else
			got="target_mib=$(json_get target_mib) actual_pages=$(json_get actual_pages) total_memory=$(json_get total_memory) free_memory=$(json_get free_memory)"
			want="target_mib=16 actual_pages=4096 total_memory=$g_total free_memory=$g_free"
			if [ "$got" = "$want" ]; then
				pass "GET /balloon/statistics: $got (as the guest reported)"
			else
				fail "GET /balloon/statistics: $got, expected $want: $BODY"
			fi
			api 400 PATCH /balloon/statistics '{"stats_polling_interval_s": 0}'
			api 204 PATCH /balloon/statistics '{"stats_polling_interval_s": 2}'
			api 400 PATCH /balloon '{"amount_mib": 257}'
			api 204 PATCH /balloon '{"amount_mib": 8}'
			if wait_line "$OUT" '^(ok|FAIL) balloon.resize ' 60; then
				api 200 GET /balloon/statistics
				got="target_pages=$(json_get target_pages) target_mib=$(json_get target_mib) actual_pages=$(json_get actual_pages) actual_mib=$(json_get actual_mib)"
				if [ "$got" = "target_pages=2048 target_mib=8 actual_pages=2048 actual_mib=8" ]; then
					pass "PATCH /balloon 16 -> 8 MiB: the guest followed, $got"
				else
					fail "after PATCH /balloon 8 MiB: $got: $BODY"
				fi
				api 200 GET /balloon
				[ "$(json_get amount_mib) $(json_get stats_polling_interval_s)" = "8 2" ] ||
					fail "GET /balloon after the PATCHes: $BODY"
			else
				fail "the guest never saw the new target"
			fi
			# hinting was not enabled on this device
			api 400 GET /balloon/hinting/status
			grep -q 'not enabled' <<<"$BODY" || fail "status without hinting: $BODY"
			api 400 PATCH /balloon/hinting/start
			api 204 PUT /actions '{"action_type": "SendCtrlAltDel"}'
		fi
	fi
	api_end API balloon.init balloon.inflate balloon.released balloon.stats wait.cad
fi

# ---- 4. Free page hinting through the API ----
SOCK=$E2E_TMP/hint.sock
: >"$LOG"
boot_args="console=ttyS0 tg.mem=256 tg.cpus=1 tg.virtio=1 tg.balloon=1 tg.balloon_mib=4 tg.balloon_hint=1 tg.wait=cad"
if api_start hint; then
	api 204 PUT /machine-config '{"vcpu_count": 1, "mem_size_mib": 256}'
	api 204 PUT /boot-source "{\"kernel_image_path\": \"$TESTGUEST\", \"boot_args\": \"$boot_args\"}"
	api 204 PUT /balloon '{"amount_mib": 4, "deflate_on_oom": false, "free_page_hinting": true}'
	api 200 GET /balloon
	[ "$(json_get free_page_hinting)" = True ] || fail "GET /balloon: free_page_hinting not true: $BODY"
	api 400 PATCH /balloon/hinting/start '{"acknowledge_on_stop": true}' # before boot
	api 204 PUT /actions '{"action_type": "InstanceStart"}'
	if ! wait_line "$OUT" '^TESTGUEST BALLOON HINT WAITING' 60; then
		fail "hinting: the guest never reached its wait"
		grep -E '^(FAIL|ok balloon|TESTGUEST)' "$OUT" | sed 's/^/      | /'
		show_file "$ERR" 5
	else
		api 200 GET /balloon/hinting/status
		[ "$BODY" = '{"host_cmd":0}' ] || fail "status before any run: $BODY, expected {\"host_cmd\":0}"
		api 204 PATCH /balloon/hinting/start '{"acknowledge_on_stop": true}'
		if wait_line "$OUT" '^(ok|FAIL) balloon.hint ' 60; then
			api 200 GET /balloon/hinting/status
			line=$(tr -d '\r' <"$OUT" | grep -E '^(ok|FAIL) balloon.hint ')
			if [ "$BODY" = '{"host_cmd":1,"guest_cmd":0}' ] && [ "${line#ok }" != "$line" ]; then
				pass "hinting: start -> the guest answered, hinted, stopped; ember said DONE: status $BODY; guest: ${line#ok balloon.hint }"
			else
				fail "hinting: status $BODY (want host_cmd 1, guest_cmd 0); guest: $line"
			fi
			api 204 PATCH /balloon/hinting/stop
			api 204 PATCH /balloon/hinting/start
			api 200 GET /balloon/hinting/status
			[ "$(json_get host_cmd)" = 3 ] || fail "a second run takes id 3: $BODY"
		else
			fail "hinting: the guest never finished its run"
			grep -E '^(FAIL|ok balloon|TESTGUEST)' "$OUT" | sed 's/^/      | /'
		fi
		api 204 PUT /actions '{"action_type": "SendCtrlAltDel"}'
	fi
	api_end hinting balloon.init balloon.inflate balloon.hint wait.cad
fi

finish
