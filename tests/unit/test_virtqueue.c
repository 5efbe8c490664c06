/* Split virtqueue (src/devices/virtio/virtqueue.c) on fake guest memory, without
 * the transport: activation checks, chain validation, used ring, interrupt
 * and notification suppression, chain copy helpers. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <endian.h>
#include <errno.h>
#include <string.h>

#include "ember/memory.h"
#include "ember/virtqueue.h"

#define RAM (4u << 20)
#define DESC 0x1000ULL
#define AVAIL 0x2000ULL
#define USED 0x3000ULL
#define TABLE 0x8000ULL
#define BUF 0x10000ULL

#define R 0
#define W VRING_DESC_F_WRITE
#define N VRING_DESC_F_NEXT
#define I VRING_DESC_F_INDIRECT

struct t {
	struct guest_mem gm;
	struct virtqueue vq;
	struct vq_chain c;
	uint16_t avail_idx;
};

static struct t T;

static void set_desc_at(uint64_t table, uint16_t i, uint64_t addr, uint32_t len, uint16_t flags,
			uint16_t next)
{
	struct vring_desc d = {htole64(addr), htole32(len), htole16(flags), htole16(next)};

	assert_int_equal(gm_write(&T.gm, table + 16ULL * i, &d, sizeof(d)), 0);
}

static void set_desc(uint16_t i, uint64_t addr, uint32_t len, uint16_t flags, uint16_t next)
{
	set_desc_at(DESC, i, addr, len, flags, next);
}

static void post(uint16_t head)
{
	uint16_t v = htole16(head);

	gm_write(&T.gm, AVAIL + 4 + 2ULL * (T.avail_idx % T.vq.size), &v, 2);
	T.avail_idx++;
	v = htole16(T.avail_idx);
	gm_write(&T.gm, AVAIL + 2, &v, 2);
}

static uint16_t rd16(uint64_t gpa)
{
	uint16_t v = 0;

	gm_read(&T.gm, gpa, &v, 2);
	return le16toh(v);
}

static void wr16(uint64_t gpa, uint16_t v)
{
	v = htole16(v);
	gm_write(&T.gm, gpa, &v, 2);
}

static void start(uint64_t ram, uint16_t size, bool event_idx, bool indirect)
{
	if (T.gm.base)
		gm_destroy(&T.gm);
	memset(&T, 0, sizeof(T));
	assert_int_equal(gm_init(&T.gm, ram, 0, 0), 0);
	vq_init(&T.vq, 0);
	T.vq.size = size;
	T.vq.desc_gpa = DESC;
	T.vq.avail_gpa = AVAIL;
	T.vq.used_gpa = USED;
	T.vq.ready = true;
	assert_int_equal(vq_activate(&T.vq, &T.gm, event_idx, indirect), 0);
}

static int teardown(void **state)
{
	gm_destroy(&T.gm);
	return 0;
}

static void test_sizes(void **state)
{
	struct virtqueue vq;

	vq_init(&vq, 64);
	assert_int_equal(vq.max_size, 64);
	assert_int_equal(vq.size, 64);
	assert_true(vq_size_valid(&vq, 1));
	assert_true(vq_size_valid(&vq, 2));
	assert_true(vq_size_valid(&vq, 64));
	assert_false(vq_size_valid(&vq, 0));
	assert_false(vq_size_valid(&vq, 3));
	assert_false(vq_size_valid(&vq, 128));
	assert_false(vq_size_valid(&vq, 0x10000 + 64));
	vq_init(&vq, 100); /* not a power of two: default */
	assert_int_equal(vq.max_size, VQ_MAX_SIZE);
	vq_init(&vq, 0);
	assert_int_equal(vq.max_size, VQ_MAX_SIZE);
}

