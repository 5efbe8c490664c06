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

/* SHA-256 of buf as lowercase hex (Nettle). */
int measure_sha256(const void *buf, size_t len, char hex[MEASURE_HEX_LEN]);

/* The same over pieces: measure_begin, measure_add..., measure_end (which
 * frees the stream, also on error). */
struct measure_stream;
int measure_begin(struct measure_stream **s);
int measure_add(struct measure_stream *s, const void *buf, size_t len);
int measure_end(struct measure_stream *s, char hex[MEASURE_HEX_LEN]);

#endif
