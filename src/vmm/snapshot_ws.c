/* Working-set prefetch for snapshot loads (the record-and-prefetch idea of
 * REAP, ASPLOS '21). A load that records notes which pages of its memory
 * file the restored guest (and ember) touched: after its first run they are
 * the pages present in ember's MAP_PRIVATE mapping (/proc/self/pagemap: a
 * read maps the file's page, a write its private copy; KVM faults guest
 * accesses in through the same mapping). The set is stored as runs of pages
 * next to the snapshot, each marked read or written (pagemap's file-page
 * bit: a written page of a private file mapping is an anonymous copy). A
 * later load with the set reads every run of the memory file ahead in large
 * requests (POSIX_FADV_WILLNEED) before the guest resumes, and maps the
 * read-only runs (MADV_POPULATE_READ), instead of one fault and one small
 * read per page as the guest touches them. Written runs are only read
 * ahead: mapping the file's page first would make the guest's write a
 * second fault (copy-on-write of a mapped page, and KVM's mapping of it
 * invalidated), slower than the one write fault it takes otherwise.
 *
 * The set file is hostile input like the state file: magic, version, page
 * size, memory size, CRC and every run checked before anything is used. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>
#include <zlib.h>

#include "ember/snapshot_file.h"
#include "ember/error.h"
#include "ember/libc_compat.h"
#include "ember/log.h"
#include "ember/util.h"
#include "snapshot_priv.h"

#ifndef MADV_POPULATE_READ
#define MADV_POPULATE_READ 22
#endif

#define WS_MAGIC "EMBERWS1"
#define WS_VERSION 1u
#define WS_PAGE 4096u
#define WS_HDR 32u
#define WS_MAX_FILE (64u << 20)
#define PAGEMAP_PRESENT (1ull << 63)
#define PAGEMAP_SWAPPED (1ull << 62)
#define PAGEMAP_FILE (1ull << 61) /* a file page (not yet copied on write) */
#define WS_WRITTEN (1ull << 63)   /* in a run's count: the run was written */

static void put32(uint8_t *p, uint32_t v)
{
	memcpy(p, &v, 4);
}
static void put64(uint8_t *p, uint64_t v)
{
	memcpy(p, &v, 8);
}
static uint32_t get32(const uint8_t *p)
{
	uint32_t v;
	memcpy(&v, p, 4);
	return v;
}
static uint64_t get64(const uint8_t *p)
{
	uint64_t v;
	memcpy(&v, p, 8);
	return v;
}

int snap_ws_parse(const uint8_t *buf, size_t len, uint64_t mem_total, struct snap_ws *out)
{
	uint64_t pages = mem_total / WS_PAGE, next = 0, total = 0;
	uint32_t n;

	memset(out, 0, sizeof(*out));
	if (len < WS_HDR)
		return err_set(EINVAL, "working set file: %zu bytes, shorter than its header", len);
	if (memcmp(buf, WS_MAGIC, 8) != 0)
		return err_set(EINVAL, "working set file: not an ember working set (bad magic)");
	if (get32(buf + 8) != WS_VERSION)
		return err_set(EINVAL, "working set file: version %u, this ember reads version %u",
			       get32(buf + 8), WS_VERSION);
	if (get32(buf + 12) != WS_PAGE)
		return err_set(EINVAL, "working set file: page size %u, not %u", get32(buf + 12),
			       WS_PAGE);
	if (get64(buf + 16) != mem_total)
		return err_set(EINVAL,
			       "working set file: recorded for %llu MiB of memory, the snapshot "
			       "has %llu MiB",
			       (unsigned long long)(get64(buf + 16) >> 20),
			       (unsigned long long)(mem_total >> 20));
	n = get32(buf + 24);
	if ((len - WS_HDR) / 16 != n || (len - WS_HDR) % 16)
		return err_set(EINVAL, "working set file: %u runs, the file holds %zu bytes of runs",
			       n, len - WS_HDR);
	if (snap_crc(buf + WS_HDR, len - WS_HDR) != get32(buf + 28))
		return err_set(EINVAL, "working set file: CRC mismatch (corrupted)");
	for (uint32_t i = 0; i < n; i++) {
		uint64_t first = get64(buf + WS_HDR + 16 * (size_t)i),
			 count = get64(buf + WS_HDR + 16 * (size_t)i + 8) & ~WS_WRITTEN;

		if (count == 0 || first < next || first >= pages || count > pages - first)
			return err_set(EINVAL,
				       "working set file: run %u (%llu pages at page %llu) is empty, "
				       "out of order or outside %llu pages of memory",
				       i, (unsigned long long)count, (unsigned long long)first,
				       (unsigned long long)pages);
		next = first + count;
		total += count;
	}
	out->runs = buf + WS_HDR;
	out->nruns = n;
	out->pages = total;
	return 0;
}

void snap_ws_run(const struct snap_ws *ws, uint32_t i, uint64_t *first, uint64_t *count,
		 bool *written)
{
	uint64_t c = get64(ws->runs + 16 * (size_t)i + 8);

	*first = get64(ws->runs + 16 * (size_t)i);
	*count = c & ~WS_WRITTEN;
	*written = (c & WS_WRITTEN) != 0;
}

struct run_buf {
	uint8_t *out; /* header, then the runs */
	size_t n, cap;
	uint64_t pages;
};

