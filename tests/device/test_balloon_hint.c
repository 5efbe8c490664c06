/* virtio-balloon free page hinting through the guest-less harness, the
 * harness playing Linux's driver: the feature and queue numbering, the
 * host's command ids in config space (config interrupts, ids never reused),
 * a run (START id, hints released, STOP, DONE with acknowledge_on_stop, or
 * by the host's stop), and hostile drivers: hints outside a run, wrong ids,
 * out-of-range and oversized descriptors, malformed command buffers. */
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
#include "ember/error.h"

#define RAM (64u << 20)
#define PG BALLOON_FIX_PAGE
#define HIGH (40u << 20) /* hinted pages live here, far above the harness heap */
#define BLOCK (4u << 20) /* Linux hints blocks of 4 MiB on x86 */
#define OFF_CMD_ID offsetof(struct virtio_balloon_config, free_page_hint_cmd_id)
#define OFF_POISON offsetof(struct virtio_balloon_config, poison_val)
#define F(bit) VIRTIO_FEATURE(bit)
#define STOP VIRTIO_BALLOON_CMD_ID_STOP
#define DONE VIRTIO_BALLOON_CMD_ID_DONE

static const struct balloon_cfg cfg_hint = {.present = true, .free_page_hinting = true};
static const struct balloon_cfg cfg_all = {.present = true,
					   .amount_mib = 4,
					   .deflate_on_oom = true,
					   .stats_polling_interval_s = 1,
					   .free_page_hinting = true,
					   .free_page_reporting = true};

static struct balloon_fix *fix_new(const struct balloon_cfg *cfg, uint64_t want)
{
	struct balloon_fix *f = balloon_fix_new(cfg, RAM, want);

	assert_non_null(f);
	return f;
}

static uint32_t host_cmd(struct balloon_fix *f)
{
	return balloon_fix_cfg_read32(f, OFF_CMD_ID);
}

/* The driver sends a command id: one device-readable le32. */
static void send_cmd(struct balloon_fix *f, uint32_t id)
{
	uint64_t mark = vdrv_mark(&f->d), gpa = vdrv_alloc(&f->d, 4, 4);
	uint32_t *p = vdrv_ptr(&f->d, gpa, 4);
	struct vd_buf b = {gpa, 4, false};
	uint32_t used = 99;

	*p = htole32(id);
	assert_int_equal(balloon_fix_do(f, (unsigned)f->q_hint, &b, 1, &used), 0);
	assert_int_equal(used, 0);
	vdrv_release(&f->d, mark);
}

/* The driver hints [gpa, gpa+len): one device-writable buffer. */
static void send_hint(struct balloon_fix *f, uint64_t gpa, uint32_t len)
{
	struct vd_buf b = {gpa, len, true};
	uint32_t used = 99;

	assert_int_equal(balloon_fix_do(f, (unsigned)f->q_hint, &b, 1, &used), 0);
	assert_int_equal(used, 0); /* the device writes nothing into hints */
}

static void status(struct balloon_fix *f, uint32_t want_host, bool want_seen, uint32_t want_guest)
{
	uint32_t h = 99, g = 99;
	bool seen = !want_seen;

	assert_int_equal(virtio_balloon_hint_status(f->b, &h, &g, &seen), 0);
	assert_int_equal(h, want_host);
	assert_int_equal(seen, want_seen);
	if (want_seen)
		assert_int_equal(g, want_guest);
}

