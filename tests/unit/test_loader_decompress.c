/* Host-side bzImage payload decompression: round trips through each
 * library's compressor, unsupported formats, truncation, bombs. */
#include <errno.h>
#include <lz4.h>
#include <lzma.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <zlib.h>
#include <zstd.h>

#include <cmocka.h>

#include "ember/error.h"
#include "ember/layout.h"
#include "ember/loader.h"
#include "ember/memory.h"
#include "test_loader_images.h"

enum codec { GZIP, XZ, LZ4, ZSTD, NONE };
static const char *const codec_names[] = {"gzip", "xz", "lz4", "zstd", "none"};

static struct guest_mem gm;
static uint8_t *vmlinux; /* fake vmlinux: 10 MiB segment (two lz4 blocks) */
static size_t vmlinux_len;

static void put_le32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
	p[2] = (uint8_t)(v >> 16);
	p[3] = (uint8_t)(v >> 24);
}

/* Compress like the kernel build: the stream, then the le32 original size. */
static uint8_t *kcompress(enum codec c, const uint8_t *in, size_t len, size_t *out_len)
{
	size_t cap = len + len / 2 + (1 << 20), n = 0;
	uint8_t *out = malloc(cap);

	assert_non_null(out);
	switch (c) {
	case GZIP: {
		z_stream zs;

		memset(&zs, 0, sizeof(zs));
		assert_int_equal(
		    deflateInit2(&zs, 6, Z_DEFLATED, 16 + MAX_WBITS, 8, Z_DEFAULT_STRATEGY), Z_OK);
		zs.next_in = (Bytef *)in;
		zs.avail_in = (uInt)len;
		zs.next_out = out;
		zs.avail_out = (uInt)cap;
		assert_int_equal(deflate(&zs, Z_FINISH), Z_STREAM_END);
		n = zs.total_out;
		deflateEnd(&zs);
		break;
	}
	case XZ:
		assert_int_equal(
		    lzma_easy_buffer_encode(1, LZMA_CHECK_CRC32, NULL, in, len, out, &n, cap),
		    LZMA_OK);
		break;
	case LZ4: /* legacy frame: magic, then [le32 size][block] per 8 MiB */
		put_le32(out, 0x184c2102);
		n = 4;
		for (size_t off = 0; off < len; off += 8 << 20) {
			size_t chunk = len - off < (8 << 20) ? len - off : 8 << 20;
			int c_len =
			    LZ4_compress_default((const char *)in + off, (char *)out + n + 4,
						 (int)chunk, (int)(cap - n - 4));

			assert_true(c_len > 0);
			put_le32(out + n, (uint32_t)c_len);
			n += 4 + (size_t)c_len;
		}
		break;
	case ZSTD:
		n = ZSTD_compress(out, cap, in, len, 3);
		assert_false(ZSTD_isError(n));
		break;
	case NONE:
		memcpy(out, in, len);
		n = len;
		break;
	}
	put_le32(out + n, (uint32_t)len);
	*out_len = n + 4;
	return out;
}

static int setup(void **state)
{
	const struct ti_seg seg = {.paddr = 0x1000000, .filesz = 10 * TI_MiB, .memsz = 12 * TI_MiB};
	Elf64_Phdr *ph;

	if (gm_init(&gm, 64 * TI_MiB, LAYOUT_MMIO_GAP_START, LAYOUT_MMIO_GAP_END) < 0)
		return -1;
	vmlinux = ti_build_elf(0x1000000, &seg, 1, &vmlinux_len);
	ph = ti_phdr(vmlinux, 0);
	/* something less trivial than one repeated byte */
	for (size_t i = 0; i < seg.filesz; i += 4)
		put_le32(vmlinux + ph->p_offset + i, (uint32_t)(i * 2654435761u) >> 20);
	return 0;
}

static int teardown(void **state)
{
	gm_destroy(&gm);
	free(vmlinux);
	return 0;
}

static void expect_err(int r, int errnum, const char *needle)
{
	assert_int_equal(r, -errnum);
	if (!strstr(err_msg(), needle))
		fail_msg("error \"%s\" does not mention \"%s\"", err_msg(), needle);
}

