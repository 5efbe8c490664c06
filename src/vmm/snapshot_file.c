/* The snapshot state file container: write sections, parse and check them
 * (snapshot_file.h has the layout). */
#include "ember/snapshot_file.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "ember/error.h"

static uint32_t get32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint64_t get64(const uint8_t *p)
{
	return (uint64_t)get32(p) | (uint64_t)get32(p + 4) << 32;
}

static void put32(uint8_t *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static void put64(uint8_t *p, uint64_t v)
{
	put32(p, (uint32_t)v);
	put32(p + 4, (uint32_t)(v >> 32));
}

/* CRC-32 (zlib) of len bytes, in 1 GiB steps (zlib takes a uInt). */
uint32_t snap_crc(const uint8_t *p, size_t len)
{
	uLong c = crc32(0L, Z_NULL, 0);

	while (len) {
		uInt n = len > (1u << 30) ? (1u << 30) : (uInt)len;
		c = crc32(c, p, n);
		p += n;
		len -= n;
	}
	return (uint32_t)c;
}

int snap_parse(const void *buf, size_t len, struct snap_file *out)
{
	const uint8_t *p = buf;
	uint64_t body_len;
	size_t off;

	memset(out, 0, sizeof(*out));
	if (len < SNAP_HEADER_SIZE)
		return err_set(EINVAL, "snapshot file: %zu bytes, shorter than its header", len);
	if (memcmp(p, SNAP_MAGIC, 8) != 0)
		return err_set(EINVAL, "snapshot file: not an ember snapshot (bad magic)");
	if (snap_crc(p, 28) != get32(p + 28))
		return err_set(EINVAL, "snapshot file: header CRC mismatch");
	out->version = get32(p + 8);
	out->arch = get32(p + 12);
	if (out->version != SNAP_VERSION)
		return err_set(EINVAL, "snapshot file: version %u, this ember reads version %u",
			       out->version, SNAP_VERSION);
	if (out->arch != SNAP_ARCH_X86_64)
		return err_set(EINVAL, "snapshot file: made for architecture %u, not x86_64",
			       out->arch);
	body_len = get64(p + 16);
	if (body_len != len - SNAP_HEADER_SIZE)
		return err_set(EINVAL,
			       "snapshot file: %zu bytes, the header says %llu (truncated?)", len,
			       (unsigned long long)(body_len + SNAP_HEADER_SIZE));
	if (snap_crc(p + SNAP_HEADER_SIZE, body_len) != get32(p + 24))
		return err_set(EINVAL, "snapshot file: CRC mismatch in the body (corrupted)");
	off = SNAP_HEADER_SIZE;
	while (off < len) {
		struct snap_section *s;
		uint32_t slen;

		if (len - off < SNAP_SECTION_HEADER)
			return err_set(EINVAL, "snapshot file: truncated section header at %zu",
				       off);
		if (out->nsections >= SNAP_MAX_SECTIONS)
			return err_set(EINVAL, "snapshot file: more than %d sections",
				       SNAP_MAX_SECTIONS);
		slen = get32(p + off + 8);
		if (slen > len - off - SNAP_SECTION_HEADER)
			return err_set(EINVAL, "snapshot file: section at %zu overruns the file",
				       off);
		s = &out->sections[out->nsections++];
		s->tag = get32(p + off);
		s->index = get32(p + off + 4);
		s->len = slen;
		s->data = p + off + SNAP_SECTION_HEADER;
		if (s->tag == 0 || s->tag >= SNAP_TAG_MAX)
			return err_set(EINVAL, "snapshot file: unknown section tag %u", s->tag);
		if (snap_crc(s->data, slen) != get32(p + off + 12))
			return err_set(EINVAL, "snapshot file: CRC mismatch in section %u/%u",
				       s->tag, s->index);
		for (int i = 0; i < out->nsections - 1; i++)
			if (out->sections[i].tag == s->tag && out->sections[i].index == s->index)
				return err_set(EINVAL, "snapshot file: section %u/%u repeated",
					       s->tag, s->index);
		off += SNAP_SECTION_HEADER + ((slen + 7u) & ~7ull);
		if (off > len)
			return err_set(EINVAL, "snapshot file: section padding overruns the file");
	}
	return 0;
}

const struct snap_section *snap_find(const struct snap_file *f, uint32_t tag, uint32_t index)
{
	for (int i = 0; i < f->nsections; i++)
		if (f->sections[i].tag == tag && f->sections[i].index == index)
			return &f->sections[i];
	return NULL;
}

int snap_count(const struct snap_file *f, uint32_t tag)
{
	int n = 0;

	for (int i = 0; i < f->nsections; i++)
		n += f->sections[i].tag == tag;
	return n;
}

int snap_get_fixed(const struct snap_file *f, uint32_t tag, uint32_t index, void *out, size_t size,
		   const char *what)
{
	const struct snap_section *s = snap_find(f, tag, index);

	if (!s)
		return err_set(EINVAL, "snapshot file: no %s section", what);
	if (s->len != size)
		return err_set(EINVAL, "snapshot file: %s section is %u bytes, expected %zu", what,
			       s->len, size);
	memcpy(out, s->data, size);
	return 0;
}

void snap_writer_init(struct snap_writer *w)
{
	memset(w, 0, sizeof(*w));
	w->len = SNAP_HEADER_SIZE;
	w->cap = 64 * 1024;
	w->buf = calloc(1, w->cap);
	if (!w->buf)
		w->err = -ENOMEM;
}

void snap_writer_free(struct snap_writer *w)
{
	free(w->buf);
	memset(w, 0, sizeof(*w));
}

static uint8_t *reserve(struct snap_writer *w, size_t n)
{
	if (w->err)
		return NULL;
	if (n > SIZE_MAX / 2 - w->len) {
		w->err = -ENOMEM;
		return NULL;
	}
	if (w->len + n > w->cap) {
		size_t cap = w->cap;
		uint8_t *b;
		while (cap < w->len + n)
			cap *= 2;
		b = realloc(w->buf, cap);
		if (!b) {
			w->err = -ENOMEM;
			return NULL;
		}
		memset(b + w->cap, 0, cap - w->cap);
		w->buf = b;
		w->cap = cap;
	}
	w->len += n;
	return w->buf + w->len - n;
}

void snap_add(struct snap_writer *w, uint32_t tag, uint32_t index, const void *head,
	      size_t head_len, const void *data, size_t len)
{
	size_t total = head_len + len, padded = (total + 7) & ~(size_t)7;
	uint8_t *p;

	if (total > UINT32_MAX) {
		w->err = -E2BIG;
		return;
	}
	p = reserve(w, SNAP_SECTION_HEADER + padded);
	if (!p)
		return;
	put32(p, tag);
	put32(p + 4, index);
	put32(p + 8, (uint32_t)total);
	if (head_len)
		memcpy(p + SNAP_SECTION_HEADER, head, head_len);
	if (len)
		memcpy(p + SNAP_SECTION_HEADER + head_len, data, len);
	memset(p + SNAP_SECTION_HEADER + total, 0, padded - total);
	put32(p + 12, snap_crc(p + SNAP_SECTION_HEADER, total));
}

int snap_finish(struct snap_writer *w)
{
	uint8_t *p = w->buf;

	if (w->err)
		return w->err;
	memcpy(p, SNAP_MAGIC, 8);
	put32(p + 8, SNAP_VERSION);
	put32(p + 12, SNAP_ARCH_X86_64);
	put64(p + 16, w->len - SNAP_HEADER_SIZE);
	put32(p + 24, snap_crc(p + SNAP_HEADER_SIZE, w->len - SNAP_HEADER_SIZE));
	put32(p + 28, snap_crc(p, 28));
	return 0;
}
