/* virtio-net test fixture; see net_fix.h. */
#include "net_fix.h"

#include <arpa/inet.h>
#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/if_packet.h>
#include <linux/if_tun.h>
#include <net/ethernet.h>
#include <net/if.h>
#include <poll.h>
#include <stdlib.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#define PROBE_ETHERTYPE 0x88b6

static void write_sysctl(const char *path, const char *val)
{
	int fd = open(path, O_WRONLY | O_CLOEXEC);

	if (fd < 0)
		return; /* no IPv6 in this kernel: nothing to silence */
	if (write(fd, val, strlen(val)) < 0) {
		/* best effort */
	}
	close(fd);
}

static int create_tap(void)
{
	struct ifreq ifr;
	int fd, s, r = 0;

	fd = open("/dev/net/tun", O_RDWR | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	memset(&ifr, 0, sizeof(ifr));
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", NETFIX_TAP);
	ifr.ifr_flags = IFF_TAP | IFF_NO_PI | IFF_VNET_HDR;
	if (ioctl(fd, TUNSETIFF, &ifr) < 0 || ioctl(fd, TUNSETPERSIST, 1) < 0)
		r = -errno;
	close(fd);
	if (r < 0)
		return r;
	s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	memset(&ifr, 0, sizeof(ifr));
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", NETFIX_TAP);
	if (s < 0 || ioctl(s, SIOCGIFFLAGS, &ifr) < 0)
		r = -errno;
	ifr.ifr_flags |= IFF_UP;
	if (r == 0 && ioctl(s, SIOCSIFFLAGS, &ifr) < 0)
		r = -errno;
	if (s >= 0)
		close(s);
	return r;
}

int netfix_netns_tap(void)
{
	static int unshared;

	if (!unshared) {
		if (unshare(CLONE_NEWNET) < 0) {
			fprintf(stderr, "net_fix: unshare(CLONE_NEWNET): %s (needs root)\n",
				strerror(errno));
			return -errno;
		}
		unshared = 1;
		write_sysctl("/proc/sys/net/ipv6/conf/default/disable_ipv6", "1");
		write_sysctl("/proc/sys/net/ipv6/conf/all/disable_ipv6", "1");
	}
	/* (Re)create it if a test deleted it. */
	return if_nametoindex(NETFIX_TAP) ? 0 : create_tap();
}

static int packet_socket(bool vnet)
{
	struct sockaddr_ll sll = {.sll_family = AF_PACKET, .sll_protocol = htons(ETH_P_ALL)};
	int one = 1,
	    s = socket(AF_PACKET, SOCK_RAW | SOCK_NONBLOCK | SOCK_CLOEXEC, htons(ETH_P_ALL));

	if (s < 0)
		return -errno;
	sll.sll_ifindex = (int)if_nametoindex(NETFIX_TAP);
	if (sll.sll_ifindex == 0 || bind(s, (struct sockaddr *)&sll, sizeof(sll)) < 0 ||
	    setsockopt(s, SOL_PACKET, PACKET_IGNORE_OUTGOING, &one, sizeof(one)) < 0 ||
	    (vnet && setsockopt(s, SOL_PACKET, PACKET_VNET_HDR, &one, sizeof(one)) < 0)) {
		int e = errno ? errno : ENODEV;
		close(s);
		return -e;
	}
	return s;
}

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* A TAP's queue discipline comes alive asynchronously after the first fd
 * attaches (link watch); frames sent before that vanish. Send probes until
 * one reaches the device's fd, then drain them (the device is not reading
 * yet: the driver has not posted buffers). */
static int wait_tap_ready(struct netfix *f)
{
	uint8_t probe[64], junk[VIRTIO_NET_MAX_BUFFER + 64];
	int64_t deadline = now_ms() + VDRV_WAIT_MS;

	netfix_frame(probe, sizeof(probe), (const uint8_t[6]){2, 0, 0, 0, 0, 1}, 0);
	probe[12] = PROBE_ETHERTYPE >> 8;
	probe[13] = PROBE_ETHERTYPE & 0xff;
	while (now_ms() < deadline) {
		if (send(f->pkt, probe, sizeof(probe), 0) < 0 && errno != ENOBUFS)
			return -errno;
		if (netfix_tap_wait_readable(f, 20) == 0) {
			while (read(f->net->tap.fd, junk, sizeof(junk)) > 0)
				;
			return 0;
		}
	}
	return -ETIMEDOUT;
}

