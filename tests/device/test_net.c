/* virtio-net through the guest-less harness and a real TAP in a private
 * network namespace: config space and features, tx and rx round trips
 * (single and many descriptors, indirect, batches), vnet headers both ways,
 * checksum/TSO offloads following the negotiated features, MRG_RXBUF, frames
 * larger than the buffers, receive with no buffers (the loop goes idle and
 * the frame arrives once buffers are posted), reset, counters. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <endian.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ember/log.h"
#include "net_fix.h"

#define WAIT_MS VDRV_WAIT_MS
#define F(bit) (1ULL << VIRTIO_NET_F_##bit)
#define RING(bit) (1ULL << (bit))
#define NO_MRG (NETFIX_ALL_FEATURES & ~F(MRG_RXBUF))

static uint8_t frame[VIRTIO_NET_MAX_BUFFER], got[VIRTIO_NET_MAX_BUFFER];

static int setup_with(void **state, uint64_t want, uint16_t qsize, struct net_cfg *cfg)
{
	struct netfix *f = calloc(1, sizeof(*f));

	assert_non_null(f);
	assert_int_equal(netfix_init(f, cfg, want, qsize), 0);
	*state = f;
	return 0;
}

static int setup(void **state)
{
	return setup_with(state, NETFIX_ALL_FEATURES, VIRTIO_NET_QUEUE_SIZE, NULL);
}

static int setup_no_mrg(void **state)
{
	return setup_with(state, NO_MRG, VIRTIO_NET_QUEUE_SIZE, NULL);
}

/* Only MRG_RXBUF: no checksum or TSO offloads towards the guest. */
static int setup_plain(void **state)
{
	return setup_with(state, F(MAC) | F(MRG_RXBUF) | RING(VIRTIO_F_VERSION_1), 256, NULL);
}

static int setup_small_queue(void **state)
{
	return setup_with(state, NETFIX_ALL_FEATURES, 4, NULL);
}

/* The vnet header at the start of an rx buffer. */
static struct virtio_net_hdr_v1 rx_hdr(const uint8_t *p)
{
	struct virtio_net_hdr_v1 h;

	memcpy(&h, p, sizeof(h));
	return h;
}

/* ---- config ---- */

static void test_config(void **state)
{
	struct netfix *f = *state;
	struct virtio_net_config cfg;
	uint64_t feat = vdrv_device_features(&f->d);

	assert_int_equal(vdrv_read32(&f->d, VIRTIO_MMIO_DEVICE_ID), VIRTIO_ID_NET);
	vdrv_config_read(&f->d, 0, &cfg, offsetof(struct virtio_net_config, speed));
	assert_memory_equal(cfg.mac, f->mac, 6);
	/* random MAC: unicast, locally administered */
	assert_int_equal(cfg.mac[0] & 3, 2);
	assert_int_equal(le16toh(cfg.status), VIRTIO_NET_S_LINK_UP);
	assert_true(feat & F(MAC));
	assert_true(feat & F(STATUS));
	assert_true(feat & F(MRG_RXBUF));
	assert_true(feat & RING(VIRTIO_F_VERSION_1));
	assert_false(feat & F(MTU));
	assert_false(feat & F(CTRL_VQ));
	assert_false(feat & F(MQ));
	/* This kernel's TAP takes checksum and TSO offloads. */
	assert_true(f->net->tap.offloads_ok & TUN_F_CSUM);
	assert_true(feat & F(CSUM));
	assert_true(feat & F(GUEST_CSUM));
	assert_true(feat & F(HOST_TSO4));
	assert_true(feat & F(HOST_TSO6));
	assert_int_equal(!!(feat & F(GUEST_TSO4)), !!(f->net->tap.offloads_ok & TUN_F_TSO4));
	assert_int_equal(!!(feat & F(GUEST_TSO6)), !!(f->net->tap.offloads_ok & TUN_F_TSO6));
	assert_int_equal(!!(feat & F(GUEST_UFO)), !!(f->net->tap.offloads_ok & TUN_F_UFO));
	assert_int_equal(!!(feat & F(HOST_UFO)), !!(f->net->tap.offloads_ok & TUN_F_UFO));
	/* Negotiated guest offloads are on the TAP. */
	assert_int_equal(f->net->tap.offloads, f->net->tap.offloads_ok & (TUN_F_CSUM | TUN_F_TSO4 |
									  TUN_F_TSO6 | TUN_F_UFO));
	vdrv_write32(&f->d, VIRTIO_MMIO_QUEUE_SEL, 0);
	assert_int_equal(vdrv_read32(&f->d, VIRTIO_MMIO_QUEUE_NUM_MAX), VIRTIO_NET_QUEUE_SIZE);
	vdrv_write32(&f->d, VIRTIO_MMIO_QUEUE_SEL, 1);
	assert_int_equal(vdrv_read32(&f->d, VIRTIO_MMIO_QUEUE_NUM_MAX), VIRTIO_NET_QUEUE_SIZE);
	vdrv_write32(&f->d, VIRTIO_MMIO_QUEUE_SEL, 2);
	assert_int_equal(vdrv_read32(&f->d, VIRTIO_MMIO_QUEUE_NUM_MAX), 0);
	/* Reset turns the TAP offloads off again. */
	vdrv_write32(&f->d, VIRTIO_MMIO_STATUS, 0);
	assert_int_equal(f->net->tap.offloads, 0);
}

