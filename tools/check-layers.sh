#!/usr/bin/env bash
# The layering rule of docs/ARCHITECTURE.md, checked: a file may include
# headers of its own layer and of the layers below it, never above.
#
#   base (0)  <  devices (1), arch (1)  <  vmm (2)  <  api (3)
#
# devices and arch are siblings: neither includes the other. A file's layer is
# its directory (DIRS below); a header's layer is in HEADERS below, and every
# header in include/ember must be listed there (a new header gets a layer when
# it is added). Headers next to their sources ("x_priv.h") are not checked.
#   tools/check-layers.sh           check; exit 1 on an upward include
#   tools/check-layers.sh --graph   include edges counted between src/ folders
set -u
cd "$(dirname "$0")/.." || exit 1

declare -A RANK=([base]=0 [devices]=1 [arch]=1 [vmm]=2 [api]=3)

# directory (prefix of the path) -> layer; the longest matching prefix wins
DIRS=(
	src/base:base
	src/devices:devices
	src/arch:arch
	src/vmm:vmm
	src/api:api
)

# include/ember/<name>.h -> layer
declare -A HEADERS=(
	# foundation: errors, helpers, logging, guest memory, bus, event loop,
	# KVM wrappers, metrics registry, hashing, JSON helpers
	[error]=base [util]=base [log]=base [memory]=base [bus]=base
	[event_loop]=base [kvm]=base [metrics]=base [measure]=base [json]=base [cpio]=base [oneshot_abi]=base [libc_compat]=base
	# a kernel image read into guest memory (every architecture's loaders)
	[kimage]=base
	# the machine boundary (arch.h); x86_64: boot protocol, tables, CPU set-up,
	# kernel loaders
	[arch]=arch [x86]=arch [aarch64]=arch [aml]=arch [layout]=arch [loader]=arch
	# device models
	[boot_timer]=devices [i8042]=devices [rtc]=devices [pl031]=devices [serial]=devices
	[rate_limiter]=devices [net_tap]=devices [net_stream]=devices [virtio]=devices
	[virtqueue]=devices [virtio_blk]=devices [virtio_net]=devices
	[virtio_vsock]=devices [virtio_balloon]=devices [vsock_conn]=devices
	[vsock_uds]=devices [virtio_rng]=devices [virtio_pmem]=devices [virtio_mem]=devices
	# MMDS: data store, guest HTTP, the ARP/IPv4/TCP responder
	[mmds]=devices [mmds_http]=devices [mmds_net]=devices
	# the VM: configuration, lifecycle, controller, security
	[config]=vmm [config_json]=vmm [vm]=vmm [controller]=vmm
	[snapshot]=vmm [snapshot_file]=vmm
	[seccomp]=vmm [jail]=vmm [passt]=vmm [elfdeps]=vmm [oneshot]=vmm
	# HTTP API and the process front-ends
	[http]=api [api_routes]=api [api_server]=api [cli]=api [fc_main]=api
	[args]=api
)

# Inside a layer, one direction of use: files under DIR never include
# ember/HEADER.h (DIR:HEADER). The kernel loaders sit below the boot-protocol
# code: arch.h uses loader.h's kernel image, the loaders use only layout.h.
FORBID=(
	src/arch/x86_64/loader:arch
	include/ember/loader.h:arch
	include/ember/layout.h:arch
)

dir_layer() {
	local f=$1 best= bestlen=0 d
	for d in "${DIRS[@]}"; do
		local p=${d%%:*}
		if [[ $f == "$p"/* && ${#p} -gt $bestlen ]]; then
			best=${d##*:}
			bestlen=${#p}
		fi
	done
	echo "$best"
}

# file_layer FILE: the layer of a source file or of a public header
file_layer() {
	local f=$1
	if [[ $f == include/ember/*.h ]]; then
		local n=${f#include/ember/}
		echo "${HEADERS[${n%.h}]:-}"
	else
		dir_layer "$f"
	fi
}

# every "ember/x.h" include as "file header" lines
edges() {
	grep -rHo '^[[:space:]]*#[[:space:]]*include[[:space:]]*"ember/[a-z0-9_]*\.h"' src include |
		sed 's/:.*"ember\/\(.*\)\.h"$/ \1/'
}

if [ "${1:-}" = --graph ]; then
	# Edges between the folders under src/: a header counts as the folder of
	# the .c file that implements it (same base name, else the table below:
	# names before the renames of issue #11, and headers without a .c).
	# Works on any revision of the tree, so before/after can be compared.
	declare -A IMPL=([api_routes]=routes [api_server]=server [virtio]=mmio
		[virtqueue]=queue [virtio_blk]=blk [virtio_net]=net [virtio_vsock]=vsock
		[virtio_balloon]=balloon [virtio_rng]=rng [virtio_pmem]=pmem [virtio_mem]=mem [arch]=boot_params [layout]=boot_params)
	folder() { # top folder of a src path: src/base, src/vmm, src/arch, ...
		local f=$1
		f=${f#src/}
		echo "${f%%/*}"
	}
	declare -A HOME_OF=()
	for h in include/ember/*.h; do
		n=$(basename "$h" .h)
		c=$(find src -name "$n.c" | head -n 1)
		[ -n "$c" ] || c=$(find src -name "${IMPL[$n]:-$n}.c" | head -n 1)
		HOME_OF[$n]=$([ -n "$c" ] && folder "$c" || echo "?")
	done
	edges | while read -r f h; do
		if [[ $f == include/* ]]; then
			from=${HOME_OF[$(basename "$f" .h)]}
		else
			from=$(folder "$f")
		fi
		to=${HOME_OF[$h]:-?}
		[ "$from" != "$to" ] && echo "$from->$to"
	done | sort | uniq -c | sort -k2
	exit 0
fi

bad=0
for h in include/ember/*.h; do
	n=$(basename "$h" .h)
	if [ -z "${HEADERS[$n]:-}" ]; then
		echo "check-layers: $h has no layer (add it to HEADERS in $0)"
		bad=1
	fi
done
while read -r f h; do
	from=$(file_layer "$f")
	to=${HEADERS[$h]:-}
	[ -n "$from" ] && [ -n "$to" ] || continue
	if [ "${RANK[$to]}" -gt "${RANK[$from]}" ] ||
		{ [ "${RANK[$to]}" -eq "${RANK[$from]}" ] && [ "$to" != "$from" ]; }; then
		echo "check-layers: $f ($from) includes ember/$h.h ($to)"
		bad=1
	fi
	for fb in "${FORBID[@]}"; do
		if [[ $f == "${fb%%:*}"* && $h == "${fb##*:}" ]]; then
			echo "check-layers: $f includes ember/$h.h (against the direction of use)"
			bad=1
		fi
	done
done < <(edges)
[ $bad -eq 0 ] && echo "check-layers: no upward include"
exit $bad
