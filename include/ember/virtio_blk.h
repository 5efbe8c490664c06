/* virtio-blk on a raw file or block device.
 *
 * Requests: VIRTIO_BLK_T_IN / OUT / FLUSH / GET_ID; anything else answers
 * VIRTIO_BLK_S_UNSUPP; a request outside the disk answers IOERR. Data goes
 * straight between the file and guest buffers with preadv/pwritev; FLUSH is
 * fdatasync. Features: FLUSH, BLK_SIZE, SEG_MAX, SIZE_MAX (+ RO for read-only
 * drives). The capacity is the file size rounded down to 512-byte sectors;
 * nothing beyond it is ever read or written. GET_ID returns the drive id
 * (truncated to 20 bytes, NUL-padded).
 *
 * io_engine "Async" (blk_uring.c): reads, writes and flushes go to an
 * io_uring instead and complete on the VMM thread when its eventfd fires;
 * everything else is the same code.
 *
 * The optional rate limiter is checked per request (1 op + data bytes); a
 * throttled queue waits for the limiter's timerfd in the event loop.
 *
 * Wiring: see virtio.h (blk->vdev is the struct virtio_dev). All functions
 * run on the VMM thread. */
#ifndef EMBER_VIRTIO_BLK_H
#define EMBER_VIRTIO_BLK_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>
#include <sys/uio.h>

#include <linux/virtio_blk.h>

#include "ember/rate_limiter.h"
#include "ember/util.h"
#include "ember/virtio.h"

#define VIRTIO_BLK_SECTOR_SIZE 512
#define VIRTIO_BLK_QUEUE_SIZE 256
#define VIRTIO_BLK_SEG_MAX (VIRTIO_BLK_QUEUE_SIZE - 2)
#define VIRTIO_BLK_SIZE_MAX (1u << 20) /* largest single segment advertised */

/* One drive (PUT /drives/{id}, the "drives" section). */
struct drive_cfg {
	char id[CFG_ID_MAX + 1];
	char *path;
	bool read_only;
	bool is_root;
	char *partuuid;
	struct rate_limiter_cfg rate_limiter;
	/* cache_type "Writeback": VIRTIO_BLK_F_FLUSH offered, flushes are
	 * fdatasync; "Unsafe" (the default): no flush feature, as Firecracker */
	bool cache_writeback;
	/* io_engine "Async": I/O through io_uring (blk_uring.c), same
	 * semantics as "Sync" */
	bool io_async;
};

/* Per-device counters (Firecracker's block metrics), under vdev.lock. */
struct virtio_blk_counters {
	uint64_t activate_fails;
	uint64_t cfg_fails; /* swap of the backing file failed */
	uint64_t flush_count;
	uint64_t get_id_count;
	uint64_t queue_event_count;
	uint64_t execute_fails; /* host I/O errors */
	uint64_t invalid_reqs_count;
	uint64_t unsupported_count;
	uint64_t out_of_range_count;
	uint64_t read_bytes, write_bytes;
	uint64_t read_count, write_count;
	uint64_t rate_limiter_event_count;	/* timer wake-ups */
	uint64_t rate_limiter_throttled_events; /* requests held back */
	uint64_t update_count;			/* backing file swaps */
};

struct virtio_blk {
	struct virtio_dev vdev; /* first: the transport's view */
	char id[CFG_ID_MAX + 1];
	char path[4096];
	int fd;
	bool read_only;
	uint64_t nsectors;
	struct rate_limiter rl;
	bool throttled; /* queue 0 waits for the rate limiter timer */
	struct virtio_blk_counters stats;
	/* stats at the last publish_metrics */
	struct virtio_blk_counters published;
	struct vq_chain chain; /* scratch for the request being handled */
	struct blk_aio *aio;   /* io_engine "Async", else NULL */
};

/* Open cfg->path (read-only if cfg->read_only) and create the device; its
 * queue eventfds and rate-limiter timerfd are added to el. */
int virtio_blk_create(const struct drive_cfg *cfg, const struct guest_mem *gm,
		      struct event_loop *el, struct virtio_blk **out);
void virtio_blk_destroy(struct virtio_blk *blk);

/* PATCH /drives: switch to another backing file (same read-only mode),
 * update the capacity and raise a config-change interrupt. On failure the
 * old file stays. */
int virtio_blk_set_path(struct virtio_blk *blk, const char *path);
/* PATCH /drives rate_limiter (present buckets are replaced). */
void virtio_blk_update_rate_limiter(struct virtio_blk *blk, const struct rate_limiter_cfg *cfg);
/* Snapshot of the counters, taken under the lock. */
void virtio_blk_get_counters(struct virtio_blk *blk, struct virtio_blk_counters *out);

/* ---- io_engine "Async" (blk_uring.c; used by blk.c) ---- */
/* 0 if this host's kernel lets ember use io_uring, else -ENOTSUP with the
 * reason (err_set). */
int blk_aio_supported(void);
int blk_aio_init(struct virtio_blk *blk, struct event_loop *el);
void blk_aio_fini(struct virtio_blk *blk);
/* Queue a read/write of len bytes at off (used: the used length on
 * success) or a flush for chain c; 0, or -EIO if it cannot be queued. */
int blk_aio_rw(struct virtio_blk *blk, const struct vq_chain *c, const struct iovec *iov, int n,
	       off_t off, uint64_t len, bool wr, uint32_t used);
int blk_aio_flush(struct virtio_blk *blk, const struct vq_chain *c);
/* Hand the queued requests to the kernel. */
void blk_aio_submit(struct virtio_blk *blk);
/* Wait for every request in flight; push: complete them to the guest
 * (else they are dropped: reset). */
void blk_aio_quiesce(struct virtio_blk *blk, bool push);
unsigned blk_aio_inflight(const struct virtio_blk *blk);
/* preadv/pwritev until len bytes are done (blk.c). */
int blk_rw_full(int fd, const struct iovec *iov, int n, off_t off, uint64_t len, bool wr);

#endif
