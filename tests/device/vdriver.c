/* Guest-less virtio driver; see vdriver.h. */
#include "vdriver.h"

#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <linux/virtio_blk.h>

#define HEAP_START 0x10000ULL

int vdrv_init(struct vdriver *d, uint64_t mem_size)
{
	int r;

	memset(d, 0, sizeof(*d));
	r = gm_init(&d->gm, mem_size, 0, 0);
	if (r < 0)
		return r;
	r = el_init(&d->el);
	if (r < 0) {
		gm_destroy(&d->gm);
		return r;
	}
	bus_init(&d->bus);
	d->heap = HEAP_START;
	d->heap_end = mem_size;
	return 0;
}

void vdrv_destroy(struct vdriver *d)
{
	el_destroy(&d->el);
	gm_destroy(&d->gm);
}

int vdrv_attach(struct vdriver *d, struct virtio_dev *vd)
{
	d->vd = vd;
	return bus_register(&d->bus, VDRV_MMIO_BASE, LAYOUT_VIRTIO_MMIO_SIZE, &virtio_mmio_bus_ops,
			    vd, virtio_dev_lock(vd));
}

/* ---- MMIO ---- */

uint32_t vdrv_read32(struct vdriver *d, uint32_t off)
{
	uint32_t v;

	bus_access(&d->bus, VDRV_MMIO_BASE + off, &v, 4, false);
	return le32toh(v);
}

void vdrv_write32(struct vdriver *d, uint32_t off, uint32_t val)
{
	uint32_t v = htole32(val);

	bus_access(&d->bus, VDRV_MMIO_BASE + off, &v, 4, true);
}

void vdrv_config_read(struct vdriver *d, uint32_t off, void *buf, uint32_t len)
{
	uint8_t *p = buf;

	/* Byte/word/dword accesses as a driver would, 4 bytes at a time. */
	while (len) {
		uint32_t n = len >= 4 ? 4 : (len >= 2 ? 2 : 1);

		bus_access(&d->bus, VDRV_MMIO_BASE + VIRTIO_MMIO_CONFIG + off, p, n, false);
		p += n;
		off += n;
		len -= n;
	}
}

uint32_t vdrv_status(struct vdriver *d)
{
	return vdrv_read32(d, VIRTIO_MMIO_STATUS);
}

bool vdrv_needs_reset(struct vdriver *d)
{
	return vdrv_status(d) & VIRTIO_CONFIG_S_NEEDS_RESET;
}

/* ---- guest RAM ---- */

uint64_t vdrv_alloc(struct vdriver *d, uint64_t len, uint64_t align)
{
	uint64_t p = (d->heap + align - 1) & ~(align - 1);
	void *h;

	if (p > d->heap_end || len > d->heap_end - p)
		return 0;
	d->heap = p + len;
	h = gm_slice(&d->gm, p, len);
	if (h)
		memset(h, 0, len);
	return p;
}

uint64_t vdrv_mark(const struct vdriver *d)
{
	return d->heap;
}

void vdrv_release(struct vdriver *d, uint64_t mark)
{
	d->heap = mark;
}

void *vdrv_ptr(struct vdriver *d, uint64_t gpa, uint64_t len)
{
	return gm_slice(&d->gm, gpa, len);
}

/* ---- set-up ---- */

uint64_t vdrv_device_features(struct vdriver *d)
{
	uint64_t v;

	vdrv_write32(d, VIRTIO_MMIO_DEVICE_FEATURES_SEL, 1);
	v = (uint64_t)vdrv_read32(d, VIRTIO_MMIO_DEVICE_FEATURES) << 32;
	vdrv_write32(d, VIRTIO_MMIO_DEVICE_FEATURES_SEL, 0);
	return v | vdrv_read32(d, VIRTIO_MMIO_DEVICE_FEATURES);
}

