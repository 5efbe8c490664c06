/* virtio-net rate limiters: ops and bandwidth buckets on tx and rx hold
 * frames back (nothing dropped, order kept) until the limiter's timer fires;
 * PATCH-style updates (virtio_net_update_rate_limiters) add a limit or lift
 * one, releasing what waited at once. */
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

static uint8_t frame[4096], got[4096];

static const struct token_bucket_cfg OPS2 = {.present = true, .size = 2, .refill_time_ms = 400};
static const struct token_bucket_cfg OPS1 = {.present = true, .size = 1, .refill_time_ms = 200};
static const struct token_bucket_cfg OPS1_SLOW = {
    .present = true, .size = 1, .refill_time_ms = 60000};
static const struct token_bucket_cfg BW1000 = {
    .present = true, .size = 1000, .refill_time_ms = 200};
static const struct token_bucket_cfg OFF = {.present = true, .size = 0};

static struct netfix *fix(struct net_cfg *cfg)
{
	struct netfix *f = calloc(1, sizeof(*f));

	assert_non_null(f);
	assert_int_equal(netfix_init(f, cfg, NETFIX_ALL_FEATURES, 256), 0);
	return f;
}

static void fini(struct netfix *f)
{
	netfix_fini(f);
	free(f);
}

/* Post n tx frames of len (seeds base..base+n-1) and kick once. */
static void tx_post_n(struct netfix *f, int n, size_t len, uint32_t base)
{
	struct virtio_net_hdr_v1 h = {0};

	for (int i = 0; i < n; i++) {
		netfix_frame(frame, len, f->mac, base + (uint32_t)i);
		assert_true(netfix_tx_post(f, &h, frame, len, 0, false) >= 0);
	}
	vdrv_kick(&f->d, VIRTIO_NET_TXQ);
}

static void tx_expect_used(struct netfix *f, int n)
{
	for (int i = 0; i < n; i++) {
		uint32_t id, len;

		assert_int_equal(vdrv_wait_used(&f->d, VIRTIO_NET_TXQ, WAIT_MS, &id, &len), 0);
		vdrv_free_chain(&f->d, VIRTIO_NET_TXQ, (uint16_t)id);
	}
}

static void host_expect(struct netfix *f, int n, size_t len, uint32_t base)
{
	for (int i = 0; i < n; i++) {
		netfix_frame(frame, len, f->mac, base + (uint32_t)i);
		assert_int_equal(netfix_host_recv(f, NULL, got, sizeof(got), WAIT_MS), (int)len);
		assert_memory_equal(got, frame, len);
	}
}

static void rx_expect(struct netfix *f, int n, size_t len, uint32_t base)
{
	for (int i = 0; i < n; i++) {
		uint16_t head;
		uint32_t used;
		uint8_t *p;

		netfix_frame(frame, len, f->mac, base + (uint32_t)i);
		assert_int_equal(netfix_rx_wait(f, WAIT_MS, &head, &used, &p), 0);
		assert_int_equal(used, VIRTIO_NET_HDR_LEN + len);
		assert_memory_equal(p + VIRTIO_NET_HDR_LEN, frame, len);
	}
}

static void host_send_n(struct netfix *f, int n, size_t len, uint32_t base)
{
	for (int i = 0; i < n; i++) {
		netfix_frame(frame, len, f->mac, base + (uint32_t)i);
		assert_int_equal(netfix_host_send(f, NULL, frame, len), 0);
	}
}

/* tx, 2 ops per 400 ms: a kick of 6 sends 2 at once, the rest on the
 * limiter's timer, in order. */
static void test_tx_ops(void **state)
{
	struct net_cfg cfg = {.tx_rate_limiter.ops = OPS2};
	struct netfix *f = fix(&cfg);

	tx_post_n(f, 6, 100, 0);
	vdrv_poll(&f->d);
	assert_int_equal(vdrv_used_idx(&f->d, VIRTIO_NET_TXQ), 2);
	assert_true(f->net->tx_throttled);
	assert_true(rl_timer_remaining_ns(&f->net->tx_rl) > 0);
	assert_true(netfix_counters(f).tx_rate_limiter_throttled >= 1);
	tx_expect_used(f, 6);
	host_expect(f, 6, 100, 0);
	struct metrics_net m = netfix_counters(f);
	assert_int_equal(m.tx_packets_count, 6);
	assert_true(m.tx_rate_limiter_event_count >= 1);
	assert_int_equal(m.tx_malformed_frames + m.tx_fails, 0);
	fini(f);
}

