/* Kernel loaders: ELF vmlinux, bzImage (64-bit boot protocol), UKI (PE/COFF),
 * on x86_64 (src/arch/x86_64/loader); the arm64 Image on aarch64
 * (src/arch/aarch64/image.c), where the x86 formats are refused; initrd
 * placement for both (src/arch/initrd.c, the arch giving its limits).
 * They write into guest memory only via memory.h.
 *
 * Every function validates the whole image before writing anything into guest
 * memory, returns 0 or -errno and records one line with err_set(). */
#ifndef EMBER_LOADER_H
#define EMBER_LOADER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#if defined(__x86_64__)
#include <asm/bootparam.h>
#endif

#include "ember/kimage.h"
#include "ember/memory.h"

/* Upper bound for a host-decompressed kernel (decompression-bomb guard). */
#define LOADER_DECOMPRESS_MAX (512ULL << 20)
/* Command line limit for kernels without a setup header (ELF vmlinux). */
#define LOADER_ELF_CMDLINE_MAX 2047
#define LOADER_ELF_INITRD_ADDR_MAX 0x7fffffffULL

enum kernel_kind { KERNEL_ELF = 1, KERNEL_BZIMAGE, KERNEL_UKI, KERNEL_ARM64_IMAGE };

struct kernel_image {
	enum kernel_kind kind;
	uint64_t entry;	     /* guest-physical 64-bit entry point */
	uint64_t load_start; /* lowest gpa written (bzImage: protected-mode load address) */
	uint64_t load_end;   /* one past the highest gpa used (incl. init_size / bss) */
	bool has_setup_header;
#if defined(__x86_64__)
	/* bzImage: its setup header (bytes past the header's own length are
	 * zero), with code32_start = load address and type_of_loader = 0xff
	 * already set. The zero-page writer copies it into boot_params.hdr and
	 * fills cmd_line_ptr, ramdisk_image/size (+ ext_ fields). */
	struct setup_header hdr;
#endif
	uint32_t cmdline_max;	  /* longest cmdline the kernel accepts (excl. NUL) */
	uint64_t initrd_addr_max; /* highest byte address the initrd may occupy */
};

/* Detect the format (ELF, then bzImage, then PE/UKI, whose .linux is loaded
 * as a bzImage with kind KERNEL_UKI; a UKI must be in memory) and load. */
int loader_load_image(struct guest_mem *gm, const struct kimage *img, struct kernel_image *out);
int loader_load_elf_image(struct guest_mem *gm, const struct kimage *img, struct kernel_image *out);
int loader_load_bzimage_image(struct guest_mem *gm, const struct kimage *img,
			      struct kernel_image *out);
/* The same for an image in memory: buf/len is the file contents. */
int loader_load_kernel(struct guest_mem *gm, const uint8_t *buf, size_t len,
		       struct kernel_image *out);
int loader_load_elf(struct guest_mem *gm, const uint8_t *buf, size_t len, struct kernel_image *out);
int loader_load_bzimage(struct guest_mem *gm, const uint8_t *buf, size_t len,
			struct kernel_image *out);
/* bzImage payload -> vmlinux ELF on the host (gzip/xz/lz4/zstd, or an
 * uncompressed ELF payload); malloc'd result of at most LOADER_DECOMPRESS_MAX. */
int loader_bzimage_decompress(const uint8_t *buf, size_t len, uint8_t **out, size_t *out_len);
/* Decompress one kernel payload stream (format from its magic) into at most
 * max_out bytes; malloc'd result. */
int loader_decompress(const uint8_t *buf, size_t len, size_t max_out, uint8_t **out,
		      size_t *out_len);
/* --kernel-decompress: decompress the bzImage's payload on the host and load
 * the vmlinux ELF (kind KERNEL_ELF, entry = vmlinux startup_64), keeping the
 * bzImage's setup header, cmdline_size and initrd_addr_max. */
int loader_load_bzimage_decompressed(struct guest_mem *gm, const uint8_t *buf, size_t len,
				     struct kernel_image *out);
bool loader_is_bzimage(const uint8_t *buf, size_t len);
/* A loaded bzImage's setup part and protected-mode part, in bytes (measured
 * boot hashes them as loaded): 0, or -EINVAL for any other kernel. */
int loader_bzimage_split(const struct kernel_image *k, size_t *setup, size_t *pm);
bool loader_is_elf(const uint8_t *buf, size_t len);
/* A UKI to unpack, from the file's first bytes: "MZ" that is not a kernel
 * booted directly (an EFI-stub bzImage or arm64 Image is a PE file too). */
bool loader_is_uki(const uint8_t *head, size_t len);
/* "MZ" + "PE\0\0" (true for UKIs and for EFI-stub bzImages alike). */
bool loader_is_pe(const uint8_t *buf, size_t len);

/* UKI sections (pointers into the image buffer; NULL/0 when absent). A
 * section's length is min(VirtualSize, SizeOfRawData) (SizeOfRawData when
 * VirtualSize is 0). Multi-profile UKIs: the base sections plus profile 0. */
struct uki_image {
	const uint8_t *linux_sec, *initrd_sec, *ucode_sec, *cmdline_sec, *osrel_sec, *uname_sec;
	size_t linux_len, initrd_len, ucode_len, cmdline_len, osrel_len, uname_len;
};
/* Validate the PE/COFF image and find its sections; .linux must be a bzImage.
 * .cmdline and .uname lengths exclude trailing NULs and newlines. */
int loader_parse_uki(const uint8_t *buf, size_t len, struct uki_image *out);
/* The initrd the UKI describes: .ucode (if any) followed by .initrd, in one
 * malloc'd buffer (*buf NULL, *len 0 when the UKI has neither). */
int loader_uki_initrd(const struct uki_image *uki, uint8_t **buf, size_t *len);

/* Where an initrd of len bytes goes, the architecture's limits given to
 * loader_initrd_fit: x86 as high as possible below min(initrd_addr_max + 1,
 * end of low RAM, i.e. below the MMIO gap) and above kernel->load_end;
 * aarch64 below the device tree and above the kernel. -ENOMEM if it does
 * not fit. */
int loader_initrd_gpa(const struct guest_mem *gm, const struct kernel_image *k, size_t len,
		      uint64_t *gpa);
/* loader_initrd_gpa, then copy buf there; returns its gpa (every
 * architecture: src/arch/initrd.c). */
int loader_place_initrd(struct guest_mem *gm, const struct kernel_image *k, const uint8_t *buf,
			size_t len, uint64_t *gpa);
/* The one placement rule (src/arch/initrd.c): page-aligned, as high as fits
 * in [bottom, top) (bottom rounded up, top down to pages), inside guest RAM;
 * top_name says in the error what bounds it from above ("the device tree
 * at ", or "" for a bare address). */
int loader_initrd_fit(const struct guest_mem *gm, uint64_t bottom, uint64_t top,
		      const char *top_name, size_t len, uint64_t *gpa);

#endif
