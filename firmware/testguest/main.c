/* Test guest main: set up the console and exception reporting, parse the
 * command line, run every registered check, report and reset. */
#include "tg.h"
#include "x86.h"

/* In .data: entry.S writes it before clearing .bss. */
struct tg_entry_state tg_entry __attribute__((section(".data")));
struct tg_boot tg;

void tg_main(uint64_t zero_page);

void tg_main(uint64_t zero_page)
{
	uart_init();
	idt_init();
	tg_printf("\nember testguest: zero page at %#lx\n", zero_page);
	tg.bp = (struct boot_params *)zero_page;
	if (zero_page && zero_page < 4 * GiB - 4096)
		tg_parse_cmdline();
	else
		tg.bp = NULL;
	tg_run_checks();
	tg_done();
}
