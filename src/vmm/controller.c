/* API requests applied on the VMM thread: the pre-boot configuration, then
 * the running VM. Status codes and messages follow Firecracker. */
#include "ember/controller.h"
#include "ember/measure.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ember/arch.h"
#include "ember/config_json.h"
#include "ember/error.h"
#include "ember/util.h"
#include "ember/log.h"
#include "ember/metrics.h"
#include "ember/mmds.h"
#include "ember/virtio_balloon.h"
#include "ember/vm.h"

#ifndef EMBER_VERSION
#define EMBER_VERSION "0.0.0"
#endif

#define MSG_POST_BOOT "The requested operation is not supported after starting the microVM."
#define MSG_PRE_BOOT "The requested operation is not supported before starting the microVM."

struct controller {
	struct event_loop *el;
	struct mmds *mmds; /* the data store, from the start (PUT /mmds pre-boot) */
	struct vm_config cfg;
	struct vm *vm;
	bool configured; /* a VM resource was configured: no snapshot load */
	char id[CFG_ID_MAX + 1];
};

/* ---- replies ---- */

static void reply_message(struct ctl_reply *resp, enum ctl_status st, const char *fmt, va_list ap)
    __attribute__((format(printf, 3, 0)));
static void reply_message(struct ctl_reply *resp, enum ctl_status st, const char *fmt, va_list ap)
{
	free(resp->json);
	resp->json = NULL;
	resp->status = st;
	vsnprintf(resp->message, sizeof(resp->message), fmt, ap);
}

