/* virtio-blk: one request queue, raw file backend, rate limiter. */
#include "ember/virtio_blk.h"

#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ember/error.h"
#include "ember/log.h"
#include "ember/metrics.h"
#include "ember/util.h"

#define BLK_FEATURES                                                                               \
	(VIRTIO_FEATURE(VIRTIO_BLK_F_BLK_SIZE) | VIRTIO_FEATURE(VIRTIO_BLK_F_SEG_MAX) |            \
	 VIRTIO_FEATURE(VIRTIO_BLK_F_SIZE_MAX))

static struct virtio_blk *to_blk(struct virtio_dev *vd)
{
	return container_of(vd, struct virtio_blk, vdev);
}

/* Open a backing file; *nsectors is its size in whole sectors. */
static int open_backing(const char *path, bool read_only, int *fd_out, uint64_t *nsectors)
{
	struct stat st;
	off_t size;
	/* Non-blocking open, then the type check: a FIFO put in place after
	 * the API's check never hangs the VMM thread. O_NONBLOCK is dropped
	 * once the file is known to be a regular file or a block device. */
	int fd = open(path, (read_only ? O_RDONLY : O_RDWR) | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);

	if (fd < 0)
		return err_set(errno, "drive %s: %s", path, strerror(errno));
	if (fstat(fd, &st) < 0 || !(S_ISREG(st.st_mode) || S_ISBLK(st.st_mode))) {
		close(fd);
		return err_set(EINVAL, "drive %s: not a regular file or block device", path);
	}
	if (fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK) < 0) {
		int e = errno;
		close(fd);
		return err_set(e, "drive %s: fcntl: %s", path, strerror(e));
	}
	size = lseek(fd, 0, SEEK_END);
	if (size < 0) {
		int e = errno;
		close(fd);
		return err_set(e, "drive %s: size: %s", path, strerror(e));
	}
	if (size % VIRTIO_BLK_SECTOR_SIZE)
		log_warn("drive %s: size %lld is not a multiple of %d; the tail is not visible",
			 path, (long long)size, VIRTIO_BLK_SECTOR_SIZE);
	*fd_out = fd;
	*nsectors = (uint64_t)size / VIRTIO_BLK_SECTOR_SIZE;
	return 0;
}

/* preadv/pwritev until done; a short transfer at EOF (the file shrank under
 * us) is an I/O error. The iovecs are not modified (they may be the chain's
 * own): the rest of a short transfer is continued from a copy. */