int netfix_init(struct netfix *f, struct net_cfg *cfg, uint64_t want, uint16_t qsize)
{
	struct net_cfg def = {0};
	int r;

	memset(f, 0, sizeof(*f));
	f->pkt = f->pkt_vnet = f->peer = -1;
	if (!cfg)
		cfg = &def;
	snprintf(cfg->id, sizeof(cfg->id), "%s", "net0");
	cfg->host_dev_name = (char *)NETFIX_TAP;
	if ((r = netfix_netns_tap()) < 0)
		return r;
	if ((r = vdrv_init(&f->d, NETFIX_RAM)) < 0)
		return r;
	if ((r = packet_socket(false)) < 0)
		goto fail;
	f->pkt = r;
	if ((r = packet_socket(true)) < 0)
		goto fail;
	f->pkt_vnet = r;
	if ((r = virtio_net_create(cfg, &f->d.gm, &f->d.el, &f->net)) < 0)
		goto fail;
	virtio_net_get_mac(f->net, f->mac);
	if ((r = wait_tap_ready(f)) < 0)
		goto fail;
	if ((r = vdrv_attach(&f->d, &f->net->vdev)) < 0)
		goto fail;
	if (want && (r = vdrv_setup(&f->d, want, 2, qsize)) < 0)
		goto fail;
	return 0;
fail:
	netfix_fini(f);
	return r;
}

int netfix_init_stream(struct netfix *f, struct net_cfg *cfg, uint64_t want, uint16_t qsize)
{
	struct net_cfg def = {0};
	int sv[2], r;

	memset(f, 0, sizeof(*f));
	f->pkt = f->pkt_vnet = f->peer = -1;
	if (!cfg)
		cfg = &def;
	snprintf(cfg->id, sizeof(cfg->id), "%s", "net0");
	if ((r = vdrv_init(&f->d, NETFIX_RAM)) < 0)
		return r;
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0) {
		r = -errno;
		goto fail;
	}
	f->peer = sv[1];
	if ((r = virtio_net_create_stream(cfg, sv[0], &f->d.gm, &f->d.el, &f->net)) < 0)
		goto fail;
	virtio_net_get_mac(f->net, f->mac);
	if ((r = vdrv_attach(&f->d, &f->net->vdev)) < 0)
		goto fail;
	if (want && (r = vdrv_setup(&f->d, want, 2, qsize)) < 0)
		goto fail;
	return 0;
fail:
	netfix_fini(f);
	return r;
}

void netfix_fini(struct netfix *f)
{
	virtio_net_destroy(f->net);
	f->net = NULL;
	if (f->pkt >= 0)
		close(f->pkt);
	if (f->pkt_vnet >= 0)
		close(f->pkt_vnet);
	if (f->peer >= 0)
		close(f->peer);
	f->pkt = f->pkt_vnet = f->peer = -1;
	vdrv_destroy(&f->d);
}

int netfix_teardown(void **state)
{
	struct netfix *f = *state;

	netfix_fini(f);
	free(f);
	return 0;
}

struct metrics_net netfix_counters(struct netfix *f)
{
	struct metrics_net m;

	virtio_net_get_counters(f->net, &m);
	return m;
}

/* ---- guest side ---- */

static int add_rx(struct netfix *f, uint64_t gpa, uint32_t size, bool split)
{
	struct vd_buf b[2] = {{gpa, size, true}, {0, 0, true}};
	int head;

	if (split) {
		b[0].len = size / 2;
		b[1] = (struct vd_buf){gpa + size / 2, size - size / 2, true};
	}
	head = vdrv_add_chain(&f->d, VIRTIO_NET_RXQ, b, split ? 2 : 1, false);
	if (head < 0)
		return head;
	f->rx_gpa[head] = gpa;
	f->rx_size[head] = size;
	return head;
}

int netfix_recycle_rx(struct netfix *f, uint16_t head)
{
	return add_rx(f, f->rx_gpa[head], f->rx_size[head], false);
}

int netfix_add_rx(struct netfix *f, int n, uint32_t size, bool split)
{
	for (int i = 0; i < n; i++) {
		uint64_t gpa = vdrv_alloc(&f->d, size, 64);
		int r;

		if (!gpa)
			return -ENOMEM;
		memset(vdrv_ptr(&f->d, gpa, size), 0xa5, size);
		if ((r = add_rx(f, gpa, size, split)) < 0)
			return r;
	}
	return 0;
}

int netfix_post_rx(struct netfix *f, int n, uint32_t size, bool split)
{
	int r = netfix_add_rx(f, n, size, split);

	if (r == 0)
		vdrv_kick(&f->d, VIRTIO_NET_RXQ);
	return r;
}

