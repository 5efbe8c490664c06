/* virtio-balloon through the guest-less harness: features and config
 * (target, actual, config-change interrupt), inflate releasing host pages
 * (mincore and the memfd's allocated blocks fall), deflate, PFNs outside RAM
 * or in the MMIO hole, malformed buffers and chains, free page reporting,
 * activation and reset. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <endian.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "balloon_fix.h"

#define RAM (64u << 20)
#define PG BALLOON_FIX_PAGE
#define HIGH (48u << 20) /* test pages live here, far above the harness heap */
#define OFF_NUM_PAGES offsetof(struct virtio_balloon_config, num_pages)
#define OFF_ACTUAL offsetof(struct virtio_balloon_config, actual)
#define F(bit) VIRTIO_FEATURE(bit)

static const struct balloon_cfg cfg_plain = {.present = true, .amount_mib = 16};
static const struct balloon_cfg cfg_all = {.present = true,
					   .amount_mib = 8,
					   .deflate_on_oom = true,
					   .stats_polling_interval_s = 1,
					   .free_page_reporting = true};
static const struct balloon_cfg cfg_report = {
    .present = true, .amount_mib = 0, .free_page_reporting = true};

static struct balloon_fix *fix_new(const struct balloon_cfg *cfg, uint64_t want)
{
	struct balloon_fix *f = balloon_fix_new(cfg, RAM, want);

	assert_non_null(f);
	return f;
}

static uint32_t pfn(uint64_t gpa)
{
	return (uint32_t)(gpa / PG);
}

static void test_features_and_config(void **state)
{
	(void)state;
	struct balloon_fix *f = fix_new(&cfg_plain, 0);
	uint64_t feat = vdrv_device_features(&f->d);

	assert_int_equal(vdrv_read32(&f->d, VIRTIO_MMIO_DEVICE_ID), VIRTIO_ID_BALLOON);
	assert_true(feat & F(VIRTIO_F_VERSION_1));
	assert_false(feat & F(VIRTIO_BALLOON_F_DEFLATE_ON_OOM));
	assert_false(feat & F(VIRTIO_BALLOON_F_STATS_VQ));
	assert_false(feat & F(VIRTIO_BALLOON_F_REPORTING));
	assert_false(feat & F(VIRTIO_BALLOON_F_FREE_PAGE_HINT));
	assert_false(feat & F(VIRTIO_BALLOON_F_MUST_TELL_HOST));
	assert_int_equal(balloon_fix_cfg_read32(f, OFF_NUM_PAGES), 16 * 256);
	assert_int_equal(balloon_fix_cfg_read32(f, OFF_ACTUAL), 0);
	/* Two queues only. */
	vdrv_write32(&f->d, VIRTIO_MMIO_QUEUE_SEL, 1);
	assert_int_equal(vdrv_read32(&f->d, VIRTIO_MMIO_QUEUE_NUM_MAX), VIRTIO_BALLOON_QUEUE_SIZE);
	vdrv_write32(&f->d, VIRTIO_MMIO_QUEUE_SEL, 2);
	assert_int_equal(vdrv_read32(&f->d, VIRTIO_MMIO_QUEUE_NUM_MAX), 0);
	assert_int_equal(virtio_dev_num_queues(&f->b->vdev), 2);
	balloon_fix_free(f);

	f = fix_new(&cfg_all, 0);
	feat = vdrv_device_features(&f->d);
	assert_true(feat & F(VIRTIO_BALLOON_F_DEFLATE_ON_OOM));
	assert_true(feat & F(VIRTIO_BALLOON_F_STATS_VQ));
	assert_true(feat & F(VIRTIO_BALLOON_F_REPORTING));
	assert_false(feat & F(VIRTIO_BALLOON_F_FREE_PAGE_HINT));
	assert_int_equal(virtio_dev_num_queues(&f->b->vdev), 4);
	assert_int_equal(balloon_fix_cfg_read32(f, OFF_NUM_PAGES), 8 * 256);
	balloon_fix_free(f);
}

static void test_create_refuses_too_big(void **state)
{
	(void)state;
	struct balloon_cfg c = {.present = true, .amount_mib = RAM / (1 << 20) + 1};
	struct vdriver *d = calloc(1, sizeof(*d));
	struct virtio_balloon *b = (void *)1;

	assert_non_null(d);
	assert_int_equal(vdrv_init(d, RAM), 0);
	assert_int_equal(virtio_balloon_create(&c, &d->gm, &d->el, &b), -EINVAL);
	assert_null(b);
	c.amount_mib = RAM >> 20; /* all of it is allowed */
	assert_int_equal(virtio_balloon_create(&c, &d->gm, &d->el, &b), 0);
	virtio_balloon_destroy(b);
	vdrv_destroy(d);
	free(d);
}

