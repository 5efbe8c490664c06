/* virtio-mmio version 2 transport: registers, status handshake, feature
 * negotiation, queue configuration, notify and interrupt eventfds. The
 * device-specific part is reached only through struct virtio_dev_ops. */
#include "ember/virtio.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "ember/error.h"
#include "ember/log.h"

static void signal_irq(struct virtio_dev *vd, uint32_t why)
{
	uint64_t one = 1;

	vd->interrupt_status |= why;
	vd->interrupts++;
	if (write(vd->irq_evfd, &one, sizeof(one)) < 0 && errno != EAGAIN)
		log_warn("%s: interrupt eventfd: %s", vd->ops->name, strerror(errno));
}

bool virtio_dev_live(const struct virtio_dev *vd)
{
	return (vd->status & VIRTIO_CONFIG_S_DRIVER_OK) &&
	       !(vd->status & VIRTIO_CONFIG_S_NEEDS_RESET);
}

bool virtio_dev_has_feature(const struct virtio_dev *vd, unsigned bit)
{
	return bit < 64 && (vd->driver_features & (1ULL << bit));
}

struct virtqueue *virtio_dev_queue(struct virtio_dev *vd, unsigned q)
{
	return q < vd->ops->num_queues ? &vd->queues[q] : NULL;
}

void virtio_dev_notify(struct virtio_dev *vd, unsigned q)
{
	if (q < vd->ops->num_queues && vq_needs_interrupt(&vd->queues[q]))
		signal_irq(vd, VIRTIO_MMIO_INT_VRING);
}

int virtio_dev_drain(struct virtio_dev *vd, unsigned q, struct vq_chain *c,
		     enum virtio_chain_verdict (*handle)(void *opaque, struct virtqueue *vq,
							 const struct vq_chain *c),
		     void (*malformed)(void *opaque, bool ring_broken), void *opaque)
{
	struct virtqueue *vq = &vd->queues[q];
	bool pushed = false;
	int r, ret = 0;

	do {
		vq_disable_notification(vq);
		while ((r = vq_pop(vq, c)) != 0) {
			if (r < 0 && malformed)
				malformed(opaque, r == -EIO);
			if (r == -EIO) {
				/* Ring-level violation: nothing more can be trusted. */
				virtio_dev_set_needs_reset(vd);
				goto out;
			}
			if (r < 0) {
				vq_push(vq, c->head, 0);
				pushed = true;
				continue;
			}
			switch (handle(opaque, vq, c)) {
			case VIRTIO_CHAIN_THROTTLED:
				/* Resumed by the device (its rate limiter's timer);
				 * the driver need not kick meanwhile. */
				vq_unpop(vq);
				ret = -EAGAIN;
				goto out;
			case VIRTIO_CHAIN_USED:
				pushed = true;
				break;
			case VIRTIO_CHAIN_HELD:
				break;
			}
		}
	} while (vq_enable_notification(vq));
out:
	if (pushed)
		virtio_dev_notify(vd, q);
	return ret;
}

void virtio_dev_config_changed(struct virtio_dev *vd)
{
	vd->config_generation++;
	if (vd->status & VIRTIO_CONFIG_S_DRIVER_OK)
		signal_irq(vd, VIRTIO_MMIO_INT_CONFIG);
}

void virtio_dev_set_needs_reset(struct virtio_dev *vd)
{
	if (vd->status & VIRTIO_CONFIG_S_NEEDS_RESET)
		return;
	vd->protocol_errors++;
	log_warn("%s: driver protocol error, device needs reset", vd->ops->name);
	vd->status |= VIRTIO_CONFIG_S_NEEDS_RESET;
	/* The config interrupt tells a live driver to look at Status. */
	if (vd->status & VIRTIO_CONFIG_S_DRIVER_OK)
		signal_irq(vd, VIRTIO_MMIO_INT_CONFIG);
}

void virtio_dev_reset(struct virtio_dev *vd)
{
	if (vd->ops->reset)
		vd->ops->reset(vd);
	for (unsigned q = 0; q < vd->ops->num_queues; q++)
		vq_reset(&vd->queues[q]);
	vd->status = 0;
	vd->driver_features = 0;
	vd->driver_features_bad = false;
	vd->device_features_sel = vd->driver_features_sel = 0;
	vd->queue_sel = 0;
	vd->shm_sel = 0;
	vd->interrupt_status = 0;
}

