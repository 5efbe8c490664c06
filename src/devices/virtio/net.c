/* virtio-net: receive and transmit queues over a TAP or a stream socket
 * (see virtio_net.h). */
#include "ember/virtio_net.h"

#include <endian.h>
#include <errno.h>
#include <linux/if_ether.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/timerfd.h>
#include <time.h>
#include <sys/uio.h>
#include <unistd.h>

#include "ember/error.h"
#include "ember/log.h"
#include "ember/util.h"

#define F(bit) VIRTIO_FEATURE(VIRTIO_NET_F_##bit)
#define NET_BASE_FEATURES (F(MAC) | F(STATUS) | F(MRG_RXBUF))
/* One byte more than the largest frame we take: a read that fills it was
 * truncated. */
#define RX_BUF_SIZE (VIRTIO_NET_MAX_BUFFER + 1)
/* Config space up to and including mtu. */
#define NET_CONFIG_SIZE (offsetof(struct virtio_net_config, mtu) + sizeof(uint16_t))

/* Per-device counter (published to the metrics group by publish_metrics). */
#define NET_ADD(n, field, v) ((n)->stats.field += (v))
#define NET_INC(n, field) NET_ADD(n, field, 1)

static struct virtio_net *to_net(struct virtio_dev *vd)
{
	return container_of(vd, struct virtio_net, vdev);
}

static bool has(const struct virtio_net *n, unsigned bit)
{
	return virtio_dev_has_feature(&n->vdev, bit);
}

_Static_assert(NET_STREAM_MAX_FRAME == VIRTIO_NET_MAX_FRAME, "stream and device frame limits");

/* The backend's descriptor. */
static int backend_fd(const struct virtio_net *n)
{
	return n->is_stream ? n->stream.fd : n->tap.fd;
}

/* ---- receive: backend -> guest ---- */

/* The events the backend fd is watched for: EPOLLIN while the guest can
 * take frames, EPOLLOUT while a stream's tx waits for room. Only the VMM
 * thread touches the event loop. */
static bool set_events(struct virtio_net *n, bool rx, bool out)
{
	if ((n->rx_polling == rx && n->tx_wait_out == out) || !n->vdev.el || n->tap_dead)
		return false;
	if (el_modify(n->vdev.el, backend_fd(n), (rx ? EPOLLIN : 0) | (out ? EPOLLOUT : 0)) < 0) {
		NET_INC(n, event_fails);
		return false;
	}
	n->rx_polling = rx;
	n->tx_wait_out = out;
	return true;
}

static void rx_set_polling(struct virtio_net *n, bool on)
{
	set_events(n, on, n->tx_wait_out);
}

/* The backend failed for good (TAP gone, stream peer dead or speaking
 * nonsense): stop watching it. A stream's link goes down for the guest. */
static void tap_failed(struct virtio_net *n, const char *what, int err)
{
	if (n->tap_dead)
		return;
	if (n->is_stream)
		log_warn("virtio-net %s: stream peer: %s%s%s; link down", n->id, what,
			 err ? ": " : "", err ? strerror(err) : "");
	else
		log_warn("virtio-net %s: tap %s: %s%s%s; receive stops", n->id, n->tap.name, what,
			 err ? ": " : "", err ? strerror(err) : "");
	if (n->vdev.el)
		el_remove(n->vdev.el, backend_fd(n));
	n->tap_dead = true;
	n->rx_polling = n->tx_wait_out = false;
	if (n->is_stream)
		virtio_dev_config_changed(&n->vdev); /* STATUS: link down */
}

/* Stream: the next frame behind a zeroed header, as rx_read. */
static int rx_read_stream(struct virtio_net *n)
{
	int r = net_stream_recv(&n->stream, n->rx_buf + VIRTIO_NET_HDR_LEN,
				RX_BUF_SIZE - VIRTIO_NET_HDR_LEN);

	if (r == -EAGAIN)
		return r;
	if (r < 0) {
		NET_INC(n, tap_read_fails);
		return r;
	}
	NET_INC(n, rx_count);
	if (r == 0) {
		NET_INC(n, rx_fails); /* runt */
		return 0;
	}
	memset(n->rx_buf, 0, VIRTIO_NET_HDR_LEN);
	n->rx_len = VIRTIO_NET_HDR_LEN + (size_t)r;
	n->rx_pending = true;
	n->rx_mmds = false;
	n->rx_checked = n->rx_charged = false;
	n->rx_nheld = 0;
	n->rx_off = 0;
	return 1;
}

/* Read one frame into rx_buf: 1 (rx_pending set), 0 (nothing usable was
 * read: try again), -EAGAIN (TAP empty) or another -errno (TAP broken). */
static int rx_read(struct virtio_net *n)
{
	ssize_t r;

	if (n->is_stream)
		return rx_read_stream(n);
	do
		r = read(n->tap.fd, n->rx_buf, RX_BUF_SIZE);
	while (r < 0 && errno == EINTR);
	if (r < 0) {
		if (errno == EAGAIN)
			return -EAGAIN;
		NET_INC(n, tap_read_fails);
		return -errno;
	}
	NET_INC(n, rx_count);
	if ((size_t)r < VIRTIO_NET_HDR_LEN + ETH_HLEN || (size_t)r > VIRTIO_NET_MAX_BUFFER) {
		NET_INC(n, rx_fails); /* runt or truncated */
		return 0;
	}
	n->rx_len = (size_t)r;
	n->rx_pending = true;
	n->rx_mmds = false;
	n->rx_checked = n->rx_charged = false;
	n->rx_nheld = 0;
	n->rx_off = 0;
	return 1;
}

