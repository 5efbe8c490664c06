/* virtio-blk device-model throughput through the guest-less harness, next to
 * the same I/O done directly with preadv/pwritev in the same run.
 *
 * The ember path per batch: the driver writes descriptors and the avail ring
 * in fake guest RAM, kicks (QueueNotify through the MMIO bus -> eventfd), the
 * event loop (the VMM thread) wakes, the device validates the chains, does
 * preadv/pwritev straight into guest buffers, fills the used ring and writes
 * the interrupt eventfd. Everything runs on this one thread, so its CPU time
 * is the device model's cost plus the driver's small share.
 *
 * Usage: blk_bench [-q] [-s seconds-ish scale] — prints one line per
 * workload; best of several alternating rounds. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include "device/blkfix.h"
#include "ember/log.h"

#define FILE_SIZE (128ULL << 20)
#define RAM_SIZE (64ULL << 20)
#define MAX_QD 64
#define ROUNDS 7

struct workload {
	const char *name;
	uint32_t bs;
	bool write;
	bool random;
	int qd;
	uint64_t n;
};

struct result {
	double wall_s, cpu_s;
};

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static double cpu_s(void)
{
	struct rusage ru;

	getrusage(RUSAGE_THREAD, &ru);
	return (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 +
	       (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
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

static int run_ember(struct blkfix *f, const struct workload *w, const uint64_t *sectors,
		     uint64_t bufs, uint64_t hs, struct result *res)
{
	struct vdriver *d = &f->d;
	uint32_t type = w->write ? VIRTIO_BLK_T_OUT : VIRTIO_BLK_T_IN;
	double t0 = now_s(), c0 = cpu_s();

	for (uint64_t i = 0; i < w->n; i += (uint64_t)w->qd) {
		int batch = (int)(w->n - i < (uint64_t)w->qd ? w->n - i : (uint64_t)w->qd);
		uint16_t old = d->q[0].avail_idx;

		for (int j = 0; j < batch; j++) {
			struct vd_buf b = {bufs + (uint64_t)j * w->bs, w->bs, !w->write};

			if (vdrv_blk_submit(d, 0, type, sectors[i + (uint64_t)j], &b, 1, false,
					    hs + 32ULL * (uint64_t)j) < 0)
				return -ENOSPC;
		}
		if (vdrv_kick_needed(d, 0, old))
			vdrv_kick(d, 0);
		for (int j = 0; j < batch; j++) {
			uint32_t id, len;

			if (vdrv_wait_used(d, 0, VDRV_WAIT_MS, &id, &len) < 0)
				return -ETIMEDOUT;
			vdrv_free_chain(d, 0, (uint16_t)id);
		}
		for (int j = 0; j < batch; j++)
			if (*(uint8_t *)vdrv_ptr(d, hs + 32ULL * (uint64_t)j + 16, 1) !=
			    VIRTIO_BLK_S_OK)
				return -EIO;
	}
	res->cpu_s = cpu_s() - c0;
	res->wall_s = now_s() - t0;
	vdrv_irqs(d);
	return 0;
}

static int run_direct(struct blkfix *f, int fd, const struct workload *w, const uint64_t *sectors,
		      uint64_t bufs, struct result *res)
{
	double t0 = now_s(), c0 = cpu_s();

	for (uint64_t i = 0; i < w->n; i++) {
		struct iovec iov = {vdrv_ptr(&f->d, bufs + (i % (uint64_t)w->qd) * w->bs, w->bs),
				    w->bs};
		off_t off = (off_t)(sectors[i] * 512);
		ssize_t r = w->write ? pwritev(fd, &iov, 1, off) : preadv(fd, &iov, 1, off);

		if (r != (ssize_t)w->bs)
			return -EIO;
	}
	res->cpu_s = cpu_s() - c0;
	res->wall_s = now_s() - t0;
	return 0;
}

static void print_row(const struct workload *w, const char *who, const struct result *r)
{
	double rps = (double)w->n / r->wall_s;

	printf("  %-26s %-7s %10.0f req/s %9.1f MB/s %8.2f us CPU/req\n", w->name, who, rps,
	       rps * w->bs / 1e6, r->cpu_s * 1e6 / (double)w->n);
}

int main(int argc, char **argv)
{
	double scale = 1.0;
	struct workload wl[] = {
	    {"4KiB random read, QD1", 4096, false, true, 1, 100000},
	    {"4KiB random read, QD32", 4096, false, true, 32, 200000},
	    {"128KiB sequential read", 131072, false, false, 8, 20000},
	    {"128KiB sequential write", 131072, true, false, 8, 20000},
	};
	struct blkfix f;
	uint64_t bufs, hs;
	int fd, rc = 0;

	for (int i = 1; i < argc; i++)
		if (!strcmp(argv[i], "-s") && i + 1 < argc)
			scale = atof(argv[++i]);
	log_set_level(LOG_ERROR);
	if (blkfix_init(&f, FILE_SIZE, RAM_SIZE, false, NULL) < 0) {
		fprintf(stderr, "blk_bench: set-up failed: %s\n", strerror(errno));
		return 1;
	}
	bufs = vdrv_alloc(&f.d, (uint64_t)MAX_QD * 131072, 4096);
	hs = vdrv_alloc(&f.d, 32ULL * MAX_QD, 16);
	fd = open(f.path, O_RDWR);
	if (!bufs || !hs || fd < 0) {
		fprintf(stderr, "blk_bench: set-up failed\n");
		blkfix_fini(&f);
		return 1;
	}
	memset(vdrv_ptr(&f.d, bufs, (uint64_t)MAX_QD * 131072), 0x5c, (uint64_t)MAX_QD * 131072);
	printf(
	    "virtio-blk device model vs direct preadv/pwritev (file on %s, %llu MiB, best of %d)\n",
	    blkfix_dir(), (unsigned long long)(FILE_SIZE >> 20), ROUNDS);
	printf("  (ember = kick via QueueNotify -> eventfd, epoll wake, chain checks, "
	       "preadv/pwritev into\n"
	       "   guest buffers, used ring, irq eventfd; batches of QD requests per kick)\n");
	for (size_t k = 0; k < sizeof(wl) / sizeof(wl[0]); k++) {
		struct workload *w = &wl[k];
		struct result best_e = {1e9, 1e9}, best_d = {1e9, 1e9}, r;
		uint64_t *sectors;

		w->n = (uint64_t)((double)w->n * scale);
		if (w->n < (uint64_t)w->qd)
			w->n = (uint64_t)w->qd;
		sectors = make_sectors(w);
		if (!sectors)
			return 1;
		for (int round = 0; round < ROUNDS; round++) {
			if (run_ember(&f, w, sectors, bufs, hs, &r) < 0) {
				fprintf(stderr, "blk_bench: %s: ember path failed\n", w->name);
				rc = 1;
				break;
			}
			if (r.wall_s < best_e.wall_s)
				best_e.wall_s = r.wall_s;
			if (r.cpu_s < best_e.cpu_s)
				best_e.cpu_s = r.cpu_s;
			if (run_direct(&f, fd, w, sectors, bufs, &r) < 0) {
				fprintf(stderr, "blk_bench: %s: direct path failed\n", w->name);
				rc = 1;
				break;
			}
			if (r.wall_s < best_d.wall_s)
				best_d.wall_s = r.wall_s;
			if (r.cpu_s < best_d.cpu_s)
				best_d.cpu_s = r.cpu_s;
		}
		free(sectors);
		if (rc)
			break;
		print_row(w, "ember", &best_e);
		print_row(w, "direct", &best_d);
		printf("  %-26s overhead: %+.1f%% time, %+.1f%% CPU (goal < 15%%)\n", w->name,
		       (best_e.wall_s / best_d.wall_s - 1) * 100,
		       (best_e.cpu_s / best_d.cpu_s - 1) * 100);
	}
	close(fd);
	blkfix_fini(&f);
	return rc;
}
