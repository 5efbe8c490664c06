/* The MMDS network responder driven by hand-built frames: ARP, the TCP
 * handshake, requests and responses, FIN both ways, RST, retransmission on
 * the timer, the peer's window (and zero-window probes), out-of-order and
 * duplicate data, bad checksums, malformed headers of every layer, random
 * junk, several connections at once and a SYN flood (bounded state, a
 * legitimate client still served). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ember/mmds.h"
#include "ember/mmds_http.h"
#include "ember/mmds_net.h"
#include "lib/frames.h"

#define MMDS_IP MMDS_DEFAULT_IPV4
#define GUEST_IP 0xa9fe0002u /* 169.254.0.2 */
#define F_FIN FR_FIN
#define F_SYN FR_SYN
#define F_RST FR_RST
#define F_PSH FR_PSH
#define F_ACK FR_ACK

static const uint8_t guest_mac[6] = {0x02, 0, 0, 0, 0, 0x01};

struct fx {
	struct mmds *store;
	struct mmds_net *net;
	uint64_t now;
};

/* a parsed frame from the responder */
struct seg {
	size_t len;
	uint16_t ethertype;
	uint16_t sport, dport, win;
	uint32_t seq, ack;
	uint8_t flags;
	const uint8_t *data;
	size_t dlen;
	uint8_t raw[MMDS_NET_MAX_FRAME];
};

/* A guest TCP segment to the MMDS (port 80 unless dport). */
static size_t tcp_frame(uint8_t *f, uint16_t sport, uint16_t dport, uint32_t seq, uint32_t ack,
			uint8_t flags, uint16_t win, const void *data, size_t dlen)
{
	return fr_tcp(f, &(struct fr_tcp){.dst_mac = MMDS_MAC,
					  .src_mac = guest_mac,
					  .src = GUEST_IP,
					  .dst = MMDS_IP,
					  .sport = sport,
					  .dport = dport,
					  .seq = seq,
					  .ack = ack,
					  .flags = flags,
					  .win = win,
					  .data = data,
					  .dlen = dlen});
}

static int setup(void **state)
{
	struct fx *x = calloc(1, sizeof(*x));
	char *big = malloc(9000), *d = malloc(9100);

	memset(big, 'x', 8191);
	big[8191] = '\0';
	snprintf(d, 9100, "{\"latest\":{\"meta-data\":{\"ami-id\":\"ami-1\"}},\"big\":\"%s\"}",
		 big);
	assert_int_equal(mmds_create(MMDS_DEFAULT_SIZE_LIMIT, &x->store), 0);
	assert_int_equal(mmds_put(x->store, d, strlen(d)), 0);
	assert_int_equal(mmds_net_create(x->store, MMDS_IP, &x->net), 0);
	x->now = 1000;
	free(big);
	free(d);
	*state = x;
	return 0;
}

static int teardown(void **state)
{
	struct fx *x = *state;

	mmds_net_destroy(x->net);
	mmds_destroy(x->store);
	free(x);
	return 0;
}

static void in(struct fx *x, const uint8_t *f, size_t n)
{
	assert_true(mmds_net_wants(x->net, f, n));
	mmds_net_input(x->net, f, n, false, x->now);
}

/* The next frame out, parsed and checked (checksums, addresses); false if none. */
static bool out(struct fx *x, struct seg *s)
{
	const uint8_t *ip, *t;

	memset(s, 0, offsetof(struct seg, raw));
	s->len = mmds_net_output(x->net, s->raw, sizeof(s->raw), x->now);
	if (!s->len)
		return false;
	assert_memory_equal(s->raw + 6, MMDS_MAC, 6);
	s->ethertype = fr_get16(s->raw + 12);
	if (s->ethertype != 0x0800)
		return true;
	ip = s->raw + 14;
	t = ip + 20;
	assert_int_equal(fr_fold(fr_sum(0, ip, 20)), 0);
	assert_int_equal(fr_get16(ip + 2), s->len - 14);
	assert_int_equal(fr_get32(ip + 12), MMDS_IP);
	assert_int_equal(fr_get32(ip + 16), GUEST_IP);
	assert_memory_equal(s->raw, guest_mac, 6);
	assert_int_equal(fr_l4_sum(MMDS_IP, GUEST_IP, 6, t, s->len - 34), 0);
	s->sport = fr_get16(t);
	s->dport = fr_get16(t + 2);
	s->seq = fr_get32(t + 4);
	s->ack = fr_get32(t + 8);
	s->flags = t[13];
	s->win = fr_get16(t + 14);
	s->data = t + (t[12] >> 4) * 4;
	s->dlen = s->len - 34 - (size_t)((t[12] >> 4) * 4);
	return true;
}