static uint64_t mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* The MMDS responder's next frame into rx_buf: 1 (rx_pending set) or 0. */
static int rx_from_mmds(struct virtio_net *n)
{
	size_t len;

	if (mmds_net_idle(n->mmds))
		return 0; /* the common case: no clock read, no scan */
	len = mmds_net_output(n->mmds, n->rx_buf + VIRTIO_NET_HDR_LEN,
			      RX_BUF_SIZE - VIRTIO_NET_HDR_LEN, mono_ms());
	if (!len)
		return 0;
	memset(n->rx_buf, 0, VIRTIO_NET_HDR_LEN); /* checksums are complete */
	n->rx_mmds = true;
	n->rx_len = VIRTIO_NET_HDR_LEN + len;
	n->rx_pending = true;
	n->rx_checked = false;
	n->rx_charged = true; /* the MMDS is not the TAP's traffic */
	n->rx_nheld = 0;
	n->rx_off = 0;
	return 1;
}

/* The responder's timer to its next deadline (one syscall when it moved). */
static void mmds_arm_timer(struct virtio_net *n)
{
	uint64_t at = mmds_net_deadline(n->mmds);
	struct itimerspec its = {
	    .it_value = {.tv_sec = (time_t)(at / 1000), .tv_nsec = (long)(at % 1000) * 1000000}};

	if (at == n->mmds_timer_at || n->mmds_timer_fd < 0)
		return;
	if (timerfd_settime(n->mmds_timer_fd, TFD_TIMER_ABSTIME, &its, NULL) < 0)
		NET_INC(n, event_fails);
	else
		n->mmds_timer_at = at;
}

/* Make the kernel's header fit what the guest negotiated (the TAP offloads
 * should guarantee it; a frame that still does not fit is dropped). */
static bool rx_header_fixup(struct virtio_net *n, struct virtio_net_hdr_v1 *h)
{
	if (!has(n, VIRTIO_NET_F_GUEST_CSUM)) {
		if (h->flags & VIRTIO_NET_HDR_F_NEEDS_CSUM)
			return false;
		h->flags = 0; /* "MUST set flags to zero" */
	}
	switch (h->gso_type) {
	case VIRTIO_NET_HDR_GSO_NONE:
		break;
	case VIRTIO_NET_HDR_GSO_TCPV4:
		if (!has(n, VIRTIO_NET_F_GUEST_TSO4))
			return false;
		break;
	case VIRTIO_NET_HDR_GSO_TCPV6:
		if (!has(n, VIRTIO_NET_F_GUEST_TSO6))
			return false;
		break;
	case VIRTIO_NET_HDR_GSO_UDP:
		if (!has(n, VIRTIO_NET_F_GUEST_UFO))
			return false;
		break;
	default: /* ECN and anything newer: never offered */
		return false;
	}
	h->num_buffers = htole16(1);
	return true;
}

/* Pop the next usable receive chain into c: 1, 0 (none), -EIO (queue
 * broken). Unusable chains (bad, or too small for the header) go back to
 * the driver empty; *pushed notes that, and held buffers stop being
 * contiguous in the ring. */
static int rx_pop(struct virtio_net *n, struct virtqueue *vq, struct vq_chain *c, bool *pushed)
{
	for (;;) {
		int r = vq_pop(vq, c);

		if (r <= 0 && r != -EBADMSG)
			return r;
		if (r == 1 && c->write_len >= VIRTIO_NET_HDR_LEN)
			return 1;
		vq_push(vq, c->head, 0);
		*pushed = true;
		n->rx_held_contig = false;
		NET_INC(n, rx_fails);
	}
}

/* One buffer per frame (no MRG_RXBUF). 1 delivered, 0 dropped, -ENOBUFS,
 * -EIO. */
static int rx_deliver_one(struct virtio_net *n, struct virtqueue *vq, bool *pushed)
{
	struct vq_chain *c = &n->rx_chain;
	int r = rx_pop(n, vq, c, pushed);

	if (r <= 0)
		return r == 0 ? -ENOBUFS : r;
	if (c->write_len < n->rx_len) {
		/* Never fits this driver's buffers: drop the frame, keep the
		 * buffer for the next one. */
		vq_unpop(vq);
		return 0;
	}
	vq_chain_write(c, 0, n->rx_buf, n->rx_len);
	vq_push(vq, c->head, (uint32_t)n->rx_len);
	*pushed = true;
	return 1;
}

/* Give the held buffers back unused: into the ring again when nothing was
 * popped between them, else to the driver empty. */
static void rx_release_held(struct virtio_net *n, struct virtqueue *vq, bool *pushed)
{
	for (uint16_t i = 0; i < n->rx_nheld; i++) {
		if (n->rx_held_contig) {
			vq_unpop(vq);
		} else {
			vq_push(vq, n->rx_heads[i], 0);
			*pushed = true;
		}
	}
	n->rx_nheld = 0;
	n->rx_off = 0;
}

/* MRG_RXBUF: as many buffers as the frame needs, num_buffers in the first
 * one's header. Buffers are filled as they are popped and held while the
 * driver has no more (so the next kick means new buffers). 1 delivered, 0
 * dropped, -ENOBUFS (wait for buffers), -EIO. */
