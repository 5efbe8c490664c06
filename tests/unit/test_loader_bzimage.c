/* bzImage loader: setup header checks, load address choice, real kernel. */
#include <errno.h>
#include <glob.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "ember/error.h"
#include "ember/layout.h"
#include "ember/loader.h"
#include "ember/memory.h"
#include "ember/util.h"
#include "test_loader_images.h"

static struct guest_mem gm64, gm16;

static int setup(void **state)
{
	if (gm_init(&gm64, 64 * TI_MiB, LAYOUT_MMIO_GAP_START, LAYOUT_MMIO_GAP_END) < 0 ||
	    gm_init(&gm16, 16 * TI_MiB, LAYOUT_MMIO_GAP_START, LAYOUT_MMIO_GAP_END) < 0)
		return -1;
	return 0;
}

static int teardown(void **state)
{
	gm_destroy(&gm64);
	gm_destroy(&gm16);
	return 0;
}

static void expect_err(int r, int errnum, const char *needle)
{
	assert_int_equal(r, -errnum);
	if (!strstr(err_msg(), needle))
		fail_msg("error \"%s\" does not mention \"%s\"", err_msg(), needle);
}

static int load(struct guest_mem *gm, const struct ti_bz *p, struct kernel_image *k)
{
	size_t len;
	uint8_t *img = ti_build_bzimage(p, &len);
	int r = loader_load_bzimage(gm, img, len, k);

	free(img);
	return r;
}

/* From a file (pread/sendfile straight into guest RAM) the result is the
 * same as from memory; a file that is shorter than its header says fails
 * with a truncation error; a head buffer serves the header reads. */
static void test_from_file(void **state)
{
	struct ti_bz p = ti_bz_default();
	struct kernel_image km, kf;
	size_t len, setup_size = ti_bz_setup_size(&p);
	uint8_t *img = ti_build_bzimage(&p, &len);
	char path[] = "/tmp/ember-test-bz.XXXXXX";
	int fd = mkstemp(path);
	struct kimage fi = {.fd = fd, .len = len};

	assert_true(fd >= 0);
	unlink(path);
	assert_int_equal(write(fd, img, len), (ssize_t)len);
	assert_int_equal(loader_load_kernel(&gm64, img, len, &km), 0);
	memset(gm_slice(&gm64, km.load_start, len - setup_size), 0, len - setup_size);
	assert_int_equal(loader_load_image(&gm64, &fi, &kf), 0);
	assert_memory_equal(&km, &kf, sizeof(km));
	assert_memory_equal(gm_slice(&gm64, kf.load_start, len - setup_size), img + setup_size,
			    len - setup_size);
	fi.head = img;
	fi.head_len = setup_size;
	assert_int_equal(loader_load_image(&gm64, &fi, &kf), 0);
	assert_memory_equal(&km, &kf, sizeof(km));
	fi.head = NULL;
	assert_int_equal(ftruncate(fd, (off_t)(len - 16)), 0);
	expect_err(loader_load_image(&gm64, &fi, &kf), EIO, "bzImage");
	close(fd);
	free(img);
}

static void test_good_at_pref_address(void **state)
{
	struct ti_bz p = ti_bz_default();
	struct kernel_image k;
	size_t len, setup_size = ti_bz_setup_size(&p);
	uint8_t *img = ti_build_bzimage(&p, &len);

	assert_true(loader_is_bzimage(img, len));
	assert_false(loader_is_elf(img, len));
	assert_int_equal(loader_load_kernel(&gm64, img, len, &k), 0);
	assert_int_equal(k.kind, KERNEL_BZIMAGE);
	assert_int_equal(k.load_start, 0x1000000);
	assert_int_equal(k.entry, 0x1000200);
	assert_int_equal(k.load_end, 0x1000000 + 8 * TI_MiB);
	assert_true(k.has_setup_header);
	assert_int_equal(k.hdr.version, 0x020f);
	assert_int_equal(k.hdr.boot_flag, 0xaa55);
	assert_int_equal(k.hdr.header, 0x53726448);
	assert_int_equal(k.hdr.init_size, 8 * TI_MiB);
	assert_int_equal(k.hdr.kernel_info_offset, 0x12345);
	assert_int_equal(k.hdr.code32_start, 0x1000000);
	assert_int_equal(k.hdr.type_of_loader, 0xff);
	assert_int_equal(k.cmdline_max, 0x7ff);
	assert_int_equal(k.initrd_addr_max, 0x7fffffff);
	/* the protected-mode part, byte for byte */
	assert_memory_equal(gm_slice(&gm64, 0x1000000, len - setup_size), img + setup_size,
			    len - setup_size);
	free(img);
}

