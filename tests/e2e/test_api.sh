#!/usr/bin/env bash
# The Firecracker API end to end, with curl over the Unix socket:
# Firecracker's getting-started sequence (logger, metrics, machine-config,
# boot-source, drives, InstanceStart) boots the test guest, then GET /,
# pause/resume, PATCH /drives (backing file swap), GET /vm/config,
# FlushMetrics and SendCtrlAltDel, after which the guest resets and ember
# exits 0. Every response is checked against the YAML contract. Then the
# exported /vm/config boots a second ember through --config-file and must
# read back identically.
set -u
. "$(dirname "$0")/lib.sh"
require "$EMBER" "$TESTGUEST"
SPEC=${FC_API_SPEC:-$(cd "$(dirname "$0")" && pwd)/api/firecracker-api-1.17.yaml}
export FC_API_SPEC=$SPEC
API_PY=$(dirname "$0")/api

SOCK=$E2E_TMP/api.sock
RESP=$E2E_TMP/resp
mkdir -p "$RESP"
LOG=$RESP/log
: >"$LOG"
nreq=0

# api EXPECTED_STATUS METHOD PATH [JSON]: one curl call, recorded for the
# contract check; the body is left in $BODY.
api() {
	local exp=$1 m=$2 p=$3 data=${4-} f code
	nreq=$((nreq + 1))
	f=$RESP/$nreq.json
	if [ $# -ge 4 ]; then
		code=$(curl -sS --max-time 20 --unix-socket "$SOCK" -X "$m" \
			-H 'Accept: application/json' -H 'Content-Type: application/json' \
			-d "$data" -o "$f" -w '%{http_code}' "http://localhost$p")
	else
		code=$(curl -sS --max-time 20 --unix-socket "$SOCK" -X "$m" \
			-H 'Accept: application/json' -o "$f" -w '%{http_code}' "http://localhost$p")
	fi
	echo "$m $p $code $f" >>"$LOG"
	BODY=$(cat "$f" 2>/dev/null)
	if [ "$code" != "$exp" ]; then
		fail "$m $p: HTTP $code, expected $exp: $BODY"
		return 1
	fi
	return 0
}

# guest_ok FILE: the test guest's report is complete and clean.
guest_ok() {
	local out
	out=$(tr -d '\r' <"$1")
	grep -qE '^TESTGUEST DONE pass=[1-9][0-9]* fail=0$' <<<"$out" && ! grep -q '^FAIL' <<<"$out" &&
		grep -q '^ok wait.cad ' <<<"$out"
}

disk=$E2E_TMP/rootfs.img
disk2=$E2E_TMP/rootfs2.img
truncate -s 1M "$disk"
truncate -s 2M "$disk2"
logfile=$E2E_TMP/ember.log
metrics=$E2E_TMP/metrics.json
: >"$logfile"
: >"$metrics"
boot_args="console=ttyS0 tg.mem=256 tg.cpus=2 tg.virtio=1 tg.blk=1 tg.wait=cad"

# ---- 1. Firecracker's getting-started sequence, then the running VM ----
if start_api gs --id api_e2e; then
	api 200 GET / && grep -q '"state":"Not started"' <<<"$BODY" || fail "GET / before boot: $BODY"
	api 200 GET /version
	api 204 PUT /logger "{\"log_path\": \"$logfile\", \"level\": \"Debug\", \"show_level\": true, \"show_log_origin\": true}"
	api 204 PUT /metrics "{\"metrics_path\": \"$metrics\"}"
	api 200 GET /machine-config && grep -q '"vcpu_count":1,"mem_size_mib":128' <<<"$BODY" ||
		fail "default machine-config: $BODY"
	api 204 PUT /machine-config '{"vcpu_count": 2, "mem_size_mib": 256}'
	api 204 PATCH /machine-config '{"track_dirty_pages": false}'
	api 200 GET /machine-config && grep -q '"vcpu_count":2,"mem_size_mib":256' <<<"$BODY" ||
		fail "machine-config after PUT: $BODY"
	api 204 PUT /boot-source "{\"kernel_image_path\": \"$TESTGUEST\", \"boot_args\": \"$boot_args\"}"
	api 204 PUT /drives/rootfs "{\"drive_id\": \"rootfs\", \"path_on_host\": \"$disk\", \"is_root_device\": true, \"is_read_only\": false}"
	api 400 PATCH /drives/rootfs "{\"drive_id\": \"rootfs\", \"path_on_host\": \"$disk2\"}"
	api 400 PUT /actions '{"action_type": "SendCtrlAltDel"}'
	api 400 PATCH /vm '{"state": "Paused"}'
	api 400 GET /balloon
	api 200 GET /vm/config
	api 204 PUT /actions '{"action_type": "InstanceStart"}'
	api 200 GET / && grep -q '"state":"Running"' <<<"$BODY" || fail "GET / after boot: $BODY"
	api 200 GET /machine-config
	api 400 PUT /machine-config '{"vcpu_count": 1, "mem_size_mib": 128}' &&
		grep -q 'not supported after starting' <<<"$BODY" || fail "pre-boot PUT after boot: $BODY"
	api 400 PUT /actions '{"action_type": "InstanceStart"}'
	# The guest's device checks are done before the drive is swapped under it
	# (its out-of-range read uses the capacity it saw at the start).
	wait_line "$OUT" '^TESTGUEST WAITING' 30 || fail "the guest never reached tg.wait=cad"
	api 204 PATCH /vm '{"state": "Paused"}'
	api 200 GET / && grep -q '"state":"Paused"' <<<"$BODY" || fail "GET / paused: $BODY"
	api 204 PATCH /vm '{"state": "Paused"}'
	api 204 PATCH /vm '{"state": "Resumed"}'
	api 200 GET / && grep -q '"state":"Running"' <<<"$BODY" || fail "GET / resumed: $BODY"
	api 204 PATCH /drives/rootfs "{\"drive_id\": \"rootfs\", \"path_on_host\": \"$disk2\"}"
	api 400 PATCH /drives/nosuch '{"drive_id": "nosuch", "path_on_host": "/etc/hostname"}'
	api 200 GET /vm/config && cp "$RESP/$nreq.json" "$E2E_TMP/vmconfig.json"
	grep -q "\"path_on_host\":\"$disk2\"" "$E2E_TMP/vmconfig.json" ||
		fail "GET /vm/config does not show the swapped drive: $(cat "$E2E_TMP/vmconfig.json")"
	api 204 PUT /actions '{"action_type": "FlushMetrics"}'
	api 204 PUT /actions '{"action_type": "SendCtrlAltDel"}'
	wait "$PID"
	RC=$?
	if [ "$RC" -ne 0 ]; then
		fail "ember exited $RC after SendCtrlAltDel$([ "$RC" -eq 124 ] && echo ' (timed out)')"
		show_file "$ERR"
	elif ! guest_ok "$OUT"; then
		fail "guest report: $(grep -E '^(FAIL|TESTGUEST DONE)' "$OUT" | tr '\n' ' ')"
		show_file "$OUT"
	else
		pass "getting-started sequence booted the guest, paused/resumed it, Ctrl-Alt-Del -> exit 0 ($(grep '^TESTGUEST DONE' "$OUT" | tr -d '\r'))"
	fi
	[ -S "$SOCK" ] && fail "the API socket was left behind after exit"
	# the logger took effect: level shown, Debug lines present
	grep -q ':DEBUG:\|:INFO:' "$logfile" || fail "logger file has no leveled lines: $(head -3 "$logfile")"
	# metrics: the FlushMetrics line plus the final one, each one JSON object
	if python3 - "$metrics" <<'PY'; then
import json, sys
lines = [l for l in open(sys.argv[1]) if l.strip()]
assert len(lines) >= 2, "expected >= 2 metrics lines, got %d" % len(lines)
total_put = 0
for l in lines:
    m = json.loads(l)
    for k in ("api_server", "block", "net", "vsock", "balloon", "vcpu", "seccomp",
              "put_api_requests", "patch_api_requests", "get_api_requests", "utc_timestamp_ms"):
        assert k in m, "metrics line without %s" % k
    total_put += m["put_api_requests"]["drive_count"]
first = json.loads(lines[0])
assert first["api_server"]["process_startup_time_us"] > 0, "no startup time"
assert first["patch_api_requests"]["vm_count"] >= 3, first["patch_api_requests"]
assert total_put == 1, "PUT /drives counted %d times" % total_put
# device counters reach the metrics: the guest wrote and read its drive
w = sum(json.loads(l).get("block_rootfs", {}).get("write_bytes", 0) for l in lines)
r = sum(json.loads(l)["block"]["read_bytes"] for l in lines)
assert w > 0 and r > 0, "block counters did not count (write %d, read %d)" % (w, r)
PY
		pass "metrics: JSON lines with counters that count"
	else
		fail "metrics file: $(head -c 300 "$metrics")"
	fi
fi

# ---- 2. GET /vm/config round-trips through --config-file ----
if [ -s "$E2E_TMP/vmconfig.json" ]; then
	# the second VM logs and meters elsewhere (metrics cannot be re-opened twice
	# by one process, but this is a new process; keep the files apart anyway)
	python3 - "$E2E_TMP/vmconfig.json" "$E2E_TMP/vmconfig2.json" "$E2E_TMP" <<'PY'
import json, sys
c = json.load(open(sys.argv[1]))
c["logger"]["log_path"] = sys.argv[3] + "/ember2.log"
c["metrics"]["metrics_path"] = sys.argv[3] + "/metrics2.json"
json.dump(c, open(sys.argv[2], "w"), indent=2)
PY
	: >"$E2E_TMP/ember2.log"
	if start_api cf --config-file "$E2E_TMP/vmconfig2.json"; then
		api 200 GET / && grep -q '"state":"Running"' <<<"$BODY" || fail "config-file VM not running: $BODY"
		api 200 GET /vm/config
		if python3 - "$E2E_TMP/vmconfig2.json" "$RESP/$nreq.json" <<'PY'; then
import json, sys
a, b = json.load(open(sys.argv[1])), json.load(open(sys.argv[2]))
if a != b:
    sys.exit("differs:\n  file %s\n  GET  %s" % (json.dumps(a, sort_keys=True), json.dumps(b, sort_keys=True)))
PY
			pass "GET /vm/config -> --config-file -> GET /vm/config is identical"
		else
			fail "/vm/config round trip"
		fi
		api 204 PUT /actions '{"action_type": "SendCtrlAltDel"}'
		wait "$PID"
		RC=$?
		if [ "$RC" -eq 0 ] && guest_ok "$OUT"; then
			pass "--config-file with the exported config booted the guest, exit 0"
		else
			fail "--config-file boot: exit $RC"
			show_file "$OUT"
			show_file "$ERR"
		fi
	fi
fi

# ---- 3. every response against the YAML contract ----
if python3 "$API_PY/fcapi.py" "$SPEC" "$LOG"; then
	pass "all $nreq responses match $(basename "$SPEC")"
else
	fail "responses that break the contract (above)"
fi
finish
