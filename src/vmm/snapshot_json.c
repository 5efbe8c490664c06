/* PUT /snapshot/create and /snapshot/load bodies (Firecracker's fields). */
#include <cjson/cJSON.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "ember/error.h"
#include "ember/json.h"
#include "ember/snapshot.h"

#define MAX_BODY (64 * 1024)
#define MAX_PATH 4096

void snapshot_create_req_free(struct snapshot_create_req *r)
{
	free(r->snapshot_path);
	free(r->mem_file_path);
	memset(r, 0, sizeof(*r));
}

void snapshot_load_req_free(struct snapshot_load_req *r)
{
	free(r->snapshot_path);
	free(r->mem_path);
	free(r->vsock_uds_override);
	free(r->ws_path);
	for (int i = 0; i < r->nnet_overrides; i++) {
		free(r->net_overrides[i].iface_id);
		free(r->net_overrides[i].host_dev_name);
	}
	memset(r, 0, sizeof(*r));
}

static int parse(const char *body, size_t len, cJSON **out)
{
	if (len > MAX_BODY || memchr(body, 0, len))
		return err_set(EINVAL, "invalid request body");
	*out = cJSON_ParseWithLength(body, len);
	if (!*out || !cJSON_IsObject(*out)) {
		cJSON_Delete(*out);
		return err_set(EINVAL, "the body is not a JSON object");
	}
	return 0;
}

static int members(const cJSON *o, const char *where, const char *const *allowed)
{
	bool dup = false;
	const cJSON *bad = json_bad_member(o, allowed, &dup);

	if (bad)
		return err_set(EINVAL, "%s%s: %s field", where, bad->string,
			       dup ? "duplicate" : "unknown");
	return 0;
}

/* A string member: required or not; *out malloc'd. */
static int get_str(const cJSON *o, const char *where, const char *name, bool required, char **out)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, name);

	if (!v) {
		if (required)
			return err_set(EINVAL, "%smissing field `%s`", where, name);
		return 0;
	}
	if (!cJSON_IsString(v))
		return err_set(EINVAL, "%s%s: invalid type, expected a string", where, name);
	if (!v->valuestring[0] || strlen(v->valuestring) > MAX_PATH)
		return err_set(EINVAL, "%s%s: empty or too long", where, name);
	free(*out);
	*out = strdup(v->valuestring);
	return *out ? 0 : err_set(ENOMEM, "out of memory");
}

static int get_bool(const cJSON *o, const char *name, bool *out)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, name);

	if (!v)
		return 0;
	if (!cJSON_IsBool(v))
		return err_set(EINVAL, "%s: invalid type, expected a boolean", name);
	*out = cJSON_IsTrue(v);
	return 0;
}

int snapshot_parse_create(const char *body, size_t len, struct snapshot_create_req *out)
{
	static const char *const f[] = {"snapshot_path", "mem_file_path", "snapshot_type",
					"version", NULL};
	struct snapshot_create_req q = {0};
	const cJSON *t;
	cJSON *o;
	int r;

	if ((r = parse(body, len, &o)) < 0)
		return r;
	if ((r = members(o, "", f)) < 0 ||
	    (r = get_str(o, "", "snapshot_path", true, &q.snapshot_path)) < 0 ||
	    (r = get_str(o, "", "mem_file_path", true, &q.mem_file_path)) < 0)
		goto out;
	t = cJSON_GetObjectItemCaseSensitive(o, "snapshot_type");
	if (t && !(cJSON_IsString(t) &&
		   (strcmp(t->valuestring, "Full") == 0 || strcmp(t->valuestring, "Diff") == 0))) {
		r = err_set(EINVAL, "snapshot_type: expected Full or Diff");
		goto out;
	}
	q.type = t && strcmp(t->valuestring, "Diff") == 0 ? SNAP_DIFF : SNAP_FULL;
out:
	cJSON_Delete(o);
	if (r < 0)
		snapshot_create_req_free(&q);
	else
		*out = q;
	return r;
}

static int parse_backend(const cJSON *o, struct snapshot_load_req *q)
{
	static const char *const f[] = {"backend_type", "backend_path", NULL};
	const cJSON *b = cJSON_GetObjectItemCaseSensitive(o, "mem_backend"), *t;
	int r;

	if (!cJSON_IsObject(b))
		return err_set(EINVAL, "mem_backend: invalid type, expected an object");
	if ((r = members(b, "mem_backend.", f)) < 0 ||
	    (r = get_str(b, "mem_backend.", "backend_path", true, &q->mem_path)) < 0)
		return r;
	t = cJSON_GetObjectItemCaseSensitive(b, "backend_type");
	if (!t)
		return err_set(EINVAL, "mem_backend: missing field `backend_type`");
	if (cJSON_IsString(t) && strcmp(t->valuestring, "File") == 0)
		q->backend = SNAP_BACKEND_FILE;
	else if (cJSON_IsString(t) && strcmp(t->valuestring, "Uffd") == 0)
		q->backend = SNAP_BACKEND_UFFD;
	else
		return err_set(EINVAL, "mem_backend.backend_type: expected File or Uffd");
	return 0;
}

