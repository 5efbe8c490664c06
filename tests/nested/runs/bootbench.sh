# L1 side of the `bootbench` run (sourced by l1-init.sh; `make bench`'s
# nested-boot section, not in make test): one warm-up and then
# nt.bootbench=K (default 3) one-shot runs of `ember run --kernel /l2/vmlinuz
# --mem 128M -- /bin/cat /proc/uptime`, 1 vCPU, no devices. Each prints
# "NT-BOOTBENCH x86_64 L2-UPTIME WALL": L2's uptime when CMD ran (boot to
# user space by L2's clock) and L1's seconds from ember's start to its exit
# with CMD's status. tests/nested/aarch64/l1-init.sh does the same on arm64
# (tools/bench/nested-boot_bench.sh puts them side by side).
run_bootbench() {
	export XDG_CACHE_HOME=/tmp/oneshot-cache
	k=$(sed -n 's/.*nt\.bootbench=\([0-9]*\).*/\1/p' /proc/cmdline)
	k=${k:-3} ok=0
	for i in $(seq 0 "$k"); do
		step "bootbench-$i"
		t0=$(up)
		timeout 300 ember run --kernel /l2/vmlinuz --mem 128M -- /bin/cat /proc/uptime \
			</dev/null >/tmp/bootbench.out 2>/tmp/bootbench.err
		rc=$?
		wall=$(echo "$(up) - $t0" | bc)
		l2=$(tr -d '\r' </tmp/bootbench.out | awk 'NF == 2 { print $1; exit }')
		if [ "$rc" = 0 ] && [ -n "$l2" ]; then
			[ "$i" = 0 ] || { echo "NT-BOOTBENCH x86_64 $l2 $wall"; ok=$((ok + 1)); }
		else
			echo "NT-L1: bootbench $i: exit $rc, stdout '$(head -c 200 /tmp/bootbench.out | tr '\n\r' '|~')'"
			sed 's/^/ember| /' /tmp/bootbench.err | head -n 5
		fi
	done
	if [ "$ok" = "$k" ]; then
		R PASS bootbench "$k one-shot boots to /bin/cat /proc/uptime measured"
	else
		R FAIL bootbench "$ok of $k one-shot boots measured"
	fi
	unset XDG_CACHE_HOME
}
run_bootbench
