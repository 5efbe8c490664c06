/* virtio-balloon: inflate/deflate, statistics with polling, free page
 * hinting and reporting. */
#include "ember/virtio_balloon.h"

#include <cjson/cJSON.h>
#include <endian.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include "ember/error.h"
#include "ember/log.h"
#include "ember/metrics.h"
#include "ember/util.h"

/* Linux additions to the statistics tags (newer than some uapi headers). */
#ifndef VIRTIO_BALLOON_S_OOM_KILL
#define VIRTIO_BALLOON_S_OOM_KILL 10
#define VIRTIO_BALLOON_S_ALLOC_STALL 11
#define VIRTIO_BALLOON_S_ASYNC_SCAN 12
#define VIRTIO_BALLOON_S_DIRECT_SCAN 13
#define VIRTIO_BALLOON_S_ASYNC_RECLAIM 14
#define VIRTIO_BALLOON_S_DIRECT_RECLAIM 15
#endif

_Static_assert(sizeof(struct virtio_balloon_stat) == VIRTIO_BALLOON_STAT_SIZE,
	       "packed virtio_balloon_stat");

#define Q_INFLATE 0
#define Q_DEFLATE 1
#define PFN_BATCH 256

/* Firecracker's BalloonStats names, by tag. */
static const char *const stat_names[VIRTIO_BALLOON_STATS_TAGS] = {
    [VIRTIO_BALLOON_S_SWAP_IN] = "swap_in",
    [VIRTIO_BALLOON_S_SWAP_OUT] = "swap_out",
    [VIRTIO_BALLOON_S_MAJFLT] = "major_faults",
    [VIRTIO_BALLOON_S_MINFLT] = "minor_faults",
    [VIRTIO_BALLOON_S_MEMFREE] = "free_memory",
    [VIRTIO_BALLOON_S_MEMTOT] = "total_memory",
    [VIRTIO_BALLOON_S_AVAIL] = "available_memory",
    [VIRTIO_BALLOON_S_CACHES] = "disk_caches",
    [VIRTIO_BALLOON_S_HTLB_PGALLOC] = "hugetlb_allocations",
    [VIRTIO_BALLOON_S_HTLB_PGFAIL] = "hugetlb_failures",
    [VIRTIO_BALLOON_S_OOM_KILL] = "oom_kill",
    [VIRTIO_BALLOON_S_ALLOC_STALL] = "alloc_stall",
    [VIRTIO_BALLOON_S_ASYNC_SCAN] = "async_scan",
    [VIRTIO_BALLOON_S_DIRECT_SCAN] = "direct_scan",
    [VIRTIO_BALLOON_S_ASYNC_RECLAIM] = "async_reclaim",
    [VIRTIO_BALLOON_S_DIRECT_RECLAIM] = "direct_reclaim",
};

static struct virtio_balloon *to_balloon(struct virtio_dev *vd)
{
	return container_of(vd, struct virtio_balloon, vdev);
}

/* ---- inflate / deflate ---- */

/* Release pfns [start, start+n) (all inside RAM); a run that crosses a
 * region boundary is released page by page. */
static void release_run(struct virtio_balloon *b, uint64_t start, uint64_t n)
{
	const struct guest_mem *gm = b->vdev.gm;

	if (n == 0 ||
	    gm_discard(gm, start << VIRTIO_BALLOON_PFN_SHIFT, n << VIRTIO_BALLOON_PFN_SHIFT) == 0)
		return;
	for (uint64_t i = 0; i < n; i++)
		if (gm_discard(gm, (start + i) << VIRTIO_BALLOON_PFN_SHIFT,
			       VIRTIO_BALLOON_PAGE_SIZE) < 0)
			b->cnt.discard_fails++;
}