static int parse_overrides(const cJSON *o, struct snapshot_load_req *q)
{
	static const char *const nf[] = {"iface_id", "host_dev_name", NULL};
	static const char *const vf[] = {"uds_path", NULL};
	const cJSON *a = cJSON_GetObjectItemCaseSensitive(o, "network_overrides"), *e;
	static const char *const wf[] = {"path", "record", NULL};
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, "vsock_override");
	const cJSON *w = cJSON_GetObjectItemCaseSensitive(o, "working_set");
	int r;

	if (a && !cJSON_IsArray(a))
		return err_set(EINVAL, "network_overrides: invalid type, expected an array");
	cJSON_ArrayForEach(e, a)
	{
		if (q->nnet_overrides >= SNAP_MAX_NET_OVERRIDES)
			return err_set(EINVAL, "network_overrides: too many");
		if (!cJSON_IsObject(e))
			return err_set(EINVAL, "network_overrides: expected objects");
		q->nnet_overrides++;
		if ((r = members(e, "network_overrides.", nf)) < 0 ||
		    (r = get_str(e, "network_overrides.", "iface_id", true,
				 &q->net_overrides[q->nnet_overrides - 1].iface_id)) < 0 ||
		    (r = get_str(e, "network_overrides.", "host_dev_name", true,
				 &q->net_overrides[q->nnet_overrides - 1].host_dev_name)) < 0)
			return r;
	}
	if (w) {
		if (!cJSON_IsObject(w))
			return err_set(EINVAL, "working_set: invalid type, expected an object");
		if ((r = members(w, "working_set.", wf)) < 0 ||
		    (r = get_str(w, "working_set.", "path", true, &q->ws_path)) < 0 ||
		    (r = get_bool(w, "record", &q->ws_record)) < 0)
			return r;
	}
	if (v) {
		if (!cJSON_IsObject(v))
			return err_set(EINVAL, "vsock_override: invalid type, expected an object");
		if ((r = members(v, "vsock_override.", vf)) < 0 ||
		    (r = get_str(v, "vsock_override.", "uds_path", true, &q->vsock_uds_override)) <
			0)
			return r;
	}
	return 0;
}

int snapshot_parse_load(const char *body, size_t len, struct snapshot_load_req *out)
{
	static const char *const f[] = {"snapshot_path",
					"mem_file_path",
					"mem_backend",
					"enable_diff_snapshots",
					"track_dirty_pages",
					"resume_vm",
					"network_overrides",
					"vsock_override",
					"working_set",
					"clock_realtime",
					"huge_pages",
					NULL};
	struct snapshot_load_req q = {0};
	bool has_file, has_backend, diff = false, rt = false;
	const cJSON *hp;
	cJSON *o;
	int r;

	if ((r = parse(body, len, &o)) < 0)
		return r;
	if ((r = members(o, "", f)) < 0 ||
	    (r = get_str(o, "", "snapshot_path", true, &q.snapshot_path)) < 0)
		goto out;
	has_file = cJSON_GetObjectItemCaseSensitive(o, "mem_file_path") != NULL;
	has_backend = cJSON_GetObjectItemCaseSensitive(o, "mem_backend") != NULL;
	if (has_file == has_backend) {
		r = err_set(EINVAL, "exactly one of mem_file_path and mem_backend must be given");
		goto out;
	}
	if ((has_file && (r = get_str(o, "", "mem_file_path", true, &q.mem_path)) < 0) ||
	    (has_backend && (r = parse_backend(o, &q)) < 0) ||
	    (r = get_bool(o, "enable_diff_snapshots", &diff)) < 0 ||
	    (r = get_bool(o, "track_dirty_pages", &q.track_dirty_pages)) < 0 ||
	    (r = get_bool(o, "resume_vm", &q.resume_vm)) < 0 ||
	    (r = get_bool(o, "clock_realtime", &rt)) < 0 || (r = parse_overrides(o, &q)) < 0)
		goto out;
	q.track_dirty_pages |= diff;
	if (q.ws_path && q.backend != SNAP_BACKEND_FILE) {
		r = err_set(EINVAL, "working_set: needs the File memory backend (a Uffd handler "
				    "serves the pages itself)");
		goto out;
	}
	if (rt) {
		r = err_set(EINVAL, "clock_realtime: not supported by ember");
		goto out;
	}
	hp = cJSON_GetObjectItemCaseSensitive(o, "huge_pages");
	if (hp && !(cJSON_IsString(hp) && (strcmp(hp->valuestring, "Snapshot") == 0 ||
					   strcmp(hp->valuestring, "None") == 0))) {
		r = err_set(EINVAL, "huge_pages: only Snapshot and None are supported");
		goto out;
	}
out:
	cJSON_Delete(o);
	if (r < 0)
		snapshot_load_req_free(&q);
	else
		*out = q;
	return r;
}
