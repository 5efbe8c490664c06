#!/usr/bin/env bash
# tools/musl-libs.sh OUTDIR: builds, for musl-gcc on x86_64, the static
# archives ember links (OUTDIR/lib/lib{cjson,seccomp,cap-ng,uring,z,lzma,lz4,
# zstd,nettle}.a) and their public headers (OUTDIR/include, with symlinks to the
# host's kernel uapi headers, which musl's include directory lacks), then
# writes OUTDIR/.ok once a smoke test linked with `musl-gcc -static-pie` ran.
#
# Why: ember is one static PIE started for every microVM, and glibc's static
# start-up costs 0.72-0.87 ms of CPU on this host (about 100 CPUID
# instructions, each a trap to the hypervisor) against 0.04-0.06 ms for musl
# (measured on an empty static-pie program). Debian ships these archives for glibc only, so they are
# rebuilt here from Debian's own source of each installed -dev package's
# version (upstream tarball + Debian's patches, security fixes among them),
# downloaded once into $EMBER_CACHE/src and checked against the SHA-256 sums
# pinned below (those of the version's .dsc). Nothing fetched or built is
# committed; the result is cached in $EMBER_CACHE/musl-libs/<key>.
#
# Two are taken as Debian built them: zlib and libzstd (TAKEN). Their
# installed versions are security updates (1.2.13.dfsg-1+deb12u1,
# 1.5.4+dfsg2-5+deb12u1) whose source the mirror reachable here does not
# serve (404), and an older source would drop those fixes. Both are pure
# computation: the objects ember pulls in (crc32, inflate, the zstd stream
# decoder) name only memcpy/malloc-level functions that musl has, the
# archives are PIE like everything Debian builds, and the smoke test links
# and runs exactly those entry points; a glibc-only symbol would fail the
# link there, and ember would link against glibc.
#
# A version not pinned here, no network, a checksum mismatch or a build error:
# one line on stderr, no .ok, exit 0; ember then links against glibc.
set -euo pipefail
out=${1:?usage: musl-libs.sh OUTDIR}
tools=$(cd "$(dirname "$0")" && pwd)
. "$tools/common.sh"
export EMBER_CACHE # the same for cjson-static.sh

note() {
	printf 'musl-libs: %s; ember links against glibc\n' "$*" >&2
	exit 0
}

# Debian source package -> the -dev package whose installed version is built
# (SRCS) or whose installed archive is taken (TAKEN)
SRCS="cjson libseccomp libcap-ng liburing xz-utils lz4 nettle"
TAKEN="zlib libzstd"
devpkg() {
	case $1 in
	cjson) echo libcjson-dev ;;
	libseccomp) echo libseccomp-dev ;;
	libcap-ng) echo libcap-ng-dev ;;
	liburing) echo liburing-dev ;;
	zlib) echo zlib1g-dev ;;
	xz-utils) echo liblzma-dev ;;
	lz4) echo liblz4-dev ;;
	libzstd) echo libzstd-dev ;;
	nettle) echo nettle-dev ;;
	esac
}

