/* virtio-vsock test fixture; see vsock_fix.h. */
#include "vsock_fix.h"

#include <dirent.h>
#include <endian.h>
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#define SPLIT_GAP 64 /* payload offset in a split rx/tx buffer */

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Kick queue q after posting, if the device asked for it. */
void vsock_fix_maybe_kick(struct vsock_fix *f, unsigned q, uint16_t old_idx)
{
	uint16_t new_idx = f->d.q[q].avail_idx;

	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	if (f->d.features & VIRTIO_FEATURE(VIRTIO_RING_F_EVENT_IDX)) {
		if (vring_need_event(vdrv_avail_event(&f->d, q), new_idx, old_idx))
			vdrv_kick(&f->d, q);
	} else if (!(vdrv_used_flags(&f->d, q) & VRING_USED_F_NO_NOTIFY)) {
		vdrv_kick(&f->d, q);
	}
}

static int post_rx_buf(struct vsock_fix *f, uint64_t gpa)
{
	struct vd_buf b[2];
	int n = 1, head;

	if (f->rx_split) {
		b[0] = (struct vd_buf){gpa, VSOCK_HDR_SIZE, true};
		b[1] = (struct vd_buf){gpa + SPLIT_GAP, f->rx_len - VSOCK_HDR_SIZE, true};
		n = 2;
	} else {
		b[0] = (struct vd_buf){gpa, f->rx_len, true};
	}
	head = vdrv_add_chain(&f->d, VIRTIO_VSOCK_RXQ, b, n, false);
	if (head < 0)
		return head;
	f->rx_gpa[head] = gpa;
	return 0;
}

int vsock_fix_post_rx(struct vsock_fix *f, unsigned n)
{
	uint16_t old = f->d.q[VIRTIO_VSOCK_RXQ].avail_idx;

	for (unsigned i = 0; i < n; i++) {
		uint64_t gpa = vdrv_alloc(&f->d, f->rx_len + SPLIT_GAP, 64);
		int r;

		if (!gpa)
			return -ENOMEM;
		if ((r = post_rx_buf(f, gpa)) < 0)
			return r;
		f->rx_posted++;
	}
	vsock_fix_maybe_kick(f, VIRTIO_VSOCK_RXQ, old);
	return 0;
}

int vsock_fix_init(struct vsock_fix *f, uint64_t want, uint32_t rx_len, unsigned nrx, bool rx_split)
{
	struct vsock_cfg cfg = {.present = true, .guest_cid = VSOCK_FIX_CID};
	int r;

	memset(f, 0, sizeof(*f));
	f->rx_len = rx_len;
	f->rx_split = rx_split;
	snprintf(f->dir, sizeof(f->dir), "/tmp/ember-vsock-XXXXXX");
	if (!mkdtemp(f->dir))
		return -errno;
	snprintf(f->uds, sizeof(f->uds), "%s/v.sock", f->dir);
	cfg.uds_path = f->uds;
	r = vdrv_init(&f->d, VSOCK_FIX_RAM);
	if (r < 0)
		goto fail_dir;
	r = virtio_vsock_create(&cfg, &f->d.gm, &f->d.el, &f->vs);
	if (r < 0)
		goto fail_drv;
	r = vdrv_attach(&f->d, &f->vs->vdev);
	if (r < 0)
		goto fail_dev;
	if (!want)
		return 0;
	r = vdrv_setup(&f->d, want, VIRTIO_VSOCK_NUM_QUEUES, VIRTIO_VSOCK_QUEUE_SIZE);
	if (r < 0)
		goto fail_dev;
	f->tx_gpa = vdrv_alloc(&f->d, SPLIT_GAP + VSOCK_FIX_TX_MAX, 64);
	f->ev_gpa = vdrv_alloc(&f->d, 64, 8);
	if (!f->tx_gpa || !f->ev_gpa) {
		r = -ENOMEM;
		goto fail_dev;
	}
	for (int i = 0; i < 4; i++) {
		struct vd_buf b = {f->ev_gpa + 8 * (uint64_t)i, 4, true};

		if ((r = vdrv_add_chain(&f->d, VIRTIO_VSOCK_EVQ, &b, 1, false)) < 0)
			goto fail_dev;
	}
	vdrv_kick(&f->d, VIRTIO_VSOCK_EVQ);
	r = vsock_fix_post_rx(f, nrx);
	if (r < 0)
		goto fail_dev;
	vdrv_poll(&f->d);
	return 0;
fail_dev:
	virtio_vsock_destroy(f->vs);
fail_drv:
	vdrv_destroy(&f->d);
fail_dir:
	rmdir(f->dir);
	return r;
}

