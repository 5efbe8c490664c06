/* Boot-time MSRs for each vCPU, then the CPU template's msr_modifiers. */
#include "ember/x86.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>

#include "ember/error.h"

#define MSR_IA32_TSC 0x10
#define MSR_IA32_SYSENTER_CS 0x174
#define MSR_IA32_SYSENTER_ESP 0x175
#define MSR_IA32_SYSENTER_EIP 0x176
#define MSR_IA32_MISC_ENABLE 0x1a0
#define MSR_MTRR_DEF_TYPE 0x2ff
#define MSR_STAR 0xc0000081
#define MSR_LSTAR 0xc0000082
#define MSR_CSTAR 0xc0000083
#define MSR_SYSCALL_MASK 0xc0000084
#define MSR_KERNEL_GS_BASE 0xc0000102

#define MISC_ENABLE_FAST_STRING 1ULL
#define MTRR_ENABLE (1ULL << 11)
#define MTRR_TYPE_WB 6ULL

#define MAX_MSRS 64

struct msr_list {
	struct kvm_msrs hdr;
	struct kvm_msr_entry e[MAX_MSRS];
};

static int set_msrs(int vcpu_fd, struct msr_list *l)
{
	int r;

	if (l->hdr.nmsrs == 0)
		return 0;
	r = ioctl(vcpu_fd, KVM_SET_MSRS, l);
	if (r < 0)
		return err_set(errno, "KVM_SET_MSRS: %s", strerror(errno));
	if ((uint32_t)r != l->hdr.nmsrs)
		return err_set(EINVAL, "KVM_SET_MSRS: MSR %#x rejected by KVM", l->e[r].index);
	return 0;
}

int msr_setup_vcpu(int kvm_fd, int vcpu_fd, const struct cpu_template *t)
{
	static const struct {
		uint32_t index;
		uint64_t value;
	} boot[] = {
		{MSR_IA32_SYSENTER_CS, 0},
		{MSR_IA32_SYSENTER_ESP, 0},
		{MSR_IA32_SYSENTER_EIP, 0},
		{MSR_STAR, 0},
		{MSR_CSTAR, 0},
		{MSR_KERNEL_GS_BASE, 0},
		{MSR_SYSCALL_MASK, 0},
		{MSR_LSTAR, 0},
		{MSR_IA32_TSC, 0},
		{MSR_IA32_MISC_ENABLE, MISC_ENABLE_FAST_STRING},
		{MSR_MTRR_DEF_TYPE, MTRR_ENABLE | MTRR_TYPE_WB},
	};
	struct msr_list l;
	int r;

	(void)kvm_fd;
	memset(&l, 0, sizeof(l));
	for (size_t i = 0; i < sizeof(boot) / sizeof(boot[0]); i++)
		l.e[l.hdr.nmsrs++] = (struct kvm_msr_entry){.index = boot[i].index,
							   .data = boot[i].value};
	if ((r = set_msrs(vcpu_fd, &l)) < 0)
		return r;
	if (!t || t->nmsrs == 0)
		return 0;
	if (t->nmsrs > MAX_MSRS)
		return err_set(E2BIG, "CPU template: more than %d MSR modifiers", MAX_MSRS);
	memset(&l, 0, sizeof(l));
	for (int i = 0; i < t->nmsrs; i++)
		l.e[i].index = t->msrs[i].addr;
	l.hdr.nmsrs = (uint32_t)t->nmsrs;
	r = ioctl(vcpu_fd, KVM_GET_MSRS, &l);
	if (r < 0 || r != t->nmsrs)
		return err_set(EINVAL, "CPU template: MSR %#x cannot be read from KVM",
			       t->msrs[r < 0 ? 0 : r].addr);
	for (int i = 0; i < t->nmsrs; i++)
		l.e[i].data = (l.e[i].data & t->msrs[i].and_mask) | t->msrs[i].or_mask;
	return set_msrs(vcpu_fd, &l);
}
