/* Compilation of seccomp filters to BPF with libseccomp: at build time for
 * the built-in tables (tools/seccomp_gen.c, seccomp_tables.c), at run time
 * for a --seccomp-filter FILE; the unit tests check that both agree. */
#include "ember/seccomp.h"

#include <errno.h>
#include <linux/filter.h>
#include <seccomp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ember/error.h"

/* clang-format off */

/* Sanitizer runtimes (reports, LeakSanitizer's stop-the-world at exit: its
 * tracer is a clone of the thread without CLONE_THREAD, so a syscall missing
 * here kills only the tracer and leaves the process waiting). Their mmap and
 * mprotect calls need no PROT_EXEC: the built-in rules cover them. */
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_UNDEFINED__)
#define EMBER_SANITIZER 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(undefined_behavior_sanitizer)
#define EMBER_SANITIZER 1
#endif
#endif
#ifdef EMBER_SANITIZER
#define ALLOW(name) {.nr = SCMP_SYS(name)}
static const struct seccomp_rule rules_sanitizer[] = {
	ALLOW(open), ALLOW(openat), ALLOW(close), ALLOW(read), ALLOW(pread64), ALLOW(lseek),
	ALLOW(stat), ALLOW(lstat), ALLOW(fstat), ALLOW(newfstatat), ALLOW(readlink),
	ALLOW(getdents), ALLOW(getdents64), ALLOW(madvise), ALLOW(munmap),
	ALLOW(mremap), ALLOW(ptrace), ALLOW(wait4), ALLOW(clone), ALLOW(prctl),
	ALLOW(arch_prctl), ALLOW(sched_yield), ALLOW(sigaltstack), ALLOW(rt_sigaction),
	ALLOW(tgkill), ALLOW(kill), ALLOW(getpid), ALLOW(getppid), ALLOW(gettid),
	ALLOW(process_vm_readv), ALLOW(uname), ALLOW(getrlimit), ALLOW(setrlimit),
	ALLOW(prlimit64), ALLOW(futex), ALLOW(sched_getaffinity), ALLOW(dup), ALLOW(dup2),
	ALLOW(dup3), ALLOW(pipe), ALLOW(pipe2), ALLOW(getrusage), ALLOW(nanosleep),
	ALLOW(clock_nanosleep), ALLOW(exit), ALLOW(exit_group),
};
#endif

/* clang-format on */

#define N(a) (sizeof(a) / sizeof((a)[0]))

const char *seccomp_thread_name(enum seccomp_thread kind)
{
	static const char *const names[] = {"vmm", "api", "vcpu", "vmm boot"};

	return kind < SECCOMP_THREAD_ALL ? names[kind] : "?";
}

/* ---- compilation ---- */

static struct scmp_arg_cmp to_scmp(const struct seccomp_cond *c)
{
	static const enum scmp_compare ops[] = {
	    [SECCOMP_OP_EQ] = SCMP_CMP_EQ,
	    [SECCOMP_OP_NE] = SCMP_CMP_NE,
	    [SECCOMP_OP_LT] = SCMP_CMP_LT,
	    [SECCOMP_OP_LE] = SCMP_CMP_LE,
	    [SECCOMP_OP_GT] = SCMP_CMP_GT,
	    [SECCOMP_OP_GE] = SCMP_CMP_GE,
	    [SECCOMP_OP_MASKED_EQ] = SCMP_CMP_MASKED_EQ,
	};
	struct scmp_arg_cmp a = {.arg = c->index, .op = ops[c->op], .datum_a = c->val};

	if (c->op == SECCOMP_OP_MASKED_EQ) {
		a.datum_a = c->mask;
		a.datum_b = c->val;
	} else if (c->op == SECCOMP_OP_EQ && !c->qword) {
		/* the low 32 bits only: the kernel ignores the rest of an int */
		a.op = SCMP_CMP_MASKED_EQ;
		a.datum_a = 0xffffffffULL;
		a.datum_b = c->val;
	}
	return a;
}

static const char *syscall_name(int nr, char *buf, size_t len)
{
	char *n = seccomp_syscall_resolve_num_arch(SCMP_ARCH_NATIVE, nr);

	snprintf(buf, len, "%s", n ? n : "?");
	free(n);
	return buf;
}

