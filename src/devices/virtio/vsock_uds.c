/* virtio-vsock Unix-socket backend (the "muxer"); see vsock_uds.h. */
#include "ember/vsock_uds.h"

#include <endian.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include "ember/error.h"
#include "ember/log.h"
#include "ember/util.h"

#define ACCEPT_BATCH 16
#define LISTEN_RETRY_MS 100

static void conn_event(void *opaque, int fd, uint32_t events);

/* ---- connection table ---- */

static unsigned hash_key(uint32_t local, uint32_t peer)
{
	return ((local * 2654435761u) ^ (peer * 40503u)) % VSOCK_UDS_HASH_SIZE;
}

static struct vsock_conn *lookup(struct vsock_uds *u, uint32_t local, uint32_t peer)
{
	for (struct vsock_conn *c = u->hash[hash_key(local, peer)]; c; c = c->hnext)
		if (c->local_port == local && c->peer_port == peer)
			return c;
	return NULL;
}

static void rxq_add(struct vsock_uds *u, struct vsock_conn *c)
{
	if (c->in_rxq)
		return;
	c->in_rxq = true;
	c->rx_next = NULL;
	c->rx_prev = u->rxq_tail;
	if (u->rxq_tail)
		u->rxq_tail->rx_next = c;
	else
		u->rxq_head = c;
	u->rxq_tail = c;
}

static void rxq_del(struct vsock_uds *u, struct vsock_conn *c)
{
	if (!c->in_rxq)
		return;
	if (c->rx_prev)
		c->rx_prev->rx_next = c->rx_next;
	else
		u->rxq_head = c->rx_next;
	if (c->rx_next)
		c->rx_next->rx_prev = c->rx_prev;
	else
		u->rxq_tail = c->rx_prev;
	c->rx_prev = c->rx_next = NULL;
	c->in_rxq = false;
}

static void add_conn(struct vsock_uds *u, struct vsock_conn *c)
{
	unsigned h = hash_key(c->local_port, c->peer_port);

	c->owner = u;
	c->hnext = u->hash[h];
	u->hash[h] = c;
	u->nconns++;
	u->stats->conns_added++;
}

static void remove_conn(struct vsock_uds *u, struct vsock_conn *c)
{
	struct vsock_conn **pp = &u->hash[hash_key(c->local_port, c->peer_port)];

	while (*pp && *pp != c)
		pp = &(*pp)->hnext;
	if (*pp)
		*pp = c->hnext;
	rxq_del(u, c);
	if (c->in_el)
		el_remove(u->el, c->fd);
	vsock_conn_destroy(c);
	free(c);
	u->nconns--;
	u->stats->conns_removed++;
	if (u->listen_paused)
		el_modify(u->el, u->listen_fd, EPOLLIN);
	u->listen_paused = false;
}

/* ---- timer: kill queue and handshake deadlines ---- */

static void arm_timer_for(struct vsock_uds *u, uint64_t t)
{
	struct itimerspec its = {0};

	if (!t || (u->timer_armed_ms && u->timer_armed_ms <= t))
		return;
	its.it_value.tv_sec = (time_t)(t / 1000);
	its.it_value.tv_nsec = (long)(t % 1000) * 1000000;
	if (timerfd_settime(u->timer_fd, TFD_TIMER_ABSTIME, &its, NULL) == 0)
		u->timer_armed_ms = t;
}

static void killq_add(struct vsock_uds *u, struct vsock_conn *c)
{
	c->expiry_queued = c->expiry_ms;
	arm_timer_for(u, c->expiry_ms);
	for (unsigned i = 0; i < VSOCK_UDS_KILLQ_SIZE; i++) {
		if (u->killq[i].expiry_ms == 0) {
			u->killq[i] =
			    (struct vsock_uds_killq_ent){c->local_port, c->peer_port, c->expiry_ms};
			return;
		}
	}
	/* Full: the deadline lives only on the connection until a resync. */
	u->killq_overflow = true;
}

