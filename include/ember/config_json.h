/* JSON <-> struct vm_config (cJSON), with Firecracker's field names: the
 * whole document of --config-file and GET /vm/config, and each API body.
 *
 * Every parser checks the body is valid UTF-8 JSON without NUL bytes, that it
 * is an object, that no field is unknown or repeated, that required fields
 * are present and every field has the right type and range. On error it
 * returns -EINVAL with one line in err_msg() that names the field
 * ("rate_limiter.bandwidth.size: invalid type: string, expected an unsigned
 * integer"). Outputs are only written on success; strings in them are
 * malloc'd and owned by the caller. */
#ifndef EMBER_CONFIG_JSON_H
#define EMBER_CONFIG_JSON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ember/config.h"

enum huge_pages_kind { HUGE_PAGES_NONE = 0, HUGE_PAGES_2M, HUGE_PAGES_TRANSPARENT };

/* PUT (every field, defaults filled in) or PATCH (only what is present) of
 * /machine-config. */
struct machine_update {
	bool has_vcpu_count, has_mem_size_mib, has_smt, has_cpu_template, has_track_dirty_pages,
	    has_huge_pages;
	uint32_t vcpu_count;
	uint64_t mem_size_mib;
	bool smt;
	char *cpu_template; /* NULL: "None" */
	bool track_dirty_pages;
	enum huge_pages_kind huge_pages;
};

/* PATCH /drives/{id} */
struct drive_update {
	char id[CFG_ID_MAX + 1];
	char *path; /* NULL: unchanged */
	bool has_rate_limiter;
	struct rate_limiter_cfg rate_limiter;
};

/* PATCH /network-interfaces/{id} */
struct net_update {
	char id[CFG_ID_MAX + 1];
	bool has_rx, has_tx;
	struct rate_limiter_cfg rx, tx;
};

/* PATCH /pmem/{id} (PartialPmem) */
struct pmem_update {
	char id[CFG_ID_MAX + 1];
	bool has_rate_limiter;
	struct rate_limiter_cfg rate_limiter;
};

/* GET /hotplug/memory (MemoryHotplugStatus), MiB. */
struct memhp_status {
	uint64_t total_size_mib, slot_size_mib, block_size_mib, plugged_size_mib,
	    requested_size_mib;
};

enum fc_action { FC_ACTION_INSTANCE_START, FC_ACTION_SEND_CTRL_ALT_DEL, FC_ACTION_FLUSH_METRICS };

/* The whole configuration document. cfg must be config_init()ed; on error
 * it may hold part of the document (config_free() it). Sections the
 * document does not name keep their values. */
int cfgjson_parse_vm_config(const char *text, size_t len, struct vm_config *cfg);
/* GET /vm/config: a document cfgjson_parse_vm_config() reads back into the
 * same configuration. malloc'd, NULL on allocation failure. */
char *cfgjson_emit_vm_config(const struct vm_config *cfg);

int cfgjson_parse_machine(const char *body, size_t len, bool patch, struct machine_update *out);
void machine_update_free(struct machine_update *u);
/* out = cur with u applied (deep copy), then config_check_machine(). */
int machine_update_apply(const struct machine_update *u, const struct machine_cfg *cur,
			 struct machine_cfg *out);
char *cfgjson_emit_machine(const struct machine_cfg *m);

int cfgjson_parse_boot_source(const char *body, size_t len, struct boot_source_cfg *out);
int cfgjson_parse_drive(const char *body, size_t len, struct drive_cfg *out);
int cfgjson_parse_drive_update(const char *body, size_t len, struct drive_update *out);
void drive_update_free(struct drive_update *u);
int cfgjson_parse_net(const char *body, size_t len, struct net_cfg *out);
int cfgjson_parse_net_update(const char *body, size_t len, struct net_update *out);
int cfgjson_parse_vsock(const char *body, size_t len, struct vsock_cfg *out);
int cfgjson_parse_balloon(const char *body, size_t len, struct balloon_cfg *out);
/* PUT /serial: {"serial_out_path": PATH, "rate_limiter": TokenBucket},
 * both optional: a file console (appended to) or the default one. */
int cfgjson_parse_serial(const char *body, size_t len, struct console_cfg *out);
/* PUT /entropy: {"rate_limiter": {...}} (optional). */
int cfgjson_parse_entropy(const char *body, size_t len, struct rng_cfg *out);
/* PUT /pmem/{id} (Pmem), PATCH /pmem/{id} (PartialPmem). */
int cfgjson_parse_pmem(const char *body, size_t len, struct pmem_cfg *out);
int cfgjson_parse_pmem_update(const char *body, size_t len, struct pmem_update *out);
/* PUT /hotplug/memory (MemoryHotplugConfig: total_size_mib required,
 * block_size_mib 2 and slot_size_mib 128 by default, checked),
 * PATCH /hotplug/memory (MemoryHotplugSizeUpdate), GET's answer. */
int cfgjson_parse_memhp(const char *body, size_t len, struct memhp_cfg *out);
int cfgjson_parse_memhp_update(const char *body, size_t len, uint64_t *requested_size_mib);
char *cfgjson_emit_memhp_status(const struct memhp_status *st);
int cfgjson_parse_balloon_update(const char *body, size_t len, uint32_t *amount_mib);
int cfgjson_parse_balloon_stats_update(const char *body, size_t len, uint32_t *interval_s);
/* PATCH /balloon/hinting/start (BalloonStartCmd; no body or no field:
 * acknowledge_on_stop true, as Firecracker). */
int cfgjson_parse_balloon_hint_start(const char *body, size_t len, bool *ack_on_stop);
/* A body that must be absent or an object without fields ({}). */
int cfgjson_parse_empty_object(const char *body, size_t len);
char *cfgjson_emit_balloon(const struct balloon_cfg *b);
/* Validates a custom CPU template (kvm_capabilities, cpuid_modifiers,
 * msr_modifiers) and returns it re-serialised. */
int cfgjson_parse_cpu_config(const char *body, size_t len, char **json_out);
int cfgjson_parse_logger(const char *body, size_t len, struct logger_cfg *out, char **log_path);
int cfgjson_parse_metrics(const char *body, size_t len, struct metrics_cfg *out,
			  char **metrics_path);
int cfgjson_parse_action(const char *body, size_t len, enum fc_action *out);
int cfgjson_parse_vm_state(const char *body, size_t len, bool *paused);

/* PUT /mmds/config: {"version", "network_interfaces", "ipv4_address",
 * "imds_compat"} (types and syntax; config_check_mmds checks the rest). */
int cfgjson_parse_mmds_config(const char *body, size_t len, struct mmds_cfg *out);
/* PUT/PATCH /mmds: any JSON value (the body checks of every parser). */
int cfgjson_check_mmds_data(const char *body, size_t len);

/* {"fault_message": msg}, malloc'd. */
char *cfgjson_fault(const char *msg);
/* Firecracker's level names ("Error", "Warning", "Info", "Debug", "Off"). */
const char *cfgjson_level_name(int level);

#endif