/* One inflate or deflate buffer: an array of le32 PFNs, device-readable. */
static void handle_pfns(struct virtio_balloon *b, const struct vq_chain *c, bool inflate)
{
	const struct guest_mem *gm = b->vdev.gm;
	uint32_t pfns[PFN_BATCH];
	uint64_t run_start = 0, run_len = 0;
	size_t total, off = 0;

	if (inflate)
		b->cnt.inflate_count++;
	else
		b->cnt.deflate_count++;
	if (c->nwrite || c->read_len % sizeof(uint32_t)) {
		b->cnt.malformed_buffers++;
		return;
	}
	total = c->read_len / sizeof(uint32_t);
	while (off < total) {
		size_t n = MIN(total - off, (size_t)PFN_BATCH);

		vq_chain_read(c, off * sizeof(uint32_t), pfns, n * sizeof(uint32_t));
		for (size_t i = 0; i < n; i++) {
			uint64_t pfn = le32toh(pfns[i]);

			if (!gm_valid(gm, pfn << VIRTIO_BALLOON_PFN_SHIFT,
				      VIRTIO_BALLOON_PAGE_SIZE)) {
				b->cnt.invalid_pfns++;
				continue;
			}
			if (!inflate) {
				b->cnt.deflated_pages++;
				continue;
			}
			b->cnt.inflated_pages++;
			if (run_len && pfn == run_start + run_len) {
				run_len++;
				continue;
			}
			release_run(b, run_start, run_len);
			run_start = pfn;
			run_len = 1;
		}
		off += n;
	}
	release_run(b, run_start, run_len);
}

/* ---- statistics ---- */

/* Parse a stats buffer into b->stats: all of it or nothing. */
static void parse_stats(struct virtio_balloon *b, const struct vq_chain *c)
{
	uint8_t buf[VIRTIO_BALLOON_STATS_MAX_BYTES];
	uint32_t present = 0;
	uint64_t val[VIRTIO_BALLOON_STATS_TAGS];

	if (c->nwrite || c->read_len == 0 || c->read_len % VIRTIO_BALLOON_STAT_SIZE ||
	    c->read_len > sizeof(buf)) {
		b->cnt.stats_update_fails++;
		return;
	}
	vq_chain_read(c, 0, buf, c->read_len);
	memcpy(val, b->stats.val, sizeof(val));
	for (uint32_t off = 0; off < c->read_len; off += VIRTIO_BALLOON_STAT_SIZE) {
		struct virtio_balloon_stat s;

		memcpy(&s, buf + off, sizeof(s));
		uint16_t tag = le16toh(s.tag);
		if (tag >= VIRTIO_BALLOON_STATS_TAGS)
			continue; /* a newer driver's statistic we do not know */
		val[tag] = le64toh(s.val);
		present |= 1u << tag;
	}
	memcpy(b->stats.val, val, sizeof(val));
	b->stats.present |= present;
	b->cnt.stats_updates_count++;
}

/* Return the held stats buffer so the driver refills it. */
static void stats_poll(struct virtio_balloon *b)
{
	struct virtio_dev *vd = &b->vdev;

	if (!b->stats_held || !virtio_dev_live(vd) || b->q_stats < 0)
		return;
	b->stats_held = false;
	vq_push(&vd->queues[b->q_stats], b->stats_head, 0);
	b->cnt.stats_polls++;
	virtio_dev_notify(vd, (unsigned)b->q_stats);
}

static void handle_stats(struct virtio_balloon *b, const struct vq_chain *c)
{
	struct virtqueue *vq = &b->vdev.queues[b->q_stats];

	/* One buffer at a time; a second one means the driver lost track:
	 * give the older back. */
	if (b->stats_held) {
		b->cnt.event_fails++;
		vq_push(vq, b->stats_head, 0);
	}
	parse_stats(b, c);
	/* Even a malformed buffer is held until the next poll, so a broken
	 * driver cannot make us spin. */
	b->stats_head = c->head;
	b->stats_held = true;
}

/* VMM thread: the polling interval elapsed. */
static void stats_timer(void *opaque, int fd, uint32_t events)
{
	struct virtio_balloon *b = opaque;
	uint64_t expirations;

	(void)events;
	if (read(fd, &expirations, sizeof(expirations)) < 0)
		return;
	pthread_mutex_lock(&b->vdev.lock);
	stats_poll(b);
	pthread_mutex_unlock(&b->vdev.lock);
}

static int arm_timer(int fd, uint32_t interval_s)
{
	struct itimerspec its = {
	    .it_interval = {.tv_sec = interval_s},
	    .it_value = {.tv_sec = interval_s},
	};

	return timerfd_settime(fd, 0, &its, NULL) < 0 ? -errno : 0;
}

