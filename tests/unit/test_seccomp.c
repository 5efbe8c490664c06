/* Seccomp: the JSON filter-file parser (good and bad files, error messages
 * naming the field), the built-in filters (compile, JSON round trip, the
 * committed resources/seccomp/x86_64.json, boot filter ⊇ vmm + vcpu), and
 * real installs in forked children (allowed calls work, others kill), the
 * libc paths made safe before the filters (allocator trim on a filtered
 * thread's exit, qsort, random bytes) and report mode (EMBER_SECCOMP_REPORT). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <linux/kvm.h>
#include <seccomp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <pthread.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "ember/error.h"
#include "ember/log.h"
#include "ember/seccomp.h"
#include "ember/util.h"

#define DEFAULT_JSON "resources/seccomp/x86_64.json"

/* A file with one small filter per kind; "%s" slots replace one kind's
 * filter body when given. */
static char *doc(const char *vmm, const char *api, const char *vcpu)
{
	static const char *const dflt =
	    "{\"default_action\": \"kill_process\", \"filter_action\": \"allow\", "
	    "\"filter\": [{\"syscall\": \"read\"}]}";
	size_t n =
	    64 + strlen(vmm ? vmm : dflt) + strlen(api ? api : dflt) + strlen(vcpu ? vcpu : dflt);
	char *s = malloc(n);

	assert_non_null(s);
	snprintf(s, n, "{\"vmm\": %s, \"api\": %s, \"vcpu\": %s}", vmm ? vmm : dflt,
		 api ? api : dflt, vcpu ? vcpu : dflt);
	return s;
}

static int parse(const char *text, struct seccomp_policy *p)
{
	err_clear();
	return seccomp_json_parse(text, strlen(text), p);
}

/* text must be refused with a message containing every needle. */
static void expect_bad(const char *text, const char *needle1, const char *needle2)
{
	struct seccomp_policy p;

	if (parse(text, &p) == 0) {
		seccomp_policy_free(&p);
		fail_msg("accepted: %s", text);
	}
	if (!strstr(err_msg(), needle1) || (needle2 && !strstr(err_msg(), needle2)))
		fail_msg("message '%s' lacks '%s'%s%s for: %s", err_msg(), needle1,
			 needle2 ? " / " : "", needle2 ? needle2 : "", text);
	for (int k = 0; k < SECCOMP_THREAD_KINDS; k++)
		assert_null(p.filters[k].rules); /* nothing left allocated */
}

/* The vcpu filter body with one rule. */
static void expect_bad_rule(const char *rule, const char *needle1, const char *needle2)
{
	char body[1024];
	char *s;

	snprintf(body, sizeof(body),
		 "{\"default_action\": \"trap\", \"filter_action\": \"allow\", \"filter\": [%s]}",
		 rule);
	s = doc(NULL, NULL, body);
	expect_bad(s, needle1, needle2);
	free(s);
}

static void test_parse_minimal(void **state)
{
	struct seccomp_policy p;
	char *s =
	    doc(NULL,
		"{\"default_action\": {\"errno\": 1}, \"filter_action\": \"allow\", "
		"\"comment\": \"x\", \"filter\": []}",
		"{\"default_action\": \"trap\", \"filter_action\": \"log\", \"filter\": ["
		"{\"syscall\": \"ioctl\", \"comment\": \"KVM_RUN\", \"args\": [{\"index\": 1, "
		"\"type\": \"dword\", \"op\": \"eq\", \"val\": 44672, \"comment\": \"KVM_RUN\"}]},"
		"{\"syscall\": \"mmap\", \"args\": [{\"arg_index\": 2, \"arg_type\": \"qword\", "
		"\"op\": {\"masked_eq\": 4}, \"val\": 0}, {\"index\": 5, \"type\": \"qword\", "
		"\"op\": \"ge\", \"val\": 9007199254740992}]}]}");

	(void)state;
	assert_int_equal(parse(s, &p), 0);
	free(s);
	assert_int_equal(p.filters[SECCOMP_THREAD_VMM].default_action, SCMP_ACT_KILL_PROCESS);
	assert_int_equal(p.filters[SECCOMP_THREAD_VMM].nrules, 1);
	assert_int_equal(p.filters[SECCOMP_THREAD_VMM].rules[0].nr, SCMP_SYS(read));
	assert_int_equal(p.filters[SECCOMP_THREAD_API].default_action, SCMP_ACT_ERRNO(1));
	assert_int_equal(p.filters[SECCOMP_THREAD_API].nrules, 0);
	const struct seccomp_filter *v = &p.filters[SECCOMP_THREAD_VCPU];
	assert_int_equal(v->default_action, SCMP_ACT_TRAP);
	assert_int_equal(v->filter_action, SCMP_ACT_LOG);
	assert_int_equal(v->nrules, 2);
	assert_int_equal(v->rules[0].nr, SCMP_SYS(ioctl));
	assert_int_equal(v->rules[0].nconds, 1);
	assert_int_equal(v->rules[0].conds[0].index, 1);
	assert_false(v->rules[0].conds[0].qword);
	assert_int_equal(v->rules[0].conds[0].op, SECCOMP_OP_EQ);
	assert_int_equal(v->rules[0].conds[0].val, KVM_RUN);
	assert_int_equal(v->rules[1].nconds, 2);
	assert_int_equal(v->rules[1].conds[0].op, SECCOMP_OP_MASKED_EQ);
	assert_int_equal(v->rules[1].conds[0].mask, 4);
	assert_true(v->rules[1].conds[0].qword);
	assert_int_equal(v->rules[1].conds[1].op, SECCOMP_OP_GE);
	assert_true(v->rules[1].conds[1].val == 9007199254740992ULL);
	for (int k = 0; k < SECCOMP_THREAD_KINDS; k++)
		assert_int_equal(seccomp_compile(&p.filters[k], NULL, NULL), 0);
	seccomp_policy_free(&p);
}

