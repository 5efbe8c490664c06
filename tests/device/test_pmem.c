/* virtio-pmem driven by the harness driver: config space names the mapping
 * (2 MiB-rounded, past RAM), stores through the mapping reach the file and a
 * FLUSH answers 0, read-only files are mapped without write permission and
 * never change, hostile chains (short, read-only answers, outside guest
 * memory, unknown types) are answered without harm, the ops rate limiter
 * holds flushes back until its timer, PATCH-style limiter updates apply,
 * and reset/re-activation works. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <linux/virtio_pmem.h>

#include "ember/event_loop.h"
#include "ember/metrics.h"
#include "ember/virtio_pmem.h"
#include "vdriver.h"

#define MEM (4 * 1024 * 1024)
#define QSIZE 16
#define GPA (8ULL << 30)

struct fix {
	struct vdriver d;
	struct virtio_pmem *pm;
	char path[128];
};

static struct fix *fix_new_size(bool read_only, const struct rate_limiter_cfg *rl, uint64_t size)
{
	struct fix *f = calloc(1, sizeof(*f));
	struct pmem_cfg cfg = {.id = "pm0", .read_only = read_only};

	assert_non_null(f);
	assert_int_equal(vdrv_make_file("/tmp", size, 7, f->path), 0);
	cfg.path = f->path;
	if (rl)
		cfg.rate_limiter = *rl;
	assert_int_equal(vdrv_init(&f->d, MEM), 0);
	assert_int_equal(virtio_pmem_create(&cfg, GPA, &f->d.gm, &f->d.el, &f->pm), 0);
	assert_int_equal(vdrv_attach(&f->d, &f->pm->vdev), 0);
	assert_int_equal(vdrv_setup(&f->d, VIRTIO_FEATURE(VIRTIO_F_VERSION_1), 1, QSIZE), 0);
	return f;
}

static struct fix *fix_new(bool read_only, const struct rate_limiter_cfg *rl)
{
	return fix_new_size(read_only, rl, 3 * 1024 * 1024 + 100);
}

static void fix_free(struct fix *f)
{
	virtio_pmem_destroy(f->pm);
	vdrv_destroy(&f->d);
	unlink(f->path);
	free(f);
}

static struct virtio_pmem_counters counters(struct fix *f)
{
	struct virtio_pmem_counters c;

	virtio_pmem_get_counters(f->pm, &c);
	return c;
}

/* A request chain: type at req, answer at resp; returns used length, the
 * answer in *ret (0xdeadbeef if untouched). */
static uint32_t request_bufs(struct fix *f, const struct vd_buf *b, int n, uint64_t resp,
			     uint32_t *ret)
{
	uint32_t id, len;
	int head;

	if (resp)
		*(uint32_t *)vdrv_ptr(&f->d, resp, 4) = 0xdeadbeef;
	head = vdrv_add_chain(&f->d, 0, b, n, false);
	assert_true(head >= 0);
	vdrv_kick(&f->d, 0);
	assert_int_equal(vdrv_wait_used(&f->d, 0, VDRV_WAIT_MS, &id, &len), 0);
	assert_int_equal(id, (uint32_t)head);
	vdrv_free_chain(&f->d, 0, (uint16_t)id);
	if (resp)
		*ret = *(uint32_t *)vdrv_ptr(&f->d, resp, 4);
	return len;
}

static uint32_t flush(struct fix *f, uint32_t type, uint32_t *ret)
{
	uint64_t req = vdrv_alloc(&f->d, 4, 4), resp = vdrv_alloc(&f->d, 4, 4);
	struct vd_buf b[2] = {{req, 4, false}, {resp, 4, true}};

	*(uint32_t *)vdrv_ptr(&f->d, req, 4) = type;
	return request_bufs(f, b, 2, resp, ret);
}

