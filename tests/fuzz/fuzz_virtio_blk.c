/* libFuzzer: virtio-blk through the MMIO transport and its request queue
 * (fuzz_virtio.h: the input is a hostile driver's program). The backing
 * file is a small sparse file; the host op swaps it (PATCH /drives) or sets
 * an ops rate limiter that never refills during a run (throttled requests
 * wait on the queue). */
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "ember/config.h"
#include "ember/virtio_blk.h"
#include "fuzz_virtio.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char path[2][96];

struct blk_ctx {
	struct virtio_blk *blk;
	int which;
};

static void host_op(void *opaque, struct fz_in *in)
{
	struct blk_ctx *c = opaque;
	uint8_t op = fz_u8(in);

	if (op % 3 == 0) {
		c->which ^= 1;
		virtio_blk_set_path(c->blk, path[c->which]);
	} else if (op % 3 == 1) {
		struct rate_limiter_cfg rl = {0};

		rl.ops = (struct token_bucket_cfg){
		    .present = true, .size = 1 + fz_u8(in) % 8, .refill_time_ms = 1000000};
		virtio_blk_update_rate_limiter(c->blk, &rl);
	} else {
		struct virtio_blk_counters cnt;

		virtio_blk_get_counters(c->blk, &cnt);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct drive_cfg cfg = {.id = "fz", .is_root = true};
	struct vdriver d;
	struct blk_ctx c = {0};
	struct fz_dev dev = {.d = &d, .nqueues = 1, .host_op = host_op, .opaque = &c};

	if (!path[0][0] && (fz_temp_file(1 << 20, path[0], sizeof(path[0])) < 0 ||
			    fz_temp_file(3 << 19, path[1], sizeof(path[1])) < 0))
		__builtin_trap();
	cfg.path = path[0];
	cfg.read_only = size && (data[0] & 0x80);
	if (vdrv_init(&d, FZ_RAM) < 0)
		__builtin_trap();
	if (virtio_blk_create(&cfg, &d.gm, &d.el, &c.blk) < 0 || vdrv_attach(&d, &c.blk->vdev) < 0)
		__builtin_trap();
	fz_run(&dev, data, size);
	virtio_blk_destroy(c.blk);
	vdrv_destroy(&d);
	return 0;
}
