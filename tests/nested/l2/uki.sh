# L2 side of the `uki` run (sourced by l2-init.sh; L1 side: tests/nested/runs/uki.sh).
pass boot-uki "UKI: user space at ${up}s of L2 uptime"
vcpus 4
mt=$(memtotal)
high=$(grep 'System RAM' /proc/iomem | sed -n 's/^ *\([0-9a-f]*\)-.*/\1/p' |
	while read -r a; do [ ${#a} -gt 8 ] && echo "$a"; done | head -n 1)
if [ "$mt" -ge $((3 * 1024 * 1024)) ] && [ -n "$high" ]; then
	pass mem-above-4g "MemTotal $((mt / 1024)) MiB, System RAM from 0x$high"
else
	fail mem-above-4g "MemTotal $((mt / 1024)) MiB, RAM above 4 GiB: '${high:-none}'"
fi
echo "NT-L2: poweroff -f"
poweroff -f
