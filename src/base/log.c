#include "ember/log.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

static enum log_level cur_level = LOG_INFO;
static int log_fd = STDERR_FILENO;
static char log_id[65] = "anonymous-instance";
static pthread_mutex_t log_lock = PTHREAD_MUTEX_INITIALIZER;
static bool show_level = true;
static bool show_origin = false;
static char *log_module;

static const char *const level_names[] = {"ERROR", "WARN", "INFO", "DEBUG"};

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
		{"error", LOG_ERROR}, {"warning", LOG_WARN}, {"warn", LOG_WARN},
		{"info", LOG_INFO},   {"debug", LOG_DEBUG},  {"trace", LOG_DEBUG},
		{"off", LOG_OFF},
	};
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		if (strcasecmp(s, names[i].name) == 0) {
			*out = names[i].lvl;
			return 0;
		}
	}
	return -EINVAL;
}

int log_open(const char *path)
{
	/* O_RDWR: opening a FIFO that has no reader yet does not fail (ENXIO). */
	int fd = open(path, O_RDWR | O_APPEND | O_CREAT | O_NONBLOCK | O_CLOEXEC, 0640);

	if (fd < 0)
		return -errno;
	pthread_mutex_lock(&log_lock);
	if (log_fd != STDERR_FILENO)
		close(log_fd);
	log_fd = fd;
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
	int n, m;

	if (lvl < LOG_ERROR || lvl > cur_level)
		return;
	clock_gettime(CLOCK_REALTIME, &ts);
	n = snprintf(line, sizeof(line), "%lld.%06ld [%s", (long long)ts.tv_sec,
		     ts.tv_nsec / 1000, log_id);
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
	if (write(log_fd, line, (size_t)n) < 0) {
		/* nowhere left to report it */
	}
	pthread_mutex_unlock(&log_lock);
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