static void test_parse_actions(void **state)
{
	static const struct {
		const char *json;
		uint32_t action;
	} ok[] = {
	    {"\"allow\"", SCMP_ACT_ALLOW},
	    {"\"kill_process\"", SCMP_ACT_KILL_PROCESS},
	    {"\"kill_thread\"", SCMP_ACT_KILL_THREAD},
	    {"\"kill\"", SCMP_ACT_KILL_PROCESS},
	    {"\"trap\"", SCMP_ACT_TRAP},
	    {"\"log\"", SCMP_ACT_LOG},
	    {"{\"errno\": 38}", SCMP_ACT_ERRNO(38)},
	    {"{\"trace\": 7}", SCMP_ACT_TRACE(7)},
	};
	char body[256];

	(void)state;
	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		struct seccomp_policy p;
		char *s;

		snprintf(body, sizeof(body),
			 "{\"default_action\": %s, \"filter_action\": %s, \"filter\": []}",
			 ok[i].json, ok[i].action == SCMP_ACT_ALLOW ? "\"trap\"" : "\"allow\"");
		s = doc(body, NULL, NULL);
		assert_int_equal(parse(s, &p), 0);
		assert_int_equal(p.filters[SECCOMP_THREAD_VMM].default_action, ok[i].action);
		seccomp_policy_free(&p);
		free(s);
	}
}

static void test_bad_documents(void **state)
{
	char *s;

	(void)state;
	expect_bad("", "not valid JSON", NULL);
	expect_bad("{\"vmm\": ", "not valid JSON", NULL);
	expect_bad("{} trailing", "not valid JSON", NULL);
	expect_bad("[1, 2]", "expected an object of filters", NULL);
	expect_bad("\"vmm\"", "expected an object of filters", NULL);
	expect_bad("{}", "missing the `vmm` filter", NULL);
	{
		static const char nul[] = "{\"vmm\"\0: 1}";
		struct seccomp_policy p;

		assert_int_not_equal(seccomp_json_parse(nul, sizeof(nul) - 1, &p), 0);
		assert_non_null(strstr(err_msg(), "NUL"));
	}
	s = doc(NULL, NULL, NULL);
	s[strlen(s) - 1] = '\0';
	strcat(s, ", \"jailer\": {}}");
	expect_bad(s, "unknown thread kind `jailer`", "vmm, api, vcpu");
	free(s);
	s = doc(NULL, NULL, NULL);
	s[strlen(s) - 1] = '\0';
	strcat(s, ", \"api\": {}}");
	expect_bad(s, "api: given twice", NULL);
	free(s);
	expect_bad("{\"vmm\": {\"default_action\": \"trap\", \"filter_action\": \"allow\", "
		   "\"filter\": []}, \"api\": {\"default_action\": \"trap\", \"filter_action\": "
		   "\"allow\", \"filter\": []}}",
		   "missing the `vcpu` filter", NULL);
	s = doc("[]", NULL, NULL);
	expect_bad(s, "vmm: expected an object, got an array", NULL);
	free(s);
	s = doc("{\"default_action\": \"trap\", \"filter\": []}", NULL, NULL);
	expect_bad(s, "vmm: missing field `filter_action`", NULL);
	free(s);
	s = doc(NULL, "{\"default_action\": \"trap\", \"filter_action\": \"allow\"}", NULL);
	expect_bad(s, "api: missing field `filter`", NULL);
	free(s);
	s = doc(NULL,
		"{\"default_action\": \"trap\", \"filter_action\": \"allow\", \"filter\": "
		"{}}",
		NULL);
	expect_bad(s, "api.filter: expected an array", NULL);
	free(s);
	s = doc(NULL, NULL,
		"{\"default_action\": \"trap\", \"filter_action\": \"allow\", \"filter\": [], "
		"\"filters\": []}");
	expect_bad(s, "vcpu: unknown field `filters`", NULL);
	free(s);
	s = doc(NULL, NULL,
		"{\"default_action\": \"trap\", \"filter_action\": \"allow\", \"filter\": [], "
		"\"filter\": []}");
	expect_bad(s, "vcpu: duplicate field `filter`", NULL);
	free(s);
}

