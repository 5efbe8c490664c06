/* `ember run` argument parsing: every bad input gets one clear line. */
#include "ember/cli.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ember/args.h"
#include "ember/error.h"
#include "ember/log.h"
#include "ember/util.h"

enum {
	OPT_KERNEL = 256,
	OPT_INITRD,
	OPT_CMDLINE,
	OPT_MEM,
	OPT_CPUS,
	OPT_CPU_TEMPLATE,
	OPT_CONSOLE,
	OPT_DECOMPRESS,
	OPT_DISK,
	OPT_NET,
	OPT_VSOCK,
	OPT_BALLOON,
	OPT_ENTROPY,
	OPT_PMEM,
	OPT_MEM_HOTPLUG,
	OPT_LOG_LEVEL,
	OPT_HELP,
	OPT_CMDLINE_OVERRIDE,
	OPT_BOOT_TIMER,
	OPT_SECCOMP_FILTER,
	OPT_NO_SECCOMP,
	OPT_MEASURED_BOOT,
	OPT_COPY,
	OPT_MODULES,
	OPT_KEEP_INITRD,
};

static const struct option run_opts[] = {
    {"kernel", required_argument, NULL, OPT_KERNEL},
    {"initrd", required_argument, NULL, OPT_INITRD},
    {"cmdline", required_argument, NULL, OPT_CMDLINE},
    {"mem", required_argument, NULL, OPT_MEM},
    {"cpus", required_argument, NULL, OPT_CPUS},
    {"cpu-template", required_argument, NULL, OPT_CPU_TEMPLATE},
    {"console", required_argument, NULL, OPT_CONSOLE},
    {"kernel-decompress", no_argument, NULL, OPT_DECOMPRESS},
    {"cmdline-override", no_argument, NULL, OPT_CMDLINE_OVERRIDE},
    {"measured-boot", no_argument, NULL, OPT_MEASURED_BOOT},
    {"disk", required_argument, NULL, OPT_DISK},
    {"net", required_argument, NULL, OPT_NET},
    {"vsock", required_argument, NULL, OPT_VSOCK},
    {"balloon", required_argument, NULL, OPT_BALLOON},
    {"entropy", optional_argument, NULL, OPT_ENTROPY},
    {"pmem", required_argument, NULL, OPT_PMEM},
    {"mem-hotplug", required_argument, NULL, OPT_MEM_HOTPLUG},
    {"log-level", required_argument, NULL, OPT_LOG_LEVEL},
    {"boot-timer", no_argument, NULL, OPT_BOOT_TIMER},
    {"seccomp-filter", required_argument, NULL, OPT_SECCOMP_FILTER},
    {"no-seccomp", no_argument, NULL, OPT_NO_SECCOMP},
    {"copy", required_argument, NULL, OPT_COPY},
    {"modules", required_argument, NULL, OPT_MODULES},
    {"keep-initrd", required_argument, NULL, OPT_KEEP_INITRD},
    {"help", no_argument, NULL, OPT_HELP},
    {NULL, 0, NULL, 0},
};

