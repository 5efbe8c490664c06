/* Guest memory (memory.c): sizes, the split around the MMIO gap, the bounds
 * of gm_slice, the copy helpers and page discard.
 *
 * RAM is MAP_NORESERVE on a sparse memfd, so even the 16 GiB case only costs
 * the pages a test touches. Residency after gm_discard is checked with
 * mincore(), which for a shared memfd mapping reports the memfd's page cache. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "ember/layout.h"
#include "ember/memory.h"
#include "ember/util.h"

#define PAGE 4096ULL
#define GAP_S LAYOUT_MMIO_GAP_START
#define GAP_E LAYOUT_MMIO_GAP_END

static void test_init_sizes(void **state)
{
	struct guest_mem gm;

	(void)state;
	assert_int_equal(gm_init(&gm, 0, GAP_S, GAP_E), -EINVAL);
	assert_int_equal(gm.memfd, -1);
	assert_null(gm.base);
	assert_int_equal(gm_init(&gm, 4095, GAP_S, GAP_E), -EINVAL);
	assert_int_equal(gm_init(&gm, 4097, GAP_S, GAP_E), -EINVAL);
	assert_int_equal(gm_init(&gm, 128 * MiB + 512, GAP_S, GAP_E), -EINVAL);
	/* a gap that ends before it starts */
	assert_int_equal(gm_init(&gm, 128 * MiB, GAP_E, GAP_S), -EINVAL);
	assert_int_equal(gm.memfd, -1);

	assert_int_equal(gm_init(&gm, PAGE, GAP_S, GAP_E), 0);
	assert_int_equal(gm.nregions, 1);
	assert_int_equal(gm.total, PAGE);
	assert_true(gm.memfd >= 0);
	gm_destroy(&gm);
	assert_int_equal(gm.memfd, -1);
	assert_null(gm.base);
	assert_int_equal(gm.nregions, 0);

	assert_int_equal(gm_init(&gm, 128 * MiB, GAP_S, GAP_E), 0);
	assert_int_equal(gm.nregions, 1);
	assert_int_equal(gm.regions[0].gpa, 0);
	assert_int_equal(gm.regions[0].size, 128 * MiB);
	assert_int_equal(gm.regions[0].file_offset, 0);
	assert_ptr_equal(gm.regions[0].hva, gm.base);
	assert_int_equal(lseek(gm.memfd, 0, SEEK_END), (off_t)(128 * MiB));
	gm_destroy(&gm);
}

static void test_exactly_gap_start_is_one_region(void **state)
{
	struct guest_mem gm;

	(void)state;
	assert_int_equal(gm_init(&gm, 3 * GiB, GAP_S, GAP_E), 0);
	assert_int_equal(gm.nregions, 1);
	assert_int_equal(gm.regions[0].size, 3 * GiB);
	assert_non_null(gm_slice(&gm, 3 * GiB - 1, 1));
	assert_null(gm_slice(&gm, 3 * GiB, 1));
	assert_null(gm_slice(&gm, GAP_E, 1));
	gm_destroy(&gm);
}

static void test_split_around_gap(void **state)
{
	struct guest_mem gm;
	const uint64_t size = 3 * GiB + 16 * MiB;

	(void)state;
	assert_int_equal(gm_init(&gm, size, GAP_S, GAP_E), 0);
	assert_int_equal(gm.total, size);
	assert_int_equal(gm.nregions, 2);
	assert_int_equal(gm.regions[0].gpa, 0);
	assert_int_equal(gm.regions[0].size, GAP_S);
	assert_int_equal(gm.regions[0].file_offset, 0);
	assert_ptr_equal(gm.regions[0].hva, gm.base);
	assert_int_equal(gm.regions[1].gpa, GAP_E);
	assert_int_equal(gm.regions[1].size, 16 * MiB);
	assert_int_equal(gm.regions[1].file_offset, GAP_S);
	assert_ptr_equal(gm.regions[1].hva, gm.base + GAP_S);
	assert_int_equal(lseek(gm.memfd, 0, SEEK_END), (off_t)size);
	gm_destroy(&gm);
}

