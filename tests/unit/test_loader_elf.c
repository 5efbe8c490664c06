/* ELF vmlinux loader: good images, malformed headers and segments. */
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
#include "ember/util.h"
#include "test_loader_images.h"

#define RAM (64 * TI_MiB)

static int setup(void **state)
{
	static struct guest_mem gm;

	if (gm_init(&gm, RAM, LAYOUT_MMIO_GAP_START, LAYOUT_MMIO_GAP_END) < 0)
		return -1;
	memset(gm.base, 0xaa, RAM); /* dirty: zero-fill of bss must be visible */
	*state = &gm;
	return 0;
}

static int teardown(void **state)
{
	gm_destroy(*state);
	return 0;
}

static void expect_err(int r, int errnum, const char *needle)
{
	assert_int_equal(r, -errnum);
	if (!strstr(err_msg(), needle))
		fail_msg("error \"%s\" does not mention \"%s\"", err_msg(), needle);
}

static void test_good_elf(void **state)
{
	struct guest_mem *gm = *state;
	const struct ti_seg segs[] = {
	    {.paddr = 0x100000, .filesz = 0x3000, .memsz = 0x3000},
	    {.type = PT_NOTE, .paddr = 0, .filesz = 0x10, .memsz = 0x10},
	    {.paddr = 0x200000, .filesz = 0x1800, .memsz = 0x5000}, /* bss */
	};
	struct kernel_image k;
	size_t len;
	uint8_t *elf = ti_build_elf(0x100040, segs, 3, &len), *p;

	assert_int_equal(loader_load_elf(gm, elf, len, &k), 0);
	assert_int_equal(k.kind, KERNEL_ELF);
	assert_int_equal(k.entry, 0x100040);
	assert_int_equal(k.load_start, 0x100000);
	assert_int_equal(k.load_end, 0x205000);
	assert_false(k.has_setup_header);
	assert_int_equal(k.cmdline_max, 2047);
	assert_int_equal(k.initrd_addr_max, 0x7fffffff);
	p = gm_slice(gm, 0x100000, 0x3000);
	assert_int_equal(p[0], 1);
	assert_int_equal(p[0x2fff], 1);
	assert_int_equal(*(uint8_t *)gm_slice(gm, 0x103000, 1), 0xaa); /* untouched */
	p = gm_slice(gm, 0x200000, 0x5000);
	assert_int_equal(p[0x17ff], 3);
	for (size_t i = 0x1800; i < 0x5000; i++)
		assert_int_equal(p[i], 0);
	assert_int_equal(*(uint8_t *)gm_slice(gm, 0x205000, 1), 0xaa);

	/* the generic entry point detects ELF */
	memset(&k, 0x5a, sizeof(k));
	assert_int_equal(loader_load_kernel(gm, elf, len, &k), 0);
	assert_int_equal(k.kind, KERNEL_ELF);
	assert_int_equal(k.entry, 0x100040);
	free(elf);
}

static void test_virtual_entry(void **state)
{
	const struct ti_seg segs[] = {
	    {.paddr = 0x1000000, .vaddr = 0xffffffff81000000ULL, .filesz = 0x2000, .memsz = 0x2000},
	    {.paddr = 0x1400000, .vaddr = 0xffffffff81400000ULL, .filesz = 0x1000, .memsz = 0x9000},
	};
	struct kernel_image k;
	size_t len;
	uint8_t *elf = ti_build_elf(0xffffffff81400010ULL, segs, 2, &len);

	assert_int_equal(loader_load_elf(*state, elf, len, &k), 0);
	assert_int_equal(k.entry, 0x1400010);
	assert_int_equal(k.load_end, 0x1409000);

	/* a virtual entry that no segment maps */
	((Elf64_Ehdr *)elf)->e_entry = 0xffffffff82000000ULL;
	expect_err(loader_load_elf(*state, elf, len, &k), ENOEXEC, "entry point");
	/* a physical entry outside every segment */
	((Elf64_Ehdr *)elf)->e_entry = 0x3000000;
	expect_err(loader_load_elf(*state, elf, len, &k), ENOEXEC, "entry point");
	free(elf);
}

