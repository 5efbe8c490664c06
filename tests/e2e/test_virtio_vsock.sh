#!/usr/bin/env bash
# virtio-vsock end to end, Firecracker's hybrid Unix-socket model: ember runs
# the test guest with `--vsock 7:$uds`; the guest
# (firmware/testguest/check_virtio_vsock.c) runs an echo server on vsock
# port 5000 and prints "ok vsock0.listen". The host side then:
#   1. python: "CONNECT 4999\n" (nobody listens in the guest) -> closed, no OK;
#   2. python: "CONNECT 5000\n" -> "OK <port>\n", 100000 random bytes (more
#      than the guest's 64 KiB window), shutdown(SHUT_WR), the echo must come
#      back byte for byte, then EOF;
#   3. socat: "CONNECT 5000\n" + a line through `socat - UNIX-CONNECT:`, the
#      reply must be "OK <port>\n" + the same line;
#   4. the guest connects to host port 5001 (python listens on ${uds}_5001)
#      and sends "ember-tg-vsock-hello\n"; its connection to 5002 (nobody
#      listens) must be refused.
# Checked on both sides, plus: ember removes $uds when it exits, and refuses
# to start when uds_path already exists.
set -u
. "$(dirname "$0")/lib.sh"
require "$EMBER" "$TESTGUEST"

if ! command -v python3 >/dev/null || ! command -v socat >/dev/null; then
	fail "needs python3 and socat (tools/setup.sh installs them)"
	finish
fi

uds=$E2E_TMP/v.sock
console=$E2E_TMP/console.txt
host_out=$E2E_TMP/host.txt
: >"$console"

# The host peer (bounded: it gives up after 50 s).
python3 -u - "$uds" "$console" >"$host_out" 2>&1 <<'PY' &
import os, socket, subprocess, sys, time

uds, console = sys.argv[1], sys.argv[2]
deadline = time.monotonic() + 50

def left():
    return max(0.1, deadline - time.monotonic())

def connect(port):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(left())
    s.connect(uds)
    s.sendall(b"CONNECT %d\n" % port)
    return s

def read_line(s):
    line = b""
    while not line.endswith(b"\n") and len(line) < 64:
        c = s.recv(1)
        if not c:
            break
        line += c
    return line

lst = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
lst.bind(uds + "_5001")
lst.listen(4)
while time.monotonic() < deadline:
    with open(console, "rb") as f:
        if b"ok vsock0.listen" in f.read():
            break
    time.sleep(0.05)
else:
    sys.exit("the guest never printed 'ok vsock0.listen'")
print("guest listening")

# 1. a port nobody listens on: closed without "OK"
s = connect(4999)
line = read_line(s)
print("refused-ok" if line == b"" else "refused-BAD got %r" % line)
s.close()

# 2. echo of 100000 bytes
data = os.urandom(100000)
s = connect(5000)
line = read_line(s)
if not (line.startswith(b"OK ") and line.endswith(b"\n") and line[3:-1].isdigit()):
    sys.exit("bad reply to CONNECT 5000: %r" % line)
port = int(line[3:-1])
s.sendall(data)
s.shutdown(socket.SHUT_WR)
got = b""
while True:
    chunk = s.recv(65536)
    if not chunk:
        break
    got += chunk
s.close()
print("echo-%s %d of %d bytes, host port %d" % ("ok" if got == data else "BAD", len(got),
                                                 len(data), port))

# 3. socat as the client
msg = b"hello from socat\n"
r = subprocess.run(["socat", "-t", "10", "-", "UNIX-CONNECT:" + uds],
                   input=b"CONNECT 5000\n" + msg, capture_output=True, timeout=left())
out = r.stdout
ok = r.returncode == 0 and out.startswith(b"OK ") and out.endswith(b"\n" + msg)
print("socat-%s rc=%d %r" % ("ok" if ok else "BAD", r.returncode, out[:80]))

# 4. the guest connects to us
lst.settimeout(left())
c, _ = lst.accept()
c.settimeout(left())
got = b""
while True:
    chunk = c.recv(4096)
    if not chunk:
        break
    got += chunk
print("guest-hello-%s %r" % ("ok" if got == b"ember-tg-vsock-hello\n" else "BAD", got))
PY
host_pid=$!

cmdline="tg.mem=128 tg.cpus=1 tg.virtio=1 tg.vsock=1 tg.vsock_cid=7 tg.vsock_port=5000"
cmdline="$cmdline tg.vsock_conns=2 tg.vsock_hostport=5001"
run_ember vsock run --kernel "$TESTGUEST" --mem 128M --cpus 1 --console "file:$console" \
	--cmdline "$cmdline" --vsock "7:$uds"
wait "$host_pid"
host_rc=$?
out=$(tr -d '\r' <"$console" 2>/dev/null)
if [ "$RC" -ne 0 ]; then
	fail "ember exited $RC$([ "$RC" -eq 124 ] && echo ' (timed out)') after ${MS} ms"
	show_file "$console"
	show_file "$ERR" 10
elif ! grep -qE '^TESTGUEST DONE pass=[1-9][0-9]* fail=0$' <<<"$out" || grep -q '^FAIL' <<<"$out"; then
	fail "guest reported failures: $(grep '^TESTGUEST DONE' <<<"$out")"
	grep -E '^FAIL' <<<"$out" | sed 's/^/      | /'
else
	missing=""
	for r in virtio.slot0 vsock0.init vsock0.listen vsock0.echo vsock0.connect vsock0.refused \
		vsock0.status vsock.count; do
		grep -q "^ok $r " <<<"$out" || missing="$missing $r"
	done
	grep -q '^ok vsock0.init .*guest_cid=7 ' <<<"$out" || missing="$missing vsock0.init(cid=7)"
	grep -q '^ok vsock0.echo 2 of 2 connection(s) .* 1 other REQUEST(s) refused' <<<"$out" ||
		missing="$missing vsock0.echo(2 conns, 1 refused)"
	if [ -n "$missing" ]; then
		fail "results missing from the guest's report:$missing"
	else
		pass "guest: $(grep '^ok vsock0.echo' <<<"$out" | cut -c1-110)"
	fi
fi

if [ "$host_rc" -ne 0 ]; then
	fail "host peer exited $host_rc"
	show_file "$host_out"
else
	bad=""
	for r in refused-ok echo-ok socat-ok guest-hello-ok; do
		grep -q "^$r" "$host_out" || bad="$bad $r"
	done
	if [ -n "$bad" ]; then
		fail "host side:$bad missing"
		show_file "$host_out"
	else
		pass "host: $(grep '^echo-ok' "$host_out"); socat and guest-initiated connection ok"
	fi
fi
if [ -e "$uds" ]; then
	fail "$uds still exists after ember exited"
else
	pass "uds_path removed at exit"
fi

# uds_path already exists: ember must refuse to start (as Firecracker does).
touch "$uds"
run_ember vsock-busy run --kernel "$TESTGUEST" --mem 128M --console none --vsock "7:$uds"
if [ "$RC" -ne 0 ] && [ "$RC" -ne 124 ] && grep -q "vsock" "$ERR"; then
	pass "existing uds_path refused: $(grep -m1 vsock "$ERR" | cut -c1-100)"
else
	fail "ember with an existing uds_path: exit $RC"
	show_file "$ERR" 5
fi

finish