static void test_bad_actions(void **state)
{
	static const struct {
		const char *da, *fa, *needle;
	} bad[] = {
	    {"\"deny\"", "\"allow\"", "vmm.default_action: unknown action"},
	    {"\"Allow\"", "\"trap\"", "vmm.default_action: unknown action"},
	    {"\"trap\"", "\"accept\"", "vmm.filter_action: unknown action"},
	    {"42", "\"allow\"", "vmm.default_action: unknown action"},
	    {"{\"errno\": -1}", "\"allow\"", "vmm.default_action.errno: expected an unsigned"},
	    {"{\"errno\": 65536}", "\"allow\"", "vmm.default_action.errno: 65536 is out of range"},
	    {"{\"errno\": \"x\"}", "\"allow\"", "vmm.default_action.errno: expected an unsigned"},
	    {"{\"errno\": 1, \"trace\": 1}", "\"allow\"", "vmm.default_action: unknown action"},
	    {"{\"signal\": 9}", "\"allow\"", "vmm.default_action: unknown action"},
	    {"\"allow\"", "\"allow\"", "vmm: default_action and filter_action are the same"},
	};
	char body[256];

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		char *s;

		snprintf(body, sizeof(body),
			 "{\"default_action\": %s, \"filter_action\": %s, \"filter\": []}",
			 bad[i].da, bad[i].fa);
		s = doc(body, NULL, NULL);
		expect_bad(s, bad[i].needle, NULL);
		free(s);
	}
}

