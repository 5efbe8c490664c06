/* virtio devices of a VM: created from the config, placed in virtio-mmio
 * slots, and wired to KVM (MMIO bus, ioeventfd per queue, irqfd per slot). */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>

#include <linux/virtio_ids.h>

#include "ember/error.h"
#include "ember/log.h"
#include "ember/passt.h"
#include "ember/virtio.h"
#include "ember/virtio_balloon.h"
#include "ember/virtio_mem.h"
#include "ember/virtio_pmem.h"
#include "ember/virtio_rng.h"
#include "ember/virtio_blk.h"
#include "ember/virtio_net.h"
#include "ember/virtio_vsock.h"
#include "vm_priv.h"

/* Every configured device gets a slot: drives, nets, vsock, balloon, rng
 * always fit; pmem and virtio-mem are counted at validation
 * (config_check_device_count). */
_Static_assert(CFG_MAX_DRIVES + CFG_MAX_NETS + 3 <= ARCH_VIRTIO_MIN_DEVICES,
	       "more virtio devices configurable than virtio-mmio slots");

static int wire_slot(struct vm *vm, int slot, struct virtio_dev *vd)
{
	uint64_t base = arch_virtio_addr(slot);
	int r;

	r = bus_register(&vm->mmio, base, arch_layout.virtio_size, &virtio_mmio_bus_ops, vd,
			 virtio_dev_lock(vd));
	if (r < 0)
		return err_set(-r, "virtio slot %d: MMIO bus: %s", slot, strerror(-r));
	for (unsigned q = 0; q < virtio_dev_num_queues(vd); q++) {
		struct kvm_ioeventfd io = {
			.datamatch = q,
			.addr = base + VIRTIO_MMIO_QUEUE_NOTIFY,
			.len = 4,
			.fd = virtio_mmio_queue_eventfd(vd, q),
			.flags = KVM_IOEVENTFD_FLAG_DATAMATCH,
		};
		if (ioctl(vm->vm_fd, KVM_IOEVENTFD, &io) < 0)
			return err_set(errno, "virtio slot %d: KVM_IOEVENTFD queue %u: %s", slot, q,
				       strerror(errno));
	}
	return 0;
}

/* After the vCPUs and the interrupt controller are complete (aarch64: the
 * vGIC takes irqfds only once it is initialised). */
int vm_virtio_irqfds(struct vm *vm)
{
	for (int slot = 0; slot < vm->nvdevs; slot++) {
		struct kvm_irqfd irqfd = {
			.fd = (uint32_t)virtio_mmio_irq_eventfd(vm->vdevs[slot].vd),
			.gsi = arch_virtio_irq(slot),
		};

		if (ioctl(vm->vm_fd, KVM_IRQFD, &irqfd) < 0)
			return err_set(errno, "virtio slot %d: KVM_IRQFD gsi %u: %s", slot,
				       irqfd.gsi, strerror(errno));
	}
	return 0;
}

static int add_vdev(struct vm *vm, struct virtio_dev *vd, void *dev, const char *id)
{
	int slot = vm->nvdevs;

	if (slot >= arch_layout.virtio_max)
		return err_set(ENOSPC, "more than %d virtio devices", arch_layout.virtio_max);
	vm->vdevs[slot] = (struct vm_vdev){.vd = vd, .dev = dev};
	snprintf(vm->vdevs[slot].id, sizeof(vm->vdevs[slot].id), "%s", id);
	vm->nvdevs++; /* counted now so destroy frees it even if wiring fails */
	return wire_slot(vm, slot, vd);
}

/* KVM memory slots: RAM 0..GM_MAX_REGIONS-1, then the pmem files, then the
 * hotplug area's slots. */
#define KVM_SLOT_PMEM(i) (GM_MAX_REGIONS + (i))
#define KVM_SLOT_HOTPLUG(s) (GM_MAX_REGIONS + CFG_MAX_PMEM + (s))

static int set_kvm_slot(struct vm *vm, uint32_t slot, uint64_t gpa, uint64_t size, void *hva,
			bool read_only)
{
	struct kvm_userspace_memory_region reg = {
	    .slot = slot,
	    .flags = read_only ? KVM_MEM_READONLY : 0,
	    .guest_phys_addr = gpa,
	    .memory_size = size,
	    .userspace_addr = (uint64_t)(uintptr_t)hva,
	};

	if (ioctl(vm->vm_fd, KVM_SET_USER_MEMORY_REGION, &reg) < 0)
		return err_set(errno, "KVM_SET_USER_MEMORY_REGION (slot %u, %llu MiB at %#llx): %s",
			       slot, (unsigned long long)(size >> 20), (unsigned long long)gpa,
			       strerror(errno));
	return 0;
}

