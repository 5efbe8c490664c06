#!/usr/bin/env bash
# virtio-pmem and virtio-mem (PUT /pmem/{id}, /hotplug/memory) end to end
# with the test guest, default seccomp filters: a VM with a read-write and a
# read-only pmem file and hotpluggable memory boots (KVM memory slots above
# RAM), GET /vm/config and GET /hotplug/memory describe them, PATCH
# /hotplug/memory and PATCH /pmem act after boot and refuse bad values, PUTs
# after boot and a snapshot are refused with the reason; the same from a
# --config-file, where a root pmem device puts root=/dev/pmem0 ro on the
# kernel command line. (Linux's drivers exercise them in tests/nested: run
# devices.)
set -u
. "$(dirname "$0")/lib.sh"
require "$EMBER" "$TESTGUEST"
SOCK=$E2E_TMP/api.sock
api() { api_call "$SOCK" "$@"; }
expect() { expect_http "$@"; }

cmdline="console=ttyS0 tg.mem=128 tg.cpus=1"
rw=$E2E_TMP/pmem-rw.img
ro=$E2E_TMP/pmem-ro.img
head -c 3000000 /dev/urandom >"$rw"
printf 'read-only pmem\n' >"$ro"
sum_rw=$(sha256sum <"$rw")
sum_ro=$(sha256sum <"$ro")

e2e_cases=$((e2e_cases + 1))
timeout -k 5 "$E2E_TIMEOUT" "$EMBER" --api-sock "$SOCK" --id devmem </dev/null \
	>"$E2E_TMP/api.out" 2>"$E2E_TMP/api.err" &
PID=$!
if wait_api "$SOCK"; then
	api PUT /pmem/rw "{\"id\": \"rw\", \"path_on_host\": \"$rw\"}"
	expect "PUT /pmem/rw" 204
	api PUT /pmem/ro "{\"id\": \"ro\", \"path_on_host\": \"$ro\", \"read_only\": true}"
	expect "PUT /pmem/ro (read-only)" 204
	api PUT /pmem/ro "{\"id\": \"ro\", \"path_on_host\": \"$ro\", \"read_only\": true, \"root_device\": true}"
	expect "PUT /pmem/ro again (an update, now the root device)" 204
	api PUT /hotplug/memory '{"total_size_mib": 512, "block_size_mib": 2, "slot_size_mib": 128}'
	expect "PUT /hotplug/memory" 204
	api GET /vm/config
	expect "GET /vm/config: pmem" 200 '"pmem":\[\{"id":"rw","path_on_host":"[^"]*","root_device":false,"read_only":false\},\{"id":"ro","path_on_host":"[^"]*","root_device":true,"read_only":true\}\]'
	expect "GET /vm/config: memory-hotplug" 200 '"memory-hotplug":\{"total_size_mib":512,"slot_size_mib":128,"block_size_mib":2\}'
	api PUT /boot-source "{\"kernel_image_path\": \"$TESTGUEST\", \"boot_args\": \"$cmdline tg.virtio=3 tg.wait=cad\"}"
	api PUT /actions '{"action_type": "InstanceStart"}'
	expect "InstanceStart" 204
	if wait_line "$E2E_TMP/api.out" '^TESTGUEST WAITING' 30; then
		pass "the guest runs with pmem and hotplug memory above RAM"
		api GET /hotplug/memory
		expect "GET /hotplug/memory after boot" 200 '^\{"total_size_mib":512,"slot_size_mib":128,"block_size_mib":2,"plugged_size_mib":0,"requested_size_mib":0\}$'
		api PATCH /hotplug/memory '{"requested_size_mib": 256}'
		expect "PATCH /hotplug/memory 256" 204
		api GET /hotplug/memory
		expect "GET /hotplug/memory: requested" 200 '"plugged_size_mib":0,"requested_size_mib":256'
		api PATCH /hotplug/memory '{"requested_size_mib": 3}'
		expect "PATCH /hotplug/memory, not a block multiple" 400 "block_size_mib"
		api PATCH /hotplug/memory '{"requested_size_mib": 1024}'
		expect "PATCH /hotplug/memory, beyond the total" 400 "total_size_mib"
		api PATCH /pmem/rw '{"id": "rw", "rate_limiter": {"ops": {"size": 10, "refill_time": 100}}}'
		expect "PATCH /pmem/rw rate limiter" 204
		api PATCH /pmem/nope '{"id": "nope", "rate_limiter": {}}'
		expect "PATCH /pmem unknown id" 400 "Invalid pmem device ID"
		api GET /vm/config
		expect "GET /vm/config: the patched limiter" 200 '"id":"rw","path_on_host":"[^"]*","root_device":false,"read_only":false,"rate_limiter":\{"ops":\{"size":10'
		api PUT /pmem/x "{\"id\": \"x\", \"path_on_host\": \"$rw\"}"
		expect "PUT /pmem after boot" 400 "not supported after starting"
		api PUT /hotplug/memory '{"total_size_mib": 128}'
		expect "PUT /hotplug/memory after boot" 400 "not supported after starting"
		api PATCH /vm '{"state": "Paused"}'
		api PUT /snapshot/create "{\"snapshot_path\": \"$E2E_TMP/s\", \"mem_file_path\": \"$E2E_TMP/m\"}"
		expect "snapshot with hotplug memory refused with the reason" 400 "hotpluggable memory are not supported"
		api PATCH /vm '{"state": "Resumed"}'
	else
		fail "the guest never reached tg.wait=cad"
		show_file "$E2E_TMP/api.err"
	fi
	api PUT /actions '{"action_type": "SendCtrlAltDel"}'
	wait "$PID"
	RC=$?
	if [ "$RC" -eq 0 ] && grep -qE '^TESTGUEST DONE pass=[1-9][0-9]* fail=0' "$E2E_TMP/api.out"; then
		pass "API run: exit 0, $(grep '^TESTGUEST DONE' "$E2E_TMP/api.out" | tr -d '\r')"
		# The e820 map the guest read names RAM only: device memory is not in it.
		e820=$(tr -d '\r' <"$E2E_TMP/api.out" | awk '/^  e820 / {printf "%s %s;", $2, $3}')
		if [ "$e820" = "0x000000000000-0x00000009fc00 ram;0x00000009fc00-0x000000100000 reserved;0x000000100000-0x000008000000 ram;" ]; then
			pass "e820: RAM and the BIOS hole only, nothing above 128 MiB"
		else
			fail "e820 map: $e820"
		fi
	else
		fail "API run: exit $RC"
		grep -aE '^(FAIL|TESTGUEST DONE)' "$E2E_TMP/api.out" | sed 's/^/      | /'
		show_file "$E2E_TMP/api.err"
	fi
