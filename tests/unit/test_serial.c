/* 16550A UART (serial.c) driven through a PIO bus like a vCPU does, with the
 * output on a pipe and the IRQ line recorded. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ember/bus.h"
#include "ember/layout.h"
#include "ember/serial.h"

#define COM1 LAYOUT_COM1_PORT
enum {
	THR = 0,
	RBR = 0,
	DLL = 0,
	IER = 1,
	DLM = 1,
	IIR = 2,
	FCR = 2,
	LCR = 3,
	MCR = 4,
	LSR = 5,
	MSR = 6,
	SCR = 7
};

struct fx {
	struct serial s;
	struct bus bus;
	int pipe[2];
	int levels[64]; /* every IRQ callback, in order */
	int nlevels;
	int drained;
};

static void irq_cb(void *opaque, int level)
{
	struct fx *f = opaque;

	assert_true(f->nlevels < 64);
	f->levels[f->nlevels++] = level;
}

static void drained_cb(void *opaque)
{
	((struct fx *)opaque)->drained++;
}

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));

	if (!f || pipe2(f->pipe, O_CLOEXEC | O_NONBLOCK) < 0)
		return -1;
	serial_init(&f->s, f->pipe[1], irq_cb, f);
	f->s.rx_drained = drained_cb;
	f->s.rx_drained_opaque = f;
	bus_init(&f->bus);
	if (bus_register(&f->bus, COM1, 8, &serial_bus_ops, &f->s, &f->s.lock) < 0)
		return -1;
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;

	serial_destroy(&f->s);
	close(f->pipe[0]);
	close(f->pipe[1]);
	free(f);
	return 0;
}

static uint8_t inb(struct fx *f, int reg)
{
	uint8_t v = 0xee;

	assert_int_equal(bus_access(&f->bus, COM1 + (uint64_t)reg, &v, 1, false), 0);
	return v;
}

static void outb(struct fx *f, int reg, uint8_t v)
{
	assert_int_equal(bus_access(&f->bus, COM1 + (uint64_t)reg, &v, 1, true), 0);
}

static int last_level(struct fx *f)
{
	return f->nlevels ? f->levels[f->nlevels - 1] : 0;
}

/* What arrived on the output pipe so far. */
static size_t drain_pipe(struct fx *f, char *buf, size_t max)
{
	ssize_t n = read(f->pipe[0], buf, max);

	return n < 0 ? 0 : (size_t)n;
}

static void test_reset_state(void **state)
{
	struct fx *f = *state;

	assert_int_equal(inb(f, LSR), 0x60); /* THRE | TEMT, no data */
	assert_int_equal(inb(f, IIR), 0x01); /* no interrupt, FIFOs off */
	assert_int_equal(inb(f, IER), 0x00);
	assert_int_equal(inb(f, LCR), 0x03); /* 8N1 */
	assert_int_equal(inb(f, MCR), 0x08); /* OUT2 */
	assert_int_equal(inb(f, MSR), 0xb0); /* DCD | DSR | CTS */
	assert_int_equal(inb(f, RBR), 0x00); /* empty FIFO reads 0 */
	assert_int_equal(f->nlevels, 0);
	/* a 2-byte access still answers one register in the low byte */
	uint16_t w = 0xeeee;
	assert_int_equal(bus_access(&f->bus, COM1 + LSR, &w, 2, false), 0);
	assert_int_equal(w, 0x0060);
}

static void test_transmit(void **state)
{
	struct fx *f = *state;
	const char msg[] = "hello, ember\r\n";
	char buf[64];

	for (size_t i = 0; i < sizeof(msg) - 1; i++) {
		outb(f, THR, (uint8_t)msg[i]);
		/* transmit is immediate: the holding register is empty again */
		assert_int_equal(inb(f, LSR) & 0x60, 0x60);
	}
	assert_int_equal(drain_pipe(f, buf, sizeof(buf)), sizeof(msg) - 1);
	assert_memory_equal(buf, msg, sizeof(msg) - 1);
	assert_int_equal(f->s.tx_bytes, sizeof(msg) - 1);
	assert_int_equal(f->s.missed_writes, 0);
	/* THR-empty interrupts are off: no IRQ */
	assert_int_equal(f->nlevels, 0);
}

static void test_transmit_full_pipe(void **state)
{
	struct fx *f = *state;
	char big[4096];
	ssize_t n;

	/* fill the (non-blocking) pipe, then the UART must not block */
	memset(big, 'z', sizeof(big));
	do {
		n = write(f->pipe[1], big, sizeof(big));
	} while (n > 0);
	assert_int_equal(errno, EAGAIN);
	outb(f, THR, 'x');
	outb(f, THR, 'y');
	assert_int_equal(f->s.missed_writes, 2);
	assert_int_equal(f->s.tx_bytes, 2);

	/* no output fd: bytes are counted and dropped */
	f->s.out_fd = -1;
	outb(f, THR, 'q');
	assert_int_equal(f->s.tx_bytes, 3);
	assert_int_equal(f->s.missed_writes, 2);
}

