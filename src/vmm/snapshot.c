/* Snapshot create and load (snapshot.h): the state file from the paused VM,
 * guest RAM to the memory file; a load builds the VM skeleton from the
 * snapshot's configuration over the memory file mapped MAP_PRIVATE and puts
 * every piece of state back. */
#include "ember/snapshot.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ember/config_json.h"
#include "ember/error.h"
#include "ember/log.h"
#include "ember/util.h"
#include "ember/virtio_vsock.h"
#include "snapshot_priv.h"

#define DEVICE_BLOB_MAX 4096
#define PAGE 4096u

/* ---- create ---- */

static int write_all(int fd, const void *buf, size_t len, uint64_t off)
{
	const uint8_t *p = buf;

	while (len) {
		ssize_t n = pwrite(fd, p, len, (off_t)off);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		p += n;
		off += (uint64_t)n;
		len -= (size_t)n;
	}
	return 0;
}

static bool page_is_zero(const uint8_t *p)
{
	static const uint8_t zero[PAGE];

	return memcmp(p, zero, PAGE) == 0;
}

/* [off, end) of RAM: runs of non-zero pages written at their offsets (the
 * file is sparse where the guest has zeros). */
static int write_range(int fd, const uint8_t *base, uint64_t off, uint64_t end)
{
	while (off < end) {
		uint64_t run;
		int r;

		if (page_is_zero(base + off)) {
			off += PAGE;
			continue;
		}
		for (run = off + PAGE; run < end && !page_is_zero(base + run); run += PAGE)
			;
		if ((r = write_all(fd, base + off, run - off, off)) < 0)
			return r;
		off = run;
	}
	return 0;
}

/* Guest RAM to path. Memory never touched (a memfd's holes, anonymous
 * pages never faulted in) is skipped without reading it (gm_next_data), so
 * it is not faulted in. */
static int write_memory(const struct guest_mem *gm, const char *path)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600), r = 0;
	uint64_t off = 0, data, end;

	if (fd < 0)
		return err_set(errno, "memory file %s: %s", path, strerror(errno));
	if (ftruncate(fd, (off_t)gm->total) < 0) {
		r = err_set(errno, "memory file %s: %s", path, strerror(errno));
		goto out;
	}
	while (off < gm->total && gm_next_data(gm, off, &data, &end)) {
		if ((r = write_range(fd, gm->base, data & ~(uint64_t)(PAGE - 1),
				     (end + PAGE - 1) & ~(uint64_t)(PAGE - 1))) < 0) {
			r = err_set(-r, "memory file %s: %s", path, strerror(-r));
			goto out;
		}
		off = end;
	}
	if (fdatasync(fd) < 0)
		r = err_set(errno, "memory file %s: %s", path, strerror(errno));
out:
	close(fd);
	return r;
}

/* Diff snapshots: the pages written since the last snapshot (or boot/load):
 * KVM's dirty log, ember's own writes and the used rings (which the devices
 * write through their ring pointers). *out: malloc'd bitmap, 1 bit per page
 * of RAM. Reading clears both logs, so a Full snapshot calls it too. */
static int collect_dirty(struct vm *vm, uint64_t **out)
{
	size_t words = (size_t)((vm->mem.total / PAGE + 63) / 64);
	uint64_t *bm = calloc(words, sizeof(uint64_t));
	int r;

	*out = NULL;
	if (!bm)
		return err_set(ENOMEM, "out of memory");
	if ((r = snap_collect_kvm_dirty(vm, bm)) < 0) {
		free(bm);
		return r;
	}
	for (size_t i = 0; i < words; i++)
		bm[i] |= __atomic_exchange_n(&vm->mem.dirty[i], 0, __ATOMIC_RELAXED);
	for (int i = 0; i < vm->nvdevs; i++) {
		struct virtio_dev *vd = vm->vdevs[i].vd;

		pthread_mutex_lock(&vd->lock);
		for (unsigned q = 0; q < vd->ops->num_queues; q++) {
			const struct virtqueue *vq = &vd->queues[q];
			uint64_t len = sizeof(struct vring_used) +
				       sizeof(struct vring_used_elem) * vq->size + 2;
			const uint8_t *p = (const uint8_t *)vq->used;
			uint64_t off;

			if (!vq->active || !p || p < vm->mem.base)
				continue;
			off = (uint64_t)(p - vm->mem.base);
			for (uint64_t pg = off / PAGE; pg <= (off + len - 1) / PAGE; pg++)
				if (pg < vm->mem.total / PAGE)
					bm[pg / 64] |= 1ull << (pg % 64);
		}
		pthread_mutex_unlock(&vd->lock);
	}
	*out = bm;
	return 0;
}