int blk_rw_full(int fd, const struct iovec *iov, int n, off_t off, uint64_t len, bool wr)
{
	struct iovec rest[VQ_MAX_SIZE];

	while (len > 0) {
		ssize_t r = wr ? pwritev(fd, iov, n, off) : preadv(fd, iov, n, off);

		if ((uint64_t)r == len)
			return 0;
		if (r < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (r == 0)
			return -EIO;
		len -= (uint64_t)r;
		off += r;
		while (n > 0 && (size_t)r >= iov->iov_len) {
			r -= (ssize_t)iov->iov_len;
			iov++;
			n--;
		}
		if (n == 0)
			return -EIO; /* cannot happen: the iovecs cover len */
		memmove(rest, iov, sizeof(*iov) * (size_t)n);
		rest[0].iov_base = (uint8_t *)rest[0].iov_base + r;
		rest[0].iov_len -= (size_t)r;
		iov = rest;
	}
	return 0;
}

static bool in_range(const struct virtio_blk *blk, uint64_t sector, uint64_t len)
{
	return sector <= blk->nsectors && len / VIRTIO_BLK_SECTOR_SIZE <= blk->nsectors - sector;
}

/* The iovecs of the data part of an IN (writable part minus the status
 * byte) or OUT (readable part after the header) request. The usual layout
 * (Linux: header, status each in a descriptor of their own) uses the chain's
 * iovecs in place; anything else is cut out into buf. Count, or -EINVAL. */
static int data_iov(const struct vq_chain *c, bool wr, uint64_t len, struct iovec *buf,
		    const struct iovec **iov)
{
	if (wr && c->iov[0].iov_len == sizeof(struct virtio_blk_outhdr)) {
		*iov = &c->iov[1];
		return c->nread - 1;
	}
	if (!wr && c->iov[c->nread + c->nwrite - 1].iov_len == 1) {
		*iov = &c->iov[c->nread];
		return c->nwrite - 1;
	}
	*iov = buf;
	return vq_chain_iov(c, !wr, wr ? sizeof(struct virtio_blk_outhdr) : 0, len, buf,
			    VQ_MAX_SIZE);
}

/* do_rw / handle_request: the request went to the io_uring; it completes
 * later (blk_uring.c). */
#define BLK_QUEUED 0x100

/* Data transfer of an IN or OUT request. Returns a status byte, -EAGAIN if
 * the rate limiter says wait, or BLK_QUEUED (io_engine "Async"). */
static int do_rw(struct virtio_blk *blk, const struct vq_chain *c, uint64_t sector, bool wr,
		 uint64_t len)
{
	struct iovec buf[VQ_MAX_SIZE];
	const struct iovec *iov;
	int n, r;

	if (len % VIRTIO_BLK_SECTOR_SIZE) {
		blk->stats.invalid_reqs_count++;
		return VIRTIO_BLK_S_IOERR;
	}
	if (wr && blk->read_only) {
		blk->stats.invalid_reqs_count++;
		return VIRTIO_BLK_S_IOERR;
	}
	if (!in_range(blk, sector, len)) {
		blk->stats.out_of_range_count++;
		return VIRTIO_BLK_S_IOERR;
	}
	if (!rl_consume(&blk->rl, 1, len)) {
		blk->stats.rate_limiter_throttled_events++;
		return -EAGAIN;
	}
	n = data_iov(c, wr, len, buf, &iov);
	if (n < 0) {
		blk->stats.invalid_reqs_count++;
		return VIRTIO_BLK_S_IOERR;
	}
	if (blk->aio) {
		uint32_t used = wr ? 1 : (uint32_t)len + 1;

		if (blk_aio_rw(blk, c, iov, n, (off_t)(sector * VIRTIO_BLK_SECTOR_SIZE), len, wr,
			       used) == 0)
			return BLK_QUEUED;
		blk->stats.execute_fails++;
		return VIRTIO_BLK_S_IOERR;
	}
	r = blk_rw_full(blk->fd, iov, n, (off_t)(sector * VIRTIO_BLK_SECTOR_SIZE), len, wr);
	if (r < 0) {
		blk->stats.execute_fails++;
		log_warn("virtio-blk %s: %s at sector %llu: %s", blk->id, wr ? "write" : "read",
			 (unsigned long long)sector, strerror(-r));
		return VIRTIO_BLK_S_IOERR;
	}
	if (wr) {
		blk->stats.write_bytes += len;
		blk->stats.write_count++;
	} else {
		blk->stats.read_bytes += len;
		blk->stats.read_count++;
	}
	return VIRTIO_BLK_S_OK;
}

/* The request header: the first 16 readable bytes (read_len checked), in
 * one memcpy when the first descriptor holds them all (it always does for
 * Linux). Copied once; only the copy is looked at. */
static void get_header(const struct vq_chain *c, struct virtio_blk_outhdr *hdr)
{
	if (c->iov[0].iov_len >= sizeof(*hdr))
		memcpy(hdr, c->iov[0].iov_base, sizeof(*hdr));
	else
		vq_chain_read(c, 0, hdr, sizeof(*hdr));
}

/* The status byte: the last writable byte (write_len checked). */
static void put_status(const struct vq_chain *c, uint8_t status)
{
	const struct iovec *last = &c->iov[c->nread + c->nwrite - 1];

	if (last->iov_len)
		((uint8_t *)last->iov_base)[last->iov_len - 1] = status;
	else
		vq_chain_write(c, c->write_len - 1, &status, 1);
}

/* Handle one chain. Returns 0 when the chain was returned to the driver,
 * -EAGAIN if throttled (the chain was not touched), BLK_QUEUED when it went
 * to the io_uring. */
static int handle_request(struct virtio_blk *blk, struct virtqueue *vq, const struct vq_chain *c)
{
	struct virtio_blk_outhdr hdr;
	uint32_t used = 1;
	uint8_t status;
	int r;

	/* The status byte is the last writable byte; without one we cannot
	 * even answer (framing is free under VERSION_1). */
	if (c->write_len == 0) {
		blk->stats.invalid_reqs_count++;
		vq_push(vq, c->head, 0);
		return 0;
	}
	if (c->read_len < sizeof(hdr)) {
		blk->stats.invalid_reqs_count++;
		status = VIRTIO_BLK_S_IOERR;
		goto done;
	}
	get_header(c, &hdr);
	switch (le32toh(hdr.type)) {
	case VIRTIO_BLK_T_IN:
		r = do_rw(blk, c, le64toh(hdr.sector), false, c->write_len - 1);
		if (r == -EAGAIN || r == BLK_QUEUED)
			return r;
		status = (uint8_t)r;
		if (status == VIRTIO_BLK_S_OK)
			used = c->write_len;
		break;
	case VIRTIO_BLK_T_OUT:
		r = do_rw(blk, c, le64toh(hdr.sector), true, c->read_len - sizeof(hdr));
		if (r == -EAGAIN || r == BLK_QUEUED)
			return r;
		status = (uint8_t)r;
		break;
	case VIRTIO_BLK_T_FLUSH:
		if (!rl_consume(&blk->rl, 1, 0)) {
			blk->stats.rate_limiter_throttled_events++;
			return -EAGAIN;
		}
		if (blk->aio && !blk->read_only && blk_aio_flush(blk, c) == 0)
			return BLK_QUEUED; /* counted when it completes */
		blk->stats.flush_count++;
		status = VIRTIO_BLK_S_OK;
		if (!blk->read_only && fdatasync(blk->fd) < 0) {
			blk->stats.execute_fails++;
			status = VIRTIO_BLK_S_IOERR;
		}
		break;
	case VIRTIO_BLK_T_GET_ID: {
		char id[VIRTIO_BLK_ID_BYTES] = {0};
		size_t n = MIN((size_t)VIRTIO_BLK_ID_BYTES, (size_t)c->write_len - 1);

		memcpy(id, blk->id, MIN(strlen(blk->id), sizeof(id)));
		vq_chain_write(c, 0, id, n);
		blk->stats.get_id_count++;
		used = (uint32_t)n + 1;
		status = VIRTIO_BLK_S_OK;
		break;
	}
	default:
		blk->stats.unsupported_count++;
		status = VIRTIO_BLK_S_UNSUPP;
		break;
	}
done:
	put_status(c, status);
	vq_push(vq, c->head, used);
	return 0;
}

static enum virtio_chain_verdict blk_chain(void *opaque, struct virtqueue *vq,
					   const struct vq_chain *c)
{
	int r = handle_request(opaque, vq, c);

	return r == -EAGAIN	 ? VIRTIO_CHAIN_THROTTLED
	       : r == BLK_QUEUED ? VIRTIO_CHAIN_HELD
				 : VIRTIO_CHAIN_USED;
}

static void blk_malformed(void *opaque, bool ring_broken)
{
	if (!ring_broken)
		((struct virtio_blk *)opaque)->stats.invalid_reqs_count++;
}

static void process_queue(struct virtio_blk *blk)
{
	struct virtio_dev *vd = &blk->vdev;

	if (!virtio_dev_live(vd) || !vd->queues[0].active || blk->throttled)
		return;
	if (virtio_dev_drain(vd, 0, &blk->chain, blk_chain, blk_malformed, blk) == -EAGAIN)
		blk->throttled = true; /* resumed by the rate limiter's timer */
	blk_aio_submit(blk);
}

static void blk_queue_notify(struct virtio_dev *vd, unsigned q)
{
	struct virtio_blk *blk = to_blk(vd);

	blk->stats.queue_event_count++;
	if (q == 0)
		process_queue(blk);
}

/* VMM thread: the rate limiter has tokens again. */
static void rl_timer_handler(void *opaque, int fd, uint32_t events)
{
	struct virtio_blk *blk = opaque;

	pthread_mutex_lock(&blk->vdev.lock);
	rl_timer_event(&blk->rl);
	blk->stats.rate_limiter_event_count++;
	if (!rl_blocked(&blk->rl) && blk->throttled) {
		blk->throttled = false;
		process_queue(blk);
	}
	pthread_mutex_unlock(&blk->vdev.lock);
}

static void blk_config_read(struct virtio_dev *vd, uint32_t off, void *data, uint32_t len)
{
	struct virtio_blk *blk = to_blk(vd);
	struct virtio_blk_config cfg = {0};

	cfg.capacity = htole64(blk->nsectors);
	cfg.size_max = htole32(VIRTIO_BLK_SIZE_MAX);
	cfg.seg_max = htole32(VIRTIO_BLK_SEG_MAX);
	cfg.blk_size = htole32(VIRTIO_BLK_SECTOR_SIZE);
	memcpy(data, (uint8_t *)&cfg + off, len);
}

static int blk_activate(struct virtio_dev *vd)
{
	struct virtio_blk *blk = to_blk(vd);

	if (!vd->queues[0].active) {
		blk->stats.activate_fails++;
		log_warn("virtio-blk %s: driver did not set up the request queue", blk->id);
		return -EINVAL;
	}
	return 0;
}

static void blk_reset(struct virtio_dev *vd)
{
	/* nothing may reach guest memory after a reset: wait, then drop */
	blk_aio_quiesce(to_blk(vd), false);
	to_blk(vd)->throttled = false;
}

/* Firecracker's block group "block_<id>": the counters' deltas. */
static void blk_publish_metrics(struct virtio_dev *vd)
{
	struct virtio_blk *blk = to_blk(vd);
	struct virtio_blk_counters now, *old = &blk->published;
	struct metrics_block *m = metrics_block_get(blk->id);

	if (!m)
		return;
	virtio_blk_get_counters(blk, &now);
#define D(f) (now.f - old->f)
	METRIC_ADD(m->activate_fails, D(activate_fails));
	METRIC_ADD(m->cfg_fails, D(cfg_fails));
	METRIC_ADD(m->update_fails, D(cfg_fails));
	METRIC_ADD(m->flush_count, D(flush_count));
	METRIC_ADD(m->queue_event_count, D(queue_event_count));
	METRIC_ADD(m->execute_fails, D(execute_fails));
	METRIC_ADD(m->invalid_reqs_count,
		   D(invalid_reqs_count) + D(unsupported_count) + D(out_of_range_count));
	METRIC_ADD(m->read_bytes, D(read_bytes));
	METRIC_ADD(m->write_bytes, D(write_bytes));
	METRIC_ADD(m->read_count, D(read_count));
	METRIC_ADD(m->write_count, D(write_count));
	METRIC_ADD(m->rate_limiter_event_count, D(rate_limiter_event_count));
	METRIC_ADD(m->rate_limiter_throttled_events, D(rate_limiter_throttled_events));
	METRIC_ADD(m->update_count, D(update_count));
#undef D
	*old = now;
}

static void blk_destroy_op(struct virtio_dev *vd)
{
	virtio_blk_destroy(to_blk(vd));
}

/* Snapshot: requests in flight (io_engine "Async") complete first, so none
 * is left over; what the guest wrote is flushed to the backing file before
 * the snapshot. */
static int blk_save(struct virtio_dev *vd, void *blob, size_t *len)
{
	struct virtio_blk *blk = to_blk(vd);

	(void)blob;
	*len = 0;
	blk_aio_quiesce(blk, true);
	if (!blk->read_only && fdatasync(blk->fd) < 0)
		return -errno;
	return 0;
}

static int blk_restore(struct virtio_dev *vd, const void *blob, size_t len)
{
	(void)vd;
	(void)blob;
	return len == 0 ? 0 : -EINVAL;
}

static const struct virtio_dev_ops blk_ops = {
    .name = "virtio-blk",
    .device_id = VIRTIO_ID_BLOCK,
    .num_queues = 1,
    .queue_max = VIRTIO_BLK_QUEUE_SIZE,
    .features = BLK_FEATURES,
    .config_size = sizeof(struct virtio_blk_config),
    .config_read = blk_config_read,
    .activate = blk_activate,
    .queue_notify = blk_queue_notify,
    .reset = blk_reset,
    .destroy = blk_destroy_op,
    .publish_metrics = blk_publish_metrics,
    .save = blk_save,
    .restore = blk_restore,
};

int virtio_blk_create(const struct drive_cfg *cfg, const struct guest_mem *gm,
		      struct event_loop *el, struct virtio_blk **out)
{
	struct virtio_blk *blk;
	int r;

	*out = NULL;
	if (!cfg->path)
		return err_set(EINVAL, "drive %s: no path", cfg->id);
	if (strlen(cfg->path) >= sizeof(blk->path))
		return err_set(ENAMETOOLONG, "drive %s: path too long", cfg->id);
	blk = calloc(1, sizeof(*blk));
	if (!blk)
		return err_set(ENOMEM, "drive %s: out of memory", cfg->id);
	blk->fd = -1;
	blk->rl.timer_fd = -1;
	snprintf(blk->id, sizeof(blk->id), "%s", cfg->id);
	snprintf(blk->path, sizeof(blk->path), "%s", cfg->path);
	blk->read_only = cfg->read_only;
	r = open_backing(cfg->path, cfg->read_only, &blk->fd, &blk->nsectors);
	if (r < 0)
		goto fail;
	r = rl_init(&blk->rl, &cfg->rate_limiter);
	if (r < 0)
		goto fail;
	r = virtio_dev_init(&blk->vdev, &blk_ops, gm, el, 0);
	if (r < 0)
		goto fail;
	if (cfg->read_only)
		blk->vdev.device_features |= VIRTIO_FEATURE(VIRTIO_BLK_F_RO);
	if (cfg->cache_writeback)
		blk->vdev.device_features |= VIRTIO_FEATURE(VIRTIO_BLK_F_FLUSH);
	if (cfg->io_async && (r = blk_aio_init(blk, el)) < 0)
		goto fail;
	if (el) {
		r = el_add(el, rl_timer_fd(&blk->rl), EPOLLIN, rl_timer_handler, blk);
		if (r < 0) {
			err_set(-r, "drive %s: adding the rate limiter timer", cfg->id);
			goto fail;
		}
	}
	*out = blk;
	return 0;
fail:
	virtio_blk_destroy(blk);
	return r;
}

void virtio_blk_destroy(struct virtio_blk *blk)
{
	if (!blk)
		return;
	blk_aio_fini(blk);
	if (blk->vdev.el && blk->rl.timer_fd >= 0)
		el_remove(blk->vdev.el, blk->rl.timer_fd);
	virtio_dev_destroy(&blk->vdev);
	rl_destroy(&blk->rl);
	if (blk->fd >= 0)
		close(blk->fd);
	free(blk);
}

int virtio_blk_set_path(struct virtio_blk *blk, const char *path)
{
	uint64_t nsectors;
	int fd, old, r;

	if (strlen(path) >= sizeof(blk->path)) {
		blk->stats.cfg_fails++;
		return err_set(ENAMETOOLONG, "drive %s: path too long", blk->id);
	}
	r = open_backing(path, blk->read_only, &fd, &nsectors);
	pthread_mutex_lock(&blk->vdev.lock);
	if (r < 0) {
		blk->stats.cfg_fails++;
		pthread_mutex_unlock(&blk->vdev.lock);
		return r;
	}
	blk_aio_quiesce(blk, true); /* nothing in flight on the old file */
	old = blk->fd;
	blk->fd = fd;
	blk->nsectors = nsectors;
	snprintf(blk->path, sizeof(blk->path), "%s", path);
	blk->stats.update_count++;
	virtio_dev_config_changed(&blk->vdev);
	pthread_mutex_unlock(&blk->vdev.lock);
	close(old);
	return 0;
}

void virtio_blk_update_rate_limiter(struct virtio_blk *blk, const struct rate_limiter_cfg *cfg)
{
	pthread_mutex_lock(&blk->vdev.lock);
	rl_update(&blk->rl, cfg);
	pthread_mutex_unlock(&blk->vdev.lock);
}

void virtio_blk_get_counters(struct virtio_blk *blk, struct virtio_blk_counters *out)
{
	pthread_mutex_lock(&blk->vdev.lock);
	*out = blk->stats;
	pthread_mutex_unlock(&blk->vdev.lock);
}
