# L2 side of the `elf` run (sourced by l2-init.sh; L1 side: tests/nested/runs/elf.sh).
pass boot-elf "ELF vmlinux: user space at ${up}s of L2 uptime"
vcpus 1
dmesg | grep -i 'i8042\|serio\|atkbd' | sed 's/^/NT-L2: dmesg: /'
echo "NT-L2: reboot -f"
reboot -f
