/* virtio-pmem: a host file in guest physical memory (see virtio_pmem.h). */
#include "ember/virtio_pmem.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <endian.h>
#include <unistd.h>

#include <linux/virtio_pmem.h>

#include "ember/error.h"
#include "ember/log.h"
#include "ember/metrics.h"

#define PMEM_ALIGN (2ULL << 20)
#define PMEM_MAX_SIZE (1ULL << 46) /* 64 TiB: far above any guest's address space use */

static struct virtio_pmem *to_pmem(struct virtio_dev *vd)
{
	return container_of(vd, struct virtio_pmem, vdev);
}

uint64_t virtio_pmem_map_size(uint64_t file_size)
{
	return ALIGN_UP(file_size, PMEM_ALIGN);
}

/* One request: a 4-byte type the driver wrote, a 4-byte answer for it. */
static enum virtio_chain_verdict pmem_chain(void *opaque, struct virtqueue *vq,
					    const struct vq_chain *c)
{
	struct virtio_pmem *pm = opaque;
	struct virtio_pmem_req req;
	struct virtio_pmem_resp resp = {0};

	if (c->read_len < sizeof(req) || c->write_len < sizeof(resp)) {
		pm->stats.event_fails++;
		vq_push(vq, c->head, 0);
		return VIRTIO_CHAIN_USED;
	}
	if (!rl_consume(&pm->rl, 1, 0)) {
		pm->stats.rate_limiter_throttled++;
		return VIRTIO_CHAIN_THROTTLED;
	}
	vq_chain_read(c, 0, &req, sizeof(req));
	if (le32toh(req.type) != VIRTIO_PMEM_REQ_TYPE_FLUSH) {
		pm->stats.event_fails++;
		resp.ret = htole32(1);
	} else if (!pm->read_only && fdatasync(pm->fd) < 0) {
		log_warn("virtio-pmem: fdatasync: %s", strerror(errno));
		resp.ret = htole32(1);
	}
	if (resp.ret)
		pm->stats.flush_fails++;
	else
		pm->stats.flush_count++;
	vq_chain_write(c, 0, &resp, sizeof(resp));
	vq_push(vq, c->head, sizeof(resp));
	return VIRTIO_CHAIN_USED;
}

static void pmem_malformed(void *opaque, bool ring_broken)
{
	if (!ring_broken)
		((struct virtio_pmem *)opaque)->stats.event_fails++;
}

static void process_queue(struct virtio_pmem *pm)
{
	struct virtio_dev *vd = &pm->vdev;

	if (!virtio_dev_live(vd) || !vd->queues[0].active || pm->throttled)
		return;
	if (virtio_dev_drain(vd, 0, &pm->chain, pmem_chain, pmem_malformed, pm) == -EAGAIN)
		pm->throttled = true; /* resumed by the rate limiter's timer */
}

static void pmem_queue_notify(struct virtio_dev *vd, unsigned q)
{
	struct virtio_pmem *pm = to_pmem(vd);

	pm->stats.queue_event_count++;
	if (q == 0)
		process_queue(pm);
}

static void rl_timer_handler(void *opaque, int fd, uint32_t events)
{
	struct virtio_pmem *pm = opaque;

	(void)fd;
	(void)events;
	pthread_mutex_lock(&pm->vdev.lock);
	rl_timer_event(&pm->rl);
	pm->stats.rate_limiter_event_count++;
	if (!rl_blocked(&pm->rl) && pm->throttled) {
		pm->throttled = false;
		process_queue(pm);
	}
	pthread_mutex_unlock(&pm->vdev.lock);
}

static void pmem_config_read(struct virtio_dev *vd, uint32_t off, void *data, uint32_t len)
{
	struct virtio_pmem *pm = to_pmem(vd);
	struct virtio_pmem_config cfg = {.start = htole64(pm->gpa), .size = htole64(pm->size)};

	memcpy(data, (uint8_t *)&cfg + off, len); /* off + len checked by the transport */
}

