/* virtio-net against a hostile or broken driver and a failing host: every
 * class of bad transmit header, frames too short or too long, bad
 * descriptor chains on both queues, receive buffers too small for a header,
 * held MRG buffers separated by bad chains, broken rings, the kernel
 * refusing a frame, the TAP vanishing. The device drops and counts, answers
 * every chain, never crashes, and works for the next good frame. */
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

static uint8_t frame[VIRTIO_NET_MAX_BUFFER + 64], got[VIRTIO_NET_MAX_BUFFER];

static int setup_with(void **state, uint64_t want, uint16_t qsize)
{
	struct netfix *f = calloc(1, sizeof(*f));

	assert_non_null(f);
	assert_int_equal(netfix_init(f, NULL, want, qsize), 0);
	*state = f;
	return 0;
}

static int setup(void **state)
{
	return setup_with(state, NETFIX_ALL_FEATURES, VIRTIO_NET_QUEUE_SIZE);
}

/* No offloads negotiated at all. */
static int setup_no_offloads(void **state)
{
	return setup_with(state, F(MAC) | F(MRG_RXBUF) | RING(VIRTIO_F_VERSION_1), 256);
}

static int setup_small_queue(void **state)
{
	return setup_with(state, NETFIX_ALL_FEATURES, 4);
}

/* Post a raw tx chain, kick, and expect it back with used length 0. */
static void tx_raw_expect_used(struct netfix *f, const struct vd_buf *b, int n)
{
	uint32_t id, len = 99;
	int head = vdrv_add_chain(&f->d, VIRTIO_NET_TXQ, b, n, false);

	assert_true(head >= 0);
	vdrv_kick(&f->d, VIRTIO_NET_TXQ);
	assert_int_equal(vdrv_wait_used(&f->d, VIRTIO_NET_TXQ, WAIT_MS, &id, &len), 0);
	assert_int_equal(id, head);
	assert_int_equal(len, 0);
	vdrv_free_chain(&f->d, VIRTIO_NET_TXQ, (uint16_t)id);
}

/* Send hdr + a frame of len; the device must drop it as malformed. */
static void tx_expect_malformed(struct netfix *f, const struct virtio_net_hdr_v1 *h, size_t len,
				const char *what)
{
	uint64_t before = netfix_counters(f).tx_malformed_frames;
	uint32_t used = 99;

	netfix_frame(frame, len, f->mac, (uint32_t)len);
	assert_int_equal(netfix_tx(f, h, frame, len, &used), 0);
	assert_int_equal(used, 0);
	if (netfix_counters(f).tx_malformed_frames != before + 1)
		fail_msg("not counted as malformed: %s", what);
}

/* The next frame the host sees is a good one sent now: nothing malformed
 * got through before it. */
static void tx_good_is_next(struct netfix *f)
{
	struct virtio_net_hdr_v1 h = {0};
	size_t len = netfix_frame(frame, 77, f->mac, 0xabc);

	assert_int_equal(netfix_tx(f, &h, frame, len, NULL), 0);
	assert_int_equal(netfix_host_recv(f, NULL, got, sizeof(got), WAIT_MS), (int)len);
	assert_memory_equal(got, frame, len);
}

