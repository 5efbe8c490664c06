/* JSON <-> struct vm_config with cJSON (Firecracker's field names). */
#include "ember/config_json.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "ember/arch.h"
#include "ember/error.h"
#include "ember/json.h"
#include "ember/log.h"
#include "ember/util.h"

#define MAX_PATH_LEN 4095
#define MAX_STRING_LEN 4096
#define MAX_CMDLINE_LEN 4096
#define MAX_DOC_LEN (1024 * 1024)

/* ---- body checks ---- */

/* Strict UTF-8 (no overlongs, no surrogates, at most U+10FFFF). */
static bool utf8_valid(const unsigned char *s, size_t n)
{
	size_t i = 0;

	while (i < n) {
		unsigned char c = s[i];
		size_t k;
		uint32_t cp;

		if (c < 0x80) {
			i++;
			continue;
		}
		if (c >= 0xc2 && c <= 0xdf) {
			k = 1;
			cp = c & 0x1f;
		} else if (c >= 0xe0 && c <= 0xef) {
			k = 2;
			cp = c & 0x0f;
		} else if (c >= 0xf0 && c <= 0xf4) {
			k = 3;
			cp = c & 0x07;
		} else {
			return false;
		}
		if (n - i <= k)
			return false;
		for (size_t j = 1; j <= k; j++) {
			if ((s[i + j] & 0xc0) != 0x80)
				return false;
			cp = (cp << 6) | (s[i + j] & 0x3f);
		}
		if ((k == 2 && cp < 0x800) || (k == 3 && cp < 0x10000) || cp > 0x10ffff ||
		    (cp >= 0xd800 && cp <= 0xdfff))
			return false;
		i += k + 1;
	}
	return true;
}

static void line_col(const char *text, size_t off, int *line, int *col)
{
	*line = 1;
	*col = 1;
	for (size_t i = 0; i < off; i++) {
		if (text[i] == '\n') {
			(*line)++;
			*col = 1;
		} else {
			(*col)++;
		}
	}
}

static bool has_nul_escape(const char *s, size_t n)
{
	for (size_t i = 0; i + 6 <= n; i++) {
		if (s[i] == '\\') {
			if (s[i + 1] == 'u' && s[i + 2] == '0' && s[i + 3] == '0' &&
			    s[i + 4] == '0' && s[i + 5] == '0')
				return true;
			i++; /* skip the escaped character */
		}
	}
	return false;
}

static int parse_body(const char *body, size_t len, size_t max, cJSON **out)
{
	const char *end = NULL;
	cJSON *root;
	int line, col;

	*out = NULL;
	if (!body || len == 0)
		return err_set(EINVAL, "EOF while parsing a value at line 1 column 0");
	if (len > max)
		return err_set(EINVAL, "document larger than %zu bytes", max);
	if (memchr(body, '\0', len))
		return err_set(EINVAL, "NUL byte in the JSON body");
	if (!utf8_valid((const unsigned char *)body, len))
		return err_set(EINVAL, "the JSON body is not valid UTF-8");
	if (has_nul_escape(body, len))
		return err_set(EINVAL, "strings must not contain NUL characters (\\u0000)");
	root = cJSON_ParseWithLengthOpts(body, len, &end, false);
	if (!root) {
		size_t off = end && end >= body && end <= body + len ? (size_t)(end - body) : 0;
		line_col(body, off, &line, &col);
		return err_set(EINVAL, "invalid JSON at line %d column %d", line, col);
	}
	for (const char *p = end; p && p < body + len; p++) {
		if (*p != ' ' && *p != '\t' && *p != '\r' && *p != '\n') {
			line_col(body, (size_t)(p - body), &line, &col);
			cJSON_Delete(root);
			return err_set(EINVAL, "trailing characters at line %d column %d", line,
				       col);
		}
	}
	*out = root;
	return 0;
}

/* ---- field helpers; `where` is the dotted path of the enclosing object ---- */

/* snprintf that may truncate (paths in messages are informative only). */
__attribute__((format(printf, 3, 4))) static void sfmt(char *b, size_t n, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(b, n, fmt, ap);
	va_end(ap);
}

struct jpath {
	char s[96];
};

static const char *fname(struct jpath *buf, const char *where, const char *name)
{
	if (where && *where)
		sfmt(buf->s, sizeof(buf->s), "%s.%s", where, name);
	else
		snprintf(buf->s, sizeof(buf->s), "%s", name);
	return buf->s;
}

static const char *type_name(const cJSON *v)
{
	if (cJSON_IsString(v))
		return "string";
	if (cJSON_IsNumber(v))
		return "number";
	if (cJSON_IsBool(v))
		return "boolean";
	if (cJSON_IsArray(v))
		return "array";
	if (cJSON_IsObject(v))
		return "object";
	if (cJSON_IsNull(v))
		return "null";
	return "value";
}

static int check_object(const cJSON *o, const char *where, const char *const *allowed)
{
	const cJSON *c;
	bool dup;

	if (!cJSON_IsObject(o))
		return err_set(EINVAL, "%s%sinvalid type: %s, expected an object",
			       where ? where : "", where && *where ? ": " : "", type_name(o));
	if ((c = json_bad_member(o, allowed, &dup)) && !dup) {
		char list[256] = "";
		size_t n = 0;
		struct jpath p;

		for (const char *const *a = allowed; *a && n < sizeof(list) - 1; a++)
			n += (size_t)snprintf(list + n, sizeof(list) - n, "%s`%s`",
					      a == allowed ? "" : ", ", *a);
		return err_set(EINVAL, "unknown field `%s`, expected one of %s",
			       fname(&p, where, c->string), list);
	}
	if (c) {
		struct jpath p;
		return err_set(EINVAL, "duplicate field `%s`", fname(&p, where, c->string));
	}
	return 0;
}

/* The member, or NULL when absent or null (null means "not given"). */
static const cJSON *member(const cJSON *o, const char *name)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, name);

	return v && !cJSON_IsNull(v) ? v : NULL;
}

static int missing(const char *where, const char *name)
{
	struct jpath p;

	return err_set(EINVAL, "missing field `%s`", fname(&p, where, name));
}

static int get_uint(const cJSON *o, const char *where, const char *name, bool required,
		    uint64_t max, uint64_t *out, bool *present)
{
	const cJSON *v = member(o, name);
	struct jpath p;
	double d;

	if (present)
		*present = v != NULL;
	if (!v)
		return required ? missing(where, name) : 0;
	if (!cJSON_IsNumber(v))
		return err_set(EINVAL, "%s: invalid type: %s, expected an unsigned integer",
			       fname(&p, where, name), type_name(v));
	d = v->valuedouble;
	if (d != floor(d) || isinf(d) || isnan(d))
		return err_set(EINVAL,
			       "%s: invalid type: floating point `%g`, expected an unsigned "
			       "integer",
			       fname(&p, where, name), d);
	if (d < 0)
		return err_set(EINVAL,
			       "%s: invalid value: integer `%.0f`, expected an unsigned "
			       "integer",
			       fname(&p, where, name), d);
	if (d >= 18446744073709551616.0 || (uint64_t)d > max)
		return err_set(EINVAL, "%s: invalid value: integer `%.0f`, expected at most %llu",
			       fname(&p, where, name), d, (unsigned long long)max);
	*out = (uint64_t)d;
	return 0;
}

static int get_u32(const cJSON *o, const char *where, const char *name, bool required,
		   uint32_t *out, bool *present)
{
	uint64_t v;
	int r = get_uint(o, where, name, required, UINT32_MAX, &v, present);

	if (r == 0 && member(o, name))
		*out = (uint32_t)v;
	return r;
}

static int get_bool(const cJSON *o, const char *where, const char *name, bool required, bool *out,
		    bool *present)
{
	const cJSON *v = member(o, name);
	struct jpath p;

	if (present)
		*present = v != NULL;
	if (!v)
		return required ? missing(where, name) : 0;
	if (!cJSON_IsBool(v))
		return err_set(EINVAL, "%s: invalid type: %s, expected a boolean",
			       fname(&p, where, name), type_name(v));
	*out = cJSON_IsTrue(v);
	return 0;
}

/* *out is left alone when the field is absent; replaced (old value freed)
 * when present. */
static int get_string(const cJSON *o, const char *where, const char *name, bool required,
		      bool nonempty, size_t maxlen, char **out)
{
	const cJSON *v = member(o, name);
	struct jpath p;
	char *s;

	if (!v)
		return required ? missing(where, name) : 0;
	if (!cJSON_IsString(v))
		return err_set(EINVAL, "%s: invalid type: %s, expected a string",
			       fname(&p, where, name), type_name(v));
	if (nonempty && !v->valuestring[0])
		return err_set(EINVAL, "%s: must not be empty", fname(&p, where, name));
	if (strlen(v->valuestring) > maxlen)
		return err_set(EINVAL, "%s: longer than %zu bytes", fname(&p, where, name), maxlen);
	s = strdup(v->valuestring);
	if (!s)
		return err_set(ENOMEM, "out of memory");
	free(*out);
	*out = s;
	return 0;
}

