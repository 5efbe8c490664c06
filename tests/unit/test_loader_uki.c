/* UKI (PE/COFF) parser: synthetic images built here, every header and
 * section check, truncation at every length. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "ember/error.h"
#include "ember/layout.h"
#include "ember/loader.h"
#include "ember/memory.h"
#include "ember/util.h"
#include "test_loader_images.h"

#define LFANEW 0x80
#define OPT (LFANEW + 24)
#define OPT_SIZE 240 /* PE32+ with 16 data directories */
#define TABLE (OPT + OPT_SIZE)

struct pe_sec {
	const char *name;
	const void *data;
	size_t len;
};

static void le16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
}

static void le32(uint8_t *p, uint32_t v)
{
	le16(p, (uint16_t)v);
	le16(p + 2, (uint16_t)(v >> 16));
}

static uint8_t *sec_hdr(uint8_t *pe, int i)
{
	return pe + TABLE + i * 40;
}

/* A PE32+ x86-64 image like the systemd stub plus objcopy'd sections:
 * FileAlignment 0x200, SectionAlignment 0x1000, raw data from 0x400. */
static uint8_t *build_pe(const struct pe_sec *s, int n, size_t *len)
{
	size_t off = 0x400, total = 0x400;
	uint32_t va = 0x1000;
	uint8_t *pe;

	for (int i = 0; i < n; i++)
		total += (s[i].len + 0x1ff) & ~(size_t)0x1ff;
	pe = calloc(1, total);
	pe[0] = 'M';
	pe[1] = 'Z';
	le32(pe + 0x3c, LFANEW);
	memcpy(pe + LFANEW, "PE\0\0", 4);
	le16(pe + LFANEW + 4, 0x8664);
	le16(pe + LFANEW + 6, (uint16_t)n);
	le16(pe + LFANEW + 20, OPT_SIZE);
	le16(pe + LFANEW + 22, 0x206);
	le16(pe + OPT, 0x20b);
	le32(pe + OPT + 32, 0x1000); /* SectionAlignment */
	le32(pe + OPT + 36, 0x200);  /* FileAlignment */
	le32(pe + OPT + 60, 0x400);  /* SizeOfHeaders */
	le16(pe + OPT + 68, 10);     /* EFI application */
	le32(pe + OPT + 108, 16);    /* NumberOfRvaAndSizes */
	assert_true(TABLE + n * 40 <= 0x400);
	for (int i = 0; i < n; i++) {
		uint8_t *h = sec_hdr(pe, i);
		size_t raw = (s[i].len + 0x1ff) & ~(size_t)0x1ff;

		strncpy((char *)h, s[i].name, 8);
		le32(h + 8, (uint32_t)s[i].len);
		le32(h + 12, va);
		le32(h + 16, (uint32_t)raw);
		le32(h + 20, raw ? (uint32_t)off : 0);
		le32(h + 36, 0x40000040); /* initialized data, readable */
		memcpy(pe + off, s[i].data, s[i].len);
		off += raw;
		va += (uint32_t)((s[i].len + 0xfff) & ~(size_t)0xfff) + 0x1000;
	}
	le32(pe + OPT + 56, va); /* SizeOfImage */
	*len = total;
	return pe;
}

static uint8_t *bz;
static size_t bz_len;
static const char text[] = "\x55\x48\x89\xe5 stub code";
static const char osrel[] = "ID=debian\nVERSION_ID=12\n";
static const char cmdline[] = "console=ttyS0 quiet\n\0\0";
static const char uname_s[] = "6.1.0-56-cloud-amd64";
static const char initrd[] = "070701 initramfs";
static const char ucode[] = "GenuineIntel.bin";

static int setup(void **state)
{
	struct ti_bz p = ti_bz_default();

	bz = ti_build_bzimage(&p, &bz_len);
	return 0;
}

static int teardown(void **state)
{
	free(bz);
	return 0;
}

static uint8_t *full_uki(size_t *len)
{
	const struct pe_sec s[] = {
	    {".text", text, sizeof(text)},	     {".osrel", osrel, sizeof(osrel) - 1},
	    {".cmdline", cmdline, sizeof(cmdline)},  {".uname", uname_s, sizeof(uname_s) - 1},
	    {".ucode", ucode, sizeof(ucode) - 1},    {".linux", bz, bz_len},
	    {".initrd", initrd, sizeof(initrd) - 1},
	};

	return build_pe(s, 7, len);
}

static void expect_err(int r, int errnum, const char *needle)
{
	assert_int_equal(r, -errnum);
	if (!strstr(err_msg(), needle))
		fail_msg("error \"%s\" does not mention \"%s\"", err_msg(), needle);
}

