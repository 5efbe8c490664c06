/* virtio-mem: hotpluggable memory driven by the guest (see virtio_mem.h). */
#include "ember/virtio_mem.h"

#include <endian.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <linux/virtio_mem.h>

#include "ember/error.h"
#include "ember/log.h"
#include "ember/metrics.h"
#include "ember/util.h"

#define MAX_TOTAL_MIB (1ULL << 22) /* 4 TiB */

static struct virtio_mem *to_mem(struct virtio_dev *vd)
{
	return container_of(vd, struct virtio_mem, vdev);
}

int virtio_mem_check_cfg(const struct memhp_cfg *c)
{
	uint64_t b = c->block_size_mib, s = c->slot_size_mib;

	if (b < 2 || (b & (b - 1)))
		return err_set(EINVAL, "block_size_mib: %llu is not a power of two of at least 2",
			       (unsigned long long)b);
	if (s < 128 || s % b)
		return err_set(EINVAL,
			       "slot_size_mib: %llu is not a multiple of block_size_mib (%llu) of "
			       "at least 128",
			       (unsigned long long)s, (unsigned long long)b);
	if (!c->total_size_mib || c->total_size_mib % s)
		return err_set(EINVAL,
			       "total_size_mib: %llu is not a positive multiple of slot_size_mib "
			       "(%llu)",
			       (unsigned long long)c->total_size_mib, (unsigned long long)s);
	if (c->total_size_mib > MAX_TOTAL_MIB)
		return err_set(EINVAL, "total_size_mib: %llu is more than ember supports (%llu)",
			       (unsigned long long)c->total_size_mib, MAX_TOTAL_MIB);
	if (c->requested_size_mib > c->total_size_mib || c->requested_size_mib % b)
		return err_set(
		    EINVAL,
		    "requested_size_mib: %llu is not a multiple of block_size_mib (%llu) "
		    "up to total_size_mib (%llu)",
		    (unsigned long long)c->requested_size_mib, (unsigned long long)b,
		    (unsigned long long)c->total_size_mib);
	return 0;
}

static bool block_plugged(const struct virtio_mem *m, uint64_t b)
{
	return m->plugged[b / 64] & (1ULL << (b % 64));
}

static void set_block(struct virtio_mem *m, uint64_t b, bool on)
{
	if (on)
		m->plugged[b / 64] |= 1ULL << (b % 64);
	else
		m->plugged[b / 64] &= ~(1ULL << (b % 64));
}

/* Map or unmap device slot s (KVM slot through the VMM, then host pages). */
static int map_slot(struct virtio_mem *m, unsigned s, bool map)
{
	int r;

	if (map) {
		if ((r = gm_hotplug_map_slot(m->gm, s, true)) < 0)
			return r;
		if (m->host.map_slot && (r = m->host.map_slot(m->host.opaque, s, true)) < 0) {
			gm_hotplug_map_slot(m->gm, s, false);
			return r;
		}
		return 0;
	}
	/* The guest loses the slot first, then ember does. */
	if (m->host.map_slot && (r = m->host.map_slot(m->host.opaque, s, false)) < 0)
		return r;
	return gm_hotplug_map_slot(m->gm, s, false);
}

/* Blocks [first, first+n) change state; the slots follow. */
static int plug_blocks(struct virtio_mem *m, uint64_t first, uint64_t n)
{
	uint64_t s0 = first / m->blocks_per_slot, s1 = (first + n - 1) / m->blocks_per_slot;

	for (uint64_t s = s0; s <= s1; s++) {
		if (m->slot_blocks[s] || gm_hotplug_slot_mapped(m->gm, (unsigned)s))
			continue;
		if (map_slot(m, (unsigned)s, true) < 0) {
			m->stats.map_fails++;
			/* undo the slots this request mapped */
			for (uint64_t u = s0; u < s; u++)
				if (!m->slot_blocks[u])
					map_slot(m, (unsigned)u, false);
			return -ENOMEM;
		}
	}
	for (uint64_t b = first; b < first + n; b++) {
		set_block(m, b, true);
		m->slot_blocks[b / m->blocks_per_slot]++;
	}
	m->plugged_size += n * m->block_size;
	m->stats.plug_bytes += n * m->block_size;
	return 0;
}