static int get_enum(const cJSON *o, const char *where, const char *name, bool required,
		    const char *const *names, bool nocase, int *out, bool *present)
{
	const cJSON *v = member(o, name);
	struct jpath p;
	char list[160] = "";
	size_t n = 0;

	if (present)
		*present = v != NULL;
	if (!v)
		return required ? missing(where, name) : 0;
	if (!cJSON_IsString(v))
		return err_set(EINVAL, "%s: invalid type: %s, expected a string",
			       fname(&p, where, name), type_name(v));
	for (int i = 0; names[i]; i++) {
		if (nocase ? strcasecmp(v->valuestring, names[i]) == 0
			   : strcmp(v->valuestring, names[i]) == 0) {
			*out = i;
			return 0;
		}
		n +=
		    (size_t)snprintf(list + n, sizeof(list) - n, "%s`%s`", i ? ", " : "", names[i]);
		if (n >= sizeof(list))
			n = sizeof(list) - 1;
	}
	return err_set(EINVAL, "%s: unknown variant `%.64s`, expected one of %s",
		       fname(&p, where, name), v->valuestring, list);
}

static int get_id(const cJSON *o, const char *where, const char *name, char *out)
{
	char *s = NULL;
	struct jpath p;
	int r = get_string(o, where, name, true, false, 1024, &s);

	if (r)
		return r;
	r = config_check_id(s);
	if (r == 0)
		snprintf(out, CFG_ID_MAX + 1, "%s", s);
	free(s);
	return r ? err_wrap(EINVAL, "%s", fname(&p, where, name)) : 0;
}

/* ---- shared sub-objects ---- */

static int parse_bucket(const cJSON *o, const char *where, struct token_bucket_cfg *b)
{
	static const char *const f[] = {"size", "one_time_burst", "refill_time", NULL};
	struct token_bucket_cfg t = {.present = true};
	int r;

	if ((r = check_object(o, where, f)) ||
	    (r = get_uint(o, where, "size", true, INT64_MAX, &t.size, NULL)) ||
	    (r = get_uint(o, where, "one_time_burst", false, INT64_MAX, &t.one_time_burst, NULL)) ||
	    (r = get_uint(o, where, "refill_time", true, INT64_MAX, &t.refill_time_ms, NULL)))
		return r;
	*b = t;
	return 0;
}

static int parse_rate_limiter(const cJSON *o, const char *where, struct rate_limiter_cfg *rl)
{
	static const char *const f[] = {"bandwidth", "ops", NULL};
	struct rate_limiter_cfg t = {0};
	const cJSON *v;
	struct jpath p;
	int r;

	if ((r = check_object(o, where, f)))
		return r;
	if ((v = member(o, "bandwidth")) &&
	    (r = parse_bucket(v, fname(&p, where, "bandwidth"), &t.bandwidth)))
		return r;
	if ((v = member(o, "ops")) && (r = parse_bucket(v, fname(&p, where, "ops"), &t.ops)))
		return r;
	if ((r = config_check_rate_limiter(&t, where)))
		return r;
	*rl = t;
	return 0;
}

static int opt_rate_limiter(const cJSON *o, const char *where, const char *name,
			    struct rate_limiter_cfg *rl, bool *present)
{
	const cJSON *v = member(o, name);
	struct jpath p;

	if (present)
		*present = v != NULL;
	if (!v)
		return 0;
	return parse_rate_limiter(v, fname(&p, where, name), rl);
}

static cJSON *emit_bucket(const struct token_bucket_cfg *b)
{
	cJSON *o = cJSON_CreateObject();

	cJSON_AddNumberToObject(o, "size", (double)b->size);
	cJSON_AddNumberToObject(o, "one_time_burst", (double)b->one_time_burst);
	cJSON_AddNumberToObject(o, "refill_time", (double)b->refill_time_ms);
	return o;
}

static void emit_rate_limiter(cJSON *parent, const char *name, const struct rate_limiter_cfg *rl)
{
	cJSON *o;

	if (!rl->bandwidth.present && !rl->ops.present)
		return;
	o = cJSON_AddObjectToObject(parent, name);
	if (!o)
		return;
	if (rl->bandwidth.present)
		cJSON_AddItemToObject(o, "bandwidth", emit_bucket(&rl->bandwidth));
	if (rl->ops.present)
		cJSON_AddItemToObject(o, "ops", emit_bucket(&rl->ops));
}

static char *print(cJSON *o)
{
	char *s = o ? cJSON_PrintUnformatted(o) : NULL;

	cJSON_Delete(o);
	return s;
}

/* ---- machine-config ---- */

static const char *const cpu_templates[] = {"C3", "T2", "T2S", "T2CL", "T2A", "V1N1", "None", NULL};
static const char *const huge_page_names[] = {"None", "2M", "Transparent", NULL};

static int machine_from_obj(const cJSON *o, const char *where, bool patch,
			    struct machine_update *out)
{
	static const char *const f[] = {"vcpu_count",	     "mem_size_mib", "smt", "cpu_template",
					"track_dirty_pages", "huge_pages",   NULL};
	struct machine_update u = {0};
	uint64_t v;
	int tpl = 6, hp = 0, r;

	if ((r = check_object(o, where, f)))
		return r;
	if ((r = get_uint(o, where, "vcpu_count", !patch, 255, &v, &u.has_vcpu_count)))
		return r;
	u.vcpu_count = (uint32_t)v;
	if ((r = get_uint(o, where, "mem_size_mib", !patch, UINT64_MAX / MiB, &u.mem_size_mib,
			  &u.has_mem_size_mib)) ||
	    (r = get_bool(o, where, "smt", false, &u.smt, &u.has_smt)) ||
	    (r = get_enum(o, where, "cpu_template", false, cpu_templates, false, &tpl,
			  &u.has_cpu_template)) ||
	    (r = get_bool(o, where, "track_dirty_pages", false, &u.track_dirty_pages,
			  &u.has_track_dirty_pages)) ||
	    (r = get_enum(o, where, "huge_pages", false, huge_page_names, false, &hp,
			  &u.has_huge_pages)))
		return r;
	u.huge_pages = (enum huge_pages_kind)hp;
	if (u.has_cpu_template && tpl != 6) {
		u.cpu_template = strdup(cpu_templates[tpl]);
		if (!u.cpu_template)
			return err_set(ENOMEM, "out of memory");
	}
	if (!patch) {
		/* PUT: optional fields not given take their defaults, except the CPU
		 * template, which stays as it is when not named (as in Firecracker). */
		u.has_smt = u.has_track_dirty_pages = u.has_huge_pages = true;
	} else if (!u.has_vcpu_count && !u.has_mem_size_mib && !u.has_smt && !u.has_cpu_template &&
		   !u.has_track_dirty_pages && !u.has_huge_pages) {
		return err_set(ENODATA, "Empty PATCH request.");
	}
	*out = u;
	return 0;
}

int cfgjson_parse_machine(const char *body, size_t len, bool patch, struct machine_update *out)
{
	cJSON *o;
	int r = parse_body(body, len, MAX_DOC_LEN, &o);

	if (r)
		return r;
	r = machine_from_obj(o, "", patch, out);
	cJSON_Delete(o);
	return r;
}

void machine_update_free(struct machine_update *u)
{
	free(u->cpu_template);
	u->cpu_template = NULL;
}

int machine_update_apply(const struct machine_update *u, const struct machine_cfg *cur,
			 struct machine_cfg *out)
{
	struct machine_cfg m = *cur;
	int r;

	m.cpu_template_name = NULL;
	if (u->has_vcpu_count)
		m.vcpu_count = u->vcpu_count;
	if (u->has_mem_size_mib)
		m.mem_size_mib = u->mem_size_mib;
	if (u->has_smt)
		m.smt = u->smt;
	if (u->has_track_dirty_pages)
		m.track_dirty_pages = u->track_dirty_pages;
	if (u->has_huge_pages) {
		m.huge_pages = u->huge_pages == HUGE_PAGES_2M;
		m.huge_pages_transparent = u->huge_pages == HUGE_PAGES_TRANSPARENT;
	}
	if ((r = config_check_machine(&m)))
		return r;
	if (u->has_cpu_template) {
		if (u->cpu_template && !(m.cpu_template_name = strdup(u->cpu_template)))
			return err_set(ENOMEM, "out of memory");
	} else if (cur->cpu_template_name) {
		if (!(m.cpu_template_name = strdup(cur->cpu_template_name)))
			return err_set(ENOMEM, "out of memory");
	}
	*out = m;
	return 0;
}