void cli_print_run_help(void)
{
	printf(
	    "usage: ember run --kernel PATH [options]\n"
	    "       ember run --kernel PATH [options] -- CMD [ARGS...]   (one-shot run)\n"
	    "  --kernel PATH          bzImage, ELF vmlinux or Unified Kernel Image\n"
	    "  --initrd PATH          initial ramdisk\n"
	    "  --cmdline STR          kernel command line (default: console=ttyS0 reboot=k "
	    "panic=1)\n"
	    "  --cmdline-override     with a UKI: use --cmdline instead of its .cmdline\n"
	    "  --mem SIZE             guest RAM, e.g. 256M, 2G (default 128M)\n"
	    "  --cpus N               vCPUs, 1-%d (default 1)\n"
	    "  --cpu-template FILE    custom CPU template (Firecracker JSON format)\n"
	    "  --console KIND         stdio (default), file:PATH or none\n"
	    "  --kernel-decompress    decompress a bzImage on the host, boot its vmlinux\n"
	    "  --measured-boot        log SHA-256 of kernel, initrd, cmdline (always for a UKI)\n"
	    "  --disk PATH[,ro][,id=NAME][,cache=writeback|unsafe][,io=async|sync]\n"
	    "                               virtio-blk drive (repeatable; first is vda;\n"
	    "                               unsafe: no flush offered)\n"
	    "  --net TAP[,mac=MAC]    virtio-net on an existing TAP device (repeatable)\n"
	    "  --net passt[,mac=MAC][,forward=HOSTPORT:GUESTPORT]...\n"
	    "                               virtio-net through a passt ember starts (no root\n"
	    "                               needed; forward: host TCP port to the guest's)\n"
	    "  --net passt-socket=PATH[,mac=MAC]   virtio-net through a running passt\n"
	    "  --vsock CID:PATH       virtio-vsock with the Unix socket PATH\n"
	    "  --balloon MIB[,deflate_on_oom][,stats=SECONDS]   virtio-balloon, target MIB\n"
	    "  --entropy[=BYTES]      virtio-rng from the host's getrandom(), at most BYTES/s\n"
	    "  --pmem PATH[,ro][,root][,id=NAME]   virtio-pmem: PATH mapped into guest memory\n"
	    "                               (repeatable; root: root=/dev/pmemN on the cmdline)\n"
	    "  --mem-hotplug SIZE[,block=SIZE][,slot=SIZE][,requested=SIZE]\n"
	    "                               virtio-mem: SIZE of hotpluggable memory above RAM\n"
	    "                               (block default 2M, slot 128M); the guest plugs\n"
	    "                               requested (default 0) at boot\n"
	    "  --log-level LEVEL      error, warn, info, debug\n"
	    "  --boot-timer           log the time until the guest writes 123 to port 0x3f0\n"
	    "  --seccomp-filter FILE  per-thread seccomp filters from FILE (Firecracker JSON)\n"
	    "  --no-seccomp           no seccomp filters (debugging only)\n"
	    "One-shot runs (a command after --): ember builds an initramfs of CMD, the\n"
	    "shared objects it needs and the modules the devices need, runs CMD on the\n"
	    "console and exits with its status.\n"
	    "  --copy PATH            also put PATH (and what it needs) in (repeatable)\n"
	    "  --modules DIR          kernel modules from DIR\n"
	    "                               (default /lib/modules/$(uname -r))\n"
	    "  --keep-initrd PATH     write the initramfs to PATH too\n"
	    "Console: Ctrl-A x quits, Ctrl-A Ctrl-A sends Ctrl-A.\n",
	    CFG_MAX_VCPUS);
}

int cli_parse_mac(const char *s, uint8_t mac[6])
{
	return parse_mac(s, mac);
}

static int set_id(char *dst, const char *id, const char *what)
{
	size_t n = strlen(id);

	if (n == 0 || n > CFG_ID_MAX)
		return err_set(EINVAL, "%s id must be 1-%d characters", what, CFG_ID_MAX);
	for (size_t i = 0; i < n; i++)
		if (!((id[i] >= 'a' && id[i] <= 'z') || (id[i] >= 'A' && id[i] <= 'Z') ||
		      (id[i] >= '0' && id[i] <= '9') || id[i] == '_' || id[i] == '-'))
			return err_set(EINVAL,
				       "%s id '%s' may only contain letters, digits, _ and -", what,
				       id);
	memcpy(dst, id, n + 1);
	return 0;
}

