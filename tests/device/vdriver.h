/* Guest-less virtio driver for device tests and benchmarks.
 *
 * Fake guest RAM (gm_init without a gap), a real struct bus with the device's
 * virtio_mmio_bus_ops registered at LAYOUT_VIRTIO_ADDR(0) under the device
 * lock (as the VMM does), and an event loop that plays the VMM thread. The
 * driver lays out split rings in guest RAM, does the MMIO handshake, posts
 * chains, kicks by writing QueueNotify (which reaches the bus callback, as
 * without ioeventfd), then runs the event loop until the used ring moves.
 *
 * Two levels: raw (vdrv_set_desc/vdrv_post: any descriptor, any index — for
 * malformed-queue tests) and a descriptor allocator (vdrv_add_chain). No
 * cmocka here: functions return 0 / -errno so the benchmark can use it. */
#ifndef TESTS_DEVICE_VDRIVER_H
#define TESTS_DEVICE_VDRIVER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ember/bus.h"
#include "ember/event_loop.h"
#include "ember/layout.h"
#include "ember/memory.h"
#include "ember/virtio.h"

#define VDRV_MMIO_BASE LAYOUT_VIRTIO_ADDR(0)
#define VDRV_WAIT_MS 5000 /* generous: only reached when something is broken */

struct vd_buf {
	uint64_t gpa;
	uint32_t len;
	bool write; /* device-writable */
};

struct vd_queue {
	uint16_t size;
	uint64_t desc, avail, used; /* ring gpas */
	uint16_t avail_idx;	    /* driver's copy of avail->idx */
	uint16_t last_used;	    /* used entries consumed */
	/* descriptor allocator (shadow state; the table itself may be trashed
	 * by raw tests) */
	uint16_t free_head, num_free;
	uint16_t next[VQ_MAX_SIZE];
	uint16_t chain_len[VQ_MAX_SIZE]; /* descriptors owned by a head (0: none) */
	uint64_t indirect;		 /* VQ_MAX_SIZE-entry table per head */
};

struct vdriver {
	struct guest_mem gm;
	struct event_loop el;
	struct bus bus;
	struct virtio_dev *vd;
	uint64_t heap, heap_end; /* bump allocator in guest RAM */
	uint64_t features;	 /* negotiated */
	bool manual_used_event;	 /* tests drive used_event themselves */
	unsigned nqueues;
	struct vd_queue q[VIRTIO_MAX_QUEUES];
};

int vdrv_init(struct vdriver *d, uint64_t mem_size);
void vdrv_destroy(struct vdriver *d);
/* Register vd's MMIO ops on the bus at VDRV_MMIO_BASE. */
int vdrv_attach(struct vdriver *d, struct virtio_dev *vd);

/* ---- MMIO ---- */
uint32_t vdrv_read32(struct vdriver *d, uint32_t off);
void vdrv_write32(struct vdriver *d, uint32_t off, uint32_t val);
void vdrv_config_read(struct vdriver *d, uint32_t off, void *buf, uint32_t len);
uint32_t vdrv_status(struct vdriver *d);
bool vdrv_needs_reset(struct vdriver *d);

/* ---- guest RAM ---- */
/* Bump-allocate len bytes (zeroed) aligned to align; 0 when exhausted. */
uint64_t vdrv_alloc(struct vdriver *d, uint64_t len, uint64_t align);
uint64_t vdrv_mark(const struct vdriver *d);
void vdrv_release(struct vdriver *d, uint64_t mark);
void *vdrv_ptr(struct vdriver *d, uint64_t gpa, uint64_t len);

/* ---- set-up ---- */
/* Reset, ACKNOWLEDGE, DRIVER, negotiate (offered & want), FEATURES_OK. 0, or
 * -EPROTO if the device refused FEATURES_OK. */
/* The 64 feature bits the device offers (both DEVICE_FEATURES words). */
uint64_t vdrv_device_features(struct vdriver *d);
int vdrv_negotiate(struct vdriver *d, uint64_t want);
/* Lay out queue q with `size` entries in RAM and write its registers (not
 * ready yet); vdrv_queue_ready() sets QueueReady. */
