/* virtio-vsock: rx/tx/event queues and guest packet checks; the connections
 * live in the backend (vsock_uds.c) and its state machine (vsock_conn.c). */
#include "ember/virtio_vsock.h"

#include <endian.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ember/error.h"
#include "ember/log.h"
#include "ember/metrics.h"
#include "ember/util.h"

static struct virtio_vsock *to_vsock(struct virtio_dev *vd)
{
	return container_of(vd, struct virtio_vsock, vdev);
}

/* ---- event queue ---- */

static void deliver_event(struct virtio_vsock *vs)
{
	struct virtio_dev *vd = &vs->vdev;
	struct virtqueue *vq = &vd->queues[VIRTIO_VSOCK_EVQ];
	struct vq_chain *c = &vs->rx_chains[0];
	bool pushed = false;

	if (!virtio_dev_live(vd) || !vq->active)
		return;
	while (vs->event_pending) {
		struct virtio_vsock_event ev = {.id = htole32(VIRTIO_VSOCK_EVENT_TRANSPORT_RESET)};
		int r = vq_pop(vq, c);

		if (r == 0) {
			if (vq_enable_notification(vq))
				continue;
			break;
		}
		if (r == -EIO) {
			virtio_dev_set_needs_reset(vd);
			break;
		}
		if (r < 0 || c->write_len < sizeof(ev)) {
			vs->stats.ev_queue_event_fails++;
			vq_push(vq, c->head, 0);
			pushed = true;
			continue;
		}
		vq_chain_write(c, 0, &ev, sizeof(ev));
		vq_push(vq, c->head, sizeof(ev));
		pushed = true;
		vs->event_pending = false;
		vs->stats.ev_queue_events++;
	}
	if (pushed)
		virtio_dev_notify(vd, VIRTIO_VSOCK_EVQ);
}

/* ---- rx: backend -> guest ---- */

/* Pop one usable rx chain into slot: 1, 0 if the ring is empty, -EIO if
 * broken, -EBADMSG for an unusable chain (not returned yet: the caller
 * decides). */
static int rx_pop(struct virtio_vsock *vs, struct virtqueue *vq, int slot, struct vsock_pkt *pkt)
{
	struct vq_chain *c = &vs->rx_chains[slot];
	size_t room;
	int r = vq_pop(vq, c), n;

	if (r <= 0 && r != -EBADMSG)
		return r;
	if (r < 0 || c->write_len <= VSOCK_HDR_SIZE)
		return -EBADMSG;
	room = MIN((size_t)(c->write_len - VSOCK_HDR_SIZE), (size_t)VSOCK_MAX_PKT_BUF);
	n = vq_chain_iov(c, true, VSOCK_HDR_SIZE, room, vs->rx_iov[slot], VQ_MAX_SIZE);
	if (n < 0)
		return -EBADMSG;
	*pkt = (struct vsock_pkt){.iov = vs->rx_iov[slot], .iovcnt = n, .room = room};
	return 1;
}

/* Fill rx buffers while the backend has packets. Up to VSOCK_RX_BATCH
 * chains are held so that one host read can fill several; the ones left
 * over go back to the ring. */
static void process_rx(struct virtio_vsock *vs)
{
	struct virtio_dev *vd = &vs->vdev;
	struct virtqueue *vq = &vd->queues[VIRTIO_VSOCK_RXQ];
	struct vsock_pkt held[VSOCK_RX_BATCH], pkts[VSOCK_RX_BATCH];
	int slot[VSOCK_RX_BATCH], k = 0;
	bool pushed = false;

	if (!virtio_dev_live(vd) || !vq->active)
		return;
	for (int i = 0; i < VSOCK_RX_BATCH; i++)
		slot[i] = i;
	while (vsock_uds_has_rx(&vs->uds)) {
		int m, r = 1, rot[VSOCK_RX_BATCH];

		while (k < VSOCK_RX_BATCH && (r = rx_pop(vs, vq, slot[k], &held[slot[k]])) == 1)
			k++;
		if (r == -EIO) {
			virtio_dev_set_needs_reset(vd);
			return; /* held chains die with the queue */
		}
		if (r == -EBADMSG) {
			if (k) {
				vq_unpop(vq); /* first in the next round, on its own */
			} else {
				vs->stats.rx_queue_event_fails++;
				vq_push(vq, vs->rx_chains[slot[0]].head, 0);
				pushed = true;
				continue;
			}
		}
		if (k == 0) {
			/* Out of buffers: ask for a kick when the guest adds one. */
			if (vq_enable_notification(vq))
				continue;
			break;
		}
		for (int i = 0; i < k; i++)
			pkts[i] = held[slot[i]];
		m = vsock_uds_recv_pkts(&vs->uds, pkts, k);
		for (int i = 0; i < m; i++) {
			struct vq_chain *c = &vs->rx_chains[slot[i]];
			uint32_t len = le32toh(pkts[i].hdr.len);

			vq_chain_write(c, 0, &pkts[i].hdr, VSOCK_HDR_SIZE);
			vq_push(vq, c->head, VSOCK_HDR_SIZE + len);
			vs->stats.rx_packets_count++;
			vs->stats.rx_bytes_count += len;
			pushed = true;
		}
		if (m == 0)
			break;
		/* The chains not used stay held, in ring order. */
		for (int i = 0; i < VSOCK_RX_BATCH; i++)
			rot[i] = slot[(i + m) % VSOCK_RX_BATCH];
		memcpy(slot, rot, sizeof(slot));
		k -= m;
	}
	while (k--)
		vq_unpop(vq);
	if (pushed)
		virtio_dev_notify(vd, VIRTIO_VSOCK_RXQ);
}

