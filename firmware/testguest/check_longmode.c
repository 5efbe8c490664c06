/* The CPU state ember promised at entry: 64-bit long mode with paging,
 * CS=0x10 (64-bit code) and DS/ES/SS=0x18, interrupts off, and an identity
 * map of the first 4 GiB with 2 MiB pages. */
#include "tg.h"
#include "x86.h"

#define PTE_P 0x1ULL
#define PTE_RW 0x2ULL
#define PTE_PS 0x80ULL
#define PTE_ADDR 0x000ffffffffff000ULL

static uint64_t gdt_entry(uint16_t sel)
{
	struct {
		uint16_t limit;
		uint64_t base;
	} TG_PACKED gdtr;

	__asm__ volatile("sgdt %0" : "=m"(gdtr));
	if ((uint32_t)(sel & ~7u) + 7 > gdtr.limit)
		return 0;
	return *(const uint64_t *)(gdtr.base + (sel & ~7u));
}

static void check_long_mode(void)
{
	uint64_t efer = rdmsr(MSR_EFER), cr0 = read_cr0(), cr4 = read_cr4();

	tg_expect((efer & (EFER_LME | EFER_LMA)) == (EFER_LME | EFER_LMA), "longmode.efer",
		  "EFER=%#lx (LME, LMA)", efer);
	tg_expect((cr0 & (CR0_PE | CR0_PG)) == (CR0_PE | CR0_PG), "longmode.cr0", "CR0=%#lx (PE, PG)",
		  cr0);
	tg_expect(cr4 & CR4_PAE, "longmode.cr4", "CR4=%#lx (PAE)", cr4);

	uint64_t cs = gdt_entry(tg_entry.cs), ds = gdt_entry(tg_entry.ds);
	bool cs_ok = tg_entry.cs == 0x10 && (cs >> 47 & 1) /* P */ && (cs >> 53 & 1) /* L */ &&
		     !(cs >> 54 & 1) /* D */ && (cs >> 43 & 1) /* code */;
	bool ds_ok = tg_entry.ds == 0x18 && tg_entry.es == 0x18 && tg_entry.ss == 0x18 &&
		     (ds >> 47 & 1) && !(ds >> 43 & 1) /* data */ && (ds >> 41 & 1) /* writable */;
	tg_expect(cs_ok && ds_ok, "longmode.segments",
		  "CS=%#x DS=%#x ES=%#x SS=%#x desc(CS)=%#lx desc(DS)=%#lx", tg_entry.cs, tg_entry.ds,
		  tg_entry.es, tg_entry.ss, cs, ds);
	tg_expect(!(tg_entry.rflags & RFLAGS_IF), "longmode.interrupts", "RFLAGS at entry=%#lx (IF=0)",
		  tg_entry.rflags);
}
TG_CHECK(100, check_long_mode);

/* Walks PML4[0] -> PDPT[0..3] -> 4 x 512 PDEs: each must be a present,
 * writable 2 MiB page mapping its own address. */
static void check_identity_map(void)
{
	uint64_t cr3 = read_cr3();
	const uint64_t *pml4 = (const uint64_t *)(cr3 & PTE_ADDR);
	uint64_t bad = 0, first_bad = 0;

	if (!(pml4[0] & PTE_P)) {
		tg_fail("longmode.identity_map", "CR3=%#lx PML4[0]=%#lx not present", cr3, pml4[0]);
		return;
	}
	const uint64_t *pdpt = (const uint64_t *)(pml4[0] & PTE_ADDR);
	for (uint64_t g = 0; g < 4; g++) {
		if ((pdpt[g] & (PTE_P | PTE_PS)) != PTE_P) {
			tg_fail("longmode.identity_map", "PDPT[%lu]=%#lx not a present PD", g, pdpt[g]);
			return;
		}
		const uint64_t *pd = (const uint64_t *)(pdpt[g] & PTE_ADDR);
		for (uint64_t i = 0; i < 512; i++) {
			uint64_t want = (g << 30) | (i << 21);
			uint64_t e = pd[i];
			if ((e & (PTE_P | PTE_RW | PTE_PS)) != (PTE_P | PTE_RW | PTE_PS) ||
			    (e & PTE_ADDR) != want) {
				if (!bad++)
					first_bad = want;
			}
		}
	}
	tg_expect(!bad, "longmode.identity_map",
		  "CR3=%#lx 2048 x 2 MiB pages, %lu wrong (first at %#lx)", cr3, bad, first_bad);
}
TG_CHECK(101, check_identity_map);
