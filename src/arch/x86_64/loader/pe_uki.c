/* Unified Kernel Image parser: validate the PE/COFF container (the systemd
 * stub plus added sections) and find .linux, .initrd, .ucode, .cmdline,
 * .osrel and .uname. Nothing of the stub is executed. */
#include "ember/loader.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ember/error.h"
#include "loader_priv.h"

#define PE_MACHINE_X86_64 0x8664
#define PE_OPT_MAGIC_PE32PLUS 0x20b
#define PE_COFF_HDR_SIZE 20  /* after "PE\0\0" */
#define PE32PLUS_OPT_MIN 112 /* optional header without data directories */
#define PE_SECTION_SIZE 40
#define PE_MAX_SECTIONS 1024

struct sec {
	char name[9];
	uint32_t vsize, vaddr, raw_size, raw_ptr;
	int index;
};

static int sec_cmp(const void *a, const void *b)
{
	const struct sec *x = a, *y = b;

	return x->raw_ptr < y->raw_ptr ? -1 : x->raw_ptr > y->raw_ptr;
}

static bool pow2(uint32_t v)
{
	return v && !(v & (v - 1));
}

static void read_name(const uint8_t *p, char name[9])
{
	for (int i = 0; i < 8; i++) /* printable for error messages */
		name[i] = p[i] == 0 ? 0 : (p[i] < 0x20 || p[i] > 0x7e) ? '?' : (char)p[i];
	name[8] = 0;
}

/* Check the PE headers; on success the section table is at *table with
 * *nsec entries. */
static int check_headers(const uint8_t *buf, size_t len, uint64_t *table, uint32_t *nsec)
{
	uint64_t lfanew, opt, tbl_end;
	uint32_t sect_align, file_align, ndirs;
	uint16_t machine, opt_size;

	if (len < 0x40 || buf[0] != 'M' || buf[1] != 'Z')
		return err_set(ENOEXEC, "not a PE image: no \"MZ\" magic");
	lfanew = ld_le32(buf + 0x3c);
	if (lfanew > len || len - lfanew < 4 + PE_COFF_HDR_SIZE)
		return err_set(ENOEXEC, "PE image truncated: e_lfanew %#llx, file is %zu bytes",
			       (unsigned long long)lfanew, len);
	if (memcmp(buf + lfanew, "PE\0\0", 4) != 0)
		return err_set(ENOEXEC, "not a PE image: no \"PE\\0\\0\" signature at %#llx",
			       (unsigned long long)lfanew);
	machine = ld_le16(buf + lfanew + 4);
	*nsec = ld_le16(buf + lfanew + 6);
	opt_size = ld_le16(buf + lfanew + 20);
	if (machine != PE_MACHINE_X86_64)
		return err_set(ENOEXEC, "UKI is for PE machine %#x, not x86-64 (0x8664)", machine);
	opt = lfanew + 4 + PE_COFF_HDR_SIZE;
	if (opt_size < PE32PLUS_OPT_MIN)
		return err_set(ENOEXEC, "PE optional header of %u bytes is too small for PE32+",
			       opt_size);
	if (opt_size > len - opt)
		return err_set(ENOEXEC, "PE image truncated inside its optional header");
	if (ld_le16(buf + opt) != PE_OPT_MAGIC_PE32PLUS)
		return err_set(ENOEXEC, "PE optional header magic %#x is not PE32+ (0x20b)",
			       ld_le16(buf + opt));
	sect_align = ld_le32(buf + opt + 32);
	file_align = ld_le32(buf + opt + 36);
	if (!pow2(sect_align) || !pow2(file_align) || file_align > sect_align ||
	    file_align > 0x10000)
		return err_set(ENOEXEC, "PE section alignment %#x / file alignment %#x not sane",
			       sect_align, file_align);
	ndirs = ld_le32(buf + opt + 108);
	if (ndirs > (uint32_t)(opt_size - PE32PLUS_OPT_MIN) / 8)
		return err_set(ENOEXEC,
			       "PE optional header lists %u data directories, has room for %u",
			       ndirs, (opt_size - PE32PLUS_OPT_MIN) / 8);
	if (*nsec == 0)
		return err_set(ENOEXEC, "UKI has no sections");
	if (*nsec > PE_MAX_SECTIONS)
		return err_set(ENOEXEC, "PE image has %u sections (max %d)", *nsec,
			       PE_MAX_SECTIONS);
	*table = opt + opt_size;
	tbl_end = *table + (uint64_t)*nsec * PE_SECTION_SIZE;
	if (tbl_end > len)
		return err_set(ENOEXEC,
			       "PE image truncated: section table ends at %#llx, file is %zu "
			       "bytes",
			       (unsigned long long)tbl_end, len);
	return 0;
}

