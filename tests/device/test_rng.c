/* virtio-rng (the entropy device) driven by the harness driver: buffers come
 * back filled with host randomness, split and indirect chains, requests over
 * the per-request cap, hostile chains (read-only, out of guest memory) are
 * answered without touching anything else, the rate limiter holds requests
 * back until its timer, and reset/re-activation works. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "ember/event_loop.h"
#include "ember/virtio_rng.h"
#include "vdriver.h"

#define MEM (4 * 1024 * 1024)
#define QSIZE 64

struct fix {
	struct vdriver d;
	struct virtio_rng *rng;
};

static struct fix *fix_new(const struct rng_cfg *cfg)
{
	struct fix *f = calloc(1, sizeof(*f));

	assert_non_null(f);
	assert_int_equal(vdrv_init(&f->d, MEM), 0);
	assert_int_equal(virtio_rng_create(cfg, &f->d.gm, &f->d.el, &f->rng), 0);
	assert_int_equal(vdrv_attach(&f->d, &f->rng->vdev), 0);
	assert_int_equal(vdrv_setup(&f->d,
				    VIRTIO_FEATURE(VIRTIO_F_VERSION_1) |
					VIRTIO_FEATURE(VIRTIO_RING_F_INDIRECT_DESC),
				    1, QSIZE),
			 0);
	return f;
}

static void fix_free(struct fix *f)
{
	virtio_rng_destroy(f->rng);
	vdrv_destroy(&f->d);
	free(f);
}

static struct virtio_rng_counters counters(struct fix *f)
{
	struct virtio_rng_counters c;

	virtio_rng_get_counters(f->rng, &c);
	return c;
}

/* Submit one chain and wait for it; returns the used length. */
static uint32_t request(struct fix *f, const struct vd_buf *b, int n, bool indirect)
{
	uint32_t id, len;
	int head = vdrv_add_chain(&f->d, 0, b, n, indirect);

	assert_true(head >= 0);
	vdrv_kick(&f->d, 0);
	assert_int_equal(vdrv_wait_used(&f->d, 0, VDRV_WAIT_MS, &id, &len), 0);
	assert_int_equal(id, (uint32_t)head);
	vdrv_free_chain(&f->d, 0, (uint16_t)id);
	return len;
}

static bool all_zero(const uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (p[i])
			return false;
	return true;
}

static void test_fill(void **state)
{
	struct fix *f = fix_new(NULL);
	uint64_t a = vdrv_alloc(&f->d, 4096, 16), b = vdrv_alloc(&f->d, 4096, 16);
	uint8_t *pa = vdrv_ptr(&f->d, a, 4096), *pb = vdrv_ptr(&f->d, b, 4096);
	struct vd_buf one = {a, 4096, true};
	struct vd_buf split[2] = {{a, 100, true}, {b, 28, true}};

	(void)state;
	assert_int_equal(vdrv_read32(&f->d, VIRTIO_MMIO_DEVICE_ID), VIRTIO_ID_RNG);
	assert_int_equal(request(f, &one, 1, false), 4096);
	assert_false(all_zero(pa, 4096));
	memcpy(pb, pa, 4096);
	assert_int_equal(request(f, &one, 1, false), 4096);
	assert_memory_not_equal(pa, pb, 4096); /* fresh bytes every time */

	memset(pa, 0, 4096);
	memset(pb, 0, 4096);
	assert_int_equal(request(f, split, 2, false), 128);
	assert_false(all_zero(pa, 100));
	assert_true(all_zero(pa + 100, 4096 - 100)); /* nothing past the buffer */
	assert_false(all_zero(pb, 28));
	assert_true(all_zero(pb + 28, 4096 - 28));

	assert_int_equal(request(f, split, 2, true), 128); /* indirect */
	assert_int_equal(counters(f).entropy_bytes, 2 * 4096 + 2 * 128);
	assert_int_equal(counters(f).entropy_event_fails, 0);
	fix_free(f);
}

