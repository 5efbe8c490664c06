/* A hostile driver against virtio-blk: malformed chains, rings and protocol
 * violations. Every case checks that the device answers sanely (the chain
 * comes back with used len 0, an error status, or DEVICE_NEEDS_RESET), that
 * the host file was not touched, and that valid I/O works afterwards (after a
 * reset when the device asked for one). The requests are writes of 0xAA to
 * sector 0, so "file untouched" is meaningful. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <endian.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "blkfix.h"
#include "ember/log.h"

#define DISK_SIZE (1u << 20)
#define RAM_SIZE (16u << 20)
#define QSIZE VIRTIO_BLK_QUEUE_SIZE

#define R 0
#define W VRING_DESC_F_WRITE
#define N VRING_DESC_F_NEXT
#define I VRING_DESC_F_INDIRECT

struct mctx {
	struct blkfix f;
	struct vdriver *d;
	uint64_t hdr, data, st, table;
};

static void set_hdr(struct mctx *c, uint32_t type, uint64_t sector, uint64_t gpa)
{
	struct virtio_blk_outhdr h = {.type = htole32(type), .sector = htole64(sector)};

	gm_write(&c->d->gm, gpa, &h, sizeof(h));
}

static int setup(void **state)
{
	struct mctx *c = calloc(1, sizeof(*c));
	uint8_t ff = 0xff;

	assert_non_null(c);
	assert_int_equal(blkfix_init(&c->f, DISK_SIZE, RAM_SIZE, false, NULL), 0);
	c->d = &c->f.d;
	c->hdr = vdrv_alloc(c->d, 16, 16);
	c->data = vdrv_alloc(c->d, 8192, 4096);
	c->st = vdrv_alloc(c->d, 1, 1);
	c->table = vdrv_alloc(c->d, 16 * 512, 16);
	set_hdr(c, VIRTIO_BLK_T_OUT, 0, c->hdr);
	memset(vdrv_ptr(c->d, c->data, 8192), 0xaa, 8192);
	gm_write(&c->d->gm, c->st, &ff, 1);
	*state = c;
	return 0;
}

static int teardown(void **state)
{
	struct mctx *c = *state;

	blkfix_fini(&c->f);
	free(c);
	return 0;
}

static uint8_t status_byte(struct mctx *c)
{
	uint8_t s = 0;

	gm_read(&c->d->gm, c->st, &s, 1);
	return s;
}

static void desc(struct mctx *c, uint16_t idx, uint64_t addr, uint32_t len, uint16_t flags,
		 uint16_t next)
{
	vdrv_set_desc(c->d, 0, idx, addr, len, flags, next);
}

static void tdesc(struct mctx *c, uint16_t idx, uint64_t addr, uint32_t len, uint16_t flags,
		  uint16_t next)
{
	vdrv_set_desc_at(c->d, c->table, idx, addr, len, flags, next);
}

static void post_kick(struct mctx *c, uint16_t head)
{
	vdrv_post(c->d, 0, head);
	vdrv_kick(c->d, 0);
}

/* The chain came back unprocessed: used len 0, no status written. */
static void expect_dropped(struct mctx *c, uint16_t head)
{
	uint32_t id = ~0u, len = ~0u;

	assert_int_equal(vdrv_wait_used(c->d, 0, VDRV_WAIT_MS, &id, &len), 0);
	assert_int_equal(id, head);
	assert_int_equal(len, 0);
	assert_int_equal(status_byte(c), 0xff);
	assert_false(vdrv_needs_reset(c->d));
	assert_true(c->f.blk->stats.invalid_reqs_count >= 1);
}

static void expect_status(struct mctx *c, uint16_t head, uint8_t status)
{
	uint32_t id = ~0u, len;

	assert_int_equal(vdrv_wait_used(c->d, 0, VDRV_WAIT_MS, &id, &len), 0);
	assert_int_equal(id, head);
	assert_int_equal(status_byte(c), status);
	assert_false(vdrv_needs_reset(c->d));
}

