# L1 side of the `huge` run (sourced by l1-init.sh): machine-config huge_pages
# "2M" with real Linux. First, with no 2 MiB pages reserved in L1, PUT
# /machine-config must answer 400 naming hugetlb (no silent 4 KiB fallback).
# Then L1 reserves 128 pages and the same ember boots L2 (bzImage + initrd and a
# balloon: both allowed with huge pages, as in Firecracker >= 1.11 / 1.14);
# guest RAM must be the hugetlb memfd (smaps KernelPageSize 2048 kB) and L1's
# pool must have lent pages to it. L2 (tests/nested/l2/huge.sh) checks data in
# its RAM and a balloon inflate, then reboots. The pool goes back to 0 after.
huge_smaps() { # the KernelPageSize values of ember's guest RAM mappings
	awk '/ember-guest-ram/ { r = 1; next } /^[0-9a-f]+-[0-9a-f]+ / { r = 0 }
	     r && /^KernelPageSize:/ { printf "%s ", $2 }' /proc/$1/smaps 2>/dev/null
}
huge_meminfo() { sed -n "s/^$1:[[:space:]]*\([0-9]*\).*/\1/p" /proc/meminfo; }
run_huge() {
	step huge
	con=/tmp/huge.con
	errf=/tmp/huge.err
	: >$con
	rm -f /tmp/huge.sock /tmp/huge.in
	mkfifo /tmp/huge.in
	exec 8<>/tmp/huge.in
	echo 0 >/proc/sys/vm/nr_hugepages
	t0=$(up)
	show_console $con
	timeout 400 ember --api-sock /tmp/huge.sock <&8 >$con 2>$errf &
	epid=$!
	huge_api() { nt http /tmp/huge.sock "$@" 2>&1; }
	mc='{"vcpu_count": 1, "mem_size_mib": 256, "huge_pages": "2M"}'
	out=$(huge_api PUT /machine-config "$mc")
	# (nt http: the body on stdout, "-> CODE" on stderr, in either order here)
	case $out in
	*"-> 400"*) case $out in
		*hugetlb*) R PASS huge-pages-none-400 "no 2 MiB pages reserved: $(echo "$out" | grep -v '^http:')" ;;
		*) R FAIL huge-pages-none-400 "400 without the reason: $out" ;;
		esac ;;
	*) R FAIL huge-pages-none-400 "no 2 MiB pages reserved, PUT /machine-config answered: $out" ;;
	esac
	# 128 for 256 MiB of guest RAM (+4 spare); compact first so that earlier
	# runs' leftovers do not leave too few free 2 MiB blocks
	sync
	echo 3 2>/dev/null >/proc/sys/vm/drop_caches
	echo 1 2>/dev/null >/proc/sys/vm/compact_memory
	echo 132 >/proc/sys/vm/nr_hugepages
	total=$(huge_meminfo HugePages_Total)
	[ "$total" -ge 128 ] || echo "NT-L1: only $total of 132 2 MiB pages could be reserved in L1"
	out=$(huge_api PUT /machine-config "$mc") ||
		echo "NT-L1: PUT /machine-config with $total pages reserved: $out"
	huge_api PUT /boot-source "{\"kernel_image_path\": \"/l2/vmlinuz\", \"initrd_path\": \"/l2/initrd\", \"boot_args\": \"$L2_ARGS nt.run=huge\"}" >/dev/null ||
		echo "NT-L1: PUT /boot-source refused"
	huge_api PUT /balloon '{"amount_mib": 0, "deflate_on_oom": false}' >/dev/null ||
		echo "NT-L1: PUT /balloon refused"
	out=$(huge_api PUT /actions '{"action_type": "InstanceStart"}') ||
		echo "NT-L1: InstanceStart: $out"
	if nt wait $con "NT-SYNC huge" 300 >/dev/null; then
		kps=$(huge_smaps $epid)
		used=$((total - $(huge_meminfo HugePages_Free)))
		case " $kps" in
		" 2048 "*) ok=1 ;;
		*) ok=0 ;;
		esac
		for k in $kps; do [ "$k" = 2048 ] || ok=0; done
		if [ $ok = 1 ] && [ $used -gt 0 ]; then
			R PASS huge-pages-smaps "ember's ember-guest-ram mapping: KernelPageSize ${kps% } kB; $used of $total reserved 2 MiB pages in use by L2"
		else
			R FAIL huge-pages-smaps "ember-guest-ram KernelPageSize '$kps' kB; $used of $total reserved 2 MiB pages in use"
		fi
		echo "GO huge" >&8
		if nt wait $con "NT-SYNC huge-balloon" 120 >/dev/null; then
			huge_api PATCH /balloon '{"amount_mib": 32}' >/dev/null ||
				echo "NT-L1: PATCH /balloon 32 refused"
			echo "GO huge-balloon" >&8
		fi
	fi
	wait_until 120 gone $epid || kill $epid
	wait $epid
	rc=$?
	hide_console
	exec 8>&-
	echo "NT-L1: huge run ended after $(echo "$(up) - $t0" | bc) s, ember exit $rc"
	diagnose $rc $errf $con
	results_from $con
	echo 0 >/proc/sys/vm/nr_hugepages
}
retrying huge run_huge
exit_ok huge-exit $rc $con "reboot: Restarting system"
