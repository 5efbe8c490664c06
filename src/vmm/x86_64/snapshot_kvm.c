/* KVM state in snapshots: the VM (PIC, IOAPIC, PIT, kvmclock) and every
 * vCPU (registers, special registers, FPU/XSAVE, XCRs, LAPIC, MSRs incl.
 * TSC and kvmclock, MP state, events, debug registers, CPUID). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>

#include "ember/error.h"
#include "ember/log.h"
#include "../snapshot_priv.h"

#define SNAP_VCPU_XSAVE 1u /* xsave + xcrs captured (else fpu) */

struct snap_vcpu_state {
	uint32_t flags, pad;
	struct kvm_regs regs;
	struct kvm_sregs sregs;
	struct kvm_fpu fpu;
	struct kvm_xsave xsave;
	struct kvm_xcrs xcrs;
	struct kvm_lapic_state lapic;
	struct kvm_mp_state mp_state;
	struct kvm_vcpu_events events;
	struct kvm_debugregs debugregs;
};

struct snap_vm_state {
	struct kvm_irqchip pic_master, pic_slave, ioapic;
	struct kvm_pit_state2 pit;
	struct kvm_clock_data clock;
};

#define MAX_MSRS 1024
#define MAX_CPUID 256

static int kvm_err(const char *what, int id)
{
	int e = errno;

	if (id < 0)
		return err_set(e, "%s: %s", what, strerror(e));
	return err_set(e, "vCPU %d: %s: %s", id, what, strerror(e));
}

/* ---- VM ---- */

static int save_vm(struct vm *vm, struct snap_writer *w)
{
	struct snap_vm_state s;

	memset(&s, 0, sizeof(s));
	s.pic_master.chip_id = KVM_IRQCHIP_PIC_MASTER;
	s.pic_slave.chip_id = KVM_IRQCHIP_PIC_SLAVE;
	s.ioapic.chip_id = KVM_IRQCHIP_IOAPIC;
	if (ioctl(vm->vm_fd, KVM_GET_IRQCHIP, &s.pic_master) < 0 ||
	    ioctl(vm->vm_fd, KVM_GET_IRQCHIP, &s.pic_slave) < 0 ||
	    ioctl(vm->vm_fd, KVM_GET_IRQCHIP, &s.ioapic) < 0)
		return kvm_err("KVM_GET_IRQCHIP", -1);
	if (ioctl(vm->vm_fd, KVM_GET_PIT2, &s.pit) < 0)
		return kvm_err("KVM_GET_PIT2", -1);
	if (ioctl(vm->vm_fd, KVM_GET_CLOCK, &s.clock) < 0)
		return kvm_err("KVM_GET_CLOCK", -1);
	snap_add(w, SNAP_TAG_VM, 0, NULL, 0, &s, sizeof(s));
	return 0;
}

static int restore_vm(struct vm *vm, const struct snap_file *f)
{
	struct snap_vm_state s;
	int r;

	if ((r = snap_get_fixed(f, SNAP_TAG_VM, 0, &s, sizeof(s), "VM")) < 0)
		return r;
	if (s.pic_master.chip_id != KVM_IRQCHIP_PIC_MASTER ||
	    s.pic_slave.chip_id != KVM_IRQCHIP_PIC_SLAVE || s.ioapic.chip_id != KVM_IRQCHIP_IOAPIC)
		return err_set(EINVAL, "snapshot file: bad irqchip ids");
	if (ioctl(vm->vm_fd, KVM_SET_IRQCHIP, &s.pic_master) < 0 ||
	    ioctl(vm->vm_fd, KVM_SET_IRQCHIP, &s.pic_slave) < 0 ||
	    ioctl(vm->vm_fd, KVM_SET_IRQCHIP, &s.ioapic) < 0)
		return kvm_err("KVM_SET_IRQCHIP", -1);
	if (ioctl(vm->vm_fd, KVM_SET_PIT2, &s.pit) < 0)
		return kvm_err("KVM_SET_PIT2", -1);
	/* Only the clock value: the flags KVM reports are not settable. */
	s.clock.flags = 0;
	memset(s.clock.pad, 0, sizeof(s.clock.pad));
	if (ioctl(vm->vm_fd, KVM_SET_CLOCK, &s.clock) < 0)
		return kvm_err("KVM_SET_CLOCK", -1);
	return 0;
}