int vdrv_negotiate(struct vdriver *d, uint64_t want)
{
	vdrv_write32(d, VIRTIO_MMIO_STATUS, 0);
	vdrv_write32(d, VIRTIO_MMIO_STATUS, VIRTIO_CONFIG_S_ACKNOWLEDGE);
	vdrv_write32(d, VIRTIO_MMIO_STATUS, VIRTIO_CONFIG_S_ACKNOWLEDGE | VIRTIO_CONFIG_S_DRIVER);
	d->features = vdrv_device_features(d) & want;
	vdrv_write32(d, VIRTIO_MMIO_DRIVER_FEATURES_SEL, 0);
	vdrv_write32(d, VIRTIO_MMIO_DRIVER_FEATURES, (uint32_t)d->features);
	vdrv_write32(d, VIRTIO_MMIO_DRIVER_FEATURES_SEL, 1);
	vdrv_write32(d, VIRTIO_MMIO_DRIVER_FEATURES, (uint32_t)(d->features >> 32));
	vdrv_write32(d, VIRTIO_MMIO_STATUS,
		     VIRTIO_CONFIG_S_ACKNOWLEDGE | VIRTIO_CONFIG_S_DRIVER |
			 VIRTIO_CONFIG_S_FEATURES_OK);
	if (!(vdrv_status(d) & VIRTIO_CONFIG_S_FEATURES_OK))
		return -EPROTO;
	return 0;
}

int vdrv_setup_queue(struct vdriver *d, unsigned q, uint16_t size)
{
	struct vd_queue *vq = &d->q[q];

	memset(vq, 0, sizeof(*vq));
	vq->size = size;
	vq->desc = vdrv_alloc(d, 16ULL * size, 4096);
	vq->avail = vdrv_alloc(d, 6 + 2ULL * size, 2);
	vq->used = vdrv_alloc(d, 6 + 8ULL * size, 4096);
	/* One indirect table of VQ_MAX_SIZE entries per head. */
	vq->indirect = vdrv_alloc(d, 16ULL * VQ_MAX_SIZE * size, 4096);
	if (!vq->desc || !vq->avail || !vq->used || !vq->indirect)
		return -ENOMEM;
	for (unsigned i = 0; i < size; i++)
		vq->next[i] = (uint16_t)(i + 1);
	vq->free_head = 0;
	vq->num_free = size;
	vdrv_write32(d, VIRTIO_MMIO_QUEUE_SEL, q);
	vdrv_write32(d, VIRTIO_MMIO_QUEUE_NUM, size);
	vdrv_write32(d, VIRTIO_MMIO_QUEUE_DESC_LOW, (uint32_t)vq->desc);
	vdrv_write32(d, VIRTIO_MMIO_QUEUE_DESC_HIGH, (uint32_t)(vq->desc >> 32));
	vdrv_write32(d, VIRTIO_MMIO_QUEUE_AVAIL_LOW, (uint32_t)vq->avail);
	vdrv_write32(d, VIRTIO_MMIO_QUEUE_AVAIL_HIGH, (uint32_t)(vq->avail >> 32));
	vdrv_write32(d, VIRTIO_MMIO_QUEUE_USED_LOW, (uint32_t)vq->used);
	vdrv_write32(d, VIRTIO_MMIO_QUEUE_USED_HIGH, (uint32_t)(vq->used >> 32));
	if (q >= d->nqueues)
		d->nqueues = q + 1;
	return 0;
}

void vdrv_queue_ready(struct vdriver *d, unsigned q)
{
	vdrv_write32(d, VIRTIO_MMIO_QUEUE_SEL, q);
	vdrv_write32(d, VIRTIO_MMIO_QUEUE_READY, 1);
}

int vdrv_driver_ok(struct vdriver *d)
{
	vdrv_write32(d, VIRTIO_MMIO_STATUS,
		     VIRTIO_CONFIG_S_ACKNOWLEDGE | VIRTIO_CONFIG_S_DRIVER |
			 VIRTIO_CONFIG_S_FEATURES_OK | VIRTIO_CONFIG_S_DRIVER_OK);
	return vdrv_needs_reset(d) || !(vdrv_status(d) & VIRTIO_CONFIG_S_DRIVER_OK) ? -EPROTO : 0;
}

