/* Token buckets (bandwidth + ops) with a timerfd to resume a throttled
 * queue. Semantics follow Firecracker's RateLimiter; see rate_limiter.h. */
#include "ember/rate_limiter.h"

#include <errno.h>
#include <string.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#include "ember/error.h"

#define NSEC_PER_MSEC 1000000ULL
/* ~35 years; keeps every product below 2^128 in the refill arithmetic. */
#define MAX_REFILL_MS (1ULL << 40)

uint64_t rl_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

static uint64_t monotonic_ns(void *opaque)
{
	(void)opaque;
	return rl_now_ns();
}

static uint64_t now_ns(const struct rate_limiter *rl)
{
	return rl->clock(rl->clock_opaque);
}

void tb_init(struct token_bucket *tb, const struct token_bucket_cfg *cfg, uint64_t now)
{
	memset(tb, 0, sizeof(*tb));
	if (!cfg || !cfg->present || cfg->size == 0 || cfg->refill_time_ms == 0)
		return;
	tb->size = cfg->size;
	tb->refill_time_ms =
	    cfg->refill_time_ms < MAX_REFILL_MS ? cfg->refill_time_ms : MAX_REFILL_MS;
	tb->one_time_burst = cfg->one_time_burst;
	tb->budget = cfg->size;
	tb->last_update_ns = now;
}

void tb_refill(struct token_bucket *tb, uint64_t now)
{
	unsigned __int128 refill_ns, tokens;
	uint64_t elapsed;

	if (tb->size == 0 || now <= tb->last_update_ns)
		return;
	if (tb->budget >= tb->size) {
		tb->last_update_ns = now;
		return;
	}
	refill_ns = (unsigned __int128)tb->refill_time_ms * NSEC_PER_MSEC;
	elapsed = now - tb->last_update_ns;
	tokens = (unsigned __int128)elapsed * tb->size / refill_ns;
	if (tokens == 0)
		return; /* keep the fraction accumulating */
	if (tokens >= tb->size - tb->budget) {
		tb->budget = tb->size;
		tb->last_update_ns = now;
	} else {
		tb->budget += (uint64_t)tokens;
		/* Advance by the time those whole tokens took; keep the rest. */
		tb->last_update_ns += (uint64_t)(tokens * refill_ns / tb->size);
	}
}

uint64_t tb_wait_ns(const struct token_bucket *tb, uint64_t tokens)
{
	unsigned __int128 ns;
	uint64_t have, need;

	if (tb->size == 0)
		return 0;
	have = tb->budget + tb->one_time_burst;
	if (have < tb->budget) /* overflow: plenty */
		return 0;
	if (tokens <= have)
		return 0;
	need = tokens - have;
	ns = ((unsigned __int128)need * tb->refill_time_ms * NSEC_PER_MSEC + tb->size - 1) /
	     tb->size;
	return ns > UINT64_MAX / 2 ? UINT64_MAX / 2 : (uint64_t)ns;
}

enum tb_verdict { TB_OK, TB_WAIT, TB_OVER };

static enum tb_verdict tb_check(const struct token_bucket *tb, uint64_t n, uint64_t *wait_ns);
static void tb_take(struct token_bucket *tb, uint64_t n);

bool tb_try_take(struct token_bucket *tb, uint64_t n, uint64_t now_ns)
{
	uint64_t wait_ns;

	tb_refill(tb, now_ns);
	if (tb_check(tb, n, &wait_ns) != TB_OK)
		return false;
	tb_take(tb, n);
	return true;
}

/* What taking n tokens would do; *wait_ns is how long to block. */
static enum tb_verdict tb_check(const struct token_bucket *tb, uint64_t n, uint64_t *wait_ns)
{
	uint64_t after_burst;

	*wait_ns = 0;
	if (tb->size == 0 || n == 0)
		return TB_OK;
	if (n <= tb->one_time_burst || n - tb->one_time_burst <= tb->budget)
		return TB_OK;
	after_burst = n - tb->one_time_burst;
	if (after_burst > tb->size) {
		/* Can never fit: let it through, block for the excess. */
		*wait_ns = tb_wait_ns(tb, n);
		return TB_OVER;
	}
	*wait_ns = tb_wait_ns(tb, n);
	return TB_WAIT;
}

static void tb_take(struct token_bucket *tb, uint64_t n)
{
	if (tb->size == 0 || n == 0)
		return;
	if (n <= tb->one_time_burst) {
		tb->one_time_burst -= n;
		return;
	}
	n -= tb->one_time_burst;
	tb->one_time_burst = 0;
	tb->budget = n >= tb->budget ? 0 : tb->budget - n;
}

