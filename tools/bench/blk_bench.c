/* virtio-blk device-model cost through the guest-less harness, next to the
 * same I/O done directly with preadv/pwritev in the same run.
 *
 * Four ways to do each workload, alternating within every round; each figure
 * is the best of ROUNDS (the host is shared: noise only ever adds):
 *
 *  - direct: preadv/pwritev of the same offsets into the same buffers, one
 *            call per request, on the calling thread: that thread's CPU.
 *  - ember:  the device model on a thread of its own, as in a VM. That
 *            thread (the VMM thread) runs the event loop: it sleeps in
 *            epoll_wait, wakes on the queue eventfd, validates the chains,
 *            preadv/pwritev()s straight into guest buffers, fills the used
 *            ring and writes the interrupt eventfd. The fake driver (the
 *            "guest", on the calling thread) lays out chains, kicks by
 *            writing the queue eventfd (what KVM's ioeventfd does in the
 *            kernel on a QueueNotify write) only when the device asks
 *            (EVENT_IDX), and sleeps on the interrupt eventfd (what KVM's
 *            irqfd delivers). The figure is the VMM thread's own CPU time
 *            (user + system, from its thread CPU clock): what the device
 *            model costs the host. The driver's CPU is shown apart.
 *  - hop:    the same preadv/pwritev calls made by a thread that is woken and
 *            answers exactly like the VMM thread (edge-triggered eventfd in an
 *            epoll loop, an eventfd write back per batch) but does no virtio
 *            at all: what moving the I/O to an event-driven thread costs.
 *  - 1-thread: driver and device on one thread, nothing ever sleeps (kick
 *            through the MMIO bus, event loop run inline): driver + device.
 *
 * ember / direct is the ratio (goal < 15%). It splits into
 * hop / direct (the thread hop: a wake-up, epoll_wait, an eventfd write that
 * wakes the driver, per batch) and ember / hop (the virtio device model
 * itself: ring reads, chain validation, used ring, EVENT_IDX). At queue depth
 * 1 every request pays a whole hop, which costs several times a 4 KiB
 * preadv from tmpfs; deeper queues share it across the batch.
 *
 * Usage: blk_bench [-s scale] [-r rounds] [-w workload-name-prefix]
 *                  [-m direct,ember,hop,1thread]
 *
 * blk_bench -e: io_engine "Sync" vs "Async" (io_uring). Two devices, one per
 * engine, each on its own file and VMM thread as above, run 4 KiB sequential
 * and random reads and writes (queue depth 32, and random reads at QD1),
 * alternating engines within every round. Each figure is the median of the
 * rounds with its spread (min..max): requests/s (wall time of the round)
 * and the VMM thread's CPU per request (io_uring's kernel workers, if any,
 * are not in it), then the ratio Async / Sync of the medians. */
#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/resource.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include "device/blkfix.h"
#include "ember/log.h"

#define FILE_SIZE (128ULL << 20)
#define RAM_SIZE (64ULL << 20)
#define MAX_QD 64
#define DEFAULT_ROUNDS 7

struct workload {
	const char *name;
	uint32_t bs;
	bool write;
	bool random;
	int qd;
	uint64_t n;
};

struct result {
	double wall_s;	  /* whole round */
	double cpu_s;	  /* main thread (driver, direct path, or 1-thread harness) */
	double dev_cpu_s; /* VMM thread (vmm mode) */
	uint64_t wakeups; /* queue events the device handled */
	uint64_t kicks, irqs;
};

