/* Long-mode entry: GDT, identity page tables, and the BSP's registers as the
 * Linux 64-bit boot protocol wants them (no real-mode code ever runs). */
#include "ember/x86.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>

#include "ember/error.h"
#include "ember/layout.h"

#define GDT_ENTRY(flags, base, limit)                                                   \
	((((base) & 0xff000000ULL) << (56 - 24)) | (((flags) & 0x0000f0ffULL) << 40) |  \
	 (((limit) & 0x000f0000ULL) << (48 - 16)) | (((base) & 0x00ffffffULL) << 16) | \
	 (((limit) & 0x0000ffffULL)))

#define BOOT_CS 0x10
#define BOOT_DS 0x18
#define BOOT_TSS 0x20

static const uint64_t boot_gdt[] = {
	0,                                  /* null */
	0,                                  /* null */
	GDT_ENTRY(0xa09b, 0, 0xfffff), /* 0x10: 64-bit code */
	GDT_ENTRY(0xc093, 0, 0xfffff), /* 0x18: data */
	GDT_ENTRY(0x808b, 0, 0xfffff), /* 0x20: TSS */
};

#define CR0_PE (1ULL << 0)
#define CR0_MP (1ULL << 1)
#define CR0_ET (1ULL << 4)
#define CR0_NE (1ULL << 5)
#define CR0_WP (1ULL << 16)
#define CR0_AM (1ULL << 18)
#define CR0_PG (1ULL << 31)
#define CR4_PAE (1ULL << 5)
#define EFER_LME (1ULL << 8)
#define EFER_LMA (1ULL << 10)

int regs_write_boot_tables(struct guest_mem *gm)
{
	uint64_t *pml4 = gm_slice(gm, LAYOUT_PML4, 4096);
	uint64_t *pdpt = gm_slice(gm, LAYOUT_PDPT, 4096);
	uint64_t *pd = gm_slice(gm, LAYOUT_PD, 4 * 4096);
	uint64_t idt = 0;

	if (!pml4 || !pdpt || !pd)
		return err_set(EFAULT, "boot page tables outside guest RAM");
	if (gm_write(gm, LAYOUT_GDT_ADDR, boot_gdt, sizeof(boot_gdt)) < 0 ||
	    gm_write(gm, LAYOUT_IDT_ADDR, &idt, sizeof(idt)) < 0)
		return err_set(EFAULT, "boot GDT outside guest RAM");
	memset(pml4, 0, 4096);
	memset(pdpt, 0, 4096);
	pml4[0] = LAYOUT_PDPT | 0x3; /* present, writable */
	for (int i = 0; i < 4; i++)
		pdpt[i] = (LAYOUT_PD + (uint64_t)i * 4096) | 0x3;
	/* 2048 x 2 MiB pages: identity map of the first 4 GiB. */
	for (uint64_t i = 0; i < 4 * 512; i++)
		pd[i] = (i << 21) | 0x83; /* present, writable, page size */
	return 0;
}

static void set_seg(struct kvm_segment *s, uint16_t sel, uint8_t type, uint8_t s_flag,
		    uint8_t l, uint8_t db)
{
	*s = (struct kvm_segment){.base = 0,
				  .limit = 0xffffffff,
				  .selector = sel,
				  .type = type,
				  .present = 1,
				  .dpl = 0,
				  .db = db,
				  .s = s_flag,
				  .l = l,
				  .g = 1};
}

int regs_setup_bsp(int vcpu_fd, uint64_t entry, uint64_t zero_page)
{
	struct kvm_sregs sregs;
	struct kvm_regs regs;

	if (ioctl(vcpu_fd, KVM_GET_SREGS, &sregs) < 0)
		return err_set(errno, "KVM_GET_SREGS: %s", strerror(errno));
	set_seg(&sregs.cs, BOOT_CS, 0xb, 1, 1, 0);
	set_seg(&sregs.ds, BOOT_DS, 0x3, 1, 0, 1);
	sregs.es = sregs.fs = sregs.gs = sregs.ss = sregs.ds;
	set_seg(&sregs.tr, BOOT_TSS, 0xb, 0, 0, 0);
	sregs.tr.g = 0;
	sregs.tr.limit = 0x67;
	sregs.gdt.base = LAYOUT_GDT_ADDR;
	sregs.gdt.limit = sizeof(boot_gdt) - 1;
	sregs.idt.base = LAYOUT_IDT_ADDR;
	sregs.idt.limit = 7;
	sregs.cr0 = CR0_PE | CR0_MP | CR0_ET | CR0_NE | CR0_WP | CR0_AM | CR0_PG;
	sregs.cr3 = LAYOUT_PML4;
	sregs.cr4 = CR4_PAE;
	sregs.efer = EFER_LME | EFER_LMA;
	if (ioctl(vcpu_fd, KVM_SET_SREGS, &sregs) < 0)
		return err_set(errno, "KVM_SET_SREGS: %s", strerror(errno));

	memset(&regs, 0, sizeof(regs));
	regs.rflags = 0x2;
	regs.rip = entry;
	regs.rsi = zero_page;
	regs.rsp = LAYOUT_BOOT_STACK;
	regs.rbp = LAYOUT_BOOT_STACK;
	if (ioctl(vcpu_fd, KVM_SET_REGS, &regs) < 0)
		return err_set(errno, "KVM_SET_REGS: %s", strerror(errno));
	return 0;
}

