/* PL031 RTC: registers at 4-byte offsets, PrimeCell ID registers at 0xfe0. */
#include "ember/pl031.h"

#include <string.h>
#include <time.h>

#define RTC_DR 0x00   /* data (read: current time) */
#define RTC_MR 0x04   /* match */
#define RTC_LR 0x08   /* load (write: set the time) */
#define RTC_CR 0x0c   /* control: bit 0 starts the counter (always running) */
#define RTC_IMSC 0x10 /* interrupt mask */
#define RTC_RIS 0x14  /* raw interrupt status */
#define RTC_MIS 0x18  /* masked interrupt status */
#define RTC_ICR 0x1c  /* interrupt clear */
#define RTC_ID 0xfe0  /* PeriphID0-3, PCellID0-3 */

static const uint8_t pl031_id[8] = {0x31, 0x10, 0x04, 0x00, 0x0d, 0xf0, 0x05, 0xb1};

static uint64_t host_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec;
}

static uint32_t now32(struct pl031 *p)
{
	return (uint32_t)((int64_t)(p->now ? p->now() : host_now()) + p->offset);
}

static void pl031_read(void *opaque, uint64_t off, void *data, uint32_t len)
{
	struct pl031 *p = opaque;
	uint32_t v = 0;

	switch (off) {
	case RTC_DR:
		v = now32(p);
		break;
	case RTC_MR:
		v = p->match;
		break;
	case RTC_LR:
		v = now32(p);
		break;
	case RTC_CR:
		v = 1;
		break;
	case RTC_IMSC:
		v = p->imsc;
		break;
	default:
		if (off >= RTC_ID && off < RTC_ID + 0x20 && (off & 3) == 0)
			v = pl031_id[(off - RTC_ID) / 4];
		break; /* RIS, MIS: no alarm ever fires */
	}
	memset(data, 0, len);
	memcpy(data, &v, len < 4 ? len : 4);
}

static void pl031_write(void *opaque, uint64_t off, const void *data, uint32_t len)
{
	struct pl031 *p = opaque;
	uint32_t v = 0;

	memcpy(&v, data, len < 4 ? len : 4);
	switch (off) {
	case RTC_MR:
		p->match = v;
		break;
	case RTC_LR:
		p->offset = (int64_t)v - (int64_t)(p->now ? p->now() : host_now());
		break;
	case RTC_CR:
		p->cr = v & 1;
		break;
	case RTC_IMSC:
		p->imsc = v & 1;
		break;
	default:
		break; /* ICR and read-only registers */
	}
}

const struct bus_ops pl031_bus_ops = {.read = pl031_read, .write = pl031_write};

void pl031_init(struct pl031 *p)
{
	memset(p, 0, sizeof(*p));
	pthread_mutex_init(&p->lock, NULL);
	p->cr = 1;
}