static void test_dlab(void **state)
{
	struct fx *f = *state;
	char buf[8];

	outb(f, IER, 0x05);
	outb(f, LCR, 0x83); /* DLAB + 8N1 */
	assert_int_equal(inb(f, LCR), 0x83);
	assert_int_equal(inb(f, DLL), 0x0c); /* 9600 baud at reset */
	assert_int_equal(inb(f, DLM), 0x00);
	outb(f, DLL, 0x01); /* 115200 */
	outb(f, DLM, 0x00);
	assert_int_equal(inb(f, DLL), 0x01);
	outb(f, DLM, 0x12);
	assert_int_equal(inb(f, DLM), 0x12);
	/* with DLAB set, offset 0 is the divisor: nothing transmitted */
	assert_int_equal(drain_pipe(f, buf, sizeof(buf)), 0);
	outb(f, LCR, 0x03);
	/* IER kept its value behind the divisor latch */
	assert_int_equal(inb(f, IER), 0x05);
	outb(f, LCR, 0x83);
	assert_int_equal(inb(f, DLL), 0x01);
	assert_int_equal(inb(f, DLM), 0x12);
	outb(f, LCR, 0x03);
	outb(f, THR, 'k');
	assert_int_equal(drain_pipe(f, buf, sizeof(buf)), 1);
	assert_int_equal(buf[0], 'k');
	/* scratch register; read-only LSR/MSR ignore writes */
	outb(f, SCR, 0xa5);
	assert_int_equal(inb(f, SCR), 0xa5);
	outb(f, LSR, 0x00);
	outb(f, MSR, 0x00);
	assert_int_equal(inb(f, LSR), 0x60);
	assert_int_equal(inb(f, MSR), 0xb0);
	/* IER keeps its four defined bits */
	outb(f, IER, 0xff);
	assert_int_equal(inb(f, IER), 0x0f);
}

static void test_loopback(void **state)
{
	struct fx *f = *state;
	char buf[8];
	static const struct {
		uint8_t mcr, msr;
	} lines[] = {
	    {0x10, 0x00}, {0x11, 0x20}, /* DTR -> DSR */
	    {0x12, 0x10},		/* RTS -> CTS */
	    {0x14, 0x40},		/* OUT1 -> RI */
	    {0x18, 0x80},		/* OUT2 -> DCD */
	    {0x1f, 0xf0},
	};

	for (size_t i = 0; i < sizeof(lines) / sizeof(lines[0]); i++) {
		outb(f, MCR, lines[i].mcr);
		assert_int_equal(inb(f, MCR), lines[i].mcr);
		assert_int_equal(inb(f, MSR) & 0xf0, lines[i].msr);
	}
	/* THR comes back in RBR and does not reach the output */
	outb(f, THR, 0x5a);
	outb(f, THR, 0xa5);
	assert_int_equal(inb(f, LSR), 0x61);
	assert_int_equal(inb(f, RBR), 0x5a);
	assert_int_equal(inb(f, RBR), 0xa5);
	assert_int_equal(inb(f, LSR), 0x60);
	assert_int_equal(drain_pipe(f, buf, sizeof(buf)), 0);
	assert_int_equal(f->s.tx_bytes, 0);
	/* MCR keeps only its 5 bits; loopback off restores the modem lines */
	outb(f, MCR, 0xeb);
	assert_int_equal(inb(f, MCR), 0x0b);
	assert_int_equal(inb(f, MSR), 0xb0);
	outb(f, THR, 'o');
	assert_int_equal(drain_pipe(f, buf, sizeof(buf)), 1);
}

static void test_thri(void **state)
{
	struct fx *f = *state;

	/* enabling THRI with an empty THR raises the interrupt at once */
	outb(f, IER, 0x02);
	assert_int_equal(f->nlevels, 1);
	assert_int_equal(last_level(f), 1);
	/* reading IIR identifies and clears it */
	assert_int_equal(inb(f, IIR), 0x02);
	assert_int_equal(f->nlevels, 2);
	assert_int_equal(last_level(f), 0);
	assert_int_equal(inb(f, IIR), 0x01);
	assert_int_equal(f->nlevels, 2); /* no repeated callbacks */
	/* every transmitted byte empties THR again */
	outb(f, THR, '.');
	assert_int_equal(last_level(f), 1);
	assert_int_equal(inb(f, IIR), 0x02);
	assert_int_equal(last_level(f), 0);
	/* re-writing IER with THRI still set does not re-arm it */
	outb(f, IER, 0x02);
	assert_int_equal(last_level(f), 0);
	/* disabling drops a pending interrupt */
	outb(f, THR, '.');
	assert_int_equal(last_level(f), 1);
	outb(f, IER, 0x00);
	assert_int_equal(last_level(f), 0);
	assert_int_equal(inb(f, IIR), 0x01);
	/* FIFO enable shows in IIR[7:6] */
	outb(f, FCR, 0x01);
	assert_int_equal(inb(f, IIR), 0xc1);
	outb(f, FCR, 0x00);
	assert_int_equal(inb(f, IIR), 0x01);
}

