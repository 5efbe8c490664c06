/* Polled virtio-mmio v2 driver (see virtio.h). */
#include "virtio.h"

#include <linux/virtio_config.h>
#include <linux/virtio_mmio.h>

#include "tg.h"
#include "x86.h"

#define POLL_LOOPS 20000000UL /* used-ring polls before giving up */

static void barrier(void)
{
	__asm__ volatile("" ::: "memory");
}

int tg_virtio_slots(struct tg_vslot *out, int max)
{
	const struct acpi_header *d = acpi_dsdt();
	if (!acpi_table_valid(d))
		return 0;
	const uint8_t *aml = (const uint8_t *)d, *end = aml + d->length;
	int n = 0;
	for (const uint8_t *p = aml + sizeof(*d); p + 8 <= end; p++) {
		if (memcmp(p, "LNRO0005", 8))
			continue;
		struct tg_vslot s = { 0, 0, 0 };
		bool mem = false, irq = false;
		/* The device's _CRS follows its _HID within a few dozen bytes. */
		for (const uint8_t *q = p + 8; q + 9 <= end && q < p + 96; q++) {
			if (!mem && q + 12 <= end && q[0] == 0x86 && q[1] == 0x09 && q[2] == 0x00) {
				uint32_t base, len;
				memcpy(&base, q + 4, 4);
				memcpy(&len, q + 8, 4);
				s.base = base;
				s.size = len;
				mem = true;
			} else if (mem && !irq && q[0] == 0x89 && q[3 + 1] >= 1) {
				memcpy(&s.irq, q + 5, 4);
				irq = true;
				break;
			}
		}
		if (mem && irq) {
			if (n < max)
				out[n] = s;
			n++;
		}
	}
	return n;
}

uint32_t tg_vio_read(const struct tg_vdev *d, uint32_t off)
{
	return mmio_read32(d->slot.base + off);
}

void tg_vio_write(const struct tg_vdev *d, uint32_t off, uint32_t v)
{
	mmio_write32(d->slot.base + off, v);
}

bool tg_virtio_identify(struct tg_vdev *d, const struct tg_vslot *s)
{
	memset(d, 0, sizeof(*d));
	d->slot = *s;
	if (tg_vio_read(d, VIRTIO_MMIO_MAGIC_VALUE) != 0x74726976) /* "virt" */
		return false;
	d->version = tg_vio_read(d, VIRTIO_MMIO_VERSION);
	d->device_id = tg_vio_read(d, VIRTIO_MMIO_DEVICE_ID);
	d->vendor_id = tg_vio_read(d, VIRTIO_MMIO_VENDOR_ID);
	return d->version == 2 && d->device_id != 0;
}

uint32_t tg_virtio_status(const struct tg_vdev *d)
{
	return tg_vio_read(d, VIRTIO_MMIO_STATUS);
}

void tg_virtio_reset(struct tg_vdev *d)
{
	tg_vio_write(d, VIRTIO_MMIO_STATUS, 0);
	for (int i = 0; i < 100000 && tg_virtio_status(d); i++)
		cpu_pause();
}

bool tg_virtio_negotiate(struct tg_vdev *d, uint64_t want, const char **why)
{
	tg_virtio_reset(d);
	if (tg_virtio_status(d) != 0) {
		*why = "status not 0 after reset";
		return false;
	}
	tg_vio_write(d, VIRTIO_MMIO_STATUS, VIRTIO_CONFIG_S_ACKNOWLEDGE);
	tg_vio_write(d, VIRTIO_MMIO_STATUS, VIRTIO_CONFIG_S_ACKNOWLEDGE | VIRTIO_CONFIG_S_DRIVER);
	tg_vio_write(d, VIRTIO_MMIO_DEVICE_FEATURES_SEL, 0);
	uint64_t lo = tg_vio_read(d, VIRTIO_MMIO_DEVICE_FEATURES);
	tg_vio_write(d, VIRTIO_MMIO_DEVICE_FEATURES_SEL, 1);
	uint64_t hi = tg_vio_read(d, VIRTIO_MMIO_DEVICE_FEATURES);
	d->dev_features = hi << 32 | lo;
	if (!(d->dev_features & (1ULL << VIRTIO_F_VERSION_1))) {
		*why = "VIRTIO_F_VERSION_1 not offered";
		return false;
	}
	d->features = (d->dev_features & want) | (1ULL << VIRTIO_F_VERSION_1);
	tg_vio_write(d, VIRTIO_MMIO_DRIVER_FEATURES_SEL, 0);
	tg_vio_write(d, VIRTIO_MMIO_DRIVER_FEATURES, (uint32_t)d->features);
	tg_vio_write(d, VIRTIO_MMIO_DRIVER_FEATURES_SEL, 1);
	tg_vio_write(d, VIRTIO_MMIO_DRIVER_FEATURES, (uint32_t)(d->features >> 32));
	tg_vio_write(d, VIRTIO_MMIO_STATUS, VIRTIO_CONFIG_S_ACKNOWLEDGE | VIRTIO_CONFIG_S_DRIVER |
						    VIRTIO_CONFIG_S_FEATURES_OK);
	if (!(tg_virtio_status(d) & VIRTIO_CONFIG_S_FEATURES_OK)) {
		*why = "FEATURES_OK not accepted";
		return false;
	}
	return true;
}