static void no_out(struct fx *x)
{
	struct seg s;

	assert_false(mmds_net_has_output(x->net));
	assert_false(out(x, &s));
}

/* Handshake from sport; returns our ISS + 1 (the next sequence number). */
static uint32_t connect_(struct fx *x, uint16_t sport, uint32_t gseq)
{
	uint8_t f[128];
	struct seg s;

	in(x, f, tcp_frame(f, sport, 80, gseq, 0, F_SYN, 65535, NULL, 0));
	assert_true(out(x, &s));
	assert_int_equal(s.flags, F_SYN | F_ACK);
	assert_int_equal(s.ack, gseq + 1);
	assert_int_equal(s.sport, 80);
	assert_int_equal(s.dport, sport);
	in(x, f, tcp_frame(f, sport, 80, gseq + 1, s.seq + 1, F_ACK, 65535, NULL, 0));
	return s.seq + 1;
}

/* Read a whole response (acking as it comes): its bytes into buf. */
static size_t read_response(struct fx *x, uint16_t sport, uint32_t gseq, uint32_t *sseq, char *buf,
			    size_t cap, bool *fin)
{
	uint8_t f[128];
	struct seg s;
	size_t n = 0;

	*fin = false;
	while (out(x, &s)) {
		if (s.dlen) {
			assert_int_equal(s.seq, *sseq);
			assert_true(n + s.dlen <= cap);
			memcpy(buf + n, s.data, s.dlen);
			n += s.dlen;
			*sseq += (uint32_t)s.dlen;
		}
		if (s.flags & F_FIN) {
			*fin = true;
			(*sseq)++;
		}
		in(x, f, tcp_frame(f, sport, 80, gseq, *sseq, F_ACK, 65535, NULL, 0));
	}
	return n;
}

static void test_arp(void **state)
{
	struct fx *x = *state;
	uint8_t f[60] = {0}, *a = f + 14;
	struct seg s;

	assert_int_equal(fr_arp_request(f, guest_mac, GUEST_IP, MMDS_IP), 42);
	in(x, f, 42);
	assert_true(out(x, &s));
	assert_int_equal(s.ethertype, 0x0806);
	assert_memory_equal(s.raw, guest_mac, 6);
	assert_int_equal(fr_get16(s.raw + 14 + 6), 2);
	assert_memory_equal(s.raw + 14 + 8, MMDS_MAC, 6);
	assert_int_equal(fr_get32(s.raw + 14 + 14), MMDS_IP);
	assert_memory_equal(s.raw + 14 + 18, guest_mac, 6);
	assert_int_equal(fr_get32(s.raw + 14 + 24), GUEST_IP);
	no_out(x);
	/* for another address: not ours (the TAP gets it) */
	fr_put32(a + 24, 0xa9fe0003);
	assert_false(mmds_net_wants(x->net, f, 42));
	/* a reply, a bad hardware type: dropped */
	fr_put32(a + 24, MMDS_IP);
	fr_put16(a + 6, 2);
	in(x, f, 42);
	no_out(x);
	fr_put16(a + 6, 1);
	fr_put16(a, 6);
	in(x, f, 42);
	no_out(x);
}