/* VMM thread: a queue was kicked (ioeventfd or the bus write below).
 *
 * The queue eventfds are edge-triggered in the event loop and never read:
 * every write (KVM's ioeventfd signal, the bus write, a device re-arming
 * itself) queues one more event, and a kick that lands while .queue_notify
 * runs brings us back once more, so none is lost; the read() per kick a
 * level-triggered eventfd needs is saved. The counter only grows by one per
 * kick: 2^64 - 2 kicks before a writer would see EAGAIN. */
static void queue_event(void *opaque, int fd, uint32_t events)
{
	struct virtio_dev *vd = opaque;
	unsigned q;

	pthread_mutex_lock(&vd->lock);
	for (q = 0; q < vd->ops->num_queues; q++)
		if (vd->queue_evfd[q] == fd)
			break;
	/* Kicks that race with a reset, or arrive before DRIVER_OK through an
	 * ioeventfd, are dropped. */
	if (q < vd->ops->num_queues && virtio_dev_live(vd) && vd->queues[q].active &&
	    vd->ops->queue_notify)
		vd->ops->queue_notify(vd, q);
	pthread_mutex_unlock(&vd->lock);
}

int virtio_dev_init(struct virtio_dev *vd, const struct virtio_dev_ops *ops,
		    const struct guest_mem *gm, struct event_loop *el, unsigned flags)
{
	int r;

	memset(vd, 0, sizeof(*vd));
	vd->irq_evfd = -1;
	for (unsigned q = 0; q < VIRTIO_MAX_QUEUES; q++)
		vd->queue_evfd[q] = -1;
	if (ops->num_queues == 0 || ops->num_queues > VIRTIO_MAX_QUEUES)
		return err_set(EINVAL, "%s: %u queues (max %u)", ops->name, ops->num_queues,
			       VIRTIO_MAX_QUEUES);
	vd->ops = ops;
	vd->gm = gm;
	vd->el = el;
	vd->device_features = ops->features | VIRTIO_TRANSPORT_FEATURES;
	pthread_mutex_init(&vd->lock, NULL);
	for (unsigned q = 0; q < ops->num_queues; q++)
		vq_init(&vd->queues[q], ops->queue_max);
	vd->irq_evfd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (vd->irq_evfd < 0) {
		r = err_set(errno, "%s: interrupt eventfd: %s", ops->name, strerror(errno));
		goto fail;
	}
	for (unsigned q = 0; q < ops->num_queues; q++) {
		vd->queue_evfd[q] = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
		if (vd->queue_evfd[q] < 0) {
			r = err_set(errno, "%s: queue eventfd: %s", ops->name, strerror(errno));
			goto fail;
		}
		if (el) {
			r = el_add(el, vd->queue_evfd[q], EPOLLIN | EPOLLET, queue_event, vd);
			if (r < 0) {
				err_set(-r, "%s: adding queue eventfd to the event loop",
					ops->name);
				goto fail;
			}
		}
	}
	return 0;
fail:
	virtio_dev_destroy(vd);
	return r;
}

void virtio_dev_destroy(struct virtio_dev *vd)
{
	if (!vd->ops)
		return;
	for (unsigned q = 0; q < VIRTIO_MAX_QUEUES; q++) {
		if (vd->queue_evfd[q] < 0)
			continue;
		if (vd->el)
			el_remove(vd->el, vd->queue_evfd[q]);
		close(vd->queue_evfd[q]);
		vd->queue_evfd[q] = -1;
	}
	if (vd->irq_evfd >= 0)
		close(vd->irq_evfd);
	vd->irq_evfd = -1;
	pthread_mutex_destroy(&vd->lock);
	vd->ops = NULL;
}

int virtio_mmio_queue_eventfd(const struct virtio_dev *vd, unsigned q)
{
	return q < vd->ops->num_queues ? vd->queue_evfd[q] : -1;
}

int virtio_mmio_irq_eventfd(const struct virtio_dev *vd)
{
	return vd->irq_evfd;
}

/* ---- snapshots ---- */