/* After anything happened to c: epoll registration, closing the host
 * stream, rx queue, deadlines, removal. */
static void sync_conn(struct vsock_uds *u, struct vsock_conn *c)
{
	uint32_t ev;

	if (vsock_conn_fd_done(c)) {
		if (c->in_el)
			el_remove(u->el, c->fd);
		c->in_el = false;
		close(c->fd);
		c->fd = -1;
	} else if (c->fd >= 0) {
		if (!vsock_conn_poll_events(c, &ev)) {
			if (c->in_el)
				el_remove(u->el, c->fd);
			c->in_el = false;
		} else if (!c->in_el) {
			if (el_add(u->el, c->fd, ev, conn_event, c) == 0) {
				c->in_el = true;
				c->el_events = ev;
			} else {
				log_warn("vsock: port %u: cannot watch the host socket",
					 c->local_port);
				vsock_conn_kill(c);
				sync_conn(u, c);
				return;
			}
		} else if (ev != c->el_events) {
			el_modify(u->el, c->fd, ev);
			c->el_events = ev;
		}
	}
	if (vsock_conn_done(c)) {
		remove_conn(u, c);
		return;
	}
	if (vsock_conn_has_rx(c))
		rxq_add(u, c);
	else
		rxq_del(u, c);
	if (c->expiry_ms && c->expiry_ms != c->expiry_queued)
		killq_add(u, c);
}

static void hs_close(struct vsock_uds *u, unsigned i)
{
	el_remove(u->el, u->hs[i].fd);
	close(u->hs[i].fd);
	u->hs[i].fd = -1;
	u->hs[i].len = 0;
}

static void sync_reset(struct vsock_uds *u)
{
	if (!u->reset_pending)
		return;
	u->reset_pending = false;
	for (unsigned h = 0; h < VSOCK_UDS_HASH_SIZE; h++) {
		struct vsock_conn *c = u->hash[h], *next;

		for (; c; c = next) {
			next = c->hnext;
			/* Host clients whose REQUEST the guest never saw wait for
			 * the next driver (Linux resets the device at probe). */
			if (c->state == VSOCK_CONN_LOCAL_INIT && (c->pending & VSOCK_PEND_REQUEST))
				continue;
			remove_conn(u, c);
		}
	}
	u->rstq_head = u->rstq_len = 0;
	memset(u->killq, 0, sizeof(u->killq));
	u->killq_overflow = false;
}

static void expire_conn(struct vsock_uds *u, struct vsock_conn *c)
{
	vsock_conn_expire(c);
	sync_conn(u, c);
}

static void timer_event(void *opaque, int fd, uint32_t events)
{
	struct vsock_uds *u = opaque;
	uint64_t now, v;

	if (read(fd, &v, sizeof(v)) < 0 && errno != EAGAIN)
		return;
	pthread_mutex_lock(u->lock);
	sync_reset(u);
	u->timer_armed_ms = 0;
	now = vsock_now_ms();
	if (u->listen_paused && el_modify(u->el, u->listen_fd, EPOLLIN) == 0)
		u->listen_paused = false;
	for (unsigned i = 0; i < VSOCK_UDS_MAX_HANDSHAKES; i++) {
		if (u->hs[i].fd >= 0 && u->hs[i].expiry_ms <= now) {
			u->stats->host_connect_fails++;
			hs_close(u, i);
		}
	}
	if (u->killq_overflow) {
		/* Rebuild the queue from the connections themselves. */
		u->killq_overflow = false;
		u->stats->killq_resync++;
		memset(u->killq, 0, sizeof(u->killq));
		for (unsigned h = 0; h < VSOCK_UDS_HASH_SIZE; h++) {
			struct vsock_conn *c = u->hash[h], *next;

			for (; c; c = next) {
				next = c->hnext;
				if (!c->expiry_ms)
					continue;
				if (c->expiry_ms <= now)
					expire_conn(u, c);
				else
					killq_add(u, c);
			}
		}
	} else {
		for (unsigned i = 0; i < VSOCK_UDS_KILLQ_SIZE; i++) {
			struct vsock_uds_killq_ent e = u->killq[i];
			struct vsock_conn *c;

			if (!e.expiry_ms || e.expiry_ms > now)
				continue;
			u->killq[i].expiry_ms = 0;
			c = lookup(u, e.local_port, e.peer_port);
			if (c && c->expiry_ms && c->expiry_ms <= now)
				expire_conn(u, c);
		}
	}
	for (unsigned i = 0; i < VSOCK_UDS_KILLQ_SIZE; i++)
		arm_timer_for(u, u->killq[i].expiry_ms);
	for (unsigned i = 0; i < VSOCK_UDS_MAX_HANDSHAKES; i++)
		if (u->hs[i].fd >= 0)
			arm_timer_for(u, u->hs[i].expiry_ms);
	if (u->listen_paused)
		arm_timer_for(u, now + LISTEN_RETRY_MS);
	u->rx_kick(u->opaque);
	pthread_mutex_unlock(u->lock);
}

