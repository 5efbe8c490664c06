/* A kernel (or initrd) image read from memory or from a file into guest
 * memory: the one reader every architecture's loaders use. */
#include "ember/kimage.h"

#include <errno.h>
#include <string.h>
#include <sys/uio.h>

int kimage_read(const struct kimage *img, uint64_t off, void *dst, size_t len)
{
	uint8_t *p = dst;

	if (off > img->len || len > img->len - off)
		return -EIO;
	if (img->buf || (img->head && off + len <= img->head_len)) {
		memcpy(dst, (img->buf ? img->buf : img->head) + off, len);
		return 0;
	}
	while (len > 0) {
		/* preadv: the one positioned read every VMM filter allows */
		struct iovec iov = {.iov_base = p, .iov_len = len};
		ssize_t n = preadv(img->fd, &iov, 1, (off_t)(img->off + off));

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -EIO; /* an error, or the file shrank */
		p += n;
		off += (uint64_t)n;
		len -= (size_t)n;
	}
	return 0;
}

int kimage_load(const struct kimage *img, struct guest_mem *gm, uint64_t gpa, uint64_t off,
		size_t len)
{
	uint8_t *dst = gm_slice(gm, gpa, len);
	int r;

	if (!dst)
		return -EFAULT;
	if (off > img->len || len > img->len - off)
		return -EIO;
	if (!img->buf && img->map && len) {
		/* the page cache's pages themselves, copied only when written */
		long n = gm_map_file(gm, gpa, img->fd, img->off + off, len);

		if (n < 0)
			return (int)n;
		gpa += (uint64_t)n;
		off += (uint64_t)n;
		len -= (size_t)n;
		dst += n;
		if (!len)
			return 0;
	}
	/* Through the memfd: the pages are never zeroed before they are filled
	 * (the cost that dominates a copy into fresh guest RAM). */
	r = img->buf ? gm_fill(gm, gpa, img->buf + off, len)
		     : gm_fill_from_fd(gm, gpa, img->fd, img->off + off, len);
	if (r != -EINVAL && r != -ENOSYS)
		return r;
	/* no sendfile into this memfd: fault the range in at once, then copy */
	if ((r = gm_populate(gm, gpa, len)) < 0)
		return r;
	gm_mark_dirty(gm, dst, len);
	return kimage_read(img, off, dst, len);
}
