"""Firecracker API test helpers: an HTTP client over a Unix socket and a
checker that validates every response against the YAML contract
(shared/spec/firecracker-api-1.17.yaml, Swagger 2.0) with jsonschema.

The checker is stricter than the contract in two ways that Firecracker also
honours: error responses (status >= 400) must carry {"fault_message": str},
and objects may not hold properties their schema does not declare.

CLI: python3 fcapi.py SPEC LOG  -- LOG lines are "METHOD PATH STATUS BODYFILE"
(written by test_api.sh for every curl call); exits 1 on any problem.
"""
import copy
import http.client
import json
import os
import re
import socket
import sys
import time

import jsonschema
import yaml

HERE = os.path.dirname(os.path.abspath(__file__))
# The contract, vendored from the project's shared spec (Firecracker's API
# description, Apache-2.0).
DEFAULT_SPEC = os.path.join(HERE, "firecracker-api-1.17.yaml")

# ember's documented extensions to Firecracker's objects (README, "API
# extensions"); everything else must match the contract exactly.
EMBER_EXTENSIONS = {
    "InstanceInfo": {
        "measured_boot": {
            "type": "object",
            "required": ["kernel_sha256", "cmdline_sha256"],
            "properties": {
                "kernel_sha256": {"type": "string", "pattern": "^[0-9a-f]{64}$"},
                "initrd_sha256": {"type": "string", "pattern": "^[0-9a-f]{64}$"},
                "cmdline_sha256": {"type": "string", "pattern": "^[0-9a-f]{64}$"},
            },
            "additionalProperties": False,
        },
        "arch": {"type": "string", "enum": ["x86_64", "aarch64"]},
    },
    "BootSource": {
        "kernel_decompress": {"type": "boolean"},
        "cmdline_override": {"type": "boolean"},
        "measured_boot": {"type": "boolean"},
    },
}


def find_spec():
    for p in (os.environ.get("FC_API_SPEC"), DEFAULT_SPEC):
        if p and os.path.exists(p):
            return p
    raise SystemExit("Firecracker API spec not found (set FC_API_SPEC)")


def _strict(schema):
    """additionalProperties: false wherever an object lists its properties."""
    if isinstance(schema, dict):
        out = {k: _strict(v) for k, v in schema.items()}
        if "properties" in out and "additionalProperties" not in out:
            out["additionalProperties"] = False
        return out
    if isinstance(schema, list):
        return [_strict(v) for v in schema]
    return schema


class Spec:
    def __init__(self, path=None):
        with open(path or find_spec()) as f:
            self.doc = yaml.safe_load(f)
        self.defs = _strict(copy.deepcopy(self.doc["definitions"]))
        for name, props in EMBER_EXTENSIONS.items():
            self.defs[name].setdefault("properties", {}).update(props)
        # Firecracker writes an unset section of GET /vm/config as null (its
        # serde Option), which Swagger 2.0 cannot say: allow null there.
        full = self.defs["FullVmConfiguration"]["properties"]
        for name, sch in list(full.items()):
            if "$ref" in sch:
                full[name] = {"anyOf": [sch, {"type": "null"}]}
        self.paths = []
        for tmpl, ops in self.doc["paths"].items():
            rx = "^" + re.sub(r"\{[^}]+\}", "[^/]+", tmpl) + "/?$"
            self.paths.append((re.compile(rx), tmpl, ops))

    def operation(self, method, path):
        path = path.split("?", 1)[0]
        for rx, tmpl, ops in self.paths:
            if rx.match(path) and method.lower() in ops:
                return tmpl, ops[method.lower()]
        return None, None

    def _validate(self, schema, value):
        root = dict(schema)
        root["definitions"] = self.defs
        if "$ref" in schema:
            root = {"$ref": schema["$ref"], "definitions": self.defs}
        else:
            root = _strict(root)
        v = jsonschema.Draft4Validator(root)
        return ["%s at %s" % (e.message, "/".join(str(x) for x in e.absolute_path) or "<root>")
                for e in v.iter_errors(value)]

    def check(self, method, path, status, body):
        """Problems (list of str) with one response; body is bytes."""
        problems = []
        tmpl, op = self.operation(method, path)
        if op is None:
            # Not in the contract: Firecracker answers 400 + fault_message.
            if status != 400:
                problems.append("%s %s is not in the contract, expected 400, got %d" %
                                (method, path, status))
            resp = {"schema": {"$ref": "#/definitions/Error"}}
        else:
            responses = op.get("responses", {})
            resp = responses.get(status) or responses.get(str(status)) or responses.get("default")
            if resp is None:
                problems.append("%s %s: status %d not allowed by the contract" %
                                (method, tmpl, status))
                return problems
            if status < 300 and status not in responses and str(status) not in responses:
                problems.append("%s %s: success status %d not in the contract" %
                                (method, tmpl, status))
        if status == 204:
            if body:
                problems.append("%s %s: 204 with a body (%d bytes)" % (method, path, len(body)))
            return problems
        schema = resp.get("schema")
        if schema is None:
            if body:
                problems.append("%s %s: %d carries a body the contract does not describe" %
                                (method, path, status))
            return problems
        try:
            value = json.loads(body.decode("utf-8"))
        except (UnicodeDecodeError, ValueError) as e:
            problems.append("%s %s: %d body is not JSON (%s): %r" %
                            (method, path, status, e, body[:200]))
            return problems
        for msg in self._validate(schema, value):
            problems.append("%s %s: %d body does not match the contract: %s; body %s" %
                            (method, path, status, msg, json.dumps(value)[:300]))
        if status >= 400 and not (isinstance(value, dict) and
                                  isinstance(value.get("fault_message"), str) and
                                  value["fault_message"]):
            problems.append("%s %s: %d without a fault_message" % (method, path, status))
        return problems