/* A Diff: only the dirty pages, written at their offsets into the memory
 * file (usually a copy of the base's; created sparse when missing). */
static int write_dirty_memory(const struct guest_mem *gm, const uint64_t *bm, const char *path,
			      uint64_t *written)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC, 0600), r = 0;
	uint64_t pages = gm->total / PAGE, p = 0;

	*written = 0;
	if (fd < 0)
		return err_set(errno, "memory file %s: %s", path, strerror(errno));
	if (ftruncate(fd, (off_t)gm->total) < 0) {
		r = err_set(errno, "memory file %s: %s", path, strerror(errno));
		goto out;
	}
	while (p < pages) {
		uint64_t run;

		if (!(bm[p / 64] & (1ull << (p % 64)))) {
			p++;
			continue;
		}
		for (run = p + 1; run < pages && (bm[run / 64] & (1ull << (run % 64))); run++)
			;
		if ((r = write_all(fd, gm->base + p * PAGE, (run - p) * PAGE, p * PAGE)) < 0) {
			r = err_set(-r, "memory file %s: %s", path, strerror(-r));
			goto out;
		}
		*written += run - p;
		p = run;
	}
	if (fdatasync(fd) < 0)
		r = err_set(errno, "memory file %s: %s", path, strerror(errno));
out:
	close(fd);
	return r;
}

static void save_memory_layout(struct vm *vm, struct snap_writer *w)
{
	struct snap_memory m;

	memset(&m, 0, sizeof(m));
	m.total = vm->mem.total;
	m.nregions = (uint32_t)vm->mem.nregions;
	m.ncpus = (uint32_t)vm->ncpus;
	for (int i = 0; i < vm->mem.nregions; i++) {
		m.regions[i].gpa = vm->mem.regions[i].gpa;
		m.regions[i].size = vm->mem.regions[i].size;
		m.regions[i].file_offset = vm->mem.regions[i].file_offset;
	}
	snap_add(w, SNAP_TAG_MEMORY, 0, NULL, 0, &m, sizeof(m));
}

static int save_devices(struct vm *vm, struct snap_writer *w)
{
	struct snap_legacy_state leg;
	uint8_t *blob = malloc(DEVICE_BLOB_MAX);

	if (!blob)
		return err_set(ENOMEM, "out of memory");
	memset(&leg, 0, sizeof(leg));
	serial_save(&vm->serial, &leg.serial);
	i8042_save(&vm->i8042, &leg.i8042);
	rtc_save(&vm->rtc, &leg.rtc);
	snap_add(w, SNAP_TAG_LEGACY, 0, NULL, 0, &leg, sizeof(leg));
	for (int i = 0; i < vm->nvdevs; i++) {
		struct virtio_dev *vd = vm->vdevs[i].vd;
		struct snap_virtio_hdr h;
		size_t len = 0;
		int r = 0;

		memset(&h, 0, sizeof(h));
		snprintf(h.id, sizeof(h.id), "%s", vm->vdevs[i].id);
		pthread_mutex_lock(&vd->lock);
		virtio_dev_save(vd, &h.st);
		if (vd->ops->save) {
			len = DEVICE_BLOB_MAX;
			r = vd->ops->save(vd, blob, &len);
		}
		pthread_mutex_unlock(&vd->lock);
		if (r < 0) {
			free(blob);
			return err_wrap(-r, "%s '%s': saving its state", vd->ops->name, h.id);
		}
		h.blob_len = (uint32_t)len;
		snap_add(w, SNAP_TAG_VIRTIO, (uint32_t)i, &h, sizeof(h), blob, len);
	}
	free(blob);
	return 0;
}

static int write_state_file(const char *path, const struct snap_writer *w)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600), r;

	if (fd < 0)
		return err_set(errno, "snapshot file %s: %s", path, strerror(errno));
	r = write_all(fd, w->buf, w->len, 0);
	if (r == 0 && fdatasync(fd) < 0)
		r = -errno;
	close(fd);
	return r < 0 ? err_set(-r, "snapshot file %s: %s", path, strerror(-r)) : 0;
}