int regs_setup_fpu(int vcpu_fd)
{
	struct kvm_fpu fpu = {.fcw = 0x37f, .mxcsr = 0x1f80};

	if (ioctl(vcpu_fd, KVM_SET_FPU, &fpu) < 0)
		return err_set(errno, "KVM_SET_FPU: %s", strerror(errno));
	return 0;
}

#define APIC_LVT0 0x350
#define APIC_LVT1 0x360
#define APIC_MODE_NMI 0x4
#define APIC_MODE_EXTINT 0x7

static void lapic_set_mode(struct kvm_lapic_state *l, int reg, uint32_t mode)
{
	uint32_t v;

	memcpy(&v, &l->regs[reg], 4);
	v = (v & ~0x700U) | (mode << 8);
	memcpy(&l->regs[reg], &v, 4);
}

int regs_setup_lapic(int vcpu_fd)
{
	struct kvm_lapic_state lapic;

	if (ioctl(vcpu_fd, KVM_GET_LAPIC, &lapic) < 0)
		return err_set(errno, "KVM_GET_LAPIC: %s", strerror(errno));
	lapic_set_mode(&lapic, APIC_LVT0, APIC_MODE_EXTINT);
	lapic_set_mode(&lapic, APIC_LVT1, APIC_MODE_NMI);
	if (ioctl(vcpu_fd, KVM_SET_LAPIC, &lapic) < 0)
		return err_set(errno, "KVM_SET_LAPIC: %s", strerror(errno));
	return 0;
}

static void dump_seg(const char *name, const struct kvm_segment *s)
{
	fprintf(stderr, "  %-3s sel=%04x base=%016llx limit=%08x type=%x p=%d dpl=%d db=%d s=%d l=%d g=%d\n",
		name, s->selector, (unsigned long long)s->base, s->limit, s->type, s->present, s->dpl,
		s->db, s->s, s->l, s->g);
}

void regs_dump(int vcpu_fd, int vcpu_id)
{
	struct kvm_regs r;
	struct kvm_sregs s;

	fprintf(stderr, "vCPU %d registers:\n", vcpu_id);
	if (ioctl(vcpu_fd, KVM_GET_REGS, &r) == 0) {
		fprintf(stderr,
			"  rip=%016llx rsp=%016llx rbp=%016llx rflags=%016llx\n"
			"  rax=%016llx rbx=%016llx rcx=%016llx rdx=%016llx\n"
			"  rsi=%016llx rdi=%016llx r8 =%016llx r9 =%016llx\n"
			"  r10=%016llx r11=%016llx r12=%016llx r13=%016llx\n"
			"  r14=%016llx r15=%016llx\n",
			r.rip, r.rsp, r.rbp, r.rflags, r.rax, r.rbx, r.rcx, r.rdx, r.rsi, r.rdi,
			r.r8, r.r9, r.r10, r.r11, r.r12, r.r13, r.r14, r.r15);
	}
	if (ioctl(vcpu_fd, KVM_GET_SREGS, &s) == 0) {
		fprintf(stderr, "  cr0=%016llx cr2=%016llx cr3=%016llx cr4=%016llx efer=%016llx\n",
			s.cr0, s.cr2, s.cr3, s.cr4, s.efer);
		dump_seg("cs", &s.cs);
		dump_seg("ds", &s.ds);
		dump_seg("ss", &s.ss);
		dump_seg("tr", &s.tr);
		fprintf(stderr, "  gdt=%016llx/%04x idt=%016llx/%04x\n",
			(unsigned long long)s.gdt.base, s.gdt.limit, (unsigned long long)s.idt.base,
			s.idt.limit);
	}
}
