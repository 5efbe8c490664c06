/* libFuzzer: loader_parse_uki (PE/COFF validation and section lookup). */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "ember/loader.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void inside(const uint8_t *data, size_t size, const uint8_t *p, size_t len)
{
	if (len == 0)
		return;
	if (!p || p < data || (size_t)(p - data) > size || len > size - (size_t)(p - data))
		__builtin_trap();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct uki_image u;
	uint8_t *rd;
	size_t rd_len;

	if (loader_parse_uki(data, size, &u) < 0)
		return 0;
	inside(data, size, u.linux_sec, u.linux_len);
	inside(data, size, u.initrd_sec, u.initrd_len);
	inside(data, size, u.ucode_sec, u.ucode_len);
	inside(data, size, u.cmdline_sec, u.cmdline_len);
	inside(data, size, u.osrel_sec, u.osrel_len);
	inside(data, size, u.uname_sec, u.uname_len);
	if (!loader_is_bzimage(u.linux_sec, u.linux_len))
		__builtin_trap();
	if (loader_uki_initrd(&u, &rd, &rd_len) == 0)
		free(rd);
	return 0;
}