static void test_good_uki(void **state)
{
	struct uki_image u;
	struct guest_mem gm;
	struct kernel_image k;
	size_t len, rd_len;
	uint8_t *pe = full_uki(&len), *rd;

	assert_true(loader_is_pe(pe, len));
	assert_false(loader_is_bzimage(pe, len));
	assert_int_equal(loader_parse_uki(pe, len, &u), 0);
	assert_int_equal(u.linux_len, bz_len);
	assert_memory_equal(u.linux_sec, bz, bz_len);
	assert_int_equal(u.cmdline_len, strlen("console=ttyS0 quiet")); /* trimmed */
	assert_memory_equal(u.cmdline_sec, "console=ttyS0 quiet", u.cmdline_len);
	assert_int_equal(u.osrel_len, sizeof(osrel) - 1);
	assert_memory_equal(u.osrel_sec, osrel, u.osrel_len);
	assert_int_equal(u.uname_len, sizeof(uname_s) - 1);
	assert_int_equal(u.initrd_len, sizeof(initrd) - 1);
	assert_int_equal(u.ucode_len, sizeof(ucode) - 1);

	/* .ucode goes in front of .initrd */
	assert_int_equal(loader_uki_initrd(&u, &rd, &rd_len), 0);
	assert_int_equal(rd_len, u.ucode_len + u.initrd_len);
	assert_memory_equal(rd, ucode, u.ucode_len);
	assert_memory_equal(rd + u.ucode_len, initrd, u.initrd_len);
	free(rd);

	/* loader_load_kernel boots .linux as a bzImage */
	assert_int_equal(gm_init(&gm, 64 * TI_MiB, LAYOUT_MMIO_GAP_START, LAYOUT_MMIO_GAP_END), 0);
	assert_int_equal(loader_load_kernel(&gm, pe, len, &k), 0);
	assert_int_equal(k.kind, KERNEL_UKI);
	assert_int_equal(k.entry, 0x1000200);
	assert_true(k.has_setup_header);
	gm_destroy(&gm);
	free(pe);
}

static void test_minimal_and_missing(void **state)
{
	struct uki_image u;
	size_t len, rd_len;
	uint8_t *pe, *rd;
	const struct pe_sec only_linux[] = {{".linux", bz, bz_len}};
	const struct pe_sec no_linux[] = {{".text", text, sizeof(text)},
					  {".initrd", initrd, sizeof(initrd)}};
	const struct pe_sec junk_linux[] = {{".linux", text, sizeof(text)}};
	const struct pe_sec two_linux[] = {{".linux", bz, bz_len}, {".linux", bz, bz_len}};

	pe = build_pe(only_linux, 1, &len);
	assert_int_equal(loader_parse_uki(pe, len, &u), 0);
	assert_null(u.initrd_sec);
	assert_null(u.cmdline_sec);
	assert_int_equal(u.cmdline_len, 0);
	assert_int_equal(loader_uki_initrd(&u, &rd, &rd_len), 0);
	assert_null(rd);
	assert_int_equal(rd_len, 0);
	free(pe);

	pe = build_pe(no_linux, 2, &len);
	expect_err(loader_parse_uki(pe, len, &u), ENOEXEC, "UKI has no .linux section");
	assert_null(u.initrd_sec); /* nothing half-filled on error */
	free(pe);
	pe = build_pe(junk_linux, 1, &len);
	expect_err(loader_parse_uki(pe, len, &u), ENOEXEC, ".linux section is not a bzImage");
	free(pe);
	pe = build_pe(two_linux, 2, &len);
	expect_err(loader_parse_uki(pe, len, &u), ENOEXEC, "more than one .linux");
	free(pe);
}

static void test_profiles(void **state)
{
	const struct pe_sec s[] = {
	    {".linux", bz, bz_len},	 {".cmdline", "base", 4}, {".profile", "ID=a", 4},
	    {".cmdline", "profile0", 8}, {".profile", "ID=b", 4}, {".cmdline", "profile1", 8},
	};
	struct uki_image u;
	size_t len;
	uint8_t *pe = build_pe(s, 6, &len);

	assert_int_equal(loader_parse_uki(pe, len, &u), 0);
	assert_int_equal(u.cmdline_len, 8);
	assert_memory_equal(u.cmdline_sec, "profile0", 8);
	free(pe);
}

