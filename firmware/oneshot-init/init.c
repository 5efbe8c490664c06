/* The init of `ember run ... -- CMD [ARGS...]` (one-shot runs): a static,
 * freestanding Linux program for the machine ember is built for (no libc,
 * raw system calls; the machine part is sys-$(ARCH).h), built into ember as
 * a blob and placed at /init of the initramfs ember builds.
 *
 *  1. mounts devtmpfs, proc and sysfs;
 *  2. loads the kernel modules listed in /ember/modules (one path a line,
 *     dependencies first; "already loaded" is fine);
 *  3. makes /dev/console the controlling terminal and stdin/stdout/stderr
 *     of CMD, output without CR/LF translation (the host sees CMD's bytes);
 *  4. runs CMD with the arguments in /ember/argv (NUL-separated), PATH set;
 *     with ONESHOT_STDIN_FILE in the image, CMD's stdin is a vsock stream
 *     to the host (oneshot_abi.h), /dev/null if that cannot be had; with
 *     ONESHOT_STDIN_NULL_FILE, /dev/null;
 *  5. waits until the console has sent all of CMD's output (TCSBRK), then
 *     reports CMD's exit status (128 + signal if killed) to ember: one byte
 *     to the one-shot exit register (its address in ONESHOT_EXIT_FILE),
 *     through a mapping of /dev/mem, which ends the VM with that status;
 *     powers off if that somehow returns (ember then says no status came).
 * Any failure before CMD runs is one line on the console and status 127
 * (CMD missing) or 126 (anything else), as a shell reports them. */
#include <stddef.h>
#include <stdint.h>

#include <asm/unistd.h>
#include <linux/fcntl.h>
#include <linux/mman.h>
#include <linux/reboot.h>
#include <linux/termios.h>
#include <linux/wait.h>

#include "ember/oneshot_abi.h"

#define MS_NOSUID 2
#define MS_NODEV 4
#define MS_NOEXEC 8
#define ENOENT 2
#define EINTR 4
#define EEXIST 17
#define SIGCHLD 17
#define AF_VSOCK 40
#define SOCK_STREAM 1
#define VMADDR_CID_HOST 2
#define SO_VM_SOCKETS_CONNECT_TIMEOUT_OLD 6

/* linux/vm_sockets.h's sockaddr_vm, without the libc headers it wants */
struct vsock_addr {
	uint16_t family, reserved1;
	uint32_t port, cid;
	uint8_t flags, zero[3];
};

int main_init(void);
void _start(void);

#include ONESHOT_SYS_H_FILE

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

static long hexval(const char *p)
{
	long v = 0;

	if (p[0] != '0' || p[1] != 'x')
		return -1;
	for (p += 2; *p && *p != '\n'; p++) {
		int d = *p >= '0' && *p <= '9'	 ? *p - '0'
			: *p >= 'a' && *p <= 'f' ? *p - 'a' + 10
						 : -1;
		if (d < 0 || v >> 56)
			return -1;
		v = v << 4 | d;
	}
	return v;
}

static long slurp(const char *path, char *buf, size_t cap);

/* One byte to ember's exit register (mapped from /dev/mem in a page of the
 * guest's size: 4, 16 or 64 KiB, whichever mmap takes). */
static void write_exit_register(uint8_t v)
{
	char buf[32];
	long n = slurp(ONESHOT_EXIT_FILE, buf, sizeof(buf) - 1), addr, fd;

	if (n <= 0)
		return;
	buf[n] = 0;
	if ((addr = hexval(buf)) < 0)
		return;
	fd = SYS(openat, AT_FDCWD, "/dev/mem", O_RDWR | O_SYNC | O_CLOEXEC);
	if (fd < 0) {
		say("ember-init: cannot open /dev/mem (CONFIG_DEVMEM): no exit status", NULL, NULL);
		return;
	}
	for (long ps = 4096; ps <= 65536; ps <<= 2) {
		long m = sys6(__NR_mmap, 0, ps, PROT_WRITE, MAP_SHARED, fd, addr & ~(ps - 1));

		if (m < 0 && m > -4096)
			continue;
		mmio_write8((volatile uint8_t *)(m + (addr & (ps - 1))), v);
		return; /* not reached: ember ends the VM */
	}
	say("ember-init: cannot map the exit register from /dev/mem: no exit status", NULL, NULL);
}