# pinned SRC VERSION -> "orig sha256 debian sha256" (file names and sums from
# the version's .dsc; the .asc signatures are not needed)
pinned() {
	case $1=$2 in
	cjson=1.7.15-1+deb12u4)
		echo cjson_1.7.15.orig.tar.gz 5308fd4bd90cef7aa060558514de6a1a4a0819974a26e6ed13973c5f624c24b2 \
			cjson_1.7.15-1+deb12u4.debian.tar.xz afd19a970966cf534ff1e9ec077d710a5e7e78eb4ec9b499c8bdc32e55da12cb
		;;
	libseccomp=2.5.4-1+deb12u1)
		echo libseccomp_2.5.4.orig.tar.gz d82902400405cf0068574ef3dc1fe5f5926207543ba1ae6f8e7a1576351dcbdb \
			libseccomp_2.5.4-1+deb12u1.debian.tar.xz 665fc6ad1b9887207b0af1a293a2d7975e2df503a2618d1808b970081f9672f6
		;;
	libcap-ng=0.8.3-1)
		echo libcap-ng_0.8.3.orig.tar.gz bed6f6848e22bb2f83b5f764b2aef0ed393054e803a8e3a8711cb2a39e6b492d \
			libcap-ng_0.8.3-1.debian.tar.xz 710577902c260f50f8cfc9d7e264131f880eab0581d12ceab17ebe48e2ac53c6
		;;
	liburing=2.3-3)
		echo liburing_2.3.orig.tar.gz 2eac26f880125d83f75ba8641fde5d88226dd352d3cee95d45a9128758a8f1be \
			liburing_2.3-3.debian.tar.xz 5fe4c5ba2a1b7dadc4b132db15cb11647a201ba25e5d96acce7ca7eb54dde510
		;;
	xz-utils=5.4.1-1)
		echo xz-utils_5.4.1.orig.tar.xz 5d9827aa1875b21c288f78864bb26d2650b436ea8d2cad364e4921eb6266a5a5 \
			xz-utils_5.4.1-1.debian.tar.xz 17fdce0230999e3e19796a5a77c74d297fbaf41c6db0d21b07f76a2be1dd66c8
		;;
	lz4=1.9.4-1)
		echo lz4_1.9.4.orig.tar.gz 0b0e3aa07c8c063ddf40b082bdf7e37a1562bda40a0ff5272957f3e987e0e54b \
			lz4_1.9.4-1.debian.tar.xz 47ceec5b95f42598f7b9280b03df9659f2ee6852720ec181488e83bd643f0e5f
		;;
	nettle=3.8.1-2)
		echo nettle_3.8.1.orig.tar.gz 364f3e2b77cd7dcde83fd7c45219c834e54b0c75e428b6f894a23d12dd41cbfe \
			nettle_3.8.1-2.debian.tar.xz 8f1eae9c6afffe545de294140f33d53352261478268dafee5ef72d840e1b3d7b
		;;
	esac
}

[ "$(uname -m)" = x86_64 ] || note "musl archives are built for x86_64 only"
command -v musl-gcc >/dev/null || note "musl-gcc is not installed (musl-tools)"
musl=$(dpkg-query -W -f='${Version}' musl-dev 2>/dev/null || true)
[ -n "$musl" ] || note "musl-dev is not installed"

declare -A ver
for s in $SRCS; do
	v=$(dpkg-query -W -f='${source:Version}\n' "$(devpkg "$s")" 2>/dev/null | head -n1 || true)
	[ -n "$v" ] || note "$(devpkg "$s") is not installed"
	[ -n "$(pinned "$s" "$v")" ] || note "no pinned source checksums for $s $v (tools/musl-libs.sh)"
	ver[$s]=$v
done
for s in $TAKEN; do
	v=$(dpkg-query -W -f='${source:Version}\n' "$(devpkg "$s")" 2>/dev/null | head -n1 || true)
	[ -n "$v" ] || note "$(devpkg "$s") is not installed"
	ver[$s]=$v
done

key=$({
	cat "$tools/musl-libs.sh"
	echo "musl $musl"
	for s in $SRCS $TAKEN; do echo "$s ${ver[$s]}"; done
} | sha256sum | cut -c1-16)
cache=$EMBER_CACHE/musl-libs/$key

install_result() {
	rm -rf "${out:?}/.ok" "${out:?}/lib" "${out:?}/include" "${out:?}/static-pie.specs"
	mkdir -p "$out"
	cp -a "$cache/lib" "$cache/include" "$cache/static-pie.specs" "$out/"
	: >"$out/.ok"
}

[ ! -f "$cache/.ok" ] || { install_result; exit 0; }
lock musl-libs
[ ! -f "$cache/.ok" ] || { install_result; exit 0; }