static int rx_deliver_mrg(struct virtio_net *n, struct virtqueue *vq, bool *pushed)
{
	struct vq_chain *c = &n->rx_chain;
	uint16_t nb;
	size_t w;

	while (n->rx_off < n->rx_len) {
		int r;

		if (n->rx_nheld >= vq->size) {
			/* Every buffer the driver can give is here: never fits. */
			rx_release_held(n, vq, pushed);
			return 0;
		}
		r = rx_pop(n, vq, c, pushed);
		if (r == 0)
			return -ENOBUFS;
		if (r < 0)
			return r;
		if (n->rx_nheld == 0) {
			n->rx_held_contig = true;
			n->rx_nb_niov =
			    vq_chain_iov(c, true, offsetof(struct virtio_net_hdr_v1, num_buffers),
					 sizeof(nb), n->rx_nb_iov, 2);
		}
		w = MIN((size_t)c->write_len, n->rx_len - n->rx_off);
		vq_chain_write(c, 0, n->rx_buf + n->rx_off, w);
		n->rx_heads[n->rx_nheld] = c->head;
		n->rx_lens[n->rx_nheld++] = (uint32_t)w;
		n->rx_off += w;
	}
	nb = htole16(n->rx_nheld);
	for (int i = 0, done = 0; i < n->rx_nb_niov; i++) {
		memcpy(n->rx_nb_iov[i].iov_base, (uint8_t *)&nb + done, n->rx_nb_iov[i].iov_len);
		done += (int)n->rx_nb_iov[i].iov_len;
	}
	for (uint16_t i = 0; i < n->rx_nheld; i++)
		vq_push(vq, n->rx_heads[i], n->rx_lens[i]);
	*pushed = true;
	n->rx_nheld = 0;
	n->rx_off = 0;
	return 1;
}

/* Deliver the pending frame: 0 done (delivered or dropped), -ENOBUFS, -EAGAIN
 * (throttled), -EIO (queue broken). */
static int rx_deliver(struct virtio_net *n, struct virtqueue *vq, bool *pushed)
{
	uint64_t bytes = n->rx_len - VIRTIO_NET_HDR_LEN;
	int r;

	if (!n->rx_checked) {
		struct virtio_net_hdr_v1 h;

		memcpy(&h, n->rx_buf, sizeof(h));
		if (!rx_header_fixup(n, &h)) {
			NET_INC(n, rx_fails);
			return 0;
		}
		memcpy(n->rx_buf, &h, sizeof(h));
		n->rx_checked = true;
	}
	if (!n->rx_charged) {
		if (!rl_consume(&n->rx_rl, 1, bytes)) {
			NET_INC(n, rx_rate_limiter_throttled);
			n->rx_throttled = true;
			return -EAGAIN;
		}
		n->rx_charged = true;
	}
	r = has(n, VIRTIO_NET_F_MRG_RXBUF) ? rx_deliver_mrg(n, vq, pushed)
					   : rx_deliver_one(n, vq, pushed);
	if (r == -ENOBUFS || r == -EIO)
		return r;
	if (r == 1) {
		NET_INC(n, rx_packets_count);
		NET_ADD(n, rx_bytes_count, bytes);
		if (n->rx_mmds) {
			n->mmds_stats.tx_frames++;
			n->mmds_stats.tx_bytes += bytes;
		}
	} else {
		NET_INC(n, rx_fails); /* does not fit the driver's buffers */
		if (n->rx_mmds)
			n->mmds_stats.tx_errors++;
		rl_replenish(&n->rx_rl, 1, bytes);
	}
	return 0;
}

/* Come back to the rx queue after the other fds (a queue notification). */
static void rx_kick_self(struct virtio_net *n)
{
	uint64_t one = 1;

	if (write(n->vdev.queue_evfd[VIRTIO_NET_RXQ], &one, sizeof(one)) < 0)
		NET_INC(n, event_fails);
}

static void tx_process(struct virtio_net *n);

static void rx_process(struct virtio_net *n)
{
	struct virtio_dev *vd = &n->vdev;
	struct virtqueue *vq = &vd->queues[VIRTIO_NET_RXQ];
	unsigned budget = VIRTIO_NET_RX_BUDGET;
	bool pushed = false;
	int r;

	if (!virtio_dev_live(vd) || !vq->active || n->tap_dead || n->rx_throttled) {
		rx_set_polling(n, false);
		return;
	}
	/* While we have buffers, kicks for more are not needed. */
	vq_disable_notification(vq);
	for (;;) {
		if (!n->rx_pending) {
			if (vq_avail_count(vq) == 0) {
				if (vq_enable_notification(vq))
					continue; /* buffers came meanwhile */
				/* Out of buffers: frames wait in the TAP
				 * until the driver kicks the rx queue. */
				NET_INC(n, no_rx_avail_buffer);
				rx_set_polling(n, false);
				break;
			}
			if (budget-- == 0) {
				rx_set_polling(n, true); /* level-triggered: back soon */
				if (n->is_stream && net_stream_rx_ready(&n->stream))
					rx_kick_self(n); /* buffered: the fd may stay quiet */
				break;
			}
			r = n->mmds ? rx_from_mmds(n) : 0;
			if (r == 0)
				r = rx_read(n);
			if (r == 0)
				continue;
			if (r == -EAGAIN) {
				rx_set_polling(n, true);
				break;
			}
			if (r < 0) {
				tap_failed(n,
					   r == -EPROTO	 ? "frame length out of range"
					   : r == -EPIPE ? "closed"
							 : "read",
					   r == -EPROTO || r == -EPIPE ? 0 : -r);
				break;
			}
		}
		r = rx_deliver(n, vq, &pushed);
		if (r == -ENOBUFS) {
			/* Everything available was taken (and is held): a kick
			 * now means new buffers. */
			if (vq_enable_notification(vq))
				continue;
			NET_INC(n, no_rx_avail_buffer);
			rx_set_polling(n, false);
			break;
		}
		if (r == -EAGAIN) {
			rx_set_polling(n, false); /* the limiter's timer resumes */
			break;
		}
		if (r == -EIO) {
			virtio_dev_set_needs_reset(vd);
			rx_set_polling(n, false);
			break;
		}
		n->rx_pending = false;
	}
	if (pushed)
		virtio_dev_notify(vd, VIRTIO_NET_RXQ);
	if (n->mmds)
		mmds_arm_timer(n);
}

