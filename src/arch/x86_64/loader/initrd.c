/* initrd placement on x86: below the MMIO gap and the kernel's
 * initrd_addr_max, above the kernel's footprint (loader_initrd_fit places
 * it, src/arch/initrd.c). */
#include "ember/loader.h"

#include "ember/layout.h"
#include "ember/util.h"
#include "loader_priv.h"

int loader_initrd_gpa(const struct guest_mem *gm, const struct kernel_image *k, size_t len,
		      uint64_t *gpa)
{
	uint64_t top = loader_low_ram_end(gm);

	if (k->initrd_addr_max < top - 1)
		top = k->initrd_addr_max + 1;
	return loader_initrd_fit(gm, MAX(k->load_end, LAYOUT_HIMEM), top, "", len, gpa);
}