int snapshot_create(struct vm *vm, const struct vm_config *cfg,
		    const struct snapshot_create_req *req)
{
	struct snap_writer w;
	char *json;
	int r;
	uint64_t *dirty = NULL, written = 0;
	struct stat st;

	if (vm_get_state(vm) != VM_STATE_PAUSED)
		return err_set(EINVAL, "the microVM must be paused");
	if (cfg->memory_hotplug.present)
		return err_set(ENOTSUP, "snapshots of a microVM with hotpluggable memory are not "
					"supported by ember yet");
	if (req->type == SNAP_FULL && vm->mem.file_ino && stat(req->mem_file_path, &st) == 0 &&
	    (uint64_t)st.st_dev == vm->mem.file_dev && (uint64_t)st.st_ino == vm->mem.file_ino)
		return err_set(EINVAL, "mem_file_path is the memory file this microVM was loaded "
				       "from (it maps it copy-on-write): choose another file");
	if (req->type == SNAP_DIFF && !vm->mem.dirty)
		return err_set(EINVAL,
			       "Diff snapshots need dirty page tracking "
			       "(track_dirty_pages in /machine-config or in the snapshot load)");
	/* Either way the logs restart here: the next Diff is relative to this. */
	if (vm->mem.dirty && (r = collect_dirty(vm, &dirty)) < 0)
		return r;
	json = cfgjson_emit_vm_config(cfg);
	if (!json) {
		free(dirty);
		return err_set(ENOMEM, "out of memory");
	}
	snap_writer_init(&w);
	snap_add(&w, SNAP_TAG_CONFIG, 0, NULL, 0, json, strlen(json));
	free(json);
	save_memory_layout(vm, &w);
	if ((r = snap_save_kvm(vm, &w)) < 0 || (r = save_devices(vm, &w)) < 0)
		goto out;
	if ((r = snap_finish(&w)) < 0) {
		r = err_set(-r, "building the snapshot: %s", strerror(-r));
		goto out;
	}
	if (req->type == SNAP_DIFF)
		r = write_dirty_memory(&vm->mem, dirty, req->mem_file_path, &written);
	else
		r = write_memory(&vm->mem, req->mem_file_path);
	if (r < 0)
		goto out;
	r = write_state_file(req->snapshot_path, &w);
	if (r == 0 && req->type == SNAP_DIFF)
		log_info(
		    "snapshot (Diff): %zu bytes of state to %s, %llu dirty page(s) of %llu to %s",
		    w.len, req->snapshot_path, (unsigned long long)written,
		    (unsigned long long)(vm->mem.total / PAGE), req->mem_file_path);
	else if (r == 0)
		log_info("snapshot: %zu bytes of state to %s, %llu MiB of memory to %s", w.len,
			 req->snapshot_path, (unsigned long long)(vm->mem.total >> 20),
			 req->mem_file_path);
out:
	if (r < 0 && dirty) /* failed: the pages stay dirty for the next try */
		for (size_t i = 0; i < (size_t)((vm->mem.total / PAGE + 63) / 64); i++)
			__atomic_fetch_or(&vm->mem.dirty[i], dirty[i], __ATOMIC_RELAXED);
	free(dirty);
	snap_writer_free(&w);
	return r;
}

/* ---- load ---- */

static int check_memory_layout(const struct snap_file *f, const struct vm_config *cfg,
			       const struct vm *vm)
{
	struct snap_memory m;
	int r;

	if ((r = snap_get_fixed(f, SNAP_TAG_MEMORY, 0, &m, sizeof(m), "memory")) < 0)
		return r;
	if (m.total != vm->mem.total || m.total != cfg->machine.mem_size_mib * MiB ||
	    m.nregions != (uint32_t)vm->mem.nregions || m.ncpus != (uint32_t)vm->ncpus)
		return err_set(EINVAL, "snapshot file: memory layout or vCPU count does not match "
				       "its configuration");
	for (int i = 0; i < vm->mem.nregions; i++)
		if (m.regions[i].gpa != vm->mem.regions[i].gpa ||
		    m.regions[i].size != vm->mem.regions[i].size ||
		    m.regions[i].file_offset != vm->mem.regions[i].file_offset)
			return err_set(EINVAL, "snapshot file: memory region %d does not match", i);
	return 0;
}

