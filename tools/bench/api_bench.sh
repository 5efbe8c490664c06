#!/usr/bin/env bash
# API benchmark (issue 4):
#   - process start -> API socket accepting (`ember --api-sock`), wall and CPU
#     ms, median of API_BENCH_STARTS runs (default 20), measured from outside
#     by tools/bench/boot_probe.c (t0 = right before execve);
#   - latency of GET /machine-config and PUT /drives/{id} over
#     API_BENCH_REQUESTS sequential requests each (default 10000) on one
#     keep-alive connection (tools/bench/api_latency.c): p50/p90/p99/max and
#     requests per second. Every request crosses the API thread, the eventfd
#     mailbox and the VMM thread, like a real client's; PUT /drives also
#     parses and validates the JSON body and opens the backing file;
#   - under abuse (issue 19): GET / from a new client (new connection per
#     request, timed from connect) while a flood keeps 1,000 connections
#     coming and held, and while 100 slowloris clients trickle headers;
#     API_BENCH_ABUSE_REQUESTS probes each (default 100).
set -u
BUILD=${BUILD:-build}
STARTS=${API_BENCH_STARTS:-20}
REQS=${API_BENCH_REQUESTS:-10000}
ABUSE_REQS=${API_BENCH_ABUSE_REQUESTS:-100}
EMBER=$BUILD/ember
DIR=$(dirname "$0")
PROBE=$BUILD/bench/boot_probe
CLIENT=$BUILD/bench/api_latency

