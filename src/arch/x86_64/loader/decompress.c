/* Host-side decompression of a bzImage payload (gzip, xz, lz4 legacy frame,
 * zstd) with the usual libraries, bounded to guard against decompression
 * bombs. The kernel build appends the uncompressed size (le32) to every
 * payload; it is used only as a capped allocation hint. */
#include "ember/loader.h"

#include <errno.h>
#include <limits.h>
#include <lz4.h>
#include <lzma.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>
#include <zstd.h>

#include "ember/error.h"
#include "ember/util.h"
#include "loader_priv.h"

#define LZ4_LEGACY_MAGIC 0x184c2102U
#define LZ4_LEGACY_BLOCK (8U << 20)
#define XZ_MEMLIMIT (256ULL << 20)

struct outbuf {
	uint8_t *p;
	size_t len, cap, max;
};

/* Make room for at least one more byte (up to `want` more); -EFBIG past max. */
static int ob_grow(struct outbuf *o, size_t want)
{
	size_t ncap;
	uint8_t *np;

	if (o->cap - o->len >= want)
		return 0;
	if (o->cap >= o->max) {
		if (o->len < o->cap)
			return 0; /* some room left: use it */
		return err_set(EFBIG, "decompressed kernel is larger than the %zu MiB limit",
			       o->max >> 20);
	}
	ncap = o->cap ? o->cap : 1 << 20;
	while (ncap - o->len < want && ncap < o->max)
		ncap = ncap > o->max / 2 ? o->max : ncap * 2;
	if (ncap > o->max)
		ncap = o->max;
	np = realloc(o->p, ncap);
	if (!np)
		return err_set(ENOMEM, "out of memory decompressing the kernel (%zu MiB)",
			       ncap >> 20);
	o->p = np;
	o->cap = ncap;
	return 0;
}

static int too_big(const struct outbuf *o)
{
	return err_set(EFBIG, "decompressed kernel is larger than the %zu MiB limit", o->max >> 20);
}

static int gunzip(const uint8_t *in, size_t len, struct outbuf *o)
{
	z_stream zs;
	int zr, r = 0;

	memset(&zs, 0, sizeof(zs));
	if (inflateInit2(&zs, 16 + MAX_WBITS) != Z_OK)
		return err_set(ENOMEM, "zlib: inflateInit2 failed");
	zs.next_in = (Bytef *)in;
	for (;;) {
		size_t out_before;

		if (zs.avail_in == 0 && len > 0) {
			zs.avail_in = (uInt)MIN(len, (size_t)UINT_MAX);
			len -= zs.avail_in;
		}
		r = ob_grow(o, 1 << 20);
		if (r < 0)
			break;
		zs.next_out = o->p + o->len;
		zs.avail_out = (uInt)MIN(o->cap - o->len, (size_t)UINT_MAX);
		out_before = zs.avail_out;
		zr = inflate(&zs, Z_NO_FLUSH);
		o->len += out_before - zs.avail_out;
		if (zr == Z_STREAM_END)
			break;
		if (zr == Z_OK)
			continue;
		if (zr == Z_BUF_ERROR) {
			if (zs.avail_out == 0 || (zs.avail_in == 0 && len > 0))
				continue; /* needs more room / more input */
			r = err_set(ENOEXEC, "gzip kernel payload is truncated");
			break;
		}
		r = err_set(ENOEXEC, "gzip kernel payload is corrupt: %s",
			    zs.msg ? zs.msg : "error");
		break;
	}
	inflateEnd(&zs);
	return r;
}

static int unxz(const uint8_t *in, size_t len, struct outbuf *o)
{
	lzma_stream s = LZMA_STREAM_INIT;
	lzma_ret lr;
	int r = 0;

	/* Single stream: the 4-byte size trailer after it is left unread. */
	if (lzma_stream_decoder(&s, XZ_MEMLIMIT, 0) != LZMA_OK)
		return err_set(ENOMEM, "liblzma: decoder init failed");
	s.next_in = in;
	s.avail_in = len;
	for (;;) {
		size_t out_before;

		r = ob_grow(o, 1 << 20);
		if (r < 0)
			break;
		s.next_out = o->p + o->len;
		s.avail_out = o->cap - o->len;
		out_before = s.avail_out;
		lr = lzma_code(&s, LZMA_FINISH);
		o->len += out_before - s.avail_out;
		if (lr == LZMA_STREAM_END)
			break;
		if (lr == LZMA_OK)
			continue;
		if (lr == LZMA_BUF_ERROR && s.avail_out == 0)
			continue;
		if (lr == LZMA_BUF_ERROR)
			r = err_set(ENOEXEC, "xz kernel payload is truncated");
		else if (lr == LZMA_MEMLIMIT_ERROR)
			r = err_set(ENOEXEC, "xz kernel payload needs more than %llu MiB to decode",
				    XZ_MEMLIMIT >> 20);
		else
			r = err_set(ENOEXEC, "xz kernel payload is corrupt (liblzma error %d)", lr);
		break;
	}
	lzma_end(&s);
	return r;
}

/* The kernel's lz4 format: legacy frame magic, then chunks of
 * [le32 compressed size][block], each decompressing to at most 8 MiB. */
