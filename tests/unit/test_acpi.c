/* ACPI tables and the AML writer.
 *
 * Tables are built into real guest memory, walked from the RSDP with every
 * checksum and pointer checked, then handed to iasl (acpica-tools) as an
 * independent oracle: `iasl -d` must disassemble each table without errors,
 * and recompiling the disassembly must give back our exact bytes (apart
 * from the compiler id/revision and the checksum iasl writes). iasl cannot
 * load an RSDP from a file ("Loading an RSDP is not supported"), so the RSDP
 * is checked the other way round: iasl compiles an RSDP data-table source
 * with our field values and computes both checksums, which must match ours. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "ember/aml.h"
#include "ember/x86.h"
#include "ember/layout.h"
#include "ember/memory.h"

#define HDR_LEN 36

struct fx {
	struct guest_mem gm;
	char dir[64];
};

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));

	assert_non_null(f);
	assert_int_equal(gm_init(&f->gm, 256 * 1024 * 1024ULL, 0, 0), 0);
	strcpy(f->dir, "/tmp/ember-acpi-XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;
	DIR *d = opendir(f->dir);
	struct dirent *e;
	char path[512];

	while (d && (e = readdir(d))) {
		if (e->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "%s/%s", f->dir, e->d_name);
		unlink(path);
	}
	if (d)
		closedir(d);
	rmdir(f->dir);
	gm_destroy(&f->gm);
	free(f);
	return 0;
}

static uint8_t sum8(const void *p, size_t n)
{
	const uint8_t *b = p;
	uint8_t s = 0;

	while (n--)
		s += *b++;
	return s;
}

static uint32_t rd32(const uint8_t *p)
{
	uint32_t v;

	memcpy(&v, p, 4);
	return v;
}

static uint64_t rd64(const uint8_t *p)
{
	uint64_t v;

	memcpy(&v, p, 8);
	return v;
}

static uint16_t rd16(const uint8_t *p)
{
	uint16_t v;

	memcpy(&v, p, 2);
	return v;
}

/* A table with a standard header at gpa: inside the BIOS area, sum 0. */
static const uint8_t *table_at(const struct guest_mem *gm, uint64_t gpa, const char *sig)
{
	const uint8_t *h;
	uint32_t len;

	assert_true(gpa >= LAYOUT_BIOS_START && gpa + HDR_LEN <= LAYOUT_BIOS_END);
	assert_int_equal(gpa % 8, 0);
	h = gm_slice(gm, gpa, HDR_LEN);
	assert_non_null(h);
	len = rd32(h + 4);
	assert_true(len >= HDR_LEN && gpa + len <= LAYOUT_BIOS_END);
	h = gm_slice(gm, gpa, len);
	assert_memory_equal(h, sig, 4);
	assert_int_equal(sum8(h, len), 0);
	assert_memory_equal(h + 10, "EMBER ", 6);
	return h;
}

struct tables {
	const uint8_t *rsdp, *xsdt, *fadt, *madt, *dsdt;
};

/* Walk RSDP -> XSDT -> FADT/MADT, FADT -> DSDT. */
static void walk(const struct guest_mem *gm, uint64_t rsdp_gpa, struct tables *t)
{
	uint64_t xsdt_gpa;
	int nent;

	assert_int_equal(rsdp_gpa, LAYOUT_ACPI_RSDP);
	t->rsdp = gm_slice(gm, rsdp_gpa, 36);
	assert_non_null(t->rsdp);
	assert_memory_equal(t->rsdp, "RSD PTR ", 8);
	assert_int_equal(sum8(t->rsdp, 20), 0);
	assert_int_equal(sum8(t->rsdp, 36), 0);
	assert_int_equal(t->rsdp[15], 2);	  /* revision */
	assert_int_equal(rd32(t->rsdp + 20), 36); /* length */
	assert_memory_equal(t->rsdp + 9, "EMBER ", 6);
	xsdt_gpa = rd64(t->rsdp + 24);
	t->xsdt = table_at(gm, xsdt_gpa, "XSDT");
	nent = (int)(rd32(t->xsdt + 4) - HDR_LEN) / 8;
	assert_int_equal(nent, 2);
	t->fadt = t->madt = NULL;
	for (int i = 0; i < nent; i++) {
		uint64_t gpa = rd64(t->xsdt + HDR_LEN + 8 * i);
		const uint8_t *h = gm_slice(gm, gpa, 4);

		assert_non_null(h);
		if (!memcmp(h, "FACP", 4))
			t->fadt = table_at(gm, gpa, "FACP");
		else if (!memcmp(h, "APIC", 4))
			t->madt = table_at(gm, gpa, "APIC");
		else
			fail_msg("unexpected table %.4s in the XSDT", (const char *)h);
	}
	assert_non_null(t->fadt);
	assert_non_null(t->madt);
	assert_int_equal(rd32(t->fadt + 4), 276);
	assert_int_equal(t->fadt[8], 6);	 /* FADT revision */
	assert_int_equal(rd32(t->fadt + 40), 0); /* 32-bit DSDT unused */
	t->dsdt = table_at(gm, rd64(t->fadt + 140), "DSDT");
}

