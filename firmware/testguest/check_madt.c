/* MADT: the local APIC address, one enabled Processor Local APIC entry per
 * vCPU (tg.cpus) with unique APIC ids, and an I/O APIC. */
#include "tg.h"

#define LAPIC_ADDR 0xfee00000u
#define IOAPIC_ADDR 0xfec00000u

static void check_madt(void)
{
	const struct acpi_header *m = acpi_find("APIC", 0);
	if (!acpi_table_valid(m) || m->length < 44)
		return; /* acpi.madt already failed */
	uint32_t lapic;
	memcpy(&lapic, (const uint8_t *)m + 36, 4);
	tg_expect(lapic == LAPIC_ADDR, "madt.lapic_addr", "local APIC address=%#x", lapic);

	/* Walk the entries: every one well formed, count types. */
	const uint8_t *p = (const uint8_t *)m + 44, *end = (const uint8_t *)m + m->length;
	int nlapic = 0, nioapic = 0, nother = 0;
	uint32_t ioapic_addr = 0;
	bool malformed = false;
	while (p < end) {
		if (p + 2 > end || p[1] < 2 || p + p[1] > end) {
			malformed = true;
			break;
		}
		if (p[0] == 0)
			nlapic++;
		else if (p[0] == 1 && p[1] >= 12) {
			nioapic++;
			memcpy(&ioapic_addr, p + 4, 4);
		} else
			nother++;
		p += p[1];
	}
	tg_expect(!malformed, "madt.entries", "%d local APIC, %d I/O APIC, %d other entries%s",
		  nlapic, nioapic, nother, malformed ? ", malformed entry" : "");
	tg_expect(nioapic == 1 && ioapic_addr == IOAPIC_ADDR, "madt.ioapic",
		  "%d I/O APIC at %#x", nioapic, ioapic_addr);

	static uint32_t ids[TG_MAX_CPUS];
	int n = acpi_madt_cpus(ids, TG_MAX_CPUS);
	bool unique = true;
	for (int i = 0; i < n && i < TG_MAX_CPUS; i++)
		for (int j = 0; j < i; j++)
			if (ids[i] == ids[j])
				unique = false;
	if (!tg.has_cpus) {
		tg_skip("madt.cpus", "%d enabled CPUs, no tg.cpus= to compare", n);
		return;
	}
	tg_expect((uint64_t)n == tg.cpus && unique, "madt.cpus",
		  "%d enabled CPU entries (tg.cpus=%lu), APIC ids %s", n, tg.cpus,
		  unique ? "unique" : "DUPLICATED");
}
TG_CHECK(420, check_madt);