static void test_get_and_close(void **state)
{
	struct fx *x = *state;
	const char *req = "GET /latest/meta-data/ami-id HTTP/1.1\r\nConnection: close\r\n\r\n";
	uint32_t g = 5000, sseq = connect_(x, 40000, g - 1);
	uint8_t f[256];
	char buf[16384];
	bool fin;
	size_t n;
	struct seg s;

	in(x, f, tcp_frame(f, 40000, 80, g, sseq, F_ACK | F_PSH, 65535, req, strlen(req)));
	g += (uint32_t)strlen(req);
	n = read_response(x, 40000, g, &sseq, buf, sizeof(buf), &fin);
	buf[n] = '\0';
	assert_non_null(strstr(buf, "HTTP/1.1 200 OK"));
	assert_non_null(strstr(buf, "\r\n\r\nami-1"));
	assert_true(fin);
	assert_int_equal(mmds_net_conns(x->net), 1);
	/* the guest's FIN: acknowledged, and the state is gone */
	in(x, f, tcp_frame(f, 40000, 80, g, sseq, F_ACK | F_FIN, 65535, NULL, 0));
	assert_true(out(x, &s));
	assert_int_equal(s.flags, F_ACK);
	assert_int_equal(s.ack, g + 1);
	assert_int_equal(mmds_net_conns(x->net), 0);
	no_out(x);
}

static void test_keepalive_guest_closes(void **state)
{
	struct fx *x = *state;
	const char *req = "GET /latest HTTP/1.1\r\n\r\n";
	uint32_t g = 7, sseq = connect_(x, 40001, g - 1);
	uint8_t f[256];
	char buf[16384];
	bool fin;
	struct seg s;

	for (int i = 0; i < 3; i++) {
		size_t n;

		in(x, f, tcp_frame(f, 40001, 80, g, sseq, F_ACK, 65535, req, strlen(req)));
		g += (uint32_t)strlen(req);
		n = read_response(x, 40001, g, &sseq, buf, sizeof(buf) - 1, &fin);
		buf[n] = '\0';
		assert_non_null(strstr(buf, "\r\n\r\nmeta-data/"));
		assert_false(fin);
	}
	in(x, f, tcp_frame(f, 40001, 80, g, sseq, F_ACK | F_FIN, 65535, NULL, 0));
	assert_true(out(x, &s)); /* our FIN, acking theirs */
	assert_int_equal(s.flags, F_FIN | F_ACK);
	assert_int_equal(s.ack, g + 1);
	in(x, f, tcp_frame(f, 40001, 80, g + 1, s.seq + 1, F_ACK, 65535, NULL, 0));
	assert_int_equal(mmds_net_conns(x->net), 0);
	no_out(x);
}

/* An 8 KiB value in MSS-sized segments within the peer's window. */
static void test_window_and_big_value(void **state)
{
	struct fx *x = *state;
	const char *req = "GET /big HTTP/1.1\r\nAccept: application/json\r\n\r\n";
	uint32_t g = 1, sseq = connect_(x, 40002, g - 1);
	uint8_t f[256];
	char *buf = malloc(20000);
	size_t n = 0;
	struct seg s;
	int segs;

	/* a 3000-byte window: at most 3000 bytes unacknowledged */
	in(x, f, tcp_frame(f, 40002, 80, g, sseq, F_ACK, 3000, req, strlen(req)));
	g += (uint32_t)strlen(req);
	for (;;) {
		uint32_t first = sseq;

		segs = 0;
		while (out(x, &s)) {
			if (!s.dlen)
				continue;
			assert_true(s.dlen <= MMDS_NET_MSS);
			memcpy(buf + n, s.data, s.dlen);
			n += s.dlen;
			sseq += (uint32_t)s.dlen;
			segs++;
		}
		assert_true(sseq - first <= 3000);
		if (!segs)
			break;
		in(x, f, tcp_frame(f, 40002, 80, g, sseq, F_ACK, 3000, NULL, 0));
	}
	buf[n] = '\0';
	assert_non_null(strstr(buf, "Content-Length: 8193"));
	assert_int_equal(strlen(strstr(buf, "\r\n\r\n") + 4), 8193);
	free(buf);
}

