"""Bad input against a live ember API socket: each case must get the right
status and a contract-conforming {"fault_message"} body, and the server must
go on serving afterwards (a fresh GET / answers 200). Also: a client that
connects and says nothing, one that stops mid-request, one that vanishes
mid-body, many clients at once, pipelining, 100-continue, the connection cap.

usage: bad_inputs.py SOCKET PHASE [ARGS]
  PHASE pre-boot  KERNEL  -- configuration errors, wrong-state requests
  PHASE post-boot         -- pre-boot-only requests on a running VM
"""
import json
import os
import socket
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import fcapi  # noqa: E402

SOCK = sys.argv[1]
PHASE = sys.argv[2]
spec = fcapi.Spec()
results = {"ok": 0, "fail": 0}


def report(ok, name, detail=""):
    if ok:
        results["ok"] += 1
        print("  ok   %s" % name)
    else:
        results["fail"] += 1
        print("  FAIL %s %s" % (name, detail))


def still_serving():
    c = fcapi.Client(SOCK, spec)
    try:
        st, body = c.request("GET", "/")
    except OSError as e:
        return False, str(e)
    finally:
        c.close()
    return st == 200 and isinstance(body, dict) and "state" in body, "GET / -> %s %r" % (st, body)


def check_error(name, method, path, status, headers, body, want, needle):
    problems = spec.check(method, path, status, body) if status is not None else []
    ok = status == want and not problems
    msg = ""
    if ok and needle:
        try:
            fm = json.loads(body)["fault_message"]
        except (ValueError, KeyError, TypeError):
            fm = ""
        if needle.lower() not in fm.lower():
            ok = False
            msg = "fault_message %r lacks %r" % (fm, needle)
    serving, why = still_serving()
    report(ok and serving, name,
           "status %s (want %d) %s %s body=%r %s" % (status, want, problems, msg, body[:200],
                                                     "" if serving else "NOT SERVING: " + why))


def raw_case(name, data, want=400, needle=None, method="GET", path="/"):
    status, headers, body, _ = fcapi.raw_exchange(SOCK, data)
    check_error(name, method, path, status, headers, body, want, needle)


def http(method, path, body=None, ctype=True):
    """One request on its own connection; body is str/bytes or None."""
    if isinstance(body, str):
        body = body.encode()
    head = "%s %s HTTP/1.1\r\nHost: localhost\r\nAccept: application/json\r\n" % (method, path)
    if body is not None:
        if ctype:
            head += "Content-Type: application/json\r\n"
        head += "Content-Length: %d\r\n" % len(body)
    data = head.encode() + b"\r\n" + (body or b"")
    return fcapi.raw_exchange(SOCK, data)


def case(name, method, path, body, want=400, needle=None):
    status, headers, rbody, _ = http(method, path, body)
    check_error(name, method, path, status, headers, rbody, want, needle)


def good(name, method, path, body=None, want=204):
    status, headers, rbody, _ = http(method, path, body)
    problems = spec.check(method, path, status, rbody) if status is not None else ["no answer"]
    report(status == want and not problems, name, "status %s body %r %s" % (status, rbody[:200],
                                                                             problems))
    return rbody


def malformed_http():
    raw_case("http: unsupported method POST", b"POST /actions HTTP/1.1\r\n\r\n")
    raw_case("http: unsupported method DELETE", b"DELETE /drives/x HTTP/1.1\r\n\r\n")
    raw_case("http: garbage request line", b"hello world\r\n\r\n")
    raw_case("http: HTTP/2.0", b"GET / HTTP/2.0\r\n\r\n")
    raw_case("http: bare LF line ends", b"GET / HTTP/1.1\nHost: x\n\n")
    raw_case("http: header without colon", b"GET / HTTP/1.1\r\nBogus\r\n\r\n")
    raw_case("http: obsolete line folding", b"GET / HTTP/1.1\r\nA: b\r\n c\r\n\r\n")
    raw_case("http: NUL in request line", b"GET /\x00 HTTP/1.1\r\n\r\n")
    raw_case("http: relative request target", b"GET machine-config HTTP/1.1\r\n\r\n")
    raw_case("http: Content-Length not a number",
             b"PUT /actions HTTP/1.1\r\nContent-Length: 1x\r\n\r\n{}")
    raw_case("http: conflicting Content-Length",
             b"PUT /actions HTTP/1.1\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\n{}")
    raw_case("http: chunked body refused",
             b"PUT /actions HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n2\r\n{}\r\n0\r\n\r\n",
             needle="Transfer-Encoding")
    raw_case("http: header larger than 8 KiB",
             b"GET / HTTP/1.1\r\n" + b"X-Pad: " + b"a" * 9000 + b"\r\n\r\n", needle="header")
    raw_case("http: body larger than 51200 bytes",
             b"PUT /actions HTTP/1.1\r\nContent-Length: 51201\r\n\r\n" + b" " * 51201,
             needle="51200")


