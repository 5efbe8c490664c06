#!/usr/bin/env bash
# valgrind --leak-check=full over a full API-driven life of the test guest:
# logger, metrics, machine-config, boot-source, a drive, vsock, balloon,
# InstanceStart, a vsock echo connection, pause/resume, a drive swap, the
# balloon target and statistics, FlushMetrics, SendCtrlAltDel, exit 0 — and
# no definite or indirect leak, no memory error (valgrind's exit status 99
# otherwise). valgrind cannot pass seccomp() through, so this one ember runs
# with --no-seccomp. Skipped when valgrind is missing and for ASan builds.
set -u
. "$(dirname "$0")/lib.sh"
require "$EMBER" "$TESTGUEST"
# valgrind cannot replace malloc in a static binary (ember is one, see the
# Makefile): it checks the same objects linked dynamically (make e2e builds it)
if ! readelf -l "$EMBER" 2>/dev/null | grep -q INTERP; then
	if [ ! -e "$BUILD/tests/ember-dynamic" ]; then
		echo "  FAIL missing $BUILD/tests/ember-dynamic (build it first: make e2e)"
		exit 1
	fi
	cp "$BUILD/tests/ember-dynamic" "$E2E_TMP/ember-dynamic" && EMBER=$E2E_TMP/ember-dynamic || exit 1
fi
API_PY=$(dirname "$0")/api
SOCK=$E2E_TMP/api.sock
VG_TIMEOUT=${VG_TIMEOUT:-300}
WAIT_S=120

if ! command -v valgrind >/dev/null; then
	echo "  skip: valgrind is not installed"
	exit 0
fi
# ASan and valgrind do not mix (make check-asan runs this script too)
if grep -qa __asan_init "$EMBER"; then
	echo "  skip: $EMBER is an AddressSanitizer build"
	exit 0
fi

wait_until() {
	local end=$(($(date +%s) + $1))
	shift
	until "$@"; do
		[ "$(date +%s)" -ge "$end" ] && return 1
		sleep 0.1
	done
}

api() {
	local code
	code=$(curl -sS --max-time 60 --unix-socket "$SOCK" -X "$1" -H 'Content-Type: application/json' \
		${3:+-d "$3"} -o "$E2E_TMP/resp.json" -w '%{http_code}' "http://localhost$2")
	case "$code" in
	2??) return 0 ;;
	esac
	fail "$1 $2: HTTP $code $(cat "$E2E_TMP/resp.json" 2>/dev/null)"
	return 1
}

disk=$E2E_TMP/disk.img
disk2=$E2E_TMP/disk2.img
truncate -s 1M "$disk"
truncate -s 2M "$disk2"
OUT=$E2E_TMP/vg.stdout
ERR=$E2E_TMP/vg.stderr
e2e_cases=$((e2e_cases + 1))
timeout -k 5 "$VG_TIMEOUT" valgrind --leak-check=full --show-leak-kinds=definite,indirect \
	--errors-for-leak-kinds=definite,indirect --error-exitcode=99 --child-silent-after-fork=yes \
	"$EMBER" --api-sock "$SOCK" --id vg --no-seccomp --level Info \
	--metrics-path "$E2E_TMP/metrics.json" </dev/null >"$OUT" 2>"$ERR" &
PID=$!
if ! python3 -c "import sys; sys.path.insert(0, '$API_PY'); import fcapi; \
sys.exit(0 if fcapi.wait_for_socket('$SOCK', 60) else 1)"; then
	fail "the API socket never accepted under valgrind"
	show_file "$ERR"
	kill "$PID" 2>/dev/null
	wait "$PID" 2>/dev/null
	finish
fi
api PUT /logger "{\"log_path\": \"$E2E_TMP/ember.log\", \"level\": \"Debug\"}"
api PUT /machine-config '{"vcpu_count": 2, "mem_size_mib": 128}'
api PUT /boot-source "{\"kernel_image_path\": \"$TESTGUEST\", \"boot_args\": \"console=ttyS0 tg.mem=128 tg.cpus=2 tg.virtio=3 tg.blk=1 tg.balloon=1 tg.vsock=1 tg.vsock_cid=3 tg.wait=cad\"}"
api PUT /drives/rootfs "{\"drive_id\": \"rootfs\", \"path_on_host\": \"$disk\", \"is_root_device\": true, \"is_read_only\": false}"
api PUT /vsock "{\"guest_cid\": 3, \"uds_path\": \"$E2E_TMP/v.sock\"}"
api PUT /balloon '{"amount_mib": 16, "deflate_on_oom": true, "stats_polling_interval_s": 1}'
api GET /vm/config
api PUT /actions '{"action_type": "InstanceStart"}'
# the guest's vsock echo server (port 5000): one connection through ember
if wait_until $WAIT_S grep -q "ok vsock0.listen" "$OUT" &&
	! python3 - "$E2E_TMP/v.sock" <<'PY'; then
import os, socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.settimeout(60)
s.connect(sys.argv[1])
s.sendall(b"CONNECT 5000\n")
line = b""
while not line.endswith(b"\n"):
    c = s.recv(1)
    if not c:
        sys.exit("no reply to CONNECT")
    line += c
data = os.urandom(20000)
s.sendall(data)
s.shutdown(socket.SHUT_WR)
got = b""
while True:
    chunk = s.recv(65536)
    if not chunk:
        break
    got += chunk
sys.exit(0 if got == data else "echo: %d of %d bytes" % (len(got), len(data)))
PY
	fail "vsock echo through the guest failed"
fi
if wait_until $WAIT_S grep -q "TESTGUEST WAITING" "$OUT"; then
	api PATCH /vm '{"state": "Paused"}'
	api PATCH /vm '{"state": "Resumed"}'
	api PATCH /drives/rootfs "{\"drive_id\": \"rootfs\", \"path_on_host\": \"$disk2\"}"
	api GET /machine-config
	api PATCH /balloon '{"amount_mib": 8}'
	api GET /balloon/statistics
	api PUT /actions '{"action_type": "FlushMetrics"}'
	api PUT /actions '{"action_type": "SendCtrlAltDel"}'
else
	fail "the guest never reached its Ctrl-Alt-Del wait under valgrind"
	show_file "$OUT"
	kill -TERM "$PID" 2>/dev/null
fi
wait "$PID"
RC=$?
summary=$(grep -E 'All heap blocks were freed|definitely lost|indirectly lost|ERROR SUMMARY' "$ERR" |
	sed 's/^==[0-9]*== *//; s/ (suppressed.*//' | tr '\n' ';')
if [ "$RC" -eq 99 ]; then
	fail "valgrind found errors or leaks: $summary"
	grep -E '^==[0-9]+== (Invalid|Conditional|Use of|[0-9,]+ bytes in)' -A8 "$ERR" | head -n 80 |
		sed 's/^/      | /'
elif [ "$RC" -ne 0 ]; then
	fail "ember under valgrind exited $RC$([ "$RC" -eq 124 ] && echo ' (timed out)')"
	show_file "$ERR" 30
elif ! grep -q '^ok wait.cad' <(tr -d '\r' <"$OUT") || grep -q '^FAIL' "$OUT"; then
	fail "the guest did not finish cleanly: $(grep -E '^(FAIL|TESTGUEST DONE)' "$OUT" | tr '\n' ' ')"
else
	pass "API-driven boot (blk, vsock echo, balloon), pause/resume, drive swap, Ctrl-Alt-Del under valgrind: exit 0, $summary"
fi
finish
