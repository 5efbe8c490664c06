/* CMOS RTC (rtc.c) through the PIO bus at 0x70/0x71: BCD time from the host's
 * UTC clock, status registers, CMOS RAM and the memory-size bytes. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ember/bus.h"
#include "ember/layout.h"
#include "ember/rtc.h"
#include "ember/util.h"

#define IDX LAYOUT_RTC_PORT
#define DAT (LAYOUT_RTC_PORT + 1)

struct fx {
	struct rtc r;
	struct bus bus;
};

static struct fx *make(uint64_t below4g, uint64_t above4g)
{
	struct fx *f = calloc(1, sizeof(*f));

	assert_non_null(f);
	rtc_init(&f->r, below4g, above4g);
	bus_init(&f->bus);
	assert_int_equal(bus_register(&f->bus, IDX, 2, &rtc_bus_ops, &f->r, &f->r.lock), 0);
	return f;
}

static void destroy(struct fx *f)
{
	pthread_mutex_destroy(&f->r.lock);
	free(f);
}

static void outb(struct fx *f, uint16_t port, uint8_t v)
{
	assert_int_equal(bus_access(&f->bus, port, &v, 1, true), 0);
}

static uint8_t inb(struct fx *f, uint16_t port)
{
	uint8_t v = 0xee;

	assert_int_equal(bus_access(&f->bus, port, &v, 1, false), 0);
	return v;
}

static uint8_t cmos(struct fx *f, uint8_t reg)
{
	outb(f, IDX, reg);
	return inb(f, DAT);
}

static int from_bcd(uint8_t v)
{
	assert_true((v & 0x0f) <= 9);
	assert_true((v >> 4) <= 9);
	return (v >> 4) * 10 + (v & 0x0f);
}

struct rtc_time {
	int sec, min, hour, wday, mday, mon, year, century;
};

static void read_time(struct fx *f, struct rtc_time *t)
{
	t->sec = from_bcd(cmos(f, 0x00));
	t->min = from_bcd(cmos(f, 0x02));
	t->hour = from_bcd(cmos(f, 0x04));
	t->wday = from_bcd(cmos(f, 0x06));
	t->mday = from_bcd(cmos(f, 0x07));
	t->mon = from_bcd(cmos(f, 0x08));
	t->year = from_bcd(cmos(f, 0x09));
	t->century = from_bcd(cmos(f, 0x32));
}

static void test_time(void **state)
{
	struct fx *f = make(128 * MiB, 0);
	struct rtc_time a, b;
	struct tm tm;
	time_t before, after, rtc;
	int tries = 0;

	(void)state;
	/* like a guest driver: read until two passes agree (a second may tick
	 * between the register reads) */
	do {
		assert_true(++tries < 100);
		before = time(NULL);
		read_time(f, &a);
		read_time(f, &b);
		after = time(NULL);
	} while (memcmp(&a, &b, sizeof(a)) != 0);

	assert_true(a.sec < 60 && a.min < 60 && a.hour < 24);
	assert_true(a.mday >= 1 && a.mday <= 31);
	assert_true(a.mon >= 1 && a.mon <= 12);
	assert_true(a.wday >= 1 && a.wday <= 7);
	memset(&tm, 0, sizeof(tm));
	tm.tm_sec = a.sec;
	tm.tm_min = a.min;
	tm.tm_hour = a.hour; /* 24-hour mode: no PM bit */
	tm.tm_mday = a.mday;
	tm.tm_mon = a.mon - 1;
	tm.tm_year = a.century * 100 + a.year - 1900;
	rtc = timegm(&tm);
	/* UTC, not local time, and within the sampling window */
	if (rtc < before - 1 || rtc > after + 1)
		fail_msg("RTC time %lld outside host UTC [%lld, %lld]", (long long)rtc,
			 (long long)before, (long long)after);
	assert_int_equal(a.wday, tm.tm_wday + 1); /* timegm filled tm_wday */

	/* the clock is not settable: writes to time registers are ignored */
	outb(f, IDX, 0x09);
	outb(f, DAT, 0x99);
	outb(f, IDX, 0x32);
	outb(f, DAT, 0x19);
	assert_int_equal(from_bcd(cmos(f, 0x09)), a.year);
	assert_int_equal(from_bcd(cmos(f, 0x32)), a.century);
	destroy(f);
}