static void test_zero_window_probe(void **state)
{
	struct fx *x = *state;
	const char *req = "GET /latest HTTP/1.1\r\n\r\n";
	uint32_t g = 1, sseq = connect_(x, 40003, g - 1);
	uint8_t f[256];
	struct seg s;

	in(x, f, tcp_frame(f, 40003, 80, g, sseq, F_ACK, 0, req, strlen(req)));
	g += (uint32_t)strlen(req);
	assert_true(out(x, &s)); /* the ACK of the request, no data */
	assert_int_equal(s.dlen, 0);
	no_out(x);
	assert_true(mmds_net_deadline(x->net) != 0);
	x->now = mmds_net_deadline(x->net);
	mmds_net_timer(x->net, x->now);
	assert_true(out(x, &s)); /* the probe: one byte */
	assert_int_equal(s.dlen, 1);
	assert_int_equal(s.seq, sseq);
	/* the window opens: the rest follows */
	in(x, f, tcp_frame(f, 40003, 80, g, sseq + 1, F_ACK, 65535, NULL, 0));
	assert_true(out(x, &s));
	assert_int_equal(s.seq, sseq + 1);
	assert_true(s.dlen > 50);
}

static void test_retransmit(void **state)
{
	struct fx *x = *state;
	const char *req = "GET /latest HTTP/1.1\r\n\r\n";
	uint8_t f[256];
	struct seg s, first;
	uint32_t g = 100, sseq;

	/* a lost SYN-ACK comes again */
	in(x, f, tcp_frame(f, 40004, 80, g - 1, 0, F_SYN, 65535, NULL, 0));
	assert_true(out(x, &first));
	no_out(x);
	x->now = mmds_net_deadline(x->net);
	assert_int_equal(x->now, 1200);
	mmds_net_timer(x->net, x->now);
	assert_true(out(x, &s));
	assert_int_equal(s.flags, F_SYN | F_ACK);
	assert_int_equal(s.seq, first.seq);
	sseq = s.seq + 1;
	in(x, f, tcp_frame(f, 40004, 80, g, sseq, F_ACK, 65535, req, strlen(req)));
	g += (uint32_t)strlen(req);
	assert_true(out(x, &first));
	assert_true(first.dlen > 0);
	no_out(x);
	/* not acknowledged: sent again from the oldest byte, backing off */
	for (int i = 0; i < MMDS_NET_MAX_RETRIES; i++) {
		uint64_t d = mmds_net_deadline(x->net);

		assert_true(d > x->now);
		x->now = d;
		mmds_net_timer(x->net, x->now);
		assert_true(out(x, &s));
		assert_int_equal(s.seq, first.seq);
		assert_int_equal(s.dlen, first.dlen);
		assert_memory_equal(s.data, first.data, s.dlen);
	}
	/* given up: a RST, the state freed */
	x->now = mmds_net_deadline(x->net);
	mmds_net_timer(x->net, x->now);
	assert_true(out(x, &s));
	assert_true(s.flags & F_RST);
	assert_int_equal(mmds_net_conns(x->net), 0);
	assert_int_equal(mmds_net_deadline(x->net), 0);
}

static void test_out_of_order_and_dup(void **state)
{
	struct fx *x = *state;
	const char *a = "GET /latest/meta-data/ami-id ", *b = "HTTP/1.1\r\n\r\n";
	uint32_t g = 10, sseq = connect_(x, 40005, g - 1);
	uint8_t f[256];
	struct seg s;
	char buf[4096];
	bool fin;
	size_t n;

	/* the second half first: dropped, the expected number acknowledged */
	in(x, f,
	   tcp_frame(f, 40005, 80, g + (uint32_t)strlen(a), sseq, F_ACK, 65535, b, strlen(b)));
	assert_true(out(x, &s));
	assert_int_equal(s.ack, g);
	assert_int_equal(s.dlen, 0);
	no_out(x);
	in(x, f, tcp_frame(f, 40005, 80, g, sseq, F_ACK, 65535, a, strlen(a)));
	assert_true(out(x, &s));
	assert_int_equal(s.ack, g + strlen(a));
	no_out(x); /* incomplete request: nothing to answer yet */
	/* a duplicate of the first half: acknowledged again, not taken twice */
	in(x, f, tcp_frame(f, 40005, 80, g, sseq, F_ACK, 65535, a, strlen(a)));
	assert_true(out(x, &s));
	assert_int_equal(s.ack, g + strlen(a));
	g += (uint32_t)strlen(a);
	in(x, f, tcp_frame(f, 40005, 80, g, sseq, F_ACK, 65535, b, strlen(b)));
	g += (uint32_t)strlen(b);
	n = read_response(x, 40005, g, &sseq, buf, sizeof(buf) - 1, &fin);
	buf[n] = '\0';
	assert_non_null(strstr(buf, "200 OK"));
	assert_non_null(strstr(buf, "\r\n\r\nami-1"));
}

