/* Stream backend for virtio-net (see net_stream.h). */
#include "ember/net_stream.h"

#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "ember/error.h"

#define WBUF_SIZE (NET_STREAM_PREFIX + NET_STREAM_MAX_FRAME)
/* Room for two whole frames: compacting (moving the partial frame to the
 * front) happens at most once per frame's worth of input. */
#define RBUF_SIZE (2 * WBUF_SIZE)

int net_stream_init(struct net_stream *s, int fd)
{
	int fl;

	memset(s, 0, sizeof(*s));
	s->fd = fd;
	if (fd < 0)
		return err_set(EBADF, "stream socket: no descriptor");
	s->rbuf = malloc(RBUF_SIZE);
	s->wbuf = malloc(WBUF_SIZE);
	if (!s->rbuf || !s->wbuf) {
		net_stream_close(s);
		return err_set(ENOMEM, "stream socket: out of memory");
	}
	fl = fcntl(fd, F_GETFL);
	if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0) {
		int e = errno;

		net_stream_close(s);
		return err_set(e, "stream socket: O_NONBLOCK: %s", strerror(e));
	}
	return 0;
}

void net_stream_close(struct net_stream *s)
{
	if (s->fd >= 0)
		close(s->fd);
	s->fd = -1;
	s->dead = true;
	free(s->rbuf);
	free(s->wbuf);
	s->rbuf = s->wbuf = NULL;
	s->rstart = s->rend = s->woff = s->wlen = 0;
}

static int dead(struct net_stream *s, int err)
{
	s->dead = true;
	return -err;
}

static uint32_t prefix_at(const struct net_stream *s)
{
	uint32_t be;

	memcpy(&be, s->rbuf + s->rstart, sizeof(be));
	return be32toh(be);
}

bool net_stream_rx_ready(const struct net_stream *s)
{
	size_t avail = s->rend - s->rstart;

	if (s->dead || avail < NET_STREAM_PREFIX)
		return false;
	/* An impossible prefix is "ready" too: the next recv reports it. */
	return prefix_at(s) > NET_STREAM_MAX_FRAME ||
	       avail >= NET_STREAM_PREFIX + (size_t)prefix_at(s);
}

int net_stream_recv(struct net_stream *s, void *buf, size_t cap)
{
	for (;;) {
		size_t avail = s->rend - s->rstart;
		ssize_t r;

		if (s->dead)
			return -EPIPE;
		if (avail >= NET_STREAM_PREFIX) {
			uint32_t len = prefix_at(s);

			if (len > NET_STREAM_MAX_FRAME)
				return dead(s, EPROTO);
			if (avail >= NET_STREAM_PREFIX + (size_t)len) {
				const uint8_t *f = s->rbuf + s->rstart + NET_STREAM_PREFIX;
				int ret = 0;

				if (len >= NET_STREAM_MIN_FRAME && len <= cap) {
					memcpy(buf, f, len);
					ret = (int)len;
				}
				s->rstart += NET_STREAM_PREFIX + len;
				if (s->rstart == s->rend)
					s->rstart = s->rend = 0;
				return ret;
			}
		}
		/* Need more bytes: make sure the rest of this frame fits. */
		if (s->rstart > 0 && RBUF_SIZE - s->rstart < WBUF_SIZE) {
			memmove(s->rbuf, s->rbuf + s->rstart, avail);
			s->rstart = 0;
			s->rend = avail;
		}
		do
			r = read(s->fd, s->rbuf + s->rend, RBUF_SIZE - s->rend);
		while (r < 0 && errno == EINTR);
		if (r < 0)
			return errno == EAGAIN ? -EAGAIN : dead(s, errno);
		if (r == 0)
			return dead(s, EPIPE); /* peer gone, maybe mid-frame */
		s->rend += (size_t)r;
	}
}

/* Keep the bytes of iov[0..cnt-1] after the first `sent`. */
static void keep_rest(struct net_stream *s, const struct iovec *iov, int cnt, size_t sent)
{
	s->woff = s->wlen = 0;
	for (int i = 0; i < cnt; i++) {
		const uint8_t *p = iov[i].iov_base;
		size_t l = iov[i].iov_len;

		if (sent >= l) {
			sent -= l;
			continue;
		}
		memcpy(s->wbuf + s->wlen, p + sent, l - sent);
		s->wlen += l - sent;
		sent = 0;
	}
}

int net_stream_send(struct net_stream *s, struct iovec *iov, int cnt, size_t len)
{
	struct msghdr mh = {.msg_iov = iov, .msg_iovlen = (size_t)cnt};
	uint32_t be;
	ssize_t w;

	if (s->dead)
		return -EPIPE;
	if (len < NET_STREAM_MIN_FRAME || len > NET_STREAM_MAX_FRAME)
		return -EMSGSIZE;
	if (net_stream_tx_blocked(s))
		return -EAGAIN;
	be = htobe32((uint32_t)len);
	iov[0] = (struct iovec){.iov_base = &be, .iov_len = sizeof(be)};
	do
		w = sendmsg(s->fd, &mh, MSG_NOSIGNAL | MSG_DONTWAIT);
	while (w < 0 && errno == EINTR);
	if (w < 0) {
		if (errno != EAGAIN)
			return dead(s, errno);
		w = 0;
	}
	if ((size_t)w < NET_STREAM_PREFIX + len)
		keep_rest(s, iov, cnt, (size_t)w);
	return 0;
}

int net_stream_flush(struct net_stream *s)
{
	while (net_stream_tx_blocked(s)) {
		ssize_t w =
		    send(s->fd, s->wbuf + s->woff, s->wlen - s->woff, MSG_NOSIGNAL | MSG_DONTWAIT);

		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0)
			return errno == EAGAIN ? -EAGAIN : dead(s, errno);
		s->woff += (size_t)w;
	}
	s->woff = s->wlen = 0;
	return s->dead ? -EPIPE : 0;
}
