/* Firecracker's custom CPU template JSON: cpuid_modifiers and msr_modifiers
 * with "0b" bitmaps of 0/1/x (x keeps the host/KVM value). */
#include "ember/x86.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <cjson/cJSON.h>

#include "ember/error.h"
#include "ember/json.h"
#include "ember/util.h"

/* A number string, Firecracker's grammar: "0x" hex, else decimal ("0b"
 * binary is handled by the caller); a leading 0 is not octal: "010" is ten,
 * as the API's check reads it. */
static int parse_num_str(const char *s, uint64_t max, uint64_t *out)
{
	const char *digits = "0123456789";
	unsigned long long v;
	char *end;
	int base = 10;

	if (s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) {
		base = 16;
		digits = "0123456789abcdefABCDEF";
		s += 2;
	}
	if (!*s || strspn(s, digits) != strlen(s))
		return -EINVAL;
	errno = 0;
	v = strtoull(s, &end, base);
	if (errno || *end || v > max)
		return -EINVAL;
	*out = v;
	return 0;
}

/* A number given as JSON number, or string in decimal / 0x hex / 0b binary. */
static int parse_num(const cJSON *j, const char *what, uint64_t max, uint64_t *out)
{
	if (cJSON_IsNumber(j)) {
		if (j->valuedouble < 0 || j->valuedouble > (double)max ||
		    j->valuedouble != (double)(uint64_t)j->valuedouble)
			return err_set(EINVAL, "CPU template: %s: %g out of range", what,
				       j->valuedouble);
		*out = (uint64_t)j->valuedouble;
		return 0;
	}
	if (cJSON_IsString(j)) {
		const char *s = j->valuestring;
		if (strncmp(s, "0b", 2) == 0) {
			uint64_t v = 0;
			if (!s[2] || strlen(s + 2) > 64)
				return err_set(EINVAL, "CPU template: %s: bad binary \"%s\"", what, s);
			for (s += 2; *s; s++) {
				if (*s != '0' && *s != '1')
					return err_set(EINVAL, "CPU template: %s: bad binary digit", what);
				v = (v << 1) | (uint64_t)(*s - '0');
			}
			if (v > max)
				return err_set(EINVAL, "CPU template: %s out of range", what);
			*out = v;
			return 0;
		}
		if (parse_num_str(s, max, out) == 0)
			return 0;
		return err_set(EINVAL, "CPU template: %s: \"%s\" is not a number", what, s);
	}
	return err_set(EINVAL, "CPU template: %s must be a number or a string", what);
}

/* "0b" followed by up to width chars of 0/1/x (underscores ignored), the last
 * char being bit 0. */
static int parse_bitmap(const cJSON *j, const char *what, int width, uint64_t *and_mask,
			uint64_t *or_mask)
{
	const char *s;
	int nbits = 0;
	uint64_t a = 0, o = 0;

	if (!cJSON_IsString(j) || strncmp(j->valuestring, "0b", 2) != 0)
		return err_set(EINVAL, "CPU template: %s: bitmap must be a string \"0b...\"", what);
	for (s = j->valuestring + 2; *s; s++) {
		if (*s == '_')
			continue;
		if (++nbits > width)
			return err_set(EINVAL, "CPU template: %s: bitmap longer than %d bits", what,
				       width);
		a <<= 1;
		o <<= 1;
		switch (*s) {
		case '0':
			break;
		case '1':
			o |= 1;
			break;
		case 'x':
		case 'X':
			a |= 1;
			break;
		default:
			return err_set(EINVAL, "CPU template: %s: bad bitmap character '%c'", what,
				       *s);
		}
	}
	if (nbits == 0)
		return err_set(EINVAL, "CPU template: %s: empty bitmap", what);
	/* bits above the given ones are kept */
	if (nbits < 64)
		a |= ~((1ULL << nbits) - 1);
	if (width < 64)
		a &= (1ULL << width) - 1;
	*and_mask = a;
	*or_mask = o;
	return 0;
}

static int check_keys(const cJSON *obj, const char *what, const char *const *allowed)
{
	const cJSON *it = json_bad_member(obj, allowed, NULL);

	if (it)
		return err_set(EINVAL, "CPU template: %s: unknown field \"%s\"", what, it->string);
	return 0;
}

