/* virtio-vsock test fixture: the device on a Unix socket in a private temp
 * directory, the harness driver with the three queues, rx buffers posted,
 * and a small driver-side "guest vsock" (struct vsock_gconn: ports and
 * credit of one connection). Shared by the vsock tests and the benchmark
 * (no cmocka here).
 *
 * The driver kicks like Linux does: only when the device asks (EVENT_IDX
 * avail_event, or VRING_USED_F_NO_NOTIFY without it), so a device that
 * forgets to ask for a kick makes these helpers time out. */
#ifndef TESTS_DEVICE_VSOCK_FIX_H
#define TESTS_DEVICE_VSOCK_FIX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <linux/virtio_vsock.h>

#include "ember/virtio_vsock.h"
#include "vdriver.h"

#define VSOCK_FIX_CID 3
#define VSOCK_FIX_RAM (64u << 20)
#define VSOCK_FIX_ALL_FEATURES (~0ULL)
#define VSOCK_FIX_RX_DEFAULT (VSOCK_HDR_SIZE + 4096) /* Linux's rx buffer */
#define VSOCK_FIX_TX_MAX (VSOCK_MAX_PKT_BUF + 4096)  /* payload room of the tx scratch */

struct vsock_fix {
	struct vdriver d;
	struct virtio_vsock *vs;
	char dir[64];	 /* private temp directory */
	char uds[96];	 /* dir/v.sock ("<uds>_<port>" must fit a sun_path) */
	uint32_t rx_len; /* bytes per rx buffer, header included */
	bool rx_split;	 /* header and payload in two descriptors */
	unsigned rx_posted;
	uint64_t rx_gpa[VQ_MAX_SIZE]; /* buffer behind each posted head */
	uint64_t tx_gpa;	      /* scratch for one tx packet */
	uint64_t ev_gpa;
};

/* Device + driver (want features; 3 queues of 256), nrx rx buffers of
 * rx_len bytes posted (one descriptor, or two with rx_split), 4 event
 * buffers posted. 0 or -errno. */
int vsock_fix_init(struct vsock_fix *f, uint64_t want, uint32_t rx_len, unsigned nrx,
		   bool rx_split);
void vsock_fix_fini(struct vsock_fix *f);
/* Kick queue q if the device asked for it since avail idx old_idx. */
void vsock_fix_maybe_kick(struct vsock_fix *f, unsigned q, uint16_t old_idx);
/* Post n more rx buffers and kick (if the device asks). */
int vsock_fix_post_rx(struct vsock_fix *f, unsigned n);

/* Header in wire form. */
void vsock_fix_hdr(struct virtio_vsock_hdr *h, uint64_t src_cid, uint64_t dst_cid,
		   uint32_t src_port, uint32_t dst_port, uint16_t op, uint32_t len, uint32_t flags,
		   uint32_t buf_alloc, uint32_t fwd_cnt);
/* Send one packet: header, then len payload bytes (in the same descriptor,
 * or a second one with split). Kicks and waits until the device returned
 * the chain: 0 or -errno. */
int vsock_fix_send(struct vsock_fix *f, const struct virtio_vsock_hdr *h, const void *data,
		   uint32_t len, bool split);
/* Post a header-only packet (copied to fresh guest RAM: use vdrv_mark/
 * vdrv_release around batches) and kick if asked, without waiting.
 * Returns the head or -errno. */
int vsock_fix_post_tx(struct vsock_fix *f, const struct virtio_vsock_hdr *h);
/* Dispatch pending events and take the tx chains the device returned:
 * their count. */
unsigned vsock_fix_reap_tx(struct vsock_fix *f);
/* Any chain on the tx queue (bufs point into guest RAM): post, kick, wait. */
int vsock_fix_send_raw(struct vsock_fix *f, const struct vd_buf *bufs, int n);
/* Wait up to timeout_ms for the next rx packet: header into *h, payload
 * (up to cap bytes) into data, *len = payload length; the buffer is posted
 * again. 0, -ETIMEDOUT, or -EBADMSG if the used length is not header +
 * hdr.len. */
int vsock_fix_recv(struct vsock_fix *f, struct virtio_vsock_hdr *h, void *data, size_t cap,
		   uint32_t *len, int timeout_ms);
