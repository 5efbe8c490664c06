/* virtio-rng: the guest's entropy source (see virtio_rng.h). */
#include "ember/virtio_rng.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/random.h>

#include "ember/error.h"
#include "ember/log.h"
#include "ember/metrics.h"
#include "ember/util.h"

static struct virtio_rng *to_rng(struct virtio_dev *vd)
{
	return container_of(vd, struct virtio_rng, vdev);
}

/* Fill up to len bytes of the chain's writable part from the host RNG.
 * Returns the bytes written (short only if the host RNG failed). */
static uint32_t fill_random(struct virtio_rng *rng, const struct vq_chain *c, uint32_t len)
{
	uint32_t done = 0;

	for (unsigned i = c->nread; i < (unsigned)(c->nread + c->nwrite) && done < len; i++) {
		uint8_t *p = c->iov[i].iov_base;
		size_t want = MIN(c->iov[i].iov_len, (size_t)(len - done)), got = 0;

		while (got < want) {
			ssize_t n = getrandom(p + got, want - got, GRND_NONBLOCK);

			if (n < 0 && errno == EINTR)
				continue;
			if (n <= 0) {
				rng->stats.host_rng_fails++;
				return done + (uint32_t)got;
			}
			got += (size_t)n;
		}
		done += (uint32_t)got;
	}
	return done;
}

/* One chain: 0 when it went back to the driver, -EAGAIN if throttled (the
 * chain was not touched). */
static int handle_request(struct virtio_rng *rng, struct virtqueue *vq, const struct vq_chain *c)
{
	uint32_t len = MIN(c->write_len, (uint32_t)VIRTIO_RNG_MAX_REQ), done;

	if (len == 0) {
		/* Nothing the device may write: a driver bug, answered empty. */
		rng->stats.entropy_event_fails++;
		vq_push(vq, c->head, 0);
		return 0;
	}
	if (!rl_consume(&rng->rl, 1, len)) {
		rng->stats.entropy_rate_limiter_throttled++;
		return -EAGAIN;
	}
	done = fill_random(rng, c, len);
	if (done < len)
		rl_replenish(&rng->rl, 0, len - done);
	rng->stats.entropy_bytes += done;
	vq_push(vq, c->head, done);
	return 0;
}

static enum virtio_chain_verdict rng_chain(void *opaque, struct virtqueue *vq,
					   const struct vq_chain *c)
{
	return handle_request(opaque, vq, c) == -EAGAIN ? VIRTIO_CHAIN_THROTTLED
							: VIRTIO_CHAIN_USED;
}

static void rng_malformed(void *opaque, bool ring_broken)
{
	if (!ring_broken)
		((struct virtio_rng *)opaque)->stats.entropy_event_fails++;
}

static void process_queue(struct virtio_rng *rng)
{
	struct virtio_dev *vd = &rng->vdev;

	if (!virtio_dev_live(vd) || !vd->queues[0].active || rng->throttled)
		return;
	if (virtio_dev_drain(vd, 0, &rng->chain, rng_chain, rng_malformed, rng) == -EAGAIN)
		rng->throttled = true; /* resumed by the rate limiter's timer */
}

static void rng_queue_notify(struct virtio_dev *vd, unsigned q)
{
	struct virtio_rng *rng = to_rng(vd);

	rng->stats.entropy_event_count++;
	if (q == 0)
		process_queue(rng);
}

/* VMM thread: the rate limiter has tokens again. */
static void rl_timer_handler(void *opaque, int fd, uint32_t events)
{
	struct virtio_rng *rng = opaque;

	(void)fd;
	(void)events;
	pthread_mutex_lock(&rng->vdev.lock);
	rl_timer_event(&rng->rl);
	rng->stats.rate_limiter_event_count++;
	if (!rl_blocked(&rng->rl) && rng->throttled) {
		rng->throttled = false;
		process_queue(rng);
	}
	pthread_mutex_unlock(&rng->vdev.lock);
}

static int rng_activate(struct virtio_dev *vd)
{
	struct virtio_rng *rng = to_rng(vd);

	if (!vd->queues[0].active) {
		rng->stats.activate_fails++;
		log_warn("virtio-rng: driver did not set up the request queue");
		return -EINVAL;
	}
	return 0;
}

static void rng_reset(struct virtio_dev *vd)
{
	to_rng(vd)->throttled = false;
}

/* Firecracker's "entropy" group: the counters' deltas. */
static void rng_publish_metrics(struct virtio_dev *vd)
{
	struct virtio_rng *rng = to_rng(vd);
	struct virtio_rng_counters now, *old = &rng->published;

	virtio_rng_get_counters(rng, &now);
#define E(f) METRIC_ADD(metrics.entropy.f, now.f - old->f);
	METRICS_ENTROPY(E)
#undef E
	*old = now;
}

static void rng_destroy_op(struct virtio_dev *vd)
{
	virtio_rng_destroy(to_rng(vd));
}

/* Snapshot: requests complete synchronously; nothing of its own to keep. */
static int rng_save(struct virtio_dev *vd, void *blob, size_t *len)
{
	(void)vd;
	(void)blob;
	*len = 0;
	return 0;
}

static int rng_restore(struct virtio_dev *vd, const void *blob, size_t len)
{
	(void)vd;
	(void)blob;
	return len == 0 ? 0 : -EINVAL;
}

static const struct virtio_dev_ops rng_ops = {
    .name = "virtio-rng",
    .device_id = VIRTIO_ID_RNG,
    .num_queues = 1,
    .queue_max = VIRTIO_RNG_QUEUE_SIZE,
    .features = 0,
    .config_size = 0,
    .activate = rng_activate,
    .queue_notify = rng_queue_notify,
    .reset = rng_reset,
    .destroy = rng_destroy_op,
    .publish_metrics = rng_publish_metrics,
    .save = rng_save,
    .restore = rng_restore,
};

int virtio_rng_create(const struct rng_cfg *cfg, const struct guest_mem *gm, struct event_loop *el,
		      struct virtio_rng **out)
{
	struct virtio_rng *rng;
	int r;

	*out = NULL;
	rng = calloc(1, sizeof(*rng));
	if (!rng)
		return err_set(ENOMEM, "entropy: out of memory");
	rng->rl.timer_fd = -1;
	r = rl_init(&rng->rl, cfg ? &cfg->rate_limiter : NULL);
	if (r < 0)
		goto fail;
	r = virtio_dev_init(&rng->vdev, &rng_ops, gm, el, 0);
	if (r < 0)
		goto fail;
	if (el) {
		r = el_add(el, rl_timer_fd(&rng->rl), EPOLLIN, rl_timer_handler, rng);
		if (r < 0) {
			err_set(-r, "entropy: adding the rate limiter timer");
			goto fail;
		}
	}
	*out = rng;
	return 0;
fail:
	virtio_rng_destroy(rng);
	return r;
}

void virtio_rng_destroy(struct virtio_rng *rng)
{
	if (!rng)
		return;
	if (rng->vdev.el && rng->rl.timer_fd >= 0)
		el_remove(rng->vdev.el, rng->rl.timer_fd);
	virtio_dev_destroy(&rng->vdev);
	rl_destroy(&rng->rl);
	free(rng);
}

void virtio_rng_get_counters(struct virtio_rng *rng, struct virtio_rng_counters *out)
{
	pthread_mutex_lock(&rng->vdev.lock);
	*out = rng->stats;
	pthread_mutex_unlock(&rng->vdev.lock);
}