static void test_target_and_actual(void **state)
{
	(void)state;
	struct balloon_fix *f = fix_new(&cfg_plain, BALLOON_FIX_ALL_FEATURES);
	struct virtio_balloon_stats s;
	uint32_t gen = vdrv_read32(&f->d, VIRTIO_MMIO_CONFIG_GENERATION);
	uint32_t v;
	uint8_t byte;

	vdrv_irqs(&f->d);
	vdrv_ack_irq(&f->d);
	/* Host sets a new target: config generation moves, config interrupt. */
	assert_int_equal(virtio_balloon_set_target(f->b, 32), 0);
	assert_int_equal(balloon_fix_cfg_read32(f, OFF_NUM_PAGES), 32 * 256);
	assert_int_not_equal(vdrv_read32(&f->d, VIRTIO_MMIO_CONFIG_GENERATION), gen);
	assert_int_equal(vdrv_irqs(&f->d), 1);
	assert_true(vdrv_ack_irq(&f->d) & VIRTIO_MMIO_INT_CONFIG);
	/* The same target again: nothing to tell. */
	gen = vdrv_read32(&f->d, VIRTIO_MMIO_CONFIG_GENERATION);
	assert_int_equal(virtio_balloon_set_target(f->b, 32), 0);
	assert_int_equal(vdrv_read32(&f->d, VIRTIO_MMIO_CONFIG_GENERATION), gen);
	assert_int_equal(vdrv_irqs(&f->d), 0);
	/* Larger than RAM: refused, unchanged. */
	assert_int_equal(virtio_balloon_set_target(f->b, RAM / (1 << 20) + 1), -EINVAL);
	assert_int_equal(balloon_fix_cfg_read32(f, OFF_NUM_PAGES), 32 * 256);
	assert_int_equal(virtio_balloon_set_target(f->b, 0), 0);
	assert_int_equal(balloon_fix_cfg_read32(f, OFF_NUM_PAGES), 0);
	assert_int_equal(f->b->cnt.target_updates, 2);

	/* The driver reports what it holds: a 4-byte write of actual. */
	v = htole32(3 * 256 + 7);
	balloon_fix_cfg_write(f, OFF_ACTUAL, &v, 4);
	assert_int_equal(balloon_fix_cfg_read32(f, OFF_ACTUAL), 3 * 256 + 7);
	virtio_balloon_get_stats(f->b, &s);
	assert_int_equal(s.actual_pages, 3 * 256 + 7);
	assert_int_equal(s.actual_mib, 3);
	assert_int_equal(s.target_pages, 0);
	assert_int_equal(s.present, 0);
	/* Byte writes land in their byte of actual only. */
	byte = 0x12;
	balloon_fix_cfg_write(f, OFF_ACTUAL + 2, &byte, 1);
	assert_int_equal(balloon_fix_cfg_read32(f, OFF_ACTUAL), 0x120000 | (3 * 256 + 7));
	/* num_pages belongs to the host; writes past the config are ignored. */
	v = htole32(0xdeadbeef);
	balloon_fix_cfg_write(f, OFF_NUM_PAGES, &v, 4);
	balloon_fix_cfg_write(f, 8, &v, 4);
	balloon_fix_cfg_write(f, 64, &v, 4);
	assert_int_equal(balloon_fix_cfg_read32(f, OFF_NUM_PAGES), 0);
	assert_int_equal(balloon_fix_cfg_read32(f, OFF_ACTUAL), 0x120000 | (3 * 256 + 7));
	assert_false(vdrv_needs_reset(&f->d));
	balloon_fix_free(f);
}