static void expect_needs_reset(struct mctx *c)
{
	uint16_t used = vdrv_used_idx(c->d, 0);

	vdrv_poll(c->d);
	assert_true(vdrv_needs_reset(c->d));
	assert_int_equal(vdrv_used_idx(c->d, 0), used);
	assert_true(c->f.blk->vdev.protocol_errors >= 1);
}

/* The device still works (after a reset if it asked for one) and the host
 * file holds exactly its original pattern. */
static void survives(struct mctx *c)
{
	if (vdrv_needs_reset(c->d))
		assert_int_equal(blkfix_reinit_queue(&c->f), 0);
	assert_int_equal(blkfix_read_check(&c->f, 0, 4096), 0);
	assert_int_equal(blkfix_read_check(&c->f, 8, 512), 0);
	assert_int_equal(vdrv_file_matches(c->f.path, c->f.size, c->f.seed), 0);
	assert_false(vdrv_needs_reset(c->d));
}

/* ---- descriptor chains ---- */

static void test_loop_two(void **state)
{
	struct mctx *c = *state;

	desc(c, 0, c->hdr, 16, N, 1);
	desc(c, 1, c->data, 512, N, 0);
	post_kick(c, 0);
	expect_dropped(c, 0);
	survives(c);
}

static void test_self_loop(void **state)
{
	struct mctx *c = *state;

	desc(c, 5, c->hdr, 16, N, 5);
	post_kick(c, 5);
	expect_dropped(c, 5);
	survives(c);
}

static void test_loop_through_whole_table(void **state)
{
	struct mctx *c = *state;

	desc(c, 0, c->hdr, 16, N, 1);
	for (uint16_t i = 1; i < QSIZE; i++)
		desc(c, i, c->data, 512, N, (uint16_t)((i + 1) % QSIZE));
	post_kick(c, 0);
	expect_dropped(c, 0);
	survives(c);
}

static void test_loop_in_writable_part(void **state)
{
	struct mctx *c = *state;

	desc(c, 0, c->hdr, 16, N, 1);
	desc(c, 1, c->data, 512, R | N, 2);
	desc(c, 2, c->st, 1, W | N, 2);
	post_kick(c, 0);
	expect_dropped(c, 0);
	survives(c);
}

static void test_data_outside_ram(void **state)
{
	struct mctx *c = *state;

	desc(c, 0, c->hdr, 16, N, 1);
	desc(c, 1, RAM_SIZE, 512, N, 2);
	desc(c, 2, c->st, 1, W, 0);
	post_kick(c, 0);
	expect_dropped(c, 0);
	survives(c);
}

static void test_data_straddles_ram_end(void **state)
{
	struct mctx *c = *state;

	desc(c, 0, c->hdr, 16, N, 1);
	desc(c, 1, RAM_SIZE - 256, 512, N, 2);
	desc(c, 2, c->st, 1, W, 0);
	post_kick(c, 0);
	expect_dropped(c, 0);
	survives(c);
}

static void test_address_wraps(void **state)
{
	struct mctx *c = *state;

	desc(c, 0, c->hdr, 16, N, 1);
	desc(c, 1, 0xfffffffffffff000ULL, 0x2000, N, 2);
	desc(c, 2, c->st, 1, W, 0);
	post_kick(c, 0);
	expect_dropped(c, 0);
	survives(c);
}

static void test_length_overflow(void **state)
{
	struct mctx *c = *state;

	/* Two buffers whose lengths sum past 2^32. */
	desc(c, 0, c->hdr, 16, N, 1);
	desc(c, 1, 0, 0xfffffff0u, N, 2);
	desc(c, 2, 0, 0xfffffff0u, N, 3);
	desc(c, 3, c->st, 1, W, 0);
	post_kick(c, 0);
	expect_dropped(c, 0);
	survives(c);
}

static void test_next_out_of_range(void **state)
{
	struct mctx *c = *state;

	desc(c, 0, c->hdr, 16, N, QSIZE);
	post_kick(c, 0);
	expect_dropped(c, 0);
	desc(c, 0, c->hdr, 16, N, 0xffff);
	post_kick(c, 0);
	expect_dropped(c, 0);
	survives(c);
}

