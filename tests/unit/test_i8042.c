/* i8042 keyboard controller (i8042.c) driven through the PIO bus (data 0x60,
 * command/status 0x64): self test, control byte, CPU reset paths, keyboard
 * commands and Ctrl-Alt-Del injection with IRQ 1. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "ember/bus.h"
#include "ember/i8042.h"
#include "ember/layout.h"

#define DATA LAYOUT_I8042_DATA
#define CMD LAYOUT_I8042_CMD
#define ST_OBF 0x01
#define ST_SYS 0x04
#define ST_CMD 0x08
#define ST_AUX 0x20

struct fx {
	struct i8042 k;
	struct bus bus;
	int resets;
	int irq_calls, level;
	int rising_edges;
};

static void reset_cb(void *opaque)
{
	((struct fx *)opaque)->resets++;
}

static void irq_cb(void *opaque, int level)
{
	struct fx *f = opaque;

	f->irq_calls++;
	if (level && !f->level)
		f->rising_edges++;
	f->level = level;
}

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));

	if (!f)
		return -1;
	i8042_init(&f->k, reset_cb, f, irq_cb, f);
	bus_init(&f->bus);
	/* as the VM registers it: one 5-port range, offsets 0 and 4 */
	if (bus_register(&f->bus, DATA, 5, &i8042_bus_ops, &f->k, &f->k.lock) < 0)
		return -1;
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;

	pthread_mutex_destroy(&f->k.lock);
	free(f);
	return 0;
}

static uint8_t inb(struct fx *f, uint16_t port)
{
	uint8_t v = 0xee;

	assert_int_equal(bus_access(&f->bus, port, &v, 1, false), 0);
	return v;
}

static void outb(struct fx *f, uint16_t port, uint8_t v)
{
	assert_int_equal(bus_access(&f->bus, port, &v, 1, true), 0);
}

/* Read everything in the output buffer (at most max bytes). */
static size_t read_all(struct fx *f, uint8_t *out, size_t max)
{
	size_t n = 0;

	while ((inb(f, CMD) & ST_OBF) && n < max)
		out[n++] = inb(f, DATA);
	return n;
}

static void test_self_test(void **state)
{
	struct fx *f = *state;

	assert_int_equal(inb(f, CMD) & ST_OBF, 0);
	assert_true(inb(f, CMD) & ST_SYS);
	assert_int_equal(inb(f, DATA), 0); /* empty */
	outb(f, CMD, 0xaa);
	assert_int_equal(inb(f, CMD) & (ST_OBF | ST_SYS | ST_CMD), ST_OBF | ST_SYS | ST_CMD);
	assert_int_equal(inb(f, DATA), 0x55);
	assert_int_equal(inb(f, CMD) & ST_OBF, 0);
	/* interface tests: keyboard passes, there is no aux port */
	outb(f, CMD, 0xab);
	assert_int_equal(inb(f, DATA), 0x00);
	outb(f, CMD, 0xa9);
	assert_int_equal(inb(f, DATA), 0xff);
	outb(f, CMD, 0xc0);
	assert_int_equal(inb(f, DATA), 0x80);
	/* unused ports of the range read as 0 */
	assert_int_equal(inb(f, DATA + 1), 0);
	assert_int_equal(f->resets, 0);
}

static void test_control_byte(void **state)
{
	struct fx *f = *state;

	outb(f, CMD, 0x20);
	assert_int_equal(inb(f, DATA), 0x47); /* kbd IRQ, system flag, translation */
	outb(f, CMD, 0x60);
	outb(f, DATA, 0x65);
	assert_int_equal(inb(f, CMD) & ST_CMD, 0); /* last write was data */
	outb(f, CMD, 0x20);
	assert_int_equal(inb(f, DATA), 0x65);
	/* aux / keyboard disable and enable flip bits 5 and 4 */
	outb(f, CMD, 0xa8);
	outb(f, CMD, 0xad);
	outb(f, CMD, 0x20);
	assert_int_equal(inb(f, DATA), 0x55);
	outb(f, CMD, 0xa7);
	outb(f, CMD, 0xae);
	outb(f, CMD, 0x20);
	assert_int_equal(inb(f, DATA), 0x65);
	assert_int_equal(f->resets, 0);
}