static void pmem_config_write(struct virtio_dev *vd, uint32_t off, const void *data, uint32_t len)
{
	(void)off;
	(void)data;
	(void)len;
	to_pmem(vd)->stats.cfg_fails++; /* read-only fields: ignored */
}

static int pmem_activate(struct virtio_dev *vd)
{
	struct virtio_pmem *pm = to_pmem(vd);

	if (!vd->queues[0].active) {
		pm->stats.activate_fails++;
		log_warn("virtio-pmem: driver did not set up the request queue");
		return -EINVAL;
	}
	return 0;
}

static void pmem_reset(struct virtio_dev *vd)
{
	to_pmem(vd)->throttled = false;
}

/* Firecracker's "pmem_<id>" group (summed into "pmem"): the deltas. */
static void pmem_publish_metrics(struct virtio_dev *vd)
{
	struct virtio_pmem *pm = to_pmem(vd);
	struct virtio_pmem_counters now, *old = &pm->published;
	struct metrics_pmem *m = metrics_pmem_get(pm->id);

	if (!m)
		return;
	virtio_pmem_get_counters(pm, &now);
#define P(f) METRIC_ADD(m->f, now.f - old->f);
	METRICS_PMEM(P)
#undef P
	*old = now;
}

static void pmem_destroy_op(struct virtio_dev *vd)
{
	virtio_pmem_destroy(to_pmem(vd));
}

/* Snapshots: flushes complete synchronously, so the device's own state is
 * where its memory is and how big; the memory itself is the file, written
 * back here (a restore maps the same file again). A restore into a device
 * whose file has another size or place is refused. */
struct pmem_snap {
	uint64_t gpa, file_size, size;
};

static int pmem_save(struct virtio_dev *vd, void *blob, size_t *len)
{
	struct virtio_pmem *pm = to_pmem(vd);
	struct pmem_snap st = {.gpa = pm->gpa, .file_size = pm->file_size, .size = pm->size};

	if (*len < sizeof(st))
		return -ENOSPC;
	if (!pm->read_only &&
	    fdatasync(pm->fd) < 0) /* as a FLUSH: the shared mapping's pages too */
		return -errno;
	memcpy(blob, &st, sizeof(st));
	*len = sizeof(st);
	return 0;
}

static int pmem_restore(struct virtio_dev *vd, const void *blob, size_t len)
{
	struct virtio_pmem *pm = to_pmem(vd);
	struct pmem_snap st;

	if (len != sizeof(st))
		return -EINVAL;
	memcpy(&st, blob, sizeof(st));
	if (st.gpa != pm->gpa || st.file_size != pm->file_size || st.size != pm->size) {
		log_error(
		    "pmem %s: the file is %llu bytes at %#llx, the snapshot's was %llu at %#llx",
		    pm->id, (unsigned long long)pm->file_size, (unsigned long long)pm->gpa,
		    (unsigned long long)st.file_size, (unsigned long long)st.gpa);
		return -EINVAL;
	}
	return 0;
}

static const struct virtio_dev_ops pmem_ops = {
    .name = "virtio-pmem",
    .device_id = VIRTIO_ID_PMEM,
    .num_queues = 1,
    .queue_max = VIRTIO_PMEM_QUEUE_SIZE,
    .features = 0,
    .config_size = sizeof(struct virtio_pmem_config),
    .config_read = pmem_config_read,
    .config_write = pmem_config_write,
    .activate = pmem_activate,
    .queue_notify = pmem_queue_notify,
    .reset = pmem_reset,
    .destroy = pmem_destroy_op,
    .publish_metrics = pmem_publish_metrics,
    .save = pmem_save,
    .restore = pmem_restore,
};

/* The file's pages, then private anonymous memory up to the 2 MiB
 * boundary: one reservation, the file mapped over its start. */