/* ---- MSRs ---- */

struct msr_buf {
	struct kvm_msrs hdr;
	struct kvm_msr_entry e[MAX_MSRS];
};

/* Every MSR KVM lists that this vCPU lets us read. KVM_GET_MSRS stops at the
 * first one it cannot read: skip it and go on. */
static int save_msrs(struct vm *vm, struct vcpu *v, struct snap_writer *w)
{
	struct {
		struct kvm_msr_list hdr;
		uint32_t idx[MAX_MSRS];
	} list;
	struct msr_buf *in = calloc(1, sizeof(*in));
	struct kvm_msr_entry *out = calloc(MAX_MSRS, sizeof(*out));
	uint32_t n = 0, i = 0;
	int r = 0;

	if (!in || !out) {
		r = err_set(ENOMEM, "out of memory");
		goto done;
	}
	list.hdr.nmsrs = MAX_MSRS;
	if (ioctl(vm->kvm_fd, KVM_GET_MSR_INDEX_LIST, &list) < 0) {
		r = kvm_err("KVM_GET_MSR_INDEX_LIST", -1);
		goto done;
	}
	while (i < list.hdr.nmsrs) {
		uint32_t batch = list.hdr.nmsrs - i;
		int got;

		in->hdr.nmsrs = batch;
		for (uint32_t k = 0; k < batch; k++)
			in->e[k] = (struct kvm_msr_entry){.index = list.idx[i + k]};
		got = ioctl(v->fd, KVM_GET_MSRS, in);
		if (got < 0) {
			r = kvm_err("KVM_GET_MSRS", v->id);
			goto done;
		}
		memcpy(&out[n], in->e, (size_t)got * sizeof(*out));
		n += (uint32_t)got;
		i += (uint32_t)got + 1; /* skip the unreadable one */
	}
	snap_add(w, SNAP_TAG_MSRS, (uint32_t)v->id, NULL, 0, out, n * sizeof(*out));
done:
	free(in);
	free(out);
	return r;
}

/* An MSR's value in vCPU id's MSR section (0 when it has none). */
static uint64_t snap_msr_value(const struct snap_file *f, int id, uint32_t index)
{
	const struct snap_section *s = snap_find(f, SNAP_TAG_MSRS, (uint32_t)id);
	struct kvm_msr_entry e;

	for (size_t off = 0; s && off + sizeof(e) <= s->len; off += sizeof(e)) {
		memcpy(&e, s->data + off, sizeof(e));
		if (e.index == index)
			return e.data;
	}
	return 0;
}

static int restore_msrs(struct vcpu *v, const struct snap_file *f)
{
	const struct snap_section *s = snap_find(f, SNAP_TAG_MSRS, (uint32_t)v->id);
	struct msr_buf *in;
	uint32_t n, i = 0, skipped = 0;
	int r = 0;

	if (!s || s->len % sizeof(struct kvm_msr_entry) ||
	    s->len / sizeof(struct kvm_msr_entry) > MAX_MSRS)
		return err_set(EINVAL, "snapshot file: vCPU %d MSR section missing or malformed",
			       v->id);
	n = s->len / (uint32_t)sizeof(struct kvm_msr_entry);
	in = calloc(1, sizeof(*in));
	if (!in)
		return err_set(ENOMEM, "out of memory");
	while (i < n) {
		int put;

		in->hdr.nmsrs = n - i;
		memcpy(in->e, s->data + i * sizeof(struct kvm_msr_entry),
		       (n - i) * sizeof(struct kvm_msr_entry));
		for (uint32_t k = 0; k < n - i; k++)
			in->e[k].reserved = 0;
		put = ioctl(v->fd, KVM_SET_MSRS, in);
		if (put < 0) {
			r = kvm_err("KVM_SET_MSRS", v->id);
			break;
		}
		i += (uint32_t)put;
		if (i < n) {
			log_debug("vCPU %d: MSR %#x not restored", v->id, in->e[put].index);
			skipped++;
			i++;
		}
	}
	if (skipped)
		log_info("vCPU %d: %u MSR(s) KVM did not take back", v->id, skipped);
	free(in);
	return r;
}