static void test_feature_queues_and_config(void **state)
{
	(void)state;
	struct balloon_fix *f = fix_new(&cfg_hint, BALLOON_FIX_ALL_FEATURES);
	uint32_t v = htole32(0xa5a5a5a5);

	/* Offered and negotiated: the hinting queue follows inflate/deflate. */
	assert_true(f->d.features & F(VIRTIO_BALLOON_F_FREE_PAGE_HINT));
	assert_false(f->d.features & F(VIRTIO_BALLOON_F_PAGE_POISON));
	assert_int_equal(virtio_dev_num_queues(&f->b->vdev), 3);
	assert_int_equal(f->q_hint, 2);
	assert_int_equal(f->b->q_hint, 2);
	/* The host's id starts at STOP; the driver cannot write it, and
	 * poison_val reads 0 (PAGE_POISON is not offered). */
	assert_int_equal(host_cmd(f), STOP);
	balloon_fix_cfg_write(f, OFF_CMD_ID, &v, 4);
	balloon_fix_cfg_write(f, OFF_POISON, &v, 4);
	assert_int_equal(host_cmd(f), STOP);
	assert_int_equal(balloon_fix_cfg_read32(f, OFF_POISON), 0);
	balloon_fix_free(f);

	/* With statistics and reporting: stats 2, hinting 3, reporting 4. */
	f = fix_new(&cfg_all, BALLOON_FIX_ALL_FEATURES);
	assert_int_equal(virtio_dev_num_queues(&f->b->vdev), 5);
	assert_int_equal(f->b->q_stats, 2);
	assert_int_equal(f->b->q_hint, 3);
	assert_int_equal(f->b->q_report, 4);
	balloon_fix_free(f);

	/* Hinting declined by the driver: reporting moves down to 3. */
	f = fix_new(&cfg_all, BALLOON_FIX_ALL_FEATURES & ~F(VIRTIO_BALLOON_F_FREE_PAGE_HINT));
	assert_int_equal(f->b->q_hint, -1);
	assert_int_equal(f->b->q_report, 3);
	/* The host can still start runs: the id is there for a later driver. */
	assert_int_equal(virtio_balloon_hint_start(f->b, true), 0);
	assert_int_equal(host_cmd(f), 2);
	balloon_fix_free(f);

	/* Not enabled: every hinting call is refused with the reason. */
	f = fix_new(&(struct balloon_cfg){.present = true}, BALLOON_FIX_ALL_FEATURES);
	uint32_t h, g;
	bool seen;
	char *json;
	assert_int_equal(virtio_balloon_hint_start(f->b, true), -EINVAL);
	assert_non_null(strstr(err_msg(), "not enabled"));
	assert_int_equal(virtio_balloon_hint_stop(f->b), -EINVAL);
	assert_int_equal(virtio_balloon_hint_status(f->b, &h, &g, &seen), -EINVAL);
	assert_int_equal(virtio_balloon_hint_status_json(f->b, &json), -EINVAL);
	balloon_fix_free(f);
}

/* A whole run as Linux plays it, with acknowledge_on_stop. */
static void test_run_acknowledged(void **state)
{
	(void)state;
	struct balloon_fix *f = fix_new(&cfg_hint, BALLOON_FIX_ALL_FEATURES);
	struct virtio_balloon_counters c;
	uint64_t before;
	char *json = NULL;

	balloon_fix_touch(f, HIGH, 2 * BLOCK, 3);
	assert_int_equal(virtio_balloon_hint_status_json(f->b, &json), 0);
	assert_string_equal(json, "{\"host_cmd\":0}"); /* no guest_cmd yet */
	free(json);

	vdrv_irqs(&f->d);
	vdrv_ack_irq(&f->d);
	assert_int_equal(virtio_balloon_hint_start(f->b, true), 0);
	/* A new id (ids 0 and 1 are STOP and DONE) and a config interrupt. */
	assert_int_equal(host_cmd(f), 2);
	assert_int_equal(vdrv_irqs(&f->d), 1);
	assert_true(vdrv_ack_irq(&f->d) & VIRTIO_MMIO_INT_CONFIG);
	status(f, 2, false, 0);

	send_cmd(f, 2);
	status(f, 2, true, 2);
	before = balloon_fix_allocated(f);
	send_hint(f, HIGH, BLOCK);
	send_hint(f, HIGH + BLOCK, BLOCK);
	assert_int_equal(balloon_fix_resident(f, HIGH, 2 * BLOCK), 0);
	assert_true(before - balloon_fix_allocated(f) >= 2 * BLOCK);
	assert_true(balloon_fix_is_zero(f, HIGH + BLOCK - PG, 2 * PG));
	virtio_balloon_get_counters(f->b, &c);
	assert_int_equal(c.free_page_hint_count, 2);
	assert_int_equal(c.free_page_hint_freed, 2 * BLOCK);
	assert_int_equal(c.free_page_hint_fails, 0);
	assert_int_equal(c.free_page_hint_ignored, 0);
	/* Still the host's run: used-buffer interrupts only. */
	vdrv_irqs(&f->d);
	assert_false(vdrv_ack_irq(&f->d) & VIRTIO_MMIO_INT_CONFIG);

	/* The driver is done: the host acknowledges with DONE. */
	send_cmd(f, STOP);
	assert_int_equal(host_cmd(f), DONE);
	assert_true(vdrv_irqs(&f->d) >= 1);
	assert_true(vdrv_ack_irq(&f->d) & VIRTIO_MMIO_INT_CONFIG);
	status(f, DONE, true, STOP);
	assert_int_equal(virtio_balloon_hint_status_json(f->b, &json), 0);
	assert_string_equal(json, "{\"host_cmd\":1,\"guest_cmd\":0}");
	free(json);

	/* The next run takes a fresh id. */
	assert_int_equal(virtio_balloon_hint_start(f->b, true), 0);
	assert_int_equal(host_cmd(f), 3);
	assert_false(vdrv_needs_reset(&f->d));
	balloon_fix_free(f);
}

