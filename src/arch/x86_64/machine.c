/* The x86_64 machine behind arch.h: the PC-like memory map, the in-kernel
 * PIC/IOAPIC/PIT with GSI routing that matches the MADT/MP table, the boot
 * tables (page tables, MP table, ACPI, zero page) and the vCPUs' CPUID,
 * MSRs and long-mode entry registers. */
#include <elf.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>

#include "ember/arch.h"
#include "ember/error.h"
#include "ember/kvm.h"
#include "ember/layout.h"
#include "ember/log.h"
#include "ember/oneshot_abi.h"
#include "ember/x86.h"

const struct arch_layout arch_layout = {
    .name = "x86_64",
    .elf_machine = EM_X86_64,
    .ram_start = 0,
    .gap_start = LAYOUT_MMIO_GAP_START,
    .gap_end = LAYOUT_MMIO_GAP_END,
    .ram_max = 1ULL << 46,
    .devmem_floor = LAYOUT_MMIO_GAP_END,
    .virtio_base = LAYOUT_VIRTIO_MMIO_BASE,
    .virtio_size = LAYOUT_VIRTIO_MMIO_SIZE,
    .virtio_irq_base = LAYOUT_VIRTIO_IRQ_BASE,
    .virtio_max = LAYOUT_VIRTIO_MAX_DEVICES,
    .serial = {ARCH_BUS_PIO, LAYOUT_COM1_PORT, 8, LAYOUT_COM1_IRQ},
    .i8042 = {ARCH_BUS_PIO, LAYOUT_I8042_DATA, 5, LAYOUT_I8042_KBD_IRQ},
    .cmos = {ARCH_BUS_PIO, LAYOUT_RTC_PORT, 2, 0},
    .acpi_sleep = {ARCH_BUS_PIO, LAYOUT_ACPI_SLEEP_CTL, 2, 0},
    .boot_timer = {ARCH_BUS_PIO, LAYOUT_BOOT_TIMER_PORT, 1, 0},
    .oneshot_exit = {ARCH_BUS_MMIO, LAYOUT_ONESHOT_EXIT, ONESHOT_EXIT_SIZE, 0},
    .virtio_cmdline = true,
    .vmgenid_gpa = LAYOUT_VMGENID,
    .vmgenid_irq = LAYOUT_GED_GSI,
    .default_cmdline = "console=ttyS0 reboot=k panic=1",
};

_Static_assert(LAYOUT_VIRTIO_MAX_DEVICES <= ARCH_VIRTIO_MAX_DEVICES &&
		   LAYOUT_VIRTIO_MAX_DEVICES >= ARCH_VIRTIO_MIN_DEVICES,
	       "virtio slots");
_Static_assert(LAYOUT_VIRTIO_IRQ(LAYOUT_VIRTIO_MAX_DEVICES - 1) < 24,
	       "virtio IRQs past the IOAPIC's 24 pins");
_Static_assert(LAYOUT_DEVMEM_ALIGN == ARCH_DEVMEM_ALIGN && LAYOUT_PMEM_ALIGN == ARCH_PMEM_ALIGN,
	       "device memory alignment");

struct arch_vm {
	int kvm_fd, vm_fd, ncpus;
	bool smt;
	struct kvm_cpuid2 *cpuid; /* KVM's supported set, copied per vCPU */
	struct cpu_template tmpl;
	uint64_t entry;
};

/* GSI routing matching the MADT/MP table: ISA IRQ n -> PIC pin n and IOAPIC
 * pin n, except IRQ0 (the PIT) -> IOAPIC pin 2 (the interrupt source
 * override); GSIs 16-23 -> IOAPIC only. */
static int setup_gsi_routing(int vm_fd)
{
	enum { NGSI = 24 };
	struct {
		struct kvm_irq_routing hdr;
		struct kvm_irq_routing_entry e[NGSI * 2];
	} rt;
	uint32_t n = 0;

	memset(&rt, 0, sizeof(rt));
	for (uint32_t gsi = 0; gsi < NGSI; gsi++) {
		if (gsi < 16 && gsi != 2) {
			rt.e[n].gsi = gsi;
			rt.e[n].type = KVM_IRQ_ROUTING_IRQCHIP;
			rt.e[n].u.irqchip.irqchip =
			    gsi < 8 ? KVM_IRQCHIP_PIC_MASTER : KVM_IRQCHIP_PIC_SLAVE;
			rt.e[n].u.irqchip.pin = gsi % 8;
			n++;
		}
		rt.e[n].gsi = gsi;
		rt.e[n].type = KVM_IRQ_ROUTING_IRQCHIP;
		rt.e[n].u.irqchip.irqchip = KVM_IRQCHIP_IOAPIC;
		rt.e[n].u.irqchip.pin = gsi == 0 ? 2 : gsi;
		n++;
	}
	rt.hdr.nr = n;
	if (ioctl(vm_fd, KVM_SET_GSI_ROUTING, &rt) < 0)
		return err_set(errno, "KVM_SET_GSI_ROUTING: %s", strerror(errno));
	return 0;
}