/* ---- CPUID ---- */

struct cpuid_buf {
	struct kvm_cpuid2 hdr;
	struct kvm_cpuid_entry2 e[MAX_CPUID];
};

static int save_cpuid(struct vcpu *v, struct snap_writer *w)
{
	struct cpuid_buf *c = calloc(1, sizeof(*c));
	int r = 0;

	if (!c)
		return err_set(ENOMEM, "out of memory");
	c->hdr.nent = MAX_CPUID;
	if (ioctl(v->fd, KVM_GET_CPUID2, c) < 0)
		r = kvm_err("KVM_GET_CPUID2", v->id);
	else
		snap_add(w, SNAP_TAG_CPUID, (uint32_t)v->id, NULL, 0, c->e,
			 c->hdr.nent * sizeof(c->e[0]));
	free(c);
	return r;
}

static int restore_cpuid(struct vcpu *v, const struct snap_file *f)
{
	const struct snap_section *s = snap_find(f, SNAP_TAG_CPUID, (uint32_t)v->id);
	struct cpuid_buf *c;
	int r = 0;

	if (!s || s->len == 0 || s->len % sizeof(struct kvm_cpuid_entry2) ||
	    s->len / sizeof(struct kvm_cpuid_entry2) > MAX_CPUID)
		return err_set(EINVAL, "snapshot file: vCPU %d CPUID section missing or malformed",
			       v->id);
	c = calloc(1, sizeof(*c));
	if (!c)
		return err_set(ENOMEM, "out of memory");
	c->hdr.nent = s->len / (uint32_t)sizeof(struct kvm_cpuid_entry2);
	memcpy(c->e, s->data, s->len);
	if (ioctl(v->fd, KVM_SET_CPUID2, c) < 0)
		r = kvm_err("KVM_SET_CPUID2", v->id);
	free(c);
	return r;
}

/* ---- vCPU ---- */

#define MSR_KERNEL_GS_BASE 0xc0000102

/* One line per vCPU at save and at load: where it was, the bases a return
 * to the guest's user or kernel mode depends on, and the events in flight
 * (a diagnosis of a restored guest that faults at once starts there). At a
 * load these are the values handed to KVM (the snapshot's), not read back:
 * five more vCPU ioctls for a log line were ~0.1 ms of a load's CPU. */
static void log_vcpu(const char *what, struct vcpu *v, const struct snap_vcpu_state *s,
		     uint64_t kernel_gs_base)
{
	const struct kvm_vcpu_events *ev = &s->events;

	log_info("vCPU %d %s: cs %#x rip %#llx rflags %#llx fs.base %#llx gs.base %#llx "
		 "kernel_gs_base %#llx efer %#llx cr2 %#llx mp_state %u; exception %s%s %u, "
		 "interrupt %s %u%s, nmi %u/%u/%u, shadow %u, flags %#x",
		 v->id, what, s->sregs.cs.selector, (unsigned long long)s->regs.rip,
		 (unsigned long long)s->regs.rflags, (unsigned long long)s->sregs.fs.base,
		 (unsigned long long)s->sregs.gs.base, (unsigned long long)kernel_gs_base,
		 (unsigned long long)s->sregs.efer, (unsigned long long)s->sregs.cr2,
		 s->mp_state.mp_state, ev->exception.injected ? "injected" : "-",
		 ev->exception.pending ? " pending" : "", ev->exception.nr,
		 ev->interrupt.injected ? "injected" : "-", ev->interrupt.nr,
		 ev->interrupt.soft ? " soft" : "", ev->nmi.injected, ev->nmi.pending,
		 ev->nmi.masked, ev->interrupt.shadow, ev->flags);
}

