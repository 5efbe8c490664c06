"""Hostile API clients against a live ember with a running guest (issue 19,
points 4-6). Every wait is on a real event (a response, an EOF, a line in a
file) with a timeout; the deadlines below are generous pass/fail bounds, the
figures that matter are printed and measured by `make bench`.

usage: abuse.py SOCKET PHASE PID [ARGS]
  PHASE stderr METRICS_FILE -- ember's stderr is a pipe nobody reads
  PHASE slow                -- idle and slowloris clients, the deadlines
  PHASE fds STDERR_FILE     -- out of file descriptors (prlimit on PID)
"""
import json
import os
import resource
import socket
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import fcapi  # noqa: E402

SOCK, PID = None, 0  # set by main(), or by a script that imports this one
DEADLINE = 2.0  # a new client's GET / must be answered within this (seconds)
REQUEST_TIMEOUT = 5.0  # API_REQUEST_TIMEOUT_MS
results = {"ok": 0, "fail": 0}

# room for a thousand sockets in this process
_soft, _hard = resource.getrlimit(resource.RLIMIT_NOFILE)
resource.setrlimit(resource.RLIMIT_NOFILE, (min(_hard, 8192), _hard))


def report(ok, name, detail=""):
    if ok:
        results["ok"] += 1
        print("  ok   %s" % name)
    else:
        results["fail"] += 1
        print("  FAIL %s %s" % (name, detail))


def connect(timeout=10):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.connect(SOCK)  # blocking: waits while the listen backlog is full
    s.settimeout(timeout)
    return s


def read_response(s, timeout):
    """(status, body) of one response on s, or (None, why)."""
    buf = b""
    end = time.monotonic() + timeout
    while True:
        left = end - time.monotonic()
        if left <= 0:
            return None, "no answer within %.1f s" % timeout
        s.settimeout(left)
        try:
            chunk = s.recv(65536)
        except socket.timeout:
            continue
        except OSError as e:
            return None, str(e)
        if not chunk:
            return None, "closed"
        buf += chunk
        if b"\r\n\r\n" in buf:
            head, rest = buf.split(b"\r\n\r\n", 1)
            n = 0
            for ln in head.split(b"\r\n")[1:]:
                k, _, v = ln.partition(b":")
                if k.strip().lower() == b"content-length":
                    n = int(v)
            if len(rest) >= n:
                return int(head.split(b" ")[1]), rest[:n]


def timed_get(path="/", timeout=DEADLINE, close=False):
    """GET on a new connection: (status, body, seconds)."""
    t0 = time.monotonic()
    try:
        s = connect(timeout)
        s.sendall(b"GET %s HTTP/1.1\r\n%s\r\n" %
                  (path.encode(), b"Connection: close\r\n" if close else b""))
        st, body = read_response(s, timeout - (time.monotonic() - t0))
        if close and st is not None:
            s.settimeout(timeout)
            while s.recv(4096):  # until ember closed its end
                pass
        s.close()
    except OSError as e:
        st, body = None, str(e)
    return st, body, time.monotonic() - t0


def running():
    st, body, dt = timed_get("/", 10)
    try:
        state = json.loads(body)["state"]
    except (ValueError, TypeError, KeyError):
        state = body
    return st == 200 and state == "Running", "GET / -> %s %r in %.3f s" % (st, state, dt)


def api_thread_ticks():
    """CPU clock ticks (user + system) of ember's API thread (named fc_api,
    as Firecracker's)."""
    found = []
    for tid in os.listdir("/proc/%d/task" % PID):
        try:
            with open("/proc/%d/task/%s/comm" % (PID, tid)) as f:
                comm = f.read().strip()
            if comm != "fc_api":
                continue
            with open("/proc/%d/task/%s/stat" % (PID, tid)) as f:
                fields = f.read().rsplit(")", 1)[1].split()
            found.append(int(fields[11]) + int(fields[12]))
        except OSError:
            continue
    if len(found) != 1:
        raise SystemExit("cannot tell ember's API thread (%d candidates)" % len(found))
    return found[0]


HZ = os.sysconf("SC_CLK_TCK")


# ---- stderr: a pipe nobody reads ----
def phase_stderr(metrics_file):
    n, bad = 2000, 0
    t0 = time.monotonic()
    for _ in range(n):
        try:
            s = connect(5)
            s.sendall(b"BAD\r\n\r\n")  # answered 400 and logged as a warning
            st, _ = read_response(s, 5)
            s.close()
        except OSError:
            st = None
        if st != 400:
            bad += 1
            if bad > 3:
                break
    report(bad == 0, "stderr pipe full: %d bad requests each answered 400 (%.1f s)" %
           (n, time.monotonic() - t0), "%d not answered" % bad)
    ok, why = running()
    report(ok, "stderr pipe full: GET / still answered, guest running", why)
    c = fcapi.Client(SOCK)
    st, _ = c.request("PUT", "/actions", {"action_type": "FlushMetrics"})
    c.close()
    missed = 0
    try:
        with open(metrics_file) as f:
            lines = [json.loads(x) for x in f if x.strip()]
        missed = sum(x["logger"]["missed_log_count"] for x in lines)
    except (OSError, ValueError, KeyError) as e:
        lines = [str(e)]
    report(st == 204 and missed > 0,
           "stderr pipe full: metrics logger.missed_log_count = %d" % missed,
           "FlushMetrics %s, %r" % (st, lines[-1:]))