static void test_header_checks(void **state)
{
	struct uki_image u;
	size_t len;
	uint8_t *pe = full_uki(&len);

	pe[0] = 'X';
	expect_err(loader_parse_uki(pe, len, &u), ENOEXEC, "MZ");
	pe[0] = 'M';
	le32(pe + 0x3c, 0xffffffff);
	expect_err(loader_parse_uki(pe, len, &u), ENOEXEC, "truncated");
	le32(pe + 0x3c, (uint32_t)len - 10);
	expect_err(loader_parse_uki(pe, len, &u), ENOEXEC, "truncated");
	le32(pe + 0x3c, 0x40);
	expect_err(loader_parse_uki(pe, len, &u), ENOEXEC, "PE\\0\\0");
	le32(pe + 0x3c, LFANEW);
	le16(pe + LFANEW + 4, 0x14c); /* i386 */
	expect_err(loader_parse_uki(pe, len, &u), ENOEXEC, "not x86-64");
	le16(pe + LFANEW + 4, 0x8664);
	le16(pe + OPT, 0x10b);
	expect_err(loader_parse_uki(pe, len, &u), ENOEXEC, "not PE32+");
	le16(pe + OPT, 0x20b);
	le16(pe + LFANEW + 20, 96);
	expect_err(loader_parse_uki(pe, len, &u), ENOEXEC, "too small for PE32+");
	le16(pe + LFANEW + 20, OPT_SIZE);
	expect_err(loader_parse_uki(pe, OPT + 200, &u), ENOEXEC, "truncated inside its optional");
	expect_err(loader_parse_uki(pe, TABLE + 100, &u), ENOEXEC, "section table ends");
	le32(pe + OPT + 108, 17);
	expect_err(loader_parse_uki(pe, len, &u), ENOEXEC, "data directories");
	le32(pe + OPT + 108, 16);
	le32(pe + OPT + 32, 0x1800);
	expect_err(loader_parse_uki(pe, len, &u), ENOEXEC, "alignment");
	le32(pe + OPT + 32, 0x100); /* smaller than FileAlignment */
	expect_err(loader_parse_uki(pe, len, &u), ENOEXEC, "alignment");
	le32(pe + OPT + 32, 0x1000);
	le32(pe + OPT + 36, 0);
	expect_err(loader_parse_uki(pe, len, &u), ENOEXEC, "alignment");
	le32(pe + OPT + 36, 0x200);
	le16(pe + LFANEW + 6, 0);
	expect_err(loader_parse_uki(pe, len, &u), ENOEXEC, "no sections");
	le16(pe + LFANEW + 6, 0xffff);
	expect_err(loader_parse_uki(pe, len, &u), ENOEXEC, "sections");
	le16(pe + LFANEW + 6, 7);
	assert_int_equal(loader_parse_uki(pe, len, &u), 0);
	free(pe);
}

static void test_section_checks(void **state)
{
	struct uki_image u;
	size_t len;
	uint8_t *pe = full_uki(&len);
	uint8_t *lin = sec_hdr(pe, 5), *rd = sec_hdr(pe, 6);
	uint32_t lin_ptr = (uint32_t)(lin[20] | lin[21] << 8 | lin[22] << 16 | lin[23] << 24);

	/* raw data past the end of the file */
	le32(rd + 16, 0x10000);
	expect_err(loader_parse_uki(pe, len, &u), ENOEXEC, "outside the file");
	/* pointer + size overflowing 32 bits */
	le32(rd + 20, 0xffffff00);
	le32(rd + 16, 0x200);
	expect_err(loader_parse_uki(pe, len, &u), ENOEXEC, "outside the file");
	/* .initrd's raw range inside .linux's */
	le32(rd + 20, lin_ptr + 0x200);
	expect_err(loader_parse_uki(pe, len, &u), ENOEXEC, "sections .linux and .initrd overlap");
	/* same start */
	le32(rd + 20, lin_ptr);
	expect_err(loader_parse_uki(pe, len, &u), ENOEXEC, "overlap");
	/* raw data inside the headers */
	le32(rd + 20, 0x100);
	expect_err(loader_parse_uki(pe, len, &u), ENOEXEC, "overlaps the PE headers");
	/* virtual range overflow */
	le32(rd + 20, (uint32_t)len - 0x200);
	le32(rd + 12, 0xfffff000);
	le32(rd + 8, 0x2000);
	expect_err(loader_parse_uki(pe, len, &u), ENOEXEC, "virtual range overflows");
	le32(rd + 12, 0x100000);
	assert_int_equal(loader_parse_uki(pe, len, &u), 0);
	/* VirtualSize 0: the raw size is the length; VirtualSize < raw: VirtualSize */
	le32(lin + 8, 0);
	assert_int_equal(loader_parse_uki(pe, len, &u), 0);
	assert_int_equal(u.linux_len, (bz_len + 0x1ff) & ~(size_t)0x1ff);
	le32(lin + 8, 0x300);
	assert_int_equal(loader_parse_uki(pe, len, &u), 0);
	assert_int_equal(u.linux_len, 0x300);
	free(pe);
}

