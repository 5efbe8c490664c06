/* Walking ember's ACPI tables: RSDP (from the zero page) -> XSDT -> tables. */
#include "tg.h"
#include "x86.h"

#define ACPI_TABLE_MAX (1024 * 1024)

bool acpi_table_valid(const struct acpi_header *h)
{
	if (!h || (uint64_t)h >= 4 * GiB - ACPI_TABLE_MAX)
		return false;
	if (h->length < sizeof(*h) || h->length > ACPI_TABLE_MAX)
		return false;
	return tg_sum8(h, h->length) == 0;
}

const struct acpi_rsdp *acpi_rsdp(void)
{
	if (!tg.bp || !tg.bp->acpi_rsdp_addr || tg.bp->acpi_rsdp_addr >= 4 * GiB - 64)
		return NULL;
	const struct acpi_rsdp *r = (const struct acpi_rsdp *)tg.bp->acpi_rsdp_addr;
	if (memcmp(r->signature, "RSD PTR ", 8) || tg_sum8(r, 20) != 0)
		return NULL;
	return r;
}

static const struct acpi_header *xsdt(void)
{
	const struct acpi_rsdp *r = acpi_rsdp();
	if (!r || r->revision < 2 || r->length < sizeof(*r) || tg_sum8(r, r->length) != 0)
		return NULL;
	const struct acpi_header *x = (const struct acpi_header *)r->xsdt_address;
	if (!acpi_table_valid(x) || memcmp(x->signature, "XSDT", 4))
		return NULL;
	return x;
}

const struct acpi_header *acpi_find(const char *sig, int nth)
{
	const struct acpi_header *x = xsdt();
	if (!x)
		return NULL;
	size_t n = (x->length - sizeof(*x)) / 8;
	const uint8_t *ents = (const uint8_t *)(x + 1);
	for (size_t i = 0; i < n; i++) {
		uint64_t a;
		memcpy(&a, ents + 8 * i, 8);
		if (!a || a >= 4 * GiB - ACPI_TABLE_MAX)
			continue;
		const struct acpi_header *h = (const struct acpi_header *)a;
		if (!memcmp(h->signature, sig, 4) && nth-- == 0)
			return h;
	}
	return NULL;
}

const struct acpi_header *acpi_dsdt(void)
{
	const struct acpi_header *f = acpi_find("FACP", 0);
	uint64_t a = 0;
	if (!f)
		return NULL;
	if (f->length >= 148)
		memcpy(&a, (const uint8_t *)f + 140, 8); /* X_DSDT */
	if (!a && f->length >= 44) {
		uint32_t d;
		memcpy(&d, (const uint8_t *)f + 40, 4); /* DSDT */
		a = d;
	}
	if (!a || a >= 4 * GiB - ACPI_TABLE_MAX)
		return NULL;
	return (const struct acpi_header *)a;
}

int acpi_madt_cpus(uint32_t *ids, int max)
{
	const struct acpi_header *m = acpi_find("APIC", 0);
	if (!acpi_table_valid(m) || m->length < 44)
		return -1;
	const uint8_t *p = (const uint8_t *)m + 44, *end = (const uint8_t *)m + m->length;
	int n = 0;
	while (p + 2 <= end && p[1] >= 2 && p + p[1] <= end) {
		uint32_t id = 0, flags = 0;
		bool cpu = false;
		if (p[0] == 0 && p[1] >= 8) { /* Processor Local APIC */
			id = p[3];
			memcpy(&flags, p + 4, 4);
			cpu = true;
		} else if (p[0] == 9 && p[1] >= 16) { /* Processor Local x2APIC */
			memcpy(&id, p + 4, 4);
			memcpy(&flags, p + 8, 4);
			cpu = true;
		}
		if (cpu && (flags & 1)) {
			if (n < max)
				ids[n] = id;
			n++;
		}
		p += p[1];
	}
	return n;
}

#define FADT_SLEEP_CONTROL 244 /* Generic Address Structure */
#define SLP_EN (1u << 5)

bool acpi_poweroff_prepare(struct acpi_poweroff *po)
{
	const struct acpi_header *f = acpi_find("FACP", 0), *d = acpi_dsdt();
	if (!acpi_table_valid(f) || f->length < FADT_SLEEP_CONTROL + 12 || !acpi_table_valid(d))
		return false;
	const uint8_t *gas = (const uint8_t *)f + FADT_SLEEP_CONTROL;
	po->space = gas[0];
	memcpy(&po->addr, gas + 4, 8);
	if ((po->space != 0 && po->space != 1) || !po->addr || (po->space == 1 && po->addr > 0xffff))
		return false;
	/* Name (_S5_, Package () { SLP_TYP, ... }):
	 * "_S5_" PackageOp PkgLength NumElements, then a ByteConst/Zero/One. */
	const uint8_t *p = (const uint8_t *)d + sizeof(*d), *end = (const uint8_t *)d + d->length;
	for (; p + 8 <= end; p++) {
		if (memcmp(p, "_S5_", 4) || p[4] != 0x12 || (p[5] & 0xc0))
			continue;
		const uint8_t *e = p + 7;
		uint8_t typ;
		if (e[0] == 0x0a)
			typ = e[1];
		else if (e[0] == 0x00 || e[0] == 0x01)
			typ = e[0];
		else
			return false;
		po->value = (uint8_t)(((typ & 7) << 2) | SLP_EN);
		return true;
	}
	return false;
}

void acpi_poweroff(const struct acpi_poweroff *po)
{
	if (po->space == 1)
		outb((uint16_t)po->addr, po->value);
	else
		*(volatile uint8_t *)po->addr = po->value;
	cpu_halt_forever();
}
