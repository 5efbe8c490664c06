/* Tiny AML writer (ACPI 6.x, chapter 20 "AML Specification" and 6.4
 * "Resource Data Types"). See include/ember/aml.h. */
#include "ember/aml.h"

#include <errno.h>
#include <string.h>

/* AML opcodes and prefixes */
#define AML_ZERO_OP 0x00
#define AML_ONE_OP 0x01
#define AML_NAME_OP 0x08
#define AML_BYTE_PREFIX 0x0a
#define AML_WORD_PREFIX 0x0b
#define AML_DWORD_PREFIX 0x0c
#define AML_STRING_PREFIX 0x0d
#define AML_QWORD_PREFIX 0x0e
#define AML_SCOPE_OP 0x10
#define AML_BUFFER_OP 0x11
#define AML_PACKAGE_OP 0x12
#define AML_METHOD_OP 0x14
#define AML_ARG0_OP 0x68
#define AML_NOTIFY_OP 0x86
#define AML_LEQUAL_OP 0x93
#define AML_IF_OP 0xa0
#define AML_DUAL_NAME_PREFIX 0x2e
#define AML_MULTI_NAME_PREFIX 0x2f
#define AML_EXT_OP_PREFIX 0x5b
#define AML_DEVICE_OP 0x82 /* after AML_EXT_OP_PREFIX */
#define AML_ROOT_CHAR '\\'
#define AML_PARENT_PREFIX '^'
#define AML_NULL_NAME 0x00

/* Resource descriptor tags */
#define RD_IRQ_NOFLAGS 0x22 /* small item 0x04, length 2 */
#define RD_IO 0x47	    /* small item 0x08, length 7 */
#define RD_END_TAG 0x79	    /* small item 0x0f, length 1 */
#define RD_MEM32_FIXED 0x86 /* large item 0x06 */
#define RD_EXT_IRQ 0x89	    /* large item 0x09 */

enum { FRAME_PKG, FRAME_BUFFER };

/* Bytes reserved after the opcode for the header we only know at aml_end():
 * PkgLength (≤ 4) and, for buffers, the BufferSize integer (≤ 5). */
#define RESERVE_PKG 4
#define RESERVE_BUFFER (4 + 5)

void aml_init(struct aml *a, uint8_t *buf, size_t cap)
{
	memset(a, 0, sizeof(*a));
	a->buf = buf;
	a->cap = cap;
}

static void fail(struct aml *a, int err)
{
	if (!a->err)
		a->err = err;
}

long aml_finish(struct aml *a)
{
	if (!a->err && a->depth != 0)
		fail(a, -EINVAL);
	return a->err ? a->err : (long)a->len;
}

void aml_bytes(struct aml *a, const void *p, size_t n)
{
	if (a->err)
		return;
	if (n > a->cap - a->len) {
		fail(a, -ENOSPC);
		return;
	}
	memcpy(a->buf + a->len, p, n);
	a->len += n;
}

void aml_byte(struct aml *a, uint8_t b)
{
	aml_bytes(a, &b, 1);
}

static void put_le(struct aml *a, uint64_t v, int n)
{
	uint8_t b[8];

	for (int i = 0; i < n; i++)
		b[i] = (uint8_t)(v >> (8 * i));
	aml_bytes(a, b, (size_t)n);
}

int aml_pkglen_encode(uint32_t body, uint8_t out[4])
{
	uint32_t total;
	int n;

	/* One byte holds 6 bits; each further byte adds 8 bits to a 4-bit
	 * low nibble: 12, 20, 28 bits. The length counts its own bytes. */
	if (body + 1 <= 0x3f) {
		out[0] = (uint8_t)(body + 1);
		return 1;
	}
	for (n = 2; n <= 4; n++) {
		uint32_t max = (1U << (4 + 8 * (n - 1))) - 1;

		if (body <= max - (uint32_t)n)
			break;
	}
	if (n > 4)
		return -E2BIG;
	total = body + (uint32_t)n;
	out[0] = (uint8_t)(((n - 1) << 6) | (total & 0x0f));
	for (int i = 1; i < n; i++)
		out[i] = (uint8_t)(total >> (4 + 8 * (i - 1)));
	return n;
}

/* Encode an integer constant in its shortest form; returns byte count. */
static int integer_encode(uint64_t v, uint8_t out[9])
{
	int n;

	if (v == 0) {
		out[0] = AML_ZERO_OP;
		return 1;
	}
	if (v == 1) {
		out[0] = AML_ONE_OP;
		return 1;
	}
	if (v <= 0xff) {
		out[0] = AML_BYTE_PREFIX;
		n = 1;
	} else if (v <= 0xffff) {
		out[0] = AML_WORD_PREFIX;
		n = 2;
	} else if (v <= 0xffffffffULL) {
		out[0] = AML_DWORD_PREFIX;
		n = 4;
	} else {
		out[0] = AML_QWORD_PREFIX;
		n = 8;
	}
	for (int i = 0; i < n; i++)
		out[1 + i] = (uint8_t)(v >> (8 * i));
	return 1 + n;
}

