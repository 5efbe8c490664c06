/* virtio-vsock connection state machine; see vsock_conn.h. */
#include "ember/vsock_conn.h"

#include <endian.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "ember/util.h"

#define PEND_ALL                                                                                   \
	(VSOCK_PEND_REQUEST | VSOCK_PEND_RESPONSE | VSOCK_PEND_RST | VSOCK_PEND_SHUTDOWN |         \
	 VSOCK_PEND_CREDIT_UPDATE | VSOCK_PEND_CREDIT_REQUEST)
#define SHUT_BOTH (VIRTIO_VSOCK_SHUTDOWN_RCV | VIRTIO_VSOCK_SHUTDOWN_SEND)

uint64_t vsock_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

void vsock_hdr_fill(struct virtio_vsock_hdr *h, uint64_t guest_cid, uint32_t src_port,
		    uint32_t dst_port, uint16_t op, uint32_t len, uint32_t flags,
		    uint32_t buf_alloc, uint32_t fwd_cnt)
{
	memset(h, 0, sizeof(*h));
	h->src_cid = htole64(VMADDR_CID_HOST);
	h->dst_cid = htole64(guest_cid);
	h->src_port = htole32(src_port);
	h->dst_port = htole32(dst_port);
	h->len = htole32(len);
	h->type = htole16(VIRTIO_VSOCK_TYPE_STREAM);
	h->op = htole16(op);
	h->flags = htole32(flags);
	h->buf_alloc = htole32(buf_alloc);
	h->fwd_cnt = htole32(fwd_cnt);
}

static void conn_init(struct vsock_conn *c, int fd, uint64_t guest_cid, uint32_t local_port,
		      uint32_t peer_port, struct vsock_counters *stats)
{
	memset(c, 0, sizeof(*c));
	c->fd = fd;
	c->guest_cid = guest_cid;
	c->local_port = local_port;
	c->peer_port = peer_port;
	c->stats = stats;
}

void vsock_conn_init_local(struct vsock_conn *c, int fd, uint64_t guest_cid, uint32_t local_port,
			   uint32_t peer_port, struct vsock_counters *stats)
{
	conn_init(c, fd, guest_cid, local_port, peer_port, stats);
	c->state = VSOCK_CONN_LOCAL_INIT;
	c->pending = VSOCK_PEND_REQUEST;
}

void vsock_conn_init_peer(struct vsock_conn *c, int fd, uint64_t guest_cid,
			  const struct vsock_pkt *req, struct vsock_counters *stats)
{
	conn_init(c, fd, guest_cid, le32toh(req->hdr.dst_port), le32toh(req->hdr.src_port), stats);
	c->state = VSOCK_CONN_PEER_INIT;
	c->pending = VSOCK_PEND_RESPONSE;
	c->peer_buf_alloc = le32toh(req->hdr.buf_alloc);
	c->peer_fwd_cnt = le32toh(req->hdr.fwd_cnt);
}

void vsock_conn_destroy(struct vsock_conn *c)
{
	free(c->txbuf.buf);
	c->txbuf.buf = NULL;
	c->txbuf.len = 0;
	if (c->fd >= 0)
		close(c->fd);
	c->fd = -1;
}

uint32_t vsock_conn_peer_credit(const struct vsock_conn *c)
{
	uint32_t in_flight = c->rx_cnt - c->peer_fwd_cnt;

	return in_flight >= c->peer_buf_alloc ? 0 : c->peer_buf_alloc - in_flight;
}

/* Host -> guest data may flow. */
static bool rx_data_open(const struct vsock_conn *c)
{
	return c->state == VSOCK_CONN_ESTABLISHED && c->fd >= 0 && !c->peer_shut_rcv &&
	       !c->local_eof;
}

static bool gone(const struct vsock_conn *c)
{
	return c->state == VSOCK_CONN_KILLED || c->state == VSOCK_CONN_CLOSED;
}

