#!/usr/bin/env bash
# ember as a drop-in for Firecracker's orchestrators: `make install
# DESTDIR=...` installs ember with `firecracker` and `jailer` symlinks, then
# the exact request sequences (or config files) of firecracker-go-sdk, Kata
# Containers, flintlock and E2B are replayed against the installed
# `firecracker` and the test guest (tests/e2e/api/orchestrators.py says what
# each one sends and where that comes from), and the `jailer` name runs
# ember's jailer with Firecracker's jailer command line.
set -u
. "$(dirname "$0")/lib.sh"
require "$EMBER" "$TESTGUEST"
export FC_API_SPEC=${FC_API_SPEC:-$(cd "$(dirname "$0")" && pwd)/api/firecracker-api-1.17.yaml}
API_PY=$(dirname "$0")/api

# ---- make install DESTDIR=... ----
# `make install` is the build, then install-files; the files of the binary
# under test (a sanitizer build too), without building anything here.
DEST=$E2E_TMP/dest
e2e_cases=$((e2e_cases + 1))
if ! make --no-print-directory -s install-files DESTDIR="$DEST" PREFIX=/usr EMBER="$EMBER" \
	>"$E2E_TMP/install.log" 2>&1; then
	fail "make install-files DESTDIR: $(tail -n 3 "$E2E_TMP/install.log")"
	finish
fi
BIN=$DEST/usr/bin
if [ -x "$BIN/ember" ] && [ "$(readlink "$BIN/firecracker")" = ember ] &&
	[ "$(readlink "$BIN/jailer")" = ember ]; then
	pass "make install DESTDIR: usr/bin/ember, firecracker -> ember, jailer -> ember"
else
	fail "make install DESTDIR: $(ls -l "$BIN" 2>&1 | tr '\n' ' ')"
	finish
fi

# ---- the names: firecracker and jailer behave as those programs ----
out=$("$BIN/firecracker" --version 2>&1)
if [ "$(sed -n 1p <<<"$out")" = "Firecracker v1.17.0" ] && sed -n 2p <<<"$out" | grep -q '^ember v'; then
	pass "firecracker --version: $(echo $out)"
else
	fail "firecracker --version: $out"
fi
"$BIN/firecracker" --api-sock "$E2E_TMP/ver.sock" >/dev/null 2>"$E2E_TMP/ver.err" &
vpid=$!
if python3 -c "import sys; sys.path.insert(0, '$API_PY'); import fcapi; sys.exit(0 if fcapi.wait_for_socket('$E2E_TMP/ver.sock') else 1)" &&
	body=$(curl -s --max-time 5 --unix-socket "$E2E_TMP/ver.sock" http://localhost/version) &&
	[ "$body" = '{"firecracker_version":"1.17.0"}' ] &&
	root=$(curl -s --max-time 5 --unix-socket "$E2E_TMP/ver.sock" http://localhost/) &&
	grep -q '"vmm_version":"[0-9]' <<<"$root"; then
	pass "firecracker: GET /version $body (the API version implemented); GET / keeps ember's vmm_version"
else
	fail "firecracker: GET /version '${body:-}', GET / '${root:-}'"
fi
kill -TERM "$vpid" 2>/dev/null
wait "$vpid"
rc=$?
[ "$rc" -eq 143 ] && pass "firecracker: SIGTERM -> killed by SIGTERM after clean-up (wait: 143)" ||
	fail "firecracker: exit $rc after SIGTERM, expected 143"
out=$("$BIN/jailer" --version 2>&1)
[ "$(sed -n 1p <<<"$out")" = "Jailer v1.17.0" ] && pass "jailer --version: $(echo $out)" ||
	fail "jailer --version: $out"
# jailer: Firecracker's jailer command line, option names exactly
out=$("$BIN/jailer" --id x --exec-file "$BIN/firecracker" --uid 0 --gid 0 --frobnicate 2>&1)
rc=$?
if [ "$rc" -ne 0 ] && grep -q "unknown option '--frobnicate'" <<<"$out"; then
	pass "jailer: Firecracker's jailer command line parsed by ember jail ($out)"
else
	fail "jailer: exit $rc: $out"
fi
if [ "$(id -u)" -eq 0 ]; then
	base=$E2E_TMP/jail
	mkdir -p "$base"
	cp "$TESTGUEST" "$E2E_TMP/tg.elf"
	cat >"$E2E_TMP/jvm.json" <<JSON
{"boot-source": {"kernel_image_path": "/tg.elf", "boot_args": "console=ttyS0 tg.mem=64 tg.cpus=1"},
 "machine-config": {"vcpu_count": 1, "mem_size_mib": 64}}
JSON
	for run in 1 2; do # the same --id again once the first has exited
	e2e_cases=$((e2e_cases + 1))
	timeout -k 5 "$E2E_TIMEOUT" "$BIN/jailer" --id orch-jail --exec-file "$BIN/firecracker" \
		--uid 0 --gid 0 --chroot-base-dir "$base" --copy-in "$E2E_TMP/tg.elf=/tg.elf" \
		--copy-in "$E2E_TMP/jvm.json=/vm.json" -- --no-api --config-file /vm.json \
		>"$E2E_TMP/jail.out" 2>"$E2E_TMP/jail.err" </dev/null
	rc=$?
	if [ "$rc" -eq 0 ] && grep -q '^TESTGUEST DONE pass=[1-9][0-9]* fail=0' <(tr -d '\r' <"$E2E_TMP/jail.out") &&
		[ -e "$base/firecracker/orch-jail/root/firecracker" ]; then
		pass "jailer --exec-file .../firecracker (run $run): jailed as firecracker (chroot $base/firecracker/orch-jail/root), the guest booted, exit 0"
	else
		fail "jailer (run $run): exit $rc: $(tail -n 3 "$E2E_TMP/jail.err")"
		show_file "$E2E_TMP/jail.out" 5
	fi
	done
else
	echo "  note: not root: the jailed run is not tested here (test_jail.sh needs root too)"
fi

# ---- the orchestrators' request sequences ----
for s in gosdk containerd kata flint e2b; do
	e2e_cases=$((e2e_cases + 1))
	python3 "$API_PY/orchestrators.py" "$BIN" "$TESTGUEST" "$E2E_TMP" "$s" ||
		e2e_failures=$((e2e_failures + 1))
done
finish