static int reg_index(const char *r)
{
	static const char *const names[] = {"eax", "ebx", "ecx", "edx"};

	for (int i = 0; i < 4; i++)
		if (strcasecmp(r, names[i]) == 0)
			return i;
	return -1;
}

static int parse_cpuid(const cJSON *arr, struct cpu_template *t)
{
	static const char *const keys[] = {"leaf", "subleaf", "flags", "modifiers", NULL};
	static const char *const mkeys[] = {"register", "bitmap", NULL};
	const cJSON *leaf_obj;
	int idx = 0, r;

	if (!cJSON_IsArray(arr))
		return err_set(EINVAL, "CPU template: cpuid_modifiers must be an array");
	cJSON_ArrayForEach(leaf_obj, arr) {
		char what[64];
		uint64_t leaf, subleaf = 0, flags = 0;
		const cJSON *mods, *m;

		snprintf(what, sizeof(what), "cpuid_modifiers[%d]", idx++);
		if (!cJSON_IsObject(leaf_obj))
			return err_set(EINVAL, "CPU template: %s must be an object", what);
		if ((r = check_keys(leaf_obj, what, keys)) < 0)
			return r;
		if (!cJSON_GetObjectItemCaseSensitive(leaf_obj, "leaf"))
			return err_set(EINVAL, "CPU template: %s: missing leaf", what);
		if ((r = parse_num(cJSON_GetObjectItemCaseSensitive(leaf_obj, "leaf"), "leaf",
				   UINT32_MAX, &leaf)) < 0)
			return r;
		if (cJSON_GetObjectItemCaseSensitive(leaf_obj, "subleaf") &&
		    (r = parse_num(cJSON_GetObjectItemCaseSensitive(leaf_obj, "subleaf"), "subleaf",
				   UINT32_MAX, &subleaf)) < 0)
			return r;
		if (cJSON_GetObjectItemCaseSensitive(leaf_obj, "flags") &&
		    (r = parse_num(cJSON_GetObjectItemCaseSensitive(leaf_obj, "flags"), "flags",
				   UINT32_MAX, &flags)) < 0)
			return r;
		mods = cJSON_GetObjectItemCaseSensitive(leaf_obj, "modifiers");
		if (!cJSON_IsArray(mods))
			return err_set(EINVAL, "CPU template: %s: modifiers must be an array", what);
		cJSON_ArrayForEach(m, mods) {
			const cJSON *reg = cJSON_GetObjectItemCaseSensitive(m, "register");
			uint64_t a, o;
			struct cpuid_modifier *n;
			int ri;

			if (!cJSON_IsObject(m) || (r = check_keys(m, what, mkeys)) < 0)
				return r < 0 ? r : err_set(EINVAL, "CPU template: %s: bad modifier", what);
			if (!cJSON_IsString(reg) || (ri = reg_index(reg->valuestring)) < 0)
				return err_set(EINVAL,
					       "CPU template: %s: register must be eax/ebx/ecx/edx",
					       what);
			if ((r = parse_bitmap(cJSON_GetObjectItemCaseSensitive(m, "bitmap"), what, 32,
					      &a, &o)) < 0)
				return r;
			n = realloc(t->cpuid, sizeof(*n) * (size_t)(t->ncpuid + 1));
			if (!n)
				return err_set(ENOMEM, "CPU template: out of memory");
			t->cpuid = n;
			t->cpuid[t->ncpuid++] = (struct cpuid_modifier){
				.leaf = (uint32_t)leaf,
				.subleaf = (uint32_t)subleaf,
				.flags = (uint32_t)flags,
				.reg = ri,
				.and_mask = (uint32_t)a,
				.or_mask = (uint32_t)o,
			};
		}
	}
	return 0;
}