def routing_and_ids():
    case("route: unknown path", "GET", "/nonexistent", None, needle="Invalid request method")
    case("route: PUT on a GET-only path", "PUT", "/version", "{}", needle="Invalid request method")
    case("route: GET with a body", "GET", "/machine-config", "{}", needle="cannot have a body")
    case("route: PUT without a body", "PUT", "/actions", None, needle="Empty PUT request")
    case("route: PATCH without a body", "PATCH", "/vm", None, needle="Empty PATCH request")
    case("id: missing drive id", "PUT", "/drives", '{"drive_id": "a"}', needle="cannot be empty")
    case("id: bad characters", "PUT", "/drives/bad-id!",
         '{"drive_id": "bad-id!", "path_on_host": "/etc/hostname", "is_root_device": false}',
         needle="alphanumeric")
    case("id: path and body differ", "PUT", "/drives/a",
         '{"drive_id": "b", "path_on_host": "/etc/hostname", "is_root_device": false}',
         needle="does not match")
    case("id: unicode", "PUT", "/drives/abc",
         '{"drive_id": "ab\\u00e7", "path_on_host": "/etc/hostname", "is_root_device": false}',
         needle="alphanumeric")
    case("id: 65 characters", "PUT", "/network-interfaces/" + "a" * 65,
         '{"iface_id": "a", "host_dev_name": "tap0"}', needle="64")


def json_bodies():
    mc = "/machine-config"
    case("json: not JSON", "PUT", mc, "{vcpu_count: 1}", needle="deserializing")
    case("json: an array", "PUT", mc, "[1, 2]", needle="expected an object")
    case("json: wrong type", "PUT", mc, '{"vcpu_count": "2", "mem_size_mib": 128}',
         needle="vcpu_count")
    case("json: float for an integer", "PUT", mc, '{"vcpu_count": 1.5, "mem_size_mib": 128}',
         needle="vcpu_count")
    case("json: negative number", "PUT", mc, '{"vcpu_count": 1, "mem_size_mib": -128}',
         needle="mem_size_mib")
    case("json: huge number", "PUT", mc, '{"vcpu_count": 1, "mem_size_mib": 1e400}',
         needle="mem_size_mib")
    case("json: missing field", "PUT", mc, '{"vcpu_count": 1}', needle="missing field `mem_size_mib`")
    case("json: unknown field", "PUT", mc, '{"vcpu_count": 1, "mem_size_mib": 128, "x": 1}',
         needle="unknown field `x`")
    case("json: duplicate field", "PUT", mc, '{"vcpu_count": 1, "vcpu_count": 2, "mem_size_mib": 1}',
         needle="duplicate")
    case("json: invalid cpu_template", "PUT", mc,
         '{"vcpu_count": 1, "mem_size_mib": 128, "cpu_template": "T9"}', needle="cpu_template")
    case("json: invalid action_type", "PUT", "/actions", '{"action_type": "Reboot"}',
         needle="action_type")
    case("json: invalid vm state", "PATCH", "/vm", '{"state": "paused"}', needle="state")
    case("json: NUL byte in the body", "PUT", "/boot-source",
         b'{"kernel_image_path": "/x\x00y"}', needle="NUL")
    case("json: \\u0000 in a string", "PUT", "/boot-source",
         '{"kernel_image_path": "/x\\u0000y"}', needle="NUL")
    case("json: invalid UTF-8", "PUT", "/boot-source", b'{"kernel_image_path": "/\xff\xfe"}',
         needle="UTF-8")
    case("json: trailing garbage", "PUT", "/actions", '{"action_type": "FlushMetrics"} {}',
         needle="trailing")
    case("json: nesting 5000 deep", "PUT", "/cpu-config", "[" * 5000 + "]" * 5000)
    case("json: PATCH with nothing to change", "PATCH", mc, "{}", needle="Empty PATCH request")


