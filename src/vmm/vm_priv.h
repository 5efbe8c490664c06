/* The VM object's insides, shared by vm.c, vm_boot.c, vcpu.c, console.c,
 * vm_devices.c and the snapshot code (snapshot*.c) only. */
#ifndef EMBER_VM_PRIV_H
#define EMBER_VM_PRIV_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include <linux/kvm.h>

#include "ember/arch.h"
#include "ember/boot_timer.h"
#include "ember/bus.h"
#include "ember/config.h"
#include "ember/event_loop.h"
#include "ember/i8042.h"
#include "ember/measure.h"
#include "ember/pl031.h"
#include "ember/memory.h"
#include "ember/rtc.h"
#include "ember/serial.h"
#include "ember/vm.h"

struct vm;

struct vcpu {
	struct vm *vm;
	int id;
	int fd;
	struct kvm_run *run;
	size_t run_size;
	pthread_t thread;
	bool thread_started;
	atomic_int in_guest; /* 1 while inside the run loop (not parked) */
	bool exit_pending;   /* a PIO/MMIO exit KVM completes at the next KVM_RUN */
};

struct console;
struct oneshot_stdin;
struct virtio_dev;

/* One virtio-mmio slot: arch_virtio_addr(slot), interrupt arch_virtio_irq(slot). */
struct vm_vdev {
	struct virtio_dev *vd; /* vd->ops: kind (device_id) and destroy */
	void *dev;	       /* struct virtio_blk *, ... */
	char id[CFG_ID_MAX + 1];
};

struct vm {
	int kvm_fd;
	int vm_fd;
	struct guest_mem mem;
	int uffd;	 /* snapshot loaded with the Uffd backend: kept open */
	char *ws_record; /* working set to record at the first pause/exit (snapshot_ws.c) */
	struct bus pio;
	struct bus mmio;
	struct event_loop *el;

	struct arch_vm *arch; /* interrupt controller, CPU set-up (arch.h) */
	int ncpus;
	struct vcpu *vcpus;

	struct serial serial;
	struct i8042 i8042;
	struct rtc rtc;
	struct pl031 pl031;
	struct boot_timer boot_timer;
	pthread_mutex_t boot_timer_lock;
	atomic_int oneshot_status; /* one-shot: CMD's status from the exit port, or -1 */
	struct console *console;
	/* one-shot runs: stdin over vsock (oneshot_stdin.c) */
	struct oneshot_stdin *oneshot_stdin;
	int serial_out_fd; /* file console: owned */

	struct vm_vdev vdevs[ARCH_VIRTIO_MAX_DEVICES];
	int nvdevs;

	struct kernel_image kernel;
	int lease_fds[2];	  /* kernel and initrd files mapped into RAM (read leases), or -1 */
	struct measure_job *mjob; /* measured boot hashing in a thread (vm_boot.c), or NULL */
	char *cmdline;		  /* as booted (the aarch64 device tree carries it) */
	struct boot_measurements measured;

	/* lifecycle */
	enum vm_state state;
	atomic_int exit_code; /* -1 while running */
	int exit_efd;	      /* wakes the VMM thread when a vCPU asks to exit */
	atomic_bool stopping;
	atomic_bool pause_requested;
	pthread_mutex_t pause_lock;
	pthread_cond_t pause_cond;
	int nparked;
};

/* vm.c: vm_create(), or with mem_fd >= 0 the skeleton a snapshot load
 * fills in (snapshot.c). */
#define VM_MEM_BOOT (-1) /* a normal boot: fresh RAM, kernel loaded */
#define VM_MEM_ANON (-2) /* snapshot load, Uffd backend */
int vm_build(const struct vm_config *cfg, struct event_loop *el, int mem_fd, struct vm **out);

/* vm_boot.c: wait for the measured-boot thread, if one runs (VMM thread). */
void vm_measure_wait(struct vm *vm);

/* vcpu.c */
int vcpu_init(struct vm *vm, int id, struct vcpu *v);
int vcpu_configure(struct vcpu *v);
int vcpu_start(struct vcpu *v);
void vcpu_kick(struct vcpu *v);
void vcpu_destroy(struct vcpu *v);
void vcpu_signals_init(void);

/* vm_devices.c: virtio devices from the config, wired to KVM */
/* Device memory (above RAM, never in e820) starts here. */
uint64_t vm_devmem_start(const struct guest_mem *gm);
/* The hotplug area of guest memory, when memory-hotplug is configured. */
int vm_setup_device_memory(struct vm *vm, const struct vm_config *cfg);
int vm_setup_virtio_devices(struct vm *vm, const struct vm_config *cfg);
void vm_destroy_virtio_devices(struct vm *vm);
/* Each slot's interrupt eventfd to KVM (KVM_IRQFD), once the vCPUs exist. */
int vm_virtio_irqfds(struct vm *vm);
/* " virtio_mmio.device=4K@0x...:IRQ" tokens (+ root=) appended to cmdline. */
int vm_virtio_cmdline(const struct vm *vm, const struct vm_config *cfg, const char *base,
		      char **out);
/* ACPI/MP table descriptions of the slots; returns the count. */
int vm_virtio_describe(const struct vm *vm, struct arch_mmio_dev *out, int max);

/* vm_boot.c: kernel, initrd and command line into guest memory; the
 * measured-boot hashes when configured (always for a UKI) */
int vm_load_guest(struct vm *vm, const struct vm_config *cfg, struct arch_boot *bs);

/* vm_genid.c: a new VM generation ID into guest RAM (boot, snapshot
 * load); the guest notified through the ACPI generic event device. */
#define VM_GENID_LEN 16
int vm_genid_new(struct vm *vm);
void vm_genid_notify(struct vm *vm);

/* console.c: host side of the serial console; read_stdin false leaves
 * stdin alone (one-shot runs that send it over vsock) */
int console_open(struct vm *vm, const struct console_cfg *cfg, bool read_stdin, int *out_fd);
void console_close(struct vm *vm);

/* oneshot_stdin.c: a one-shot run's stdin to CMD over vsock, through the
 * stream the guest opens to "<uds_path>_<ONESHOT_STDIN_PORT>" */
int oneshot_stdin_open(struct vm *vm, const char *uds_path);
void oneshot_stdin_close(struct vm *vm);

#endif