static void test_relocated_when_pref_does_not_fit(void **state)
{
	struct ti_bz p = ti_bz_default();
	struct kernel_image k;

	/* 16 MiB of RAM: pref_address 16 MiB cannot work, relocate to 2 MiB */
	assert_int_equal(load(&gm16, &p, &k), 0);
	assert_int_equal(k.load_start, 0x200000);
	assert_int_equal(k.entry, 0x200200);
	assert_int_equal(k.load_end, 0x200000 + 8 * TI_MiB);
	assert_int_equal(k.hdr.code32_start, 0x200000);

	/* 4 KiB alignment: right at 1 MiB */
	p.kernel_alignment = 0x1000;
	assert_int_equal(load(&gm16, &p, &k), 0);
	assert_int_equal(k.load_start, LAYOUT_HIMEM);

	/* a misaligned preferred address is not used */
	p.kernel_alignment = 0x200000;
	p.pref_address = 0x1100000;
	assert_int_equal(load(&gm64, &p, &k), 0);
	assert_int_equal(k.load_start, 0x200000);

	/* payload bigger than init_size: load_end covers the payload */
	p = ti_bz_default();
	p.init_size = 0x1000;
	p.pm_len = 0x20000;
	assert_int_equal(load(&gm64, &p, &k), 0);
	assert_int_equal(k.load_end, 0x1000000 + 0x20000);
}

static void test_does_not_fit(void **state)
{
	struct ti_bz p = ti_bz_default();
	struct kernel_image k;

	p.init_size = 15 * TI_MiB; /* 2 MiB + 15 MiB > 16 MiB */
	expect_err(load(&gm16, &p, &k), ENOMEM, "bzImage needs 15 MiB");
	p.init_size = 0xffffffff;
	expect_err(load(&gm64, &p, &k), ENOMEM, "guest RAM ends at 0x4000000");
	p = ti_bz_default();
	p.relocatable = 0;
	expect_err(load(&gm16, &p, &k), ENOMEM, "non-relocatable");
	assert_int_equal(load(&gm64, &p, &k), 0);
	assert_int_equal(k.load_start, 0x1000000);
}

static void test_header_checks(void **state)
{
	struct ti_bz p = ti_bz_default();
	struct kernel_image k;

	p.version = 0x0204;
	expect_err(load(&gm64, &p, &k), ENOEXEC,
		   "bzImage protocol version 2.04 too old (need >= 2.06)");
	p.version = 0x020b; /* before xloadflags existed */
	expect_err(load(&gm64, &p, &k), ENOEXEC, "XLF_KERNEL_64 missing");
	p.version = 0x020f;
	p.xloadflags = XLF_CAN_BE_LOADED_ABOVE_4G;
	expect_err(load(&gm64, &p, &k), ENOEXEC,
		   "bzImage is not 64-bit capable (XLF_KERNEL_64 missing)");
	p.xloadflags = XLF_KERNEL_64;
	p.loadflags = 0;
	expect_err(load(&gm64, &p, &k), ENOEXEC, "LOADED_HIGH");
	p.loadflags = LOADED_HIGH;
	p.kernel_alignment = 0x300000;
	expect_err(load(&gm64, &p, &k), ENOEXEC, "kernel_alignment");
	p.kernel_alignment = 0;
	expect_err(load(&gm64, &p, &k), ENOEXEC, "kernel_alignment");
	p.kernel_alignment = 0x200000;
	p.hdr_len_byte = 0x50; /* header ends before init_size */
	expect_err(load(&gm64, &p, &k), ENOEXEC, "setup header too short");
	p.hdr_len_byte = 0x62; /* through init_size: later fields read as zero */
	assert_int_equal(load(&gm64, &p, &k), 0);
	assert_int_equal(k.hdr.init_size, 8 * TI_MiB);
	assert_int_equal(k.hdr.kernel_info_offset, 0);
	assert_int_equal(k.hdr.handover_offset, 0);
}

static void test_setup_sects_zero_means_four(void **state)
{
	struct ti_bz p = ti_bz_default();
	struct kernel_image k;
	size_t len;
	uint8_t *img;

	p.setup_sects = 0;
	img = ti_build_bzimage(&p, &len);
	assert_int_equal(loader_load_bzimage(&gm64, img, len, &k), 0);
	assert_memory_equal(gm_slice(&gm64, k.load_start, 64), img + 5 * 512, 64);
	free(img);
}

