/* initrd placement for every architecture: page-aligned, as high as the
 * machine and the kernel allow (the limits come from the architecture's
 * loader_initrd_gpa), then copied into guest memory. */
#include "ember/loader.h"

#include <errno.h>

#include "ember/error.h"
#include "ember/util.h"

#define PAGE 4096ULL

int loader_initrd_fit(const struct guest_mem *gm, uint64_t bottom, uint64_t top,
		      const char *top_name, size_t len, uint64_t *gpa)
{
	if (len == 0)
		return err_set(EINVAL, "initrd is empty");
	top = ALIGN_DOWN(top, PAGE);
	bottom = ALIGN_UP(bottom, PAGE);
	if (bottom > top || (uint64_t)len > top - bottom)
		return err_set(
		    ENOMEM,
		    "initrd of %llu MiB does not fit in guest RAM (%llu MiB free between "
		    "the kernel end %#llx and %s%#llx)",
		    (unsigned long long)(((uint64_t)len + MiB - 1) / MiB),
		    (unsigned long long)(bottom > top ? 0 : (top - bottom) >> 20),
		    (unsigned long long)bottom, top_name, (unsigned long long)top);
	*gpa = ALIGN_DOWN(top - len, PAGE);
	if (!gm_valid(gm, *gpa, len))
		return err_set(EFAULT, "initrd at %#llx outside guest RAM",
			       (unsigned long long)*gpa);
	return 0;
}

int loader_place_initrd(struct guest_mem *gm, const struct kernel_image *k, const uint8_t *buf,
			size_t len, uint64_t *gpa)
{
	uint64_t addr;
	int r = loader_initrd_gpa(gm, k, len, &addr);

	if (r < 0)
		return r;
	if (gm_populate(gm, addr, len) < 0 || gm_write(gm, addr, buf, len) < 0)
		return err_set(EFAULT, "initrd at %#llx outside guest RAM",
			       (unsigned long long)addr);
	*gpa = addr;
	return 0;
}
