/* The typed VM configuration, shared by the CLI, the HTTP API and
 * --config-file (Firecracker's field names and limits). */
#ifndef EMBER_CONFIG_H
#define EMBER_CONFIG_H

#include <stdbool.h>
#include <stdint.h>

#define CFG_MAX_VCPUS 32
#define CFG_MIN_MEM_MIB 16
#define CFG_MAX_MEM_MIB (1024ULL * 1024) /* 1 TiB; the host decides below that */
#define CFG_MAX_DRIVES 8
#define CFG_MAX_NETS 4
#define CFG_ID_MAX 64

struct token_bucket_cfg {
	bool present;
	uint64_t size;           /* tokens (bytes or ops) */
	uint64_t one_time_burst; /* extra initial tokens */
	uint64_t refill_time_ms; /* time to refill `size` tokens */
};

struct rate_limiter_cfg {
	struct token_bucket_cfg bandwidth;
	struct token_bucket_cfg ops;
};

struct boot_source_cfg {
	char *kernel_path;
	char *initrd_path;
	char *cmdline; /* NULL: the default command line */
	bool cmdline_override; /* UKI: user cmdline replaces the embedded one */
	bool kernel_decompress; /* decompress a bzImage payload on the host */
};

struct machine_cfg {
	uint32_t vcpu_count;
	uint64_t mem_size_mib;
	bool smt;
	bool track_dirty_pages;
	char *cpu_template_name; /* static template name ("None", "T2", ...) or NULL */
	bool huge_pages;
};

struct drive_cfg {
	char id[CFG_ID_MAX + 1];
	char *path;
	bool read_only;
	bool is_root;
	char *partuuid;
	struct rate_limiter_cfg rate_limiter;
};

struct net_cfg {
	char id[CFG_ID_MAX + 1];
	char *host_dev_name;
	bool has_mac;
	uint8_t mac[6];
	struct rate_limiter_cfg rx_rate_limiter;
	struct rate_limiter_cfg tx_rate_limiter;
};

struct vsock_cfg {
	bool present;
	uint32_t guest_cid;
	char *uds_path;
};

struct balloon_cfg {
	bool present;
	uint32_t amount_mib;
	bool deflate_on_oom;
	uint32_t stats_polling_interval_s;
	bool free_page_reporting;
};

enum console_kind { CONSOLE_STDIO = 0, CONSOLE_FILE, CONSOLE_NONE };

struct console_cfg {
	enum console_kind kind;
	char *path; /* CONSOLE_FILE */
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
	struct console_cfg console;
	char *cpu_template_json; /* custom CPU template (Firecracker format), text */
	char *log_path;
	char *metrics_path;
};

/* Defaults: 1 vCPU, 128 MiB, stdio console. */
void config_init(struct vm_config *c);
void config_free(struct vm_config *c);
/* Checks a complete config before boot (ranges, unique ids, a kernel, files
 * readable). Records a message naming the field with err_set. */
int config_validate(const struct vm_config *c);

#endif
