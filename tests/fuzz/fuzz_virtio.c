/* The hostile-driver interpreter shared by the virtio device fuzz targets;
 * see fuzz_virtio.h. */
#include "fuzz_virtio.h"

#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <linux/virtio_ring.h>

#define MAX_OPS 512
#define MAX_CHAIN_BUFS 4
#define MAX_BUF 8192

enum fz_op {
	OP_MMIO_WRITE,
	OP_MMIO_READ,
	OP_MEM_WRITE,
	OP_DESC,
	OP_POST,
	OP_AVAIL_IDX,
	OP_KICK,
	OP_POLL,
	OP_EVENT,
	OP_CHAIN,
	OP_HOST,
	OP_RESETUP,
	OP_ACK,
	OP_CONFIG_READ,
	OP_COUNT,
};

uint8_t fz_u8(struct fz_in *in)
{
	uint8_t v = 0;

	if (in->n) {
		v = *in->p++;
		in->n--;
	}
	return v;
}

uint16_t fz_u16(struct fz_in *in)
{
	uint16_t v = fz_u8(in);

	return (uint16_t)(v | (uint16_t)fz_u8(in) << 8);
}

uint32_t fz_u32(struct fz_in *in)
{
	uint32_t v = fz_u16(in);

	return v | (uint32_t)fz_u16(in) << 16;
}

uint64_t fz_u64(struct fz_in *in)
{
	uint64_t v = fz_u32(in);

	return v | (uint64_t)fz_u32(in) << 32;
}

size_t fz_bytes(struct fz_in *in, void *dst, size_t len)
{
	size_t n = len < in->n ? len : in->n;

	memcpy(dst, in->p, n);
	memset((uint8_t *)dst + n, 0, len - n);
	in->p += n;
	in->n -= n;
	return len;
}

struct fz_state {
	struct fz_dev *dev;
	uint16_t qsize;
	uint64_t heap_mark; /* guest RAM after the rings: buffers from here */
	uint16_t last_used[VIRTIO_MAX_QUEUES];
};

static unsigned pick_queue(struct fz_state *s, struct fz_in *in)
{
	unsigned n = s->dev->nqueues ? s->dev->nqueues : 1;

	return fz_u8(in) % n;
}

/* Handshake, queues, DRIVER_OK (any step may be refused: fine). */
static void setup(struct fz_state *s, uint64_t mask)
{
	struct vdriver *d = s->dev->d;

	vdrv_release(d, 0x10000); /* HEAP_START of vdriver.c */
	memset(s->last_used, 0, sizeof(s->last_used));
	if (vdrv_negotiate(d, mask) == 0) {
		for (unsigned q = 0; q < s->dev->nqueues; q++) {
			if (vdrv_setup_queue(d, q, s->qsize) == 0)
				vdrv_queue_ready(d, q);
		}
		vdrv_driver_ok(d);
	}
	s->heap_mark = vdrv_mark(d);
}

/* What the device put on the used rings since the last look (right after
 * each event-loop run, so the driver has not scribbled over those slots).
 * The device's own used index is the truth: the ring's copy is guest RAM. */
static void drain_used(struct fz_state *s)
{
	struct vdriver *d = s->dev->d;

	for (unsigned q = 0; q < d->nqueues && q < VIRTIO_MAX_QUEUES; q++) {
		struct vd_queue *vq = &d->q[q];
		const struct virtqueue *dq = &d->vd->queues[q];
		uint16_t fresh;

		/* Raw register writes may have moved the device's rings away from
		 * the driver's layout: then there is nothing to compare. */
		if (!vq->size || !vq->used || !dq->active || dq->size != vq->size ||
		    dq->used_gpa != vq->used) {
			s->last_used[q] = dq->used_idx;
			continue;
		}
		fresh = (uint16_t)(dq->used_idx - s->last_used[q]);
		if (fresh > vq->size) { /* a reset or a re-activation in between */
			s->last_used[q] = dq->used_idx;
			continue;
		}
		for (; s->last_used[q] != dq->used_idx; s->last_used[q]++) {
			struct vring_used_elem *e = vdrv_ptr(
			    d, vq->used + 4 + 8ULL * (s->last_used[q] % vq->size), sizeof(*e));
			uint32_t id;

			if (!e)
				break;
			id = le32toh(e->id);
			/* vq_pop() hands out only heads < size: the device must not
			 * make up others */
			if (id >= vq->size)
				__builtin_trap();
			vdrv_free_chain(d, q, (uint16_t)id);
		}
	}
}

static void poll_device(struct fz_state *s)
{
	vdrv_poll(s->dev->d);
	drain_used(s);
}

static void op_chain(struct fz_state *s, struct fz_in *in)
{
	struct vdriver *d = s->dev->d;
	unsigned q = pick_queue(s, in);
	uint8_t shape = fz_u8(in);
	int n = 1 + shape % MAX_CHAIN_BUFS;
	struct vd_buf bufs[MAX_CHAIN_BUFS];

	if (q >= d->nqueues || !d->q[q].size)
		return;
	for (int i = 0; i < n; i++) {
		uint16_t len = fz_u16(in) % MAX_BUF;
		uint64_t gpa;
		void *p;

		bufs[i].write = (shape >> (2 + i)) & 1;
		bufs[i].len = len;
		gpa = vdrv_alloc(d, len ? len : 1, 8);
		if (!gpa) {
			vdrv_release(d, s->heap_mark);
			gpa = vdrv_alloc(d, len ? len : 1, 8);
		}
		if (!gpa)
			return;
		bufs[i].gpa = gpa;
		if (!bufs[i].write && len && (p = vdrv_ptr(d, gpa, len)) != NULL)
			fz_bytes(in, p, len < in->n ? len : in->n);
	}
	vdrv_add_chain(d, q, bufs, n, (shape >> 7) & 1);
}

