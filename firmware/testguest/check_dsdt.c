/* DSDT contents: COM1 (PNP0501), the i8042 (PNP0303) and one LNRO0005 device per virtio-mmio
 * slot (tg.virtio, default 0). Searches the AML bytes, no interpreter. */
#include "tg.h"

static int count(const uint8_t *p, size_t len, const void *pat, size_t plen)
{
	int n = 0;
	const uint8_t *q = pat;
	for (size_t i = 0; i + plen <= len; i++)
		if (p[i] == q[0] && !memcmp(p + i, pat, plen))
			n++;
	return n;
}

static void check_dsdt(void)
{
	const struct acpi_header *d = acpi_dsdt();
	if (!acpi_table_valid(d))
		return; /* acpi.dsdt already failed */
	const uint8_t *aml = (const uint8_t *)(d + 1);
	size_t len = d->length - sizeof(*d);

	/* _HID of COM1: EISAID("PNP0501") as a DWordConst, or the string */
	static const uint8_t eisa_pnp0501[] = {0x0c, 0x41, 0xd0, 0x05, 0x01};
	int com1 =
	    count(aml, len, eisa_pnp0501, sizeof(eisa_pnp0501)) + count(aml, len, "PNP0501", 7);
	tg_expect(com1 == 1, "dsdt.com1", "%d PNP0501 device(s) in %zu bytes of AML", com1, len);

	/* The i8042 keyboard controller: EISAID("PNP0303") */
	static const uint8_t eisa_pnp0303[] = {0x0c, 0x41, 0xd0, 0x03, 0x03};
	int kbd = count(aml, len, eisa_pnp0303, sizeof(eisa_pnp0303));
	tg_expect(kbd == 1, "dsdt.i8042", "%d PNP0303 device(s)", kbd);

	/* The VM generation ID: one VMGENCTR device whose ADDR package
	 * (Package (2) {DWordConst low, high}) points at 16 bytes that are
	 * not all zero, and the generic event device that notifies it. */
	int genid = count(aml, len, "VMGENCTR", 8), ged = count(aml, len, "ACPI0013", 8);
	uint64_t gpa = 0;
	for (size_t i = 0; i + 14 <= len; i++) {
		const uint8_t *p = aml + i;
		if (!memcmp(p, "ADDR\x12", 5) && p[6] == 2 && p[7] == 0x0c) {
			gpa = (uint64_t)p[8] | (uint64_t)p[9] << 8 | (uint64_t)p[10] << 16 |
			      (uint64_t)p[11] << 24;
			break;
		}
	}
	int nonzero = 0;
	if (gpa && gpa < 0x100000 && gpa % 8 == 0)
		for (int i = 0; i < 16; i++)
			nonzero |= ((const volatile uint8_t *)gpa)[i];
	tg_expect(genid == 1 && ged == 1 && gpa && nonzero, "dsdt.vmgenid",
		  "%d VMGENCTR, %d ACPI0013 device(s), ID at %#lx %s", genid, ged, gpa,
		  nonzero ? "set" : "all zero");

	int virtio = count(aml, len, "LNRO0005", 8);
	tg_expect((uint64_t)virtio == tg.virtio, "dsdt.virtio",
		  "%d LNRO0005 device(s), tg.virtio=%lu", virtio, tg.virtio);
}
TG_CHECK(430, check_dsdt);