bool tg_vq_init(struct tg_vdev *d, struct tg_vq *q, unsigned idx, void *mem, const char **why)
{
	tg_vio_write(d, VIRTIO_MMIO_QUEUE_SEL, idx);
	if (tg_vio_read(d, VIRTIO_MMIO_QUEUE_READY)) {
		*why = "queue already ready";
		return false;
	}
	uint32_t max = tg_vio_read(d, VIRTIO_MMIO_QUEUE_NUM_MAX);
	if (max == 0) {
		*why = "QueueNumMax is 0";
		return false;
	}
	unsigned size = TG_VQ_SIZE;
	while (size > max)
		size /= 2;
	memset(mem, 0, 4096);
	q->index = idx;
	q->size = size;
	q->desc = mem;
	q->avail = (struct vring_avail *)((uint8_t *)mem + 16 * size);
	uint64_t used = ((uint64_t)q->avail + 6 + 2 * size + 3) & ~3ULL;
	q->used = (struct vring_used *)used;
	q->last_used = 0;
	tg_vio_write(d, VIRTIO_MMIO_QUEUE_NUM, size);
	uint64_t a[3] = { (uint64_t)q->desc, (uint64_t)q->avail, (uint64_t)q->used };
	static const uint32_t reg[3] = { VIRTIO_MMIO_QUEUE_DESC_LOW, VIRTIO_MMIO_QUEUE_AVAIL_LOW,
					 VIRTIO_MMIO_QUEUE_USED_LOW };
	for (int i = 0; i < 3; i++) {
		tg_vio_write(d, reg[i], (uint32_t)a[i]);
		tg_vio_write(d, reg[i] + 4, (uint32_t)(a[i] >> 32));
	}
	tg_vio_write(d, VIRTIO_MMIO_QUEUE_READY, 1);
	if (tg_vio_read(d, VIRTIO_MMIO_QUEUE_READY) != 1) {
		*why = "QueueReady does not read back 1";
		return false;
	}
	return true;
}

void tg_virtio_driver_ok(struct tg_vdev *d)
{
	tg_vio_write(d, VIRTIO_MMIO_STATUS, tg_virtio_status(d) | VIRTIO_CONFIG_S_DRIVER_OK);
}

bool tg_vq_run(struct tg_vdev *d, struct tg_vq *q, const struct tg_vbuf *bufs, int n,
	       bool indirect, uint32_t *written)
{
	static struct vring_desc table[TG_VQ_SIZE] __attribute__((aligned(16)));
	struct vring_desc *chain = indirect ? table : q->desc;

	if (n < 1 || n > (int)q->size)
		return false;
	for (int i = 0; i < n; i++) {
		chain[i].addr = (uint64_t)bufs[i].addr;
		chain[i].len = bufs[i].len;
		chain[i].flags = (uint16_t)((i + 1 < n ? VRING_DESC_F_NEXT : 0) |
					    (bufs[i].device_writes ? VRING_DESC_F_WRITE : 0));
		chain[i].next = (uint16_t)(i + 1 < n ? i + 1 : 0);
	}
	if (indirect) {
		q->desc[0].addr = (uint64_t)table;
		q->desc[0].len = (uint32_t)(n * sizeof(struct vring_desc));
		q->desc[0].flags = VRING_DESC_F_INDIRECT;
		q->desc[0].next = 0;
	}
	uint16_t idx = q->avail->idx;
	q->avail->ring[idx % q->size] = 0; /* head: descriptor 0 */
	barrier();
	q->avail->idx = (uint16_t)(idx + 1);
	barrier();
	tg_vio_write(d, VIRTIO_MMIO_QUEUE_NOTIFY, q->index);

	unsigned long loops = 0;
	while (*(volatile uint16_t *)&q->used->idx == q->last_used && loops < POLL_LOOPS) {
		cpu_pause();
		loops++;
	}
	barrier();
	if (q->used->idx == q->last_used)
		return false;
	struct vring_used_elem e = q->used->ring[q->last_used % q->size];
	q->last_used++;
	uint32_t isr = tg_vio_read(d, VIRTIO_MMIO_INTERRUPT_STATUS);
	if (isr)
		tg_vio_write(d, VIRTIO_MMIO_INTERRUPT_ACK, isr);
	*written = e.len;
	return e.id == 0;
}