static int check_section(const struct sec *s, uint64_t tbl_end, size_t len)
{
	if ((uint64_t)s->vaddr + s->vsize > UINT32_MAX ||
	    (uint64_t)s->vaddr + s->raw_size > UINT32_MAX)
		return err_set(ENOEXEC, "PE section %d (%s) virtual range overflows", s->index,
			       s->name);
	if (s->raw_size == 0)
		return 0;
	if ((uint64_t)s->raw_ptr + s->raw_size > len)
		return err_set(ENOEXEC, "PE section %d (%s) outside the file (truncated image?)",
			       s->index, s->name);
	if (s->raw_ptr < tbl_end)
		return err_set(ENOEXEC, "PE section %d (%s) overlaps the PE headers", s->index,
			       s->name);
	return 0;
}

struct want {
	const char *name;
	const uint8_t **ptr;
	size_t *len;
	int scope; /* -1: not seen; 0: base; 1: profile 0 */
};

/* Drop trailing NULs and newlines (text sections built from files). */
static size_t trim(const uint8_t *p, size_t n)
{
	while (n > 0 && (p[n - 1] == 0 || p[n - 1] == '\n' || p[n - 1] == '\r'))
		n--;
	return n;
}

int loader_parse_uki(const uint8_t *buf, size_t len, struct uki_image *out)
{
	struct want want[] = {
	    {".linux", &out->linux_sec, &out->linux_len, -1},
	    {".initrd", &out->initrd_sec, &out->initrd_len, -1},
	    {".ucode", &out->ucode_sec, &out->ucode_len, -1},
	    {".cmdline", &out->cmdline_sec, &out->cmdline_len, -1},
	    {".osrel", &out->osrel_sec, &out->osrel_len, -1},
	    {".uname", &out->uname_sec, &out->uname_len, -1},
	};
	uint64_t table = 0, tbl_end;
	uint32_t nsec = 0;
	struct sec *secs;
	int r, nraw = 0, profiles = 0;

	memset(out, 0, sizeof(*out));
	r = check_headers(buf, len, &table, &nsec);
	if (r < 0)
		return r;
	tbl_end = table + (uint64_t)nsec * PE_SECTION_SIZE;
	secs = calloc(nsec, sizeof(*secs));
	if (!secs)
		return err_set(ENOMEM, "out of memory parsing the PE section table");

	for (uint32_t i = 0; i < nsec; i++) {
		const uint8_t *p = buf + table + (size_t)i * PE_SECTION_SIZE;
		struct sec s;

		read_name(p, s.name);
		s.vsize = ld_le32(p + 8);
		s.vaddr = ld_le32(p + 12);
		s.raw_size = ld_le32(p + 16);
		s.raw_ptr = ld_le32(p + 20);
		s.index = (int)i;
		r = check_section(&s, tbl_end, len);
		if (r < 0)
			goto out;
		if (s.raw_size > 0)
			secs[nraw++] = s;

		/* Multi-profile UKIs: base sections, then profile 0 (up to the
		 * second .profile), whose sections override the base ones. */
		if (strcmp(s.name, ".profile") == 0)
			profiles++;
		if (profiles >= 2)
			continue;
		for (size_t w = 0; w < sizeof(want) / sizeof(want[0]); w++) {
			size_t n;

			if (strcmp(s.name, want[w].name) != 0)
				continue;
			if (want[w].scope == profiles) {
				r = err_set(ENOEXEC, "UKI has more than one %s section", s.name);
				goto out;
			}
			want[w].scope = profiles;
			n = s.vsize && s.vsize < s.raw_size ? s.vsize : s.raw_size;
			*want[w].ptr = n ? buf + s.raw_ptr : NULL;
			*want[w].len = n;
		}
	}

	qsort(secs, (size_t)nraw, sizeof(secs[0]), sec_cmp);
	for (int i = 1; i < nraw; i++) {
		if (secs[i].raw_ptr - secs[i - 1].raw_ptr < secs[i - 1].raw_size) {
			r = err_set(ENOEXEC, "PE sections %s and %s overlap in the file",
				    secs[i - 1].name, secs[i].name);
			goto out;
		}
	}
	if (!out->linux_sec) {
		r = err_set(ENOEXEC, "UKI has no .linux section");
		goto out;
	}
	if (!loader_is_bzimage(out->linux_sec, out->linux_len)) {
		r = err_set(ENOEXEC, "UKI .linux section is not a bzImage");
		goto out;
	}
	out->cmdline_len = trim(out->cmdline_sec, out->cmdline_len);
	out->uname_len = trim(out->uname_sec, out->uname_len);
	r = 0;
out:
	free(secs);
	if (r < 0)
		memset(out, 0, sizeof(*out));
	return r;
}

int loader_uki_initrd(const struct uki_image *uki, uint8_t **buf, size_t *len)
{
	size_t n = uki->ucode_len + uki->initrd_len;

	*buf = NULL;
	*len = 0;
	if (n == 0)
		return 0;
	*buf = malloc(n);
	if (!*buf)
		return err_set(ENOMEM, "out of memory for the UKI initrd (%zu MiB)", n >> 20);
	if (uki->ucode_len)
		memcpy(*buf, uki->ucode_sec, uki->ucode_len);
	if (uki->initrd_len)
		memcpy(*buf + uki->ucode_len, uki->initrd_sec, uki->initrd_len);
	*len = n;
	return 0;
}