/* ---- tx: guest -> backend ---- */

static void handle_tx(struct virtio_vsock *vs, const struct vq_chain *c)
{
	struct vsock_pkt pkt = {0};
	struct iovec iov[VQ_MAX_SIZE];
	uint32_t len;
	uint16_t op;

	if (c->read_len < VSOCK_HDR_SIZE) {
		vs->stats.tx_malformed++;
		return;
	}
	vq_chain_read(c, 0, &pkt.hdr, VSOCK_HDR_SIZE);
	/* Addresses first: nothing else is trusted from a packet that claims
	 * another sender or is not for the host. */
	if (le64toh(pkt.hdr.src_cid) != vs->guest_cid ||
	    le64toh(pkt.hdr.dst_cid) != VMADDR_CID_HOST) {
		vs->stats.tx_malformed++;
		return;
	}
	vs->stats.tx_packets_count++;
	len = le32toh(pkt.hdr.len);
	op = le16toh(pkt.hdr.op);
	if (len > VSOCK_MAX_PKT_BUF || len > c->read_len - VSOCK_HDR_SIZE ||
	    le16toh(pkt.hdr.type) != VIRTIO_VSOCK_TYPE_STREAM || op < VIRTIO_VSOCK_OP_REQUEST ||
	    op > VIRTIO_VSOCK_OP_CREDIT_REQUEST) {
		vs->stats.tx_malformed++;
		vsock_uds_reject(&vs->uds, &pkt);
		return;
	}
	if (op != VIRTIO_VSOCK_OP_RW) {
		pkt.hdr.len = 0; /* payload only means something in RW */
	} else if (len) {
		int n = vq_chain_iov(c, false, VSOCK_HDR_SIZE, len, iov, VQ_MAX_SIZE);

		if (n < 0) {
			vs->stats.tx_malformed++;
			vsock_uds_reject(&vs->uds, &pkt);
			return;
		}
		pkt.iov = iov;
		pkt.iovcnt = n;
		vs->stats.tx_bytes_count += len;
	}
	vsock_uds_send_pkt(&vs->uds, &pkt);
}

/* Returns true if a chain was taken. */
static bool process_tx(struct virtio_vsock *vs)
{
	struct virtio_dev *vd = &vs->vdev;
	struct virtqueue *vq = &vd->queues[VIRTIO_VSOCK_TXQ];
	struct vq_chain *c = &vs->tx_chain;
	bool pushed = false;
	int r;

	vs->tx_stalled = false;
	if (!virtio_dev_live(vd) || !vq->active)
		return false;
	do {
		vq_disable_notification(vq);
		for (;;) {
			if (vsock_uds_tx_blocked(&vs->uds)) {
				/* Resumed by pump() once rx drained the RSTs. */
				vs->tx_stalled = true;
				goto out;
			}
			r = vq_pop(vq, c);
			if (r == 0)
				break;
			if (r == -EIO) {
				virtio_dev_set_needs_reset(vd);
				goto out;
			}
			if (r < 0)
				vs->stats.tx_queue_event_fails++;
			else
				handle_tx(vs, c);
			vq_push(vq, c->head, 0);
			pushed = true;
		}
	} while (vq_enable_notification(vq));
out:
	if (pushed)
		virtio_dev_notify(vd, VIRTIO_VSOCK_TXQ);
	return pushed;
}

/* Move packets both ways until nothing moves. */
static void pump(struct virtio_vsock *vs, bool tx)
{
	for (;;) {
		bool moved = false;

		if (tx || vs->tx_stalled)
			moved = process_tx(vs);
		tx = false;
		process_rx(vs);
		if (!moved || !vs->tx_stalled || vsock_uds_tx_blocked(&vs->uds))
			break;
	}
}

/* Backend handlers (lock held): packets for the guest may be waiting. */
static void rx_kick(void *opaque)
{
	struct virtio_vsock *vs = opaque;

	if (virtio_dev_live(&vs->vdev))
		pump(vs, false);
}

/* ---- ops ---- */