/* Order: MP state first (reading it lets KVM take INIT/SIPI, which changes
 * registers); the events before the registers: without
 * KVM_CAP_EXCEPTION_PAYLOAD, KVM_GET_VCPU_EVENTS reports a pending
 * exception as injected and delivers its payload on the spot (a #PF's
 * address into CR2), so special registers read before it would miss that
 * CR2 and the restored guest would take the #PF with a stale address. */
static int save_vcpu(struct vm *vm, struct vcpu *v, struct snap_writer *w)
{
	struct snap_vcpu_state *s = calloc(1, sizeof(*s));
	struct kvm_sregs before;
	int r = 0;

	if (!s)
		return err_set(ENOMEM, "out of memory");
	if (ioctl(v->fd, KVM_GET_MP_STATE, &s->mp_state) < 0)
		r = kvm_err("KVM_GET_MP_STATE", v->id);
	else if (ioctl(v->fd, KVM_GET_SREGS, &before) < 0)
		r = kvm_err("KVM_GET_SREGS", v->id);
	else if (ioctl(v->fd, KVM_GET_VCPU_EVENTS, &s->events) < 0)
		r = kvm_err("KVM_GET_VCPU_EVENTS", v->id);
	else if (ioctl(v->fd, KVM_GET_REGS, &s->regs) < 0)
		r = kvm_err("KVM_GET_REGS", v->id);
	else if (ioctl(v->fd, KVM_GET_SREGS, &s->sregs) < 0)
		r = kvm_err("KVM_GET_SREGS", v->id);
	else if (ioctl(v->fd, KVM_GET_FPU, &s->fpu) < 0)
		r = kvm_err("KVM_GET_FPU", v->id);
	else if (ioctl(v->fd, KVM_GET_LAPIC, &s->lapic) < 0)
		r = kvm_err("KVM_GET_LAPIC", v->id);
	else if (ioctl(v->fd, KVM_GET_DEBUGREGS, &s->debugregs) < 0)
		r = kvm_err("KVM_GET_DEBUGREGS", v->id);
	if (r == 0 && ioctl(v->fd, KVM_GET_XSAVE, &s->xsave) == 0 &&
	    ioctl(v->fd, KVM_GET_XCRS, &s->xcrs) == 0)
		s->flags |= SNAP_VCPU_XSAVE;
	if (r == 0) {
		struct {
			struct kvm_msrs hdr;
			struct kvm_msr_entry e[1];
		} m = {.hdr.nmsrs = 1, .e[0].index = MSR_KERNEL_GS_BASE};

		if (ioctl(v->fd, KVM_GET_MSRS, &m) != 1)
			m.e[0].data = 0;
		snap_add(w, SNAP_TAG_VCPU, (uint32_t)v->id, NULL, 0, s, sizeof(*s));
		log_vcpu("saved", v, s, m.e[0].data);
		if (before.cr2 != s->sregs.cr2)
			log_info("vCPU %d: a pending exception's payload moved CR2 %#llx -> %#llx",
				 v->id, (unsigned long long)before.cr2,
				 (unsigned long long)s->sregs.cr2);
	}
	free(s);
	if (r == 0)
		r = save_msrs(vm, v, w);
	if (r == 0)
		r = save_cpuid(v, w);
	return r;
}

/* Order: CPUID before anything that depends on the features; special
 * registers (APIC base) before the LAPIC; MSRs (TSC deadline) after it;
 * events last. */
