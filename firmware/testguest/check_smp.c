/* Start every AP the MADT lists with INIT-SIPI-SIPI through the local APIC
 * ICR; each runs a real-mode trampoline that records its APIC id. Checks
 * that all tg.cpus came up, each with the APIC id the MADT gave it. The
 * wait is bounded by loop iterations (no timer). */
#include "lapic.h"
#include "tg.h"
#include "x86.h"

#define TRAMP_ADDR 0x3000u /* SIPI vector 0x03; free low RAM in ember's map */
#define WAIT_LOOPS 4000000UL

extern const char tg_tramp_start[], tg_tramp_end[];
extern const uint32_t tg_tramp_count_off, tg_tramp_bitmap_off;

static void check_smp(void)
{
	static uint32_t ids[TG_MAX_CPUS];
	int n = acpi_madt_cpus(ids, TG_MAX_CPUS);

	if (n <= 1 || n > TG_MAX_CPUS) {
		tg_skip("smp.start", "%d CPU(s) in the MADT: no APs to start", n);
		return;
	}
	size_t len = (size_t)(tg_tramp_end - tg_tramp_start);
	memcpy((void *)(uint64_t)TRAMP_ADDR, tg_tramp_start, len);
	volatile uint32_t *count = (volatile uint32_t *)(uint64_t)(TRAMP_ADDR + tg_tramp_count_off);
	volatile uint32_t *bitmap = (volatile uint32_t *)(uint64_t)(TRAMP_ADDR + tg_tramp_bitmap_off);

	uint32_t self = lapic_id();
	int sent = 0, stuck = 0;
	for (int i = 0; i < n; i++) {
		if (ids[i] == self || ids[i] > 255)
			continue;
		bool ok = lapic_send_ipi(ids[i], ICR_INIT);
		ok &= lapic_send_ipi(ids[i], ICR_SIPI | (TRAMP_ADDR >> 12));
		ok &= lapic_send_ipi(ids[i], ICR_SIPI | (TRAMP_ADDR >> 12));
		if (!ok)
			stuck++;
		sent++;
	}
	uint64_t loops = 0;
	while (*count < (uint32_t)sent && loops < WAIT_LOOPS) {
		cpu_pause();
		loops++;
	}
	uint32_t up = *count;
	/* Every AP's id must be marked, and nothing else. */
	int missing = 0, extra = 0;
	for (uint32_t id = 0; id < 256; id++) {
		bool want = false;
		for (int i = 0; i < n; i++)
			want |= ids[i] == id && id != self;
		bool got = bitmap[id / 32] >> (id % 32) & 1;
		missing += want && !got;
		extra += got && !want;
	}
	tg_expect(up == (uint32_t)sent && !missing && !extra && !stuck && (uint64_t)n == tg.cpus,
		  "smp.start",
		  "%u of %d APs up after %lu wait loops (tg.cpus=%lu), %d ids missing, %d unexpected, "
		  "%d IPIs stuck",
		  up, sent, loops, tg.cpus, missing, extra, stuck);
}
TG_CHECK(600, check_smp);