static void test_16g(void **state)
{
	struct guest_mem gm;
	uint64_t v = 0x1122334455667788ULL, r = 0;

	(void)state;
	assert_int_equal(gm_init(&gm, 16 * GiB, GAP_S, GAP_E), 0);
	assert_int_equal(gm.nregions, 2);
	assert_int_equal(gm.regions[0].size, 3 * GiB);
	assert_int_equal(gm.regions[1].gpa, 4 * GiB);
	assert_int_equal(gm.regions[1].size, 13 * GiB);
	/* the last byte of RAM is at 17 GiB - 1 */
	assert_non_null(gm_slice(&gm, 17 * GiB - 8, 8));
	assert_null(gm_slice(&gm, 17 * GiB - 7, 8));
	assert_null(gm_slice(&gm, 17 * GiB, 1));
	assert_int_equal(gm_write(&gm, 17 * GiB - 8, &v, 8), 0);
	assert_int_equal(gm_read(&gm, 17 * GiB - 8, &r, 8), 0);
	assert_int_equal(r, v);
	/* the same bytes, seen through the memfd at the region's file offset */
	r = 0;
	assert_int_equal(pread(gm.memfd, &r, 8, (off_t)(16 * GiB - 8)), 8);
	assert_int_equal(r, v);
	gm_destroy(&gm);
}

static void test_no_gap(void **state)
{
	struct guest_mem gm;

	(void)state;
	/* gap_start == gap_end: one flat region (the device harness) */
	assert_int_equal(gm_init(&gm, 4 * GiB + 64 * MiB, 0, 0), 0);
	assert_int_equal(gm.nregions, 1);
	assert_non_null(gm_slice(&gm, GAP_S, PAGE));
	assert_non_null(gm_slice(&gm, 4 * GiB + 64 * MiB - 1, 1));
	assert_null(gm_slice(&gm, 4 * GiB + 64 * MiB, 1));
	gm_destroy(&gm);

	assert_int_equal(gm_init(&gm, 8 * MiB, GAP_S, GAP_S), 0);
	assert_int_equal(gm.nregions, 1);
	gm_destroy(&gm);
}