static void test_config_mac_mtu(void **state)
{
	struct net_cfg cfg = {
	    .has_mac = true, .mac = {0x06, 0x11, 0x22, 0x33, 0x44, 0x55}, .mtu = 9000};
	struct virtio_net_config c;
	struct netfix *f;

	setup_with(state, NETFIX_ALL_FEATURES, 256, &cfg);
	f = *state;
	vdrv_config_read(&f->d, 0, &c, offsetof(struct virtio_net_config, speed));
	assert_memory_equal(c.mac, cfg.mac, 6);
	assert_int_equal(le16toh(c.mtu), 9000);
	assert_true(vdrv_device_features(&f->d) & F(MTU));
	assert_true(f->d.features & F(MTU));
	netfix_teardown(state);
}

/* Offload features that need another one are refused at FEATURES_OK. */
static void test_feature_dependencies(void **state)
{
	struct netfix *f = *state;
	uint64_t v1 = RING(VIRTIO_F_VERSION_1);

	assert_int_equal(vdrv_negotiate(&f->d, v1 | F(GUEST_TSO4)), -EPROTO);
	assert_int_equal(vdrv_negotiate(&f->d, v1 | F(HOST_TSO4)), -EPROTO);
	assert_int_equal(vdrv_negotiate(&f->d, v1 | F(HOST_UFO) | F(GUEST_CSUM)), -EPROTO);
	assert_int_equal(vdrv_negotiate(&f->d, v1 | F(GUEST_TSO4) | F(GUEST_CSUM)), 0);
	assert_int_equal(vdrv_negotiate(&f->d, v1 | F(HOST_TSO6) | F(CSUM)), 0);
	/* Both queues are needed. */
	assert_int_equal(vdrv_negotiate(&f->d, v1), 0);
	assert_int_equal(vdrv_setup_queue(&f->d, 0, 16), 0);
	vdrv_queue_ready(&f->d, 0);
	assert_int_equal(vdrv_driver_ok(&f->d), -EPROTO);
	assert_int_equal(netfix_counters(f).activate_fails, 1);
	/* and then it works */
	assert_int_equal(vdrv_setup(&f->d, NETFIX_ALL_FEATURES, 2, 64), 0);
}

/* ---- transmit ---- */

static void test_tx_one(void **state)
{
	struct netfix *f = *state;
	struct virtio_net_hdr_v1 h = {0};
	uint32_t used = 99;
	size_t len = netfix_frame(frame, 60, f->mac, 1);
	int r;

	assert_int_equal(netfix_tx(f, &h, frame, len, &used), 0);
	assert_int_equal(used, 0);
	r = netfix_host_recv(f, NULL, got, sizeof(got), WAIT_MS);
	assert_int_equal(r, (int)len);
	assert_memory_equal(got, frame, len);
	struct metrics_net m = netfix_counters(f);
	assert_int_equal(m.tx_packets_count, 1);
	assert_int_equal(m.tx_count, 1);
	assert_int_equal(m.tx_bytes_count, len);
	assert_int_equal(m.tx_malformed_frames, 0);
	assert_int_equal(m.tx_fails, 0);
	assert_int_equal(m.tx_spoofed_mac_count, 0);
	assert_int_equal(m.tx_queue_event_count, 1);
	assert_true(vdrv_irqs(&f->d) >= 1);
}

