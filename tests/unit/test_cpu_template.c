/* CPU templates (cpu_template.c) and per-vCPU CPUID (cpuid.c).
 *
 * Parsing: Firecracker's custom CPU template JSON (cpuid_modifiers,
 * msr_modifiers) with every kind of bad input. Application: a synthetic
 * KVM_GET_SUPPORTED_CPUID result goes through cpuid_setup_vcpu, and the APIC
 * ids, topology leaves, hypervisor bit and template bits are checked. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ember/x86.h"
#include "ember/error.h"

/* ---------------------------------------------------------------- parsing */

static void expect_bad(const char *json, const char *needle)
{
	struct cpu_template t;
	int r;

	memset(&t, 0x5a, sizeof(t));
	err_clear();
	r = cpu_template_parse(json, &t);
	if (r != -EINVAL)
		fail_msg("expected -EINVAL, got %d for: %s", r, json);
	if (!strstr(err_msg(), needle))
		fail_msg("error \"%s\" does not mention \"%s\" (template: %s)", err_msg(), needle,
			 json);
	/* nothing is left allocated or half-filled */
	assert_null(t.cpuid);
	assert_null(t.msrs);
	assert_int_equal(t.ncpuid, 0);
	assert_int_equal(t.nmsrs, 0);
}

/* JSON of one cpuid modifier for leaf 1 with the given register/bitmap. */
static void expect_bad_cpuid_mod(const char *reg, const char *bitmap, const char *needle)
{
	char json[512];

	snprintf(json, sizeof(json),
		 "{\"cpuid_modifiers\":[{\"leaf\":\"0x1\",\"subleaf\":\"0x0\",\"flags\":0,"
		 "\"modifiers\":[{\"register\":%s,\"bitmap\":%s}]}]}",
		 reg, bitmap);
	expect_bad(json, needle);
}

static void expect_bad_msr(const char *addr, const char *bitmap, const char *needle)
{
	char json[512];

	snprintf(json, sizeof(json), "{\"msr_modifiers\":[{\"addr\":%s,\"bitmap\":%s}]}", addr,
		 bitmap);
	expect_bad(json, needle);
}

/* "0b" + 32 'x' with the given bit set to c. */
static const char *bitmap32(int bit, char c)
{
	static char s[3 + 32];

	strcpy(s, "0b");
	memset(s + 2, 'x', 32);
	s[34] = '\0';
	s[2 + 31 - bit] = c;
	return s;
}

static const char firecracker_example[] =
    "{\n"
    "  \"cpuid_modifiers\": [\n"
    "    {\n"
    "      \"leaf\": \"0x1\",\n"
    "      \"subleaf\": \"0x0\",\n"
    "      \"flags\": 0,\n"
    "      \"modifiers\": [\n"
    "        {\"register\": \"ecx\", \"bitmap\": \"0bxxxxxxxxxxxxxxxxxx0xxxxxxxxxxxxx\"},\n"
    "        {\"register\": \"edx\", \"bitmap\": \"0b1xxx_xxxx_xxxx_xxxx_xxxx_xxxx_xxxx_xxx0\"}\n"
    "      ]\n"
    "    },\n"
    "    {\n"
    "      \"leaf\": \"0x7\",\n"
    "      \"subleaf\": \"0x0\",\n"
    "      \"flags\": 1,\n"
    "      \"modifiers\": [\n"
    "        {\"register\": \"eax\", \"bitmap\": \"0b0\"},\n"
    "        {\"register\": \"ebx\", \"bitmap\": \"0b1x0\"}\n"
    "      ]\n"
    "    },\n"
    "    {\"leaf\": 2147483656, \"subleaf\": 0, \"modifiers\": []}\n"
    "  ],\n"
    "  \"msr_modifiers\": [\n"
    "    {\"addr\": \"0x10a\", \"bitmap\": "
    "\"0b0000000000000000000000000000000000000000000000000000000000000000\"},\n"
    "    {\"addr\": \"0xc0000080\", \"bitmap\": "
    "\"0bxxxxxxxx_xxxxxxxx_xxxxxxxx_xxxxxxxx_xxxxxxxx_xxxxxxxx_xxxxxxxx_xxxxx1x0\"}\n"
    "  ]\n"
    "}\n";

static void test_parse_good(void **state)
{
	struct cpu_template t;

	(void)state;
	assert_int_equal(cpu_template_parse(firecracker_example, &t), 0);
	assert_int_equal(t.ncpuid, 4); /* the empty leaf adds none */
	assert_int_equal(t.nmsrs, 2);

	/* hide CX16: every bit kept but 13, which is forced to 0 */
	assert_int_equal(t.cpuid[0].leaf, 1);
	assert_int_equal(t.cpuid[0].subleaf, 0);
	assert_int_equal(t.cpuid[0].flags, 0);
	assert_int_equal(t.cpuid[0].reg, 2);
	assert_int_equal(t.cpuid[0].and_mask, ~(1U << 13));
	assert_int_equal(t.cpuid[0].or_mask, 0);
	/* underscores are separators; 32 digits in all */
	assert_int_equal(t.cpuid[1].reg, 3);
	assert_int_equal(t.cpuid[1].and_mask, 0x7ffffffe);
	assert_int_equal(t.cpuid[1].or_mask, 0x80000000);
	/* short bitmaps describe the low bits; the rest is kept */
	assert_int_equal(t.cpuid[2].leaf, 7);
	assert_int_equal(t.cpuid[2].flags, 1);
	assert_int_equal(t.cpuid[2].reg, 0);
	assert_int_equal(t.cpuid[2].and_mask, 0xfffffffe);
	assert_int_equal(t.cpuid[2].or_mask, 0);
	assert_int_equal(t.cpuid[3].reg, 1);
	assert_int_equal(t.cpuid[3].and_mask, 0xfffffffa);
	assert_int_equal(t.cpuid[3].or_mask, 4);

	assert_int_equal(t.msrs[0].addr, 0x10a);
	assert_int_equal(t.msrs[0].and_mask, 0);
	assert_int_equal(t.msrs[0].or_mask, 0);
	assert_int_equal(t.msrs[1].addr, 0xc0000080);
	assert_int_equal(t.msrs[1].and_mask, ~0x7ULL | 0x2);
	assert_int_equal(t.msrs[1].or_mask, 0x4);
	cpu_template_free(&t);
	assert_null(t.cpuid);
	assert_int_equal(t.ncpuid, 0);
}