static void test_config_and_flush(void **state)
{
	struct fix *f = fix_new(false, NULL);
	struct virtio_pmem_config cfg;
	uint8_t buf[16];
	uint32_t ret;
	int fd;

	(void)state;
	assert_int_equal(vdrv_read32(&f->d, VIRTIO_MMIO_DEVICE_ID), VIRTIO_ID_PMEM);
	vdrv_config_read(&f->d, 0, &cfg, sizeof(cfg));
	assert_int_equal(cfg.start, GPA);
	assert_int_equal(cfg.size, 4ULL << 20); /* 3 MiB + 100 rounded up to 2 MiB */
	assert_int_equal(virtio_pmem_map_size(1), 2ULL << 20);
	assert_int_equal(virtio_pmem_map_size(2ULL << 20), 2ULL << 20);

	/* The file's bytes are what the guest sees; its stores reach the file. */
	vdrv_pattern(buf, 4096, sizeof(buf), 7);
	assert_memory_equal(f->pm->hva + 4096, buf, sizeof(buf));
	memcpy(f->pm->hva + 8192, "guest wrote this", 16);
	f->pm->hva[(3 << 20) + 200] = 0x77; /* past the file: anonymous, kept out */
	assert_int_equal(flush(f, VIRTIO_PMEM_REQ_TYPE_FLUSH, &ret), 4);
	assert_int_equal(ret, 0);
	assert_int_equal(counters(f).flush_count, 1);
	fd = open(f->path, O_RDONLY);
	assert_true(fd >= 0);
	assert_int_equal(pread(fd, buf, 16, 8192), 16);
	assert_memory_equal(buf, "guest wrote this", 16);
	assert_int_equal(lseek(fd, 0, SEEK_END), 3 * 1024 * 1024 + 100); /* size unchanged */
	close(fd);
	/* Firecracker's "pmem_<id>" group gets the deltas, once. */
	f->pm->vdev.ops->publish_metrics(&f->pm->vdev);
	f->pm->vdev.ops->publish_metrics(&f->pm->vdev);
	assert_non_null(metrics_pmem_get(f->pm->id));
	assert_int_equal(metrics_pmem_get(f->pm->id)->flush_count, 1);
	assert_int_equal(metrics_pmem_get(f->pm->id)->queue_event_count, 1);
	fix_free(f);
}

/* The permissions of the host mapping that starts at p ("rw-s", ...). */
static void map_perms(const void *p, char perms[5])
{
	FILE *fp = fopen("/proc/self/maps", "r");
	char line[512];

	assert_non_null(fp);
	perms[0] = 0;
	while (fgets(line, sizeof(line), fp)) {
		unsigned long start;
		char pr[5];

		if (sscanf(line, "%lx-%*x %4s", &start, pr) == 2 && start == (uintptr_t)p) {
			memcpy(perms, pr, 5);
			break;
		}
	}
	fclose(fp);
}

static void test_read_only(void **state)
{
	struct fix *f = fix_new(true, NULL), *w = fix_new(false, NULL);
	char perms[5];
	uint32_t ret;

	(void)state;
	/* Read-only: the file is mapped without write permission (and KVM gets
	 * a read-only slot); read-write: shared and writable. */
	map_perms(f->pm->hva, perms);
	assert_string_equal(perms, "r--s");
	map_perms(w->pm->hva, perms);
	assert_string_equal(perms, "rw-s");
	fix_free(w);
	assert_int_equal(flush(f, VIRTIO_PMEM_REQ_TYPE_FLUSH, &ret), 4);
	assert_int_equal(ret, 0);
	assert_int_equal(vdrv_file_matches(f->path, 3 * 1024 * 1024 + 100, 7), 0);
	fix_free(f);
}

static void test_hostile(void **state)
{
	struct fix *f = fix_new(false, NULL);
	uint64_t req = vdrv_alloc(&f->d, 4, 4), resp = vdrv_alloc(&f->d, 4, 4);
	struct vd_buf short_req[2] = {{req, 2, false}, {resp, 4, true}};
	struct vd_buf no_resp[1] = {{req, 4, false}};
	struct vd_buf ro_resp[2] = {{req, 4, false}, {resp, 4, false}};
	struct vd_buf outside[2] = {{req, 4, false}, {MEM - 2, 4, true}};
	struct vd_buf short_resp[2] = {{req, 4, false}, {resp, 2, true}};
	uint32_t ret;

	(void)state;
	*(uint32_t *)vdrv_ptr(&f->d, req, 4) = VIRTIO_PMEM_REQ_TYPE_FLUSH;
	assert_int_equal(request_bufs(f, short_req, 2, resp, &ret), 0);
	assert_int_equal(ret, 0xdeadbeef);
	assert_int_equal(request_bufs(f, no_resp, 1, 0, NULL), 0);
	assert_int_equal(request_bufs(f, ro_resp, 2, resp, &ret), 0);
	assert_int_equal(ret, 0xdeadbeef);
	assert_int_equal(request_bufs(f, short_resp, 2, resp, &ret), 0);
	assert_int_equal(request_bufs(f, outside, 2, 0, NULL), 0);
	assert_int_equal(counters(f).event_fails, 5);
	assert_int_equal(counters(f).flush_count, 0);
	/* An unknown request type is answered 1 (error). */
	assert_int_equal(flush(f, 7, &ret), 4);
	assert_int_equal(ret, 1);
	assert_int_equal(counters(f).flush_fails, 1);
	/* Config space is read-only: writes change nothing. */
	vdrv_write32(&f->d, 0x100, 0);
	assert_int_equal(vdrv_read32(&f->d, 0x100), (uint32_t)GPA);
	assert_int_equal(counters(f).cfg_fails, 1);
	assert_false(vdrv_needs_reset(&f->d));
	assert_int_equal(flush(f, VIRTIO_PMEM_REQ_TYPE_FLUSH, &ret), 4);
	assert_int_equal(ret, 0);
	fix_free(f);
}

