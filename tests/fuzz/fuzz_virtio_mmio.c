/* libFuzzer: virtio-mmio register and config-space accesses (the transport,
 * src/devices/virtio/virtio.c) from a device in reset: any offset, width and
 * value, in any order, with the event loop run in between (QueueNotify and
 * activation reach the device). Device: virtio-blk (1 queue) or, when the
 * first byte is odd, virtio-balloon (config writes, several queues).
 * Input: [device][off lo][off hi|len|write][value 8 bytes]... */
#include <stdint.h>
#include <string.h>

#include "ember/config.h"
#include "ember/virtio_balloon.h"
#include "ember/virtio_blk.h"
#include "fuzz_virtio.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char path[96];

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fz_in in = {.p = data, .n = size};
	struct drive_cfg dcfg = {.id = "fz", .is_root = true};
	struct balloon_cfg bcfg = {.present = true,
				   .amount_mib = 1,
				   .free_page_reporting = true,
				   .stats_polling_interval_s = 1000};
	struct virtio_blk *blk = NULL;
	struct virtio_balloon *b = NULL;
	struct vdriver d;
	bool balloon = fz_u8(&in) & 1;

	if (!path[0] && fz_temp_file(1 << 20, path, sizeof(path)) < 0)
		__builtin_trap();
	dcfg.path = path;
	if (vdrv_init(&d, FZ_RAM) < 0)
		__builtin_trap();
	if (balloon ? virtio_balloon_create(&bcfg, &d.gm, &d.el, &b) < 0
		    : virtio_blk_create(&dcfg, &d.gm, &d.el, &blk) < 0)
		__builtin_trap();
	if (vdrv_attach(&d, balloon ? &b->vdev : &blk->vdev) < 0)
		__builtin_trap();
	for (int i = 0; in.n && i < 1024; i++) {
		uint16_t w = fz_u16(&in);
		uint32_t off = w & 0x1ff;
		uint32_t len = 1u << ((w >> 9) & 3);
		bool write = w & 0x800;
		uint64_t v = fz_u64(&in);

		/* mostly aligned 32-bit control registers, sometimes anything */
		if (!(w & 0x1000)) {
			off &= ~3u;
			len = 4;
		}
		bus_access(&d.bus, VDRV_MMIO_BASE + off, &v, len, write);
		if (w & 0x2000)
			vdrv_poll(&d);
	}
	vdrv_poll(&d);
	if (balloon)
		virtio_balloon_destroy(b);
	else
		virtio_blk_destroy(blk);
	vdrv_destroy(&d);
	return 0;
}
