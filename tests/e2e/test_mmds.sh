#!/usr/bin/env bash
# MMDS through the API and the command line, in a private network namespace
# with a TAP (tap0) for the interface the MMDS is configured on:
#  - --mmds-size-limit 256: PUT and PATCH /mmds over the limit answer 413
#    with Firecracker's message and leave the store unchanged; one under it
#    is taken; PUT /mmds/config (V2, another link-local address,
#    imds_compat) on eth0; GET /vm/config reports it; every response is
#    checked against the YAML contract;
#  - the exported /vm/config with --config-file and --metadata FILE (the
#    flintlock shape, with the API socket to look inside): the guest starts,
#    GET /mmds is the file's contents, GET /vm/config the same mmds-config.
# The guest side (ARP/TCP/HTTP from a real Linux) is tests/nested's `mmds`
# run; the responder's frames are tests/unit/test_mmds_net.c and
# tests/device/test_net_mmds.c. Needs root (ip netns).
set -u
. "$(dirname "$0")/lib.sh"
require "$EMBER" "$TESTGUEST"
API_PY=$(cd "$(dirname "$0")" && pwd)/api

if [ "$(id -u)" -ne 0 ] || ! command -v ip >/dev/null || [ ! -c /dev/net/tun ]; then
	fail "needs root, iproute2 and /dev/net/tun"
	finish
fi
ns=ember-e2e-mmds-$$
PID=
cleanup() {
	[ -n "$PID" ] && kill "$PID" 2>/dev/null
	ip netns del "$ns" 2>/dev/null
	e2e_cleanup
}
trap cleanup EXIT
nsx() { ip netns exec "$ns" "$@"; }
if ! { ip netns add "$ns" && nsx ip link set lo up && nsx ip tuntap add dev tap0 mode tap &&
	nsx ip link set tap0 up; }; then
	fail "could not set up namespace $ns with tap0"
	finish
fi

SOCK=$E2E_TMP/mmds.sock
LOG=$E2E_TMP/requests.log
: >"$LOG"
# call METHOD PATH [JSON]: api_call, recorded for the contract check
call() {
	api_call "$SOCK" "$@"
	local f=$E2E_TMP/resp.$(wc -l <"$LOG")
	printf '%s' "$BODY" >"$f"
	echo "$1 $2 $CODE $f" >>"$LOG"
}

start() { # NAME ARGS...: ember in the namespace, in the background
	local name=$1
	shift
	e2e_cases=$((e2e_cases + 1))
	rm -f "$SOCK"
	nsx timeout -k 5 "$E2E_TIMEOUT" "$EMBER" --api-sock "$SOCK" "$@" </dev/null \
		>"$E2E_TMP/$name.out" 2>"$E2E_TMP/$name.err" &
	PID=$!
	if ! wait_api "$SOCK"; then
		fail "$name: the API socket never accepted"
		show_file "$E2E_TMP/$name.err"
		return 1
	fi
}

stop() {
	kill -TERM "$PID" 2>/dev/null
	wait "$PID" 2>/dev/null
	PID=
}

# ---- the API, with a 256-byte data store ----
if start api --id mmds_api --mmds-size-limit 256; then
	call PUT /network-interfaces/eth0 '{"iface_id": "eth0", "host_dev_name": "tap0"}'
	expect_http "PUT /network-interfaces/eth0" 204
	call PUT /mmds/config '{"version": "V2", "network_interfaces": ["eth0"],
		"ipv4_address": "169.254.170.2", "imds_compat": true}'
	expect_http "PUT /mmds/config (V2, 169.254.170.2, imds_compat)" 204
	small='{"latest": {"meta-data": {"instance-id": "i-1"}}}'
	call PUT /mmds "$small"
	expect_http "PUT /mmds under the limit" 204
	big="{\"latest\": {\"meta-data\": {\"x\": \"$(printf '%0300d' 0)\"}}}"
	call PUT /mmds "$big"
	expect_http "PUT /mmds over --mmds-size-limit" 413 \
		"MMDS limit exceeded error: The MMDS patch request doesn't fit"
	call PATCH /mmds "{\"y\": \"$(printf '%0250d' 0)\"}"
	expect_http "PATCH /mmds whose result is over the limit" 413 "doesn't fit"
	call GET /mmds
	expect_http "GET /mmds: unchanged by the refused requests" 200 '^\{"latest":\{"meta-data":\{"instance-id":"i-1"\}\}\}$'
	call GET /vm/config
	expect_http "GET /vm/config reports mmds-config" 200 \
		'"mmds-config":\{"version":"V2","network_interfaces":\["eth0"\],"ipv4_address":"169.254.170.2","imds_compat":true\}'
	printf '%s' "$BODY" >"$E2E_TMP/vm.json"
	stop
	if python3 "$API_PY/fcapi.py" "$API_PY/firecracker-api-1.17.yaml" "$LOG" \
		>"$E2E_TMP/contract.txt" 2>&1; then
		pass "every response matches the API contract"
	else
		fail "responses against the contract:"
		show_file "$E2E_TMP/contract.txt"
	fi
fi

# ---- --config-file with mmds-config, --metadata FILE ----
python3 - "$E2E_TMP/vm.json" "$TESTGUEST" >"$E2E_TMP/boot.json" <<'PY'
import json, sys
cfg = json.load(open(sys.argv[1]))
cfg["boot-source"] = {"kernel_image_path": sys.argv[2],
                      "boot_args": "console=ttyS0 tg.mem=128 tg.cpus=1 tg.wait=cad"}
json.dump(cfg, sys.stdout)
PY
printf '%s' '{"latest": {"meta-data": {"instance-id": "i-from-file", "tags": {"a": "b"}}}}' \
	>"$E2E_TMP/meta.json"
if start file --id mmds_file --config-file "$E2E_TMP/boot.json" --metadata "$E2E_TMP/meta.json"; then
	call GET /
	expect_http "--config-file with mmds-config: the microVM runs" 200 '"state":"Running"'
	call GET /mmds
	expect_http "--metadata FILE is the data store" 200 '"instance-id":"i-from-file"'
	call GET /vm/config
	expect_http "GET /vm/config: the same mmds-config" 200 \
		'"mmds-config":\{"version":"V2","network_interfaces":\["eth0"\],"ipv4_address":"169.254.170.2","imds_compat":true\}'
	call PUT /mmds/config '{"network_interfaces": ["eth0"]}'
	expect_http "PUT /mmds/config after boot" 400 "not supported after starting"
	stop
fi
finish