static cJSON *machine_obj(const struct machine_cfg *m)
{
	cJSON *o = cJSON_CreateObject();

	cJSON_AddNumberToObject(o, "vcpu_count", m->vcpu_count);
	cJSON_AddNumberToObject(o, "mem_size_mib", (double)m->mem_size_mib);
	cJSON_AddBoolToObject(o, "smt", m->smt);
	if (m->cpu_template_name)
		cJSON_AddStringToObject(o, "cpu_template", m->cpu_template_name);
	cJSON_AddBoolToObject(o, "track_dirty_pages", m->track_dirty_pages);
	cJSON_AddStringToObject(o, "huge_pages",
				m->huge_pages		    ? "2M"
				: m->huge_pages_transparent ? "Transparent"
							    : "None");
	return o;
}

char *cfgjson_emit_machine(const struct machine_cfg *m)
{
	return print(machine_obj(m));
}

/* ---- boot-source ---- */

static int boot_from_obj(const cJSON *o, const char *where, struct boot_source_cfg *out)
{
	/* kernel_decompress, cmdline_override and measured_boot are ember
	 * extensions (host-side bzImage decompression; a UKI's .cmdline replaced
	 * by boot_args; SHA-256 of what is booted, always on for a UKI). */
	static const char *const f[] = {"kernel_image_path", "initrd_path", "boot_args",
					"kernel_decompress", "cmdline_override", "measured_boot",
					NULL};
	struct boot_source_cfg b = {0};
	int r;

	if ((r = check_object(o, where, f)) ||
	    (r = get_bool(o, where, "kernel_decompress", false, &b.kernel_decompress, NULL)) ||
	    (r = get_bool(o, where, "cmdline_override", false, &b.cmdline_override, NULL)) ||
	    (r = get_bool(o, where, "measured_boot", false, &b.measured_boot, NULL)) ||
	    (r = get_string(o, where, "kernel_image_path", true, true, MAX_PATH_LEN,
			    &b.kernel_path)) ||
	    (r = get_string(o, where, "initrd_path", false, true, MAX_PATH_LEN, &b.initrd_path)) ||
	    (r = get_string(o, where, "boot_args", false, false, MAX_CMDLINE_LEN, &b.cmdline))) {
		boot_source_cfg_free(&b);
		return r;
	}
	*out = b;
	return 0;
}

int cfgjson_parse_boot_source(const char *body, size_t len, struct boot_source_cfg *out)
{
	cJSON *o;
	int r = parse_body(body, len, MAX_DOC_LEN, &o);

	if (r)
		return r;
	r = boot_from_obj(o, "", out);
	cJSON_Delete(o);
	return r;
}

static cJSON *boot_obj(const struct boot_source_cfg *b)
{
	cJSON *o = cJSON_CreateObject();

	cJSON_AddStringToObject(o, "kernel_image_path", b->kernel_path);
	if (b->initrd_path)
		cJSON_AddStringToObject(o, "initrd_path", b->initrd_path);
	if (b->cmdline)
		cJSON_AddStringToObject(o, "boot_args", b->cmdline);
	if (b->kernel_decompress)
		cJSON_AddBoolToObject(o, "kernel_decompress", true);
	if (b->cmdline_override)
		cJSON_AddBoolToObject(o, "cmdline_override", true);
	if (b->measured_boot)
		cJSON_AddBoolToObject(o, "measured_boot", true);
	return o;
}

/* ---- drives ---- */

static int drive_from_obj(const cJSON *o, const char *where, struct drive_cfg *out)
{
	static const char *const f[] = {
	    "drive_id",	    "partuuid",	    "is_root_device", "cache_type", "is_read_only",
	    "path_on_host", "rate_limiter", "io_engine",      "socket",	    NULL};
	static const char *const cache[] = {"Unsafe", "Writeback", NULL};
	static const char *const engines[] = {"Sync", "Async", NULL};
	struct drive_cfg d = {0};
	int ct = 0, eng = 0, r;

	if ((r = check_object(o, where, f)) || (r = get_id(o, where, "drive_id", d.id)))
		return r;
	if (member(o, "socket")) {
		struct jpath p;
		return err_set(EINVAL, "%s: vhost-user block devices are not supported by ember",
			       fname(&p, where, "socket"));
	}
	if ((r = get_bool(o, where, "is_root_device", true, &d.is_root, NULL)) ||
	    (r = get_string(o, where, "partuuid", false, false, 64, &d.partuuid)) ||
	    (r = get_enum(o, where, "cache_type", false, cache, false, &ct, NULL)) ||
	    (r = get_bool(o, where, "is_read_only", false, &d.read_only, NULL)) ||
	    (r = get_string(o, where, "path_on_host", true, true, MAX_PATH_LEN, &d.path)) ||
	    (r = opt_rate_limiter(o, where, "rate_limiter", &d.rate_limiter, NULL)) ||
	    (r = get_enum(o, where, "io_engine", false, engines, false, &eng, NULL))) {
		drive_cfg_free(&d);
		return r;
	}
	d.cache_writeback = ct == 1;
	d.io_async = eng == 1;
	*out = d;
	return 0;
}

int cfgjson_parse_drive(const char *body, size_t len, struct drive_cfg *out)
{
	cJSON *o;
	int r = parse_body(body, len, MAX_DOC_LEN, &o);

	if (r)
		return r;
	r = drive_from_obj(o, "", out);
	cJSON_Delete(o);
	return r;
}

int cfgjson_parse_drive_update(const char *body, size_t len, struct drive_update *out)
{
	static const char *const f[] = {"drive_id", "path_on_host", "rate_limiter", NULL};
	struct drive_update u = {0};
	cJSON *o;
	int r = parse_body(body, len, MAX_DOC_LEN, &o);

	if (r)
		return r;
	if ((r = check_object(o, "", f)) || (r = get_id(o, "", "drive_id", u.id)) ||
	    (r = get_string(o, "", "path_on_host", false, true, MAX_PATH_LEN, &u.path)) ||
	    (r = opt_rate_limiter(o, "", "rate_limiter", &u.rate_limiter, &u.has_rate_limiter))) {
		free(u.path);
		cJSON_Delete(o);
		return r;
	}
	cJSON_Delete(o);
	*out = u;
	return 0;
}

void drive_update_free(struct drive_update *u)
{
	free(u->path);
	u->path = NULL;
}

static cJSON *drive_obj(const struct drive_cfg *d)
{
	cJSON *o = cJSON_CreateObject();

	cJSON_AddStringToObject(o, "drive_id", d->id);
	if (d->partuuid)
		cJSON_AddStringToObject(o, "partuuid", d->partuuid);
	cJSON_AddBoolToObject(o, "is_root_device", d->is_root);
	cJSON_AddStringToObject(o, "cache_type", d->cache_writeback ? "Writeback" : "Unsafe");
	cJSON_AddBoolToObject(o, "is_read_only", d->read_only);
	cJSON_AddStringToObject(o, "path_on_host", d->path ? d->path : "");
	emit_rate_limiter(o, "rate_limiter", &d->rate_limiter);
	cJSON_AddStringToObject(o, "io_engine", d->io_async ? "Async" : "Sync");
	return o;
}

/* ---- network-interfaces ---- */

static int net_from_obj(const cJSON *o, const char *where, struct net_cfg *out)
{
	static const char *const f[] = {"iface_id",	   "host_dev_name",   "guest_mac",    "mtu",
					"rx_rate_limiter", "tx_rate_limiter", "passt_socket", NULL};
	struct net_cfg n = {0};
	char *mac = NULL;
	struct jpath p;
	int r;

	if ((r = check_object(o, where, f)) || (r = get_id(o, where, "iface_id", n.id)))
		return r;
	/* ember: passt_socket (a passt to connect to) instead of a TAP */
	if ((r = get_string(o, where, "passt_socket", false, true, 107, &n.passt_socket)) ||
	    (r = get_string(o, where, "host_dev_name", !n.passt_socket, true, 64,
			    &n.host_dev_name)) ||
	    (r = get_string(o, where, "guest_mac", false, false, 64, &mac)) ||
	    (r = get_u32(o, where, "mtu", false, &n.mtu, NULL)) ||
	    (r = opt_rate_limiter(o, where, "rx_rate_limiter", &n.rx_rate_limiter, NULL)) ||
	    (r = opt_rate_limiter(o, where, "tx_rate_limiter", &n.tx_rate_limiter, NULL)))
		goto fail;
	if (member(o, "mtu") && (n.mtu < 68 || n.mtu > 65535)) {
		r = err_set(EINVAL, "%s: invalid value: %u, expected 68..65535",
			    fname(&p, where, "mtu"), n.mtu);
		goto fail;
	}
	if (mac) {
		if (parse_mac(mac, n.mac) < 0) {
			r = err_set(EINVAL,
				    "%s: invalid MAC address \"%.32s\" (expected "
				    "xx:xx:xx:xx:xx:xx)",
				    fname(&p, where, "guest_mac"), mac);
			goto fail;
		}
		n.has_mac = true;
		free(mac);
		mac = NULL;
	}
	if ((r = config_check_net(&n)))
		goto fail;
	*out = n;
	return 0;
fail:
	free(mac);
	net_cfg_free(&n);
	return r;
}

