/* /dev/kvm checks with one clear line per failure. */
#include "ember/kvm.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <linux/kvm.h>

#include "ember/error.h"

static const struct {
	int cap;
	const char *name;
} required_caps[] = {
	{KVM_CAP_IRQCHIP, "KVM_CAP_IRQCHIP"},
	{KVM_CAP_USER_MEMORY, "KVM_CAP_USER_MEMORY"},
	{KVM_CAP_IRQFD, "KVM_CAP_IRQFD"},
	{KVM_CAP_IOEVENTFD, "KVM_CAP_IOEVENTFD"},
	{KVM_CAP_IRQ_ROUTING, "KVM_CAP_IRQ_ROUTING"},
	{KVM_CAP_MP_STATE, "KVM_CAP_MP_STATE"},
	{KVM_CAP_IMMEDIATE_EXIT, "KVM_CAP_IMMEDIATE_EXIT"},
}; /* the architecture's own: arch_vm_create (kvm_require_cap) */

int kvm_require_cap(int kvm_fd, int cap, const char *name)
{
	if (ioctl(kvm_fd, KVM_CHECK_EXTENSION, cap) <= 0)
		return err_set(ENOTSUP, "KVM lacks a capability ember needs: %s", name);
	return 0;
}

int kvm_open(int *kvm_fd)
{
	int fd, v;

	fd = open("/dev/kvm", O_RDWR | O_CLOEXEC);
	if (fd < 0) {
		int e = errno;
		if (e == ENOENT)
			return err_set(e, "/dev/kvm does not exist: KVM is not available on this host "
					  "(load kvm_intel/kvm_amd or enable nested virtualization)");
		if (e == EACCES || e == EPERM)
			return err_set(e, "/dev/kvm: permission denied (add this user to the 'kvm' "
					  "group or run as root)");
		return err_set(e, "/dev/kvm: %s", strerror(e));
	}
	v = ioctl(fd, KVM_GET_API_VERSION, 0);
	if (v != KVM_API_VERSION) {
		close(fd);
		return err_set(EINVAL, "/dev/kvm: KVM API version %d, ember needs %d", v,
			       KVM_API_VERSION);
	}
	for (size_t i = 0; i < sizeof(required_caps) / sizeof(required_caps[0]); i++) {
		if (!required_caps[i].name)
			continue;
		if (ioctl(fd, KVM_CHECK_EXTENSION, required_caps[i].cap) <= 0) {
			close(fd);
			return err_set(ENOTSUP, "KVM lacks a capability ember needs: %s",
				       required_caps[i].name);
		}
	}
	*kvm_fd = fd;
	return 0;
}

int kvm_create_vm(int kvm_fd, int ncpus, int *vm_fd)
{
	int fd, max;

	max = ioctl(kvm_fd, KVM_CHECK_EXTENSION, KVM_CAP_MAX_VCPUS);
	if (max <= 0)
		max = ioctl(kvm_fd, KVM_CHECK_EXTENSION, KVM_CAP_NR_VCPUS);
	if (max > 0 && ncpus > max)
		return err_set(EINVAL, "KVM supports at most %d vCPUs, %d requested", max, ncpus);
	fd = ioctl(kvm_fd, KVM_CREATE_VM, 0);
	if (fd < 0)
		return err_set(errno, "KVM_CREATE_VM: %s", strerror(errno));
	*vm_fd = fd;
	return 0;
}

int kvm_run_size(int kvm_fd, size_t *size)
{
	int s = ioctl(kvm_fd, KVM_GET_VCPU_MMAP_SIZE, 0);

	if (s <= 0)
		return err_set(errno ? errno : EINVAL, "KVM_GET_VCPU_MMAP_SIZE failed");
	*size = (size_t)s;
	return 0;
}
