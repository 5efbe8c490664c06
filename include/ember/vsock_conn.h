/* virtio-vsock: one connection's state machine (Firecracker's split: this
 * knows the vsock protocol and a host byte stream, not where the stream came
 * from; vsock_uds.h owns the Unix sockets, the connection table and epoll).
 *
 * Naming follows the device: "send" is a packet the guest sent (tx queue),
 * "recv" fills a packet for the guest (rx queue). Local = the host end
 * (ember's Unix stream), peer = the guest end.
 *
 * Credit flow control, both ways (virtio spec 5.10.6.3):
 *  - guest -> host: ember advertises buf_alloc = VSOCK_CONN_BUF_SIZE and
 *    fwd_cnt = bytes written to the host stream. Data the stream does not
 *    take at once waits in a tx buffer of buf_alloc bytes, so a guest that
 *    respects its credit never overflows it; one that does not is reset.
 *  - host -> guest: never more RW bytes than the guest's buf_alloc minus
 *    what is in flight (rx_cnt - peer fwd_cnt); with no credit the host
 *    stream is not read (and a CREDIT_REQUEST goes out once) until a packet
 *    from the guest brings credit.
 *
 * Every packet ember sends carries buf_alloc/fwd_cnt; a CREDIT_UPDATE goes
 * out on CREDIT_REQUEST or when the guest's view of ember's free space
 * drops below VSOCK_CREDIT_UPDATE_THRESHOLD after data was forwarded.
 *
 * All functions run on the VMM thread under the device lock; none blocks
 * (the stream fd must be non-blocking). */
#ifndef EMBER_VSOCK_CONN_H
#define EMBER_VSOCK_CONN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

#include <linux/virtio_vsock.h>
#include <sys/socket.h> /* before vm_sockets.h: sockaddr */
#include <linux/vm_sockets.h>

#define VSOCK_CONN_BUF_SIZE (256u * 1024) /* ember's buf_alloc per connection */
#define VSOCK_MAX_PKT_BUF (64u * 1024)	  /* largest payload in one packet */
#define VSOCK_CREDIT_UPDATE_THRESHOLD (VSOCK_CONN_BUF_SIZE / 2)
#define VSOCK_REQUEST_TIMEOUT_MS 2000  /* REQUEST sent, waiting for RESPONSE */
#define VSOCK_SHUTDOWN_TIMEOUT_MS 2000 /* SHUTDOWN sent, waiting for RST */
#define VSOCK_HDR_SIZE ((uint32_t)sizeof(struct virtio_vsock_hdr))
#define VSOCK_RX_BATCH 16    /* rx buffers one host read may fill */
#define VSOCK_RX_IOV_MAX 256 /* iovecs in that read */

/* Per-device counters (Firecracker's vsock metric names first), updated
 * under the device lock. rx = towards the guest, tx = from the guest. */
struct vsock_counters {
	uint64_t activate_fails;
	uint64_t cfg_fails;
	uint64_t rx_queue_event_fails; /* bad rx chains (too small, malformed) */
	uint64_t tx_queue_event_fails; /* bad tx chains (ring-level errors) */
	uint64_t ev_queue_event_fails; /* bad event-queue chains */
	uint64_t muxer_event_fails;    /* listener accept errors */
	uint64_t conn_event_fails;     /* EPOLLERR on a host stream */
	uint64_t rx_queue_event_count;
	uint64_t tx_queue_event_count;
	uint64_t rx_bytes_count; /* payload bytes delivered to the guest */
	uint64_t tx_bytes_count; /* payload bytes received from the guest */
	uint64_t rx_packets_count;
	uint64_t tx_packets_count;
	uint64_t conns_added;
	uint64_t conns_killed; /* reset by ember (error, timeout, violation) */
	uint64_t conns_removed;
	uint64_t killq_resync;
	uint64_t tx_flush_fails; /* writing buffered guest data to the host failed */
	uint64_t tx_write_fails; /* writing guest data to the host failed */
	uint64_t rx_read_fails;	 /* reading the host stream failed */
	/* ember's own */
	uint64_t tx_malformed; /* guest packets dropped or reset: bad header/len/cid/type/op */
	uint64_t tx_credit_violations; /* guest sent beyond ember's credit */
	uint64_t conns_refused;	       /* guest REQUESTs answered with RST (no listener, limit) */
	uint64_t rst_sent;	       /* RST packets to the guest */
	uint64_t host_connect_fails;   /* host clients closed: bad CONNECT line, limit, timeout */
	uint64_t ev_queue_events;      /* transport-reset events delivered */
};

enum vsock_conn_state {
	VSOCK_CONN_LOCAL_INIT = 1, /* host connected: REQUEST to the guest, awaiting RESPONSE */
	VSOCK_CONN_PEER_INIT,	   /* guest connected: RESPONSE to send */
	VSOCK_CONN_ESTABLISHED,
	VSOCK_CONN_LOCAL_CLOSED, /* host gone: SHUTDOWN(both) sent, awaiting the guest's RST */
	VSOCK_CONN_PEER_CLOSED,	 /* guest sent SHUTDOWN(both): flush, then RST */
	VSOCK_CONN_KILLED,	 /* RST to send */
	VSOCK_CONN_CLOSED,	 /* nothing left: remove */
};

/* A packet between the device and its backend. hdr is in wire (little
 * endian) form. send: iov covers the hdr.len payload bytes in guest RAM.
 * recv: iov covers `room` writable bytes for the payload; the callee fills
 * hdr (hdr.len = bytes written into iov). */
