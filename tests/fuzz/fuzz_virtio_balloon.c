/* libFuzzer: virtio-balloon through the MMIO transport and its queues
 * (inflate, deflate, statistics, free page hinting, free page reporting;
 * fuzz_virtio.h). Hinting is always offered (the driver's feature mask
 * decides whether it is negotiated, and so the queue numbering). The host
 * op changes the target, the statistics interval, reads the statistics as
 * the API does, or starts / stops a hinting run or reads its status. */
#include <stdint.h>
#include <stdlib.h>

#include "ember/config.h"
#include "ember/virtio_balloon.h"
#include "fuzz_virtio.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void host_op(void *opaque, struct fz_in *in)
{
	struct virtio_balloon *b = opaque;
	uint8_t op = fz_u8(in);
	char *json = NULL;

	switch (op % 7) {
	case 0:
		virtio_balloon_set_target(b, fz_u8(in) % 12);
		break;
	case 1:
		virtio_balloon_set_stats_interval(b, fz_u8(in));
		break;
	case 2: {
		struct virtio_balloon_stats st;

		virtio_balloon_get_stats(b, &st);
		break;
	}
	case 3:
		if (virtio_balloon_stats_json(b, &json) == 0)
			free(json);
		break;
	case 4:
		virtio_balloon_hint_start(b, fz_u8(in) & 1);
		break;
	case 5:
		virtio_balloon_hint_stop(b);
		break;
	default:
		if (virtio_balloon_hint_status_json(b, &json) == 0)
			free(json);
		break;
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct balloon_cfg cfg = {.present = true, .free_page_hinting = true};
	struct virtio_balloon *b;
	struct vdriver d;
	struct fz_dev dev = {.d = &d, .host_op = host_op};

	/* the first byte's high bits choose the configuration */
	if (size) {
		cfg.amount_mib = (data[0] >> 3) & 3;
		cfg.deflate_on_oom = data[0] & 0x20;
		cfg.stats_polling_interval_s = (data[0] & 0x40) ? 1000 : 0;
		cfg.free_page_reporting = data[0] & 0x80;
	}
	if (vdrv_init(&d, FZ_RAM) < 0)
		__builtin_trap();
	if (virtio_balloon_create(&cfg, &d.gm, &d.el, &b) < 0 || vdrv_attach(&d, &b->vdev) < 0)
		__builtin_trap();
	dev.opaque = b;
	dev.nqueues = b->vdev.ops->num_queues;
	fz_run(&dev, data, size);
	virtio_balloon_destroy(b);
	vdrv_destroy(&d);
	return 0;
}
