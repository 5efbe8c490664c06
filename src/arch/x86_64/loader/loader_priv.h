/* Internal helpers shared by the loader files (not an interface). */
#ifndef EMBER_LOADER_PRIV_H
#define EMBER_LOADER_PRIV_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <asm/bootparam.h>

#include "ember/memory.h"

static inline uint16_t ld_le16(const uint8_t *p)
{
	return (uint16_t)(p[0] | p[1] << 8);
}

static inline uint32_t ld_le32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

/* A validated bzImage: setup header and where its protected-mode part is. */
struct bz_info {
	struct setup_header hdr;
	size_t setup_size; /* (setup_sects + 1) * 512: file offset of the pm part */
	size_t pm_len;	   /* syssize * 16 */
};

/* Validate the setup header (magic, version, LOADED_HIGH, XLF_KERNEL_64,
 * sizes against the file). */
struct kimage;
int bzimage_parse(const struct kimage *img, struct bz_info *bi);

/* End of the RAM region that holds 1 MiB, capped at the MMIO gap: the kernel
 * and the initrd live in [LAYOUT_HIMEM, loader_low_ram_end). */
uint64_t loader_low_ram_end(const struct guest_mem *gm);

#endif
