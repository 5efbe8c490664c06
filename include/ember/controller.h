/* The VMM-thread side of the API: owns the pre-boot vm_config, applies the
 * typed requests the API thread posts (src/api/api_routes.c), builds and starts
 * the VM on InstanceStart and drives it afterwards (pause, resume,
 * Ctrl-Alt-Del, PATCHes). Everything here runs on the VMM thread. */
#ifndef EMBER_CONTROLLER_H
#define EMBER_CONTROLLER_H

#include <stdbool.h>
#include <stdint.h>

#include "ember/config.h"
#include "ember/config_json.h"
#include "ember/event_loop.h"
#include "ember/snapshot.h"

/* A typed request, as the API (src/api/api_routes.c) or a front-end posts it. */
enum api_op {
	API_GET_INSTANCE_INFO,
	API_GET_VERSION,
	API_GET_MACHINE_CONFIG,
	API_GET_VM_CONFIG,
	API_UPDATE_MACHINE_CONFIG, /* PUT and PATCH (u.machine says which fields) */
	API_PUT_BOOT_SOURCE,
	API_PUT_DRIVE,
	API_PATCH_DRIVE,
	API_PUT_NET,
	API_PATCH_NET,
	API_PUT_VSOCK,
	API_PUT_ENTROPY,
	API_PUT_PMEM,
	API_PATCH_PMEM,
	API_PUT_MEMORY_HOTPLUG,
	API_PATCH_MEMORY_HOTPLUG,
	API_GET_MEMORY_HOTPLUG,
	API_PUT_SERIAL,
	API_GET_BALLOON,
	API_PUT_BALLOON,
	API_PATCH_BALLOON,
	API_GET_BALLOON_STATS,
	API_PATCH_BALLOON_STATS,
	API_PATCH_BALLOON_HINT_START, /* u.hint_ack_on_stop */
	API_PATCH_BALLOON_HINT_STOP,
	API_GET_BALLOON_HINT_STATUS,
	API_PUT_CPU_CONFIG,
	API_PUT_LOGGER,
	API_PUT_METRICS,
	API_INSTANCE_START,
	API_SEND_CTRL_ALT_DEL,
	API_FLUSH_METRICS,
	API_PAUSE,
	API_RESUME,
	API_SNAPSHOT_CREATE,
	API_SNAPSHOT_LOAD,
	API_GET_MMDS,
	API_PUT_MMDS, /* u.mmds_json */
	API_PATCH_MMDS,
	API_PUT_MMDS_CONFIG,
};

struct api_request {
	enum api_op op;
	bool patch; /* API_UPDATE_MACHINE_CONFIG: PATCH rather than PUT */
	union {
		struct machine_update machine;
		struct boot_source_cfg boot;
		struct drive_cfg drive;
		struct drive_update drive_update;
		struct net_cfg net;
		struct net_update net_update;
		struct vsock_cfg vsock;
		struct rng_cfg entropy;
		struct pmem_cfg pmem;
		struct pmem_update pmem_update;
		struct memhp_cfg memhp;
		uint64_t requested_size_mib;
		struct console_cfg serial;
		struct balloon_cfg balloon;
		uint32_t balloon_amount_mib;
		uint32_t stats_interval_s;
		bool hint_ack_on_stop;
		struct snapshot_create_req snap_create;
		struct snapshot_load_req snap_load;
		char *cpu_config_json;
		struct {
			const char *text; /* the request body (borrowed) */
			size_t len;
		} mmds_data;
		struct mmds_cfg mmds_cfg;
		struct {
			struct logger_cfg cfg;
			char *path;
		} logger;
		struct {
			struct metrics_cfg cfg;
			char *path;
		} metrics;
	} u;
};

/* Frees whatever strings the handler did not take (set to NULL). */
void api_request_free(struct api_request *req);

/* The controller's answer: done, done with a JSON document, refused (the
 * request is invalid, or not in this state) or failed inside the VMM, each
 * with its Firecracker message (CTL_TOO_LARGE: refused for its size, 413).
 * The API layer turns it into HTTP. */
enum ctl_status { CTL_DONE, CTL_DONE_JSON, CTL_REFUSED, CTL_FAILED, CTL_TOO_LARGE };

struct ctl_reply {
	enum ctl_status status;
	char *json;	   /* CTL_DONE_JSON: malloc'd document */
	char message[768]; /* CTL_REFUSED, CTL_FAILED */
};

void ctl_reply_free(struct ctl_reply *reply);

struct controller;

/* cfg (may be NULL: defaults) is moved into the controller; the caller's
 * struct is left config_init()ed. */
int controller_create(struct event_loop *el, const char *instance_id, struct vm_config *cfg,
		      struct controller **out);
void controller_destroy(struct controller *c);
/* --metadata FILE: the MMDS data store's first contents (JSON). 0, or -errno
 * with err_msg() ("Populating MMDS from file failed: ..."). */
int controller_load_metadata(struct controller *c, const char *path);
/* Handle one request; always fills reply. */
void controller_handle(struct controller *c, struct api_request *req, struct ctl_reply *reply);
/* InstanceStart: validate, vm_create, vm_start. 0 or -errno with err_msg(). */
int controller_start(struct controller *c);
bool controller_started(const struct controller *c);
/* True once the VM has exited; *code is the process exit code. */
bool controller_exited(const struct controller *c, int *code);
/* Ask a running VM to stop (signal). */
void controller_request_exit(struct controller *c, int code);
/* SIGIO: a file mapped into guest RAM is about to be written
 * (vm_file_lease_break). */
void controller_file_lease_break(struct controller *c);
const struct vm_config *controller_config(const struct controller *c);

#endif
