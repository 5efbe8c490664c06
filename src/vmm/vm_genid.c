/* VM generation ID: 16 random bytes at arch_layout.vmgenid_gpa that the
 * firmware tables point the guest at (x86: the DSDT's VGEN device, acpi.c).
 * A new ID is written at boot and at every snapshot load, and an edge on
 * arch_layout.vmgenid_irq (x86: the ACPI generic event device's) tells the
 * guest (Linux's vmgenid driver then reseeds its RNG: two clones of one
 * snapshot must not share random streams). Machines without one
 * (vmgenid_gpa 0: aarch64 so far) skip both. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/random.h>

#include "ember/arch.h"
#include "ember/error.h"
#include "ember/log.h"
#include "ember/util.h"
#include "vm_priv.h"

int vm_genid_new(struct vm *vm)
{
	uint8_t id[VM_GENID_LEN];
	char hex[2 * VM_GENID_LEN + 1];

	if (!arch_layout.vmgenid_gpa)
		return 0;
	/* the VMM thread's filter allows getrandom(GRND_NONBLOCK) (entropy
	 * device); before the pool is ready, the per-process stream */
	if (getrandom(id, sizeof(id), GRND_NONBLOCK) != (ssize_t)sizeof(id))
		random_bytes(id, sizeof(id));
	if (gm_write(&vm->mem, arch_layout.vmgenid_gpa, id, sizeof(id)) < 0)
		return err_set(EFAULT, "VM generation ID: %#llx is not guest RAM",
			       (unsigned long long)arch_layout.vmgenid_gpa);
	for (size_t i = 0; i < sizeof(id); i++)
		snprintf(hex + 2 * i, 3, "%02x", id[i]);
	log_info("VM generation ID %s", hex);
	return 0;
}

void vm_genid_notify(struct vm *vm)
{
	uint32_t irq = arch_layout.vmgenid_irq;
	int r;

	if (!arch_layout.vmgenid_gpa)
		return;
	/* an edge on the notifying device's line (x86: the GED's _EVT runs
	 * Notify (VGEN, 0x80)) */
	if ((r = arch_irq_line(vm->vm_fd, irq, 1)) < 0 || (r = arch_irq_line(vm->vm_fd, irq, 0)) < 0)
		log_warn("VM generation ID: interrupt %u: %s", irq, strerror(-r));
}
