/* Intel MP 1.4 table: the "_MP_" floating pointer (searched where an OS
 * looks: the EBDA's first KiB at 0x9fc00, then 0xf0000-0xfffff), its
 * checksum, the "PCMP" configuration table's checksums, one enabled
 * processor entry per vCPU with exactly one BSP, APIC ids matching the MADT. */
#include "tg.h"

struct mpf {
	char signature[4];
	uint32_t physptr;
	uint8_t length; /* 16-byte units */
	uint8_t spec_rev;
	uint8_t checksum;
	uint8_t feature[5];
} TG_PACKED;

struct mpc {
	char signature[4];
	uint16_t length;
	uint8_t spec_rev;
	uint8_t checksum;
	char oem[8];
	char product[12];
	uint32_t oem_ptr;
	uint16_t oem_size;
	uint16_t count;
	uint32_t lapic;
	uint16_t ext_length;
	uint8_t ext_checksum;
	uint8_t reserved;
} TG_PACKED;

static const struct mpf *find_in(uint64_t start, uint64_t end)
{
	for (uint64_t a = start; a + 16 <= end; a += 16) {
		const struct mpf *f = (const struct mpf *)a;
		if (!memcmp(f->signature, "_MP_", 4) && f->length == 1 && tg_sum8(f, 16) == 0)
			return f;
	}
	return NULL;
}

static void check_mptable(void)
{
	const struct mpf *f = find_in(0x9fc00, 0xa0000);
	if (!f)
		f = find_in(0xf0000, 0x100000);
	if (!tg_expect(f != NULL, "mptable.floating",
		       "_MP_ at %p spec_rev=%u (searched 0x9fc00-0x9ffff, 0xf0000-0xfffff)",
		       (const void *)f, f ? f->spec_rev : 0))
		return;
	if (!tg_expect(f->physptr && f->feature[0] == 0 && f->physptr < 0x100000, "mptable.config_ptr",
		       "physptr=%#x feature1=%u", f->physptr, f->feature[0]))
		return;
	const struct mpc *c = (const struct mpc *)(uint64_t)f->physptr;
	bool hdr = !memcmp(c->signature, "PCMP", 4) && c->length >= sizeof(*c) &&
		   (c->spec_rev == 1 || c->spec_rev == 4);
	bool sum = hdr && tg_sum8(c, c->length) == 0;
	bool esum = hdr && (uint8_t)(tg_sum8((const uint8_t *)c + c->length, c->ext_length) +
				     c->ext_checksum) == 0;
	if (!tg_expect(hdr && sum && esum, "mptable.config",
		       "PCMP at %p length=%u spec_rev=%u checksum=%s ext_checksum=%s entries=%u",
		       (const void *)c, c->length, c->spec_rev, sum ? "ok" : "bad",
		       esum ? "ok" : "bad", c->count))
		return;

	const uint8_t *p = (const uint8_t *)(c + 1), *end = (const uint8_t *)c + c->length;
	static uint32_t ids[TG_MAX_CPUS];
	int ncpu = 0, nbsp = 0, nioapic = 0;
	bool malformed = false;
	for (unsigned i = 0; i < c->count; i++) {
		size_t sz = p < end && p[0] == 0 ? 20 : 8;
		if (p + sz > end || p[0] > 4) {
			malformed = true;
			break;
		}
		if (p[0] == 0 && (p[3] & 1)) {
			if (ncpu < TG_MAX_CPUS)
				ids[ncpu] = p[1];
			ncpu++;
			if (p[3] & 2)
				nbsp++;
		} else if (p[0] == 2) {
			nioapic++;
		}
		p += sz;
	}
	if (!tg.has_cpus) {
		tg_skip("mptable.cpus", "%d CPUs, no tg.cpus= to compare", ncpu);
		return;
	}
	tg_expect(!malformed && (uint64_t)ncpu == tg.cpus && nbsp == 1, "mptable.cpus",
		  "%d enabled processors (tg.cpus=%lu), %d BSP, %d I/O APIC%s", ncpu, tg.cpus, nbsp,
		  nioapic, malformed ? ", malformed entry" : "");

	static uint32_t madt[TG_MAX_CPUS];
	int nm = acpi_madt_cpus(madt, TG_MAX_CPUS);
	bool same = nm == ncpu;
	for (int i = 0; same && i < ncpu && i < TG_MAX_CPUS; i++) {
		bool found = false;
		for (int j = 0; j < nm && j < TG_MAX_CPUS; j++)
			found |= madt[j] == ids[i];
		same = found;
	}
	tg_expect(same, "mptable.apic_ids", "processor APIC ids %s the MADT's",
		  same ? "match" : "DIFFER FROM");
}
TG_CHECK(500, check_mptable);
