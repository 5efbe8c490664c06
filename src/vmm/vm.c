/* VM lifecycle: build everything from a vm_config, run, pause, stop. */
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "ember/error.h"
#include "ember/kvm.h"
#include "ember/log.h"
#include "ember/measure.h"
#include "ember/oneshot_abi.h"
#include "ember/util.h"
#include "vm_priv.h"


static void set_irq_line(struct vm *vm, uint32_t irq, int level)
{
	int r = arch_irq_line(vm->vm_fd, irq, level);

	if (r < 0)
		log_warn("KVM_IRQ_LINE %u: %s", irq, strerror(-r));
}

static void serial_irq(void *opaque, int level)
{
	set_irq_line(opaque, arch_layout.serial.irq, level);
}

static void i8042_irq(void *opaque, int level)
{
	set_irq_line(opaque, arch_layout.i8042.irq, level);
}

static void i8042_reset(void *opaque)
{
	log_info("guest reset through the i8042");
	vm_request_exit(opaque, EMBER_EXIT_OK);
}

/* ACPI sleep control register: S5 (SLP_TYP 5 + SLP_EN) powers the VM off. */
static void acpi_sleep_write(void *opaque, uint64_t off, const void *data, uint32_t len)
{
	uint8_t v = *(const uint8_t *)data;

	(void)len;
	if (off == 0 && (v & ACPI_SLP_EN) && ((v >> 2) & 7) == ACPI_S5_SLP_TYP) {
		log_info("guest powered off (ACPI S5)");
		vm_request_exit(opaque, EMBER_EXIT_OK);
	}
}

static const struct bus_ops acpi_sleep_ops = {.write = acpi_sleep_write};

/* One-shot runs: the init writes CMD's exit status at offset 0 of this
 * MMIO page (oneshot_abi.h); the first write counts, the rest of the page
 * ignores writes. */
static void oneshot_exit_write(void *opaque, uint64_t off, const void *data, uint32_t len)
{
	struct vm *vm = opaque;
	int expected = -1, v = *(const uint8_t *)data;

	if (off != 0 || len == 0)
		return;
	if (atomic_compare_exchange_strong(&vm->oneshot_status, &expected, v)) {
		log_info("one-shot: the command exited with status %d", v);
		vm_request_exit(vm, v);
	}
}

static const struct bus_ops oneshot_exit_ops = {.write = oneshot_exit_write};

static void exit_event(void *opaque, int fd, uint32_t events)
{
	struct vm *vm = opaque;
	uint64_t v;

	(void)events;
	if (read(fd, &v, sizeof(v)) < 0) {
		/* nothing pending */
	}
	if (atomic_load(&vm->exit_code) >= 0)
		vm->state = VM_STATE_EXITED;
}

static int setup_kvm_vm(struct vm *vm, const struct vm_config *cfg)
{
	struct arch_vm_cfg ac = {.ncpus = vm->ncpus,
				 .smt = cfg->machine.smt,
				 .cpu_template_json = cfg->cpu_template_json,
				 .cpu_template_name = cfg->machine.cpu_template_name};
	int r;

	if ((r = kvm_open(&vm->kvm_fd)) < 0)
		return r;
	if ((r = kvm_create_vm(vm->kvm_fd, vm->ncpus, &vm->vm_fd)) < 0)
		return r;
	ac.kvm_fd = vm->kvm_fd;
	ac.vm_fd = vm->vm_fd;
	return arch_vm_create(&ac, &vm->arch);
}

/* track_dirty: KVM logs the pages the guest writes (Diff snapshots), and
 * guest memory records the ones ember writes. */
