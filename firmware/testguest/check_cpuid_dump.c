/* tg.cpuid=1: print the CPUID leaves CPU templates change, as the BSP sees
 * them, one line each ("TESTGUEST CPUID leaf.subleaf eax ebx ecx edx", hex),
 * and IA32_ARCH_CAPABILITIES when CPUID.7.0:EDX[29] says it exists. The
 * test (tests/e2e/test_cpu_templates.sh) compares runs with and without a
 * template. */
#include "tg.h"
#include "x86.h"

static void cpuid_dump(void)
{
	static const uint32_t leaves[][2] = {{0x1, 0}, {0x7, 0},	{0xd, 0},
					     {0xd, 1}, {0x80000001, 0}, {0x80000008, 0}};
	uint32_t a, b, c, d, max, xmax;
	size_t len;

	if (!tg_cmdline_get("tg.cpuid", &len))
		return;
	cpuid(0, 0, &max, &b, &c, &d);
	cpuid(0x80000000, 0, &xmax, &b, &c, &d);
	for (unsigned i = 0; i < sizeof(leaves) / sizeof(leaves[0]); i++) {
		uint32_t leaf = leaves[i][0];

		if (leaf < 0x80000000 ? leaf > max : leaf > xmax)
			continue;
		cpuid(leaf, leaves[i][1], &a, &b, &c, &d);
		tg_printf("TESTGUEST CPUID %#x.%u %#x %#x %#x %#x\n", leaf, leaves[i][1], a, b, c,
			  d);
	}
	cpuid(7, 0, &a, &b, &c, &d);
	if (max >= 7 && (d & (1U << 29)))
		tg_printf("TESTGUEST MSR 0x10a %#lx\n", rdmsr(0x10a));
	tg_ok("cpuid.dump", "max leaf %#x, extended %#x", max, xmax);
}
TG_CHECK(121, cpuid_dump);
