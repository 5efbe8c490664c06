# L2 side of the `fpr` run (sourced by l2-init.sh; L1 side: tests/nested/runs/fpr.sh):
# free page reporting: touch then free 160 MiB; L1 watches ember's RSS fall;
# then a free page hinting run on the same device.
pass boot-fpr "user space at ${up}s of L2 uptime"
drivers "balloon" fpr-drivers
nt hog 160
# then a hinting run on the same device (L1 starts it, acknowledge_on_stop
# by default); the pages the driver held come back after DONE
sync_l1 fpr 300 && hint_returned fpr-hint fpr-hinting-returned
reboot -f
