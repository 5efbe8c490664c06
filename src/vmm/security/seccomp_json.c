/* Seccomp filter files (Firecracker's JSON format) -> struct seccomp_policy,
 * and the built-in filters back to that format. */
#include <cjson/cJSON.h>
#include <errno.h>
#include <math.h>
#include <seccomp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ember/arch.h"
#include "ember/error.h"
#include "ember/json.h"
#include "ember/seccomp.h"
#include "ember/util.h"

#define FILTER_FILE_MAX (1024 * 1024)
#define MAX_RULES 2048 /* per filter; BPF programs end at 4096 instructions */

static const char *const kind_names[SECCOMP_THREAD_KINDS] = {"vmm", "api", "vcpu"};

static const struct {
	const char *name;
	uint32_t action;
} simple_actions[] = {
    {"allow", SCMP_ACT_ALLOW},
    {"kill_process", SCMP_ACT_KILL_PROCESS},
    {"kill_thread", SCMP_ACT_KILL_THREAD},
    {"kill", SCMP_ACT_KILL_PROCESS},
    {"trap", SCMP_ACT_TRAP},
    {"log", SCMP_ACT_LOG},
};

static const char *const op_names[] = {
    [SECCOMP_OP_EQ] = "eq", [SECCOMP_OP_NE] = "ne", [SECCOMP_OP_LT] = "lt",
    [SECCOMP_OP_LE] = "le", [SECCOMP_OP_GT] = "gt", [SECCOMP_OP_GE] = "ge",
};

/* Unknown members are errors (a typo must not silently weaken a filter). */
static int check_keys(const cJSON *o, const char *where, const char *const *allowed)
{
	bool dup;
	const cJSON *m = json_bad_member(o, allowed, &dup);

	if (m)
		return err_set(EINVAL, "%s: %s field `%s`", where, dup ? "duplicate" : "unknown",
			       m->string);
	return 0;
}

static const char *type_name(const cJSON *v)
{
	if (cJSON_IsString(v))
		return "a string";
	if (cJSON_IsNumber(v))
		return "a number";
	if (cJSON_IsBool(v))
		return "a boolean";
	if (cJSON_IsNull(v))
		return "null";
	if (cJSON_IsArray(v))
		return "an array";
	return "an object";
}

static int get_uint(const cJSON *v, const char *where, uint64_t max, uint64_t *out)
{
	double d;

	if (!cJSON_IsNumber(v))
		return err_set(EINVAL, "%s: expected an unsigned integer, got %s", where,
			       type_name(v));
	d = v->valuedouble;
	if (isnan(d) || isinf(d) || d != floor(d) || d < 0)
		return err_set(EINVAL, "%s: expected an unsigned integer, got %g", where, d);
	/* cJSON keeps numbers as doubles: above 2^53 they are not exact. */
	if (d > 9007199254740992.0)
		return err_set(EINVAL, "%s: %.0f is too large to be read exactly (at most 2^53)",
			       where, d);
	if ((uint64_t)d > max)
		return err_set(EINVAL, "%s: %.0f is out of range (at most %llu)", where, d,
			       (unsigned long long)max);
	*out = (uint64_t)d;
	return 0;
}

static int parse_action(const cJSON *v, const char *where, uint32_t *out)
{
	char w[80];
	uint64_t n;
	int r;

	if (cJSON_IsString(v)) {
		for (size_t i = 0; i < sizeof(simple_actions) / sizeof(simple_actions[0]); i++) {
			if (strcmp(v->valuestring, simple_actions[i].name) == 0) {
				*out = simple_actions[i].action;
				return 0;
			}
		}
	} else if (cJSON_IsObject(v) && v->child && !v->child->next &&
		   (strcmp(v->child->string, "errno") == 0 ||
		    strcmp(v->child->string, "trace") == 0)) {
		snprintf(w, sizeof(w), "%s.%s", where, v->child->string);
		if ((r = get_uint(v->child, w, 0xffff, &n)) < 0)
			return r;
		*out = strcmp(v->child->string, "errno") == 0 ? SCMP_ACT_ERRNO((uint32_t)n)
							      : SCMP_ACT_TRACE((uint32_t)n);
		return 0;
	}
	return err_set(EINVAL,
		       "%s: unknown action (allow, kill_process, kill_thread, trap, log, "
		       "{\"errno\": N} or {\"trace\": N})",
		       where);
}