/* The VMM thread: runs the device's event loop until told to stop. */
struct vmm_thread {
	pthread_t tid;
	struct event_loop *el;
	int stop_fd;
	bool stop;
	clockid_t clk;
};

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static double clock_s(clockid_t clk)
{
	struct timespec ts;

	clock_gettime(clk, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* CPU of the whole process, exited threads included (getrusage). */
static double process_cpu_s(void)
{
	struct rusage ru;

	getrusage(RUSAGE_SELF, &ru);
	return (double)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
	       (double)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

static double cpu_s(void)
{
	return clock_s(CLOCK_THREAD_CPUTIME_ID);
}

static uint64_t *make_sectors(const struct workload *w)
{
	uint64_t *s = malloc(sizeof(*s) * w->n), nblocks = FILE_SIZE / w->bs,
		 x = 88172645463325252ULL;

	if (!s)
		return NULL;
	for (uint64_t i = 0; i < w->n; i++) {
		uint64_t blk;

		if (w->random) {
			x ^= x << 13;
			x ^= x >> 7;
			x ^= x << 17;
			blk = x % nblocks;
		} else {
			blk = i % nblocks;
		}
		s[i] = blk * (w->bs / 512);
	}
	return s;
}

/* Scale the request count (at least one batch) and draw the sectors. */
static uint64_t *workload_prepare(struct workload *w, double scale)
{
	w->n = (uint64_t)((double)w->n * scale);
	if (w->n < (uint64_t)w->qd)
		w->n = (uint64_t)w->qd;
	return make_sectors(w);
}

static void stop_handler(void *opaque, int fd, uint32_t events)
{
	struct vmm_thread *v = opaque;
	uint64_t cnt;

	if (read(fd, &cnt, sizeof(cnt)) == sizeof(cnt))
		v->stop = true;
}

static void *vmm_main(void *arg)
{
	struct vmm_thread *v = arg;

	while (!v->stop)
		if (el_run_once(v->el, -1) < 0)
			break;
	return NULL;
}

static int vmm_start(struct vmm_thread *v, struct event_loop *el)
{
	int r;

	memset(v, 0, sizeof(*v));
	v->el = el;
	v->stop_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (v->stop_fd < 0)
		return -errno;
	r = el_add(el, v->stop_fd, EPOLLIN, stop_handler, v);
	if (r == 0) {
		r = -pthread_create(&v->tid, NULL, vmm_main, v);
		if (r == 0 && (r = -pthread_getcpuclockid(v->tid, &v->clk)) < 0) {
			uint64_t one = 1;

			if (write(v->stop_fd, &one, sizeof(one)) < 0)
				abort();
			pthread_join(v->tid, NULL);
		}
		if (r < 0)
			el_remove(el, v->stop_fd);
	}
	if (r < 0)
		close(v->stop_fd);
	return r;
}

static void vmm_stop(struct vmm_thread *v)
{
	uint64_t one = 1;

	if (write(v->stop_fd, &one, sizeof(one)) != sizeof(one))
		abort(); /* cannot happen on a fresh eventfd; never hang */
	pthread_join(v->tid, NULL);
	el_remove(v->el, v->stop_fd);
	close(v->stop_fd);
}

/* Driver side of the vmm mode: wait (blocking on the interrupt eventfd)
 * until the used ring has an entry, then take it. Like Linux with EVENT_IDX:
 * used_event = what we consumed, barrier, re-check, then sleep. */
static int take_used(struct vdriver *d, int irq_fd, uint64_t *irqs, uint32_t *id)
{
	struct vd_queue *q = &d->q[0];

	for (;;) {
		if (vdrv_used_idx(d, 0) != q->last_used) {
			struct vring_used_elem *e =
			    vdrv_ptr(d, q->used + 4 + 8ULL * (q->last_used % q->size), sizeof(*e));

			*id = le32toh(e->id);
			q->last_used++;
			/* used_event (after the avail ring): interrupt me for the next one. */
			__atomic_store_n((uint16_t *)vdrv_ptr(d, q->avail + 4 + 2ULL * q->size, 2),
					 htole16(q->last_used), __ATOMIC_RELAXED);
			return 0;
		}
		__atomic_thread_fence(__ATOMIC_SEQ_CST);
		if (vdrv_used_idx(d, 0) != q->last_used)
			continue;
		struct pollfd p = {.fd = irq_fd, .events = POLLIN};
		uint64_t v;

		if (poll(&p, 1, VDRV_WAIT_MS) <= 0)
			return -ETIMEDOUT;
		if (read(irq_fd, &v, sizeof(v)) == sizeof(v))
			*irqs += v;
	}
}

/* Keep the best (lowest) of each figure across rounds; counts from the last. */
static void keep_best(struct result *best, const struct result *r)
{
	if (r->wall_s < best->wall_s)
		best->wall_s = r->wall_s;
	if (r->cpu_s < best->cpu_s)
		best->cpu_s = r->cpu_s;
	if (r->dev_cpu_s < best->dev_cpu_s)
		best->dev_cpu_s = r->dev_cpu_s;
	best->wakeups = r->wakeups;
	best->kicks = r->kicks;
	best->irqs = r->irqs;
}

/* Everything a run needs: the device and driver, the file opened a second
 * time for the direct paths, and the data buffers / request headers in guest
 * RAM (the direct paths use the same buffers). */
struct bench {
	struct blkfix f;
	int fd;
	uint64_t bufs, hs;
};

static uint32_t req_type(const struct workload *w)
{
	return w->write ? VIRTIO_BLK_T_OUT : VIRTIO_BLK_T_IN;
}

static uint64_t buf_gpa(const struct bench *b, const struct workload *w, uint64_t i)
{
	return b->bufs + (i % (uint64_t)w->qd) * w->bs;
}

/* Post requests [i, i + batch) (buffer j of the batch, header slot j). */
static int submit_batch(struct bench *b, const struct workload *w, const uint64_t *sectors,
			uint64_t i, int batch)
{
	for (int j = 0; j < batch; j++) {
		struct vd_buf buf = {buf_gpa(b, w, (uint64_t)j), w->bs, !w->write};

		if (vdrv_blk_submit(&b->f.d, 0, req_type(w), sectors[i + (uint64_t)j], &buf, 1,
				    false, b->hs + 32ULL * (uint64_t)j) < 0)
			return -ENOSPC;
	}
	return 0;
}

static int check_status(struct bench *b, int batch)
{
	for (int j = 0; j < batch; j++)
		if (*(uint8_t *)vdrv_ptr(&b->f.d, b->hs + 32ULL * (uint64_t)j + 16, 1) !=
		    VIRTIO_BLK_S_OK)
			return -EIO;
	return 0;
}

static int batch_size(const struct workload *w, uint64_t i)
{
	return (int)(w->n - i < (uint64_t)w->qd ? w->n - i : (uint64_t)w->qd);
}

/* ember: the device model on its own (VMM) thread, the driver here. */
static int run_ember(struct bench *b, const struct workload *w, const uint64_t *sectors,
		     struct result *res)
{
	struct vdriver *d = &b->f.d;
	struct virtio_blk *blk = b->f.blk;
	int qfd = virtio_mmio_queue_eventfd(&blk->vdev, 0);
	int irq_fd = virtio_mmio_irq_eventfd(&blk->vdev);
	uint64_t ev0 = blk->stats.queue_event_count, one = 1;
	struct vmm_thread v;
	double t0, c0, d0;
	int r = vmm_start(&v, &d->el);

	if (r < 0)
		return r;
	t0 = now_s();
	c0 = cpu_s();
	d0 = clock_s(v.clk);
	for (uint64_t i = 0; i < w->n && r == 0; i += (uint64_t)w->qd) {
		int batch = batch_size(w, i);
		uint16_t old = d->q[0].avail_idx;

		r = submit_batch(b, w, sectors, i, batch);
		if (r == 0 && vdrv_kick_needed(d, 0, old)) {
			res->kicks++;
			if (write(qfd, &one, sizeof(one)) != sizeof(one))
				r = -errno;
		}
		for (int j = 0; j < batch && r == 0; j++) {
			uint32_t id;

			r = take_used(d, irq_fd, &res->irqs, &id);
			if (r == 0)
				vdrv_free_chain(d, 0, (uint16_t)id);
		}
		if (r == 0)
			r = check_status(b, batch);
	}
	res->dev_cpu_s = clock_s(v.clk) - d0;
	res->cpu_s = cpu_s() - c0;
	res->wall_s = now_s() - t0;
	vmm_stop(&v);
	res->irqs += vdrv_irqs(d);
	res->wakeups = blk->stats.queue_event_count - ev0;
	return r;
}

/* 1-thread: driver and device on this thread (kick through the MMIO bus,
 * the event loop run inline by vdrv_wait_used). */
static int run_inline(struct bench *b, const struct workload *w, const uint64_t *sectors,
		      struct result *res)
{
	struct vdriver *d = &b->f.d;
	uint64_t ev0 = b->f.blk->stats.queue_event_count;
	double t0 = now_s(), c0 = cpu_s();

	for (uint64_t i = 0; i < w->n; i += (uint64_t)w->qd) {
		int batch = batch_size(w, i);
		uint16_t old = d->q[0].avail_idx;

		if (submit_batch(b, w, sectors, i, batch) < 0)
			return -ENOSPC;
		if (vdrv_kick_needed(d, 0, old)) {
			res->kicks++;
			vdrv_kick(d, 0);
		}
		for (int j = 0; j < batch; j++) {
			uint32_t id, len;

			if (vdrv_wait_used(d, 0, VDRV_WAIT_MS, &id, &len) < 0)
				return -ETIMEDOUT;
			vdrv_free_chain(d, 0, (uint16_t)id);
		}
		if (check_status(b, batch) < 0)
			return -EIO;
	}
	res->cpu_s = cpu_s() - c0;
	res->wall_s = now_s() - t0;
	res->irqs = vdrv_irqs(d);
	res->wakeups = b->f.blk->stats.queue_event_count - ev0;
	return 0;
}

/* One request done directly (shared by direct and hop). */
static int direct_io(struct bench *b, const struct workload *w, const uint64_t *sectors, uint64_t i)
{
	struct iovec iov = {vdrv_ptr(&b->f.d, buf_gpa(b, w, i), w->bs), w->bs};
	off_t off = (off_t)(sectors[i] * 512);
	ssize_t r = w->write ? pwritev(b->fd, &iov, 1, off) : preadv(b->fd, &iov, 1, off);

	return r == (ssize_t)w->bs ? 0 : -EIO;
}

static int run_direct(struct bench *b, const struct workload *w, const uint64_t *sectors,
		      struct result *res)
{
	double t0 = now_s(), c0 = cpu_s();

	for (uint64_t i = 0; i < w->n; i++)
		if (direct_io(b, w, sectors, i) < 0)
			return -EIO;
	res->cpu_s = cpu_s() - c0;
	res->wall_s = now_s() - t0;
	return 0;
}

/* hop: direct I/O on a thread woken like the VMM thread, no virtio. */
struct hop {
	struct bench *b;
	const struct workload *w;
	const uint64_t *sectors;
	uint64_t next, end; /* the batch to do; written before the kick */
	int done_fd;
	bool failed;
};

static void hop_handler(void *opaque, int fd, uint32_t events)
{
	struct hop *h = opaque;
	uint64_t one = 1;

	uint64_t end = __atomic_load_n(&h->end, __ATOMIC_ACQUIRE);
	bool failed = false;

	for (uint64_t i = __atomic_load_n(&h->next, __ATOMIC_RELAXED); i < end; i++)
		if (direct_io(h->b, h->w, h->sectors, i) < 0)
			failed = true;
	if (failed)
		__atomic_store_n(&h->failed, true, __ATOMIC_RELAXED);
	/* The eventfd orders all of this before the waiter's next look; the
	 * atomics only say so to the thread sanitizer. */
	__atomic_thread_fence(__ATOMIC_RELEASE);
	if (write(h->done_fd, &one, sizeof(one)) != sizeof(one))
		__atomic_store_n(&h->failed, true, __ATOMIC_RELAXED);
}

static int run_hop(struct bench *b, const struct workload *w, const uint64_t *sectors,
		   struct result *res)
{
	struct hop h = {.b = b, .w = w, .sectors = sectors};
	struct event_loop el;
	struct vmm_thread v;
	int kick_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC), r;
	uint64_t one = 1, cnt;
	double t0, c0, d0;

	h.done_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	r = el_init(&el);
	if (r < 0)
		goto out_fds;
	if (kick_fd < 0 || h.done_fd < 0)
		r = -EMFILE;
	if (r == 0)
		r = el_add(&el, kick_fd, EPOLLIN | EPOLLET, hop_handler, &h);
	if (r == 0)
		r = vmm_start(&v, &el);
	if (r < 0)
		goto out;
	t0 = now_s();
	c0 = cpu_s();
	d0 = clock_s(v.clk);
	for (uint64_t i = 0; i < w->n && r == 0; i += (uint64_t)w->qd) {
		struct pollfd p = {.fd = h.done_fd, .events = POLLIN};

		__atomic_store_n(&h.next, i, __ATOMIC_RELAXED);
		__atomic_store_n(&h.end, i + (uint64_t)batch_size(w, i), __ATOMIC_RELEASE);
		if (write(kick_fd, &one, sizeof(one)) != sizeof(one) ||
		    poll(&p, 1, VDRV_WAIT_MS) <= 0 || read(h.done_fd, &cnt, sizeof(cnt)) < 0)
			r = -ETIMEDOUT;
		else if (__atomic_load_n(&h.failed, __ATOMIC_ACQUIRE))
			r = -EIO;
		res->kicks++;
		res->irqs++;
		res->wakeups++;
	}
	res->dev_cpu_s = clock_s(v.clk) - d0;
	res->cpu_s = cpu_s() - c0;
	res->wall_s = now_s() - t0;
	vmm_stop(&v);
out:
	el_destroy(&el);
out_fds:
	if (kick_fd >= 0)
		close(kick_fd);
	if (h.done_fd >= 0)
		close(h.done_fd);
	return r;
}

enum { M_DIRECT, M_EMBER, M_HOP, M_INLINE, M_COUNT };

static const struct mode {
	const char *name; /* for -m */
	const char *label;
	int (*run)(struct bench *b, const struct workload *w, const uint64_t *sectors,
		   struct result *res);
	bool threaded; /* the figure is the worker thread's CPU */
} modes[M_COUNT] = {
    [M_DIRECT] = {"direct", "direct", run_direct, false},
    [M_EMBER] = {"ember", "ember (VMM thread)", run_ember, true},
    [M_HOP] = {"hop", "thread hop only", run_hop, true},
    [M_INLINE] = {"1thread", "1-thread harness", run_inline, false},
};

/* The figure a mode is judged by: CPU seconds of the thread doing the I/O. */
static double io_cpu(int m, const struct result *r)
{
	return modes[m].threaded ? r->dev_cpu_s : r->cpu_s;
}

static double us_per(double s, uint64_t n)
{
	return s * 1e6 / (double)n;
}

static double pct(double a, double b)
{
	return (a / b - 1) * 100;
}

static void print_workload(const struct workload *w, const struct result *best, unsigned on)
{
	printf("\n  %s: %llu requests of %u bytes per round\n", w->name, (unsigned long long)w->n,
	       w->bs);
	printf("    %-20s %9s %10s %9s\n", "", "CPU/req", "req/s", "MB/s");
	for (int m = 0; m < M_COUNT; m++) {
		const struct result *r = &best[m];

		if (!(on & (1u << m)))
			continue;
		printf("    %-20s %6.2f us %10.0f %9.1f", modes[m].label,
		       us_per(io_cpu(m, r), w->n), (double)w->n / r->wall_s,
		       (double)w->n * w->bs / r->wall_s / 1e6);
		if (m == M_EMBER)
			printf("   per req: %.3f wake-ups %.3f kicks %.3f irqs; driver %.2f us",
			       (double)r->wakeups / (double)w->n, (double)r->kicks / (double)w->n,
			       (double)r->irqs / (double)w->n, us_per(r->cpu_s, w->n));
		else if (m == M_HOP)
			printf("   same I/O on a thread woken like the VMM thread, no virtio");
		else if (m == M_INLINE)
			printf("   driver + device on one thread, never sleeping");
		printf("\n");
	}
	if ((on & (1u << M_EMBER)) && (on & (1u << M_DIRECT))) {
		double e = io_cpu(M_EMBER, &best[M_EMBER]), d = io_cpu(M_DIRECT, &best[M_DIRECT]);

		printf("    => ember adds %+.1f%% CPU per request over direct (goal < 15%%: %s)\n",
		       pct(e, d), pct(e, d) < 15 ? "met" : "missed");
		if (on & (1u << M_HOP)) {
			double h = io_cpu(M_HOP, &best[M_HOP]);

			printf(
			    "       of which: thread hop %+.1f%% over direct, virtio device model "
			    "%+.1f%% over the hop\n",
			    pct(h, d), pct(e, h));
		}
	}
}

/* ---- io_engine Sync vs Async (-e) ---- */

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

/* Median of v[0..n) (sorts v). */
static double median(double *v, int n)
{
	qsort(v, (size_t)n, sizeof(*v), cmp_double);
	return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

static int bench_open(struct bench *b, bool async)
{
	blkfix_io_async = async;
	if (blkfix_init(&b->f, FILE_SIZE, RAM_SIZE, false, NULL) < 0)
		return -1;
	b->bufs = vdrv_alloc(&b->f.d, (uint64_t)MAX_QD * 131072, 4096);
	b->hs = vdrv_alloc(&b->f.d, 32ULL * MAX_QD, 16);
	b->fd = open(b->f.path, O_RDWR);
	if (!b->bufs || !b->hs || b->fd < 0) {
		if (b->fd >= 0)
			close(b->fd);
		blkfix_fini(&b->f);
		return -1;
	}
	memset(vdrv_ptr(&b->f.d, b->bufs, (uint64_t)MAX_QD * 131072), 0x5c,
	       (uint64_t)MAX_QD * 131072);
	return 0;
}

static void bench_close(struct bench *b)
{
	close(b->fd);
	blkfix_fini(&b->f);
}

#define MAX_ROUNDS 64

static int engines_main(double scale, int rounds, const char *only)
{
	static const char *const ename[2] = {"Sync", "Async"};
	struct workload wl[] = {
	    {"4KiB sequential read, QD32", 4096, false, false, 32, 100000},
	    {"4KiB random read, QD32", 4096, false, true, 32, 100000},
	    {"4KiB sequential write, QD32", 4096, true, false, 32, 100000},
	    {"4KiB random write, QD32", 4096, true, true, 32, 100000},
	    {"4KiB random read, QD1", 4096, false, true, 1, 30000},
	};
	struct bench b[2];
	int rc = 0;

	if (rounds > MAX_ROUNDS)
		rounds = MAX_ROUNDS;
	for (int e = 0; e < 2; e++)
		if (bench_open(&b[e], e == 1) < 0) {
			fprintf(stderr, "blk_bench: set-up of the %s device failed%s\n", ename[e],
				e ? " (no io_uring here?)" : "");
			if (e)
				bench_close(&b[0]);
			return 1;
		}
	printf("virtio-blk io_engine Sync (preadv/pwritev on the VMM thread) vs Async (io_uring):\n"
	       "  two devices, files on %s (%llu MiB each), the same requests through the "
	       "guest-less\n  harness (driver thread + VMM thread), %d rounds alternating the "
	       "engines; median [min..max]\n",
	       blkfix_dir(), (unsigned long long)(FILE_SIZE >> 20), rounds);
	printf("  CPU us/req: the VMM thread's, and all threads' (driver, VMM thread, io_uring's "
	       "kernel workers)\n");
	printf("\n  %-28s %-6s %24s %20s %20s\n", "workload", "engine", "req/s",
	       "VMM CPU us/req", "all CPU us/req");
	for (size_t k = 0; k < sizeof(wl) / sizeof(wl[0]) && rc == 0; k++) {
		struct workload *w = &wl[k];
		double rate[2][MAX_ROUNDS], cpu[2][MAX_ROUNDS], all[2][MAX_ROUNDS], med[2];
		uint64_t *sectors;

		if (only && strncmp(w->name, only, strlen(only)))
			continue;
		if (!(sectors = workload_prepare(w, scale))) {
			rc = 1;
			break;
		}
		for (int round = 0; round < rounds && rc == 0; round++)
			for (int e = 0; e < 2 && rc == 0; e++) {
				/* alternate which engine goes first */
				int x = (round + e) % 2;
				struct result r = {0};
				double p0 = process_cpu_s();

				if (run_ember(&b[x], w, sectors, &r) < 0) {
					fprintf(stderr, "blk_bench: %s: %s failed\n", w->name, ename[x]);
					rc = 1;
				}
				rate[x][round] = (double)w->n / r.wall_s;
				cpu[x][round] = us_per(r.dev_cpu_s, w->n);
				all[x][round] = us_per(process_cpu_s() - p0, w->n);
			}
		free(sectors);
		if (rc)
			break;
		for (int e = 0; e < 2; e++) {
			double c, a;

			med[e] = median(rate[e], rounds);
			c = median(cpu[e], rounds);
			a = median(all[e], rounds);
			printf("  %-28s %-6s %8.0f [%6.0f..%6.0f] %5.2f [%5.2f..%5.2f] %5.2f "
			       "[%5.2f..%5.2f]\n",
			       e ? "" : w->name, ename[e], med[e], rate[e][0], rate[e][rounds - 1],
			       c, cpu[e][0], cpu[e][rounds - 1], a, all[e][0],
			       all[e][rounds - 1]);
		}
		printf("  %-28s => Async / Sync req/s: %.2fx\n", "", med[1] / med[0]);
	}
	bench_close(&b[0]);
	bench_close(&b[1]);
	return rc;
}

static unsigned parse_modes(const char *s)
{
	unsigned m = 0;

	for (int i = 0; i < M_COUNT; i++)
		if (strstr(s, modes[i].name))
			m |= 1u << i;
	return m;
}

int main(int argc, char **argv)
{
	double scale = 1.0;
	const char *only = NULL;
	unsigned on = (1u << M_COUNT) - 1;
	int rounds = DEFAULT_ROUNDS, rc = 0;
	struct workload wl[] = {
	    {"4KiB random read, QD1", 4096, false, true, 1, 100000},
	    {"4KiB random read, QD32", 4096, false, true, 32, 200000},
	    {"128KiB sequential read", 131072, false, false, 8, 20000},
	    {"128KiB sequential write", 131072, true, false, 8, 20000},
	};
	struct {
		const char *name;
		double ratio, model;
		bool has_model;
	} sum[sizeof(wl) / sizeof(wl[0])];
	size_t nsum = 0;
	struct bench b;
	bool engines = false;

	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "-e"))
			engines = true;
		else if (!strcmp(argv[i], "-s") && i + 1 < argc)
			scale = atof(argv[++i]);
		else if (!strcmp(argv[i], "-w") && i + 1 < argc)
			only = argv[++i];
		else if (!strcmp(argv[i], "-r") && i + 1 < argc)
			rounds = atoi(argv[++i]);
		else if (!strcmp(argv[i], "-m") && i + 1 < argc)
			on = parse_modes(argv[++i]);
		else {
			fprintf(stderr,
				"usage: blk_bench [-e] [-s scale] [-r rounds] [-w workload-prefix] "
				"[-m direct,ember,hop,1thread]\n");
			return 2;
		}
	}
	if (rounds < 1)
		rounds = 1;
	log_set_level(LOG_ERROR);
	if (engines)
		return engines_main(scale, rounds, only);
	if (bench_open(&b, false) < 0) {
		fprintf(stderr, "blk_bench: set-up failed\n");
		return 1;
	}
	printf("virtio-blk device model vs direct preadv/pwritev: file on %s (%llu MiB), "
	       "best of %d rounds\n",
	       blkfix_dir(), (unsigned long long)(FILE_SIZE >> 20), rounds);
	printf("  CPU/req is the CPU time (user + system) of the thread doing the I/O:\n"
	       "  direct = preadv/pwritev on the calling thread; ember = the VMM thread (epoll "
	       "wake-up on the\n"
	       "  queue eventfd, chain checks, preadv/pwritev into guest buffers, used ring, "
	       "interrupt eventfd),\n"
	       "  the fake driver on another thread kicking/waiting like KVM's "
	       "ioeventfd/irqfd would let it.\n");
	for (size_t k = 0; k < sizeof(wl) / sizeof(wl[0]); k++) {
		struct workload *w = &wl[k];
		struct result best[M_COUNT];
		uint64_t *sectors;

		if (only && strncmp(w->name, only, strlen(only)))
			continue;
		if (!(sectors = workload_prepare(w, scale)))
			return 1;
		for (int m = 0; m < M_COUNT; m++)
			best[m] = (struct result){1e9, 1e9, 1e9, 0, 0, 0};
		for (int round = 0; round < rounds && rc == 0; round++) {
			for (int m = 0; m < M_COUNT && rc == 0; m++) {
				struct result r = {0};

				if (!(on & (1u << m)))
					continue;
				if (modes[m].run(&b, w, sectors, &r) < 0) {
					fprintf(stderr, "blk_bench: %s: %s path failed\n", w->name,
						modes[m].name);
					rc = 1;
				} else {
					keep_best(&best[m], &r);
				}
			}
		}
		free(sectors);
		if (rc)
			break;
		print_workload(w, best, on);
		if ((on & (1u << M_EMBER)) && (on & (1u << M_DIRECT))) {
			sum[nsum].name = w->name;
			sum[nsum].ratio =
			    pct(io_cpu(M_EMBER, &best[M_EMBER]), io_cpu(M_DIRECT, &best[M_DIRECT]));
			sum[nsum].has_model = on & (1u << M_HOP);
			sum[nsum].model =
			    pct(io_cpu(M_EMBER, &best[M_EMBER]), io_cpu(M_HOP, &best[M_HOP]));
			nsum++;
		}
	}
	if (nsum) {
		printf("\n  summary: ember VMM-thread CPU per request vs direct preadv/pwritev "
		       "(goal < 15%%)\n");
		for (size_t k = 0; k < nsum; k++) {
			printf("    %-26s %+7.1f%%  %-6s", sum[k].name, sum[k].ratio,
			       sum[k].ratio < 15 ? "met" : "missed");
			if (sum[k].has_model)
				printf("  (virtio device model alone, vs the thread hop: %+.1f%%)",
				       sum[k].model);
			printf("\n");
		}
	}
	bench_close(&b);
	return rc;
}
