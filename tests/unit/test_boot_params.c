/* Zero page and e820 map (boot_params.c) over real guest memory with the real
 * MMIO gap. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <asm/e820.h>

#include "ember/x86.h"
#include "ember/layout.h"
#include "ember/memory.h"
#include "ember/util.h"

#define HOLE (LAYOUT_HIMEM - LAYOUT_EBDA_START) /* EBDA + BIOS area, reserved */

static void check_e820(uint64_t size)
{
	struct guest_mem gm;
	struct boot_e820_entry e[E820_MAX_ENTRIES_ZEROPAGE];
	uint64_t ram = 0, reserved = 0, low_end = MIN(size, LAYOUT_MMIO_GAP_START);
	int n;
	bool saw_hole = false, saw_high = false;

	assert_int_equal(gm_init(&gm, size, LAYOUT_MMIO_GAP_START, LAYOUT_MMIO_GAP_END), 0);
	memset(e, 0xee, sizeof(e));
	n = boot_e820_build(&gm, e, E820_MAX_ENTRIES_ZEROPAGE);
	assert_int_equal(n, size > LAYOUT_MMIO_GAP_START ? 4 : 3);

	for (int i = 0; i < n; i++) {
		uint64_t start = e[i].addr, end = e[i].addr + e[i].size;

		assert_true(e[i].size > 0);
		assert_true(end > start);
		if (i > 0) /* sorted, not overlapping */
			assert_true(start >= e[i - 1].addr + e[i - 1].size);
		/* nothing in the MMIO gap */
		assert_true(end <= LAYOUT_MMIO_GAP_START || start >= LAYOUT_MMIO_GAP_END);
		if (e[i].type == E820_RAM) {
			ram += e[i].size;
			/* every RAM byte is backed by guest memory */
			assert_true(gm_valid(&gm, start, e[i].size));
			/* and never the EBDA / BIOS area */
			assert_true(end <= LAYOUT_EBDA_START || start >= LAYOUT_HIMEM);
			if (start >= 4 * GiB)
				saw_high = true;
		} else {
			assert_int_equal(e[i].type, E820_RESERVED);
			reserved += e[i].size;
			if (start == LAYOUT_EBDA_START && end == LAYOUT_HIMEM)
				saw_hole = true;
		}
	}
	/* the exact layout */
	assert_int_equal(e[0].addr, 0);
	assert_int_equal(e[0].size, LAYOUT_EBDA_START);
	assert_int_equal(e[0].type, E820_RAM);
	assert_int_equal(e[1].addr, LAYOUT_EBDA_START);
	assert_int_equal(e[1].size, HOLE);
	assert_int_equal(e[1].type, E820_RESERVED);
	assert_int_equal(e[2].addr, LAYOUT_HIMEM);
	assert_int_equal(e[2].size, low_end - LAYOUT_HIMEM);
	assert_int_equal(e[2].type, E820_RAM);
	if (size > LAYOUT_MMIO_GAP_START) {
		assert_int_equal(e[3].addr, LAYOUT_MMIO_GAP_END);
		assert_int_equal(e[3].size, size - LAYOUT_MMIO_GAP_START);
		assert_int_equal(e[3].type, E820_RAM);
	}
	assert_true(saw_hole);
	assert_int_equal(saw_high, size > LAYOUT_MMIO_GAP_START);
	/* all configured RAM is described: usable RAM plus the reserved hole
	 * (which is backed by RAM and holds the MP table and ACPI tables) */
	assert_int_equal(reserved, HOLE);
	assert_int_equal(ram + reserved, size);
	assert_int_equal(ram, size - HOLE);
	/* nothing written past the count */
	for (size_t i = (size_t)n * sizeof(e[0]); i < sizeof(e); i++)
		assert_int_equal(((uint8_t *)e)[i], 0xee);
	gm_destroy(&gm);
}

static void test_e820_128m(void **state)
{
	(void)state;
	check_e820(128 * MiB);
}

static void test_e820_3g(void **state)
{
	(void)state;
	check_e820(3 * GiB);
}

static void test_e820_3g_plus_4k(void **state)
{
	(void)state;
	check_e820(3 * GiB + 4 * KiB);
}

static void test_e820_5g(void **state)
{
	(void)state;
	check_e820(5 * GiB);
}

static void test_e820_16g(void **state)
{
	(void)state;
	check_e820(16 * GiB);
}

