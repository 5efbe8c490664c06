/* virtio-balloon (tg.balloon=1): find the device, read the target
 * (num_pages), inflate that many pages taken from the top of the highest
 * RAM range below 4 GiB (memory this guest never uses; an initrd is
 * avoided), report them in `actual`, and see the host really released them
 * (they read back as zero although they were written first). Then deflate a
 * few, reuse them, inflate them again. With the statistics queue, one stats
 * buffer is posted before DRIVER_OK (as Linux does); the device must hand it
 * back after its polling interval, and it is refilled with the balloon
 * accounted for.
 *   tg.balloon=1           a balloon device is expected
 *   tg.balloon_mib=N       the target it must start with (MiB)
 *   tg.balloon_resize=M    then print "TESTGUEST BALLOON WAITING ..." and wait
 *                          (bounded) for the host to set the target to M MiB
 *                          (PATCH /balloon), and follow it
 *   tg.balloon_hint=1      free page hinting as Linux's driver does it: print
 *                          "TESTGUEST BALLOON HINT WAITING", wait (bounded) for
 *                          the host's command id (PATCH /balloon/hinting/start),
 *                          answer it, hint HINT_PAGES written pages, send STOP,
 *                          wait for DONE and see the pages read back zero
 * Results: balloon.init, .inflate, .actual, .released, .deflate, .stats,
 * .resize, .hint (the e2e test reads the numbers in these lines). The device
 * stays live afterwards so the host can read `actual`. */
#include <linux/virtio_balloon.h>

#include <asm/e820.h>

#include "tg.h"
#include "virtio.h"
#include "x86.h"

#define PG 4096UL
#define BATCH 256		 /* PFNs per buffer, like Linux */
#define MAX_PAGES (64UL * 256)	 /* 64 MiB: quick even when emulated */
#define DEFLATE_PAGES 16
#define STATS_N 8
#define HINT_PAGES 256 /* 1 MiB hinted */
#define CFG_CMD_ID (0x100 + 8)

extern char __image_end[];

static uint8_t vq_mem[4][4096] __attribute__((aligned(4096), section(".noinit")));
static uint32_t pfns[BATCH];
static struct virtio_balloon_stat stats[STATS_N];

struct balloon {
	struct tg_vdev d;
	struct tg_vq q[4];
	bool has_stats, has_hint;
	int q_hint;
	uint64_t lo, top; /* the free range pages are taken from */
	uint64_t held;	  /* pages in the balloon: [top - held * PG, top) */
	uint64_t ram_total;
};

/* ---- a wall clock for bounded waits: the CMOS RTC seconds register ---- */

static uint8_t rtc_seconds(void)
{
	outb(0x70, 0x00);
	return inb(0x71);
}

/* Calls poll() until it returns true or about `seconds` RTC ticks pass;
 * *elapsed = ticks seen. */
static bool wait_until(bool (*poll)(struct balloon *), struct balloon *b, unsigned seconds,
		       unsigned *elapsed)
{
	uint8_t last = rtc_seconds();
	unsigned ticks = 0;

	for (unsigned long i = 0;; i++) {
		if (poll(b)) {
			*elapsed = ticks;
			return true;
		}
		cpu_pause();
		if (i % 256 == 0) {
			uint8_t s = rtc_seconds();
			if (s != last) {
				last = s;
				if (++ticks > seconds)
					break;
			}
		}
	}
	*elapsed = ticks;
	return false;
}

/* ---- memory the balloon may take ---- */

static uint64_t cfg_num_pages(struct balloon *b)
{
	return tg_vio_read(&b->d, 0x100 + 0);
}

static bool find_free_range(struct balloon *b)
{
	const struct boot_params *bp = tg.bp;
	uint64_t img_end = ((uint64_t)__image_end + PG - 1) & ~(PG - 1);
	uint64_t rd = bp->hdr.ramdisk_image | ((uint64_t)bp->ext_ramdisk_image << 32);
	uint64_t rd_size = bp->hdr.ramdisk_size | ((uint64_t)bp->ext_ramdisk_size << 32);

	b->lo = b->top = 0;
	b->ram_total = 0;
	for (int i = 0; i < bp->e820_entries && i < E820_MAX_ENTRIES_ZEROPAGE; i++) {
		const struct boot_e820_entry *e = &bp->e820_table[i];
		uint64_t lo = e->addr, hi = e->addr + e->size;

		if (e->type != E820_RAM)
			continue;
		b->ram_total += e->size;
		if (hi > 4 * GiB)
			hi = 4 * GiB;
		if (lo < img_end)
			lo = img_end;
		if (rd_size && rd < hi && rd + rd_size > lo)
			hi = rd; /* the initrd sits near the top: stay below it */
		lo = (lo + PG - 1) & ~(PG - 1);
		hi &= ~(PG - 1);
		if (hi > lo && hi > b->top) {
			b->lo = lo;
			b->top = hi;
		}
	}
	return b->top > b->lo;
}

