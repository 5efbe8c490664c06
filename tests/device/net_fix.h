/* virtio-net test fixture: a private network namespace with a persistent
 * TAP, the device attached to it, the harness driver, and AF_PACKET sockets
 * on the TAP playing the host's network. Shared by the net tests and the
 * benchmark (no cmocka here; functions return 0 / -errno).
 *
 * The namespace belongs to this process only (unshare(CLONE_NEWNET)): the
 * TAP and everything in it disappear when the process exits, whatever way. */
#ifndef TESTS_DEVICE_NET_FIX_H
#define TESTS_DEVICE_NET_FIX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <linux/virtio_net.h>

#include "ember/config.h"
#include "ember/virtio_net.h"
#include "vdriver.h"

#define NETFIX_TAP "emtap0"
#define NETFIX_ETHERTYPE 0x88b5 /* IEEE local experimental: nobody else's */
#define NETFIX_ALL_FEATURES (~0ULL)
#define NETFIX_RAM (64ULL << 20)

struct netfix {
	struct vdriver d;
	struct virtio_net *net;
	uint8_t mac[6];
	int pkt;      /* AF_PACKET on the TAP (host side), outgoing ignored */
	int pkt_vnet; /* the same with PACKET_VNET_HDR (GSO in and out) */
	int peer;     /* stream backend: the test's end of the socket pair */
	/* rx buffers posted by the driver, by head */
	uint64_t rx_gpa[VQ_MAX_SIZE];
	uint32_t rx_size[VQ_MAX_SIZE];
};

/* Enter a new network namespace (once per process) and create the
 * persistent, up TAP NETFIX_TAP in it (again if it was deleted) with IPv6
 * off (no stray frames). */
int netfix_netns_tap(void);

/* Device on NETFIX_TAP (cfg fields: rate limiters, mac, mtu may be set by
 * the caller in *cfg; host_dev_name/id are filled in), driver handshake
 * with want (none if 0) and two queues of qsize. */
int netfix_init(struct netfix *f, struct net_cfg *cfg, uint64_t want, uint16_t qsize);
/* The same on the stream backend: a socketpair, the device on one end,
 * f->peer (blocking) the test's end playing passt. No namespace needed. */
int netfix_init_stream(struct netfix *f, struct net_cfg *cfg, uint64_t want, uint16_t qsize);
void netfix_fini(struct netfix *f);
/* A cmocka teardown for a fixture the set-up allocated: fini and free. */
int netfix_teardown(void **state);
/* The device's counters now. */
struct metrics_net netfix_counters(struct netfix *f);

/* ---- guest side ---- */
/* Post n receive buffers of size bytes each (one descriptor each, or split
 * in two descriptors when split), then kick. */
int netfix_post_rx(struct netfix *f, int n, uint32_t size, bool split);
/* The same without the kick. */
int netfix_add_rx(struct netfix *f, int n, uint32_t size, bool split);
/* Post again the (single-descriptor) buffer a used head had; returns the
 * new head. Does not kick. */
int netfix_recycle_rx(struct netfix *f, uint16_t head);
/* Wait for the next used rx buffer: its head, length, and host pointer. */
int netfix_rx_wait(struct netfix *f, int timeout_ms, uint16_t *head, uint32_t *len, uint8_t **data);
/* Post one tx chain: hdr (12 bytes) + frame, the frame cut into nseg
 * descriptors (nseg 0: header and frame in one descriptor). Does not kick. */
int netfix_tx_post(struct netfix *f, const struct virtio_net_hdr_v1 *hdr, const void *frame,
		   size_t len, int nseg, bool indirect);
/* Post, kick, wait for the used entry, free it; *used_len if not NULL. */
int netfix_tx(struct netfix *f, const struct virtio_net_hdr_v1 *hdr, const void *frame, size_t len,
	      uint32_t *used_len);

/* ---- host side ---- */
/* Stream backend: exactly len bytes from f->peer within timeout_ms, the
 * device's event loop run meanwhile (it may be waiting to send the rest);
 * -EPIPE if the device's end closed, -ETIMEDOUT. */
int netfix_peer_read(struct netfix *f, void *buf, size_t len, int timeout_ms);
/* A test frame: broadcast destination, source src, NETFIX_ETHERTYPE, then
 * len - 14 payload bytes from seed; returns len. */
size_t netfix_frame(uint8_t *buf, size_t len, const uint8_t src[6], uint32_t seed);
/* Send a frame into the TAP (towards the guest); with hdr (may be NULL)
 * through the PACKET_VNET_HDR socket. */
int netfix_host_send(struct netfix *f, const struct virtio_net_hdr *hdr, const void *frame,
		     size_t len);
/* Receive the next frame the guest sent with our ethertype or IPv4 (other
 * traffic skipped), up to timeout_ms; returns its length or -ETIMEDOUT. With
 * hdr, through the PACKET_VNET_HDR socket (hdr receives its header). */
int netfix_host_recv(struct netfix *f, struct virtio_net_hdr *hdr, void *buf, size_t cap,
		     int timeout_ms);
/* Wait until the device's TAP fd has a frame queued (poll, timeout_ms). */
int netfix_tap_wait_readable(struct netfix *f, int timeout_ms);

/* An IPv4/TCP frame of total length len (>= 54) from src to dst with a
 * seeded payload; headers valid (IP checksum set, TCP checksum = the
 * pseudo-header sum, as for CHECKSUM_PARTIAL). */
size_t netfix_tcp4_frame(uint8_t *buf, size_t len, const uint8_t src[6], const uint8_t dst[6],
			 uint32_t seed);

#endif