static int setup_memory(struct vm *vm, const struct machine_cfg *m, int mem_fd)
{
	uint64_t bytes = m->mem_size_mib * MiB;
	bool track_dirty = m->track_dirty_pages;
	enum gm_pages pages = m->huge_pages		  ? GM_PAGES_2M
			      : m->huge_pages_transparent ? GM_PAGES_THP
							  : GM_PAGES_4K;
	int r = mem_fd != VM_MEM_BOOT
			? gm_init_file(&vm->mem, bytes, arch_layout.gap_start, arch_layout.gap_end,
				       mem_fd >= 0 ? mem_fd : -1)
			: gm_init_anon(&vm->mem, bytes, arch_layout.gap_start,
				       arch_layout.gap_end, pages);

	if (r < 0)
		return r;
	if (track_dirty && (r = gm_track_dirty(&vm->mem)) < 0)
		return r;
	for (int i = 0; i < vm->mem.nregions; i++) {
		const struct gm_region *g = &vm->mem.regions[i];
		struct kvm_userspace_memory_region reg = {
			.slot = (uint32_t)i,
			.flags = track_dirty ? KVM_MEM_LOG_DIRTY_PAGES : 0,
			.guest_phys_addr = g->gpa,
			.memory_size = g->size,
			.userspace_addr = (uint64_t)(uintptr_t)g->hva,
		};
		if (ioctl(vm->vm_fd, KVM_SET_USER_MEMORY_REGION, &reg) < 0)
			return err_set(errno, "KVM_SET_USER_MEMORY_REGION (%llu MiB at %#llx): %s",
				       (unsigned long long)(g->size >> 20),
				       (unsigned long long)g->gpa, strerror(errno));
	}
	return 0;
}

static int place(struct vm *vm, const struct arch_place *p, const struct bus_ops *ops,
		 void *opaque, pthread_mutex_t *lock)
{
	return bus_register(p->bus == ARCH_BUS_PIO ? &vm->pio : &vm->mmio, p->addr, p->size, ops,
			    opaque, lock);
}

/* The legacy devices this machine has, where arch_layout puts them. */
static int setup_legacy_devices(struct vm *vm, const struct vm_config *cfg)
{
	const struct arch_layout *l = &arch_layout;
	uint64_t gap = l->gap_start > l->ram_start ? l->gap_start : UINT64_MAX;
	uint64_t low = MIN(vm->mem.total, gap - l->ram_start);
	int out_fd, r;

	bus_init(&vm->pio);
	bus_init(&vm->mmio);
	serial_init(&vm->serial, -1, serial_irq, vm);
	if ((r = console_open(vm, &cfg->console, !cfg->oneshot.stdin_vsock, &out_fd)) < 0)
		return r;
	vm->serial.out_fd = out_fd;
	if (cfg->console.rate_limiter.present)
		serial_set_out_limit(&vm->serial, &cfg->console.rate_limiter);
	i8042_init(&vm->i8042, i8042_reset, vm, i8042_irq, vm);
	rtc_init(&vm->rtc, low, vm->mem.total - low);
	pl031_init(&vm->pl031);
	if ((r = place(vm, &l->serial, &serial_bus_ops, &vm->serial, &vm->serial.lock)) < 0 ||
	    (l->i8042.bus &&
	     (r = place(vm, &l->i8042, &i8042_bus_ops, &vm->i8042, &vm->i8042.lock)) < 0) ||
	    (l->cmos.bus && (r = place(vm, &l->cmos, &rtc_bus_ops, &vm->rtc, &vm->rtc.lock)) < 0) ||
	    (l->pl031.bus &&
	     (r = place(vm, &l->pl031, &pl031_bus_ops, &vm->pl031, &vm->pl031.lock)) < 0) ||
	    (l->acpi_sleep.bus && (r = place(vm, &l->acpi_sleep, &acpi_sleep_ops, vm, NULL)) < 0))
		return err_set(-r, "registering legacy devices: %s", strerror(-r));
	atomic_init(&vm->oneshot_status, -1);
	if (cfg->oneshot.present && !l->oneshot_exit.bus)
		return err_set(ENOTSUP, "one-shot runs are not implemented on %s", l->name);
	if (cfg->oneshot.present &&
	    (r = place(vm, &l->oneshot_exit, &oneshot_exit_ops, vm, NULL)) < 0)
		return err_set(-r, "registering the one-shot exit register: %s", strerror(-r));
	if (cfg->boot_timer && l->boot_timer.bus) {
		boot_timer_init(&vm->boot_timer);
		pthread_mutex_init(&vm->boot_timer_lock, NULL);
		if ((r = place(vm, &l->boot_timer, &boot_timer_bus_ops, &vm->boot_timer,
			       &vm->boot_timer_lock)) < 0)
			return err_set(-r, "registering the boot timer: %s", strerror(-r));
	}
	return 0;
}

