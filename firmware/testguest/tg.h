/* ember test guest: a freestanding x86_64 guest (no libc) that checks what
 * the VMM promised and reports one line per check on COM1.
 *
 * Adding a check: create check_<name>.c with a function and register it
 * with TG_CHECK(order, fn); checks run in increasing order. Inside, report
 * with tg_ok()/tg_fail()/tg_expect() (one line each, counted) or tg_skip()
 * (printed, not counted). */
#ifndef TG_H
#define TG_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <asm/bootparam.h>

#define TG_PACKED __attribute__((packed))
#define TG_NORETURN __attribute__((noreturn))
#define TG_PRINTF(a, b) __attribute__((format(printf, a, b)))
#define TG_ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

#define KiB (1024UL)
#define MiB (1024UL * 1024)
#define GiB (1024UL * 1024 * 1024)

/* ---- what the VMM handed over at entry (entry.S fills it) ---- */
struct tg_entry_state {
	uint64_t rsi, rflags, rsp;
	uint16_t cs, ds, es, ss, fs, gs;
};
extern struct tg_entry_state tg_entry;

/* ---- check registry and reporting (check.c) ---- */
struct tg_check {
	const char *name;
	void (*run)(void);
};
/* order: a 3-digit number (100..999) deciding the run order; the linker
 * sorts the section names as text. */
#define TG_CHECK(order, fn)                                                                        \
	static const struct tg_check tg_check_##fn                                                 \
		__attribute__((used, section(".tg_checks." #order), aligned(8))) = { #fn, fn }

void tg_ok(const char *name, const char *fmt, ...) TG_PRINTF(2, 3);
void tg_fail(const char *name, const char *fmt, ...) TG_PRINTF(2, 3);
/* ok if cond, FAIL otherwise; returns cond. */
bool tg_expect(bool cond, const char *name, const char *fmt, ...) TG_PRINTF(3, 4);
void tg_skip(const char *name, const char *fmt, ...) TG_PRINTF(2, 3);
void tg_run_checks(void);
/* Print "TESTGUEST DONE pass=N fail=M" and reset through the i8042. */
TG_NORETURN void tg_done(void);
unsigned tg_fail_count(void);

/* ---- console (uart.c, printf.c) ---- */
void uart_init(void);
void uart_putc(char c);
void uart_write(const char *s, size_t n);
int tg_vsnprintf(char *buf, size_t size, const char *fmt, va_list ap);
int tg_snprintf(char *buf, size_t size, const char *fmt, ...) TG_PRINTF(3, 4);
void tg_printf(const char *fmt, ...) TG_PRINTF(1, 2);

/* ---- small libc (lib.c) ---- */
void *memcpy(void *d, const void *s, size_t n);
void *memset(void *d, int c, size_t n);
void *memmove(void *d, const void *s, size_t n);
int memcmp(const void *a, const void *b, size_t n);
size_t strlen(const char *s);
size_t tg_strnlen(const char *s, size_t max);
int strncmp(const char *a, const char *b, size_t n);
/* Parses an unsigned decimal or 0x-hex number of exactly len chars. */
bool tg_parse_u64(const char *s, size_t len, uint64_t *out);
uint8_t tg_sum8(const void *p, size_t len);

/* ---- boot information (main.c, cmdline.c) ---- */
struct tg_boot {
	struct boot_params *bp;
	const char *cmdline; /* NULL if none */
	size_t cmdline_len;
	/* tg.* parameters; has_* false when absent */
	bool has_mem, has_cpus, has_virtio;
	uint64_t mem_mib, cpus, virtio;
	bool param_error; /* a tg.* parameter was malformed */
};
extern struct tg_boot tg;
void tg_parse_cmdline(void);
/* Finds key=value (exact key) in the command line; returns the value and
 * its length, or NULL. */
const char *tg_cmdline_get(const char *key, size_t *len);

/* ---- page tables (paging.c) ---- */
/* Makes [pa, pa+len) accessible at the same virtual address (identity map),
 * extending ember's 4 GiB map with 2 MiB pages when needed. Returns the
 * pointer or NULL if it cannot. */
void *tg_map_identity(uint64_t pa, uint64_t len);

/* ---- exceptions (idt.c) ---- */
void idt_init(void);

/* ---- ACPI helpers (acpi.c) ---- */
struct acpi_rsdp {
	char signature[8];
	uint8_t checksum;
	char oem_id[6];
	uint8_t revision;
	uint32_t rsdt_address;
	uint32_t length;
	uint64_t xsdt_address;
	uint8_t ext_checksum;
	uint8_t reserved[3];
} TG_PACKED;

struct acpi_header {
	char signature[4];
	uint32_t length;
	uint8_t revision;
	uint8_t checksum;
	char oem_id[6];
	char oem_table_id[8];
	uint32_t oem_revision;
	uint32_t creator_id;
	uint32_t creator_revision;
} TG_PACKED;

/* The RSDP from the zero page (NULL if absent or invalid). */
const struct acpi_rsdp *acpi_rsdp(void);
/* A table from the XSDT by signature (nth match, 0-based); NULL if none or
 * the XSDT is bad. Does not verify the table's checksum. */
const struct acpi_header *acpi_find(const char *sig, int nth);
/* The DSDT through the FADT (X_DSDT, else DSDT); NULL if none. */
const struct acpi_header *acpi_dsdt(void);
/* Length sane (>= header, < 1 MiB) and bytes sum to 0. */
bool acpi_table_valid(const struct acpi_header *h);
/* APIC ids of the enabled CPUs in the MADT (Local APIC and x2APIC entries),
 * at most max stored; returns the count, or -1 without a valid MADT. */
int acpi_madt_cpus(uint32_t *ids, int max);
#define TG_MAX_CPUS 256
/* ACPI power off (hardware-reduced): SLP_TYP from \_S5 | SLP_EN written to
 * the FADT's sleep control register. */
struct acpi_poweroff {
	uint8_t space; /* 0 memory, 1 I/O */
	uint64_t addr;
	uint8_t value;
};
bool acpi_poweroff_prepare(struct acpi_poweroff *po);
TG_NORETURN void acpi_poweroff(const struct acpi_poweroff *po);

#endif
