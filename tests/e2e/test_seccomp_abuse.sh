#!/usr/bin/env bash
# Hostile API clients and signals under the built-in seccomp filters, the
# test guest running (issue 19). Each case boots the guest through the API
# (tg.wait=cad keeps it up), does its abuse, then checks: ember alive, GET /
# answered within GET_DEADLINE_S with state "Running", the vCPU thread still
# there; then ends ember (SIGTERM, or Ctrl-Alt-Del: the guest's own exit)
# and checks the exit code and that the API socket file is gone.
#  1. 8 connections each sending a rejected PATCH /vm with a ~50 KB body,
#     then closing, three times (glibc used to trim the API thread's malloc
#     arena and read /proc/sys/vm/overcommit_memory: SIGSYS).
#  2. 32 connections with ~8 KiB headers (under and over the limit).
#  3. one 5,000-key body, then SIGTERM (every later exit used to be SIGSYS);
#     the same, ended by the guest's Ctrl-Alt-Del.
#  Cases 1-3 run twice: with the real kill-process filters, then in report
#  mode (lib.sh: zero violations recorded).
#  4. a network interface without guest_mac (random MAC) then InstanceStart
#     (getrandom used to be called under the "vmm boot" filter): the guest
#     drives the device (ARP from the made-up MAC, a local unicast one); root,
#     iproute2 and /dev/net/tun (a TAP in a private network namespace).
#  5. signals: SIGUSR1, SIGUSR2, SIGALRM, SIGVTALRM, SIGPROF, SIGIO, SIGPWR,
#     SIGXCPU, SIGXFSZ, SIGRTMIN+1 and SIGRTMAX are ignored (all sent to one
#     ember; it ends on Ctrl-Alt-Del, exit 0); SIGINT, SIGTERM, SIGHUP and
#     SIGQUIT each end ember with exit 0 and the socket file removed.
#  6. `ember run`: SIGUSR1 ignored with the guest running, SIGTERM -> exit 0.
set -u
. "$(dirname "$0")/lib.sh"
require "$EMBER" "$TESTGUEST"
SOCK=$E2E_TMP/api.sock
GET_DEADLINE_S=5 # a liveness bound, not a timing goal
WAIT_S=30
PY=$E2E_TMP/abuse.py
REPORT_FILE=${EMBER_SECCOMP_REPORT:-}

cat >"$PY" <<'PY'
"""abuse.py SOCK CMD [ARG]: one step of a case; exit 0 when it went as expected."""
import json, socket, sys, time

sock_path, cmd = sys.argv[1], sys.argv[2]
arg = sys.argv[3] if len(sys.argv) > 3 else ""


def connect(timeout=10):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(timeout)
    s.connect(sock_path)
    return s


def request(method, path, body=b"", headers=b"", timeout=10):
    """One request on a fresh connection: (status, body)."""
    s = connect(timeout)
    s.sendall(b"%s %s HTTP/1.1\r\nHost: localhost\r\n%sContent-Type: application/json\r\n"
              b"Content-Length: %d\r\n\r\n" % (method.encode(), path.encode(), headers, len(body)) + body)
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = s.recv(65536)
        if not chunk:
            break
        data += chunk
    head, _, rest = data.partition(b"\r\n\r\n")
    if not head.startswith(b"HTTP/1.1 "):
        sys.exit("%s %s: connection closed without an answer" % (method, path))
    length = 0
    for line in head.split(b"\r\n")[1:]:
        k, _, v = line.partition(b":")
        if k.strip().lower() == b"content-length":
            length = int(v)
    while len(rest) < length:
        chunk = s.recv(65536)
        if not chunk:
            break
        rest += chunk
    s.close()
    return int(head.split(b" ")[1]), rest


def drain(conns):
    """Read whatever each connection gets (an answer or EOF), then close it."""
    for s in conns:
        try:
            s.settimeout(10)
            s.recv(65536)
        except OSError:
            pass
        s.close()


def boot(kernel, net):
    args = "console=ttyS0 tg.mem=64 tg.cpus=1 tg.wait=cad" + (" tg.virtio=1 tg.net=1" if net else "")
    steps = [("PUT", "/machine-config", {"vcpu_count": 1, "mem_size_mib": 64}),
             ("PUT", "/boot-source", {"kernel_image_path": kernel, "boot_args": args})]
    if net:
        # no guest_mac: ember makes one up
        steps.append(("PUT", "/network-interfaces/eth0", {"iface_id": "eth0", "host_dev_name": net}))
    steps.append(("PUT", "/actions", {"action_type": "InstanceStart"}))
    for method, path, body in steps:
        status, resp = request(method, path, json.dumps(body).encode())
        if status // 100 != 2:
            sys.exit("%s %s: %d %s" % (method, path, status, resp[:200]))


