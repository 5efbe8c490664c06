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

static int load_uki(struct guest_mem *gm, const struct kimage *img, struct kernel_image *out)
{
	struct uki_image uki;
	struct kimage linux_img;
	int r;

	if (!img->buf)
		return err_set(EINVAL, "a UKI is loaded from memory (internal error)");
	r = loader_parse_uki(img->buf, img->len, &uki);
	if (r < 0)
		return r;
	linux_img = kimage_mem(uki.linux_sec, uki.linux_len);
	r = loader_load_bzimage_image(gm, &linux_img, out);
	if (r < 0)
		return err_wrap(-r, "UKI .linux section");
	out->kind = KERNEL_UKI;
	return 0;
}

int loader_load_image(struct guest_mem *gm, const struct kimage *img, struct kernel_image *out)
{
	uint8_t head[0x400]; /* every magic: ELF, the bzImage setup header, MZ/PE */
	size_t n = img->len < sizeof(head) ? img->len : sizeof(head);

	memset(out, 0, sizeof(*out));
	if (kimage_read(img, 0, head, n) < 0)
		return err_set(EIO, "kernel: read failed");
	if (loader_is_elf(head, n))
		return loader_load_elf_image(gm, img, out);
	/* An EFI-stub bzImage is also a PE file: look for the setup header first. */
	if (loader_is_bzimage(head, n))
		return loader_load_bzimage_image(gm, img, out);
	if (img->buf && loader_is_pe(img->buf, img->len))
		return load_uki(gm, img, out);
	if (!img->buf && n >= 2 && head[0] == 'M' && head[1] == 'Z')
		return err_set(EINVAL, "a PE/UKI image is loaded from memory (internal error)");
	return err_set(ENOEXEC, "not a kernel: no ELF, bzImage or PE/UKI magic");
}

int loader_load_kernel(struct guest_mem *gm, const uint8_t *buf, size_t len,
		       struct kernel_image *out)
{
	struct kimage img = kimage_mem(buf, len);

	return loader_load_image(gm, &img, out);
}

int loader_bzimage_split(const struct kernel_image *k, size_t *setup, size_t *pm)
{
	const struct setup_header *h = &k->hdr;

	if (k->kind != KERNEL_BZIMAGE)
		return -EINVAL;
	*setup = ((size_t)(h->setup_sects ? h->setup_sects : 4) + 1) * 512;
	*pm = (size_t)h->syssize * 16;
	return 0;
}

bool loader_is_uki(const uint8_t *head, size_t len)
{
	/* An EFI-stub bzImage is a PE file too: it is booted as a bzImage. */
	return !loader_is_elf(head, len) && !loader_is_bzimage(head, len) && len >= 2 &&
	       head[0] == 'M' && head[1] == 'Z';
}