static void test_parse_numbers(void **state)
{
	static const struct {
		const char *leaf, *subleaf;
		uint32_t want_leaf, want_subleaf;
	} cases[] = {
	    {"\"0x1\"", "\"0x0\"", 1, 0},
	    {"\"0X0000000D\"", "\"0x1\"", 0xd, 1},
	    {"13", "1", 13, 1},
	    {"\"13\"", "\"0\"", 13, 0},
	    {"\"0b1011\"", "\"0b0\"", 11, 0},
	    {"\"010\"", "\"08\"", 10, 8}, /* decimal, never octal (as the API reads it) */
	    {"\"0x80000001\"", "0", 0x80000001, 0},
	    {"4294967295", "\"0xffffffff\"", 0xffffffff, 0xffffffff},
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct cpu_template t;
		char json[256];

		snprintf(json, sizeof(json),
			 "{\"cpuid_modifiers\":[{\"leaf\":%s,\"subleaf\":%s,"
			 "\"modifiers\":[{\"register\":\"EAX\",\"bitmap\":\"0b1\"}]}]}",
			 cases[i].leaf, cases[i].subleaf);
		if (cpu_template_parse(json, &t) != 0)
			fail_msg("%s: %s", json, err_msg());
		assert_int_equal(t.ncpuid, 1);
		assert_int_equal(t.cpuid[0].leaf, cases[i].want_leaf);
		assert_int_equal(t.cpuid[0].subleaf, cases[i].want_subleaf);
		assert_int_equal(t.cpuid[0].reg, 0);
		cpu_template_free(&t);
	}
}

static void test_parse_empty(void **state)
{
	static const char *const good[] = {
	    "{}",
	    "{\"cpuid_modifiers\": [], \"msr_modifiers\": []}",
	    "{\"cpuid_modifiers\": [{\"leaf\": \"0x1\", \"modifiers\": []}]}",
	    "{\"kvm_capabilities\": [], \"reg_modifiers\": []}",
	    "  {\"msr_modifiers\": []}  \n",
	};

	(void)state;
	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		struct cpu_template t;

		if (cpu_template_parse(good[i], &t) != 0)
			fail_msg("%s: %s", good[i], err_msg());
		assert_int_equal(t.ncpuid, 0);
		assert_int_equal(t.nmsrs, 0);
		cpu_template_free(&t);
	}
}

static void test_parse_many(void **state)
{
	enum { N = 300 };
	char *json = malloc(N * 128 + 64), *p = json;
	struct cpu_template t;

	(void)state;
	assert_non_null(json);
	p += sprintf(p, "{\"cpuid_modifiers\":[");
	for (int i = 0; i < N; i++)
		p += sprintf(p,
			     "%s{\"leaf\":%d,\"subleaf\":%d,\"modifiers\":[{\"register\":\"edx\","
			     "\"bitmap\":\"0b1\"}]}",
			     i ? "," : "", i, N - i);
	p += sprintf(p, "],\"msr_modifiers\":[");
	for (int i = 0; i < N; i++)
		p += sprintf(p, "%s{\"addr\":%d,\"bitmap\":\"0b0\"}", i ? "," : "", 0x1000 + i);
	sprintf(p, "]}");
	assert_int_equal(cpu_template_parse(json, &t), 0);
	assert_int_equal(t.ncpuid, N);
	assert_int_equal(t.nmsrs, N);
	assert_int_equal(t.cpuid[N - 1].leaf, N - 1);
	assert_int_equal(t.cpuid[N - 1].subleaf, 1);
	assert_int_equal(t.msrs[N - 1].addr, 0x1000 + N - 1);
	cpu_template_free(&t);
	free(json);
}

static void test_parse_invalid_json(void **state)
{
	(void)state;
	expect_bad("", "JSON");
	expect_bad("{", "JSON");
	expect_bad("{\"cpuid_modifiers\": [}", "JSON");
	expect_bad("{\"cpuid_modifiers\": []", "JSON");
	expect_bad("[]", "object");
	expect_bad("null", "object");
	expect_bad("\"cpuid_modifiers\"", "object");
	expect_bad("42", "object");
}

static void test_parse_unknown_fields(void **state)
{
	(void)state;
	expect_bad("{\"cpuid_modifier\": []}", "cpuid_modifier");
	expect_bad("{\"cpuid_modifiers\": [], \"extra\": 1}", "extra");
	expect_bad("{\"cpuid_modifiers\":[{\"leaf\":1,\"sublef\":0,\"modifiers\":[]}]}", "sublef");
	expect_bad("{\"cpuid_modifiers\":[{\"leaf\":1,\"modifiers\":[{\"register\":\"eax\","
		   "\"bitmap\":\"0b1\",\"mask\":\"0b1\"}]}]}",
		   "mask");
	expect_bad("{\"msr_modifiers\":[{\"addr\":1,\"bitmap\":\"0b1\",\"register\":\"eax\"}]}",
		   "register");
	/* aarch64-only content is refused on x86 */
	expect_bad("{\"reg_modifiers\":[{\"addr\":\"0x1\",\"bitmap\":\"0b1\"}]}", "reg_modifiers");
}