static void vsock_queue_notify(struct virtio_dev *vd, unsigned q)
{
	struct virtio_vsock *vs = to_vsock(vd);

	switch (q) {
	case VIRTIO_VSOCK_RXQ:
		vs->stats.rx_queue_event_count++;
		pump(vs, false);
		break;
	case VIRTIO_VSOCK_TXQ:
		vs->stats.tx_queue_event_count++;
		pump(vs, true);
		break;
	case VIRTIO_VSOCK_EVQ:
		deliver_event(vs);
		break;
	}
}

static void vsock_config_read(struct virtio_dev *vd, uint32_t off, void *data, uint32_t len)
{
	struct virtio_vsock_config cfg = {.guest_cid = htole64(to_vsock(vd)->guest_cid)};

	memcpy(data, (uint8_t *)&cfg + off, len);
}

static int vsock_activate(struct virtio_dev *vd)
{
	struct virtio_vsock *vs = to_vsock(vd);

	if (!vd->queues[VIRTIO_VSOCK_RXQ].active || !vd->queues[VIRTIO_VSOCK_TXQ].active) {
		vs->stats.activate_fails++;
		log_warn("virtio-vsock: driver did not set up the rx and tx queues");
		return -EINVAL;
	}
	return 0;
}

/* vCPU thread (lock held): the backend drops the connections on the VMM
 * thread before it touches them again. */
static void vsock_reset(struct virtio_dev *vd)
{
	struct virtio_vsock *vs = to_vsock(vd);

	vsock_uds_request_reset(&vs->uds);
	vs->tx_stalled = false;
	vs->event_pending = false;
}

/* Firecracker's "vsock" group: the counters' deltas. */
static void vsock_publish_metrics(struct virtio_dev *vd)
{
	struct virtio_vsock *vs = to_vsock(vd);
	struct vsock_counters now, *old = &vs->published;

	virtio_vsock_get_counters(vs, &now);
#define V(f) METRIC_ADD(metrics.vsock.f, now.f - old->f);
	METRICS_VSOCK(V)
#undef V
	*old = now;
}

static void vsock_destroy_op(struct virtio_dev *vd)
{
	virtio_vsock_destroy(to_vsock(vd));
}

static const struct virtio_dev_ops vsock_ops = {
    .name = "virtio-vsock",
    .device_id = VIRTIO_ID_VSOCK,
    .num_queues = VIRTIO_VSOCK_NUM_QUEUES,
    .queue_max = VIRTIO_VSOCK_QUEUE_SIZE,
    .features = 0, /* stream only: no VIRTIO_VSOCK_F_SEQPACKET */
    .config_size = sizeof(struct virtio_vsock_config),
    .config_read = vsock_config_read,
    .activate = vsock_activate,
    .queue_notify = vsock_queue_notify,
    .reset = vsock_reset,
    .destroy = vsock_destroy_op,
    .publish_metrics = vsock_publish_metrics,
};

int virtio_vsock_create(const struct vsock_cfg *cfg, const struct guest_mem *gm,
			struct event_loop *el, struct virtio_vsock **out)
{
	struct vsock_uds_params p;
	struct virtio_vsock *vs;
	int r;

	*out = NULL;
	if (!cfg->uds_path || cfg->guest_cid < 3 || cfg->guest_cid == UINT32_MAX)
		return err_set(EINVAL, "guest_cid must be 3..%u and uds_path set", UINT32_MAX - 1);
	vs = calloc(1, sizeof(*vs));
	if (!vs)
		return err_set(ENOMEM, "out of memory");
	vs->guest_cid = cfg->guest_cid;
	r = virtio_dev_init(&vs->vdev, &vsock_ops, gm, el, 0);
	if (r < 0) {
		free(vs);
		return r;
	}
	p = (struct vsock_uds_params){
	    .uds_path = cfg->uds_path,
	    .guest_cid = cfg->guest_cid,
	    .el = el,
	    .lock = virtio_dev_lock(&vs->vdev),
	    .stats = &vs->stats,
	    .rx_kick = rx_kick,
	    .opaque = vs,
	};
	r = vsock_uds_init(&vs->uds, &p);
	if (r < 0) {
		virtio_dev_destroy(&vs->vdev);
		free(vs);
		return r;
	}
	*out = vs;
	return 0;
}

void virtio_vsock_destroy(struct virtio_vsock *vs)
{
	if (!vs)
		return;
	vsock_uds_fini(&vs->uds);
	virtio_dev_destroy(&vs->vdev);
	free(vs);
}

void virtio_vsock_transport_reset(struct virtio_vsock *vs)
{
	pthread_mutex_lock(&vs->vdev.lock);
	vsock_uds_request_reset(&vs->uds);
	vs->event_pending = true;
	deliver_event(vs);
	pthread_mutex_unlock(&vs->vdev.lock);
}

void virtio_vsock_get_counters(struct virtio_vsock *vs, struct vsock_counters *out)
{
	pthread_mutex_lock(&vs->vdev.lock);
	*out = vs->stats;
	pthread_mutex_unlock(&vs->vdev.lock);
}
