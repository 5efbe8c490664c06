/* kvm_floor: the floor under a snapshot load's (and a cold boot's) exec ->
 * first KVM_RUN, for `make bench` (snapshot_bench.py). A trivial program
 * that does only what any VMM must before a guest's first instruction:
 * exec (dynamic loading, libc start-up), /dev/kvm, KVM_CREATE_VM, the
 * in-kernel irqchip and PIT, guest RAM as a memory file mapped MAP_PRIVATE
 * in one memory slot, one vCPU with its run area, CPUID, special and
 * general registers. No API, no devices, no threads, no state files, no
 * logs. At the KVM_RUN it would do next it writes, like kvm_run_shim.so,
 *   cpu_run_ns=C mono_run_ns=M kvm_ioctl_cpu_ns=K
 * to the descriptor named by KVM_RUN_SHIM_FD and exits (the guest never
 * runs).
 *   kvm_floor --dump-cpuid FILE    KVM's supported CPUID entries to FILE
 *   kvm_floor MEMFILE CPUIDFILE    the run described above (RAM = MEMFILE's size)
 * The CPUID comes from a file as a snapshot's does: a load never asks KVM. */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <linux/kvm.h>

#define MAX_CPUID 256

static long long kvm_ns;

static long long ns(clockid_t c)
{
	struct timespec ts;

	clock_gettime(c, &ts);
	return (long long)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

/* An ioctl on a KVM fd, its CPU time counted as KVM's (kvm_run_shim.c). */
static int kvm(int fd, unsigned long req, void *arg, const char *what)
{
	long long t = ns(CLOCK_THREAD_CPUTIME_ID);
	int r = ioctl(fd, req, arg);

	kvm_ns += ns(CLOCK_THREAD_CPUTIME_ID) - t;
	if (r < 0) {
		perror(what);
		exit(1);
	}
	return r;
}

static struct {
	struct kvm_cpuid2 hdr;
	struct kvm_cpuid_entry2 e[MAX_CPUID];
} cpuid;

int main(int argc, char **argv)
{
	struct kvm_pit_config pit = {.flags = KVM_PIT_SPEAKER_DUMMY};
	struct kvm_userspace_memory_region slot = {.slot = 0};
	uint64_t idmap = 0xfeffc000;
	struct kvm_sregs sregs;
	struct kvm_regs regs;
	struct stat st;
	int kvm_fd, vm_fd, vcpu_fd, mem_fd, fd, n;
	long long cpu, mono;
	const char *e;
	char line[96];
	void *ram, *run;
	ssize_t got;

	if (argc == 3 && strcmp(argv[1], "--dump-cpuid") == 0) {
		kvm_fd = open("/dev/kvm", O_RDWR | O_CLOEXEC);
		cpuid.hdr.nent = MAX_CPUID;
		if (kvm_fd < 0 || ioctl(kvm_fd, KVM_GET_SUPPORTED_CPUID, &cpuid) < 0) {
			perror("KVM_GET_SUPPORTED_CPUID");
			return 1;
		}
		fd = open(argv[2], O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
		n = (int)(cpuid.hdr.nent * sizeof(cpuid.e[0]));
		if (fd < 0 || write(fd, cpuid.e, (size_t)n) != n) {
			perror(argv[2]);
			return 1;
		}
		return close(fd) < 0;
	}
	if (argc != 3) {
		fprintf(stderr, "usage: kvm_floor MEMFILE CPUIDFILE | --dump-cpuid FILE\n");
		return 2;
	}
	fd = open(argv[2], O_RDONLY | O_CLOEXEC);
	got = fd < 0 ? -1 : read(fd, cpuid.e, sizeof(cpuid.e));
	if (got <= 0 || got % (ssize_t)sizeof(cpuid.e[0])) {
		fprintf(stderr, "%s: not a CPUID dump\n", argv[2]);
		return 1;
	}
	close(fd);
	cpuid.hdr.nent = (unsigned)(got / (ssize_t)sizeof(cpuid.e[0]));

	kvm_fd = open("/dev/kvm", O_RDWR | O_CLOEXEC);
	if (kvm_fd < 0) {
		perror("/dev/kvm");
		return 1;
	}
	vm_fd = kvm(kvm_fd, KVM_CREATE_VM, 0, "KVM_CREATE_VM");
	kvm(vm_fd, KVM_SET_TSS_ADDR, (void *)0xfeffd000UL, "KVM_SET_TSS_ADDR");
	kvm(vm_fd, KVM_SET_IDENTITY_MAP_ADDR, &idmap, "KVM_SET_IDENTITY_MAP_ADDR");
	kvm(vm_fd, KVM_CREATE_IRQCHIP, 0, "KVM_CREATE_IRQCHIP");
	kvm(vm_fd, KVM_CREATE_PIT2, &pit, "KVM_CREATE_PIT2");

	mem_fd = open(argv[1], O_RDONLY | O_CLOEXEC);
	if (mem_fd < 0 || fstat(mem_fd, &st) < 0) {
		perror(argv[1]);
		return 1;
	}
	ram = mmap(NULL, (size_t)st.st_size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_NORESERVE,
		   mem_fd, 0);
	if (ram == MAP_FAILED) {
		perror("mmap");
		return 1;
	}
	slot.memory_size = (uint64_t)st.st_size;
	slot.userspace_addr = (uint64_t)(uintptr_t)ram;
	kvm(vm_fd, KVM_SET_USER_MEMORY_REGION, &slot, "KVM_SET_USER_MEMORY_REGION");

	vcpu_fd = kvm(vm_fd, KVM_CREATE_VCPU, 0, "KVM_CREATE_VCPU");
	n = kvm(kvm_fd, KVM_GET_VCPU_MMAP_SIZE, 0, "KVM_GET_VCPU_MMAP_SIZE");
	run = mmap(NULL, (size_t)n, PROT_READ | PROT_WRITE, MAP_SHARED, vcpu_fd, 0);
	if (run == MAP_FAILED) {
		perror("mmap run");
		return 1;
	}
	kvm(vcpu_fd, KVM_SET_CPUID2, &cpuid, "KVM_SET_CPUID2");
	kvm(vcpu_fd, KVM_GET_SREGS, &sregs, "KVM_GET_SREGS");
	kvm(vcpu_fd, KVM_SET_SREGS, &sregs, "KVM_SET_SREGS");
	memset(&regs, 0, sizeof(regs));
	regs.rflags = 2;
	regs.rip = 0xfff0;
	kvm(vcpu_fd, KVM_SET_REGS, &regs, "KVM_SET_REGS");

	/* The first KVM_RUN would be here. */
	cpu = ns(CLOCK_PROCESS_CPUTIME_ID);
	mono = ns(CLOCK_MONOTONIC);
	if ((e = getenv("KVM_RUN_SHIM_FD"))) {
		n = snprintf(line, sizeof(line),
			     "cpu_run_ns=%lld mono_run_ns=%lld kvm_ioctl_cpu_ns=%lld\n", cpu, mono,
			     kvm_ns);
		if (write(atoi(e), line, (size_t)n) != n)
			return 1;
	} else {
		printf("cpu %.3f ms (KVM ioctls %.3f ms)\n", cpu / 1e6, kvm_ns / 1e6);
	}
	return 0;
}
