/* CPUID and local APIC as the BSP sees them: the hypervisor bit, the APIC
 * base MSR (enabled, BSP, 0xfee00000), and the same APIC id in CPUID
 * leaf 1, leaf 0xb and the LAPIC ID register. */
#include "lapic.h"
#include "tg.h"
#include "x86.h"

static void check_cpuid_apic(void)
{
	uint32_t a, b, c, d, max;

	cpuid(0, 0, &max, &b, &c, &d);
	cpuid(1, 0, &a, &b, &c, &d);
	tg_expect(c & (1u << 31), "cpuid.hypervisor", "leaf 1 ecx=%#x (bit 31)", c);
	uint32_t initial_id = b >> 24;
	uint32_t x2id = initial_id;
	if (max >= 0xb) {
		uint32_t a2, b2, c2;
		cpuid(0xb, 0, &a2, &b2, &c2, &x2id);
	}
	uint64_t base = lapic_base_msr();
	tg_expect((base & 0x900) == 0x900 && (base & 0xfffff000) == 0xfee00000, "lapic.base",
		  "IA32_APIC_BASE=%#lx (enabled, BSP, 0xfee00000)%s", base,
		  (base & 0x400) ? " x2APIC" : "");
	uint32_t id = lapic_id();
	tg_expect(id == initial_id && id == x2id, "lapic.id",
		  "LAPIC ID=%u, CPUID.1 initial APIC id=%u, CPUID.0xb x2APIC id=%u", id, initial_id,
		  x2id);
}
TG_CHECK(120, check_cpuid_apic);
