/* boot_probe: time and size one ember start-up, from the outside.
 *
 *   boot_probe boot -- EMBER run ... --boot-timer
 *   boot_probe api SOCKET -- EMBER --api-sock SOCKET ...
 *   boot_probe kvmrun SHIM RAM_MIB -- VMM ...      (ember, kvmtool, ...)
 *
 * Both modes take t0 = CLOCK_MONOTONIC in the forked child immediately before
 * execve(), so "process start" includes exec and dynamic linking.
 *
 * boot: ember's boot timer logs "Guest-boot-time = W us ..., C CPU us" from
 *   the vCPU thread when the guest writes 123 to port 0x3f0 (the test guest's
 *   very first instruction). The line's arrival on ember's stderr pipe is t1
 *   (a write() and a pipe wake-up after the guest's OUT: microseconds); C is
 *   CLOCK_PROCESS_CPUTIME_ID of all ember threads at the write, read by ember
 *   itself. RSS is sampled from /proc/PID/smaps at t1 and then every 2 ms
 *   while the guest runs; guest RAM is counted apart: mappings named
 *   "ember-guest-ram" (a memfd, or anonymous where the host names those), or
 *   marked MADV_DONTFORK ("dc" in VmFlags: ember's anonymous RAM and the
 *   kernel/initrd pages mapped into it). "dirty" = Private_Dirty + Shared_Dirty of the other
 *   mappings: heap, stacks, written library data; the rest of RSS is clean
 *   file pages (program and library code), shareable and reclaimable.
 * kvmrun: the VMM runs with SHIM (kvm_run_shim.so) preloaded, which reports
 *   CLOCK_PROCESS_CPUTIME_ID (all threads) and CLOCK_MONOTONIC at the first
 *   KVM_RUN ioctl, before the guest's first instruction, and holds that
 *   thread; smaps is read then and the VMM killed. Guest RAM = as above, or
 *   any mapping of at least 15/16 of RAM_MIB (kvmtool's anonymous RAM). Works for any guest, also
 * where KVM cannot run it. api: t1 is the first successful connect() to the API socket
 * (Firecracker's "API socket availability"); CPU is the sum of /proc/PID/task/STAR/schedstat run
 * times (ns) at that moment. ember is then killed.
 *
 * api and kvmrun CPU times start at execve(): the forked child's CPU time
 * before it (pre_exec_us, the probe's own fork work) is subtracted.
 *
 * Prints one line of key=value pairs (times in us, sizes in KiB). */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static uint64_t now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000 + (uint64_t)ts.tv_nsec / 1000;
}

#define MAX_NAMES 64

struct mem {
	long rss_kib;	/* everything but guest RAM */
	long dirty_kib; /* of that: dirty pages (anonymous, written data): ember's own */
	long anon_kib;	/* of that: anonymous (heap, stacks) */
	long guest_kib; /* guest RAM resident */
	int nnames;	/* RSS per mapped file (or [heap], [stack], anon) */
	struct {
		char name[48];
		long kib;
	} names[MAX_NAMES];
};

static void add_name(struct mem *m, const char *line, long kib)
{
	const char *p = line, *base;
	char name[48];
	int i, field = 0;

	/* the pathname is the 6th field of the header line (may be absent) */
	while (*p && field < 5) {
		while (*p && *p != ' ')
			p++;
		while (*p == ' ')
			p++;
		field++;
	}
	base = strrchr(p, '/');
	snprintf(name, sizeof(name), "%.47s", *p && *p != '\n' ? (base ? base + 1 : p) : "anon");
	name[strcspn(name, "\n")] = '\0';
	for (i = 0; i < m->nnames && strcmp(m->names[i].name, name) != 0; i++)
		;
	if (i == m->nnames) {
		if (m->nnames == MAX_NAMES)
			return;
		strcpy(m->names[m->nnames++].name, name);
		m->names[i].kib = 0;
	}
	m->names[i].kib += kib;
}

/* Mappings at least this large are guest RAM too (kvmrun mode). */
static unsigned long guest_min_bytes;

/* One mapping of smaps, while it is read. */
struct cur_map {
	char header[512];
	int guest; /* by name or size */
	long rss, dirty, anon;
	int dontfork;
};

