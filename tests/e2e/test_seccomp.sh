#!/usr/bin/env bash
# Seccomp end to end (issue 6):
#  1. API mode, 2 vCPUs, a drive: before InstanceStart the VMM thread has its
#     boot filter and the API thread its own; with the guest running (tg.wait=cad
#     keeps it up) every thread shows "Seccomp: 2" with the expected number of
#     stacked filters; SendCtrlAltDel ends it with exit 0 and the seccomp
#     metric counted nothing.
#  2. `ember run`: every thread filtered; SIGTERM ends it with exit 0.
#  3. --no-seccomp: no thread filtered.
#  4. --seccomp-filter FILE = the built-in filters (resources/seccomp) minus
#     one syscall a thread needs: the process lives until that thread makes
#     the call, then dies of SIGSYS (status 128+31): the API thread's accept4,
#     the vCPU thread's KVM_RUN; with "trap" the handler names the syscall and
#     exits 159; with "log" the call goes through (the vCPU thread's exit).
#  5. Bad filter files and flags: exit 1 with one line naming the problem.
set -u
. "$(dirname "$0")/lib.sh"
require "$EMBER" "$TESTGUEST"
API_PY=$(dirname "$0")/api
DEFAULT_JSON=$(dirname "$0")/../../resources/seccomp/x86_64.json
SOCK=$E2E_TMP/api.sock
WAIT_S=30
SIGSYS_STATUS=$((128 + 31))

# wait_until SECONDS CMD...: polls CMD every 50 ms until it succeeds.
wait_until() {
	local end=$(($(date +%s) + $1))
	shift
	until "$@"; do
		[ "$(date +%s)" -ge "$end" ] && return 1
		sleep 0.05
	done
}

guest_waiting() {
	grep -q "TESTGUEST WAITING" "$1" 2>/dev/null
}

# ember_pid: the ember process under `timeout` ($PID).
ember_pid() {
	local c
	c=$(cat "/proc/$PID/task/$PID/children" 2>/dev/null || pgrep -P "$PID")
	echo "${c%% *}"
}