static void test_parse_wrong_types(void **state)
{
	(void)state;
	expect_bad("{\"cpuid_modifiers\": {}}", "cpuid_modifiers");
	expect_bad("{\"cpuid_modifiers\": \"0x1\"}", "cpuid_modifiers");
	expect_bad("{\"msr_modifiers\": 5}", "msr_modifiers");
	expect_bad("{\"cpuid_modifiers\": [1]}", "cpuid_modifiers[0]");
	expect_bad("{\"cpuid_modifiers\": [{\"leaf\":1,\"modifiers\":[]}, []]}",
		   "cpuid_modifiers[1]");
	expect_bad("{\"msr_modifiers\": [\"0x10a\"]}", "msr_modifiers[0]");
	/* leaf / subleaf / flags / addr */
	expect_bad("{\"cpuid_modifiers\":[{\"modifiers\":[]}]}", "leaf");
	expect_bad("{\"cpuid_modifiers\":[{\"leaf\":true,\"modifiers\":[]}]}", "leaf");
	expect_bad("{\"cpuid_modifiers\":[{\"leaf\":null,\"modifiers\":[]}]}", "leaf");
	expect_bad("{\"cpuid_modifiers\":[{\"leaf\":[1],\"modifiers\":[]}]}", "leaf");
	expect_bad("{\"cpuid_modifiers\":[{\"leaf\":-1,\"modifiers\":[]}]}", "leaf");
	expect_bad("{\"cpuid_modifiers\":[{\"leaf\":1.5,\"modifiers\":[]}]}", "leaf");
	expect_bad("{\"cpuid_modifiers\":[{\"leaf\":4294967296,\"modifiers\":[]}]}", "leaf");
	expect_bad("{\"cpuid_modifiers\":[{\"leaf\":\"0x100000000\",\"modifiers\":[]}]}", "leaf");
	expect_bad("{\"cpuid_modifiers\":[{\"leaf\":\"0x1g\",\"modifiers\":[]}]}", "leaf");
	expect_bad("{\"cpuid_modifiers\":[{\"leaf\":\"\",\"modifiers\":[]}]}", "leaf");
	expect_bad("{\"cpuid_modifiers\":[{\"leaf\":\"-1\",\"modifiers\":[]}]}", "leaf");
	expect_bad("{\"cpuid_modifiers\":[{\"leaf\":\"0b102\",\"modifiers\":[]}]}", "leaf");
	expect_bad("{\"cpuid_modifiers\":[{\"leaf\":\"0b\",\"modifiers\":[]}]}", "leaf");
	expect_bad("{\"cpuid_modifiers\":[{\"leaf\":1,\"subleaf\":\"x\",\"modifiers\":[]}]}",
		   "subleaf");
	expect_bad("{\"cpuid_modifiers\":[{\"leaf\":1,\"flags\":\"one\",\"modifiers\":[]}]}",
		   "flags");
	/* modifiers */
	expect_bad("{\"cpuid_modifiers\":[{\"leaf\":1}]}", "modifiers");
	expect_bad("{\"cpuid_modifiers\":[{\"leaf\":1,\"modifiers\":{}}]}", "modifiers");
	expect_bad("{\"cpuid_modifiers\":[{\"leaf\":1,\"modifiers\":[\"eax\"]}]}",
		   "cpuid_modifiers[0]");
	expect_bad_cpuid_mod("0", "\"0b1\"", "register");
	expect_bad("{\"cpuid_modifiers\":[{\"leaf\":1,\"modifiers\":[{\"bitmap\":\"0b1\"}]}]}",
		   "register");
	expect_bad("{\"cpuid_modifiers\":[{\"leaf\":1,\"modifiers\":[{\"register\":\"eax\"}]}]}",
		   "bitmap");
	expect_bad_cpuid_mod("\"eax\"", "1", "bitmap");
	expect_bad_cpuid_mod("\"eax\"", "null", "bitmap");
	/* MSRs */
	expect_bad("{\"msr_modifiers\":[{\"bitmap\":\"0b1\"}]}", "addr");
	expect_bad_msr("{}", "\"0b1\"", "addr");
	expect_bad_msr("\"0x100000000\"", "\"0b1\"", "addr");
	expect_bad_msr("\"msr\"", "\"0b1\"", "addr");
	expect_bad("{\"msr_modifiers\":[{\"addr\":\"0x10a\"}]}", "bitmap");
	expect_bad_msr("\"0x10a\"", "0", "bitmap");
}

static void test_parse_registers(void **state)
{
	(void)state;
	expect_bad_cpuid_mod("\"rax\"", "\"0b1\"", "eax/ebx/ecx/edx");
	expect_bad_cpuid_mod("\"\"", "\"0b1\"", "eax/ebx/ecx/edx");
	expect_bad_cpuid_mod("\"eex\"", "\"0b1\"", "eax/ebx/ecx/edx");
	expect_bad_cpuid_mod("\"eax \"", "\"0b1\"", "eax/ebx/ecx/edx");
	expect_bad_cpuid_mod("\"ea\"", "\"0b1\"", "eax/ebx/ecx/edx");
	expect_bad_cpuid_mod("\"esi\"", "\"0b1\"", "eax/ebx/ecx/edx");
}