static int setup_firmware_tables(struct vm *vm, struct arch_boot *bs)
{
	struct arch_mmio_dev virtio[ARCH_VIRTIO_MAX_DEVICES];

	bs->virtio = virtio;
	bs->nvirtio = vm_virtio_describe(vm, virtio, ARCH_VIRTIO_MAX_DEVICES);
	return arch_boot_tables(vm->arch, &vm->mem, bs);
}

static int setup_vcpus(struct vm *vm, bool configure)
{
	int r;

	vm->vcpus = calloc((size_t)vm->ncpus, sizeof(*vm->vcpus));
	if (!vm->vcpus)
		return err_set(ENOMEM, "out of memory");
	for (int i = 0; i < vm->ncpus; i++)
		vm->vcpus[i].fd = -1;
	for (int i = 0; i < vm->ncpus; i++)
		if ((r = vcpu_init(vm, i, &vm->vcpus[i])) < 0)
			return r;
	if ((r = arch_vcpus_created(vm->arch)) < 0)
		return r;
	for (int i = 0; configure && i < vm->ncpus; i++)
		if ((r = vcpu_configure(&vm->vcpus[i])) < 0)
			return r;
	return 0;
}

int vm_create(const struct vm_config *cfg, struct event_loop *el, struct vm **out)
{
	return vm_build(cfg, el, VM_MEM_BOOT, out);
}

/* mem_fd >= 0 or VM_MEM_ANON: a snapshot load (snapshot.c): RAM is that file
 * mapped MAP_PRIVATE (or anonymous memory for a userfaultfd handler),
 * nothing is loaded into it and the vCPUs are left for the snapshot's
 * state. */
int vm_build(const struct vm_config *cfg, struct event_loop *el, int mem_fd, struct vm **out)
{
	bool boot = mem_fd == VM_MEM_BOOT;
	struct arch_boot bs;
	struct vm *vm;
	int r;

	*out = NULL;
	if (boot && !cfg->boot.kernel_path)
		return err_set(EINVAL, "no kernel given");
	vm = calloc(1, sizeof(*vm));
	if (!vm)
		return err_set(ENOMEM, "out of memory");
	vm->kvm_fd = vm->vm_fd = vm->exit_efd = vm->serial_out_fd = vm->uffd = -1;
	vm->lease_fds[0] = vm->lease_fds[1] = -1;
	vm->mem.memfd = -1;
	vm->el = el;
	vm->ncpus = (int)cfg->machine.vcpu_count;
	atomic_init(&vm->exit_code, -1);
	pthread_mutex_init(&vm->pause_lock, NULL);
	pthread_cond_init(&vm->pause_cond, NULL);
	vcpu_signals_init();

	if ((r = setup_kvm_vm(vm, cfg)) < 0)
		goto fail;
	if ((r = setup_memory(vm, &cfg->machine, mem_fd)) < 0)
		goto fail;
	if ((r = setup_legacy_devices(vm, cfg)) < 0)
		goto fail;
	if ((r = vm_setup_device_memory(vm, cfg)) < 0 || (r = vm_setup_virtio_devices(vm, cfg)) < 0)
		goto fail;
	if (cfg->oneshot.present && cfg->oneshot.stdin_vsock &&
	    (r = oneshot_stdin_open(vm, cfg->vsock.uds_path)) < 0)
		goto fail;
	if (boot && (r = vm_load_guest(vm, cfg, &bs)) < 0)
		goto fail;
	if (boot && (r = setup_firmware_tables(vm, &bs)) < 0)
		goto fail;
	if (boot && (r = vm_genid_new(vm)) < 0)
		goto fail;
	if ((r = setup_vcpus(vm, boot)) < 0 || (r = vm_virtio_irqfds(vm)) < 0)
		goto fail;
	vm->exit_efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (vm->exit_efd < 0 || el_add(el, vm->exit_efd, EPOLLIN, exit_event, vm) < 0) {
		r = err_set(errno, "exit eventfd: %s", strerror(errno));
		goto fail;
	}
	log_info("VM created: %d vCPU(s), %llu MiB, kernel entry %#llx", vm->ncpus,
		 (unsigned long long)cfg->machine.mem_size_mib, (unsigned long long)vm->kernel.entry);
	*out = vm;
	return 0;
fail:
	vm_destroy(vm);
	return r;
}