/* Sizes from the minimum to a 9000-byte jumbo frame, header and frame in
 * separate descriptors, frames in up to 7 pieces, indirect tables. */
static void test_tx_layouts(void **state)
{
	struct netfix *f = *state;
	static const size_t sizes[] = {14, 60, 61, 1514, 4000, 9014};
	struct virtio_net_hdr_v1 h = {0};
	uint32_t seed = 100;

	for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		for (int nseg = 0; nseg <= 7; nseg += 1 + (nseg > 1)) {
			for (int ind = 0; ind < 2; ind++) {
				uint64_t mark = vdrv_mark(&f->d);
				size_t len = netfix_frame(frame, sizes[i], f->mac, seed++);
				uint32_t id, used;
				int head;

				if (nseg > (int)len)
					continue;
				head = netfix_tx_post(f, &h, frame, len, nseg, ind);
				assert_true(head >= 0);
				vdrv_kick(&f->d, VIRTIO_NET_TXQ);
				assert_int_equal(vdrv_wait_used(&f->d, 1, WAIT_MS, &id, &used), 0);
				assert_int_equal(id, head);
				vdrv_free_chain(&f->d, 1, (uint16_t)id);
				vdrv_release(&f->d, mark);
				assert_int_equal(
				    netfix_host_recv(f, NULL, got, sizeof(got), WAIT_MS), (int)len);
				assert_memory_equal(got, frame, len);
			}
		}
	}
	assert_int_equal(netfix_counters(f).tx_malformed_frames, 0);
}

/* A batch of chains with one kick: all sent in order, one interrupt. */
static void test_tx_batch(void **state)
{
	struct netfix *f = *state;
	struct virtio_net_hdr_v1 h = {0};
	enum { N = 100 };
	uint64_t mark = vdrv_mark(&f->d);

	vdrv_irqs(&f->d);
	for (int i = 0; i < N; i++) {
		netfix_frame(frame, 100 + (size_t)i, f->mac, (uint32_t)i);
		assert_true(netfix_tx_post(f, &h, frame, 100 + (size_t)i, i % 3, i % 2) >= 0);
	}
	vdrv_kick(&f->d, VIRTIO_NET_TXQ);
	for (int i = 0; i < N; i++) {
		uint32_t id, len;

		assert_int_equal(vdrv_wait_used(&f->d, 1, WAIT_MS, &id, &len), 0);
		vdrv_free_chain(&f->d, 1, (uint16_t)id);
	}
	vdrv_release(&f->d, mark);
	assert_int_equal(vdrv_irqs(&f->d), 1);
	for (int i = 0; i < N; i++) {
		netfix_frame(frame, 100 + (size_t)i, f->mac, (uint32_t)i);
		assert_int_equal(netfix_host_recv(f, NULL, got, sizeof(got), WAIT_MS), 100 + i);
		assert_memory_equal(got, frame, 100 + (size_t)i);
	}
	struct metrics_net m = netfix_counters(f);
	assert_int_equal(m.tx_packets_count, N);
	assert_int_equal(m.tx_queue_event_count, 1);
	/* Drained: the next chain needs a kick. */
	uint16_t old = f->d.q[1].avail_idx;
	netfix_frame(frame, 60, f->mac, 999);
	assert_true(netfix_tx_post(f, &h, frame, 60, 0, false) >= 0);
	assert_true(vdrv_kick_needed(&f->d, 1, old));
	vdrv_kick(&f->d, 1);
	uint32_t id1, len1;
	assert_int_equal(vdrv_wait_used(&f->d, 1, WAIT_MS, &id1, &len1), 0);
	assert_int_equal(netfix_host_recv(f, NULL, got, sizeof(got), WAIT_MS), 60);
	assert_memory_equal(got, frame, 60);
	assert_int_equal(netfix_counters(f).tx_packets_count, N + 1);
}