int vdrv_setup(struct vdriver *d, uint64_t want, unsigned nqueues, uint16_t size)
{
	int r = vdrv_negotiate(d, want);

	for (unsigned q = 0; r == 0 && q < nqueues; q++) {
		r = vdrv_setup_queue(d, q, size);
		if (r == 0)
			vdrv_queue_ready(d, q);
	}
	return r ? r : vdrv_driver_ok(d);
}

/* ---- raw ring access ---- */

void vdrv_set_desc_at(struct vdriver *d, uint64_t table, uint16_t idx, uint64_t addr, uint32_t len,
		      uint16_t flags, uint16_t next)
{
	struct vring_desc desc = {.addr = htole64(addr),
				  .len = htole32(len),
				  .flags = htole16(flags),
				  .next = htole16(next)};

	gm_write(&d->gm, table + 16ULL * idx, &desc, sizeof(desc));
}

void vdrv_set_desc(struct vdriver *d, unsigned q, uint16_t idx, uint64_t addr, uint32_t len,
		   uint16_t flags, uint16_t next)
{
	vdrv_set_desc_at(d, d->q[q].desc, idx, addr, len, flags, next);
}

static uint16_t *avail_word(struct vdriver *d, unsigned q, unsigned i)
{
	return gm_slice(&d->gm, d->q[q].avail + 2ULL * i, 2);
}

void vdrv_post(struct vdriver *d, unsigned q, uint16_t head)
{
	struct vd_queue *vq = &d->q[q];

	*avail_word(d, q, 2 + (vq->avail_idx % vq->size)) = htole16(head);
	vq->avail_idx++;
	__atomic_store_n(avail_word(d, q, 1), htole16(vq->avail_idx), __ATOMIC_RELEASE);
}

void vdrv_set_avail_idx(struct vdriver *d, unsigned q, uint16_t idx)
{
	d->q[q].avail_idx = idx;
	__atomic_store_n(avail_word(d, q, 1), htole16(idx), __ATOMIC_RELEASE);
}

void vdrv_set_used_event(struct vdriver *d, unsigned q, uint16_t v)
{
	*avail_word(d, q, 2 + d->q[q].size) = htole16(v);
}

void vdrv_set_avail_flags(struct vdriver *d, unsigned q, uint16_t flags)
{
	*avail_word(d, q, 0) = htole16(flags);
}

uint16_t vdrv_avail_event(struct vdriver *d, unsigned q)
{
	uint16_t v = 0;

	gm_read(&d->gm, d->q[q].used + 4 + 8ULL * d->q[q].size, &v, 2);
	return le16toh(v);
}

uint16_t vdrv_used_idx(struct vdriver *d, unsigned q)
{
	uint16_t *p = gm_slice(&d->gm, d->q[q].used + 2, 2);

	return le16toh(__atomic_load_n(p, __ATOMIC_ACQUIRE));
}

uint16_t vdrv_used_flags(struct vdriver *d, unsigned q)
{
	uint16_t v = 0;

	gm_read(&d->gm, d->q[q].used, &v, 2);
	return le16toh(v);
}

void vdrv_kick(struct vdriver *d, unsigned q)
{
	vdrv_write32(d, VIRTIO_MMIO_QUEUE_NOTIFY, q);
}

bool vdrv_kick_needed(struct vdriver *d, unsigned q, uint16_t old_avail)
{
	uint16_t cur = d->q[q].avail_idx;

	/* Pairs with the device's barrier between avail_event and avail->idx. */
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	if (d->features & VIRTIO_FEATURE(VIRTIO_RING_F_EVENT_IDX))
		return vring_need_event(vdrv_avail_event(d, q), cur, old_avail);
	return !(vdrv_used_flags(d, q) & VRING_USED_F_NO_NOTIFY);
}

/* ---- allocator level ---- */

