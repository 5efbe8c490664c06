/* The typed VM configuration: defaults, frees and validation shared by the
 * CLI, the HTTP API and --config-file. Messages name the field. */
#include "ember/config.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <net/if.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "ember/arch.h"
#include "ember/error.h"
#include "ember/log.h"

void config_init(struct vm_config *c)
{
	memset(c, 0, sizeof(*c));
	c->machine.vcpu_count = 1;
	c->machine.mem_size_mib = 128;
	c->console.kind = CONSOLE_STDIO;
}

void boot_source_cfg_free(struct boot_source_cfg *b)
{
	free(b->kernel_path);
	free(b->initrd_path);
	free(b->cmdline);
	memset(b, 0, sizeof(*b));
}

void drive_cfg_free(struct drive_cfg *d)
{
	free(d->path);
	free(d->partuuid);
	memset(d, 0, sizeof(*d));
}

void net_cfg_free(struct net_cfg *n)
{
	free(n->host_dev_name);
	free(n->passt_socket);
	memset(n, 0, sizeof(*n));
}

void vsock_cfg_free(struct vsock_cfg *v)
{
	free(v->uds_path);
	memset(v, 0, sizeof(*v));
}

void logger_cfg_free(struct logger_cfg *l)
{
	free(l->module);
	memset(l, 0, sizeof(*l));
}

void metrics_cfg_free(struct metrics_cfg *m)
{
	free(m->properties_json);
	memset(m, 0, sizeof(*m));
}

void config_free(struct vm_config *c)
{
	boot_source_cfg_free(&c->boot);
	free(c->machine.cpu_template_name);
	for (int i = 0; i < c->ndrives && i < CFG_MAX_DRIVES; i++)
		drive_cfg_free(&c->drives[i]);
	for (int i = 0; i < c->nnets && i < CFG_MAX_NETS; i++)
		net_cfg_free(&c->nets[i]);
	for (int i = 0; i < c->npmems && i < CFG_MAX_PMEM; i++)
		pmem_cfg_free(&c->pmems[i]);
	vsock_cfg_free(&c->vsock);
	free(c->console.path);
	free(c->cpu_template_json);
	free(c->log_path);
	free(c->metrics_path);
	logger_cfg_free(&c->logger);
	metrics_cfg_free(&c->metrics);
	for (int i = 0; c->oneshot.argv && i < c->oneshot.argc; i++)
		free(c->oneshot.argv[i]);
	free(c->oneshot.argv);
	for (int i = 0; i < c->oneshot.ncopy && i < CFG_ONESHOT_MAX_COPY; i++)
		free(c->oneshot.copy[i]);
	free(c->oneshot.modules_dir);
	free(c->oneshot.keep_initrd);
	config_init(c);
}

int config_check_machine(const struct machine_cfg *m)
{
	if (m->vcpu_count == 0 || m->vcpu_count > CFG_MAX_VCPUS ||
	    (m->smt && m->vcpu_count > 1 && (m->vcpu_count & 1)))
		return err_set(
		    EINVAL,
		    "The number of vCPUs must be greater than 0, less than %d and must be 1 "
		    "or an even number if SMT is enabled (vcpu_count = %u).",
		    CFG_MAX_VCPUS, m->vcpu_count);
	if (m->mem_size_mib == 0 || (m->huge_pages && (m->mem_size_mib & 1)))
		return err_set(
		    EINVAL,
		    "The memory size (MiB) is either 0, or not a multiple of the configured "
		    "page size (mem_size_mib = %llu).",
		    (unsigned long long)m->mem_size_mib);
	if (m->mem_size_mib < CFG_MIN_MEM_MIB || m->mem_size_mib > CFG_MAX_MEM_MIB)
		return err_set(EINVAL, "mem_size_mib must be between %d and %llu (got %llu).",
			       CFG_MIN_MEM_MIB, (unsigned long long)CFG_MAX_MEM_MIB,
			       (unsigned long long)m->mem_size_mib);
	if (m->huge_pages && m->huge_pages_transparent)
		return err_set(EINVAL, "huge_pages: choose one of \"2M\" and \"Transparent\".");
	return 0;
}

