#!/usr/bin/env bash
# The promise "nothing accepted and ignored" stays checked: every field of
# every request schema in the vendored YAML is in docs/API-FIELDS.md's table
# under its definition (tests/e2e/api/fields_doc.py). Also shows the check can
# fail: the same table with one field's mention taken out is refused.
set -u
. "$(dirname "$0")/lib.sh"
HERE=$(cd "$(dirname "$0")" && pwd)
SPEC=$HERE/api/firecracker-api-1.17.yaml
DOC=$HERE/../../docs/API-FIELDS.md

if out=$(python3 "$HERE/api/fields_doc.py" "$SPEC" "$DOC" 2>&1); then
	pass "docs/API-FIELDS.md: $(tail -n 1 <<<"$out")"
else
	fail "docs/API-FIELDS.md is incomplete:"
	sed 's/^/      | /' <<<"$out"
fi
# A doc without TokenBucket's `one_time_burst` must fail, naming it.
sed 's/`one_time_burst`/one_time_burst/g' "$DOC" >"$E2E_TMP/fields.md"
if out=$(python3 "$HERE/api/fields_doc.py" "$SPEC" "$E2E_TMP/fields.md" 2>&1); then
	fail "a table without TokenBucket.one_time_burst passed the check"
elif grep -q 'TokenBucket.one_time_burst' <<<"$out"; then
	pass "a field taken out of the table is found: $(grep -m1 '^missing' <<<"$out")"
else
	fail "the check failed without naming TokenBucket.one_time_burst: $out"
fi
finish