/* Inflating written pages gives their host memory back. */
static void test_inflate_releases_pages(void **state)
{
	(void)state;
	struct balloon_fix *f = fix_new(&cfg_plain, BALLOON_FIX_ALL_FEATURES);
	enum { N = 96 };
	uint32_t pfns[N];
	uint64_t before, after;
	struct virtio_balloon_counters c;

	/* 96 pages: 64 contiguous ones, then every other page of the next 64. */
	balloon_fix_touch(f, HIGH, 192 * PG, 1);
	assert_int_equal(balloon_fix_resident(f, HIGH, 192 * PG), 192);
	before = balloon_fix_allocated(f);
	for (int i = 0; i < 64; i++)
		pfns[i] = pfn(HIGH) + (uint32_t)i;
	for (int i = 0; i < 32; i++)
		pfns[64 + i] = pfn(HIGH) + 64 + 2 * (uint32_t)i;
	/* Out of order, split over descriptors so PFNs straddle them. */
	for (int i = 0; i < N / 2; i += 3) {
		uint32_t t = pfns[i];
		pfns[i] = pfns[N - 1 - i];
		pfns[N - 1 - i] = t;
	}
	assert_int_equal(balloon_fix_pfns(f, 0, pfns, N, 5), 0);

	assert_int_equal(balloon_fix_resident(f, HIGH, 64 * PG), 0);
	for (int i = 0; i < 64; i++)
		assert_int_equal(balloon_fix_resident(f, HIGH + (64 + (uint64_t)i) * PG, PG),
				 i % 2 ? 1 : 0);
	assert_int_equal(balloon_fix_resident(f, HIGH + 128 * PG, 64 * PG), 64);
	after = balloon_fix_allocated(f);
	/* (less the heap page the PFN array itself took) */
	assert_true(before - after >= (uint64_t)(N - 1) * PG);
	/* The guest reads zeros there now; its other pages are intact. */
	assert_true(balloon_fix_is_zero(f, HIGH, 64 * PG));
	assert_false(balloon_fix_is_zero(f, HIGH + 65 * PG, 1));
	virtio_balloon_get_counters(f->b, &c);
	assert_int_equal(c.inflate_count, 1);
	assert_int_equal(c.inflated_pages, N);
	assert_int_equal(c.invalid_pfns, 0);
	assert_int_equal(c.malformed_buffers, 0);
	assert_int_equal(c.discard_fails, 0);
	assert_true(vdrv_irqs(&f->d) >= 1);
	balloon_fix_free(f);
}

/* Many PFNs in one buffer (more than one internal batch), indirect-free. */
static void test_inflate_large_buffer(void **state)
{
	(void)state;
	struct balloon_fix *f = fix_new(&cfg_plain, BALLOON_FIX_ALL_FEATURES);
	enum { N = 1000 };
	uint32_t *pfns = malloc(N * sizeof(*pfns));

	assert_non_null(pfns);
	balloon_fix_touch(f, HIGH, (uint64_t)N * PG, 3);
	for (int i = 0; i < N; i++)
		pfns[i] = pfn(HIGH) + (uint32_t)i;
	assert_int_equal(balloon_fix_pfns(f, 0, pfns, N, 1), 0);
	assert_int_equal(balloon_fix_resident(f, HIGH, (uint64_t)N * PG), 0);
	assert_int_equal(f->b->cnt.inflated_pages, N);
	free(pfns);
	balloon_fix_free(f);
}

static void test_deflate(void **state)
{
	(void)state;
	struct balloon_fix *f = fix_new(&cfg_plain, BALLOON_FIX_ALL_FEATURES);
	uint32_t pfns[16];
	uint8_t *p;

	balloon_fix_touch(f, HIGH, 32 * PG, 5);
	for (int i = 0; i < 16; i++)
		pfns[i] = pfn(HIGH) + (uint32_t)i;
	assert_int_equal(balloon_fix_pfns(f, 0, pfns, 16, 1), 0);
	assert_int_equal(balloon_fix_resident(f, HIGH, 16 * PG), 0);
	/* Deflate half of them: accepted, nothing released or touched. */
	assert_int_equal(balloon_fix_pfns(f, 1, pfns, 8, 2), 0);
	assert_int_equal(f->b->cnt.deflate_count, 1);
	assert_int_equal(f->b->cnt.deflated_pages, 8);
	assert_int_equal(balloon_fix_resident(f, HIGH + 16 * PG, 16 * PG), 16);
	/* The guest uses a deflated page again. */
	p = vdrv_ptr(&f->d, HIGH, PG);
	memset(p, 0x5a, PG);
	assert_int_equal(balloon_fix_resident(f, HIGH, PG), 1);
	/* Deflating pages the balloon never held does not lose their data. */
	uint32_t other = pfn(HIGH) + 20;
	assert_int_equal(balloon_fix_pfns(f, 1, &other, 1, 1), 0);
	assert_int_equal(balloon_fix_resident(f, HIGH + 20 * PG, PG), 1);
	assert_false(balloon_fix_is_zero(f, HIGH + 20 * PG, PG));
	assert_int_equal(f->b->cnt.inflated_pages, 16);
	assert_int_equal(f->b->cnt.deflated_pages, 9);
	balloon_fix_free(f);
}