static void end_map(struct mem *m, const struct cur_map *c)
{
	if (!c->header[0])
		return;
	/* MADV_DONTFORK ("dc"): guest RAM, as VMMs mark it (ember's anonymous
	 * RAM and the kernel/initrd pages mapped into it: several mappings
	 * where the host cannot name anonymous memory) */
	if (c->guest || c->dontfork) {
		m->guest_kib += c->rss;
		return;
	}
	m->rss_kib += c->rss;
	m->dirty_kib += c->dirty;
	m->anon_kib += c->anon;
	if (c->rss)
		add_name(m, c->header, c->rss);
}

/* Sum smaps of pid; 0 on success. */
static int read_smaps(pid_t pid, struct mem *m)
{
	char path[64], line[512];
	struct cur_map c;
	FILE *f;
	int any = 0;

	snprintf(path, sizeof(path), "/proc/%d/smaps", (int)pid);
	f = fopen(path, "re");
	if (!f)
		return -1;
	memset(m, 0, sizeof(*m));
	memset(&c, 0, sizeof(c));
	while (fgets(line, sizeof(line), f)) {
		unsigned long a, b;
		long v;

		if (sscanf(line, "%lx-%lx ", &a, &b) == 2) {
			end_map(m, &c);
			memset(&c, 0, sizeof(c));
			c.guest = strstr(line, "ember-guest-ram") != NULL ||
				  (guest_min_bytes && b - a >= guest_min_bytes);
			snprintf(c.header, sizeof(c.header), "%s", line);
			any = 1;
		} else if (sscanf(line, "Rss: %ld kB", &v) == 1) {
			c.rss += v;
		} else if (sscanf(line, "Shared_Dirty: %ld kB", &v) == 1 ||
			   sscanf(line, "Private_Dirty: %ld kB", &v) == 1) {
			c.dirty += v;
		} else if (sscanf(line, "Anonymous: %ld kB", &v) == 1) {
			c.anon += v;
		} else if (strncmp(line, "VmFlags:", 8) == 0) {
			c.dontfork = strstr(line, " dc") != NULL;
		}
	}
	end_map(m, &c);
	fclose(f);
	return any && m->rss_kib > 0 ? 0 : -1;
}

/* "name:kib,..." of the n largest RSS contributors. */
static void top_names(const struct mem *m, int n, char *out, size_t len)
{
	int used[MAX_NAMES] = {0};
	size_t off = 0;

	out[0] = '\0';
	for (int k = 0; k < n; k++) {
		int best = -1;
		for (int i = 0; i < m->nnames; i++)
			if (!used[i] && (best < 0 || m->names[i].kib > m->names[best].kib))
				best = i;
		if (best < 0)
			break;
		used[best] = 1;
		off += (size_t)snprintf(out + off, len - off, "%s%s:%ld", k ? "," : "",
					m->names[best].name, m->names[best].kib);
		if (off >= len)
			break;
	}
}

/* CPU time of all threads of pid in us, from schedstat (ns); -1 if unknown. */
static long long task_cpu_us(pid_t pid)
{
	char path[320];
	DIR *d;
	struct dirent *e;
	long long sum = 0;
	int n = 0;

	snprintf(path, sizeof(path), "/proc/%d/task", (int)pid);
	d = opendir(path);
	if (!d)
		return -1;
	while ((e = readdir(d))) {
		unsigned long long ns;
		FILE *f;

		if (e->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "/proc/%d/task/%s/schedstat", (int)pid, e->d_name);
		f = fopen(path, "re");
		if (f && fscanf(f, "%llu", &ns) == 1) {
			sum += (long long)ns;
			n++;
		}
		if (f)
			fclose(f);
	}
	closedir(d);
	return n ? sum / 1000 : -1;
}

/* Shared with the forked child: [0] CLOCK_MONOTONIC (us) and [1] the child's
 * own CPU time (ns) just before execve(). The api and kvmrun CPU figures
 * start at exec: the forked probe's own work before it (its copy-on-write
 * faults, the dup2s) is subtracted, as it is not the VMM's. */
static uint64_t *t0_page;

static void mark_exec(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	t0_page[1] = (uint64_t)ts.tv_sec * 1000000000 + (uint64_t)ts.tv_nsec;
	*t0_page = now_us();
}

static pid_t spawn(char **argv, int err_fd)
{
	pid_t pid = fork();

	if (pid == 0) {
		int null = open("/dev/null", O_RDWR);
		dup2(null, 0);
		dup2(null, 1);
		dup2(err_fd >= 0 ? err_fd : null, 2);
		mark_exec();
		execv(argv[0], argv);
		_exit(127);
	}
	return pid;
}

static long long tv_us(struct timeval tv)
{
	return (long long)tv.tv_sec * 1000000 + tv.tv_usec;
}