int vdrv_add_chain(struct vdriver *d, unsigned q, const struct vd_buf *bufs, int n, bool indirect)
{
	struct vd_queue *vq = &d->q[q];
	int need = indirect ? 1 : n;
	uint16_t head, idx;

	if (n <= 0 || n > VQ_MAX_SIZE || need > vq->num_free)
		return -ENOSPC;
	head = vq->free_head;
	if (indirect) {
		uint64_t table = vq->indirect + 16ULL * VQ_MAX_SIZE * head;

		for (int i = 0; i < n; i++)
			vdrv_set_desc_at(d, table, (uint16_t)i, bufs[i].gpa, bufs[i].len,
					 (uint16_t)((bufs[i].write ? VRING_DESC_F_WRITE : 0) |
						    (i + 1 < n ? VRING_DESC_F_NEXT : 0)),
					 (uint16_t)(i + 1 < n ? i + 1 : 0));
		vdrv_set_desc(d, q, head, table, (uint32_t)(16 * n), VRING_DESC_F_INDIRECT, 0);
		vq->free_head = vq->next[head];
	} else {
		idx = head;
		for (int i = 0; i < n; i++) {
			uint16_t next = vq->next[idx];

			vdrv_set_desc(d, q, idx, bufs[i].gpa, bufs[i].len,
				      (uint16_t)((bufs[i].write ? VRING_DESC_F_WRITE : 0) |
						 (i + 1 < n ? VRING_DESC_F_NEXT : 0)),
				      i + 1 < n ? next : 0);
			if (i + 1 < n)
				idx = next;
			else
				vq->free_head = next;
		}
	}
	vq->num_free = (uint16_t)(vq->num_free - need);
	vq->chain_len[head] = (uint16_t)need;
	vdrv_post(d, q, head);
	return head;
}

void vdrv_free_chain(struct vdriver *d, unsigned q, uint16_t head)
{
	struct vd_queue *vq = &d->q[q];
	uint16_t n, last = head;

	if (head >= vq->size || (n = vq->chain_len[head]) == 0)
		return;
	for (uint16_t i = 1; i < n; i++)
		last = vq->next[last];
	vq->next[last] = vq->free_head;
	vq->free_head = head;
	vq->num_free = (uint16_t)(vq->num_free + n);
	vq->chain_len[head] = 0;
}

/* ---- completion ---- */

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int vdrv_wait_used(struct vdriver *d, unsigned q, int timeout_ms, uint32_t *id, uint32_t *len)
{
	struct vd_queue *vq = &d->q[q];
	int64_t deadline = now_ms() + timeout_ms;

	for (;;) {
		if (vdrv_used_idx(d, q) != vq->last_used) {
			struct vring_used_elem e;

			gm_read(&d->gm, vq->used + 4 + 8ULL * (vq->last_used % vq->size), &e,
				sizeof(e));
			vq->last_used++;
			/* Like Linux: interrupt me at the next completion. */
			if ((d->features & VIRTIO_FEATURE(VIRTIO_RING_F_EVENT_IDX)) &&
			    !d->manual_used_event)
				vdrv_set_used_event(d, q, vq->last_used);
			if (id)
				*id = le32toh(e.id);
			if (len)
				*len = le32toh(e.len);
			return 0;
		}
		int64_t left = deadline - now_ms();
		if (left <= 0)
			return -ETIMEDOUT;
		el_run_once(&d->el, (int)left);
	}
}

int vdrv_poll(struct vdriver *d)
{
	int total = 0, n;

	while ((n = el_run_once(&d->el, 0)) > 0)
		total += n;
	return total;
}

uint64_t vdrv_irqs(struct vdriver *d)
{
	uint64_t v = 0;

	if (read(virtio_mmio_irq_eventfd(d->vd), &v, sizeof(v)) != sizeof(v))
		return 0;
	return v;
}

uint32_t vdrv_ack_irq(struct vdriver *d)
{
	uint32_t s = vdrv_read32(d, VIRTIO_MMIO_INTERRUPT_STATUS);

	vdrv_write32(d, VIRTIO_MMIO_INTERRUPT_ACK, s);
	return s;
}

/* ---- virtio-blk ---- */