static int restore_vcpu(struct vcpu *v, const struct snap_file *f)
{
	struct snap_vcpu_state *s = calloc(1, sizeof(*s));
	int r;

	if (!s)
		return err_set(ENOMEM, "out of memory");
	if ((r = snap_get_fixed(f, SNAP_TAG_VCPU, (uint32_t)v->id, s, sizeof(*s), "vCPU")) < 0)
		goto out;
	if ((r = restore_cpuid(v, f)) < 0)
		goto out;
	r = -1;
	if (ioctl(v->fd, KVM_SET_SREGS, &s->sregs) < 0)
		r = kvm_err("KVM_SET_SREGS", v->id);
	else if (ioctl(v->fd, KVM_SET_REGS, &s->regs) < 0)
		r = kvm_err("KVM_SET_REGS", v->id);
	else if ((s->flags & SNAP_VCPU_XSAVE) && ioctl(v->fd, KVM_SET_XSAVE, &s->xsave) < 0)
		r = kvm_err("KVM_SET_XSAVE", v->id);
	else if ((s->flags & SNAP_VCPU_XSAVE) && ioctl(v->fd, KVM_SET_XCRS, &s->xcrs) < 0)
		r = kvm_err("KVM_SET_XCRS", v->id);
	else if (!(s->flags & SNAP_VCPU_XSAVE) && ioctl(v->fd, KVM_SET_FPU, &s->fpu) < 0)
		r = kvm_err("KVM_SET_FPU", v->id);
	else if (ioctl(v->fd, KVM_SET_LAPIC, &s->lapic) < 0)
		r = kvm_err("KVM_SET_LAPIC", v->id);
	else
		r = 0;
	if (r < 0)
		goto out;
	if ((r = restore_msrs(v, f)) < 0)
		goto out;
	if (ioctl(v->fd, KVM_SET_MP_STATE, &s->mp_state) < 0)
		r = kvm_err("KVM_SET_MP_STATE", v->id);
	else if (ioctl(v->fd, KVM_SET_VCPU_EVENTS, &s->events) < 0)
		r = kvm_err("KVM_SET_VCPU_EVENTS", v->id);
	else if (ioctl(v->fd, KVM_SET_DEBUGREGS, &s->debugregs) < 0)
		r = kvm_err("KVM_SET_DEBUGREGS", v->id);
	if (r == 0)
		log_vcpu("restored", v, s, snap_msr_value(f, v->id, MSR_KERNEL_GS_BASE));
out:
	free(s);
	return r;
}

int snap_save_kvm(struct vm *vm, struct snap_writer *w)
{
	int r;

	if ((r = save_vm(vm, w)) < 0)
		return r;
	for (int i = 0; i < vm->ncpus; i++)
		if ((r = save_vcpu(vm, &vm->vcpus[i], w)) < 0)
			return r;
	return 0;
}

int snap_restore_kvm(struct vm *vm, const struct snap_file *f)
{
	int r;

	if ((r = restore_vm(vm, f)) < 0)
		return r;
	for (int i = 0; i < vm->ncpus; i++)
		if ((r = restore_vcpu(&vm->vcpus[i], f)) < 0)
			return r;
	return 0;
}

/* The pages KVM saw the guest write since the last call (the log is
 * cleared as it is read), ORed into bitmap: one bit per 4 KiB page of the
 * RAM mapping (file offset / 4096). */
int snap_collect_kvm_dirty(struct vm *vm, uint64_t *bitmap)
{
	for (int i = 0; i < vm->mem.nregions; i++) {
		const struct gm_region *g = &vm->mem.regions[i];
		uint64_t pages = g->size / 4096, first = g->file_offset / 4096;
		size_t words = (size_t)((pages + 63) / 64);
		uint64_t *log = calloc(words, sizeof(uint64_t));
		struct kvm_dirty_log d = {.slot = (uint32_t)i};

		if (!log)
			return err_set(ENOMEM, "out of memory");
		d.dirty_bitmap = log;
		if (ioctl(vm->vm_fd, KVM_GET_DIRTY_LOG, &d) < 0) {
			free(log);
			return kvm_err("KVM_GET_DIRTY_LOG", -1);
		}
		for (uint64_t p = 0; p < pages; p++)
			if (log[p / 64] & (1ull << (p % 64)))
				bitmap[(first + p) / 64] |= 1ull << ((first + p) % 64);
		free(log);
	}
	return 0;
}
