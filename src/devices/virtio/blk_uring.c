/* virtio-blk io_engine "Async": reads, writes and flushes go to an io_uring
 * (liburing) and complete on the VMM thread when the ring's eventfd fires.
 * Everything before the I/O (header, range and read-only checks, rate
 * limiter) and after it (status byte, counters, used ring) is the same as
 * the synchronous engine's; a short transfer is finished synchronously.
 *
 * A request in flight keeps its chain head, its data iovecs (copied: the
 * chain scratch is reused at once) and the host address of its status byte.
 * Reset, a backing-file swap, a snapshot and destroy wait for every request
 * in flight first (blk_aio_quiesce), so no I/O ever reaches guest memory or
 * a closed file after them. */
#include "ember/virtio_blk.h"

#include <errno.h>
#include <liburing.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "ember/error.h"
#include "ember/event_loop.h"
#include "ember/log.h"

enum aio_kind { AIO_READ, AIO_WRITE, AIO_FLUSH };

struct aio_slot {
	uint16_t head;
	uint8_t kind;
	uint8_t *status; /* host address of the status byte in guest memory */
	uint32_t used;	 /* used length to report on success */
	uint64_t len;
	off_t off;
	int n;
	struct iovec iov[VQ_MAX_SIZE];
};

struct blk_aio {
	struct io_uring ring;
	int evfd;
	unsigned queued; /* prepared, not yet submitted */
	unsigned inflight;
	unsigned nfree;
	uint16_t free[VIRTIO_BLK_QUEUE_SIZE];
	struct aio_slot slots[VIRTIO_BLK_QUEUE_SIZE];
};

int blk_aio_supported(void)
{
	/* io_uring_setup(0, NULL): EINVAL/EFAULT where io_uring exists,
	 * ENOSYS without it, EPERM when kernel.io_uring_disabled forbids it. */
	long r = syscall(__NR_io_uring_setup, 0, NULL);
	int e = errno;

	if (r >= 0) {
		close((int)r);
		return 0;
	}
	if (e == ENOSYS)
		return err_set(ENOTSUP, "io_engine \"Async\": this host's kernel has no io_uring");
	if (e == EPERM)
		return err_set(ENOTSUP, "io_engine \"Async\": io_uring is disabled on this host "
					"(kernel.io_uring_disabled)");
	return 0;
}

static void complete_one(struct virtio_blk *blk, struct aio_slot *s, int res, bool push)
{
	uint8_t status = VIRTIO_BLK_S_OK;

	if (s->kind == AIO_FLUSH) {
		blk->stats.flush_count++;
		if (res < 0) {
			blk->stats.execute_fails++;
			status = VIRTIO_BLK_S_IOERR;
		}
	} else {
		bool wr = s->kind == AIO_WRITE;
		int r = res < 0 ? res : 0;

		if (res >= 0 && (uint64_t)res < s->len) {
			/* short: the rest synchronously, as the Sync engine would */
			struct iovec *iov = s->iov;
			int n = s->n;
			size_t done = (size_t)res;

			while (n > 0 && done >= iov->iov_len) {
				done -= iov->iov_len;
				iov++;
				n--;
			}
			if (n > 0) {
				iov->iov_base = (uint8_t *)iov->iov_base + done;
				iov->iov_len -= done;
			}
			r = n > 0 ? blk_rw_full(blk->fd, iov, n, s->off + res,
						s->len - (uint64_t)res, wr)
				  : -EIO;
		}
		if (r < 0) {
			blk->stats.execute_fails++;
			log_warn("virtio-blk %s: %s at offset %lld: %s", blk->id,
				 wr ? "write" : "read", (long long)s->off, strerror(-r));
			status = VIRTIO_BLK_S_IOERR;
		} else if (wr) {
			blk->stats.write_bytes += s->len;
			blk->stats.write_count++;
		} else {
			blk->stats.read_bytes += s->len;
			blk->stats.read_count++;
		}
	}
	if (push) {
		*s->status = status;
		vq_push(&blk->vdev.queues[0], s->head, status == VIRTIO_BLK_S_OK ? s->used : 1);
	}
}

/* Reap what completed; wait for everything in flight if wait. Returns true
 * if anything was pushed to the used ring. */
static bool reap(struct virtio_blk *blk, bool wait, bool push)
{
	struct blk_aio *a = blk->aio;
	struct io_uring_cqe *cqe;
	bool pushed = false;

	if (a->queued)
		blk_aio_submit(blk);
	while (a->inflight) {
		int r =
		    wait ? io_uring_wait_cqe(&a->ring, &cqe) : io_uring_peek_cqe(&a->ring, &cqe);

		if (r == -EINTR)
			continue;
		if (r < 0)
			break;
		uint64_t idx = io_uring_cqe_get_data64(cqe);
		int res = cqe->res;

		io_uring_cqe_seen(&a->ring, cqe);
		if (idx >= VIRTIO_BLK_QUEUE_SIZE)
			continue;
		complete_one(blk, &a->slots[idx], res, push);
		a->free[a->nfree++] = (uint16_t)idx;
		a->inflight--;
		pushed |= push;
	}
	return pushed;
}

