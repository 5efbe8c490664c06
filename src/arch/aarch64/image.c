/* The arm64 Image loader and the placement of the initrd and device tree
 * in RAM (from 2 GiB). Validates the whole header before anything is
 * written into guest memory. */
#include <errno.h>
#include <string.h>

#include "ember/aarch64.h"
#include "ember/error.h"
#include "ember/util.h"

#define PAGE 4096ULL
#define HDR_LEN 64
#define ALIGN_2M (2ULL << 20)

static uint64_t le64(const uint8_t *p)
{
	uint64_t v = 0;

	for (int i = 7; i >= 0; i--)
		v = v << 8 | p[i];
	return v;
}

static uint32_t le32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

/* The RAM region, as one range [start, end). */
static void ram_range(const struct guest_mem *gm, uint64_t *start, uint64_t *end)
{
	*start = gm->nregions ? gm->regions[0].gpa : 0;
	*end = gm->nregions ? gm->regions[0].gpa + gm->regions[0].size : 0;
}

uint64_t a64_fdt_gpa(const struct guest_mem *gm)
{
	uint64_t start, end;

	ram_range(gm, &start, &end);
	if (end - start < A64_FDT_MAX)
		return start;
	return ALIGN_DOWN(end - A64_FDT_MAX, ALIGN_2M);
}

uint64_t a64_mpidr_of(int id)
{
	uint64_t u = (uint64_t)id;

	return (u & 0x0f) | ((u >> 4) & 0xff) << 8 | ((u >> 12) & 0xff) << 16;
}

/* What the file is, when it is not an arm64 Image: for the error line. */
static const char *not_arm64(const uint8_t *h, size_t n)
{
	if (n >= 4 && memcmp(h,
			     "\x7f"
			     "ELF",
			     4) == 0)
		return "an ELF file (give the arm64 Image, arch/arm64/boot/Image)";
	if (n >= 0x206 && memcmp(h + 0x202, "HdrS", 4) == 0)
		return "an x86 bzImage, not an arm64 Image";
	if (n >= 2 && h[0] == 0x1f && h[1] == 0x8b)
		return "gzip-compressed (Image.gz / Debian's vmlinuz): decompress it to the Image";
	if (n >= 4 && (memcmp(h, "\x28\xb5\x2f\xfd", 4) == 0 ||
		       memcmp(h,
			      "\xfd"
			      "7zXZ",
			      4) == 0 ||
		       memcmp(h, "\x02\x21\x4c\x18", 4) == 0))
		return "compressed (zstd/xz/lz4): decompress it to the Image";
	if (n >= 2 && h[0] == 'M' && h[1] == 'Z')
		return "a PE file without the arm64 Image header (an x86 EFI image?)";
	return "not an arm64 Image (no \"ARM\\x64\" magic at offset 56)";
}

int a64_image_load(struct guest_mem *gm, const struct kimage *img, struct kernel_image *out)
{
	uint8_t h[0x210];
	size_t n = MIN(img->len, sizeof(h));
	uint64_t text_offset, image_size, flags, ram, ram_end, load, end;
	int r;

	memset(out, 0, sizeof(*out));
	if (kimage_read(img, 0, h, n) < 0)
		return err_set(EIO, "kernel: read failed");
	if (n < HDR_LEN || le32(h + 56) != A64_IMAGE_MAGIC)
		return err_set(ENOEXEC, "kernel: %s", not_arm64(h, n));
	text_offset = le64(h + 8);
	image_size = le64(h + 16);
	flags = le64(h + 24);
	if (image_size == 0) {
		/* before Linux 3.17: text_offset is 0x80000, the size unknown */
		text_offset = 0x80000;
		image_size = img->len;
	}
	if (flags & 1)
		return err_set(ENOEXEC,
			       "kernel: a big-endian arm64 Image (ember boots little-endian)");
	if (text_offset >= ALIGN_2M || text_offset & 0xfff)
		return err_set(ENOEXEC,
			       "kernel: arm64 Image text_offset %#llx is not a page offset "
			       "below 2 MiB",
			       (unsigned long long)text_offset);
	if (image_size < img->len)
		return err_set(ENOEXEC,
			       "kernel: arm64 Image image_size %#llx is smaller than the file "
			       "(%zu bytes)",
			       (unsigned long long)image_size, img->len);
	ram_range(gm, &ram, &ram_end);
	if (ram & (ALIGN_2M - 1))
		return err_set(EINVAL, "kernel: RAM does not start 2 MiB aligned");
	load = ram + text_offset;
	/* the kernel's footprint must stay clear of the device tree */
	if (image_size > a64_fdt_gpa(gm) - load || a64_fdt_gpa(gm) <= load)
		return err_set(ENOMEM,
			       "kernel: arm64 Image of %llu MiB does not fit in guest RAM "
			       "below the device tree",
			       (unsigned long long)(image_size >> 20));
	end = load + image_size;
	if ((r = kimage_load(img, gm, load, 0, img->len)) < 0)
		return err_set(-r, "kernel: loading %zu bytes at %#llx: %s", img->len,
			       (unsigned long long)load, strerror(-r));
	out->kind = KERNEL_ARM64_IMAGE;
	out->entry = load;
	out->load_start = load;
	out->load_end = end;
	out->cmdline_max = A64_CMDLINE_MAX;
	out->initrd_addr_max = UINT64_MAX;
	return 0;
}

int a64_initrd_gpa(const struct guest_mem *gm, const struct kernel_image *k, size_t len,
		   uint64_t *gpa)
{
	return loader_initrd_fit(gm, k->load_end, a64_fdt_gpa(gm), "the device tree at ", len, gpa);
}