static void test_bad_rules(void **state)
{
	(void)state;
	expect_bad_rule("\"read\"", "vcpu.filter[0]: expected an object, got a string", NULL);
	expect_bad_rule("{}", "vcpu.filter[0]: missing field `syscall`", NULL);
	expect_bad_rule("{\"syscall\": 0}", "vcpu.filter[0].syscall: expected a string", NULL);
	expect_bad_rule("{\"syscall\": \"read\"}, {\"syscall\": \"no_such_call\"}",
			"vcpu.filter[1].syscall: unknown system call `no_such_call`", NULL);
	expect_bad_rule("{\"syscall\": \"socketcall\"}", "unknown system call `socketcall`",
			"x86_64");
	expect_bad_rule("{\"syscall\": \"read\", \"arg\": []}",
			"vcpu.filter[0]: unknown field `arg`", NULL);
	expect_bad_rule("{\"syscall\": \"read\", \"args\": {}}",
			"vcpu.filter[0].args: expected an array", NULL);
	expect_bad_rule("{\"syscall\": \"read\", \"args\": [1]}",
			"vcpu.filter[0].args[0]: expected an object, got a number", NULL);
	/* conditions */
	expect_bad_rule("{\"syscall\": \"ioctl\", \"args\": [{\"type\": \"dword\", \"op\": \"eq\", "
			"\"val\": 1}]}",
			"vcpu.filter[0].args[0]: missing field `index`", NULL);
	expect_bad_rule("{\"syscall\": \"ioctl\", \"args\": [{\"index\": 6, \"type\": \"dword\", "
			"\"op\": \"eq\", \"val\": 1}]}",
			"vcpu.filter[0].args[0].index: 6 is out of range", NULL);
	expect_bad_rule("{\"syscall\": \"ioctl\", \"args\": [{\"index\": -1, \"type\": \"dword\", "
			"\"op\": \"eq\", \"val\": 1}]}",
			"vcpu.filter[0].args[0].index: expected an unsigned integer", NULL);
	expect_bad_rule("{\"syscall\": \"ioctl\", \"args\": [{\"index\": 1.5, \"type\": \"dword\", "
			"\"op\": \"eq\", \"val\": 1}]}",
			"vcpu.filter[0].args[0].index: expected an unsigned integer", NULL);
	expect_bad_rule("{\"syscall\": \"ioctl\", \"args\": [{\"index\": \"1\", \"type\": "
			"\"dword\", \"op\": \"eq\", \"val\": 1}]}",
			"args[0].index: expected an unsigned integer, got a string", NULL);
	expect_bad_rule("{\"syscall\": \"ioctl\", \"args\": [{\"index\": 1, \"type\": \"word\", "
			"\"op\": \"eq\", \"val\": 1}]}",
			"vcpu.filter[0].args[0].type: expected \"dword\" or \"qword\"", NULL);
	expect_bad_rule("{\"syscall\": \"ioctl\", \"args\": [{\"index\": 1, \"op\": \"eq\", "
			"\"val\": 1}]}",
			"args[0]: missing field `type`", NULL);
	expect_bad_rule("{\"syscall\": \"ioctl\", \"args\": [{\"index\": 1, \"type\": \"dword\", "
			"\"op\": \"equals\", \"val\": 1}]}",
			"vcpu.filter[0].args[0].op: unknown operator `equals`", NULL);
	expect_bad_rule("{\"syscall\": \"ioctl\", \"args\": [{\"index\": 1, \"type\": \"dword\", "
			"\"op\": {\"masked\": 1}, \"val\": 1}]}",
			"vcpu.filter[0].args[0].op: expected one of", NULL);
	expect_bad_rule("{\"syscall\": \"ioctl\", \"args\": [{\"index\": 1, \"type\": \"dword\", "
			"\"op\": {\"masked_eq\": 4294967296}, \"val\": 1}]}",
			"args[0].op.masked_eq: 4294967296 is out of range", NULL);
	expect_bad_rule("{\"syscall\": \"ioctl\", \"args\": [{\"index\": 1, \"type\": \"dword\", "
			"\"op\": \"eq\"}]}",
			"args[0]: missing field `val`", NULL);
	expect_bad_rule("{\"syscall\": \"ioctl\", \"args\": [{\"index\": 1, \"type\": \"dword\", "
			"\"op\": \"eq\", \"val\": 4294967296}]}",
			"vcpu.filter[0].args[0].val: 4294967296 is out of range", NULL);
	expect_bad_rule("{\"syscall\": \"ioctl\", \"args\": [{\"index\": 1, \"type\": \"qword\", "
			"\"op\": \"eq\", \"val\": 18446744073709551615}]}",
			"args[0].val", "too large to be read exactly");
	expect_bad_rule("{\"syscall\": \"ioctl\", \"args\": [{\"index\": 1, \"type\": \"dword\", "
			"\"op\": \"eq\", \"val\": 1, \"value\": 2}]}",
			"vcpu.filter[0].args[0]: unknown field `value`", NULL);
	expect_bad_rule(
	    "{\"syscall\": \"ioctl\", \"args\": [{\"index\": 1, \"type\": \"dword\", "
	    "\"op\": \"ge\", \"val\": 1}, {\"index\": 1, \"type\": \"dword\", \"op\": \"le\", "
	    "\"val\": 9}]}",
	    "vcpu.filter[0].args[1].index: a second condition on argument 1", NULL);
	expect_bad_rule(
	    "{\"syscall\": \"ioctl\", \"args\": [{\"index\": 0, \"type\": \"dword\", "
	    "\"op\": \"eq\", \"val\": 0}, {\"index\": 1, \"type\": \"dword\", \"op\": \"eq\", "
	    "\"val\": 0}, {\"index\": 2, \"type\": \"dword\", \"op\": \"eq\", \"val\": 0}, "
	    "{\"index\": 3, \"type\": \"dword\", \"op\": \"eq\", \"val\": 0}, {\"index\": 4, "
	    "\"type\": \"dword\", \"op\": \"eq\", \"val\": 0}, {\"index\": 5, \"type\": "
	    "\"dword\", \"op\": \"eq\", \"val\": 0}, {\"index\": 0, \"type\": \"dword\", "
	    "\"op\": \"eq\", \"val\": 0}]}",
	    "vcpu.filter[0].args: more than 6 conditions", NULL);
}

static void same_rules(const struct seccomp_filter *a, const struct seccomp_filter *b)
{
	assert_int_equal(a->default_action, b->default_action);
	assert_int_equal(a->filter_action, b->filter_action);
	assert_int_equal(a->nrules, b->nrules);
	for (size_t i = 0; i < a->nrules; i++) {
		const struct seccomp_rule *x = &a->rules[i], *y = &b->rules[i];

		assert_int_equal(x->nr, y->nr);
		assert_int_equal(x->nconds, y->nconds);
		for (unsigned k = 0; k < x->nconds; k++) {
			assert_int_equal(x->conds[k].index, y->conds[k].index);
			assert_int_equal(x->conds[k].qword, y->conds[k].qword);
			assert_int_equal(x->conds[k].op, y->conds[k].op);
			assert_true(x->conds[k].val == y->conds[k].val);
			if (x->conds[k].op == SECCOMP_OP_MASKED_EQ)
				assert_true(x->conds[k].mask == y->conds[k].mask);
		}
	}
}

/* The built-in filters survive emit -> parse, and the committed copy users
 * start custom filters from is current. */
