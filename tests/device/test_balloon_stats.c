/* virtio-balloon statistics through the guest-less harness: the driver's
 * buffer is held, parsed into Firecracker's names, returned on every
 * polling interval (the timerfd, driven through the event loop with a
 * timeout, no sleeps) and refilled; malformed buffers; a second buffer;
 * changing the interval after boot; reset while a buffer is held. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <cjson/cJSON.h>
#include <endian.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/timerfd.h>
#include <time.h>

#include "balloon_fix.h"

#define RAM (64u << 20)
#define STAT VIRTIO_BALLOON_STAT_SIZE

static const struct balloon_cfg cfg_stats = {
    .present = true, .amount_mib = 4, .stats_polling_interval_s = 1};
static const struct balloon_cfg cfg_nostats = {.present = true, .amount_mib = 4};

static int setup(void **state)
{
	struct balloon_fix *f = calloc(1, sizeof(*f));

	assert_non_null(f);
	assert_int_equal(balloon_fix_init(f, &cfg_stats, RAM, 0, 0, BALLOON_FIX_ALL_FEATURES), 0);
	assert_int_equal(f->q_stats, 2);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct balloon_fix *f = *state;

	balloon_fix_fini(f);
	free(f);
	return 0;
}

/* Write n (tag, val) entries in the packed wire format at gpa. */
static void put_stats(struct balloon_fix *f, uint64_t gpa, const uint16_t *tags,
		      const uint64_t *vals, int n)
{
	uint8_t *p = vdrv_ptr(&f->d, gpa, (uint64_t)n * STAT);

	assert_non_null(p);
	for (int i = 0; i < n; i++) {
		struct virtio_balloon_stat s = {.tag = htole16(tags[i]), .val = htole64(vals[i])};

		memcpy(p + i * STAT, &s, STAT);
	}
}

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static const uint16_t all_tags[] = {VIRTIO_BALLOON_S_SWAP_IN,
				    VIRTIO_BALLOON_S_SWAP_OUT,
				    VIRTIO_BALLOON_S_MAJFLT,
				    VIRTIO_BALLOON_S_MINFLT,
				    VIRTIO_BALLOON_S_MEMFREE,
				    VIRTIO_BALLOON_S_MEMTOT,
				    VIRTIO_BALLOON_S_AVAIL,
				    VIRTIO_BALLOON_S_CACHES,
				    VIRTIO_BALLOON_S_HTLB_PGALLOC,
				    VIRTIO_BALLOON_S_HTLB_PGFAIL,
				    10,
				    11,
				    12,
				    13,
				    14,
				    15,
				    99 /* unknown: ignored */};
static const char *const all_names[] = {
    "swap_in",	     "swap_out",	 "major_faults", "minor_faults",	"free_memory",
    "total_memory",  "available_memory", "disk_caches",	 "hugetlb_allocations", "hugetlb_failures",
    "oom_kill",	     "alloc_stall",	 "async_scan",	 "direct_scan",		"async_reclaim",
    "direct_reclaim"};
#define NTAGS ((int)(sizeof(all_tags) / sizeof(all_tags[0])))

