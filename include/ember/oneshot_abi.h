/* What ember and its one-shot init (firmware/oneshot-init/init.c) agree on. */
#ifndef EMBER_ONESHOT_ABI_H
#define EMBER_ONESHOT_ABI_H

/* I/O port: a byte written here ends the VM; ember exits with it. */
#define ONESHOT_EXIT_PORT 0x3f4
/* ember's exit status when the guest ended without reporting one. */
#define ONESHOT_EXIT_NO_STATUS 125
/* In the initramfs: CMD and its arguments, NUL-separated. */
#define ONESHOT_ARGV_FILE "/ember/argv"
/* In the initramfs: kernel modules to load, one path a line, in order. */
#define ONESHOT_MODULES_FILE "/ember/modules"

#endif