/* ---- RSTs for packets without a connection ---- */

static void rst_enqueue(struct vsock_uds *u, uint32_t local, uint32_t peer)
{
	if (u->rstq_len == VSOCK_UDS_RSTQ_SIZE) {
		/* Not reached: the device stops taking tx while the queue is full. */
		log_warn("vsock: RST queue full, dropping RST to guest port %u", peer);
		return;
	}
	u->rstq[(u->rstq_head + u->rstq_len) % VSOCK_UDS_RSTQ_SIZE] =
	    (struct vsock_uds_rst){local, peer};
	u->rstq_len++;
}

/* ---- host streams ---- */

static void conn_event(void *opaque, int fd, uint32_t events)
{
	struct vsock_conn *c = opaque;
	struct vsock_uds *u = c->owner;

	pthread_mutex_lock(u->lock);
	if (u->reset_pending) {
		sync_reset(u); /* c is gone */
	} else {
		vsock_conn_notify(c, events);
		sync_conn(u, c);
	}
	u->rx_kick(u->opaque);
	pthread_mutex_unlock(u->lock);
}

/* "CONNECT <port>" (the newline stripped) -> port. */
static bool parse_connect(const char *line, unsigned len, uint32_t *port)
{
	static const char cmd[] = "CONNECT ";
	uint64_t v = 0;
	unsigned i = sizeof(cmd) - 1;

	if (len <= i || memcmp(line, cmd, i) != 0 || len - i > 10)
		return false;
	for (; i < len; i++) {
		if (line[i] < '0' || line[i] > '9')
			return false;
		v = v * 10 + (uint64_t)(line[i] - '0');
	}
	if (v > UINT32_MAX)
		return false;
	*port = (uint32_t)v;
	return true;
}

/* A local port no connection to guest port peer uses. */
static bool alloc_local_port(struct vsock_uds *u, uint32_t peer, uint32_t *out)
{
	for (unsigned tries = 0; tries <= u->max_conns; tries++) {
		uint32_t p = u->next_local_port++;

		if (u->next_local_port < VSOCK_UDS_LOCAL_PORT_BASE)
			u->next_local_port = VSOCK_UDS_LOCAL_PORT_BASE;
		if (!lookup(u, p, peer)) {
			*out = p;
			return true;
		}
	}
	return false;
}

/* The client sent its CONNECT line: start the connection. */
static void hs_connect(struct vsock_uds *u, unsigned i, uint32_t peer_port)
{
	struct vsock_conn *c;
	uint32_t local;
	int fd = u->hs[i].fd;

	if (u->nconns >= u->max_conns || !alloc_local_port(u, peer_port, &local) ||
	    !(c = calloc(1, sizeof(*c)))) {
		u->stats->host_connect_fails++;
		hs_close(u, i);
		return;
	}
	el_remove(u->el, fd);
	u->hs[i].fd = -1;
	u->hs[i].len = 0;
	vsock_conn_init_local(c, fd, u->guest_cid, local, peer_port, u->stats);
	add_conn(u, c);
	sync_conn(u, c);
}

