/* Synthetic kernel images for the loader tests (ELF vmlinux, bzImage). */
#ifndef TEST_LOADER_IMAGES_H
#define TEST_LOADER_IMAGES_H

#include <elf.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <asm/bootparam.h>

#define TI_MiB (1024ULL * 1024)

struct ti_seg {
	uint32_t type; /* 0 means PT_LOAD */
	uint64_t paddr, vaddr, filesz, memsz;
};

/* ELF64 x86-64 ET_EXEC: header, program headers, then each segment's data at
 * a 4 KiB-aligned offset filled with (index + 1). malloc'd, length in *len. */
static inline uint8_t *ti_build_elf(uint64_t entry, const struct ti_seg *segs, int n, size_t *len)
{
	size_t off = 0x1000, total = off;
	Elf64_Ehdr *eh;
	uint8_t *buf;

	for (int i = 0; i < n; i++)
		total += (segs[i].filesz + 0xfff) & ~0xfffULL;
	buf = calloc(1, total);
	eh = (Elf64_Ehdr *)buf;
	memcpy(eh->e_ident, ELFMAG, SELFMAG);
	eh->e_ident[EI_CLASS] = ELFCLASS64;
	eh->e_ident[EI_DATA] = ELFDATA2LSB;
	eh->e_ident[EI_VERSION] = EV_CURRENT;
	eh->e_type = ET_EXEC;
	eh->e_machine = EM_X86_64;
	eh->e_version = EV_CURRENT;
	eh->e_entry = entry;
	eh->e_phoff = sizeof(*eh);
	eh->e_ehsize = sizeof(*eh);
	eh->e_phentsize = sizeof(Elf64_Phdr);
	eh->e_phnum = (uint16_t)n;
	for (int i = 0; i < n; i++) {
		Elf64_Phdr *ph = (Elf64_Phdr *)(buf + sizeof(*eh)) + i;

		ph->p_type = segs[i].type ? segs[i].type : PT_LOAD;
		ph->p_flags = PF_R | PF_X;
		ph->p_offset = off;
		ph->p_paddr = segs[i].paddr;
		ph->p_vaddr = segs[i].vaddr ? segs[i].vaddr : segs[i].paddr;
		ph->p_filesz = segs[i].filesz;
		ph->p_memsz = segs[i].memsz;
		ph->p_align = 0x1000;
		memset(buf + off, i + 1, segs[i].filesz);
		off += (segs[i].filesz + 0xfff) & ~0xfffULL;
	}
	*len = total;
	return buf;
}

static inline Elf64_Phdr *ti_phdr(uint8_t *elf, int i)
{
	return (Elf64_Phdr *)(elf + sizeof(Elf64_Ehdr)) + i;
}

struct ti_bz {
	uint16_t version;
	uint8_t loadflags;
	uint16_t xloadflags;
	uint8_t setup_sects;  /* as stored (0 means 4) */
	uint8_t hdr_len_byte; /* byte at 0x201: header end = 0x202 + it */
	uint8_t relocatable;
	uint32_t kernel_alignment;
	uint64_t pref_address;
	uint32_t init_size;
	uint32_t cmdline_size;
	uint32_t initrd_addr_max;
	size_t pm_len;		/* protected-mode part (>= 0x400 + payload) */
	const uint8_t *payload; /* placed at pm offset 0x400 */
	size_t payload_len;
};

static inline struct ti_bz ti_bz_default(void)
{
	return (struct ti_bz){
	    .version = 0x020f,
	    .loadflags = LOADED_HIGH,
	    .xloadflags = XLF_KERNEL_64 | XLF_CAN_BE_LOADED_ABOVE_4G,
	    .setup_sects = 3,
	    .hdr_len_byte = 0x6a, /* 0x26c: through kernel_info_offset */
	    .relocatable = 1,
	    .kernel_alignment = 0x200000,
	    .pref_address = 0x1000000,
	    .init_size = 8 * TI_MiB,
	    .cmdline_size = 0x7ff,
	    .initrd_addr_max = 0x7fffffff,
	    .pm_len = 0x10000,
	};
}

/* A bzImage: setup sectors with the header, then the protected-mode part
 * filled with a pattern (byte i = i * 7 + 3), the payload at pm 0x400. */
static inline uint8_t *ti_build_bzimage(const struct ti_bz *p, size_t *len)
{
	size_t sects = p->setup_sects ? p->setup_sects : 4, setup = (sects + 1) * 512;
	size_t pm = p->pm_len;
	struct setup_header h;
	uint8_t *buf;

	if (p->payload && pm < 0x400 + p->payload_len)
		pm = 0x400 + p->payload_len;
	pm = (pm + 15) & ~(size_t)15;
	buf = calloc(1, setup + pm);
	memset(&h, 0, sizeof(h));
	h.setup_sects = p->setup_sects;
	h.syssize = (uint32_t)(pm / 16);
	h.boot_flag = 0xaa55;
	h.header = 0x53726448; /* "HdrS" */
	h.version = p->version;
	h.loadflags = p->loadflags;
	h.code32_start = 0x100000;
	h.initrd_addr_max = p->initrd_addr_max;
	h.kernel_alignment = p->kernel_alignment;
	h.relocatable_kernel = p->relocatable;
	h.min_alignment = 21;
	h.xloadflags = p->xloadflags;
	h.cmdline_size = p->cmdline_size;
	h.payload_offset = p->payload ? 0x400 : 0;
	h.payload_length = (uint32_t)p->payload_len;
	h.pref_address = p->pref_address;
	h.init_size = p->init_size;
	h.kernel_info_offset = 0x12345;
	memcpy(buf + 0x1f1, &h, sizeof(h));
	buf[0x200] = 0xeb; /* jump */
	buf[0x201] = p->hdr_len_byte;
	for (size_t i = 0; i < pm; i++)
		buf[setup + i] = (uint8_t)(i * 7 + 3);
	if (p->payload)
		memcpy(buf + setup + 0x400, p->payload, p->payload_len);
	*len = setup + pm;
	return buf;
}

static inline size_t ti_bz_setup_size(const struct ti_bz *p)
{
	return ((size_t)(p->setup_sects ? p->setup_sects : 4) + 1) * 512;
}

#endif
