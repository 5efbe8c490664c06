/* libFuzzer: the snapshot state-file container (src/vmm/snapshot_file.c) and
 * the /snapshot request bodies (src/vmm/snapshot_json.c). First byte:
 *   0: the bytes as a state file;
 *   1: the bytes as a body, wrapped in a valid header with every section's
 *      CRC fixed up, so the fuzzer gets past the checksums into the section
 *      walk and the fixed-size section readers;
 *   2/3: PUT /snapshot/create / load bodies;
 *   4: a working-set file (snap_ws_parse), with its CRC fixed up when the
 *      header fits so the run checks are reached. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "ember/snapshot.h"
#include "ember/snapshot_file.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void put32(uint8_t *p, uint32_t v)
{
	memcpy(p, &v, 4);
}

static volatile uint8_t sink;

static void read_sections(const struct snap_file *f)
{
	uint8_t buf[512];

	for (uint32_t t = 0; t <= SNAP_TAG_MAX; t++) {
		(void)snap_count(f, t);
		for (uint32_t i = 0; i < 4; i++) {
			const struct snap_section *s = snap_find(f, t, i);
			if (s && s->len) {
				uint8_t sum = 0;
				for (uint32_t k = 0; k < s->len; k++)
					sum += s->data[k];
				sink = sum; /* every byte is inside the buffer (ASan) */
			}
			(void)snap_get_fixed(f, t, i, buf, 1 + (t * 37 + i) % sizeof(buf), "x");
		}
	}
}

static void wrapped(const uint8_t *body, size_t len)
{
	uint8_t *b = malloc(SNAP_HEADER_SIZE + len + 1);
	struct snap_file *f = malloc(sizeof(*f));
	size_t off = SNAP_HEADER_SIZE;
	uint64_t blen = len;

	if (!b || !f)
		goto out;
	memcpy(b + SNAP_HEADER_SIZE, body, len);
	/* fix each section's CRC where its header and payload fit */
	while (off + SNAP_SECTION_HEADER <= SNAP_HEADER_SIZE + len) {
		uint32_t slen;
		memcpy(&slen, b + off + 8, 4);
		if (slen > SNAP_HEADER_SIZE + len - off - SNAP_SECTION_HEADER)
			break;
		put32(b + off + 12, (uint32_t)crc32(0, b + off + SNAP_SECTION_HEADER, slen));
		off += SNAP_SECTION_HEADER + ((slen + 7ull) & ~7ull);
	}
	memcpy(b, SNAP_MAGIC, 8);
	put32(b + 8, SNAP_VERSION);
	put32(b + 12, SNAP_ARCH_X86_64);
	memcpy(b + 16, &blen, 8);
	put32(b + 24, (uint32_t)crc32(0, b + SNAP_HEADER_SIZE, (uInt)len));
	put32(b + 28, (uint32_t)crc32(0, b, 28));
	if (snap_parse(b, SNAP_HEADER_SIZE + len, f) == 0)
		read_sections(f);
out:
	free(b);
	free(f);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct snap_file *f;

	if (size < 1 || size > (1u << 20))
		return 0;
	if (data[0] & 4) {
		uint8_t *b = malloc(size);
		struct snap_ws ws;
		uint64_t total = (uint64_t)(data[0] >> 3) << 20;

		if (!b)
			return 0;
		memcpy(b, data + 1, size - 1);
		if (size - 1 >= 32 && (data[0] & 2))
			put32(b + 28, (uint32_t)crc32(0, b + 32, (uInt)(size - 1 - 32)));
		if (snap_ws_parse(b, size - 1, total, &ws) == 0)
			for (uint32_t i = 0; i < ws.nruns; i++) {
				uint64_t first, count;
				bool written;
				snap_ws_run(&ws, i, &first, &count, &written);
				sink = (uint8_t)(first + count);
			}
		free(b);
		return 0;
	}
	switch (data[0] & 3) {
	case 0:
		f = malloc(sizeof(*f));
		if (f && snap_parse(data + 1, size - 1, f) == 0)
			read_sections(f);
		free(f);
		break;
	case 1:
		wrapped(data + 1, size - 1);
		break;
	case 2: {
		struct snapshot_create_req q;
		if (snapshot_parse_create((const char *)data + 1, size - 1, &q) == 0)
			snapshot_create_req_free(&q);
		break;
	}
	default: {
		struct snapshot_load_req q;
		if (snapshot_parse_load((const char *)data + 1, size - 1, &q) == 0)
			snapshot_load_req_free(&q);
		break;
	}
	}
	return 0;
}