/* Where device memory starts: above RAM and 4 GiB, on a 1 GiB boundary. */
uint64_t vm_devmem_start(const struct guest_mem *gm)
{
	uint64_t top = arch_layout.devmem_floor;

	for (int i = 0; i < gm->nregions; i++)
		top = MAX(top, gm->regions[i].gpa + gm->regions[i].size);
	return ALIGN_UP(top, ARCH_DEVMEM_ALIGN);
}

/* virtio-mem's host side: a device slot gets or loses its KVM slot. */
static int hotplug_map_slot(void *opaque, unsigned s, bool map)
{
	struct vm *vm = opaque;
	const struct gm_hotplug *h = &vm->mem.hotplug;
	uint64_t off = (uint64_t)s * h->slot_size;

	return set_kvm_slot(vm, KVM_SLOT_HOTPLUG(s), h->gpa + off, map ? h->slot_size : 0,
			    h->hva + off, false);
}

int vm_setup_device_memory(struct vm *vm, const struct vm_config *cfg)
{
	const struct memhp_cfg *m = &cfg->memory_hotplug;
	uint64_t total, slot;
	int max_slots, r;

	if (!m->present)
		return 0;
	total = m->total_size_mib << 20;
	slot = m->slot_size_mib << 20;
	max_slots = ioctl(vm->kvm_fd, KVM_CHECK_EXTENSION, KVM_CAP_NR_MEMSLOTS);
	if (max_slots > 0 && KVM_SLOT_HOTPLUG(total / slot) > (uint64_t)max_slots)
		return err_set(
		    EINVAL,
		    "memory-hotplug: %llu slots of %llu MiB are more than KVM's %d memory "
		    "slots allow (raise slot_size_mib)",
		    (unsigned long long)(total / slot), (unsigned long long)m->slot_size_mib,
		    max_slots);
	if ((r = gm_hotplug_init(&vm->mem, ALIGN_UP(vm_devmem_start(&vm->mem), slot), total,
				 slot)) < 0)
		return err_wrap(-r, "memory-hotplug");
	return 0;
}

/* A TAP, or the stream backend to passt (started here: ember run only, see
 * passt.h; or a running one at passt_socket). */
static int net_create(struct vm *vm, const struct net_cfg *nc, struct virtio_net **net)
{
	pid_t pid;
	int fd, r;

	if (!nc->passt && !nc->passt_socket)
		return virtio_net_create(nc, &vm->mem, vm->el, net);
	if (nc->passt) {
		if ((r = passt_start(nc, &fd, &pid)) < 0)
			return r;
		log_info("network interface %s: passt started (pid %d)", nc->id, (int)pid);
	} else if ((r = passt_connect(nc->passt_socket, &fd)) < 0) {
		return r;
	}
	return virtio_net_create_stream(nc, fd, &vm->mem, vm->el, net);
}

