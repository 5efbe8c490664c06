/* Hand-built guest frames (Ethernet, ARP, IPv4, TCP, UDP) for the tests of
 * the MMDS responder (tests/unit/test_mmds_net.c), of MMDS through virtio-net
 * (tests/device/test_net_mmds.c), the MMDS fuzz seeds
 * (tests/fuzz/gen_mmds_seeds.c) and the net benchmark's IPv4 traffic
 * (tools/bench/net_bench.c). Header only (static inline): every user is one
 * translation unit, and nothing here needs a build rule of its own.
 *
 * Fields are written byte by byte in network order; every builder fills in
 * the IPv4 header checksum and the TCP/UDP checksum over the pseudo header,
 * so a test that breaks a field on purpose calls fr_ipv4_csum / fr_l4_csum
 * again only when it wants the frame valid. */
#ifndef TESTS_LIB_FRAMES_H
#define TESTS_LIB_FRAMES_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#define FR_ETH_HLEN 14
#define FR_IP_HLEN 20
#define FR_TCP_HLEN 20
#define FR_UDP_HLEN 8
/* Offsets in a frame built here: the IPv4 header, then TCP or UDP. */
#define FR_IP (FR_ETH_HLEN)
#define FR_L4 (FR_ETH_HLEN + FR_IP_HLEN)
#define FR_TCP_DATA (FR_L4 + FR_TCP_HLEN)

#define FR_FIN 0x01
#define FR_SYN 0x02
#define FR_RST 0x04
#define FR_PSH 0x08
#define FR_ACK 0x10

static inline uint16_t fr_get16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static inline uint32_t fr_get32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static inline void fr_put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static inline void fr_put32(uint8_t *p, uint32_t v)
{
	fr_put16(p, (uint16_t)(v >> 16));
	fr_put16(p + 2, (uint16_t)v);
}

/* One's complement sum of p[0..n) added to s (not folded). */
static inline uint32_t fr_sum(uint32_t s, const uint8_t *p, size_t n)
{
	for (; n > 1; p += 2, n -= 2)
		s += fr_get16(p);
	if (n)
		s += (uint32_t)p[0] << 8;
	return s;
}

static inline uint16_t fr_fold(uint32_t s)
{
	while (s >> 16)
		s = (s & 0xffff) + (s >> 16);
	return (uint16_t)~s;
}

/* The checksum of an L4 segment t[0..len) (TCP or UDP by proto) from src to
 * dst (host order), with its own checksum field counted as it is (0 to
 * compute one; a valid segment sums to 0). */
static inline uint16_t fr_l4_sum(uint32_t src, uint32_t dst, uint8_t proto, const uint8_t *t,
				 size_t len)
{
	uint8_t ph[12];

	fr_put32(ph, src);
	fr_put32(ph + 4, dst);
	ph[8] = 0;
	ph[9] = proto;
	fr_put16(ph + 10, (uint16_t)len);
	return fr_fold(fr_sum(fr_sum(0, ph, sizeof(ph)), t, len));
}

/* Recompute the IPv4 header checksum of frame f (after editing the header). */
static inline void fr_ipv4_csum(uint8_t *f)
{
	fr_put16(f + FR_IP + 10, 0);
	fr_put16(f + FR_IP + 10, fr_fold(fr_sum(0, f + FR_IP, FR_IP_HLEN)));
}

/* Recompute the TCP (or UDP) checksum of frame f from its IPv4 header. */
static inline void fr_l4_csum(uint8_t *f)
{
	uint8_t *ip = f + FR_IP, *t = f + FR_L4;
	size_t len = fr_get16(ip + 2) - FR_IP_HLEN;
	size_t at = ip[9] == 17 ? 6 : 16;

	fr_put16(t + at, 0);
	fr_put16(t + at, fr_l4_sum(fr_get32(ip + 12), fr_get32(ip + 16), ip[9], t, len));
}

/* Ethernet (dst, src, ethertype) + IPv4 header (no options, TTL 64, DF off)
 * of proto carrying l4_len bytes. */
