/* Snapshot internals shared by snapshot.c, snapshot_kvm.c and
 * snapshot_json.c: the fixed-size sections of the state file. Raw KVM
 * structs are fine here: the file names its architecture and version. */
#ifndef EMBER_SNAPSHOT_PRIV_H
#define EMBER_SNAPSHOT_PRIV_H

#include <linux/kvm.h>

#include "ember/i8042.h"
#include "ember/rtc.h"
#include "ember/serial.h"
#include "ember/snapshot_file.h"
#include "ember/virtio.h"
#include "vm_priv.h"

struct snap_memory {
	uint64_t total;
	uint32_t nregions, ncpus;
	struct {
		uint64_t gpa, size, file_offset;
	} regions[GM_MAX_REGIONS];
};

struct snap_legacy_state {
	struct serial_state serial;
	struct i8042_state i8042;
	struct rtc_state rtc;
};

struct snap_virtio_hdr {
	char id[64];
	struct virtio_dev_state st;
	uint32_t blob_len, pad;
};

/* <arch>/snapshot_kvm.c: KVM state of the VM and its vCPUs (paused). */
int snap_save_kvm(struct vm *vm, struct snap_writer *w);
int snap_restore_kvm(struct vm *vm, const struct snap_file *f);
int snap_collect_kvm_dirty(struct vm *vm, uint64_t *bitmap);

/* snapshot_ws.c (the file format: snapshot_file.h). The pages of gm's mapping present in this process, as a set, into path. */
int snap_ws_record(const struct guest_mem *gm, const char *path, uint64_t *pages_out);
/* Read ahead (mem_fd: the memory file) and map the set recorded in path. */
int snap_ws_prefetch(const struct guest_mem *gm, int mem_fd, const char *path,
		     uint64_t *pages_out);

/* snapshot_uffd.c: register gm's regions with a new userfaultfd and hand
 * it to the handler listening on path (Firecracker's handshake). */
int snap_uffd_attach(struct guest_mem *gm, const char *path, int *uffd_out);

#endif