static void ctl_refuse(struct ctl_reply *resp, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static void ctl_refuse(struct ctl_reply *resp, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	reply_message(resp, CTL_REFUSED, fmt, ap);
	va_end(ap);
}

static void reply_message_s(struct ctl_reply *resp, enum ctl_status st, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void reply_message_s(struct ctl_reply *resp, enum ctl_status st, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	reply_message(resp, st, fmt, ap);
	va_end(ap);
}

static void ctl_fail(struct ctl_reply *resp, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static void ctl_fail(struct ctl_reply *resp, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	reply_message(resp, CTL_FAILED, fmt, ap);
	va_end(ap);
}

void ctl_reply_free(struct ctl_reply *resp)
{
	free(resp->json);
	resp->json = NULL;
}

void api_request_free(struct api_request *req)
{
	switch (req->op) {
	case API_UPDATE_MACHINE_CONFIG:
		machine_update_free(&req->u.machine);
		break;
	case API_PUT_BOOT_SOURCE:
		boot_source_cfg_free(&req->u.boot);
		break;
	case API_PUT_DRIVE:
		drive_cfg_free(&req->u.drive);
		break;
	case API_PATCH_DRIVE:
		drive_update_free(&req->u.drive_update);
		break;
	case API_PUT_NET:
		net_cfg_free(&req->u.net);
		break;
	case API_PUT_PMEM:
		pmem_cfg_free(&req->u.pmem);
		break;
	case API_PUT_VSOCK:
		vsock_cfg_free(&req->u.vsock);
		break;
	case API_PUT_SERIAL:
		free(req->u.serial.path);
		break;
	case API_PUT_CPU_CONFIG:
		free(req->u.cpu_config_json);
		req->u.cpu_config_json = NULL;
		break;
	case API_PUT_LOGGER:
		logger_cfg_free(&req->u.logger.cfg);
		free(req->u.logger.path);
		req->u.logger.path = NULL;
		break;
	case API_PUT_METRICS:
		metrics_cfg_free(&req->u.metrics.cfg);
		free(req->u.metrics.path);
		req->u.metrics.path = NULL;
		break;
	case API_SNAPSHOT_CREATE:
		snapshot_create_req_free(&req->u.snap_create);
		break;
	case API_SNAPSHOT_LOAD:
		snapshot_load_req_free(&req->u.snap_load);
		break;
	default:
		break;
	}
}

/* ---- helpers ---- */

static void ok204(struct ctl_reply *resp)
{
	ctl_reply_free(resp);
	resp->status = CTL_DONE;
}

static void ok200(struct ctl_reply *resp, char *json)
{
	if (!json) {
		ctl_fail(resp, "Out of memory.");
	} else {
		ctl_reply_free(resp);
		resp->status = CTL_DONE_JSON;
		resp->json = json;
	}
}

static uint64_t now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000 + (uint64_t)ts.tv_nsec / 1000;
}

static int find_drive(const struct controller *c, const char *id)
{
	for (int i = 0; i < c->cfg.ndrives; i++)
		if (strcmp(c->cfg.drives[i].id, id) == 0)
			return i;
	return -1;
}

static int find_net(const struct controller *c, const char *id)
{
	for (int i = 0; i < c->cfg.nnets; i++)
		if (strcmp(c->cfg.nets[i].id, id) == 0)
			return i;
	return -1;
}

static const char *state_name(const struct controller *c)
{
	if (!c->vm)
		return "Not started";
	return vm_get_state(c->vm) == VM_STATE_PAUSED ? "Paused" : "Running";
}

/* ---- pre-boot configuration ---- */

static void put_machine(struct controller *c, struct api_request *q, struct ctl_reply *resp)
{
	struct machine_update *u = &q->u.machine;
	uint64_t *fails = q->patch ? &metrics.patch_api_requests.machine_cfg_fails
				   : &metrics.put_api_requests.machine_cfg_fails;
	struct machine_cfg m;

	if (machine_update_apply(u, &c->cfg.machine, &m) < 0) {
		METRIC_INC(*fails);
		ctl_refuse(resp, "Machine config error: %s", err_msg());
		return;
	}
	if (config_check_machine_host(&m) < 0) {
		free(m.cpu_template_name);
		METRIC_INC(*fails);
		ctl_refuse(resp, "Machine config error: %s", err_msg());
		return;
	}
	if (c->cfg.balloon.present && (uint64_t)c->cfg.balloon.amount_mib > m.mem_size_mib) {
		free(m.cpu_template_name);
		METRIC_INC(*fails);
		ctl_refuse(resp, "Machine config error: The memory size (MiB) is smaller than the "
				 "previously set balloon device target size.");
		return;
	}
	if (u->has_cpu_template) {
		/* A static template (or "None") replaces a custom one. */
		free(c->cfg.cpu_template_json);
		c->cfg.cpu_template_json = NULL;
	}
	free(c->cfg.machine.cpu_template_name);
	c->cfg.machine = m;
	ok204(resp);
}

static void put_boot_source(struct controller *c, struct api_request *q, struct ctl_reply *resp)
{
	struct boot_source_cfg *b = &q->u.boot;

	if (config_check_file(b->kernel_path, false, HOST_FILE_REGULAR, "kernel_image_path") < 0) {
		METRIC_INC(metrics.put_api_requests.boot_source_fails);
		ctl_refuse(resp, "Boot source error: The kernel file cannot be opened: %s",
			   err_msg());
		return;
	}
	if (b->initrd_path &&
	    config_check_file(b->initrd_path, false, HOST_FILE_REGULAR, "initrd_path") < 0) {
		METRIC_INC(metrics.put_api_requests.boot_source_fails);
		ctl_refuse(resp, "Boot source error: The initrd file cannot be opened: %s",
			   err_msg());
		return;
	}
	boot_source_cfg_free(&c->cfg.boot);
	c->cfg.boot = *b;
	memset(b, 0, sizeof(*b));
	ok204(resp);
}

static void put_drive(struct controller *c, struct api_request *q, struct ctl_reply *resp)
{
	struct drive_cfg *d = &q->u.drive;
	struct vm_config *cfg = &c->cfg;
	int idx = find_drive(c, d->id);

	if (config_check_drive(d) < 0 ||
	    config_check_file(d->path, !d->read_only, HOST_FILE_DISK, "path_on_host") < 0) {
		METRIC_INC(metrics.put_api_requests.drive_fails);
		ctl_refuse(resp, "Drive config error: %s", err_msg());
		return;
	}
	if (d->is_root) {
		for (int i = 0; i < cfg->ndrives; i++) {
			if (i != idx && cfg->drives[i].is_root) {
				METRIC_INC(metrics.put_api_requests.drive_fails);
				ctl_refuse(resp, "Drive config error: A root block device "
						 "already exists!");
				return;
			}
		}
	}
	if (idx < 0 && cfg->ndrives >= CFG_MAX_DRIVES) {
		METRIC_INC(metrics.put_api_requests.drive_fails);
		ctl_refuse(resp, "Drive config error: too many drives (at most %d).",
			   CFG_MAX_DRIVES);
		return;
	}
	if (idx >= 0) {
		/* Replace: take it out, insert again below (root moves to the front). */
		drive_cfg_free(&cfg->drives[idx]);
		memmove(&cfg->drives[idx], &cfg->drives[idx + 1],
			sizeof(cfg->drives[0]) * (size_t)(cfg->ndrives - idx - 1));
		cfg->ndrives--;
	}
	if (d->is_root) {
		/* Firecracker keeps the root device first: it becomes /dev/vda. */
		memmove(&cfg->drives[1], &cfg->drives[0],
			sizeof(cfg->drives[0]) * (size_t)cfg->ndrives);
		cfg->drives[0] = *d;
	} else if (idx >= 0) {
		memmove(&cfg->drives[idx + 1], &cfg->drives[idx],
			sizeof(cfg->drives[0]) * (size_t)(cfg->ndrives - idx));
		cfg->drives[idx] = *d;
	} else {
		cfg->drives[cfg->ndrives] = *d;
	}
	cfg->ndrives++;
	memset(d, 0, sizeof(*d));
	ok204(resp);
}

static void put_pmem(struct controller *c, struct api_request *q, struct ctl_reply *resp)
{
	struct pmem_cfg *p = &q->u.pmem;
	struct vm_config *cfg = &c->cfg;
	int idx = -1;

	for (int i = 0; i < cfg->npmems; i++)
		if (strcmp(cfg->pmems[i].id, p->id) == 0)
			idx = i;
	if (config_check_pmem(p) < 0 ||
	    config_check_file(p->path, !p->read_only, HOST_FILE_REGULAR, "path_on_host") < 0) {
		ctl_refuse(resp, "Pmem config error: %s", err_msg());
		return;
	}
	if (p->root_device) {
		for (int i = 0; i < cfg->ndrives; i++) {
			if (cfg->drives[i].is_root) {
				ctl_refuse(resp,
					   "Pmem config error: a root device already exists "
					   "(drive %s).",
					   cfg->drives[i].id);
				return;
			}
		}
		for (int i = 0; i < cfg->npmems; i++) {
			if (i != idx && cfg->pmems[i].root_device) {
				ctl_refuse(resp,
					   "Pmem config error: a root device already exists "
					   "(pmem %s).",
					   cfg->pmems[i].id);
				return;
			}
		}
	}
	if (idx < 0 && cfg->npmems >= CFG_MAX_PMEM) {
		ctl_refuse(resp, "Pmem config error: too many pmem devices (at most %d).",
			   CFG_MAX_PMEM);
		return;
	}
	if (idx >= 0) { /* an update keeps its place (its /dev/pmemN) */
		pmem_cfg_free(&cfg->pmems[idx]);
		cfg->pmems[idx] = *p;
	} else {
		cfg->pmems[cfg->npmems++] = *p;
		if (config_check_device_count(cfg) < 0) {
			cfg->npmems--;
			ctl_refuse(resp, "Pmem config error: %s", err_msg());
			return; /* p still owns its path */
		}
	}
	memset(p, 0, sizeof(*p));
	ok204(resp);
}

static void patch_pmem(struct controller *c, struct api_request *q, struct ctl_reply *resp)
{
	struct pmem_update *u = &q->u.pmem_update;
	struct pmem_cfg *p = NULL;
	struct rate_limiter_cfg rl;

	for (int i = 0; i < c->cfg.npmems; i++)
		if (strcmp(c->cfg.pmems[i].id, u->id) == 0)
			p = &c->cfg.pmems[i];
	if (!p) {
		ctl_refuse(resp, "Pmem config error: Invalid pmem device ID: %s", u->id);
		return;
	}
	rl = p->rate_limiter;
	if (u->has_rate_limiter) {
		/* Buckets the PATCH does not name keep their configuration. */
		if (u->rate_limiter.bandwidth.present)
			rl.bandwidth = u->rate_limiter.bandwidth;
		if (u->rate_limiter.ops.present)
			rl.ops = u->rate_limiter.ops;
	}
	if (vm_update_pmem(c->vm, u->id, &rl) < 0) {
		ctl_refuse(resp, "Pmem config error: %s", err_msg());
		return;
	}
	p->rate_limiter = rl;
	ok204(resp);
}

static void memory_hotplug(struct controller *c, struct api_request *q, struct ctl_reply *resp)
{
	const struct memhp_cfg *m = &c->cfg.memory_hotplug;
	struct virtio_mem *dev = c->vm ? vm_get_virtio_mem(c->vm) : NULL;
	struct memhp_status st = {0};
	struct virtio_mem_status ds;

	switch (q->op) {
	case API_PUT_MEMORY_HOTPLUG:
		c->cfg.memory_hotplug = q->u.memhp;
		if (config_check_device_count(&c->cfg) < 0) {
			c->cfg.memory_hotplug.present = false;
			ctl_refuse(resp, "Memory hotplug config error: %s", err_msg());
			return;
		}
		ok204(resp);
		return;
	case API_PATCH_MEMORY_HOTPLUG:
		if (!dev) {
			ctl_refuse(resp, "Memory hotplug update error: no hotpluggable memory "
					 "configured.");
			return;
		}
		if (q->u.requested_size_mib > m->total_size_mib ||
		    virtio_mem_set_requested(dev, q->u.requested_size_mib << 20) < 0) {
			ctl_refuse(resp,
				   "Memory hotplug update error: requested_size_mib %llu must be a "
				   "multiple of block_size_mib (%llu) up to total_size_mib (%llu).",
				   (unsigned long long)q->u.requested_size_mib,
				   (unsigned long long)m->block_size_mib,
				   (unsigned long long)m->total_size_mib);
			return;
		}
		ok204(resp);
		return;
	default: /* API_GET_MEMORY_HOTPLUG */
		if (!m->present) {
			ctl_refuse(resp,
				   "Memory hotplug error: no hotpluggable memory configured.");
			return;
		}
		st.total_size_mib = m->total_size_mib;
		st.slot_size_mib = m->slot_size_mib;
		st.block_size_mib = m->block_size_mib;
		if (dev) {
			virtio_mem_get_status(dev, &ds);
			st.plugged_size_mib = ds.plugged_size >> 20;
			st.requested_size_mib = ds.requested_size >> 20;
		}
		ok200(resp, cfgjson_emit_memhp_status(&st));
		return;
	}
}

static void put_net(struct controller *c, struct api_request *q, struct ctl_reply *resp)
{
	struct net_cfg *n = &q->u.net;
	struct vm_config *cfg = &c->cfg;
	int idx = find_net(c, n->id);

	for (int i = 0; i < cfg->nnets; i++) {
		const struct net_cfg *o = &cfg->nets[i];

		if (i == idx)
			continue;
		if (o->host_dev_name && n->host_dev_name &&
		    strcmp(o->host_dev_name, n->host_dev_name) == 0) {
			METRIC_INC(metrics.put_api_requests.network_fails);
			ctl_refuse(resp,
				   "Network config error: The host device name %s "
				   "is already in use.",
				   n->host_dev_name);
			return;
		}
		if (o->has_mac && n->has_mac && memcmp(o->mac, n->mac, 6) == 0) {
			METRIC_INC(metrics.put_api_requests.network_fails);
			ctl_refuse(resp,
				   "Network config error: The MAC address is already "
				   "in use: %02x:%02x:%02x:%02x:%02x:%02x",
				   n->mac[0], n->mac[1], n->mac[2], n->mac[3], n->mac[4],
				   n->mac[5]);
			return;
		}
	}
	if (idx < 0 && cfg->nnets >= CFG_MAX_NETS) {
		METRIC_INC(metrics.put_api_requests.network_fails);
		ctl_refuse(resp, "Network config error: too many network interfaces (at most %d).",
			   CFG_MAX_NETS);
		return;
	}
	if (idx >= 0)
		net_cfg_free(&cfg->nets[idx]);
	else
		idx = cfg->nnets++;
	cfg->nets[idx] = *n;
	memset(n, 0, sizeof(*n));
	ok204(resp);
}

static void put_balloon(struct controller *c, struct api_request *q, struct ctl_reply *resp)
{
	if (config_check_balloon(&q->u.balloon, &c->cfg.machine) < 0) {
		METRIC_INC(metrics.put_api_requests.balloon_fails);
		ctl_refuse(resp, "Balloon config error: %s", err_msg());
		return;
	}
	c->cfg.balloon = q->u.balloon;
	ok204(resp);
}

static void put_logger(struct controller *c, struct api_request *q, struct ctl_reply *resp)
{
	struct logger_cfg *l = &q->u.logger.cfg, *cur = &c->cfg.logger;
	int r;

	if (q->u.logger.path && (r = log_open(q->u.logger.path)) < 0) {
		METRIC_INC(metrics.put_api_requests.logger_fails);
		ctl_refuse(resp, "Logger error: Failed to open target file: %s: %s",
			   q->u.logger.path, strerror(-r));
		return;
	}
	if (l->module && log_set_module(l->module) < 0) {
		METRIC_INC(metrics.put_api_requests.logger_fails);
		ctl_fail(resp, "Out of memory.");
		return;
	}
	if (l->has_level) {
		log_set_level((enum log_level)l->level);
		cur->has_level = true;
		cur->level = l->level;
	}
	if (l->has_show_level) {
		cur->has_show_level = true;
		cur->show_level = l->show_level;
	}
	if (l->has_show_log_origin) {
		cur->has_show_log_origin = true;
		cur->show_log_origin = l->show_log_origin;
	}
	if (l->has_show_level || l->has_show_log_origin)
		log_set_format(cur->has_show_level ? cur->show_level : true,
			       cur->has_show_log_origin && cur->show_log_origin);
	if (l->module) {
		free(cur->module);
		cur->module = l->module;
		l->module = NULL;
	}
	if (q->u.logger.path) {
		free(c->cfg.log_path);
		c->cfg.log_path = q->u.logger.path;
		q->u.logger.path = NULL;
	}
	cur->present = true;
	ok204(resp);
}

static void put_metrics(struct controller *c, struct api_request *q, struct ctl_reply *resp)
{
	struct metrics_cfg *m = &q->u.metrics.cfg;
	int r;

	if (metrics_is_open()) {
		METRIC_INC(metrics.put_api_requests.metrics_fails);
		ctl_refuse(resp, "Metrics error: Reinitialization of metrics not allowed.");
		return;
	}
	if ((r = metrics_open(q->u.metrics.path)) < 0) {
		METRIC_INC(metrics.put_api_requests.metrics_fails);
		ctl_refuse(resp,
			   "Metrics error: Cannot initialize the metrics system due to bad "
			   "user input: %s: %s",
			   q->u.metrics.path, strerror(-r));
		return;
	}
	metrics_set_options(c->id, m->emit_id, m->properties_json);
	metrics_cfg_free(&c->cfg.metrics);
	c->cfg.metrics = *m;
	memset(m, 0, sizeof(*m));
	free(c->cfg.metrics_path);
	c->cfg.metrics_path = q->u.metrics.path;
	q->u.metrics.path = NULL;
	ok204(resp);
}

/* ---- MMDS ---- */

static void mmds_data(struct controller *c, struct api_request *q, struct ctl_reply *resp)
{
	bool patch = q->op == API_PATCH_MMDS;
	uint64_t *fails =
	    patch ? &metrics.patch_api_requests.mmds_fails : &metrics.put_api_requests.mmds_fails;
	int r = patch ? mmds_patch(c->mmds, q->u.mmds_data.text, q->u.mmds_data.len)
		      : mmds_put(c->mmds, q->u.mmds_data.text, q->u.mmds_data.len);

	if (r == 0) {
		ok204(resp);
		return;
	}
	METRIC_INC(*fails);
	if (r == -EFBIG) {
		reply_message_s(resp, CTL_TOO_LARGE, "MMDS limit exceeded error: %s", err_msg());
		return;
	}
	ctl_refuse(resp, "MMDS error: %s", err_msg());
}

static void put_mmds_config(struct controller *c, struct api_request *q, struct ctl_reply *resp)
{
	const struct mmds_cfg *m = &q->u.mmds_cfg;

	if (config_check_mmds(m, &c->cfg) < 0) {
		METRIC_INC(metrics.put_api_requests.mmds_fails);
		/* Firecracker's own spelling of the prefix, for clients that match it */
		ctl_refuse(resp, "MMMDS config error: %s", err_msg());
		return;
	}
	c->cfg.mmds = *m;
	mmds_set_mode(c->mmds, m->version, m->imds_compat);
	if (m->version == MMDS_V1)
		log_warn("PUT /mmds/config: V1 is deprecated. Use V2 instead.");
	ok204(resp);
}

int controller_load_metadata(struct controller *c, const char *path)
{
	uint8_t *buf;
	size_t n;
	int r = read_whole_file(path, 64 * MiB, &buf, &n);

	if (r == 0) {
		r = mmds_put(c->mmds, (const char *)buf, n);
		free(buf);
	}
	return r ? err_wrap(-r, "Populating MMDS from file failed") : 0;
}

/* The MMDS responder on the interfaces mmds-config names. */
static int start_mmds(struct controller *c)
{
	mmds_set_mode(c->mmds, c->cfg.mmds.version, c->cfg.mmds.imds_compat);
	return c->cfg.mmds.present ? vm_enable_mmds(c->vm, &c->cfg.mmds, c->mmds) : 0;
}

/* ---- the running VM ---- */

int controller_start(struct controller *c)
{
	int r;

	if (c->vm)
		return err_set(EALREADY, MSG_POST_BOOT);
	if ((r = config_validate(&c->cfg)) < 0)
		return r;
	if ((r = vm_create(&c->cfg, c->el, &c->vm)) < 0) {
		c->vm = NULL;
		return r;
	}
	if ((r = start_mmds(c)) < 0) {
		vm_destroy(c->vm);
		c->vm = NULL;
		return r;
	}
	if ((r = vm_start(c->vm)) < 0)
		return r; /* vm_start asked the VM to exit; the process ends with it */
	log_info("microVM started (%u vCPU, %llu MiB)", c->cfg.machine.vcpu_count,
		 (unsigned long long)c->cfg.machine.mem_size_mib);
	return 0;
}

static void patch_drive(struct controller *c, struct api_request *q, struct ctl_reply *resp)
{
	struct drive_update *u = &q->u.drive_update;
	int idx = find_drive(c, u->id);
	struct rate_limiter_cfg rl;
	struct drive_cfg *d;

	if (idx < 0) {
		METRIC_INC(metrics.patch_api_requests.drive_fails);
		ctl_refuse(resp, "Drive config error: Invalid block device ID: %s", u->id);
		return;
	}
	d = &c->cfg.drives[idx];
	rl = d->rate_limiter;
	if (u->has_rate_limiter) {
		/* Buckets the PATCH does not name keep their configuration. */
		if (u->rate_limiter.bandwidth.present)
			rl.bandwidth = u->rate_limiter.bandwidth;
		if (u->rate_limiter.ops.present)
			rl.ops = u->rate_limiter.ops;
	}
	if ((u->path &&
	     config_check_file(u->path, !d->read_only, HOST_FILE_DISK, "path_on_host") < 0) ||
	    vm_update_drive(c->vm, u->id, u->path, u->has_rate_limiter ? &rl : NULL) < 0) {
		METRIC_INC(metrics.patch_api_requests.drive_fails);
		ctl_refuse(resp, "Drive config error: Unable to patch the block device: %s",
			   err_msg());
		return;
	}
	if (u->path) {
		free(d->path);
		d->path = u->path;
		u->path = NULL;
	}
	d->rate_limiter = rl;
	ok204(resp);
}

static void patch_net(struct controller *c, struct api_request *q, struct ctl_reply *resp)
{
	struct net_update *u = &q->u.net_update;
	int idx = find_net(c, u->id);
	struct net_cfg *n;

	if (idx < 0) {
		METRIC_INC(metrics.patch_api_requests.network_fails);
		ctl_refuse(resp, "Network config error: Invalid network interface ID: %s", u->id);
		return;
	}
	n = &c->cfg.nets[idx];
	if (vm_update_net(c->vm, u->id, u->has_rx ? &u->rx : NULL, u->has_tx ? &u->tx : NULL) < 0) {
		METRIC_INC(metrics.patch_api_requests.network_fails);
		ctl_refuse(resp,
			   "Network config error: Could not update the network "
			   "device: %s",
			   err_msg());
		return;
	}
	if (u->has_rx)
		n->rx_rate_limiter = u->rx;
	if (u->has_tx)
		n->tx_rate_limiter = u->tx;
	ok204(resp);
}

static void balloon_post_boot(struct controller *c, struct api_request *q, struct ctl_reply *resp)
{
	struct balloon_cfg *b = &c->cfg.balloon;
	struct virtio_balloon *dev = c->vm ? vm_get_balloon(c->vm) : NULL;
	char *json = NULL;

	if (!b->present || !dev) {
		METRIC_INC(metrics.patch_api_requests.balloon_fails);
		ctl_refuse(resp, "Balloon update error: No balloon device found.");
		return;
	}
	switch (q->op) {
	case API_PATCH_BALLOON:
		if (q->u.balloon_amount_mib > c->cfg.machine.mem_size_mib) {
			ctl_refuse(resp,
				   "Balloon update error: amount_mib (%u) is larger "
				   "than the guest memory (%llu MiB).",
				   q->u.balloon_amount_mib,
				   (unsigned long long)c->cfg.machine.mem_size_mib);
			return;
		}
		if (virtio_balloon_set_target(dev, q->u.balloon_amount_mib) < 0)
			break;
		b->amount_mib = q->u.balloon_amount_mib;
		ok204(resp);
		return;
	case API_PATCH_BALLOON_STATS:
		if (!b->stats_polling_interval_s || !q->u.stats_interval_s) {
			ctl_refuse(resp, "Balloon update error: Statistics cannot be "
					 "turned on or off after boot.");
			return;
		}
		if (virtio_balloon_set_stats_interval(dev, q->u.stats_interval_s) < 0)
			break;
		b->stats_polling_interval_s = q->u.stats_interval_s;
		ok204(resp);
		return;
	case API_PATCH_BALLOON_HINT_START:
		if (virtio_balloon_hint_start(dev, q->u.hint_ack_on_stop) < 0)
			break;
		ok204(resp);
		return;
	case API_PATCH_BALLOON_HINT_STOP:
		if (virtio_balloon_hint_stop(dev) < 0)
			break;
		ok204(resp);
		return;
	case API_GET_BALLOON_HINT_STATUS:
		if (virtio_balloon_hint_status_json(dev, &json) < 0)
			break;
		ok200(resp, json);
		return;
	case API_GET_BALLOON_STATS:
		if (!b->stats_polling_interval_s) {
			ctl_refuse(resp, "Balloon update error: Statistics for the balloon "
					 "device are not enabled.");
			return;
		}
		if (virtio_balloon_stats_json(dev, &json) < 0)
			break;
		ok200(resp, json);
		return;
	default:
		break;
	}
	METRIC_INC(metrics.patch_api_requests.balloon_fails);
	ctl_refuse(resp, "Balloon update error: %s", err_msg());
}

/* Device counters -> metrics groups, as deltas since the last flush. Runs on
 * the VMM thread from metrics_serialize(). */
static void collect_metrics(void *opaque)
{
	struct controller *c = opaque;

	if (c->vm)
		vm_publish_metrics(c->vm);
}

static void vm_action(struct controller *c, struct api_request *q, struct ctl_reply *resp)
{
	uint64_t t0 = now_us();
	int r;

	switch (q->op) {
	case API_PAUSE:
		r = vm_pause(c->vm);
		if (r == 0)
			METRIC_STORE(metrics.latencies_us.vmm_pause_vm, now_us() - t0);
		/* a load that records its working set ends its first run here */
		if (r == 0 && snapshot_ws_record(c->vm) < 0)
			log_warn("%s", err_msg());
		break;
	case API_RESUME:
		r = vm_resume(c->vm);
		if (r == 0)
			METRIC_STORE(metrics.latencies_us.vmm_resume_vm, now_us() - t0);
		break;
	case API_SEND_CTRL_ALT_DEL:
		r = vm_send_ctrl_alt_del(c->vm);
		break;
	default: /* API_FLUSH_METRICS */
		r = metrics_flush();
		if (r < 0) {
			ctl_refuse(resp,
				   "Internal VMM error: Error while writing "
				   "metrics: %s",
				   strerror(-r));
			return;
		}
		break;
	}
	if (r < 0) {
		ctl_refuse(resp, "Internal VMM error: %s", err_msg());
		return;
	}
	ok204(resp);
}

/* ---- snapshots ---- */

static void snapshot_create_req(struct controller *c, struct api_request *q, struct ctl_reply *resp)
{
	uint64_t t0 = now_us();
	bool diff = q->u.snap_create.type == SNAP_DIFF;

	if (vm_get_state(c->vm) != VM_STATE_PAUSED) {
		ctl_refuse(resp, "Create snapshot error: the microVM must be paused "
				 "(PATCH /vm {\"state\": \"Paused\"}) first.");
		return;
	}
	if (snapshot_create(c->vm, &c->cfg, &q->u.snap_create) < 0) {
		ctl_refuse(resp, "Create snapshot error: %s", err_msg());
		return;
	}
	if (diff)
		METRIC_STORE(metrics.latencies_us.vmm_diff_create_snapshot, now_us() - t0);
	else
		METRIC_STORE(metrics.latencies_us.vmm_full_create_snapshot, now_us() - t0);
	ok204(resp);
}

static void snapshot_load_req(struct controller *c, struct api_request *q, struct ctl_reply *resp)
{
	uint64_t t0 = now_us();

	if (c->configured) {
		ctl_refuse(resp, "Load snapshot error: Loading a microVM snapshot not allowed "
				 "after configuring boot-specific resources.");
		return;
	}
	if (snapshot_load(&q->u.snap_load, c->el, &c->cfg, &c->vm) < 0) {
		c->vm = NULL;
		ctl_refuse(resp, "Load snapshot error: %s", err_msg());
		return;
	}
	if (start_mmds(c) < 0) {
		ctl_refuse(resp, "Load snapshot error: %s", err_msg());
		return;
	}
	METRIC_STORE(metrics.latencies_us.vmm_load_snapshot, now_us() - t0);
	if (q->u.snap_load.resume_vm && vm_resume(c->vm) < 0) {
		ctl_refuse(resp, "Load snapshot error: resuming the microVM: %s", err_msg());
		return;
	}
	ok204(resp);
}

/* ---- dispatch ---- */

static bool pre_boot_only(enum api_op op)
{
	switch (op) {
	case API_UPDATE_MACHINE_CONFIG:
	case API_PUT_BOOT_SOURCE:
	case API_PUT_DRIVE:
	case API_PUT_NET:
	case API_PUT_VSOCK:
	case API_PUT_ENTROPY:
	case API_PUT_PMEM:
	case API_PUT_MEMORY_HOTPLUG:
	case API_PUT_SERIAL:
	case API_PUT_BALLOON:
	case API_PUT_CPU_CONFIG:
	case API_PUT_LOGGER:
	case API_PUT_METRICS:
	case API_INSTANCE_START:
	case API_SNAPSHOT_LOAD:
	case API_PUT_MMDS_CONFIG:
		return true;
	default:
		return false;
	}
}

static bool post_boot_only(enum api_op op)
{
	switch (op) {
	case API_PATCH_DRIVE:
	case API_PATCH_NET:
	case API_PATCH_PMEM:
	case API_PATCH_MEMORY_HOTPLUG:
	case API_PATCH_BALLOON:
	case API_GET_BALLOON_STATS:
	case API_PATCH_BALLOON_STATS:
	case API_PATCH_BALLOON_HINT_START:
	case API_PATCH_BALLOON_HINT_STOP:
	case API_GET_BALLOON_HINT_STATUS:
	case API_SEND_CTRL_ALT_DEL:
	case API_FLUSH_METRICS:
	case API_PAUSE:
	case API_RESUME:
	case API_SNAPSHOT_CREATE:
		return true;
	default:
		return false;
	}
}

/* Requests that configure the VM's resources: after one, a snapshot load
 * is refused (Firecracker: load only into a fresh process). */
static bool configures_vm(enum api_op op)
{
	switch (op) {
	case API_UPDATE_MACHINE_CONFIG:
	case API_PUT_BOOT_SOURCE:
	case API_PUT_DRIVE:
	case API_PUT_NET:
	case API_PUT_VSOCK:
	case API_PUT_ENTROPY:
	case API_PUT_PMEM:
	case API_PUT_MEMORY_HOTPLUG:
	case API_PUT_SERIAL:
	case API_PUT_BALLOON:
	case API_PUT_CPU_CONFIG:
		return true;
	default:
		return false;
	}
}

static char *instance_info(const struct controller *c)
{
	cJSON *o = cJSON_CreateObject();
	char *s;

	cJSON_AddStringToObject(o, "app_name", "ember");
	cJSON_AddStringToObject(o, "id", c->id);
	cJSON_AddStringToObject(o, "state", state_name(c));
	cJSON_AddStringToObject(o, "vmm_version", EMBER_VERSION);
	cJSON_AddStringToObject(o, "arch", arch_layout.name); /* ember extension */
	if (c->vm && vm_get_measurements(c->vm)) {
		/* ember extension: measured direct boot (SHA-256, hex), when it was
		 * asked for (boot-source measured_boot) or the kernel is a UKI */
		const struct boot_measurements *m = vm_get_measurements(c->vm);
		cJSON *mb = cJSON_AddObjectToObject(o, "measured_boot");

		cJSON_AddStringToObject(mb, "kernel_sha256", m->kernel);
		if (m->initrd[0])
			cJSON_AddStringToObject(mb, "initrd_sha256", m->initrd);
		cJSON_AddStringToObject(mb, "cmdline_sha256", m->cmdline);
	}
	s = cJSON_PrintUnformatted(o);
	cJSON_Delete(o);
	return s;
}

static char *version_json(void)
{
	cJSON *o = cJSON_CreateObject();
	char *s;

	cJSON_AddStringToObject(o, "firecracker_version", EMBER_FC_API_VERSION);
	s = cJSON_PrintUnformatted(o);
	cJSON_Delete(o);
	return s;
}

void controller_handle(struct controller *c, struct api_request *q, struct ctl_reply *resp)
{
	bool started = c->vm != NULL;

	err_clear();
	if (started && pre_boot_only(q->op)) {
		ctl_refuse(resp, MSG_POST_BOOT);
		return;
	}
	if (!started && post_boot_only(q->op)) {
		ctl_refuse(resp, MSG_PRE_BOOT);
		return;
	}
	switch (q->op) {
	case API_GET_INSTANCE_INFO:
		METRIC_INC(metrics.get_api_requests.instance_info_count);
		ok200(resp, instance_info(c));
		break;
	case API_GET_VERSION:
		ok200(resp, version_json());
		break;
	case API_GET_MACHINE_CONFIG:
		ok200(resp, cfgjson_emit_machine(&c->cfg.machine));
		break;
	case API_GET_VM_CONFIG:
		ok200(resp, cfgjson_emit_vm_config(&c->cfg));
		break;
	case API_UPDATE_MACHINE_CONFIG:
		put_machine(c, q, resp);
		break;
	case API_PUT_BOOT_SOURCE:
		put_boot_source(c, q, resp);
		break;
	case API_PUT_DRIVE:
		put_drive(c, q, resp);
		break;
	case API_PUT_NET:
		put_net(c, q, resp);
		break;
	case API_PUT_VSOCK:
		vsock_cfg_free(&c->cfg.vsock);
		c->cfg.vsock = q->u.vsock;
		memset(&q->u.vsock, 0, sizeof(q->u.vsock));
		ok204(resp);
		break;
	case API_PUT_ENTROPY:
		c->cfg.entropy = q->u.entropy;
		ok204(resp);
		break;
	case API_PUT_PMEM:
		put_pmem(c, q, resp);
		break;
	case API_PATCH_PMEM:
		patch_pmem(c, q, resp);
		break;
	case API_PUT_MEMORY_HOTPLUG:
	case API_PATCH_MEMORY_HOTPLUG:
	case API_GET_MEMORY_HOTPLUG:
		memory_hotplug(c, q, resp);
		break;
	case API_PUT_SERIAL:
		free(c->cfg.console.path);
		c->cfg.console = q->u.serial;
		memset(&q->u.serial, 0, sizeof(q->u.serial));
		ok204(resp);
		break;
	case API_GET_BALLOON:
		if (!c->cfg.balloon.present)
			ctl_refuse(resp, "Balloon config error: No balloon device found.");
		else
			ok200(resp, cfgjson_emit_balloon(&c->cfg.balloon));
		break;
	case API_PUT_BALLOON:
		put_balloon(c, q, resp);
		break;
	case API_PUT_CPU_CONFIG:
		free(c->cfg.cpu_template_json);
		c->cfg.cpu_template_json = q->u.cpu_config_json;
		q->u.cpu_config_json = NULL;
		free(c->cfg.machine.cpu_template_name);
		c->cfg.machine.cpu_template_name = NULL;
		ok204(resp);
		break;
	case API_PUT_LOGGER:
		put_logger(c, q, resp);
		break;
	case API_PUT_METRICS:
		put_metrics(c, q, resp);
		break;
	case API_INSTANCE_START:
		if (controller_start(c) < 0) {
			METRIC_INC(metrics.put_api_requests.actions_fails);
			ctl_refuse(resp, "Start microvm error: %s", err_msg());
		} else {
			ok204(resp);
		}
		break;
	case API_PATCH_DRIVE:
		patch_drive(c, q, resp);
		break;
	case API_PATCH_NET:
		patch_net(c, q, resp);
		break;
	case API_PATCH_BALLOON:
	case API_PATCH_BALLOON_STATS:
	case API_GET_BALLOON_STATS:
	case API_PATCH_BALLOON_HINT_START:
	case API_PATCH_BALLOON_HINT_STOP:
	case API_GET_BALLOON_HINT_STATUS:
		balloon_post_boot(c, q, resp);
		break;
	case API_SEND_CTRL_ALT_DEL:
	case API_FLUSH_METRICS:
	case API_PAUSE:
	case API_RESUME:
		vm_action(c, q, resp);
		break;
	case API_SNAPSHOT_CREATE:
		snapshot_create_req(c, q, resp);
		break;
	case API_SNAPSHOT_LOAD:
		snapshot_load_req(c, q, resp);
		break;
	case API_GET_MMDS:
		ok200(resp, mmds_get_json(c->mmds));
		break;
	case API_PUT_MMDS:
	case API_PATCH_MMDS:
		mmds_data(c, q, resp);
		break;
	case API_PUT_MMDS_CONFIG:
		put_mmds_config(c, q, resp);
		break;
	default:
		ctl_refuse(resp, "Invalid request.");
		break;
	}
	if (configures_vm(q->op) && resp->status == CTL_DONE)
		c->configured = true;
}

int controller_create(struct event_loop *el, const char *instance_id, struct vm_config *cfg,
		      struct controller **out)
{
	struct controller *c = calloc(1, sizeof(*c));

	if (!c)
		return err_set(ENOMEM, "out of memory");
	c->el = el;
	snprintf(c->id, sizeof(c->id), "%s", instance_id ? instance_id : "anonymous-instance");
	if (cfg) {
		c->cfg = *cfg;
		config_init(cfg);
	} else {
		config_init(&c->cfg);
	}
	if (mmds_create(c->cfg.mmds_size_limit ? c->cfg.mmds_size_limit : MMDS_DEFAULT_SIZE_LIMIT,
			&c->mmds) < 0) {
		config_free(&c->cfg);
		free(c);
		return -ENOMEM;
	}
	metrics_set_collector(collect_metrics, c);
	*out = c;
	return 0;
}

void controller_destroy(struct controller *c)
{
	if (!c)
		return;
	metrics_set_collector(NULL, NULL);
	if (snapshot_ws_record(c->vm) < 0) /* (no pause came first) */
		log_warn("%s", err_msg());
	vm_destroy(c->vm);
	config_free(&c->cfg);
	mmds_destroy(c->mmds);
	free(c);
}

bool controller_started(const struct controller *c)
{
	return c->vm != NULL;
}

bool controller_exited(const struct controller *c, int *code)
{
	return c->vm && vm_exited(c->vm, code);
}

void controller_request_exit(struct controller *c, int code)
{
	if (c->vm)
		vm_request_exit(c->vm, code);
}

void controller_file_lease_break(struct controller *c)
{
	vm_file_lease_break(c->vm);
}

const struct vm_config *controller_config(const struct controller *c)
{
	return &c->cfg;
}