void vsock_fix_fini(struct vsock_fix *f)
{
	DIR *dir;
	struct dirent *e;

	virtio_vsock_destroy(f->vs);
	vdrv_destroy(&f->d);
	dir = opendir(f->dir);
	while (dir && (e = readdir(dir))) {
		char p[sizeof(f->dir) + 256 + 2];

		if (e->d_name[0] == '.')
			continue;
		snprintf(p, sizeof(p), "%s/%s", f->dir, e->d_name);
		unlink(p);
	}
	if (dir)
		closedir(dir);
	rmdir(f->dir);
}

void vsock_fix_hdr(struct virtio_vsock_hdr *h, uint64_t src_cid, uint64_t dst_cid,
		   uint32_t src_port, uint32_t dst_port, uint16_t op, uint32_t len, uint32_t flags,
		   uint32_t buf_alloc, uint32_t fwd_cnt)
{
	memset(h, 0, sizeof(*h));
	h->src_cid = htole64(src_cid);
	h->dst_cid = htole64(dst_cid);
	h->src_port = htole32(src_port);
	h->dst_port = htole32(dst_port);
	h->len = htole32(len);
	h->type = htole16(VIRTIO_VSOCK_TYPE_STREAM);
	h->op = htole16(op);
	h->flags = htole32(flags);
	h->buf_alloc = htole32(buf_alloc);
	h->fwd_cnt = htole32(fwd_cnt);
}

int vsock_fix_send_raw(struct vsock_fix *f, const struct vd_buf *bufs, int n)
{
	uint16_t old = f->d.q[VIRTIO_VSOCK_TXQ].avail_idx;
	uint32_t id;
	int head, r;

	head = vdrv_add_chain(&f->d, VIRTIO_VSOCK_TXQ, bufs, n, false);
	if (head < 0)
		return head;
	vsock_fix_maybe_kick(f, VIRTIO_VSOCK_TXQ, old);
	r = vdrv_wait_used(&f->d, VIRTIO_VSOCK_TXQ, VDRV_WAIT_MS, &id, NULL);
	if (r < 0)
		return r;
	vdrv_free_chain(&f->d, VIRTIO_VSOCK_TXQ, (uint16_t)id);
	return id == (uint32_t)head ? 0 : -EBADMSG;
}

int vsock_fix_post_tx(struct vsock_fix *f, const struct virtio_vsock_hdr *h)
{
	uint16_t old = f->d.q[VIRTIO_VSOCK_TXQ].avail_idx;
	uint64_t gpa = vdrv_alloc(&f->d, VSOCK_HDR_SIZE, 8);
	struct vd_buf b = {gpa, VSOCK_HDR_SIZE, false};
	int head;

	if (!gpa)
		return -ENOMEM;
	gm_write(&f->d.gm, gpa, h, VSOCK_HDR_SIZE);
	head = vdrv_add_chain(&f->d, VIRTIO_VSOCK_TXQ, &b, 1, false);
	if (head >= 0)
		vsock_fix_maybe_kick(f, VIRTIO_VSOCK_TXQ, old);
	return head;
}

unsigned vsock_fix_reap_tx(struct vsock_fix *f)
{
	unsigned n = 0;
	uint32_t id;

	vdrv_poll(&f->d);
	while (vdrv_wait_used(&f->d, VIRTIO_VSOCK_TXQ, 0, &id, NULL) == 0) {
		vdrv_free_chain(&f->d, VIRTIO_VSOCK_TXQ, (uint16_t)id);
		n++;
	}
	return n;
}

