/* The built-in seccomp filters (one syscall table per thread kind) and their
 * compilation to BPF with libseccomp. At build time tools/seccomp_gen.c
 * compiles the built-in tables with this code into a generated C file that
 * ember links (seccomp_builtin_bpf, seccomp.h); at run time this code
 * compiles only a --seccomp-filter FILE (and the unit tests check that the
 * generated programs are what it produces from the tables). */
#include "ember/seccomp.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/filter.h>
#include <linux/if_tun.h>
#include <linux/kvm.h>
#include <linux/seccomp.h>
#include <linux/userfaultfd.h>
#include <sched.h>
#include <seccomp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <termios.h>
#include <unistd.h>

#include <linux/futex.h>

#include "ember/error.h"

/* ---- rule helpers for the tables ---- */

/* clang-format off */

#define ALLOW(name) {.nr = SCMP_SYS(name)}
/* argument i (a dword: low 32 bits) equal to v */
#define ARG_EQ(name, i, v, what)                                                              \
	{.nr = SCMP_SYS(name), .nconds = 1, .conds = {{.index = (i), .val = (v)}}, .comment = (what)}
#define ARG_EQ2(name, i, v, j, w, what)                                                       \
	{.nr = SCMP_SYS(name),                                                                \
	 .nconds = 2,                                                                         \
	 .conds = {{.index = (i), .val = (v)}, {.index = (j), .val = (w)}},                  \
	 .comment = (what)}
/* (argument i & m) == v */
#define ARG_MASKED(name, i, m, v, what)                                                       \
	{.nr = SCMP_SYS(name),                                                                \
	 .nconds = 1,                                                                         \
	 .conds = {{.index = (i), .qword = true, .op = SECCOMP_OP_MASKED_EQ, .mask = (m),       \
		    .val = (v)}},                                                             \
	 .comment = (what)}
#define IOCTL(req) ARG_EQ(ioctl, 1, req, #req)
#define FUTEX(op) ARG_EQ(futex, 1, op, #op)

/* Memory management as glibc's malloc and thread exit do it; never PROT_EXEC. */
#define RULES_MEMORY                                                                          \
	ALLOW(brk), ALLOW(munmap), ALLOW(mremap),                                             \
	ARG_MASKED(mmap, 2, PROT_EXEC, 0, "no PROT_EXEC"),                                    \
	ARG_MASKED(mprotect, 2, PROT_EXEC, 0, "no PROT_EXEC"),                                \
	ARG_EQ(madvise, 2, MADV_DONTNEED, "MADV_DONTNEED")

/* What every ember thread does: glibc's locks, condition variables and
 * pthread_join (private futexes; the join waits on a shared one), signals,
 * logging, thread exit, abort(). */
#define RULES_THREAD                                                                          \
	FUTEX(FUTEX_WAIT_PRIVATE), FUTEX(FUTEX_WAKE_PRIVATE), FUTEX(FUTEX_WAIT_BITSET_PRIVATE), \
	FUTEX(FUTEX_WAIT_BITSET_PRIVATE | FUTEX_CLOCK_REALTIME),                              \
	FUTEX(FUTEX_WAIT_BITSET | FUTEX_CLOCK_REALTIME),                                      \
	ALLOW(rt_sigprocmask), ALLOW(rt_sigreturn), ALLOW(restart_syscall),                   \
	ALLOW(clock_gettime), ALLOW(write), ALLOW(exit), ALLOW(getpid),                       \
	ARG_EQ(tgkill, 2, SIGABRT, "SIGABRT: abort()")

/* vCPU threads: KVM_RUN and what a device does on an MMIO/PIO exit (write
 * to eventfds and the console, raise a legacy IRQ line, TAP offloads when a
 * virtio-net driver (re)starts, the boot timer's CPU clock, dump registers
 * when the vCPU fails). */
#define RULES_VCPU                                                                            \
	IOCTL(KVM_RUN), IOCTL(KVM_IRQ_LINE), IOCTL(KVM_GET_REGS), IOCTL(KVM_GET_SREGS),      \
	IOCTL(TUNSETOFFLOAD)

