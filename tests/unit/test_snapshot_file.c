/* The snapshot state file (snapshot_file.c) and request bodies
 * (snapshot_json.c): a written file parses back section by section; every
 * truncation and every single-byte corruption is refused; wrong version and
 * architecture are named; fixed-size readers check the length; the memory
 * file mapping (gm_init_file) is private and refuses a short file; working
 * set files (snap_ws_parse) and the load's working_set field. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>

#include "ember/error.h"
#include "ember/memory.h"
#include "ember/snapshot.h"
#include "ember/snapshot_file.h"

static void build(struct snap_writer *w)
{
	static const char cfg[] = "{\"machine-config\":{}}";
	uint64_t v = 0x1122334455667788ull;
	uint8_t big[1000];

	memset(big, 0xab, sizeof(big));
	snap_writer_init(w);
	snap_add(w, SNAP_TAG_CONFIG, 0, NULL, 0, cfg, strlen(cfg));
	snap_add(w, SNAP_TAG_VM, 0, NULL, 0, &v, sizeof(v));
	snap_add(w, SNAP_TAG_VIRTIO, 3, &v, sizeof(v), big, sizeof(big));
	assert_int_equal(snap_finish(w), 0);
}

static void test_round_trip(void **state)
{
	struct snap_file *f = malloc(sizeof(*f));
	struct snap_writer w;
	uint64_t v = 0;
	const struct snap_section *s;

	(void)state;
	build(&w);
	assert_int_equal(snap_parse(w.buf, w.len, f), 0);
	assert_int_equal(f->nsections, 3);
	s = snap_find(f, SNAP_TAG_CONFIG, 0);
	assert_non_null(s);
	assert_memory_equal(s->data, "{\"machine-config\":{}}", s->len);
	assert_int_equal(snap_get_fixed(f, SNAP_TAG_VM, 0, &v, sizeof(v), "VM"), 0);
	assert_true(v == 0x1122334455667788ull);
	/* wrong size, wrong index: refused with the section named */
	assert_int_equal(snap_get_fixed(f, SNAP_TAG_VM, 0, &v, 4, "VM"), -EINVAL);
	assert_non_null(strstr(err_msg(), "VM section is 8 bytes"));
	assert_int_equal(snap_get_fixed(f, SNAP_TAG_VM, 1, &v, 8, "VM"), -EINVAL);
	s = snap_find(f, SNAP_TAG_VIRTIO, 3);
	assert_non_null(s);
	assert_int_equal(s->len, 1008);
	assert_int_equal(snap_count(f, SNAP_TAG_VIRTIO), 1);
	snap_writer_free(&w);
	free(f);
}

static void test_every_truncation_and_flip(void **state)
{
	struct snap_file *f = malloc(sizeof(*f));
	struct snap_writer w;

	(void)state;
	build(&w);
	for (size_t n = 0; n < w.len; n++)
		assert_int_equal(snap_parse(w.buf, n, f), -EINVAL);
	for (size_t i = 0; i < w.len; i++) {
		w.buf[i] ^= 0x01;
		assert_int_equal(snap_parse(w.buf, w.len, f), -EINVAL);
		w.buf[i] ^= 0x01;
	}
	assert_int_equal(snap_parse(w.buf, w.len, f), 0);
	snap_writer_free(&w);
	free(f);
}

static void rewrite_header(uint8_t *b, size_t len, uint32_t version, uint32_t arch)
{
	uint32_t c;

	memcpy(b + 8, &version, 4);
	memcpy(b + 12, &arch, 4);
	c = (uint32_t)crc32(0, b + 32, (uInt)(len - 32));
	memcpy(b + 24, &c, 4);
	c = (uint32_t)crc32(0, b, 28);
	memcpy(b + 28, &c, 4);
}

static void test_version_arch(void **state)
{
	struct snap_file *f = malloc(sizeof(*f));
	struct snap_writer w;

	(void)state;
	build(&w);
	rewrite_header(w.buf, w.len, 2, SNAP_ARCH_X86_64);
	assert_int_equal(snap_parse(w.buf, w.len, f), -EINVAL);
	assert_non_null(strstr(err_msg(), "version 2"));
	rewrite_header(w.buf, w.len, SNAP_VERSION, 7);
	assert_int_equal(snap_parse(w.buf, w.len, f), -EINVAL);
	assert_non_null(strstr(err_msg(), "architecture 7"));
	rewrite_header(w.buf, w.len, SNAP_VERSION, SNAP_ARCH_X86_64);
	assert_int_equal(snap_parse(w.buf, w.len, f), 0);
	snap_writer_free(&w);
	free(f);
}

