/* ACPI tables for x86_64 guests (ACPI 6.3 layouts): RSDP, XSDT, FADT
 * (hardware-reduced), MADT and a DSDT declaring COM1 and the virtio-mmio
 * slots, all inside the BIOS area 0xe0000-0xfffff. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "ember/aml.h"
#include "ember/x86.h"
#include "ember/error.h"
#include "ember/layout.h"
#include "ember/util.h"

#define ACPI_OEM_ID "EMBER "
#define ACPI_OEM_TABLE_ID "EMBERVM "
#define ACPI_OEM_REVISION 1
#define ACPI_CREATOR_ID "EMBR"
#define ACPI_CREATOR_REVISION 1

/* Largest vCPU count: xAPIC ids are 8 bits, 0xff is the broadcast id and the
 * IOAPIC takes id ncpus. */
#define ACPI_MAX_CPUS 254
/* Device names V000..VFFF. */
#define ACPI_MAX_VIRTIO 4096
/* The KVM IOAPIC has 24 input pins; GSI n is pin n. */
#define ACPI_IOAPIC_PINS 24

struct acpi_header {
	char signature[4];
	uint32_t length;
	uint8_t revision;
	uint8_t checksum;
	char oem_id[6];
	char oem_table_id[8];
	uint32_t oem_revision;
	char creator_id[4];
	uint32_t creator_revision;
} __attribute__((packed));
_Static_assert(sizeof(struct acpi_header) == 36, "ACPI header");

struct acpi_rsdp {
	char signature[8]; /* "RSD PTR " */
	uint8_t checksum;  /* first 20 bytes */
	char oem_id[6];
	uint8_t revision; /* 2: ACPI 2.0+ */
	uint32_t rsdt_address;
	uint32_t length;
	uint64_t xsdt_address;
	uint8_t extended_checksum; /* whole structure */
	uint8_t reserved[3];
} __attribute__((packed));
_Static_assert(sizeof(struct acpi_rsdp) == 36, "RSDP");

/* Generic Address Structure */
struct acpi_gas {
	uint8_t space_id;
	uint8_t bit_width;
	uint8_t bit_offset;
	uint8_t access_size;
	uint64_t address;
} __attribute__((packed));
_Static_assert(sizeof(struct acpi_gas) == 12, "GAS");

#define ACPI_GAS_SYSTEM_IO 1
#define ACPI_GAS_ACCESS_BYTE 1

struct acpi_fadt {
	struct acpi_header h;
	uint32_t firmware_ctrl;
	uint32_t dsdt;
	uint8_t reserved0;
	uint8_t preferred_pm_profile;
	uint16_t sci_int;
	uint32_t smi_cmd;
	uint8_t acpi_enable;
	uint8_t acpi_disable;
	uint8_t s4bios_req;
	uint8_t pstate_cnt;
	uint32_t pm1a_evt_blk;
	uint32_t pm1b_evt_blk;
	uint32_t pm1a_cnt_blk;
	uint32_t pm1b_cnt_blk;
	uint32_t pm2_cnt_blk;
	uint32_t pm_tmr_blk;
	uint32_t gpe0_blk;
	uint32_t gpe1_blk;
	uint8_t pm1_evt_len;
	uint8_t pm1_cnt_len;
	uint8_t pm2_cnt_len;
	uint8_t pm_tmr_len;
	uint8_t gpe0_blk_len;
	uint8_t gpe1_blk_len;
	uint8_t gpe1_base;
	uint8_t cst_cnt;
	uint16_t p_lvl2_lat;
	uint16_t p_lvl3_lat;
	uint16_t flush_size;
	uint16_t flush_stride;
	uint8_t duty_offset;
	uint8_t duty_width;
	uint8_t day_alrm;
	uint8_t mon_alrm;
	uint8_t century;
	uint16_t iapc_boot_arch;
	uint8_t reserved1;
	uint32_t flags;
	struct acpi_gas reset_reg;
	uint8_t reset_value;
	uint16_t arm_boot_arch;
	uint8_t minor_version;
	uint64_t x_firmware_ctrl;
	uint64_t x_dsdt;
	struct acpi_gas x_pm1a_evt_blk;
	struct acpi_gas x_pm1b_evt_blk;
	struct acpi_gas x_pm1a_cnt_blk;
	struct acpi_gas x_pm1b_cnt_blk;
	struct acpi_gas x_pm2_cnt_blk;
	struct acpi_gas x_pm_tmr_blk;
	struct acpi_gas x_gpe0_blk;
	struct acpi_gas x_gpe1_blk;
	struct acpi_gas sleep_control_reg;
	struct acpi_gas sleep_status_reg;
	uint64_t hypervisor_vendor_id;
} __attribute__((packed));
_Static_assert(sizeof(struct acpi_fadt) == 276, "FADT");

