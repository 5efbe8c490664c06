/* loader.h on aarch64: the arm64 Image. The x86 formats (bzImage, ELF
 * vmlinux, UKI) are refused with a line that says so. */
#include "ember/loader.h"

#include <errno.h>
#include <string.h>

#include "ember/aarch64.h"
#include "ember/error.h"

bool loader_is_elf(const uint8_t *buf, size_t len)
{
	return len >= 4 && memcmp(buf,
				  "\x7f"
				  "ELF",
				  4) == 0;
}

bool loader_is_bzimage(const uint8_t *buf, size_t len)
{
	(void)buf;
	(void)len;
	return false;
}

static bool is_arm64_image(const uint8_t *buf, size_t len)
{
	return len >= 64 && ((uint32_t)buf[56] | (uint32_t)buf[57] << 8 | (uint32_t)buf[58] << 16 |
			     (uint32_t)buf[59] << 24) == A64_IMAGE_MAGIC;
}

bool loader_is_pe(const uint8_t *buf, size_t len)
{
	return len >= 2 && buf[0] == 'M' && buf[1] == 'Z' && !is_arm64_image(buf, len);
}

bool loader_is_uki(const uint8_t *head, size_t len)
{
	return loader_is_pe(head, len);
}

int loader_parse_uki(const uint8_t *buf, size_t len, struct uki_image *out)
{
	(void)buf;
	(void)len;
	memset(out, 0, sizeof(*out));
	return err_set(ENOEXEC, "a PE/UKI image: ember on aarch64 boots an arm64 Image only");
}

int loader_uki_initrd(const struct uki_image *uki, uint8_t **buf, size_t *len)
{
	(void)uki;
	*buf = NULL;
	*len = 0;
	return 0;
}

int loader_load_image(struct guest_mem *gm, const struct kimage *img, struct kernel_image *out)
{
	return a64_image_load(gm, img, out);
}

int loader_load_kernel(struct guest_mem *gm, const uint8_t *buf, size_t len,
		       struct kernel_image *out)
{
	struct kimage img = kimage_mem(buf, len);

	return a64_image_load(gm, &img, out);
}

int loader_load_bzimage_decompressed(struct guest_mem *gm, const uint8_t *buf, size_t len,
				     struct kernel_image *out)
{
	return loader_load_kernel(gm, buf, len, out); /* refuses a bzImage clearly */
}

int loader_bzimage_split(const struct kernel_image *k, size_t *setup, size_t *pm)
{
	(void)k;
	*setup = *pm = 0;
	return -EINVAL;
}

int loader_initrd_gpa(const struct guest_mem *gm, const struct kernel_image *k, size_t len,
		      uint64_t *gpa)
{
	return a64_initrd_gpa(gm, k, len, gpa);
}

int loader_decompress(const uint8_t *buf, size_t len, size_t max_out, uint8_t **out,
		      size_t *out_len)
{
	(void)buf;
	(void)len;
	(void)max_out;
	*out = NULL;
	*out_len = 0;
	return err_set(ENOTSUP, "decompression is not built into ember on aarch64");
}
