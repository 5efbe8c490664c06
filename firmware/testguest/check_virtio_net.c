/* virtio-net (tg.net=N devices expected): the first device does a real
 * exchange with the host behind its TAP, which tests/e2e/test_virtio_net.sh
 * configures as 172.16.0.1/24 with a UDP echo-style peer on port 5000:
 *   1. handshake (MAC, STATUS, MRG_RXBUF), config: MAC and LINK_UP,
 *      receive buffers posted on queue 0;
 *   2. ARP request "who has 172.16.0.1, tell 172.16.0.2" -> the host kernel
 *      answers; the reply must arrive with a sane vnet header;
 *   3. a UDP datagram 172.16.0.2:4000 -> 172.16.0.1:5000 carrying
 *      "ember-tg-net-ping"; the host peer answers "ember-host-pong".
 * Other frames (the host may send its own) are skipped. Each request is
 * sent up to NET_TRIES times, waiting NET_WAIT_S CMOS RTC seconds for the
 * answer each time (a TAP's queue comes alive a little after ember attaches).
 * Results: net0.init, net0.arp, net0.udp, net0.status, net.count. */
#include <linux/virtio_config.h>
#include <linux/virtio_mmio.h>
#include <linux/virtio_net.h>

#include "tg.h"
#include "virtio.h"
#include "x86.h"

#define NET_WAIT_S 4
#define NET_TRIES 5
#define RX_BUFS 8
#define RX_BUF_LEN 1536 /* header + a 1514-byte frame, MTU 1500 */
#define HDR_LEN 12	/* struct virtio_net_hdr_v1 */
#define UDP_SPORT 4000
#define UDP_DPORT 5000

static const uint8_t guest_ip[4] = {172, 16, 0, 2};
static const uint8_t host_ip[4] = {172, 16, 0, 1};
static const char ping[] = "ember-tg-net-ping";
static const char pong[] = "ember-host-pong";

static uint8_t vq_mem[2][4096] __attribute__((aligned(4096), section(".noinit")));
static uint8_t rx_bufs[RX_BUFS][RX_BUF_LEN] __attribute__((aligned(64), section(".noinit")));
static uint8_t tx_buf[2048] __attribute__((aligned(64), section(".noinit")));

struct net {
	struct tg_vdev d;
	struct tg_vq rx, tx;
	uint8_t mac[6], host_mac[6];
};

static void barrier(void)
{
	__asm__ volatile("" ::: "memory");
}

static uint8_t rtc_seconds(void)
{
	outb(0x70, 0x00);
	return inb(0x71);
}

static void put16(uint8_t *p, uint16_t v) /* network order */
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static uint16_t get16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static uint16_t ip_checksum(const uint8_t *p, size_t len)
{
	uint32_t s = 0;

	for (size_t i = 0; i + 1 < len; i += 2)
		s += get16(p + i);
	while (s >> 16)
		s = (s & 0xffff) + (s >> 16);
	return (uint16_t)~s;
}

static void fmt_mac(char *out, size_t n, const uint8_t *m)
{
	tg_snprintf(out, n, "%02x:%02x:%02x:%02x:%02x:%02x", m[0], m[1], m[2], m[3], m[4], m[5]);
}

/* ---- queues ---- */

static void rx_post(struct net *n, uint16_t head)
{
	struct tg_vq *q = &n->rx;
	uint16_t idx = q->avail->idx;

	q->avail->ring[idx % q->size] = head;
	barrier();
	q->avail->idx = (uint16_t)(idx + 1);
	barrier();
}

static bool rx_setup(struct net *n)
{
	if (n->rx.size < RX_BUFS)
		return false;
	for (uint16_t i = 0; i < RX_BUFS; i++) {
		n->rx.desc[i].addr = (uint64_t)rx_bufs[i];
		n->rx.desc[i].len = RX_BUF_LEN;
		n->rx.desc[i].flags = VRING_DESC_F_WRITE;
		n->rx.desc[i].next = 0;
		rx_post(n, i);
	}
	tg_vio_write(&n->d, VIRTIO_MMIO_QUEUE_NOTIFY, 0);
	return true;
}

/* Send header + frame (one descriptor) and wait for the device to take it. */
static bool tx_send(struct net *n, const uint8_t *frame, size_t len)
{
	struct tg_vbuf b = {tx_buf, (uint32_t)(HDR_LEN + len), false};
	uint32_t wr;

	memset(tx_buf, 0, HDR_LEN);
	memcpy(tx_buf + HDR_LEN, frame, len);
	return tg_vq_run(&n->d, &n->tx, &b, 1, false, &wr);
}

/* Wait for a received frame that match() accepts; every frame seen goes
 * back to the device. *skipped counts the others. */