#define FADT_REVISION 6
#define FADT_MINOR_VERSION 3
/* IAPC_BOOT_ARCH */
#define FADT_BOOT_8042 (1U << 1)
#define FADT_BOOT_VGA_NOT_PRESENT (1U << 2)
/* Flags */
#define FADT_F_WBINVD (1U << 0)
#define FADT_F_PWR_BUTTON (1U << 4)
#define FADT_F_SLP_BUTTON (1U << 5)
#define FADT_F_RESET_REG_SUP (1U << 10)
#define FADT_F_HW_REDUCED_ACPI (1U << 20)

struct acpi_madt {
	struct acpi_header h;
	uint32_t lapic_address;
	uint32_t flags;
} __attribute__((packed));
_Static_assert(sizeof(struct acpi_madt) == 44, "MADT");

#define MADT_REVISION 5
#define MADT_PCAT_COMPAT 1U

struct madt_lapic {
	uint8_t type; /* 0 */
	uint8_t length;
	uint8_t processor_uid;
	uint8_t apic_id;
	uint32_t flags;
} __attribute__((packed));
_Static_assert(sizeof(struct madt_lapic) == 8, "MADT LAPIC");

#define MADT_LAPIC_ENABLED 1U

struct madt_ioapic {
	uint8_t type; /* 1 */
	uint8_t length;
	uint8_t ioapic_id;
	uint8_t reserved;
	uint32_t address;
	uint32_t gsi_base;
} __attribute__((packed));
_Static_assert(sizeof(struct madt_ioapic) == 12, "MADT IOAPIC");

struct madt_irq_override {
	uint8_t type; /* 2 */
	uint8_t length;
	uint8_t bus; /* 0: ISA */
	uint8_t source;
	uint32_t gsi;
	uint16_t flags; /* MPS INTI flags; 0: conforms to the bus */
} __attribute__((packed));
_Static_assert(sizeof(struct madt_irq_override) == 10, "MADT override");

struct madt_lapic_nmi {
	uint8_t type; /* 4 */
	uint8_t length;
	uint8_t processor_uid; /* 0xff: all processors */
	uint16_t flags;
	uint8_t lint;
} __attribute__((packed));
_Static_assert(sizeof(struct madt_lapic_nmi) == 6, "MADT LAPIC NMI");

enum {
	MADT_TYPE_LAPIC = 0,
	MADT_TYPE_IOAPIC = 1,
	MADT_TYPE_OVERRIDE = 2,
	MADT_TYPE_LAPIC_NMI = 4,
};

#define XSDT_REVISION 1
#define DSDT_REVISION 2 /* 64-bit integers */
#define RSDP_REVISION 2

/* The table area: everything is assembled in a host buffer that mirrors
 * [LAYOUT_BIOS_START, LAYOUT_BIOS_END) and copied into the guest at the end.
 * Tables stop at LAYOUT_VMGENID (its page is written by the VM). */
#define AREA_SIZE (LAYOUT_BIOS_END - LAYOUT_BIOS_START)
#define TABLES_SIZE (LAYOUT_VMGENID - LAYOUT_BIOS_START)

struct area {
	uint8_t *buf;
	size_t used;
};

/* Reserve len bytes (16-byte aligned start); returns the offset in the area or
 * a negative errno. */
static long area_alloc(struct area *ar, size_t len, const char *what)
{
	size_t off = ALIGN_UP(ar->used, (size_t)16);

	if (off > TABLES_SIZE || len > TABLES_SIZE - off)
		return err_set(ENOSPC, "ACPI: %s (%zu bytes) does not fit in 0x%llx-0x%llx", what,
			       len, LAYOUT_BIOS_START, LAYOUT_VMGENID - 1);
	ar->used = off + len;
	return (long)off;
}

