/* Minimal MC146818 CMOS RTC: the host's UTC time in BCD, 24-hour mode. */
#include "ember/rtc.h"

#include <string.h>
#include <time.h>

#define RTC_SECONDS 0x00
#define RTC_MINUTES 0x02
#define RTC_HOURS 0x04
#define RTC_WDAY 0x06
#define RTC_MDAY 0x07
#define RTC_MONTH 0x08
#define RTC_YEAR 0x09
#define RTC_REG_A 0x0a
#define RTC_REG_B 0x0b
#define RTC_REG_C 0x0c
#define RTC_REG_D 0x0d
#define RTC_CENTURY 0x32

static uint8_t bcd(int v)
{
	return (uint8_t)(((v / 10) << 4) | (v % 10));
}

static uint8_t rtc_reg(struct rtc *r, uint8_t idx)
{
	struct tm tm;
	time_t now;

	if (idx > RTC_YEAR && idx != RTC_CENTURY)
		return r->cmos[idx];
	now = time(NULL);
	gmtime_r(&now, &tm);
	switch (idx) {
	case RTC_SECONDS:
		return bcd(tm.tm_sec);
	case RTC_MINUTES:
		return bcd(tm.tm_min);
	case RTC_HOURS:
		return bcd(tm.tm_hour);
	case RTC_WDAY:
		return bcd(tm.tm_wday + 1);
	case RTC_MDAY:
		return bcd(tm.tm_mday);
	case RTC_MONTH:
		return bcd(tm.tm_mon + 1);
	case RTC_YEAR:
		return bcd(tm.tm_year % 100);
	case RTC_CENTURY:
		return bcd((tm.tm_year + 1900) / 100);
	default:
		return r->cmos[idx]; /* alarm registers */
	}
}

static void rtc_read(void *opaque, uint64_t off, void *data, uint32_t len)
{
	struct rtc *r = opaque;

	memset(data, 0, len);
	*(uint8_t *)data = off == 1 ? rtc_reg(r, r->index) : 0xff;
}

static void rtc_write(void *opaque, uint64_t off, const void *data, uint32_t len)
{
	struct rtc *r = opaque;
	uint8_t v = *(const uint8_t *)data;

	(void)len;
	if (off == 0) {
		r->index = v & 0x7f; /* bit 7: NMI mask, ignored */
		return;
	}
	switch (r->index) {
	case RTC_REG_A:
		r->cmos[RTC_REG_A] = v & 0x7f; /* UIP is read-only */
		break;
	case RTC_REG_B:
		/* keep 24h + BCD: the time registers are generated from the host */
		r->cmos[RTC_REG_B] = (uint8_t)((v & ~0x06) | 0x02);
		break;
	case RTC_REG_C:
	case RTC_REG_D:
		break; /* read-only */
	default:
		if (r->index > RTC_YEAR && r->index != RTC_CENTURY)
			r->cmos[r->index] = v; /* CMOS RAM; the clock itself is not settable */
		break;
	}
}

const struct bus_ops rtc_bus_ops = {.read = rtc_read, .write = rtc_write};

void rtc_init(struct rtc *r, uint64_t mem_below_4g, uint64_t mem_above_4g)
{
	uint64_t above_16m = mem_below_4g > (16 << 20) ? (mem_below_4g - (16 << 20)) >> 16 : 0;
	uint64_t above_4g = mem_above_4g >> 16;

	memset(r, 0, sizeof(*r));
	pthread_mutex_init(&r->lock, NULL);
	r->cmos[RTC_REG_A] = 0x26;
	r->cmos[RTC_REG_B] = 0x02;
	r->cmos[RTC_REG_D] = 0x80; /* valid RAM and time */
	if (above_16m > 0xffff)
		above_16m = 0xffff;
	r->cmos[0x34] = (uint8_t)above_16m;
	r->cmos[0x35] = (uint8_t)(above_16m >> 8);
	r->cmos[0x5b] = (uint8_t)above_4g;
	r->cmos[0x5c] = (uint8_t)(above_4g >> 8);
	r->cmos[0x5d] = (uint8_t)(above_4g >> 16);
}
