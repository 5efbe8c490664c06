/* Guest RAM: one memfd, one host mapping, up to two guest-physical regions. */
#include "ember/memory.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/memfd.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/sendfile.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#include "ember/error.h"
#include "ember/libc_compat.h"

#define MIN_U64(a, b) ((a) < (b) ? (a) : (b))

static void split_regions(struct guest_mem *gm, uint64_t gap_start, uint64_t gap_end);

int gm_init(struct guest_mem *gm, uint64_t size, uint64_t gap_start, uint64_t gap_end)
{
	return gm_init_backed(gm, size, gap_start, gap_end, GM_PAGES_4K);
}

int gm_init_backed(struct guest_mem *gm, uint64_t size, uint64_t gap_start, uint64_t gap_end,
		   enum gm_pages pages)
{
	unsigned int mfd_flags = MFD_CLOEXEC;
	void *p;
	int fd;

	memset(gm, 0, sizeof(*gm));
	gm->memfd = -1;
	if (size == 0 || size & 0xfff)
		return err_set(EINVAL,
			       "guest memory size %#llx is not a positive multiple of 4 KiB",
			       (unsigned long long)size);
	if (gap_end < gap_start)
		return err_set(EINVAL, "bad MMIO gap");
	if (pages == GM_PAGES_2M) {
		if (size & (GM_HUGE_2M - 1) || gap_start & (GM_HUGE_2M - 1))
			return err_set(EINVAL, "guest memory size %#llx is not a multiple of 2 MiB",
				       (unsigned long long)size);
		mfd_flags |= MFD_HUGETLB | MFD_HUGE_2MB;
	}
	fd = memfd_create("ember-guest-ram", mfd_flags);
	if (fd < 0)
		return err_set(errno, "memfd_create%s: %s",
			       pages == GM_PAGES_2M ? " (2 MiB hugetlb)" : "", strerror(errno));
	if (ftruncate(fd, (off_t)size) < 0) {
		int e = errno;
		close(fd);
		return err_set(e, "guest memory of %llu MiB: %s", (unsigned long long)(size >> 20),
			       strerror(e));
	}
	p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_NORESERVE, fd, 0);
	if (p == MAP_FAILED) {
		int e = errno;
		close(fd);
		return err_set(e, "mapping %llu MiB of guest memory: %s",
			       (unsigned long long)(size >> 20), strerror(e));
	}
	/* "Transparent": ask for THP on the shared mapping (shmem THP also
	 * depends on the host's transparent_hugepage/shmem_enabled). */
	if (pages == GM_PAGES_THP && madvise(p, size, MADV_HUGEPAGE) < 0) {
		int e = errno;
		munmap(p, size);
		close(fd);
		return err_set(e, "madvise(MADV_HUGEPAGE) on guest memory: %s", strerror(e));
	}
	gm->memfd = fd;
	gm->base = p;
	gm->total = size;
	gm->pages = pages;
	split_regions(gm, gap_start, gap_end);
	return 0;
}

int gm_init_file(struct guest_mem *gm, uint64_t size, uint64_t gap_start, uint64_t gap_end, int fd)
{
	struct stat st;
	void *p;

	memset(gm, 0, sizeof(*gm));
	gm->memfd = -1;
	if (size == 0 || size & 0xfff || gap_end < gap_start)
		return err_set(EINVAL,
			       "guest memory size %#llx is not a positive multiple of 4 KiB",
			       (unsigned long long)size);
	if (fd >= 0 && fstat(fd, &st) < 0)
		return err_set(errno, "memory file: %s", strerror(errno));
	if (fd >= 0 && !S_ISREG(st.st_mode))
		return err_set(EINVAL, "memory file: not a regular file");
	if (fd >= 0 && (uint64_t)st.st_size < size)
		return err_set(EINVAL, "memory file: %llu bytes, shorter than the guest's %llu MiB",
			       (unsigned long long)st.st_size, (unsigned long long)(size >> 20));
	p = mmap(NULL, size, PROT_READ | PROT_WRITE,
		 MAP_PRIVATE | MAP_NORESERVE | (fd < 0 ? MAP_ANONYMOUS : 0), fd, 0);
	if (p == MAP_FAILED)
		return err_set(errno, "mapping the memory file: %s", strerror(errno));
	gm->base = p;
	gm->total = size;
	gm->private_file = true;
	if (fd >= 0) {
		gm->file_dev = (uint64_t)st.st_dev;
		gm->file_ino = (uint64_t)st.st_ino;
	}
	split_regions(gm, gap_start, gap_end);
	return 0;
}