static void test_request_bodies(void **state)
{
	struct snapshot_create_req c;
	struct snapshot_load_req l;
#define S(x) x, strlen(x)
	(void)state;
	assert_int_equal(
	    snapshot_parse_create(S("{\"snapshot_path\":\"a\",\"mem_file_path\":\"b\"}"), &c), 0);
	assert_int_equal(c.type, SNAP_FULL);
	snapshot_create_req_free(&c);
	assert_int_equal(
	    snapshot_parse_create(
		S("{\"snapshot_path\":\"a\",\"mem_file_path\":\"b\",\"snapshot_type\":\"Diff\"}"),
		&c),
	    0);
	assert_int_equal(c.type, SNAP_DIFF);
	snapshot_create_req_free(&c);
	assert_int_equal(snapshot_parse_create(S("{\"snapshot_path\":\"a\"}"), &c), -EINVAL);
	assert_int_equal(snapshot_parse_create(
			     S("{\"snapshot_path\":\"a\",\"mem_file_path\":\"b\",\"x\":1}"), &c),
			 -EINVAL);
	assert_int_equal(snapshot_parse_load(S("{\"snapshot_path\":\"a\",\"mem_backend\":{"
					       "\"backend_type\":\"Uffd\",\"backend_path\":\"/"
					       "s\"},\"resume_vm\":true,\"network_overrides\":[{"
					       "\"iface_id\":\"e\",\"host_dev_name\":\"t\"}]}"),
					     &l),
			 0);
	assert_int_equal(l.backend, SNAP_BACKEND_UFFD);
	assert_true(l.resume_vm);
	assert_int_equal(l.nnet_overrides, 1);
	assert_string_equal(l.net_overrides[0].host_dev_name, "t");
	snapshot_load_req_free(&l);
	assert_int_equal(snapshot_parse_load(S("{\"snapshot_path\":\"a\",\"mem_file_path\":\"m\","
					       "\"enable_diff_snapshots\":true}"),
					     &l),
			 0);
	assert_true(l.track_dirty_pages);
	snapshot_load_req_free(&l);
	/* both or neither memory source; bad types */
	assert_int_equal(snapshot_parse_load(S("{\"snapshot_path\":\"a\"}"), &l), -EINVAL);
	assert_int_equal(
	    snapshot_parse_load(S("{\"snapshot_path\":\"a\",\"mem_file_path\":\"m\",\"mem_"
				  "backend\":{\"backend_type\":\"File\",\"backend_path\":\"m\"}}"),
				&l),
	    -EINVAL);
	assert_int_equal(
	    snapshot_parse_load(
		S("{\"snapshot_path\":\"a\",\"mem_file_path\":\"m\",\"resume_vm\":1}"), &l),
	    -EINVAL);
	assert_int_equal(
	    snapshot_parse_load(S("{\"snapshot_path\":\"a\",\"mem_backend\":{\"backend_type\":"
				  "\"Disk\",\"backend_path\":\"m\"}}"),
				&l),
	    -EINVAL);
	/* working_set (an ember extension): File backend only */
	assert_int_equal(snapshot_parse_load(S("{\"snapshot_path\":\"a\",\"mem_file_path\":\"m\","
					       "\"working_set\":{\"path\":\"w\",\"record\":true}}"),
					     &l),
			 0);
	assert_string_equal(l.ws_path, "w");
	assert_true(l.ws_record);
	snapshot_load_req_free(&l);
	assert_int_equal(snapshot_parse_load(S("{\"snapshot_path\":\"a\",\"mem_file_path\":\"m\","
					       "\"working_set\":{\"path\":\"w\"}}"),
					     &l),
			 0);
	assert_false(l.ws_record);
	snapshot_load_req_free(&l);
	assert_int_equal(
	    snapshot_parse_load(S("{\"snapshot_path\":\"a\",\"mem_backend\":{\"backend_type\":"
				  "\"Uffd\",\"backend_path\":\"m\"},\"working_set\":{\"path\":\"w\"}}"),
				&l),
	    -EINVAL);
	assert_int_equal(snapshot_parse_load(S("{\"snapshot_path\":\"a\",\"mem_file_path\":\"m\","
					       "\"working_set\":{\"record\":true}}"),
					     &l),
			 -EINVAL);
	assert_int_equal(snapshot_parse_load(S("{\"snapshot_path\":\"a\",\"mem_file_path\":\"m\","
					       "\"working_set\":{\"path\":\"w\",\"x\":1}}"),
					     &l),
			 -EINVAL);
#undef S
}

