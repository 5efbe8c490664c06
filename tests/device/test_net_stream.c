/* virtio-net on the stream backend (passt's protocol: a 32-bit big-endian
 * length before every Ethernet frame) against a fake peer on a socketpair:
 * frames both ways, frames split across reads, several per read, a frame
 * spread over merged buffers, a full socket (tx waits for room, the loop
 * never blocks, nothing is lost or reordered), and a hostile or dying peer:
 * a length prefix larger than any frame, a runt, a peer closing in the
 * middle of a frame. The device takes the link down (STATUS, config
 * interrupt), keeps answering the guest's chains, never needs a reset. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <endian.h>
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "ember/log.h"
#include "net_fix.h"

#define WAIT_MS VDRV_WAIT_MS
#define F(bit) (1ULL << VIRTIO_NET_F_##bit)
#define HDR VIRTIO_NET_HDR_LEN

static uint8_t frame[VIRTIO_NET_MAX_FRAME + 64], got[VIRTIO_NET_MAX_FRAME + 64];
static const struct virtio_net_hdr_v1 no_hdr;

static int setup(void **state)
{
	struct netfix *f = calloc(1, sizeof(*f));

	assert_non_null(f);
	assert_int_equal(netfix_init_stream(f, NULL, NETFIX_ALL_FEATURES, 256), 0);
	*state = f;
	return 0;
}

/* Without MRG_RXBUF: one buffer per frame. */
static int setup_no_mrg(void **state)
{
	struct netfix *f = calloc(1, sizeof(*f));

	assert_non_null(f);
	assert_int_equal(
	    netfix_init_stream(f, NULL, F(MAC) | F(STATUS) | (1ULL << VIRTIO_F_VERSION_1), 256), 0);
	*state = f;
	return 0;
}

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void peer_write(struct netfix *f, const void *p, size_t len)
{
	assert_int_equal(write(f->peer, p, len), (ssize_t)len);
}

static void peer_send_frame(struct netfix *f, const void *p, size_t len)
{
	uint32_t be = htobe32((uint32_t)len);

	peer_write(f, &be, sizeof(be));
	peer_write(f, p, len);
}

/* One frame as the peer receives it: its length, the bytes in buf. */
static int peer_recv_frame(struct netfix *f, void *buf, size_t cap)
{
	uint32_t be, len;
	int r = netfix_peer_read(f, &be, sizeof(be), WAIT_MS);

	if (r < 0)
		return r;
	len = be32toh(be);
	if (len > cap)
		return -EMSGSIZE;
	r = netfix_peer_read(f, buf, len, WAIT_MS);
	return r < 0 ? r : (int)len;
}

/* Run the loop until the device reports the link down (or the timeout). */
static bool wait_link_down(struct netfix *f)
{
	int64_t deadline = now_ms() + WAIT_MS;

	while (virtio_net_link_up(f->net) && now_ms() < deadline)
		el_run_once(&f->d.el, 50);
	return !virtio_net_link_up(f->net);
}

static uint16_t cfg_status(struct netfix *f)
{
	uint16_t st;

	vdrv_config_read(&f->d, offsetof(struct virtio_net_config, status), &st, sizeof(st));
	return le16toh(st);
}

/* The guest transmits one frame and gets the chain back. */
static void guest_tx(struct netfix *f, size_t len, uint32_t seed)
{
	uint32_t used = 99;

	netfix_frame(frame, len, f->mac, seed);
	assert_int_equal(netfix_tx(f, &no_hdr, frame, len, &used), 0);
	assert_int_equal(used, 0);
}

/* The guest receives one frame in one buffer: its bytes must be exp. */
static void guest_rx_expect(struct netfix *f, const uint8_t *exp, size_t len)
{
	struct virtio_net_hdr_v1 h;
	uint16_t head;
	uint32_t l;
	uint8_t *p;

	assert_int_equal(netfix_rx_wait(f, WAIT_MS, &head, &l, &p), 0);
	assert_int_equal(l, HDR + len);
	memcpy(&h, p, sizeof(h));
	assert_int_equal(h.flags, 0);
	assert_int_equal(h.gso_type, VIRTIO_NET_HDR_GSO_NONE);
	assert_memory_equal(p + HDR, exp, len);
}

/* ---- tests ---- */

