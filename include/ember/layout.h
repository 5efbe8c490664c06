/* x86_64 guest physical memory map (see ARCHITECTURE.md). */
#ifndef EMBER_LAYOUT_H
#define EMBER_LAYOUT_H

#define LAYOUT_GDT_ADDR 0x500ULL
#define LAYOUT_IDT_ADDR 0x520ULL
#define LAYOUT_ZERO_PAGE 0x7000ULL
#define LAYOUT_PML4 0x9000ULL /* PML4, PDPT, then 4 PDs: identity map of 4 GiB */
#define LAYOUT_PDPT 0xa000ULL
#define LAYOUT_PD 0xb000ULL    /* 4 pages: 0xb000-0xefff */
#define LAYOUT_BOOT_STACK 0x8ff0ULL
#define LAYOUT_CMDLINE 0x20000ULL
#define LAYOUT_CMDLINE_MAX 0x10000ULL /* 64 KiB */
#define LAYOUT_EBDA_START 0x9fc00ULL  /* end of usable low RAM */
#define LAYOUT_MPTABLE 0x9fc00ULL     /* MP floating pointer + table in the EBDA */
#define LAYOUT_BIOS_START 0xe0000ULL  /* ACPI tables live in 0xe0000-0xfffff */
#define LAYOUT_ACPI_RSDP 0xe0000ULL
#define LAYOUT_VMGENID 0xff000ULL /* VM generation ID (16 bytes): the BIOS area's last page */
#define LAYOUT_BIOS_END 0x100000ULL
#define LAYOUT_HIMEM 0x100000ULL      /* 1 MiB: kernel load address */

#define LAYOUT_MMIO_GAP_START 0xc0000000ULL
#define LAYOUT_MMIO_GAP_END 0x100000000ULL
#define LAYOUT_ONESHOT_EXIT 0xcffff000ULL /* one-shot exit register (oneshot_abi.h): below virtio */
#define LAYOUT_VIRTIO_MMIO_BASE 0xd0000000ULL
#define LAYOUT_VIRTIO_MMIO_SIZE 0x1000ULL
#define LAYOUT_VIRTIO_MAX_DEVICES 19 /* IRQs 5..23: the IOAPIC has 24 pins */
#define LAYOUT_VIRTIO_IRQ_BASE 5
#define LAYOUT_GED_GSI 3 /* ACPI generic event device (VM generation ID): ISA IRQ 3, free */
#define LAYOUT_IOAPIC_ADDR 0xfec00000ULL
#define LAYOUT_LAPIC_ADDR 0xfee00000ULL
#define LAYOUT_KVM_IDENTITY_MAP 0xfeffc000ULL
#define LAYOUT_KVM_TSS 0xfeffd000ULL

/* Device memory (virtio-mem's hotplug region, then each virtio-pmem file)
 * lies above RAM and above 4 GiB, from the next 1 GiB boundary; it is never
 * in the e820 map or ACPI tables: the devices describe it themselves. */
#define LAYOUT_DEVMEM_ALIGN 0x40000000ULL
#define LAYOUT_PMEM_ALIGN 0x200000ULL /* 2 MiB: Linux maps pmem in 2 MiB sections */

#define LAYOUT_COM1_PORT 0x3f8
#define LAYOUT_COM1_IRQ 4
#define LAYOUT_I8042_DATA 0x60
#define LAYOUT_I8042_CMD 0x64
#define LAYOUT_I8042_KBD_IRQ 1
#define LAYOUT_RTC_PORT 0x70
#define LAYOUT_ACPI_SLEEP_CTL 0x600 /* HW-reduced ACPI sleep control register */
#define LAYOUT_ACPI_SLEEP_STS 0x601 /* ... and sleep status register */
#define LAYOUT_BOOT_TIMER_PORT 0x3f0 /* guest writes 123 here: boot time logged */

/* Slot n of the virtio-mmio area. */
#define LAYOUT_VIRTIO_ADDR(n) (LAYOUT_VIRTIO_MMIO_BASE + (unsigned long long)(n) * LAYOUT_VIRTIO_MMIO_SIZE)
#define LAYOUT_VIRTIO_IRQ(n) (LAYOUT_VIRTIO_IRQ_BASE + (n))

#endif