static void test_parse_all_tags(void **state)
{
	struct balloon_fix *f = *state;
	uint64_t vals[NTAGS], buf = vdrv_alloc(&f->d, NTAGS * STAT, 8);
	struct vd_buf b = {buf, NTAGS * STAT, false};
	struct virtio_balloon_stats s;
	uint32_t actual = htole32(2 * 256);
	char *json = NULL;
	cJSON *o;

	for (int i = 0; i < NTAGS; i++)
		vals[i] = 1000000000000ull * (uint64_t)(i + 1) + 7; /* beyond 2^32 */
	put_stats(f, buf, all_tags, vals, NTAGS);
	balloon_fix_cfg_write(f, offsetof(struct virtio_balloon_config, actual), &actual, 4);
	assert_true(balloon_fix_post(f, 2, &b, 1) >= 0);
	/* Held: nothing came back. */
	assert_int_equal(vdrv_used_idx(&f->d, 2), 0);
	assert_true(f->b->stats_held);
	virtio_balloon_get_stats(f->b, &s);
	assert_int_equal(s.present, 0xffff);
	for (int i = 0; i < 16; i++)
		assert_int_equal(s.val[all_tags[i]], vals[i]);
	assert_int_equal(s.target_pages, 4 * 256);
	assert_int_equal(s.target_mib, 4);
	assert_int_equal(s.actual_pages, 2 * 256);
	assert_int_equal(s.actual_mib, 2);
	assert_int_equal(f->b->cnt.stats_updates_count, 1);

	/* JSON in Firecracker's names, exact 64-bit values. */
	assert_int_equal(virtio_balloon_stats_json(f->b, &json), 0);
	assert_non_null(json);
	o = cJSON_Parse(json);
	assert_non_null(o);
	assert_int_equal(cJSON_GetArraySize(o), 4 + 16);
	assert_int_equal(cJSON_GetObjectItem(o, "target_pages")->valuedouble, 1024);
	assert_int_equal(cJSON_GetObjectItem(o, "actual_pages")->valuedouble, 512);
	assert_int_equal(cJSON_GetObjectItem(o, "target_mib")->valuedouble, 4);
	assert_int_equal(cJSON_GetObjectItem(o, "actual_mib")->valuedouble, 2);
	for (int i = 0; i < 16; i++) {
		char want[64];

		assert_non_null(cJSON_GetObjectItem(o, all_names[i]));
		snprintf(want, sizeof(want), "\"%s\":%llu", all_names[i],
			 (unsigned long long)vals[i]);
		assert_non_null(strstr(json, want));
	}
	cJSON_Delete(o);
	free(json);
}

/* Only what the guest reported appears; a later buffer updates values and
 * keeps the ones it does not repeat. */
static void test_partial_stats(void **state)
{
	struct balloon_fix *f = *state;
	uint64_t buf = vdrv_alloc(&f->d, 4 * STAT, 8);
	const uint16_t t1[] = {VIRTIO_BALLOON_S_MEMFREE, VIRTIO_BALLOON_S_MEMTOT};
	const uint64_t v1[] = {100 << 20, 256 << 20};
	struct vd_buf b = {buf, 2 * STAT, false};
	char *json = NULL;

	put_stats(f, buf, t1, v1, 2);
	assert_true(balloon_fix_post(f, 2, &b, 1) >= 0);
	assert_int_equal(virtio_balloon_stats_json(f->b, &json), 0);
	assert_string_equal(json, "{\"target_pages\":1024,\"actual_pages\":0,\"target_mib\":4,"
				  "\"actual_mib\":0,\"free_memory\":104857600,"
				  "\"total_memory\":268435456}");
	free(json);
}

/* The held buffer goes back every interval; the driver refills it. */
static void test_polling(void **state)
{
	struct balloon_fix *f = *state;
	uint64_t buf = vdrv_alloc(&f->d, STAT, 8);
	const uint16_t tag = VIRTIO_BALLOON_S_MEMFREE;
	struct vd_buf b = {buf, STAT, false};
	struct virtio_balloon_stats s;
	int head;

	for (uint64_t round = 1; round <= 2; round++) {
		uint64_t v = round * 4096;
		uint32_t id = 0xffff, len = 99;

		put_stats(f, buf, &tag, &v, 1);
		head = balloon_fix_post(f, 2, &b, 1);
		assert_true(head >= 0);
		virtio_balloon_get_stats(f->b, &s);
		assert_int_equal(s.val[VIRTIO_BALLOON_S_MEMFREE], v);
		vdrv_irqs(&f->d);
		/* The 1 s timer hands it back (bounded wait on the event loop). */
		assert_int_equal(vdrv_wait_used(&f->d, 2, 3000, &id, &len), 0);
		assert_int_equal(id, (uint32_t)head);
		assert_int_equal(len, 0);
		assert_true(vdrv_irqs(&f->d) >= 1);
		assert_false(f->b->stats_held);
		vdrv_free_chain(&f->d, 2, (uint16_t)id);
		assert_int_equal(f->b->cnt.stats_polls, round);
		assert_int_equal(f->b->cnt.stats_updates_count, round);
	}
	/* Nothing held: a timer expiry does nothing. */
	assert_int_equal(vdrv_wait_used(&f->d, 2, 1300, NULL, NULL), -ETIMEDOUT);
	assert_int_equal(f->b->cnt.stats_polls, 2);
}

/* Malformed buffers are counted and held like good ones (so a broken
 * driver cannot make the device spin), values untouched. */
