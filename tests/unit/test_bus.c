/* PIO/MMIO bus (bus.c): registration rules, dispatch with range-relative
 * offsets, the device lock around every access, unmapped accesses. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <pthread.h>
#include <string.h>

#include "ember/bus.h"

struct fake_dev {
	int id;
	int reads, writes;
	uint64_t last_off;
	uint32_t last_len;
	uint8_t last_data[8];
	uint8_t data_on_entry[8]; /* read buffer contents the device saw */
	pthread_mutex_t *lock;
	int lock_was_held;
};

static void note_lock(struct fake_dev *d)
{
	if (d->lock) {
		int r = pthread_mutex_trylock(d->lock);
		if (r == 0)
			pthread_mutex_unlock(d->lock);
		d->lock_was_held = r == EBUSY;
	}
}

static void fake_read(void *opaque, uint64_t off, void *data, uint32_t len)
{
	struct fake_dev *d = opaque;

	d->reads++;
	d->last_off = off;
	d->last_len = len;
	memcpy(d->data_on_entry, data, len);
	note_lock(d);
	/* answer with id in the first byte and the offset in the second */
	((uint8_t *)data)[0] = (uint8_t)d->id;
	if (len > 1)
		((uint8_t *)data)[1] = (uint8_t)off;
}

static void fake_write(void *opaque, uint64_t off, const void *data, uint32_t len)
{
	struct fake_dev *d = opaque;

	d->writes++;
	d->last_off = off;
	d->last_len = len;
	memcpy(d->last_data, data, len);
	note_lock(d);
}

static const struct bus_ops fake_ops = {.read = fake_read, .write = fake_write};
static const struct bus_ops no_ops = {0};

static void test_register_overlap(void **state)
{
	struct bus b;
	struct fake_dev d = {.id = 1};

	(void)state;
	bus_init(&b);
	assert_int_equal(bus_register(&b, 0x100, 0x10, &fake_ops, &d, NULL), 0);
	/* identical, overlapping the front, the back, containing, contained */
	assert_int_equal(bus_register(&b, 0x100, 0x10, &fake_ops, &d, NULL), -EEXIST);
	assert_int_equal(bus_register(&b, 0xf8, 0x9, &fake_ops, &d, NULL), -EEXIST);
	assert_int_equal(bus_register(&b, 0x10f, 0x1, &fake_ops, &d, NULL), -EEXIST);
	assert_int_equal(bus_register(&b, 0x0, 0x1000, &fake_ops, &d, NULL), -EEXIST);
	assert_int_equal(bus_register(&b, 0x104, 0x4, &fake_ops, &d, NULL), -EEXIST);
	assert_int_equal(b.nranges, 1);
	/* adjacent on both sides is fine */
	assert_int_equal(bus_register(&b, 0xf8, 0x8, &fake_ops, &d, NULL), 0);
	assert_int_equal(bus_register(&b, 0x110, 0x8, &fake_ops, &d, NULL), 0);
	assert_int_equal(b.nranges, 3);
	/* empty and wrapping ranges */
	assert_int_equal(bus_register(&b, 0x2000, 0, &fake_ops, &d, NULL), -EINVAL);
	assert_int_equal(bus_register(&b, UINT64_MAX - 0xf, 0x20, &fake_ops, &d, NULL), -EINVAL);
	assert_int_equal(b.nranges, 3);
}

static void test_dispatch_offsets(void **state)
{
	struct bus b;
	struct fake_dev com1 = {.id = 1}, kbd = {.id = 2}, mmio = {.id = 3};
	uint8_t buf[8];
	uint32_t v32 = 0xdeadbeef;

	(void)state;
	bus_init(&b);
	assert_int_equal(bus_register(&b, 0x3f8, 8, &fake_ops, &com1, NULL), 0);
	assert_int_equal(bus_register(&b, 0x60, 5, &fake_ops, &kbd, NULL), 0);
	assert_int_equal(bus_register(&b, 0xd0000000, 0x1000, &fake_ops, &mmio, NULL), 0);

	/* reads: the device gets a zeroed buffer and a range-relative offset */
	memset(buf, 0x77, sizeof(buf));
	assert_int_equal(bus_access(&b, 0x3fd, buf, 1, false), 0);
	assert_int_equal(com1.reads, 1);
	assert_int_equal(com1.last_off, 5);
	assert_int_equal(com1.last_len, 1);
	assert_int_equal(com1.data_on_entry[0], 0);
	assert_int_equal(buf[0], 1);
	assert_int_equal(buf[1], 0x77); /* beyond len: untouched */

	assert_int_equal(bus_access(&b, 0x64, buf, 1, false), 0);
	assert_int_equal(kbd.last_off, 4);
	assert_int_equal(buf[0], 2);

	memset(buf, 0x77, sizeof(buf));
	assert_int_equal(bus_access(&b, 0xd0000ffc, buf, 4, false), 0);
	assert_int_equal(mmio.last_off, 0xffc);
	assert_int_equal(mmio.last_len, 4);
	assert_memory_equal(mmio.data_on_entry, "\0\0\0\0", 4);
	assert_int_equal(buf[0], 3);
	assert_int_equal(buf[1], 0xfc);
	assert_int_equal(buf[2], 0);

	/* writes reach only the owning device, with the data */
	assert_int_equal(bus_access(&b, 0xd0000050, &v32, 4, true), 0);
	assert_int_equal(mmio.writes, 1);
	assert_int_equal(mmio.last_off, 0x50);
	assert_memory_equal(mmio.last_data, &v32, 4);
	assert_int_equal(com1.writes, 0);
	assert_int_equal(kbd.writes, 0);

	/* first and last byte of a range, and one past it */
	assert_int_equal(bus_access(&b, 0x3f8, buf, 1, true), 0);
	assert_int_equal(com1.last_off, 0);
	assert_int_equal(bus_access(&b, 0x3ff, buf, 1, true), 0);
	assert_int_equal(com1.last_off, 7);
	assert_int_equal(com1.writes, 2);
	assert_int_equal(bus_access(&b, 0x400, buf, 1, true), -ENOENT);
	assert_int_equal(bus_access(&b, 0x3f7, buf, 1, true), -ENOENT);
	assert_int_equal(com1.writes, 2);
}

