/* Stream backend of virtio-net: a connected Unix stream socket carrying
 * Ethernet frames, each prefixed by its length as a 32-bit big-endian
 * number (the protocol of passt and QEMU's "stream" netdev). There is no
 * vnet header on the wire, so the device offers no offloads with it: the
 * guest checksums and segments its frames itself.
 *
 * Both directions are non-blocking and the peer is hostile input:
 *  - receive buffers what the socket holds and hands out whole frames; a
 *    partial frame waits in the buffer for the rest. A length shorter than
 *    an Ethernet header is skipped (the stream stays in step); a length
 *    above NET_STREAM_MAX_FRAME cannot be a frame and leaves no way to find
 *    the next one: the stream is dead (-EPROTO).
 *  - send writes prefix + frame with one sendmsg; what the socket does not
 *    take is kept (at most one frame) and goes out with net_stream_flush
 *    when the socket is writable again. While bytes are kept, the next send
 *    answers -EAGAIN (the caller waits for EPOLLOUT): frames never
 *    interleave.
 *  - EOF (also in the middle of a frame), a reset or any other socket error
 *    makes the stream dead: every later call fails at once, nothing blocks.
 * Not thread-safe: the caller serialises (virtio-net: under vdev.lock). */
#ifndef EMBER_NET_STREAM_H
#define EMBER_NET_STREAM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

#define NET_STREAM_PREFIX 4
/* Largest frame accepted from the peer (the device's VIRTIO_NET_MAX_FRAME;
 * passt's largest is 65520 + 14). */
#define NET_STREAM_MAX_FRAME 65550
#define NET_STREAM_MIN_FRAME 14 /* an Ethernet header */

struct net_stream {
	int fd;
	bool dead;
	uint8_t *rbuf; /* received bytes [rstart, rend) */
	size_t rstart, rend;
	uint8_t *wbuf; /* the unsent rest of one frame [woff, wlen) */
	size_t woff, wlen;
};

/* Take fd (a connected stream socket; closed by net_stream_close, also on
 * failure) and make it non-blocking. err_set context on failure. */
int net_stream_init(struct net_stream *s, int fd);
void net_stream_close(struct net_stream *s);

/* The next whole frame into buf (cap >= NET_STREAM_MAX_FRAME): its length;
 * 0 a frame shorter than an Ethernet header was skipped (call again);
 * -EAGAIN no whole frame yet (wait for EPOLLIN); -EPROTO impossible length
 * prefix, -EPIPE the peer closed, other -errno a socket error (all three:
 * the stream is dead). */
int net_stream_recv(struct net_stream *s, void *buf, size_t cap);
/* A whole frame is buffered: net_stream_recv answers without reading (the
 * socket may not signal EPOLLIN for it). */
bool net_stream_rx_ready(const struct net_stream *s);

/* Send one frame of len bytes held by iov[1..cnt-1]; iov[0] is overwritten
 * with the length prefix. 0 sent or kept; -EAGAIN an earlier frame is still
 * being sent (nothing taken: wait for EPOLLOUT, net_stream_flush); -EMSGSIZE
 * len out of range (nothing taken, the stream is fine); other -errno the
 * stream is dead. */
int net_stream_send(struct net_stream *s, struct iovec *iov, int cnt, size_t len);
/* Send kept bytes: 0 none left, -EAGAIN some left, other -errno dead. */
int net_stream_flush(struct net_stream *s);
static inline bool net_stream_tx_blocked(const struct net_stream *s)
{
	return s->woff < s->wlen;
}

#endif
