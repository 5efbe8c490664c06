/* XSDT, FADT (hardware-reduced), DSDT and MADT: present, checksummed. */
#include "tg.h"

#define FADT_FLAGS 112
#define FADT_HW_REDUCED_ACPI (1u << 20)

static void report_table(const char *name, const char *sig, const struct acpi_header *h)
{
	if (!h) {
		tg_fail(name, "no %s table", sig);
		return;
	}
	tg_expect(acpi_table_valid(h) && !memcmp(h->signature, sig, 4), name,
		  "%.4s at %p length=%u revision=%u checksum=%s oem=%.6s/%.8s", h->signature,
		  (const void *)h, h->length, h->revision, acpi_table_valid(h) ? "ok" : "bad",
		  h->oem_id, h->oem_table_id);
}

static void check_acpi_tables(void)
{
	const struct acpi_rsdp *r = acpi_rsdp();
	if (!r)
		return; /* acpi.rsdp already failed */
	const struct acpi_header *x = (const struct acpi_header *)r->xsdt_address;
	if (r->revision < 2 || !r->xsdt_address || r->xsdt_address >= 4 * GiB) {
		tg_fail("acpi.xsdt", "no XSDT address in the RSDP");
		return;
	}
	report_table("acpi.xsdt", "XSDT", x);
	if (acpi_table_valid(x)) {
		size_t n = (x->length - sizeof(*x)) / 8;
		tg_expect((x->length - sizeof(*x)) % 8 == 0 && n >= 2, "acpi.xsdt_entries",
			  "%zu entries", n);
	}
	const struct acpi_header *f = acpi_find("FACP", 0);
	report_table("acpi.fadt", "FACP", f);
	if (f && acpi_table_valid(f) && f->length >= FADT_FLAGS + 4) {
		uint32_t flags;
		memcpy(&flags, (const uint8_t *)f + FADT_FLAGS, 4);
		tg_expect(flags & FADT_HW_REDUCED_ACPI, "acpi.fadt_hw_reduced", "flags=%#x", flags);
	}
	report_table("acpi.dsdt", "DSDT", acpi_dsdt());
	report_table("acpi.madt", "APIC", acpi_find("APIC", 0));
}
TG_CHECK(410, check_acpi_tables);