/* A source MAC other than the device's is sent but counted. */
static void test_tx_spoofed(void **state)
{
	struct netfix *f = *state;
	struct virtio_net_hdr_v1 h = {0};
	size_t len = netfix_frame(frame, 80, (const uint8_t[6]){2, 9, 9, 9, 9, 9}, 3);

	assert_int_equal(netfix_tx(f, &h, frame, len, NULL), 0);
	assert_int_equal(netfix_host_recv(f, NULL, got, sizeof(got), WAIT_MS), (int)len);
	assert_int_equal(netfix_counters(f).tx_spoofed_mac_count, 1);
}

/* Checksum offload and TSO from the guest: the header reaches the kernel. */
static void test_tx_csum_tso(void **state)
{
	struct netfix *f = *state;
	static const uint8_t host_mac[6] = {2, 0, 0, 0, 0, 0x10};
	struct virtio_net_hdr_v1 h = {
	    .flags = VIRTIO_NET_HDR_F_NEEDS_CSUM,
	    .csum_start = htole16(34),
	    .csum_offset = htole16(16),
	};
	struct virtio_net_hdr rh;
	size_t len = netfix_tcp4_frame(frame, 600, f->mac, host_mac, 7);
	int r;

	assert_int_equal(netfix_tx(f, &h, frame, len, NULL), 0);
	r = netfix_host_recv(f, &rh, got, sizeof(got), WAIT_MS);
	assert_int_equal(r, (int)len);
	assert_int_equal(rh.gso_type, VIRTIO_NET_HDR_GSO_NONE);
	/* TSO: 10 segments' worth in one frame */
	h.gso_type = VIRTIO_NET_HDR_GSO_TCPV4;
	h.gso_size = htole16(1448);
	h.hdr_len = htole16(54);
	len = netfix_tcp4_frame(frame, 54 + 14480, f->mac, host_mac, 8);
	assert_int_equal(netfix_tx(f, &h, frame, len, NULL), 0);
	r = netfix_host_recv(f, &rh, got, sizeof(got), WAIT_MS);
	assert_int_equal(r, (int)len);
	assert_int_equal(rh.gso_type, VIRTIO_NET_HDR_GSO_TCPV4);
	assert_int_equal(rh.gso_size, 1448);
	assert_memory_equal(got + 54, frame + 54, len - 54);
	struct metrics_net m = netfix_counters(f);
	assert_int_equal(m.tx_packets_count, 2);
	assert_int_equal(m.tx_malformed_frames, 0);
	assert_int_equal(m.tap_write_fails, 0);
}

/* ---- receive ---- */

static void expect_rx(struct netfix *f, const uint8_t *want, size_t len, uint16_t nbuf)
{
	uint16_t head;
	uint32_t used;
	uint8_t *p;

	assert_int_equal(netfix_rx_wait(f, WAIT_MS, &head, &used, &p), 0);
	assert_int_equal(used, VIRTIO_NET_HDR_LEN + len);
	struct virtio_net_hdr_v1 h = rx_hdr(p);
	assert_int_equal(h.gso_type, VIRTIO_NET_HDR_GSO_NONE);
	assert_int_equal(h.flags & VIRTIO_NET_HDR_F_NEEDS_CSUM, 0);
	assert_int_equal(le16toh(h.num_buffers), nbuf);
	assert_memory_equal(p + VIRTIO_NET_HDR_LEN, want, len);
}

static void test_rx_one(void **state)
{
	struct netfix *f = *state;
	size_t len = netfix_frame(frame, 64, (const uint8_t[6]){2, 1, 2, 3, 4, 5}, 11);

	assert_int_equal(netfix_post_rx(f, 16, 2048, false), 0);
	assert_int_equal(netfix_host_send(f, NULL, frame, len), 0);
	expect_rx(f, frame, len, 1);
	struct metrics_net m = netfix_counters(f);
	assert_int_equal(m.rx_packets_count, 1);
	assert_int_equal(m.rx_bytes_count, len);
	assert_int_equal(m.rx_fails, 0);
	assert_true(vdrv_irqs(&f->d) >= 1);
}