int vsock_fix_send(struct vsock_fix *f, const struct virtio_vsock_hdr *h, const void *data,
		   uint32_t len, bool split)
{
	uint64_t payload = f->tx_gpa + (split ? SPLIT_GAP : VSOCK_HDR_SIZE);
	struct vd_buf b[2];
	int n = 1;

	if (len > VSOCK_FIX_TX_MAX)
		return -EINVAL;
	gm_write(&f->d.gm, f->tx_gpa, h, VSOCK_HDR_SIZE);
	if (len)
		gm_write(&f->d.gm, payload, data, len);
	if (split && len) {
		b[0] = (struct vd_buf){f->tx_gpa, VSOCK_HDR_SIZE, false};
		b[1] = (struct vd_buf){payload, len, false};
		n = 2;
	} else {
		b[0] = (struct vd_buf){f->tx_gpa, VSOCK_HDR_SIZE + len, false};
	}
	return vsock_fix_send_raw(f, b, n);
}

int vsock_fix_recv(struct vsock_fix *f, struct virtio_vsock_hdr *h, void *data, size_t cap,
		   uint32_t *len, int timeout_ms)
{
	uint32_t id, used, plen;
	uint64_t gpa;
	uint16_t old;
	int r;

	r = vdrv_wait_used(&f->d, VIRTIO_VSOCK_RXQ, timeout_ms, &id, &used);
	if (r < 0)
		return r;
	if (id >= VQ_MAX_SIZE)
		return -EBADMSG;
	gpa = f->rx_gpa[id];
	vdrv_free_chain(&f->d, VIRTIO_VSOCK_RXQ, (uint16_t)id);
	gm_read(&f->d.gm, gpa, h, VSOCK_HDR_SIZE);
	plen = le32toh(h->len);
	if (used < VSOCK_HDR_SIZE || used != VSOCK_HDR_SIZE + plen ||
	    plen > f->rx_len - VSOCK_HDR_SIZE) {
		r = -EBADMSG;
	} else {
		if (data && cap)
			gm_read(&f->d.gm, gpa + (f->rx_split ? SPLIT_GAP : VSOCK_HDR_SIZE), data,
				plen < cap ? plen : cap);
		if (len)
			*len = plen;
	}
	old = f->d.q[VIRTIO_VSOCK_RXQ].avail_idx;
	if (post_rx_buf(f, gpa) == 0)
		vsock_fix_maybe_kick(f, VIRTIO_VSOCK_RXQ, old);
	return r;
}

int vsock_fix_try_recv(struct vsock_fix *f, struct virtio_vsock_hdr *h, void *data, size_t cap,
		       uint32_t *len)
{
	vdrv_poll(&f->d);
	if (vdrv_used_idx(&f->d, VIRTIO_VSOCK_RXQ) == f->d.q[VIRTIO_VSOCK_RXQ].last_used)
		return -EAGAIN;
	return vsock_fix_recv(f, h, data, cap, len, 0);
}

/* ---- driver-side connection ---- */

void vsock_gconn_init(struct vsock_gconn *gc, uint32_t gport, uint32_t hport, uint32_t buf_alloc)
{
	memset(gc, 0, sizeof(*gc));
	gc->gport = gport;
	gc->hport = hport;
	gc->buf_alloc = buf_alloc;
}

int vsock_fix_gsend(struct vsock_fix *f, struct vsock_gconn *gc, uint16_t op, uint32_t flags,
		    const void *data, uint32_t len)
{
	struct virtio_vsock_hdr h;
	int r;

	vsock_fix_hdr(&h, VSOCK_FIX_CID, VMADDR_CID_HOST, gc->gport, gc->hport, op, len, flags,
		      gc->buf_alloc, gc->fwd_cnt);
	r = vsock_fix_send(f, &h, data, len, len > 1024);
	if (r == 0) {
		gc->last_fwd_sent = gc->fwd_cnt;
		if (op == VIRTIO_VSOCK_OP_RW)
			gc->tx_cnt += len;
	}
	return r;
}