static void test_e820_max(void **state)
{
	struct guest_mem gm;
	struct boot_e820_entry e[4];

	(void)state;
	assert_int_equal(gm_init(&gm, 5 * GiB, LAYOUT_MMIO_GAP_START, LAYOUT_MMIO_GAP_END), 0);
	memset(e, 0xee, sizeof(e));
	/* a short table is filled in order and never overrun */
	assert_int_equal(boot_e820_build(&gm, e, 2), 2);
	assert_int_equal(e[0].addr, 0);
	assert_int_equal(e[1].addr, LAYOUT_EBDA_START);
	assert_int_equal(e[2].addr, 0xeeeeeeeeeeeeeeeeULL);
	assert_int_equal(boot_e820_build(&gm, e, 0), 0);
	gm_destroy(&gm);
}

/* ------------------------------------------------------------- zero page */

struct fx {
	struct guest_mem gm;
};

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));

	if (!f || gm_init(&f->gm, 5 * GiB, LAYOUT_MMIO_GAP_START, LAYOUT_MMIO_GAP_END) < 0)
		return -1;
	/* dirty zero page: the writer must clear what it does not set */
	memset(gm_slice(&f->gm, LAYOUT_ZERO_PAGE, 4096), 0xcc, 4096);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;

	gm_destroy(&f->gm);
	free(f);
	return 0;
}

static struct boot_params *zero_page(struct fx *f)
{
	struct boot_params *bp = gm_slice(&f->gm, LAYOUT_ZERO_PAGE, sizeof(*bp));

	assert_non_null(bp);
	return bp;
}

static bool all_zero(const void *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (((const uint8_t *)p)[i])
			return false;
	return true;
}

static void check_e820_copy(struct fx *f, const struct boot_params *bp)
{
	struct boot_e820_entry e[E820_MAX_ENTRIES_ZEROPAGE];
	int n = boot_e820_build(&f->gm, e, E820_MAX_ENTRIES_ZEROPAGE);

	assert_int_equal(bp->e820_entries, n);
	assert_int_equal(n, 4);
	assert_memory_equal(bp->e820_table, e, (size_t)n * sizeof(e[0]));
	assert_true(
	    all_zero(&bp->e820_table[n], (E820_MAX_ENTRIES_ZEROPAGE - (size_t)n) * sizeof(e[0])));
}

static void test_zero_page_elf(void **state)
{
	struct fx *f = *state;
	struct kernel_image k = {
	    .kind = KERNEL_ELF,
	    .entry = 0x1000000,
	    .load_start = 0x1000000,
	    .load_end = 0x2000000,
	    .has_setup_header = false,
	    .cmdline_max = LOADER_ELF_CMDLINE_MAX,
	    .initrd_addr_max = LOADER_ELF_INITRD_ADDR_MAX,
	};
	struct boot_setup s = {
	    .kernel = &k,
	    .cmdline_gpa = LAYOUT_CMDLINE,
	    .cmdline_len = 42,
	    .initrd_gpa = 0x7000000,
	    .initrd_len = 0x123456,
	    .rsdp_gpa = LAYOUT_ACPI_RSDP,
	};
	struct boot_params *bp = zero_page(f);

	assert_int_equal(boot_params_write(&f->gm, &s), 0);
	assert_int_equal(bp->hdr.boot_flag, 0xaa55);
	assert_int_equal(bp->hdr.header, 0x53726448); /* "HdrS" */
	assert_true(bp->hdr.version >= 0x0206);
	assert_int_equal(bp->hdr.type_of_loader, 0xff);
	assert_true(bp->hdr.loadflags & LOADED_HIGH);
	assert_true(bp->hdr.loadflags & CAN_USE_HEAP);
	assert_int_equal(bp->hdr.cmd_line_ptr, LAYOUT_CMDLINE);
	assert_int_equal(bp->ext_cmd_line_ptr, 0);
	assert_int_equal(bp->hdr.cmdline_size, 42);
	assert_int_equal(bp->hdr.ramdisk_image, 0x7000000);
	assert_int_equal(bp->hdr.ramdisk_size, 0x123456);
	assert_int_equal(bp->ext_ramdisk_image, 0);
	assert_int_equal(bp->ext_ramdisk_size, 0);
	assert_int_equal(bp->acpi_rsdp_addr, LAYOUT_ACPI_RSDP);
	assert_int_equal(bp->hdr.code32_start, 0); /* no protected-mode code */
	assert_int_equal(bp->hdr.setup_sects, 0);
	check_e820_copy(f, bp);
	/* the junk in the page is gone */
	assert_true(all_zero(&bp->screen_info, sizeof(bp->screen_info)));
	assert_true(all_zero(&bp->apm_bios_info, sizeof(bp->apm_bios_info)));
	assert_true(all_zero(&bp->efi_info, sizeof(bp->efi_info)));
	assert_true(all_zero(bp->edd_mbr_sig_buffer, sizeof(bp->edd_mbr_sig_buffer)));
	assert_int_equal(bp->hdr.ramdisk_image >> 31, 0);
}

