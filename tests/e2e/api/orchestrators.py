#!/usr/bin/env python3
"""Replays of what the orchestrators that drive Firecracker send, against
ember installed under Firecracker's names (make install DESTDIR=...), with
the test guest. The request shapes are those of the clients' own sources:

  gosdk   firecracker-go-sdk's default handler list (machine.go, handlers.go):
          `firecracker --api-sock S --id ID`, wait for the socket with
          GET /machine-config, PUT /logger and /metrics (FIFOs), PUT
          /machine-config, GET /machine-config, PUT /boot-source,
          PUT /drives/{id}, PUT /vsock (with vsock_id), PUT /actions
          InstanceStart; Shutdown = SendCtrlAltDel; StopVMM = SIGTERM, and
          Wait reports "signal: terminated".
  kata    Kata Containers' fc.go: `firecracker --version` (first line
          "Firecracker vX.Y.Z", >= 0.21.1), then `firecracker --api-sock S
          --config-file F` where F holds boot-source, machine-config
          {smt, mem_size_mib, vcpu_count}, the read-only rootfs (not the
          root device) and a pool of 8 empty placeholder drives drive_0..7,
          logger {level Error, log_path FIFO}, metrics FIFO, vsock
          {guest_cid 3, uds_path, vsock_id "root"}; GET / until state is
          "Running"; vCPU threads found by their "fc_vcpu N" names; a
          placeholder drive swapped with PATCH /drives/drive_0; StopVM =
          SIGTERM and wait.
  flint   flintlock's config writer (infrastructure/firecracker/config.go,
          create.go): `firecracker --id ID --boot-timer --no-api
          --config-file F` with drives cache_type "Unsafe", machine-config
          {vcpu_count, mem_size_mib, smt false, track_dirty_pages false},
          logger {Debug, show_level, show_log_origin}, metrics file, and
          "partuuid"/"initrd_path"/"rate_limiter"/"balloon"/"vsock"/
          "mmds-config" written as null; then with --metadata FILE (loaded
          into the MMDS data store); a broken metadata file and an
          mmds-config naming a missing interface exit 1 with Firecracker's
          message.
  e2b     E2B's create path (orchestrator sandbox/fc/process.go, client.go):
          PUT /metrics, /boot-source, /drives/rootfs (io_engine "Async":
          io_uring, the guest's blk checks run through it), then
          /machine-config {smt: true, track_dirty_pages: false}, /entropy
          (rate-limited), PUT /mmds/config and PUT /mmds (GET /mmds reads it
          back), /actions InstanceStart, PUT /mmds again while running.
          Huge pages without reserved ones answer 400
          naming them; everything else boots.
  containerd  firecracker-containerd's runtime (its runtime config's
          cpu_template, "T2" in its documented setup on Intel hosts): the
          go-sdk sequence with machine-config {vcpu_count, mem_size_mib,
          cpu_template "T2"} on Intel ("T2A", the AMD template, on AMD);
          the guest boots and sees the template's CPU signature.

Network interfaces are left out (the test guest would need a peer on a TAP:
tests/e2e/test_virtio_net.sh covers them).

usage: orchestrators.py BINDIR TESTGUEST TMPDIR SCENARIO...
Prints "ok"/"FAIL" lines; exit status 1 on any failure.
"""
import json
import os
import re
import select
import signal
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import fcapi  # noqa: E402

BINDIR, TESTGUEST, TMP = sys.argv[1:4]
FC = os.path.join(BINDIR, "firecracker")
SPEC = fcapi.Spec()
failures = 0
TIMEOUT = float(os.environ.get("E2E_TIMEOUT", "60"))


def ok(msg):
    print("  ok   " + msg, flush=True)


def fail(msg):
    global failures
    failures += 1
    print("  FAIL " + msg, flush=True)


def expect(cond, msg, why=""):
    if cond:
        ok(msg)
    else:
        fail(msg + (": " + why if why else ""))
    return cond


