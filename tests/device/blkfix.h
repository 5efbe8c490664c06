/* virtio-blk test fixture: a patterned temp file, the device on it, and the
 * harness driver with the queue set up. Shared by the blk tests and the
 * benchmark (no cmocka here). */
#ifndef TESTS_DEVICE_BLKFIX_H
#define TESTS_DEVICE_BLKFIX_H

#include <stdbool.h>
#include <stdint.h>

#include "ember/config.h"
#include "ember/virtio_blk.h"
#include "vdriver.h"

#define BLKFIX_ALL_FEATURES (~0ULL)

struct blkfix {
	struct vdriver d;
	struct virtio_blk *blk;
	char path[64];
	uint64_t size;
	uint32_t seed;
};

/* io_engine of the devices blkfix_init creates from now on: false "Sync",
 * true "Async" (io_uring). The blk tests run their whole list under both. */
extern bool blkfix_io_async;

/* Directory for backing files: /dev/shm if usable, else /tmp. */
const char *blkfix_dir(void);
/* File of `size` bytes, device (read-only if ro, rate limiter rl or NULL),
 * guest RAM of mem bytes, handshake with all features and one queue of 256.
 * 0 or -errno. */
int blkfix_init(struct blkfix *f, uint64_t size, uint64_t mem, bool ro,
		const struct rate_limiter_cfg *rl);
/* Same, with a given driver feature set (no handshake if want == 0). */
int blkfix_init_features(struct blkfix *f, uint64_t size, uint64_t mem, bool ro,
			 const struct rate_limiter_cfg *rl, uint64_t want);
void blkfix_fini(struct blkfix *f);
/* Redo the handshake (after NEEDS_RESET). */
int blkfix_reinit_queue(struct blkfix *f);
/* Read len bytes at sector through the device into fresh guest memory and
 * compare with the file's pattern: 0, or -EBADMSG / -EIO / -ETIMEDOUT. */
int blkfix_read_check(struct blkfix *f, uint64_t sector, uint32_t len);

#endif
