/* libFuzzer: virtio-rng (the entropy device) through the MMIO transport and
 * its request queue (fuzz_virtio.h): any chain shape, read-only and
 * out-of-range buffers, resets. The host op lifts or sets the rate limiter
 * as a configuration would. */
#include <stdint.h>
#include <stdlib.h>

#include "ember/virtio_rng.h"
#include "fuzz_virtio.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void host_op(void *opaque, struct fz_in *in)
{
	struct virtio_rng *rng = opaque;
	struct virtio_rng_counters c;

	(void)in;
	virtio_rng_get_counters(rng, &c);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct rng_cfg cfg = {.present = true};
	struct virtio_rng *rng;
	struct vdriver d;
	struct fz_dev dev = {.d = &d, .host_op = host_op};

	/* the first byte's high bit: a tight bandwidth limit */
	if (size && (data[0] & 0x80)) {
		cfg.rate_limiter.bandwidth.present = true;
		cfg.rate_limiter.bandwidth.size = 256;
		cfg.rate_limiter.bandwidth.refill_time_ms = 1;
	}
	if (vdrv_init(&d, FZ_RAM) < 0)
		__builtin_trap();
	if (virtio_rng_create(&cfg, &d.gm, &d.el, &rng) < 0 || vdrv_attach(&d, &rng->vdev) < 0)
		__builtin_trap();
	dev.opaque = rng;
	dev.nqueues = rng->vdev.ops->num_queues;
	fz_run(&dev, data, size);
	virtio_rng_destroy(rng);
	vdrv_destroy(&d);
	return 0;
}
