/* Guest RAM: the only way to reach guest memory from the host.
 *
 * RAM is one memfd mapped MAP_SHARED|MAP_NORESERVE; it is split into at most
 * two guest-physical regions around the MMIO gap. gm_slice() is the single
 * bounds-checked gpa -> host pointer translation: it returns NULL unless every
 * byte of [gpa, gpa+len) lies inside one region. */
#ifndef EMBER_MEMORY_H
#define EMBER_MEMORY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define GM_MAX_REGIONS 2

struct gm_region {
	uint64_t gpa;
	uint64_t size;
	uint64_t file_offset; /* offset in the memfd */
	uint8_t *hva;
};

/* What backs guest RAM: 4 KiB pages, 2 MiB hugetlb pages (a hugetlb memfd;
 * the host must have them reserved), or 4 KiB pages advised for THP. */
enum gm_pages { GM_PAGES_4K = 0, GM_PAGES_2M, GM_PAGES_THP };
#define GM_HUGE_2M (2ULL << 20)

/* Hotpluggable device memory (virtio-mem): its own memfd and mapping above
 * RAM, never in the e820 map. It is divided into slots; a slot is reachable
 * (by gm_slice and, through the VMM's KVM memory slot, by the guest) only
 * while it is mapped, and its pages are PROT_NONE otherwise. */
struct gm_hotplug {
	uint64_t gpa, size, slot_size; /* size: a multiple of slot_size */
	uint8_t *hva;		       /* NULL: no hotplug memory */
	int fd;
	unsigned nslots;
	uint64_t *mapped; /* one bit per slot; read with atomic loads */
};

/* Page-aligned ranges of RAM that map a file MAP_PRIVATE (a kernel or
 * initrd mapped at its load address instead of copied: gm_map_file). */
#define GM_MAX_FILE_MAPS 4
struct gm_file_map {
	uint8_t *hva;
	uint64_t len;
};

struct guest_mem {
	struct gm_region regions[GM_MAX_REGIONS];
	int nregions;
	int memfd;
	uint64_t total;		     /* bytes of RAM */
	uint8_t *base;		     /* the single host mapping of the memfd */
	bool private_file;	     /* base maps a snapshot memory file MAP_PRIVATE */
	uint64_t file_dev, file_ino; /* that file (0 when anonymous) */
	bool anon;		     /* boot RAM from gm_init_anon: untouched pages are zero */
	/* Pages ember itself wrote (gm_write, device-writable buffers of popped
	 * chains, discards), one bit per 4 KiB of the mapping; NULL: not
	 * tracked. KVM logs the guest's own writes (Diff snapshots). */
	uint64_t *dirty;
	enum gm_pages pages;
	struct gm_hotplug hotplug;
	struct gm_file_map fmaps[GM_MAX_FILE_MAPS];
	int nfmaps;
};

/* Allocate SIZE bytes of RAM starting at gpa 0; RAM that would overlap
 * [gap_start, gap_end) continues at gap_end. Pass gap_start == gap_end for no
 * gap (the device harness does); gap_start 0 with gap_end > 0 puts all RAM
 * at gap_end (aarch64: RAM from 2 GiB). */
int gm_init(struct guest_mem *gm, uint64_t size, uint64_t gap_start, uint64_t gap_end);
/* The same with a choice of backing (gm_init is GM_PAGES_4K); GM_PAGES_2M
 * needs size and gap_start multiples of 2 MiB. */
int gm_init_backed(struct guest_mem *gm, uint64_t size, uint64_t gap_start, uint64_t gap_end,
		   enum gm_pages pages);
/* The same layout over a snapshot memory file mapped MAP_PRIVATE (pages
 * read lazily, guest writes copy-on-write, the file is never written; no
 * memfd). -EINVAL if the file is shorter than size. fd < 0: private
 * anonymous memory (a userfaultfd handler fills it). */
int gm_init_file(struct guest_mem *gm, uint64_t size, uint64_t gap_start, uint64_t gap_end, int fd);
/* A VM's boot RAM: private anonymous memory (named "ember-guest-ram" where
 * the host names anonymous mappings, never inherited by a fork); 4 KiB
 * pages, or advised for THP; GM_PAGES_2M is a hugetlb memfd (gm_init_backed).
 * Pages are faulted in (zeroed) only where touched. */
int gm_init_anon(struct guest_mem *gm, uint64_t size, uint64_t gap_start, uint64_t gap_end,
		 enum gm_pages pages);
/* Map [off, off+len) of fd MAP_PRIVATE at gpa instead of copying it: the
 * guest reads the page cache's pages until it writes them (copy-on-write).
 * Only whole pages (gpa and off 4 KiB-aligned; the partial last page is
 * not mapped) inside one region of anonymous RAM (gm_init_anon). Returns
 * the bytes mapped (a multiple of 4 KiB, maybe 0: the caller copies the
 * rest) or -errno. The caller must keep the file from being written or
 * truncated while mapped (a truncation drops even copied pages): a lease,
 * and gm_unshare_files() when it breaks. */