static int mode_boot(char **argv)
{
	int p[2], status = 0, found = 0, samples = 0;
	char buf[8192];
	size_t used = 0;
	unsigned long long wall_self = 0, cpu_self = 0;
	uint64_t t1 = 0, deadline;
	static struct mem first, peak, m;
	char top[256];
	struct rusage ru;
	pid_t pid;

	if (pipe2(p, O_CLOEXEC) < 0)
		return 2;
	pid = spawn(argv, p[1]);
	close(p[1]);
	if (pid < 0)
		return 2;
	deadline = now_us() + 60 * 1000000ULL;
	for (;;) {
		struct pollfd pfd = {.fd = p[0], .events = POLLIN};
		int r = poll(&pfd, 1, found ? 2 : 1000);
		ssize_t n;

		if (r > 0) {
			n = read(p[0], buf + used, sizeof(buf) - 1 - used);
			if (n <= 0)
				break; /* ember closed stderr: it exited */
			used += (size_t)n;
			buf[used] = '\0';
			if (!found) {
				char *s = strstr(buf, "Guest-boot-time =");
				if (s && strchr(s, '\n')) {
					t1 = now_us();
					found = 1;
					sscanf(s, "Guest-boot-time = %llu us %*u ms, %llu CPU us",
					       &wall_self, &cpu_self);
					if (read_smaps(pid, &first) == 0)
						peak = first;
				}
			}
			if (used > sizeof(buf) / 2) { /* keep the tail for a split line */
				memmove(buf, buf + used - 256, 256);
				used = 256;
			}
		}
		if (found && read_smaps(pid, &m) == 0) {
			samples++;
			if (m.rss_kib > peak.rss_kib)
				peak.rss_kib = m.rss_kib;
			if (m.dirty_kib > peak.dirty_kib)
				peak.dirty_kib = m.dirty_kib;
			if (m.guest_kib > peak.guest_kib)
				peak.guest_kib = m.guest_kib;
		}
		if (now_us() > deadline) {
			kill(pid, SIGKILL);
			break;
		}
	}
	close(p[0]);
	if (wait4(pid, &status, 0, &ru) < 0)
		return 2;
	if (!found) {
		fprintf(stderr, "boot_probe: no Guest-boot-time line (exit status %d)\n",
			WIFEXITED(status) ? WEXITSTATUS(status) : -1);
		return 1;
	}
	top_names(&first, 4, top, sizeof(top));
	printf("wall_first_us=%llu cpu_first_us=%llu ember_wall_first_us=%llu "
	       "wall_exit_us=%llu cpu_total_us=%lld user_us=%lld sys_us=%lld "
	       "rss_first_kib=%ld dirty_first_kib=%ld anon_first_kib=%ld "
	       "rss_peak_kib=%ld dirty_peak_kib=%ld guest_peak_kib=%ld "
	       "samples=%d exit=%d top=%s\n",
	       (unsigned long long)(t1 - *t0_page), cpu_self, wall_self,
	       (unsigned long long)(now_us() - *t0_page), tv_us(ru.ru_utime) + tv_us(ru.ru_stime),
	       tv_us(ru.ru_utime), tv_us(ru.ru_stime), first.rss_kib, first.dirty_kib,
	       first.anon_kib, peak.rss_kib, peak.dirty_kib, peak.guest_kib, samples,
	       WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status), top);
	return 0;
}

static int mode_api(const char *sock, char **argv)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	uint64_t t1 = 0, deadline;
	long long cpu = -1;
	static struct mem m;
	int status, ok = 0;
	struct rusage ru;
	pid_t pid;

	if (strlen(sock) >= sizeof(sa.sun_path))
		return 2;
	strcpy(sa.sun_path, sock);
	unlink(sock);
	pid = spawn(argv, -1);
	if (pid < 0)
		return 2;
	deadline = now_us() + 10 * 1000000ULL;
	while (now_us() < deadline) {
		int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

		if (fd >= 0 && connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0) {
			t1 = now_us();
			cpu = task_cpu_us(pid);
			if (cpu >= 0)
				cpu -= (long long)(t0_page[1] / 1000);
			read_smaps(pid, &m);
			ok = 1;
			close(fd);
			break;
		}
		if (fd >= 0)
			close(fd);
		if (waitpid(pid, &status, WNOHANG) == pid) {
			fprintf(stderr,
				"boot_probe: ember exited before its API socket was ready\n");
			return 1;
		}
		/* 50 us between attempts: fine-grained, without starving ember */
		nanosleep(&(struct timespec){.tv_nsec = 50000}, NULL);
	}
	kill(pid, SIGKILL);
	wait4(pid, &status, 0, &ru);
	unlink(sock);
	if (!ok) {
		fprintf(stderr, "boot_probe: API socket %s never accepted a connection\n", sock);
		return 1;
	}
	printf("wall_api_us=%llu cpu_api_us=%lld rss_api_kib=%ld dirty_api_kib=%ld "
	       "anon_api_kib=%ld pre_exec_us=%llu\n",
	       (unsigned long long)(t1 - *t0_page), cpu, m.rss_kib, m.dirty_kib, m.anon_kib,
	       (unsigned long long)(t0_page[1] / 1000));
	return 0;
}