/* PFNs outside RAM are skipped and counted; the valid ones still go. */
static void test_bad_pfns(void **state)
{
	(void)state;
	struct balloon_fix *f = fix_new(&cfg_plain, BALLOON_FIX_ALL_FEATURES);
	uint32_t pfns[] = {pfn(HIGH),	 pfn(RAM),     pfn(HIGH) + 1, 0xffffffffu,
			   pfn(RAM) - 1, pfn(RAM) + 1, 0x7fffffffu,   pfn(HIGH) + 2};
	struct virtio_balloon_counters c;

	balloon_fix_touch(f, HIGH, 3 * PG, 7);
	balloon_fix_touch(f, RAM - PG, PG, 7);
	assert_int_equal(balloon_fix_pfns(f, 0, pfns, 8, 3), 0);
	assert_int_equal(balloon_fix_resident(f, HIGH, 3 * PG), 0);
	assert_int_equal(balloon_fix_resident(f, RAM - PG, PG), 0);
	virtio_balloon_get_counters(f->b, &c);
	assert_int_equal(c.inflated_pages, 4);
	assert_int_equal(c.invalid_pfns, 4);
	/* Deflate with junk too. */
	assert_int_equal(balloon_fix_pfns(f, 1, pfns, 8, 1), 0);
	virtio_balloon_get_counters(f->b, &c);
	assert_int_equal(c.deflated_pages, 4);
	assert_int_equal(c.invalid_pfns, 8);
	assert_false(vdrv_needs_reset(&f->d));
	balloon_fix_free(f);
}

/* RAM split around a hole: PFNs in the hole are invalid, both sides work. */
static void test_pfns_around_hole(void **state)
{
	(void)state;
	struct balloon_fix *f = calloc(1, sizeof(*f));
	const uint64_t gap = 32u << 20, gap_end = 48u << 20;
	uint32_t pfns[] = {pfn(gap) - 1,     pfn(gap),	   pfn(gap) + 1,
			   pfn(gap_end) - 1, pfn(gap_end), pfn(gap_end) + 1};

	assert_non_null(f);
	assert_int_equal(
	    balloon_fix_init(f, &cfg_plain, RAM, gap, gap_end, BALLOON_FIX_ALL_FEATURES), 0);
	balloon_fix_touch(f, gap - PG, PG, 9);
	balloon_fix_touch(f, gap_end, 2 * PG, 9);
	assert_int_equal(balloon_fix_resident(f, gap_end, 2 * PG), 2);
	assert_int_equal(balloon_fix_pfns(f, 0, pfns, 6, 1), 0);
	assert_int_equal(balloon_fix_resident(f, gap - PG, PG), 0);
	assert_int_equal(balloon_fix_resident(f, gap_end, 2 * PG), 0);
	assert_int_equal(f->b->cnt.inflated_pages, 3);
	assert_int_equal(f->b->cnt.invalid_pfns, 3);
	assert_int_equal(f->b->cnt.discard_fails, 0);
	balloon_fix_fini(f);
	free(f);
}

/* Wrong lengths, wrong direction, broken chains: counted, returned, the
 * device carries on. */
