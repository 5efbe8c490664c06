/* What ember and its one-shot init (firmware/oneshot-init/init.c) agree on. */
#ifndef EMBER_ONESHOT_ABI_H
#define EMBER_ONESHOT_ABI_H

/* The one-shot exit register: a byte written at its offset 0 ends the VM and
 * ember exits with it. An MMIO page of ember's own on every machine
 * (arch_layout.oneshot_exit, described in no firmware table, so no guest
 * driver claims it); the init reaches it through /dev/mem. */
#define ONESHOT_EXIT_SIZE 0x1000
/* ember's exit status when the guest ended without reporting one. */
#define ONESHOT_EXIT_NO_STATUS 125
/* In the initramfs: CMD and its arguments, NUL-separated. */
#define ONESHOT_ARGV_FILE "/ember/argv"
/* In the initramfs: kernel modules to load, one path a line, in order. */
#define ONESHOT_MODULES_FILE "/ember/modules"
/* In the initramfs: the exit register's guest-physical address, "0x" and
 * hex digits and a newline. */
#define ONESHOT_EXIT_FILE "/ember/exit"
/* In the initramfs when ember's stdin is a pipe or a file (not a terminal,
 * not /dev/null): CMD's stdin is then a virtio-vsock stream the init opens to
 * the host (CID 2) on ONESHOT_STDIN_PORT; ember writes its stdin into it and
 * shuts it down at the end, so CMD reads every byte, then EOF. Flow control
 * is vsock's credit. Without vsock in the guest, CMD reads /dev/null. */
#define ONESHOT_STDIN_FILE "/ember/stdin-vsock"
#define ONESHOT_STDIN_PORT 1000000000u
/* In the initramfs when ember's stdin is /dev/null (or closed): CMD's stdin
 * is the guest's /dev/null, no vsock needed. */
#define ONESHOT_STDIN_NULL_FILE "/ember/stdin-null"

#endif