int cfgjson_parse_net(const char *body, size_t len, struct net_cfg *out)
{
	cJSON *o;
	int r = parse_body(body, len, MAX_DOC_LEN, &o);

	if (r)
		return r;
	r = net_from_obj(o, "", out);
	cJSON_Delete(o);
	return r;
}

int cfgjson_parse_net_update(const char *body, size_t len, struct net_update *out)
{
	static const char *const f[] = {"iface_id", "rx_rate_limiter", "tx_rate_limiter", NULL};
	struct net_update u = {0};
	cJSON *o;
	int r = parse_body(body, len, MAX_DOC_LEN, &o);

	if (r)
		return r;
	if (!(r = check_object(o, "", f)) && !(r = get_id(o, "", "iface_id", u.id)) &&
	    !(r = opt_rate_limiter(o, "", "rx_rate_limiter", &u.rx, &u.has_rx)) &&
	    !(r = opt_rate_limiter(o, "", "tx_rate_limiter", &u.tx, &u.has_tx)))
		*out = u;
	cJSON_Delete(o);
	return r;
}

static cJSON *net_obj(const struct net_cfg *n)
{
	cJSON *o = cJSON_CreateObject();

	cJSON_AddStringToObject(o, "iface_id", n->id);
	if (n->passt_socket)
		cJSON_AddStringToObject(o, "passt_socket", n->passt_socket);
	else
		cJSON_AddStringToObject(o, "host_dev_name",
					n->host_dev_name ? n->host_dev_name : "");
	if (n->has_mac) {
		char mac[18];
		snprintf(mac, sizeof(mac), "%02x:%02x:%02x:%02x:%02x:%02x", n->mac[0], n->mac[1],
			 n->mac[2], n->mac[3], n->mac[4], n->mac[5]);
		cJSON_AddStringToObject(o, "guest_mac", mac);
	}
	if (n->mtu)
		cJSON_AddNumberToObject(o, "mtu", n->mtu);
	emit_rate_limiter(o, "rx_rate_limiter", &n->rx_rate_limiter);
	emit_rate_limiter(o, "tx_rate_limiter", &n->tx_rate_limiter);
	return o;
}

/* ---- vsock ---- */

static int vsock_from_obj(const cJSON *o, const char *where, struct vsock_cfg *out)
{
	static const char *const f[] = {"guest_cid", "uds_path", "vsock_id", NULL};
	struct vsock_cfg v = {.present = true};
	char *id = NULL;
	int r;

	if ((r = check_object(o, where, f)) ||
	    (r = get_u32(o, where, "guest_cid", true, &v.guest_cid, NULL)) ||
	    (r = get_string(o, where, "uds_path", true, true, MAX_PATH_LEN, &v.uds_path)) ||
	    (r = get_string(o, where, "vsock_id", false, false, 1024, &id)) ||
	    (r = config_check_vsock(&v))) {
		free(id);
		vsock_cfg_free(&v);
		return r;
	}
	free(id); /* deprecated, ignored as Firecracker does */
	*out = v;
	return 0;
}

int cfgjson_parse_vsock(const char *body, size_t len, struct vsock_cfg *out)
{
	cJSON *o;
	int r = parse_body(body, len, MAX_DOC_LEN, &o);

	if (r)
		return r;
	r = vsock_from_obj(o, "", out);
	cJSON_Delete(o);
	return r;
}

static cJSON *vsock_obj(const struct vsock_cfg *v)
{
	cJSON *o = cJSON_CreateObject();

	cJSON_AddNumberToObject(o, "guest_cid", v->guest_cid);
	cJSON_AddStringToObject(o, "uds_path", v->uds_path ? v->uds_path : "");
	return o;
}

/* ---- entropy ---- */

static int entropy_from_obj(const cJSON *o, const char *where, struct rng_cfg *out)
{
	static const char *const f[] = {"rate_limiter", NULL};
	struct rng_cfg e = {.present = true};
	int r;

	if ((r = check_object(o, where, f)) ||
	    (r = opt_rate_limiter(o, where, "rate_limiter", &e.rate_limiter, NULL)))
		return r;
	*out = e;
	return 0;
}

int cfgjson_parse_entropy(const char *body, size_t len, struct rng_cfg *out)
{
	cJSON *o;
	int r = parse_body(body, len, MAX_DOC_LEN, &o);

	if (r)
		return r;
	r = entropy_from_obj(o, "", out);
	cJSON_Delete(o);
	return r;
}

static cJSON *entropy_obj(const struct rng_cfg *e)
{
	cJSON *o = cJSON_CreateObject();

	if (o)
		emit_rate_limiter(o, "rate_limiter", &e->rate_limiter);
	return o;
}

/* ---- pmem ---- */

static int pmem_from_obj(const cJSON *o, const char *where, struct pmem_cfg *out)
{
	static const char *const f[] = {"id",	     "path_on_host", "root_device",
					"read_only", "rate_limiter", NULL};
	struct pmem_cfg p = {0};
	int r;

	if ((r = check_object(o, where, f)) || (r = get_id(o, where, "id", p.id)) ||
	    (r = get_string(o, where, "path_on_host", true, true, MAX_PATH_LEN, &p.path)) ||
	    (r = get_bool(o, where, "root_device", false, &p.root_device, NULL)) ||
	    (r = get_bool(o, where, "read_only", false, &p.read_only, NULL)) ||
	    (r = opt_rate_limiter(o, where, "rate_limiter", &p.rate_limiter, NULL))) {
		pmem_cfg_free(&p);
		return r;
	}
	*out = p;
	return 0;
}

int cfgjson_parse_pmem(const char *body, size_t len, struct pmem_cfg *out)
{
	cJSON *o;
	int r = parse_body(body, len, MAX_DOC_LEN, &o);

	if (r)
		return r;
	r = pmem_from_obj(o, "", out);
	cJSON_Delete(o);
	return r;
}

int cfgjson_parse_pmem_update(const char *body, size_t len, struct pmem_update *out)
{
	static const char *const f[] = {"id", "rate_limiter", NULL};
	struct pmem_update u = {0};
	cJSON *o;
	int r = parse_body(body, len, MAX_DOC_LEN, &o);

	if (r)
		return r;
	if (!(r = check_object(o, "", f)) && !(r = get_id(o, "", "id", u.id)) &&
	    !(r = opt_rate_limiter(o, "", "rate_limiter", &u.rate_limiter, &u.has_rate_limiter)))
		*out = u;
	cJSON_Delete(o);
	return r;
}

static cJSON *pmem_obj(const struct pmem_cfg *p)
{
	cJSON *o = cJSON_CreateObject();

	cJSON_AddStringToObject(o, "id", p->id);
	cJSON_AddStringToObject(o, "path_on_host", p->path ? p->path : "");
	cJSON_AddBoolToObject(o, "root_device", p->root_device);
	cJSON_AddBoolToObject(o, "read_only", p->read_only);
	emit_rate_limiter(o, "rate_limiter", &p->rate_limiter);
	return o;
}

/* ---- memory hotplug ---- */

static int memhp_from_obj(const cJSON *o, const char *where, struct memhp_cfg *out)
{
	static const char *const f[] = {"total_size_mib", "slot_size_mib", "block_size_mib", NULL};
	struct memhp_cfg m = {.present = true,
			      .block_size_mib = VIRTIO_MEM_DEFAULT_BLOCK_MIB,
			      .slot_size_mib = VIRTIO_MEM_DEFAULT_SLOT_MIB};
	int r;

	if ((r = check_object(o, where, f)) ||
	    (r = get_uint(o, where, "total_size_mib", true, UINT32_MAX, &m.total_size_mib, NULL)) ||
	    (r = get_uint(o, where, "slot_size_mib", false, UINT32_MAX, &m.slot_size_mib, NULL)) ||
	    (r = get_uint(o, where, "block_size_mib", false, UINT32_MAX, &m.block_size_mib, NULL)))
		return r;
	if ((r = virtio_mem_check_cfg(&m)))
		return where && *where ? err_wrap(EINVAL, "%s", where) : r;
	*out = m;
	return 0;
}

int cfgjson_parse_memhp(const char *body, size_t len, struct memhp_cfg *out)
{
	cJSON *o;
	int r = parse_body(body, len, MAX_DOC_LEN, &o);

	if (r)
		return r;
	r = memhp_from_obj(o, "", out);
	cJSON_Delete(o);
	return r;
}

int cfgjson_parse_memhp_update(const char *body, size_t len, uint64_t *requested_size_mib)
{
	static const char *const f[] = {"requested_size_mib", NULL};
	cJSON *o;
	int r = parse_body(body, len, MAX_DOC_LEN, &o);

	if (r)
		return r;
	if (!(r = check_object(o, "", f)))
		r = get_uint(o, "", "requested_size_mib", true, UINT32_MAX, requested_size_mib,
			     NULL);
	cJSON_Delete(o);
	return r;
}