struct vsock_pkt {
	struct virtio_vsock_hdr hdr;
	struct iovec *iov;
	int iovcnt;
	size_t room;
};

/* Guest -> host bytes the host stream did not take yet (a ring). */
struct vsock_txbuf {
	uint8_t *buf; /* VSOCK_CONN_BUF_SIZE bytes, allocated on first use */
	uint32_t head, len;
};

struct vsock_conn {
	/* Backend bookkeeping (vsock_uds.c); the state machine ignores it. */
	void *owner;
	struct vsock_conn *hnext;
	struct vsock_conn *rx_prev, *rx_next;
	bool in_rxq;
	bool in_el;
	uint32_t el_events;
	uint64_t expiry_queued; /* expiry last put on the kill queue */

	/* Identity. */
	uint64_t guest_cid;
	uint32_t local_port, peer_port;
	int fd; /* host stream, -1 once closed */
	enum vsock_conn_state state;
	struct vsock_counters *stats;

	/* Control packets owed to the guest (VSOCK_PEND_*). */
	uint32_t pending;
	uint32_t shutdown_flags; /* flags of the pending SHUTDOWN */

	bool readable;	     /* host stream may have data (or EOF) to read */
	bool hup;	     /* host end fully closed (EPOLLHUP): fd out of epoll */
	bool local_eof;	     /* read() returned 0: SHUTDOWN(SEND) owed/sent */
	bool local_wr_shut;  /* shutdown(SHUT_WR) done on the host stream */
	bool peer_shut_rcv;  /* guest will not receive more */
	bool peer_shut_send; /* guest will not send more */
	bool credit_requested;

	/* Credit: what the guest told us, what we sent it. */
	uint32_t peer_buf_alloc, peer_fwd_cnt;
	uint32_t rx_cnt; /* payload bytes sent to the guest */
	/* Credit: ours. */
	uint32_t tx_cnt;  /* payload bytes received from the guest */
	uint32_t fwd_cnt; /* ... of which written to the host stream */
	uint32_t last_fwd_cnt_sent;
	struct vsock_txbuf txbuf;

	uint64_t expiry_ms; /* monotonic deadline of the current state, 0 = none */
};

#define VSOCK_PEND_REQUEST (1u << 0)
#define VSOCK_PEND_RESPONSE (1u << 1)
#define VSOCK_PEND_RST (1u << 2)
#define VSOCK_PEND_SHUTDOWN (1u << 3)
#define VSOCK_PEND_CREDIT_UPDATE (1u << 4)
#define VSOCK_PEND_CREDIT_REQUEST (1u << 5)

uint64_t vsock_now_ms(void);

/* Host-initiated: the host stream fd asked for guest port peer_port;
 * a REQUEST is owed to the guest. */
void vsock_conn_init_local(struct vsock_conn *c, int fd, uint64_t guest_cid, uint32_t local_port,
			   uint32_t peer_port, struct vsock_counters *stats);
/* Guest-initiated: the guest's REQUEST (req) was accepted and fd is the
 * connected host stream; a RESPONSE is owed. */
void vsock_conn_init_peer(struct vsock_conn *c, int fd, uint64_t guest_cid,
			  const struct vsock_pkt *req, struct vsock_counters *stats);
/* Free the tx buffer and close the fd (the caller removed it from epoll). */
void vsock_conn_destroy(struct vsock_conn *c);

/* A validated guest packet addressed to this connection. */
void vsock_conn_send_pkt(struct vsock_conn *c, const struct vsock_pkt *pkt);
/* Something to put on the rx queue? */
bool vsock_conn_has_rx(const struct vsock_conn *c);
/* Fill packets for the guest: a control packet in pkts[0], or host data
 * read with one readv() across the rooms of up to n (<= VSOCK_RX_BATCH)
 * packets, within the guest's credit. Returns how many were filled; 0 if
 * nothing is to be sent after all (then vsock_conn_has_rx() is false). */
int vsock_conn_recv_pkts(struct vsock_conn *c, struct vsock_pkt *pkts, int n);
/* The same for one packet: 0, or -EAGAIN. */
int vsock_conn_recv_pkt(struct vsock_conn *c, struct vsock_pkt *pkt);
/* epoll events on the host stream. */
void vsock_conn_notify(struct vsock_conn *c, uint32_t events);
/* Events to wait for on the host stream; false if the fd should not be in
 * epoll at all (closed, or fully hung up and drained without epoll). */
bool vsock_conn_poll_events(const struct vsock_conn *c, uint32_t *events);
/* The host stream is not needed any more: the backend closes it. */
bool vsock_conn_fd_done(const struct vsock_conn *c);
/* expiry_ms passed. */
void vsock_conn_expire(struct vsock_conn *c);
/* Reset the connection (RST to the guest if it knows the connection). */
void vsock_conn_kill(struct vsock_conn *c);
/* Nothing left to do: remove and destroy. */
static inline bool vsock_conn_done(const struct vsock_conn *c)
{
	return c->state == VSOCK_CONN_CLOSED;
}
/* Credit the guest gives us now (bytes we may send). */
uint32_t vsock_conn_peer_credit(const struct vsock_conn *c);

/* Fill a header (wire form) from host port src to guest port dst. */
void vsock_hdr_fill(struct virtio_vsock_hdr *h, uint64_t guest_cid, uint32_t src_port,
		    uint32_t dst_port, uint16_t op, uint32_t len, uint32_t flags,
		    uint32_t buf_alloc, uint32_t fwd_cnt);

#endif