#ifndef PR_SET_VMA
#define PR_SET_VMA 0x53564d41
#define PR_SET_VMA_ANON_NAME 0
#endif

/* Guest RAM, no memory of the VMM's own: not copied into a forked child
 * (passt), and named in /proc/PID/smaps where the host names anonymous
 * mappings (the RSS benchmark tells guest RAM from the VMM's memory by it). */
static void mark_ram(const struct guest_mem *gm, void *p, uint64_t len)
{
	/* huge_pages "None" is 4 KiB pages, whatever the host's THP default
	 * ("always" on Debian) would make of anonymous memory, as it was with
	 * the memfd: what the guest's memory is made of does not change with
	 * the host's settings */
	if (gm->pages == GM_PAGES_4K)
		(void)madvise(p, len, MADV_NOHUGEPAGE);
	(void)madvise(p, len, MADV_DONTFORK);
	(void)prctl(PR_SET_VMA, PR_SET_VMA_ANON_NAME, p, len, "ember-guest-ram");
}

int gm_init_anon(struct guest_mem *gm, uint64_t size, uint64_t gap_start, uint64_t gap_end,
		 enum gm_pages pages)
{
	int r;

	if (pages == GM_PAGES_2M)
		return gm_init_backed(gm, size, gap_start, gap_end, pages);
	if ((r = gm_init_file(gm, size, gap_start, gap_end, -1)) < 0)
		return r;
	gm->pages = pages;
	gm->anon = true;
	if (pages == GM_PAGES_THP && madvise(gm->base, size, MADV_HUGEPAGE) < 0) {
		int e = errno;
		gm_destroy(gm);
		return err_set(e, "madvise(MADV_HUGEPAGE) on guest memory: %s", strerror(e));
	}
	mark_ram(gm, gm->base, size);
	return 0;
}

long gm_map_file(struct guest_mem *gm, uint64_t gpa, int fd, uint64_t off, size_t len)
{
	uint8_t *p = gm_slice(gm, gpa, len);
	uint64_t n = len & ~(uint64_t)0xfff;

	if (!p)
		return -EFAULT;
	if (!gm->anon || (gpa & 0xfff) || (off & 0xfff) || ((uintptr_t)p & 0xfff) ||
	    gm->nfmaps == GM_MAX_FILE_MAPS || !n)
		return 0; /* not anonymous RAM, or not page-aligned: copy */
	if (mmap(p, n, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_FIXED | MAP_NORESERVE, fd,
		 (off_t)off) == MAP_FAILED) {
		int e = errno;
		/* MAP_FIXED failed: the range may be gone; make it RAM again */
		if (mmap(p, n, PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_FIXED | MAP_ANONYMOUS | MAP_NORESERVE, -1,
			 0) == MAP_FAILED)
			return -errno;
		mark_ram(gm, p, n);
		return e == ENODEV || e == EACCES || e == EINVAL ? 0 : -e;
	}
	(void)madvise(p, n, MADV_DONTFORK);
	gm->fmaps[gm->nfmaps++] = (struct gm_file_map){.hva = p, .len = n};
	gm_mark_dirty(gm, p, n);
	return (long)n;
}

int gm_unshare_files(struct guest_mem *gm)
{
	while (gm->nfmaps > 0) {
		struct gm_file_map *f = &gm->fmaps[gm->nfmaps - 1];
		void *tmp = mmap(NULL, f->len, PROT_READ | PROT_WRITE,
				 MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);

		if (tmp == MAP_FAILED)
			return -errno;
		memcpy(tmp, f->hva, f->len);
		if (mremap(tmp, f->len, f->len, MREMAP_MAYMOVE | MREMAP_FIXED, f->hva) ==
		    MAP_FAILED) {
			int e = errno;
			munmap(tmp, f->len);
			return -e;
		}
		mark_ram(gm, f->hva, f->len);
		gm->nfmaps--;
	}
	return 0;
}