static void test_slice_bounds(void **state)
{
	struct guest_mem gm;
	const uint64_t size = 3 * GiB + 16 * MiB;
	const uint64_t end = GAP_E + 16 * MiB; /* one past the last byte of RAM */

	(void)state;
	assert_int_equal(gm_init(&gm, size, GAP_S, GAP_E), 0);

	/* first region */
	assert_ptr_equal(gm_slice(&gm, 0, 1), gm.base);
	assert_ptr_equal(gm_slice(&gm, 0, GAP_S), gm.base);
	assert_null(gm_slice(&gm, 0, GAP_S + 1));
	assert_ptr_equal(gm_slice(&gm, GAP_S - 1, 1), gm.base + GAP_S - 1);
	assert_null(gm_slice(&gm, GAP_S - 1, 2));
	/* crossing from low RAM into the gap / over the whole gap */
	assert_null(gm_slice(&gm, GAP_S - PAGE, 2 * PAGE));
	assert_null(gm_slice(&gm, GAP_S - PAGE, GAP_E - GAP_S + 2 * PAGE));
	/* inside the gap */
	assert_null(gm_slice(&gm, GAP_S, 1));
	assert_null(gm_slice(&gm, LAYOUT_VIRTIO_MMIO_BASE, 4));
	assert_null(gm_slice(&gm, LAYOUT_LAPIC_ADDR, 4));
	assert_null(gm_slice(&gm, GAP_E - 1, 1));
	assert_null(gm_slice(&gm, GAP_E - 1, 2)); /* from the gap into high RAM */
	/* second region */
	assert_ptr_equal(gm_slice(&gm, GAP_E, 1), gm.base + GAP_S);
	assert_ptr_equal(gm_slice(&gm, GAP_E, 16 * MiB), gm.base + GAP_S);
	assert_null(gm_slice(&gm, GAP_E, 16 * MiB + 1));
	assert_ptr_equal(gm_slice(&gm, end - 1, 1), gm.base + size - 1);
	assert_null(gm_slice(&gm, end - 1, 2));
	assert_null(gm_slice(&gm, end, 1));
	assert_null(gm_slice(&gm, 64 * GiB, 1));

	/* len 0: allowed inside RAM and exactly at a region's end, not elsewhere */
	assert_ptr_equal(gm_slice(&gm, 0, 0), gm.base);
	assert_ptr_equal(gm_slice(&gm, 12345, 0), gm.base + 12345);
	assert_ptr_equal(gm_slice(&gm, GAP_S, 0), gm.base + GAP_S);
	assert_null(gm_slice(&gm, GAP_S + 1, 0));
	assert_null(gm_slice(&gm, GAP_E - 1, 0));
	assert_ptr_equal(gm_slice(&gm, end, 0), gm.base + size);
	assert_null(gm_slice(&gm, end + 1, 0));

	/* gpa + len overflows 64 bits */
	assert_null(gm_slice(&gm, UINT64_MAX, 1));
	assert_null(gm_slice(&gm, UINT64_MAX, UINT64_MAX));
	assert_null(gm_slice(&gm, 1, UINT64_MAX));
	assert_null(gm_slice(&gm, 0x1000, UINT64_MAX - 0xfff));
	assert_null(gm_slice(&gm, GAP_E + 1, UINT64_MAX));
	assert_null(gm_slice(&gm, GAP_E, UINT64_MAX - GAP_E + 1));
	assert_null(gm_slice(&gm, 0, UINT64_MAX));

	assert_true(gm_valid(&gm, 0, GAP_S));
	assert_false(gm_valid(&gm, GAP_S, 1));
	assert_true(gm_valid(&gm, GAP_E, 16 * MiB));
	assert_false(gm_valid(&gm, UINT64_MAX, 2));
	gm_destroy(&gm);
}

static void test_read_write(void **state)
{
	struct guest_mem gm;
	const uint64_t size = 3 * GiB + 16 * MiB;
	uint8_t buf[256], got[256], zero[256] = {0};

	(void)state;
	for (size_t i = 0; i < sizeof(buf); i++)
		buf[i] = (uint8_t)(i * 7 + 3);
	assert_int_equal(gm_init(&gm, size, GAP_S, GAP_E), 0);

	assert_int_equal(gm_write(&gm, 0x1000, buf, sizeof(buf)), 0);
	assert_int_equal(gm_read(&gm, 0x1000, got, sizeof(got)), 0);
	assert_memory_equal(got, buf, sizeof(buf));
	assert_memory_equal(gm.base + 0x1000, buf, sizeof(buf));

	/* last bytes of each region */
	assert_int_equal(gm_write(&gm, GAP_S - sizeof(buf), buf, sizeof(buf)), 0);
	assert_int_equal(gm_read(&gm, GAP_S - sizeof(buf), got, sizeof(got)), 0);
	assert_memory_equal(got, buf, sizeof(buf));
	assert_int_equal(gm_write(&gm, GAP_E + 16 * MiB - sizeof(buf), buf, sizeof(buf)), 0);
	memset(got, 0, sizeof(got));
	assert_int_equal(pread(gm.memfd, got, sizeof(got), (off_t)(size - sizeof(buf))),
			 (ssize_t)sizeof(got));
	assert_memory_equal(got, buf, sizeof(buf));

	/* high RAM is backed by memfd offset GAP_S onwards */
	assert_int_equal(gm_write(&gm, GAP_E, buf, 16), 0);
	assert_memory_equal(gm.base + GAP_S, buf, 16);

	/* out of range or straddling: -EFAULT and nothing written or read */
	memset(gm.base + GAP_S - 8, 0, 8);
	assert_int_equal(gm_write(&gm, GAP_S - 8, buf, 16), -EFAULT);
	assert_memory_equal(gm.base + GAP_S - 8, zero, 8);
	memset(got, 0x5a, sizeof(got));
	assert_int_equal(gm_read(&gm, GAP_S - 8, got, 16), -EFAULT);
	for (size_t i = 0; i < 16; i++)
		assert_int_equal(got[i], 0x5a);
	assert_int_equal(gm_write(&gm, GAP_S, buf, 1), -EFAULT);
	assert_int_equal(gm_read(&gm, GAP_E + 16 * MiB, got, 1), -EFAULT);
	assert_int_equal(gm_read(&gm, UINT64_MAX - 3, got, 8), -EFAULT);
	assert_int_equal(gm_write(&gm, UINT64_MAX, buf, 1), -EFAULT);
	/* len 0 inside RAM is a no-op success */
	assert_int_equal(gm_write(&gm, 0x2000, buf, 0), 0);
	assert_int_equal(gm_read(&gm, 0x2000, got, 0), 0);
	gm_destroy(&gm);
}

