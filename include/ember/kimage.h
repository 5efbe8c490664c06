/* A kernel image to load (base: any architecture's loaders read through it). */
#ifndef EMBER_KIMAGE_H
#define EMBER_KIMAGE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ember/memory.h"

/* A kernel image to load: all in memory (buf), or an open file (fd) read
 * with pread, so that the bulk of it (a bzImage's protected-mode part, ELF
 * segments) goes from the page cache straight into guest memory, never
 * through a heap buffer. [off, off + len) is the image's window in the file.
 * Headers are read into small local copies and validated there; the image
 * may change under ember (a hostile file): what is loaded is what was read,
 * and a file that shrinks fails the load with EIO. */
struct kimage {
	const uint8_t *buf; /* the whole image, or NULL: read it from fd */
	int fd;
	uint64_t off;
	size_t len;
	const uint8_t *head; /* optional: image bytes [0, head_len) already read; */
	size_t head_len;     /* reads inside them are served from there */
	bool map;	     /* the file cannot change (a lease): kimage_load may map
				its page-aligned part (gm_map_file) instead of copying */
};

static inline struct kimage kimage_mem(const uint8_t *buf, size_t len)
{
	return (struct kimage){.buf = buf, .fd = -1, .off = 0, .len = len};
}

/* Copy [off, off + len) of the image to dst: 0 or -errno (EIO: outside the
 * image or the file shrank). */
int kimage_read(const struct kimage *img, uint64_t off, void *dst, size_t len);
/* The same into guest memory at gpa: mapped where img->map allows it, else
 * copied, faulted in first in one step (gm_populate): 0, -EFAULT (not RAM)
 * or -EIO. */
int kimage_load(const struct kimage *img, struct guest_mem *gm, uint64_t gpa, uint64_t off,
		size_t len);

#endif
