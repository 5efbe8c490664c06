/* ELF vmlinux loader: PT_LOAD segments at their physical addresses, entered
 * at the 64-bit entry point (e_entry, physical for a Linux vmlinux). */
#include "ember/loader.h"

#include <elf.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "ember/error.h"
#include "ember/layout.h"
#include "loader_priv.h"

#define ELF_MAX_PHDRS 256
#define KERNEL_VIRT_BASE 0xffffffff80000000ULL

struct seg {
	uint64_t paddr, vaddr, memsz, filesz, offset;
	int index;
};

static int seg_cmp(const void *a, const void *b)
{
	const struct seg *x = a, *y = b;

	return x->paddr < y->paddr ? -1 : x->paddr > y->paddr;
}

static int check_header(const Elf64_Ehdr *eh, size_t len)
{
	uint64_t ph_bytes;

	if (eh->e_ident[EI_CLASS] != ELFCLASS64)
		return err_set(ENOEXEC, "ELF kernel is not 64-bit (class %u)",
			       eh->e_ident[EI_CLASS]);
	if (eh->e_ident[EI_DATA] != ELFDATA2LSB)
		return err_set(ENOEXEC, "ELF kernel is not little-endian");
	if (eh->e_machine != EM_X86_64)
		return err_set(ENOEXEC, "ELF kernel is for machine %u, not x86-64", eh->e_machine);
	if (eh->e_type != ET_EXEC)
		return err_set(ENOEXEC, "ELF kernel is not an executable (e_type %u)", eh->e_type);
	if (eh->e_phnum == 0)
		return err_set(ENOEXEC, "ELF kernel has no program headers");
	if (eh->e_phnum > ELF_MAX_PHDRS)
		return err_set(ENOEXEC, "ELF kernel has %u program headers (max %d)", eh->e_phnum,
			       ELF_MAX_PHDRS);
	if (eh->e_phentsize != sizeof(Elf64_Phdr))
		return err_set(ENOEXEC, "ELF program header size %u, expected %zu", eh->e_phentsize,
			       sizeof(Elf64_Phdr));
	ph_bytes = (uint64_t)eh->e_phnum * sizeof(Elf64_Phdr);
	if (eh->e_phoff > len || ph_bytes > len - eh->e_phoff)
		return err_set(ENOEXEC, "ELF program headers outside the file");
	return 0;
}

/* Check one PT_LOAD segment against the file and guest RAM. */
static int check_segment(const struct guest_mem *gm, const Elf64_Phdr *ph, int i, size_t len)
{
	uint64_t ram_end = loader_low_ram_end(gm);

	if (ph->p_filesz > ph->p_memsz)
		return err_set(ENOEXEC, "ELF segment %d: p_filesz %#llx larger than p_memsz %#llx",
			       i, (unsigned long long)ph->p_filesz,
			       (unsigned long long)ph->p_memsz);
	if (ph->p_offset > len || ph->p_filesz > len - ph->p_offset)
		return err_set(ENOEXEC, "ELF segment %d outside the file", i);
	if (ph->p_memsz == 0)
		return 0;
	if (ph->p_paddr < LAYOUT_HIMEM)
		return err_set(ENOEXEC,
			       "ELF segment %d at %#llx is below 1 MiB (reserved for boot data)", i,
			       (unsigned long long)ph->p_paddr);
	if (ph->p_paddr >= ram_end || ph->p_memsz > ram_end - ph->p_paddr ||
	    !gm_valid(gm, ph->p_paddr, ph->p_memsz))
		return err_set(
		    ENOMEM,
		    "ELF segment %d (%#llx, %llu KiB) outside guest RAM (usable up to %#llx)", i,
		    (unsigned long long)ph->p_paddr, (unsigned long long)(ph->p_memsz >> 10),
		    (unsigned long long)ram_end);
	return 0;
}

static int find_entry(const Elf64_Ehdr *eh, const struct seg *segs, int n, uint64_t *entry)
{
	uint64_t e = eh->e_entry;

	if (e >= KERNEL_VIRT_BASE) {
		for (int i = 0; i < n; i++) {
			if (e >= segs[i].vaddr && e - segs[i].vaddr < segs[i].memsz) {
				*entry = e - segs[i].vaddr + segs[i].paddr;
				return 0;
			}
		}
		return err_set(ENOEXEC, "ELF entry point %#llx is not inside a loadable segment",
			       (unsigned long long)e);
	}
	for (int i = 0; i < n; i++) {
		if (e >= segs[i].paddr && e - segs[i].paddr < segs[i].memsz) {
			*entry = e;
			return 0;
		}
	}
	return err_set(ENOEXEC, "ELF entry point %#llx is not inside a loadable segment",
		       (unsigned long long)e);
}

