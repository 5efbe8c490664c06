/* The aarch64 machine behind arch.h: RAM from 2 GiB, the in-kernel GICv3
 * (KVM_CREATE_DEVICE: distributor + one redistributor per vCPU), vCPUs with
 * PSCI 0.2 (KVM handles CPU_ON; SYSTEM_OFF/RESET reach ember as a system
 * event), the device tree as the boot table, x0 = its address. */
#include <elf.h>
#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <linux/kvm.h>

#include "ember/aarch64.h"
#include "ember/arch.h"
#include "ember/error.h"
#include "ember/kvm.h"
#include "ember/log.h"
#include "ember/oneshot_abi.h"
#include "ember/util.h"

const struct arch_layout arch_layout = {
    .name = "aarch64",
    .elf_machine = EM_AARCH64,
    .ram_start = A64_RAM_START,
    .gap_start = 0, /* all RAM at gap_end (memory.h) */
    .gap_end = A64_RAM_START,
    .ram_max = A64_RAM_MAX,
    .virtio_base = A64_VIRTIO_BASE,
    .virtio_size = A64_VIRTIO_SIZE,
    .virtio_irq_base = A64_VIRTIO_SPI_BASE,
    .virtio_max = A64_VIRTIO_MAX,
    .serial = {ARCH_BUS_MMIO, A64_SERIAL_ADDR, A64_DEV_SIZE, A64_SERIAL_SPI},
    .pl031 = {ARCH_BUS_MMIO, A64_RTC_ADDR, A64_DEV_SIZE, A64_RTC_SPI},
    .oneshot_exit = {ARCH_BUS_MMIO, A64_ONESHOT_EXIT_ADDR, ONESHOT_EXIT_SIZE, 0},
    .virtio_cmdline = false,
    .default_cmdline = "console=ttyS0 reboot=k panic=1",
};

_Static_assert(A64_VIRTIO_MAX <= ARCH_VIRTIO_MAX_DEVICES && A64_VIRTIO_MAX >= ARCH_VIRTIO_MIN_DEVICES,
	       "virtio slots");
_Static_assert(A64_VIRTIO_SPI_BASE + A64_VIRTIO_MAX + 32 <= A64_NR_IRQS, "vGIC lines");
_Static_assert(A64_VIRTIO_BASE + A64_VIRTIO_MAX * A64_VIRTIO_SIZE <= A64_ONESHOT_EXIT_ADDR &&
		   A64_ONESHOT_EXIT_ADDR % 0x10000 == 0 && ONESHOT_EXIT_SIZE <= 0x10000,
	       "one-shot exit register");

#define CORE_REG(x)                                                                                \
	(KVM_REG_ARM64 | KVM_REG_SIZE_U64 | KVM_REG_ARM_CORE |                                     \
	 (offsetof(struct kvm_regs, x) / sizeof(uint32_t)))
#define MPIDR_EL1 ARM64_SYS_REG(3, 0, 0, 0, 5)
/* EL1h, D/A/I/F masked: the state booting.rst asks for */
#define PSTATE_BOOT (PSR_MODE_EL1h | PSR_D_BIT | PSR_A_BIT | PSR_I_BIT | PSR_F_BIT)

struct arch_vm {
	int kvm_fd, vm_fd, ncpus;
	int gic_fd;
	struct kvm_vcpu_init init; /* the preferred target, PSCI 0.2 */
	uint64_t mpidr[A64_MAX_VCPUS];
	uint64_t entry, fdt_gpa;
};

static int gic_attr(int fd, uint32_t group, uint64_t attr, const void *val, const char *what)
{
	struct kvm_device_attr a = {.group = group, .attr = attr, .addr = (uint64_t)(uintptr_t)val};

	if (ioctl(fd, KVM_SET_DEVICE_ATTR, &a) < 0)
		return err_set(errno, "vGICv3: %s: %s", what, strerror(errno));
	return 0;
}