/* ---- free page reporting ---- */

/* Every buffer of the chain is a free range (Linux posts them
 * device-writable; either direction is accepted). */
static void handle_report(struct virtio_balloon *b, const struct vq_chain *c)
{
	unsigned n = (unsigned)c->nread + c->nwrite;

	b->cnt.free_page_report_count++;
	for (unsigned i = 0; i < n; i++) {
		const struct iovec *iov = &c->iov[i];

		if (iov->iov_len == 0)
			continue;
		if (gm_discard_host(b->vdev.gm, iov->iov_base, iov->iov_len) < 0)
			b->cnt.free_page_report_fails++;
		else
			b->cnt.free_page_report_freed += iov->iov_len;
	}
}

/* ---- free page hinting ---- */

static bool hint_run_id(uint32_t id)
{
	return id != VIRTIO_BALLOON_CMD_ID_STOP && id != VIRTIO_BALLOON_CMD_ID_DONE;
}

/* The host's id changed: tell the driver. */
static void hint_set_host_cmd(struct virtio_balloon *b, uint32_t id)
{
	b->hint_host_cmd = id;
	virtio_dev_config_changed(&b->vdev);
}

/* Release the whole 4 KiB pages inside one hinted range. */
static void hint_release(struct virtio_balloon *b, const struct iovec *iov)
{
	uintptr_t s = ((uintptr_t)iov->iov_base + VIRTIO_BALLOON_PAGE_SIZE - 1) &
		      ~(uintptr_t)(VIRTIO_BALLOON_PAGE_SIZE - 1);
	uintptr_t e =
	    ((uintptr_t)iov->iov_base + iov->iov_len) & ~(uintptr_t)(VIRTIO_BALLOON_PAGE_SIZE - 1);

	if (e <= s)
		return;
	if (gm_discard_host(b->vdev.gm, (void *)s, e - s) < 0)
		b->cnt.free_page_hint_fails++;
	else
		b->cnt.free_page_hint_freed += e - s;
}

/* A driver command (one device-readable le32, nothing writable) or a hint
 * (device-writable ranges only). Anything else is malformed. */
static void handle_hint(struct virtio_balloon *b, const struct vq_chain *c)
{
	bool live = b->hint_guest_seen && hint_run_id(b->hint_host_cmd) &&
		    b->hint_guest_cmd == b->hint_host_cmd;

	if (c->nread && (c->nwrite || c->read_len != sizeof(uint32_t))) {
		b->cnt.malformed_buffers++;
		return;
	}
	if (c->nread) {
		uint32_t id;

		vq_chain_read(c, 0, &id, sizeof(id));
		id = le32toh(id);
		b->cnt.free_page_hint_cmds++;
		b->hint_guest_cmd = id;
		b->hint_guest_seen = true;
		/* The driver finished the host's current run (a STOP, or a DONE
		 * it should not send): acknowledge if asked to. */
		if (!hint_run_id(id) && live && b->hint_ack_on_stop)
			hint_set_host_cmd(b, VIRTIO_BALLOON_CMD_ID_DONE);
		return;
	}
	if (!live) {
		b->cnt.free_page_hint_ignored++;
		return;
	}
	b->cnt.free_page_hint_count++;
	for (unsigned i = 0; i < c->nwrite; i++)
		hint_release(b, &c->iov[c->nread + i]);
}

/* ---- queues ---- */

static enum virtio_chain_verdict balloon_chain(void *opaque, struct virtqueue *vq,
					       const struct vq_chain *c)
{
	struct virtio_balloon *b = opaque;
	unsigned q = (unsigned)(vq - b->vdev.queues);

	if (q == Q_INFLATE || q == Q_DEFLATE) {
		handle_pfns(b, c, q == Q_INFLATE);
	} else if ((int)q == b->q_stats) {
		handle_stats(b, c);
		return VIRTIO_CHAIN_HELD; /* returned when the statistics are due */
	} else if ((int)q == b->q_hint) {
		handle_hint(b, c);
	} else {
		handle_report(b, c);
	}
	vq_push(vq, c->head, 0);
	return VIRTIO_CHAIN_USED;
}

