/* Token-bucket rate limiter with Firecracker's RateLimiter semantics, shared
 * by the block and network devices.
 *
 * Two buckets: bandwidth (bytes) and ops (requests). Each has a size, a
 * refill time (the time to refill `size` tokens from empty, continuously) and
 * a one-time burst (extra initial tokens, used first, never refilled). A
 * bucket with size 0 or refill_time_ms 0 is absent (unlimited).
 *
 * rl_consume(rl, ops, bytes) takes the tokens from both buckets or from
 * neither. When it says no, the limiter is "blocked" and its timerfd is armed
 * for the moment enough tokens will be back; the device stops the queue, puts
 * the request back, and resumes when the timerfd fires (never busy-polls). A
 * single request bigger than a bucket's size is let through when it cannot
 * otherwise ever pass (Firecracker's over-consumption): it empties the bucket
 * and blocks the limiter for as long as the excess takes to refill.
 *
 * Not thread-safe: the owner (a device, under its lock) serializes calls. */
#ifndef EMBER_RATE_LIMITER_H
#define EMBER_RATE_LIMITER_H

#include <stdbool.h>
#include <stdint.h>

/* Configuration of one limiter (Firecracker's RateLimiter object). */
struct token_bucket_cfg {
	bool present;
	uint64_t size;           /* tokens (bytes or ops) */
	uint64_t one_time_burst; /* extra initial tokens */
	uint64_t refill_time_ms; /* time to refill `size` tokens */
};

struct rate_limiter_cfg {
	struct token_bucket_cfg bandwidth;
	struct token_bucket_cfg ops;
};

struct token_bucket {
	uint64_t size; /* 0: no bucket */
	uint64_t refill_time_ms;
	uint64_t one_time_burst; /* remaining */
	uint64_t budget;	 /* tokens available now (<= size) */
	uint64_t last_update_ns;
};

typedef uint64_t (*rl_clock_fn)(void *opaque); /* monotonic nanoseconds */

struct rate_limiter {
	struct token_bucket bw, ops;
	int timer_fd;		   /* timerfd (CLOCK_MONOTONIC, non-blocking) */
	bool timer_active;	   /* blocked until the timer fires */
	uint64_t blocked_until_ns; /* on the limiter's clock */
	rl_clock_fn clock;
	void *clock_opaque;
	/* Counters. */
	uint64_t throttled_events; /* consume() said no */
};

/* cfg may be NULL (unlimited). Creates the timerfd. */
int rl_init(struct rate_limiter *rl, const struct rate_limiter_cfg *cfg);
void rl_destroy(struct rate_limiter *rl);
/* Tests: replace the clock (default CLOCK_MONOTONIC) and reset the buckets'
 * last-update time to the new clock's now. */
void rl_set_clock(struct rate_limiter *rl, rl_clock_fn fn, void *opaque);
/* PATCH semantics: a bucket with `present` set is replaced (size 0 disables
 * it), an absent one is kept as it is. */
void rl_update(struct rate_limiter *rl, const struct rate_limiter_cfg *cfg);

/* True if neither bucket exists. */
bool rl_unlimited(const struct rate_limiter *rl);
/* Take `ops` tokens from the ops bucket and `bytes` from the bandwidth
 * bucket; true if allowed. false: nothing was taken, the limiter is blocked
 * and the timer armed. Always false while blocked. */
bool rl_consume(struct rate_limiter *rl, uint64_t ops, uint64_t bytes);
/* Give tokens back (a request that was allowed but not performed). */
void rl_replenish(struct rate_limiter *rl, uint64_t ops, uint64_t bytes);
/* Blocked: waiting for the timer (the owner should not process requests). */
bool rl_blocked(const struct rate_limiter *rl);
/* The timerfd to watch for EPOLLIN. */
int rl_timer_fd(const struct rate_limiter *rl);
/* Call when the timerfd is readable: reads it and unblocks. */
void rl_timer_event(struct rate_limiter *rl);
/* Nanoseconds until the armed timer fires per the limiter's own
 * computation (0 if not blocked) — for tests. */
uint64_t rl_timer_remaining_ns(const struct rate_limiter *rl);

/* Token-bucket primitives (exposed for unit tests). */
void tb_init(struct token_bucket *tb, const struct token_bucket_cfg *cfg, uint64_t now_ns);
void tb_refill(struct token_bucket *tb, uint64_t now_ns);
/* CLOCK_MONOTONIC in nanoseconds, the limiters' default clock. */
uint64_t rl_now_ns(void);
/* Take n tokens if they are there now (after a refill to now_ns); no
 * over-consumption, no timer: false means drop (the serial console). */
bool tb_try_take(struct token_bucket *tb, uint64_t n, uint64_t now_ns);
/* ns until `tokens` can be taken (0 if now). */
uint64_t tb_wait_ns(const struct token_bucket *tb, uint64_t tokens);

#endif