static void test_default_round_trip(void **state)
{
	struct seccomp_policy p;
	char *json = seccomp_json_emit_default();
	uint8_t *file = NULL;
	size_t len = 0;

	(void)state;
	assert_non_null(json);
	assert_int_equal(parse(json, &p), 0);
	for (int k = 0; k < SECCOMP_THREAD_KINDS; k++) {
		struct seccomp_filter d;

		seccomp_default_filter((enum seccomp_thread)k, &d);
		same_rules(&d, &p.filters[k]);
	}
	seccomp_policy_free(&p);
	if (getenv("EMBER_SECCOMP_WRITE_JSON")) {
		FILE *f = fopen(DEFAULT_JSON, "w");

		assert_non_null(f);
		fprintf(f, "%s\n", json);
		fclose(f);
	}
	if (read_whole_file(DEFAULT_JSON, 1 << 20, &file, &len) < 0)
		fail_msg("%s: %s", DEFAULT_JSON, err_msg());
	if (len != strlen(json) + 1 || memcmp(file, json, len - 1) != 0)
		fail_msg(DEFAULT_JSON " is not the built-in filter set; regenerate it with "
				      "EMBER_SECCOMP_WRITE_JSON=1 build/tests/unit/test_seccomp");
	free(file);
	free(json);
}

static bool has_rule(const struct seccomp_filter *f, const struct seccomp_rule *r)
{
	for (size_t i = 0; i < f->nrules; i++) {
		const struct seccomp_rule *x = &f->rules[i];

		if (x->nr == r->nr && x->nconds == r->nconds &&
		    memcmp(x->conds, r->conds, sizeof(x->conds[0]) * x->nconds) == 0)
			return true;
	}
	return false;
}

/* vCPU threads are created under the boot filter and the VMM thread stacks
 * its run-time filter on it: boot must allow everything both allow. */
static void test_default_filters(void **state)
{
	struct seccomp_filter boot, f;

	(void)state;
	seccomp_default_filter(SECCOMP_THREAD_VMM_BOOT, &boot);
	for (int k = 0; k <= SECCOMP_THREAD_VMM_BOOT; k++) {
		void *prog = NULL;
		size_t len = 0;

		seccomp_default_filter((enum seccomp_thread)k, &f);
		assert_int_equal(f.default_action, SCMP_ACT_KILL_PROCESS);
		assert_int_equal(f.filter_action, SCMP_ACT_ALLOW);
		if (seccomp_compile(&f, &prog, &len) < 0)
			fail_msg("%s: %s", seccomp_thread_name((enum seccomp_thread)k), err_msg());
		assert_true(len > 10 && len < 4096);
		free(prog);
		if (k == SECCOMP_THREAD_VMM || k == SECCOMP_THREAD_VCPU)
			for (size_t i = 0; i < f.nrules; i++)
				if (!has_rule(&boot, &f.rules[i]))
					fail_msg("boot filter lacks %s rule %zu",
						 seccomp_thread_name((enum seccomp_thread)k), i);
	}
	/* KVM_RUN is a vCPU-thread ioctl only */
	seccomp_default_filter(SECCOMP_THREAD_VMM, &f);
	for (size_t i = 0; i < f.nrules; i++)
		assert_false(f.rules[i].nr == SCMP_SYS(ioctl) &&
			     f.rules[i].conds[0].val == KVM_RUN);
	seccomp_default_filter(SECCOMP_THREAD_API, &f);
	for (size_t i = 0; i < f.nrules; i++)
		assert_int_not_equal(f.rules[i].nr, SCMP_SYS(ioctl));
}

/* The programs compiled at build time (tools/seccomp_gen) are, instruction
 * for instruction, what libseccomp makes of the tables now, in both variants;
 * report mode differs from kill-process only in its default action. */
static void test_builtin_programs(void **state)
{
	(void)state;
	for (int k = 0; k < SECCOMP_THREAD_ALL; k++)
		for (int v = 0; v < SECCOMP_BUILTIN_VARIANTS; v++) {
			const struct seccomp_builtin *b = &seccomp_builtin_bpf[k][v];
			struct seccomp_filter f;
			void *prog = NULL;
			size_t len = 0;

			seccomp_builtin_filter((enum seccomp_thread)k, v, &f);
			assert_int_equal(f.default_action, v == SECCOMP_BUILTIN_KILL
							       ? SCMP_ACT_KILL_PROCESS
							       : SCMP_ACT_TRAP);
			if (seccomp_compile(&f, &prog, &len) < 0)
				fail_msg("%s: %s", seccomp_thread_name((enum seccomp_thread)k),
					 err_msg());
			if (b->len != len || memcmp(&seccomp_builtin_insns[b->start], prog,
						    len * sizeof(struct sock_filter)))
				fail_msg(
				    "%s filter, variant %d: the built-in program (%u instructions) "
				    "is "
				    "not what libseccomp compiles from the tables (%zu): rebuild",
				    seccomp_thread_name((enum seccomp_thread)k), v, b->len, len);
			free(prog);
		}
}