/* RST owed to the guest; nothing else will be sent. */
static void begin_rst(struct vsock_conn *c)
{
	c->state = VSOCK_CONN_KILLED;
	c->pending = VSOCK_PEND_RST;
	c->readable = false;
	c->expiry_ms = 0;
}

void vsock_conn_kill(struct vsock_conn *c)
{
	if (gone(c))
		return;
	c->stats->conns_killed++;
	if (c->state == VSOCK_CONN_LOCAL_INIT && (c->pending & VSOCK_PEND_REQUEST)) {
		/* The guest never heard of it. */
		c->state = VSOCK_CONN_CLOSED;
		c->pending = 0;
		return;
	}
	begin_rst(c);
}

void vsock_conn_expire(struct vsock_conn *c)
{
	if (!c->expiry_ms || vsock_now_ms() < c->expiry_ms)
		return;
	c->expiry_ms = 0;
	if (c->state == VSOCK_CONN_LOCAL_INIT || c->state == VSOCK_CONN_LOCAL_CLOSED ||
	    c->state == VSOCK_CONN_PEER_CLOSED)
		vsock_conn_kill(c);
}

static void shut_wr(struct vsock_conn *c)
{
	if (c->local_wr_shut || c->fd < 0)
		return;
	shutdown(c->fd, SHUT_WR);
	c->local_wr_shut = true;
}

/* The guest's view of ember's free buffer is low and data moved on since
 * the last header: tell it. */
static void maybe_credit_update(struct vsock_conn *c)
{
	uint32_t seen = c->tx_cnt - c->last_fwd_cnt_sent;
	uint32_t free_view = seen >= VSOCK_CONN_BUF_SIZE ? 0 : VSOCK_CONN_BUF_SIZE - seen;

	if (c->state != VSOCK_CONN_ESTABLISHED || c->peer_shut_send)
		return;
	if (c->fwd_cnt != c->last_fwd_cnt_sent && free_view < VSOCK_CREDIT_UPDATE_THRESHOLD)
		c->pending |= VSOCK_PEND_CREDIT_UPDATE;
}

/* Ask the guest for credit once when host data waits and there is none. */
static void update_credit_state(struct vsock_conn *c)
{
	if (gone(c))
		return;
	if (vsock_conn_peer_credit(c) > 0) {
		c->credit_requested = false;
		c->pending &= ~VSOCK_PEND_CREDIT_REQUEST;
	} else if (rx_data_open(c) && c->readable && !c->credit_requested) {
		c->pending |= VSOCK_PEND_CREDIT_REQUEST;
		c->credit_requested = true;
	}
}

/* ---- guest -> host ---- */

static int txbuf_push(struct vsock_txbuf *t, const struct iovec *iov, int iovcnt, size_t skip,
		      size_t len)
{
	if (!t->buf) {
		t->buf = malloc(VSOCK_CONN_BUF_SIZE);
		if (!t->buf)
			return -ENOMEM;
		t->head = 0;
	}
	for (int i = 0; i < iovcnt && len; i++) {
		const uint8_t *src = iov[i].iov_base;
		size_t l = iov[i].iov_len;

		if (skip >= l) {
			skip -= l;
			continue;
		}
		src += skip;
		l = MIN(l - skip, len);
		skip = 0;
		len -= l;
		while (l) {
			uint32_t tail = (t->head + t->len) % VSOCK_CONN_BUF_SIZE;
			uint32_t n = (uint32_t)MIN((size_t)(VSOCK_CONN_BUF_SIZE - tail), l);

			memcpy(t->buf + tail, src, n);
			t->len += n;
			src += n;
			l -= n;
		}
	}
	return 0;
}

static ssize_t send_iov(int fd, const struct iovec *iov, int iovcnt)
{
	struct msghdr mh = {.msg_iov = (struct iovec *)iov, .msg_iovlen = (size_t)iovcnt};
	ssize_t n;

	do
		n = sendmsg(fd, &mh, MSG_DONTWAIT | MSG_NOSIGNAL);
	while (n < 0 && errno == EINTR);
	if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
		return 0;
	return n < 0 ? -errno : n;
}

