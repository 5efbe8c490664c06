/* virtio-vsock host backend: Firecracker's hybrid Unix-socket model.
 *
 *  - Host-initiated: ember listens on uds_path. A host client connects and
 *    writes "CONNECT <port>\n" (decimal guest port, at most
 *    VSOCK_UDS_LINE_MAX bytes with the newline); ember sends the guest a
 *    REQUEST from a fresh local port (from 1<<30 upward) and, once the guest
 *    answers RESPONSE, writes "OK <local_port>\n" to the client; the stream
 *    then carries the connection's bytes. A bad line, a full table, the
 *    guest's RST or no answer within VSOCK_REQUEST_TIMEOUT_MS closes the
 *    client's socket (no "OK"). A client that sends no line within
 *    VSOCK_UDS_HANDSHAKE_TIMEOUT_MS is closed too.
 *  - Guest-initiated: a REQUEST to host port P makes ember connect to
 *    "<uds_path>_<P>" (non-blocking); RESPONSE if that worked, RST if not.
 *
 * The backend owns the connection table (at most max_conns, default
 * VSOCK_UDS_MAX_CONNS), the host sockets on the event loop, the queue of
 * connections with packets for the guest, the RSTs for packets that match no
 * connection (a bounded queue: while it is full the device stops taking tx
 * packets), and the kill queue of connection deadlines (one timerfd;
 * overflow falls back to a scan of all connections: killq_resync).
 *
 * Threads: every function runs on the VMM thread with *lock (the device
 * lock) held, except vsock_uds_request_reset() (any thread, lock held). Its
 * own fd handlers take *lock, do their work and call rx_kick(opaque) so the
 * device can move pending packets to the rx queue. */
#ifndef EMBER_VSOCK_UDS_H
#define EMBER_VSOCK_UDS_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/un.h>

#include "ember/event_loop.h"
#include "ember/vsock_conn.h"

#define VSOCK_UDS_MAX_CONNS 1024
#define VSOCK_UDS_MAX_HANDSHAKES 64 /* host clients that have not sent CONNECT yet */
#define VSOCK_UDS_LINE_MAX 32
#define VSOCK_UDS_HANDSHAKE_TIMEOUT_MS 5000
#define VSOCK_UDS_RSTQ_SIZE 128
#define VSOCK_UDS_KILLQ_SIZE 64
#define VSOCK_UDS_HASH_SIZE 1024
#define VSOCK_UDS_LOCAL_PORT_BASE (1u << 30)

struct vsock_uds_params {
	const char *uds_path;
	uint64_t guest_cid;
	struct event_loop *el;
	pthread_mutex_t *lock;
	struct vsock_counters *stats;
	void (*rx_kick)(void *opaque); /* lock held */
	void *opaque;
};

struct vsock_uds_handshake {
	int fd; /* -1: free slot */
	uint64_t expiry_ms;
	unsigned len;
	char line[VSOCK_UDS_LINE_MAX];
};

struct vsock_uds_rst {
	uint32_t local_port, peer_port;
};

struct vsock_uds_killq_ent {
	uint32_t local_port, peer_port;
	uint64_t expiry_ms; /* 0: free slot */
};

struct vsock_uds {
	char path[sizeof(((struct sockaddr_un *)0)->sun_path)];
	uint64_t guest_cid;
	struct event_loop *el;
	pthread_mutex_t *lock;
	struct vsock_counters *stats;
	void (*rx_kick)(void *opaque);
	void *opaque;
	int listen_fd, timer_fd, wake_fd;
	bool bound;	    /* path created by us: unlinked by fini */
	bool listen_paused; /* accept failed for lack of fds: retried on the timer */
	bool reset_pending;

	unsigned max_conns; /* tests may lower it */
	unsigned nconns;
	struct vsock_conn *hash[VSOCK_UDS_HASH_SIZE];
	struct vsock_conn *rxq_head, *rxq_tail;
	uint32_t next_local_port;

	struct vsock_uds_rst rstq[VSOCK_UDS_RSTQ_SIZE];
	unsigned rstq_head, rstq_len;

	struct vsock_uds_killq_ent killq[VSOCK_UDS_KILLQ_SIZE];
	bool killq_overflow;	 /* some deadlines are only on the connections */
	uint64_t timer_armed_ms; /* 0: disarmed */

	struct vsock_uds_handshake hs[VSOCK_UDS_MAX_HANDSHAKES];
};

/* Bind and listen on p->uds_path (which must not exist), add the listener,
 * timer and wake eventfd to p->el. 0 or -errno with err_set context. */
int vsock_uds_init(struct vsock_uds *u, const struct vsock_uds_params *p);
/* Close everything, unlink uds_path (VMM thread, no lock needed). */
void vsock_uds_fini(struct vsock_uds *u);

/* A guest packet (device-validated: cids, type STREAM, known op, len fits)
 * to its connection, or the start of one (REQUEST). */
void vsock_uds_send_pkt(struct vsock_uds *u, const struct vsock_pkt *pkt);
/* A guest packet the device refuses (bad type/op/length): reset its
 * connection, or answer RST. */
void vsock_uds_reject(struct vsock_uds *u, const struct vsock_pkt *pkt);
/* Packets for the guest are waiting. */
bool vsock_uds_has_rx(struct vsock_uds *u);
/* Fill packets for the guest: one control packet, or up to n RW packets of
 * one connection (see vsock_conn_recv_pkts). Returns how many; 0 if there
 * was nothing after all. */
int vsock_uds_recv_pkts(struct vsock_uds *u, struct vsock_pkt *pkts, int n);
/* The same for one packet: 0, or -EAGAIN. */
int vsock_uds_recv_pkt(struct vsock_uds *u, struct vsock_pkt *pkt);
/* The RST queue is full: stop taking guest packets until rx drains it. */
bool vsock_uds_tx_blocked(const struct vsock_uds *u);
/* Drop every connection without telling the guest (device reset, transport
 * reset), except host clients whose REQUEST was not sent yet: they wait for
 * the next driver. Any thread with the lock held: the work is done on the
 * VMM thread before anything else touches the connections. */
void vsock_uds_request_reset(struct vsock_uds *u);
/* Connections in the table (any state). */
unsigned vsock_uds_conn_count(struct vsock_uds *u);

#endif
