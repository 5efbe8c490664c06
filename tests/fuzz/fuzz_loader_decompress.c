/* libFuzzer: kernel payload decompression (gzip/xz/lz4 legacy/zstd) with an
 * 8 MiB bound, then the ELF loader on whatever comes out. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "ember/layout.h"
#include "ember/loader.h"
#include "ember/memory.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FUZZ_MAX_OUT (8u << 20)

static struct guest_mem gm;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct kernel_image k;
	uint8_t *out;
	size_t out_len;

	if (!gm.base && gm_init(&gm, 32ULL << 20, LAYOUT_MMIO_GAP_START, LAYOUT_MMIO_GAP_END) < 0)
		__builtin_trap();
	if (loader_decompress(data, size, FUZZ_MAX_OUT, &out, &out_len) < 0)
		return 0;
	if (out_len > FUZZ_MAX_OUT)
		__builtin_trap();
	if (loader_is_elf(out, out_len))
		(void)loader_load_elf(&gm, out, out_len, &k);
	free(out);
	return 0;
}
