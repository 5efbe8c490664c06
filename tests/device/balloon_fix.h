/* virtio-balloon test fixture: guest RAM (optionally with a hole), the
 * device, the harness driver with every negotiated queue set up, and
 * host-side views of guest RAM residency. Shared by the balloon tests (no
 * cmocka here). */
#ifndef TESTS_DEVICE_BALLOON_FIX_H
#define TESTS_DEVICE_BALLOON_FIX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ember/config.h"
#include "ember/virtio_balloon.h"
#include "vdriver.h"

#define BALLOON_FIX_ALL_FEATURES (~0ULL)
#define BALLOON_FIX_PAGE 4096u

struct balloon_fix {
	struct vdriver d;
	struct virtio_balloon *b;
	int q_stats, q_hint, q_report; /* -1 when not negotiated */
	unsigned nqueues;
};

/* Device from cfg on mem bytes of RAM; with gap_start < gap_end the RAM that
 * would overlap [gap_start, gap_end) continues at gap_end (gpa). want: the
 * driver's features (0: no handshake). 0 or -errno. */
int balloon_fix_init(struct balloon_fix *f, const struct balloon_cfg *cfg, uint64_t mem,
		     uint64_t gap_start, uint64_t gap_end, uint64_t want);
void balloon_fix_fini(struct balloon_fix *f);
/* The same on the heap, without a hole: NULL on failure; free with
 * balloon_fix_free. */
struct balloon_fix *balloon_fix_new(const struct balloon_cfg *cfg, uint64_t mem, uint64_t want);
void balloon_fix_free(struct balloon_fix *f);
/* Handshake again with want (after a reset or NEEDS_RESET). */
int balloon_fix_setup(struct balloon_fix *f, uint64_t want);

/* Config space through MMIO: a 4-byte read; a write of len bytes at off. */
uint32_t balloon_fix_cfg_read32(struct balloon_fix *f, uint32_t off);
void balloon_fix_cfg_write(struct balloon_fix *f, uint32_t off, const void *data, uint32_t len);

/* Post bufs as one chain on queue q, kick, and run the event loop until it
 * comes back: 0 with *used_len set, or -ETIMEDOUT / -ENOSPC. */
int balloon_fix_do(struct balloon_fix *f, unsigned q, const struct vd_buf *bufs, int n,
		   uint32_t *used_len);
/* PFN array in fresh guest memory, split into nsplit descriptors of
 * uneven length (1 = one descriptor), then balloon_fix_do. */
int balloon_fix_pfns(struct balloon_fix *f, unsigned q, const uint32_t *pfns, size_t n, int nsplit);
/* Post a buffer without waiting for it (stats), kick, dispatch what is
 * pending. Returns the head or -errno. */
int balloon_fix_post(struct balloon_fix *f, unsigned q, const struct vd_buf *bufs, int n);

/* Write a byte pattern to every page of [gpa, gpa+len) (makes it resident). */
void balloon_fix_touch(struct balloon_fix *f, uint64_t gpa, uint64_t len, uint8_t seed);
/* Pages of [gpa, gpa+len) resident in the host (mincore on the mapping). */
size_t balloon_fix_resident(struct balloon_fix *f, uint64_t gpa, uint64_t len);
/* Bytes of the guest RAM memfd the host has allocated (st_blocks * 512). */
uint64_t balloon_fix_allocated(struct balloon_fix *f);
/* True if every byte of [gpa, gpa+len) is zero (faults pages back in). */
bool balloon_fix_is_zero(struct balloon_fix *f, uint64_t gpa, uint64_t len);

#endif