/* The VMM thread with a running guest: the event loop and the devices'
 * host side (blk file, TAP, vsock Unix sockets, balloon, rate-limiter and
 * metrics timers, console, the entropy device's host RNG, pmem flushes,
 * virtio-mem's slots), post-boot API requests (drive swap, pause with
 * vCPU kicks, Ctrl-Alt-Del, metrics flush), and tear-down (vCPU joins,
 * API and vsock socket files removed, the terminal restored, exit). */
#define RULES_VMM                                                                             \
	ALLOW(epoll_wait), ALLOW(epoll_ctl), ALLOW(read), ALLOW(readv), ALLOW(writev),       \
	ALLOW(preadv), ALLOW(pwritev), ALLOW(fdatasync), ALLOW(lseek), ALLOW(close),         \
	ALLOW(openat), ALLOW(newfstatat), ALLOW(unlink), ALLOW(timerfd_settime),             \
	ALLOW(recvfrom), ALLOW(sendto), ALLOW(sendmsg), ALLOW(shutdown), ALLOW(connect),     \
	ALLOW(exit_group), ARG_EQ(getrandom, 2, GRND_NONBLOCK, "entropy device: GRND_NONBLOCK"), \
	ARG_EQ2(socket, 0, AF_UNIX, 1, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC,            \
		"vsock: AF_UNIX stream"),                                                     \
	ARG_EQ(accept4, 3, SOCK_CLOEXEC | SOCK_NONBLOCK, "SOCK_CLOEXEC|SOCK_NONBLOCK"),     \
	ARG_EQ(fallocate, 1, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, "balloon: punch hole"), \
	ARG_EQ(madvise, 2, MADV_REMOVE, "balloon: MADV_REMOVE"),                             \
	ARG_EQ(fcntl, 1, F_GETFL, "F_GETFL"), ARG_EQ(fcntl, 1, F_SETFL, "F_SETFL"),         \
	ARG_EQ(tgkill, 2, SECCOMP_KICK_SIGNAL_NR, "SIGRTMIN: vCPU kick"),                            \
	ARG_EQ(tgkill, 2, SIGTERM, "SIGTERM: re-raised after clean-up"),                      \
	ARG_EQ(tgkill, 2, SIGINT, "SIGINT: re-raised after clean-up"),                        \
	IOCTL(KVM_IRQ_LINE), IOCTL(KVM_GET_REGS), IOCTL(KVM_GET_SREGS), IOCTL(TUNSETOFFLOAD), \
	IOCTL(TCGETS), IOCTL(TCSETS), RULES_SNAPSHOT,                                        \
	IOCTL(KVM_SET_USER_MEMORY_REGION) /* virtio-mem maps and unmaps its slots */

/* PUT /snapshot/create on the paused VM: the KVM state of the VM and every
 * vCPU, the memory file (sparse: ftruncate, pwrite of non-zero runs). */
#define RULES_SNAPSHOT                                                                        \
	ALLOW(ftruncate), ALLOW(pwrite64),                                                    \
	IOCTL(KVM_GET_IRQCHIP), IOCTL(KVM_GET_PIT2), IOCTL(KVM_GET_CLOCK), IOCTL(KVM_GET_FPU), \
	IOCTL(KVM_GET_LAPIC), IOCTL(KVM_GET_MP_STATE), IOCTL(KVM_GET_VCPU_EVENTS),            \
	IOCTL(KVM_GET_DEBUGREGS), IOCTL(KVM_GET_XSAVE), IOCTL(KVM_GET_XCRS),                  \
	IOCTL(KVM_GET_MSR_INDEX_LIST), IOCTL(KVM_GET_MSRS), IOCTL(KVM_GET_CPUID2),            \
	IOCTL(KVM_GET_DIRTY_LOG)

/* The API thread: poll, accept, HTTP over the Unix socket, the eventfd
 * mailbox to the VMM thread. */
#define RULES_API                                                                             \
	ALLOW(poll), ALLOW(read), ALLOW(recvfrom), ALLOW(sendto), ALLOW(close),              \
	ARG_EQ(accept4, 3, SOCK_CLOEXEC | SOCK_NONBLOCK, "SOCK_CLOEXEC|SOCK_NONBLOCK")