static void hs_event(void *opaque, int fd, uint32_t events)
{
	struct vsock_uds *u = opaque;
	struct vsock_uds_handshake *h = NULL;
	char peek[VSOCK_UDS_LINE_MAX];
	uint32_t port;
	unsigned i;
	ssize_t n;
	char *nl;

	pthread_mutex_lock(u->lock);
	sync_reset(u);
	for (i = 0; i < VSOCK_UDS_MAX_HANDSHAKES; i++) {
		if (u->hs[i].fd == fd) {
			h = &u->hs[i];
			break;
		}
	}
	if (!h)
		goto out;
	/* Take the line and not a byte more: what follows is stream data. */
	n = recv(fd, peek, sizeof(peek) - h->len, MSG_PEEK | MSG_DONTWAIT);
	if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
		goto out;
	if (n <= 0) {
		if (n < 0)
			u->stats->host_connect_fails++;
		hs_close(u, i); /* the client left (or failed) before CONNECT */
		goto out;
	}
	nl = memchr(peek, '\n', (size_t)n);
	if (nl)
		n = nl - peek + 1;
	if (recv(fd, h->line + h->len, (size_t)n, MSG_DONTWAIT) != n) {
		u->stats->host_connect_fails++;
		hs_close(u, i);
		goto out;
	}
	h->len += (unsigned)n;
	if (!nl) {
		if (h->len >= VSOCK_UDS_LINE_MAX) {
			u->stats->host_connect_fails++;
			hs_close(u, i);
		}
		goto out;
	}
	if (!parse_connect(h->line, h->len - 1, &port)) {
		u->stats->host_connect_fails++;
		hs_close(u, i);
		goto out;
	}
	hs_connect(u, i, port);
out:
	u->rx_kick(u->opaque);
	pthread_mutex_unlock(u->lock);
}

static void listen_event(void *opaque, int fd, uint32_t events)
{
	struct vsock_uds *u = opaque;

	pthread_mutex_lock(u->lock);
	sync_reset(u);
	for (int k = 0; k < ACCEPT_BATCH; k++) {
		int cfd = accept4(fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		unsigned i;

		if (cfd < 0) {
			if (errno == EINTR || errno == ECONNABORTED)
				continue;
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				break;
			u->stats->muxer_event_fails++;
			/* Out of fds or memory: stop accepting for a while rather
			 * than spin on a readable listener. */
			if (el_modify(u->el, fd, 0) == 0) {
				u->listen_paused = true;
				arm_timer_for(u, vsock_now_ms() + LISTEN_RETRY_MS);
			}
			break;
		}
		for (i = 0; i < VSOCK_UDS_MAX_HANDSHAKES && u->hs[i].fd >= 0; i++)
			;
		if (i == VSOCK_UDS_MAX_HANDSHAKES || el_add(u->el, cfd, EPOLLIN, hs_event, u) < 0) {
			u->stats->host_connect_fails++;
			close(cfd);
			continue;
		}
		u->hs[i].fd = cfd;
		u->hs[i].len = 0;
		u->hs[i].expiry_ms = vsock_now_ms() + VSOCK_UDS_HANDSHAKE_TIMEOUT_MS;
		arm_timer_for(u, u->hs[i].expiry_ms);
	}
	pthread_mutex_unlock(u->lock);
}

static void wake_event(void *opaque, int fd, uint32_t events)
{
	struct vsock_uds *u = opaque;
	uint64_t v;

	if (read(fd, &v, sizeof(v)) < 0 && errno != EAGAIN)
		return;
	pthread_mutex_lock(u->lock);
	sync_reset(u);
	pthread_mutex_unlock(u->lock);
}

/* ---- guest packets ---- */

static void peer_connect(struct vsock_uds *u, const struct vsock_pkt *pkt)
{
	uint32_t local = le32toh(pkt->hdr.dst_port), peer = le32toh(pkt->hdr.src_port);
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	struct vsock_conn *c;
	int fd, n;

	if (u->nconns >= u->max_conns)
		goto refuse;
	n = snprintf(sa.sun_path, sizeof(sa.sun_path), "%s_%u", u->path, local);
	if (n < 0 || (size_t)n >= sizeof(sa.sun_path))
		goto refuse;
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		goto refuse;
	/* A Unix connect completes at once or fails (EAGAIN: backlog full). */
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || !(c = calloc(1, sizeof(*c)))) {
		close(fd);
		goto refuse;
	}
	vsock_conn_init_peer(c, fd, u->guest_cid, pkt, u->stats);
	add_conn(u, c);
	sync_conn(u, c);
	return;
refuse:
	u->stats->conns_refused++;
	rst_enqueue(u, local, peer);
}