/* A cross build's generator compiles the tables for another architecture
 * (seccomp_compile_arch, tools/seccomp_gen.c): here this host's tables for
 * aarch64 (the arm64 nested run checks the cross-generated file against
 * libseccomp on arm64). The program checks arm64's audit arch and tests
 * the arm64 number of every syscall the tables name that arm64 has. */
static void test_other_arch_programs(void **state)
{
	(void)state;
	for (int k = 0; k < SECCOMP_THREAD_ALL; k++) {
		struct seccomp_filter f;
		struct sock_filter *prog = NULL;
		size_t len = 0, tested = 0;
		void *p = NULL;

		seccomp_builtin_filter((enum seccomp_thread)k, SECCOMP_BUILTIN_KILL, &f);
		if (seccomp_compile_arch(&f, SCMP_ARCH_AARCH64, &p, &len) < 0)
			fail_msg("%s: %s", seccomp_thread_name((enum seccomp_thread)k), err_msg());
		prog = p;
		assert_true(len > 3);
		/* ld arch; jeq AUDIT_ARCH_AARCH64 */
		assert_int_equal(prog[0].code, BPF_LD | BPF_W | BPF_ABS);
		assert_int_equal(prog[0].k, offsetof(struct seccomp_data, arch));
		assert_int_equal(prog[1].code, BPF_JMP | BPF_JEQ | BPF_K);
		assert_int_equal(prog[1].k, 0xc00000b7u);
		for (size_t i = 0; i < f.nrules; i++) {
			char *name = seccomp_syscall_resolve_num_arch(SCMP_ARCH_NATIVE, f.rules[i].nr);
			int nr;
			bool found = false;

			assert_non_null(name);
			nr = seccomp_syscall_resolve_name_arch(SCMP_ARCH_AARCH64, name);
			if (nr < 0) { /* x86-only (epoll_wait, poll, unlink, open, stat): left out */
				free(name);
				continue;
			}
			tested++;
			for (size_t j = 2; j < len && !found; j++)
				found = prog[j].code == (BPF_JMP | BPF_JEQ | BPF_K) &&
					prog[j].k == (uint32_t)nr;
			if (!found)
				fail_msg("%s: %s (arm64 %d) not tested in the aarch64 program",
					 seccomp_thread_name(k), name, nr);
			free(name);
		}
		assert_true(tested + 5 >= f.nrules);
		free(prog);
	}
}

/* ---- real filters, in forked children ---- */

/* Set: the child blocks every signal before it installs its filter, as the
 * API thread does. */
static bool block_signals_first;

static int run_child(enum seccomp_thread kind, const char *file, void (*body)(void))
{
	pid_t pid = fork();
	int st;

	assert_true(pid >= 0);
	if (pid == 0) {
		sigset_t all;

		sigfillset(&all);
		if (block_signals_first)
			pthread_sigmask(SIG_BLOCK, &all, NULL);
		if (seccomp_setup(file, false) < 0 || seccomp_install(kind) < 0) {
			fprintf(stderr, "child: %s\n", err_msg());
			_exit(100);
		}
		body();
		syscall(SYS_exit, 0); /* what an ember thread ends with */
	}
	assert_int_equal(waitpid(pid, &st, 0), pid);
	return st;
}

static void body_nothing(void)
{
}

static void body_getpgrp(void)
{
	syscall(SYS_getpgrp); /* in no filter, sanitizer builds included */
}

static void body_kvm_run_badfd(void)
{
	/* allowed by number: fails with EBADF, the thread lives on */
	if (ioctl(-1, KVM_RUN, 0) != -1 || errno != EBADF)
		syscall(SYS_exit, 3);
}

static void body_kvm_create_vm(void)
{
	ioctl(-1, KVM_CREATE_VM, 0);
}