static void test_features_and_link(void **state)
{
	struct netfix *f = *state;
	uint64_t feat = vdrv_device_features(&f->d);

	assert_true(feat & F(MAC));
	assert_true(feat & F(STATUS));
	assert_true(feat & F(MRG_RXBUF));
	/* passt takes no vnet header: no offload is offered. */
	assert_false(feat & F(CSUM));
	assert_false(feat & F(GUEST_CSUM));
	assert_false(feat & F(HOST_TSO4));
	assert_false(feat & F(GUEST_TSO4));
	assert_false(feat & F(HOST_UFO));
	assert_int_equal(cfg_status(f), VIRTIO_NET_S_LINK_UP);
	assert_true(virtio_net_link_up(f->net));
}

static void test_tx_frames(void **state)
{
	struct netfix *f = *state;
	uint8_t exp[2000];

	for (uint32_t i = 0; i < 10; i++) {
		size_t len = 60 + i * 150;

		guest_tx(f, len, i);
		netfix_frame(exp, len, f->mac, i);
		assert_int_equal(peer_recv_frame(f, got, sizeof(got)), (int)len);
		assert_memory_equal(got, exp, len);
	}
	assert_int_equal(netfix_counters(f).tx_packets_count, 10);
	assert_int_equal(netfix_counters(f).tx_fails, 0);
}

static void test_rx_frames_batched(void **state)
{
	struct netfix *f = *state;
	uint8_t all[20 * (4 + 200)];
	size_t off = 0;

	/* Twenty frames in one write: the device splits them. */
	for (uint32_t i = 0; i < 20; i++) {
		uint32_t be = htobe32(100 + i);

		memcpy(all + off, &be, 4);
		netfix_frame(all + off + 4, 100 + i, (const uint8_t[6]){2, 1, 1, 1, 1, 1}, i);
		off += 4 + 100 + i;
	}
	assert_int_equal(netfix_post_rx(f, 32, 2048, false), 0);
	peer_write(f, all, off);
	off = 0;
	for (uint32_t i = 0; i < 20; i++) {
		guest_rx_expect(f, all + off + 4, 100 + i);
		off += 4 + 100 + i;
	}
	assert_int_equal(netfix_counters(f).rx_packets_count, 20);
}

/* A frame trickling in byte by byte is delivered once, when whole. */
static void test_rx_partial_frame(void **state)
{
	struct netfix *f = *state;
	uint8_t buf[4 + 300];
	uint32_t be = htobe32(300);

	memcpy(buf, &be, 4);
	netfix_frame(buf + 4, 300, (const uint8_t[6]){2, 1, 1, 1, 1, 1}, 7);
	assert_int_equal(netfix_post_rx(f, 4, 2048, false), 0);
	for (size_t i = 0; i < sizeof(buf) - 1; i++) {
		peer_write(f, buf + i, 1);
		vdrv_poll(&f->d);
		assert_int_equal(vdrv_used_idx(&f->d, VIRTIO_NET_RXQ), 0);
	}
	peer_write(f, buf + sizeof(buf) - 1, 1);
	guest_rx_expect(f, buf + 4, 300);
	assert_true(virtio_net_link_up(f->net));
}

/* A 64 KiB frame (passt's MTU is 65520) over merged 4 KiB buffers. */
static void test_rx_large_frame_mrg(void **state)
{
	struct netfix *f = *state;
	size_t len = 65520 + 14, total = HDR + len, seen = 0;
	uint8_t *first = NULL;
	struct virtio_net_hdr_v1 h;
	int nbufs = 0;

	netfix_frame(frame, len, (const uint8_t[6]){2, 1, 1, 1, 1, 1}, 3);
	assert_int_equal(netfix_post_rx(f, 20, 4096, false), 0);
	peer_send_frame(f, frame, len);
	while (seen < total) {
		uint16_t head;
		uint32_t l;
		uint8_t *p;

		assert_int_equal(netfix_rx_wait(f, WAIT_MS, &head, &l, &p), 0);
		if (!first) {
			first = p;
			memcpy(&h, p, sizeof(h));
			memcpy(got, p + HDR, l - HDR);
			seen = l;
		} else {
			memcpy(got + seen - HDR, p, l);
			seen += l;
		}
		nbufs++;
	}
	assert_int_equal(seen, total);
	assert_int_equal(le16toh(h.num_buffers), nbufs);
	assert_memory_equal(got, frame, len);
}

/* Runts (length below an Ethernet header, 0 included) are skipped and
 * counted; the stream stays in step. */
static void test_rx_runt_skipped(void **state)
{
	struct netfix *f = *state;
	uint8_t junk[13] = {0};

	assert_int_equal(netfix_post_rx(f, 4, 2048, false), 0);
	peer_send_frame(f, junk, 13);
	peer_send_frame(f, junk, 0);
	netfix_frame(frame, 80, (const uint8_t[6]){2, 1, 1, 1, 1, 1}, 9);
	peer_send_frame(f, frame, 80);
	guest_rx_expect(f, frame, 80);
	assert_int_equal(netfix_counters(f).rx_fails, 2);
	assert_true(virtio_net_link_up(f->net));
}