class Fifo:
    """A FIFO with a reader (as the clients keep one open for logs and
    metrics); collects what ember writes."""

    def __init__(self, path):
        self.path = path
        os.mkfifo(path)
        self.fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
        self.data = b""
        self.stop = False
        self.t = threading.Thread(target=self.run, daemon=True)
        self.t.start()

    def run(self):
        while not self.stop:
            r, _, _ = select.select([self.fd], [], [], 0.2)
            if r:
                try:
                    b = os.read(self.fd, 65536)
                except BlockingIOError:
                    continue
                self.data += b

    def close(self):
        self.stop = True
        self.t.join()
        self.drain()
        os.close(self.fd)

    def drain(self):
        """What is in the pipe now (after the writer is gone: all of it)."""
        while True:
            try:
                b = os.read(self.fd, 65536)
            except BlockingIOError:
                return
            if not b:
                return
            self.data += b


def disk(name, size=1 << 20):
    p = os.path.join(TMP, name)
    with open(p, "wb") as f:
        f.truncate(size)
    return p


def vsock_echo(uds, name, port=5000):
    """As a host agent client does: CONNECT to the guest's port through the
    hybrid vsock socket, a message, shutdown(SHUT_WR), the echo back."""
    import socket
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(TIMEOUT / 2)
    msg = b"ember-orchestrator-echo\n" * 64
    try:
        s.connect(uds)
        s.sendall(b"CONNECT %d\n" % port)
        line = b""
        while not line.endswith(b"\n"):
            c = s.recv(1)
            if not c:
                break
            line += c
        s.sendall(msg)
        s.shutdown(socket.SHUT_WR)
        got = b""
        while True:
            c = s.recv(65536)
            if not c:
                break
            got += c
    except OSError as e:
        return fail("%s: vsock CONNECT %d: %s" % (name, port, e))
    finally:
        s.close()
    expect(line.startswith(b"OK ") and got == msg,
           "%s: vsock CONNECT %d -> %s, %d bytes echoed" % (name, port, line.strip().decode(),
                                                            len(got)),
           "reply %r, %d of %d bytes" % (line, len(got), len(msg)))


def vsock_refused(uds, name, port):
    """CONNECT to a guest port nobody listens on: the guest resets the
    request and the host connection is closed then, without "OK" -- not
    when ember's 2 s request timeout (VSOCK_REQUEST_TIMEOUT_MS) fires."""
    import socket
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(TIMEOUT / 2)
    t0 = time.monotonic()
    try:
        s.connect(uds)
        s.sendall(b"CONNECT %d\n" % port)
        got = s.recv(64)
    except OSError as e:
        got = repr(e).encode()
    finally:
        s.close()
    dt = time.monotonic() - t0
    expect(got == b"" and dt < 1.0,
           "%s: vsock CONNECT %d (nobody listens): closed without OK after the guest's reset "
           "(%.0f ms, before the 2 s request timeout)" % (name, port, dt * 1000),
           "got %r after %.0f ms" % (got, dt * 1000))