static void test_parse_bitmaps(void **state)
{
	char b[200];
	struct cpu_template t;

	(void)state;
	/* prefix and characters */
	expect_bad_cpuid_mod("\"eax\"", "\"1010\"", "0b");
	expect_bad_cpuid_mod("\"eax\"", "\"0x1010\"", "0b");
	expect_bad_cpuid_mod("\"eax\"", "\"0b\"", "empty");
	expect_bad_cpuid_mod("\"eax\"", "\"0b____\"", "empty");
	expect_bad_cpuid_mod("\"eax\"", "\"0b102\"", "'2'");
	expect_bad_cpuid_mod("\"eax\"", "\"0b1 0\"", "' '");
	expect_bad_cpuid_mod("\"eax\"", "\"0bxy\"", "'y'");
	expect_bad_cpuid_mod("\"eax\"", "\"0b-1\"", "'-'");

	/* CPUID registers: 32 digits at most, underscores do not count */
	strcpy(b, "\"0b");
	memset(b + 3, 'x', 33);
	strcpy(b + 36, "\"");
	expect_bad_cpuid_mod("\"ecx\"", b, "longer than 32 bits");
	memset(b + 3, '1', 33);
	expect_bad_cpuid_mod("\"ecx\"", b, "longer than 32 bits");
	strcpy(b, "\"0b1111_0000_1111_0000_1111_0000_1111_0000_1\"");
	expect_bad_cpuid_mod("\"ecx\"", b, "longer than 32 bits");
	strcpy(b, "{\"cpuid_modifiers\":[{\"leaf\":1,\"modifiers\":[{\"register\":\"ecx\","
		  "\"bitmap\":\"0b1111_0000_1111_0000_1111_0000_1111_000x\"}]}]}");
	assert_int_equal(cpu_template_parse(b, &t), 0);
	assert_int_equal(t.cpuid[0].and_mask, 1);
	assert_int_equal(t.cpuid[0].or_mask, 0xf0f0f0f0);
	cpu_template_free(&t);
	/* upper-case X is accepted as "keep" */
	strcpy(b, "{\"cpuid_modifiers\":[{\"leaf\":1,\"modifiers\":[{\"register\":\"ecx\","
		  "\"bitmap\":\"0bX1\"}]}]}");
	assert_int_equal(cpu_template_parse(b, &t), 0);
	assert_int_equal(t.cpuid[0].and_mask, 0xfffffffe);
	assert_int_equal(t.cpuid[0].or_mask, 1);
	cpu_template_free(&t);

	/* MSRs: 64 digits at most */
	strcpy(b, "\"0b");
	memset(b + 3, '1', 64);
	strcpy(b + 67, "\"");
	{
		char json[300];
		snprintf(json, sizeof(json),
			 "{\"msr_modifiers\":[{\"addr\":\"0x10a\",\"bitmap\":%s}]}", b);
		assert_int_equal(cpu_template_parse(json, &t), 0);
		assert_int_equal(t.msrs[0].and_mask, 0);
		assert_int_equal(t.msrs[0].or_mask, UINT64_MAX);
		cpu_template_free(&t);
	}
	strcpy(b, "\"0b");
	memset(b + 3, 'x', 65);
	strcpy(b + 68, "\"");
	expect_bad_msr("\"0x10a\"", b, "longer than 64 bits");
	expect_bad_msr("\"0x10a\"", "\"0b12\"", "'2'");
	expect_bad_msr("\"0x10a\"", "\"0b\"", "empty");
	expect_bad_msr("\"0x10a\"", "\"11\"", "0b");
}

/* ------------------------------------------------------------ application */

#define F_IDX KVM_CPUID_FLAG_SIGNIFCANT_INDEX

struct ent {
	uint32_t fn, idx, flags, eax, ebx, ecx, edx;
};

/* A plausible Intel host as KVM_GET_SUPPORTED_CPUID reports it, with junk in
 * the fields ember must rewrite. */
static const struct ent host[] = {
    {0x0, 0, 0, 0x1f, 0x756e6547, 0x6c65746e, 0x49656e69},
    {0x1, 0, 0, 0x000906ea, 0xabcd0800, 0x7ffafbff & ~(1U << 31), 0x0fabfbff & ~(1U << 28)},
    {0x4, 0, F_IDX, 0xfc004121, 0x01c0003f, 0x3f, 0},	/* L1d */
    {0x4, 1, F_IDX, 0xfc004122, 0x01c0003f, 0x3f, 0},	/* L1i */
    {0x4, 2, F_IDX, 0xfc01c143, 0x03c0003f, 0x3ff, 0},	/* L2 */
    {0x4, 3, F_IDX, 0xfc3fc163, 0x02c0003f, 0x3fff, 6}, /* L3 */
    {0x4, 4, F_IDX, 0xfc000000, 0, 0, 0},		/* no more caches */
    {0x6, 0, 0, 0x4, 0, 0x9, 0},
    {0x7, 0, F_IDX, 0, 0xd19f4fbb, 0x0040069c, 0xbc000400},
    {0xa, 0, 0, 0x07300404, 0, 0, 0x603},
    {0xb, 0, F_IDX, 1, 2, 0x100, 0x55},
    {0xb, 1, F_IDX, 4, 12, 0x201, 0x55},
    {0xb, 2, F_IDX, 0, 0, 2, 0x55},
    {0xd, 0, F_IDX, 0x7, 0x340, 0x340, 0},
    {0xd, 1, F_IDX, 0xf, 0x340, 0, 0},
    {0x80000000, 0, 0, 0x80000008, 0, 0, 0},
    {0x80000001, 0, 0, 0, 0, 0x121, 0x2c100800},
    {0x80000008, 0, 0, 0x3027, 0, 0xa5a5f0f7, 0},
};
#define NHOST (sizeof(host) / sizeof(host[0]))

static struct kvm_cpuid2 *make_cpuid(void)
{
	struct kvm_cpuid2 *c = calloc(1, sizeof(*c) + NHOST * sizeof(struct kvm_cpuid_entry2));

	assert_non_null(c);
	c->nent = NHOST;
	for (size_t i = 0; i < NHOST; i++)
		c->entries[i] = (struct kvm_cpuid_entry2){
		    .function = host[i].fn,
		    .index = host[i].idx,
		    .flags = host[i].flags,
		    .eax = host[i].eax,
		    .ebx = host[i].ebx,
		    .ecx = host[i].ecx,
		    .edx = host[i].edx,
		};
	return c;
}

static struct kvm_cpuid_entry2 *find(struct kvm_cpuid2 *c, uint32_t fn, uint32_t idx)
{
	for (uint32_t i = 0; i < c->nent; i++)
		if (c->entries[i].function == fn && c->entries[i].index == idx)
			return &c->entries[i];
	fail_msg("leaf %#x.%u missing", fn, idx);
	return NULL;
}

