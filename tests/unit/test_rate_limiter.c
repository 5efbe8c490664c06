/* Token-bucket rate limiter (src/devices/rate_limiter.c) with an injected
 * clock; one test waits on the real timerfd. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <poll.h>
#include <string.h>
#include <sys/timerfd.h>

#include "ember/rate_limiter.h"

#define MS 1000000ULL

static uint64_t fake_now;

static uint64_t fake_clock(void *opaque)
{
	(void)opaque;
	return fake_now;
}

static void init(struct rate_limiter *rl, const struct rate_limiter_cfg *cfg)
{
	fake_now = 1000 * MS;
	assert_int_equal(rl_init(rl, cfg), 0);
	rl_set_clock(rl, fake_clock, NULL);
}

static struct rate_limiter_cfg ops_cfg(uint64_t size, uint64_t refill_ms, uint64_t burst)
{
	struct rate_limiter_cfg c = {0};

	c.ops = (struct token_bucket_cfg){
	    .present = true, .size = size, .refill_time_ms = refill_ms, .one_time_burst = burst};
	return c;
}

static void test_unlimited(void **state)
{
	struct rate_limiter rl;

	init(&rl, NULL);
	assert_true(rl_unlimited(&rl));
	for (int i = 0; i < 1000; i++)
		assert_true(rl_consume(&rl, 1, 1 << 30));
	assert_false(rl_blocked(&rl));
	assert_true(rl_timer_fd(&rl) >= 0);
	rl_destroy(&rl);
	/* size 0 or refill 0 means no bucket */
	struct rate_limiter_cfg c = ops_cfg(0, 100, 0);
	init(&rl, &c);
	assert_true(rl_unlimited(&rl));
	rl_destroy(&rl);
	c = ops_cfg(10, 0, 0);
	init(&rl, &c);
	assert_true(rl_unlimited(&rl));
	rl_destroy(&rl);
}

static void test_ops_bucket(void **state)
{
	struct rate_limiter rl;
	struct rate_limiter_cfg c = ops_cfg(10, 1000, 0); /* 10 ops/s */

	init(&rl, &c);
	assert_false(rl_unlimited(&rl));
	for (int i = 0; i < 10; i++)
		assert_true(rl_consume(&rl, 1, 0));
	assert_false(rl_consume(&rl, 1, 0));
	assert_true(rl_blocked(&rl));
	assert_int_equal(rl.throttled_events, 1);
	/* One token comes back after 100 ms: that is when the timer fires. */
	assert_int_equal(rl_timer_remaining_ns(&rl), 100 * MS);
	/* While blocked even a tiny request is refused. */
	assert_false(rl_consume(&rl, 1, 0));
	assert_int_equal(rl.throttled_events, 2);
	/* A wake-up before the deadline does not unblock. */
	fake_now += 50 * MS;
	rl_timer_event(&rl);
	assert_true(rl_blocked(&rl));
	fake_now += 50 * MS;
	rl_timer_event(&rl);
	assert_false(rl_blocked(&rl));
	assert_true(rl_consume(&rl, 1, 0));
	assert_false(rl_consume(&rl, 1, 0));
	rl_destroy(&rl);
}

static void test_proportional_refill(void **state)
{
	struct rate_limiter rl;
	struct rate_limiter_cfg c = {0};

	c.bandwidth =
	    (struct token_bucket_cfg){.present = true, .size = 1000, .refill_time_ms = 1000};
	init(&rl, &c);
	assert_true(rl_consume(&rl, 0, 1000));
	fake_now += 500 * MS;
	assert_true(rl_consume(&rl, 0, 500));
	assert_false(rl_consume(&rl, 0, 1));
	rl_timer_event(&rl);
	assert_true(rl_blocked(&rl));
	/* Refill never goes beyond the bucket size. */
	fake_now += 100000 * MS;
	rl_timer_event(&rl);
	assert_false(rl_blocked(&rl));
	assert_true(rl_consume(&rl, 0, 1000));
	assert_false(rl_consume(&rl, 0, 1));
	rl_destroy(&rl);
}

