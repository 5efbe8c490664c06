/* libFuzzer: virtio-mem through the MMIO transport and its request queue
 * (fuzz_virtio.h): plug, unplug, unplug-all and state requests with any
 * address and block count, malformed chains, buffers in (un)plugged hotplug
 * memory, feature sets without UNPLUGGED_INACCESSIBLE, resets. The hotplug
 * area (256 MiB in 128 MiB slots, 2 MiB blocks) starts at 128 MiB, right
 * above the fuzz RAM; the host op sets requested_size as PATCH
 * /hotplug/memory does. After every run: plugged_size never exceeds the
 * region, and an unmapped slot is unreachable. */
#include <stdint.h>
#include <stdlib.h>

#include "ember/virtio_mem.h"
#include "fuzz_virtio.h"

#define HP_GPA (128ULL << 20)
#define HP_SIZE (256ULL << 20)
#define SLOT (128ULL << 20)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void host_op(void *opaque, struct fz_in *in)
{
	struct virtio_mem *m = opaque;
	struct virtio_mem_status st;

	virtio_mem_set_requested(m, (uint64_t)fz_u8(in) << 20); /* odd sizes are refused */
	virtio_mem_get_status(m, &st);
	if (st.plugged_size > st.total_size)
		__builtin_trap();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct memhp_cfg cfg = {.present = true,
				.total_size_mib = HP_SIZE >> 20,
				.block_size_mib = 2,
				.slot_size_mib = SLOT >> 20};
	struct virtio_mem *m;
	struct vdriver d;
	struct fz_dev dev = {.d = &d, .host_op = host_op};
	struct virtio_mem_status st;

	if (vdrv_init(&d, FZ_RAM) < 0 || gm_hotplug_init(&d.gm, HP_GPA, HP_SIZE, SLOT) < 0)
		__builtin_trap();
	if (virtio_mem_create(&cfg, &d.gm, NULL, &d.el, &m) < 0 || vdrv_attach(&d, &m->vdev) < 0)
		__builtin_trap();
	dev.opaque = m;
	dev.nqueues = m->vdev.ops->num_queues;
	fz_run(&dev, data, size);
	virtio_mem_get_status(m, &st);
	if (st.plugged_size > st.total_size)
		__builtin_trap();
	for (unsigned s = 0; s < HP_SIZE / SLOT; s++)
		if (!gm_hotplug_slot_mapped(&d.gm, s) && gm_slice(&d.gm, HP_GPA + s * SLOT, 1))
			__builtin_trap();
	virtio_mem_destroy(m);
	vdrv_destroy(&d);
	return 0;
}
