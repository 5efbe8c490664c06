/* Report mode (EMBER_SECCOMP_REPORT=FILE, see seccomp.h): the built-in
 * filters trap instead of killing; the SIGSYS handler appends one line per
 * would-be violation to FILE and makes the syscall fail with ENOSYS. */
#include <errno.h>
#include <fcntl.h>
#include <seccomp.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <ucontext.h>
#include <unistd.h>

#include "ember/error.h"
#include "ember/seccomp.h"

#define REPORT_MAX_NR 512     /* syscall numbers with a name in the table */
#define REPORT_MAX_LINES 4096 /* then silence: a loop must not fill the disk */

static struct {
	int fd; /* -1: off */
	char pid[24];
	char *names[REPORT_MAX_NR]; /* resolved once, kept for the process */
	unsigned lines;
} rep = {.fd = -1};

bool seccomp_report_enabled(void)
{
	return rep.fd >= 0;
}

static size_t put_str(char *p, size_t n, size_t cap, const char *s)
{
	while (*s && n < cap)
		p[n++] = *s++;
	return n;
}

static size_t put_dec(char *p, size_t n, size_t cap, unsigned long v)
{
	char tmp[24];
	size_t k = 0;

	do {
		tmp[k++] = (char)('0' + v % 10);
		v /= 10;
	} while (v);
	while (k && n < cap)
		p[n++] = tmp[--k];
	return n;
}

static size_t put_hex(char *p, size_t n, size_t cap, unsigned long long v)
{
	static const char digits[] = "0123456789abcdef";
	char tmp[20];
	size_t k = 0;

	do {
		tmp[k++] = digits[v & 15];
		v >>= 4;
	} while (v);
	n = put_str(p, n, cap, "0x");
	while (k && n < cap)
		p[n++] = tmp[--k];
	return n;
}

int seccomp_report_open(void)
{
	const char *path = getenv(SECCOMP_REPORT_ENV);
	size_t n;
	int fd;

	if (!path || !*path)
		return 0;
	if (rep.fd < 0) {
		fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
		if (fd < 0)
			return err_set(errno, "%s=%s: %s", SECCOMP_REPORT_ENV, path,
				       strerror(errno));
		rep.fd = fd;
	}
	n = put_str(rep.pid, 0, sizeof(rep.pid) - 1, "ember[");
	n = put_dec(rep.pid, n, sizeof(rep.pid) - 1, (unsigned long)getpid());
	n = put_str(rep.pid, n, sizeof(rep.pid) - 1, "]");
	rep.pid[n] = '\0';
	for (int nr = 0; nr < REPORT_MAX_NR; nr++)
		if (!rep.names[nr])
			rep.names[nr] = seccomp_syscall_resolve_num_arch(SCMP_ARCH_NATIVE, nr);
	return 1;
}

/* Async-signal-safe: no allocation, no lock, one write (in every filter). */
void seccomp_report_trap(const char *kind, const siginfo_t *si, void *ucontext)
{
	unsigned long long args[6] = {0};
	int nr = si->si_syscall;
	char line[320];
	size_t n = 0, cap = sizeof(line) - 1;
	ucontext_t *uc = ucontext;

#if defined(__x86_64__)
	args[0] = (unsigned long long)uc->uc_mcontext.gregs[REG_RDI];
	args[1] = (unsigned long long)uc->uc_mcontext.gregs[REG_RSI];
	args[2] = (unsigned long long)uc->uc_mcontext.gregs[REG_RDX];
	args[3] = (unsigned long long)uc->uc_mcontext.gregs[REG_R10];
	args[4] = (unsigned long long)uc->uc_mcontext.gregs[REG_R8];
	args[5] = (unsigned long long)uc->uc_mcontext.gregs[REG_R9];
	/* the trapped call was not made; this is its return value */
	uc->uc_mcontext.gregs[REG_RAX] = -ENOSYS;
#elif defined(__aarch64__)
	for (int i = 0; i < 6; i++)
		args[i] = (unsigned long long)uc->uc_mcontext.regs[i];
	uc->uc_mcontext.regs[0] = (unsigned long long)-ENOSYS; /* x0: the return value */
#else
#error "seccomp report mode: the syscall return register of this architecture"
#endif
	if (rep.fd < 0 || __atomic_fetch_add(&rep.lines, 1, __ATOMIC_RELAXED) >= REPORT_MAX_LINES)
		return;
	n = put_str(line, n, cap, rep.pid);
	n = put_str(line, n, cap, " seccomp: ");
	n = put_str(line, n, cap, kind ? kind : "?");
	n = put_str(line, n, cap, " thread: ");
	n = put_str(line, n, cap,
		    nr >= 0 && nr < REPORT_MAX_NR && rep.names[nr] ? rep.names[nr] : "?");
	n = put_str(line, n, cap, "(");
	n = put_dec(line, n, cap, (unsigned long)(unsigned)nr);
	n = put_str(line, n, cap, ") args");
	for (int i = 0; i < 6; i++) {
		n = put_str(line, n, cap, " ");
		n = put_hex(line, n, cap, args[i]);
	}
	line[n++] = '\n';
	if (write(rep.fd, line, n) < 0) {
		/* nowhere else to say it */
	}
}
