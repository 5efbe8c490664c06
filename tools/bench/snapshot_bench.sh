#!/usr/bin/env bash
# Snapshot section of `make bench` (tools/bench/snapshot_bench.py has the
# method): create time and size (Full, Diff after touching 1 % of RAM), load
# -> first guest output vs a cold boot, exec -> first KVM_RUN on the VMM side
# (kvm_run_shim.so) for a load vs cold boots (test guest; Debian's kernel
# when cached, over the API and through `ember run`), the floor under both
# (tools/bench/kvm_floor.c), ember CPU, private memory, 10 clones vs 10
# cold boots.
# SNAP_BENCH_MIB="128 1024", SNAP_BENCH_RUNS=5.
set -u
. "$(dirname "$0")/../common.sh"
BUILD=${BUILD:-build}
here=$EMBER_ROOT/tools/bench
SHIM=$EMBER_ROOT/$BUILD/bench/kvm_run_shim.so
mkdir -p "$(dirname "$SHIM")"
if [ ! -f "$SHIM" ] || [ "$here/kvm_run_shim.c" -nt "$SHIM" ]; then
	${CC:-cc} -O2 -Wall -Wextra -Werror -shared -fPIC -o "$SHIM" "$here/kvm_run_shim.c" -ldl || exit 1
fi
FLOOR=$EMBER_ROOT/$BUILD/bench/kvm_floor
if [ ! -f "$FLOOR" ] || [ "$here/kvm_floor.c" -nt "$FLOOR" ]; then
	${CC:-cc} -O2 -Wall -Wextra -Werror -o "$FLOOR" "$here/kvm_floor.c" || exit 1
	# the same statically linked (glibc's static PIE), where it links
	${CC:-cc} -O2 -Wall -Wextra -Werror -static-pie -o "$FLOOR-static" "$here/kvm_floor.c" \
		2>/dev/null || rm -f "$FLOOR-static"
	# and as ember is linked when built on musl (Makefile)
	musl=$EMBER_ROOT/$BUILD/musl
	[ -f "$musl/static-pie.specs" ] && gcc -specs="$musl/static-pie.specs" -isystem "$musl/include" \
		-O2 -Wall -Wextra -Werror -static-pie -o "$FLOOR-musl" "$here/kvm_floor.c" 2>/dev/null ||
		rm -f "$FLOOR-musl"
fi
if kdir=$("$EMBER_ROOT/tools/fetch-debian-kernel.sh" 2>/dev/null) &&
	initrd=$("$EMBER_ROOT/tools/mkinitramfs.sh" "$kdir" 2>/dev/null); then
	export SNAP_BENCH_LINUX="$kdir/vmlinuz $initrd"
fi
export BUILD
exec python3 "$here/snapshot_bench.py"
