/* tg.count=N: after every other check, count from 1 to N in guest memory,
 * printing "TESTGUEST COUNT i" for each step, with a spin between steps
 * (tg.count_spin=S pause instructions, default 200000). A snapshot test
 * pauses the guest mid-count, restores it in a new ember and checks the
 * count continues from exactly where it stopped. At N: "ok count.done".
 * tg.count_touch=P: each step also writes one byte to the next of P pages
 * from 16 MiB up (round robin; RAM must reach that far), so P steps dirty
 * P pages (the snapshot benchmark's Diff after touching 1 % of RAM). */
#include "tg.h"
#include "x86.h"

/* In memory, not only in a register: a restore must bring back both. */
static volatile uint64_t tg_counter;

#define TOUCH_BASE (16ull << 20)

static void count(void)
{
	size_t len;
	const char *v = tg_cmdline_get("tg.count", &len);
	uint64_t n, spin = 200000, touch = 0;

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
	tg_printf("TESTGUEST COUNTING to %lu\n", n);
	for (tg_counter = 1; tg_counter <= n; tg_counter++) {
		if (touch)
			*(volatile uint8_t *)(TOUCH_BASE + (tg_counter % touch) * 4096) =
			    (uint8_t)tg_counter;
		tg_printf("TESTGUEST COUNT %lu\n", tg_counter);
		for (uint64_t i = 0; i < spin; i++)
			cpu_pause();
	}
	tg_ok("count.done", "counted to %lu", n);
}
TG_CHECK(995, count);
