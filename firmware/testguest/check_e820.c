/* The e820 map: sorted, non-overlapping, RAM below the EBDA, nothing usable
 * in 640 KiB-1 MiB or the MMIO gap, RAM from 1 MiB adding up to tg.mem MiB
 * (RAM above 4 GiB when it does not fit below the gap), and every RAM
 * region really backed: its first and last bytes hold what we write. */
#include <asm/e820.h>

#include "tg.h"

#define MMIO_GAP_START 0xc0000000ULL
#define MMIO_GAP_END 0x100000000ULL
#define LOW_RESERVED 0x9fc00ULL /* EBDA start: end of usable low RAM */

extern char __image_start[], __image_end[];

static const char *type_name(uint32_t t)
{
	switch (t) {
	case E820_RAM:
		return "ram";
	case E820_RESERVED:
		return "reserved";
	case E820_ACPI:
		return "acpi";
	case E820_NVS:
		return "nvs";
	default:
		return "other";
	}
}

static void check_e820_layout(void)
{
	const struct boot_params *bp = tg.bp;
	if (!bp || !bp->e820_entries || bp->e820_entries > E820_MAX_ENTRIES_ZEROPAGE)
		return;
	const struct boot_e820_entry *e = bp->e820_table;
	int n = bp->e820_entries;
	bool sorted = true, empty = false, in_gap = false, low_bad = false;
	uint64_t low_ram_end = 0, ram_high = 0, ram_total = 0, top = 0;
	bool ram_at_4g = false;

	for (int i = 0; i < n; i++) {
		uint64_t a = e[i].addr, sz = e[i].size, end = a + sz;
		tg_printf("  e820 %#014lx-%#014lx %s\n", a, end, type_name(e[i].type));
		if (!sz || end < a)
			empty = true;
		if (i && a < e[i - 1].addr + e[i - 1].size)
			sorted = false;
		if (e[i].type != E820_RAM)
			continue;
		ram_total += sz;
		if (end > top)
			top = end;
		if (a < 1 * MiB) {
			if (a != 0 || end > LOW_RESERVED)
				low_bad = true;
			low_ram_end = end;
		} else {
			ram_high += sz;
		}
		if (a < MMIO_GAP_END && end > MMIO_GAP_START)
			in_gap = true;
		if (a == 4 * GiB)
			ram_at_4g = true;
	}
	tg_expect(sorted && !empty, "e820.sorted", "%d entries, sorted, non-overlapping, non-empty", n);
	tg_expect(!low_bad && low_ram_end >= 0x9f000, "e820.low",
		  "RAM 0-%#lx (expected up to the EBDA at %#llx)", low_ram_end, LOW_RESERVED);
	tg_expect(!in_gap, "e820.mmio_gap", "no RAM in %#llx-%#llx", MMIO_GAP_START, MMIO_GAP_END);

	if (!tg.has_mem) {
		tg_skip("e820.ram_total", "no tg.mem= on the command line");
		return;
	}
	uint64_t mem = tg.mem_mib * MiB;
	uint64_t below = mem < MMIO_GAP_START ? mem : MMIO_GAP_START;
	uint64_t want_top = mem <= MMIO_GAP_START ? mem : 4 * GiB + (mem - MMIO_GAP_START);
	tg_expect(ram_high + 1 * MiB == mem, "e820.ram_total",
		  "RAM from 1 MiB=%lu KiB + 1 MiB = %lu MiB (tg.mem=%lu), all RAM=%lu KiB",
		  ram_high / KiB, (ram_high + 1 * MiB) / MiB, tg.mem_mib, ram_total / KiB);
	tg_expect(top == want_top && (mem <= MMIO_GAP_START) == !ram_at_4g, "e820.split",
		  "RAM top=%#lx expected %#lx (below gap %#lx)%s", top, want_top, below,
		  ram_at_4g ? ", region at 4 GiB" : "");
}
TG_CHECK(300, check_e820_layout);

/* Writes a distinct pattern to the first and last word of every RAM region
 * above 1 MiB, then reads them all back and restores them: catches RAM that
 * ember described but did not back, or backed so that two addresses alias. */
#define MAX_PROBES (2 * E820_MAX_ENTRIES_ZEROPAGE)

static void check_e820_backed(void)
{
	const struct boot_params *bp = tg.bp;
	if (!bp || !bp->e820_entries || bp->e820_entries > E820_MAX_ENTRIES_ZEROPAGE)
		return;
	static volatile uint64_t *ptr[MAX_PROBES];
	static uint64_t saved[MAX_PROBES];
	int n = 0, bad = 0, unmapped = 0;
	uint64_t first_bad = 0;
	uint64_t img_lo = (uint64_t)__image_start, img_hi = (uint64_t)__image_end;

	for (int i = 0; i < bp->e820_entries; i++) {
		const struct boot_e820_entry *e = &bp->e820_table[i];
		if (e->type != E820_RAM || e->size < 16 || e->addr < 1 * MiB)
			continue; /* low RAM holds ember's tables: leave it alone */
		uint64_t addrs[2] = { (e->addr + 7) & ~7ULL, (e->addr + e->size - 8) & ~7ULL };
		for (int k = 0; k < 2; k++) {
			uint64_t a = addrs[k];
			if (a + 8 > img_lo && a < img_hi)
				continue; /* our own image */
			volatile uint64_t *p = tg_map_identity(a, 8);
			if (!p) {
				unmapped++;
				continue;
			}
			ptr[n] = p;
			saved[n] = *p;
			n++;
		}
	}
	for (int i = 0; i < n; i++)
		*ptr[i] = 0x5a5aa5a5c3c33c3cULL ^ (uint64_t)ptr[i];
	for (int i = 0; i < n; i++)
		if (*ptr[i] != (0x5a5aa5a5c3c33c3cULL ^ (uint64_t)ptr[i]) && !bad++)
			first_bad = (uint64_t)ptr[i];
	for (int i = 0; i < n; i++)
		*ptr[i] = saved[i];
	tg_expect(n > 0 && !bad && !unmapped, "e820.backed",
		  "%d words at RAM region edges hold distinct patterns, %d wrong (first %#lx), "
		  "%d not mappable",
		  n, bad, first_bad, unmapped);
}
TG_CHECK(301, check_e820_backed);