/* API mode before InstanceStart, on top of VMM and vCPU: applying requests
 * (files opened and checked, logger/metrics files) and building the VM
 * (KVM, guest memory, devices, the vsock listener, vCPU threads: created
 * here, they start under this filter until they install theirs). */
#define RULES_VMM_BOOT                                                                        \
	ALLOW(eventfd2), ALLOW(timerfd_create), ALLOW(memfd_create), ALLOW(ftruncate),       \
	ALLOW(bind), ALLOW(listen), ALLOW(rt_sigaction), ALLOW(clone3),                       \
	ARG_MASKED(clone, 0, CLONE_THREAD, CLONE_THREAD, "threads only (no clone3: old kernels)"), \
	ALLOW(set_robust_list), ALLOW(rseq),                                                  \
	ALLOW(sendfile), /* kernel and initrd files into the guest-RAM memfd */               \
	ARG_EQ(madvise, 2, MADV_POPULATE_WRITE, "guest RAM faulted in before a kernel load"), \
	ARG_EQ(prctl, 0, PR_SET_NAME, "PR_SET_NAME: thread names"),                          \
	ARG_EQ(seccomp, 0, SECCOMP_SET_MODE_FILTER, "later threads add their own filter"),  \
	IOCTL(KVM_GET_API_VERSION), IOCTL(KVM_CHECK_EXTENSION), IOCTL(KVM_CREATE_VM),         \
	IOCTL(KVM_GET_VCPU_MMAP_SIZE), IOCTL(KVM_GET_SUPPORTED_CPUID), IOCTL(KVM_SET_TSS_ADDR), \
	IOCTL(KVM_SET_IDENTITY_MAP_ADDR), IOCTL(KVM_CREATE_IRQCHIP), IOCTL(KVM_CREATE_PIT2),  \
	IOCTL(KVM_SET_GSI_ROUTING), IOCTL(KVM_IOEVENTFD),                                      \
	IOCTL(KVM_IRQFD), IOCTL(KVM_CREATE_VCPU), IOCTL(KVM_SET_CPUID2), IOCTL(KVM_SET_MSRS),  \
	IOCTL(KVM_GET_MSRS), IOCTL(KVM_SET_REGS), IOCTL(KVM_SET_SREGS), IOCTL(KVM_SET_FPU),   \
	IOCTL(KVM_GET_LAPIC), IOCTL(KVM_SET_LAPIC), IOCTL(TUNSETIFF), IOCTL(TUNSETVNETHDRSZ), \
	ALLOW(fstat), IOCTL(KVM_SET_IRQCHIP), IOCTL(KVM_SET_PIT2), IOCTL(KVM_SET_CLOCK),     \
	IOCTL(KVM_SET_XSAVE), IOCTL(KVM_SET_XCRS), IOCTL(KVM_SET_MP_STATE),                   \
	IOCTL(KVM_SET_VCPU_EVENTS), IOCTL(KVM_SET_DEBUGREGS),                                 \
	ALLOW(userfaultfd), IOCTL(USERFAULTFD_IOC_NEW), IOCTL(UFFDIO_API), IOCTL(UFFDIO_REGISTER)

static const struct seccomp_rule rules_vmm[] = {RULES_MEMORY, RULES_THREAD, RULES_VMM};
static const struct seccomp_rule rules_api[] = {RULES_MEMORY, RULES_THREAD, RULES_API};
static const struct seccomp_rule rules_vcpu[] = {RULES_MEMORY, RULES_THREAD, RULES_VCPU};
static const struct seccomp_rule rules_vmm_boot[] = {RULES_MEMORY, RULES_THREAD, RULES_VMM,
						     RULES_VCPU, RULES_VMM_BOOT};