# ---- idle and slowloris clients ----
def phase_slow():
    held = []
    for _ in range(100):  # idle: connect, say nothing
        held.append(connect())
    slow = []
    for i in range(100):  # slowloris: a head that never ends
        s = connect()
        s.sendall(b"GET / HTTP/1.1\r\nX-Slow-%d: " % i)
        slow.append(s)
    stop = threading.Event()

    def trickle():
        while not stop.wait(0.2):
            for s in slow:
                try:
                    s.send(b"a")
                except OSError:
                    pass

    t = threading.Thread(target=trickle)
    t.start()
    lat, fails = [], []
    for _ in range(20):
        st, body, dt = timed_get()
        lat.append(dt)
        if st != 200:
            fails.append((st, body))
    stop.set()
    t.join()
    lat.sort()
    report(not fails, "100 idle + 100 slowloris held: 20 new clients answered 200 within "
           "%.0f s (max %.1f ms)" % (DEADLINE, lat[-1] * 1000), repr(fails[:3]))
    for s in held + slow:
        s.close()
    ok, why = running()
    report(ok, "after the slow clients: guest running", why)

    # the request deadline closes a slowloris; an idle connection stays
    idle = connect()
    s = connect(REQUEST_TIMEOUT * 3)
    t0 = time.monotonic()
    s.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n")
    try:
        r = s.recv(4096)
        why = "got %r" % r[:60]
    except OSError as e:
        r, why = None, str(e)
    dt = time.monotonic() - t0
    report(r == b"" and REQUEST_TIMEOUT * 0.9 <= dt <= REQUEST_TIMEOUT * 3,
           "slowloris closed by the request deadline after %.2f s" % dt, why)
    s.close()
    idle.sendall(b"GET / HTTP/1.1\r\n\r\n")
    st, body = read_response(idle, DEADLINE)
    report(st == 200, "an idle keep-alive client outlives the request deadline", repr(body))
    idle.close()


# ---- out of file descriptors ----
def limit_for_free_fds(free):
    """The RLIMIT_NOFILE that leaves ember exactly `free` descriptors."""
    used = {int(x) for x in os.listdir("/proc/%d/fd" % PID)}
    n = 0
    while free or n in used:
        if n not in used:
            free -= 1
        n += 1
    return n


def wait_for_text(path, texts, timeout):
    """True once the file holds one of texts (a string or a tuple)."""
    texts = (texts,) if isinstance(texts, str) else texts
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        try:
            with open(path) as f:
                got = f.read()
                if any(t in got for t in texts):
                    return True
        except OSError:
            pass
        time.sleep(0.05)
    return False


def phase_fds(stderr_file):
    soft, hard = resource.prlimit(PID, resource.RLIMIT_NOFILE)
    # every earlier client closed on ember's side: a Connection: close round
    # trip, read until ember's EOF
    st, _, _ = timed_get("/", 10, close=True)
    limit = limit_for_free_fds(0)
    # starved with no client to evict: the listener must rest, not spin
    resource.prlimit(PID, resource.RLIMIT_NOFILE, (limit, hard))
    try:
        c = connect()
        c.sendall(b"GET / HTTP/1.1\r\n\r\n")
        t0, w0 = api_thread_ticks(), time.monotonic()
        st1, why1 = read_response(c, 2.0)  # expected: nothing, no descriptor for it
        cpu = (api_thread_ticks() - t0) / HZ
        wall = time.monotonic() - w0
        # strerror(EMFILE): musl's words (ember), glibc's (the glibc build)
        logged = wait_for_text(stderr_file, ("api: accept: No file descriptors available",
                                             "api: accept: Too many open files"), 5)
        report(st1 is None and logged and cpu < 0.1 * wall,
               "no fd left: API thread used %.2f s CPU in %.2f s (no spin), said so once" %
               (cpu, wall), "answer %s %r, logged %s" % (st1, why1, logged))
        # a few descriptors back: the waiting client is served after the back-off
        resource.prlimit(PID, resource.RLIMIT_NOFILE, (limit_for_free_fds(8), hard))
        st2, why2 = read_response(c, DEADLINE)
        report(st2 == 200, "descriptors back: the queued client answered", repr(why2)[:80])
        c.close()

        # low limit, connections take every descriptor: newcomers evict them
        held = []
        for _ in range(40):
            held.append(connect())
        lat, fails = [], []
        for _ in range(10):
            st, body, dt = timed_get()
            lat.append(dt)
            if st != 200:
                fails.append((st, body))
        report(not fails, "8 free fds, 40 idle connections: 10 new clients answered 200 "
               "(max %.1f ms)" % (max(lat) * 1000), repr(fails[:3]))
        for s in held:
            s.close()
    finally:
        resource.prlimit(PID, resource.RLIMIT_NOFILE, (soft, hard))
    ok, why = running()
    report(ok, "fd limit restored: guest running", why)


def main():
    global SOCK, PID
    SOCK, PHASE, PID = sys.argv[1], sys.argv[2], int(sys.argv[3])
    ARGS = sys.argv[4:]
    if PHASE == "stderr":
        phase_stderr(ARGS[0])
    elif PHASE == "slow":
        phase_slow()
    elif PHASE == "fds":
        phase_fds(ARGS[0])
    else:
        raise SystemExit("unknown phase " + PHASE)
    print("  %d cases ok, %d failed" % (results["ok"], results["fail"]))
    return 1 if results["fail"] else 0


if __name__ == "__main__":
    sys.exit(main())
