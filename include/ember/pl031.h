/* ARM PrimeCell PL031 real-time clock (aarch64 machine): the data register
 * counts the host's seconds plus an offset the guest may load; the match
 * interrupt is never raised (no alarms). */
#ifndef EMBER_PL031_H
#define EMBER_PL031_H

#include <pthread.h>
#include <stdint.h>

#include "ember/bus.h"

struct pl031 {
	pthread_mutex_t lock;
	int64_t offset; /* guest time - host time, seconds (LR writes) */
	uint32_t match, imsc, cr;
	uint64_t (*now)(void); /* host seconds; NULL: CLOCK_REALTIME (tests set it) */
};

extern const struct bus_ops pl031_bus_ops;
void pl031_init(struct pl031 *p);

#endif