int vdrv_setup_queue(struct vdriver *d, unsigned q, uint16_t size);
void vdrv_queue_ready(struct vdriver *d, unsigned q);
/* Set DRIVER_OK; -EPROTO if the device then reports NEEDS_RESET. */
int vdrv_driver_ok(struct vdriver *d);
/* All of the above for nqueues queues of `size`. */
int vdrv_setup(struct vdriver *d, uint64_t want, unsigned nqueues, uint16_t size);

/* ---- raw ring access ---- */
void vdrv_set_desc(struct vdriver *d, unsigned q, uint16_t idx, uint64_t addr, uint32_t len,
		   uint16_t flags, uint16_t next);
/* Write a descriptor into a table at gpa (indirect tables). */
void vdrv_set_desc_at(struct vdriver *d, uint64_t table, uint16_t idx, uint64_t addr, uint32_t len,
		      uint16_t flags, uint16_t next);
/* Put head in the avail ring and publish avail->idx. */
void vdrv_post(struct vdriver *d, unsigned q, uint16_t head);
/* Publish an arbitrary avail->idx (broken-driver tests). */
void vdrv_set_avail_idx(struct vdriver *d, unsigned q, uint16_t idx);
void vdrv_set_used_event(struct vdriver *d, unsigned q, uint16_t v);
void vdrv_set_avail_flags(struct vdriver *d, unsigned q, uint16_t flags);
uint16_t vdrv_avail_event(struct vdriver *d, unsigned q);
uint16_t vdrv_used_idx(struct vdriver *d, unsigned q);
uint16_t vdrv_used_flags(struct vdriver *d, unsigned q);
void vdrv_kick(struct vdriver *d, unsigned q);
/* Does the device want a kick for what was posted since avail idx
 * old_avail? (avail_event with EVENT_IDX, else VRING_USED_F_NO_NOTIFY) */
bool vdrv_kick_needed(struct vdriver *d, unsigned q, uint16_t old_avail);

/* ---- allocator level ---- */
/* Allocate descriptors for bufs (readable ones must come first unless the
 * test wants otherwise) and post the chain; indirect puts them in one
 * indirect table. Returns the head, or -ENOSPC. Does not kick. */
int vdrv_add_chain(struct vdriver *d, unsigned q, const struct vd_buf *bufs, int n, bool indirect);
/* Give a completed head's descriptors back to the allocator. */
void vdrv_free_chain(struct vdriver *d, unsigned q, uint16_t head);

/* ---- completion ---- */
/* Run the event loop (the VMM thread) until queue q has a new used entry or
 * timeout_ms passes: 0 with *id and *len set, or -ETIMEDOUT. */
int vdrv_wait_used(struct vdriver *d, unsigned q, int timeout_ms, uint32_t *id, uint32_t *len);
/* Dispatch whatever is pending without blocking (returns events handled). */
int vdrv_poll(struct vdriver *d);
/* Interrupts signalled since the last call (reads the irq eventfd). */
uint64_t vdrv_irqs(struct vdriver *d);
/* Read InterruptStatus and acknowledge it. */
uint32_t vdrv_ack_irq(struct vdriver *d);

/* ---- virtio-blk requests ---- */
/* Post a request: header and status live in a 32-byte scratch at hs_gpa
 * (status at hs_gpa + 16). Returns the head or -errno. Does not kick. */
int vdrv_blk_submit(struct vdriver *d, unsigned q, uint32_t type, uint64_t sector,
		    const struct vd_buf *data, int ndata, bool indirect, uint64_t hs_gpa);
/* Submit, kick, wait, free. *status is the status byte (0xff if the device
 * did not write it), *used_len the used length. */
int vdrv_blk_do(struct vdriver *d, uint32_t type, uint64_t sector, const struct vd_buf *data,
		int ndata, bool indirect, uint8_t *status, uint32_t *used_len);

/* ---- host files ---- */
/* Create a temp file in dir of size bytes filled with a pattern seeded by
 * seed; path receives its name (>= 64 bytes). */
int vdrv_make_file(const char *dir, uint64_t size, uint32_t seed, char *path);
/* Fill buf with the same pattern as the file at offset off. */
void vdrv_pattern(uint8_t *buf, uint64_t off, size_t len, uint32_t seed);
/* 0 if the file is exactly size bytes of the seeded pattern. */
int vdrv_file_matches(const char *path, uint64_t size, uint32_t seed);

#endif