static void test_fractional_refill(void **state)
{
	struct token_bucket tb;
	struct token_bucket_cfg c = {.present = true, .size = 1000, .refill_time_ms = 1000};

	/* 1 token per ms; half-ms steps must add up, not be lost. */
	tb_init(&tb, &c, 0);
	tb.budget = 0;
	for (int i = 1; i <= 20; i++)
		tb_refill(&tb, (uint64_t)i * MS / 2);
	assert_int_equal(tb.budget, 10);
	/* 1 token per 3 ms: 10 ms gives 3, the remainder is kept. */
	c = (struct token_bucket_cfg){.present = true, .size = 100, .refill_time_ms = 300};
	tb_init(&tb, &c, 0);
	tb.budget = 0;
	tb_refill(&tb, 10 * MS);
	assert_int_equal(tb.budget, 3);
	tb_refill(&tb, 12 * MS);
	assert_int_equal(tb.budget, 4);
}

static void test_one_time_burst(void **state)
{
	struct rate_limiter rl;
	struct rate_limiter_cfg c = ops_cfg(10, 1000, 5);

	init(&rl, &c);
	for (int i = 0; i < 15; i++)
		assert_true(rl_consume(&rl, 1, 0));
	assert_false(rl_consume(&rl, 1, 0));
	/* The burst is not refilled. */
	fake_now += 10000 * MS;
	rl_timer_event(&rl);
	for (int i = 0; i < 10; i++)
		assert_true(rl_consume(&rl, 1, 0));
	assert_false(rl_consume(&rl, 1, 0));
	rl_destroy(&rl);
}

static void test_both_or_neither(void **state)
{
	struct rate_limiter rl;
	struct rate_limiter_cfg c = ops_cfg(2, 1000, 0);

	c.bandwidth =
	    (struct token_bucket_cfg){.present = true, .size = 4096, .refill_time_ms = 1000};
	init(&rl, &c);
	assert_true(rl_consume(&rl, 1, 1024));
	assert_true(rl_consume(&rl, 1, 1024));
	/* Ops exhausted: the bandwidth bucket must not lose its 2048. */
	assert_false(rl_consume(&rl, 1, 1024));
	assert_int_equal(rl.bw.budget, 2048);
	fake_now += 500 * MS; /* +1 op, +2048 bytes */
	rl_timer_event(&rl);
	assert_false(rl_blocked(&rl));
	/* Now bytes are short: ops keeps its token. */
	assert_true(rl_consume(&rl, 0, 4096));
	assert_false(rl_consume(&rl, 1, 1));
	assert_int_equal(rl.ops.budget, 1);
	/* The wait is for the slower bucket: 1 byte at 4096 B/s. */
	assert_true(rl_timer_remaining_ns(&rl) > 0);
	assert_true(rl_timer_remaining_ns(&rl) <= 1000 * MS / 4096 + 1);
	rl_destroy(&rl);
}

static void test_over_consumption(void **state)
{
	struct rate_limiter rl;
	struct rate_limiter_cfg c = {0};

	c.bandwidth =
	    (struct token_bucket_cfg){.present = true, .size = 1000, .refill_time_ms = 100};
	init(&rl, &c);
	/* Bigger than the bucket can ever hold: allowed once, then a pause
	 * long enough to pay for the excess (4000 tokens = 400 ms). */
	assert_true(rl_consume(&rl, 0, 5000));
	assert_true(rl_blocked(&rl));
	assert_int_equal(rl.bw.budget, 0);
	assert_int_equal(rl_timer_remaining_ns(&rl), 400 * MS);
	assert_false(rl_consume(&rl, 0, 1));
	fake_now += 400 * MS;
	rl_timer_event(&rl);
	assert_false(rl_blocked(&rl));
	assert_true(rl_consume(&rl, 0, 1000));
	rl_destroy(&rl);
}

