/* tg.wait=cad: after every other check, keep running until the VMM injects
 * Ctrl-Alt-Del (the API's SendCtrlAltDel action: scancodes 1d 38 e0 53 when
 * the i8042 translates to set 1, its default, or set-2 14 11 e0 71), so a test
 * can pause and resume a live guest first. Polls the i8042 status port;
 * without tg.wait it does nothing. tg.wait=hold: keep running and never read
 * the i8042 (the VMM's keyboard buffer fills up; the VMM ends the run). */
#include "tg.h"
#include "x86.h"

#define I8042_DATA 0x60
#define I8042_STATUS 0x64
#define I8042_OBF 0x01

static void wait_cad(void)
{
	static const uint8_t set1[] = {0x1d, 0x38, 0xe0, 0x53};
	static const uint8_t set2[] = {0x14, 0x11, 0xe0, 0x71};
	size_t len, got1 = 0, got2 = 0;
	const char *v = tg_cmdline_get("tg.wait", &len);

	if (!v)
		return;
	if (len == 4 && memcmp(v, "hold", 4) == 0) {
		tg_printf("TESTGUEST HOLDING\n");
		for (;;)
			cpu_pause();
	}
	if (len != 3 || memcmp(v, "cad", 3) != 0) {
		tg_fail("wait.param", "unknown tg.wait value (expected cad or hold)");
		return;
	}
	tg_printf("TESTGUEST WAITING for ctrl-alt-del\n");
	while (got1 < sizeof(set1) && got2 < sizeof(set2)) {
		uint8_t b;

		if (!(inb(I8042_STATUS) & I8042_OBF)) {
			cpu_pause();
			continue;
		}
		b = inb(I8042_DATA);
		got1 = b == set1[got1] ? got1 + 1 : (b == set1[0] ? 1 : 0);
		got2 = b == set2[got2] ? got2 + 1 : (b == set2[0] ? 1 : 0);
	}
	tg_ok("wait.cad", "received ctrl-alt-del (scan code set %d)", got1 == sizeof(set1) ? 1 : 2);
}
TG_CHECK(990, wait_cad);
