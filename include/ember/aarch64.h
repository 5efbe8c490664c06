/* aarch64 machine pieces behind arch.h: the guest-physical map, the arm64
 * Image loader and the device tree. Pure functions (no KVM): the unit tests
 * build and check them on any host. The KVM side (vGICv3, vCPU init,
 * registers) is src/arch/aarch64/machine.c. */
#ifndef EMBER_AARCH64_H
#define EMBER_AARCH64_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ember/arch.h"
#include "ember/loader.h"
#include "ember/memory.h"

/* ---- guest-physical map (RAM from 2 GiB, as Firecracker) ----
 * [GICR (128 KiB per vCPU) ... GICD 64 KiB] below 1 GiB, then the MMIO
 * devices from 1 GiB, RAM from 2 GiB. Interrupts are SPI numbers (the
 * INTID is 32 + SPI); KVM_IRQFD's GSI is the SPI number. */
#define A64_GICD_BASE 0x3fff0000ULL
#define A64_GICD_SIZE 0x10000ULL
#define A64_GICR_STRIDE 0x20000ULL /* RD_base + SGI_base frames per vCPU */
#define A64_GICR_BASE(ncpus) (A64_GICD_BASE - (uint64_t)(ncpus)*A64_GICR_STRIDE)
#define A64_MAX_VCPUS 32
#define A64_MMIO_BASE 0x40000000ULL
#define A64_SERIAL_ADDR 0x40000000ULL
#define A64_SERIAL_SPI 1
#define A64_RTC_ADDR 0x40001000ULL
#define A64_RTC_SPI 2
/* one-shot exit register (oneshot_abi.h), above the virtio slots and alone
 * in its 64 KiB: a guest with 64 KiB pages maps it without the UART */
#define A64_ONESHOT_EXIT_ADDR 0x40030000ULL
#define A64_DEV_SIZE 0x1000ULL
#define A64_VIRTIO_BASE 0x40010000ULL
#define A64_VIRTIO_SIZE 0x1000ULL
#define A64_VIRTIO_SPI_BASE 16
#define A64_VIRTIO_MAX 19
#define A64_NR_IRQS 128 /* 32 private + 96 SPIs: the vGIC's line count */
#define A64_RAM_START 0x80000000ULL
#define A64_RAM_MAX (1ULL << 38) /* fits KVM's default 40-bit IPA space */
#define A64_FDT_MAX 0x200000ULL	 /* 2 MiB, at the top of RAM (2 MiB aligned) */
#define A64_CMDLINE_MAX 2047	 /* arm64 COMMAND_LINE_SIZE - 1 */
#define A64_SERIAL_CLOCK 1843200
/* GIC interrupt specifier cells */
#define A64_GIC_SPI 0
#define A64_GIC_PPI 1
#define A64_IRQ_EDGE_RISING 1
#define A64_IRQ_LEVEL_HIGH 4
/* architected timer PPIs: secure, non-secure physical, virtual, hypervisor */
#define A64_TIMER_PPI_S 13
#define A64_TIMER_PPI_NS 14
#define A64_TIMER_PPI_VIRT 11
#define A64_TIMER_PPI_HYP 10

/* Where the device tree goes: the last 2 MiB-aligned 2 MiB of RAM. */
uint64_t a64_fdt_gpa(const struct guest_mem *gm);
/* MPIDR affinity (Aff2.Aff1.Aff0) KVM gives vCPU id when none is read back. */
uint64_t a64_mpidr_of(int vcpu_id);

/* ---- arm64 Image (Documentation/arch/arm64/booting.rst) ----
 * 64-byte header: code0/1, text_offset, image_size, flags, 3 reserved,
 * magic "ARM\x64" at 56. Loaded at RAM start (2 MiB aligned) + text_offset;
 * the entry is the first byte. Rejected with a clear line: an x86 bzImage,
 * an ELF, a compressed Image (gzip etc.), a big-endian Image, bad sizes. */
#define A64_IMAGE_MAGIC 0x644d5241u
int a64_image_load(struct guest_mem *gm, const struct kimage *img, struct kernel_image *out);
/* The initrd: as high as possible below the device tree, page-aligned,
 * above the kernel. */
int a64_initrd_gpa(const struct guest_mem *gm, const struct kernel_image *k, size_t len,
		   uint64_t *gpa);

/* ---- device tree (libfdt) ---- */
struct a64_fdt_info {
	int ncpus;
	const uint64_t *mpidr; /* per vCPU */
	uint64_t ram_start, ram_size;
	const char *cmdline;
	uint64_t initrd_gpa, initrd_len; /* len 0: none */
	const struct arch_mmio_dev *virtio;
	int nvirtio;
};
/* Build the tree into buf (cap bytes, at most A64_FDT_MAX): memory, cpus
 * (enable-method psci), GICv3 (dist + one redistributor frame pair per
 * vCPU), architected timer, psci (0.2, hvc), 16550 UART (stdout-path),
 * PL031 RTC with its apb_pclk, one virtio,mmio node per device, chosen. */
int a64_fdt_build(void *buf, size_t cap, const struct a64_fdt_info *info);

#endif
