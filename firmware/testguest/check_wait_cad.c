/* tg.wait=cad: after every other check, keep running until the VMM injects
 * Ctrl-Alt-Del (the API's SendCtrlAltDel action: set-2 scancodes 14 11 e0 71
 * in the i8042 output buffer), so a test can pause and resume a live guest
 * first. Polls the i8042 status port; without tg.wait it does nothing. */
#include "tg.h"
#include "x86.h"

#define I8042_DATA 0x60
#define I8042_STATUS 0x64
#define I8042_OBF 0x01

static void wait_cad(void)
{
	static const uint8_t seq[] = {0x14, 0x11, 0xe0, 0x71};
	size_t len, got = 0;
	const char *v = tg_cmdline_get("tg.wait", &len);

	if (!v)
		return;
	if (len != 3 || memcmp(v, "cad", 3) != 0) {
		tg_fail("wait.param", "unknown tg.wait value (expected cad)");
		return;
	}
	tg_printf("TESTGUEST WAITING for ctrl-alt-del\n");
	while (got < sizeof(seq)) {
		uint8_t b;

		if (!(inb(I8042_STATUS) & I8042_OBF)) {
			cpu_pause();
			continue;
		}
		b = inb(I8042_DATA);
		got = b == seq[got] ? got + 1 : (b == seq[0] ? 1 : 0);
	}
	tg_ok("wait.cad", "received ctrl-alt-del (scancodes 14 11 e0 71)");
}
TG_CHECK(990, wait_cad);
