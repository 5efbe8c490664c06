/* Firecracker's static CPU templates (machine-config "cpu_template"): C3,
 * T2, T2S, T2CL for Intel hosts and T2A for AMD hosts, built as the same
 * struct cpu_template a custom template (PUT /cpu-config) gives, so
 * cpuid_setup_vcpu and msr_setup_vcpu apply both the same way.
 *
 * Each row forces the bits of `mask` in one CPUID register to `value` and
 * keeps the others from KVM's supported CPUID. The masks are the facts
 * Firecracker documents for these templates (docs/cpu_templates/
 * cpu-templates.md; its template definitions list, per leaf and register,
 * which feature bits are cleared and which identity fields are fixed):
 * family/model/stepping of leaf 1 EAX are fixed (Haswell-like 0x306f2, or
 * Ivy Bridge-like 0x306e4 for C3) and the newer instruction set extensions
 * (AVX-512, SHA, PKU, VAES, ...) and other feature flags are hidden. */
#include "ember/x86.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "ember/error.h"

enum { EAX, EBX, ECX, EDX };
#define SIG KVM_CPUID_FLAG_SIGNIFCANT_INDEX
#define N(a) (int)(sizeof(a) / sizeof((a)[0]))

struct cpuid_row {
	uint32_t leaf, subleaf, flags;
	int reg;
	uint32_t mask, value;
};
struct msr_row {
	uint32_t addr;
	uint64_t mask, value;
};

#define MSR_IA32_ARCH_CAPABILITIES 0x10a

/* Shared by T2, T2S, T2CL and T2A; their extended leaves follow. */
static const struct cpuid_row t2_base[] = {
    {0x1, 0, 0, EAX, 0x0fff3fff, 0x000306f2}, {0x1, 0, 0, ECX, 0x0004cdfc, 0},
    {0x1, 0, 0, EDX, 0xe8641080, 0x00001080}, {0x7, 0, SIG, EBX, 0xffefda14, 0x00000200},
    {0x7, 0, SIG, ECX, 0x40415f5e, 0},	      {0x7, 0, SIG, EDX, 0x0000011c, 0},
    {0xd, 0, SIG, EAX, 0x000002f8, 0},	      {0xd, 1, SIG, EAX, 0x0000000e, 0},
};

static const struct cpuid_row t2_ext[] = {
    {0x80000001, 0, 0, ECX, 0x20000100, 0},
    {0x80000001, 0, 0, EDX, 0x04000000, 0},
    {0x80000008, 0, 0, EBX, 0x00000200, 0},
};

static const struct cpuid_row t2cl_ext[] = {
    {0x80000001, 0, 0, ECX, 0x200001c0, 0},
    {0x80000001, 0, 0, EDX, 0x07c00000, 0},
    {0x80000008, 0, 0, EBX, 0x00000200, 0},
};

static const struct cpuid_row t2a_ext[] = {
    {0x80000001, 0, 0, ECX, 0x200001c4, 0},
    {0x80000001, 0, 0, EDX, 0x06400000, 0},
    {0x80000008, 0, 0, EBX, 0x001c0205, 0x001c0004},
};

static const struct cpuid_row c3_cpuid[] = {
    {0x1, 0, 0, EAX, 0x0fff3fff, 0x000306e4}, {0x1, 0, 0, ECX, 0x0040dd3c, 0},
    {0x1, 0, 0, EDX, 0xa8641080, 0x00001080}, {0x7, 0, SIG, EBX, 0xffafdd3c, 0},
    {0x7, 0, SIG, ECX, 0x4041481e, 0},	      {0x7, 0, SIG, EDX, 0x0000000c, 0},
    {0xd, 0, SIG, EAX, 0x000002f8, 0},	      {0xd, 1, SIG, EAX, 0x0000000e, 0},
    {0x80000001, 0, 0, ECX, 0x00000120, 0},   {0x80000001, 0, 0, EDX, 0x04000000, 0},
};

/* T2S: IA32_ARCH_CAPABILITIES is a fixed value (RDCL_NO, IBRS_ALL,
 * SKIP_L1DFL_VMENTRY, MDS_NO, TAA_NO, FB_CLEAR, ...: the guest sees the same
 * on Skylake and Cascade Lake). */
