/* Thin, checked wrappers around /dev/kvm. */
#ifndef EMBER_KVM_H
#define EMBER_KVM_H

#include <stddef.h>

/* Open /dev/kvm and check the API version and every capability ember needs;
 * one clear line in err_msg() on failure. */
int kvm_open(int *kvm_fd);
/* Create a VM and check per-VM limits (vCPU count). */
int kvm_create_vm(int kvm_fd, int ncpus, int *vm_fd);
/* Size of the kvm_run mapping. */
int kvm_run_size(int kvm_fd, size_t *size);

#endif