static size_t table_len(const uint8_t *h)
{
	return rd32(h + 4);
}

static int run(const char *dir, const char *cmd)
{
	char line[1024];
	int st;

	snprintf(line, sizeof(line), "cd '%s' && %s", dir, cmd);
	st = system(line);
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static char *slurp(const char *dir, const char *name, size_t *len)
{
	char path[512];
	FILE *fp;
	char *buf;
	long n;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	fp = fopen(path, "rb");
	if (!fp)
		fail_msg("cannot open %s", path);
	fseek(fp, 0, SEEK_END);
	n = ftell(fp);
	rewind(fp);
	buf = malloc((size_t)n + 1);
	assert_non_null(buf);
	assert_int_equal(fread(buf, 1, (size_t)n, fp), (size_t)n);
	buf[n] = 0;
	fclose(fp);
	if (len)
		*len = (size_t)n;
	return buf;
}

static void spit(const char *dir, const char *name, const void *p, size_t n)
{
	char path[512];
	FILE *fp;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	fp = fopen(path, "wb");
	assert_non_null(fp);
	assert_int_equal(fwrite(p, 1, n, fp), n);
	fclose(fp);
}

/* iasl -d NAME.dat (exit 0, no "Error"), then recompile the disassembly
 * without namepath optimisation and compare with the original bytes.
 * vmgenid: the one error iasl's compiler raises for the _HID Linux's vmgenid
 * driver matches ("VMGENCTR" is not of the PNP/ACPI form) is forced past (-f)
 * and must be the only one. Returns the disassembly (malloc'd). */
static char *iasl_roundtrip_opt(const char *dir, const char *name, const uint8_t *tbl, bool vmgenid)
{
	size_t len = table_len(tbl), alen;
	char cmd[512], fname[64];
	char *dsl, *log, *aml;

	snprintf(fname, sizeof(fname), "%s.dat", name);
	spit(dir, fname, tbl, len);
	snprintf(cmd, sizeof(cmd), "iasl -d %s.dat > %s.dlog 2>&1", name, name);
	assert_int_equal(run(dir, cmd), 0);
	snprintf(fname, sizeof(fname), "%s.dlog", name);
	log = slurp(dir, fname, NULL);
	assert_null(strstr(log, "Error"));
	assert_null(strstr(log, "Warning"));
	free(log);
	snprintf(fname, sizeof(fname), "%s.dsl", name);
	dsl = slurp(dir, fname, NULL);
	assert_null(strstr(dsl, "Error"));
	assert_null(strstr(dsl, "**** ")); /* iasl's marker for unknown/invalid data */

	/* Recompile: data tables and AML must come back byte for byte. */
	snprintf(cmd, sizeof(cmd), "iasl %s-on -p rt_%s %s.dsl > %s.clog 2>&1",
		 vmgenid ? "-f " : "", name, name, name);
	assert_int_equal(run(dir, cmd), 0);
	snprintf(fname, sizeof(fname), "%s.clog", name);
	log = slurp(dir, fname, NULL);
	if (vmgenid) {
		assert_non_null(strstr(log, " 1 Errors, 0 Warnings"));
		assert_non_null(strstr(log, "_HID suffix must be all hex digits (NCTR)"));
	} else {
		assert_non_null(strstr(log, " 0 Errors, 0 Warnings"));
	}
	free(log);
	snprintf(fname, sizeof(fname), "rt_%s.aml", name);
	aml = slurp(dir, fname, &alen);
	assert_int_equal(alen, len);
	for (size_t i = 0; i < len; i++) {
		if (i == 9 || (i >= 28 && i < 36)) /* checksum, compiler id/revision */
			continue;
		if ((uint8_t)aml[i] != tbl[i])
			fail_msg("%s: byte %zu is %#x, iasl gives %#x", name, i, tbl[i],
				 (uint8_t)aml[i]);
	}
	free(aml);
	return dsl;
}

static char *iasl_roundtrip(const char *dir, const char *name, const uint8_t *tbl)
{
	return iasl_roundtrip_opt(dir, name, tbl, false);
}

/* RSDP: compile a data-table source with our field values; iasl computes
 * both checksums. */
static void iasl_check_rsdp(const char *dir, const uint8_t *rsdp)
{
	char src[1024];
	char *aml;
	size_t alen;

	snprintf(src, sizeof(src),
		 "[0008] Signature : \"RSD PTR \"\n"
		 "[0001] Checksum : 00\n"
		 "[0006] Oem ID : \"%.6s\"\n"
		 "[0001] Revision : %02X\n"
		 "[0004] RSDT Address : %08X\n"
		 "[0004] Length : %08X\n"
		 "[0008] XSDT Address : %016llX\n"
		 "[0001] Extended Checksum : 00\n"
		 "[0003] Reserved : 000000\n",
		 (const char *)rsdp + 9, rsdp[15], rd32(rsdp + 16), rd32(rsdp + 20),
		 (unsigned long long)rd64(rsdp + 24));
	spit(dir, "rsdp.asl", src, strlen(src));
	spit(dir, "rsdp.dat", rsdp, 36);
	assert_int_equal(run(dir, "iasl rsdp.asl > rsdp.clog 2>&1"), 0);
	aml = slurp(dir, "rsdp.aml", &alen);
	assert_int_equal(alen, 36);
	assert_memory_equal(aml, rsdp, 36);
	free(aml);
}

static int count_str(const char *hay, const char *needle)
{
	int n = 0;

	for (const char *p = hay; (p = strstr(p, needle)); p += strlen(needle))
		n++;
	return n;
}

static void make_virtio(struct arch_mmio_dev *v, int n)
{
	for (int i = 0; i < n; i++) {
		v[i].addr = LAYOUT_VIRTIO_ADDR(i);
		v[i].size = LAYOUT_VIRTIO_MMIO_SIZE;
		v[i].irq = LAYOUT_VIRTIO_IRQ(i % LAYOUT_VIRTIO_MAX_DEVICES);
	}
}

/* MADT: header fields and entry counts by type. */
static void check_madt(const uint8_t *madt, int ncpus)
{
	size_t len = table_len(madt), off = 44;
	int nlapic = 0, nioapic = 0, novr = 0, nnmi = 0;

	assert_int_equal(rd32(madt + 36), LAYOUT_LAPIC_ADDR);
	assert_int_equal(rd32(madt + 40) & 1, 1); /* PCAT_COMPAT */
	while (off < len) {
		const uint8_t *e = madt + off;

		assert_true(off + 2 <= len && e[1] >= 2 && off + e[1] <= len);
		switch (e[0]) {
		case 0:
			assert_int_equal(e[1], 8);
			assert_int_equal(e[2], nlapic); /* processor uid */
			assert_int_equal(e[3], nlapic); /* APIC id = vCPU index */
			assert_int_equal(rd32(e + 4) & 1, 1);
			nlapic++;
			break;
		case 1:
			assert_int_equal(e[1], 12);
			assert_int_equal(e[2], ncpus);
			assert_int_equal(rd32(e + 4), LAYOUT_IOAPIC_ADDR);
			assert_int_equal(rd32(e + 8), 0);
			nioapic++;
			break;
		case 2:
			assert_int_equal(e[1], 10);
			assert_int_equal(e[2], 0); /* ISA */
			assert_int_equal(e[3], 0); /* IRQ 0 */
			assert_int_equal(rd32(e + 4), 2);
			novr++;
			break;
		case 4:
			assert_int_equal(e[1], 6);
			assert_int_equal(e[5], 1); /* LINT1 */
			nnmi++;
			break;
		default:
			fail_msg("unexpected MADT entry type %d", e[0]);
		}
		off += e[1];
	}
	assert_int_equal(off, len);
	assert_int_equal(nlapic, ncpus);
	assert_int_equal(nioapic, 1);
	assert_int_equal(novr, 1);
	assert_int_equal(nnmi, 1);
}

static void check_fadt(const uint8_t *fadt)
{
	uint32_t flags = rd32(fadt + 112);

	assert_true(flags & (1U << 20)); /* HW_REDUCED_ACPI */
	assert_true(flags & (1U << 10)); /* RESET_REG_SUP */
	assert_int_equal(fadt[116], 1);	 /* reset reg: SystemIO */
	assert_int_equal(fadt[117], 8);	 /* 8 bits */
	assert_int_equal(rd64(fadt + 120), 0x64);
	assert_int_equal(fadt[128], 0xfe);	   /* reset value */
	assert_int_equal(rd16(fadt + 109) & 2, 2); /* 8042 present */
	assert_int_equal(rd16(fadt + 109) & 1, 0); /* no legacy ISA devices */
	assert_int_equal(fadt[131], 3);		   /* 6.3 */
}

static void build_and_verify(struct fx *f, int ncpus, int nvirtio, bool serial, bool roundtrip)
{
	struct arch_mmio_dev *v = calloc((size_t)nvirtio + 1, sizeof(*v));
	struct acpi_info info = {
	    .ncpus = ncpus, .has_serial = serial, .virtio = v, .nvirtio = nvirtio};
	struct tables t;
	uint64_t rsdp = 0;
	char *dsl;

	assert_non_null(v);
	make_virtio(v, nvirtio);
	assert_int_equal(acpi_build(&f->gm, &info, &rsdp), 0);
	walk(&f->gm, rsdp, &t);
	check_fadt(t.fadt);
	check_madt(t.madt, ncpus);
	if (roundtrip) {
		free(iasl_roundtrip(f->dir, "xsdt", t.xsdt));
		free(iasl_roundtrip(f->dir, "facp", t.fadt));
		dsl = iasl_roundtrip(f->dir, "apic", t.madt);
		assert_int_equal(count_str(dsl, "[Processor Local APIC]"), ncpus);
		free(dsl);
		iasl_check_rsdp(f->dir, t.rsdp);
	}
	dsl = iasl_roundtrip(f->dir, "dsdt", t.dsdt);
	assert_int_equal(count_str(dsl, "\"LNRO0005\""), nvirtio);
	assert_int_equal(count_str(dsl, "Interrupt (ResourceConsumer, Edge, ActiveHigh, Exclusive"),
			 nvirtio);
	assert_int_equal(count_str(dsl, "Memory32Fixed (ReadWrite,"), nvirtio);
	assert_int_equal(count_str(dsl, "EisaId (\"PNP0501\")"), serial ? 1 : 0);
	if (serial)
		assert_non_null(strstr(dsl, "IRQNoFlags ()\n                    {4}"));
	/* The i8042: PNP0303 with ports 0x60 and 0x64 and ISA IRQ 1. */
	assert_int_equal(count_str(dsl, "EisaId (\"PNP0303\")"), 1);
	assert_non_null(strstr(dsl, "IRQNoFlags ()\n                    {1}"));
	assert_int_equal(count_str(dsl, "IO (Decode16,\n                    0x0060, "), 1);
	assert_int_equal(count_str(dsl, "IO (Decode16,\n                    0x0064, "), 1);
	for (int i = 0; i < nvirtio; i++) {
		char want[64];

		snprintf(want, sizeof(want), "0x%08llX,         // Address Base",
			 (unsigned long long)v[i].addr);
		assert_non_null(strstr(dsl, want));
		snprintf(want, sizeof(want), "0x%08X,\n", v[i].irq);
		assert_non_null(strstr(dsl, want));
	}
	free(dsl);
	free(v);
}

static void test_acpi_2cpus_3virtio(void **state)
{
	build_and_verify(*state, 2, 3, true, true);
}

static void test_acpi_32cpus_16virtio(void **state)
{
	build_and_verify(*state, 32, LAYOUT_VIRTIO_MAX_DEVICES, true, true);
}

static void test_acpi_no_serial_1cpu(void **state)
{
	build_and_verify(*state, 1, 0, false, true);
}

/* > 4 KiB of AML in \_SB_: exercises 3-byte PkgLengths. */
static void test_acpi_many_devices(void **state)
{
	struct fx *f = *state;

	build_and_verify(f, 4, 100, true, false);
}

/* The VM generation ID and the generic event device that notifies it,
 * through iasl: names, the ADDR package and the _EVT method. */
static void test_acpi_vmgenid(void **state)
{
	struct fx *f = *state;
	struct arch_mmio_dev v[2];
	struct acpi_info info = {.ncpus = 1,
				 .has_serial = true,
				 .virtio = v,
				 .nvirtio = 2,
				 .vmgenid_gpa = LAYOUT_VMGENID,
				 .ged_gsi = LAYOUT_GED_GSI};
	struct tables t;
	uint64_t rsdp = 0;
	char *dsl;

	make_virtio(v, 2);
	assert_int_equal(acpi_build(&f->gm, &info, &rsdp), 0);
	walk(&f->gm, rsdp, &t);
	dsl = iasl_roundtrip_opt(f->dir, "dsdt", t.dsdt, true);
	assert_non_null(strstr(dsl, "Device (VGEN)"));
	assert_non_null(strstr(dsl, "Name (_HID, \"VMGENCTR\")"));
	assert_non_null(strstr(dsl, "Name (_CID, \"VM_Gen_Counter\")"));
	assert_non_null(strstr(dsl, "Name (ADDR, Package (0x02)"));
	assert_non_null(strstr(dsl, "0x000FF000,"));
	assert_non_null(strstr(dsl, "Device (GED0)"));
	assert_non_null(strstr(dsl, "Name (_HID, \"ACPI0013\" /* Generic Event Device */)"));
	assert_non_null(strstr(dsl, "Method (_EVT, 1, NotSerialized)"));
	assert_non_null(strstr(dsl, "If ((Arg0 == 0x03))"));
	assert_non_null(strstr(dsl, "Notify (\\_SB.VGEN, 0x80)"));
	/* the GED's interrupt besides the two virtio slots' */
	assert_int_equal(count_str(dsl, "Interrupt (ResourceConsumer, Edge, ActiveHigh, Exclusive"),
			 3);
	free(dsl);
	/* misaligned */
	info.vmgenid_gpa = LAYOUT_VMGENID + 4;
	assert_int_equal(acpi_build(&f->gm, &info, &rsdp), -EINVAL);
}

static void test_acpi_enospc(void **state)
{
	struct fx *f = *state;
	int n = 3000;
	struct arch_mmio_dev *v = calloc((size_t)n, sizeof(*v));
	struct acpi_info info = {.ncpus = 2, .has_serial = true, .virtio = v, .nvirtio = n};
	uint64_t rsdp = 0;
	const uint8_t *area;

	assert_non_null(v);
	for (int i = 0; i < n; i++) {
		v[i].addr = LAYOUT_VIRTIO_MMIO_BASE + (uint64_t)i * 0x1000;
		v[i].size = 0x1000;
		v[i].irq = 5;
	}
	assert_int_equal(acpi_build(&f->gm, &info, &rsdp), -ENOSPC);
	/* Nothing was written. */
	area = gm_slice(&f->gm, LAYOUT_BIOS_START, LAYOUT_BIOS_END - LAYOUT_BIOS_START);
	for (size_t i = 0; i < LAYOUT_BIOS_END - LAYOUT_BIOS_START; i++)
		assert_int_equal(area[i], 0);
	/* The biggest count that fits works. */
	int lo = 0, hi = n;
	while (lo + 1 < hi) {
		int mid = (lo + hi) / 2;

		info.nvirtio = mid;
		if (acpi_build(&f->gm, &info, &rsdp) == 0)
			lo = mid;
		else
			hi = mid;
	}
	assert_true(lo > 1000);
	info.nvirtio = lo + 1;
	assert_int_equal(acpi_build(&f->gm, &info, &rsdp), -ENOSPC);
	info.nvirtio = lo;
	assert_int_equal(acpi_build(&f->gm, &info, &rsdp), 0);
	struct tables t;
	walk(&f->gm, rsdp, &t);
	assert_true(rd64(t.fadt + 140) + table_len(t.dsdt) > LAYOUT_VMGENID - 256);
	free(v);
}

static void test_acpi_bad_input(void **state)
{
	struct fx *f = *state;
	struct arch_mmio_dev v[1] = {{.addr = LAYOUT_VIRTIO_ADDR(0), .size = 0x1000, .irq = 5}};
	struct acpi_info info = {.ncpus = 1, .has_serial = true, .virtio = v, .nvirtio = 1};
	struct guest_mem small;
	uint64_t rsdp;

	assert_int_equal(acpi_build(&f->gm, &info, &rsdp), 0);
	info.ncpus = 0;
	assert_int_equal(acpi_build(&f->gm, &info, &rsdp), -EINVAL);
	info.ncpus = 255;
	assert_int_equal(acpi_build(&f->gm, &info, &rsdp), -EINVAL);
	info.ncpus = 254;
	assert_int_equal(acpi_build(&f->gm, &info, &rsdp), 0);
	info.ncpus = 1;
	v[0].addr = 0xfffff000;
	v[0].size = 0x2000; /* crosses 4 GiB */
	assert_int_equal(acpi_build(&f->gm, &info, &rsdp), -EINVAL);
	v[0].addr = 0x100000000ULL;
	v[0].size = 0x1000;
	assert_int_equal(acpi_build(&f->gm, &info, &rsdp), -EINVAL);
	v[0].addr = LAYOUT_VIRTIO_ADDR(0);
	v[0].size = 0;
	assert_int_equal(acpi_build(&f->gm, &info, &rsdp), -EINVAL);
	v[0].size = 0x1000;
	v[0].irq = 24;
	assert_int_equal(acpi_build(&f->gm, &info, &rsdp), -EINVAL);
	v[0].irq = 5;
	info.virtio = NULL;
	assert_int_equal(acpi_build(&f->gm, &info, &rsdp), -EINVAL);
	info.virtio = v;
	info.nvirtio = -1;
	assert_int_equal(acpi_build(&f->gm, &info, &rsdp), -EINVAL);
	info.nvirtio = 1;
	assert_int_equal(acpi_build(NULL, &info, &rsdp), -EINVAL);
	assert_int_equal(acpi_build(&f->gm, NULL, &rsdp), -EINVAL);
	/* Guest RAM that ends below the BIOS area. */
	assert_int_equal(gm_init(&small, 512 * 1024, 0, 0), 0);
	assert_int_equal(acpi_build(&small, &info, &rsdp), -EFAULT);
	gm_destroy(&small);
}

/* ---- AML writer ---- */

static uint32_t pkglen_decode(const uint8_t *b, int *n)
{
	int follow = b[0] >> 6;
	uint32_t v;

	*n = 1 + follow;
	if (!follow)
		return b[0] & 0x3f;
	assert_int_equal(b[0] & 0x30, 0);
	v = b[0] & 0x0f;
	for (int i = 1; i <= follow; i++)
		v |= (uint32_t)b[i] << (4 + 8 * (i - 1));
	return v;
}

static void test_aml_pkglen(void **state)
{
	static const struct {
		uint32_t body;
		int bytes;
	} cases[] = {
	    /* clang-format off */
		{0, 1},          {62, 1},          {63, 2},         {0xfff - 2, 2},
		{0xfff - 1, 3},  {0xfffff - 3, 3}, {0xfffff - 2, 4}, {0xfffffff - 4, 4},
	    /* clang-format on */
	};
	uint8_t b[4];

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		int n = aml_pkglen_encode(cases[i].body, b), dn;

		assert_int_equal(n, cases[i].bytes);
		assert_int_equal(pkglen_decode(b, &dn), cases[i].body + (uint32_t)n);
		assert_int_equal(dn, n);
	}
	assert_int_equal(aml_pkglen_encode(0xfffffff - 3, b), -E2BIG);
	/* 63 + 2 = 65 = 0x41: lead 0x41, then 0x04 */
	assert_int_equal(aml_pkglen_encode(63, b), 2);
	assert_int_equal(b[0], 0x41);
	assert_int_equal(b[1], 0x04);
}

