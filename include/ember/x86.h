/* x86_64 boot protocol pieces (behind arch.h): zero page/e820, boot page tables and
 * registers, CPUID (+ CPU templates), MSRs, ACPI, MP table. */
#ifndef EMBER_X86_H
#define EMBER_X86_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <asm/bootparam.h>
#include <linux/kvm.h>

#include "ember/arch.h"
#include "ember/loader.h"
#include "ember/memory.h"

/* ---- zero page (boot_params.c) ---- */
struct boot_setup {
	const struct kernel_image *kernel;
	uint64_t cmdline_gpa;
	uint32_t cmdline_len; /* excluding NUL */
	uint64_t initrd_gpa;
	uint64_t initrd_len;
	uint64_t rsdp_gpa; /* 0: none */
};

/* Fill at most max e820 entries describing gm (low RAM below the EBDA,
 * reserved EBDA/BIOS area, RAM from 1 MiB, RAM above 4 GiB). Returns count. */
int boot_e820_build(const struct guest_mem *gm, struct boot_e820_entry *out, int max);
/* Write the zero page at LAYOUT_ZERO_PAGE. */
int boot_params_write(struct guest_mem *gm, const struct boot_setup *s);

/* ---- long-mode entry (regs.c) ---- */
/* GDT and identity page tables (first 4 GiB, 2 MiB pages) into guest RAM. */
int regs_write_boot_tables(struct guest_mem *gm);
/* BSP registers: long mode, CS=0x10, DS=0x18, RIP=entry, RSI=zero page. */
int regs_setup_bsp(int vcpu_fd, uint64_t entry, uint64_t zero_page);
/* x87/SSE control words (every vCPU). */
int regs_setup_fpu(int vcpu_fd);
/* LAPIC LINT0 = ExtINT, LINT1 = NMI (every vCPU). */
int regs_setup_lapic(int vcpu_fd);
/* Dump general, segment and control registers to stderr. */
void regs_dump(int vcpu_fd, int vcpu_id);

/* ---- CPUID + CPU templates (cpuid.c) ---- */
struct cpuid_modifier {
	uint32_t leaf, subleaf;
	uint32_t flags; /* KVM_CPUID_FLAG_SIGNIFCANT_INDEX if subleaf matters */
	int reg;        /* 0 eax, 1 ebx, 2 ecx, 3 edx */
	uint32_t and_mask, or_mask; /* value = (value & and_mask) | or_mask */
};
struct msr_modifier {
	uint32_t addr;
	uint64_t and_mask, or_mask;
};
struct cpu_template {
	struct cpuid_modifier *cpuid;
	int ncpuid;
	struct msr_modifier *msrs;
	int nmsrs;
	uint32_t *kvm_caps; /* kvm_capabilities the host must have */
	int nkvm_caps;
};
/* Parse Firecracker's custom CPU template JSON (cpuid_modifiers,
 * msr_modifiers; bitmaps "0b" + 0/1/x; kvm_capabilities). The API runs it
 * at PUT /cpu-config time too, so what it accepts boots. err_set() names
 * the bad field. */
int cpu_template_parse(const char *json, struct cpu_template *out);
void cpu_template_free(struct cpu_template *t);
/* The static templates (machine-config "cpu_template": C3, T2, T2S, T2CL
 * Intel; T2A AMD) as Firecracker defines them (cpu_static.c): the vendor a
 * template is for (enum cpu_vendor) or -EINVAL for another name; whether
 * Firecracker lists the CPU model (leaf 1 EAX) for it; the template itself. */
int cpu_template_static_vendor(const char *name);
bool cpu_template_static_model_listed(const char *name, uint32_t leaf1_eax);
int cpu_template_static(const char *name, struct cpu_template *out);
/* Supported CPUID from KVM (malloc'd). */
int cpuid_get_supported(int kvm_fd, struct kvm_cpuid2 **out);
/* The host CPU's vendor, from CPUID leaf 0. */
enum cpu_vendor { CPU_VENDOR_OTHER = 0, CPU_VENDOR_INTEL, CPU_VENDOR_AMD };
enum cpu_vendor cpuid_host_vendor(void);
/* The host's CPUID leaf 1 EAX (family, model, stepping). */
uint32_t cpuid_host_signature(void);
/* Per-vCPU adjustments: APIC id, topology (leaves 1, 4, 0xb, 0x1f,
 * 0x8000001e; smt: two threads per core as Firecracker gives them),
 * hypervisor bit, then the template. cpuid is modified in place. */
int cpuid_setup_vcpu(struct kvm_cpuid2 *cpuid, int vcpu_id, int ncpus, bool smt,
		     const struct cpu_template *t);

/* ---- MSRs (msr.c) ---- */
/* Boot MSRs (SYSENTER/STAR/..., MISC_ENABLE fast strings, MTRR default WB),
 * then the template's msr_modifiers. */
int msr_setup_vcpu(int kvm_fd, int vcpu_fd, const struct cpu_template *t);

/* ---- ACPI (acpi.c) and MP table (mptable.c) ---- */
struct acpi_info {
	int ncpus;
	bool has_serial; /* COM1 in the DSDT */
	const struct arch_mmio_dev *virtio;
	int nvirtio;
	/* VM generation ID (Linux's vmgenid: _HID VMGENCTR, ADDR = gpa of its
	 * 16 bytes) and a generic event device (ACPI0013) whose interrupt on
	 * ged_gsi notifies it of a change. 0: none. */
	uint64_t vmgenid_gpa;
	uint32_t ged_gsi;
};
/* RSDP at LAYOUT_ACPI_RSDP, then XSDT, FADT (hardware-reduced), MADT,
 * DSDT in 0xe0000-0xfefff (the last page of the BIOS area is left for the
 * VM generation ID). Returns the RSDP gpa. */
int acpi_build(struct guest_mem *gm, const struct acpi_info *info, uint64_t *rsdp_gpa);
/* Intel MP 1.4 floating pointer + config table at LAYOUT_MPTABLE. */
int mptable_build(struct guest_mem *gm, int ncpus, const struct arch_mmio_dev *virtio, int nvirtio);

#endif