static int mode_kvmrun(const char *shim, const char *ram_mib, char **argv)
{
	char buf[256], fdnum[16];
	size_t used = 0;
	long long cpu_ns = 0, mono_ns = 0;
	static struct mem m;
	char top[256];
	uint64_t deadline;
	int p[2], status, ok = 0;
	pid_t pid;

	guest_min_bytes = strtoul(ram_mib, NULL, 10) * 1024 * 1024 / 16 * 15;
	if (pipe2(p, O_CLOEXEC) < 0)
		return 2;
	setenv("LD_PRELOAD", shim, 1);
	snprintf(fdnum, sizeof(fdnum), "%d", 100);
	setenv("KVM_RUN_SHIM_FD", fdnum, 1);
	pid = fork();
	if (pid == 0) {
		int null = open("/dev/null", O_RDWR);
		dup2(p[1], 100); /* without O_CLOEXEC */
		dup2(null, 0);
		dup2(null, 1);
		dup2(null, 2);
		mark_exec();
		execv(argv[0], argv);
		_exit(127);
	}
	close(p[1]);
	unsetenv("LD_PRELOAD");
	deadline = now_us() + 30 * 1000000ULL;
	while (pid > 0 && now_us() < deadline && used < sizeof(buf) - 1) {
		struct pollfd pfd = {.fd = p[0], .events = POLLIN};
		ssize_t n;

		if (poll(&pfd, 1, 1000) <= 0)
			continue;
		n = read(p[0], buf + used, sizeof(buf) - 1 - used);
		if (n <= 0)
			break;
		used += (size_t)n;
		buf[used] = '\0';
		if (strchr(buf, '\n')) {
			ok = sscanf(buf, "cpu_run_ns=%lld mono_run_ns=%lld", &cpu_ns, &mono_ns) ==
				 2 &&
			     read_smaps(pid, &m) == 0;
			break;
		}
	}
	if (pid > 0) {
		kill(pid, SIGKILL);
		waitpid(pid, &status, 0);
	}
	close(p[0]);
	if (!ok) {
		fprintf(stderr, "boot_probe: no first KVM_RUN from %s\n", argv[0]);
		return 1;
	}
	top_names(&m, 4, top, sizeof(top));
	printf("wall_run_us=%lld cpu_run_us=%lld rss_run_kib=%ld dirty_run_kib=%ld "
	       "anon_run_kib=%ld guest_run_kib=%ld pre_exec_us=%llu top=%s\n",
	       mono_ns / 1000 - (long long)*t0_page, (cpu_ns - (long long)t0_page[1]) / 1000,
	       m.rss_kib, m.dirty_kib, m.anon_kib, m.guest_kib,
	       (unsigned long long)(t0_page[1] / 1000), top);
	return 0;
}

int main(int argc, char **argv)
{
	int i;

	t0_page = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (t0_page == MAP_FAILED)
		return 2;
	signal(SIGPIPE, SIG_IGN);
	for (i = 1; i < argc && strcmp(argv[i], "--") != 0; i++)
		;
	if (i + 1 >= argc)
		goto usage;
	if (strcmp(argv[1], "boot") == 0 && i == 2)
		return mode_boot(argv + i + 1);
	if (strcmp(argv[1], "api") == 0 && i == 3)
		return mode_api(argv[2], argv + i + 1);
	if (strcmp(argv[1], "kvmrun") == 0 && i == 4)
		return mode_kvmrun(argv[2], argv[3], argv + i + 1);
usage:
	fprintf(stderr, "usage: boot_probe boot -- EMBER run ... --boot-timer\n"
			"       boot_probe api SOCKET -- EMBER --api-sock SOCKET ...\n"
			"       boot_probe kvmrun SHIM RAM_MIB -- VMM ...\n");
	return 2;
}