static inline void fr_eth_ipv4(uint8_t *f, const uint8_t dst_mac[6], const uint8_t src_mac[6],
			       uint32_t src, uint32_t dst, uint8_t proto, size_t l4_len)
{
	uint8_t *ip = f + FR_IP;

	memcpy(f, dst_mac, 6);
	memcpy(f + 6, src_mac, 6);
	fr_put16(f + 12, 0x0800);
	memset(ip, 0, FR_IP_HLEN);
	ip[0] = 0x45;
	fr_put16(ip + 2, (uint16_t)(FR_IP_HLEN + l4_len));
	ip[8] = 64;
	ip[9] = proto;
	fr_put32(ip + 12, src);
	fr_put32(ip + 16, dst);
	fr_ipv4_csum(f);
}

/* A TCP segment as a frame. Addresses in host order. */
struct fr_tcp {
	const uint8_t *dst_mac, *src_mac;
	uint32_t src, dst;
	uint16_t sport, dport;
	uint32_t seq, ack;
	uint8_t flags;
	uint16_t win;
	const void *data;
	size_t dlen;
};

/* Ethernet + IPv4 + TCP (no options) + data, checksums filled in; returns
 * the frame's length (54 + dlen). */
static inline size_t fr_tcp(uint8_t *f, const struct fr_tcp *s)
{
	uint8_t *t = f + FR_L4;

	fr_eth_ipv4(f, s->dst_mac, s->src_mac, s->src, s->dst, 6, FR_TCP_HLEN + s->dlen);
	memset(t, 0, FR_TCP_HLEN);
	fr_put16(t, s->sport);
	fr_put16(t + 2, s->dport);
	fr_put32(t + 4, s->seq);
	fr_put32(t + 8, s->ack);
	t[12] = (FR_TCP_HLEN / 4) << 4;
	t[13] = s->flags;
	fr_put16(t + 14, s->win);
	if (s->dlen)
		memcpy(t + FR_TCP_HLEN, s->data, s->dlen);
	fr_l4_csum(f);
	return FR_TCP_DATA + s->dlen;
}

/* Ethernet + IPv4 + UDP, frame_len bytes in all (>= 42), the payload a
 * counting pattern from seed; checksums filled in. Returns frame_len. */
static inline size_t fr_udp(uint8_t *f, size_t frame_len, const uint8_t dst_mac[6],
			    const uint8_t src_mac[6], uint32_t src, uint32_t dst, uint16_t sport,
			    uint16_t dport, uint32_t seed)
{
	size_t l4 = frame_len - FR_L4;
	uint8_t *u = f + FR_L4;

	fr_eth_ipv4(f, dst_mac, src_mac, src, dst, 17, l4);
	fr_put16(u, sport);
	fr_put16(u + 2, dport);
	fr_put16(u + 4, (uint16_t)l4);
	for (size_t i = FR_UDP_HLEN; i < l4; i++)
		u[i] = (uint8_t)(seed + i);
	fr_l4_csum(f);
	return frame_len;
}

/* A broadcast ARP request (Ethernet/IPv4) from mac/sender_ip for target_ip:
 * 42 bytes. */
static inline size_t fr_arp_request(uint8_t *f, const uint8_t mac[6], uint32_t sender_ip,
				    uint32_t target_ip)
{
	uint8_t *a = f + FR_ETH_HLEN;

	memset(f, 0xff, 6);
	memcpy(f + 6, mac, 6);
	fr_put16(f + 12, 0x0806);
	fr_put16(a, 1);
	fr_put16(a + 2, 0x0800);
	a[4] = 6;
	a[5] = 4;
	fr_put16(a + 6, 1);
	memcpy(a + 8, mac, 6);
	fr_put32(a + 14, sender_ip);
	memset(a + 18, 0, 6);
	fr_put32(a + 24, target_ip);
	return FR_ETH_HLEN + 28;
}

#endif