if cmd == "boot":
    boot(arg, sys.argv[4] if len(sys.argv) > 4 else "")
elif cmd == "body50k":
    # rejected (no such state), ~50 KB each, 8 in flight; three rounds: the
    # first reads the answers (400), the others close at once
    body = json.dumps({"state": "x" * 50000}).encode()
    for rnd in range(3):
        conns = []
        for _ in range(8):
            s = connect()
            s.sendall(b"PATCH /vm HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n"
                      b"Content-Length: %d\r\n\r\n" % len(body) + body)
            conns.append(s)
        if rnd == 0:
            for s in conns:
                s.settimeout(10)
                head = s.recv(65536).split(b"\r\n")[0]
                if b" 400 " not in head:
                    sys.exit("PATCH /vm with a 50 KB body: %r, expected 400" % head)
                s.close()
        else:
            for s in conns:
                s.close()
elif cmd == "hdr8k":
    conns = []
    for i in range(32):
        s = connect()
        # half just under the 8 KiB header limit (answered), half over (400)
        pad = 8000 if i % 2 == 0 else 8300
        s.sendall(b"GET / HTTP/1.1\r\nHost: localhost\r\nX-Pad: " + b"p" * pad + b"\r\n\r\n")
        conns.append(s)
    drain(conns)
elif cmd == "keys":
    body = ("{" + ",".join('"%x":0' % i for i in range(5000)) + "}").encode()
    assert len(body) < 51200, len(body)
    status, _ = request("PATCH", "/vm", body)
    if status != 400:
        sys.exit("5,000-key body: HTTP %d, expected 400" % status)
elif cmd == "check":
    # GET / within the deadline, the guest running
    deadline = float(arg)
    t0 = time.monotonic()
    try:
        status, resp = request("GET", "/", timeout=deadline)
    except OSError as e:
        sys.exit("GET /: %s after %.0f ms" % (e, (time.monotonic() - t0) * 1000))
    ms = (time.monotonic() - t0) * 1000
    state = json.loads(resp).get("state") if status == 200 else None
    if status != 200 or state != "Running" or ms > deadline * 1000:
        sys.exit("GET /: HTTP %d state %s in %.0f ms" % (status, state, ms))
    print("GET / 200 Running in %.0f ms" % ms)
elif cmd == "cad":
    status, resp = request("PUT", "/actions", b'{"action_type": "SendCtrlAltDel"}')
    if status != 204:
        sys.exit("SendCtrlAltDel: HTTP %d %s" % (status, resp[:200]))
else:
    sys.exit("unknown step " + cmd)
PY

# ember_pid: ember under `timeout` ($PID), after any exec of a wrapper.
ember_pid() {
	local c
	c=$(cat "/proc/$PID/task/$PID/children" 2>/dev/null || pgrep -P "$PID")
	echo "${c%% *}"
}

guest_waiting() {
	grep -q "TESTGUEST WAITING" "$OUT" 2>/dev/null
}

# wait_until SECONDS CMD...: polls CMD every 50 ms until it succeeds.
wait_until() {
	local end=$(($(date +%s) + $1))
	shift
	until "$@"; do
		[ "$(date +%s)" -ge "$end" ] && return 1
		sleep 0.05
	done
}

# start NAME [NETNS TAP]: ember in the background with the guest booted and
# waiting; sets PID (timeout's), EPID (ember's), OUT, ERR. 1 on failure.
start() {
	local name=$1 ns=${2:-} tap=${3:-} wrap=()
	OUT=$E2E_TMP/$name.stdout
	ERR=$E2E_TMP/$name.stderr
	e2e_cases=$((e2e_cases + 1))
	rm -f "$SOCK"
	[ -n "$ns" ] && wrap=(ip netns exec "$ns")
	timeout -k 5 "$E2E_TIMEOUT" "${wrap[@]}" "$EMBER" --api-sock "$SOCK" --id abuse \
		</dev/null >"$OUT" 2>"$ERR" &
	PID=$!
	if ! wait_until 10 test -S "$SOCK"; then
		fail "$name: no API socket"
		show_file "$ERR"
		kill "$PID" 2>/dev/null
		wait "$PID" 2>/dev/null
		return 1
	fi
	EPID=$(ember_pid)
	if ! python3 "$PY" "$SOCK" boot "$TESTGUEST" "$tap" >"$E2E_TMP/$name.boot" 2>&1 ||
		! wait_until $WAIT_S guest_waiting; then
		fail "$name: the guest did not boot: $(tail -n 3 "$E2E_TMP/$name.boot")"
		show_file "$ERR"
		kill "$PID" 2>/dev/null
		wait "$PID" 2>/dev/null
		return 1
	fi
}