/* Without MRG_RXBUF a frame larger than the guest's buffer is dropped; the
 * buffer stays for the next frame. */
static void test_rx_too_big_for_buffer(void **state)
{
	struct netfix *f = *state;

	assert_int_equal(netfix_post_rx(f, 1, 1526, false), 0);
	netfix_frame(frame, 4000, (const uint8_t[6]){2, 1, 1, 1, 1, 1}, 1);
	peer_send_frame(f, frame, 4000);
	netfix_frame(frame, 1514, (const uint8_t[6]){2, 1, 1, 1, 1, 1}, 2);
	peer_send_frame(f, frame, 1514);
	guest_rx_expect(f, frame, 1514);
	assert_int_equal(netfix_counters(f).rx_fails, 1);
}

/* A length no frame can have: the stream cannot be followed any more. Link
 * down with a config interrupt; tx chains still come back (dropped). */
static void test_hostile_length(void **state)
{
	static const uint32_t lens[] = {VIRTIO_NET_MAX_FRAME + 1, 0x7fffffff, 0xffffffff};

	for (size_t i = 0; i < sizeof(lens) / sizeof(lens[0]); i++) {
		struct netfix *f = *state;
		uint32_t be = htobe32(lens[i]);

		assert_int_equal(netfix_post_rx(f, 4, 2048, false), 0);
		vdrv_ack_irq(&f->d);
		peer_write(f, &be, sizeof(be));
		peer_write(f, frame, 100);
		assert_true(wait_link_down(f));
		assert_int_equal(cfg_status(f) & VIRTIO_NET_S_LINK_UP, 0);
		assert_true(vdrv_ack_irq(&f->d) & VIRTIO_MMIO_INT_CONFIG);
		assert_int_equal(vdrv_used_idx(&f->d, VIRTIO_NET_RXQ), 0);
		assert_true(netfix_counters(f).tap_read_fails >= 1);
		guest_tx(f, 100, 1);
		assert_int_equal(netfix_counters(f).tx_fails, 1);
		assert_false(vdrv_needs_reset(&f->d));
		/* The next test case gets a fresh device. */
		netfix_teardown(state);
		setup(state);
	}
}

/* The peer dies after half a frame: nothing half-done reaches the guest. */
static void test_peer_closes_mid_frame(void **state)
{
	struct netfix *f = *state;
	uint32_t be = htobe32(1000);

	assert_int_equal(netfix_post_rx(f, 4, 2048, false), 0);
	peer_write(f, &be, sizeof(be));
	peer_write(f, frame, 500);
	close(f->peer);
	f->peer = -1;
	assert_true(wait_link_down(f));
	assert_int_equal(vdrv_used_idx(&f->d, VIRTIO_NET_RXQ), 0);
	guest_tx(f, 200, 2);
	assert_int_equal(netfix_counters(f).tx_fails, 1);
	assert_false(vdrv_needs_reset(&f->d));
	/* A driver reset and a new start are fine; the link stays down. */
	vdrv_write32(&f->d, VIRTIO_MMIO_STATUS, 0);
	assert_int_equal(vdrv_setup(&f->d, NETFIX_ALL_FEATURES, 2, 256), 0);
	assert_int_equal(cfg_status(f) & VIRTIO_NET_S_LINK_UP, 0);
}

/* The peer stops reading: the socket fills, the device keeps the rest of a
 * frame and waits (the loop keeps running: this test is single-threaded);
 * once the peer reads, every frame arrives whole and in order. */
