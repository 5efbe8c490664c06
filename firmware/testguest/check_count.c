/* tg.count=N: after every other check, count from 1 to N in guest memory,
 * printing "TESTGUEST COUNT i" for each step, with a spin between steps
 * (tg.count_spin=S pause instructions, default 200000). A snapshot test
 * pauses the guest mid-count, restores it in a new ember and checks the
 * count continues from exactly where it stopped. At N: "ok count.done".
 * tg.count_touch=P: each step also writes one byte to the next of P pages
 * from 16 MiB up (round robin; RAM must reach that far), so P steps dirty
 * P pages (the snapshot benchmark's Diff after touching 1 % of RAM).
 * tg.count_burst=K: K pages per step instead of one (the next K of the P,
 * round robin): the working-set benchmark's guest goes through much of its
 * memory in a few steps. tg.count_reread=1: after the first pass over the
 * P pages (written), later passes only read them. tg.count_scatter=S: the
 * P pages lie S pages apart (RAM must reach 16 MiB + S * P pages) and each
 * pass visits them in a scattered order (the i-th visit is page
 * i * 40503 mod P; P not a multiple of that prime), as a real guest's
 * working set is: no read-ahead of the memory file serves the next one. */
#include "tg.h"
#include "x86.h"

/* In memory, not only in a register: a restore must bring back both. */
static volatile uint64_t tg_counter;
static volatile uint8_t tg_sink;

#define TOUCH_BASE (16ull << 20)

static void count(void)
{
	size_t len;
	const char *v = tg_cmdline_get("tg.count", &len);
	uint64_t n, spin = 200000, touch = 0, burst = 1, next = 0, reread = 0, scatter = 0;

	if (!v)
		return;
	if (!tg_parse_u64(v, len, &n) || n == 0) {
		tg_fail("count.param", "tg.count needs a positive number");
		return;
	}
	v = tg_cmdline_get("tg.count_spin", &len);
	if (v && !tg_parse_u64(v, len, &spin)) {
		tg_fail("count.param", "tg.count_spin needs a number");
		return;
	}
	v = tg_cmdline_get("tg.count_touch", &len);
	if (v && (!tg_parse_u64(v, len, &touch) || touch > (1u << 20))) {
		tg_fail("count.param",
			"tg.count_touch needs a page count (RAM must reach 16 MiB + P pages)");
		return;
	}
	v = tg_cmdline_get("tg.count_burst", &len);
	if (v && (!tg_parse_u64(v, len, &burst) || burst == 0 || burst > (1u << 20))) {
		tg_fail("count.param", "tg.count_burst needs a page count (1 or more)");
		return;
	}
	v = tg_cmdline_get("tg.count_reread", &len);
	if (v && !tg_parse_u64(v, len, &reread)) {
		tg_fail("count.param", "tg.count_reread needs 0 or 1");
		return;
	}
	v = tg_cmdline_get("tg.count_scatter", &len);
	if (v && (!tg_parse_u64(v, len, &scatter) || scatter == 0 || scatter > 64 ||
		  (touch && touch % 40503 == 0))) {
		tg_fail("count.param",
			"tg.count_scatter needs a page distance 1..64 (P not a multiple of 40503)");
		return;
	}
	tg_printf("TESTGUEST COUNTING to %lu\n", n);
	for (tg_counter = 1; tg_counter <= n; tg_counter++) {
		for (uint64_t b = 0; touch && b < burst; b++) {
			uint64_t page = burst == 1 ? tg_counter : next++;
			uint64_t at =
			    scatter ? (page % touch) * 40503 % touch * scatter : page % touch;
			volatile uint8_t *p = (volatile uint8_t *)(TOUCH_BASE + at * 4096);

			if (reread && page >= touch)
				tg_sink += *p;
			else
				*p = (uint8_t)(tg_counter | 1);
		}
		tg_printf("TESTGUEST COUNT %lu\n", tg_counter);
		for (uint64_t i = 0; i < spin; i++)
			cpu_pause();
	}
	tg_ok("count.done", "counted to %lu", n);
}
TG_CHECK(995, count);
