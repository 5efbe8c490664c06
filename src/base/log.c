/* The logger. Writing a line never blocks the thread that logs (the API
 * thread logs every bad request; a stderr pipe nobody reads must not freeze
 * it): the line goes out with one non-blocking write() and, when it does not
 * fit, is dropped and counted (missed_log_count in the metrics).
 *
 * Non-blocking without touching what other processes share: O_NONBLOCK is a
 * flag of the open file description, which ember's stderr shares with its
 * parent and siblings. So, at start-up (log_private_stderr() from main(),
 * before any thread or seccomp filter exists; not for --version or --help),
 * when stderr is a pipe, FIFO, terminal or socket, ember opens its own
 * description of the same object through /proc/self/fd/2 and makes that one
 * non-blocking. A regular file, a block device or /dev/null is written
 * through fd 2 as it is: such writes do not wait on a reader. --log-path
 * files are ember's own and opened O_NONBLOCK. Only when /proc is
 * unavailable (or the object cannot be reopened, like a socket) does ember
 * keep writing fd 2 as is; then it at least does not hold the log lock
 * across that write. */
#include "ember/log.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <time.h>
#include <unistd.h>

static enum log_level cur_level = LOG_INFO;
static int log_fd = STDERR_FILENO;
static bool log_fd_nonblocking;	      /* ours and non-blocking: written under the lock */
static int stderr_fd = STDERR_FILENO; /* fd 2, or ember's own non-blocking copy */
static bool stderr_nonblocking;
static uint64_t missed_lines, failed_writes;
static char log_id[65] = "anonymous-instance";
static pthread_mutex_t log_lock = PTHREAD_MUTEX_INITIALIZER;
/* Firecracker's defaults: neither the level nor the origin shown. */
static bool show_level = false;
static bool show_origin = false;
/* The thread's name in each line, as Firecracker's (main, fc_api,
 * fc_vcpu N); kept here since reading it back is a syscall the filters
 * do not allow. */
static __thread char thread_label[16] = "main";
static char *log_module;

static const char *const level_names[] = {"ERROR", "WARN", "INFO", "DEBUG"};

void log_set_thread_name(const char *name)
{
	snprintf(thread_label, sizeof(thread_label), "%s", name);
}

void log_set_level(enum log_level lvl)
{
	cur_level = lvl;
}

enum log_level log_get_level(void)
{
	return cur_level;
}

int log_parse_level(const char *s, enum log_level *out)
{
	static const struct {
		const char *name;
		enum log_level lvl;
	} names[] = {
	    {"error", LOG_ERROR}, {"warning", LOG_WARN}, {"warn", LOG_WARN}, {"info", LOG_INFO},
	    {"debug", LOG_DEBUG}, {"trace", LOG_DEBUG},	 {"off", LOG_OFF},
	};
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		if (strcasecmp(s, names[i].name) == 0) {
			*out = names[i].lvl;
			return 0;
		}
	}
	return -EINVAL;
}

