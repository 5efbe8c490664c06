/* The typed VM configuration, shared by the CLI, the HTTP API and
 * --config-file (Firecracker's field names and limits). */
#ifndef EMBER_CONFIG_H
#define EMBER_CONFIG_H

#include <stdbool.h>
#include <stdint.h>

#include "ember/mmds.h"
#include "ember/rate_limiter.h"
#include "ember/util.h"
#include "ember/virtio_balloon.h"
#include "ember/virtio_blk.h"
#include "ember/virtio_mem.h"
#include "ember/virtio_net.h"
#include "ember/virtio_pmem.h"
#include "ember/virtio_rng.h"
#include "ember/virtio_vsock.h"

#define CFG_MAX_VCPUS 32
#define CFG_MIN_MEM_MIB 16
#define CFG_MAX_MEM_MIB (1024ULL * 1024) /* 1 TiB; the host decides below that */
#define CFG_MAX_DRIVES 9 /* Kata: root + a pool of 8 */
#define CFG_MAX_NETS 4
#define CFG_MAX_PMEM 4

struct boot_source_cfg {
	char *kernel_path;
	char *initrd_path;
	char *cmdline; /* NULL: the default command line */
	bool cmdline_override; /* UKI: user cmdline replaces the embedded one */
	bool kernel_decompress; /* decompress a bzImage payload on the host */
	bool measured_boot; /* SHA-256 of what is booted (always for a UKI) */
};

struct machine_cfg {
	uint32_t vcpu_count;
	uint64_t mem_size_mib;
	bool smt;
	bool track_dirty_pages;
	char *cpu_template_name; /* static template name ("None", "T2", ...) or NULL */
	bool huge_pages;
	bool huge_pages_transparent; /* "Transparent": madvise(MADV_HUGEPAGE) */
};

enum console_kind { CONSOLE_STDIO = 0, CONSOLE_FILE, CONSOLE_NONE };

struct console_cfg {
	enum console_kind kind;
	char *path; /* CONSOLE_FILE */
	/* PUT /serial: the file is appended to (a FIFO works, and never
	 * blocks the guest: what does not fit is dropped and counted); the
	 * CLI's file: console truncates it. */
	bool append;
	struct token_bucket_cfg rate_limiter; /* PUT /serial: output bytes */
};

/* PUT /logger and the "logger" section (the path is vm_config.log_path). */
struct logger_cfg {
	bool present;
	bool has_level;
	int level; /* enum log_level (LOG_OFF .. LOG_DEBUG) */
	bool has_show_level;
	bool show_level;
	bool has_show_log_origin;
	bool show_log_origin;
	char *module; /* only log lines from source files containing this */
};

/* PUT /metrics and the "metrics" section (the path is vm_config.metrics_path). */
struct metrics_cfg {
	bool present;
	bool emit_id;
	char *properties_json; /* {"key": "value", ...} or NULL */
};

/* ember run ... -- CMD [ARGS...]: a one-shot run (oneshot.h). Owned. */
#define CFG_ONESHOT_MAX_COPY 64
struct oneshot_cfg {
	bool present;
	int argc;
	char **argv; /* CMD and its arguments, NULL-terminated */
	int ncopy;
	char *copy[CFG_ONESHOT_MAX_COPY]; /* --copy PATH */
	char *modules_dir;		  /* --modules DIR */
	char *keep_initrd;		  /* --keep-initrd PATH */
	/* ember's stdin is not a terminal: CMD's stdin comes over vsock, or
	 * is the guest's /dev/null when ember's is (oneshot_abi.h); set by the
	 * front-end before oneshot_prepare */
	bool stdin_vsock, stdin_null;
};