uint64_t gm_file_mapped_bytes(const struct guest_mem *gm)
{
	uint64_t n = 0;

	for (int i = 0; i < gm->nfmaps; i++)
		n += gm->fmaps[i].len;
	return n;
}

/* Is mapping offset off inside a file-mapped range? */
static bool in_fmap(const struct guest_mem *gm, uint64_t off)
{
	for (int i = 0; i < gm->nfmaps; i++) {
		uint64_t s = (uint64_t)(gm->fmaps[i].hva - gm->base);
		if (off >= s && off - s < gm->fmaps[i].len)
			return true;
	}
	return false;
}

/* /proc/self/pagemap, opened once (VMM thread: snapshots); -1 where /proc
 * is not mounted (a jail): then all anonymous RAM counts as data. */
static int pagemap_fd(void)
{
	static int fd = -2;

	if (fd == -2)
		fd = open("/proc/self/pagemap", O_RDONLY | O_CLOEXEC);
	return fd;
}

#define PM_PRESENT (1ULL << 63)
#define PM_SWAPPED (1ULL << 62)

bool gm_next_data(const struct guest_mem *gm, uint64_t off, uint64_t *start, uint64_t *end)
{
	enum { WIN = 4096 }; /* pages per pagemap read: 16 MiB of RAM */
	uint64_t pm[WIN];
	int fd;

	if (gm->memfd >= 0) {
		off_t d = lseek(gm->memfd, (off_t)off, SEEK_DATA), h;

		if (d < 0 && errno == ENXIO)
			return false;
		if (d < 0) /* SEEK_DATA unsupported (hugetlbfs): all data */
			d = (off_t)off;
		if ((uint64_t)d >= gm->total)
			return false;
		h = lseek(gm->memfd, d, SEEK_HOLE);
		*start = (uint64_t)d;
		*end = h < 0 || (uint64_t)h > gm->total ? gm->total : (uint64_t)h;
		return true;
	}
	off &= ~(uint64_t)0xfff;
	if (off >= gm->total)
		return false;
	*start = off;
	*end = gm->total;
	/* a memory file, or filled by a userfaultfd handler: all data */
	if (!gm->anon || (fd = pagemap_fd()) < 0)
		return true;
	/* anonymous: pages never touched are neither present nor swapped */
	while (off < gm->total) {
		uint64_t pages = (gm->total - off) / 4096, i = 0, j;
		struct iovec iov = {.iov_base = pm, .iov_len = 0};

		if (pages > WIN)
			pages = WIN;
		iov.iov_len = pages * sizeof(pm[0]);
		if (preadv(fd, &iov, 1, (off_t)(((uintptr_t)gm->base + off) / 4096 * 8)) !=
		    (ssize_t)iov.iov_len) {
			*start = off; /* cannot tell: data */
			*end = gm->total;
			return true;
		}
		while (i < pages && !(pm[i] & (PM_PRESENT | PM_SWAPPED)) &&
		       !in_fmap(gm, off + i * 4096))
			i++;
		if (i == pages) {
			off += pages * 4096;
			continue;
		}
		for (j = i; j < pages &&
			    ((pm[j] & (PM_PRESENT | PM_SWAPPED)) || in_fmap(gm, off + j * 4096));
		     j++)
			;
		*start = off + i * 4096;
		*end = off + j * 4096;
		return true;
	}
	return false;
}

static void split_regions(struct guest_mem *gm, uint64_t gap_start, uint64_t gap_end)
{
	uint64_t size = gm->total;
	uint8_t *p = gm->base;

	if (gap_start == 0 && gap_end > 0) {
		/* RAM starts at gap_end (aarch64: at 2 GiB) */
		gm->regions[0] =
		    (struct gm_region){.gpa = gap_end, .size = size, .file_offset = 0, .hva = p};
		gm->nregions = 1;
	} else if (gap_start == gap_end || size <= gap_start) {
		gm->regions[0] =
		    (struct gm_region){.gpa = 0, .size = size, .file_offset = 0, .hva = p};
		gm->nregions = 1;
	} else {
		gm->regions[0] =
		    (struct gm_region){.gpa = 0, .size = gap_start, .file_offset = 0, .hva = p};
		gm->regions[1] = (struct gm_region){.gpa = gap_end,
						    .size = size - gap_start,
						    .file_offset = gap_start,
						    .hva = (uint8_t *)p + gap_start};
		gm->nregions = 2;
	}
}