/* Without acknowledge_on_stop the driver keeps its pages until the host's
 * stop; a stop drains hints the driver posted but the device had not seen. */
static void test_run_host_stop(void **state)
{
	(void)state;
	struct balloon_fix *f = fix_new(&cfg_hint, BALLOON_FIX_ALL_FEATURES);
	struct vd_buf late = {HIGH + BLOCK, BLOCK, true};

	balloon_fix_touch(f, HIGH, 2 * BLOCK, 5);
	assert_int_equal(virtio_balloon_hint_start(f->b, false), 0);
	send_cmd(f, 2);
	send_hint(f, HIGH, BLOCK);
	send_cmd(f, STOP);
	assert_int_equal(host_cmd(f), 2); /* not acknowledged */
	assert_int_equal(balloon_fix_resident(f, HIGH, BLOCK), 0);

	/* A second run; its last hint is posted, not kicked, when the host
	 * stops: it is handled inside its run, then DONE. */
	assert_int_equal(virtio_balloon_hint_start(f->b, false), 0);
	assert_int_equal(host_cmd(f), 3);
	send_cmd(f, 3);
	assert_true(vdrv_add_chain(&f->d, (unsigned)f->q_hint, &late, 1, false) >= 0);
	assert_int_equal(balloon_fix_resident(f, HIGH + BLOCK, BLOCK), BLOCK / PG);
	assert_int_equal(virtio_balloon_hint_stop(f->b), 0);
	assert_int_equal(host_cmd(f), DONE);
	assert_int_equal(balloon_fix_resident(f, HIGH + BLOCK, BLOCK), 0);
	assert_int_equal(f->b->cnt.free_page_hint_count, 2);
	status(f, DONE, true, 3);
	balloon_fix_free(f);
}

/* Hints are released only inside the host's current run. */
static void test_hints_outside_a_run(void **state)
{
	(void)state;
	struct balloon_fix *f = fix_new(&cfg_hint, BALLOON_FIX_ALL_FEATURES);
	const size_t pages = BLOCK / PG;

	balloon_fix_touch(f, HIGH, BLOCK, 7);
	/* Before any run, and before any START. */
	send_hint(f, HIGH, BLOCK);
	send_cmd(f, 5); /* an id the host never issued */
	send_hint(f, HIGH, BLOCK);
	assert_int_equal(balloon_fix_resident(f, HIGH, BLOCK), pages);

	assert_int_equal(virtio_balloon_hint_start(f->b, false), 0);
	/* The run started, but the driver has not answered it yet. */
	send_hint(f, HIGH, BLOCK);
	/* The driver answers a stale id (the previous run's). */
	send_cmd(f, 1234);
	send_hint(f, HIGH, BLOCK);
	/* A DONE from the driver is not a run either. */
	send_cmd(f, DONE);
	send_hint(f, HIGH, BLOCK);
	assert_int_equal(balloon_fix_resident(f, HIGH, BLOCK), pages);

	/* The right id: now hints count; after its STOP they do not. */
	send_cmd(f, 2);
	send_hint(f, HIGH, PG);
	send_cmd(f, STOP);
	send_hint(f, HIGH + PG, PG);
	assert_int_equal(balloon_fix_resident(f, HIGH, BLOCK), pages - 1);

	/* The host moved on (DONE): a driver still hinting run 2 is ignored. */
	send_cmd(f, 2);
	assert_int_equal(virtio_balloon_hint_stop(f->b), 0);
	send_hint(f, HIGH + 2 * PG, PG);
	/* A new run: hints of the old id are ignored too. */
	assert_int_equal(virtio_balloon_hint_start(f->b, false), 0);
	send_hint(f, HIGH + 3 * PG, PG);
	assert_int_equal(balloon_fix_resident(f, HIGH, BLOCK), pages - 1);
	assert_int_equal(f->b->cnt.free_page_hint_count, 1);
	assert_int_equal(f->b->cnt.free_page_hint_ignored, 8);
	assert_false(vdrv_needs_reset(&f->d));
	balloon_fix_free(f);
}

