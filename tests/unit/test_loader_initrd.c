/* initrd placement: as high as allowed, page-aligned, above the kernel, below
 * initrd_addr_max and the MMIO gap. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "ember/error.h"
#include "ember/layout.h"
#include "ember/loader.h"
#include "ember/memory.h"
#include "test_loader_images.h"

static void expect_err(int r, int errnum, const char *needle)
{
	assert_int_equal(r, -errnum);
	if (!strstr(err_msg(), needle))
		fail_msg("error \"%s\" does not mention \"%s\"", err_msg(), needle);
}

static struct kernel_image kernel(uint64_t load_end, uint64_t initrd_addr_max)
{
	struct kernel_image k;

	memset(&k, 0, sizeof(k));
	k.kind = KERNEL_ELF;
	k.load_start = LAYOUT_HIMEM;
	k.load_end = load_end;
	k.initrd_addr_max = initrd_addr_max;
	return k;
}

static uint8_t *pattern(size_t len)
{
	uint8_t *b = malloc(len);

	for (size_t i = 0; i < len; i++)
		b[i] = (uint8_t)(i * 13 + 1);
	return b;
}

static void test_highest_page_below_ram_end(void **state)
{
	struct guest_mem gm;
	struct kernel_image k = kernel(4 * TI_MiB, 0x7fffffff);
	size_t len = TI_MiB + 123;
	uint8_t *rd = pattern(len);
	uint64_t gpa = 0;

	assert_int_equal(gm_init(&gm, 64 * TI_MiB, LAYOUT_MMIO_GAP_START, LAYOUT_MMIO_GAP_END), 0);
	assert_int_equal(loader_place_initrd(&gm, &k, rd, len, &gpa), 0);
	assert_int_equal(gpa & 0xfff, 0);
	assert_true(gpa + len <= 64 * TI_MiB);
	assert_true(gpa + len + 4096 > 64 * TI_MiB); /* as high as possible */
	assert_int_equal(gpa, (64 * TI_MiB - len) & ~0xfffULL);
	assert_memory_equal(gm_slice(&gm, gpa, len), rd, len);
	gm_destroy(&gm);
	free(rd);
}

static void test_initrd_addr_max(void **state)
{
	struct guest_mem gm;
	struct kernel_image k = kernel(4 * TI_MiB, 32 * TI_MiB - 1);
	size_t len = 3 * 4096;
	uint8_t *rd = pattern(len);
	uint64_t gpa = 0;

	assert_int_equal(gm_init(&gm, 64 * TI_MiB, LAYOUT_MMIO_GAP_START, LAYOUT_MMIO_GAP_END), 0);
	assert_int_equal(loader_place_initrd(&gm, &k, rd, len, &gpa), 0);
	assert_int_equal(gpa, 32 * TI_MiB - len); /* last byte at initrd_addr_max */
	/* initrd_addr_max not on a page boundary - 1 */
	k.initrd_addr_max = 32 * TI_MiB + 100;
	assert_int_equal(loader_place_initrd(&gm, &k, rd, len, &gpa), 0);
	assert_int_equal(gpa, 32 * TI_MiB - len);
	assert_true(gpa + len - 1 <= k.initrd_addr_max);
	gm_destroy(&gm);
	free(rd);
}

/* 4 GiB of RAM split around the MMIO gap: the initrd stays in low RAM. */
static void test_below_mmio_gap(void **state)
{
	struct guest_mem gm;
	struct kernel_image k = kernel(64 * TI_MiB, 0xffffffff);
	size_t len = 2 * TI_MiB;
	uint8_t *rd = pattern(len);
	uint64_t gpa = 0;

	assert_int_equal(gm_init(&gm, 4096 * TI_MiB, LAYOUT_MMIO_GAP_START, LAYOUT_MMIO_GAP_END),
			 0);
	assert_int_equal(gm.nregions, 2);
	assert_int_equal(loader_place_initrd(&gm, &k, rd, len, &gpa), 0);
	assert_int_equal(gpa, LAYOUT_MMIO_GAP_START - len);
	/* the ELF default initrd_addr_max keeps it under 2 GiB */
	k.initrd_addr_max = LOADER_ELF_INITRD_ADDR_MAX;
	assert_int_equal(loader_place_initrd(&gm, &k, rd, len, &gpa), 0);
	assert_int_equal(gpa, 0x80000000ULL - len);
	/* initrd_addr_max above 4 GiB still ends at the gap */
	k.initrd_addr_max = UINT64_MAX;
	assert_int_equal(loader_place_initrd(&gm, &k, rd, len, &gpa), 0);
	assert_int_equal(gpa, LAYOUT_MMIO_GAP_START - len);
	gm_destroy(&gm);
	free(rd);
}