static void test_unmapped(void **state)
{
	struct bus b;
	struct fake_dev d = {.id = 1};
	uint8_t buf[8];
	uint64_t v = 0;

	(void)state;
	bus_init(&b);
	memset(buf, 0, sizeof(buf));
	assert_int_equal(bus_access(&b, 0x80, buf, 1, false), -ENOENT);
	assert_int_equal(buf[0], 0xff);
	assert_int_equal(buf[1], 0); /* only len bytes */

	assert_int_equal(bus_register(&b, 0x1000, 0x100, &fake_ops, &d, NULL), 0);
	assert_int_equal(bus_access(&b, 0x1100, &v, 8, false), -ENOENT);
	assert_int_equal(v, UINT64_MAX);
	v = 0;
	assert_int_equal(bus_access(&b, 0xfff, &v, 4, false), -ENOENT);
	assert_int_equal(v, 0xffffffffULL);
	/* unmapped writes are dropped, the buffer is left alone */
	v = 0x1234;
	assert_int_equal(bus_access(&b, 0x2000, &v, 2, true), -ENOENT);
	assert_int_equal(v, 0x1234);
	assert_int_equal(d.reads + d.writes, 0);
}

static void test_null_ops(void **state)
{
	struct bus b;
	uint32_t v = 0xffffffff;

	(void)state;
	bus_init(&b);
	assert_int_equal(bus_register(&b, 0x80, 1, &no_ops, NULL, NULL), 0);
	/* a device without read: reads give zero, writes are swallowed */
	assert_int_equal(bus_access(&b, 0x80, &v, 4, false), 0);
	assert_int_equal(v, 0);
	assert_int_equal(bus_access(&b, 0x80, &v, 1, true), 0);
}

static void test_lock_held(void **state)
{
	struct bus b;
	pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
	struct fake_dev a = {.id = 1, .lock = &lock}, c = {.id = 2, .lock = &lock};
	uint8_t v = 0;

	(void)state;
	bus_init(&b);
	/* two ranges sharing one device lock (like i8042's 0x60 and 0x64) */
	assert_int_equal(bus_register(&b, 0x60, 1, &fake_ops, &a, &lock), 0);
	assert_int_equal(bus_register(&b, 0x64, 1, &fake_ops, &c, &lock), 0);
	assert_int_equal(bus_access(&b, 0x60, &v, 1, false), 0);
	assert_true(a.lock_was_held);
	assert_int_equal(bus_access(&b, 0x64, &v, 1, true), 0);
	assert_true(c.lock_was_held);
	/* released afterwards */
	assert_int_equal(pthread_mutex_trylock(&lock), 0);
	pthread_mutex_unlock(&lock);
}

static void test_full(void **state)
{
	struct bus b;
	struct fake_dev d = {.id = 9};
	uint8_t v;

	(void)state;
	bus_init(&b);
	for (int i = 0; i < BUS_MAX_RANGES; i++)
		assert_int_equal(
		    bus_register(&b, 0x1000 + 0x10 * (uint64_t)i, 0x10, &fake_ops, &d, NULL), 0);
	assert_int_equal(b.nranges, BUS_MAX_RANGES);
	assert_int_equal(bus_register(&b, 0x9000, 0x10, &fake_ops, &d, NULL), -ENOSPC);
	/* overlap is still reported as such when full */
	assert_int_equal(bus_register(&b, 0x1000, 0x10, &fake_ops, &d, NULL), -EEXIST);
	assert_int_equal(b.nranges, BUS_MAX_RANGES);
	/* the last one registered is reachable */
	assert_int_equal(bus_access(&b, 0x1000 + 0x10 * (BUS_MAX_RANGES - 1) + 3, &v, 1, true), 0);
	assert_int_equal(d.last_off, 3);
	assert_int_equal(bus_access(&b, 0x9000, &v, 1, true), -ENOENT);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_register_overlap), cmocka_unit_test(test_dispatch_offsets),
	    cmocka_unit_test(test_unmapped),	     cmocka_unit_test(test_null_ops),
	    cmocka_unit_test(test_lock_held),	     cmocka_unit_test(test_full),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