static void test_malformed_stats(void **state)
{
	struct balloon_fix *f = *state;
	uint64_t buf = vdrv_alloc(&f->d, VIRTIO_BALLOON_STATS_MAX_BYTES + 2 * STAT, 8);
	const uint16_t tag = VIRTIO_BALLOON_S_MEMFREE;
	uint64_t v = 777;
	struct virtio_balloon_stats s;
	struct {
		uint32_t len;
		bool write;
	} bad[] = {
	    {STAT + 5, false},				 /* not a multiple of 10 */
	    {STAT - 1, false},				 /* too small */
	    {0, false},					 /* empty */
	    {VIRTIO_BALLOON_STATS_MAX_BYTES + 4, false}, /* too large (4100) */
	    {STAT, true},				 /* device-writable */
	};
	int n = (int)(sizeof(bad) / sizeof(bad[0]));

	int prev = -1, head = -1;
	uint32_t id;

	put_stats(f, buf, &tag, &v, 1);
	for (int i = 0; i < n; i++) {
		struct vd_buf b = {buf, bad[i].len, bad[i].write};

		head = balloon_fix_post(f, 2, &b, 1);
		assert_true(head >= 0);
		assert_true(f->b->stats_held);
		assert_int_equal(f->b->stats_head, head);
		assert_int_equal(f->b->cnt.stats_update_fails, i + 1);
		/* Each new buffer pushes the held one back. */
		if (prev >= 0) {
			assert_int_equal(vdrv_wait_used(&f->d, 2, 0, &id, NULL), 0);
			assert_int_equal(id, (uint32_t)prev);
			vdrv_free_chain(&f->d, 2, (uint16_t)id);
		}
		prev = head;
	}
	/* The last one comes back with the next poll. */
	assert_int_equal(vdrv_wait_used(&f->d, 2, 3000, &id, NULL), 0);
	assert_int_equal(id, (uint32_t)head);
	virtio_balloon_get_stats(f->b, &s);
	assert_int_equal(s.present, 0);
	assert_int_equal(f->b->cnt.stats_update_fails, n);
	assert_int_equal(f->b->cnt.stats_updates_count, 0);
	assert_false(vdrv_needs_reset(&f->d));
}

/* A second buffer while one is held: the older goes back at once. */
static void test_second_buffer(void **state)
{
	struct balloon_fix *f = *state;
	uint64_t buf = vdrv_alloc(&f->d, 2 * STAT, 8);
	const uint16_t tag = VIRTIO_BALLOON_S_AVAIL;
	uint64_t v1 = 1, v2 = 2;
	struct vd_buf b1 = {buf, STAT, false}, b2 = {buf + STAT, STAT, false};
	struct virtio_balloon_stats s;
	uint32_t id;
	int h1, h2;

	put_stats(f, buf, &tag, &v1, 1);
	put_stats(f, buf + STAT, &tag, &v2, 1);
	h1 = balloon_fix_post(f, 2, &b1, 1);
	h2 = balloon_fix_post(f, 2, &b2, 1);
	assert_true(h1 >= 0 && h2 >= 0);
	assert_int_equal(vdrv_used_idx(&f->d, 2), 1);
	assert_int_equal(vdrv_wait_used(&f->d, 2, 0, &id, NULL), 0);
	assert_int_equal(id, (uint32_t)h1);
	assert_int_equal(f->b->stats_head, h2);
	virtio_balloon_get_stats(f->b, &s);
	assert_int_equal(s.val[VIRTIO_BALLOON_S_AVAIL], 2);
	assert_int_equal(f->b->cnt.event_fails, 1);
}

/* PATCH /balloon/statistics: only a non-zero interval on a device that has
 * statistics. */
