/* Identity mappings beyond ember's first 4 GiB (RAM above the MMIO gap),
 * added on demand as 2 MiB pages under ember's PML4[0] -> PDPT. */
#include "tg.h"
#include "x86.h"

#define PTE_P 0x1ULL
#define PTE_RW 0x2ULL
#define PTE_PS 0x80ULL
#define PTE_ADDR 0x000ffffffffff000ULL
#define NPD 8 /* extra GiB we can map */

/* Not cleared at entry: every entry is written before use. */
static uint64_t pd_pool[NPD][512] __attribute__((aligned(4096), section(".noinit")));
static int pd_used;

void *tg_map_identity(uint64_t pa, uint64_t len)
{
	if (!len || pa + len < pa)
		return NULL;
	uint64_t last = pa + len - 1;
	if (last < 4 * GiB)
		return (void *)pa;
	if ((last >> 30) >= 512)
		return NULL;

	uint64_t *pml4 = (uint64_t *)(read_cr3() & PTE_ADDR);
	if (!(pml4[0] & PTE_P))
		return NULL;
	uint64_t *pdpt = (uint64_t *)(pml4[0] & PTE_ADDR);
	bool changed = false;
	for (uint64_t g = pa >> 30; g <= last >> 30; g++) {
		if (pdpt[g] & PTE_P)
			continue;
		if (pd_used == NPD)
			return NULL;
		uint64_t *pd = pd_pool[pd_used++];
		for (uint64_t i = 0; i < 512; i++)
			pd[i] = (g << 30) | (i << 21) | PTE_P | PTE_RW | PTE_PS;
		pdpt[g] = (uint64_t)pd | PTE_P | PTE_RW;
		changed = true;
	}
	if (changed)
		write_cr3(read_cr3());
	return (void *)pa;
}