static bool rx_wait(struct net *n, bool (*match)(struct net *, const uint8_t *, size_t),
		    unsigned *skipped, uint16_t *num_buffers)
{
	struct tg_vq *q = &n->rx;
	uint8_t last = rtc_seconds();
	unsigned ticks = 0;

	for (unsigned long i = 0;; i++) {
		if (*(volatile uint16_t *)&q->used->idx != q->last_used) {
			barrier();
			struct vring_used_elem e = q->used->ring[q->last_used % q->size];
			q->last_used++;
			bool ok = false;
			if (e.id < RX_BUFS && e.len >= HDR_LEN + 14 && e.len <= RX_BUF_LEN) {
				const uint8_t *b = rx_bufs[e.id];
				const struct virtio_net_hdr_v1 *h = (const void *)b;
				*num_buffers = h->num_buffers;
				ok = match(n, b + HDR_LEN, e.len - HDR_LEN);
			}
			rx_post(n, (uint16_t)(e.id < RX_BUFS ? e.id : 0));
			tg_vio_write(&n->d, VIRTIO_MMIO_QUEUE_NOTIFY, 0);
			uint32_t isr = tg_vio_read(&n->d, VIRTIO_MMIO_INTERRUPT_STATUS);
			if (isr)
				tg_vio_write(&n->d, VIRTIO_MMIO_INTERRUPT_ACK, isr);
			if (ok)
				return true;
			(*skipped)++;
			continue;
		}
		cpu_pause();
		if (i % 1024 == 0) {
			uint8_t s = rtc_seconds();
			if (s != last) {
				last = s;
				if (++ticks > NET_WAIT_S)
					return false;
			}
		}
	}
}

/* ---- frames ---- */

static size_t arp_request(struct net *n, uint8_t *f)
{
	memset(f, 0xff, 6);
	memcpy(f + 6, n->mac, 6);
	put16(f + 12, 0x0806);
	put16(f + 14, 1);      /* Ethernet */
	put16(f + 16, 0x0800); /* IPv4 */
	f[18] = 6;
	f[19] = 4;
	put16(f + 20, 1); /* request */
	memcpy(f + 22, n->mac, 6);
	memcpy(f + 28, guest_ip, 4);
	memset(f + 32, 0, 6);
	memcpy(f + 38, host_ip, 4);
	memset(f + 42, 0, 60 - 42); /* pad to the Ethernet minimum */
	return 60;
}

static bool is_arp_reply(struct net *n, const uint8_t *f, size_t len)
{
	if (len < 42 || get16(f + 12) != 0x0806 || get16(f + 20) != 2 ||
	    memcmp(f + 28, host_ip, 4) || memcmp(f + 38, guest_ip, 4) || memcmp(f, n->mac, 6))
		return false;
	memcpy(n->host_mac, f + 22, 6);
	return true;
}

static size_t udp_ping(struct net *n, uint8_t *f)
{
	uint8_t *ip = f + 14, *udp = ip + 20;
	size_t plen = sizeof(ping) - 1, udp_len = 8 + plen, ip_len = 20 + udp_len;

	memcpy(f, n->host_mac, 6);
	memcpy(f + 6, n->mac, 6);
	put16(f + 12, 0x0800);
	memset(ip, 0, 20);
	ip[0] = 0x45;
	put16(ip + 2, (uint16_t)ip_len);
	put16(ip + 4, 0x7467);
	ip[8] = 64;
	ip[9] = 17; /* UDP */
	memcpy(ip + 12, guest_ip, 4);
	memcpy(ip + 16, host_ip, 4);
	put16(ip + 10, ip_checksum(ip, 20));
	put16(udp, UDP_SPORT);
	put16(udp + 2, UDP_DPORT);
	put16(udp + 4, (uint16_t)udp_len);
	put16(udp + 6, 0); /* no checksum (IPv4 allows it) */
	memcpy(udp + 8, ping, plen);
	return 14 + ip_len;
}

static bool is_pong(struct net *n, const uint8_t *f, size_t len)
{
	const uint8_t *ip = f + 14, *udp;
	size_t ihl, plen = sizeof(pong) - 1;

	if (len < 14 + 20 + 8 || get16(f + 12) != 0x0800 || memcmp(f, n->mac, 6) ||
	    (ip[0] >> 4) != 4 || ip[9] != 17 || memcmp(ip + 12, host_ip, 4) ||
	    memcmp(ip + 16, guest_ip, 4))
		return false;
	ihl = (size_t)(ip[0] & 0xf) * 4;
	udp = ip + ihl;
	if (len < 14 + ihl + 8 + plen || get16(udp) != UDP_DPORT || get16(udp + 2) != UDP_SPORT)
		return false;
	return get16(udp + 4) == 8 + plen && !memcmp(udp + 8, pong, plen);
}