static void test_rst_and_other_ports(void **state)
{
	struct fx *x = *state;
	uint32_t g = 1, sseq = connect_(x, 40006, g - 1);
	uint8_t f[256];
	struct seg s;

	/* a RST outside the window is ignored, one at rcv_nxt closes */
	in(x, f, tcp_frame(f, 40006, 80, g + 100000, 0, F_RST, 0, NULL, 0));
	assert_int_equal(mmds_net_conns(x->net), 1);
	in(x, f, tcp_frame(f, 40006, 80, g, 0, F_RST, 0, NULL, 0));
	assert_int_equal(mmds_net_conns(x->net), 0);
	no_out(x);
	/* another port: a RST; a stray ACK: a RST with its number */
	in(x, f, tcp_frame(f, 40007, 22, 77, 0, F_SYN, 65535, NULL, 0));
	assert_true(out(x, &s));
	assert_int_equal(s.flags, F_RST | F_ACK);
	assert_int_equal(s.ack, 78);
	in(x, f, tcp_frame(f, 40008, 80, 5, 12345, F_ACK, 65535, "x", 1));
	assert_true(out(x, &s));
	assert_int_equal(s.flags, F_RST);
	assert_int_equal(s.seq, 12345);
	/* RSTs are never answered */
	in(x, f, tcp_frame(f, 40009, 80, 5, 0, F_RST, 0, NULL, 0));
	no_out(x);
	(void)sseq;
}

static void test_bad_frames(void **state)
{
	struct fx *x = *state;
	uint8_t f[256], g[256];
	size_t n = tcp_frame(f, 40010, 80, 1, 0, F_SYN, 65535, NULL, 0);
	struct mmds_net_stats st;

	/* a wrong TCP checksum: dropped, unless the guest left it to us */
	memcpy(g, f, n);
	g[14 + 20 + 16] ^= 1;
	in(x, g, n);
	no_out(x);
	mmds_net_input(x->net, g, n, true, x->now);
	assert_true(mmds_net_has_output(x->net));
	mmds_net_destroy(x->net);
	assert_int_equal(mmds_net_create(x->store, MMDS_IP, &x->net), 0);
	/* every IPv4/TCP header field broken in turn */
	struct {
		size_t off;
		uint8_t val;
	} breaks[] = {
	    {14 + 0, 0x65},	  /* version 6 */
	    {14 + 0, 0x44},	  /* IHL 16 bytes */
	    {14 + 0, 0x4f},	  /* IHL past the frame */
	    {14 + 2, 0xff},	  /* total length past the frame */
	    {14 + 3, 10},	  /* total length < header (with byte 2 = 0) */
	    {14 + 6, 0x20},	  /* more fragments */
	    {14 + 7, 0x01},	  /* fragment offset */
	    {14 + 9, 17},	  /* UDP */
	    {14 + 10, 0x00},	  /* IP checksum */
	    {14 + 20 + 12, 0x40}, /* TCP data offset 16 */
	    {14 + 20 + 12, 0xf0}, /* TCP data offset 60, past the segment */
	};
	struct metrics_mmds m0, m1;

	mmds_net_get_stats(x->net, &st);
	m0 = st.m;
	for (size_t i = 0; i < sizeof(breaks) / sizeof(breaks[0]); i++) {
		memcpy(g, f, n);
		if (breaks[i].off == 14 + 3)
			g[14 + 2] = 0;
		if (g[breaks[i].off] == breaks[i].val)
			g[breaks[i].off] ^= 0x55;
		else
			g[breaks[i].off] = breaks[i].val;
		mmds_net_input(x->net, g, n, true, x->now);
		no_out(x);
	}
	/* truncated frames of every length */
	for (size_t k = 0; k < n; k++) {
		mmds_net_input(x->net, f, k, false, x->now);
		no_out(x);
	}
	/* the "mmds" metrics: every frame handed over, none taken; the frames
	 * shorter than Ethernet + IPv4 headers cannot be parsed */
	mmds_net_get_stats(x->net, &st);
	m1 = st.m;
	assert_int_equal(m1.rx_accepted - m0.rx_accepted, sizeof(breaks) / sizeof(breaks[0]) + n);
	assert_int_equal(m1.rx_count, m0.rx_count);
	assert_int_equal(m1.rx_bad_eth - m0.rx_bad_eth, 14 + 20);
	assert_int_equal((m1.rx_accepted_err - m0.rx_accepted_err) +
			     (m1.rx_accepted_unusual - m0.rx_accepted_unusual),
			 sizeof(breaks) / sizeof(breaks[0]) + n - (14 + 20));
	assert_int_equal(m1.tx_count, m0.tx_count);
	/* a VLAN tag, IPv6: not ours */
	memcpy(g, f, n);
	fr_put16(g + 12, 0x8100);
	assert_false(mmds_net_wants(x->net, g, n));
	fr_put16(g + 12, 0x86dd);
	assert_false(mmds_net_wants(x->net, g, n));
	/* to another address: not ours */
	memcpy(g, f, n);
	fr_put32(g + 14 + 16, 0x0a000001);
	assert_false(mmds_net_wants(x->net, g, n));
	mmds_net_get_stats(x->net, &st);
	assert_true(st.dropped >= 11);
	assert_int_equal(mmds_net_conns(x->net), 0);
}