int cli_parse_disk(const char *spec, struct drive_cfg *d)
{
	char *copy = strdup(spec), *save = NULL, *tok;
	int r = 0, n = 0;

	if (!copy)
		return err_set(ENOMEM, "out of memory");
	if (spec[0] == ',')
		n = 1;		   /* no path: strtok_r would take the first option for it */
	d->cache_writeback = true; /* ember run: the guest's flushes reach the disk */
	for (tok = strtok_r(copy, ",", &save); tok && r == 0; tok = strtok_r(NULL, ",", &save)) {
		if (n++ == 0) {
			d->path = strdup(tok);
			if (!d->path)
				r = err_set(ENOMEM, "out of memory");
		} else if (strcmp(tok, "ro") == 0) {
			d->read_only = true;
		} else if (strcmp(tok, "rw") == 0) {
			d->read_only = false;
		} else if (strncmp(tok, "id=", 3) == 0) {
			r = set_id(d->id, tok + 3, "--disk");
		} else if (strcmp(tok, "cache=unsafe") == 0 ||
			   strcmp(tok, "cache=writeback") == 0) {
			d->cache_writeback = tok[6] == 'w';
		} else if (strcmp(tok, "io=async") == 0 || strcmp(tok, "io=sync") == 0) {
			d->io_async = tok[3] == 'a';
		} else {
			r = err_set(
			    EINVAL,
			    "--disk %s: unknown option '%s' "
			    "(PATH[,ro][,id=NAME][,cache=writeback|unsafe][,io=async|sync])",
			    spec, tok);
		}
	}
	if (r == 0 && (n == 0 || !d->path || !*d->path))
		r = err_set(EINVAL, "--disk needs a path");
	free(copy);
	return r;
}

/* forward=HOST:GUEST or forward=PORT (the same on both sides). */
static int parse_forward(const char *spec, const char *v, struct net_cfg *nc)
{
	const char *colon = strchr(v, ':');
	char host[8];
	uint64_t h, g;

	if (!nc->passt)
		return err_set(EINVAL, "--net %s: forward= needs passt", spec);
	if (nc->npasst_fwd >= NET_PASST_MAX_FWD)
		return err_set(EINVAL, "--net %s: at most %d forwards", spec, NET_PASST_MAX_FWD);
	if (colon && (size_t)(colon - v) < sizeof(host)) {
		memcpy(host, v, (size_t)(colon - v));
		host[colon - v] = '\0';
	}
	if ((colon && ((size_t)(colon - v) >= sizeof(host) || parse_u64(host, 1, 65535, &h) < 0 ||
		       parse_u64(colon + 1, 1, 65535, &g) < 0)) ||
	    (!colon && parse_u64(v, 1, 65535, &h) < 0))
		return err_set(EINVAL,
			       "--net %s: forward=%s: expected HOSTPORT:GUESTPORT (1..65535)", spec,
			       v);
	if (!colon)
		g = h;
	nc->passt_fwd[nc->npasst_fwd].host = (uint16_t)h;
	nc->passt_fwd[nc->npasst_fwd++].guest = (uint16_t)g;
	return 0;
}

int cli_parse_net(const char *spec, struct net_cfg *nc)
{
	char *copy = strdup(spec), *save = NULL, *tok;
	int r = 0, n = 0;

	if (!copy)
		return err_set(ENOMEM, "out of memory");
	if (spec[0] == ',')
		n = 1; /* no TAP name: strtok_r would take the first option for it */
	for (tok = strtok_r(copy, ",", &save); tok && r == 0; tok = strtok_r(NULL, ",", &save)) {
		if (n++ == 0) {
			if (strcmp(tok, "passt") == 0) {
				nc->passt = true;
			} else if (strncmp(tok, "passt-socket=", 13) == 0) {
				if (!tok[13])
					r = err_set(EINVAL, "--net %s: passt-socket= needs a path",
						    spec);
				else if (!(nc->passt_socket = strdup(tok + 13)))
					r = err_set(ENOMEM, "out of memory");
			} else if (strlen(tok) >= 16)
				r = err_set(EINVAL, "--net %s: TAP name longer than 15 characters",
					    spec);
			else if (!(nc->host_dev_name = strdup(tok)))
				r = err_set(ENOMEM, "out of memory");
		} else if (strncmp(tok, "mac=", 4) == 0) {
			if (cli_parse_mac(tok + 4, nc->mac) < 0)
				r = err_set(EINVAL, "--net %s: bad MAC address '%s'", spec,
					    tok + 4);
			nc->has_mac = true;
		} else if (strncmp(tok, "id=", 3) == 0) {
			r = set_id(nc->id, tok + 3, "--net");
		} else if (strncmp(tok, "forward=", 8) == 0) {
			r = parse_forward(spec, tok + 8, nc);
		} else {
			r = err_set(EINVAL,
				    "--net %s: unknown option '%s' (TAP|passt|passt-socket=PATH"
				    "[,mac=MAC][,id=NAME][,forward=HOSTPORT:GUESTPORT (passt)])",
				    spec, tok);
		}
	}
	if (r == 0 && !nc->host_dev_name && !nc->passt && !nc->passt_socket)
		r = err_set(EINVAL, "--net needs a TAP device name, passt or passt-socket=PATH");
	free(copy);
	return r;
}