static void test_tx_backpressure(void **state)
{
	struct netfix *f = *state;
	int small = 4096, n = 64, heads = 0;
	uint8_t exp[1514];
	uint64_t mark = vdrv_mark(&f->d);

	assert_int_equal(
	    setsockopt(f->net->stream.fd, SOL_SOCKET, SO_SNDBUF, &small, sizeof(small)), 0);
	assert_int_equal(setsockopt(f->peer, SOL_SOCKET, SO_RCVBUF, &small, sizeof(small)), 0);
	for (int i = 0; i < n; i++) {
		netfix_frame(frame, 1514, f->mac, (uint32_t)i);
		assert_true(netfix_tx_post(f, &no_hdr, frame, 1514, 0, false) >= 0);
	}
	vdrv_kick(&f->d, VIRTIO_NET_TXQ);
	vdrv_poll(&f->d);
	/* Not everything fits: the device waits for room, without blocking. */
	assert_true(vdrv_used_idx(&f->d, VIRTIO_NET_TXQ) < n);
	assert_true(f->net->tx_wait_out);
	for (int i = 0; i < n; i++) {
		netfix_frame(exp, 1514, f->mac, (uint32_t)i);
		assert_int_equal(peer_recv_frame(f, got, sizeof(got)), 1514);
		assert_memory_equal(got, exp, 1514);
	}
	while (heads < n) {
		uint32_t id, l;

		assert_int_equal(vdrv_wait_used(&f->d, VIRTIO_NET_TXQ, WAIT_MS, &id, &l), 0);
		vdrv_free_chain(&f->d, VIRTIO_NET_TXQ, (uint16_t)id);
		heads++;
	}
	vdrv_release(&f->d, mark);
	assert_int_equal(netfix_counters(f).tx_packets_count, n);
	assert_int_equal(netfix_counters(f).tx_fails, 0);
	assert_false(f->net->tx_wait_out);
	assert_true(virtio_net_link_up(f->net));
}

/* The peer closes while the device still holds part of a frame. */
static void test_peer_dies_during_backpressure(void **state)
{
	struct netfix *f = *state;
	int small = 4096, n = 32;

	assert_int_equal(
	    setsockopt(f->net->stream.fd, SOL_SOCKET, SO_SNDBUF, &small, sizeof(small)), 0);
	assert_int_equal(setsockopt(f->peer, SOL_SOCKET, SO_RCVBUF, &small, sizeof(small)), 0);
	for (int i = 0; i < n; i++) {
		netfix_frame(frame, 1514, f->mac, (uint32_t)i);
		assert_true(netfix_tx_post(f, &no_hdr, frame, 1514, 0, false) >= 0);
	}
	vdrv_kick(&f->d, VIRTIO_NET_TXQ);
	vdrv_poll(&f->d);
	assert_true(f->net->tx_wait_out);
	close(f->peer);
	f->peer = -1;
	assert_true(wait_link_down(f));
	/* Every chain comes back: the rest are dropped and counted. */
	for (int64_t deadline = now_ms() + WAIT_MS;
	     vdrv_used_idx(&f->d, VIRTIO_NET_TXQ) != n && now_ms() < deadline;)
		el_run_once(&f->d.el, 50);
	assert_int_equal(vdrv_used_idx(&f->d, VIRTIO_NET_TXQ), n);
	assert_true(netfix_counters(f).tx_fails > 0);
	assert_false(vdrv_needs_reset(&f->d));
}

static void test_no_mrg_rx_tx(void **state)
{
	struct netfix *f = *state;

	assert_int_equal(netfix_post_rx(f, 2, 1526, false), 0);
	netfix_frame(frame, 1514, (const uint8_t[6]){2, 1, 1, 1, 1, 1}, 5);
	peer_send_frame(f, frame, 1514);
	guest_rx_expect(f, frame, 1514);
	guest_tx(f, 1514, 6);
	netfix_frame(frame, 1514, f->mac, 6);
	assert_int_equal(peer_recv_frame(f, got, sizeof(got)), 1514);
	assert_memory_equal(got, frame, 1514);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_features_and_link, setup, netfix_teardown),
	    cmocka_unit_test_setup_teardown(test_tx_frames, setup, netfix_teardown),
	    cmocka_unit_test_setup_teardown(test_rx_frames_batched, setup, netfix_teardown),
	    cmocka_unit_test_setup_teardown(test_rx_partial_frame, setup, netfix_teardown),
	    cmocka_unit_test_setup_teardown(test_rx_large_frame_mrg, setup, netfix_teardown),
	    cmocka_unit_test_setup_teardown(test_rx_runt_skipped, setup, netfix_teardown),
	    cmocka_unit_test_setup_teardown(test_rx_too_big_for_buffer, setup_no_mrg,
					    netfix_teardown),
	    cmocka_unit_test_setup_teardown(test_hostile_length, setup, netfix_teardown),
	    cmocka_unit_test_setup_teardown(test_peer_closes_mid_frame, setup, netfix_teardown),
	    cmocka_unit_test_setup_teardown(test_tx_backpressure, setup, netfix_teardown),
	    cmocka_unit_test_setup_teardown(test_peer_dies_during_backpressure, setup,
					    netfix_teardown),
	    cmocka_unit_test_setup_teardown(test_no_mrg_rx_tx, setup_no_mrg, netfix_teardown),
	};

	log_set_level(LOG_ERROR);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
