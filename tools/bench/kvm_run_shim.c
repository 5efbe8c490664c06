/* kvm_run_shim.so: LD_PRELOAD'ed into a VMM (ember, kvmtool) by
 * boot_probe's "kvmrun" mode. On the process's first KVM_RUN it writes
 *   cpu_run_ns=C mono_run_ns=M kvm_ioctl_cpu_ns=K
 * to the descriptor named by KVM_RUN_SHIM_FD (C = CLOCK_PROCESS_CPUTIME_ID:
 * all threads from exec on; M = CLOCK_MONOTONIC; K = the part of C spent
 * inside KVM's own ioctls, the host kernel's work, each thread's clock read
 * around every KVMIO ioctl: C - K is the VMM's own CPU time), then holds
 * that vCPU thread (the guest has not run an instruction) until boot_probe has read
 * /proc/PID/smaps and killed the process. Any VMM that calls libc's ioctl()
 * is measured the same way; run it without seccomp filters (nanosleep).
 * A static binary (ember, see the Makefile) ignores LD_PRELOAD: the Makefile
 * links this file into a copy of it instead ($(BUILD)/bench/ember-kvmrun,
 * -DKVM_RUN_SHIM_WRAP and ld's --wrap=ioctl: ember's ioctl() calls come
 * here, and __real_ioctl is libc's), which does the same on the same
 * environment variable. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <dlfcn.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <linux/kvm.h>

#ifdef KVM_RUN_SHIM_WRAP
int __real_ioctl(int fd, unsigned long req, ...);
int __wrap_ioctl(int fd, unsigned long req, ...);
#define ioctl __wrap_ioctl
#else
int ioctl(int fd, unsigned long req, ...);
#endif

static atomic_int seen;
static atomic_llong kvm_ns;

static long long ns(clockid_t c)
{
	struct timespec ts;

	clock_gettime(c, &ts);
	return (long long)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

int ioctl(int fd, unsigned long req, ...)
{
	static int (*real)(int, unsigned long, ...);
	va_list ap;
	void *arg;

	va_start(ap, req);
	arg = va_arg(ap, void *);
	va_end(ap);
	if (req == KVM_RUN && atomic_exchange(&seen, 1) == 0) {
		long long cpu = ns(CLOCK_PROCESS_CPUTIME_ID), mono = ns(CLOCK_MONOTONIC);
		long long kvm = atomic_load(&kvm_ns);
		const char *e = getenv("KVM_RUN_SHIM_FD");
		char line[96];
		int n;

		if (e) {
			n = snprintf(line, sizeof(line),
				     "cpu_run_ns=%lld mono_run_ns=%lld kvm_ioctl_cpu_ns=%lld\n",
				     cpu, mono, kvm);
			if (write(atoi(e), line, (size_t)n) != n)
				_exit(120);
			for (int i = 0; i < 600; i++) /* at most 60 s: boot_probe kills us */
				nanosleep(&(struct timespec){.tv_nsec = 100000000}, NULL);
			_exit(121);
		}
	}
	if (!real)
#ifdef KVM_RUN_SHIM_WRAP
		real = __real_ioctl;
#else
		real = (int (*)(int, unsigned long, ...))dlsym(RTLD_NEXT, "ioctl");
#endif
	if (_IOC_TYPE(req) == KVMIO && !atomic_load(&seen)) {
		long long t = ns(CLOCK_THREAD_CPUTIME_ID);
		int r = real(fd, req, arg);

		atomic_fetch_add(&kvm_ns, ns(CLOCK_THREAD_CPUTIME_ID) - t);
		return r;
	}
	return real(fd, req, arg);
}