int cli_parse_vsock(const char *spec, struct vsock_cfg *v)
{
	const char *colon = strchr(spec, ':');
	char cid[24];
	uint64_t c;

	if (!colon || colon == spec || (size_t)(colon - spec) >= sizeof(cid) || !colon[1])
		return err_set(EINVAL, "--vsock %s: expected CID:PATH", spec);
	memcpy(cid, spec, (size_t)(colon - spec));
	cid[colon - spec] = '\0';
	if (parse_u64(cid, 3, UINT32_MAX - 1, &c) < 0)
		return err_set(EINVAL, "--vsock %s: guest CID must be 3..4294967294", spec);
	v->present = true;
	v->guest_cid = (uint32_t)c;
	v->uds_path = strdup(colon + 1);
	return v->uds_path ? 0 : err_set(ENOMEM, "out of memory");
}

/* AMOUNT_MIB[,deflate_on_oom][,stats=SECONDS] */
static int cli_parse_balloon(const char *spec, struct balloon_cfg *b)
{
	char *copy = strdup(spec), *save = NULL, *tok;
	uint64_t v;
	int r = 0, n = 0;

	if (!copy)
		return err_set(ENOMEM, "out of memory");
	memset(b, 0, sizeof(*b));
	if (spec[0] == ',')
		r = err_set(EINVAL, "--balloon %s: expected AMOUNT_MIB first", spec);
	for (tok = strtok_r(copy, ",", &save); tok && r == 0; tok = strtok_r(NULL, ",", &save)) {
		if (n++ == 0) {
			if (parse_u64(tok, 0, UINT32_MAX, &v) < 0)
				r = err_set(EINVAL, "--balloon %s: bad amount '%s' (MiB)", spec,
					    tok);
			b->amount_mib = (uint32_t)v;
		} else if (strcmp(tok, "deflate_on_oom") == 0) {
			b->deflate_on_oom = true;
		} else if (strncmp(tok, "stats=", 6) == 0) {
			if (parse_u64(tok + 6, 0, UINT32_MAX, &v) < 0)
				r = err_set(EINVAL,
					    "--balloon %s: bad stats interval '%s' (seconds)", spec,
					    tok + 6);
			b->stats_polling_interval_s = (uint32_t)v;
		} else {
			r = err_set(EINVAL, "--balloon %s: unknown option '%s'", spec, tok);
		}
	}
	if (r == 0 && n == 0)
		r = err_set(EINVAL, "--balloon needs AMOUNT_MIB");
	b->present = r == 0;
	free(copy);
	return r;
}

static int set_str(char **dst, const char *v)
{
	free(*dst);
	*dst = strdup(v);
	return *dst ? 0 : err_set(ENOMEM, "out of memory");
}

/* What an option handler returns for an option that is not its own. */
#define NOT_MINE 1