void virtio_dev_save(struct virtio_dev *vd, struct virtio_dev_state *st)
{
	memset(st, 0, sizeof(*st));
	st->device_id = vd->ops->device_id;
	st->num_queues = vd->ops->num_queues;
	st->status = vd->status;
	st->interrupt_status = vd->interrupt_status;
	st->config_generation = vd->config_generation;
	st->device_features_sel = vd->device_features_sel;
	st->driver_features_sel = vd->driver_features_sel;
	st->queue_sel = vd->queue_sel;
	st->driver_features = vd->driver_features;
	for (unsigned q = 0; q < vd->ops->num_queues; q++) {
		const struct virtqueue *vq = &vd->queues[q];

		st->queues[q] = (struct virtio_queue_state){
		    .size = vq->size,
		    .ready = vq->ready,
		    .desc_gpa = vq->desc_gpa,
		    .avail_gpa = vq->avail_gpa,
		    .used_gpa = vq->used_gpa,
		    .last_avail = vq->last_avail,
		    .used_idx = vq->used_idx,
		};
	}
}

int virtio_dev_restore(struct virtio_dev *vd, const struct virtio_dev_state *st)
{
	const uint32_t known = VIRTIO_CONFIG_S_ACKNOWLEDGE | VIRTIO_CONFIG_S_DRIVER |
			       VIRTIO_CONFIG_S_FEATURES_OK | VIRTIO_CONFIG_S_DRIVER_OK |
			       VIRTIO_CONFIG_S_NEEDS_RESET | VIRTIO_CONFIG_S_FAILED;
	bool event_idx, indirect;
	int r;

	if (st->device_id != vd->ops->device_id || st->num_queues != vd->ops->num_queues)
		return err_set(EINVAL, "%s: snapshot is of another device type", vd->ops->name);
	if ((st->status & ~known) || (st->driver_features & ~vd->device_features) ||
	    (st->interrupt_status & ~(uint32_t)(VIRTIO_MMIO_INT_VRING | VIRTIO_MMIO_INT_CONFIG)))
		return err_set(EINVAL, "%s: snapshot state is inconsistent", vd->ops->name);
	for (unsigned q = 0; q < vd->ops->num_queues; q++) {
		vq_reset(&vd->queues[q]);
		if (!vq_size_valid(&vd->queues[q], st->queues[q].size))
			return err_set(EINVAL, "%s: snapshot queue %u size %u", vd->ops->name, q,
				       st->queues[q].size);
	}
	vd->status = st->status;
	vd->interrupt_status = st->interrupt_status;
	vd->config_generation = st->config_generation;
	vd->device_features_sel = st->device_features_sel;
	vd->driver_features_sel = st->driver_features_sel;
	vd->queue_sel = st->queue_sel;
	vd->driver_features = st->driver_features;
	vd->driver_features_bad = false;
	event_idx = virtio_dev_has_feature(vd, VIRTIO_RING_F_EVENT_IDX);
	indirect = virtio_dev_has_feature(vd, VIRTIO_RING_F_INDIRECT_DESC);
	for (unsigned q = 0; q < vd->ops->num_queues; q++) {
		struct virtqueue *vq = &vd->queues[q];
		const struct virtio_queue_state *qs = &st->queues[q];

		vq->size = qs->size;
		vq->ready = qs->ready != 0;
		vq->desc_gpa = qs->desc_gpa;
		vq->avail_gpa = qs->avail_gpa;
		vq->used_gpa = qs->used_gpa;
		if (!virtio_dev_live(vd) || !vq->ready)
			continue;
		r = vq_activate(vq, vd->gm, event_idx, indirect);
		if (r < 0) {
			virtio_dev_reset(vd);
			return err_wrap(-r, "%s: snapshot queue %u", vd->ops->name, q);
		}
		vq->last_avail = qs->last_avail;
		vq->used_idx = qs->used_idx;
		vq->signalled_used = qs->used_idx;
	}
	if (virtio_dev_live(vd) && vd->ops->activate && vd->ops->activate(vd) < 0) {
		virtio_dev_reset(vd);
		return err_set(EINVAL, "%s: device refused the restored state", vd->ops->name);
	}
	if (vd->interrupt_status) {
		uint64_t one = 1;

		if (write(vd->irq_evfd, &one, sizeof(one)) < 0)
			log_warn("%s: interrupt eventfd: %s", vd->ops->name, strerror(errno));
	}
	for (unsigned q = 0; virtio_dev_live(vd) && q < vd->ops->num_queues; q++) {
		uint64_t one = 1;

		if (vd->queues[q].active && vq_avail_count(&vd->queues[q]) &&
		    write(vd->queue_evfd[q], &one, sizeof(one)) < 0)
			log_warn("%s: queue eventfd: %s", vd->ops->name, strerror(errno));
	}
	return 0;
}

