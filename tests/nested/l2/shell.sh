# L2 side of the interactive demo (`make run` without a usable /dev/kvm, l1-init.sh's
# nt.mode=shell): a busybox shell on the console.
drivers "blk net vsock balloon"
echo "NT-L2: busybox shell (exit or Ctrl-D reboots L2 and ends ember)"
stty echo 2>/dev/null
setsid cttyhack sh -l
reboot -f