static int emit(struct run_buf *rb, uint64_t first, uint64_t count, bool written)
{
	if (rb->n == rb->cap) {
		size_t cap = rb->cap ? rb->cap * 2 : 1024;
		uint8_t *bigger = realloc(rb->out, WS_HDR + cap * 16);

		if (!bigger)
			return err_set(ENOMEM, "out of memory");
		rb->out = bigger;
		rb->cap = cap;
	}
	put64(rb->out + WS_HDR + 16 * rb->n, first);
	put64(rb->out + WS_HDR + 16 * rb->n + 8, count | (written ? WS_WRITTEN : 0));
	rb->n++;
	rb->pages += count;
	return 0;
}

/* The pages of gm's mapping that are present (mapped in this process), as
 * runs, into path. */
int snap_ws_record(const struct guest_mem *gm, const char *path, uint64_t *pages_out)
{
	enum { CHUNK = 4096 };
	uint64_t pages = gm->total / WS_PAGE, run_first = 0, run_len = 0;
	bool run_written = false;
	uint64_t *pm = malloc(CHUNK * sizeof(uint64_t));
	struct run_buf rb = {0};
	int fd = -1, r = 0;

	*pages_out = 0;
	if (!pm || (r = emit(&rb, 0, 0, false)) < 0) { /* (allocates; the dummy run is dropped) */
		r = err_set(ENOMEM, "out of memory");
		goto done;
	}
	rb.n = 0;
	rb.pages = 0;
	fd = open("/proc/self/pagemap", O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		r = err_set(errno, "working set: /proc/self/pagemap: %s", strerror(errno));
		goto done;
	}
	for (uint64_t p = 0; p < pages; p += CHUNK) {
		size_t want = (size_t)(pages - p < CHUNK ? pages - p : CHUNK);
		off_t at = (off_t)(((uintptr_t)gm->base / WS_PAGE + p) * sizeof(uint64_t));

		/* lseek + read: the VMM thread's seccomp filter has no pread64 */
		errno = 0;
		if (lseek(fd, at, SEEK_SET) != at ||
		    read(fd, pm, want * sizeof(uint64_t)) != (ssize_t)(want * sizeof(uint64_t))) {
			r = err_set(errno ? errno : EIO, "working set: reading pagemap: %s",
				    strerror(errno ? errno : EIO));
			goto done;
		}
		for (size_t k = 0; k < want; k++) {
			bool present = pm[k] & (PAGEMAP_PRESENT | PAGEMAP_SWAPPED);
			bool written = present && !(pm[k] & PAGEMAP_FILE);

			if (run_len && (!present || written != run_written)) {
				if ((r = emit(&rb, run_first, run_len, run_written)) < 0)
					goto done;
				run_len = 0;
			}
			if (present) {
				if (!run_len) {
					run_first = p + k;
					run_written = written;
				}
				run_len++;
			}
		}
	}
	if (run_len && (r = emit(&rb, run_first, run_len, run_written)) < 0)
		goto done;
	memcpy(rb.out, WS_MAGIC, 8);
	put32(rb.out + 8, WS_VERSION);
	put32(rb.out + 12, WS_PAGE);
	put64(rb.out + 16, gm->total);
	put32(rb.out + 24, (uint32_t)rb.n);
	put32(rb.out + 28, snap_crc(rb.out + WS_HDR, rb.n * 16));
	close(fd);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0) {
		r = err_set(errno, "working set file %s: %s", path, strerror(errno));
		goto done;
	}
	for (size_t off = 0, len = WS_HDR + rb.n * 16; off < len;) {
		ssize_t w = write(fd, rb.out + off, len - off);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0) {
			r = err_set(errno ? errno : EIO, "working set file %s: %s", path,
				    strerror(errno ? errno : EIO));
			goto done;
		}
		off += (size_t)w;
	}
	*pages_out = rb.pages;
	log_info("working set: %llu page(s) in %zu run(s) to %s", (unsigned long long)rb.pages,
		 rb.n, path);
done:
	if (fd >= 0)
		close(fd);
	free(pm);
	free(rb.out);
	return r;
}

int snap_ws_prefetch(const struct guest_mem *gm, int mem_fd, const char *path,
		     uint64_t *pages_out)
{
	uint8_t *buf = NULL;
	size_t len = 0;
	struct snap_ws ws;
	int r;

	*pages_out = 0;
	if ((r = read_whole_file(path, WS_MAX_FILE, &buf, &len)) < 0)
		return err_wrap(-r, "working set file %s", path);
	if ((r = snap_ws_parse(buf, len, gm->total, &ws)) < 0)
		goto out;
	/* First every run's read is started (large requests, in file order),
	 * then each run is mapped, waiting only for what is not in yet. */
	for (uint32_t i = 0; i < ws.nruns; i++) {
		uint64_t first, count;
		bool written;

		snap_ws_run(&ws, i, &first, &count, &written);
		(void)posix_fadvise(mem_fd, (off_t)(first * WS_PAGE), (off_t)(count * WS_PAGE),
				    POSIX_FADV_WILLNEED);
	}
	for (uint32_t i = 0; i < ws.nruns; i++) {
		uint64_t first, count;
		bool written;

		snap_ws_run(&ws, i, &first, &count, &written);
		if (!written &&
		    madvise(gm->base + first * WS_PAGE, count * WS_PAGE, MADV_POPULATE_READ) < 0 &&
		    errno != EINVAL) {
			r = err_set(errno, "working set: mapping %llu page(s) at page %llu: %s",
				    (unsigned long long)count, (unsigned long long)first,
				    strerror(errno));
			goto out;
		}
	}
	*pages_out = ws.pages;
	log_info("working set: %llu page(s) in %u run(s) from %s prefetched",
		 (unsigned long long)ws.pages, ws.nruns, path);
out:
	free(buf);
	return r;
}