void aml_integer(struct aml *a, uint64_t v)
{
	uint8_t b[9];

	aml_bytes(a, b, (size_t)integer_encode(v, b));
}

void aml_string(struct aml *a, const char *s)
{
	for (const char *c = s; *c; c++) {
		if ((unsigned char)*c < 0x01 || (unsigned char)*c > 0x7f) {
			fail(a, -EINVAL);
			return;
		}
	}
	aml_byte(a, AML_STRING_PREFIX);
	aml_bytes(a, s, strlen(s) + 1);
}

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

void aml_eisaid(struct aml *a, const char *id)
{
	uint8_t b[5];
	uint16_t vendor = 0;

	if (strlen(id) != 7) {
		fail(a, -EINVAL);
		return;
	}
	/* Three letters, 5 bits each ('A' = 1), then four hex digits; the
	 * result is stored big-endian inside the little-endian DWORD. */
	for (int i = 0; i < 3; i++) {
		if (id[i] < 'A' || id[i] > 'Z') {
			fail(a, -EINVAL);
			return;
		}
		vendor = (uint16_t)((vendor << 5) | (id[i] - 0x40));
	}
	b[0] = AML_DWORD_PREFIX;
	b[1] = (uint8_t)(vendor >> 8);
	b[2] = (uint8_t)vendor;
	for (int i = 0; i < 2; i++) {
		int hi = hexval(id[3 + 2 * i]), lo = hexval(id[4 + 2 * i]);

		if (hi < 0 || lo < 0) {
			fail(a, -EINVAL);
			return;
		}
		b[3 + i] = (uint8_t)(hi << 4 | lo);
	}
	aml_bytes(a, b, sizeof(b));
}

static int is_lead_char(char c)
{
	return (c >= 'A' && c <= 'Z') || c == '_';
}

static int is_name_char(char c)
{
	return is_lead_char(c) || (c >= '0' && c <= '9');
}

/* Copy one NameSeg from *p (up to '.' or NUL), padded with '_'. */
static int parse_seg(const char **p, char seg[4])
{
	int n = 0;

	while (**p && **p != '.') {
		if (n == 4 || !(n == 0 ? is_lead_char(**p) : is_name_char(**p)))
			return -EINVAL;
		seg[n++] = *(*p)++;
	}
	if (n == 0)
		return -EINVAL;
	while (n < 4)
		seg[n++] = '_';
	if (**p == '.' && !*++(*p))
		return -EINVAL; /* trailing '.' */
	return 0;
}

void aml_namestring(struct aml *a, const char *path)
{
	char segs[255][4];
	const char *p = path;
	int nseg = 0;

	if (*p == AML_ROOT_CHAR) {
		aml_byte(a, AML_ROOT_CHAR);
		p++;
	} else {
		while (*p == AML_PARENT_PREFIX) {
			aml_byte(a, AML_PARENT_PREFIX);
			p++;
		}
	}
	while (*p) {
		if (nseg == 255 || parse_seg(&p, segs[nseg]) < 0) {
			fail(a, -EINVAL);
			return;
		}
		nseg++;
	}
	if (nseg == 0) {
		aml_byte(a, AML_NULL_NAME);
		return;
	}
	if (nseg == 2) {
		aml_byte(a, AML_DUAL_NAME_PREFIX);
	} else if (nseg > 2) {
		aml_byte(a, AML_MULTI_NAME_PREFIX);
		aml_byte(a, (uint8_t)nseg);
	}
	aml_bytes(a, segs, (size_t)nseg * 4);
}

void aml_name(struct aml *a, const char *name)
{
	aml_byte(a, AML_NAME_OP);
	aml_namestring(a, name);
}

static void frame_open(struct aml *a, int kind)
{
	size_t reserve = kind == FRAME_BUFFER ? RESERVE_BUFFER : RESERVE_PKG;

	if (a->err)
		return;
	if (a->depth == AML_MAX_DEPTH) {
		fail(a, -EINVAL);
		return;
	}
	if (reserve > a->cap - a->len) {
		fail(a, -ENOSPC);
		return;
	}
	a->open[a->depth].start = a->len;
	a->open[a->depth].kind = kind;
	a->depth++;
	memset(a->buf + a->len, 0, reserve);
	a->len += reserve;
}