int gm_track_dirty(struct guest_mem *gm)
{
	size_t words = (size_t)((gm->total / 4096 + 63) / 64);

	if (gm->dirty)
		return 0;
	gm->dirty = calloc(words, sizeof(uint64_t));
	return gm->dirty ? 0 : err_set(ENOMEM, "dirty page bitmap: out of memory");
}

void gm_mark_dirty(const struct guest_mem *gm, const void *hva, uint64_t len)
{
	uintptr_t a = (uintptr_t)hva, base = (uintptr_t)gm->base;
	uint64_t first, last;

	if (!gm->dirty || !len || a < base || a - base >= gm->total)
		return;
	first = (a - base) / 4096;
	last = (MIN_U64(a - base + len, gm->total) - 1) / 4096;
	for (uint64_t p = first; p <= last; p++)
		__atomic_fetch_or(&gm->dirty[p / 64], 1ull << (p % 64), __ATOMIC_RELAXED);
}

void gm_destroy(struct guest_mem *gm)
{
	free(gm->dirty);
	if (gm->hotplug.hva)
		munmap(gm->hotplug.hva, gm->hotplug.size);
	if (gm->hotplug.hva && gm->hotplug.fd >= 0)
		close(gm->hotplug.fd);
	free(gm->hotplug.mapped);
	if (gm->base)
		munmap(gm->base, gm->total);
	if (gm->memfd >= 0)
		close(gm->memfd);
	memset(gm, 0, sizeof(*gm));
	gm->memfd = -1;
}

/* [gpa, gpa+len) inside hotplug memory with every slot it touches mapped:
 * its host address, else NULL. */
static void *hotplug_slice(const struct gm_hotplug *h, uint64_t gpa, uint64_t len)
{
	uint64_t off, first, last;

	if (!h->hva || gpa < h->gpa)
		return NULL;
	off = gpa - h->gpa;
	if (off > h->size || len > h->size - off)
		return NULL;
	first = off / h->slot_size;
	last = (len ? off + len - 1 : off) / h->slot_size;
	if (off == h->size) /* len 0 at the very end */
		last = first = h->nslots - 1;
	for (uint64_t s = first; s <= last; s++)
		if (!(__atomic_load_n(&h->mapped[s / 64], __ATOMIC_ACQUIRE) & (1ULL << (s % 64))))
			return NULL;
	return h->hva + off;
}

void *gm_slice(const struct guest_mem *gm, uint64_t gpa, uint64_t len)
{
	for (int i = 0; i < gm->nregions; i++) {
		const struct gm_region *r = &gm->regions[i];
		uint64_t off;

		if (gpa < r->gpa)
			continue;
		off = gpa - r->gpa;
		if (off > r->size || len > r->size - off)
			continue;
		return r->hva + off;
	}
	return hotplug_slice(&gm->hotplug, gpa, len);
}