static int check_caps(int kvm_fd)
{
	int r;

	if ((r = kvm_require_cap(kvm_fd, KVM_CAP_HLT, "KVM_CAP_HLT")) < 0 ||
	    (r = kvm_require_cap(kvm_fd, KVM_CAP_SET_TSS_ADDR, "KVM_CAP_SET_TSS_ADDR")) < 0 ||
	    (r = kvm_require_cap(kvm_fd, KVM_CAP_SET_IDENTITY_MAP_ADDR,
				 "KVM_CAP_SET_IDENTITY_MAP_ADDR")) < 0 ||
	    (r = kvm_require_cap(kvm_fd, KVM_CAP_EXT_CPUID, "KVM_CAP_EXT_CPUID")) < 0 ||
	    (r = kvm_require_cap(kvm_fd, KVM_CAP_PIT2, "KVM_CAP_PIT2")) < 0)
		return r;
	return 0;
}

static int setup_irqchip(int vm_fd)
{
	struct kvm_pit_config pit = {.flags = KVM_PIT_SPEAKER_DUMMY};
	uint64_t idmap = LAYOUT_KVM_IDENTITY_MAP;

	if (ioctl(vm_fd, KVM_SET_TSS_ADDR, (unsigned long)LAYOUT_KVM_TSS) < 0)
		return err_set(errno, "KVM_SET_TSS_ADDR: %s", strerror(errno));
	if (ioctl(vm_fd, KVM_SET_IDENTITY_MAP_ADDR, &idmap) < 0)
		return err_set(errno, "KVM_SET_IDENTITY_MAP_ADDR: %s", strerror(errno));
	if (ioctl(vm_fd, KVM_CREATE_IRQCHIP, 0) < 0)
		return err_set(errno, "KVM_CREATE_IRQCHIP: %s", strerror(errno));
	if (ioctl(vm_fd, KVM_CREATE_PIT2, &pit) < 0)
		return err_set(errno, "KVM_CREATE_PIT2: %s", strerror(errno));
	return setup_gsi_routing(vm_fd);
}

int arch_vm_create(const struct arch_vm_cfg *cfg, struct arch_vm **out)
{
	struct arch_vm *a = calloc(1, sizeof(*a));
	const char *st = cfg->cpu_template_name;
	int r;

	*out = NULL;
	if (!a)
		return err_set(ENOMEM, "out of memory");
	a->kvm_fd = cfg->kvm_fd;
	a->vm_fd = cfg->vm_fd;
	a->ncpus = cfg->ncpus;
	a->smt = cfg->smt;
	if ((r = check_caps(a->kvm_fd)) < 0 || (r = setup_irqchip(a->vm_fd)) < 0)
		goto fail;
	if (cfg->cpu_template_json &&
	    (r = cpu_template_parse(cfg->cpu_template_json, &a->tmpl)) < 0)
		goto fail;
	if (!cfg->cpu_template_json && st && strcmp(st, "None") != 0) {
		if ((r = arch_check_cpu_template(st)) < 0 || (r = cpu_template_static(st, &a->tmpl)) < 0)
			goto fail;
		if (!cpu_template_static_model_listed(st, cpuid_host_signature()))
			log_warn("cpu_template %s: Firecracker lists other CPU models for it (this "
				 "host's CPUID signature is %#x); applied all the same",
				 st, cpuid_host_signature());
	}
	for (int i = 0; i < a->tmpl.nkvm_caps; i++)
		if (ioctl(a->kvm_fd, KVM_CHECK_EXTENSION, a->tmpl.kvm_caps[i]) <= 0) {
			r = err_set(ENOTSUP,
				    "cpu-config: kvm_capabilities: this host's KVM lacks "
				    "capability %u",
				    a->tmpl.kvm_caps[i]);
			goto fail;
		}
	/* KVM's supported CPUID is asked for by the first vCPU a boot
	 * configures (arch_vcpu_configure), not here: a snapshot load sets the
	 * snapshot's CPUID and never needs it, and the query runs CPUID on the
	 * host for every leaf (measured: ~0.8 ms of a load's ~4 ms of CPU on a
	 * host whose CPUID exits to a hypervisor). */
	*out = a;
	return 0;
fail:
	arch_vm_destroy(a);
	return r;
}

void arch_vm_destroy(struct arch_vm *a)
{
	if (!a)
		return;
	cpu_template_free(&a->tmpl);
	free(a->cpuid);
	free(a);
}