static int unlz4(const uint8_t *in, size_t len, struct outbuf *o)
{
	size_t off = 4;

	if (len < 4 || ld_le32(in) != LZ4_LEGACY_MAGIC)
		return err_set(ENOEXEC, "lz4 kernel payload is not in the legacy frame format");
	while (len - off >= 4) {
		uint32_t csize = ld_le32(in + off);
		size_t room;
		int n, r;

		if (csize == LZ4_LEGACY_MAGIC) { /* concatenated frame */
			off += 4;
			continue;
		}
		if (len - off == 4)
			break; /* the appended uncompressed size */
		off += 4;
		if (csize == 0 || csize > len - off)
			return err_set(ENOEXEC, "lz4 kernel payload is truncated");
		if (csize > (uint32_t)LZ4_compressBound(LZ4_LEGACY_BLOCK))
			return err_set(ENOEXEC, "lz4 kernel payload is corrupt (block of %u bytes)",
				       csize);
		r = ob_grow(o, LZ4_LEGACY_BLOCK);
		if (r < 0)
			return r;
		room = MIN(o->cap - o->len, (size_t)LZ4_LEGACY_BLOCK);
		n = LZ4_decompress_safe((const char *)in + off, (char *)o->p + o->len, (int)csize,
					(int)room);
		if (n < 0) {
			if (room < LZ4_LEGACY_BLOCK && o->cap >= o->max)
				return too_big(o);
			return err_set(ENOEXEC, "lz4 kernel payload is corrupt");
		}
		o->len += (size_t)n;
		off += csize;
	}
	if (o->len == 0)
		return err_set(ENOEXEC, "lz4 kernel payload is empty");
	return 0;
}

static int unzstd(const uint8_t *in, size_t len, struct outbuf *o)
{
	ZSTD_DCtx *dc = ZSTD_createDCtx();
	ZSTD_inBuffer ib = {in, len, 0};
	int r = 0;

	if (!dc)
		return err_set(ENOMEM, "libzstd: cannot create a context");
	for (;;) {
		ZSTD_outBuffer ob;
		size_t zr;

		r = ob_grow(o, 1 << 20);
		if (r < 0)
			break;
		ob = (ZSTD_outBuffer){o->p + o->len, o->cap - o->len, 0};
		zr = ZSTD_decompressStream(dc, &ob, &ib);
		o->len += ob.pos;
		if (ZSTD_isError(zr)) {
			r = err_set(ENOEXEC, "zstd kernel payload is corrupt: %s",
				    ZSTD_getErrorName(zr));
			break;
		}
		if (zr == 0)
			break; /* frame complete; the size trailer follows */
		if (ib.pos == ib.size && ob.pos < ob.size) {
			r = err_set(ENOEXEC, "zstd kernel payload is truncated");
			break;
		}
	}
	ZSTD_freeDCtx(dc);
	return r;
}

static int copy_raw(const uint8_t *in, size_t len, struct outbuf *o)
{
	if (len > o->max)
		return too_big(o);
	o->p = malloc(len ? len : 1);
	if (!o->p)
		return err_set(ENOMEM, "out of memory copying the kernel");
	memcpy(o->p, in, len);
	o->len = o->cap = len;
	return 0;
}

static bool magic(const uint8_t *in, size_t len, const char *m, size_t n)
{
	return len >= n && memcmp(in, m, n) == 0;
}

int loader_decompress(const uint8_t *buf, size_t len, size_t max_out, uint8_t **out,
		      size_t *out_len)
{
	int (*fn)(const uint8_t *, size_t, struct outbuf *) = NULL;
	struct outbuf o = {.max = max_out};
	int r;

	*out = NULL;
	*out_len = 0;
	if (magic(buf, len, "\x1f\x8b", 2))
		fn = gunzip;
	else if (magic(buf, len,
		       "\xfd"
		       "7zXZ\0",
		       6))
		fn = unxz;
	else if (magic(buf, len, "\x02\x21\x4c\x18", 4))
		fn = unlz4;
	else if (magic(buf, len, "\x28\xb5\x2f\xfd", 4))
		fn = unzstd;
	else if (magic(buf, len,
		       "\x7f"
		       "ELF",
		       4))
		fn = copy_raw;
	else if (magic(buf, len, "BZh", 3))
		return err_set(ENOTSUP,
			       "unsupported kernel compression bzip2 (supported: gzip, xz, "
			       "lz4, zstd)");
	else if (magic(buf, len, "\x5d\x00\x00", 3))
		return err_set(ENOTSUP, "unsupported kernel compression lzma (supported: gzip, xz, "
					"lz4, zstd)");
	else if (magic(buf, len, "\x89LZO", 4))
		return err_set(ENOTSUP, "unsupported kernel compression lzo (supported: gzip, xz, "
					"lz4, zstd)");
	else
		return err_set(ENOTSUP,
			       "unknown kernel compression (payload starts %02x %02x %02x %02x)",
			       len > 0 ? buf[0] : 0, len > 1 ? buf[1] : 0, len > 2 ? buf[2] : 0,
			       len > 3 ? buf[3] : 0);

	if (fn != copy_raw && len >= 8) {
		/* Size hint from the trailer, capped by the limit and a sane ratio. */
		uint64_t hint = ld_le32(buf + len - 4);
		uint64_t cap = MIN((uint64_t)max_out, (uint64_t)len * 32 + (1 << 20));

		hint = MIN(hint, cap);
		if (hint > 0) {
			o.p = malloc((size_t)hint);
			if (o.p)
				o.cap = (size_t)hint;
		}
	}
	r = fn(buf, len, &o);
	if (r < 0) {
		free(o.p);
		return r;
	}
	*out = o.p;
	*out_len = o.len;
	return 0;
}