static uint64_t area_gpa(size_t off)
{
	return LAYOUT_BIOS_START + off;
}

static void header_init(struct acpi_header *h, const char *sig, uint32_t len, uint8_t rev)
{
	memcpy(h->signature, sig, 4);
	h->length = len;
	h->revision = rev;
	memcpy(h->oem_id, ACPI_OEM_ID, 6);
	memcpy(h->oem_table_id, ACPI_OEM_TABLE_ID, 8);
	h->oem_revision = ACPI_OEM_REVISION;
	memcpy(h->creator_id, ACPI_CREATOR_ID, 4);
	h->creator_revision = ACPI_CREATOR_REVISION;
	h->checksum = 0;
	h->checksum = checksum8(h, len);
}

static int check_info(const struct acpi_info *info)
{
	if (info->ncpus < 1 || info->ncpus > ACPI_MAX_CPUS)
		return err_set(EINVAL, "ACPI: %d vCPUs (1-%d supported)", info->ncpus,
			       ACPI_MAX_CPUS);
	if (info->nvirtio < 0 || info->nvirtio > ACPI_MAX_VIRTIO ||
	    (info->nvirtio > 0 && !info->virtio))
		return err_set(EINVAL, "ACPI: bad virtio-mmio device count %d", info->nvirtio);
	for (int i = 0; i < info->nvirtio; i++) {
		const struct arch_mmio_dev *d = &info->virtio[i];

		if (d->size == 0 || d->addr > 0xffffffffULL || d->size > 0x100000000ULL - d->addr)
			return err_set(
			    EINVAL, "ACPI: virtio-mmio device %d at %#llx+%#llx is not below 4 GiB",
			    i, (unsigned long long)d->addr, (unsigned long long)d->size);
		if (d->irq >= ACPI_IOAPIC_PINS)
			return err_set(EINVAL, "ACPI: virtio-mmio device %d has IRQ %u (max %d)", i,
				       d->irq, ACPI_IOAPIC_PINS - 1);
	}
	if (info->vmgenid_gpa && (info->vmgenid_gpa % 8 || info->ged_gsi >= ACPI_IOAPIC_PINS))
		return err_set(EINVAL, "ACPI: VM generation ID at %#llx (8-byte aligned) or GSI %u",
			       (unsigned long long)info->vmgenid_gpa, info->ged_gsi);
	return 0;
}

/* The VM generation ID as Linux's vmgenid driver finds it (the _HID it
 * matches, the _CID and _DDN Windows looks for, ADDR: Package {low 32 bits,
 * high 32 bits} of the ID's guest-physical address), and a hardware-reduced
 * ACPI generic event device (ACPI0013): its edge interrupt on ged_gsi runs
 * _EVT, which notifies VGEN (0x80) so the guest rereads the ID. */
static void dsdt_vmgenid(struct aml *a, const struct acpi_info *info)
{
	aml_device_begin(a, "VGEN");
	aml_name(a, "_HID");
	aml_string(a, "VMGENCTR");
	aml_name(a, "_CID");
	aml_string(a, "VM_Gen_Counter");
	aml_name(a, "_DDN");
	aml_string(a, "VM_Gen_Counter");
	aml_name(a, "ADDR");
	aml_package_begin(a, 2);
	aml_integer(a, info->vmgenid_gpa & 0xffffffffu);
	aml_integer(a, info->vmgenid_gpa >> 32);
	aml_end(a);
	aml_end(a);

	aml_device_begin(a, "GED0");
	aml_name(a, "_HID");
	aml_string(a, "ACPI0013");
	aml_name(a, "_UID");
	aml_integer(a, 0);
	aml_name(a, "_CRS");
	aml_rt_begin(a);
	aml_rt_ext_irq(a, AML_IRQ_CONSUMER | AML_IRQ_EDGE, info->ged_gsi);
	aml_rt_end(a);
	aml_method_begin(a, "_EVT", 1);
	aml_if_begin(a);
	aml_lequal(a);
	aml_arg(a, 0);
	aml_integer(a, info->ged_gsi);
	aml_notify(a, "\\_SB_.VGEN", 0x80);
	aml_end(a);
	aml_end(a);
	aml_end(a);
}

