"""API stress against a live ember with a running guest, bounded in time:
1,000 connections opened and held, request floods, 100 slow clients, 50 KB
bodies, and a window with only a few file descriptors left -- all at once.
Meanwhile a probe opens a new connection every 100 ms and asks GET /: every
probe must be answered 200 within PROBE_DEADLINE, and afterwards ember must be
alive with the guest running. Latency figures are printed (the benchmark is
`make bench`).

usage: stress.py SOCKET PID [SECONDS]
"""
import os
import resource
import socket
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import abuse  # noqa: E402

SOCK, PID = sys.argv[1], int(sys.argv[2])
abuse.SOCK, abuse.PID = SOCK, PID
SECONDS = float(sys.argv[3]) if len(sys.argv) > 3 else 10.0
PROBE_DEADLINE = 5.0
stop = threading.Event()
stats = {"flood": 0, "big": 0, "conns": 0, "slow": 0, "errors": 0}
lock = threading.Lock()


def count(key, n=1):
    with lock:
        stats[key] += n


def connect():
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.connect(SOCK)
    s.settimeout(5)
    return s


def thousand():
    while not stop.is_set():
        held = []
        try:
            for _ in range(1000):
                if stop.is_set():
                    break
                held.append(connect())
                count("conns")
        except OSError:
            count("errors")
        for s in held:
            s.close()


def flood():
    while not stop.is_set():
        try:
            s = connect()
            # 20 pipelined keep-alive requests, then the next connection
            s.sendall(b"GET / HTTP/1.1\r\n\r\n" * 19 + b"GET /machine-config HTTP/1.1\r\n"
                      b"Connection: close\r\n\r\n")
            n = 0
            while True:
                b = s.recv(65536)
                if not b:
                    break
                n += b.count(b"HTTP/1.1 200")
            count("flood", n)
            s.close()
        except OSError:
            count("errors")  # evicted: expected now and then


def slow():
    socks = []
    while not stop.is_set():
        while len(socks) < 100:
            try:
                s = connect()
                s.sendall(b"PUT /machine-config HTTP/1.1\r\nContent-Length: 40\r\n")
                socks.append(s)
                count("slow")
            except OSError:
                count("errors")
                break
        alive = []
        for s in socks:
            try:
                s.send(b"X")  # a byte of a header that never ends
                alive.append(s)
            except OSError:
                s.close()  # the server hung up on it
        socks = alive
        stop.wait(0.1)
    for s in socks:
        s.close()


BIG = (b'{"state": "Paused", "padding": "' + b"x" * (50 * 1024 - 64) + b'"}')


def big():
    while not stop.is_set():
        try:
            s = connect()
            s.sendall(b"PATCH /vm HTTP/1.1\r\nContent-Length: %d\r\n\r\n" % len(BIG) + BIG)
            st, _ = abuse.read_response(s, 5)
            if st == 400:
                count("big")
            s.close()
        except OSError:
            count("errors")


def fd_window():
    # from a third of the run, for a third of it: 16 descriptors left
    if stop.wait(SECONDS / 3):
        return
    soft, hard = resource.prlimit(PID, resource.RLIMIT_NOFILE)
    try:
        resource.prlimit(PID, resource.RLIMIT_NOFILE, (abuse.limit_for_free_fds(16), hard))
        stop.wait(SECONDS / 3)
    finally:
        resource.prlimit(PID, resource.RLIMIT_NOFILE, (soft, hard))


def main():
    threads = [threading.Thread(target=f) for f in
               [thousand, flood, flood, slow, big, big, fd_window]]
    for t in threads:
        t.start()
    lat, fails = [], []
    end = time.monotonic() + SECONDS
    while time.monotonic() < end:
        st, body, dt = abuse.timed_get("/", PROBE_DEADLINE)
        lat.append(dt)
        if st != 200:
            fails.append((st, body, round(dt, 3)))
        time.sleep(0.1)  # the probe's pace, not a wait for an event
    stop.set()
    for t in threads:
        t.join()
    lat.sort()
    pct = lambda p: lat[min(len(lat) - 1, int(len(lat) * p))] * 1000  # noqa: E731
    print("  stress %.0f s: %d connections opened, %d flood answers, %d slow clients, "
          "%d 50 KB bodies refused, %d client-side errors (evictions)" %
          (SECONDS, stats["conns"], stats["flood"], stats["slow"], stats["big"],
           stats["errors"]))
    print("  probe GET / on a new connection: n=%d p50 %.1f ms p99 %.1f ms max %.1f ms" %
          (len(lat), pct(0.5), pct(0.99), lat[-1] * 1000))
    abuse.report(not fails, "every probe answered 200 within %.0f s" % PROBE_DEADLINE,
                 repr(fails[:3]))
    abuse.report(stats["flood"] > 0 and stats["big"] > 0 and stats["conns"] >= 1000,
                 "the load ran (floods answered, big bodies refused, 1,000 connections)",
                 repr(stats))
    try:
        os.kill(PID, 0)
        alive = True
    except OSError:
        alive = False
    ok, why = abuse.running()
    abuse.report(alive and ok, "ember alive, guest running", why)
    return 1 if abuse.results["fail"] else 0


if __name__ == "__main__":
    sys.exit(main())