/* Random bytes with the MMDS address in place: never a crash, bounded state. */
static void test_junk(void **state)
{
	struct fx *x = *state;
	uint8_t f[1600], o[MMDS_NET_MAX_FRAME];
	uint32_t r = 12345;

	for (int i = 0; i < 20000; i++) {
		size_t n = 14 + (size_t)(r % 1500);

		for (size_t k = 0; k < n; k++) {
			r = r * 1103515245u + 12345u;
			f[k] = (uint8_t)(r >> 16);
		}
		fr_put16(f + 12, (r & 1) ? 0x0800 : 0x0806);
		if (r & 2) { /* keep the first header bytes sane sometimes */
			f[14] = 0x45;
			f[14 + 9] = 6;
		}
		if (n >= 14 + 20)
			fr_put32(f + 14 + 16, MMDS_IP);
		if (n >= 14 + 28)
			fr_put32(f + 14 + 24, MMDS_IP);
		mmds_net_input(x->net, f, n, (r & 4) != 0, x->now);
		while (mmds_net_output(x->net, o, sizeof(o), x->now))
			;
		x->now += r % 50;
		mmds_net_timer(x->net, x->now);
		assert_true(mmds_net_conns(x->net) <= MMDS_NET_MAX_CONNS);
	}
}

/* Thousands of SYNs never acknowledged: at most MMDS_NET_MAX_CONNS slots,
 * and a client that completes its handshake is served. */
static void test_syn_flood(void **state)
{
	struct fx *x = *state;
	uint8_t f[256], o[MMDS_NET_MAX_FRAME];
	const char *req = "GET /latest/meta-data/ami-id HTTP/1.1\r\n\r\n";
	uint32_t sseq, g = 1;
	char buf[4096];
	bool fin;
	size_t n;

	for (int i = 0; i < 5000; i++) {
		in(x, f,
		   tcp_frame(f, (uint16_t)(1024 + i), 80, (uint32_t)i * 7, 0, F_SYN, 65535, NULL,
			     0));
		while (mmds_net_output(x->net, o, sizeof(o), x->now))
			;
		assert_true(mmds_net_conns(x->net) <= MMDS_NET_MAX_CONNS);
		x->now++;
	}
	assert_int_equal(mmds_net_conns(x->net), MMDS_NET_MAX_CONNS);
	sseq = connect_(x, 50000, g - 1);
	/* the flood goes on: established connections are not its victims */
	for (int i = 0; i < 100; i++) {
		in(x, f, tcp_frame(f, (uint16_t)(7000 + i), 80, 1, 0, F_SYN, 65535, NULL, 0));
		while (mmds_net_output(x->net, o, sizeof(o), x->now))
			;
	}
	in(x, f, tcp_frame(f, 50000, 80, g, sseq, F_ACK, 65535, req, strlen(req)));
	g += (uint32_t)strlen(req);
	n = read_response(x, 50000, g, &sseq, buf, sizeof(buf) - 1, &fin);
	buf[n] = '\0';
	assert_non_null(strstr(buf, "\r\n\r\nami-1"));
}

