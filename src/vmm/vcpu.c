/* vCPU threads: the KVM_RUN loop, exits dispatched to the PIO/MMIO buses,
 * parking for pause, and kicks through a signal + immediate_exit. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include "ember/error.h"
#include "ember/log.h"
#include "ember/metrics.h"
#include "ember/seccomp.h"
#include "vm_priv.h"

#define KICK_SIGNAL EMBER_KICK_SIGNAL

static void kick_handler(int sig)
{
	(void)sig;
}

void vcpu_signals_init(void)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = kick_handler;
	sigemptyset(&sa.sa_mask);
	sigaction(KICK_SIGNAL, &sa, NULL);
}

int vcpu_init(struct vm *vm, int id, struct vcpu *v)
{
	memset(v, 0, sizeof(*v));
	v->vm = vm;
	v->id = id;
	v->fd = ioctl(vm->vm_fd, KVM_CREATE_VCPU, id);
	if (v->fd < 0)
		return err_set(errno, "KVM_CREATE_VCPU %d: %s", id, strerror(errno));
	v->run_size = (size_t)ioctl(vm->kvm_fd, KVM_GET_VCPU_MMAP_SIZE, 0);
	v->run = mmap(NULL, v->run_size, PROT_READ | PROT_WRITE, MAP_SHARED, v->fd, 0);
	if (v->run == MAP_FAILED) {
		v->run = NULL;
		return err_set(errno, "mapping vCPU %d run area: %s", id, strerror(errno));
	}
	return arch_vcpu_init(vm->arch, v->fd, id);
}

int vcpu_configure(struct vcpu *v)
{
	return arch_vcpu_configure(v->vm->arch, v->fd, v->id);
}

static void vcpu_fail(struct vcpu *v, int code, const char *what)
{
	METRIC_INC(metrics.vcpu.failures);
	if (code == EMBER_EXIT_KVM_ERROR)
		METRIC_INC(metrics.vcpu.kvm_internal_errors);
	else if (code == EMBER_EXIT_GUEST_CRASH)
		METRIC_INC(metrics.vcpu.shutdown_exits);
	log_error("vCPU %d: %s", v->id, what);
	arch_vcpu_dump(v->fd, v->id);
	vm_request_exit(v->vm, code);
}

static void handle_io(struct vcpu *v);
static void handle_mmio(struct vcpu *v);

/* A PIO or MMIO read that ember answered is finished by KVM only at the next
 * KVM_RUN (the data goes into the register, RIP moves on). Before parking,
 * a KVM_RUN with immediate_exit completes it without entering the guest, so
 * a snapshot never holds a half-done instruction that a restore would run
 * again (a second read of the serial port's receive buffer pops another
 * byte). A further exit (an access split in two) is handled the same way. */
static void complete_exit(struct vcpu *v)
{
	while (v->exit_pending) {
		int r;

		v->exit_pending = false;
		__atomic_store_n(&v->run->immediate_exit, 1, __ATOMIC_SEQ_CST);
		r = ioctl(v->fd, KVM_RUN, 0);
		__atomic_store_n(&v->run->immediate_exit, 0, __ATOMIC_SEQ_CST);
		if (r == 0 && v->run->exit_reason == KVM_EXIT_IO) {
			handle_io(v);
			v->exit_pending = true;
		} else if (r == 0 && v->run->exit_reason == KVM_EXIT_MMIO) {
			handle_mmio(v);
			v->exit_pending = true;
		}
	}
}

/* Park while a pause is requested; returns false if the VM is stopping. */
static bool park_if_needed(struct vcpu *v)
{
	struct vm *vm = v->vm;

	if (!atomic_load(&vm->pause_requested) && !atomic_load(&vm->stopping))
		return true;
	complete_exit(v);
	pthread_mutex_lock(&vm->pause_lock);
	vm->nparked++;
	pthread_cond_broadcast(&vm->pause_cond);
	while (atomic_load(&vm->pause_requested) && !atomic_load(&vm->stopping))
		pthread_cond_wait(&vm->pause_cond, &vm->pause_lock);
	vm->nparked--;
	pthread_mutex_unlock(&vm->pause_lock);
	return !atomic_load(&vm->stopping);
}

static void handle_io(struct vcpu *v)
{
	struct kvm_run *run = v->run;
	uint8_t *data = (uint8_t *)run + run->io.data_offset;

	if (run->io.direction == KVM_EXIT_IO_OUT)
		METRIC_INC(metrics.vcpu.exit_io_out);
	else
		METRIC_INC(metrics.vcpu.exit_io_in);
	for (uint32_t i = 0; i < run->io.count; i++) {
		bus_access(&v->vm->pio, run->io.port, data, run->io.size,
			   run->io.direction == KVM_EXIT_IO_OUT);
		data += run->io.size;
	}
}

static void handle_mmio(struct vcpu *v)
{
	struct kvm_run *run = v->run;
	uint32_t len = run->mmio.len;

	if (len > sizeof(run->mmio.data))
		len = sizeof(run->mmio.data);
	if (run->mmio.is_write)
		METRIC_INC(metrics.vcpu.exit_mmio_write);
	else
		METRIC_INC(metrics.vcpu.exit_mmio_read);
	if (bus_access(&v->vm->mmio, run->mmio.phys_addr, run->mmio.data, len, run->mmio.is_write) <
	    0)
		log_debug("vCPU %d: MMIO %s of %u bytes at %#llx: nothing mapped", v->id,
			  run->mmio.is_write ? "write" : "read", len,
			  (unsigned long long)run->mmio.phys_addr);
}