static void balloon_malformed(void *opaque, bool ring_broken)
{
	(void)ring_broken;
	((struct virtio_balloon *)opaque)->cnt.event_fails++;
}

static void process_queue(struct virtio_balloon *b, unsigned q)
{
	virtio_dev_drain(&b->vdev, q, &b->chain, balloon_chain, balloon_malformed, b);
}

static void balloon_queue_notify(struct virtio_dev *vd, unsigned q)
{
	struct virtio_balloon *b = to_balloon(vd);

	if (q == Q_INFLATE || q == Q_DEFLATE || (int)q == b->q_stats || (int)q == b->q_hint ||
	    (int)q == b->q_report)
		process_queue(b, q);
}

/* ---- config space ---- */

static void balloon_config_read(struct virtio_dev *vd, uint32_t off, void *data, uint32_t len)
{
	struct virtio_balloon *b = to_balloon(vd);
	struct virtio_balloon_config cfg = {0};

	cfg.num_pages = htole32(b->num_pages);
	cfg.actual = htole32(b->actual);
	cfg.free_page_hint_cmd_id = htole32(b->hint_host_cmd);
	memcpy(data, (uint8_t *)&cfg + off, len);
}

/* Only `actual` is the driver's; partial writes update its bytes. */
static void balloon_config_write(struct virtio_dev *vd, uint32_t off, const void *data,
				 uint32_t len)
{
	struct virtio_balloon *b = to_balloon(vd);
	const uint32_t lo = offsetof(struct virtio_balloon_config, actual), hi = lo + 4;
	uint32_t actual = htole32(b->actual);
	uint32_t s = MAX(off, lo), e = MIN(off + len, hi);

	if (s >= e)
		return;
	memcpy((uint8_t *)&actual + (s - lo), (const uint8_t *)data + (s - off), e - s);
	b->actual = le32toh(actual);
}

static int balloon_activate(struct virtio_dev *vd)
{
	struct virtio_balloon *b = to_balloon(vd);
	int next = 2;

	b->q_stats = b->q_hint = b->q_report = -1;
	if (virtio_dev_has_feature(vd, VIRTIO_BALLOON_F_STATS_VQ))
		b->q_stats = next++;
	if (virtio_dev_has_feature(vd, VIRTIO_BALLOON_F_FREE_PAGE_HINT))
		b->q_hint = next++;
	if (virtio_dev_has_feature(vd, VIRTIO_BALLOON_F_REPORTING))
		b->q_report = next++;
	if (!vd->queues[Q_INFLATE].active || !vd->queues[Q_DEFLATE].active ||
	    (b->q_stats >= 0 && !vd->queues[b->q_stats].active) ||
	    (b->q_hint >= 0 && !vd->queues[b->q_hint].active) ||
	    (b->q_report >= 0 && !vd->queues[b->q_report].active)) {
		b->cnt.activate_fails++;
		log_warn("virtio-balloon: driver did not set up every negotiated queue");
		b->q_stats = b->q_hint = b->q_report = -1;
		return -EINVAL;
	}
	return 0;
}

static void balloon_reset(struct virtio_dev *vd)
{
	struct virtio_balloon *b = to_balloon(vd);

	/* The queues go away: forget the held stats buffer; the balloon the
	 * guest held is gone too (a fresh driver starts empty). */
	b->stats_held = false;
	b->q_stats = b->q_hint = b->q_report = -1;
	b->actual = 0;
	/* A fresh driver holds no hinted pages and has seen no run. */
	b->hint_host_cmd = VIRTIO_BALLOON_CMD_ID_STOP;
	b->hint_guest_seen = false;
	b->hint_guest_cmd = 0;
}

/* Firecracker's "balloon" group: the counters' deltas. */
static void balloon_publish_metrics(struct virtio_dev *vd)
{
	struct virtio_balloon *b = to_balloon(vd);
	struct virtio_balloon_counters now, *old = &b->published;

	virtio_balloon_get_counters(b, &now);
#define B(f) METRIC_ADD(metrics.balloon.f, now.f - old->f);
	METRICS_BALLOON(B)
#undef B
	*old = now;
}

static void balloon_destroy_op(struct virtio_dev *vd)
{
	virtio_balloon_destroy(to_balloon(vd));
}