/* Sanitizer runtimes (reports, LeakSanitizer's stop-the-world at exit: its
 * tracer is a clone of the thread without CLONE_THREAD, so a syscall missing
 * here kills only the tracer and leaves the process waiting). Their mmap and
 * mprotect calls need no PROT_EXEC: the built-in rules cover them. */
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_UNDEFINED__)
#define EMBER_SANITIZER 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(undefined_behavior_sanitizer)
#define EMBER_SANITIZER 1
#endif
#endif
#ifdef EMBER_SANITIZER
static const struct seccomp_rule rules_sanitizer[] = {
	ALLOW(open), ALLOW(openat), ALLOW(close), ALLOW(read), ALLOW(pread64), ALLOW(lseek),
	ALLOW(stat), ALLOW(lstat), ALLOW(fstat), ALLOW(newfstatat), ALLOW(readlink),
	ALLOW(getdents), ALLOW(getdents64), ALLOW(madvise), ALLOW(munmap),
	ALLOW(mremap), ALLOW(ptrace), ALLOW(wait4), ALLOW(clone), ALLOW(prctl),
	ALLOW(arch_prctl), ALLOW(sched_yield), ALLOW(sigaltstack), ALLOW(rt_sigaction),
	ALLOW(tgkill), ALLOW(kill), ALLOW(getpid), ALLOW(getppid), ALLOW(gettid),
	ALLOW(process_vm_readv), ALLOW(uname), ALLOW(getrlimit), ALLOW(setrlimit),
	ALLOW(prlimit64), ALLOW(futex), ALLOW(sched_getaffinity), ALLOW(dup), ALLOW(dup2),
	ALLOW(dup3), ALLOW(pipe), ALLOW(pipe2), ALLOW(getrusage), ALLOW(nanosleep),
	ALLOW(clock_nanosleep), ALLOW(exit), ALLOW(exit_group),
};
#endif

/* clang-format on */

#define N(a) (sizeof(a) / sizeof((a)[0]))

void seccomp_default_filter(enum seccomp_thread kind, struct seccomp_filter *out)
{
	out->default_action = SCMP_ACT_KILL_PROCESS;
	out->filter_action = SCMP_ACT_ALLOW;
	switch (kind) {
	case SECCOMP_THREAD_API:
		out->rules = rules_api;
		out->nrules = N(rules_api);
		break;
	case SECCOMP_THREAD_VCPU:
		out->rules = rules_vcpu;
		out->nrules = N(rules_vcpu);
		break;
	case SECCOMP_THREAD_VMM_BOOT:
		out->rules = rules_vmm_boot;
		out->nrules = N(rules_vmm_boot);
		break;
	default:
		out->rules = rules_vmm;
		out->nrules = N(rules_vmm);
		break;
	}
}

const char *seccomp_thread_name(enum seccomp_thread kind)
{
	static const char *const names[] = {"vmm", "api", "vcpu", "vmm boot"};

	return kind < SECCOMP_THREAD_ALL ? names[kind] : "?";
}

/* ---- compilation ---- */

static struct scmp_arg_cmp to_scmp(const struct seccomp_cond *c)
{
	static const enum scmp_compare ops[] = {
	    [SECCOMP_OP_EQ] = SCMP_CMP_EQ,
	    [SECCOMP_OP_NE] = SCMP_CMP_NE,
	    [SECCOMP_OP_LT] = SCMP_CMP_LT,
	    [SECCOMP_OP_LE] = SCMP_CMP_LE,
	    [SECCOMP_OP_GT] = SCMP_CMP_GT,
	    [SECCOMP_OP_GE] = SCMP_CMP_GE,
	    [SECCOMP_OP_MASKED_EQ] = SCMP_CMP_MASKED_EQ,
	};
	struct scmp_arg_cmp a = {.arg = c->index, .op = ops[c->op], .datum_a = c->val};

	if (c->op == SECCOMP_OP_MASKED_EQ) {
		a.datum_a = c->mask;
		a.datum_b = c->val;
	} else if (c->op == SECCOMP_OP_EQ && !c->qword) {
		/* the low 32 bits only: the kernel ignores the rest of an int */
		a.op = SCMP_CMP_MASKED_EQ;
		a.datum_a = 0xffffffffULL;
		a.datum_b = c->val;
	}
	return a;
}

static const char *syscall_name(int nr, char *buf, size_t len)
{
	char *n = seccomp_syscall_resolve_num_arch(SCMP_ARCH_NATIVE, nr);

	snprintf(buf, len, "%s", n ? n : "?");
	free(n);
	return buf;
}

