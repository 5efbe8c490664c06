/* Address-range dispatch for PIO and MMIO exits. */
#include "ember/bus.h"

#include <errno.h>
#include <string.h>

void bus_init(struct bus *b)
{
	memset(b, 0, sizeof(*b));
}

int bus_register(struct bus *b, uint64_t base, uint64_t len, const struct bus_ops *ops,
		 void *opaque, pthread_mutex_t *lock)
{
	if (len == 0 || base + len < base)
		return -EINVAL;
	for (int i = 0; i < b->nranges; i++) {
		const struct bus_range *r = &b->ranges[i];
		if (base < r->base + r->len && r->base < base + len)
			return -EEXIST;
	}
	if (b->nranges == BUS_MAX_RANGES)
		return -ENOSPC;
	b->ranges[b->nranges++] =
		(struct bus_range){.base = base, .len = len, .ops = ops, .opaque = opaque, .lock = lock};
	return 0;
}

int bus_access(struct bus *b, uint64_t addr, void *data, uint32_t len, bool is_write)
{
	for (int i = 0; i < b->nranges; i++) {
		const struct bus_range *r = &b->ranges[i];

		if (addr < r->base || addr - r->base >= r->len)
			continue;
		if (r->lock)
			pthread_mutex_lock(r->lock);
		if (is_write) {
			if (r->ops->write)
				r->ops->write(r->opaque, addr - r->base, data, len);
		} else {
			memset(data, 0, len);
			if (r->ops->read)
				r->ops->read(r->opaque, addr - r->base, data, len);
		}
		if (r->lock)
			pthread_mutex_unlock(r->lock);
		return 0;
	}
	if (!is_write)
		memset(data, 0xff, len);
	return -ENOENT;
}