static void test_reset_command(void **state)
{
	struct fx *f = *state;

	outb(f, CMD, 0xfe); /* pulse reset line: what Linux reboot=k does */
	assert_int_equal(f->resets, 1);
	outb(f, CMD, 0xfe);
	assert_int_equal(f->resets, 2);
}

static void test_reset_outport(void **state)
{
	struct fx *f = *state;

	outb(f, CMD, 0xd0);
	assert_int_equal(inb(f, DATA), 0x01); /* CPU running */
	/* output port with bit 0 (reset line) high: no reset */
	outb(f, CMD, 0xd1);
	outb(f, DATA, 0xdf);
	assert_int_equal(f->resets, 0);
	outb(f, CMD, 0xd0);
	assert_int_equal(inb(f, DATA), 0xdf);
	/* bit 0 low: CPU reset */
	outb(f, CMD, 0xd1);
	outb(f, DATA, 0xde);
	assert_int_equal(f->resets, 1);
	/* the data byte went to the output port, not to the keyboard */
	assert_int_equal(inb(f, CMD) & ST_OBF, 0);
	/* a data byte without a pending command is a keyboard command, even
	 * with bit 0 clear: no reset */
	outb(f, DATA, 0x00);
	assert_int_equal(f->resets, 1);
}

static void test_keyboard_commands(void **state)
{
	struct fx *f = *state;
	uint8_t b[16];

	assert_int_equal(f->level, 0);
	outb(f, DATA, 0xff); /* keyboard reset */
	assert_int_equal(f->level, 1);
	assert_int_equal(read_all(f, b, sizeof(b)), 2);
	assert_int_equal(b[0], 0xfa);
	assert_int_equal(b[1], 0xaa);
	assert_int_equal(f->level, 0);

	outb(f, DATA, 0xf2); /* identify */
	assert_int_equal(read_all(f, b, sizeof(b)), 3);
	assert_memory_equal(b, "\xfa\xab\x83", 3);
	outb(f, DATA, 0xee); /* echo */
	assert_int_equal(read_all(f, b, sizeof(b)), 1);
	assert_int_equal(b[0], 0xee);
	outb(f, DATA, 0xf4); /* enable scanning: ack */
	assert_int_equal(read_all(f, b, sizeof(b)), 1);
	assert_int_equal(b[0], 0xfa);

	/* write keyboard output buffer */
	outb(f, CMD, 0xd2);
	outb(f, DATA, 0x42);
	assert_int_equal(f->level, 1);
	assert_int_equal(inb(f, DATA), 0x42);
	assert_int_equal(f->level, 0);

	/* aux output: flagged AUX, never raises the keyboard IRQ */
	outb(f, CMD, 0xd3);
	outb(f, DATA, 0x5a);
	assert_int_equal(inb(f, CMD) & (ST_OBF | ST_AUX), ST_OBF | ST_AUX);
	assert_int_equal(f->level, 0);
	assert_int_equal(inb(f, DATA), 0x5a);
	assert_int_equal(inb(f, CMD) & (ST_OBF | ST_AUX), 0);
	/* bytes for the absent aux device are dropped */
	outb(f, CMD, 0xd4);
	outb(f, DATA, 0xff);
	assert_int_equal(inb(f, CMD) & ST_OBF, 0);

	/* keyboard IRQ disabled in the control byte: data but no IRQ */
	outb(f, CMD, 0x60);
	outb(f, DATA, 0x46);
	outb(f, DATA, 0xff);
	assert_int_equal(inb(f, CMD) & ST_OBF, ST_OBF);
	assert_int_equal(f->level, 0);
	assert_int_equal(read_all(f, b, sizeof(b)), 2);

	/* more than the buffer holds: the excess is dropped, order kept */
	for (int i = 0; i < 12; i++)
		outb(f, DATA, 0xf2); /* 3 bytes each */
	assert_int_equal(read_all(f, b, sizeof(b)), 16);
	assert_memory_equal(b, "\xfa\xab\x83\xfa\xab\x83", 6);
	assert_int_equal(inb(f, CMD) & ST_OBF, 0);
	assert_int_equal(f->resets, 0);
}