/* Every truncation fails cleanly (the last section ends at the file end). */
static void test_truncated_everywhere(void **state)
{
	struct uki_image u;
	size_t len;
	uint8_t *pe = full_uki(&len);

	/* every length through the headers and near the end, sampled between */
	for (size_t cut = 0; cut < len; cut += (cut < 0x800 || cut > len - 0x100) ? 1 : 61) {
		uint8_t *copy = malloc(cut ? cut : 1); /* ASan sees any overread */

		memcpy(copy, pe, cut);
		if (loader_parse_uki(copy, cut, &u) == 0)
			fail_msg("truncated to %zu of %zu bytes accepted", cut, len);
		free(copy);
	}
	free(pe);
}

/* An EFI-stub bzImage is a PE too, but loads as a bzImage. */
static void test_efi_stub_bzimage_is_bzimage(void **state)
{
	struct guest_mem gm;
	struct kernel_image k;
	uint8_t *img = malloc(bz_len);

	memcpy(img, bz, bz_len);
	img[0] = 'M';
	img[1] = 'Z';
	le32(img + 0x3c, 0x40);
	memcpy(img + 0x40, "PE\0\0", 4);
	assert_true(loader_is_pe(img, bz_len));
	assert_int_equal(gm_init(&gm, 64 * TI_MiB, LAYOUT_MMIO_GAP_START, LAYOUT_MMIO_GAP_END), 0);
	assert_int_equal(loader_load_kernel(&gm, img, bz_len, &k), 0);
	assert_int_equal(k.kind, KERNEL_BZIMAGE);
	gm_destroy(&gm);
	free(img);
}

/* tools/mkuki.sh (objcopy + systemd-boot-efi's stub) output parses; skipped
 * when the stub or objcopy is missing. Run from the repository root. */
static void test_mkuki_output(void **state)
{
	char dir[] = "/tmp/ember-uki-XXXXXX", cmd[1024], path[256];
	struct uki_image u;
	uint8_t *pe;
	size_t len;
	FILE *f;

	if (access("/usr/lib/systemd/boot/efi/linuxx64.efi.stub", R_OK) != 0 ||
	    access("tools/mkuki.sh", X_OK) != 0 || system("command -v objcopy >/dev/null") != 0)
		skip();
	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/bzImage", dir);
	f = fopen(path, "wb");
	assert_non_null(f);
	assert_int_equal(fwrite(bz, 1, bz_len, f), bz_len);
	fclose(f);
	snprintf(path, sizeof(path), "%s/initrd", dir);
	f = fopen(path, "wb");
	assert_non_null(f);
	fputs(initrd, f);
	fclose(f);
	snprintf(cmd, sizeof(cmd),
		 "tools/mkuki.sh -o %s/uki.efi -k %s/bzImage -i %s/initrd -c 'console=ttyS0 x=1' "
		 "-n 6.1-test >/dev/null",
		 dir, dir, dir);
	assert_int_equal(system(cmd), 0);
	snprintf(path, sizeof(path), "%s/uki.efi", dir);
	assert_int_equal(read_whole_file(path, 64 << 20, &pe, &len), 0);
	assert_int_equal(loader_parse_uki(pe, len, &u), 0);
	assert_int_equal(u.linux_len, bz_len);
	assert_memory_equal(u.linux_sec, bz, bz_len);
	assert_int_equal(u.initrd_len, strlen(initrd));
	assert_memory_equal(u.cmdline_sec, "console=ttyS0 x=1", u.cmdline_len);
	assert_memory_equal(u.uname_sec, "6.1-test", u.uname_len);
	assert_non_null(u.osrel_sec);
	free(pe);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	assert_int_equal(system(cmd), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_good_uki),
	    cmocka_unit_test(test_minimal_and_missing),
	    cmocka_unit_test(test_profiles),
	    cmocka_unit_test(test_header_checks),
	    cmocka_unit_test(test_section_checks),
	    cmocka_unit_test(test_truncated_everywhere),
	    cmocka_unit_test(test_efi_stub_bzimage_is_bzimage),
	    cmocka_unit_test(test_mkuki_output),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
