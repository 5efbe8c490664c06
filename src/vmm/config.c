/* The typed VM configuration: defaults, release, whole-config validation.
 * (JSON mapping for the API and --config-file lives in config_json.c.) */
#include "ember/config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ember/error.h"

void config_init(struct vm_config *c)
{
	memset(c, 0, sizeof(*c));
	c->machine.vcpu_count = 1;
	c->machine.mem_size_mib = 128;
	c->console.kind = CONSOLE_STDIO;
}

static void free_rl(struct rate_limiter_cfg *r)
{
	(void)r;
}

void config_free(struct vm_config *c)
{
	free(c->boot.kernel_path);
	free(c->boot.initrd_path);
	free(c->boot.cmdline);
	free(c->machine.cpu_template_name);
	for (int i = 0; i < c->ndrives; i++) {
		free(c->drives[i].path);
		free(c->drives[i].partuuid);
		free_rl(&c->drives[i].rate_limiter);
	}
	for (int i = 0; i < c->nnets; i++)
		free(c->nets[i].host_dev_name);
	free(c->vsock.uds_path);
	free(c->console.path);
	free(c->cpu_template_json);
	free(c->log_path);
	free(c->metrics_path);
	memset(c, 0, sizeof(*c));
}

static int check_readable(const char *field, const char *path, int mode)
{
	if (access(path, mode) < 0)
		return err_set(errno, "%s %s: %s", field, path, strerror(errno));
	return 0;
}

int config_validate(const struct vm_config *c)
{
	int r;

	if (!c->boot.kernel_path)
		return err_set(EINVAL, "boot-source: kernel_image_path is required");
	if ((r = check_readable("kernel", c->boot.kernel_path, R_OK)) < 0)
		return r;
	if (c->boot.initrd_path && (r = check_readable("initrd", c->boot.initrd_path, R_OK)) < 0)
		return r;
	if (c->machine.vcpu_count < 1 || c->machine.vcpu_count > CFG_MAX_VCPUS)
		return err_set(EINVAL, "machine-config: vcpu_count must be 1..%d", CFG_MAX_VCPUS);
	if (c->machine.mem_size_mib < CFG_MIN_MEM_MIB || c->machine.mem_size_mib > CFG_MAX_MEM_MIB)
		return err_set(EINVAL, "machine-config: mem_size_mib must be %d..%llu", CFG_MIN_MEM_MIB,
			       CFG_MAX_MEM_MIB);
	for (int i = 0; i < c->ndrives; i++) {
		for (int j = 0; j < i; j++)
			if (strcmp(c->drives[i].id, c->drives[j].id) == 0)
				return err_set(EINVAL, "drives: duplicate drive_id '%s'", c->drives[i].id);
		if ((r = check_readable("drive", c->drives[i].path,
					c->drives[i].read_only ? R_OK : R_OK | W_OK)) < 0)
			return r;
	}
	return 0;
}