static void test_activate_checks(void **state)
{
	start(RAM, 16, true, true);
	/* Misaligned rings. */
	T.vq.desc_gpa = DESC + 8;
	assert_int_equal(vq_activate(&T.vq, &T.gm, true, true), -EINVAL);
	assert_false(T.vq.active);
	T.vq.desc_gpa = DESC;
	T.vq.avail_gpa = AVAIL + 1;
	assert_int_equal(vq_activate(&T.vq, &T.gm, true, true), -EINVAL);
	T.vq.avail_gpa = AVAIL;
	T.vq.used_gpa = USED + 2;
	assert_int_equal(vq_activate(&T.vq, &T.gm, true, true), -EINVAL);
	/* Used ring whose avail_event word is past the end of RAM: fine
	 * without EVENT_IDX, not with it. */
	T.vq.used_gpa = RAM - (4 + 8 * 16);
	assert_int_equal(vq_activate(&T.vq, &T.gm, false, true), 0);
	assert_int_equal(vq_activate(&T.vq, &T.gm, true, true), -EINVAL);
	/* Same for the avail ring's used_event word. */
	T.vq.used_gpa = USED;
	T.vq.avail_gpa = RAM - (4 + 2 * 16);
	assert_int_equal(vq_activate(&T.vq, &T.gm, false, true), 0);
	assert_int_equal(vq_activate(&T.vq, &T.gm, true, true), -EINVAL);
	T.vq.avail_gpa = AVAIL;
	T.vq.desc_gpa = RAM - 16 * 8;
	assert_int_equal(vq_activate(&T.vq, &T.gm, true, true), -EINVAL);
	T.vq.desc_gpa = DESC;
	T.vq.size = 12;
	assert_int_equal(vq_activate(&T.vq, &T.gm, true, true), -EINVAL);
	T.vq.size = 16;
	assert_int_equal(vq_activate(&T.vq, &T.gm, true, true), 0);
	assert_true(T.vq.active);
}

static void test_pop_simple(void **state)
{
	start(RAM, 16, false, false);
	assert_int_equal(vq_pop(&T.vq, &T.c), 0);
	set_desc(3, BUF, 16, R | N, 7);
	set_desc(7, BUF + 100, 100, R | N, 1);
	set_desc(1, BUF + 1000, 512, W | N, 2);
	set_desc(2, BUF + 2000, 1, W, 0);
	post(3);
	assert_int_equal(vq_avail_count(&T.vq), 1);
	assert_int_equal(vq_pop(&T.vq, &T.c), 1);
	assert_int_equal(T.c.head, 3);
	assert_int_equal(T.c.nread, 2);
	assert_int_equal(T.c.nwrite, 2);
	assert_int_equal(T.c.read_len, 116);
	assert_int_equal(T.c.write_len, 513);
	assert_ptr_equal(T.c.iov[0].iov_base, gm_slice(&T.gm, BUF, 16));
	assert_ptr_equal(T.c.iov[2].iov_base, gm_slice(&T.gm, BUF + 1000, 512));
	assert_int_equal(T.c.iov[3].iov_len, 1);
	assert_int_equal(vq_pop(&T.vq, &T.c), 0);
	/* unpop gives the same chain again */
	vq_unpop(&T.vq);
	assert_int_equal(vq_pop(&T.vq, &T.c), 1);
	assert_int_equal(T.c.head, 3);
}

static void test_zero_length_buffers(void **state)
{
	start(RAM, 16, false, false);
	set_desc(0, BUF, 0, R | N, 1);
	set_desc(1, BUF, 0, W, 0);
	post(0);
	assert_int_equal(vq_pop(&T.vq, &T.c), 1);
	assert_int_equal(T.c.nread, 1);
	assert_int_equal(T.c.nwrite, 1);
	assert_int_equal(T.c.read_len + T.c.write_len, 0);
	/* ...but still inside RAM. */
	set_desc(0, RAM + 4096, 0, R, 0);
	post(0);
	assert_int_equal(vq_pop(&T.vq, &T.c), -EBADMSG);
}

static void test_chain_length_limit(void **state)
{
	start(RAM, 8, false, true);
	/* Exactly `size` descriptors is fine. */
	for (uint16_t i = 0; i < 8; i++)
		set_desc(i, BUF + i, 1, (uint16_t)(i < 7 ? N : 0), (uint16_t)(i + 1));
	post(0);
	assert_int_equal(vq_pop(&T.vq, &T.c), 1);
	assert_int_equal(T.c.nread, 8);
	/* Closing the loop makes it infinite: rejected. */
	set_desc(7, BUF, 1, N, 0);
	post(0);
	assert_int_equal(vq_pop(&T.vq, &T.c), -EBADMSG);
	/* Indirect: a table of size entries is fine, size+1 is not. */
	for (uint16_t i = 0; i < 9; i++)
		set_desc_at(TABLE, i, BUF, 1, (uint16_t)(i < 8 ? N : 0), (uint16_t)(i + 1));
	set_desc_at(TABLE, 7, BUF, 1, 0, 0);
	set_desc(0, TABLE, 16 * 8, I, 0);
	post(0);
	assert_int_equal(vq_pop(&T.vq, &T.c), 1);
	assert_int_equal(T.c.nread, 8);
	set_desc_at(TABLE, 7, BUF, 1, N, 8);
	set_desc(0, TABLE, 16 * 9, I, 0);
	post(0);
	assert_int_equal(vq_pop(&T.vq, &T.c), -EBADMSG);
	/* Direct descriptors then an indirect table: counted together. */
	set_desc_at(TABLE, 7, BUF, 1, 0, 0);
	set_desc(0, BUF, 1, N, 1);
	set_desc(1, TABLE, 16 * 8, I, 0);
	post(0);
	assert_int_equal(vq_pop(&T.vq, &T.c), -EBADMSG);
	for (uint16_t i = 0; i < 7; i++)
		set_desc_at(TABLE + 0x400, i, BUF, 1, (uint16_t)(i < 6 ? N : 0), (uint16_t)(i + 1));
	set_desc(1, TABLE + 0x400, 16 * 7, I, 0);
	post(0);
	assert_int_equal(vq_pop(&T.vq, &T.c), 1);
	assert_int_equal(T.c.nread, 8);
}