/* VMM thread: the TAP has frames (or failed). */
static void tap_event(void *opaque, int fd, uint32_t events)
{
	struct virtio_net *n = opaque;

	pthread_mutex_lock(&n->vdev.lock);
	if (events & (EPOLLERR | EPOLLHUP)) {
		NET_INC(n, event_fails);
		tap_failed(n, "error event", 0);
	} else if (!n->tap_dead) {
		NET_INC(n, rx_tap_event_count);
		rx_process(n);
	}
	pthread_mutex_unlock(&n->vdev.lock);
}

/* VMM thread: the stream socket has bytes, room, or its peer is gone. Bytes
 * that came before a hang-up are still read (EPOLLIN with EPOLLHUP); the
 * read then sees the end. */
static void stream_event(void *opaque, int fd, uint32_t events)
{
	struct virtio_net *n = opaque;
	bool was_dead;
	int r;

	pthread_mutex_lock(&n->vdev.lock);
	was_dead = n->tap_dead;
	if (!n->tap_dead && (events & EPOLLOUT)) {
		r = net_stream_flush(&n->stream);
		if (r == 0) {
			set_events(n, n->rx_polling, false);
			tx_process(n);
		} else if (r != -EAGAIN) {
			NET_INC(n, tap_write_fails);
			tap_failed(n, "write", -r);
		}
	}
	if (!n->tap_dead && (events & EPOLLIN)) {
		NET_INC(n, rx_tap_event_count);
		rx_process(n);
	}
	if (!n->tap_dead && (events & (EPOLLERR | EPOLLHUP))) {
		/* Peer gone and nothing (more) to read for the guest now. */
		NET_INC(n, event_fails);
		tap_failed(n, events & EPOLLERR ? "socket error" : "hung up", 0);
	}
	if (!was_dead && n->tap_dead)
		tx_process(n); /* chains that waited for room: dropped, returned */
	pthread_mutex_unlock(&n->vdev.lock);
}

/* ---- transmit: guest -> TAP ---- */

/* The guest's header against the frame and the negotiated features. */
static bool tx_header_valid(const struct virtio_net *n, const struct virtio_net_hdr_v1 *h,
			    size_t frame_len)
{
	uint16_t hdr_len = le16toh(h->hdr_len), gso_size = le16toh(h->gso_size);
	uint16_t cstart = le16toh(h->csum_start), coff = le16toh(h->csum_offset);

	if (h->flags & ~VIRTIO_NET_HDR_F_NEEDS_CSUM)
		return false; /* DATA_VALID / RSC_INFO are receive-only */
	if (h->flags & VIRTIO_NET_HDR_F_NEEDS_CSUM) {
		if (!has(n, VIRTIO_NET_F_CSUM))
			return false;
		/* The 16-bit checksum goes at csum_start + csum_offset. */
		if (cstart >= frame_len || coff > frame_len - cstart ||
		    frame_len - cstart - coff < 2)
			return false;
	}
	if (hdr_len > frame_len)
		return false;
	switch (h->gso_type) {
	case VIRTIO_NET_HDR_GSO_NONE:
		return true;
	case VIRTIO_NET_HDR_GSO_TCPV4:
		if (!has(n, VIRTIO_NET_F_HOST_TSO4))
			return false;
		break;
	case VIRTIO_NET_HDR_GSO_TCPV6:
		if (!has(n, VIRTIO_NET_F_HOST_TSO6))
			return false;
		break;
	case VIRTIO_NET_HDR_GSO_UDP:
		if (!has(n, VIRTIO_NET_F_HOST_UFO))
			return false;
		break;
	default: /* ECN (HOST_ECN not offered) or unknown */
		return false;
	}
	/* GSO needs the checksum offload and a segment size. */
	return (h->flags & VIRTIO_NET_HDR_F_NEEDS_CSUM) && gso_size > 0;
}

/* Stream: the frame without the vnet header (none was negotiated that
 * would matter: no offloads are offered). 0 sent (or kept by the stream,
 * or dropped and counted), -EBUSY the stream still sends an earlier frame. */
static int tx_frame_stream(struct virtio_net *n, int cnt, size_t frame_len)
{
	int r;

	if (n->tap_dead) {
		NET_INC(n, tx_fails); /* link down: lost, as on a cable */
		return 0;
	}
	r = net_stream_send(&n->stream, n->tx_iov, cnt + 1, frame_len);
	if (r == -EAGAIN)
		return -EBUSY;
	if (r < 0) {
		NET_INC(n, tap_write_fails);
		NET_INC(n, tx_fails);
		if (r != -EMSGSIZE)
			tap_failed(n, "write", -r);
		return 0;
	}
	NET_INC(n, tx_count);
	NET_INC(n, tx_packets_count);
	NET_ADD(n, tx_bytes_count, frame_len);
	return 0;
}