else
	fail "the API socket never accepted"
	kill "$PID" 2>/dev/null
fi
if [ "$(sha256sum <"$rw")" = "$sum_rw" ] && [ "$(sha256sum <"$ro")" = "$sum_ro" ]; then
	pass "the backing files are unchanged (the guest did not write them)"
else
	fail "a backing file changed"
fi

# ---- --config-file ----
cat >"$E2E_TMP/vm.json" <<EOF
{"boot-source": {"kernel_image_path": "$TESTGUEST", "boot_args": "$cmdline tg.virtio=2"},
 "pmem": [{"id": "p0", "path_on_host": "$ro", "read_only": true, "root_device": true}],
 "memory-hotplug": {"total_size_mib": 256}}
EOF
run_ember cfg --no-api --config-file "$E2E_TMP/vm.json"
if [ "$RC" -eq 0 ] && grep -qE '^TESTGUEST DONE pass=[1-9][0-9]* fail=0' "$OUT"; then
	pass "--config-file with pmem and memory-hotplug: exit 0"
	# the root pmem device becomes root=, read-only as configured (Firecracker's rule)
	if tr -d '\r' <"$OUT" | grep -qE '^ok cmdline.text ".* root=/dev/pmem0 ro"$'; then
		pass "root_device pmem: the kernel command line ends in root=/dev/pmem0 ro"
	else
		fail "root_device pmem: $(tr -d '\r' <"$OUT" | grep '^ok cmdline.text')"
	fi
else
	fail "--config-file with pmem and memory-hotplug: exit $RC"
	show_file "$ERR"
fi
cat >"$E2E_TMP/bad.json" <<EOF
{"boot-source": {"kernel_image_path": "$TESTGUEST"},
 "memory-hotplug": {"total_size_mib": 256, "block_size_mib": 5}}
