/* The VM object: KVM VM + guest memory + vCPUs + devices, wired together.
 * Used by `ember run` (src/api/main.c) and by the API process mode. Every
 * function runs on the VMM thread (the one that runs the event loop). */
#ifndef EMBER_VM_H
#define EMBER_VM_H

#include <stdbool.h>
#include <stdint.h>

#include "ember/config.h"
#include "ember/event_loop.h"

struct vm;

enum vm_state { VM_STATE_CREATED = 0, VM_STATE_RUNNING, VM_STATE_PAUSED, VM_STATE_EXITED };

/* Exit codes of the process (ember run / --no-api). */
enum {
	EMBER_EXIT_OK = 0,	    /* guest shutdown or reset */
	EMBER_EXIT_BAD_CONFIG = 1,  /* bad configuration, one clear line printed */
	EMBER_EXIT_GUEST_CRASH = 2, /* triple fault (KVM_EXIT_SHUTDOWN) */
	EMBER_EXIT_KVM_ERROR = 3,   /* KVM internal error, unexpected exit */
	EMBER_EXIT_HOST_ERROR = 4,  /* host-side failure after boot */
};

/* Build the whole VM from cfg: KVM checks, RAM, irqchip, devices, kernel,
 * initrd, cmdline, ACPI, vCPUs (threads not started). Registers its fds on
 * el. On failure err_msg() has one line naming the cause. */
int vm_create(const struct vm_config *cfg, struct event_loop *el, struct vm **out);
/* Start the vCPU threads. */
int vm_start(struct vm *vm);
/* Start the vCPU threads parked (state Paused; vm_resume lets them run).
 * wait: return only once every thread has parked; without it the threads
 * park on their own before any KVM_RUN (a load that resumes at once does
 * not wait for them to be scheduled twice). */
int vm_start_paused(struct vm *vm, bool wait);
int vm_pause(struct vm *vm);
int vm_resume(struct vm *vm);
enum vm_state vm_get_state(const struct vm *vm);
/* True once the guest reset/shut down or a vCPU failed; *code is the exit
 * code for the process. */
bool vm_exited(const struct vm *vm, int *code);
/* One-shot runs: the command's exit status the guest's init reported
 * (oneshot_abi.h), or -1 if it did not. */
int vm_oneshot_status(const struct vm *vm);
/* Ask the VM to stop (e.g. SIGTERM); vm_exited() becomes true. */
void vm_request_exit(struct vm *vm, int code);
int vm_send_ctrl_alt_del(struct vm *vm);
/* SHA-256 of the kernel, initrd and final command line booted; NULL when
 * measured boot was not asked for (boot-source measured_boot; a UKI always
 * is measured). */
struct boot_measurements;
const struct boot_measurements *vm_get_measurements(const struct vm *vm);
/* Pause, print every vCPU's registers to stderr, resume (SIGQUIT). */
void vm_dump_vcpus(struct vm *vm);
/* PATCH /drives/{id} after boot: swap the backing file (the guest sees the
 * new size through a config-change interrupt) and/or the rate limiter
 * (rl may be NULL). -ENOENT if no such drive. */
int vm_update_drive(struct vm *vm, const char *id, const char *path,
		    const struct rate_limiter_cfg *rl);
/* PATCH /network-interfaces/{id}: rate limiters (NULL: unchanged). */
int vm_update_net(struct vm *vm, const char *id, const struct rate_limiter_cfg *rx,
		  const struct rate_limiter_cfg *tx);
/* Answer the MMDS (store) on the interfaces mc names (before the guest
 * runs; after a snapshot load, while it is paused). */
struct mmds;
int vm_enable_mmds(struct vm *vm, const struct mmds_cfg *mc, struct mmds *store);
/* The devices, for metrics and post-boot API calls (balloon target and
 * statistics: see virtio_balloon.h); NULL when absent. Index i counts
 * devices of that kind in configuration order. */
struct virtio_blk *vm_get_blk(struct vm *vm, int i);
struct virtio_net *vm_get_net(struct vm *vm, int i);
struct virtio_vsock *vm_get_vsock(struct vm *vm);
struct virtio_balloon *vm_get_balloon(struct vm *vm);
/* PATCH /pmem/{id}: the flush rate limiter. 0 or -ENOENT (err_set). */
int vm_update_pmem(struct vm *vm, const char *id, const struct rate_limiter_cfg *rl);
/* The virtio-mem device (NULL without memory hotplug). */
struct virtio_mem *vm_get_virtio_mem(struct vm *vm);
/* Every device adds what its counters gained since the previous call to
 * the metrics registry (virtio_dev_ops.publish_metrics). VMM thread. */
void vm_publish_metrics(struct vm *vm);

/* SIGIO: someone wants to write or truncate a kernel or initrd file that
 * guest RAM maps (its read lease breaks): copy those pages into anonymous
 * memory (vCPUs paused meanwhile) and release the file. NULL is fine. */
void vm_file_lease_break(struct vm *vm);

/* Stop and join every thread, free everything. NULL is fine. */
void vm_destroy(struct vm *vm);

#endif
