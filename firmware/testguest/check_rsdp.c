/* The RSDP: found through boot_params.acpi_rsdp_addr and by the legacy scan
 * of 0xe0000-0xfffff (16-byte steps) at the same address, revision 2 with
 * both checksums right and an XSDT address. */
#include "tg.h"

static const struct acpi_rsdp *scan_rsdp(void)
{
	for (uint64_t a = 0xe0000; a < 0x100000; a += 16) {
		const struct acpi_rsdp *r = (const struct acpi_rsdp *)a;
		if (*(const uint64_t *)a == 0x2052545020445352ULL /* "RSD PTR " */ &&
		    tg_sum8(r, 20) == 0)
			return r;
	}
	return NULL;
}

static void check_rsdp(void)
{
	if (!tg.bp)
		return;
	uint64_t zp = tg.bp->acpi_rsdp_addr;
	const struct acpi_rsdp *r = (zp && zp < 4 * GiB - 64) ? (const struct acpi_rsdp *)zp : NULL;
	if (!tg_expect(r && !memcmp(r->signature, "RSD PTR ", 8), "acpi.rsdp",
		       "acpi_rsdp_addr=%#lx signature", zp))
		return;
	uint8_t sum = tg_sum8(r, 20);
	bool ext = r->revision >= 2 && r->length >= sizeof(*r) && r->length <= 4096;
	uint8_t xsum = ext ? tg_sum8(r, r->length) : 0xff;
	tg_expect(sum == 0 && ext && xsum == 0 && r->xsdt_address, "acpi.rsdp_checksums",
		  "revision=%u length=%u checksum=%s ext_checksum=%s xsdt=%#lx oem=%.6s", r->revision,
		  r->length, sum ? "bad" : "ok", xsum ? "bad" : "ok", r->xsdt_address, r->oem_id);
	const struct acpi_rsdp *s = scan_rsdp();
	tg_expect(s == r, "acpi.rsdp_scan", "scan of 0xe0000-0xfffff found %p, zero page says %p",
		  (const void *)s, (const void *)r);
}
TG_CHECK(400, check_rsdp);