static void test_malformed(void **state)
{
	(void)state;
	struct balloon_fix *f = fix_new(&cfg_plain, BALLOON_FIX_ALL_FEATURES);
	uint64_t buf = vdrv_alloc(&f->d, 64, 8);
	uint32_t *p = vdrv_ptr(&f->d, buf, 64);
	uint32_t used = 99, good = pfn(HIGH);
	struct vd_buf b;
	struct virtio_balloon_counters c;

	balloon_fix_touch(f, HIGH, PG, 11);
	for (int i = 0; i < 16; i++)
		p[i] = htole32(pfn(HIGH));
	/* 6 bytes: one and a half PFNs -> nothing released. */
	b = (struct vd_buf){buf, 6, false};
	assert_int_equal(balloon_fix_do(f, 0, &b, 1, &used), 0);
	assert_int_equal(used, 0);
	assert_int_equal(balloon_fix_resident(f, HIGH, PG), 1);
	/* 3 bytes on deflate. */
	b = (struct vd_buf){buf, 3, false};
	assert_int_equal(balloon_fix_do(f, 1, &b, 1, &used), 0);
	/* Device-writable PFN array. */
	b = (struct vd_buf){buf, 8, true};
	assert_int_equal(balloon_fix_do(f, 0, &b, 1, &used), 0);
	assert_int_equal(used, 0);
	assert_int_equal(balloon_fix_resident(f, HIGH, PG), 1);
	/* Readable PFNs followed by a writable part. */
	struct vd_buf two[2] = {{buf, 8, false}, {buf + 8, 8, true}};
	assert_int_equal(balloon_fix_do(f, 0, two, 2, &used), 0);
	assert_int_equal(balloon_fix_resident(f, HIGH, PG), 1);
	/* An empty buffer is just empty. */
	b = (struct vd_buf){buf, 0, false};
	assert_int_equal(balloon_fix_do(f, 0, &b, 1, &used), 0);
	virtio_balloon_get_counters(f->b, &c);
	assert_int_equal(c.malformed_buffers, 4);
	assert_int_equal(c.inflated_pages, 0);
	/* A descriptor outside RAM: an invalid chain, returned with len 0. */
	b = (struct vd_buf){RAM - 4, 8, false};
	assert_int_equal(balloon_fix_do(f, 0, &b, 1, &used), 0);
	assert_int_equal(used, 0);
	b = (struct vd_buf){0xfffffffffffff000ull, 8, false};
	assert_int_equal(balloon_fix_do(f, 1, &b, 1, &used), 0);
	virtio_balloon_get_counters(f->b, &c);
	assert_int_equal(c.event_fails, 2);
	assert_false(vdrv_needs_reset(&f->d));
	/* Still working. */
	assert_int_equal(balloon_fix_pfns(f, 0, &good, 1, 1), 0);
	assert_int_equal(balloon_fix_resident(f, HIGH, PG), 0);
	balloon_fix_free(f);
}

/* A ring-level violation (avail idx jump) needs a reset; a new handshake
 * brings the device back. */
static void test_broken_ring_and_reset(void **state)
{
	(void)state;
	struct balloon_fix *f = fix_new(&cfg_plain, BALLOON_FIX_ALL_FEATURES);
	uint32_t good = pfn(HIGH);

	vdrv_set_avail_idx(&f->d, 0, 1000);
	vdrv_kick(&f->d, 0);
	vdrv_poll(&f->d);
	assert_true(vdrv_needs_reset(&f->d));
	assert_int_equal(f->b->cnt.event_fails, 1);
	assert_int_equal(balloon_fix_setup(f, BALLOON_FIX_ALL_FEATURES), 0);
	balloon_fix_touch(f, HIGH, PG, 13);
	assert_int_equal(balloon_fix_pfns(f, 0, &good, 1, 1), 0);
	assert_int_equal(balloon_fix_resident(f, HIGH, PG), 0);
	balloon_fix_free(f);
}

/* Negotiating a queue and not setting it up fails activation. */
static void test_activate_missing_queue(void **state)
{
	(void)state;
	struct balloon_fix *f = fix_new(&cfg_all, 0);

	assert_int_equal(vdrv_negotiate(&f->d, BALLOON_FIX_ALL_FEATURES), 0);
	for (unsigned q = 0; q < 3; q++) { /* reporting (3) left out */
		assert_int_equal(vdrv_setup_queue(&f->d, q, 64), 0);
		vdrv_queue_ready(&f->d, q);
	}
	assert_int_equal(vdrv_driver_ok(&f->d), -EPROTO);
	assert_int_equal(f->b->cnt.activate_fails, 1);
	/* Without the optional features two queues are enough. */
	assert_int_equal(balloon_fix_setup(f, F(VIRTIO_F_VERSION_1)), 0);
	assert_int_equal(f->nqueues, 2);
	balloon_fix_free(f);
}

/* Free page reporting: every range of a buffer is released, then the buffer
 * comes back. */