# thread_report PID: "comm:Seccomp:Seccomp_filters" for every thread of
# ember (KVM's kernel worker threads in the group, kvm-*, run no user code).
thread_report() {
	local t comm
	for t in /proc/"$1"/task/*; do
		comm=$(cat "$t/comm" 2>/dev/null)
		case "$comm" in kvm-*) continue ;; esac
		printf '%s:%s:%s\n' "$comm" \
			"$(awk '/^Seccomp:/ {print $2}' "$t/status" 2>/dev/null)" \
			"$(awk '/^Seccomp_filters:/ {print $2}' "$t/status" 2>/dev/null)"
	done | sort
}

api() {
	curl -sS --max-time 20 --unix-socket "$SOCK" -X "$1" -H 'Content-Type: application/json' \
		${3:+-d "$3"} -o "$E2E_TMP/resp.json" -w '%{http_code}' "http://localhost$2"
}

# api_ok METHOD PATH [JSON]: expects 2xx.
api_ok() {
	local code
	code=$(api "$@")
	case "$code" in
	2??) return 0 ;;
	*)
		fail "$1 $2: HTTP $code $(cat "$E2E_TMP/resp.json" 2>/dev/null)"
		return 1
		;;
	esac
}

wait_sock() {
	python3 -c "import sys; sys.path.insert(0, '$API_PY'); import fcapi; \
sys.exit(0 if fcapi.wait_for_socket('$SOCK') else 1)"
}

# finish_bg: waits for $PID, sets RC.
finish_bg() {
	wait "$PID"
	RC=$?
}

stop_bg() {
	kill "$PID" 2>/dev/null
	wait "$PID" 2>/dev/null
}

disk=$E2E_TMP/disk.img
truncate -s 1M "$disk"
metrics=$E2E_TMP/metrics.json
: >"$metrics"

# ---- 1. API mode ----
start_bg api --api-sock "$SOCK" --id seccomp_e2e --metrics-path "$metrics"
if ! wait_sock; then
	fail "api: the socket never accepted"
	show_file "$ERR"
	stop_bg
else
	EPID=$(ember_pid)
	rep=$(thread_report "$EPID")
	# before InstanceStart: main (boot filter) and API thread, one filter each
	if [ "$(echo "$rep" | tr '\n' ' ')" != "ember:2:1 fc_api:2:1 " ]; then
		fail "api, before InstanceStart: threads (comm:Seccomp:filters) $(echo $rep), expected ember:2:1 fc_api:2:1"
	else
		pass "api, before InstanceStart: main thread (boot filter) and API thread: Seccomp 2, 1 filter each"
	fi
	api_ok PUT /machine-config '{"vcpu_count": 2, "mem_size_mib": 128}'
	api_ok PUT /boot-source "{\"kernel_image_path\": \"$TESTGUEST\", \"boot_args\": \"console=ttyS0 tg.mem=128 tg.cpus=2 tg.virtio=1 tg.blk=1 tg.wait=cad\"}"
	api_ok PUT /drives/rootfs "{\"drive_id\": \"rootfs\", \"path_on_host\": \"$disk\", \"is_root_device\": true, \"is_read_only\": false}"
	api_ok PUT /actions '{"action_type": "InstanceStart"}'
	if ! wait_until $WAIT_S guest_waiting "$OUT"; then
		fail "api: the guest never reached its Ctrl-Alt-Del wait"
		show_file "$OUT"
		show_file "$ERR"
	else
		rep=$(thread_report "$EPID")
		# main: boot + vmm; fc_api: api; fc_vcpu N: boot (inherited) + vcpu
		exp=$'ember:2:2\nfc_api:2:1\nfc_vcpu 0:2:2\nfc_vcpu 1:2:2'
		if [ "$rep" != "$exp" ]; then
			fail "api, running: threads (comm:Seccomp:filters) $(echo $rep), expected $(echo $exp)"
		else
			pass "api, running: all 4 threads Seccomp 2 ($(echo $rep))"
		fi
		api_ok PATCH /vm '{"state": "Paused"}'
		api_ok PATCH /vm '{"state": "Resumed"}'
		api_ok PATCH /drives/rootfs "{\"drive_id\": \"rootfs\", \"path_on_host\": \"$disk\"}"
		api_ok PUT /actions '{"action_type": "FlushMetrics"}'
		api_ok PUT /actions '{"action_type": "SendCtrlAltDel"}'
	fi
	finish_bg
	if [ "$RC" -ne 0 ]; then
		fail "api: ember exited $RC$([ "$RC" -eq $SIGSYS_STATUS ] && echo ' (SIGSYS: a filter is missing a syscall)')"
		show_file "$ERR"
	elif ! grep -q '^ok wait.cad' <(tr -d '\r' <"$OUT"); then
		fail "api: the guest did not see Ctrl-Alt-Del"
	else
		pass "api: pause, resume, drive swap, metrics flush, Ctrl-Alt-Del under the filters -> exit 0"
	fi
	if python3 - "$metrics" <<'PY'; then
import json, sys
lines = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
assert lines, "no metrics lines"
for m in lines:
    assert m["seccomp"]["num_faults"] == 0, m["seccomp"]
PY
		pass "api: seccomp.num_faults 0 in every metrics line"
	else
		fail "api: metrics $(head -c 300 "$metrics")"
	fi
fi

# ---- 2. ember run ----
run_console=$E2E_TMP/run.console
start_bg run run --kernel "$TESTGUEST" --mem 128M --cpus 2 --console "file:$run_console" \
	--disk "$disk" --cmdline "tg.mem=128 tg.cpus=2 tg.virtio=1 tg.blk=1 tg.wait=cad"
if ! wait_until $WAIT_S guest_waiting "$run_console"; then
	fail "run: the guest never reached its wait"
	show_file "$run_console"
	show_file "$ERR"
	stop_bg
else
	rep=$(thread_report "$(ember_pid)")
	exp=$'ember:2:1\nfc_vcpu 0:2:1\nfc_vcpu 1:2:1'
	[ "$rep" = "$exp" ] && pass "run: all 3 threads Seccomp 2, 1 filter each" ||
		fail "run: threads (comm:Seccomp:filters) $(echo $rep), expected $(echo $exp)"
	kill -TERM "$(ember_pid)"
	finish_bg
	[ "$RC" -eq 0 ] && pass "run: SIGTERM -> exit 0 under the filters" ||
		{ fail "run: exit $RC after SIGTERM"; show_file "$ERR"; }
fi

# ---- 3. --no-seccomp ----
start_bg off run --kernel "$TESTGUEST" --mem 64M --console "file:$E2E_TMP/off.console" \
	--no-seccomp --cmdline "tg.mem=64 tg.cpus=1 tg.wait=cad"
if wait_until $WAIT_S guest_waiting "$E2E_TMP/off.console"; then
	rep=$(thread_report "$(ember_pid)")
	[ "$rep" = $'ember:0:0\nfc_vcpu 0:0:0' ] && pass "--no-seccomp: no thread filtered" ||
		fail "--no-seccomp: threads $(echo $rep)"
	kill -TERM "$(ember_pid)"
	finish_bg
	[ "$RC" -eq 0 ] || fail "--no-seccomp: exit $RC after SIGTERM"
else
	fail "--no-seccomp: the guest never reached its wait"
	stop_bg
fi

# ---- 4. custom filter files ----
# custom NAME KIND DROP [ACTION]: resources/seccomp/x86_64.json without the
# rules of KIND whose syscall (or ioctl comment) is DROP; every default
# action becomes ACTION when given.
custom() {
	python3 - "$DEFAULT_JSON" "$E2E_TMP/$1.json" "$2" "$3" "${4:-}" <<'PY'
import json, sys
src, dst, kind, drop, action = sys.argv[1:6]
doc = json.load(open(src))
before = len(doc[kind]["filter"])
doc[kind]["filter"] = [r for r in doc[kind]["filter"]
                       if r["syscall"] != drop and r.get("comment") != drop]
assert len(doc[kind]["filter"]) < before, "nothing dropped"
if action:
    for f in doc.values():
        f["default_action"] = action
json.dump(doc, open(dst, "w"), indent=1)
PY
	echo "$E2E_TMP/$1.json"
}

# (a) the API thread without accept4: alive until a client connects
f=$(custom no_accept4 api accept4)
start_bg no_accept4 --api-sock "$SOCK" --seccomp-filter "$f"
if ! wait_until 10 test -S "$SOCK"; then
	fail "custom api filter: no API socket"
	show_file "$ERR"
	stop_bg
else
	EPID=$(ember_pid)
	alive_ok=0
	# a FILE has no pre-boot VMM filter (seccomp.h): main 0, API thread 1
	kill -0 "$EPID" 2>/dev/null && [ "$(thread_report "$EPID" | tr '\n' ' ')" = "ember:0:0 fc_api:2:1 " ] && alive_ok=1
	curl -s --max-time 5 --unix-socket "$SOCK" http://localhost/ >/dev/null 2>&1
	finish_bg
	if [ $alive_ok -ne 1 ]; then
		fail "custom api filter: ember was not up and filtered before the client came"
	elif [ "$RC" -ne $SIGSYS_STATUS ]; then
		fail "custom api filter without accept4: exit $RC, expected $SIGSYS_STATUS (SIGSYS)"
		show_file "$ERR"
	else
		pass "custom api filter without accept4: up and filtered, killed by SIGSYS when a client connected (exit $RC)"
	fi
fi

# (b) vCPU threads without KVM_RUN
f=$(custom no_kvm_run vcpu KVM_RUN)
run_ember no_kvm_run run --kernel "$TESTGUEST" --mem 64M --console none --seccomp-filter "$f"
if [ "$RC" -eq $SIGSYS_STATUS ]; then
	pass "custom vcpu filter without KVM_RUN: killed by SIGSYS (exit $RC)"
else
	fail "custom vcpu filter without KVM_RUN: exit $RC, expected $SIGSYS_STATUS"
	show_file "$ERR"
fi

# (c) the same with "trap": the SIGSYS handler names the call, exit 159
f=$(custom trap_kvm_run vcpu KVM_RUN trap)
run_ember trap_kvm_run run --kernel "$TESTGUEST" --mem 64M --console none --seccomp-filter "$f"
if [ "$RC" -eq $SIGSYS_STATUS ] && grep -q "forbidden syscall 16 on a vcpu thread" "$ERR"; then
	pass "\"trap\": the handler reported syscall 16 (ioctl) on a vcpu thread, exit $RC"
else
	fail "\"trap\": exit $RC, expected $SIGSYS_STATUS and a report of syscall 16"
	show_file "$ERR"
fi

# (d) "log": the call goes through (and the kernel logs it: a call made once,
# the vCPU thread's exit, not KVM_RUN, to keep the kernel log quiet)
f=$(custom log_exit vcpu exit log)
run_ember log_exit run --kernel "$TESTGUEST" --mem 64M --console "file:$E2E_TMP/log.console" \
	--seccomp-filter "$f" --cmdline "tg.mem=64 tg.cpus=1"
if [ "$RC" -eq 0 ] && grep -q "^TESTGUEST DONE pass=[1-9][0-9]* fail=0" <(tr -d '\r' <"$E2E_TMP/log.console"); then
	pass "\"log\": without exit in the vcpu filter the thread still ended, the guest finished (exit 0)"
else
	fail "\"log\": exit $RC"
	show_file "$ERR"
fi

# ---- 5. bad files and flags ----
# expect_bad NAME NEEDLE ARGS...: exit 1 and NEEDLE in stderr.
expect_bad() {
	local name=$1 needle=$2
	shift 2
	run_ember "$name" "$@"
	if [ "$RC" -ne 1 ] || ! grep -qF -- "$needle" "$ERR"; then
		fail "$name: exit $RC, expected 1 and '$needle' in: $(head -c 300 "$ERR")"
	else
		pass "$name: $(head -n 1 "$ERR")"
	fi
}
echo '{"vmm": {"default_action": "trap", "filter_action": "allow", "filter": [' >"$E2E_TMP/bad.json"
echo '{"jailer": {}, "vmm": {}, "api": {}, "vcpu": {}}' >"$E2E_TMP/kind.json"
python3 - "$DEFAULT_JSON" "$E2E_TMP/name.json" <<'PY'
import json, sys
doc = json.load(open(sys.argv[1]))
doc["vcpu"]["filter"][3]["syscall"] = "no_such_syscall"
json.dump(doc, open(sys.argv[2], "w"))
PY
RUNARGS=(run --kernel "$TESTGUEST" --mem 64M --console none)
rm -f "$SOCK" # left by the SIGSYS kill above
expect_bad missing_file "$E2E_TMP/nope.json" "${RUNARGS[@]}" --seccomp-filter "$E2E_TMP/nope.json"
expect_bad not_json "not valid JSON" "${RUNARGS[@]}" --seccomp-filter "$E2E_TMP/bad.json"
expect_bad unknown_kind "unknown thread kind \`jailer\`" --api-sock "$SOCK" --seccomp-filter "$E2E_TMP/kind.json"
expect_bad unknown_syscall "vcpu.filter[3].syscall: unknown system call \`no_such_syscall\`" \
	"${RUNARGS[@]}" --seccomp-filter "$E2E_TMP/name.json"
expect_bad both_run "mutually exclusive" "${RUNARGS[@]}" --seccomp-filter "$DEFAULT_JSON" --no-seccomp
expect_bad both_api "mutually exclusive" --api-sock "$SOCK" --seccomp-filter "$DEFAULT_JSON" --no-seccomp
[ -S "$SOCK" ] && fail "a refused start left the API socket behind"

finish