static void body_mmap_exec(void)
{
	mmap(NULL, 4096, PROT_READ | PROT_EXEC, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
}

static void expect_exit(int st, int code)
{
	if (!WIFEXITED(st) || WEXITSTATUS(st) != code)
		fail_msg("child status %#x, expected exit %d", st, code);
}

static void expect_sigsys(int st)
{
	if (!WIFSIGNALED(st) || WTERMSIG(st) != SIGSYS)
		fail_msg("child status %#x, expected death by SIGSYS", st);
}

static void test_install(void **state)
{
	(void)state;
	for (int k = 0; k <= SECCOMP_THREAD_VMM_BOOT; k++)
		expect_exit(run_child((enum seccomp_thread)k, NULL, body_nothing), 0);
	expect_sigsys(run_child(SECCOMP_THREAD_VCPU, NULL, body_getpgrp));
	expect_sigsys(run_child(SECCOMP_THREAD_API, NULL, body_getpgrp));
	expect_exit(run_child(SECCOMP_THREAD_VCPU, NULL, body_kvm_run_badfd), 0);
	expect_sigsys(run_child(SECCOMP_THREAD_VMM, NULL, body_kvm_run_badfd));
	expect_sigsys(run_child(SECCOMP_THREAD_VCPU, NULL, body_kvm_create_vm));
	expect_exit(run_child(SECCOMP_THREAD_VMM_BOOT, NULL, body_kvm_run_badfd), 0);
	expect_sigsys(run_child(SECCOMP_THREAD_VMM, NULL, body_mmap_exec));
}

static char *write_tmp(const char *text)
{
	char *path = strdup("/tmp/ember-seccomp-test.XXXXXX");
	int fd = mkstemp(path);

	assert_true(fd >= 0);
	assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	close(fd);
	return path;
}

/* A FILE: its filters replace the built-in ones; "trap" exits 128+SIGSYS
 * through the handler; "log" lets the call through. */
static void test_install_file(void **state)
{
	char *s, *path;

	(void)state;
	s = doc(NULL, NULL,
		"{\"default_action\": \"trap\", \"filter_action\": \"allow\", \"filter\": "
		"[{\"syscall\": \"exit\"}, {\"syscall\": \"exit_group\"}, {\"syscall\": "
		"\"write\"}, {\"syscall\": "
		"\"rt_sigreturn\"}, {\"syscall\": \"prctl\"}]}");
	path = write_tmp(s);
	free(s);
	expect_exit(run_child(SECCOMP_THREAD_VCPU, path, body_nothing), 0);
	expect_exit(run_child(SECCOMP_THREAD_VCPU, path, body_getpgrp), 128 + SIGSYS);
	unlink(path);
	free(path);

	s = doc(NULL, NULL,
		"{\"default_action\": \"log\", \"filter_action\": \"allow\", \"filter\": "
		"[{\"syscall\": \"exit\"}]}");
	path = write_tmp(s);
	free(s);
	expect_exit(run_child(SECCOMP_THREAD_VCPU, path, body_getpgrp), 0);
	/* the boot filter is built-in only: a no-op with a FILE */
	expect_exit(run_child(SECCOMP_THREAD_VMM_BOOT, path, body_getpgrp), 0);
	unlink(path);
	free(path);
}

static void test_setup_errors(void **state)
{
	char *path;

	(void)state;
	assert_int_not_equal(seccomp_setup("/nonexistent/filter.json", false), 0);
	assert_non_null(strstr(err_msg(), "--seccomp-filter"));
	assert_non_null(strstr(err_msg(), "/nonexistent/filter.json"));
	path = write_tmp("{\"vmm\": 1}");
	assert_int_not_equal(seccomp_setup(path, false), 0);
	assert_non_null(strstr(err_msg(), path));
	assert_non_null(strstr(err_msg(), "vmm: expected an object"));
	unlink(path);
	free(path);
	/* disabled: installs are no-ops */
	assert_int_equal(seccomp_setup(NULL, true), 0);
	assert_int_equal(seccomp_get_mode(), SECCOMP_MODE_OFF);
	assert_int_equal(seccomp_install(SECCOMP_THREAD_VCPU), 0);
	seccomp_teardown();
}

/* ---- libc under the filters (seccomp_libc.c) ---- */

static int cmp_int(const void *a, const void *b)
{
	return *(const int *)a - *(const int *)b;
}

/* What the API thread did with hostile bodies: many 50 KB blocks, freed,
 * then the thread ends (its tcache freed into its arena); under the api
 * filter, as the API thread. */
static void *churn_thread(void *arg)
{
	void *p[64];

	(void)arg;
	if (seccomp_install(SECCOMP_THREAD_API) < 0)
		return (void *)1;
	for (int round = 0; round < 4; round++) {
		for (int i = 0; i < 64; i++)
			p[i] = malloc(50000 + (size_t)i * 512);
		for (int i = 0; i < 64; i++)
			free(p[i]);
	}
	return NULL;
}

static void body_malloc_trim_thread(void)
{
	pthread_t t;
	void *ret = (void *)2;

	if (pthread_create(&t, NULL, churn_thread, NULL) != 0 || pthread_join(t, &ret) != 0 ||
	    ret != NULL)
		syscall(SYS_exit, 3);
}

static void body_qsort_random(void)
{
	int v[4096];
	uint8_t a[6] = {0}, b[6] = {0};

	for (int i = 0; i < 4096; i++)
		v[i] = 4096 - i;
	qsort(v, 4096, sizeof(v[0]), cmp_int); /* 16 KiB: msort's sysconf path */
	if (v[0] != 1)
		syscall(SYS_exit, 3);
	random_bytes(a, sizeof(a));
	random_bytes(b, sizeof(b));
	if (memcmp(a, b, sizeof(a)) == 0)
		syscall(SYS_exit, 4);
}

static void test_libc_paths(void **state)
{
	(void)state;
	/* the boot filter lets the main thread create the thread */
	expect_exit(run_child(SECCOMP_THREAD_VMM_BOOT, NULL, body_malloc_trim_thread), 0);
	expect_exit(run_child(SECCOMP_THREAD_VMM_BOOT, NULL, body_qsort_random), 0);
	expect_exit(run_child(SECCOMP_THREAD_VCPU, NULL, body_qsort_random), 0);
}

/* ---- report mode ---- */

/* Two forbidden calls on an api-filtered thread that blocked every signal
 * before its install (as the API thread does): both fail with ENOSYS, the
 * process lives. */
static void body_report(void)
{
	char buf[6];

	if (syscall(SYS_getpgrp) != -1 || errno != ENOSYS)
		syscall(SYS_exit, 3);
	if (syscall(SYS_getrandom, buf, sizeof(buf), 0) != -1 || errno != ENOSYS)
		syscall(SYS_exit, 4);
}

static char *read_text(const char *path)
{
	uint8_t *buf;
	size_t len;

	assert_int_equal(read_whole_file(path, 1 << 20, &buf, &len), 0);
	buf = realloc(buf, len + 1);
	assert_non_null(buf);
	buf[len] = '\0';
	return (char *)buf;
}

static void test_report_mode(void **state)
{
	char *path = strdup("/tmp/ember-seccomp-report.XXXXXX"), *text, *file, *s;
	int fd = mkstemp(path), lines = 0;

	(void)state;
	assert_true(fd >= 0);
	close(fd);
	setenv(SECCOMP_REPORT_ENV, path, 1);

	/* the built-in api filter: recorded, the calls fail, exit 0 */
	block_signals_first = true;
	expect_exit(run_child(SECCOMP_THREAD_API, NULL, body_report), 0);
	block_signals_first = false;
	text = read_text(path);
	for (const char *p = text; (p = strchr(p, '\n')); p++)
		lines++;
	if (lines != 2 || !strstr(text, "] seccomp: api thread: getpgrp(111) args ") ||
	    !strstr(text, "] seccomp: api thread: getrandom(318) args 0x") ||
	    !strstr(text, " 0x6 0x0 ") || strncmp(text, "ember[", 6) != 0)
		fail_msg("report:\n%s", text);
	free(text);

	/* a FILE is used as written: "trap" still ends the process, and
	 * nothing is added to the report */
	s = doc(NULL, NULL,
		"{\"default_action\": \"trap\", \"filter_action\": \"allow\", \"filter\": "
		"[{\"syscall\": \"exit\"}, {\"syscall\": \"exit_group\"}, {\"syscall\": "
		"\"write\"}, {\"syscall\": \"rt_sigreturn\"}, {\"syscall\": \"rt_sigprocmask\"}]}");
	file = write_tmp(s);
	free(s);
	expect_exit(run_child(SECCOMP_THREAD_VCPU, file, body_getpgrp), 128 + SIGSYS);
	unlink(file);
	free(file);
	text = read_text(path);
	assert_int_equal(strlen(text), strlen(strchr(text, '\n') ? text : ""));
	free(text);

	/* a report file that cannot be opened: set-up fails, naming it */
	setenv(SECCOMP_REPORT_ENV, "/nonexistent/dir/report.txt", 1);
	assert_int_not_equal(seccomp_setup(NULL, false), 0);
	assert_non_null(strstr(err_msg(), SECCOMP_REPORT_ENV "=/nonexistent/dir/report.txt"));
	unsetenv(SECCOMP_REPORT_ENV);
	unlink(path);
	free(path);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_parse_minimal),    cmocka_unit_test(test_parse_actions),
	    cmocka_unit_test(test_bad_documents),    cmocka_unit_test(test_bad_actions),
	    cmocka_unit_test(test_bad_rules),	     cmocka_unit_test(test_default_round_trip),
	    cmocka_unit_test(test_default_filters),  cmocka_unit_test(test_install),
	    cmocka_unit_test(test_install_file),     cmocka_unit_test(test_setup_errors),
	    cmocka_unit_test(test_libc_paths),	     cmocka_unit_test(test_report_mode),
	    cmocka_unit_test(test_builtin_programs),
	    cmocka_unit_test(test_other_arch_programs),
	};

	/* the kill-process expectations need the real filters */
	unsetenv(SECCOMP_REPORT_ENV);
	log_set_level(LOG_WARN);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
