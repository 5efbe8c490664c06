/* The kernel command line and its tg.* parameters:
 *   tg.mem=MiB      guest RAM the test configured
 *   tg.cpus=N       vCPUs the test configured
 *   tg.virtio=N     virtio-mmio slots the test configured (default 0) */
#include "tg.h"

#define CMDLINE_SCAN_MAX (1024 * 1024) /* never read further than this */

static bool is_space(char c)
{
	return c == ' ' || c == '\t' || c == '\n';
}

const char *tg_cmdline_get(const char *key, size_t *len)
{
	size_t klen = strlen(key);
	const char *s = tg.cmdline, *end = tg.cmdline + tg.cmdline_len;

	if (!s)
		return NULL;
	while (s < end) {
		while (s < end && is_space(*s))
			s++;
		const char *tok = s;
		while (s < end && !is_space(*s))
			s++;
		size_t tlen = (size_t)(s - tok);
		if (tlen > klen && !memcmp(tok, key, klen) && tok[klen] == '=') {
			*len = tlen - klen - 1;
			return tok + klen + 1;
		}
	}
	return NULL;
}

static void param_u64(const char *key, bool *has, uint64_t *val)
{
	size_t len;
	const char *v = tg_cmdline_get(key, &len);

	*has = false;
	if (!v)
		return;
	if (tg_parse_u64(v, len, val))
		*has = true;
	else
		tg.param_error = true;
}

void tg_parse_cmdline(void)
{
	const struct setup_header *h = &tg.bp->hdr;
	uint64_t ptr = h->cmd_line_ptr | ((uint64_t)tg.bp->ext_cmd_line_ptr << 32);

	if (!ptr || ptr >= 4 * GiB - CMDLINE_SCAN_MAX)
		return;
	tg.cmdline = (const char *)ptr;
	tg.cmdline_len = tg_strnlen(tg.cmdline, CMDLINE_SCAN_MAX);
	param_u64("tg.mem", &tg.has_mem, &tg.mem_mib);
	param_u64("tg.cpus", &tg.has_cpus, &tg.cpus);
	param_u64("tg.virtio", &tg.has_virtio, &tg.virtio);
	if (!tg.has_virtio)
		tg.virtio = 0;
}
