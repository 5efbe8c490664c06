/* bzImage loader (Linux x86 boot protocol >= 2.06, entered through the
 * 64-bit entry point). The real-mode setup code is never run: only the setup
 * header is taken (for the zero page) and the protected-mode part is loaded. */
#include "ember/loader.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "ember/error.h"
#include "ember/layout.h"
#include "ember/util.h"
#include "loader_priv.h"

#define SETUP_HDR_OFF 0x1f1
#define BZ_ENTRY64_OFF 0x200 /* startup_64 of the compressed kernel */
#define BZ_DEFAULT_INITRD_MAX 0x37ffffffULL

int bzimage_parse(const struct kimage *img, struct bz_info *bi)
{
	struct setup_header *h = &bi->hdr;
	uint8_t buf[0x400]; /* the setup header ends by 0x202 + 255 */
	size_t len = img->len, hdr_end, copy, setup_sects;
	uint64_t pm_len;

	memset(bi, 0, sizeof(*bi));
	if (kimage_read(img, 0, buf, MIN(len, sizeof(buf))) < 0)
		return err_set(EIO, "bzImage: reading the setup header failed");
	if (!loader_is_bzimage(buf, MIN(len, sizeof(buf))))
		return err_set(ENOEXEC, "not a bzImage: no boot_flag 0xAA55 / \"HdrS\" magic");
	/* The header's length is given by the byte at 0x201 (jump offset). */
	hdr_end = 0x202 + (size_t)buf[0x201];
	if (hdr_end > len)
		return err_set(ENOEXEC, "bzImage truncated inside its setup header");
	copy = MIN(hdr_end - SETUP_HDR_OFF, sizeof(*h));
	memcpy(h, buf + SETUP_HDR_OFF, copy);

	if (h->version < 0x0206)
		return err_set(ENOEXEC, "bzImage protocol version %u.%02u too old (need >= 2.06)",
			       h->version >> 8, h->version & 0xff);
	if (!(h->loadflags & LOADED_HIGH))
		return err_set(ENOEXEC, "bzImage is not loaded high (LOADED_HIGH missing): zImage "
					"kernels are not supported");
	/* xloadflags exists from protocol 2.12 on. */
	if (h->version < 0x020c || !(h->xloadflags & XLF_KERNEL_64))
		return err_set(ENOEXEC, "bzImage is not 64-bit capable (XLF_KERNEL_64 missing)");
	if (hdr_end < SETUP_HDR_OFF + offsetof(struct setup_header, init_size) + 4)
		return err_set(ENOEXEC,
			       "bzImage setup header too short (%zu bytes) for protocol "
			       "%u.%02u",
			       hdr_end - SETUP_HDR_OFF, h->version >> 8, h->version & 0xff);

	setup_sects = h->setup_sects ? h->setup_sects : 4;
	bi->setup_size = (setup_sects + 1) * 512;
	if (hdr_end > bi->setup_size)
		return err_set(ENOEXEC, "bzImage setup header runs past the setup code");
	if (bi->setup_size >= len)
		return err_set(ENOEXEC, "bzImage truncated: %zu bytes of setup code, file has %zu",
			       bi->setup_size, len);
	pm_len = (uint64_t)h->syssize * 16;
	if (pm_len == 0)
		return err_set(ENOEXEC, "bzImage has no protected-mode kernel (syssize 0)");
	if (pm_len > len - bi->setup_size)
		return err_set(ENOEXEC,
			       "bzImage truncated: syssize says %llu bytes of kernel, file has %zu",
			       (unsigned long long)pm_len, len - bi->setup_size);
	if (pm_len <= BZ_ENTRY64_OFF)
		return err_set(ENOEXEC,
			       "bzImage kernel of %llu bytes is too small for the 64-bit entry at "
			       "%#x",
			       (unsigned long long)pm_len, BZ_ENTRY64_OFF);
	bi->pm_len = (size_t)pm_len;
	if (h->relocatable_kernel &&
	    (h->kernel_alignment < 0x1000 || (h->kernel_alignment & (h->kernel_alignment - 1))))
		return err_set(ENOEXEC,
			       "bzImage kernel_alignment %#x is not a power of two >= 4 KiB",
			       h->kernel_alignment);
	return 0;
}

/* [addr, addr + need) inside [LAYOUT_HIMEM, ram_end)? */
static bool fits(uint64_t addr, uint64_t need, uint64_t ram_end)
{
	return addr >= LAYOUT_HIMEM && addr < ram_end && need <= ram_end - addr;
}

int loader_load_bzimage(struct guest_mem *gm, const uint8_t *buf, size_t len,
			struct kernel_image *out)
{
	struct kimage img = kimage_mem(buf, len);

	return loader_load_bzimage_image(gm, &img, out);
}

int loader_load_bzimage_image(struct guest_mem *gm, const struct kimage *img,
			      struct kernel_image *out)
{
	uint64_t ram_end = loader_low_ram_end(gm), need, addr;
	struct bz_info bi;
	int r;

