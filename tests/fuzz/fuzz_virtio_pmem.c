/* libFuzzer: virtio-pmem through the MMIO transport and its request queue
 * (fuzz_virtio.h): any chain shape, short and read-only answers, unknown
 * request types, out-of-range buffers, config space writes, resets. The
 * host op swaps the flush rate limiter as PATCH /pmem does; the first
 * byte's high bit maps the file read-only. */
#include <stdint.h>
#include <stdlib.h>
#include <unistd.h>

#include "ember/virtio_pmem.h"
#include "fuzz_virtio.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void host_op(void *opaque, struct fz_in *in)
{
	struct virtio_pmem *pm = opaque;
	struct rate_limiter_cfg rl = {0};
	struct virtio_pmem_counters c;

	if (fz_u8(in) & 1) {
		rl.ops.present = true;
		rl.ops.size = 1 + fz_u8(in) % 4;
		rl.ops.refill_time_ms = 1;
	}
	virtio_pmem_update_rate_limiter(pm, &rl);
	virtio_pmem_get_counters(pm, &c);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static char path[256];
	struct pmem_cfg cfg = {.id = "pm0", .path = path};
	struct virtio_pmem *pm;
	struct vdriver d;
	struct fz_dev dev = {.d = &d, .host_op = host_op};

	if (!path[0] && fz_temp_file(1 << 20, path, sizeof(path)) < 0)
		__builtin_trap();
	cfg.read_only = size && (data[0] & 0x80);
	if (vdrv_init(&d, FZ_RAM) < 0)
		__builtin_trap();
	if (virtio_pmem_create(&cfg, 1ULL << 32, &d.gm, &d.el, &pm) < 0 ||
	    vdrv_attach(&d, &pm->vdev) < 0)
		__builtin_trap();
	dev.opaque = pm;
	dev.nqueues = pm->vdev.ops->num_queues;
	fz_run(&dev, data, size);
	virtio_pmem_destroy(pm);
	vdrv_destroy(&d);
	return 0;
}