/* Snapshot: the driver's `actual`, the target, the held statistics buffer
 * and the last statistics. */
struct balloon_snap {
	uint32_t num_pages, actual;
	uint8_t stats_held, pad;
	uint16_t stats_head;
	uint32_t hint_last_id; /* 0 in snapshots older than hinting */
	struct virtio_balloon_stats stats;
};

static int balloon_save(struct virtio_dev *vd, void *blob, size_t *len)
{
	struct virtio_balloon *b = to_balloon(vd);
	struct balloon_snap s;

	if (*len < sizeof(s))
		return -ENOSPC;
	memset(&s, 0, sizeof(s));
	s.num_pages = b->num_pages;
	s.actual = b->actual;
	s.stats_held = b->stats_held;
	s.stats_head = b->stats_head;
	s.stats = b->stats;
	s.hint_last_id = b->hint_last_id;
	memcpy(blob, &s, sizeof(s));
	*len = sizeof(s);
	return 0;
}

static int balloon_restore(struct virtio_dev *vd, const void *blob, size_t len)
{
	struct virtio_balloon *b = to_balloon(vd);
	struct balloon_snap s;

	if (len != sizeof(s))
		return -EINVAL;
	memcpy(&s, blob, sizeof(s));
	if (s.stats_held && (!b->stats_interval_s || s.stats_head >= VIRTIO_BALLOON_QUEUE_SIZE))
		return -EINVAL;
	b->num_pages = s.num_pages;
	b->actual = s.actual;
	b->stats_held = s.stats_held != 0;
	b->stats_head = s.stats_head;
	b->stats = s.stats;
	/* As Firecracker: a restored device says DONE, so a driver that held
	 * hinted pages at snapshot time frees them at its next config read;
	 * later runs take ids the driver has not seen. */
	b->hint_last_id = s.hint_last_id;
	b->hint_host_cmd = b->hinting ? VIRTIO_BALLOON_CMD_ID_DONE : VIRTIO_BALLOON_CMD_ID_STOP;
	b->hint_guest_seen = false;
	return 0;
}

static const struct virtio_dev_ops balloon_ops_template = {
    .name = "virtio-balloon",
    .device_id = VIRTIO_ID_BALLOON,
    .queue_max = VIRTIO_BALLOON_QUEUE_SIZE,
    .config_size = sizeof(struct virtio_balloon_config),
    .config_read = balloon_config_read,
    .config_write = balloon_config_write,
    .activate = balloon_activate,
    .queue_notify = balloon_queue_notify,
    .reset = balloon_reset,
    .destroy = balloon_destroy_op,
    .publish_metrics = balloon_publish_metrics,
    .save = balloon_save,
    .restore = balloon_restore,
};

/* ---- public ---- */

static uint32_t mib_to_pages(uint32_t mib)
{
	uint64_t pages = (uint64_t)mib * VIRTIO_BALLOON_PAGES_PER_MIB;

	return pages > UINT32_MAX ? UINT32_MAX : (uint32_t)pages;
}

static int check_amount(const struct guest_mem *gm, uint32_t amount_mib)
{
	if ((uint64_t)amount_mib << 20 > gm->total)
		return err_set(EINVAL,
			       "balloon: amount_mib (%u) is larger than the guest memory "
			       "(%llu MiB)",
			       amount_mib, (unsigned long long)(gm->total >> 20));
	return 0;
}

int virtio_balloon_create(const struct balloon_cfg *cfg, const struct guest_mem *gm,
			  struct event_loop *el, struct virtio_balloon **out)
{
	struct virtio_balloon *b;
	int r;

	*out = NULL;
	if ((r = check_amount(gm, cfg->amount_mib)) < 0)
		return r;
	b = calloc(1, sizeof(*b));
	if (!b)
		return err_set(ENOMEM, "balloon: out of memory");
	b->timer_fd = -1;
	b->q_stats = b->q_hint = b->q_report = -1;
	b->deflate_on_oom = cfg->deflate_on_oom;
	b->reporting = cfg->free_page_reporting;
	b->hinting = cfg->free_page_hinting;
	b->hint_host_cmd = VIRTIO_BALLOON_CMD_ID_STOP;
	b->hint_last_id = VIRTIO_BALLOON_CMD_ID_DONE;
	b->stats_interval_s = cfg->stats_polling_interval_s;
	b->num_pages = mib_to_pages(cfg->amount_mib);