rm -f "$out/.ok"
logs=$EMBER_CACHE/musl-libs/logs
src=$EMBER_CACHE/src
mkdir -p "$logs" "$src"
tmp=$(mktemp -d "$EMBER_CACHE/musl-libs/.build.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
lib=$tmp/out/lib
inc=$tmp/out/include
mkdir -p "$lib" "$inc"
for d in linux asm-generic video mtd misc; do ln -s "/usr/include/$d" "$inc/$d"; done
ln -s /usr/include/x86_64-linux-gnu/asm "$inc/asm"

# Debian's hardening flags (dpkg-buildflags) less _FORTIFY_SOURCE, which musl
# ignores; -fPIE: every object goes into a static PIE.
export CC=musl-gcc
export CFLAGS="-O2 -g0 -fPIE -fstack-protector-strong -Wformat -Werror=format-security"
export CPPFLAGS="-isystem $inc"
jobs=-j$(nproc)

# fetch SRC: downloads (once) and checks the orig and debian tarballs of SRC's
# pinned version. Point-release versions are in the main pool, security
# updates may be only in the security archive's.
fetch() {
	local s=$1 f url pool=${1:0:1}
	case $1 in lib*) pool=${1:0:4} ;; esac
	# shellcheck disable=SC2046
	set -- $(pinned "$s" "${ver[$s]}")
	for f in "$1" "$3"; do
		[ -f "$src/$f" ] && continue
		for url in "http://deb.debian.org/debian/pool/main/$pool/$s/$f" \
			"http://deb.debian.org/debian-security/pool/updates/main/$pool/$s/$f"; do
			curl -sSf --retry 2 -o "$src/$f.tmp" "$url" 2>/dev/null && break
			rm -f "$src/$f.tmp"
		done
		[ -f "$src/$f.tmp" ] || note "cannot download $f (deb.debian.org)"
		mv "$src/$f.tmp" "$src/$f"
	done
	# a file that does not match is removed: the next run downloads it again
	while [ $# -gt 0 ]; do
		echo "$2  $src/$1" | sha256sum -c --quiet - >/dev/null 2>&1 ||
			{ rm -f "$src/$1"; note "checksum mismatch for $src/$1 (removed)"; }
		shift 2
	done
}

# unpack SRC: upstream tree + debian/ + the patches of debian/patches/series,
# in $tmp/SRC
unpack() {
	local s=$1 d=$tmp/$1 p opt
	# shellcheck disable=SC2046
	set -- $(pinned "$s" "${ver[$s]}")
	mkdir -p "$d"
	tar -xf "$src/$1" -C "$d" --strip-components=1
	tar -xf "$src/$3" -C "$d"
	[ -f "$d/debian/patches/series" ] || return 0
	while read -r p opt; do
		case $p in '' | '#'*) continue ;; esac
		patch -s -d "$d" "${opt:--p1}" <"$d/debian/patches/$p"
	done <"$d/debian/patches/series"
}

build_cjson() {
	"$tools/cjson-static.sh" "$lib" "$CC $CFLAGS"
	[ -f "$lib/libcjson.a" ]
	mkdir -p "$inc/cjson"
	cp "$tmp/cjson/cJSON.h" "$inc/cjson/"
}

build_libseccomp() {
	# the Debian patch updates src/syscalls.csv: the syscall table is
	# regenerated with gperf
	cd "$tmp/libseccomp"
	./configure --disable-shared --enable-static --disable-python
	make "$jobs" -C src libseccomp.la
	cp src/.libs/libseccomp.a "$lib/"
	cp include/seccomp.h include/seccomp-syscalls.h "$inc/"
}

build_libcap-ng() {
	cd "$tmp/libcap-ng"
	./configure --disable-shared --enable-static --without-python --without-python3
	make "$jobs" -C src libcap-ng.la
	cp src/.libs/libcap-ng.a "$lib/"
	cp src/cap-ng.h "$inc/"
}