static uint8_t *bz_with_payload(const uint8_t *payload, size_t plen, size_t *len)
{
	struct ti_bz p = ti_bz_default();

	p.payload = payload;
	p.payload_len = plen;
	p.init_size = 30 * TI_MiB;
	p.cmdline_size = 4095;
	p.initrd_addr_max = 0x3fffffff;
	return ti_build_bzimage(&p, len);
}

static void round_trip(enum codec c)
{
	size_t plen, len, out_len;
	uint8_t *payload = kcompress(c, vmlinux, vmlinux_len, &plen);
	uint8_t *bz = bz_with_payload(payload, plen, &len), *out;
	struct kernel_image k;

	print_message("%s: %zu -> %zu bytes\n", codec_names[c], vmlinux_len, plen);
	assert_int_equal(loader_bzimage_decompress(bz, len, &out, &out_len), 0);
	/* an uncompressed payload is taken whole, size trailer included */
	assert_int_equal(out_len, c == NONE ? plen : vmlinux_len);
	assert_memory_equal(out, vmlinux, vmlinux_len);
	free(out);

	/* --kernel-decompress: the vmlinux is loaded, the setup header kept */
	memset(gm_slice(&gm, 0x1000000, 12 * TI_MiB), 0xaa, 12 * TI_MiB);
	assert_int_equal(loader_load_bzimage_decompressed(&gm, bz, len, &k), 0);
	assert_int_equal(k.kind, KERNEL_ELF);
	assert_int_equal(k.entry, 0x1000000);
	assert_int_equal(k.load_end, 0x1000000 + 12 * TI_MiB);
	assert_true(k.has_setup_header);
	assert_int_equal(k.hdr.header, 0x53726448);
	assert_int_equal(k.cmdline_max, 4095);
	assert_int_equal(k.initrd_addr_max, 0x3fffffff);
	assert_memory_equal(gm_slice(&gm, 0x1000000, 10 * TI_MiB),
			    vmlinux + ti_phdr(vmlinux, 0)->p_offset, 10 * TI_MiB);
	assert_int_equal(*(uint8_t *)gm_slice(&gm, 0x1000000 + 11 * TI_MiB, 1), 0);

	/* truncated payload stream (keep the trailer shape: cut the middle) */
	if (c != NONE) {
		size_t cut = plen / 2;
		uint8_t *bz2;

		memcpy(payload + cut, payload + plen - 4, 4);
		bz2 = bz_with_payload(payload, cut + 4, &len);
		assert_true(loader_bzimage_decompress(bz2, len, &out, &out_len) < 0);
		assert_null(out);
		print_message("%s truncated: %s\n", codec_names[c], err_msg());
		free(bz2);
	}
	free(bz);
	free(payload);
}

static void test_gzip(void **state)
{
	round_trip(GZIP);
}

static void test_xz(void **state)
{
	round_trip(XZ);
}

static void test_lz4(void **state)
{
	round_trip(LZ4);
}

static void test_zstd(void **state)
{
	round_trip(ZSTD);
}

static void test_uncompressed(void **state)
{
	round_trip(NONE);
}

static void test_unsupported(void **state)
{
	static const struct {
		const char *magic, *name;
	} cases[] = {
	    {"BZh91AY&SY", "unsupported kernel compression bzip2"},
	    {"\x5d\x00\x00\x80\x00\xff\xff\xff", "unsupported kernel compression lzma"},
	    {"\x89LZO\x00\x0d\x0a\x1a", "unsupported kernel compression lzo"},
	    {"\x12\x34\x56\x78\x00\x00\x00\x00",
	     "unknown kernel compression (payload starts 12 34"},
	};
	uint8_t *out;
	size_t out_len;

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		size_t len;
		uint8_t *bz = bz_with_payload((const uint8_t *)cases[i].magic, 8, &len);

		expect_err(loader_bzimage_decompress(bz, len, &out, &out_len), ENOTSUP,
			   cases[i].name);
		free(bz);
	}
}

