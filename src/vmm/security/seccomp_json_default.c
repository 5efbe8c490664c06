/* The built-in filters (seccomp_tables.c) in the --seccomp-filter file
 * format: resources/seccomp/x86_64.json is this text (test_seccomp checks it,
 * EMBER_SECCOMP_WRITE_JSON=1 build/tests/unit/test_seccomp rewrites it). A
 * file of its own so that ember, which does not need the tables, links
 * neither. */
#include "ember/seccomp.h"

char *seccomp_json_emit_default(void)
{
	struct seccomp_filter f[SECCOMP_THREAD_KINDS];

	for (int k = 0; k < SECCOMP_THREAD_KINDS; k++)
		seccomp_default_filter((enum seccomp_thread)k, &f[k]);
	return seccomp_json_emit(f);
}