static int restore_devices(struct vm *vm, const struct snap_file *f)
{
	struct snap_legacy_state leg;
	int r;

	if ((r = snap_get_fixed(f, SNAP_TAG_LEGACY, 0, &leg, sizeof(leg), "legacy devices")) < 0)
		return r;
	if (serial_restore(&vm->serial, &leg.serial) < 0 ||
	    i8042_restore(&vm->i8042, &leg.i8042) < 0)
		return err_set(EINVAL, "snapshot file: impossible serial or i8042 state");
	rtc_restore(&vm->rtc, &leg.rtc);
	if (snap_count(f, SNAP_TAG_VIRTIO) != vm->nvdevs)
		return err_set(EINVAL,
			       "snapshot file: %d virtio device(s), its configuration has %d",
			       snap_count(f, SNAP_TAG_VIRTIO), vm->nvdevs);
	for (int i = 0; i < vm->nvdevs; i++) {
		const struct snap_section *s = snap_find(f, SNAP_TAG_VIRTIO, (uint32_t)i);
		struct virtio_dev *vd = vm->vdevs[i].vd;
		struct snap_virtio_hdr h;

		if (!s || s->len < sizeof(h))
			return err_set(EINVAL, "snapshot file: virtio slot %d missing or short", i);
		memcpy(&h, s->data, sizeof(h));
		h.id[sizeof(h.id) - 1] = 0;
		if (h.blob_len != s->len - sizeof(h) || strcmp(h.id, vm->vdevs[i].id) != 0)
			return err_set(EINVAL, "snapshot file: virtio slot %d does not match", i);
		pthread_mutex_lock(&vd->lock);
		r = 0;
		if (vd->ops->restore)
			r = vd->ops->restore(vd, s->data + sizeof(h), h.blob_len);
		else if (h.blob_len)
			r = err_set(EINVAL, "%s: unexpected device state", vd->ops->name);
		if (r == 0)
			r = virtio_dev_restore(vd, &h.st);
		pthread_mutex_unlock(&vd->lock);
		if (r < 0)
			return err_wrap(-r, "snapshot file: %s '%s'", vd->ops->name, h.id);
	}
	return 0;
}

/* The VM sections of the snapshot's configuration, with the overrides. */
static int load_config(const struct snap_file *f, const struct snapshot_load_req *req,
		       struct vm_config *n)
{
	const struct snap_section *s = snap_find(f, SNAP_TAG_CONFIG, 0);
	int r;

	if (!s)
		return err_set(EINVAL, "snapshot file: no configuration section");
	if ((r = cfgjson_parse_vm_config((const char *)s->data, s->len, n)) < 0)
		return err_wrap(-r, "snapshot file: configuration");
	for (int i = 0; i < req->nnet_overrides; i++) {
		int k;
		for (k = 0; k < n->nnets; k++)
			if (strcmp(n->nets[k].id, req->net_overrides[i].iface_id) == 0)
				break;
		if (k == n->nnets)
			return err_set(EINVAL,
				       "network override: the snapshot has no interface '%s'",
				       req->net_overrides[i].iface_id);
		free(n->nets[k].host_dev_name);
		free(n->nets[k].passt_socket); /* the override picks a TAP */
		n->nets[k].passt_socket = NULL;
		n->nets[k].passt = false;
		n->nets[k].npasst_fwd = 0;
		n->nets[k].host_dev_name = strdup(req->net_overrides[i].host_dev_name);
		if (!n->nets[k].host_dev_name)
			return err_set(ENOMEM, "out of memory");
	}
	if (req->vsock_uds_override) {
		if (!n->vsock.present)
			return err_set(EINVAL, "vsock override: the snapshot has no vsock device");
		free(n->vsock.uds_path);
		n->vsock.uds_path = strdup(req->vsock_uds_override);
		if (!n->vsock.uds_path)
			return err_set(ENOMEM, "out of memory");
	}
	return 0;
}

static int restore_vm(const struct snap_file *f, const struct snapshot_load_req *req,
		      struct event_loop *el, const struct vm_config *cfg, struct vm **out)
{
	struct vm *vm = NULL;
	int fd, r;

	*out = NULL;
	if (req->backend == SNAP_BACKEND_UFFD) {
		fd = VM_MEM_ANON;
	} else {
		fd = open(req->mem_path, O_RDONLY | O_CLOEXEC);
		if (fd < 0)
			return err_set(errno, "memory file %s: %s", req->mem_path, strerror(errno));
	}
	r = vm_build(cfg, el, fd, &vm);
	/* A recorded working set: its pages read ahead and mapped before
	 * the guest runs (snapshot_ws.c). */
	if (r == 0 && req->ws_path && !req->ws_record) {
		uint64_t pages;

		r = snap_ws_prefetch(&vm->mem, fd, req->ws_path, &pages);
		if (r < 0) {
			vm_destroy(vm);
			vm = NULL;
		}
	}
	if (fd >= 0)
		close(fd); /* the mapping keeps the file */
	if (r < 0)
		return r;
	if (req->ws_path && req->ws_record && !(vm->ws_record = strdup(req->ws_path))) {
		r = err_set(ENOMEM, "out of memory");
		goto fail;
	}
	if ((r = check_memory_layout(f, cfg, vm)) < 0)
		goto fail;
	/* Before anything reads guest memory (the queues' rings). */
	if (req->backend == SNAP_BACKEND_UFFD &&
	    (r = snap_uffd_attach(&vm->mem, req->mem_path, &vm->uffd)) < 0)
		goto fail;
	if ((r = snap_restore_kvm(vm, f)) < 0 || (r = restore_devices(vm, f)) < 0)
		goto fail;
	/* A new generation ID, and the guest told (after the irqchip state is
	 * back: the edge waits in the IOAPIC/LAPIC until the vCPUs run). */
	if ((r = vm_genid_new(vm)) < 0)
		goto fail;
	vm_genid_notify(vm);
	if (vm_get_vsock(vm))
		virtio_vsock_transport_reset(vm_get_vsock(vm));
	/* Threads start parked: the guest runs only on resume (resume_vm:
	 * right after this returns, so there is no waiting for them to park). */
	if ((r = vm_start_paused(vm, !req->resume_vm)) < 0)
		goto fail;
	*out = vm;
	return 0;
fail:
	vm_destroy(vm);
	return r;
}

