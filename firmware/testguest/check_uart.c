/* COM1 is a 16550A: scratch register, line control read back, FIFO bits in
 * IIR once FCR enabled them, transmitter empty in LSR. */
#include "tg.h"
#include "x86.h"

#define COM1 0x3f8

static void check_uart(void)
{
	outb(COM1 + 7, 0x5a);
	uint8_t s1 = inb(COM1 + 7);
	outb(COM1 + 7, 0xa5);
	uint8_t s2 = inb(COM1 + 7);
	uint8_t lcr = inb(COM1 + 3);
	uint8_t iir = inb(COM1 + 2);
	uint8_t lsr = inb(COM1 + 5);
	tg_expect(s1 == 0x5a && s2 == 0xa5, "uart.scratch", "wrote 0x5a/0xa5, read %#x/%#x", s1, s2);
	tg_expect(lcr == 0x03, "uart.lcr", "LCR=%#x (wrote 0x03)", lcr);
	tg_expect((iir & 0xc0) == 0xc0, "uart.16550a", "IIR=%#x (FIFO enabled bits 0xc0)", iir);
	tg_expect((lsr & 0x60) == 0x60, "uart.lsr", "LSR=%#x (THRE, TEMT)", lsr);
}
TG_CHECK(110, check_uart);