static void test_length_sum(void **state)
{
	/* 3 GiB of (sparse) RAM so each buffer is valid on its own. */
	start(3ULL << 30, 16, false, false);
	set_desc(0, 0, 0x80000000u, R | N, 1);
	set_desc(1, 0, 0x7fffffffu, W, 0);
	post(0);
	assert_int_equal(vq_pop(&T.vq, &T.c), 1);
	assert_int_equal(T.c.read_len, 0x80000000u);
	assert_int_equal(T.c.write_len, 0x7fffffffu);
	set_desc(1, 0, 0x80000000u, W, 0);
	post(0);
	assert_int_equal(vq_pop(&T.vq, &T.c), -EBADMSG);
	set_desc(0, 0, 0xffffffffu, R | N, 1);
	set_desc(1, 0, 1, R, 0);
	post(0);
	assert_int_equal(vq_pop(&T.vq, &T.c), -EBADMSG);
}

static void test_bad_chains(void **state)
{
	start(RAM, 16, false, true);
	set_desc(0, BUF, 16, W | N, 1); /* writable then readable */
	set_desc(1, BUF, 16, R, 0);
	post(0);
	assert_int_equal(vq_pop(&T.vq, &T.c), -EBADMSG);
	assert_int_equal(T.c.head, 0);
	assert_int_equal(T.c.nread + T.c.nwrite, 0);
	set_desc(0, BUF, 16, N, 16); /* next out of range */
	post(0);
	assert_int_equal(vq_pop(&T.vq, &T.c), -EBADMSG);
	set_desc(0, RAM - 8, 16, R, 0); /* crosses the end of RAM */
	post(0);
	assert_int_equal(vq_pop(&T.vq, &T.c), -EBADMSG);
	set_desc(0, TABLE, 32, I | N, 1); /* indirect + next */
	post(0);
	assert_int_equal(vq_pop(&T.vq, &T.c), -EBADMSG);
	set_desc(0, TABLE, 24, I, 0); /* bad indirect length */
	post(0);
	assert_int_equal(vq_pop(&T.vq, &T.c), -EBADMSG);
	set_desc(0, TABLE, 0, I, 0);
	post(0);
	assert_int_equal(vq_pop(&T.vq, &T.c), -EBADMSG);
	set_desc(0, RAM - 16, 32, I, 0); /* table outside RAM */
	post(0);
	assert_int_equal(vq_pop(&T.vq, &T.c), -EBADMSG);
	set_desc_at(TABLE, 0, TABLE + 64, 16, I, 0); /* nested */
	set_desc(0, TABLE, 16, I, 0);
	post(0);
	assert_int_equal(vq_pop(&T.vq, &T.c), -EBADMSG);
	set_desc_at(TABLE, 0, BUF, 16, N, 2); /* next past the table */
	set_desc(0, TABLE, 32, I, 0);
	post(0);
	assert_int_equal(vq_pop(&T.vq, &T.c), -EBADMSG);
	/* The queue itself is fine. */
	assert_false(T.vq.broken);
	set_desc(0, BUF, 16, R, 0);
	post(0);
	assert_int_equal(vq_pop(&T.vq, &T.c), 1);
}