/* Move the VM sections of n into cfg (console, logger, metrics and the
 * process's flags stay cfg's). */
static void take_vm_sections(struct vm_config *cfg, struct vm_config *n)
{
	boot_source_cfg_free(&cfg->boot);
	cfg->boot = n->boot;
	memset(&n->boot, 0, sizeof(n->boot));
	free(cfg->machine.cpu_template_name);
	cfg->machine = n->machine;
	n->machine.cpu_template_name = NULL;
	for (int i = 0; i < cfg->ndrives; i++)
		drive_cfg_free(&cfg->drives[i]);
	memcpy(cfg->drives, n->drives, sizeof(cfg->drives));
	cfg->ndrives = n->ndrives;
	n->ndrives = 0;
	for (int i = 0; i < cfg->nnets; i++)
		net_cfg_free(&cfg->nets[i]);
	memcpy(cfg->nets, n->nets, sizeof(cfg->nets));
	cfg->nnets = n->nnets;
	n->nnets = 0;
	vsock_cfg_free(&cfg->vsock);
	cfg->vsock = n->vsock;
	memset(&n->vsock, 0, sizeof(n->vsock));
	cfg->balloon = n->balloon;
	cfg->entropy = n->entropy;
	for (int i = 0; i < cfg->npmems; i++)
		pmem_cfg_free(&cfg->pmems[i]);
	memcpy(cfg->pmems, n->pmems, sizeof(cfg->pmems));
	cfg->npmems = n->npmems;
	n->npmems = 0;
	free(cfg->cpu_template_json);
	cfg->cpu_template_json = n->cpu_template_json;
	n->cpu_template_json = NULL;
}

int snapshot_ws_record(struct vm *vm)
{
	uint64_t pages;
	int r;

	if (!vm || !vm->ws_record)
		return 0;
	r = snap_ws_record(&vm->mem, vm->ws_record, &pages);
	free(vm->ws_record); /* once: the first run's pages */
	vm->ws_record = NULL;
	return r;
}

int snapshot_load(const struct snapshot_load_req *req, struct event_loop *el, struct vm_config *cfg,
		  struct vm **out)
{
	struct snap_file *f = calloc(1, sizeof(*f));
	struct vm_config n;
	uint8_t *buf = NULL;
	size_t len = 0;
	int r;

	*out = NULL;
	config_init(&n);
	if (!f)
		return err_set(ENOMEM, "out of memory");
	if ((r = read_whole_file(req->snapshot_path, SNAP_MAX_FILE, &buf, &len)) < 0) {
		r = err_wrap(-r, "snapshot file %s", req->snapshot_path);
		goto out;
	}
	if ((r = snap_parse(buf, len, f)) < 0 || (r = load_config(f, req, &n)) < 0)
		goto out;
	n.console = cfg->console; /* borrowed */
	n.boot_timer = cfg->boot_timer;
	n.machine.track_dirty_pages = req->track_dirty_pages;
	r = restore_vm(f, req, el, &n, out);
	memset(&n.console, 0, sizeof(n.console));
	if (r < 0)
		goto out;
	take_vm_sections(cfg, &n);
	log_info("snapshot %s loaded (%d vCPU(s), %llu MiB from %s)", req->snapshot_path,
		 (int)cfg->machine.vcpu_count, (unsigned long long)cfg->machine.mem_size_mib,
		 req->mem_path);
out:
	memset(&n.console, 0, sizeof(n.console));
	config_free(&n);
	free(buf);
	free(f);
	return r;
}
