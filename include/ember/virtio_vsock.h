/* virtio-vsock: the guest-facing device (rx, tx and event queues, packet
 * parsing) over the Unix-socket backend of vsock_uds.h (Firecracker's hybrid
 * model: host clients CONNECT through uds_path, guest connections go to
 * "<uds_path>_<port>").
 *
 * Queues: 0 rx (device -> guest packets), 1 tx (guest -> device), 2 event.
 * Config space: guest_cid (le64). Only stream sockets (no SEQPACKET).
 *
 * Every guest packet is checked before the backend sees it:
 *  - header shorter than 44 bytes, hdr.len > VSOCK_MAX_PKT_BUF or larger
 *    than the readable bytes after the header, src_cid != guest_cid or
 *    dst_cid != VMADDR_CID_HOST: dropped;
 *  - type != STREAM or an unknown op: RST (the connection is reset);
 * each counted in tx_malformed. Rx buffers that cannot hold a header and
 * one payload byte are returned unused (rx_queue_event_fails).
 *
 * Wiring: see virtio.h (vs->vdev is the struct virtio_dev); create/destroy
 * on the VMM thread. */
#ifndef EMBER_VIRTIO_VSOCK_H
#define EMBER_VIRTIO_VSOCK_H

#include <stdbool.h>
#include <stdint.h>

#include "ember/virtio.h"
#include "ember/vsock_conn.h"
#include "ember/vsock_uds.h"

#define VIRTIO_VSOCK_QUEUE_SIZE 256
#define VIRTIO_VSOCK_RXQ 0
#define VIRTIO_VSOCK_TXQ 1
#define VIRTIO_VSOCK_EVQ 2
#define VIRTIO_VSOCK_NUM_QUEUES 3

/* PUT /vsock, the "vsock" section. */
struct vsock_cfg {
	bool present;
	uint32_t guest_cid;
	char *uds_path;
};

struct virtio_vsock {
	struct virtio_dev vdev; /* first: the transport's view */
	uint64_t guest_cid;
	struct vsock_uds uds; /* the host backend */
	struct vsock_counters stats;
	/* stats at the last publish_metrics */
	struct vsock_counters published;
	bool tx_stalled;    /* tx waits for the backend's RST queue to drain */
	bool event_pending; /* a transport-reset event waits for an event buffer */
	/* Scratch: rx chains held while a host read fills several at once. */
	struct vq_chain rx_chains[VSOCK_RX_BATCH], tx_chain;
	struct iovec rx_iov[VSOCK_RX_BATCH][VQ_MAX_SIZE];
};

/* Bind cfg->uds_path and create the device (queue eventfds, listener and
 * timers on el). cfg->uds_path must not exist. */
int virtio_vsock_create(const struct vsock_cfg *cfg, const struct guest_mem *gm,
			struct event_loop *el, struct virtio_vsock **out);
/* Close every connection and the listener, unlink uds_path. */
void virtio_vsock_destroy(struct virtio_vsock *vs);

/* After a snapshot restore: drop every connection (host sockets closed, the
 * guest is not told per connection) and post VIRTIO_VSOCK_EVENT_TRANSPORT_RESET
 * on the event queue (now, or as soon as the guest provides a buffer).
 * VMM thread; takes the lock. */
void virtio_vsock_transport_reset(struct virtio_vsock *vs);
/* Snapshot of the counters, taken under the lock. */
void virtio_vsock_get_counters(struct virtio_vsock *vs, struct vsock_counters *out);

#endif