static uint64_t *page_word(struct balloon *b, uint64_t i) /* i-th page from the top */
{
	return (uint64_t *)(b->top - (i + 1) * PG);
}

/* ---- inflate / deflate ---- */

static bool send_pfns(struct balloon *b, int q, uint64_t first_pfn, uint64_t n)
{
	while (n) {
		uint64_t k = n < BATCH ? n : BATCH;
		struct tg_vbuf buf = { pfns, (uint32_t)(k * 4), false };
		uint32_t wr;

		for (uint64_t i = 0; i < k; i++)
			pfns[i] = (uint32_t)(first_pfn + i);
		if (!tg_vq_run(&b->d, &b->q[q], &buf, 1, false, &wr))
			return false;
		first_pfn += k;
		n -= k;
	}
	return true;
}

/* Grow or shrink the balloon to `pages`; the pages given up are written
 * first so the host really has something to release. */
static bool balloon_to(struct balloon *b, uint64_t pages)
{
	if (pages > b->held) {
		for (uint64_t i = b->held; i < pages; i++)
			*page_word(b, i) = 0x5442414c4c4f4f4eULL ^ i; /* "TBALLOON" */
		if (!send_pfns(b, 0, (b->top / PG) - pages, pages - b->held))
			return false;
	} else if (pages < b->held) {
		if (!send_pfns(b, 1, (b->top / PG) - b->held, b->held - pages))
			return false;
	}
	b->held = pages;
	tg_vio_write(&b->d, 0x100 + 4, (uint32_t)pages); /* actual */
	return true;
}

/* ---- statistics ---- */

static void fill_stats(struct balloon *b, uint64_t free)
{
	static const uint16_t tags[STATS_N] = {
		VIRTIO_BALLOON_S_SWAP_IN, VIRTIO_BALLOON_S_SWAP_OUT, VIRTIO_BALLOON_S_MAJFLT,
		VIRTIO_BALLOON_S_MINFLT,  VIRTIO_BALLOON_S_MEMFREE,	 VIRTIO_BALLOON_S_MEMTOT,
		VIRTIO_BALLOON_S_AVAIL,	  VIRTIO_BALLOON_S_CACHES,
	};
	const uint64_t vals[STATS_N] = { 0, 0, 1, 2, free, b->ram_total, free, 0 };

	for (int i = 0; i < STATS_N; i++) {
		stats[i].tag = tags[i];
		stats[i].val = vals[i];
	}
}

static void post_stats(struct balloon *b, bool kick)
{
	struct tg_vq *q = &b->q[2];

	q->desc[0].addr = (uint64_t)stats;
	q->desc[0].len = sizeof(stats);
	q->desc[0].flags = 0;
	q->desc[0].next = 0;
	uint16_t idx = q->avail->idx;
	q->avail->ring[idx % q->size] = 0;
	__asm__ volatile("" ::: "memory");
	q->avail->idx = (uint16_t)(idx + 1);
	__asm__ volatile("" ::: "memory");
	if (kick)
		tg_vio_write(&b->d, 0x50 /* QueueNotify */, 2);
}

static bool stats_returned(struct balloon *b)
{
	return *(volatile uint16_t *)&b->q[2].used->idx != b->q[2].last_used;
}

static uint64_t want_pages;
static bool target_reached(struct balloon *b)
{
	return cfg_num_pages(b) == want_pages;
}

/* ---- free page hinting ---- */

static uint32_t hint_cmd_id(struct balloon *b)
{
	return tg_vio_read(&b->d, CFG_CMD_ID);
}

static bool hint_run_started(struct balloon *b)
{
	return hint_cmd_id(b) > VIRTIO_BALLOON_CMD_ID_DONE;
}

static bool hint_done(struct balloon *b)
{
	return hint_cmd_id(b) == VIRTIO_BALLOON_CMD_ID_DONE;
}

static bool send_cmd_id(struct balloon *b, uint32_t id)
{
	static uint32_t cmd;
	struct tg_vbuf buf = { &cmd, sizeof(cmd), false };
	uint32_t wr;

	cmd = id;
	return tg_vq_run(&b->d, &b->q[b->q_hint], &buf, 1, false, &wr);
}