static int gic_create(struct arch_vm *a)
{
	struct kvm_create_device cd = {.type = KVM_DEV_TYPE_ARM_VGIC_V3};
	uint64_t dist = A64_GICD_BASE, redist = A64_GICR_BASE(a->ncpus);
	uint32_t nr = A64_NR_IRQS;
	int r;

	if (ioctl(a->vm_fd, KVM_CREATE_DEVICE, &cd) < 0)
		return err_set(errno,
			       "KVM_CREATE_DEVICE (GICv3): %s (ember on aarch64 needs a host "
			       "with a GICv3)",
			       strerror(errno));
	a->gic_fd = (int)cd.fd;
	if ((r = gic_attr(a->gic_fd, KVM_DEV_ARM_VGIC_GRP_ADDR, KVM_VGIC_V3_ADDR_TYPE_DIST, &dist,
			  "distributor address")) < 0 ||
	    (r = gic_attr(a->gic_fd, KVM_DEV_ARM_VGIC_GRP_ADDR, KVM_VGIC_V3_ADDR_TYPE_REDIST,
			  &redist, "redistributor address")) < 0 ||
	    (r = gic_attr(a->gic_fd, KVM_DEV_ARM_VGIC_GRP_NR_IRQS, 0, &nr, "interrupt lines")) < 0)
		return r;
	return 0;
}

int arch_vm_create(const struct arch_vm_cfg *cfg, struct arch_vm **out)
{
	struct arch_vm *a;
	int r;

	*out = NULL;
	if (cfg->ncpus < 1 || cfg->ncpus > A64_MAX_VCPUS)
		return err_set(EINVAL, "ember on aarch64 runs 1-%d vCPUs, not %d", A64_MAX_VCPUS,
			       cfg->ncpus);
	if (cfg->cpu_template_json)
		return arch_check_cpu_config(cfg->cpu_template_json);
	if ((r = kvm_require_cap(cfg->kvm_fd, KVM_CAP_ARM_PSCI_0_2, "KVM_CAP_ARM_PSCI_0_2")) < 0 ||
	    (r = kvm_require_cap(cfg->kvm_fd, KVM_CAP_ONE_REG, "KVM_CAP_ONE_REG")) < 0 ||
	    (r = kvm_require_cap(cfg->kvm_fd, KVM_CAP_DEVICE_CTRL, "KVM_CAP_DEVICE_CTRL")) < 0)
		return r;
	a = calloc(1, sizeof(*a));
	if (!a)
		return err_set(ENOMEM, "out of memory");
	a->kvm_fd = cfg->kvm_fd;
	a->vm_fd = cfg->vm_fd;
	a->ncpus = cfg->ncpus;
	a->gic_fd = -1;
	for (int i = 0; i < a->ncpus; i++)
		a->mpidr[i] = a64_mpidr_of(i);
	if (ioctl(a->vm_fd, KVM_ARM_PREFERRED_TARGET, &a->init) < 0) {
		r = err_set(errno, "KVM_ARM_PREFERRED_TARGET: %s", strerror(errno));
		goto fail;
	}
	a->init.features[0] |= 1u << KVM_ARM_VCPU_PSCI_0_2;
	if ((r = gic_create(a)) < 0)
		goto fail;
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
	if (a->gic_fd >= 0)
		close(a->gic_fd);
	free(a);
}

static int get_reg(int fd, uint64_t id, uint64_t *v)
{
	struct kvm_one_reg reg = {.id = id, .addr = (uint64_t)(uintptr_t)v};

	return ioctl(fd, KVM_GET_ONE_REG, &reg) < 0 ? -errno : 0;
}

static int set_reg(int fd, uint64_t id, uint64_t v, const char *name, int vcpu)
{
	struct kvm_one_reg reg = {.id = id, .addr = (uint64_t)(uintptr_t)&v};

	if (ioctl(fd, KVM_SET_ONE_REG, &reg) < 0)
		return err_set(errno, "vCPU %d: KVM_SET_ONE_REG %s: %s", vcpu, name,
			       strerror(errno));
	return 0;
}

int arch_vcpu_init(struct arch_vm *a, int vcpu_fd, int id)
{
	struct kvm_vcpu_init init = a->init;
	uint64_t mpidr;

	/* secondaries wait powered off until the guest's PSCI CPU_ON */
	if (id > 0)
		init.features[0] |= 1u << KVM_ARM_VCPU_POWER_OFF;
	if (ioctl(vcpu_fd, KVM_ARM_VCPU_INIT, &init) < 0)
		return err_set(errno, "vCPU %d: KVM_ARM_VCPU_INIT: %s", id, strerror(errno));
	/* the device tree (built before the vCPUs exist) names KVM's MPIDRs */
	if (get_reg(vcpu_fd, MPIDR_EL1, &mpidr) == 0 &&
	    (mpidr & 0xff00ffffffULL) != (a->mpidr[id] & 0xff00ffffffULL))
		return err_set(EINVAL, "vCPU %d: MPIDR %#llx, not the %#llx the device tree says", id,
			       (unsigned long long)mpidr, (unsigned long long)a->mpidr[id]);
	return 0;
}