/* ---- registers ---- */

static struct virtqueue *sel_queue(struct virtio_dev *vd)
{
	return vd->queue_sel < vd->ops->num_queues ? &vd->queues[vd->queue_sel] : NULL;
}

static uint32_t reg_read(struct virtio_dev *vd, uint64_t off)
{
	struct virtqueue *vq = sel_queue(vd);

	switch (off) {
	case VIRTIO_MMIO_MAGIC_VALUE:
		return VIRTIO_MMIO_MAGIC;
	case VIRTIO_MMIO_VERSION:
		return VIRTIO_MMIO_VERSION_2;
	case VIRTIO_MMIO_DEVICE_ID:
		return vd->ops->device_id;
	case VIRTIO_MMIO_VENDOR_ID:
		return VIRTIO_VENDOR_ID;
	case VIRTIO_MMIO_DEVICE_FEATURES:
		if (vd->device_features_sel > 1)
			return 0;
		return (uint32_t)(vd->device_features >> (32 * vd->device_features_sel));
	case VIRTIO_MMIO_QUEUE_NUM_MAX:
		/* 0 tells the driver the queue does not exist (how Linux counts). */
		return vq ? vq->max_size : 0;
	case VIRTIO_MMIO_QUEUE_READY:
		return vq ? vq->ready : 0;
	case VIRTIO_MMIO_QUEUE_NUM:
		return vq ? vq->size : 0;
	case VIRTIO_MMIO_QUEUE_DESC_LOW:
		return vq ? (uint32_t)vq->desc_gpa : 0;
	case VIRTIO_MMIO_QUEUE_DESC_HIGH:
		return vq ? (uint32_t)(vq->desc_gpa >> 32) : 0;
	case VIRTIO_MMIO_QUEUE_AVAIL_LOW:
		return vq ? (uint32_t)vq->avail_gpa : 0;
	case VIRTIO_MMIO_QUEUE_AVAIL_HIGH:
		return vq ? (uint32_t)(vq->avail_gpa >> 32) : 0;
	case VIRTIO_MMIO_QUEUE_USED_LOW:
		return vq ? (uint32_t)vq->used_gpa : 0;
	case VIRTIO_MMIO_QUEUE_USED_HIGH:
		return vq ? (uint32_t)(vq->used_gpa >> 32) : 0;
	case VIRTIO_MMIO_INTERRUPT_STATUS:
		return vd->interrupt_status;
	case VIRTIO_MMIO_STATUS:
		return vd->status;
	case VIRTIO_MMIO_SHM_LEN_LOW:
	case VIRTIO_MMIO_SHM_LEN_HIGH:
		return 0xffffffffu; /* no shared memory regions */
	case VIRTIO_MMIO_CONFIG_GENERATION:
		return vd->config_generation;
	default:
		return 0; /* write-only and reserved registers */
	}
}

/* FEATURES_OK: accepted features must be offered and include VERSION_1. */
static bool features_acceptable(struct virtio_dev *vd)
{
	uint64_t f = vd->driver_features;

	if (vd->driver_features_bad || (f & ~vd->device_features))
		return false;
	if (!(f & VIRTIO_FEATURE(VIRTIO_F_VERSION_1)))
		return false;
	return !vd->ops->features_ok || vd->ops->features_ok(vd, f);
}

static int activate(struct virtio_dev *vd)
{
	bool event_idx = virtio_dev_has_feature(vd, VIRTIO_RING_F_EVENT_IDX);
	bool indirect = virtio_dev_has_feature(vd, VIRTIO_RING_F_INDIRECT_DESC);

	for (unsigned q = 0; q < vd->ops->num_queues; q++) {
		struct virtqueue *vq = &vd->queues[q];

		if (!vq->ready)
			continue;
		if (vq_activate(vq, vd->gm, event_idx, indirect) < 0) {
			log_warn("%s: queue %u: %s", vd->ops->name, q, err_msg());
			return -EINVAL;
		}
	}
	return vd->ops->activate ? vd->ops->activate(vd) : 0;
}

