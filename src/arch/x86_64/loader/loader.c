/* Kernel format detection and the loader_load_kernel dispatch. */
#include "ember/loader.h"

#include <elf.h>
#include <errno.h>
#include <string.h>
#include <sys/uio.h>

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

int kimage_read(const struct kimage *img, uint64_t off, void *dst, size_t len)
{
	uint8_t *p = dst;

	if (off > img->len || len > img->len - off)
		return -EIO;
	if (img->buf || (img->head && off + len <= img->head_len)) {
		memcpy(dst, (img->buf ? img->buf : img->head) + off, len);
		return 0;
	}
	while (len > 0) {
		/* preadv: the one positioned read every VMM filter allows */
		struct iovec iov = {.iov_base = p, .iov_len = len};
		ssize_t n = preadv(img->fd, &iov, 1, (off_t)(img->off + off));

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -EIO; /* an error, or the file shrank */
		p += n;
		off += (uint64_t)n;
		len -= (size_t)n;
	}
	return 0;
}

int kimage_load(const struct kimage *img, struct guest_mem *gm, uint64_t gpa, uint64_t off,
		size_t len)
{
	uint8_t *dst = gm_slice(gm, gpa, len);
	int r;

	if (!dst)
		return -EFAULT;
	if (off > img->len || len > img->len - off)
		return -EIO;
	/* Through the memfd: the pages are never zeroed before they are filled
	 * (the cost that dominates a copy into fresh guest RAM). */
	r = img->buf ? gm_fill(gm, gpa, img->buf + off, len)
		     : gm_fill_from_fd(gm, gpa, img->fd, img->off + off, len);
	if (r != -EINVAL && r != -ENOSYS)
		return r;
	/* no sendfile into this memfd: fault the range in at once, then copy */
	if ((r = gm_populate(gm, gpa, len)) < 0)
		return r;
	gm_mark_dirty(gm, dst, len);
	return kimage_read(img, off, dst, len);
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
