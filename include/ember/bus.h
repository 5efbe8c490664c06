/* PIO and MMIO buses: address ranges mapped to device callbacks. Each range
 * has its own lock, taken around every access (vCPU threads call in). */
#ifndef EMBER_BUS_H
#define EMBER_BUS_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

struct bus_ops {
	/* offset is relative to the range base; len is 1, 2, 4 or 8. */
	void (*read)(void *opaque, uint64_t offset, void *data, uint32_t len);
	void (*write)(void *opaque, uint64_t offset, const void *data, uint32_t len);
};

struct bus_range {
	uint64_t base;
	uint64_t len;
	const struct bus_ops *ops;
	void *opaque;
	pthread_mutex_t *lock; /* device lock; may be shared by several ranges */
};

#define BUS_MAX_RANGES 32

struct bus {
	struct bus_range ranges[BUS_MAX_RANGES];
	int nranges;
};

void bus_init(struct bus *b);
/* -EEXIST on overlap, -ENOSPC when full. lock may be NULL (no locking). */
int bus_register(struct bus *b, uint64_t base, uint64_t len, const struct bus_ops *ops,
		 void *opaque, pthread_mutex_t *lock);
/* Dispatch an access; -ENOENT if nothing is mapped there (reads then return
 * all ones in data). */
int bus_access(struct bus *b, uint64_t addr, void *data, uint32_t len, bool is_write);

#endif