static void arm(struct rate_limiter *rl, uint64_t wait_ns)
{
	struct itimerspec its = {0};

	if (wait_ns == 0)
		wait_ns = 1; /* a zero it_value would disarm */
	its.it_value.tv_sec = (time_t)(wait_ns / 1000000000ULL);
	its.it_value.tv_nsec = (long)(wait_ns % 1000000000ULL);
	rl->timer_active = true;
	rl->blocked_until_ns = now_ns(rl) + wait_ns;
	if (rl->timer_fd >= 0)
		timerfd_settime(rl->timer_fd, 0, &its, NULL);
}

int rl_init(struct rate_limiter *rl, const struct rate_limiter_cfg *cfg)
{
	memset(rl, 0, sizeof(*rl));
	rl->clock = monotonic_ns;
	rl->timer_fd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
	if (rl->timer_fd < 0)
		return err_set(errno, "rate limiter timerfd: %s", strerror(errno));
	if (cfg) {
		tb_init(&rl->bw, &cfg->bandwidth, now_ns(rl));
		tb_init(&rl->ops, &cfg->ops, now_ns(rl));
	}
	return 0;
}

void rl_destroy(struct rate_limiter *rl)
{
	if (rl->timer_fd >= 0)
		close(rl->timer_fd);
	rl->timer_fd = -1;
}

void rl_set_clock(struct rate_limiter *rl, rl_clock_fn fn, void *opaque)
{
	rl->clock = fn ? fn : monotonic_ns;
	rl->clock_opaque = opaque;
	rl->bw.last_update_ns = rl->ops.last_update_ns = now_ns(rl);
}

void rl_update(struct rate_limiter *rl, const struct rate_limiter_cfg *cfg)
{
	if (cfg->bandwidth.present)
		tb_init(&rl->bw, &cfg->bandwidth, now_ns(rl));
	if (cfg->ops.present)
		tb_init(&rl->ops, &cfg->ops, now_ns(rl));
}

bool rl_unlimited(const struct rate_limiter *rl)
{
	return rl->bw.size == 0 && rl->ops.size == 0;
}

bool rl_consume(struct rate_limiter *rl, uint64_t ops, uint64_t bytes)
{
	enum tb_verdict vb, vo;
	uint64_t wb, wo, now;

	if (rl_unlimited(rl))
		return true;
	if (rl->timer_active) {
		rl->throttled_events++;
		return false;
	}
	now = now_ns(rl);
	tb_refill(&rl->bw, now);
	tb_refill(&rl->ops, now);
	vb = tb_check(&rl->bw, bytes, &wb);
	vo = tb_check(&rl->ops, ops, &wo);
	if (vb == TB_WAIT || vo == TB_WAIT) {
		/* Wait for the slower bucket that refused; take nothing. */
		uint64_t w = vb == TB_WAIT ? wb : 0;

		if (vo == TB_WAIT && wo > w)
			w = wo;
		arm(rl, w);
		rl->throttled_events++;
		return false;
	}
	tb_take(&rl->bw, bytes);
	tb_take(&rl->ops, ops);
	if (vb == TB_OVER || vo == TB_OVER)
		arm(rl, wb > wo ? wb : wo);
	return true;
}

void rl_replenish(struct rate_limiter *rl, uint64_t ops, uint64_t bytes)
{
	if (rl->bw.size)
		rl->bw.budget =
		    bytes >= rl->bw.size - rl->bw.budget ? rl->bw.size : rl->bw.budget + bytes;
	if (rl->ops.size)
		rl->ops.budget =
		    ops >= rl->ops.size - rl->ops.budget ? rl->ops.size : rl->ops.budget + ops;
}

bool rl_blocked(const struct rate_limiter *rl)
{
	return rl->timer_active;
}

int rl_timer_fd(const struct rate_limiter *rl)
{
	return rl->timer_fd;
}

void rl_timer_event(struct rate_limiter *rl)
{
	uint64_t n;

	if (rl->timer_fd >= 0 && read(rl->timer_fd, &n, sizeof(n)) < 0 && errno == EAGAIN &&
	    rl->timer_active && now_ns(rl) < rl->blocked_until_ns)
		return; /* spurious wake-up, still armed */
	rl->timer_active = false;
}

uint64_t rl_timer_remaining_ns(const struct rate_limiter *rl)
{
	uint64_t now;

	if (!rl->timer_active)
		return 0;
	now = now_ns(rl);
	return rl->blocked_until_ns > now ? rl->blocked_until_ns - now : 0;
}