static void *vcpu_thread(void *arg)
{
	struct vcpu *v = arg;
	struct vm *vm = v->vm;
	sigset_t set;
	char name[16];

	/* Firecracker's name: Kata finds vCPU threads by it to pin them. */
	snprintf(name, sizeof(name), "fc_vcpu %d", v->id);
	pthread_setname_np(pthread_self(), name);
	log_set_thread_name(name);
	sigemptyset(&set);
	sigaddset(&set, KICK_SIGNAL);
	pthread_sigmask(SIG_UNBLOCK, &set, NULL);
	/* Before the first KVM_RUN: the guest's input starts there. */
	if (seccomp_install(SECCOMP_THREAD_VCPU) < 0) {
		log_error("vCPU %d: %s", v->id, err_msg());
		vm_request_exit(vm, EMBER_EXIT_HOST_ERROR);
		goto out;
	}

	for (;;) {
		if (!park_if_needed(v))
			break;
		v->exit_pending = false;
		if (ioctl(v->fd, KVM_RUN, 0) < 0) {
			if (errno == EINTR || errno == EAGAIN) {
				v->run->immediate_exit = 0;
				continue;
			}
			char msg[96];
			snprintf(msg, sizeof(msg), "KVM_RUN failed: %s", strerror(errno));
			vcpu_fail(v, EMBER_EXIT_KVM_ERROR, msg);
			break;
		}
		switch (v->run->exit_reason) {
		case KVM_EXIT_IO:
			handle_io(v);
			v->exit_pending = true;
			break;
		case KVM_EXIT_MMIO:
			handle_mmio(v);
			v->exit_pending = true;
			break;
		case KVM_EXIT_HLT:
			log_info("vCPU %d halted", v->id);
			vm_request_exit(vm, EMBER_EXIT_OK);
			goto out;
		case KVM_EXIT_SHUTDOWN:
			vcpu_fail(v, EMBER_EXIT_GUEST_CRASH,
				  "guest triple fault (KVM_EXIT_SHUTDOWN)");
			goto out;
		case KVM_EXIT_SYSTEM_EVENT:
			if (v->run->system_event.type == KVM_SYSTEM_EVENT_CRASH) {
				vcpu_fail(v, EMBER_EXIT_GUEST_CRASH, "guest crash event");
			} else {
				log_info("vCPU %d: guest %s", v->id,
					 v->run->system_event.type == KVM_SYSTEM_EVENT_RESET
					     ? "reset"
					     : "shutdown");
				vm_request_exit(vm, EMBER_EXIT_OK);
			}
			goto out;
		case KVM_EXIT_FAIL_ENTRY: {
			char msg[96];
			snprintf(
			    msg, sizeof(msg), "KVM entry failed, hardware reason %#llx",
			    (unsigned long long)v->run->fail_entry.hardware_entry_failure_reason);
			vcpu_fail(v, EMBER_EXIT_KVM_ERROR, msg);
			goto out;
		}
		case KVM_EXIT_INTERNAL_ERROR: {
			char msg[128];
			int n = snprintf(msg, sizeof(msg), "KVM internal error, suberror %u",
					 v->run->internal.suberror);
			for (uint32_t i = 0; i < v->run->internal.ndata && i < 4 && n < 100; i++)
				n += snprintf(msg + n, sizeof(msg) - (size_t)n, " %#llx",
					      (unsigned long long)v->run->internal.data[i]);
			vcpu_fail(v, EMBER_EXIT_KVM_ERROR, msg);
			goto out;
		}
		case KVM_EXIT_INTR:
			v->run->immediate_exit = 0;
			break;
		default: {
			char msg[64];
			snprintf(msg, sizeof(msg), "unexpected KVM exit reason %u",
				 v->run->exit_reason);
			vcpu_fail(v, EMBER_EXIT_KVM_ERROR, msg);
			goto out;
		}
		}
	}
out:
	/* Count this thread as parked for good so vm_pause never waits on it. */
	pthread_mutex_lock(&vm->pause_lock);
	vm->nparked++;
	pthread_cond_broadcast(&vm->pause_cond);
	pthread_mutex_unlock(&vm->pause_lock);
	return NULL;
}

int vcpu_start(struct vcpu *v)
{
	int r = pthread_create(&v->thread, NULL, vcpu_thread, v);

	char name[16];

	if (r)
		return err_set(r, "starting vCPU %d thread: %s", v->id, strerror(r));
	v->thread_started = true;
	/* Named here too, so it has its name when the start request returns
	 * (Kata lists the fc_vcpu threads right after). */
	snprintf(name, sizeof(name), "fc_vcpu %d", v->id);
	pthread_setname_np(v->thread, name);
	return 0;
}

void vcpu_kick(struct vcpu *v)
{
	if (!v->thread_started || !v->run)
		return;
	__atomic_store_n(&v->run->immediate_exit, 1, __ATOMIC_SEQ_CST);
	pthread_kill(v->thread, KICK_SIGNAL);
}

void vcpu_destroy(struct vcpu *v)
{
	if (v->thread_started) {
		pthread_join(v->thread, NULL);
		v->thread_started = false;
	}
	if (v->run)
		munmap(v->run, v->run_size);
	if (v->fd > 0)
		close(v->fd);
	v->run = NULL;
	v->fd = -1;
}
