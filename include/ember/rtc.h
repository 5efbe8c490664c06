/* Minimal MC146818 CMOS RTC at ports 0x70/0x71: time from the host clock,
 * BCD, 24h, no alarms or periodic interrupts. */
#ifndef EMBER_RTC_H
#define EMBER_RTC_H

#include <pthread.h>
#include <stdint.h>

#include "ember/bus.h"

struct rtc {
	pthread_mutex_t lock;
	uint8_t index;
	uint8_t cmos[128];
};

extern const struct bus_ops rtc_bus_ops;
/* mem_above_16m / mem_above_4g: written to the CMOS memory-size bytes. */
void rtc_init(struct rtc *r, uint64_t mem_below_4g, uint64_t mem_above_4g);

/* Snapshots: the index register and CMOS bytes (the time is the host's). */
struct rtc_state {
	uint8_t index;
	uint8_t cmos[128];
};
void rtc_save(struct rtc *r, struct rtc_state *st);
void rtc_restore(struct rtc *r, const struct rtc_state *st);

#endif
