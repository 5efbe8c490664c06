/* A minimal polled virtio-mmio (version 2) driver for the test guest:
 * discovery through the DSDT, the status/feature handshake, and one split
 * virtqueue run one request at a time (direct or indirect descriptors). */
#ifndef TG_VIRTIO_H
#define TG_VIRTIO_H

#include <stdbool.h>
#include <stdint.h>

#include <linux/virtio_ring.h>

#define TG_VIRTIO_MAX 16
#define TG_VQ_SIZE 16

struct tg_vslot {
	uint64_t base, size;
	uint32_t irq;
};

/* virtio-mmio devices the DSDT describes (LNRO0005 with Memory32Fixed and
 * an Interrupt resource), at most max; returns the count. */
int tg_virtio_slots(struct tg_vslot *out, int max);

struct tg_vq {
	unsigned index, size;
	struct vring_desc *desc;
	struct vring_avail *avail;
	struct vring_used *used;
	uint16_t last_used;
};

struct tg_vdev {
	struct tg_vslot slot;
	uint32_t device_id, vendor_id, version;
	uint64_t dev_features, features; /* offered, negotiated */
};

struct tg_vbuf {
	void *addr;
	uint32_t len;
	bool device_writes;
};

uint32_t tg_vio_read(const struct tg_vdev *d, uint32_t off);
void tg_vio_write(const struct tg_vdev *d, uint32_t off, uint32_t v);
/* Reads magic/version/ids; false if the slot is not a virtio-mmio v2 device. */
bool tg_virtio_identify(struct tg_vdev *d, const struct tg_vslot *s);
/* Reset, ACKNOWLEDGE, DRIVER, negotiate (offered & want) | VERSION_1,
 * FEATURES_OK. False (with *why set) if the device refuses. */
bool tg_virtio_negotiate(struct tg_vdev *d, uint64_t want, const char **why);
/* Sets up queue idx in mem (4 KiB, 4 KiB-aligned) with up to TG_VQ_SIZE
 * entries. */
bool tg_vq_init(struct tg_vdev *d, struct tg_vq *q, unsigned idx, void *mem, const char **why);
void tg_virtio_driver_ok(struct tg_vdev *d);
uint32_t tg_virtio_status(const struct tg_vdev *d);
void tg_virtio_reset(struct tg_vdev *d);
/* Posts bufs as one chain (through an indirect table if indirect is set),
 * notifies, and polls the used ring (bounded). Returns false on timeout or
 * a used entry for another chain; *written = the device's used length. */
bool tg_vq_run(struct tg_vdev *d, struct tg_vq *q, const struct tg_vbuf *bufs, int n,
	       bool indirect, uint32_t *written);

#endif