static void test_bad_payload_fields(void **state)
{
	size_t plen, len, out_len;
	uint8_t *payload = kcompress(ZSTD, vmlinux, vmlinux_len, &plen), *out;
	uint8_t *bz = bz_with_payload(payload, plen, &len);
	size_t setup = 4 * 512;
	struct setup_header h;

	memcpy(&h, bz + 0x1f1, sizeof(h));
	h.payload_length = 0;
	memcpy(bz + 0x1f1, &h, sizeof(h));
	expect_err(loader_bzimage_decompress(bz, len, &out, &out_len), ENOEXEC, "payload_length 0");
	h.payload_length = (uint32_t)(len - setup); /* offset 0x400 + this > pm */
	memcpy(bz + 0x1f1, &h, sizeof(h));
	expect_err(loader_bzimage_decompress(bz, len, &out, &out_len), ENOEXEC,
		   "outside the kernel");
	h.payload_offset = 0xffffffff;
	h.payload_length = 0xffffffff;
	memcpy(bz + 0x1f1, &h, sizeof(h));
	expect_err(loader_bzimage_decompress(bz, len, &out, &out_len), ENOEXEC,
		   "outside the kernel");
	/* not a bzImage at all */
	expect_err(loader_bzimage_decompress(vmlinux, vmlinux_len, &out, &out_len), ENOEXEC,
		   "not a bzImage");
	free(bz);
	free(payload);

	/* corrupt data after a valid magic */
	payload = kcompress(GZIP, vmlinux, vmlinux_len, &plen);
	memset(payload + 10, 0xff, 64);
	bz = bz_with_payload(payload, plen, &len);
	expect_err(loader_bzimage_decompress(bz, len, &out, &out_len), ENOEXEC,
		   "gzip kernel payload");
	free(bz);
	free(payload);

	/* a valid stream that is not an ELF */
	payload = kcompress(LZ4, (const uint8_t *)"hello, world", 12, &plen);
	bz = bz_with_payload(payload, plen, &len);
	expect_err(loader_bzimage_decompress(bz, len, &out, &out_len), ENOEXEC,
		   "not an ELF vmlinux");
	free(bz);
	free(payload);
}

/* 16 MiB of zeros against a 1 MiB limit: each codec stops with -EFBIG. */
static void test_decompression_bomb(void **state)
{
	size_t zlen = 16 * TI_MiB;
	uint8_t *zeros = calloc(1, zlen);

	uint8_t *out;
	size_t out_len;

	expect_err(loader_decompress(vmlinux, vmlinux_len, 1 << 20, &out, &out_len), EFBIG,
		   "larger than the 1 MiB limit");
	for (enum codec c = GZIP; c < NONE; c++) {
		size_t plen;
		uint8_t *payload = kcompress(c, zeros, zlen, &plen);

		expect_err(loader_decompress(payload, plen, 1 << 20, &out, &out_len), EFBIG,
			   "larger than the 1 MiB limit");
		assert_null(out);
		/* a lying size trailer (4 GiB - 1) does not make it allocate more */
		put_le32(payload + plen - 4, 0xffffffff);
		expect_err(loader_decompress(payload, plen, 1 << 20, &out, &out_len), EFBIG,
			   "limit");
		/* exactly at the limit is fine */
		assert_int_equal(loader_decompress(payload, plen, zlen, &out, &out_len), 0);
		assert_int_equal(out_len, zlen);
		free(out);
		free(payload);
	}
	free(zeros);
}

static void test_lz4_legacy_details(void **state)
{
	size_t plen, out_len;
	uint8_t *payload = kcompress(LZ4, vmlinux, vmlinux_len, &plen), *out;

	/* without the size trailer */
	assert_int_equal(loader_decompress(payload, plen - 4, 64 << 20, &out, &out_len), 0);
	assert_int_equal(out_len, vmlinux_len);
	free(out);
	/* a chunk claiming more than the input */
	put_le32(payload + 4, 0x7fffffff);
	expect_err(loader_decompress(payload, plen, 64 << 20, &out, &out_len), ENOEXEC,
		   "truncated");
	put_le32(payload + 4, 0);
	expect_err(loader_decompress(payload, plen, 64 << 20, &out, &out_len), ENOEXEC,
		   "truncated");
	free(payload);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_gzip),
	    cmocka_unit_test(test_xz),
	    cmocka_unit_test(test_lz4),
	    cmocka_unit_test(test_zstd),
	    cmocka_unit_test(test_uncompressed),
	    cmocka_unit_test(test_unsupported),
	    cmocka_unit_test(test_bad_payload_fields),
	    cmocka_unit_test(test_decompression_bomb),
	    cmocka_unit_test(test_lz4_legacy_details),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
