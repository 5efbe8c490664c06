/* Generic virtio device + the virtio-mmio (version 2) transport.
 *
 * A device (blk, net, vsock, balloon, ...) embeds a `struct virtio_dev` and
 * fills a `struct virtio_dev_ops`. The transport owns everything generic:
 * the MMIO registers, the status handshake, feature negotiation, the queues'
 * configuration, one notify eventfd per queue and the interrupt eventfd. It
 * knows nothing about the device type.
 *
 * Writing a device:
 *
 *	struct my_dev { struct virtio_dev vdev; ...device state... };
 *	static const struct virtio_dev_ops my_ops = {
 *		.name = "mydev", .device_id = VIRTIO_ID_xxx, .num_queues = 2,
 *		.features = my_feature_bits,   // device-specific bits only
 *		.config_size = sizeof(struct virtio_xxx_config),
 *		.config_read = ..., .activate = ..., .queue_notify = ..., .reset = ...,
 *	};
 *	virtio_dev_init(&d->vdev, &my_ops, gm, el, 0);
 *
 *  - .queue_notify(vd, q) runs on the VMM thread whenever queue q was kicked
 *    (and the device is live: DRIVER_OK, no NEEDS_RESET). It pops chains with
 *    vq_pop(), returns them with vq_push() and calls virtio_dev_notify(vd, q).
 *  - A chain-level error (vq_pop() == -EBADMSG): vq_push(vq, c.head, 0) and
 *    carry on. A broken queue (-EIO): virtio_dev_set_needs_reset(vd).
 *  - Fds of its own (tap, sockets, timerfds) the device adds to the event loop
 *    itself; their handlers must take virtio_dev_lock(vd) and check
 *    virtio_dev_live(vd) before touching queues.
 *
 * Threads and locking: one mutex per device, `vd->lock`.
 *  - MMIO accesses arrive on vCPU threads through virtio_mmio_bus_ops. The
 *    bus ops do NOT lock: the integrator passes virtio_dev_lock(vd) to
 *    bus_register(), and bus_access() holds it around every access.
 *  - The transport's queue-eventfd handler (VMM thread) takes the lock and
 *    calls .queue_notify with it held.
 *  - Every op is called with the lock held. Device code running outside the
 *    ops (its own fd handlers, API requests) takes the lock itself.
 *
 * Wiring into a VM (slot n):
 *	bus_register(mmio_bus, LAYOUT_VIRTIO_ADDR(n), LAYOUT_VIRTIO_MMIO_SIZE,
 *		     &virtio_mmio_bus_ops, vd, virtio_dev_lock(vd));
 *	for q < virtio_dev_num_queues(vd):
 *		KVM_IOEVENTFD addr = LAYOUT_VIRTIO_ADDR(n) + VIRTIO_MMIO_QUEUE_NOTIFY,
 *		len 4, datamatch q, fd = virtio_mmio_queue_eventfd(vd, q)
 *	KVM_IRQFD fd = virtio_mmio_irq_eventfd(vd), gsi = LAYOUT_VIRTIO_IRQ(n)
 *	(edge-triggered: the transport writes the eventfd once per event).
 * Without ioeventfds (device harness), a QueueNotify write that reaches the
 * bus ops signals the same eventfd, so the VMM thread does the work either way.
 * The event loop watches the queue eventfds edge-triggered and never reads
 * them (one syscall less per wake-up): every write is one more wake-up, so a
 * device that stops early (a budget) re-arms itself by writing its queue
 * eventfd, and nothing else may read it.
 */
#ifndef EMBER_VIRTIO_H
#define EMBER_VIRTIO_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <linux/virtio_config.h>
#include <linux/virtio_ids.h>
#include <linux/virtio_mmio.h>
#include <linux/virtio_ring.h>

#include "ember/bus.h"
#include "ember/event_loop.h"
#include "ember/memory.h"
#include "ember/virtqueue.h"

#ifndef container_of
#define container_of(ptr, type, member) ((type *)((char *)(ptr)-offsetof(type, member)))
#endif

