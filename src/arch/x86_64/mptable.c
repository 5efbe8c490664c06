/* Intel MultiProcessor Specification 1.4 tables: the floating pointer
 * structure at LAYOUT_MPTABLE (in the EBDA, found by the OS's scan of the
 * last KiB of base memory) and the configuration table right after it. Used
 * by guests that boot without ACPI; the interrupt routing matches the MADT. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "ember/x86.h"
#include "ember/error.h"
#include "ember/layout.h"
#include "ember/util.h"

struct mpf_intel {
	char signature[4]; /* "_MP_" */
	uint32_t physptr;  /* configuration table */
	uint8_t length;	   /* in 16-byte units: 1 */
	uint8_t spec_rev;  /* 4: version 1.4 */
	uint8_t checksum;
	uint8_t feature1; /* 0: a configuration table is present */
	uint8_t feature2; /* bit 7 IMCRP: 0 = virtual wire mode */
	uint8_t feature3[3];
} __attribute__((packed));
_Static_assert(sizeof(struct mpf_intel) == 16, "MP floating pointer");

struct mpc_table {
	char signature[4]; /* "PCMP" */
	uint16_t length;   /* base table: header + entries */
	uint8_t spec_rev;
	uint8_t checksum;
	char oem_id[8];
	char product_id[12];
	uint32_t oem_ptr;
	uint16_t oem_size;
	uint16_t count;
	uint32_t lapic_addr;
	uint16_t ext_length;
	uint8_t ext_checksum;
	uint8_t reserved;
} __attribute__((packed));
_Static_assert(sizeof(struct mpc_table) == 44, "MP configuration table header");

struct mpc_cpu {
	uint8_t type; /* 0 */
	uint8_t lapic_id;
	uint8_t lapic_ver;
	uint8_t cpu_flags;
	uint32_t cpu_signature;
	uint32_t feature_flags;
	uint32_t reserved[2];
} __attribute__((packed));
_Static_assert(sizeof(struct mpc_cpu) == 20, "MP processor entry");

struct mpc_bus {
	uint8_t type; /* 1 */
	uint8_t bus_id;
	char bus_type[6];
} __attribute__((packed));
_Static_assert(sizeof(struct mpc_bus) == 8, "MP bus entry");

struct mpc_ioapic {
	uint8_t type; /* 2 */
	uint8_t apic_id;
	uint8_t apic_ver;
	uint8_t flags;
	uint32_t address;
} __attribute__((packed));
_Static_assert(sizeof(struct mpc_ioapic) == 8, "MP I/O APIC entry");

/* I/O interrupt (type 3) and local interrupt (type 4) assignment entries */
struct mpc_intsrc {
	uint8_t type;
	uint8_t irq_type;
	uint16_t irq_flags;
	uint8_t src_bus;
	uint8_t src_irq;
	uint8_t dst_apic;
	uint8_t dst_pin;
} __attribute__((packed));
_Static_assert(sizeof(struct mpc_intsrc) == 8, "MP interrupt entry");

enum { MP_PROCESSOR = 0, MP_BUS = 1, MP_IOAPIC = 2, MP_INTSRC = 3, MP_LINTSRC = 4 };
enum { MP_INT = 0, MP_NMI = 1, MP_SMI = 2, MP_EXTINT = 3 };

#define MP_SPEC_REV 4
#define MP_CPU_ENABLED 0x01
#define MP_CPU_BSP 0x02
#define MP_IOAPIC_ENABLED 0x01
#define MP_APIC_VERSION 0x14   /* integrated local APIC */
#define MP_IOAPIC_VERSION 0x11 /* 82093AA-compatible, as KVM's IOAPIC reports */
#define MP_CPU_SIGNATURE 0x600 /* family 6 */
#define MP_CPU_FEATURES 0x201  /* CPUID.1:EDX FPU | APIC */
#define MP_IRQ_CONFORMING 0x0
#define MP_IRQ_EDGE_HIGH 0x5 /* polarity 01 active high, trigger 01 edge */
#define MP_ALL_LAPICS 0xff
#define MP_ISA_BUS 0
#define MP_ISA_IRQS 16
#define MP_IOAPIC_PINS 24
#define MP_MAX_CPUS 254 /* the IOAPIC takes APIC id ncpus; 0xff is broadcast */
/* Everything stays below the ACPI area, inside the e820-reserved range. */
#define MP_AREA_END LAYOUT_BIOS_START