/* Number of resident pages of [p, p + npages * PAGE). */
static size_t resident(const void *p, size_t npages)
{
	unsigned char vec[256];
	size_t n = 0;

	assert_true(npages <= sizeof(vec));
	assert_int_equal(mincore((void *)p, npages * PAGE, vec), 0);
	for (size_t i = 0; i < npages; i++)
		n += vec[i] & 1;
	return n;
}

static void discard_check(struct guest_mem *gm, uint64_t gpa)
{
	uint8_t *p = gm_slice(gm, gpa, 64 * PAGE);
	unsigned char vec[64];

	assert_non_null(p);
	assert_int_equal(resident(p, 64), 0);
	for (size_t i = 0; i < 64; i++)
		memset(p + i * PAGE, 0xa5, PAGE);
	assert_int_equal(resident(p, 64), 64);

	assert_int_equal(gm_discard(gm, gpa + 16 * PAGE, 32 * PAGE), 0);
	assert_int_equal(mincore(p, 64 * PAGE, vec), 0);
	for (size_t i = 0; i < 64; i++) {
		bool in_hole = i >= 16 && i < 48;
		if ((vec[i] & 1) == in_hole)
			fail_msg("page %zu at gpa %#llx: resident=%d after discarding pages 16-47",
				 i, (unsigned long long)gpa, vec[i] & 1);
	}
	assert_int_equal(resident(p, 64), 32);
	/* discarded pages read back as zero; the others keep their data */
	assert_int_equal(p[16 * PAGE], 0);
	assert_int_equal(p[48 * PAGE - 1], 0);
	assert_int_equal(p[16 * PAGE - 1], 0xa5);
	assert_int_equal(p[48 * PAGE], 0xa5);
	assert_int_equal(gm_discard(gm, gpa, 64 * PAGE), 0);
	assert_int_equal(resident(p, 64), 0);
	assert_int_equal(p[0], 0);
	assert_int_equal(p[64 * PAGE - 1], 0);
}

static void test_discard(void **state)
{
	struct guest_mem gm;

	(void)state;
	assert_int_equal(gm_init(&gm, 3 * GiB + 16 * MiB, GAP_S, GAP_E), 0);
	discard_check(&gm, 0x100000);
	discard_check(&gm, GAP_E + 4 * MiB); /* high region: memfd offset != gpa */
	discard_check(&gm, GAP_S - 64 * PAGE);

	/* alignment and range */
	assert_int_equal(gm_discard(&gm, 0x1001, PAGE), -EFAULT);
	assert_int_equal(gm_discard(&gm, 0x1000, PAGE - 1), -EFAULT);
	assert_int_equal(gm_discard(&gm, 0x1000, PAGE + 1), -EFAULT);
	assert_int_equal(gm_discard(&gm, GAP_S, PAGE), -EFAULT);
	assert_int_equal(gm_discard(&gm, GAP_S - PAGE, 2 * PAGE), -EFAULT);
	assert_int_equal(gm_discard(&gm, GAP_E + 16 * MiB, PAGE), -EFAULT);
	assert_int_equal(gm_discard(&gm, UINT64_MAX & ~0xfffULL, PAGE), -EFAULT);
	assert_int_equal(gm_discard(&gm, 0, 0), 0);
	gm_destroy(&gm);
}

