/* virtio-balloon test fixture; see balloon_fix.h. */
#include "balloon_fix.h"

#include <endian.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>

#include "ember/util.h"

int balloon_fix_setup(struct balloon_fix *f, uint64_t want)
{
	struct vdriver *d = &f->d;
	int r = vdrv_negotiate(d, want);

	if (r < 0)
		return r;
	f->nqueues = 2;
	f->q_stats = f->q_hint = f->q_report = -1;
	if (d->features & VIRTIO_FEATURE(VIRTIO_BALLOON_F_STATS_VQ))
		f->q_stats = (int)f->nqueues++;
	if (d->features & VIRTIO_FEATURE(VIRTIO_BALLOON_F_FREE_PAGE_HINT))
		f->q_hint = (int)f->nqueues++;
	if (d->features & VIRTIO_FEATURE(VIRTIO_BALLOON_F_REPORTING))
		f->q_report = (int)f->nqueues++;
	for (unsigned q = 0; q < f->nqueues; q++) {
		if ((r = vdrv_setup_queue(d, q, VIRTIO_BALLOON_QUEUE_SIZE)) < 0)
			return r;
		vdrv_queue_ready(d, q);
	}
	return vdrv_driver_ok(d);
}

int balloon_fix_init(struct balloon_fix *f, const struct balloon_cfg *cfg, uint64_t mem,
		     uint64_t gap_start, uint64_t gap_end, uint64_t want)
{
	int r;

	memset(f, 0, sizeof(*f));
	f->q_stats = f->q_hint = f->q_report = -1;
	r = vdrv_init(&f->d, mem);
	if (r < 0)
		return r;
	if (gap_start < gap_end) {
		/* The harness heap lives low in RAM, below any hole we use. */
		gm_destroy(&f->d.gm);
		r = gm_init(&f->d.gm, mem, gap_start, gap_end);
		if (r < 0)
			goto fail_drv;
		f->d.heap_end = gap_start;
	}
	r = virtio_balloon_create(cfg, &f->d.gm, &f->d.el, &f->b);
	if (r < 0)
		goto fail_drv;
	r = vdrv_attach(&f->d, &f->b->vdev);
	if (r == 0 && want)
		r = balloon_fix_setup(f, want);
	if (r < 0)
		goto fail_dev;
	return 0;
fail_dev:
	virtio_balloon_destroy(f->b);
	f->b = NULL;
fail_drv:
	vdrv_destroy(&f->d);
	return r;
}

void balloon_fix_fini(struct balloon_fix *f)
{
	virtio_balloon_destroy(f->b);
	vdrv_destroy(&f->d);
}

struct balloon_fix *balloon_fix_new(const struct balloon_cfg *cfg, uint64_t mem, uint64_t want)
{
	struct balloon_fix *f = calloc(1, sizeof(*f));

	if (f && balloon_fix_init(f, cfg, mem, 0, 0, want) < 0) {
		free(f);
		f = NULL;
	}
	return f;
}

void balloon_fix_free(struct balloon_fix *f)
{
	balloon_fix_fini(f);
	free(f);
}

uint32_t balloon_fix_cfg_read32(struct balloon_fix *f, uint32_t off)
{
	uint32_t v = 0;

	vdrv_config_read(&f->d, off, &v, 4);
	return le32toh(v);
}

void balloon_fix_cfg_write(struct balloon_fix *f, uint32_t off, const void *data, uint32_t len)
{
	bus_access(&f->d.bus, VDRV_MMIO_BASE + VIRTIO_MMIO_CONFIG + off, (void *)data, len, true);
}

int balloon_fix_post(struct balloon_fix *f, unsigned q, const struct vd_buf *bufs, int n)
{
	int head = vdrv_add_chain(&f->d, q, bufs, n, false);

	if (head < 0)
		return head;
	vdrv_kick(&f->d, q);
	vdrv_poll(&f->d);
	return head;
}

int balloon_fix_do(struct balloon_fix *f, unsigned q, const struct vd_buf *bufs, int n,
		   uint32_t *used_len)
{
	int head = vdrv_add_chain(&f->d, q, bufs, n, false);
	uint32_t id;
	int r;

	if (head < 0)
		return head;
	vdrv_kick(&f->d, q);
	r = vdrv_wait_used(&f->d, q, VDRV_WAIT_MS, &id, used_len);
	if (r == 0) {
		vdrv_free_chain(&f->d, q, (uint16_t)id);
		if (id != (uint32_t)head)
			r = -EBADMSG;
	}
	return r;
}

int balloon_fix_pfns(struct balloon_fix *f, unsigned q, const uint32_t *pfns, size_t n, int nsplit)
{
	uint64_t mark = vdrv_mark(&f->d), len = n * 4, gpa = vdrv_alloc(&f->d, len ? len : 4, 8);
	struct vd_buf bufs[VQ_MAX_SIZE];
	uint32_t *p = vdrv_ptr(&f->d, gpa, len);
	uint64_t off = 0;
	int nb = 0, r;

	if (!gpa || nsplit < 1 || nsplit > VQ_MAX_SIZE)
		return -EINVAL;
	for (size_t i = 0; i < n; i++)
		p[i] = htole32(pfns[i]);
	/* Uneven pieces (PFNs straddle descriptors); the last takes the rest. */
	for (int i = 0; i < nsplit; i++) {
		uint64_t piece = i + 1 < nsplit ? MIN(len - off, (uint64_t)(6 + 2 * i)) : len - off;

		bufs[nb++] = (struct vd_buf){gpa + off, (uint32_t)piece, false};
		off += piece;
	}
	r = balloon_fix_do(f, q, bufs, nb, NULL);
	vdrv_release(&f->d, mark);
	return r;
}

void balloon_fix_touch(struct balloon_fix *f, uint64_t gpa, uint64_t len, uint8_t seed)
{
	for (uint64_t off = 0; off < len; off += BALLOON_FIX_PAGE) {
		uint8_t *p = vdrv_ptr(&f->d, gpa + off, BALLOON_FIX_PAGE);

		if (p)
			memset(p, (uint8_t)(seed + off / BALLOON_FIX_PAGE) | 1, BALLOON_FIX_PAGE);
	}
}

size_t balloon_fix_resident(struct balloon_fix *f, uint64_t gpa, uint64_t len)
{
	size_t n = 0;

	for (uint64_t off = 0; off < len; off += BALLOON_FIX_PAGE) {
		unsigned char v = 0;
		void *p = vdrv_ptr(&f->d, gpa + off, BALLOON_FIX_PAGE);

		if (p && mincore(p, BALLOON_FIX_PAGE, &v) == 0 && (v & 1))
			n++;
	}
	return n;
}

uint64_t balloon_fix_allocated(struct balloon_fix *f)
{
	struct stat st;

	return fstat(f->d.gm.memfd, &st) == 0 ? (uint64_t)st.st_blocks * 512 : 0;
}

bool balloon_fix_is_zero(struct balloon_fix *f, uint64_t gpa, uint64_t len)
{
	const uint8_t *p = vdrv_ptr(&f->d, gpa, len);

	if (!p)
		return false;
	for (uint64_t i = 0; i < len; i++)
		if (p[i])
			return false;
	return true;
}
