# L2 side of the `hint` run (sourced by l2-init.sh; L1 side: tests/nested/runs/hint.sh):
# free page hinting: touch then free 160 MiB, let L1 run a hinting run, then see
# the driver gave the hinted pages back to the kernel (MemFree as before).
pass boot-hint "user space at ${up}s of L2 uptime"
drivers "balloon" hint-drivers
memfree() { sed -n 's/^MemFree: *\([0-9]*\) kB/\1/p' /proc/meminfo; }
nt hog 160
free0=$(memfree)
if sync_l1 hint 300; then
	back() { [ "$(memfree)" -ge $((free0 - 16 * 1024)) ]; }
	if wait_until 60 back; then
		pass balloon-hinting-returned "MemFree $((free0 / 1024)) MiB before the run, $(($(memfree) / 1024)) MiB after DONE"
	else
		fail balloon-hinting-returned "MemFree $((free0 / 1024)) MiB before the run, still $(($(memfree) / 1024)) MiB 60 s after L1's GO"
	fi
fi
reboot -f
