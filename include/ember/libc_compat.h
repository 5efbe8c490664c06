/* What glibc 2.36 declares and musl 1.2.3 (the libc ember is linked with,
 * Makefile) does not: kernel constants newer than musl's headers. Include
 * after <sys/mman.h>. */
#ifndef EMBER_LIBC_COMPAT_H
#define EMBER_LIBC_COMPAT_H

#include <sys/mman.h>

#ifndef MADV_POPULATE_READ
#define MADV_POPULATE_READ 22 /* Linux 5.14 */
#endif
#ifndef MADV_POPULATE_WRITE
#define MADV_POPULATE_WRITE 23 /* Linux 5.14 */
#endif

#endif