/* Many frames, buffers of two descriptors, in order. */
static void test_rx_many(void **state)
{
	struct netfix *f = *state;
	enum { N = 100 };

	assert_int_equal(netfix_post_rx(f, 128, 1526, true), 0);
	for (int i = 0; i < N; i++) {
		size_t len = netfix_frame(frame, 60 + (size_t)i * 14, f->mac, (uint32_t)i);
		assert_int_equal(netfix_host_send(f, NULL, frame, len), 0);
	}
	for (int i = 0; i < N; i++) {
		size_t len = netfix_frame(frame, 60 + (size_t)i * 14, f->mac, (uint32_t)i);
		expect_rx(f, frame, len, 1);
	}
	assert_int_equal(netfix_counters(f).rx_packets_count, N);
}

/* Without MRG_RXBUF each frame takes one buffer, num_buffers = 1. */
static void test_rx_no_mrg(void **state)
{
	struct netfix *f = *state;
	size_t len = netfix_frame(frame, 1514, f->mac, 5);

	assert_false(f->d.features & F(MRG_RXBUF));
	assert_int_equal(netfix_post_rx(f, 4, VIRTIO_NET_HDR_LEN + 1514, false), 0);
	assert_int_equal(netfix_host_send(f, NULL, frame, len), 0);
	expect_rx(f, frame, len, 1);
}

/* Without MRG_RXBUF: a frame larger than the buffers is dropped and
 * counted; the buffer stays and the next frame lands in it. */
static void test_rx_too_big(void **state)
{
	struct netfix *f = *state;
	uint16_t head;
	uint32_t used;
	uint8_t *p;
	size_t big = netfix_frame(frame, 1000, f->mac, 6);

	assert_int_equal(netfix_post_rx(f, 2, 512, false), 0);
	assert_int_equal(netfix_host_send(f, NULL, frame, big), 0);
	size_t small = netfix_frame(got, 200, f->mac, 7);
	assert_int_equal(netfix_host_send(f, NULL, got, small), 0);
	assert_int_equal(netfix_rx_wait(f, WAIT_MS, &head, &used, &p), 0);
	assert_int_equal(head, 0); /* the first buffer posted */
	assert_int_equal(used, VIRTIO_NET_HDR_LEN + small);
	assert_memory_equal(p + VIRTIO_NET_HDR_LEN, got, small);
	struct metrics_net m = netfix_counters(f);
	assert_int_equal(m.rx_fails, 1);
	assert_int_equal(m.rx_packets_count, 1);
	assert_false(vdrv_needs_reset(&f->d));
}

/* MRG_RXBUF: a 1400-byte frame over 512-byte buffers takes three. */
static void test_rx_mrg(void **state)
{
	struct netfix *f = *state;
	size_t len = netfix_frame(frame, 1400, f->mac, 8), off = 0;
	uint32_t want_len[3] = {512, 512, VIRTIO_NET_HDR_LEN + 1400 - 1024};

	assert_int_equal(netfix_post_rx(f, 8, 512, false), 0);
	assert_int_equal(netfix_host_send(f, NULL, frame, len), 0);
	for (int i = 0; i < 3; i++) {
		uint16_t head;
		uint32_t used;
		uint8_t *p;

		assert_int_equal(netfix_rx_wait(f, WAIT_MS, &head, &used, &p), 0);
		assert_int_equal(head, i);
		assert_int_equal(used, want_len[i]);
		if (i == 0) {
			struct virtio_net_hdr_v1 h = rx_hdr(p);
			assert_int_equal(le16toh(h.num_buffers), 3);
			memcpy(got, p + VIRTIO_NET_HDR_LEN, used - VIRTIO_NET_HDR_LEN);
			off = used - VIRTIO_NET_HDR_LEN;
		} else {
			memcpy(got + off, p, used);
			off += used;
		}
	}
	assert_int_equal(off, len);
	assert_memory_equal(got, frame, len);
	/* the next frame starts in buffer 3 */
	len = netfix_frame(frame, 100, f->mac, 9);
	assert_int_equal(netfix_host_send(f, NULL, frame, len), 0);
	expect_rx(f, frame, len, 1);
}