static int parse_cond(const cJSON *c, const char *where, struct seccomp_cond *out)
{
	static const char *const keys[] = {"index", "arg_index", "type",    "arg_type",
					   "op",    "val",	 "comment", NULL};
	const cJSON *idx, *type, *op, *val;
	char w[128];
	uint64_t n;
	int r;

	if (!cJSON_IsObject(c))
		return err_set(EINVAL, "%s: expected an object, got %s", where, type_name(c));
	if ((r = check_keys(c, where, keys)) < 0)
		return r;
	idx = cJSON_GetObjectItemCaseSensitive(c, "index");
	if (!idx)
		idx = cJSON_GetObjectItemCaseSensitive(c, "arg_index");
	type = cJSON_GetObjectItemCaseSensitive(c, "type");
	if (!type)
		type = cJSON_GetObjectItemCaseSensitive(c, "arg_type");
	op = cJSON_GetObjectItemCaseSensitive(c, "op");
	val = cJSON_GetObjectItemCaseSensitive(c, "val");
	if (!idx || !type || !op || !val)
		return err_set(EINVAL, "%s: missing field `%s`", where,
			       !idx    ? "index"
			       : !type ? "type"
			       : !op   ? "op"
				       : "val");
	snprintf(w, sizeof(w), "%s.index", where);
	if ((r = get_uint(idx, w, SECCOMP_MAX_CONDS - 1, &n)) < 0)
		return r;
	out->index = (uint8_t)n;
	if (!cJSON_IsString(type) ||
	    (strcmp(type->valuestring, "dword") != 0 && strcmp(type->valuestring, "qword") != 0))
		return err_set(EINVAL, "%s.type: expected \"dword\" or \"qword\"", where);
	out->qword = strcmp(type->valuestring, "qword") == 0;
	out->mask = 0;
	if (cJSON_IsString(op)) {
		size_t i;

		for (i = 0; i < sizeof(op_names) / sizeof(op_names[0]); i++)
			if (strcmp(op->valuestring, op_names[i]) == 0)
				break;
		if (i == sizeof(op_names) / sizeof(op_names[0]))
			return err_set(EINVAL,
				       "%s.op: unknown operator `%s` (eq, ne, lt, le, gt, ge or "
				       "{\"masked_eq\": MASK})",
				       where, op->valuestring);
		out->op = (enum seccomp_op)i;
	} else if (cJSON_IsObject(op) && op->child && !op->child->next &&
		   strcmp(op->child->string, "masked_eq") == 0) {
		snprintf(w, sizeof(w), "%s.op.masked_eq", where);
		if ((r = get_uint(op->child, w, out->qword ? UINT64_MAX : UINT32_MAX, &out->mask)) <
		    0)
			return r;
		out->op = SECCOMP_OP_MASKED_EQ;
	} else {
		return err_set(EINVAL,
			       "%s.op: expected one of eq, ne, lt, le, gt, ge or "
			       "{\"masked_eq\": MASK}",
			       where);
	}
	snprintf(w, sizeof(w), "%s.val", where);
	return get_uint(val, w, out->qword ? UINT64_MAX : UINT32_MAX, &out->val);
}

static int parse_rule(const cJSON *o, const char *where, struct seccomp_rule *out)
{
	static const char *const keys[] = {"syscall", "args", "comment", NULL};
	const cJSON *name, *args, *c;
	char w[96];
	int r, k = 0;

	memset(out, 0, sizeof(*out));
	if (!cJSON_IsObject(o))
		return err_set(EINVAL, "%s: expected an object, got %s", where, type_name(o));
	if ((r = check_keys(o, where, keys)) < 0)
		return r;
	name = cJSON_GetObjectItemCaseSensitive(o, "syscall");
	if (!name)
		return err_set(EINVAL, "%s: missing field `syscall`", where);
	if (!cJSON_IsString(name))
		return err_set(EINVAL, "%s.syscall: expected a string, got %s", where,
			       type_name(name));
	out->nr = seccomp_syscall_resolve_name(name->valuestring);
	/* negative: unknown, or a pseudo number for a syscall of another arch */
	if (out->nr < 0)
		return err_set(EINVAL, "%s.syscall: unknown system call `%.64s` on %s", where,
			       name->valuestring, arch_layout.name);
	args = cJSON_GetObjectItemCaseSensitive(o, "args");
	if (!args)
		return 0;
	if (!cJSON_IsArray(args))
		return err_set(EINVAL, "%s.args: expected an array, got %s", where,
			       type_name(args));
	cJSON_ArrayForEach(c, args)
	{
		if (k == SECCOMP_MAX_CONDS)
			return err_set(EINVAL, "%s.args: more than %d conditions", where,
				       SECCOMP_MAX_CONDS);
		snprintf(w, sizeof(w), "%s.args[%d]", where, k);
		if ((r = parse_cond(c, w, &out->conds[k])) < 0)
			return r;
		for (int j = 0; j < k; j++)
			if (out->conds[j].index == out->conds[k].index)
				return err_set(
				    EINVAL,
				    "%s.index: a second condition on argument %u (one per "
				    "argument and rule; write another rule instead)",
				    w, out->conds[k].index);
		k++;
	}
	out->nconds = (uint8_t)k;
	return 0;
}