def semantics(kernel):
    mc = "/machine-config"
    case("range: vcpu_count 0", "PUT", mc, '{"vcpu_count": 0, "mem_size_mib": 128}',
         needle="number of vCPUs")
    case("range: vcpu_count 33", "PUT", mc, '{"vcpu_count": 33, "mem_size_mib": 128}',
         needle="number of vCPUs")
    case("range: odd vcpu_count with SMT", "PATCH", mc, '{"vcpu_count": 3, "smt": true}',
         needle="SMT")
    case("range: mem_size_mib 0", "PATCH", mc, '{"mem_size_mib": 0}', needle="memory size")
    case("file: kernel does not exist", "PUT", "/boot-source",
         '{"kernel_image_path": "/nonexistent/vmlinux"}', needle="kernel file")
    case("file: drive does not exist", "PUT", "/drives/d1",
         '{"drive_id": "d1", "path_on_host": "/nonexistent/disk", "is_root_device": false}',
         needle="/nonexistent/disk")
    good("good: root drive", "PUT", "/drives/root1",
         '{"drive_id": "root1", "path_on_host": "%s", "is_root_device": true, '
         '"is_read_only": true}' % kernel)
    case("conflict: second root drive", "PUT", "/drives/root2",
         '{"drive_id": "root2", "path_on_host": "%s", "is_root_device": true, '
         '"is_read_only": true}' % kernel, needle="root block device")
    case("range: vsock guest_cid 2", "PUT", "/vsock", '{"guest_cid": 2, "uds_path": "/tmp/v.s"}',
         needle="guest_cid")
    good("good: vsock", "PUT", "/vsock", '{"guest_cid": 3, "uds_path": "/tmp/ember-v.sock"}')
    case("range: balloon larger than memory", "PUT", "/balloon",
         '{"amount_mib": 100000, "deflate_on_oom": false}', needle="amount_mib")
    good("good: balloon", "PUT", "/balloon",
         '{"amount_mib": 16, "deflate_on_oom": true, "stats_polling_interval_s": 1}')
    body = good("good: GET /balloon", "GET", "/balloon", None, want=200)
    report(b'"amount_mib":16' in body, "good: balloon reads back", repr(body))
    case("format: bad guest_mac", "PUT", "/network-interfaces/eth0",
         '{"iface_id": "eth0", "host_dev_name": "tap0", "guest_mac": "zz:00:00:00:00:00"}',
         needle="guest_mac")
    good("good: network interface", "PUT", "/network-interfaces/eth0",
         '{"iface_id": "eth0", "host_dev_name": "tap0", "guest_mac": "06:00:00:00:00:01"}')
    case("conflict: host_dev_name in use", "PUT", "/network-interfaces/eth1",
         '{"iface_id": "eth1", "host_dev_name": "tap0"}', needle="already in use")
    case("enum: logger level", "PUT", "/logger", '{"level": "Loud"}', needle="level")
    case("file: metrics in a missing directory", "PUT", "/metrics",
         '{"metrics_path": "/nonexistent/dir/m.json"}', needle="Metrics error")
    good("good: cpu-config", "PUT", "/cpu-config",
         '{"cpuid_modifiers": [{"leaf": "0x1", "subleaf": "0x0", "flags": 0, "modifiers": '
         '[{"register": "ecx", "bitmap": "0bxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"}]}]}')
    good("good: entropy", "PUT", "/entropy", "{}")
    case("shape: entropy rate_limiter not an object", "PUT", "/entropy",
         '{"rate_limiter": 5}', needle="rate_limiter")
    # MMDS: Firecracker's errors, then a working configuration
    body = good("good: GET /mmds before any PUT", "GET", "/mmds", None, want=200)
    report(body.strip() == b"{}", "good: an empty data store reads {}", repr(body))
    case("mmds: PATCH before PUT", "PATCH", "/mmds", '{"a": 1}', needle="not initialized")
    case("mmds: not JSON", "PUT", "/mmds", '{"a": ', needle="deserializing")
    case("mmds: config, unknown interface", "PUT", "/mmds/config",
         '{"network_interfaces": ["nope"]}', needle="does not correspond")
    case("mmds: config, no interface", "PUT", "/mmds/config", '{"network_interfaces": []}',
         needle="is empty")
    case("mmds: config, interfaces missing", "PUT", "/mmds/config", '{"version": "V2"}',
         needle="network_interfaces")
    case("mmds: config, not link-local", "PUT", "/mmds/config",
         '{"network_interfaces": ["eth0"], "ipv4_address": "10.0.0.1"}', needle="link local")
    case("mmds: config, 169.254.0.x", "PUT", "/mmds/config",
         '{"network_interfaces": ["eth0"], "ipv4_address": "169.254.0.9"}', needle="link local")
    case("mmds: config, bad address", "PUT", "/mmds/config",
         '{"network_interfaces": ["eth0"], "ipv4_address": "169.254.1"}', needle="ipv4_address")
    case("mmds: config, version V3", "PUT", "/mmds/config",
         '{"network_interfaces": ["eth0"], "version": "V3"}', needle="version")
    case("mmds: config, unknown field", "PUT", "/mmds/config",
         '{"network_interfaces": ["eth0"], "allow": true}', needle="allow")
    case("mmds: unknown sub-path", "PUT", "/mmds/other", '{}', needle="Unrecognized")
    good("good: mmds config", "PUT", "/mmds/config",
         '{"network_interfaces": ["eth0"], "version": "V2", "ipv4_address": "169.254.170.2",'
         ' "imds_compat": true}')
    good("good: PUT /mmds", "PUT", "/mmds", '{"latest": {"meta-data": {"id": "i-1", "x": 1}}}')
    good("good: PATCH /mmds", "PATCH", "/mmds", '{"latest": {"meta-data": {"x": null}}}')
    body = good("good: GET /mmds", "GET", "/mmds", None, want=200)
    report(json.loads(body) == {"latest": {"meta-data": {"id": "i-1"}}},
           "good: the merge patch applied", repr(body))
    body = good("good: GET /vm/config", "GET", "/vm/config", None, want=200)
    report(json.loads(body).get("mmds-config") == {
        "version": "V2", "network_interfaces": ["eth0"], "ipv4_address": "169.254.170.2",
        "imds_compat": True}, "good: /vm/config reports mmds-config", repr(body[-300:]))
    for m, p, b in (("PUT", "/snapshot/create",
                                                '{"mem_file_path": "m", "snapshot_path": "s"}'),):
        case("unsupported: %s %s" % (m, p), m, p, b, needle="not supported")
    # free page hinting: post-boot only; BalloonStartCmd is checked like any body
    for m, p, b in (("PATCH", "/balloon/hinting/start", '{"acknowledge_on_stop": true}'),
                    ("PATCH", "/balloon/hinting/start", None),
                    ("PATCH", "/balloon/hinting/stop", None),
                    ("GET", "/balloon/hinting/status", None)):
        case("state: %s %s before boot" % (m, p), m, p, b, needle="before starting")
    case("shape: hinting start unknown field", "PATCH", "/balloon/hinting/start",
         '{"acknowledge": true}', needle="acknowledge")
    case("type: hinting acknowledge_on_stop not a bool", "PATCH", "/balloon/hinting/start",
         '{"acknowledge_on_stop": "yes"}', needle="acknowledge_on_stop")
    case("shape: hinting stop with a field", "PATCH", "/balloon/hinting/stop",
         '{"now": true}', needle="now")
    # pmem and memory hotplug (virtio-pmem, virtio-mem)
    case("file: pmem backing file missing", "PUT", "/pmem/p0",
         '{"id": "p0", "path_on_host": "/nonexistent/pmem.img"}', needle="Pmem config error")
    case("id: pmem path and body differ", "PUT", "/pmem/p0",
         '{"id": "p1", "path_on_host": "/etc/hostname"}', needle="does not match")
    case("shape: pmem unknown field", "PUT", "/pmem/p0",
         '{"id": "p0", "path_on_host": "/etc/hostname", "dax": true}', needle="dax")
    good("good: read-only pmem", "PUT", "/pmem/p0",
         '{"id": "p0", "path_on_host": "/etc/hostname", "read_only": true}')
    case("state: PATCH /pmem before boot", "PATCH", "/pmem/p0",
         '{"id": "p0", "rate_limiter": {"ops": {"size": 1, "refill_time": 10}}}',
         needle="before starting")
    case("value: hotplug total not a multiple of the slot", "PUT", "/hotplug/memory",
         '{"total_size_mib": 1000}', needle="total_size_mib")
    case("value: hotplug block size not a power of two", "PUT", "/hotplug/memory",
         '{"total_size_mib": 1024, "block_size_mib": 6}', needle="block_size_mib")
    case("value: hotplug slot size below 128", "PUT", "/hotplug/memory",
         '{"total_size_mib": 1024, "slot_size_mib": 64}', needle="slot_size_mib")
    case("state: GET /hotplug/memory unconfigured", "GET", "/hotplug/memory", None,
         needle="no hotpluggable memory")
    good("good: memory hotplug", "PUT", "/hotplug/memory", '{"total_size_mib": 1024}')
    body = good("good: GET /hotplug/memory", "GET", "/hotplug/memory", None, want=200)
    report(b'"total_size_mib":1024' in body and b'"plugged_size_mib":0' in body,
           "good: hotplug status reads back", repr(body))
    case("state: PATCH /hotplug/memory before boot", "PATCH", "/hotplug/memory",
         '{"requested_size_mib": 128}', needle="before starting")
    case("format: snapshot load without a memory source", "PUT", "/snapshot/load",
         '{"snapshot_path": "s"}', needle="mem_backend")
    case("state: snapshot load after configuration", "PUT", "/snapshot/load",
         '{"snapshot_path": "s", "mem_file_path": "m"}', needle="after configuring")
    case("state: pause before boot", "PATCH", "/vm", '{"state": "Paused"}',
         needle="before starting")
    case("state: Ctrl-Alt-Del before boot", "PUT", "/actions", '{"action_type": "SendCtrlAltDel"}',
         needle="before starting")
    case("state: FlushMetrics before boot", "PUT", "/actions", '{"action_type": "FlushMetrics"}',
         needle="before starting")
    case("state: PATCH /drives before boot", "PATCH", "/drives/root1",
         '{"drive_id": "root1", "path_on_host": "/etc/hostname"}', needle="before starting")
    case("state: balloon statistics before boot", "GET", "/balloon/statistics", None,
         needle="before starting")
    case("state: InstanceStart without a kernel", "PUT", "/actions",
         '{"action_type": "InstanceStart"}', needle="kernel")