/* A frame for the MMDS goes to its responder: true (taken), false (for the
 * TAP). peek: the frame's first bytes (plen), already read. */
static bool tx_to_mmds(struct virtio_net *n, const struct vq_chain *c,
		       const struct virtio_net_hdr_v1 *h, size_t frame_len, const uint8_t *peek,
		       size_t plen)
{
	size_t got;

	if (!mmds_net_wants(n->mmds, peek, plen))
		return false;
	got = vq_chain_read(c, VIRTIO_NET_HDR_LEN, n->mmds_buf, frame_len);
	mmds_net_input(n->mmds, n->mmds_buf, got, h->flags & VIRTIO_NET_HDR_F_NEEDS_CSUM,
		       mono_ms());
	return true;
}

/* One transmit chain: 0 done (sent, or dropped and counted), -EAGAIN
 * throttled, -EBUSY the stream is full (nothing consumed either way). */
static int tx_frame(struct virtio_net *n, const struct vq_chain *c)
{
	struct virtio_net_hdr_v1 h;
	uint8_t peek[MMDS_NET_PEEK_LEN]; /* addresses, and what the MMDS looks at */
	size_t frame_len, plen;
	ssize_t w;
	int cnt;

	if (c->read_len < VIRTIO_NET_HDR_LEN) {
		NET_INC(n, tx_malformed_frames);
		return 0;
	}
	frame_len = c->read_len - VIRTIO_NET_HDR_LEN;
	/* One copy of the header: validated and written from here. */
	vq_chain_read(c, 0, &h, sizeof(h));
	if (frame_len < ETH_HLEN || frame_len > VIRTIO_NET_MAX_FRAME ||
	    !tx_header_valid(n, &h, frame_len)) {
		NET_INC(n, tx_malformed_frames);
		return 0;
	}
	if (n->is_stream && !n->tap_dead && net_stream_tx_blocked(&n->stream))
		return -EBUSY; /* before the limiter: nothing is charged twice */
	if (!rl_consume(&n->tx_rl, 1, frame_len)) {
		NET_INC(n, tx_rate_limiter_throttled);
		return -EAGAIN;
	}
	/* One read for both checks: the source MAC, and with MMDS on the bytes
	 * up to the IPv4 destination / ARP target. */
	plen = n->mmds ? MIN(frame_len, sizeof(peek)) : 2 * ETH_ALEN;
	plen = vq_chain_read(c, VIRTIO_NET_HDR_LEN, peek, plen);
	if (plen < 2 * ETH_ALEN || memcmp(peek + ETH_ALEN, n->mac, ETH_ALEN) != 0)
		NET_INC(n, tx_spoofed_mac_count);
	if (n->mmds && tx_to_mmds(n, c, &h, frame_len, peek, plen))
		return 0;
	h.num_buffers = 0;
	n->tx_iov[0] = (struct iovec){.iov_base = &h, .iov_len = sizeof(h)};
	cnt = vq_chain_iov(c, false, VIRTIO_NET_HDR_LEN, frame_len, &n->tx_iov[1], VQ_MAX_SIZE);
	if (cnt < 0) {
		NET_INC(n, tx_malformed_frames);
		return 0;
	}
	if (n->is_stream)
		return tx_frame_stream(n, cnt, frame_len);
	do
		w = writev(n->tap.fd, n->tx_iov, cnt + 1);
	while (w < 0 && errno == EINTR);
	if (w < 0) {
		/* The kernel refused it (its own header checks) or the TAP is
		 * gone: the frame is lost, the guest carries on. */
		NET_INC(n, tap_write_fails);
		NET_INC(n, tx_fails);
		return 0;
	}
	NET_INC(n, tx_count);
	NET_INC(n, tx_packets_count);
	NET_ADD(n, tx_bytes_count, frame_len);
	return 0;
}

static void tx_kick_self(struct virtio_net *n)
{
	uint64_t one = 1;

	if (write(n->vdev.queue_evfd[VIRTIO_NET_TXQ], &one, sizeof(one)) < 0)
		NET_INC(n, event_fails);
}

/* After the responder took input or its timer ran: deliver what it has and
 * arm the timer for its next deadline. */
static void mmds_after(struct virtio_net *n)
{
	if (mmds_net_has_output(n->mmds) && !n->rx_pending)
		rx_process(n);
	mmds_arm_timer(n);
}

/* VMM thread: the responder's retransmission timer. */
static void mmds_timer_event(void *opaque, int fd, uint32_t events)
{
	struct virtio_net *n = opaque;
	uint64_t ticks;

	pthread_mutex_lock(&n->vdev.lock);
	if (read(fd, &ticks, sizeof(ticks)) < 0 && errno != EAGAIN)
		NET_INC(n, event_fails);
	n->mmds_timer_at = 0;
	mmds_net_timer(n->mmds, mono_ms());
	if (virtio_dev_live(&n->vdev))
		mmds_after(n);
	pthread_mutex_unlock(&n->vdev.lock);
}