static void test_aml_encodings(void **state)
{
	uint8_t buf[256];
	struct aml a;
	(void)state;

	aml_init(&a, buf, sizeof(buf));
	aml_integer(&a, 0);
	aml_integer(&a, 1);
	aml_integer(&a, 0xff);
	aml_integer(&a, 0x100);
	aml_integer(&a, 0x10000);
	aml_integer(&a, 0x100000000ULL);
	aml_eisaid(&a, "PNP0501");
	aml_string(&a, "AB");
	aml_namestring(&a, "\\_SB_.COM1");
	aml_namestring(&a, "\\_SB.PCI0.ISA");
	aml_namestring(&a, "^FOO");
	aml_namestring(&a, "\\");
	/* clang-format off */
	static const uint8_t want[] = {
		0x00, 0x01, 0x0a, 0xff, 0x0b, 0x00, 0x01, 0x0c, 0x00, 0x00, 0x01, 0x00, 0x0e,
		0x00, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00,
		0x0c, 0x41, 0xd0, 0x05, 0x01, /* EisaId ("PNP0501") = 0x0105D041 */
		0x0d, 'A', 'B', 0x00,
		'\\', 0x2e, '_', 'S', 'B', '_', 'C', 'O', 'M', '1',
		'\\', 0x2f, 3, '_', 'S', 'B', '_', 'P', 'C', 'I', '0', 'I', 'S', 'A', '_',
		'^', 'F', 'O', 'O', '_',
		'\\', 0x00,
	};
	/* clang-format on */
	assert_int_equal(aml_finish(&a), sizeof(want));
	assert_memory_equal(buf, want, sizeof(want));

	/* A device with a resource template; PkgLength and buffer size. */
	aml_init(&a, buf, sizeof(buf));
	aml_device_begin(&a, "DEV0");
	aml_name(&a, "_CRS");
	aml_rt_begin(&a);
	aml_rt_mem32_fixed(&a, 1, 0xd0000000, 0x1000);
	aml_rt_ext_irq(&a, AML_IRQ_CONSUMER | AML_IRQ_EDGE, 5);
	aml_rt_end(&a);
	aml_end(&a);
	/* clang-format off */
	static const uint8_t dev[] = {
		0x5b, 0x82, 0x25, 'D', 'E', 'V', '0', 0x08, '_', 'C', 'R', 'S',
		0x11, 0x1a, 0x0a, 0x17,
		0x86, 0x09, 0x00, 0x01, 0x00, 0x00, 0x00, 0xd0, 0x00, 0x10, 0x00, 0x00,
		0x89, 0x06, 0x00, 0x03, 0x01, 0x05, 0x00, 0x00, 0x00,
		0x79, 0x00,
	};
	/* clang-format on */
	assert_int_equal(aml_finish(&a), sizeof(dev));
	assert_memory_equal(buf, dev, sizeof(dev));
}

