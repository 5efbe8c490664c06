/* The architecture boundary: everything the VMM asks of the machine code in
 * src/arch/<ARCH> (x86_64 or aarch64; one is built, chosen by `make ARCH=`).
 * The VMM places devices where arch_layout says, hands the loaded kernel,
 * initrd and command line to arch_boot_tables, and lets the architecture
 * set up KVM's interrupt controller and the vCPUs' registers. */
#ifndef EMBER_ARCH_H
#define EMBER_ARCH_H

#include <stdbool.h>
#include <stdint.h>

#include "ember/loader.h"
#include "ember/memory.h"

/* Most virtio-mmio slots any architecture has (vm.c's slot table), and
 * the fewest (what every machine takes). */
#define ARCH_VIRTIO_MAX_DEVICES 24
#define ARCH_VIRTIO_MIN_DEVICES 19
/* Device memory (virtio-pmem, virtio-mem) above RAM: its start on a 1 GiB
 * boundary, each pmem region on 2 MiB (Linux maps pmem in 2 MiB sections). */
#define ARCH_DEVMEM_ALIGN 0x40000000ULL
#define ARCH_PMEM_ALIGN 0x200000ULL

/* Where a device sits: port I/O (x86), MMIO, or not on this machine. */
enum arch_bus { ARCH_BUS_NONE = 0, ARCH_BUS_PIO, ARCH_BUS_MMIO };
struct arch_place {
	enum arch_bus bus;
	uint64_t addr;
	uint64_t size;
	uint32_t irq; /* the number arch_irq_line and KVM_IRQFD take (GSI / SPI) */
};

/* One virtio-mmio device as the firmware tables describe it. */
struct arch_mmio_dev {
	uint64_t addr;
	uint64_t size;
	uint32_t irq;
};

/* The guest-physical map of the machine. RAM begins at ram_start; on x86
 * RAM that would overlap [gap_start, gap_end) continues at gap_end. */
struct arch_layout {
	const char *name; /* "x86_64", "aarch64": GET / and --version say it */
	uint16_t elf_machine; /* EM_X86_64, EM_AARCH64: what `ember jail` runs */
	uint64_t ram_start;
	uint64_t gap_start, gap_end;
	uint64_t ram_max; /* most bytes of RAM the map holds */
	uint64_t devmem_floor; /* device memory starts above this and above RAM */
	uint64_t virtio_base, virtio_size;
	uint32_t virtio_irq_base;
	int virtio_max;
	struct arch_place serial;     /* 16550 */
	struct arch_place i8042;      /* x86 keyboard controller (reset, Ctrl-Alt-Del) */
	struct arch_place cmos;	      /* x86 CMOS RTC */
	struct arch_place pl031;      /* ARM PrimeCell RTC */
	struct arch_place acpi_sleep; /* x86 ACPI sleep control/status registers */
	struct arch_place boot_timer; /* the guest writes 123 here: boot time logged */
	struct arch_place oneshot_exit; /* one-shot exit register (oneshot_abi.h) */
	/* virtio-mmio devices also as virtio_mmio.device= tokens on the
	 * command line (x86; the device tree describes them on aarch64) */
	bool virtio_cmdline;
	const char *default_cmdline;
	/* VM generation ID: the guest-physical address of its 16 bytes (in
	 * RAM the firmware tables reserve) and the interrupt that tells the
	 * guest it changed; 0: this machine has none (aarch64 for now). */
	uint64_t vmgenid_gpa;
	uint32_t vmgenid_irq;
};
extern const struct arch_layout arch_layout;

/* x86 power off: the guest writes (ACPI_S5_SLP_TYP << 2) | ACPI_SLP_EN to
 * the acpi_sleep register (FADT sleep control register, DSDT \_S5). */
#define ACPI_S5_SLP_TYP 5
#define ACPI_SLP_EN 0x20

static inline uint64_t arch_virtio_addr(int slot)
{
	return arch_layout.virtio_base + (uint64_t)slot * arch_layout.virtio_size;
}
static inline uint32_t arch_virtio_irq(int slot)
{
	return arch_layout.virtio_irq_base + (uint32_t)slot;
}

/* The architecture's part of a VM: interrupt controller, CPU set-up. */
struct arch_vm;
struct arch_vm_cfg {
	int kvm_fd, vm_fd;
	int ncpus;
	bool smt;
	const char *cpu_template_json; /* PUT /cpu-config document, or NULL */
	const char *cpu_template_name; /* machine-config cpu_template, or NULL */
};
/* Right after KVM_CREATE_VM: the in-kernel interrupt controller (x86: PIC,
 * IOAPIC, PIT and GSI routing; aarch64: the GICv3 device), CPU templates. */
int arch_vm_create(const struct arch_vm_cfg *cfg, struct arch_vm **out);
void arch_vm_destroy(struct arch_vm *a);
/* After KVM_CREATE_VCPU, for every vCPU (a snapshot load too). */
int arch_vcpu_init(struct arch_vm *a, int vcpu_fd, int id);
/* After every vCPU had arch_vcpu_init (aarch64: the vGIC is initialised). */
int arch_vcpus_created(struct arch_vm *a);

/* What the VMM loaded; the firmware tables describe it to the kernel. */
struct arch_boot {
	const struct kernel_image *kernel;
	const char *cmdline;  /* final, with the VMM's additions */
	uint64_t cmdline_gpa; /* where the VMM wrote it (arch_cmdline_gpa) */
	uint32_t cmdline_len; /* excluding NUL */
	uint64_t initrd_gpa, initrd_len;
	const struct arch_mmio_dev *virtio;
	int nvirtio;
};
/* Where the command line goes in guest memory (0: nowhere, the tables
 * carry it) and its longest length for the kernel (excluding NUL). */
uint64_t arch_cmdline_gpa(void);
uint32_t arch_cmdline_max(const struct kernel_image *k);
/* Boot tables into guest memory (x86: page tables, MP table, ACPI, zero
 * page; aarch64: the device tree). */
int arch_boot_tables(struct arch_vm *a, struct guest_mem *gm, const struct arch_boot *b);
/* Boot registers and CPU state of one vCPU (after arch_boot_tables). */
int arch_vcpu_configure(struct arch_vm *a, int vcpu_fd, int id);
/* Registers of a failed vCPU to the log. */
void arch_vcpu_dump(int vcpu_fd, int id);
/* Drive a level-triggered interrupt line (the serial's, the i8042's). */
int arch_irq_line(int vm_fd, uint32_t irq, int level);

/* machine-config cpu_template and PUT /cpu-config: 0 when this machine can
 * honour them, else err_set() with the reason. */
int arch_check_cpu_template(const char *name);
int arch_check_cpu_config(const char *json);

#endif