void vsock_uds_send_pkt(struct vsock_uds *u, const struct vsock_pkt *pkt)
{
	uint32_t local = le32toh(pkt->hdr.dst_port), peer = le32toh(pkt->hdr.src_port);
	uint16_t op = le16toh(pkt->hdr.op);
	struct vsock_conn *c;

	sync_reset(u);
	c = lookup(u, local, peer);
	if (c) {
		vsock_conn_send_pkt(c, pkt);
		sync_conn(u, c);
		return;
	}
	if (op == VIRTIO_VSOCK_OP_REQUEST)
		peer_connect(u, pkt);
	else if (op != VIRTIO_VSOCK_OP_RST)
		rst_enqueue(u, local, peer);
}

void vsock_uds_reject(struct vsock_uds *u, const struct vsock_pkt *pkt)
{
	uint32_t local = le32toh(pkt->hdr.dst_port), peer = le32toh(pkt->hdr.src_port);
	struct vsock_conn *c;

	sync_reset(u);
	c = lookup(u, local, peer);
	if (c) {
		vsock_conn_kill(c);
		sync_conn(u, c);
	} else if (le16toh(pkt->hdr.op) != VIRTIO_VSOCK_OP_RST) {
		rst_enqueue(u, local, peer);
	}
}

bool vsock_uds_has_rx(struct vsock_uds *u)
{
	sync_reset(u);
	return u->rstq_len || u->rxq_head;
}

int vsock_uds_recv_pkts(struct vsock_uds *u, struct vsock_pkt *pkts, int n)
{
	sync_reset(u);
	if (n <= 0)
		return 0;
	if (u->rstq_len) {
		struct vsock_uds_rst e = u->rstq[u->rstq_head];

		u->rstq_head = (u->rstq_head + 1) % VSOCK_UDS_RSTQ_SIZE;
		u->rstq_len--;
		vsock_hdr_fill(&pkts[0].hdr, u->guest_cid, e.local_port, e.peer_port,
			       VIRTIO_VSOCK_OP_RST, 0, 0, 0, 0);
		u->stats->rst_sent++;
		return 1;
	}
	/* Round robin: a connection with more to send goes to the back. */
	for (unsigned guard = u->nconns + 1; u->rxq_head && guard; guard--) {
		struct vsock_conn *c = u->rxq_head;
		int k;

		rxq_del(u, c);
		k = vsock_conn_recv_pkts(c, pkts, n);
		sync_conn(u, c);
		if (k)
			return k;
	}
	return 0;
}

int vsock_uds_recv_pkt(struct vsock_uds *u, struct vsock_pkt *pkt)
{
	return vsock_uds_recv_pkts(u, pkt, 1) ? 0 : -EAGAIN;
}