static void test_update(void **state)
{
	struct rate_limiter rl;
	struct rate_limiter_cfg c = ops_cfg(10, 1000, 0), u = {0};

	c.bandwidth = (struct token_bucket_cfg){.present = true, .size = 100, .refill_time_ms = 10};
	init(&rl, &c);
	/* Only the bandwidth bucket is replaced. */
	u.bandwidth = (struct token_bucket_cfg){.present = true, .size = 200, .refill_time_ms = 10};
	rl_update(&rl, &u);
	assert_int_equal(rl.bw.size, 200);
	assert_int_equal(rl.bw.budget, 200);
	assert_int_equal(rl.ops.size, 10);
	/* size 0 disables a bucket. */
	u = (struct rate_limiter_cfg){0};
	u.ops = (struct token_bucket_cfg){.present = true, .size = 0};
	rl_update(&rl, &u);
	assert_int_equal(rl.ops.size, 0);
	u.bandwidth = u.ops;
	rl_update(&rl, &u);
	assert_true(rl_unlimited(&rl));
	rl_destroy(&rl);
}

static void test_replenish(void **state)
{
	struct rate_limiter rl;
	struct rate_limiter_cfg c = ops_cfg(10, 1000, 0);

	init(&rl, &c);
	assert_true(rl_consume(&rl, 10, 0));
	rl_replenish(&rl, 3, 0);
	assert_int_equal(rl.ops.budget, 3);
	rl_replenish(&rl, 100, 0);
	assert_int_equal(rl.ops.budget, 10);
	rl_destroy(&rl);
}

static void test_no_overflow(void **state)
{
	struct token_bucket tb;
	struct token_bucket_cfg c = {.present = true, .size = 1ULL << 50, .refill_time_ms = 1};

	tb_init(&tb, &c, 0);
	tb.budget = 0;
	tb_refill(&tb, 1ULL << 62); /* elapsed * size would overflow 64 bits */
	assert_int_equal(tb.budget, 1ULL << 50);
	tb.budget = 0;
	assert_int_equal(tb_wait_ns(&tb, 1ULL << 50), 1 * MS);
	c = (struct token_bucket_cfg){.present = true, .size = 1, .refill_time_ms = ~0ULL / MS};
	tb_init(&tb, &c, 0);
	tb.budget = 0;
	assert_true(tb_wait_ns(&tb, ~0ULL) > 0);
}

static void test_real_timer(void **state)
{
	struct rate_limiter rl;
	struct rate_limiter_cfg c = ops_cfg(1, 20, 0);
	struct itimerspec its;
	struct pollfd p;

	assert_int_equal(rl_init(&rl, &c), 0);
	assert_true(rl_consume(&rl, 1, 0));
	assert_false(rl_consume(&rl, 1, 0));
	assert_int_equal(timerfd_gettime(rl_timer_fd(&rl), &its), 0);
	assert_true(its.it_value.tv_sec > 0 || its.it_value.tv_nsec > 0);
	assert_true(its.it_value.tv_sec == 0 && its.it_value.tv_nsec <= 20 * (long)MS);
	/* Wait on the real event (bounded), not a sleep. */
	p = (struct pollfd){.fd = rl_timer_fd(&rl), .events = POLLIN};
	assert_int_equal(poll(&p, 1, 5000), 1);
	rl_timer_event(&rl);
	assert_false(rl_blocked(&rl));
	assert_true(rl_consume(&rl, 1, 0));
	rl_destroy(&rl);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_unlimited),		cmocka_unit_test(test_ops_bucket),
	    cmocka_unit_test(test_proportional_refill), cmocka_unit_test(test_fractional_refill),
	    cmocka_unit_test(test_one_time_burst),	cmocka_unit_test(test_both_or_neither),
	    cmocka_unit_test(test_over_consumption),	cmocka_unit_test(test_update),
	    cmocka_unit_test(test_replenish),		cmocka_unit_test(test_no_overflow),
	    cmocka_unit_test(test_real_timer),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