static void test_rx(void **state)
{
	struct fx *f = *state;
	uint8_t many[100];

	/* input without RDI enabled: data ready, no IRQ */
	assert_int_equal(serial_input_room(&f->s), SERIAL_FIFO_LEN);
	assert_int_equal(serial_push_input(&f->s, (const uint8_t *)"ab", 2), 2);
	assert_int_equal(f->nlevels, 0);
	assert_int_equal(inb(f, LSR), 0x61);
	assert_int_equal(serial_input_room(&f->s), SERIAL_FIFO_LEN - 2);
	/* enabling RDI with data waiting raises the line */
	outb(f, IER, 0x01);
	assert_int_equal(last_level(f), 1);
	assert_int_equal(inb(f, IIR), 0x04);
	assert_int_equal(last_level(f), 1); /* IIR read does not clear RDI */
	assert_int_equal(inb(f, RBR), 'a');
	assert_int_equal(last_level(f), 1);
	assert_int_equal(f->drained, 0);
	assert_int_equal(inb(f, RBR), 'b');
	assert_int_equal(last_level(f), 0);
	assert_int_equal(f->drained, 1);
	assert_int_equal(inb(f, LSR), 0x60);
	assert_int_equal(inb(f, IIR), 0x01);
	assert_int_equal(inb(f, RBR), 0);
	assert_int_equal(f->drained, 1);

	/* the FIFO holds 64 bytes; the rest is refused, order is kept */
	for (size_t i = 0; i < sizeof(many); i++)
		many[i] = (uint8_t)(i + 1);
	assert_int_equal(serial_push_input(&f->s, many, sizeof(many)), SERIAL_FIFO_LEN);
	assert_int_equal(serial_input_room(&f->s), 0);
	assert_int_equal(serial_push_input(&f->s, many, 1), 0);
	assert_int_equal(last_level(f), 1);
	for (int i = 0; i < SERIAL_FIFO_LEN / 2; i++)
		assert_int_equal(inb(f, RBR), i + 1);
	/* wrap around the ring */
	assert_int_equal(serial_push_input(&f->s, (const uint8_t *)"XYZ", 3), 3);
	for (int i = SERIAL_FIFO_LEN / 2; i < SERIAL_FIFO_LEN; i++)
		assert_int_equal(inb(f, RBR), i + 1);
	assert_int_equal(inb(f, RBR), 'X');
	assert_int_equal(inb(f, RBR), 'Y');
	assert_int_equal(inb(f, RBR), 'Z');
	assert_int_equal(last_level(f), 0);
	assert_int_equal(f->drained, 2);

	/* FCR "clear receive FIFO" empties it too: the host side, which stops
	 * reading its input while the FIFO is full, must hear about it */
	assert_int_equal(serial_push_input(&f->s, many, sizeof(many)), SERIAL_FIFO_LEN);
	assert_int_equal(last_level(f), 1);
	outb(f, FCR, 0x03);
	assert_int_equal(inb(f, LSR), 0x60);
	assert_int_equal(last_level(f), 0);
	assert_int_equal(serial_input_room(&f->s), SERIAL_FIFO_LEN);
	assert_int_equal(f->drained, 3);
	outb(f, FCR, 0x03); /* already empty: no second notification */
	assert_int_equal(f->drained, 3);
	assert_int_equal(serial_push_input(&f->s, (const uint8_t *)"k", 1), 1);
	assert_int_equal(inb(f, RBR), 'k');
}

static void test_rx_before_thri(void **state)
{
	struct fx *f = *state;

	outb(f, IER, 0x03);
	assert_int_equal(last_level(f), 1);
	assert_int_equal(serial_push_input(&f->s, (const uint8_t *)"!", 1), 1);
	/* received data has priority over THR empty */
	assert_int_equal(inb(f, IIR), 0x04);
	assert_int_equal(inb(f, RBR), '!');
	/* THRI is still pending and is now reported, then cleared */
	assert_int_equal(last_level(f), 1);
	assert_int_equal(inb(f, IIR), 0x02);
	assert_int_equal(last_level(f), 0);
	assert_int_equal(inb(f, IIR), 0x01);
	/* the line only changes on transitions */
	for (int i = 1; i < f->nlevels; i++)
		assert_int_not_equal(f->levels[i], f->levels[i - 1]);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_reset_state, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_transmit, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_transmit_full_pipe, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_dlab, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_loopback, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_thri, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_rx, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_rx_before_thri, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