/* A working-set file: header, then (first, count) runs; CRC over the runs. */
static size_t ws_build(uint8_t *b, uint64_t total, const uint64_t *runs, uint32_t n)
{
	uint32_t v;
	uLong c;

	memcpy(b, "EMBERWS1", 8);
	v = 1;
	memcpy(b + 8, &v, 4);
	v = 4096;
	memcpy(b + 12, &v, 4);
	memcpy(b + 16, &total, 8);
	memcpy(b + 24, &n, 4);
	memcpy(b + 32, runs, 16 * (size_t)n);
	c = crc32(crc32(0L, Z_NULL, 0), b + 32, 16 * n);
	v = (uint32_t)c;
	memcpy(b + 28, &v, 4);
	return 32 + 16 * (size_t)n;
}

static void test_working_set_file(void **state)
{
	const uint64_t total = 1 << 20; /* 256 pages */
	uint64_t good[] = {0, 3, 10, 1 | (1ull << 63), 200, 56};
	uint8_t b[32 + 16 * 8];
	struct snap_ws ws;
	uint64_t first, count;
	bool written;
	size_t len;

	(void)state;
	len = ws_build(b, total, good, 3);
	assert_int_equal(snap_ws_parse(b, len, total, &ws), 0);
	assert_int_equal(ws.nruns, 3);
	assert_int_equal(ws.pages, 60);
	snap_ws_run(&ws, 2, &first, &count, &written);
	assert_int_equal(first, 200);
	assert_int_equal(count, 56);
	assert_false(written);
	snap_ws_run(&ws, 1, &first, &count, &written);
	assert_int_equal(count, 1);
	assert_true(written);
	/* every truncation and every flipped byte is refused */
	for (size_t l = 0; l < len; l++)
		assert_int_equal(snap_ws_parse(b, l, total, &ws), -EINVAL);
	for (size_t i = 0; i < len; i++) {
		b[i] ^= 0x40;
		assert_int_equal(snap_ws_parse(b, len, total, &ws), -EINVAL);
		b[i] ^= 0x40;
	}
	/* another memory size */
	assert_int_equal(snap_ws_parse(b, len, total * 2, &ws), -EINVAL);
	/* runs past RAM, overlapping, out of order, empty, overflowing */
	{
		uint64_t past[] = {250, 7}, overlap[] = {0, 4, 3, 1}, order[] = {10, 1, 0, 1},
			 empty[] = {5, 0}, wrap[] = {1, UINT64_MAX};
		assert_int_equal(snap_ws_parse(b, ws_build(b, total, past, 1), total, &ws), -EINVAL);
		assert_int_equal(snap_ws_parse(b, ws_build(b, total, overlap, 2), total, &ws),
				 -EINVAL);
		assert_int_equal(snap_ws_parse(b, ws_build(b, total, order, 2), total, &ws), -EINVAL);
		assert_int_equal(snap_ws_parse(b, ws_build(b, total, empty, 1), total, &ws), -EINVAL);
		assert_int_equal(snap_ws_parse(b, ws_build(b, total, wrap, 1), total, &ws), -EINVAL);
	}
	/* no runs at all is a valid (empty) set */
	assert_int_equal(snap_ws_parse(b, ws_build(b, total, good, 0), total, &ws), 0);
	assert_int_equal(ws.pages, 0);
}

static void test_memory_file_private(void **state)
{
	char path[] = "/tmp/ember-snapmem.XXXXXX";
	int fd = mkstemp(path);
	struct guest_mem gm;
	uint8_t b = 0;

	(void)state;
	assert_true(fd >= 0);
	unlink(path);
	assert_int_equal(ftruncate(fd, 1 << 20), 0);
	assert_int_equal(pwrite(fd, "\x5a", 1, 8192), 1);
	assert_int_equal(gm_init_file(&gm, 2 << 20, 2 << 20, 2 << 20, fd), -EINVAL);
	assert_non_null(strstr(err_msg(), "shorter than"));
	assert_int_equal(gm_init_file(&gm, 1 << 20, 1 << 20, 1 << 20, fd), 0);
	assert_int_equal(gm_read(&gm, 8192, &b, 1), 0);
	assert_int_equal(b, 0x5a);
	b = 0x77;
	assert_int_equal(gm_write(&gm, 8192, &b, 1), 0);
	assert_int_equal(pread(fd, &b, 1, 8192), 1);
	assert_int_equal(b, 0x5a); /* the file is never written */
	assert_int_equal(gm_discard(&gm, 8192, 4096), 0);
	gm_destroy(&gm);
	close(fd);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_round_trip),
	    cmocka_unit_test(test_every_truncation_and_flip),
	    cmocka_unit_test(test_version_arch),
	    cmocka_unit_test(test_request_bodies),
	    cmocka_unit_test(test_memory_file_private),
	    cmocka_unit_test(test_working_set_file),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