static uint8_t *one_seg(size_t *len)
{
	const struct ti_seg s = {.paddr = 0x100000, .filesz = 0x1000, .memsz = 0x1000};

	return ti_build_elf(0x100000, &s, 1, len);
}

static void test_bad_headers(void **state)
{
	struct kernel_image k;
	size_t len;
	uint8_t *elf = one_seg(&len);
	Elf64_Ehdr *eh = (Elf64_Ehdr *)elf;

	expect_err(loader_load_elf(*state, elf, 40, &k), ENOEXEC, "truncated");
	expect_err(loader_load_elf(*state, elf, 3, &k), ENOEXEC, "not an ELF");
	eh->e_ident[EI_CLASS] = ELFCLASS32;
	expect_err(loader_load_elf(*state, elf, len, &k), ENOEXEC, "not 64-bit");
	eh->e_ident[EI_CLASS] = ELFCLASS64;
	eh->e_ident[EI_DATA] = ELFDATA2MSB;
	expect_err(loader_load_elf(*state, elf, len, &k), ENOEXEC, "little-endian");
	eh->e_ident[EI_DATA] = ELFDATA2LSB;
	eh->e_machine = EM_AARCH64;
	expect_err(loader_load_elf(*state, elf, len, &k), ENOEXEC, "not x86-64");
	eh->e_machine = EM_X86_64;
	eh->e_type = ET_DYN;
	expect_err(loader_load_elf(*state, elf, len, &k), ENOEXEC, "not an executable");
	eh->e_type = ET_EXEC;
	eh->e_phentsize = 32;
	expect_err(loader_load_elf(*state, elf, len, &k), ENOEXEC, "program header size");
	eh->e_phentsize = sizeof(Elf64_Phdr);
	eh->e_phnum = 0;
	expect_err(loader_load_elf(*state, elf, len, &k), ENOEXEC, "no program headers");
	eh->e_phnum = 0xffff;
	expect_err(loader_load_elf(*state, elf, len, &k), ENOEXEC, "program headers");
	eh->e_phnum = 1;
	eh->e_phoff = len - 10;
	expect_err(loader_load_elf(*state, elf, len, &k), ENOEXEC, "program headers outside");
	eh->e_phoff = 0xffffffffffffffc0ULL; /* phoff + size overflows */
	expect_err(loader_load_elf(*state, elf, len, &k), ENOEXEC, "program headers outside");
	eh->e_phoff = sizeof(*eh);
	ti_phdr(elf, 0)->p_type = PT_NOTE;
	expect_err(loader_load_elf(*state, elf, len, &k), ENOEXEC, "no loadable segments");
	ti_phdr(elf, 0)->p_type = PT_LOAD;
	assert_int_equal(loader_load_elf(*state, elf, len, &k), 0);

	/* junk is "not a kernel" for the generic entry point */
	memset(elf, 0x11, 0x400);
	expect_err(loader_load_kernel(*state, elf, len, &k), ENOEXEC, "not a kernel");
	free(elf);
}

static void test_segment_outside_file(void **state)
{
	struct kernel_image k;
	size_t len;
	uint8_t *elf = one_seg(&len);
	Elf64_Phdr *ph = ti_phdr(elf, 0);

	/* truncated file: segment data cut off */
	expect_err(loader_load_elf(*state, elf, len - 1, &k), ENOEXEC,
		   "ELF segment 0 outside the file");
	ph->p_offset = len + 1;
	expect_err(loader_load_elf(*state, elf, len, &k), ENOEXEC, "outside the file");
	/* p_offset + p_filesz overflows 64 bits */
	ph->p_offset = 0xfffffffffffff000ULL;
	ph->p_filesz = 0x2000;
	ph->p_memsz = 0x2000;
	expect_err(loader_load_elf(*state, elf, len, &k), ENOEXEC, "outside the file");
	ph->p_offset = 0x1000;
	ph->p_filesz = 0xffffffffffffffffULL;
	ph->p_memsz = 0xffffffffffffffffULL;
	expect_err(loader_load_elf(*state, elf, len, &k), ENOEXEC, "outside the file");
	/* filesz > memsz */
	ph->p_filesz = 0x1000;
	ph->p_memsz = 0x800;
	expect_err(loader_load_elf(*state, elf, len, &k), ENOEXEC, "larger than p_memsz");
	free(elf);
}