/* ISA IRQ -> IOAPIC pin; -1: not connected. IRQ 0 (PIT) is on pin 2 like the
 * MADT's interrupt source override; IRQ 2 (the 8259 cascade) does not exist. */
static int isa_pin(int irq)
{
	if (irq == 0)
		return 2;
	if (irq == 2)
		return -1;
	return irq;
}

int mptable_build(struct guest_mem *gm, int ncpus, const struct arch_mmio_dev *virtio, int nvirtio)
{
	bool extra[MP_IOAPIC_PINS] = {false};
	int nextra = 0, nisa = 0, count = 0, ret;
	size_t len, cfg_len;
	uint8_t ioapic_id;
	uint8_t *buf, *p;

	if (!gm)
		return err_set(EINVAL, "MP table: missing guest memory");
	if (ncpus < 1 || ncpus > MP_MAX_CPUS)
		return err_set(EINVAL, "MP table: %d vCPUs (1-%d supported)", ncpus, MP_MAX_CPUS);
	if (nvirtio < 0 || (nvirtio > 0 && !virtio))
		return err_set(EINVAL, "MP table: bad virtio-mmio device count %d", nvirtio);
	/* Virtio IRQs below 16 share the ISA entries (ISA interrupts are edge
	 * triggered, active high, like virtio-mmio's); the others get their
	 * own entry, once per pin. */
	for (int i = 0; i < nvirtio; i++) {
		uint32_t irq = virtio[i].irq;

		if (irq >= MP_IOAPIC_PINS || (irq < MP_ISA_IRQS && isa_pin((int)irq) != (int)irq))
			return err_set(
			    EINVAL, "MP table: virtio-mmio device %d has unusable IRQ %u", i, irq);
		if (irq >= MP_ISA_IRQS && !extra[irq]) {
			extra[irq] = true;
			nextra++;
		}
	}
	for (int irq = 0; irq < MP_ISA_IRQS; irq++)
		nisa += isa_pin(irq) >= 0;

	cfg_len = sizeof(struct mpc_table) + (size_t)ncpus * sizeof(struct mpc_cpu) +
		  sizeof(struct mpc_bus) + sizeof(struct mpc_ioapic) +
		  (size_t)(nisa + nextra + 2) * sizeof(struct mpc_intsrc);
	len = sizeof(struct mpf_intel) + cfg_len;
	if (len > MP_AREA_END - LAYOUT_MPTABLE)
		return err_set(ENOSPC, "MP table for %d vCPUs (%zu bytes) does not fit below %#llx",
			       ncpus, len, MP_AREA_END);
	if (!gm_valid(gm, LAYOUT_MPTABLE, len))
		return err_set(EFAULT, "MP table: %#llx+%zu is not guest RAM", LAYOUT_MPTABLE, len);
	buf = calloc(1, len);
	if (!buf)
		return err_set(ENOMEM, "MP table: out of memory");

	struct mpf_intel *mpf = (struct mpf_intel *)buf;
	struct mpc_table *mpc = (struct mpc_table *)(mpf + 1);

	_Static_assert((LAYOUT_MPTABLE & 15) == 0, "MP floating pointer is 16-byte aligned");
	ioapic_id = (uint8_t)ncpus;
	p = (uint8_t *)(mpc + 1);
	for (int i = 0; i < ncpus; i++) {
		struct mpc_cpu c = {
		    .type = MP_PROCESSOR,
		    .lapic_id = (uint8_t)i,
		    .lapic_ver = MP_APIC_VERSION,
		    .cpu_flags = MP_CPU_ENABLED | (i == 0 ? MP_CPU_BSP : 0),
		    .cpu_signature = MP_CPU_SIGNATURE,
		    .feature_flags = MP_CPU_FEATURES,
		};
		memcpy(p, &c, sizeof(c));
		p += sizeof(c);
		count++;
	}
	struct mpc_bus bus = {.type = MP_BUS, .bus_id = MP_ISA_BUS};
	memcpy(bus.bus_type, "ISA   ", 6);
	memcpy(p, &bus, sizeof(bus));
	p += sizeof(bus);
	count++;
	struct mpc_ioapic io = {
	    .type = MP_IOAPIC,
	    .apic_id = ioapic_id,
	    .apic_ver = MP_IOAPIC_VERSION,
	    .flags = MP_IOAPIC_ENABLED,
	    .address = (uint32_t)LAYOUT_IOAPIC_ADDR,
	};
	memcpy(p, &io, sizeof(io));
	p += sizeof(io);
	count++;
	for (int irq = 0; irq < MP_ISA_IRQS + MP_IOAPIC_PINS; irq++) {
		int isa = irq < MP_ISA_IRQS;
		int src = isa ? irq : irq - MP_ISA_IRQS;
		int pin = isa ? isa_pin(src) : src;

		if (pin < 0 || (!isa && !extra[src]))
			continue;
		struct mpc_intsrc e = {
		    .type = MP_INTSRC,
		    .irq_type = MP_INT,
		    .irq_flags = isa ? MP_IRQ_CONFORMING : MP_IRQ_EDGE_HIGH,
		    .src_bus = MP_ISA_BUS,
		    .src_irq = (uint8_t)src,
		    .dst_apic = ioapic_id,
		    .dst_pin = (uint8_t)pin,
		};
		memcpy(p, &e, sizeof(e));
		p += sizeof(e);
		count++;
	}
	/* LINT0: the 8259's ExtINT (virtual wire); LINT1: NMI. */
	for (int lint = 0; lint < 2; lint++) {
		struct mpc_intsrc e = {
		    .type = MP_LINTSRC,
		    .irq_type = lint == 0 ? MP_EXTINT : MP_NMI,
		    .irq_flags = MP_IRQ_CONFORMING,
		    .src_bus = MP_ISA_BUS,
		    .src_irq = 0,
		    .dst_apic = MP_ALL_LAPICS,
		    .dst_pin = (uint8_t)lint,
		};
		memcpy(p, &e, sizeof(e));
		p += sizeof(e);
		count++;
	}
	if ((size_t)(p - buf) != len) {
		free(buf);
		return err_set(EFAULT, "MP table: size mismatch");
	}

	memcpy(mpc->signature, "PCMP", 4);
	mpc->length = (uint16_t)cfg_len;
	mpc->spec_rev = MP_SPEC_REV;
	memcpy(mpc->oem_id, "EMBER   ", 8);
	memcpy(mpc->product_id, "EMBERVM     ", 12);
	mpc->count = (uint16_t)count;
	mpc->lapic_addr = (uint32_t)LAYOUT_LAPIC_ADDR;
	mpc->checksum = checksum8(mpc, cfg_len);

	memcpy(mpf->signature, "_MP_", 4);
	mpf->physptr = (uint32_t)(LAYOUT_MPTABLE + sizeof(*mpf));
	mpf->length = 1;
	mpf->spec_rev = MP_SPEC_REV;
	mpf->checksum = checksum8(mpf, sizeof(*mpf));

	ret = gm_write(gm, LAYOUT_MPTABLE, buf, len);
	free(buf);
	if (ret < 0)
		return err_set(EFAULT, "MP table: writing to guest memory");
	return 0;
}
