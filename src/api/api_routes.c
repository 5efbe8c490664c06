/* Firecracker API routes: method + path + body -> struct api_request. */
#include "ember/api_routes.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ember/config_json.h"
#include "ember/error.h"
#include "ember/metrics.h"

#define MAX_TOKENS 4

void api_response_set(struct api_response *resp, int status, char *body)
{
	free(resp->body);
	resp->status = status;
	resp->body = body;
}

void api_response_fault(struct api_response *resp, int status, const char *fmt, ...)
{
	char msg[768];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	api_response_set(resp, status, cfgjson_fault(msg));
}

void api_response_free(struct api_response *resp)
{
	free(resp->body);
	resp->body = NULL;
}

void api_response_from_reply(struct api_response *resp, struct ctl_reply *reply)
{
	switch (reply->status) {
	case CTL_DONE:
		api_response_set(resp, 204, NULL);
		break;
	case CTL_DONE_JSON:
		api_response_set(resp, 200, reply->json);
		reply->json = NULL;
		break;
	case CTL_REFUSED:
		api_response_fault(resp, 400, "%s", reply->message);
		break;
	case CTL_FAILED:
		api_response_fault(resp, 500, "%s", reply->message);
		break;
	case CTL_TOO_LARGE:
		api_response_fault(resp, 413, "%s", reply->message);
		break;
	}
	ctl_reply_free(reply);
}

struct route_ctx {
	const struct http_request *h;
	struct api_request *req;
	struct api_response *resp;
	const char *tok[MAX_TOKENS];
	int ntok;
	char pathbuf[HTTP_MAX_HEAD];
	const char *body;
	size_t body_len;
};

