/* Result reporting and the check registry. */
#include "tg.h"
#include "x86.h"

static unsigned npass, nfail;

extern const struct tg_check __tg_checks_start[], __tg_checks_end[];

static void report(const char *status, const char *name, const char *fmt, va_list ap)
{
	char detail[400];

	tg_vsnprintf(detail, sizeof(detail), fmt, ap);
	tg_printf("%s %s %s\n", status, name, detail);
}

void tg_ok(const char *name, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	report("ok", name, fmt, ap);
	va_end(ap);
	npass++;
}

void tg_fail(const char *name, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	report("FAIL", name, fmt, ap);
	va_end(ap);
	nfail++;
}

bool tg_expect(bool cond, const char *name, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	report(cond ? "ok" : "FAIL", name, fmt, ap);
	va_end(ap);
	if (cond)
		npass++;
	else
		nfail++;
	return cond;
}

void tg_skip(const char *name, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	report("skip", name, fmt, ap);
	va_end(ap);
}

unsigned tg_fail_count(void)
{
	return nfail;
}

void tg_run_checks(void)
{
	for (const struct tg_check *c = __tg_checks_start; c < __tg_checks_end; c++)
		c->run();
}

static bool end_is(const char *v, size_t len, const char *what)
{
	return v && len == strlen(what) && !memcmp(v, what, len);
}

/* How the guest ends, tg.end=: reset (default: i8042 reset line),
 * poweroff (ACPI sleep control register with \_S5's SLP_TYP), triplefault
 * (an exception with an empty IDT: ember must exit non-zero). */
void tg_done(void)
{
	static int done;
	size_t len = 0;
	const char *end = done++ ? NULL : tg_cmdline_get("tg.end", &len);
	struct acpi_poweroff po;

	if (end_is(end, len, "poweroff") && !acpi_poweroff_prepare(&po)) {
		tg_fail("end.poweroff", "no usable FADT sleep control register or \\_S5 in the DSDT");
		end = NULL;
	}
	tg_printf("TESTGUEST DONE pass=%u fail=%u\n", npass, nfail);
	if (end_is(end, len, "poweroff")) {
		acpi_poweroff(&po);
	} else if (end_is(end, len, "triplefault")) {
		struct {
			uint16_t limit;
			uint64_t base;
		} TG_PACKED empty = { 0, 0 };
		__asm__ volatile("lidt %0; ud2" : : "m"(empty));
	}
	/* i8042 "pulse reset line": ember ends with exit status 0. */
	outb(0x64, 0xfe);
	cpu_halt_forever();
}