/* Several connections interleaved, each answered on its own. */
static void test_many_connections(void **state)
{
	struct fx *x = *state;
	uint32_t sseq[8], g[8];
	uint8_t f[256];
	char req[128], buf[4096];
	bool fin;

	for (int i = 0; i < 8; i++) {
		g[i] = 1000u * (uint32_t)i + 1;
		sseq[i] = connect_(x, (uint16_t)(41000 + i), g[i] - 1);
	}
	for (int i = 0; i < 8; i++) {
		snprintf(req, sizeof(req), "GET /latest/meta-data/%s HTTP/1.1\r\n\r\n",
			 i & 1 ? "ami-id" : "nope");
		in(x, f,
		   tcp_frame(f, (uint16_t)(41000 + i), 80, g[i], sseq[i], F_ACK, 65535, req,
			     strlen(req)));
		g[i] += (uint32_t)strlen(req);
	}
	assert_int_equal(mmds_net_conns(x->net), 8);
	/* frames for all eight come interleaved: each acknowledged as it comes */
	char got[8][1024];
	size_t n[8] = {0};
	struct seg sg;

	while (out(x, &sg)) {
		int i = sg.dport - 41000;

		assert_true(i >= 0 && i < 8);
		assert_int_equal(sg.seq, sseq[i]);
		assert_true(n[i] + sg.dlen < sizeof(got[i]));
		memcpy(got[i] + n[i], sg.data, sg.dlen);
		n[i] += sg.dlen;
		sseq[i] += (uint32_t)sg.dlen;
		in(x, f,
		   tcp_frame(f, (uint16_t)(41000 + i), 80, g[i], sseq[i], F_ACK, 65535, NULL, 0));
	}
	for (int i = 0; i < 8; i++) {
		got[i][n[i]] = '\0';
		assert_non_null(strstr(got[i], i & 1 ? "200 OK" : "404 Not Found"));
	}
	(void)buf;
	(void)fin;
}

static void test_oversized_request(void **state)
{
	struct fx *x = *state;
	uint32_t g = 1, sseq = connect_(x, 40011, g - 1);
	uint8_t f[1600];
	char chunk[1000], buf[4096];
	struct seg s;
	bool fin;
	size_t n;

	memset(chunk, 'a', sizeof(chunk));
	memcpy(chunk, "GET / HTTP/1.1\r\nX: ", 19);
	/* the window shrinks as the buffer fills, then the 400 comes */
	for (int i = 0; i < 5; i++) {
		in(x, f, tcp_frame(f, 40011, 80, g, sseq, F_ACK, 65535, chunk, sizeof(chunk)));
		if (i < 4) {
			assert_true(out(x, &s));
			g = s.ack;
		}
		memcpy(chunk, "aaaaaaaaaaaaaaaaaaa", 19);
	}
	n = read_response(x, 40011, g, &sseq, buf, sizeof(buf) - 1, &fin);
	buf[n] = '\0';
	assert_non_null(strstr(buf, "400 Bad Request"));
	assert_true(fin);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_arp, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_get_and_close, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_keepalive_guest_closes, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_window_and_big_value, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_zero_window_probe, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_retransmit, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_out_of_order_and_dup, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_rst_and_other_ports, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_bad_frames, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_junk, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_syn_flood, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_many_connections, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_oversized_request, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
