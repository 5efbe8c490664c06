/* The initrd: placed page-aligned in RAM below initrd_addr_max and above the
 * kernel, and (tg.initrd=TEXT) its first bytes are TEXT — so a UKI's .ucode
 * and .initrd can be checked in order. */
#include "tg.h"

static void check_initrd(void)
{
	size_t want_len = 0;
	const char *want = tg_cmdline_get("tg.initrd", &want_len);
	uint64_t addr, size;

	if (!tg.bp)
		return;
	addr = tg.bp->hdr.ramdisk_image | ((uint64_t)tg.bp->ext_ramdisk_image << 32);
	size = tg.bp->hdr.ramdisk_size | ((uint64_t)tg.bp->ext_ramdisk_size << 32);
	if (!want) {
		if (size)
			tg_ok("initrd.present", "%lu bytes at %#lx", size, addr);
		else
			tg_skip("initrd.present", "no initrd, no tg.initrd= to compare");
		return;
	}
	if (!tg_expect(size >= want_len && addr, "initrd.present", "%lu bytes at %#lx", size, addr))
		return;
	tg_expect((addr & 0xfff) == 0 && addr >= 0x100000 && addr + size <= 0xc0000000ULL &&
			  addr + size - 1 <= 0x7fffffffULL,
		  "initrd.placement", "%#lx-%#lx (page aligned, 1 MiB..2 GiB)", addr, addr + size);
	char text[33];
	size_t n = want_len < 32 ? want_len : 32;
	memcpy(text, want, n);
	text[n] = '\0';
	tg_expect(memcmp((const void *)addr, want, want_len) == 0, "initrd.content",
		  "starts with \"%s\"", text);
}
TG_CHECK(260, check_initrd);