	b->ops = balloon_ops_template;
	b->ops.num_queues =
	    2 + (b->stats_interval_s ? 1 : 0) + (b->hinting ? 1 : 0) + (b->reporting ? 1 : 0);
	if (b->deflate_on_oom)
		b->ops.features |= VIRTIO_FEATURE(VIRTIO_BALLOON_F_DEFLATE_ON_OOM);
	if (b->stats_interval_s)
		b->ops.features |= VIRTIO_FEATURE(VIRTIO_BALLOON_F_STATS_VQ);
	if (b->hinting)
		b->ops.features |= VIRTIO_FEATURE(VIRTIO_BALLOON_F_FREE_PAGE_HINT);
	if (b->reporting)
		b->ops.features |= VIRTIO_FEATURE(VIRTIO_BALLOON_F_REPORTING);

	if (b->stats_interval_s) {
		b->timer_fd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
		if (b->timer_fd < 0) {
			r = err_set(errno, "balloon: timerfd: %s", strerror(errno));
			goto fail;
		}
		if ((r = arm_timer(b->timer_fd, b->stats_interval_s)) < 0) {
			err_set(-r, "balloon: arming the statistics timer: %s", strerror(-r));
			goto fail;
		}
	}
	r = virtio_dev_init(&b->vdev, &b->ops, gm, el, 0);
	if (r < 0)
		goto fail;
	if (el && b->timer_fd >= 0) {
		r = el_add(el, b->timer_fd, EPOLLIN, stats_timer, b);
		if (r < 0) {
			err_set(-r, "balloon: adding the statistics timer");
			goto fail;
		}
	}
	*out = b;
	return 0;
fail:
	virtio_balloon_destroy(b);
	return r;
}

void virtio_balloon_destroy(struct virtio_balloon *b)
{
	if (!b)
		return;
	if (b->vdev.ops && b->vdev.el && b->timer_fd >= 0)
		el_remove(b->vdev.el, b->timer_fd);
	virtio_dev_destroy(&b->vdev);
	if (b->timer_fd >= 0)
		close(b->timer_fd);
	free(b);
}

int virtio_balloon_set_target(struct virtio_balloon *b, uint32_t amount_mib)
{
	int r = check_amount(b->vdev.gm, amount_mib);

	if (r < 0)
		return r;
	pthread_mutex_lock(&b->vdev.lock);
	if (b->num_pages != mib_to_pages(amount_mib)) {
		b->num_pages = mib_to_pages(amount_mib);
		b->cnt.target_updates++;
		virtio_dev_config_changed(&b->vdev);
	}
	pthread_mutex_unlock(&b->vdev.lock);
	return 0;
}

int virtio_balloon_set_stats_interval(struct virtio_balloon *b, uint32_t interval_s)
{
	int r = 0;

	pthread_mutex_lock(&b->vdev.lock);
	if (!b->stats_interval_s || !interval_s) {
		r = err_set(EINVAL, "balloon: statistics cannot be turned on or off after boot");
	} else if (interval_s != b->stats_interval_s) {
		r = arm_timer(b->timer_fd, interval_s);
		if (r < 0)
			err_set(-r, "balloon: re-arming the statistics timer: %s", strerror(-r));
		else
			b->stats_interval_s = interval_s;
	}
	pthread_mutex_unlock(&b->vdev.lock);
	return r;
}

void virtio_balloon_get_stats(struct virtio_balloon *b, struct virtio_balloon_stats *out)
{
	pthread_mutex_lock(&b->vdev.lock);
	*out = b->stats;
	out->target_pages = b->num_pages;
	out->actual_pages = b->actual;
	out->target_mib = b->num_pages / VIRTIO_BALLOON_PAGES_PER_MIB;
	out->actual_mib = b->actual / VIRTIO_BALLOON_PAGES_PER_MIB;
	pthread_mutex_unlock(&b->vdev.lock);
}