/* Write buffered guest data to the host stream. */
static void flush_tx(struct vsock_conn *c)
{
	struct vsock_txbuf *t = &c->txbuf;

	while (t->len) {
		struct iovec iov[2];
		uint32_t first = MIN(t->len, VSOCK_CONN_BUF_SIZE - t->head);
		int cnt = 1;
		ssize_t n;

		iov[0] = (struct iovec){t->buf + t->head, first};
		if (first < t->len) {
			iov[1] = (struct iovec){t->buf, t->len - first};
			cnt = 2;
		}
		n = send_iov(c->fd, iov, cnt);
		if (n < 0) {
			c->stats->tx_flush_fails++;
			vsock_conn_kill(c);
			return;
		}
		if (n == 0)
			break;
		t->head = (uint32_t)((t->head + (size_t)n) % VSOCK_CONN_BUF_SIZE);
		t->len -= (uint32_t)n;
		c->fwd_cnt += (uint32_t)n;
	}
	if (t->len == 0) {
		free(t->buf);
		t->buf = NULL;
		t->head = 0;
		if (c->state == VSOCK_CONN_PEER_CLOSED)
			begin_rst(c);
		else if (c->peer_shut_send)
			shut_wr(c);
	}
	maybe_credit_update(c);
}

static void write_guest_data(struct vsock_conn *c, const struct vsock_pkt *pkt)
{
	uint32_t len = le32toh(pkt->hdr.len);
	size_t done = 0;

	if (len == 0)
		return;
	c->tx_cnt += len;
	if (c->txbuf.len == 0) {
		ssize_t n = send_iov(c->fd, pkt->iov, pkt->iovcnt);

		if (n < 0) {
			c->stats->tx_write_fails++;
			vsock_conn_kill(c);
			return;
		}
		done = (size_t)n;
		c->fwd_cnt += (uint32_t)n;
	}
	if (done < len) {
		size_t rest = len - done;

		if (rest > VSOCK_CONN_BUF_SIZE - c->txbuf.len) {
			/* More than the credit ember gave. */
			c->stats->tx_credit_violations++;
			vsock_conn_kill(c);
			return;
		}
		if (txbuf_push(&c->txbuf, pkt->iov, pkt->iovcnt, done, rest) < 0) {
			c->stats->tx_write_fails++;
			vsock_conn_kill(c);
			return;
		}
	}
	maybe_credit_update(c);
}

static void established(struct vsock_conn *c)
{
	char line[32];
	int n = snprintf(line, sizeof(line), "OK %u\n", c->local_port);

	c->state = VSOCK_CONN_ESTABLISHED;
	c->expiry_ms = 0;
	/* First bytes on a fresh stream: the socket buffer takes them. */
	if (send(c->fd, line, (size_t)n, MSG_DONTWAIT | MSG_NOSIGNAL) != n) {
		c->stats->tx_write_fails++;
		vsock_conn_kill(c);
	}
}

static void peer_shutdown(struct vsock_conn *c, uint32_t flags)
{
	if (c->state == VSOCK_CONN_LOCAL_CLOSED) {
		/* Both ends closing at once: conclude. */
		if ((flags & SHUT_BOTH) == SHUT_BOTH)
			begin_rst(c);
		return;
	}
	if (c->state != VSOCK_CONN_ESTABLISHED) {
		vsock_conn_kill(c);
		return;
	}
	if ((flags & VIRTIO_VSOCK_SHUTDOWN_RCV) && !c->peer_shut_rcv) {
		c->peer_shut_rcv = true;
		c->readable = false;
		c->pending &= ~VSOCK_PEND_CREDIT_REQUEST;
		/* The host writer learns that nobody reads any more. */
		shutdown(c->fd, SHUT_RD);
	}
	if (flags & VIRTIO_VSOCK_SHUTDOWN_SEND)
		c->peer_shut_send = true;
	if (c->peer_shut_rcv && c->peer_shut_send) {
		if (c->txbuf.len == 0) {
			begin_rst(c);
		} else {
			c->state = VSOCK_CONN_PEER_CLOSED;
			c->expiry_ms = vsock_now_ms() + VSOCK_SHUTDOWN_TIMEOUT_MS;
		}
	} else if (c->peer_shut_send && c->txbuf.len == 0) {
		shut_wr(c);
	}
}