static void test_free_page_reporting(void **state)
{
	(void)state;
	struct balloon_fix *f = fix_new(&cfg_report, BALLOON_FIX_ALL_FEATURES);
	const uint64_t big = 2u << 20;
	uint64_t before, after;
	uint32_t used = 99;
	struct virtio_balloon_counters c;

	/* Without statistics the reporting queue is queue 2. */
	assert_int_equal(f->q_stats, -1);
	assert_int_equal(f->q_report, 2);
	balloon_fix_touch(f, HIGH, big + 8 * PG, 15);
	before = balloon_fix_allocated(f);
	/* Linux posts device-writable ranges. */
	struct vd_buf r[3] = {{HIGH, (uint32_t)big, true},
			      {HIGH + big + 2 * PG, PG, true},
			      {HIGH + big + 4 * PG, 2 * PG, true}};
	assert_int_equal(balloon_fix_do(f, 2, r, 3, &used), 0);
	assert_int_equal(used, 0);
	assert_int_equal(balloon_fix_resident(f, HIGH, big), 0);
	assert_int_equal(balloon_fix_resident(f, HIGH + big, 8 * PG), 5);
	after = balloon_fix_allocated(f);
	assert_true(before - after >= big + 3 * PG);
	/* (reading shmem holes allocates pages again: measured first) */
	assert_true(balloon_fix_is_zero(f, HIGH + big + 4 * PG, 2 * PG));
	assert_false(balloon_fix_is_zero(f, HIGH + big + 3 * PG, 1));
	virtio_balloon_get_counters(f->b, &c);
	assert_int_equal(c.free_page_report_count, 1);
	assert_int_equal(c.free_page_report_freed, big + 3 * PG);
	assert_int_equal(c.free_page_report_fails, 0);

	/* A misaligned range is not released (counted); its neighbours are. */
	balloon_fix_touch(f, HIGH, 4 * PG, 17);
	struct vd_buf m[3] = {
	    {HIGH + 8, PG, true}, {HIGH + PG, PG + 100, false}, {HIGH + 2 * PG, PG, true}};
	assert_int_equal(balloon_fix_do(f, 2, m, 1, &used), 0);
	assert_int_equal(balloon_fix_do(f, 2, &m[1], 1, &used), 0);
	assert_int_equal(balloon_fix_do(f, 2, &m[2], 1, &used), 0);
	assert_int_equal(balloon_fix_resident(f, HIGH, 2 * PG), 2);
	assert_int_equal(balloon_fix_resident(f, HIGH + 2 * PG, PG), 0);
	virtio_balloon_get_counters(f->b, &c);
	assert_int_equal(c.free_page_report_count, 4);
	assert_int_equal(c.free_page_report_fails, 2);
	assert_int_equal(c.free_page_report_freed, big + 4 * PG);
	assert_false(vdrv_needs_reset(&f->d));
	balloon_fix_free(f);
}

/* Stats and reporting both negotiated: reporting is queue 3. */
static void test_reporting_after_stats(void **state)
{
	(void)state;
	struct balloon_fix *f = fix_new(&cfg_all, BALLOON_FIX_ALL_FEATURES);
	struct vd_buf r = {HIGH, PG, true};

	assert_int_equal(f->q_stats, 2);
	assert_int_equal(f->q_report, 3);
	balloon_fix_touch(f, HIGH, PG, 19);
	assert_int_equal(balloon_fix_do(f, 3, &r, 1, NULL), 0);
	assert_int_equal(balloon_fix_resident(f, HIGH, PG), 0);
	assert_int_equal(f->b->cnt.free_page_report_count, 1);
	assert_int_equal(f->b->cnt.stats_updates_count, 0);
	balloon_fix_free(f);
}

/* The reporting feature offered but declined: queue 2 is then nothing. */
static void test_reporting_declined(void **state)
{
	(void)state;
	struct balloon_fix *f = fix_new(&cfg_report, F(VIRTIO_F_VERSION_1));

	assert_int_equal(f->nqueues, 2);
	assert_int_equal(f->b->q_report, -1);
	balloon_fix_free(f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_features_and_config),
	    cmocka_unit_test(test_create_refuses_too_big),
	    cmocka_unit_test(test_target_and_actual),
	    cmocka_unit_test(test_inflate_releases_pages),
	    cmocka_unit_test(test_inflate_large_buffer),
	    cmocka_unit_test(test_deflate),
	    cmocka_unit_test(test_bad_pfns),
	    cmocka_unit_test(test_pfns_around_hole),
	    cmocka_unit_test(test_malformed),
	    cmocka_unit_test(test_broken_ring_and_reset),
	    cmocka_unit_test(test_activate_missing_queue),
	    cmocka_unit_test(test_free_page_reporting),
	    cmocka_unit_test(test_reporting_after_stats),
	    cmocka_unit_test(test_reporting_declined),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