/* MRG_RXBUF with too few buffers for a frame: it waits (no drop, the loop
 * idles); more buffers complete it. */
static void test_rx_mrg_waits_for_buffers(void **state)
{
	struct netfix *f = *state;
	size_t len = netfix_frame(frame, 1400, f->mac, 10);
	uint16_t head;
	uint32_t used;
	uint8_t *p;

	assert_int_equal(netfix_post_rx(f, 2, 512, false), 0);
	assert_int_equal(netfix_host_send(f, NULL, frame, len), 0);
	assert_int_equal(netfix_rx_wait(f, 300, &head, &used, &p), -ETIMEDOUT);
	assert_int_equal(vdrv_poll(&f->d), 0); /* idle: not polling the TAP */
	assert_int_equal(netfix_counters(f).rx_fails, 0);
	/* A driver that kicks only when asked (EVENT_IDX) is asked. */
	uint16_t old = f->d.q[0].avail_idx;
	assert_int_equal(netfix_add_rx(f, 2, 512, false), 0);
	assert_true(vdrv_kick_needed(&f->d, 0, old));
	vdrv_kick(&f->d, 0);
	assert_int_equal(netfix_rx_wait(f, WAIT_MS, &head, &used, &p), 0);
	assert_int_equal(head, 0);
	assert_int_equal(le16toh(rx_hdr(p).num_buffers), 3);
	assert_memory_equal(p + VIRTIO_NET_HDR_LEN, frame, 512 - VIRTIO_NET_HDR_LEN);
}

/* MRG_RXBUF, queue of 4: a frame larger than all four buffers together can
 * never fit: dropped; the buffers take the next frame. */
static void test_rx_mrg_never_fits(void **state)
{
	struct netfix *f = *state;
	size_t big = netfix_frame(frame, 1400, f->mac, 12);

	assert_int_equal(netfix_post_rx(f, 4, 256, false), 0);
	assert_int_equal(netfix_host_send(f, NULL, frame, big), 0);
	size_t len = netfix_frame(frame, 100, f->mac, 13);
	assert_int_equal(netfix_host_send(f, NULL, frame, len), 0);
	expect_rx(f, frame, len, 1);
	assert_int_equal(netfix_counters(f).rx_fails, 1);
}

/* No buffers: the frame waits in the TAP, the event loop goes idle (no
 * busy loop), and buffers posted later get it. */
static void test_rx_no_buffers(void **state)
{
	struct netfix *f = *state;
	size_t l1 = netfix_frame(frame, 70, f->mac, 20);
	uint64_t taps;

	/* One buffer, two frames: the second finds none. */
	assert_int_equal(netfix_post_rx(f, 1, 2048, false), 0);
	assert_int_equal(netfix_host_send(f, NULL, frame, l1), 0);
	expect_rx(f, frame, l1, 1);
	size_t l2 = netfix_frame(frame, 90, f->mac, 21);
	assert_int_equal(netfix_host_send(f, NULL, frame, l2), 0);
	assert_int_equal(netfix_tap_wait_readable(f, WAIT_MS), 0);
	vdrv_poll(&f->d); /* whatever was in flight */
	taps = netfix_counters(f).rx_tap_event_count;
	for (int i = 0; i < 5; i++) {
		assert_int_equal(netfix_tap_wait_readable(f, 0), 0); /* still queued */
		assert_int_equal(el_run_once(&f->d.el, 20), 0);	     /* and nobody wakes */
	}
	assert_int_equal(netfix_counters(f).rx_tap_event_count, taps);
	assert_true(netfix_counters(f).no_rx_avail_buffer >= 1);
	assert_int_equal(netfix_counters(f).rx_packets_count, 1);
	/* Buffers (the device asks for the kick): the frame arrives. */
	uint16_t old = f->d.q[0].avail_idx;
	assert_int_equal(netfix_add_rx(f, 4, 2048, false), 0);
	assert_true(vdrv_kick_needed(&f->d, 0, old));
	vdrv_kick(&f->d, 0);
	expect_rx(f, frame, l2, 1);
	assert_int_equal(netfix_counters(f).rx_fails, 0);
}

