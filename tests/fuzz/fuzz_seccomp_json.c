/* libFuzzer: the seccomp filter-file parser (src/vmm/security/seccomp_json.c) and
 * libseccomp's acceptance of what it produced (rules added, no BPF export).
 * A file that parses has only valid fields: argument indexes < 6, at most 6
 * conditions per rule, known operators, a syscall number >= 0. */
#include <stdint.h>
#include <stdlib.h>

#include "ember/seccomp.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct seccomp_policy p;

	if (seccomp_json_parse((const char *)data, size, &p) < 0) {
		for (int k = 0; k < SECCOMP_THREAD_KINDS; k++)
			if (p.filters[k].rules)
				__builtin_trap(); /* nothing left behind on failure */
		return 0;
	}
	for (int k = 0; k < SECCOMP_THREAD_KINDS; k++) {
		const struct seccomp_filter *f = &p.filters[k];

		if (!f->rules || f->default_action == f->filter_action)
			__builtin_trap();
		for (size_t i = 0; i < f->nrules; i++) {
			const struct seccomp_rule *r = &f->rules[i];

			if (r->nr < 0 || r->nconds > SECCOMP_MAX_CONDS)
				__builtin_trap();
			for (unsigned c = 0; c < r->nconds; c++)
				if (r->conds[c].index >= SECCOMP_MAX_CONDS ||
				    r->conds[c].op > SECCOMP_OP_MASKED_EQ ||
				    (!r->conds[c].qword && r->conds[c].val > UINT32_MAX))
					__builtin_trap();
		}
		seccomp_compile(f, NULL, NULL);
	}
	seccomp_policy_free(&p);
	return 0;
}