static int parse_filter(const cJSON *o, const char *kind, struct seccomp_filter *out)
{
	static const char *const keys[] = {"default_action", "filter_action", "filter", "comment",
					   NULL};
	const cJSON *da, *fa, *list, *e;
	struct seccomp_rule *rules;
	char w[48];
	int r, n, i = 0;

	if (!cJSON_IsObject(o))
		return err_set(EINVAL, "%s: expected an object, got %s", kind, type_name(o));
	if ((r = check_keys(o, kind, keys)) < 0)
		return r;
	da = cJSON_GetObjectItemCaseSensitive(o, "default_action");
	fa = cJSON_GetObjectItemCaseSensitive(o, "filter_action");
	list = cJSON_GetObjectItemCaseSensitive(o, "filter");
	if (!da || !fa || !list)
		return err_set(EINVAL, "%s: missing field `%s`", kind,
			       !da   ? "default_action"
			       : !fa ? "filter_action"
				     : "filter");
	snprintf(w, sizeof(w), "%s.default_action", kind);
	if ((r = parse_action(da, w, &out->default_action)) < 0)
		return r;
	snprintf(w, sizeof(w), "%s.filter_action", kind);
	if ((r = parse_action(fa, w, &out->filter_action)) < 0)
		return r;
	if (out->default_action == out->filter_action)
		return err_set(EINVAL, "%s: default_action and filter_action are the same", kind);
	if (!cJSON_IsArray(list))
		return err_set(EINVAL, "%s.filter: expected an array, got %s", kind,
			       type_name(list));
	n = cJSON_GetArraySize(list);
	if (n > MAX_RULES)
		return err_set(E2BIG, "%s.filter: %d rules (at most %d)", kind, n, MAX_RULES);
	rules = calloc(n ? (size_t)n : 1, sizeof(*rules));
	if (!rules)
		return err_set(ENOMEM, "out of memory");
	cJSON_ArrayForEach(e, list)
	{
		snprintf(w, sizeof(w), "%s.filter[%d]", kind, i);
		if ((r = parse_rule(e, w, &rules[i])) < 0) {
			free(rules);
			return r;
		}
		i++;
	}
	out->rules = rules;
	out->nrules = (size_t)i;
	return 0;
}

void seccomp_policy_free(struct seccomp_policy *p)
{
	for (int k = 0; k < SECCOMP_THREAD_KINDS; k++) {
		free((void *)p->filters[k].rules);
		p->filters[k].rules = NULL;
		p->filters[k].nrules = 0;
	}
}

int seccomp_json_parse(const char *text, size_t len, struct seccomp_policy *out)
{
	const char *end = NULL;
	cJSON *root;
	char *copy;
	int r = 0;

	memset(out, 0, sizeof(*out));
	if (memchr(text, '\0', len))
		return err_set(EINVAL, "not a JSON document (it contains a NUL byte)");
	copy = malloc(len + 1);
	if (!copy)
		return err_set(ENOMEM, "out of memory");
	memcpy(copy, text, len);
	copy[len] = '\0';
	root = cJSON_ParseWithLengthOpts(copy, len + 1, &end, true);
	if (!root) {
		r = err_set(EINVAL, "not valid JSON (error near byte %zu)",
			    end && end >= copy && end <= copy + len ? (size_t)(end - copy) : 0);
		free(copy);
		return r;
	}
	if (!cJSON_IsObject(root)) {
		r = err_set(EINVAL, "expected an object of filters (vmm, api, vcpu), got %s",
			    type_name(root));
		goto out;
	}
	for (const cJSON *m = root->child; m && r == 0; m = m->next) {
		int k;

		for (k = 0; k < SECCOMP_THREAD_KINDS; k++)
			if (strcmp(m->string, kind_names[k]) == 0)
				break;
		if (k == SECCOMP_THREAD_KINDS) {
			r = err_set(EINVAL, "unknown thread kind `%.64s` (vmm, api, vcpu)",
				    m->string);
			break;
		}
		if (out->filters[k].rules) {
			r = err_set(EINVAL, "%s: given twice", kind_names[k]);
			break;
		}
		r = parse_filter(m, kind_names[k], &out->filters[k]);
	}
	for (int k = 0; k < SECCOMP_THREAD_KINDS && r == 0; k++)
		if (!out->filters[k].rules)
			r = err_set(EINVAL,
				    "missing the `%s` filter (vmm, api and vcpu are required)",
				    kind_names[k]);
out:
	if (r < 0)
		seccomp_policy_free(out);
	cJSON_Delete(root);
	free(copy);
	return r;
}

