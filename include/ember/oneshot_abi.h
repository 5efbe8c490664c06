/* What ember and its one-shot init (firmware/oneshot-init/init.c) agree on. */
#ifndef EMBER_ONESHOT_ABI_H
#define EMBER_ONESHOT_ABI_H

/* I/O port: a byte written here ends the VM; ember exits with it. */
#define ONESHOT_EXIT_PORT 0x3f4
/* I/O port: reads ONESHOT_STDIN_FRAMED when ember's stdin is not a terminal
 * (else 0); a write says the init is ready for that stdin. Framed, the bytes
 * on the console are the stdin with every ONESHOT_STDIN_ESC doubled, then
 * ONESHOT_STDIN_ESC ONESHOT_STDIN_EOF at its end. */
#define ONESHOT_STDIN_PORT (ONESHOT_EXIT_PORT + 1)
#define ONESHOT_STDIN_FRAMED 1
#define ONESHOT_STDIN_ESC 0xff
#define ONESHOT_STDIN_EOF 0x00
/* ember's exit status when the guest ended without reporting one. */
#define ONESHOT_EXIT_NO_STATUS 125
/* In the initramfs: CMD and its arguments, NUL-separated. */
#define ONESHOT_ARGV_FILE "/ember/argv"
/* In the initramfs: kernel modules to load, one path a line, in order. */
#define ONESHOT_MODULES_FILE "/ember/modules"

#endif