static void test_bad_files(void **state)
{
	struct vdriver d;
	struct virtio_pmem *pm;
	struct pmem_cfg cfg = {.id = "x", .path = (char *)"/nonexistent/pmem"};
	char path[128];
	int fd;

	(void)state;
	assert_int_equal(vdrv_init(&d, MEM), 0);
	assert_true(virtio_pmem_create(&cfg, GPA, &d.gm, &d.el, &pm) < 0);
	cfg.path = (char *)"/tmp";
	assert_true(virtio_pmem_create(&cfg, GPA, &d.gm, &d.el, &pm) < 0); /* a directory */
	strcpy(path, "/tmp/ember-pmem-empty.XXXXXX");
	fd = mkstemp(path);
	assert_true(fd >= 0);
	close(fd);
	cfg.path = path;
	assert_true(virtio_pmem_create(&cfg, GPA, &d.gm, &d.el, &pm) < 0); /* empty */
	assert_int_equal(truncate(path, 4096), 0);
	assert_true(virtio_pmem_create(&cfg, GPA + 4096, &d.gm, &d.el, &pm) < 0); /* unaligned */
	assert_int_equal(virtio_pmem_create(&cfg, GPA, &d.gm, &d.el, &pm), 0);
	assert_int_equal(pm->size, 2ULL << 20);
	virtio_pmem_destroy(pm);
	unlink(path);
	vdrv_destroy(&d);
}

static void test_rate_limited(void **state)
{
	/* 300 ms: the second flush finds the bucket empty even on a loaded host */
	struct rate_limiter_cfg rl = {.ops = {.present = true, .size = 1, .refill_time_ms = 300}};
	struct fix *f = fix_new(false, &rl);
	uint64_t req = vdrv_alloc(&f->d, 4, 4), resp = vdrv_alloc(&f->d, 4, 4);
	struct vd_buf b[2] = {{req, 4, false}, {resp, 4, true}};
	struct rate_limiter_cfg none = {0};
	uint32_t ret, id, len;
	int head;

	(void)state;
	assert_int_equal(flush(f, VIRTIO_PMEM_REQ_TYPE_FLUSH, &ret), 4);
	*(uint32_t *)vdrv_ptr(&f->d, req, 4) = VIRTIO_PMEM_REQ_TYPE_FLUSH;
	head = vdrv_add_chain(&f->d, 0, b, 2, false);
	assert_true(head >= 0);
	vdrv_kick(&f->d, 0);
	vdrv_poll(&f->d);
	assert_int_equal(vdrv_used_idx(&f->d, 0), 1); /* held back */
	assert_int_equal(counters(f).rate_limiter_throttled, 1);
	assert_int_equal(vdrv_wait_used(&f->d, 0, VDRV_WAIT_MS, &id, &len), 0);
	assert_int_equal(id, (uint32_t)head);
	vdrv_free_chain(&f->d, 0, (uint16_t)id);
	/* PATCH /pmem: no limit any more. */
	virtio_pmem_update_rate_limiter(f->pm, &none);
	for (int i = 0; i < 4; i++)
		assert_int_equal(flush(f, VIRTIO_PMEM_REQ_TYPE_FLUSH, &ret), 4);
	assert_int_equal(counters(f).flush_count, 6);
	fix_free(f);
}

static void test_reset(void **state)
{
	struct fix *f = fix_new(false, NULL);
	uint32_t ret;

	(void)state;
	assert_int_equal(flush(f, VIRTIO_PMEM_REQ_TYPE_FLUSH, &ret), 4);
	vdrv_write32(&f->d, VIRTIO_MMIO_STATUS, 0);
	assert_int_equal(vdrv_status(&f->d), 0);
	assert_int_equal(vdrv_setup(&f->d, VIRTIO_FEATURE(VIRTIO_F_VERSION_1), 1, QSIZE), 0);
	assert_int_equal(flush(f, VIRTIO_PMEM_REQ_TYPE_FLUSH, &ret), 4);
	assert_int_equal(ret, 0);
	fix_free(f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_config_and_flush), cmocka_unit_test(test_read_only),
	    cmocka_unit_test(test_hostile),	     cmocka_unit_test(test_bad_files),
	    cmocka_unit_test(test_rate_limited),     cmocka_unit_test(test_reset),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