/* Frames queued before DRIVER_OK (or before any buffer) are delivered once
 * the driver posts buffers; nothing before that. */
static void test_rx_before_buffers(void **state)
{
	struct netfix *f = *state;

	for (int i = 0; i < 3; i++) {
		size_t len = netfix_frame(frame, 64, f->mac, 30 + (uint32_t)i);
		assert_int_equal(netfix_host_send(f, NULL, frame, len), 0);
	}
	assert_int_equal(netfix_tap_wait_readable(f, WAIT_MS), 0);
	assert_int_equal(el_run_once(&f->d.el, 20), 0);
	assert_int_equal(netfix_post_rx(f, 8, 2048, false), 0);
	for (int i = 0; i < 3; i++) {
		size_t len = netfix_frame(frame, 64, f->mac, 30 + (uint32_t)i);
		expect_rx(f, frame, len, 1);
	}
}

/* TSO towards the guest: with GUEST_TSO4 a 14 KB TCP send arrives as one
 * GSO frame (header describes it), spread over MRG buffers. */
static void test_rx_gso(void **state)
{
	struct netfix *f = *state;
	static const uint8_t host_mac[6] = {2, 0, 0, 0, 0, 0x10};
	struct virtio_net_hdr sh = {
	    .flags = VIRTIO_NET_HDR_F_NEEDS_CSUM,
	    .gso_type = VIRTIO_NET_HDR_GSO_TCPV4,
	    .hdr_len = 54,
	    .gso_size = 1448,
	    .csum_start = 34,
	    .csum_offset = 16,
	};
	size_t len = netfix_tcp4_frame(frame, 54 + 14480, host_mac, f->mac, 40), off = 0;
	uint16_t head, nbuf = 0;
	uint32_t used;
	uint8_t *p;

	if (!(f->d.features & F(GUEST_TSO4)))
		skip();
	assert_int_equal(netfix_post_rx(f, 32, 1526, false), 0);
	assert_int_equal(netfix_host_send(f, &sh, frame, len), 0);
	do {
		assert_int_equal(netfix_rx_wait(f, WAIT_MS, &head, &used, &p), 0);
		if (off == 0) {
			struct virtio_net_hdr_v1 h = rx_hdr(p);
			assert_int_equal(h.gso_type, VIRTIO_NET_HDR_GSO_TCPV4);
			assert_int_equal(le16toh(h.gso_size), 1448);
			assert_true(h.flags & VIRTIO_NET_HDR_F_NEEDS_CSUM);
			assert_int_equal(le16toh(h.csum_start), 34);
			assert_int_equal(le16toh(h.csum_offset), 16);
			nbuf = le16toh(h.num_buffers);
			memcpy(got, p + VIRTIO_NET_HDR_LEN, used - VIRTIO_NET_HDR_LEN);
			off = used - VIRTIO_NET_HDR_LEN;
		} else {
			memcpy(got + off, p, used);
			off += used;
		}
	} while (off < len);
	assert_int_equal(off, len);
	assert_int_equal(nbuf, (len + VIRTIO_NET_HDR_LEN + 1525) / 1526);
	assert_memory_equal(got + 54, frame + 54, len - 54);
}

/* Without guest offloads the kernel segments and checksums: MSS-sized
 * frames with plain headers. */