static void test_cap(void **state)
{
	struct fix *f = fix_new(NULL);
	uint64_t big = 2 * VIRTIO_RNG_MAX_REQ;
	uint64_t a = vdrv_alloc(&f->d, big, 16);
	uint8_t *p = vdrv_ptr(&f->d, a, big);
	struct vd_buf b = {a, (uint32_t)big, true};

	(void)state;
	memset(p, 0, big);
	assert_int_equal(request(f, &b, 1, false), VIRTIO_RNG_MAX_REQ);
	assert_true(all_zero(p + VIRTIO_RNG_MAX_REQ, big - VIRTIO_RNG_MAX_REQ));
	fix_free(f);
}

static void test_hostile(void **state)
{
	struct fix *f = fix_new(NULL);
	uint64_t a = vdrv_alloc(&f->d, 256, 16);
	uint8_t *p = vdrv_ptr(&f->d, a, 256);
	struct vd_buf ro = {a, 256, false};
	struct vd_buf outside = {MEM - 16, 4096, true}; /* runs past guest RAM */
	struct vd_buf ok = {a, 64, true};

	(void)state;
	memset(p, 0x5a, 256);
	/* Read-only buffer: nothing written, used length 0. */
	assert_int_equal(request(f, &ro, 1, false), 0);
	for (int i = 0; i < 256; i++)
		assert_int_equal(p[i], 0x5a);
	assert_int_equal(counters(f).entropy_event_fails, 1);
	/* A buffer beyond guest memory: refused as a chain, answered empty. */
	assert_int_equal(request(f, &outside, 1, false), 0);
	assert_int_equal(counters(f).entropy_event_fails, 2);
	assert_false(vdrv_needs_reset(&f->d));
	/* The device still serves. */
	assert_int_equal(request(f, &ok, 1, false), 64);
	fix_free(f);
}

static void test_rate_limited(void **state)
{
	struct rng_cfg cfg = {
	    .present = true,
	    .rate_limiter.bandwidth = {.present = true, .size = 1000, .refill_time_ms = 100},
	};
	struct fix *f = fix_new(&cfg);
	uint64_t a = vdrv_alloc(&f->d, 800, 16);
	struct vd_buf b = {a, 800, true};
	uint32_t id, len;
	int head;

	(void)state;
	assert_int_equal(request(f, &b, 1, false), 800);
	/* 200 tokens left: the second request waits for the timer. */
	head = vdrv_add_chain(&f->d, 0, &b, 1, false);
	assert_true(head >= 0);
	vdrv_kick(&f->d, 0);
	vdrv_poll(&f->d);
	assert_int_equal(vdrv_used_idx(&f->d, 0), 1);
	assert_int_equal(counters(f).entropy_rate_limiter_throttled, 1);
	/* ... and completes when it fires (no kick needed). */
	assert_int_equal(vdrv_wait_used(&f->d, 0, VDRV_WAIT_MS, &id, &len), 0);
	assert_int_equal(id, (uint32_t)head);
	assert_int_equal(len, 800);
	assert_true(counters(f).rate_limiter_event_count >= 1);
	fix_free(f);
}

static void test_reset(void **state)
{
	struct fix *f = fix_new(NULL);
	uint64_t a = vdrv_alloc(&f->d, 64, 16);
	struct vd_buf b = {a, 64, true};

	(void)state;
	assert_int_equal(request(f, &b, 1, false), 64);
	vdrv_write32(&f->d, VIRTIO_MMIO_STATUS, 0);
	assert_int_equal(vdrv_status(&f->d), 0);
	assert_int_equal(vdrv_setup(&f->d, VIRTIO_FEATURE(VIRTIO_F_VERSION_1), 1, QSIZE), 0);
	assert_int_equal(request(f, &b, 1, false), 64);
	fix_free(f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_fill),    cmocka_unit_test(test_cap),
	    cmocka_unit_test(test_hostile), cmocka_unit_test(test_rate_limited),
	    cmocka_unit_test(test_reset),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