static int map_file(struct virtio_pmem *pm, const char *path)
{
	int prot = pm->read_only ? PROT_READ : PROT_READ | PROT_WRITE;
	uint64_t file_pages = ALIGN_UP(pm->file_size, 4096ULL);
	void *p, *f;

	p = mmap(NULL, pm->size, prot, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (p == MAP_FAILED)
		return err_set(errno, "pmem %s: reserving %llu MiB: %s", path,
			       (unsigned long long)(pm->size >> 20), strerror(errno));
	f = mmap(p, file_pages, prot, MAP_SHARED | MAP_FIXED | MAP_NORESERVE, pm->fd, 0);
	if (f == MAP_FAILED) {
		int e = errno;
		munmap(p, pm->size);
		return err_set(e, "pmem %s: mapping the file: %s", path, strerror(e));
	}
	pm->hva = p;
	return 0;
}

int virtio_pmem_create(const struct pmem_cfg *cfg, uint64_t gpa, const struct guest_mem *gm,
		       struct event_loop *el, struct virtio_pmem **out)
{
	struct virtio_pmem *pm;
	struct stat st;
	int r;

	*out = NULL;
	if (!cfg->path)
		return err_set(EINVAL, "pmem %s: no path_on_host", cfg->id);
	if (gpa % PMEM_ALIGN)
		return err_set(EINVAL, "pmem %s: guest address %#llx is not 2 MiB aligned", cfg->id,
			       (unsigned long long)gpa);
	pm = calloc(1, sizeof(*pm));
	if (!pm)
		return err_set(ENOMEM, "pmem: out of memory");
	pm->fd = -1;
	pm->rl.timer_fd = -1;
	pm->read_only = cfg->read_only;
	snprintf(pm->id, sizeof(pm->id), "%s", cfg->id);
	pm->gpa = gpa;
	pm->fd = open(cfg->path, (cfg->read_only ? O_RDONLY : O_RDWR) | O_CLOEXEC);
	if (pm->fd < 0) {
		r = err_set(errno, "pmem %s: %s: %s", cfg->id, cfg->path, strerror(errno));
		goto fail;
	}
	if (fstat(pm->fd, &st) < 0 || !S_ISREG(st.st_mode) || st.st_size <= 0 ||
	    (uint64_t)st.st_size > PMEM_MAX_SIZE) {
		r = err_set(EINVAL, "pmem %s: %s: not a regular file of 1 byte to 64 TiB", cfg->id,
			    cfg->path);
		goto fail;
	}
	pm->file_size = (uint64_t)st.st_size;
	pm->size = virtio_pmem_map_size(pm->file_size);
	if ((r = map_file(pm, cfg->path)) < 0)
		goto fail;
	if ((r = rl_init(&pm->rl, &cfg->rate_limiter)) < 0)
		goto fail;
	if ((r = virtio_dev_init(&pm->vdev, &pmem_ops, gm, el, 0)) < 0)
		goto fail;
	if (el && (r = el_add(el, rl_timer_fd(&pm->rl), EPOLLIN, rl_timer_handler, pm)) < 0) {
		err_set(-r, "pmem: adding the rate limiter timer");
		goto fail;
	}
	*out = pm;
	return 0;
fail:
	virtio_pmem_destroy(pm);
	return r;
}

void virtio_pmem_destroy(struct virtio_pmem *pm)
{
	if (!pm)
		return;
	if (pm->vdev.el && pm->rl.timer_fd >= 0)
		el_remove(pm->vdev.el, pm->rl.timer_fd);
	if (pm->vdev.ops)
		virtio_dev_destroy(&pm->vdev);
	rl_destroy(&pm->rl);
	if (pm->hva)
		munmap(pm->hva, pm->size);
	if (pm->fd >= 0)
		close(pm->fd);
	free(pm);
}

void virtio_pmem_update_rate_limiter(struct virtio_pmem *pm, const struct rate_limiter_cfg *cfg)
{
	pthread_mutex_lock(&pm->vdev.lock);
	rl_update(&pm->rl, cfg);
	pthread_mutex_unlock(&pm->vdev.lock);
}

void virtio_pmem_get_counters(struct virtio_pmem *pm, struct virtio_pmem_counters *out)
{
	pthread_mutex_lock(&pm->vdev.lock);
	*out = pm->stats;
	pthread_mutex_unlock(&pm->vdev.lock);
}