void log_private_stderr(void)
{
	struct stat st;
	int fd;

	if (fstat(STDERR_FILENO, &st) < 0 || S_ISREG(st.st_mode) || S_ISBLK(st.st_mode) ||
	    (S_ISCHR(st.st_mode) && st.st_rdev == makedev(1, 3))) /* /dev/null */
		return;
	/* A new open file description of the same pipe or terminal; O_NOCTTY:
	 * never become the controlling terminal. A pipe without a reader
	 * refuses (ENXIO): then writes fail anyway. */
	fd = open("/proc/self/fd/2", O_WRONLY | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
	if (fd < 0)
		return;
	stderr_fd = fd;
	stderr_nonblocking = true;
	log_fd = fd;
	log_fd_nonblocking = true;
}

uint64_t log_take_missed(void)
{
	return __atomic_exchange_n(&missed_lines, 0, __ATOMIC_RELAXED);
}

uint64_t log_take_failed(void)
{
	return __atomic_exchange_n(&failed_writes, 0, __ATOMIC_RELAXED);
}

bool log_nonblocking(void)
{
	return log_fd_nonblocking;
}

int log_open(const char *path)
{
	/* O_RDWR: opening a FIFO that has no reader yet does not fail (ENXIO). */
	int fd = open(path, O_RDWR | O_APPEND | O_CREAT | O_NONBLOCK | O_CLOEXEC, 0640);

	if (fd < 0)
		return -errno;
	pthread_mutex_lock(&log_lock);
	if (log_fd != STDERR_FILENO && log_fd != stderr_fd)
		close(log_fd);
	log_fd = fd;
	log_fd_nonblocking = true;
	pthread_mutex_unlock(&log_lock);
	return 0;
}

void log_set_id(const char *id)
{
	snprintf(log_id, sizeof(log_id), "%s", id);
}

void log_set_format(bool level, bool origin)
{
	show_level = level;
	show_origin = origin;
}

int log_set_module(const char *module)
{
	char *m = NULL;

	if (module && *module) {
		m = strdup(module);
		if (!m)
			return -ENOMEM;
	}
	pthread_mutex_lock(&log_lock);
	free(log_module);
	log_module = m;
	pthread_mutex_unlock(&log_lock);
	return 0;
}

__attribute__((format(printf, 4, 0))) static void log_vmsg(enum log_level lvl, const char *file,
							   int lineno, const char *fmt, va_list ap)
{
	char line[1024];
	struct timespec ts;
	struct tm tm;
	int n, m, fd, e;
	ssize_t w;

	if (lvl < LOG_ERROR || lvl > cur_level)
		return;
	/* Firecracker's line: 2025-08-07T16:15:45.558235536 [id:thread(:LEVEL)
	 * (:file:line)] message -- local time (the zone is loaded before the
	 * filters, seccomp_libc.c), nanoseconds. */
	clock_gettime(CLOCK_REALTIME, &ts);
	localtime_r(&ts.tv_sec, &tm);
	n = (int)strftime(line, sizeof(line), "%Y-%m-%dT%H:%M:%S", &tm);
	n += snprintf(line + n, sizeof(line) - (size_t)n, ".%09ld [%s:%s", ts.tv_nsec, log_id,
		      thread_label);
	if (show_level)
		n += snprintf(line + n, sizeof(line) - (size_t)n, ":%s", level_names[lvl]);
	if (show_origin && file)
		n += snprintf(line + n, sizeof(line) - (size_t)n, ":%s:%d", file, lineno);
	n += snprintf(line + n, sizeof(line) - (size_t)n, "] ");
	m = vsnprintf(line + n, sizeof(line) - (size_t)n - 1, fmt, ap);
	if (m > 0)
		n += m;
	if (n > (int)sizeof(line) - 2)
		n = (int)sizeof(line) - 2;
	line[n++] = '\n';
	pthread_mutex_lock(&log_lock);
	if (log_module && (!file || !strstr(file, log_module))) {
		pthread_mutex_unlock(&log_lock);
		return;
	}
	if (log_fd_nonblocking) {
		w = write(log_fd, line, (size_t)n);
		e = errno;
		pthread_mutex_unlock(&log_lock);
	} else {
		/* fd 2 shared as it is: the only fd that is never closed, so it
		 * can be written without the lock */
		fd = log_fd;
		pthread_mutex_unlock(&log_lock);
		w = write(fd, line, (size_t)n);
		e = errno;
	}
	if (w == n)
		return;
	/* A partial write is a line cut short: count it as missed too. */
	if (w >= 0 || e == EAGAIN || e == EWOULDBLOCK)
		__atomic_fetch_add(&missed_lines, 1, __ATOMIC_RELAXED);
	else
		__atomic_fetch_add(&failed_writes, 1, __ATOMIC_RELAXED);
}

void log_msg(enum log_level lvl, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_vmsg(lvl, NULL, 0, fmt, ap);
	va_end(ap);
}

void log_msg_at(enum log_level lvl, const char *file, int line, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_vmsg(lvl, file, line, fmt, ap);
	va_end(ap);
}
