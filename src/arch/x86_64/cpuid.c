/* CPUID for each vCPU: KVM's supported set, with APIC ids and topology, the
 * hypervisor bit, and the user's CPU template on top. */
#include "ember/x86.h"

#include <cpuid.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>

#include "ember/error.h"

#define CPUID_MAX_ENTRIES 256

int cpuid_get_supported(int kvm_fd, struct kvm_cpuid2 **out)
{
	struct kvm_cpuid2 *c;

	c = calloc(1, sizeof(*c) + CPUID_MAX_ENTRIES * sizeof(struct kvm_cpuid_entry2));
	if (!c)
		return err_set(ENOMEM, "CPUID: out of memory");
	c->nent = CPUID_MAX_ENTRIES;
	if (ioctl(kvm_fd, KVM_GET_SUPPORTED_CPUID, c) < 0) {
		int e = errno;
		free(c);
		return err_set(e, "KVM_GET_SUPPORTED_CPUID: %s", strerror(e));
	}
	*out = c;
	return 0;
}

enum cpu_vendor cpuid_host_vendor(void)
{
	unsigned int a, b, c, d;

	if (!__get_cpuid(0, &a, &b, &c, &d))
		return CPU_VENDOR_OTHER;
	/* "GenuineIntel" / "AuthenticAMD" in EBX, EDX, ECX */
	if (b == 0x756e6547 && d == 0x49656e69 && c == 0x6c65746e)
		return CPU_VENDOR_INTEL;
	if (b == 0x68747541 && d == 0x69746e65 && c == 0x444d4163)
		return CPU_VENDOR_AMD;
	return CPU_VENDOR_OTHER;
}

uint32_t cpuid_host_signature(void)
{
	unsigned int a, b, c, d;

	return __get_cpuid(1, &a, &b, &c, &d) ? a : 0;
}

static int order_of(uint32_t n)
{
	int s = 0;

	while ((1U << s) < n)
		s++;
	return s;
}

static uint32_t *reg_of(struct kvm_cpuid_entry2 *e, int reg)
{
	switch (reg) {
	case 0:
		return &e->eax;
	case 1:
		return &e->ebx;
	case 2:
		return &e->ecx;
	default:
		return &e->edx;
	}
}

/* Topology: with smt, APIC id = core << 1 | thread (two threads per core,
 * vcpu_count even or 1); otherwise one thread per core. */
static void topology(struct kvm_cpuid_entry2 *e, uint32_t apic_id, uint32_t ncpus, bool smt,
		     bool amd)
{
	uint32_t threads = smt && ncpus > 1 ? 2 : 1;
	uint32_t thread_shift = threads == 2 ? 1 : 0;
	uint32_t core_shift = (uint32_t)order_of(ncpus / threads);
	uint32_t pkg_shift = thread_shift + core_shift;

	switch (e->function) {
	case 1:
		e->ebx = (e->ebx & 0x0000ffffU) | (apic_id << 24) | ((ncpus & 0xff) << 16);
		e->ecx |= 1U << 31; /* hypervisor present */
		if (ncpus > 1)
			e->edx |= 1U << 28; /* HTT: EBX[23:16] is valid */
		break;
	case 4: {
		/* cores per package - 1 in [31:26]; threads sharing the cache - 1
		 * in [25:14]: L3 by all, L1/L2 by the threads of one core */
		uint32_t level = (e->eax >> 5) & 0x7;
		uint32_t sharing = level >= 3 ? ncpus - 1 : threads - 1;
		if ((e->eax & 0x1f) == 0)
			break; /* no more caches */
		e->eax = (e->eax & 0x3fff) | (((1U << core_shift) - 1) << 26) | (sharing << 14);
		break;
	}
	case 6:
		e->ecx &= ~(1U << 3); /* no energy performance bias */
		break;
	case 0xa:
		/* no architectural PMU */
		e->eax = e->ebx = e->ecx = e->edx = 0;
		break;
	case 0xb:
	case 0x1f:
		e->edx = apic_id;
		if (e->index == 0) { /* SMT level */
			e->eax = thread_shift;
			e->ebx = threads;
			e->ecx = (1U << 8) | 0;
		} else if (e->index == 1) { /* core level */
			e->eax = pkg_shift;
			e->ebx = ncpus;
			e->ecx = (2U << 8) | 1;
		} else {
			e->eax = 0;
			e->ebx = 0;
			e->ecx = e->index;
		}
		break;
	case 0x80000001:
		/* AMD: the topology extensions (leaf 0x8000001e, filled below)
		 * are what Linux reads threads per core from; set as Firecracker
		 * does, also where the host's KVM does not list them */
		if (amd)
			e->ecx |= 1U << 22;
		break;
	case 0x80000008:
		/* AMD: number of threads - 1 and APIC id size */
		e->ecx = (e->ecx & ~0xf0ffU) | (ncpus - 1) | (pkg_shift << 12);
		break;
	case 0x8000001e:
		/* AMD: extended APIC id; core id and threads per core - 1 */
		e->eax = apic_id;
		e->ebx = (e->ebx & ~0xffffU) | ((threads - 1) << 8) | (apic_id >> thread_shift);
		e->ecx &= ~0x7ffU; /* one node */
		break;
	default:
		break;
	}
}

int cpuid_setup_vcpu(struct kvm_cpuid2 *cpuid, int vcpu_id, int ncpus, bool smt,
		     const struct cpu_template *t)
{
	bool amd = false, ext_apic = false;

	if (vcpu_id < 0 || ncpus <= 0 || vcpu_id >= ncpus || ncpus > 255)
		return err_set(EINVAL, "CPUID: bad vCPU %d of %d", vcpu_id, ncpus);
	for (uint32_t i = 0; i < cpuid->nent; i++) {
		const struct kvm_cpuid_entry2 *e = &cpuid->entries[i];

		/* "AuthenticAMD" in leaf 0's EBX, EDX, ECX */
		if (e->function == 0 && e->ebx == 0x68747541 && e->edx == 0x69746e65 &&
		    e->ecx == 0x444d4163)
			amd = true;
		ext_apic |= e->function == 0x8000001e;
	}
	amd = amd && ext_apic; /* TOPOEXT only with the leaf it announces */
	for (uint32_t i = 0; i < cpuid->nent; i++)
		topology(&cpuid->entries[i], (uint32_t)vcpu_id, (uint32_t)ncpus, smt, amd);
	if (!t)
		return 0;
	for (int m = 0; m < t->ncpuid; m++) {
		const struct cpuid_modifier *mod = &t->cpuid[m];
		bool found = false;

		for (uint32_t i = 0; i < cpuid->nent; i++) {
			struct kvm_cpuid_entry2 *e = &cpuid->entries[i];
			uint32_t *r;

			if (e->function != mod->leaf)
				continue;
			if ((e->flags & KVM_CPUID_FLAG_SIGNIFCANT_INDEX) &&
			    e->index != mod->subleaf)
				continue;
			r = reg_of(e, mod->reg);
			*r = (*r & mod->and_mask) | mod->or_mask;
			found = true;
		}
		if (!found)
			return err_set(
			    EINVAL,
			    "CPU template: CPUID leaf %#x subleaf %#x is not provided by KVM",
			    mod->leaf, mod->subleaf);
	}
	return 0;
}