static void test_status_registers(void **state)
{
	struct fx *f = make(128 * MiB, 0);

	(void)state;
	assert_int_equal(cmos(f, 0x0a), 0x26); /* 32.768 kHz, 1024 Hz, no UIP */
	assert_int_equal(cmos(f, 0x0b), 0x02); /* 24h, BCD, no interrupts */
	assert_int_equal(cmos(f, 0x0c), 0x00); /* no interrupt flags */
	assert_int_equal(cmos(f, 0x0d), 0x80); /* valid RAM and time */

	/* UIP (bit 7 of A) is read-only */
	outb(f, IDX, 0x0a);
	outb(f, DAT, 0xa6);
	assert_int_equal(cmos(f, 0x0a), 0x26);
	/* B: a guest asking for binary or 12-hour mode keeps BCD/24h (the
	 * time registers are generated that way), other bits are stored */
	outb(f, IDX, 0x0b);
	outb(f, DAT, 0x04);
	assert_int_equal(cmos(f, 0x0b), 0x02);
	outb(f, IDX, 0x0b);
	outb(f, DAT, 0x00);
	assert_int_equal(cmos(f, 0x0b), 0x02);
	outb(f, IDX, 0x0b);
	outb(f, DAT, 0x12);
	assert_int_equal(cmos(f, 0x0b), 0x12);
	/* C and D are read-only */
	outb(f, IDX, 0x0c);
	outb(f, DAT, 0xff);
	outb(f, IDX, 0x0d);
	outb(f, DAT, 0x00);
	assert_int_equal(cmos(f, 0x0c), 0x00);
	assert_int_equal(cmos(f, 0x0d), 0x80);
	destroy(f);
}

static void test_cmos_ram_and_ports(void **state)
{
	struct fx *f = make(128 * MiB, 0);

	(void)state;
	/* general-purpose CMOS bytes keep what is written */
	outb(f, IDX, 0x40);
	outb(f, DAT, 0xa5);
	outb(f, IDX, 0x7f);
	outb(f, DAT, 0x5a);
	assert_int_equal(cmos(f, 0x40), 0xa5);
	assert_int_equal(cmos(f, 0x7f), 0x5a);
	/* bit 7 of the index is the NMI mask, not part of the address */
	assert_int_equal(cmos(f, 0x80 | 0x40), 0xa5);
	assert_int_equal(cmos(f, 0x80 | 0x0d), 0x80);
	/* no alarms: the alarm registers read as 0 whatever is written */
	outb(f, IDX, 0x01);
	outb(f, DAT, 0x30);
	assert_int_equal(cmos(f, 0x01), 0x00);
	/* the index port reads as 0xff */
	assert_int_equal(inb(f, IDX), 0xff);
	destroy(f);
}

static void check_mem(uint64_t below, uint64_t above, uint16_t want_16m, uint32_t want_4g)
{
	struct fx *f = make(below, above);

	assert_int_equal(cmos(f, 0x34) | (cmos(f, 0x35) << 8), want_16m);
	assert_int_equal(cmos(f, 0x5b) | (cmos(f, 0x5c) << 8) | ((uint32_t)cmos(f, 0x5d) << 16),
			 want_4g);
	destroy(f);
}

static void test_memory_size(void **state)
{
	(void)state;
	/* 0x34/0x35: RAM between 16 MiB and 4 GiB, 0x5b-0x5d: RAM above 4 GiB,
	 * both in 64 KiB units */
	check_mem(128 * MiB, 0, (128 - 16) * 16, 0);
	check_mem(256 * MiB, 0, 0x0f00, 0);
	check_mem(16 * MiB, 0, 0, 0);
	check_mem(8 * MiB, 0, 0, 0);
	check_mem(3 * GiB, 0, 0xbf00, 0);
	check_mem(3 * GiB, 2 * GiB, 0xbf00, 0x8000);
	check_mem(3 * GiB, 13 * GiB, 0xbf00, 0x34000); /* 16 GiB guest */
	check_mem(3 * GiB, 1024 * GiB - 3 * GiB, 0xbf00, (1024 - 3) * 16 * 1024);
	/* more than fits in 16 bits is capped */
	check_mem(8 * GiB, 0, 0xffff, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_time),
	    cmocka_unit_test(test_status_registers),
	    cmocka_unit_test(test_cmos_ram_and_ports),
	    cmocka_unit_test(test_memory_size),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
