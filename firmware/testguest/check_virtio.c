/* virtio-mmio discovery: the DSDT's LNRO0005 devices (tg.virtio of them),
 * each also announced on the command line as virtio_mmio.device=4K@ADDR:IRQ,
 * and each answering as a virtio-mmio version 2 device. */
#include "tg.h"
#include "virtio.h"

static const char *device_name(uint32_t id)
{
	switch (id) {
	case 1:
		return "net";
	case 2:
		return "blk";
	case 5:
		return "balloon";
	case 19:
		return "vsock";
	default:
		return "other";
	}
}

/* Is "virtio_mmio.device=4K@<base>:<irq>" on the command line? */
static bool on_cmdline(const struct tg_vslot *s)
{
	char want[64];
	int n = tg_snprintf(want, sizeof(want), "virtio_mmio.device=4K@%#lx:%u", s->base, s->irq);
	const char *c = tg.cmdline;
	if (!c)
		return false;
	for (size_t i = 0; i + (size_t)n <= tg.cmdline_len; i++)
		if ((i == 0 || c[i - 1] == ' ') && !memcmp(c + i, want, (size_t)n) &&
		    (i + (size_t)n == tg.cmdline_len || c[i + n] == ' '))
			return true;
	return false;
}

static void check_virtio(void)
{
	struct tg_vslot slots[TG_VIRTIO_MAX];
	int n = tg_virtio_slots(slots, TG_VIRTIO_MAX);

	if (n == 0 && tg.virtio == 0)
		return; /* dsdt.virtio already said there are none */
	tg_expect((uint64_t)n == tg.virtio && n <= TG_VIRTIO_MAX, "virtio.slots",
		  "%d LNRO0005 devices with resources in the DSDT, tg.virtio=%lu", n, tg.virtio);
	for (int i = 0; i < n && i < TG_VIRTIO_MAX; i++) {
		char name[32];
		struct tg_vdev d;
		tg_snprintf(name, sizeof(name), "virtio.slot%d", i);
		bool ok = slots[i].size >= 0x200 && slots[i].base >= 0xc0000000 &&
			  slots[i].base < 0x100000000 && tg_virtio_identify(&d, &slots[i]);
		bool cmd = on_cmdline(&slots[i]);
		tg_expect(ok && cmd, name,
			  "base=%#lx size=%#lx irq=%u%s magic/version 2: %s, device=%u (%s) vendor=%#x",
			  slots[i].base, slots[i].size, slots[i].irq,
			  cmd ? "" : " (NOT on the command line)", ok ? "ok" : "BAD", d.device_id,
			  device_name(d.device_id), d.vendor_id);
	}
}
TG_CHECK(700, check_virtio);