build_liburing() {
	cd "$tmp/liburing"
	# its configure sets CFLAGS itself: its tests see the kernel headers
	# (and liburing/compat.h includes them, as Debian's does) only with
	# the -isystem in --cc
	./configure --cc="$CC $CPPFLAGS"
	make "$jobs" -C src liburing.a CFLAGS="$CFLAGS $CPPFLAGS"
	cp src/liburing.a "$lib/"
	mkdir -p "$inc/liburing"
	cp src/include/liburing.h "$inc/"
	cp src/include/liburing/*.h "$inc/liburing/"
}

take_zlib() {
	cp /usr/lib/x86_64-linux-gnu/libz.a "$lib/"
	cp /usr/include/zlib.h /usr/include/zconf.h "$inc/"
}

build_xz-utils() {
	cd "$tmp/xz-utils"
	./configure --disable-shared --enable-static --disable-xz --disable-xzdec \
		--disable-lzmadec --disable-lzmainfo --disable-lzma-links --disable-scripts \
		--disable-doc --disable-nls --disable-clmul-crc
	# --disable-clmul-crc: no constructor asking CPUID at every start for
	# the CLMUL CRC64 (ember checks xz streams only with --kernel-decompress)
	make "$jobs" -C src/liblzma liblzma.la
	cp src/liblzma/.libs/liblzma.a "$lib/"
	mkdir -p "$inc/lzma"
	cp src/liblzma/api/lzma.h "$inc/"
	cp src/liblzma/api/lzma/*.h "$inc/lzma/"
}

build_lz4() {
	cd "$tmp/lz4"
	make "$jobs" -C lib liblz4.a CFLAGS="$CFLAGS"
	cp lib/liblz4.a "$lib/"
	cp lib/lz4.h lib/lz4frame.h lib/lz4hc.h "$inc/"
}

take_libzstd() {
	cp /usr/lib/x86_64-linux-gnu/libzstd.a "$lib/"
	cp /usr/include/zstd.h /usr/include/zstd_errors.h /usr/include/zdict.h "$inc/"
}

build_nettle() {
	# --enable-fat: the SHA-NI/AES-NI code is chosen at run time
	cd "$tmp/nettle"
	./configure --disable-shared --disable-public-key --disable-documentation \
		--enable-fat --disable-openssl
	make "$jobs" libnettle.a
	cp libnettle.a "$lib/"
	make install-headers includedir="$inc"
}

# build SRC: unpack and build SRC, its output in $logs/SRC.log (kept
# when the build fails). Run in the background and waited for so that set -e
# holds inside the build function.
build() {
	local s=$1 t0=$SECONDS log=$logs/$1.log
	(
		unpack "$s"
		"build_$s"
	) >"$log" 2>&1 &
	wait $! || note "building $s ${ver[$s]} failed (log: $log)"
	rm -f "$log"
	printf 'musl-libs: %s built in %d s\n' "$s" $((SECONDS - t0)) >&2
}

# all the sources first: a missing one fails before anything is built
for s in $SRCS; do fetch "$s"; done
for s in $SRCS; do build "$s"; done
# cJSON (cjson-static.sh) and nettle (its configure) add -g
strip --strip-debug "$lib"/*.a
for s in $TAKEN; do "take_$s" || note "$(devpkg "$s")'s archive is missing"; done

# Debian's musl-gcc.specs links -static-pie as a dynamic PIE with musl's
# ld.so as interpreter: static-pie.specs is the same file with a static-pie
# case (rcrt1.o, which relocates the binary itself; -static -pie
# --no-dynamic-linker), used as `gcc -specs=OUTDIR/static-pie.specs
# -static-pie` (Makefile).
specs=/usr/lib/x86_64-linux-musl/musl-gcc.specs
[ -f "$specs" ] || note "$specs is missing"
sed -e 's|^%{!shared: \(/usr/lib/x86_64-linux-musl/\)Scrt1.o}|%{static-pie:\1rcrt1.o;!shared:\1Scrt1.o}|' \
	-e 's|^-dynamic-linker \([^ ]*\) -nostdlib|%{!static-pie:-dynamic-linker \1} -nostdlib %{static-pie:-static -pie --no-dynamic-linker -z text}|' \
	"$specs" >"$tmp/out/static-pie.specs"
grep -q 'static-pie:.*rcrt1.o' "$tmp/out/static-pie.specs" &&
	grep -q 'no-dynamic-linker' "$tmp/out/static-pie.specs" ||
	note "$specs is not the file tools/musl-libs.sh knows how to extend"

cat >"$tmp/smoke.c" <<'EOF'
#include <cjson/cJSON.h>
#include <seccomp.h>
#include <cap-ng.h>
#include <liburing.h>
#include <zlib.h>
#include <lzma.h>
#include <lz4.h>
#include <zstd.h>
#include <nettle/sha2.h>
#include <stdio.h>
#include <string.h>

int main(void)
{
	static const unsigned char abc_sha256[32] = {
		0xba, 0x78, 0x16, 0xbf, 0x8f, 0x01, 0xcf, 0xea, 0x41, 0x41, 0x40, 0xde, 0x5d, 0xae, 0x22, 0x23,
		0xb0, 0x03, 0x61, 0xa3, 0x96, 0x17, 0x7a, 0x9c, 0xb4, 0x10, 0xff, 0x61, 0xf2, 0x00, 0x15, 0xad,
	};
	struct sha256_ctx ctx;
	unsigned char d[32];
	struct io_uring ring;
	cJSON *j = cJSON_Parse("{\"a\":1}");
	scmp_filter_ctx f = seccomp_init(SCMP_ACT_ALLOW);

	if (!j || !f || cJSON_GetObjectItem(j, "a")->valueint != 1)
		return 1;
	cJSON_Delete(j);
	seccomp_release(f);
	capng_have_capability(CAPNG_EFFECTIVE, CAP_SYS_ADMIN);
	if (io_uring_queue_init(2, &ring, 0) == 0)
		io_uring_queue_exit(&ring);
	if (crc32(0, (const unsigned char *)"abc", 3) != 0x352441c2UL)
		return 2;
	{ /* what ember's loader calls of the two taken archives */
		z_stream zs = {0};
		ZSTD_DCtx *dc = ZSTD_createDCtx();

		if (inflateInit2(&zs, 16 + MAX_WBITS) != Z_OK || !dc)
			return 5;
		inflateEnd(&zs);
		if (!ZSTD_isError(ZSTD_decompressStream(dc, &(ZSTD_outBuffer){d, sizeof(d), 0},
							&(ZSTD_inBuffer){"abcd", 4, 0})))
			return 6; /* not a zstd frame: must be an error */
		ZSTD_getErrorName(0);
		ZSTD_freeDCtx(dc);
	}
	if (lzma_version_number() == 0 || LZ4_versionNumber() == 0 || ZSTD_versionNumber() == 0)
		return 3;
	sha256_init(&ctx);
	sha256_update(&ctx, 3, (const unsigned char *)"abc");
	sha256_digest(&ctx, sizeof(d), d);
	return memcmp(d, abc_sha256, sizeof(d)) ? 4 : 0;
}
EOF
read -ra flags <<<"$CFLAGS $CPPFLAGS"
{
	gcc -specs="$tmp/out/static-pie.specs" -static-pie "${flags[@]}" "$tmp/smoke.c" \
		-o "$tmp/smoke" -L"$lib" \
		-lcjson -lseccomp -lcap-ng -luring -lnettle -lzstd -llz4 -llzma -lz &&
		"$tmp/smoke" &&
		! readelf -l "$tmp/smoke" | grep -q INTERP
} >"$logs/smoke.log" 2>&1 || note "the smoke test failed (log: $logs/smoke.log)"
rm -f "$logs/smoke.log"

rm -rf "$cache"
mv "$tmp/out" "$cache"
: >"$cache/.ok"
install_result