void fz_run(struct fz_dev *dev, const uint8_t *data, size_t size)
{
	static const uint16_t sizes[] = {4, 16, 64, 256};
	struct fz_in in = {.p = data, .n = size};
	struct fz_state s = {.dev = dev};
	struct vdriver *d = dev->d;
	uint8_t mode = fz_u8(&in);
	uint64_t mask = fz_u64(&in);

	s.qsize = sizes[(mode >> 1) & 3];
	if (mode & 1)
		setup(&s, mask);
	else
		s.heap_mark = vdrv_mark(d);
	for (int ops = 0; in.n && ops < MAX_OPS; ops++) {
		uint8_t op = fz_u8(&in) % OP_COUNT;
		unsigned q;

		switch (op) {
		case OP_MMIO_WRITE: {
			uint16_t off = fz_u16(&in) % 0x200;
			uint8_t len = (uint8_t)(1u << (fz_u8(&in) % 4));
			uint64_t v = fz_u64(&in);

			bus_access(&d->bus, VDRV_MMIO_BASE + off, &v, len, true);
			break;
		}
		case OP_MMIO_READ: {
			uint16_t off = fz_u16(&in) % 0x200;
			uint8_t len = (uint8_t)(1u << (fz_u8(&in) % 4));
			uint64_t v = 0;

			bus_access(&d->bus, VDRV_MMIO_BASE + off, &v, len, false);
			break;
		}
		case OP_MEM_WRITE: {
			uint64_t gpa = fz_u32(&in) % FZ_RAM;
			uint8_t len = fz_u8(&in);
			uint8_t buf[256];
			void *p;

			fz_bytes(&in, buf, len);
			if (gpa + len > d->gm.total)
				gpa = d->gm.total - len;
			if ((p = vdrv_ptr(d, gpa, len)) != NULL)
				memcpy(p, buf, len);
			break;
		}
		case OP_DESC: {
			uint8_t sel;
			uint16_t idx, flags, next;
			uint64_t addr;
			uint32_t len;

			q = pick_queue(&s, &in);
			idx = fz_u16(&in);
			sel = fz_u8(&in);
			addr = sel & 1 ? fz_u64(&in) : s.heap_mark + 16ULL * fz_u16(&in);
			len = sel & 2 ? fz_u32(&in) : fz_u16(&in);
			flags = fz_u8(&in) & 7;
			next = fz_u16(&in);
			if (q < d->nqueues && d->q[q].size)
				vdrv_set_desc(d, q, idx % d->q[q].size, addr, len, flags, next);
			break;
		}
		case OP_POST:
			q = pick_queue(&s, &in);
			if (q < d->nqueues && d->q[q].size)
				vdrv_post(d, q, fz_u16(&in));
			break;
		case OP_AVAIL_IDX:
			q = pick_queue(&s, &in);
			if (q < d->nqueues && d->q[q].size)
				vdrv_set_avail_idx(d, q, fz_u16(&in));
			break;
		case OP_KICK:
			q = pick_queue(&s, &in);
			vdrv_kick(d, q);
			poll_device(&s);
			break;
		case OP_POLL:
			poll_device(&s);
			break;
		case OP_EVENT: {
			uint8_t which = fz_u8(&in);
			uint16_t v = fz_u16(&in);

			q = pick_queue(&s, &in);
			if (q >= d->nqueues || !d->q[q].size)
				break;
			if (which & 1)
				vdrv_set_used_event(d, q, v);
			else
				vdrv_set_avail_flags(d, q, v);
			break;
		}
		case OP_CHAIN:
			op_chain(&s, &in);
			break;
		case OP_HOST:
			if (dev->host_op)
				dev->host_op(dev->opaque, &in);
			poll_device(&s);
			break;
		case OP_RESETUP:
			vdrv_write32(d, VIRTIO_MMIO_STATUS, 0);
			setup(&s, fz_u64(&in));
			break;
		case OP_ACK:
			vdrv_irqs(d);
			vdrv_ack_irq(d);
			break;
		case OP_CONFIG_READ: {
			uint8_t buf[8];
			uint8_t off = fz_u8(&in);

			vdrv_config_read(d, off, buf, 1 + fz_u8(&in) % 8);
			break;
		}
		default:
			break;
		}
	}
	poll_device(&s);
}

static char temp_dir[64];

static void remove_temp_dir(void)
{
	char cmd[96];

	if (temp_dir[0]) {
		snprintf(cmd, sizeof(cmd), "rm -rf '%s'", temp_dir);
		if (system(cmd) != 0) {
			/* best effort */
		}
	}
}

const char *fz_temp_dir(void)
{
	if (!temp_dir[0]) {
		snprintf(temp_dir, sizeof(temp_dir), "%s/ember-fuzz.XXXXXX",
			 access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp");
		if (!mkdtemp(temp_dir)) {
			perror("mkdtemp");
			abort();
		}
		atexit(remove_temp_dir);
	}
	return temp_dir;
}

int fz_temp_file(uint64_t size, char *path, size_t len)
{
	static unsigned n;
	int fd;

	snprintf(path, len, "%s/f%u", fz_temp_dir(), n++);
	fd = open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0)
		return -errno;
	if (ftruncate(fd, (off_t)size) < 0) {
		close(fd);
		return -errno;
	}
	close(fd);
	return 0;
}
