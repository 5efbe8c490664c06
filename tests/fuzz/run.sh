#!/usr/bin/env bash
# Builds every libFuzzer target (tests/fuzz/fuzz_*.c) with clang and
# -fsanitize=fuzzer,address,undefined into $BUILD/fuzz/ (default build-fuzz;
# the library is built there too, instrumented) and runs each for SECONDS
# (default 10) on a scratch copy of its seed corpus tests/fuzz/corpus/<target>/.
#   tests/fuzz/run.sh [SECONDS] [TARGET...]       (make fuzz FUZZ_SECONDS=N)
# Crashes are written to $BUILD/fuzz/crashes/<target>/ and fail the run; the
# libFuzzer output of the last run is in $BUILD/fuzz/logs/<target>.log.
# FUZZ_JOBS=N runs N targets at once (default 1); FUZZ_ARGS adds libFuzzer
# flags. Targets that need root (net: a TAP in a private netns) are skipped
# without it.
set -u
cd "$(dirname "$0")/../.." || exit 1
BUILD=${BUILD:-build-fuzz}
SECONDS_EACH=${1:-10}
[ $# -gt 0 ] && shift
ONLY=("$@")
OUT=$BUILD/fuzz
CC=${FUZZ_CC:-clang}
SAN="-fsanitize=address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer"
# Coverage instrumentation for the library; the targets link libFuzzer.
# clang warns about a few GNU idioms gcc takes silently (-Werror stays on).
export CFLAGS="-O1 -g -fsanitize=fuzzer-no-link $SAN -Wno-gnu-variable-sized-type-not-at-end"

command -v "$CC" >/dev/null || { echo "fuzz: $CC not found (make setup installs clang)"; exit 1; }
mkdir -p "$OUT/obj" "$OUT/crashes" "$OUT/logs"
# scratch corpora of this run (concurrent runs do not share them)
SCRATCH=$(mktemp -d "$OUT/run.XXXXXX")
trap 'rm -rf "$SCRATCH"' EXIT

echo "fuzz: building the library with $CC into $BUILD/"
make --no-print-directory -s BUILD="$BUILD" CC="$CC" "$BUILD/libember.a" || exit 1
LDLIBS=$(make --no-print-directory -s -f Makefile -f <(printf 'print-%%:\n\t@echo $($*)\n') \
	BUILD="$BUILD" print-LDLIBS) || exit 1
CFLAGS_ALL="$CFLAGS -std=gnu11 -Wall -Wextra -Werror -Wno-unused-parameter -Iinclude -Itests -Itests/device \
-Itests/fuzz -D_GNU_SOURCE"

# Shared helpers: the guest-less driver and device fixtures, the fuzz harness.
HELPERS=()
for src in tests/device/vdriver.c tests/device/net_fix.c tests/fuzz/fuzz_virtio.c; do
	obj=$OUT/obj/$(basename "$src" .c).o
	if [ ! -e "$obj" ] || [ "$src" -nt "$obj" ] || [ -n "$(find include tests/device tests/fuzz -name '*.h' -newer "$obj" | head -n 1)" ]; then
		$CC $CFLAGS_ALL -c "$src" -o "$obj" || exit 1
	fi
	HELPERS+=("$obj")
done

targets=()
for src in tests/fuzz/fuzz_*.c; do
	t=$(basename "$src" .c)
	[ "$t" = fuzz_virtio ] && continue
	if [ ${#ONLY[@]} -gt 0 ]; then
		keep=0
		for o in "${ONLY[@]}"; do [ "$o" = "$t" ] && keep=1; done
		[ $keep -eq 1 ] || continue
	fi
	bin=$OUT/$t
	if [ ! -e "$bin" ] || [ "$src" -nt "$bin" ] || [ "$BUILD/libember.a" -nt "$bin" ] ||
		[ tests/fuzz/fuzz_virtio.c -nt "$bin" ]; then
		echo "fuzz: building $t"
		# shellcheck disable=SC2086
		$CC $CFLAGS_ALL -fsanitize=fuzzer $SAN "$src" "${HELPERS[@]}" "$BUILD/libember.a" \
			$LDLIBS -o "$bin" || exit 1
	fi
	targets+=("$t")
done
[ ${#targets[@]} -gt 0 ] || { echo "fuzz: no target matched"; exit 1; }

# run_target NAME: SECONDS_EACH seconds on a scratch copy of the seeds.
run_target() {
	local t=$1 corpus=$SCRATCH/$t crashes=$OUT/crashes/$t log=$OUT/logs/$t.log dict=() rc
	if [ "$t" = fuzz_virtio_net ] && [ "$(id -u)" -ne 0 ]; then
		echo "SKIP $t (needs root: a TAP in a private network namespace)"
		return 0
	fi
	mkdir -p "$corpus" "$crashes"
	[ -d tests/fuzz/corpus/$t ] && cp -r tests/fuzz/corpus/$t/. "$corpus/"
	[ -f tests/fuzz/$t.dict ] && dict=(-dict=tests/fuzz/$t.dict)
	# shellcheck disable=SC2086
	"$OUT/$t" -max_total_time="$SECONDS_EACH" -timeout=10 -rss_limit_mb=4096 -print_final_stats=1 \
		-artifact_prefix="$crashes/" "${dict[@]}" ${FUZZ_ARGS:-} "$corpus" >"$log" 2>&1
	rc=$?
	local runs cov
	runs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$')
	cov=$(grep -o 'cov: [0-9]*' "$log" | tail -n 1 | grep -o '[0-9]*')
	if [ $rc -ne 0 ]; then
		echo "FAIL $t (exit $rc) after ${runs:-?} runs; crash input in $crashes/, log $log"
		grep -E 'ERROR|SUMMARY|==[0-9]+==' "$log" | head -n 5 | sed 's/^/      | /'
		return 1
	fi
	echo "PASS $t: ${runs:-?} runs in ${SECONDS_EACH}s, coverage ${cov:-?} edges"
}

failed=()
jobs_max=${FUZZ_JOBS:-1}
if [ "$jobs_max" -le 1 ]; then
	for t in "${targets[@]}"; do
		run_target "$t" || failed+=("$t")
	done
else
	pids=()
	for t in "${targets[@]}"; do
		run_target "$t" >"$SCRATCH/$t.result" &
		pids+=($!)
		while [ "$(jobs -rp | wc -l)" -ge "$jobs_max" ]; do sleep 0.2; done
	done
	for i in "${!pids[@]}"; do
		wait "${pids[$i]}" || failed+=("${targets[$i]}")
		cat "$SCRATCH/${targets[$i]}.result"
	done
fi
if [ ${#failed[@]} -gt 0 ]; then
	echo "fuzz: ${#failed[@]} of ${#targets[@]} targets failed: ${failed[*]}"
	exit 1
fi
echo "fuzz: all ${#targets[@]} targets ran ${SECONDS_EACH}s each without a crash"
