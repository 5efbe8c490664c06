# L2 side of the `huge` run (sourced by l2-init.sh; L1 side: tests/nested/runs/huge.sh):
# guest RAM on 2 MiB hugetlb pages in L1, booted from an initrd, with a balloon.
pass boot-huge "user space at ${up}s of L2 uptime (bzImage + initrd on huge pages)"
drivers "balloon" huge-drivers
# 32 MiB through the page cache of a tmpfs and back: L2's RAM holds it
want=$(nt gen 11 32M | sha256sum | cut -d' ' -f1)
nt gen 11 32M >/tmp/huge.dat
got=$(sha256sum </tmp/huge.dat | cut -d' ' -f1)
rm -f /tmp/huge.dat
if [ "$got" = "$want" ]; then
	pass huge-ram-data "32 MiB in tmpfs read back with the right sha256 ($(echo "$got" | cut -c1-16))"
else
	fail huge-ram-data "32 MiB in tmpfs read back as $got, written $want"
fi
sync_l1 huge 300 # L1 reads ember's smaps
mt0=$(memtotal)
if sync_l1 huge-balloon 120; then # L1: PATCH /balloon 32 MiB
	if wait_until 120 mt_at_most $((mt0 - 30 * 1024)); then
		pass huge-balloon "MemTotal $((mt0 / 1024)) -> $(($(memtotal) / 1024)) MiB after a 32 MiB inflate"
	else
		fail huge-balloon "MemTotal $((mt0 / 1024)) -> $(($(memtotal) / 1024)) MiB after a 32 MiB inflate"
	fi
fi
echo "NT-L2: reboot -f"
reboot -f
