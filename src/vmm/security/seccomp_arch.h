/* The KVM ioctls of the built-in seccomp tables that differ per
 * architecture (the tables' only #if; syscall names are resolved per
 * architecture by libseccomp). Included by seccomp_tables.c after its IOCTL().
 *
 * The tables are for the architecture being compiled for, or for the one
 * EMBER_SECCOMP_TABLES_ARCH names (aarch64): a cross build compiles them for
 * the build host with the target's ioctls to generate the target's BPF at
 * build time (tools/seccomp_gen.c). Every other constant of the tables has
 * the same value on x86_64 and aarch64 (the generic ioctl encoding, fcntl,
 * socket, mmap, futex, signal numbers); syscall numbers are the host's and
 * libseccomp translates them by name (seccomp_tables_arch). */
#ifndef EMBER_SECCOMP_ARCH_H
#define EMBER_SECCOMP_ARCH_H

#include <linux/kvm.h>

#if defined(EMBER_SECCOMP_TABLES_AARCH64) || defined(__aarch64__)
#define SECCOMP_TABLES_AARCH64 1
#elif defined(__x86_64__)
#define SECCOMP_TABLES_X86_64 1
#endif

/* clang-format off */
#if defined(SECCOMP_TABLES_X86_64)

#define SECCOMP_TABLES_SCMP_ARCH SCMP_ARCH_X86_64

/* epoll_wait() (glibc: epoll_wait; musl: epoll_pwait), open() (musl; glibc
 * opens with openat), stat() and fstat() (musl; glibc: newfstatat), poll()
 * and unlink() */
#define RULES_ARCH_LIBC_VMM ALLOW(epoll_wait), ALLOW(epoll_pwait), ALLOW(open), ALLOW(stat)
#define SYS_POLL poll
#define SYS_UNLINK unlink

/* A failed vCPU's registers to the log (vCPU and VMM threads). */
#define RULES_ARCH_VCPU_REGS IOCTL(KVM_GET_REGS), IOCTL(KVM_GET_SREGS)

/* PUT /snapshot/create: the VM's and every vCPU's KVM state. */
#define RULES_ARCH_SNAPSHOT                                                                   \
	IOCTL(KVM_GET_IRQCHIP), IOCTL(KVM_GET_PIT2), IOCTL(KVM_GET_CLOCK), IOCTL(KVM_GET_FPU), \
	IOCTL(KVM_GET_LAPIC), IOCTL(KVM_GET_MP_STATE), IOCTL(KVM_GET_VCPU_EVENTS),            \
	IOCTL(KVM_GET_DEBUGREGS), IOCTL(KVM_GET_XSAVE), IOCTL(KVM_GET_XCRS),                  \
	IOCTL(KVM_GET_MSR_INDEX_LIST), IOCTL(KVM_GET_MSRS), IOCTL(KVM_GET_CPUID2)

/* Building the VM (irqchip, PIT, routing, CPUID, MSRs, registers) or
 * putting a snapshot's state back. */
#define RULES_ARCH_VM_BOOT                                                                    \
	IOCTL(KVM_GET_SUPPORTED_CPUID), IOCTL(KVM_SET_TSS_ADDR),                              \
	IOCTL(KVM_SET_IDENTITY_MAP_ADDR), IOCTL(KVM_CREATE_IRQCHIP), IOCTL(KVM_CREATE_PIT2),  \
	IOCTL(KVM_SET_GSI_ROUTING), IOCTL(KVM_SET_CPUID2), IOCTL(KVM_SET_MSRS),               \
	IOCTL(KVM_GET_MSRS), IOCTL(KVM_SET_REGS), IOCTL(KVM_SET_SREGS), IOCTL(KVM_SET_FPU),   \
	IOCTL(KVM_GET_LAPIC), IOCTL(KVM_SET_LAPIC),                                           \
	IOCTL(KVM_SET_IRQCHIP), IOCTL(KVM_SET_PIT2), IOCTL(KVM_SET_CLOCK),                    \
	IOCTL(KVM_SET_XSAVE), IOCTL(KVM_SET_XCRS), IOCTL(KVM_SET_MP_STATE),                   \
	IOCTL(KVM_SET_VCPU_EVENTS), IOCTL(KVM_SET_DEBUGREGS)

#elif defined(SECCOMP_TABLES_AARCH64)

#define SECCOMP_TABLES_SCMP_ARCH SCMP_ARCH_AARCH64

#ifndef __aarch64__
/* arm64's struct kvm_vcpu_init (its asm/kvm.h, not the build host's), the
 * argument of KVM_ARM_PREFERRED_TARGET and KVM_ARM_VCPU_INIT */
struct kvm_vcpu_init {
	__u32 target;
	__u32 features[7];
};
#endif
_Static_assert(sizeof(struct kvm_vcpu_init) == 32, "arm64 struct kvm_vcpu_init");

/* arm64 has only the newer calls: epoll_wait(), poll() and unlink() make
 * these */
#define RULES_ARCH_LIBC_VMM ALLOW(epoll_pwait)
#define SYS_POLL ppoll
#define SYS_UNLINK unlinkat

/* Registers are read one at a time (a failed vCPU's PC, PSTATE, ...). */
#define RULES_ARCH_VCPU_REGS IOCTL(KVM_GET_ONE_REG)

/* Snapshots are not implemented on aarch64: nothing beyond memory. */
#define RULES_ARCH_SNAPSHOT IOCTL(KVM_GET_ONE_REG)

/* The vGIC (a KVM device), vCPU init, boot registers. */
#define RULES_ARCH_VM_BOOT                                                                    \
	IOCTL(KVM_ARM_PREFERRED_TARGET), IOCTL(KVM_ARM_VCPU_INIT), IOCTL(KVM_SET_ONE_REG),    \
	IOCTL(KVM_GET_ONE_REG), IOCTL(KVM_CREATE_DEVICE), IOCTL(KVM_SET_DEVICE_ATTR)

#else
#error "seccomp: the KVM ioctls of this architecture"
#endif
/* clang-format on */

#endif