static const struct msr_row t2s_msrs[] = {
    {MSR_IA32_ARCH_CAPABILITIES, ~0ULL, 0x0c0a0c4cULL},
};
/* T2CL: IA32_ARCH_CAPABILITIES keeps only the host's bits that the mask
 * leaves out (the rest reads 0). */
static const struct msr_row t2cl_msrs[] = {
    {MSR_IA32_ARCH_CAPABILITIES, 0xffffffffe2f51e00ULL, 0},
};

static const struct static_template {
	const char *name;
	enum cpu_vendor vendor;
	const struct cpuid_row *base, *ext; /* the rows: base, then ext */
	int nbase, next;
	const struct msr_row *msrs;
	int nmsrs;
	uint32_t models[3]; /* leaf 1 EAX & 0x0fff0fff Firecracker lists (0 ends) */
} templates[] = {
    /* Skylake 0x50654, Cascade Lake 0x50657, Ice Lake 0x606a6, Milan 0xa00f11 */
    {"C3", CPU_VENDOR_INTEL, c3_cpuid, NULL, N(c3_cpuid), 0, NULL, 0, {0x50654, 0x50657, 0x606a6}},
    {"T2",
     CPU_VENDOR_INTEL,
     t2_base,
     t2_ext,
     N(t2_base),
     N(t2_ext),
     NULL,
     0,
     {0x50654, 0x50657, 0x606a6}},
    {"T2S",
     CPU_VENDOR_INTEL,
     t2_base,
     t2_ext,
     N(t2_base),
     N(t2_ext),
     t2s_msrs,
     N(t2s_msrs),
     {0x50654, 0x50657}},
    {"T2CL",
     CPU_VENDOR_INTEL,
     t2_base,
     t2cl_ext,
     N(t2_base),
     N(t2cl_ext),
     t2cl_msrs,
     N(t2cl_msrs),
     {0x50657, 0x606a6}},
    {"T2A", CPU_VENDOR_AMD, t2_base, t2a_ext, N(t2_base), N(t2a_ext), NULL, 0, {0xa00f11}},
};

static const struct static_template *find(const char *name)
{
	for (int i = 0; name && i < N(templates); i++)
		if (strcmp(templates[i].name, name) == 0)
			return &templates[i];
	return NULL;
}

int cpu_template_static_vendor(const char *name)
{
	const struct static_template *s = find(name);

	return s ? (int)s->vendor : -EINVAL;
}

bool cpu_template_static_model_listed(const char *name, uint32_t leaf1_eax)
{
	const struct static_template *s = find(name);

	for (int i = 0; s && i < 3 && s->models[i]; i++)
		if ((leaf1_eax & 0x0fff0fffU) == s->models[i])
			return true;
	return false;
}

int cpu_template_static(const char *name, struct cpu_template *out)
{
	const struct static_template *s = find(name);

	memset(out, 0, sizeof(*out));
	if (!s)
		return err_set(EINVAL, "cpu_template: %s is not a static x86_64 CPU template",
			       name ? name : "(none)");
	int n = s->nbase + s->next;

	out->cpuid = calloc((size_t)n, sizeof(*out->cpuid));
	if (s->nmsrs)
		out->msrs = calloc((size_t)s->nmsrs, sizeof(*out->msrs));
	if (!out->cpuid || (s->nmsrs && !out->msrs)) {
		cpu_template_free(out);
		return err_set(ENOMEM, "cpu_template: out of memory");
	}
	for (int i = 0; i < n; i++) {
		const struct cpuid_row *r = i < s->nbase ? &s->base[i] : &s->ext[i - s->nbase];

		out->cpuid[i] = (struct cpuid_modifier){.leaf = r->leaf,
							.subleaf = r->subleaf,
							.flags = r->flags,
							.reg = r->reg,
							.and_mask = ~r->mask,
							.or_mask = r->value & r->mask};
	}
	out->ncpuid = n;
	for (int i = 0; i < s->nmsrs; i++)
		out->msrs[i] = (struct msr_modifier){.addr = s->msrs[i].addr,
						     .and_mask = ~s->msrs[i].mask,
						     .or_mask = s->msrs[i].value & s->msrs[i].mask};
	out->nmsrs = s->nmsrs;
	return 0;
}