static const struct ent *host_ent(uint32_t fn, uint32_t idx)
{
	for (size_t i = 0; i < NHOST; i++)
		if (host[i].fn == fn && host[i].idx == idx)
			return &host[i];
	return NULL;
}

static int order(int n)
{
	int s = 0;

	while ((1 << s) < n)
		s++;
	return s;
}

static void check_topology(int ncpus)
{
	for (int id = 0; id < ncpus; id++) {
		struct kvm_cpuid2 *c = make_cpuid();
		struct kvm_cpuid_entry2 *e;
		const struct ent *h;

		assert_int_equal(cpuid_setup_vcpu(c, id, ncpus, false, NULL), 0);
		assert_int_equal(c->nent, NHOST);

		/* leaf 1: initial APIC id, logical count, hypervisor, HTT */
		e = find(c, 1, 0);
		h = host_ent(1, 0);
		assert_int_equal(e->ebx >> 24, (uint32_t)id);
		assert_int_equal((e->ebx >> 16) & 0xff, (uint32_t)ncpus);
		assert_int_equal(e->ebx & 0xffff, h->ebx & 0xffff); /* CLFLUSH size, brand */
		assert_int_equal(e->eax, h->eax);
		assert_true(e->ecx & (1U << 31));
		assert_int_equal(e->ecx & ~(1U << 31), h->ecx);
		assert_int_equal(!!(e->edx & (1U << 28)), ncpus > 1);
		assert_int_equal(e->edx & ~(1U << 28), h->edx);

		/* leaf 4: cores per package and cache sharing; low bits kept */
		for (uint32_t sub = 0; sub < 4; sub++) {
			e = find(c, 4, sub);
			h = host_ent(4, sub);
			uint32_t level = (h->eax >> 5) & 7;
			assert_int_equal(e->eax >> 26, (uint32_t)((1 << order(ncpus)) - 1));
			assert_int_equal((e->eax >> 14) & 0xfff,
					 level >= 3 ? (uint32_t)ncpus - 1 : 0);
			assert_int_equal(e->eax & 0x3fff, h->eax & 0x3fff);
			assert_int_equal(e->ebx, h->ebx);
			assert_int_equal(e->ecx, h->ecx);
		}
		e = find(c, 4, 4);
		assert_int_equal(e->eax, host_ent(4, 4)->eax); /* terminator untouched */

		/* leaf 0xb: x2APIC id everywhere, one thread per core */
		for (uint32_t sub = 0; sub < 3; sub++)
			assert_int_equal(find(c, 0xb, sub)->edx, (uint32_t)id);
		e = find(c, 0xb, 0);
		assert_int_equal(e->eax, 0);
		assert_int_equal(e->ebx, 1);
		assert_int_equal(e->ecx, 0x100); /* level 0, type SMT */
		e = find(c, 0xb, 1);
		assert_int_equal(e->eax, (uint32_t)order(ncpus));
		assert_int_equal(e->ebx, (uint32_t)ncpus);
		assert_int_equal(e->ecx, 0x201);	  /* level 1, type core */
		assert_true((uint32_t)id >> e->eax == 0); /* one package */
		e = find(c, 0xb, 2);
		assert_int_equal(e->eax, 0);
		assert_int_equal(e->ebx, 0);
		assert_int_equal(e->ecx, 2); /* invalid level */

		/* AMD core count, no PMU, no EPB */
		e = find(c, 0x80000008, 0);
		assert_int_equal(e->ecx & 0xff, (uint32_t)ncpus - 1);
		assert_int_equal((e->ecx >> 12) & 0xf, (uint32_t)order(ncpus));
		assert_int_equal(e->ecx & ~0xf0ffU, host_ent(0x80000008, 0)->ecx & ~0xf0ffU);
		e = find(c, 0xa, 0);
		assert_int_equal(e->eax | e->ebx | e->ecx | e->edx, 0);
		assert_int_equal(find(c, 6, 0)->ecx, 0x9 & ~0x8U);

		/* untouched leaves */
		e = find(c, 7, 0);
		assert_int_equal(e->ebx, host_ent(7, 0)->ebx);
		assert_int_equal(find(c, 0, 0)->ebx, 0x756e6547);
		free(c);
	}
}

static void test_topology_1(void **state)
{
	(void)state;
	check_topology(1);
}

static void test_topology_2(void **state)
{
	(void)state;
	check_topology(2);
}

static void test_topology_3(void **state)
{
	(void)state;
	check_topology(3);
}

static void test_topology_32(void **state)
{
	(void)state;
	check_topology(32);
}

/* smt: two threads per core; APIC id = core << 1 | thread */
static void test_topology_smt(void **state)
{
	(void)state;
	for (int id = 0; id < 4; id++) {
		struct kvm_cpuid2 *c = make_cpuid();
		struct kvm_cpuid_entry2 *e;

		assert_int_equal(cpuid_setup_vcpu(c, id, 4, true, NULL), 0);
		e = find(c, 0xb, 0); /* SMT level: 2 threads, shift 1 */
		assert_int_equal(e->eax, 1);
		assert_int_equal(e->ebx, 2);
		assert_int_equal(e->ecx, 0x100);
		assert_int_equal(e->edx, (uint32_t)id);
		e = find(c, 0xb, 1); /* core level: 4 logical CPUs, shift 2 */
		assert_int_equal(e->eax, 2);
		assert_int_equal(e->ebx, 4);
		assert_int_equal(e->ecx, 0x201);
		for (uint32_t sub = 0; sub < 4; sub++) {
			uint32_t level = (host_ent(4, sub)->eax >> 5) & 7;
			e = find(c, 4, sub);
			assert_int_equal(e->eax >> 26, 1); /* two cores */
			assert_int_equal((e->eax >> 14) & 0xfff, level >= 3 ? 3 : 1);
		}
		assert_int_equal(find(c, 1, 0)->ebx >> 24, (uint32_t)id);
		free(c);
	}
}