static void test_zero_page_no_initrd_no_acpi(void **state)
{
	struct fx *f = *state;
	struct kernel_image k = {.kind = KERNEL_ELF};
	struct boot_setup s = {.kernel = &k, .cmdline_gpa = LAYOUT_CMDLINE, .cmdline_len = 0};
	struct boot_params *bp = zero_page(f);

	assert_int_equal(boot_params_write(&f->gm, &s), 0);
	assert_int_equal(bp->hdr.ramdisk_image, 0);
	assert_int_equal(bp->hdr.ramdisk_size, 0);
	assert_int_equal(bp->ext_ramdisk_image, 0);
	assert_int_equal(bp->ext_ramdisk_size, 0);
	assert_int_equal(bp->acpi_rsdp_addr, 0);
	assert_int_equal(bp->hdr.cmdline_size, 0);
	assert_int_equal(bp->hdr.cmd_line_ptr, LAYOUT_CMDLINE);
}

static void test_zero_page_high_addresses(void **state)
{
	struct fx *f = *state;
	struct kernel_image k = {.kind = KERNEL_ELF};
	struct boot_setup s = {
	    .kernel = &k,
	    .cmdline_gpa = 0x100002000ULL,
	    .cmdline_len = 7,
	    .initrd_gpa = 0x123400000ULL, /* above 4 GiB */
	    .initrd_len = 0x100001000ULL, /* more than 4 GiB */
	    .rsdp_gpa = 0xe0000,
	};
	struct boot_params *bp = zero_page(f);

	assert_int_equal(boot_params_write(&f->gm, &s), 0);
	assert_int_equal(bp->hdr.cmd_line_ptr, 0x00002000);
	assert_int_equal(bp->ext_cmd_line_ptr, 1);
	assert_int_equal(bp->hdr.ramdisk_image, 0x23400000);
	assert_int_equal(bp->ext_ramdisk_image, 1);
	assert_int_equal(bp->hdr.ramdisk_size, 0x1000);
	assert_int_equal(bp->ext_ramdisk_size, 1);
	assert_int_equal(((uint64_t)bp->ext_ramdisk_image << 32) | bp->hdr.ramdisk_image,
			 s.initrd_gpa);
	assert_int_equal(((uint64_t)bp->ext_ramdisk_size << 32) | bp->hdr.ramdisk_size,
			 s.initrd_len);
}

