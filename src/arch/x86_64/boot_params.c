/* The Linux zero page (struct boot_params) with its e820 map. */
#include "ember/x86.h"

#include <errno.h>
#include <string.h>

#include <asm/e820.h>

#include "ember/error.h"
#include "ember/layout.h"
#include "ember/util.h"

static int add_e820(struct boot_e820_entry *out, int n, int max, uint64_t addr, uint64_t size,
		    uint32_t type)
{
	if (size == 0)
		return n;
	if (n < max)
		out[n] = (struct boot_e820_entry){.addr = addr, .size = size, .type = type};
	return n + 1;
}

int boot_e820_build(const struct guest_mem *gm, struct boot_e820_entry *out, int max)
{
	int n = 0;

	for (int i = 0; i < gm->nregions; i++) {
		const struct gm_region *r = &gm->regions[i];
		uint64_t start = r->gpa, end = r->gpa + r->size;

		if (start == 0) {
			/* Low RAM up to the EBDA, then the BIOS hole, then RAM from 1 MiB. */
			n = add_e820(out, n, max, 0, MIN(end, LAYOUT_EBDA_START), E820_RAM);
			n = add_e820(out, n, max, LAYOUT_EBDA_START,
				     LAYOUT_HIMEM - LAYOUT_EBDA_START, E820_RESERVED);
			if (end > LAYOUT_HIMEM)
				n = add_e820(out, n, max, LAYOUT_HIMEM, end - LAYOUT_HIMEM, E820_RAM);
		} else {
			n = add_e820(out, n, max, start, end - start, E820_RAM);
		}
	}
	return MIN(n, max);
}

int boot_params_write(struct guest_mem *gm, const struct boot_setup *s)
{
	struct boot_params *bp = gm_slice(gm, LAYOUT_ZERO_PAGE, sizeof(*bp));
	const struct kernel_image *k = s->kernel;

	if (!bp)
		return err_set(EFAULT, "zero page outside guest RAM");
	memset(bp, 0, sizeof(*bp));
	if (k->has_setup_header) {
		bp->hdr = k->hdr;
	} else {
		bp->hdr.boot_flag = 0xaa55;
		bp->hdr.header = 0x53726448; /* "HdrS" */
		bp->hdr.version = 0x020f;
		bp->hdr.kernel_alignment = 0x1000000;
	}
	bp->hdr.type_of_loader = 0xff;
	bp->hdr.loadflags |= LOADED_HIGH | CAN_USE_HEAP;
	bp->hdr.heap_end_ptr = 0xfe00;
	bp->hdr.vid_mode = 0xffff;
	bp->hdr.cmd_line_ptr = (uint32_t)s->cmdline_gpa;
	bp->ext_cmd_line_ptr = (uint32_t)(s->cmdline_gpa >> 32);
	bp->hdr.cmdline_size = s->cmdline_len;
	if (k->kind == KERNEL_BZIMAGE)
		bp->hdr.code32_start = (uint32_t)k->load_start;
	if (s->initrd_len) {
		bp->hdr.ramdisk_image = (uint32_t)s->initrd_gpa;
		bp->ext_ramdisk_image = (uint32_t)(s->initrd_gpa >> 32);
		bp->hdr.ramdisk_size = (uint32_t)s->initrd_len;
		bp->ext_ramdisk_size = (uint32_t)(s->initrd_len >> 32);
	}
	bp->acpi_rsdp_addr = s->rsdp_gpa;
	bp->e820_entries = (uint8_t)boot_e820_build(gm, bp->e820_table, E820_MAX_ENTRIES_ZEROPAGE);
	return 0;
}
