/* Stands in for $(BUILD)/gen/seccomp_bpf.c in a cross build (make
 * ARCH=aarch64 on x86_64): tools/seccomp_gen cannot run there, so there are
 * no programs here, and ember compiles the built-in tables with libseccomp
 * once at start-up (seccomp_builtin_runtime, seccomp.h). Copied by the
 * Makefile; not a generated file. */
#include <linux/filter.h>

#include "ember/seccomp.h"

const struct sock_filter seccomp_builtin_insns[1];
const struct seccomp_builtin seccomp_builtin_bpf[SECCOMP_THREAD_ALL][SECCOMP_BUILTIN_VARIANTS];

void (*const seccomp_builtin_runtime)(enum seccomp_thread, int,
				      struct seccomp_filter *) = seccomp_builtin_filter;