static void unplug_blocks(struct virtio_mem *m, uint64_t first, uint64_t n)
{
	uint64_t gpa = m->addr + first * m->block_size;

	for (uint64_t b = first; b < first + n; b++) {
		uint64_t s = b / m->blocks_per_slot;

		set_block(m, b, false);
		if (--m->slot_blocks[s] == 0 && map_slot(m, (unsigned)s, false) < 0)
			m->stats.map_fails++;
	}
	m->plugged_size -= n * m->block_size;
	m->stats.unplug_bytes += n * m->block_size;
	/* The blocks' pages go back to the host (RSS falls). */
	if (gm_hotplug_discard(m->gm, gpa, n * m->block_size) < 0) {
		m->stats.discard_fails++;
		log_warn("virtio-mem: releasing %llu MiB at %#llx failed",
			 (unsigned long long)(n * m->block_size / MiB), (unsigned long long)gpa);
	}
}

/* A request's range: block-aligned, n > 0, inside the region. */
static bool range_ok(const struct virtio_mem *m, uint64_t addr, uint16_t nb, uint64_t *first)
{
	uint64_t off;

	if (nb == 0 || addr < m->addr || (addr - m->addr) % m->block_size)
		return false;
	off = addr - m->addr;
	if (off >= m->region_size || (uint64_t)nb > (m->region_size - off) / m->block_size)
		return false;
	*first = off / m->block_size;
	return true;
}

static uint16_t count_plugged(const struct virtio_mem *m, uint64_t first, uint16_t n)
{
	uint16_t k = 0;

	for (uint64_t b = first; b < first + n; b++)
		k += block_plugged(m, b);
	return k;
}

static uint16_t handle(struct virtio_mem *m, const struct virtio_mem_req *req, uint16_t *state)
{
	uint16_t type = le16toh(req->type), nb = le16toh(req->u.plug.nb_blocks), k;
	uint64_t addr = le64toh(req->u.plug.addr), first;

	switch (type) {
	case VIRTIO_MEM_REQ_PLUG:
		if (!range_ok(m, addr, nb, &first) || count_plugged(m, first, nb)) {
			m->stats.plug_fails++;
			return VIRTIO_MEM_RESP_ERROR;
		}
		if (m->plugged_size + nb * m->block_size > m->requested_size) {
			m->stats.plug_fails++;
			return VIRTIO_MEM_RESP_NACK;
		}
		if (plug_blocks(m, first, nb) < 0) {
			m->stats.plug_fails++;
			return VIRTIO_MEM_RESP_BUSY;
		}
		m->stats.plug_count++;
		return VIRTIO_MEM_RESP_ACK;
	case VIRTIO_MEM_REQ_UNPLUG:
		if (!range_ok(m, addr, nb, &first) || count_plugged(m, first, nb) != nb) {
			m->stats.unplug_fails++;
			return VIRTIO_MEM_RESP_ERROR;
		}
		unplug_blocks(m, first, nb);
		m->stats.unplug_count++;
		return VIRTIO_MEM_RESP_ACK;
	case VIRTIO_MEM_REQ_UNPLUG_ALL:
		for (uint64_t b = 0; b < m->nblocks; b++) {
			uint64_t n = 0;

			while (b + n < m->nblocks && block_plugged(m, b + n) && n < UINT16_MAX)
				n++;
			if (n) {
				unplug_blocks(m, b, n);
				b += n - 1;
			}
		}
		m->stats.unplug_all_count++;
		return VIRTIO_MEM_RESP_ACK;
	case VIRTIO_MEM_REQ_STATE:
		if (!range_ok(m, addr, nb, &first)) {
			m->stats.state_fails++;
			return VIRTIO_MEM_RESP_ERROR;
		}
		k = count_plugged(m, first, nb);
		*state = k == nb  ? VIRTIO_MEM_STATE_PLUGGED
			 : k == 0 ? VIRTIO_MEM_STATE_UNPLUGGED
				  : VIRTIO_MEM_STATE_MIXED;
		m->stats.state_count++;
		return VIRTIO_MEM_RESP_ACK;
	default:
		m->stats.event_fails++;
		return VIRTIO_MEM_RESP_ERROR;
	}
}

static uint64_t mono_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000 + (uint64_t)ts.tv_nsec / 1000;
}

/* Each request's time into Firecracker's latency groups (one device). */
static void record_latency(uint16_t type, uint64_t us)
{
	struct metrics_memory_hotplug *g = &metrics.memory_hotplug;

	switch (type) {
	case VIRTIO_MEM_REQ_PLUG:
		metrics_latency_add(&g->plug_agg, us);
		break;
	case VIRTIO_MEM_REQ_UNPLUG:
		metrics_latency_add(&g->unplug_agg, us);
		break;
	case VIRTIO_MEM_REQ_UNPLUG_ALL:
		metrics_latency_add(&g->unplug_all_agg, us);
		break;
	case VIRTIO_MEM_REQ_STATE:
		metrics_latency_add(&g->state_agg, us);
		break;
	}
}