static int set_mem(struct vm_config *cfg, const char *val)
{
	uint64_t v;

	if (parse_size(val, &v) < 0 || v == 0)
		return err_set(EINVAL, "--mem %s: expected a size like 256M or 2G", val);
	if (v % MiB)
		return err_set(EINVAL, "--mem %s: must be a whole number of MiB", val);
	if (v / MiB < CFG_MIN_MEM_MIB || v / MiB > CFG_MAX_MEM_MIB)
		return err_set(ERANGE, "--mem %s: must be between %d MiB and %llu GiB", val,
			       CFG_MIN_MEM_MIB, CFG_MAX_MEM_MIB / 1024);
	cfg->machine.mem_size_mib = v / MiB;
	return 0;
}

static int set_cpu_template(struct vm_config *cfg, const char *val)
{
	uint8_t *buf;
	size_t len;
	int r;

	if ((r = read_whole_file(val, 1 << 20, &buf, &len)) < 0)
		return err_wrap(-r, "--cpu-template");
	free(cfg->cpu_template_json);
	cfg->cpu_template_json = realloc(buf, len + 1);
	if (!cfg->cpu_template_json) {
		free(buf);
		return err_set(ENOMEM, "out of memory");
	}
	cfg->cpu_template_json[len] = '\0';
	return 0;
}

static int set_console(struct vm_config *cfg, const char *val)
{
	free(cfg->console.path);
	cfg->console.path = NULL;
	if (strcmp(val, "stdio") == 0) {
		cfg->console.kind = CONSOLE_STDIO;
	} else if (strcmp(val, "none") == 0) {
		cfg->console.kind = CONSOLE_NONE;
	} else if (strncmp(val, "file:", 5) == 0 && val[5]) {
		cfg->console.kind = CONSOLE_FILE;
		return set_str(&cfg->console.path, val + 5);
	} else {
		return err_set(EINVAL, "--console %s: expected stdio, file:PATH or none", val);
	}
	return 0;
}

/* The boot source and the machine: 0, -errno or NOT_MINE. */
static int machine_opt(struct vm_config *cfg, int opt, const char *val)
{
	uint64_t v;

	switch (opt) {
	case OPT_KERNEL:
		return set_str(&cfg->boot.kernel_path, val);
	case OPT_INITRD:
		return set_str(&cfg->boot.initrd_path, val);
	case OPT_CMDLINE:
		return set_str(&cfg->boot.cmdline, val);
	case OPT_CMDLINE_OVERRIDE:
		cfg->boot.cmdline_override = true;
		return 0;
	case OPT_DECOMPRESS:
		cfg->boot.kernel_decompress = true;
		return 0;
	case OPT_MEASURED_BOOT:
		cfg->boot.measured_boot = true;
		return 0;
	case OPT_MEM:
		return set_mem(cfg, val);
	case OPT_CPUS:
		if (parse_u64(val, 1, CFG_MAX_VCPUS, &v) < 0)
			return err_set(EINVAL, "--cpus %s: must be a number from 1 to %d", val,
				       CFG_MAX_VCPUS);
		cfg->machine.vcpu_count = (uint32_t)v;
		return 0;
	case OPT_CPU_TEMPLATE:
		return set_cpu_template(cfg, val);
	case OPT_CONSOLE:
		return set_console(cfg, val);
	}
	return NOT_MINE;
}

static int add_disk(struct vm_config *cfg, const char *val)
{
	struct drive_cfg *d;
	int r;

	if (cfg->ndrives == CFG_MAX_DRIVES)
		return err_set(E2BIG, "--disk: at most %d drives", CFG_MAX_DRIVES);
	d = &cfg->drives[cfg->ndrives++];
	memset(d, 0, sizeof(*d));
	if ((r = cli_parse_disk(val, d)) < 0)
		return r;
	if (!d->id[0])
		snprintf(d->id, sizeof(d->id), "disk%d", cfg->ndrives - 1);
	d->is_root = cfg->ndrives == 1;
	return 0;
}