def post_boot():
    case("state: PUT /machine-config after boot", "PUT", "/machine-config",
         '{"vcpu_count": 1, "mem_size_mib": 128}', needle="after starting")
    case("state: PUT /boot-source after boot", "PUT", "/boot-source",
         '{"kernel_image_path": "/etc/hostname"}', needle="after starting")
    case("state: PUT /drives after boot", "PUT", "/drives/late",
         '{"drive_id": "late", "path_on_host": "/etc/hostname", "is_root_device": false}',
         needle="after starting")
    case("state: PUT /logger after boot", "PUT", "/logger", '{"level": "Info"}',
         needle="after starting")
    case("state: InstanceStart twice", "PUT", "/actions", '{"action_type": "InstanceStart"}',
         needle="after starting")
    case("state: PATCH unknown network interface", "PATCH", "/network-interfaces/none",
         '{"iface_id": "none"}', needle="none")
    case("state: PATCH /balloon without a balloon", "PATCH", "/balloon", '{"amount_mib": 1}',
         needle="balloon")
    case("state: PUT /mmds/config after boot", "PUT", "/mmds/config",
         '{"network_interfaces": ["eth0"]}', needle="after starting")
    good("good: PUT /mmds after boot", "PUT", "/mmds", '{"k": "v"}')
    good("good: PATCH /mmds after boot", "PATCH", "/mmds", '{"k2": "v2"}')
    body = good("good: GET /mmds after boot", "GET", "/mmds", None, want=200)
    report(json.loads(body) == {"k": "v", "k2": "v2"}, "good: the data store after boot",
           repr(body))
    good("good: PATCH /vm Paused", "PATCH", "/vm", '{"state": "Paused"}')
    good("good: PATCH /vm Resumed", "PATCH", "/vm", '{"state": "Resumed"}')


