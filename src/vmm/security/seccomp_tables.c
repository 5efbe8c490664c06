/* The built-in seccomp filters: one syscall table per thread kind (what each
 * thread was seen to need, and why). Linked into the build-time generator
 * (tools/seccomp_gen.c) and the unit tests; ember itself runs the programs
 * compiled from them (seccomp_builtin_bpf, seccomp.h) and does not carry the
 * tables. resources/seccomp/x86_64.json mirrors them. */
#include "ember/seccomp.h"

#include <fcntl.h>
#include <linux/if_tun.h>
#include <linux/io_uring.h>
#include <linux/kvm.h>
#include <linux/seccomp.h>
#include <linux/userfaultfd.h>
#include <sched.h>
#include <seccomp.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <linux/prctl.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <termios.h>

#include <linux/futex.h>

#include "ember/libc_compat.h"
#include "ember/util.h"
#include "seccomp_arch.h"

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

/* Memory management as malloc and thread exit do it; never PROT_EXEC.
 * The tables serve both C libraries ember builds with (musl for the
 * release binary, glibc for the tests and sanitizer builds; Makefile): where
 * the two make the same call differently, both forms are listed, and the
 * comment says "musl". */
#define RULES_MEMORY                                                                          \
	ALLOW(brk), ALLOW(munmap), ALLOW(mremap),                                             \
	ARG_MASKED(mmap, 2, PROT_EXEC, 0, "no PROT_EXEC"),                                    \
	ARG_MASKED(mprotect, 2, PROT_EXEC, 0, "no PROT_EXEC"),                                \
	ARG_EQ(madvise, 2, MADV_DONTNEED, "MADV_DONTNEED"),                                   \
	ARG_EQ(madvise, 2, MADV_FREE, "musl free(): the whole pages of a freed slot")

/* What every ember thread does: the C library's locks, condition variables
 * and pthread_join (private futexes; the join waits on a shared one;
 * musl's condition variables requeue), signals, logging (musl's stdio
 * writes with writev: a failed vCPU's registers), thread exit, abort()
 * (glibc sends SIGABRT with tgkill, musl with tkill). */
#define RULES_THREAD                                                                          \
	FUTEX(FUTEX_WAIT_PRIVATE), FUTEX(FUTEX_WAKE_PRIVATE), FUTEX(FUTEX_WAIT_BITSET_PRIVATE), \
	FUTEX(FUTEX_WAIT_BITSET_PRIVATE | FUTEX_CLOCK_REALTIME),                              \
	FUTEX(FUTEX_WAIT_BITSET | FUTEX_CLOCK_REALTIME), FUTEX(FUTEX_REQUEUE_PRIVATE),        \
	/* musl: pthread_join waits on the thread's tid, and the thread list lock */          \
	/* (taken at thread creation, exit and join) is the futex the kernel clears */        \
	/* and wakes at a thread's exit, so shared: its waits and wakes, even with */           \
	/* every signal blocked (a trap would be a kill there) */                              \
	FUTEX(FUTEX_WAIT), FUTEX(FUTEX_WAKE),                                                 \
	ALLOW(rt_sigprocmask), ALLOW(rt_sigreturn), ALLOW(restart_syscall),                   \
	ALLOW(clock_gettime), ALLOW(write), ALLOW(writev), ALLOW(exit), ALLOW(getpid),        \
	ARG_EQ(tgkill, 2, SIGABRT, "SIGABRT: abort()"),                                       \
	ARG_EQ(tkill, 1, SIGABRT, "SIGABRT: musl abort()")

/* vCPU threads: KVM_RUN and what a device does on an MMIO/PIO exit (write
 * to eventfds and the console, raise a legacy IRQ line, TAP offloads when a
 * virtio-net driver (re)starts, the boot timer's CPU clock, dump registers
 * when the vCPU fails). */
#define RULES_VCPU                                                                            \
	IOCTL(KVM_RUN), IOCTL(KVM_IRQ_LINE), RULES_ARCH_VCPU_REGS, IOCTL(TUNSETOFFLOAD), \
	ALLOW(io_uring_enter) /* virtio-blk "Async": a reset waits for its requests */

/* The VMM thread with a running guest: the event loop and the devices'
 * host side (blk file, TAP, vsock Unix sockets, balloon, rate-limiter and
 * metrics timers, console, the entropy device's host RNG, pmem flushes,
 * virtio-mem's slots), post-boot API requests (drive swap, pause with
 * vCPU kicks, Ctrl-Alt-Del, metrics flush), and tear-down (vCPU joins,
 * API and vsock socket files removed, the terminal restored, exit). */
