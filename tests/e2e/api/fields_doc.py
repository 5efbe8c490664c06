#!/usr/bin/env python3
"""The docs table of request fields is complete: every field of every request
schema in the vendored Firecracker YAML (bodies of PUT/PATCH requests and the
definitions they reference) is named in docs/API-FIELDS.md, under a row that
names its definition in bold. Keeps the promise "nothing accepted and
ignored" checked: a new field in the YAML fails here until the docs say what
ember does with it.
  fields_doc.py [SPEC] [DOC]; exit 1 and one line per missing field."""
import os
import re
import sys

import yaml

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.normpath(os.path.join(HERE, "..", "..", ".."))


def request_definitions(spec):
    """Names of the definitions reachable from request bodies."""
    todo, seen = [], set()
    for path, ops in spec.get("paths", {}).items():
        for method, op in ops.items():
            if not isinstance(op, dict):
                continue
            for p in op.get("parameters", []):
                if p.get("in") == "body":
                    todo.append(p.get("schema", {}))

    def refs(node):
        if isinstance(node, dict):
            r = node.get("$ref")
            if isinstance(r, str) and r.startswith("#/definitions/"):
                yield r.split("/")[-1]
            for v in node.values():
                yield from refs(v)
        elif isinstance(node, list):
            for v in node:
                yield from refs(v)

    defs = spec.get("definitions", {})
    while todo:
        for name in refs(todo.pop()):
            if name not in seen and name in defs:
                seen.add(name)
                todo.append(defs[name])
    return {n: defs[n] for n in sorted(seen)}


def request_table(text):
    m = re.search(r"^## Request fields\n(.*?)(?=^## |\Z)", text, re.S | re.M)
    return m.group(1) if m else ""


def doc_sections(table):
    """Definition name -> the text of its rows in the 'Request fields' table."""
    sections, current = {}, []
    for line in table.splitlines():
        if not line.startswith("|"):
            continue
        first = line.split("|")[1].strip()
        # a row opens a section when its first cell starts with **Name**
        names = re.findall(r"\*\*([A-Za-z0-9_]+)\*\*", first) if first.startswith("**") else []
        if names:
            current = names
        for n in current:
            sections[n] = sections.get(n, "") + "\n" + line
    return sections


def main(argv):
    spec_path = argv[1] if len(argv) > 1 else os.path.join(HERE, "firecracker-api-1.17.yaml")
    doc_path = argv[2] if len(argv) > 2 else os.path.join(ROOT, "docs", "API-FIELDS.md")
    with open(spec_path) as f:
        spec = yaml.safe_load(f)
    with open(doc_path) as f:
        table = request_table(f.read())
    sections = doc_sections(table)
    defs = request_definitions(spec)
    missing = []
    nfields = 0
    for name, d in defs.items():
        fields = sorted((d.get("properties") or {}).keys())
        if not fields and d.get("enum"):
            # an enum (CpuTemplate): the row that names it lists every value
            rows = [ln for ln in table.splitlines() if "**%s**" % name in ln]
            nfields += len(d["enum"])
            if not rows:
                missing.append("%s: no row names **%s** in the Request fields table" %
                               (name, name))
            for v in d["enum"]:
                if rows and not any("`%s`" % v in r for r in rows):
                    missing.append("%s value %s: not in the row that names **%s**" %
                                   (name, v, name))
            continue
        if name not in sections:
            missing.append("%s: no row names **%s** in the Request fields table" % (name, name))
            continue
        for fld in fields:
            nfields += 1
            if "`%s`" % fld not in sections[name]:
                missing.append("%s.%s: not in the rows of **%s**" % (name, fld, name))
    for line in missing:
        print("missing: " + line)
    print("%d request definitions, %d fields; %d missing from %s" %
          (len(defs), nfields, len(missing), os.path.relpath(doc_path, ROOT)))
    return 1 if missing else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