def connections():
    # A client that connects and never sends anything, and one that stops
    # half-way through its head: both stay open through everything else.
    idle = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    idle.connect(SOCK)
    half = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    half.connect(SOCK)
    half.sendall(b"GET /version HTTP/1.1\r\nHost: x\r\n")
    # one that vanishes in the middle of a body
    gone = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    gone.connect(SOCK)
    gone.sendall(b"PUT /machine-config HTTP/1.1\r\nContent-Length: 100\r\n\r\n{\"vcpu_")
    gone.close()
    serving, why = still_serving()
    report(serving, "conn: serving with an idle, a half-sent and a vanished client", why)
    return idle, half


def finish_connections(idle, half):
    try:
        half.sendall(b"\r\n")
        half.settimeout(10)
        r = half.recv(4096)
        report(r.startswith(b"HTTP/1.1 200") and b"firecracker_version" in r,
               "conn: the half-sent request completes later", repr(r[:80]))
    except OSError as e:
        report(False, "conn: the half-sent request completes later", str(e))
    try:
        idle.sendall(b"GET / HTTP/1.1\r\n\r\n")
        idle.settimeout(10)
        r = idle.recv(4096)
        report(r.startswith(b"HTTP/1.1 200"), "conn: the idle client is still served", repr(r[:80]))
    except OSError as e:
        report(False, "conn: the idle client is still served", str(e))
    idle.close()
    half.close()