/* ---- indirect tables ---- */

static void test_indirect_longer_than_queue(void **state)
{
	struct mctx *c = *state;
	const uint16_t n = QSIZE + 1;

	tdesc(c, 0, c->hdr, 16, N, 1);
	for (uint16_t i = 1; i < n - 1; i++)
		tdesc(c, i, c->data, 512, N, (uint16_t)(i + 1));
	tdesc(c, n - 1, c->st, 1, W, 0);
	desc(c, 0, c->table, 16u * n, I, 0);
	post_kick(c, 0);
	expect_dropped(c, 0);
	survives(c);
}

static void test_indirect_loop(void **state)
{
	struct mctx *c = *state;

	tdesc(c, 0, c->hdr, 16, N, 1);
	tdesc(c, 1, c->data, 512, N, 0);
	desc(c, 0, c->table, 32, I, 0);
	post_kick(c, 0);
	expect_dropped(c, 0);
	survives(c);
}

static void test_indirect_nested(void **state)
{
	struct mctx *c = *state;

	tdesc(c, 0, c->hdr, 16, N, 1);
	tdesc(c, 1, c->table + 256, 48, I, 0);
	vdrv_set_desc_at(c->d, c->table + 256, 0, c->data, 512, N, 1);
	vdrv_set_desc_at(c->d, c->table + 256, 1, c->st, 1, W, 0);
	desc(c, 0, c->table, 32, I, 0);
	post_kick(c, 0);
	expect_dropped(c, 0);
	survives(c);
}

static void test_indirect_bad_len(void **state)
{
	struct mctx *c = *state;

	tdesc(c, 0, c->hdr, 16, N, 1);
	tdesc(c, 1, c->data, 512, N, 2);
	tdesc(c, 2, c->st, 1, W, 0);
	desc(c, 0, c->table, 40, I, 0); /* not a multiple of 16 */
	post_kick(c, 0);
	expect_dropped(c, 0);
	desc(c, 0, c->table, 0, I, 0); /* empty */
	post_kick(c, 0);
	expect_dropped(c, 0);
	survives(c);
}

static void test_indirect_outside_ram(void **state)
{
	struct mctx *c = *state;

	desc(c, 0, RAM_SIZE - 32, 48, I, 0);
	post_kick(c, 0);
	expect_dropped(c, 0);
	survives(c);
}

static void test_indirect_with_next(void **state)
{
	struct mctx *c = *state;

	tdesc(c, 0, c->hdr, 16, N, 1);
	tdesc(c, 1, c->data, 512, N, 2);
	tdesc(c, 2, c->st, 1, W, 0);
	desc(c, 0, c->table, 48, I | N, 1);
	desc(c, 1, c->st, 1, W, 0);
	post_kick(c, 0);
	expect_dropped(c, 0);
	survives(c);
}

static void test_indirect_next_out_of_table(void **state)
{
	struct mctx *c = *state;

	tdesc(c, 0, c->hdr, 16, N, 1);
	tdesc(c, 1, c->data, 512, N, 3); /* table has 3 entries */
	tdesc(c, 2, c->st, 1, W, 0);
	desc(c, 0, c->table, 48, I, 0);
	post_kick(c, 0);
	expect_dropped(c, 0);
	survives(c);
}

static void test_indirect_not_negotiated(void **state)
{
	struct mctx *c = *state;

	assert_int_equal(vdrv_setup(c->d, ~VIRTIO_FEATURE(VIRTIO_RING_F_INDIRECT_DESC), 1, QSIZE),
			 0);
	tdesc(c, 0, c->hdr, 16, N, 1);
	tdesc(c, 1, c->data, 512, N, 2);
	tdesc(c, 2, c->st, 1, W, 0);
	desc(c, 0, c->table, 48, I, 0);
	post_kick(c, 0);
	expect_dropped(c, 0);
	survives(c);
}

/* ---- request framing ---- */