static int add_rules(scmp_filter_ctx ctx, uint32_t action, const struct seccomp_rule *rules,
		     size_t n, bool extra)
{
	for (size_t i = 0; i < n; i++) {
		const struct seccomp_rule *r = &rules[i];
		struct scmp_arg_cmp a[SECCOMP_MAX_CONDS];
		char name[64];
		int e;

		if (r->nconds > SECCOMP_MAX_CONDS)
			return err_set(EINVAL, "filter[%zu]: too many conditions", i);
		for (unsigned k = 0; k < r->nconds; k++) {
			if (r->conds[k].index >= SECCOMP_MAX_CONDS ||
			    (unsigned)r->conds[k].op > SECCOMP_OP_MASKED_EQ)
				return err_set(EINVAL, "filter[%zu]: bad condition %u", i, k);
			a[k] = to_scmp(&r->conds[k]);
		}
		e = seccomp_rule_add_array(ctx, action, r->nr, r->nconds, a);
		if (e == -EACCES && extra)
			continue; /* the file's default action already is the extra's */
		if (e < 0)
			return err_set(-e, "%sfilter[%zu] (%s): libseccomp refused the rule: %s",
				       extra ? "sanitizer extra " : "", i,
				       syscall_name(r->nr, name, sizeof(name)), strerror(-e));
	}
	return 0;
}

static int export_bpf(scmp_filter_ctx ctx, void **prog_out, size_t *len_out)
{
	int fd = memfd_create("ember-seccomp", MFD_CLOEXEC), r;
	struct stat st;
	void *p;

	if (fd < 0)
		return err_set(errno, "seccomp: memfd_create: %s", strerror(errno));
	if ((r = seccomp_export_bpf(ctx, fd)) < 0) {
		close(fd);
		return err_set(-r, "seccomp: exporting the BPF program: %s", strerror(-r));
	}
	if (fstat(fd, &st) < 0 || st.st_size <= 0 || st.st_size % sizeof(struct sock_filter) ||
	    st.st_size / sizeof(struct sock_filter) > BPF_MAXINSNS) {
		close(fd);
		return err_set(E2BIG, "seccomp: BPF program of %lld bytes", (long long)st.st_size);
	}
	p = malloc((size_t)st.st_size);
	if (!p || pread(fd, p, (size_t)st.st_size, 0) != st.st_size) {
		free(p);
		close(fd);
		return err_set(EIO, "seccomp: reading the BPF program back");
	}
	close(fd);
	*prog_out = p;
	*len_out = (size_t)st.st_size / sizeof(struct sock_filter);
	return 0;
}

int seccomp_compile(const struct seccomp_filter *f, void **prog_out, size_t *len_out)
{
	return seccomp_compile_arch(f, SCMP_ARCH_NATIVE, prog_out, len_out);
}

int seccomp_compile_arch(const struct seccomp_filter *f, uint32_t arch, void **prog_out,
			 size_t *len_out)
{
	scmp_filter_ctx ctx;
	int r;

	if (f->default_action == f->filter_action)
		return err_set(EINVAL, "default_action and filter_action are the same");
	ctx = seccomp_init(f->default_action);
	if (!ctx)
		return err_set(EINVAL, "libseccomp refused the default action %#x",
			       f->default_action);
	if ((r = seccomp_attr_set(ctx, SCMP_FLTATR_ACT_BADARCH, SCMP_ACT_KILL_PROCESS)) < 0 ||
	    (r = seccomp_attr_set(ctx, SCMP_FLTATR_CTL_NNP, 0)) < 0) {
		seccomp_release(ctx);
		return err_set(-r, "libseccomp attributes: %s", strerror(-r));
	}
	/* Another architecture's program (a cross build's generator): the
	 * rules' syscall numbers stay the host's, libseccomp translates them to
	 * the target's by name. */
	if (arch != SCMP_ARCH_NATIVE && arch != seccomp_arch_native() &&
	    ((r = seccomp_arch_add(ctx, arch)) < 0 ||
	     (r = seccomp_arch_remove(ctx, SCMP_ARCH_NATIVE)) < 0)) {
		seccomp_release(ctx);
		return err_set(-r, "libseccomp: filters for architecture %#x: %s", arch,
			       strerror(-r));
	}
	r = add_rules(ctx, f->filter_action, f->rules, f->nrules, false);
#ifdef EMBER_SANITIZER
	if (r == 0 && f->filter_action == SCMP_ACT_ALLOW)
		r = add_rules(ctx, SCMP_ACT_ALLOW, rules_sanitizer, N(rules_sanitizer), true);
#endif
	if (r == 0 && prog_out)
		r = export_bpf(ctx, prog_out, len_out);
	seccomp_release(ctx);
	return r;
}
