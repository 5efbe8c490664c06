/* virtio-rng (virtio 1.2 section 5.4, device id 4): Firecracker's entropy
 * device (PUT /entropy). One request queue; every device-writable buffer the
 * driver posts is filled from the host's getrandom() (never blocking: the
 * host pool is initialised long before a guest runs; if it is not, the
 * request completes with 0 bytes and the driver asks again). The shared token
 * bucket limits bytes and requests as it does for blk and net.
 *
 * A request is capped at VIRTIO_RNG_MAX_REQ bytes (a driver asking for more
 * gets that much: the used length says how many bytes are valid). */
#ifndef EMBER_VIRTIO_RNG_H
#define EMBER_VIRTIO_RNG_H

#include <stdbool.h>
#include <stdint.h>

#include "ember/rate_limiter.h"
#include "ember/virtio.h"

#define VIRTIO_RNG_QUEUE_SIZE 256
#define VIRTIO_RNG_MAX_REQ (64 * 1024)

/* PUT /entropy, the config file's "entropy" section. */
struct rng_cfg {
	bool present;
	struct rate_limiter_cfg rate_limiter;
};

/* Firecracker's "entropy" metrics group. */
struct virtio_rng_counters {
	uint64_t activate_fails;
	uint64_t entropy_event_fails; /* malformed requests */
	uint64_t entropy_event_count; /* queue notifications */
	uint64_t entropy_bytes;	      /* bytes handed to the guest */
	uint64_t host_rng_fails;      /* getrandom() failures */
	uint64_t entropy_rate_limiter_throttled;
	uint64_t rate_limiter_event_count;
};

struct virtio_rng {
	struct virtio_dev vdev; /* first: the transport's view */
	struct rate_limiter rl;
	bool throttled; /* the queue waits for the rate limiter timer */
	struct virtio_rng_counters stats;
	struct virtio_rng_counters published; /* at the last publish_metrics */
	struct vq_chain chain;		      /* scratch for the request being handled */
};

int virtio_rng_create(const struct rng_cfg *cfg, const struct guest_mem *gm, struct event_loop *el,
		      struct virtio_rng **out);
void virtio_rng_destroy(struct virtio_rng *rng);
void virtio_rng_get_counters(struct virtio_rng *rng, struct virtio_rng_counters *out);

#endif
