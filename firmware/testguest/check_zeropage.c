/* The Linux zero page (struct boot_params) ember wrote. */
#include "tg.h"

static void check_zero_page(void)
{
	const struct boot_params *bp = tg.bp;

	if (!tg_expect(bp != NULL, "zeropage.pointer", "RSI=%#lx", tg_entry.rsi))
		return;
	const struct setup_header *h = &bp->hdr;
	tg_expect(h->boot_flag == 0xaa55 && h->header == 0x53726448, "zeropage.magic",
		  "boot_flag=%#x header=%#x", h->boot_flag, h->header);
	tg_expect(h->version >= 0x0206, "zeropage.version", "version=%#x (>= 0x206)", h->version);
	tg_expect(h->type_of_loader == 0xff, "zeropage.loader", "type_of_loader=%#x",
		  h->type_of_loader);
	uint64_t cl = h->cmd_line_ptr | ((uint64_t)bp->ext_cmd_line_ptr << 32);
	tg_expect(cl != 0 && h->cmdline_size > 0, "zeropage.cmdline", "cmd_line_ptr=%#lx cmdline_size=%u",
		  cl, h->cmdline_size);
	tg_expect(bp->e820_entries > 0 && bp->e820_entries <= E820_MAX_ENTRIES_ZEROPAGE,
		  "zeropage.e820_entries", "e820_entries=%u", bp->e820_entries);
	tg_expect(bp->acpi_rsdp_addr != 0, "zeropage.acpi_rsdp_addr", "acpi_rsdp_addr=%#llx",
		  (unsigned long long)bp->acpi_rsdp_addr);
}
TG_CHECK(200, check_zero_page);