static void test_bad_vcpu_args(void **state)
{
	struct kvm_cpuid2 *c = make_cpuid();

	(void)state;
	assert_int_equal(cpuid_setup_vcpu(c, -1, 1, false, NULL), -EINVAL);
	assert_int_equal(cpuid_setup_vcpu(c, 1, 1, false, NULL), -EINVAL);
	assert_int_equal(cpuid_setup_vcpu(c, 0, 0, false, NULL), -EINVAL);
	assert_int_equal(cpuid_setup_vcpu(c, 0, 256, false, NULL), -EINVAL);
	/* nothing was changed by the refused calls */
	assert_int_equal(find(c, 1, 0)->ebx, host_ent(1, 0)->ebx);
	free(c);
}

static void test_template_hides_cx16(void **state)
{
	struct cpu_template t;
	struct kvm_cpuid2 *c = make_cpuid(), *plain = make_cpuid();
	char json[256];

	(void)state;
	snprintf(json, sizeof(json),
		 "{\"cpuid_modifiers\":[{\"leaf\":\"0x1\",\"subleaf\":\"0x0\",\"flags\":0,"
		 "\"modifiers\":[{\"register\":\"ecx\",\"bitmap\":\"%s\"}]}]}",
		 bitmap32(13, '0'));
	assert_int_equal(cpu_template_parse(json, &t), 0);
	assert_true(host_ent(1, 0)->ecx & (1U << 13)); /* the host has CX16 */
	assert_int_equal(cpuid_setup_vcpu(c, 1, 2, false, &t), 0);
	assert_int_equal(cpuid_setup_vcpu(plain, 1, 2, false, NULL), 0);
	assert_false(find(c, 1, 0)->ecx & (1U << 13));
	/* every other bit (incl. the hypervisor bit) is as without a template */
	assert_int_equal(find(c, 1, 0)->ecx, find(plain, 1, 0)->ecx & ~(1U << 13));
	for (uint32_t i = 0; i < c->nent; i++) {
		if (c->entries[i].function == 1)
			continue;
		assert_memory_equal(&c->entries[i], &plain->entries[i], sizeof(c->entries[i]));
	}
	cpu_template_free(&t);
	free(c);
	free(plain);
}

static void test_template_registers_and_subleaves(void **state)
{
	struct cpu_template t;
	struct kvm_cpuid2 *c = make_cpuid(), *plain = make_cpuid();
	char json[1024];

	(void)state;
	/* set bit 0 of eax, clear bit 1 of ebx, set bit 31 of edx in 7.0; set
	 * bit 5 of ecx only in 0xd subleaf 1; 0x80000001 without subleaf */
	snprintf(json, sizeof(json),
		 "{\"cpuid_modifiers\":["
		 "{\"leaf\":\"0x7\",\"subleaf\":\"0x0\",\"flags\":1,\"modifiers\":["
		 "{\"register\":\"eax\",\"bitmap\":\"0b1\"},"
		 "{\"register\":\"ebx\",\"bitmap\":\"0b0x\"},"
		 "{\"register\":\"edx\",\"bitmap\":\"%s\"}]},"
		 "{\"leaf\":\"0xd\",\"subleaf\":\"0x1\",\"flags\":1,\"modifiers\":["
		 "{\"register\":\"ecx\",\"bitmap\":\"0b1_00000\"}]},"
		 "{\"leaf\":\"0x80000001\",\"modifiers\":["
		 "{\"register\":\"edx\",\"bitmap\":\"0b0000_0000_0000_0000_0000_0000_0000_0000\"}]}"
		 "]}",
		 bitmap32(31, '1'));
	assert_int_equal(cpu_template_parse(json, &t), 0);
	assert_int_equal(cpuid_setup_vcpu(c, 0, 1, false, &t), 0);
	assert_int_equal(cpuid_setup_vcpu(plain, 0, 1, false, NULL), 0);

	assert_int_equal(find(c, 7, 0)->eax, find(plain, 7, 0)->eax | 1);
	assert_int_equal(find(c, 7, 0)->ebx, find(plain, 7, 0)->ebx & ~2U);
	assert_int_equal(find(c, 7, 0)->ecx, find(plain, 7, 0)->ecx);
	assert_int_equal(find(c, 7, 0)->edx, find(plain, 7, 0)->edx | 0x80000000U);
	/* subleaf 1 of 0xd only; ecx bits 4..0 cleared, bit 5 set */
	assert_int_equal(find(c, 0xd, 1)->ecx, (find(plain, 0xd, 1)->ecx & ~0x3fU) | 0x20);
	assert_int_equal(find(c, 0xd, 0)->ecx, find(plain, 0xd, 0)->ecx);
	assert_int_equal(find(c, 0x80000001, 0)->edx, 0);
	assert_int_equal(find(c, 0x80000001, 0)->ecx, find(plain, 0x80000001, 0)->ecx);
	cpu_template_free(&t);
	free(c);
	free(plain);
}

static void test_template_overrides_topology(void **state)
{
	struct cpu_template t;
	struct kvm_cpuid2 *c = make_cpuid();
	char json[256];

	(void)state;
	/* the template is applied last: a user can clear the hypervisor bit */
	snprintf(json, sizeof(json),
		 "{\"cpuid_modifiers\":[{\"leaf\":1,\"modifiers\":[{\"register\":\"ecx\","
		 "\"bitmap\":\"%s\"}]}]}",
		 bitmap32(31, '0'));
	assert_int_equal(cpu_template_parse(json, &t), 0);
	assert_int_equal(cpuid_setup_vcpu(c, 0, 1, false, &t), 0);
	assert_false(find(c, 1, 0)->ecx & (1U << 31));
	cpu_template_free(&t);
	free(c);
}