static void test_interval_update(void **state)
{
	struct balloon_fix *f = *state;
	struct itimerspec its;
	struct virtio_dev *vd;
	struct vdriver *d = calloc(1, sizeof(*d));
	struct virtio_balloon *nb;

	assert_int_equal(virtio_balloon_set_stats_interval(f->b, 5), 0);
	assert_int_equal(timerfd_gettime(f->b->timer_fd, &its), 0);
	assert_int_equal(its.it_interval.tv_sec, 5);
	assert_true(its.it_value.tv_sec >= 4 && its.it_value.tv_sec <= 5);
	assert_int_equal(f->b->stats_interval_s, 5);
	assert_int_equal(virtio_balloon_set_stats_interval(f->b, 5), 0); /* unchanged */
	assert_int_equal(virtio_balloon_set_stats_interval(f->b, 0), -EINVAL);
	assert_int_equal(f->b->stats_interval_s, 5);
	assert_int_equal(timerfd_gettime(f->b->timer_fd, &its), 0);
	assert_int_equal(its.it_interval.tv_sec, 5);

	/* A device without statistics cannot get them later. */
	assert_non_null(d);
	assert_int_equal(vdrv_init(d, RAM), 0);
	assert_int_equal(virtio_balloon_create(&cfg_nostats, &d->gm, &d->el, &nb), 0);
	vd = &nb->vdev;
	assert_int_equal(nb->timer_fd, -1);
	assert_int_equal(virtio_dev_num_queues(vd), 2);
	assert_int_equal(virtio_balloon_set_stats_interval(nb, 1), -EINVAL);
	/* Its statistics are target/actual only. */
	char *json = NULL;
	assert_int_equal(virtio_balloon_stats_json(nb, &json), 0);
	assert_string_equal(json, "{\"target_pages\":1024,\"actual_pages\":0,\"target_mib\":4,"
				  "\"actual_mib\":0}");
	free(json);
	virtio_balloon_destroy(nb);
	vdrv_destroy(d);
	free(d);
}

/* A reset drops the held buffer; the timer then finds nothing to return;
 * the next driver starts over. */
static void test_reset_while_held(void **state)
{
	struct balloon_fix *f = *state;
	uint64_t buf = vdrv_alloc(&f->d, STAT, 8);
	const uint16_t tag = VIRTIO_BALLOON_S_MEMTOT;
	uint64_t v = 12345;
	struct vd_buf b = {buf, STAT, false};

	put_stats(f, buf, &tag, &v, 1);
	assert_true(balloon_fix_post(f, 2, &b, 1) >= 0);
	assert_true(f->b->stats_held);
	vdrv_write32(&f->d, VIRTIO_MMIO_STATUS, 0);
	assert_false(f->b->stats_held);
	/* Let a timer expiry pass with the device reset: no crash, no poll. */
	int64_t t0 = now_ms();
	while (now_ms() - t0 < 1200)
		el_run_once(&f->d.el, 1200);
	assert_int_equal(f->b->cnt.stats_polls, 0);
	/* The values reported so far stay readable. */
	struct virtio_balloon_stats s;
	virtio_balloon_get_stats(f->b, &s);
	assert_int_equal(s.val[VIRTIO_BALLOON_S_MEMTOT], 12345);
	/* A new driver: the buffer it posts before DRIVER_OK is picked up. */
	assert_int_equal(vdrv_negotiate(&f->d, BALLOON_FIX_ALL_FEATURES), 0);
	for (unsigned q = 0; q < 3; q++) {
		assert_int_equal(vdrv_setup_queue(&f->d, q, VIRTIO_BALLOON_QUEUE_SIZE), 0);
		vdrv_queue_ready(&f->d, q);
	}
	v = 54321;
	put_stats(f, buf, &tag, &v, 1);
	assert_true(vdrv_add_chain(&f->d, 2, &b, 1, false) >= 0);
	vdrv_poll(&f->d); /* (no kick: the MMIO path refuses one before DRIVER_OK) */
	assert_false(f->b->stats_held);
	assert_int_equal(vdrv_driver_ok(&f->d), 0);
	vdrv_poll(&f->d);
	assert_true(f->b->stats_held);
	virtio_balloon_get_stats(f->b, &s);
	assert_int_equal(s.val[VIRTIO_BALLOON_S_MEMTOT], 54321);
}

/* Stats offered but declined by the driver: two queues, the timer idles. */
static void test_stats_declined(void **state)
{
	struct balloon_fix *f = *state;

	assert_int_equal(balloon_fix_setup(f, VIRTIO_FEATURE(VIRTIO_F_VERSION_1)), 0);
	assert_int_equal(f->nqueues, 2);
	assert_int_equal(f->b->q_stats, -1);
	int64_t t0 = now_ms();
	while (now_ms() - t0 < 1200)
		el_run_once(&f->d.el, 1200);
	assert_int_equal(f->b->cnt.stats_polls, 0);
	assert_false(vdrv_needs_reset(&f->d));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_parse_all_tags, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_partial_stats, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_polling, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_malformed_stats, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_second_buffer, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_interval_update, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_reset_while_held, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_stats_declined, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