void vsock_conn_send_pkt(struct vsock_conn *c, const struct vsock_pkt *pkt)
{
	uint16_t op = le16toh(pkt->hdr.op);

	if (gone(c)) {
		/* The guest's RST crossing ours: nothing more to say. */
		if (op == VIRTIO_VSOCK_OP_RST) {
			c->state = VSOCK_CONN_CLOSED;
			c->pending = 0;
		}
		return;
	}
	c->peer_buf_alloc = le32toh(pkt->hdr.buf_alloc);
	c->peer_fwd_cnt = le32toh(pkt->hdr.fwd_cnt);
	switch (op) {
	case VIRTIO_VSOCK_OP_RST:
		c->state = VSOCK_CONN_CLOSED;
		c->pending = 0;
		return;
	case VIRTIO_VSOCK_OP_RESPONSE:
		if (c->state != VSOCK_CONN_LOCAL_INIT || (c->pending & VSOCK_PEND_REQUEST)) {
			vsock_conn_kill(c);
			return;
		}
		established(c);
		break;
	case VIRTIO_VSOCK_OP_RW:
		if (c->state == VSOCK_CONN_LOCAL_CLOSED)
			break; /* the host end is gone; our SHUTDOWN is on its way */
		if (c->state != VSOCK_CONN_ESTABLISHED || c->peer_shut_send) {
			vsock_conn_kill(c);
			return;
		}
		write_guest_data(c, pkt);
		break;
	case VIRTIO_VSOCK_OP_CREDIT_UPDATE:
		break;
	case VIRTIO_VSOCK_OP_CREDIT_REQUEST:
		c->pending |= VSOCK_PEND_CREDIT_UPDATE;
		break;
	case VIRTIO_VSOCK_OP_SHUTDOWN:
		peer_shutdown(c, le32toh(pkt->hdr.flags));
		break;
	default: /* REQUEST on a live connection, unknown ops */
		vsock_conn_kill(c);
		return;
	}
	update_credit_state(c);
}

/* ---- host -> guest ---- */

/* Host EOF: SHUTDOWN(SEND), or (host fully closed) SHUTDOWN(both). */
static void local_eof(struct vsock_conn *c)
{
	c->readable = false;
	c->local_eof = true;
	c->pending |= VSOCK_PEND_SHUTDOWN;
	c->shutdown_flags = VIRTIO_VSOCK_SHUTDOWN_SEND | (c->hup ? VIRTIO_VSOCK_SHUTDOWN_RCV : 0);
	c->pending &= ~VSOCK_PEND_CREDIT_REQUEST;
}

/* Read host data straight into the payload room of up to n guest buffers
 * with one readv: at most `credit` bytes in all and VSOCK_MAX_PKT_BUF per
 * packet; lens[i] = bytes that landed in packet i. Returns the number of
 * packets filled, 0 if nothing was read (EAGAIN, EOF or an error: the state
 * says which). */