static void write_status(struct virtio_dev *vd, uint32_t val)
{
	uint32_t old = vd->status & ~VIRTIO_CONFIG_S_NEEDS_RESET;
	uint32_t added;

	if (val == 0) {
		virtio_dev_reset(vd);
		return;
	}
	if (vd->status & VIRTIO_CONFIG_S_NEEDS_RESET) {
		/* Only a reset helps now; FAILED is a harmless note. */
		vd->status |= val & VIRTIO_CONFIG_S_FAILED;
		return;
	}
	val &= ~VIRTIO_CONFIG_S_NEEDS_RESET; /* device-owned bit */
	if (old & ~val) {
		/* Bits can only be cleared by a reset. */
		virtio_dev_set_needs_reset(vd);
		return;
	}
	added = val & ~old;
	if (added & VIRTIO_CONFIG_S_FEATURES_OK) {
		if (!(val & VIRTIO_CONFIG_S_ACKNOWLEDGE) || !(val & VIRTIO_CONFIG_S_DRIVER)) {
			virtio_dev_set_needs_reset(vd);
			return;
		}
		if (!features_acceptable(vd))
			val &= ~VIRTIO_CONFIG_S_FEATURES_OK; /* driver reads it back */
	}
	if (added & VIRTIO_CONFIG_S_DRIVER_OK) {
		if (!(val & VIRTIO_CONFIG_S_FEATURES_OK)) {
			vd->status = val & ~VIRTIO_CONFIG_S_DRIVER_OK;
			virtio_dev_set_needs_reset(vd);
			return;
		}
		vd->status = val & ~VIRTIO_CONFIG_S_DRIVER_OK;
		if (activate(vd) < 0) {
			virtio_dev_set_needs_reset(vd);
			return;
		}
		/* A driver that filled the queues before DRIVER_OK gets them
		 * processed: the kick may have come first. */
		vd->status = val;
		for (unsigned q = 0; q < vd->ops->num_queues; q++) {
			uint64_t one = 1;

			if (vd->queues[q].active && vq_avail_count(&vd->queues[q]) &&
			    write(vd->queue_evfd[q], &one, sizeof(one)) < 0)
				log_warn("%s: queue eventfd: %s", vd->ops->name, strerror(errno));
		}
		return;
	}
	vd->status = val;
}

/* Queue configuration registers: only before DRIVER_OK, only for an existing
 * queue that is not ready yet (QueueReady itself excepted). */
static struct virtqueue *queue_for_setup(struct virtio_dev *vd)
{
	struct virtqueue *vq = sel_queue(vd);

	if (!vq || (vd->status & VIRTIO_CONFIG_S_DRIVER_OK) || vq->ready) {
		virtio_dev_set_needs_reset(vd);
		return NULL;
	}
	return vq;
}

static void set_half(uint64_t *v, bool high, uint32_t val)
{
	if (high)
		*v = (*v & 0xffffffffULL) | ((uint64_t)val << 32);
	else
		*v = (*v & ~0xffffffffULL) | val;
}

