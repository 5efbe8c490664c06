# Shared helpers for ember's guest-image tools (sourced, not executed).
# Everything is cached outside the work tree in $EMBER_CACHE, keyed by package
# version or content hash; scripts print their result path on stdout and log
# on stderr.

EMBER_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
EMBER_CACHE=${EMBER_CACHE:-$HOME/.cache/ember}
mkdir -p "$EMBER_CACHE"

log() { printf '[%s] %s\n' "$(basename "$0" .sh)" "$*" >&2; }
die() { log "error: $*"; exit 1; }
now_ms() { date +%s%3N; }

# Serialize concurrent runs of one script on one cache entry: lock NAME
lock() {
	exec {_ember_lock_fd}>"$EMBER_CACHE/.lock-$1"
	flock "$_ember_lock_fd"
}

sha256_of() { cat "$@" | sha256sum | cut -c1-16; }

# apt-cache costs ~0.5-1 s a call here; remember answers until the package
# lists change (apt-get update rewrites them).
_apt_lists_stamp() {
	stat -c '%Y %s' /var/lib/apt/lists/*_Packages* 2>/dev/null | sha256sum | cut -c1-16
}
# apt_show_field PKG FIELD: FIELD of PKG's candidate version (empty if unknown).
apt_show_field() {
	local memo=$EMBER_CACHE/.apt-memo/$1.$2 stamp val
	stamp=$(_apt_lists_stamp)
	if [ -f "$memo" ] && [ "$(head -n1 "$memo")" = "$stamp" ]; then
		tail -n +2 "$memo"
		return 0
	fi
	val=$(apt-cache show --no-all-versions "$1" 2>/dev/null | sed -n "s/^$2: //p" | head -n1 || true)
	if [ -n "$val" ]; then
		mkdir -p "${memo%/*}"
		printf '%s\n%s\n' "$stamp" "$val" >"$memo.tmp" && mv "$memo.tmp" "$memo"
	fi
	echo "$val"
}
# Candidate version of a Debian package (empty if apt knows nothing of it).
apt_candidate() { apt_show_field "$1" Version; }

# apt_download DIR PKG=VERSION: fetch a .deb into DIR without installing it
# (kept there: a warm cache never downloads). Prints the path of the file.
apt_download() {
	local dir=$1 spec=$2 pkg=${2%%=*} ver=${2#*=} f
	_cached_deb() {
		local c
		for c in "$dir/${pkg}_"*.deb; do
			[ -f "$c" ] && [ "$(dpkg-deb -f "$c" Version)" = "$ver" ] && { echo "$c"; return 0; }
		done
		return 1
	}
	mkdir -p "$dir"
	if f=$(_cached_deb); then
		echo "$f"
		return 0
	fi
	local tmp dl=(apt-get download -q)
	tmp=$(mktemp -d "$EMBER_CACHE/.dl.XXXXXX")
	# The cache may be private to this user: do not hand the download to _apt.
	[ "$(id -u)" -ne 0 ] || dl+=(-o APT::Sandbox::User=root)
	if ! (cd "$tmp" && "${dl[@]}" "$spec" >&2); then
		log "apt-get download $spec failed; refreshing package lists"
		local sudo=""
		[ "$(id -u)" -eq 0 ] || sudo=sudo
		$sudo apt-get update -qq >&2 || true
		(cd "$tmp" && "${dl[@]}" "$spec" >&2) || { rm -rf "$tmp"; die "cannot download $spec"; }
	fi
	mv "$tmp"/*.deb "$dir/"
	rm -rf "$tmp"
	f=$(_cached_deb) || die "downloaded $spec but found no matching .deb"
	echo "$f"
}

# Ordinary kernel parameters that shorten a boot when the guest's kernel code
# runs emulated (a software nested hypervisor such as kvm_pvm), measured in
# shared/notes/guest-kernel-on-this-host.md: skip XSAVE and features whose
# instructions the emulator faults on, take the TSC frequency as given instead
# of calibrating it (fewer emulated timer ticks), no kvmclock, no watchdogs or
# crypto self-tests, one 8250 port. Harmless but unnecessary on hardware KVM
# (there the guest clock is off by the tsc_early_khz guess unless kvmclock is
# used: set EMBER_GUEST_TUNING="" to boot without them).
EMBER_GUEST_TUNING=${EMBER_GUEST_TUNING-noxsave clearcpuid=smap,popcnt,invpcid,ssse3,erms,fsrm nofsgsbase tsc_early_khz=26000000 no-kvmclock mitigations=off cryptomgr.notests nowatchdog tsc=reliable no_timer_check 8250.nr_uarts=1}
EMBER_CPU_TEMPLATE=$EMBER_ROOT/tools/templates/no-cx16.json
