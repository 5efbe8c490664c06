/* The process's seccomp policy: which programs (the built-in ones, compiled
 * at build time, or a --seccomp-filter FILE compiled now), the SIGSYS
 * handler, and installation per thread (order: seccomp.h). */
#include "ember/seccomp.h"

#include <errno.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <pthread.h>
#include <seccomp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "ember/error.h"
#include "ember/util.h"
#include "ember/log.h"
#include "ember/metrics.h"

/* ---- the process's policy ---- */

static struct {
	enum seccomp_mode mode;
	bool ready;
	bool has_trap;
	bool reporting; /* EMBER_SECCOMP_REPORT: built-in filters trap */
	const struct sock_filter *prog[SECCOMP_THREAD_ALL];
	size_t len[SECCOMP_THREAD_ALL];
	void *owned[SECCOMP_THREAD_ALL]; /* compiled from a FILE: malloc'ed */
} sc;

enum seccomp_mode seccomp_get_mode(void)
{
	return sc.ready ? sc.mode : SECCOMP_MODE_OFF;
}

static size_t fmt_u(char *p, unsigned long v)
{
	char tmp[24];
	size_t n = 0, k = 0;

	do {
		tmp[n++] = (char)('0' + v % 10);
		v /= 10;
	} while (v);
	while (n)
		p[k++] = tmp[--n];
	return k;
}

/* The kind of filter on this thread, for the SIGSYS report. */
static __thread const char *thread_kind;

/* "trap" in a FILE: count, say which syscall on which kind of thread, end
 * the process. Async-signal-safe, and only write and exit_group: anything
 * else might trap again under the very filter that trapped. In report mode
 * (built-in filters only) the call is recorded and fails with ENOSYS. */
static void sigsys_handler(int sig, siginfo_t *si, void *uc)
{
	static const char a[] = "ember: seccomp: forbidden syscall ";
	static const char b[] = " on a ";
	static const char c[] = " thread\n";
	const char *kind = thread_kind ? thread_kind : "?";
	char msg[128];
	size_t n = 0;

	(void)sig;
	METRIC_INC(metrics.seccomp.num_faults);
	if (sc.reporting) {
		/* report mode: record it, fail the call, carry on */
		seccomp_report_trap(kind, si, uc);
		return;
	}
	memcpy(msg + n, a, sizeof(a) - 1);
	n += sizeof(a) - 1;
	n += fmt_u(msg + n, (unsigned long)(unsigned)si->si_syscall);
	memcpy(msg + n, b, sizeof(b) - 1);
	n += sizeof(b) - 1;
	for (size_t i = 0; kind[i] && i < 16; i++)
		msg[n++] = kind[i];
	memcpy(msg + n, c, sizeof(c) - 1);
	n += sizeof(c) - 1;
	if (write(STDERR_FILENO, msg, n) < 0) {
		/* nothing else to do */
	}
	_exit(128 + SIGSYS);
}

static bool uses_trap(const struct seccomp_filter *f)
{
	return f->default_action == SCMP_ACT_TRAP || f->filter_action == SCMP_ACT_TRAP;
}

void seccomp_teardown(void)
{
	for (int k = 0; k < SECCOMP_THREAD_ALL; k++) {
		free(sc.owned[k]);
		sc.owned[k] = NULL;
		sc.prog[k] = NULL;
		sc.len[k] = 0;
	}
	sc.ready = false;
}

static int compile_kind(const struct seccomp_filter *f, enum seccomp_thread k)
{
	void *p = NULL;
	int r = seccomp_compile(f, &p, &sc.len[k]);

	if (r < 0)
		return err_wrap(-r, "seccomp filter '%s'", seccomp_thread_name(k));
	sc.prog[k] = p;
	sc.owned[k] = p;
	if (uses_trap(f))
		sc.has_trap = true;
	return 0;
}

/* The programs tools/seccomp_gen compiled from the built-in tables at
 * build time (for a cross build's target too). */
static int use_builtin(int variant)
{
	for (int k = 0; k < SECCOMP_THREAD_ALL; k++) {
		const struct seccomp_builtin *b = &seccomp_builtin_bpf[k][variant];

		sc.prog[k] = &seccomp_builtin_insns[b->start];
		sc.len[k] = b->len;
	}
	sc.has_trap = variant == SECCOMP_BUILTIN_REPORT;
	return 0;
}

/* What libseccomp's API level 3 stands for, asked of the kernel directly:
 * the seccomp() syscall with SECCOMP_RET_KILL_PROCESS (Linux 4.14), and
 * SECCOMP_RET_TRAP when the filters trap. */
static bool action_available(uint32_t action)
{
	return syscall(SYS_seccomp, SECCOMP_GET_ACTION_AVAIL, 0, &action) == 0;
}