EOF
run_ember cfgbad --no-api --config-file "$E2E_TMP/bad.json"
if [ "$RC" -ne 0 ] && grep -q "block_size_mib" "$ERR"; then
	pass "--config-file with a bad block_size_mib refused: $(head -c 200 "$ERR")"
else
	fail "--config-file with a bad block_size_mib: exit $RC $(cat "$ERR")"
fi
cat >"$E2E_TMP/roots.json" <<EOF
{"boot-source": {"kernel_image_path": "$TESTGUEST"},
 "drives": [{"drive_id": "root", "path_on_host": "$ro", "is_root_device": true, "is_read_only": true}],
 "pmem": [{"id": "p0", "path_on_host": "$ro", "read_only": true, "root_device": true}]}
EOF
run_ember roots --no-api --config-file "$E2E_TMP/roots.json"
if [ "$RC" -ne 0 ] && grep -q "root device already exists" "$ERR"; then
	pass "a root drive and a root pmem refused: $(head -c 200 "$ERR")"
else
	fail "a root drive and a root pmem: exit $RC $(cat "$ERR")"
fi

# ---- a snapshot of a VM with pmem: the file is its memory, mapped again ----
N=40
snap=$E2E_TMP/pm.snap
smem=$E2E_TMP/pm.mem
load_body() { echo "{\"snapshot_path\": \"$snap\", \"mem_backend\": {\"backend_type\": \"File\", \"backend_path\": \"$smem\"}, \"resume_vm\": true}"; }
snap_ember() { # snap_ember NAME: an API-mode ember on $SOCK, output in $E2E_TMP/NAME.*
	rm -f "$SOCK"
	e2e_cases=$((e2e_cases + 1))
	timeout -k 5 "$E2E_TIMEOUT" "$EMBER" --api-sock "$SOCK" </dev/null \
		>"$E2E_TMP/$1.out" 2>"$E2E_TMP/$1.err" &
	PID=$!
	wait_api "$SOCK"
}
last=
if snap_ember pmsnap; then
	api PUT /machine-config '{"vcpu_count": 1, "mem_size_mib": 64}'
	api PUT /boot-source "{\"kernel_image_path\": \"$TESTGUEST\", \"boot_args\": \"console=ttyS0 tg.mem=64 tg.cpus=1 tg.virtio=2 tg.rng=1 tg.count=$N tg.count_spin=20000\"}"
	api PUT /pmem/rw "{\"id\": \"rw\", \"path_on_host\": \"$rw\"}"
	api PUT /entropy '{"rate_limiter": {"bandwidth": {"size": 4096, "refill_time": 100}}}'
	api PUT /actions '{"action_type": "InstanceStart"}'
	expect "snapshot VM with pmem: InstanceStart" 204
	if wait_line "$E2E_TMP/pmsnap.out" '^TESTGUEST COUNT 5' 30; then
		api PATCH /vm '{"state": "Paused"}'
		api PUT /snapshot/create "{\"snapshot_path\": \"$snap\", \"mem_file_path\": \"$smem\"}"
		expect "snapshot of a paused VM with a read-write pmem device" 204
		last=$(tr -d '\r' <"$E2E_TMP/pmsnap.out" | sed -n 's/^TESTGUEST COUNT \([0-9]*\)$/\1/p' | tail -n 1)
	else
		fail "the pmem VM never counted to 5"
	fi
	kill -9 "$PID" 2>/dev/null
	wait "$PID" 2>/dev/null
