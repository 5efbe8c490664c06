#!/usr/bin/env bash
# Firecracker process mode flags: --version, --no-api with --config-file
# (boots at once, exit 0), --boot-timer and the logger flags, --metrics-path,
# and every start-up error (socket path taken, bad flags, bad config file)
# answered with exit status 1 and one line naming the problem.
set -u
. "$(dirname "$0")/lib.sh"
require "$EMBER" "$TESTGUEST"
SOCK=$E2E_TMP/api.sock

# expect_err NAME NEEDLE ARGS...: exit status 1 and NEEDLE on stderr.
expect_err() {
	local name=$1 needle=$2
	shift 2
	run_ember "$name" "$@"
	if [ "$RC" -ne 1 ] || ! grep -qF -- "$needle" "$ERR"; then
		fail "$name: exit $RC, stderr: $(head -c 300 "$ERR")"
	else
		pass "$name: $(head -n 1 "$ERR")"
	fi
}

# Firecracker's shape first (Kata parses the first line's second word as the
# version and needs >= 0.21.1), then ember's own version.
run_ember version --version
if [ "$RC" -eq 0 ] && head -n 1 "$OUT" | grep -qxE 'Firecracker v[0-9]+\.[0-9]+\.[0-9]+' &&
	sed -n 2p "$OUT" | grep -qE '^ember v[0-9]+\.[0-9]+'; then
	pass "--version: $(head -n 1 "$OUT") / $(sed -n 2p "$OUT")"
else
	fail "--version: exit $RC, $(head -c 200 "$OUT")"
fi

: >"$SOCK.taken"
expect_err socket_exists "already exists" --api-sock "$SOCK.taken"
expect_err no_api_needs_config "--no-api needs --config-file" --no-api
expect_err bad_level "--level" --api-sock "$SOCK" --level Loud
expect_err bad_id "Invalid instance ID" --api-sock "$SOCK" --id 'no spaces allowed'
expect_err unknown_flag "unknown argument" --api-sock "$SOCK" --frobnicate
expect_err seccomp_both "mutually exclusive" --api-sock "$SOCK" --seccomp-filter /etc/hostname \
	--no-seccomp
expect_err seccomp_missing "--seccomp-filter" --api-sock "$SOCK" --seccomp-filter /nonexistent
expect_err config_missing "--config-file" --no-api --config-file /nonexistent.json
echo '{"boot-source": {"kernel_image_path": "/k"}, "machine-config": {"vcpu_count": 1, "mem_size_mib": 128, "vcpus": 2}}' \
	>"$E2E_TMP/unknown.json"
expect_err config_unknown_field "machine-config.vcpus" --no-api --config-file "$E2E_TMP/unknown.json"
echo '{"boot-source": {"kernel_image_path": "/k"}' >"$E2E_TMP/broken.json"
expect_err config_not_json "invalid JSON" --no-api --config-file "$E2E_TMP/broken.json"
echo '{"boot-source": {"kernel_image_path": "/nonexistent/k"}}' >"$E2E_TMP/nokernel.json"
expect_err config_no_kernel "kernel_image_path" --no-api --config-file "$E2E_TMP/nokernel.json"
[ -e "$SOCK" ] && fail "a failed start left $SOCK behind"

# --no-api --config-file: boots at once; --boot-timer logs the guest's marker
cat >"$E2E_TMP/vm.json" <<EOF
{
  "boot-source": {"kernel_image_path": "$TESTGUEST", "boot_args": "console=ttyS0 tg.mem=128 tg.cpus=1"},
  "machine-config": {"vcpu_count": 1, "mem_size_mib": 128},
  "drives": [],
  "network-interfaces": []
}
EOF
run_ember no_api --no-api --config-file "$E2E_TMP/vm.json" --boot-timer --level Info \
	--show-level --log-path "$E2E_TMP/log.txt" --metrics-path "$E2E_TMP/metrics.json" --id noapi
if [ "$RC" -eq 0 ] && grep -qE '^TESTGUEST DONE pass=[1-9][0-9]* fail=0' <(tr -d '\r' <"$OUT"); then
	pass "--no-api --config-file booted the guest, exit 0 in ${MS} ms"
else
	fail "--no-api --config-file: exit $RC"
	show_file "$OUT"
	show_file "$ERR"
fi
# Firecracker's line: ISO-8601 local time (ns), [id:thread:LEVEL] with --show-level
# (the boot timer is a vCPU's write: that thread logs it)
if grep -qE '^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]{9} \[noapi:fc_vcpu 0:INFO\] Guest-boot-time = ' "$E2E_TMP/log.txt"; then
	pass "--boot-timer: $(grep -o 'Guest-boot-time.*' "$E2E_TMP/log.txt" | head -n 1)"
else
	fail "--boot-timer/--log-path: no boot time in the log: $(head -c 300 "$E2E_TMP/log.txt")"
fi
if python3 -c "
import json, sys
l = [json.loads(x) for x in open(sys.argv[1]) if x.strip()]
assert l and 'vcpu' in l[-1] and 'utc_timestamp_ms' in l[-1]
assert sum(x['vcpu']['exit_io_out'] for x in l) >= 0
" "$E2E_TMP/metrics.json"; then
	pass "--metrics-path: metrics flushed at exit"
else
	fail "--metrics-path: $(head -c 300 "$E2E_TMP/metrics.json")"
fi
finish
