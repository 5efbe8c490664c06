/* MMDS: the network responder one virtio-net interface runs when
 * mmds-config names it. Frames the guest sends to the MMDS address are
 * handed here (never to the TAP) and the replies are taken out as frames for
 * the guest's receive queue:
 *   - ARP: a request for the MMDS address is answered with MMDS_MAC.
 *   - IPv4 to the MMDS address: TCP to port 80 is served (below); ICMP,
 *     UDP, other ports, fragments and options-laden junk are dropped
 *     (TCP to another port gets a RST).
 *   - TCP, the server side only: handshake (MSS option read, none sent
 *     beyond our own MSS), in-order data (out-of-order data is dropped and
 *     the expected sequence number acknowledged again), the peer's window
 *     (no window scaling is offered, so it is the raw 16-bit field; a zero
 *     window is probed), retransmission of our unacknowledged segments
 *     (go-back-N from the oldest, RTO 200 ms doubling to 3.2 s, given up with
 *     a RST after MMDS_NET_MAX_RETRIES), FIN in both directions, RST.
 *     Each connection feeds an HTTP request parser (mmds_http.h); one
 *     response is in flight per connection (keep-alive requests wait).
 *
 * Bounded state: at most MMDS_NET_MAX_CONNS connections (a SYN beyond that
 * replaces the connection idle longest), each with a receive buffer of
 * MMDS_HTTP_MAX_REQUEST bytes and one response (at most the data store
 * limit + ~300 bytes); control answers (RST/ACK to unknown connections)
 * wait in a ring of MMDS_NET_MAX_CTL entries (more are dropped); one ARP
 * answer is kept. Nothing is queued as frames: segments are built when the
 * device asks for the next frame, so a guest that stops reading costs
 * nothing more.
 *
 * Checksums: the IPv4 header checksum is always checked; the TCP checksum
 * unless the guest left it to the device (virtio NEEDS_CSUM: csum_partial).
 * Frames we build carry full checksums. Single-threaded: the net device
 * calls everything under its lock. */
#ifndef EMBER_MMDS_NET_H
#define EMBER_MMDS_NET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ember/metrics.h"
#include "ember/mmds.h"

#define MMDS_NET_MAX_CONNS 16
#define MMDS_NET_MAX_CTL 32
#define MMDS_NET_MAX_RETRIES 6
#define MMDS_NET_MSS 1460
/* The largest frame mmds_net_next_frame builds. */
#define MMDS_NET_MAX_FRAME (14 + 20 + 20 + MMDS_NET_MSS)

extern const uint8_t MMDS_MAC[6];

struct mmds_net;

/* ipv4: host order. The store is borrowed (it outlives the responder). */
int mmds_net_create(struct mmds *store, uint32_t ipv4, struct mmds_net **out);
void mmds_net_destroy(struct mmds_net *s);

/* Is this frame (its first hlen bytes, at least what a frame has up to the
 * IPv4 destination / ARP target) for the MMDS? Cheap: no state touched. */
bool mmds_net_wants(const struct mmds_net *s, const uint8_t *frame, size_t hlen);
/* The bytes mmds_net_wants needs to decide (Ethernet + ARP body). */
#define MMDS_NET_PEEK_LEN (14 + 28)

/* A guest frame mmds_net_wants took (Ethernet header first). Malformed
 * frames are dropped and counted. now_ms: CLOCK_MONOTONIC. */
void mmds_net_input(struct mmds_net *s, const uint8_t *frame, size_t len, bool csum_partial,
		    uint64_t now_ms);
/* The next frame for the guest into buf (cap >= MMDS_NET_MAX_FRAME): its
 * length, or 0 when there is nothing to send. */
size_t mmds_net_output(struct mmds_net *s, uint8_t *buf, size_t cap, uint64_t now_ms);
bool mmds_net_has_output(const struct mmds_net *s);
/* Nothing to send and no connection: the cheap test the device makes for
 * every frame it receives from the TAP before asking for output. */
bool mmds_net_idle(const struct mmds_net *s);
/* Retransmission: when mmds_net_timer wants to run next (CLOCK_MONOTONIC
 * ms), 0 when no timer is needed. */
uint64_t mmds_net_deadline(const struct mmds_net *s);
void mmds_net_timer(struct mmds_net *s, uint64_t now_ms);

struct mmds_net_stats {
	uint64_t frames_in, frames_out, dropped, conns_opened, conns_closed, conns_evicted,
	    retransmits, http_requests;
	/* Firecracker's "mmds" group as this responder sees it (the device
	 * adds tx_frames, tx_bytes and its own tx_errors, and publishes). */
	struct metrics_mmds m;
};
void mmds_net_get_stats(const struct mmds_net *s, struct mmds_net_stats *out);
/* Connections in use now. */
int mmds_net_conns(const struct mmds_net *s);

#endif