static void test_indirect_needs_feature(void **state)
{
	start(RAM, 16, false, false);
	set_desc_at(TABLE, 0, BUF, 16, R, 0);
	set_desc(0, TABLE, 16, I, 0);
	post(0);
	assert_int_equal(vq_pop(&T.vq, &T.c), -EBADMSG);
	start(RAM, 16, false, true);
	set_desc_at(TABLE, 0, BUF, 16, R, 0);
	set_desc(0, TABLE, 16, I | W, 0); /* WRITE on the table desc is ignored */
	post(0);
	assert_int_equal(vq_pop(&T.vq, &T.c), 1);
	assert_int_equal(T.c.nread, 1);
}

static void test_ring_violations(void **state)
{
	start(RAM, 16, false, false);
	post(16); /* head index out of range */
	assert_int_equal(vq_pop(&T.vq, &T.c), -EIO);
	assert_true(T.vq.broken);
	assert_int_equal(vq_pop(&T.vq, &T.c), -EIO);
	assert_int_equal(vq_avail_count(&T.vq), 0);
	assert_false(vq_enable_notification(&T.vq));
	vq_reset(&T.vq);
	assert_false(T.vq.broken);
	assert_false(T.vq.active);
	assert_int_equal(vq_pop(&T.vq, &T.c), 0);

	start(RAM, 16, false, false);
	wr16(AVAIL + 2, 17); /* 17 outstanding in a 16-entry ring */
	assert_int_equal(vq_pop(&T.vq, &T.c), -EIO);
	start(RAM, 16, false, false);
	wr16(AVAIL + 2, 16); /* exactly full is fine */
	for (int i = 0; i < 16; i++)
		set_desc((uint16_t)i, BUF, 1, R, 0);
	for (int i = 0; i < 16; i++)
		wr16(AVAIL + 4 + 2 * i, (uint16_t)i);
	for (int i = 0; i < 16; i++)
		assert_int_equal(vq_pop(&T.vq, &T.c), 1);
	assert_int_equal(vq_pop(&T.vq, &T.c), 0);
}

static void test_used_ring(void **state)
{
	start(RAM, 4, false, false);
	for (uint16_t i = 0; i < 6; i++) {
		vq_push(&T.vq, (uint16_t)(i % 4), 100 + i);
		assert_int_equal(rd16(USED + 2), i + 1);
	}
	/* Wrapped: slot 1 holds the 6th element. */
	uint32_t e[2];
	gm_read(&T.gm, USED + 4 + 8 * 1, e, 8);
	assert_int_equal(le32toh(e[0]), 1);
	assert_int_equal(le32toh(e[1]), 105);
}

static void test_interrupt_no_event_idx(void **state)
{
	start(RAM, 16, false, false);
	assert_false(vq_needs_interrupt(&T.vq)); /* nothing used yet */
	vq_push(&T.vq, 0, 1);
	assert_true(vq_needs_interrupt(&T.vq));
	assert_false(vq_needs_interrupt(&T.vq)); /* nothing new */
	wr16(AVAIL, VRING_AVAIL_F_NO_INTERRUPT);
	vq_push(&T.vq, 0, 1);
	assert_false(vq_needs_interrupt(&T.vq));
	wr16(AVAIL, 0);
	vq_push(&T.vq, 0, 1);
	assert_true(vq_needs_interrupt(&T.vq));
}

static void test_interrupt_event_idx(void **state)
{
	const uint64_t used_event = AVAIL + 4 + 2 * 16;

	start(RAM, 16, true, false);
	vq_push(&T.vq, 0, 1); /* used idx 1 */
	assert_true(vq_needs_interrupt(&T.vq));
	wr16(used_event, 3); /* interrupt when used idx goes past 3 */
	vq_push(&T.vq, 0, 1);
	assert_false(vq_needs_interrupt(&T.vq));
	vq_push(&T.vq, 0, 1);
	assert_false(vq_needs_interrupt(&T.vq));
	vq_push(&T.vq, 0, 1); /* idx 4 */
	assert_true(vq_needs_interrupt(&T.vq));
	/* A batch that jumps over used_event still interrupts once. */
	wr16(used_event, 5);
	vq_push(&T.vq, 0, 1);
	vq_push(&T.vq, 0, 1);
	vq_push(&T.vq, 0, 1); /* idx 7 */
	assert_true(vq_needs_interrupt(&T.vq));
	assert_false(vq_needs_interrupt(&T.vq));
	/* NO_INTERRUPT flag is ignored under EVENT_IDX. */
	wr16(AVAIL, VRING_AVAIL_F_NO_INTERRUPT);
	wr16(used_event, 7);
	vq_push(&T.vq, 0, 1);
	assert_true(vq_needs_interrupt(&T.vq));
}