/* gm_fill / gm_fill_from_fd write through the memfd: the bytes show in the
 * mapping, in the high region too; out of RAM is -EFAULT, a short file -EIO. */
static void test_fill(void **state)
{
	struct guest_mem gm;
	char path[] = "/tmp/ember-test-fill.XXXXXX";
	uint8_t data[3 * PAGE + 17];
	int fd;

	(void)state;
	for (size_t i = 0; i < sizeof(data); i++)
		data[i] = (uint8_t)(i * 7 + 1);
	assert_int_equal(gm_init(&gm, GAP_S + 64 * MiB, GAP_S, GAP_E), 0);
	assert_int_equal(gm_fill(&gm, 0x100123, data, sizeof(data)), 0);
	assert_memory_equal(gm_slice(&gm, 0x100123, sizeof(data)), data, sizeof(data));
	assert_int_equal(gm_fill(&gm, GAP_E + PAGE, data, sizeof(data)), 0);
	assert_memory_equal(gm_slice(&gm, GAP_E + PAGE, sizeof(data)), data, sizeof(data));
	assert_int_equal(gm_fill(&gm, GAP_S - 8, data, 16), -EFAULT);

	fd = mkstemp(path);
	assert_true(fd >= 0);
	unlink(path);
	assert_int_equal(write(fd, data, sizeof(data)), (ssize_t)sizeof(data));
	assert_int_equal(gm_fill_from_fd(&gm, 0x200000 + 5, fd, 100, sizeof(data) - 100), 0);
	assert_memory_equal(gm_slice(&gm, 0x200005, sizeof(data) - 100), data + 100,
			    sizeof(data) - 100);
	assert_int_equal(gm_fill_from_fd(&gm, GAP_E, fd, 0, sizeof(data)), 0);
	assert_memory_equal(gm_slice(&gm, GAP_E, sizeof(data)), data, sizeof(data));
	assert_int_equal(gm_fill_from_fd(&gm, 0x300000, fd, 0, sizeof(data) + 1), -EIO);
	assert_int_equal(gm_fill_from_fd(&gm, GAP_S - 8, fd, 0, 16), -EFAULT);
	assert_int_equal(gm_populate(&gm, 0x400000 + 3, 2 * PAGE), 0);
	assert_int_equal(gm_populate(&gm, GAP_S - 8, 16), -EFAULT);
	close(fd);
	gm_destroy(&gm);
}

/* A scratch file of n bytes: byte i is (i * 7 + 3) & 0xff. */
static int scratch_file(size_t n)
{
	char path[] = "/tmp/ember-test-memory-XXXXXX";
	int fd = mkstemp(path);
	uint8_t *b = malloc(n);

	assert_true(fd >= 0 && b);
	unlink(path);
	for (size_t i = 0; i < n; i++)
		b[i] = (uint8_t)(i * 7 + 3);
	assert_int_equal(pwrite(fd, b, n, 0), (ssize_t)n);
	free(b);
	return fd;
}

static bool pattern_at(const uint8_t *p, size_t off, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (p[i] != (uint8_t)((off + i) * 7 + 3))
			return false;
	return true;
}

/* gm_init_anon: private anonymous RAM, split like a memfd's; gm_map_file maps
 * whole pages only where page-aligned, reads the file, writes stay private;
 * gm_unshare_files keeps the bytes once the file is gone; gm_next_data skips
 * what was never touched but never a mapped file range. */
