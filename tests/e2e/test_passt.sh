#!/usr/bin/env bash
# virtio-net's stream backend (passt) end to end, without root: the test
# guest (firmware/testguest/check_virtio_net.c) does its ARP + UDP exchange
# with tests/e2e/passt_peer.py, a stand-in speaking passt's protocol:
#  - `--net passt,mac=..,forward=8022:22`: ember starts "passt" (the peer,
#    through EMBER_PASST) with --fd and -t 8022:22; the peer sees EOF and
#    exits when the VM ends;
#  - `--net passt-socket=PATH`: ember connects to a peer listening there;
#  - `--config-file` with "passt_socket" (the API extension);
#  - one-line errors: no passt on PATH, nothing listening at the socket, a
#    passt that exits (or is killed) before it is set up (its -P PID file);
#  - `ember jail` as an ordinary user: one line, it must run as root.
# The real passt is exercised in tests/nested (runs/passt.sh).
set -u
. "$(dirname "$0")/lib.sh"
require "$EMBER" "$TESTGUEST"

PEER=$(cd "$(dirname "$0")" && pwd)/passt_peer.py
MAC=06:00:ac:10:00:02
cmdline="console=ttyS0 tg.mem=128 tg.cpus=1 tg.virtio=1 tg.net=1"

# guest_ok NAME CONSOLE PEERLOG: the guest's exchange worked, both sides.
guest_ok() {
	local out peer missing=""
	out=$(tr -d '\r' <"$2" 2>/dev/null)
	peer=$(cat "$3" 2>/dev/null)
	if [ "$RC" -ne 0 ]; then
		fail "$1: ember exited $RC after ${MS} ms"
		show_file "$2"
		show_file "$ERR" 10
		return
	fi
	for r in net0.init net0.arp net0.udp net0.status; do
		grep -q "^ok $r " <<<"$out" || missing="$missing $r"
	done
	if [ -n "$missing" ] || ! grep -qE '^TESTGUEST DONE pass=[1-9][0-9]* fail=0$' <<<"$out"; then
		fail "$1: guest results missing:$missing $(grep '^TESTGUEST DONE' <<<"$out")"
		grep -E '^FAIL' <<<"$out" | sed 's/^/      | /'
		return
	fi
	pass "$1: guest $(grep '^ok net0.udp' <<<"$out" | cut -c1-120) (${MS} ms)"
	if grep -q "^arp_request src=$MAC who_has=172.16.0.1$" <<<"$peer" &&
		grep -q "^udp from=172.16.0.2:4000 payload=ember-tg-net-ping$" <<<"$peer"; then
		pass "$1: the peer saw the guest's ARP request and UDP datagram"
	else
		fail "$1: the peer did not see the guest's frames"
		sed 's/^/      | /' <<<"$peer"
	fi
}

# ---- ember starts passt ----
log=$E2E_TMP/spawn.log
: >"$log"
export PASST_PEER_LOG=$log
EMBER_PASST=$PEER run_ember spawn run --kernel "$TESTGUEST" --mem 128M --cpus 1 \
	--console "file:$E2E_TMP/spawn.console" --cmdline "$cmdline" \
	--net "passt,mac=$MAC,forward=8022:22"
guest_ok "--net passt" "$E2E_TMP/spawn.console" "$log"
if grep -qE '^args --foreground --quiet --fd [0-9]+ -t 8022:22 -P /[^ ]+/pid$' "$log"; then
	pass "--net passt: $(grep '^args' "$log")"
else
	fail "--net passt: passt's arguments: $(grep '^args' "$log")"
fi
# The VM ended, so ember's end of the socket closed: the peer exits.
if wait_line "$log" '^EOF$' 10; then
	pass "--net passt: passt saw the end of the stream when the VM ended"
else
	fail "--net passt: passt did not see the stream end"
fi

# ---- a passt the user started ----
sock=$E2E_TMP/passt.sock
log=$E2E_TMP/listen.log
: >"$log"
PASST_PEER_LOG=$log python3 "$PEER" --listen "$sock" &
peer_pid=$!
if wait_line "$log" '^READY$' 10; then
	run_ember socket run --kernel "$TESTGUEST" --mem 128M --cpus 1 \
		--console "file:$E2E_TMP/socket.console" --cmdline "$cmdline" \
		--net "passt-socket=$sock,mac=$MAC"
	guest_ok "--net passt-socket" "$E2E_TMP/socket.console" "$log"
else
	fail "the peer never listened"
fi
wait_line "$log" '^EOF$' 10 || fail "--net passt-socket: the peer did not see the end"
kill "$peer_pid" 2>/dev/null
wait "$peer_pid" 2>/dev/null

# ---- the API extension, through --config-file ----
sock=$E2E_TMP/passt2.sock
log=$E2E_TMP/cfg.log
: >"$log"
PASST_PEER_LOG=$log python3 "$PEER" --listen "$sock" &
peer_pid=$!
cat >"$E2E_TMP/vm.json" <<JSON
{"boot-source": {"kernel_image_path": "$TESTGUEST", "boot_args": "$cmdline"},
 "machine-config": {"vcpu_count": 1, "mem_size_mib": 128},
 "network-interfaces": [{"iface_id": "net0", "guest_mac": "$MAC", "passt_socket": "$sock"}]}
JSON
if wait_line "$log" '^READY$' 10; then
	run_ember cfg --no-api --config-file "$E2E_TMP/vm.json"
	guest_ok "passt_socket (config file)" "$OUT" "$log"