int vm_setup_virtio_devices(struct vm *vm, const struct vm_config *cfg)
{
	uint64_t pmem_gpa = vm_devmem_start(&vm->mem);
	int r;

	if (vm->mem.hotplug.hva)
		pmem_gpa = vm->mem.hotplug.gpa + vm->mem.hotplug.size;

	for (int i = 0; i < cfg->ndrives; i++) {
		struct virtio_blk *blk;

		if ((r = virtio_blk_create(&cfg->drives[i], &vm->mem, vm->el, &blk)) < 0)
			return err_wrap(-r, "drive %s", cfg->drives[i].id);
		if ((r = add_vdev(vm, &blk->vdev, blk, cfg->drives[i].id)) < 0)
			return r;
	}
	for (int i = 0; i < cfg->nnets; i++) {
		struct virtio_net *net;

		if ((r = net_create(vm, &cfg->nets[i], &net)) < 0)
			return err_wrap(-r, "network interface %s", cfg->nets[i].id);
		if ((r = add_vdev(vm, &net->vdev, net, cfg->nets[i].id)) < 0)
			return r;
	}
	if (cfg->vsock.present) {
		struct virtio_vsock *vs;

		if ((r = virtio_vsock_create(&cfg->vsock, &vm->mem, vm->el, &vs)) < 0)
			return err_wrap(-r, "vsock");
		if ((r = add_vdev(vm, &vs->vdev, vs, "vsock")) < 0)
			return r;
	}
	if (cfg->balloon.present) {
		struct virtio_balloon *b;

		if ((r = virtio_balloon_create(&cfg->balloon, &vm->mem, vm->el, &b)) < 0)
			return err_wrap(-r, "balloon");
		if ((r = add_vdev(vm, &b->vdev, b, "balloon")) < 0)
			return r;
	}
	if (cfg->entropy.present) {
		struct virtio_rng *rng;

		if ((r = virtio_rng_create(&cfg->entropy, &vm->mem, vm->el, &rng)) < 0)
			return err_wrap(-r, "entropy");
		if ((r = add_vdev(vm, &rng->vdev, rng, "entropy")) < 0)
			return r;
	}
	for (int i = 0; i < cfg->npmems; i++) {
		struct virtio_pmem *pm;

		pmem_gpa = ALIGN_UP(pmem_gpa, ARCH_PMEM_ALIGN);
		if ((r = virtio_pmem_create(&cfg->pmems[i], pmem_gpa, &vm->mem, vm->el, &pm)) < 0)
			return err_wrap(-r, "pmem %s", cfg->pmems[i].id);
		if ((r = add_vdev(vm, &pm->vdev, pm, cfg->pmems[i].id)) < 0)
			return r;
		if ((r = set_kvm_slot(vm, KVM_SLOT_PMEM(i), pm->gpa, pm->size, pm->hva,
				      pm->read_only)) < 0)
			return err_wrap(-r, "pmem %s", cfg->pmems[i].id);
		pmem_gpa += pm->size;
	}
	if (cfg->memory_hotplug.present) {
		struct virtio_mem_host host = {.map_slot = hotplug_map_slot, .opaque = vm};
		struct virtio_mem *m;

		if ((r = virtio_mem_create(&cfg->memory_hotplug, &vm->mem, &host, vm->el, &m)) < 0)
			return err_wrap(-r, "memory-hotplug");
		if ((r = add_vdev(vm, &m->vdev, m, "memory-hotplug")) < 0)
			return r;
		log_info("memory-hotplug: %llu MiB at %#llx in %llu MiB blocks, %llu MiB requested",
			 (unsigned long long)(m->region_size >> 20), (unsigned long long)m->addr,
			 (unsigned long long)(m->block_size >> 20),
			 (unsigned long long)(m->requested_size >> 20));
	}
	return 0;
}

void vm_destroy_virtio_devices(struct vm *vm)
{
	for (int i = 0; i < vm->nvdevs; i++)
		vm->vdevs[i].vd->ops->destroy(vm->vdevs[i].vd);
	vm->nvdevs = 0;
}

void vm_publish_metrics(struct vm *vm)
{
	serial_publish_metrics(&vm->serial);
	i8042_publish_metrics(&vm->i8042);
	for (int i = 0; i < vm->nvdevs; i++) {
		struct virtio_dev *vd = vm->vdevs[i].vd;

		if (vd->ops->publish_metrics)
			vd->ops->publish_metrics(vd);
	}
}

int vm_virtio_describe(const struct vm *vm, struct arch_mmio_dev *out, int max)
{
	int n = 0;

	for (int i = 0; i < vm->nvdevs && n < max; i++, n++)
		out[n] = (struct arch_mmio_dev){.addr = arch_virtio_addr(i),
						.size = arch_layout.virtio_size,
						.irq = arch_virtio_irq(i)};
	return n;
}

int vm_virtio_cmdline(const struct vm *vm, const struct vm_config *cfg, const char *base,
		      char **out)
{
	size_t cap = strlen(base) + 64 + (size_t)vm->nvdevs * 48, len;
	char *s = malloc(cap);

	if (!s)
		return err_set(ENOMEM, "out of memory");
	len = (size_t)snprintf(s, cap, "%s", base);
	for (int i = 0; arch_layout.virtio_cmdline && i < vm->nvdevs; i++)
		len += (size_t)snprintf(s + len, cap - len, " virtio_mmio.device=4K@%#llx:%u",
					(unsigned long long)arch_virtio_addr(i),
					arch_virtio_irq(i));
	/* Like Firecracker: a root pmem device becomes root=/dev/pmemN. */
	for (int i = 0; i < cfg->npmems && !strstr(base, "root="); i++) {
		if (!cfg->pmems[i].root_device)
			continue;
		len += (size_t)snprintf(s + len, cap - len, " root=/dev/pmem%d %s", i,
					cfg->pmems[i].read_only ? "ro" : "rw");
		break;
	}
	/* Like Firecracker: the root drive becomes root= unless the user chose. */
	if (!strstr(base, "root=")) {
		int vd_index = 0;
		for (int i = 0; i < cfg->ndrives; i++, vd_index++) {
			if (!cfg->drives[i].is_root)
				continue;
			if (cfg->drives[i].partuuid)
				len += (size_t)snprintf(s + len, cap - len, " root=PARTUUID=%.40s",
							cfg->drives[i].partuuid);
			else
				len += (size_t)snprintf(s + len, cap - len, " root=/dev/vd%c",
							'a' + vd_index);
			snprintf(s + len, cap - len, " %s", cfg->drives[i].read_only ? "ro" : "rw");
			break;
		}
	}
	*out = s;
	return 0;
}

