/* The aarch64 machine's pure parts, on any host: the memory layout, the
 * arm64 Image loader and initrd placement, and the device tree (parsed back
 * with libfdt node by node, then through Debian's dtc). */
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
#include <libfdt.h>

#include "ember/aarch64.h"
#include "ember/error.h"
#include "ember/memory.h"

#define RAM (256ULL << 20)

static void expect_err(int r, int errnum, const char *needle)
{
	assert_int_equal(r, -errnum);
	if (!strstr(err_msg(), needle))
		fail_msg("error \"%s\" does not mention \"%s\"", err_msg(), needle);
}

static void ram_init(struct guest_mem *gm, uint64_t size)
{
	assert_int_equal(gm_init(gm, size, 0, A64_RAM_START), 0);
}

static void put64(uint8_t *p, uint64_t v)
{
	for (int i = 0; i < 8; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

/* An arm64 Image of len bytes with the given header fields. */
static uint8_t *image(size_t len, uint64_t text_offset, uint64_t image_size, uint64_t flags)
{
	uint8_t *b = calloc(1, len);

	assert_non_null(b);
	for (size_t i = 64; i < len; i++)
		b[i] = (uint8_t)(i * 7);
	b[0] = 'M';
	b[1] = 'Z';
	put64(b + 8, text_offset);
	put64(b + 16, image_size);
	put64(b + 24, flags);
	memcpy(b + 56, "ARM\x64", 4);
	return b;
}

static void test_layout(void **state)
{
	struct guest_mem gm;

	(void)state;
	ram_init(&gm, RAM);
	assert_int_equal(gm.nregions, 1);
	assert_int_equal(gm.regions[0].gpa, 0x80000000ULL);
	assert_int_equal(gm.regions[0].size, RAM);
	assert_true(gm_valid(&gm, 0x80000000ULL, 4096));
	assert_false(gm_valid(&gm, 0x7ffff000ULL, 4096));
	assert_false(gm_valid(&gm, 0x80000000ULL + RAM, 1));
	assert_int_equal(a64_fdt_gpa(&gm), 0x80000000ULL + RAM - A64_FDT_MAX);
	/* the devices below RAM, the GIC below them, nothing overlapping */
	assert_true(A64_GICD_BASE + A64_GICD_SIZE <= A64_MMIO_BASE);
	assert_int_equal(A64_GICR_BASE(32), A64_GICD_BASE - 32 * 0x20000ULL);
	assert_true(A64_VIRTIO_BASE + A64_VIRTIO_MAX * A64_VIRTIO_SIZE <= A64_RAM_START);
	assert_true(A64_RTC_ADDR + A64_DEV_SIZE <= A64_VIRTIO_BASE);
	assert_int_equal(a64_mpidr_of(0), 0);
	assert_int_equal(a64_mpidr_of(17), 0x101);
	gm_destroy(&gm);
}

static void test_image_load(void **state)
{
	struct guest_mem gm;
	struct kernel_image k;
	size_t len = 3 * 4096 + 100;
	uint8_t *b = image(len, 0, 2 << 20, 2 /* 4K pages */);
	struct kimage img = kimage_mem(b, len);

	(void)state;
	ram_init(&gm, RAM);
	assert_int_equal(a64_image_load(&gm, &img, &k), 0);
	assert_int_equal(k.kind, KERNEL_ARM64_IMAGE);
	assert_int_equal(k.entry, A64_RAM_START);
	assert_int_equal(k.load_start, A64_RAM_START);
	assert_int_equal(k.load_end, A64_RAM_START + (2 << 20));
	assert_int_equal(k.cmdline_max, 2047);
	assert_memory_equal(gm_slice(&gm, A64_RAM_START, len), b, len);
	free(b);

	/* text_offset honoured */
	b = image(8192, 0x80000, 0x100000, 0);
	img = kimage_mem(b, 8192);
	assert_int_equal(a64_image_load(&gm, &img, &k), 0);
	assert_int_equal(k.entry, A64_RAM_START + 0x80000);
	assert_memory_equal(gm_slice(&gm, A64_RAM_START + 0x80000, 8192), b, 8192);
	free(b);

	/* before 3.17: image_size 0 means text_offset 0x80000, size = file */
	b = image(8192, 0x1234000, 0, 0);
	img = kimage_mem(b, 8192);
	assert_int_equal(a64_image_load(&gm, &img, &k), 0);
	assert_int_equal(k.entry, A64_RAM_START + 0x80000);
	assert_int_equal(k.load_end, A64_RAM_START + 0x80000 + 8192);
	free(b);
	gm_destroy(&gm);
}

static void test_image_reject(void **state)
{
	struct guest_mem gm;
	struct kernel_image k;
	uint8_t buf[0x400];
	struct kimage img = kimage_mem(buf, sizeof(buf));
	uint8_t *b;

	(void)state;
	ram_init(&gm, RAM);
	memset(buf, 0, sizeof(buf));
	memcpy(buf + 0x202, "HdrS", 4);
	expect_err(a64_image_load(&gm, &img, &k), ENOEXEC, "x86 bzImage");
	memset(buf, 0, sizeof(buf));
	memcpy(buf,
	       "\x7f"
	       "ELF",
	       4);
	expect_err(a64_image_load(&gm, &img, &k), ENOEXEC, "ELF");
	memset(buf, 0, sizeof(buf));
	buf[0] = 0x1f;
	buf[1] = 0x8b;
	expect_err(a64_image_load(&gm, &img, &k), ENOEXEC, "gzip");
	memset(buf, 0, sizeof(buf));
	expect_err(a64_image_load(&gm, &img, &k), ENOEXEC, "not an arm64 Image");
	img = kimage_mem(buf, 20);
	expect_err(a64_image_load(&gm, &img, &k), ENOEXEC, "not an arm64 Image");

	b = image(4096, 0, 1 << 20, 1);
	img = kimage_mem(b, 4096);
	expect_err(a64_image_load(&gm, &img, &k), ENOEXEC, "big-endian");
	free(b);
	b = image(4096, 0x100, 1 << 20, 0);
	img = kimage_mem(b, 4096);
	expect_err(a64_image_load(&gm, &img, &k), ENOEXEC, "text_offset");
	free(b);
	b = image(8192, 0, 4096, 0);
	img = kimage_mem(b, 8192);
	expect_err(a64_image_load(&gm, &img, &k), ENOEXEC, "image_size");
	free(b);
	b = image(4096, 0, RAM, 0);
	img = kimage_mem(b, 4096);
	expect_err(a64_image_load(&gm, &img, &k), ENOMEM, "does not fit");
	free(b);
	/* nothing was written for any of them */
	assert_true(((const uint8_t *)gm_slice(&gm, A64_RAM_START, 64))[56] == 0);
	gm_destroy(&gm);
}

static void test_initrd(void **state)
{
	struct guest_mem gm;
	struct kernel_image k = {.load_end = A64_RAM_START + (20 << 20)};
	uint64_t gpa;

	(void)state;
	ram_init(&gm, RAM);
	assert_int_equal(a64_initrd_gpa(&gm, &k, 10000, &gpa), 0);
	assert_int_equal(gpa % 4096, 0);
	assert_true(gpa + 10000 <= a64_fdt_gpa(&gm));
	assert_true(a64_fdt_gpa(&gm) - gpa < 4096 + 10000);
	assert_true(gpa >= k.load_end);
	expect_err(a64_initrd_gpa(&gm, &k, RAM - (20 << 20), &gpa), ENOMEM, "does not fit");
	expect_err(a64_initrd_gpa(&gm, &k, 0, &gpa), EINVAL, "empty");
	gm_destroy(&gm);
}

/* ---- the device tree ---- */

static const uint64_t mpidr[2] = {0x80000000, 0x80000001};
static const struct arch_mmio_dev virtio[2] = {
    {0x40010000, 0x1000, 16},
    {0x40011000, 0x1000, 17},
};

static uint8_t *build(int ncpus, uint64_t initrd_len)
{
	static uint8_t buf[65536];
	struct a64_fdt_info in = {
	    .ncpus = ncpus,
	    .mpidr = mpidr,
	    .ram_start = A64_RAM_START,
	    .ram_size = RAM,
	    .cmdline = "console=ttyS0 earlycon panic=1",
	    .initrd_gpa = 0x88000000,
	    .initrd_len = initrd_len,
	    .virtio = virtio,
	    .nvirtio = 2,
	};

	memset(buf, 0, sizeof(buf));
	assert_int_equal(a64_fdt_build(buf, sizeof(buf), &in), 0);
	assert_int_equal(fdt_check_header(buf), 0);
	return buf;
}

static int node(const void *f, const char *path)
{
	int off = fdt_path_offset(f, path);

	if (off < 0)
		fail_msg("no node %s: %s", path, fdt_strerror(off));
	return off;
}

static const void *prop(const void *f, const char *path, const char *name, int len)
{
	int l = -1;
	const void *p = fdt_getprop(f, node(f, path), name, &l);

	if (!p)
		fail_msg("%s: no property %s", path, name);
	if (len >= 0 && l != len)
		fail_msg("%s: %s is %d bytes, not %d", path, name, l, len);
	return p;
}

static void str_is(const void *f, const char *path, const char *name, const char *want)
{
	const char *s = prop(f, path, name, (int)strlen(want) + 1);

	assert_string_equal(s, want);
}

/* Property values are only 4-byte aligned in the blob: copied out. */
static uint32_t u32_at(const void *p, int i)
{
	fdt32_t v;

	memcpy(&v, (const char *)p + 4 * i, sizeof(v));
	return fdt32_to_cpu(v);
}

static uint64_t u64_at(const void *p, int i)
{
	fdt64_t v;

	memcpy(&v, (const char *)p + 8 * i, sizeof(v));
	return fdt64_to_cpu(v);
}

static void irq_is(const void *f, const char *path, uint32_t type, uint32_t num, uint32_t flags)
{
	const void *p = prop(f, path, "interrupts", 12);

	assert_int_equal(u32_at(p, 0), type);
	assert_int_equal(u32_at(p, 1), num);
	assert_int_equal(u32_at(p, 2), flags);
}

static void test_fdt_nodes(void **state)
{
	const uint8_t *f = build(2, 0x100000);
	const void *p;
	uint32_t gic;
	int n = 0, off;

	(void)state;
	str_is(f, "/", "compatible", "linux,dummy-virt");
	assert_int_equal(u32_at(prop(f, "/", "#address-cells", 4), 0), 2);
	assert_int_equal(u32_at(prop(f, "/", "#size-cells", 4), 0), 2);
	gic = u32_at(prop(f, "/", "interrupt-parent", 4), 0);
	assert_int_equal(fdt_get_phandle(f, node(f, "/intc@3fff0000")), gic);

	/* cpus: one per vCPU, reg = MPIDR affinity, PSCI */
	assert_int_equal(u32_at(prop(f, "/cpus", "#address-cells", 4), 0), 2);
	assert_int_equal(u32_at(prop(f, "/cpus", "#size-cells", 4), 0), 0);
	fdt_for_each_subnode(off, f, node(f, "/cpus")) n++;
	assert_int_equal(n, 2);
	str_is(f, "/cpus/cpu@0", "device_type", "cpu");
	str_is(f, "/cpus/cpu@0", "compatible", "arm,arm-v8");
	str_is(f, "/cpus/cpu@0", "enable-method", "psci");
	assert_int_equal(u64_at(prop(f, "/cpus/cpu@0", "reg", 8), 0), 0);
	str_is(f, "/cpus/cpu@1", "enable-method", "psci");
	assert_int_equal(u64_at(prop(f, "/cpus/cpu@1", "reg", 8), 0), 1);

	str_is(f, "/memory@80000000", "device_type", "memory");
	p = prop(f, "/memory@80000000", "reg", 16);
	assert_int_equal(u64_at(p, 0), A64_RAM_START);
	assert_int_equal(u64_at(p, 1), RAM);

	/* GICv3: distributor and a redistributor frame pair per vCPU */
	str_is(f, "/intc@3fff0000", "compatible", "arm,gic-v3");
	prop(f, "/intc@3fff0000", "interrupt-controller", 0);
	assert_int_equal(u32_at(prop(f, "/intc@3fff0000", "#interrupt-cells", 4), 0), 3);
	p = prop(f, "/intc@3fff0000", "reg", 32);
	assert_int_equal(u64_at(p, 0), A64_GICD_BASE);
	assert_int_equal(u64_at(p, 1), 0x10000);
	assert_int_equal(u64_at(p, 2), A64_GICD_BASE - 2 * 0x20000);
	assert_int_equal(u64_at(p, 3), 2 * 0x20000);
	assert_int_equal(fdt_subnode_offset(f, node(f, "/intc@3fff0000"), "its"),
			 -FDT_ERR_NOTFOUND);

	str_is(f, "/timer", "compatible", "arm,armv8-timer");
	p = prop(f, "/timer", "interrupts", 48);
	for (int i = 0; i < 4; i++) {
		static const uint32_t ppi[4] = {13, 14, 11, 10};
		assert_int_equal(u32_at(p, i * 3), 1);
		assert_int_equal(u32_at(p, i * 3 + 1), ppi[i]);
		assert_int_equal(u32_at(p, i * 3 + 2), 4);
	}

	p = prop(f, "/psci", "compatible", -1);
	assert_string_equal(p, "arm,psci-1.0");
	assert_string_equal((const char *)p + strlen("arm,psci-1.0") + 1, "arm,psci-0.2");
	str_is(f, "/psci", "method", "hvc");

	str_is(f, "/uart@40000000", "compatible", "ns16550a");
	p = prop(f, "/uart@40000000", "reg", 16);
	assert_int_equal(u64_at(p, 0), A64_SERIAL_ADDR);
	assert_int_equal(u64_at(p, 1), 0x1000);
	assert_int_equal(u32_at(prop(f, "/uart@40000000", "clock-frequency", 4), 0), 1843200);
	irq_is(f, "/uart@40000000", 0, A64_SERIAL_SPI, 4);

	p = prop(f, "/rtc@40001000", "compatible", -1);
	assert_string_equal(p, "arm,pl031");
	assert_string_equal((const char *)p + 10, "arm,primecell");
	irq_is(f, "/rtc@40001000", 0, A64_RTC_SPI, 4);
	str_is(f, "/rtc@40001000", "clock-names", "apb_pclk");
	assert_int_equal(u32_at(prop(f, "/rtc@40001000", "clocks", 4), 0),
			 fdt_get_phandle(f, node(f, "/apb-pclk")));
	str_is(f, "/apb-pclk", "compatible", "fixed-clock");

	str_is(f, "/virtio_mmio@40010000", "compatible", "virtio,mmio");
	p = prop(f, "/virtio_mmio@40011000", "reg", 16);
	assert_int_equal(u64_at(p, 0), 0x40011000);
	assert_int_equal(u64_at(p, 1), 0x1000);
	irq_is(f, "/virtio_mmio@40010000", 0, 16, 1);
	irq_is(f, "/virtio_mmio@40011000", 0, 17, 1);
	prop(f, "/virtio_mmio@40011000", "dma-coherent", 0);

	str_is(f, "/chosen", "bootargs", "console=ttyS0 earlycon panic=1");
	str_is(f, "/chosen", "stdout-path", "/uart@40000000");
	assert_int_equal(u64_at(prop(f, "/chosen", "linux,initrd-start", 8), 0), 0x88000000);
	assert_int_equal(u64_at(prop(f, "/chosen", "linux,initrd-end", 8), 0), 0x88100000);

	/* without an initrd: no initrd properties */
	f = build(1, 0);
	assert_null(fdt_getprop(f, node(f, "/chosen"), "linux,initrd-start", NULL));
	assert_int_equal(fdt_path_offset(f, "/cpus/cpu@1"), -FDT_ERR_NOTFOUND);
	assert_int_equal(u64_at(prop(f, "/intc@3fff0000", "reg", 32), 3), 0x20000);
}

static void test_fdt_errors(void **state)
{
	uint8_t small[256];
	struct a64_fdt_info in = {
	    .ncpus = 1, .mpidr = mpidr, .ram_start = A64_RAM_START, .ram_size = RAM};

	(void)state;
	expect_err(a64_fdt_build(small, sizeof(small), &in), ENOSPC, "device tree");
	in.ncpus = 33;
	expect_err(a64_fdt_build(small, sizeof(small), &in), EINVAL, "device tree");
}

/* Debian's dtc reads the blob back (dtb -> dts -> dtb) without a warning
 * (the dts has lost its labels, so "clocks" is a bare number in it: that
 * one check is off for the second step). */
static void test_fdt_dtc(void **state)
{
	const uint8_t *f = build(2, 0x100000);
	char dir[] = "/tmp/ember-fdt-XXXXXX", cmd[512], path[128], line[256];
	size_t out_len = 0;
	FILE *fp;

	(void)state;
	if (system("command -v dtc >/dev/null 2>&1") != 0)
		fail_msg("dtc is not installed (tools/setup.sh installs device-tree-compiler)");
	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/a.dtb", dir);
	fp = fopen(path, "wb");
	assert_non_null(fp);
	assert_int_equal(fwrite(f, 1, fdt_totalsize(f), fp), fdt_totalsize(f));
	fclose(fp);
	snprintf(cmd, sizeof(cmd),
		 "cd %s && dtc -I dtb -O dts -o a.dts a.dtb 2>&1 && dtc -I dts -O dtb -o b.dtb "
		 "-W no-clocks_property a.dts 2>&1 && grep -c "
		 "'arm,gic-v3\\|virtio,mmio\\|arm,pl031' a.dts",
		 dir);
	fp = popen(cmd, "r");
	assert_non_null(fp);
	while (fgets(line, sizeof(line), fp)) {
		out_len += strlen(line);
		/* only the grep count: dtc printed no warnings */
		assert_string_equal(line, "4\n");
	}
	assert_int_equal(pclose(fp), 0);
	assert_true(out_len > 0);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	assert_int_equal(system(cmd), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_layout),	 cmocka_unit_test(test_image_load),
	    cmocka_unit_test(test_image_reject), cmocka_unit_test(test_initrd),
	    cmocka_unit_test(test_fdt_nodes),	 cmocka_unit_test(test_fdt_errors),
	    cmocka_unit_test(test_fdt_dtc),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