static void report(int status)
{
	SYS(ioctl, 1, TCSBRK, 1); /* like tcdrain: every byte of CMD's output sent */
	SYS(sync, 0, 0, 0);
	write_exit_register((uint8_t)status);
	SYS5(reboot, LINUX_REBOOT_MAGIC1, LINUX_REBOOT_MAGIC2, LINUX_REBOOT_CMD_POWER_OFF, 0, 0);
	for (;;)
		SYS5(ppoll, 0, 0, 0, 0, 0);
}

static void fail(const char *what, const char *arg, int status)
{
	say("ember-init: ", what, arg);
	report(status);
}

/* The whole (small) file at path into buf; its length or -errno. */
static long slurp(const char *path, char *buf, size_t cap)
{
	long fd = SYS5(openat, AT_FDCWD, path, O_RDONLY | O_CLOEXEC, 0, 0), n, got = 0;

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
		fd = SYS5(openat, AT_FDCWD, p, O_RDONLY | O_CLOEXEC, 0, 0);
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
	long fd = SYS5(openat, AT_FDCWD, "/dev/console", O_RDWR, 0, 0);

	if (fd < 0)
		return; /* keep what the kernel gave us */
	for (int i = 0; i < 3; i++)
		if (fd != i)
			SYS(dup3, fd, i, 0);
	if (fd > 2)
		SYS(close, fd, 0, 0);
	if (SYS(ioctl, 0, TCGETS, &t) == 0) {
		t.c_oflag &= ~(unsigned)OPOST; /* CMD's bytes as they are */
		SYS(ioctl, 0, TCSETS, &t);
	}
}

/* CMD's stdin (fd 0) from the host over vsock when ember asks for it: a
 * pipe or file on ember's side reaches CMD whole, then EOF. */
static void stdin_from_host(void)
{
	struct vsock_addr a = {
	    .family = AF_VSOCK, .port = ONESHOT_STDIN_PORT, .cid = VMADDR_CID_HOST};
	long tv[2] = {600, 0}; /* connect timeout (default 2 s): the host may be slow */
	long fd, r;
	int null = 0;

	if (SYS(faccessat, AT_FDCWD, ONESHOT_STDIN_NULL_FILE, 0) == 0) {
		fd = -2; /* ember's stdin is /dev/null: so is CMD's */
		null = 1;
	} else if (SYS(faccessat, AT_FDCWD, ONESHOT_STDIN_FILE, 0) != 0) {
		return; /* a terminal: the console is CMD's stdin */
	} else {
		fd = SYS(socket, AF_VSOCK, SOCK_STREAM, 0);
	}
	if (fd >= 0) {
		SYS5(setsockopt, fd, AF_VSOCK, SO_VM_SOCKETS_CONNECT_TIMEOUT_OLD, tv, sizeof(tv));
		do
			r = SYS(connect, fd, &a, sizeof(a));
		while (r == -EINTR);
		if (r < 0) {
			SYS(close, fd, 0, 0);
			fd = r;
		}
	}
	if (fd < 0) {
		if (!null)
			say("ember-init: no vsock stream from the host for stdin; it is /dev/null",
			    NULL, NULL);
		fd = SYS(openat, AT_FDCWD, "/dev/null", O_RDONLY);
	}
	if (fd > 0) {
		SYS(dup3, fd, 0, 0);
		SYS(close, fd, 0, 0);
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
	pid = SYS5(clone, SIGCHLD, 0, 0, 0, 0); /* fork(): arm64 has only clone */
	if (pid == 0) {
		SYS(setsid, 0, 0, 0);
		SYS(ioctl, 0, TIOCSCTTY, 1);
		stdin_from_host();
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
		if (w < 0 && w != -EINTR)
			break;
	}
	report(status);
	return 0;
}