void vsock_gconn_seen(struct vsock_gconn *gc, const struct virtio_vsock_hdr *h)
{
	gc->peer_buf_alloc = le32toh(h->buf_alloc);
	gc->peer_fwd_cnt = le32toh(h->fwd_cnt);
	if (le16toh(h->op) == VIRTIO_VSOCK_OP_RW)
		gc->rx_cnt += le32toh(h->len);
}

uint32_t vsock_gconn_credit(const struct vsock_gconn *gc)
{
	uint32_t in_flight = gc->tx_cnt - gc->peer_fwd_cnt;

	return in_flight >= gc->peer_buf_alloc ? 0 : gc->peer_buf_alloc - in_flight;
}

bool vsock_gconn_match(const struct vsock_gconn *gc, const struct virtio_vsock_hdr *h)
{
	return le64toh(h->src_cid) == VMADDR_CID_HOST && le64toh(h->dst_cid) == VSOCK_FIX_CID &&
	       le32toh(h->src_port) == gc->hport && le32toh(h->dst_port) == gc->gport &&
	       le16toh(h->type) == VIRTIO_VSOCK_TYPE_STREAM;
}

/* ---- host side ---- */

static int unix_connect(const char *path)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

	if (fd < 0)
		return -errno;
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		int e = errno;
		close(fd);
		return -e;
	}
	return fd;
}

int vsock_fix_host_connect(struct vsock_fix *f)
{
	return unix_connect(f->uds);
}

int vsock_fix_host_connect_port(struct vsock_fix *f, uint32_t port)
{
	char line[32];
	int fd = unix_connect(f->uds), n;

	if (fd < 0)
		return fd;
	n = snprintf(line, sizeof(line), "CONNECT %u\n", port);
	if (write(fd, line, (size_t)n) != n) {
		close(fd);
		return -EIO;
	}
	return fd;
}

int vsock_fix_listen(struct vsock_fix *f, uint32_t port, int backlog)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

	if (fd < 0)
		return -errno;
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s_%u", f->uds, port);
	unlink(sa.sun_path);
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(fd, backlog) < 0) {
		int e = errno;
		close(fd);
		return -e;
	}
	return fd;
}

/* Wait for fd readable or the event loop having work, then dispatch. */
static int wait_fd_or_loop(struct vsock_fix *f, int fd, int64_t deadline)
{
	struct pollfd p[2] = {{.fd = fd, .events = POLLIN}, {.fd = f->d.el.epfd, .events = POLLIN}};
	int64_t left = deadline - now_ms();

	if (left <= 0)
		return -ETIMEDOUT;
	if (poll(p, 2, (int)left) < 0 && errno != EINTR)
		return -errno;
	if (p[1].revents)
		vdrv_poll(&f->d);
	return 0;
}

int vsock_fix_host_read(struct vsock_fix *f, int fd, void *buf, size_t len, int timeout_ms)
{
	int64_t deadline = now_ms() + timeout_ms;
	size_t got = 0;

	while (got < len) {
		ssize_t n = recv(fd, (uint8_t *)buf + got, len - got, MSG_DONTWAIT);
		int r;

		if (n > 0) {
			got += (size_t)n;
			continue;
		}
		if (n == 0)
			return -EPIPE;
		if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
			return -errno;
		if ((r = wait_fd_or_loop(f, fd, deadline)) < 0)
			return r;
	}
	return 0;
}

int vsock_fix_host_line(struct vsock_fix *f, int fd, char *buf, size_t cap, int timeout_ms)
{
	int64_t deadline = now_ms() + timeout_ms;
	size_t got = 0;

	while (got + 1 < cap) {
		ssize_t n = recv(fd, buf + got, 1, MSG_DONTWAIT);
		int r;

		if (n == 1) {
			if (buf[got++] == '\n')
				break;
			continue;
		}
		if (n == 0) {
			buf[got] = '\0';
			return -EPIPE;
		}
		if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
			return -errno;
		if ((r = wait_fd_or_loop(f, fd, deadline)) < 0)
			return r;
	}
	buf[got] = '\0';
	return (int)got;
}

