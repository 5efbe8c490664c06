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

/* UTC civil date from a Unix time, without glibc's time-zone machinery
 * (gmtime_r initialises it and opens /etc/localtime on first use, which the
 * vCPU seccomp filter rightly forbids). Howard Hinnant's days->civil
 * algorithm. */
struct civil {
	int year, month, mday, hour, min, sec, wday;
};

static void civil_from_unix(int64_t t, struct civil *c)
{
	int64_t days = t >= 0 ? t / 86400 : (t - 86399) / 86400;
	int64_t secs = t - days * 86400;
	int64_t z = days + 719468;
	int64_t era = (z >= 0 ? z : z - 146096) / 146097;
	int64_t doe = z - era * 146097;
	int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	int64_t mp = (5 * doy + 2) / 153;

	c->mday = (int)(doy - (153 * mp + 2) / 5 + 1);
	c->month = (int)(mp < 10 ? mp + 3 : mp - 9);
	c->year = (int)(yoe + era * 400 + (c->month <= 2));
	c->hour = (int)(secs / 3600);
	c->min = (int)(secs / 60 % 60);
	c->sec = (int)(secs % 60);
	c->wday = (int)((days % 7 + 11) % 7); /* 1970-01-01 was a Thursday (4) */
}

static uint8_t rtc_reg(struct rtc *r, uint8_t idx)
{
	struct timespec ts;
	struct civil c;

	if (idx > RTC_YEAR && idx != RTC_CENTURY)
		return r->cmos[idx];
	clock_gettime(CLOCK_REALTIME, &ts);
	civil_from_unix(ts.tv_sec, &c);
	switch (idx) {
	case RTC_SECONDS:
		return bcd(c.sec);
	case RTC_MINUTES:
		return bcd(c.min);
	case RTC_HOURS:
		return bcd(c.hour);
	case RTC_WDAY:
		return bcd(c.wday + 1);
	case RTC_MDAY:
		return bcd(c.mday);
	case RTC_MONTH:
		return bcd(c.month);
	case RTC_YEAR:
		return bcd(c.year % 100);
	case RTC_CENTURY:
		return bcd(c.year / 100);
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

void rtc_save(struct rtc *r, struct rtc_state *st)
{
	pthread_mutex_lock(&r->lock);
	st->index = r->index;
	memcpy(st->cmos, r->cmos, sizeof(st->cmos));
	pthread_mutex_unlock(&r->lock);
}

void rtc_restore(struct rtc *r, const struct rtc_state *st)
{
	pthread_mutex_lock(&r->lock);
	r->index = st->index & 0x7f;
	memcpy(r->cmos, st->cmos, sizeof(r->cmos));
	pthread_mutex_unlock(&r->lock);
}
