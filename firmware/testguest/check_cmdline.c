/* The command line: present, NUL-terminated within cmdline_size, and the
 * tg.* parameters the test passed are well formed. */
#include "tg.h"

static void check_cmdline(void)
{
	if (!tg.bp)
		return;
	if (!tg_expect(tg.cmdline != NULL, "cmdline.present", "cmd_line_ptr=%#x",
		       tg.bp->hdr.cmd_line_ptr))
		return;
	uint32_t max = tg.bp->hdr.cmdline_size;
	/* Print at most 200 characters; the e2e test compares them. */
	int shown = tg.cmdline_len > 200 ? 200 : (int)tg.cmdline_len;
	char text[201];
	memcpy(text, tg.cmdline, (size_t)shown);
	text[shown] = '\0';
	tg_expect(tg.cmdline_len <= max, "cmdline.length", "len=%zu cmdline_size=%u",
		  tg.cmdline_len, max);
	tg_ok("cmdline.text", "\"%s\"%s", text, tg.cmdline_len > 200 ? "..." : "");
	tg_expect(!tg.param_error && tg.has_mem && tg.has_cpus, "cmdline.params",
		  "tg.mem=%lu%s tg.cpus=%lu%s tg.virtio=%lu%s", tg.mem_mib, tg.has_mem ? "" : "(missing)",
		  tg.cpus, tg.has_cpus ? "" : "(missing)", tg.virtio,
		  tg.param_error ? " (malformed tg.* value)" : "");
}
TG_CHECK(250, check_cmdline);
