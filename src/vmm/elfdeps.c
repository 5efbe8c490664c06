/* ELF dependency closure of host executables (see elfdeps.h). */
#include "ember/elfdeps.h"

#include <elf.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ember/arch.h"
#include "ember/error.h"
#include "ember/util.h"

#define MAX_FILE (512ULL << 20)

/* The loader's default directories after the multiarch ones,
 * /lib/<name>-linux-gnu and /usr/lib/<name>-linux-gnu (Debian's triplets
 * for x86_64 and aarch64 are the machine's name and -linux-gnu). */
static const char *const default_dirs[] = {
    "/lib64", "/lib", "/usr/lib", "/usr/local/lib", NULL,
};

/* A NUL-terminated string at off inside [0, len), or NULL. */
static const char *str_at(const unsigned char *buf, size_t len, uint64_t off)
{
	if (off >= len || !memchr(buf + off, 0, len - off))
		return NULL;
	return (const char *)buf + off;
}

/* File offset of virtual address va (in a PT_LOAD), or UINT64_MAX. */
static uint64_t va_to_off(const Elf64_Phdr *ph, int n, uint64_t va)
{
	for (int i = 0; i < n; i++)
		if (ph[i].p_type == PT_LOAD && va >= ph[i].p_vaddr &&
		    va - ph[i].p_vaddr < ph[i].p_filesz)
			return ph[i].p_offset + (va - ph[i].p_vaddr);
	return UINT64_MAX;
}

int elf_parse(const unsigned char *buf, size_t len, struct elf_info *out)
{
	const Elf64_Ehdr *eh = (const void *)buf;
	const Elf64_Phdr *ph;
	const Elf64_Dyn *dyn = NULL;
	uint64_t ndyn = 0, strtab = UINT64_MAX, strsz = 0, rpath = UINT64_MAX, runpath = UINT64_MAX;
	Elf64_Ehdr ehc;

	memset(out, 0, sizeof(*out));
	if (len < sizeof(*eh) || memcmp(buf, ELFMAG, SELFMAG) != 0)
		return -ENOEXEC;
	memcpy(&ehc, eh, sizeof(ehc));
	if (ehc.e_ident[EI_CLASS] != ELFCLASS64 || ehc.e_ident[EI_DATA] != ELFDATA2LSB ||
	    ehc.e_machine != arch_layout.elf_machine)
		return -ENOEXEC;
	if (ehc.e_phentsize != sizeof(Elf64_Phdr) || ehc.e_phoff >= len ||
	    ehc.e_phnum > (len - ehc.e_phoff) / sizeof(Elf64_Phdr) || ehc.e_phoff % 8)
		return -EINVAL;
	ph = (const void *)(buf + ehc.e_phoff);
	for (int i = 0; i < ehc.e_phnum; i++) {
		if (ph[i].p_offset > len || ph[i].p_filesz > len - ph[i].p_offset)
			return -EINVAL;
		if (ph[i].p_type == PT_INTERP) {
			const char *s =
			    ph[i].p_filesz
				? str_at(buf, ph[i].p_offset + ph[i].p_filesz, ph[i].p_offset)
				: NULL;
			if (!s || !*s)
				return -EINVAL;
			out->interp = s;
		} else if (ph[i].p_type == PT_DYNAMIC) {
			if (ph[i].p_offset % 8)
				return -EINVAL;
			dyn = (const void *)(buf + ph[i].p_offset);
			ndyn = ph[i].p_filesz / sizeof(Elf64_Dyn);
		}
	}
	if (!dyn)
		return 0;
	for (uint64_t i = 0; i < ndyn && dyn[i].d_tag != DT_NULL; i++) {
		if (dyn[i].d_tag == DT_STRTAB)
			strtab = va_to_off(ph, ehc.e_phnum, dyn[i].d_un.d_ptr);
		else if (dyn[i].d_tag == DT_STRSZ)
			strsz = dyn[i].d_un.d_val;
		else if (dyn[i].d_tag == DT_RPATH)
			rpath = dyn[i].d_un.d_val;
		else if (dyn[i].d_tag == DT_RUNPATH)
			runpath = dyn[i].d_un.d_val;
	}
	if (strtab == UINT64_MAX || strtab >= len || strsz > len - strtab)
		return -EINVAL;
	for (uint64_t i = 0; i < ndyn && dyn[i].d_tag != DT_NULL; i++) {
		const char *s;

		if (dyn[i].d_tag != DT_NEEDED)
			continue;
		if (dyn[i].d_un.d_val >= strsz ||
		    !(s = str_at(buf, strtab + strsz, strtab + dyn[i].d_un.d_val)) || !*s)
			return -EINVAL;
		if (out->nneeded >= (int)ARRAY_SIZE(out->needed))
			return -E2BIG;
		out->needed[out->nneeded++] = s;
	}
	if (runpath == UINT64_MAX)
		runpath = rpath;
	if (runpath != UINT64_MAX) {
		if (runpath >= strsz ||
		    !(out->runpath = str_at(buf, strtab + strsz, strtab + runpath)))
			return -EINVAL;
	}
	return 0;
}

static bool have(const struct elfdeps *d, const char *path)
{
	for (int i = 0; i < d->n; i++)
		if (strcmp(d->path[i], path) == 0)
			return true;
	return false;
}

static int push(struct elfdeps *d, const char *path)
{
	if (have(d, path))
		return 0;
	if (d->n >= ELFDEPS_MAX)
		return err_set(E2BIG, "%s: more than %d files", path, ELFDEPS_MAX);
	if (!(d->path[d->n] = strdup(path)))
		return err_set(ENOMEM, "out of memory");
	d->n++;
	return 1;
}

