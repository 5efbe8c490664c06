/* The init of `ember run ... -- CMD [ARGS...]` (one-shot runs): a static,
 * freestanding x86_64 Linux program (no libc, raw system calls), built into
 * ember as a blob and placed at /init of the initramfs ember builds.
 *
 *  1. mounts devtmpfs, proc and sysfs;
 *  2. loads the kernel modules listed in /ember/modules (one path a line,
 *     dependencies first; "already loaded" is fine);
 *  3. makes /dev/console the controlling terminal and stdin/stdout/stderr
 *     of CMD, output without CR/LF translation (the host sees CMD's bytes);
 *  4. runs CMD with the arguments in /ember/argv (NUL-separated), PATH set;
 *  5. reports CMD's exit status (128 + signal if killed) to ember through
 *     the one-shot exit port (ONESHOT_EXIT_PORT, ioperm + outb), which ends
 *     the VM with that status; powers off if that somehow returns.
 * Any failure before CMD runs is one line on the console and status 127
 * (CMD missing) or 126 (anything else), as a shell reports them. */
#include <stddef.h>
#include <stdint.h>

#include <asm/unistd.h>
#include <linux/fcntl.h>
#include <linux/reboot.h>
#include <linux/termios.h>
#include <linux/wait.h>

#include "ember/oneshot_abi.h"

#define MS_NOSUID 2
#define MS_NODEV 4
#define MS_NOEXEC 8
#define ENOENT 2
#define EEXIST 17

int main_init(void);
void _start(void);

static long sys6(long n, long a, long b, long c, long d, long e, long f)
{
	register long r10 __asm__("r10") = d;
	register long r8 __asm__("r8") = e;
	register long r9 __asm__("r9") = f;
	long ret;

	__asm__ volatile("syscall"
			 : "=a"(ret)
			 : "a"(n), "D"(a), "S"(b), "d"(c), "r"(r10), "r"(r8), "r"(r9)
			 : "rcx", "r11", "memory");
	return ret;
}

#define SYS(n, a, b, c) sys6(__NR_##n, (long)(a), (long)(b), (long)(c), 0, 0, 0)
#define SYS5(n, a, b, c, d, e)                                                                     \
	sys6(__NR_##n, (long)(a), (long)(b), (long)(c), (long)(d), (long)(e), 0)

static size_t slen(const char *s)
{
	size_t n = 0;

	while (s[n])
		n++;
	return n;
}

static void say(const char *a, const char *b, const char *c)
{
	SYS(write, 2, a, slen(a));
	if (b)
		SYS(write, 2, b, slen(b));
	if (c)
		SYS(write, 2, c, slen(c));
	SYS(write, 2, "\n", 1);
}

static void report(int status)
{
	uint8_t v = (uint8_t)status;

	SYS(sync, 0, 0, 0);
	if (SYS(ioperm, ONESHOT_EXIT_PORT, 1, 1) == 0)
		__asm__ volatile("outb %0, %1" : : "a"(v), "Nd"((uint16_t)ONESHOT_EXIT_PORT));
	SYS5(reboot, LINUX_REBOOT_MAGIC1, LINUX_REBOOT_MAGIC2, LINUX_REBOOT_CMD_POWER_OFF, 0, 0);
	for (;;)
		SYS(pause, 0, 0, 0);
}

static void fail(const char *what, const char *arg, int status)
{
	say("ember-init: ", what, arg);
	report(status);
}

/* The whole (small) file at path into buf; its length or -errno. */
static long slurp(const char *path, char *buf, size_t cap)
{
	long fd = SYS(open, path, O_RDONLY | O_CLOEXEC, 0), n, got = 0;

	if (fd < 0)
		return fd;
	while ((size_t)got < cap && (n = SYS(read, fd, buf + got, cap - (size_t)got)) > 0)
		got += n;
	SYS(close, fd, 0, 0);
	return (size_t)got < cap ? got : -27; /* EFBIG */
}

static char argbuf[64 * 1024], modbuf[64 * 1024];
static char *argv[1024];

static void load_modules(void)
{
	long n = slurp(ONESHOT_MODULES_FILE, modbuf, sizeof(modbuf) - 1);
	char *p = modbuf, *end;

	if (n == -ENOENT)
		return;
	if (n < 0)
		fail("cannot read ", ONESHOT_MODULES_FILE, 126);
	modbuf[n] = 0;
	for (; *p; p = end) {
		long fd, r;

		for (end = p; *end && *end != '\n'; end++)
			;
		if (*end)
			*end++ = 0;
		if (!*p)
			continue;
		fd = SYS(open, p, O_RDONLY | O_CLOEXEC, 0);
		if (fd < 0)
			fail("cannot open module ", p, 126);
		r = SYS(finit_module, fd, "", 0);
		SYS(close, fd, 0, 0);
		if (r < 0 && r != -EEXIST)
			say("ember-init: loading failed: ", p, NULL);
	}
}

static void setup_console(void)
{
	struct termios t;
	long fd = SYS(open, "/dev/console", O_RDWR, 0);

	if (fd < 0)
		return; /* keep what the kernel gave us */
	for (int i = 0; i < 3; i++)
		if (fd != i)
			SYS(dup2, fd, i, 0);
	if (fd > 2)
		SYS(close, fd, 0, 0);
	if (SYS(ioctl, 0, TCGETS, &t) == 0) {
		t.c_oflag &= ~(unsigned)OPOST; /* CMD's bytes as they are */
		SYS(ioctl, 0, TCSETS, &t);
	}
}

int main_init(void)
{
	static const char *const envp[] = {
	    "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "HOME=/",
	    "TERM=linux", NULL};
	long n, pid;
	int argc = 0, status = 0;

	SYS5(mount, "devtmpfs", "/dev", "devtmpfs", MS_NOSUID, 0);
	SYS5(mount, "proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, 0);
	SYS5(mount, "sysfs", "/sys", "sysfs", MS_NOSUID | MS_NODEV | MS_NOEXEC, 0);
	setup_console();
	load_modules();
	n = slurp(ONESHOT_ARGV_FILE, argbuf, sizeof(argbuf) - 1);
	if (n <= 0)
		fail("cannot read ", ONESHOT_ARGV_FILE, 126);
	argbuf[n] = 0;
	for (long i = 0; i < n && argc < (int)(sizeof(argv) / sizeof(argv[0])) - 1;) {
		argv[argc++] = argbuf + i;
		i += (long)slen(argbuf + i) + 1;
	}
	argv[argc] = NULL;
	pid = SYS(fork, 0, 0, 0);
	if (pid == 0) {
		SYS(setsid, 0, 0, 0);
		SYS(ioctl, 0, TIOCSCTTY, 1);
		n = SYS(execve, argv[0], argv, envp);
		fail("cannot run ", argv[0], n == -ENOENT ? 127 : 126);
	}
	if (pid < 0)
		fail("fork failed", NULL, 126);
	/* PID 1 reaps every orphan; CMD's status ends the run. */
	for (;;) {
		int st = 0;
		long w = SYS5(wait4, -1, &st, 0, 0, 0);

		if (w == pid) {
			status = (st & 0x7f) == 0 ? (st >> 8) & 0xff : 128 + (st & 0x7f);
			break;
		}
		if (w < 0 && w != -4 /* EINTR */)
			break;
	}
	report(status);
	return 0;
}

__asm__(".globl _start\n"
	"_start:\n"
	"	xor %rbp, %rbp\n"
	"	and $-16, %rsp\n"
	"	call main_init\n"
	"	hlt\n");
