/* Intel MP 1.4 table: floating pointer, configuration table, entries. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "ember/x86.h"
#include "ember/layout.h"
#include "ember/memory.h"

static int setup(void **state)
{
	struct guest_mem *gm = calloc(1, sizeof(*gm));

	assert_non_null(gm);
	assert_int_equal(gm_init(gm, 256 * 1024 * 1024ULL, 0, 0), 0);
	*state = gm;
	return 0;
}

static int teardown(void **state)
{
	gm_destroy(*state);
	free(*state);
	return 0;
}

static uint8_t sum8(const uint8_t *p, size_t n)
{
	uint8_t s = 0;

	while (n--)
		s += *p++;
	return s;
}

static uint32_t rd32(const uint8_t *p)
{
	uint32_t v;

	memcpy(&v, p, 4);
	return v;
}

static uint16_t rd16(const uint8_t *p)
{
	uint16_t v;

	memcpy(&v, p, 2);
	return v;
}

struct counts {
	int cpus, bsp, buses, ioapics, intsrc, lintsrc;
	int pin_of_irq[256]; /* I/O interrupt: source IRQ -> IOAPIC pin, -1 none */
	int pin_users[24];
};

static void parse(const struct guest_mem *gm, int ncpus, struct counts *c)
{
	const uint8_t *mpf = gm_slice(gm, LAYOUT_MPTABLE, 16), *mpc, *e;
	uint32_t cfg;
	uint16_t len, count;
	size_t off;
	int last_type = 0, n = 0;

	memset(c, 0, sizeof(*c));
	for (int i = 0; i < 256; i++)
		c->pin_of_irq[i] = -1;
	assert_non_null(mpf);
	assert_int_equal(LAYOUT_MPTABLE % 16, 0);
	assert_memory_equal(mpf, "_MP_", 4);
	assert_int_equal(mpf[8], 1); /* length in paragraphs */
	assert_int_equal(mpf[9], 4); /* spec 1.4 */
	assert_int_equal(sum8(mpf, 16), 0);
	assert_int_equal(mpf[11], 0); /* config table present, no default config */
	cfg = rd32(mpf + 4);
	assert_true(cfg >= LAYOUT_MPTABLE + 16 && cfg < LAYOUT_BIOS_START);

	mpc = gm_slice(gm, cfg, 44);
	assert_non_null(mpc);
	assert_memory_equal(mpc, "PCMP", 4);
	len = rd16(mpc + 4);
	count = rd16(mpc + 34);
	assert_int_equal(mpc[6], 4);
	assert_true(cfg + len <= LAYOUT_BIOS_START);
	mpc = gm_slice(gm, cfg, len);
	assert_int_equal(sum8(mpc, len), 0);
	assert_int_equal(rd32(mpc + 36), LAYOUT_LAPIC_ADDR);
	assert_int_equal(rd16(mpc + 40), 0); /* no extended table */

	for (off = 44; off < len; n++) {
		e = mpc + off;
		/* Entries come sorted by type. */
		assert_true(e[0] >= last_type && e[0] <= 4);
		last_type = e[0];
		switch (e[0]) {
		case 0:
			assert_true(off + 20 <= len);
			assert_int_equal(e[1], c->cpus); /* APIC id = vCPU index */
			assert_true(e[3] & 1);
			if (e[3] & 2) {
				assert_int_equal(c->cpus, 0);
				c->bsp++;
			}
			c->cpus++;
			off += 20;
			break;
		case 1:
			assert_memory_equal(e + 2, "ISA   ", 6);
			assert_int_equal(e[1], 0);
			c->buses++;
			off += 8;
			break;
		case 2:
			assert_int_equal(e[1], ncpus);
			assert_true(e[3] & 1);
			assert_int_equal(rd32(e + 4), LAYOUT_IOAPIC_ADDR);
			c->ioapics++;
			off += 8;
			break;
		case 3:
			assert_int_equal(e[1], 0); /* INT */
			assert_int_equal(e[4], 0); /* ISA bus */
			assert_int_equal(e[6], ncpus);
			assert_true(e[7] < 24);
			assert_int_equal(c->pin_of_irq[e[5]], -1); /* once per IRQ */
			c->pin_of_irq[e[5]] = e[7];
			c->pin_users[e[7]]++;
			c->intsrc++;
			off += 8;
			break;
		case 4:
			assert_int_equal(e[6], 0xff); /* all local APICs */
			if (e[7] == 0)
				assert_int_equal(e[1], 3); /* ExtINT on LINT0 */
			else if (e[7] == 1)
				assert_int_equal(e[1], 1); /* NMI on LINT1 */
			else
				fail_msg("LINT%d", e[7]);
			c->lintsrc++;
			off += 8;
			break;
		}
	}
	assert_int_equal(off, len);
	assert_int_equal(n, count);
	for (int pin = 0; pin < 24; pin++)
		assert_true(c->pin_users[pin] <= 1);
}

