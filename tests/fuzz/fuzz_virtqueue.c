/* libFuzzer: the descriptor-chain reader (src/devices/virtio/virtqueue.c) on
 * guest RAM the input fills. Header: queue size (log2), ring offsets,
 * EVENT_IDX / INDIRECT, then the RAM image; the rest of the input drives
 * pops, pushes, unpops, notification calls and chain copies. Checks what
 * virtqueue.h promises about every chain handed out: iovecs inside guest
 * RAM, readable before writable, counts and totals consistent, head < size,
 * copies never longer than the part. */
#include <errno.h>
#include <stdint.h>
#include <string.h>

#include "ember/virtqueue.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define RAM (64u << 10)

static struct guest_mem gm;
static struct vq_chain chain;
static uint8_t scratch[RAM];

static uint8_t take8(const uint8_t **p, size_t *n)
{
	uint8_t v = 0;

	if (*n) {
		v = **p;
		(*p)++;
		(*n)--;
	}
	return v;
}

static uint16_t take16(const uint8_t **p, size_t *n)
{
	uint16_t v = take8(p, n);

	return (uint16_t)(v | take8(p, n) << 8);
}

static void check_chain(const struct virtqueue *vq, const struct vq_chain *c)
{
	uint64_t rl = 0, wl = 0;

	if (c->head >= vq->size || c->nread + c->nwrite > vq->size ||
	    c->nread + c->nwrite > VQ_MAX_SIZE)
		__builtin_trap();
	for (unsigned i = 0; i < (unsigned)c->nread + c->nwrite; i++) {
		const uint8_t *b = c->iov[i].iov_base;
		size_t l = c->iov[i].iov_len;

		if (l &&
		    (b < gm.base || b > gm.base + gm.total || l > (size_t)(gm.base + gm.total - b)))
			__builtin_trap();
		if (i < c->nread)
			rl += l;
		else
			wl += l;
	}
	if (rl != c->read_len || wl != c->write_len || rl + wl > UINT32_MAX)
		__builtin_trap();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct virtqueue vq;
	const uint8_t *p = data;
	size_t n = size;
	uint8_t flags;
	int popped = 0;

	if (!gm.base && gm_init(&gm, RAM, 0, 0) < 0)
		__builtin_trap();
	memset(gm.base, 0, RAM);
	vq_init(&vq, 0);
	flags = take8(&p, &n);
	vq.size = (uint16_t)(1u << (flags % 9));
	vq.desc_gpa = (uint64_t)take16(&p, &n) * 16 % RAM;
	vq.avail_gpa = (uint64_t)take16(&p, &n) * 2 % RAM;
	vq.used_gpa = (uint64_t)take16(&p, &n) * 4 % RAM;
	if (flags & 0x80)
		vq.used_gpa = RAM - 2; /* off the end */
	/* the RAM image: up to 16 KiB of the input, placed at an offset */
	{
		uint16_t at = take16(&p, &n) % RAM;
		size_t len = n > 16384 ? 16384 : n / 2;

		if (len > RAM - at)
			len = RAM - at;
		memcpy(gm.base + at, p, len);
		p += len;
		n -= len;
	}
	if (vq_activate(&vq, &gm, flags & 0x10, flags & 0x20) < 0)
		return 0;
	while (n) {
		uint8_t op = take8(&p, &n);
		int r;

		switch (op % 8) {
		case 0:
		case 1:
			r = vq_pop(&vq, &chain);
			if (r == 1) {
				check_chain(&vq, &chain);
				popped++;
			} else if (r == -EBADMSG) {
				if (chain.head >= vq.size)
					__builtin_trap();
				vq_push(&vq, chain.head, 0);
			} else if (r != 0 && r != -EIO) {
				__builtin_trap();
			}
			break;
		case 2:
			if (popped) {
				uint32_t len = take16(&p, &n);

				vq_push(&vq, chain.head,
					len > chain.write_len ? chain.write_len : len);
				popped--;
			}
			break;
		case 3:
			if (popped) {
				vq_unpop(&vq);
				popped--;
			}
			break;
		case 4:
			vq_needs_interrupt(&vq);
			vq_avail_count(&vq);
			break;
		case 5:
			if (op & 8)
				vq_disable_notification(&vq);
			else
				vq_enable_notification(&vq);
			break;
		case 6:
			if (popped) {
				size_t off = take16(&p, &n), len = take16(&p, &n), got;

				got = (op & 8) ? vq_chain_write(&chain, off, scratch, len)
					       : vq_chain_read(&chain, off, scratch, len);
				if (got > len ||
				    got > ((op & 8) ? chain.write_len : chain.read_len))
					__builtin_trap();
			}
			break;
		default:
			if (popped) {
				struct iovec out[8];
				size_t off = take16(&p, &n), len = take16(&p, &n);
				int c = vq_chain_iov(&chain, op & 8, off, len, out, 8);
				size_t sum = 0;

				if (c > 8)
					__builtin_trap();
				for (int i = 0; i < c; i++)
					sum += out[i].iov_len;
				if (c >= 0 && sum != len)
					__builtin_trap();
			}
			break;
		}
	}
	return 0;
}
