#!/usr/bin/env bash
# make run: boot Debian's cloud kernel with a busybox initramfs, console on this
# terminal. Extra arguments go to `ember run` (e.g. --disk PATH).
set -euo pipefail
. "$(dirname "$0")/common.sh"

BUILD=${BUILD:-build}
EMBER=${EMBER:-$EMBER_ROOT/$BUILD/ember}
[ -x "$EMBER" ] || die "$EMBER not built (make)"

# Where this host's KVM cannot run Linux user space, run the same demo one
# level down, in the nested test layer (tests/nested/README.md).
why=""
if [ ! -e /dev/kvm ]; then
	why="this host has no /dev/kvm"
elif [ ! -r /dev/kvm ] || [ ! -w /dev/kvm ]; then
	why="/dev/kvm is not accessible to $(id -un)"
elif [ -d /sys/module/kvm_pvm ]; then
	why="this host's KVM is kvm_pvm, a software nested hypervisor that stops Linux at its int3 self-test"
fi
if [ -n "$why" ] && [ -z "${EMBER_RUN_DIRECT:-}" ]; then
	cat <<EOF2
== ember: make run, NESTED ================================================
Why    : $why.
So     : QEMU emulates an AMD CPU with SVM (L1, Debian cloud kernel, kvm-amd);
         ember runs inside L1 and boots Debian's kernel + busybox (L2) with
         virtio-blk, -net, -vsock and -balloon. Software emulation is slow:
         15-60 s to the L2 shell prompt (measured 16 s on a quiet 2-core host). The L1 disk/net/vsock backends
         live in L1's RAM (/tmp/disk.img, tap0 172.16.0.1).
Quit   : 'exit' in the L2 shell ends L2, ember and L1; Ctrl-A x quits QEMU.
         (EMBER_RUN_DIRECT=1 make run boots on this host's KVM instead.)
===========================================================================
EOF2
	exec "$EMBER_ROOT/tools/nested/run.sh" --shell
fi

kdir=$("$EMBER_ROOT/tools/fetch-debian-kernel.sh")
initrd=$("$EMBER_ROOT/tools/mkinitramfs.sh" "$kdir")
# earlyprintk: under emulation the real console only starts after about two minutes.
cmdline="console=ttyS0 earlyprintk=ttyS0 reboot=k panic=1 ember.shell=1 $EMBER_GUEST_TUNING"

if [ -d /sys/module/kvm_pvm ]; then
	host="This host's KVM is kvm_pvm, a software nested hypervisor: the guest kernel runs
emulated (a few million instructions/s). What you will see:
  - after ~25 s the kernel's early log (e820 map, ACPI tables, 2 CPUs), more lines up to
    'x86/fpu: x87 FPU will use FXSAVE' after ~2-3 min;
  - then ember stops with 'KVM internal error, suberror 1' and a register dump: this host
    cannot emulate the int3 that Linux executes in int3_selftest() (every x86 kernel does,
    before SMP bring-up). Past that, user space would still not run here: the host breaks
    guest SYSCALL.
On a hardware-virtualized KVM host the same command gives a busybox shell in ~1 s."
else
	host="You get the kernel's log, then EMBER-INITRAMFS lines as /init loads the virtio
modules, then a busybox shell. 'exit' (or Ctrl-D) reboots the guest and ends ember."
fi
cat <<EOF2
== ember: make run ========================================================
Kernel : Debian $(cat "$kdir/release") ($kdir/vmlinuz, decompressed on the host)
Initrd : busybox + virtio modules ($initrd)
VM     : 256 MiB, 2 vCPUs, CPU template $(basename "$EMBER_CPU_TEMPLATE") (hides CMPXCHG16B)
Cmdline: $cmdline
$host
Quit at any time: Ctrl-A x (Ctrl-A Ctrl-A sends Ctrl-A to the guest)
===========================================================================
EOF2

exec "$EMBER" run --kernel "$kdir/vmlinuz" --kernel-decompress --initrd "$initrd" \
	--mem 256M --cpus 2 --cpu-template "$EMBER_CPU_TEMPLATE" --console stdio \
	--cmdline "$cmdline" "$@"
