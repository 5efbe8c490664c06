/* Split virtqueue, device side: validated chain walking, used ring updates,
 * notification and interrupt suppression (EVENT_IDX). See virtqueue.h. */
#include "ember/virtqueue.h"

#include <endian.h>
#include <errno.h>
#include <string.h>

#include "ember/error.h"
#include "ember/util.h"

/* Guest-shared words are accessed with atomics so the compiler reads/writes
 * each exactly once; ordering comes from the explicit fences. */
#define LOAD(p) __atomic_load_n((p), __ATOMIC_RELAXED)
#define LOAD_ACQ(p) __atomic_load_n((p), __ATOMIC_ACQUIRE)
#define STORE(p, v) __atomic_store_n((p), (v), __ATOMIC_RELAXED)
#define STORE_REL(p, v) __atomic_store_n((p), (v), __ATOMIC_RELEASE)
#define MB() __atomic_thread_fence(__ATOMIC_SEQ_CST)

void vq_init(struct virtqueue *vq, uint16_t max_size)
{
	memset(vq, 0, sizeof(*vq));
	if (max_size == 0 || max_size > VQ_MAX_SIZE || (max_size & (max_size - 1)))
		max_size = VQ_MAX_SIZE;
	vq->max_size = max_size;
	vq_reset(vq);
}

void vq_reset(struct virtqueue *vq)
{
	uint16_t max = vq->max_size;

	memset(vq, 0, sizeof(*vq));
	vq->max_size = max;
	vq->size = max;
}

bool vq_size_valid(const struct virtqueue *vq, uint32_t n)
{
	return n >= 1 && n <= vq->max_size && (n & (n - 1)) == 0;
}

int vq_activate(struct virtqueue *vq, const struct guest_mem *gm, bool event_idx, bool indirect)
{
	uint64_t n = vq->size;
	uint64_t avail_len = sizeof(struct vring_avail) + 2 * n + (event_idx ? 2 : 0);
	uint64_t used_len =
	    sizeof(struct vring_used) + sizeof(struct vring_used_elem) * n + (event_idx ? 2 : 0);

	vq->active = false;
	if (!vq_size_valid(vq, vq->size))
		return err_set(EINVAL, "virtqueue size %u is not a power of two <= %u", vq->size,
			       vq->max_size);
	if ((vq->desc_gpa & 15) || (vq->avail_gpa & 1) || (vq->used_gpa & 3))
		return err_set(EINVAL,
			       "virtqueue rings misaligned (desc %#llx avail %#llx used %#llx)",
			       (unsigned long long)vq->desc_gpa, (unsigned long long)vq->avail_gpa,
			       (unsigned long long)vq->used_gpa);
	vq->desc = gm_slice(gm, vq->desc_gpa, sizeof(struct vring_desc) * n);
	vq->avail = gm_slice(gm, vq->avail_gpa, avail_len);
	vq->used = gm_slice(gm, vq->used_gpa, used_len);
	if (!vq->desc || !vq->avail || !vq->used)
		return err_set(
		    EINVAL, "virtqueue ring outside guest RAM (desc %#llx avail %#llx used %#llx)",
		    (unsigned long long)vq->desc_gpa, (unsigned long long)vq->avail_gpa,
		    (unsigned long long)vq->used_gpa);
	vq->gm = gm;
	vq->event_idx = event_idx;
	vq->indirect = indirect;
	vq->broken = false;
	vq->last_avail = 0;
	vq->used_idx = 0;
	vq->signalled_used = 0;
	vq->signalled_valid = false;
	vq->used_pending = false;
	vq->active = true;
	return 0;
}

/* Avail entries outstanding; marks the queue broken if the driver claims
 * more than `size` (it can't have that many buffers). */
static int avail_pending(struct virtqueue *vq, uint16_t *pending)
{
	uint16_t idx;

	if (vq->broken)
		return -EIO;
	if (!vq->active) {
		*pending = 0;
		return 0;
	}
	idx = le16toh(LOAD_ACQ(&vq->avail->idx));
	*pending = (uint16_t)(idx - vq->last_avail);
	if (*pending > vq->size) {
		vq->broken = true;
		return -EIO;
	}
	return 0;
}

