#!/usr/bin/env bash
# virtio-net end to end: a private network namespace with a TAP (tap0,
# 172.16.0.1/24, IPv6 off), a host peer in it (python: an AF_PACKET socket
# watching tap0 and a UDP socket on 172.16.0.1:5000 that answers
# "ember-host-pong"), and ember running the test guest in the namespace with
# `--net tap0,mac=...`. The guest (firmware/testguest/check_virtio_net.c)
# sends an ARP request, which the host kernel answers, then a UDP datagram,
# which the peer answers. Checked on both sides: the guest's report, and
# what the host saw (the ARP request from the configured MAC, the datagram's
# payload and source). Needs root (ip netns).
set -u
. "$(dirname "$0")/lib.sh"
require "$EMBER" "$TESTGUEST"

if [ "$(id -u)" -ne 0 ] || ! command -v ip >/dev/null || [ ! -c /dev/net/tun ]; then
	fail "needs root, iproute2 and /dev/net/tun"
	finish
fi

MAC=06:00:ac:10:00:02
ns=ember-e2e-net-$$
peer_out=$E2E_TMP/peer.txt
peer_pid=
cleanup() {
	[ -n "$peer_pid" ] && kill "$peer_pid" 2>/dev/null
	ip netns del "$ns" 2>/dev/null
	e2e_cleanup
}
trap cleanup EXIT

nsx() { ip netns exec "$ns" "$@"; }
if ! { ip netns add "$ns" &&
	nsx sysctl -qw net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1 &&
	nsx ip link set lo up &&
	nsx ip tuntap add dev tap0 mode tap &&
	nsx ip addr add 172.16.0.1/24 dev tap0 &&
	nsx ip link set tap0 up; }; then
	fail "could not set up namespace $ns with tap0"
	finish
fi

# The host peer: prints READY once both sockets are bound, then records the
# ARP request(s) and the UDP datagram, answers it, and exits (bounded).
mkfifo "$E2E_TMP/peer.fifo"
nsx python3 -u - "$MAC" >"$E2E_TMP/peer.fifo" <<'PY' &
import select, socket, sys, time
mac = sys.argv[1]
raw = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(0x0806))
raw.bind(("tap0", 0))
udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
udp.bind(("172.16.0.1", 5000))
print("READY", flush=True)
deadline = time.monotonic() + 120
got_udp = False
while time.monotonic() < deadline and not got_udp:
    r, _, _ = select.select([raw, udp], [], [], 1)
    if raw in r:
        f, addr = raw.recvfrom(2048)
        if addr[2] != socket.PACKET_OUTGOING and len(f) >= 42 and f[20:22] == b"\x00\x01":
            src = ":".join("%02x" % b for b in f[6:12])
            tip = ".".join(str(b) for b in f[38:42])
            print("arp_request src=%s who_has=%s" % (src, tip), flush=True)
    if udp in r:
        data, peer = udp.recvfrom(2048)
        print("udp from=%s:%d payload=%s" % (peer[0], peer[1], data.decode(errors="replace")),
              flush=True)
        udp.sendto(b"ember-host-pong", peer)
        got_udp = True
print("DONE", flush=True)
PY
peer_pid=$!
exec {peer_fd}<"$E2E_TMP/peer.fifo"
if ! read -r -t 20 -u "$peer_fd" line || [ "$line" != READY ]; then
	fail "host peer did not start"
	finish
fi
# Keep collecting the peer's lines in a file while ember runs.
cat <&"$peer_fd" >"$peer_out" &
cat_pid=$!
exec {peer_fd}<&-

# run_ember runs $EMBER: make that ember inside the namespace.
printf '#!/bin/sh\nexec ip netns exec %s %s "$@"\n' "$ns" "$EMBER" >"$E2E_TMP/ember-in-ns"
chmod +x "$E2E_TMP/ember-in-ns"
EMBER=$E2E_TMP/ember-in-ns
console=$E2E_TMP/console.txt
cmdline="tg.mem=256 tg.cpus=1 tg.virtio=1 tg.net=1"
run_ember net run --kernel "$TESTGUEST" --mem 256M --cpus 1 \
	--console "file:$console" --cmdline "$cmdline" --net "tap0,mac=$MAC"
out=$(tr -d '\r' <"$console" 2>/dev/null)
kill "$peer_pid" 2>/dev/null
wait "$cat_pid" 2>/dev/null
peer=$(cat "$peer_out" 2>/dev/null)

if [ "$RC" -ne 0 ]; then
	fail "ember exited $RC$([ "$RC" -eq 124 ] && echo ' (timed out)') after ${MS} ms"
	show_file "$console"
	show_file "$ERR" 10
elif ! grep -qE '^TESTGUEST DONE pass=[1-9][0-9]* fail=0$' <<<"$out" || grep -q '^FAIL' <<<"$out"; then
	fail "guest reported failures: $(grep '^TESTGUEST DONE' <<<"$out")"
	grep -E '^FAIL' <<<"$out" | sed 's/^/      | /'
else
	missing=""
	for r in virtio.slots virtio.slot0 net0.init net0.arp net0.udp net0.status net.count; do
		grep -q "^ok $r " <<<"$out" || missing="$missing $r"
	done
	grep -q "^ok net0.init .*mac=$MAC" <<<"$out" || missing="$missing net0.init(mac=$MAC)"
	if [ -n "$missing" ]; then
		fail "results missing from the report:$missing"
	else
		pass "guest: $(grep '^TESTGUEST DONE' <<<"$out") in ${MS} ms"
		pass "guest: $(grep '^ok net0.arp' <<<"$out" | cut -c1-160)"
		pass "guest: $(grep '^ok net0.udp' <<<"$out" | cut -c1-160)"
	fi
fi

# The host side saw the guest's frames.
if grep -q "^arp_request src=$MAC who_has=172.16.0.1$" <<<"$peer"; then
	pass "host: ARP request from $MAC for 172.16.0.1"
else
	fail "host: no ARP request from $MAC seen on tap0"
	sed 's/^/      | /' <<<"$peer"
fi
if grep -q "^udp from=172.16.0.2:4000 payload=ember-tg-net-ping$" <<<"$peer"; then
	pass "host: UDP datagram 172.16.0.2:4000 \"ember-tg-net-ping\""
else
	fail "host: the guest's UDP datagram did not arrive"
	sed 's/^/      | /' <<<"$peer"
fi

finish