static void test_zero_length_header(void **state)
{
	struct mctx *c = *state;

	desc(c, 0, c->hdr, 0, N, 1);
	desc(c, 1, c->data, 512, N, 2);
	desc(c, 2, c->st, 1, W, 0);
	post_kick(c, 0);
	/* The header is the first 16 readable bytes: they are the data. */
	expect_status(c, 0, VIRTIO_BLK_S_UNSUPP);
	survives(c);
}

static void test_short_header(void **state)
{
	struct mctx *c = *state;

	desc(c, 0, c->hdr, 8, N, 1);
	desc(c, 1, c->st, 1, W, 0);
	post_kick(c, 0);
	expect_status(c, 0, VIRTIO_BLK_S_IOERR);
	survives(c);
}

static void test_zero_length_status(void **state)
{
	struct mctx *c = *state;

	desc(c, 0, c->hdr, 16, N, 1);
	desc(c, 1, c->data, 512, N, 2);
	desc(c, 2, c->st, 0, W, 0);
	post_kick(c, 0);
	expect_dropped(c, 0);
	survives(c);
}

static void test_status_not_writable(void **state)
{
	struct mctx *c = *state;

	desc(c, 0, c->hdr, 16, N, 1);
	desc(c, 1, c->data, 512, N, 2);
	desc(c, 2, c->st, 1, R, 0);
	post_kick(c, 0);
	expect_dropped(c, 0);
	survives(c);
}

static void test_status_before_data(void **state)
{
	struct mctx *c = *state;

	desc(c, 0, c->hdr, 16, N, 1);
	desc(c, 1, c->st, 1, W | N, 2);
	desc(c, 2, c->data, 512, R, 0);
	post_kick(c, 0);
	expect_dropped(c, 0);
	survives(c);
}

static void test_writable_before_readable(void **state)
{
	struct mctx *c = *state;

	desc(c, 0, c->hdr, 16, W | N, 1);
	desc(c, 1, c->data, 512, R | N, 2);
	desc(c, 2, c->st, 1, W, 0);
	post_kick(c, 0);
	expect_dropped(c, 0);
	/* Same inside an indirect table. */
	tdesc(c, 0, c->hdr, 16, N, 1);
	tdesc(c, 1, c->st, 1, W | N, 2);
	tdesc(c, 2, c->data, 512, R, 0);
	desc(c, 0, c->table, 48, I, 0);
	post_kick(c, 0);
	expect_dropped(c, 0);
	survives(c);
}

static void test_write_data_device_writable(void **state)
{
	struct mctx *c = *state;
	uint32_t id, len;

	/* OUT whose "data" is device-writable: nothing to write, nothing
	 * written; the status goes to the last writable byte. */
	desc(c, 0, c->hdr, 16, N, 1);
	desc(c, 1, c->data, 512, W | N, 2);
	desc(c, 2, c->st, 1, W, 0);
	post_kick(c, 0);
	assert_int_equal(vdrv_wait_used(c->d, 0, VDRV_WAIT_MS, &id, &len), 0);
	assert_int_equal(status_byte(c), VIRTIO_BLK_S_OK);
	survives(c);
}

static void test_sector_overflow(void **state)
{
	struct mctx *c = *state;
	/* sector * 512 wraps to 0 or just past it. */
	const uint64_t sectors[] = {1ULL << 55, (1ULL << 55) + 1, ~0ULL, ~0ULL - 1,
				    DISK_SIZE / 512};

	for (size_t i = 0; i < sizeof(sectors) / sizeof(sectors[0]); i++) {
		uint8_t ff = 0xff;

		set_hdr(c, VIRTIO_BLK_T_OUT, sectors[i], c->hdr);
		gm_write(&c->d->gm, c->st, &ff, 1);
		desc(c, 0, c->hdr, 16, N, 1);
		desc(c, 1, c->data, 4096, N, 2);
		desc(c, 2, c->st, 1, W, 0);
		post_kick(c, 0);
		expect_status(c, 0, VIRTIO_BLK_S_IOERR);
	}
	survives(c);
}

static void test_data_not_sector_multiple(void **state)
{
	struct mctx *c = *state;

	desc(c, 0, c->hdr, 16, N, 1);
	desc(c, 1, c->data, 511, N, 2);
	desc(c, 2, c->st, 1, W, 0);
	post_kick(c, 0);
	expect_status(c, 0, VIRTIO_BLK_S_IOERR);
	survives(c);
}

