#!/usr/bin/env bash
# Runs every tests/e2e/test_*.sh (or only the one named by $1, with or
# without .sh), prints PASS/FAIL and the time per script, and exits non-zero
# if any failed. Uses $BUILD (default build). Each script wraps every ember
# run in `timeout`; a whole script is also bounded here.
set -u
cd "$(dirname "$0")/../.." || exit 1
export BUILD=${BUILD:-build}
only=${1:-}
only=${only%.sh}
SCRIPT_TIMEOUT=${SCRIPT_TIMEOUT:-900}

if [ ! -r /dev/kvm ] || [ ! -w /dev/kvm ]; then
	echo "e2e: /dev/kvm is missing or not accessible to $(id -un); these tests boot real VMs"
	exit 1
fi

failed=()
n=0
for t in tests/e2e/test_*.sh; do
	name=$(basename "$t" .sh)
	[ -n "$only" ] && [ "$only" != "$name" ] && continue
	n=$((n + 1))
	echo "== $name"
	t0=$(date +%s%3N)
	timeout -k 5 "$SCRIPT_TIMEOUT" bash "$t"
	rc=$?
	secs=$(awk -v ms=$(($(date +%s%3N) - t0)) 'BEGIN { printf "%.1f", ms / 1000 }')
	if [ $rc -eq 0 ]; then
		echo "PASS $name (${secs}s)"
	else
		[ $rc -eq 124 ] && echo "  (script timed out after ${SCRIPT_TIMEOUT}s)"
		echo "FAIL $name (${secs}s)"
		failed+=("$name")
	fi
done
if [ $n -eq 0 ]; then
	echo "e2e: no test matched '${only}'"
	exit 1
fi
if [ ${#failed[@]} -gt 0 ]; then
	echo "e2e: ${#failed[@]} of $n failed: ${failed[*]}"
	exit 1
fi
echo "e2e: all $n passed"