static void test_magic_and_truncation(void **state)
{
	struct ti_bz p = ti_bz_default();
	struct kernel_image k;
	size_t len, setup_size = ti_bz_setup_size(&p);
	uint8_t *img = ti_build_bzimage(&p, &len);

	/* truncated inside the protected-mode part (syssize says more) */
	expect_err(loader_load_bzimage(&gm64, img, len - 16, &k), ENOEXEC, "truncated");
	/* only the setup sectors */
	expect_err(loader_load_bzimage(&gm64, img, setup_size, &k), ENOEXEC, "truncated");
	/* cut inside the setup header */
	expect_err(loader_load_bzimage(&gm64, img, 0x220, &k), ENOEXEC, "truncated");
	expect_err(loader_load_bzimage(&gm64, img, 0x100, &k), ENOEXEC, "not a bzImage");
	/* huge syssize */
	memcpy(img + 0x1f4, "\xff\xff\xff\xff", 4);
	expect_err(loader_load_bzimage(&gm64, img, len, &k), ENOEXEC, "truncated");
	memset(img + 0x1f4, 0, 4);
	expect_err(loader_load_bzimage(&gm64, img, len, &k), ENOEXEC, "syssize 0");
	img[0x1f4] = 0x20; /* 512 bytes: no room for the 64-bit entry at 0x200 */
	expect_err(loader_load_bzimage(&gm64, img, len, &k), ENOEXEC,
		   "too small for the 64-bit entry");
	/* huge setup_sects */
	img[0x1f1] = 0xff;
	memcpy(img + 0x1f4, "\x00\x10\x00\x00", 4);
	expect_err(loader_load_bzimage(&gm64, img, len, &k), ENOEXEC, "truncated");
	/* wrong magic */
	img[0x1fe] = 0;
	expect_err(loader_load_bzimage(&gm64, img, len, &k), ENOEXEC, "not a bzImage");
	expect_err(loader_load_kernel(&gm64, img, len, &k), ENOEXEC, "not a kernel");
	img[0x1fe] = 0x55;
	memcpy(img + 0x202, "HdrX", 4);
	expect_err(loader_load_kernel(&gm64, img, len, &k), ENOEXEC, "not a kernel");
	free(img);
}

/* $EMBER_TEST_BZIMAGE, else the newest kernel tools/fetch-debian-kernel.sh
 * cached in $EMBER_CACHE (default ~/.cache/ember)/debian-kernel/x/vmlinuz. */
static int read_debian_kernel(uint8_t **img, size_t *len)
{
	const char *path = getenv("EMBER_TEST_BZIMAGE"), *cache = getenv("EMBER_CACHE");
	char pattern[4096];
	glob_t g;
	int r;

	if (path)
		return read_whole_file(path, 256 << 20, img, len);
	if (cache)
		snprintf(pattern, sizeof(pattern), "%s/debian-kernel/*/vmlinuz", cache);
	else if (getenv("HOME"))
		snprintf(pattern, sizeof(pattern), "%s/.cache/ember/debian-kernel/*/vmlinuz",
			 getenv("HOME"));
	else
		return -ENOENT;
	if (glob(pattern, 0, NULL, &g) != 0)
		return -ENOENT;
	r = read_whole_file(g.gl_pathv[g.gl_pathc - 1], 256 << 20, img, len);
	print_message("debian kernel: %s\n", g.gl_pathv[g.gl_pathc - 1]);
	globfree(&g);
	return r;
}

/* The real Debian cloud kernel, when present (optional). */
static void test_debian_kernel(void **state)
{
	struct guest_mem gm;
	struct kernel_image k;
	uint8_t *img, *elf;
	size_t len, elf_len;

	if (read_debian_kernel(&img, &len) < 0)
		skip();
	assert_int_equal(gm_init(&gm, 256 * TI_MiB, LAYOUT_MMIO_GAP_START, LAYOUT_MMIO_GAP_END), 0);
	assert_true(loader_is_pe(img, len)); /* EFI stub */
	assert_int_equal(loader_load_kernel(&gm, img, len, &k), 0);
	assert_int_equal(k.kind, KERNEL_BZIMAGE);
	assert_int_equal(k.load_start, k.hdr.pref_address);
	assert_int_equal(k.entry, k.load_start + 0x200);
	assert_int_equal(k.load_end, k.load_start + k.hdr.init_size);
	assert_true(k.cmdline_max >= 2047);

	assert_int_equal(loader_bzimage_decompress(img, len, &elf, &elf_len), 0);
	assert_true(loader_is_elf(elf, elf_len));
	assert_true(elf_len > len);
	free(elf);
	assert_int_equal(loader_load_bzimage_decompressed(&gm, img, len, &k), 0);
	assert_int_equal(k.kind, KERNEL_ELF);
	assert_true(k.has_setup_header);
	assert_true(k.entry >= k.load_start && k.entry < k.load_end);
	printf("# debian kernel: vmlinux entry %#llx, %llu MiB footprint\n",
	       (unsigned long long)k.entry,
	       (unsigned long long)((k.load_end - k.load_start) >> 20));
	gm_destroy(&gm);
	free(img);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_good_at_pref_address),
	    cmocka_unit_test(test_from_file),
	    cmocka_unit_test(test_relocated_when_pref_does_not_fit),
	    cmocka_unit_test(test_does_not_fit),
	    cmocka_unit_test(test_header_checks),
	    cmocka_unit_test(test_setup_sects_zero_means_four),
	    cmocka_unit_test(test_magic_and_truncation),
	    cmocka_unit_test(test_debian_kernel),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
