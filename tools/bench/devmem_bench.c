/* virtio-mem and virtio-pmem through the guest-less harness (tests/device):
 *
 *  - virtio-mem: 1 GiB of hotplug memory (2 MiB blocks, 128 MiB slots) is
 *    plugged in requests of 32 blocks, every page written by the "guest",
 *    then unplugged the same way: requests per second each way, and the host
 *    memory the hotplug memfd holds before and after the unplug (what
 *    returns to the host).
 *  - virtio-pmem: a FLUSH request after 64 dirtied 4 KiB pages of a 64 MiB
 *    file in $TMPDIR (default /tmp), median latency, next to a plain
 *    fdatasync() of the same file after the same writes in the same run.
 *  - virtio-rng (entropy): 4 MiB handed out in 4 KiB and in 64 KiB
 *    requests, unlimited, next to getrandom() of the same sizes (the device's
 *    own cost per request over the host's source).
 *  - serial output (serial_out_path): 256 KiB written by the "guest" one byte
 *    per THR write (each a port write KVM hands to ember) to a file in
 *    $TMPDIR, next to the same bytes in one write() per byte; and the same
 *    MiB against a 64 KiB/s rate limit: the bytes that go out and are dropped.
 * Usage: devmem_bench */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <fcntl.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <linux/virtio_mem.h>
#include <linux/virtio_pmem.h>

#include "device/vdriver.h"
#include "ember/log.h"
#include "ember/virtio_mem.h"
#include "ember/serial.h"
#include "ember/virtio_pmem.h"
#include "ember/virtio_rng.h"