static int add_rules(scmp_filter_ctx ctx, uint32_t action, const struct seccomp_rule *rules,
		     size_t n, bool extra)
{
	for (size_t i = 0; i < n; i++) {
		const struct seccomp_rule *r = &rules[i];
		struct scmp_arg_cmp a[SECCOMP_MAX_CONDS];
		char name[64];
		int e;

		if (r->nconds > SECCOMP_MAX_CONDS)
			return err_set(EINVAL, "filter[%zu]: too many conditions", i);
		for (unsigned k = 0; k < r->nconds; k++) {
			if (r->conds[k].index >= SECCOMP_MAX_CONDS ||
			    (unsigned)r->conds[k].op > SECCOMP_OP_MASKED_EQ)
				return err_set(EINVAL, "filter[%zu]: bad condition %u", i, k);
			a[k] = to_scmp(&r->conds[k]);
		}
		e = seccomp_rule_add_array(ctx, action, r->nr, r->nconds, a);
		if (e == -EACCES && extra)
			continue; /* the file's default action already is the extra's */
		if (e < 0)
			return err_set(-e, "%sfilter[%zu] (%s): libseccomp refused the rule: %s",
				       extra ? "sanitizer extra " : "", i,
				       syscall_name(r->nr, name, sizeof(name)), strerror(-e));
	}
	return 0;
}

static int export_bpf(scmp_filter_ctx ctx, void **prog_out, size_t *len_out)
{
	int fd = memfd_create("ember-seccomp", MFD_CLOEXEC), r;
	struct stat st;
	void *p;

	if (fd < 0)
		return err_set(errno, "seccomp: memfd_create: %s", strerror(errno));
	if ((r = seccomp_export_bpf(ctx, fd)) < 0) {
		close(fd);
		return err_set(-r, "seccomp: exporting the BPF program: %s", strerror(-r));
	}
	if (fstat(fd, &st) < 0 || st.st_size <= 0 || st.st_size % sizeof(struct sock_filter) ||
	    st.st_size / sizeof(struct sock_filter) > BPF_MAXINSNS) {
		close(fd);
		return err_set(E2BIG, "seccomp: BPF program of %lld bytes", (long long)st.st_size);
	}
	p = malloc((size_t)st.st_size);
	if (!p || pread(fd, p, (size_t)st.st_size, 0) != st.st_size) {
		free(p);
		close(fd);
		return err_set(EIO, "seccomp: reading the BPF program back");
	}
	close(fd);
	*prog_out = p;
	*len_out = (size_t)st.st_size / sizeof(struct sock_filter);
	return 0;
}

int seccomp_compile(const struct seccomp_filter *f, void **prog_out, size_t *len_out)
{
	scmp_filter_ctx ctx;
	int r;

	if (f->default_action == f->filter_action)
		return err_set(EINVAL, "default_action and filter_action are the same");
	ctx = seccomp_init(f->default_action);
	if (!ctx)
		return err_set(EINVAL, "libseccomp refused the default action %#x",
			       f->default_action);
	if ((r = seccomp_attr_set(ctx, SCMP_FLTATR_ACT_BADARCH, SCMP_ACT_KILL_PROCESS)) < 0 ||
	    (r = seccomp_attr_set(ctx, SCMP_FLTATR_CTL_NNP, 0)) < 0) {
		seccomp_release(ctx);
		return err_set(-r, "libseccomp attributes: %s", strerror(-r));
	}
	r = add_rules(ctx, f->filter_action, f->rules, f->nrules, false);
#ifdef EMBER_SANITIZER
	if (r == 0 && f->filter_action == SCMP_ACT_ALLOW)
		r = add_rules(ctx, SCMP_ACT_ALLOW, rules_sanitizer, N(rules_sanitizer), true);
#endif
	if (r == 0 && prog_out)
		r = export_bpf(ctx, prog_out, len_out);
	seccomp_release(ctx);
	return r;
}

void seccomp_builtin_filter(enum seccomp_thread kind, int variant, struct seccomp_filter *out)
{
	seccomp_default_filter(kind, out);
	if (variant == SECCOMP_BUILTIN_REPORT)
		out->default_action = SCMP_ACT_TRAP; /* report mode (seccomp.h) */
}