/* tx, 1000 bytes per 200 ms: 600-byte frames go one at a time. */
static void test_tx_bandwidth(void **state)
{
	struct net_cfg cfg = {.tx_rate_limiter.bandwidth = BW1000};
	struct netfix *f = fix(&cfg);

	tx_post_n(f, 3, 600, 10);
	vdrv_poll(&f->d);
	assert_int_equal(vdrv_used_idx(&f->d, VIRTIO_NET_TXQ), 1);
	assert_true(netfix_counters(f).tx_rate_limiter_throttled >= 1);
	tx_expect_used(f, 3);
	host_expect(f, 3, 600, 10);
	fini(f);
}

/* rx, 1 op per 200 ms: three frames arrive one by one, none dropped. */
static void test_rx_ops(void **state)
{
	struct net_cfg cfg = {.rx_rate_limiter.ops = OPS1};
	struct netfix *f = fix(&cfg);

	assert_int_equal(netfix_post_rx(f, 8, 2048, false), 0);
	host_send_n(f, 3, 80, 20);
	rx_expect(f, 3, 80, 20);
	struct metrics_net m = netfix_counters(f);
	assert_int_equal(m.rx_packets_count, 3);
	assert_true(m.rx_rate_limiter_throttled >= 1);
	assert_true(m.rx_event_rate_limiter_count >= 1);
	assert_int_equal(m.rx_fails, 0);
	fini(f);
}

/* Lifting a limit releases what waited immediately (no timer wait). */
static void test_update_lifts_tx(void **state)
{
	struct net_cfg cfg = {.tx_rate_limiter.ops = OPS1_SLOW};
	struct rate_limiter_cfg off = {.ops = OFF};
	struct netfix *f = fix(&cfg);

	tx_post_n(f, 3, 100, 30);
	vdrv_poll(&f->d);
	assert_int_equal(vdrv_used_idx(&f->d, VIRTIO_NET_TXQ), 1);
	assert_true(f->net->tx_throttled);
	virtio_net_update_rate_limiters(f->net, NULL, &off);
	assert_int_equal(vdrv_used_idx(&f->d, VIRTIO_NET_TXQ), 3);
	assert_false(f->net->tx_throttled);
	tx_expect_used(f, 3);
	host_expect(f, 3, 100, 30);
	fini(f);
}

static void test_update_lifts_rx(void **state)
{
	struct net_cfg cfg = {.rx_rate_limiter.ops = OPS1_SLOW};
	struct rate_limiter_cfg off = {.ops = OFF};
	struct netfix *f = fix(&cfg);
	uint16_t head;
	uint32_t used;
	uint8_t *p;

	assert_int_equal(netfix_post_rx(f, 8, 2048, false), 0);
	host_send_n(f, 2, 80, 40);
	rx_expect(f, 1, 80, 40);
	for (int i = 0; i < 100 && !f->net->rx_throttled; i++)
		el_run_once(&f->d.el, 50);
	assert_true(f->net->rx_throttled);
	assert_int_equal(netfix_rx_wait(f, 0, &head, &used, &p), -ETIMEDOUT);
	virtio_net_update_rate_limiters(f->net, &off, NULL);
	assert_int_equal(vdrv_used_idx(&f->d, VIRTIO_NET_RXQ), 2);
	rx_expect(f, 1, 80, 41);
	fini(f);
}

/* Adding a limit to an unlimited device takes effect for what follows. */
static void test_update_adds_limit(void **state)
{
	struct rate_limiter_cfg slow = {.ops = OPS1_SLOW};
	struct netfix *f = fix(NULL);

	tx_post_n(f, 2, 100, 50);
	tx_expect_used(f, 2);
	virtio_net_update_rate_limiters(f->net, NULL, &slow);
	tx_post_n(f, 3, 100, 52);
	vdrv_poll(&f->d);
	assert_int_equal(vdrv_used_idx(&f->d, VIRTIO_NET_TXQ), 3);
	assert_true(f->net->tx_throttled);
	assert_int_equal(netfix_counters(f).tx_packets_count, 3);
	/* rx unchanged (NULL): still unlimited */
	assert_int_equal(netfix_post_rx(f, 8, 2048, false), 0);
	host_send_n(f, 3, 80, 60);
	rx_expect(f, 3, 80, 60);
	assert_int_equal(netfix_counters(f).rx_rate_limiter_throttled, 0);
	fini(f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_tx_ops),	    cmocka_unit_test(test_tx_bandwidth),
	    cmocka_unit_test(test_rx_ops),	    cmocka_unit_test(test_update_lifts_tx),
	    cmocka_unit_test(test_update_lifts_rx), cmocka_unit_test(test_update_adds_limit),
	};

	log_set_level(LOG_ERROR);
	return cmocka_run_group_tests_name("virtio-net rate limiters", tests, NULL, NULL);
}
