#!/usr/bin/env bash
# Runs every cmocka binary in DIR (or only the one named by $2); fails if any fails.
set -u
dir=$1; only=${2:-}
fail=0; n=0
for t in "$dir"/test_*; do
  [ -x "$t" ] || continue
  case "$t" in *.d|*.o) continue;; esac
  name=$(basename "$t")
  [ -n "$only" ] && [ "$only" != "$name" ] && continue
  n=$((n+1))
  if ! "$t"; then echo "FAILED: $name"; fail=1; fi
done
[ $n -gt 0 ] || { echo "no tests matched in $dir"; exit 1; }
exit $fail