static int read_host(struct vsock_conn *c, const struct vsock_pkt *pkts, int n, uint32_t credit,
		     uint32_t *lens)
{
	struct iovec iov[VSOCK_RX_IOV_MAX];
	size_t share[VSOCK_RX_BATCH], total = 0, left;
	int cnt = 0, np, k = 0;
	ssize_t r;

	for (np = 0; np < n && np < VSOCK_RX_BATCH && total < credit && cnt < VSOCK_RX_IOV_MAX;
	     np++) {
		const struct vsock_pkt *p = &pkts[np];
		size_t want = MIN(MIN(p->room, (size_t)credit - total), (size_t)VSOCK_MAX_PKT_BUF);
		size_t got = 0;

		for (int i = 0; i < p->iovcnt && got < want && cnt < VSOCK_RX_IOV_MAX; i++) {
			size_t l = MIN(p->iov[i].iov_len, want - got);

			if (!l)
				continue;
			iov[cnt++] = (struct iovec){p->iov[i].iov_base, l};
			got += l;
		}
		share[np] = got;
		total += got;
	}
	if (!cnt)
		return 0;
	do
		r = readv(c->fd, iov, cnt);
	while (r < 0 && errno == EINTR);
	if (r > 0) {
		c->rx_cnt += (uint32_t)r;
		left = (size_t)r;
		for (int i = 0; i < np && left; i++) {
			lens[i] = (uint32_t)MIN(share[i], left);
			left -= lens[i];
			k = i + 1;
		}
		return k;
	}
	if (r == 0 || c->hup) {
		local_eof(c);
	} else if (errno == EAGAIN || errno == EWOULDBLOCK) {
		c->readable = false;
	} else {
		c->stats->rx_read_fails++;
		vsock_conn_kill(c);
	}
	return 0;
}

bool vsock_conn_has_rx(const struct vsock_conn *c)
{
	if (c->state == VSOCK_CONN_CLOSED)
		return false;
	if (c->pending & PEND_ALL)
		return true;
	return rx_data_open(c) && c->readable && vsock_conn_peer_credit(c) > 0;
}

/* Header of a packet to the guest; every header carries the credit. */
static void fill_hdr(struct vsock_conn *c, struct vsock_pkt *pkt, uint16_t op, uint32_t len,
		     uint32_t flags)
{
	vsock_hdr_fill(&pkt->hdr, c->guest_cid, c->local_port, c->peer_port, op, len, flags,
		       VSOCK_CONN_BUF_SIZE, c->fwd_cnt);
	c->last_fwd_cnt_sent = c->fwd_cnt;
	c->pending &= ~VSOCK_PEND_CREDIT_UPDATE;
}

/* One control packet owed to the guest, if any. */
static bool recv_control(struct vsock_conn *c, struct vsock_pkt *pkt)
{
	if (c->pending & VSOCK_PEND_RST) {
		fill_hdr(c, pkt, VIRTIO_VSOCK_OP_RST, 0, 0);
		c->pending = 0;
		c->state = VSOCK_CONN_CLOSED;
		c->stats->rst_sent++;
	} else if (c->pending & VSOCK_PEND_REQUEST) {
		fill_hdr(c, pkt, VIRTIO_VSOCK_OP_REQUEST, 0, 0);
		c->pending &= ~VSOCK_PEND_REQUEST;
		c->expiry_ms = vsock_now_ms() + VSOCK_REQUEST_TIMEOUT_MS;
	} else if (c->pending & VSOCK_PEND_RESPONSE) {
		fill_hdr(c, pkt, VIRTIO_VSOCK_OP_RESPONSE, 0, 0);
		c->pending &= ~VSOCK_PEND_RESPONSE;
		c->state = VSOCK_CONN_ESTABLISHED;
	} else {
		return false;
	}
	return true;
}

/* Control packets that follow the data (they go out once it is read). */
static bool recv_late_control(struct vsock_conn *c, struct vsock_pkt *pkt)
{
	uint32_t flags;

	if (c->pending & VSOCK_PEND_SHUTDOWN) {
		flags = c->shutdown_flags;
		fill_hdr(c, pkt, VIRTIO_VSOCK_OP_SHUTDOWN, 0, flags);
		c->pending &= ~VSOCK_PEND_SHUTDOWN;
		if ((flags & SHUT_BOTH) == SHUT_BOTH) {
			c->state = VSOCK_CONN_LOCAL_CLOSED;
			c->pending &= ~VSOCK_PEND_CREDIT_REQUEST;
			c->expiry_ms = vsock_now_ms() + VSOCK_SHUTDOWN_TIMEOUT_MS;
		}
		return true;
	}
	if (c->pending & VSOCK_PEND_CREDIT_UPDATE) {
		fill_hdr(c, pkt, VIRTIO_VSOCK_OP_CREDIT_UPDATE, 0, 0);
		return true;
	}
	if (c->pending & VSOCK_PEND_CREDIT_REQUEST) {
		fill_hdr(c, pkt, VIRTIO_VSOCK_OP_CREDIT_REQUEST, 0, 0);
		c->pending &= ~VSOCK_PEND_CREDIT_REQUEST;
		return true;
	}
	return false;
}