/* Hostile buffers inside a live run: the request fails, the device lives. */
static void test_hostile_buffers(void **state)
{
	(void)state;
	struct balloon_fix *f = fix_new(&cfg_hint, BALLOON_FIX_ALL_FEATURES);
	unsigned q;
	uint64_t mark, gpa;
	uint32_t used;

	balloon_fix_touch(f, HIGH, BLOCK, 9);
	assert_int_equal(virtio_balloon_hint_start(f->b, true), 0);
	send_cmd(f, 2);
	q = (unsigned)f->q_hint;

	/* Out of RAM, straddling its end, and larger than RAM: the chain is
	 * refused whole (returned empty, counted), nothing is released. */
	struct vd_buf out[] = {{RAM + BLOCK, BLOCK, true},
			       {RAM - PG, 2 * PG, true},
			       {HIGH, 0xfffff000u, true},
			       {~0ull - PG + 1, PG, true}};
	for (unsigned i = 0; i < 4; i++) {
		used = 99;
		assert_int_equal(balloon_fix_do(f, q, &out[i], 1, &used), 0);
		assert_int_equal(used, 0);
	}
	assert_int_equal(f->b->cnt.event_fails, 4);
	assert_int_equal(balloon_fix_resident(f, HIGH, BLOCK), BLOCK / PG);

	/* Misaligned ranges: only the whole pages inside are released. */
	send_hint(f, HIGH + 100, 3 * PG);	 /* pages 1 and 2 */
	send_hint(f, HIGH + 4 * PG + 1, PG - 2); /* no whole page */
	assert_int_equal(balloon_fix_resident(f, HIGH, 8 * PG), 6);
	assert_int_equal(balloon_fix_resident(f, HIGH + PG, 2 * PG), 0);

	/* Command buffers of the wrong size, or mixed with hints: malformed,
	 * the guest's last id stays. */
	mark = vdrv_mark(&f->d);
	gpa = vdrv_alloc(&f->d, 8, 8);
	struct vd_buf bad[][2] = {
	    {{gpa, 2, false}},
	    {{gpa, 8, false}},
	    {{gpa, 2, false}, {gpa + 2, 2, false}}, /* 4 bytes in two pieces: fine */
	    {{gpa, 4, false}, {HIGH + 5 * PG, PG, true}},
	};
	int nb[] = {1, 1, 2, 2};
	for (unsigned i = 0; i < 4; i++)
		assert_int_equal(balloon_fix_do(f, q, bad[i], nb[i], NULL), 0);
	vdrv_release(&f->d, mark);
	assert_int_equal(f->b->cnt.malformed_buffers, 3);
	assert_int_equal(balloon_fix_resident(f, HIGH + 5 * PG, PG), 1);
	/* (the split buffer held 0: a STOP for run 2, acknowledged) */
	assert_int_equal(host_cmd(f), DONE);
	assert_false(vdrv_needs_reset(&f->d));
	balloon_fix_free(f);
}

/* Ids are never reused, also after they wrap; reset and snapshots. */
static void test_ids_reset_snapshot(void **state)
{
	(void)state;
	struct balloon_fix *f = fix_new(&cfg_hint, BALLOON_FIX_ALL_FEATURES);
	uint8_t blob[4096];
	size_t len = sizeof(blob);

	f->b->hint_last_id = UINT32_MAX - 1;
	assert_int_equal(virtio_balloon_hint_start(f->b, true), 0);
	assert_int_equal(host_cmd(f), UINT32_MAX);
	assert_int_equal(virtio_balloon_hint_start(f->b, true), 0);
	assert_int_equal(host_cmd(f), 2);
	send_cmd(f, 2);

	/* Snapshot: the last id travels; a restored device says DONE (the
	 * driver frees what it held) and goes on with fresh ids. */
	assert_int_equal(f->b->vdev.ops->save(&f->b->vdev, blob, &len), 0);
	f->b->hint_last_id = 77;
	assert_int_equal(f->b->vdev.ops->restore(&f->b->vdev, blob, len), 0);
	assert_int_equal(host_cmd(f), DONE);
	status(f, DONE, false, 0);
	assert_int_equal(virtio_balloon_hint_start(f->b, true), 0);
	assert_int_equal(host_cmd(f), 3);

	/* A device reset: the fresh driver holds nothing; back to STOP. */
	assert_int_equal(balloon_fix_setup(f, BALLOON_FIX_ALL_FEATURES), 0);
	assert_int_equal(host_cmd(f), STOP);
	status(f, STOP, false, 0);
	assert_int_equal(virtio_balloon_hint_start(f->b, true), 0);
	assert_int_equal(host_cmd(f), 4);
	balloon_fix_free(f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_feature_queues_and_config),
	    cmocka_unit_test(test_run_acknowledged),
	    cmocka_unit_test(test_run_host_stop),
	    cmocka_unit_test(test_hints_outside_a_run),
	    cmocka_unit_test(test_hostile_buffers),
	    cmocka_unit_test(test_ids_reset_snapshot),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