static void test_rx_gso_segmented(void **state)
{
	struct netfix *f = *state;
	static const uint8_t host_mac[6] = {2, 0, 0, 0, 0, 0x10};
	struct virtio_net_hdr sh = {
	    .flags = VIRTIO_NET_HDR_F_NEEDS_CSUM,
	    .gso_type = VIRTIO_NET_HDR_GSO_TCPV4,
	    .hdr_len = 54,
	    .gso_size = 1448,
	    .csum_start = 34,
	    .csum_offset = 16,
	};
	size_t len = netfix_tcp4_frame(frame, 54 + 3 * 1448, host_mac, f->mac, 41);

	assert_int_equal(f->net->tap.offloads, 0);
	assert_int_equal(netfix_post_rx(f, 16, 2048, false), 0);
	assert_int_equal(netfix_host_send(f, &sh, frame, len), 0);
	for (int i = 0; i < 3; i++) {
		uint16_t head;
		uint32_t used;
		uint8_t *p;

		assert_int_equal(netfix_rx_wait(f, WAIT_MS, &head, &used, &p), 0);
		struct virtio_net_hdr_v1 h = rx_hdr(p);
		assert_int_equal(h.flags, 0);
		assert_int_equal(h.gso_type, VIRTIO_NET_HDR_GSO_NONE);
		assert_int_equal(used, VIRTIO_NET_HDR_LEN + 54 + 1448);
		assert_memory_equal(p + VIRTIO_NET_HDR_LEN + 54, frame + 54 + i * 1448, 1448);
	}
}

/* A driver reset while frames and buffers are outstanding, then a fresh
 * start: the device works again. */
static void test_reset_and_restart(void **state)
{
	struct netfix *f = *state;
	size_t len = netfix_frame(frame, 64, f->mac, 50);
	struct virtio_net_hdr_v1 h = {0};

	assert_int_equal(netfix_post_rx(f, 1, 2048, false), 0);
	assert_int_equal(netfix_host_send(f, NULL, frame, len), 0);
	assert_int_equal(netfix_host_send(f, NULL, frame, len), 0);
	expect_rx(f, frame, len, 1);
	vdrv_write32(&f->d, VIRTIO_MMIO_STATUS, 0);
	vdrv_poll(&f->d);
	assert_int_equal(vdrv_setup(&f->d, NETFIX_ALL_FEATURES, 2, 256), 0);
	assert_int_equal(netfix_post_rx(f, 8, 2048, false), 0);
	expect_rx(f, frame, len, 1); /* the frame that waited in the TAP */
	assert_int_equal(netfix_tx(f, &h, frame, len, NULL), 0);
	assert_int_equal(netfix_host_recv(f, NULL, got, sizeof(got), WAIT_MS), (int)len);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_config, setup, netfix_teardown),
	    cmocka_unit_test(test_config_mac_mtu),
	    cmocka_unit_test_setup_teardown(test_feature_dependencies, setup, netfix_teardown),
	    cmocka_unit_test_setup_teardown(test_tx_one, setup, netfix_teardown),
	    cmocka_unit_test_setup_teardown(test_tx_layouts, setup, netfix_teardown),
	    cmocka_unit_test_setup_teardown(test_tx_batch, setup, netfix_teardown),
	    cmocka_unit_test_setup_teardown(test_tx_spoofed, setup, netfix_teardown),
	    cmocka_unit_test_setup_teardown(test_tx_csum_tso, setup, netfix_teardown),
	    cmocka_unit_test_setup_teardown(test_rx_one, setup, netfix_teardown),
	    cmocka_unit_test_setup_teardown(test_rx_many, setup, netfix_teardown),
	    cmocka_unit_test_setup_teardown(test_rx_no_mrg, setup_no_mrg, netfix_teardown),
	    cmocka_unit_test_setup_teardown(test_rx_too_big, setup_no_mrg, netfix_teardown),
	    cmocka_unit_test_setup_teardown(test_rx_mrg, setup, netfix_teardown),
	    cmocka_unit_test_setup_teardown(test_rx_mrg_waits_for_buffers, setup, netfix_teardown),
	    cmocka_unit_test_setup_teardown(test_rx_mrg_never_fits, setup_small_queue,
					    netfix_teardown),
	    cmocka_unit_test_setup_teardown(test_rx_no_buffers, setup, netfix_teardown),
	    cmocka_unit_test_setup_teardown(test_rx_before_buffers, setup, netfix_teardown),
	    cmocka_unit_test_setup_teardown(test_rx_gso, setup, netfix_teardown),
	    cmocka_unit_test_setup_teardown(test_rx_gso_segmented, setup_plain, netfix_teardown),
	    cmocka_unit_test_setup_teardown(test_reset_and_restart, setup, netfix_teardown),
	};

	log_set_level(LOG_ERROR);
	return cmocka_run_group_tests_name("virtio-net", tests, NULL, NULL);
}