static int add_net(struct vm_config *cfg, const char *val)
{
	struct net_cfg *n;
	int r;

	if (cfg->nnets == CFG_MAX_NETS)
		return err_set(E2BIG, "--net: at most %d interfaces", CFG_MAX_NETS);
	n = &cfg->nets[cfg->nnets++];
	memset(n, 0, sizeof(*n));
	if ((r = cli_parse_net(val, n)) < 0)
		return r;
	if (!n->id[0])
		snprintf(n->id, sizeof(n->id), "net%d", cfg->nnets - 1);
	return 0;
}

/* --entropy[=BYTES]: a virtio-rng, optionally limited to BYTES per second. */
static int set_entropy(struct vm_config *cfg, const char *val)
{
	uint64_t rate;

	if (cfg->entropy.present)
		return err_set(EINVAL, "--entropy given twice (one entropy device per VM)");
	memset(&cfg->entropy, 0, sizeof(cfg->entropy));
	cfg->entropy.present = true;
	if (!val)
		return 0;
	if (parse_size(val, &rate) < 0 || rate == 0)
		return err_set(EINVAL, "--entropy=%s: expected a rate in bytes per second", val);
	cfg->entropy.rate_limiter.bandwidth =
	    (struct token_bucket_cfg){.present = true, .size = rate, .refill_time_ms = 1000};
	return 0;
}

/* --pmem PATH[,ro][,root][,id=NAME] */
static int add_pmem(struct vm_config *cfg, const char *spec)
{
	char *copy, *save = NULL, *tok;
	struct pmem_cfg *p;
	int r = 0, n = 0;

	if (cfg->npmems == CFG_MAX_PMEM)
		return err_set(E2BIG, "--pmem: at most %d devices", CFG_MAX_PMEM);
	if (spec[0] == ',' || !(copy = strdup(spec)))
		return spec[0] == ',' ? err_set(EINVAL, "--pmem %s: expected PATH first", spec)
				      : err_set(ENOMEM, "out of memory");
	p = &cfg->pmems[cfg->npmems];
	memset(p, 0, sizeof(*p));
	snprintf(p->id, sizeof(p->id), "pmem%d", cfg->npmems);
	for (tok = strtok_r(copy, ",", &save); tok && r == 0; tok = strtok_r(NULL, ",", &save)) {
		if (n++ == 0)
			r = set_str(&p->path, tok);
		else if (strcmp(tok, "ro") == 0)
			p->read_only = true;
		else if (strcmp(tok, "root") == 0)
			p->root_device = true;
		else if (strncmp(tok, "id=", 3) == 0)
			r = set_id(p->id, tok + 3, "--pmem");
		else
			r = err_set(EINVAL, "--pmem %s: unknown option '%s'", spec, tok);
	}
	free(copy);
	if (r == 0 && !p->path)
		r = err_set(EINVAL, "--pmem needs a PATH");
	if (r < 0) {
		pmem_cfg_free(p);
		return r;
	}
	cfg->npmems++;
	return 0;
}

/* A size in whole MiB (256M, 1G, or bytes). */
static int size_mib(const char *spec, const char *what, const char *val, uint64_t *mib)
{
	uint64_t b;

	if (parse_size(val, &b) < 0 || b % (1ULL << 20))
		return err_set(EINVAL, "--mem-hotplug %s: %s '%s' is not a whole number of MiB",
			       spec, what, val);
	*mib = b >> 20;
	return 0;
}