static void tx_process(struct virtio_net *n)
{
	struct virtio_dev *vd = &n->vdev;
	struct virtqueue *vq = &vd->queues[VIRTIO_NET_TXQ];
	unsigned budget = VIRTIO_NET_TX_BUDGET;
	bool pushed = false, any = false;
	int r;

	if (!virtio_dev_live(vd) || !vq->active || n->tx_throttled || n->tx_wait_out)
		return;
	do {
		vq_disable_notification(vq);
		for (;;) {
			if (budget == 0) {
				/* A driver that keeps adding must not hold the
				 * loop: come back after the other fds. */
				uint64_t one = 1;

				if (write(vd->queue_evfd[VIRTIO_NET_TXQ], &one, sizeof(one)) < 0)
					NET_INC(n, event_fails);
				goto out;
			}
			if ((r = vq_pop(vq, &n->tx_chain)) == 0)
				break;
			budget--;
			any = true;
			if (r == -EIO) {
				virtio_dev_set_needs_reset(vd);
				goto out;
			}
			if (r < 0) {
				NET_INC(n, tx_malformed_frames);
			} else if ((r = tx_frame(n, &n->tx_chain)) == -EAGAIN) {
				/* Resume on the limiter's timer; no kick needed. */
				vq_unpop(vq);
				n->tx_throttled = true;
				goto out;
			} else if (r == -EBUSY) {
				/* Resume when the stream socket has room. */
				vq_unpop(vq);
				if (!set_events(n, n->rx_polling, true))
					tx_kick_self(n); /* cannot wait: poll again */
				goto out;
			}
			vq_push(vq, n->tx_chain.head, 0);
			pushed = true;
		}
	} while (vq_enable_notification(vq));
out:
	if (!any)
		NET_INC(n, no_tx_avail_buffer);
	if (pushed)
		virtio_dev_notify(vd, VIRTIO_NET_TXQ);
	if (n->mmds)
		mmds_after(n);
}

/* ---- rate limiter timers (VMM thread) ---- */

static void rx_rl_event(void *opaque, int fd, uint32_t events)
{
	struct virtio_net *n = opaque;

	pthread_mutex_lock(&n->vdev.lock);
	rl_timer_event(&n->rx_rl);
	NET_INC(n, rx_event_rate_limiter_count);
	if (!rl_blocked(&n->rx_rl) && n->rx_throttled) {
		n->rx_throttled = false;
		rx_process(n);
	}
	pthread_mutex_unlock(&n->vdev.lock);
}

static void tx_rl_event(void *opaque, int fd, uint32_t events)
{
	struct virtio_net *n = opaque;

	pthread_mutex_lock(&n->vdev.lock);
	rl_timer_event(&n->tx_rl);
	NET_INC(n, tx_rate_limiter_event_count);
	if (!rl_blocked(&n->tx_rl) && n->tx_throttled) {
		n->tx_throttled = false;
		tx_process(n);
	}
	pthread_mutex_unlock(&n->vdev.lock);
}

/* ---- device ops ---- */

static void net_queue_notify(struct virtio_dev *vd, unsigned q)
{
	struct virtio_net *n = to_net(vd);

	if (q == VIRTIO_NET_RXQ) {
		NET_INC(n, rx_queue_event_count);
		rx_process(n);
	} else if (q == VIRTIO_NET_TXQ) {
		NET_INC(n, tx_queue_event_count);
		tx_process(n);
	}
}

static void net_config_read(struct virtio_dev *vd, uint32_t off, void *data, uint32_t len)
{
	struct virtio_net *n = to_net(vd);
	struct virtio_net_config cfg;

	memset(&cfg, 0, sizeof(cfg));
	memcpy(cfg.mac, n->mac, sizeof(cfg.mac));
	cfg.status = htole16(n->is_stream && n->tap_dead ? 0 : VIRTIO_NET_S_LINK_UP);
	cfg.max_virtqueue_pairs = htole16(1);
	cfg.mtu = htole16(n->mtu);
	memcpy(data, (uint8_t *)&cfg + off, len);
}

/* Feature dependencies (virtio 1.2, 5.1.3.1). */
static bool net_features_ok(struct virtio_dev *vd, uint64_t f)
{
	if ((f & (F(GUEST_TSO4) | F(GUEST_TSO6) | F(GUEST_UFO))) && !(f & F(GUEST_CSUM)))
		return false;
	if ((f & (F(HOST_TSO4) | F(HOST_TSO6) | F(HOST_UFO))) && !(f & F(CSUM)))
		return false;
	return true;
}

static int net_activate(struct virtio_dev *vd)
{
	struct virtio_net *n = to_net(vd);
	unsigned off = 0;

	if (!vd->queues[VIRTIO_NET_RXQ].active || !vd->queues[VIRTIO_NET_TXQ].active) {
		NET_INC(n, activate_fails);
		log_warn("virtio-net %s: driver did not set up both queues", n->id);
		return -EINVAL;
	}
	if (has(n, VIRTIO_NET_F_GUEST_CSUM))
		off |= TUN_F_CSUM;
	if (has(n, VIRTIO_NET_F_GUEST_TSO4))
		off |= TUN_F_TSO4;
	if (has(n, VIRTIO_NET_F_GUEST_TSO6))
		off |= TUN_F_TSO6;
	if (has(n, VIRTIO_NET_F_GUEST_UFO))
		off |= TUN_F_UFO;
	if (!n->is_stream && !n->tap_dead && tap_set_offloads(&n->tap, off) < 0) {
		NET_INC(n, activate_fails);
		log_warn("virtio-net %s: %s", n->id, err_msg());
		return -EIO;
	}
	return 0;
}

/* vCPU thread (status 0) or VMM: forget in-flight state. The TAP stays
 * watched until the next event sees the device is not live. */
