/* Local APIC access in xAPIC (MMIO) or x2APIC (MSR) mode, whichever the
 * VMM left enabled. */
#include "lapic.h"
#include "x86.h"

#define APIC_BASE_BSP (1u << 8)
#define APIC_BASE_X2APIC (1u << 10)
#define APIC_BASE_ENABLE (1u << 11)
#define APIC_ID 0x20
#define APIC_ICR_LO 0x300
#define APIC_ICR_HI 0x310
#define ICR_BUSY (1u << 12)

static bool x2apic(void)
{
	return rdmsr(MSR_APIC_BASE) & APIC_BASE_X2APIC;
}

static uint64_t xapic_base(void)
{
	return rdmsr(MSR_APIC_BASE) & 0x000ffffffffff000ULL;
}

uint32_t lapic_id(void)
{
	if (x2apic())
		return (uint32_t)rdmsr(0x802);
	return mmio_read32(xapic_base() + APIC_ID) >> 24;
}

bool lapic_send_ipi(uint32_t dest, uint32_t icr_lo)
{
	if (x2apic()) {
		wrmsr(0x830, ((uint64_t)dest << 32) | icr_lo);
		return true;
	}
	uint64_t b = xapic_base();
	mmio_write32(b + APIC_ICR_HI, dest << 24);
	mmio_write32(b + APIC_ICR_LO, icr_lo);
	for (int i = 0; i < 100000; i++)
		if (!(mmio_read32(b + APIC_ICR_LO) & ICR_BUSY))
			return true;
	return false;
}

uint64_t lapic_base_msr(void)
{
	return rdmsr(MSR_APIC_BASE);
}
