/* Snapshot round trips in the device harness: a device's transport and
 * device state saved (virtio_dev_save + ops->save) with requests waiting on
 * the avail ring, a fresh device of the same configuration restored from it
 * (ops->restore + virtio_dev_restore) on the same guest memory, and the
 * waiting requests complete as if the device had never stopped; later
 * traffic goes on. A state that does not fit the device is refused and
 * leaves it reset. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <linux/virtio_blk.h>

#include "balloon_fix.h"
#include "blkfix.h"
#include "ember/virtio.h"

/* Save a, restore into b, and point the driver's bus at b. */
static void round_trip(struct vdriver *d, struct virtio_dev *a, struct virtio_dev *b)
{
	struct virtio_dev_state st;
	uint8_t blob[4096];
	size_t len = 0;

	pthread_mutex_lock(&a->lock);
	virtio_dev_save(a, &st);
	if (a->ops->save) {
		len = sizeof(blob);
		assert_int_equal(a->ops->save(a, blob, &len), 0);
	}
	pthread_mutex_unlock(&a->lock);
	bus_init(&d->bus);
	assert_int_equal(vdrv_attach(d, b), 0);
	pthread_mutex_lock(&b->lock);
	if (b->ops->restore)
		assert_int_equal(b->ops->restore(b, blob, len), 0);
	assert_int_equal(virtio_dev_restore(b, &st), 0);
	pthread_mutex_unlock(&b->lock);
}

static struct virtio_blk *blk_again(struct blkfix *f)
{
	struct drive_cfg cfg = {0};
	struct virtio_blk *b;

	snprintf(cfg.id, sizeof(cfg.id), "%s", "rootfs");
	cfg.path = f->path;
	cfg.cache_writeback = true; /* as blkfix: the same features as the saved one */
	assert_int_equal(virtio_blk_create(&cfg, &f->d.gm, &f->d.el, &b), 0);
	return b;
}

static void test_blk_mid_traffic(void **state)
{
	enum { N = 3, LEN = 8192 };
	struct blkfix f;
	struct virtio_blk *b2;
	uint64_t buf[N], hs[N];
	uint8_t *want = malloc(LEN);

	(void)state;
	assert_int_equal(blkfix_init(&f, 1 << 20, 8 << 20, false, NULL), 0);
	assert_int_equal(blkfix_read_check(&f, 0, 4096), 0);
	/* N reads waiting on the avail ring, no kick: the VM is paused there */
	for (int i = 0; i < N; i++) {
		struct vd_buf db;

		buf[i] = vdrv_alloc(&f.d, LEN, 4096);
		hs[i] = vdrv_alloc(&f.d, 32, 16);
		memset(vdrv_ptr(&f.d, hs[i] + 16, 1), 0xff, 1);
		db = (struct vd_buf){buf[i], LEN, true};
		assert_true(vdrv_blk_submit(&f.d, 0, VIRTIO_BLK_T_IN, (uint64_t)i * 16, &db, 1,
					    i == 1, hs[i]) >= 0);
	}
	b2 = blk_again(&f);
	round_trip(&f.d, &f.blk->vdev, &b2->vdev);
	virtio_blk_destroy(f.blk);
	f.blk = b2;
	/* the restored device finds them and completes them */
	for (int i = 0; i < N; i++) {
		uint32_t id, len;

		assert_int_equal(vdrv_wait_used(&f.d, 0, VDRV_WAIT_MS, &id, &len), 0);
		vdrv_free_chain(&f.d, 0, (uint16_t)id);
	}
	for (int i = 0; i < N; i++) {
		assert_int_equal(*(uint8_t *)vdrv_ptr(&f.d, hs[i] + 16, 1), VIRTIO_BLK_S_OK);
		vdrv_pattern(want, (uint64_t)i * 16 * 512, LEN, f.seed);
		assert_memory_equal(vdrv_ptr(&f.d, buf[i], LEN), want, LEN);
	}
	/* and traffic goes on through the restored device */
	assert_int_equal(blkfix_read_check(&f, 100, 4096), 0);
	assert_false(vdrv_needs_reset(&f.d));
	free(want);
	blkfix_fini(&f);
}

static void test_refused_state_leaves_reset(void **state)
{
	struct virtio_dev_state st;
	struct blkfix f;
	struct virtio_blk *b2;

	(void)state;
	assert_int_equal(blkfix_init(&f, 1 << 20, 8 << 20, false, NULL), 0);
	pthread_mutex_lock(&f.blk->vdev.lock);
	virtio_dev_save(&f.blk->vdev, &st);
	pthread_mutex_unlock(&f.blk->vdev.lock);
	b2 = blk_again(&f);
	struct virtio_dev_state bad = st;
	bad.queues[0].size = 3; /* not a power of two */
	pthread_mutex_lock(&b2->vdev.lock);
	assert_int_equal(virtio_dev_restore(&b2->vdev, &bad), -EINVAL);
	bad = st;
	bad.device_id = VIRTIO_ID_NET;
	assert_int_equal(virtio_dev_restore(&b2->vdev, &bad), -EINVAL);
	bad = st;
	bad.queues[0].desc_gpa = 1ull << 40; /* outside guest RAM */
	assert_int_equal(virtio_dev_restore(&b2->vdev, &bad), -EINVAL);
	assert_int_equal(b2->vdev.status, 0);
	assert_int_equal(b2->vdev.ops->restore(&b2->vdev, "x", 1), -EINVAL);
	pthread_mutex_unlock(&b2->vdev.lock);
	virtio_blk_destroy(b2);
	blkfix_fini(&f);
}

static void test_balloon_state(void **state)
{
	struct balloon_cfg cfg = {.present = true, .amount_mib = 2, .stats_polling_interval_s = 0};
	struct balloon_fix f;
	struct virtio_balloon *b2;
	uint32_t pfns[4] = {600, 601, 602, 603};
	uint32_t actual = 4;

	(void)state;
	assert_int_equal(balloon_fix_init(&f, &cfg, 16 << 20, 0, 0, BALLOON_FIX_ALL_FEATURES), 0);
	assert_int_equal(balloon_fix_pfns(&f, 0, pfns, 4, 1), 0);
	balloon_fix_cfg_write(&f, 4, &actual, 4);
	assert_int_equal(virtio_balloon_create(&cfg, &f.d.gm, &f.d.el, &b2), 0);
	round_trip(&f.d, &f.b->vdev, &b2->vdev);
	virtio_balloon_destroy(f.b);
	f.b = b2;
	assert_int_equal(balloon_fix_cfg_read32(&f, 0), 2 * 256); /* num_pages */
	assert_int_equal(balloon_fix_cfg_read32(&f, 4), 4);	  /* actual */
	/* inflation goes on through the restored queues */
	pfns[0] = 700;
	assert_int_equal(balloon_fix_pfns(&f, 0, pfns, 1, 1), 0);
	assert_false(vdrv_needs_reset(&f.d));
	balloon_fix_fini(&f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_blk_mid_traffic),
	    cmocka_unit_test(test_refused_state_leaves_reset),
	    cmocka_unit_test(test_balloon_state),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
