/* virtio-net on a TAP interface or a stream socket (passt).
 *
 * Queues: 0 = receive (host -> guest), 1 = transmit. Every frame carries a
 * 12-byte struct virtio_net_hdr_v1 (VERSION_1), which is also the TAP's
 * vnet header, so headers pass through between guest and kernel.
 *
 * Features: MAC, STATUS (link always up), MRG_RXBUF, MTU (when configured),
 * and the offloads the TAP accepted at open: CSUM + HOST_TSO4/6 + GUEST_CSUM
 * with TUN_F_CSUM, GUEST_TSO4/6 with TUN_F_TSO4/6, GUEST_UFO + HOST_UFO with
 * TUN_F_UFO. On activate the TAP's offloads are set from the negotiated
 * GUEST_* features (the kernel segments and checksums anything else).
 *
 * rx: the TAP fd is in the event loop with EPOLLIN only while the guest has
 * receive buffers; with none, reading stops and resumes on the rx queue
 * notification (frames wait in the kernel's TAP queue meanwhile). A frame is
 * dropped (rx_fails) only when it can never fit: without MRG_RXBUF, the next
 * buffer is too small (the buffer stays for the next frame); with MRG_RXBUF,
 * it needs more than every buffer of the queue together. MRG_RXBUF spreads a
 * frame over as many buffers as it needs (num_buffers in the header); when
 * the driver has too few, the ones it has are filled and held until it adds
 * more. Buffers that cannot hold a header (or bad chains) are returned with
 * length 0 and counted in rx_fails; the rx_fails counter also counts frames
 * the TAP handed over with offloads the guest did not negotiate.
 *
 * tx: every available chain is handled per kick (at most
 * VIRTIO_NET_TX_BUDGET before yielding to other fds); the frame is written with
 * one writev (validated header copy + the guest's buffers). A bad header
 * (unknown flags or gso type, an offload that was not negotiated, GSO without
 * NEEDS_CSUM or gso_size, csum_start/csum_offset/hdr_len beyond the frame), a
 * frame shorter than an Ethernet header or longer than 65550 bytes, or a bad
 * descriptor chain is dropped and counted in tx_malformed_frames.
 *
 * Rate limiters on rx and tx (1 op + frame bytes per frame): a throttled
 * direction stops and resumes on the limiter's timerfd. An update that makes
 * a limiter unlimited releases what waited at once; other updates apply from
 * the next frame (the armed timer still ends the current wait).
 *
 * MMDS (virtio_net_enable_mmds): before a guest frame goes to the TAP, its
 * first bytes are compared with the MMDS address (ARP target / IPv4
 * destination); a match is copied out and handed to the responder instead.
 * The responder's frames are taken in rx_process ahead of the TAP (not
 * charged to the rx rate limiter); a timerfd drives its retransmissions.
 *
 * Counters: Firecracker's net metrics (struct metrics_net) kept per device;
 * publish_metrics adds their deltas to metrics_net_get(id) before a flush.
 *
 * Stream backend (net_stream.h, virtio_net_create_stream): frames go to and
 * from a Unix stream socket with a length prefix (passt). No offloads are
 * offered (the peer takes no vnet header); rx frames get a zeroed header.
 * tx is flow-controlled: when the socket is full, the rest of the frame is
 * kept, the tx queue waits (chains stay available) and resumes on EPOLLOUT.
 * A peer that dies or breaks the framing takes the link down: STATUS loses
 * VIRTIO_NET_S_LINK_UP (config interrupt), receive stops, transmitted frames
 * are dropped and counted in tx_fails; the device itself carries on.
 *
 * Threads: everything runs on the VMM thread (event loop) under vdev.lock,
 * except the ops the transport calls on vCPU threads (also under the lock).
 * Wiring: see virtio.h (net->vdev is the struct virtio_dev). */
#ifndef EMBER_VIRTIO_NET_H
#define EMBER_VIRTIO_NET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <linux/virtio_net.h>

#include "ember/metrics.h"
#include "ember/mmds_net.h"
#include "ember/net_stream.h"
#include "ember/net_tap.h"
#include "ember/rate_limiter.h"
#include "ember/util.h"
#include "ember/virtio.h"

#define VIRTIO_NET_QUEUE_SIZE 256
#define VIRTIO_NET_RXQ 0
#define VIRTIO_NET_TXQ 1
#define VIRTIO_NET_HDR_LEN TAP_VNET_HDR_LEN
/* Largest frame + header the device moves in one piece (Firecracker's). */
#define VIRTIO_NET_MAX_BUFFER 65562
#define VIRTIO_NET_MAX_FRAME (VIRTIO_NET_MAX_BUFFER - VIRTIO_NET_HDR_LEN)
/* Frames taken from the TAP per event before yielding to other fds. */
#define VIRTIO_NET_RX_BUDGET 256
/* Chains sent per queue event before the event is re-armed (fairness). */
#define VIRTIO_NET_TX_BUDGET 256

#define NET_PASST_MAX_FWD 16