#define HP_GPA (4ULL << 30)
#define HP_SIZE (1024 * MiB)
#define BLOCK (2 * MiB)
#define PER_REQ 32
#define FLUSHES 41
#define PMEM_SIZE (64 * MiB)

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int cmp_d(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

/* One request on queue 0 of d, answered; returns the response type. */
static int request(struct vdriver *d, uint64_t rq, uint32_t rqlen, uint64_t rs, uint32_t rslen)
{
	struct vd_buf b[2] = {{rq, rqlen, false}, {rs, rslen, true}};
	uint32_t id, len;
	int head = vdrv_add_chain(d, 0, b, 2, false);

	if (head < 0)
		return -1;
	vdrv_kick(d, 0);
	if (vdrv_wait_used(d, 0, VDRV_WAIT_MS, &id, &len) < 0)
		return -1;
	vdrv_free_chain(d, 0, (uint16_t)id);
	return 0;
}

static uint64_t memfd_bytes(int fd)
{
	struct stat st;

	return fstat(fd, &st) == 0 ? (uint64_t)st.st_blocks * 512 : 0;
}

static int bench_mem(void)
{
	struct memhp_cfg cfg = {.present = true,
				.total_size_mib = HP_SIZE / MiB,
				.block_size_mib = BLOCK / MiB,
				.slot_size_mib = 128};
	struct vdriver d;
	struct virtio_mem *m;
	uint64_t rq, rs, held, after;
	struct virtio_mem_req *r;
	struct virtio_mem_resp *p;
	int nreq = (int)(HP_SIZE / BLOCK / PER_REQ);
	double t0, plug, unplug, touch;

	if (vdrv_init(&d, 4 * MiB) < 0 || gm_hotplug_init(&d.gm, HP_GPA, HP_SIZE, 128 * MiB) < 0 ||
	    virtio_mem_create(&cfg, &d.gm, NULL, &d.el, &m) < 0 || vdrv_attach(&d, &m->vdev) < 0 ||
	    vdrv_setup(&d,
		       VIRTIO_FEATURE(VIRTIO_F_VERSION_1) |
			   VIRTIO_FEATURE(VIRTIO_MEM_F_UNPLUGGED_INACCESSIBLE),
		       1, 16) < 0)
		return -1;
	virtio_mem_set_requested(m, HP_SIZE);
	rq = vdrv_alloc(&d, sizeof(*r), 8);
	rs = vdrv_alloc(&d, sizeof(*p), 8);
	r = vdrv_ptr(&d, rq, sizeof(*r));
	p = vdrv_ptr(&d, rs, sizeof(*p));
	t0 = now_s();
	for (int i = 0; i < nreq; i++) {
		memset(r, 0, sizeof(*r));
		r->type = VIRTIO_MEM_REQ_PLUG;
		r->u.plug.addr = HP_GPA + (uint64_t)i * PER_REQ * BLOCK;
		r->u.plug.nb_blocks = PER_REQ;
		if (request(&d, rq, sizeof(*r), rs, sizeof(*p)) < 0 ||
		    p->type != VIRTIO_MEM_RESP_ACK)
			return -1;
	}
	plug = now_s() - t0;
	t0 = now_s();
	memset(gm_slice(&d.gm, HP_GPA, HP_SIZE), 0x5a, HP_SIZE); /* the guest uses it all */
	touch = now_s() - t0;
	held = memfd_bytes(d.gm.hotplug.fd);
	virtio_mem_set_requested(m, 0);
	t0 = now_s();
	for (int i = 0; i < nreq; i++) {
		memset(r, 0, sizeof(*r));
		r->type = VIRTIO_MEM_REQ_UNPLUG;
		r->u.unplug.addr = HP_GPA + (uint64_t)i * PER_REQ * BLOCK;
		r->u.unplug.nb_blocks = PER_REQ;
		if (request(&d, rq, sizeof(*r), rs, sizeof(*p)) < 0 ||
		    p->type != VIRTIO_MEM_RESP_ACK)
			return -1;
	}
	unplug = now_s() - t0;
	after = memfd_bytes(d.gm.hotplug.fd);
	printf("virtio-mem: plug 1 GiB in %d requests of %d x 2 MiB: %.2f ms (%.0f requests/s; 8 "
	       "slots made accessible, no KVM in the harness)\n",
	       nreq, PER_REQ, plug * 1e3, nreq / plug);
	printf("virtio-mem: the guest writes all of it: %.0f ms (%.2f GiB/s, page faults of the "
	       "memfd)\n",
	       touch * 1e3, 1.0 / touch);
	printf("virtio-mem: unplug it (blocks punched out of the memfd): %.2f ms (%.0f requests/s, "
	       "%.2f GiB/s released)\n",
	       unplug * 1e3, nreq / unplug, (double)(held - after) / (1 << 30) / unplug);
	printf("virtio-mem: host memory held by the hotplug memfd: %llu MiB plugged and written, "
	       "%llu MiB after the unplug\n",
	       (unsigned long long)(held / MiB), (unsigned long long)(after / MiB));
	virtio_mem_destroy(m);
	vdrv_destroy(&d);
	return after == 0 ? 0 : -1;
}

static int bench_pmem(void)
{
	const char *dir = getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp";
	struct vdriver d;
	struct virtio_pmem *pm;
	struct pmem_cfg cfg = {.id = "bench"};
	char path[256];
	double dev[FLUSHES], raw[FLUSHES];
	uint64_t rq, rs;

	if (vdrv_make_file(dir, PMEM_SIZE, 1, path) < 0)
		return -1;
	cfg.path = path;
	if (vdrv_init(&d, 4 * MiB) < 0 || virtio_pmem_create(&cfg, HP_GPA, &d.gm, &d.el, &pm) < 0 ||
	    vdrv_attach(&d, &pm->vdev) < 0 ||
	    vdrv_setup(&d, VIRTIO_FEATURE(VIRTIO_F_VERSION_1), 1, 16) < 0)
		return -1;
	rq = vdrv_alloc(&d, 4, 4);
	rs = vdrv_alloc(&d, 4, 4);
	*(uint32_t *)vdrv_ptr(&d, rq, 4) = VIRTIO_PMEM_REQ_TYPE_FLUSH;
	for (int i = 0; i < FLUSHES; i++) {
		double t0;

		for (int k = 0; k < 64; k++) /* the guest's stores */
			pm->hva[(uint64_t)((i * 64 + k) * 7919 % (PMEM_SIZE / 4096)) * 4096] =
			    (uint8_t)i;
		t0 = now_s();
		if (request(&d, rq, 4, rs, 4) < 0 || *(uint32_t *)vdrv_ptr(&d, rs, 4) != 0)
			return -1;
		dev[i] = now_s() - t0;
		for (int k = 0; k < 64; k++)
			pm->hva[(uint64_t)((i * 64 + k) * 104729 % (PMEM_SIZE / 4096)) * 4096] =
			    (uint8_t)(i + 1);
		t0 = now_s();
		if (fdatasync(pm->fd) < 0)
			return -1;
		raw[i] = now_s() - t0;
	}
	qsort(dev, FLUSHES, sizeof(double), cmp_d);
	qsort(raw, FLUSHES, sizeof(double), cmp_d);
	printf("virtio-pmem: FLUSH after 64 dirtied pages of a 64 MiB file in %s: median %.3f ms, "
	       "plain fdatasync %.3f ms (ratio %.2f)\n",
	       dir, dev[FLUSHES / 2] * 1e3, raw[FLUSHES / 2] * 1e3,
	       raw[FLUSHES / 2] > 0 ? dev[FLUSHES / 2] / raw[FLUSHES / 2] : 0.0);
	virtio_pmem_destroy(pm);
	vdrv_destroy(&d);
	unlink(path);
	return 0;
}

#define RNG_TOTAL (4 * MiB)

static int bench_rng(void)
{
	static uint8_t buf[64 * 1024];
	const uint32_t sizes[] = {4096, 64 * 1024};
	struct rng_cfg cfg = {.present = true};
	struct vdriver d;
	struct virtio_rng *rng;

	if (vdrv_init(&d, 4 * MiB) < 0 || virtio_rng_create(&cfg, &d.gm, &d.el, &rng) < 0 ||
	    vdrv_attach(&d, &rng->vdev) < 0 ||
	    vdrv_setup(&d, VIRTIO_FEATURE(VIRTIO_F_VERSION_1), 1, 16) < 0)
		return -1;
	for (unsigned k = 0; k < 2; k++) {
		uint32_t sz = sizes[k], n = (uint32_t)(RNG_TOTAL / sz);
		uint64_t b = vdrv_alloc(&d, sz, 8);
		struct vd_buf vb = {b, sz, true};
		double t0 = now_s(), dev, raw;

		for (uint32_t i = 0; i < n; i++) {
			uint32_t id, len;
			int head = vdrv_add_chain(&d, 0, &vb, 1, false);

			if (head < 0)
				return -1;
			vdrv_kick(&d, 0);
			if (vdrv_wait_used(&d, 0, VDRV_WAIT_MS, &id, &len) < 0 || len != sz)
				return -1;
			vdrv_free_chain(&d, 0, (uint16_t)id);
		}
		dev = now_s() - t0;
		t0 = now_s();
		for (uint32_t i = 0; i < n; i++)
			for (uint32_t off = 0; off < sz;) {
				ssize_t g = getrandom(buf + off, sz - off, 0);

				if (g <= 0)
					return -1;
				off += (uint32_t)g;
			}
		raw = now_s() - t0;
		printf(
		    "virtio-rng: %llu MiB in %u requests of %u KiB: %.0f MiB/s (%.1f us/request), "
		    "getrandom() of the same: %.0f MiB/s (ratio %.2f)\n",
		    (unsigned long long)(RNG_TOTAL / MiB), n, sz / 1024, RNG_TOTAL / MiB / dev,
		    dev * 1e6 / n, RNG_TOTAL / MiB / raw, dev / raw);
	}
	virtio_rng_destroy(rng);
	vdrv_destroy(&d);
	return 0;
}

static void no_irq(void *opaque, int level)
{
	(void)opaque;
	(void)level;
}

#define SERIAL_BYTES (256 << 10)

static int bench_serial(void)
{
	const char *dir = getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp";
	struct token_bucket_cfg limit = {
	    .present = true, .size = 64 * 1024, .refill_time_ms = 1000};
	char path[256];
	struct serial s;
	double t0, dev, raw;
	uint64_t out, dropped;
	int fd;

	snprintf(path, sizeof(path), "%s/ember-serial-bench.XXXXXX", dir);
	if ((fd = mkstemp(path)) < 0)
		return -1;
	unlink(path);
	serial_init(&s, fd, no_irq, NULL);
	t0 = now_s();
	for (int i = 0; i < SERIAL_BYTES; i++) {
		uint8_t c = (uint8_t)('a' + i % 26);

		serial_bus_ops.write(&s, 0, &c, 1);
	}
	dev = now_s() - t0;
	t0 = now_s();
	for (int i = 0; i < SERIAL_BYTES; i++) {
		uint8_t c = (uint8_t)('a' + i % 26);

		if (write(fd, &c, 1) != 1)
			return -1;
	}
	raw = now_s() - t0;
	printf("serial output to a file: 256 KiB in 1-byte THR writes: %.2f MiB/s (%.2f us/byte), "
	       "write() per byte: %.2f MiB/s (ratio %.2f)\n",
	       0.25 / dev, dev * 1e6 / SERIAL_BYTES, 0.25 / raw, dev / raw);
	serial_set_out_limit(&s, &limit);
	out = (uint64_t)lseek(fd, 0, SEEK_END);
	t0 = now_s();
	for (int i = 0; i < SERIAL_BYTES; i++) {
		uint8_t c = '.';

		serial_bus_ops.write(&s, 0, &c, 1);
	}
	dev = now_s() - t0;
	out = (uint64_t)lseek(fd, 0, SEEK_END) - out;
	dropped = s.counters.rate_limiter_dropped_bytes;
	printf(
	    "serial output at a 64 KiB/s limit: 256 KiB written in %.0f ms, %llu KiB out, %llu KiB "
	    "dropped (uart.rate_limiter_dropped_bytes)\n",
	    dev * 1e3, (unsigned long long)(out / 1024), (unsigned long long)(dropped / 1024));
	serial_destroy(&s);
	close(fd);
	return out + dropped == SERIAL_BYTES ? 0 : -1;
}

int main(void)
{
	log_set_level(LOG_WARN);
	if (bench_mem() < 0) {
		fprintf(stderr, "devmem_bench: virtio-mem round failed\n");
		return 1;
	}
	if (bench_pmem() < 0) {
		fprintf(stderr, "devmem_bench: virtio-pmem round failed: %s\n", strerror(errno));
		return 1;
	}
	if (bench_rng() < 0) {
		fprintf(stderr, "devmem_bench: virtio-rng round failed\n");
		return 1;
	}
	if (bench_serial() < 0) {
		fprintf(stderr, "devmem_bench: serial round failed: %s\n", strerror(errno));
		return 1;
	}
	return 0;
}