static void test_template_absent_leaf(void **state)
{
	static const char *const cases[][2] = {
	    {"{\"cpuid_modifiers\":[{\"leaf\":\"0x40000000\",\"modifiers\":[{\"register\":"
	     "\"eax\",\"bitmap\":\"0b1\"}]}]}",
	     "0x40000000"},
	    {"{\"cpuid_modifiers\":[{\"leaf\":\"0x4\",\"subleaf\":\"0x9\",\"flags\":1,"
	     "\"modifiers\":[{\"register\":\"eax\",\"bitmap\":\"0b1\"}]}]}",
	     "0x9"},
	    {"{\"cpuid_modifiers\":[{\"leaf\":\"0x8000001f\",\"modifiers\":[{\"register\":"
	     "\"eax\",\"bitmap\":\"0b1\"}]}]}",
	     "0x8000001f"},
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct cpu_template t;
		struct kvm_cpuid2 *c = make_cpuid();

		assert_int_equal(cpu_template_parse(cases[i][0], &t), 0);
		err_clear();
		assert_int_equal(cpuid_setup_vcpu(c, 0, 1, false, &t), -EINVAL);
		if (!strstr(err_msg(), cases[i][1]) || !strstr(err_msg(), "leaf"))
			fail_msg("error \"%s\" does not name leaf/subleaf %s", err_msg(),
				 cases[i][1]);
		cpu_template_free(&t);
		free(c);
	}
}

/* ------------------------------------------------- static CPU templates */

static uint32_t reg_val(const struct kvm_cpuid_entry2 *e, int reg)
{
	return reg == 0 ? e->eax : reg == 1 ? e->ebx : reg == 2 ? e->ecx : e->edx;
}

/* Every static template applies to an Intel-like KVM CPUID: the bits it
 * names take its value, all others stay as without a template. */
static void test_static_apply(void **state)
{
	static const char *const names[] = {"C3", "T2", "T2S", "T2CL", "T2A"};

	(void)state;
	for (size_t n = 0; n < sizeof(names) / sizeof(names[0]); n++) {
		struct cpu_template t;
		struct kvm_cpuid2 *c = make_cpuid(), *plain = make_cpuid();

		assert_int_equal(cpu_template_static(names[n], &t), 0);
		assert_true(t.ncpuid >= 10);
		assert_int_equal(cpuid_setup_vcpu(c, 0, 2, false, &t), 0);
		assert_int_equal(cpuid_setup_vcpu(plain, 0, 2, false, NULL), 0);
		for (int m = 0; m < t.ncpuid; m++) {
			const struct cpuid_modifier *mod = &t.cpuid[m];
			uint32_t got = reg_val(find(c, mod->leaf, mod->subleaf), mod->reg);
			uint32_t was = reg_val(find(plain, mod->leaf, mod->subleaf), mod->reg);

			assert_int_equal(mod->or_mask & mod->and_mask, 0);
			assert_int_equal(got, (was & mod->and_mask) | mod->or_mask);
		}
		/* a subleaf-specific row does not touch the other subleaf */
		assert_int_equal(find(c, 0xd, 0)->ebx, find(plain, 0xd, 0)->ebx);
		/* the hypervisor bit and the APIC id survive every template */
		assert_true(find(c, 1, 0)->ecx & (1U << 31));
		assert_int_equal(find(c, 1, 0)->ebx >> 24, 0);
		cpu_template_free(&t);
		free(c);
		free(plain);
	}
}

/* What the guest sees, feature by feature (facts from Firecracker's
 * template documentation, checked without the tables). */
static void test_static_features(void **state)
{
	struct cpu_template t;
	struct kvm_cpuid2 *c;

	(void)state;
	/* T2: Haswell-like signature (family 6, model 0x3f, stepping 2); no VMX,
	 * no AVX-512F, no SHA; AVX2 and CX16 stay; ERMS is set */
	c = make_cpuid();
	assert_int_equal(cpu_template_static("T2", &t), 0);
	assert_int_equal(cpuid_setup_vcpu(c, 0, 1, false, &t), 0);
	assert_int_equal(find(c, 1, 0)->eax & 0x0fff3fff, 0x000306f2);
	assert_false(find(c, 1, 0)->ecx & (1U << 5));		/* VMX */
	assert_true(find(c, 1, 0)->ecx & (1U << 13));		/* CX16 */
	assert_true(find(c, 1, 0)->ecx & (1U << 22));		/* MOVBE */
	assert_false(find(c, 7, 0)->ebx & (1U << 16));		/* AVX512F */
	assert_false(find(c, 7, 0)->ebx & (1U << 29));		/* SHA */
	assert_true(find(c, 7, 0)->ebx & (1U << 5));		/* AVX2 */
	assert_true(find(c, 7, 0)->ebx & (1U << 9));		/* ERMS */
	assert_false(find(c, 0x80000001, 0)->edx & (1U << 26)); /* 1 GiB pages */
	assert_int_equal(t.nmsrs, 0);
	cpu_template_free(&t);
	free(c);
	/* C3: Ivy Bridge-like signature 0x306e4, no MOVBE, no AVX2 */
	c = make_cpuid();
	assert_int_equal(cpu_template_static("C3", &t), 0);
	assert_int_equal(cpuid_setup_vcpu(c, 0, 1, false, &t), 0);
	assert_int_equal(find(c, 1, 0)->eax & 0x0fff3fff, 0x000306e4);
	assert_false(find(c, 1, 0)->ecx & (1U << 22)); /* MOVBE */
	assert_false(find(c, 7, 0)->ebx & (1U << 5));  /* AVX2 */
	cpu_template_free(&t);
	free(c);
	/* T2S: IA32_ARCH_CAPABILITIES is one fixed value */
	assert_int_equal(cpu_template_static("T2S", &t), 0);
	assert_int_equal(t.nmsrs, 1);
	assert_int_equal(t.msrs[0].addr, 0x10a);
	assert_int_equal(t.msrs[0].and_mask, 0);
	assert_int_equal(t.msrs[0].or_mask, 0x0c0a0c4c);
	cpu_template_free(&t);
	/* T2CL: IA32_ARCH_CAPABILITIES keeps only some host bits, sets none */
	assert_int_equal(cpu_template_static("T2CL", &t), 0);
	assert_int_equal(t.nmsrs, 1);
	assert_int_equal(t.msrs[0].addr, 0x10a);
	assert_int_equal(t.msrs[0].or_mask, 0);
	assert_true(t.msrs[0].and_mask & 1);		 /* RDCL_NO kept */
	assert_false(t.msrs[0].and_mask & (1ULL << 32)); /* high bits read 0 */
	cpu_template_free(&t);
	/* T2A: the speculation-control bits of 0x80000008 EBX are fixed */
	c = make_cpuid();
	assert_int_equal(cpu_template_static("T2A", &t), 0);
	assert_int_equal(cpuid_setup_vcpu(c, 0, 1, false, &t), 0);
	assert_int_equal(find(c, 0x80000008, 0)->ebx & 0x001c0205, 0x001c0004);
	cpu_template_free(&t);
	free(c);
}