struct vm_config {
	struct boot_source_cfg boot;
	struct machine_cfg machine;
	struct drive_cfg drives[CFG_MAX_DRIVES];
	int ndrives;
	struct net_cfg nets[CFG_MAX_NETS];
	int nnets;
	struct vsock_cfg vsock;
	struct balloon_cfg balloon;
	struct rng_cfg entropy; /* PUT /entropy: a virtio-rng device */
	struct mmds_cfg mmds;	/* PUT /mmds/config, "mmds-config" */
	/* --mmds-size-limit (bytes; 0: MMDS_DEFAULT_SIZE_LIMIT), a process
	 * setting like the two below */
	size_t mmds_size_limit;
	/* PUT /pmem/{id}, in the order configured: /dev/pmemN */
	struct pmem_cfg pmems[CFG_MAX_PMEM];
	int npmems;
	struct memhp_cfg memory_hotplug; /* PUT /hotplug/memory: virtio-mem */
	struct console_cfg console;
	char *cpu_template_json; /* custom CPU template (Firecracker format), text */
	char *log_path;
	char *metrics_path;
	struct logger_cfg logger;
	struct metrics_cfg metrics;
	bool boot_timer; /* --boot-timer: log the boot time on the guest's magic write */
	/* --seccomp-filter FILE (borrowed from argv, not freed) / --no-seccomp */
	const char *seccomp_filter;
	bool no_seccomp;
	struct oneshot_cfg oneshot;
};

/* Defaults: 1 vCPU, 128 MiB, stdio console. */
void config_init(struct vm_config *c);
void config_free(struct vm_config *c);
/* Checks a complete config before boot (ranges, unique ids, a kernel, files
 * readable). Records a message naming the field with err_set. */
int config_validate(const struct vm_config *c);

/* Checks of one section that need no file access (the API runs them on every
 * PUT/PATCH, config_validate runs them again). err_set names the field and
 * returns -EINVAL. */
int config_check_machine(const struct machine_cfg *m);
/* What the host must provide for m: 2 MiB hugetlb pages for huge_pages "2M";
 * a static CPU template is refused with the reason (the other vendor's, or
 * not implemented). Checked at PUT /machine-config time and at boot. */
int config_check_machine_host(const struct machine_cfg *m);
int config_check_id(const char *id); /* 1..CFG_ID_MAX chars of [A-Za-z0-9_] */
int config_check_rate_limiter(const struct rate_limiter_cfg *rl, const char *field);
int config_check_drive(const struct drive_cfg *d);
int config_check_net(const struct net_cfg *n);
int config_check_vsock(const struct vsock_cfg *v);
int config_check_balloon(const struct balloon_cfg *b, const struct machine_cfg *m);
/* mmds-config against the interfaces configured: a non-empty list of
 * existing interface ids and a valid link-local address, with Firecracker's
 * messages. */
int config_check_mmds(const struct mmds_cfg *mc, const struct vm_config *c);
int config_check_pmem(const struct pmem_cfg *p);
/* The virtio devices the config asks for fit the virtio-mmio slots. */
int config_check_device_count(const struct vm_config *c);
/* Path checks done when a PUT names a file (Firecracker opens it then):
 * readable, writable when want_write, and of the expected type. The open is
 * non-blocking (a FIFO never hangs the caller); a FIFO, socket, character
 * device or directory is refused with an error naming what it is. */
enum host_file_kind {
	HOST_FILE_REGULAR, /* kernel, initrd: a regular file */
	HOST_FILE_DISK,    /* drive backing: a regular file or a block device */
};
int config_check_file(const char *path, bool want_write, enum host_file_kind kind,
		      const char *field);

/* Deep copies / frees of single sections (strings are owned). */
void drive_cfg_free(struct drive_cfg *d);
void net_cfg_free(struct net_cfg *n);
void pmem_cfg_free(struct pmem_cfg *p);
void vsock_cfg_free(struct vsock_cfg *v);
void boot_source_cfg_free(struct boot_source_cfg *b);
void logger_cfg_free(struct logger_cfg *l);
void metrics_cfg_free(struct metrics_cfg *m);

#endif