#define RULES_VMM                                                                             \
	RULES_ARCH_LIBC_VMM, ALLOW(epoll_ctl), ALLOW(read), ALLOW(readv), ALLOW(writev),         \
	ALLOW(preadv), ALLOW(pwritev), ALLOW(fdatasync), ALLOW(lseek), ALLOW(close),         \
	ALLOW(openat), ALLOW(newfstatat), ALLOW(fstat), ALLOW(SYS_UNLINK), ALLOW(timerfd_settime), \
	ALLOW(recvfrom), ALLOW(sendto), ALLOW(sendmsg), ALLOW(shutdown), ALLOW(connect),     \
	ALLOW(exit_group), ARG_EQ(getrandom, 2, GRND_NONBLOCK, "entropy device: GRND_NONBLOCK"), \
	ARG_EQ2(socket, 0, AF_UNIX, 1, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC,            \
		"vsock: AF_UNIX stream"),                                                     \
	ARG_EQ(accept4, 3, SOCK_CLOEXEC | SOCK_NONBLOCK, "SOCK_CLOEXEC|SOCK_NONBLOCK"),     \
	ARG_EQ(fallocate, 1, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, "balloon: punch hole"), \
	ARG_EQ(madvise, 2, MADV_REMOVE, "balloon: MADV_REMOVE"),                             \
	ARG_EQ(fcntl, 1, F_GETFL, "F_GETFL"), ARG_EQ(fcntl, 1, F_SETFL, "F_SETFL"),         \
	ARG_EQ(fcntl, 1, F_SETLEASE, "kernel/initrd mapped into RAM: lease taken, released"), \
	ARG_EQ(fcntl, 1, F_SETFD, "musl open(O_CLOEXEC) sets FD_CLOEXEC again"),           \
	ARG_EQ(madvise, 2, MADV_DONTFORK, "guest RAM: not inherited by a fork (passt)"),   \
	ARG_EQ(madvise, 2, MADV_NOHUGEPAGE, "guest RAM: huge_pages None is 4 KiB pages"),  \
	ARG_EQ(prctl, 0, PR_SET_VMA, "guest RAM: named ember-guest-ram in smaps"),         \
	ARG_EQ(tgkill, 2, EMBER_KICK_SIGNAL, "vCPU kick (glibc pthread_kill)"),                \
	ARG_EQ(tkill, 1, EMBER_KICK_SIGNAL, "vCPU kick (musl pthread_kill)"),                  \
	ARG_EQ(tgkill, 2, SIGTERM, "SIGTERM: re-raised after clean-up"),                      \
	ARG_EQ(tgkill, 2, SIGINT, "SIGINT: re-raised after clean-up"),                        \
	IOCTL(KVM_IRQ_LINE), RULES_ARCH_VCPU_REGS, IOCTL(TUNSETOFFLOAD),                     \
	IOCTL(TCGETS), IOCTL(TCSETS), IOCTL(TIOCGWINSZ) /* musl isatty() */, RULES_SNAPSHOT, \
	IOCTL(KVM_SET_USER_MEMORY_REGION), /* virtio-mem maps and unmaps its slots */      \
	ALLOW(io_uring_enter) /* virtio-blk io_engine "Async" */

/* PUT /snapshot/create on the paused VM: the KVM state of the VM and every
 * vCPU, the memory file (sparse: ftruncate, pwrite of non-zero runs). */
#define RULES_SNAPSHOT                                                                        \
	ALLOW(ftruncate), ALLOW(pwrite64), /* pagemap: pages never touched skipped */ RULES_ARCH_SNAPSHOT, IOCTL(KVM_GET_DIRTY_LOG)

/* The API thread: poll, accept, HTTP over the Unix socket, the eventfd
 * mailbox to the VMM thread. */
#define RULES_API                                                                             \
	ALLOW(SYS_POLL), ALLOW(read), ALLOW(recvfrom), ALLOW(sendto), ALLOW(close),              \
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
	ARG_EQ(madvise, 2, MADV_POPULATE_READ, "snapshot load: working set mapped"),      \
	ARG_EQ(fadvise64, 3, POSIX_FADV_WILLNEED, "snapshot load: working set read ahead"), \
	ARG_EQ(madvise, 2, MADV_HUGEPAGE, "huge_pages Transparent"),                        \
	ARG_EQ(prctl, 0, PR_SET_NAME, "PR_SET_NAME: thread names"),                          \
	ARG_EQ(sched_setscheduler, 1, SCHED_BATCH, "the VMM thread's policy (vm_start)"),     \
	ARG_EQ(seccomp, 0, SECCOMP_SET_MODE_FILTER, "later threads add their own filter"),  \
	IOCTL(KVM_GET_API_VERSION), IOCTL(KVM_CHECK_EXTENSION), IOCTL(KVM_CREATE_VM),         \
	IOCTL(KVM_GET_VCPU_MMAP_SIZE), RULES_ARCH_VM_BOOT, IOCTL(KVM_IOEVENTFD),              \
	IOCTL(KVM_IRQFD), IOCTL(KVM_CREATE_VCPU), IOCTL(TUNSETIFF), IOCTL(TUNSETVNETHDRSZ),   \
	ALLOW(userfaultfd), IOCTL(USERFAULTFD_IOC_NEW), IOCTL(UFFDIO_API), IOCTL(UFFDIO_REGISTER), \
	ALLOW(io_uring_setup), /* io_engine "Async": the probe and the drive's ring */ \
	ARG_EQ(io_uring_register, 1, IORING_REGISTER_EVENTFD, "its completion eventfd")

static const struct seccomp_rule rules_vmm[] = {RULES_MEMORY, RULES_THREAD, RULES_VMM};
static const struct seccomp_rule rules_api[] = {RULES_MEMORY, RULES_THREAD, RULES_API};
static const struct seccomp_rule rules_vcpu[] = {RULES_MEMORY, RULES_THREAD, RULES_VCPU};
static const struct seccomp_rule rules_vmm_boot[] = {RULES_MEMORY, RULES_THREAD, RULES_VMM,
						     RULES_VCPU, RULES_VMM_BOOT};

/* clang-format on */

#define N(a) (sizeof(a) / sizeof((a)[0]))

const uint32_t seccomp_tables_arch = SECCOMP_TABLES_SCMP_ARCH;

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

void seccomp_builtin_filter(enum seccomp_thread kind, int variant, struct seccomp_filter *out)
{
	seccomp_default_filter(kind, out);
	if (variant == SECCOMP_BUILTIN_REPORT)
		out->default_action = SCMP_ACT_TRAP; /* report mode (seccomp.h) */
}