static long read_sys_long(const char *path)
{
	char buf[32];
	ssize_t n;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return -1;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return -1;
	buf[n] = 0;
	return strtol(buf, NULL, 10);
}

#define HUGEPAGES_2M_SYSFS "/sys/kernel/mm/hugepages/hugepages-2048kB/"

int config_check_machine_host(const struct machine_cfg *m)
{
	int r;

	if ((r = arch_check_cpu_template(m->cpu_template_name)) < 0)
		return r;
	if (m->huge_pages) {
		long nfree = read_sys_long(HUGEPAGES_2M_SYSFS "free_hugepages");
		long resv = read_sys_long(HUGEPAGES_2M_SYSFS "resv_hugepages");
		uint64_t need = m->mem_size_mib / 2;

		if (nfree < 0)
			return err_set(EINVAL, "huge_pages \"2M\": this host has no 2 MiB hugetlb "
					       "pages (" HUGEPAGES_2M_SYSFS " is missing)");
		if (resv > 0)
			nfree -= resv;
		if (nfree < 0 || (uint64_t)nfree < need)
			return err_set(EINVAL,
				       "huge_pages \"2M\": the guest needs %llu free 2 MiB hugetlb "
				       "pages, this host has %ld (reserve them in "
				       "/proc/sys/vm/nr_hugepages)",
				       (unsigned long long)need, nfree < 0 ? 0 : nfree);
	}
	return 0;
}

int config_check_id(const char *id)
{
	size_t n = id ? strlen(id) : 0;

	if (n == 0)
		return err_set(EINVAL, "The ID cannot be empty.");
	if (n > CFG_ID_MAX)
		return err_set(EINVAL, "API Resource IDs can be at most %d characters long.",
			       CFG_ID_MAX);
	for (size_t i = 0; i < n; i++) {
		char c = id[i];
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '_'))
			return err_set(EINVAL, "API Resource IDs can only contain alphanumeric "
					       "characters and underscores.");
	}
	return 0;
}

static int check_bucket(const struct token_bucket_cfg *b, const char *field, const char *name)
{
	if (!b->present)
		return 0;
	/* A bucket with size 0 or refill_time 0 is disabled (Firecracker). The
	 * refill rate size/refill_time must be computable without overflow. */
	if (b->refill_time_ms > UINT64_MAX / 1000000)
		return err_set(EINVAL, "%s.%s.refill_time: too large", field, name);
	return 0;
}

int config_check_rate_limiter(const struct rate_limiter_cfg *rl, const char *field)
{
	int r = check_bucket(&rl->bandwidth, field, "bandwidth");

	return r ? r : check_bucket(&rl->ops, field, "ops");
}

int config_check_drive(const struct drive_cfg *d)
{
	int r = config_check_id(d->id);

	if (r)
		return err_wrap(EINVAL, "drive_id");
	if (!d->path || !*d->path)
		return err_set(EINVAL, "drive %s: path_on_host is required", d->id);
	if (strlen(d->path) >= PATH_MAX)
		return err_set(EINVAL, "drive %s: path_on_host is too long", d->id);
	if (d->io_async && blk_aio_supported() < 0)
		return err_set(EINVAL, "drive %s: %s", d->id, err_msg());
	return config_check_rate_limiter(&d->rate_limiter, "rate_limiter");
}