uint16_t vq_avail_count(struct virtqueue *vq)
{
	uint16_t n;

	return avail_pending(vq, &n) < 0 ? 0 : n;
}

/* Counts and lengths are kept in locals and stored once at the end: stores
 * through c could alias the queue, which would make the compiler reload. */
static int walk_chain(struct virtqueue *vq, struct vq_chain *c)
{
	const struct guest_mem *gm = vq->gm;
	const uint8_t *table = (const uint8_t *)vq->desc;
	const uint32_t max = vq->size;
	uint32_t table_size = max, idx = c->head, n = 0, nread = 0;
	uint64_t read_len = 0, write_len = 0;
	bool in_indirect = false;

	for (;;) {
		struct vring_desc d;
		uint64_t addr;
		uint32_t len;
		uint16_t flags, next;
		bool dirty = false;
		void *p;

		/* One read of the descriptor; the guest may rewrite it. */
		memcpy(&d, table + (size_t)idx * sizeof(d), sizeof(d));
		addr = le64toh(d.addr);
		len = le32toh(d.len);
		flags = le16toh(d.flags);
		next = le16toh(d.next);

		if (flags & VRING_DESC_F_INDIRECT) {
			if (!vq->indirect || in_indirect || (flags & VRING_DESC_F_NEXT))
				return -EBADMSG;
			if (len == 0 || len % sizeof(struct vring_desc) ||
			    len / sizeof(struct vring_desc) > max)
				return -EBADMSG;
			table = gm_slice(gm, addr, len);
			if (!table)
				return -EBADMSG;
			table_size = len / sizeof(struct vring_desc);
			in_indirect = true;
			idx = 0;
			continue;
		}
		/* Bounds the walk: a loop makes the chain exceed the size. */
		if (n == max)
			return -EBADMSG;
		if (flags & VRING_DESC_F_WRITE) {
			write_len += len;
			dirty = true;
		} else {
			if (nread != n) /* after a device-writable one */
				return -EBADMSG;
			nread++;
			read_len += len;
		}
		/* At most 256 lengths < 2^32 each: no 64-bit overflow. */
		if (read_len + write_len > UINT32_MAX)
			return -EBADMSG;
		p = gm_slice(gm, addr, len);
		if (!p)
			return -EBADMSG;
		if (dirty) /* the device may write it: a Diff snapshot takes it */
			gm_mark_dirty(gm, p, len);
		c->iov[n].iov_base = p;
		c->iov[n].iov_len = len;
		n++;
		if (!(flags & VRING_DESC_F_NEXT))
			break;
		if (next >= table_size)
			return -EBADMSG;
		idx = next;
	}
	c->nread = (uint16_t)nread;
	c->nwrite = (uint16_t)(n - nread);
	c->read_len = (uint32_t)read_len;
	c->write_len = (uint32_t)write_len;
	return 1;
}

int vq_pop(struct virtqueue *vq, struct vq_chain *c)
{
	uint16_t pending, head;
	int r = avail_pending(vq, &pending);

	if (r < 0)
		return r;
	if (pending == 0)
		return 0;
	/* The acquire load of avail->idx orders this read after it. */
	head = le16toh(LOAD(&vq->avail->ring[vq->last_avail & (vq->size - 1)]));
	if (head >= vq->size) {
		vq->broken = true;
		return -EIO;
	}
	vq->last_avail++;
	c->head = head;
	r = walk_chain(vq, c);
	if (r < 0) {
		c->nread = c->nwrite = 0;
		c->read_len = c->write_len = 0;
	}
	return r;
}

void vq_unpop(struct virtqueue *vq)
{
	vq->last_avail--;
}