static cJSON *memhp_obj(const struct memhp_cfg *m)
{
	cJSON *o = cJSON_CreateObject();

	cJSON_AddNumberToObject(o, "total_size_mib", (double)m->total_size_mib);
	cJSON_AddNumberToObject(o, "slot_size_mib", (double)m->slot_size_mib);
	cJSON_AddNumberToObject(o, "block_size_mib", (double)m->block_size_mib);
	return o;
}

char *cfgjson_emit_memhp_status(const struct memhp_status *st)
{
	cJSON *o = cJSON_CreateObject();

	cJSON_AddNumberToObject(o, "total_size_mib", (double)st->total_size_mib);
	cJSON_AddNumberToObject(o, "slot_size_mib", (double)st->slot_size_mib);
	cJSON_AddNumberToObject(o, "block_size_mib", (double)st->block_size_mib);
	cJSON_AddNumberToObject(o, "plugged_size_mib", (double)st->plugged_size_mib);
	cJSON_AddNumberToObject(o, "requested_size_mib", (double)st->requested_size_mib);
	return print(o);
}

/* ---- mmds ---- */

static int mmds_from_obj(const cJSON *o, const char *where, struct mmds_cfg *out)
{
	static const char *const f[] = {"version", "network_interfaces", "ipv4_address",
					"imds_compat", NULL};
	static const char *const versions[] = {"V1", "V2", NULL};
	struct mmds_cfg m = {.present = true, .version = MMDS_V1};
	const cJSON *a, *e;
	char *ip = NULL;
	struct jpath p;
	int v = MMDS_V1, r;

	if ((r = check_object(o, where, f)) ||
	    (r = get_enum(o, where, "version", false, versions, false, &v, NULL)) ||
	    (r = get_bool(o, where, "imds_compat", false, &m.imds_compat, NULL)) ||
	    (r = get_string(o, where, "ipv4_address", false, false, 64, &ip)))
		goto out;
	m.version = (enum mmds_version)v;
	if (ip) {
		m.has_ipv4 = true;
		if (mmds_parse_ipv4(ip, &m.ipv4) < 0) {
			r = err_set(EINVAL, "%s: invalid IPv4 address syntax",
				    fname(&p, where, "ipv4_address"));
			goto out;
		}
	}
	if (!(a = member(o, "network_interfaces"))) {
		r = missing(where, "network_interfaces");
		goto out;
	}
	if (!cJSON_IsArray(a)) {
		r = err_set(EINVAL, "%s: invalid type: %s, expected a sequence",
			    fname(&p, where, "network_interfaces"), type_name(a));
		goto out;
	}
	cJSON_ArrayForEach(e, a)
	{
		bool dup = false;

		if (!cJSON_IsString(e)) {
			r = err_set(EINVAL, "%s: invalid type: %s, expected a string",
				    fname(&p, where, "network_interfaces"), type_name(e));
			goto out;
		}
		for (int i = 0; i < m.nifaces; i++)
			dup |= strcmp(m.ifaces[i], e->valuestring) == 0;
		if (dup)
			continue;
		if (m.nifaces == MMDS_MAX_IFACES || strlen(e->valuestring) > CFG_ID_MAX) {
			/* more than there can be interfaces: some id does not exist */
			r = err_set(EINVAL, "The list of network interface IDs provided contains "
					    "at least one ID that does not correspond to any "
					    "existing network interface.");
			goto out;
		}
		snprintf(m.ifaces[m.nifaces++], CFG_ID_MAX + 1, "%s", e->valuestring);
	}
	*out = m;
out:
	free(ip);
	return r;
}

int cfgjson_parse_mmds_config(const char *body, size_t len, struct mmds_cfg *out)
{
	cJSON *o;
	int r = parse_body(body, len, MAX_DOC_LEN, &o);

	if (r)
		return r;
	r = mmds_from_obj(o, "", out);
	cJSON_Delete(o);
	return r;
}

static cJSON *mmds_obj(const struct mmds_cfg *m)
{
	cJSON *o = cJSON_CreateObject(), *a;
	char ip[16];
	uint32_t v = mmds_cfg_ipv4(m);

	if (!o)
		return NULL;
	cJSON_AddStringToObject(o, "version", m->version == MMDS_V2 ? "V2" : "V1");
	a = cJSON_AddArrayToObject(o, "network_interfaces");
	for (int i = 0; a && i < m->nifaces; i++)
		cJSON_AddItemToArray(a, cJSON_CreateString(m->ifaces[i]));
	snprintf(ip, sizeof(ip), "%u.%u.%u.%u", v >> 24, (v >> 16) & 255, (v >> 8) & 255, v & 255);
	cJSON_AddStringToObject(o, "ipv4_address", ip);
	cJSON_AddBoolToObject(o, "imds_compat", m->imds_compat);
	return o;
}

int cfgjson_check_mmds_data(const char *body, size_t len)
{
	cJSON *o;
	int r = parse_body(body, len, MAX_DOC_LEN, &o);

	cJSON_Delete(o);
	return r;
}

/* ---- serial ---- */

static int serial_from_obj(const cJSON *o, const char *where, struct console_cfg *out)
{
	static const char *const f[] = {"serial_out_path", "rate_limiter", NULL};
	struct console_cfg s = {0};
	const cJSON *v;
	struct jpath p;
	int r;

	if ((r = check_object(o, where, f)) ||
	    (r = get_string(o, where, "serial_out_path", false, true, MAX_PATH_LEN, &s.path)))
		return r;
	if ((v = member(o, "rate_limiter")) &&
	    (r = parse_bucket(v, fname(&p, where, "rate_limiter"), &s.rate_limiter))) {
		free(s.path);
		return r;
	}
	s.kind = s.path ? CONSOLE_FILE : CONSOLE_STDIO;
	s.append = true;
	*out = s;
	return 0;
}

int cfgjson_parse_serial(const char *body, size_t len, struct console_cfg *out)
{
	cJSON *o;
	int r = parse_body(body, len, MAX_DOC_LEN, &o);

	if (r)
		return r;
	r = serial_from_obj(o, "", out);
	cJSON_Delete(o);
	return r;
}

/* ---- balloon ---- */

static int balloon_from_obj(const cJSON *o, const char *where, struct balloon_cfg *out)
{
	static const char *const f[] = {
	    "amount_mib",	 "deflate_on_oom",	"stats_polling_interval_s",
	    "free_page_hinting", "free_page_reporting", NULL};
	struct balloon_cfg b = {.present = true};
	int r;

	if ((r = check_object(o, where, f)) ||
	    (r = get_u32(o, where, "amount_mib", true, &b.amount_mib, NULL)) ||
	    (r = get_bool(o, where, "deflate_on_oom", true, &b.deflate_on_oom, NULL)) ||
	    (r = get_u32(o, where, "stats_polling_interval_s", false, &b.stats_polling_interval_s,
			 NULL)) ||
	    (r = get_bool(o, where, "free_page_hinting", false, &b.free_page_hinting, NULL)) ||
	    (r = get_bool(o, where, "free_page_reporting", false, &b.free_page_reporting, NULL)))
		return r;
	*out = b;
	return 0;
}

int cfgjson_parse_balloon(const char *body, size_t len, struct balloon_cfg *out)
{
	cJSON *o;
	int r = parse_body(body, len, MAX_DOC_LEN, &o);

	if (r)
		return r;
	r = balloon_from_obj(o, "", out);
	cJSON_Delete(o);
	return r;
}

int cfgjson_parse_balloon_update(const char *body, size_t len, uint32_t *amount_mib)
{
	static const char *const f[] = {"amount_mib", NULL};
	cJSON *o;
	int r = parse_body(body, len, MAX_DOC_LEN, &o);

	if (r)
		return r;
	if (!(r = check_object(o, "", f)))
		r = get_u32(o, "", "amount_mib", true, amount_mib, NULL);
	cJSON_Delete(o);
	return r;
}

int cfgjson_parse_balloon_stats_update(const char *body, size_t len, uint32_t *interval_s)
{
	static const char *const f[] = {"stats_polling_interval_s", NULL};
	cJSON *o;
	int r = parse_body(body, len, MAX_DOC_LEN, &o);

	if (r)
		return r;
	if (!(r = check_object(o, "", f)))
		r = get_u32(o, "", "stats_polling_interval_s", true, interval_s, NULL);
	cJSON_Delete(o);
	return r;
}

/* A body that may be absent: *o is NULL then; else an object with only the
 * fields f (the caller deletes *o). */
static int parse_optional_object(const char *body, size_t len, const char *const *f, cJSON **o)
{
	int r;

	*o = NULL;
	if (!body || len == 0)
		return 0;
	if ((r = parse_body(body, len, MAX_DOC_LEN, o)))
		return r;
	if ((r = check_object(*o, "", f))) {
		cJSON_Delete(*o);
		*o = NULL;
	}
	return r;
}