static int parse_msrs(const cJSON *arr, struct cpu_template *t)
{
	static const char *const keys[] = {"addr", "bitmap", NULL};
	const cJSON *m;
	int idx = 0, r;

	if (!cJSON_IsArray(arr))
		return err_set(EINVAL, "CPU template: msr_modifiers must be an array");
	cJSON_ArrayForEach(m, arr) {
		char what[64];
		uint64_t addr, a, o;
		struct msr_modifier *n;

		snprintf(what, sizeof(what), "msr_modifiers[%d]", idx++);
		if (!cJSON_IsObject(m))
			return err_set(EINVAL, "CPU template: %s must be an object", what);
		if ((r = check_keys(m, what, keys)) < 0)
			return r;
		if (!cJSON_GetObjectItemCaseSensitive(m, "addr"))
			return err_set(EINVAL, "CPU template: %s: missing addr", what);
		if ((r = parse_num(cJSON_GetObjectItemCaseSensitive(m, "addr"), "addr", UINT32_MAX,
				   &addr)) < 0)
			return r;
		if ((r = parse_bitmap(cJSON_GetObjectItemCaseSensitive(m, "bitmap"), what, 64, &a,
				      &o)) < 0)
			return r;
		n = realloc(t->msrs, sizeof(*n) * (size_t)(t->nmsrs + 1));
		if (!n)
			return err_set(ENOMEM, "CPU template: out of memory");
		t->msrs = n;
		t->msrs[t->nmsrs++] =
			(struct msr_modifier){.addr = (uint32_t)addr, .and_mask = a, .or_mask = o};
	}
	return 0;
}

/* kvm_capabilities: "N" the host's KVM must have capability N (checked at
 * boot); "!N" drops N from Firecracker's own list, which ember does not
 * keep (its needs are checked when KVM is opened), so it asks nothing. */
static int parse_kvm_caps(const cJSON *arr, struct cpu_template *t)
{
	const cJSON *c;
	int idx = 0;

	if (!cJSON_IsArray(arr))
		return err_set(EINVAL, "CPU template: kvm_capabilities must be an array");
	cJSON_ArrayForEach(c, arr) {
		const char *s = cJSON_GetStringValue(c);
		uint64_t v;
		uint32_t *n;

		if (!s || parse_num_str(s[0] == '!' ? s + 1 : s, UINT32_MAX, &v) < 0)
			return err_set(EINVAL,
				       "CPU template: kvm_capabilities[%d]: expected \"N\" or \"!N\"",
				       idx);
		idx++;
		if (s[0] == '!')
			continue;
		n = realloc(t->kvm_caps, sizeof(*n) * (size_t)(t->nkvm_caps + 1));
		if (!n)
			return err_set(ENOMEM, "CPU template: out of memory");
		t->kvm_caps = n;
		t->kvm_caps[t->nkvm_caps++] = (uint32_t)v;
	}
	return 0;
}

int cpu_template_parse(const char *json, struct cpu_template *t)
{
	static const char *const keys[] = {"cpuid_modifiers", "msr_modifiers", "kvm_capabilities",
					   "vcpu_features", "reg_modifiers", NULL};
	cJSON *root;
	const cJSON *it;
	int r = 0;

	memset(t, 0, sizeof(*t));
	root = cJSON_Parse(json);
	if (!root)
		return err_set(EINVAL, "CPU template: not valid JSON");
	if (!cJSON_IsObject(root)) {
		r = err_set(EINVAL, "CPU template: top level must be an object");
		goto out;
	}
	if ((r = check_keys(root, "template", keys)) < 0)
		goto out;
	if ((it = cJSON_GetObjectItemCaseSensitive(root, "cpuid_modifiers")) &&
	    (r = parse_cpuid(it, t)) < 0)
		goto out;
	if ((it = cJSON_GetObjectItemCaseSensitive(root, "msr_modifiers")) &&
	    (r = parse_msrs(it, t)) < 0)
		goto out;
	if ((it = cJSON_GetObjectItemCaseSensitive(root, "kvm_capabilities")) &&
	    (r = parse_kvm_caps(it, t)) < 0)
		goto out;
	if ((it = cJSON_GetObjectItemCaseSensitive(root, "vcpu_features")) &&
	    cJSON_GetArraySize(it) > 0) {
		r = err_set(EINVAL, "CPU template: vcpu_features are for aarch64");
		goto out;
	}
	if ((it = cJSON_GetObjectItemCaseSensitive(root, "reg_modifiers")) &&
	    cJSON_GetArraySize(it) > 0)
		r = err_set(EINVAL, "CPU template: reg_modifiers are for aarch64");
out:
	cJSON_Delete(root);
	if (r < 0)
		cpu_template_free(t);
	return r;
}

void cpu_template_free(struct cpu_template *t)
{
	free(t->cpuid);
	free(t->msrs);
	free(t->kvm_caps);
	memset(t, 0, sizeof(*t));
}