static void test_ctrl_alt_del_translated(void **state)
{
	struct fx *f = *state;
	uint8_t b[16];

	/* the default control byte has translation on (Linux keeps it): the
	 * guest reads set-1 codes */
	assert_int_equal(i8042_send_ctrl_alt_del(&f->k), 0);
	assert_int_equal(f->level, 1);
	assert_true(inb(f, CMD) & ST_OBF);
	assert_int_equal(read_all(f, b, sizeof(b)), 4);
	assert_memory_equal(b, "\x1d\x38\xe0\x53", 4);
	assert_int_equal(f->level, 0);
	assert_int_equal(f->resets, 0);
}

static void test_ctrl_alt_del_set2(void **state)
{
	struct fx *f = *state;
	uint8_t b[16];

	/* translation off (what Linux does with i8042.direct): set-2 codes */
	outb(f, CMD, 0x60);
	outb(f, DATA, 0x05);
	assert_int_equal(i8042_send_ctrl_alt_del(&f->k), 0);
	assert_int_equal(f->level, 1);
	assert_int_equal(read_all(f, b, sizeof(b)), 4);
	assert_memory_equal(b, "\x14\x11\xe0\x71", 4);
	assert_int_equal(f->level, 0);

	/* keyboard IRQ off: queued but no IRQ */
	outb(f, CMD, 0x60);
	outb(f, DATA, 0x04);
	assert_int_equal(i8042_send_ctrl_alt_del(&f->k), 0);
	assert_int_equal(f->level, 0);
	assert_int_equal(read_all(f, b, sizeof(b)), 4);
}

static void test_ctrl_alt_del_full(void **state)
{
	struct fx *f = *state;
	uint8_t b[16];

	/* 13 bytes waiting: no room for all 4 scancodes, nothing is queued */
	for (int i = 0; i < 4; i++)
		outb(f, DATA, 0xf2);
	outb(f, DATA, 0xee);
	assert_int_equal(i8042_send_ctrl_alt_del(&f->k), -EBUSY);
	assert_int_equal(read_all(f, b, sizeof(b)), 13);
	/* 12 bytes: exactly fits */
	for (int i = 0; i < 4; i++)
		outb(f, DATA, 0xf2);
	assert_int_equal(i8042_send_ctrl_alt_del(&f->k), 0);
	assert_int_equal(read_all(f, b, sizeof(b)), 16);
	assert_memory_equal(b + 12, "\x1d\x38\xe0\x53", 4);
}

/* One interrupt per byte (ISA IRQ 1 is edge-triggered): the keyboard's
 * 3-byte identify answer gives three rising edges as the guest reads it,
 * and the line is low once the buffer is empty. */
static void test_irq_edge_per_byte(void **state)
{
	struct fx *f = *state;
	uint8_t got[3];

	outb(f, DATA, 0xf2); /* identify */
	assert_int_equal(f->rising_edges, 1);
	for (int i = 0; i < 3; i++)
		got[i] = inb(f, DATA);
	assert_int_equal(got[0], 0xfa);
	assert_int_equal(got[1], 0xab);
	assert_int_equal(got[2], 0x83);
	assert_int_equal(f->rising_edges, 3);
	assert_int_equal(f->level, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_self_test, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_control_byte, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_reset_command, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_reset_outport, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_keyboard_commands, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_ctrl_alt_del_translated, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_ctrl_alt_del_set2, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_ctrl_alt_del_full, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_irq_edge_per_byte, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