def console_wait(path, needle, proc, timeout=TIMEOUT):
    """Until the console file holds needle (the guest's report) or the
    timeout passes: the file is followed as it grows (tail -F, inotify)."""
    t = subprocess.Popen(["timeout", str(int(timeout)), "tail", "-F", "-n", "+1", path],
                         stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    found = False
    for line in t.stdout:
        if needle.encode() in line:
            found = True
            break
    t.kill()
    t.wait()
    return found


def guest_report(path):
    with open(path, "rb") as f:
        text = f.read().decode("latin-1").replace("\r", "")
    fails = [ln for ln in text.splitlines() if ln.startswith("FAIL")]
    return text, fails


def start(name, args, env=None):
    out = open(os.path.join(TMP, name + ".console"), "wb")
    err = open(os.path.join(TMP, name + ".stderr"), "wb")
    p = subprocess.Popen([FC] + args, stdin=subprocess.DEVNULL, stdout=out, stderr=err,
                         env=env)
    return p, out.name, err.name


def reap(proc):
    """Kill proc if it still runs (a check failed midway) and wait for it."""
    if proc.poll() is None:
        proc.kill()
        proc.wait()


def wait_sock(sock, proc):
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and proc.poll() is None:
        if fcapi.wait_for_socket(sock, 0.05):
            return True
    return False


def vcpu_threads(pid):
    names = {}
    for tid in os.listdir("/proc/%d/task" % pid):
        try:
            with open("/proc/%d/task/%s/comm" % (pid, tid)) as f:
                comm = f.read().strip()
        except OSError:
            continue
        m = re.fullmatch(r"fc_vcpu\s*(\d+)", comm)
        if m:
            names[int(m.group(1))] = int(tid)
    return names


def stop_signal(proc, sig, name):
    proc.send_signal(sig)
    try:
        rc = proc.wait(15)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
        return fail("%s: still running 15 s after %s" % (name, sig.name))
    expect(rc == -sig, "%s: %s -> the process died by it (wait: %s), as Firecracker's" %
           (name, sig.name, "signal %d" % -rc if rc < 0 else "exit %d" % rc),
           "expected death by signal %d" % sig)


def check_contract(c, name):
    expect(not c.problems, "%s: %d responses match the Firecracker 1.17 contract" %
           (name, c.count), "; ".join(c.problems[:3]))


def version_gate(name, minimum):
    out = subprocess.run([FC, "--version"], capture_output=True, text=True, timeout=10)
    first = out.stdout.split("\n")[0]
    fields = first.split(" ")
    ver = fields[1].strip().lstrip("v") if len(fields) > 1 else ""
    parts = tuple(int(x) for x in ver.split(".")) if re.fullmatch(r"\d+\.\d+\.\d+", ver) else ()
    expect(out.returncode == 0 and fields[0] == "Firecracker" and parts >= minimum,
           "%s: `firecracker --version` first line %r parses as %s >= %s" %
           (name, first, ver, ".".join(map(str, minimum))), repr(out.stdout))


# ---- firecracker-go-sdk ----
def gosdk():
    name = "go-sdk"
    sock = os.path.join(TMP, "gosdk.sock")
    log = Fifo(os.path.join(TMP, "gosdk.log.fifo"))
    met = Fifo(os.path.join(TMP, "gosdk.metrics.fifo"))
    root = disk("gosdk-root.img")
    vs = os.path.join(TMP, "gosdk.vsock")
    p, console, err = start("gosdk", ["--api-sock", sock, "--id", "gosdk_vm"])
    try:
        if not expect(wait_sock(sock, p), name + ": API socket up"):
            return
        c = fcapi.Client(sock, SPEC)
        # waitForSocket: GET /machine-config until it answers
        st, _ = c.request("GET", "/machine-config")
        expect(st == 200, name + ": GET /machine-config (socket probe) 200")
        seq = [
            ("PUT", "/logger", {"log_path": log.path, "level": "Debug", "show_level": True,
                                "show_log_origin": False}),
            ("PUT", "/metrics", {"metrics_path": met.path}),
            ("PUT", "/machine-config", {"vcpu_count": 2, "mem_size_mib": 128, "smt": False}),
            ("GET", "/machine-config", None),
            ("PUT", "/boot-source", {"kernel_image_path": TESTGUEST,
                                     "boot_args": "console=ttyS0 reboot=k panic=1 pci=off "
                                                  "tg.mem=128 tg.cpus=2 tg.virtio=2 tg.blk=1 "
                                                  "tg.vsock=1 tg.wait=cad"}),
            ("PUT", "/drives/root_drive", {"drive_id": "root_drive", "is_read_only": False,
                                  "is_root_device": True, "path_on_host": root}),
            ("PUT", "/vsock", {"guest_cid": 3, "uds_path": vs, "vsock_id": "vsock0"}),
            ("PUT", "/actions", {"action_type": "InstanceStart"}),
        ]
        bad = []
        for m, path, body in seq:
            st, v = c.request(m, path, body)
            if st not in (200, 204):
                bad.append("%s %s -> %d %s" % (m, path, st, v))
        expect(not bad, name + ": logger, metrics, machine-config, boot-source, drive, "
               "vsock, InstanceStart accepted", "; ".join(bad))
        if console_wait(console, "ok vsock0.listen", p):
            vsock_echo(vs, name)
        if expect(console_wait(console, "TESTGUEST WAITING", p),
                  name + ": the guest ran its checks"):
            text, fails = guest_report(console)
            expect(not fails, name + ": guest checks all passed", "; ".join(fails[:3]))
        th = vcpu_threads(p.pid)
        expect(sorted(th) == [0, 1], name + ": vCPU threads named fc_vcpu 0, fc_vcpu 1",
               str(th))
        # Shutdown: SendCtrlAltDel; the guest resets, ember exits 0
        st, v = c.request("PUT", "/actions", {"action_type": "SendCtrlAltDel"})
        expect(st == 204, name + ": SendCtrlAltDel accepted", "%d %s" % (st, v))
        try:
            rc = p.wait(TIMEOUT)
        except subprocess.TimeoutExpired:
            rc = None
        expect(rc == 0, name + ": Shutdown (Ctrl-Alt-Del) -> exit 0", "rc=%s" % rc)
        c.close()
        check_contract(c, name)
        log.close()
        met.close()
        expect(b"Running" in log.data or b"INFO" in log.data or b"DEBUG" in log.data,
               name + ": the log FIFO got ember's lines", repr(log.data[:200]))
        expect(b"utc_timestamp_ms" in met.data, name + ": the metrics FIFO got a line",
               repr(met.data[:100]))
    finally:
        reap(p)
        if not log.stop:
            log.close()
            met.close()
    # StopVMM on a second instance: SIGTERM, Wait sees the signal
    sock2 = os.path.join(TMP, "gosdk2.sock")
    p, console, err = start("gosdk2", ["--api-sock", sock2, "--id", "gosdk_vm2"])
    try:
        if expect(wait_sock(sock2, p), name + ": second instance up"):
            c = fcapi.Client(sock2, SPEC)
            c.request("PUT", "/machine-config", {"vcpu_count": 1, "mem_size_mib": 64,
                                                 "smt": False})
            c.request("PUT", "/boot-source", {"kernel_image_path": TESTGUEST,
                                              "boot_args": "console=ttyS0 tg.mem=64 tg.cpus=1 "
                                                           "tg.wait=cad"})
            st, v = c.request("PUT", "/actions", {"action_type": "InstanceStart"})
            expect(st == 204, name + ": second instance started", "%d %s" % (st, v))
            console_wait(console, "TESTGUEST WAITING", p)
            c.close()
            stop_signal(p, signal.SIGTERM, name + " StopVMM")
            expect(not os.path.exists(sock2), name + ": API socket removed before dying")
    finally:
        reap(p)


# ---- firecracker-containerd ----
def containerd():
    name = "containerd"
    with open("/proc/cpuinfo") as f:
        intel = "GenuineIntel" in f.read()
    tpl = "T2" if intel else "T2A"
    sock = os.path.join(TMP, "ctrd.sock")
    p, console, err = start("ctrd", ["--api-sock", sock, "--id", "ctrd_vm"])
    try:
        if not expect(wait_sock(sock, p), name + ": API socket up"):
            return
        c = fcapi.Client(sock, SPEC)
        seq = [
            ("PUT", "/machine-config", {"vcpu_count": 1, "mem_size_mib": 64,
                                        "cpu_template": tpl}),
            ("PUT", "/boot-source", {"kernel_image_path": TESTGUEST,
                                     "boot_args": "console=ttyS0 tg.mem=64 tg.cpus=1 "
                                                  "tg.cpuid=1 tg.wait=cad"}),
            ("PUT", "/actions", {"action_type": "InstanceStart"}),
        ]
        bad = []
        for m, path, body in seq:
            st, v = c.request(m, path, body)
            if st not in (200, 204):
                bad.append("%s %s -> %d %s" % (m, path, st, v))
        expect(not bad, name + ": machine-config with cpu_template %s, boot-source, "
               "InstanceStart accepted" % tpl, "; ".join(bad))
        if expect(console_wait(console, "TESTGUEST WAITING", p),
                  name + ": the guest ran its checks"):
            text, fails = guest_report(console)
            expect(not fails, name + ": guest checks all passed", "; ".join(fails[:3]))
            m = re.search(r"TESTGUEST CPUID 0x1\.0 (0x[0-9a-f]+)", text)
            sig = int(m.group(1), 16) & 0x0fff3fff if m else None
            expect(sig == 0x306f2, name + ": the guest sees %s's CPU signature 0x306f2" % tpl,
                   "leaf 1 eax %s" % (m.group(1) if m else "not printed"))
        c.close()
        check_contract(c, name)
        stop_signal(p, signal.SIGTERM, name + " StopVMM")
    finally:
        reap(p)


# ---- Kata Containers ----
def kata():
    name = "kata"
    version_gate(name, (0, 21, 1))
    sock = os.path.join(TMP, "kata.sock")
    log = Fifo(os.path.join(TMP, "kata.log.fifo"))
    met = Fifo(os.path.join(TMP, "kata.metrics.fifo"))
    rootfs = disk("kata-rootfs.img")
    with open(rootfs, "r+b") as f:  # what the guest's read-only check reads
        f.seek(8 * 512)
        f.write(b"TG-READONLY-DISK")
    drives = [{"drive_id": "rootfs", "is_read_only": True, "is_root_device": False,
               "path_on_host": rootfs}]
    for i in range(8):  # createDiskPool: empty placeholder files
        drives.append({"drive_id": "drive_%d" % i, "is_read_only": False,
                       "is_root_device": False, "path_on_host": disk("kata-drive_%d" % i, 0)})
    cfg = {
        "boot-source": {"kernel_image_path": TESTGUEST,
                        "boot_args": "tsc=reliable no_timer_check rcupdate.rcu_expedited=1 "
                                     "i8042.direct=1 i8042.dumbkbd=1 i8042.nopnp=1 "
                                     "i8042.noaux=1 noreplace-smp reboot=k cryptomgr.notests "
                                     "net.ifnames=0 pci=lastbus=0 acpi=off console=ttyS0 "
                                     "tg.mem=256 tg.cpus=2 tg.virtio=10 tg.blk=9 tg.vsock=1 "
                                     "tg.wait=cad"},
        "machine-config": {"smt": False, "mem_size_mib": 256, "vcpu_count": 2},
        "vsock": {"guest_cid": 3, "uds_path": os.path.join(TMP, "kata.hvsock"),
                  "vsock_id": "root"},
        "logger": {"level": "Error", "log_path": log.path},
        "metrics": {"metrics_path": met.path},
        "drives": drives,
    }
    cfg_path = os.path.join(TMP, "fcConfig.json")
    with open(cfg_path, "w") as f:
        json.dump(cfg, f, indent="\t")
    p, console, err = start("kata", ["--api-sock", sock, "--config-file", cfg_path])
    try:
        if not expect(wait_sock(sock, p), name + ": API socket up"):
            return
        c = fcapi.Client(sock, SPEC)
        # waitVMMRunning: GET / until state == "Running" (10 ms apart)
        deadline = time.monotonic() + 10
        state = None
        while time.monotonic() < deadline:
            st, v = c.request("GET", "/")
            state = v.get("state") if isinstance(v, dict) else None
            if state == "Running":
                break
            time.sleep(0.01)  # Kata's own poll (waitVMMRunning), replayed as it is
        expect(state == "Running", name + ": GET / reports Running after --config-file",
               str(state))
        th = vcpu_threads(p.pid)
        expect(sorted(th) == [0, 1], name + ": GetThreadIDs finds fc_vcpu 0 and 1", str(th))
        if console_wait(console, "ok vsock0.listen", p):
            vsock_refused(os.path.join(TMP, "kata.hvsock"), name, 1024)  # agent not up yet
            vsock_echo(os.path.join(TMP, "kata.hvsock"), name)  # the agent's channel
        if expect(console_wait(console, "TESTGUEST WAITING", p),
                  name + ": the guest ran its checks"):
            text, fails = guest_report(console)
            # the placeholders are empty files: the guest's capacity check
            # fails on those (as a Linux guest sees 0-sector disks), nothing else
            other = [x for x in fails if not re.match(r"FAIL blk[1-8]\.init .*capacity=0 ", x)]
            expect(not other and "ok blk.count 9 virtio-blk devices" in text,
                   name + ": the guest sees the rootfs and the 8 pool drives",
                   "; ".join(other[:3]) or text[-300:])
        # hotplug: a pool placeholder gets a real backing file
        newdisk = disk("kata-hotplug.img")
        st, v = c.request("PATCH", "/drives/drive_0",
                          {"drive_id": "drive_0", "path_on_host": newdisk})
        expect(st == 204, name + ": PATCH /drives/drive_0 swaps the placeholder",
               "%d %s" % (st, v))
        c.close()
        check_contract(c, name)
        stop_signal(p, signal.SIGTERM, name + " StopVM")
    finally:
        reap(p)
        log.close()
        met.close()


# ---- flintlock ----
def flint():
    name = "flintlock"
    logf = os.path.join(TMP, "flint.log")
    metf = os.path.join(TMP, "flint.metrics")
    for f in (logf, metf):
        open(f, "a").close()  # ensureState creates them
    root = disk("flint-root.img")
    cfg = {
        "boot-source": {"kernel_image_path": TESTGUEST,
                        "boot_args": "console=ttyS0 reboot=k panic=1 pci=off tg.mem=128 "
                                     "tg.cpus=2 tg.virtio=1 tg.blk=1",
                        "initrd_path": None},
        "drives": [{"drive_id": "root", "path_on_host": root, "is_root_device": True,
                    "partuuid": None, "is_read_only": False, "cache_type": "Unsafe",
                    "rate_limiter": None}],
        "machine-config": {"vcpu_count": 2, "mem_size_mib": 128, "smt": False,
                           "track_dirty_pages": False},
        "balloon": None,
        "network-interfaces": [],
        "vsock": None,
        "logger": {"log_path": logf, "level": "Debug", "show_level": True,
                   "show_log_origin": True},
        "metrics": {"metrics_path": metf},
        "mmds-config": None,
    }
    cfg_path = os.path.join(TMP, "flint.json")
    with open(cfg_path, "w") as f:
        json.dump(cfg, f)
    p, console, err = start("flint", ["--id", "flintvm", "--boot-timer", "--no-api",
                                      "--config-file", cfg_path])
    try:
        rc = p.wait(TIMEOUT)
    except subprocess.TimeoutExpired:
        p.kill()
        rc = p.wait()
    text, fails = guest_report(console)
    expect(rc == 0 and "TESTGUEST DONE" in text and not fails,
           name + ": --no-api --config-file (nulls included) boots the guest, exit 0",
           "rc=%s %s %s" % (rc, "; ".join(fails[:3]), open(err).read()[-300:]))
    with open(logf) as f:
        lines = f.read().splitlines()
    expect(any("Guest-boot-time" in x for x in lines),
           name + ": --boot-timer line in the log file", str(lines[-3:]))
    with open(metf) as f:
        expect("utc_timestamp_ms" in f.read(), name + ": metrics in the metrics file")
    # --metadata FILE (flintlock passes the instance's metadata so): loaded
    # into the MMDS data store, the same boot
    meta = os.path.join(TMP, "flint.meta.json")
    with open(meta, "w") as f:
        json.dump({"latest": {"meta-data": {"instance-id": "flintvm2"}}}, f)
    p, console, err = start("flint-meta", ["--id", "flintvm2", "--boot-timer", "--no-api",
                                           "--config-file", cfg_path, "--metadata", meta])
    try:
        rc = p.wait(TIMEOUT)
    except subprocess.TimeoutExpired:
        p.kill()
        rc = p.wait()
    text, fails = guest_report(console)
    expect(rc == 0 and "TESTGUEST DONE" in text and not fails,
           name + ": --no-api --config-file --metadata FILE boots the guest, exit 0",
           "rc=%s %s %s" % (rc, "; ".join(fails[:3]), open(err).read()[-300:]))
    # what Firecracker refuses at start, ember refuses with its message
    with open(meta, "w") as f:
        f.write('{"latest": ')
    out = subprocess.run([FC, "--id", "flintvm3", "--no-api", "--config-file", cfg_path,
                          "--metadata", meta], capture_output=True, text=True, timeout=TIMEOUT)
    expect(out.returncode == 1 and "Populating MMDS from file failed" in out.stderr,
           name + ": --metadata with a broken file: exit 1, " + out.stderr.strip()[:80],
           "rc=%d %s" % (out.returncode, out.stderr[:200]))
    bad = dict(cfg, **{"mmds-config": {"version": "V2", "network_interfaces": ["eth0"]}})
    bad_path = os.path.join(TMP, "flint-bad.json")
    with open(bad_path, "w") as f:
        json.dump(bad, f)
    out = subprocess.run([FC, "--id", "flintvm4", "--no-api", "--config-file", bad_path],
                         capture_output=True, text=True, timeout=TIMEOUT)
    expect(out.returncode == 1 and "does not correspond to any existing network interface"
           in out.stderr, name + ": mmds-config naming no configured interface: exit 1",
           "rc=%d %s" % (out.returncode, out.stderr[:200]))


# ---- E2B ----
def e2b():
    name = "e2b"
    sock = os.path.join(TMP, "e2b.sock")
    met = Fifo(os.path.join(TMP, "e2b.metrics.fifo"))
    root = disk("e2b-rootfs.ext4")
    p, console, err = start("e2b", ["--api-sock", sock])
    try:
        if not expect(wait_sock(sock, p), name + ": API socket up"):
            return
        c = fcapi.Client(sock, SPEC)
        seq = [
            ("PUT", "/metrics", {"metrics_path": met.path}, 204),
            ("PUT", "/boot-source", {"boot_args": "quiet loglevel=1 panic=1 reboot=k pci=off "
                                                  "console=ttyS0 tg.mem=128 tg.cpus=2 "
                                                  "tg.virtio=2 tg.blk=1 tg.rng=1 tg.wait=cad",
                                     "kernel_image_path": TESTGUEST}, 204),
            ("PUT", "/drives/rootfs", {"drive_id": "rootfs", "path_on_host": root,
                                       "is_root_device": True, "is_read_only": False,
                                       "io_engine": "Async"}, 204),
            ("PUT", "/machine-config", {"vcpu_count": 2, "mem_size_mib": 128, "smt": True,
                                        "track_dirty_pages": False}, 204),
        ]
        bad = []
        for m, path, body, want in seq:
            st, v = c.request(m, path, body)
            if st != want:
                bad.append("%s %s -> %d %s" % (m, path, st, v))
        expect(not bad, name + ": metrics, boot-source, rootfs drive (io_engine Async), "
               "machine-config (smt: true) accepted", "; ".join(bad))
        st, v = c.request("GET", "/vm/config")
        engines = [d.get("io_engine") for d in (v or {}).get("drives") or []]
        expect(st == 200 and engines == ["Async"], name + ": GET /vm/config: io_engine Async",
               "%d %s" % (st, engines))
        st, v = c.request("PUT", "/entropy", {"rate_limiter": {"bandwidth": {
            "one_time_burst": 0, "size": 1024, "refill_time": 100}}})
        expect(st == 204, name + ": PUT /entropy (rate-limited virtio-rng)", "%d %s" % (st, v))
        # MMDS as E2B sets it up: config (without the interface here, so
        # Firecracker's answer), then the data store, read back
        st, v = c.request("PUT", "/mmds/config", {"version": "V2",
                                                  "network_interfaces": ["eth0"]})
        expect(st == 400 and "does not correspond" in str(v),
               name + ": PUT /mmds/config for a missing interface -> 400 as Firecracker",
               "%d %s" % (st, v))
        meta = {"instanceID": "i-e2b", "envID": "env", "address": "http://x",
                "traceID": "t", "teamID": "team"}
        st, v = c.request("PUT", "/mmds", meta)
        expect(st == 204, name + ": PUT /mmds (the sandbox's metadata)", "%d %s" % (st, v))
        st, v = c.request("GET", "/mmds")
        expect(st == 200 and v == meta, name + ": GET /mmds reads it back", "%d %s" % (st, v))
        st, v = c.request("PUT", "/machine-config", {"vcpu_count": 2, "mem_size_mib": 128,
                                                     "smt": True, "track_dirty_pages": False,
                                                     "huge_pages": "2M"})
        with open("/sys/kernel/mm/hugepages/hugepages-2048kB/free_hugepages") as f:
            free2m = int(f.read())
        huge = free2m >= 64
        if not huge:
            expect(st == 400 and "hugetlb" in str(v),
                   name + ": huge_pages 2M with %d free 2 MiB pages -> 400 at PUT" % free2m,
                   "%d %s" % (st, v))
            c.request("PUT", "/machine-config", {"vcpu_count": 2, "mem_size_mib": 128,
                                                 "smt": True, "track_dirty_pages": False})
        else:
            expect(st == 204, name + ": huge_pages 2M accepted (%d free 2 MiB pages)" % free2m,
                   "%d %s" % (st, v))
        st, v = c.request("PUT", "/actions", {"action_type": "InstanceStart"})
        expect(st == 204, name + ": InstanceStart", "%d %s" % (st, v))
        if expect(console_wait(console, "TESTGUEST WAITING", p),
                  name + ": the guest ran its checks"):
            text, fails = guest_report(console)
            expect(not fails, name + ": guest checks all passed (smt: 2 threads, 1 core)",
                   "; ".join(fails[:3]))
        if huge:
            # guest RAM is the hugetlb memfd: 2 MiB pages in smaps
            with open("/proc/%d/smaps" % p.pid) as f:
                smaps = f.read()
            blocks = [b for b in smaps.split("\n") if "ember-guest-ram" in b]
            kps = re.findall(r"ember-guest-ram[^\n]*\n(?:[^\n]*\n)*?KernelPageSize:\s+(\d+) kB",
                             smaps)
            expect(blocks and kps and all(k == "2048" for k in kps),
                   name + ": guest RAM mapped with KernelPageSize 2048 kB", str(kps))
        # a resumed sandbox gets its metadata again
        st, v = c.request("PUT", "/mmds", dict(meta, instanceID="i-e2b-2"))
        expect(st == 204, name + ": PUT /mmds while running", "%d %s" % (st, v))
        c.close()
        check_contract(c, name)
        # E2B stops with SIGTERM (then SIGKILL after 10 s)
        stop_signal(p, signal.SIGTERM, name + " Stop")
    finally:
        reap(p)
        met.close()


for s in sys.argv[4:]:
    print("-- " + s, flush=True)
    globals()[s]()
sys.exit(1 if failures else 0)