int vm_start(struct vm *vm)
{
	int r;

	if (vm->state != VM_STATE_CREATED)
		return err_set(EINVAL, "VM already started");
	for (int i = 0; i < vm->ncpus; i++) {
		if ((r = vcpu_start(&vm->vcpus[i])) < 0) {
			vm_request_exit(vm, EMBER_EXIT_HOST_ERROR);
			return r;
		}
	}
	/* The VMM thread (the caller; the vCPU threads exist and keep their
	 * policy) under SCHED_BATCH: its wake-ups (queue kicks, TAP and socket
	 * input, timers) no longer preempt a vCPU running on its CPU; it runs
	 * when that one blocks or its slice ends, fair share unchanged. Where
	 * they share a CPU, the guest goes on queueing instead of being stopped
	 * at every kick for one frame and one interrupt. Measured in an L1 of
	 * one CPU (tests/nested/README.md, "Why L2 -> L1 TCP was slow"): 8 MiB
	 * of guest TCP upload 108 -> 8.6 s, download 16.4 -> 6.1 s. With idle
	 * CPUs a wake-up goes to one of them and nothing changes. Unprivileged;
	 * a refusal changes nothing but speed. The syscall itself: musl's
	 * sched_setscheduler() only returns ENOSYS (POSIX means a process). */
	syscall(SYS_sched_setscheduler, 0, SCHED_BATCH,
		&(const struct sched_param){.sched_priority = 0});
	vm->state = VM_STATE_RUNNING;
	return 0;
}

int vm_start_paused(struct vm *vm, bool wait)
{
	int r;

	atomic_store(&vm->pause_requested, true);
	if ((r = vm_start(vm)) < 0)
		return r;
	if (wait)
		return vm_pause(vm);
	vm->state = VM_STATE_PAUSED;
	return 0;
}

static void kick_all(struct vm *vm)
{
	for (int i = 0; i < vm->ncpus; i++)
		vcpu_kick(&vm->vcpus[i]);
}

int vm_pause(struct vm *vm)
{
	if (vm->state == VM_STATE_PAUSED)
		return 0;
	if (vm->state != VM_STATE_RUNNING)
		return err_set(EINVAL, "VM is not running");
	atomic_store(&vm->pause_requested, true);
	pthread_mutex_lock(&vm->pause_lock);
	while (vm->nparked < vm->ncpus) {
		struct timespec ts;
		pthread_mutex_unlock(&vm->pause_lock);
		kick_all(vm);
		pthread_mutex_lock(&vm->pause_lock);
		clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_nsec += 10 * 1000 * 1000;
		if (ts.tv_nsec >= 1000000000) {
			ts.tv_sec++;
			ts.tv_nsec -= 1000000000;
		}
		if (vm->nparked < vm->ncpus)
			pthread_cond_timedwait(&vm->pause_cond, &vm->pause_lock, &ts);
	}
	pthread_mutex_unlock(&vm->pause_lock);
	vm->state = VM_STATE_PAUSED;
	return 0;
}

void vm_file_lease_break(struct vm *vm)
{
	bool running = vm && vm->state == VM_STATE_RUNNING;
	uint64_t kib;
	int r;

	if (!vm)
		return;
	vm_measure_wait(vm); /* it reads the files under the same leases */
	if (vm->lease_fds[0] < 0 && vm->lease_fds[1] < 0)
		return;
	kib = gm_file_mapped_bytes(&vm->mem) >> 10;
	if (running)
		vm_pause(vm);
	r = gm_unshare_files(&vm->mem);
	if (running)
		vm_resume(vm);
	if (r < 0) { /* the guest would lose its pages with the file: stop it */
		log_error("guest RAM mapped from the kernel/initrd file: copy failed: %s",
			  strerror(-r));
		vm_request_exit(vm, EMBER_EXIT_HOST_ERROR);
		return; /* the leases stay until ember exits */
	}
	for (int i = 0; i < 2; i++) {
		if (vm->lease_fds[i] < 0)
			continue;
		(void)fcntl(vm->lease_fds[i], F_SETLEASE, F_UNLCK);
		close(vm->lease_fds[i]);
		vm->lease_fds[i] = -1;
	}
	log_info("kernel/initrd file opened for writing: %llu KiB of guest RAM mapped from it "
		 "copied, file released",
		 (unsigned long long)kib);
}