# alive NAME: ember alive, GET / in time with the guest running, vCPU thread there.
alive() {
	local name=$1 msg
	if ! kill -0 "$EPID" 2>/dev/null; then
		wait "$PID"
		RC=$?
		fail "$name: ember died (status $RC$([ $RC -eq 159 ] && echo ', SIGSYS'))"
		show_file "$ERR"
		return 1
	fi
	if ! msg=$(python3 "$PY" "$SOCK" check $GET_DEADLINE_S 2>&1); then
		fail "$name: $msg"
		show_file "$ERR"
		return 1
	fi
	if ! grep -qx "fc_vcpu 0" /proc/"$EPID"/task/*/comm 2>/dev/null; then
		fail "$name: no vCPU thread"
		return 1
	fi
	ALIVE_MSG=$msg
}

# finish_with NAME HOW: ends ember by HOW (a signal name, or cad: the guest's
# Ctrl-Alt-Del), expects exit 0 (SIGTERM, SIGINT: killed by the signal after
# the clean-up, as Firecracker: 128 + signal) and no socket file left.
finish_with() {
	local name=$1 how=$2 want=0
	case $how in TERM) want=143 ;; INT) want=130 ;; esac
	if [ "$how" = cad ]; then
		python3 "$PY" "$SOCK" cad || fail "$name: Ctrl-Alt-Del refused"
	else
		kill -"$how" "$EPID"
	fi
	wait "$PID"
	RC=$?
	if [ "$RC" -ne "$want" ]; then
		fail "$name: exit $RC after $how, expected $want$([ "$RC" -eq 159 ] && echo ' (SIGSYS)')"
		show_file "$ERR"
		return 1
	fi
	if [ -e "$SOCK" ]; then
		fail "$name: $SOCK left behind after $how"
		return 1
	fi
	if [ "$how" = cad ] && ! grep -q '^ok wait.cad' <(tr -d '\r' <"$OUT"); then
		fail "$name: the guest did not see Ctrl-Alt-Del"
		return 1
	fi
}

# abuse_case NAME STEP END: boot, STEP, alive, end with END.
abuse_case() {
	local name=$1 step=$2 end=$3
	start "$name" || return
	if ! python3 "$PY" "$SOCK" "$step" >"$E2E_TMP/$name.step" 2>&1; then
		fail "$name: $(tail -n 3 "$E2E_TMP/$name.step")"
	fi
	alive "$name" || { kill -KILL "$EPID" 2>/dev/null; wait "$PID" 2>/dev/null; return; }
	finish_with "$name" "$end" &&
		pass "$name: alive ($ALIVE_MSG), ended by $end as Firecracker, socket removed"
}

# ---- 1-3: API abuse, kill-process filters, then report mode ----
for mode in kill report; do
	if [ $mode = kill ]; then
		unset EMBER_SECCOMP_REPORT
	elif [ -n "$REPORT_FILE" ]; then
		export EMBER_SECCOMP_REPORT=$REPORT_FILE
	else
		continue # E2E_SECCOMP_REPORT=0
	fi
	abuse_case "$mode: 50 KB bodies x8" body50k TERM
	abuse_case "$mode: 8 KiB headers x32" hdr8k TERM
	abuse_case "$mode: 5,000-key body, SIGTERM" keys TERM
	abuse_case "$mode: 5,000-key body, Ctrl-Alt-Del" keys cad
done

# ---- 4: network interface without guest_mac ----
if [ "$(id -u)" -ne 0 ] || ! command -v ip >/dev/null || [ ! -c /dev/net/tun ]; then
	fail "net without guest_mac: needs root, iproute2 and /dev/net/tun"
else
	# tap0 is 172.16.0.1 (the kernel answers the guest's ARP); a UDP peer
	# answers its ping (firmware/testguest/check_virtio_net.c)
	ns=ember-e2e-abuse-$$
	peer_pid=
	if ip netns add "$ns" && ip netns exec "$ns" ip tuntap add dev tap0 mode tap &&
		ip netns exec "$ns" ip addr add 172.16.0.1/24 dev tap0 &&
		ip netns exec "$ns" ip link set tap0 up; then
		ip netns exec "$ns" python3 -c '
import socket, time
u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
u.bind(("172.16.0.1", 5000))
print("READY", flush=True)
u.settimeout(60)
data, peer = u.recvfrom(2048)
u.sendto(b"ember-host-pong", peer)
' >"$E2E_TMP/peer.out" 2>&1 &
		peer_pid=$!
		wait_until 10 grep -q READY "$E2E_TMP/peer.out" || fail "net: the UDP peer did not start"
		if start "net without guest_mac" "$ns" tap0; then
			if alive "net without guest_mac"; then
				# the guest's ARP request came from the MAC ember made up
				mac=$(tr -d '\r' <"$OUT" | sed -n 's/^ok net0.arp .* from \([0-9a-f:]\{17\}\).*/\1/p')
				if [ -z "$mac" ] || [ $((0x${mac%%:*} & 3)) -ne 2 ]; then
					fail "net without guest_mac: no ARP from a local unicast MAC: $(grep -a 'net0\.' "$OUT" | head -n 3)"
				fi
				finish_with "net without guest_mac" cad &&
					pass "net without guest_mac: InstanceStart 204, guest ARP from $mac, alive ($ALIVE_MSG), exit 0 on Ctrl-Alt-Del"
			else
				kill -KILL "$EPID" 2>/dev/null
				wait "$PID" 2>/dev/null
			fi
		fi
	else
		fail "net without guest_mac: could not set up namespace $ns with tap0"
	fi
	[ -n "$peer_pid" ] && kill "$peer_pid" 2>/dev/null
	ip netns del "$ns" 2>/dev/null
fi

# ---- 5: signals ----
if start "ignored signals"; then
	sent=""
	for sig in USR1 USR2 ALRM VTALRM PROF IO PWR XCPU XFSZ RTMIN+1 RTMAX; do
		kill -"$sig" "$EPID" && sent="$sent $sig"
	done
	# each one is read and logged by the VMM thread: wait for the last
	wait_until 10 grep -q "signal $(kill -l RTMAX) ignored" "$ERR" ||
		fail "ignored signals: no log line for SIGRTMAX"
	if alive "ignored signals"; then
		finish_with "ignored signals" cad &&
			pass "ignored signals:$sent: alive ($ALIVE_MSG), exit 0 on Ctrl-Alt-Del"
	else
		kill -KILL "$EPID" 2>/dev/null
		wait "$PID" 2>/dev/null
	fi
fi
for sig in INT TERM HUP QUIT; do
	if start "SIG$sig"; then
		if alive "SIG$sig"; then
			finish_with "SIG$sig" "$sig" && pass "SIG$sig: clean exit (TERM/INT: killed by it after clean-up), socket removed"
		else
			kill -KILL "$EPID" 2>/dev/null
			wait "$PID" 2>/dev/null
		fi
	fi
done

# ---- 6: `ember run` (no API): an ignored signal, then SIGTERM ----
run_console=$E2E_TMP/run.console
OUT=$run_console
ERR=$E2E_TMP/run.stderr
e2e_cases=$((e2e_cases + 1))
timeout -k 5 "$E2E_TIMEOUT" "$EMBER" run --kernel "$TESTGUEST" --mem 64M --console "file:$run_console" \
	--cmdline "tg.mem=64 tg.cpus=1 tg.wait=cad" --log-level info </dev/null >/dev/null 2>"$ERR" &
PID=$!
if wait_until $WAIT_S guest_waiting; then
	EPID=$(ember_pid)
	kill -USR1 "$EPID"
	if wait_until 10 grep -q "signal $(kill -l USR1) ignored" "$ERR" && kill -0 "$EPID" &&
		grep -qx "fc_vcpu 0" /proc/"$EPID"/task/*/comm; then
		kill -TERM "$EPID"
		wait "$PID"
		RC=$?
		[ "$RC" -eq 0 ] && pass "ember run: SIGUSR1 ignored (guest running), SIGTERM -> exit 0" ||
			{ fail "ember run: exit $RC after SIGTERM"; show_file "$ERR"; }
	else
		fail "ember run: SIGUSR1 not ignored"
		show_file "$ERR"
		kill -KILL "$EPID" 2>/dev/null
		wait "$PID" 2>/dev/null
	fi
else
	fail "ember run: the guest never reached its wait"
	show_file "$ERR"
	kill "$PID" 2>/dev/null
	wait "$PID" 2>/dev/null
fi

finish