static void reg_write(struct virtio_dev *vd, uint64_t off, uint32_t val)
{
	struct virtqueue *vq;

	/* After a protocol error only Status (the reset) and the interrupt
	 * acknowledgement still do something. */
	if ((vd->status & VIRTIO_CONFIG_S_NEEDS_RESET) && off != VIRTIO_MMIO_STATUS &&
	    off != VIRTIO_MMIO_INTERRUPT_ACK)
		return;
	switch (off) {
	case VIRTIO_MMIO_DEVICE_FEATURES_SEL:
		vd->device_features_sel = val;
		break;
	case VIRTIO_MMIO_DRIVER_FEATURES_SEL:
		vd->driver_features_sel = val;
		break;
	case VIRTIO_MMIO_DRIVER_FEATURES:
		if (vd->status & VIRTIO_CONFIG_S_FEATURES_OK) {
			virtio_dev_set_needs_reset(vd);
			break;
		}
		if (vd->driver_features_sel > 1) {
			if (val)
				vd->driver_features_bad = true;
			break;
		}
		set_half(&vd->driver_features, vd->driver_features_sel == 1, val);
		break;
	case VIRTIO_MMIO_QUEUE_SEL:
		vd->queue_sel = val;
		break;
	case VIRTIO_MMIO_QUEUE_NUM:
		if ((vq = queue_for_setup(vd)) == NULL)
			break;
		if (!vq_size_valid(vq, val)) {
			virtio_dev_set_needs_reset(vd);
			break;
		}
		vq->size = (uint16_t)val;
		break;
	case VIRTIO_MMIO_QUEUE_READY:
		vq = sel_queue(vd);
		if (!vq || (vd->status & VIRTIO_CONFIG_S_DRIVER_OK) || val > 1) {
			virtio_dev_set_needs_reset(vd);
			break;
		}
		vq->ready = val;
		break;
	case VIRTIO_MMIO_QUEUE_DESC_LOW:
	case VIRTIO_MMIO_QUEUE_DESC_HIGH:
		if ((vq = queue_for_setup(vd)) != NULL)
			set_half(&vq->desc_gpa, off == VIRTIO_MMIO_QUEUE_DESC_HIGH, val);
		break;
	case VIRTIO_MMIO_QUEUE_AVAIL_LOW:
	case VIRTIO_MMIO_QUEUE_AVAIL_HIGH:
		if ((vq = queue_for_setup(vd)) != NULL)
			set_half(&vq->avail_gpa, off == VIRTIO_MMIO_QUEUE_AVAIL_HIGH, val);
		break;
	case VIRTIO_MMIO_QUEUE_USED_LOW:
	case VIRTIO_MMIO_QUEUE_USED_HIGH:
		if ((vq = queue_for_setup(vd)) != NULL)
			set_half(&vq->used_gpa, off == VIRTIO_MMIO_QUEUE_USED_HIGH, val);
		break;
	case VIRTIO_MMIO_QUEUE_NOTIFY: {
		uint64_t one = 1;

		if (val >= vd->ops->num_queues || !vd->queues[val].ready) {
			virtio_dev_set_needs_reset(vd); /* no such queue, or never set up */
			break;
		}
		/* Before DRIVER_OK (Linux's balloon primes its stats queue and
		 * kicks during probe) or while NEEDS_RESET: dropped, as on the
		 * ioeventfd path; DRIVER_OK processes whatever is pending. */
		if (!virtio_dev_live(vd) || !vd->queues[val].active)
			break;
		/* Same path as an ioeventfd: the VMM thread does the work. */
		if (write(vd->queue_evfd[val], &one, sizeof(one)) < 0 && errno != EAGAIN)
			log_warn("%s: queue eventfd: %s", vd->ops->name, strerror(errno));
		break;
	}
	case VIRTIO_MMIO_INTERRUPT_ACK:
		vd->interrupt_status &= ~val;
		break;
	case VIRTIO_MMIO_STATUS:
		write_status(vd, val);
		break;
	case VIRTIO_MMIO_SHM_SEL:
		vd->shm_sel = val;
		break;
	default:
		/* Read-only, legacy (GuestPageSize, QueuePFN, ...) and reserved
		 * registers: ignored. */
		break;
	}
}

static void mmio_read(void *opaque, uint64_t off, void *data, uint32_t len)
{
	struct virtio_dev *vd = opaque;

	memset(data, 0, len);
	if (off >= VIRTIO_MMIO_CONFIG) {
		uint64_t coff = off - VIRTIO_MMIO_CONFIG;

		if (coff + len <= vd->ops->config_size && vd->ops->config_read)
			vd->ops->config_read(vd, (uint32_t)coff, data, len);
		return;
	}
	/* Control registers: 32-bit aligned accesses only. */
	if (len != 4 || (off & 3))
		return;
	uint32_t v = reg_read(vd, off);
	memcpy(data, &v, 4);
}

static void mmio_write(void *opaque, uint64_t off, const void *data, uint32_t len)
{
	struct virtio_dev *vd = opaque;
	uint32_t v;

	if (off >= VIRTIO_MMIO_CONFIG) {
		uint64_t coff = off - VIRTIO_MMIO_CONFIG;

		if (coff + len <= vd->ops->config_size && vd->ops->config_write &&
		    !(vd->status & VIRTIO_CONFIG_S_NEEDS_RESET))
			vd->ops->config_write(vd, (uint32_t)coff, data, len);
		return;
	}
	if (len != 4 || (off & 3))
		return;
	memcpy(&v, data, 4);
	reg_write(vd, off, v);
}

const struct bus_ops virtio_mmio_bus_ops = {
    .read = mmio_read,
    .write = mmio_write,
};