	memset(out, 0, sizeof(*out));
	r = bzimage_parse(img, &bi);
	if (r < 0)
		return r;
	need = MAX((uint64_t)bi.hdr.init_size, (uint64_t)bi.pm_len);
	addr = bi.hdr.pref_address;
	if (bi.hdr.relocatable_kernel && (addr & (bi.hdr.kernel_alignment - 1)))
		addr = 0; /* misaligned preference: relocate */
	if (!fits(addr, need, ram_end)) {
		if (!bi.hdr.relocatable_kernel)
			return err_set(
			    ENOMEM,
			    "non-relocatable bzImage must run at %#llx and needs %llu MiB "
			    "there; guest RAM ends at %#llx",
			    (unsigned long long)bi.hdr.pref_address,
			    (unsigned long long)((need + MiB - 1) / MiB),
			    (unsigned long long)ram_end);
		addr = ALIGN_UP(LAYOUT_HIMEM, (uint64_t)bi.hdr.kernel_alignment);
		if (!fits(addr, need, ram_end))
			return err_set(
			    ENOMEM,
			    "bzImage needs %llu MiB of RAM from %#llx (init_size); guest "
			    "RAM ends at %#llx",
			    (unsigned long long)((need + MiB - 1) / MiB), (unsigned long long)addr,
			    (unsigned long long)ram_end);
	}
	/* the protected-mode part straight to its load address */
	r = kimage_load(img, gm, addr, bi.setup_size, bi.pm_len);
	if (r == -EFAULT)
		return err_set(EFAULT, "bzImage load address %#llx outside guest RAM",
			       (unsigned long long)addr);
	if (r < 0)
		return err_set(-r, "bzImage: loading %zu bytes of kernel: %s", bi.pm_len,
			       strerror(-r));

	out->kind = KERNEL_BZIMAGE;
	out->entry = addr + BZ_ENTRY64_OFF;
	out->load_start = addr;
	out->load_end = addr + need;
	out->has_setup_header = true;
	out->hdr = bi.hdr;
	out->hdr.code32_start = (uint32_t)addr;
	out->hdr.type_of_loader = 0xff;
	out->cmdline_max = MIN(bi.hdr.cmdline_size, (uint32_t)(LAYOUT_CMDLINE_MAX - 1));
	out->initrd_addr_max =
	    bi.hdr.initrd_addr_max ? bi.hdr.initrd_addr_max : BZ_DEFAULT_INITRD_MAX;
	return 0;
}

int loader_bzimage_decompress(const uint8_t *buf, size_t len, uint8_t **out, size_t *out_len)
{
	struct bz_info bi;
	uint64_t off, plen;
	int r;

	struct kimage img = kimage_mem(buf, len);

	*out = NULL;
	*out_len = 0;
	r = bzimage_parse(&img, &bi);
	if (r < 0)
		return r;
	off = bi.hdr.payload_offset;
	plen = bi.hdr.payload_length;
	if (plen == 0)
		return err_set(ENOEXEC, "bzImage has no compressed payload (payload_length 0)");
	if (off > bi.pm_len || plen > bi.pm_len - off)
		return err_set(ENOEXEC,
			       "bzImage payload (offset %#llx, %llu bytes) outside the kernel",
			       (unsigned long long)off, (unsigned long long)plen);
	r = loader_decompress(buf + bi.setup_size + off, (size_t)plen, LOADER_DECOMPRESS_MAX, out,
			      out_len);
	if (r < 0)
		return r;
	if (!loader_is_elf(*out, *out_len)) {
		free(*out);
		*out = NULL;
		*out_len = 0;
		return err_set(ENOEXEC, "decompressed bzImage payload is not an ELF vmlinux");
	}
	return 0;
}

int loader_load_bzimage_decompressed(struct guest_mem *gm, const uint8_t *buf, size_t len,
				     struct kernel_image *out)
{
	struct bz_info bi;
	uint8_t *elf;
	size_t elf_len;
	int r;

	struct kimage img = kimage_mem(buf, len);

	memset(out, 0, sizeof(*out));
	r = bzimage_parse(&img, &bi);
	if (r < 0)
		return r;
	r = loader_bzimage_decompress(buf, len, &elf, &elf_len);
	if (r < 0)
		return r;
	r = loader_load_elf(gm, elf, elf_len, out);
	free(elf);
	if (r < 0)
		return err_wrap(-r, "decompressed bzImage");
	out->has_setup_header = true;
	out->hdr = bi.hdr;
	out->hdr.code32_start = (uint32_t)out->load_start;
	out->hdr.type_of_loader = 0xff;
	out->cmdline_max = MIN(bi.hdr.cmdline_size, (uint32_t)(LAYOUT_CMDLINE_MAX - 1));
	out->initrd_addr_max =
	    bi.hdr.initrd_addr_max ? bi.hdr.initrd_addr_max : BZ_DEFAULT_INITRD_MAX;
	return 0;
}
