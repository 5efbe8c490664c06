/* libFuzzer: loader_load_kernel (ELF / bzImage / UKI detection and loading)
 * and loader_place_initrd on arbitrary input, into 32 MiB of guest RAM. */
#include <stddef.h>
#include <stdint.h>

#include "ember/layout.h"
#include "ember/loader.h"
#include "ember/memory.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct guest_mem gm;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct kernel_image k;
	uint64_t gpa;

	if (!gm.base && gm_init(&gm, 32ULL << 20, LAYOUT_MMIO_GAP_START, LAYOUT_MMIO_GAP_END) < 0)
		__builtin_trap();
	if (loader_load_kernel(&gm, data, size, &k) < 0)
		return 0;
	/* what the loaders promise */
	if (k.load_start < LAYOUT_HIMEM || k.load_end <= k.load_start || k.load_end > gm.total)
		__builtin_trap();
	if (k.entry < k.load_start || k.entry >= k.load_end)
		__builtin_trap();
	if (loader_place_initrd(&gm, &k, data, size, &gpa) == 0 &&
	    (gpa < k.load_end || (gpa & 0xfff) || gpa + size > gm.total ||
	     gpa + size - 1 > k.initrd_addr_max))
		__builtin_trap();
	return 0;
}