static void test_segment_outside_ram(void **state)
{
	struct kernel_image k;
	size_t len;
	uint8_t *elf = one_seg(&len);
	Elf64_Phdr *ph = ti_phdr(elf, 0);
	Elf64_Ehdr *eh = (Elf64_Ehdr *)elf;

	ph->p_paddr = RAM - 0x800; /* straddles the end of RAM */
	eh->e_entry = ph->p_paddr;
	expect_err(loader_load_elf(*state, elf, len, &k), ENOMEM, "outside guest RAM");
	ph->p_paddr = 0x40000000; /* 1 GiB, RAM is 64 MiB */
	eh->e_entry = ph->p_paddr;
	expect_err(loader_load_elf(*state, elf, len, &k), ENOMEM, "outside guest RAM");
	ph->p_paddr = 0xfffffffffffff800ULL; /* paddr + memsz overflows */
	eh->e_entry = ph->p_paddr;
	expect_err(loader_load_elf(*state, elf, len, &k), ENOMEM, "outside guest RAM");
	ph->p_paddr = 0x100000;
	ph->p_memsz = RAM; /* huge bss */
	eh->e_entry = ph->p_paddr;
	expect_err(loader_load_elf(*state, elf, len, &k), ENOMEM, "outside guest RAM");
	ph->p_memsz = 0x1000;
	ph->p_paddr = 0x7000; /* over the zero page */
	eh->e_entry = ph->p_paddr;
	expect_err(loader_load_elf(*state, elf, len, &k), ENOEXEC, "below 1 MiB");
	free(elf);
}

static void test_overlapping_segments(void **state)
{
	struct guest_mem *gm = *state;
	const struct ti_seg segs[] = {
	    {.paddr = 0x300000, .filesz = 0x1000, .memsz = 0x1000},
	    {.paddr = 0x100000, .filesz = 0x1000, .memsz = 0x3000},
	    {.paddr = 0x102000, .filesz = 0x1000, .memsz = 0x1000}, /* inside seg 1's bss */
	};
	struct kernel_image k;
	size_t len;
	uint8_t *elf = ti_build_elf(0x100000, segs, 3, &len);

	memset(gm_slice(gm, 0x300000, 0x1000), 0xaa, 0x1000);
	expect_err(loader_load_elf(gm, elf, len, &k), ENOEXEC, "segments 1 and 2 overlap");
	/* validation happens before any write */
	assert_int_equal(*(uint8_t *)gm_slice(gm, 0x300000, 1), 0xaa);
	/* identical start addresses */
	ti_phdr(elf, 2)->p_paddr = 0x100000;
	expect_err(loader_load_elf(gm, elf, len, &k), ENOEXEC, "overlap");
	/* adjacent is fine */
	ti_phdr(elf, 2)->p_paddr = 0x103000;
	assert_int_equal(loader_load_elf(gm, elf, len, &k), 0);
	assert_int_equal(k.load_start, 0x100000);
	assert_int_equal(k.load_end, 0x301000);
	free(elf);
}

/* The freestanding test guest, when built, must load through this path. */
static void test_testguest_if_built(void **state)
{
	struct kernel_image k;
	uint8_t *buf;
	size_t len;
	int r;

	const char *path = getenv("EMBER_TESTGUEST");

	r = read_whole_file(path ? path : "build/firmware/testguest/testguest.elf", 64 << 20, &buf,
			    &len);
	if (r < 0)
		skip();
	assert_int_equal(loader_load_elf(*state, buf, len, &k), 0);
	assert_true(k.entry >= LAYOUT_HIMEM && k.entry < k.load_end);
	free(buf);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_good_elf, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_virtual_entry, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_bad_headers, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_segment_outside_file, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_segment_outside_ram, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_overlapping_segments, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_testguest_if_built, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
