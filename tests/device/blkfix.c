/* virtio-blk test fixture; see blkfix.h. */
#include "blkfix.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

bool blkfix_io_async;

const char *blkfix_dir(void)
{
	return access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp";
}

int blkfix_init_features(struct blkfix *f, uint64_t size, uint64_t mem, bool ro,
			 const struct rate_limiter_cfg *rl, uint64_t want)
{
	struct drive_cfg cfg = {0};
	int r;

	memset(f, 0, sizeof(*f));
	f->size = size;
	f->seed = (uint32_t)getpid() ^ (uint32_t)size;
	r = vdrv_make_file(blkfix_dir(), size, f->seed, f->path);
	if (r < 0)
		return r;
	r = vdrv_init(&f->d, mem);
	if (r < 0)
		goto fail_file;
	snprintf(cfg.id, sizeof(cfg.id), "%s", "rootfs");
	cfg.path = f->path;
	cfg.read_only = ro;
	cfg.cache_writeback = true; /* the flush tests need VIRTIO_BLK_F_FLUSH */
	cfg.io_async = blkfix_io_async;
	if (rl)
		cfg.rate_limiter = *rl;
	r = virtio_blk_create(&cfg, &f->d.gm, &f->d.el, &f->blk);
	if (r < 0)
		goto fail_drv;
	r = vdrv_attach(&f->d, &f->blk->vdev);
	if (r == 0 && want)
		r = vdrv_setup(&f->d, want, 1, VIRTIO_BLK_QUEUE_SIZE);
	if (r < 0)
		goto fail_blk;
	return 0;
fail_blk:
	virtio_blk_destroy(f->blk);
fail_drv:
	vdrv_destroy(&f->d);
fail_file:
	unlink(f->path);
	return r;
}

int blkfix_init(struct blkfix *f, uint64_t size, uint64_t mem, bool ro,
		const struct rate_limiter_cfg *rl)
{
	return blkfix_init_features(f, size, mem, ro, rl, BLKFIX_ALL_FEATURES);
}

void blkfix_fini(struct blkfix *f)
{
	virtio_blk_destroy(f->blk);
	vdrv_destroy(&f->d);
	unlink(f->path);
}

int blkfix_reinit_queue(struct blkfix *f)
{
	return vdrv_setup(&f->d, BLKFIX_ALL_FEATURES, 1, VIRTIO_BLK_QUEUE_SIZE);
}

int blkfix_read_check(struct blkfix *f, uint64_t sector, uint32_t len)
{
	uint64_t mark = vdrv_mark(&f->d), buf = vdrv_alloc(&f->d, len, 4096);
	struct vd_buf b = {buf, len, true};
	uint8_t status = 0xff, want[4096];
	uint32_t used;
	int r;

	if (!buf)
		return -ENOMEM;
	r = vdrv_blk_do(&f->d, VIRTIO_BLK_T_IN, sector, &b, 1, false, &status, &used);
	if (r == 0 && (status != VIRTIO_BLK_S_OK || used != len + 1))
		r = -EIO;
	for (uint32_t off = 0; r == 0 && off < len; off += sizeof(want)) {
		uint32_t n = len - off < sizeof(want) ? len - off : (uint32_t)sizeof(want);

		vdrv_pattern(want, sector * 512 + off, n, f->seed);
		if (memcmp(vdrv_ptr(&f->d, buf + off, n), want, n))
			r = -EBADMSG;
	}
	vdrv_release(&f->d, mark);
	return r;
}