static void test_tx_bad_headers(void **state)
{
	struct netfix *f = *state;
	struct {
		struct virtio_net_hdr_v1 h;
		size_t len;
		const char *what;
	} cases[] = {
	    {{.flags = VIRTIO_NET_HDR_F_DATA_VALID}, 100, "DATA_VALID on tx"},
	    {{.flags = VIRTIO_NET_HDR_F_RSC_INFO}, 100, "RSC_INFO on tx"},
	    {{.flags = 0x80}, 100, "unknown flag"},
	    {{.flags = VIRTIO_NET_HDR_F_NEEDS_CSUM, .csum_start = htole16(100)},
	     100,
	     "csum_start at the end"},
	    {{.flags = VIRTIO_NET_HDR_F_NEEDS_CSUM,
	      .csum_start = htole16(60),
	      .csum_offset = htole16(39)},
	     100,
	     "checksum field crosses the end"},
	    {{.flags = VIRTIO_NET_HDR_F_NEEDS_CSUM,
	      .csum_start = htole16(0xffff),
	      .csum_offset = htole16(0xffff)},
	     100,
	     "csum offsets overflow"},
	    {{.flags = VIRTIO_NET_HDR_F_NEEDS_CSUM,
	      .csum_start = htole16(34),
	      .csum_offset = htole16(0xfff0)},
	     100,
	     "csum_offset huge"},
	    {{.hdr_len = htole16(101)}, 100, "hdr_len beyond the frame"},
	    {{.hdr_len = htole16(0xffff)}, 100, "hdr_len 0xffff"},
	    {{.gso_type = 2}, 100, "gso type 2"},
	    {{.gso_type = 5,
	      .flags = VIRTIO_NET_HDR_F_NEEDS_CSUM,
	      .csum_start = htole16(34),
	      .csum_offset = htole16(16),
	      .gso_size = htole16(100)},
	     1000,
	     "gso type 5"},
	    {{.gso_type = 0xff}, 100, "gso type 0xff"},
	    {{.gso_type = VIRTIO_NET_HDR_GSO_TCPV4 | VIRTIO_NET_HDR_GSO_ECN,
	      .flags = VIRTIO_NET_HDR_F_NEEDS_CSUM,
	      .csum_start = htole16(34),
	      .csum_offset = htole16(16),
	      .gso_size = htole16(100),
	      .hdr_len = htole16(54)},
	     1000,
	     "TSO with ECN (not offered)"},
	    {{.gso_type = VIRTIO_NET_HDR_GSO_TCPV4,
	      .flags = VIRTIO_NET_HDR_F_NEEDS_CSUM,
	      .csum_start = htole16(34),
	      .csum_offset = htole16(16),
	      .hdr_len = htole16(54)},
	     1000,
	     "TSO with gso_size 0"},
	    {{.gso_type = VIRTIO_NET_HDR_GSO_TCPV4,
	      .gso_size = htole16(100),
	      .hdr_len = htole16(54)},
	     1000,
	     "TSO without NEEDS_CSUM"},
	    {{.gso_type = VIRTIO_NET_HDR_GSO_TCPV6,
	      .flags = VIRTIO_NET_HDR_F_NEEDS_CSUM,
	      .csum_start = htole16(1000),
	      .csum_offset = htole16(16),
	      .gso_size = htole16(100)},
	     1000,
	     "TSO6 with csum_start at the end"},
	    {{0}, 13, "frame shorter than an Ethernet header"},
	    {{0}, 0, "no frame at all"},
	    {{0}, VIRTIO_NET_MAX_FRAME + 1, "frame over 65550 bytes"},
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		tx_expect_malformed(f, &cases[i].h, cases[i].len, cases[i].what);
	struct metrics_net m = netfix_counters(f);
	assert_int_equal(m.tx_malformed_frames, sizeof(cases) / sizeof(cases[0]));
	assert_int_equal(m.tx_packets_count, 0);
	assert_int_equal(m.tap_write_fails, 0);
	/* The largest legal frame still goes. */
	struct virtio_net_hdr_v1 h = {0};
	netfix_frame(frame, VIRTIO_NET_MAX_FRAME, f->mac, 1);
	assert_int_equal(netfix_tx(f, &h, frame, VIRTIO_NET_MAX_FRAME, NULL), 0);
	assert_int_equal(netfix_counters(f).tx_malformed_frames, sizeof(cases) / sizeof(cases[0]));
	assert_int_equal(netfix_counters(f).tx_packets_count + netfix_counters(f).tap_write_fails,
			 1);
	if (netfix_counters(f).tx_packets_count == 1)
		assert_int_equal(netfix_host_recv(f, NULL, got, sizeof(got), WAIT_MS),
				 VIRTIO_NET_MAX_FRAME);
	tx_good_is_next(f);
	assert_false(vdrv_needs_reset(&f->d));
}

/* Offloads the driver did not negotiate are malformed too. */
static void test_tx_offloads_not_negotiated(void **state)
{
	struct netfix *f = *state;
	struct virtio_net_hdr_v1 csum = {.flags = VIRTIO_NET_HDR_F_NEEDS_CSUM,
					 .csum_start = htole16(34),
					 .csum_offset = htole16(16)};
	struct virtio_net_hdr_v1 tso = csum;

	assert_false(f->d.features & F(CSUM));
	tx_expect_malformed(f, &csum, 200, "NEEDS_CSUM without CSUM");
	tso.gso_type = VIRTIO_NET_HDR_GSO_TCPV4;
	tso.gso_size = htole16(100);
	tx_expect_malformed(f, &tso, 2000, "TSO4 without HOST_TSO4");
	tso.gso_type = VIRTIO_NET_HDR_GSO_TCPV6;
	tx_expect_malformed(f, &tso, 2000, "TSO6 without HOST_TSO6");
	tso.gso_type = VIRTIO_NET_HDR_GSO_UDP;
	tx_expect_malformed(f, &tso, 2000, "UFO without HOST_UFO");
	tx_good_is_next(f);
}

/* Bad descriptor chains on the transmit queue. */
static void test_tx_bad_chains(void **state)
{
	struct netfix *f = *state;
	uint64_t buf = vdrv_alloc(&f->d, 4096, 64);
	struct vd_buf short_hdr[] = {{buf, 8, false}};
	struct vd_buf outside[] = {{buf, 12, false}, {NETFIX_RAM - 16, 64, false}};
	struct vd_buf wr_first[] = {{buf, 12, true}, {buf + 64, 64, false}};
	struct vd_buf only_wr[] = {{buf, 128, true}};
	struct vd_buf empty_descs[] = {
	    {buf, 0, false}, {buf, 12, false}, {buf + 64, 0, false}, {buf + 64, 60, false}};

	memset(vdrv_ptr(&f->d, buf, 4096), 0, 4096);
	tx_raw_expect_used(f, short_hdr, 1);
	tx_raw_expect_used(f, outside, 2);
	tx_raw_expect_used(f, wr_first, 2);
	tx_raw_expect_used(f, only_wr, 1);
	assert_int_equal(netfix_counters(f).tx_malformed_frames, 4);
	/* Zero-length descriptors are fine. */
	netfix_frame(vdrv_ptr(&f->d, buf + 64, 60), 60, f->mac, 5);
	tx_raw_expect_used(f, empty_descs, 4);
	assert_int_equal(netfix_counters(f).tx_packets_count, 1);
	assert_int_equal(netfix_host_recv(f, NULL, got, sizeof(got), WAIT_MS), 60);
	assert_memory_equal(got, vdrv_ptr(&f->d, buf + 64, 60), 60);
	tx_good_is_next(f);
	assert_false(vdrv_needs_reset(&f->d));
}

/* A header that passes our checks but the kernel refuses (hdr_len shorter
 * than an Ethernet header): counted as a tap write failure, chain returned. */
static void test_tx_kernel_refuses(void **state)
{
	struct netfix *f = *state;
	struct virtio_net_hdr_v1 h = {.hdr_len = htole16(5)};
	uint32_t used = 99;

	netfix_frame(frame, 100, f->mac, 9);
	assert_int_equal(netfix_tx(f, &h, frame, 100, &used), 0);
	assert_int_equal(used, 0);
	struct metrics_net m = netfix_counters(f);
	assert_int_equal(m.tap_write_fails, 1);
	assert_int_equal(m.tx_fails, 1);
	assert_int_equal(m.tx_packets_count, 0);
	tx_good_is_next(f);
}

/* Receive chains that cannot hold anything go back empty; the frame goes to
 * the next good buffer. */
static void test_rx_bad_chains(void **state)
{
	struct netfix *f = *state;
	uint64_t buf = vdrv_alloc(&f->d, 8192, 64);
	struct vd_buf readable[] = {{buf, 2048, false}};
	struct vd_buf tiny[] = {{buf, 8, true}};
	struct vd_buf outside[] = {{NETFIX_RAM - 100, 2048, true}};
	int h1, h2, h3;
	uint16_t head;
	uint32_t id, used;
	uint8_t *p;

	h1 = vdrv_add_chain(&f->d, VIRTIO_NET_RXQ, readable, 1, false);
	h2 = vdrv_add_chain(&f->d, VIRTIO_NET_RXQ, tiny, 1, false);
	h3 = vdrv_add_chain(&f->d, VIRTIO_NET_RXQ, outside, 1, true);
	assert_true(h1 >= 0 && h2 >= 0 && h3 >= 0);
	assert_int_equal(netfix_post_rx(f, 2, 2048, false), 0);
	size_t len = netfix_frame(frame, 300, f->mac, 10);
	assert_int_equal(netfix_host_send(f, NULL, frame, len), 0);
	for (int i = 0; i < 3; i++) {
		assert_int_equal(vdrv_wait_used(&f->d, VIRTIO_NET_RXQ, WAIT_MS, &id, &used), 0);
		assert_int_equal(id, i == 0 ? h1 : i == 1 ? h2 : h3);
		assert_int_equal(used, 0);
		vdrv_free_chain(&f->d, VIRTIO_NET_RXQ, (uint16_t)id);
	}
	assert_int_equal(netfix_rx_wait(f, WAIT_MS, &head, &used, &p), 0);
	assert_int_equal(used, VIRTIO_NET_HDR_LEN + len);
	assert_memory_equal(p + VIRTIO_NET_HDR_LEN, frame, len);
	assert_int_equal(netfix_counters(f).rx_fails, 3);
	assert_false(vdrv_needs_reset(&f->d));
}

/* MRG_RXBUF, queue of 4: buffers held for a big frame with a bad chain
 * between them; when the ring is exhausted the frame is dropped, the held
 * buffers come back empty, and the next frame is received. */
static void test_rx_mrg_held_with_bad_chain(void **state)
{
	struct netfix *f = *state;
	uint64_t bad = vdrv_alloc(&f->d, 64, 64);
	struct vd_buf tiny[] = {{bad, 4, true}};
	uint32_t id, used;
	int nempty = 0;

	assert_int_equal(netfix_post_rx(f, 1, 256, false), 0);
	assert_true(vdrv_add_chain(&f->d, VIRTIO_NET_RXQ, tiny, 1, false) >= 0);
	assert_int_equal(netfix_post_rx(f, 2, 256, false), 0);
	size_t big = netfix_frame(frame, 1400, f->mac, 11);
	assert_int_equal(netfix_host_send(f, NULL, frame, big), 0);
	/* The bad chain comes back; the frame waits on three held buffers. */
	assert_int_equal(vdrv_wait_used(&f->d, VIRTIO_NET_RXQ, WAIT_MS, &id, &used), 0);
	assert_int_equal(used, 0);
	vdrv_free_chain(&f->d, VIRTIO_NET_RXQ, (uint16_t)id);
	assert_int_equal(vdrv_wait_used(&f->d, VIRTIO_NET_RXQ, 200, &id, &used), -ETIMEDOUT);
	/* A fourth buffer fills the ring: the frame can never fit. */
	assert_int_equal(netfix_post_rx(f, 1, 256, false), 0);
	for (int i = 0; i < 4; i++) {
		assert_int_equal(vdrv_wait_used(&f->d, VIRTIO_NET_RXQ, WAIT_MS, &id, &used), 0);
		nempty += used == 0;
		vdrv_free_chain(&f->d, VIRTIO_NET_RXQ, (uint16_t)id);
	}
	assert_int_equal(nempty, 4);
	assert_int_equal(netfix_counters(f).rx_fails, 2); /* the bad chain + the frame */
	assert_int_equal(netfix_post_rx(f, 4, 256, false), 0);
	size_t len = netfix_frame(frame, 100, f->mac, 12);
	assert_int_equal(netfix_host_send(f, NULL, frame, len), 0);
	uint16_t head;
	uint8_t *p;
	assert_int_equal(netfix_rx_wait(f, WAIT_MS, &head, &used, &p), 0);
	assert_int_equal(used, VIRTIO_NET_HDR_LEN + len);
	assert_memory_equal(p + VIRTIO_NET_HDR_LEN, frame, len);
}

/* A broken ring (avail index jumping past the queue size, a head out of
 * range) puts the device in NEEDS_RESET; a reset brings it back. */
static void test_broken_rings(void **state)
{
	struct netfix *f = *state;
	struct virtio_net_hdr_v1 h = {0};

	vdrv_set_avail_idx(&f->d, VIRTIO_NET_TXQ, 300);
	vdrv_kick(&f->d, VIRTIO_NET_TXQ);
	vdrv_poll(&f->d);
	assert_true(vdrv_needs_reset(&f->d));
	assert_int_equal(vdrv_setup(&f->d, NETFIX_ALL_FEATURES, 2, 256), 0);
	/* rx: a head out of range */
	assert_int_equal(netfix_post_rx(f, 1, 2048, false), 0);
	*(uint16_t *)vdrv_ptr(&f->d, f->d.q[0].avail + 4, 2) = htole16(999);
	size_t len = netfix_frame(frame, 64, f->mac, 13);
	assert_int_equal(netfix_host_send(f, NULL, frame, len), 0);
	vdrv_kick(&f->d, VIRTIO_NET_RXQ);
	for (int i = 0; i < 100 && !vdrv_needs_reset(&f->d); i++)
		el_run_once(&f->d.el, 50);
	assert_true(vdrv_needs_reset(&f->d));
	assert_int_equal(vdrv_setup(&f->d, NETFIX_ALL_FEATURES, 2, 256), 0);
	assert_int_equal(netfix_post_rx(f, 4, 2048, false), 0);
	assert_int_equal(netfix_host_send(f, NULL, frame, len), 0);
	uint16_t head;
	uint32_t used;
	uint8_t *p;
	assert_int_equal(netfix_rx_wait(f, WAIT_MS, &head, &used, &p), 0);
	assert_int_equal(used, VIRTIO_NET_HDR_LEN + len);
	assert_int_equal(netfix_tx(f, &h, frame, len, NULL), 0);
}

/* Config space is read-only for the driver. */
static void test_config_write_ignored(void **state)
{
	struct netfix *f = *state;
	uint8_t mac[6];
	uint32_t junk = 0xffffffff;

	bus_access(&f->d.bus, VDRV_MMIO_BASE + VIRTIO_MMIO_CONFIG, &junk, 4, true);
	vdrv_config_read(&f->d, 0, mac, 6);
	assert_memory_equal(mac, f->mac, 6);
}

/* The TAP disappears under the device: an error event, no busy loop, tx
 * fails cleanly, rx stops. */
static void test_tap_deleted(void **state)
{
	struct netfix *f = *state;
	struct virtio_net_hdr_v1 h = {0};
	uint32_t used = 99;
	int events = 0, n;

	assert_int_equal(netfix_post_rx(f, 8, 2048, false), 0);
	vdrv_poll(&f->d);
	assert_int_equal(system("ip link del " NETFIX_TAP), 0);
	for (int i = 0; i < 20 && (n = el_run_once(&f->d.el, 50)) >= 0; i++) {
		events += n;
		if (netfix_counters(f).event_fails)
			break;
	}
	assert_int_equal(netfix_counters(f).event_fails, 1);
	assert_true(f->net->tap_dead);
	assert_int_equal(el_run_once(&f->d.el, 50), 0); /* quiet now */
	netfix_frame(frame, 64, f->mac, 14);
	assert_int_equal(netfix_tx(f, &h, frame, 64, &used), 0);
	assert_int_equal(used, 0);
	assert_int_equal(netfix_counters(f).tap_write_fails, 1);
	assert_int_equal(netfix_counters(f).tx_fails, 1);
	assert_false(vdrv_needs_reset(&f->d));
	(void)events;
	/* Recreate it for whoever comes next. */
	assert_int_equal(netfix_netns_tap(), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_tx_bad_headers, setup, netfix_teardown),
	    cmocka_unit_test_setup_teardown(test_tx_offloads_not_negotiated, setup_no_offloads,
					    netfix_teardown),
	    cmocka_unit_test_setup_teardown(test_tx_bad_chains, setup, netfix_teardown),
	    cmocka_unit_test_setup_teardown(test_tx_kernel_refuses, setup, netfix_teardown),
	    cmocka_unit_test_setup_teardown(test_rx_bad_chains, setup, netfix_teardown),
	    cmocka_unit_test_setup_teardown(test_rx_mrg_held_with_bad_chain, setup_small_queue,
					    netfix_teardown),
	    cmocka_unit_test_setup_teardown(test_broken_rings, setup, netfix_teardown),
	    cmocka_unit_test_setup_teardown(test_config_write_ignored, setup, netfix_teardown),
	    cmocka_unit_test_setup_teardown(test_tap_deleted, setup, netfix_teardown),
	};

	log_set_level(LOG_OFF);
	return cmocka_run_group_tests_name("virtio-net malformed", tests, NULL, NULL);
}