void vq_push(struct virtqueue *vq, uint16_t head, uint32_t len)
{
	struct vring_used_elem *e;

	if (!vq->active)
		return;
	e = &vq->used->ring[vq->used_idx & (vq->size - 1)];
	STORE(&e->id, htole32(head));
	STORE(&e->len, htole32(len));
	vq->used_idx++;
	vq->used_pending = true;
	/* The element must be visible before the index that publishes it. */
	STORE_REL(&vq->used->idx, htole16(vq->used_idx));
}

bool vq_needs_interrupt(struct virtqueue *vq)
{
	uint16_t old, cur, used_event;

	if (!vq->active || !vq->used_pending)
		return false;
	vq->used_pending = false;
	/* Order our used->idx store before reading the driver's flags/event. */
	MB();
	old = vq->signalled_used;
	cur = vq->used_idx;
	vq->signalled_used = cur;
	if (!vq->event_idx)
		return !(le16toh(LOAD(&vq->avail->flags)) & VRING_AVAIL_F_NO_INTERRUPT);
	if (!vq->signalled_valid) {
		vq->signalled_valid = true;
		return true;
	}
	used_event = le16toh(LOAD(&vq->avail->ring[vq->size]));
	return vring_need_event(used_event, cur, old);
}

static uint16_t *avail_event(struct virtqueue *vq)
{
	return (uint16_t *)&vq->used->ring[vq->size];
}

void vq_disable_notification(struct virtqueue *vq)
{
	/* With EVENT_IDX, avail_event stays behind while we drain: the driver
	 * kicks at most once for the batch. */
	if (!vq->active || vq->event_idx)
		return;
	STORE(&vq->used->flags, htole16(VRING_USED_F_NO_NOTIFY));
}

bool vq_enable_notification(struct virtqueue *vq)
{
	if (!vq->active || vq->broken)
		return false;
	if (vq->event_idx)
		STORE(avail_event(vq), htole16(vq->last_avail));
	else
		STORE(&vq->used->flags, 0);
	/* Publish the request for a kick before re-reading avail->idx. */
	MB();
	return le16toh(LOAD_ACQ(&vq->avail->idx)) != vq->last_avail;
}

/* Copy between buf and the readable/writable part of a chain, from `off`. */
static size_t chain_copy(const struct vq_chain *c, bool writable, size_t off, void *buf, size_t len)
{
	unsigned first = writable ? c->nread : 0;
	unsigned count = writable ? c->nwrite : c->nread;
	size_t done = 0;

	for (unsigned i = first; i < first + count && done < len; i++) {
		size_t l = c->iov[i].iov_len, n;

		if (off >= l) {
			off -= l;
			continue;
		}
		n = MIN(l - off, len - done);
		if (writable)
			memcpy((uint8_t *)c->iov[i].iov_base + off, (uint8_t *)buf + done, n);
		else
			memcpy((uint8_t *)buf + done, (uint8_t *)c->iov[i].iov_base + off, n);
		done += n;
		off = 0;
	}
	return done;
}

size_t vq_chain_read(const struct vq_chain *c, size_t off, void *dst, size_t len)
{
	return chain_copy(c, false, off, dst, len);
}

size_t vq_chain_write(const struct vq_chain *c, size_t off, const void *src, size_t len)
{
	return chain_copy(c, true, off, (void *)src, len);
}

int vq_chain_iov(const struct vq_chain *c, bool writable, size_t off, size_t len, struct iovec *out,
		 int max)
{
	unsigned first = writable ? c->nread : 0;
	unsigned count = writable ? c->nwrite : c->nread;
	size_t part = writable ? c->write_len : c->read_len;
	int n = 0;

	if (off > part || len > part - off)
		return -EINVAL;
	for (unsigned i = first; i < first + count && len > 0; i++) {
		size_t l = c->iov[i].iov_len, take;

		if (off >= l) {
			off -= l;
			continue;
		}
		if (n == max)
			return -EINVAL;
		take = MIN(l - off, len);
		out[n].iov_base = (uint8_t *)c->iov[i].iov_base + off;
		out[n].iov_len = take;
		n++;
		len -= take;
		off = 0;
	}
	return n;
}
