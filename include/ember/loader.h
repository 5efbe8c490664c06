/* Kernel loaders: ELF vmlinux, bzImage (64-bit boot protocol), UKI (PE/COFF),
 * initrd placement. They write into guest memory only via memory.h. */
#ifndef EMBER_LOADER_H
#define EMBER_LOADER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <asm/bootparam.h>

#include "ember/memory.h"

enum kernel_kind { KERNEL_ELF = 1, KERNEL_BZIMAGE, KERNEL_UKI };

struct kernel_image {
	enum kernel_kind kind;
	uint64_t entry;      /* guest-physical 64-bit entry point */
	uint64_t load_start; /* lowest gpa written */
	uint64_t load_end;   /* one past the highest gpa written (incl. init_size) */
	bool has_setup_header;
	struct setup_header hdr; /* bzImage: copied into the zero page */
	uint32_t cmdline_max;    /* longest cmdline the kernel accepts (excl. NUL) */
	uint64_t initrd_addr_max;
};

/* Detect the format and load. buf/len is the file contents. */
int loader_load_kernel(struct guest_mem *gm, const uint8_t *buf, size_t len,
		       struct kernel_image *out);
int loader_load_elf(struct guest_mem *gm, const uint8_t *buf, size_t len, struct kernel_image *out);
int loader_load_bzimage(struct guest_mem *gm, const uint8_t *buf, size_t len,
			struct kernel_image *out);
/* bzImage payload -> vmlinux on the host (gzip/xz/lz4/zstd); malloc'd result. */
int loader_bzimage_decompress(const uint8_t *buf, size_t len, uint8_t **out, size_t *out_len);
bool loader_is_bzimage(const uint8_t *buf, size_t len);
bool loader_is_elf(const uint8_t *buf, size_t len);
bool loader_is_pe(const uint8_t *buf, size_t len);

/* UKI sections (pointers into the image buffer). */
struct uki_image {
	const uint8_t *linux_sec, *initrd_sec, *ucode_sec, *cmdline_sec, *osrel_sec, *uname_sec;
	size_t linux_len, initrd_len, ucode_len, cmdline_len, osrel_len, uname_len;
};
int loader_parse_uki(const uint8_t *buf, size_t len, struct uki_image *out);

/* Place the initrd as high as possible below min(initrd_addr_max, end of low
 * RAM) and above kernel->load_end; returns its gpa. */
int loader_place_initrd(struct guest_mem *gm, const struct kernel_image *k, const uint8_t *buf,
			size_t len, uint64_t *gpa);

#endif