int vm_resume(struct vm *vm)
{
	if (vm->state == VM_STATE_RUNNING)
		return 0;
	if (vm->state != VM_STATE_PAUSED)
		return err_set(EINVAL, "VM is not paused");
	pthread_mutex_lock(&vm->pause_lock);
	atomic_store(&vm->pause_requested, false);
	pthread_cond_broadcast(&vm->pause_cond);
	pthread_mutex_unlock(&vm->pause_lock);
	vm->state = VM_STATE_RUNNING;
	return 0;
}

const struct boot_measurements *vm_get_measurements(const struct vm *vm)
{
	vm_measure_wait((struct vm *)vm);
	return vm->measured.kernel[0] ? &vm->measured : NULL;
}

enum vm_state vm_get_state(const struct vm *vm)
{
	return vm->state;
}

bool vm_exited(const struct vm *vm, int *code)
{
	int c = atomic_load(&((struct vm *)vm)->exit_code);

	if (c < 0)
		return false;
	if (code)
		*code = c;
	return true;
}

int vm_oneshot_status(const struct vm *vm)
{
	return atomic_load(&((struct vm *)vm)->oneshot_status);
}

void vm_request_exit(struct vm *vm, int code)
{
	int expected = -1;
	uint64_t one = 1;

	atomic_compare_exchange_strong(&vm->exit_code, &expected, code);
	if (vm->exit_efd >= 0 && write(vm->exit_efd, &one, sizeof(one)) < 0) {
		/* counter full: the VMM thread wakes anyway */
	}
}

void vm_dump_vcpus(struct vm *vm)
{
	bool was_running = vm->state == VM_STATE_RUNNING;

	if (was_running && vm_pause(vm) < 0)
		return;
	for (int i = 0; i < vm->ncpus; i++)
		arch_vcpu_dump(vm->vcpus[i].fd, i);
	if (was_running)
		vm_resume(vm);
}

int vm_send_ctrl_alt_del(struct vm *vm)
{
	if (vm->state != VM_STATE_RUNNING)
		return err_set(EINVAL, "VM is not running");
	if (!arch_layout.i8042.bus) /* as Firecracker on aarch64 */
		return err_set(ENOTSUP, "SendCtrlAltDel needs an i8042, which the %s machine has not",
			       arch_layout.name);
	return i8042_send_ctrl_alt_del(&vm->i8042);
}

void vm_destroy(struct vm *vm)
{
	if (!vm)
		return;
	vm_measure_wait(vm);
	atomic_store(&vm->stopping, true);
	pthread_mutex_lock(&vm->pause_lock);
	pthread_cond_broadcast(&vm->pause_cond);
	pthread_mutex_unlock(&vm->pause_lock);
	if (vm->vcpus) {
		kick_all(vm);
		for (int i = 0; i < vm->ncpus; i++)
			vcpu_destroy(&vm->vcpus[i]);
		free(vm->vcpus);
	}
	vm_destroy_virtio_devices(vm);
	if (vm->el) {
		oneshot_stdin_close(vm);
		console_close(vm);
	}
	if (vm->exit_efd >= 0) {
		el_remove(vm->el, vm->exit_efd);
		close(vm->exit_efd);
	}
	serial_destroy(&vm->serial);
	arch_vm_destroy(vm->arch);
	free(vm->cmdline);
	gm_destroy(&vm->mem);
	for (int i = 0; i < 2; i++)
		if (vm->lease_fds[i] >= 0)
			close(vm->lease_fds[i]);
	if (vm->uffd >= 0)
		close(vm->uffd);
	free(vm->ws_record);
	if (vm->vm_fd >= 0)
		close(vm->vm_fd);
	if (vm->kvm_fd >= 0)
		close(vm->kvm_fd);
	pthread_mutex_destroy(&vm->pause_lock);
	pthread_cond_destroy(&vm->pause_cond);
	free(vm);
}
