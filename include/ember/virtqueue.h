/* Split virtqueues (virtio 1.x): the device side of one queue.
 *
 * Everything in the rings is written by a hostile guest. vq_pop() walks one
 * descriptor chain, validates all of it, and hands the device a list of host
 * iovecs (device-readable ones first, then device-writable ones). Every value
 * is read from guest memory exactly once, so the guest changing a descriptor
 * under our feet cannot break a check after it was made.
 *
 * Checks made by vq_activate(): queue size a power of two, 1..max_size;
 * descriptor table 16-byte, avail ring 2-byte, used ring 4-byte aligned and
 * each (with the event-index words) entirely inside guest RAM.
 *
 * Checks made by vq_pop():
 *  - the guest never has more than `size` buffers outstanding (avail idx jump)
 *    and the head index it posts is < size             -> -EIO, queue broken
 *  - every `next` index < table size; at most `size` descriptors in a chain
 *    (which also rules out loops); indirect tables only when negotiated,
 *    inside RAM, len a non-zero multiple of 16, not nested, not combined with
 *    NEXT, at most `size` entries; total length <= UINT32_MAX without
 *    overflow; every buffer inside guest RAM; no device-readable descriptor
 *    after a device-writable one                          -> -EBADMSG
 * A broken queue stays broken until vq_reset(): the transport then sets
 * DEVICE_NEEDS_RESET. A bad chain is only that chain: the device returns its
 * head with vq_push(vq, c->head, 0) and carries on.
 *
 * Threading: vq_activate/vq_reset run under the device lock (vCPU thread, MMIO
 * write); the rest runs on the VMM thread, also under the device lock. */
#ifndef EMBER_VIRTQUEUE_H
#define EMBER_VIRTQUEUE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

#include <linux/virtio_ring.h>

#include "ember/memory.h"

/* Largest queue any device offers (QueueNumMax) and so the longest chain. */
#define VQ_MAX_SIZE 256

struct virtqueue {
	/* Set by the driver through the transport (before DRIVER_OK). */
	uint16_t max_size; /* QueueNumMax offered, a power of two <= VQ_MAX_SIZE */
	uint16_t size;	   /* QueueNum */
	bool ready;	   /* QueueReady */
	uint64_t desc_gpa, avail_gpa, used_gpa;

	/* Device state, valid after vq_activate(). */
	bool active;
	bool broken;	/* ring-level protocol violation; stays until reset */
	bool event_idx; /* VIRTIO_RING_F_EVENT_IDX negotiated */
	bool indirect;	/* VIRTIO_RING_F_INDIRECT_DESC negotiated */
	const struct guest_mem *gm;
	struct vring_desc *desc; /* host views of the rings, checked at activation */
	struct vring_avail *avail;
	struct vring_used *used;
	uint16_t last_avail;	 /* next avail ring slot the device reads */
	uint16_t used_idx;	 /* next used ring slot the device writes */
	uint16_t signalled_used; /* used_idx at the last interrupt check */
	bool signalled_valid;	 /* signalled_used is meaningful (EVENT_IDX) */
	bool used_pending;	 /* pushed since the last interrupt check */
};

/* One validated descriptor chain: iov[0..nread) are device-readable buffers,
 * iov[nread..nread+nwrite) device-writable ones; iov_base are host pointers
 * into guest RAM. Zero-length buffers are kept (as zero-length iovecs). */
struct vq_chain {
	uint16_t head; /* index to hand back with vq_push() */
	uint16_t nread, nwrite;
	uint32_t read_len, write_len; /* byte totals of each part */
	struct iovec iov[VQ_MAX_SIZE];
};

/* max_size: a power of two <= VQ_MAX_SIZE (0 means VQ_MAX_SIZE). */
void vq_init(struct virtqueue *vq, uint16_t max_size);
/* Back to the power-on state (driver config cleared, size = max_size). */
void vq_reset(struct virtqueue *vq);
/* True if n is a valid QueueNum for this queue (power of two, 1..max_size). */
bool vq_size_valid(const struct virtqueue *vq, uint32_t n);
/* Validate the driver's configuration and start using the rings; 0 or
 * -EINVAL (with err_set context). */
int vq_activate(struct virtqueue *vq, const struct guest_mem *gm, bool event_idx, bool indirect);

/* Number of chains the driver made available and the device has not popped
 * (0 on an inactive or broken queue). */
uint16_t vq_avail_count(struct virtqueue *vq);
/* Pop the next chain: 1 with *c filled, 0 if none is available, -EBADMSG if
 * the chain is invalid (c->head is set: return it with len 0), -EIO if the
 * queue is broken (see above). */
int vq_pop(struct virtqueue *vq, struct vq_chain *c);
/* Put the last popped chain back (e.g. the rate limiter said no). */
void vq_unpop(struct virtqueue *vq);
/* Return a chain to the driver with `len` bytes written into its writable
 * part. Publishes the used index with release ordering. */
void vq_push(struct virtqueue *vq, uint16_t head, uint32_t len);
/* Should the driver be interrupted for what was pushed since the last call?
 * Implements VRING_AVAIL_F_NO_INTERRUPT and used_event (EVENT_IDX). */
bool vq_needs_interrupt(struct virtqueue *vq);
/* Driver notification suppression. disable: ask the driver not to kick while
 * we drain the queue; enable: ask for a kick on the next buffer, returns true
 * if buffers arrived meanwhile (drain again). */
void vq_disable_notification(struct virtqueue *vq);
bool vq_enable_notification(struct virtqueue *vq);

/* Copy helpers over a chain. Offsets are within the readable (resp. writable)
 * part. Return the number of bytes copied (short at the end of the part). */
size_t vq_chain_read(const struct vq_chain *c, size_t off, void *dst, size_t len);
size_t vq_chain_write(const struct vq_chain *c, size_t off, const void *src, size_t len);
/* Fill out[] with the iovecs covering [off, off+len) of the readable
 * (writable=false) or writable part; returns the count, or -EINVAL if the
 * range is not inside the part or needs more than max entries. */
int vq_chain_iov(const struct vq_chain *c, bool writable, size_t off, size_t len, struct iovec *out,
		 int max);

#endif