static void test_anon_map_file(void **state)
{
	struct guest_mem gm;
	size_t flen = 5 * PAGE + 100;
	int fd = scratch_file(flen);
	uint8_t *p, byte;
	uint64_t s, e;

	(void)state;
	assert_int_equal(gm_init_anon(&gm, 64 * MiB, GAP_S, GAP_E, GM_PAGES_4K), 0);
	assert_true(gm.anon);
	assert_int_equal(gm.memfd, -1);
	assert_false(gm_next_data(&gm, 0, &s, &e)); /* nothing touched yet */
	/* not page-aligned (gpa or file offset): nothing mapped, the caller copies */
	assert_int_equal(gm_map_file(&gm, MiB + 512, fd, 0, flen), 0);
	assert_int_equal(gm_map_file(&gm, MiB, fd, 512, flen - 512), 0);
	assert_int_equal(gm_map_file(&gm, 64 * MiB - PAGE, fd, 0, 2 * PAGE), -EFAULT);
	assert_int_equal(gm.nfmaps, 0);
	/* whole pages only: 5 of them, the 100-byte tail is the caller's */
	assert_int_equal(gm_map_file(&gm, 2 * MiB, fd, 0, flen), (long)(5 * PAGE));
	assert_int_equal(gm_file_mapped_bytes(&gm), 5 * PAGE);
	p = gm_slice(&gm, 2 * MiB, 5 * PAGE);
	assert_true(pattern_at(p, 0, 5 * PAGE));
	assert_int_equal(p[5 * PAGE], 0); /* the page after: anonymous, zero */
	/* offset within the file: page 1.. at 8 MiB */
	assert_int_equal(gm_map_file(&gm, 8 * MiB, fd, PAGE, 2 * PAGE), (long)(2 * PAGE));
	assert_true(pattern_at(gm_slice(&gm, 8 * MiB, 2 * PAGE), PAGE, 2 * PAGE));
	/* a write is the guest's own: the file keeps its bytes */
	p[10] = 0xee;
	assert_int_equal(pread(fd, &byte, 1, 10), 1);
	assert_int_equal(byte, (uint8_t)(10 * 7 + 3));
	/* data: the mapped ranges (even pages never read), and what was touched */
	assert_true(gm_next_data(&gm, 0, &s, &e));
	assert_int_equal(s, 2 * MiB);
	assert_int_equal(e, 2 * MiB + 6 * PAGE); /* + the zero page read above */
	assert_true(gm_next_data(&gm, e, &s, &e));
	assert_int_equal(s, 8 * MiB);
	assert_int_equal(e, 8 * MiB + 2 * PAGE);
	assert_false(gm_next_data(&gm, e, &s, &e));
	/* the file goes away: the bytes stay after gm_unshare_files */
	assert_int_equal(gm_unshare_files(&gm), 0);
	assert_int_equal(gm.nfmaps, 0);
	assert_int_equal(ftruncate(fd, 0), 0);
	assert_int_equal(p[10], 0xee);
	p[10] = (uint8_t)(10 * 7 + 3);
	assert_true(pattern_at(p, 0, 5 * PAGE));
	assert_true(pattern_at(gm_slice(&gm, 8 * MiB, 2 * PAGE), PAGE, 2 * PAGE));
	/* discard: zero again (anonymous) */
	assert_int_equal(gm_discard(&gm, 2 * MiB, PAGE), 0);
	assert_int_equal(p[10], 0);
	close(fd);
	gm_destroy(&gm);
	/* memfd RAM (gm_init): never mapped over, its holes are not data */
	assert_int_equal(gm_init(&gm, 16 * MiB, GAP_S, GAP_E), 0);
	fd = scratch_file(PAGE);
	assert_int_equal(gm_map_file(&gm, MiB, fd, 0, PAGE), 0);
	assert_false(gm_next_data(&gm, 0, &s, &e));
	assert_int_equal(gm_write(&gm, 3 * MiB, "x", 1), 0);
	assert_true(gm_next_data(&gm, 0, &s, &e));
	assert_int_equal(s, 3 * MiB);
	close(fd);
	gm_destroy(&gm);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_init_sizes),
	    cmocka_unit_test(test_exactly_gap_start_is_one_region),
	    cmocka_unit_test(test_split_around_gap),
	    cmocka_unit_test(test_16g),
	    cmocka_unit_test(test_no_gap),
	    cmocka_unit_test(test_slice_bounds),
	    cmocka_unit_test(test_read_write),
	    cmocka_unit_test(test_discard),
	    cmocka_unit_test(test_fill),
	    cmocka_unit_test(test_anon_map_file),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