int seccomp_setup(const char *filter_file, bool disabled)
{
	struct seccomp_policy pol;
	int r = 0;

	seccomp_teardown();
	sc.has_trap = false;
	sc.reporting = false;
	/* Whatever the policy: glibc's lazy set-up done now (seccomp_libc.c). */
	seccomp_prepare_libc();
	if (disabled) {
		sc.mode = SECCOMP_MODE_OFF;
		sc.ready = true;
		log_warn("seccomp: disabled (--no-seccomp)");
		return 0;
	}
	/* SECCOMP_RET_KILL_PROCESS and the seccomp() syscall (Linux 4.14);
	 * valgrind, for one, does not pass seccomp() through. */
	if (!action_available(SECCOMP_RET_KILL_PROCESS) || !action_available(SECCOMP_RET_TRAP))
		return err_set(ENOSYS,
			       "seccomp: filters with kill-process are not available here "
			       "(seccomp(SECCOMP_GET_ACTION_AVAIL): %s; Linux >= 4.14 needed); "
			       "--no-seccomp runs without them",
			       strerror(errno));
	if (EMBER_KICK_SIGNAL < SIGRTMIN || EMBER_KICK_SIGNAL > SIGRTMAX)
		return err_set(ENOTSUP,
			       "seccomp: the vCPU kick signal %d is not a real-time signal here",
			       EMBER_KICK_SIGNAL);
	if (filter_file) {
		if ((r = seccomp_json_load(filter_file, &pol)) < 0)
			return err_wrap(-r, "--seccomp-filter");
		for (int k = 0; k < SECCOMP_THREAD_KINDS && r == 0; k++)
			r = compile_kind(&pol.filters[k], (enum seccomp_thread)k);
		seccomp_policy_free(&pol);
		if (r < 0)
			r = err_wrap(-r, "--seccomp-filter %s", filter_file);
		sc.mode = SECCOMP_MODE_FILE;
	} else {
		if ((r = seccomp_report_open()) < 0)
			return r;
		sc.reporting = r > 0;
		r = 0;
		r = use_builtin(sc.reporting ? SECCOMP_BUILTIN_REPORT : SECCOMP_BUILTIN_KILL);
		sc.mode = SECCOMP_MODE_DEFAULT;
	}
	if (r < 0) {
		seccomp_teardown();
		return r;
	}
	if (sc.has_trap) {
		struct sigaction sa;

		memset(&sa, 0, sizeof(sa));
		sa.sa_sigaction = sigsys_handler;
		sa.sa_flags = SA_SIGINFO;
		sigemptyset(&sa.sa_mask);
		if (sigaction(SIGSYS, &sa, NULL) < 0) {
			r = err_set(errno, "seccomp: SIGSYS handler: %s", strerror(errno));
			seccomp_teardown();
			return r;
		}
	}
	/* Every thread created from now on inherits it; seccomp() needs it. */
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0) {
		r = err_set(errno, "seccomp: PR_SET_NO_NEW_PRIVS: %s", strerror(errno));
		seccomp_teardown();
		return r;
	}
	sc.ready = true;
	log_info("seccomp: %s filters ready (BPF instructions: vmm %zu, api %zu, vcpu %zu, "
		 "vmm boot %zu)%s",
		 sc.mode == SECCOMP_MODE_FILE ? "custom" : "built-in", sc.len[SECCOMP_THREAD_VMM],
		 sc.len[SECCOMP_THREAD_API], sc.len[SECCOMP_THREAD_VCPU],
		 sc.len[SECCOMP_THREAD_VMM_BOOT],
		 sc.reporting ? "; report mode: violations go to " SECCOMP_REPORT_ENV : "");
	return 0;
}

int seccomp_install(enum seccomp_thread kind)
{
	struct sock_fprog fp;

	if (!sc.ready || sc.mode == SECCOMP_MODE_OFF || kind >= SECCOMP_THREAD_ALL)
		return 0;
	if (kind == SECCOMP_THREAD_VMM_BOOT && sc.mode != SECCOMP_MODE_DEFAULT)
		return 0;
	if (!sc.prog[kind])
		return err_set(EINVAL, "seccomp: no '%s' filter", seccomp_thread_name(kind));
	if (sc.has_trap) {
		/* A trap raised while SIGSYS is blocked kills the process and
		 * resets the handler (the kernel forces a synchronous signal
		 * through): the API thread, for one, blocks every signal. */
		sigset_t sys;

		sigemptyset(&sys);
		sigaddset(&sys, SIGSYS);
		pthread_sigmask(SIG_UNBLOCK, &sys, NULL);
	}
	fp.len = (unsigned short)sc.len[kind];
	fp.filter = (struct sock_filter *)sc.prog[kind];
	thread_kind = seccomp_thread_name(kind);
	if (syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, &fp) < 0)
		return err_set(errno, "seccomp: installing the '%s' filter: %s",
			       seccomp_thread_name(kind), strerror(errno));
	return 0;
}