/* VMM thread: the ring's eventfd. */
static void aio_event(void *opaque, int fd, uint32_t events)
{
	struct virtio_blk *blk = opaque;
	uint64_t v;

	(void)events;
	if (read(fd, &v, sizeof(v)) < 0 && errno != EAGAIN)
		return;
	pthread_mutex_lock(&blk->vdev.lock);
	if (reap(blk, false, true) && virtio_dev_live(&blk->vdev))
		virtio_dev_notify(&blk->vdev, 0);
	pthread_mutex_unlock(&blk->vdev.lock);
}

int blk_aio_init(struct virtio_blk *blk, struct event_loop *el)
{
	struct blk_aio *a = calloc(1, sizeof(*a));
	int r;

	if (!a)
		return err_set(ENOMEM, "drive %s: out of memory", blk->id);
	a->evfd = -1;
	r = io_uring_queue_init(VIRTIO_BLK_QUEUE_SIZE, &a->ring, 0);
	if (r < 0) {
		free(a);
		return err_set(-r, "drive %s: io_engine \"Async\": io_uring: %s", blk->id,
			       strerror(-r));
	}
	for (unsigned i = 0; i < VIRTIO_BLK_QUEUE_SIZE; i++)
		a->free[a->nfree++] = (uint16_t)(VIRTIO_BLK_QUEUE_SIZE - 1 - i);
	blk->aio = a;
	a->evfd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (a->evfd < 0)
		return err_set(errno, "drive %s: eventfd: %s", blk->id, strerror(errno));
	if ((r = io_uring_register_eventfd(&a->ring, a->evfd)) < 0)
		return err_set(-r, "drive %s: io_uring eventfd: %s", blk->id, strerror(-r));
	if (el && (r = el_add(el, a->evfd, EPOLLIN, aio_event, blk)) < 0)
		return err_set(-r, "drive %s: adding the io_uring eventfd", blk->id);
	return 0;
}

void blk_aio_fini(struct virtio_blk *blk)
{
	struct blk_aio *a = blk->aio;

	if (!a)
		return;
	blk_aio_quiesce(blk, false);
	if (a->evfd >= 0) {
		if (blk->vdev.el)
			el_remove(blk->vdev.el, a->evfd);
		close(a->evfd);
	}
	io_uring_queue_exit(&a->ring);
	free(a);
	blk->aio = NULL;
}

/* The status byte: the last byte of the last non-empty writable iovec. */
static uint8_t *status_addr(const struct vq_chain *c)
{
	for (int i = c->nread + c->nwrite - 1; i >= c->nread; i--)
		if (c->iov[i].iov_len)
			return (uint8_t *)c->iov[i].iov_base + c->iov[i].iov_len - 1;
	return NULL;
}

static int queue(struct virtio_blk *blk, const struct vq_chain *c, enum aio_kind kind,
		 const struct iovec *iov, int n, off_t off, uint64_t len, uint32_t used)
{
	struct blk_aio *a = blk->aio;
	struct io_uring_sqe *sqe;
	struct aio_slot *s;
	uint16_t idx;

	if (!a->nfree || n < 0 || n > VQ_MAX_SIZE || !status_addr(c))
		return -EIO;
	sqe = io_uring_get_sqe(&a->ring);
	if (!sqe) {
		blk_aio_submit(blk);
		if (!(sqe = io_uring_get_sqe(&a->ring)))
			return -EIO;
	}
	idx = a->free[--a->nfree];
	s = &a->slots[idx];
	s->head = c->head;
	s->kind = (uint8_t)kind;
	s->status = status_addr(c);
	s->used = used;
	s->len = len;
	s->off = off;
	s->n = n;
	if (n)
		memcpy(s->iov, iov, sizeof(*iov) * (size_t)n);
	if (kind == AIO_READ)
		io_uring_prep_readv(sqe, blk->fd, s->iov, (unsigned)n, (uint64_t)off);
	else if (kind == AIO_WRITE)
		io_uring_prep_writev(sqe, blk->fd, s->iov, (unsigned)n, (uint64_t)off);
	else
		io_uring_prep_fsync(sqe, blk->fd, IORING_FSYNC_DATASYNC);
	io_uring_sqe_set_data64(sqe, idx);
	a->queued++;
	a->inflight++;
	return 0;
}

int blk_aio_rw(struct virtio_blk *blk, const struct vq_chain *c, const struct iovec *iov, int n,
	       off_t off, uint64_t len, bool wr, uint32_t used)
{
	return queue(blk, c, wr ? AIO_WRITE : AIO_READ, iov, n, off, len, used);
}

int blk_aio_flush(struct virtio_blk *blk, const struct vq_chain *c)
{
	return queue(blk, c, AIO_FLUSH, NULL, 0, 0, 0, 1);
}

void blk_aio_submit(struct virtio_blk *blk)
{
	struct blk_aio *a = blk->aio;
	int r;

	if (!a || !a->queued)
		return;
	do
		r = io_uring_submit(&a->ring);
	while (r == -EINTR);
	if (r < 0)
		log_warn("virtio-blk %s: io_uring submit: %s", blk->id, strerror(-r));
	else
		a->queued -= MIN(a->queued, (unsigned)r);
}

void blk_aio_quiesce(struct virtio_blk *blk, bool push)
{
	if (blk->aio && reap(blk, true, push) && virtio_dev_live(&blk->vdev))
		virtio_dev_notify(&blk->vdev, 0);
}

unsigned blk_aio_inflight(const struct virtio_blk *blk)
{
	return blk->aio ? blk->aio->inflight : 0;
}