bool vsock_uds_tx_blocked(const struct vsock_uds *u)
{
	return u->rstq_len >= VSOCK_UDS_RSTQ_SIZE;
}

void vsock_uds_request_reset(struct vsock_uds *u)
{
	uint64_t one = 1;

	u->reset_pending = true;
	if (u->wake_fd >= 0 && write(u->wake_fd, &one, sizeof(one)) < 0 && errno != EAGAIN)
		log_warn("vsock: wake eventfd: %s", strerror(errno));
}

unsigned vsock_uds_conn_count(struct vsock_uds *u)
{
	sync_reset(u);
	return u->nconns;
}

/* ---- set-up ---- */

int vsock_uds_init(struct vsock_uds *u, const struct vsock_uds_params *p)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	int r;

	memset(u, 0, sizeof(*u));
	u->listen_fd = u->timer_fd = u->wake_fd = -1;
	for (unsigned i = 0; i < VSOCK_UDS_MAX_HANDSHAKES; i++)
		u->hs[i].fd = -1;
	u->guest_cid = p->guest_cid;
	u->el = p->el;
	u->lock = p->lock;
	u->stats = p->stats;
	u->rx_kick = p->rx_kick;
	u->opaque = p->opaque;
	u->max_conns = VSOCK_UDS_MAX_CONNS;
	u->next_local_port = VSOCK_UDS_LOCAL_PORT_BASE;
	if (!p->el || !p->uds_path || !*p->uds_path)
		return err_set(EINVAL, "no event loop or uds_path");
	/* "<uds_path>_<port>" must fit too. */
	if (strlen(p->uds_path) + 11 >= sizeof(u->path))
		return err_set(ENAMETOOLONG, "uds_path %s is too long", p->uds_path);
	snprintf(u->path, sizeof(u->path), "%s", p->uds_path);
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", p->uds_path);

	u->listen_fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (u->listen_fd < 0) {
		r = err_set(errno, "socket: %s", strerror(errno));
		goto fail;
	}
	if (bind(u->listen_fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		r = err_set(errno, "uds_path %s: %s%s", u->path, strerror(errno),
			    errno == EADDRINUSE ? " (remove the stale socket first)" : "");
		goto fail;
	}
	u->bound = true;
	if (listen(u->listen_fd, 128) < 0) {
		r = err_set(errno, "listen on %s: %s", u->path, strerror(errno));
		goto fail;
	}
	u->timer_fd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
	u->wake_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (u->timer_fd < 0 || u->wake_fd < 0) {
		r = err_set(errno, "timerfd/eventfd: %s", strerror(errno));
		goto fail;
	}
	if ((r = el_add(u->el, u->listen_fd, EPOLLIN, listen_event, u)) < 0 ||
	    (r = el_add(u->el, u->timer_fd, EPOLLIN, timer_event, u)) < 0 ||
	    (r = el_add(u->el, u->wake_fd, EPOLLIN, wake_event, u)) < 0) {
		err_set(-r, "adding sockets to the event loop: %s", strerror(-r));
		goto fail;
	}
	return 0;
fail:
	vsock_uds_fini(u);
	return r;
}

void vsock_uds_fini(struct vsock_uds *u)
{
	int *fds[] = {&u->listen_fd, &u->timer_fd, &u->wake_fd};

	for (unsigned h = 0; h < VSOCK_UDS_HASH_SIZE; h++)
		while (u->hash[h])
			remove_conn(u, u->hash[h]);
	for (unsigned i = 0; i < VSOCK_UDS_MAX_HANDSHAKES; i++)
		if (u->hs[i].fd >= 0)
			hs_close(u, i);
	for (unsigned i = 0; i < ARRAY_SIZE(fds); i++) {
		if (*fds[i] < 0)
			continue;
		if (u->el)
			el_remove(u->el, *fds[i]);
		close(*fds[i]);
		*fds[i] = -1;
	}
	if (u->bound)
		unlink(u->path);
	u->bound = false;
}