/* ---- rings and protocol ---- */

static void test_head_out_of_range(void **state)
{
	struct mctx *c = *state;

	post_kick(c, QSIZE);
	expect_needs_reset(c);
	survives(c);
}

static void test_avail_idx_jump(void **state)
{
	struct mctx *c = *state;

	desc(c, 0, c->hdr, 16, N, 1);
	desc(c, 1, c->data, 512, N, 2);
	desc(c, 2, c->st, 1, W, 0);
	vdrv_set_avail_idx(c->d, 0, QSIZE + 1);
	vdrv_kick(c->d, 0);
	expect_needs_reset(c);
	survives(c);
	/* Backwards is a jump of 65535. */
	vdrv_set_avail_idx(c->d, 0, 0xffff);
	vdrv_kick(c->d, 0);
	expect_needs_reset(c);
	survives(c);
}

static void test_notify_before_driver_ok(void **state)
{
	struct mctx *c = *state;

	assert_int_equal(vdrv_negotiate(c->d, BLKFIX_ALL_FEATURES), 0);
	assert_int_equal(vdrv_setup_queue(c->d, 0, QSIZE), 0);
	vdrv_queue_ready(c->d, 0);
	desc(c, 0, c->hdr, 16, N, 1);
	desc(c, 1, c->data, 512, N, 2);
	desc(c, 2, c->st, 1, W, 0);
	post_kick(c, 0);
	/* an early kick is dropped without breaking the device */
	assert_false(vdrv_needs_reset(c->d));
	assert_int_equal(c->f.blk->stats.write_count, 0);
	assert_int_equal(blkfix_reinit_queue(&c->f), 0); /* driver resets: the write is gone */
	survives(c);
}

static void test_bad_queue_size(void **state)
{
	struct mctx *c = *state;

	assert_int_equal(vdrv_negotiate(c->d, BLKFIX_ALL_FEATURES), 0);
	vdrv_write32(c->d, VIRTIO_MMIO_QUEUE_SEL, 0);
	vdrv_write32(c->d, VIRTIO_MMIO_QUEUE_NUM, 100);
	assert_true(vdrv_needs_reset(c->d));
	survives(c);
	assert_int_equal(vdrv_negotiate(c->d, BLKFIX_ALL_FEATURES), 0);
	vdrv_write32(c->d, VIRTIO_MMIO_QUEUE_NUM, 2 * QSIZE);
	assert_true(vdrv_needs_reset(c->d));
	survives(c);
}

static void test_queue_setup_after_driver_ok(void **state)
{
	struct mctx *c = *state;

	/* Move the descriptor table onto the data buffer after DRIVER_OK. */
	vdrv_write32(c->d, VIRTIO_MMIO_QUEUE_SEL, 0);
	vdrv_write32(c->d, VIRTIO_MMIO_QUEUE_DESC_LOW, (uint32_t)c->data);
	assert_true(vdrv_needs_reset(c->d));
	assert_int_equal(c->f.blk->vdev.queues[0].desc_gpa, c->d->q[0].desc);
	desc(c, 0, c->hdr, 16, N, 1);
	desc(c, 1, c->data, 512, N, 2);
	desc(c, 2, c->st, 1, W, 0);
	post_kick(c, 0);
	vdrv_poll(c->d);
	assert_int_equal(vdrv_used_idx(c->d, 0), 0);
	survives(c);
}

static void test_no_request_queue(void **state)
{
	struct mctx *c = *state;

	/* DRIVER_OK without making the request queue ready. */
	assert_int_equal(vdrv_negotiate(c->d, BLKFIX_ALL_FEATURES), 0);
	assert_int_equal(vdrv_setup_queue(c->d, 0, QSIZE), 0);
	assert_int_not_equal(vdrv_driver_ok(c->d), 0);
	assert_true(vdrv_needs_reset(c->d));
	assert_int_equal(c->f.blk->stats.activate_fails, 1);
	survives(c);
}