static void test_static_names(void **state)
{
	struct cpu_template t;

	(void)state;
	assert_int_equal(cpu_template_static_vendor("T2"), CPU_VENDOR_INTEL);
	assert_int_equal(cpu_template_static_vendor("T2S"), CPU_VENDOR_INTEL);
	assert_int_equal(cpu_template_static_vendor("T2CL"), CPU_VENDOR_INTEL);
	assert_int_equal(cpu_template_static_vendor("C3"), CPU_VENDOR_INTEL);
	assert_int_equal(cpu_template_static_vendor("T2A"), CPU_VENDOR_AMD);
	assert_int_equal(cpu_template_static_vendor("V1N1"), -EINVAL);
	assert_int_equal(cpu_template_static_vendor("None"), -EINVAL);
	assert_int_equal(cpu_template_static_vendor(NULL), -EINVAL);
	memset(&t, 0x5a, sizeof(t));
	assert_int_equal(cpu_template_static("t2", &t), -EINVAL);
	assert_null(t.cpuid);
	assert_int_equal(t.ncpuid, 0);
	/* the CPU models Firecracker lists (leaf 1 EAX, reserved bits ignored) */
	assert_true(cpu_template_static_model_listed("T2", 0x00050654));
	assert_true(cpu_template_static_model_listed("T2CL", 0xf00606a6));
	assert_false(cpu_template_static_model_listed("T2CL", 0x00050654));
	assert_true(cpu_template_static_model_listed("T2A", 0x00a00f11));
	assert_false(cpu_template_static_model_listed("T2", 0x000a0671));
	assert_false(cpu_template_static_model_listed("V1N1", 0x00050654));
}

/* AMD: TOPOEXT (0x80000001 ECX 22) announces leaf 0x8000001e, where Linux
 * reads the threads per core (smt); set where that leaf exists, as
 * Firecracker's AMD normalization does, never on Intel. */
static void test_amd_topoext(void **state)
{
	(void)state;
	for (int variant = 0; variant < 3; variant++) {
		bool amd = variant != 2, ext = variant != 1;
		struct kvm_cpuid2 *c = calloc(1, sizeof(*c) + 3 * sizeof(struct kvm_cpuid_entry2));

		assert_non_null(c);
		c->nent = ext ? 3 : 2;
		c->entries[0] = (struct kvm_cpuid_entry2){.function = 0, .eax = 0x10};
		if (amd) {
			c->entries[0].ebx = 0x68747541;
			c->entries[0].edx = 0x69746e65;
			c->entries[0].ecx = 0x444d4163;
		} else {
			c->entries[0].ebx = 0x756e6547;
			c->entries[0].edx = 0x49656e69;
			c->entries[0].ecx = 0x6c65746e;
		}
		c->entries[1] = (struct kvm_cpuid_entry2){.function = 0x80000001, .ecx = 0x1};
		c->entries[2] = (struct kvm_cpuid_entry2){.function = 0x8000001e};
		assert_int_equal(cpuid_setup_vcpu(c, 1, 2, true, NULL), 0);
		if (amd && ext) {
			assert_int_equal(c->entries[1].ecx, 0x1 | (1U << 22));
			/* vCPU 1 = thread 1 of core 0: two threads per core */
			assert_int_equal(c->entries[2].eax, 1);
			assert_int_equal((c->entries[2].ebx >> 8) & 0xff, 1);
			assert_int_equal(c->entries[2].ebx & 0xff, 0);
		} else {
			assert_int_equal(c->entries[1].ecx, 0x1);
		}
		free(c);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_parse_good),
	    cmocka_unit_test(test_parse_numbers),
	    cmocka_unit_test(test_parse_empty),
	    cmocka_unit_test(test_parse_many),
	    cmocka_unit_test(test_parse_invalid_json),
	    cmocka_unit_test(test_parse_unknown_fields),
	    cmocka_unit_test(test_parse_wrong_types),
	    cmocka_unit_test(test_parse_registers),
	    cmocka_unit_test(test_parse_bitmaps),
	    cmocka_unit_test(test_topology_1),
	    cmocka_unit_test(test_topology_2),
	    cmocka_unit_test(test_topology_3),
	    cmocka_unit_test(test_topology_32),
	    cmocka_unit_test(test_topology_smt),
	    cmocka_unit_test(test_bad_vcpu_args),
	    cmocka_unit_test(test_template_hides_cx16),
	    cmocka_unit_test(test_template_registers_and_subleaves),
	    cmocka_unit_test(test_template_overrides_topology),
	    cmocka_unit_test(test_template_absent_leaf),
	    cmocka_unit_test(test_static_apply),
	    cmocka_unit_test(test_static_features),
	    cmocka_unit_test(test_static_names),
	    cmocka_unit_test(test_amd_topoext),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