def pipelining_and_continue():
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(10)
    s.connect(SOCK)
    s.sendall(b"GET /version HTTP/1.1\r\n\r\nGET /machine-config HTTP/1.1\r\n\r\n"
              b"GET / HTTP/1.1\r\n\r\n")
    buf = b""
    deadline = time.monotonic() + 10
    while buf.count(b"HTTP/1.1 200") < 3 and time.monotonic() < deadline:
        chunk = s.recv(65536)
        if not chunk:
            break
        buf += chunk
    s.close()
    i1, i2, i3 = buf.find(b"firecracker_version"), buf.find(b"vcpu_count"), buf.find(b'"state"')
    report(buf.count(b"HTTP/1.1 200") == 3 and 0 <= i1 < i2 < i3,
           "conn: three pipelined requests answered in order", repr(buf[:120]))

    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(10)
    s.connect(SOCK)
    body = b'{"vcpu_count": 1, "mem_size_mib": 128}'
    s.sendall(b"PUT /machine-config HTTP/1.1\r\nExpect: 100-continue\r\nContent-Length: %d\r\n\r\n"
              % len(body))
    first = s.recv(4096)
    s.sendall(body)
    second = s.recv(4096)
    s.close()
    report(first.startswith(b"HTTP/1.1 100") and second.startswith(b"HTTP/1.1 204"),
           "conn: Expect: 100-continue", repr((first[:40], second[:40])))


def concurrency():
    errors = []

    def worker(n):
        c = fcapi.Client(SOCK, spec)
        try:
            for i in range(n):
                st, body = c.request("GET", "/machine-config" if i % 2 else "/")
                if st != 200:
                    errors.append(st)
            errors.extend(c.problems)
        except OSError as e:
            errors.append(str(e))
        finally:
            c.close()

    threads = [threading.Thread(target=worker, args=(50,)) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    report(not errors, "conn: 8 keep-alive clients x 50 requests at once", repr(errors[:3]))

    # the connection cap (64): nobody is refused; the last 16 wait in the
    # listen backlog until the first ones' grace period is over, then the
    # connections silent for longest (answered by then) are closed for them
    socks, statuses = [], []
    for _ in range(80):
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.connect(SOCK)  # blocking: waits while the listen backlog is full
        s.settimeout(10)
        socks.append(s)
    for s in socks:
        try:
            s.sendall(b"GET /version HTTP/1.1\r\n\r\n")
        except OSError:
            pass  # an evicted one is closed
    for s in socks:
        try:
            r = s.recv(4096)
            statuses.append(int(r.split(b" ")[1]) if r else None)
        except (OSError, IndexError, ValueError):
            statuses.append(None)
        s.close()
    serving, why = still_serving()
    n200 = statuses.count(200)
    report(serving and n200 == 80,
           "conn: 80 simultaneous clients -> %d x 200, still serving" % n200,
           why + " " + repr(statuses))


def main():
    if PHASE == "pre-boot":
        kernel = sys.argv[3]
        idle, half = connections()
        malformed_http()
        routing_and_ids()
        json_bodies()
        semantics(kernel)
        pipelining_and_continue()
        # before the connection cap evicts them, and well within the
        # request deadline of the half-sent one
        finish_connections(idle, half)
        concurrency()
    else:
        post_boot()
    print("  %d cases ok, %d failed" % (results["ok"], results["fail"]))
    return 1 if results["fail"] else 0


if __name__ == "__main__":
    sys.exit(main())
