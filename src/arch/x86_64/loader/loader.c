/* Kernel format detection and the loader_load_kernel dispatch. */
#include "ember/loader.h"

#include <elf.h>
#include <errno.h>
#include <string.h>

#include "ember/error.h"
#include "ember/layout.h"
#include "loader_priv.h"

bool loader_is_elf(const uint8_t *buf, size_t len)
{
	return len >= SELFMAG && memcmp(buf, ELFMAG, SELFMAG) == 0;
}

bool loader_is_bzimage(const uint8_t *buf, size_t len)
{
	/* boot_flag at 0x1fe, "HdrS" at 0x202 */
	return len >= 0x206 && ld_le16(buf + 0x1fe) == 0xaa55 &&
	       memcmp(buf + 0x202, "HdrS", 4) == 0;
}

bool loader_is_pe(const uint8_t *buf, size_t len)
{
	uint32_t lfanew;

	if (len < 0x40 || buf[0] != 'M' || buf[1] != 'Z')
		return false;
	lfanew = ld_le32(buf + 0x3c);
	return lfanew <= len - 4 && memcmp(buf + lfanew, "PE\0\0", 4) == 0;
}

uint64_t loader_low_ram_end(const struct guest_mem *gm)
{
	for (int i = 0; i < gm->nregions; i++) {
		const struct gm_region *r = &gm->regions[i];

		if (r->gpa <= LAYOUT_HIMEM && LAYOUT_HIMEM < r->gpa + r->size) {
			uint64_t end = r->gpa + r->size;

			return end < LAYOUT_MMIO_GAP_START ? end : LAYOUT_MMIO_GAP_START;
		}
	}
	return LAYOUT_HIMEM; /* less than 1 MiB of RAM: nothing fits */
}

static int load_uki(struct guest_mem *gm, const uint8_t *buf, size_t len, struct kernel_image *out)
{
	struct uki_image uki;
	int r;

	r = loader_parse_uki(buf, len, &uki);
	if (r < 0)
		return r;
	r = loader_load_bzimage(gm, uki.linux_sec, uki.linux_len, out);
	if (r < 0)
		return err_wrap(-r, "UKI .linux section");
	out->kind = KERNEL_UKI;
	return 0;
}

int loader_load_kernel(struct guest_mem *gm, const uint8_t *buf, size_t len,
		       struct kernel_image *out)
{
	memset(out, 0, sizeof(*out));
	if (loader_is_elf(buf, len))
		return loader_load_elf(gm, buf, len, out);
	/* An EFI-stub bzImage is also a PE file: look for the setup header first. */
	if (loader_is_bzimage(buf, len))
		return loader_load_bzimage(gm, buf, len, out);
	if (loader_is_pe(buf, len))
		return load_uki(gm, buf, len, out);
	return err_set(ENOEXEC, "not a kernel: no ELF, bzImage or PE/UKI magic");
}
