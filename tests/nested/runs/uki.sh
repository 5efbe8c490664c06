# L1 side of the `uki` run (sourced by l1-init.sh): a UKI (its command line and
# initrd inside), 4 vCPUs, 3.5 GiB RAM, L2 ends with `poweroff -f`.
# L2 side: tests/nested/l2/uki.sh.
retrying uki run_cli uki 600 --kernel /l2/uki.efi --mem 3584M --cpus 4
exit_ok lifecycle-poweroff $rc $con "reboot: Power down"