static void make_virtio(struct arch_mmio_dev *v, int n, uint32_t irq0)
{
	for (int i = 0; i < n; i++) {
		v[i].addr = LAYOUT_VIRTIO_ADDR(i);
		v[i].size = LAYOUT_VIRTIO_MMIO_SIZE;
		v[i].irq = irq0 + (uint32_t)i;
	}
}

static void test_mptable_2cpus_3virtio(void **state)
{
	struct guest_mem *gm = *state;
	struct arch_mmio_dev v[3];
	struct counts c;

	make_virtio(v, 3, LAYOUT_VIRTIO_IRQ_BASE);
	assert_int_equal(mptable_build(gm, 2, v, 3), 0);
	parse(gm, 2, &c);
	assert_int_equal(c.cpus, 2);
	assert_int_equal(c.bsp, 1);
	assert_int_equal(c.buses, 1);
	assert_int_equal(c.ioapics, 1);
	assert_int_equal(c.intsrc, 15); /* ISA 0-15 without the cascade; virtio 5-7 among them */
	assert_int_equal(c.lintsrc, 2);
	assert_int_equal(c.pin_of_irq[0], 2); /* like the MADT override */
	assert_int_equal(c.pin_of_irq[2], -1);
	for (int irq = 5; irq <= 7; irq++)
		assert_int_equal(c.pin_of_irq[irq], irq);
}

static void test_mptable_32cpus_16virtio(void **state)
{
	struct guest_mem *gm = *state;
	struct arch_mmio_dev v[LAYOUT_VIRTIO_MAX_DEVICES];
	struct counts c;

	make_virtio(v, LAYOUT_VIRTIO_MAX_DEVICES, LAYOUT_VIRTIO_IRQ_BASE);
	v[15].irq = v[14].irq; /* a shared IRQ gets one entry */
	assert_int_equal(mptable_build(gm, 32, v, LAYOUT_VIRTIO_MAX_DEVICES), 0);
	parse(gm, 32, &c);
	assert_int_equal(c.cpus, 32);
	assert_int_equal(c.bsp, 1);
	/* virtio IRQs 5..23 but 20 (shared): 16..19 and 21..23 need their own
	 * entries */
	_Static_assert(LAYOUT_VIRTIO_MAX_DEVICES == 19, "IRQs 5..23");
	assert_int_equal(c.intsrc, 15 + 7);
	for (int irq = 16; irq <= 23; irq++)
		assert_int_equal(c.pin_of_irq[irq], irq == 20 ? -1 : irq);
	assert_int_equal(c.lintsrc, 2);
}

static void test_mptable_max_cpus(void **state)
{
	struct guest_mem *gm = *state;
	struct counts c;

	assert_int_equal(mptable_build(gm, 254, NULL, 0), 0);
	parse(gm, 254, &c);
	assert_int_equal(c.cpus, 254);
	assert_int_equal(c.intsrc, 15);
}

static void test_mptable_bad_input(void **state)
{
	struct guest_mem *gm = *state, small;
	struct arch_mmio_dev v[1];

	make_virtio(v, 1, 5);
	assert_int_equal(mptable_build(gm, 0, v, 1), -EINVAL);
	assert_int_equal(mptable_build(gm, 255, v, 1), -EINVAL);
	assert_int_equal(mptable_build(gm, 1, NULL, 1), -EINVAL);
	assert_int_equal(mptable_build(gm, 1, v, -1), -EINVAL);
	assert_int_equal(mptable_build(NULL, 1, v, 1), -EINVAL);
	for (uint32_t irq = 0; irq < 32; irq++) {
		v[0].irq = irq;
		assert_int_equal(mptable_build(gm, 1, v, 1),
				 (irq == 0 || irq == 2 || irq >= 24) ? -EINVAL : 0);
	}
	/* RAM that ends before the EBDA */
	assert_int_equal(gm_init(&small, 512 * 1024, 0, 0), 0);
	assert_int_equal(mptable_build(&small, 1, NULL, 0), -EFAULT);
	gm_destroy(&small);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_mptable_2cpus_3virtio, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_mptable_32cpus_16virtio, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_mptable_max_cpus, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_mptable_bad_input, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