int vdrv_blk_submit(struct vdriver *d, unsigned q, uint32_t type, uint64_t sector,
		    const struct vd_buf *data, int ndata, bool indirect, uint64_t hs_gpa)
{
	struct vd_buf bufs[VQ_MAX_SIZE];
	struct virtio_blk_outhdr hdr = {.type = htole32(type), .sector = htole64(sector)};
	uint8_t st = 0xff;
	int n = 0;

	if (ndata < 0 || ndata > VQ_MAX_SIZE - 2)
		return -EINVAL;
	gm_write(&d->gm, hs_gpa, &hdr, sizeof(hdr));
	gm_write(&d->gm, hs_gpa + 16, &st, 1);
	bufs[n++] = (struct vd_buf){.gpa = hs_gpa, .len = sizeof(hdr), .write = false};
	for (int i = 0; i < ndata; i++)
		bufs[n++] = data[i];
	bufs[n++] = (struct vd_buf){.gpa = hs_gpa + 16, .len = 1, .write = true};
	return vdrv_add_chain(d, q, bufs, n, indirect);
}

int vdrv_blk_do(struct vdriver *d, uint32_t type, uint64_t sector, const struct vd_buf *data,
		int ndata, bool indirect, uint8_t *status, uint32_t *used_len)
{
	uint64_t mark = vdrv_mark(d), hs = vdrv_alloc(d, 32, 16);
	uint32_t id, len;
	int head, r;

	if (!hs)
		return -ENOMEM;
	head = vdrv_blk_submit(d, 0, type, sector, data, ndata, indirect, hs);
	if (head < 0) {
		vdrv_release(d, mark);
		return head;
	}
	vdrv_kick(d, 0);
	r = vdrv_wait_used(d, 0, VDRV_WAIT_MS, &id, &len);
	if (r == 0) {
		if (id != (uint32_t)head)
			r = -EBADMSG;
		vdrv_free_chain(d, 0, (uint16_t)id);
		gm_read(&d->gm, hs + 16, status, 1);
		if (used_len)
			*used_len = len;
	}
	vdrv_release(d, mark);
	return r;
}

/* ---- host files ---- */

static uint64_t mix(uint64_t x)
{
	x ^= x >> 31;
	x *= 0x9e3779b97f4a7c15ULL;
	x ^= x >> 29;
	return x;
}

void vdrv_pattern(uint8_t *buf, uint64_t off, size_t len, uint32_t seed)
{
	for (size_t i = 0; i < len; i++) {
		uint64_t o = off + i;

		buf[i] = (uint8_t)(mix((o >> 3) ^ ((uint64_t)seed << 40)) >> ((o & 7) * 8));
	}
}

int vdrv_make_file(const char *dir, uint64_t size, uint32_t seed, char *path)
{
	uint8_t buf[65536];
	int fd;

	snprintf(path, 64, "%s/ember-vdrv-XXXXXX", dir);
	fd = mkstemp(path);
	if (fd < 0)
		return -errno;
	for (uint64_t off = 0; off < size; off += sizeof(buf)) {
		size_t n = size - off < sizeof(buf) ? (size_t)(size - off) : sizeof(buf);

		vdrv_pattern(buf, off, n, seed);
		if (pwrite(fd, buf, n, (off_t)off) != (ssize_t)n) {
			int e = errno ? errno : EIO;
			close(fd);
			unlink(path);
			return -e;
		}
	}
	close(fd);
	return 0;
}

int vdrv_file_matches(const char *path, uint64_t size, uint32_t seed)
{
	uint8_t buf[65536], want[65536];
	uint64_t off = 0;
	int fd = open(path, O_RDONLY), r = 0;
	ssize_t n;

	if (fd < 0)
		return -errno;
	while ((n = pread(fd, buf, sizeof(buf), (off_t)off)) > 0) {
		vdrv_pattern(want, off, (size_t)n, seed);
		if (memcmp(buf, want, (size_t)n)) {
			r = -EBADMSG;
			break;
		}
		off += (uint64_t)n;
	}
	if (r == 0 && (n < 0 || off != size))
		r = -EBADMSG;
	close(fd);
	return r;
}