int loader_load_elf(struct guest_mem *gm, const uint8_t *buf, size_t len, struct kernel_image *out)
{
	struct kimage img = kimage_mem(buf, len);

	return loader_load_elf_image(gm, &img, out);
}

/* Read the program headers and keep the PT_LOAD segments with memory. */
static int read_segments(const struct guest_mem *gm, const struct kimage *img, const Elf64_Ehdr *eh,
			 struct seg *segs, int *nseg)
{
	Elf64_Phdr *phs;
	int n = 0, r = 0;

	phs = malloc((size_t)eh->e_phnum * sizeof(*phs));
	if (!phs)
		return err_set(ENOMEM, "out of memory for the ELF program headers");
	if (kimage_read(img, eh->e_phoff, phs, (size_t)eh->e_phnum * sizeof(*phs)) < 0) {
		r = err_set(EIO, "ELF: reading the program headers failed");
		goto out;
	}
	for (int i = 0; i < eh->e_phnum; i++) {
		const Elf64_Phdr *ph = &phs[i];

		if (ph->p_type != PT_LOAD)
			continue;
		r = check_segment(gm, ph, i, img->len);
		if (r < 0)
			goto out;
		if (ph->p_memsz == 0)
			continue;
		segs[n++] = (struct seg){.paddr = ph->p_paddr,
					 .vaddr = ph->p_vaddr,
					 .memsz = ph->p_memsz,
					 .filesz = ph->p_filesz,
					 .offset = ph->p_offset,
					 .index = i};
	}
	*nseg = n;
out:
	free(phs);
	return r;
}

int loader_load_elf_image(struct guest_mem *gm, const struct kimage *img, struct kernel_image *out)
{
	struct seg segs[ELF_MAX_PHDRS];
	uint8_t ident[SELFMAG];
	size_t len = img->len;
	Elf64_Ehdr eh;
	uint64_t entry = 0;
	int n = 0, r;

	memset(out, 0, sizeof(*out));
	if (len < SELFMAG || kimage_read(img, 0, ident, SELFMAG) < 0 ||
	    !loader_is_elf(ident, SELFMAG))
		return err_set(ENOEXEC, "not an ELF file");
	if (len < sizeof(eh))
		return err_set(ENOEXEC, "ELF header truncated (%zu bytes)", len);
	if (kimage_read(img, 0, &eh, sizeof(eh)) < 0)
		return err_set(EIO, "ELF: reading the header failed");
	r = check_header(&eh, len);
	if (r < 0)
		return r;
	r = read_segments(gm, img, &eh, segs, &n);
	if (r < 0)
		return r;
	if (n == 0)
		return err_set(ENOEXEC, "ELF kernel has no loadable segments");
	qsort(segs, (size_t)n, sizeof(segs[0]), seg_cmp);
	for (int i = 1; i < n; i++) {
		if (segs[i].paddr - segs[i - 1].paddr < segs[i - 1].memsz)
			return err_set(ENOEXEC, "ELF segments %d and %d overlap", segs[i - 1].index,
				       segs[i].index);
	}
	r = find_entry(&eh, segs, n, &entry);
	if (r < 0)
		return r;

	/* Everything is validated: write, each segment straight from the image
	 * (the .bss part of fresh guest RAM is zero already, but RAM may have
	 * been written before: clear it). */
	for (int i = 0; i < n; i++) {
		uint8_t *dst = gm_slice(gm, segs[i].paddr, segs[i].memsz);

		if (!dst)
			return err_set(EFAULT, "ELF segment %d outside guest RAM", segs[i].index);
		r = kimage_load(img, gm, segs[i].paddr, segs[i].offset, segs[i].filesz);
		if (r < 0)
			return err_set(-r, "ELF segment %d: loading %llu bytes: %s", segs[i].index,
				       (unsigned long long)segs[i].filesz, strerror(-r));
		memset(dst + segs[i].filesz, 0, segs[i].memsz - segs[i].filesz);
		gm_mark_dirty(gm, dst, segs[i].memsz);
	}
	out->kind = KERNEL_ELF;
	out->entry = entry;
	out->load_start = segs[0].paddr;
	for (int i = 0; i < n; i++) {
		if (segs[i].paddr + segs[i].memsz > out->load_end)
			out->load_end = segs[i].paddr + segs[i].memsz;
	}
	out->has_setup_header = false;
	out->cmdline_max = LOADER_ELF_CMDLINE_MAX;
	out->initrd_addr_max = LOADER_ELF_INITRD_ADDR_MAX;
	return 0;
}