int arch_vcpu_init(struct arch_vm *a, int vcpu_fd, int id)
{
	(void)a;
	(void)vcpu_fd;
	(void)id;
	return 0;
}

int arch_vcpus_created(struct arch_vm *a)
{
	(void)a;
	return 0;
}

uint64_t arch_cmdline_gpa(void)
{
	return LAYOUT_CMDLINE;
}

uint32_t arch_cmdline_max(const struct kernel_image *k)
{
	return k->cmdline_max < LAYOUT_CMDLINE_MAX - 1 ? k->cmdline_max
						       : (uint32_t)(LAYOUT_CMDLINE_MAX - 1);
}

int arch_boot_tables(struct arch_vm *a, struct guest_mem *gm, const struct arch_boot *b)
{
	struct acpi_info ai = {.ncpus = a->ncpus,
			       .has_serial = true,
			       .virtio = b->virtio,
			       .nvirtio = b->nvirtio,
			       .vmgenid_gpa = LAYOUT_VMGENID,
			       .ged_gsi = LAYOUT_GED_GSI};
	struct boot_setup bs = {
	    .kernel = b->kernel,
	    .cmdline_gpa = b->cmdline_gpa,
	    .cmdline_len = b->cmdline_len,
	    .initrd_gpa = b->initrd_gpa,
	    .initrd_len = b->initrd_len,
	};
	int r;

	a->entry = b->kernel->entry;
	if ((r = regs_write_boot_tables(gm)) < 0)
		return r;
	if ((r = mptable_build(gm, a->ncpus, b->virtio, b->nvirtio)) < 0)
		return err_wrap(-r, "MP table");
	if ((r = acpi_build(gm, &ai, &bs.rsdp_gpa)) < 0)
		return err_wrap(-r, "ACPI tables");
	return boot_params_write(gm, &bs);
}

int arch_vcpu_configure(struct arch_vm *a, int vcpu_fd, int id)
{
	size_t sz;
	struct kvm_cpuid2 *c;
	int r;

	if (!a->cpuid && (r = cpuid_get_supported(a->kvm_fd, &a->cpuid)) < 0)
		return r;
	sz = sizeof(struct kvm_cpuid2) + a->cpuid->nent * sizeof(struct kvm_cpuid_entry2);
	c = malloc(sz);
	if (!c)
		return err_set(ENOMEM, "out of memory");
	memcpy(c, a->cpuid, sz);
	r = cpuid_setup_vcpu(c, id, a->ncpus, a->smt,
			     a->tmpl.ncpuid || a->tmpl.nmsrs ? &a->tmpl : NULL);
	if (r == 0 && ioctl(vcpu_fd, KVM_SET_CPUID2, c) < 0)
		r = err_set(errno, "KVM_SET_CPUID2 on vCPU %d: %s", id, strerror(errno));
	free(c);
	if (r < 0)
		return r;
	if ((r = msr_setup_vcpu(a->kvm_fd, vcpu_fd, &a->tmpl)) < 0)
		return r;
	if ((r = regs_setup_fpu(vcpu_fd)) < 0)
		return r;
	if ((r = regs_setup_lapic(vcpu_fd)) < 0)
		return r;
	if (id == 0)
		return regs_setup_bsp(vcpu_fd, a->entry, LAYOUT_ZERO_PAGE);
	return 0;
}

void arch_vcpu_dump(int vcpu_fd, int id)
{
	regs_dump(vcpu_fd, id);
}

int arch_irq_line(int vm_fd, uint32_t irq, int level)
{
	struct kvm_irq_level l = {.irq = irq, .level = (uint32_t)level};

	if (ioctl(vm_fd, KVM_IRQ_LINE, &l) < 0)
		return -errno;
	return 0;
}

int arch_check_cpu_template(const char *t)
{
	enum cpu_vendor v;
	int want;

	if (!t || strcmp(t, "None") == 0)
		return 0;
	v = cpuid_host_vendor();
	want = cpu_template_static_vendor(t);
	if (strcmp(t, "V1N1") == 0)
		return err_set(EINVAL, "cpu_template: V1N1 is an aarch64 template; this host is x86_64");
	if (want < 0)
		return err_set(EINVAL, "cpu_template: unknown template %s", t);
	if ((int)v != want)
		return err_set(EINVAL,
			       "cpu_template: %s is a template for %s CPUs; this host's CPU is "
			       "%s",
			       t, want == CPU_VENDOR_AMD ? "AMD" : "Intel",
			       v == CPU_VENDOR_INTEL ? "Intel"
			       : v == CPU_VENDOR_AMD ? "AMD"
						     : "neither Intel nor AMD");
	return 0;
}

int arch_check_cpu_config(const char *json)
{
	struct cpu_template t;
	int r = cpu_template_parse(json, &t);

	if (r < 0)
		return r;
	cpu_template_free(&t);
	return 0;
}