static void test_aml_errors(void **state)
{
	uint8_t buf[16];
	struct aml a;
	(void)state;

	aml_init(&a, buf, sizeof(buf));
	aml_string(&a, "this does not fit in 16 bytes");
	assert_int_equal(aml_finish(&a), -ENOSPC);
	aml_integer(&a, 0); /* sticky */
	assert_int_equal(aml_finish(&a), -ENOSPC);

	aml_init(&a, buf, sizeof(buf));
	aml_device_begin(&a, "DEV0");
	assert_int_equal(aml_finish(&a), -EINVAL); /* not closed */

	aml_init(&a, buf, sizeof(buf));
	aml_end(&a);
	assert_int_equal(aml_finish(&a), -EINVAL);

	const char *bad_names[] = {"1ABC", "ABCDE", "a___", "AB..CD", "\\AB.", "^\\AB"};
	for (size_t i = 0; i < sizeof(bad_names) / sizeof(bad_names[0]); i++) {
		aml_init(&a, buf, sizeof(buf));
		aml_name(&a, bad_names[i]);
		assert_int_equal(aml_finish(&a), -EINVAL);
	}
	aml_init(&a, buf, sizeof(buf));
	aml_eisaid(&a, "pnp0501");
	assert_int_equal(aml_finish(&a), -EINVAL);
	aml_init(&a, buf, sizeof(buf));
	aml_eisaid(&a, "PNP05G1");
	assert_int_equal(aml_finish(&a), -EINVAL);
	aml_init(&a, buf, sizeof(buf));
	aml_rt_irq_noflags(&a, 16);
	assert_int_equal(aml_finish(&a), -EINVAL);
	aml_init(&a, buf, sizeof(buf));
	aml_scope_begin(&a, "\\_SB_");
	aml_rt_end(&a); /* not inside a buffer */
	assert_int_equal(aml_finish(&a), -EINVAL);

	uint8_t big[256];
	aml_init(&a, big, sizeof(big));
	for (int i = 0; i <= AML_MAX_DEPTH; i++)
		aml_scope_begin(&a, "S");
	assert_int_equal(aml_finish(&a), -EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_aml_pkglen),
	    cmocka_unit_test(test_aml_encodings),
	    cmocka_unit_test(test_aml_errors),
	    cmocka_unit_test_setup_teardown(test_acpi_2cpus_3virtio, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_acpi_32cpus_16virtio, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_acpi_no_serial_1cpu, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_acpi_many_devices, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_acpi_vmgenid, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_acpi_enospc, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_acpi_bad_input, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