int vsock_conn_recv_pkts(struct vsock_conn *c, struct vsock_pkt *pkts, int n)
{
	uint32_t lens[VSOCK_RX_BATCH], credit;
	int k;

	if (c->state == VSOCK_CONN_CLOSED || n <= 0)
		return 0;
	if (recv_control(c, &pkts[0]))
		return 1;
	credit = vsock_conn_peer_credit(c);
	if (rx_data_open(c) && c->readable && credit > 0) {
		k = read_host(c, pkts, n, credit, lens);
		for (int i = 0; i < k; i++)
			fill_hdr(c, &pkts[i], VIRTIO_VSOCK_OP_RW, lens[i], 0);
		if (k)
			return k;
		if (recv_control(c, &pkts[0])) /* the read failed: RST */
			return 1;
	}
	if (recv_late_control(c, &pkts[0]))
		return 1;
	update_credit_state(c);
	return recv_late_control(c, &pkts[0]) ? 1 : 0;
}

int vsock_conn_recv_pkt(struct vsock_conn *c, struct vsock_pkt *pkt)
{
	return vsock_conn_recv_pkts(c, pkt, 1) ? 0 : -EAGAIN;
}

/* ---- host stream events ---- */

void vsock_conn_notify(struct vsock_conn *c, uint32_t events)
{
	if (c->fd < 0 || gone(c))
		return;
	if (events & EPOLLERR) {
		c->stats->conn_event_fails++;
		vsock_conn_kill(c);
		return;
	}
	if ((events & EPOLLOUT) && c->txbuf.len)
		flush_tx(c);
	if (gone(c))
		return;
	if (events & EPOLLIN)
		c->readable = true;
	if ((events & EPOLLHUP) && !c->hup) {
		c->hup = true;
		switch (c->state) {
		case VSOCK_CONN_LOCAL_INIT: /* the host client left before the guest answered */
			vsock_conn_kill(c);
			return;
		case VSOCK_CONN_ESTABLISHED:
			if (c->txbuf.len) { /* can never be delivered */
				c->stats->tx_flush_fails++;
				vsock_conn_kill(c);
				return;
			}
			if (c->local_eof || c->peer_shut_rcv) {
				/* Nothing more to read: tell the guest we are gone. */
				local_eof(c);
			} else {
				c->readable = true; /* drain to EOF without epoll */
			}
			break;
		case VSOCK_CONN_PEER_CLOSED:
			c->stats->tx_flush_fails++;
			vsock_conn_kill(c);
			return;
		default: /* PEER_INIT: RESPONSE first, then read to EOF */
			c->readable = true;
			break;
		}
	}
	update_credit_state(c);
}

bool vsock_conn_poll_events(const struct vsock_conn *c, uint32_t *events)
{
	uint32_t ev = 0;

	if (c->fd < 0 || c->hup || gone(c) || c->state == VSOCK_CONN_LOCAL_CLOSED)
		return false;
	if (rx_data_open(c) && !c->readable)
		ev |= EPOLLIN;
	if (c->txbuf.len)
		ev |= EPOLLOUT;
	*events = ev;
	return true;
}

bool vsock_conn_fd_done(const struct vsock_conn *c)
{
	return c->fd >= 0 && (gone(c) || c->state == VSOCK_CONN_LOCAL_CLOSED);
}