static enum virtio_chain_verdict mem_chain(void *opaque, struct virtqueue *vq,
					   const struct vq_chain *c)
{
	struct virtio_mem *m = opaque;
	struct virtio_mem_req req;
	struct virtio_mem_resp resp;
	uint16_t state = 0;
	uint64_t t0;

	if (c->read_len < sizeof(req) || c->write_len < sizeof(resp)) {
		m->stats.event_fails++;
		vq_push(vq, c->head, 0);
		return VIRTIO_CHAIN_USED;
	}
	vq_chain_read(c, 0, &req, sizeof(req));
	memset(&resp, 0, sizeof(resp));
	t0 = mono_us();
	resp.type = htole16(handle(m, &req, &state));
	record_latency(le16toh(req.type), mono_us() - t0);
	resp.u.state.state = htole16(state);
	vq_chain_write(c, 0, &resp, sizeof(resp));
	vq_push(vq, c->head, sizeof(resp));
	return VIRTIO_CHAIN_USED;
}

static void mem_malformed(void *opaque, bool ring_broken)
{
	if (!ring_broken)
		((struct virtio_mem *)opaque)->stats.event_fails++;
}

static void mem_queue_notify(struct virtio_dev *vd, unsigned q)
{
	struct virtio_mem *m = to_mem(vd);

	m->stats.queue_event_count++;
	if (q == 0 && vd->queues[0].active)
		virtio_dev_drain(vd, 0, &m->chain, mem_chain, mem_malformed, m);
}

static void mem_config_read(struct virtio_dev *vd, uint32_t off, void *data, uint32_t len)
{
	struct virtio_mem *m = to_mem(vd);
	struct virtio_mem_config cfg = {
	    .block_size = htole64(m->block_size),
	    .addr = htole64(m->addr),
	    .region_size = htole64(m->region_size),
	    .usable_region_size = htole64(m->region_size),
	    .plugged_size = htole64(m->plugged_size),
	    .requested_size = htole64(m->requested_size),
	};

	memcpy(data, (uint8_t *)&cfg + off, len); /* off + len checked by the transport */
}

/* Unplugged memory is unreachable here: a driver that cannot live with
 * that (Linux before 5.16) is refused. */
static bool mem_features_ok(struct virtio_dev *vd, uint64_t f)
{
	(void)vd;
	return f & VIRTIO_FEATURE(VIRTIO_MEM_F_UNPLUGGED_INACCESSIBLE);
}

static int mem_activate(struct virtio_dev *vd)
{
	struct virtio_mem *m = to_mem(vd);

	if (!vd->queues[0].active) {
		m->stats.activate_fails++;
		log_warn("virtio-mem: driver did not set up the request queue");
		return -EINVAL;
	}
	return 0;
}

/* A reset leaves the blocks' state alone (the driver asks with STATE or
 * unplugs everything when it comes back). */
static void mem_reset(struct virtio_dev *vd)
{
	(void)vd;
}

/* Firecracker's "memory_hotplug" group: the counters' deltas. */
static void mem_publish_metrics(struct virtio_dev *vd)
{
	struct virtio_mem *m = to_mem(vd);
	struct metrics_memory_hotplug *g = &metrics.memory_hotplug;
	struct virtio_mem_counters now, *old = &m->published;

	virtio_mem_get_counters(m, &now);
#define D(f) (now.f - old->f)
	METRIC_ADD(g->activate_fails, D(activate_fails));
	METRIC_ADD(g->queue_event_fails, D(event_fails));
	METRIC_ADD(g->queue_event_count, D(queue_event_count));
	METRIC_ADD(g->plug_count, D(plug_count));
	METRIC_ADD(g->plug_bytes, D(plug_bytes));
	METRIC_ADD(g->plug_fails, D(plug_fails));
	METRIC_ADD(g->unplug_count, D(unplug_count));
	METRIC_ADD(g->unplug_bytes, D(unplug_bytes));
	METRIC_ADD(g->unplug_fails, D(unplug_fails));
	METRIC_ADD(g->unplug_discard_fails, D(discard_fails));
	METRIC_ADD(g->unplug_all_count, D(unplug_all_count));
	METRIC_ADD(g->unplug_all_fails, D(unplug_all_fails));
	METRIC_ADD(g->state_count, D(state_count));
	METRIC_ADD(g->state_fails, D(state_fails));
	METRIC_ADD(g->map_fails, D(map_fails));
#undef D
	*old = now;
}