/* DSDT: \_S5 (power off) and \_SB_ with COM1, the i8042 keyboard controller
 * and one LNRO0005 device per virtio-mmio slot. The i8042 is described as
 * PC firmware does (PNP0303: ports 0x60 and 0x64, ISA IRQ 1): Linux's i8042
 * driver takes its IRQ from there, and without the description an ACPI
 * kernel finds no keyboard, so SendCtrlAltDel would reach nobody. */
static long build_dsdt(struct area *ar, const struct acpi_info *info)
{
	size_t off = ALIGN_UP(ar->used, (size_t)16);
	size_t room = off < TABLES_SIZE ? TABLES_SIZE - off : 0;
	size_t len;
	struct acpi_header *h;
	struct aml a;
	long n;

	if (room < sizeof(*h))
		return area_alloc(ar, sizeof(*h), "DSDT");
	aml_init(&a, ar->buf + off + sizeof(*h), room - sizeof(*h));
	aml_scope_begin(&a, "\\_SB_");
	if (info->has_serial) {
		aml_device_begin(&a, "COM1");
		aml_name(&a, "_HID");
		aml_eisaid(&a, "PNP0501");
		aml_name(&a, "_UID");
		aml_integer(&a, 0);
		aml_name(&a, "_CRS");
		aml_rt_begin(&a);
		aml_rt_io(&a, LAYOUT_COM1_PORT, LAYOUT_COM1_PORT, 1, 8);
		aml_rt_irq_noflags(&a, LAYOUT_COM1_IRQ);
		aml_rt_end(&a);
		aml_end(&a);
	}
	aml_device_begin(&a, "PS2K");
	aml_name(&a, "_HID");
	aml_eisaid(&a, "PNP0303");
	aml_name(&a, "_CRS");
	aml_rt_begin(&a);
	aml_rt_io(&a, LAYOUT_I8042_DATA, LAYOUT_I8042_DATA, 1, 1);
	aml_rt_io(&a, LAYOUT_I8042_CMD, LAYOUT_I8042_CMD, 1, 1);
	aml_rt_irq_noflags(&a, LAYOUT_I8042_KBD_IRQ);
	aml_rt_end(&a);
	aml_end(&a);
	for (int i = 0; i < info->nvirtio; i++) {
		const struct arch_mmio_dev *d = &info->virtio[i];
		static const char hex[] = "0123456789ABCDEF";
		char name[5] = {'V', hex[(i >> 8) & 0xf], hex[(i >> 4) & 0xf], hex[i & 0xf], 0};

		aml_device_begin(&a, name);
		aml_name(&a, "_HID");
		aml_string(&a, "LNRO0005");
		aml_name(&a, "_UID");
		aml_integer(&a, (uint64_t)i);
		aml_name(&a, "_CRS");
		aml_rt_begin(&a);
		aml_rt_mem32_fixed(&a, 1, (uint32_t)d->addr, (uint32_t)d->size);
		aml_rt_ext_irq(&a, AML_IRQ_CONSUMER | AML_IRQ_EDGE, d->irq);
		aml_rt_end(&a);
		aml_end(&a);
	}
	if (info->vmgenid_gpa)
		dsdt_vmgenid(&a, info);
	aml_end(&a);
	/* Name (_S5, Package () {5, 0}): SLP_TYP for power off */
	{
		static const uint8_t s5_pkg[] = {0x12, 0x05, 0x02, 0x0a, ACPI_S5_SLP_TYP, 0x00};
		aml_name(&a, "_S5_");
		aml_bytes(&a, s5_pkg, sizeof(s5_pkg));
	}
	n = aml_finish(&a);
	if (n == -ENOSPC)
		return err_set(
		    ENOSPC, "ACPI: DSDT for %d virtio-mmio devices does not fit in 0x%llx-0x%llx",
		    info->nvirtio, LAYOUT_BIOS_START, LAYOUT_VMGENID - 1);
	if (n < 0)
		return err_set((int)-n, "ACPI: building the DSDT failed");
	len = sizeof(*h) + (size_t)n;
	n = area_alloc(ar, len, "DSDT");
	if (n < 0)
		return n;
	if ((size_t)n != off)
		return err_set(EFAULT, "ACPI: DSDT placement");
	h = (struct acpi_header *)(ar->buf + off);
	header_init(h, "DSDT", (uint32_t)len, DSDT_REVISION);
	return (long)off;
}

