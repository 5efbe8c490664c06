#ifndef TG_LAPIC_H
#define TG_LAPIC_H

#include <stdbool.h>
#include <stdint.h>

#define ICR_INIT 0x00004500u /* INIT, level assert */
#define ICR_SIPI 0x00004600u /* STARTUP | vector */

/* This CPU's APIC id. */
uint32_t lapic_id(void);
/* Send an IPI to APIC id dest; false if it stays pending. */
bool lapic_send_ipi(uint32_t dest, uint32_t icr_lo);
/* IA32_APIC_BASE. */
uint64_t lapic_base_msr(void);

#endif