/* --mem-hotplug SIZE[,block=SIZE][,slot=SIZE][,requested=SIZE] */
static int set_mem_hotplug(struct vm_config *cfg, const char *spec)
{
	struct memhp_cfg m = {.present = true,
			      .block_size_mib = VIRTIO_MEM_DEFAULT_BLOCK_MIB,
			      .slot_size_mib = VIRTIO_MEM_DEFAULT_SLOT_MIB};
	char *copy, *save = NULL, *tok;
	int r = 0, n = 0;

	if (cfg->memory_hotplug.present)
		return err_set(EINVAL, "--mem-hotplug given twice (one virtio-mem device per VM)");
	if (spec[0] == ',' || !(copy = strdup(spec)))
		return spec[0] == ','
			   ? err_set(EINVAL, "--mem-hotplug %s: expected SIZE first", spec)
			   : err_set(ENOMEM, "out of memory");
	for (tok = strtok_r(copy, ",", &save); tok && r == 0; tok = strtok_r(NULL, ",", &save)) {
		if (n++ == 0)
			r = size_mib(spec, "size", tok, &m.total_size_mib);
		else if (strncmp(tok, "block=", 6) == 0)
			r = size_mib(spec, "block", tok + 6, &m.block_size_mib);
		else if (strncmp(tok, "slot=", 5) == 0)
			r = size_mib(spec, "slot", tok + 5, &m.slot_size_mib);
		else if (strncmp(tok, "requested=", 10) == 0)
			r = size_mib(spec, "requested", tok + 10, &m.requested_size_mib);
		else
			r = err_set(EINVAL, "--mem-hotplug %s: unknown option '%s'", spec, tok);
	}
	free(copy);
	if (r == 0 && (r = virtio_mem_check_cfg(&m)) < 0)
		return err_wrap(-r, "--mem-hotplug %s", spec);
	if (r == 0)
		cfg->memory_hotplug = m;
	return r;
}

/* The devices: 0, -errno or NOT_MINE. */
static int device_opt(struct vm_config *cfg, int opt, const char *val)
{
	switch (opt) {
	case OPT_DISK:
		return add_disk(cfg, val);
	case OPT_NET:
		return add_net(cfg, val);
	case OPT_VSOCK:
		if (cfg->vsock.present)
			return err_set(EINVAL, "--vsock given twice (one vsock device per VM)");
		return cli_parse_vsock(val, &cfg->vsock);
	case OPT_BALLOON:
		if (cfg->balloon.present)
			return err_set(EINVAL, "--balloon given twice (one balloon per VM)");
		return cli_parse_balloon(val, &cfg->balloon);
	case OPT_ENTROPY:
		return set_entropy(cfg, val);
	case OPT_PMEM:
		return add_pmem(cfg, val);
	case OPT_MEM_HOTPLUG:
		return set_mem_hotplug(cfg, val);
	}
	return NOT_MINE;
}

/* One-shot runs: 0, -errno or NOT_MINE. */
static int oneshot_opt(struct vm_config *cfg, int opt, const char *val)
{
	struct oneshot_cfg *o = &cfg->oneshot;

	switch (opt) {
	case OPT_COPY:
		if (o->ncopy == CFG_ONESHOT_MAX_COPY)
			return err_set(E2BIG, "--copy: at most %d", CFG_ONESHOT_MAX_COPY);
		if (!(o->copy[o->ncopy] = strdup(val)))
			return err_set(ENOMEM, "out of memory");
		o->ncopy++;
		return 0;
	case OPT_MODULES:
		return set_str(&o->modules_dir, val);
	case OPT_KEEP_INITRD:
		return set_str(&o->keep_initrd, val);
	}
	return NOT_MINE;
}

/* Logging and seccomp: 0, -errno or NOT_MINE. */
static int process_opt(struct vm_config *cfg, int opt, const char *val)
{
	enum log_level lvl;

	switch (opt) {
	case OPT_LOG_LEVEL:
		if (log_parse_level(val, &lvl) < 0)
			return err_set(EINVAL,
				       "--log-level %s: expected error, warn, info or debug", val);
		log_set_level(lvl);
		return 0;
	case OPT_BOOT_TIMER:
		cfg->boot_timer = true;
		if (log_get_level() < LOG_INFO)
			log_set_level(LOG_INFO);
		return 0;
	case OPT_SECCOMP_FILTER:
		cfg->seccomp_filter = val;
		return 0;
	case OPT_NO_SECCOMP:
		cfg->no_seccomp = true;
		return 0;
	}
	return NOT_MINE;
}