static void test_ring_overlaps_data(void **state)
{
	struct mctx *c = *state;
	uint32_t id, len;

	/* A read whose data lands on the descriptor table itself: legal for
	 * the device, the guest trashes its own ring. */
	set_hdr(c, VIRTIO_BLK_T_IN, 0, c->hdr);
	desc(c, 0, c->hdr, 16, N, 1);
	desc(c, 1, c->d->q[0].desc + 512, 512, W | N, 2);
	desc(c, 2, c->st, 1, W, 0);
	post_kick(c, 0);
	assert_int_equal(vdrv_wait_used(c->d, 0, VDRV_WAIT_MS, &id, &len), 0);
	assert_int_equal(status_byte(c), VIRTIO_BLK_S_OK);
	survives(c);
}

static void test_garbage_storm(void **state)
{
	struct mctx *c = *state;
	uint32_t seed = 12345;

	/* Random descriptor tables, many times over: never a crash, never a
	 * write to the file. Ring-level failures get a reset. */
	for (int round = 0; round < 200; round++) {
		for (uint16_t i = 0; i < 8; i++) {
			uint64_t addr, len;
			uint16_t flags, next;

			seed = seed * 1103515245u + 12345u;
			addr = (seed >> 4) % (RAM_SIZE + 8192);
			seed = seed * 1103515245u + 12345u;
			len = (seed >> 8) % 9000;
			seed = seed * 1103515245u + 12345u;
			flags = (uint16_t)((seed >> 10) & 7);
			next = (uint16_t)((seed >> 16) % 10);
			/* Only the headers may say OUT to sector 0.. keep
			 * writes away: point every readable buffer at a
			 * zeroed area (type 0 = IN). */
			if (!(flags & W) && !(flags & I))
				addr = c->table + 4096 + (addr % 2048);
			desc(c, i, addr, (uint32_t)len, flags, next);
		}
		memset(vdrv_ptr(c->d, c->table + 4096, 4096), 0, 4096);
		seed = seed * 1103515245u + 12345u;
		post_kick(c, (uint16_t)((seed >> 12) % 8));
		vdrv_poll(c->d);
		if (vdrv_needs_reset(c->d))
			assert_int_equal(blkfix_reinit_queue(&c->f), 0);
		else
			c->d->q[0].last_used = vdrv_used_idx(c->d, 0);
	}
	survives(c);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
	    T(test_loop_two),
	    T(test_self_loop),
	    T(test_loop_through_whole_table),
	    T(test_loop_in_writable_part),
	    T(test_data_outside_ram),
	    T(test_data_straddles_ram_end),
	    T(test_address_wraps),
	    T(test_length_overflow),
	    T(test_next_out_of_range),
	    T(test_indirect_longer_than_queue),
	    T(test_indirect_loop),
	    T(test_indirect_nested),
	    T(test_indirect_bad_len),
	    T(test_indirect_outside_ram),
	    T(test_indirect_with_next),
	    T(test_indirect_next_out_of_table),
	    T(test_indirect_not_negotiated),
	    T(test_zero_length_header),
	    T(test_short_header),
	    T(test_zero_length_status),
	    T(test_status_not_writable),
	    T(test_status_before_data),
	    T(test_writable_before_readable),
	    T(test_write_data_device_writable),
	    T(test_sector_overflow),
	    T(test_data_not_sector_multiple),
	    T(test_head_out_of_range),
	    T(test_avail_idx_jump),
	    T(test_notify_before_driver_ok),
	    T(test_bad_queue_size),
	    T(test_queue_setup_after_driver_ok),
	    T(test_no_request_queue),
	    T(test_ring_overlaps_data),
	    T(test_garbage_storm),
#undef T
	};
	int r;

	log_set_level(LOG_ERROR);
	/* every test under both io_engines: "Sync", then "Async" (io_uring) */
	r = cmocka_run_group_tests_name("io_engine Sync", tests, NULL, NULL);
	blkfix_io_async = true;
	return r | cmocka_run_group_tests_name("io_engine Async", tests, NULL, NULL);
}