/* ---- the check ---- */

static void test_net(struct tg_vdev *d)
{
	static struct net n; /* big enough to keep off the stack */
	static uint8_t frame[128];
	const char *why = "";
	char mac[24], hmac[24];
	unsigned skipped = 0;
	uint16_t nb = 0;
	uint64_t want = (1ULL << VIRTIO_NET_F_MAC) | (1ULL << VIRTIO_NET_F_STATUS) |
			(1ULL << VIRTIO_NET_F_MRG_RXBUF);

	memset(&n, 0, sizeof(n));
	n.d = *d;
	bool ok = tg_virtio_negotiate(&n.d, want, &why) &&
		  tg_vq_init(&n.d, &n.rx, 0, vq_mem[0], &why) &&
		  tg_vq_init(&n.d, &n.tx, 1, vq_mem[1], &why);
	if (ok)
		tg_virtio_driver_ok(&n.d);
	uint32_t c0 = tg_vio_read(&n.d, 0x100), c1 = tg_vio_read(&n.d, 0x104);
	for (int i = 0; i < 4; i++)
		n.mac[i] = (uint8_t)(c0 >> (8 * i));
	n.mac[4] = (uint8_t)c1;
	n.mac[5] = (uint8_t)(c1 >> 8);
	uint16_t status = (uint16_t)(c1 >> 16);
	fmt_mac(mac, sizeof(mac), n.mac);
	bool have_mac = n.d.features & (1ULL << VIRTIO_NET_F_MAC);
	ok = ok && have_mac && (status & VIRTIO_NET_S_LINK_UP) && !(n.mac[0] & 1) && rx_setup(&n);
	if (!tg_expect(ok, "net0.init",
		       "features offered=%#lx negotiated=%#lx mac=%s status=%#x queues=%u/%u %s",
		       n.d.dev_features, n.d.features, mac, status, n.rx.size, n.tx.size, why))
		return;

	/* ARP: the host kernel answers for its own address. */
	size_t len = arp_request(&n, frame);
	bool sent = true, got = false;
	int tries = 0;
	while (sent && !got && tries++ < NET_TRIES) {
		sent = tx_send(&n, frame, len);
		got = sent && rx_wait(&n, is_arp_reply, &skipped, &nb);
	}
	fmt_mac(hmac, sizeof(hmac), n.host_mac);
	tg_expect(got && nb == 1, "net0.arp",
		  "who-has 172.16.0.1 tell 172.16.0.2 from %s: sent=%d reply=%d host_mac=%s "
		  "num_buffers=%u tries=%d skipped=%u",
		  mac, sent, got, got ? hmac : "-", nb, tries, skipped);
	if (got) {
		/* UDP to the host's peer, which answers. */
		skipped = 0;
		len = udp_ping(&n, frame);
		got = false;
		tries = 0;
		while (sent && !got && tries++ < NET_TRIES) {
			sent = tx_send(&n, frame, len);
			got = sent && rx_wait(&n, is_pong, &skipped, &nb);
		}
		tg_expect(got, "net0.udp",
			  "172.16.0.2:%d -> 172.16.0.1:%d \"%s\": sent=%d reply \"%s\"=%d tries=%d "
			  "skipped=%u",
			  UDP_SPORT, UDP_DPORT, ping, sent, pong, got, tries, skipped);
	}
	uint32_t s = tg_virtio_status(&n.d);
	tg_expect(s == 0xf, "net0.status", "device status=%#x (ACK|DRIVER|FEATURES_OK|DRIVER_OK)",
		  s);
	tg_virtio_reset(&n.d);
}

static void check_virtio_net(void)
{
	struct tg_vslot slots[TG_VIRTIO_MAX];
	int n = tg_virtio_slots(slots, TG_VIRTIO_MAX), nnet = 0;
	size_t len;
	uint64_t want = 0;
	const char *v = tg_cmdline_get("tg.net", &len);

	if (v && !tg_parse_u64(v, len, &want))
		tg_fail("net.count", "malformed tg.net");
	for (int i = 0; i < n && i < TG_VIRTIO_MAX; i++) {
		struct tg_vdev d;
		if (tg_virtio_identify(&d, &slots[i]) && d.device_id == 1) {
			if (nnet == 0)
				test_net(&d);
			nnet++;
		}
	}
	if (v || nnet)
		tg_expect((uint64_t)nnet == want, "net.count", "%d virtio-net devices, tg.net=%lu",
			  nnet, want);
}
TG_CHECK(720, check_virtio_net);