/* One run, pages taken just below the balloon's. */
static void test_hint(struct balloon *b)
{
	uint64_t hi = b->top - (b->held + DEFLATE_PAGES) * PG, lo = hi - HINT_PAGES * PG;
	unsigned secs = 0, secs_done = 0;
	uint32_t id, wr;
	bool ok;

	if (!b->has_hint) {
		tg_fail("balloon.hint", "VIRTIO_BALLOON_F_FREE_PAGE_HINT not offered");
		return;
	}
	if (lo < b->lo) {
		tg_fail("balloon.hint", "no room below the balloon");
		return;
	}
	for (uint64_t a = lo; a < hi; a += PG)
		*(volatile uint64_t *)a = 0x48494e5450414745ULL ^ a; /* "HINTPAGE" */
	tg_printf("TESTGUEST BALLOON HINT WAITING cmd_id=%u\n", hint_cmd_id(b));
	if (!wait_until(hint_run_started, b, 30, &secs)) {
		tg_fail("balloon.hint", "no command id from the host after ~%u s", secs);
		return;
	}
	id = hint_cmd_id(b);
	struct tg_vbuf hint = { (void *)lo, (uint32_t)(hi - lo), true };
	ok = send_cmd_id(b, id) && tg_vq_run(&b->d, &b->q[b->q_hint], &hint, 1, false, &wr) &&
	     send_cmd_id(b, VIRTIO_BALLOON_CMD_ID_STOP);
	bool done = ok && wait_until(hint_done, b, 30, &secs_done);
	uint64_t nonzero = 0;
	for (uint64_t a = lo; done && a < hi; a += PG)
		nonzero += *(volatile uint64_t *)a != 0;
	tg_expect(ok && done && !nonzero, "balloon.hint",
		  "cmd_id=%u after ~%u s, %u pages hinted at %#lx-%#lx, DONE after ~%u s, %lu of "
		  "them read back non-zero",
		  id, secs, HINT_PAGES, lo, hi, secs_done, nonzero);
}

/* ---- the check ---- */

static bool get_param(const char *key, uint64_t *v, bool *present)
{
	size_t len;
	const char *s = tg_cmdline_get(key, &len);

	*present = s != NULL;
	if (s && !tg_parse_u64(s, len, v)) {
		tg_fail("balloon.param", "malformed %s", key);
		return false;
	}
	return true;
}