/* u64 values exactly (a cJSON number is a double). */
static bool add_u64(cJSON *o, const char *name, uint64_t v)
{
	char num[24];

	snprintf(num, sizeof(num), "%llu", (unsigned long long)v);
	return cJSON_AddRawToObject(o, name, num) != NULL;
}

int virtio_balloon_stats_json(struct virtio_balloon *b, char **json_out)
{
	struct virtio_balloon_stats s;
	cJSON *o = cJSON_CreateObject();
	bool ok = o != NULL;

	*json_out = NULL;
	virtio_balloon_get_stats(b, &s);
	ok = ok && add_u64(o, "target_pages", s.target_pages);
	ok = ok && add_u64(o, "actual_pages", s.actual_pages);
	ok = ok && add_u64(o, "target_mib", s.target_mib);
	ok = ok && add_u64(o, "actual_mib", s.actual_mib);
	for (unsigned t = 0; ok && t < VIRTIO_BALLOON_STATS_TAGS; t++)
		if (s.present & (1u << t))
			ok = add_u64(o, stat_names[t], s.val[t]);
	if (ok)
		*json_out = cJSON_PrintUnformatted(o);
	cJSON_Delete(o);
	if (!*json_out)
		return err_set(ENOMEM, "balloon: out of memory");
	return 0;
}

static int hint_check(const struct virtio_balloon *b)
{
	if (!b->hinting)
		return err_set(EINVAL, "balloon: free page hinting was not enabled when the "
				       "device was configured");
	return 0;
}

/* Handle what the driver already posted on the hinting queue (its hints
 * belong to the run they were posted in). Lock held. */
static void hint_drain(struct virtio_balloon *b)
{
	if (b->q_hint >= 0 && virtio_dev_live(&b->vdev))
		process_queue(b, (unsigned)b->q_hint);
}

int virtio_balloon_hint_start(struct virtio_balloon *b, bool ack_on_stop)
{
	uint32_t id;
	int r = hint_check(b);

	if (r < 0)
		return r;
	pthread_mutex_lock(&b->vdev.lock);
	hint_drain(b);
	id = b->hint_last_id + 1;
	while (!hint_run_id(id))
		id++; /* after a wrap: 0 and 1 are STOP and DONE */
	b->hint_last_id = id;
	b->hint_ack_on_stop = ack_on_stop;
	hint_set_host_cmd(b, id);
	pthread_mutex_unlock(&b->vdev.lock);
	return 0;
}

int virtio_balloon_hint_stop(struct virtio_balloon *b)
{
	int r = hint_check(b);

	if (r < 0)
		return r;
	pthread_mutex_lock(&b->vdev.lock);
	hint_drain(b);
	hint_set_host_cmd(b, VIRTIO_BALLOON_CMD_ID_DONE);
	pthread_mutex_unlock(&b->vdev.lock);
	return 0;
}

int virtio_balloon_hint_status(struct virtio_balloon *b, uint32_t *host_cmd, uint32_t *guest_cmd,
			       bool *guest_seen)
{
	int r = hint_check(b);

	if (r < 0)
		return r;
	pthread_mutex_lock(&b->vdev.lock);
	*host_cmd = b->hint_host_cmd;
	*guest_cmd = b->hint_guest_cmd;
	*guest_seen = b->hint_guest_seen;
	pthread_mutex_unlock(&b->vdev.lock);
	return 0;
}

int virtio_balloon_hint_status_json(struct virtio_balloon *b, char **json_out)
{
	uint32_t host, guest;
	bool seen;
	cJSON *o;
	int r;

	*json_out = NULL;
	if ((r = virtio_balloon_hint_status(b, &host, &guest, &seen)) < 0)
		return r;
	o = cJSON_CreateObject();
	if (o && add_u64(o, "host_cmd", host) && (!seen || add_u64(o, "guest_cmd", guest)))
		*json_out = cJSON_PrintUnformatted(o);
	cJSON_Delete(o);
	if (!*json_out)
		return err_set(ENOMEM, "balloon: out of memory");
	return 0;
}

void virtio_balloon_get_counters(struct virtio_balloon *b, struct virtio_balloon_counters *out)
{
	pthread_mutex_lock(&b->vdev.lock);
	*out = b->cnt;
	pthread_mutex_unlock(&b->vdev.lock);
}