int cfgjson_parse_balloon_hint_start(const char *body, size_t len, bool *ack_on_stop)
{
	static const char *const f[] = {"acknowledge_on_stop", NULL};
	cJSON *o;
	int r;

	*ack_on_stop = true; /* Firecracker's default, also for an empty body */
	if ((r = parse_optional_object(body, len, f, &o)) || !o)
		return r;
	r = get_bool(o, "", "acknowledge_on_stop", false, ack_on_stop, NULL);
	cJSON_Delete(o);
	return r;
}

int cfgjson_parse_empty_object(const char *body, size_t len)
{
	static const char *const f[] = {NULL};
	cJSON *o;
	int r = parse_optional_object(body, len, f, &o);

	cJSON_Delete(o);
	return r;
}

static cJSON *balloon_obj(const struct balloon_cfg *b)
{
	cJSON *o = cJSON_CreateObject();

	cJSON_AddNumberToObject(o, "amount_mib", b->amount_mib);
	cJSON_AddBoolToObject(o, "deflate_on_oom", b->deflate_on_oom);
	cJSON_AddNumberToObject(o, "stats_polling_interval_s", b->stats_polling_interval_s);
	cJSON_AddBoolToObject(o, "free_page_hinting", b->free_page_hinting);
	cJSON_AddBoolToObject(o, "free_page_reporting", b->free_page_reporting);
	return o;
}

char *cfgjson_emit_balloon(const struct balloon_cfg *b)
{
	return print(balloon_obj(b));
}

/* ---- cpu-config (custom CPU template) ---- */

/* "0x1f", "0b101", "31" -> value <= max */
static int parse_num_string(const char *s, uint64_t max, uint64_t *out)
{
	uint64_t v = 0;
	int base = 10;

	if (!*s)
		return -EINVAL;
	if (s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) {
		base = 16;
		s += 2;
	} else if (s[0] == '0' && (s[1] == 'b' || s[1] == 'B')) {
		base = 2;
		s += 2;
	}
	if (!*s)
		return -EINVAL;
	for (; *s; s++) {
		int d;

		if (*s >= '0' && *s <= '9')
			d = *s - '0';
		else if (*s >= 'a' && *s <= 'f')
			d = *s - 'a' + 10;
		else if (*s >= 'A' && *s <= 'F')
			d = *s - 'A' + 10;
		else
			return -EINVAL;
		if (d >= base || v > (max - (uint64_t)d) / (uint64_t)base)
			return -EINVAL;
		v = v * (uint64_t)base + (uint64_t)d;
	}
	*out = v;
	return 0;
}

static int check_bitmap(const cJSON *o, const char *where, int bits)
{
	char *s = NULL;
	struct jpath p;
	int n = 0, r = get_string(o, where, "bitmap", true, false, 256, &s);

	if (r)
		return r;
	if (strncmp(s, "0b", 2) != 0)
		r = -EINVAL;
	for (const char *c = s + 2; r == 0 && *c; c++) {
		if (*c == '0' || *c == '1' || *c == 'x')
			n++;
		else if (*c != '_')
			r = -EINVAL;
	}
	free(s);
	if (r || n != bits)
		return err_set(EINVAL, "%s: expected \"0b\" followed by %d characters of 0, 1 or x",
			       fname(&p, where, "bitmap"), bits);
	return 0;
}

static int check_num_string(const cJSON *o, const char *where, const char *name, uint64_t max)
{
	char *s = NULL;
	struct jpath p;
	uint64_t v;
	int r = get_string(o, where, name, true, false, 80, &s);

	if (r)
		return r;
	r = parse_num_string(s, max, &v);
	free(s);
	if (r)
		return err_set(EINVAL,
			       "%s: expected a hex (0x..), binary (0b..) or decimal number "
			       "up to %#llx",
			       fname(&p, where, name), (unsigned long long)max);
	return 0;
}

static int check_array(const cJSON *a, const char *where, const char *name)
{
	struct jpath p;

	if (!cJSON_IsArray(a))
		return err_set(EINVAL, "%s: invalid type: %s, expected an array",
			       fname(&p, where, name), type_name(a));
	if (cJSON_GetArraySize(a) > 1024)
		return err_set(EINVAL, "%s: too many entries", fname(&p, where, name));
	return 0;
}

static int cpu_config_check(const cJSON *o, const char *where)
{
	static const char *const f[] = {"kvm_capabilities", "cpuid_modifiers", "msr_modifiers",
					NULL};
	static const char *const leaf_f[] = {"leaf", "subleaf", "flags", "modifiers", NULL};
	static const char *const reg_f[] = {"register", "bitmap", NULL};
	static const char *const msr_f[] = {"addr", "bitmap", NULL};
	static const char *const regs[] = {"eax", "ebx", "ecx", "edx", NULL};
	const cJSON *a;
	struct jpath p, q;
	int r, i;

	if ((r = check_object(o, where, f)))
		return r;
	if ((a = member(o, "kvm_capabilities"))) {
		if ((r = check_array(a, where, "kvm_capabilities")))
			return r;
		i = 0;
		for (const cJSON *c = a->child; c; c = c->next, i++) {
			const char *s = cJSON_GetStringValue(c), *t;
			uint64_t v;

			t = s && s[0] == '!' ? s + 1 : s;
			if (!t || !*t || strspn(t, "0123456789") != strlen(t) ||
			    parse_num_string(t, UINT32_MAX, &v) < 0)
				return err_set(EINVAL,
					       "%s[%d]: expected a KVM capability number "
					       "(\"121\" or \"!121\")",
					       fname(&p, where, "kvm_capabilities"), i);
		}
	}
	if ((a = member(o, "cpuid_modifiers"))) {
		if ((r = check_array(a, where, "cpuid_modifiers")))
			return r;
		i = 0;
		for (const cJSON *c = a->child; c; c = c->next, i++) {
			char w[96];
			const cJSON *mods;
			uint64_t flags;
			int j = 0;

			sfmt(w, sizeof(w), "%s[%d]", fname(&p, where, "cpuid_modifiers"), i);
			if ((r = check_object(c, w, leaf_f)) ||
			    (r = check_num_string(c, w, "leaf", UINT32_MAX)) ||
			    (r = check_num_string(c, w, "subleaf", UINT32_MAX)) ||
			    (r = get_uint(c, w, "flags", true, INT32_MAX, &flags, NULL)))
				return r;
			mods = member(c, "modifiers");
			if (!mods)
				return missing(w, "modifiers");
			if ((r = check_array(mods, w, "modifiers")))
				return r;
			for (const cJSON *m = mods->child; m; m = m->next, j++) {
				char w2[96];
				int reg;

				sfmt(w2, sizeof(w2), "%s[%d]", fname(&q, w, "modifiers"), j);
				if ((r = check_object(m, w2, reg_f)) ||
				    (r = get_enum(m, w2, "register", true, regs, false, &reg,
						  NULL)) ||
				    (r = check_bitmap(m, w2, 32)))
					return r;
			}
		}
	}
	if ((a = member(o, "msr_modifiers"))) {
		if ((r = check_array(a, where, "msr_modifiers")))
			return r;
		i = 0;
		for (const cJSON *c = a->child; c; c = c->next, i++) {
			char w[96];

			sfmt(w, sizeof(w), "%s[%d]", fname(&p, where, "msr_modifiers"), i);
			if ((r = check_object(c, w, msr_f)) ||
			    (r = check_num_string(c, w, "addr", UINT32_MAX)) ||
			    (r = check_bitmap(c, w, 64)))
				return r;
		}
	}
	return 0;
}

/* What the API accepts is what boots: the template is also read by the
 * parser the VM uses (arch_check_cpu_config), at PUT time. */
static int cpu_config_boot_check(const cJSON *o, const char *where)
{
	char *s = cJSON_PrintUnformatted(o);
	int r;

	if (!s)
		return err_set(ENOMEM, "out of memory");
	r = arch_check_cpu_config(s);
	free(s);
	if (r < 0)
		return *where ? err_wrap(-r, "%s", where) : r;
	return 0;
}

int cfgjson_parse_cpu_config(const char *body, size_t len, char **json_out)
{
	cJSON *o;
	char *s;
	int r = parse_body(body, len, MAX_DOC_LEN, &o);

	if (r)
		return r;
	if ((r = cpu_config_check(o, "")) || (r = cpu_config_boot_check(o, ""))) {
		cJSON_Delete(o);
		return r;
	}
	s = print(o);
	if (!s)
		return err_set(ENOMEM, "out of memory");
	*json_out = s;
	return 0;
}

/* ---- logger / metrics ---- */

static const char *const level_names[] = {"Off",   "Error", "Warning", "Info",
					  "Debug", "Trace", NULL};