int seccomp_json_load(const char *path, struct seccomp_policy *out)
{
	uint8_t *buf;
	size_t len;
	int r;

	memset(out, 0, sizeof(*out));
	if ((r = read_whole_file(path, FILTER_FILE_MAX, &buf, &len)) < 0)
		return r; /* the message names the path */
	r = seccomp_json_parse((const char *)buf, len, out);
	free(buf);
	return r < 0 ? err_wrap(-r, "%s", path) : 0;
}

/* ---- the built-in filters as a file ---- */

static const char *action_name(uint32_t a)
{
	for (size_t i = 0; i < sizeof(simple_actions) / sizeof(simple_actions[0]); i++)
		if (simple_actions[i].action == a)
			return simple_actions[i].name;
	return "kill_process";
}

static cJSON *emit_rule(const struct seccomp_rule *r)
{
	cJSON *o = cJSON_CreateObject(), *args;
	char *name = seccomp_syscall_resolve_num_arch(SCMP_ARCH_NATIVE, r->nr);

	if (!o || !name || !cJSON_AddStringToObject(o, "syscall", name)) {
		free(name);
		cJSON_Delete(o);
		return NULL;
	}
	free(name);
	if (r->comment && !cJSON_AddStringToObject(o, "comment", r->comment))
		goto fail;
	if (!r->nconds)
		return o;
	if (!(args = cJSON_AddArrayToObject(o, "args")))
		goto fail;
	for (unsigned i = 0; i < r->nconds; i++) {
		const struct seccomp_cond *c = &r->conds[i];
		cJSON *a = cJSON_CreateObject();

		if (!a || !cJSON_AddItemToArray(args, a) ||
		    !cJSON_AddNumberToObject(a, "index", c->index) ||
		    !cJSON_AddStringToObject(a, "type", c->qword ? "qword" : "dword"))
			goto fail;
		if (c->op == SECCOMP_OP_MASKED_EQ) {
			cJSON *op = cJSON_AddObjectToObject(a, "op");

			if (!op || !cJSON_AddNumberToObject(op, "masked_eq", (double)c->mask))
				goto fail;
		} else if (!cJSON_AddStringToObject(a, "op", op_names[c->op])) {
			goto fail;
		}
		if (!cJSON_AddNumberToObject(a, "val", (double)c->val))
			goto fail;
	}
	return o;
fail:
	cJSON_Delete(o);
	return NULL;
}

char *seccomp_json_emit(const struct seccomp_filter filters[SECCOMP_THREAD_KINDS])
{
	cJSON *root = cJSON_CreateObject();
	char *s = NULL;

	if (!root)
		return NULL;
	for (int k = 0; k < SECCOMP_THREAD_KINDS; k++) {
		const struct seccomp_filter f = filters[k];
		cJSON *o = cJSON_AddObjectToObject(root, kind_names[k]), *list;

		if (!o ||
		    !cJSON_AddStringToObject(o, "default_action", action_name(f.default_action)) ||
		    !cJSON_AddStringToObject(o, "filter_action", action_name(f.filter_action)) ||
		    !(list = cJSON_AddArrayToObject(o, "filter")))
			goto out;
		for (size_t i = 0; i < f.nrules; i++) {
			cJSON *r = emit_rule(&f.rules[i]);

			if (!r || !cJSON_AddItemToArray(list, r)) {
				cJSON_Delete(r);
				goto out;
			}
		}
	}
	s = cJSON_Print(root);
out:
	cJSON_Delete(root);
	return s;
}