int config_check_net(const struct net_cfg *n)
{
	int r = config_check_id(n->id);

	if (r)
		return err_wrap(EINVAL, "iface_id");
	if (n->passt || n->passt_socket) {
		if (n->host_dev_name || (n->passt && n->passt_socket))
			return err_set(EINVAL,
				       "network interface %s: one backend only (host_dev_name, "
				       "passt or passt_socket)",
				       n->id);
		if (n->passt_socket &&
		    (!*n->passt_socket ||
		     strlen(n->passt_socket) >= sizeof(((struct sockaddr_un *)0)->sun_path)))
			return err_set(
			    EINVAL, "network interface %s: passt_socket must be 1..%zu characters",
			    n->id, sizeof(((struct sockaddr_un *)0)->sun_path) - 1);
		if (n->npasst_fwd < 0 || n->npasst_fwd > NET_PASST_MAX_FWD ||
		    (n->npasst_fwd && !n->passt))
			return err_set(EINVAL, "network interface %s: bad passt forwards", n->id);
	} else if (!n->host_dev_name || !*n->host_dev_name) {
		return err_set(EINVAL, "network interface %s: host_dev_name is required", n->id);
	} else if (strlen(n->host_dev_name) >= IFNAMSIZ || strchr(n->host_dev_name, '/'))
		return err_set(EINVAL,
			       "network interface %s: host_dev_name \"%s\" is not a valid "
			       "interface name (at most %d characters, no '/')",
			       n->id, n->host_dev_name, IFNAMSIZ - 1);
	if (n->has_mac && (n->mac[0] & 1))
		return err_set(EINVAL, "network interface %s: guest_mac must be a unicast address",
			       n->id);
	if (n->mtu && (n->mtu < 68 || n->mtu > 65535))
		return err_set(EINVAL, "network interface %s: mtu must be between 68 and 65535",
			       n->id);
	if ((r = config_check_rate_limiter(&n->rx_rate_limiter, "rx_rate_limiter")) ||
	    (r = config_check_rate_limiter(&n->tx_rate_limiter, "tx_rate_limiter")))
		return r;
	return 0;
}

int config_check_vsock(const struct vsock_cfg *v)
{
	struct sockaddr_un sun;

	if (!v->present)
		return 0;
	if (v->guest_cid < 3 || v->guest_cid == UINT32_MAX)
		return err_set(EINVAL, "vsock: guest_cid must be at least 3 (got %u)",
			       v->guest_cid);
	if (!v->uds_path || !*v->uds_path)
		return err_set(EINVAL, "vsock: uds_path is required");
	/* Guest-initiated connections go to "<uds_path>_<port>" (up to 11 more bytes). */
	if (strlen(v->uds_path) + 11 >= sizeof(sun.sun_path))
		return err_set(EINVAL, "vsock: uds_path is too long (at most %zu bytes)",
			       sizeof(sun.sun_path) - 12);
	return 0;
}

int config_check_balloon(const struct balloon_cfg *b, const struct machine_cfg *m)
{
	if (!b->present)
		return 0;
	if (m && (uint64_t)b->amount_mib > m->mem_size_mib)
		return err_set(
		    EINVAL, "balloon: amount_mib (%u) is larger than the guest memory (%llu MiB)",
		    b->amount_mib, (unsigned long long)m->mem_size_mib);
	return 0;
}

static const char *file_type_name(mode_t m)
{
	if (S_ISDIR(m))
		return "a directory";
	if (S_ISFIFO(m))
		return "a FIFO";
	if (S_ISSOCK(m))
		return "a socket";
	if (S_ISCHR(m))
		return "a character device";
	if (S_ISBLK(m))
		return "a block device";
	return "not a regular file";
}

static int check_file_type(const struct stat *st, enum host_file_kind kind, const char *path,
			   const char *field)
{
	if (S_ISREG(st->st_mode) || (kind == HOST_FILE_DISK && S_ISBLK(st->st_mode)))
		return 0;
	return err_set(S_ISDIR(st->st_mode) ? EISDIR : EINVAL, "%s: %s is %s; %s is expected",
		       field, path, file_type_name(st->st_mode),
		       kind == HOST_FILE_DISK ? "a regular file or a block device"
					      : "a regular file");
}

