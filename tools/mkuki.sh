#!/usr/bin/env bash
# Builds a Unified Kernel Image (PE/COFF) from a bzImage with objcopy and
# systemd-boot-efi's stub (the manual ukify recipe): each section is added
# at a virtual address after the stub's last section, aligned to the stub's
# SectionAlignment; .linux goes last so an in-place decompressing kernel
# cannot overwrite the sections after it.
#
#   tools/mkuki.sh -o OUT.efi -k BZIMAGE [-i INITRD] [-c CMDLINE] [-u UCODE]
#                  [-r OS_RELEASE_FILE] [-n UNAME]
#
# Prints OUT on stdout. Needs binutils (objcopy, objdump) and systemd-boot-efi.
set -euo pipefail

STUB=${EMBER_UKI_STUB:-/usr/lib/systemd/boot/efi/linuxx64.efi.stub}
out="" kernel="" initrd="" cmdline="" ucode="" osrel="" uname_s=""
usage() { sed -n '2,10s/^# \{0,1\}//p' "$0" >&2; exit 1; }
die() { echo "mkuki: error: $*" >&2; exit 1; }

while getopts "o:k:i:c:u:r:n:h" opt; do
	case $opt in
	o) out=$OPTARG ;;
	k) kernel=$OPTARG ;;
	i) initrd=$OPTARG ;;
	c) cmdline=$OPTARG ;;
	u) ucode=$OPTARG ;;
	r) osrel=$OPTARG ;;
	n) uname_s=$OPTARG ;;
	*) usage ;;
	esac
done
[ -n "$out" ] && [ -n "$kernel" ] || usage
[ -r "$STUB" ] || die "no UEFI stub at $STUB (install systemd-boot-efi)"
for f in "$kernel" $initrd $ucode $osrel; do
	[ -r "$f" ] || die "cannot read $f"
done
command -v objcopy >/dev/null || die "objcopy not found (install binutils)"

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# Section order: small text sections first, .linux last.
names=() files=()
add() { names+=("$1"); files+=("$2"); }
if [ -n "$osrel" ]; then
	add .osrel "$osrel"
else
	printf 'ID=ember-test\nNAME="ember test UKI"\n' >"$tmp/osrel"
	add .osrel "$tmp/osrel"
fi
if [ -n "$cmdline" ]; then
	printf '%s' "$cmdline" >"$tmp/cmdline"
	add .cmdline "$tmp/cmdline"
fi
if [ -n "$uname_s" ]; then
	printf '%s' "$uname_s" >"$tmp/uname"
	add .uname "$tmp/uname"
fi
[ -n "$ucode" ] && add .ucode "$ucode"
[ -n "$initrd" ] && add .initrd "$initrd"
add .linux "$kernel"

# The stub's SectionAlignment and the end of its last section (VMA + size).
align=$(objdump -p "$STUB" | sed -n 's/^SectionAlignment[[:space:]]*\([0-9a-fA-F]*\).*/\1/p')
[ -n "$align" ] || die "cannot read SectionAlignment of $STUB"
align=$((16#$align))
end=0
while read -r _ _ size vma _; do
	e=$((16#$vma + 16#$size))
	((e > end)) && end=$e
done < <(objdump -h "$STUB" | awk '$1 ~ /^[0-9]+$/ && NF >= 6 { print }')
((end > 0)) || die "cannot read the sections of $STUB"

align_up() { echo $(( ($1 + align - 1) / align * align )); }
vma=$(align_up "$end")
args=()
for i in "${!names[@]}"; do
	args+=(--add-section "${names[$i]}=${files[$i]}"
	       --change-section-vma "${names[$i]}=$(printf '0x%x' "$vma")")
	vma=$(align_up $((vma + $(stat -Lc %s "${files[$i]}"))))
done

objcopy "${args[@]}" "$STUB" "$tmp/uki.efi"
mv "$tmp/uki.efi" "$out"
echo "$out"