fi
if [ -n "$last" ] && snap_ember pmload; then
	api PUT /snapshot/load "$(load_body)"
	expect "load of the pmem snapshot into a fresh ember" 204
	api GET /vm/config
	expect "the loaded VM has its pmem device" 200 '"pmem":\[\{"id":"rw","path_on_host":"[^"]*pmem-rw.img","root_device":false,"read_only":false\}\]'
	expect "... and its entropy device" 200 '"entropy":\{"rate_limiter":\{"bandwidth":\{"size":4096'
	wait "$PID"
	RC=$?
	out=$(tr -d '\r' <"$E2E_TMP/pmload.out")
	if [ "$RC" -eq 0 ] && grep -q "^ok count.done counted to $N" <<<"$out" &&
		grep -qE '^TESTGUEST DONE pass=[1-9][0-9]* fail=0$' <<<"$out"; then
		pass "the restored guest went on from count $last to $N with its pmem device: $(grep '^TESTGUEST DONE' <<<"$out")"
	else
		fail "the restored pmem VM: exit $RC, $(grep -aE "^(FAIL|fail|TESTGUEST DONE|ok count)" <<<"$out" | head -n 4 | tr "\n" " ")"
		show_file "$E2E_TMP/pmload.err"
	fi
	# the file is the device's memory: another size is another device
	printf x >>"$rw"
	if snap_ember pmbad; then
		api PUT /snapshot/load "$(load_body)"
		expect "load after the pmem file changed size refused" 400 "pmem"
		grep -q "pmem rw: the file is 3000001 bytes" "$E2E_TMP/pmbad.err" ||
			fail "no log line naming the pmem size change: $(tail -n 3 "$E2E_TMP/pmbad.err")"
		kill "$PID" 2>/dev/null
		wait "$PID" 2>/dev/null
	fi
	truncate -s 3000000 "$rw"
fi

# ---- ember run --pmem / --mem-hotplug ----
run_ember cli run --kernel "$TESTGUEST" --cmdline "$cmdline tg.virtio=3" --pmem "$ro,ro,root" \
	--pmem "$rw,id=data" --mem-hotplug 512M,block=4M,slot=256M,requested=64M --log-level info
if [ "$RC" -eq 0 ] && grep -qE '^TESTGUEST DONE pass=[1-9][0-9]* fail=0' "$OUT"; then
	pass "ember run with two --pmem and --mem-hotplug: exit 0, 3 virtio devices"
	if tr -d '\r' <"$OUT" | grep -qE '^ok cmdline.text ".* root=/dev/pmem0 ro"$'; then
		pass "--pmem PATH,ro,root: the kernel command line ends in root=/dev/pmem0 ro"
	else
		fail "--pmem PATH,ro,root: $(tr -d '\r' <"$OUT" | grep '^ok cmdline.text')"
	fi
	if grep -q "memory-hotplug: 512 MiB at 0x[0-9a-f]* in 4 MiB blocks, 64 MiB requested" "$ERR"; then
		pass "--mem-hotplug 512M,block=4M,slot=256M,requested=64M: $(grep -o 'memory-hotplug: .*' "$ERR")"
	else
		fail "--mem-hotplug: $(grep 'memory-hotplug' "$ERR")"
	fi
else
	fail "ember run --pmem --mem-hotplug: exit $RC"
	show_file "$ERR"
fi
if [ "$(sha256sum <"$rw")" = "$sum_rw" ] && [ "$(sha256sum <"$ro")" = "$sum_ro" ]; then
	pass "the backing files are unchanged after ember run"
else
	fail "a backing file changed under ember run"
fi
# bad flags: exit 1 and the reason on one line
cli_bad() {
	local want=$1
	shift
	run_ember clibad run --kernel "$TESTGUEST" "$@"
	if [ "$RC" -eq 1 ] && grep -q -- "$want" "$ERR" && [ "$(wc -l <"$ERR")" -le 2 ]; then
		pass "ember run $*: refused ($(head -c 160 "$ERR"))"
	else
		fail "ember run $*: exit $RC, $(head -c 300 "$ERR") (want '$want')"
	fi
}
cli_bad "expected PATH first" --pmem ,ro
cli_bad "unknown option 'rw'" --pmem "$ro,rw"
cli_bad "at most" $(for i in $(seq 0 8); do printf -- '--pmem %s,ro,id=p%d ' "$ro" "$i"; done)
cli_bad "path_on_host" --pmem "$E2E_TMP/none"
cli_bad "root device already exists" --disk "$ro,ro" --pmem "$ro,ro,root"
cli_bad "total_size_mib: 100 is not a positive multiple" --mem-hotplug 100M
cli_bad "block_size_mib: 3 is not a power of two" --mem-hotplug 256M,block=3M
cli_bad "requested_size_mib: 3 is not a multiple" --mem-hotplug 256M,requested=3M
cli_bad "requested_size_mib: 512 is not a multiple" --mem-hotplug 256M,requested=512M
cli_bad "is not a whole number of MiB" --mem-hotplug 256M,slot=1000
cli_bad "given twice" --mem-hotplug 256M --mem-hotplug 128M
finish