int gm_hotplug_init(struct guest_mem *gm, uint64_t gpa, uint64_t size, uint64_t slot_size)
{
	struct gm_hotplug *h = &gm->hotplug;
	void *p;
	int fd;

	if (h->hva)
		return err_set(EEXIST, "hotplug memory: already set up");
	if (!slot_size || (slot_size & 0xfff) || !size || size % slot_size || gpa % slot_size ||
	    gpa + size < gpa)
		return err_set(EINVAL, "hotplug memory: %#llx bytes at %#llx in slots of %#llx",
			       (unsigned long long)size, (unsigned long long)gpa,
			       (unsigned long long)slot_size);
	fd = memfd_create("ember-hotplug-mem", MFD_CLOEXEC);
	if (fd < 0)
		return err_set(errno, "hotplug memory: memfd_create: %s", strerror(errno));
	if (ftruncate(fd, (off_t)size) < 0) {
		int e = errno;
		close(fd);
		return err_set(e, "hotplug memory of %llu MiB: %s",
			       (unsigned long long)(size >> 20), strerror(e));
	}
	p = mmap(NULL, size, PROT_NONE, MAP_SHARED | MAP_NORESERVE, fd, 0);
	if (p == MAP_FAILED) {
		int e = errno;
		close(fd);
		return err_set(e, "mapping %llu MiB of hotplug memory: %s",
			       (unsigned long long)(size >> 20), strerror(e));
	}
	h->nslots = (unsigned)(size / slot_size);
	h->mapped = calloc((h->nslots + 63) / 64, sizeof(uint64_t));
	if (!h->mapped) {
		munmap(p, size);
		close(fd);
		return err_set(ENOMEM, "hotplug memory: out of memory");
	}
	if (gm->pages == GM_PAGES_THP)
		(void)madvise(p, size, MADV_HUGEPAGE); /* a hint, as for RAM */
	h->gpa = gpa;
	h->size = size;
	h->slot_size = slot_size;
	h->fd = fd;
	h->hva = p;
	return 0;
}

int gm_hotplug_map_slot(struct guest_mem *gm, unsigned slot, bool mapped)
{
	struct gm_hotplug *h = &gm->hotplug;
	uint64_t bit = 1ULL << (slot % 64);

	if (!h->hva || slot >= h->nslots)
		return -EINVAL;
	if (!mapped) /* unreachable for the device code before the pages go */
		__atomic_fetch_and(&h->mapped[slot / 64], ~bit, __ATOMIC_RELEASE);
	if (mprotect(h->hva + (uint64_t)slot * h->slot_size, h->slot_size,
		     mapped ? PROT_READ | PROT_WRITE : PROT_NONE) < 0)
		return -errno;
	if (mapped)
		__atomic_fetch_or(&h->mapped[slot / 64], bit, __ATOMIC_RELEASE);
	return 0;
}

bool gm_hotplug_slot_mapped(const struct guest_mem *gm, unsigned slot)
{
	const struct gm_hotplug *h = &gm->hotplug;

	return h->hva && slot < h->nslots &&
	       (__atomic_load_n(&h->mapped[slot / 64], __ATOMIC_ACQUIRE) & (1ULL << (slot % 64)));
}

int gm_hotplug_discard(const struct guest_mem *gm, uint64_t gpa, uint64_t len)
{
	const struct gm_hotplug *h = &gm->hotplug;
	uint64_t off;

	if (!h->hva || gpa < h->gpa || (gpa & 0xfff) || (len & 0xfff))
		return -EFAULT;
	off = gpa - h->gpa;
	if (off > h->size || len > h->size - off)
		return -EFAULT;
	if (fallocate(h->fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, (off_t)off, (off_t)len) <
	    0)
		return -errno;
	return 0;
}

bool gm_valid(const struct guest_mem *gm, uint64_t gpa, uint64_t len)
{
	return gm_slice(gm, gpa, len) != NULL;
}

int gm_read(const struct guest_mem *gm, uint64_t gpa, void *dst, size_t len)
{
	const void *p = gm_slice(gm, gpa, len);

	if (!p)
		return -EFAULT;
	memcpy(dst, p, len);
	return 0;
}

int gm_write(const struct guest_mem *gm, uint64_t gpa, const void *src, size_t len)
{
	void *p = gm_slice(gm, gpa, len);

	if (!p)
		return -EFAULT;
	memcpy(p, src, len);
	gm_mark_dirty(gm, p, len);
	return 0;
}

int gm_fill(const struct guest_mem *gm, uint64_t gpa, const void *buf, size_t len)
{
	uint8_t *p = gm_slice(gm, gpa, len);
	const uint8_t *src = buf;
	off_t foff;

	if (!p)
		return -EFAULT;
	gm_mark_dirty(gm, p, len);
	if (gm->memfd < 0 || gm->private_file) { /* no memfd behind this RAM */
		memcpy(p, buf, len);
		return 0;
	}
	foff = (off_t)(p - gm->base);
	while (len > 0) {
		struct iovec iov = {.iov_base = (void *)src, .iov_len = len};
		ssize_t n = pwritev(gm->memfd, &iov, 1, foff);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return n < 0 ? -errno : -EIO;
		src += n;
		foff += n;
		len -= (size_t)n;
	}
	return 0;
}

