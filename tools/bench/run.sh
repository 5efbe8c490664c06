#!/usr/bin/env bash
# `make bench`: runs every section script tools/bench/*_bench.sh (in name
# order) and prints one report. To add a section, add tools/bench/NAME_bench.sh:
# it gets BUILD in the environment, prints its own readable lines and exits
# non-zero only if it could not measure. BENCH=NAME runs one section.
set -u
BUILD=${BUILD:-build}
export BUILD
dir=$(dirname "$0")
only=${BENCH:-}
fail=0
n=0

cpu=$(awk -F': *' '/^model name/ { print $2; exit }' /proc/cpuinfo 2>/dev/null)
echo "ember benchmarks — $(date -u '+%Y-%m-%d %H:%M UTC'), $(uname -sr), $(nproc) CPU(s)${cpu:+, $cpu}"
echo "ember: $("$BUILD/ember" --version 2>/dev/null || echo "$BUILD/ember missing")"
for s in "$dir"/*_bench.sh; do
	[ -f "$s" ] || continue
	name=$(basename "$s" _bench.sh)
	[ -n "$only" ] && [ "$only" != "$name" ] && continue
	n=$((n + 1))
	echo
	echo "== $name =="
	start=$(date +%s)
	if ! bash "$s"; then
		echo "-- $name: FAILED"
		fail=1
	fi
	echo "-- $name: $(($(date +%s) - start)) s"
done
[ $n -gt 0 ] || { echo "no benchmark section matched '${only}'"; exit 1; }
exit $fail