#define VIRTIO_MMIO_MAGIC 0x74726976u /* "virt" */
#define VIRTIO_MMIO_VERSION_2 2u
#define VIRTIO_VENDOR_ID 0x454d4252u /* "EMBR" */
#define VIRTIO_MAX_QUEUES 8
#define VIRTIO_FEATURE(bit) (1ULL << (bit))
/* Offered by the transport for every device, on top of ops->features. */
#define VIRTIO_TRANSPORT_FEATURES                                                                  \
	(VIRTIO_FEATURE(VIRTIO_F_VERSION_1) | VIRTIO_FEATURE(VIRTIO_RING_F_EVENT_IDX) |            \
	 VIRTIO_FEATURE(VIRTIO_RING_F_INDIRECT_DESC))

struct virtio_dev;

struct virtio_dev_ops {
	const char *name;     /* for log lines: "virtio-blk" */
	uint32_t device_id;   /* VIRTIO_ID_BLOCK, ... */
	unsigned num_queues;  /* <= VIRTIO_MAX_QUEUES */
	uint16_t queue_max;   /* QueueNumMax of every queue; 0 = VQ_MAX_SIZE */
	uint64_t features;    /* device-specific feature bits offered */
	uint32_t config_size; /* bytes of device config space at 0x100 */

	/* Config space access, off + len <= config_size (checked). Reads start
	 * zeroed; a NULL config_read reads zeros, NULL config_write ignores. */
	void (*config_read)(struct virtio_dev *vd, uint32_t off, void *data, uint32_t len);
	void (*config_write)(struct virtio_dev *vd, uint32_t off, const void *data, uint32_t len);
	/* Optional: veto a feature set the driver wants (subset of offered,
	 * VERSION_1 already checked); false makes FEATURES_OK fail. */
	bool (*features_ok)(struct virtio_dev *vd, uint64_t features);
	/* DRIVER_OK: vd->driver_features are final, every ready queue passed
	 * vq_activate(). Return <0 to refuse (the transport sets NEEDS_RESET). */
	int (*activate)(struct virtio_dev *vd);
	/* VMM thread: queue q (ready and active) was kicked. */
	void (*queue_notify)(struct virtio_dev *vd, unsigned q);
	/* The driver wrote 0 to Status (or the VMM resets the device): drop all
	 * in-flight work and queue references. Queues are reset by the transport. */
	void (*reset)(struct virtio_dev *vd);
	/* The VMM is done with the device: free it (the struct embedding vd),
	 * as its *_destroy() does. */
	void (*destroy)(struct virtio_dev *vd);
	/* Optional: add what the device's counters gained since the previous
	 * call to its groups of the metrics registry (metrics.h). VMM thread,
	 * before each metrics line is written. */
	void (*publish_metrics)(struct virtio_dev *vd);
	/* Room for snapshots (optional, may be NULL): device-specific state
	 * into/from an opaque blob; *len is in/out (capacity/used). */
	int (*save)(struct virtio_dev *vd, void *blob, size_t *len);
	int (*restore)(struct virtio_dev *vd, const void *blob, size_t len);
};

struct virtio_dev {
	pthread_mutex_t lock;
	const struct virtio_dev_ops *ops;
	const struct guest_mem *gm;
	struct event_loop *el;

	/* Transport registers. */
	uint32_t status;
	/* ops->features | VIRTIO_TRANSPORT_FEATURES; a device may add bits
	 * that depend on its configuration (blk: RO) right after init. */
	uint64_t device_features;
	uint64_t driver_features;
	bool driver_features_bad; /* bits written in a word >= 2 */
	uint32_t device_features_sel, driver_features_sel;
	uint32_t queue_sel;
	uint32_t shm_sel;
	uint32_t interrupt_status; /* VIRTIO_MMIO_INT_VRING | VIRTIO_MMIO_INT_CONFIG */
	uint32_t config_generation;

	struct virtqueue queues[VIRTIO_MAX_QUEUES];
	int queue_evfd[VIRTIO_MAX_QUEUES];
	int irq_evfd;

	/* Counters (read by metrics; updated under the lock). */
	uint64_t interrupts;
	uint64_t protocol_errors; /* times NEEDS_RESET was set */
};

/* Create the eventfds and add the queue eventfds to el (VMM thread; el may
 * be NULL if the caller polls the eventfds itself). The device's own state
 * must be ready for ops calls once the device is on a bus. flags: none yet
 * (pass 0). */
int virtio_dev_init(struct virtio_dev *vd, const struct virtio_dev_ops *ops,
		    const struct guest_mem *gm, struct event_loop *el, unsigned flags);
/* Remove from the event loop, close the eventfds. */
void virtio_dev_destroy(struct virtio_dev *vd);