static void net_reset(struct virtio_dev *vd)
{
	struct virtio_net *n = to_net(vd);

	n->rx_throttled = n->tx_throttled = false;
	n->rx_pending = false;
	n->rx_nheld = 0; /* the queues are reset: held buffers are gone */
	n->rx_off = 0;
	if (!n->is_stream && !n->tap_dead && n->tap.offloads)
		tap_set_offloads(&n->tap, 0);
}

/* Firecracker's group "net_<id>": the counters' deltas. */
static void net_publish_metrics(struct virtio_dev *vd)
{
	struct virtio_net *n = to_net(vd);
	struct metrics_net now, *old = &n->published;

	struct metrics_mmds mm;

	virtio_net_get_counters(n, &now);
	if (n->metrics) {
#define N(f) METRIC_ADD(n->metrics->f, now.f - old->f);
		METRICS_NET(N)
#undef N
	}
	*old = now;
	if (virtio_net_mmds_counters(n, &mm) == 0) {
		/* one "mmds" group for every interface, as Firecracker */
#define M(f) METRIC_ADD(metrics.mmds.f, mm.f - n->mmds_published.f);
		METRICS_MMDS(M)
#undef M
		n->mmds_published = mm;
	}
}

static void net_destroy_op(struct virtio_dev *vd)
{
	virtio_net_destroy(to_net(vd));
}

static const struct virtio_dev_ops net_ops = {
    .name = "virtio-net",
    .device_id = VIRTIO_ID_NET,
    .num_queues = 2,
    .queue_max = VIRTIO_NET_QUEUE_SIZE,
    .features = NET_BASE_FEATURES,
    .config_size = NET_CONFIG_SIZE,
    .config_read = net_config_read,
    .features_ok = net_features_ok,
    .activate = net_activate,
    .queue_notify = net_queue_notify,
    .reset = net_reset,
    .destroy = net_destroy_op,
    .publish_metrics = net_publish_metrics,
};

static uint64_t offload_features(unsigned tun)
{
	uint64_t f = 0;

	if (tun & TUN_F_CSUM)
		f |= F(CSUM) | F(GUEST_CSUM) | F(HOST_TSO4) | F(HOST_TSO6);
	if ((tun & TUN_F_CSUM) && (tun & TUN_F_TSO4))
		f |= F(GUEST_TSO4);
	if ((tun & TUN_F_CSUM) && (tun & TUN_F_TSO6))
		f |= F(GUEST_TSO6);
	if ((tun & TUN_F_CSUM) && (tun & TUN_F_UFO))
		f |= F(GUEST_UFO) | F(HOST_UFO);
	return f;
}

/* TAP (stream_fd < 0, opens cfg->host_dev_name) or stream (takes
 * stream_fd). */
static int net_create(const struct net_cfg *cfg, int stream_fd, const struct guest_mem *gm,
		      struct event_loop *el, struct virtio_net **out)
{
	bool is_stream = stream_fd >= 0;
	struct virtio_net *n;
	int r;

	*out = NULL;
	if (!is_stream && (!cfg->host_dev_name || !*cfg->host_dev_name))
		return err_set(EINVAL, "network interface %s: no host_dev_name", cfg->id);
	if (cfg->mtu > UINT16_MAX) {
		if (is_stream)
			close(stream_fd);
		return err_set(EINVAL, "network interface %s: mtu %u too large", cfg->id, cfg->mtu);
	}
	n = calloc(1, sizeof(*n));
	if (!n) {
		if (is_stream)
			close(stream_fd);
		return err_set(ENOMEM, "network interface %s: out of memory", cfg->id);
	}
	n->tap.fd = n->stream.fd = n->rx_rl.timer_fd = n->tx_rl.timer_fd = n->mmds_timer_fd = -1;
	n->is_stream = is_stream;
	snprintf(n->id, sizeof(n->id), "%s",
		 cfg->id[0] || is_stream ? cfg->id : cfg->host_dev_name);
	n->mtu = (uint16_t)cfg->mtu;
	if (cfg->has_mac) {
		memcpy(n->mac, cfg->mac, sizeof(n->mac));
	} else {
		/* seeded before the seccomp filters: no syscall here */
		random_bytes(n->mac, sizeof(n->mac));
		n->mac[0] = (uint8_t)((n->mac[0] & 0xfe) | 0x02); /* unicast, local */
	}
	n->rx_buf = malloc(RX_BUF_SIZE);
	if (!n->rx_buf) {
		r = err_set(ENOMEM, "network interface %s: out of memory", n->id);
		goto fail;
	}
	if (is_stream) {
		r = net_stream_init(&n->stream, stream_fd);
		stream_fd = -1; /* the stream owns it now, even on failure */
		if (r < 0)
			goto fail;
	} else if ((r = tap_open(&n->tap, cfg->host_dev_name)) < 0) {
		goto fail;
	}
	if ((r = rl_init(&n->rx_rl, &cfg->rx_rate_limiter)) < 0 ||
	    (r = rl_init(&n->tx_rl, &cfg->tx_rate_limiter)) < 0)
		goto fail;
	if ((r = virtio_dev_init(&n->vdev, &net_ops, gm, el, 0)) < 0)
		goto fail;
	n->vdev.device_features |= offload_features(n->tap.offloads_ok);
	if (n->mtu)
		n->vdev.device_features |= F(MTU);
	if (el) {
		if ((r = el_add(el, backend_fd(n), 0, is_stream ? stream_event : tap_event, n)) <
			0 ||
		    (r = el_add(el, rl_timer_fd(&n->rx_rl), EPOLLIN, rx_rl_event, n)) < 0 ||
		    (r = el_add(el, rl_timer_fd(&n->tx_rl), EPOLLIN, tx_rl_event, n)) < 0) {
			err_set(-r, "network interface %s: event loop: %s", n->id, strerror(-r));
			goto fail;
		}
	}
	n->metrics = metrics_net_get(n->id);
	*out = n;
	return 0;
fail:
	if (stream_fd >= 0)
		close(stream_fd);
	virtio_net_destroy(n);
	return r;
}