static void mem_destroy_op(struct virtio_dev *vd)
{
	virtio_mem_destroy(to_mem(vd));
}

static const struct virtio_dev_ops mem_ops = {
    .name = "virtio-mem",
    .device_id = VIRTIO_ID_MEM,
    .num_queues = 1,
    .queue_max = VIRTIO_MEM_QUEUE_SIZE,
    .features = VIRTIO_FEATURE(VIRTIO_MEM_F_UNPLUGGED_INACCESSIBLE),
    .config_size = sizeof(struct virtio_mem_config),
    .config_read = mem_config_read,
    .features_ok = mem_features_ok,
    .activate = mem_activate,
    .queue_notify = mem_queue_notify,
    .reset = mem_reset,
    .destroy = mem_destroy_op,
    .publish_metrics = mem_publish_metrics,
};

int virtio_mem_create(const struct memhp_cfg *cfg, struct guest_mem *gm,
		      const struct virtio_mem_host *host, struct event_loop *el,
		      struct virtio_mem **out)
{
	const struct gm_hotplug *h = &gm->hotplug;
	struct virtio_mem *m;
	int r;

	*out = NULL;
	if ((r = virtio_mem_check_cfg(cfg)) < 0)
		return r;
	if (!h->hva || h->size != cfg->total_size_mib * MiB ||
	    h->slot_size != cfg->slot_size_mib * MiB)
		return err_set(EINVAL, "virtio-mem: guest memory has no matching hotplug area");
	m = calloc(1, sizeof(*m));
	if (!m)
		return err_set(ENOMEM, "virtio-mem: out of memory");
	m->gm = gm;
	if (host)
		m->host = *host;
	m->addr = h->gpa;
	m->region_size = h->size;
	m->block_size = cfg->block_size_mib * MiB;
	m->slot_size = h->slot_size;
	m->nblocks = m->region_size / m->block_size;
	m->blocks_per_slot = m->slot_size / m->block_size;
	m->requested_size = cfg->requested_size_mib * MiB;
	m->plugged = calloc((m->nblocks + 63) / 64, sizeof(uint64_t));
	m->slot_blocks = calloc(h->nslots, sizeof(uint32_t));
	if (!m->plugged || !m->slot_blocks) {
		virtio_mem_destroy(m);
		return err_set(ENOMEM, "virtio-mem: out of memory");
	}
	if ((r = virtio_dev_init(&m->vdev, &mem_ops, gm, el, 0)) < 0) {
		virtio_mem_destroy(m);
		return r;
	}
	*out = m;
	return 0;
}

void virtio_mem_destroy(struct virtio_mem *m)
{
	if (!m)
		return;
	virtio_dev_destroy(&m->vdev);
	free(m->plugged);
	free(m->slot_blocks);
	free(m);
}

int virtio_mem_set_requested(struct virtio_mem *m, uint64_t bytes)
{
	int r = 0;

	pthread_mutex_lock(&m->vdev.lock);
	if (bytes > m->region_size || bytes % m->block_size) {
		r = err_set(EINVAL,
			    "requested_size_mib: %llu is not a multiple of block_size_mib (%llu) "
			    "up to total_size_mib (%llu)",
			    (unsigned long long)(bytes / MiB),
			    (unsigned long long)(m->block_size / MiB),
			    (unsigned long long)(m->region_size / MiB));
	} else if (bytes != m->requested_size) {
		m->requested_size = bytes;
		virtio_dev_config_changed(&m->vdev);
	}
	pthread_mutex_unlock(&m->vdev.lock);
	return r;
}

void virtio_mem_get_status(struct virtio_mem *m, struct virtio_mem_status *out)
{
	pthread_mutex_lock(&m->vdev.lock);
	*out = (struct virtio_mem_status){
	    .total_size = m->region_size,
	    .block_size = m->block_size,
	    .slot_size = m->slot_size,
	    .plugged_size = m->plugged_size,
	    .requested_size = m->requested_size,
	};
	pthread_mutex_unlock(&m->vdev.lock);
}

void virtio_mem_get_counters(struct virtio_mem *m, struct virtio_mem_counters *out)
{
	pthread_mutex_lock(&m->vdev.lock);
	*out = m->stats;
	pthread_mutex_unlock(&m->vdev.lock);
}