static void test_does_not_fit(void **state)
{
	struct guest_mem gm;
	struct kernel_image k = kernel(4 * TI_MiB, 0x7fffffff);
	size_t big = 70 * TI_MiB;
	uint8_t *rd = pattern(big);
	uint64_t gpa = 0;

	assert_int_equal(gm_init(&gm, 64 * TI_MiB, LAYOUT_MMIO_GAP_START, LAYOUT_MMIO_GAP_END), 0);
	expect_err(loader_place_initrd(&gm, &k, rd, big, &gpa), ENOMEM,
		   "initrd of 70 MiB does not fit in guest RAM");
	/* fits in RAM but not above the kernel */
	k.load_end = 60 * TI_MiB;
	expect_err(loader_place_initrd(&gm, &k, rd, 8 * TI_MiB, &gpa), ENOMEM,
		   "initrd of 8 MiB does not fit");
	/* exactly the room between the kernel end and the top */
	k.load_end = 32 * TI_MiB;
	assert_int_equal(loader_place_initrd(&gm, &k, rd, 32 * TI_MiB, &gpa), 0);
	assert_int_equal(gpa, 32 * TI_MiB);
	expect_err(loader_place_initrd(&gm, &k, rd, 32 * TI_MiB + 1, &gpa), ENOMEM, "does not fit");
	/* kernel end not page aligned: the initrd starts on the next page */
	k.load_end = 32 * TI_MiB + 1;
	expect_err(loader_place_initrd(&gm, &k, rd, 32 * TI_MiB - 4096 + 1, &gpa), ENOMEM,
		   "does not fit");
	assert_int_equal(loader_place_initrd(&gm, &k, rd, 32 * TI_MiB - 4096, &gpa), 0);
	assert_int_equal(gpa, 32 * TI_MiB + 4096);
	/* kernel above the initrd_addr_max */
	k.load_end = 40 * TI_MiB;
	k.initrd_addr_max = 16 * TI_MiB - 1;
	expect_err(loader_place_initrd(&gm, &k, rd, 4096, &gpa), ENOMEM, "does not fit");
	/* empty */
	k = kernel(4 * TI_MiB, 0x7fffffff);
	expect_err(loader_place_initrd(&gm, &k, rd, 0, &gpa), EINVAL, "initrd is empty");
	gm_destroy(&gm);
	free(rd);
}

/* With a real bzImage load: initrd above [load_start, load_end). */
static void test_after_bzimage(void **state)
{
	struct guest_mem gm;
	struct ti_bz p = ti_bz_default();
	struct kernel_image k;
	size_t len, rd_len = 20 * TI_MiB;
	uint8_t *img = ti_build_bzimage(&p, &len), *rd = pattern(rd_len);
	uint64_t gpa;

	assert_int_equal(gm_init(&gm, 48 * TI_MiB, LAYOUT_MMIO_GAP_START, LAYOUT_MMIO_GAP_END), 0);
	assert_int_equal(loader_load_kernel(&gm, img, len, &k), 0);
	assert_int_equal(loader_place_initrd(&gm, &k, rd, rd_len, &gpa), 0);
	assert_true(gpa >= k.load_end);
	assert_true(gpa + rd_len <= 48 * TI_MiB);
	expect_err(loader_place_initrd(&gm, &k, rd, 25 * TI_MiB, &gpa), ENOMEM, "25 MiB");
	gm_destroy(&gm);
	free(img);
	free(rd);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_highest_page_below_ram_end),
	    cmocka_unit_test(test_initrd_addr_max),
	    cmocka_unit_test(test_below_mmio_gap),
	    cmocka_unit_test(test_does_not_fit),
	    cmocka_unit_test(test_after_bzimage),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