static inline pthread_mutex_t *virtio_dev_lock(struct virtio_dev *vd)
{
	return &vd->lock;
}

static inline unsigned virtio_dev_num_queues(const struct virtio_dev *vd)
{
	return vd->ops->num_queues;
}

/* ---- called by devices (lock held) ---- */

/* DRIVER_OK set and NEEDS_RESET not: queues may be processed. */
bool virtio_dev_live(const struct virtio_dev *vd);
/* True if the feature bit was negotiated. */
bool virtio_dev_has_feature(const struct virtio_dev *vd, unsigned bit);
struct virtqueue *virtio_dev_queue(struct virtio_dev *vd, unsigned q);
/* Interrupt the driver for used buffers on queue q if vq_needs_interrupt()
 * says so (EVENT_IDX / NO_INTERRUPT aware). */
void virtio_dev_notify(struct virtio_dev *vd, unsigned q);
/* What a device's chain handler did with a well-formed chain. */
enum virtio_chain_verdict {
	VIRTIO_CHAIN_USED,	/* returned to the driver (vq_push) */
	VIRTIO_CHAIN_HELD,	/* kept by the device for later (balloon statistics) */
	VIRTIO_CHAIN_THROTTLED, /* not touched: put back, draining stops (rate limiter) */
};
/* The request-queue loop every device shares: pops each available chain of
 * queue q into *c (with driver notifications off, re-checked before
 * returning) and hands it to handle(). A malformed chain is returned empty
 * (len 0) after malformed(opaque, false); a broken ring (vq_pop's -EIO)
 * calls malformed(opaque, true) and sets NEEDS_RESET. The driver is
 * interrupted once if anything was used. Returns -EAGAIN when a chain was
 * throttled, else 0. malformed may be NULL. */
int virtio_dev_drain(struct virtio_dev *vd, unsigned q, struct vq_chain *c,
		     enum virtio_chain_verdict (*handle)(void *opaque, struct virtqueue *vq,
							 const struct vq_chain *c),
		     void (*malformed)(void *opaque, bool ring_broken), void *opaque);
/* The device config changed: ConfigGeneration++, config interrupt. */
void virtio_dev_config_changed(struct virtio_dev *vd);
/* Protocol violation or unrecoverable device error: DEVICE_NEEDS_RESET +
 * config interrupt; queues stop until the driver resets. */
void virtio_dev_set_needs_reset(struct virtio_dev *vd);
/* VMM-initiated reset (as if the driver wrote 0 to Status). */
void virtio_dev_reset(struct virtio_dev *vd);

/* ---- snapshots ---- */

/* Transport + queue state; the device's own state goes through ops->save /
 * ops->restore. Plain data: the snapshot code versions and checksums it. */
struct virtio_queue_state {
	uint16_t size;
	uint8_t ready;
	uint64_t desc_gpa, avail_gpa, used_gpa;
	uint16_t last_avail, used_idx;
};

struct virtio_dev_state {
	uint32_t device_id;
	uint32_t num_queues;
	uint32_t status;
	uint32_t interrupt_status;
	uint32_t config_generation;
	uint32_t device_features_sel, driver_features_sel, queue_sel;
	uint64_t driver_features;
	struct virtio_queue_state queues[VIRTIO_MAX_QUEUES];
};

/* Capture the state (lock held, device quiescent: vCPUs paused). */
void virtio_dev_save(struct virtio_dev *vd, struct virtio_dev_state *st);
/* Load it into a freshly created device of the same type, after the
 * device-specific ops->restore. Re-validates everything (the blob is
 * untrusted): a live device gets its queues re-activated at the saved
 * indices and ops->activate called; pending interrupts are re-signalled and
 * queues with buffers waiting are kicked. 0 or -EINVAL (err_set context);
 * on failure the device is left reset (status 0). */
int virtio_dev_restore(struct virtio_dev *vd, const struct virtio_dev_state *st);

/* ---- virtio-mmio transport ---- */

/* opaque = struct virtio_dev *; the caller holds virtio_dev_lock(). */
extern const struct bus_ops virtio_mmio_bus_ops;
/* Eventfd the VMM binds with KVM_IOEVENTFD (datamatch q) for queue q. */
int virtio_mmio_queue_eventfd(const struct virtio_dev *vd, unsigned q);
/* Eventfd the VMM binds with KVM_IRQFD to the slot's GSI. */
int virtio_mmio_irq_eventfd(const struct virtio_dev *vd);

#endif
