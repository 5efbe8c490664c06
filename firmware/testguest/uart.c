/* Polled output on the 16550A at COM1. */
#include "tg.h"
#include "x86.h"

#define COM1 0x3f8
#define UART_THR 0
#define UART_IER 1
#define UART_FCR 2
#define UART_LCR 3
#define UART_MCR 4
#define UART_LSR 5
#define UART_LSR_THRE 0x20
#define UART_SPIN 100000 /* polls of LSR before writing anyway */

void uart_init(void)
{
	outb(COM1 + UART_IER, 0x00); /* no interrupts: we poll */
	outb(COM1 + UART_LCR, 0x03); /* 8N1 */
	outb(COM1 + UART_FCR, 0x07); /* FIFO on, cleared */
	outb(COM1 + UART_MCR, 0x03); /* DTR, RTS */
}

void uart_putc(char c)
{
	for (int i = 0; i < UART_SPIN; i++)
		if (inb(COM1 + UART_LSR) & UART_LSR_THRE)
			break;
	outb(COM1 + UART_THR, (uint8_t)c);
}

void uart_write(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		if (s[i] == '\n')
			uart_putc('\r');
		uart_putc(s[i]);
	}
}
