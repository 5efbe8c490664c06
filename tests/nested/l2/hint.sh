# L2 side of the `hint` run (sourced by l2-init.sh; L1 side: tests/nested/runs/hint.sh):
# free page hinting: touch then free 160 MiB, let L1 run a hinting run, then see
# the driver gave the hinted pages back to the kernel (MemFree as before).
pass boot-hint "user space at ${up}s of L2 uptime"
drivers "balloon" hint-drivers
nt hog 160
hint_returned hint balloon-hinting-returned
reboot -f
