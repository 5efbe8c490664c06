/* Snapshots: PUT /snapshot/create and /snapshot/load (Firecracker's
 * contract). The state file (snapshot_file.h) holds the configuration, the
 * KVM VM and vCPU state and every device's state; guest RAM goes to a
 * separate memory file that a load maps MAP_PRIVATE (lazy, copy-on-write,
 * never written). */
#ifndef EMBER_SNAPSHOT_H
#define EMBER_SNAPSHOT_H

#include <stdbool.h>
#include <stdint.h>

#include "ember/config.h"
#include "ember/event_loop.h"

struct vm;

enum snap_type { SNAP_FULL = 0, SNAP_DIFF };

struct snapshot_create_req {
	enum snap_type type;
	char *snapshot_path;
	char *mem_file_path;
};

enum snap_backend { SNAP_BACKEND_FILE = 0, SNAP_BACKEND_UFFD };

#define SNAP_MAX_NET_OVERRIDES 8

struct snapshot_load_req {
	char *snapshot_path;
	enum snap_backend backend;
	char *mem_path; /* mem_backend.backend_path or the deprecated mem_file_path */
	bool track_dirty_pages;
	bool resume_vm;
	int nnet_overrides;
	struct {
		char *iface_id;
		char *host_dev_name;
	} net_overrides[SNAP_MAX_NET_OVERRIDES];
	char *vsock_uds_override; /* vsock_override.uds_path */
	/* ember extension "working_set" {"path", "record"} (snapshot_ws.c):
	 * record the pages this restored guest touches into ws_path at its
	 * first pause or exit, or (record false) prefetch the set recorded
	 * there before the guest runs. NULL: neither. File backend only. */
	char *ws_path;
	bool ws_record;
};

void snapshot_create_req_free(struct snapshot_create_req *r);
void snapshot_load_req_free(struct snapshot_load_req *r);
/* Request bodies (Firecracker's field names); -EINVAL + err_msg(). */
int snapshot_parse_create(const char *body, size_t len, struct snapshot_create_req *out);
int snapshot_parse_load(const char *body, size_t len, struct snapshot_load_req *out);

/* The VM must be paused. cfg is the configuration it was built from.
 * 0 or -errno with err_msg(). */
int snapshot_create(struct vm *vm, const struct vm_config *cfg,
		    const struct snapshot_create_req *req);
/* Build a VM from a snapshot into a fresh process: *cfg_out receives the
 * snapshot's configuration (overrides applied), *out the VM, paused or
 * running as req->resume_vm says. Nothing is changed on failure. */
int snapshot_load(const struct snapshot_load_req *req, struct event_loop *el,
		  struct vm_config *cfg_out, struct vm **out);

/* If the load that built vm asked to record its working set and it was not
 * written yet, write it now (the first pause, or the end of the VM). 0 or
 * -errno with err_msg(). */
int snapshot_ws_record(struct vm *vm);

#endif
