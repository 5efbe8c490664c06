#!/usr/bin/env bash
# Snapshots through the Firecracker API: the test guest counts in memory and
# over the serial port (tg.count), with a virtio-blk drive live; it is paused,
# snapshotted (Full), ember is killed (SIGKILL), a fresh ember loads the
# snapshot and the guest continues from the exact count to its end (the
# report's pass count comes from restored memory): the original's output and
# the restored one's together are one consecutive count, also when the pause
# fell in the middle of a line. Also: create refused while
# running, load refused after configuration and after a load, resume_vm false
# leaves it paused, and hostile state files (truncated, corrupted, wrong
# magic/version/arch, garbage, a short memory file) are refused with 400
# while ember stays up and still loads a good snapshot afterwards.
set -u
. "$(dirname "$0")/lib.sh"
require "$EMBER" "$TESTGUEST"
API_PY=$(dirname "$0")/api
SOCK=$E2E_TMP/api.sock

# api EXPECTED METHOD PATH [JSON]: body in $BODY.
api() {
	local exp=$1 m=$2 p=$3 code
	if [ $# -ge 4 ]; then
		code=$(curl -sS --max-time 30 --unix-socket "$SOCK" -X "$m" \
			-H 'Content-Type: application/json' -d "$4" -o "$E2E_TMP/body" \
			-w '%{http_code}' "http://localhost$p")
	else
		code=$(curl -sS --max-time 30 --unix-socket "$SOCK" -X "$m" -o "$E2E_TMP/body" \
			-w '%{http_code}' "http://localhost$p")
	fi
	BODY=$(cat "$E2E_TMP/body" 2>/dev/null)
	if [ "$code" != "$exp" ]; then
		fail "$m $p: HTTP $code, expected $exp: $BODY"
		return 1
	fi
}

# kill_ember: SIGKILL to ember itself ($PID is its timeout(1) wrapper, which
# does not pass SIGKILL on: killing only the wrapper left a paused ember behind).
kill_ember() {
	pkill -9 -P "$PID" 2>/dev/null
	kill -9 "$PID" 2>/dev/null
	wait "$PID" 2>/dev/null
}

stop_ember() {
	kill "$PID" 2>/dev/null
	wait "$PID" 2>/dev/null
}

# counts FILE...: the COUNT numbers in the guest's output, one per line. The
# FILEs are one stream: a snapshot can be taken in the middle of a line (the
# guest writes byte by byte), and the restored guest prints the rest of it,
# so a restored run's output continues its original's. A last line without
# its newline (still being written) is left out.
counts() {
	cat "$@" >"$E2E_TMP/stream"
	if [ -n "$(tail -c 1 "$E2E_TMP/stream")" ]; then
		sed '$d' "$E2E_TMP/stream"
	else
		cat "$E2E_TMP/stream"
	fi | tr -d '\r' | sed -n 's/^TESTGUEST COUNT \([0-9]*\)$/\1/p'
}

# consecutive FIRST FILE...: the counts of the stream go FIRST, FIRST+1, ...
# without a gap or a repeat (and there is at least one).
consecutive() {
	local first=$1
	shift
	counts "$@" | awk -v want="$first" '$1 != want { bad = 1; exit } { want++ } END { exit (bad || !NR) }'
}

disk=$E2E_TMP/disk.img
truncate -s 1M "$disk"
SNAP=$E2E_TMP/vm.snap
MEM=$E2E_TMP/vm.mem
N=60
boot_args="console=ttyS0 tg.mem=64 tg.cpus=1 tg.virtio=1 tg.blk=1 tg.count=$N tg.count_spin=20000"
load_body() { # load_body SNAPSHOT MEMFILE RESUME
	echo "{\"snapshot_path\": \"$1\", \"mem_backend\": {\"backend_type\": \"File\", \"backend_path\": \"$2\"}, \"resume_vm\": $3}"
}

# ---- 1. count, pause, snapshot, kill ----
if start_api orig; then
	api 400 PUT /snapshot/create "{\"snapshot_path\": \"$SNAP\", \"mem_file_path\": \"$MEM\"}"
	api 204 PUT /machine-config '{"vcpu_count": 1, "mem_size_mib": 64}'
	api 204 PUT /boot-source "{\"kernel_image_path\": \"$TESTGUEST\", \"boot_args\": \"$boot_args\"}"
	api 204 PUT /drives/rootfs "{\"drive_id\": \"rootfs\", \"path_on_host\": \"$disk\", \"is_root_device\": true, \"is_read_only\": false}"
	api 400 PUT /snapshot/load "$(load_body "$SNAP" "$MEM" true)" &&
		grep -q 'not allowed after configuring' <<<"$BODY" || fail "load after configuration: $BODY"
	api 204 PUT /actions '{"action_type": "InstanceStart"}'
	if ! wait_line "$OUT" '^TESTGUEST COUNT 10' 30; then
		fail "the guest never counted to 10"
		show_file "$OUT"
	fi
	api 400 PUT /snapshot/create "{\"snapshot_path\": \"$SNAP\", \"mem_file_path\": \"$MEM\"}" &&
		grep -q 'must be paused' <<<"$BODY" || fail "create while running: $BODY"
	api 204 PATCH /vm '{"state": "Paused"}'
	api 400 PUT /snapshot/create "{\"snapshot_path\": \"$SNAP\", \"mem_file_path\": \"$MEM\", \"snapshot_type\": \"Incremental\"}"
	api 400 PUT /snapshot/create "{\"snapshot_path\": \"$SNAP\", \"mem_file_path\": \"$MEM\", \"snapshot_type\": \"Diff\"}" &&
		grep -q 'dirty page tracking' <<<"$BODY" || fail "Diff without tracking: $BODY"
	t0=$(now_ms)
	api 204 PUT /snapshot/create "{\"snapshot_path\": \"$SNAP\", \"mem_file_path\": \"$MEM\", \"snapshot_type\": \"Full\"}"
	echo "      create: $(($(now_ms) - t0)) ms, state $(stat -c %s "$SNAP") bytes, memory file $(stat -c %s "$MEM") bytes ($(du -k "$MEM" | cut -f1) KiB on disk)"
	kill_ember
	mem_sum=$(sha256sum <"$MEM")
	last=$(counts "$OUT" | tail -1)
	ORIG=$OUT
	if [ -z "$last" ] || [ "$last" -ge "$N" ]; then
		fail "no usable count before the snapshot (last: '${last}')"
	elif ! consecutive 1 "$OUT"; then
		fail "the original run did not count consecutively"
	else
		pass "paused at count $last, snapshot taken, ember killed"
	fi
fi

# ---- 2. load into a fresh ember, resume, continue from the exact count ----
if [ -n "${last:-}" ] && start_api restored; then
	t0=$(now_ms)
	api 204 PUT /snapshot/load "$(load_body "$SNAP" "$MEM" true)"
	echo "      load + resume: $(($(now_ms) - t0)) ms (API round trip)"
	api 400 PUT /snapshot/load "$(load_body "$SNAP" "$MEM" true)"
	api 200 GET / && grep -q '"state":"Running"' <<<"$BODY" || fail "GET / after load: $BODY"
	wait "$PID"
	RC=$?
	out=$(tr -d '\r' <"$OUT")
	if [ "$RC" -ne 0 ]; then
		fail "restored ember exited $RC"
		show_file "$ERR"
		show_file "$OUT"
	elif ! consecutive 1 "$ORIG" "$OUT" || [ "$(counts "$ORIG" "$OUT" | tail -n 1)" -le "$last" ]; then
		fail "the restored guest did not continue from $((last + 1)): $(counts "$OUT" | head -3 | tr '\n' ' ')"
		show_file "$OUT"
	elif ! grep -q "^ok count.done counted to $N" <<<"$out" ||
		! grep -qE '^TESTGUEST DONE pass=[1-9][0-9]* fail=0$' <<<"$out"; then
		fail "the restored guest did not finish cleanly"
		show_file "$OUT"
	else
		pass "restored guest continued at $((last + 1)), counted to $N, $(grep '^TESTGUEST DONE' <<<"$out")"
	fi
	# File backend: the memory file is mapped copy-on-write, never written
	if [ "$(sha256sum <"$MEM")" = "$mem_sum" ]; then
		pass "the memory file is unchanged after the restored guest ran to its end (MAP_PRIVATE)"
	else
		fail "the restored guest's writes reached the memory file"
	fi
fi

# ---- 3. resume_vm false: paused until PATCH /vm; a Full snapshot of the
# loaded VM equals its memory file but for a new VM generation ID ----
if start_api paused; then
	api 204 PUT /snapshot/load "$(load_body "$SNAP" "$MEM" false)"
	api 200 GET / && grep -q '"state":"Paused"' <<<"$BODY" || fail "GET / after load: $BODY"
	if [ -s "$OUT" ]; then
		fail "the guest ran before resume: $(head -c 60 "$OUT")"
	fi
	api 400 PUT /snapshot/create "{\"snapshot_path\": \"$E2E_TMP/again.snap\", \"mem_file_path\": \"$MEM\"}" &&
		grep -q 'loaded from' <<<"$BODY" || fail "Full snapshot over its own memory file: $BODY"
	api 204 PUT /snapshot/create "{\"snapshot_path\": \"$E2E_TMP/again.snap\", \"mem_file_path\": \"$E2E_TMP/again.mem\"}"
	# Equal but for the VM generation ID (16 bytes at 0xff000), new at every load
	genid_diff=$(cmp -l "$MEM" "$E2E_TMP/again.mem" | awk '$1 <= 1044480 || $1 > 1044496 { o++ } END { print NR - o, o + 0 }')
	if [ "$genid_diff" = "0 0" ] || [ "${genid_diff#* }" != 0 ]; then
		fail "a Full snapshot of the restored, never-run VM: (generation ID bytes, other bytes) that differ from its memory file: $genid_diff"
	fi
	api 204 PATCH /vm '{"state": "Resumed"}'
	# (count last+1 may be the rest of a line the original had begun)
	if wait_line "$OUT" "^TESTGUEST COUNT $((last + 2))([^0-9]|$)" 60 &&
		consecutive 1 "$ORIG" "$OUT"; then
		pass "resume_vm false: paused after load, counts from $((last + 1)) once resumed"
	else
		fail "no count $((last + 2)) after resume or not consecutive; the output starts:"
		head -n 3 "$OUT" | sed 's/^/      | /'
	fi
	stop_ember
fi

# ---- 3b. working set (ember extension): a load records the pages its
# guest touched (written at its exit), a later load prefetches them; both
# continue from the exact count to the end; a corrupted set is refused ----
WS=$E2E_TMP/vm.ws
ws_body() { # ws_body RECORD
	echo "{\"snapshot_path\": \"$SNAP\", \"mem_backend\": {\"backend_type\": \"File\", \"backend_path\": \"$MEM\"}, \"resume_vm\": true, \"working_set\": {\"path\": \"$WS\", \"record\": $1}}"
}
if [ -n "${last:-}" ] && start_api wsrec; then
	rm -f "$WS"
	api 204 PUT /snapshot/load "$(ws_body true)"
	wait "$PID"
	rec=$(sed -n 's/.*working set: \([0-9]*\) page(s) in \([0-9]*\) run(s) to .*/\1 \2/p' "$ERR")
	if ! consecutive 1 "$ORIG" "$OUT" || ! grep -q '^TESTGUEST DONE pass=[1-9][0-9]* fail=0' "$OUT"; then
		fail "working set recording: the guest did not continue to its end"
		show_file "$ERR"
	elif [ -z "$rec" ] || [ "${rec%% *}" -lt 2 ] || [ ! -s "$WS" ]; then
		fail "working set recording: no set written ('$rec')"
		show_file "$ERR"
	elif start_api wspre; then
		api 204 PUT /snapshot/load "$(ws_body false)"
		wait "$PID"
		pre=$(sed -n 's/.*working set: \([0-9]*\) page(s) in .* prefetched.*/\1/p' "$ERR")
		if [ "$pre" = "${rec%% *}" ] && consecutive 1 "$ORIG" "$OUT" &&
			grep -q '^TESTGUEST DONE pass=[1-9][0-9]* fail=0' "$OUT"; then
			pass "working set: ${rec%% *} page(s) in ${rec##* } run(s) recorded, prefetched by the next load, which continued at $((last + 1)) to the end"
		else
			fail "working set prefetch: '$pre' page(s) prefetched (recorded ${rec%% *}) or the guest did not finish"
			show_file "$ERR"
		fi
	fi
	if start_api wsbad; then
		printf 'X' | dd of="$WS" bs=1 seek=40 conv=notrunc status=none
		api 400 PUT /snapshot/load "$(ws_body false)" && grep -q 'working set file' <<<"$BODY" ||
			fail "a corrupted working set: $BODY"
		api 400 PUT /snapshot/load "$(echo "$(ws_body false)" | sed 's/"File"/"Uffd"/')" &&
			grep -q 'File memory backend' <<<"$BODY" || fail "working set with Uffd: $BODY"
		api 204 PUT /snapshot/load "$(load_body "$SNAP" "$MEM" true)" || fail "a good load after the refused working set"
		stop_ember
	fi
fi

# ---- 3a. four clones from one snapshot at once (the memory file shared
# copy-on-write): each continues from the exact count to the end ----
if [ -n "${last:-}" ]; then
	clones=()
	SOCK0=$SOCK
	for i in 1 2 3 4; do
		SOCK=$E2E_TMP/clone$i.sock
		if start_api "clone$i"; then
			api 204 PUT /snapshot/load "$(load_body "$SNAP" "$MEM" true)"
			clones+=("$PID")
		fi
	done
	SOCK=$SOCK0
	ok=0
	for i in 1 2 3 4; do
		wait "${clones[$((i - 1))]}"
		rc=$?
		o=$E2E_TMP/clone$i.stdout
		if [ "$rc" -eq 0 ] && consecutive 1 "$ORIG" "$o" &&
			tr -d '\r' <"$o" | grep -qE '^TESTGUEST DONE pass=[1-9][0-9]* fail=0$'; then
			ok=$((ok + 1))
		else
			fail "clone $i: exit $rc"
			show_file "$o" 5
		fi
	done
	[ "$ok" -eq 4 ] && pass "4 clones from one snapshot ran at once, each continued at $((last + 1)) to the end"
fi

# ---- 3c. ember pool: 3 clones of one snapshot, each its own API socket,
# vsock path and console file; the memory they share and their private pages
# reported; the pool exits 0 once every clone's guest has finished ----
if [ -n "${last:-}" ]; then
	e2e_cases=$((e2e_cases + 1))
	timeout -k 5 "$E2E_TIMEOUT" "$EMBER" pool --snapshot "$SNAP" --mem-file "$MEM" --count 3 \
		--api-sock-template "$E2E_TMP/pool%d.sock" --stdout-template "$E2E_TMP/pool%d.out" \
		>"$E2E_TMP/pool.out" 2>"$E2E_TMP/pool.err"
	rc=$?
	ok=0
	for i in 0 1 2; do
		consecutive 1 "$ORIG" "$E2E_TMP/pool$i.out" &&
			tr -d '\r' <"$E2E_TMP/pool$i.out" | grep -qE '^TESTGUEST DONE pass=[1-9][0-9]* fail=0$' &&
			ok=$((ok + 1))
	done
	if [ "$rc" -eq 0 ] && [ "$ok" = 3 ] &&
		[ "$(grep -c '^ember pool: clone [0-2]: pid [0-9]*, API .*pool[0-2].sock, private [0-9]* KiB, shared [0-9]* KiB$' "$E2E_TMP/pool.out")" = 3 ] &&
		grep -q '^ember pool: 3 clones of .*: private [0-9]* KiB in all' "$E2E_TMP/pool.out"; then
		pass "ember pool: 3 clones continued at $((last + 1)) to the end; $(grep '^ember pool: 3 clones' "$E2E_TMP/pool.out" | sed 's/^ember pool: 3 clones of [^:]*: //')"
	else
		fail "ember pool: exit $rc, $ok of 3 clones continued to the end"
		show_file "$E2E_TMP/pool.out"
		show_file "$E2E_TMP/pool.err"
	fi
	"$EMBER" pool --snapshot "$SNAP" --mem-file "$MEM" --count 2 --api-sock-template "$E2E_TMP/x.sock" \
		>/dev/null 2>"$E2E_TMP/pool-bad.err" && fail "ember pool: a template without %d accepted"
	grep -q 'needs exactly one %d' "$E2E_TMP/pool-bad.err" || fail "ember pool: $(cat "$E2E_TMP/pool-bad.err")"
fi

# ---- 3b. Uffd backend: Firecracker's handshake with the reference handler ----
UFFD=${UFFD_HANDLER:-$BUILD/tools/uffd_handler}
USOCK=$E2E_TMP/uffd.sock
if [ ! -x "$UFFD" ]; then
	fail "missing $UFFD (make all builds it)"
elif [ -n "${last:-}" ]; then
	timeout -k 5 "$E2E_TIMEOUT" "$UFFD" "$USOCK" "$MEM" >"$E2E_TMP/uffd.out" 2>&1 &
	HPID=$!
	if ! wait_line "$E2E_TMP/uffd.out" '^uffd_handler: ready' 10; then
		fail "the uffd handler did not start: $(cat "$E2E_TMP/uffd.out")"
	elif start_api uffd; then
		api 204 PUT /snapshot/load "{\"snapshot_path\": \"$SNAP\", \"mem_backend\": {\"backend_type\": \"Uffd\", \"backend_path\": \"$USOCK\"}, \"resume_vm\": true}"
		wait "$PID"
		RC=$?
		wait "$HPID"
		served=$(sed -n 's/^uffd_handler: \([0-9]*\) page(s) served.*/\1/p' "$E2E_TMP/uffd.out")
		if [ "$RC" -ne 0 ] || ! consecutive 1 "$ORIG" "$OUT" ||
			! tr -d '\r' <"$OUT" | grep -qE '^TESTGUEST DONE pass=[1-9][0-9]* fail=0$'; then
			fail "Uffd load: exit $RC"
			show_file "$OUT"
			show_file "$ERR"
			show_file "$E2E_TMP/uffd.out"
		elif [ -z "$served" ] || [ "$served" -eq 0 ]; then
			fail "Uffd load: the handler served no page: $(cat "$E2E_TMP/uffd.out")"
		else
			pass "Uffd backend: the handler served $served page(s); the guest continued at $((last + 1)) to the end"
		fi
	fi
	kill "$HPID" 2>/dev/null
	wait "$HPID" 2>/dev/null
fi

# ---- 4. Diff over a Full base: only the dirtied pages, restores the same ----
BSNAP=$E2E_TMP/base.snap BMEM=$E2E_TMP/base.mem DSNAP=$E2E_TMP/diff.snap DMEM=$E2E_TMP/diff.mem
if start_api diff; then
	api 204 PUT /machine-config '{"vcpu_count": 1, "mem_size_mib": 64, "track_dirty_pages": true}'
	api 204 PUT /boot-source "{\"kernel_image_path\": \"$TESTGUEST\", \"boot_args\": \"$boot_args\"}"
	api 204 PUT /drives/rootfs "{\"drive_id\": \"rootfs\", \"path_on_host\": \"$disk\", \"is_root_device\": true, \"is_read_only\": false}"
	api 204 PUT /actions '{"action_type": "InstanceStart"}'
	wait_line "$OUT" '^TESTGUEST COUNT 5' 30 || fail "diff: the guest never counted to 5"
	api 204 PATCH /vm '{"state": "Paused"}'
	api 204 PUT /snapshot/create "{\"snapshot_path\": \"$BSNAP\", \"mem_file_path\": \"$BMEM\", \"snapshot_type\": \"Full\"}"
	base_last=$(counts "$OUT" | tail -1)
	api 204 PATCH /vm '{"state": "Resumed"}'
	wait_line "$OUT" "^TESTGUEST COUNT $((base_last + 5))([^0-9]|$)" 30 || fail "diff: no count after the base"
	api 204 PATCH /vm '{"state": "Paused"}'
	cp --sparse=always "$BMEM" "$DMEM"
	t0=$(now_ms)
	api 204 PUT /snapshot/create "{\"snapshot_path\": \"$DSNAP\", \"mem_file_path\": \"$DMEM\", \"snapshot_type\": \"Diff\"}"
	echo "      Diff: $(($(now_ms) - t0)) ms; $(grep -o '[0-9]* dirty page(s) of [0-9]*' "$ERR" | tail -1) written"
	kill_ember
	diff_last=$(counts "$OUT" | tail -1)
	DORIG=$OUT
	if ! grep -q 'dirty page(s)' "$ERR"; then
		fail "diff: no Diff snapshot logged"
	elif start_api diff_restored; then
		api 204 PUT /snapshot/load "$(load_body "$DSNAP" "$DMEM" true)"
		wait "$PID"
		RC=$?
		if [ "$RC" -ne 0 ] || ! consecutive 1 "$DORIG" "$OUT" ||
			! tr -d '\r' <"$OUT" | grep -qE '^TESTGUEST DONE pass=[1-9][0-9]* fail=0$'; then
			fail "Diff over the base (paused at $diff_last, base at $base_last): exit $RC"
			show_file "$OUT"
			show_file "$ERR"
		else
			pass "Diff over a Full base (count $base_last -> $diff_last) restored: continued at $((diff_last + 1)) to the end"
		fi
	fi
fi

# ---- 4b. Diff of a restored VM (track_dirty_pages at load) over its base ----
if [ -n "${diff_last:-}" ] && start_api diff2; then
	api 204 PUT /snapshot/load "{\"snapshot_path\": \"$DSNAP\", \"mem_backend\": {\"backend_type\": \"File\", \"backend_path\": \"$DMEM\"}, \"track_dirty_pages\": true, \"resume_vm\": true}"
	wait_line "$OUT" "^TESTGUEST COUNT $((diff_last + 4))([^0-9]|$)" 30 || fail "diff2: no count after the load"
	api 204 PATCH /vm '{"state": "Paused"}'
	cp --sparse=always "$DMEM" "$DMEM.2"
	api 204 PUT /snapshot/create "{\"snapshot_path\": \"$DSNAP.2\", \"mem_file_path\": \"$DMEM.2\", \"snapshot_type\": \"Diff\"}"
	kill_ember
	d2_last=$(counts "$DORIG" "$OUT" | tail -1)
	D2ORIG=$OUT
	if start_api diff2_restored; then
		api 204 PUT /snapshot/load "$(load_body "$DSNAP.2" "$DMEM.2" true)"
		wait "$PID"
		RC=$?
		if [ "$RC" -ne 0 ] || ! consecutive 1 "$DORIG" "$D2ORIG" "$OUT" ||
			! tr -d '\r' <"$OUT" | grep -qE '^TESTGUEST DONE pass=[1-9][0-9]* fail=0$'; then
			fail "Diff of a restored VM (paused at $d2_last): exit $RC"
			show_file "$OUT"
		else
			pass "Diff of a restored VM (count $diff_last -> $d2_last) restored: continued at $((d2_last + 1)) to the end"
		fi
	fi
fi

# ---- 5. hostile state files: 400, ember stays up, a good load still works ----
python3 - "$SNAP" "$E2E_TMP" <<'EOF'
import struct, sys, zlib
snap, d = sys.argv[1], sys.argv[2]
b = open(snap, 'rb').read()
def hdr(body, version=1, arch=1, magic=b'EMBERSNP'):
    h = magic + struct.pack('<IIQI', version, arch, len(body), zlib.crc32(body))
    return h + struct.pack('<I', zlib.crc32(h))
body = b[32:]
cases = {
    'empty': b'',
    'short': b[:20],
    'truncated': b[:len(b) // 2],
    'flipped': b[:len(b) // 2] + bytes([b[len(b) // 2] ^ 0x40]) + b[len(b) // 2 + 1:],
    'magic': hdr(body, magic=b'FIRECRKR') + body,
    'version': hdr(body, version=99) + body,
    'arch': hdr(body, arch=2) + body,
    'garbage': bytes(range(256)) * 40,
    # valid CRCs, a section length that runs past the end
    'overrun': hdr(body[:8] + struct.pack('<I', 0xffffff00) + body[12:]) + body[:8] + struct.pack('<I', 0xffffff00) + body[12:],
    # valid container, sections missing (only the first one kept)
    'missing': None,
}
tag, idx, ln, crc = struct.unpack('<IIII', body[:16])
first = body[:16 + ((ln + 7) & ~7)]
cases['missing'] = hdr(first) + first
for k, v in cases.items():
    open(f'{d}/bad-{k}.snap', 'wb').write(v)
EOF
truncate -s 1M "$E2E_TMP/short.mem"
if start_api hostile; then
	bad=0
	for k in empty short truncated flipped magic version arch garbage overrun missing; do
		if ! api 400 PUT /snapshot/load "$(load_body "$E2E_TMP/bad-$k.snap" "$MEM" true)"; then
			bad=1
		elif ! grep -q 'Load snapshot error: ' <<<"$BODY"; then
			fail "$k: no clear message: $BODY"
			bad=1
		fi
		echo "      $k: $BODY"
	done
	api 400 PUT /snapshot/load "$(load_body "$SNAP" "$E2E_TMP/short.mem" true)" &&
		grep -q 'shorter than' <<<"$BODY" || { fail "short memory file: $BODY"; bad=1; }
	api 400 PUT /snapshot/load "$(load_body "$SNAP" "$E2E_TMP/nonexistent" true)" || bad=1
	api 400 PUT /snapshot/load "{\"snapshot_path\": \"$SNAP\", \"mem_backend\": {\"backend_type\": \"Uffd\", \"backend_path\": \"$E2E_TMP/no-handler.sock\"}}" || bad=1
	api 400 PUT /snapshot/load "{\"snapshot_path\": \"$SNAP\", \"mem_backend\": {\"backend_type\": \"File\", \"backend_path\": \"$MEM\"}, \"network_overrides\": [{\"iface_id\": \"eth9\", \"host_dev_name\": \"tap9\"}]}" || bad=1
	api 400 PUT /snapshot/load "{\"snapshot_path\": \"$SNAP\", \"mem_file_path\": \"$MEM\", \"mem_backend\": {\"backend_type\": \"File\", \"backend_path\": \"$MEM\"}}" || bad=1
	api 200 GET / && grep -q '"state":"Not started"' <<<"$BODY" || { fail "after bad loads: $BODY"; bad=1; }
	api 204 PUT /snapshot/load "{\"snapshot_path\": \"$SNAP\", \"mem_file_path\": \"$MEM\", \"resume_vm\": true}" || bad=1
	wait_line "$OUT" "^TESTGUEST COUNT $((last + 2))([^0-9]|$)" 60 && consecutive 1 "$ORIG" "$OUT" || {
		fail "no count $((last + 2)) after the good load or not consecutive; the output starts:"
		head -n 3 "$OUT" | sed 's/^/      | /'
		bad=1
	}
	[ "$bad" = 0 ] && pass "hostile state files refused with 400, then a good load ran"
	stop_ember
fi
finish
