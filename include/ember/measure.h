/* Measured direct boot: SHA-256 of what the guest is booted with. */
#ifndef EMBER_MEASURE_H
#define EMBER_MEASURE_H

#include <stddef.h>

#define MEASURE_HEX_LEN 65 /* 64 hex digits + NUL */

struct boot_measurements {
	char kernel[MEASURE_HEX_LEN];  /* the kernel image as given (UKI: its .linux) */
	char initrd[MEASURE_HEX_LEN];  /* the final initrd ("" if none) */
	char cmdline[MEASURE_HEX_LEN]; /* the final command line, without the NUL */
};

/* SHA-256 of buf as lowercase hex (libcrypto). */
int measure_sha256(const void *buf, size_t len, char hex[MEASURE_HEX_LEN]);

#endif