static long build_madt(struct area *ar, const struct acpi_info *info)
{
	size_t len = sizeof(struct acpi_madt) + (size_t)info->ncpus * sizeof(struct madt_lapic) +
		     sizeof(struct madt_ioapic) + sizeof(struct madt_irq_override) +
		     sizeof(struct madt_lapic_nmi);
	long off = area_alloc(ar, len, "MADT");
	struct acpi_madt *m;
	uint8_t *p;

	if (off < 0)
		return off;
	m = (struct acpi_madt *)(ar->buf + off);
	m->lapic_address = (uint32_t)LAYOUT_LAPIC_ADDR;
	m->flags = MADT_PCAT_COMPAT;
	p = (uint8_t *)(m + 1);
	for (int i = 0; i < info->ncpus; i++) {
		struct madt_lapic e = {
		    .type = MADT_TYPE_LAPIC,
		    .length = sizeof(e),
		    .processor_uid = (uint8_t)i,
		    .apic_id = (uint8_t)i,
		    .flags = MADT_LAPIC_ENABLED,
		};
		memcpy(p, &e, sizeof(e));
		p += sizeof(e);
	}
	struct madt_ioapic io = {
	    .type = MADT_TYPE_IOAPIC,
	    .length = sizeof(io),
	    .ioapic_id = (uint8_t)info->ncpus,
	    .address = (uint32_t)LAYOUT_IOAPIC_ADDR,
	    .gsi_base = 0,
	};
	memcpy(p, &io, sizeof(io));
	p += sizeof(io);
	/* The PIT's ISA IRQ 0 arrives on IOAPIC pin 2 (as on PC hardware). */
	struct madt_irq_override ovr = {
	    .type = MADT_TYPE_OVERRIDE,
	    .length = sizeof(ovr),
	    .bus = 0,
	    .source = 0,
	    .gsi = 2,
	    .flags = 0,
	};
	memcpy(p, &ovr, sizeof(ovr));
	p += sizeof(ovr);
	/* NMI on LINT1 of every processor (edge, active high). */
	struct madt_lapic_nmi nmi = {
	    .type = MADT_TYPE_LAPIC_NMI,
	    .length = sizeof(nmi),
	    .processor_uid = 0xff,
	    .flags = 0x0005,
	    .lint = 1,
	};
	memcpy(p, &nmi, sizeof(nmi));
	header_init(&m->h, "APIC", (uint32_t)len, MADT_REVISION);
	return off;
}

static void fill_fadt(struct acpi_fadt *f, uint64_t dsdt_gpa)
{
	/* No FACS, no SCI, no PM blocks: hardware-reduced ACPI. Only the
	 * 64-bit DSDT pointer is set (the 32-bit one must then be 0). */
	f->x_dsdt = dsdt_gpa;
	f->iapc_boot_arch = FADT_BOOT_8042 | FADT_BOOT_VGA_NOT_PRESENT;
	f->flags = FADT_F_WBINVD | FADT_F_PWR_BUTTON | FADT_F_SLP_BUTTON | FADT_F_RESET_REG_SUP |
		   FADT_F_HW_REDUCED_ACPI;
	/* Reset: write 0xfe to the i8042 command port (pulses the reset line). */
	f->reset_reg = (struct acpi_gas){
	    .space_id = ACPI_GAS_SYSTEM_IO,
	    .bit_width = 8,
	    .bit_offset = 0,
	    .access_size = ACPI_GAS_ACCESS_BYTE,
	    .address = LAYOUT_I8042_CMD,
	};
	f->reset_value = 0xfe;
	/* Sleep (S5 = power off): SLP_TYP|SLP_EN written to the control port. */
	f->sleep_control_reg = (struct acpi_gas){
	    .space_id = ACPI_GAS_SYSTEM_IO,
	    .bit_width = 8,
	    .access_size = ACPI_GAS_ACCESS_BYTE,
	    .address = LAYOUT_ACPI_SLEEP_CTL,
	};
	f->sleep_status_reg = (struct acpi_gas){
	    .space_id = ACPI_GAS_SYSTEM_IO,
	    .bit_width = 8,
	    .access_size = ACPI_GAS_ACCESS_BYTE,
	    .address = LAYOUT_ACPI_SLEEP_STS,
	};
	f->minor_version = FADT_MINOR_VERSION;
	header_init(&f->h, "FACP", sizeof(*f), FADT_REVISION);
}