const char *cfgjson_level_name(int level)
{
	switch (level) {
	case LOG_OFF:
		return "Off";
	case LOG_ERROR:
		return "Error";
	case LOG_WARN:
		return "Warning";
	case LOG_INFO:
		return "Info";
	default:
		return "Debug";
	}
}

static int logger_from_obj(const cJSON *o, const char *where, struct logger_cfg *out,
			   char **log_path)
{
	static const char *const f[] = {"level",	   "log_path", "show_level",
					"show_log_origin", "module",   NULL};
	struct logger_cfg l = {.present = true};
	char *path = NULL;
	int lvl = 3, r;

	if ((r = check_object(o, where, f)) ||
	    (r = get_enum(o, where, "level", false, level_names, true, &lvl, &l.has_level)) ||
	    (r = get_string(o, where, "log_path", false, true, MAX_PATH_LEN, &path)) ||
	    (r = get_bool(o, where, "show_level", false, &l.show_level, &l.has_show_level)) ||
	    (r = get_bool(o, where, "show_log_origin", false, &l.show_log_origin,
			  &l.has_show_log_origin)) ||
	    (r = get_string(o, where, "module", false, false, 256, &l.module))) {
		free(path);
		logger_cfg_free(&l);
		return r;
	}
	/* Off, Error, Warning, Info, Debug, Trace -> enum log_level */
	l.level = lvl == 0 ? LOG_OFF : lvl >= 5 ? LOG_DEBUG : lvl - 1;
	*out = l;
	*log_path = path;
	return 0;
}

int cfgjson_parse_logger(const char *body, size_t len, struct logger_cfg *out, char **log_path)
{
	cJSON *o;
	int r = parse_body(body, len, MAX_DOC_LEN, &o);

	if (r)
		return r;
	r = logger_from_obj(o, "", out, log_path);
	cJSON_Delete(o);
	return r;
}

static int metrics_from_obj(const cJSON *o, const char *where, struct metrics_cfg *out,
			    char **metrics_path)
{
	static const char *const f[] = {"metrics_path", "emit_id", "properties", NULL};
	struct metrics_cfg m = {.present = true};
	const cJSON *props;
	char *path = NULL;
	struct jpath p;
	int r;

	if ((r = check_object(o, where, f)) ||
	    (r = get_string(o, where, "metrics_path", true, true, MAX_PATH_LEN, &path)) ||
	    (r = get_bool(o, where, "emit_id", false, &m.emit_id, NULL)))
		goto fail;
	if ((props = member(o, "properties"))) {
		const char *pw = fname(&p, where, "properties");

		if (!cJSON_IsObject(props)) {
			r = err_set(EINVAL, "%s: invalid type: %s, expected an object", pw,
				    type_name(props));
			goto fail;
		}
		for (const cJSON *c = props->child; c; c = c->next) {
			if (!cJSON_IsString(c)) {
				r = err_set(EINVAL, "%s.%s: invalid type: %s, expected a string",
					    pw, c->string, type_name(c));
				goto fail;
			}
			for (const cJSON *d = props->child; d != c; d = d->next)
				if (strcmp(c->string, d->string) == 0) {
					r = err_set(EINVAL, "duplicate field `%s.%s`", pw,
						    c->string);
					goto fail;
				}
		}
		m.properties_json = cJSON_PrintUnformatted(props);
		if (!m.properties_json) {
			r = err_set(ENOMEM, "out of memory");
			goto fail;
		}
	}
	*out = m;
	*metrics_path = path;
	return 0;
fail:
	free(path);
	metrics_cfg_free(&m);
	return r;
}

int cfgjson_parse_metrics(const char *body, size_t len, struct metrics_cfg *out,
			  char **metrics_path)
{
	cJSON *o;
	int r = parse_body(body, len, MAX_DOC_LEN, &o);

	if (r)
		return r;
	r = metrics_from_obj(o, "", out, metrics_path);
	cJSON_Delete(o);
	return r;
}

/* ---- actions, vm state ---- */

int cfgjson_parse_action(const char *body, size_t len, enum fc_action *out)
{
	static const char *const f[] = {"action_type", NULL};
	static const char *const names[] = {"InstanceStart", "SendCtrlAltDel", "FlushMetrics",
					    NULL};
	cJSON *o;
	int a = 0, r = parse_body(body, len, MAX_DOC_LEN, &o);

	if (r)
		return r;
	if (!(r = check_object(o, "", f)) &&
	    !(r = get_enum(o, "", "action_type", true, names, false, &a, NULL)))
		*out = (enum fc_action)a;
	cJSON_Delete(o);
	return r;
}

int cfgjson_parse_vm_state(const char *body, size_t len, bool *paused)
{
	static const char *const f[] = {"state", NULL};
	static const char *const names[] = {"Paused", "Resumed", NULL};
	cJSON *o;
	int s = 0, r = parse_body(body, len, MAX_DOC_LEN, &o);

	if (r)
		return r;
	if (!(r = check_object(o, "", f)) &&
	    !(r = get_enum(o, "", "state", true, names, false, &s, NULL)))
		*paused = s == 0;
	cJSON_Delete(o);
	return r;
}

char *cfgjson_fault(const char *msg)
{
	cJSON *o = cJSON_CreateObject();

	cJSON_AddStringToObject(o, "fault_message", msg);
	return print(o);
}

/* ---- the whole document ---- */

static int doc_array(const cJSON *doc, const char *name, const cJSON **out)
{
	const cJSON *a = member(doc, name);

	*out = NULL;
	if (!a)
		return 0;
	if (!cJSON_IsArray(a))
		return err_set(EINVAL, "%s: invalid type: %s, expected an array", name,
			       type_name(a));
	*out = a;
	return 0;
}

static int doc_drives(const cJSON *doc, struct vm_config *cfg)
{
	const cJSON *a;
	int i = 0, r = doc_array(doc, "drives", &a);

	if (r || !a)
		return r;
	for (const cJSON *c = a->child; c; c = c->next, i++) {
		struct drive_cfg d;
		char w[32];

		snprintf(w, sizeof(w), "drives[%d]", i);
		if (i >= CFG_MAX_DRIVES)
			return err_set(EINVAL, "drives: at most %d drives", CFG_MAX_DRIVES);
		if ((r = drive_from_obj(c, w, &d)))
			return r;
		for (int j = 0; j < cfg->ndrives; j++) {
			if (strcmp(cfg->drives[j].id, d.id) == 0 ||
			    (d.is_root && cfg->drives[j].is_root)) {
				r = strcmp(cfg->drives[j].id, d.id) == 0
					? err_set(EINVAL, "%s.drive_id: %s is used twice", w, d.id)
					: err_set(EINVAL, "%s: A root block device already exists!",
						  w);
				drive_cfg_free(&d);
				return r;
			}
		}
		cfg->drives[cfg->ndrives++] = d;
	}
	return 0;
}

static int doc_nets(const cJSON *doc, struct vm_config *cfg)
{
	const cJSON *a;
	int i = 0, r = doc_array(doc, "network-interfaces", &a);

	if (r || !a)
		return r;
	for (const cJSON *c = a->child; c; c = c->next, i++) {
		struct net_cfg n;
		char w[40];

		snprintf(w, sizeof(w), "network-interfaces[%d]", i);
		if (i >= CFG_MAX_NETS)
			return err_set(EINVAL, "network-interfaces: at most %d interfaces",
				       CFG_MAX_NETS);
		if ((r = net_from_obj(c, w, &n)))
			return r;
		for (int j = 0; j < cfg->nnets; j++) {
			const struct net_cfg *o = &cfg->nets[j];
			if (strcmp(o->id, n.id) == 0 ||
			    (o->host_dev_name && n.host_dev_name &&
			     strcmp(o->host_dev_name, n.host_dev_name) == 0) ||
			    (o->has_mac && n.has_mac && memcmp(o->mac, n.mac, 6) == 0)) {
				r = err_set(EINVAL,
					    "%s: iface_id, host_dev_name and guest_mac must be "
					    "unique",
					    w);
				net_cfg_free(&n);
				return r;
			}
		}
		cfg->nets[cfg->nnets++] = n;
	}
	return 0;
}

static int doc_pmems(const cJSON *doc, struct vm_config *cfg)
{
	const cJSON *a;
	int i = 0, r = doc_array(doc, "pmem", &a);

	if (r || !a)
		return r;
	for (const cJSON *c = a->child; c; c = c->next, i++) {
		struct pmem_cfg p;
		char w[32];

		snprintf(w, sizeof(w), "pmem[%d]", i);
		if (i >= CFG_MAX_PMEM)
			return err_set(EINVAL, "pmem: at most %d devices", CFG_MAX_PMEM);
		if ((r = pmem_from_obj(c, w, &p)))
			return r;
		for (int j = 0; j < cfg->npmems; j++) {
			if (strcmp(cfg->pmems[j].id, p.id) == 0 ||
			    (p.root_device && cfg->pmems[j].root_device)) {
				r = strcmp(cfg->pmems[j].id, p.id) == 0
					? err_set(EINVAL, "%s.id: %s is used twice", w, p.id)
					: err_set(EINVAL, "%s: a root device already exists", w);
				pmem_cfg_free(&p);
				return r;
			}
		}
		cfg->pmems[cfg->npmems++] = p;
	}
	return 0;
}