void aml_end(struct aml *a)
{
	uint8_t hdr[RESERVE_BUFFER];
	size_t start, reserve, body, hlen = 0;
	int kind, n;

	if (a->err)
		return;
	if (a->depth == 0) {
		fail(a, -EINVAL);
		return;
	}
	a->depth--;
	start = a->open[a->depth].start;
	kind = a->open[a->depth].kind;
	reserve = kind == FRAME_BUFFER ? RESERVE_BUFFER : RESERVE_PKG;
	body = a->len - start - reserve;
	if (body > AML_PKGLEN_MAX) {
		fail(a, -E2BIG);
		return;
	}
	if (kind == FRAME_BUFFER) {
		uint8_t sz[9];
		int sn = integer_encode(body, sz);

		n = aml_pkglen_encode((uint32_t)(body + (size_t)sn), hdr);
		if (n < 0) {
			fail(a, n);
			return;
		}
		memcpy(hdr + n, sz, (size_t)sn);
		hlen = (size_t)(n + sn);
	} else {
		n = aml_pkglen_encode((uint32_t)body, hdr);
		if (n < 0) {
			fail(a, n);
			return;
		}
		hlen = (size_t)n;
	}
	memmove(a->buf + start + hlen, a->buf + start + reserve, body);
	memcpy(a->buf + start, hdr, hlen);
	a->len = start + hlen + body;
}

void aml_scope_begin(struct aml *a, const char *path)
{
	aml_byte(a, AML_SCOPE_OP);
	frame_open(a, FRAME_PKG);
	aml_namestring(a, path);
}

void aml_device_begin(struct aml *a, const char *name)
{
	const uint8_t op[2] = {AML_EXT_OP_PREFIX, AML_DEVICE_OP};

	aml_bytes(a, op, sizeof(op));
	frame_open(a, FRAME_PKG);
	aml_namestring(a, name);
}

void aml_buffer_begin(struct aml *a)
{
	aml_byte(a, AML_BUFFER_OP);
	frame_open(a, FRAME_BUFFER);
}

void aml_package_begin(struct aml *a, uint8_t nelems)
{
	aml_byte(a, AML_PACKAGE_OP);
	frame_open(a, FRAME_PKG);
	aml_byte(a, nelems);
}

void aml_method_begin(struct aml *a, const char *name, int nargs)
{
	if (nargs < 0 || nargs > 7) {
		fail(a, -EINVAL);
		return;
	}
	aml_byte(a, AML_METHOD_OP);
	frame_open(a, FRAME_PKG);
	aml_namestring(a, name);
	aml_byte(a, (uint8_t)nargs); /* MethodFlags: NotSerialized, SyncLevel 0 */
}

void aml_if_begin(struct aml *a)
{
	aml_byte(a, AML_IF_OP);
	frame_open(a, FRAME_PKG);
}

void aml_lequal(struct aml *a)
{
	aml_byte(a, AML_LEQUAL_OP);
}

void aml_arg(struct aml *a, int n)
{
	if (n < 0 || n > 6) {
		fail(a, -EINVAL);
		return;
	}
	aml_byte(a, (uint8_t)(AML_ARG0_OP + n));
}

void aml_notify(struct aml *a, const char *path, uint64_t value)
{
	aml_byte(a, AML_NOTIFY_OP);
	aml_namestring(a, path);
	aml_integer(a, value);
}

void aml_rt_begin(struct aml *a)
{
	aml_buffer_begin(a);
}

void aml_rt_end(struct aml *a)
{
	/* End Tag; a checksum of 0 means "the checksum is correct". */
	const uint8_t end[2] = {RD_END_TAG, 0x00};

	if (!a->err && (a->depth == 0 || a->open[a->depth - 1].kind != FRAME_BUFFER)) {
		fail(a, -EINVAL);
		return;
	}
	aml_bytes(a, end, sizeof(end));
	aml_end(a);
}

void aml_rt_io(struct aml *a, uint16_t min, uint16_t max, uint8_t align, uint8_t len)
{
	aml_byte(a, RD_IO);
	aml_byte(a, 0x01); /* Decode16 */
	put_le(a, min, 2);
	put_le(a, max, 2);
	aml_byte(a, align);
	aml_byte(a, len);
}

void aml_rt_irq_noflags(struct aml *a, unsigned int irq)
{
	if (irq > 15) {
		fail(a, -EINVAL);
		return;
	}
	aml_byte(a, RD_IRQ_NOFLAGS);
	put_le(a, 1U << irq, 2);
}

void aml_rt_mem32_fixed(struct aml *a, int writable, uint32_t base, uint32_t size)
{
	aml_byte(a, RD_MEM32_FIXED);
	put_le(a, 9, 2); /* length of the data that follows */
	aml_byte(a, writable ? 0x01 : 0x00);
	put_le(a, base, 4);
	put_le(a, size, 4);
}

void aml_rt_ext_irq(struct aml *a, uint8_t flags, uint32_t gsi)
{
	aml_byte(a, RD_EXT_IRQ);
	put_le(a, 6, 2); /* flags, count, one DWORD */
	aml_byte(a, flags);
	aml_byte(a, 1);
	put_le(a, gsi, 4);
}