static void fill_xsdt(struct acpi_header *h, const uint64_t *tables, int n)
{
	size_t len = sizeof(*h) + (size_t)n * sizeof(uint64_t);

	memcpy(h + 1, tables, (size_t)n * sizeof(uint64_t));
	header_init(h, "XSDT", (uint32_t)len, XSDT_REVISION);
}

static void fill_rsdp(struct acpi_rsdp *r, uint64_t xsdt_gpa)
{
	memcpy(r->signature, "RSD PTR ", 8);
	memcpy(r->oem_id, ACPI_OEM_ID, 6);
	r->revision = RSDP_REVISION;
	r->rsdt_address = 0; /* XSDT only */
	r->length = sizeof(*r);
	r->xsdt_address = xsdt_gpa;
	r->checksum = checksum8(r, 20);
	r->extended_checksum = checksum8(r, sizeof(*r));
}

int acpi_build(struct guest_mem *gm, const struct acpi_info *info, uint64_t *rsdp_gpa)
{
	struct area ar = {0};
	long rsdp, xsdt, fadt, madt, dsdt;
	uint64_t tables[2];
	int ret;

	_Static_assert(LAYOUT_ACPI_RSDP == LAYOUT_BIOS_START, "the RSDP opens the BIOS area");
	if (!gm || !info || !rsdp_gpa)
		return err_set(EINVAL, "ACPI: missing argument");
	ret = check_info(info);
	if (ret < 0)
		return ret;
	if (!gm_valid(gm, LAYOUT_BIOS_START, AREA_SIZE))
		return err_set(EFAULT, "ACPI: 0x%llx-0x%llx is not guest RAM", LAYOUT_BIOS_START,
			       LAYOUT_BIOS_END - 1);
	/* A private mapping, not the heap: freed pages of a 128 KiB calloc
	 * would stay resident for the VM's whole life. */
	ar.buf = mmap(NULL, AREA_SIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (ar.buf == MAP_FAILED)
		return err_set(ENOMEM, "ACPI: out of memory");

	/* Fixed-size tables first (the RSDP at its fixed address), then the
	 * MADT, then the variable-size DSDT. */
	rsdp = area_alloc(&ar, sizeof(struct acpi_rsdp), "RSDP");
	xsdt = area_alloc(&ar, sizeof(struct acpi_header) + sizeof(tables), "XSDT");
	fadt = area_alloc(&ar, sizeof(struct acpi_fadt), "FADT");
	madt = build_madt(&ar, info);
	dsdt = madt >= 0 ? build_dsdt(&ar, info) : madt;
	if (rsdp < 0 || xsdt < 0 || fadt < 0 || dsdt < 0) {
		ret = (int)MIN(MIN(rsdp, xsdt), MIN(fadt, dsdt));
		goto out;
	}
	fill_fadt((struct acpi_fadt *)(ar.buf + fadt), area_gpa((size_t)dsdt));
	tables[0] = area_gpa((size_t)fadt);
	tables[1] = area_gpa((size_t)madt);
	fill_xsdt((struct acpi_header *)(ar.buf + xsdt), tables, 2);
	fill_rsdp((struct acpi_rsdp *)(ar.buf + rsdp), area_gpa((size_t)xsdt));

	ret = gm_write(gm, LAYOUT_BIOS_START, ar.buf, AREA_SIZE);
	if (ret < 0) {
		ret = err_set(EFAULT, "ACPI: writing the tables to guest memory");
		goto out;
	}
	*rsdp_gpa = area_gpa((size_t)rsdp);
out:
	munmap(ar.buf, AREA_SIZE);
	return ret;
}