/* An x86-64 ELF64 file the loader would take? */
static bool loadable(const char *path)
{
	unsigned char h[sizeof(Elf64_Ehdr)];
	Elf64_Ehdr eh;
	FILE *f = fopen(path, "rbe");
	bool ok;

	if (!f)
		return false;
	ok = fread(h, 1, sizeof(h), f) == sizeof(h);
	fclose(f);
	memcpy(&eh, h, sizeof(eh));
	return ok && memcmp(h, ELFMAG, SELFMAG) == 0 && eh.e_ident[EI_CLASS] == ELFCLASS64 &&
	       eh.e_machine == arch_layout.elf_machine;
}

/* Look for name in the ':'-separated dirs ($ORIGIN = origin). */
static bool search(const char *dirs, const char *origin, const char *name, char *out, size_t cap)
{
	while (dirs && *dirs) {
		const char *end = strchrnul(dirs, ':');
		int n = (int)(end - dirs);
		char dir[PATH_MAX];

		if (n > 0 && n < (int)sizeof(dir)) {
			memcpy(dir, dirs, (size_t)n);
			dir[n] = 0;
			if (strncmp(dir, "$ORIGIN", 7) == 0 || strncmp(dir, "${ORIGIN}", 9) == 0) {
				const char *rest = dir + (dir[1] == '{' ? 9 : 7);
				char tmp[PATH_MAX];

				snprintf(tmp, sizeof(tmp), "%s%s", origin, rest);
				snprintf(dir, sizeof(dir), "%s", tmp);
			}
			if (snprintf(out, cap, "%s/%s", dir, name) < (int)cap && loadable(out))
				return true;
		}
		dirs = *end ? end + 1 : end;
	}
	return false;
}

static int add_elf(struct elfdeps *d, const char *path, int depth);

static int add_needed(struct elfdeps *d, const char *obj, const struct elf_info *ei, int depth)
{
	char origin[PATH_MAX], found[PATH_MAX];
	const char *slash = strrchr(obj, '/');
	int r;

	snprintf(origin, sizeof(origin), "%.*s", slash ? (int)(slash - obj) : 1, slash ? obj : ".");
	for (int i = 0; i < ei->nneeded; i++) {
		const char *name = ei->needed[i];
		bool ok = false;

		if (strchr(name, '/')) {
			snprintf(found, sizeof(found), "%s", name);
			ok = loadable(found);
		}
		if (!ok && ei->runpath)
			ok = search(ei->runpath, origin, name, found, sizeof(found));
		if (!ok)
			ok = search(getenv("LD_LIBRARY_PATH"), origin, name, found, sizeof(found));
		for (int k = 0; !ok && k < 2; k++) {
			char multiarch[64];

			snprintf(multiarch, sizeof(multiarch), "%s/lib/%s-linux-gnu",
				 k ? "/usr" : "", arch_layout.name);
			ok = search(multiarch, origin, name, found, sizeof(found));
		}
		for (int k = 0; !ok && default_dirs[k]; k++)
			ok = search(default_dirs[k], origin, name, found, sizeof(found));
		if (!ok)
			return err_set(ENOENT, "%s: needs %s, which is not found", obj, name);
		if ((r = add_elf(d, found, depth + 1)) < 0)
			return r;
	}
	return 0;
}

static int add_elf(struct elfdeps *d, const char *path, int depth)
{
	struct elf_info ei;
	uint8_t *buf = NULL;
	size_t len;
	int r;

	if (depth > 32)
		return err_set(ELOOP, "%s: dependencies nested too deep", path);
	if ((r = push(d, path)) <= 0)
		return r; /* error, or already there */
	if ((r = read_whole_file(path, MAX_FILE, &buf, &len)) < 0)
		return r;
	r = elf_parse(buf, len, &ei);
	if (r == -ENOEXEC && len > 2 && buf[0] == '#' && buf[1] == '!' && depth == 0) {
		/* a script: its interpreter too */
		char interp[PATH_MAX];
		size_t i = 2, j = 0;

		while (i < len && (buf[i] == ' ' || buf[i] == '\t'))
			i++;
		while (i < len && j + 1 < sizeof(interp) && buf[i] != ' ' && buf[i] != '\t' &&
		       buf[i] != '\n')
			interp[j++] = (char)buf[i++];
		interp[j] = 0;
		free(buf);
		if (interp[0] != '/')
			return err_set(ENOEXEC, "%s: a script without an absolute #! path", path);
		if (access(interp, X_OK) < 0)
			return err_set(ENOENT, "%s: interpreter %s not found", path, interp);
		return add_elf(d, interp, depth + 1);
	}
	if (r < 0) {
		free(buf);
		return err_set(-r, "%s: %s", path,
			       r == -ENOEXEC ? "not an x86-64 ELF executable or script"
					     : "malformed ELF file");
	}
	if (ei.interp && access(ei.interp, R_OK) < 0) {
		r = err_set(ENOENT, "%s: its loader %s is not on this host", path, ei.interp);
	} else if (ei.interp && (r = push(d, ei.interp)) < 0) {
		/* error set */
	} else {
		r = add_needed(d, path, &ei, depth);
	}
	free(buf);
	return r < 0 ? r : 0;
}

int elfdeps_add(struct elfdeps *d, const char *path)
{
	if (access(path, R_OK) < 0)
		return err_set(errno, "%s: %s", path, strerror(errno));
	return add_elf(d, path, 0);
}

void elfdeps_free(struct elfdeps *d)
{
	for (int i = 0; i < d->n; i++)
		free(d->path[i]);
	d->n = 0;
}
