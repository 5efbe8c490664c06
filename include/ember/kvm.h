/* Opening KVM: /dev/kvm with the API version and every capability ember
 * needs checked up front, the VM fd, the kvm_run size. Not a wrapper for
 * every KVM ioctl: the code that owns the state issues its own (registers,
 * CPUID, MSRs, IRQ chip, PIT and GSI routing in src/arch/x86_64, vGIC and
 * vCPU init in src/arch/aarch64; memory slots in vm.c; vCPU creation and KVM_RUN in vcpu.c; ioeventfd and irqfd
 * in vm_devices.c). */
#ifndef EMBER_KVM_H
#define EMBER_KVM_H

#include <stddef.h>

/* Open /dev/kvm and check the API version and every capability ember needs;
 * one clear line in err_msg() on failure. */
int kvm_open(int *kvm_fd);
/* One capability the architecture needs: 0, or -ENOTSUP naming it. */
int kvm_require_cap(int kvm_fd, int cap, const char *name);
/* Create a VM and check per-VM limits (vCPU count). */
int kvm_create_vm(int kvm_fd, int ncpus, int *vm_fd);
/* Size of the kvm_run mapping. */
int kvm_run_size(int kvm_fd, size_t *size);

#endif