int gm_fill_from_fd(const struct guest_mem *gm, uint64_t gpa, int fd, uint64_t off, size_t len)
{
	uint8_t *p = gm_slice(gm, gpa, len);
	off_t in = (off_t)off;

	if (!p)
		return -EFAULT;
	if (len == 0)
		return 0;
	if (gm->memfd < 0 || gm->private_file)
		return -EINVAL; /* no memfd behind this RAM: the caller copies */
	gm_mark_dirty(gm, p, len);
	if (lseek(gm->memfd, (off_t)(p - gm->base), SEEK_SET) < 0)
		return -errno;
	while (len > 0) {
		ssize_t n = sendfile(gm->memfd, fd, &in, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		if (n == 0)
			return -EIO; /* the file shrank */
		len -= (size_t)n;
	}
	return 0;
}

int gm_populate(const struct guest_mem *gm, uint64_t gpa, uint64_t len)
{
	uint8_t *p = gm_slice(gm, gpa, len);
	uintptr_t start, end;

	if (!p)
		return -EFAULT;
	if (len == 0)
		return 0;
	/* The mapping is page-aligned and regions are whole pages. */
	start = (uintptr_t)p & ~(uintptr_t)0xfff;
	end = ((uintptr_t)p + len + 0xfff) & ~(uintptr_t)0xfff;
	if (madvise((void *)start, end - start, MADV_POPULATE_WRITE) < 0 && errno != EINVAL)
		return -errno;
	return 0;
}

/* Punch [off, off+len) of the memfd; p is its host address. */
static int discard_range(const struct guest_mem *gm, uint8_t *p, uint64_t off, uint64_t len)
{
	gm_mark_dirty(gm, p, len); /* reads as zero (or the file) from now on */
	/* A private file mapping (restored snapshot): drop our copies; the
	 * file is never written. */
	if (gm->private_file)
		return madvise(p, len, MADV_DONTNEED) < 0 ? -errno : 0;
	/* MADV_REMOVE frees the memfd's pages (shared mapping); DONTNEED alone
	 * would only drop this mapping's PTEs. */
	if (fallocate(gm->memfd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, (off_t)off,
		      (off_t)len) < 0 &&
	    madvise(p, len, MADV_REMOVE) < 0)
		return -errno;
	return 0;
}

int gm_discard(const struct guest_mem *gm, uint64_t gpa, uint64_t len)
{
	uint8_t *p = gm_slice(gm, gpa, len);

	if (!p || (gpa & 0xfff) || (len & 0xfff))
		return -EFAULT;
	if (gm->hotplug.hva && p >= gm->hotplug.hva && p < gm->hotplug.hva + gm->hotplug.size)
		return gm_hotplug_discard(gm, gpa, len);
	return discard_range(gm, p, (uint64_t)(p - gm->base), len);
}

int gm_discard_host(const struct guest_mem *gm, const void *hva, uint64_t len)
{
	uintptr_t a = (uintptr_t)hva, base = (uintptr_t)gm->base;
	uint64_t off;

	const struct gm_hotplug *h = &gm->hotplug;

	if (h->hva && a >= (uintptr_t)h->hva && a - (uintptr_t)h->hva < h->size) {
		/* a validated chain's buffer: its slots are mapped */
		uint64_t hoff = a - (uintptr_t)h->hva;

		if (len > h->size - hoff)
			return -EFAULT;
		return gm_hotplug_discard(gm, h->gpa + hoff, len);
	}
	if (!gm->base || a < base || a - base > gm->total || len > gm->total - (a - base))
		return -EFAULT;
	off = a - base;
	if ((off & 0xfff) || (len & 0xfff))
		return -EFAULT;
	return discard_range(gm, gm->base + off, off, len);
}
