/* Unified Kernel Image (PE/COFF) parser: placeholder until issue 7. */
#include "ember/loader.h"

#include <errno.h>
#include <string.h>

#include "ember/error.h"

int loader_parse_uki(const uint8_t *buf, size_t len, struct uki_image *out)
{
	memset(out, 0, sizeof(*out));
	return err_set(ENOTSUP, "PE image without a bzImage setup header: UKI support not yet "
				"implemented");
}