static int bad(struct route_ctx *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int bad(struct route_ctx *c, const char *fmt, ...)
{
	char msg[768];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	api_response_set(c->resp, 400, cfgjson_fault(msg));
	return -EINVAL;
}

/* The body failed to deserialize: the message err_msg() holds names the field. */
static int bad_body(struct route_ctx *c, int r, uint64_t *fail_counter)
{
	if (fail_counter)
		METRIC_INC(*fail_counter);
	if (r == -ENODATA) /* "Empty PATCH request." */
		return bad(c, "%s", err_msg());
	return bad(c, "An error occurred when deserializing the json body of a request: %s.",
		   err_msg());
}

static int invalid_path(struct route_ctx *c)
{
	return bad(c, "Invalid request method and/or path: %s %s.", http_method_name(c->h->method),
		   c->ntok ? c->tok[0] : "");
}

static int ok(struct route_ctx *c, enum api_op op)
{
	c->req->op = op;
	return 0;
}

/* tok[1] is the resource id; it must match the one in the body. */
/* The {id} of /drives/{id} or /network-interfaces/{id}; counts the request
 * (and its failure) in the endpoint's metrics. */
static int path_id(struct route_ctx *c, const char **id, uint64_t *count, uint64_t *fails)
{
	int r = 0;

	METRIC_INC(*count);
	if (c->ntok < 2 || !c->tok[1][0])
		r = bad(c, "The ID cannot be empty.");
	else if (c->ntok > 2)
		r = invalid_path(c);
	else if (config_check_id(c->tok[1]) < 0)
		r = bad(c, "%s", err_msg());
	if (r) {
		METRIC_INC(*fails);
		return r;
	}
	*id = c->tok[1];
	return 0;
}

static int id_mismatch(struct route_ctx *c, uint64_t *fails)
{
	METRIC_INC(*fails);
	return bad(c, "The id from the path does not match the id from the body!");
}

/* PUT/PATCH /mmds: the body must be JSON; the store keeps it. */
static int mmds_data(struct route_ctx *c, enum api_op op, uint64_t *fails)
{
	int r = cfgjson_check_mmds_data(c->body, c->body_len);

	if (r)
		return bad_body(c, r, fails);
	c->req->u.mmds_data.text = c->body;
	c->req->u.mmds_data.len = c->body_len;
	return ok(c, op);
}

static int route_get(struct route_ctx *c)
{
	const char *t0 = c->ntok ? c->tok[0] : "";

	if (c->body)
		return bad(c, "GET request cannot have a body.");
	if (c->ntok == 0)
		return ok(c, API_GET_INSTANCE_INFO);
	if (strcmp(t0, "version") == 0 && c->ntok == 1) {
		METRIC_INC(metrics.get_api_requests.vmm_version_count);
		return ok(c, API_GET_VERSION);
	}
	if (strcmp(t0, "machine-config") == 0 && c->ntok == 1) {
		METRIC_INC(metrics.get_api_requests.machine_cfg_count);
		return ok(c, API_GET_MACHINE_CONFIG);
	}
	if (strcmp(t0, "vm") == 0 && c->ntok == 2 && strcmp(c->tok[1], "config") == 0) {
		METRIC_INC(metrics.get_api_requests.vm_config_count);
		return ok(c, API_GET_VM_CONFIG);
	}
	if (strcmp(t0, "balloon") == 0) {
		if (c->ntok == 1) {
			METRIC_INC(metrics.get_api_requests.balloon_count);
			return ok(c, API_GET_BALLOON);
		}
		if (c->ntok == 2 && strcmp(c->tok[1], "statistics") == 0) {
			METRIC_INC(metrics.get_api_requests.balloon_stats_count);
			return ok(c, API_GET_BALLOON_STATS);
		}
		if (c->ntok == 3 && strcmp(c->tok[1], "hinting") == 0 &&
		    strcmp(c->tok[2], "status") == 0) {
			METRIC_INC(metrics.get_api_requests.balloon_count);
			return ok(c, API_GET_BALLOON_HINT_STATUS);
		}
	}
	if (strcmp(t0, "mmds") == 0 && c->ntok == 1) {
		METRIC_INC(metrics.get_api_requests.mmds_count);
		return ok(c, API_GET_MMDS);
	}
	if (strcmp(t0, "hotplug") == 0 && c->ntok == 2 && strcmp(c->tok[1], "memory") == 0)
		return ok(c, API_GET_MEMORY_HOTPLUG);
	return invalid_path(c);
}

/* Counters for the endpoints Firecracker's metrics have no group for. */
static uint64_t pmem_requests, pmem_fails;

static int route_put(struct route_ctx *c)
{
	struct api_request *q = c->req;
	const char *t0 = c->ntok ? c->tok[0] : "";
	struct metrics_put_api *m = &metrics.put_api_requests;
	const char *id;
	int r;

	if (!c->body)
		return bad(c, "Empty PUT request.");
	if (strcmp(t0, "actions") == 0 && c->ntok == 1) {
		enum fc_action a;

		METRIC_INC(m->actions_count);
		if ((r = cfgjson_parse_action(c->body, c->body_len, &a)))
			return bad_body(c, r, &m->actions_fails);
		return ok(c, a == FC_ACTION_INSTANCE_START	? API_INSTANCE_START
			     : a == FC_ACTION_SEND_CTRL_ALT_DEL ? API_SEND_CTRL_ALT_DEL
								: API_FLUSH_METRICS);
	}
	if (strcmp(t0, "machine-config") == 0 && c->ntok == 1) {
		METRIC_INC(m->machine_cfg_count);
		if ((r = cfgjson_parse_machine(c->body, c->body_len, false, &q->u.machine)))
			return bad_body(c, r, &m->machine_cfg_fails);
		q->patch = false;
		return ok(c, API_UPDATE_MACHINE_CONFIG);
	}
	if (strcmp(t0, "boot-source") == 0 && c->ntok == 1) {
		METRIC_INC(m->boot_source_count);
		if ((r = cfgjson_parse_boot_source(c->body, c->body_len, &q->u.boot)))
			return bad_body(c, r, &m->boot_source_fails);
		return ok(c, API_PUT_BOOT_SOURCE);
	}
	if (strcmp(t0, "drives") == 0) {
		if ((r = path_id(c, &id, &m->drive_count, &m->drive_fails)))
			return r;
		if ((r = cfgjson_parse_drive(c->body, c->body_len, &q->u.drive)))
			return bad_body(c, r, &m->drive_fails);
		q->op = API_PUT_DRIVE; /* so api_request_free() frees it */
		if (strcmp(id, q->u.drive.id) != 0)
			return id_mismatch(c, &m->drive_fails);
		return 0;
	}
	if (strcmp(t0, "network-interfaces") == 0) {
		if ((r = path_id(c, &id, &m->network_count, &m->network_fails)))
			return r;
		if ((r = cfgjson_parse_net(c->body, c->body_len, &q->u.net)))
			return bad_body(c, r, &m->network_fails);
		q->op = API_PUT_NET;
		if (strcmp(id, q->u.net.id) != 0)
			return id_mismatch(c, &m->network_fails);
		return 0;
	}
	if (strcmp(t0, "vsock") == 0 && c->ntok == 1) {
		METRIC_INC(m->vsock_count);
		if ((r = cfgjson_parse_vsock(c->body, c->body_len, &q->u.vsock)))
			return bad_body(c, r, &m->vsock_fails);
		return ok(c, API_PUT_VSOCK);
	}
	if (strcmp(t0, "balloon") == 0 && c->ntok == 1) {
		METRIC_INC(m->balloon_count);
		if ((r = cfgjson_parse_balloon(c->body, c->body_len, &q->u.balloon)))
			return bad_body(c, r, &m->balloon_fails);
		return ok(c, API_PUT_BALLOON);
	}
	if (strcmp(t0, "cpu-config") == 0 && c->ntok == 1) {
		METRIC_INC(m->cpu_cfg_count);
		if ((r = cfgjson_parse_cpu_config(c->body, c->body_len, &q->u.cpu_config_json)))
			return bad_body(c, r, &m->cpu_cfg_fails);
		return ok(c, API_PUT_CPU_CONFIG);
	}
	if (strcmp(t0, "logger") == 0 && c->ntok == 1) {
		METRIC_INC(m->logger_count);
		if ((r = cfgjson_parse_logger(c->body, c->body_len, &q->u.logger.cfg,
					      &q->u.logger.path)))
			return bad_body(c, r, &m->logger_fails);
		return ok(c, API_PUT_LOGGER);
	}
	if (strcmp(t0, "metrics") == 0 && c->ntok == 1) {
		METRIC_INC(m->metrics_count);
		if ((r = cfgjson_parse_metrics(c->body, c->body_len, &q->u.metrics.cfg,
					       &q->u.metrics.path)))
			return bad_body(c, r, &m->metrics_fails);
		return ok(c, API_PUT_METRICS);
	}
	if (strcmp(t0, "mmds") == 0 && c->ntok == 1) {
		METRIC_INC(m->mmds_count);
		return mmds_data(c, API_PUT_MMDS, &m->mmds_fails);
	}
	if (strcmp(t0, "mmds") == 0 && c->ntok == 2 && strcmp(c->tok[1], "config") == 0) {
		METRIC_INC(m->mmds_count);
		if ((r = cfgjson_parse_mmds_config(c->body, c->body_len, &q->u.mmds_cfg)))
			return bad_body(c, r, &m->mmds_fails);
		return ok(c, API_PUT_MMDS_CONFIG);
	}
	if (strcmp(t0, "mmds") == 0) {
		METRIC_INC(m->mmds_count);
		METRIC_INC(m->mmds_fails);
		return bad(c, "Unrecognized PUT request path `%s`.", c->ntok > 1 ? c->tok[1] : "");
	}
	if (strcmp(t0, "snapshot") == 0 && c->ntok == 2 && strcmp(c->tok[1], "create") == 0) {
		if ((r = snapshot_parse_create(c->body, c->body_len, &q->u.snap_create)))
			return bad_body(c, r, NULL);
		return ok(c, API_SNAPSHOT_CREATE);
	}
	if (strcmp(t0, "snapshot") == 0 && c->ntok == 2 && strcmp(c->tok[1], "load") == 0) {
		if ((r = snapshot_parse_load(c->body, c->body_len, &q->u.snap_load)))
			return bad_body(c, r, NULL);
		return ok(c, API_SNAPSHOT_LOAD);
	}
	if (strcmp(t0, "entropy") == 0 && c->ntok == 1) {
		if ((r = cfgjson_parse_entropy(c->body, c->body_len, &q->u.entropy)))
			return bad_body(c, r, NULL);
		return ok(c, API_PUT_ENTROPY);
	}
	if (strcmp(t0, "pmem") == 0) {
		if ((r = path_id(c, &id, &pmem_requests, &pmem_fails)))
			return r;
		if ((r = cfgjson_parse_pmem(c->body, c->body_len, &q->u.pmem)))
			return bad_body(c, r, NULL);
		q->op = API_PUT_PMEM; /* so api_request_free() frees it */
		if (strcmp(id, q->u.pmem.id) != 0)
			return id_mismatch(c, &pmem_fails);
		return 0;
	}
	if (strcmp(t0, "serial") == 0 && c->ntok == 1) {
		if ((r = cfgjson_parse_serial(c->body, c->body_len, &q->u.serial)))
			return bad_body(c, r, NULL);
		return ok(c, API_PUT_SERIAL);
	}
	if (strcmp(t0, "hotplug") == 0 && c->ntok == 2 && strcmp(c->tok[1], "memory") == 0) {
		if ((r = cfgjson_parse_memhp(c->body, c->body_len, &q->u.memhp)))
			return bad_body(c, r, NULL);
		return ok(c, API_PUT_MEMORY_HOTPLUG);
	}
	return invalid_path(c);
}

static int route_patch(struct route_ctx *c)
{
	struct api_request *q = c->req;
	const char *t0 = c->ntok ? c->tok[0] : "";
	struct metrics_patch_api *m = &metrics.patch_api_requests;
	const char *id;
	int r;

	/* BalloonStartCmd is optional, and stop takes none (or {}). */
	if (strcmp(t0, "balloon") == 0 && c->ntok == 3 && strcmp(c->tok[1], "hinting") == 0) {
		if (strcmp(c->tok[2], "start") == 0) {
			METRIC_INC(m->balloon_count);
			if ((r = cfgjson_parse_balloon_hint_start(c->body, c->body_len,
								  &q->u.hint_ack_on_stop)))
				return bad_body(c, r, &m->balloon_fails);
			return ok(c, API_PATCH_BALLOON_HINT_START);
		}
		if (strcmp(c->tok[2], "stop") == 0) {
			METRIC_INC(m->balloon_count);
			if ((r = cfgjson_parse_empty_object(c->body, c->body_len)))
				return bad_body(c, r, &m->balloon_fails);
			return ok(c, API_PATCH_BALLOON_HINT_STOP);
		}
	}
	if (!c->body)
		return bad(c, "Empty PATCH request.");
	if (strcmp(t0, "machine-config") == 0 && c->ntok == 1) {
		METRIC_INC(m->machine_cfg_count);
		if ((r = cfgjson_parse_machine(c->body, c->body_len, true, &q->u.machine)))
			return bad_body(c, r, &m->machine_cfg_fails);
		q->patch = true;
		return ok(c, API_UPDATE_MACHINE_CONFIG);
	}
	if (strcmp(t0, "drives") == 0) {
		if ((r = path_id(c, &id, &m->drive_count, &m->drive_fails)))
			return r;
		if ((r = cfgjson_parse_drive_update(c->body, c->body_len, &q->u.drive_update)))
			return bad_body(c, r, &m->drive_fails);
		q->op = API_PATCH_DRIVE;
		if (strcmp(id, q->u.drive_update.id) != 0)
			return id_mismatch(c, &m->drive_fails);
		return 0;
	}
	if (strcmp(t0, "network-interfaces") == 0) {
		if ((r = path_id(c, &id, &m->network_count, &m->network_fails)))
			return r;
		if ((r = cfgjson_parse_net_update(c->body, c->body_len, &q->u.net_update)))
			return bad_body(c, r, &m->network_fails);
		q->op = API_PATCH_NET;
		if (strcmp(id, q->u.net_update.id) != 0)
			return id_mismatch(c, &m->network_fails);
		return 0;
	}
	if (strcmp(t0, "balloon") == 0 && c->ntok == 1) {
		METRIC_INC(m->balloon_count);
		if ((r = cfgjson_parse_balloon_update(c->body, c->body_len,
						      &q->u.balloon_amount_mib)))
			return bad_body(c, r, &m->balloon_fails);
		return ok(c, API_PATCH_BALLOON);
	}
	if (strcmp(t0, "balloon") == 0 && c->ntok == 2 && strcmp(c->tok[1], "statistics") == 0) {
		METRIC_INC(m->balloon_count);
		if ((r = cfgjson_parse_balloon_stats_update(c->body, c->body_len,
							    &q->u.stats_interval_s)))
			return bad_body(c, r, &m->balloon_fails);
		return ok(c, API_PATCH_BALLOON_STATS);
	}
	if (strcmp(t0, "vm") == 0 && c->ntok == 1) {
		bool paused;

		METRIC_INC(m->vm_count);
		if ((r = cfgjson_parse_vm_state(c->body, c->body_len, &paused)))
			return bad_body(c, r, &m->vm_fails);
		return ok(c, paused ? API_PAUSE : API_RESUME);
	}
	if (strcmp(t0, "mmds") == 0 && c->ntok == 1) {
		METRIC_INC(m->mmds_count);
		return mmds_data(c, API_PATCH_MMDS, &m->mmds_fails);
	}
	if (strcmp(t0, "pmem") == 0) {
		if ((r = path_id(c, &id, &pmem_requests, &pmem_fails)))
			return r;
		if ((r = cfgjson_parse_pmem_update(c->body, c->body_len, &q->u.pmem_update)))
			return bad_body(c, r, NULL);
		q->op = API_PATCH_PMEM;
		if (strcmp(id, q->u.pmem_update.id) != 0)
			return id_mismatch(c, &pmem_fails);
		return 0;
	}
	if (strcmp(t0, "hotplug") == 0 && c->ntok == 2 && strcmp(c->tok[1], "memory") == 0) {
		if ((r = cfgjson_parse_memhp_update(c->body, c->body_len,
						    &q->u.requested_size_mib)))
			return bad_body(c, r, NULL);
		return ok(c, API_PATCH_MEMORY_HOTPLUG);
	}
	return invalid_path(c);
}

int api_route(const struct http_request *hreq, struct api_request *req, struct api_response *resp)
{
	struct route_ctx *c;
	char *p;
	int r;

	memset(req, 0, sizeof(*req));
	c = calloc(1, sizeof(*c));
	if (!c) {
		api_response_fault(resp, 500, "Out of memory.");
		return -ENOMEM;
	}
	c->h = hreq;
	c->req = req;
	c->resp = resp;
	c->body = (const char *)hreq->body;
	c->body_len = hreq->body_len;
	/* "/a/b/" -> {"a", "b"}; leading slashes are ignored, one trailing slash too. */
	snprintf(c->pathbuf, sizeof(c->pathbuf), "%s", hreq->path ? hreq->path : "/");
	p = c->pathbuf;
	while (*p == '/')
		p++;
	while (*p) {
		char *slash = strchr(p, '/');

		if (c->ntok == MAX_TOKENS) {
			r = invalid_path(c);
			goto out;
		}
		c->tok[c->ntok++] = p;
		if (!slash)
			break;
		*slash = '\0';
		p = slash + 1;
	}
	switch (hreq->method) {
	case HTTP_GET:
		r = route_get(c);
		break;
	case HTTP_PUT:
		r = route_put(c);
		break;
	case HTTP_PATCH:
		r = route_patch(c);
		break;
	default:
		r = invalid_path(c);
		break;
	}
out:
	if (r)
		api_request_free(req);
	free(c);
	return r;
}