int virtio_net_create(const struct net_cfg *cfg, const struct guest_mem *gm, struct event_loop *el,
		      struct virtio_net **out)
{
	return net_create(cfg, -1, gm, el, out);
}

int virtio_net_create_stream(const struct net_cfg *cfg, int fd, const struct guest_mem *gm,
			     struct event_loop *el, struct virtio_net **out)
{
	if (fd < 0) {
		*out = NULL;
		return err_set(EBADF, "network interface %s: no stream socket", cfg->id);
	}
	return net_create(cfg, fd, gm, el, out);
}

void virtio_net_destroy(struct virtio_net *n)
{
	struct event_loop *el;

	if (!n)
		return;
	el = n->vdev.ops ? n->vdev.el : NULL;
	if (el) {
		if (backend_fd(n) >= 0 && !n->tap_dead)
			el_remove(el, backend_fd(n));
		if (n->rx_rl.timer_fd >= 0)
			el_remove(el, n->rx_rl.timer_fd);
		if (n->tx_rl.timer_fd >= 0)
			el_remove(el, n->tx_rl.timer_fd);
	}
	if (el && n->mmds_timer_fd >= 0)
		el_remove(el, n->mmds_timer_fd);
	if (n->mmds_timer_fd >= 0)
		close(n->mmds_timer_fd);
	mmds_net_destroy(n->mmds);
	free(n->mmds_buf);
	virtio_dev_destroy(&n->vdev);
	rl_destroy(&n->rx_rl);
	rl_destroy(&n->tx_rl);
	tap_close(&n->tap);
	if (n->is_stream)
		net_stream_close(&n->stream);
	free(n->rx_buf);
	free(n);
}

void virtio_net_update_rate_limiters(struct virtio_net *n, const struct rate_limiter_cfg *rx,
				     const struct rate_limiter_cfg *tx)
{
	pthread_mutex_lock(&n->vdev.lock);
	if (rx) {
		rl_update(&n->rx_rl, rx);
		/* Unlimited now: no need to wait for the timer. */
		if (n->rx_throttled && rl_unlimited(&n->rx_rl)) {
			n->rx_throttled = false;
			rx_process(n);
		}
	}
	if (tx) {
		rl_update(&n->tx_rl, tx);
		if (n->tx_throttled && rl_unlimited(&n->tx_rl)) {
			n->tx_throttled = false;
			tx_process(n);
		}
	}
	pthread_mutex_unlock(&n->vdev.lock);
}

void virtio_net_get_counters(struct virtio_net *n, struct metrics_net *out)
{
	pthread_mutex_lock(&n->vdev.lock);
	*out = n->stats;
	pthread_mutex_unlock(&n->vdev.lock);
}

int virtio_net_mmds_counters(struct virtio_net *n, struct metrics_mmds *out)
{
	struct mmds_net_stats st;

	pthread_mutex_lock(&n->vdev.lock);
	if (!n->mmds) {
		pthread_mutex_unlock(&n->vdev.lock);
		return -ENOENT;
	}
	mmds_net_get_stats(n->mmds, &st);
	*out = st.m;
	out->tx_frames = n->mmds_stats.tx_frames;
	out->tx_bytes = n->mmds_stats.tx_bytes;
	out->tx_errors += n->mmds_stats.tx_errors;
	pthread_mutex_unlock(&n->vdev.lock);
	return 0;
}

bool virtio_net_link_up(struct virtio_net *n)
{
	bool up;

	pthread_mutex_lock(&n->vdev.lock);
	up = !(n->is_stream && n->tap_dead);
	pthread_mutex_unlock(&n->vdev.lock);
	return up;
}

void virtio_net_get_mac(struct virtio_net *n, uint8_t mac[6])
{
	pthread_mutex_lock(&n->vdev.lock);
	memcpy(mac, n->mac, 6);
	pthread_mutex_unlock(&n->vdev.lock);
}

int virtio_net_enable_mmds(struct virtio_net *n, struct mmds *store, uint32_t ipv4)
{
	int r;

	if (n->mmds)
		return 0;
	n->mmds_buf = malloc(VIRTIO_NET_MAX_FRAME);
	if (!n->mmds_buf)
		return err_set(ENOMEM, "network interface %s: out of memory", n->id);
	n->mmds_timer_fd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
	if (n->mmds_timer_fd < 0)
		return err_set(errno, "network interface %s: MMDS timer: %s", n->id,
			       strerror(errno));
	if ((r = mmds_net_create(store, ipv4, &n->mmds)) < 0)
		return r;
	if (n->vdev.el &&
	    (r = el_add(n->vdev.el, n->mmds_timer_fd, EPOLLIN, mmds_timer_event, n)) < 0)
		return err_set(-r, "network interface %s: event loop: %s", n->id, strerror(-r));
	return 0;
}