int vsock_fix_host_wait_eof(struct vsock_fix *f, int fd, int timeout_ms)
{
	int64_t deadline = now_ms() + timeout_ms;

	for (;;) {
		char c;
		ssize_t n = recv(fd, &c, 1, MSG_DONTWAIT);
		int r;

		if (n == 0 || (n < 0 && errno == ECONNRESET))
			return 0;
		if (n > 0)
			return -EBADMSG;
		if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
			return -errno;
		if ((r = wait_fd_or_loop(f, fd, deadline)) < 0)
			return r;
	}
}

int vsock_fix_open_from_host(struct vsock_fix *f, uint32_t port, uint32_t buf_alloc,
			     struct vsock_gconn *gc)
{
	struct virtio_vsock_hdr h;
	char line[64], want[64];
	int fd = vsock_fix_host_connect_port(f, port), r;

	if (fd < 0)
		return fd;
	r = vsock_fix_recv(f, &h, NULL, 0, NULL, VDRV_WAIT_MS);
	if (r == 0 &&
	    (le16toh(h.op) != VIRTIO_VSOCK_OP_REQUEST || le32toh(h.dst_port) != port ||
	     le64toh(h.dst_cid) != VSOCK_FIX_CID || le64toh(h.src_cid) != VMADDR_CID_HOST))
		r = -EPROTO;
	if (r == 0) {
		vsock_gconn_init(gc, port, le32toh(h.src_port), buf_alloc);
		vsock_gconn_seen(gc, &h);
		r = vsock_fix_gsend(f, gc, VIRTIO_VSOCK_OP_RESPONSE, 0, NULL, 0);
	}
	if (r == 0) {
		r = vsock_fix_host_line(f, fd, line, sizeof(line), VDRV_WAIT_MS);
		snprintf(want, sizeof(want), "OK %u\n", gc->hport);
		r = r < 0 ? r : (strcmp(line, want) ? -EPROTO : 0);
	}
	if (r < 0) {
		close(fd);
		return r;
	}
	return fd;
}

int vsock_fix_open_from_guest(struct vsock_fix *f, uint32_t gport, uint32_t hport,
			      uint32_t buf_alloc, struct vsock_gconn *gc, int *lfd)
{
	struct virtio_vsock_hdr h;
	int l = vsock_fix_listen(f, hport, 16), r, afd;

	*lfd = -1;
	if (l < 0)
		return l;
	vsock_gconn_init(gc, gport, hport, buf_alloc);
	r = vsock_fix_gsend(f, gc, VIRTIO_VSOCK_OP_REQUEST, 0, NULL, 0);
	if (r == 0)
		r = vsock_fix_recv(f, &h, NULL, 0, NULL, VDRV_WAIT_MS);
	if (r == 0 && (le16toh(h.op) != VIRTIO_VSOCK_OP_RESPONSE || !vsock_gconn_match(gc, &h)))
		r = -EPROTO;
	if (r < 0) {
		close(l);
		return r;
	}
	vsock_gconn_seen(gc, &h);
	afd = accept4(l, NULL, NULL, SOCK_CLOEXEC);
	if (afd < 0) {
		r = -errno;
		close(l);
		return r;
	}
	*lfd = l;
	return afd;
}

struct vsock_counters vsock_fix_counters(struct vsock_fix *f)
{
	struct vsock_counters c;

	virtio_vsock_get_counters(f->vs, &c);
	return c;
}

int vsock_fix_count_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	struct dirent *e;
	int n = 0;

	while (d && (e = readdir(d)))
		n += e->d_name[0] != '.';
	if (d)
		closedir(d);
	return n;
}

uint64_t vsock_fix_fnv(uint64_t h, const void *p, size_t len)
{
	const uint8_t *b = p;

	for (size_t i = 0; i < len; i++) {
		h ^= b[i];
		h *= 0x100000001b3ULL;
	}
	return h;
}