static void test_notification_suppression(void **state)
{
	const uint64_t avail_event = USED + 4 + 8 * 16;

	start(RAM, 16, false, false);
	vq_disable_notification(&T.vq);
	assert_int_equal(rd16(USED), VRING_USED_F_NO_NOTIFY);
	assert_false(vq_enable_notification(&T.vq));
	assert_int_equal(rd16(USED), 0);
	set_desc(0, BUF, 1, R, 0);
	post(0);
	/* A buffer arrived while disabled: enable says "drain again". */
	vq_disable_notification(&T.vq);
	assert_true(vq_enable_notification(&T.vq));

	start(RAM, 16, true, false);
	set_desc(0, BUF, 1, R, 0);
	post(0);
	post(0);
	assert_true(vq_enable_notification(&T.vq));
	assert_int_equal(vq_pop(&T.vq, &T.c), 1);
	assert_int_equal(vq_pop(&T.vq, &T.c), 1);
	assert_false(vq_enable_notification(&T.vq));
	assert_int_equal(rd16(avail_event), 2);
}

static void test_chain_copy(void **state)
{
	struct iovec iov[8];
	uint8_t buf[64];

	start(RAM, 16, false, false);
	gm_write(&T.gm, BUF, "0123456789", 10);
	gm_write(&T.gm, BUF + 100, "abcdef", 6);
	set_desc(0, BUF, 10, R | N, 1);
	set_desc(1, BUF + 100, 6, R | N, 2);
	set_desc(2, BUF + 200, 3, W | N, 3);
	set_desc(3, BUF + 300, 5, W, 0);
	post(0);
	assert_int_equal(vq_pop(&T.vq, &T.c), 1);
	assert_int_equal(vq_chain_read(&T.c, 8, buf, 5), 5);
	assert_memory_equal(buf, "89abc", 5);
	assert_int_equal(vq_chain_read(&T.c, 14, buf, 10), 2);
	assert_memory_equal(buf, "ef", 2);
	assert_int_equal(vq_chain_read(&T.c, 16, buf, 10), 0);
	assert_int_equal(vq_chain_write(&T.c, 2, "XYZW", 4), 4);
	assert_memory_equal(gm_slice(&T.gm, BUF + 202, 1), "X", 1);
	assert_memory_equal(gm_slice(&T.gm, BUF + 300, 3), "YZW", 3);
	assert_int_equal(vq_chain_write(&T.c, 7, "12", 2), 1);
	/* iov slices */
	assert_int_equal(vq_chain_iov(&T.c, false, 4, 10, iov, 8), 2);
	assert_int_equal(iov[0].iov_len, 6);
	assert_ptr_equal(iov[0].iov_base, gm_slice(&T.gm, BUF + 4, 1));
	assert_int_equal(iov[1].iov_len, 4);
	assert_int_equal(vq_chain_iov(&T.c, true, 0, 7, iov, 8), 2);
	assert_int_equal(vq_chain_iov(&T.c, true, 0, 9, iov, 8), -EINVAL);
	assert_int_equal(vq_chain_iov(&T.c, true, 0, 7, iov, 1), -EINVAL);
	assert_int_equal(vq_chain_iov(&T.c, false, 16, 0, iov, 8), 0);
	assert_int_equal(vq_chain_iov(&T.c, false, 17, 0, iov, 8), -EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_sizes),
	    cmocka_unit_test_teardown(test_activate_checks, teardown),
	    cmocka_unit_test_teardown(test_pop_simple, teardown),
	    cmocka_unit_test_teardown(test_zero_length_buffers, teardown),
	    cmocka_unit_test_teardown(test_chain_length_limit, teardown),
	    cmocka_unit_test_teardown(test_length_sum, teardown),
	    cmocka_unit_test_teardown(test_bad_chains, teardown),
	    cmocka_unit_test_teardown(test_indirect_needs_feature, teardown),
	    cmocka_unit_test_teardown(test_ring_violations, teardown),
	    cmocka_unit_test_teardown(test_used_ring, teardown),
	    cmocka_unit_test_teardown(test_interrupt_no_event_idx, teardown),
	    cmocka_unit_test_teardown(test_interrupt_event_idx, teardown),
	    cmocka_unit_test_teardown(test_notification_suppression, teardown),
	    cmocka_unit_test_teardown(test_chain_copy, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