int arch_vcpus_created(struct arch_vm *a)
{
	return gic_attr(a->gic_fd, KVM_DEV_ARM_VGIC_GRP_CTRL, KVM_DEV_ARM_VGIC_CTRL_INIT, NULL,
			"init");
}

uint64_t arch_cmdline_gpa(void)
{
	return 0; /* /chosen/bootargs */
}

uint32_t arch_cmdline_max(const struct kernel_image *k)
{
	return k->cmdline_max;
}

int arch_boot_tables(struct arch_vm *a, struct guest_mem *gm, const struct arch_boot *b)
{
	struct a64_fdt_info fi = {
	    .ncpus = a->ncpus,
	    .mpidr = a->mpidr,
	    .ram_start = gm->regions[0].gpa,
	    .ram_size = gm->total,
	    .cmdline = b->cmdline,
	    .initrd_gpa = b->initrd_gpa,
	    .initrd_len = b->initrd_len,
	    .virtio = b->virtio,
	    .nvirtio = b->nvirtio,
	};
	uint64_t gpa = a64_fdt_gpa(gm);
	size_t cap = (size_t)MIN(A64_FDT_MAX, gm->regions[0].gpa + gm->total - gpa);
	void *buf = calloc(1, cap);
	int r;

	if (!buf)
		return err_set(ENOMEM, "out of memory");
	r = a64_fdt_build(buf, cap, &fi);
	if (r == 0 && gm_write(gm, gpa, buf, cap) < 0)
		r = err_set(EFAULT, "device tree at %#llx outside guest RAM",
			    (unsigned long long)gpa);
	free(buf);
	a->entry = b->kernel->entry;
	a->fdt_gpa = gpa;
	return r;
}

int arch_vcpu_configure(struct arch_vm *a, int vcpu_fd, int id)
{
	int r;

	if (id > 0)
		return 0; /* PSCI CPU_ON gives it its entry */
	if ((r = set_reg(vcpu_fd, CORE_REG(regs.pstate), PSTATE_BOOT, "PSTATE", id)) < 0 ||
	    (r = set_reg(vcpu_fd, CORE_REG(regs.pc), a->entry, "PC", id)) < 0 ||
	    (r = set_reg(vcpu_fd, CORE_REG(regs.regs[0]), a->fdt_gpa, "x0", id)) < 0)
		return r;
	for (int i = 1; i < 4; i++)
		if ((r = set_reg(vcpu_fd, CORE_REG(regs.regs[i]), 0, "x1-x3", id)) < 0)
			return r;
	return 0;
}

void arch_vcpu_dump(int vcpu_fd, int id)
{
	uint64_t pc = 0, pstate = 0, sp = 0, lr = 0, x0 = 0;

	get_reg(vcpu_fd, CORE_REG(regs.pc), &pc);
	get_reg(vcpu_fd, CORE_REG(regs.pstate), &pstate);
	get_reg(vcpu_fd, CORE_REG(sp_el1), &sp);
	get_reg(vcpu_fd, CORE_REG(regs.regs[30]), &lr);
	get_reg(vcpu_fd, CORE_REG(regs.regs[0]), &x0);
	log_error("vCPU %d: pc=%#llx pstate=%#llx sp_el1=%#llx lr=%#llx x0=%#llx", id,
		  (unsigned long long)pc, (unsigned long long)pstate, (unsigned long long)sp,
		  (unsigned long long)lr, (unsigned long long)x0);
}

int arch_irq_line(int vm_fd, uint32_t spi, int level)
{
	struct kvm_irq_level l = {.irq =
				      (KVM_ARM_IRQ_TYPE_SPI << KVM_ARM_IRQ_TYPE_SHIFT) | (spi + 32),
				  .level = (uint32_t)level};

	if (ioctl(vm_fd, KVM_IRQ_LINE, &l) < 0)
		return -errno;
	return 0;
}

int arch_check_cpu_template(const char *t)
{
	if (!t || strcmp(t, "None") == 0)
		return 0;
	return err_set(EINVAL,
		       "cpu_template: static CPU template %s is not implemented by ember on "
		       "aarch64",
		       t);
}

int arch_check_cpu_config(const char *json)
{
	(void)json;
	return err_set(ENOTSUP, "cpu-config: custom CPU templates are not implemented on aarch64 "
				"(ember has no register modifiers there yet)");
}