[ -x "$EMBER" ] || { echo "api: $EMBER missing (run 'make' first)"; exit 1; }
mkdir -p "$BUILD/bench"
for pair in "$PROBE:$DIR/boot_probe.c" "$CLIENT:$DIR/api_latency.c"; do
	bin=${pair%%:*}
	src=${pair#*:}
	if [ ! -x "$bin" ] || [ "$src" -nt "$bin" ]; then
		${CC:-cc} -O2 -Wall -Wextra -Werror -o "$bin" "$src" || exit 1
	fi
done

TMP=$(mktemp -d /tmp/ember-api-bench.XXXXXX)
SOCK=$TMP/api.sock
PID=
LPID=
cleanup() {
	[ -n "$LPID" ] && kill "$LPID" 2>/dev/null
	[ -n "$PID" ] && kill "$PID" 2>/dev/null && wait "$PID" 2>/dev/null
	rm -rf "$TMP"
}
trap cleanup EXIT

# stat FILE KEY: "median min max" of KEY=value over the lines of FILE.
stat() {
	grep -o "\b$2=[0-9.-]*" "$1" | cut -d= -f2 | sort -g |
		awk '{v[NR] = $1} END {
			if (NR == 0) { print "0 0 0"; exit }
			m = (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2
			print m, v[1], v[NR] }'
}
ms() { stat "$1" "$2" | awk '{ printf "%6.2f ms  [%.2f..%.2f]", $1 / 1000, $2 / 1000, $3 / 1000 }'; }
field() { grep -o "\b$2=[0-9.]*" "$1" | head -n 1 | cut -d= -f2; }

# ---- start-up ----
"$PROBE" api "$SOCK" -- "$EMBER" --api-sock "$SOCK" >/dev/null 2>"$TMP/err" ||
	{ echo "api: 'ember --api-sock' does not start: $(tail -n 2 "$TMP/err")"; exit 1; }
for ((i = 0; i < STARTS; i++)); do
	rm -f "$SOCK"
	"$PROBE" api "$SOCK" -- "$EMBER" --api-sock "$SOCK" >>"$TMP/start.txt" 2>>"$TMP/err" || true
done
echo "Start-up: ember --api-sock SOCK, $(grep -c . "$TMP/start.txt") runs, median [min..max]"
echo "  process start -> API socket accepting"
echo "    wall                $(ms "$TMP/start.txt" wall_api_us)"
echo "    CPU                 $(ms "$TMP/start.txt" cpu_api_us)   (Firecracker's bar: 8 CPU ms; aim: 2)"

# ---- latency ----
rm -f "$SOCK"
"$EMBER" --api-sock "$SOCK" --level Warning </dev/null >"$TMP/ember.out" 2>"$TMP/ember.err" &
PID=$!
python3 - "$SOCK" <<'PY' || { echo "api: socket never came up"; exit 1; }
import socket, sys, time
end = time.monotonic() + 10
while time.monotonic() < end:
    try:
        s = socket.socket(socket.AF_UNIX); s.connect(sys.argv[1]); s.close(); sys.exit(0)
    except OSError:
        time.sleep(0.005)
sys.exit(1)
PY
disk=$TMP/disk.img
truncate -s 1M "$disk"
drive="{\"drive_id\": \"rootfs\", \"path_on_host\": \"$disk\", \"is_root_device\": true, \"is_read_only\": false}"
# warm-up, not counted
"$CLIENT" "$SOCK" 200 GET /machine-config >/dev/null || exit 1
"$CLIENT" "$SOCK" "$REQS" GET /machine-config >"$TMP/get.txt" || exit 1
"$CLIENT" "$SOCK" "$REQS" PUT /drives/rootfs "$drive" >"$TMP/put.txt" || exit 1
echo "Latency: $REQS sequential requests on one keep-alive connection (send -> full response)"
for t in get:"GET /machine-config" put:"PUT /drives/rootfs"; do
	f=$TMP/${t%%:*}.txt
	printf "  %-22s p50 %6.1f us  p90 %6.1f us  p99 %6.1f us  max %7.1f us  %6.0f req/s\n" \
		"${t#*:}" "$(field "$f" p50_us)" "$(field "$f" p90_us)" "$(field "$f" p99_us)" \
		"$(field "$f" max_us)" "$(field "$f" rps)"
done

# ---- under abuse ----
# load MODE: a load generator in the background (LPID) once it is running.
load() {
	rm -f "$TMP/ready"
	python3 - "$SOCK" "$1" "$TMP/ready" <<'PY' &
import resource, socket, sys, threading, time
sock, mode, ready = sys.argv[1:4]
h = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
resource.setrlimit(resource.RLIMIT_NOFILE, (min(h, 8192), h))
def conn():
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.connect(sock)
    return s
if mode == "flood":  # 1,000 connections opened and held, again and again
    while True:
        held = []
        for _ in range(1000):
            try:
                held.append(conn())
            except OSError:
                pass
            if len(held) == 64:
                open(ready, "w").close()
        for s in held:
            s.close()
else:  # 100 slowloris clients, a header byte each every 100 ms
    slow = []
    while True:
        while len(slow) < 100:
            s = conn()
            s.sendall(b"GET / HTTP/1.1\r\nX-Slow: ")
            slow.append(s)
        open(ready, "w").close()
        alive = []
        for s in slow:
            try:
                s.send(b"a")
                alive.append(s)
            except OSError:
                s.close()
        slow = alive
        time.sleep(0.1)
PY
	LPID=$!
	for ((i = 0; i < 1000; i++)); do
		[ -e "$TMP/ready" ] && break
		sleep 0.01
	done
}
echo "Under abuse: GET / from a new client (connect -> full response), $ABUSE_REQS requests"
for mode in flood slow; do
	load "$mode"
	"$CLIENT" -c "$SOCK" "$ABUSE_REQS" GET / >"$TMP/abuse_$mode.txt" ||
		echo "  $mode: the probe failed"
	kill "$LPID"
	wait "$LPID" 2>/dev/null
	LPID=
	f=$TMP/abuse_$mode.txt
	[ "$mode" = flood ] && what="1,000-connection flood" || what="100 slowloris clients"
	printf "  %-24s p50 %8.1f us  p99 %8.1f us  max %8.1f us\n" "$what" \
		"$(field "$f" p50_us)" "$(field "$f" p99_us)" "$(field "$f" max_us)"
done
kill "$PID"
wait "$PID" 2>/dev/null
PID=
exit 0