long gm_map_file(struct guest_mem *gm, uint64_t gpa, int fd, uint64_t off, size_t len);
/* Replace every file-mapped range by anonymous memory holding the same
 * bytes (nothing may write guest RAM meanwhile: vCPUs paused). 0 or -errno. */
int gm_unshare_files(struct guest_mem *gm);
/* Bytes of RAM mapped from files. */
uint64_t gm_file_mapped_bytes(const struct guest_mem *gm);
/* The next range of RAM at or after offset off that may hold data (in
 * mapping offsets): *start, *end; false when none. A memfd's holes and
 * anonymous pages never touched are skipped; anything else is data. */
bool gm_next_data(const struct guest_mem *gm, uint64_t off, uint64_t *start, uint64_t *end);
void gm_destroy(struct guest_mem *gm);
/* Start recording the pages ember writes (gm->dirty). */
int gm_track_dirty(struct guest_mem *gm);
/* Record [hva, hva+len) as written (no-op when not tracking or outside). */
void gm_mark_dirty(const struct guest_mem *gm, const void *hva, uint64_t len);

/* Reserve hotpluggable memory of `size` bytes at gpa (after gm_init*),
 * every slot unmapped. size and gpa multiples of slot_size, slot_size of
 * 4 KiB. 0 or -errno. */
int gm_hotplug_init(struct guest_mem *gm, uint64_t gpa, uint64_t size, uint64_t slot_size);
/* Make slot `slot` reachable (read-write) or not (PROT_NONE). The caller
 * adds/removes the KVM memory slot around it. 0 or -errno. */
int gm_hotplug_map_slot(struct guest_mem *gm, unsigned slot, bool mapped);
bool gm_hotplug_slot_mapped(const struct guest_mem *gm, unsigned slot);
/* Release the host pages behind [gpa, gpa+len) of hotplug memory (a hole
 * punched in its memfd: RSS falls). 4 KiB-aligned; -EFAULT outside. */
int gm_hotplug_discard(const struct guest_mem *gm, uint64_t gpa, uint64_t len);

/* Host pointer for [gpa, gpa+len), or NULL if any byte is outside RAM, the
 * range crosses a region boundary, or gpa+len overflows. Hotplug memory
 * counts as RAM where its slots are mapped. len 0 is allowed
 * (returns the pointer if gpa is inside RAM or exactly at a region end). */
void *gm_slice(const struct guest_mem *gm, uint64_t gpa, uint64_t len);
/* Copy helpers built on gm_slice: 0 or -EFAULT. */
int gm_read(const struct guest_mem *gm, uint64_t gpa, void *dst, size_t len);
int gm_write(const struct guest_mem *gm, uint64_t gpa, const void *src, size_t len);
/* Fault in the host pages behind [gpa, gpa+len) for writing, in one step
 * (MADV_POPULATE_WRITE on the page-aligned range) instead of one fault per
 * page as a copy would take them; for ranges about to be written whole
 * (kernel, initrd). 0 or -errno (-EFAULT: not RAM); a kernel without
 * MADV_POPULATE_WRITE (< 5.14) is not an error: the copy faults as before. */
int gm_populate(const struct guest_mem *gm, uint64_t gpa, uint64_t len);
/* Fill [gpa, gpa+len) through the memfd rather than the mapping: from buf
 * (pwrite), or from fd at off (sendfile: page cache to page cache, one
 * copy). Pages written whole are never zeroed first, as a fault on the
 * mapping would zero them. 0, -EFAULT (not RAM), -EIO (fd shorter than
 * off+len) or -errno (-EINVAL/-ENOSYS: no sendfile to this memfd, or RAM
 * from gm_init_file: the caller copies through the mapping; gm_fill then
 * does that itself). */
int gm_fill(const struct guest_mem *gm, uint64_t gpa, const void *buf, size_t len);
int gm_fill_from_fd(const struct guest_mem *gm, uint64_t gpa, int fd, uint64_t off, size_t len);
/* True if [gpa, gpa+len) is inside RAM. */
bool gm_valid(const struct guest_mem *gm, uint64_t gpa, uint64_t len);
/* Release host pages backing [gpa, gpa+len) (balloon): -EFAULT if not RAM. */
int gm_discard(const struct guest_mem *gm, uint64_t gpa, uint64_t len);
/* The same for a host range that came from gm_slice() or a validated
 * virtqueue chain (balloon free page reporting hands over buffers, not
 * gpas): -EFAULT unless it lies inside RAM, 4 KiB-aligned. */
int gm_discard_host(const struct guest_mem *gm, const void *hva, uint64_t len);

#endif