int cfgjson_parse_vm_config(const char *text, size_t len, struct vm_config *cfg)
{
	static const char *const f[] = {"boot-source",	      "machine-config", "drives",
					"network-interfaces", "vsock",		"balloon",
					"cpu-config",	      "logger",		"metrics",
					"mmds-config",	      "entropy",	"pmem",
					"memory-hotplug",     "serial",		NULL};
	const cJSON *v;
	cJSON *doc;
	int r = parse_body(text, len, MAX_DOC_LEN, &doc);

	if (r)
		return r;
	if ((r = check_object(doc, "", f)))
		goto out;
	if ((v = member(doc, "boot-source"))) {
		struct boot_source_cfg b;

		if ((r = boot_from_obj(v, "boot-source", &b)))
			goto out;
		boot_source_cfg_free(&cfg->boot);
		cfg->boot = b;
	}
	if ((v = member(doc, "machine-config"))) {
		struct machine_update u;
		struct machine_cfg m;

		if ((r = machine_from_obj(v, "machine-config", false, &u)))
			goto out;
		r = machine_update_apply(&u, &cfg->machine, &m);
		machine_update_free(&u);
		if (r) {
			r = err_wrap(EINVAL, "machine-config");
			goto out;
		}
		free(cfg->machine.cpu_template_name);
		cfg->machine = m;
	}
	if ((r = doc_drives(doc, cfg)) || (r = doc_nets(doc, cfg)) || (r = doc_pmems(doc, cfg)))
		goto out;
	if ((v = member(doc, "mmds-config"))) {
		struct mmds_cfg m;

		if ((r = mmds_from_obj(v, "mmds-config", &m)) ||
		    (r = config_check_mmds(&m, cfg))) {
			if (r == -EINVAL && !strstr(err_msg(), "mmds-config"))
				r = err_wrap(EINVAL, "mmds-config");
			goto out;
		}
		cfg->mmds = m;
	}
	if ((v = member(doc, "memory-hotplug")) &&
	    (r = memhp_from_obj(v, "memory-hotplug", &cfg->memory_hotplug)))
		goto out;
	if ((v = member(doc, "vsock"))) {
		struct vsock_cfg vs;

		if ((r = vsock_from_obj(v, "vsock", &vs)))
			goto out;
		vsock_cfg_free(&cfg->vsock);
		cfg->vsock = vs;
	}
	if ((v = member(doc, "entropy")) && (r = entropy_from_obj(v, "entropy", &cfg->entropy)))
		goto out;
	if ((v = member(doc, "serial"))) {
		struct console_cfg con;

		if ((r = serial_from_obj(v, "serial", &con)))
			goto out;
		free(cfg->console.path);
		cfg->console = con;
	}
	if ((v = member(doc, "balloon"))) {
		if ((r = balloon_from_obj(v, "balloon", &cfg->balloon)))
			goto out;
		if ((r = config_check_balloon(&cfg->balloon, &cfg->machine)))
			goto out;
	}
	if ((v = member(doc, "cpu-config"))) {
		cJSON *tpl = NULL;

		if (cJSON_IsString(v)) {
			/* Firecracker's file format names a template file. */
			uint8_t *buf;
			size_t n;

			if ((r = read_whole_file(v->valuestring, 1024 * 1024, &buf, &n)))
				goto out;
			r = parse_body((const char *)buf, n, 1024 * 1024, &tpl);
			free(buf);
			if (r) {
				r = err_wrap(EINVAL, "cpu-config %s", v->valuestring);
				goto out;
			}
			v = tpl;
		}
		r = cpu_config_check(v, "cpu-config");
		if (!r)
			r = cpu_config_boot_check(v, "cpu-config");
		if (!r) {
			free(cfg->cpu_template_json);
			cfg->cpu_template_json = cJSON_PrintUnformatted(v);
			if (!cfg->cpu_template_json)
				r = err_set(ENOMEM, "out of memory");
		}
		cJSON_Delete(tpl);
		if (r)
			goto out;
	}
	if ((v = member(doc, "logger"))) {
		char *path = NULL;

		logger_cfg_free(&cfg->logger);
		if ((r = logger_from_obj(v, "logger", &cfg->logger, &path)))
			goto out;
		if (path) {
			free(cfg->log_path);
			cfg->log_path = path;
		}
	}
	if ((v = member(doc, "metrics"))) {
		char *path = NULL;

		metrics_cfg_free(&cfg->metrics);
		if ((r = metrics_from_obj(v, "metrics", &cfg->metrics, &path)))
			goto out;
		free(cfg->metrics_path);
		cfg->metrics_path = path;
	}
out:
	cJSON_Delete(doc);
	return r;
}

char *cfgjson_emit_vm_config(const struct vm_config *cfg)
{
	cJSON *doc = cJSON_CreateObject(), *a;

	if (!doc)
		return NULL;
	/* Every section Firecracker writes is there; an unset one is null. */
	if (cfg->balloon.present)
		cJSON_AddItemToObject(doc, "balloon", balloon_obj(&cfg->balloon));
	else
		cJSON_AddNullToObject(doc, "balloon");
	a = cJSON_AddArrayToObject(doc, "drives");
	for (int i = 0; a && i < cfg->ndrives; i++)
		cJSON_AddItemToArray(a, drive_obj(&cfg->drives[i]));
	if (cfg->boot.kernel_path)
		cJSON_AddItemToObject(doc, "boot-source", boot_obj(&cfg->boot));
	else
		cJSON_AddNullToObject(doc, "boot-source");
	if (cfg->cpu_template_json)
		cJSON_AddItemToObject(doc, "cpu-config", cJSON_Parse(cfg->cpu_template_json));
	else
		cJSON_AddNullToObject(doc, "cpu-config");
	if (cfg->logger.present) {
		cJSON *l = cJSON_AddObjectToObject(doc, "logger");

		if (l && cfg->logger.has_level)
			cJSON_AddStringToObject(l, "level", cfgjson_level_name(cfg->logger.level));
		if (l && cfg->log_path)
			cJSON_AddStringToObject(l, "log_path", cfg->log_path);
		if (l && cfg->logger.has_show_level)
			cJSON_AddBoolToObject(l, "show_level", cfg->logger.show_level);
		if (l && cfg->logger.has_show_log_origin)
			cJSON_AddBoolToObject(l, "show_log_origin", cfg->logger.show_log_origin);
		if (l && cfg->logger.module)
			cJSON_AddStringToObject(l, "module", cfg->logger.module);
	} else {
		cJSON_AddNullToObject(doc, "logger");
	}
	cJSON_AddItemToObject(doc, "machine-config", machine_obj(&cfg->machine));
	if (cfg->metrics.present && cfg->metrics_path) {
		cJSON *m = cJSON_AddObjectToObject(doc, "metrics");

		if (m) {
			cJSON_AddStringToObject(m, "metrics_path", cfg->metrics_path);
			if (cfg->metrics.emit_id)
				cJSON_AddTrueToObject(m, "emit_id");
			if (cfg->metrics.properties_json)
				cJSON_AddItemToObject(m, "properties",
						      cJSON_Parse(cfg->metrics.properties_json));
		}
	} else {
		cJSON_AddNullToObject(doc, "metrics");
	}
	if (cfg->memory_hotplug.present)
		cJSON_AddItemToObject(doc, "memory-hotplug", memhp_obj(&cfg->memory_hotplug));
	else
		cJSON_AddNullToObject(doc, "memory-hotplug");
	if (cfg->mmds.present)
		cJSON_AddItemToObject(doc, "mmds-config", mmds_obj(&cfg->mmds));
	else
		cJSON_AddNullToObject(doc, "mmds-config");
	a = cJSON_AddArrayToObject(doc, "network-interfaces");
	for (int i = 0; a && i < cfg->nnets; i++)
		cJSON_AddItemToArray(a, net_obj(&cfg->nets[i]));
	a = cJSON_AddArrayToObject(doc, "pmem");
	for (int i = 0; a && i < cfg->npmems; i++)
		cJSON_AddItemToArray(a, pmem_obj(&cfg->pmems[i]));
	if (cfg->vsock.present)
		cJSON_AddItemToObject(doc, "vsock", vsock_obj(&cfg->vsock));
	else
		cJSON_AddNullToObject(doc, "vsock");
	if (cfg->entropy.present)
		cJSON_AddItemToObject(doc, "entropy", entropy_obj(&cfg->entropy));
	else
		cJSON_AddNullToObject(doc, "entropy");
	return print(doc);
}