/* The device in slot v is of this kind (VIRTIO_ID_BLOCK, ...). */
static bool is_kind(const struct vm_vdev *v, uint32_t device_id)
{
	return v->vd->ops->device_id == device_id;
}

int vm_update_drive(struct vm *vm, const char *id, const char *path,
		    const struct rate_limiter_cfg *rl)
{
	for (int i = 0; i < vm->nvdevs; i++) {
		struct vm_vdev *v = &vm->vdevs[i];
		int r;

		if (!is_kind(v, VIRTIO_ID_BLOCK) || strcmp(v->id, id) != 0)
			continue;
		if (path && (r = virtio_blk_set_path(v->dev, path)) < 0)
			return r;
		if (rl)
			virtio_blk_update_rate_limiter(v->dev, rl);
		return 0;
	}
	return err_set(ENOENT, "no drive with id '%s'", id);
}

struct virtio_blk *vm_get_blk(struct vm *vm, int i)
{
	for (int k = 0, n = 0; k < vm->nvdevs; k++)
		if (is_kind(&vm->vdevs[k], VIRTIO_ID_BLOCK) && n++ == i)
			return vm->vdevs[k].dev;
	return NULL;
}

static void *find_vdev(struct vm *vm, uint32_t device_id, const char *id)
{
	for (int i = 0; i < vm->nvdevs; i++)
		if (is_kind(&vm->vdevs[i], device_id) && (!id || strcmp(vm->vdevs[i].id, id) == 0))
			return vm->vdevs[i].dev;
	return NULL;
}

int vm_update_net(struct vm *vm, const char *id, const struct rate_limiter_cfg *rx,
		  const struct rate_limiter_cfg *tx)
{
	struct virtio_net *net = find_vdev(vm, VIRTIO_ID_NET, id);

	if (!net)
		return err_set(ENOENT, "no network interface with id '%s'", id);
	virtio_net_update_rate_limiters(net, rx, tx);
	return 0;
}

struct virtio_net *vm_get_net(struct vm *vm, int i)
{
	for (int k = 0, n = 0; k < vm->nvdevs; k++)
		if (is_kind(&vm->vdevs[k], VIRTIO_ID_NET) && n++ == i)
			return vm->vdevs[k].dev;
	return NULL;
}

struct virtio_vsock *vm_get_vsock(struct vm *vm)
{
	return find_vdev(vm, VIRTIO_ID_VSOCK, NULL);
}

struct virtio_balloon *vm_get_balloon(struct vm *vm)
{
	return find_vdev(vm, VIRTIO_ID_BALLOON, NULL);
}

int vm_update_pmem(struct vm *vm, const char *id, const struct rate_limiter_cfg *rl)
{
	struct virtio_pmem *pm = find_vdev(vm, VIRTIO_ID_PMEM, id);

	if (!pm)
		return err_set(ENOENT, "no pmem device with id '%s'", id);
	virtio_pmem_update_rate_limiter(pm, rl);
	return 0;
}

struct virtio_mem *vm_get_virtio_mem(struct vm *vm)
{
	return find_vdev(vm, VIRTIO_ID_MEM, NULL);
}

int vm_enable_mmds(struct vm *vm, const struct mmds_cfg *mc, struct mmds *store)
{
	for (int i = 0; i < mc->nifaces; i++) {
		struct virtio_net *net = find_vdev(vm, VIRTIO_ID_NET, mc->ifaces[i]);
		int r;

		if (!net)
			return err_set(ENOENT, "mmds-config: no network interface with id '%s'",
				       mc->ifaces[i]);
		if ((r = virtio_net_enable_mmds(net, store, mmds_cfg_ipv4(mc))) < 0)
			return r;
	}
	return 0;
}