class UnixHTTPConnection(http.client.HTTPConnection):
    def __init__(self, sock_path, timeout=30):
        super().__init__("localhost", timeout=timeout)
        self.sock_path = sock_path

    def connect(self):
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.settimeout(self.timeout)
        s.connect(self.sock_path)
        self.sock = s


class Client:
    """Keep-alive JSON client; every response is checked against the spec."""

    def __init__(self, sock_path, spec=None):
        self.sock_path = sock_path
        self.spec = spec
        self.conn = UnixHTTPConnection(sock_path)
        self.problems = []
        self.count = 0

    def request(self, method, path, body=None, raw_body=None):
        headers = {"Accept": "application/json"}
        data = None
        if raw_body is not None:
            data = raw_body
        elif body is not None:
            data = json.dumps(body).encode()
        if data is not None:
            headers["Content-Type"] = "application/json"
        try:
            self.conn.request(method, path, body=data, headers=headers)
            r = self.conn.getresponse()
            payload = r.read()
        except (http.client.HTTPException, OSError):
            self.conn.close()
            self.conn = UnixHTTPConnection(self.sock_path)
            raise
        self.count += 1
        if self.spec:
            self.problems += self.spec.check(method, path, r.status, payload)
        if r.getheader("Connection", "").lower() == "close":
            self.conn.close()
            self.conn = UnixHTTPConnection(self.sock_path)
        value = None
        if payload:
            try:
                value = json.loads(payload)
            except ValueError:
                value = payload
        return r.status, value

    def close(self):
        self.conn.close()


def raw_exchange(sock_path, data, timeout=10):
    """Send raw bytes, read until the server closes or a full response came.
    Returns (status, headers dict, body bytes, closed)."""
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(timeout)
    s.connect(sock_path)
    try:
        if data:
            s.sendall(data)
    except OSError:
        pass  # the server may answer and close before reading it all
    buf = b""
    closed = False
    status, headers, body = None, {}, b""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            chunk = s.recv(65536)
        except socket.timeout:
            break
        except ConnectionResetError:
            closed = True
            break
        if not chunk:
            closed = True
            break
        buf += chunk
        if b"\r\n\r\n" in buf:
            head, rest = buf.split(b"\r\n\r\n", 1)
            lines = head.decode("latin-1").split("\r\n")
            status = int(lines[0].split(" ")[1])
            headers = {}
            for ln in lines[1:]:
                k, _, v = ln.partition(":")
                headers[k.strip().lower()] = v.strip()
            n = int(headers.get("content-length", "0"))
            if status == 100:
                buf = rest
                continue
            if len(rest) >= n:
                body = rest[:n]
                break
    s.close()
    return status, headers, body, closed


def wait_for_socket(path, timeout=10.0):
    """Wait until something accepts connections on path."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            s.connect(path)
            s.close()
            return True
        except OSError:
            time.sleep(0.01)
    return False


def main(argv):
    if len(argv) != 3:
        print("usage: fcapi.py SPEC LOG", file=sys.stderr)
        return 2
    spec = Spec(argv[1])
    problems, n = [], 0
    with open(argv[2]) as f:
        for line in f:
            if not line.strip():
                continue
            method, path, status, body_file = line.split()
            with open(body_file, "rb") as bf:
                body = bf.read()
            n += 1
            problems += spec.check(method, path, int(status), body)
    for p in problems:
        print("  contract: " + p)
    print("  checked %d responses against the contract: %d problem(s)" % (n, len(problems)))
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