int config_check_file(const char *path, bool want_write, enum host_file_kind kind,
		      const char *field)
{
	struct stat st;
	int fd, e, r;

	/* The type first (a socket cannot be opened at all), then the access
	 * with a non-blocking open, then the type of what was opened. */
	if (stat(path, &st) < 0) {
		e = errno;
		return err_set(e, "%s: cannot open %s: %s", field, path, strerror(e));
	}
	if ((r = check_file_type(&st, kind, path, field)) < 0)
		return r;
	fd = open(path, (want_write ? O_RDWR : O_RDONLY) | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
	if (fd < 0) {
		e = errno;
		return err_set(e, "%s: cannot open %s: %s", field, path, strerror(e));
	}
	e = fstat(fd, &st) < 0 ? errno : 0;
	close(fd);
	if (e)
		return err_set(e, "%s: cannot stat %s: %s", field, path, strerror(e));
	return check_file_type(&st, kind, path, field);
}

static int validate_drives(const struct vm_config *c)
{
	int roots = 0, r;

	if (c->ndrives < 0 || c->ndrives > CFG_MAX_DRIVES)
		return err_set(EINVAL, "too many drives (at most %d)", CFG_MAX_DRIVES);
	for (int i = 0; i < c->ndrives; i++) {
		const struct drive_cfg *d = &c->drives[i];

		if ((r = config_check_drive(d)) < 0)
			return r;
		for (int j = 0; j < i; j++)
			if (strcmp(c->drives[j].id, d->id) == 0)
				return err_set(EINVAL, "drive id %s is used twice", d->id);
		if (d->is_root && ++roots > 1)
			return err_set(EINVAL, "A root block device already exists! (drive %s)",
				       d->id);
		if ((r = config_check_file(d->path, !d->read_only, HOST_FILE_DISK,
					   "path_on_host")) < 0)
			return err_wrap(-r, "drive %s", d->id);
	}
	return 0;
}

void pmem_cfg_free(struct pmem_cfg *p)
{
	free(p->path);
	p->path = NULL;
}

int config_check_pmem(const struct pmem_cfg *p)
{
	int r;

	if ((r = config_check_id(p->id)) < 0)
		return err_wrap(-r, "pmem id");
	if (!p->path || !*p->path)
		return err_set(EINVAL, "pmem %s: path_on_host is empty", p->id);
	return config_check_rate_limiter(&p->rate_limiter, "rate_limiter");
}

int config_check_device_count(const struct vm_config *c)
{
	int n = c->ndrives + c->nnets + c->npmems + (c->vsock.present ? 1 : 0) +
		(c->balloon.present ? 1 : 0) + (c->entropy.present ? 1 : 0) +
		(c->memory_hotplug.present ? 1 : 0);

	if (n > arch_layout.virtio_max)
		return err_set(
		    EINVAL,
		    "%d virtio devices (drives, network interfaces, pmem, vsock, balloon, "
		    "entropy, memory hotplug) configured; at most %d fit",
		    n, arch_layout.virtio_max);
	return 0;
}

static int validate_pmems(const struct vm_config *c)
{
	int r;

	if (c->npmems < 0 || c->npmems > CFG_MAX_PMEM)
		return err_set(EINVAL, "too many pmem devices (at most %d)", CFG_MAX_PMEM);
	for (int i = 0; i < c->npmems; i++) {
		const struct pmem_cfg *p = &c->pmems[i];

		if ((r = config_check_pmem(p)) < 0)
			return r;
		for (int j = 0; j < i; j++)
			if (strcmp(c->pmems[j].id, p->id) == 0)
				return err_set(EINVAL, "pmem id %s is used twice", p->id);
		for (int j = 0; j < c->ndrives && p->root_device; j++)
			if (c->drives[j].is_root)
				return err_set(EINVAL,
					       "pmem %s: a root device already exists (drive %s)",
					       p->id, c->drives[j].id);
		for (int j = 0; j < i && p->root_device; j++)
			if (c->pmems[j].root_device)
				return err_set(EINVAL,
					       "pmem %s: a root device already exists (pmem %s)",
					       p->id, c->pmems[j].id);
		if ((r = config_check_file(p->path, !p->read_only, HOST_FILE_REGULAR,
					   "path_on_host")) < 0)
			return err_wrap(-r, "pmem %s", p->id);
	}
	return 0;
}

static int validate_nets(const struct vm_config *c)
{
	int r;

	if (c->nnets < 0 || c->nnets > CFG_MAX_NETS)
		return err_set(EINVAL, "too many network interfaces (at most %d)", CFG_MAX_NETS);
	for (int i = 0; i < c->nnets; i++) {
		const struct net_cfg *n = &c->nets[i];

		if ((r = config_check_net(n)) < 0)
			return r;
		for (int j = 0; j < i; j++) {
			const struct net_cfg *o = &c->nets[j];
			if (strcmp(o->id, n->id) == 0)
				return err_set(EINVAL, "network interface id %s is used twice",
					       n->id);
			if (o->host_dev_name && n->host_dev_name &&
			    strcmp(o->host_dev_name, n->host_dev_name) == 0)
				return err_set(EINVAL, "The host device name %s is already in use.",
					       n->host_dev_name);
			if (o->has_mac && n->has_mac && memcmp(o->mac, n->mac, 6) == 0)
				return err_set(EINVAL, "The MAC address of %s is already in use.",
					       n->id);
		}
	}
	return 0;
}

_Static_assert(MMDS_MAX_IFACES == CFG_MAX_NETS, "every interface can serve the MMDS");

int config_check_mmds(const struct mmds_cfg *mc, const struct vm_config *c)
{
	if (mc->has_ipv4 && !mmds_ipv4_valid(mc->ipv4))
		return err_set(EINVAL, "The MMDS IPv4 address is not link local.");
	if (mc->nifaces == 0)
		return err_set(EINVAL, "The list of network interface IDs that allow forwarding "
				       "MMDS requests is empty.");
	for (int i = 0; i < mc->nifaces; i++) {
		int k = 0;

		while (k < c->nnets && strcmp(c->nets[k].id, mc->ifaces[i]) != 0)
			k++;
		if (k == c->nnets)
			return err_set(EINVAL,
				       "The list of network interface IDs provided contains at "
				       "least one ID that does not correspond to any existing "
				       "network interface.");
	}
	return 0;
}

int config_validate(const struct vm_config *c)
{
	int r;

	if (!c->boot.kernel_path || !*c->boot.kernel_path)
		return err_set(EINVAL, "Cannot start microvm without kernel configuration.");
	if ((r = config_check_machine(&c->machine)) < 0)
		return err_wrap(-r, "machine-config");
	/* What the host must provide (the API refuses it at PUT time already). */
	if ((r = config_check_machine_host(&c->machine)) < 0)
		return err_wrap(-r, "machine-config");
	if ((r = config_check_file(c->boot.kernel_path, false, HOST_FILE_REGULAR,
				   "kernel_image_path")) < 0)
		return r;
	if (c->boot.initrd_path && (r = config_check_file(c->boot.initrd_path, false,
							  HOST_FILE_REGULAR, "initrd_path")) < 0)
		return r;
	if ((r = validate_drives(c)) < 0 || (r = validate_nets(c)) < 0 ||
	    (r = validate_pmems(c)) < 0 || (r = config_check_device_count(c)) < 0)
		return r;
	if (c->memory_hotplug.present && (r = virtio_mem_check_cfg(&c->memory_hotplug)) < 0)
		return err_wrap(-r, "memory-hotplug");
	if ((r = config_check_vsock(&c->vsock)) < 0)
		return r;
	if ((r = config_check_balloon(&c->balloon, &c->machine)) < 0)
		return r;
	if (c->console.kind == CONSOLE_FILE && (!c->console.path || !*c->console.path))
		return err_set(EINVAL, "console: a file console needs a path");
	if (c->mmds.present && (r = config_check_mmds(&c->mmds, c)) < 0)
		return err_wrap(-r, "mmds-config");
	return 0;
}
