/* What a host executable needs to run elsewhere: its ELF interpreter and
 * the shared objects of its DT_NEEDED closure, found as the dynamic loader
 * finds them (DT_RPATH/DT_RUNPATH with $ORIGIN, LD_LIBRARY_PATH, the
 * multiarch and default directories), without running anything (ldd runs
 * the loader on the file). Only ELF64 objects of ember's own machine
 * (arch_layout.elf_machine) are taken; a file that
 * is not one (a script, a 32-bit library in the way) is skipped where the
 * loader would skip it, an error where it was asked for by name. Every file
 * is hostile input: all offsets are bounds-checked. */
#ifndef EMBER_ELFDEPS_H
#define EMBER_ELFDEPS_H

#include <stdbool.h>
#include <stddef.h>

#define ELFDEPS_MAX 512

struct elfdeps {
	int n;
	char *path[ELFDEPS_MAX]; /* host paths, in order found, no duplicates */
};

/* Add path and (if it is a dynamic ELF) its interpreter and the closure of
 * its DT_NEEDED libraries to d. A static ELF or a script adds just itself
 * (scripts: also their #! interpreter). err_set context naming the file on
 * failure: not found, unreadable, a needed library not found. */
int elfdeps_add(struct elfdeps *d, const char *path);
void elfdeps_free(struct elfdeps *d);

/* The parts of one ELF file (for tests): 0, -ENOEXEC (not an ELF64 of
 * ember's machine), -EINVAL (broken). interp/needed/runpath point into buf. */
struct elf_info {
	const char *interp;
	int nneeded;
	const char *needed[64];
	const char *runpath; /* DT_RUNPATH, else DT_RPATH, else NULL */
};
int elf_parse(const unsigned char *buf, size_t len, struct elf_info *out);

#endif