/* Dispatch what is pending (no waiting), then like vsock_fix_recv with no
 * wait: -EAGAIN if no packet. */
int vsock_fix_try_recv(struct vsock_fix *f, struct virtio_vsock_hdr *h, void *data, size_t cap,
		       uint32_t *len);

/* ---- driver-side connection ---- */
struct vsock_gconn {
	uint32_t gport, hport;		       /* guest port, host port */
	uint32_t buf_alloc;		       /* guest's receive buffer (advertised) */
	uint32_t fwd_cnt;		       /* bytes the guest consumed (advertised) */
	uint32_t rx_cnt;		       /* payload bytes received from the host */
	uint32_t tx_cnt;		       /* payload bytes sent to the host */
	uint32_t peer_buf_alloc, peer_fwd_cnt; /* ember's credit, last seen */
	uint32_t last_fwd_sent;		       /* fwd_cnt in the last packet sent */
};

void vsock_gconn_init(struct vsock_gconn *gc, uint32_t gport, uint32_t hport, uint32_t buf_alloc);
/* Send op from gc (ports, cids, credit filled in); RW adds len to tx_cnt. */
int vsock_fix_gsend(struct vsock_fix *f, struct vsock_gconn *gc, uint16_t op, uint32_t flags,
		    const void *data, uint32_t len);
/* Account a packet received for gc (credit; RW adds to rx_cnt). */
void vsock_gconn_seen(struct vsock_gconn *gc, const struct virtio_vsock_hdr *h);
/* Bytes ember lets the guest send now. */
uint32_t vsock_gconn_credit(const struct vsock_gconn *gc);
/* True if h is addressed from gc's host port to gc's guest port. */
bool vsock_gconn_match(const struct vsock_gconn *gc, const struct virtio_vsock_hdr *h);

/* Host side. */
/* Blocking client connected to the device's uds_path (-errno on failure). */
int vsock_fix_host_connect(struct vsock_fix *f);
/* Client connected and "CONNECT port\n" written. */
int vsock_fix_host_connect_port(struct vsock_fix *f, uint32_t port);
/* Listener on "<uds>_<port>" (backlog given). */
int vsock_fix_listen(struct vsock_fix *f, uint32_t port, int backlog);
/* Read exactly len bytes from fd while running the device's event loop:
 * 0, -EPIPE on EOF first, -ETIMEDOUT. */
int vsock_fix_host_read(struct vsock_fix *f, int fd, void *buf, size_t len, int timeout_ms);
/* Read one line (up to '\n', which is kept) of at most cap-1 bytes: its
 * length, -EPIPE on EOF, -ETIMEDOUT. */
int vsock_fix_host_line(struct vsock_fix *f, int fd, char *buf, size_t cap, int timeout_ms);
/* Run the event loop until fd reaches EOF (0), gets data (-EBADMSG) or
 * timeout_ms passes (-ETIMEDOUT). ECONNRESET counts as EOF. */
int vsock_fix_host_wait_eof(struct vsock_fix *f, int fd, int timeout_ms);

/* Host-initiated connection end to end: client CONNECT port, the guest
 * sees REQUEST and answers RESPONSE (gc filled, buf_alloc given), the
 * client reads "OK <hport>\n". Returns the client fd or -errno. */
int vsock_fix_open_from_host(struct vsock_fix *f, uint32_t port, uint32_t buf_alloc,
			     struct vsock_gconn *gc);
/* Guest-initiated: listener on hport, guest REQUEST from gport, RESPONSE
 * seen, accept. Returns the accepted host fd or -errno; *lfd gets the
 * listener (caller closes). */
int vsock_fix_open_from_guest(struct vsock_fix *f, uint32_t gport, uint32_t hport,
			      uint32_t buf_alloc, struct vsock_gconn *gc, int *lfd);

/* Counters (under the lock). */
struct vsock_counters vsock_fix_counters(struct vsock_fix *f);

/* Open file descriptors of this process (leak checks). */
int vsock_fix_count_fds(void);

/* 64-bit FNV-1a, for checksumming streams. */
uint64_t vsock_fix_fnv(uint64_t h, const void *p, size_t len);
#define VSOCK_FIX_FNV_INIT 0xcbf29ce484222325ULL

#endif
