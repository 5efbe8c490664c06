/* Small helpers shared by every component. */
#ifndef EMBER_UTIL_H
#define EMBER_UTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Longest resource id (drives, network interfaces, metrics keys):
 * Firecracker's limit. */
#define CFG_ID_MAX 64

/* The Firecracker API version ember implements (the vendored spec): what
 * `--version` (first line) and GET /version say, as Firecracker does, so
 * version-gated clients choose correctly. ember's own is EMBER_VERSION. */
#define EMBER_FC_API_VERSION "1.17.0"

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))
#define ALIGN_UP(x, a) (((x) + ((a)-1)) & ~((typeof(x))(a)-1))
#define ALIGN_DOWN(x, a) ((x) & ~((typeof(x))(a)-1))
#define MIN(a, b) ((a) < (b) ? (a) : (b))
#define MAX(a, b) ((a) > (b) ? (a) : (b))
#define KiB (1024ULL)
#define MiB (1024ULL * 1024)
#define GiB (1024ULL * 1024 * 1024)

/* Parse "256M", "2G", "1048576", "512K" into bytes; -EINVAL on junk or overflow. */
int parse_size(const char *s, uint64_t *out);
/* Parse an unsigned decimal/hex ("0x..") integer with bounds; -EINVAL/-ERANGE. */
int parse_u64(const char *s, uint64_t min, uint64_t max, uint64_t *out);
/* Parse a MAC address, exactly "xx:xx:xx:xx:xx:xx" (hex digits of either
 * case); -EINVAL otherwise. */
int parse_mac(const char *s, uint8_t mac[6]);
/* Read a whole regular file (at most max_len bytes) into a malloc'd buffer.
 * Errors are recorded with err_set naming the path. */
int read_whole_file(const char *path, size_t max_len, uint8_t **buf, size_t *len);
/* Open a regular file read-only (non-blocking: a FIFO is refused, never
 * waited on) of at most max_len bytes: 0 with *fd and *size, or -errno with
 * err_set naming the path. */
int open_regular_file(const char *path, uint64_t max_len, int *fd, uint64_t *size);
/* Read size bytes from offset 0 of fd into a malloc'd buffer; -EIO if the
 * file is shorter. populate: fault a large buffer in at once
 * (MADV_POPULATE_WRITE, which only the pre-boot seccomp filter allows). */
int read_fd_whole(int fd, const char *path, size_t size, bool populate, uint8_t **buf);
/* Block, in the calling thread (so in every thread it creates afterwards),
 * every signal whose default action ends the process without a core dump,
 * and return a non-blocking signalfd for them, for the VMM thread's event
 * loop; -errno on failure. So no such signal can end ember behind its back
 * (leaving the API socket file): the stop signals (signal_is_stop: SIGINT,
 * SIGTERM, SIGHUP, SIGQUIT) end it cleanly, the others (SIGUSR1, SIGUSR2,
 * SIGALRM, SIGVTALRM, SIGPROF, SIGIO, SIGPWR, SIGSTKFLT, SIGXCPU, SIGXFSZ,
 * SIGRTMIN..SIGRTMAX; vCPU threads unblock EMBER_KICK_SIGNAL for themselves)
 * are read and ignored (a write past RLIMIT_FSIZE then fails with EFBIG). SIGPIPE is ignored
 * (SIG_IGN) by main(); faults (SIGSEGV, SIGBUS, ...) and SIGKILL keep their default. */
int process_signalfd(void);
/* The vCPU kick (vcpu.c), a real-time signal with the same number whichever
 * C library: SIGRTMIN under musl (which keeps 32-34), SIGRTMIN + 1 under
 * glibc (34 and up). The seccomp filters allow sending it by number. */
#define EMBER_KICK_SIGNAL 35
bool signal_is_stop(int signo);
/* Random bytes that need to be unpredictable across processes, not secret
 * (e.g. a locally administered MAC address): a splitmix64 stream seeded
 * from getrandom() by random_seed(), which start-up calls before any
 * seccomp filter exists (no filter allows getrandom); random_bytes() makes
 * no syscall once seeded (it seeds itself on first use otherwise: tests). */
void random_seed(void);
void random_bytes(void *buf, size_t len);
/* 8-bit checksum byte that makes the sum of buf[0..len) zero when stored. */
uint8_t checksum8(const void *buf, size_t len);

#endif
