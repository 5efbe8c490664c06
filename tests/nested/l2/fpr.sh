# L2 side of the `fpr` run (sourced by l2-init.sh; L1 side: tests/nested/runs/fpr.sh):
# free page reporting: touch then free 160 MiB; L1 watches ember's RSS fall.
pass boot-fpr "user space at ${up}s of L2 uptime"
drivers "balloon" fpr-drivers
nt hog 160
sync_l1 fpr 300
reboot -f
