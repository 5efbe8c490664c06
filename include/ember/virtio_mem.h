/* virtio-mem (virtio 1.2 section 5.15, device id 24): Firecracker's
 * hotpluggable memory (PUT/PATCH/GET /hotplug/memory). The device manages a
 * region of guest physical memory above RAM (guest_mem's hotplug area,
 * never in the e820 map), divided into blocks (block_size, what the guest
 * plugs and unplugs) and slots (slot_size, the KVM memory slots). The host
 * sets requested_size; the guest's driver plugs and unplugs blocks to reach
 * it. Every request is hostile input: misaligned, out-of-range, overflowing,
 * already-(un)plugged ranges are answered ERROR, plugs beyond requested_size
 * NACK; nothing changes for a refused request.
 *
 * A slot is mapped (KVM memory slot + host pages read-write) while any of its
 * blocks is plugged and unmapped (no KVM slot, PROT_NONE) otherwise, so the
 * guest cannot reach never-plugged or fully unplugged slots
 * (VIRTIO_MEM_F_UNPLUGGED_INACCESSIBLE is offered and required). Unplugged
 * blocks are released on the host at once (a hole punched in the memfd). */
#ifndef EMBER_VIRTIO_MEM_H
#define EMBER_VIRTIO_MEM_H

#include <stdbool.h>
#include <stdint.h>

#include "ember/virtio.h"

#define VIRTIO_MEM_QUEUE_SIZE 128
#define VIRTIO_MEM_DEFAULT_BLOCK_MIB 2
#define VIRTIO_MEM_DEFAULT_SLOT_MIB 128

/* PUT /hotplug/memory, the config file's "memory-hotplug". */
struct memhp_cfg {
	bool present;
	uint64_t total_size_mib;
	uint64_t block_size_mib; /* power of two >= 2 */
	uint64_t slot_size_mib;	 /* >= 128, multiple of block_size_mib */
	/* `ember run --mem-hotplug ...,requested=`: requested_size from the
	 * start (the API sets it with PATCH only; never in the config JSON) */
	uint64_t requested_size_mib;
};

/* The VMM's side: add (map) or remove the KVM memory slot of device slot
 * `slot` (gm->hotplug.hva + slot * slot_size). Called with the device lock
 * held, on the VMM thread; 0 or -errno. */
struct virtio_mem_host {
	int (*map_slot)(void *opaque, unsigned slot, bool map);
	void *opaque;
};

struct virtio_mem_counters {
	uint64_t activate_fails;
	uint64_t event_fails; /* malformed chains */
	uint64_t queue_event_count;
	uint64_t plug_count, plug_fails; /* fails: NACK or ERROR */
	uint64_t unplug_count, unplug_fails;
	uint64_t unplug_all_count;
	uint64_t state_count, state_fails;
	uint64_t unplug_all_fails; /* (none: UNPLUG_ALL always succeeds) */
	uint64_t plug_bytes, unplug_bytes;
	uint64_t discard_fails; /* unplugged blocks' host pages not released */
	uint64_t map_fails;	/* a slot could not be (un)mapped */
};

/* GET /hotplug/memory (bytes). */
struct virtio_mem_status {
	uint64_t total_size, block_size, slot_size, plugged_size, requested_size;
};

struct virtio_mem {
	struct virtio_dev vdev; /* first: the transport's view */
	struct guest_mem *gm;	/* its hotplug area is the device's region */
	struct virtio_mem_host host;
	uint64_t addr, region_size, block_size, slot_size;
	uint64_t plugged_size, requested_size;
	uint64_t nblocks, blocks_per_slot;
	uint64_t *plugged;     /* one bit per block */
	uint32_t *slot_blocks; /* plugged blocks per slot */
	struct virtio_mem_counters stats;
	struct virtio_mem_counters published; /* what the metrics have */
	struct vq_chain chain;
};

/* Checks of the configuration (err_set names the field): -EINVAL. */
int virtio_mem_check_cfg(const struct memhp_cfg *cfg);
/* gm_hotplug_init() must have set up gm's hotplug area with cfg's total and
 * slot size; the device covers it. */
int virtio_mem_create(const struct memhp_cfg *cfg, struct guest_mem *gm,
		      const struct virtio_mem_host *host, struct event_loop *el,
		      struct virtio_mem **out);
void virtio_mem_destroy(struct virtio_mem *m);
/* PATCH /hotplug/memory: a multiple of block_size <= total (else -EINVAL
 * with err_set); the driver hears of it through a config interrupt. */
int virtio_mem_set_requested(struct virtio_mem *m, uint64_t bytes);
void virtio_mem_get_status(struct virtio_mem *m, struct virtio_mem_status *out);
void virtio_mem_get_counters(struct virtio_mem *m, struct virtio_mem_counters *out);

#endif
