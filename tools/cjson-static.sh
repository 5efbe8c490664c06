#!/usr/bin/env bash
# tools/cjson-static.sh OUTDIR CC: builds OUTDIR/libcjson.a, the one library
# ember links that Debian ships without an archive, so that ember can be one
# static binary (Makefile, "static"). The source is Debian's own for the
# libcjson-dev version installed (upstream tarball + Debian's patches, its
# security fixes among them), downloaded once into $EMBER_CACHE/src and
# checked against the SHA-256 sums pinned below (those of the version's .dsc).
# A version not pinned here, or no network: no archive, a note on stderr,
# exit 0; the Makefile then links ember dynamically, as before.
set -euo pipefail
out=${1:?usage: cjson-static.sh OUTDIR CC}
cc=${2:?usage: cjson-static.sh OUTDIR CC}
. "$(dirname "$0")/common.sh"

# Debian version -> "orig.tar.gz sha256 debian.tar.xz sha256" (multi-arch: one version
# for the host and arm64 packages alike)
pinned() {
	case $1 in
	1.7.15-1+deb12u4)
		echo 5308fd4bd90cef7aa060558514de6a1a4a0819974a26e6ed13973c5f624c24b2 \
			afd19a970966cf534ff1e9ec077d710a5e7e78eb4ec9b499c8bdc32e55da12cb
		;;
	esac
}

note() { log "$*; ember links libcjson.so dynamically"; exit 0; }

ver=$(dpkg-query -W -f='${Version}\n' libcjson-dev 2>/dev/null | head -n1 || true)
[ -n "$ver" ] || note "libcjson-dev is not installed"
sums=$(pinned "$ver")
[ -n "$sums" ] || note "no pinned source checksums for libcjson-dev $ver (tools/cjson-static.sh)"
up=${ver%%-*}
orig=cjson_$up.orig.tar.gz
deb=cjson_$ver.debian.tar.xz
src=$EMBER_CACHE/src
mkdir -p "$src"
lock cjson-src
for f in "$orig" "$deb"; do
	[ -f "$src/$f" ] && continue
	curl -sSf --retry 2 -o "$src/$f.tmp" "http://deb.debian.org/debian/pool/main/c/cjson/$f" ||
		{ rm -f "$src/$f.tmp"; note "cannot download $f"; }
	mv "$src/$f.tmp" "$src/$f"
done
set -- $sums
echo "$1  $src/$orig
$2  $src/$deb" | sha256sum -c --quiet - >&2 || note "checksum mismatch in $src"

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
tar -xzf "$src/$orig" -C "$tmp"
tar -xJf "$src/$deb" -C "$tmp/cJSON-$up"
(
	cd "$tmp/cJSON-$up"
	while read -r p; do
		case $p in '' | '#'*) continue ;; esac
		patch -s -p1 <"debian/patches/$p"
	done <debian/patches/series
)
mkdir -p "$out"
# Debian's build flags (dpkg-buildflags) for the same hardening
$cc -O2 -g -fstack-protector-strong -D_FORTIFY_SOURCE=2 -Wformat -Werror=format-security \
	-c "$tmp/cJSON-$up/cJSON.c" -o "$tmp/cJSON.o"
rm -f "$out/libcjson.a"
ar rcs "$out/libcjson.a.tmp" "$tmp/cJSON.o"
mv "$out/libcjson.a.tmp" "$out/libcjson.a"