else
	fail "the peer never listened"
fi
kill "$peer_pid" 2>/dev/null
wait "$peer_pid" 2>/dev/null

# ---- one-line errors before anything boots ----
# A PATH with what run_ember needs and no passt.
mkdir -p "$E2E_TMP/bin" && ln -s "$(command -v timeout)" "$(command -v date)" "$E2E_TMP/bin/"
PATH=$E2E_TMP/bin run_ember nopasst run --kernel "$TESTGUEST" --net passt
if [ "$RC" -eq 1 ] && [ "$(wc -l <"$ERR")" -eq 1 ] && grep -q "no passt on PATH" "$ERR"; then
	pass "no passt: $(cat "$ERR")"
else
	fail "no passt: exit $RC, $(cat "$ERR")"
fi
run_ember nosock run --kernel "$TESTGUEST" --net "passt-socket=$E2E_TMP/nothing.sock"
if [ "$RC" -eq 1 ] && [ "$(wc -l <"$ERR")" -eq 1 ] && grep -q "nothing.sock: connect" "$ERR"; then
	pass "no passt at the socket: $(cat "$ERR")"
else
	fail "no passt at the socket: exit $RC, $(cat "$ERR")"
fi
# A passt that exits at start-up (a bad option, no user `nobody` as root, ...)
# fails the run: its own message, then ember's line with its status, exit 1,
# the guest never runs (the console stays empty).
cat >"$E2E_TMP/passt-dies" <<'SH'
#!/bin/sh
echo "passt: unrecognized option '--fd'" >&2
exit 1
SH
chmod +x "$E2E_TMP/passt-dies"
mkdir -p "$E2E_TMP/tmp"
TMPDIR=$E2E_TMP/tmp EMBER_PASST=$E2E_TMP/passt-dies run_ember dies run --kernel "$TESTGUEST" --mem 128M \
	--console "file:$E2E_TMP/dies.console" --cmdline "$cmdline" --net passt
if [ "$RC" -eq 1 ] && grep -q "^passt: unrecognized option" "$ERR" &&
	grep -q "passt-dies exited with status 1 at start-up" "$ERR" && [ "$(wc -l <"$ERR")" -eq 2 ] &&
	[ ! -s "$E2E_TMP/dies.console" ]; then
	pass "passt exits at start-up: $(tail -n 1 "$ERR") (${MS} ms)"
else
	fail "passt exits at start-up: exit $RC, console $(wc -c <"$E2E_TMP/dies.console" 2>/dev/null) bytes"
	show_file "$ERR"
fi
# ... killed by a signal before it is set up: the same
cat >"$E2E_TMP/passt-killed" <<'SH'
#!/bin/sh
kill -KILL $$
SH
chmod +x "$E2E_TMP/passt-killed"
TMPDIR=$E2E_TMP/tmp EMBER_PASST=$E2E_TMP/passt-killed run_ember killed run --kernel "$TESTGUEST" --mem 128M \
	--console "file:$E2E_TMP/killed.console" --cmdline "$cmdline" --net passt
if [ "$RC" -eq 1 ] && grep -q "passt-killed was killed by signal 9 at start-up" "$ERR" &&
	[ "$(wc -l <"$ERR")" -eq 1 ]; then
	pass "passt killed at start-up: $(cat "$ERR")"
else
	fail "passt killed at start-up: exit $RC, $(cat "$ERR")"
fi
# nothing left behind in TMPDIR (the FIFO passt writes its PID to)
if [ -z "$(ls -A "$E2E_TMP/tmp")" ]; then
	pass "passt: its PID FIFO and directory removed from TMPDIR"
else
	fail "passt: left in TMPDIR: $(ls -A "$E2E_TMP/tmp")"
fi
echo '{"boot-source": {"kernel_image_path": "'"$TESTGUEST"'"}, "network-interfaces": [{"iface_id": "n", "host_dev_name": "tap0", "passt_socket": "/x"}]}' >"$E2E_TMP/both.json"
run_ember both --no-api --config-file "$E2E_TMP/both.json"
if [ "$RC" -eq 1 ] && grep -q "one backend only" "$ERR"; then
	pass "TAP and passt at once: $(head -1 "$ERR")"
else
	fail "TAP and passt at once: exit $RC, $(cat "$ERR")"
fi

# ---- the jailer stays root-only, and says so ----
if command -v setpriv >/dev/null; then
	# a copy the ordinary user can run ($E2E_TMP is private)
	pub=$(mktemp -d) && chmod 755 "$pub" && cp "$EMBER" "$pub/ember"
	setpriv --reuid=65534 --regid=65534 --clear-groups "$pub/ember" jail --id passt-e2e \
		--exec-file "$pub/ember" --uid 1000 --gid 1000 -- --api-sock "$pub/jail.sock" \
		</dev/null >"$E2E_TMP/jailuser.out" 2>"$E2E_TMP/jailuser.err"
	RC=$?
	rm -rf "$pub"
	if [ "$RC" -eq 1 ] && [ "$(wc -l <"$E2E_TMP/jailuser.err")" -eq 1 ] &&
		grep -q "must run as root" "$E2E_TMP/jailuser.err"; then
		pass "ember jail as uid 65534: $(cat "$E2E_TMP/jailuser.err")"
	else
		fail "ember jail as uid 65534: exit $RC, $(cat "$E2E_TMP/jailuser.err")"
	fi
fi

finish