/* One network interface (PUT /network-interfaces/{id}). */
struct net_cfg {
	char id[CFG_ID_MAX + 1];
	char *host_dev_name;
	bool has_mac;
	uint8_t mac[6];
	struct rate_limiter_cfg rx_rate_limiter;
	struct rate_limiter_cfg tx_rate_limiter;
	uint32_t mtu; /* 0: VIRTIO_NET_F_MTU not offered */
	/* ember's extension, the stream backend instead of a TAP (the VMM
	 * makes the socket; host_dev_name is then NULL): connect to a passt
	 * the user started, or (ember run) start passt with these forwards. */
	char *passt_socket;
	bool passt;
	int npasst_fwd;
	struct {
		uint16_t host, guest;
	} passt_fwd[NET_PASST_MAX_FWD];
};

struct virtio_net {
	struct virtio_dev vdev; /* first: the transport's view */
	char id[CFG_ID_MAX + 1];
	struct tap tap;		  /* TAP backend (tap.fd -1 with a stream) */
	struct net_stream stream; /* stream backend (stream.fd -1 with a TAP) */
	bool is_stream;
	bool tap_dead;	  /* the backend (TAP or stream) failed; removed from the loop */
	bool tx_wait_out; /* stream: EPOLLOUT set, tx waits for the socket */
	uint8_t mac[6];
	uint16_t mtu; /* 0: VIRTIO_NET_F_MTU not offered */

	struct rate_limiter rx_rl, tx_rl;
	bool rx_throttled, tx_throttled; /* waiting for the limiter's timer */
	bool rx_polling;		 /* EPOLLIN set on the TAP fd */

	/* The frame read from the TAP and not yet delivered (header first). */
	bool rx_pending;
	bool rx_checked; /* header fixed up for the guest */
	bool rx_charged; /* the rx limiter took it */
	size_t rx_len;
	uint8_t *rx_buf; /* VIRTIO_NET_MAX_BUFFER + slack */
	/* MRG_RXBUF: buffers already filled with the pending frame's first
	 * rx_off bytes, held (popped, not used) until enough arrive. */
	uint16_t rx_nheld;
	bool rx_held_contig; /* popped back to back: vq_unpop can return them */
	size_t rx_off;
	struct iovec rx_nb_iov[2]; /* where num_buffers goes (first buffer) */
	int rx_nb_niov;
	uint16_t rx_heads[VQ_MAX_SIZE];
	uint32_t rx_lens[VQ_MAX_SIZE];

	struct metrics_net stats; /* under vdev.lock */
	/* stats at the last publish_metrics */
	struct metrics_net published;
	struct metrics_net *metrics; /* shared metrics group, or NULL */

	/* MMDS on this interface (virtio_net_enable_mmds), else NULL. */
	struct mmds_net *mmds;
	uint8_t *mmds_buf;	/* a guest frame for the MMDS (VIRTIO_NET_MAX_FRAME) */
	int mmds_timer_fd;	/* retransmissions (CLOCK_MONOTONIC) */
	uint64_t mmds_timer_at; /* when it is armed for, 0: disarmed */
	bool rx_mmds;		/* the pending rx frame is the MMDS's */
	/* frames of the MMDS delivered (tx_frames, tx_bytes) or dropped
	 * (tx_errors); the "mmds" counters at the last publish_metrics */
	struct metrics_mmds mmds_stats, mmds_published;

	/* Scratch: chains being handled. */
	struct vq_chain rx_chain, tx_chain;
	struct iovec tx_iov[VQ_MAX_SIZE + 1];
};

/* Attach to cfg->host_dev_name and create the device (MAC from cfg or a
 * random locally administered one, rate limiters from cfg); its queue
 * eventfds, TAP fd and limiter timerfds are added to el (VMM thread). */
int virtio_net_create(const struct net_cfg *cfg, const struct guest_mem *gm, struct event_loop *el,
		      struct virtio_net **out);
/* The same on the stream backend: fd is a connected stream socket (taken:
 * closed by the device, also on failure); cfg->host_dev_name is not used. */
int virtio_net_create_stream(const struct net_cfg *cfg, int fd, const struct guest_mem *gm,
			     struct event_loop *el, struct virtio_net **out);
void virtio_net_destroy(struct virtio_net *net);

/* PATCH /network-interfaces/{id}: rx/tx may be NULL (unchanged); present
 * buckets are replaced (VMM thread). */
void virtio_net_update_rate_limiters(struct virtio_net *net, const struct rate_limiter_cfg *rx,
				     const struct rate_limiter_cfg *tx);
/* Answer the MMDS (store, at ipv4, host order) on this interface: frames
 * the guest sends to ipv4 (ARP and IPv4) go to the responder (mmds_net.h),
 * never to the TAP, and its answers are delivered before TAP frames. Call
 * before the guest runs (VMM thread). */
int virtio_net_enable_mmds(struct virtio_net *net, struct mmds *store, uint32_t ipv4);
/* Snapshot of the counters, taken under the lock. */
void virtio_net_get_counters(struct virtio_net *net, struct metrics_net *out);
/* The "mmds" metrics this interface's responder and device counted so far
 * (totals): 0, or -ENOENT when MMDS is not enabled on it. */
int virtio_net_mmds_counters(struct virtio_net *net, struct metrics_mmds *out);
/* The link as the guest sees it (false once a stream peer died). */
bool virtio_net_link_up(struct virtio_net *net);
/* The MAC the guest sees. */
void virtio_net_get_mac(struct virtio_net *net, uint8_t mac[6]);

#endif