int netfix_rx_wait(struct netfix *f, int timeout_ms, uint16_t *head, uint32_t *len, uint8_t **data)
{
	uint32_t id, l;
	int r = vdrv_wait_used(&f->d, VIRTIO_NET_RXQ, timeout_ms, &id, &l);

	if (r < 0)
		return r;
	if (id >= VQ_MAX_SIZE)
		return -EBADMSG;
	*head = (uint16_t)id;
	*len = l;
	if (data)
		*data = vdrv_ptr(&f->d, f->rx_gpa[id], f->rx_size[id]);
	vdrv_free_chain(&f->d, VIRTIO_NET_RXQ, (uint16_t)id);
	return 0;
}

int netfix_tx_post(struct netfix *f, const struct virtio_net_hdr_v1 *hdr, const void *frame,
		   size_t len, int nseg, bool indirect)
{
	struct vd_buf b[1 + 16];
	uint64_t gpa = vdrv_alloc(&f->d, VIRTIO_NET_HDR_LEN + len + 1, 64);
	uint8_t *p;
	int n = 0;

	if (!gpa || nseg > 16)
		return -ENOMEM;
	p = vdrv_ptr(&f->d, gpa, VIRTIO_NET_HDR_LEN + len);
	memcpy(p, hdr, VIRTIO_NET_HDR_LEN);
	memcpy(p + VIRTIO_NET_HDR_LEN, frame, len);
	if (nseg == 0) {
		b[n++] = (struct vd_buf){gpa, (uint32_t)(VIRTIO_NET_HDR_LEN + len), false};
	} else {
		size_t off = 0, piece = (len + (size_t)nseg - 1) / (size_t)nseg;

		b[n++] = (struct vd_buf){gpa, VIRTIO_NET_HDR_LEN, false};
		while (off < len) {
			size_t l = len - off < piece ? len - off : piece;

			b[n++] =
			    (struct vd_buf){gpa + VIRTIO_NET_HDR_LEN + off, (uint32_t)l, false};
			off += l;
		}
	}
	return vdrv_add_chain(&f->d, VIRTIO_NET_TXQ, b, n, indirect);
}

int netfix_tx(struct netfix *f, const struct virtio_net_hdr_v1 *hdr, const void *frame, size_t len,
	      uint32_t *used_len)
{
	uint64_t mark = vdrv_mark(&f->d);
	uint32_t id, l;
	int head = netfix_tx_post(f, hdr, frame, len, 0, false), r;

	if (head < 0)
		return head;
	vdrv_kick(&f->d, VIRTIO_NET_TXQ);
	r = vdrv_wait_used(&f->d, VIRTIO_NET_TXQ, VDRV_WAIT_MS, &id, &l);
	vdrv_release(&f->d, mark);
	if (r < 0)
		return r;
	vdrv_free_chain(&f->d, VIRTIO_NET_TXQ, (uint16_t)id);
	if (id != (uint32_t)head)
		return -EBADMSG;
	if (used_len)
		*used_len = l;
	return 0;
}

/* ---- host side ---- */

static uint8_t pattern_byte(uint32_t *s)
{
	*s = *s * 1103515245u + 12345u;
	return (uint8_t)(*s >> 16);
}

size_t netfix_frame(uint8_t *buf, size_t len, const uint8_t src[6], uint32_t seed)
{
	memset(buf, 0xff, 6);
	memcpy(buf + 6, src, 6);
	buf[12] = NETFIX_ETHERTYPE >> 8;
	buf[13] = NETFIX_ETHERTYPE & 0xff;
	for (size_t i = 14; i < len; i++)
		buf[i] = pattern_byte(&seed);
	return len;
}

int netfix_host_send(struct netfix *f, const struct virtio_net_hdr *hdr, const void *frame,
		     size_t len)
{
	struct virtio_net_hdr zero = {0};
	struct iovec iov[2] = {{(void *)(hdr ? hdr : &zero), sizeof(zero)}, {(void *)frame, len}};
	struct msghdr m = {.msg_iov = hdr ? iov : iov + 1, .msg_iovlen = hdr ? 2 : 1};

	return sendmsg(hdr ? f->pkt_vnet : f->pkt, &m, 0) < 0 ? -errno : 0;
}

static bool interesting(const uint8_t *b, size_t len)
{
	uint16_t type;

	if (len < 14)
		return false;
	type = (uint16_t)(b[12] << 8 | b[13]);
	return type == NETFIX_ETHERTYPE || type == ETHERTYPE_IP || type == ETHERTYPE_ARP;
}