static void test_zero_page_bzimage(void **state)
{
	struct fx *f = *state;
	struct kernel_image k = {
	    .kind = KERNEL_BZIMAGE,
	    .entry = 0x100200,
	    .load_start = 0x100000,
	    .load_end = 0x3000000,
	    .has_setup_header = true,
	    .cmdline_max = 2047,
	    .initrd_addr_max = 0x7fffffff,
	};
	struct boot_setup s = {
	    .kernel = &k,
	    .cmdline_gpa = LAYOUT_CMDLINE,
	    .cmdline_len = 100,
	    .initrd_gpa = 0x6000000,
	    .initrd_len = 0x200000,
	    .rsdp_gpa = LAYOUT_ACPI_RSDP,
	};
	struct boot_params *bp = zero_page(f);

	/* a setup header as a bzImage carries it (protocol 2.15) */
	k.hdr.setup_sects = 0x1f;
	k.hdr.root_flags = 1;
	k.hdr.syssize = 0x8a5c0;
	k.hdr.vid_mode = 0xffff;
	k.hdr.boot_flag = 0xaa55;
	k.hdr.jump = 0x66eb;
	k.hdr.header = 0x53726448;
	k.hdr.version = 0x020f;
	k.hdr.kernel_version = 0x3a00;
	k.hdr.type_of_loader = 0xff;
	k.hdr.loadflags = LOADED_HIGH;
	k.hdr.code32_start = 0x100000;
	k.hdr.kernel_alignment = 0x200000;
	k.hdr.relocatable_kernel = 1;
	k.hdr.min_alignment = 0x15;
	k.hdr.xloadflags = XLF_KERNEL_64 | XLF_CAN_BE_LOADED_ABOVE_4G;
	k.hdr.cmdline_size = 2047;
	k.hdr.initrd_addr_max = 0x7fffffff;
	k.hdr.payload_offset = 0x3a6;
	k.hdr.payload_length = 0x89c5e3;
	k.hdr.pref_address = 0x1000000;
	k.hdr.init_size = 0x2e1c000;
	k.hdr.handover_offset = 0x190;

	assert_int_equal(boot_params_write(&f->gm, &s), 0);
	/* copied from the image */
	assert_int_equal(bp->hdr.setup_sects, 0x1f);
	assert_int_equal(bp->hdr.syssize, 0x8a5c0);
	assert_int_equal(bp->hdr.boot_flag, 0xaa55);
	assert_int_equal(bp->hdr.header, 0x53726448);
	assert_int_equal(bp->hdr.version, 0x020f);
	assert_int_equal(bp->hdr.kernel_alignment, 0x200000);
	assert_int_equal(bp->hdr.relocatable_kernel, 1);
	assert_int_equal(bp->hdr.xloadflags, XLF_KERNEL_64 | XLF_CAN_BE_LOADED_ABOVE_4G);
	assert_int_equal(bp->hdr.payload_offset, 0x3a6);
	assert_int_equal(bp->hdr.payload_length, 0x89c5e3);
	assert_int_equal(bp->hdr.pref_address, 0x1000000);
	assert_int_equal(bp->hdr.init_size, 0x2e1c000);
	assert_int_equal(bp->hdr.initrd_addr_max, 0x7fffffff);
	/* filled in by the loader side */
	assert_int_equal(bp->hdr.type_of_loader, 0xff);
	assert_int_equal(bp->hdr.code32_start, k.load_start);
	assert_true(bp->hdr.loadflags & LOADED_HIGH);
	assert_true(bp->hdr.loadflags & CAN_USE_HEAP);
	assert_int_equal(bp->hdr.cmd_line_ptr, LAYOUT_CMDLINE);
	assert_int_equal(bp->hdr.cmdline_size, 100);
	assert_int_equal(bp->hdr.ramdisk_image, 0x6000000);
	assert_int_equal(bp->hdr.ramdisk_size, 0x200000);
	assert_int_equal(bp->ext_ramdisk_image, 0);
	assert_int_equal(bp->acpi_rsdp_addr, LAYOUT_ACPI_RSDP);
	check_e820_copy(f, bp);
	assert_true(all_zero(&bp->screen_info, sizeof(bp->screen_info)));

	/* a bzImage loaded elsewhere: code32_start follows the load address */
	k.load_start = 0x1000000;
	assert_int_equal(boot_params_write(&f->gm, &s), 0);
	assert_int_equal(bp->hdr.code32_start, 0x1000000);
}

static void test_zero_page_outside_ram(void **state)
{
	struct guest_mem gm;
	struct kernel_image k = {.kind = KERNEL_ELF};
	struct boot_setup s = {.kernel = &k, .cmdline_gpa = LAYOUT_CMDLINE};

	(void)state;
	/* RAM that ends where the zero page would start */
	assert_int_equal(gm_init(&gm, LAYOUT_ZERO_PAGE, LAYOUT_MMIO_GAP_START, LAYOUT_MMIO_GAP_END),
			 0);
	assert_int_equal(boot_params_write(&gm, &s), -EFAULT);
	gm_destroy(&gm);
	/* RAM that ends right after it: fine */
	assert_int_equal(
	    gm_init(&gm, LAYOUT_ZERO_PAGE + 4096, LAYOUT_MMIO_GAP_START, LAYOUT_MMIO_GAP_END), 0);
	assert_int_equal(boot_params_write(&gm, &s), 0);
	gm_destroy(&gm);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_e820_128m),
	    cmocka_unit_test(test_e820_3g),
	    cmocka_unit_test(test_e820_3g_plus_4k),
	    cmocka_unit_test(test_e820_5g),
	    cmocka_unit_test(test_e820_16g),
	    cmocka_unit_test(test_e820_max),
	    cmocka_unit_test_setup_teardown(test_zero_page_elf, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_zero_page_no_initrd_no_acpi, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_zero_page_high_addresses, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_zero_page_bzimage, setup, teardown),
	    cmocka_unit_test(test_zero_page_outside_ram),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