static int run_opt(void *ctx, int opt, const char *val, const char *arg)
{
	struct vm_config *cfg = ctx;
	int r;

	if (opt == OPT_HELP) {
		cli_print_run_help();
		return 1;
	}
	if ((r = machine_opt(cfg, opt, val)) == NOT_MINE &&
	    (r = device_opt(cfg, opt, val)) == NOT_MINE &&
	    (r = oneshot_opt(cfg, opt, val)) == NOT_MINE)
		r = process_opt(cfg, opt, val);
	if (r == NOT_MINE) /* an option in the table that nobody takes */
		return err_set(EINVAL, "unknown option '%s' (see 'ember run --help')", arg);
	return r;
}

static int run_error(enum args_error e, const char *arg, int c)
{
	switch (e) {
	case ARGS_MISSING_VALUE:
		return err_set(EINVAL, "option '%s' needs a value", arg);
	case ARGS_UNKNOWN_SHORT: /* a short option, maybe in a bundle */
		return err_set(EINVAL, "unknown option '-%c' (see 'ember run --help')", c);
	case ARGS_UNKNOWN:
		break;
	case ARGS_EXTRA:
		return err_set(EINVAL, "unexpected argument '%s' (see 'ember run --help')", arg);
	}
	return err_set(EINVAL, "unknown option '%s' (see 'ember run --help')", arg);
}

/* The index of the "--" that ends ember's options (not an option's value),
 * or argc. */
static int find_dashdash(int argc, char **argv)
{
	for (int k = 1; k < argc; k++) {
		const char *a = argv[k];

		if (strcmp(a, "--") == 0)
			return k;
		if (strncmp(a, "--", 2) != 0 || strchr(a, '='))
			continue;
		for (const struct option *o = run_opts; o->name; o++)
			if (o->has_arg == required_argument &&
			    strncmp(o->name, a + 2, strlen(a + 2)) == 0) {
				k++; /* its value, whatever it looks like */
				break;
			}
	}
	return argc;
}

/* CMD [ARGS...] after "--": the one-shot command (owned copies). */
static int set_oneshot(struct vm_config *cfg, int n, char **args)
{
	struct oneshot_cfg *o = &cfg->oneshot;

	if (n < 1)
		return 0; /* a trailing "--" only ends the options */
	if (!args[0][0])
		return err_set(EINVAL, "an empty command after -- (see 'ember run --help')");
	o->argv = calloc((size_t)n + 1, sizeof(char *));
	if (!o->argv)
		return err_set(ENOMEM, "out of memory");
	for (o->argc = 0; o->argc < n; o->argc++)
		if (!(o->argv[o->argc] = strdup(args[o->argc])))
			return err_set(ENOMEM, "out of memory");
	o->present = true;
	return 0;
}

int cli_parse_run(int argc, char **argv, struct vm_config *cfg)
{
	static const struct args_parser parser = {
	    .options = run_opts,
	    .apply = run_opt,
	    .error = run_error,
	};
	int dd = find_dashdash(argc, argv);
	int r = args_parse(&parser, dd, argv, cfg);

	if (r != 0)
		return r;
	if (!cfg->boot.kernel_path)
		return err_set(EINVAL, "--kernel is required (see 'ember run --help')");
	if (dd < argc && (r = set_oneshot(cfg, argc - dd - 1, argv + dd + 1)) < 0)
		return r;
	if (!cfg->oneshot.present &&
	    (cfg->oneshot.ncopy || cfg->oneshot.modules_dir || cfg->oneshot.keep_initrd))
		return err_set(EINVAL,
			       "--copy, --modules and --keep-initrd need a command after -- "
			       "(see 'ember run --help')");
	if (cfg->seccomp_filter && cfg->no_seccomp)
		return err_set(EINVAL, "--seccomp-filter and --no-seccomp are mutually exclusive");
	return 0;
}