int netfix_host_recv(struct netfix *f, struct virtio_net_hdr *hdr, void *buf, size_t cap,
		     int timeout_ms)
{
	int64_t deadline = now_ms() + timeout_ms;
	int fd = hdr ? f->pkt_vnet : f->pkt;

	for (;;) {
		struct virtio_net_hdr h;
		struct iovec iov[2] = {{&h, sizeof(h)}, {buf, cap}};
		struct msghdr m = {.msg_iov = hdr ? iov : iov + 1, .msg_iovlen = hdr ? 2 : 1};
		struct pollfd p = {.fd = fd, .events = POLLIN};
		int64_t left = deadline - now_ms();
		ssize_t r;

		r = recvmsg(fd, &m, MSG_DONTWAIT);
		if (r >= 0) {
			size_t flen = (size_t)r - (hdr ? sizeof(h) : 0);

			if (hdr && (size_t)r < sizeof(h))
				continue;
			if (!interesting(buf, flen))
				continue;
			if (hdr)
				*hdr = h;
			return (int)flen;
		}
		if (errno != EAGAIN && errno != EINTR)
			return -errno;
		if (left <= 0)
			return -ETIMEDOUT;
		poll(&p, 1, (int)left);
	}
}

int netfix_tap_wait_readable(struct netfix *f, int timeout_ms)
{
	struct pollfd p = {.fd = f->net->tap.fd, .events = POLLIN};
	int r = poll(&p, 1, timeout_ms);

	if (r < 0)
		return -errno;
	return r > 0 && (p.revents & POLLIN) ? 0 : -ETIMEDOUT;
}

static uint32_t sum16(const uint8_t *p, size_t len, uint32_t s)
{
	for (size_t i = 0; i + 1 < len; i += 2)
		s += (uint32_t)(p[i] << 8 | p[i + 1]);
	if (len & 1)
		s += (uint32_t)p[len - 1] << 8;
	return s;
}

static uint16_t fold(uint32_t s)
{
	while (s >> 16)
		s = (s & 0xffff) + (s >> 16);
	return (uint16_t)s;
}

size_t netfix_tcp4_frame(uint8_t *buf, size_t len, const uint8_t src[6], const uint8_t dst[6],
			 uint32_t seed)
{
	uint8_t *ip = buf + 14, *tcp = ip + 20;
	size_t ip_len = len - 14, tcp_len = ip_len - 20;
	uint16_t c;
	uint32_t ps;

	memcpy(buf, dst, 6);
	memcpy(buf + 6, src, 6);
	buf[12] = 0x08;
	buf[13] = 0x00;
	memset(ip, 0, 40);
	ip[0] = 0x45;
	ip[2] = (uint8_t)(ip_len >> 8);
	ip[3] = (uint8_t)ip_len;
	ip[4] = 0x12;
	ip[6] = 0x40; /* DF */
	ip[8] = 64;
	ip[9] = 6; /* TCP */
	memcpy(ip + 12, (const uint8_t[]){10, 0, 0, 2}, 4);
	memcpy(ip + 16, (const uint8_t[]){10, 0, 0, 1}, 4);
	c = (uint16_t)~fold(sum16(ip, 20, 0));
	ip[10] = (uint8_t)(c >> 8);
	ip[11] = (uint8_t)c;
	tcp[0] = 0x04; /* sport 1234 */
	tcp[1] = 0xd2;
	tcp[2] = 0x16; /* dport 5678 */
	tcp[3] = 0x2e;
	tcp[7] = 1; /* seq 1 */
	tcp[12] = 5 << 4;
	tcp[13] = 0x18; /* PSH|ACK */
	tcp[14] = 0xff;
	tcp[15] = 0xff;
	for (size_t i = 40; i < ip_len; i++)
		ip[i] = pattern_byte(&seed);
	/* CHECKSUM_PARTIAL convention: the pseudo-header sum, not inverted. */
	ps = sum16(ip + 12, 8, 0) + 6 + (uint32_t)tcp_len;
	c = fold(ps);
	tcp[16] = (uint8_t)(c >> 8);
	tcp[17] = (uint8_t)c;
	return len;
}

int netfix_peer_read(struct netfix *f, void *buf, size_t len, int timeout_ms)
{
	int64_t deadline = now_ms() + timeout_ms;
	size_t got = 0;

	while (got < len) {
		ssize_t r = recv(f->peer, (uint8_t *)buf + got, len - got, MSG_DONTWAIT);

		if (r > 0) {
			got += (size_t)r;
			continue;
		}
		if (r == 0)
			return -EPIPE;
		if (now_ms() > deadline)
			return -ETIMEDOUT;
		el_run_once(&f->d.el, 10);
	}
	return 0;
}