static void test_balloon(struct balloon *b, bool has_mib, uint64_t mib, bool has_resize,
			 uint64_t resize_mib, bool hint)
{
	const char *why = "";
	uint64_t want = (1ULL << VIRTIO_BALLOON_F_DEFLATE_ON_OOM) |
			(1ULL << VIRTIO_BALLOON_F_STATS_VQ) |
			(hint ? 1ULL << VIRTIO_BALLOON_F_FREE_PAGE_HINT : 0);
	bool ok = tg_virtio_negotiate(&b->d, want, &why) &&
		  tg_vq_init(&b->d, &b->q[0], 0, vq_mem[0], &why) &&
		  tg_vq_init(&b->d, &b->q[1], 1, vq_mem[1], &why);

	/* Queues as Linux numbers them: stats, then hinting, if negotiated. */
	b->has_stats = b->d.features & (1ULL << VIRTIO_BALLOON_F_STATS_VQ);
	b->has_hint = b->d.features & (1ULL << VIRTIO_BALLOON_F_FREE_PAGE_HINT);
	b->q_hint = b->has_stats ? 3 : 2;
	if (ok && b->has_stats)
		ok = tg_vq_init(&b->d, &b->q[2], 2, vq_mem[2], &why);
	if (ok && b->has_hint)
		ok = tg_vq_init(&b->d, &b->q[b->q_hint], (unsigned)b->q_hint, vq_mem[3], &why);
	if (!find_free_range(b)) {
		ok = false;
		why = "no free RAM range below 4 GiB";
	}
	if (ok && b->has_stats) {
		fill_stats(b, (b->top - b->lo));
		post_stats(b, false); /* before DRIVER_OK: no kick */
	}
	if (ok)
		tg_virtio_driver_ok(&b->d);
	uint64_t target = ok ? cfg_num_pages(b) : 0;
	uint32_t status = tg_virtio_status(&b->d);
	if (!tg_expect(ok && status == 0xf && (!has_mib || target == mib * 256), "balloon.init",
		       "features offered=%#lx negotiated=%#lx%s%s%s num_pages=%lu (%lu MiB)%s "
		       "status=%#x free range %#lx-%#lx %s",
		       b->d.dev_features, b->d.features,
		       b->d.features & (1ULL << VIRTIO_BALLOON_F_DEFLATE_ON_OOM) ? " deflate_on_oom"
										 : "",
		       b->has_stats ? " stats" : "", b->has_hint ? " hinting" : "", target,
		       target / 256,
		       has_mib ? (target == mib * 256 ? " as configured" : " NOT as configured") : "",
		       status, b->lo, b->top, why))
		return;

	uint64_t pages = target;
	if (pages > MAX_PAGES || pages > (b->top - b->lo) / PG - DEFLATE_PAGES) {
		tg_fail("balloon.inflate", "target %lu pages is more than this test takes", pages);
		return;
	}
	ok = balloon_to(b, pages);
	if (!tg_expect(ok, "balloon.inflate", "pages=%lu (%lu MiB) at %#lx-%#lx in %lu buffers",
		       pages, pages / 256, b->top - pages * PG, b->top, (pages + BATCH - 1) / BATCH))
		return;
	uint32_t actual = tg_vio_read(&b->d, 0x100 + 4);
	tg_expect(actual == pages, "balloon.actual", "actual=%u", actual);

	/* Released: written pages read back as zero. A sample only: reading a
	 * released page makes the host allocate it again. */
	uint64_t sampled = 0, nonzero = 0;
	for (uint64_t i = 0; i < pages; i += 61, sampled++)
		nonzero += *(volatile uint64_t *)page_word(b, i) != 0;
	tg_expect(pages && !nonzero, "balloon.released",
		  "%lu of %lu sampled inflated pages read back zero", sampled - nonzero, sampled);

	/* Deflate a few, use them, take them again. */
	uint64_t n = pages < DEFLATE_PAGES ? pages : DEFLATE_PAGES, bad = 0;
	ok = balloon_to(b, pages - n);
	for (uint64_t i = pages - n; ok && i < pages; i++) {
		volatile uint64_t *w = page_word(b, i);
		*w = 0xdef1a7edULL + i;
		bad += *w != 0xdef1a7edULL + i;
	}
	uint32_t actual_mid = tg_vio_read(&b->d, 0x104);
	ok = ok && balloon_to(b, pages);
	actual = tg_vio_read(&b->d, 0x104);
	tg_expect(ok && !bad && actual_mid == pages - n && actual == pages, "balloon.deflate",
		  "deflated %lu pages (actual=%u), reused them, inflated them again (actual=%u)", n,
		  actual_mid, actual);

	if (b->has_stats) {
		unsigned secs = 0;
		bool back = wait_until(stats_returned, b, 5, &secs);
		if (back) {
			b->q[2].last_used++;
			fill_stats(b, (b->top - b->lo) - b->held * PG);
			post_stats(b, true);
		}
		tg_expect(back, "balloon.stats",
			  "buffer returned by the device after ~%u s; refilled: total_memory=%lu "
			  "free_memory=%lu",
			  secs, b->ram_total, (b->top - b->lo) - b->held * PG);
	} else {
		tg_skip("balloon.stats", "VIRTIO_BALLOON_F_STATS_VQ not offered");
	}

	if (has_resize) {
		unsigned secs = 0;
		want_pages = resize_mib * 256;
		tg_printf("TESTGUEST BALLOON WAITING for target %lu MiB\n", resize_mib);
		bool seen = wait_until(target_reached, b, 30, &secs);
		ok = seen && want_pages <= MAX_PAGES && balloon_to(b, want_pages);
		actual = tg_vio_read(&b->d, 0x104);
		tg_expect(ok && actual == want_pages, "balloon.resize",
			  "num_pages=%lu after ~%u s, balloon now %u pages (actual)",
			  cfg_num_pages(b), secs, actual);
	}
	if (hint)
		test_hint(b);
}

static void check_virtio_balloon(void)
{
	struct tg_vslot slots[TG_VIRTIO_MAX];
	static struct balloon b;
	uint64_t expect = 0, mib = 0, resize = 0, hint = 0;
	bool has_expect, has_mib, has_resize, has_hint;
	int n, found = 0;

	if (!get_param("tg.balloon", &expect, &has_expect) ||
	    !get_param("tg.balloon_mib", &mib, &has_mib) ||
	    !get_param("tg.balloon_resize", &resize, &has_resize) ||
	    !get_param("tg.balloon_hint", &hint, &has_hint))
		return;
	if (!has_expect || !expect)
		return;
	n = tg_virtio_slots(slots, TG_VIRTIO_MAX);
	for (int i = 0; i < n && i < TG_VIRTIO_MAX; i++) {
		memset(&b, 0, sizeof(b));
		if (tg_virtio_identify(&b.d, &slots[i]) && b.d.device_id == VIRTIO_ID_BALLOON) {
			found++;
			if (found == 1)
				test_balloon(&b, has_mib, mib, has_resize, resize, has_hint && hint);
		}
	}
	tg_expect(found == 1, "balloon.count", "%d virtio-balloon devices (expected 1)", found);
}
TG_CHECK(750, check_virtio_balloon);
