/* One-shot runs: `ember run --kernel K [options] -- CMD [ARGS...]` boots a
 * tiny initramfs built from the host's own files and exits with CMD's exit
 * status.
 *
 * oneshot_prepare builds the initramfs (newc cpio, uncompressed: cpio.h):
 *  - CMD (found on PATH when it has no '/') and every --copy PATH, each with
 *    its ELF interpreter and shared objects (elfdeps.h; a script brings its
 *    #! interpreter), stored at their host paths;
 *  - the kernel modules the configured devices need (virtio_mmio and
 *    virtio_blk/net/vsock/balloon/rng/pmem/mem), with their dependencies from
 *    modules.dep, from --modules DIR or /lib/modules/$(uname -r); built-in
 *    ones (modules.builtin) and ones this kernel does not have are skipped;
 *    compressed modules are decompressed on the host;
 *  - /init: firmware/oneshot-init (a static freestanding program built into
 *    ember), /ember/argv and /ember/modules for it (oneshot_abi.h).
 * The image is cached by a SHA-256 over its inputs (every file's path, size,
 * mtime, inode; CMD's arguments; the init) in $XDG_CACHE_HOME/ember/oneshot
 * (or ~/.cache/ember/oneshot): a second run of the same command reads a few
 * inodes and builds nothing. --keep-initrd PATH writes a copy. A missing
 * binary, library or module directory is a one-line error here, before
 * anything boots. Sets cfg->boot.initrd_path and, unless --cmdline was
 * given, a quiet command line. */
#ifndef EMBER_ONESHOT_H
#define EMBER_ONESHOT_H

#include <stdbool.h>

#include "ember/config.h"

#define ONESHOT_CMDLINE "console=ttyS0 reboot=k panic=1 quiet loglevel=1"

int oneshot_prepare(struct vm_config *cfg);
/* The kernel modules cfg's devices need, by name (for tests). */
int oneshot_module_names(const struct vm_config *cfg, const char **names, int max);
/* Resolve names against the module tree dir (modules.dep, modules.builtin)
 * into host paths in load order (dependencies first); *n paths, malloc'd. */
int oneshot_resolve_modules(const char *dir, const char *const *names, int nnames, char ***paths,
			    int *n);

#endif
